"""The linear solver for many membranes of one cable at once (batches of parameter sets).

:class:`~xkernels.engine.cable.LinearCable` serves one membrane; a batch of parameter
sets (:func:`xkernels.kernel_batch`, the sweeps' linear path) changes the membrane in
every set (the g_eff leak shift and, at the mean-input operating point, the leak
reversal) and, with depth averaging, at every depth node.  Here those membranes are
arrays: their modes (:func:`batch_modes`; an unbranched cable's matrix is tridiagonal
in the order of :func:`path_order`, and LAPACK's ``dstevd`` decomposes it), the steady
states from them (:func:`batch_rest`) and the kernels of every membrane's volleys
together (:func:`batch_kernels`).

The response of mode ``m`` (pole ``ρ_m``) to a volley of ``Exp2SynI`` synapses is
``-f Σ_{k<n} ρ_m^{n-k} u[k]`` with ``u[k] = a1**k - a2**k`` (``a = exp(-dt / tau)``,
``f`` the peak normalisation; :meth:`LinearCable.modal_kernel`).  A probe signal is a
weighted sum of modes -- over the segments' modes and, with depth averaging, over the
depth nodes' modes -- so it is ``-f (u ∗ g)[n]`` with the impulse response
``g[j] = Σ_m c_m ρ_m^j`` (``j >= 1``).  The delay filter ``h`` commutes with ``u``, and
``h ∗ g`` past the filter's last tap is again a sum of the modes (each times the
filter's z-transform at its pole), so the delays cost one short convolution and one
factor per mode.  The powers come in blocks (``ρ^(L k + i) = ρ^(L k) ρ^i``: one matrix
product per signal, later blocks only over the modes not yet decayed), and the
convolution with the two exponentials of ``u`` is two first-order recursions,
``z[t] = a z[t - 1] + (h ∗ g)[t]``, stepped for all signals at once.  The same numbers as
:class:`LinearCable` to rounding (~1e-13 relative).
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from xkernels.engine.cable import Cable, peak_norm

__all__ = ["batch_kernels", "batch_modes", "batch_rest", "mixed_leak", "path_order"]

#: Powers of the poles are formed in blocks of ``BLOCK`` lags per channel's square root
#: (longer blocks make the matrix products larger and the element-wise work smaller:
#: measured fastest at 32 lags for one channel, 128 for 14 channels).
BLOCK = 32
#: Powers of poles below this are taken as 0: a mode's term is then below 1e-20 of its
#: coefficient, far below the rounding of the sum over modes (1e-16 of the largest
#: coefficient), and the products never reach subnormal numbers, whose arithmetic is
#: ~100x slower (fast modes of a fine cable decay below 1e-308 within the kernel).
NEGLIGIBLE = 1e-20
#: The recursions' states below this (absolute) are set to 0, for the same reason.
SUBNORMAL_GUARD = 1e-250
#: :func:`batch_kernels` takes the powers of the poles of this many modes x lags at a
#: time (elements, 8 bytes each: arrays that stay in the cache).
PIECE_ELEMENTS = 2 ** 17
#: Delay filter taps below this fraction of the filter's largest are left out by
#: :func:`batch_kernels` (a filter sums to 1 over at most a few thousand taps: their
#: part of a kernel is below 1e-15 of its largest value).
NEGLIGIBLE_TAP = 1e-18


def mixed_leak(g: np.ndarray, e: np.ndarray, dg: np.ndarray, de: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """A leak with a conductance added at another reversal, as
    ``add_leak`` of the cells in ``xkernels.engine.cells`` mixes them, for arrays.

    Parameters
    ----------
    g, e : ndarray
        The leak's conductance (S/cm²) and reversal potential (mV) per segment.
    dg, de : ndarray
        The conductance added (S/cm²) and its reversal (mV; ignored where ``dg`` is 0),
        broadcasting with ``g``.

    Returns
    -------
    tuple of ndarray
        ``(g + dg, (g e + dg de) / (g + dg))`` (the reversal unchanged where ``dg`` is 0).

    Examples
    --------
    >>> g, e = mixed_leak(np.array([1.0, 1.0]), np.array([-65.0, -65.0]),
    ...                   np.array([1.0, 0.0]), np.array([-45.0, np.nan]))
    >>> g.tolist(), e.tolist()
    ([2.0, 1.0], [-55.0, -65.0])
    """
    total = g + dg
    with np.errstate(invalid="ignore"):
        mixed = (g * e + dg * de) / total
    return total, np.where(dg != 0.0, mixed, e)


def _powers(exponent: np.ndarray) -> np.ndarray:
    """``exp(exponent)`` (powers of poles), 0 below :data:`NEGLIGIBLE`; ``exponent`` is
    overwritten (numpy's exp is slow where its result underflows)."""
    small = exponent < np.log(NEGLIGIBLE)
    np.maximum(exponent, np.log(NEGLIGIBLE), out=exponent)
    out = np.exp(exponent, out=exponent)
    out[small] = 0.0
    return out


def batch_modes(cable: Cable, dt: float, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The modes of NEURON's fixed-step scheme for many leaks of one cable.

    Parameters
    ----------
    cable : Cable
        The cable (area, capacitance, axial conductances; its own leak is not used).
    dt : float
        Time step (ms).
    g : ndarray
        Leak conductance (S/cm², g_eff shift included) per membrane and segment, shape
        (n, nseg).

    Returns
    -------
    tuple of ndarray
        ``(rho, inward)``: the poles per membrane and mode, shape (n, nseg), and
        ``K^-1/2 Q`` (segment weights -> modes, transposed), shape (n, nseg, nseg), as
        :class:`~xkernels.engine.cable.LinearCable` holds them.

    Raises
    ------
    ValueError
        A membrane that is unstable (its index is named).

    Examples
    --------
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> rho, inward = batch_modes(cable, 0.1, np.stack([cable.g, 2 * cable.g]))
    >>> rho.shape, bool((rho > 0).all() and (rho < 1).all())
    ((2, 2), True)
    """
    K = cable.capacitance / float(dt)
    s = 1.0 / np.sqrt(K)
    G = np.asarray(g, dtype=float) * cable.area * 1e-2                  # (n, m) µS
    diagonal = (K + G + np.diag(cable.axial)) * s * s
    order = path_order(cable.axial)
    if order is None:  # branched: dense matrices
        S = np.broadcast_to(cable.axial * s[:, None] * s[None, :],
                            G.shape + (K.size,)).copy()
        idx = np.arange(K.size)
        S[:, idx, idx] = diagonal
        lam, Q = np.linalg.eigh(S)
    else:  # an unbranched cable in path order is tridiagonal: LAPACK's dstevd
        from scipy.linalg.lapack import dstevd

        off = cable.axial[order[:-1], order[1:]] * s[order[:-1]] * s[order[1:]]
        lam, Q = np.empty(G.shape), np.empty(G.shape + (K.size,))
        for i, d in enumerate(diagonal[:, order]):
            lam[i], Q[i, order], info = dstevd(d, off)
            if info:
                raise np.linalg.LinAlgError(f"membrane {i}: dstevd did not converge")
    unstable = np.flatnonzero(~(lam.min(axis=1) > 1.0))
    if unstable.size:
        raise ValueError(f"membrane {int(unstable[0])}: the linear membrane is unstable "
                         "(its conductance matrix, leak and axial, is not positive "
                         "definite)")
    return 1.0 / lam, s[None, :, None] * Q


def path_order(axial: np.ndarray) -> np.ndarray | None:
    """The segments in the order of an unbranched cable (a path from one end to the
    other), or None if the cable branches.

    Parameters
    ----------
    axial : ndarray
        Axial conductance Laplacian (µS), shape (nseg, nseg).

    Returns
    -------
    ndarray or None
        Segment indices along the path; the Laplacian reordered by them is tridiagonal.

    Examples
    --------
    >>> A = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0], [-1.0, -1.0, 2.0]])
    >>> path_order(A).tolist()
    [0, 2, 1]
    >>> path_order(4.0 * np.eye(4) - np.ones((4, 4))) is None   # every pair linked
    True
    """
    linked = (axial != 0) & ~np.eye(axial.shape[0], dtype=bool)
    degree = linked.sum(axis=1)
    if axial.shape[0] == 1:
        return np.zeros(1, dtype=int)
    ends = np.flatnonzero(degree == 1)
    if degree.max() > 2 or ends.size != 2:
        return None
    order = [int(ends[0])]
    previous = -1
    while len(order) < axial.shape[0]:
        step = [int(j) for j in np.flatnonzero(linked[order[-1]]) if j != previous]
        if not step:
            return None  # not connected
        previous = order[-1]
        order.append(step[0])
    return np.array(order)


def batch_rest(cable: Cable, rho: np.ndarray, inward: np.ndarray, g: np.ndarray,
               e: np.ndarray) -> np.ndarray:
    """Steady states ``(G + A) v = G e`` of the membranes of :func:`batch_modes`.

    ``G + A = K^1/2 (S - I) K^1/2``, so ``v = inward diag(1 / (λ - 1)) inwardᵀ G e``
    with ``λ = 1 / rho``: two products per membrane.

    Parameters
    ----------
    cable : Cable
        The cable.
    rho, inward : ndarray
        From :func:`batch_modes` of ``g``.
    g, e : ndarray
        Leak conductance (S/cm²) and reversal (mV) per membrane and segment, (n, nseg).

    Returns
    -------
    ndarray
        Resting potential (mV) per membrane and segment, shape (n, nseg).

    Examples
    --------
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> g, e = cable.g[None], np.array([[-60.0, -70.0]])
    >>> v = batch_rest(cable, *batch_modes(cable, 0.1, g), g, e)
    >>> G = cable.conductance
    >>> bool(np.allclose(v[0], np.linalg.solve(A + np.diag(G), G * e[0]), rtol=1e-12))
    True
    """
    source = np.asarray(g, dtype=float) * cable.area * 1e-2 * np.asarray(e, dtype=float)
    modal = np.matmul(source[:, None, :], inward)[:, 0] / (1.0 / rho - 1.0)
    return np.matmul(inward, modal[:, :, None])[:, :, 0]


def batch_kernels(rho: np.ndarray, coefficients: np.ndarray, tau1: np.ndarray,
                  tau2: np.ndarray, filters: list[np.ndarray], centre: int, lags: np.ndarray,
                  dt: float, n_after: int, out: np.ndarray | None = None) -> np.ndarray:
    """Kernels of volleys of ``Exp2SynI`` synapses from weighted modes: the probe
    signals, delay-smeared and windowed as
    ``xkernels.engine.linearisation.finish_kernels`` does, without forming them.

    The signal of a volley is ``-f (u ∗ g)`` with the impulse response ``g[j] = Σ_m c_m
    ρ_m^j`` (``j >= 1``; module docstring); the delay filter ``h`` commutes with the
    synaptic current's exponentials, so the kernel is ``-f (u ∗ q)`` with ``q = h ∗ g``.
    Past the filter's last tap ``d_hi`` (steps) ``q`` is again a sum of the modes,
    ``q[d_hi + s] = Σ_m c_m H_m ρ_m^s`` with ``H_m = Σ_d h_d ρ_m^(d_hi - d)``; only its
    first ``d_hi - d_lo`` lags are a convolution (a short FFT).  The two exponentials
    are two first-order recursions, stepped for all signals at once.  Taps below
    :data:`NEGLIGIBLE_TAP` of a filter's largest are left out (their part of a kernel is
    below 1e-15 of it).  A filter with taps at negative delays (where the response is
    cut at ``n_after``) is applied to the signals by FFT instead.

    Parameters
    ----------
    rho : ndarray
        Poles, shape (n, M) (the modes of every membrane a signal sums over, e.g. every
        depth node's).
    coefficients : ndarray
        Weight of each mode in each channel's signal of each volley, shape
        (n, V, n_channels, M): the probe row of the mode times the volley's modal input
        (``R c`` of :meth:`LinearCable.projected`).
    tau1, tau2 : ndarray
        Synapse time constants (ms) of each volley, shape (n, V).
    filters : list of ndarray
        Delay filter of each volley, ``n * V`` arrays in row order (taps at the lag
        grid's delay times, all of one length); equal filters may be one object.
    centre : int
        Index of the lag-0 tap.
    lags : ndarray
        Output lags (steps, increasing by one, at most ``n_after``).
    dt : float
        Time step (ms).
    n_after : int
        Lags (steps) of the response after the volley.
    out : ndarray, optional
        Written with the result (any array of that shape, e.g. a view).

    Returns
    -------
    ndarray
        Shape (n, V, n_channels, lags.size): the kernels, equal to ``finish_kernels``
        of the signals to rounding.

    Examples
    --------
    The current dipole of one volley on a two-segment cable, as
    :meth:`LinearCable.kernels` computes it:

    >>> from xkernels.engine.cable import LinearCable
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> probe, w = np.array([[0.0, 100.0]]), np.array([1.0, 0.0])
    >>> rho, inward = batch_modes(cable, 0.1, cable.g[None])
    >>> R = -(probe @ A) @ inward[0]                     # modes -> probe
    >>> coefficients = (R * (inward[0].T @ w))[None, None]     # (1, 1, 1, 2)
    >>> h, lags = np.r_[np.zeros(55), 0.25, 0.5, 0.25, np.zeros(42)], np.arange(-50, 51)
    >>> out = batch_kernels(rho, coefficients, np.array([[0.2]]), np.array([[1.8]]),
    ...                     [h], 50, lags, 0.1, 50)
    >>> ref = LinearCable(cable, 0.1).kernels(probe, [w], [(0.2, 1.8)], [h], 50, lags, 50)
    >>> bool(np.allclose(out[0], ref, rtol=0, atol=1e-12 * abs(ref).max()))
    True
    """
    n, V, C, M = coefficients.shape
    lags = np.asarray(lags)
    out = np.empty((n, V, C, lags.size)) if out is None else out
    if not n * V:
        return out
    causal = np.flatnonzero(lags >= 0)
    top = int(lags[-1]) if lags.size else 0
    which: dict[int, int] = {}
    index = np.array([which.setdefault(id(h), len(which)) for h in filters]).reshape(n, V)
    distinct = np.stack([filters[i] for i in np.unique(index, return_index=True)[1]])
    if top > n_after or not 0 <= centre < distinct.shape[1]:
        raise ValueError(f"lags up to {top} and lag-0 tap {centre} do not fit a response "
                         f"of {n_after + 1} lags and a filter of {distinct.shape[1]} taps")
    out[..., : causal[0] if causal.size else lags.size] = 0.0    # negative lags
    if not causal.size:
        return out
    significant = np.flatnonzero(
        (np.abs(distinct) > NEGLIGIBLE_TAP * np.abs(distinct).max(axis=1, keepdims=True))
        .any(axis=0))
    d_lo, d_hi = int(significant[0]) - centre, int(significant[-1]) - centre
    norms = _peak_norms(tau1, tau2, dt)                                 # (3, n, V)
    if d_lo < 0:  # the response is cut at n_after: the signals, then their smearing
        from xkernels.engine.linearisation import finish_kernels

        signals = np.zeros((n, V, C, n_after + 1))
        _smeared(rho, coefficients, norms, np.ones((1, 1)), np.zeros((n, V), dtype=int),
                 0, 0, n_after, signals, np.arange(n_after + 1))   # the identity filter
        out[...] = finish_kernels(signals.reshape(n * V, C, n_after + 1), list(filters),
                                  centre, lags).reshape(n, V, C, lags.size)
        return out
    taps = distinct[:, centre + d_lo: centre + d_hi + 1]
    _smeared(rho, coefficients, norms, taps, index, d_lo, d_hi, top, out[..., causal[0]:],
             lags[causal[0]:])
    return out


def _peak_norms(tau1: np.ndarray, tau2: np.ndarray, dt: float) -> np.ndarray:
    """``(-f, a1, a2)`` per volley (:func:`peak_norm`, each distinct pair once), shape
    (3, *tau1.shape)."""
    pairs, inverse = np.unique(np.stack([np.ravel(tau1), np.ravel(tau2)], axis=1), axis=0,
                               return_inverse=True)
    norm = np.array([peak_norm(a, b) for a, b in pairs])
    f, t1, t2 = (norm[:, k][inverse.ravel()].reshape(np.shape(tau1)) for k in range(3))
    return np.stack([-f, np.exp(-float(dt) / t1), np.exp(-float(dt) / t2)])


def _smeared(rho: np.ndarray, coefficients: np.ndarray, norms: np.ndarray,
             taps: np.ndarray, index: np.ndarray, d_lo: int, d_hi: int, top: int,
             out: np.ndarray, lags: np.ndarray) -> None:
    """``-f (u ∗ h ∗ g)`` at ``lags`` (``0 <= lags <= top``), written to ``out``
    (n, V, C, lags.size), for filters ``taps`` (distinct ones, at delays ``d_lo..d_hi``
    steps, ``d_lo >= 0``) chosen by ``index`` (n, V)."""
    n, V, C, M = coefficients.shape
    span = top - d_lo                                  # lags d_lo + 1 .. top of q
    J = d_hi - d_lo                                    # taps - 1
    head = min(d_hi, top) - d_lo                       # lags of g the convolution needs
    T = max(head, J, top - d_hi) + 1                   # powers 0 .. T - 1
    L = min(BLOCK * int(np.ceil(np.sqrt(C))), T)
    # the filters: spectra for the convolution, reversed in blocks of L for H_m
    size = fft.next_fast_len(head + J + 1, real=True)
    A_h = -(-(J + 1) // L)
    reversed_taps = np.zeros((taps.shape[0], A_h * L))
    reversed_taps[:, : J + 1] = taps[:, ::-1]                       # tap d_hi - k at k
    filters = (size, fft.rfft(taps, size, axis=-1), reversed_taps.reshape(-1, A_h, L))
    q = np.empty((n, V, C, span))
    # q = h ∗ g in pieces of samples whose powers stay in the cache
    piece = max(1, PIECE_ELEMENTS // max(1, M * (L + T // L)))
    for i in range(0, n, piece):
        s = slice(i, i + piece)
        _filtered(rho[s], coefficients[s], filters, index[s], head, -(-T // L), L, q[s])
    # the exponentials of u: z_a[t] = a z_a[t - 1] + q[t] for both bases at once,
    # -f (z1 - z2), from lag d_lo + 1
    f, a1, a2 = (np.repeat(x.reshape(-1), C) for x in norms)            # per signal
    q = np.ascontiguousarray(q.reshape(n * V * C, span).T)
    a = np.stack([a1, a2])
    z = np.zeros_like(a)
    y = np.zeros((top + 1, q.shape[1]))
    for k in range(span):
        z *= a
        z += q[k]
        np.subtract(z[0], z[1], out=y[d_lo + 1 + k])
        if k % 64 == 63:  # decayed states: zero, not subnormal (slow arithmetic)
            z[np.abs(z) < SUBNORMAL_GUARD] = 0.0
    y *= f
    out[...] = y[lags[0]: lags[-1] + 1].T.reshape(n, V, C, lags.size)


def _filtered(rho: np.ndarray, coefficients: np.ndarray, filters: tuple,
              index: np.ndarray, head: int, A: int, L: int, q: np.ndarray) -> None:
    """``q = h ∗ g``, written to ``q`` (n, V, C, lags d_lo + 1 .. top) (:func:`_smeared`:
    the filters' FFT size, spectra and reversed blocks, ``head`` lags by convolution, ``A``
    blocks of ``L`` powers)."""
    n, V, C, M = coefficients.shape
    size, spectra, blocks = filters
    log_rho = np.log(rho)
    inner = _powers(log_rho[:, :, None] * np.arange(L))                  # ρ^i, (n, M, L)
    # ρ^(L a), (n, A, M), in groups of blocks 1, 2-3, 4-7, ...: in each only the modes
    # whose powers at its first block are not all 0 (in any sample: the slower ones)
    outer = np.zeros((n, A, M))
    outer[:, 0] = 1.0
    slowest = log_rho.max(axis=0) * L
    groups = []
    for a0 in (2 ** k for k in range(int(np.log2(max(A - 1, 1))) + 1)):
        if a0 >= A:
            break
        a1 = min(2 * a0, A)
        cols = np.flatnonzero(slowest * a0 >= np.log(NEGLIGIBLE))
        outer[:, a0:a1, cols] = _powers(log_rho[:, None, cols]
                                        * (L * np.arange(a0, a1))[:, None])
        groups.append((a0, a1, cols))
    # lags d_lo + 1 .. d_lo + head: the convolution of h with g[0 .. head] (g[0] = 0)
    g = _sums(coefficients, inner, outer, groups, head + 1)
    g[..., 0] = 0.0
    q[..., :head] = fft.irfft(fft.rfft(g, size, axis=-1) * spectra[index][:, :, None],
                              size, axis=-1)[..., 1: head + 1]
    tail = q.shape[-1] - head
    if tail > 0:  # lags d_hi + 1 .. top: the modes, each times H_m
        A_h = blocks.shape[1]
        X = np.matmul(blocks[index].reshape(n, V * A_h, L), inner.transpose(0, 2, 1))
        H = np.einsum("nvam,nam->nvm", X.reshape(n, V, A_h, M), outer[:, :A_h])
        q[..., head:] = _sums(coefficients * H[:, :, None, :], inner, outer, groups,
                              tail + 1)[..., 1:]


def _sums(coefficients: np.ndarray, inner: np.ndarray, outer: np.ndarray, groups: list,
          T: int) -> np.ndarray:
    """``Σ_m c_m ρ_m^j`` at ``j = 0 .. T - 1``, shape (n, V, C, T), from the powers in
    blocks (:func:`_filtered`): the first block over every mode, each group ``(a0, a1,
    modes)`` of later blocks over its modes (where the others' powers are 0)."""
    n, V, C, M = coefficients.shape
    L = inner.shape[2]
    A = -(-T // L)
    out = np.empty((n, V * C, A * L))
    flat = coefficients.reshape(n, V * C, M)
    np.matmul(flat, inner, out=out[:, :, :L])
    for a0, a1, cols in groups:
        if a0 >= A:
            break
        a1 = min(a1, A)
        left = flat[:, :, None, cols] * outer[:, None, a0:a1, cols]   # (n, VC, blocks, Ms)
        later = np.matmul(left.reshape(n, V * C * (a1 - a0), cols.size), inner[:, cols])
        out[:, :, a0 * L: a1 * L] = later.reshape(n, V * C, (a1 - a0) * L)
    return out[:, :, :T].reshape(n, V, C, T)

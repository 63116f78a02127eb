"""The linear solver for many membranes of one cable at once (batches of parameter sets).

:class:`~xkernels.engine.cable.LinearCable` serves one membrane; a batch of parameter
sets (:func:`xkernels.kernel_batch`, the sweeps' linear path) changes the membrane in
every set (the g_eff leak shift and, at the mean-input operating point, the leak
reversal) and, with depth averaging, at every depth node.  Here those membranes are
arrays: one batched eigendecomposition (:func:`batch_modes`), the steady states from it
(:func:`batch_rest`) and the probe signals of every membrane's volleys together
(:func:`batch_signals`).

The response of mode ``m`` (pole ``ρ_m``) to a volley of ``Exp2SynI`` synapses is
``-f Σ_{k<n} ρ_m^{n-k} u[k]`` with ``u[k] = a1**k - a2**k`` (``a = exp(-dt / tau)``,
``f`` the peak normalisation; :meth:`LinearCable.modal_kernel`).  A probe signal is a
weighted sum of modes -- over the segments' modes and, with depth averaging, over the
depth nodes' modes -- so it is ``-f (u ∗ g)[n]`` with the impulse response
``g[j] = Σ_m c_m ρ_m^j`` (``j >= 1``).  The powers come in blocks (``ρ^(L k + i) =
ρ^(L k) ρ^i``: one matrix product per signal), and the convolution with the two
exponentials of ``u`` is two first-order recursions, ``z[t] = a z[t - 1] + g[t]``,
stepped for all signals at once.  The same numbers as :class:`LinearCable` to rounding
(~1e-13 relative).
"""

from __future__ import annotations

import numpy as np

from xkernels.engine.cable import Cable, peak_norm

__all__ = ["batch_modes", "batch_rest", "batch_signals", "mixed_leak"]

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
#: Largest intermediate array of :func:`batch_signals` (elements, 8 bytes each).
PIECE_ELEMENTS = 2 ** 19


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
    """``exp(exponent)`` (powers of poles), 0 below :data:`NEGLIGIBLE`."""
    out = np.exp(np.maximum(exponent, np.log(NEGLIGIBLE)))
    out[exponent < np.log(NEGLIGIBLE)] = 0.0
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
    S = np.broadcast_to(cable.axial * s[:, None] * s[None, :], G.shape + (K.size,)).copy()
    idx = np.arange(K.size)
    S[:, idx, idx] += (K + G) * s * s
    lam, Q = np.linalg.eigh(S)
    unstable = np.flatnonzero(~(lam.min(axis=1) > 1.0))
    if unstable.size:
        raise ValueError(f"membrane {int(unstable[0])}: the linear membrane is unstable "
                         "(its conductance matrix, leak and axial, is not positive "
                         "definite)")
    return 1.0 / lam, s[None, :, None] * Q


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


def batch_signals(rho: np.ndarray, coefficients: np.ndarray, tau1: np.ndarray,
                  tau2: np.ndarray, dt: float, n_after: int) -> np.ndarray:
    """Probe signals of volleys of ``Exp2SynI`` synapses from weighted modes.

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
    dt : float
        Time step (ms).
    n_after : int
        Lags (steps) after the volley.

    Returns
    -------
    ndarray
        Shape (n, V, n_channels, n_after + 1): the signals at lags ``0..n_after``.

    Examples
    --------
    The current dipole of one volley on a two-segment cable, as
    :meth:`LinearCable.projected` computes it:

    >>> from xkernels.engine.cable import LinearCable
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> probe, w = np.array([[0.0, 100.0]]), np.array([1.0, 0.0])
    >>> rho, inward = batch_modes(cable, 0.1, cable.g[None])
    >>> R = -(probe @ A) @ inward[0]                     # modes -> probe
    >>> coefficients = (R * (inward[0].T @ w))[None, None]     # (1, 1, 1, 2)
    >>> out = batch_signals(rho, coefficients, np.array([[0.2]]), np.array([[1.8]]),
    ...                     0.1, 50)
    >>> ref = LinearCable(cable, 0.1).projected(probe, w, 0.2, 1.8, 50)
    >>> bool(np.allclose(out[0, 0], ref, rtol=0, atol=1e-12 * abs(ref).max()))
    True
    """
    n, V, C, M = coefficients.shape
    T = int(n_after) + 1
    L = min(BLOCK * int(np.ceil(np.sqrt(C))), T)
    K = -(-T // L)
    piece = max(1, PIECE_ELEMENTS // (V * C * K * M))
    if n > piece:  # bounded memory: ``piece`` rows at a time
        return np.concatenate([batch_signals(rho[i: i + piece], coefficients[i: i + piece],
                                             tau1[i: i + piece], tau2[i: i + piece], dt,
                                             n_after) for i in range(0, n, piece)])
    norm = np.array([peak_norm(a, b) for a, b in zip(tau1.ravel(), tau2.ravel())])
    f, t1, t2 = (np.repeat(norm[:, k], C) for k in range(3))        # per signal
    # the impulse response g[j] = Σ_m c_m ρ_m^j, with ρ^(L k + i) = ρ^(L k) ρ^i: one
    # matrix product (blocks x modes) @ (modes x L) per row
    log_rho = np.log(rho)
    inner = _powers(log_rho[:, :, None] * np.arange(L))                # ρ^i, (n, M, L)
    outer = _powers(log_rho[:, None, :] * (L * np.arange(K))[:, None])   # ρ^(L k), (n, K, M)
    left = coefficients[:, :, :, None, :] * outer[:, None, None, :, :]
    g = np.matmul(left.reshape(n, V * C * K, M), inner).reshape(n * V * C, K * L)
    # -f (u ∗ g)[t] = -f (z1[t] - z2[t]), z_a[t] = a z_a[t - 1] + g[t] (g[0] not used:
    # the current of step k acts from lag k + 1 on)
    g = np.ascontiguousarray(g[:, :T].T)
    a1, a2 = np.exp(-float(dt) / t1), np.exp(-float(dt) / t2)
    z1, z2 = np.zeros(g.shape[1]), np.zeros(g.shape[1])
    out = np.empty_like(g)
    out[0] = 0.0
    for t in range(1, T):
        z1 *= a1
        z1 += g[t]
        z2 *= a2
        z2 += g[t]
        np.subtract(z1, z2, out=out[t])
        if t % 64 == 0:  # decayed states: zero, not subnormal (slow arithmetic)
            z1[np.abs(z1) < SUBNORMAL_GUARD] = 0.0
            z2[np.abs(z2) < SUBNORMAL_GUARD] = 0.0
    out *= -f
    return out.T.reshape(n, V, C, T)

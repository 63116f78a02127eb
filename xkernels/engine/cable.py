"""The linear solver: NEURON's fixed-step scheme for a linear cable, without time stepping.

A cell whose membrane is linear (only the leak ``pas``: a passive cell, or a cell
linearised ``"passive"`` or ``"frozen"``, :mod:`xkernels.engine.membrane`) is the linear
system, per segment i (currents in nA, potentials in mV, time in ms)

    C_i dv_i/dt + G_i (v_i - E_i) + Σ_j A_ij v_j + u_i(t) = 0

with C the membrane capacitance (nF), G the leak conductance (µS), A the axial
conductance Laplacian between segments (µS; NEURON's zero-area nodes at section ends
eliminated exactly) and u the synaptic currents of ``Exp2SynI``.  NEURON's fixed step
(backward Euler, ``secondorder=0``) is, for the deviation x = v - v_rest,

    (K + G + A) x[n+1] = K x[n] - u[n],      K = C / dt,

with ``u[n] = w * peak_norm * (a1**k - a2**k)`` (``k`` steps after the event, ``a =
exp(-dt / tau)``: the ``cnexp`` update of the synapse states, the current evaluated
before the update), and the ``i_membrane_`` NEURON records is ``-A x[n+1]``
(capacitive, leak and synaptic current together: Kirchhoff's law at every node).

:class:`LinearCable` diagonalises the symmetric matrix ``S = K^-1/2 (K + G + A) K^-1/2
= Q Λ Qᵀ`` once.  In the modes ``y = Qᵀ K^1/2 x`` the recursion decouples into scalar
recursions with poles ``1 / λ_m`` driven by the synapse's two exponentials, whose
solution is a closed form (a divided difference of powers): the response to any
weights, time constants and lags is a few matrix products, for every synapse segment
at once.  The steady state of a leak with per-segment reversal ``E`` (the resting
state, the mean-input operating point) is one linear solve, ``(G + A) v = G E``.

Nothing here imports NEURON: :meth:`xkernels.engine.cells.NeuronCell.cable` reads the
:class:`Cable` from the cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xkernels.engine.kept import keep, kept, key_of

__all__ = ["Cable", "LinearCable", "linear_cable", "peak_norm"]


@dataclass(frozen=True, eq=False)
class Cable:
    """A linear cable: per-segment membrane and the axial conductances between segments.

    Attributes
    ----------
    area : ndarray
        Membrane area per segment (µm²), shape (nseg,).
    cm : ndarray
        Specific capacitance (µF/cm²).
    g : ndarray
        Leak conductance (S/cm²).
    e : ndarray
        Leak reversal potential (mV).
    axial : ndarray
        Axial conductance Laplacian between segments (µS), shape (nseg, nseg),
        symmetric, rows summing to zero.

    Examples
    --------
    The cable of a cell is read from NEURON
    (:meth:`xkernels.engine.cells.NeuronCell.cable`); by hand, two coupled segments:

    >>> import numpy as np
    >>> cable = Cable(area=np.full(2, 1000.0), cm=np.ones(2), g=np.full(2, 1e-4),
    ...               e=np.full(2, -65.0), axial=np.array([[0.01, -0.01], [-0.01, 0.01]]))
    >>> cable.nseg, cable.capacitance, cable.conductance      # nF, µS
    (2, array([0.01, 0.01]), array([0.001, 0.001]))
    """

    area: np.ndarray
    cm: np.ndarray
    g: np.ndarray
    e: np.ndarray
    axial: np.ndarray

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return self.area.size

    @property
    def capacitance(self) -> np.ndarray:
        """Membrane capacitance per segment (nF)."""
        return self.cm * self.area * 1e-5

    @property
    def conductance(self) -> np.ndarray:
        """Leak conductance per segment (µS)."""
        return self.g * self.area * 1e-2


def peak_norm(tau1: float, tau2: float) -> tuple[float, float, float]:
    """``Exp2SynI``'s peak normalisation and time constants as its INITIAL block sets
    them: ``tau1`` clipped to ``0.9999 tau2``.

    Returns
    -------
    tuple
        ``(factor, tau1, tau2)``.

    Examples
    --------
    >>> round(float(peak_norm(0.2, 1.8)[0]), 6)
    1.480583
    """
    tau1, tau2 = float(tau1), float(tau2)
    if tau1 / tau2 > 0.9999:
        tau1 = 0.9999 * tau2
    t_peak = np.log(tau2 / tau1) * tau1 * tau2 / (tau2 - tau1)
    return float(1.0 / (np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1))), tau1, tau2


def _powers_difference(rho: np.ndarray, a: float, n: np.ndarray,
                       log_a: np.ndarray | None = None) -> np.ndarray:
    """``(rho**n - a**n) / (rho - a)`` (= Σ_{k<n} rho**(n-1-k) a**k), stably for any
    bases in (0, 1]: with ``b`` the larger base and ``δ = log(smaller / b) <= 0`` it is
    ``b**(n-1) expm1(n δ) / expm1(δ)`` (``n`` where ``δ = 0``), which neither cancels
    for nearby bases nor overflows for distant ones.

    ``rho`` has shape (m,), ``n`` shape (T,) of ints >= 0; the result (m, T).  With
    ``log_a`` (shape (m, 1)) every row has its own base ``a`` (its log given)."""
    log_rho = np.log(rho)[:, None]
    log_a = np.log(a) if log_a is None else log_a
    high = np.maximum(log_rho, log_a)
    delta = np.minimum(log_rho, log_a) - high
    nn = n[None, :].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # expm1 is -1.0 below -700 as at -700 (and slow where exp underflows)
        ratio = np.expm1(np.maximum(nn * delta, -700.0)) / np.expm1(delta)
    ratio = np.where(delta == 0.0, nn, ratio)
    return _powers((nn - 1.0) * high) * ratio


#: Poles within this log-distance of a synaptic base take the cancellation-free form
#: of :func:`_powers_difference`; the others the closed form of
#: :meth:`LinearCable.modal_terms` (relative error at most ~1e-16 / NEAR_BASE).
NEAR_BASE = 1e-2


def _powers(log_power: np.ndarray) -> np.ndarray:
    """``exp(log_power)`` with 0 where it is below 1e-304 (numpy's exp is slow where
    its result underflows)."""
    small = log_power < -700.0
    out = np.maximum(log_power, -700.0)
    np.exp(out, out=out)
    np.copyto(out, 0.0, where=small)
    return out


def synapse_powers(dt: float, tau1: float, tau2: float, n_after: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``a1**n`` and ``a2**n`` (``a = exp(-dt / tau)``, n = 0..n_after) of a synapse's
    two exponentials (``tau1``, ``tau2`` as :func:`peak_norm` returns them), kept for
    the last :data:`POWERS_KEPT` (they do not depend on the membrane); read-only.

    Examples
    --------
    >>> a1_n, a2_n = synapse_powers(0.1, 0.2, 1.8, 3)
    >>> bool(np.allclose(a2_n, np.exp(-0.1 / 1.8) ** np.arange(4)))
    True
    """
    key = (float(dt), float(tau1), float(tau2), int(n_after))
    found = _SYNAPSE_POWERS.get(key)
    if found is None:
        nn = np.arange(n_after + 1.0)
        found = tuple(_powers(nn * np.log(np.exp(-key[0] / tau))) for tau in key[1:3])
        for powers in found:
            powers.flags.writeable = False
        while len(_SYNAPSE_POWERS) >= POWERS_KEPT:
            _SYNAPSE_POWERS.pop(next(iter(_SYNAPSE_POWERS), None), None)  # threads may race
        _SYNAPSE_POWERS[key] = found
    return found


#: Synapse powers of :func:`synapse_powers` (key -> (a1**n, a2**n)), at most POWERS_KEPT.
_SYNAPSE_POWERS: dict = {}
POWERS_KEPT = 64


class LinearCable:
    """NEURON's fixed-step response of a linear :class:`Cable` at time step ``dt``.

    Parameters
    ----------
    cable : Cable
        The cable (its leak as it is during the response: g_eff shift included).
    dt : float
        Time step (ms).

    Raises
    ------
    ValueError
        An unstable membrane: the cable's conductance matrix ``G + A`` is not positive
        definite (a negative membrane conductance that the axial currents do not
        hold).

    Examples
    --------
    One cylinder of two segments, 1 nA peak synapse on the first:

    >>> import numpy as np
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2       # µS
    >>> cable = Cable(area=np.full(2, 1000.0), cm=np.ones(2), g=np.full(2, 1e-4),
    ...               e=np.full(2, -65.0), axial=A)
    >>> solver = LinearCable(cable, dt=0.1)
    >>> imem = solver.response(np.array([1.0, 0.0]), 0.2, 1.8, 50)
    >>> imem.shape, bool(abs(imem.sum(axis=0)).max() < 1e-15)  # currents sum to zero
    ((2, 51), True)
    """

    def __init__(self, cable: Cable, dt: float) -> None:
        # the membrane as it is now (the caller's arrays may change later)
        self.cable = Cable(cable.area, cable.cm.copy(), cable.g.copy(), cable.e.copy(),
                           cable.axial)
        cable = self.cable
        self.dt = float(dt)
        K = cable.capacitance / self.dt
        G = cable.conductance
        A = cable.axial
        self._G = G
        self._A = A
        self._modal: dict = {}
        s = 1.0 / np.sqrt(K)
        S = (A + np.diag(K + G)) * s[:, None] * s[None, :]
        lam, Q = np.linalg.eigh(S)
        self.poles = 1.0 / lam                         # per mode, per step
        self._in = s[:, None] * Q                      # K^-1/2 Q: weights -> modes
        self._out = -(A @ self._in)                    # modes -> i_membrane_ (nA)
        if not lam.min() > 1.0:
            # backward Euler of a stable system has every pole 1 / λ in (0, 1)
            k = int(np.argmin(cable.g))
            raise ValueError(
                "the linear membrane is unstable: its conductance matrix (leak and axial) "
                f"is not positive definite (segment {k} has the membrane conductance "
                f"{cable.g[k]:.6g} S/cm²)")

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return self.cable.nseg

    def rest(self, e: np.ndarray | None = None) -> np.ndarray:
        """The steady state (mV per segment) of the leak with reversal ``e`` (default:
        the cable's): ``(G + A) v = G e``.

        Parameters
        ----------
        e : ndarray, optional
            Leak reversal potential per segment (mV).
        """
        e = self.cable.e if e is None else np.asarray(e, dtype=float)
        return np.linalg.solve(self._A + np.diag(self._G), self._G * e)

    def modal_kernel(self, tau1: float, tau2: float, n_after: int) -> np.ndarray:
        """Per mode, its response at lags ``0..n_after`` to a unit synapse event
        delivered at lag 0 (unit modal input): shape (nseg, n_after + 1).

        The event is delivered at the start of the step from lag 0 to lag 1; the
        synaptic current of the step ending at lag ``n`` is
        ``peak_norm (a1**(n-1) - a2**(n-1))``; the mode obeys ``y[n+1] = ρ (y[n] -
        u[n])``.
        """
        key = (float(tau1), float(tau2), int(n_after))
        found = self._modal.get(key)  # local: safe when threads share this solver
        if found is None:
            found = self._modal_kernel(*key)
            if len(self._modal) >= 8:
                self._modal.clear()
            self._modal[key] = found
        return found

    def _modal_kernel(self, tau1: float, tau2: float, n_after: int) -> np.ndarray:
        coef_p, coef_1, coef_2, a1_n, a2_n, near, rows = self.modal_terms(tau1, tau2, n_after)
        F = coef_p[:, None] * self._rho_powers(n_after)
        F += np.outer(coef_1, a1_n)
        F -= np.outer(coef_2, a2_n)
        F[near] = rows
        return F

    def modal_terms(self, tau1: float, tau2: float, n_after: int) -> tuple:
        """:meth:`modal_kernel` as sums of powers: ``coef_p[:, None] * ρ**n +
        outer(coef_1, a1**n) - outer(coef_2, a2**n)``, except the modes ``near``, whose
        rows are given whole.

        The mode's response ``y[n] = -f ρ Σ_{k<n} ρ^{n-1-k} (a1^k - a2^k)`` is
        ``-f ρ`` times ``(ρ^n - a^n) / (ρ - a)`` summed over the two bases with signs:
        ``ρ^n (a1 - a2) / ((ρ - a1)(ρ - a2)) - a1^n / (ρ - a1) + a2^n / (ρ - a2)``.
        Where a pole is within :data:`NEAR_BASE` (log-distance) of a base this form
        cancels; those rows come from the divided differences of
        :func:`_powers_difference`.  The last 8 are kept.

        Returns
        -------
        tuple
            ``(coef_p, coef_1, coef_2, a1_n, a2_n, near, rows)``: coefficients per mode
            (0 at ``near``), the synapse's powers per lag, the indices of the near
            modes and their rows, shape (near.size, n_after + 1).
        """
        key = (float(tau1), float(tau2), int(n_after))
        cache = self.__dict__.setdefault("_terms", {})
        found = cache.get(key)  # local: safe when threads share this solver
        if found is not None:
            return found
        f, t1, t2 = peak_norm(tau1, tau2)
        a1, a2 = np.exp(-self.dt / t1), np.exp(-self.dt / t2)
        rho = self.poles
        log_rho = np.log(rho)
        close = (np.abs(log_rho - np.log(a1)) < NEAR_BASE) | \
            (np.abs(log_rho - np.log(a2)) < NEAR_BASE)
        far_rho = np.where(close, 2.0, rho)              # no division by ~0 at near modes
        c1, c2 = 1.0 / (far_rho - a1), 1.0 / (far_rho - a2)
        keep = ~close
        coef_p = np.where(keep, -f * rho * (a1 - a2) * c1 * c2, 0.0)
        coef_1 = np.where(keep, f * rho * c1, 0.0)
        coef_2 = np.where(keep, f * rho * c2, 0.0)
        near = np.flatnonzero(close)
        n = np.arange(n_after + 1)
        rows = np.empty((0, n.size))
        if near.size:  # both bases in one pass: (near modes with a1, then with a2)
            k = near.size
            both = _powers_difference(np.concatenate([rho[near], rho[near]]), None, n,
                                      np.repeat([np.log(a1), np.log(a2)], k)[:, None])
            rows = -f * rho[near, None] * (both[:k] - both[k:])
        found = (coef_p, coef_1, coef_2, *synapse_powers(self.dt, t1, t2, n_after), near,
                 rows)
        if len(cache) >= 8:
            cache.clear()
        cache[key] = found
        return found

    def _rho_powers(self, n_after: int) -> np.ndarray:
        """``poles[:, None] ** arange(n_after + 1)``, shared by the modal responses of
        every synapse (the last ``n_after`` is kept)."""
        found = getattr(self, "_rho_n", None)  # local: safe when threads share this solver
        if found is None or found[0] != n_after:
            powers = _powers(np.outer(np.log(self.poles), np.arange(n_after + 1.0)))
            found = self._rho_n = (n_after, powers)
        return found[1]

    def response(self, weights: np.ndarray, tau1: float, tau2: float,
                 n_after: int) -> np.ndarray:
        """Membrane currents after one synchronous volley of ``Exp2SynI`` synapses.

        Parameters
        ----------
        weights : ndarray
            Peak current per segment (nA), shape (nseg,); positive is inward.
        tau1, tau2 : float
            Rise and decay time constants (ms).
        n_after : int
            Lags (steps) after the volley.

        Returns
        -------
        ndarray
            Shape (nseg, n_after + 1): the change of ``i_membrane_`` (nA) at lags
            ``0..n_after``, as :meth:`xkernels.engine.membrane.LinearisedMembrane.response`.
        """
        c = self._in.T @ np.asarray(weights, dtype=float)
        return self._out @ (c[:, None] * self.modal_kernel(tau1, tau2, n_after))

    def mapped(self, matrix: np.ndarray) -> np.ndarray:
        """``matrix @`` (modes -> membrane currents): signals per unit mode, shape
        (n_channels, nseg); the last matrix's product is kept."""
        matrix = np.asarray(matrix)
        last = getattr(self, "_mapped", None)  # local: safe when threads share this solver
        if last is None or last[0] is not matrix:
            last = self._mapped = (matrix, matrix @ self._out)
        return last[1]

    def projected(self, matrix: np.ndarray, weights: np.ndarray, tau1: float, tau2: float,
                  n_after: int) -> np.ndarray:
        """``matrix @ response(weights, ...)`` without forming the currents: shape
        (n_channels, n_after + 1); ``weights`` may be (nseg,) or (nseg, n_vol) for
        several volleys at once (then (n_vol, n_channels, n_after + 1))."""
        w = np.asarray(weights, dtype=float)
        if w.ndim == 1:  # from the sums of powers: no modal responses formed
            # kept by the values of its inputs (xkernels.engine.kept); a copy returned
            key = key_of("LinearCable.projected", id(self), np.asarray(matrix, dtype=float),
                         w, float(tau1), float(tau2), int(n_after))
            found = kept(key, (self,))
            if found is None:
                found = self._projected(matrix, w, tau1, tau2, n_after)
                keep(key, (self,), found)
            return found.copy()
        R = self.mapped(matrix)                         # (n_ch, modes)
        c = self._in.T @ w                              # (modes, n_vol)
        F = self.modal_kernel(tau1, tau2, n_after)
        return np.einsum("cm,mv,mt->vct", R, c, F, optimize=True)


    def _projected(self, matrix: np.ndarray, w: np.ndarray, tau1: float, tau2: float,
                   n_after: int) -> np.ndarray:
        """:meth:`projected` of one volley (``w`` of shape (nseg,)), computed (a new
        array)."""
        coef_p, coef_1, coef_2, a1_n, a2_n, near, rows = self.modal_terms(tau1, tau2, n_after)
        Rc = self.mapped(matrix) * (self._in.T @ w)[None, :]
        found = (Rc * coef_p[None, :]) @ self._rho_powers(n_after)
        term = np.multiply((Rc @ coef_1)[:, None], a1_n[None, :])  # np.outer's product
        found += term
        found -= np.multiply((Rc @ coef_2)[:, None], a2_n[None, :], out=term)
        if near.size:
            found += Rc[:, near] @ rows
        return found

    def kernels(self, matrix: np.ndarray, weights: list[np.ndarray],
                taus: list[tuple[float, float]], filters: list[np.ndarray], centre: int,
                lags: np.ndarray, n_after: int, out: np.ndarray | None = None
                ) -> np.ndarray:
        """Kernels of several volleys: their responses mapped through ``matrix``,
        delay-smeared and windowed as ``xkernels.engine.linearisation.finish_kernels``
        does -- with the smearing and the window applied to the modal responses (all
        three steps are linear), kept per time constants and filter, so that a
        repeated computation is one small matrix product per volley.

        Parameters
        ----------
        matrix : ndarray
            Probe matrix, shape (n_channels, nseg).
        weights : list of ndarray
            Peak current per segment (nA) of each volley.
        taus : list of tuple
            ``(tau1, tau2)`` (ms) of each volley.
        filters : list of ndarray
            Delay filter (taps) of each volley.
        centre : int
            Index of the lag-0 tap.
        lags : ndarray
            Output lags (steps, increasing by one, at most ``n_after``).
        n_after : int
            Lags (steps) of the response after the volley.
        out : ndarray, optional
            Written with the result (any array of that shape, e.g. a view).

        Returns
        -------
        ndarray
            Shape (n_volleys, n_channels, lags.size); equal to ``finish_kernels`` of
            :meth:`projected` to rounding.
        """
        from xkernels.engine.linearisation import convolution_size, finish_kernels

        R = self.mapped(matrix)                          # (n_ch, modes)
        if out is None:
            out = np.empty((len(weights), R.shape[0], np.asarray(lags).size))
        if R.shape[0] < self.nseg:
            # fewer channels than modes: smeared and windowed after mapping (what the
            # modal form would keep costs more rows than it saves); the result kept by
            # the values of its inputs (xkernels.engine.kept)
            lags = np.asarray(lags)  # increasing by one: its first and size are its values
            key = key_of("LinearCable.kernels", id(self), id(matrix), np.stack(weights),
                         np.asarray(taus, dtype=float), tuple(map(id, filters)),
                         int(centre), int(lags[0]) if lags.size else 0, lags.size,
                         int(n_after))
            held = (self, matrix, *filters)
            # kept: the causal lags (the others are zero)
            start = int(np.searchsorted(lags, 0)) if lags.size else 0
            found = kept(key, held)
            if found is not None:
                out[..., :start] = 0.0
                out[..., start:] = found
            else:
                # the volleys' projections (not kept: this result is), zero-padded
                # to the length of the delay convolution's FFT
                filters = list(filters)
                size = convolution_size(filters, centre, n_after)
                signals = np.empty((len(weights), R.shape[0], size))
                signals[..., n_after + 1:] = 0.0
                for k, (w, (tau1, tau2)) in enumerate(zip(weights, taus)):
                    signals[k, :, :n_after + 1] = self._projected(
                        matrix, np.asarray(w, dtype=float), tau1, tau2, n_after)
                finish_kernels(signals, filters, centre, lags, n_after + 1, out=out)
                keep(key, held, out[..., start:].copy())
            return out
        for k, (w, (tau1, tau2), h) in enumerate(zip(weights, taus, filters)):
            G = self.windowed(tau1, tau2, n_after, h, centre, lags)
            c = self._in.T @ np.asarray(w, dtype=float)
            np.matmul(R * c[None, :], G, out=out[k])
        return out

    def windowed(self, tau1: float, tau2: float, n_after: int, h_delay: np.ndarray,
                 centre: int, lags: np.ndarray) -> np.ndarray:
        """The modal responses of :meth:`modal_kernel` delay-smeared by ``h_delay`` and
        windowed at ``lags`` (``finish_kernels``):
        shape (nseg, lags.size); the last :data:`WINDOWED_KEPT` are kept (the filter
        array must not be changed in place after the call)."""
        from xkernels.engine.linearisation import finish_kernels

        lags = np.asarray(lags)
        key = _windowed_key(tau1, tau2, n_after, h_delay, centre, lags)
        cache = self.__dict__.setdefault("_windowed", {})
        found = cache.get(key)  # local: safe when threads share this solver
        if found is None or found[0] is not h_delay:
            h = np.ascontiguousarray(h_delay, dtype=float)
            F = self.modal_kernel(tau1, tau2, n_after)
            found = (h_delay, finish_kernels(F[None], [h], centre, lags)[0])
            if len(cache) >= WINDOWED_KEPT:
                cache.clear()
            cache[key] = found
        return found[1]

    def node_kernels(self, matrices: np.ndarray, weights: list[np.ndarray],
                     taus: list[tuple[float, float]], filters: list[np.ndarray],
                     centre: int, lags: np.ndarray, n_after: int,
                     out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`kernels` summed over depth nodes that share this membrane: volley
        ``k`` gives ``Σ_n matrices[n] @ currents(weights[k][n])``, delay-smeared and
        windowed; the sum is taken over the modal weights (all steps are linear), so
        the cost is that of one kernel per volley.

        Parameters
        ----------
        matrices : ndarray
            Probe matrix per node, shape (n_nodes, n_channels, nseg).
        weights : list of ndarray
            Peak current per node and segment (nA) of each volley, (n_nodes, nseg).
        taus, filters, centre, lags, n_after, out
            As for :meth:`kernels`.

        Returns
        -------
        ndarray
            Shape (n_volleys, n_channels, lags.size).
        """
        R = np.matmul(np.asarray(matrices), self._out)          # (nodes, n_ch, modes)
        if out is None:
            out = np.empty((len(weights), R.shape[1], np.asarray(lags).size))
        for k, (w, (tau1, tau2), h) in enumerate(zip(weights, taus, filters)):
            G = self.windowed(tau1, tau2, n_after, h, centre, lags)
            c = np.asarray(w, dtype=float) @ self._in            # (nodes, modes)
            np.matmul(np.einsum("ncm,nm->cm", R, c), G, out=out[k])
        return out


def _windowed_key(tau1: float, tau2: float, n_after: int, h_delay: np.ndarray, centre: int,
                  lags: np.ndarray) -> tuple:
    """The key of :meth:`LinearCable.windowed`: the filter by identity (an entry holds
    it, so its id is not reused while kept: the planned filters are the same objects in
    repeated computations), the lags by their first and last (they increase by one)."""
    lags = np.asarray(lags)
    return (float(tau1), float(tau2), int(n_after), id(h_delay), int(centre),
            int(lags[0]) if lags.size else 0, lags.size)


#: Smeared and windowed modal responses kept per :class:`LinearCable`.
WINDOWED_KEPT = 32

#: Recently built :class:`LinearCable` objects (key -> solver), :func:`linear_cable`.
_SOLVERS: dict = {}
SOLVERS_KEPT = 64


def linear_cable(cable: Cable, dt: float, membrane: bytes) -> LinearCable:
    """The :class:`LinearCable` of ``cable`` at ``dt``, reused while the same cable
    (same axial matrix object) and the same ``membrane`` (bytes of cm, g, e) come
    again in this process.

    Parameters
    ----------
    cable : Cable
        The cable.
    dt : float
        Time step (ms).
    membrane : bytes
        Identifies the cable's membrane arrays.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> key = cable.g.tobytes()
    >>> linear_cable(cable, 0.1, key) is linear_cable(cable, 0.1, key)
    True
    """
    key = (id(cable.axial), float(dt), membrane)
    found = _SOLVERS.pop(key, None)  # re-inserted last: the least recently used go first
    if found is None or found.cable.axial is not cable.axial:
        while len(_SOLVERS) >= SOLVERS_KEPT:
            _SOLVERS.pop(next(iter(_SOLVERS), None), None)  # threads may race here
        found = LinearCable(cable, dt)
    _SOLVERS[key] = found
    return found

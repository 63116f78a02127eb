"""The linear solver for quasi-active membranes: NEURON's fixed step of a cell with
voltage-gated channels, linearised around its resting state, without time stepping.

NEURON's fixed step (``secondorder=0``) of a cell with gating states ``s`` is staggered:
the voltage is solved first, with the ionic currents evaluated at the potentials and
states of the start of the step (their slope conductance, a forward difference of
0.001 mV, in the matrix), and the states advance afterwards with the *new* potentials
(``cnexp``, ``derivimplicit``, ... as each NMODL file says).  Linearised around a
resting state (x = v - v_rest, σ = s - s_rest), per segment (currents nA, potentials mV,
time ms),

    (K + G' + A) x[n+1] = (K + G' - G) x[n] - P σ[n] - u[n],
    σ[n+1] = Φ σ[n] + B x[n+1],

with K = C / dt (nF/ms), G' NEURON's matrix conductance and G the slope conductance
dI/dV of all mechanisms with their states held (µS; equal for ohmic channels), A the
axial Laplacian (µS), P = dI/ds (nA per unit state, each state on its own segment),
Φ = ds[n+1]/ds[n] and B = ds[n+1]/dv[n+1] the Jacobians of NEURON's state update, and
u the synaptic currents of ``Exp2SynI`` (:mod:`xkernels.engine.cable`).  In
z = (x, σ) this is one discrete-time system

    z[n+1] = T z[n] - E u[n],     W = (K + G' + A)^-1,
    T = [[W K', -W P], [B W K', Φ - B W P]],     E = [W; B W],     K' = K + G' - G,

and ``i_membrane_`` is ``-A x[n]`` as for a passive cable.  T is not symmetric (the
gating states feed back on the voltage with either sign), so :class:`QuasiActiveSolver`
diagonalises it with a general eigendecomposition T = V Λ V⁻¹ (LAPACK's balanced
``geev``): in the modes y = V⁻¹ z every mode is a scalar recursion with a (possibly
complex) pole λ driven by the synapse's two exponentials, whose response is the same
closed form as the passive cable's (a divided difference of powers, here for complex
bases).  A conjugate pair of poles is carried as real modes (real and imaginary parts),
so that every method of :class:`~xkernels.engine.cable.LinearCable` (responses, probe
signals, delay smearing and windows per time constants) applies unchanged.

Why an eigendecomposition: the cells this solver is for have tens to a few hundred
segments and states (T of order 10²–10³), the eigenvector matrix of their
linearisation is well conditioned (cond(V) ~ 10³ on the active README cell, ~10⁴ with
Hodgkin-Huxley channels), so the closed form is exact to ~10⁻¹³ relative, against
NEURON's own central-difference linearisation that carries ~10⁻¹¹; and it keeps every
kernel of a membrane a few matrix products (any weights, time constants, delays and
probes).  A membrane whose eigenvector matrix is too ill-conditioned for that
(cond(V) above :data:`CONDITION_MAX`, a nearly defective T) is instead solved by the
recursion itself, step by step (:class:`SteppedQuasiActive`: exact to rounding, slower).
From :data:`SPARSE_FROM` segments the dense system and its O(N³) eigendecomposition cost
more than NEURON's simulations: such a membrane is stepped in NEURON's form with sparse
matrices (:class:`SparseQuasiActive`).

Nothing here imports NEURON: ``xkernels.engine.membrane.quasi_active_cable`` reads
the :class:`QuasiActiveCable` from the cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xkernels.engine.blas import one_blas_thread
from xkernels.engine.cable import LinearCable, peak_norm
from xkernels.engine.linearisation import finish_kernels, project
from xkernels.engine.stepped import SteppedCable, volley_drive

__all__ = ["QuasiActiveCable", "QuasiActiveSolver", "SparseQuasiActive", "SteppedQuasiActive",
           "growing_mode", "quasi_active_solver", "single_threaded"]

#: From this many segments a quasi-active membrane is stepped with sparse matrices
#: (:class:`SparseQuasiActive`), below it diagonalised (:class:`QuasiActiveSolver`):
#: the dense system and its eigendecomposition grow as O(N³) (new computations on the
#: own-cell example's pyramidal cell, reference options, against NEURON: diagonalised
#: 1.6x at 212 segments, 1.1x at 288, 0.82x at 358, 0.85x at 460; stepped 1.6x, 1.4x,
#: 1.6x, 1.8x).
SPARSE_FROM = 200

#: Largest condition number of the eigenvector matrix for the closed form (relative
#: rounding of the kernels ~ cond * 1e-16); above it the recursion is stepped.
CONDITION_MAX = 1e6


def single_threaded():
    """A context in which BLAS and LAPACK use one thread (``threadpoolctl``).

    The quasi-active system's dense matrices (order 10²) are too small for threads to
    pay, and on a machine whose cores are busy the threads cost far more than they
    save: the eigendecomposition of a 120 x 120 system took 261 ms threaded and 21 ms
    on one thread, with other processes on both cores.

    Examples
    --------
    >>> import numpy as np
    >>> with single_threaded():
    ...     values = np.linalg.eigvals(np.diag([0.5, 0.25]))
    >>> sorted(values.real.tolist())
    [0.25, 0.5]
    """
    return one_blas_thread()  # counted: threads computing at once restore it once


@dataclass(frozen=True, eq=False)
class QuasiActiveCable:
    """A cell's membrane linearised around its resting state, gating states included.

    Attributes
    ----------
    area : ndarray
        Membrane area per segment (µm²), shape (nseg,).
    cm : ndarray
        Specific capacitance (µF/cm²).
    axial : ndarray
        Axial conductance Laplacian between segments (µS), shape (nseg, nseg).
    g_matrix : ndarray
        The membrane conductance NEURON puts in its matrix: the forward difference of
        the ionic current density over 0.001 mV, states held (S/cm²).
    g : ndarray
        The slope conductance dI/dV of all mechanisms, states held (S/cm²).
    segment : ndarray
        The segment of every gating state, shape (n_states,) (ints).
    names : tuple of str
        NEURON's name of every state (``"m_xkna"``), for messages.
    coupling : ndarray
        dI/ds: ionic current density per unit of each state, on its segment
        (mA/cm²), shape (n_states,).
    update : ndarray
        Φ = ds[n+1]/ds[n] of NEURON's state update at the resting potential, shape
        (n_states, n_states) (states of one segment couple only with each other).
    drive : ndarray
        B = ds[n+1]/dv[n+1] (per mV), shape (n_states,).

    Examples
    --------
    One segment with a leak and one gate (cnexp, time constant 10 ms, dt 0.1 ms):

    >>> import numpy as np
    >>> a = np.exp(-0.1 / 10.0)
    >>> cable = QuasiActiveCable(
    ...     area=np.array([1000.0]), cm=np.ones(1), axial=np.zeros((1, 1)),
    ...     g_matrix=np.array([3e-4]), g=np.array([3e-4]), segment=np.array([0]),
    ...     names=("m_demo",), coupling=np.array([1e-3]), update=np.array([[a]]),
    ...     drive=np.array([(1 - a) * 0.01]))
    >>> cable.nseg, cable.n_states
    (1, 1)
    >>> T, E = cable.step(0.1)
    >>> T.shape, E.shape
    ((2, 2), (2, 1))
    """

    area: np.ndarray
    cm: np.ndarray
    axial: np.ndarray
    g_matrix: np.ndarray
    g: np.ndarray
    segment: np.ndarray
    names: tuple[str, ...]
    coupling: np.ndarray
    update: np.ndarray
    drive: np.ndarray

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return self.area.size

    @property
    def n_states(self) -> int:
        """Number of gating states."""
        return self.segment.size

    def step(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """NEURON's fixed step as the system ``z[n+1] = T z[n] - E u[n]`` in
        ``z = (x, σ)``: ``(T, E)``, shapes (N, N) and (N, nseg), N = nseg + n_states.

        Parameters
        ----------
        dt : float
            Time step (ms).
        """
        to_us = self.area * 1e-2                       # S/cm² (mA/cm²) -> µS (nA)
        K = self.cm * self.area * 1e-5 / float(dt)     # nF / ms = µS
        M = self.axial + np.diag(K + self.g_matrix * to_us)
        W = np.linalg.inv(M)
        keep = K + (self.g_matrix - self.g) * to_us    # K' (diagonal)
        P = np.zeros((self.nseg, self.n_states))
        P[self.segment, np.arange(self.n_states)] = self.coupling * to_us[self.segment]
        WK = W * keep[None, :]
        WP = W @ P
        BW = self.drive[:, None] * W[self.segment]     # B W (B: one entry per state)
        T = np.block([[WK, -WP], [BW * keep[None, :], self.update - BW @ P]])
        return T, np.vstack([W, BW])

    def sparse_parts(self, dt: float) -> dict:
        """The step's matrices, sparse (no inverse): ``K`` (µS), the slope conductance
        ``G`` and NEURON's matrix conductance (µS), ``P`` = dI/ds (nA per unit state,
        CSR (nseg, n_states)), ``Phi`` (CSR), ``B`` per state and the axial edges
        (:class:`~xkernels.engine.stepped.AxialEdges`)."""
        from scipy import sparse

        from xkernels.engine.stepped import axial_edges

        to_us = self.area * 1e-2
        states = np.arange(self.n_states)
        return {"K": self.cm * self.area * 1e-5 / float(dt), "G": self.g * to_us,
                "G_matrix": self.g_matrix * to_us,
                "P": sparse.csr_array((self.coupling * to_us[self.segment],
                                       (self.segment, states)),
                                      shape=(self.nseg, self.n_states)),
                "Phi": sparse.csr_array(self.update), "B": self.drive,
                "edges": axial_edges(self.axial)}

    def fixed_point_solver(self, dt: float):
        """``F -> (I - T)^-1 F`` for ``F`` in ``z = (x, σ)`` (Newton's step towards the
        fixed point of the step), by one sparse factorisation of the steady-state
        Jacobian ``[[G + A, P], [-B, I - Φ]]`` (``(I - T) δ = F`` rearranged with
        ``M = K + G' + A``: ``(G + A) a + P b = M F_x``, ``-B a + (I - Φ) b = F_σ - B
        F_x``), no dense inverse.

        Examples
        --------
        >>> import numpy as np
        >>> a = np.exp(-0.1 / 10.0)
        >>> cable = QuasiActiveCable(
        ...     area=np.array([1000.0]), cm=np.ones(1), axial=np.zeros((1, 1)),
        ...     g_matrix=np.array([3e-4]), g=np.array([3e-4]), segment=np.array([0]),
        ...     names=("m_demo",), coupling=np.array([1e-3]), update=np.array([[a]]),
        ...     drive=np.array([(1 - a) * 0.01]))
        >>> T, _ = cable.step(0.1)
        >>> F = np.array([1e-3, 2e-4])
        >>> bool(np.allclose(cable.fixed_point_solver(0.1)(F),
        ...                  np.linalg.solve(np.eye(2) - T, F), rtol=1e-12, atol=0))
        True
        """
        from scipy import sparse
        from scipy.sparse.linalg import splu

        parts = self.sparse_parts(dt)
        edges, n, m = parts["edges"], self.nseg, self.n_states
        B = sparse.csr_array((parts["B"], (np.arange(m), self.segment)), shape=(m, n))
        jacobian = sparse.block_array(
            [[edges.off + sparse.diags_array(edges.diagonal + parts["G"]), parts["P"]],
             [-B, sparse.eye_array(m) - parts["Phi"]]], format="csc")
        lu = splu(jacobian, permc_spec="MMD_AT_PLUS_A")
        membrane = parts["K"] + parts["G_matrix"]

        def solve(F: np.ndarray) -> np.ndarray:
            Fx, Fs = F[:n], F[n:]
            return lu.solve(np.concatenate([membrane * Fx + edges.currents(Fx),
                                            Fs - parts["B"] * Fx[self.segment]]))

        return solve


def _powers_difference(lam: np.ndarray, a: float, n: np.ndarray) -> np.ndarray:
    """``Σ_{k<n} lam**(n-1-k) a**k`` = ``(lam**n - a**n) / (lam - a)`` for complex
    ``lam`` (|lam| <= 1; or real and positive, in real arithmetic) and real ``a`` in
    (0, 1], shape (m, T): from the base of larger modulus ``b`` with ``q`` the other
    over it (``|q| <= 1``), ``b**(n-1) expm1(n log q) / expm1(log q)`` (``n`` where
    ``q = 1``), which neither cancels for nearby bases nor overflows for distant ones."""
    lam = np.asarray(lam)[:, None]
    log_lam, log_a = np.log(lam), np.log(a)
    lam_big = log_lam.real >= log_a
    high = np.where(lam_big, log_lam, log_a)
    low = np.where(lam_big, log_a, log_lam)
    delta = low - high                                  # log q, Re <= 0
    nn = n[None, :].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.expm1(nn * delta) / np.expm1(delta)
    ratio = np.where(delta == 0.0, nn, ratio)
    return np.exp((nn - 1.0) * high) * ratio


class QuasiActiveSolver(LinearCable):
    """NEURON's fixed-step response of a :class:`QuasiActiveCable` at ``dt``, in closed
    form: the methods of :class:`~xkernels.engine.cable.LinearCable` (``response``,
    ``projected``, ``kernels``, ...) for the quasi-active system.

    Parameters
    ----------
    cable : QuasiActiveCable
        The linearised membrane (g_eff shift included).
    dt : float
        Time step (ms).
    decomposition : tuple, optional
        ``(T, E, λ, V, V⁻¹)``: the system and its eigendecomposition, when already
        computed (:func:`quasi_active_solver`).

    Attributes
    ----------
    eigenvalues : ndarray
        The poles of the system per step (complex), shape (N,).
    spectral_radius : float
        Their largest modulus: below 1 for a stable membrane.

    Examples
    --------
    A segment with a leak and a slow restoring gate: a damped response that sums to
    zero over the segments (one segment: the capacitive current balances the rest).

    >>> import numpy as np
    >>> a = np.exp(-0.1 / 10.0)
    >>> cable = QuasiActiveCable(
    ...     area=np.full(2, 1000.0), cm=np.ones(2), axial=np.array([[1., -1], [-1, 1]]) * 1e-2,
    ...     g_matrix=np.full(2, 3e-4), g=np.full(2, 3e-4), segment=np.array([0]),
    ...     names=("m_demo",), coupling=np.array([1e-3]), update=np.array([[a]]),
    ...     drive=np.array([(1 - a) * 0.01]))
    >>> solver = QuasiActiveSolver(cable, dt=0.1)
    >>> bool(solver.spectral_radius < 1)
    True
    >>> imem = solver.response(np.array([1.0, 0.0]), 0.2, 1.8, 50)
    >>> imem.shape, bool(abs(imem.sum(axis=0)).max() < 1e-15)
    ((2, 51), True)
    """

    def __init__(self, cable: QuasiActiveCable, dt: float,
                 decomposition: tuple | None = None) -> None:
        self.cable = cable
        self.dt = float(dt)
        self._modal: dict = {}
        if decomposition is None:
            T, E = cable.step(self.dt)
            lam, V = np.linalg.eig(T)
            inverse = np.linalg.inv(V)
        else:
            T, E, lam, V, inverse = decomposition
        #: the system matrix T of the step (N, N)
        self.matrix = T
        self.eigenvalues = lam
        self.spectral_radius = float(np.abs(lam).max()) if lam.size else 0.0
        n = cable.nseg
        inward = inverse @ E                           # modes <- synaptic currents
        outward = -(cable.axial @ V[:n])               # modes -> i_membrane_
        # one real mode per real pole; a conjugate pair (the member with Im > 0) as
        # four real modes: 2 Re(o c F) = 2 Re o Re c Re F - 2 Im o Im c Re F
        #                                 - 2 Re o Im c Im F - 2 Im o Re c Im F
        real = lam.imag == 0.0
        upper = lam.imag > 0.0
        o, c = outward[:, upper], inward[upper]
        self._in = np.concatenate([inward[real].real, c.real, c.imag, c.imag, c.real]).T
        self._out = np.concatenate([outward[:, real].real, 2 * o.real, -2 * o.imag,
                                    -2 * o.real, -2 * o.imag], axis=1)
        k = int(upper.sum())
        #: per real mode: its pole and whether it takes the real or imaginary part
        self.poles = np.concatenate([lam[real].real, np.tile(lam[upper], 4)])
        self._imaginary = np.concatenate([np.zeros(int(real.sum()), bool),
                                          np.zeros(2 * k, bool), np.ones(2 * k, bool)])

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return self.cable.nseg

    def advance(self, z: np.ndarray, steps: int) -> np.ndarray:
        """``T^steps z``: the state ``z = (x, σ)`` after ``steps`` steps without input."""
        for _ in range(int(steps)):
            z = self.matrix @ z
        return z

    def rest(self, e: np.ndarray | None = None) -> np.ndarray:
        """Not defined: the resting state of a quasi-active membrane is NEURON's."""
        raise NotImplementedError("the resting state of a quasi-active membrane is found "
                                  "by NEURON (xkernels.engine.membrane)")

    def projected(self, matrix: np.ndarray, weights: np.ndarray, tau1: float, tau2: float,
                  n_after: int) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.projected` for one volley
        (``weights`` of shape (nseg,)), with the product row by row
        (``xkernels.engine.linearisation.project``: a quasi-active system has
        several times the passive cable's modes, enough for BLAS to take threads that
        cost far more than they save on a busy machine: measured 7x)."""
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1:
            return super().projected(matrix, weights, tau1, tau2, n_after)
        coefficients = self.mapped(matrix) * (self._in.T @ w)[None, :]
        return project(coefficients, self.modal_kernel(tau1, tau2, n_after))

    def kernels(self, matrix: np.ndarray, weights: list[np.ndarray],
                taus: list[tuple[float, float]], filters: list[np.ndarray], centre: int,
                lags: np.ndarray, n_after: int, out: np.ndarray | None = None
                ) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.kernels`, with the products row
        by row (see :meth:`projected`)."""
        R = self.mapped(matrix)
        if out is None:
            out = np.empty((len(weights), R.shape[0], np.asarray(lags).size))
        for k, (w, (tau1, tau2), h) in enumerate(zip(weights, taus, filters)):
            c = self._in.T @ np.asarray(w, dtype=float)
            out[k] = project(R * c[None, :], self.windowed(tau1, tau2, n_after, h, centre,
                                                           lags))
        return out

    def _modal_kernel(self, tau1: float, tau2: float, n_after: int) -> np.ndarray:
        f, t1, t2 = peak_norm(tau1, tau2)
        a1, a2 = np.exp(-self.dt / t1), np.exp(-self.dt / t2)
        n = np.arange(n_after + 1)
        # y[n+1] = λ y[n] - u[n]:  y[n] = -Σ_{k<n} λ^{n-1-k} f (a1^k - a2^k)
        lam, index = np.unique(self.poles, return_inverse=True)
        y = np.empty((lam.size, n.size), dtype=complex)
        positive = (lam.imag == 0.0) & (lam.real > 0.0)   # most poles: real arithmetic
        for part, bases in ((positive, lam[positive].real), (~positive, lam[~positive])):
            if part.any():
                y[part] = -f * (_powers_difference(bases, a1, n)
                                - _powers_difference(bases, a2, n))
        y = y[index]
        return np.where(self._imaginary[:, None], y.imag, y.real)


class SteppedQuasiActive(QuasiActiveSolver):
    """:class:`QuasiActiveSolver` for a system whose eigenvectors are too
    ill-conditioned for the closed form: the recursion ``z[n+1] = T z[n] - E u[n]`` is
    stepped for each volley (exact to rounding; its cost grows with the lags).

    Parameters
    ----------
    cable, dt, decomposition
        As for :class:`QuasiActiveSolver` (``decomposition`` must hold ``T`` and
        ``E``; its eigenvalues give the spectral radius).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.exp(-0.1 / 10.0)
    >>> cable = QuasiActiveCable(
    ...     area=np.full(2, 1000.0), cm=np.ones(2), axial=np.array([[1., -1], [-1, 1]]) * 1e-2,
    ...     g_matrix=np.full(2, 3e-4), g=np.full(2, 3e-4), segment=np.array([0]),
    ...     names=("m_demo",), coupling=np.array([1e-3]), update=np.array([[a]]),
    ...     drive=np.array([(1 - a) * 0.01]))
    >>> w = np.array([1.0, 0.0])
    >>> a, b = QuasiActiveSolver(cable, 0.1), SteppedQuasiActive(cable, 0.1)
    >>> bool(np.allclose(a.response(w, 0.2, 1.8, 50), b.response(w, 0.2, 1.8, 50),
    ...                  rtol=0, atol=1e-14))
    True
    """

    def __init__(self, cable: QuasiActiveCable, dt: float,
                 decomposition: tuple | None = None) -> None:
        self.cable = cable
        self.dt = float(dt)
        if decomposition is None:
            T, E = cable.step(self.dt)
            lam = np.linalg.eigvals(T)
        else:
            T, E, lam = decomposition[:3]
        self.matrix, self._E = T, E
        self.eigenvalues = lam
        self.spectral_radius = float(np.abs(lam).max()) if lam.size else 0.0

    def response(self, weights: np.ndarray, tau1: float, tau2: float,
                 n_after: int) -> np.ndarray:
        """As :meth:`QuasiActiveSolver.response`, by stepping the recursion;
        ``weights`` may be (nseg,) or (nseg, n_vol) (then (n_vol, nseg, n_after + 1))."""
        w = np.asarray(weights, dtype=float)
        f, t1, t2 = peak_norm(tau1, tau2)
        a1, a2 = np.exp(-self.dt / t1), np.exp(-self.dt / t2)
        n = self.nseg
        drive = self._E @ w
        z = np.zeros(drive.shape)
        x = np.zeros((int(n_after) + 1,) + (n,) + w.shape[1:])
        for k in range(int(n_after)):
            z = self.matrix @ z - f * (a1 ** k - a2 ** k) * drive
            x[k + 1] = z[:n]
        out = np.moveaxis(np.tensordot(-self.cable.axial, x, axes=(1, 1)), 1, -1)
        return out if w.ndim == 1 else np.moveaxis(out, 1, 0)

    def projected(self, matrix: np.ndarray, weights: np.ndarray, tau1: float, tau2: float,
                  n_after: int) -> np.ndarray:
        """``matrix @ response(...)`` (see :meth:`QuasiActiveSolver.projected`)."""
        return np.asarray(matrix) @ self.response(weights, tau1, tau2, n_after)

    def kernels(self, matrix: np.ndarray, weights: list[np.ndarray],
                taus: list[tuple[float, float]], filters: list[np.ndarray], centre: int,
                lags: np.ndarray, n_after: int, out: np.ndarray | None = None
                ) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.kernels`, volley by volley."""
        lags = np.asarray(lags)
        signals = [self.projected(matrix, w, t1, t2, n_after) for w, (t1, t2)
                   in zip(weights, taus)]
        found = finish_kernels(np.stack(signals), list(filters), centre, lags) if signals \
            else np.empty((0, np.asarray(matrix).shape[0], lags.size))
        if out is None:
            return found
        out[...] = found
        return out


class SparseQuasiActive(SteppedCable):
    """NEURON's fixed step of a large quasi-active membrane, stepped in NEURON's form
    with sparse matrices: no dense system, no eigendecomposition (both O(N³)).

    As :class:`~xkernels.engine.stepped.SteppedCable` (the change of the potentials per
    step, axial currents edge by edge, every volley a column), with the gating states
    of :class:`QuasiActiveCable`: per step

        (K + G' + A) d = -(G x + A x + P σ + w u),   x += d,   σ = Φ σ + B x,

    the membrane currents ``-A x`` recorded.  The stability of the membrane (the
    spectral radius of the step) from ARPACK's largest eigenvalues of the step as an
    operator.

    Parameters
    ----------
    cable : QuasiActiveCable
        The linearised membrane (g_eff shift included).
    dt : float
        Time step (ms).

    Examples
    --------
    A gate with a restoring current on the second of two segments, stepped and in
    closed form:

    >>> import numpy as np
    >>> two = {"area": np.full(2, 1e3), "cm": np.ones(2), "g": np.full(2, 2e-4),
    ...        "axial": np.array([[1.0, -1.0], [-1.0, 1.0]]) / 50, "g_matrix": np.full(2, 2e-4)}
    >>> gate = {"segment": np.array([1]), "names": ("n_demo",), "coupling": np.array([2e-3]),
    ...         "update": np.array([[0.98]]), "drive": np.array([2e-4])}
    >>> cable = QuasiActiveCable(**two, **gate)
    >>> sparse, closed = SparseQuasiActive(cable, 0.1), QuasiActiveSolver(cable, 0.1)
    >>> w = np.array([0.0, 1.0])
    >>> bool(np.abs(sparse.response(w, 0.2, 1.8, 80) - closed.response(w, 0.2, 1.8, 80)
    ...             ).max() < 1e-13)
    True
    """

    def __init__(self, cable: QuasiActiveCable, dt: float) -> None:
        from scipy import sparse
        from scipy.sparse.linalg import splu

        self.cable = cable
        self.dt = float(dt)
        parts = cable.sparse_parts(self.dt)
        self._G, self._P, self._Phi, self._B = parts["G"], parts["P"], parts["Phi"], \
            parts["B"]
        self._edges = parts["edges"]
        self._step = splu(sparse.csc_matrix(self._edges.off + sparse.diags(
            self._edges.diagonal + parts["K"] + parts["G_matrix"])),
            permc_spec="MMD_AT_PLUS_A")
        self._dense = None
        self.spectral_radius = self._spectral_radius()

    @property
    def matrix(self) -> np.ndarray:
        """The dense system ``T`` of the step (built on demand: O(N³); for messages)."""
        if self._dense is None:
            with single_threaded():
                self._dense = self.cable.step(self.dt)[0]
        return self._dense

    def rest(self, e: np.ndarray | None = None) -> np.ndarray:
        """Not defined: the resting state of a quasi-active membrane is NEURON's."""
        raise NotImplementedError("the resting state of a quasi-active membrane is found "
                                  "by NEURON (xkernels.engine.membrane)")

    def advance(self, z: np.ndarray, steps: int) -> np.ndarray:
        """The state ``z = (x, σ)`` after ``steps`` steps without input."""
        n = self.nseg
        x, s = np.array(z[:n], dtype=float), np.array(z[n:], dtype=float)
        axial = self._edges.currents(x)
        for _ in range(int(steps)):
            x -= self._step.solve(self._G * x + axial + self._P @ s)
            s = self._Phi @ s + self._B * x[self.cable.segment]
            axial = self._edges.currents(x)
        return np.concatenate([x, s])

    def _spectral_radius(self) -> float:
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

        size = self.nseg + self.cable.n_states
        if size < 8:
            return float(np.abs(np.linalg.eigvals(self.matrix)).max())
        # the poles nearest 1 (shift-invert: (T - I)^-1 = -(I - T)^-1 is Newton's
        # sparse solve): where backward Euler puts a growing or slow mode of the
        # membrane (it damps fast ones, unstable or not); the largest poles by
        # modulus alone cluster near 1 and take ARPACK ~10^5 steps
        step = LinearOperator((size, size), matvec=lambda z: self.advance(z, 1),
                              dtype=float)
        newton = self.cable.fixed_point_solver(self.dt)
        inverse = LinearOperator((size, size), matvec=lambda z: -newton(z), dtype=float)
        try:
            values = eigs(step, k=6, sigma=1.0, OPinv=inverse, which="LM",
                          return_eigenvectors=False, tol=1e-10, maxiter=100 * size)
        except ArpackNoConvergence:
            values = np.linalg.eigvals(self.matrix)
        return float(np.abs(values).max())

    def _stepped(self, weights: np.ndarray, taus: list[tuple[float, float]], n_after: int,
                 record) -> np.ndarray:
        """As :meth:`xkernels.engine.stepped.SteppedCable._stepped`, with the gating
        states."""
        u = volley_drive(taus, self.dt, n_after)
        x = np.zeros(weights.shape)
        s = np.zeros((self.cable.n_states, weights.shape[1]))
        axial = np.zeros(weights.shape)
        first = record(axial)
        out = np.empty((u.shape[0],) + first.shape)
        out[0] = first
        G, B = self._G[:, None], self._B[:, None]
        segment, currents, solve = self.cable.segment, self._edges.currents, \
            self._step.solve
        rhs, leak = np.empty(weights.shape), np.empty(weights.shape)
        for k in range(n_after):
            np.multiply(weights, u[k], out=rhs)
            rhs += axial
            rhs += np.multiply(G, x, out=leak)
            rhs += self._P @ s
            x -= solve(rhs)
            s = self._Phi @ s + B * x[segment]
            axial = currents(x)
            out[k + 1] = record(axial)
        return np.negative(out, out=out)


def quasi_active_solver(cable: QuasiActiveCable, dt: float) -> QuasiActiveSolver:
    """The solver of ``cable`` at ``dt``: the closed form (:class:`QuasiActiveSolver`)
    where the eigenvector matrix is well conditioned (its 1-norm condition number at
    most :data:`CONDITION_MAX`), else the stepped recursion
    (:class:`SteppedQuasiActive`).

    Parameters
    ----------
    cable : QuasiActiveCable
        The linearised membrane.
    dt : float
        Time step (ms).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.exp(-0.1 / 10.0)
    >>> cable = QuasiActiveCable(
    ...     area=np.array([1000.0]), cm=np.ones(1), axial=np.zeros((1, 1)),
    ...     g_matrix=np.array([3e-4]), g=np.array([3e-4]), segment=np.array([0]),
    ...     names=("m_demo",), coupling=np.array([1e-3]), update=np.array([[a]]),
    ...     drive=np.array([(1 - a) * 0.01]))
    >>> type(quasi_active_solver(cable, 0.1)).__name__
    'QuasiActiveSolver'
    """
    if cable.nseg >= SPARSE_FROM:
        return SparseQuasiActive(cable, dt)
    with single_threaded():
        T, E = cable.step(dt)
        lam, V = np.linalg.eig(T)
        inverse = None
        if np.isfinite(V).all():
            try:
                inverse = np.linalg.inv(V)
            except np.linalg.LinAlgError:
                pass
        # the 1-norm condition number, from the inverse the closed form needs anyway
        if inverse is not None and np.linalg.norm(V, 1) * np.linalg.norm(inverse, 1) \
                <= CONDITION_MAX:
            return QuasiActiveSolver(cable, dt, (T, E, lam, V, inverse))
        return SteppedQuasiActive(cable, dt, (T, E, lam))


def growing_mode(solver: QuasiActiveSolver) -> tuple[complex, int, int | None]:
    """The pole of largest modulus of ``solver``'s system, the segment whose potential
    its eigenvector moves most and the gating state it moves most (None without
    states): what an instability grows in.

    Examples
    --------
    >>> import numpy as np
    >>> cable = QuasiActiveCable(
    ...     area=np.array([1000.0]), cm=np.ones(1), axial=np.zeros((1, 1)),
    ...     g_matrix=np.array([-3e-4]), g=np.array([-3e-4]), segment=np.array([], int),
    ...     names=(), coupling=np.zeros(0), update=np.zeros((0, 0)), drive=np.zeros(0))
    >>> pole, segment, state = growing_mode(QuasiActiveSolver(cable, 0.1))
    >>> bool(abs(pole) > 1), segment, state
    (True, 0, None)
    """
    with single_threaded():
        lam, V = np.linalg.eig(solver.matrix)
    m = int(np.argmax(np.abs(lam)))
    mode, n = np.abs(V[:, m]), solver.nseg
    state = int(np.argmax(mode[n:])) if mode.size > n else None
    return complex(lam[m]), int(np.argmax(mode[:n])), state

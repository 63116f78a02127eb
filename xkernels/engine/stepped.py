"""Large linear cables stepped as NEURON steps them, without an eigendecomposition.

:class:`~xkernels.engine.cable.LinearCable` diagonalises the cable once per membrane:
``O(nseg³)``, after which every kernel of that membrane is a few small products.  A
new membrane in every computation (a new weight or rate with g_eff, a sweep or fitting
step) pays that decomposition each time, and for a reconstructed cell of 1205 segments
it is 0.45 s -- more than a third of NEURON's own simulation.  :class:`SteppedCable`
runs NEURON's fixed step itself instead (backward Euler, ``secondorder=0``), in
NEURON's own form: the change ``d`` of the deviation ``x`` from rest per step,

    (K + G + A) d[n] = -(G x[n] + A x[n] + w u[n]),   x[n+1] = x[n] + d[n],
    u[n] = f (a1**n - a2**n),

with the axial currents ``A x`` summed edge by edge from the potential differences
across each edge (``g_e (x_i - x_j)``), the sparse LU factorisation of the tree matrix
``K + G + A`` (a tree: no fill-in in a minimum-degree order), every volley (and depth
node) a column of one right-hand side, and only the probe signals of the membrane
currents ``-A x`` recorded: ``O(n_lags × nseg)``.

The form matters on a fine cable.  Stepping the potentials themselves,
``(K + G + A) x[n+1] = K x[n] - w u[n]``, and taking the currents as ``-A x`` lost
digits twice: the diagonal ``K + G + Σ g`` keeps the membrane's part (``K + G``,
~10⁴ times smaller than the axial conductances of the short, thick segments of the
1205-segment reconstruction) only to ``1e-16 Σ g``, an error of the whole potential in
every step, and ``A x`` of a smooth potential is a difference of nearly equal terms.
There the kernels differed from NEURON's by 1.0–1.9e-9 of their peak; measured against
the same recursion in extended precision NEURON was within 4–5e-11 and the potential
form 8e-10 (``python benchmarks/stepped_accuracy.py``).  Stepping the change, whose
rounding scales with the change and not the potential, with edge-wise axial currents
brings the stepped kernels within 5–8e-11 of NEURON's: NEURON's own rounding.

A cell of :data:`STEPPED_FROM` segments or more is stepped
(``xkernels.engine.cells.LinearisedCell.linear_cable``, :func:`stepped_cable`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from xkernels.engine.cable import Cable, peak_norm
from xkernels.engine.kept import keep, kept, key_of

__all__ = ["STEPPED_FROM", "AxialEdges", "SteppedCable", "axial_edges", "stepped_cable",
           "volley_drive"]

#: From this many segments a cable is stepped: the eigendecomposition then costs more
#: than stepping (and amplifies rounding on a fine cable).
STEPPED_FROM = 400

#: Edge lists of axial matrices by the identity of the dense one (a cell's cable keeps
#: its axial matrix object): the last few.
_EDGES: dict = {}
EDGES_KEPT = 8


class AxialEdges:
    """The axial conductances of a cable edge by edge: ``A x`` as the sum over edges of
    ``g_e (x_i - x_j)`` (the currents NEURON sums from potential differences), and the
    Laplacian with exactly these edges (diagonal: the sum of each row's conductances).

    Parameters
    ----------
    axial : ndarray
        The cable's axial Laplacian (µS), symmetric (its upper triangle is read).

    Examples
    --------
    >>> import numpy as np
    >>> edges = AxialEdges(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> edges.currents(np.array([2.0, 0.5])), edges.diagonal
    (array([ 1.5, -1.5]), array([1., 1.]))
    """

    def __init__(self, axial: np.ndarray) -> None:
        from scipy import sparse

        upper = sparse.triu(sparse.csr_matrix(axial), 1).tocoo()
        n, m = axial.shape[0], upper.nnz
        i, j, g = upper.row, upper.col, -upper.data                       # µS
        edges = np.arange(m)
        #: potential differences across the edges, scaled by their conductances (µS)
        self.flows = sparse.csr_array(
            (np.r_[g, -g], (np.r_[edges, edges], np.r_[i, j])), shape=(m, n))
        #: edge flows -> the axial current leaving each node
        self.gather = sparse.csr_array(
            (np.r_[np.ones(m), -np.ones(m)], (np.r_[i, j], np.r_[edges, edges])),
            shape=(n, m))
        coupling = sparse.csr_matrix((-g, (i, j)), shape=(n, n))
        #: the axial Laplacian of these edges: off-diagonals, diagonal
        self.off = coupling + coupling.T
        self.diagonal = np.bincount(i, g, n) + np.bincount(j, g, n)

    def currents(self, x: np.ndarray) -> np.ndarray:
        """``A x``: the axial current leaving each node (nA), edge by edge."""
        return self.gather @ (self.flows @ x)


def axial_edges(axial: np.ndarray) -> AxialEdges:
    """The :class:`AxialEdges` of ``axial``, kept while the same array object comes
    again.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> axial_edges(A) is axial_edges(A)
    True
    """
    found = _EDGES.get(id(axial))
    if found is None or found[0] is not axial:
        while len(_EDGES) >= EDGES_KEPT:
            _EDGES.pop(next(iter(_EDGES), None), None)  # threads may race here
        found = _EDGES[id(axial)] = (axial, AxialEdges(axial))
    return found[1]


def volley_drive(taus: list[tuple[float, float]], dt: float, n_after: int) -> np.ndarray:
    """``Exp2SynI``'s current per unit weight after a volley, ``f (a1**n - a2**n)`` at
    steps ``n = 0..n_after``, one column per ``(tau1, tau2)`` (ms): shape
    (n_after + 1, len(taus)).

    Examples
    --------
    >>> u = volley_drive([(0.2, 1.8)], 0.0625, 200)
    >>> u.shape, float(u[0, 0]), round(float(u.min()), 3)    # its peak: -1
    ((201, 1), 0.0, -1.0)
    """
    n = np.arange(n_after + 1.0)
    u = np.empty((n.size, len(taus)))
    for c, (tau1, tau2) in enumerate(taus):
        f, t1, t2 = peak_norm(tau1, tau2)
        u[:, c] = f * (np.exp(-n * dt / t1) - np.exp(-n * dt / t2))
    return u


class SteppedCable:
    """NEURON's fixed-step response of a linear :class:`~xkernels.engine.cable.Cable`,
    stepped: the interface of :class:`~xkernels.engine.cable.LinearCable` that kernels
    use (:meth:`rest`, :meth:`response`, :meth:`projected`, :meth:`kernels`,
    :meth:`node_kernels`), with the same numbers to rounding.

    Parameters
    ----------
    cable : Cable
        The cable (its leak as it is during the response: g_eff shift included).
    dt : float
        Time step (ms).

    Raises
    ------
    ValueError
        An unstable membrane (``G + A`` not positive definite), as ``LinearCable``.

    Examples
    --------
    >>> import numpy as np
    >>> from xkernels.engine.cable import LinearCable
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2       # µS
    >>> cable = Cable(area=np.full(2, 1000.0), cm=np.ones(2), g=np.full(2, 1e-4),
    ...               e=np.full(2, -65.0), axial=A)
    >>> stepped = SteppedCable(cable, dt=0.1).response(np.array([1.0, 0.0]), 0.2, 1.8, 50)
    >>> modal = LinearCable(cable, dt=0.1).response(np.array([1.0, 0.0]), 0.2, 1.8, 50)
    >>> bool(np.abs(stepped - modal).max() < 1e-12 * np.abs(modal).max())
    True
    """

    def __init__(self, cable: Cable, dt: float) -> None:
        from scipy import sparse
        from scipy.sparse.linalg import splu

        self.cable = replace(cable, cm=cable.cm.copy(), g=cable.g.copy(), e=cable.e.copy())
        cable = self.cable
        self.dt = float(dt)
        self._K = cable.capacitance / self.dt
        self._G = cable.conductance
        self._edges = axial_edges(cable.axial)
        off, axial = self._edges.off, self._edges.diagonal
        # the leak and axial conductances, factorised with diagonal pivots in a
        # symmetric order: positive definite iff every pivot is positive
        self._rest = splu(sparse.csc_matrix(off + sparse.diags(axial + self._G)),
                          permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                          options={"SymmetricMode": True})
        pivots = self._rest.U.diagonal()
        if not (np.array_equal(self._rest.perm_r, self._rest.perm_c) and pivots.min() > 0):
            k = int(np.argmin(cable.g))
            raise ValueError(
                "the linear membrane is unstable: its conductance matrix (leak and axial) "
                f"is not positive definite (segment {k} has the membrane conductance "
                f"{cable.g[k]:.6g} S/cm²)")
        self._step = splu(sparse.csc_matrix(off + sparse.diags(axial + self._K + self._G)),
                          permc_spec="MMD_AT_PLUS_A")

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return self.cable.nseg

    def rest(self, e: np.ndarray | None = None) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.rest`: ``(G + A) v = G e``."""
        e = self.cable.e if e is None else np.asarray(e, dtype=float)
        return self._rest.solve(self._G * e)

    def _stepped(self, weights: np.ndarray, taus: list[tuple[float, float]], n_after: int,
                 record) -> np.ndarray:
        """Step the columns of ``weights`` (nseg, C), column ``c`` a volley with time
        constants ``taus[c]``; ``-record(A x)`` (``record`` linear), the record of the
        membrane currents (nA, shape (nseg, C)), at every lag 0..n_after, stacked."""
        u = volley_drive(taus, self.dt, n_after)
        x = np.zeros(weights.shape)
        axial = np.zeros(weights.shape)  # A x: the axial currents leaving each node
        first = record(axial)
        out = np.empty((u.shape[0],) + first.shape)
        out[0] = first
        G = self._G[:, None]
        currents, solve = self._edges.currents, self._step.solve
        rhs, leak = np.empty(weights.shape), np.empty(weights.shape)
        for k in range(n_after):
            # NEURON's step: the change of the potentials from the membrane's and the
            # axial currents now (their rounding scales with the change)
            np.multiply(weights, u[k], out=rhs)
            rhs += axial
            rhs += np.multiply(G, x, out=leak)
            x -= solve(rhs)
            axial = currents(x)
            out[k + 1] = record(axial)
        return np.negative(out, out=out)  # Kirchhoff: the membrane currents are -A x

    def response(self, weights: np.ndarray, tau1: float, tau2: float,
                 n_after: int) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.response`: shape
        (nseg, n_after + 1), nA."""
        w = np.asarray(weights, dtype=float)[:, None]
        return self._stepped(w, [(tau1, tau2)], n_after, lambda i: i[:, 0]).T

    def projected(self, matrix: np.ndarray, weights: np.ndarray, tau1: float, tau2: float,
                  n_after: int) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.projected`."""
        w = np.asarray(weights, dtype=float)
        columns = w[:, None] if w.ndim == 1 else w
        M = np.asarray(matrix, dtype=float)                              # (n_ch, nseg)
        signals = self._stepped(columns, [(tau1, tau2)] * columns.shape[1], n_after,
                                lambda i: M @ i)                         # (T, n_ch, C)
        signals = np.moveaxis(signals, 0, -1)                            # (n_ch, C, T)
        return signals[:, 0] if w.ndim == 1 else np.moveaxis(signals, 1, 0)

    def kernels(self, matrix: np.ndarray, weights: list[np.ndarray],
                taus: list[tuple[float, float]], filters: list[np.ndarray], centre: int,
                lags: np.ndarray, n_after: int, out: np.ndarray | None = None
                ) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.kernels`: every volley a column
        of one stepping; the result kept by the values of its inputs
        (``xkernels.engine.kept``), so that a computation repeated on this membrane
        is not stepped again."""
        columns = np.stack([np.asarray(w, dtype=float) for w in weights], axis=1)
        key = key_of("SteppedCable.kernels", id(self), id(matrix), columns,
                     np.asarray(taus, dtype=float), tuple(map(id, filters)), int(centre),
                     np.asarray(lags), int(n_after))
        held = (self, matrix, *filters)
        found = kept(key, held)
        if found is None:
            M = np.asarray(matrix, dtype=float)                          # (n_ch, nseg)
            signals = self._stepped(columns, list(taus), n_after, lambda i: M @ i)
            found = self._finish(np.moveaxis(signals, 0, -1).swapaxes(0, 1), filters,
                                 centre, lags, None)
            keep(key, held, found)
        if out is None:
            return found.copy()
        out[...] = found
        return out

    def node_kernels(self, matrices: np.ndarray, weights: list[np.ndarray],
                     taus: list[tuple[float, float]], filters: list[np.ndarray],
                     centre: int, lags: np.ndarray, n_after: int,
                     out: np.ndarray | None = None) -> np.ndarray:
        """As :meth:`xkernels.engine.cable.LinearCable.node_kernels`: every volley at
        every node a column; the nodes' signals summed at each lag."""
        Q = np.asarray(matrices, dtype=float)                           # (N, n_ch, nseg)
        n_nodes = Q.shape[0]
        columns = np.concatenate([np.asarray(w, dtype=float).T for w in weights], axis=1)
        col_taus = [t for t in taus for _ in range(n_nodes)]
        signals = self._stepped(
            columns, col_taus, n_after,
            lambda i: np.einsum("ncs,snv->cv", Q, i.reshape(i.shape[0], -1, n_nodes)
                                .swapaxes(1, 2), optimize=True))       # (T, n_ch, V)
        return self._finish(np.moveaxis(signals, 0, -1).swapaxes(0, 1), filters, centre,
                            lags, out)

    def _finish(self, signals: np.ndarray, filters: list[np.ndarray], centre: int,
                lags: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        from xkernels.engine.linearisation import finish_kernels

        found = finish_kernels(signals, list(filters), centre, np.asarray(lags))
        if out is None:
            return found
        out[...] = found
        return out


#: Recently built :class:`SteppedCable` objects (key -> solver), :func:`stepped_cable`.
_SOLVERS: dict = {}
SOLVERS_KEPT = 16


def stepped_cable(cable: Cable, dt: float, membrane: bytes) -> SteppedCable:
    """The :class:`SteppedCable` of ``cable`` at ``dt``, reused while the same cable
    (same axial matrix object) and ``membrane`` (bytes of cm, g, e) come again, as
    :func:`xkernels.engine.cable.linear_cable`.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 1e-2
    >>> cable = Cable(np.full(2, 1e3), np.ones(2), np.full(2, 1e-4), np.full(2, -65.0), A)
    >>> key = cable.g.tobytes()
    >>> stepped_cable(cable, 0.1, key) is stepped_cable(cable, 0.1, key)
    True
    """
    key = (id(cable.axial), float(dt), membrane)
    found = _SOLVERS.get(key)
    if found is None or found.cable.axial is not cable.axial:
        while len(_SOLVERS) >= SOLVERS_KEPT:
            _SOLVERS.pop(next(iter(_SOLVERS), None), None)  # threads may race here
        found = _SOLVERS[key] = SteppedCable(cable, dt)
    return found

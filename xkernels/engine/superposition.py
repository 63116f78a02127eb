"""Kernels superposed from unit responses: the one home of the superposition.

With a linear (passive) membrane and current-based ``Exp2SynI`` synapses, the membrane
currents after a synaptic volley are ``I(t) = Σ_s w_s G_s(t)``, with ``G_s`` the
response to a unit-weight (1 nA) synapse on segment s (time constants tau1, tau2) and
``w_s`` the linearised per-segment weight.  A kernel is then
``finish_kernel(Σ_s w_s M G_s, h_delay)`` with M the probe matrix and h_delay the delay
filter.  With depth averaging (:mod:`xkernels.engine.depth_average`) the cell is evaluated
at depth nodes n with probe matrices ``Q_n`` and the sum runs over (node, segment)
pairs: ``Σ_n Σ_s w_ns Q_n G_s``.

* :func:`unit_responses` simulates ``G_s`` once per segment and maps it through every
  node's matrix (one cell, whose membrane is the same at every node);
* :class:`Assembler` builds kernels from those responses in the frequency domain.

Used by depth averaging (:func:`xkernels.engine.depth_average.depth_kernels`) and by the
fast path of parameter sweeps (:mod:`xkernels.sweeps.superposition`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import LinearisedCell
from xkernels.engine.plans import PopulationPlan
from xkernels.engine.timeline import LagGrid
from xkernels.runtime import cores

#: One group of unit responses: synapse time constants (ms) and the responses wanted,
#: as indices ``node * nseg + segment``.
Group = tuple[float, float, np.ndarray]


def supports(plans: Sequence[PopulationPlan]) -> dict[tuple[float, float], np.ndarray]:
    """Per synapse time constants (tau1, tau2), the weight indices that are non-zero in
    any of ``plans`` (whose weights have the same length): the unit responses needed."""
    masks: dict[tuple[float, float], np.ndarray] = {}
    for p in plans:
        for inp in p.inputs.values():
            key = (inp.tau1, inp.tau2)
            nonzero = np.asarray(inp.weights) != 0.0
            masks[key] = nonzero if key not in masks else masks[key] | nonzero
    return {key: np.flatnonzero(mask) for key, mask in masks.items()}


def unit_responses(cell: LinearisedCell, groups: Sequence[Group], matrices: np.ndarray,
                   n_response: int, t_X: float) -> list[np.ndarray]:
    """Probe-mapped responses to unit synapses, one simulation per segment and group.

    Parameters
    ----------
    cell : LinearisedCell
        The cell, its membrane (leak shift included) as it is for every node.
    groups : sequence of (tau1, tau2, support)
        Synapse time constants (ms) and the responses to compute: indices
        ``node * nseg + segment``.
    matrices : ndarray
        Probe matrices per node, shape (N, n_channels, nseg) (channel units per nA).
    n_response : int
        Lags (steps) of the response after the volley.
    t_X : float
        Volley time (ms) of a cell that must settle first.

    Returns
    -------
    list of ndarray
        Per group, ``P`` of shape ``(n_channels, support.size, n_response + 1)``:
        ``P[:, k]`` is the signal at lags 0..n after a 1 nA synapse on segment
        ``support[k] % nseg`` fires, mapped by the matrix of node ``support[k] // nseg``.
    """
    nseg = cell.geometry.nseg
    out = []
    for tau1, tau2, support in groups:
        P = np.empty((matrices.shape[1], len(support), n_response + 1))
        node, segment = np.divmod(np.asarray(support), nseg)
        for seg in np.unique(segment):
            unit = np.zeros(nseg)
            unit[seg] = 1.0
            imem = cell.synaptic_response(unit, tau1, tau2, n_response, t_X)
            for k in np.flatnonzero(segment == seg):
                P[:, k] = lin.project(matrices[node[k]], imem)
        out.append(P)
    return out


class Assembler:
    """Builds kernels from probe-mapped unit responses in the frequency domain.

    For a response ``r`` (lags 0..n) and a delay filter ``h`` (lags -n..n) the
    delay-smeared signal at lags 0..n is entries n..2n of their linear convolution;
    a circular convolution of length L >= 2n + 1 gives the same entries, so the
    unit responses are transformed once (length L) and each kernel costs one
    weighted sum, one product with the filter's transform and one inverse FFT.  Then,
    as :func:`xkernels.engine.linearisation.finish_kernel`: the value at lag 0 is
    subtracted, negative lags are zero (or cut with ``fir``).

    Parameters
    ----------
    grid : LagGrid
        A regular grid (response lags 0..n, delay taps -n..n).
    """

    def __init__(self, grid: LagGrid) -> None:
        from scipy import fft

        if grid.delay_centre != grid.n_response:
            raise ValueError("the superposition needs a regular lag grid (delay taps "
                             f"-n..n), got lag-0 tap {grid.delay_centre} of "
                             f"n = {grid.n_response}")
        self._fft = fft
        self.grid = grid
        self.n = grid.n_response
        self.L = fft.next_fast_len(2 * self.n + 1, real=True)
        self.responses: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
        self.filters: dict[int, np.ndarray] = {}
        self.workers = cores()

    def add_responses(self, key: Hashable, support: np.ndarray, P: np.ndarray) -> None:
        """Register unit responses ``P`` (n_channels, support.size, n + 1) under ``key``."""
        n_ch, n_sup, _ = P.shape
        spectra = self._fft.rfft(P, n=self.L, axis=-1, workers=self.workers)
        self.responses[key] = (support, spectra.transpose(1, 0, 2).reshape(n_sup, -1))

    def _filter(self, h_delay: np.ndarray) -> np.ndarray:
        if id(h_delay) not in self.filters:
            self.filters[id(h_delay)] = self._fft.rfft(h_delay, n=self.L)
        return self.filters[id(h_delay)]

    def kernels(self, jobs: Sequence[tuple[Hashable, np.ndarray, np.ndarray]],
                n_channels: int) -> np.ndarray:
        """The kernels of ``jobs``: per job, the key of its responses, the weights (one
        per response index: ``weights[support]`` are used) and the delay filter.

        Returns
        -------
        ndarray
            Shape (len(jobs), n_channels, lags); zero for a key without responses.
        """
        by_response: dict[Hashable, list[int]] = {}
        for job, (key, _, _) in enumerate(jobs):
            by_response.setdefault(key, []).append(job)
        out = np.zeros((len(jobs), n_channels, self.grid.lags.size))
        n = self.n
        for key, members in by_response.items():
            if key not in self.responses:  # every weight of this group is zero
                continue
            support, spectra = self.responses[key]
            W = np.stack([jobs[m][1][support] for m in members])
            signal = (W @ spectra).reshape(len(members), n_channels, -1)
            signal *= np.stack([self._filter(jobs[m][2]) for m in members])[:, None, :]
            smeared = self._fft.irfft(signal, n=self.L, axis=-1,
                                      workers=self.workers)[..., n:2 * n + 1]
            out[members] = lin.window_kernel(smeared, self.grid.lags)
        return out

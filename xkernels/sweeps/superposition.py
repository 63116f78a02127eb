"""Superposition fast path of parameter sweeps.

With a linear (passive) membrane and current-based ``Exp2SynI`` synapses, the
membrane currents after the synaptic volley of connection X -> Y are

    I(t) = Σ_s w_s G_s(t)

where ``G_s`` is the response to a unit-weight synapse on segment s (time constants
tau1, tau2 of the connection) and ``w_s`` the linearised per-segment weight:
``-weight (Vrest - e) ρ_s`` for conductance-based synapses, with ρ_s the expected
number of synapses per presynaptic spike on segment s (placement × probability ×
multapses × population sizes).  The kernel is then
``finish_kernel(M Σ_s w_s G_s, h_delay)`` with M the probe matrix and h_delay the
delay filter.  So the weight, Vrest (where it does not set the leak reversal),
placement, probability, multapses and sizes enter only through ``w``, and the delay
only through ``h_delay``.

Everything that defines the cell's membrane -- the cell and its placement, the leak
shift g_eff adds (which depends on weights, rates, placement... of every input of Y),
the leak reversal potential when Vrest sets it, t_X -- forms the *membrane state*
key.  The unit responses (mapped through the probes: ``P_s = M G_s``) are simulated
once per (Y, membrane state, tau1, tau2) in a worker; every point is then one matrix
product and one delay convolution.  The keys are exact (byte equality of the leak
shift), so points never share responses they should not: the path is valid for any
sweep over linear membranes, and :func:`choose_method` takes it when it is cheaper.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xkernels.engine import kernels as kern
from xkernels.engine import linearisation as lin
from xkernels.spec.network import Network, Population

#: Cost of building a cell and its probe matrix, in units of one short simulation
#: (used to choose between the superposition and full simulations).
CELL_COST = 10.0
#: Points assembled per batch of linear algebra.
BATCH_POINTS = 128
#: NEURON is not thread-safe: one cell at a time per process.
NEURON_LOCK = threading.Lock()


@dataclass
class PointSpec:
    """The specification of one sweep point: its network and swept options."""

    network: Network
    Vrest: Any
    t_X: float


# --------------------------------------------------------------------------------------
# cells: geometry and linearity, computed in workers
# --------------------------------------------------------------------------------------
def geometry_key(pop: Population) -> str:
    """Everything the cell geometry and membrane mechanisms of ``pop`` depend on."""
    try:
        cell = pop.cell.to_dict()
    except TypeError:  # non-importable callables: fall back on their identity
        cell = repr(pop.cell)
    return json.dumps([cell, pop.loc, pop.rotation], sort_keys=True, default=repr)


def geometry_task(pop: Population, dt: float) -> tuple[Any, bool]:
    """Worker task: the cell geometry of ``pop`` and whether its membrane is linear."""
    from xkernels.engine.cells import LinearisedCell

    with NEURON_LOCK, LinearisedCell(pop.cell, pop, dt, 0.0) as cell:
        return cell.geometry, cell.is_linear()


def collect_geometries(runner, specs: Sequence[PointSpec], Y: Sequence[str],
                       dt: float) -> dict[str, tuple[Any, bool]]:
    """Geometry and linearity of every distinct postsynaptic cell of the points."""
    pops: dict[str, Population] = {}
    seen: set[int] = set()
    for spec in specs:
        for post in Y:
            pop = spec.network.population(post)
            if id(pop) not in seen:
                seen.add(id(pop))
                pops.setdefault(geometry_key(pop), pop)
    keys = list(pops)
    out = {}
    from xkernels.sweeps.driver import SECONDS_PER_CELL

    for i, result in runner.imap_unordered(geometry_task, [(pops[k], dt) for k in keys],
                                           len(keys) * SECONDS_PER_CELL):
        out[keys[i]] = result
    return out


# --------------------------------------------------------------------------------------
# planning: validation of every point, membrane states, per-segment weights
# --------------------------------------------------------------------------------------
def _e_pas_used(pop: Population, vrest: Any) -> float | None:
    """The leak reversal potential Vrest sets for ``pop`` (None if it sets none)."""
    bio = pop.cell.biophysics
    if isinstance(bio, Mapping) and bio.get("e_pas") is None:
        return kern._e_pas_default(vrest)
    return None


def plan_points(specs: Sequence[PointSpec], geometries: Mapping[str, tuple[Any, bool]],
                prep: Mapping[str, Any], options: Mapping[str, Any],
                labels: Sequence[Any] | None = None) -> list[dict]:
    """Plan (and so validate) every point on its cells' geometry.

    ``labels`` (one per point, e.g. its swept values) name a failing point.

    Returns
    -------
    list of dict
        Per point: post -> ``{"state": key, "e_pas": ..., "pop": Population,
        "plan": kernels._plan_population output}``.

    Raises
    ------
    ValueError
        If a point's placement or Vrest does not fit its cell (names the point).
    """
    g_eff, dt, n_lags = options["g_eff"], prep["attrs"]["dt"], prep["n_lags"]
    memo: dict = {}
    gkeys: dict[int, str] = {}
    out = []
    for n, spec in enumerate(specs):
        per_y = {}
        for post in prep["Y"]:
            pop = spec.network.population(post)
            gkey = gkeys.setdefault(id(pop), geometry_key(pop))
            geometry = geometries[gkey][0]
            vrest = kern._vrest_for(spec.Vrest, post)
            try:
                plan = kern._plan_population(spec.network, post, geometry, vrest, g_eff, dt,
                                             n_lags, memo)
            except ValueError as err:
                label = labels[n] if labels is not None else f"#{n}"
                raise ValueError(f"sweep point {label} is invalid: {err}") from None
            e_pas = _e_pas_used(pop, vrest)
            state = (post, gkey, pop.radius, pop.scale, e_pas, spec.t_X,
                     np.asarray(plan["g_shift"], dtype=float).tobytes())
            per_y[post] = {"state": state, "e_pas": e_pas, "pop": pop, "plan": plan,
                           "t_X": spec.t_X}
        out.append(per_y)
    return out


def _state_groups(plans: Sequence[dict]) -> dict[tuple, dict]:
    """Per membrane state: one representative plan and, per (tau1, tau2), the union
    of segments with a non-zero weight in any point."""
    states: dict[tuple, dict] = {}
    for per_y in plans:
        for item in per_y.values():
            entry = states.setdefault(item["state"], {"item": item, "support": {}})
            for inp in item["plan"]["inputs"].values():
                taus = (inp["tau1"], inp["tau2"])
                mask = entry["support"].get(taus)
                nonzero = np.asarray(inp["weights"]) != 0.0
                entry["support"][taus] = nonzero if mask is None else (mask | nonzero)
    return states


def choose_method(method: str, plans: Sequence[dict], specs: Sequence[PointSpec],
                  geometries: Mapping[str, tuple[Any, bool]], prep: Mapping[str, Any]) -> str:
    """``"superposition"`` or ``"simulate"`` for ``method`` in auto/superposition/simulate.

    The superposition is valid only if every cell membrane is linear; ``"auto"``
    takes it when its estimated cost (cells + unit-response simulations per membrane
    state) is below that of simulating every point.
    """
    if method == "simulate":
        return "simulate"
    nonlinear = [key for key, (_, linear) in geometries.items() if not linear]
    if nonlinear:
        if method == "superposition":
            raise ValueError("method='superposition' needs linear (passive) membranes; the "
                             f"cells {nonlinear} have other mechanisms. Use method='simulate' "
                             "or 'auto'")
        return "simulate"
    if method == "superposition":
        return "superposition"
    states = _state_groups(plans)
    fast = sum(CELL_COST + sum(int(m.sum()) for m in entry["support"].values())
               for entry in states.values())
    full = sum(CELL_COST + len(item["plan"]["inputs"])
               for per_y in plans for item in per_y.values())
    return "superposition" if fast < full else "simulate"


# --------------------------------------------------------------------------------------
# the fast path
# --------------------------------------------------------------------------------------
def unit_response_task(pop: Population, dt: float, e_pas: float | None, g_shift: np.ndarray,
                       named: Mapping[str, Any], n_positions: int, seed: int, tau: float,
                       t_X: float, groups: Sequence[tuple[float, float, np.ndarray]]
                       ) -> list[np.ndarray]:
    """Worker task: probe-mapped unit responses of one membrane state.

    Returns, per ``(tau1, tau2, support)`` group, ``P`` of shape
    ``(n_channels, support.size, n + 1)``: ``P[:, k]`` is the probe signal at lags
    0..n after a unit-weight (1 nA) synapse on segment ``support[k]`` fires.
    """
    from xkernels.engine.cells import LinearisedCell

    out = []
    with NEURON_LOCK, LinearisedCell(pop.cell, pop, dt, e_pas) as cell:
        cell.shift_g_pas(g_shift)
        matrix = kern.probes_matrix(named, cell.geometry, pop, n_positions, seed)
        nseg = cell.geometry.nseg
        for tau1, tau2, support in groups:
            P = None
            for k, seg in enumerate(support):
                unit = np.zeros(nseg)
                unit[seg] = 1.0
                response = matrix @ cell.synaptic_response(unit, tau1, tau2, tau, t_X)
                if P is None:
                    P = np.empty((matrix.shape[0], len(support), response.shape[-1]))
                P[:, k] = response
            out.append(P)
    return out


def run_superposition(runner, specs: Sequence[PointSpec], plans: Sequence[dict],
                      prep: Mapping[str, Any], options: Mapping[str, Any], *,
                      progress: bool | None = None
                      ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, built by superposition.

    The unit responses of every membrane state are simulated first (in the runner's
    workers); the points are then assembled in batches by linear algebra.  The
    yielded array (shape ``(len(points), *prep["shape"])``) is reused by the next
    batch: copy what you keep.
    """
    from xkernels.sweeps.driver import SECONDS_PER_CELL, SECONDS_PER_SIMULATION, _progress

    states = _state_groups(plans)
    keys = list(states)
    arguments, groups_of = [], {}
    for key in keys:
        item = states[key]["item"]
        groups = [(t1, t2, np.flatnonzero(mask))
                  for (t1, t2), mask in states[key]["support"].items() if mask.any()]
        groups_of[key] = groups
        arguments.append((item["pop"], prep["attrs"]["dt"], item["e_pas"],
                          item["plan"]["g_shift"], prep["named"], options["n_positions"],
                          options["seed"], prep["attrs"]["tau_max"], item["t_X"], groups))
    seconds = sum(SECONDS_PER_CELL + SECONDS_PER_SIMULATION * sum(g[2].size for g in groups)
                  for groups in groups_of.values())
    assembler = _Assembler(prep, options["fir"])
    with _progress(len(keys), progress, "unit responses") as bar:
        for i, result in runner.imap_unordered(unit_response_task, arguments, seconds):
            for (t1, t2, support), P in zip(groups_of[keys[i]], result):
                assembler.add_responses((keys[i], t1, t2), support, P)
            bar.update(1)
    for start in range(0, len(plans), BATCH_POINTS):
        batch = list(range(start, min(start + BATCH_POINTS, len(plans))))
        yield batch, assembler.assemble(batch, plans)


class _Assembler:
    """Builds kernels from probe-mapped unit responses in the frequency domain.

    For a response ``r`` (lags 0..n) and a delay filter ``h`` (lags -n..n) the
    delay-smeared signal at lags 0..n is entries n..2n of their linear convolution;
    a circular convolution of length L >= 2n + 1 gives the same entries, so the
    unit responses are transformed once (length L) and each kernel costs one
    weighted sum, one product with the filter's transform and one inverse FFT.  Then,
    as :func:`xkernels.linearisation.finish_kernel`: the value at lag 0 is
    subtracted, negative lags are zero (or cut with ``fir``).
    """

    def __init__(self, prep: Mapping[str, Any], fir: bool) -> None:
        from scipy import fft

        self._fft = fft
        self.prep = prep
        self.fir = fir
        self.n = prep["n_lags"]
        self.L = fft.next_fast_len(2 * self.n + 1, real=True)
        self.responses: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.filters: dict[int, np.ndarray] = {}
        self.buffer: np.ndarray | None = None
        self.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)

    def add_responses(self, key: tuple, support: np.ndarray, P: np.ndarray) -> None:
        """Register unit responses ``P`` (n_channels, support.size, n + 1)."""
        n_ch, n_sup, _ = P.shape
        spectra = self._fft.rfft(P, n=self.L, axis=-1, workers=self.workers)
        self.responses[key] = (support, spectra.transpose(1, 0, 2).reshape(n_sup, -1))

    def _filter(self, h_delay: np.ndarray) -> np.ndarray:
        if id(h_delay) not in self.filters:
            self.filters[id(h_delay)] = self._fft.rfft(h_delay, n=self.L)
        return self.filters[id(h_delay)]

    def assemble(self, batch: Sequence[int], plans: Sequence[dict]) -> np.ndarray:
        """Kernels of the points ``batch``, shape (len(batch), *prep["shape"])."""
        X, Y, shape = self.prep["X"], self.prep["Y"], self.prep["shape"]
        jobs: dict[tuple, int] = {}
        job_data: list[tuple] = []
        where: list[tuple[int, int, int, int]] = []
        for b, k in enumerate(batch):
            for j, post in enumerate(Y):
                item = plans[k][post]
                for pre, inp in item["plan"]["inputs"].items():
                    weights = np.asarray(inp["weights"], dtype=float)
                    rkey = (item["state"], inp["tau1"], inp["tau2"])
                    key = (rkey, weights.tobytes(), id(inp["h_delay"]))
                    if key not in jobs:
                        jobs[key] = len(job_data)
                        job_data.append((rkey, weights, inp["h_delay"]))
                    where.append((b, X.index(pre), j, jobs[key]))
        by_response: dict[tuple, list[int]] = {}
        for job, (rkey, _, _) in enumerate(job_data):
            by_response.setdefault(rkey, []).append(job)
        n_tau = shape[-1]
        kernels = np.zeros((len(job_data), shape[2], n_tau))
        n = self.n
        for rkey, members in by_response.items():
            if rkey not in self.responses:  # every weight of this group is zero
                continue
            support, spectra = self.responses[rkey]
            W = np.stack([job_data[m][1][support] for m in members])
            signal = (W @ spectra).reshape(len(members), shape[2], -1)
            signal *= np.stack([self._filter(job_data[m][2]) for m in members])[:, None, :]
            smeared = self._fft.irfft(signal, n=self.L, axis=-1,
                                      workers=self.workers)[..., n:2 * n + 1]
            kernels[members] = lin.window_kernel(smeared, self.fir)
        if self.buffer is None or self.buffer.shape[0] != len(batch):
            self.buffer = np.zeros((len(batch), *shape))
        else:
            self.buffer[...] = 0.0
        for b, i, j, job in where:
            self.buffer[b, i, j] = kernels[job]
        return self.buffer

"""Superposition fast path of parameter sweeps.

With a linear (passive) membrane and current-based ``Exp2SynI`` synapses a kernel is a
weighted sum of unit responses (:mod:`xkernels.engine.superposition`): the weight,
Vrest (where it does not set the leak reversal), placement, probability, multapses and
sizes enter only through the per-segment weights, and the delay only through the delay
filter.  Everything that defines the cell's membrane -- the cell and its placement,
the leak shift g_eff adds (which depends on weights, rates, placement... of every input
of Y), the leak reversal potential when Vrest sets it, t_X -- forms the *membrane
state* key.  The unit responses are simulated once per (Y, membrane state, tau1, tau2)
in a worker; every point is then one matrix product and one delay convolution.  The
keys are exact (byte equality of the leak shift), so points never share responses they
should not: the path is valid for any sweep over linear membranes, and
:func:`choose_method` takes it when it is cheaper.

With ``averaging="depth"`` a point's weights are those of every depth node concatenated
(node-major) and the unit responses are mapped by every node's probe matrix, when the
membrane is the same at every node (no depth-dependent g_eff).

The points and their membrane states come from :mod:`xkernels.sweeps.planning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from xkernels.engine.cells import Geometry
from xkernels.engine.depth_average import depth_matrices
from xkernels.engine.kernels import probes_matrix
from xkernels.engine.plans import KernelPlan
from xkernels.engine.superposition import Assembler, supports, unit_responses
from xkernels.runtime import (
    SECONDS_PER_CELL,
    SECONDS_PER_SIMULATION,
    Runner,
    progress_bar,
)
from xkernels.sweeps.planning import CellPlan, PointPlan, geometry_key

#: Cost of building a cell and its probe matrix, in units of one short simulation
#: (used to choose between the superposition and full simulations).
CELL_COST = 10.0
#: Points assembled per batch of linear algebra.
BATCH_POINTS = 128


def _state_groups(plans: Sequence[PointPlan]
                  ) -> dict[tuple, tuple[CellPlan, dict[tuple[float, float], np.ndarray]]]:
    """Per membrane state: one representative cell plan and, per (tau1, tau2), the
    weight indices that are non-zero in any point (:func:`supports`)."""
    members: dict[tuple, list[CellPlan]] = {}
    for per_y in plans:
        for item in per_y.values():
            members.setdefault(item.state, []).append(item)
    return {state: (items[0], supports([item.plan for item in items]))
            for state, items in members.items()}


def _simulations(item: CellPlan, support: Mapping[tuple[float, float], np.ndarray]) -> int:
    """Unit responses to simulate for a membrane state: distinct segments over nodes."""
    nseg = np.asarray(item.plan.g_shift).size
    return sum(np.unique(idx % nseg).size for idx in support.values())


def _not_superposable(plan: KernelPlan, plans: Sequence[PointPlan],
                      geometries: Mapping[tuple, tuple[Geometry, bool]]
                      ) -> tuple[list[str], list[str] | None]:
    """Why the superposition does not apply to these points (an empty list if it does),
    and the option changes that make it apply (None if no option does: cells with
    active mechanisms)."""
    options = plan.options
    reasons, fixes = [], []
    if any(mode != "as-is" for mode in plan.linearisation.values()):
        reasons.append("membranes simulated as they are (linearisation 'as-is'), got "
                       f"linearisation={options.linearisation!r}")
        fixes.append("linearisation='as-is'")
    if options.operating_point != "rest":
        reasons.append("synapses linearised at one potential known before simulating "
                       "(operating_point 'rest'), got "
                       f"operating_point={options.operating_point!r}")
        fixes.append("operating_point='rest'")
    varying = sorted({post for per_y in plans for post, item in per_y.items()
                      if item.state is None})
    if varying:
        reasons.append("a membrane that does not change with depth; with "
                       "averaging='depth' and g_eff=True the leak shift of populations "
                       f"{varying} depends on the depth of the cell")
        fixes.append("either averaging='reference' or g_eff=False")
    nonlinear = sorted({post for per_y in plans for post, item in per_y.items()
                        if not geometries[geometry_key(item.population)][1]})
    if nonlinear:
        reasons.append("linear (passive) membranes; the cells of populations "
                       f"{nonlinear} have other mechanisms")
    return reasons, (fixes if not nonlinear else None)


def linear_cells(plan: KernelPlan, geometries: Mapping[tuple, tuple[Any, bool]]
                  ) -> frozenset:
    """Geometry keys of the cells whose kernels come from the linear solver without
    NEURON (passive cells, solver not ``"neuron"``, linearisation ``"as-is"`` or
    ``"passive"``): their points are linear algebra, cheap to compute one by one.

    Parameters
    ----------
    plan : KernelPlan
        The base computation (solver, linearisation).
    geometries : Mapping
        Geometry key -> ``(geometry, is_linear)``.

    Returns
    -------
    frozenset
        The geometry keys.
    """
    if any(plan.options.solver_of(post) == "neuron" or mode not in ("as-is", "passive")
           for post, mode in plan.linearisation.items()):
        return frozenset()
    return frozenset(key for key, (_, linear) in geometries.items() if linear)


def choose_method(method: str, plan: KernelPlan, plans: Sequence[PointPlan],
                  geometries: Mapping[tuple, tuple[Geometry, bool]]) -> str:
    """``"superposition"`` or ``"simulate"`` for ``method`` in auto/superposition/simulate.

    The superposition is valid only for membranes simulated ``"as-is"`` with synapses
    linearised at rest, every cell membrane linear and, with depth averaging, the same
    at every depth node; ``"auto"`` takes it when its estimated cost (cells +
    unit-response simulations per membrane state) is below that of simulating every
    point.

    Parameters
    ----------
    method : {"auto", "superposition", "simulate"}
        The user's choice.
    plan : KernelPlan
        The base computation (its options and linearisation).
    plans : sequence of PointPlan
        The planned points (:func:`xkernels.sweeps.planning.plan_points`).
    geometries : Mapping
        Geometry key -> ``(geometry, is_linear)``
        (:func:`xkernels.sweeps.planning.collect_geometries`).

    Returns
    -------
    str
        ``"superposition"`` or ``"simulate"``.

    Raises
    ------
    ValueError
        ``method="superposition"`` where the superposition does not apply.

    Warns
    -----
    UserWarning
        ``method="auto"`` where the superposition does not apply to more than one
        point and the points need NEURON (not every cell computed by the linear
        solver): every point is simulated; the message says why and names the options
        that bring the fast path back.
    """
    if method == "simulate":
        return "simulate"
    reasons, fixes = _not_superposable(plan, plans, geometries)
    if reasons:
        needs = "; and ".join(reasons)
        if method == "superposition":
            raise ValueError(f"method='superposition' needs {needs}; use "
                             "method='simulate' or 'auto'")
        cheap = set(geometries) <= linear_cells(plan, geometries)  # no NEURON per point
        if len(plans) > 1 and not cheap:
            remedy = ("no option makes it apply to these cells" if fixes is None else
                      "pass " + " and ".join(fixes) + " to use it (LFPykernels' "
                      "approximation where it changes the kernels)")
            warnings.warn(f"sweep: simulating every point ({len(plans)}): the "
                          f"superposition fast path needs {needs}; {remedy}",
                          UserWarning, stacklevel=4)
        return "simulate"
    if method == "superposition":
        return "superposition"
    states = _state_groups(plans)
    fast = sum(CELL_COST + _simulations(*entry) for entry in states.values())
    full = sum(CELL_COST + len(item.plan.inputs) * item.nodes
               for per_y in plans for item in per_y.values())
    return "superposition" if fast < full else "simulate"


# --------------------------------------------------------------------------------------
# the fast path
# --------------------------------------------------------------------------------------
def unit_response_task(item: CellPlan, plan: KernelPlan,
                       groups: Sequence[tuple[float, float, np.ndarray]]) -> list[np.ndarray]:
    """Worker task: probe-mapped unit responses of one membrane state.

    Parameters
    ----------
    item : CellPlan
        A cell of the membrane state (population, leak reversal potential Vrest sets,
        leak shift, ``t_X``).
    plan : KernelPlan
        The base computation (probes, options, lag grid).
    groups : sequence of (tau1, tau2, support)
        Synapse time constants (ms) and the segments to respond to (with
        ``averaging="depth"``: indices ``n * nseg + segment`` of (depth node, segment)).

    Returns
    -------
    list of ndarray
        Per group, ``P`` of shape ``(n_channels, support.size, n + 1)``: ``P[:, k]`` is
        the probe signal at lags 0..n after a unit-weight (1 nA) synapse on segment
        ``support[k]`` fires (mapped by the probe matrix of its depth node).
    """
    from xkernels.engine.cells import LinearisedCell

    pop, options = item.population, plan.options
    with LinearisedCell(pop.cell, pop, options.dt, item.e_pas,
                        options.solver_of(pop.name)) as cell:
        cell.shift_g_pas(item.plan.g_shift)
        if options.averaging == "depth":
            matrices = depth_matrices(plan.probes, cell.geometry, pop,
                                      options.depth_nodes).matrices
        else:
            matrices = probes_matrix(plan.probes, cell.geometry, pop, options.n_positions,
                                     options.seed)[None]
        return unit_responses(cell, groups, matrices, plan.grid.n_response, item.t_X)


def run_superposition(runner: Runner, plans: Sequence[PointPlan], plan: KernelPlan, *,
                      progress: bool | None = None
                      ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, built by superposition.

    The unit responses of every membrane state are simulated first (in the runner's
    workers); the points are then assembled in batches by linear algebra.

    Parameters
    ----------
    runner : Runner
        Where the unit responses are simulated.
    plans : sequence of PointPlan
        The planned points (:func:`xkernels.sweeps.planning.plan_points`).
    plan : KernelPlan
        The base computation (probes, time options, kernel shape).
    progress : bool or None
        Progress bar over the membrane states (default: when more than 10).

    Yields
    ------
    tuple
        ``(point numbers, kernels)``, kernels of shape ``(len(points), *plan.shape)``.
    """
    states = _state_groups(plans)
    keys = list(states)
    groups = {key: [(t1, t2, idx) for (t1, t2), idx in states[key][1].items() if idx.size]
              for key in keys}
    seconds = sum(SECONDS_PER_CELL + SECONDS_PER_SIMULATION * _simulations(*states[key])
                  for key in keys)
    assembler = Assembler(plan.grid)
    arguments = [(states[key][0], plan, groups[key]) for key in keys]
    with progress_bar(len(keys), progress, "unit responses") as bar:
        for i, result in runner.imap_unordered(unit_response_task, arguments, seconds):
            for (t1, t2, support), P in zip(groups[keys[i]], result):
                assembler.add_responses((keys[i], t1, t2), support, P)
            bar.update(1)
    for start in range(0, len(plans), BATCH_POINTS):
        batch = list(range(start, min(start + BATCH_POINTS, len(plans))))
        yield batch, _assemble(assembler, plan, [plans[k] for k in batch])


def _assemble(assembler: Assembler, plan: KernelPlan, points: Sequence[PointPlan]
              ) -> np.ndarray:
    """Kernels of ``points``, shape (len(points), *plan.shape): each distinct (membrane
    state, time constants, weights, delay filter) assembled once."""
    jobs: dict[tuple, int] = {}
    job_data: list[tuple] = []
    where: list[tuple[int, int, int, int]] = []
    for b, per_y in enumerate(points):
        for j, post in enumerate(plan.Y):
            item = per_y[post]
            for pre, inp in item.plan.inputs.items():
                weights = np.asarray(inp.weights, dtype=float)
                rkey = (item.state, inp.tau1, inp.tau2)
                key = (rkey, weights.tobytes(), id(inp.h_delay))
                if key not in jobs:
                    jobs[key] = len(job_data)
                    job_data.append((rkey, weights, inp.h_delay))
                where.append((b, plan.X.index(pre), j, jobs[key]))
    kernels = assembler.kernels(job_data, plan.shape[2])
    out = np.zeros((len(points), *plan.shape))
    for b, i, j, job in where:
        out[b, i, j] = kernels[job]
    return out

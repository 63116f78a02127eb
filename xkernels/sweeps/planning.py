"""Planning sweep points on their cells: every point validated before anything runs.

The cells of the distinct postsynaptic populations are built once (in workers) for
their geometry and linearity; every point's inputs are then planned on that geometry
(:func:`xkernels.engine.plans.plan_population`, so a placement or Vrest that does not
fit the cell fails here), and each postsynaptic cell of each point gets its *membrane
state* key: everything that defines its membrane (cell, placement, leak shift, leak
reversal, t_X).  Points with equal keys have the same membrane, which the
superposition fast path exploits.

With ``averaging="depth"`` each postsynaptic cell is planned at every depth node
(:func:`xkernels.engine.depth_average.node_plans`); its plan then holds the node weights
concatenated (node-major, ``N * nseg`` per input) and the leak shift shared by the
nodes.  A cell whose leak shift differs between nodes (g_eff with depth-dependent
placement) has no membrane state (``state`` None): the fast path does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from xkernels.engine.cells import Geometry
from xkernels.engine.depth_average import node_plans, shared_membrane
from xkernels.engine.plans import InputPlan, KernelPlan, PopulationPlan, plan_population
from xkernels.probes.depth import depth_nodes
from xkernels.runtime import SECONDS_PER_CELL, Runner
from xkernels.spec.network import Population
from xkernels.spec.options import leak_reversal_of
from xkernels.sweeps.points import PointSpec


@dataclass(frozen=True, eq=False)
class CellPlan:
    """One postsynaptic population of one sweep point, planned on its cell.

    Attributes
    ----------
    population : Population
        The point's postsynaptic population.
    state : tuple or None
        Membrane-state key: points with equal keys have identical membranes; None when
        the membrane differs between depth nodes.
    e_pas : float or None
        Leak reversal potential (mV) that Vrest sets for the cell (None if none).
    t_X : float
        The point's ``t_X`` (ms).
    plan : PopulationPlan
        Leak shift and inputs (with ``nodes > 1``: the weights of every depth node,
        concatenated node-major).
    nodes : int
        Depth nodes the cell is evaluated at (1 with ``averaging="reference"`` or a
        population ``scale`` of 0).
    """

    population: Population
    state: tuple | None
    e_pas: float | None
    t_X: float
    plan: PopulationPlan
    nodes: int = 1


#: A planned sweep point: postsynaptic population -> its cell plan.
PointPlan = Mapping[str, CellPlan]


# --------------------------------------------------------------------------------------
# cells: geometry and linearity, computed in workers
# --------------------------------------------------------------------------------------
def geometry_key(pop: Population) -> tuple:
    """Everything the cell geometry and membrane mechanisms of ``pop`` depend on.

    Parameters
    ----------
    pop : Population
        A postsynaptic population.

    Returns
    -------
    tuple
        Its (hashable) cell specification, ``loc`` and ``rotation``.
    """
    return (pop.cell, pop.loc, pop.rotation)


def geometry_task(pop: Population, dt: float) -> tuple[Geometry, bool]:
    """Worker task: the cell geometry of ``pop`` and whether its membrane is linear.

    Parameters
    ----------
    pop : Population
        A postsynaptic population.
    dt : float
        Time step (ms).

    Returns
    -------
    tuple
        ``(geometry, is_linear)``.
    """
    from xkernels.engine.cells import LinearisedCell

    with LinearisedCell(pop.cell, pop, dt, 0.0) as cell:
        return cell.geometry, cell.is_linear()


def collect_geometries(runner: Runner, specs: Sequence[PointSpec], Y: Sequence[str],
                       dt: float) -> dict[tuple, tuple[Geometry, bool]]:
    """Geometry and linearity of every distinct postsynaptic cell of the points.

    Parameters
    ----------
    runner : Runner
        Where the cells are built.
    specs : sequence of PointSpec
        The points.
    Y : sequence of str
        The postsynaptic populations.
    dt : float
        Time step (ms).

    Returns
    -------
    dict
        :func:`geometry_key` -> ``(geometry, is_linear)``.
    """
    pops: dict[tuple, Population] = {}
    for pop in dict.fromkeys(spec.network.population(post) for spec in specs for post in Y):
        pops.setdefault(geometry_key(pop), pop)
    keys = list(pops)
    results = runner.imap_unordered(geometry_task, [(pops[k], dt) for k in keys],
                                    len(keys) * SECONDS_PER_CELL)
    return {keys[i]: result for i, result in results}


# --------------------------------------------------------------------------------------
# planning: validation of every point, membrane states, per-segment weights
# --------------------------------------------------------------------------------------
def _e_pas_used(pop: Population, vrest: float | np.ndarray) -> float | None:
    """The leak reversal potential Vrest sets for ``pop`` (None if it sets none)."""
    bio = pop.cell.biophysics
    if isinstance(bio, Mapping) and bio.get("e_pas") is None:
        return leak_reversal_of(vrest)
    return None


def plan_points(specs: Sequence[PointSpec], geometries: Mapping[tuple, tuple[Geometry, bool]],
                plan: KernelPlan) -> list[PointPlan]:
    """Plan (and so validate) every point on its cells' geometry.

    Parameters
    ----------
    specs : sequence of PointSpec
        The points.
    geometries : Mapping
        From :func:`collect_geometries`.
    plan : KernelPlan
        The base computation (lag grid, postsynaptic populations).

    Returns
    -------
    list of PointPlan
        Per point: postsynaptic population -> :class:`CellPlan`.

    Raises
    ------
    ValueError
        If a point's placement or Vrest does not fit its cell (names the point).
    """
    memo: dict = {}
    gkeys: dict[Population, tuple] = {}
    out = []
    for spec in specs:
        per_y = {}
        options = spec.options
        for post in plan.Y:
            pop = spec.network.population(post)
            gkey = gkeys.setdefault(pop, geometry_key(pop))
            geometry = geometries[gkey][0]
            vrest = options.vrest_of(post)
            try:
                pop_plan = plan_population(spec.network, post, geometry, vrest, options.g_eff,
                                           plan.grid, memo)
            except ValueError as err:
                raise ValueError(f"sweep point {spec.values} is invalid: {err}") from None
            e_pas = _e_pas_used(pop, vrest)
            nodes, shared = 1, True
            if options.averaging == "depth":
                offsets = depth_nodes(pop.scale, options.depth_nodes).offsets
                per_node = node_plans(spec.network, post, geometry, plan, offsets, memo)
                nodes, shared = len(per_node), shared_membrane(per_node)
                pop_plan = _stacked(per_node)
            state = (post, gkey, pop.radius, pop.scale, e_pas, options.t_X, nodes,
                     np.asarray(pop_plan.g_shift, dtype=float).tobytes()) if shared else None
            per_y[post] = CellPlan(population=pop, state=state, e_pas=e_pas, t_X=options.t_X,
                                   plan=pop_plan, nodes=nodes)
        out.append(per_y)
    return out


def _stacked(per_node: Sequence[PopulationPlan]) -> PopulationPlan:
    """The node plans of one cell as one plan: weights concatenated node-major, the first
    node's leak shift."""
    first = per_node[0]
    inputs = {pre: InputPlan(weights=np.concatenate([np.asarray(p.inputs[pre].weights)
                                                     for p in per_node]),
                             tau1=inp.tau1, tau2=inp.tau2, h_delay=inp.h_delay)
              for pre, inp in first.inputs.items()}
    return PopulationPlan(g_shift=first.g_shift, inputs=inputs)

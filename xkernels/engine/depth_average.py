"""Population averaging of kernels: ``averaging="reference"`` or ``"depth"``.

``"reference"`` (LFPykernels 0.2.0, :mod:`xkernels.compat`): one cell at the population's
mean depth ``loc``, its synapse densities widened by the population's depth spread
``scale``; only the probe is averaged over cell positions.

``"depth"``: the soma depth ``loc + s`` of a postsynaptic cell is normal,
``s ~ N(0, scale²)``, and synapse placement is defined in absolute depth, so a deeper
cell gets its synapses on other parts of its dendrites.  The kernel is the population
average ``E[M(s) I(s)]`` of the probe matrix times the membrane currents of a cell at
depth ``s``:

* the cell is evaluated at ``N`` Gauss–Hermite nodes ``s_n`` (``depth_nodes``): placed
  there, its synapses placed there by the densities as given (not widened), its g_eff
  leak shift computed from that placement;
* the probe is averaged laterally over the population disc and integrated over depth
  exactly against the polynomial interpolating the currents between the nodes
  (:func:`xkernels.probes.probe_depth_rule`): the kernel is ``Σ_n Q_n I(s_n)``.

Cost.  Where the membrane is the same at every node (no g_eff, or a g_eff shift that
does not change with depth) and linear (passive), the currents of every node are
superposed from per-segment unit responses (one simulation per segment with synapses,
shared by the nodes and by presynaptic populations with the same synapse time
constants) when that takes fewer simulations than one per node and presynaptic
population; otherwise (always with a depth-dependent g_eff) each node is simulated.

A population with ``scale`` 0 has one node at ``s = 0``: its kernels are those of
``"reference"`` (contact probes are then averaged over the disc deterministically).

Membrane linearisation (:mod:`xkernels.engine.membrane`): with ``"as-is"`` one cell
serves every node (its leak shifted from node to node); in the other modes every node
gets its own cell, linearised with that node's g_eff shift, and conductance-based
synapses are linearised around that node's resting state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from xkernels import probes as probe_api
from xkernels.checks import check_choice
from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry, LinearisedCell
from xkernels.engine.membrane import linearised
from xkernels.engine.plans import KernelPlan, PopulationPlan, cell_memo, plan_population
from xkernels.engine.superposition import supports
from xkernels.probes.depth import DepthRule
from xkernels.spec.network import Network, Population

__all__ = ["METHODS", "check_depth_probes", "depth_kernels", "depth_matrices", "depth_rule",
           "node_plans", "shared_membrane"]


def _population_dict(pop: Population) -> dict[str, float]:
    return {"radius": pop.radius, "loc": pop.loc, "scale": pop.scale}


def check_depth_probes(network: Network, named: Mapping[str, Any]) -> None:
    """Refuse probes that conflict with the depth averaging of a postsynaptic population.

    Parameters
    ----------
    network : Network
        The network (its postsynaptic populations' ``radius``, ``loc``, ``scale``).
    named : Mapping[str, Any]
        The probes by name.

    Raises
    ------
    ValueError
        E.g. a GaussCylinderPotential with ``sigma_z`` below a population's ``scale``
        (the message names the probe, the population and the rule).
    """
    for post in network.postsynaptic:
        pop = network.population(post)
        for name, probe in named.items():
            probe_api.check_probe_depth(probe, _population_dict(pop), f"probes[{name!r}]",
                                        f"populations[{post!r}]")


def depth_matrices(named: Mapping[str, Any], geometry: Geometry, pop: Population,
                   n_nodes: int) -> DepthRule:
    """All probes' depth rules for one population's cell, stacked along channels.

    Parameters
    ----------
    named : Mapping[str, Any]
        The probes by name, in ``probe_channel`` order.
    geometry : Geometry
        The cell at the population's depth ``loc`` (µm).
    pop : Population
        The population (``radius``, ``loc``, ``scale``, µm).
    n_nodes : int
        Depth nodes.

    Returns
    -------
    DepthRule
        Offsets (µm), weights and ``matrices`` of shape (N, n_channels, nseg).
    """
    lfpykit_geometry = geometry.to_lfpykit()
    population = _population_dict(pop)
    rules = [probe_api.probe_depth_rule(probe, lfpykit_geometry, population, n_nodes)
             for probe in named.values()]
    return DepthRule(rules[0].offsets, rules[0].weights,
                     np.concatenate([r.matrices for r in rules], axis=1))


def depth_rule(cell: Any, plan: KernelPlan, pop: Population) -> DepthRule:
    """:func:`depth_matrices` of ``cell`` (at the population's depth) for the plan's
    probes and depth nodes, kept with a cached cell
    (:func:`~xkernels.engine.plans.cell_memo`).

    Parameters
    ----------
    cell : LinearisedCell or CableCell
        The cell of ``pop``.
    plan : KernelPlan
        The computation (probes, ``depth_nodes``).
    pop : Population
        The postsynaptic population.

    Returns
    -------
    DepthRule
        As :func:`depth_matrices`.
    """
    return cell_memo(cell, plan, pop, "depth", lambda: depth_matrices(
        plan.probes, cell.geometry, pop, plan.options.depth_nodes), plan.options.depth_nodes)


def node_plans(network: Network, post: str, geometry: Geometry, plan: KernelPlan,
               offsets: np.ndarray, memo: dict | None = None,
               vrest: float | np.ndarray | None = None) -> list[PopulationPlan]:
    """The inputs (and g_eff leak shift) of the cell of ``post`` at every depth node.

    Parameters
    ----------
    network : Network
        The network specification.
    post : str
        The postsynaptic population.
    geometry : Geometry
        Its cell at the population's depth ``loc``.
    plan : KernelPlan
        The computation (g_eff, lag grid; Vrest unless ``vrest`` is given).
    offsets : ndarray
        Depth offsets of the nodes (µm).
    memo : dict, optional
        As for :func:`~xkernels.engine.plans.plan_population`.
    vrest : float or ndarray, optional
        The Vrest (mV) of ``post`` when it is not the plan's (a sweep point's own).

    Returns
    -------
    list of PopulationPlan
        One per node.
    """
    vrest = plan.vrest_by_post[post] if vrest is None else vrest
    return [plan_population(network, post, geometry, vrest, plan.options.g_eff, plan.grid,
                            memo, depth=float(s))
            for s in offsets]


def shared_membrane(plans: list[PopulationPlan]) -> bool:
    """Whether every node has the same membrane (the same g_eff leak shift)."""
    first = np.asarray(plans[0].g_shift)
    return all(np.array_equal(np.asarray(p.g_shift), first) for p in plans[1:])


#: ``method`` values of :func:`depth_kernels`.
METHODS = ("auto", "superposition", "nodes")


def depth_kernels(network: Network, post: str, plan: KernelPlan,
                  build: Callable[[], LinearisedCell], mode: str = "as-is",
                  method: str = "auto", pre: Collection[str] | None = None
                  ) -> dict[str, np.ndarray]:
    """Depth-averaged kernels of every input of ``post`` (``averaging="depth"``).

    Parameters
    ----------
    network : Network
        The network specification.
    post : str
        The postsynaptic population.
    plan : KernelPlan
        The computation.
    build : callable
        ``build()`` -> a new cell of ``post`` at the population's depth, without g_eff
        shift (the shift of each node is applied here).
    mode : str
        The membrane linearisation of ``post`` (:mod:`xkernels.engine.membrane`).
        ``"as-is"``: one cell, its leak shifted from node to node.  Other modes: a cell
        per node, linearised with the node's g_eff shift (conductance-based synapses
        around the node's resting state).
    method : {"auto", "superposition", "nodes"}
        ``"nodes"`` simulates every node and input; ``"superposition"`` superposes
        per-segment unit responses (needs a linear ``"as-is"`` membrane that is the same
        at every node); ``"auto"`` takes the superposition where valid and needing fewer
        simulations.  Both give the same kernels (to rounding).
    pre : collection of str, optional
        Simulate only the inputs of these presynaptic populations (default: all); the
        g_eff shift still counts every input.

    Returns
    -------
    dict
        Presynaptic population (those of ``pre``) -> kernel, shape
        (n_channels, n_tau).

    Raises
    ------
    ValueError
        ``method="superposition"`` where it is not valid.
    """
    check_choice("method", method, METHODS)
    pop = network.population(post)
    with build() as cell:
        geometry = cell.geometry
        rule = depth_rule(cell, plan, pop)
        memo: dict = {}
        plans = node_plans(network, post, geometry, plan, rule.offsets, memo=memo)
        if pre is not None:
            plans = [_only(p, pre) for p in plans]
        linear = cell.uses_linear_solver() if mode == "as-is" else \
            plan.options.solver_of(post) != "neuron"
        if mode == "as-is":
            signals = _superposed(cell, post, plans, rule.matrices, plan, method)
            if signals is None:
                signals = _node_signals(cell, plans, rule.matrices, plan)
    if mode != "as-is":
        if method == "superposition":
            raise ValueError("method='superposition' needs the membrane as it is "
                             f"(linearisation 'as-is'); population {post!r} has {mode!r}")
        signals = _linearised_signals(network, post, plans, rule, plan, build, mode, memo)
    out = {}
    n_ch = rule.matrices.shape[1]
    if linear:  # as the reference path of the linear solver: one batch
        sources = list(plans[0].inputs)
        zero = np.zeros((n_ch, plan.grid.n_response + 1))
        kernels = lin.finish_kernels(
            np.stack([signals.get(source, zero) for source in sources]),
            [plans[0].inputs[source].h_delay for source in sources],
            plan.grid.delay_centre, plan.grid.lags) if sources else []
        return dict(zip(sources, kernels))
    for source, inp in plans[0].inputs.items():
        response = signals.get(source, np.zeros((n_ch, plan.grid.n_response + 1)))
        out[source] = lin.finish_kernel(response, inp.h_delay, plan.grid.delay_centre,
                                        plan.grid.lags)
    return out


def _only(node: PopulationPlan, pre: Collection[str]) -> PopulationPlan:
    """``node`` with the inputs of ``pre`` only (its g_eff shift unchanged)."""
    return PopulationPlan(g_shift=node.g_shift, e_shift=node.e_shift,
                          inputs={k: v for k, v in node.inputs.items() if k in pre})


def _add(signals: dict[str, np.ndarray], pre: str, term: np.ndarray) -> None:
    signals[pre] = term if pre not in signals else signals[pre] + term


def _superposed(cell: LinearisedCell, post: str, plans: list[PopulationPlan],
                Q: np.ndarray, plan: KernelPlan, method: str) -> dict[str, np.ndarray] | None:
    """``Σ_n Q_n I_n`` per input by superposing per-segment unit responses, where
    ``method`` takes it; None where the nodes are to be simulated.

    One computation needs no batch assembly (that is the sweeps' job,
    :class:`~xkernels.engine.superposition.Assembler`): each unit response is mapped
    once through the node-weighted matrices ``Σ_n W_n[seg] Q_n``, in the time domain,
    and the delay filter is applied as for simulated nodes."""
    groups = supports(plans)
    valid = shared_membrane(plans) and cell.is_linear()
    if method == "superposition" and not valid:
        raise ValueError("method='superposition' needs a linear membrane that is the same "
                         f"at every depth node; population {post!r} has not")
    # "auto": superpose only if that simulates fewer unit responses than the nodes do
    node_simulations = sum(int(np.any(np.asarray(inp.weights) != 0.0))
                           for p in plans for inp in p.inputs.values())
    if not valid or method == "nodes" or (method == "auto" and sum(
            s.size for s in groups.values()) >= node_simulations):
        return None
    cell.shift_g_pas(plans[0].g_shift)
    signals: dict[str, np.ndarray] = {}
    for (tau1, tau2), support in groups.items():
        weights = {pre: np.stack([np.asarray(p.inputs[pre].weights) for p in plans])
                   for pre, inp in plans[0].inputs.items() if (inp.tau1, inp.tau2) == (tau1, tau2)}
        for seg in support:
            unit = np.zeros(cell.geometry.nseg)
            unit[seg] = 1.0
            imem = cell.synaptic_response(unit, tau1, tau2, plan.grid.n_response,
                                          plan.options.t_X)
            for pre, W in weights.items():
                if W[:, seg].any():
                    _add(signals, pre, lin.project(np.tensordot(W[:, seg], Q, axes=(0, 0)),
                                                   imem))
    return signals


def _node_signals(cell: LinearisedCell, plans: list[PopulationPlan], Q: np.ndarray,
                  plan: KernelPlan) -> dict[str, np.ndarray]:
    """``Σ_n Q_n I_n`` per input: one cell, its leak shifted from node to node."""
    signals: dict[str, np.ndarray] = {}
    current = np.zeros(cell.geometry.nseg)
    for n, node in enumerate(plans):
        cell.shift_g_pas(np.asarray(node.g_shift) - current)
        current = np.asarray(node.g_shift)
        for pre, inp in node.inputs.items():
            if not np.any(np.asarray(inp.weights) != 0.0):
                continue
            if cell.uses_linear_solver():
                _add(signals, pre, cell.linear_cable().projected(
                    Q[n], inp.weights, inp.tau1, inp.tau2, plan.grid.n_response))
            else:
                imem = cell.synaptic_response(inp.weights, inp.tau1, inp.tau2,
                                              plan.grid.n_response, plan.options.t_X)
                _add(signals, pre, lin.project(Q[n], imem))
    return signals


def _linearised_signals(network: Network, post: str, plans: list[PopulationPlan],
                        rule: DepthRule, plan: KernelPlan, build: Callable[[], LinearisedCell],
                        mode: str, memo: dict) -> dict[str, np.ndarray]:
    """``Σ_n Q_n I_n`` per input with a linearised membrane: a new cell per node
    (``memo``: that of the node plans, for planning the inputs at each node's rest)."""
    signals: dict[str, np.ndarray] = {}
    for n, (offset, node) in enumerate(zip(rule.offsets, plans)):
        with build() as cell, linearised(network, post, cell, plan, node, mode,
                                         depth=float(offset), memo=memo) as (membrane,
                                                                            inputs):
            for pre, inp in inputs.inputs.items():
                if pre in node.inputs and np.any(np.asarray(inp.weights) != 0.0):
                    _add(signals, pre, membrane.signal(rule.matrices[n], inp.weights,
                                                       inp.tau1, inp.tau2,
                                                       plan.grid.n_response,
                                                       plan.options.t_X))
    return signals

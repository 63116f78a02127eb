"""Parameter sweeps: one call, one DataArray with the swept parameters as leading dims.

``sweep(network, grid, probes)`` varies parameters of a network specification (any
number or string of :meth:`Network.to_dict`, addressed by a path such as
``connections[E->E].synapse.weight``) and the computation options ``Vrest`` and
``t_X`` over a grid (cartesian product, or zipped groups), and returns the kernels
with dims ``(<swept params>..., X, Y, probe_channel, tau)``.

* Every point is validated before anything is simulated: its network is
  :meth:`Network.with_values` of its values, validated as :meth:`Network.from_dict`
  validates (:class:`~xkernels.sweeps.points.PointBuilder`), and its synapse placement checked on
  the cell geometry (:mod:`xkernels.sweeps.planning`).
* Points are computed in worker processes on dask.distributed (a local cluster sized
  to the cores by default, or the user's ``Client``; :mod:`xkernels.runtime`),
  each with its own NEURON cells.
* With ``store=``, finished points are written to a Zarr sweep store at once (in
  blocks, :func:`xkernels.store.write_points`); running the same sweep again computes
  only the missing points, and running it with new values appended along some dims
  grows the store (:func:`xkernels.store.extend_sweep_store`) and computes only the
  new points.
* Where the kernel is linear in the swept parameters (the cell membrane is the same
  for many points) the :mod:`xkernels.sweeps.superposition` fast path builds every
  point from per-segment unit responses instead of simulating it; otherwise every
  point is simulated by the engine, in tasks of a few points each (fewer round trips
  to the workers, still about four tasks per worker).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.engine.kernels import prepare_kernels, simulate_values
from xkernels.engine.plans import KernelPlan
from xkernels.provenance import require_described
from xkernels.runtime import (
    SECONDS_PER_CELL,
    SECONDS_PER_LINEAR_KERNEL,
    SECONDS_PER_SIMULATION,
    Runner,
    progress_bar,
)
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.store import (
    completed_points,
    create_sweep_store,
    extend_sweep_store,
    open_kernels,
    write_points,
)
from xkernels.store.publish import locked, recover
from xkernels.sweeps.batch import CHUNK, batchable, batched_values, checked_delays
from xkernels.sweeps.grid import Axis, grid_points, parse_grid
from xkernels.sweeps.planning import PointPlan, collect_geometries, geometry_key, plan_points
from xkernels.sweeps.points import PointBuilder, PointSpec, sweep_hash, sweep_template
from xkernels.sweeps.superposition import choose_method, linear_cells, run_superposition

logger = logging.getLogger(__name__)

#: ``method`` values of :func:`sweep`.
METHODS = ("auto", "superposition", "simulate", "linear")
#: Largest number of points simulated by one task.
MAX_POINTS_PER_TASK = 8


# --------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------
def sweep(
    network: Network,
    grid: Mapping[str, Any],
    probes: Any,
    options: KernelOptions | Mapping[str, Any] | None = None,
    *,
    zipped: Sequence[Sequence[str]] | None = None,
    names: Mapping[str, str] | None = None,
    store: str | os.PathLike | None = None,
    client: Any = None,
    method: str = "auto",
    progress: bool | None = None,
    **option_kwargs: Any,
) -> xr.DataArray:
    """Kernels of every point of a parameter grid, stacked along leading sweep dims.

    Parameters
    ----------
    network : Network
        The base specification.
    grid : dict
        Parameter path -> list of values.  Paths address :meth:`Network.to_dict`
        with populations and connections by name, e.g.
        ``connections[E->E].synapse.weight`` (µS), ``populations[E].rate``
        (spikes/s), ``connections[I->E].delay.params.loc`` (ms),
        ``connections[E->E].placement.densities[0].params.loc`` (µm), and the
        options ``Vrest`` (mV) and ``t_X`` (ms).  The cartesian product is swept.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    zipped : list of lists of paths, optional
        Groups of grid parameters varied together instead of crossed; each group is
        one dim ``"<name1>__<name2>..."`` indexed 0..n-1 with each parameter's
        values as a coordinate along it.
    names : dict, optional
        Path -> dim name, replacing the readable default (``weight_E_E``,
        ``rate_E``, ``delay_loc_I_E``, ``placement_loc_E_E``, ``Vrest``...).
    options : KernelOptions or dict, optional
        Options of every point (:class:`xkernels.KernelOptions`; the base values of the
        swept options ``Vrest`` and ``t_X``), resolved once for ``network``
        (:meth:`KernelOptions.resolve`): the store, its content hash and its
        attributes hold the resolved values.  A ``linearisation`` other than
        ``"as-is"`` and ``operating_point="mean-input"`` (the default on a
        conductance-based network) rule out the superposition (the resting state
        depends on the point); with ``averaging="depth"`` (the default) it also needs
        a membrane that does not change with depth (no g_eff, or a g_eff leak shift
        equal at every depth node).  Passive cells computed by the linear solver then
        take the batched linear path (``method``), others simulate every point.  On a
        current-based network of passive cells the defaults take the superposition.
    store : str or path, optional
        Zarr sweep store.  Each finished point is written at once; an existing
        store of the same sweep is resumed (only missing points are computed).  A
        store of the same sweep with fewer values along some dims is grown: new
        values must be appended after the stored ones (same order), and only the
        new points are computed.  A store of a different sweep raises ValueError
        and is left untouched.  Processes growing or resuming the same store take
        turns (a file lock next to it): a second one waits, then computes only what
        the first left undone.
    client : None, "sync", str or dask.distributed.Client
        Where to compute: ``None`` starts a local cluster of one worker process
        per core; a Client or scheduler address uses that cluster; ``"sync"``
        computes in this process (for debugging).
    method : {"auto", "superposition", "simulate"}
        ``"simulate"`` runs :func:`compute_kernels` for every point.
        ``"superposition"`` builds points from per-segment unit responses computed
        once per (Y, membrane state); valid only for linear (passive) membranes
        simulated ``"as-is"``.
        ``"linear"`` computes the points together with the batched linear solver
        (:func:`xkernels.kernel_batch`'s path: every postsynaptic cell passive and
        computed without NEURON, any averaging and operating point; swept synaptic
        weights, time constants, reversal potentials, delays and rates), in this
        process.
        ``"auto"`` picks the superposition where it is valid and cheaper, else the
        linear path where it applies; otherwise (for more than one point) it simulates
        every point and warns once, naming the options that would make the
        superposition valid.
    progress : bool or None
        Show a progress bar (default: when more than 10 tasks run).
    **option_kwargs
        Fields of :class:`xkernels.KernelOptions` replacing those of ``options``.

    Returns
    -------
    xarray.DataArray
        Dims ``(<sweep dims>..., X, Y, probe_channel, tau)``; sweep coordinates carry
        the values (``path`` in their attrs), attrs the base specification,
        ``sweep_paths`` (dim -> path, JSON) and a content hash of base and grid.
        In memory, or lazily opened from ``store``.

    Raises
    ------
    ValueError, TypeError
        Unknown parameter paths (the message lists the valid ones), empty or
        non-finite value lists, values making any point's specification invalid, or
        a store holding another sweep -- all before anything is simulated or written.

    Warns
    -----
    UserWarning
        ``method="auto"`` where the superposition does not apply: every point is
        simulated (once per call, with the options that bring the fast path back).

    Examples
    --------
    >>> import xkernels
    >>> S = sweep(xkernels.Network.example(),
    ...           {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...           {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...           client="sync", progress=False, store="sweep.zarr")
    >>> S.dims
    ('weight_E_E', 'X', 'Y', 'probe_channel', 'tau')
    >>> xkernels.completed_points("sweep.zarr")
    array([ True,  True])
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    options = KernelOptions.of(options, **option_kwargs)
    plan = prepare_kernels(network, probes, options)  # resolves "auto" for network
    runner = Runner(client)
    axes = parse_grid(network, grid, zipped=zipped, names=names)
    builder = PointBuilder(network, axes, plan.options)
    indices, specs = [], []
    for index, values in grid_points(axes):
        indices.append(index)
        specs.append(builder.build(values))
    template = sweep_template(plan, axes, sweep_hash(plan, axes))
    path = None if store is None else Path(store)
    if path is not None:
        require_described(plan.probe_defs, f"sweep store {str(path)!r}")
    # one process at a time grows or resumes a store (others wait): no point is
    # computed twice, no growth races another process's writes
    with contextlib.nullcontext() if path is None else locked(path):
        try:
            done = np.zeros(len(specs), dtype=bool)
            if path is not None:
                recover(path)  # a store a killed writer moved aside comes back first
                if path.exists():
                    done = _check_store(path, template).reshape(-1)
            todo = [k for k in range(len(specs)) if not done[k]]
            if not todo:
                logger.info("sweep: all %d points are already in the store", len(specs))
            values_out = None if path is not None else np.empty(template.shape)
            if todo:
                _compute(runner, network, plan, template, axes, [indices[k] for k in todo],
                         [specs[k] for k in todo], path, values_out, method, progress)
        finally:
            runner.close()
    if path is not None:
        return open_kernels(path)
    return template.copy(data=values_out)


def _check_store(path: Path, template: xr.DataArray) -> np.ndarray:
    """Check that an existing store holds this sweep, or grow it to this sweep (new
    values appended along some dims); return its done mask."""
    try:
        added = extend_sweep_store(path, template)
    except ValueError as err:
        raise ValueError(f"store {str(path)!r} holds a different sweep (other base "
                         f"specification, options or grid); nothing was written. {err}") from None
    if added:
        logger.info("sweep: store grown by %s new values", added)
    return np.asarray(completed_points(path), dtype=bool)


def _compute(runner: Runner, network: Network, plan: KernelPlan, template: xr.DataArray,
             axes: Sequence[Axis], indices: Sequence[tuple[int, ...]],
             specs: Sequence[PointSpec], path: Path | None, values_out: np.ndarray | None,
             method: str, progress: bool | None) -> None:
    """Plan, then compute the points ``specs`` (at grid positions ``indices``) into
    ``values_out`` or the store."""
    geometries = collect_geometries(runner, specs, plan.Y, plan.options.dt)
    _check_solver(plan, specs, geometries)
    linear = method in ("auto", "linear") and linear_applies(network, plan, axes, specs)
    if method == "linear" and not linear:
        raise ValueError("method='linear' needs every postsynaptic cell passive and "
                         "computed by the linear solver (solver 'linear' or 'auto', "
                         "linearisation 'as-is' or 'passive') and only synaptic weights, "
                         "time constants, reversal potentials, delays and rates swept; "
                         "use method='simulate' or 'auto'")
    at_rest = plan.options.operating_point == "rest" and all(
        mode == "as-is" for mode in plan.linearisation.values())
    if linear and (method == "linear" or not at_rest):  # no superposition to weigh
        _check_linear_points(specs, geometries, plan)   # validates every point
        chosen = "linear"
    else:
        plans = plan_points(specs, geometries, plan)  # validates every point
        chosen = choose_method(method, plan, plans, geometries)
        if chosen == "simulate" and linear:
            chosen = "linear"
    logger.info("sweep: computing %d of %d points by %s", len(specs),
                np.prod([a.size for a in axes]), chosen)
    if path is not None:
        create_sweep_store(path, template, exist_ok=True)
    if chosen == "superposition":
        batches = run_superposition(runner, plans, plan, progress=progress)
    elif chosen == "linear":
        batches = run_linear(specs, plan)
    else:
        batches = run_simulations(runner, specs, plans, plan.probes,
                                  linear_cells(plan, geometries))
    with progress_bar(len(specs), progress, f"sweep ({chosen})") as bar:
        for batch, values in batches:
            if path is not None:
                _store_batch(path, template, axes, [indices[j] for j in batch], values)
            else:
                for j, point_values in zip(batch, values):
                    values_out[indices[j]] = point_values
            bar.update(len(batch))


def _check_linear_points(specs: Sequence[PointSpec],
                         geometries: Mapping[tuple, tuple[Any, bool]], plan: KernelPlan) -> None:
    """Validate the points of the linear path before anything is computed: they differ
    only in synaptic parameters, delays and rates (:func:`linear_applies`), so the first
    point's planning checks every placement and Vrest, and each point's delay
    distributions are checked on the lag grid
    (:func:`xkernels.sweeps.batch.checked_delays`)."""
    plan_points(specs[:1], geometries, plan)
    checked_delays([spec.network for spec in specs], plan,
                   [lambda spec=spec: f"sweep point {spec.values} is invalid"
                    for spec in specs])


def linear_applies(network: Network, plan: KernelPlan, axes: Sequence[Axis],
                   specs: Sequence[PointSpec]) -> bool:
    """Whether the points can be computed together by the batched linear solver
    (:func:`xkernels.sweeps.batch.batchable`): the swept parameters change only the
    inputs and every point has the base options.

    Parameters
    ----------
    network : Network
        The base specification.
    plan : KernelPlan
        Its computation.
    axes : sequence of Axis
        The sweep's axes.
    specs : sequence of PointSpec
        The points.

    Returns
    -------
    bool
    """
    paths = [p.path for axis in axes for p in axis.params]
    return (all(spec.options == plan.options for spec in specs)
            and batchable(network, plan, paths))


def run_linear(specs: Sequence[PointSpec], plan: KernelPlan
               ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, computed together by
    the batched linear solver in this process
    (:func:`xkernels.sweeps.batch.batched_values`).

    Parameters
    ----------
    specs : sequence of PointSpec
        The points (:func:`linear_applies`).
    plan : KernelPlan
        The base computation.

    Yields
    ------
    tuple
        ``(point numbers, kernels)``, kernels of shape ``(len(points), *plan.shape)``.
    """
    for start in range(0, len(specs), CHUNK):
        batch = list(range(start, min(start + CHUNK, len(specs))))
        yield batch, batched_values([specs[k].network for k in batch], plan)


def simulate_points(specs: Sequence[PointSpec], probes: Any) -> np.ndarray:
    """Worker task: full simulations of a few points, stacked.

    Parameters
    ----------
    specs : sequence of PointSpec
        The points (network and options).
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.

    Returns
    -------
    ndarray
        Shape ``(len(specs), X, Y, probe_channel, tau)``.
    """
    return np.stack([simulate_values(spec.network,
                                     prepare_kernels(spec.network, probes, spec.options))
                     for spec in specs])


def _check_solver(plan: KernelPlan, specs: Sequence[PointSpec],
                  geometries: Mapping[tuple, tuple[Any, bool]]) -> None:
    """Refuse ``solver="linear"`` where it cannot be exact, before anything is computed
    or written: an active cell taken ``"as-is"``."""
    for post, mode in plan.linearisation.items():
        if plan.options.solver_of(post) != "linear" or mode != "as-is":
            continue
        for spec in specs:
            if not geometries[geometry_key(spec.network.population(post))][1]:
                raise ValueError(f"solver='linear' cannot be exact for population "
                                 f"{post!r}: its membrane has nonlinear mechanisms and is "
                                 "taken as it is (linearisation 'as-is'); choose "
                                 "linearisation 'passive' or 'frozen', or solver 'neuron' "
                                 "or 'auto'")


def run_simulations(runner: Runner, specs: Sequence[PointSpec], plans: Sequence[PointPlan],
                    probes: Mapping[str, Any], linear: frozenset = frozenset()
                    ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, fully simulated.

    Parameters
    ----------
    runner : Runner
        Where the points are simulated.
    specs : sequence of PointSpec
        The points (network and options).
    plans : sequence of PointPlan
        Their plans (:func:`xkernels.sweeps.planning.plan_points`), for the cost
        estimate.
    probes : Mapping[str, Any]
        The probes by name.
    linear : frozenset
        Geometry keys of the cells computed by the linear solver (cheaper: small
        sweeps of them run in this process, :meth:`~xkernels.runtime.Runner.inline`).

    Yields
    ------
    tuple
        ``(point numbers, kernels)`` with kernels of shape
        ``(len(points), X, Y, probe_channel, tau)``, in completion order.
    """
    per_point = sum(
        len(item.plan.inputs) * item.nodes * SECONDS_PER_LINEAR_KERNEL
        if geometry_key(item.population) in linear else
        2 * SECONDS_PER_CELL + len(item.plan.inputs) * SECONDS_PER_SIMULATION
        for item in plans[0].values()) if plans else 0.0
    seconds = len(specs) * per_point
    # a few points per task when distributed: fewer round trips, still ~4 tasks per worker
    size = max(1, min(MAX_POINTS_PER_TASK,
                      math.ceil(len(specs) / (4 * runner.parallelism(seconds)))))
    chunks = [list(range(i, min(i + size, len(specs)))) for i in range(0, len(specs), size)]
    arguments = [([specs[j] for j in chunk], probes) for chunk in chunks]
    for c, values in runner.imap_unordered(simulate_points, arguments, seconds):
        yield chunks[c], values


def orthogonal_blocks(points: Sequence[tuple[int, ...]]) -> list[tuple[list[int], ...]]:
    """Split distinct grid positions into orthogonal blocks (one index list per dim).

    Every position is in exactly one block and every combination of a block's lists
    is a position, so each block is one ``isel``/zarr orthogonal selection.  Runs of
    consecutive points in C order give few blocks (whole rows and planes merge).

    Parameters
    ----------
    points : sequence of tuple of int
        Distinct grid positions, all of the same length (one index per dim).

    Returns
    -------
    list of tuple of list of int
        The blocks: per block, one list of indices per dim.

    Examples
    --------
    >>> orthogonal_blocks([(0, 0), (0, 1), (1, 0), (1, 1), (2, 1)])
    [([0, 1], [0, 1]), ([2], [1])]
    """
    if not points:
        return []
    if len(points[0]) == 1:
        return [([p[0] for p in points],)]
    rests: dict[int, list[tuple[int, ...]]] = {}
    for p in points:
        rests.setdefault(p[0], []).append(p[1:])
    firsts_of: dict[tuple, list[int]] = {}
    for first, rest in rests.items():
        key = tuple(tuple(tuple(lst) for lst in block) for block in orthogonal_blocks(rest))
        firsts_of.setdefault(key, []).append(first)
    return [(firsts, *[list(lst) for lst in block])
            for key, firsts in firsts_of.items() for block in key]


def _store_batch(path: Path, template: xr.DataArray, axes: Sequence[Axis],
                 positions: Sequence[tuple[int, ...]], values: np.ndarray) -> None:
    """Write a batch of finished points (``values[n]`` at ``positions[n]``) in blocks."""
    row = {p: n for n, p in enumerate(positions)}
    for block in orthogonal_blocks(list(positions)):
        rows = [row[p] for p in itertools.product(*block)]
        data = values[rows].reshape(tuple(len(b) for b in block) + values.shape[1:])
        selection = dict(zip((a.dim for a in axes), block))
        write_points(path, template.isel(selection).copy(data=data), index=selection)

"""The kernel computation: network × probes × options → the kernels DataArray.

For every postsynaptic population Y one representative cell is built and linearised
(the g_eff leak shift depends on all inputs of Y, not on which X is probed), the
forward-model matrices of every probe are computed once for that cell, and one short
simulation per presynaptic population X gives the membrane-current response to the
volley of synapses that one spike of X causes on average.  The responses are mapped
through the probes, smeared by the delay distribution and cut to the kernel window.

:func:`prepare_kernels` validates everything and returns a
:class:`~xkernels.engine.plans.KernelPlan`; :func:`simulate_kernels` runs it.  The
public entry point is :func:`xkernels.compute_kernels` (:mod:`xkernels.store.cache`,
which adds the store).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import xarray as xr

# ``probes`` is the name of compute_kernels' argument: the package goes by another name
from xkernels import probes as probe_api
from xkernels.contract import (
    CORE_DIMS,
    FORMAT_VERSION,
    KERNEL_NAME,
    VALUES_DIGEST_ATTR,
    values_digest,
)
from xkernels.engine import depth_average as avg
from xkernels.engine import linearisation as lin
from xkernels.engine.blas import one_blas_thread
from xkernels.engine.cells import CableCell, Geometry, LinearisedCell, cable_cell
from xkernels.engine.membrane import RestingState, linearised
from xkernels.engine.plans import (
    KernelPlan,
    PopulationPlan,
    cell_memo,
    plan_memo,
    plan_population,
)
from xkernels.engine.spec_json import network_json
from xkernels.engine.timeline import lfpykernels_grid, regular_grid
from xkernels.provenance import content_hash, merge_channel_coords, versions
from xkernels.spec.network import Network, Population
from xkernels.spec.options import KernelOptions, active_preset, leak_reversal_of

#: Version of the engine's numbers: bumped whenever a change of the engine changes the
#: kernels it returns for the same inputs (not on every release).  Part of the content
#: hash, so a kernel store computed by an older engine is never served as current
#: (``compute_kernels(store=...)`` recomputes it).  History: 1 -- first versioned engine.
ENGINE_VERSION = 1


def kernel_inputs(network: Network, probe_defs: Mapping[str, Any], options: KernelOptions,
                  spec: dict | None = None) -> dict[str, Any]:
    """The canonical description of a kernel computation (hashed for caching).

    Parameters
    ----------
    network : Network
        The network specification.
    probe_defs : Mapping[str, Any]
        Probe name -> JSON definition, in ``probe_channel`` order.
    options : KernelOptions
        The options, resolved for ``network`` (:meth:`KernelOptions.resolve`).
    spec : dict, optional
        ``network.to_dict()``, when already made.

    Returns
    -------
    dict
        JSON-serialisable; its :func:`content_hash` identifies the kernels: the
        specification, the probes, the options (the linearisation per postsynaptic
        population; ``depth_nodes`` only where it is used, with ``averaging="depth"``)
        and the format and engine versions.
    """
    out = {"format_version": FORMAT_VERSION, "engine_version": ENGINE_VERSION,
           "spec": network.to_dict() if spec is None else spec,
           "probes": [[name, d] for name, d in probe_defs.items()],  # order matters
           **options.model_dump(mode="json"),
           "linearisation": options.modes(list(network.postsynaptic))}
    if options.averaging == "reference":
        del out["depth_nodes"]
    return out


# --------------------------------------------------------------------------------------
# the computation
# --------------------------------------------------------------------------------------
def simulate_kernels(network: Network, plan: KernelPlan) -> xr.DataArray:
    """Simulate the kernels of a computation prepared by :func:`prepare_kernels`.

    Parameters
    ----------
    network : Network
        The network ``plan`` was prepared for.
    plan : KernelPlan
        The validated computation.

    Returns
    -------
    xarray.DataArray
        As :func:`compute_kernels`.

    Raises
    ------
    ValueError
        A cell-dependent input (placement sections, per-segment Vrest) that does not fit
        its cell; every cell is checked before the first simulation.

    Examples
    --------
    >>> import xkernels
    >>> network = xkernels.Network.example()
    >>> plan = prepare_kernels(network, {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                        xkernels.KernelOptions(tau=5.0))
    >>> H = simulate_kernels(network, plan)
    >>> H.shape == plan.shape, H.attrs["content_hash"] == plan.digest
    (True, True)
    >>> round(float(H.sel(X="E", Y="E").max()), 1)       # nA µm per spike of E
    298.0
    """
    states: dict = {}
    solvers: dict = {}
    H = label_kernels(simulate_values(network, plan, states_out=states,
                                      solvers_out=solvers), plan)
    rest = {post: state.to_dict() for post, state in states.items() if state is not None}
    if rest:
        H.attrs["resting_state"] = json.dumps(rest)
    H.attrs["solver"] = json.dumps(solvers)  # what solver="auto" chose, per population
    return H


def simulate_values(network: Network, plan: KernelPlan,
                    pre: Sequence[str] | None = None,
                    states_out: dict | None = None,
                    solvers_out: dict | None = None) -> np.ndarray:
    """The kernel values of a prepared computation, unlabelled (as a numpy array).

    Parameters
    ----------
    network : Network
        The network ``plan`` was prepared for.
    plan : KernelPlan
        The validated computation.
    pre : sequence of str, optional
        Simulate only the inputs of these presynaptic populations (the others stay
        zero); the g_eff shift still counts every input.  Default: all of ``plan.X``.
    states_out : dict, optional
        Filled with the resting state of every postsynaptic population whose membrane
        was linearised (None for ``"as-is"``).
    solvers_out : dict, optional
        Filled with the solver that computed each postsynaptic population's kernels
        (``"linear"`` or ``"neuron"``).

    Returns
    -------
    ndarray
        Shape ``plan.shape`` (X, Y, probe_channel, tau), in the units of each channel
        per presynaptic spike.

    Raises
    ------
    ValueError
        As :func:`simulate_kernels`; or ``pre`` naming a population not in ``plan.X``.

    Examples
    --------
    Only the kernels of the inhibitory population, causal lags 0.0625..5 ms:

    >>> import xkernels
    >>> network = xkernels.Network.example()
    >>> plan = prepare_kernels(network, {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                        xkernels.KernelOptions(tau=5.0, fir=True))
    >>> values = simulate_values(network, plan, pre=["I"])
    >>> values.shape                                     # (X, Y, probe_channel, tau)
    (2, 2, 1, 80)
    >>> float(abs(values[0]).max())                      # X = E: not simulated
    0.0
    >>> round(float(values[1, 0, 0].min()), 1)           # I -> E (nA µm per spike)
    -5795.6
    """
    X, Y = plan.X, plan.Y
    wanted = set(X) if pre is None else set(pre)
    if not wanted <= set(X):
        raise ValueError(f"pre must name presynaptic populations among {list(X)}, "
                         f"got {sorted(wanted - set(X))}")
    # every cell-dependent input is checked and every membrane linearised before any
    # kernel is simulated
    prepared = {post: prepare_population(network, post, plan) for post in Y}
    # every block is written once: a kernel, or zeros (no connection, not wanted)
    values = np.empty(plan.shape)
    linear = {post for post, found in prepared.items() if found[3] == "linear"}
    # the linear solver's small products on one BLAS thread (xkernels.engine.blas):
    # taken once when every population uses it, else around each that does
    every = one_blas_thread() if len(linear) == len(Y) else nullcontext()
    with every:
        for j, post in enumerate(Y):
            with one_blas_thread() if post in linear else nullcontext():
                found = simulate_population(network, post, plan, prepared[post], wanted,
                                            out=values[:, j])
            written = set()
            for source, kernel in found.items():
                i = X.index(source)
                if not np.may_share_memory(kernel, values):  # else written there already
                    values[i, j] = kernel
                written.add(i)
            for i in set(range(len(X))) - written:
                values[i, j] = 0.0
    if states_out is not None:
        states_out.update({post: state for post, (_, state, _, _) in prepared.items()})
    if solvers_out is not None:
        solvers_out.update({post: solver for post, (_, _, _, solver) in prepared.items()})
    return values


#: What :func:`prepare_population` finds on a cell: the plan of its inputs, its resting
#: state (None for ``"as-is"``), the membrane linearisation used and the solver
#: (``"linear"`` or ``"neuron"``: ``solver="auto"`` resolved for the cell).
Prepared = tuple[PopulationPlan, RestingState | None, str, str]


def build_cell(network: Network, post: str, plan: KernelPlan) -> LinearisedCell | CableCell:
    """The cell of ``post``: without NEURON (:class:`CableCell`, read once per process)
    where the linear solver applies to a passive cell -- ``"quasi-active"`` too, for a
    cell not known active from its specification that turns out passive once built
    (:meth:`~xkernels.engine.plans.KernelPlan.membrane_mode`) -- else in NEURON."""
    pop = network.population(post)
    e_pas = leak_reversal_of(plan.vrest_by_post[post])
    solver = plan.options.solver_of(post)
    mode = plan.linearisation.get(post, "as-is")
    if solver != "neuron" and (mode in ("as-is", "passive") or (
            mode == "quasi-active" and not active_preset(pop.cell))):
        twin = cable_cell(pop.cell, pop, plan.options.dt, e_pas)
        if twin is not None:
            return twin
    return LinearisedCell(pop.cell, pop, plan.options.dt, e_pas, solver)


def prepare_population(network: Network, post: str, plan: KernelPlan) -> Prepared:
    """Check everything about ``post`` that needs its cell, without simulating a kernel:
    the placement and Vrest on the cell, and its membrane linearisation (the cell is
    settled to its resting state; conductance-based synapses are linearised there).

    Raises
    ------
    ValueError
        A placement or Vrest that does not fit the cell; a cell that cannot be
        linearised as asked.
    """
    with build_cell(network, post, plan) as cell:
        memo = plan_memo(cell)
        key = ("prepared", plan.digest, post)  # the digest covers every input used here
        if memo is not None and key in memo:
            return memo[key]
        # or the same objects of every part of the network used here (frozen models: a
        # network changed elsewhere by with_values shares them), and the same options
        same, held = _prepared_key(network, post, plan)
        found = memo.get(same) if memo is not None else None
        if found is not None and all(a is b for a, b in zip(found[0], held)):
            memo[key] = found[1]
            return found[1]
        inputs = plan_population(network, post, cell.geometry, plan.vrest_by_post[post],
                                 plan.options.g_eff, plan.grid, memo)
        mode = plan.membrane_mode(post, cell.is_linear())
        with linearised(network, post, cell, plan, inputs, mode,
                        memo=memo) as (membrane, inputs):
            found = (inputs, membrane.state, mode, "linear" if membrane.linear else "neuron")
        if memo is not None:
            memo[key] = found
            memo[same] = (held, found)
        return found


def _prepared_key(network: Network, post: str, plan: KernelPlan) -> tuple[tuple, tuple]:
    """What :func:`prepare_population` finds depends on: the population ``post``, the
    connections onto it, their presynaptic populations (size, rate), whether synapses
    are conductance-based, the options and the lags.  Returns ``(key, held)``: the key
    names the objects by id, ``held`` holds them (compared by identity, so that an id
    is not taken for another object's)."""
    pop = network.population(post)
    conns = tuple(network.inputs(post))
    pres = tuple(network.population(c.pre) for c in conns)
    held = (pop, *conns, *pres)
    key = ("prepared from", post, tuple(map(id, held)), network.conductance_based,
           plan.attrs["options"], plan.inputs.get("lags"))
    return key, held


def simulate_population(network: Network, post: str, plan: KernelPlan, prepared: Prepared,
                        pre: Collection[str], out: np.ndarray | None = None
                        ) -> dict[str, np.ndarray]:
    """The kernels of the inputs of ``post`` from ``pre``: every path of the engine
    (reference or depth averaging, any linearisation and operating point).

    Parameters
    ----------
    network : Network
        The network.
    post : str
        The postsynaptic population.
    plan : KernelPlan
        The computation.
    prepared : Prepared
        What :func:`prepare_population` found for ``post``.
    pre : collection of str
        The presynaptic populations whose kernels are simulated.
    out : ndarray, optional
        Shape (len(plan.X), n_channels, n_tau): where the linear solver may write the
        kernels when it computes every presynaptic population's (the returned kernels
        are then views of it).

    Returns
    -------
    dict
        Presynaptic population -> kernel, shape (n_channels, n_tau).
    """
    inputs, state, mode, _ = prepared
    if plan.options.averaging == "depth":
        return avg.depth_kernels(network, post, plan, lambda: build_cell(network, post, plan),
                                 mode, pre=pre, out=out)
    with build_cell(network, post, plan) as cell, \
            linearised(network, post, cell, plan, inputs, mode, state) as (membrane, _):
        matrix = cell_probes_matrix(cell, plan, network.population(post))
        grid = plan.grid
        if membrane.linear:  # every kernel of the cell in one batch
            items = {source: item for source, item in inputs.inputs.items() if source in pre}
            if not items:
                return {}
            kernels = membrane.solver.kernels(
                matrix, [item.weights for item in items.values()],
                [(item.tau1, item.tau2) for item in items.values()],
                [item.h_delay for item in items.values()], grid.delay_centre, grid.lags,
                grid.n_response, out=out if list(items) == list(plan.X) else None)
            return dict(zip(items, kernels))
        return {source: lin.finish_kernel(
                    membrane.signal(matrix, item.weights, item.tau1, item.tau2,
                                    plan.grid.n_response, plan.options.t_X),
                    item.h_delay, plan.grid.delay_centre, plan.grid.lags)
                for source, item in inputs.inputs.items() if source in pre}


def prepare_kernels(network: Network, probes: Any, options: KernelOptions,
                    reference_lags: bool = False) -> KernelPlan:
    """Validate the inputs of a kernel computation and derive everything but the values.

    Nothing is simulated (with ``averaging="depth"`` the probes are checked against
    every postsynaptic population).

    Parameters
    ----------
    network : Network
        The network specification.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    options : KernelOptions
        The options, resolved for ``network`` here (:meth:`KernelOptions.resolve`;
        the plan holds and records only the resolved values, never ``"auto"``).
    reference_lags : bool
        Use the lags and delay taps LFPykernels 0.2.0 uses at this ``dt``, ``tau``,
        ``t_X`` (:func:`xkernels.engine.timeline.lfpykernels_grid`;
        :mod:`xkernels.compat` asks for it) instead of the regular grid.

    Returns
    -------
    KernelPlan
        The probes by name and their definitions, the content hash, populations, the
        options, Vrest per postsynaptic population, and the shape, coordinates and
        attributes of the kernels DataArray.

    Raises
    ------
    TypeError, ValueError
        Bad inputs (the message names the field, the value and what is allowed).

    Examples
    --------
    >>> import xkernels
    >>> plan = prepare_kernels(xkernels.Network.example(),
    ...                        {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                        xkernels.KernelOptions(tau=5.0))
    >>> plan.X, plan.Y, plan.shape, plan.options.n_lags
    (('E', 'I'), ('E', 'I'), (2, 2, 1, 161), 80)
    >>> plan.vrest_by_post
    {'E': -65.0, 'I': -65.0}
    >>> plan.options.g_eff, plan.options.operating_point   # "auto" resolved
    (True, 'mean-input')
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    if not isinstance(options, KernelOptions):
        raise TypeError(f"options must be a KernelOptions, got {type(options).__name__}")
    options = options.resolve(network)  # from here on: no "auto", checked
    # the user's probe objects are never modified: xkernels.probes evaluates copies
    named = probe_api.normalize_probes(probes)
    vrest_by_post = {post: options.vrest_of(post) for post in network.postsynaptic}
    modes = options.modes(list(network.postsynaptic))
    if options.averaging == "depth":
        avg.check_depth_probes(network, named)
    probe_defs = probe_api.probe_definitions(named)
    probes_json = json.dumps(probe_defs)  # insertion order = probe_channel order
    spec, spec_text, spec_compact = network_json(network)
    inputs = kernel_inputs(network, probe_defs, options, spec)
    o = options
    grid = regular_grid(o.dt, o.n_lags, o.fir)
    if reference_lags:
        grid = lfpykernels_grid(o.dt, o.tau, o.t_X, o.fir)
        inputs["lags"] = "lfpykernels-0.2.0"
    digest = content_hash(inputs, {"spec": spec_compact,
                                   "probes": _canonical_probes(probes_json, inputs["probes"])})
    coords = probe_channel_coords(named, probe_defs, probes_json)
    X = tuple(network.presynaptic)
    Y = tuple(network.postsynaptic)
    coords = {"X": np.asarray(X, dtype=str), "Y": np.asarray(Y, dtype=str),
              "tau": ("tau", grid.tau_axis, {"units": "ms", "long_name": "time lag"}),
              **coords}
    attrs = {
        "long_name": "spike-to-signal kernels",
        "description": "signal per presynaptic spike; convolve with spikes per bin",
        # = network.to_json(indent=None), from the dict already made
        "spec": spec_text,
        "probes": probes_json,
        "dt": o.dt, "t_X": o.t_X, "tau_max": o.tau, "g_eff": o.g_eff, "fir": o.fir,
        "Vrest": json.dumps(inputs["Vrest"]), "linearisation": json.dumps(modes),
        "n_positions": o.n_positions, "seed": o.seed, "averaging": o.averaging,
        **({"depth_nodes": o.depth_nodes} if o.averaging == "depth" else {}),
        "operating_point": o.operating_point,
        "options": o.model_dump_json(),
        "versions": json.dumps(versions(), sort_keys=True),
        "content_hash": digest, "format_version": FORMAT_VERSION,
        "engine_version": ENGINE_VERSION,
    }
    return KernelPlan(
        probes=named, probe_defs=probe_defs, inputs=inputs, digest=digest, X=X, Y=Y,
        options=options, grid=grid, vrest_by_post=vrest_by_post,
        shape=(len(X), len(Y), coords["probe_channel"][1].size, grid.lags.size),
        coords=coords, attrs=attrs, linearisation=modes)


def _canonical_probes(probes_json: str, probes: list) -> str:
    """The canonical JSON of the probes' entry of :func:`kernel_inputs` (``probes``),
    kept per the JSON of their definitions (``probes_json``, which it is a function of)."""
    found = _CANONICAL_PROBES.get(probes_json)
    if found is None:
        found = json.dumps(probes, sort_keys=True, separators=(",", ":"), allow_nan=False)
        if len(_CANONICAL_PROBES) >= CHANNELS_KEPT:
            _CANONICAL_PROBES.clear()
        _CANONICAL_PROBES[probes_json] = found
    return found


_CANONICAL_PROBES: dict[str, str] = {}


def probe_channel_coords(named: Mapping[str, Any], probe_defs: Mapping[str, Any],
                   probes_json: str) -> dict[str, tuple]:
    """The ``probe_channel`` coordinates of the probes ``named``
    (:func:`~xkernels.provenance.merge_channel_coords` of each probe's channels), kept
    for the last :data:`CHANNELS_KEPT` sets of probes that their definitions describe
    (``probes_json``, the JSON of ``probe_defs``, and the probes' classes are the key);
    returned as copies.

    Examples
    --------
    >>> import xkernels
    >>> from xkernels import probes
    >>> named = {"cdm": xkernels.CurrentDipoleMomentZ()}
    >>> defs = probes.probe_definitions(named)
    >>> probe_channel_coords(named, defs, json.dumps(defs))["probe_channel"][1].tolist()
    ['cdm:z']
    """
    described = all(d.get("params") is not None for d in probe_defs.values())
    key = (probes_json, tuple(type(probe) for probe in named.values())) if described \
        else None
    found = _CHANNELS.get(key) if described else None
    if found is None:
        found = merge_channel_coords([probe_api.probe_channels(name, probe)
                                      for name, probe in named.items()])
        if described:
            while len(_CHANNELS) >= CHANNELS_KEPT:
                _CHANNELS.pop(next(iter(_CHANNELS), None), None)  # threads may race here
            _CHANNELS[key] = found
    return {name: (dim, values.copy(), dict(attrs)) for name, (dim, values, attrs)
            in found.items()}


#: Channel coordinates of recent probe sets (:func:`probe_channel_coords`).
_CHANNELS: dict = {}
CHANNELS_KEPT = 32


def label_kernels(values: Any, plan: KernelPlan) -> xr.DataArray:
    """The kernels DataArray of ``values`` (shape ``plan.shape``).

    Parameters
    ----------
    values : array_like
        Kernel values, shape ``plan.shape`` (X, Y, probe_channel, tau).
    plan : KernelPlan
        The computation they belong to (coordinates and attributes).

    Returns
    -------
    xarray.DataArray
        With the digest of ``values`` in ``attrs['values_xxh3_128']`` (what a store
        compares to tell these kernels from modified ones).
    """
    digest = values_digest(values)
    if not isinstance(values, np.ndarray) or values.shape != plan.shape:
        attrs = {**plan.attrs, VALUES_DIGEST_ATTR: digest}
        return xr.DataArray(values, dims=CORE_DIMS, coords=dict(plan.coords),
                            name=KERNEL_NAME, attrs=attrs)
    # the coordinates are labelled once per process and set of coordinates (the
    # values of every coordinate are the key); the attributes are the plan's
    key = _coords_key(plan.coords)
    template = _TEMPLATES.get(key)
    if template is None:
        # no values of its own (a zero-stride view): a template is its coordinates
        template = xr.DataArray(np.broadcast_to(np.float64(0.0), plan.shape),
                                dims=CORE_DIMS, coords=dict(plan.coords), name=KERNEL_NAME)
        while len(_TEMPLATES) >= TEMPLATES_KEPT:
            _TEMPLATES.pop(next(iter(_TEMPLATES), None), None)  # threads may race here
        _TEMPLATES[key] = template
    return _from_template(template, values, {**plan.attrs, VALUES_DIGEST_ATTR: digest})


def _from_template(template: xr.DataArray, values: np.ndarray, attrs: dict) -> xr.DataArray:
    """``template``'s coordinates around ``values``, sharing nothing a caller can change
    in place with the template: the indexes (immutable pandas indexes, their coordinate
    values read-only) are shared, each coordinate variable is a new object (its own
    attributes), the values of the other coordinates are copied.  xarray's internal
    ``fastpath`` constructor: the public ones copy or rebuild every index (~0.3 ms for
    the README network's kernels, more than the linear solver takes for a kernel)."""
    indexes = template.xindexes
    coords = {name: variable.copy(deep=False) if name in indexes else
              xr.Variable(variable.dims, variable.values.copy(), dict(variable.attrs))
              for name, variable in template.coords.variables.items()}
    H = xr.DataArray(xr.Variable(CORE_DIMS, values), coords=coords,
                     indexes=dict(indexes), name=KERNEL_NAME, fastpath=True)
    H.attrs = attrs
    return H


def _coords_key(coords: Mapping[str, Any]) -> tuple:
    """A hashable key holding every value of ``coords`` (name -> array, or ``(dim,
    array, attrs)``): equal keys, equal coordinates."""
    def part(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return (value.dtype.str, value.shape, value.tobytes())
        if isinstance(value, tuple):
            return tuple(part(v) for v in value)
        if isinstance(value, Mapping):
            return tuple(sorted((k, part(v)) for k, v in value.items()))
        return (type(value).__name__, value)
    return tuple((name, part(value)) for name, value in coords.items())


#: Labelled templates of recent computations (coordinates -> DataArray without
#: attributes).
_TEMPLATES: dict = {}
TEMPLATES_KEPT = 32


def cell_probes_matrix(cell: LinearisedCell | CableCell, plan: KernelPlan,
                       pop: Population) -> np.ndarray:
    """:func:`probes_matrix` of ``cell``, kept with a :class:`CableCell`'s cached cell
    (the same geometry in every computation; :func:`~xkernels.engine.plans.cell_memo`)."""
    o = plan.options
    return cell_memo(cell, plan, pop, "probes", lambda: probes_matrix(
        plan.probes, cell.geometry, pop, o.n_positions, o.seed), o.n_positions, o.seed)


def probes_matrix(named: Mapping[str, Any], geometry: Geometry, pop: Population,
                  n_positions: int, seed: int) -> np.ndarray:
    """All probes' transformation matrices for one cell, stacked.

    Parameters
    ----------
    named : Mapping[str, Any]
        The probes by name (``KernelPlan.probes``).
    geometry : Geometry
        The cell's segment geometry (µm).
    pop : Population
        The population whose spatial spread (``radius``, ``loc``, ``scale``, µm) the
        probes average over.
    n_positions, seed : int
        Cell positions averaged over by point/line-source probes, and their seed.

    Returns
    -------
    ndarray
        Shape (n_channels, nseg): signal per unit membrane current (channel units / nA).
    """
    lfpykit_geometry = geometry.to_lfpykit()
    population = {"radius": pop.radius, "loc": pop.loc, "scale": pop.scale}
    return np.concatenate([
        probe_api.probe_matrix(probe, lfpykit_geometry, population, n_positions=n_positions,
                               seed=seed)
        for probe in named.values()], axis=0)

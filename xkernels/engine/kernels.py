"""compute_kernels: network × probes → the kernels DataArray.

For every postsynaptic population Y one representative cell is built and linearised
(the g_eff leak shift depends on all inputs of Y, not on which X is probed), the
forward-model matrices of every probe are computed once for that cell, and one short
simulation per presynaptic population X gives the membrane-current response to the
volley of synapses that one spike of X causes on average.  The responses are mapped
through the probes, smeared by the delay distribution and cut to the kernel window.

:func:`prepare_kernels` validates everything and returns a
:class:`~xkernels.engine.plans.KernelPlan`; :func:`simulate_kernels` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
from xkernels.engine import averaging as avg
from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry, LinearisedCell
from xkernels.engine.membrane import LinearisedMembrane, RestingState
from xkernels.engine.options import (
    check_linearisation,
    check_network_inputs,
    check_operating_point,
    check_options,
    leak_reversal_of,
    vrest_json,
    vrest_of_population,
)
from xkernels.engine.plans import KernelPlan, PopulationPlan, apply_leak_shift, plan_population
from xkernels.engine.timeline import lfpykernels_grid, regular_grid
from xkernels.provenance import content_hash, merge_channel_coords, versions
from xkernels.spec.network import Network, Population
from xkernels.validation import check_int

#: Version of the engine's numbers: bumped whenever a change of the engine changes the
#: kernels it returns for the same inputs (not on every release).  Part of the content
#: hash, so a kernel store computed by an older engine is never served as current
#: (``compute_kernels(store=...)`` recomputes it).  History: 1 -- first versioned engine.
ENGINE_VERSION = 1

DEFAULT_DT = 2.0 ** -4
DEFAULT_TAU = 50.0
DEFAULT_T_X = 200.0
DEFAULT_AVERAGING = avg.DEFAULT_AVERAGING
DEFAULT_DEPTH_NODES = avg.DEFAULT_DEPTH_NODES


def kernel_inputs(network: Network, probe_defs: Mapping[str, Any], *, dt: float, tau: float,
                  t_X: float, Vrest: Any, g_eff: bool, fir: bool, n_positions: int,
                  seed: int, linearisation: Mapping[str, str] | None = None,
                  averaging: str = "reference",
                  depth_nodes: int = DEFAULT_DEPTH_NODES,
                  operating_point: str = "rest") -> dict[str, Any]:
    """The canonical description of a kernel computation (hashed for caching).

    Parameters
    ----------
    network : Network
        The network specification.
    probe_defs : Mapping[str, Any]
        Probe name -> JSON definition, in ``probe_channel`` order.
    dt, tau, t_X, Vrest, g_eff, fir, n_positions, seed, averaging, depth_nodes, operating_point
        The validated options of :func:`compute_kernels` (ms, mV).
    linearisation : Mapping[str, str], optional
        Postsynaptic population -> linearisation mode; enters the description only
        when some mode is not ``"as-is"`` (so kernels computed before the option
        existed keep their content hash).

    Returns
    -------
    dict
        JSON-serialisable; its :func:`content_hash` identifies the kernels.  The
        averaging options enter only with ``averaging="depth"`` and the operating point
        only when it is not ``"rest"``, so that the inputs (and content hashes) of
        kernels computed as before are those of earlier versions.
    """
    out = {"format_version": FORMAT_VERSION, "engine_version": ENGINE_VERSION,
           "spec": network.to_dict(),
           "probes": [[name, d] for name, d in probe_defs.items()],  # order matters
           "dt": dt, "tau": tau, "t_X": t_X,
           "Vrest": vrest_json(Vrest), "g_eff": bool(g_eff), "fir": bool(fir),
           "n_positions": int(n_positions), "seed": int(seed)}
    if linearisation and any(mode != "as-is" for mode in linearisation.values()):
        out["linearisation"] = dict(linearisation)
    if averaging != "reference":
        out["averaging"] = averaging
        out["depth_nodes"] = int(depth_nodes)
    if operating_point != "rest":
        out["operating_point"] = operating_point
    return out


# --------------------------------------------------------------------------------------
# the computation
# --------------------------------------------------------------------------------------
def compute_kernels(
    network: Network,
    probes: Any,
    *,
    dt: float = DEFAULT_DT,
    tau: float = DEFAULT_TAU,
    t_X: float = DEFAULT_T_X,
    Vrest: float | Sequence[float] | Mapping[str, Any] = -65.0,
    g_eff: bool = True,
    fir: bool = False,
    n_positions: int = 2000,
    seed: int = 1234,
    linearisation: str | Mapping[str, str] = "as-is",
    averaging: str = DEFAULT_AVERAGING,
    depth_nodes: int = DEFAULT_DEPTH_NODES,
    operating_point: str = "rest",
) -> xr.DataArray:
    """Spike-to-signal kernels of every X → Y connection of ``network``.

    Parameters
    ----------
    network : Network
        The network specification (see :class:`xkernels.Network`).
    probes : dict or list
        Forward models (``lfpykit.LinearModel`` instances created with ``cell=None``):
        a dict name → probe, or a list (names derived from the class).
    dt : float
        Time step (ms).
    tau : float
        Half width of the kernel (ms); lags ``-tau..tau`` (``dt..tau`` with ``fir``).
        A whole multiple of ``dt``.
    t_X : float
        Presynaptic spike time used when a cell must settle from ``v_init`` (ms);
        ``>= tau``. Cells with a uniform passive membrane start exactly at rest and
        do not need it.
    Vrest : float, list of float or dict
        Membrane potential (mV) around which conductance-based synapses are
        linearised: one value, one value per segment, or a dict per postsynaptic
        population.  Also the leak reversal potential of the ``passive`` preset
        when that has no ``e_pas`` (with ``operating_point="mean-input"`` that is all it
        sets: the synapses are linearised where the mean input holds the cell).
    g_eff : bool
        Add the mean conductance of recurrent and extrinsic synapses to the leak.
    fir : bool
        Return only the causal lags ``dt..tau``.
    n_positions, seed : int
        Cell positions averaged over for point/line-source probes, and their seed
        (``averaging="reference"``).
    linearisation : str or dict
        How the membrane of each postsynaptic cell is made linear (one mode, or a
        dict postsynaptic population -> mode): ``"as-is"`` simulates the cell as
        specified (LFPykernels' behaviour; exact for passive cells, not a kernel for
        active ones, whose response is not linear in the weights); ``"passive"``
        removes every mechanism but the leak ``pas``; ``"frozen"`` fixes every
        membrane conductance at its value at the resting state; ``"quasi-active"``
        linearises the whole membrane, gating dynamics included, around the resting
        state (the limit of vanishing synaptic weight).  See
        :mod:`xkernels.engine.membrane`.  In every mode but ``"as-is"`` the cell is
        settled to its resting state first (refused if it has none), conductance-based
        synapses are linearised around the per-segment resting potential found
        (instead of ``Vrest``) and that potential is reported in the ``resting_state``
        attribute (JSON, mV per segment; with ``averaging="depth"``: of the cell at the
        population's mean depth with the reference g_eff shift).
    averaging : {"reference", "depth"}
        Population averaging (:mod:`xkernels.engine.averaging`).  ``"reference"``
        (LFPykernels 0.2.0): one cell at the population's mean depth, synapse densities
        widened by the depth spread, only the probe averaged over positions.
        ``"depth"``: the soma depths (normal, ``loc``, ``scale``) integrated jointly
        with synapse placement and the forward model by Gauss–Hermite quadrature; the
        probes averaged over the population disc deterministically.  A
        GaussCylinderPotential keeps only the depth smoothing ``sigma_z`` adds beyond
        the population's ``scale`` (``sqrt(sigma_z² - scale²)``; ``sigma_z < scale`` is
        refused); a population with ``scale`` 0 has one node (its kernels are those of
        ``"reference"``).
    depth_nodes : int
        Gauss–Hermite nodes of ``averaging="depth"`` (>= 1; validated in both modes).
    operating_point : {"rest", "mean-input"}
        Where conductance-based synapses are linearised, ``w (V - E)``.  ``"rest"``
        (LFPykernels 0.2.0): at ``Vrest`` (or the resting state a linearisation finds),
        with the g_eff conductance added to the leak at the leak's reversal potential.
        ``"mean-input"``: the g_eff conductance of every synapse is added with *its own*
        reversal potential (extrinsic and recurrent, at the populations' rates), the
        cell (in depth mode: the cell at each depth node, whose placement differs) is
        settled under that mean input, and the synapses are linearised around the
        per-segment potential it settles to (reported in the ``resting_state``
        attribute).  The membrane's conductance is the same in both (g_eff), so only the
        driving forces change.  Needs ``g_eff=True`` and a conductance-based network; a
        cell with an active membrane needs a linearisation other than ``"as-is"``.

    Returns
    -------
    xarray.DataArray
        Dims (X, Y, probe_channel, tau); values in the units of each channel
        (``units`` coordinate) per spike of the presynaptic population.

    Raises
    ------
    TypeError, ValueError
        Bad inputs, refused before anything is simulated (the message names the field,
        the value and what is allowed); a cell that cannot be linearised as asked
        (named with the mode, population, segment and mechanism), refused before any
        kernel is simulated.

    Examples
    --------
    Kernels of the current dipole moment (nA µm per presynaptic spike) of the example
    network, lags -5..5 ms:

    >>> import xkernels
    >>> H = compute_kernels(xkernels.Network.example(),
    ...                     {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.0)
    >>> dict(H.sizes), str(H["units"].values[0])
    ({'X': 2, 'Y': 2, 'probe_channel': 1, 'tau': 161}, 'nA µm')
    >>> k = H.sel(X="E", Y="E", probe_channel="cdm:z")
    >>> round(float(k.max()), 1), float(k.idxmax())      # peak (nA µm) and its lag (ms)
    (304.4, 3.0)
    >>> round(float(H.sel(X="I", Y="E", probe_channel="cdm:z").min()), 1)
    -5877.0

    This is the engine's computation, without a store; :func:`xkernels.compute_kernels`
    adds ``store=`` (read back instead of simulated when it holds these kernels).
    """
    plan = prepare_kernels(network, probes, dt=dt, tau=tau, t_X=t_X, Vrest=Vrest,
                           g_eff=g_eff, fir=fir, n_positions=n_positions, seed=seed,
                           linearisation=linearisation, averaging=averaging,
                           depth_nodes=depth_nodes, operating_point=operating_point)
    return simulate_kernels(network, plan)


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
    >>> plan = prepare_kernels(network, {"cdm": xkernels.CurrentDipoleMomentZ()}, dt=0.0625,
    ...                        tau=5.0, t_X=200.0, Vrest=-65.0, g_eff=True, fir=False,
    ...                        n_positions=2000, seed=1234)
    >>> H = simulate_kernels(network, plan)
    >>> H.shape == plan.shape, H.attrs["content_hash"] == plan.digest
    (True, True)
    >>> round(float(H.sel(X="E", Y="E").max()), 1)       # nA µm per spike of E
    304.4
    """
    states: dict = {}
    H = label_kernels(simulate_values(network, plan, states_out=states), plan)
    rest = {post: state.to_dict() for post, state in states.items() if state is not None}
    if rest:
        H.attrs["resting_state"] = json.dumps(rest)
    return H


def simulate_values(network: Network, plan: KernelPlan,
                    pre: Sequence[str] | None = None,
                    states_out: dict | None = None) -> np.ndarray:
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
    >>> plan = prepare_kernels(network, {"cdm": xkernels.CurrentDipoleMomentZ()}, dt=0.0625,
    ...                        tau=5.0, t_X=200.0, Vrest=-65.0, g_eff=True, fir=True,
    ...                        n_positions=2000, seed=1234)
    >>> values = simulate_values(network, plan, pre=["I"])
    >>> values.shape                                     # (X, Y, probe_channel, tau)
    (2, 2, 1, 80)
    >>> float(abs(values[0]).max())                      # X = E: not simulated
    0.0
    >>> round(float(values[1, 0, 0].min()), 1)           # I -> E (nA µm per spike)
    -5877.0
    """
    X, Y = plan.X, plan.Y
    wanted = set(X) if pre is None else set(pre)
    if not wanted <= set(X):
        raise ValueError(f"pre must name presynaptic populations among {list(X)}, "
                         f"got {sorted(wanted - set(X))}")
    values = np.zeros(plan.shape)

    def build(post: str) -> LinearisedCell:
        pop = network.population(post)
        return LinearisedCell(pop.cell, pop, plan.dt,
                              leak_reversal_of(plan.vrest_by_post[post]))

    # membrane linearisation: the cell of ``post`` (g_eff shift applied) in its mode, at
    # rest; ``state`` reapplies a resting state found before (xkernels.engine.membrane)
    def linearise(cell: LinearisedCell, post: str,
                  state: RestingState | None = None) -> LinearisedMembrane:
        mode = plan.membrane_mode(post, cell.is_linear())
        apply_leak_shift(cell, plans[post], plan.operating_point)
        taus = [(item.tau1, item.tau2) for item in plans[post].inputs.values()]
        return LinearisedMembrane(cell, mode, post, taus, state)

    # validation pass: every cell-dependent input is checked and every membrane
    # linearised before any simulation; the last cell stays open and is simulated first
    # (building a cell deletes all others)
    plans: dict[str, PopulationPlan] = {}
    states: dict[str, RestingState | None] = {}
    modes_used: dict[str, str] = {}
    last = last_membrane = None
    for k, post in enumerate(Y):
        cell = build(post)
        try:
            plans[post] = plan_population(network, post, cell.geometry,
                                          plan.vrest_by_post[post], plan.g_eff, plan.grid)
            membrane = linearise(cell, post)
            states[post] = membrane.state
            modes_used[post] = membrane.mode
            if membrane.state is not None and network.conductance_based:
                # conductance-based synapses linearised around the resting state found
                plans[post] = plan_population(network, post, cell.geometry,
                                              membrane.state.v, plan.g_eff, plan.grid)
        except BaseException:
            cell.close()
            raise
        if k < len(Y) - 1:
            membrane.close()
            cell.close()
        else:
            last, last_membrane = cell, membrane
    for j in reversed(range(len(Y))):
        post = Y[j]
        if plan.averaging == "depth":
            if j == len(Y) - 1:  # the cell of the validation pass has the reference shift
                last_membrane.close()
                last.close()
            kernels = avg.depth_kernels(network, post, plan, lambda post=post: build(post),
                                        modes_used[post], pre=wanted)
            for pre, kernel in kernels.items():
                values[X.index(pre), j] = kernel
            continue
        with (last if j == len(Y) - 1 else build(post)) as cell, \
                (last_membrane if j == len(Y) - 1
                 else linearise(cell, post, states[post])) as membrane:
            pop_plan = plans[post]
            matrix = probes_matrix(plan.probes, cell.geometry, network.population(post),
                                   plan.n_positions, plan.seed)
            for source, item in pop_plan.inputs.items():
                if source not in wanted:
                    continue
                i = X.index(source)
                imem = membrane.response(item.weights, item.tau1, item.tau2,
                                         plan.grid.n_response, plan.t_X)
                values[i, j] = lin.finish_kernel(lin.project(matrix, imem), item.h_delay,
                                                 plan.grid.delay_centre, plan.grid.lags)
    if states_out is not None:
        states_out.update(states)
    return values


def prepare_kernels(network: Network, probes: Any, *, dt: float, tau: float, t_X: float,
                    Vrest: Any, g_eff: bool, fir: bool, n_positions: int,
                    seed: int, linearisation: Any = "as-is",
                    reference_lags: bool = False,
                    averaging: str = DEFAULT_AVERAGING,
                    depth_nodes: int = DEFAULT_DEPTH_NODES,
                    operating_point: str = "rest") -> KernelPlan:
    """Validate the inputs of a kernel computation and derive everything but the values.

    Nothing is simulated (with ``averaging="depth"`` the probes are checked against
    every postsynaptic population).

    Parameters
    ----------
    network, probes, dt, tau, t_X, Vrest, g_eff, fir, n_positions, seed
        As for :func:`compute_kernels` (times in ms, Vrest in mV).
    linearisation : str or dict
        As for :func:`compute_kernels`.
    reference_lags : bool
        Use the lags and delay taps LFPykernels 0.2.0 uses at this ``dt``, ``tau``,
        ``t_X`` (:func:`xkernels.engine.timeline.lfpykernels_grid`;
        :mod:`xkernels.compat` asks for it) instead of the regular grid.
    averaging : {"reference", "depth"}
        As for :func:`compute_kernels`.
    depth_nodes, operating_point
        As for :func:`compute_kernels`.

    Returns
    -------
    KernelPlan
        The probes by name and their definitions, the content hash, populations, time
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
    ...                        {"cdm": xkernels.CurrentDipoleMomentZ()}, dt=0.0625,
    ...                        tau=5.0, t_X=200.0, Vrest=-65.0, g_eff=True, fir=False,
    ...                        n_positions=2000, seed=1234)
    >>> plan.X, plan.Y, plan.shape, plan.n_lags
    (('E', 'I'), ('E', 'I'), (2, 2, 1, 161), 80)
    >>> plan.vrest_by_post
    {'E': -65.0, 'I': -65.0}

    Bad inputs are refused here, before any cell is built:

    >>> prepare_kernels(xkernels.Network.example(), {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                 dt=0.0625, tau=5.03, t_X=200.0, Vrest=-65.0, g_eff=True, fir=False,
    ...                 n_positions=2000, seed=1234)
    Traceback (most recent call last):
    ...
    ValueError: tau / dt must be a whole number (to 1e-09 relative): tau = 5.03 ms and
    dt = 0.0625 ms give 80.48; ...
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    dt, tau, t_X, n_lags = check_options(dt, tau, t_X, g_eff, fir, network.conductance_based)
    n_positions = check_int("n_positions", n_positions, minimum=1)
    averaging, depth_nodes = avg.check_averaging(averaging, depth_nodes)
    named = probe_api.normalize_probes(probes)
    vrest_by_post = {post: vrest_of_population(Vrest, post) for post in network.postsynaptic}
    modes = check_linearisation(linearisation, network.postsynaptic)
    check_network_inputs(network, g_eff)
    operating_point = check_operating_point(operating_point, g_eff)
    if averaging == "depth":
        avg.check_depth_probes(network, named)
    probe_defs = probe_api.probe_definitions(named)
    inputs = kernel_inputs(network, probe_defs, dt=dt, tau=tau, t_X=t_X, Vrest=Vrest,
                           g_eff=g_eff, fir=fir, n_positions=n_positions, seed=seed,
                           linearisation=modes, averaging=averaging,
                           depth_nodes=depth_nodes, operating_point=operating_point)
    grid = regular_grid(dt, n_lags, fir)
    if reference_lags:
        grid = lfpykernels_grid(dt, tau, t_X, fir)
        inputs["lags"] = "lfpykernels-0.2.0"
    digest = content_hash(inputs)
    channel_meta = [probe_api.probe_channels(name, probe) for name, probe in named.items()]
    coords = merge_channel_coords(channel_meta)
    X = tuple(network.presynaptic)
    Y = tuple(network.postsynaptic)
    coords = {"X": np.asarray(X, dtype=str), "Y": np.asarray(Y, dtype=str),
              "tau": ("tau", grid.tau_axis, {"units": "ms", "long_name": "time lag"}),
              **coords}
    attrs = {
        "long_name": "spike-to-signal kernels",
        "description": "signal per presynaptic spike; convolve with spikes per bin",
        "spec": network.to_json(indent=None),
        "probes": json.dumps(probe_defs),  # insertion order = probe_channel order
        "dt": dt, "t_X": t_X, "tau_max": tau, "g_eff": bool(g_eff), "fir": bool(fir),
        "Vrest": json.dumps(vrest_json(Vrest)), "linearisation": json.dumps(modes),
        "n_positions": int(n_positions), "seed": int(seed), "averaging": averaging,
        **({"depth_nodes": depth_nodes} if averaging == "depth" else {}),
        "operating_point": operating_point,
        "versions": json.dumps(versions(), sort_keys=True),
        "content_hash": digest, "format_version": FORMAT_VERSION,
        "engine_version": ENGINE_VERSION,
    }
    return KernelPlan(
        probes=named, probe_defs=probe_defs, inputs=inputs, digest=digest, X=X, Y=Y,
        dt=dt, tau=tau, t_X=t_X, n_lags=n_lags, grid=grid, g_eff=bool(g_eff), fir=bool(fir),
        n_positions=int(n_positions), seed=int(seed), vrest_by_post=vrest_by_post,
        shape=(len(X), len(Y), coords["probe_channel"][1].size, grid.lags.size),
        coords=coords, attrs=attrs, linearisation=modes, averaging=averaging,
        depth_nodes=depth_nodes, operating_point=operating_point)


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
        With the digest of ``values`` in ``attrs['values_sha256']`` (what a store
        compares to tell these kernels from modified ones).
    """
    attrs = {**plan.attrs, VALUES_DIGEST_ATTR: values_digest(values)}
    return xr.DataArray(values, dims=CORE_DIMS, coords=dict(plan.coords), name=KERNEL_NAME,
                        attrs=attrs)


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

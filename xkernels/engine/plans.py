"""Typed plans: what a kernel computation needs, derived and checked before simulating.

* :class:`KernelPlan` -- one whole computation (``prepare_kernels`` builds it; the
  engine, the cached ``compute_kernels`` of the store and the sweeps read it).
* :class:`PopulationPlan` -- one postsynaptic population on its cell: the g_eff leak
  shift and, per presynaptic population, an :class:`InputPlan` (per-segment weights,
  synapse time constants, delay filter).  :func:`plan_population` builds it.

Plans are frozen: nothing downstream rewrites them.  They hold numpy arrays, so they
compare by identity (``eq=False``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry
from xkernels.engine.timeline import LagGrid
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions


@dataclass(frozen=True, eq=False)
class KernelPlan:
    """A validated kernel computation: everything but the simulated values.

    Attributes
    ----------
    probes : Mapping[str, Any]
        The forward models by name, in ``probe_channel`` order.
    probe_defs : Mapping[str, dict]
        Their JSON definitions (``params`` is None for probes that cannot be described:
        :func:`xkernels.probes.probe_definitions`).
    inputs : Mapping[str, Any]
        The canonical description of the computation (what ``digest`` hashes).
    digest : str
        SHA-256 content hash of ``inputs``.
    X, Y : tuple of str
        Presynaptic and postsynaptic populations.
    options : KernelOptions
        The options of the computation.
    grid : LagGrid
        The lags computed and the delay taps (:func:`~xkernels.engine.timeline.regular_grid`
        unless the compat layer asks for the reference's).
    vrest_by_post : Mapping[str, float or ndarray]
        Vrest (mV) per postsynaptic population: one number or one value per segment.
    shape : tuple of int
        Shape of the values: ``(len(X), len(Y), n_channels, n_tau)``.
    coords, attrs : Mapping[str, Any]
        Coordinates and attributes of the kernels DataArray (read-only by convention).
    linearisation : Mapping[str, str]
        Membrane linearisation mode per postsynaptic population (see
        :mod:`xkernels.engine.membrane`).

    Examples
    --------
    :func:`xkernels.engine.prepare_kernels` builds it; nothing is simulated:

    >>> import xkernels
    >>> from xkernels.engine import prepare_kernels
    >>> plan = prepare_kernels(xkernels.Network.example(),
    ...                        {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                        xkernels.KernelOptions(tau=5.0))
    >>> plan.X, plan.Y, plan.shape                  # (X, Y, probe_channel, tau)
    (('E', 'I'), ('E', 'I'), (2, 2, 1, 161))
    >>> plan.probe_defs
    {'cdm': {'class': 'xkernels.probes.CurrentDipoleMomentZ', 'params': {'components': 'z'}}}
    >>> len(plan.digest), plan.attrs["content_hash"] == plan.digest
    (64, True)
    """

    probes: Mapping[str, Any]
    probe_defs: Mapping[str, dict]
    inputs: Mapping[str, Any]
    digest: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    options: KernelOptions
    grid: LagGrid
    vrest_by_post: Mapping[str, float | np.ndarray]
    shape: tuple[int, int, int, int]
    coords: Mapping[str, Any]
    attrs: Mapping[str, Any]
    linearisation: Mapping[str, str] = field(default_factory=dict)

    def membrane_mode(self, post: str, linear: bool) -> str:
        """The membrane linearisation used for ``post``: its mode, except that
        ``"quasi-active"`` on a linear cell (only ``pas``: a membrane that turns out
        passive once built, as ``linearisation="auto"`` takes a cell built by the
        user's code) is ``"as-is"``, the same linear membrane without the settling and
        the gating system, and ``operating_point="mean-input"`` settles a linear
        ``"as-is"`` cell under the mean input as ``"passive"`` (the same membrane).

        Parameters
        ----------
        post : str
            The postsynaptic population.
        linear : bool
            Whether its cell's membrane is linear (only ``pas``).

        Returns
        -------
        str
            One of :data:`~xkernels.spec.options.LINEARISATIONS`.

        Raises
        ------
        ValueError
            ``"mean-input"`` with an ``"as-is"`` cell whose membrane is not linear (it
            has no resting state to linearise around unless a linearisation is chosen).

        Examples
        --------
        >>> import xkernels
        >>> from xkernels.engine import prepare_kernels
        >>> plan = prepare_kernels(xkernels.Network.example(),
        ...                        {"cdm": xkernels.CurrentDipoleMomentZ()},
        ...                        xkernels.KernelOptions(operating_point="mean-input"))
        >>> plan.membrane_mode("E", linear=True)
        'passive'
        """
        mode = self.linearisation.get(post, "as-is")
        if mode == "quasi-active" and linear:
            mode = "as-is"  # a passive membrane is its own small-signal limit
        if self.options.operating_point != "mean-input" or mode != "as-is":
            return mode
        if not linear:
            raise ValueError(f"operating_point='mean-input' needs the cell of population "
                             f"{post!r} at a resting state under the mean input: its "
                             "membrane is active and its linearisation is 'as-is'; choose "
                             "linearisation 'passive', 'frozen' or 'quasi-active' for it")
        return "passive"


@dataclass(frozen=True, eq=False)
class InputPlan:
    """The synaptic volley one spike of a presynaptic population causes on a cell.

    Attributes
    ----------
    weights : ndarray
        Linearised weight per segment (nA), shape (nseg,).
    tau1, tau2 : float
        Rise and decay time constants of the synapse (ms).
    h_delay : ndarray
        Delay filter taps at ``LagGrid.delay_times``.

    Examples
    --------
    The input of the inhibitory population onto the excitatory cell of the example
    network, as :func:`plan_population` plans it:

    >>> import xkernels
    >>> from xkernels.engine.cells import LinearisedCell
    >>> from xkernels.engine.timeline import regular_grid
    >>> network = xkernels.Network.example()
    >>> pop = network.population("E")
    >>> with LinearisedCell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0) as cell:
    ...     geometry = cell.geometry                # 27 segments (µm)
    >>> plan = plan_population(network, "E", geometry, vrest=-65.0, g_eff=True,
    ...                        grid=regular_grid(dt=0.0625, n_lags=80, fir=False))
    >>> item = plan.inputs["I"]
    >>> item.tau1, item.tau2, item.weights.shape
    (0.1, 9.0, (27,))
    >>> round(float(item.weights.sum()), 3)   # peak current (nA) at -65 mV: hyperpolarising
    -61.441
    >>> round(float(item.h_delay.sum()), 6)         # the delay taps sum to one
    1.0
    """

    weights: np.ndarray
    tau1: float
    tau2: float
    h_delay: np.ndarray


@dataclass(frozen=True, eq=False)
class PopulationPlan:
    """Everything needed to simulate the inputs of one postsynaptic population.

    Attributes
    ----------
    g_shift : ndarray
        Leak conductance added per segment by g_eff (S/cm²), shape (nseg,); zeros
        without g_eff.
    inputs : Mapping[str, InputPlan]
        Presynaptic population -> its input, in the network's population order.
    e_shift : ndarray or None
        Reversal potential of ``g_shift`` per segment (mV): the conductance-weighted mean
        of the reversal potentials of the synapses it comes from (extrinsic and
        recurrent), NaN where ``g_shift`` is 0; None without g_eff.  The mean input of
        ``operating_point="mean-input"`` is ``g_shift`` taken with this reversal.

    Examples
    --------
    The plan of the excitatory population of the example network, as
    :func:`plan_population` makes it:

    >>> import xkernels
    >>> from xkernels.engine.cells import LinearisedCell
    >>> from xkernels.engine.timeline import regular_grid
    >>> network = xkernels.Network.example()
    >>> pop = network.population("E")
    >>> with LinearisedCell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0) as cell:
    ...     geometry = cell.geometry                # 27 segments (µm)
    >>> plan = plan_population(network, "E", geometry, vrest=-65.0, g_eff=True,
    ...                        grid=regular_grid(dt=0.0625, n_lags=80, fir=False))
    >>> list(plan.inputs)
    ['E', 'I']
    >>> plan.g_shift.shape, bool((plan.g_shift > 0).all())   # S/cm² added to every leak
    ((27,), True)
    """

    g_shift: np.ndarray
    inputs: Mapping[str, InputPlan]
    e_shift: np.ndarray | None = None


def plan_population(network: Network, post: str, geometry: Geometry,
                    vrest: float | np.ndarray, g_eff: bool, grid: LagGrid,
                    memo: dict | None = None, depth: float | None = None) -> PopulationPlan:
    """Plan (and so validate) the inputs of ``post`` on its cell, before simulating.

    Parameters
    ----------
    network : Network
        The network specification.
    post : str
        The postsynaptic population.
    geometry : Geometry
        Its cell's segment geometry.
    vrest : float or ndarray
        Vrest of ``post`` (mV), as returned by
        :meth:`xkernels.KernelOptions.vrest_of`.
    g_eff : bool
        Compute the g_eff leak shift (else zeros).
    grid : LagGrid
        The lags of the computation (the delay filter is evaluated at its
        ``delay_times``).
    memo : dict, optional
        Owned by the caller: caches the costly pieces (placement probabilities,
        synapse counts, delay filters, extrinsic leak shift) between calls that share
        ``geometry`` and the same sub-specifications, as a parameter sweep does.
        Results are the same with or without it.
    depth : float, optional
        For depth averaging: the cell's soma is ``depth`` µm from the population's
        ``loc`` (``geometry`` is the cell at ``loc``).  Its synapses are placed at its own
        depth by the densities as given (not widened by the population's ``scale``), and
        a connection none of whose eligible segments lies in its depth window at that
        depth gives the cell no synapses.  None (default): the cell at ``loc`` with the
        widened densities (``averaging="reference"``).

    Returns
    -------
    PopulationPlan

    Raises
    ------
    ValueError
        A per-segment ``vrest`` whose length is not the cell's number of segments, or
        a placement that does not fit the cell (the field is named).

    Examples
    --------
    The inputs of the excitatory population of the example network on its cell,
    linearised at -65 mV, lags -5..5 ms:

    >>> import xkernels
    >>> from xkernels.engine.cells import LinearisedCell
    >>> from xkernels.engine.timeline import regular_grid
    >>> network = xkernels.Network.example()
    >>> pop = network.population("E")
    >>> with LinearisedCell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0) as cell:
    ...     geometry = cell.geometry                # 27 segments (µm)
    >>> plan = plan_population(network, "E", geometry, vrest=-65.0, g_eff=True,
    ...                        grid=regular_grid(dt=0.0625, n_lags=80, fir=False))
    >>> {x: (item.tau1, item.tau2) for x, item in plan.inputs.items()}   # ms
    {'E': (0.2, 1.8), 'I': (0.1, 9.0)}
    >>> round(float(plan.inputs["E"].weights.sum()), 3)     # peak current (nA), all segments
    6.406

    Without g_eff the leak is not shifted:

    >>> plan = plan_population(network, "E", geometry, vrest=-65.0, g_eff=False,
    ...                        grid=regular_grid(dt=0.0625, n_lags=80, fir=False))
    >>> float(abs(plan.g_shift).max())
    0.0

    A Vrest per segment must match the cell:

    >>> plan_population(network, "E", geometry, vrest=np.full(10, -65.0), g_eff=True,
    ...                 grid=regular_grid(dt=0.0625, n_lags=80, fir=False))
    Traceback (most recent call last):
    ...
    ValueError: Vrest for population 'E' has 10 values; its cell has 27 segments (one
    value per segment, or one number)
    """
    pop = network.population(post)
    nseg = geometry.nseg
    if isinstance(vrest, np.ndarray) and vrest.size != nseg:
        raise ValueError(f"Vrest for population {post!r} has {vrest.size} values; its cell "
                         f"has {nseg} segments (one value per segment, or one number)")
    counts = input_counts(network, post, geometry, memo, depth)
    g_inputs, e_inputs = [], []
    inputs = {}
    for conn in network.inputs(post):
        into, out = counts[conn.pre]
        syn = conn.synapse
        if g_eff:
            rate = network.population(conn.pre).rate  # None: see KernelOptions.resolve
            g_inputs.append(lin.leak_shift(geometry.area, into, syn.weight, syn.tau1,
                                           syn.tau2, rate or 0.0))
            e_inputs.append(syn.e)
        weights = lin.segment_weights(syn.weight, syn.e, vrest, out,
                                      network.conductance_based)
        inputs[conn.pre] = InputPlan(weights=weights, tau1=syn.tau1, tau2=syn.tau2,
                                     h_delay=delay_taps(conn.delay, grid, memo))
    if not g_eff:
        return PopulationPlan(g_shift=np.zeros(nseg), inputs=inputs, e_shift=None)
    g_shift, e_shift = summed_leak(extrinsic_leak(pop, geometry, memo), g_inputs, e_inputs)
    return PopulationPlan(g_shift=g_shift, inputs=inputs, e_shift=e_shift)


def input_counts(network: Network, post: str, geometry: Geometry, memo: dict | None = None,
                 depth: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Expected synapses per segment of every input of ``post`` on its cell.

    Parameters
    ----------
    network, post, geometry, memo, depth
        As for :func:`plan_population`.

    Returns
    -------
    dict
        Presynaptic population -> ``(into, out)``, each of shape (nseg,): the synapses
        one postsynaptic cell receives per segment (``p k_in``: they set the g_eff leak
        shift) and those one presynaptic spike activates (``p k_out``: they set the
        volley's weights), with ``p`` the placement probability.

    Raises
    ------
    ValueError
        A placement that does not fit the cell (the field is named).

    Examples
    --------
    >>> import xkernels
    >>> from xkernels.engine.cells import cable_cell
    >>> network = xkernels.Network.example()
    >>> pop = network.population("E")
    >>> geometry = cable_cell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0).geometry
    >>> into, out = input_counts(network, "E", geometry)["I"]
    >>> round(float(into.sum()), 3), round(float(out.sum()), 3)   # per E cell, per I spike
    (256.003, 2048.024)
    """
    pop = network.population(post)
    spread = pop.scale if depth is None else 0.0
    out = {}
    for conn in network.inputs(post):
        field = f"connections['{conn.key}'].placement"
        p = _memo(memo, ("placement", id(geometry), field, spread, depth, conn.placement),
                  _placement, conn.placement, geometry, depth, spread, field)
        n_pre = network.population(conn.pre).size
        k_in, k_out = _memo(memo, ("counts", conn.key, conn.probability, n_pre, pop.size,
                                   conn.multapses),
                            lin.synapse_counts, conn, n_pre, pop.size)
        out[conn.pre] = (p * k_in, p * k_out)
    return out


def _placement(placement: Any, geometry: Geometry, depth: float | None, spread: float,
               field: str) -> np.ndarray:
    """:func:`~xkernels.engine.linearisation.placement_probability` on ``geometry``
    (its soma ``depth`` µm from the population's ``loc``, or at it for None)."""
    z_mid = geometry.z_mid if depth is None else geometry.z_mid + depth
    return lin.placement_probability(placement, geometry.sections, z_mid, geometry.area,
                                     spread, field, depth is not None)


def delay_taps(delay: Any, grid: LagGrid, memo: dict | None = None) -> np.ndarray:
    """The delay filter of ``delay`` (a connection's delay distribution) at the lag
    grid's ``delay_times`` (:func:`~xkernels.engine.linearisation.delay_filter`), kept in
    ``memo`` per distribution (the same array object for equal distributions)."""
    return _memo(memo, ("delay", grid.delay_key, delay), lin.delay_filter,
                 delay, grid.delay_times)


def extrinsic_leak(pop: Any, geometry: Geometry, memo: dict | None = None
                   ) -> tuple[np.ndarray, float]:
    """The g_eff leak shift of the extrinsic synapses of ``pop`` (S/cm² per segment)
    and their reversal potential (mV; 0 without extrinsic synapses)."""
    g_ext = _memo(memo, ("ext", id(geometry), pop.n_ext, pop.nu_ext, pop.ext_synapse),
                  lin.ext_leak_shift, pop, geometry.area)
    return g_ext, 0.0 if pop.ext_synapse is None else pop.ext_synapse.e


def summed_leak(extrinsic: tuple[np.ndarray, float], conductances: list,
                reversals: list) -> tuple[np.ndarray, np.ndarray]:
    """The g_eff leak shift of a cell and the reversal potential of its mean input.

    Parameters
    ----------
    extrinsic : tuple
        ``(g, e)`` of the extrinsic synapses (:func:`extrinsic_leak`).
    conductances : list of ndarray
        Leak shift of each input (S/cm²; arrays broadcasting together, e.g. (nseg,) or
        (n_samples, nseg)).
    reversals : list of float or ndarray
        Reversal potential of each input's synapses (mV), broadcasting likewise.

    Returns
    -------
    tuple of ndarray
        ``(g_shift, e_shift)``: the summed conductance and the conductance-weighted
        mean reversal (NaN where ``g_shift`` is 0), as :class:`PopulationPlan` holds
        them.

    Examples
    --------
    >>> g, e = summed_leak((np.array([1.0, 0.0]), 0.0), [np.array([1.0, 0.0])], [-80.0])
    >>> g.tolist(), float(e[0]), bool(np.isnan(e[1]))
    ([2.0, 0.0], -40.0, True)
    """
    g_shift, e_ext = extrinsic
    g_rev = g_shift * e_ext  # Σ_k g_k E_k (S/cm² mV): with g_shift, the mean input's reversal
    for g, e in zip(conductances, reversals):
        g_shift = g_shift + g
        g_rev = g_rev + g * e
    with np.errstate(invalid="ignore", divide="ignore"):
        e_shift = np.where(g_shift > 0, g_rev / g_shift, np.nan)
    return g_shift, e_shift


#: Entries of a cached cell's placement memo (:func:`plan_memo`) before it is emptied.
PLAN_MEMO_KEPT = 256


def plan_memo(cell: Any) -> dict | None:
    """The memo of :func:`plan_population` kept with a cached cell (a
    :class:`~xkernels.engine.cells.CableCell`: the same geometry object in every
    computation of the process), so that placement probabilities, synapse counts, delay
    filters and the extrinsic leak shift are computed once per cell and sub-specification; None (no
    caching) for a NEURON cell.  Its keys are the values the pieces are computed from
    (the geometry by identity: the memo lives with it)."""
    memo = getattr(cell, "memo", None)
    if memo is None:
        return None
    found = memo.get("plan_population")
    if found is None or len(found) >= PLAN_MEMO_KEPT:
        found = memo["plan_population"] = {}
    return found


def cell_memo(cell: Any, plan: KernelPlan, pop: Any, what: str, compute: Callable[[], Any],
              *extra: Any) -> Any:
    """``compute()``, kept in ``cell.memo`` (a cached cell's store of what depends only
    on its geometry) under the probe definitions, the population's spread and
    ``extra``; computed afresh when the cell has no memo or a probe is not described
    by its definition.

    Parameters
    ----------
    cell : object
        A cell; its ``memo`` dict, if any, is shared by every use of the same geometry.
    plan : KernelPlan
        The computation (its probe definitions).
    pop : Population
        The population (``radius``, ``loc``, ``scale``).
    what : str
        Names the quantity.
    compute : callable
        Computes it.
    *extra
        Further hashable parts of the key.
    """
    memo = getattr(cell, "memo", None)
    if memo is None or any(d.get("params") is None for d in plan.probe_defs.values()):
        return compute()
    probes = plan.attrs.get("probes")  # the definitions' JSON, in channel order
    if probes is None:
        probes = json.dumps(list(plan.probe_defs.items()), sort_keys=True)
    key = (what, probes, pop.radius,
           pop.loc, pop.scale, *extra)
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _memo(memo: dict | None, key: tuple, compute: Callable[..., Any], *args: Any) -> Any:
    """``compute(*args)``, cached in ``memo[key]`` when a memo dict is given."""
    if memo is None:
        return compute(*args)
    if key not in memo:
        memo[key] = compute(*args)
    return memo[key]

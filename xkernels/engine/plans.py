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


@dataclass(frozen=True, eq=False)
class KernelPlan:
    """A validated kernel computation: everything but the simulated values.

    Attributes
    ----------
    probes : Mapping[str, Any]
        The forward models by name, in ``probe_channel`` order.
    probe_defs : Mapping[str, dict]
        Their JSON definitions (``params`` is None for probes that cannot be described).
    inputs : Mapping[str, Any]
        The canonical description of the computation (what ``digest`` hashes).
    digest : str
        SHA-256 content hash of ``inputs``.
    X, Y : tuple of str
        Presynaptic and postsynaptic populations.
    dt : float
        Time step (ms).
    tau : float
        Half width of the kernel (ms), a whole multiple of ``dt``.
    t_X : float
        Presynaptic spike time for cells that must settle (ms).
    n_lags : int
        ``tau / dt``.
    grid : LagGrid
        The lags computed and the delay taps (:func:`~xkernels.engine.timeline.regular_grid`
        unless the compat layer asks for the reference's).
    g_eff, fir : bool
        The g_eff leak correction; causal lags only.
    n_positions, seed : int
        Cell positions averaged over by the probes, and their seed.
    vrest_by_post : Mapping[str, float or ndarray]
        Vrest (mV) per postsynaptic population: one number or one value per segment.
    shape : tuple of int
        Shape of the values: ``(len(X), len(Y), n_channels, n_tau)``.
    coords, attrs : Mapping[str, Any]
        Coordinates and attributes of the kernels DataArray (read-only by convention).
    linearisation : Mapping[str, str]
        Membrane linearisation mode per postsynaptic population (``"as-is"`` where
        missing; see :mod:`xkernels.engine.membrane`).
    averaging : str
        Population averaging: ``"reference"`` or ``"depth"``
        (:mod:`xkernels.engine.averaging`).
    depth_nodes : int
        Gauss–Hermite depth nodes of ``averaging="depth"``.
    """

    probes: Mapping[str, Any]
    probe_defs: Mapping[str, dict]
    inputs: Mapping[str, Any]
    digest: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    dt: float
    tau: float
    t_X: float
    n_lags: int
    grid: LagGrid
    g_eff: bool
    fir: bool
    n_positions: int
    seed: int
    vrest_by_post: Mapping[str, float | np.ndarray]
    shape: tuple[int, int, int, int]
    coords: Mapping[str, Any]
    attrs: Mapping[str, Any]
    linearisation: Mapping[str, str] = field(default_factory=dict)
    averaging: str = "reference"
    depth_nodes: int = 1

    @property
    def opaque_probes(self) -> list[str]:
        """Names of the probes whose definition cannot be stored."""
        return [name for name, d in self.probe_defs.items() if d.get("params") is None]


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
    """

    g_shift: np.ndarray
    inputs: Mapping[str, InputPlan]


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
        :func:`xkernels.engine.options.vrest_of_population`.
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
    """
    pop = network.population(post)
    nseg = geometry.nseg
    if isinstance(vrest, np.ndarray) and vrest.size != nseg:
        raise ValueError(f"Vrest for population {post!r} has {vrest.size} values; its cell "
                         f"has {nseg} segments (one value per segment, or one number)")
    z_mid = geometry.z_mid if depth is None else geometry.z_mid + depth
    spread = pop.scale if depth is None else 0.0
    if g_eff:
        ext = None if pop.ext_synapse is None else tuple(pop.ext_synapse.to_dict().items())
        g_shift = _memo(memo, ("ext", id(geometry), pop.n_ext, pop.nu_ext, ext),
                        lin.ext_leak_shift, pop, geometry.area)
    else:
        g_shift = np.zeros(nseg)
    inputs = {}
    for conn in network.inputs(post):
        field = f"connections['{conn.key}'].placement"
        p = _memo(memo, ("placement", id(geometry), field, spread, depth,
                         _key(conn.placement)),
                  lin.placement_probability, conn.placement, geometry.sections, z_mid,
                  geometry.area, spread, field, depth is not None)
        n_pre = network.population(conn.pre).size
        k_in, k_out = _memo(memo, ("counts", conn.key, conn.probability, n_pre, pop.size,
                                   _key(conn.multapses)),
                            lin.synapse_counts, conn, n_pre, pop.size)
        syn = conn.synapse
        if g_eff:
            rate = network.population(conn.pre).rate  # None: warned by check_network_inputs
            g_shift = g_shift + lin.leak_shift(geometry.area, p * k_in, syn.weight, syn.tau1,
                                               syn.tau2, rate or 0.0)
        weights = lin.segment_weights(syn.weight, syn.e, vrest, p * k_out,
                                      network.conductance_based)
        h_delay = _memo(memo, ("delay", id(grid), _key(conn.delay)),
                        lin.delay_filter, conn.delay, grid.delay_times)
        inputs[conn.pre] = InputPlan(weights=weights, tau1=syn.tau1, tau2=syn.tau2,
                                     h_delay=h_delay)
    return PopulationPlan(g_shift=g_shift, inputs=inputs)


def _key(part: Any) -> str:
    """Canonical text of a sub-specification (a memo key)."""
    return json.dumps(part.to_dict(), sort_keys=True)


def _memo(memo: dict | None, key: tuple, compute: Callable[..., Any], *args: Any) -> Any:
    """``compute(*args)``, cached in ``memo[key]`` when a memo dict is given."""
    if memo is None:
        return compute(*args)
    if key not in memo:
        memo[key] = compute(*args)
    return memo[key]

"""compute_kernels: network × probes → the kernels DataArray.

For every postsynaptic population Y one representative cell is built and linearised
(the g_eff leak shift depends on all inputs of Y, not on which X is probed), the
forward-model matrices of every probe are computed once for that cell, and one short
simulation per presynaptic population X gives the membrane-current response to the
volley of synapses that one spike of X causes on average.  The responses are mapped
through the probes, smeared by the delay distribution and cut to the kernel window.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xkernels.engine import linearisation as lin
from xkernels.contract import FORMAT_VERSION, KERNEL_NAME
from xkernels.spec.network import Network

DEFAULT_DT = 2.0 ** -4
DEFAULT_TAU = 50.0
DEFAULT_T_X = 200.0


# --------------------------------------------------------------------------------------
# validation of the computation options
# --------------------------------------------------------------------------------------
def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_options(dt: float, tau: float, t_X: float, g_eff: bool, fir: bool,
                  conductance_based: bool) -> tuple[float, float, float, int]:
    """Validate time options; return (dt, tau, t_X, n_lags)."""
    dt = _number("dt", dt)
    if dt <= 0:
        raise ValueError(f"dt must be > 0 (ms), got {dt!r}")
    tau = _number("tau", tau)
    if tau < dt:
        raise ValueError(f"tau must be >= dt = {dt} ms, got {tau!r}")
    n_lags = int(round(tau / dt))
    if abs(n_lags * dt - tau) > 1e-9 * max(tau, 1.0):
        raise ValueError(f"tau must be a whole multiple of dt = {dt} ms, got {tau!r}")
    t_X = _number("t_X", t_X)
    if t_X < tau:
        raise ValueError(f"t_X must be >= tau = {tau} ms, got {t_X!r}")
    for name, flag in (("g_eff", g_eff), ("fir", fir)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if g_eff and not conductance_based:
        raise ValueError("g_eff=True requires a conductance-based network "
                         "(network.conductance_based is False); pass g_eff=False")
    return dt, tau, t_X, n_lags


def _vrest_for(vrest: Any, post: str) -> Any:
    """Vrest of postsynaptic population ``post``: a float or a per-segment array."""
    if isinstance(vrest, Mapping):
        if post not in vrest:
            raise ValueError(f"Vrest is a dict without an entry for population {post!r}; "
                             f"keys: {sorted(vrest)}")
        vrest = vrest[post]
        name = f"Vrest[{post!r}]"
    else:
        name = "Vrest"
    if isinstance(vrest, (list, tuple, np.ndarray)):
        arr = np.asarray(vrest, dtype=float)
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be a number or a 1-D list of finite values (mV)")
        return arr
    return _number(name, vrest)


def _vrest_json(vrest: Any) -> Any:
    if isinstance(vrest, Mapping):
        return {str(k): _vrest_json(v) for k, v in vrest.items()}
    if isinstance(vrest, (list, tuple, np.ndarray)):
        return [float(v) for v in np.asarray(vrest, dtype=float)]
    return float(vrest)


def check_network_inputs(network: Network, g_eff: bool) -> None:
    """Fields needed by the g_eff correction."""
    if not g_eff:
        return
    for post in network.postsynaptic:
        pop = network.population(post)
        if pop.n_ext > 0 and pop.nu_ext > 0 and pop.ext_synapse is None:
            raise ValueError(f"populations[{post!r}].ext_synapse must be given when g_eff=True "
                             f"and n_ext = {pop.n_ext} > 0")


# --------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from xkernels._version import __version__

    out = {"xkernels": __version__}
    for dist in ("neuron", "LFPy", "LFPykit"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything the kernels depend on."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def kernel_inputs(network: Network, probe_defs: Mapping[str, Any], *, dt: float, tau: float,
                  t_X: float, Vrest: Any, g_eff: bool, fir: bool, n_positions: int,
                  seed: int) -> dict[str, Any]:
    """The canonical description of a kernel computation (hashed for caching)."""
    return {"format_version": FORMAT_VERSION, "spec": network.to_dict(),
            "probes": [[name, d] for name, d in probe_defs.items()],  # order matters
            "dt": dt, "tau": tau, "t_X": t_X,
            "Vrest": _vrest_json(Vrest), "g_eff": bool(g_eff), "fir": bool(fir),
            "n_positions": int(n_positions), "seed": int(seed)}


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
        when that has no ``e_pas``.
    g_eff : bool
        Add the mean conductance of recurrent and extrinsic synapses to the leak.
    fir : bool
        Return only the causal lags ``dt..tau``.
    n_positions, seed : int
        Cell positions averaged over for point/line-source probes, and their seed.
    Returns
    -------
    xarray.DataArray
        Dims (X, Y, probe_channel, tau); values in the units of each channel
        (``units`` coordinate) per spike of the presynaptic population.
    """
    prep = prepare_kernels(network, probes, dt=dt, tau=tau, t_X=t_X, Vrest=Vrest,
                           g_eff=g_eff, fir=fir, n_positions=n_positions, seed=seed)
    return simulate_kernels(network, prep)


def simulate_kernels(network: Network, prep: Mapping[str, Any]) -> xr.DataArray:
    """Simulate the kernels of a computation prepared by :func:`prepare_kernels`."""
    n_positions, seed, fir = (prep["attrs"]["n_positions"], prep["attrs"]["seed"],
                              prep["attrs"]["fir"])
    g_eff = prep["attrs"]["g_eff"]
    X, Y, n_lags = prep["X"], prep["Y"], prep["n_lags"]
    dt, tau, t_X = prep["attrs"]["dt"], prep["attrs"]["tau_max"], prep["attrs"]["t_X"]
    vrest_by_post = prep["vrest_by_post"]
    values = np.zeros(prep["shape"])

    from xkernels.engine.cells import LinearisedCell

    def build(post: str) -> LinearisedCell:
        pop = network.population(post)
        return LinearisedCell(pop.cell, pop, dt, _e_pas_default(vrest_by_post[post]))

    # validation pass: every cell-dependent input is checked before any simulation; the
    # last cell stays open and is simulated first (building a cell deletes all others)
    plans, last = {}, None
    for k, post in enumerate(Y):
        cell = build(post)
        try:
            plans[post] = _plan_population(network, post, cell.geometry, vrest_by_post[post],
                                           g_eff, dt, n_lags)
        except BaseException:
            cell.close()
            raise
        if k < len(Y) - 1:
            cell.close()
        else:
            last = cell
    for j in reversed(range(len(Y))):
        post = Y[j]
        with (last if j == len(Y) - 1 else build(post)) as cell:
            plan = plans[post]
            cell.shift_g_pas(plan["g_shift"])
            matrix = probes_matrix(prep["named"], cell.geometry, network.population(post),
                                   n_positions, seed)
            for pre, item in plan["inputs"].items():
                i = X.index(pre)
                imem = cell.synaptic_response(item["weights"], item["tau1"], item["tau2"],
                                              tau, t_X)
                values[i, j] = lin.finish_kernel(matrix @ imem, item["h_delay"], fir)

    return label_kernels(values, prep)


def prepare_kernels(network: Network, probes: Any, *, dt: float, tau: float, t_X: float,
                    Vrest: Any, g_eff: bool, fir: bool, n_positions: int,
                    seed: int) -> dict[str, Any]:
    """Validate the inputs of a kernel computation and derive everything but the values.

    Parameters are those of :func:`compute_kernels`.  Nothing is simulated.

    Returns
    -------
    dict
        ``named`` (probes by name), ``probe_defs``, ``digest`` (content hash), ``X``,
        ``Y``, ``n_lags``, ``vrest_by_post``, ``shape`` (of the values), ``coords``
        and ``attrs`` of the kernels DataArray.
    """
    from xkernels.probes import models as probe_lib

    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    dt, tau, t_X, n_lags = check_options(dt, tau, t_X, g_eff, fir, network.conductance_based)
    if isinstance(n_positions, bool) or not isinstance(n_positions, (int, np.integer)) \
            or n_positions < 1:
        raise ValueError(f"n_positions must be a positive integer, got {n_positions!r}")
    named = probe_lib.normalize_probes(probes)
    vrest_by_post = {post: _vrest_for(Vrest, post) for post in network.postsynaptic}
    check_network_inputs(network, g_eff)
    probe_defs = {}
    for name, probe in named.items():
        try:
            probe_defs[name] = probe_lib.probe_definition(probe)
        except TypeError:
            probe_defs[name] = {"class": f"{type(probe).__module__}.{type(probe).__qualname__}",
                                "params": None}
    inputs = kernel_inputs(network, probe_defs, dt=dt, tau=tau, t_X=t_X, Vrest=Vrest,
                           g_eff=g_eff, fir=fir, n_positions=n_positions, seed=seed)
    digest = content_hash(inputs)
    channel_meta = [probe_lib.probe_channels(name, probe) for name, probe in named.items()]
    coords = _merge_channel_coords(channel_meta)
    X = network.presynaptic
    Y = network.postsynaptic
    n_tau = n_lags if fir else 2 * n_lags + 1
    tau_axis = (np.arange(1, n_lags + 1) if fir else np.arange(-n_lags, n_lags + 1)) * dt
    coords = {"X": np.asarray(X, dtype=str), "Y": np.asarray(Y, dtype=str),
              "tau": ("tau", tau_axis, {"units": "ms", "long_name": "time lag"}), **coords}
    attrs = {
        "long_name": "spike-to-signal kernels",
        "description": "signal per presynaptic spike; convolve with spikes per bin",
        "spec": network.to_json(indent=None),
        "probes": json.dumps(probe_defs),  # insertion order = probe_channel order
        "dt": dt, "t_X": t_X, "tau_max": tau, "g_eff": bool(g_eff), "fir": bool(fir),
        "Vrest": json.dumps(_vrest_json(Vrest)),
        "n_positions": int(n_positions), "seed": int(seed),
        "versions": json.dumps(dict(_versions()), sort_keys=True),
        "content_hash": digest, "format_version": FORMAT_VERSION,
    }
    return {"named": named, "probe_defs": probe_defs, "inputs": inputs, "digest": digest,
            "X": X, "Y": Y, "n_lags": n_lags, "vrest_by_post": vrest_by_post,
            "shape": (len(X), len(Y), coords["probe_channel"][1].size, n_tau),
            "coords": coords, "attrs": attrs}


def label_kernels(values: Any, prep: Mapping[str, Any]) -> xr.DataArray:
    """The kernels DataArray of ``values`` (shape ``prep['shape']``) from
    :func:`prepare_kernels` output."""
    return xr.DataArray(values, dims=("X", "Y", "probe_channel", "tau"),
                        coords=prep["coords"], name=KERNEL_NAME, attrs=dict(prep["attrs"]))


def probes_matrix(named: Mapping[str, Any], geometry, pop, n_positions: int,
                  seed: int) -> np.ndarray:
    """All probes' transformation matrices for one cell, stacked: (n_channels, nseg).

    ``geometry`` is a :class:`xkernels.cells.Geometry`, ``pop`` the population whose
    spatial spread (radius, loc, scale) is averaged over.
    """
    from xkernels.probes import models as probe_lib

    lfpykit_geometry = geometry.to_lfpykit()
    population = {"radius": pop.radius, "loc": pop.loc, "scale": pop.scale}
    return np.concatenate([
        probe_lib.probe_matrix(probe, lfpykit_geometry, population, n_positions=n_positions,
                               seed=seed)
        for probe in named.values()], axis=0)


def _e_pas_default(vrest: Any) -> float | None:
    return vrest if isinstance(vrest, float) else None


def _merge_channel_coords(metas: list[dict]) -> dict:
    out: dict[str, tuple[str, np.ndarray]] = {}
    for key in metas[0]:
        out[key] = ("probe_channel", np.concatenate([m[key][1] for m in metas]))
    labels = out["probe_channel"][1].tolist()
    dupes = sorted({v for v in labels if labels.count(v) > 1})
    if dupes:
        raise ValueError(f"probe channel labels must be unique; duplicated: {dupes}")
    return out


def _plan_population(network: Network, post: str, geometry, vrest: Any, g_eff: bool,
                     dt: float, n_lags: int, memo: dict | None = None) -> dict:
    """Everything needed to simulate the inputs of ``post``, checked before simulating.

    ``memo`` (optional, a dict owned by the caller) caches the costly pieces
    (placement probabilities, synapse counts, delay filters, extrinsic leak shift)
    between calls that share ``geometry`` and the same sub-specifications, as a
    parameter sweep does; results are the same with or without it.
    """
    pop = network.population(post)
    nseg = geometry.nseg
    if isinstance(vrest, np.ndarray) and vrest.size != nseg:
        raise ValueError(f"Vrest for population {post!r} has {vrest.size} values; its cell "
                         f"has {nseg} segments (one value per segment, or one number)")
    z_mid = geometry.z_mid
    if g_eff:
        ext = None if pop.ext_synapse is None else tuple(pop.ext_synapse.to_dict().items())
        g_shift = _memo(memo, ("ext", id(geometry), pop.n_ext, pop.nu_ext, ext),
                        lin.ext_leak_shift, pop, geometry.area)
    else:
        g_shift = np.zeros(nseg)
    inputs = {}
    for conn in network.inputs(post):
        field = f"connections['{conn.key}'].placement"
        p = _memo(memo, ("placement", id(geometry), field, pop.scale, _key(conn.placement)),
                  lin.placement_probability, conn.placement, geometry.sections, z_mid,
                  geometry.area, pop.scale, field)
        n_pre = network.population(conn.pre).size
        k_in, k_out = _memo(memo, ("counts", conn.key, conn.probability, n_pre, pop.size,
                                   _key(conn.multapses)),
                            lin.synapse_counts, conn, n_pre, pop.size)
        syn = conn.synapse
        if g_eff:
            g_shift = g_shift + lin.leak_shift(geometry.area, p * k_in, syn.weight, syn.tau1,
                                               syn.tau2, network.population(conn.pre).rate)
        weights = lin.segment_weights(syn.weight, syn.e, vrest, p * k_out,
                                      network.conductance_based)
        h_delay = _memo(memo, ("delay", dt, n_lags, _key(conn.delay)),
                        lin.delay_filter, conn.delay, dt, n_lags)
        inputs[conn.pre] = {"weights": weights, "tau1": syn.tau1, "tau2": syn.tau2,
                            "h_delay": h_delay}
    return {"g_shift": g_shift, "inputs": inputs}


def _key(part: Any) -> str:
    """Canonical text of a sub-specification (a memo key)."""
    return json.dumps(part.to_dict(), sort_keys=True)


def _memo(memo: dict | None, key: tuple, compute, *args):
    """``compute(*args)``, cached in ``memo[key]`` when a memo dict is given."""
    if memo is None:
        return compute(*args)
    if key not in memo:
        memo[key] = compute(*args)
    return memo[key]

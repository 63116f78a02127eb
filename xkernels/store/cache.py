"""compute_kernels: network × probes × options → the kernels DataArray, optionally
cached in a Zarr store.

The one public kernel computation: the engine's (:mod:`xkernels.engine.kernels`) plus
``store=``: kernels whose content hash matches are read back instead of simulated, new
kernels are written atomically.  It lives here, above both the engine and the store, so
that the engine never depends on storage.

A store is served only when it vouches for its values (:mod:`xkernels.provenance`):
provenance ``"computed"``, the requested content hash -- which includes the engine
version (:data:`xkernels.engine.kernels.ENGINE_VERSION`) -- and values whose digest is
the one recorded at write.  Kernels of the same inputs computed by another engine
version are recomputed and replaced (with a warning);
derived kernels (scaled, subset, hand-made) and stores whose values changed on disk are
refused unless ``overwrite=True``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from xkernels.contract import COMPUTED, DERIVED, PROVENANCE_ATTR
from xkernels.engine import kernels as engine
from xkernels.provenance import content_hash, require_described, unvouched
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.spec.paths import join_path
from xkernels.store.attrs import parse_json_attr
from xkernels.store.kernel_store import open_kernels, read_attrs, write_kernels
from xkernels.store.matching import leaf_diffs, parameter_tokens, short


def compute_kernels(network: Network, probes: Any,
                    options: KernelOptions | Mapping[str, Any] | None = None, *,
                    store: str | Path | None = None, overwrite: bool = False,
                    **option_kwargs: Any) -> xr.DataArray:
    """Spike-to-signal kernels of every X → Y connection of ``network``.

    For every postsynaptic population Y one representative cell is built and linearised,
    the forward-model matrices of every probe are computed once for that cell, and one
    short simulation per presynaptic population X gives the membrane-current response
    to the volley of synapses that one spike of X causes on average; the responses are
    mapped through the probes, smeared by the delay distribution and cut to the kernel
    window.  Thread-safe: NEURON is used by one computation at a time, and only the
    sections the computation created are deleted.

    Parameters
    ----------
    network : Network
        The network specification (see :class:`xkernels.Network`).
    probes : dict or list
        Forward models (``lfpykit.LinearModel`` instances created with ``cell=None``):
        a dict name → probe, or a list (names derived from the class).  Never modified.
    options : KernelOptions or dict, optional
        The options of the computation (:class:`xkernels.KernelOptions`: times in ms,
        Vrest in mV, linearisation, averaging, operating point ...); default: the
        defaults (``averaging="depth"``, ``g_eff`` and ``operating_point`` ``"auto"``:
        resolved for ``network`` by :meth:`xkernels.KernelOptions.resolve`, and so
        recorded in the attributes, the content hash and ``store``).
        ``averaging="reference", operating_point="rest"`` reproduce LFPykernels 0.2.0.
    store : str or path, optional
        Zarr store used as a cache: returned if it holds these kernels as computed by
        this engine version (content hash, provenance ``"computed"`` and the digest of
        its values all check out); computed and written if it does not exist;
        recomputed and replaced, with a warning, if it holds the same inputs computed
        by another engine version; refused
        (ValueError) if it holds other or derived kernels, or values changed on disk,
        unless ``overwrite=True``.
    overwrite : bool
        Replace a store holding kernels of different inputs, derived kernels or
        values that no longer match their digest.
    **option_kwargs
        Fields of :class:`xkernels.KernelOptions` (``tau=10.0`` ...), replacing those of
        ``options``.

    Returns
    -------
    xarray.DataArray
        Dims (X, Y, probe_channel, tau); values in the units of each channel
        (``units`` coordinate) per spike of the presynaptic population; the options in
        the attributes (``options``, JSON, and one attribute each).

    Raises
    ------
    TypeError, ValueError
        Bad inputs, refused before anything is simulated (the message names the field,
        the value and what is allowed); a cell that cannot be linearised as asked
        (named with the mode, population, segment and mechanism), refused before any
        kernel is simulated; probes that cannot be described when ``store`` is given;
        a store holding other kernels without ``overwrite``.

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
    (298.0, 3.0)
    >>> round(float(H.sel(X="I", Y="E", probe_channel="cdm:z").min()), 1)
    -5795.6

    The attributes record the options as computed ("auto" resolved for the network):

    >>> H.attrs["averaging"], H.attrs["g_eff"], H.attrs["operating_point"]
    ('depth', True, 'mean-input')

    LFPykernels 0.2.0's kernels (one cell at the mean depth, synapses linearised at
    Vrest):

    >>> H_ref = compute_kernels(xkernels.Network.example(),
    ...                         {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.0,
    ...                         averaging="reference", operating_point="rest")
    >>> round(float(H_ref.sel(X="E", Y="E", probe_channel="cdm:z").max()), 1)
    304.4

    With a store, the second call reads the kernels back instead of simulating them:

    >>> options = xkernels.KernelOptions(tau=5.0)
    >>> H = compute_kernels(xkernels.Network.example(),
    ...                     {"cdm": xkernels.CurrentDipoleMomentZ()}, options, store="k.zarr")
    >>> H2 = compute_kernels(xkernels.Network.example(),
    ...                      {"cdm": xkernels.CurrentDipoleMomentZ()}, options, store="k.zarr")
    >>> bool((H2 == H).all())
    True
    """
    plan = engine.prepare_kernels(network, probes, KernelOptions.of(options, **option_kwargs))
    if store is None:
        return engine.simulate_kernels(network, plan)
    require_described(plan.probe_defs, f"kernel store {str(store)!r}")
    cached = cached_kernels(store, plan, overwrite)
    if cached is not None:
        return cached
    H = engine.simulate_kernels(network, plan)
    write_kernels(H, store, overwrite=True)
    H.attrs[PROVENANCE_ATTR] = COMPUTED  # as read back from the store
    return H


def cached_kernels(store: str | Path, plan: Any, overwrite: bool) -> xr.DataArray | None:
    """The kernels in ``store`` if it vouches for the computation ``plan``; None when
    they have to be computed (no store; stale; or replaced with ``overwrite``).

    Parameters
    ----------
    store : str or Path
        The cache.
    plan : KernelPlan
        The requested computation (its ``digest`` and ``inputs``).
    overwrite : bool
        Replace a store that cannot be served.

    Raises
    ------
    ValueError
        ``store`` holds kernels of other inputs, derived kernels, or values that do not
        match their digest, and ``overwrite`` is False.

    Warns
    -----
    UserWarning
        ``store`` holds the same inputs computed by another engine version: it is
        recomputed.
    """
    path = Path(store)
    if not path.exists():
        return None
    attrs = read_attrs(path)  # also refuses non-kernel stores
    stored_hash = attrs.get("content_hash")
    if stored_hash == plan.digest:
        H = open_kernels(path).load()
        reason = unvouched(attrs, H)
        if reason is None:
            return H
        return _refuse(path, f"matches the requested inputs but {reason}", overwrite)
    stale_version = _same_inputs_other_engine(attrs, plan.inputs)
    if stale_version is not None:
        return _stale(path, f"was computed by engine version {stale_version} (this is "
                            f"version {engine.ENGINE_VERSION}; numbers have changed since)")
    reason = unvouched(attrs)
    if attrs.get(PROVENANCE_ATTR) == DERIVED:
        return _refuse(path, f"cannot be served: {reason}", overwrite)
    differences = input_differences(attrs, plan.attrs)
    return _refuse(path, f"holds kernels of different inputs ({differences})", overwrite)


#: The attributes of kernels that describe their inputs (compared when a store holds
#: kernels of other inputs).
_INPUT_ATTRS = ("spec", "probes", "options", "Vrest", "linearisation", "format_version",
                "engine_version")


def input_differences(stored: Mapping[str, Any], requested: Mapping[str, Any],
                      n: int = 3) -> str:
    """The inputs in which stored kernels differ from the requested ones, named.

    Parameters
    ----------
    stored, requested : Mapping[str, Any]
        Kernel attributes (``spec``, ``probes``, ``options``... as JSON text).
    n : int
        How many differences to name.

    Returns
    -------
    str
        ``"connections['E->E'].synapse.weight: stored 0.00012, requested 0.0002; ..."``,
        parameters named as sweeps name them (:func:`xkernels.spec.paths.join_path`).

    Examples
    --------
    >>> input_differences({"options": '{"dt": 0.0625, "tau": 5.0}'},
    ...                   {"options": '{"dt": 0.0625, "tau": 10.0}'})
    'options.tau: stored 5.0, requested 10.0'
    """
    spec = parse_json_attr(stored.get("spec"))
    found = []
    for key in _INPUT_ATTRS:
        for leaf, old, new in leaf_diffs(parse_json_attr(stored.get(key)),
                                         parse_json_attr(requested.get(key)), (key,)):
            tokens = parameter_tokens(leaf, spec)
            name = join_path(tokens) if tokens != leaf else ".".join(leaf)
            found.append(f"{name}: stored {short(old, 80)}, requested {short(new, 80)}")
    if not found:
        return (f"content hash {stored.get('content_hash')!r}, requested "
                f"{requested.get('content_hash')!r}")
    more = f"; and {len(found) - n} more" if len(found) > n else ""
    return "; ".join(found[:n]) + more


def _same_inputs_other_engine(attrs: Mapping[str, Any], inputs: Mapping[str, Any]
                              ) -> Any:
    """The engine version of a store holding ``inputs`` computed by another engine
    version, else None."""
    stored = attrs.get("content_hash")
    version = attrs.get("engine_version")
    if version is not None and version != engine.ENGINE_VERSION and \
            content_hash({**inputs, "engine_version": version}) == stored:
        return version
    return None


def _stale(path: Path, why: str) -> None:
    warnings.warn(f"kernel store {str(path)!r} {why}: recomputing and replacing it",
                  UserWarning, stacklevel=4)


def _refuse(path: Path, why: str, overwrite: bool) -> None:
    if overwrite:
        return None
    raise ValueError(f"store {str(path)!r} {why}; compute_kernels will not serve it as "
                     "computed kernels: pass overwrite=True to recompute and replace it, "
                     "or use another path")

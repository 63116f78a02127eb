"""Kernel computation with a Zarr store as its cache.

:func:`compute_kernels` is the engine's computation plus ``store=``: kernels whose
content hash matches are read back instead of simulated, new kernels are written
atomically.  It lives here, above both the engine and the store, so that the engine
never depends on storage.

A store is served only when it vouches for its values (:mod:`xkernels.provenance`):
provenance ``"computed"``, the requested content hash -- which includes the engine
version (:data:`xkernels.engine.kernels.ENGINE_VERSION`) -- and values whose digest is
the one recorded at write.  Kernels of the same inputs computed by an older engine, or
written by an xkernels without digests, are recomputed and replaced (with a warning);
derived kernels (scaled, subset, hand-made) and stores whose values changed on disk are
refused unless ``overwrite=True``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from xkernels.contract import COMPUTED, DERIVED, PROVENANCE_ATTR
from xkernels.engine import kernels as engine
from xkernels.provenance import content_hash, require_described, unvouched
from xkernels.spec.network import Network
from xkernels.store.kernel_store import open_kernels, read_attrs, write_kernels


def compute_kernels(
    network: Network,
    probes: Any,
    *,
    dt: float = engine.DEFAULT_DT,
    tau: float = engine.DEFAULT_TAU,
    t_X: float = engine.DEFAULT_T_X,
    Vrest: float | Sequence[float] | Mapping[str, Any] = -65.0,
    g_eff: bool = True,
    fir: bool = False,
    n_positions: int = 2000,
    seed: int = 1234,
    linearisation: str | Mapping[str, str] = "as-is",
    averaging: str = engine.DEFAULT_AVERAGING,
    depth_nodes: int = engine.DEFAULT_DEPTH_NODES,
    operating_point: str = "rest",
    store: str | Path | None = None,
    overwrite: bool = False,
) -> xr.DataArray:
    """Spike-to-signal kernels of every X → Y connection of ``network``, optionally cached.

    Parameters
    ----------
    network, probes, dt, tau, t_X, Vrest, g_eff, fir, n_positions, seed, linearisation
        As in :func:`xkernels.engine.kernels.compute_kernels` (times in ms, Vrest in mV;
        ``linearisation``: ``"as-is"``, ``"passive"``, ``"frozen"`` or
        ``"quasi-active"``, or a dict postsynaptic population -> mode).
    averaging : {"reference", "depth"}
        Population averaging (see :func:`xkernels.engine.kernels.compute_kernels`); part
        of the cache key and of the stored provenance (``attrs["averaging"]``).
    depth_nodes : int
        Gauss–Hermite depth nodes of ``averaging="depth"``.
    operating_point : {"rest", "mean-input"}
        Where conductance-based synapses are linearised (see
        :func:`xkernels.engine.kernels.compute_kernels`); part of the cache key (when not
        ``"rest"``) and of the stored provenance (``attrs["operating_point"]``).
    store : str or path, optional
        Zarr store used as a cache: returned if it holds these kernels as computed by
        this engine version (content hash, provenance ``"computed"`` and the digest of
        its values all check out); computed and written if it does not exist;
        recomputed and replaced, with a warning, if it holds the same inputs computed
        by another engine version (or by an xkernels without value digests); refused
        (ValueError) if it holds other or derived kernels, or values changed on disk,
        unless ``overwrite=True``.
    overwrite : bool
        Replace a store holding kernels of different inputs, derived kernels or
        values that no longer match their digest.

    Returns
    -------
    xarray.DataArray
        Dims (X, Y, probe_channel, tau); values in the units of each channel
        (``units`` coordinate) per spike of the presynaptic population.

    Raises
    ------
    ValueError
        Bad inputs (named), probes that cannot be described when ``store`` is given, or
        a store holding other kernels without ``overwrite``.

    Examples
    --------
    >>> import numpy as np
    >>> import xkernels
    >>> probes = {"lfp": xkernels.GaussCylinderPotential(z=np.linspace(1000., -200., 13),
    ...                                                  sigma=0.3, R=150., sigma_z=75.),
    ...           "cdm": xkernels.CurrentDipoleMomentZ()}
    >>> H = compute_kernels(xkernels.Network.example(), probes, tau=10., store="k.zarr")
    >>> dict(H.sizes)
    {'X': 2, 'Y': 2, 'probe_channel': 14, 'tau': 321}
    >>> H2 = compute_kernels(xkernels.Network.example(), probes, tau=10., store="k.zarr")
    >>> bool((H2 == H).all())                 # read back from the store, not simulated
    True
    """
    plan = engine.prepare_kernels(network, probes, dt=dt, tau=tau, t_X=t_X, Vrest=Vrest,
                                  g_eff=g_eff, fir=fir, n_positions=n_positions, seed=seed,
                                  linearisation=linearisation, averaging=averaging,
                                  depth_nodes=depth_nodes, operating_point=operating_point)
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
        ``store`` holds the same inputs computed by another engine version (or
        written without provenance): it is recomputed.
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
        if PROVENANCE_ATTR not in attrs:  # written before provenance: stale, recompute
            return _stale(path, "was written by an xkernels without provenance")
        return _refuse(path, f"matches the requested inputs but {reason}", overwrite)
    stale_version = _same_inputs_other_engine(attrs, plan.inputs)
    if stale_version is not None:
        return _stale(path, f"was computed by engine version {stale_version} (this is "
                            f"version {engine.ENGINE_VERSION}; numbers have changed since)")
    reason = unvouched(attrs)
    if attrs.get(PROVENANCE_ATTR) == DERIVED:
        return _refuse(path, f"cannot be served: {reason}", overwrite)
    return _refuse(path, f"holds kernels of different inputs (content hash {stored_hash!r}, "
                         f"requested {plan.digest!r})", overwrite)


def _same_inputs_other_engine(attrs: Mapping[str, Any], inputs: Mapping[str, Any]
                              ) -> Any:
    """The engine version of a store holding ``inputs`` computed by another engine
    version (``"unversioned"`` before versions were recorded), else None."""
    stored = attrs.get("content_hash")
    version = attrs.get("engine_version")
    if version is None:
        legacy = {k: v for k, v in inputs.items() if k != "engine_version"}
        return "unversioned" if content_hash(legacy) == stored else None
    if version != engine.ENGINE_VERSION and \
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

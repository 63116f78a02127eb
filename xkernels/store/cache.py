"""Kernel computation with a Zarr store as its cache.

:func:`compute_kernels` is the engine's computation plus ``store=``: kernels whose
content hash matches are read back instead of simulated, new kernels are written
atomically.  It lives here, above both the engine and the store, so that the engine
never depends on storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from xkernels.engine import kernels as engine
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
    store : str or path, optional
        Zarr store used as a cache: returned if its content hash matches, computed
        and written if it does not exist, refused (ValueError) if it holds other
        kernels unless ``overwrite=True``.
    overwrite : bool
        Replace a store holding kernels of different inputs.

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
                                  linearisation=linearisation)
    if store is None:
        return engine.simulate_kernels(network, plan)
    opaque = plan.opaque_probes
    if opaque:
        raise ValueError(f"store= needs probes whose definition can be stored; {opaque} "
                         "cannot be described (their kernels could not be recomputed or "
                         "told apart in the cache)")
    cached = cached_kernels(store, plan.digest, overwrite)
    if cached is not None:
        return cached
    H = engine.simulate_kernels(network, plan)
    write_kernels(H, store, overwrite=True)
    return H


def cached_kernels(store: str | Path, digest: str, overwrite: bool) -> xr.DataArray | None:
    """The kernels in ``store`` if their content hash is ``digest``; None when the store
    does not exist or (with ``overwrite``) holds other kernels.

    Raises
    ------
    ValueError
        ``store`` holds kernels of other inputs and ``overwrite`` is False.
    """
    path = Path(store)
    if not path.exists():
        return None
    stored_hash = read_attrs(path).get("content_hash")  # also refuses non-kernel stores
    if stored_hash == digest:
        return open_kernels(path).load()
    if not overwrite:
        raise ValueError(f"store {str(path)!r} holds kernels of different inputs (content "
                         f"hash {stored_hash!r}, requested {digest!r}); pass "
                         "overwrite=True to replace it")
    return None

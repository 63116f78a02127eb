"""Rates and signals stores: time series written atomically, read back checked.

A rates store holds one variable ``rates`` with dims ``X`` and ``time`` (ms, regular;
spikes per bin of each population, or any finite values such as their fluctuations)
plus any other dims; a signals store holds ``signals`` with dims ``probe_channel`` and
``time`` plus any other dims (what :func:`xkernels.convolve` returns).  Both are Zarr
format 3 stores with consolidated metadata, written into a temporary sibling and
published only when complete (:func:`xkernels.store.datasets.write_dataset`), without
zarr warnings, and readable by a plain ``xr.open_zarr(path)``.

A ``dt`` attribute (ms), when present, must equal the spacing of the ``time``
coordinate: a store that says otherwise is refused on writing and on reading.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import xarray as xr

from xkernels.checks import fail
from xkernels.contract import TAU_RTOL, regular_spacing
from xkernels.store.datasets import write_dataset
from xkernels.store.layout import KernelStoreError, chunk_length

__all__ = ["RATES_NAME", "SIGNALS_NAME", "check_series", "open_rates", "open_signals",
           "write_rates", "write_signals"]

RATES_NAME = "rates"
SIGNALS_NAME = "signals"
#: dims every array of a kind must have
_DIMS = {RATES_NAME: ("X", "time"), SIGNALS_NAME: ("probe_channel", "time")}


def check_series(data: xr.DataArray, kind: str, where: str = "") -> float:
    """Check a rates or signals array; return its time step (ms).

    Parameters
    ----------
    data : xarray.DataArray
        The array.
    kind : {"rates", "signals"}
        What it must be.
    where : str
        Where it comes from (a store path), for error messages.

    Returns
    -------
    float
        The spacing of the ``time`` coordinate (ms).

    Raises
    ------
    TypeError
        Not a DataArray, or not real numbers.
    ValueError
        Missing dims or time coordinate, an irregular time axis, or a ``dt`` attribute
        (ms) differing from the time spacing.
    """
    what = f"{kind}{f' in {where}' if where else ''}"
    if not isinstance(data, xr.DataArray):
        fail(what, type(data).__name__, "an xarray.DataArray", TypeError)
    missing = [d for d in _DIMS[kind] if d not in data.dims]
    if missing:
        fail(f"{what} dims", data.dims, f"dims including {_DIMS[kind]} (missing {missing})")
    if data.dtype.kind not in "uif":
        fail(f"{what} dtype", str(data.dtype), "a real number dtype (int or float)", TypeError)
    if "time" not in data.coords:
        raise ValueError(f"{what} has no 'time' coordinate (ms, regularly spaced)")
    dt = regular_spacing(data.coords["time"].values, f"{what} time coordinate")
    if "dt" in data.attrs:
        attr = data.attrs["dt"]
        try:
            agrees = math.isclose(float(attr), dt, rel_tol=TAU_RTOL)
        except (TypeError, ValueError):
            agrees = False
        if not agrees:
            raise ValueError(f"{what}: attribute dt = {attr!r} ms disagrees with the spacing "
                             f"of its time coordinate, {dt!r} ms; they must be equal (fix "
                             "or drop the attribute)")
    return dt


def _chunks(data: xr.DataArray) -> dict[str, int]:
    """Chunks to write: :func:`~xkernels.store.layout.chunk_length` along time for numpy data; dask
    chunks kept where zarr can store them (equal but for a smaller last one), else the
    largest chunk of that dim."""
    if data.chunks is None:
        per_sample = max(1, data.dtype.itemsize * data.size // max(data.sizes["time"], 1))
        return {"time": chunk_length(data.sizes["time"], per_sample)}
    out = {}
    for dim, sizes in zip(data.dims, data.chunks, strict=True):
        if len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]:
            out[dim] = max(sizes)
    return out


def _write(data: xr.DataArray, path: str | os.PathLike, kind: str, overwrite: bool,
           progress: bool, client: Any) -> None:
    dt = check_series(data, kind)
    data = data.rename(kind)
    if "dt" not in data.attrs:
        data = data.assign_attrs(dt=dt)
    if "units" not in data.coords["time"].attrs:
        data = data.assign_coords(time=data.coords["time"].assign_attrs(units="ms"))
    chunks = _chunks(data)
    if chunks:
        data = data.chunk(chunks)
    write_dataset(data.to_dataset(), Path(path), overwrite=overwrite, progress=progress,
                  what=f"{kind} store", client=client)


def write_rates(rates: xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False,
                progress: bool = False, client: Any = None) -> None:
    """Write population rates to a new Zarr rates store, atomically.

    Parameters
    ----------
    rates : xarray.DataArray
        Dims ``X`` and ``time`` (ms, regular) plus any others; spikes per bin (or any
        finite values).  numpy- or dask-backed (dask arrays are written chunk by
        chunk).  Stored as variable ``rates`` with a ``dt`` attribute (ms).
    path : str or os.PathLike
        Store directory; its parent folder is created if needed.
    overwrite : bool
        Replace what is at ``path`` once the new store is complete.
    progress : bool
        Dask progress bar on stderr.
    client : None, "sync", int, str or distributed.Client
        Where dask-backed rates are computed and written, as for :func:`write_signals`.

    Raises
    ------
    TypeError, ValueError
        Bad rates (see :func:`check_series`), before anything is written.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import xkernels
    >>> rates = xkernels.rates_from_spikes({"E": [1.0, 2.5], "I": [3.0]}, t_start=0.,
    ...                                    t_stop=10., dt=2**-4)
    >>> write_rates(rates, "rates.zarr")
    >>> import xarray as xr
    >>> float(xr.open_zarr("rates.zarr")["rates"].sum())
    3.0
    """
    _write(rates, path, RATES_NAME, overwrite, progress, client)


def write_signals(signals: xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False,
                  progress: bool = False, client: Any = None) -> None:
    """Write predicted signals to a new Zarr signals store, atomically.

    Parameters
    ----------
    signals : xarray.DataArray
        Dims ``probe_channel`` and ``time`` (ms, regular) plus any others, as returned
        by :func:`xkernels.convolve` (lazy signals are computed chunk by chunk while
        being written, never held in memory whole).  Values in each channel's units.
    path : str or os.PathLike
        Store directory; its parent folder is created if needed.
    overwrite : bool
        Replace what is at ``path`` once the new store is complete.
    progress : bool
        Dask progress bar on stderr (with ``client`` None or ``"sync"``; a cluster has
        its dashboard).
    client : None, "sync", int, str or distributed.Client
        Where lazy values are computed and written: None, dask's current scheduler;
        ``"sync"``, this process; an int, a local cluster of that many processes; a
        scheduler address or a Client, that cluster, whose workers write the chunks
        (they need the store's folder on a shared file system).

    Raises
    ------
    TypeError, ValueError
        Bad signals (see :func:`check_series`), before anything is written.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import xkernels
    >>> rates = xkernels.rates_from_spikes({"E": [1.0, 2.5], "I": [3.0]}, t_start=0.,
    ...                                    t_stop=10., dt=2**-4)
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> write_signals(rates.xk.convolve(H), "signals.zarr")
    >>> import xarray as xr
    >>> xr.open_zarr("signals.zarr")["signals"].dims
    ('probe_channel', 'time')
    """
    _write(signals, path, SIGNALS_NAME, overwrite, progress, client)


def _open(path: str | os.PathLike, kind: str, var: str) -> xr.DataArray:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{kind} store {str(path)!r} does not exist")
    import zarr

    try:
        ds = xr.open_zarr(path)
    except (zarr.errors.BaseZarrError, OSError) as err:  # not a Zarr store
        first = str(err).splitlines()[0] if str(err) else ""
        raise KernelStoreError(f"{kind} store {str(path)!r} is not a readable Zarr store "
                               f"({type(err).__name__}: {first})") from None
    if var not in ds.data_vars:
        raise KernelStoreError(f"{kind} store {str(path)!r} has no variable {var!r} "
                               f"(variables: {list(ds.data_vars)})")
    data = ds[var]
    try:
        check_series(data, kind, repr(str(path)))
    except (TypeError, ValueError) as err:
        raise KernelStoreError(str(err)) from None
    return data


def open_rates(path: str | os.PathLike, var: str = RATES_NAME) -> xr.DataArray:
    """Open the rates of a rates store lazily, checked.

    Parameters
    ----------
    path : str or os.PathLike
        Store written by :func:`write_rates` (or any Zarr store with such a variable).
    var : str
        Name of the rates variable.

    Returns
    -------
    xarray.DataArray
        Dask-backed rates, dims ``X``, ``time`` (ms) and any others.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KernelStoreError
        (a ``ValueError``) Not a Zarr store, no such variable, missing dims, or a
        ``dt`` attribute that disagrees with the time coordinate.

    Examples
    --------
    >>> import xkernels
    >>> rates = xkernels.rates_from_spikes({"E": [1.0, 2.5], "I": [3.0]}, t_start=0.,
    ...                                    t_stop=10., dt=2**-4)
    >>> write_rates(rates, "opened_rates.zarr")
    >>> open_rates("opened_rates.zarr").sizes["time"]
    160
    """
    return _open(path, RATES_NAME, var)


def open_signals(path: str | os.PathLike, var: str = SIGNALS_NAME) -> xr.DataArray:
    """Open the signals of a signals store lazily, checked (as :func:`open_rates`).

    Parameters
    ----------
    path : str or os.PathLike
        Store written by :func:`write_signals` (or any Zarr store with such a variable).
    var : str
        Name of the signals variable.

    Returns
    -------
    xarray.DataArray
        Dask-backed signals, dims ``probe_channel``, ``time`` (ms) and any others, in
        each channel's units.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KernelStoreError
        (a ``ValueError``) Not a Zarr store, no such variable or missing dims.

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> rates = xkernels.rates_from_spikes({"E": [1.0, 2.5], "I": [3.0]}, t_start=0.,
    ...                                    t_stop=10., dt=2**-4)
    >>> write_signals(rates.xk.convolve(H), "opened_signals.zarr")
    >>> open_signals("opened_signals.zarr").dims
    ('probe_channel', 'time')
    """
    return _open(path, SIGNALS_NAME, var)

"""Whole kernel stores: write them atomically, open them checked, read their provenance.

:func:`write_kernels` writes a complete store into a temporary sibling directory,
fsyncs it and only then moves it into place (:mod:`xkernels.store.publish`): a store
at ``path`` is always complete, old or new.  :func:`open_kernels` refuses what is not
a kernel store of a format version this xkernels reads, and a sweep store with points
that are not done unless ``allow_incomplete=True``.  The layout on disk is described
in :mod:`xkernels.store.layout`.
"""

from __future__ import annotations

import os
from typing import Any

import xarray as xr

from xkernels.contract import KERNEL_NAME
from xkernels.provenance import stamped_attrs
from xkernels.store.attrs import restore_strings
from xkernels.store.layout import check_replaceable, check_storable, write_store
from xkernels.store.reading import (
    KernelStoreError,
    as_path,
    open_dataset,
    read_done,
    stored_kernels,
)

__all__ = ["KernelStoreError", "open_kernels", "read_attrs", "write_kernels"]


def write_kernels(H: xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write kernels to a new Zarr store, atomically.

    The store records the digest of the values it holds and their provenance
    (:mod:`xkernels.provenance`): ``"computed"`` for kernels as the engine
    returned them (or as read from a computed store), ``"derived"`` for anything else
    -- scaled, a subset of channels or lags, made by hand -- which
    :func:`xkernels.store.compute_kernels` never serves as computed kernels.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels honouring the data contract (dims ``(..., X, Y, probe_channel, tau)``,
        tau in ms with spacing ``attrs['dt']`` (ms), units per channel, provenance
        attrs).  Numpy- or dask-backed; dask arrays are computed chunk by chunk.
    path : str or os.PathLike
        Store directory.  Its parent is created if needed.
    overwrite : bool
        Replace an existing store.  Until the new store is complete the old one stays
        at ``path``; then they are swapped.

    Raises
    ------
    ValueError, TypeError
        If ``H`` breaks the data contract, or ``overwrite`` would replace something
        that is not a kernel store; nothing is created on disk.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> write_kernels(H, "written.zarr")
    >>> import xarray as xr
    >>> xr.open_zarr("written.zarr")["kernels"].dims
    ('X', 'Y', 'probe_channel', 'tau')
    """
    path = as_path(path)
    sweep_dims = check_storable(H)
    check_replaceable(path, overwrite)
    stamped = H.copy(deep=False)
    stamped.attrs = stamped_attrs(H)
    write_store(stamped, path, sweep_dims, done=True, overwrite=overwrite)


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance attrs of a kernel store without reading its kernel values.

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    dict
        The attributes of ``kernels`` (``content_hash``, ``spec``, ``dt`` in ms, ...).

    Raises
    ------
    FileNotFoundError, KernelStoreError
        As :func:`open_kernels`.

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> write_kernels(H, "attrs.zarr")
    >>> attrs = read_attrs("attrs.zarr")
    >>> attrs["dt"], attrs["g_eff"]
    (0.0625, True)
    """
    return dict(stored_kernels(as_path(path)).attrs)


def open_kernels(path: str | os.PathLike, *, allow_incomplete: bool = False) -> xr.DataArray:
    """Open the kernels of a store lazily (dask-backed).

    Parameters
    ----------
    path : str or os.PathLike
        Store directory written by :func:`write_kernels` or
        :func:`xkernels.store.create_sweep_store`.
    allow_incomplete : bool
        Return a sweep store whose points are not all written (missing points read
        as NaN).  By default such a store is refused.

    Returns
    -------
    xarray.DataArray
        ``kernels`` with the coordinates (tau in ms, x, y, z in µm) and attributes
        that were written; values in the units of each channel (``units``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    KernelStoreError
        (a ``ValueError``) If ``path`` is not a kernel store, was written by a newer
        format version, or has incomplete sweep points.

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> write_kernels(H, "opened.zarr")
    >>> bool((open_kernels("opened.zarr") == H).all())
    True
    """
    path = as_path(path)
    ds = open_dataset(path)
    done = read_done(path)
    if not allow_incomplete and not done.all():
        raise KernelStoreError(f"kernel store {str(path)!r} is incomplete: "
                               f"{int(done.sum())} of {done.size} sweep points written "
                               "(pass allow_incomplete=True to open it anyway)")
    return restore_strings(ds[KERNEL_NAME])  # keeps the attrs

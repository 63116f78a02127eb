"""Any xarray Dataset to a new Zarr store, atomically (rates, signals, kernel stores).

The store is written into a temporary sibling of its path and published only when
complete (:mod:`xkernels.store.publish`), as Zarr format 3 with consolidated metadata
so that a plain ``xr.open_zarr(path)`` reads it.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any

import xarray as xr

from xkernels import runtime
from xkernels.contract import strings_as_objects
from xkernels.store.publish import publish, staged

#: Start of zarr's warning that consolidated metadata is not in the v3 specification.
CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"


def plain_strings(ds: xr.Dataset) -> xr.Dataset:
    """Copy of ``ds`` with fresh encodings and ``<U`` (or ``StringDType``) coordinates as
    Python str objects (Zarr variable-length strings, which have a specification, unlike
    numpy's ``<U``)."""
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {}
    new = {name: (coord.dims, strings_as_objects(coord.values), coord.attrs)
           for name, coord in ds.coords.items() if coord.dtype.kind in "UT"}
    return ds.assign_coords(new)


def write_dataset(ds: xr.Dataset, path: str | Path, *, overwrite: bool = False,
                  encoding: dict | None = None, compute: bool = True, progress: bool = False,
                  what: str = "output", client: Any = None) -> None:
    """Write a Dataset to a new consolidated Zarr 3 store, atomically, without zarr's
    warning that consolidated metadata is not in the Zarr 3 specification.

    Parameters
    ----------
    ds : xarray.Dataset
        Data to write (str coordinates are stored as variable-length strings).
    path : str or pathlib.Path
        Store directory; its parent folder is created if needed.
    overwrite : bool
        Replace whatever is at ``path`` once the new store is complete.
    encoding : dict, optional
        Per-variable Zarr encoding (chunks).
    compute : bool
        Write the values (False: metadata and in-memory coordinates only).
    progress : bool
        Dask progress bar on stderr.
    what : str
        What the store is, for error messages.
    client : None, "sync", int, str or distributed.Client
        Where dask-backed values are computed and written (see
        :func:`xkernels.runtime.compute`; None: dask's current scheduler).  Workers
        elsewhere need the store's folder on a shared file system.

    Raises
    ------
    FileExistsError
        ``path`` exists (or appears while writing) and ``overwrite`` is False; nothing
        is written.
    """
    runtime.check_client(client)
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise FileExistsError(f"{what} {str(path)!r} already exists "
                              "(pass overwrite=True to replace it)")
    with staged(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=CONSOLIDATED_WARNING)  # quiet: zarr 3
        deferred = client is not None or progress
        written = plain_strings(ds).to_zarr(tmp, mode="w-", encoding=encoding,
                                            consolidated=True, zarr_format=3,
                                            compute=compute and not deferred)
        if deferred and compute:  # the values, where asked, with a progress bar if asked
            from dask.diagnostics import ProgressBar

            bar = ProgressBar(dt=0.5, out=sys.stderr) if progress and client in (
                None, "sync") else contextlib.nullcontext()
            with bar:
                runtime.compute(written, client=client)
        publish(tmp, path, overwrite=overwrite, what=what)

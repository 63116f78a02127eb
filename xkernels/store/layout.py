"""The on-disk layout of a kernel store, and writing a new one.

A kernel store is a Zarr (format 3) group on the local file system holding

* ``kernels`` -- the kernels DataArray of the data contract (see
  :mod:`xkernels.contract`), provenance in its attributes, chunked one chunk per sweep
  point, the whole (X, Y, probe_channel) block, tau split to :data:`TARGET_CHUNK_BYTES`;
* ``done`` -- only when the kernels have sweep dims: a bool flag per sweep point
  (chunk 1 per point), True once that point's kernels are completely written;
* the coordinates, and consolidated metadata so that a plain ``xr.open_zarr(path)``
  works without xkernels and without warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CORE_DIMS, FORMAT_VERSION, KERNEL_NAME, check_kernels
from xkernels.store.attrs import checked_attrs, strings_as_objects
from xkernels.store.datasets import write_dataset

STORE_FORMAT_VERSION = FORMAT_VERSION
DONE_NAME = "done"
ROOT_VERSION_ATTR = "xkernels_format_version"
#: Bytes of one kernels chunk the tau chunk length aims at (16 MiB).
TARGET_CHUNK_BYTES = 16 * 2**20


def check_storable(H: xr.DataArray) -> tuple[str, ...]:
    """Refuse kernels that break the data contract or cannot be stored.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels (or a template of them) to write.

    Returns
    -------
    tuple of str
        The sweep dims (those before ``X, Y, probe_channel, tau``).

    Raises
    ------
    TypeError, ValueError
        Naming the first problem (dims, dtypes, dt vs tau spacing in ms, coordinates).
    """
    check_kernels(H)
    if H.dtype.kind != "f":
        raise ValueError(f"kernels must have a float dtype, got {H.dtype}")
    if len(set(H.dims)) != H.ndim:
        raise ValueError(f"kernels dims must be unique, got {H.dims}")
    step = float(np.diff(H.coords["tau"].values).mean())
    dt = H.attrs["dt"]
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.number)) or not np.isclose(
            step, float(dt), rtol=1e-9, atol=0.0):
        raise ValueError(f"kernels.attrs['dt'] must equal the tau spacing {step!r} ms, "
                         f"got {dt!r}")
    for name in ("X", "Y", "probe_channel", "probe", "units"):
        kind = H.coords[name].dtype.kind
        if kind not in "UOT":
            raise ValueError(f"coordinate {name!r} must hold str, got dtype "
                             f"{H.coords[name].dtype}")
    for name in ("x", "y", "z"):
        if H.coords[name].dtype.kind != "f":
            raise ValueError(f"coordinate {name!r} must be float (µm, NaN allowed), got "
                             f"dtype {H.coords[name].dtype}")
    sweep_dims = tuple(H.dims[:-len(CORE_DIMS)])
    for dim in sweep_dims:
        if dim not in H.coords:
            raise ValueError(f"sweep dim {dim!r} needs a coordinate with its parameter values")
        values = H.coords[dim].values
        if values.dtype.kind not in "iufUOT":
            raise ValueError(f"sweep coordinate {dim!r} must be numeric or str, got dtype "
                             f"{values.dtype}")
        if len(set(values.tolist())) != values.size:
            raise ValueError(f"sweep coordinate {dim!r} values must be unique, got "
                             f"{values.tolist()}")
    for name, coord in H.coords.items():
        if coord.dtype.kind == "O" and not all(isinstance(v, str) for v in coord.values.ravel()):
            raise ValueError(f"coordinate {name!r} has object dtype with non-str values")
        if coord.dtype.kind not in "iufbUOT":
            raise ValueError(f"coordinate {name!r} has unsupported dtype {coord.dtype}")
    return sweep_dims


def tau_chunk(H: xr.DataArray) -> int:
    """Tau chunk length (samples) so that one (X, Y, probe_channel) block is about
    :data:`TARGET_CHUNK_BYTES`."""
    block = H.sizes["X"] * H.sizes["Y"] * H.sizes["probe_channel"] * H.dtype.itemsize
    return int(min(H.sizes["tau"], max(1, TARGET_CHUNK_BYTES // max(block, 1))))


def chunks(H: xr.DataArray, sweep_dims: tuple[str, ...]) -> dict[str, int]:
    """Zarr chunks of ``kernels``: 1 per sweep point, whole core block, tau split."""
    out = {dim: 1 for dim in sweep_dims}
    out.update({dim: H.sizes[dim] for dim in ("X", "Y", "probe_channel")})
    out["tau"] = tau_chunk(H)
    return out


def dataset_for_zarr(H: xr.DataArray, sweep_dims: tuple[str, ...], done_value: bool,
                     data: Any = None) -> tuple[xr.Dataset, dict[str, dict]]:
    """The Dataset of a kernel store (str coords as objects, fresh encodings) and its
    Zarr encoding.

    Parameters
    ----------
    H : xarray.DataArray
        Checked kernels (:func:`check_storable`).
    sweep_dims : tuple of str
        Their sweep dims.
    done_value : bool
        Initial ``done`` flag of every sweep point.
    data : array, optional
        Values to write instead of ``H``'s (a lazy placeholder for sweep stores).

    Returns
    -------
    (xarray.Dataset, dict)
    """
    attrs = checked_attrs(H.attrs)
    sizes = chunks(H, sweep_dims)
    values = H.data if data is None else data
    if data is None and hasattr(values, "rechunk"):
        values = values.rechunk(tuple(sizes[d] for d in H.dims))
    kernels = xr.Variable(H.dims, values, attrs=attrs)
    coords = {}
    for name, coord in H.coords.items():
        vals = coord.values
        if vals.dtype.kind in "UOT":
            vals = strings_as_objects(vals)
        coords[name] = xr.Variable(coord.dims, vals, attrs=dict(coord.attrs))
    data_vars = {KERNEL_NAME: kernels}
    encoding = {KERNEL_NAME: {"chunks": tuple(sizes[d] for d in H.dims)}}
    if sweep_dims:
        import dask.array as dsa

        shape = tuple(H.sizes[d] for d in sweep_dims)
        flag = dsa.full(shape, done_value, dtype=bool, chunks=1)
        data_vars[DONE_NAME] = xr.Variable(sweep_dims, flag)
        encoding[DONE_NAME] = {"chunks": (1,) * len(sweep_dims)}
    ds = xr.Dataset(data_vars, coords=coords, attrs={ROOT_VERSION_ATTR: FORMAT_VERSION})
    return ds, encoding


def check_replaceable(path: Path, overwrite: bool) -> None:
    """Refuse an existing ``path`` unless overwriting a kernel store (of any version).

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        ``overwrite`` would replace something that is not a kernel store.
    """
    if not path.exists() and not path.is_symlink():
        return
    if not overwrite:
        raise FileExistsError(f"kernel store {str(path)!r} already exists "
                              "(pass overwrite=True to replace it)")
    if path.is_symlink() or not (path / KERNEL_NAME / "zarr.json").is_file():
        what = "a symlink" if path.is_symlink() else (
            "a directory without a 'kernels' zarr array" if path.is_dir() else "a file")
        raise ValueError(f"overwrite=True replaces kernel stores only; {str(path)!r} is {what}")


def write_store(ds: xr.Dataset, encoding: dict, path: Path, overwrite: bool,
                compute: bool = True) -> None:
    """Write a kernel store's Dataset to ``path`` atomically (see :func:`write_dataset`).

    Parameters
    ----------
    ds, encoding
        From :func:`dataset_for_zarr`.
    path : pathlib.Path
        Absolute store path.
    overwrite : bool
        Replace an existing kernel store (never anything else).
    compute : bool
        Write the values (False: arrays are created but not filled).
    """
    check_replaceable(path, overwrite)
    write_dataset(ds, path, overwrite=overwrite, encoding=encoding, compute=compute,
                  what="kernel store")

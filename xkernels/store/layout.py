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
from xkernels.store.attrs import checked_attrs
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
    sweep_dims = tuple(H.dims[:-len(CORE_DIMS)])
    missing = [dim for dim in sweep_dims if dim not in H.coords]
    if missing:
        raise ValueError(f"sweep dim {missing[0]!r} needs a coordinate with its parameter values")
    # coordinate -> (allowed dtype kinds, what they are); any other: numbers, bools, str
    allowed = {**dict.fromkeys(("X", "Y", "probe_channel", "probe", "units"), ("UOT", "str")),
               **dict.fromkeys(("x", "y", "z"), ("f", "float (µm, NaN allowed)")),
               **dict.fromkeys(sweep_dims, ("iufUOT", "numeric or str (sweep values)"))}
    for name, coord in H.coords.items():
        kinds, what = allowed.get(name, ("iufbUOT", "numeric, bool or str"))
        if coord.dtype.kind not in kinds or coord.dtype.kind == "O" and not all(
                isinstance(v, str) for v in coord.values.ravel()):
            raise ValueError(f"coordinate {name!r} must hold {what}, got dtype {coord.dtype}"
                             + (" with non-str values" if coord.dtype.kind == "O" else ""))
    for dim in sweep_dims:
        values = H.coords[dim].values
        if len(set(values.tolist())) != values.size:
            raise ValueError(f"sweep coordinate {dim!r} values must be unique, got "
                             f"{values.tolist()}")
    return sweep_dims


def chunk_length(n: int, sample_bytes: int, target: int | None = None) -> int:
    """Samples per chunk (1 .. ``n``) so that a chunk of ``sample_bytes`` per sample is
    about ``target`` bytes (default :data:`TARGET_CHUNK_BYTES`): the one chunking rule
    of every store (kernels along tau, rates and signals, hybrid ground truths along
    time)."""
    target = TARGET_CHUNK_BYTES if target is None else target
    return int(min(n, max(1, target // max(sample_bytes, 1))))


def tau_chunk(H: xr.DataArray) -> int:
    """Tau chunk length (samples) so that one (X, Y, probe_channel) block is about
    :data:`TARGET_CHUNK_BYTES`."""
    block = H.sizes["X"] * H.sizes["Y"] * H.sizes["probe_channel"] * H.dtype.itemsize
    return chunk_length(H.sizes["tau"], block)


def chunks(H: xr.DataArray, sweep_dims: tuple[str, ...]) -> dict[str, int]:
    """Zarr chunks of ``kernels``: 1 per sweep point, whole core block, tau split."""
    out = {dim: 1 for dim in sweep_dims}
    out.update({dim: H.sizes[dim] for dim in ("X", "Y", "probe_channel")})
    out["tau"] = tau_chunk(H)
    return out


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


def write_store(H: xr.DataArray, path: Path, sweep_dims: tuple[str, ...], *, done: bool,
                overwrite: bool, data: Any = None) -> None:
    """Write kernels as a kernel store at ``path``, atomically (see :func:`write_dataset`).

    Parameters
    ----------
    H : xarray.DataArray
        Checked kernels (:func:`check_storable`).
    path : pathlib.Path
        Absolute store path (checked with :func:`check_replaceable` by the caller).
    sweep_dims : tuple of str
        Their sweep dims.
    done : bool
        Initial ``done`` flag of every sweep point.
    overwrite : bool
        Replace an existing kernel store.
    data : array, optional
        A lazy placeholder written instead of ``H``'s values: the arrays are created,
        not filled (empty sweep stores).
    """
    sizes = chunks(H, sweep_dims)
    chunk_shape = tuple(sizes[d] for d in H.dims)
    values = H.data if data is None else data
    if data is None and hasattr(values, "rechunk"):
        values = values.rechunk(chunk_shape)
    ds = xr.Dataset({KERNEL_NAME: xr.Variable(H.dims, values, attrs=checked_attrs(H.attrs))},
                    coords=H.coords, attrs={ROOT_VERSION_ATTR: FORMAT_VERSION})
    encoding = {KERNEL_NAME: {"chunks": chunk_shape}}
    if sweep_dims:
        import dask.array as dsa

        shape = tuple(H.sizes[d] for d in sweep_dims)
        ds[DONE_NAME] = (sweep_dims, dsa.full(shape, done, dtype=bool, chunks=1))
        encoding[DONE_NAME] = {"chunks": (1,) * len(sweep_dims)}
    write_dataset(ds, path, overwrite=overwrite, encoding=encoding, compute=data is None,
                  what="kernel store")

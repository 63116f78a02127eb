"""The on-disk layout of a kernel store: writing a new one, opening one checked.

A kernel store is a Zarr (format 3) group on the local file system holding

* ``kernels`` -- the kernels DataArray of the data contract (see
  :mod:`xkernels.contract`), provenance in its attributes, chunked one chunk per sweep
  point, the whole (X, Y, probe_channel) block, tau split to :data:`TARGET_CHUNK_BYTES`;
* ``done`` -- only when the kernels have sweep dims: a bool flag per sweep point
  (chunk 1 per point), True once that point's kernels are completely written;
* the coordinates, and consolidated metadata so that a plain ``xr.open_zarr(path)``
  works without xkernels and without warnings.

Reading never writes (:mod:`xkernels.store.publish`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_real, fail
from xkernels.contract import CORE_DIMS, FORMAT_VERSION, KERNEL_NAME, check_kernels
from xkernels.store.attrs import checked_attrs, restore_strings
from xkernels.store.datasets import write_dataset

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
    dt = check_real("kernels.attrs['dt'] (ms)", H.attrs["dt"], positive=True)
    if not np.isclose(step, dt, rtol=1e-9, atol=0.0):
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
    KernelStoreError
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
        raise KernelStoreError(f"overwrite=True replaces kernel stores only; {str(path)!r} "
                               f"is {what}")


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


class KernelStoreError(ValueError):
    """A path is not a kernel store this version of xkernels can read.

    A subclass of ValueError, raised by the functions that open stores
    (:func:`xkernels.open_kernels`, :func:`xkernels.read_attrs`...) with the path
    and what was found there instead.

    Examples
    --------
    >>> from xkernels.store import open_kernels
    >>> _ = Path("notes.txt").write_text("not kernels")
    >>> open_kernels("notes.txt")
    Traceback (most recent call last):
    ...
    xkernels.store.layout.KernelStoreError: '.../notes.txt' is not a kernel store: found a
    regular file, expected a Zarr directory
    >>> Path("empty.zarr").mkdir()
    >>> try:
    ...     open_kernels("empty.zarr")
    ... except KernelStoreError as err:  # or ValueError
    ...     print(str(err).split(": ", 1)[1])
    no zarr.json, found entries []
    """


def as_path(path: str | os.PathLike) -> Path:
    """The absolute local path of a store.

    Raises
    ------
    TypeError
        ``path`` is not a str or os.PathLike.
    ValueError
        ``path`` is a URL.
    """
    if not isinstance(path, (str, os.PathLike)):
        fail("path", path, "a str or os.PathLike", TypeError)
    text = os.fspath(path)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", text):
        fail("path", text, "a local directory, not a URL")
    return Path(text).absolute()


def read_json(path: Path) -> dict | None:
    """A zarr.json document, or None if the file does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise KernelStoreError(f"{str(path)!r} is not readable zarr metadata: {err}") from None


def inspect_store(path: Path) -> dict:
    """Check that ``path`` is a kernel store this xkernels can read.

    Parameters
    ----------
    path : pathlib.Path
        Absolute store path.

    Returns
    -------
    dict
        The root group's metadata (zarr.json).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KernelStoreError
        Not a Zarr v3 group with a ``kernels`` array, or a newer format version.
    """
    if not path.exists():
        raise FileNotFoundError(f"no kernel store at {str(path)!r}: path does not exist")
    if not path.is_dir():
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: found a regular file, "
                               "expected a Zarr directory")
    root = read_json(path / "zarr.json")
    if root is None:
        found = sorted(p.name for p in path.iterdir())[:10]
        kind = "a Zarr v2 store" if (path / ".zgroup").exists() else f"entries {found}"
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: no zarr.json, found "
                               f"{kind}")
    if root.get("zarr_format") != 3 or root.get("node_type") != "group":
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: expected a Zarr v3 "
                               f"group, found zarr_format={root.get('zarr_format')!r} "
                               f"node_type={root.get('node_type')!r}")
    kernels = read_json(path / KERNEL_NAME / "zarr.json")
    if kernels is None or kernels.get("node_type") != "array":
        arrays = sorted(p.name for p in path.iterdir() if (p / "zarr.json").exists())
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: no {KERNEL_NAME!r} "
                               f"array, found arrays {arrays}")
    attrs = kernels.get("attributes", {})
    found = [root.get("attributes", {}).get(ROOT_VERSION_ATTR), attrs.get("format_version")]
    found = [v for v in found if v is not None]
    if not found:
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: {KERNEL_NAME!r} has no "
                               "'format_version' attribute")
    bad = [v for v in found if isinstance(v, bool) or not isinstance(v, int)]
    version = bad[0] if bad else max(found)
    if bad or version > FORMAT_VERSION:
        raise KernelStoreError(f"kernel store {str(path)!r} has format version {version!r}, "
                               f"this xkernels reads format versions up to {FORMAT_VERSION}; "
                               "upgrade xkernels")
    return root


_STORED_CACHE: dict[Path, tuple[tuple, xr.DataArray]] = {}


def _metadata_stamp(path: Path) -> tuple:
    """Changes whenever the store at ``path`` is created or replaced."""
    root, meta = path.stat(), (path / "zarr.json").stat()
    return root.st_ino, meta.st_ino, meta.st_mtime_ns, meta.st_size


def stored_kernels(path: Path) -> xr.DataArray:
    """Coordinates and attrs of a store's kernels (values lazy, never read here).

    Cached per store: coordinates and attrs never change after a store is created (a
    replaced or grown store has a new stamp).

    Parameters
    ----------
    path : pathlib.Path
        Absolute store path (checked here).

    Returns
    -------
    xarray.DataArray
        Dask-backed kernels, str coordinates as numpy ``<U``.
    """
    root = inspect_store(path)
    stamp = _metadata_stamp(path)
    cached = _STORED_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    consolidated = root.get("consolidated_metadata") is not None
    stored = restore_strings(xr.open_zarr(path, consolidated=consolidated)[KERNEL_NAME])
    _STORED_CACHE.clear()  # one store at a time is plenty
    _STORED_CACHE[path] = (stamp, stored)
    return stored


def read_done(path: Path) -> np.ndarray:
    """The ``done`` mask of a store, read with zarr (0-d True without sweep dims)."""
    import zarr

    group = zarr.open_group(path, mode="r")
    if DONE_NAME not in group:
        return np.ones((), dtype=bool)
    return np.asarray(group[DONE_NAME][...], dtype=bool)

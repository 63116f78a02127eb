"""Zarr kernel stores: atomic writes, validated opening, growing sweeps, summaries.

A kernel store is a Zarr (format 3) group on the local file system holding

* ``kernels`` -- the kernels DataArray of the data contract (see
  :mod:`xkernels.contract`), provenance in its attributes;
* ``done`` -- only when the kernels have sweep dims: a bool flag per sweep point
  (chunk 1 per point), True once that point's kernels are completely written;
* the coordinates, and consolidated metadata so that a plain ``xr.open_zarr(path)``
  works without xkernels and without warnings.

Strings are stored as Zarr's variable-length UTF-8 ``string`` type (zarr 3 warns
that numpy's fixed-width ``<U`` type has no stable specification) and read back as
``<U`` by :func:`open_kernels`.

Crash safety
------------
:func:`write_kernels` writes a complete store into a temporary sibling directory
(``.{name}.tmp-{host}-{pid}-{uuid}``), fsyncs it and only then moves it into place:
with ``renameat2(RENAME_EXCHANGE)`` (Linux) the old and new stores swap atomically;
elsewhere the old store is moved aside (``.{name}.old-...``) first and restored by
the next write if the process died between the two renames.  A store at ``path``
is therefore always complete.

A sweep store (:func:`create_sweep_store`) grows point by point
(:func:`write_point`): a point's chunks are written first and its ``done`` flag
after, so a process killed in between leaves a point that is simply not done and
is rewritten whole on resume (:func:`write_points` does the same for a block of
points: all data, then all flags).  :func:`open_kernels` refuses a store with points
that are not done unless ``allow_incomplete=True``.

:func:`extend_sweep_store` grows a sweep store by values appended along sweep dims:
a journal is written first, then coordinates, ``done``, ``kernels`` and the
consolidated metadata are updated (no kernel chunk is rewritten) and the journal is
removed.  A store left with a journal by a dead process is completed (rolled forward
to the new grid, new points not done) the next time xkernels opens it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import json
import math
import os
import re
import shutil
import socket
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CHANNEL_COORDS, CORE_DIMS, FORMAT_VERSION, KERNEL_NAME, validate_kernels

STORE_FORMAT_VERSION = FORMAT_VERSION
DONE_NAME = "done"
ROOT_VERSION_ATTR = "xkernels_format_version"
JSON_STRING_ATTRS = ("spec", "probes", "versions", "Vrest", "sweep_paths")
TARGET_CHUNK_BYTES = 16 * 2**20
_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


class KernelStoreError(ValueError):
    """A path is not a kernel store this version of xkernels can read."""


# ---------------------------------------------------------------------------------
# validation of what is written
# ---------------------------------------------------------------------------------


def _plain_json(value: Any, where: str) -> Any:
    """Return ``value`` with numpy scalars/arrays turned into JSON types, or raise."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number (JSON has no NaN/inf), "
                             f"got {value!r}")
        return value
    if isinstance(value, list):
        return [_plain_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} keys must be str, got {key!r}")
            out[key] = _plain_json(v, f"{where}[{key!r}]")
        return out
    raise ValueError(f"{where} must be JSON-compatible (str, int, float, bool, None, list, "
                     f"dict), got {type(value).__name__} {value!r}")


def _checked_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the provenance attributes of kernels to write."""
    out = {key: _plain_json(value, f"kernels.attrs[{key!r}]") for key, value in attrs.items()}
    for key in JSON_STRING_ATTRS:
        if key in out:
            if not isinstance(out[key], str):
                raise ValueError(f"kernels.attrs[{key!r}] must be a JSON string, got "
                                 f"{type(out[key]).__name__}")
            try:
                json.loads(out[key])
            except json.JSONDecodeError as err:
                raise ValueError(f"kernels.attrs[{key!r}] is not valid JSON: {err}") from None
    for key in ("dt", "t_X", "tau_max"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], (int, float))):
            raise ValueError(f"kernels.attrs[{key!r}] must be a number (ms), got {out[key]!r}")
    for key in ("g_eff", "fir"):
        if key in out and not isinstance(out[key], bool):
            raise ValueError(f"kernels.attrs[{key!r}] must be a bool, got {out[key]!r}")
    if not isinstance(out.get("content_hash"), str) or not out["content_hash"]:
        raise ValueError(f"kernels.attrs['content_hash'] must be a non-empty str, got "
                         f"{out.get('content_hash')!r}")
    version = out.setdefault("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"kernels.attrs['format_version'] is {version!r}; this xkernels "
                         f"writes format version {FORMAT_VERSION} only")
    return out


def _check_kernels(H: xr.DataArray) -> tuple[str, ...]:
    """Refuse kernels that break the data contract; return the sweep dims."""
    validate_kernels(H)
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


def _tau_chunk(H: xr.DataArray) -> int:
    """Tau chunk length so that one whole (X, Y, probe_channel) block is ~TARGET bytes."""
    block = H.sizes["X"] * H.sizes["Y"] * H.sizes["probe_channel"] * H.dtype.itemsize
    return int(min(H.sizes["tau"], max(1, TARGET_CHUNK_BYTES // max(block, 1))))


def _chunks(H: xr.DataArray, sweep_dims: tuple[str, ...]) -> dict[str, int]:
    """Zarr chunks: 1 per sweep point, whole core block, tau split to a byte target."""
    chunks = {dim: 1 for dim in sweep_dims}
    chunks.update({dim: H.sizes[dim] for dim in ("X", "Y", "probe_channel")})
    chunks["tau"] = _tau_chunk(H)
    return chunks


def _dataset_for_zarr(H: xr.DataArray, sweep_dims: tuple[str, ...], done_value: bool,
                      data: Any = None) -> tuple[xr.Dataset, dict[str, dict]]:
    """Build the Dataset (string coords as objects, fresh encodings) and its encoding."""
    attrs = _checked_attrs(H.attrs)
    chunks = _chunks(H, sweep_dims)
    values = H.data if data is None else data
    if data is None and hasattr(values, "rechunk"):
        values = values.rechunk(tuple(chunks[d] for d in H.dims))
    kernels = xr.Variable(H.dims, values, attrs=attrs)
    coords = {}
    for name, coord in H.coords.items():
        vals = coord.values
        if vals.dtype.kind in "UOT":
            vals = np.asarray(vals.tolist(), dtype=object).reshape(vals.shape)
        coords[name] = xr.Variable(coord.dims, vals, attrs=dict(coord.attrs))
    data_vars = {KERNEL_NAME: kernels}
    encoding = {KERNEL_NAME: {"chunks": tuple(chunks[d] for d in H.dims)}}
    if sweep_dims:
        import dask.array as dsa

        shape = tuple(H.sizes[d] for d in sweep_dims)
        flag = dsa.full(shape, done_value, dtype=bool, chunks=1)
        data_vars[DONE_NAME] = xr.Variable(sweep_dims, flag)
        encoding[DONE_NAME] = {"chunks": (1,) * len(sweep_dims)}
    ds = xr.Dataset(data_vars, coords=coords, attrs={ROOT_VERSION_ATTR: FORMAT_VERSION})
    return ds, encoding


def _to_zarr(ds: xr.Dataset, target: Path, encoding: dict, compute: bool = True) -> None:
    """Write a new consolidated zarr 3 store (no warning about consolidated metadata)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
        ds.to_zarr(target, mode="w-", encoding=encoding, consolidated=True, zarr_format=3,
                   compute=compute)


# ---------------------------------------------------------------------------------
# atomic directory replacement
# ---------------------------------------------------------------------------------


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when the system does not support it."""
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    ret = func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags))
    if ret == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _sibling(path: Path, kind: str) -> Path:
    host = socket.gethostname().replace("-", "_") or "host"
    return path.parent / f".{path.name}.{kind}-{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _stale_siblings(path: Path, kind: str) -> Iterator[Path]:
    """Siblings of ``kind`` left by dead processes of this host."""
    host = socket.gethostname().replace("-", "_") or "host"
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return
    for entry in path.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        parts = entry.name[len(prefix):].rsplit("-", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if not _pid_alive(int(parts[1])):
            yield entry


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recover(path: Path) -> None:
    """Restore an old store moved aside by a dead writer; remove stale temporaries."""
    for old in sorted(_stale_siblings(path, "old")):
        if not path.exists():
            os.rename(old, path)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in _stale_siblings(path, "tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    """fsync every file and directory below ``root`` (data reach the disk)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_quietly(Path(dirpath))


def _fsync_quietly(path: Path) -> None:
    """fsync a file or directory, ignoring file systems that refuse it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    """Move the complete store ``tmp`` to ``path`` so that ``path`` is never partial."""
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"kernel store {str(path)!r} already exists "
                                  "(pass overwrite=True to replace it)")
        if _renameat2(tmp, path, _RENAME_EXCHANGE):
            _fsync_quietly(path.parent)
            shutil.rmtree(tmp)  # now holds the old store
            return
        aside = _sibling(path, "old")
        os.rename(path, aside)
        os.rename(tmp, path)
        _fsync_quietly(path.parent)
        shutil.rmtree(aside)
        return
    if not _renameat2(tmp, path, _RENAME_NOREPLACE):
        if path.exists():
            raise FileExistsError(f"kernel store {str(path)!r} appeared while writing")
        os.rename(tmp, path)
    _fsync_quietly(path.parent)


def _check_replaceable(path: Path, overwrite: bool) -> None:
    """Refuse an existing ``path`` unless overwriting a kernel store (of any version)."""
    if not path.exists() and not path.is_symlink():
        return
    if not overwrite:
        raise FileExistsError(f"kernel store {str(path)!r} already exists "
                              "(pass overwrite=True to replace it)")
    if path.is_symlink() or not (path / KERNEL_NAME / "zarr.json").is_file():
        what = "a symlink" if path.is_symlink() else (
            "a directory without a 'kernels' zarr array" if path.is_dir() else "a file")
        raise ValueError(f"overwrite=True replaces kernel stores only; {str(path)!r} is {what}")


def _write_atomically(ds: xr.Dataset, encoding: dict, path: Path, overwrite: bool,
                      compute: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    _check_replaceable(path, overwrite)
    tmp = _sibling(path, "tmp")
    try:
        _to_zarr(ds, tmp, encoding, compute=compute)
        _fsync_tree(tmp)
        _move_into_place(tmp, path, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _as_path(path: str | os.PathLike) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", text):
        raise ValueError(f"path must be a local directory, got URL {text!r}")
    return Path(text).absolute()


# ---------------------------------------------------------------------------------
# public API: whole stores
# ---------------------------------------------------------------------------------


def write_kernels(H: xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write kernels to a new Zarr store, atomically.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels honouring the data contract (dims ``(..., X, Y, probe_channel, tau)``,
        tau in ms with spacing ``attrs['dt']``, units per channel, provenance attrs).
        Numpy- or dask-backed; dask arrays are computed chunk by chunk.
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
    """
    path = _as_path(path)
    sweep_dims = _check_kernels(H)
    _check_replaceable(path, overwrite)
    ds, encoding = _dataset_for_zarr(H, sweep_dims, done_value=True)
    _write_atomically(ds, encoding, path, overwrite)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise KernelStoreError(f"{str(path)!r} is not readable zarr metadata: {err}") from None


def _inspect(path: Path) -> dict:
    """Check that ``path`` is a kernel store we can read; return the root metadata."""
    if not path.exists():
        raise FileNotFoundError(f"no kernel store at {str(path)!r}: path does not exist")
    if not path.is_dir():
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: found a regular file, "
                               "expected a Zarr directory")
    _finish_extension(path)
    root = _read_json(path / "zarr.json")
    if root is None:
        found = sorted(p.name for p in path.iterdir())[:10]
        kind = "a Zarr v2 store" if (path / ".zgroup").exists() else f"entries {found}"
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: no zarr.json, found "
                               f"{kind}")
    if root.get("zarr_format") != 3 or root.get("node_type") != "group":
        raise KernelStoreError(f"{str(path)!r} is not a kernel store: expected a Zarr v3 "
                               f"group, found zarr_format={root.get('zarr_format')!r} "
                               f"node_type={root.get('node_type')!r}")
    kernels = _read_json(path / KERNEL_NAME / "zarr.json")
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


def _open_dataset(path: Path) -> xr.Dataset:
    """Open a checked kernel store with xarray (dask-backed)."""
    root = _inspect(path)
    consolidated = "consolidated_metadata" in root and root["consolidated_metadata"] is not None
    return xr.open_zarr(path, consolidated=consolidated)


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance attrs of a kernel store without opening its arrays.

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    dict
        The attributes of ``kernels`` (``content_hash``, ``spec``, ``dt``, ...).

    Raises
    ------
    FileNotFoundError, KernelStoreError
        As :func:`open_kernels`.
    """
    path = _as_path(path)
    _inspect(path)
    attrs = _read_json(path / KERNEL_NAME / "zarr.json").get("attributes", {})
    return {k: v for k, v in attrs.items() if not k.startswith("_") and k != "coordinates"}


def _restore_strings(da: xr.DataArray) -> xr.DataArray:
    """Load coordinates and give str coordinates numpy's ``<U`` dtype again."""
    new = {}
    for name, coord in da.coords.items():
        values = coord.values
        if values.dtype.kind in "OT":
            values = np.asarray(values.tolist(), dtype=str).reshape(values.shape)
        new[name] = (coord.dims, values, coord.attrs)
    return da.assign_coords(new)


def open_kernels(path: str | os.PathLike, *, allow_incomplete: bool = False) -> xr.DataArray:
    """Open the kernels of a store lazily (dask-backed).

    Parameters
    ----------
    path : str or os.PathLike
        Store directory written by :func:`write_kernels` or :func:`create_sweep_store`.
    allow_incomplete : bool
        Return a sweep store whose points are not all written (missing points read
        as NaN).  By default such a store is refused.

    Returns
    -------
    xarray.DataArray
        ``kernels`` with the coordinates and attributes that were written.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    KernelStoreError
        (a ``ValueError``) If ``path`` is not a kernel store, was written by a newer
        format version, or has incomplete sweep points.
    """
    path = _as_path(path)
    ds = _open_dataset(path)
    done = _zarr_done(path)
    if not allow_incomplete and not done.all():
        raise KernelStoreError(f"kernel store {str(path)!r} is incomplete: "
                               f"{int(done.sum())} of {done.size} sweep points written "
                               "(pass allow_incomplete=True to open it anyway)")
    H = _restore_strings(ds[KERNEL_NAME])
    H.attrs = dict(ds[KERNEL_NAME].attrs)
    return H


# ---------------------------------------------------------------------------------
# public API: growing sweep stores
# ---------------------------------------------------------------------------------


def _coords_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "iufc":
        return bool(np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True))
    if b.dtype.kind in "fc" and a.dtype.kind in "iu":
        return _coords_equal(b, a)
    return a.tolist() == b.tolist()


def _compare_core(store: xr.DataArray, other: xr.DataArray, what: str, path: Path,
                  dims: tuple[str, ...]) -> None:
    """Raise ValueError naming the first coordinate of ``dims`` (+channels) that differs."""
    for dim in dims:
        if store.sizes[dim] != other.sizes.get(dim):
            raise ValueError(f"{what} does not match kernel store {str(path)!r}: dim {dim!r} "
                             f"has size {other.sizes.get(dim)}, store has {store.sizes[dim]}")
    for name in (*dims, *CHANNEL_COORDS):
        if not _coords_equal(store.coords[name].values, other.coords[name].values):
            raise ValueError(f"{what} does not match kernel store {str(path)!r}: coordinate "
                             f"{name!r} is {other.coords[name].values.tolist()}, store has "
                             f"{store.coords[name].values.tolist()}")


def create_sweep_store(path: str | os.PathLike, template: xr.DataArray, *,
                       exist_ok: bool = True) -> None:
    """Create (atomically) an empty store for the kernels of a whole parameter sweep.

    Parameters
    ----------
    path : str or os.PathLike
        Store directory.
    template : xarray.DataArray
        Kernels-shaped array with at least one leading sweep dim, all coordinates and
        provenance attrs of the finished sweep; its values are not read or written.
    exist_ok : bool
        If the store exists and matches ``template``, do nothing (resume).  If False,
        an existing store raises ``FileExistsError``.

    Raises
    ------
    ValueError
        If ``template`` breaks the data contract, has no sweep dim, or an existing
        store does not match it (dims, coordinates or attrs); nothing is written.
    """
    path = _as_path(path)
    sweep_dims = _check_kernels(template)
    if not sweep_dims:
        raise ValueError(f"template must have sweep dims before {CORE_DIMS}, got dims "
                         f"{template.dims}; use write_kernels for a single point")
    _recover(path)
    if path.exists():
        if not exist_ok:
            raise FileExistsError(f"kernel store {str(path)!r} already exists")
        _check_template(path, template, sweep_dims)
        return
    import dask.array as dsa

    chunks = _chunks(template, sweep_dims)
    lazy = dsa.full(template.shape, np.nan, dtype=template.dtype,
                    chunks=tuple(chunks[d] for d in template.dims))
    ds, encoding = _dataset_for_zarr(template, sweep_dims, done_value=False, data=lazy)
    try:
        _write_atomically(ds, encoding, path, overwrite=False, compute=False)
    except FileExistsError:  # created concurrently by another process
        if not exist_ok:
            raise
        _check_template(path, template, sweep_dims)


_STORED_CACHE: dict[Path, tuple[tuple, xr.DataArray]] = {}


def _metadata_stamp(path: Path) -> tuple:
    """Changes whenever the store at ``path`` is created or replaced."""
    root, meta = path.stat(), (path / "zarr.json").stat()
    return root.st_ino, meta.st_ino, meta.st_mtime_ns, meta.st_size


def _stored_kernels(path: Path) -> xr.DataArray:
    """Coordinates and attrs of a store's kernels, read with zarr (fast, no dask).

    The values are a zero-stride placeholder: only dims, sizes, coords and attrs of
    the returned DataArray are meaningful.  Cached per store: coordinates and attrs
    never change after a store is created (a replaced store has a new stamp).
    """
    import zarr

    _inspect(path)
    stamp = _metadata_stamp(path)
    cached = _STORED_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    group = zarr.open_group(path, mode="r")
    members = dict(group.arrays())
    arr = members[KERNEL_NAME]
    dims = tuple(arr.metadata.dimension_names)
    raw = arr.attrs.asdict()
    coords = {}
    for name in [*dims, *str(raw.get("coordinates", "")).split()]:
        if name in members:
            values = np.asarray(members[name][...])
            if values.dtype.kind in "OT":
                values = np.asarray(values.tolist(), dtype=str).reshape(values.shape)
            coords[name] = (tuple(members[name].metadata.dimension_names), values)
    attrs = {k: v for k, v in raw.items() if not k.startswith("_") and k != "coordinates"}
    placeholder = np.broadcast_to(np.zeros((), dtype=arr.dtype), arr.shape)
    stored = xr.DataArray(placeholder, dims=dims, coords=coords, attrs=attrs, name=KERNEL_NAME)
    _STORED_CACHE.clear()  # one store at a time is plenty
    _STORED_CACHE[path] = (stamp, stored)
    return stored


def _zarr_done(path: Path) -> np.ndarray:
    """The ``done`` mask read with zarr (0-d True for a store without sweep dims)."""
    import zarr

    group = zarr.open_group(path, mode="r")
    if DONE_NAME not in group:
        return np.ones((), dtype=bool)
    return np.asarray(group[DONE_NAME][...], dtype=bool)


def _check_template(path: Path, template: xr.DataArray, sweep_dims: tuple[str, ...]) -> None:
    stored = _stored_kernels(path)
    if stored.dims != template.dims:
        raise ValueError(f"template does not match kernel store {str(path)!r}: dims "
                         f"{template.dims}, store has {stored.dims}")
    _compare_core(stored, template, "template", path, tuple(template.dims))
    attrs = _checked_attrs(template.attrs)
    for key in sorted(set(attrs) | set(stored.attrs)):
        if attrs.get(key) != stored.attrs.get(key):
            raise ValueError(f"template does not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] is {_short(attrs.get(key))}, store has "
                             f"{_short(stored.attrs.get(key))}")


def _short(value: Any, n: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "...'"


def _leaf_diffs(a: Any, b: Any, where: tuple = ()) -> list[tuple[tuple, Any, Any]]:
    """Paths and values of the leaves of two JSON-like objects that differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            out += _leaf_diffs(a.get(key), b.get(key), (*where, str(key)))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _leaf_diffs(x, y, (*where, str(i)))
        return out
    same = a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)
    return [] if same else [(where, a, b)]


def _path_tokens(spec_path: Any) -> list[str]:
    if isinstance(spec_path, (list, tuple)):
        return [str(t) for t in spec_path]
    return re.findall(r"[^.\[\]'\"/]+", str(spec_path))


def _covered(leaf: tuple, value: Any, point: dict[str, Any], paths: dict[str, Any]) -> bool:
    """Whether a differing leaf is explained by a swept parameter of the point."""
    for dim, coord in point.items():
        tokens = _path_tokens(paths[dim]) if dim in paths else None
        if tokens and any(list(leaf[i:i + len(tokens)]) == tokens for i in range(2)):
            return True
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)) and isinstance(coord, (int, float)):
            if math.isclose(value, coord, rel_tol=1e-12, abs_tol=0.0):
                return True
        elif value == coord:
            return True
    return False


def _parse(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


def _check_point_attrs(path: Path, store_attrs: dict, point_attrs: dict,
                       point: dict[str, Any]) -> None:
    """Point attrs must equal the store's except where a swept value explains it."""
    paths = _parse(store_attrs.get("sweep_paths", "{}"))
    paths = paths if isinstance(paths, dict) else {}
    for key in sorted(set(store_attrs) | set(point_attrs)):
        if key in ("content_hash", "sweep_paths"):
            continue
        if key not in point_attrs or key not in store_attrs:
            raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] only in the "
                             f"{'store' if key in store_attrs else 'point'}")
        diffs = _leaf_diffs(_parse(store_attrs[key]), _parse(point_attrs[key]), (key,))
        for leaf, old, new in diffs:
            if not _covered(leaf, new, point, paths):
                raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                                 f"{'.'.join(leaf)} is {_short(new)}, store has "
                                 f"{_short(old)}, and no swept parameter explains it")


def _point_index(stored: xr.DataArray, index: Mapping[str, int], path: Path) -> tuple[int, ...]:
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not isinstance(index, Mapping) or set(index) != set(sweep_dims):
        raise ValueError(f"index must map every sweep dim {sweep_dims} of kernel store "
                         f"{str(path)!r} to an int, got {index!r}")
    out = []
    for dim in sweep_dims:
        i = index[dim]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not (
                0 <= i < stored.sizes[dim]):
            raise ValueError(f"index[{dim!r}] must be an int in [0, {stored.sizes[dim]}), "
                             f"got {i!r}")
        out.append(int(i))
    return tuple(out)


def _sweep_store(path: str | os.PathLike,
                 caller: str) -> tuple[Path, xr.DataArray, tuple[str, ...]]:
    """The store's path, its stored kernels and sweep dims; refuse stores without sweep."""
    path = _as_path(path)
    stored = _stored_kernels(path)
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not sweep_dims:
        raise ValueError(f"kernel store {str(path)!r} has no sweep dims; {caller} needs a "
                         "store made by create_sweep_store")
    return path, stored, sweep_dims


def write_point(path: str | os.PathLike, H_point: xr.DataArray, *,
                index: Mapping[str, int]) -> None:
    """Write the kernels of one sweep point into its region of a sweep store.

    Only the chunks of that point are written, then its ``done`` flag; existing
    chunks of other points are never touched.  Rewriting a point first clears its
    flag, so a process killed at any moment leaves the point either done with all
    its chunks or not done.

    Parameters
    ----------
    path : str or os.PathLike
        Sweep store created by :func:`create_sweep_store`.
    H_point : xarray.DataArray
        Kernels of one point: dims ``(X, Y, probe_channel, tau)`` (length-1 sweep dims
        are squeezed), the sweep values as scalar coordinates, provenance attrs equal
        to the store's except for the swept values and ``content_hash``.
    index : dict of str to int
        Position of the point along every sweep dim.

    Raises
    ------
    ValueError
        If the point does not match the store (coordinates, sweep values, dt, tau,
        probes, spec other than swept values); nothing is written.
    """

    path, stored, sweep_dims = _sweep_store(path, "write_point")
    position = _point_index(stored, index, path)
    if not isinstance(H_point, xr.DataArray):
        raise TypeError(f"H_point must be an xarray.DataArray, got {type(H_point).__name__}")
    extra = [d for d in H_point.dims if d not in CORE_DIMS]
    if any(H_point.sizes[d] != 1 for d in extra):
        raise ValueError(f"H_point must have dims {CORE_DIMS} (plus length-1 sweep dims), got "
                         f"{dict(H_point.sizes)}")
    H_point = H_point.squeeze(extra)
    validate_kernels(H_point)
    if H_point.dims != CORE_DIMS:
        raise ValueError(f"H_point must have dims {CORE_DIMS}, got {H_point.dims}")
    if H_point.dtype.kind != "f":
        raise ValueError(f"H_point must have a float dtype, got {H_point.dtype}")
    _compare_core(stored, H_point, "point kernels", path, CORE_DIMS)
    point = {}
    for dim, i in zip(sweep_dims, position, strict=True):
        if dim not in H_point.coords or H_point.coords[dim].ndim != 0:
            raise ValueError(f"H_point needs the scalar coordinate {dim!r} (its sweep value)")
        value = H_point.coords[dim].values.item()
        expected = stored.coords[dim].values[i].item()
        if not _coords_equal(np.asarray(expected), np.asarray(value)):
            raise ValueError(f"H_point has {dim}={value!r} but index[{dim!r}]={i} is "
                             f"{dim}={expected!r} in kernel store {str(path)!r}")
        point[dim] = value
    _check_point_attrs(path, dict(stored.attrs), _checked_attrs(H_point.attrs), point)

    values = np.asarray(H_point.values, dtype=stored.dtype)
    _write_region(path, tuple([i] for i in position), values[(None,) * len(position)])


def _write_region(path: Path, selection: tuple[list[int], ...], values: np.ndarray) -> None:
    """Write the kernels of an orthogonal block of points, data first, then done flags.

    Flags of points being rewritten are cleared first, so a process killed at any
    moment leaves every point of the block either done with all its chunks or not done.
    """
    import zarr

    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    done = group[DONE_NAME]
    for position in itertools.product(*selection):
        _clean_partials(path, position)
    was_done = done.get_orthogonal_selection(selection)
    if was_done.any():
        done.set_orthogonal_selection(selection, np.zeros(was_done.shape, dtype=bool))
    group[KERNEL_NAME].set_orthogonal_selection(
        (*selection, *([slice(None)] * len(CORE_DIMS))), values)
    done.set_orthogonal_selection(selection, np.ones(was_done.shape, dtype=bool))


def _block_index(stored: xr.DataArray, index: Any, path: Path) -> tuple[list[int], ...]:
    """Positions (list per sweep dim) of an orthogonal block of points, checked."""
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not isinstance(index, Mapping) or set(index) != set(sweep_dims):
        raise ValueError(f"index must map every sweep dim {sweep_dims} of kernel store "
                         f"{str(path)!r} to an int or a list of ints, got {index!r}")
    out = []
    for dim in sweep_dims:
        raw = index[dim]
        items = [raw] if isinstance(raw, (int, np.integer)) else raw
        ok = isinstance(items, (list, tuple, range, np.ndarray)) and len(items) > 0 and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
            and 0 <= i < stored.sizes[dim] for i in items)
        if not ok or len(set(int(i) for i in items)) != len(items):
            raise ValueError(f"index[{dim!r}] must be an int or a non-empty list of unique "
                             f"ints in [0, {stored.sizes[dim]}), got {raw!r}")
        out.append([int(i) for i in items])
    return tuple(out)


def write_points(path: str | os.PathLike, H_points: xr.DataArray, *,
                 index: Mapping[str, int | Sequence[int]]) -> None:
    """Write the kernels of a block of sweep points in one call.

    The block is an orthogonal selection of the store's grid (like
    ``H.isel(index)`` with lists): one list of positions per sweep dim.  Its chunks
    are written first (concurrently), then the ``done`` flags of all its points;
    existing chunks of other points are never touched.  A process killed at any
    moment leaves each point of the block either done with all its chunks or not
    done -- never a point marked done whose data were not written.

    Parameters
    ----------
    path : str or os.PathLike
        Sweep store created by :func:`create_sweep_store`.
    H_points : xarray.DataArray
        Kernels of the block: the store's dims (sweep dims, then
        ``X, Y, probe_channel, tau``), sweep coordinates equal to the store's at
        ``index``, provenance attrs equal to the store's (except ``content_hash``
        and swept values).
    index : dict of str to int or list of int
        Positions of the block along every sweep dim (an int is a one-point list).

    Raises
    ------
    ValueError
        If the block does not match the store (dims, coordinates, sweep values at
        ``index``, dt, tau, probes, spec); nothing is written.
    """
    path, stored, sweep_dims = _sweep_store(path, "write_points")
    selection = _block_index(stored, index, path)
    if not isinstance(H_points, xr.DataArray):
        raise TypeError(f"H_points must be an xarray.DataArray, got {type(H_points).__name__}")
    if H_points.dims != stored.dims:
        raise ValueError(f"H_points must have the dims {stored.dims} of kernel store "
                         f"{str(path)!r}, got {H_points.dims}")
    validate_kernels(H_points)
    if H_points.dtype.kind != "f":
        raise ValueError(f"H_points must have a float dtype, got {H_points.dtype}")
    _compare_core(stored, H_points, "point kernels", path, CORE_DIMS)
    block = stored.isel(dict(zip(sweep_dims, selection, strict=True)))
    for name, coord in block.coords.items():
        if coord.ndim == 1 and coord.dims[0] in sweep_dims:
            got = H_points.coords.get(name)
            if got is None or got.dims != coord.dims or not _coords_equal(coord.values,
                                                                          got.values):
                raise ValueError(
                    f"H_points coordinate {name!r} is "
                    f"{None if got is None else got.values.tolist()} but index selects "
                    f"{coord.values.tolist()} in kernel store {str(path)!r}")
    _check_point_attrs(path, dict(stored.attrs), _checked_attrs(H_points.attrs),
                       dict.fromkeys(sweep_dims))
    _write_region(path, selection, np.asarray(H_points.values, dtype=stored.dtype))


def _clean_partials(path: Path, position: tuple[int, ...]) -> None:
    """Remove temporary chunk files a killed writer of this point left behind."""
    key = "/".join(str(i) for i in position)
    for base in (path / KERNEL_NAME / "c" / key, path / DONE_NAME / "c" / key):
        for candidate in [*base.parent.glob(f"{base.name}.*.partial"),
                          *(base.rglob("*.partial") if base.is_dir() else [])]:
            candidate.unlink(missing_ok=True)


def completed_points(path: str | os.PathLike) -> np.ndarray:
    """Return the bool mask of written sweep points (0-d True for a store without sweep).

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    numpy.ndarray
        Shape of the sweep dims, True where the point's kernels are completely written.
    """
    path = _as_path(path)
    _inspect(path)
    return _zarr_done(path)


# ---------------------------------------------------------------------------------
# public API: extending a sweep store with new parameter values
# ---------------------------------------------------------------------------------

#: Journal of an extension in progress, inside the store (absent between extensions).
EXTEND_JOURNAL = ".xkernels-extend.json"


def _tail_values(stored: np.ndarray, requested: np.ndarray, name: str, dim: str,
                 path: Path) -> list:
    """The values ``requested`` appends to ``stored``; ValueError if it is not an append."""
    if requested.size < stored.size or not _coords_equal(stored, requested[:stored.size]):
        raise ValueError(
            f"kernel store {str(path)!r} cannot grow to the requested sweep: along dim "
            f"{dim!r}, coordinate {name!r} has stored values {stored.tolist()} and requested "
            f"values {requested.tolist()}; a sweep store grows only by new values appended "
            "after the stored ones, in the same order")
    tail = requested[stored.size:]
    if stored.dtype.kind in "iu" and tail.size and not np.array_equal(
            tail.astype(stored.dtype), tail):
        raise ValueError(f"kernel store {str(path)!r}: coordinate {name!r} holds integers, "
                         f"the new values {tail.tolist()} are not")
    return tail.tolist()


def _extension_journal(path: Path, template: xr.DataArray,
                       sweep_dims: tuple[str, ...]) -> dict | None:
    """What extending the store to ``template`` changes (None: nothing), or ValueError."""
    import zarr

    stored = _stored_kernels(path)
    grown = [d for d in sweep_dims if d in stored.dims
             and template.sizes[d] != stored.sizes[d]]
    if stored.dims != template.dims or not grown:
        _check_template(path, template, sweep_dims)
        return None
    _compare_core(stored, template, "template", path, CORE_DIMS)
    attrs = _checked_attrs(template.attrs)
    for key in sorted(set(attrs) | set(stored.attrs)):
        if key != "content_hash" and attrs.get(key) != stored.attrs.get(key):
            raise ValueError(f"template does not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] is {_short(attrs.get(key))}, store has "
                             f"{_short(stored.attrs.get(key))}")
    along = {n for n, c in template.coords.items() if c.ndim == 1 and c.dims[0] in sweep_dims}
    stored_along = {n for n, c in stored.coords.items()
                    if c.ndim == 1 and c.dims[0] in sweep_dims}
    if along != stored_along:
        raise ValueError(f"template does not match kernel store {str(path)!r}: sweep "
                         f"coordinates {sorted(along)}, store has {sorted(stored_along)}")
    tails = {}
    for name in sorted(along):
        dim = template.coords[name].dims[0]
        tail = _tail_values(stored.coords[name].values, template.coords[name].values,
                            name, dim, path)
        if tail:
            tails[name] = tail
    group = zarr.open_group(path, mode="r", use_consolidated=False)
    shapes = {}
    for name, arr in group.arrays():
        dims = tuple(arr.metadata.dimension_names or ())
        if any(d in grown for d in dims):
            shapes[name] = [list(arr.shape), [template.sizes[d] for d in dims]]
    host = socket.gethostname().replace("-", "_") or "host"
    return {"host": host, "pid": os.getpid(), "shapes": shapes, "tails": tails,
            "content_hash": attrs["content_hash"]}


def _extension_steps(path: Path, journal: dict) -> list:
    """The idempotent steps that apply a journal, in crash-safe order.

    Coordinates first (new values, then their shape), then ``done`` (new points read
    as its fill value False), then ``kernels`` (content hash, then shape: no chunk is
    written), then the consolidated metadata that plain readers use, then the journal
    is removed.  Until the consolidated metadata is rewritten, readers see the old grid.
    """
    import zarr

    def group():
        return zarr.open_group(path, mode="r+", use_consolidated=False)

    def grow(name: str) -> None:
        arr = group()[name]
        old, new = journal["shapes"][name]
        arr.resize(tuple(new))
        if name in journal["tails"]:
            arr[old[0]:] = np.asarray(journal["tails"][name], dtype=arr.dtype)

    def kernels() -> None:
        arr = group()[KERNEL_NAME]
        arr.update_attributes({"content_hash": journal["content_hash"]})
        arr.resize(tuple(journal["shapes"][KERNEL_NAME][1]))

    def consolidate() -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
            warnings.filterwarnings("ignore", message=f"Object at {EXTEND_JOURNAL}")
            zarr.consolidate_metadata(path, zarr_format=3)
        for name in ("", *journal["shapes"]):
            _fsync_quietly(path / name / "zarr.json")

    def finish() -> None:
        (path / EXTEND_JOURNAL).unlink(missing_ok=True)
        _fsync_quietly(path)

    order = sorted(journal["shapes"], key=lambda n: (n == KERNEL_NAME, n == DONE_NAME, n))
    steps = [(f"resize {name}", lambda name=name: grow(name))
             for name in order if name != KERNEL_NAME]
    return [*steps, ("resize kernels", kernels), ("consolidate", consolidate),
            ("finish", finish)]


def _write_journal(path: Path, journal: dict) -> None:
    """Write the journal atomically (complete or absent)."""
    tmp = path / f"{EXTEND_JOURNAL}.{uuid.uuid4().hex[:12]}.partial"
    tmp.write_text(json.dumps(journal))
    _fsync_quietly(tmp)
    os.replace(tmp, path / EXTEND_JOURNAL)
    _fsync_quietly(path)


def _finish_extension(path: Path) -> None:
    """Complete an extension whose writer died (roll forward); no-op without journal."""
    journal_path = path / EXTEND_JOURNAL
    if not journal_path.is_file():
        return
    try:
        journal = json.loads(journal_path.read_text())
    except FileNotFoundError:  # finished meanwhile
        return
    host = socket.gethostname().replace("-", "_") or "host"
    if (journal["host"] == host and journal["pid"] != os.getpid()
            and _pid_alive(journal["pid"])):
        return  # still being extended: readers see the old grid until it is done
    for _name, step in _extension_steps(path, journal):
        step()


def extend_sweep_store(path: str | os.PathLike, template: xr.DataArray) -> dict[str, int]:
    """Grow a sweep store to a grid with new values appended along some sweep dims.

    The arrays are resized and the new coordinate values written; existing kernel
    chunks and ``done`` flags are never rewritten, and the new points are not done
    (compute them and write them with :func:`write_point` / :func:`write_points`).

    New values must come after the stored ones along each grown dim (the stored
    values, in their order, are a prefix of the requested ones): chunks are indexed
    by position, so inserting values would move written points.

    The extension is crash safe: a journal describing it is written (atomically)
    before anything else and removed last.  A process killed in between leaves a
    store that plain readers (``xr.open_zarr``) see with the old grid, and that
    xkernels completes to the new grid -- new points not done -- the next time it
    opens it (:func:`open_kernels`, :func:`completed_points`, :func:`write_point`,
    this function...).

    Parameters
    ----------
    path : str or os.PathLike
        Existing sweep store (from :func:`create_sweep_store`).
    template : xarray.DataArray
        As for :func:`create_sweep_store`: the whole requested sweep.  Dims, core and
        channel coordinates, and attrs other than ``content_hash`` must equal the
        store's; along each sweep dim the stored coordinate values must be a prefix
        of the template's.

    Returns
    -------
    dict of str to int
        Sweep dim -> number of values added (empty if the store already holds the
        template's grid).

    Raises
    ------
    ValueError
        If the store cannot grow to ``template`` (other base specification, probes,
        dt, tau, options, sweep dims, or values not appended at the end -- the
        message names the dim and both value lists); nothing is written.
    """
    path = _as_path(path)
    sweep_dims = _check_kernels(template)
    if not sweep_dims:
        raise ValueError(f"template must have sweep dims before {CORE_DIMS}, got dims "
                         f"{template.dims}")
    _recover(path)
    _inspect(path)  # completes an interrupted extension first
    journal = _extension_journal(path, template, sweep_dims)
    if journal is None:
        return {}
    stored = _stored_kernels(path)
    added = {d: template.sizes[d] - stored.sizes[d] for d in sweep_dims
             if template.sizes[d] != stored.sizes[d]}
    _write_journal(path, journal)
    for _name, step in _extension_steps(path, journal):
        step()
    return added


# ---------------------------------------------------------------------------------
# public API: summary
# ---------------------------------------------------------------------------------


def _disk_size(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _values_text(values: np.ndarray) -> str:
    items = values.tolist()
    if len(items) <= 6:
        return ", ".join(str(v) for v in items)
    return f"{items[0]} .. {items[-1]} ({len(items)} values)"


def describe(path: str | os.PathLike) -> str:
    """Human-readable summary of a kernel store (like ``xkernels info PATH``).

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    str
        Populations, probes (channels, units), dt, tau range, t_X, g_eff, sweep dims
        and completion, content hash, versions, format version and size on disk.
    """
    path = _as_path(path)
    H = _stored_kernels(path)
    attrs = H.attrs
    done = _zarr_done(path)
    tau = H.coords["tau"].values
    lines = [f"xkernels kernel store {path}",
             f"  populations X (presynaptic): {', '.join(H.coords['X'].values.tolist())}",
             f"  populations Y (postsynaptic): {', '.join(H.coords['Y'].values.tolist())}",
             "  probes:"]
    probes = H.coords["probe"].values
    for name in dict.fromkeys(probes.tolist()):
        sel = probes == name
        units = ", ".join(dict.fromkeys(H.coords["units"].values[sel].tolist()))
        labels = H.coords["probe_channel"].values[sel].tolist()
        shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
        lines.append(f"    {name}: {int(sel.sum())} channels [{units}] ({shown})")
    lines += [f"  dt: {attrs.get('dt')} ms",
              f"  tau: {tau[0]:g} .. {tau[-1]:g} ms ({tau.size} samples)",
              f"  t_X: {attrs.get('t_X')} ms",
              f"  g_eff: {attrs.get('g_eff')}"]
    if "fir" in attrs:
        lines.append(f"  fir: {attrs['fir']}")
    sweep_dims = H.dims[:-len(CORE_DIMS)]
    if sweep_dims:
        paths = _parse(attrs.get("sweep_paths", "{}"))
        paths = paths if isinstance(paths, dict) else {}
        lines.append("  sweep:")
        for dim in sweep_dims:
            where = f" -> {paths[dim]}" if dim in paths else ""
            lines.append(f"    {dim}{where}: {_values_text(H.coords[dim].values)}")
        lines.append(f"  completed points: {int(done.sum())} of {done.size}")
    else:
        lines.append("  sweep: none")
    versions = _parse(attrs.get("versions", "{}"))
    if isinstance(versions, dict):
        versions = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines += [f"  shape: {dict(H.sizes)} {H.dtype}",
              f"  content hash: {attrs.get('content_hash')}",
              f"  versions: {versions}",
              f"  format version: {attrs.get('format_version')}",
              f"  size on disk: {_human_bytes(_disk_size(path))}"]
    return "\n".join(lines)

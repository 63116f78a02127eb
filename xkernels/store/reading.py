"""Opening a kernel store: what it is, whether this xkernels can read it, its metadata.

Reading never writes (:mod:`xkernels.store.publish`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from xkernels.checks import fail
from xkernels.contract import FORMAT_VERSION, KERNEL_NAME
from xkernels.store.attrs import strings_as_unicode
from xkernels.store.layout import DONE_NAME, ROOT_VERSION_ATTR


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
    xkernels.store.reading.KernelStoreError: '.../notes.txt' is not a kernel store: found a
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


def open_dataset(path: Path) -> xr.Dataset:
    """Open a kernel store with xarray (dask-backed), after checking it."""
    root = inspect_store(path)
    consolidated = "consolidated_metadata" in root and root["consolidated_metadata"] is not None
    return xr.open_zarr(path, consolidated=consolidated)


_STORED_CACHE: dict[Path, tuple[tuple, xr.DataArray]] = {}


def _metadata_stamp(path: Path) -> tuple:
    """Changes whenever the store at ``path`` is created or replaced."""
    root, meta = path.stat(), (path / "zarr.json").stat()
    return root.st_ino, meta.st_ino, meta.st_mtime_ns, meta.st_size


def stored_kernels(path: Path) -> xr.DataArray:
    """Coordinates and attrs of a store's kernels, read with zarr (fast, no dask).

    The values are a zero-stride placeholder: only dims, sizes, coords and attrs of
    the returned DataArray are meaningful.  Cached per store: coordinates and attrs
    never change after a store is created (a replaced or grown store has a new stamp).

    Parameters
    ----------
    path : pathlib.Path
        Absolute store path (checked here).

    Returns
    -------
    xarray.DataArray
    """
    import zarr

    inspect_store(path)
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
            values = strings_as_unicode(np.asarray(members[name][...]))
            coords[name] = (tuple(members[name].metadata.dimension_names), values)
    attrs = {k: v for k, v in raw.items() if not k.startswith("_") and k != "coordinates"}
    placeholder = np.broadcast_to(np.zeros((), dtype=arr.dtype), arr.shape)
    stored = xr.DataArray(placeholder, dims=dims, coords=coords, attrs=attrs, name=KERNEL_NAME)
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

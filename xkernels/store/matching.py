"""Does a template, a sweep point or a block of points belong in a stored sweep?

Coordinates are compared exactly (floats to 1e-12 relative).  Attributes must be
equal, except that the specification of a sweep point may differ from the store's
where a swept parameter explains the difference: the differing leaf lies at the
parameter's path (``sweep_paths``, parsed by :func:`xkernels.spec.paths.split_path`)
or holds the point's value of a swept parameter.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CHANNEL_COORDS
from xkernels.spec.paths import split_path
from xkernels.store.attrs import checked_attrs, parse_json_attr
from xkernels.store.reading import stored_kernels


def coords_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two coordinate arrays are equal (floats: to 1e-12 relative, NaN == NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "iufc":
        return bool(np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True))
    if b.dtype.kind in "fc" and a.dtype.kind in "iu":
        return coords_equal(b, a)
    return a.tolist() == b.tolist()


def short(value: Any, n: int = 120) -> str:
    """``repr(value)`` cut to about ``n`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= n else text[:n] + "...'"


def compare_core(store: xr.DataArray, other: xr.DataArray, what: str, path: Path,
                 dims: tuple[str, ...]) -> None:
    """Raise ValueError naming the first coordinate of ``dims`` (+channels) that differs.

    Parameters
    ----------
    store : xarray.DataArray
        The stored kernels (:func:`xkernels.store.reading.stored_kernels`).
    other : xarray.DataArray
        What should fit in the store.
    what : str
        Name of ``other`` in the message (``"template"``, ``"point kernels"``).
    path : pathlib.Path
        The store, named in the message.
    dims : tuple of str
        Dims whose sizes and coordinates must be equal.
    """
    for dim in dims:
        if store.sizes[dim] != other.sizes.get(dim):
            raise ValueError(f"{what} does not match kernel store {str(path)!r}: dim {dim!r} "
                             f"has size {other.sizes.get(dim)}, store has {store.sizes[dim]}")
    for name in (*dims, *CHANNEL_COORDS):
        if not coords_equal(store.coords[name].values, other.coords[name].values):
            raise ValueError(f"{what} does not match kernel store {str(path)!r}: coordinate "
                             f"{name!r} is {other.coords[name].values.tolist()}, store has "
                             f"{store.coords[name].values.tolist()}")


def check_template(path: Path, template: xr.DataArray) -> None:
    """Raise ValueError unless the store at ``path`` was created from ``template``
    (same dims, coordinates and attributes)."""
    stored = stored_kernels(path)
    if stored.dims != template.dims:
        raise ValueError(f"template does not match kernel store {str(path)!r}: dims "
                         f"{template.dims}, store has {stored.dims}")
    compare_core(stored, template, "template", path, tuple(template.dims))
    attrs = checked_attrs(template.attrs)
    for key in sorted(set(attrs) | set(stored.attrs)):
        if attrs.get(key) != stored.attrs.get(key):
            raise ValueError(f"template does not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] is {short(attrs.get(key))}, store has "
                             f"{short(stored.attrs.get(key))}")


def leaf_diffs(a: Any, b: Any, where: tuple = ()) -> list[tuple[tuple, Any, Any]]:
    """Paths and values of the leaves of two JSON-like objects that differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            out += leaf_diffs(a.get(key), b.get(key), (*where, str(key)))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += leaf_diffs(x, y, (*where, str(i)))
        return out
    same = a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)
    return [] if same else [(where, a, b)]


def _path_tokens(spec_path: Any) -> tuple[str, ...]:
    """Tokens of a stored sweep path (none if it does not parse)."""
    if not isinstance(spec_path, (list, tuple)):
        spec_path = str(spec_path)
    try:
        return split_path(spec_path)
    except ValueError:
        return ()


def covered(leaf: tuple, value: Any, point: dict[str, Any], paths: dict[str, Any]) -> bool:
    """Whether a differing leaf is explained by a swept parameter of the point.

    Parameters
    ----------
    leaf : tuple of str
        Where the leaf is, starting with the attribute name (``('spec', ...)``).
    value : object
        Its value in the point's attributes.
    point : dict
        Sweep dim -> the point's value.
    paths : dict
        Sweep dim -> parameter path (the store's ``sweep_paths``).
    """
    for dim, coord in point.items():
        tokens = _path_tokens(paths[dim]) if dim in paths else ()
        if tokens and any(tuple(leaf[i:i + len(tokens)]) == tokens for i in range(2)):
            return True
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)) and isinstance(coord, (int, float)):
            if math.isclose(value, coord, rel_tol=1e-12, abs_tol=0.0):
                return True
        elif value == coord:
            return True
    return False


def check_point_attrs(path: Path, store_attrs: dict, point_attrs: dict,
                      point: dict[str, Any]) -> None:
    """Point attrs must equal the store's except where a swept value explains it.

    Raises
    ------
    ValueError
        Naming the first leaf that differs and that no swept parameter explains.
    """
    paths = parse_json_attr(store_attrs.get("sweep_paths", "{}"))
    paths = paths if isinstance(paths, dict) else {}
    for key in sorted(set(store_attrs) | set(point_attrs)):
        if key in ("content_hash", "sweep_paths"):
            continue
        if key not in point_attrs or key not in store_attrs:
            raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] only in the "
                             f"{'store' if key in store_attrs else 'point'}")
        diffs = leaf_diffs(parse_json_attr(store_attrs[key]), parse_json_attr(point_attrs[key]),
                           (key,))
        for leaf, old, new in diffs:
            if not covered(leaf, new, point, paths):
                raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                                 f"{'.'.join(leaf)} is {short(new)}, store has "
                                 f"{short(old)}, and no swept parameter explains it")

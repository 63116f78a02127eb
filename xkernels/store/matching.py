"""Does a template, a sweep point or a block of points belong in a stored sweep?

Coordinates are compared exactly (floats to 1e-12 relative).  Attributes must be
equal, except that the specification and options of a sweep point may differ from the
store's where a swept parameter explains the difference: the differing leaf lies
exactly at a swept parameter's path (``sweep_paths``, parsed by
:func:`xkernels.spec.paths.split_path`).  Leaves of the specification are addressed as
the library writes it -- ``connections`` and ``populations`` are lists -- and named by
the connection's ``pre->post`` or the population's name, so
``spec.connections.0.synapse.tau1`` is ``connections['E->E'].synapse.tau1``: it is not
explained by a swept ``connections['E->E'].synapse.weight``, whatever its value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CHANNEL_COORDS
from xkernels.provenance import VALUE_ATTRS
from xkernels.spec.paths import join_path, split_path
from xkernels.store.attrs import checked_attrs, parse_json_attr
from xkernels.store.layout import stored_kernels


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
    """``value`` as JSON (``repr`` where JSON has no form), cut to about ``n`` characters,
    for error messages."""
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= n else text[:n - 3] + "..."


def compare_core(store: xr.DataArray, other: xr.DataArray, what: str, path: Path,
                 dims: tuple[str, ...]) -> None:
    """Raise ValueError naming the first coordinate of ``dims`` (+channels) that differs.

    Parameters
    ----------
    store : xarray.DataArray
        The stored kernels (:func:`xkernels.store.layout.stored_kernels`).
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
    compare_attrs(path, checked_attrs(template.attrs), stored.attrs)


def compare_attrs(path: Path, attrs: dict, stored: dict, skip: tuple[str, ...] = ()) -> None:
    """Raise ValueError naming the first attribute (not in ``skip``) of a template
    that differs from the store's."""
    for key in sorted(set(attrs) | set(stored)):
        if key not in skip and attrs.get(key) != stored.get(key):
            raise ValueError(f"template does not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] is {short(attrs.get(key))}, store has "
                             f"{short(stored.get(key))}")


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
    try:
        return split_path(str(spec_path))
    except ValueError:
        return ()


def swept_paths(paths: Any, dims: Any) -> set[tuple[str, ...]]:
    """Token tuples of the parameters swept along ``dims`` (a zipped dim has several).

    Parameters
    ----------
    paths : dict
        Sweep dim -> parameter path or list of paths (the store's ``sweep_paths``).
    dims : iterable of str
        The sweep dims.
    """
    out = set()
    for dim in dims:
        entry = paths.get(dim) if isinstance(paths, dict) else None
        for path in entry if isinstance(entry, list) else [entry]:
            tokens = _path_tokens(path) if path is not None else ()
            if tokens:
                out.add(tokens)
    return out


def parameter_tokens(leaf: tuple[str, ...], spec: Any) -> tuple[str, ...]:
    """The parameter path of a differing attribute leaf, as sweeps name parameters.

    Parameters
    ----------
    leaf : tuple of str
        Where the leaf is: the attribute name, then keys and list indices
        (``('spec', 'connections', '0', 'synapse', 'weight')``, ``('Vrest',)``).
    spec : object
        The parsed ``spec`` attribute the leaf indexes (lists of connections and
        populations, as :meth:`xkernels.Network.to_dict` writes them).

    Returns
    -------
    tuple of str
        ``('connections', 'E->E', 'synapse', 'weight')``, ``('Vrest',)``...; a leaf of the
        specification that cannot be named keeps its raw tokens (and so matches no
        swept path).
    """
    if not leaf or leaf[0] != "spec":
        return leaf
    rest = leaf[1:]
    if len(rest) >= 2 and rest[0] in ("connections", "populations") and rest[1].isdigit() \
            and isinstance(spec, dict) and isinstance(spec.get(rest[0]), list):
        items, i = spec[rest[0]], int(rest[1])
        item = items[i] if i < len(items) and isinstance(items[i], dict) else {}
        name = item.get("name") if rest[0] == "populations" else (
            f"{item.get('pre')}->{item.get('post')}" if "pre" in item else None)
        if name is not None:
            return (rest[0], str(name), *rest[2:])
    return leaf  # not a sweepable parameter of the specification


def check_point_attrs(path: Path, store_attrs: dict, point_attrs: dict,
                      point: dict[str, Any]) -> None:
    """Point attrs must equal the store's except at the paths of swept parameters.

    Parameters
    ----------
    path : Path
        The store (named in messages).
    store_attrs, point_attrs : dict
        The store's and the point's kernel attributes.
    point : dict
        The point's sweep dims (-> values; only the dims are used).

    Raises
    ------
    ValueError
        Naming the first leaf that differs and that no swept parameter's path explains.
    """
    paths = parse_json_attr(store_attrs.get("sweep_paths", "{}"))
    swept = swept_paths(paths, point)
    spec = parse_json_attr(store_attrs.get("spec"))
    for key in sorted(set(store_attrs) | set(point_attrs)):
        if key in ("content_hash", "sweep_paths", *VALUE_ATTRS):
            continue
        if key not in point_attrs or key not in store_attrs:
            raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                             f"attrs[{key!r}] only in the "
                             f"{'store' if key in store_attrs else 'point'}")
        diffs = leaf_diffs(parse_json_attr(store_attrs[key]), parse_json_attr(point_attrs[key]),
                           (key,))
        for leaf, old, new in diffs:
            if parameter_tokens(leaf, spec) not in swept:
                raise ValueError(f"point kernels do not match kernel store {str(path)!r}: "
                                 f"{'.'.join(leaf)} is {short(new)}, store has "
                                 f"{short(old)}, and no swept parameter explains it "
                                 f"(swept: {sorted(join_path(t) for t in swept)})")

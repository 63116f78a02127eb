"""Whole kernel stores: write them atomically, open them checked, read their provenance,
describe them (``xkernels info PATH``).

:func:`write_kernels` writes a complete store into a temporary sibling directory,
fsyncs it and only then moves it into place (:mod:`xkernels.store.publish`): a store
at ``path`` is always complete, old or new.  :func:`open_kernels` refuses what is not
a kernel store of a format version this xkernels reads, and a sweep store with points
that are not done unless ``allow_incomplete=True``.  The layout on disk is described
in :mod:`xkernels.store.layout`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from dask.utils import format_bytes

from xkernels.checks import count
from xkernels.contract import CORE_DIMS, probe_names, select_probe
from xkernels.provenance import stamped_attrs
from xkernels.store.attrs import parse_json_attr
from xkernels.store.layout import (
    KernelStoreError,
    as_path,
    check_replaceable,
    check_storable,
    read_done,
    stored_kernels,
    write_store,
)

__all__ = ["KernelStoreError", "describe", "open_kernels", "read_attrs", "write_kernels"]


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
        If ``H`` breaks the data contract; nothing is created on disk.
    KernelStoreError
        (a ``ValueError``) If ``overwrite`` would replace something that is not a
        kernel store; nothing is created on disk.
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
    H = stored_kernels(path).copy(deep=False)  # not the cached object itself
    done = read_done(path)
    if not allow_incomplete and not done.all():
        raise KernelStoreError(f"kernel store {str(path)!r} is incomplete: "
                               f"{int(done.sum())} of {done.size} sweep points written "
                               "(pass allow_incomplete=True to open it anyway)")
    return H


def _disk_size(path: os.PathLike) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def _values_text(values: np.ndarray) -> str:
    items = values.tolist()
    if len(items) <= 6:
        return ", ".join(str(v) for v in items)
    return f"{items[0]} .. {items[-1]} ({len(items)} values)"


#: Units of the kernel options that have them, as ``describe`` shows them.
OPTION_UNITS = {"dt": "ms", "tau": "ms", "t_X": "ms", "Vrest": "mV"}


def stored_options(attrs: Mapping[str, Any]) -> dict[str, str]:
    """The kernel options recorded in a store's attributes, as text.

    Every field of :class:`~xkernels.KernelOptions` (whatever fields it has) that the
    store records -- in the stored ``options`` (the options the kernels were computed
    with) or as an attribute of its own (the value an option resolved to:
    ``g_eff="auto"`` -> ``True``, ``linearisation`` per population) -- then any other
    field of the stored ``options``; where both are recorded and differ, the resolved
    value followed by the requested one.  Units from :data:`OPTION_UNITS`.

    Parameters
    ----------
    attrs : mapping
        The kernels' attributes.

    Returns
    -------
    dict
        Option name -> text.

    Examples
    --------
    >>> stored_options({"options": '{"dt": 0.0625, "g_eff": "auto"}', "g_eff": True})
    {'dt': '0.0625 ms', 'g_eff': 'True (requested: auto)'}
    """
    from xkernels.spec.options import KernelOptions

    options = parse_json_attr(attrs.get("options", "{}"))
    options = options if isinstance(options, dict) else {}
    out = {}
    for key in dict.fromkeys([*KernelOptions.model_fields, *options]):
        if key not in options and key not in attrs:
            continue
        requested = options.get(key, attrs.get(key))
        text = _option_text(requested)
        resolved = parse_json_attr(attrs.get(key, requested))
        if isinstance(resolved, dict) and set(map(str, resolved.values())) == {text}:
            resolved = requested  # the same for every population
        if _option_text(resolved) != text:
            text = f"{_option_text(resolved)} (requested: {text})"
        out[key] = f"{text} {OPTION_UNITS[key]}" if key in OPTION_UNITS else text
    return out


def _option_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_option_text(v)}" for k, v in value.items())
    return "none" if value is None else str(value)


def describe(path: str | os.PathLike) -> str:
    """Human-readable summary of a kernel store (like ``xkernels info PATH``).

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    str
        Populations, probes (channels, units), the number of kernels, the tau range
        (ms), every kernel option stored with them (:func:`stored_options`), sweep
        dims and completion, content hash, versions, format version and size on disk
        (B, kiB, MiB, GiB...).

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> xkernels.write_kernels(H, "kernels.zarr")
    >>> print(describe("kernels.zarr"))  # doctest: +ELLIPSIS
    xkernels kernel store ...kernels.zarr
      populations X (presynaptic): E, I
    ...
    """
    path = as_path(path)
    H = stored_kernels(path)
    attrs = H.attrs
    done = read_done(path)
    tau = H.coords["tau"].values
    lines = [f"xkernels kernel store {path}",
             f"  populations X (presynaptic): {', '.join(H.coords['X'].values.tolist())}",
             f"  populations Y (postsynaptic): {', '.join(H.coords['Y'].values.tolist())}",
             "  probes:"]
    for name in probe_names(H):
        part = select_probe(H, name)
        units = ", ".join(dict.fromkeys(part.coords["units"].values.tolist()))
        labels = part.coords["probe_channel"].values.tolist()
        shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
        lines.append(f"    {name}: {count(len(labels), 'channel')} [{units}] ({shown})")
    per_point = " per sweep point" if H.ndim > len(CORE_DIMS) else ""
    lines += [f"  kernels: {count(H.sizes['X'] * H.sizes['Y'], 'kernel')} "
              f"({H.sizes['X']} X x {H.sizes['Y']} Y){per_point}",
              f"  tau: {tau[0]:g} .. {tau[-1]:g} ms ({count(tau.size, 'sample')})",
              "  options:"]
    lines += [f"    {key}: {value}" for key, value in stored_options(attrs).items()]
    sweep_dims = H.dims[:-len(CORE_DIMS)]
    if sweep_dims:
        paths = parse_json_attr(attrs.get("sweep_paths", "{}"))
        paths = paths if isinstance(paths, dict) else {}
        lines.append("  sweep:")
        for dim in sweep_dims:
            where = f" -> {paths[dim]}" if dim in paths else ""
            lines.append(f"    {dim}{where}: {_values_text(H.coords[dim].values)}")
        lines.append(f"  completed points: {int(done.sum())} of {done.size}")
    else:
        lines.append("  sweep: none")
    versions = parse_json_attr(attrs.get("versions", "{}"))
    if isinstance(versions, dict):
        versions = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines += [f"  shape: {dict(H.sizes)} {H.dtype}",
              f"  content hash: {attrs.get('content_hash')}",
              f"  provenance: {attrs.get('provenance', 'not recorded')}"
              + (f" (derived from {attrs['derived_from']})" if attrs.get("derived_from")
                 else ""),
              f"  engine version: {attrs.get('engine_version', 'not recorded')}",
              f"  versions: {versions}",
              f"  format version: {attrs.get('format_version')}",
              f"  size on disk: {format_bytes(_disk_size(path))}"]
    return "\n".join(lines)

"""Sweep stores: one kernel store for a whole parameter grid, written point by point.

A sweep store is created empty (:func:`create_sweep_store`, atomically) and grows by
regions (:func:`write_point`, :func:`write_points`): a point's chunks are written
first and its ``done`` flag after, so a process killed in between leaves a point that
is simply not done and is rewritten whole on resume (a block of points: all data,
then all flags).  :func:`completed_points` tells which points are done.  Points are
checked against the store before anything is written (:mod:`xkernels.store.matching`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_int, fail
from xkernels.contract import CORE_DIMS, KERNEL_NAME
from xkernels.provenance import require_described_json, without_value_attrs
from xkernels.store.attrs import checked_attrs
from xkernels.store.layout import (
    DONE_NAME,
    as_path,
    check_storable,
    chunks,
    inspect_store,
    read_done,
    stored_kernels,
    write_store,
)
from xkernels.store.matching import check_point_attrs, check_template, compare_core, coords_equal
from xkernels.store.publish import locked, recover
from xkernels.store.regions import write_region


def create_sweep_store(path: str | os.PathLike, template: xr.DataArray, *,
                       exist_ok: bool = True) -> None:
    """Create (atomically) an empty store for the kernels of a whole parameter sweep.

    Parameters
    ----------
    path : str or os.PathLike
        Store directory.
    template : xarray.DataArray
        Kernels-shaped array with at least one leading sweep dim, all coordinates and
        provenance attrs of the finished sweep (tau in ms); its values are not read
        or written.
    exist_ok : bool
        If the store exists and matches ``template``, do nothing (resume).  If False,
        an existing store raises ``FileExistsError``.

    Raises
    ------
    ValueError
        If ``template`` breaks the data contract, has no sweep dim, or an existing
        store does not match it (dims, coordinates or attrs); nothing is written.

    Examples
    --------
    >>> import xkernels
    >>> S = xkernels.sweep(xkernels.Network.example(),
    ...                    {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...                    {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                    client="sync", progress=False)
    >>> create_sweep_store("created.zarr", S)
    >>> completed_points("created.zarr")
    array([False, False])
    """
    path, template, sweep_dims = checked_template(path, template)
    import dask.array as dsa

    with locked(path):
        recover(path)
        if path.exists():
            if not exist_ok:
                raise FileExistsError(f"kernel store {str(path)!r} already exists")
            check_template(path, template)
            return
        sizes = chunks(template, sweep_dims)
        lazy = dsa.full(template.shape, np.nan, dtype=template.dtype,
                        chunks=tuple(sizes[d] for d in template.dims))
        write_store(template, path, sweep_dims, done=False, overwrite=False, data=lazy)


def checked_template(path: str | os.PathLike, template: xr.DataArray
                     ) -> tuple[Path, xr.DataArray, tuple[str, ...]]:
    """The store's path, the sweep ``template`` checked (before any disk access) without
    its value attrs, and its sweep dims.

    Raises
    ------
    TypeError, ValueError
        ``template`` breaks the data contract, has no sweep dim or undescribed probes.
    """
    path = as_path(path)
    sweep_dims = check_storable(template)
    if not sweep_dims:
        raise ValueError(f"template must have sweep dims before {CORE_DIMS}, got dims "
                         f"{template.dims}; use write_kernels for a single point")
    template = template.copy(deep=False)
    template.attrs = without_value_attrs(checked_attrs(template.attrs))
    require_described_json(template.attrs.get("probes"), f"sweep store {str(path)!r}")
    return path, template, sweep_dims


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

    Examples
    --------
    >>> import xkernels
    >>> S = xkernels.sweep(xkernels.Network.example(),
    ...                    {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...                    {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                    client="sync", progress=False)
    >>> create_sweep_store("points.zarr", S)
    >>> write_point("points.zarr", S.isel(weight_E_E=1), index={"weight_E_E": 1})
    >>> completed_points("points.zarr")
    array([False,  True])
    """
    path = as_path(path)
    inspect_store(path)
    return read_done(path)


def open_sweep_store(path: str | os.PathLike,
                     caller: str) -> tuple[Path, xr.DataArray, tuple[str, ...]]:
    """The store's path, its stored kernels and sweep dims; refuse stores without sweep.

    Parameters
    ----------
    path : str or os.PathLike
        Sweep store.
    caller : str
        Function named in the error message.
    """
    path = as_path(path)
    stored = stored_kernels(path)
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not sweep_dims:
        raise ValueError(f"kernel store {str(path)!r} has no sweep dims; {caller} needs a "
                         "store made by create_sweep_store")
    return path, stored, sweep_dims


def block_index(stored: xr.DataArray, index: Any, path: Path) -> tuple[list[int], ...]:
    """Positions (a list per sweep dim) of an orthogonal block of points, checked."""
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not isinstance(index, Mapping) or set(index) != set(sweep_dims):
        raise ValueError(f"index must map every sweep dim {sweep_dims} of kernel store "
                         f"{str(path)!r} to an int or a list of ints, got {index!r}")
    out = []
    for dim in sweep_dims:
        raw, size = index[dim], stored.sizes[dim]
        field = f"index[{dim!r}]"
        allowed = f"an int or a non-empty list of unique ints in [0, {size})"
        items = [raw] if isinstance(raw, (int, np.integer)) else raw
        if not isinstance(items, (list, tuple, range, np.ndarray)) or any(
                isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer))
                for i in items):
            fail(field, raw, allowed, TypeError)
        positions = [int(i) for i in items]
        if not positions or len(set(positions)) != len(positions) or not all(
                0 <= i < size for i in positions):
            fail(field, raw, allowed)
        out.append(positions)
    return tuple(out)


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
    TypeError
        ``H_point`` is not a DataArray, or an index is not an int.
    ValueError
        If the point does not match the store (coordinates, sweep values, dt, tau,
        probes, spec other than swept values); nothing is written.

    Examples
    --------
    >>> import xkernels
    >>> S = xkernels.sweep(xkernels.Network.example(),
    ...                    {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...                    {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                    client="sync", progress=False)
    >>> create_sweep_store("point.zarr", S)
    >>> write_point("point.zarr", S.isel(weight_E_E=0), index={"weight_E_E": 0})
    >>> completed_points("point.zarr")
    array([ True, False])
    """
    path, stored, sweep_dims = open_sweep_store(path, "write_point")
    if isinstance(index, Mapping):  # one int per dim, then checked as a block of one
        index = {dim: [check_int(f"index[{dim!r}]", i)] for dim, i in index.items()}
    selection = block_index(stored, index, path)
    if not isinstance(H_point, xr.DataArray):
        raise TypeError(f"H_point must be an xarray.DataArray, got {type(H_point).__name__}")
    extra = [d for d in H_point.dims if d not in CORE_DIMS]
    if any(H_point.sizes[d] != 1 for d in extra):
        raise ValueError(f"H_point must have dims {CORE_DIMS} (plus length-1 sweep dims), got "
                         f"{dict(H_point.sizes)}")
    H_point = H_point.squeeze(extra)
    for dim in sweep_dims:
        if dim not in H_point.coords or H_point.coords[dim].ndim != 0:
            raise ValueError(f"H_point needs the scalar coordinate {dim!r} (its sweep value)")
    # the point as a block of one: its scalar sweep coordinates become length-1 ones
    along = {name: coord.dims[0] for name, coord in stored.coords.items()
             if coord.ndim == 1 and coord.dims[0] in sweep_dims and name not in sweep_dims}
    block = H_point.expand_dims(list(sweep_dims)).assign_coords({
        name: (dim, [H_point.coords[name].values.item()]) for name, dim in along.items()
        if name in H_point.coords and H_point.coords[name].ndim == 0})
    _write_block(path, stored, block, selection, "H_point")


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
    TypeError
        ``H_points`` is not a DataArray, or an index is not an int (list).
    ValueError
        If the block does not match the store (dims, coordinates, sweep values at
        ``index``, dt, tau, probes, spec); nothing is written.

    Examples
    --------
    >>> import xkernels
    >>> S = xkernels.sweep(xkernels.Network.example(),
    ...                    {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...                    {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                    client="sync", progress=False)
    >>> create_sweep_store("block.zarr", S)
    >>> write_points("block.zarr", S, index={"weight_E_E": [0, 1]})
    >>> completed_points("block.zarr")
    array([ True,  True])
    """
    path, stored, _ = open_sweep_store(path, "write_points")
    _write_block(path, stored, H_points, block_index(stored, index, path), "H_points")


def _write_block(path: Path, stored: xr.DataArray, H: xr.DataArray,
                 selection: tuple[list[int], ...], name: str) -> None:
    """Check a block of points (named ``name`` in messages) against the store, write it."""
    sweep_dims = tuple(stored.dims[:-len(CORE_DIMS)])
    if not isinstance(H, xr.DataArray):
        raise TypeError(f"{name} must be an xarray.DataArray, got {type(H).__name__}")
    if H.dims != stored.dims:
        raise ValueError(f"{name} must have the dims {stored.dims} of kernel store "
                         f"{str(path)!r}, got {H.dims}")
    check_storable(H)
    compare_core(stored, H, "point kernels", path, CORE_DIMS)
    block = stored.isel(dict(zip(sweep_dims, selection, strict=True)))
    for coord_name, coord in block.coords.items():
        if coord.ndim == 1 and coord.dims[0] in sweep_dims:
            got = H.coords.get(coord_name)
            if got is None or got.dims != coord.dims or not coords_equal(coord.values,
                                                                         got.values):
                raise ValueError(
                    f"{name} coordinate {coord_name!r} is "
                    f"{None if got is None else got.values.tolist()} but index selects "
                    f"{coord.values.tolist()} in kernel store {str(path)!r}")
    check_point_attrs(path, dict(stored.attrs), checked_attrs(H.attrs),
                      dict.fromkeys(sweep_dims))
    write_region(path, KERNEL_NAME, DONE_NAME, selection, np.asarray(H.values, dtype=stored.dtype))

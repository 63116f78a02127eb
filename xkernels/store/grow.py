"""Growing a sweep store by parameter values appended along its sweep dims.

:func:`extend_sweep_store` plans the change (:func:`plan_extension`: which arrays
grow, which coordinate values are appended, refusing anything that is not an append)
and applies it by copy-and-swap: under the store's lock the store is copied into its
staging sibling (chunk files hard-linked, not copied: Zarr replaces a file to change
it, so the two stores never share a change), the copy is grown and renamed into
place (:mod:`xkernels.store.publish`).  A writer killed at any moment leaves the old
store or the grown one, never a mix; no kernel chunk is rewritten.

A transactional layer (icechunk) was considered and not used: its repositories are not
plain Zarr directories (``xr.open_zarr(path)`` finds no group without icechunk), and
its local-file-system storage is not safe for concurrent commits.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from xkernels.contract import CORE_DIMS, KERNEL_NAME
from xkernels.store.attrs import checked_attrs
from xkernels.store.datasets import CONSOLIDATED_WARNING
from xkernels.store.layout import stored_kernels
from xkernels.store.matching import check_template, compare_attrs, compare_core, coords_equal
from xkernels.store.publish import kill_point, publish, staged
from xkernels.store.sweep_store import checked_template


@dataclass(frozen=True)
class Extension:
    """What growing a sweep store changes.

    Attributes
    ----------
    shapes : dict
        Array name -> (old shape, new shape), for every array with a grown dim.
    tails : dict
        Coordinate name -> the values appended to it.
    content_hash : str
        Content hash of the grown sweep (the new ``kernels`` attribute).
    added : dict
        Sweep dim -> number of values appended.
    """

    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    tails: dict[str, list]
    content_hash: str
    added: dict[str, int]


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file of the store into its staging copy (copy where links fail)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def apply_extension(path: os.PathLike, extension: Extension) -> None:
    """Grow the store at ``path`` in place (a staging copy: see :func:`extend_sweep_store`)."""
    import zarr

    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    for name, (old, new) in extension.shapes.items():
        arr = group[name]
        arr.resize(tuple(new))
        if name in extension.tails:
            arr[old[0]:] = np.asarray(extension.tails[name], dtype=arr.dtype)
    group[KERNEL_NAME].update_attributes({"content_hash": extension.content_hash})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=CONSOLIDATED_WARNING)
        zarr.consolidate_metadata(path, zarr_format=3)


def tail_values(stored: np.ndarray, requested: np.ndarray, name: str, dim: str,
                path: os.PathLike) -> list:
    """The values ``requested`` appends to ``stored``.

    Raises
    ------
    ValueError
        ``stored`` is not a prefix of ``requested`` (naming the dim and both value
        lists), or new values do not fit an integer coordinate.
    """
    if requested.size < stored.size or not coords_equal(stored, requested[:stored.size]):
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


def plan_extension(path: os.PathLike, template: xr.DataArray,
                   sweep_dims: tuple[str, ...]) -> Extension | None:
    """What extending the store at ``path`` to ``template`` changes.

    Parameters
    ----------
    path : pathlib.Path
        Absolute path of a checked sweep store.
    template : xarray.DataArray
        The whole requested sweep (checked with
        :func:`xkernels.store.layout.check_storable`).
    sweep_dims : tuple of str
        Its sweep dims.

    Returns
    -------
    Extension or None
        None when the store already holds the template's grid.

    Raises
    ------
    ValueError
        The store cannot grow to ``template``; nothing is written.
    """
    import zarr

    stored = stored_kernels(path)
    grown = [d for d in sweep_dims if d in stored.dims
             and template.sizes[d] != stored.sizes[d]]
    if stored.dims != template.dims or not grown:
        check_template(path, template)
        return None
    compare_core(stored, template, "template", path, CORE_DIMS)
    attrs = checked_attrs(template.attrs)
    compare_attrs(path, attrs, stored.attrs, skip=("content_hash",))
    along = {n for n, c in template.coords.items() if c.ndim == 1 and c.dims[0] in sweep_dims}
    stored_along = {n for n, c in stored.coords.items()
                    if c.ndim == 1 and c.dims[0] in sweep_dims}
    if along != stored_along:
        raise ValueError(f"template does not match kernel store {str(path)!r}: sweep "
                         f"coordinates {sorted(along)}, store has {sorted(stored_along)}")
    tails = {}
    for name in sorted(along):
        dim = template.coords[name].dims[0]
        tail = tail_values(stored.coords[name].values, template.coords[name].values,
                           name, dim, path)
        if tail:
            tails[name] = tail
    group = zarr.open_group(path, mode="r", use_consolidated=False)
    shapes = {}
    for name, arr in group.arrays():
        dims = tuple(arr.metadata.dimension_names or ())
        if any(d in grown for d in dims):
            shapes[name] = (tuple(arr.shape), tuple(template.sizes[d] for d in dims))
    added = {d: template.sizes[d] - stored.sizes[d] for d in grown}
    return Extension(shapes, tails, attrs["content_hash"], added)


def extend_sweep_store(path: str | os.PathLike, template: xr.DataArray) -> dict[str, int]:
    """Grow a sweep store to a grid with new values appended along some sweep dims.

    The arrays are resized and the new coordinate values written; existing kernel
    chunks and ``done`` flags are never rewritten, and the new points are not done
    (compute them and write them with :func:`xkernels.store.write_point` /
    :func:`xkernels.store.write_points`).

    New values must come after the stored ones along each grown dim (the stored
    values, in their order, are a prefix of the requested ones): chunks are indexed
    by position, so inserting values would move written points.

    The extension is crash safe: the grown store is built as a copy (chunks
    hard-linked) and renamed into place, so a process killed at any moment leaves
    the old store or the grown one (or, between two renames, the old one aside,
    which the next writer puts back); readers never change a store.

    Parameters
    ----------
    path : str or os.PathLike
        Existing sweep store (from :func:`xkernels.store.create_sweep_store`).
    template : xarray.DataArray
        As for :func:`xkernels.store.create_sweep_store`: the whole requested sweep.
        Dims, core and channel coordinates (tau in ms), and attrs other than
        ``content_hash`` must equal the store's; along each sweep dim the stored
        coordinate values must be a prefix of the template's.

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

    Examples
    --------
    >>> import xkernels
    >>> S = xkernels.sweep(xkernels.Network.example(),
    ...                    {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]},
    ...                    {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                    client="sync", progress=False)
    >>> xkernels.create_sweep_store("grown.zarr", S)
    >>> S3 = xkernels.sweep(xkernels.Network.example(),
    ...                     {"connections[E->E].synapse.weight": [6e-5, 1.2e-4, 2.4e-4]},
    ...                     {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5., g_eff=False,
    ...                     client="sync", progress=False)
    >>> extend_sweep_store("grown.zarr", S3)
    {'weight_E_E': 1}
    >>> xkernels.completed_points("grown.zarr")
    array([False, False, False])
    """
    path, template, sweep_dims = checked_template(path, template)
    with staged(path) as tmp:  # one process at a time grows a store
        extension = plan_extension(path, template, sweep_dims)
        if extension is None:
            return {}
        shutil.copytree(path, tmp, copy_function=_link_or_copy)
        apply_extension(tmp, extension)
        kill_point("grow:built")
        publish(tmp, path, overwrite=True, what="kernel store")
    return extension.added

"""Resumable region stores: a Zarr store filled region by region, each with a done flag.

The one store model of sweeps (a region per sweep point, flags ``done``) and hybrid
ground truths (a region per batch of cells, flags ``done``; per population,
``summed``).  A region's data are written before its flag and a flag being rewritten
is cleared first, so a writer killed at any moment leaves every region either flagged
with all its data or not flagged: a re-run computes exactly the regions not flagged.
Stores are created atomically (:func:`xkernels.store.datasets.write_dataset`) and
written under the store's lock (:func:`xkernels.store.publish.locked`), which the
caller holds for as long as it computes: two processes take turns.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from xkernels.store.publish import kill_point, locked


def _clean_partials(path: Path, names: tuple[str, ...], position: tuple[int, ...]) -> None:
    """Remove temporary chunk files (``*.partial``) a killed Zarr write left behind."""
    key = "/".join(str(i) for i in position)
    for name in names:
        base = path / name / "c" / key
        for candidate in [*base.parent.glob(f"{base.name}.*.partial"),
                          *(base.rglob("*.partial") if base.is_dir() else [])]:
            candidate.unlink(missing_ok=True)


def write_region(path: Path, data: str, flags: str, selection: tuple[list[int], ...],
                 values: np.ndarray) -> None:
    """Write an orthogonal block of regions: flags cleared, data written, flags set.

    Parameters
    ----------
    path : pathlib.Path
        The store.
    data, flags : str
        Names of the data array and of its flag array (bool, one flag per region:
        the data array's leading dims).
    selection : tuple of list of int
        Positions along each flag dim.
    values : numpy.ndarray
        Data of the block: shape (len of each list..., trailing data dims...).
    """
    import zarr

    with locked(path):
        group = zarr.open_group(path, mode="r+", use_consolidated=False)
        done = group[flags]
        for position in itertools.product(*selection):
            _clean_partials(path, (data, flags), position)
        was_done = done.get_orthogonal_selection(selection)
        if was_done.any():
            done.set_orthogonal_selection(selection, np.zeros(was_done.shape, dtype=bool))
        array = group[data]
        rest = [slice(None)] * (array.ndim - len(selection))
        array.set_orthogonal_selection((*selection, *rest), values)
        kill_point(f"region:{data}-written")
        done.set_orthogonal_selection(selection, np.ones(was_done.shape, dtype=bool))
    kill_point(f"region:{data}-flagged")

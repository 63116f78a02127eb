"""The Zarr store of a hybrid simulation: resumable, one region per batch of cells.

Layout (Zarr 3, consolidated metadata; ``xr.open_zarr(path)`` reads it)::

    ground_truth (Y, probe_channel, time)      float64  the result, per population
    summed       (Y,)                          bool     ground_truth[Y] written
    partial      (batch, probe_channel, time)  float64  sum of the cells of one batch
    done         (batch,)                      bool     partial[batch] written
    coords       Y, probe_channel (probe, units, x, y, z), time (ms),
                 batch, batch_Y, batch_first, batch_cells
    attrs        hybrid_inputs (canonical JSON of everything the result depends on),
                 content_hash, format, format_version, versions

The store is a resumable region store (:mod:`xkernels.store.regions`): created
atomically, a batch's region written before its ``done`` flag, written under the
store's lock (the caller holds it for the whole simulation: two processes take
turns), so a driver killed at any moment leaves each batch either done with all its
data or not done, and a re-run with the same inputs simulates only the batches not
done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.store.datasets import write_dataset
from xkernels.store.layout import chunk_length
from xkernels.store.matching import leaf_diffs, short
from xkernels.store.regions import write_region

FORMAT = "xkernels.hybrid"
FORMAT_VERSION = 1
#: target bytes of one chunk of ``partial``/``ground_truth``
CHUNK_BYTES = 8 * 2 ** 20


class HybridStoreError(ValueError):
    """A store that cannot hold (or does not hold) this simulation."""


def template(coords: Mapping[str, Any], batches: list[dict], inputs: Mapping[str, Any],
             attrs: Mapping[str, Any]) -> tuple[xr.Dataset, dict]:
    """The store's Dataset (lazy data) and its encoding.

    Parameters
    ----------
    coords : mapping
        ``Y``, the ``probe_channel`` coordinates and ``time`` (ms), each as
        ``(dim, values[, attrs])`` (str values as objects: Zarr variable-length strings).
    batches : list of dict
        ``{"Y": str, "first": int, "cells": int}`` per batch, in summation order.
    inputs : mapping
        Canonical description of the simulation (JSON-serialisable).
    attrs : mapping
        Further attrs (``content_hash``, ``versions``...).
    """
    import dask.array as dsa

    n_y, n_ch, n_t = (len(coords[name][1]) for name in ("Y", "probe_channel", "time"))
    n_b = len(batches)
    tc = chunk_length(n_t, 8 * n_ch, CHUNK_BYTES)  # float64 samples of one batch
    ds = xr.Dataset(
        {"ground_truth": (("Y", "probe_channel", "time"),
                          dsa.zeros((n_y, n_ch, n_t), chunks=(1, n_ch, tc))),
         "summed": (("Y",), np.zeros(n_y, dtype=bool)),
         "partial": (("batch", "probe_channel", "time"),
                     dsa.zeros((n_b, n_ch, n_t), chunks=(1, n_ch, tc))),
         "done": (("batch",), np.zeros(n_b, dtype=bool))},
        coords={**coords, "batch": ("batch", np.arange(n_b)),
                "batch_Y": ("batch", np.asarray([b["Y"] for b in batches], dtype=object)),
                "batch_first": ("batch", np.asarray([b["first"] for b in batches])),
                "batch_cells": ("batch", np.asarray([b["cells"] for b in batches]))},
        attrs={"format": FORMAT, "format_version": FORMAT_VERSION,
               "hybrid_inputs": json.dumps(inputs, sort_keys=True), **attrs})
    encoding = {"ground_truth": {"chunks": (1, n_ch, tc)},
                "partial": {"chunks": (1, n_ch, tc)},
                "done": {"chunks": (1,)}, "summed": {"chunks": (1,)}}
    return ds, encoding


def open_or_create(path: str | os.PathLike, coords: Mapping[str, Any], batches: list[dict],
                   inputs: Mapping[str, Any], attrs: Mapping[str, Any]) -> np.ndarray:
    """Open the store of this simulation (creating it from :func:`template` if absent);
    return its done flags.

    Raises
    ------
    HybridStoreError
        If ``path`` exists but is not a hybrid store, or holds another simulation
        (naming every differing input with the stored and the given value).
    """
    import zarr

    path = Path(path)
    if not path.exists():
        ds, encoding = template(coords, batches, inputs, attrs)
        write_dataset(ds, path, encoding=encoding, compute=False, what="hybrid store")
    try:
        group = zarr.open_group(path, mode="r", use_consolidated=False)
        attrs = dict(group.attrs)
    except zarr.errors.BaseZarrError as err:  # not a Zarr group: not our store
        raise HybridStoreError(f"store {str(path)!r} is not a hybrid simulation store "
                               f"({type(err).__name__}: {err})") from None
    if attrs.get("format") != FORMAT or "hybrid_inputs" not in attrs:
        raise HybridStoreError(f"store {str(path)!r} is not a hybrid simulation store "
                               f"(format {attrs.get('format')!r}, expected {FORMAT!r})")
    if attrs.get("format_version") != FORMAT_VERSION:
        raise HybridStoreError(f"store {str(path)!r} has format_version "
                               f"{attrs.get('format_version')!r}; this xkernels writes "
                               f"{FORMAT_VERSION}")
    stored = json.loads(attrs["hybrid_inputs"])
    given = json.loads(json.dumps(dict(inputs), sort_keys=True))
    diffs = [f"{'.'.join(where)}: stored {short(old, 100)}, given {short(new, 100)}"
             for where, old, new in leaf_diffs(stored, given)]
    if diffs:
        raise HybridStoreError(f"store {str(path)!r} holds another simulation; differences "
                               "(stored vs given): " + "; ".join(diffs[:8])
                               + (" ..." if len(diffs) > 8 else ""))
    return np.asarray(group["done"][:], dtype=bool)


def write_batch(path: str | os.PathLike, batch: int, values: np.ndarray) -> None:
    """Write one batch's partial sum, then its done flag."""
    write_region(Path(path), "partial", "done", ([batch],), values[None])


def read_batch(path: str | os.PathLike, batch: int) -> np.ndarray:
    """One batch's partial sum (probe_channel, time)."""
    import zarr

    group = zarr.open_group(Path(path), mode="r", use_consolidated=False)
    return np.asarray(group["partial"][batch])


def write_ground_truth(path: str | os.PathLike, j: int, values: np.ndarray) -> None:
    """Write population ``j``'s ground truth, then its ``summed`` flag."""
    write_region(Path(path), "ground_truth", "summed", ([j],), values[None])

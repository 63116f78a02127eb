"""Zarr stores: kernel stores (atomic), sweep stores (written by regions, resumable,
growable by copy-and-swap), and kernel computation with a store as cache.

One job per module; each imports only modules listed below it::

    cache        compute_kernels(store=...): the engine's kernels, cached in a store
    kernel_store write_kernels, open_kernels, read_attrs, describe: whole stores
    series       write_rates, write_signals, open_rates, open_signals: time series stores
    grow         extend_sweep_store: new values appended along sweep dims
    sweep_store  create_sweep_store, write_point(s), completed_points: region writes
    matching     does a template / point / block fit a stored sweep (attribute diffs)
    layout       the on-disk layout (chunks, done flags, format version); new stores;
                 is a path a kernel store we can read, its metadata, done flags
    regions      resumable region stores (sweeps, hybrid): data first, then done flags
    datasets     any Dataset to a new Zarr store, atomically (rates, signals)
    attrs        plain-JSON attributes, str coordinates on disk
    publish      the consistency model: one lock per result, staging, rename
"""

from xkernels.store.cache import compute_kernels
from xkernels.store.grow import extend_sweep_store
from xkernels.store.kernel_store import (
    KernelStoreError,
    describe,
    open_kernels,
    read_attrs,
    write_kernels,
)
from xkernels.store.series import open_rates, open_signals, write_rates, write_signals
from xkernels.store.sweep_store import (
    completed_points,
    create_sweep_store,
    write_point,
    write_points,
)

__all__ = ["KernelStoreError", "completed_points", "compute_kernels", "create_sweep_store",
           "describe", "extend_sweep_store", "open_kernels", "open_rates", "open_signals",
           "read_attrs", "write_kernels", "write_point", "write_points", "write_rates",
           "write_signals"]

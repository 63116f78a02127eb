"""Zarr stores: kernel stores (atomic), sweep stores (written by regions, resumable,
growable), and kernel computation with a store as cache."""

from xkernels.store.cache import compute_kernels
from xkernels.store.kernel_store import (
    KernelStoreError,
    completed_points,
    create_sweep_store,
    describe,
    extend_sweep_store,
    open_kernels,
    read_attrs,
    write_kernels,
    write_point,
    write_points,
)

__all__ = ["KernelStoreError", "completed_points", "compute_kernels", "create_sweep_store",
           "describe", "extend_sweep_store", "open_kernels", "read_attrs", "write_kernels",
           "write_point", "write_points"]

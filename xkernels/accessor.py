"""The ``.xk`` accessor: a thin layer over xkernels' pure functions.

Registered on ``import xkernels``.  All logic lives in the modules it calls.
"""

from __future__ import annotations

from typing import Any

import xarray as xr


@xr.register_dataarray_accessor("xk")
class XkDataArrayAccessor:
    """``DataArray.xk``: kernels, rates and signals helpers."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def probe(self, name: str) -> xr.DataArray:
        """Channels of one probe (see :func:`xkernels.contract.select_probe`)."""
        from xkernels.contract import select_probe

        return select_probe(self._obj, name)

    def convolve(self, kernels: xr.DataArray, **kwargs: Any) -> xr.DataArray:
        """Signals from rates: see :func:`xkernels.convolve`."""
        from xkernels.signals.convolution import convolve

        return convolve(self._obj, kernels, **kwargs)

    def to_zarr(self, path, **kwargs: Any) -> None:
        """Write kernels, signals or rates to a new Zarr store, atomically.

        Dispatches on the dims: with ``tau`` to
        :func:`xkernels.store.write_kernels`, with ``probe_channel`` and ``time`` to
        :func:`xkernels.store.write_signals`, with ``X`` and ``time`` to
        :func:`xkernels.store.write_rates` (``overwrite=`` and the writers' other
        keywords pass through).  Every store reads back with ``xr.open_zarr(path)``.
        """
        from xkernels import store

        dims = set(self._obj.dims)
        if "tau" in dims:
            return store.write_kernels(self._obj, path, **kwargs)
        if {"probe_channel", "time"} <= dims:
            return store.write_signals(self._obj, path, **kwargs)
        if {"X", "time"} <= dims:
            return store.write_rates(self._obj, path, **kwargs)
        raise ValueError(f"to_zarr writes kernels (dims with 'tau'), signals (dims with "
                         f"'probe_channel' and 'time') or rates (dims with 'X' and 'time'); "
                         f"got an array with dims {self._obj.dims}")

    def plot(self, **kwargs: Any):
        """Plot kernels or signals: see :mod:`xkernels.plot`."""
        from xkernels import plot

        return plot.plot(self._obj, **kwargs)


@xr.register_dataset_accessor("xk")
class XkDatasetAccessor:
    """``Dataset.xk``: figures of datasets (the validation dataset)."""

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def plot(self, **kwargs: Any):
        """Plot a validation dataset from :func:`xkernels.validate` (ground truth and
        prediction overlaid per channel, R² and STD-ratio profiles): see
        :func:`xkernels.hybrid.plot_validation`."""
        from xkernels.hybrid import plot_validation

        return plot_validation(self._obj, **kwargs)

"""The ``.xk`` accessor: a thin layer over xkernels' pure functions.

Registered on ``import xkernels``.  All logic lives in the modules it calls.
"""

from __future__ import annotations

from typing import Any

import xarray as xr


@xr.register_dataarray_accessor("xk")
class XkDataArrayAccessor:
    """``DataArray.xk``: kernels, rates and signals helpers.

    Parameters
    ----------
    obj : xarray.DataArray
        The array the accessor is attached to (kernels, rates or signals).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xkernels
    >>> rates = xr.DataArray(np.ones((1, 8)), dims=("X", "time"),
    ...                      coords={"X": ["E"], "time": np.arange(8) * 0.5})
    >>> H = xr.DataArray(np.ones((1, 1, 1, 3)), dims=("X", "Y", "probe_channel", "tau"),
    ...                  coords={"X": ["E"], "Y": ["E"], "probe_channel": ["cdm:z"],
    ...                          "tau": [-0.5, 0.0, 0.5]})
    >>> rates.xk.convolve(H).sizes["time"]
    8
    """

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def probe(self, name: str) -> xr.DataArray:
        """The channels of one probe (:func:`xkernels.select_probe`).

        Parameters
        ----------
        name : str
            Probe name (a value of the ``probe`` coordinate, e.g. ``"lfp"``).

        Returns
        -------
        xarray.DataArray
            The array restricted to that probe's channels.

        Examples
        --------
        >>> H.xk.probe("cdm").probe_channel.values.tolist()   # doctest: +SKIP
        ['cdm:z']
        """
        from xkernels.contract import select_probe

        return select_probe(self._obj, name)

    def convolve(self, kernels: xr.DataArray, **kwargs: Any) -> xr.DataArray:
        """Signals of these rates through ``kernels`` (:func:`xkernels.convolve`).

        Parameters
        ----------
        kernels : xarray.DataArray
            Kernels with dims (X, Y, probe_channel, tau); tau in ms with the rates'
            time step.
        **kwargs
            ``keep``, ``mode``, ``dtype`` and the other keywords of
            :func:`xkernels.convolve`.

        Returns
        -------
        xarray.DataArray
            Lazy (dask) signals with dims (..., probe_channel, time).

        Examples
        --------
        >>> signals = rates.xk.convolve(H, keep=("X",))     # doctest: +SKIP
        """
        from xkernels.signals.convolution import convolve

        return convolve(self._obj, kernels, **kwargs)

    def to_zarr(self, path, **kwargs: Any) -> None:
        """Write kernels, signals or rates to a new Zarr store, atomically.

        Dispatches on the dims: with ``tau`` to :func:`xkernels.write_kernels`, with
        ``probe_channel`` and ``time`` to :func:`xkernels.write_signals`, with ``X`` and
        ``time`` to :func:`xkernels.write_rates`.  Every store reads back with
        ``xr.open_zarr(path)``.

        Parameters
        ----------
        path : str or os.PathLike
            The new store.
        **kwargs
            ``overwrite=`` and the writer's other keywords.

        Raises
        ------
        ValueError
            The array is neither kernels, signals nor rates.

        Examples
        --------
        >>> H.xk.to_zarr("kernels.zarr", overwrite=True)     # doctest: +SKIP
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

    def to_units(self, units: Any = "SI") -> xr.DataArray:
        """Kernels or signals with channels in other units (e.g. CDM in nA m): see
        :func:`xkernels.units.convert_units`.

        Parameters
        ----------
        units : str or mapping of str to str
            ``"SI"`` (V, A m, T), one unit for all channels, or probe name -> unit.

        Returns
        -------
        xarray.DataArray
            Rescaled, with the ``units`` coordinate rewritten.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> from xkernels.contract import channel_coords
        >>> cdm = xr.DataArray([[3e9]], dims=("probe_channel", "time"),
        ...                    coords=channel_coords("cdm", ["cdm:z"], "nA µm"))
        >>> out = cdm.xk.to_units({"cdm": "A m"})
        >>> float(out[0, 0]), str(out.units.values[0])
        (3e-06, 'A m')
        """
        from xkernels.units import convert_units

        return convert_units(self._obj, units)

    def to_nwb(self, path, **kwargs: Any) -> None:
        """Write signals to a new NWB file: see :func:`xkernels.io.to_nwb`.

        Parameters
        ----------
        path : str or path
            The ``.nwb`` file.
        **kwargs
            ``lfp``, ``session_description``, ``identifier``, ``session_start_time``,
            ``overwrite``.

        Examples
        --------
        See :func:`xkernels.io.to_nwb`.
        """
        from xkernels.io import to_nwb

        return to_nwb(self._obj, path, **kwargs)

    def to_mne(self, kind: str = "raw", **kwargs: Any):
        """Signals as an MNE Raw or Evoked object: see :func:`xkernels.io.to_mne`.

        Parameters
        ----------
        kind : {"raw", "evoked"}
            Continuous or averaged data.
        **kwargs
            ``eeg``, ``average``.

        Returns
        -------
        mne.io.RawArray or mne.EvokedArray
            In SI units.

        Examples
        --------
        See :func:`xkernels.io.to_mne`.
        """
        from xkernels.io import to_mne

        return to_mne(self._obj, kind, **kwargs)

    def plot(self, **kwargs: Any):
        """Plot kernels, signals or rates (:func:`xkernels.plot.plot`).

        Kernels (a ``tau`` dim) as a grid of panels (:func:`xkernels.plot.plot_kernels`),
        signals (a ``time`` dim) per probe (:func:`xkernels.plot.plot_signals`), rates
        (``X`` and ``time``) as lines (:func:`xkernels.plot.plot_rates`).

        Parameters
        ----------
        **kwargs
            The keywords of the function drawing the array: ``probes``, ``kind``
            (``"traces"`` or ``"image"``), ``scale``, ``tau_lim``/``time_lim``,
            ``rates``, ``figsize``, ``fig``, ``ax``.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = H.xk.plot(kind="image")                    # doctest: +SKIP
        >>> fig.savefig("kernels.png")                       # doctest: +SKIP
        """
        from xkernels import plot

        return plot.plot(self._obj, **kwargs)


@xr.register_dataset_accessor("xk")
class XkDatasetAccessor:
    """``Dataset.xk``: figures of datasets (the validation dataset).

    Parameters
    ----------
    obj : xarray.Dataset
        The dataset the accessor is attached to.

    Examples
    --------
    >>> ds = xkernels.validate(network, spikes, probes, t_stop=1000.0)  # doctest: +SKIP
    >>> fig = ds.xk.plot()                                          # doctest: +SKIP
    """

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def plot(self, **kwargs: Any):
        """Plot a validation dataset from :func:`xkernels.validate`.

        Ground truth and prediction overlaid per channel, R² and STD-ratio profiles
        (:func:`xkernels.hybrid.plot_validation`).

        Parameters
        ----------
        **kwargs
            The keywords of :func:`xkernels.hybrid.plot_validation`.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = ds.xk.plot()                                   # doctest: +SKIP
        """
        from xkernels.hybrid import plot_validation

        return plot_validation(self._obj, **kwargs)

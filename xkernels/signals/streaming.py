"""Streaming convolution: signals of a running simulation, chunk by chunk.

:class:`StreamingConvolver` takes the population rates in chunks as a simulation
produces them (e.g. NEST run in 100 ms steps) and returns, for each chunk, the signal
samples that are complete, i.e. whose every lag the rates received so far cover (or,
with ``mode="same"``, that will never receive more: ``nu = 0`` before the first bin).
:meth:`StreamingConvolver.finish` returns the tail (``mode="same"``: the last
``-min(tau)`` ms, with ``nu = 0`` after the last bin).  Concatenated, the chunks are
:func:`xkernels.convolve` of the whole recording (same numbers to rounding, same
labels).

Memory is constant over the stream: the kernels are summed over ``Y`` and transformed
once; between chunks only the last ``n_taps - 1 + max(tau[0] / dt, 0)`` rates samples
are kept (overlap-save with the numpy kernel of the offline convolution).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import fail
from xkernels.contract import CORE_DIMS
from xkernels.signals.convolution import (
    SIGNAL_NAME,
    check_input,
    check_options,
    fft_size,
    kernel_spectrum,
    match_x,
    plain_coord,
    plan_convolution,
    signal_block,
)

__all__ = ["StreamingConvolver"]

_TIME_ATOL = 1e-6  # fraction of dt: tolerance on a chunk's start time


class StreamingConvolver:
    """Convolve rates with kernels while a simulation produces them.

    Parameters
    ----------
    kernels : xarray.DataArray
        Kernels as for :func:`xkernels.convolve` (dims ``X``, ``Y``, ``probe_channel``,
        ``tau`` plus sweep dims; regular ``tau`` in ms).
    keep : tuple of str
        ``()`` sums over ``X`` and ``Y``; ``("X",)``, ``("Y",)`` or ``("X", "Y")`` keep
        the per-population contributions.
    mode : {"same", "valid"}
        As for :func:`xkernels.convolve`: ``"same"`` gives one output sample per rates
        sample (``nu = 0`` outside the recording), ``"valid"`` only the complete ones.

    Attributes
    ----------
    n_received, n_emitted : int
        Rates samples received and signal samples returned so far.
    buffered_samples : int
        Rates samples held between chunks (constant: ``n_taps - 1 + max(lag0, 0)``
        once the stream runs, ``lag0 = tau[0] / dt``).

    Raises
    ------
    TypeError, ValueError
        Bad kernels or options at construction; at :meth:`push`, a chunk that is not
        contiguous with the previous one (its first time), of another time step, with
        other populations or other dims, or with non-finite values -- before the
        chunk is taken (the stream stays usable).

    Examples
    --------
    Rates of 60 ms pushed in chunks of 7 ms: each push returns the samples it completes,
    :meth:`finish` the rest; together they are the offline convolution.

    >>> import numpy as np, xarray as xr, xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> rates = xkernels.rates_from_spikes({"E": [1.0, 22.5, 40.0], "I": [3.0, 41.0]},
    ...                                    t_start=0., t_stop=60., dt=2**-4)
    >>> stream = StreamingConvolver(H)
    >>> n = 7 * 16                                # 7 ms of bins per chunk
    >>> parts = [stream.push(rates.isel(time=slice(i, i + n)))
    ...          for i in range(0, rates.sizes["time"], n)]
    >>> parts[0].sizes["time"]                    # the last 5 ms wait for later rates
    32
    >>> stream.buffered_samples                   # the kernels' 161 taps - 1
    160
    >>> parts.append(stream.finish())
    >>> streamed = xr.concat(parts, "time")
    >>> offline = xkernels.convolve(rates, H).compute()
    >>> bool(np.allclose(streamed, offline, rtol=0, atol=1e-12 * float(abs(offline).max())))
    True
    """

    def __init__(self, kernels: xr.DataArray, *, keep: tuple[str, ...] = (),
                 mode: str = "same") -> None:
        self._keep, _, _ = check_options(keep, mode, None, None)
        self.mode = mode
        check_input(kernels, "kernels", CORE_DIMS, "tau", ("time",))
        if not np.all(np.isfinite(kernels.values)):
            raise ValueError("kernels contain non-finite values; kernels must be finite")
        self.kernels = kernels
        self._plan = None
        self._spectrum: np.ndarray | None = None
        self._buf: np.ndarray | None = None
        self._template: xr.DataArray | None = None
        self._skip = 0
        self._t0: float | None = None
        self.n_received = 0
        self.n_emitted = 0
        self._next = 0  # index of the next output sample
        self._finished = False

    # ------------------------------------------------------------------ state
    @property
    def buffered_samples(self) -> int:
        """Rates samples held between chunks.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> H = xr.DataArray(np.ones((1, 1, 1, 3)), dims=("X", "Y", "probe_channel", "tau"),
        ...                  coords={"X": ["E"], "tau": [0.0, 1.0, 2.0]})
        >>> stream = StreamingConvolver(H)
        >>> _ = stream.push(xr.DataArray(np.ones((1, 50)), dims=("X", "time"),
        ...                              coords={"X": ["E"], "time": np.arange(50.0)}))
        >>> stream.buffered_samples               # n_taps - 1, however long the stream
        2
        """
        return 0 if self._buf is None else int(self._buf.shape[-1])

    @property
    def next_time(self) -> float | None:
        """Time (ms) the next chunk must start at (None before the first chunk).

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> rates = xr.DataArray([[2.0, 0.0, 1.0, 1.0, 3.0]], dims=("X", "time"),
        ...                      coords={"X": ["E"], "time": [10.0, 11.0, 12.0, 13.0, 14.0]})
        >>> stream = StreamingConvolver(xr.DataArray(
        ...     [[[[0.5, 0.5]]]], dims=("X", "Y", "probe_channel", "tau"),
        ...     coords={"X": ["E"], "tau": [0.0, 1.0]}))
        >>> print(stream.next_time)
        None
        >>> stream.push(rates).values.round(12).tolist()
        [[1.0, 1.0, 0.5, 1.0, 2.0]]
        >>> stream.next_time
        15.0
        """
        return None if self._t0 is None else float(self._t0 + self.n_received * self._plan.dt)

    def _planned(self, chunk: xr.DataArray) -> Any:
        """The convolution plan of the first chunk (checks rates against kernels); a
        one-sample chunk takes its time step from the kernels."""
        if chunk.sizes["time"] == 1:
            tau = self.kernels.coords["tau"].values
            step = float(tau[1] - tau[0]) if tau.size > 1 else 1.0
            chunk = xr.concat([chunk, chunk.assign_coords(
                time=chunk.coords["time"].values + step)], "time")
        return plan_convolution(chunk, self.kernels, self._keep, "same")

    def _start(self, chunk: xr.DataArray) -> None:
        """Plan from the first chunk: dims, time step, spectrum and the empty buffer."""
        plan = self._planned(chunk)
        m = plan.n_taps - 1
        self._plan = plan
        n_fft = fft_size(plan.n_taps)
        order = [d for d in plan.batch if d in self.kernels.dims] + list(CORE_DIMS)
        h = np.asarray(self.kernels.transpose(*order).values)
        h = h[tuple(slice(None) if d in self.kernels.dims else None for d in plan.batch)
              + (Ellipsis,)]
        self._spectrum = kernel_spectrum(h, n_fft, sum_y=not plan.keep_y)
        first = max(plan.lag0 + m, 0) if self.mode == "valid" else 0
        self._next = first
        begin = first - plan.lag0 - m  # rates index of the next output's first lag
        shape = tuple(chunk.sizes[d] for d in plan.rate_batch) + (chunk.sizes["X"],)
        self._buf = np.zeros(shape + (max(-begin, 0),))
        self._skip = max(begin, 0)
        self._t0 = float(chunk.coords["time"].values[0])
        self._template = chunk.isel(time=slice(0, 0))

    def _check(self, chunk: Any) -> xr.DataArray:
        if self._finished:
            raise RuntimeError("the stream is finished: start a new StreamingConvolver")
        if not isinstance(chunk, xr.DataArray):
            fail("chunk", type(chunk).__name__, "an xarray.DataArray with dims X and time "
                 "(rates_from_spikes of the interval)", TypeError)
        if "time" not in chunk.dims or "X" not in chunk.dims or "time" not in chunk.coords:
            fail("chunk dims", chunk.dims, "dims including X and time, with a time "
                 "coordinate (ms)")
        if chunk.sizes["time"] == 0:
            return chunk
        if self._plan is None:
            self._planned(chunk)
            return match_x(chunk, self.kernels)
        plan = self._plan
        chunk = match_x(chunk, self.kernels)
        want = self._template
        if set(chunk.dims) != set(want.dims) or any(
                chunk.sizes[d] != want.sizes[d] for d in plan.rate_batch):
            fail("chunk dims", dict(chunk.sizes), f"the dims of the first chunk "
                 f"{ {d: want.sizes[d] for d in want.dims if d != 'time'} } plus time")
        t = np.asarray(chunk.coords["time"].values, dtype=float)
        expected = self.next_time + plan.dt * np.arange(t.size)
        if np.abs(t - expected).max() > _TIME_ATOL * plan.dt:
            raise ValueError(f"chunk time must continue the stream: first time "
                             f"{float(expected[0])!r} ms, step {plan.dt!r} ms; got times "
                             f"from {float(t[0])!r} to {float(t[-1])!r} ms")
        return chunk

    # ------------------------------------------------------------------ API
    def push(self, chunk: xr.DataArray) -> xr.DataArray:
        """Take the next rates chunk; return the signal samples it completes.

        Parameters
        ----------
        chunk : xarray.DataArray
            Rates (spikes per bin) with dims ``X`` and ``time`` (plus the other dims of
            the first chunk), any length >= 0, starting where the previous chunk
            ended (ms, the kernels' time step).

        Returns
        -------
        xarray.DataArray
            ``signals`` (other dims, [X], [Y], ``probe_channel``, ``time``), numpy-backed,
            possibly of length 0 along time, with their time coordinate (ms).

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> H = xr.DataArray(np.ones((1, 1, 1, 3)), dims=("X", "Y", "probe_channel", "tau"),
        ...                  coords={"X": ["E"], "tau": [0.0, 1.0, 2.0]})
        >>> stream = StreamingConvolver(H)      # a 3-tap moving sum, causal
        >>> chunk = xr.DataArray([[1.0, 0.0]], dims=("X", "time"),
        ...                      coords={"X": ["E"], "time": [0.0, 1.0]})
        >>> stream.push(chunk).values.round(12).tolist()
        [[1.0, 1.0]]
        """
        chunk = self._check(chunk)
        if chunk.sizes["time"] == 0:
            return self._label(self._empty(), 0)
        if self._plan is None:
            self._start(chunk)
        plan = self._plan
        values = np.asarray(chunk.transpose(*plan.rate_batch, "X", "time").values,
                            dtype=np.float64)
        if not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))[0]
            raise ValueError(f"chunk contains {int(np.sum(~np.isfinite(values)))} non-finite "
                             f"value(s) (first at time="
                             f"{float(chunk.coords['time'].values[bad[-1]])!r} ms): rates "
                             "must be finite")
        self.n_received += values.shape[-1]
        drop = min(self._skip, values.shape[-1])
        self._skip -= drop
        self._buf = np.concatenate([self._buf, values[..., drop:]], axis=-1)
        n = self.n_received
        return self._emit(min(n, n + plan.lag0) - self._next)

    def finish(self) -> xr.DataArray:
        """End the stream: the samples left (``mode="same"``: the last ``-min(tau)``
        ms, with ``nu = 0`` after the last rates bin; nothing with ``"valid"``).

        Returns
        -------
        xarray.DataArray
            The last signal chunk (possibly of length 0 along time).

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> H = xr.DataArray(np.ones((1, 1, 1, 3)), dims=("X", "Y", "probe_channel", "tau"),
        ...                  coords={"X": ["E"], "tau": [-1.0, 0.0, 1.0]})
        >>> stream = StreamingConvolver(H)      # needs 1 ms of the future
        >>> chunk = xr.DataArray([[1.0, 0.0, 0.0]], dims=("X", "time"),
        ...                      coords={"X": ["E"], "time": [0.0, 1.0, 2.0]})
        >>> stream.push(chunk).sizes["time"], stream.finish().sizes["time"]
        (2, 1)
        """
        if self._finished:
            raise RuntimeError("finish() was called already")
        if self._plan is None:
            self._finished = True
            raise ValueError("finish() before any rates: push at least one chunk")
        out = self._emit(self.n_received - self._next) if self.mode == "same" \
            else self._emit(0)
        self._finished = True
        self._buf = None
        return out

    # ------------------------------------------------------------------ numerics
    def _empty(self) -> np.ndarray:
        return np.zeros(self._out_shape() + (0,)) if self._plan is not None else None

    def _out_shape(self) -> tuple[int, ...]:
        plan = self._plan
        spec = self._spectrum
        rb = self._buf.shape[:-2]
        batch = np.broadcast_shapes(rb + (1,) * len(plan.kernel_only), spec.shape[:-4])
        return (batch + ((self._buf.shape[-2],) if plan.keep_x else ())
                + ((spec.shape[-3],) if plan.keep_y else ()) + (spec.shape[-2],))

    def _emit(self, n_out: int) -> xr.DataArray:
        plan = self._plan
        m = plan.n_taps - 1
        if n_out <= 0:
            return self._label(self._empty(), 0)
        need = n_out + m
        window = self._buf
        if window.shape[-1] < need:  # the end of the stream: nu = 0 after the last bin
            pad = ((0, 0),) * (window.ndim - 1) + ((0, need - window.shape[-1]),)
            window = np.pad(window, pad)
        window = window[..., :need]
        window = window[(slice(None),) * len(plan.rate_batch)
                        + (None,) * len(plan.kernel_only) + (Ellipsis,)]
        data = signal_block(window, self._spectrum, n_taps=plan.n_taps, keep_x=plan.keep_x,
                             keep_y=plan.keep_y, out_dtype=np.float64)
        self._buf = self._buf[..., min(n_out, self._buf.shape[-1]):]
        first = self._next
        self._next += n_out
        self.n_emitted += n_out
        return self._label(data, n_out, first)

    def _label(self, data: np.ndarray | None, n: int, first: int | None = None
               ) -> xr.DataArray:
        """The signal chunk with its coordinates (kernels' channels, rates' other dims,
        time in ms) and the attrs of :func:`xkernels.convolve`."""
        if self._plan is None:
            return xr.DataArray(np.zeros((0,)), dims=("time",), name=SIGNAL_NAME)
        plan = self._plan
        first = self._next if first is None else first
        dims = plan.batch + ("X",) * plan.keep_x + ("Y",) * plan.keep_y
        time = self._t0 + plan.dt * np.arange(first, first + n)
        out = xr.DataArray(data, dims=dims + ("probe_channel", "time"), name=SIGNAL_NAME)
        coords = {}
        for src in (self.kernels, self._template):
            for cname, coord in src.coords.items():
                if cname in ("tau", "time") or not set(coord.dims) <= set(out.dims):
                    continue
                coords.setdefault(cname, plain_coord(coord.variable))
        out = out.assign_coords(coords).assign_coords(
            time=("time", time, {"units": "ms"}))
        attrs = {"long_name": "signal", "dt": plan.dt, "time_units": "ms",
                 "mode": self.mode, "streamed": 1}
        if "units" in self.kernels.coords:
            units = list(dict.fromkeys(str(u) for u in self.kernels.coords["units"].values))
            if len(units) == 1:
                attrs["units"] = units[0]
        attrs["rates_units"] = str(self._template.attrs.get("units") or "spikes/bin")
        if "content_hash" in self.kernels.attrs:
            attrs["kernels_content_hash"] = self.kernels.attrs["content_hash"]
        return out.assign_attrs(attrs)


"""Figures of kernels and predicted signals (matplotlib, no pyplot state).

:func:`plot` is what ``DataArray.xk.plot()`` calls: it draws kernels (dims
``X, Y, probe_channel, tau``) with :func:`plot_kernels` and signals (dims
``probe_channel, time``) with :func:`plot_signals`.  Both return a
:class:`matplotlib.figure.Figure` built without :mod:`matplotlib.pyplot`, so they work
with any backend (and headless); save it with ``fig.savefig("name.png")``.

Probes whose channels are spread along depth only (``x``/``y`` NaN, distinct ``z``,
e.g. the ``GaussCylinderPotential`` LFP) are drawn depth-resolved, as traces with a
scale bar or as an image with a colour bar; every other probe (CDM, EEG, MEG) is drawn
as one line per non-zero channel.  Values are shown in the channel's ``units``
coordinate, rescaled to a readable SI prefix (mV -> µV -> nV).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

KINDS = ("traces", "image")
_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))
_BASE_PREFIX = {"m": 1e-3, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def readable_units(units: str, magnitude: float) -> tuple[float, str]:
    """Factor and unit label that bring ``magnitude`` (in ``units``) to 1..1000.

    Only the SI prefix of the first unit symbol changes: ``("mV", 2e-4)`` gives
    ``(1000.0, "µV")``; ``("nA µm", 5.0)`` gives ``(1.0, "nA µm")``.

    Parameters
    ----------
    units : str
        Units of the data, e.g. ``"mV"``, ``"nA µm"``.
    magnitude : float
        Typical absolute value of the data (in ``units``).

    Returns
    -------
    factor : float
        Multiply the data by this.
    label : str
        Units of the rescaled data.
    """
    head, sep, rest = units.partition(" ")
    base = 1.0
    symbol = head
    if len(head) >= 2 and head[0] in _BASE_PREFIX:
        base, symbol = _BASE_PREFIX[head[0]], head[1:]
    if not np.isfinite(magnitude) or magnitude <= 0:
        return 1.0, units
    value = magnitude * base
    for scale, prefix in _PREFIXES:
        if value >= scale:
            return base / scale, f"{prefix}{symbol}{sep}{rest}"
    scale, prefix = _PREFIXES[-1]
    return base / scale, f"{prefix}{symbol}{sep}{rest}"


def nice_number(value: float) -> float:
    """Largest 1, 2 or 5 × 10^k not above ``value`` (> 0)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exponent = np.floor(np.log10(value))
    for mantissa in (5.0, 2.0, 1.0):
        candidate = mantissa * 10.0 ** exponent
        if candidate <= value * (1 + 1e-12):
            return float(candidate)
    return float(10.0 ** exponent)


def probe_names(obj: xr.DataArray) -> list[str]:
    """Probe names in channel order."""
    return list(dict.fromkeys(obj.coords["probe"].values.tolist()))


def is_depth_probe(part: xr.DataArray) -> bool:
    """True if the channels of one probe are a depth profile (x, y NaN; z distinct)."""
    if part.sizes["probe_channel"] < 2:
        return False
    x = np.asarray(part.coords["x"].values, float)
    y = np.asarray(part.coords["y"].values, float)
    z = np.asarray(part.coords["z"].values, float)
    return bool(np.isnan(x).all() and np.isnan(y).all() and np.isfinite(z).all()
                and np.unique(z).size == z.size)


def _units(part: xr.DataArray) -> str:
    units = list(dict.fromkeys(part.coords["units"].values.tolist()))
    return units[0] if len(units) == 1 else "mixed units"


def _check_dims(obj: xr.DataArray, core: Sequence[str], what: str) -> None:
    extra = [d for d in obj.dims if d not in core]
    if extra:
        raise ValueError(f"{what} to plot have extra dims {extra}; select one point first, "
                         f"e.g. obj.isel({extra[0]}=0) or obj.sel(...)")
    for name in ("probe", "units", "x", "y", "z"):
        if name not in obj.coords:
            raise ValueError(f"{what} to plot lack the probe_channel coordinate {name!r}")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _select_probes(obj: xr.DataArray, probes: Sequence[str] | None) -> list[str]:
    names = probe_names(obj)
    if probes is None:
        return names
    if isinstance(probes, str):
        probes = [probes]
    unknown = [p for p in probes if p not in names]
    if unknown:
        raise ValueError(f"probes {unknown} not found; available probes: {names}")
    return list(probes)


def _window(coord: np.ndarray, lim: Sequence[float] | None, name: str) -> slice:
    if lim is None:
        return slice(None)
    if len(lim) != 2 or not lim[0] < lim[1]:
        raise ValueError(f"{name} must be (start, stop) with start < stop (ms), got {lim!r}")
    inside = np.flatnonzero((coord >= lim[0]) & (coord <= lim[1]))
    if inside.size < 2:
        raise ValueError(f"{name} = {tuple(lim)} ms holds fewer than 2 samples of the axis "
                         f"[{coord[0]}, {coord[-1]}] ms")
    return slice(int(inside[0]), int(inside[-1]) + 1)


def _draw_depth(ax, t: np.ndarray, data: np.ndarray, z: np.ndarray, units: str,
                kind: str, vmax: float, show_scale: bool = True, cbar_ax=None):
    """One depth-resolved panel: data (channel, time) at depths z (µm)."""
    factor, label = readable_units(units, vmax)
    order = np.argsort(z)[::-1]
    z = z[order]
    data = data[order] * factor
    vmax = vmax * factor
    spacing = float(np.min(np.abs(np.diff(z)))) if z.size > 1 else 1.0
    if kind == "image":
        edges = np.concatenate([[z[0] + spacing / 2], (z[1:] + z[:-1]) / 2,
                                [z[-1] - spacing / 2]])
        dt = t[1] - t[0]
        t_edges = np.concatenate([t - dt / 2, [t[-1] + dt / 2]])
        mesh = ax.pcolormesh(t_edges, edges, data, cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                             shading="flat", rasterized=True)
        if cbar_ax is not None:
            cbar = ax.figure.colorbar(mesh, cax=cbar_ax)
            cbar.set_label(label)
        return mesh
    gain = 0.9 * spacing / vmax if vmax > 0 else 0.0
    for zi, trace in zip(z, data):
        ax.plot(t, zi + gain * trace, color="k", lw=0.8)
    if show_scale and vmax > 0:
        bar = nice_number(vmax)
        x0 = t[-1] + 0.02 * (t[-1] - t[0])
        y0 = z[-1]
        ax.plot([x0, x0], [y0, y0 + gain * bar], color="C3", lw=2.5, clip_on=False)
        ax.text(x0, y0 + gain * bar / 2, f" {bar:g} {label}", color="C3", va="center",
                ha="left", fontsize=7, clip_on=False)
    ax.set_ylim(z[-1] - spacing, z[0] + spacing)
    return None


def _draw_lines(ax, t: np.ndarray, part: xr.DataArray, data: np.ndarray, vmax: float) -> None:
    """Non-zero channels of one probe as lines."""
    factor, label = readable_units(_units(part), vmax)
    labels = part.coords["probe_channel"].values.tolist()
    drawn = 0
    for name, trace in zip(labels, data):
        if np.any(trace != 0):
            ax.plot(t, trace * factor, lw=0.9, label=name)
            drawn += 1
    ax.set_ylabel(label)
    if 1 < drawn <= 8:
        ax.legend(fontsize=6, loc="upper right", frameon=False)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# --------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------
def plot_kernels(H: xr.DataArray, *, probes: Sequence[str] | None = None,
                 kind: str = "traces", tau_lim: Sequence[float] | None = None,
                 figsize: tuple[float, float] | None = None):
    """Grid of X×Y kernel panels: depth-resolved probes above, other probes below.

    Columns are presynaptic populations X, row groups postsynaptic populations Y; in
    each group every probe gets a row (depth-resolved probes drawn as traces with a
    scale bar or as an image, others as lines).  Every probe shares one amplitude
    scale over all panels, so panels are comparable.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels with dims (X, Y, probe_channel, tau); select sweep points first.
    probes : list of str, optional
        Probes to draw (default: all, in channel order).
    kind : {"traces", "image"}
        How depth-resolved probes are drawn.
    tau_lim : (float, float), optional
        Lag window (ms); default the whole tau axis.
    figsize : (float, float), optional
        Figure size (inches).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_kind(kind)
    _check_dims(H, ("X", "Y", "probe_channel", "tau"), "kernels")
    names = _select_probes(H, probes)
    tau = np.asarray(H.coords["tau"].values, float)
    window = _window(tau, tau_lim, "tau_lim")
    H = H.isel(tau=window)
    tau = tau[window]
    xs = H.coords["X"].values.tolist()
    ys = H.coords["Y"].values.tolist()
    parts = {p: H.xk.probe(p).transpose("X", "Y", "probe_channel", "tau") for p in names}
    values = {p: np.asarray(part.values, float) for p, part in parts.items()}
    depth = {p: is_depth_probe(part) for p, part in parts.items()}
    heights = [3.0 if depth[p] else 1.2 for p in names] * len(ys)
    if figsize is None:
        figsize = (2.6 * len(xs) + 1.2, 0.75 * sum(heights) + 0.6)
    fig = _figure(*figsize)
    n_cols = len(xs) + (1 if kind == "image" and any(depth.values()) else 0)
    widths = [1.0] * len(xs) + ([0.05] if n_cols > len(xs) else [])
    grid = fig.add_gridspec(len(heights), n_cols, height_ratios=heights, width_ratios=widths)
    for iy, y in enumerate(ys):
        for ip, p in enumerate(names):
            row = iy * len(names) + ip
            vmax = float(np.nanmax(np.abs(values[p]))) if values[p].size else 0.0
            z = np.asarray(parts[p].coords["z"].values, float)
            first = None
            for ix, x in enumerate(xs):
                ax = fig.add_subplot(grid[row, ix], sharex=first, sharey=first)
                first = first or ax
                data = values[p][ix, iy]
                if depth[p]:
                    cbar_ax = (fig.add_subplot(grid[row, -1])
                               if kind == "image" and ix == len(xs) - 1 else None)
                    _draw_depth(ax, tau, data, z, _units(parts[p]), kind, vmax,
                                show_scale=ix == len(xs) - 1, cbar_ax=cbar_ax)
                    if ix == 0:
                        ax.set_ylabel(f"{p}: z (µm)")
                else:
                    _draw_lines(ax, tau, parts[p], data, vmax)
                    if ix == 0:
                        ax.set_ylabel(f"{p} ({ax.get_ylabel()})")
                    else:
                        ax.set_ylabel("")
                ax.set_title(f"{x} → {y}  ({p})", fontsize=8)
                ax.tick_params(labelsize=7)
                if row == len(heights) - 1:
                    ax.set_xlabel("τ (ms)")
                ax.axvline(0.0, color="0.7", lw=0.5, zorder=0)
    fig.suptitle("spike-to-signal kernels H$_{YX}$ (per presynaptic spike)", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------
def plot_signals(signals: xr.DataArray, *, probes: Sequence[str] | None = None,
                 kind: str = "traces", time_lim: Sequence[float] | None = None,
                 rates: xr.DataArray | None = None,
                 figsize: tuple[float, float] | None = None):
    """Predicted signals over a time window: one row per probe (optional rates on top).

    Parameters
    ----------
    signals : xarray.DataArray
        Signals with dims (probe_channel, time), numpy- or dask-backed (only the
        window is computed).
    probes : list of str, optional
        Probes to draw (default: all).
    kind : {"traces", "image"}
        How depth-resolved probes are drawn.
    time_lim : (float, float), optional
        Time window (ms); default the first 1000 ms.
    rates : xarray.DataArray, optional
        Population spike counts per bin (dims X, time) drawn on top, as spikes/ms.
    figsize : (float, float), optional
        Figure size (inches).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_kind(kind)
    _check_dims(signals, ("probe_channel", "time"), "signals")
    names = _select_probes(signals, probes)
    time = np.asarray(signals.coords["time"].values, float)
    if time_lim is None:
        time_lim = (time[0], min(time[-1], time[0] + 1000.0))
    window = _window(time, time_lim, "time_lim")
    sig = signals.isel(time=window).transpose("probe_channel", "time").compute()
    t = time[window]
    heights = ([1.2] if rates is not None else []) + [
        3.0 if is_depth_probe(sig.xk.probe(p)) else 1.2 for p in names]
    if figsize is None:
        figsize = (8.0, 0.8 * sum(heights) + 0.6)
    fig = _figure(*figsize)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    axes = []
    if rates is not None:
        ax = fig.add_subplot(grid[0])
        _draw_rates(ax, rates, time_lim)
        axes.append(ax)
    for p in names:
        part = sig.xk.probe(p)
        ax = fig.add_subplot(grid[len(axes)], sharex=axes[0] if axes else None)
        data = np.asarray(part.values, float)
        centred = data - data.mean(axis=-1, keepdims=True)
        vmax = float(np.nanmax(np.abs(centred))) if centred.size else 0.0
        if is_depth_probe(part):
            _draw_depth(ax, t, centred, np.asarray(part.coords["z"].values, float),
                        _units(part), kind, vmax, cbar_ax=None)
            if kind == "image":
                fig.colorbar(ax.collections[-1], ax=ax, label=readable_units(
                    _units(part), vmax)[1])
            ax.set_ylabel(f"{p}: z (µm)")
        else:
            _draw_lines(ax, t, part, centred, vmax)
            ax.set_ylabel(f"{p} ({ax.get_ylabel()})")
        ax.set_title(f"{p} (mean removed)", fontsize=8)
        ax.tick_params(labelsize=7)
        axes.append(ax)
    axes[-1].set_xlabel("t (ms)")
    fig.suptitle("predicted signals", fontsize=10)
    return fig


def _draw_rates(ax, rates: xr.DataArray, time_lim: Sequence[float]) -> None:
    if "X" not in rates.dims or "time" not in rates.dims or rates.ndim != 2:
        raise ValueError(f"rates must have dims ('X', 'time'), got {rates.dims}")
    t = np.asarray(rates.coords["time"].values, float)
    window = _window(t, time_lim, "time_lim")
    dt = float(t[1] - t[0])
    bin_ms = max(1, int(round(1.0 / dt)))
    for x in rates.coords["X"].values.tolist():
        trace = np.asarray(rates.sel(X=x).isel(time=window).values, float)
        n = trace.size // bin_ms * bin_ms
        per_ms = trace[:n].reshape(-1, bin_ms).sum(axis=1) / (bin_ms * dt)
        ax.plot(t[window][:n:bin_ms], per_ms, lw=0.8, label=str(x), drawstyle="steps-post")
    ax.set_ylabel("spikes/ms")
    ax.set_title("population spike counts", fontsize=8)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    ax.tick_params(labelsize=7)


# --------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------
def plot(obj: xr.DataArray, **kwargs: Any):
    """Plot kernels (dims with ``tau``) or signals (dims with ``time``).

    Parameters
    ----------
    obj : xarray.DataArray
        Kernels (X, Y, probe_channel, tau) or signals (probe_channel, time).
    **kwargs
        Passed to :func:`plot_kernels` or :func:`plot_signals`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"plot needs an xarray.DataArray, got {type(obj).__name__}")
    if "tau" in obj.dims:
        return plot_kernels(obj, **kwargs)
    if "time" in obj.dims and "probe_channel" in obj.dims:
        return plot_signals(obj, **kwargs)
    raise ValueError(f"cannot plot an array with dims {obj.dims}: expected kernels "
                     "(X, Y, probe_channel, tau) or signals (probe_channel, time)")

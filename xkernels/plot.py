"""Figures of kernels, predicted signals and rates (matplotlib, through pyplot).

:func:`plot` is what ``DataArray.xk.plot()`` calls: it draws kernels (arrays with a
``tau`` dim) with :func:`plot_kernels`, signals (a ``time`` dim, no ``X`` dim) with
:func:`plot_signals` and rates (``X`` and ``time``) with :func:`plot_rates`.  Any
selection of them can be drawn: ``H.sel(X="E")``, ``H.sum("X")``,
``H.sel(probe_channel="cdm:z")``, ``signals.sel(probe_channel="lfp:3")`` -- a summed
population is labelled ``ΣX``, a missing probe coordinate makes one probe named after
the array, missing units are shown as ``a.u.``.

Figures are made by :func:`matplotlib.pyplot.figure`, so they appear inline in Jupyter
(exactly once, also when the figure is the cell's value) and in scripts with
``plt.show()``; save one with ``fig.savefig("name.png")`` and free it with
``plt.close(fig)``.  Pass ``ax=`` (one Axes per panel) or ``fig=`` (an empty Figure or
SubFigure) to draw into your own layout.

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
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from xkernels.checks import check_choice, fail
from xkernels.contract import CHANNEL_COORDS, select_probe, selected_probes
from xkernels.figures import new_figure, time_window

KINDS = ("traces", "image")
#: ``scale`` values of :func:`plot_kernels`.
SCALES = ("shared", "panel")
#: Units shown for channels without a ``units`` coordinate.
NO_UNITS = "a.u."
_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))
_BASE_PREFIX = {prefix: scale for scale, prefix in _PREFIXES if prefix}


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def readable_units(units: str, magnitude: float) -> tuple[float, str]:
    """Factor and unit label that bring ``magnitude`` (in ``units``) to 1..1000.

    Only the SI prefix of the first unit symbol changes: ``("mV", 0.2)`` gives
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
    if units == NO_UNITS or not np.isfinite(magnitude) or magnitude <= 0:
        return 1.0, units
    head, sep, rest = units.partition(" ")
    base, symbol = 1.0, head
    if len(head) >= 2 and head[0] in _BASE_PREFIX:
        base, symbol = _BASE_PREFIX[head[0]], head[1:]
    # the largest prefix not above the value, else the smallest one
    scale, prefix = next((p for p in _PREFIXES if magnitude * base >= p[0]), _PREFIXES[-1])
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
    return str(units[0]) if len(units) == 1 else "mixed units"


def plottable(obj: xr.DataArray, core: Sequence[str], what: str) -> xr.DataArray:
    """``obj`` with the dims ``core`` (last, in that order) and every channel coordinate.

    A core dim that was selected away (a scalar coordinate left) comes back with that
    one label; one that was summed away comes back as ``Σ<dim>``; a missing
    ``probe_channel`` dim comes back with one channel.  Missing channel coordinates are
    filled: ``probe`` with the array's name, ``units`` with ``a.u.``, positions with
    NaN, labels ``<probe>:<i>``, populations ``X[i]``/``Y[i]``.

    Parameters
    ----------
    obj : xarray.DataArray
        Kernels, signals or a selection of them.
    core : sequence of str
        The dims a figure needs, e.g. ``("X", "Y", "probe_channel", "tau")``.
    what : str
        ``"kernels"`` or ``"signals"``, for messages.

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    ValueError
        Dims beyond ``core`` (sweep points, trials): the message says how to select one.
    """
    for dim in core:
        if dim in obj.dims:
            continue
        if dim == "probe_channel":  # the selected channel's scalar coordinates come back
            scalars = {c: obj.coords[c].values.item() for c in (dim, *CHANNEL_COORDS)
                       if c in obj.coords and obj.coords[c].ndim == 0}
            obj = obj.drop_vars(list(scalars)).expand_dims(dim)
            obj = obj.assign_coords({c: (dim, [v]) for c, v in scalars.items()})
        elif dim in obj.coords and obj.coords[dim].ndim == 0:
            obj = obj.expand_dims(dim)  # the scalar coordinate becomes the one label
        else:
            obj = obj.expand_dims({dim: [f"Σ{dim}"]})
    extra = [d for d in obj.dims if d not in core]
    if extra:
        raise ValueError(f"{what} to plot have extra dims {extra} (one figure draws dims "
                         f"{tuple(core)}); select one point first, e.g. "
                         f"obj.isel({extra[0]}=0) or obj.sel(...)")
    n = obj.sizes["probe_channel"]
    probe = obj.name if isinstance(obj.name, str) and obj.name else what
    fill = {"probe": np.full(n, probe, dtype=object), "units": np.full(n, NO_UNITS, dtype=object),
            "x": np.full(n, np.nan), "y": np.full(n, np.nan), "z": np.full(n, np.nan)}
    obj = obj.assign_coords({c: ("probe_channel", v) for c, v in fill.items()
                             if c not in obj.coords})
    if "probe_channel" not in obj.coords:
        labels = [f"{p}:{i}" for i, p in enumerate(obj.coords["probe"].values.tolist())]
        obj = obj.assign_coords(probe_channel=labels)
    for dim in ("X", "Y"):
        if dim in core and dim not in obj.coords:
            obj = obj.assign_coords({dim: [f"{dim}[{i}]" for i in range(obj.sizes[dim])]})
    return obj.transpose(*core)


def _draw_depth(ax, t: np.ndarray, data: np.ndarray, z: np.ndarray, units: str,
                kind: str, vmax: float, show_scale: bool = True, cbar_ax=None,
                band: np.ndarray | None = None):
    """One depth-resolved panel: data (channel, time) at depths z (µm); ``band`` (one
    value per channel, the data's units) is drawn as a ± band around each trace."""
    factor, label = readable_units(units, vmax)
    order = np.argsort(z)[::-1]
    z = z[order]
    data = data[order] * factor
    band = None if band is None else np.asarray(band, float)[order] * factor
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
        elif show_scale:
            ax.figure.colorbar(mesh, ax=ax, label=label)
        return mesh
    gain = 0.9 * spacing / vmax if vmax > 0 else 0.0
    if band is not None:  # a ± band around each trace
        for k, (zi, trace) in enumerate(zip(z, data)):
            ax.fill_between(t, zi + gain * (trace - band[k]), zi + gain * (trace + band[k]),
                            color="C0", alpha=0.3, lw=0)
    traces = np.stack(np.broadcast_arrays(t[None, :], z[:, None] + gain * data), axis=-1)
    ax.add_collection(LineCollection(traces, colors="k", linewidths=0.8, label="traces"),
                      autolim=False)  # one artist per panel: fast with many channels
    ax.set_xlim(t[0], t[-1])
    if show_scale and vmax > 0:
        bar = nice_number(vmax)
        x0 = t[-1] + 0.02 * (t[-1] - t[0])
        y0 = z[-1]
        ax.plot([x0, x0], [y0, y0 + gain * bar], color="C3", lw=2.5, clip_on=False)
        ax.text(x0, y0 + gain * bar / 2, f" {bar:g} {label}", color="C3", va="center",
                ha="left", fontsize=7, clip_on=False)
    ax.set_ylim(z[-1] - spacing, z[0] + spacing)
    return None


def _draw_lines(ax, t: np.ndarray, part: xr.DataArray, data: np.ndarray, vmax: float,
                band: np.ndarray | None = None) -> None:
    """Non-zero channels of one probe as lines (with a ± ``band`` per channel)."""
    factor, label = readable_units(_units(part), vmax)
    labels = part.coords["probe_channel"].values.tolist()
    drawn = 0
    for k, (name, trace) in enumerate(zip(labels, data)):
        if np.any(trace != 0):
            if band is not None:
                ax.fill_between(t, (trace - band[k]) * factor, (trace + band[k]) * factor,
                                alpha=0.3, lw=0, color=f"C{drawn % 10}")
            ax.plot(t, trace * factor, lw=0.9, label=name, color=f"C{drawn % 10}")
            drawn += 1
    if drawn == 0:
        ax.plot(t, np.zeros_like(t), lw=0.9, color="0.5")
    ax.set_ylabel(label)
    if 1 < drawn <= 8:
        ax.legend(fontsize=6, loc="upper right", frameon=False)


def _draw_probe(ax, t: np.ndarray, part: xr.DataArray, data: np.ndarray, vmax: float,
                kind: str, label: bool = True, band: np.ndarray | None = None,
                **depth_options: Any) -> None:
    """One probe's channels in one panel: depth-resolved (``depth_options`` to
    :func:`_draw_depth`) or as lines, with an optional ± ``band`` per channel; the y
    label names the probe if ``label``."""
    name = part.coords["probe"].values[0]
    if is_depth_probe(part):
        _draw_depth(ax, t, data, np.asarray(part.coords["z"].values, float), _units(part),
                    kind, vmax, band=band, **depth_options)
        ax.set_ylabel(f"{name}: z (µm)" if label else "")
    else:
        _draw_lines(ax, t, part, data, vmax, band=band)
        ax.set_ylabel(f"{name} ({ax.get_ylabel()})" if label else "")


def _target(fig: Any, ax: Any, figsize: tuple[float, float] | None,
            default: tuple[float, float], n_panels: int, what: str,
            layout: str | None = "constrained") -> tuple[Any, list]:
    """Where to draw a ``what`` figure of ``n_panels`` panels: the figure (or
    subfigure; made here with ``layout`` unless given) and no axes, or None and the
    user's axes ``ax``, one per panel (a single Axes for one panel)."""
    from matplotlib.axes import Axes

    if fig is not None and ax is not None:
        raise ValueError("pass fig= or ax=, not both")
    if fig is not None:
        from matplotlib.figure import FigureBase

        if not isinstance(fig, FigureBase):
            fail("fig", fig, "a matplotlib Figure or SubFigure", TypeError)
        if fig.axes:
            raise ValueError(f"fig already has {len(fig.axes)} Axes; pass an empty figure "
                             "(or fig.subfigures()) or ax=")
        return fig, []
    if ax is None:
        return new_figure(*(figsize or default), layout=layout), []
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object)))
    if not all(isinstance(a, Axes) for a in axes):
        fail("ax", ax, "a matplotlib Axes or a sequence of them", TypeError)
    if len(axes) != n_panels:
        raise ValueError(f"ax must hold one Axes per panel: this {what} figure has "
                         f"{n_panels} panels, got {len(axes)} Axes (select fewer "
                         "populations or probes, or pass fig= instead)")
    return None, axes


def _grid_margins(size: Sequence[float], widths: Sequence[float],
                  heights: Sequence[float], wide_right: bool) -> dict[str, float]:
    """GridSpec margins and gaps of a kernel grid, fixed in inches: room for the y
    labels and tick labels left, scale bars or colour bars right, panel titles above
    every row, tau tick labels and label below."""
    width, height = float(size[0]), float(size[1])
    left, right, top, bottom = 0.9, 1.0 if wide_right else 0.7, 0.8, 0.5
    gap_x, gap_y = (0.8 if wide_right else 0.2), 0.3
    n_x, n_y = len(widths), len(heights)
    col = max(width - left - right - gap_x * (n_x - 1), 0.1) / n_x
    row = max(height - top - bottom - gap_y * (n_y - 1), 0.1) / n_y
    return {"left": left / width, "right": 1 - right / width, "top": 1 - top / height,
            "bottom": bottom / height, "wspace": gap_x / col, "hspace": gap_y / row}


def _same_axes(axes: list, tau_lim: tuple[float, float], same_y: bool,
               tau_labels: bool) -> None:
    """One row of a kernel grid on common axes: the tau range, and with ``same_y`` the
    union of the panels' y ranges, with tick positions computed once for all (matplotlib
    axes shared through ``sharex``/``sharey`` cost a walk over every sibling at each
    tick update: quadratic in the number of panels).  Ticks only on the outer panels
    (tau below the last row, y in the first column when ``same_y``): every tick is a
    handful of artists, most of a large grid's drawing time."""
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

    tau_ticks = MaxNLocator(nbins=4).tick_values(*tau_lim)
    y_lim = None
    if same_y:
        limits = np.array([a.get_ylim() for a in axes])
        y_lim = (float(limits.min()), float(limits.max()))
        if limits[0, 0] > limits[0, 1]:  # inverted axes
            y_lim = y_lim[::-1]
        y_ticks = MaxNLocator(nbins=5).tick_values(min(y_lim), max(y_lim))
    for ix, a in enumerate(axes):
        a.set_xlim(*tau_lim)
        a.xaxis.set_major_locator(FixedLocator(tau_ticks) if tau_labels else NullLocator())
        if y_lim is not None:
            a.set_ylim(*y_lim)
            a.yaxis.set_major_locator(FixedLocator(y_ticks) if ix == 0 else NullLocator())


# --------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------
def plot_kernels(H: xr.DataArray, *, probes: Sequence[str] | None = None,
                 kind: str = "traces", scale: str = "shared",
                 tau_lim: Sequence[float] | None = None,
                 figsize: tuple[float, float] | None = None, fig: Any = None,
                 ax: Any = None) -> Figure:
    """Grid of X×Y kernel panels: columns X, row groups Y, one row per probe.

    Depth-resolved probes are drawn as traces with a scale bar or as an image, others
    as lines.  Any selection of kernels can be drawn: ``H.sel(X="E")``,
    ``H.sum("X")`` (one column ``ΣX``), ``H.xk.probe("cdm")``, ``H.sel(Y="E",
    probe_channel="cdm:z")`` ...

    Parameters
    ----------
    H : xarray.DataArray
        Kernels with dims (X, Y, probe_channel, tau) or a selection of them (tau in
        ms); select sweep points first.
    probes : list of str, optional
        Probes to draw (default: all, in channel order).
    kind : {"traces", "image"}
        How depth-resolved probes are drawn.
    scale : {"shared", "panel"}
        ``"shared"``: one amplitude scale per probe over all panels, so panels compare
        directly; ``"panel"``: every panel scaled to its own largest value (weak
        kernels, e.g. E -> E, become visible), each with its own scale bar.
    tau_lim : (float, float), optional
        Lag window (ms); default the whole tau axis.
    figsize : (float, float), optional
        Figure size (inches) of a new figure.
    fig : matplotlib Figure or SubFigure, optional
        An empty figure to draw into instead of a new one.
    ax : matplotlib Axes or sequence of Axes, optional
        Axes to draw into, one per panel in row-major order (rows: Y, then probe;
        columns: X); a single Axes for a single panel.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (``ax.figure`` with ``ax=``).

    Examples
    --------
    >>> H.sel(X="E").xk.plot(scale="panel")             # doctest: +SKIP
    >>> fig, ax = plt.subplots()                         # doctest: +SKIP
    >>> H.sel(X="I", Y="E").xk.probe("cdm").xk.plot(ax=ax)   # doctest: +SKIP
    """
    check_choice("kind", kind, KINDS)
    check_choice("scale", scale, SCALES)
    H = plottable(H, ("X", "Y", "probe_channel", "tau"), "kernels")
    names = selected_probes(H, probes)
    tau = np.asarray(H.coords["tau"].values, float)
    window = time_window(tau, tau_lim, "tau_lim")
    H = H.isel(tau=window)
    tau = tau[window]
    xs = H.coords["X"].values.tolist()
    ys = H.coords["Y"].values.tolist()
    parts = {p: select_probe(H, p) for p in names}
    values = {p: np.asarray(part.values, float) for p, part in parts.items()}
    depth = {p: is_depth_probe(part) for p, part in parts.items()}
    heights = [3.0 if depth[p] else 1.2 for p in names] * len(ys)
    default = (2.6 * len(xs) + 1.2, 0.75 * sum(heights) + 0.6)
    own = fig is None and ax is None  # a figure made here: laid out here
    target, user_axes = _target(fig, ax, figsize, default, len(heights) * len(xs), "kernels",
                                layout=None)
    colorbar_column = (target is not None and kind == "image" and scale == "shared"
                       and any(depth.values()))
    if target is None:
        fig_out = user_axes[0].figure
        grid = None
    else:
        fig_out = target
        n_cols = len(xs) + colorbar_column
        widths = [1.0] * len(xs) + ([0.05] if colorbar_column else [])
        margins = (_grid_margins(target.get_size_inches(), widths, heights,
                                 wide_right=scale == "panel" or colorbar_column)
                   if own else {})
        grid = target.add_gridspec(len(heights), n_cols, height_ratios=heights,
                                   width_ratios=widths, **margins)
    for iy, y in enumerate(ys):
        for ip, p in enumerate(names):
            row = iy * len(names) + ip
            shared_vmax = float(np.nanmax(np.abs(values[p]))) if values[p].size else 0.0
            row_axes = []
            for ix, x in enumerate(xs):
                a = (user_axes[row * len(xs) + ix] if grid is None
                     else target.add_subplot(grid[row, ix]))
                row_axes.append(a)
                data = values[p][ix, iy]
                vmax = shared_vmax if scale == "shared" else float(np.nanmax(np.abs(data)))
                last = ix == len(xs) - 1
                cbar_ax = (target.add_subplot(grid[row, -1])
                           if colorbar_column and last and depth[p] else None)
                _draw_probe(a, tau, parts[p], data, vmax, kind,
                            label=ix == 0 or (scale == "panel" and not depth[p]),
                            show_scale=(scale == "panel" or last) and cbar_ax is None,
                            cbar_ax=cbar_ax)
                a.set_title(f"{x} → {y}  ({p})", fontsize=8)
                a.tick_params(labelsize=7)
                if row == len(heights) - 1:
                    a.set_xlabel("τ (ms)")
                a.axvline(0.0, color="0.7", lw=0.5, zorder=0)
            if grid is not None:
                _same_axes(row_axes, (float(tau[0]), float(tau[-1])),
                           same_y=depth[p] or scale == "shared",
                           tau_labels=row == len(heights) - 1)
    if target is not None:
        title = "spike-to-signal kernels H$_{YX}$ (per presynaptic spike)"
        if scale == "panel":
            title += ",\neach panel scaled to its own maximum"
        if own:  # fixed layout: the title in the top margin, above the panel titles
            target.suptitle(title, fontsize=10, y=1 - 0.1 / target.get_size_inches()[1],
                            va="top")
        else:
            target.suptitle(title, fontsize=10)
    return fig_out


# --------------------------------------------------------------------------------------
# signals and rates
# --------------------------------------------------------------------------------------
def plot_signals(signals: xr.DataArray, *, probes: Sequence[str] | None = None,
                 kind: str = "traces", time_lim: Sequence[float] | None = None,
                 rates: xr.DataArray | None = None, error: Any = None,
                 figsize: tuple[float, float] | None = None, fig: Any = None,
                 ax: Any = None) -> Figure:
    """Predicted signals over a time window: one row per probe (optional rates on top,
    optional ± error bands).

    Parameters
    ----------
    signals : xarray.DataArray
        Signals with dims (probe_channel, time) or a selection of them (e.g.
        ``signals.sel(probe_channel="cdm:z")``), numpy- or dask-backed (only the window
        is computed); time in ms.
    probes : list of str, optional
        Probes to draw (default: all).
    kind : {"traces", "image"}
        How depth-resolved probes are drawn.
    time_lim : (float, float), optional
        Time window (ms); default the first 1000 ms.
    rates : xarray.DataArray, optional
        Population spike counts per bin (dims X, time) drawn on top, as spikes/ms.
    error : xarray.Dataset or DataArray, optional
        Error bars of the prediction: the result of :func:`xkernels.error_estimate`
        (its ``error_std``) or any DataArray over ``probe_channel`` in the signals'
        units; drawn as a ± band around every trace (``kind="traces"``).
    figsize : (float, float), optional
        Figure size (inches) of a new figure.
    fig : matplotlib Figure or SubFigure, optional
        An empty figure to draw into instead of a new one.
    ax : matplotlib Axes or sequence of Axes, optional
        Axes to draw into, one per row (rates first, then one per probe).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``error`` without a value for a drawn channel, or with ``kind="image"``.

    Examples
    --------
    >>> import xarray as xr
    >>> sig = xr.DataArray(np.random.default_rng(0).standard_normal((1, 200)),
    ...                    dims=("probe_channel", "time"),
    ...                    coords={"probe_channel": ["cdm:z"], "probe": ("probe_channel",
    ...                            ["cdm"]), "units": ("probe_channel", ["nA µm"]),
    ...                            "time": np.arange(200) * 0.5})
    >>> err = xr.DataArray([0.3], dims="probe_channel", coords={"probe_channel": ["cdm:z"]})
    >>> fig = plot_signals(sig, error=err)
    """
    check_choice("kind", kind, KINDS)
    signals = plottable(signals, ("probe_channel", "time"), "signals")
    names = selected_probes(signals, probes)
    bands = _error_bands(error, signals, kind)
    time = np.asarray(signals.coords["time"].values, float)
    if time_lim is None:
        time_lim = (time[0], min(time[-1], time[0] + 1000.0))
    window = time_window(time, time_lim, "time_lim")
    sig = signals.isel(time=window).compute()
    t = time[window]
    parts = {p: select_probe(sig, p) for p in names}
    heights = ([1.2] if rates is not None else []) + [
        3.0 if is_depth_probe(parts[p]) else 1.2 for p in names]
    target, slots = _target(fig, ax, figsize, (8.0, 0.8 * sum(heights) + 0.6),
                            len(heights), "signals")
    if target is not None:
        slots = list(target.subplots(len(heights), 1, sharex=True, squeeze=False,
                                     height_ratios=heights)[:, 0])
    fig_out = slots[0].figure if target is None else target
    axes = list(slots)
    if rates is not None:
        _draw_rates(slots.pop(0), rates, time_lim)
    for p, a in zip(names, slots):
        part = parts[p]
        data = np.asarray(part.values, float)
        centred = data - data.mean(axis=-1, keepdims=True)
        vmax = float(np.nanmax(np.abs(centred))) if centred.size else 0.0
        band = None if bands is None else bands.sel(
            probe_channel=part.coords["probe_channel"].values).values
        _draw_probe(a, t, part, centred, vmax, kind, band=band)
        a.set_title(f"{p} (mean removed{'; ± estimated error' if band is not None else ''})",
                    fontsize=8)
        a.tick_params(labelsize=7)
    axes[-1].set_xlabel("t (ms)")
    if target is not None:
        target.suptitle("predicted signals", fontsize=10)
    return fig_out


def _error_bands(error: Any, signals: xr.DataArray, kind: str) -> xr.DataArray | None:
    """The ± band per channel of ``signals`` from ``error`` (module :func:`plot_signals`)."""
    if error is None:
        return None
    if isinstance(error, xr.Dataset):
        if "error_std" not in error:
            raise ValueError("error must be an error_estimate Dataset (with error_std) or a "
                             f"DataArray over probe_channel; got a Dataset with "
                             f"{sorted(error.data_vars)}")
        error = error["error_std"]
    if not isinstance(error, xr.DataArray) or error.dims != ("probe_channel",):
        fail("error", type(error).__name__,
             "an error_estimate Dataset or a DataArray with the one dim probe_channel",
             TypeError)
    if kind != "traces":
        raise ValueError(f"error bands are drawn around traces: pass kind='traces', got "
                         f"kind={kind!r}")
    labels = [str(v) for v in signals.coords["probe_channel"].values]
    have = {str(v) for v in error.coords["probe_channel"].values}
    missing = [c for c in labels if c not in have]
    if missing:
        raise ValueError(f"error has no value for channels {missing[:5]} of the signals")
    return error.assign_coords(probe_channel=[str(v) for v in
                                              error.coords["probe_channel"].values])


def plot_rates(rates: xr.DataArray, *, time_lim: Sequence[float] | None = None,
               figsize: tuple[float, float] | None = None, fig: Any = None,
               ax: Any = None) -> Figure:
    """Population spike counts (dims X, time; spikes per bin) as spikes/ms per 1-ms bin.

    Parameters
    ----------
    rates : xarray.DataArray
        Dims ``X`` and ``time`` (ms).
    time_lim : (float, float), optional
        Time window (ms); default the first 1000 ms.
    figsize : (float, float), optional
        Figure size (inches) of a new figure.
    fig : matplotlib Figure or SubFigure, optional
        An empty figure to draw into.
    ax : matplotlib Axes, optional
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = rates.xk.plot(time_lim=(200.0, 700.0))     # doctest: +SKIP
    """
    time = np.asarray(rates.coords["time"].values, float)
    if time_lim is None:
        time_lim = (time[0], min(time[-1], time[0] + 1000.0))
    target, user_axes = _target(fig, ax, figsize, (8.0, 2.2), 1, "rates")
    a = user_axes[0] if target is None else target.add_subplot()
    _draw_rates(a, rates, time_lim)
    a.set_xlabel("t (ms)")
    return a.figure if target is None else target


def _draw_rates(ax, rates: xr.DataArray, time_lim: Sequence[float]) -> None:
    if "X" not in rates.dims or "time" not in rates.dims or rates.ndim != 2:
        raise ValueError(f"rates must have dims ('X', 'time'), got {rates.dims}")
    t = np.asarray(rates.coords["time"].values, float)
    dt = float(t[1] - t[0])
    bin_ms = max(1, int(round(1.0 / dt)))
    counts = rates.isel(time=time_window(t, time_lim, "time_lim")).astype(float)
    per_ms = counts.coarsen(time=bin_ms, boundary="trim", coord_func="min").sum() / (bin_ms * dt)
    for i in range(per_ms.sizes["X"]):
        x = per_ms.coords["X"].values[i] if "X" in per_ms.coords else i
        ax.plot(per_ms.coords["time"].values, per_ms.isel(X=i).values, lw=0.8, label=str(x),
                drawstyle="steps-post")
    ax.set_ylabel("spikes/ms")
    ax.set_title("population spike counts", fontsize=8)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    ax.tick_params(labelsize=7)


# --------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------
def plot(obj: xr.DataArray, **kwargs: Any) -> Figure:
    """Plot kernels (a ``tau`` dim), signals (a ``time`` dim) or rates (``X`` and
    ``time``), or any selection of them.

    Parameters
    ----------
    obj : xarray.DataArray
        Kernels (X, Y, probe_channel, tau), signals (probe_channel, time), rates (X,
        time), or a selection.
    **kwargs
        Passed to :func:`plot_kernels`, :func:`plot_signals` or :func:`plot_rates`
        (``fig=``, ``ax=``, ``figsize=`` for all; ``scale="panel"`` for kernels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"plot needs an xarray.DataArray, got {type(obj).__name__}")
    if "tau" in obj.dims:
        return plot_kernels(obj, **kwargs)
    if "time" in obj.dims and "X" in obj.dims and "probe_channel" not in obj.dims:
        return plot_rates(obj, **kwargs)
    if "time" in obj.dims:
        return plot_signals(obj, **kwargs)
    raise ValueError(f"cannot plot an array with dims {obj.dims}: expected kernels "
                     "(X, Y, probe_channel, tau), signals (probe_channel, time), rates "
                     "(X, time), or a selection of them with a tau or time dim")

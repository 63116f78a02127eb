"""Figure of a validation Dataset (:func:`xkernels.hybrid.validate`): ground truth and
prediction overlaid per channel, beside the R² and STD-ratio profiles.

A pure function returning a :class:`matplotlib.figure.Figure` built without
:mod:`matplotlib.pyplot` (any backend, headless); ``Dataset.xk.plot()`` of a validation
Dataset is meant to call it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from xkernels.contract import selected_probes
from xkernels.figures import new_figure, time_window

REQUIRED = ("ground_truth", "prediction", "r2", "std_ratio")


def _channel_order(part: xr.Dataset) -> tuple[np.ndarray, np.ndarray, str]:
    """Row order (top to bottom), positions for the profiles and their axis label."""
    z = np.asarray(part.coords["z"].values, dtype=float)
    if z.size > 1 and np.isfinite(z).all() and np.unique(z).size == z.size:
        order = np.argsort(z)[::-1]
        return order, z[order], "depth z (µm)"
    order = np.arange(part.sizes["probe_channel"])
    return order, -order.astype(float), "channel"


def plot_validation(ds: xr.Dataset, *, probes: Sequence[str] | None = None,
                    time_lim: Sequence[float] | None = None,
                    figsize: tuple[float, float] | None = None):
    """Ground truth (black) and kernel prediction (red) per channel, with profiles.

    One row per probe: on the left every channel's two traces, each minus its mean
    over the scored time (R² ignores offsets; offset vertically, depth-ordered when
    the channels have distinct depths, all scaled by one factor per probe, the full
    scale of the scored time shown in the label), the excluded transient shaded; on the right the
    signed R² and the STD ratio (prediction / ground truth) of every channel.
    Channels that are zero in both signals (e.g. the x and y rows of a z-only
    dipole moment) are left out.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`xkernels.hybrid.validate`.
    probes : sequence of str, optional
        Probes to draw (default all).
    time_lim : (float, float), optional
        Time window (ms) of the traces.
    figsize : (float, float), optional
        Figure size (inches).

    Returns
    -------
    matplotlib.figure.Figure
        One row per probe: traces, R² profile, STD-ratio profile.

    Examples
    --------
    The figure of a tiny validation (3 cells, 100 ms; the first 25 ms not scored):

    >>> import xkernels
    >>> from xkernels.hybrid import correlated_poisson, validate
    >>> net = xkernels.Network.example()
    >>> spikes = correlated_poisson({p.name: p.size for p in net.populations},
    ...                             {p.name: p.rate for p in net.populations},
    ...                             t_stop=100.0, seed=1)
    >>> ds = validate(net, spikes, {"cdm": xkernels.CurrentDipoleMomentZ()}, t_stop=100.0,
    ...               transient=25.0, n_cells={"E": 2, "I": 1}, client="sync",
    ...               progress=False, tau=10.0)
    >>> fig = plot_validation(ds, time_lim=(0.0, 100.0))
    >>> [ax.get_xlabel().splitlines()[0] for ax in fig.axes]
    ['time (ms)', 'R² (signed)', 'STD ratio']
    >>> fig.savefig("validation.png", dpi=80)
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    missing = [v for v in REQUIRED if v not in ds]
    if missing:
        raise ValueError(f"ds must be a validation Dataset with {list(REQUIRED)} (Dataset.xk."
                         f"plot() plots those); missing {missing}, variables: "
                         f"{list(ds.data_vars)}")
    names = selected_probes(ds, probes)
    t = ds.coords["time"].values
    window = time_window(t, time_lim, "time_lim")
    rows = []
    for name in names:
        part = ds.where(ds.coords["probe"] == name, drop=True)
        nonzero = (np.abs(part["ground_truth"]).max("time") > 0) | \
            (np.abs(part["prediction"]).max("time") > 0)
        part = part.isel(probe_channel=np.flatnonzero(nonzero.values))
        if part.sizes["probe_channel"]:
            rows.append((name, part))
    if not rows:
        raise ValueError("nothing to plot: every selected channel is zero")
    heights = [max(1.5, 0.35 * p.sizes["probe_channel"]) for _, p in rows]
    width, height = figsize or (11.0, 1.2 + sum(heights))
    fig = new_figure(width, height)
    grid = fig.add_gridspec(len(rows), 3, width_ratios=[5, 1.2, 1.2], height_ratios=heights)
    transient = float(ds.attrs.get("transient", 0.0))
    for i, (name, part) in enumerate(rows):
        order, pos, label = _channel_order(part)
        scored = t >= transient
        if not scored[window].any():
            scored = np.ones(t.size, dtype=bool)
        gt_all = part["ground_truth"].values[order]
        pr_all = part["prediction"].values[order]
        # every trace minus its own mean over the scored time (R² ignores offsets)
        gt = (gt_all - gt_all[:, scored].mean(axis=1, keepdims=True))[:, window]
        pr = (pr_all - pr_all[:, scored].mean(axis=1, keepdims=True))[:, window]
        tw = t[window]
        units = list(dict.fromkeys(part.coords["units"].values.tolist()))
        in_score = scored[window]
        spread = np.nanmax(np.abs(np.concatenate([gt[:, in_score], pr[:, in_score]], axis=1)))
        spacing = float(np.min(np.abs(np.diff(pos)))) if pos.size > 1 else 1.0
        gain = 0.45 * spacing / spread if spread > 0 else 0.0
        ax = fig.add_subplot(grid[i, 0])
        for k, y0 in enumerate(pos):
            ax.plot(tw, y0 + gain * gt[k], color="k", lw=0.8,
                    label="ground truth" if k == 0 else None)
            ax.plot(tw, y0 + gain * pr[k], color="C3", lw=0.8, ls="--",
                    label="prediction" if k == 0 else None)
        if pos.size > 1:
            ax.set_ylim(pos.min() - spacing, pos.max() + spacing)
        if transient > tw[0]:
            ax.axvspan(tw[0], min(transient, tw[-1]), color="0.9", zorder=0,
                       label="transient")
        if pos.size > 1:
            ax.set_yticks(pos)
            ax.set_yticklabels([f"{p:g}" if label != "channel" else
                                str(part.coords["probe_channel"].values[order][k])
                                for k, p in enumerate(pos)], fontsize=7)
        else:
            ax.set_yticks([])
        ax.set_ylabel(f"{name}: {label}\n(full scale {2 * spread:.3g} "
                      f"{'/'.join(units)})", fontsize=8)
        ax.set_xlabel("time (ms)")
        ax.legend(fontsize=7, loc="upper right", frameon=False, ncol=3)
        r2 = part["r2"].values[order]
        ratio = part["std_ratio"].values[order]
        finite = ratio[np.isfinite(ratio)]
        r2_low = min(0.0, np.nanmin(r2) if np.isfinite(r2).any() else 0.0) - 0.05
        ratio_high = max(2.0, float(finite.max()) * 1.1) if finite.size else 2.0
        for col, (values, color, xlim, xlabel) in enumerate((
                (r2, "C0", (r2_low, 1.05), "R² (signed)"),
                (ratio, "C1", (0.0, ratio_high), "STD ratio\n(prediction / truth)")), start=1):
            profile = fig.add_subplot(grid[i, col], sharey=ax)
            profile.plot(values, pos, "o-", color=color, ms=3)
            profile.set_xlim(*xlim)
            profile.axvline(1.0, color="0.7", lw=0.8)
            profile.set_xlabel(xlabel)
            profile.tick_params(labelleft=False)
    fig.suptitle(f"kernel prediction vs hybrid ground truth (scores for t ≥ {transient:g} ms)",
                 fontsize=10)
    return fig

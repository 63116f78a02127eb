"""Check a cell before computing its kernels: its segments and where its synapses land.

:func:`plot_cell` draws a population's representative cell as the kernels see it
(segments placed at the population's mean depth, µm) and, for each of its inputs, the
density of synapses the placement rule puts on it, plus the synapses per µm of depth
of every input.  A wrong section name, a density centred off the dendrites or a depth
window cutting the wrong layer is visible at a glance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from xkernels.engine.synapse_map import SynapseMap, synapse_map
from xkernels.figures import new_figure
from xkernels.spec.network import Network

#: Colours of section kinds (others cycle through matplotlib's default colours).
SECTION_COLOURS = {"soma": "k", "dend": "tab:blue", "apic": "tab:red", "axon": "tab:gray"}


def _segments(m: SynapseMap) -> np.ndarray:
    g = m.geometry
    return np.stack([np.stack([g.x[:, 0], g.z[:, 0]], -1), np.stack([g.x[:, 1], g.z[:, 1]], -1)],
                    axis=1)


def _frame(ax: Any) -> None:
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (µm)")
    ax.margins(0.05)
    ax.autoscale_view()


def depth_profile(z: np.ndarray, counts: np.ndarray, edges: np.ndarray,
                  n: int = 32) -> np.ndarray:
    """Synapses per µm of depth: each segment's synapses spread evenly along its depth
    extent (``z``: segment ends, shape (nseg, 2), µm), binned by ``edges`` (µm).

    Examples
    --------
    >>> depth_profile(np.array([[0.0, 100.0]]), np.array([50.0]), np.array([0.0, 50, 100]))
    array([0.5, 0.5])
    """
    t = (np.arange(n) + 0.5) / n
    points = z[:, :1] + (z[:, 1:] - z[:, :1]) * t
    weights = np.repeat(counts[:, None] / n, n, axis=1)
    binned, _ = np.histogram(points.ravel(), edges, weights=weights.ravel())
    return binned / np.diff(edges)


def plot_cell(network: Network, post: str, *, widened: bool = False,
              depth_bin: float = 20.0, fig: Any = None) -> Figure:
    """The cell of population ``post`` and the synapses of each of its inputs.

    Panels: the segments by section (x-z projection, µm; line width grows with the
    diameter); for every presynaptic population X the same segments coloured by the
    density of X's synapses (expected synapses per 100 µm² of membrane on one cell);
    and the synapses per µm of depth of every input (their integral is the in-degree).

    Parameters
    ----------
    network : Network
        The network.
    post : str
        A postsynaptic population.
    widened : bool
        Place synapses with densities widened by the population's depth spread (as
        ``averaging="reference"`` does) instead of as one cell at the mean depth
        receives them (:func:`xkernels.engine.synapse_map.synapse_map`).
    depth_bin : float
        Bin of the depth profile (µm, > 0).
    fig : matplotlib Figure or SubFigure, optional
        Draw into it (empty); default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``post`` not postsynaptic, ``depth_bin`` not > 0, or a cell or placement the
        kernels would refuse.

    Examples
    --------
    >>> import xkernels
    >>> from xkernels.cellplot import plot_cell
    >>> fig = plot_cell(xkernels.Network.example(), "E")
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['E: sections', 'E -> E', 'I -> E', 'depth profile']
    """
    from xkernels.checks import check_real

    depth_bin = check_real("depth_bin", depth_bin, positive=True)
    m = synapse_map(network, post, widened)
    g = m.geometry
    inputs = list(m.synapses)
    if fig is None:
        fig = new_figure(2.6 * (len(inputs) + 2), 4.2)
    axes = fig.subplots(1, len(inputs) + 2, sharey=True)
    segments = _segments(m)
    widths = 0.5 + 1.5 * np.sqrt(g.d / g.d.max())
    kinds = m.section_kinds
    cycle = iter(["tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink"])
    colours = {k: SECTION_COLOURS.get(k) or next(cycle, "tab:olive") for k in dict.fromkeys(kinds)}
    ax = axes[0]
    ax.add_collection(LineCollection(segments, colors=[colours[k] for k in kinds],
                                     linewidths=widths, capstyle="round"))
    for kind, colour in colours.items():
        ax.plot([], [], color=colour, label=kind)
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    ax.set_title(f"{post}: sections")
    ax.set_ylabel("z (µm)")
    _frame(ax)
    for ax, pre in zip(axes[1:-1], inputs):
        density = 100.0 * m.synapses[pre] / g.area   # per 100 µm²
        lines = LineCollection(segments, array=density, cmap="viridis", linewidths=widths + 1,
                               capstyle="round")
        lines.set_clim(0.0, max(float(density.max()), 1e-12))
        ax.add_collection(lines)
        fig.colorbar(lines, ax=ax, location="bottom", shrink=0.9,
                     label=f"synapses / 100 µm² ({m.synapses[pre].sum():.0f} in all)")
        ax.set_title(f"{pre} -> {post}")
        _frame(ax)
    ax = axes[-1]
    edges = np.arange(g.z.min() - depth_bin, g.z.max() + 2 * depth_bin, depth_bin)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for pre in inputs:
        ax.plot(depth_profile(g.z, m.synapses[pre], edges), centres, label=pre)
    ax.set_xlabel("synapses / µm of depth")
    ax.set_title("depth profile")
    ax.legend(title="from", fontsize="small", frameon=False)
    return fig

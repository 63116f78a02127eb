"""Figures made through pyplot that show exactly once in Jupyter, and the time window
every plot of xkernels chooses alike (:mod:`xkernels.plot`, :mod:`xkernels.hybrid.plot`)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["XkFigure", "new_figure", "time_window"]


class XkFigure(Figure):
    """A pyplot figure shown exactly once in Jupyter.

    With the inline backend, pyplot shows every figure of a cell when the cell ends, and
    IPython shows a figure that is the cell's value (``H.xk.plot()`` on the last line)
    once more.  This figure shows itself as a PNG image whenever IPython displays it and
    leaves pyplot at that moment, so that pyplot does not show it again.  With any other
    backend it is displayed as a plain figure (its text; a GUI backend shows the
    window).
    """

    def _ipython_display_(self) -> None:
        import matplotlib
        from IPython.display import display

        if "inline" not in str(matplotlib.get_backend()):
            display({"text/plain": repr(self)}, raw=True)
            return
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        display({"image/png": buffer.getvalue(), "text/plain": repr(self)}, raw=True)
        import matplotlib.pyplot as plt

        plt.close(self)  # shown: pyplot's end-of-cell display skips it


def new_figure(width: float, height: float, layout: str | None = "constrained") -> XkFigure:
    """A new pyplot figure (inches), constrained layout, shown once in Jupyter.

    Parameters
    ----------
    width, height : float
        Figure size (inches).
    layout : str or None
        matplotlib's layout engine; None for a layout set by the caller (constrained
        layout measures every text of every Axes at each draw: seconds for a grid of
        dozens of panels).

    Returns
    -------
    XkFigure
    """
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height), layout=layout, FigureClass=XkFigure)


def time_window(coord: np.ndarray, lim: Sequence[float] | None, name: str) -> slice:
    """Positions of the axis ``coord`` (ms) inside ``lim`` (all if None), at least 2."""
    if lim is None:
        return slice(None)
    if len(lim) != 2 or not lim[0] < lim[1]:
        raise ValueError(f"{name} must be (start, stop) with start < stop (ms), got {lim!r}")
    inside = np.flatnonzero((coord >= lim[0]) & (coord <= lim[1]))
    if inside.size < 2:
        raise ValueError(f"{name} = {tuple(lim)} ms holds fewer than 2 samples of the axis "
                         f"[{coord[0]}, {coord[-1]}] ms")
    return slice(int(inside[0]), int(inside[-1]) + 1)

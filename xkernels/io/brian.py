"""Spikes of Brian2 simulations: ``SpikeMonitor`` objects.

Brian2 records spike times as quantities in seconds; they are converted to ms with
Brian2's own units (``monitor.t / ms``).  A spike at a simulation step that falls
exactly on a bin edge is counted in the bin that starts there, as for NEST
(:func:`xkernels.rates_from_spikes` counts ``t_start + k dt <= t < t_start + (k+1) dt``,
with float noise of the ms conversion within 1e-9 bin widths below an edge counted on
the edge).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xkernels.io._common import optional
from xkernels.signals.spikes import Spikes


def read_brian2(monitors: Mapping[str, Any]) -> Spikes:
    """Spikes from Brian2 ``SpikeMonitor`` objects, one per population.

    Parameters
    ----------
    monitors : mapping of str to brian2.SpikeMonitor
        Population name -> the monitor of its neuron group.  Every neuron of the
        monitored group is a neuron of the population (index ``i`` of the group is
        neuron ``i``), silent or not recorded neurons included.

    Returns
    -------
    Spikes
        Per population, the spike times (ms) of each neuron.

    Raises
    ------
    TypeError
        Not a non-empty mapping of names to SpikeMonitors (checked before any
        conversion).

    Examples
    --------
    >>> import brian2 as b2
    >>> b2.prefs.codegen.target = "numpy"
    >>> group = b2.SpikeGeneratorGroup(3, [0, 2, 0], [0.5, 1.0, 1.5] * b2.ms)
    >>> monitor = b2.SpikeMonitor(group)
    >>> b2.run(2 * b2.ms)
    >>> spikes = read_brian2({"E": monitor})
    >>> spikes.sizes, [t.tolist() for t in spikes["E"]]
    ({'E': 3}, [[0.5, 1.5], [], [1.0]])
    """
    b2 = optional("brian2", "read_brian2")
    if not isinstance(monitors, Mapping) or not monitors:
        raise TypeError("monitors must be a non-empty mapping population name -> "
                        f"brian2.SpikeMonitor, got {type(monitors).__name__}")
    for name, monitor in monitors.items():
        if not isinstance(monitor, b2.SpikeMonitor):
            raise TypeError(f"monitors[{name!r}] must be a brian2.SpikeMonitor, got "
                            f"{type(monitor).__name__}")
    trains = {}
    for name, monitor in monitors.items():
        n = len(monitor.source)
        times = np.asarray(monitor.t / b2.ms, dtype=np.float64)
        index = np.asarray(monitor.i[:], dtype=np.int64)
        order = np.lexsort((times, index))
        times, index = times[order], index[order]
        offsets = np.searchsorted(index, np.arange(n + 1))
        trains[str(name)] = (times, offsets)
    return Spikes.from_arrays(trains)

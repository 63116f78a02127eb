"""Spikes of NEST simulations: ``spike_recorder`` events or RecordingBackendASCII files.

NEST's ASCII backend (``record_to="ascii"``) writes one file per recorder and virtual
process, each starting with a header::

    # NEST version: 3.10.0
    # RecordingBackendASCII version: 2
    sender	time_ms
    2	27.800

Times are written with the recorder's ``precision`` decimals (default 3): record with
``precision`` large enough for the resolution (e.g. 4 for dt = 2**-4 ms) or spikes move
to a neighbouring bin.  Files recorded with ``time_in_steps=True`` (columns
``sender time_step offset``) are refused: the step length is not in the file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xkernels.io._common import existing_file
from xkernels.signals.spikes import Spikes, population_ids

#: the first header line of NEST's ASCII files
HEADER = "# NEST version"
#: the column line this reader needs
COLUMNS = ("sender", "time_ms")


def read_nest(source: Any, populations: Mapping[str, Any], *,
              unassigned: str = "raise") -> Spikes:
    """Spikes from NEST: ``spike_recorder`` events or its ASCII files.

    Parameters
    ----------
    source : mapping, str, path or sequence of paths
        ``recorder.get("events")`` (a mapping with ``times`` in ms and ``senders``), or
        one ASCII file or a list of them (a recorder writes one per virtual process;
        their spikes are merged).
    populations : mapping of str to node ids
        Population name -> its neurons' node ids in neuron order: a NodeCollection,
        an array or list, a ``range`` or an inclusive ``(first, last)`` tuple.
    unassigned : {"raise", "drop"}
        Spikes of senders in no population: refused (default, naming a few senders)
        or dropped.

    Returns
    -------
    Spikes
        Per population, the spike times (ms) of each neuron.

    Raises
    ------
    ValueError
        Before reading any spike: a node id in two populations; a file without NEST's
        ASCII header or with other columns than ``sender time_ms`` (naming the file).
        After reading: senders in no population (unless ``unassigned="drop"``).
    FileNotFoundError
        A file that does not exist.

    Examples
    --------
    From a recorder's events:

    >>> events = {"times": np.array([1.5, 2.0, 7.25]), "senders": np.array([1, 12, 2])}
    >>> read_nest(events, {"E": (1, 10), "I": (11, 15)})
    Spikes(E: 10 neurons, 2 spikes, I: 5 neurons, 1 spikes)

    From the ASCII files of one recorder (one per virtual process):

    >>> header = ("# NEST version: 3.10.0\\n# RecordingBackendASCII version: 2\\n"
    ...           "sender\\ttime_ms\\n")
    >>> _ = open("spikes-21-0.dat", "w").write(header + "2\\t1.500\\n12\\t2.000\\n")
    >>> _ = open("spikes-21-1.dat", "w").write(header + "1\\t7.250\\n")
    >>> s = read_nest(["spikes-21-0.dat", "spikes-21-1.dat"], {"E": range(1, 11),
    ...                                                       "I": range(11, 16)})
    >>> s["E"][:2], s["I"][1]
    ([array([7.25]), array([1.5])], array([2.]))
    """
    members = population_ids(populations)
    if isinstance(source, Mapping):
        missing = [k for k in ("times", "senders") if k not in source]
        if missing:
            raise ValueError(f"source as a mapping must be spike_recorder events with keys "
                             f"'times' (ms) and 'senders', got keys {sorted(source)}")
        times, senders = source["times"], source["senders"]
    else:
        paths = [source] if isinstance(source, (str, os.PathLike)) else source
        if not isinstance(paths, Sequence) or not paths:
            raise TypeError(f"source must be spike_recorder events (a mapping), a path or "
                            f"a non-empty list of paths, got {type(source).__name__}")
        files = [existing_file(f"source[{i}]", p) for i, p in enumerate(paths)]
        starts = [_data_start(path) for path in files]  # every header, before any data
        parts = [_read_columns(path, start) for path, start in zip(files, starts)]
        senders = np.concatenate([p[0] for p in parts])
        times = np.concatenate([p[1] for p in parts])
    return Spikes.from_events(times, senders, members, unassigned=unassigned)


def _data_start(path: os.PathLike) -> int:
    """Number of header lines of a NEST ASCII file (checked)."""
    expected = (f"expected NEST's RecordingBackendASCII header ('{HEADER}: ...' lines "
                f"starting with '#', then the column line 'sender<TAB>time_ms')")
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
        if not first.startswith(HEADER):
            raise ValueError(f"{str(path)!r} is not a NEST ASCII spike file: its first line "
                             f"is {first.rstrip()[:80]!r}; {expected}")
        n, line = 1, f.readline()
        while line.startswith("#"):
            n, line = n + 1, f.readline()
    columns = tuple(line.split())
    if columns != COLUMNS:
        hint = (" (recorded with time_in_steps=True: record with time_in_steps=False, "
                "the default)" if "time_step" in columns else "")
        raise ValueError(f"{str(path)!r} has columns {list(columns)}, read_nest reads "
                         f"{list(COLUMNS)}{hint}; {expected}")
    return n + 1


def _read_columns(path: os.PathLike, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Senders (int) and times (ms) below the header (a file without spikes is empty)."""
    with open(path, encoding="utf-8") as f, warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*input contained no data", UserWarning)
        rows = np.loadtxt(f, skiprows=skip, ndmin=1, dtype=[("sender", np.int64),
                                                             ("time", np.float64)])
    return rows["sender"], rows["time"]

"""Spikes of SONATA spike reports (BMTK, NEURON, Arbor, ...): ``/spikes/<population>``.

The SONATA layout: for every node population a group ``/spikes/<population>`` with
datasets ``node_ids`` and ``timestamps`` of equal length, an optional ``sorting``
attribute (``none``, ``by_id``, ``by_time``) and a ``units`` attribute of
``timestamps`` (``ms`` or ``s``).  Any sorting is read; times are converted to ms from
the file's units, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xkernels.io._common import existing_file, optional
from xkernels.signals.spikes import Spikes, population_ids

#: time units of SONATA files -> factor to ms
TIME_UNITS = {"ms": 1.0, "s": 1000.0}


def read_sonata(path: Any, populations: Mapping[str, Any] | None = None, *,
                time_units: str | None = None, unassigned: str = "raise") -> Spikes:
    """Spikes of a SONATA spike file.

    Parameters
    ----------
    path : str or path
        The HDF5 file.
    populations : mapping, optional
        Population name -> node ids (an array, ``range`` or ``(first, last)``
        tuple) of the file's only SONATA population; with several SONATA populations,
        name -> ``(sonata_population, node_ids)``.  Default: one population per SONATA
        population, of the same name, in the order HDF5 lists them (by name), with
        node ids ``0 .. max(node_ids)`` (pass
        ``populations`` when silent neurons follow the last one that fired).
    time_units : {"ms", "s"}, optional
        Units of files whose ``timestamps`` lack the ``units`` attribute (otherwise
        refused); must agree with the attribute where there is one.
    unassigned : {"raise", "drop"}
        Spikes of node ids in no population, or of SONATA populations that no
        population refers to: refused (default) or dropped.

    Returns
    -------
    Spikes
        Per population, the spike times (ms) of each neuron.

    Raises
    ------
    ValueError
        Before reading spikes: no ``/spikes`` group, a SONATA population without
        ``node_ids`` or ``timestamps``, unknown or missing time units, a
        population referring to a SONATA population not in the file, a node id in two
        populations.  After: node ids in no population (unless ``unassigned="drop"``).

    Examples
    --------
    A file as BMTK writes it (times in ms, sorted by time):

    >>> import h5py
    >>> with h5py.File("spikes.h5", "w") as f:
    ...     g = f.create_group("spikes/cortex")
    ...     g.attrs["sorting"] = "by_time"
    ...     g["node_ids"] = np.array([0, 3, 0], dtype=np.uint64)
    ...     g["timestamps"] = [1.0, 2.5, 4.0]
    ...     g["timestamps"].attrs["units"] = "ms"
    >>> read_sonata("spikes.h5")
    Spikes(cortex: 4 neurons, 3 spikes)
    >>> s = read_sonata("spikes.h5", {"E": [0, 1, 2], "I": [3]})
    >>> s["E"][0], s["I"][0]
    (array([1., 4.]), array([2.5]))
    """
    h5py = optional("h5py", "read_sonata")
    file = existing_file("path", path)
    if time_units is not None and time_units not in TIME_UNITS:
        raise ValueError(f"time_units must be one of {list(TIME_UNITS)}, got {time_units!r}")
    with h5py.File(file, "r") as f:
        if "spikes" not in f or not isinstance(f["spikes"], h5py.Group):
            raise ValueError(f"{str(file)!r} has no /spikes group (the SONATA spike report "
                             f"layout /spikes/<population>/{{timestamps,node_ids}}); its "
                             f"top level holds {sorted(f)}")
        groups = {name: g for name, g in f["spikes"].items() if isinstance(g, h5py.Group)}
        if not groups:
            raise ValueError(f"{str(file)!r}: /spikes holds no population groups (SONATA: "
                             f"/spikes/<population>/{{timestamps,node_ids}}), got "
                             f"{sorted(f['spikes'])}")
        factors = {name: _checked_group(file, name, g, time_units)
                   for name, g in groups.items()}
        wanted = _assignments(file, populations, list(groups))
        for members in wanted.values():
            if members is not None:
                population_ids(members)  # duplicates within one SONATA population
        stray = [p for p in groups if p not in wanted and groups[p]["node_ids"].size]
        if stray and unassigned != "drop":
            raise ValueError(f"{str(file)!r} has spikes of SONATA populations {stray} "
                             f"that no population refers to; populations name "
                             f"{list(wanted)} (pass unassigned='drop' to leave them out)")
        parts = {}
        for sonata, members in wanted.items():
            g = groups[sonata]
            ids = np.asarray(g["node_ids"][:], dtype=np.int64)
            times = np.asarray(g["timestamps"][:], dtype=np.float64) * factors[sonata]
            if members is None:
                n = int(ids.max()) + 1 if ids.size else 0
                members = {sonata: np.arange(n)}
            parts[sonata] = Spikes.from_events(times, ids, members, unassigned=unassigned)
    order = [n for n in (populations or {s: None for s in wanted})]
    merged = {name: part.arrays(name) for part in parts.values() for name in part}
    return Spikes.from_arrays({name: merged[name] for name in order})


def _checked_group(file, name: str, group: Any, time_units: str | None) -> float:
    """Factor to ms of one SONATA population's timestamps (its datasets checked)."""
    where = f"{str(file)!r}: /spikes/{name}"
    missing = [d for d in ("node_ids", "timestamps") if d not in group]
    if missing:
        raise ValueError(f"{where} lacks {missing} (SONATA: /spikes/<population>/"
                         f"{{timestamps,node_ids}}); it holds {sorted(group)}")
    if group["node_ids"].shape != group["timestamps"].shape or group["node_ids"].ndim != 1:
        raise ValueError(f"{where}: node_ids and timestamps must be 1-D of one length, got "
                         f"shapes {group['node_ids'].shape} and {group['timestamps'].shape}")
    units = group["timestamps"].attrs.get("units", group.attrs.get("units"))
    if isinstance(units, bytes):
        units = units.decode()
    if units is None:
        if time_units is None:
            raise ValueError(f"{where}/timestamps has no 'units' attribute: pass "
                             f"time_units='ms' or 's' (times are not guessed)")
        units = time_units
    units = str(units)
    if units not in TIME_UNITS:
        raise ValueError(f"{where}/timestamps has units {units!r}; allowed: "
                         f"{list(TIME_UNITS)}")
    if time_units is not None and time_units != units:
        raise ValueError(f"time_units={time_units!r} but {where}/timestamps says "
                         f"units={units!r}")
    return TIME_UNITS[units]


def _assignments(file, populations: Mapping[str, Any] | None, sonata: list[str]
                 ) -> dict[str, dict[str, Any] | None]:
    """SONATA population -> {population name: node ids} (None: the default)."""
    if populations is None:
        return {name: None for name in sonata}
    if not isinstance(populations, Mapping) or not populations:
        raise TypeError("populations must be a non-empty mapping population name -> node "
                        f"ids, got {type(populations).__name__}")
    out: dict[str, dict[str, Any]] = {}
    for name, value in populations.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            where, ids = value
            if where not in sonata:
                raise ValueError(f"populations[{name!r}] refers to SONATA population "
                                 f"{where!r}, which {str(file)!r} does not hold; it holds "
                                 f"{sonata}")
        elif len(sonata) == 1:
            where, ids = sonata[0], value
        else:
            raise ValueError(f"populations[{name!r}]: {str(file)!r} holds SONATA "
                             f"populations {sonata}; name one: (sonata_population, "
                             f"node_ids)")
        out.setdefault(where, {})[name] = ids
    return out

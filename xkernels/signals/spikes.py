"""Spike trains of every neuron of every population: the one spike type of xkernels.

:class:`Spikes` holds, per population, the spike times of each of its neurons (a
compressed layout: one sorted-per-neuron array of times and the offsets of each
neuron's train).  :func:`xkernels.rates_from_spikes` bins it into population counts,
:func:`xkernels.hybrid.simulate` drives every cell with it.  Build it from

* per-population lists of per-neuron arrays: ``Spikes({"E": [t0, t1, ...], ...})``;
* the events of a spike recorder (NEST's ``times``/``senders``):
  :meth:`Spikes.from_events`;
* the readers of :mod:`xkernels.io`: NEST (events or ASCII files), Brian2 monitors,
  SONATA spike reports, NWB Units tables;
* :func:`xkernels.hybrid.correlated_poisson`, for users without a network simulator.

One rule for node ids, wherever spikes come from: a node id listed twice (within a
population or in two populations) and a sender listed in no population are refused,
naming them.  Times are in ms.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from xkernels.checks import check_choice, check_real

#: format tag of files written by :meth:`Spikes.save`
SPIKES_FORMAT = "xkernels.spikes.v1"


class Spikes(Mapping):
    """Per-neuron spike times of network populations.

    Parameters
    ----------
    trains : mapping of str to sequence of array_like
        Population name -> one 1-D array of spike times (ms) per neuron, in neuron
        order; each array sorted (non-decreasing).

    Raises
    ------
    TypeError, ValueError
        For non-numeric, non-1-D, non-finite or unsorted spike trains (naming the
        population and neuron).

    Examples
    --------
    >>> s = Spikes({"E": [[1.0, 5.0], []], "I": [[2.5]]})
    >>> s.sizes
    {'E': 2, 'I': 1}
    >>> s["E"][0]
    array([1., 5.])
    """

    def __init__(self, trains: Mapping[str, Any]) -> None:
        if not isinstance(trains, Mapping) or not trains:
            raise TypeError("spikes must be a non-empty mapping population name -> list of "
                            f"per-neuron spike-time arrays, got {type(trains).__name__}")
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, neurons in trains.items():
            if not isinstance(name, str):
                raise TypeError(f"spikes population names must be str, got {name!r}")
            if isinstance(neurons, np.ndarray) or not hasattr(neurons, "__len__"):
                raise TypeError(f"spikes[{name!r}] must be a list of per-neuron spike-time "
                                f"arrays (one per neuron), got {type(neurons).__name__}")
            arrays = []
            for i, t in enumerate(neurons):
                arr = np.asarray(t)
                if arr.ndim != 1:
                    raise ValueError(f"spikes[{name!r}][{i}] must be a 1-D array of spike "
                                     f"times (ms), got shape {arr.shape}")
                if arr.size and arr.dtype.kind not in "uif":
                    raise TypeError(f"spikes[{name!r}][{i}] must hold numbers (ms), got "
                                    f"dtype {arr.dtype}")
                arrays.append(arr.astype(np.float64))
            offsets = np.cumsum([0] + [a.size for a in arrays], dtype=np.int64)
            times = np.concatenate(arrays) if arrays else np.zeros(0)
            self._data[name] = _checked(name, times, offsets)

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, data: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Spikes:
        """Build from the compressed layout: name -> (times, offsets).

        ``times[offsets[i]:offsets[i + 1]]`` are the spike times (ms) of neuron ``i``.

        Parameters
        ----------
        data : mapping
            Population name -> ``(times, offsets)`` arrays.

        Returns
        -------
        Spikes
            The validated spikes.

        Examples
        --------
        Three neurons: two spikes (ms) for the first, none for the second, one for the
        third:

        >>> s = Spikes.from_arrays({"E": (np.array([1.0, 5.0, 2.0]), np.array([0, 2, 2, 3]))})
        >>> s
        Spikes(E: 3 neurons, 3 spikes)
        >>> s["E"]
        [array([1., 5.]), array([], dtype=float64), array([2.])]
        """
        out = cls.__new__(cls)
        out._data = {}
        for name, (times, offsets) in data.items():
            times = np.asarray(times, dtype=np.float64)
            offsets = np.asarray(offsets, dtype=np.int64)
            if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 \
                    or offsets[-1] != times.size or np.any(np.diff(offsets) < 0):
                raise ValueError(f"spikes[{name!r}] offsets must start at 0, never decrease "
                                 f"and end at the number of spikes {times.size}")
            out._data[str(name)] = _checked(str(name), times, offsets)
        return out

    @classmethod
    def from_events(cls, times: Any, senders: Any, populations: Mapping[str, Any], *,
                    unassigned: str = "raise") -> Spikes:
        """Build from spike-recorder events (NEST's ``events['times']/['senders']``).

        Parameters
        ----------
        times : array_like
            Spike times (ms), any order.
        senders : array_like of int
            Node id of the neuron that fired each spike.
        populations : mapping of str to array_like or tuple
            Population name -> node ids of its neurons in neuron order (an array), or
            an inclusive ``(first, last)`` id range (a NEST NodeCollection).
        unassigned : {"raise", "drop"}
            What to do with spikes of senders in no population: refuse them (default),
            or drop them (say so explicitly, e.g. to read one population of a file).

        Raises
        ------
        ValueError
            A node id listed twice (in one population or in two), or senders in no
            population (unless ``unassigned="drop"``): naming the ids, and each
            population's ids for unknown senders.

        Examples
        --------
        >>> s = Spikes.from_events(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 12]),
        ...                        {"E": (1, 10), "I": (11, 15)})
        >>> s.sizes, s.population_times("E").tolist()
        ({'E': 10, 'I': 5}, [1.0, 2.0])

        Only population ``E``, the spike of node 12 dropped on purpose:

        >>> Spikes.from_events([1.0, 2.0, 3.0], [1, 2, 12], {"E": (1, 10)},
        ...                    unassigned="drop")
        Spikes(E: 10 neurons, 2 spikes)
        """
        check_choice("unassigned", unassigned, ("raise", "drop"))
        t = np.asarray(times, dtype=np.float64)
        s = np.asarray(senders)
        if t.ndim != 1 or s.shape != t.shape:
            raise ValueError(f"times and senders must be 1-D arrays of one length, got "
                             f"shapes {t.shape} and {s.shape}")
        if s.size and s.dtype.kind not in "ui":
            raise TypeError(f"senders must be integer node ids, got dtype {s.dtype}")
        members = population_ids(populations)
        all_ids = np.concatenate(list(members.values()))  # every neuron, population-major
        order = np.argsort(all_ids, kind="stable")
        sorted_ids = all_ids[order]
        pos = np.minimum(np.searchsorted(sorted_ids, s), max(all_ids.size - 1, 0))
        known = sorted_ids[pos] == s if all_ids.size else np.zeros(s.shape, dtype=bool)
        if not known.all() and unassigned == "drop":
            t, s, pos = t[known], s[known], pos[known]
        elif not known.all():
            bad = np.unique(s[~known])
            ranges = {n: _id_summary(ids) for n, ids in members.items()}
            raise ValueError(f"senders {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} "
                             f"belong to no population; populations hold node ids {ranges} "
                             "(pass unassigned='drop' to leave them out)")
        neuron = order[pos]  # of each spike, population-major
        times = t[np.lexsort((t, neuron))]
        offsets = np.cumsum(np.r_[0, np.bincount(neuron, minlength=all_ids.size)])
        bounds = np.cumsum([0] + [ids.size for ids in members.values()])
        return cls.from_arrays({name: (times[offsets[a]:offsets[b]], offsets[a:b + 1] - offsets[a])
                                for name, a, b in zip(members, bounds[:-1], bounds[1:])})

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, t_stop: float | None = None) -> None:
        """Write to a ``.npz`` file (per population ``times:<name>``, ``offsets:<name>``).

        Parameters
        ----------
        path : str or path
            The file.
        t_stop : float, optional
            Duration of the recording (ms), recorded in the file when given.

        Examples
        --------
        >>> Spikes({"E": [[1.0, 5.0], [2.0]]}).save("spikes.npz", t_stop=10.0)
        >>> Spikes.load("spikes.npz")[1]
        10.0
        """
        arrays = {"format": np.asarray(SPIKES_FORMAT)}
        if t_stop is not None:
            arrays["t_stop"] = np.asarray(check_real("t_stop", t_stop, positive=True))
        for name, (times, offsets) in self._data.items():
            arrays[f"times:{name}"] = times
            arrays[f"offsets:{name}"] = offsets
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[Spikes, float | None]:
        """Read a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path
            The ``.npz`` file.

        Returns
        -------
        spikes : Spikes
            The spikes.
        t_stop : float or None
            The recorded duration (ms), None if not recorded.

        Raises
        ------
        ValueError
            The file was not written by :meth:`save`.

        Examples
        --------
        >>> Spikes({"E": [[1.0, 5.0], [2.0]]}).save("loaded.npz")
        >>> spikes, t_stop = Spikes.load("loaded.npz")
        >>> spikes.sizes, t_stop
        ({'E': 2}, None)
        """
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data or str(data["format"]) != SPIKES_FORMAT:
                raise ValueError(f"spikes file {str(path)!r} must be written by "
                                 f"Spikes.save (format {SPIKES_FORMAT!r})")
            names = [k.split(":", 1)[1] for k in data.files if k.startswith("times:")]
            spikes = cls.from_arrays({n: (data[f"times:{n}"], data[f"offsets:{n}"])
                                      for n in names})
            t_stop = float(data["t_stop"]) if "t_stop" in data else None
        return spikes, t_stop

    # -- mapping -----------------------------------------------------------------------
    def __getitem__(self, name: str) -> list[np.ndarray]:
        times, offsets = self._data[name]
        return [times[offsets[i]:offsets[i + 1]] for i in range(offsets.size - 1)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}: {o.size - 1} neurons, {t.size} spikes"
                          for n, (t, o) in self._data.items())
        return f"Spikes({parts})"

    # -- access ------------------------------------------------------------------------
    @property
    def sizes(self) -> dict[str, int]:
        """Number of neurons per population.

        Examples
        --------
        >>> Spikes({"E": [[1.0, 5.0], [], [2.0]], "I": [[2.5]]}).sizes
        {'E': 3, 'I': 1}
        """
        return {n: int(o.size - 1) for n, (_, o) in self._data.items()}

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(times, offsets)`` of population ``name`` (compressed layout, read-only).

        Parameters
        ----------
        name : str
            Population name.

        Returns
        -------
        times, offsets : ndarray
            Spike times (ms, neuron-major) and the start of each neuron's spikes.

        Examples
        --------
        >>> times, offsets = Spikes({"E": [[1.0, 5.0], [], [2.0]]}).arrays("E")
        >>> times.tolist(), offsets.tolist()
        ([1.0, 5.0, 2.0], [0, 2, 2, 3])
        >>> times[offsets[2]:offsets[3]]            # the spikes of neuron 2
        array([2.])
        >>> times.flags.writeable
        False
        """
        return self._data[name]

    def population_times(self, name: str) -> np.ndarray:
        """All spike times (ms) of population ``name`` (neuron-major order).

        Parameters
        ----------
        name : str
            Population name.

        Returns
        -------
        ndarray
            Spike times (ms).

        Examples
        --------
        >>> Spikes({"E": [[1.0, 5.0], [2.0]]}).population_times("E").tolist()
        [1.0, 5.0, 2.0]
        """
        return self._data[name][0]

    def digest(self) -> str:
        """SHA-256 of every population's name, offsets and times (a content hash).

        Returns
        -------
        str
            Hexadecimal digest.

        Examples
        --------
        Equal spikes have equal digests; which neuron fired matters:

        >>> a = Spikes({"E": [[1.0, 5.0], [], [2.0]]})
        >>> a.digest()[:16]
        '8b66e7ec0418fed2'
        >>> Spikes({"E": [[1.0, 5.0], [], [2.0]]}).digest() == a.digest()
        True
        >>> Spikes({"E": [[1.0, 5.0], [2.0], []]}).digest() == a.digest()
        False
        """
        sha = hashlib.sha256()
        for name in sorted(self._data):
            times, offsets = self._data[name]
            sha.update(name.encode() + b"\0")
            sha.update(np.ascontiguousarray(offsets, dtype="<i8").tobytes())
            sha.update(np.ascontiguousarray(times, dtype="<f8").tobytes())
        return sha.hexdigest()

    def check(self, sizes: Mapping[str, int], t_stop: float,
              required: list[str] | None = None) -> None:
        """Check the spikes against a network before anything is simulated.

        Parameters
        ----------
        sizes : mapping of str to int
            The network's population sizes.
        t_stop : float
            Simulation end (ms); spike times must lie in ``[0, t_stop)``.
        required : list of str, optional
            Populations that must be present (the presynaptic populations).

        Raises
        ------
        ValueError
            Naming both sides: unknown or missing populations, neuron counts differing
            from population sizes, spike times outside ``[0, t_stop)``.

        Examples
        --------
        >>> spikes = Spikes({"E": [[1.0, 5.0], [], [2.0]], "I": [[2.5]]})
        >>> spikes.check({"E": 3, "I": 1}, t_stop=10.0)          # fits: nothing raised
        >>> spikes.check({"E": 3, "I": 1}, t_stop=5.0)
        Traceback (most recent call last):
        ...
        ValueError: spikes['E'][0] has spike time 5.0 ms outside [0, t_stop) = [0, 5.0)
        (1 such spikes in population 'E')
        >>> spikes.check({"E": 4, "I": 1}, t_stop=10.0)
        Traceback (most recent call last):
        ...
        ValueError: spikes['E'] has 3 spike trains but populations['E'].size is 4 (one
        train per neuron, empty arrays for silent neurons)
        """
        unknown = [n for n in self._data if n not in sizes]
        if unknown:
            raise ValueError(f"spikes has populations {unknown} that are not in the "
                             f"network; the network's populations are {list(sizes)}")
        missing = [n for n in (required or []) if n not in self._data]
        if missing:
            raise ValueError(f"spikes lacks presynaptic populations {missing}; spikes has "
                             f"{list(self._data)}, the network needs {list(required)}")
        for name, (times, offsets) in self._data.items():
            n = offsets.size - 1
            if n != sizes[name]:
                raise ValueError(f"spikes[{name!r}] has {n} spike trains but "
                                 f"populations[{name!r}].size is {sizes[name]} (one train "
                                 "per neuron, empty arrays for silent neurons)")
            if times.size:
                bad = np.flatnonzero((times < 0.0) | (times >= t_stop))
                if bad.size:
                    k = int(bad[0])
                    raise ValueError(f"spikes[{name!r}][{_neuron(offsets, k)}] has spike time "
                                     f"{float(times[k])!r} ms outside [0, t_stop) = "
                                     f"[0, {t_stop!r})"
                                     f" ({bad.size} such spikes in population {name!r})")


def _checked(name: str, times: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """Finite times, non-decreasing within every neuron's train."""
    if not np.all(np.isfinite(times)):
        k = int(np.flatnonzero(~np.isfinite(times))[0])
        raise ValueError(f"spikes[{name!r}][{_neuron(offsets, k)}] must hold finite spike "
                         f"times (ms), got {float(times[k])!r}")
    if times.size > 1:
        drops = np.flatnonzero(np.diff(times) < 0) + 1   # index of the later spike
        # a drop at a train boundary (first spike of a neuron) is allowed
        starts = np.zeros(times.size, dtype=bool)
        starts[offsets[:-1][offsets[:-1] < times.size]] = True
        drops = drops[~starts[drops]]
        if drops.size:
            k = int(drops[0])
            raise ValueError(f"spikes[{name!r}][{_neuron(offsets, k)}] must be sorted "
                             f"(non-decreasing spike times), got {float(times[k - 1])!r} before "
                             f"{float(times[k])!r} ms")
    times.setflags(write=False)
    offsets.setflags(write=False)
    return times, offsets


def _neuron(offsets: np.ndarray, k: int) -> int:
    """Index of the neuron whose train holds spike ``k``."""
    return int(np.searchsorted(offsets, k, side="right") - 1)


def population_ids(populations: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Node ids of every population, checked: each id listed once over all populations.

    Parameters
    ----------
    populations : mapping of str to array_like or tuple
        Population name -> node ids in neuron order (an array, a ``range``, anything
        with a ``tolist()`` such as a NEST NodeCollection) or an inclusive
        ``(first, last)`` range.

    Returns
    -------
    dict of str to ndarray
        Population name -> int64 node ids.

    Raises
    ------
    TypeError, ValueError
        Not a non-empty mapping, malformed ids, or an id listed twice (naming the ids
        and the populations sharing them).

    Examples
    --------
    >>> population_ids({"E": (1, 3), "I": [7, 5]})
    {'E': array([1, 2, 3]), 'I': array([7, 5])}
    >>> population_ids({"E": (1, 3), "I": [3, 4]})
    Traceback (most recent call last):
    ...
    ValueError: populations ['E', 'I'] share node ids [3]; each node id must belong to one
    population
    """
    if not isinstance(populations, Mapping) or not populations:
        raise TypeError("populations must be a non-empty mapping population name -> "
                        "node ids")
    members = {}
    for name, ids in populations.items():
        if not isinstance(name, str):
            raise TypeError(f"population names must be str, got {name!r}")
        if not isinstance(ids, (tuple, np.ndarray, list, range)) and hasattr(ids, "tolist"):
            ids = ids.tolist()  # a NEST NodeCollection
        members[name] = _members(name, ids)
    all_ids = np.sort(np.concatenate(list(members.values())))
    shared = np.unique(all_ids[1:][np.diff(all_ids) == 0])
    if shared.size:
        names = [n for n, ids in members.items() if np.isin(ids, shared).any()]
        raise ValueError(f"populations {names} share node ids {shared[:10].tolist()}"
                         f"{' ...' if shared.size > 10 else ''}; each node id must "
                         "belong to one population")
    return members


def _members(name: str, ids: Any) -> np.ndarray:
    """Node ids of one population: an array, or an inclusive (first, last) tuple."""
    if isinstance(ids, tuple):
        if len(ids) != 2 or not all(isinstance(v, (int, np.integer)) for v in ids) \
                or ids[1] < ids[0]:
            raise ValueError(f"populations[{name!r}] as a tuple must be (first, last) node "
                             f"ids with first <= last, got {ids!r}")
        return np.arange(ids[0], ids[1] + 1, dtype=np.int64)
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "ui"):
        raise ValueError(f"populations[{name!r}] must be a 1-D array of integer node ids or "
                         f"a (first, last) tuple, got {ids!r:.80}")
    ids, counts = np.unique(arr, return_counts=True)
    if np.any(counts > 1):
        twice = ids[counts > 1]
        raise ValueError(f"populations[{name!r}] lists node ids {twice[:10].tolist()}"
                         f"{' ...' if twice.size > 10 else ''} more than once; each node id "
                         "must be listed once")
    return arr.astype(np.int64)


def _id_summary(ids: np.ndarray) -> str:
    if ids.size == 0:
        return "none"
    if ids.size == ids.max() - ids.min() + 1:
        return f"{int(ids.min())}..{int(ids.max())}"
    return f"{ids.size} ids in {int(ids.min())}..{int(ids.max())}"


def as_spikes(spikes: Any) -> Spikes:
    """Normalise the accepted spike inputs to :class:`Spikes`.

    Accepted: a :class:`Spikes`; a mapping population -> list of per-neuron arrays; a
    mapping with exactly the keys ``times``, ``senders``, ``populations`` (spike
    recorder events, see :meth:`Spikes.from_events`).
    """
    if isinstance(spikes, Spikes):
        return spikes
    if isinstance(spikes, Mapping) and set(spikes) == {"times", "senders", "populations"}:
        return Spikes.from_events(spikes["times"], spikes["senders"], spikes["populations"])
    return Spikes(spikes)

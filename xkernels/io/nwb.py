"""NWB: spikes from a Units table in, predicted signals out.

Reading: the ``units`` table of an NWB file (``spike_times`` in seconds by the NWB
schema, converted to ms).  Writing: extracellular potentials as an
``ElectricalSeries`` in volts with an electrodes table holding the contact positions
(µm, the schema's unit), every other probe as a ``TimeSeries`` in SI units (A m for
dipole moments, T for magnetic fields, V for EEG), in a processing module
``ecephys``, with the signals' provenance in the file's notes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import did_you_mean
from xkernels.contract import regular_spacing
from xkernels.io._common import as_path, atomic_file, existing_file, optional
from xkernels.provenance import XKERNELS_VERSION, versions
from xkernels.signals.spikes import Spikes, population_ids
from xkernels.units import UNITS, si_values

#: name of the processing module the signals are written to (a schema module name)
MODULE = "ecephys"


# -------------------------------------------------------------------- reading -- #
def read_nwb(path: Any, populations: str | Mapping[str, Any], *,
             unassigned: str = "raise") -> Spikes:
    """Spikes of the Units table of an NWB file.

    Parameters
    ----------
    path : str or path
        The NWB file.
    populations : str or mapping of str to unit ids
        A column of the Units table naming each unit's population (e.g.
        ``"population"``: one population per distinct value, in order of first
        appearance, its neurons in table order), or population name -> unit ids
        (the table's ``id`` column) in neuron order.
    unassigned : {"raise", "drop"}
        Units in no population (mapping form): refused (default) or dropped.

    Returns
    -------
    Spikes
        Per population, the spike times of each neuron, in ms (NWB stores seconds).

    Raises
    ------
    ValueError
        Before reading spike times: no Units table, a column not in it (with the
        columns it has), a unit id in two populations; after: spikes of unit ids in
        no population (unless ``unassigned="drop"``).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from pynwb import NWBFile, NWBHDF5IO
    >>> nwb = NWBFile(session_description="network", identifier="demo",
    ...               session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> nwb.add_unit_column(name="population", description="network population")
    >>> nwb.add_unit(spike_times=[0.0010, 0.0025], population="E")
    >>> nwb.add_unit(spike_times=[0.0040], population="I")
    >>> nwb.add_unit(spike_times=[], population="E")
    >>> with NWBHDF5IO("units.nwb", "w") as io:
    ...     io.write(nwb)
    >>> s = read_nwb("units.nwb", "population")
    >>> s, s["E"][0]
    (Spikes(E: 2 neurons, 2 spikes, I: 1 neurons, 1 spikes), array([1. , 2.5]))
    >>> read_nwb("units.nwb", {"I": [1]}, unassigned="drop")
    Spikes(I: 1 neurons, 1 spikes)
    """
    pynwb = optional("pynwb", "read_nwb")
    file = existing_file("path", path)
    if not isinstance(populations, (str, Mapping)):
        raise TypeError("populations must be a column name of the Units table or a "
                        f"mapping population name -> unit ids, got "
                        f"{type(populations).__name__}")
    members = population_ids(populations) if isinstance(populations, Mapping) else None
    with pynwb.NWBHDF5IO(str(file), "r") as io:
        units = io.read().units
        if units is None:
            raise ValueError(f"{str(file)!r} has no Units table (read_nwb reads spike "
                             "times from nwbfile.units)")
        if isinstance(populations, str):
            columns = [c for c in units.colnames if c != "spike_times"]
            if populations not in units.colnames:
                raise ValueError(f"the Units table of {str(file)!r} has no column "
                                 f"{populations!r}; its columns: {columns}"
                                 f"{did_you_mean(populations, columns)}")
        ids = np.asarray(units.id[:], dtype=np.int64)
        if "spike_times" in units.colnames:
            times = np.asarray(units.spike_times.data[:], dtype=np.float64) * 1000.0  # s
            ends = np.asarray(units.spike_times_index.data[:], dtype=np.int64)
        else:
            times, ends = np.zeros(0), np.zeros(ids.size, dtype=np.int64)
        if members is None:
            labels = [str(v) for v in units[populations].data[:]]
            members = {lab: ids[[i for i, v in enumerate(labels) if v == lab]]
                       for lab in dict.fromkeys(labels)}
    senders = np.repeat(ids, np.diff(np.r_[0, ends]))
    return Spikes.from_events(times, senders, members, unassigned=unassigned)


# -------------------------------------------------------------------- writing -- #
def to_nwb(signals: xr.DataArray, path: Any, *, lfp: str | Sequence[str] | None = None,
           session_description: str = "signals predicted from spikes with xkernels",
           identifier: str | None = None, session_start_time: datetime | None = None,
           subject: Mapping[str, Any] | None = None, location: str = "unknown",
           overwrite: bool = False,
           **metadata: Any) -> None:
    """Write signals to a new NWB file (atomically: complete or not at all).

    Parameters
    ----------
    signals : xarray.DataArray
        Signals with dims ``(probe_channel, time)`` (``time`` in ms, regular) and the
        channel coordinates ``probe``, ``units``, ``x``, ``y``, ``z``; select other
        dims (trials, sweep points) first.
    path : str or path
        The ``.nwb`` file to create.
    lfp : str or sequence of str, optional
        Probes written as ``ElectricalSeries`` (potentials, with electrodes): default
        the probe named ``"lfp"`` if present.  Others become ``TimeSeries``.
    session_description, identifier : str
        NWB file metadata (``identifier`` default: a random UUID).
    session_start_time : datetime, optional
        Timezone-aware start of the session (default: now, UTC); the signals start
        at ``time[0]`` after it.
    subject : mapping, optional
        ``pynwb.file.Subject`` fields (``subject_id``, ``species``, ``age``, ``sex``,
        ``description``); DANDI requires one (the NWB inspector reports its absence as
        critical).
    location : str
        Brain area of the contacts, for the electrodes table (e.g. an Allen CCF
        acronym such as ``"VISp"``; default ``"unknown"``).
    overwrite : bool
        Replace an existing file.
    **metadata
        Other ``pynwb.NWBFile`` fields (``experimenter``, ``institution``, ``lab``,
        ``keywords``, ``experiment_description``, ...).

    Raises
    ------
    ValueError
        Before anything is written: other dims, missing coordinates, irregular time,
        units that are not potentials, dipole moments or magnetic fields, ``lfp``
        naming a probe not in the signals or one that is not a potential.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import xkernels
    >>> from xkernels.probes import CurrentDipoleMomentZ, GaussCylinderPotential
    >>> from xkernels.probes import probe_channels
    >>> from xkernels.provenance import merge_channel_coords
    >>> coords = merge_channel_coords([
    ...     probe_channels("lfp", GaussCylinderPotential(z=[-100.0, 100.0])),
    ...     probe_channels("cdm", CurrentDipoleMomentZ())])
    >>> signals = xr.DataArray(np.ones((3, 4)), dims=("probe_channel", "time"),
    ...                        coords={**coords, "time": np.arange(4) * 0.5})
    >>> signals.xk.to_nwb("signals.nwb")
    >>> from pynwb import NWBHDF5IO
    >>> with NWBHDF5IO("signals.nwb", "r") as io:
    ...     module = io.read().processing["ecephys"]
    ...     lfp = module["LFP"]["lfp"]
    ...     print(lfp.unit, lfp.rate, lfp.data[0].tolist(), module["cdm"].unit)
    volts 2000.0 [0.001, 0.001] A m
    """
    pynwb = optional("pynwb", "to_nwb")
    plan = _plan(signals, lfp)
    if as_path("path", path).exists() and not overwrite:
        raise FileExistsError(f"NWB file {str(path)!r} already exists (pass overwrite=True "
                              "to replace it)")
    if identifier is None:
        identifier = str(uuid.uuid4())
    if session_start_time is None:
        session_start_time = datetime.now(timezone.utc)
    metadata = {"keywords": ["simulation", "spike-to-signal kernels", "xkernels"],
                "experiment_description": "signals predicted from network spikes with "
                                          "spike-to-signal kernels (xkernels)"} | metadata
    if subject is not None:
        metadata["subject"] = pynwb.file.Subject(**subject)
    nwb = pynwb.NWBFile(session_description=session_description, identifier=identifier,
                        session_start_time=session_start_time,
                        source_script=f"xkernels {XKERNELS_VERSION}",
                        source_script_file_name="xkernels",
                        notes=_provenance(signals), **metadata)
    module = nwb.create_processing_module(MODULE, "signals predicted with xkernels")
    lfp_container = None
    for probe, rows in plan["probes"].items():
        values = plan["values"][rows].T  # (time, channel), SI
        common = dict(name=probe, data=values, rate=plan["rate"],
                      starting_time=plan["start"],
                      description=f"probe {probe!r} ({', '.join(plan['labels'][rows])}); "
                                  f"xkernels units {plan['units'][rows[0]]}")
        if probe in plan["lfp"]:
            if lfp_container is None:  # in the file before its series link the electrodes
                lfp_container = module.add(pynwb.ecephys.LFP())
            region = _electrodes(nwb, probe, plan, rows, location)
            lfp_container.add_electrical_series(
                pynwb.ecephys.ElectricalSeries(electrodes=region, **common))
        else:
            module.add(pynwb.TimeSeries(unit=plan["si"][rows[0]], **common))
    h5py = optional("h5py", "to_nwb")
    with atomic_file(path, overwrite=overwrite, what="NWB file") as tmp:
        with h5py.File(tmp, "w") as file, pynwb.NWBHDF5IO(file=file, mode="w") as io:
            io.write(nwb)


def _plan(signals: Any, lfp: str | Sequence[str] | None) -> dict[str, Any]:
    """Everything to_nwb writes, checked before anything is."""
    if not isinstance(signals, xr.DataArray):
        raise TypeError(f"signals must be an xarray.DataArray, got {type(signals).__name__}")
    if set(signals.dims) != {"probe_channel", "time"}:
        extra = [d for d in signals.dims if d not in ("probe_channel", "time")]
        raise ValueError(f"signals must have dims ('probe_channel', 'time'), got "
                         f"{signals.dims}: select {extra} first (e.g. signals.isel("
                         f"{extra[0] if extra else 'dim'}=0))")
    missing = [c for c in ("probe", "units", "x", "y", "z") if c not in signals.coords]
    if missing:
        raise ValueError(f"signals lack the channel coordinates {missing} (kernels from "
                         "compute_kernels carry them into convolve's signals)")
    time = np.asarray(signals.coords["time"].values, dtype=float)
    if time.size < 2:
        raise ValueError(f"signals need at least 2 time samples, got {time.size}")
    dt = regular_spacing(time, "signals time coordinate")
    signals = signals.transpose("probe_channel", "time")
    bad = sorted({str(u) for u in signals.coords["units"].values} - set(UNITS))
    if bad:
        raise ValueError(f"signals have channel units {bad} that to_nwb cannot convert to "
                         f"SI; allowed: {sorted(UNITS)}")
    factors, si = si_values(signals)
    probes_of = signals.coords["probe"].values.astype(str)
    probes = {p: np.flatnonzero(probes_of == p) for p in dict.fromkeys(probes_of.tolist())}
    names = ["lfp"] if lfp is None else [lfp] if isinstance(lfp, str) else list(lfp)
    for name in names:
        if name not in probes and lfp is not None:
            raise ValueError(f"lfp names probe {name!r}, which is not in the signals; "
                             f"probes: {list(probes)}{did_you_mean(name, probes)}")
        if name in probes and si[probes[name][0]] != "V":
            raise ValueError(f"lfp names probe {name!r}, whose channels are not potentials "
                             f"(units {signals.coords['units'].values[probes[name][0]]!r})")
    lfp_names = [n for n in names if n in probes]
    return {"probes": probes, "lfp": lfp_names,
            "lfp_rows": np.concatenate([probes[n] for n in lfp_names] or [np.zeros(0, int)]),
            "values": np.asarray(signals.values, dtype=float) * factors[:, None],
            "units": signals.coords["units"].values.astype(str), "si": si,
            "labels": signals.coords["probe_channel"].values.astype(str),
            "xyz": np.stack([signals.coords[c].values.astype(float) for c in "xyz"], axis=1),
            "rate": 1000.0 / dt, "start": float(time[0]) / 1000.0}


def _electrodes(nwb: Any, probe: str, plan: Mapping[str, Any], rows: np.ndarray,
                location: str) -> Any:
    """Electrodes (contact positions in µm, the NWB schema's unit) of one probe."""
    device = nwb.create_device(name=f"{probe} (model)",
                               description="forward model of xkernels (no hardware)")
    group = nwb.create_electrode_group(name=probe, description=f"contacts of probe "
                                       f"{probe!r}, positions in µm", location=location,
                                       device=device)
    if nwb.electrodes is None or "label" not in nwb.electrodes.colnames:
        nwb.add_electrode_column(name="label", description="xkernels probe_channel label")
    first = 0 if nwb.electrodes is None else len(nwb.electrodes)
    # a coordinate column only where some contact has one (GaussCylinder: z only)
    columns = [c for c, col in zip("xyz", plan["xyz"][plan["lfp_rows"]].T)
               if np.isfinite(col).any()]
    for i in rows:
        position = {c: float(v) for c, v in zip("xyz", plan["xyz"][i]) if c in columns}
        nwb.add_electrode(group=group, location=location, label=str(plan["labels"][i]),
                          **position)
    return nwb.create_electrode_table_region(list(range(first, first + rows.size)),
                                             f"contacts of probe {probe!r}")


def _provenance(signals: xr.DataArray) -> str:
    """The signals' attributes (and xkernels' version) as JSON, for the file's notes."""
    def plain(v: Any) -> Any:
        return v.tolist() if isinstance(v, np.ndarray) else v if isinstance(
            v, (str, int, float, bool, list, dict, type(None))) else str(v)
    return json.dumps({"xkernels_version": XKERNELS_VERSION, "writer_versions": versions(),
                       "signals_attrs": {k: plain(v) for k, v in signals.attrs.items()}})

"""Signals to MNE-Python: ``mne.io.RawArray`` or ``mne.EvokedArray``.

Channel types follow the channels' quantity: potentials of the probes named in ``eeg``
(default ``"eeg"``) are ``eeg`` channels, other potentials (depth LFP) ``seeg``,
current dipole moments ``dipole`` (A m, the FIFF unit set), magnetic fields ``mag``
(T; xkernels' MEG channels are the x, y and z components of the field at a sensor,
exported as point magnetometers oriented along x, y and z).  Values are in SI units,
``sfreq = 1000/dt`` (dt in ms).  Channel names are the ``probe_channel`` labels without their probe
prefix (``eeg:Fz`` -> ``Fz``) when those are unique, else the full labels.  Channels
with finite positions (µm) are placed in the info (m): EEG and sEEG through a montage
in the head frame, magnetometers through their ``loc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_choice, did_you_mean
from xkernels.contract import regular_spacing
from xkernels.io._common import optional
from xkernels.units import UNITS, si_values

#: MNE channel type of each quantity (potentials: "eeg" or "seeg", see ``eeg``)
CHANNEL_TYPES = {"dipole": "dipole", "field": "mag"}
#: FIFF coil type of a point magnetometer
POINT_MAGNETOMETER = 2000
_AXES = {"x": np.eye(3)[[1, 2, 0]], "y": np.eye(3)[[2, 0, 1]], "z": np.eye(3)}


def to_mne(signals: xr.DataArray, kind: str = "raw", *,
           eeg: str | Sequence[str] = "eeg", average: str = "trial") -> Any:
    """Signals as an MNE Raw (continuous) or Evoked (averaged) object.

    Parameters
    ----------
    signals : xarray.DataArray
        Dims ``(probe_channel, time)`` (``time`` in ms, regular) with the channel
        coordinates ``probe``, ``units``, ``x``, ``y``, ``z``; for ``kind="evoked"``
        optionally also ``average`` (trials), averaged here.
    kind : {"raw", "evoked"}
        ``mne.io.RawArray`` or ``mne.EvokedArray`` (``nave`` the number of trials
        averaged, 1 without an ``average`` dim; ``tmin`` the first time).
    eeg : str or sequence of str
        Probes whose potentials are EEG (others: sEEG).
    average : str
        The dim averaged over for ``kind="evoked"``.

    Returns
    -------
    mne.io.RawArray or mne.EvokedArray
        Data in V, A m and T.

    Raises
    ------
    ValueError
        Before any conversion: an unknown ``kind`` (with "did you mean"), other dims,
        missing coordinates, irregular time, units without an SI conversion.

    Examples
    --------
    >>> from xkernels.probes import CurrentDipoleMomentZ, EEGProbe, probe_channels
    >>> from xkernels.provenance import merge_channel_coords
    >>> eeg = EEGProbe.from_montage("spherical_1020", names=["Cz", "Pz"])
    >>> coords = merge_channel_coords([probe_channels("eeg", eeg),
    ...                                probe_channels("cdm", CurrentDipoleMomentZ())])
    >>> signals = xr.DataArray(np.ones((3, 8)), dims=("probe_channel", "time"),
    ...                        coords={**coords, "time": np.arange(8) * 0.5})
    >>> raw = signals.xk.to_mne()
    >>> raw.ch_names, raw.get_channel_types(), raw.info["sfreq"]
    (['Cz', 'Pz', 'z'], ['eeg', 'eeg', 'dipole'], 2000.0)
    >>> raw.get_data()[:, 0].tolist()        # mV -> V, nA µm -> A m
    [0.001, 0.001, 1e-15]
    >>> trials = xr.concat([signals, 3 * signals], dim="trial")
    >>> evoked = trials.xk.to_mne("evoked")
    >>> evoked.nave, evoked.data[0, 0]
    (2, np.float64(0.002))
    """
    check_choice("kind", kind, ("raw", "evoked"))
    mne = optional("mne", "to_mne")
    if not isinstance(signals, xr.DataArray):
        raise TypeError(f"signals must be an xarray.DataArray, got {type(signals).__name__}")
    nave = 1
    if kind == "evoked" and average in signals.dims:
        nave = int(signals.sizes[average])
        signals = signals.mean(average, keep_attrs=True)
    if set(signals.dims) != {"probe_channel", "time"}:
        extra = [d for d in signals.dims if d not in ("probe_channel", "time")]
        hint = (f" (kind='evoked' averages over {average!r}; pass average=<dim>)"
                if kind == "evoked" else " (kind='evoked' averages over trials)")
        raise ValueError(f"signals must have dims ('probe_channel', 'time'), got "
                         f"{signals.dims}: select or average {extra} first{hint}")
    missing = [c for c in ("probe", "units", "x", "y", "z") if c not in signals.coords]
    if missing:
        raise ValueError(f"signals lack the channel coordinates {missing}")
    bad = sorted({str(u) for u in signals.coords["units"].values} - set(UNITS))
    if bad:
        raise ValueError(f"signals have channel units {bad} without an SI conversion; "
                         f"allowed: {sorted(UNITS)}")
    time = np.asarray(signals.coords["time"].values, dtype=float)
    dt = regular_spacing(time, "signals time coordinate") if time.size > 1 else None
    if dt is None:
        raise ValueError(f"signals need at least 2 time samples, got {time.size}")
    signals = signals.transpose("probe_channel", "time")
    probes = signals.coords["probe"].values.astype(str)
    eeg_names = [eeg] if isinstance(eeg, str) else list(eeg)
    for name in eeg_names:
        if name != "eeg" and name not in probes:
            raise ValueError(f"eeg names probe {name!r}, which is not in the signals; "
                             f"probes: {sorted(set(probes))}{did_you_mean(name, probes)}")
    factors, si = si_values(signals)
    quantity = [UNITS[str(u)][0] for u in signals.coords["units"].values]
    types = [("eeg" if p in eeg_names else "seeg") if q == "potential" else CHANNEL_TYPES[q]
             for p, q in zip(probes, quantity)]
    labels = signals.coords["probe_channel"].values.astype(str).tolist()
    short = [lab.split(":", 1)[1] if ":" in lab else lab for lab in labels]
    names = short if len(set(short)) == len(short) else labels
    xyz = np.stack([signals.coords[c].values.astype(float) for c in "xyz"], axis=1) * 1e-6
    data = np.asarray(signals.values, dtype=float) * factors[:, None]

    info = mne.create_info(names, sfreq=1000.0 / dt, ch_types=types)
    placed = {n: xyz[i] for i, (n, t) in enumerate(zip(names, types))
              if t in ("eeg", "seeg") and np.all(np.isfinite(xyz[i]))}
    if placed:
        info.set_montage(mne.channels.make_dig_montage(ch_pos=placed, coord_frame="head"),
                         on_missing="ignore")
    for i, t in enumerate(types):
        if t == "dipole":  # MNE leaves dipole channels without a unit
            info["chs"][i]["unit"] = mne.io.constants.FIFF.FIFF_UNIT_AM
        if t == "mag" and np.all(np.isfinite(xyz[i])):
            axis = labels[i].rsplit(":", 1)[-1]
            frame = _AXES.get(axis, np.eye(3))
            info["chs"][i]["loc"][:] = np.r_[xyz[i], frame.ravel()]
            info["chs"][i]["coil_type"] = POINT_MAGNETOMETER
    description = f"xkernels signals ({signals.attrs.get('long_name', 'signal')})"
    if kind == "raw":
        raw = mne.io.RawArray(data, info, first_samp=0, verbose="error")
        raw.set_meas_date(None)
        raw.info["description"] = description
        return raw
    return mne.EvokedArray(data, info, tmin=float(time[0]) / 1000.0, nave=nave,
                           comment=description, verbose="error")

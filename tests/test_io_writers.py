"""Signals out: NWB (read back with pynwb, checked with the NWB inspector) and MNE (Raw
and Evoked, saved to FIF and read back); channel units in one call; named EEG/MEG
channels.  Signals come from the real convolution of kernels carrying the channel
coordinates of real probes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.probes import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
    probe_channels,
    probe_definition,
    probe_from_definition,
)
from xkernels.provenance import merge_channel_coords
from xkernels.units import MU0, convert_units

DT = 2.0 ** -4


@pytest.fixture(scope="module")
def signals():
    """Signals (dask, from convolve) of an lfp, cdm, 10-20 eeg and named meg probe."""
    probes = {"lfp": GaussCylinderPotential(z=[-200.0, 0.0, 200.0]),
              "cdm": CurrentDipoleMomentZ(),
              "eeg": EEGProbe.from_montage("spherical_1020", names=["Fz", "Cz", "Pz"]),
              "meg": MEGProbe([[10000.0, 0.0, 95000.0]], names=["MEG0111"])}
    coords = merge_channel_coords([probe_channels(n, p) for n, p in probes.items()])
    n_ch = coords["probe_channel"][1].size
    rng = np.random.default_rng(0)
    scale = np.array([1e-3] * 3 + [1e3] + [1e-6] * 3 + [1e-8] * 3)[:, None]
    H = xr.DataArray(rng.normal(size=(2, 1, n_ch, 33)) * scale, dims=("X", "Y", "probe_channel",
                                                                   "tau"),
                     coords={"X": ["E", "I"], "Y": ["E"], **coords,
                             "tau": np.arange(-16, 17) * DT})
    rates = xr.DataArray(rng.poisson(2.0, (2, 800)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": 100.0 + np.arange(800) * DT})
    return rates.xk.convolve(H)


def si(signals):
    """Independent SI conversion of the test signals, per probe."""
    factor = {"lfp": 1e-3, "cdm": 1e-15, "eeg": 1e-3, "meg": 1e-3 * MU0}
    return signals.values * np.array([factor[p] for p in signals.probe.values])[:, None]


# ------------------------------------------------------------------------------ units
def test_to_units_one_call(signals):
    cdm = signals.xk.to_units({"cdm": "nA m"})
    assert cdm.probe_channel.values.tolist() == signals.probe_channel.values.tolist()
    assert str(cdm.sel(probe_channel="cdm:z").units.values) == "nA m"
    np.testing.assert_allclose(cdm.sel(probe_channel="cdm:z").values,
                               signals.sel(probe_channel="cdm:z").values * 1e-6, rtol=1e-15)
    np.testing.assert_array_equal(cdm.sel(probe_channel="lfp:0").values,
                                  signals.sel(probe_channel="lfp:0").values)
    everything = signals.xk.to_units("SI")
    assert sorted(set(everything.units.values.tolist())) == ["A m", "T", "V"]
    np.testing.assert_allclose(everything.values, si(signals), rtol=1e-14)
    assert "cdm:z: nA µm -> A m" in everything.attrs["converted_units"]
    with pytest.raises(ValueError, match="probe 'cdn', which is not in the data.*did you "
                                         "mean 'cdm'"):
        signals.xk.to_units({"cdn": "A m"})
    with pytest.raises(ValueError, match="channel 'lfp:0' of probe 'lfp': cannot convert "
                                         "'mV' \\(potential\\) to 'A m'"):
        signals.xk.to_units("A m")
    with pytest.raises(ValueError, match="units 'nA mm' is not known"):
        convert_units(signals, {"cdm": "nA mm"})


def test_kernels_in_other_units_drop_value_provenance():
    H = xr.DataArray(np.ones((1, 2)), dims=("probe_channel", "tau"),
                     coords={**probe_channels("cdm", CurrentDipoleMomentZ()),
                             "tau": [0.0, DT]},
                     attrs={"content_hash": "abc", "values_xxh3_128": "def", "dt": DT})
    out = H.xk.to_units({"cdm": "A m"})
    assert "content_hash" not in out.attrs and "values_xxh3_128" not in out.attrs
    assert out.attrs["dt"] == DT and float(out[0, 0]) == 1e-15


# ---------------------------------------------------------------------- channel names
def test_eeg_meg_channel_names_and_definitions():
    eeg = EEGProbe.from_montage("spherical_1020", names=["O1", "Oz"])
    assert probe_channels("eeg", eeg)["probe_channel"][1].tolist() == ["eeg:O1", "eeg:Oz"]
    np.testing.assert_allclose(np.linalg.norm(eeg.r_electrodes, axis=1), 90000.0, rtol=1e-11)
    rebuilt = probe_from_definition(probe_definition(eeg))
    assert rebuilt.names == ["O1", "Oz"]
    np.testing.assert_array_equal(rebuilt.r_electrodes, eeg.r_electrodes)
    # probes without names keep the definition (the content hash) they always had
    assert "names" not in probe_definition(EEGProbe([[0.0, 0.0, 90000.0]]))["params"]
    meg = MEGProbe([[1e4, 0.0, 9.5e4], [0.0, 1e4, 9.5e4]], names=["A", "B"])
    assert probe_channels("meg", meg)["probe_channel"][1].tolist()[:4] == [
        "meg:A:x", "meg:A:y", "meg:A:z", "meg:B:x"]
    with pytest.raises(ValueError, match="electrode 'Cz3' is not in the montage.*did you"):
        EEGProbe.from_montage("spherical_1020", names=["Cz3"])
    with pytest.raises(ValueError, match="montage must be one of .*did you mean"):
        EEGProbe.from_montage("spherical_102", names=["Cz"])
    with pytest.raises(ValueError, match="EEGProbe.names must name each of the 1 channels"):
        EEGProbe([[0.0, 0.0, 90000.0]], names=["a", "b"])
    with pytest.raises(ValueError, match="unique non-empty names without ':'"):
        MEGProbe([[1e4, 0.0, 9.5e4]], names=["a:b"])


# -------------------------------------------------------------------------------- NWB
def test_to_nwb_round_trip_and_inspector(signals, tmp_path):
    from nwbinspector import Importance, inspect_nwbfile
    from pynwb import NWBHDF5IO

    path = tmp_path / "signals.nwb"
    signals.xk.to_nwb(path, subject={"subject_id": "network-1", "species": "Mus musculus",
                                     "age": "P90D", "sex": "U",
                                     "description": "a simulated network"},
                     location="VISp")
    expected = si(signals)
    probes = signals.probe.values
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        module = nwb.processing["ecephys"]
        lfp = module["LFP"]["lfp"]
        assert lfp.unit == "volts" and lfp.rate == 16000.0 and lfp.starting_time == 0.1
        np.testing.assert_array_equal(lfp.data[:].T * lfp.conversion, expected[probes == "lfp"])
        table = lfp.electrodes.table
        np.testing.assert_array_equal(table["z"][:], [-200.0, 0.0, 200.0])  # µm
        assert "x" not in table.colnames  # on the population axis: no lateral position
        assert list(table["label"][:]) == ["lfp:0", "lfp:1", "lfp:2"]
        for name, unit in (("cdm", "A m"), ("eeg", "V"), ("meg", "T")):
            series = module[name]
            assert series.unit == unit
            np.testing.assert_array_equal(series.data[:].T, expected[probes == name])
        notes = json.loads(nwb.notes)
        assert notes["xkernels_version"] == xkernels.__version__
        assert notes["signals_attrs"]["dt"] == DT
    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    assert [m.check_function_name for m in messages] == [
        "check_experimenter_exists", "check_institution"]  # ours to leave to the user
    assert all(m.importance == Importance.BEST_PRACTICE_SUGGESTION for m in messages)


def test_to_nwb_bad_input_writes_nothing(signals, tmp_path):
    path = tmp_path / "s.nwb"
    trials = xr.concat([signals, signals], dim="trial")
    with pytest.raises(ValueError, match=r"dims \('probe_channel', 'time'\).*select \['trial'\]"):
        trials.xk.to_nwb(path)
    with pytest.raises(ValueError, match="lfp names probe 'lpf'.*did you mean 'lfp'"):
        signals.xk.to_nwb(path, lfp="lpf")
    with pytest.raises(ValueError, match="lfp names probe 'cdm', whose channels are not "
                                         "potentials"):
        signals.xk.to_nwb(path, lfp=["lfp", "cdm"])
    with pytest.raises(ValueError, match="channel units \\['furlong'\\]"):
        signals.assign_coords(units=("probe_channel", ["furlong"] * signals.sizes[
            "probe_channel"])).xk.to_nwb(path)
    assert list(tmp_path.iterdir()) == []
    path.write_text("keep")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        signals.xk.to_nwb(path)
    assert path.read_text() == "keep"


def test_to_nwb_interrupted_writer_leaves_no_file(signals, tmp_path, monkeypatch):
    """Ctrl-C after the file is complete but before the rename (the kill point of
    xkernels.store.publish): nothing at the path, an existing file untouched, no
    staging file left."""
    monkeypatch.setenv("XKERNELS_KILL_AT", "publish:synced")
    monkeypatch.setenv("XKERNELS_KILL_SIGNAL", "INT")
    target = tmp_path / "out.nwb"
    with pytest.raises(KeyboardInterrupt):
        signals.xk.to_nwb(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.nwb.lock"]
    target.write_text("old")
    monkeypatch.setenv("XKERNELS_KILL_AT", "publish:synced#2")  # its second pass
    with pytest.raises(KeyboardInterrupt):
        signals.xk.to_nwb(target, overwrite=True)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.nwb.lock", "out.nwb"]


# -------------------------------------------------------------------------------- MNE
def test_to_mne_raw_round_trip(signals, tmp_path):
    import mne

    raw = signals.xk.to_mne()
    assert raw.ch_names == ["0", "1", "2", "z", "Fz", "Cz", "Pz", "MEG0111:x", "MEG0111:y",
                            "MEG0111:z"]
    assert raw.get_channel_types() == ["seeg"] * 3 + ["dipole"] + ["eeg"] * 3 + ["mag"] * 3
    assert raw.info["sfreq"] == 1000.0 / DT
    raw.save(tmp_path / "signals_raw.fif")
    back = mne.io.read_raw_fif(tmp_path / "signals_raw.fif", preload=True, verbose="error")
    np.testing.assert_allclose(back.get_data(), si(signals), rtol=1e-6)  # FIF: float32
    units = [ch["unit"] for ch in back.info["chs"]]
    fiff = mne.io.constants.FIFF
    assert units == [fiff.FIFF_UNIT_V] * 3 + [fiff.FIFF_UNIT_AM] + [fiff.FIFF_UNIT_V] * 3 \
        + [fiff.FIFF_UNIT_T] * 3
    positions = back.get_montage().get_positions()["ch_pos"]
    eeg = signals.sel(probe_channel=["eeg:Fz", "eeg:Cz", "eeg:Pz"])
    for name, x, y, z in zip(("Fz", "Cz", "Pz"), eeg.x.values, eeg.y.values, eeg.z.values):
        np.testing.assert_allclose(positions[name], np.array([x, y, z]) * 1e-6, rtol=1e-6)
    mag = back.info["chs"][9]
    np.testing.assert_allclose(mag["loc"][:3], [0.01, 0.0, 0.095], rtol=1e-6)
    np.testing.assert_allclose(mag["loc"][9:12], [0.0, 0.0, 1.0])  # normal along z


def test_to_mne_evoked_round_trip(signals, tmp_path):
    import mne

    trials = xr.concat([signals, 3.0 * signals, 2.0 * signals], dim="trial")
    evoked = trials.xk.to_mne("evoked")
    assert evoked.nave == 3 and evoked.tmin == 0.1
    evoked.save(tmp_path / "signals-ave.fif")
    back = mne.read_evokeds(tmp_path / "signals-ave.fif", verbose="error")[0]
    np.testing.assert_allclose(back.data, 2.0 * si(signals), rtol=1e-6)
    assert back.nave == 3 and back.ch_names[4:7] == ["Fz", "Cz", "Pz"]
    with pytest.raises(ValueError, match="kind must be one of \\['raw', 'evoked'\\], got "
                                         "'evokd'.*did you mean 'evoked'"):
        signals.xk.to_mne("evokd")
    with pytest.raises(ValueError, match="select or average \\['trial'\\] first"):
        trials.xk.to_mne()

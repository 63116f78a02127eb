"""xkernels.io readers against files and objects made by the real tools: NEST (memory and
ASCII backends, 2 virtual processes), Brian2 SpikeMonitors, SONATA files written with h5py
per the spec, NWB files written with pynwb.  Binned counts equal an independent
histogram (integer simulation steps, never float times) exactly; bad input is refused
before any spike is read."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import numpy as np
import pytest

from xkernels import Spikes, rates_from_spikes
from xkernels.io import read_brian2, read_nest, read_nwb, read_sonata

DT = 2.0 ** -4          # simulation step (ms), exact in binary
BIN = 16                # steps per rate bin (1 ms)
HEADER = "# NEST version: 3.10.0\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n"


def step_histogram(steps: np.ndarray, n_bins: int) -> np.ndarray:
    """Spikes per bin from integer step indices: bin k holds steps [k BIN, (k+1) BIN)."""
    k = steps // BIN
    return np.bincount(k[k < n_bins], minlength=n_bins)


def assert_bins(spikes: Spikes, steps: dict[str, np.ndarray], t_stop: float) -> None:
    n_bins = int(round(t_stop / (DT * BIN)))
    rates = rates_from_spikes(spikes, t_start=0.0, t_stop=t_stop, dt=DT * BIN)
    for name, s in steps.items():
        np.testing.assert_array_equal(rates.sel(X=name).values, step_histogram(s, n_bins))


# ------------------------------------------------------------------------------- NEST
@pytest.fixture(scope="module")
def nest_run(tmp_path_factory):
    """A small NEST network recorded to memory and to ASCII files, 2 virtual processes."""
    nest = pytest.importorskip("nest")
    from xkernels.app.lif import import_nest

    nest = import_nest()
    folder = tmp_path_factory.mktemp("nest")
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"tics_per_ms": 2 ** 14, "resolution": DT, "local_num_threads": 2,
                          "rng_seed": 3, "data_path": str(folder), "overwrite_files": True})
    E = nest.Create("iaf_psc_exp", 40, params={"I_e": 300.0})
    I_ = nest.Create("iaf_psc_exp", 10, params={"I_e": 200.0})
    E.V_m = np.linspace(-70.0, -55.0, 40).tolist()
    I_.V_m = np.linspace(-70.0, -55.0, 10).tolist()
    noise = nest.Create("poisson_generator", params={"rate": 8000.0})
    nest.Connect(noise, E + I_, syn_spec={"weight": 20.0})
    memory = nest.Create("spike_recorder")
    ascii_ = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "spk",
                                                   "precision": 6})
    nest.Connect(E + I_, memory)
    nest.Connect(E + I_, ascii_)
    nest.Simulate(100.0)
    files = sorted(folder.glob("spk-*.dat"))
    return {"E": E, "I": I_, "events": memory.get("events"), "files": files}


def test_nest_events_and_two_ascii_files_agree_and_bin_exactly(nest_run):
    files, events = nest_run["files"], nest_run["events"]
    assert len(files) == 2  # one file per virtual process
    pops = {"E": nest_run["E"], "I": nest_run["I"]}  # NodeCollections
    from_memory = read_nest(events, pops)
    from_files = read_nest(files, pops)
    assert from_files.digest() == from_memory.digest()
    assert from_files.sizes == {"E": 40, "I": 10}
    # a single path reads one virtual process's neurons only
    one = read_nest(files[0], pops)
    assert 0 < sum(t.size for t in one["E"]) < sum(t.size for t in from_files["E"])
    senders, times = events["senders"], events["times"]
    steps = np.round(np.asarray(times) / DT).astype(np.int64)
    assert np.all(steps * DT == times)  # NEST reports spikes on the grid
    ids = {"E": nest_run["E"].tolist(), "I": nest_run["I"].tolist()}
    assert_bins(from_files, {n: steps[np.isin(senders, v)] for n, v in ids.items()}, 100.0)
    # per neuron, in node order
    first = ids["E"][0]
    np.testing.assert_array_equal(from_files["E"][0], np.sort(times[senders == first]))


def test_nest_bad_input(tmp_path, nest_run):
    files = nest_run["files"]
    pops = {"E": nest_run["E"], "I": nest_run["I"]}
    plain = tmp_path / "plain.dat"
    plain.write_text("1\t2.0\n")
    with pytest.raises(ValueError, match=r"plain.dat.*not a NEST ASCII spike file.*"
                                         r"first line is '1\\t2.0'"):
        read_nest([files[0], plain], pops)
    steps = tmp_path / "steps.dat"
    steps.write_text("# NEST version: 3.10.0\nsender\ttime_step\toffset\n1\t5\t0.0\n")
    with pytest.raises(ValueError, match="time_in_steps=True"):
        read_nest(steps, pops)
    with pytest.raises(FileNotFoundError, match="missing.dat"):
        read_nest([files[0], tmp_path / "missing.dat"], pops)
    with pytest.raises(IsADirectoryError, match="is a folder; pass the file"):
        read_nest(files[0].parent, pops)
    # senders in no population: refused naming a few, or dropped on request
    with pytest.raises(ValueError, match=r"senders \[41, 42, 43.*belong to no population"):
        read_nest(files, {"E": nest_run["E"]})
    only_e = read_nest(files, {"E": nest_run["E"]}, unassigned="drop")
    assert only_e.digest() == Spikes({"E": read_nest(files, pops)["E"]}).digest()
    with pytest.raises(ValueError, match="unassigned must be one of"):
        read_nest(files, pops, unassigned="ignore")
    # duplicate ids: refused before any file is opened (the second path does not exist)
    with pytest.raises(ValueError, match=r"populations \['E', 'I'\] share node ids \[40\]"):
        read_nest([files[0], tmp_path / "missing.dat"], {"E": (1, 40), "I": (40, 50)})
    with pytest.raises(ValueError, match="keys 'times' \\(ms\\) and 'senders'"):
        read_nest({"time": [1.0]}, pops)


def test_nest_ascii_file_without_spikes(tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_text(HEADER)
    spikes = read_nest(empty, {"E": (1, 3)})
    assert spikes.sizes == {"E": 3} and spikes.population_times("E").size == 0


# ----------------------------------------------------------------------------- Brian2
@pytest.fixture(scope="module")
def b2():
    b2 = pytest.importorskip("brian2")
    b2.prefs.codegen.target = "numpy"
    return b2


def test_brian2_network_bins_exactly(b2):
    b2.start_scope()
    b2.defaultclock.dt = DT * b2.ms
    eqs = "dv/dt = (1.1 - v) / (10*ms) : 1"
    grp_e = b2.NeuronGroup(30, eqs, threshold="v > 1", reset="v = 0", method="exact")
    grp_i = b2.NeuronGroup(8, eqs, threshold="v > 1", reset="v = 0", method="exact")
    grp_e.v = "rand()"
    grp_i.v = "rand()"
    grp_i.v[0] = -1e9  # a silent neuron
    drive = b2.PoissonInput(grp_e, "v", N=50, rate=40 * b2.Hz, weight=0.05)
    mon_e, mon_i = b2.SpikeMonitor(grp_e), b2.SpikeMonitor(grp_i)
    net = b2.Network(grp_e, grp_i, drive, mon_e, mon_i)
    net.run(100 * b2.ms)
    spikes = read_brian2({"E": mon_e, "I": mon_i})
    assert spikes.sizes == {"E": 30, "I": 8} and spikes["I"][0].size == 0
    steps = {n: np.round(np.asarray(m.t_) / (DT * 1e-3)).astype(np.int64)
             for n, m in (("E", mon_e), ("I", mon_i))}
    assert all(s.size > 20 for s in steps.values())
    assert_bins(spikes, steps, 100.0)
    i0 = np.asarray(mon_e.i) == 0
    np.testing.assert_allclose(spikes["E"][0], np.asarray(mon_e.t_)[i0] * 1000.0, rtol=1e-12)


def test_brian2_spikes_on_bin_edges_bin_like_nest(b2):
    """Brian2 at dt = 0.1 ms: times like 0.3 ms are not exact in binary seconds; spikes on
    bin edges go to the bin that starts there, as NEST's grid times do."""
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    steps = np.array([0, 3, 5, 10, 15, 29, 30, 49, 50, 70, 99])
    gen = b2.SpikeGeneratorGroup(2, np.arange(steps.size) % 2, steps * 0.1 * b2.ms)
    mon = b2.SpikeMonitor(gen)
    b2.Network(gen, mon).run(10 * b2.ms)
    spikes = read_brian2({"X": mon})
    for width in (5, 10):  # bins of 0.5 and 1.0 ms
        rates = rates_from_spikes(spikes, t_start=0.0, t_stop=10.0, dt=0.1 * width)
        np.testing.assert_array_equal(rates.sel(X="X").values,
                                      np.bincount(steps // width, minlength=100 // width))


def test_brian2_bad_input(b2):
    with pytest.raises(TypeError, match=r"monitors\['E'\] must be a brian2.SpikeMonitor"):
        read_brian2({"E": [1.0, 2.0]})
    with pytest.raises(TypeError, match="non-empty mapping"):
        read_brian2({})


# ----------------------------------------------------------------------------- SONATA
def write_sonata(path, populations: dict, *, units=("ms", "s"), spikes_group="spikes"):
    """A SONATA spike file per the spec, with h5py: populations name -> (ids, steps)."""
    import h5py

    with h5py.File(path, "w") as f:
        for (name, (ids, steps)), unit in zip(populations.items(), units):
            g = f.create_group(f"{spikes_group}/{name}")
            order = np.argsort(ids, kind="stable")  # sorted by id
            g.attrs["sorting"] = "by_id"
            g.create_dataset("node_ids", data=ids[order].astype(np.uint64))
            t = steps[order] * DT / (1000.0 if unit == "s" else 1.0)
            g.create_dataset("timestamps", data=t)
            if unit is not None:
                g["timestamps"].attrs["units"] = unit


@pytest.fixture()
def sonata_file(tmp_path):
    rng = np.random.default_rng(4)
    pops = {"V1": (rng.integers(0, 20, 400), rng.integers(0, 200 * 16, 400)),
            "LGN": (rng.integers(0, 5, 100), rng.integers(0, 200 * 16, 100))}
    pops["V1"][1][:40] = np.arange(40) * BIN  # spikes exactly on bin edges
    path = tmp_path / "spikes.h5"
    write_sonata(path, pops)  # V1 in ms, LGN in seconds
    return path, pops


def test_sonata_default_and_mapped_populations_bin_exactly(sonata_file):
    path, pops = sonata_file
    spikes = read_sonata(path)
    assert list(spikes) == ["LGN", "V1"]  # as HDF5 lists them (by name)
    assert spikes.sizes["V1"] == pops["V1"][0].max() + 1
    assert_bins(spikes, {n: s for n, (_, s) in pops.items()}, 200.0)
    ids, steps = pops["V1"]
    mapped = read_sonata(path, {"E": ("V1", np.arange(0, 16)), "I": ("V1", np.arange(16, 20)),
                                "thal": ("LGN", (0, 4))})
    assert mapped.sizes == {"E": 16, "I": 4, "thal": 5}
    assert_bins(mapped, {"E": steps[ids < 16], "I": steps[ids >= 16]}, 200.0)
    np.testing.assert_array_equal(mapped["I"][1], np.sort(steps[ids == 17]) * DT)


def test_sonata_bad_input(tmp_path, sonata_file):
    path, pops = sonata_file
    nospikes = tmp_path / "report.h5"
    write_sonata(nospikes, pops, spikes_group="report")
    with pytest.raises(ValueError, match=r"report.h5' has no /spikes group.*holds \['report'\]"):
        read_sonata(nospikes)
    no_units = tmp_path / "nounits.h5"
    write_sonata(no_units, {"V1": pops["V1"]}, units=(None,))
    with pytest.raises(ValueError, match="no 'units' attribute: pass time_units"):
        read_sonata(no_units)
    assert read_sonata(no_units, time_units="ms").digest() == read_sonata(
        path, {"V1": ("V1", np.arange(20))}, unassigned="drop").digest()
    with pytest.raises(ValueError, match="time_units='s' but .* says units='ms'"):
        read_sonata(path, time_units="s")
    with pytest.raises(ValueError, match="holds SONATA populations \\['LGN', 'V1'\\]; name one"):
        read_sonata(path, {"E": np.arange(20)})
    with pytest.raises(ValueError, match="SONATA population 'V2', which .* holds"):
        read_sonata(path, {"E": ("V2", np.arange(20))})
    with pytest.raises(ValueError, match="SONATA populations \\['LGN'\\] that no population"):
        read_sonata(path, {"E": ("V1", np.arange(20))})
    with pytest.raises(ValueError, match=r"senders \[10, 11"):
        read_sonata(path, {"E": ("V1", np.arange(10)), "thal": ("LGN", (0, 4))})
    with pytest.raises(ValueError, match="share node ids"):
        read_sonata(path, {"E": ("V1", np.arange(10)), "I": ("V1", np.arange(5, 20)),
                           "thal": ("LGN", (0, 4))})


# -------------------------------------------------------------------------------- NWB
@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    from pynwb import NWBHDF5IO, NWBFile

    rng = np.random.default_rng(5)
    nwb = NWBFile(session_description="network", identifier="test-units",
                  session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    nwb.add_unit_column(name="population", description="network population")
    steps = []
    for unit in range(12):
        s = np.sort(rng.integers(0, 100 * 16, rng.integers(0, 30)))
        if unit == 3:
            s = np.sort(np.r_[s, np.arange(10) * BIN])  # on bin edges
        steps.append(s)
        nwb.add_unit(spike_times=s * DT / 1000.0, population="E" if unit % 3 else "I",
                     id=100 + unit)
    path = tmp_path_factory.mktemp("nwb") / "units.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path, steps


def test_nwb_units_by_column_and_mapping_bin_exactly(nwb_file):
    path, steps = nwb_file
    spikes = read_nwb(path, "population")
    assert list(spikes) == ["I", "E"] and spikes.sizes == {"I": 4, "E": 8}
    assert_bins(spikes, {"E": np.concatenate([s for u, s in enumerate(steps) if u % 3]),
                         "I": np.concatenate(steps[::3])}, 100.0)
    np.testing.assert_allclose(spikes["E"][0], steps[1] * DT, rtol=1e-12)  # s -> ms
    mapped = read_nwb(path, {"a": [103, 100], "b": np.arange(101, 103)}, unassigned="drop")
    assert mapped.sizes == {"a": 2, "b": 2}
    np.testing.assert_allclose(mapped["a"][0], steps[3] * DT, rtol=1e-12)


def test_nwb_bad_input(tmp_path, nwb_file):
    from pynwb import NWBHDF5IO, NWBFile

    path, _ = nwb_file
    with pytest.raises(ValueError, match=r"no column 'populaton'; its columns: "
                                         r"\['population'\].*did you mean 'population'"):
        read_nwb(path, "populaton")
    with pytest.raises(ValueError, match=r"senders \[102, 104"):
        read_nwb(path, {"a": [100, 101, 103]})
    with pytest.raises(ValueError, match="share node ids"):
        read_nwb(path, {"a": [100, 101], "b": [101]})
    bare = tmp_path / "bare.nwb"
    with NWBHDF5IO(str(bare), "w") as io:
        io.write(NWBFile(session_description="x", identifier="x",
                         session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    with pytest.raises(ValueError, match="has no Units table"):
        read_nwb(bare, "population")
    with pytest.raises(FileNotFoundError):
        read_nwb(tmp_path / "none.nwb", "population")
    assert not os.path.exists(tmp_path / "none.nwb")

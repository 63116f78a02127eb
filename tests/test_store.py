"""Tests of xkernels.store against real Zarr stores on disk (and real SIGKILLs)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from _store_writer import (
    WEIGHTS,
    make_kernels,
    run_sweep,
    sweep_point,
    sweep_template,
    with_spec,
)
from conftest import file_stamps, subprocess_env

import xkernels.store as store
from xkernels.contract import FORMAT_VERSION, values_digest
from xkernels.store import layout, publish

ROOT = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).with_name("_store_writer.py")


# --------------------------------------------------------------------------- round trip


def stored(H: xr.DataArray) -> xr.DataArray:
    """What a store gives back for kernels carrying their values' digest."""
    return H.assign_attrs(provenance="computed")


def test_round_trip_identical_and_quiet(tmp_path):
    H = make_kernels(3)
    assert np.isnan(H.coords["x"].values).any()
    path = tmp_path / "k.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        H.xk.to_zarr(path)
        back = store.open_kernels(path)
        assert back.chunks is not None  # lazy, dask-backed
        loaded = back.compute()
    stored_attrs = {**H.attrs, "provenance": "computed"}  # the digest checked out
    xr.testing.assert_identical(loaded, H.assign_attrs(provenance="computed"))
    for name in ("X", "Y", "probe_channel", "probe", "units"):
        assert back.coords[name].dtype.kind == "U"
    assert loaded.attrs == stored_attrs
    assert store.read_attrs(path) == stored_attrs
    assert store.completed_points(path).shape == ()


def test_dask_backed_and_sweep_round_trip(tmp_path):
    H = make_kernels(4, 21, sweep={"weight_E_E": [0.1, 0.2, 0.3]}).chunk({"tau": 7})
    store.write_kernels(H, tmp_path / "s.zarr")
    back = store.open_kernels(tmp_path / "s.zarr")
    assert back.chunks[0] == (1, 1, 1)  # one chunk per sweep point
    # no digest given (as for anything not computed by the engine): stored as derived
    assert back.attrs["provenance"] == "derived"
    assert back.attrs["values_xxh3_128"] == values_digest(H.values)
    xr.testing.assert_identical(back.compute().drop_attrs(),
                                H.compute().drop_attrs())
    assert store.completed_points(tmp_path / "s.zarr").tolist() == [True, True, True]


def test_plain_open_zarr_without_xkernels(tmp_path):
    H = make_kernels(5)
    path = tmp_path / "k.zarr"
    store.write_kernels(H, path)
    out = tmp_path / "plain.pkl"
    script = textwrap.dedent(f"""
        import pickle, sys, warnings
        import xarray as xr
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = xr.open_zarr({str(path)!r})
            da = ds["kernels"].load()
        assert "xkernels" not in sys.modules
        with open({str(out)!r}, "wb") as f:
            pickle.dump((da, [str(w.message) for w in caught]), f)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    with open(out, "rb") as f:
        da, caught = pickle.load(f)
    assert caught == []
    xr.testing.assert_identical(da, H.assign_attrs(provenance="computed"))


def test_strings_use_stable_zarr_type(tmp_path):
    import zarr

    store.write_kernels(make_kernels(1), tmp_path / "k.zarr")
    group = zarr.open_group(tmp_path / "k.zarr", mode="r")
    for name in ("X", "Y", "probe_channel", "probe", "units"):
        meta = json.loads((tmp_path / "k.zarr" / name / "zarr.json").read_text())
        assert meta["data_type"] == "string", (name, meta["data_type"])
    assert group["kernels"].chunks[-1] == 11


# --------------------------------------------------------------------------- bad input


def _bad_variants():
    H = make_kernels(0)
    irregular = H.assign_coords(tau=H.tau.values + np.r_[0.0, 0.01, np.zeros(9)])
    no_units = H.assign_coords(units=("probe_channel", np.array([""] * H.sizes["probe_channel"])))
    no_prov = H.copy()
    del no_prov.attrs["content_hash"]
    nan_attr = H.copy()
    nan_attr.attrs["t_X"] = float("nan")
    bad_dt = H.copy()
    bad_dt.attrs["dt"] = 0.5
    bad_json = H.copy()
    bad_json.attrs["spec"] = "{not json"
    newer = H.copy()
    newer.attrs["format_version"] = FORMAT_VERSION + 1
    return {
        "wrong dims": H.transpose("Y", "X", "probe_channel", "tau"),
        "irregular tau": irregular,
        "missing units": no_units,
        "missing provenance": no_prov,
        "nan attr": nan_attr,
        "dt vs tau": bad_dt,
        "spec not json": bad_json,
        "int dtype": H.astype(int),
        "format version": newer,
        "sweep dim without coord": H.expand_dims(w=2),
    }


@pytest.mark.parametrize("case", list(_bad_variants()))
def test_contract_breaking_refused_before_disk(tmp_path, case):
    H = _bad_variants()[case]
    target = tmp_path / "sub" / "k.zarr"
    with pytest.raises(ValueError):
        store.write_kernels(H, target)
    assert list(tmp_path.iterdir()) == []
    if case != "format version":
        with pytest.raises(ValueError):
            store.create_sweep_store(target, H.expand_dims(w=[1.0]) if "w" not in H.dims else H)
        assert list(tmp_path.iterdir()) == []


def test_not_a_datarray_refused(tmp_path):
    with pytest.raises(TypeError):
        store.write_kernels(make_kernels(0).to_dataset(), tmp_path / "k.zarr")
    assert list(tmp_path.iterdir()) == []


def test_existing_path_refused_and_overwrite(tmp_path):
    path = tmp_path / "k.zarr"
    store.write_kernels(make_kernels(1), path)
    with pytest.raises(FileExistsError, match="k.zarr"):
        store.write_kernels(make_kernels(2), path)
    np.testing.assert_array_equal(store.open_kernels(path).values, make_kernels(1).values)
    store.write_kernels(make_kernels(2), path, overwrite=True)
    xr.testing.assert_identical(store.open_kernels(path).load(), stored(make_kernels(2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.zarr.lock", "k.zarr"]


def test_overwrite_refuses_what_is_not_a_store(tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    (tmp_path / "file.zarr").write_text("x")
    for target in (precious, tmp_path / "file.zarr"):
        with pytest.raises(store.KernelStoreError, match="replaces kernel stores only"):
            store.write_kernels(make_kernels(1), target, overwrite=True)
    assert (precious / "thesis.txt").read_text() == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.zarr", "notes"]


def test_failed_overwrite_keeps_old_store(tmp_path):
    path = tmp_path / "k.zarr"
    old = make_kernels(1, 40)
    store.write_kernels(old, path)
    new = make_kernels(2, 40).chunk({"tau": 10})

    def explode(block, block_info=None):
        if block_info[0]["chunk-location"][-1] == 2:
            raise RuntimeError("simulated failure in the middle of the write")
        return block

    new = new.copy(data=dsa.map_blocks(explode, new.data, dtype=new.dtype))
    with pytest.raises(RuntimeError, match="simulated"):
        store.write_kernels(new, path, overwrite=True)
    xr.testing.assert_identical(store.open_kernels(path).load(), stored(old))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.zarr.lock", "k.zarr"]


def _set_version(path: Path, version: int) -> None:
    """Pretend ``path`` was written by another format version (all metadata copies)."""
    for meta_file in (path / "zarr.json", path / "kernels" / "zarr.json"):
        meta = json.loads(meta_file.read_text())
        if meta_file.parent == path:
            meta["attributes"][layout.ROOT_VERSION_ATTR] = version
            meta["consolidated_metadata"]["metadata"]["kernels"]["attributes"][
                "format_version"] = version
        else:
            meta["attributes"]["format_version"] = version
        meta_file.write_text(json.dumps(meta))


def test_newer_format_version_refused(tmp_path):
    path = tmp_path / "k.zarr"
    store.write_kernels(make_kernels(1), path)
    _set_version(path, FORMAT_VERSION + 1)
    newer = FORMAT_VERSION + 1
    with pytest.raises(store.KernelStoreError, match=rf"k\.zarr.*format version {newer}"):
        store.open_kernels(path)
    with pytest.raises(ValueError, match="upgrade xkernels"):
        store.describe(path)


def test_not_a_store_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.zarr"):
        store.open_kernels(tmp_path / "missing.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(store.KernelStoreError, match="empty.*no zarr.json"):
        store.open_kernels(tmp_path / "empty")
    (tmp_path / "file.zarr").write_text("hello")
    with pytest.raises(store.KernelStoreError, match="file.zarr.*regular file"):
        store.open_kernels(tmp_path / "file.zarr")
    xr.Dataset({"rates": ("time", np.arange(3.0))}).to_zarr(tmp_path / "other.zarr",
                                                            consolidated=False)
    with pytest.raises(store.KernelStoreError, match=r"other\.zarr.*no 'kernels'.*'rates'"):
        store.open_kernels(tmp_path / "other.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xr.Dataset({"kernels": ("tau", np.arange(3.0))}).to_zarr(tmp_path / "v2.zarr",
                                                                 zarr_format=2)
    with pytest.raises(store.KernelStoreError, match="v2.zarr.*Zarr v2"):
        store.open_kernels(tmp_path / "v2.zarr")
    xr.Dataset({"kernels": ("tau", np.arange(3.0))}).to_zarr(tmp_path / "nover.zarr",
                                                             consolidated=False)
    with pytest.raises(store.KernelStoreError, match="format_version"):
        store.open_kernels(tmp_path / "nover.zarr")


def test_a_killed_writers_leftovers_are_cleaned_by_the_next_writer_not_by_readers(tmp_path):
    path = tmp_path / "k.zarr"
    store.write_kernels(make_kernels(1), path)
    (publish.sibling(path, "tmp") / "kernels").mkdir(parents=True)  # half built
    publish.sibling(path, "old").mkdir()  # moved aside, the new one already in place
    before = sorted(p.name for p in tmp_path.iterdir())
    store.open_kernels(path).load()  # readers never write
    store.read_attrs(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    store.write_kernels(make_kernels(2), path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.zarr.lock", "k.zarr"]
    xr.testing.assert_identical(store.open_kernels(path).load(), stored(make_kernels(2)))


@pytest.mark.slow
def test_writers_take_turns(tmp_path):
    """A second writer waits for the process holding the lock, then writes."""
    path = tmp_path / "k.zarr"
    proc = _start_writer("hold", str(path))
    assert proc.stdout.readline().strip() == "holding"
    writer = subprocess.Popen([sys.executable, str(WRITER), "whole", str(path), "1", "11"],
                              stdout=subprocess.PIPE, text=True, env=subprocess_env(),
                              cwd=ROOT)
    assert writer.stdout.readline().strip() == "ready"
    with pytest.raises(subprocess.TimeoutExpired):
        writer.wait(timeout=3.0)  # waiting for the lock
    assert not path.exists()
    proc.kill()  # the operating system releases the lock of a dead process
    proc.wait()
    assert writer.stdout.readline().strip() == "done"
    assert writer.wait(timeout=60) == 0
    np.testing.assert_array_equal(store.open_kernels(path).values, make_kernels(1).values)


def test_old_store_moved_aside_is_restored(tmp_path):
    """A writer killed between its two renames leaves the old store aside: nothing is
    served at the path, and the next writer puts it back before anything else."""
    path = tmp_path / "k.zarr"
    store.write_kernels(make_kernels(1), path)
    os.rename(path, publish.sibling(path, "old"))
    with pytest.raises(FileNotFoundError):
        store.open_kernels(path)
    with pytest.raises(FileExistsError):  # restored first, so it exists again
        store.write_kernels(make_kernels(2), path)
    xr.testing.assert_identical(store.open_kernels(path).load(), stored(make_kernels(1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.zarr.lock", "k.zarr"]


# --------------------------------------------------------------------------- crash safety


def _start_writer(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(WRITER), *args], stdout=subprocess.PIPE,
                            text=True, env=subprocess_env(), cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _killed_writer(*args: str, kill_at: str) -> int:
    """Run the writer script until it kills itself at ``kill_at``; its return code."""
    env = dict(subprocess_env(), **{publish.KILL_ENV: kill_at})
    return subprocess.run([sys.executable, str(WRITER), *args], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL).returncode


N_TAU_WHOLE = 40_001  # 20 MB: two chunks of kernels


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["chunk:1", "publish:synced", "publish:moved-aside",
                                     "publish:renamed"])
def test_sigkill_during_whole_write(tmp_path, kill_at):
    """A writer replacing a store killed at each step: the path holds the complete old
    store, the complete new one or nothing (never a partial store); the next writer
    restores or cleans up, and a first write killed leaves no store."""
    path = tmp_path / "k.zarr"
    store.write_kernels(make_kernels(1, N_TAU_WHOLE), path)
    assert _killed_writer("whole", str(path), "2", str(N_TAU_WHOLE), kill_at=kill_at) == -9
    if kill_at == "publish:moved-aside":
        assert not path.exists()
    else:
        new = kill_at == "publish:renamed"
        np.testing.assert_array_equal(store.open_kernels(path).values,
                                      make_kernels(2 if new else 1, N_TAU_WHOLE).values)
    store.write_kernels(make_kernels(3), path, overwrite=True)  # cleans up first
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.zarr.lock", "k.zarr"]
    np.testing.assert_array_equal(store.open_kernels(path).values, make_kernels(3).values)
    fresh = tmp_path / "fresh.zarr"  # a first write: no store to move aside
    code = _killed_writer("whole", str(fresh), "2", str(N_TAU_WHOLE), kill_at=kill_at)
    if kill_at in ("chunk:1", "publish:synced"):
        assert code == -9 and not fresh.exists()
    else:  # these steps replace an existing store only
        assert code == 0
        np.testing.assert_array_equal(store.open_kernels(fresh).values,
                                      make_kernels(2, N_TAU_WHOLE).values)


# --------------------------------------------------------------------------- sweep stores


N_W, N_V, N_TAU = 4, 3, 2001
SMALL_CHUNKS = 64 * 2**10  # several tau chunks per point


def test_sweep_store_grows_point_by_point(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "TARGET_CHUNK_BYTES", SMALL_CHUNKS)
    path = tmp_path / "sweep.zarr"
    template = sweep_template(N_W, N_V, N_TAU)
    store.create_sweep_store(path, template)
    assert not store.completed_points(path).any()
    assert not (path / "kernels" / "c").exists()  # values not written
    with pytest.raises(store.KernelStoreError, match="incomplete: 0 of 12"):
        store.open_kernels(path)
    store.write_point(path, sweep_point(0, 0, N_TAU), index={"weight_E_E": 0, "Vrest": 0})
    first = file_stamps(path / "kernels")
    assert len(first) == 1 + -(-N_TAU // layout.tau_chunk(template))  # zarr.json + chunks
    store.write_point(path, sweep_point(2, 1, N_TAU), index={"weight_E_E": 2, "Vrest": 1})
    after = file_stamps(path / "kernels")
    assert {k: after[k] for k in first} == first  # existing chunks not rewritten
    mask = store.completed_points(path)
    assert mask.sum() == 2 and mask[0, 0] and mask[2, 1]
    partial = store.open_kernels(path, allow_incomplete=True)
    np.testing.assert_array_equal(partial[2, 1].values, sweep_point(2, 1, N_TAU).values)
    assert np.isnan(partial[1, 1].values).all()
    # creating again with the same template is a resume: nothing changes
    before = file_stamps(path)
    store.create_sweep_store(path, template)
    assert file_stamps(path) == before
    with pytest.raises(FileExistsError):
        store.create_sweep_store(path, template, exist_ok=False)


def _mismatching_templates():
    t = sweep_template(N_W, N_V, N_TAU)
    other_dt = sweep_template(N_W, N_V, N_TAU)
    other_dt = other_dt.assign_coords(tau=other_dt.tau * 2)
    other_dt.attrs["dt"] = 0.5
    probes = t.copy()
    probes.attrs["probes"] = json.dumps({"lfp": {"sigma": 0.5}})
    spec = with_spec(t, lambda d: d["populations"][0].update(size=800))
    return {
        "dt": other_dt,
        "tau": sweep_template(N_W, N_V, N_TAU + 2),
        "probes": probes,
        "spec": spec,
        "sweep values": t.assign_coords(weight_E_E=t.weight_E_E + 1.0),
        "sweep dims": sweep_template(N_W, N_V, N_TAU).isel(Vrest=[0, 1]),
    }


@pytest.mark.parametrize("case", list(_mismatching_templates()))
def test_mismatching_template_refused(tmp_path, case):
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    store.write_point(path, sweep_point(0, 0, N_TAU), index={"weight_E_E": 0, "Vrest": 0})
    before = file_stamps(path)
    with pytest.raises(ValueError, match="sweep.zarr"):
        store.create_sweep_store(path, _mismatching_templates()[case])
    assert file_stamps(path) == before


def _mismatching_points():
    good = sweep_point(1, 2, N_TAU)
    spec = with_spec(good, lambda d: d["connections"][0]["delay"]["params"].update(loc=2.5))
    # a leaf equal to a swept value is not explained by it: only the swept path is
    tau1 = with_spec(sweep_point(2, 0, N_TAU),
                     lambda d: d["connections"][0]["synapse"].update(tau1=WEIGHTS[2]))
    other = with_spec(sweep_point(2, 0, N_TAU),
                      lambda d: d["connections"][1]["synapse"].update(weight=WEIGHTS[2]))
    vrest = sweep_point(1, 2, N_TAU)
    vrest.attrs["spec"] = json.dumps({**json.loads(vrest.attrs["spec"]), "Vrest": -60.0})
    probes = good.copy()
    probes.attrs["probes"] = json.dumps({"lfp": {"sigma": 0.5}})
    t_x = good.copy()
    t_x.attrs["t_X"] = 300.0
    return {
        "spec not swept": (spec, {"weight_E_E": 1, "Vrest": 2}),
        "tau1 equal to the swept weight": (tau1, {"weight_E_E": 2, "Vrest": 0}),
        "other connection's weight": (other, {"weight_E_E": 2, "Vrest": 0}),
        "Vrest path inside spec": (vrest, {"weight_E_E": 1, "Vrest": 2}),
        "probes": (probes, {"weight_E_E": 1, "Vrest": 2}),
        "t_X": (t_x, {"weight_E_E": 1, "Vrest": 2}),
        "tau": (sweep_point(1, 2, N_TAU + 2), {"weight_E_E": 1, "Vrest": 2}),
        "channels": (good.isel(probe_channel=slice(1, None)), {"weight_E_E": 1, "Vrest": 2}),
        "wrong index": (good, {"weight_E_E": 2, "Vrest": 2}),
        "index out of range": (good, {"weight_E_E": 9, "Vrest": 2}),
        "index missing dim": (good, {"weight_E_E": 1}),
        "no sweep coord": (good.drop_vars("Vrest"), {"weight_E_E": 1, "Vrest": 2}),
        "sweep dims kept": (good.expand_dims(w=2), {"weight_E_E": 1, "Vrest": 2}),
    }


@pytest.mark.parametrize("case", list(_mismatching_points()))
def test_mismatching_point_refused_before_writing(tmp_path, case):
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    before = file_stamps(path)
    H, index = _mismatching_points()[case]
    with pytest.raises(ValueError):
        store.write_point(path, H, index=index)
    assert file_stamps(path) == before
    assert not store.completed_points(path).any()


def test_point_must_carry_the_stores_zipped_coordinate_values(tmp_path):
    # a zipped sweep: a second coordinate along weight_E_E; a point must hold its value
    path = tmp_path / "sweep.zarr"
    zipped = np.arange(N_W) + 0.5
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU).assign_coords(
        tau1_E_E=("weight_E_E", zipped)))
    index = {"weight_E_E": 1, "Vrest": 2}
    before = file_stamps(path)
    for bad in (sweep_point(1, 2, N_TAU).assign_coords(tau1_E_E=9.0),  # wrong value
                sweep_point(1, 2, N_TAU)):  # missing
        with pytest.raises(ValueError, match="tau1_E_E"):
            store.write_point(path, bad, index=index)
    assert file_stamps(path) == before
    store.write_point(path, sweep_point(1, 2, N_TAU).assign_coords(tau1_E_E=zipped[1]),
                      index=index)
    H = store.open_kernels(path, allow_incomplete=True)
    assert H.coords["tau1_E_E"].values.tolist() == zipped.tolist()
    assert store.completed_points(path).sum() == 1


def test_swept_spec_differences_are_accepted(tmp_path):
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    H = sweep_point(3, 0, N_TAU)
    assert json.loads(H.attrs["spec"])["connections"][0]["synapse"]["weight"] == 4e-4
    store.write_point(path, H, index={"weight_E_E": 3, "Vrest": 0})
    store.write_point(path, H, index={"weight_E_E": 3, "Vrest": 0})  # idempotent rewrite
    assert store.completed_points(path).sum() == 1


KILL_W, KILL_V, KILL_TAU = 3, 2, 16_001  # 8 MB per point, 8 chunks of 1 MiB
KILL_CHUNKS = 2**20
CHUNKS_PER_POINT = -(-KILL_TAU // (KILL_CHUNKS // (2 * 2 * 16 * 8)))


def _half_written(path: Path, mask: np.ndarray) -> list[tuple[int, int]]:
    """Points that are not done but have kernels chunks on disk."""
    return [(i, j) for i, j in np.argwhere(~mask).tolist()
            if (path / "kernels" / "c" / str(i) / str(j)).exists()]


@pytest.mark.slow
def test_sigkill_mid_point_then_resume(tmp_path, monkeypatch):
    """Kill the writer half way through a point (after some of its chunks reached the
    disk, before its done flag), three times; resuming completes the identical store."""
    monkeypatch.setattr(layout, "TARGET_CHUNK_BYTES", KILL_CHUNKS)
    assert CHUNKS_PER_POINT == 8
    reference = tmp_path / "reference.zarr"
    run_sweep(str(reference), KILL_W, KILL_V, KILL_TAU)
    path = tmp_path / "grown.zarr"
    for kill_after in (1, 3, 4):
        already = int(store.completed_points(path).sum()) if path.exists() else 0
        whole = kill_after - already  # points this run completes before the pause
        pause_at = whole * CHUNKS_PER_POINT + CHUNKS_PER_POINT // 2
        proc = _start_writer("sweep", str(path), str(KILL_W), str(KILL_V), str(KILL_TAU),
                             str(KILL_CHUNKS), str(pause_at))
        for _ in range(whole):
            assert proc.stdout.readline().startswith("point")
        assert proc.stdout.readline().strip() == "mid-point"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        mask = store.completed_points(path)
        assert mask.sum() == kill_after
        half = _half_written(path, mask)
        assert len(half) == 1, half  # the kill did land in the middle of a point
        i, j = half[0]
        written = list((path / "kernels" / "c" / str(i) / str(j)).rglob("*"))
        assert sum(p.is_file() for p in written) >= CHUNKS_PER_POINT // 2
        with pytest.raises(store.KernelStoreError, match="incomplete"):
            store.open_kernels(path)
        partial = store.open_kernels(path, allow_incomplete=True)
        for i, j in zip(*np.nonzero(mask), strict=True):
            np.testing.assert_array_equal(partial[i, j].values,
                                          sweep_point(i, j, KILL_TAU).values)
    run_sweep(str(path), KILL_W, KILL_V, KILL_TAU)
    assert store.completed_points(path).all()
    xr.testing.assert_identical(store.open_kernels(path).compute(),
                                store.open_kernels(reference).compute())
    # same files, no .partial left
    assert sorted(file_stamps(path)) == sorted(file_stamps(reference))


def test_half_written_point_is_not_done_and_is_rewritten(tmp_path, monkeypatch):
    """The state a writer killed between chunks leaves: some chunks, a stray .partial."""
    import zarr

    monkeypatch.setattr(layout, "TARGET_CHUNK_BYTES", SMALL_CHUNKS)
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    good = sweep_point(1, 1, N_TAU)
    kernels = zarr.open_group(path, mode="r+")["kernels"]
    kernels[1, 1, :, :, :, :300] = good.values[..., :300] + 1.0  # first chunks only
    stray = path / "kernels" / "c" / "1" / "1" / "0" / "0" / "0" / "5.0123abcd.partial"
    stray.write_bytes(b"half a chunk")
    assert not store.completed_points(path)[1, 1]
    with pytest.raises(store.KernelStoreError, match="incomplete"):
        store.open_kernels(path)
    store.write_point(path, good, index={"weight_E_E": 1, "Vrest": 1})
    assert store.completed_points(path)[1, 1] and not stray.exists()
    back = store.open_kernels(path, allow_incomplete=True)[1, 1]
    np.testing.assert_array_equal(back.values, good.values)


def _write_one(path: str, i: int, j: int) -> bool:
    """Worker task: compute (here: make) one point and write it into the store."""
    from _store_writer import sweep_point as point

    from xkernels.store import write_point

    write_point(path, point(i, j, N_TAU), index={"weight_E_E": i, "Vrest": j})
    return True


@pytest.mark.slow
def test_points_written_concurrently_by_dask_workers(tmp_path):
    from distributed import Client, LocalCluster

    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(sys.path.insert, 0, str(Path(__file__).parent))
        futures = [client.submit(_write_one, str(path), i, j, pure=False)
                   for i in range(N_W) for j in range(N_V)]
        assert all(client.gather(futures))
    assert store.completed_points(path).all()
    H = store.open_kernels(path)
    for i in range(N_W):
        for j in range(N_V):
            np.testing.assert_array_equal(H[i, j].values, sweep_point(i, j, N_TAU).values)


# --------------------------------------------------------------------------- describe


def test_describe_reports_key_facts(tmp_path):
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(N_W, N_V, N_TAU))
    store.write_point(path, sweep_point(0, 0, N_TAU), index={"weight_E_E": 0, "Vrest": 0})
    text = store.describe(path)
    for fact in ("E, I", "lfp: 15 channels [mV]", "cdm: 1 channel [nA µm]", "dt: 0.25 ms",
                 "tau: -250 .. 250 ms", "t_X: 200.0 ms", "g_eff: True",
                 "weight_E_E -> connections[E->E].synapse.weight: 0.0001, 0.0002, 0.0003, "
                 "0.0004", "Vrest -> Vrest: -70.0, -65.0, -60.0",
                 "completed points: 1 of 12", "content hash: 00000000",
                 "xkernels 0.1.0", "neuron 8.2.4", f"format version: {FORMAT_VERSION}",
                 "size on disk:"):
        assert fact in text, (fact, text)
    import xkernels

    assert xkernels.describe is store.describe
    assert xkernels.open_kernels is store.open_kernels

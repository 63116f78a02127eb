"""Growing sweep stores with new values, and block writes (real stores, real SIGKILLs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _grow_writer import GROWN_HASH, block, grown_template
from _store_writer import run_sweep, sweep_point, sweep_template, with_spec
from conftest import file_stamps, subprocess_env

import xkernels.store as store
from xkernels.store import layout
from xkernels.store.publish import KILL_ENV

ROOT = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).with_name("_grow_writer.py")
N_TAU = 2001
SMALL_CHUNKS = 64 * 2**10  # several tau chunks per point


def _chunk_files(path: Path) -> dict[str, tuple[int, int]]:
    """Chunk files of ``kernels`` and ``done`` (not their metadata)."""
    return {k: v for k, v in file_stamps(path).items()
            if k.startswith(("kernels/c/", "done/c/"))}


def _filled(path: Path, n_w: int, n_v: int) -> None:
    """Create (or resume) a synthetic sweep store and write its missing points."""
    run_sweep(str(path), n_w, n_v, N_TAU)


def _fill_missing(path: Path) -> None:
    done = store.completed_points(path)
    for i, j in np.argwhere(~done).tolist():
        store.write_point(path, sweep_point(i, j, N_TAU), index={"weight_E_E": i, "Vrest": j})


def _assert_same_store(path: Path, reference: Path) -> None:
    """Same kernels, coords and attrs, through xkernels and through plain xarray."""
    xr.testing.assert_identical(store.open_kernels(path).load(),
                                store.open_kernels(reference).load())
    xr.testing.assert_identical(xr.open_zarr(path).load(), xr.open_zarr(reference).load())
    assert store.read_attrs(path) == store.read_attrs(reference)


@pytest.fixture
def reference(tmp_path, monkeypatch):
    """A store of the whole 4 x 3 grid written in one go (with the grown hash)."""
    monkeypatch.setattr(layout, "TARGET_CHUNK_BYTES", SMALL_CHUNKS)
    path = tmp_path / "reference.zarr"
    store.create_sweep_store(path, grown_template(4, 3, N_TAU))
    for i in range(4):
        for j in range(3):
            store.write_point(path, sweep_point(i, j, N_TAU), index={"weight_E_E": i, "Vrest": j})
    return path


@pytest.mark.parametrize("start", [(2, 3), (2, 1), (1, 2)],
                         ids=["one dim", "two dims", "two dims from one point each"])
def test_grow_equals_fresh_store_and_keeps_chunks(tmp_path, reference, start):
    path = tmp_path / "grown.zarr"
    _filled(path, *start)
    before = _chunk_files(path)
    assert len(before) > start[0] * start[1]  # several chunk files per point
    added = store.extend_sweep_store(path, grown_template(4, 3, N_TAU))
    assert added == {d: n for d, n in (("weight_E_E", 4 - start[0]), ("Vrest", 3 - start[1]))
                     if n}
    assert sorted(p.name for p in tmp_path.iterdir() if "grown" in p.name) == [
        ".grown.zarr.lock", "grown.zarr"]  # no staging copy left
    after = _chunk_files(path)  # the chunks are the same files (hard links)
    assert {k: after[k] for k in before} == before and set(after) == set(before)
    done = store.completed_points(path)
    assert done.shape == (4, 3)
    assert done[:start[0], :start[1]].all() and done.sum() == start[0] * start[1]
    with pytest.raises(store.KernelStoreError, match="incomplete"):
        store.open_kernels(path)
    partial = store.open_kernels(path, allow_incomplete=True)
    assert np.isnan(partial[3, 2].values).all()
    assert partial.attrs["content_hash"] == GROWN_HASH
    _fill_missing(path)
    assert {k: v for k, v in _chunk_files(path).items() if k in before} == before
    _assert_same_store(path, reference)
    # growing again to the same grid is a resume: nothing changes
    same = file_stamps(path)
    assert store.extend_sweep_store(path, grown_template(4, 3, N_TAU)) == {}
    assert file_stamps(path) == same


def test_grow_twice_with_unaligned_coordinate_chunks(tmp_path, reference):
    path = tmp_path / "grown.zarr"
    _filled(path, 2, 3)
    store.extend_sweep_store(path, sweep_template(3, 3, N_TAU))
    _fill_missing(path)
    store.extend_sweep_store(path, grown_template(4, 3, N_TAU))
    _fill_missing(path)
    _assert_same_store(path, reference)


def _refused_templates() -> dict[str, tuple[xr.DataArray, str]]:
    big = grown_template(4, 3, N_TAU)
    spec = with_spec(big, lambda d: d["populations"][0].update(size=800))
    dt = big.assign_coords(tau=big.tau * 2)
    dt.attrs["dt"] = 0.5
    probes = big.copy()
    probes.attrs["probes"] = json.dumps({"lfp": {"class": "lfpykit.PointSourcePotential",
                                                 "params": {"sigma": 0.5}}})
    return {
        "inserted before": (big.isel(weight_E_E=[2, 0, 1, 3]),
                            r"dim 'weight_E_E'.*stored values \[0.0001, 0.0002\].*requested "
                            r"values \[0.0003, 0.0001, 0.0002, 0.0004\].*appended after"),
        "inserted between": (big.isel(weight_E_E=[0, 2, 1]),
                             r"dim 'weight_E_E'.*\[0.0001, 0.0003"),
        "shrunk": (big.isel(Vrest=[0, 1]), r"dim 'Vrest'.*stored values \[-70.0, -65.0, -60.0\]"),
        "changed value": (big.assign_coords(weight_E_E=[1e-4, 2.5e-4, 3e-4, 4e-4]),
                          "weight_E_E"),
        "spec": (spec, "spec"),
        "dt and tau": (dt, "tau"),
        "probes": (probes, "probes"),
        "sweep dims": (big.isel(Vrest=0), "dims"),
    }


@pytest.mark.parametrize("case", list(_refused_templates()))
def test_grow_refused_with_nothing_written(tmp_path, case):
    path = tmp_path / "sweep.zarr"
    _filled(path, 2, 3)
    before = file_stamps(path)
    template, match = _refused_templates()[case]
    with pytest.raises(ValueError, match=match):
        store.extend_sweep_store(path, template)
    assert file_stamps(path) == before


GROW_KILL_POINTS = ["grow:built", "publish:synced", "publish:moved-aside", "publish:renamed"]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the store and its siblings (name -> inode, mtime)."""
    out = {}
    for path in root.iterdir():
        out.update({f"{path.name}/{k}": v for k, v in file_stamps(path).items()}
                   if path.is_dir() else {path.name: (path.stat().st_ino, 0)})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", GROW_KILL_POINTS)
def test_sigkill_at_every_step_of_growth(tmp_path, reference, kill_at):
    """A writer killed at each step of growing leaves the old grid or the new one (or,
    between its two renames, nothing at the path) -- never a mix; readers change
    nothing; the next writer restores or cleans up and growing completes."""
    folder = tmp_path / "killed"
    folder.mkdir()
    path = folder / "s.zarr"
    _filled(path, 2, 1)
    before = _chunk_files(path)
    proc = subprocess.run([sys.executable, str(WRITER), "grow", str(path), "4", "3",
                           str(N_TAU)], env={**subprocess_env(), KILL_ENV: kill_at}, cwd=ROOT)
    assert proc.returncode == -9
    tree = _tree(folder)
    if kill_at == "publish:moved-aside":
        assert not path.exists()
        with pytest.raises(FileNotFoundError):
            store.completed_points(path)
    else:
        grown = kill_at == "publish:renamed"
        plain = xr.open_zarr(path)  # a plain reader sees one whole grid
        assert plain.sizes["weight_E_E"] == (4 if grown else 2)
        assert plain["done"].shape == plain["kernels"].shape[:2]
        assert plain["done"].values[:2, :1].all() and plain["done"].values.sum() == 2
        assert store.completed_points(path).shape == ((4, 3) if grown else (2, 1))
        store.open_kernels(path, allow_incomplete=True).load()
    assert _tree(folder) == tree  # readers never write
    assert store.extend_sweep_store(path, grown_template(4, 3, N_TAU)) == (
        {} if kill_at == "publish:renamed" else {"weight_E_E": 2, "Vrest": 2})
    assert sorted(p.name for p in folder.iterdir()) == [".s.zarr.lock", "s.zarr"]
    done = store.completed_points(path)
    assert done.shape == (4, 3) and done.sum() == 2 and done[:2, :1].all()
    assert _chunk_files(path) == before
    _fill_missing(path)
    _assert_same_store(path, reference)


# --------------------------------------------------------------------------- write_points


def test_write_points_equals_point_by_point(tmp_path, reference):
    path = tmp_path / "blocks.zarr"
    store.create_sweep_store(path, grown_template(4, 3, N_TAU))
    H = block(4, 3, N_TAU)
    H.attrs["content_hash"] = GROWN_HASH
    store.write_points(path, H.isel(weight_E_E=[0, 2], Vrest=[1, 2]),
                       index={"weight_E_E": [0, 2], "Vrest": [1, 2]})
    done = store.completed_points(path)
    assert done.sum() == 4 and done[np.ix_([0, 2], [1, 2])].all()
    store.write_points(path, H.isel(weight_E_E=[3]), index={"weight_E_E": 3,
                                                            "Vrest": [0, 1, 2]})
    store.write_points(path, H, index={"weight_E_E": [0, 1, 2, 3], "Vrest": [0, 1, 2]})
    assert store.completed_points(path).all()
    _assert_same_store(path, reference)


def _bad_blocks() -> dict[str, tuple[xr.DataArray, dict]]:
    H = block(2, 2, N_TAU)
    spec = with_spec(H, lambda d: d["connections"][0]["delay"]["params"].update(loc=2.5))
    return {
        "coords at index": (H, {"weight_E_E": [1, 0], "Vrest": [0, 1]}),
        "shape vs index": (H, {"weight_E_E": [0, 1, 2], "Vrest": [0, 1]}),
        "repeated index": (H, {"weight_E_E": [0, 0], "Vrest": [0, 1]}),
        "out of range": (H, {"weight_E_E": [0, 9], "Vrest": [0, 1]}),
        "missing dim": (H, {"weight_E_E": [0, 1]}),
        "dims order": (H.transpose("Vrest", ...), {"weight_E_E": [0, 1], "Vrest": [0, 1]}),
        "spec not swept": (spec, {"weight_E_E": [0, 1], "Vrest": [0, 1]}),
        "tau": (block(2, 2, N_TAU + 2), {"weight_E_E": [0, 1], "Vrest": [0, 1]}),
    }


@pytest.mark.parametrize("case", list(_bad_blocks()))
def test_bad_block_refused_before_writing(tmp_path, case):
    path = tmp_path / "sweep.zarr"
    store.create_sweep_store(path, sweep_template(4, 3, N_TAU))
    before = file_stamps(path)
    H, index = _bad_blocks()[case]
    with pytest.raises(ValueError):
        store.write_points(path, H, index=index)
    assert file_stamps(path) == before


KILL_W, KILL_V, KILL_TAU = 3, 2, 16_001  # 8 MB per point, 8 chunks of 1 MiB
KILL_CHUNKS = 2**20


@pytest.mark.slow
def test_sigkill_during_block_write_never_marks_unwritten_points(tmp_path, monkeypatch):
    """Kill a block write half way through its data, after all its data, and after its
    first done flag: points are marked done only with all their data."""
    monkeypatch.setattr(layout, "TARGET_CHUNK_BYTES", KILL_CHUNKS)
    expected = block(KILL_W, KILL_V, KILL_TAU).values
    n_points = KILL_W * KILL_V
    n_chunks = n_points * 8
    for attempt, (pause_at, array) in enumerate(((n_chunks // 2, "kernels"),
                                                 (n_chunks, "kernels"), (1, "done"))):
        path = tmp_path / f"block{attempt}.zarr"
        store.create_sweep_store(path, sweep_template(KILL_W, KILL_V, KILL_TAU))
        proc = subprocess.Popen([sys.executable, str(WRITER), "block", str(path), str(KILL_W),
                                 str(KILL_V), str(KILL_TAU), str(KILL_CHUNKS), str(pause_at),
                                 array], stdout=subprocess.PIPE, text=True,
                                env=subprocess_env(), cwd=ROOT)
        assert proc.stdout.readline().strip() == "ready"
        assert proc.stdout.readline().strip() == "mid-point"
        proc.kill()
        proc.wait()
        done = store.completed_points(path)
        written = sum(p.is_file() for p in (path / "kernels" / "c").rglob("*"))
        if array == "kernels":  # killed before any flag: nothing is done
            assert done.sum() == 0 and pause_at <= written <= n_chunks
        else:  # killed after the first flag: every data chunk was written before
            assert 1 <= done.sum() <= n_points and written == n_chunks
        values = store.open_kernels(path, allow_incomplete=True).values
        for i, j in np.argwhere(done).tolist():
            np.testing.assert_array_equal(values[i, j], expected[i, j])
        store.write_points(path, block(KILL_W, KILL_V, KILL_TAU),
                           index={"weight_E_E": [0, 1, 2], "Vrest": [0, 1]})
        np.testing.assert_array_equal(store.open_kernels(path).values, expected)
        assert not list(path.rglob("*.partial"))

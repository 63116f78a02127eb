"""Two real processes growing / resuming the same sweep store take turns (file lock)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import subprocess_env

import xkernels.store as store

pytestmark = pytest.mark.slow  # real processes taking turns

SCRIPT = textwrap.dedent("""
    import logging, os, sys, time
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(name)s: %(message)s", force=True)
    import xkernels
    from xkernels.sweeps import driver

    path, n, role, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    plan_points = driver.plan_points

    def slow_plan_points(*args, **kwargs):  # inside the locked part of the sweep
        print("computing", flush=True)
        if role == "first":  # hold the store until the second process is about to sweep
            deadline = time.time() + 120
            while not os.path.exists(marker) and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(2.0)
        return plan_points(*args, **kwargs)

    driver.plan_points = slow_plan_points
    if role == "second":
        open(marker, "w").close()
    grid = {"connections[E->E].synapse.weight": [1e-4, 2e-4, 3e-4][:n]}
    xkernels.sweep(xkernels.Network.example(), grid, {"cdm": xkernels.CurrentDipoleMomentZ()},
                   tau=1.0, g_eff=False, store=path, client="sync", method="simulate")
    print("finished", flush=True)
""")


def _start(path, n: int, role: str) -> subprocess.Popen:
    marker = path.parent / "second-is-sweeping"
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), str(n), role,
                             str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=subprocess_env())


def test_two_processes_growing_the_same_store_take_turns(tmp_path):
    path = tmp_path / "sweep.zarr"
    first = _start(path, 2, "first")  # holds the store until the second one sweeps
    for line in first.stdout:
        if line.strip() == "computing":
            break
    else:
        raise AssertionError("the first sweep never started computing")
    second = _start(path, 3, "second")  # the same sweep, one more value: grows the store
    out_second, _ = second.communicate(timeout=300)
    out_first, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, out_first + out_second
    assert "computing 2 of 2 points" in out_first
    # the second waited for the first, then computed only the point it added
    assert "is being written by another process; waiting" in out_second
    assert "computing 1 of 3 points" in out_second, out_second
    assert store.completed_points(path).tolist() == [True, True, True]
    assert (tmp_path / ".sweep.zarr.lock").exists()  # never removed (see publish)


def test_a_second_resume_after_the_first_computes_nothing(tmp_path):
    path = tmp_path / "sweep.zarr"
    first = _start(path, 2, "first")
    for line in first.stdout:
        if line.strip() == "computing":
            break
    second = _start(path, 2, "second")
    out_second, _ = second.communicate(timeout=300)
    out_first, _ = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, out_first + out_second
    assert "waiting" in out_second
    assert "all 2 points are already in the store" in out_second, out_second
    assert "computing" not in out_second

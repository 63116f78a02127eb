"""Beyond one machine: the dask-parallel entry points on a separately started cluster.

A ``dask scheduler`` process and a ``dask worker`` process with two worker processes
(nanny-managed) are started as subprocesses on localhost -- the way a cluster of
machines is started, not an in-process LocalCluster -- and sweeps, a convolution to
Zarr, a hybrid run and validate are given its address or a Client connected to it;
every result equals the run in this process.  The fixture stops the processes (their
process groups, by id) even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.hybrid import correlated_poisson, simulate, validate
from xkernels.runtime import compute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _hybrid_writer import case  # noqa: E402


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), PYNEST_QUIET="1")
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """Address of a scheduler process with one worker process running two single-threaded
    worker processes; all stopped at the end, even on failure."""
    from dask.distributed import Client

    where = tmp_path_factory.mktemp("cluster")
    file = where / "scheduler.json"
    procs = [_start(["scheduler", "--scheduler-file", str(file), "--port", "0",
                     "--no-dashboard"], where / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not file.exists():
            assert procs[0].poll() is None, (where / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole before the address is used
        address = json.loads(file.read_text())["address"]
        procs.append(_start(["worker", address, "--nworkers", "2", "--nthreads", "1",
                             "--no-dashboard", "--local-directory", str(where)],
                            where / "worker.log"))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
        assert not set(pids.values()) & {os.getpid()}, "workers run in other processes"
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.mark.slow
def test_sweep_into_a_store_on_the_cluster(scheduler, tmp_path):
    net = xkernels.Network.example()
    grid = {"connections[E->E].synapse.weight": [6e-5, 2.4e-4]}
    probes = {"cdm": xkernels.CurrentDipoleMomentZ()}
    kw = dict(tau=5.0, g_eff=False, progress=False, method="simulate")
    here = xkernels.sweep(net, grid, probes, client="sync", **kw)
    there = xkernels.sweep(net, grid, probes, client=scheduler, store=tmp_path / "s.zarr",
                           **kw)
    assert xkernels.completed_points(tmp_path / "s.zarr").all()
    np.testing.assert_array_equal(there.values, here.values)
    assert np.abs(here.values).max() > 0


@pytest.mark.slow
def test_convolve_to_zarr_on_the_cluster(scheduler, tmp_path):
    from dask.distributed import Client

    rng = np.random.default_rng(0)
    H = xkernels.compute_kernels(xkernels.Network.example(),
                                 {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.0)
    rates = xr.DataArray(rng.poisson(2.0, (2, 40_000)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": 2.0 ** -4 * np.arange(40_000)})
    signals = xkernels.convolve(rates, H, time_chunk=4096)
    xkernels.write_signals(signals, tmp_path / "here.zarr", client="sync")
    xkernels.write_signals(signals, tmp_path / "address.zarr", client=scheduler)
    with Client(scheduler) as client:
        xkernels.write_signals(signals, tmp_path / "client.zarr", client=client)
        ran = client.run(lambda dask_worker: len(dask_worker.data) >= 0)
        assert len(ran) == 2 and client.status == "running"  # a given Client stays open
    here = xkernels.open_signals(tmp_path / "here.zarr").values
    assert np.abs(here).max() > 0
    for name in ("address.zarr", "client.zarr"):
        np.testing.assert_array_equal(xkernels.open_signals(tmp_path / name).values, here)
    total = compute(signals.sum(), client=scheduler)[0]
    np.testing.assert_allclose(float(total), here.sum(), rtol=1e-12)
    # the command line: xkernels convolve ... --scheduler ADDRESS
    from xkernels.app.cli import main

    xkernels.write_rates(rates, tmp_path / "rates.zarr")
    xkernels.write_kernels(H, tmp_path / "k.zarr")
    assert main(["convolve", str(tmp_path / "rates.zarr"), str(tmp_path / "k.zarr"),
                 "-o", str(tmp_path / "cli.zarr"), "-q", "--scheduler", scheduler]) == 0
    np.testing.assert_allclose(xkernels.open_signals(tmp_path / "cli.zarr").values, here,
                               rtol=0, atol=1e-12 * np.abs(here).max())


@pytest.mark.slow
def test_hybrid_and_validate_on_the_cluster(scheduler, tmp_path):
    net, _, probes = case()
    spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                {"E": 10.0, "I": 20.0}, t_stop=100.0, seed=7)
    kw = dict(t_stop=100.0, n_cells={"E": 4, "I": 2}, batch_size=1, progress=False)
    here = simulate(net, spikes, probes, client="sync", **kw)
    there = simulate(net, spikes, probes, client=scheduler, store=tmp_path / "gt.zarr", **kw)
    np.testing.assert_array_equal(there.values, here.values)
    np.testing.assert_array_equal(xr.open_zarr(tmp_path / "gt.zarr")["ground_truth"].values,
                                  here.values)
    vkw = dict(t_stop=100.0, transient=20.0, n_cells={"E": 4, "I": 2}, progress=False,
               tau=10.0, averaging="reference", operating_point="rest")
    v_here = validate(net, spikes, probes, client="sync", **vkw)
    v_there = validate(net, spikes, probes, client=scheduler, **vkw)
    xr.testing.assert_identical(v_there.drop_attrs(), v_here.drop_attrs())


def test_bad_client_is_refused_before_writing(tmp_path):
    rates = xr.DataArray(np.ones((1, 10)), dims=("X", "time"),
                         coords={"X": ["E"], "time": np.arange(10.0)})
    with pytest.raises(TypeError, match="client must be None, 'sync'"):
        xkernels.write_rates(rates, tmp_path / "r.zarr", client=3.5)
    assert not (tmp_path / "r.zarr").exists()


def _doc_block(page: Path, after: str, lang: str) -> str:
    """The first ```lang block after the line ``after`` in a docs page."""
    text = page.read_text()
    start = text.index(f"```{lang}\n", text.index(after)) + len(lang) + 4
    return text[start:text.index("```", start)]


@pytest.mark.filterwarnings("ignore::UserWarning")  # dask-jobqueue: port 8787 in use
def test_slurm_config_of_the_docs_gives_its_job_script():
    """The SLURMCluster block of docs/user-guide/cluster.md runs, and its job script is
    the one the page shows (up to the scheduler's address)."""
    import re

    page = ROOT / "docs" / "user-guide" / "cluster.md"
    code = _doc_block(page, "## SLURM", "python").replace("print(cluster.job_script())", "")
    namespace: dict = {}
    sigint = signal.getsignal(signal.SIGINT)  # dask-jobqueue replaces it (sys.exit)
    try:
        exec(code, namespace)  # noqa: S102 - the documented configuration, as a user runs it
        cluster = namespace["cluster"]
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    finally:
        signal.signal(signal.SIGINT, sigint)
    shown = _doc_block(page, "which prints", "text")

    def normal(s):
        return re.sub(r"tcp://[0-9.]+:\d+", "tcp://ADDRESS", s).strip()

    assert normal(script) == normal(shown)
    assert "#SBATCH --mem=15G" in script and "--nworkers 16" in script
    assert "--nthreads 1" in script and "--memory-limit 0.93GiB" in script

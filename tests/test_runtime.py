"""The one runtime: here, a local cluster it starts, the user's cluster (a Client or the
address of a scheduler started separately), results in order, shared objects."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from conftest import subprocess_env

from xkernels.runtime import Runner, check_client, cores


def _where(shared, i):
    """A task: its index, the pid of the process running it, the shared object's id."""
    time.sleep(0.05 * (3 - i) if i < 3 else 0)  # the first tasks finish last
    return i, os.getpid(), shared["tag"]


def test_sync_runs_here_in_order():
    with Runner("sync") as runner:
        assert runner.inline() and runner.parallelism() == 1
        got = list(runner.imap(_where, [(i,) for i in range(4)], shared=[{"tag": "t"}]))
    assert got == [(i, os.getpid(), "t") for i in range(4)]


@pytest.mark.slow
def test_default_runs_small_work_here_then_starts_a_cluster_of_cores():
    with Runner() as runner:
        assert dict(runner.imap_unordered(abs, [(-2,)], seconds=0.1)) == {0: 2}
        assert runner._client is None  # nothing started for small work
        got = list(runner.imap(_where, [(i,) for i in range(4)], shared=[{"tag": "s"}]))
        assert [g[0] for g in got] == [0, 1, 2, 3] and {g[2] for g in got} == {"s"}
        assert os.getpid() not in {g[1] for g in got}
        workers = runner.client().scheduler_info()["workers"].values()
        assert len(workers) == cores() and all(w["nthreads"] == 1 for w in workers)
        cluster = runner._owned[1]
    assert cluster.status.name == "closed"


@pytest.mark.slow
def test_a_number_of_workers_starts_that_many_processes():
    with Runner(2) as runner:
        assert not runner.inline(0.0)  # asked for workers: never run here
        assert runner.parallelism() == 2
        pids = {pid for _, pid, _ in runner.imap(_where, [(i,) for i in range(4)],
                                                 shared=[{"tag": 1}])}
        assert os.getpid() not in pids


@pytest.mark.slow
def test_a_given_local_cluster_is_used_and_left_open():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with Runner(client) as runner:
            assert runner.client() is client and runner.parallelism() == 2
            got = dict(runner.imap_unordered(_where, [(i,) for i in range(4)],
                                             shared=[{"tag": "c"}]))
            assert sorted(got) == [0, 1, 2, 3]
            assert os.getpid() not in {pid for _, pid, _ in got.values()}
        assert client.status == "running"
        assert client.run(lambda: 1)  # the workers live on


@pytest.fixture
def scheduler(tmp_path):
    """A scheduler and one worker started as separate processes (``dask`` CLI)."""
    info = tmp_path / "scheduler.json"
    env = subprocess_env()  # the worker imports this module (its tasks)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env["PYTHONPATH"]])
    procs = [subprocess.Popen(["dask", "scheduler", "--scheduler-file", str(info),
                               "--no-dashboard", "--port", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.1)
        procs.append(subprocess.Popen(["dask", "worker", "--scheduler-file", str(info),
                                       "--nthreads", "1", "--no-dashboard"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield json.loads(info.read_text())["address"], procs[1].pid
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=60)


@pytest.mark.slow
def test_the_address_of_a_separately_started_scheduler(scheduler):
    address, worker_pid = scheduler
    with Runner(address) as runner:
        client = runner.client()
        client.wait_for_workers(1, timeout=60)
        got = list(runner.imap(_where, [(i,) for i in range(3)], shared=[{"tag": "a"}]))
        assert [g[0] for g in got] == [0, 1, 2] and {g[2] for g in got} == {"a"}
        assert os.getpid() not in {g[1] for g in got}
    assert client.status == "closed"  # the runner's connection, not the scheduler
    with Runner(address) as again:  # the scheduler and its worker are still there
        assert list(again.imap(abs, [(-3,)])) == [3]


def test_bad_clients_refused():
    with pytest.raises(TypeError, match="client must be None, 'sync', a number of worker "
                                        "processes, a scheduler address or a "
                                        "dask.distributed.Client, got list"):
        check_client(["localhost"])
    with pytest.raises(ValueError, match="must be >= 1, got 0"):
        Runner(0)
    with pytest.raises(TypeError, match="got bool"):
        Runner(True)

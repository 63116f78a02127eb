"""Peak memory of one dask worker process per job kind: what a cluster job must request.

    nice -n 10 python benchmarks/cluster_memory.py          # ~2-3 min on 2 cores

Starts ``dask scheduler`` and ``dask worker --nworkers 1 --nthreads 1`` as separate
processes on localhost (as on a cluster), and for each job kind restarts the worker
(a fresh process), records its resident memory before the job and its peak
(``getrusage(RUSAGE_SELF).ru_maxrss``) after it:

sweep point
    ``xkernels.sweep`` of the README network (2 points, ``method="simulate"``), LFP at
    13 depths + CDM, tau = 50 ms, dt = 1/16 ms: one kernel computation per task.
microcircuit point
    The same for the Potjans & Diesmann microcircuit (8 populations, 9 presynaptic
    with the thalamus), LFP at 16 depths + CDM, tau = 50 ms (2 points of ``t_X``).
hybrid cell batch
    ``xkernels.hybrid.simulate`` of the README network (cells subsampled to 8 E + 2 I,
    batch_size=4), 1 s at dt = 1/16 ms, 13 LFP contacts + CDM: one batch of cells per
    task, its per-cell signals (14 channels x 16 000 samples) summed in the task.
convolve block
    ``write_signals`` of 60 s of rates (2 populations, dt = 1/16 ms, 960 000 bins)
    convolved with 2 x 2 kernels of 14 channels x 1601 taps, default chunking (about
    32 MB of output per block), written to Zarr by the worker.

Prints one line per kind: the worker's memory before (imports done), its peak, and
the difference; use the peak (plus a margin) as the per-worker memory of a job.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's xkernels, here and (PYTHONPATH) in workers


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm(module: str) -> float:
    """Import ``module`` (what the job's tasks import) and return the resident MB."""
    import importlib

    importlib.import_module(module)
    return _rss_mb()


def main() -> None:
    from dask.distributed import Client

    where = Path(tempfile.mkdtemp(prefix="xk_mem_"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    file = where / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--scheduler-file",
                               str(file), "--port", "0", "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        while not file.exists():
            time.sleep(0.1)
        time.sleep(0.3)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address,
                                       "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                       "--local-directory", str(where)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        client = Client(address)
        client.wait_for_workers(1)
        try:
            measure(client, where)
        finally:
            client.close()
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def measure(client, where: Path) -> None:
    """Run each job kind on a fresh worker; print its memory before and at its peak."""
    import lfpykit
    import xarray as xr

    import xkernels
    from xkernels.hybrid import correlated_poisson, simulate

    net = xkernels.Network.example()
    z = np.linspace(1000.0, -200.0, 13)
    probes = {"lfp": xkernels.GaussCylinderPotential(z=z, sigma=0.3, R=150.0,
                                                     sigma_z=75.0),
              "cdm": xkernels.CurrentDipoleMomentZ()}
    contacts = {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.full(13, 10.0),
                                                    y=np.zeros(13), z=z, sigma=0.3),
                "cdm": xkernels.CurrentDipoleMomentZ()}

    def sweep_point():
        xkernels.sweep(net, {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]}, probes,
                       tau=50.0, client=client, progress=False, method="simulate",
                       store=where / "sweep.zarr")

    def microcircuit_point():
        mc = xkernels.Network.microcircuit()
        lfp = xkernels.GaussCylinderPotential(z=np.linspace(0.0, -1500.0, 16), R=564.0,
                                              sigma_z=100.0)
        xkernels.sweep(mc, {"t_X": [200.0, 250.0]},
                       {"lfp": lfp, "cdm": xkernels.CurrentDipoleMomentZ()}, tau=50.0,
                       g_eff=False, client=client, progress=False, method="simulate",
                       store=where / "mc_sweep.zarr")

    def hybrid_batch():
        spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                    {"E": 2.0, "I": 8.0}, t_stop=1000.0, seed=1)
        simulate(net, spikes, contacts, t_stop=1000.0, n_cells={"E": 8, "I": 2},
                 batch_size=4, client=client, progress=False, store=where / "gt.zarr")

    def convolve_block():
        H = xkernels.compute_kernels(net, probes, tau=50.0)
        rng = np.random.default_rng(0)
        n = 960_000
        rates = xr.DataArray(rng.poisson(5.0, (2, n)).astype(float), dims=("X", "time"),
                             coords={"X": ["E", "I"], "time": 2.0 ** -4 * np.arange(n)})
        xkernels.write_rates(rates, where / "rates.zarr")
        signals = xkernels.convolve(xkernels.open_rates(where / "rates.zarr"), H)
        xkernels.write_signals(signals, where / "signals.zarr", client=client)

    print(f"{'job':<19} {'before MB':>10} {'peak MB':>8} {'job MB':>7}")
    for name, job, module in (("sweep point", sweep_point, "xkernels.engine.cells"),
                              ("microcircuit point", microcircuit_point,
                               "xkernels.engine.cells"),
                              ("hybrid cell batch", hybrid_batch, "xkernels.engine.cells"),
                              ("convolve block", convolve_block, "xkernels.signals")):
        client.restart()
        before = max(client.run(_warm, module).values())
        job()
        peak = max(client.run(_peak_mb).values())
        print(f"{name:<19} {before:>10.0f} {peak:>8.0f} {peak - before:>7.0f}",
              flush=True)


if __name__ == "__main__":
    main()

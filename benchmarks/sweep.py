"""Benchmark: parameter sweeps of the LFPykernels README network (2x2, E/I).

Measured in one run, on this machine:

1. the reference: lfpykernels 0.2.0 ``KernelApprox.get_kernel`` on a few points
   (seconds per kernel, one kernel = one X -> Y pair);
2. full simulations: ``xkernels.sweep(method="simulate")`` over weights x delays of
   E -> E with g_eff on, on a local cluster of one worker process per core
   (kernels per second), and in this process alone (``client="sync"``);
3. the superposition fast path: a 1000-point sweep over weight x placement x delay
   of E -> E (10 x 10 x 10, g_eff off, tau = 50 ms), on the default local cluster
   (its start-up included) and on an already running client; a few points are
   checked against ``compute_kernels`` (max error relative to max |H|).

    python benchmarks/sweep.py [--points 10] [--full 16]
    python benchmarks/sweep.py --store [--points 10]

``--store`` measures only stored fast-path sweeps: the same 1000-point sweep in
memory, with ``store=`` (points written in blocks by ``write_points``), the same
points written one by one with ``write_point`` (the previous way), a rerun on the
complete store, and growing the store by one value along the first dim.

Timings are noisy on a shared 2-core machine: run it a couple of times.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
W_EE = "connections[E->E].synapse.weight"
DELAY_EE = "connections[E->E].delay.params.loc"
PLACE_EE = "connections[E->E].placement.densities[0].params.loc"


def probes():
    import xkernels

    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def reference_seconds_per_kernel(n: int) -> float:
    """lfpykernels 0.2.0 get_kernel on ``n`` weights of E -> E (X = E, Y = E)."""
    import lfpykernels
    from conftest import readme_arguments

    times = []
    for weight in np.linspace(1e-4, 3e-4, n):
        args = readme_arguments("E")
        args["synapseParameters"][0]["weight"] = weight
        approx = lfpykernels.KernelApprox(**args)
        probe_list = [lfpykernels.GaussCylinderPotential(cell=None, **GCP),
                      lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
        start = time.perf_counter()
        approx.get_kernel(probe_list, X="E", dt=2 ** -4, tau=50.0, t_X=500.0, Vrest=-65.0,
                          g_eff=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def timed(fun):
    start = time.perf_counter()
    result = fun()
    return time.perf_counter() - start, result


def store_main(n: int) -> None:
    """Stored fast-path sweeps against the in-memory sweep, measured in this run."""
    import tempfile

    import xkernels
    from xkernels import store
    from xkernels.sweeps.driver import sweep

    net = xkernels.Network.example()
    xkernels.compute_kernels(net, probes(), tau=5.0)  # warm-up (mechanisms, templates)
    grid = {W_EE: list(np.linspace(0.5e-4, 3e-4, n)),
            PLACE_EE: list(np.linspace(-100.0, 400.0, n)),
            DELAY_EE: list(np.linspace(0.5, 3.0, n))}
    fast = {"g_eff": False, "method": "superposition", "progress": False, "client": "sync",
            "averaging": "reference"}  # the setting of the published figures
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
        t_mem, H = timed(lambda: sweep(net, grid, probes(), **fast))
        path = Path(tmp) / "blocks.zarr"
        t_store, H_store = timed(lambda: sweep(net, grid, probes(), store=path, **fast))
        assert np.array_equal(H_store.values, H.values)
        t_again, _ = timed(lambda: sweep(net, grid, probes(), store=path, **fast))
        one = Path(tmp) / "points.zarr"
        dims = H.dims[:3]

        def point_by_point():
            store.create_sweep_store(one, H)
            for index in np.ndindex(*H.shape[:3]):
                where = dict(zip(dims, index))
                store.write_point(one, H.isel(where), index=where)

        t_points, _ = timed(point_by_point)
        assert np.array_equal(store.open_kernels(one).values, H.values)
        bigger = {**grid, W_EE: [*grid[W_EE], 3.5e-4]}
        t_grow, H_grown = timed(lambda: sweep(net, bigger, probes(), store=path, **fast))
        assert np.array_equal(H_grown.values[:n], H.values)
    points = n ** 3
    print(f"{points}-point fast-path sweep, client='sync' (noisy shared 2-core machine):")
    print(f"  in memory                      : {t_mem:6.2f} s")
    print(f"  store=, block writes           : {t_store:6.2f} s  "
          f"(store cost {1e3 * (t_store - t_mem) / points:5.2f} ms/point)")
    print(f"  write_point one by one (before): {t_points:6.2f} s  "
          f"({1e3 * t_points / points:5.2f} ms/point, writing only) -> block writes "
          f"are {t_points / max(t_store - t_mem, 1e-9):4.1f} x faster")
    print(f"  rerun on the complete store    : {t_again:6.2f} s")
    print(f"  grow by 1 weight ({n * n} new points): {t_grow:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10, help="values per fast-path param")
    parser.add_argument("--full", type=int, default=48, help="points of the full sweep")
    parser.add_argument("--reference", type=int, default=3, help="reference kernels")
    parser.add_argument("--store", action="store_true",
                        help="measure only stored fast-path sweeps")
    args = parser.parse_args()
    if args.store:
        store_main(args.points)
        return
    from dask.distributed import Client, LocalCluster

    import xkernels
    from xkernels.sweeps.driver import sweep

    net = xkernels.Network.example()
    xkernels.compute_kernels(net, probes(), tau=5.0)  # warm-up (mechanisms, templates)

    t_ref = reference_seconds_per_kernel(args.reference)
    print(f"lfpykernels 0.2.0 get_kernel      : {t_ref:7.3f} s/kernel "
          f"({1 / t_ref:6.2f} kernels/s), median of {args.reference}")

    full_grid = {W_EE: list(np.linspace(1e-4, 3e-4, args.full // 2)), DELAY_EE: [1.0, 2.0]}
    n_full = args.full // 2 * 2
    opts = {"g_eff": True, "t_X": 500.0, "method": "simulate", "progress": False,
            "averaging": "reference", "operating_point": "rest"}
    cluster_kwargs = {"n_workers": 2, "threads_per_worker": 1, "processes": True,
                      "dashboard_address": None, "silence_logs": logging.ERROR}
    t_sync, H_sync = timed(lambda: sweep(net, full_grid, probes(), client="sync", **opts))
    t_pool, _ = timed(lambda: sweep(net, full_grid, probes(), **opts))
    with LocalCluster(**cluster_kwargs) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("xkernels.engine.cells"))  # NEURON imported in the workers
        t_run, H_run = timed(lambda: sweep(net, full_grid, probes(), client=client, **opts))
    assert np.array_equal(H_sync.values, H_run.values)
    for label, t in (("full simulations, 1 process     ", t_sync),
                     ("full sims, default local cluster", t_pool),
                     ("full sims, running 2-worker clus", t_run)):
        print(f"{label}: {t:7.3f} s for {n_full} points = {4 * n_full / t:6.1f} kernels/s "
              f"({4 * n_full * t_ref / t:5.1f} x the reference)")

    n = args.points
    fast_grid = {W_EE: list(np.linspace(0.5e-4, 3e-4, n)),
                 PLACE_EE: list(np.linspace(-100.0, 400.0, n)),
                 DELAY_EE: list(np.linspace(0.5, 3.0, n))}
    fast = {"g_eff": False, "method": "auto", "progress": False, "averaging": "reference"}
    t_default, H = timed(lambda: sweep(net, fast_grid, probes(), **fast))
    with LocalCluster(**cluster_kwargs) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("xkernels.engine.cells"))  # NEURON imported in the workers
        t_client, H2 = timed(lambda: sweep(net, fast_grid, probes(), client=client, **fast))
    n_points = n ** 3
    for label, t in (("fast path, default client=None  ", t_default),
                     ("fast path, running client       ", t_client)):
        print(f"{label}: {t:7.3f} s for {n_points} points = {4 * n_points / t:8.1f} kernels/s "
              f"({4 * n_points * t_ref / t:7.0f} x the reference)")
    worst = 0.0
    rng = np.random.default_rng(1)
    for _ in range(3):
        pick = {k: v[rng.integers(len(v))] for k, v in fast_grid.items()}
        spec = net.to_dict()
        ee = spec["connections"][0]
        ee["synapse"]["weight"] = pick[W_EE]
        ee["placement"]["densities"][0]["params"]["loc"] = pick[PLACE_EE]
        ee["delay"]["params"]["loc"] = pick[DELAY_EE]
        ref = xkernels.compute_kernels(xkernels.Network.from_dict(spec), probes(), g_eff=False)
        got = H.sel(weight_E_E=pick[W_EE], placement_loc_E_E=pick[PLACE_EE],
                    delay_loc_E_E=pick[DELAY_EE])
        worst = max(worst, float(np.abs(got.values - ref.values).max()
                                 / np.abs(ref.values).max()))
    same = float(np.abs(H.values - H2.values).max())
    print(f"fast path vs compute_kernels on 3 random points: max |dH|/max|H| = {worst:.1e}; "
          f"the two fast runs differ by {same:.1e}")


if __name__ == "__main__":
    main()

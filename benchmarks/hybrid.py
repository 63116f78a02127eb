"""Benchmark: the hybrid ground truth against a plain LFPy loop, and the kernels' cost.

Network: the LFPykernels README network (E 8192, I 1024 ball-and-sticks cells,
passive, conductance-based Exp2Syn synapses, extrinsic input as its mean conductance
in the leak), driven by correlated Poisson spikes of every one of its 9216 neurons at
the specified rates (E 2.5, I 5 spikes/s) with a shared rate fluctuation.  A seeded
subsample of ``--cells`` postsynaptic cells (80 % E, 20 % I; each wired from the full
presynaptic populations: ~1076 synapses per E cell) is simulated for ``--seconds`` s:

* ``xkernels.hybrid.simulate`` on a LocalCluster of one worker process per core
  (grouped synapses, currents reduced in the task); wall time including the cluster
  start, and the tasks' CPU time;
* the plain way on ``--plain`` of the same cells, in this process (CPU time,
  interleaved cell by cell with ``run_batch`` of the same cell, so that load from
  other jobs affects both alike; extrinsic conductance with the leak's reversal
  in both, which the plain loop sets with its g_pas): one ``LFPy.TemplateCell`` per
  cell, one ``LFPy.Synapse`` per synapse with its spike times,
  ``cell.simulate(rec_imem=True)``, then the probe matrices; the largest deviation
  between the two is printed;
* the kernel prediction: ``compute_kernels`` + ``rates_from_spikes`` + ``convolve``.

Figures: cells × seconds of activity simulated per core-second.

    python benchmarks/hybrid.py [--cells 500] [--seconds 1] [--plain 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}


def probes():
    import xkernels

    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def plain_loop(network, spikes, post, cells, t_stop, dt, seed):
    """The plain LFPy way over ``cells`` of ``post``; returns signals and seconds."""
    from _plain_lfpy import plain_cell_signal

    from xkernels.engine.linearisation import ext_leak_shift
    from xkernels.engine.network_cell import NetworkCell
    from xkernels.hybrid.ground_truth import cell_matrix
    from xkernels.hybrid.wiring import wire_cell

    pop = network.population(post)
    arrays = {name: spikes.arrays(name) for name in spikes}
    named = probes()
    out, seconds, n_syn = [], 0.0, 0
    for index in cells:
        cpu = 0.0
        # the same pure-numpy wiring as the hybrid tasks (timed: the loop needs it too);
        # the NetworkCell only provides the placed geometry and is built untimed
        with NetworkCell(pop.cell, pop, dt, e_pas_default=-65.0) as geometry_cell:
            start = time.process_time()
            position, _, groups = wire_cell(network, post, index, seed=seed,
                                            place=geometry_cell.place, spikes=arrays,
                                            t_stop=t_stop, ext="leak")
            g_shift = ext_leak_shift(pop, geometry_cell.geometry.area)
            synapses = []
            for g in groups:
                times_x, offsets_x = arrays[g.source]
                for seg, pre, delay in zip(g.synapse_segment, g.synapse_source,
                                           g.synapse_delay):
                    t = times_x[offsets_x[pre]:offsets_x[pre + 1]] + delay
                    synapses.append({"idx": int(seg), "syntype": g.syntype,
                                     "weight": g.weight, "tau1": g.tau1, "tau2": g.tau2,
                                     "e": g.e, "times": t[(t >= 0) & (t < t_stop)]})
            cpu += time.process_time() - start
        n_syn += len(synapses)
        start = time.process_time()
        signal, _ = plain_cell_signal(
            pop.cell, pop.rotation, position, synapses,
            lambda geometry: cell_matrix(named, _Geometry(geometry)),
            dt=dt, t_stop=t_stop, e_pas=-65.0, g_shift=g_shift)
        cpu += time.process_time() - start
        seconds += cpu
        out.append((signal, cpu))
    return out, seconds, n_syn


class _Geometry:
    """lfpykit.CellGeometry viewed as something with ``to_lfpykit`` (for cell_matrix)."""

    def __init__(self, geometry) -> None:
        self.geometry = geometry

    def to_lfpykit(self):
        return self.geometry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--plain", type=int, default=8, help="cells of the plain loop")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    import xkernels
    from xkernels.hybrid import correlated_poisson, simulate
    from xkernels.hybrid.ground_truth import run_batch
    from xkernels.hybrid.wiring import select_cells

    dt, t_stop = 2.0 ** -4, 1000.0 * args.seconds
    net = xkernels.Network.example()
    sizes = {p.name: p.size for p in net.populations}
    start = time.perf_counter()
    spikes = correlated_poisson(sizes, {p.name: p.rate for p in net.populations},
                                t_stop=t_stop, seed=args.seed, fluctuation=0.5)
    t_spikes = time.perf_counter() - start
    n_e = int(round(0.8 * args.cells))
    n_cells = {"E": n_e, "I": args.cells - n_e}
    cores = len(os.sched_getaffinity(0))
    print(f"README network, {sum(sizes.values())} presynaptic neurons, "
          f"{sum(t.size for t in (spikes.population_times(x) for x in spikes))} spikes in "
          f"{args.seconds:g} s (generated in {t_spikes:.2f} s); simulating {n_cells} "
          f"cells on {cores} cores", flush=True)

    # -- hybrid ------------------------------------------------------------------------
    start = time.perf_counter()
    gt = simulate(net, spikes, probes(), t_stop=t_stop, dt=dt, seed=args.seed,
                  n_cells=n_cells, progress=False)
    wall = time.perf_counter() - start
    stats = json.loads(gt.attrs["run_stats"])
    cell_seconds = args.cells * args.seconds
    print(f"hybrid.simulate: {wall:.1f} s wall on {cores} cores (cluster start included), "
          f"tasks {stats['task_seconds']:.1f} core-s; {stats['synapses']} synapses in "
          f"{stats['groups']} point processes, {stats['events']} events")
    print(f"  throughput: {cell_seconds / (wall * cores):.2f} cell·s per core-second "
          f"(wall x cores), {cell_seconds / stats['task_cpu_seconds']:.2f} (task CPU time)")

    # -- plain loop over some of the same cells, interleaved cell by cell ---------------
    chosen = select_cells(sizes["E"], n_e, args.seed, "E")[: args.plain]
    options = {"seed": args.seed, "dt": dt, "t_stop": t_stop,
               "n_steps": int(round(t_stop / dt)), "ext": "leak", "e_pas": -65.0,
               "v_init": None, "chunk_steps": 4096}
    run_batch(net, probes(), spikes, "E", [int(chosen[0])], options)   # warm-up
    plain_cpu = mine_cpu = 0.0
    dev, plain_syn = 0.0, 0
    for index in chosen.tolist():
        [(ref, cpu)], _, n_syn = plain_loop(net, spikes, "E", [index], t_stop, dt, args.seed)
        plain_cpu += cpu
        plain_syn += n_syn
        result = run_batch(net, probes(), spikes, "E", [index], options)
        mine_cpu += result["task_cpu_seconds"]
        dev = max(dev, float(np.abs(result["values"] - ref).max() / np.abs(ref).max()))
    per_core_plain = len(chosen) * args.seconds / plain_cpu
    per_core_mine = len(chosen) * args.seconds / mine_cpu
    print(f"plain LFPy loop, {len(chosen)} E cells ({plain_syn // len(chosen)} LFPy.Synapse "
          f"per cell): {plain_cpu:.1f} CPU s -> {per_core_plain:.3f} cell·s per core-second")
    print(f"  same cells through hybrid.run_batch, interleaved: {mine_cpu:.2f} CPU s -> "
          f"{per_core_mine:.3f} cell·s per core-second; max deviation {dev:.1e} "
          "of each cell's largest signal")
    print(f"  hybrid vs plain per core: {per_core_mine / per_core_plain:.1f}x (same cells, "
          f"CPU time), {cell_seconds / stats['task_cpu_seconds'] / per_core_plain:.1f}x "
          "(whole dask run, task CPU time)")

    # -- kernel prediction ---------------------------------------------------------------
    start = time.perf_counter()
    H = xkernels.compute_kernels(net, probes(), dt=dt)
    t_kernels = time.perf_counter() - start
    start = time.perf_counter()
    rates = xkernels.rates_from_spikes({x: spikes.population_times(x) for x in spikes},
                                       t_start=0.0, t_stop=t_stop, dt=dt)
    prediction = xkernels.convolve(rates, H).compute()
    t_conv = time.perf_counter() - start
    print(f"kernel prediction: compute_kernels {t_kernels:.2f} s + rates and convolve "
          f"{t_conv:.2f} s = {t_kernels + t_conv:.2f} s for all "
          f"{sum(n for n in (sizes['E'], sizes['I']))} cells (one core)")
    assert prediction.shape[-1] == gt.sizes["time"]


if __name__ == "__main__":
    main()

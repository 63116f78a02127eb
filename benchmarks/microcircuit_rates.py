"""Benchmark: stationary population rates of the NEST microcircuit against ``MEAN_RATES``.

Simulates the Potjans & Diesmann microcircuit of :mod:`xkernels.app.microcircuit`
(spontaneous state, no thalamic input):

1. ``n_scaling`` = each value of ``--n-scaling`` (default 0.1) with ``k_scaling = 1``:
   every neuron keeps the full model's in-degrees and weights, so no DC compensation is
   applied and ``MEAN_RATES`` does not enter the simulation (``--n-scaling 1``: the
   full model).  With fewer neurons and the same in-degrees, neurons share more of their
   inputs (multapses), so small ``n_scaling`` is not the full model: compare several.
2. The NEST model's default downscaling (``MicrocircuitParams()``: n_scaling 0.1,
   k_scaling 0.1, the one of the notebook and of ``microcircuit_validation.py``), whose
   DC compensation uses ``MEAN_RATES``: how well that compensation keeps the rates.

For each, the first ``--transient`` ms are discarded and the rest is split into
``--blocks`` equal time blocks; the rate of a population is the mean over its neurons and
the whole window, its SEM the standard deviation of the block rates / sqrt(blocks).  The
SEM covers the temporal fluctuations of one network realisation (``--seed``), not the
variability between realisations.  Prints the wall time of each simulation (and of
``nest.Simulate`` alone) with the process's peak RSS so far, then a markdown table:
population, MEAN_RATES, each measurement (mean ± SEM, spikes/s) and its relative
difference to MEAN_RATES (± SEM).  ``--n-scaling 1`` (about 3e8 synapses) needs about
15 GiB and ``--threads 4`` or more: NEST allows at most 2**27 connections per virtual
process and synapse model.

    python benchmarks/microcircuit_rates.py [--n-scaling 0.1 [0.25 ...]] [--t-stop 2200]
        [--transient 200] [--blocks 5] [--seed 55] [--threads 2] [--skip-default]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def block_rates(spikes, t_start: float, blocks: int) -> dict[str, np.ndarray]:
    """Rates (spikes/s per neuron) of each population in ``blocks`` windows after t_start."""
    edges = np.linspace(t_start, spikes.t_stop, blocks + 1)
    seconds = np.diff(edges) / 1000.0
    out = {}
    for name, ids in spikes.populations.items():
        mine = (spikes.senders >= ids.start) & (spikes.senders < ids.stop)
        counts, _ = np.histogram(spikes.times[mine], bins=edges)
        out[name] = counts / len(ids) / seconds
    return out


def measure(params, args):
    """{population: (mean, SEM)}, (total, nest.Simulate) wall times (s), peak RSS (GiB)."""
    from xkernels.app import microcircuit as nest_mc
    from xkernels.app.lif import import_nest

    start = time.perf_counter()
    spikes = nest_mc.simulate_microcircuit(args.t_stop, params=params, seed=args.seed,
                                           threads=args.threads)
    # NEST's own wall time of nest.Simulate (the network is built before)
    sim = float(np.max(import_nest().GetKernelStatus("time_simulate")))
    wall = (time.perf_counter() - start, sim)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    rates = block_rates(spikes, args.transient, args.blocks)
    stats = {name: (float(r.mean()), float(r.std(ddof=1) / np.sqrt(len(r))))
             for name, r in rates.items()}
    return stats, wall, peak


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-scaling", type=float, nargs="+", default=[0.1])
    parser.add_argument("--t-stop", type=float, default=2200.0, help="ms, transient included")
    parser.add_argument("--transient", type=float, default=200.0, help="ms discarded")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=55)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-default", action="store_true",
                        help="only the k_scaling = 1 simulation")
    args = parser.parse_args(argv)
    if not args.transient < args.t_stop or args.blocks < 2:
        parser.error("need --transient < --t-stop and --blocks >= 2")

    from xkernels.app import microcircuit as nest_mc
    from xkernels.spec import microcircuit as mc

    runs = {f"measured, n_scaling {n:g}, k_scaling 1":
            nest_mc.MicrocircuitParams(n_scaling=n, k_scaling=1.0) for n in args.n_scaling}
    if not args.skip_default:
        runs["measured, default downscaling (n 0.1, k 0.1)"] = nest_mc.MicrocircuitParams()
    results = {}
    for key, params in runs.items():
        stats, wall, peak = measure(params, args)
        results[key] = stats
        print(f"n_scaling {params.n_scaling:g}, k_scaling {params.k_scaling}, "
              f"{args.t_stop:g} ms (first {args.transient:g} ms discarded, "
              f"{args.blocks} blocks), seed {args.seed}: wall {wall[0]:.1f} s "
              f"(nest.Simulate {wall[1]:.1f} s), "
              f"peak RSS {peak:.2f} GiB", flush=True)

    def cell(key, name):
        mean, sem = results[key][name]
        ref = mc.MEAN_RATES[name]
        rel = f"{100 * (mean / ref - 1):+.1f} ± {100 * sem / ref:.1f} %"
        return f"{mean:.3f} ± {sem:.3f}", rel

    head = ["population", "MEAN_RATES"]
    for key in results:
        head += [key, "rel. diff."]
    print()
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---"] * len(head)) + " |")
    for name in mc.POPULATIONS:
        row = [name, f"{mc.MEAN_RATES[name]:.3f}"]
        for key in results:
            row += list(cell(key, name))
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

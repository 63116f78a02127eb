"""Benchmark: the LFPykernels README network as a 2x2 network (E, I -> E, I).

xkernels.compute_kernels (all four kernels in one call) against lfpykernels 0.2.0
(KernelApprox.get_kernel per X and Y, as its README does), same process, same probes
(13-channel GaussCylinderPotential LFP + z-only CDM), best of --repeat runs each.
Prints both timings, the speed-up and the largest deviation between the two.

With ``--active``: the cost of membrane linearisation instead.  The README network
with the ``active`` biophysics preset (``Network.example(active=True)``), with 2 and
with 10 presynaptic populations (extra presynaptic-only copies of E and I), computed
with every ``linearisation``; prints each mode's CPU time (this process; NEURON runs
in it, single-threaded) relative to ``"as-is"`` and splits it into a part per
postsynaptic cell (settling, linearising) and a part per presynaptic population X (the
responses), from the difference between 2 and 10 X.

    python benchmarks/kernels.py [--repeat 3] [--active]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "t_X": 500.0, "Vrest": -65.0, "g_eff": True}


def run_reference() -> dict:
    import lfpykernels
    from conftest import readme_arguments

    out = {}
    for Y in ("E", "I"):
        approx = lfpykernels.KernelApprox(**readme_arguments(Y))
        for X in ("E", "I"):
            probes = [lfpykernels.GaussCylinderPotential(cell=None, **GCP),
                      lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
            out[X, Y] = approx.get_kernel(probes, X=X, **OPTIONS)
    return out


def run_xkernels():
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    return xkernels.compute_kernels(xkernels.Network.example(), probes, **OPTIONS)


def best_time(fun, repeat: int, clock=time.perf_counter):
    times, result = [], None
    for _ in range(repeat):
        start = clock()
        result = fun()
        times.append(clock() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--active", action="store_true",
                        help="time the linearisation modes on the active network instead")
    args = parser.parse_args()
    from xkernels.engine.mechanisms import load_mechanisms

    load_mechanisms()
    if args.active:
        run_linearisation_benchmark(args.repeat)
        return
    run_xkernels()  # warm-up: NEURON libraries, templates
    t_ours, H = best_time(run_xkernels, args.repeat)
    t_ref, ref = best_time(run_reference, args.repeat)
    from conftest import tight_reference_quadrature

    with tight_reference_quadrature():  # untimed: the reference with quad converged
        ref_tight = run_reference()
    print(f"lfpykernels 0.2.0 : {t_ref:8.3f} s for 4 kernels ({t_ref / 4 * 1e3:.0f} ms/kernel)")
    print(f"xkernels          : {t_ours:8.3f} s for 4 kernels ({t_ours / 4 * 1e3:.1f} ms/kernel)")
    print(f"speed-up          : {t_ref / t_ours:8.1f} x")
    print(f"max |dH|/max|H_ref| over pairs and probes: {_worst(H, ref):.2e} vs the reference "
          f"as shipped, {_worst(H, ref_tight):.2e} with its quad tolerances tightened")


def _worst(H, ref: dict) -> float:
    worst = 0.0
    for (X, Y), kernels in ref.items():
        for name, key in (("lfp", "GaussCylinderPotential"),
                          ("cdm", "KernelApproxCurrentDipoleMoment")):
            ours = H.sel(X=X, Y=Y).xk.probe(name).values
            worst = max(worst, np.abs(ours - kernels[key]).max() / np.abs(kernels[key]).max())
    return worst



# --------------------------------------------------------------------------------------
# membrane linearisation (--active)
# --------------------------------------------------------------------------------------
def active_network(n_pre: int):
    """The active README network with ``n_pre`` presynaptic populations (even, >= 2):
    E, I and presynaptic-only copies E1, I1, E2, I2... wired like E and I."""
    import copy

    import xkernels

    spec = xkernels.Network.example(active=True).to_dict()
    base_pops = copy.deepcopy(spec["populations"])
    base_conns = copy.deepcopy(spec["connections"])
    for k in range(1, n_pre // 2):
        for pop in base_pops:
            spec["populations"].append({**pop, "name": f"{pop['name']}{k}", "cell": None})
        for conn in base_conns:
            spec["connections"].append({**conn, "pre": f"{conn['pre']}{k}"})
    return xkernels.Network.from_dict(spec)


def run_linearisation_benchmark(repeat: int) -> None:
    import xkernels
    from xkernels.engine.options import LINEARISATIONS

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    few, many = 2, 10
    networks = {n: active_network(n) for n in (few, many)}
    times = {}
    for mode in LINEARISATIONS:
        for n, net in networks.items():
            def run(net=net, mode=mode):
                return xkernels.compute_kernels(net, probes, linearisation=mode, **OPTIONS)

            times[mode, n] = best_time(run, repeat, time.process_time)[0]
    per_x = {mode: (times[mode, many] - times[mode, few]) / (many - few)
             for mode in LINEARISATIONS}
    fixed = {mode: times[mode, few] - few * per_x[mode] for mode in LINEARISATIONS}
    print(f"active README network, 2 postsynaptic cells (E, I); tau = {OPTIONS['tau']} ms, "
          f"t_X = {OPTIONS['t_X']} ms, dt = {OPTIONS['dt']} ms; best of {repeat}")
    print(f"{'linearisation':>14} {f'{few} X / as-is':>12} {f'{many} X / as-is':>12} "
          f"{'per X / as-is':>14} {'per cell / (as-is per X)':>25}")
    for mode in LINEARISATIONS:
        print(f"{mode:>14} {times[mode, few] / times['as-is', few]:12.2f} "
              f"{times[mode, many] / times['as-is', many]:12.2f} "
              f"{per_x[mode] / per_x['as-is']:14.3f} "
              f"{fixed[mode] / 2 / per_x['as-is']:25.2f}")


if __name__ == "__main__":
    main()

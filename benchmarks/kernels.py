"""Benchmark: the LFPykernels README network as a 2x2 network (E, I -> E, I).

Case 1 (README cells): xkernels.compute_kernels (all four kernels in one call) against
lfpykernels 0.2.0 (KernelApprox.get_kernel per X and Y, as its README does).

Case 2 (the drop-in layer, code written as LFPykernels users write it: a new
KernelApprox per pair and one get_kernel call each, run once with ``lfpykernels`` and
once with ``xkernels.compat``, only the import differs) on the same 2x2 network with
two multi-branch morphologies that are not xkernels' (benchmarks/cells/MultiBranch_E.hoc,
90 segments, and MultiBranch_I.hoc, 55 segments), then on the README cells.

Same process, same probes (13-channel GaussCylinderPotential LFP + z-only CDM), the two
sides timed alternately, best of --repeat runs each.  Prints both timings, the speed-up
and the largest deviation between the two.


With ``--active``: the cost of membrane linearisation instead.  The README network
with the ``active`` biophysics preset (``Network.example(active=True)``), with 2 and
with 10 presynaptic populations (extra presynaptic-only copies of E and I), computed
with every ``linearisation``; prints each mode's CPU time (this process; NEURON runs
in it, single-threaded) relative to ``"as-is"`` and splits it into a part per
postsynaptic cell (settling, linearising) and a part per presynaptic population X (the
responses), from the difference between 2 and 10 X.

    python benchmarks/kernels.py [--repeat 3] [--case readme|other|both] [--active]

Then the cost of ``averaging="depth"`` (issue 12) against ``averaging="reference"`` on
the same network and probes: CPU time of this process (robust to other jobs on a shared
machine), best of ``--repeat`` interleaved runs, for the default node count and any
``--depth-nodes`` given, with g_eff on (the README's choice: one simulation per node and
input) and off (passive membrane, the same at every depth).

    python benchmarks/kernels.py [--repeat 3] [--depth-nodes 3,5,7] [--depth-only]

With ``--defaults`` (issue 25): the kernel time of the defaults (``averaging="depth"``,
``g_eff`` and ``operating_point`` ``"auto"``: depth nodes at the mean-input operating
point on this conductance-based network), of the old defaults (LFPykernels'
approximation, ``averaging="reference", operating_point="rest"``) and of lfpykernels
0.2.0, interleaved in one run (wall clock, best of ``--repeat``), with the ratios.

    python benchmarks/kernels.py --defaults [--repeat 3]

With ``--solver``: ``solver="linear"`` against ``solver="neuron"`` on the README network
(:mod:`benchmarks.linear_solver`, which also times a large cell and a sweep).

    python benchmarks/kernels.py --solver [--repeat 5]
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
#: LFPykernels' approximation in the native API (the defaults before issue 25)
REFERENCE = {"averaging": "reference", "operating_point": "rest"}
#: the options of the defaults run: OPTIONS without g_eff (its default "auto" is on here)
DEFAULTS = {k: v for k, v in OPTIONS.items() if k != "g_eff"}


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


def run_xkernels(**options):
    """compute_kernels on the README network with OPTIONS in LFPykernels' approximation
    (REFERENCE), ``options`` replacing them."""
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    return xkernels.compute_kernels(xkernels.Network.example(), probes,
                                    **{**OPTIONS, **REFERENCE, **options})


def run_defaults():
    """compute_kernels on the README network with the defaults (dt, tau, t_X, Vrest as
    OPTIONS)."""
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    return xkernels.compute_kernels(xkernels.Network.example(), probes, **DEFAULTS)


def defaults_cost(repeat: int) -> None:
    """Wall-clock time of the defaults, the old defaults and lfpykernels 0.2.0, interleaved
    (each round runs all three), best of ``repeat``."""
    report_defaults_cost("README network (2 x 2, conductance-based), 4 kernels, 13-channel "
                         "LFP + CDM", {"defaults": run_defaults, "old defaults": run_xkernels,
                                       "lfpykernels 0.2.0": run_reference}, repeat)


def report_defaults_cost(label: str, runs: dict, repeat: int) -> None:
    """Time ``runs`` (name -> call returning kernels; "defaults", "old defaults" and
    "lfpykernels 0.2.0") interleaved, best of ``repeat`` after one warm-up call of the
    defaults (NEURON libraries, templates), and print the times and ratios."""
    H = runs["defaults"]()
    n = H.sizes["X"] * H.sizes["Y"]
    print(f"{label}; resolved defaults: averaging={H.attrs['averaging']!r}, "
          f"g_eff={H.attrs['g_eff']}, operating_point={H.attrs['operating_point']!r}, "
          f"depth_nodes={H.attrs['depth_nodes']}")
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    best = {name: min(t) for name, t in times.items()}
    for name, t in best.items():
        print(f"  {name:18}: {t:8.3f} s ({t / n * 1e3:7.1f} ms/kernel; all runs "
              f"{', '.join(f'{v:.3f}' for v in times[name])} s)")
    ref = best["lfpykernels 0.2.0"]
    print(f"  lfpykernels / defaults: {ref / best['defaults']:.1f}x; lfpykernels / old "
          f"defaults: {ref / best['old defaults']:.1f}x; defaults / old defaults: "
          f"{best['defaults'] / best['old defaults']:.1f}x (best of {repeat}, interleaved)")


def depth_cost(repeat: int, nodes: list[int]) -> None:
    """CPU time of averaging="depth" against "reference" (interleaved, best of repeat)."""
    from xkernels import KernelOptions

    print("\naveraging='depth' vs 'reference', README network, CPU time of this process:")
    for g_eff in (True, False):
        for n in nodes or [KernelOptions().depth_nodes]:
            ref, depth = [], []
            for _ in range(repeat):
                start = time.process_time()
                run_xkernels(g_eff=g_eff)
                ref.append(time.process_time() - start)
                start = time.process_time()
                run_xkernels(g_eff=g_eff, averaging="depth", depth_nodes=n)
                depth.append(time.process_time() - start)
            print(f"  g_eff={g_eff!s:5} depth_nodes={n:2d}: reference {min(ref) * 1e3:6.1f} ms, "
                  f"depth {min(depth) * 1e3:6.1f} ms, ratio {min(depth) / min(ref):5.2f}")


def best_time(fun, repeat: int, clock=time.perf_counter):
    times, result = [], None
    for _ in range(repeat):
        start = clock()
        result = fun()
        times.append(clock() - start)
    return min(times), result


def run_per_pair(module, arguments) -> dict:
    """LFPykernels-style code: a new KernelApprox per pair, one get_kernel each."""
    out = {}
    for Y in ("E", "I"):
        for X in ("E", "I"):
            approx = module.KernelApprox(**arguments(Y))
            probes = [module.GaussCylinderPotential(cell=None, **GCP),
                      module.KernelApproxCurrentDipoleMoment(cell=None)]
            out[X, Y] = approx.get_kernel(probes, X=X, **OPTIONS)
    return out


def alternate(fun_a, fun_b, repeat: int):
    """Best times of two functions run alternately (both see the same machine load)."""
    times_a, times_b, result_a, result_b = [], [], None, None
    for _ in range(repeat):
        t_a, result_a = best_time(fun_a, 1)
        t_b, result_b = best_time(fun_b, 1)
        times_a.append(t_a)
        times_b.append(t_b)
    return min(times_a), result_a, min(times_b), result_b


def main_other(repeat: int) -> None:
    from conftest import other_cell_arguments, readme_arguments

    per_pair(repeat, other_cell_arguments, "other cells (MultiBranch_E 90 segments, "
             "MultiBranch_I 55), a new KernelApprox per pair:")
    per_pair(repeat, readme_arguments, "README cells (27 and 15 segments), a new "
             "KernelApprox per pair:")


def per_pair(repeat: int, arguments, title: str) -> None:
    import lfpykernels

    from xkernels import compat

    run_per_pair(compat, arguments)  # warm-up
    t_ours, ours, t_ref, ref = alternate(lambda: run_per_pair(compat, arguments),
                                         lambda: run_per_pair(lfpykernels, arguments), repeat)
    from conftest import tight_reference_quadrature

    with tight_reference_quadrature():  # untimed
        ref_tight = run_per_pair(lfpykernels, arguments)
    worst = max(np.abs(ours[p][k] - r[p][k]).max() / np.abs(r[p][k]).max()
                for r in (ref_tight,) for p in r for k in r[p])
    worst_shipped = max(np.abs(ours[p][k] - ref[p][k]).max() / np.abs(ref[p][k]).max()
                        for p in ref for k in ref[p])
    print(title)
    print(f"lfpykernels 0.2.0 : {t_ref:8.3f} s for 4 kernels ({t_ref / 4 * 1e3:.0f} ms/kernel)")
    print(f"xkernels.compat   : {t_ours:8.3f} s for 4 kernels ({t_ours / 4 * 1e3:.1f} ms/kernel)")
    print(f"speed-up          : {t_ref / t_ours:8.1f} x")
    print(f"max |dH|/max|H_ref|: {worst_shipped:.2e} vs the reference as shipped, "
          f"{worst:.2e} with its quad tolerances tightened")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--solver", action="store_true",
                        help="solver='linear' against solver='neuron' instead "
                             "(benchmarks/linear_solver.py)")
    parser.add_argument("--active", action="store_true",
                        help="time the linearisation modes on the active network instead")
    parser.add_argument("--depth-nodes", default="",
                        help="comma-separated node counts for the depth-averaging cost")
    parser.add_argument("--depth-only", action="store_true",
                        help="only the depth-averaging cost (no lfpykernels comparison)")
    parser.add_argument("--case", choices=("readme", "other", "both"), default="both")
    parser.add_argument("--defaults", action="store_true",
                        help="only the cost of the defaults against the old defaults and "
                             "lfpykernels 0.2.0")
    args = parser.parse_args()
    if args.solver:
        import linear_solver

        linear_solver.compare("README network (4 kernels)", linear_solver.readme, args.repeat)
        return
    from xkernels.engine.mechanisms import load_mechanisms

    load_mechanisms()
    if args.defaults:
        defaults_cost(args.repeat)
        return
    if args.active:
        run_linearisation_benchmark(args.repeat)
        return
    nodes = [int(v) for v in args.depth_nodes.split(",") if v]
    if args.depth_only:
        run_xkernels()  # warm-up: NEURON libraries, templates
        depth_cost(args.repeat, nodes)
        return
    if args.case in ("other", "both"):
        main_other(args.repeat)
    if args.case == "other":
        return
    run_xkernels()  # warm-up: NEURON libraries, templates
    t_ours, H = best_time(run_xkernels, args.repeat)
    t_ref, ref = best_time(run_reference, args.repeat)
    print("README cells, xkernels.compute_kernels (all four kernels in one call):")
    from conftest import tight_reference_quadrature

    with tight_reference_quadrature():  # untimed: the reference with quad converged
        ref_tight = run_reference()
    print(f"lfpykernels 0.2.0 : {t_ref:8.3f} s for 4 kernels ({t_ref / 4 * 1e3:.0f} ms/kernel)")
    print(f"xkernels          : {t_ours:8.3f} s for 4 kernels ({t_ours / 4 * 1e3:.1f} ms/kernel)")
    print(f"speed-up          : {t_ref / t_ours:8.1f} x")
    print(f"max |dH|/max|H_ref| over pairs and probes: {_worst(H, ref):.2e} vs the reference "
          f"as shipped, {_worst(H, ref_tight):.2e} with its quad tolerances tightened")
    depth_cost(args.repeat, nodes)


def _worst(H, ref: dict) -> float:
    worst = 0.0
    for (X, Y), kernels in ref.items():
        for name, key in (("lfp", "GaussCylinderPotential"),
                          ("cdm", "KernelApproxCurrentDipoleMoment")):
            ours = H.sel(X=X, Y=Y).xk.probe(name).values
            expected = kernels[key][-ours.shape[0]:]  # ours: cdm:z only; theirs x, y, z rows
            worst = max(worst, np.abs(ours - expected).max() / np.abs(expected).max())
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
    from xkernels.spec.options import LINEARISATIONS

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    few, many = 2, 10
    networks = {n: active_network(n) for n in (few, many)}
    times = {}
    for mode in LINEARISATIONS:
        for n, net in networks.items():
            def run(net=net, mode=mode):
                return xkernels.compute_kernels(net, probes, linearisation=mode, **OPTIONS,
                                                **REFERENCE)

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

"""Benchmark: solver="linear" against solver="neuron" for quasi-active membranes (issue
23), same process, interleaved, best CPU times.

The active README network (``Network.example(active=True)``: ball-and-sticks cells with
Na/K in the soma and an apical I_h), ``linearisation="quasi-active"``, 13-channel LFP +
CDM, dt = 1/16 ms, tau = 50 ms: LFPykernels' approximation (reference averaging, rest)
and the default options (depth averaging at the mean-input operating point), with 2
presynaptic populations and with 10 (presynaptic-only copies of E and I, as
``benchmarks/kernels.py --active``); and the README network whose E cell is the own-cell
example's reconstructed pyramidal cell (76 segments) with its NMODL M-current.
Networks and probes are built once; the timed call is ``compute_kernels``
(``benchmarks/linear_solver.py``'s comparison: best CPU times, the largest deviation
per channel, the responses alone profiled): the same call repeated (the linear solver
keeps a membrane's resting state and system), then new computations (an E->E weight
no earlier call had: with g_eff a new membrane, settled and read afresh).  Then where
the time of one computation goes (cProfile, by stage) for each solver.

    python benchmarks/quasi_active_solver.py [--repeat 5] [--skip-profile]
    python benchmarks/quasi_active_solver.py --repeat 3 --skip-profile --lambda-f 1000 5000
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import own_cell_network  # noqa: E402
from kernels import active_network  # noqa: E402
from linear_solver import README_GCP, compare, stage_times  # noqa: E402

OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "linearisation": "quasi-active"}
REFERENCE = {"averaging": "reference", "operating_point": "rest", "g_eff": True}
#: cProfile stages: (label, file suffix, function)
STAGES = [("settling (NEURON, both; linear: the coarse phase)", "membrane.py", "_settle"),
          ("the rest by Newton's iteration, coarse phase included (linear)", "membrane.py",
           "_rest_by_newton"),
          ("the system read from NEURON (linear)", "membrane.py", "quasi_active_cable"),
          ("its check against NEURON's steps (linear)", "membrane.py",
           "check_quasi_active"),
          ("eigendecomposition (linear)", "quasi_active_cable.py", "quasi_active_solver"),
          ("responses (neuron: 2 simulations each)", "membrane.py", "signal"),
          ("kernels from modes (linear, reference)", "quasi_active_cable.py", "kernels"),
          ("building the cells (LFPy)", "cells.py", "template_cell")]


def _probes():
    import xkernels

    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def profile(run, solver: str, n: int = 3) -> None:
    """Cumulative time per stage (mean of ``n`` computations, inflated by profiling)."""
    total, parts = stage_times(lambda: run(solver), n, STAGES)
    print(f"  {solver}: {1e3 * total:.0f} ms profiled; " + ", ".join(
        f"{label} {1e3 * spent:.0f} ms" for label, spent in parts.items() if spent > 0),
        flush=True)


def fresh(name: str, net, run, repeat: int) -> None:
    """New computations: every round an E->E weight no earlier call had (with g_eff the
    E membrane is new: nothing kept serves it), the same for both solvers, interleaved;
    best CPU times, the largest deviation over the rounds."""
    import time

    from linear_solver import worst

    path = "connections[E->E].synapse.weight"
    w0 = net.connections[0].synapse.weight
    times: dict[str, list[float]] = {"neuron": [], "linear": []}
    devs = []
    for k in range(repeat):
        point = net.with_values({path: w0 * (1.01 + 0.013 * k + 1e-4 * _ROUNDS[0])})
        _ROUNDS[0] += 1
        found = {}
        for solver in ("neuron", "linear"):
            start = time.process_time()
            found[solver] = run(solver, net=point).values
            times[solver].append(time.process_time() - start)
        devs.append(worst(found["linear"], found["neuron"]))
    t_n, t_l = min(times["neuron"]), min(times["linear"])
    print(f"{name}, new computations: neuron {1e3 * t_n:.1f} ms, linear {1e3 * t_l:.1f} ms "
          f"CPU (best of {repeat}): {t_n / t_l:.1f}x; largest deviation {max(devs):.2e} of "
          "the channel peak", flush=True)


_ROUNDS = [0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--lambda-f", type=float, nargs="*", default=[],
                        help="also the own cell with finer segments (LFPy's lambda_f), "
                             "reference options only (from 200 segments the system is "
                             "stepped with sparse matrices)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import xkernels

    probes = _probes()
    networks = {"active README network, 2 X": (active_network(2), "quasi-active"),
                "active README network, 10 X": (active_network(10), "quasi-active"),
                "own cell with an M-current as E (I passive)": (
                    own_cell_network(), {"E": "quasi-active", "I": "passive"})}
    for name, (net, mode) in networks.items():
        for label, extra in (("reference options", REFERENCE), ("defaults", {})):
            def run(solver, net=net, extra=extra, mode=mode):
                return xkernels.compute_kernels(net, probes, solver=solver,
                                                **{**OPTIONS, "linearisation": mode},
                                                **extra)

            compare(f"{name}, quasi-active, {label}", run, args.repeat)
            fresh(f"{name}, quasi-active, {label}", net, run, args.repeat)
            if not args.skip_profile:
                for solver in ("neuron", "linear"):
                    profile(run, solver)
    for lambda_f in args.lambda_f:
        net = own_cell_network().with_values({"populations[E].cell.params": {
            "Ra": 150.0, "cm": 1.0, "nsegs_method": "lambda_f", "lambda_f": lambda_f}})

        def run(solver, net=net):
            return xkernels.compute_kernels(
                net, probes, solver=solver, **{**OPTIONS, "linearisation": {
                    "E": "quasi-active", "I": "passive"}}, **REFERENCE)

        compare(f"own cell, lambda_f = {lambda_f:g}, quasi-active, reference options", run,
                args.repeat)
        fresh(f"own cell, lambda_f = {lambda_f:g}, quasi-active, reference options", net,
              run, args.repeat)
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()

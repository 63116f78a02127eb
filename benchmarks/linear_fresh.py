"""Benchmark: solver="linear" against solver="neuron" on *new* computations.

``benchmarks/linear_solver.py`` times the same call repeated, which the linear solver
partly serves from what it keeps per process (prepared populations and a DataArray
template per content hash, placement densities per cell).  A user's next computation
usually differs: here every timed call has a connection weight no earlier call had, so
only what is keyed on the cell and its placement can be reused (as in a sweep or a
fitting loop).  The repeated call is timed beside it.  CPU times, best of ``--repeat``,
solvers interleaved; networks and probes built once.

    python benchmarks/linear_fresh.py --repeat 5
    python benchmarks/linear_fresh.py --stages 40     # where a new computation's time goes
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's xkernels

import xkernels  # noqa: E402
from xkernels import Network  # noqa: E402

OPTIONS = {"reference options": {"averaging": "reference", "operating_point": "rest"},
           "defaults": {}}


def probes(z: np.ndarray, radius: float, sigma_z: float) -> dict:
    """A laminar LFP probe and the z-only CDM."""
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, z=z, sigma=0.3, R=radius,
                                                  sigma_z=sigma_z),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def cpu(network: Network, probe_set: dict, solver: str, options: dict) -> float:
    """CPU seconds of one ``compute_kernels`` call."""
    start = time.process_time()
    xkernels.compute_kernels(network, probe_set, solver=solver, **options)
    return time.process_time() - start


def compare(label: str, network: Network, probe_set: dict, repeat: int) -> None:
    """Print neuron vs linear for new weights each call, and the linear call repeated."""
    first = network.connections[0]
    path = f"connections[{first.pre}->{first.post}].synapse.weight"
    for name, options in OPTIONS.items():
        for solver in ("neuron", "linear"):  # mechanisms, cell caches, imports
            xkernels.compute_kernels(network, probe_set, solver=solver, **options)
        times: dict[str, list[float]] = {"neuron": [], "linear": [], "repeated": []}
        for k in range(repeat):
            net = network.with_values({path: first.synapse.weight * (1.1 + 0.05 * k)})
            for solver in ("neuron", "linear"):
                times[solver].append(cpu(net, probe_set, solver, options))
            times["repeated"].append(cpu(net, probe_set, "linear", options))
        n, lin, rep = (min(times[k]) for k in ("neuron", "linear", "repeated"))
        print(f"{label}, {name}: new weight each call: neuron {n * 1e3:.1f} ms, linear "
              f"{lin * 1e3:.1f} ms CPU: {n / lin:.1f}x; the same call repeated: linear "
              f"{rep * 1e3:.1f} ms: {n / rep:.1f}x")


#: The stages of a computation: (label, module, function).
STAGES = (("prepare_kernels", "xkernels.store.cache", "engine.prepare_kernels"),
          ("prepare_population", "xkernels.engine.kernels", "prepare_population"),
          ("simulate_population (the kernels)", "xkernels.engine.kernels",
           "simulate_population"),
          ("label_kernels", "xkernels.engine.kernels", "label_kernels"),
          ("  of which the values digest", "xkernels.engine.kernels", "values_digest"))


def stages(label: str, network: Network, probe_set: dict, n: int) -> None:
    """CPU time per stage of ``n`` new computations with the linear solver (each
    stage's function wrapped with a timer; averages per call; garbage collection off
    while timing)."""
    import importlib

    first = network.connections[0]
    path = f"connections[{first.pre}->{first.post}].synapse.weight"
    spent: dict[str, float] = {}
    originals = []
    for name, module, attr in STAGES:
        owner = importlib.import_module(module)
        *parents, leaf = attr.split(".")
        for part in parents:
            owner = getattr(owner, part)
        function = getattr(owner, leaf)
        originals.append((owner, leaf, function))

        def timed(*args, _f=function, _name=name, **kwargs):
            start = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.process_time() - start
        setattr(owner, leaf, timed)
    try:
        for name, options in OPTIONS.items():
            xkernels.compute_kernels(network, probe_set, solver="linear", **options)
            nets = [network.with_values({path: first.synapse.weight * (1.3 + 1e-3 * k)})
                    for k in range(n)]
            spent.clear()
            gc.collect()
            gc.disable()  # a collection's pause lands in whichever stage runs then
            try:
                start = time.process_time()
                for net in nets:
                    xkernels.compute_kernels(net, probe_set, solver="linear", **options)
                total = time.process_time() - start
            finally:
                gc.enable()
            parts = ", ".join(f"{k} {v / n * 1e3:.2f} ms" for k, v in spent.items())
            print(f"{label}, {name}: {total / n * 1e3:.2f} ms per new computation: "
                  f"{parts}", flush=True)
    finally:
        for owner, leaf, function in originals:
            setattr(owner, leaf, function)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stages", type=int, default=0, metavar="N",
                        help="instead: CPU time per stage over N new computations")
    args = parser.parse_args()
    if args.stages:
        stages("README network", Network.example(),
               probes(np.linspace(1000., -200., 13), 150., 75.), args.stages)
        stages("microcircuit", Network.microcircuit(),
               probes(np.linspace(0., -1500., 32), 400., 150.), max(args.stages // 5, 2))
        return
    compare("README network (4 kernels, 13-channel LFP + CDM)", Network.example(),
            probes(np.linspace(1000., -200., 13), 150., 75.), args.repeat)
    compare("microcircuit (72 kernels, 32-channel LFP + CDM)", Network.microcircuit(),
            probes(np.linspace(0., -1500., 32), 400., 150.), args.repeat)


if __name__ == "__main__":
    main()

"""Benchmark: solver="linear" against solver="neuron" on *new* computations.

``benchmarks/linear_solver.py`` times the same call repeated, which the linear solver
partly serves from what it keeps per process (prepared populations and a DataArray
template per content hash, placement densities per cell).  A user's next computation
usually differs: here every timed call has a connection weight no earlier call had, so
only what is keyed on the cell and its placement can be reused (as in a sweep or a
fitting loop).  The repeated call is timed beside it.  CPU times, best of ``--repeat``,
solvers interleaved; networks and probes built once.

    python benchmarks/linear_fresh.py --repeat 5
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    compare("README network (4 kernels, 13-channel LFP + CDM)", Network.example(),
            probes(np.linspace(1000., -200., 13), 150., 75.), args.repeat)
    compare("microcircuit (72 kernels, 32-channel LFP + CDM)", Network.microcircuit(),
            probes(np.linspace(0., -1500., 32), 400., 150.), args.repeat)


if __name__ == "__main__":
    main()

"""Convergence of averaging="depth" in the number of Gauss–Hermite depth nodes.

The README network (E, I -> E, I; population depth spread 75 µm), probes: the README's
13-channel GaussCylinderPotential LFP, the z-only CDM and 13 point-source contacts on
the column axis.  For each node count N the kernels are compared with those of
``--reference-nodes`` nodes: the worst channel's ``max_tau |H_N - H_ref| / max_tau
|H_ref|`` over every (X, Y, channel), and the range of the STD ratio (over tau)
``std(H_N) / std(H_ref)``.  CPU time per computation (this process) beside it, as a
ratio to ``averaging="reference"``.

    python benchmarks/depth_nodes.py [--nodes 1,2,3,4,5,6,7,9,12] [--g-eff both]

The default node count of ``compute_kernels`` (``KernelOptions().depth_nodes``) is chosen from
this table: the smallest odd N whose STD ratios are within ±2.5 % of converged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
#: synapses linearised at rest (both averaging modes; the setting of the published table)
OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "t_X": 200.0, "Vrest": -65.0, "operating_point": "rest"}


def probes():
    import lfpykit

    import xkernels

    z = GCP["z"]
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None),
            "point": lfpykit.PointSourcePotential(cell=None, x=np.zeros(z.size),
                                                  y=np.zeros(z.size), z=z, sigma=0.3)}


def cpu(fun, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.process_time()
        out = fun()
        best = min(best, time.process_time() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,3,4,5,6,7,9,12")
    parser.add_argument("--reference-nodes", type=int, default=21)
    parser.add_argument("--g-eff", choices=("true", "false", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import xkernels

    net = xkernels.Network.example()
    xkernels.compute_kernels(net, probes(), **OPTIONS)  # warm-up: NEURON, templates
    flags = {"true": [True], "false": [False], "both": [True, False]}[args.g_eff]
    for g_eff in flags:
        opts = {**OPTIONS, "g_eff": g_eff}
        t_ref, _ = cpu(lambda o=opts: xkernels.compute_kernels(net, probes(), **o,
                                                               averaging="reference"),
                       args.repeat)
        converged = xkernels.compute_kernels(net, probes(), averaging="depth",
                                             depth_nodes=args.reference_nodes, **opts)
        print(f"### g_eff={g_eff} (converged: {args.reference_nodes} nodes; "
              f"averaging='reference' {t_ref * 1e3:.0f} ms CPU)\n")
        print("| nodes | worst channel max abs error / max | STD ratio range | CPU ms | "
              "CPU / reference |")
        print("| --- | --- | --- | --- | --- |")
        for n in (int(v) for v in args.nodes.split(",")):
            t, H = cpu(lambda n=n, o=opts: xkernels.compute_kernels(
                net, probes(), averaging="depth", depth_nodes=n, **o), args.repeat)
            err = (abs(H - converged).max("tau") / abs(converged).max("tau"))
            ratio = H.std("tau") / converged.std("tau")
            print(f"| {n} | {float(err.fillna(0).max()):.2e} | "
                  f"{float(ratio.min()):.4f} .. {float(ratio.max()):.4f} | "
                  f"{t * 1e3:.0f} | {t / t_ref:.2f} |", flush=True)
        print()


if __name__ == "__main__":
    main()

"""What ``linearisation="auto"`` costs where the membrane is only known once built.

``"auto"`` takes a membrane built by the user's code (a callable biophysics,
``custom_fun``, a ``mechanisms`` folder, a template of the user's own) quasi-active. On a
passive membrane that gives the passive cable's kernels; this prints how close, and what
it costs against ``"as-is"`` with both solvers, on the README network (the ``passive``
preset) and the same network with its leak inserted by a callable
(``xkernels.engine.biophysics:insert_passive``: the same membrane, only known once
built).  Default options otherwise (depth averaging, g_eff, the mean-input operating
point), probes: the z-only CDM and a 4-contact GaussCylinderPotential LFP.  Wall time per
``compute_kernels``, the runs interleaved, the first (warm-up: mechanisms, templates,
cell caches) dropped, median of the rest.

    nice -n 10 python benchmarks/linearisation_auto.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def callable_network():
    """The README network with its passive leak inserted by a callable."""
    import xkernels

    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        g_pas = pop["cell"]["biophysics"]["g_pas"]
        pop["cell"]["biophysics"] = "xkernels.engine.biophysics:insert_passive"
        pop["cell"]["biophysics_args"] = {"g_pas": g_pas, "e_pas": -65.0}
    return xkernels.Network.from_dict(spec)


def main(repeat: int) -> None:
    import xkernels

    networks = {"preset": xkernels.Network.example(), "callable": callable_network()}
    for name, net in networks.items():
        print(f"{name}: linearisation='auto' resolves to "
              f"{xkernels.KernelOptions().resolve(net).linearisation!r}")
    probes = {"cdm": xkernels.CurrentDipoleMomentZ(),
              "lfp": xkernels.GaussCylinderPotential(z=np.linspace(600.0, -150.0, 4),
                                                     sigma=0.3, R=150.0, sigma_z=75.0)}
    times: dict[tuple, list[float]] = {}
    kernels: dict[tuple, np.ndarray] = {}
    for _ in range(repeat + 1):
        for solver in ("linear", "neuron"):
            for mode in ("as-is", "quasi-active"):
                for name, net in networks.items():
                    start = time.perf_counter()
                    H = xkernels.compute_kernels(net, probes, linearisation=mode,
                                                 solver=solver)
                    times.setdefault((solver, mode, name), []).append(
                        time.perf_counter() - start)
                    kernels[(solver, mode, name)] = H.values
    print("\nwall time per compute_kernels (s), median after the warm-up run")
    for (solver, mode, name), t in times.items():
        print(f"  {solver:6s} {mode:12s} {name:8s} {np.median(t[1:]):.3f}  "
              f"({', '.join(f'{v:.3f}' for v in t[1:])})")
    print("\nquasi-active against as-is: max |difference| / max |as-is|")
    for solver in ("linear", "neuron"):
        for name in networks:
            ref = kernels[(solver, "as-is", name)]
            got = kernels[(solver, "quasi-active", name)]
            print(f"  {solver:6s} {name:8s} {np.abs(got - ref).max() / np.abs(ref).max():.2e}")
    ref = kernels[("neuron", "as-is", "preset")]
    got = kernels[("linear", "quasi-active", "callable")]
    print("  the callable network quasi-active (linear) against the preset as-is (NEURON): "
          f"{np.abs(got - ref).max() / np.abs(ref).max():.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (after a warm-up)")
    main(parser.parse_args().repeat)

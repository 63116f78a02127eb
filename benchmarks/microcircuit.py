"""Benchmark: the 64 kernels of the Potjans & Diesmann microcircuit (8 x 8 populations).

1. xkernels.compute_kernels (one call, all 64 kernels of ``Network.microcircuit(
   thalamus=False)``, network construction included) against lfpykernels 0.2.0
   computing the same 64 kernels through its own API (one ``KernelApprox`` per Y,
   ``get_kernel`` per X, as its README does), same process, same probes: a 16-contact
   laminar GaussCylinderPotential LFP (0 to -1500 µm, 100 µm spacing) + z-only CDM.
   Prints both timings, the speed-up and the largest deviation.
2. A 1000-point sweep of one connection's weight x mean delay (L4E -> L2/3E) through
   the superposition fast path (``method="superposition"``, in this process:
   ``client="sync"``), timed, and a few points checked against compute_kernels.  The
   sweep runs on the two populations of that connection
   (``Network.microcircuit(populations=["L23E", "L4E"], thalamus=False)``, 2 x 2
   kernels per point, tau = 25 ms): the full 8 x 8 output of 1000 points would be
   1000 x 64 x 19 x 1601 doubles = 15.6 GB, and the other 60 kernels do not change.
3. The cost of ``averaging="depth"`` against ``"reference"`` on the same 64 kernels
   (CPU time of this process, interleaved, best of ``--repeat``).  The LFP probe there
   has ``sigma_z`` = 150 µm: in depth mode a GaussCylinder's ``sigma_z`` is the total depth
   smoothing and must be >= every population's ``scale`` (L2/3: 146 µm), so the 100 µm
   of 1. is refused; the cost does not depend on ``sigma_z``.

    python benchmarks/microcircuit.py [--repeat 3] [--weights 40 --delays 25]
        [--skip-reference] [--depth-nodes 5]

1.-3. use LFPykernels' approximation (``averaging="reference"``; g_eff off, so the
operating point resolves to ``"rest"``).  With ``--defaults`` (issue 25) instead: the 64
kernels with the defaults (``averaging="depth"``; on this current-based network g_eff
and the operating point resolve to off and ``"rest"``), with the old defaults
(``averaging="reference"``) and with lfpykernels 0.2.0, interleaved in one run (wall
clock, best of ``--repeat``), all with the ``sigma_z`` = 150 µm LFP probe of 3.

    python benchmarks/microcircuit.py --defaults [--repeat 2]

With ``--solver``: ``solver="linear"`` against ``solver="neuron"`` on the 64 kernels
(benchmarks/linear_solver.py).

    python benchmarks/microcircuit.py --solver [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GCP = {"z": -100.0 * np.arange(16), "sigma": 0.3, "R": 564.19, "sigma_z": 100.0}
OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "t_X": 500.0, "Vrest": -65.0, "g_eff": False}
#: LFPykernels' approximation in the native API (the defaults before issue 25)
REFERENCE = {"averaging": "reference", "operating_point": "rest"}
W = "connections[L4E->L23E].synapse.weight"
D = "connections[L4E->L23E].delay.params.loc"


def network():
    import xkernels

    return xkernels.Network.microcircuit(thalamus=False)


def probes(sigma_z: float = GCP["sigma_z"]):
    import xkernels

    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **dict(GCP, sigma_z=sigma_z)),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def run_xkernels():
    import xkernels

    return xkernels.compute_kernels(network(), probes(), **OPTIONS, **REFERENCE)


def defaults_cost(repeat: int) -> None:
    """Wall-clock time of the 64 kernels with the defaults, the old defaults and
    lfpykernels 0.2.0, interleaved (each round runs all three), best of ``repeat``."""
    import xkernels

    sigma_z = 150.0
    defaults = {k: v for k, v in OPTIONS.items() if k != "g_eff"}  # g_eff: "auto"
    runs = {
        "defaults": lambda: xkernels.compute_kernels(network(), probes(sigma_z), **defaults),
        "old defaults": lambda: xkernels.compute_kernels(network(), probes(sigma_z),
                                                         **OPTIONS, **REFERENCE),
        "lfpykernels 0.2.0": lambda: run_reference(network(), sigma_z),
    }
    from kernels import report_defaults_cost  # benchmarks/kernels.py (this folder)

    report_defaults_cost(f"microcircuit (current-based), 16-contact LFP (sigma_z = "
                         f"{sigma_z} µm) + CDM", runs, repeat)


def depth_cost(repeat: int, nodes: int) -> None:
    """CPU time of averaging="depth" against "reference" (interleaved, best of repeat)."""
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **dict(GCP, sigma_z=150.0)),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    ref, depth = [], []
    for _ in range(repeat):
        start = time.process_time()
        xkernels.compute_kernels(network(), probes, **OPTIONS, averaging="reference")
        ref.append(time.process_time() - start)
        start = time.process_time()
        xkernels.compute_kernels(network(), probes, **OPTIONS, averaging="depth",
                                 depth_nodes=nodes)
        depth.append(time.process_time() - start)
    print(f"averaging='depth' (depth_nodes={nodes}) vs 'reference', 64 kernels, LFP "
          f"sigma_z = 150 µm, CPU time: reference {min(ref):.3f} s, depth {min(depth):.3f} s, "
          f"ratio {min(depth) / min(ref):.2f} (best of {repeat}, interleaved)")


def run_reference(net, sigma_z: float = GCP["sigma_z"]) -> dict:
    import lfpykernels
    from _microcircuit_reference import kernel_approx_arguments

    out = {}
    for Y in net.postsynaptic:
        approx = lfpykernels.KernelApprox(**kernel_approx_arguments(net, Y))
        for X in net.presynaptic:
            probe_list = [lfpykernels.GaussCylinderPotential(cell=None,
                                                             **dict(GCP, sigma_z=sigma_z)),
                          lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
            out[X, Y] = approx.get_kernel(probe_list, X=X, **OPTIONS)
    return out


def worst(H, ref: dict) -> float:
    """max |dH| / max |H_ref| over the pairs (per probe, relative to that probe's
    largest kernel over all pairs: pairs with C = 0 are zero in both)."""
    out = 0.0
    for name, key in (("lfp", "GaussCylinderPotential"),
                      ("cdm", "KernelApproxCurrentDipoleMoment")):
        scale = max(np.abs(r[key]).max() for r in ref.values())
        for (X, Y), kernels in ref.items():
            ours = H.sel(X=X, Y=Y).xk.probe(name).values
            theirs = kernels[key]
            if name == "cdm":  # ours is the z-only dipole (one channel), theirs (x, y, z)
                theirs = theirs[2:3]
            out = max(out, np.abs(ours - theirs).max() / scale)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--solver", action="store_true",
                        help="solver='linear' against solver='neuron' instead "
                             "(benchmarks/linear_solver.py)")
    parser.add_argument("--weights", type=int, default=40)
    parser.add_argument("--delays", type=int, default=25)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--depth-nodes", type=int, default=None)
    parser.add_argument("--defaults", action="store_true",
                        help="only the cost of the defaults against the old defaults and "
                             "lfpykernels 0.2.0")
    args = parser.parse_args()
    if args.solver:
        import linear_solver

        linear_solver.compare("microcircuit (64 kernels)", linear_solver.microcircuit, args.repeat)
        return
    import xkernels
    from xkernels.engine.mechanisms import load_mechanisms

    load_mechanisms()
    if args.defaults:
        defaults_cost(args.repeat)
        return
    run_xkernels()  # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        H = run_xkernels()
        times.append(time.perf_counter() - start)
    t_ours = min(times)
    n = H.sizes["X"] * H.sizes["Y"]
    print(f"xkernels          : {t_ours:8.3f} s for {n} kernels "
          f"({t_ours / n * 1e3:.1f} ms/kernel; best of {args.repeat})")
    if not args.skip_reference:
        net = network()
        start = time.perf_counter()
        ref = run_reference(net)
        t_ref = time.perf_counter() - start
        print(f"lfpykernels 0.2.0 : {t_ref:8.3f} s for {len(ref)} kernels "
              f"({t_ref / len(ref) * 1e3:.0f} ms/kernel; one run)")
        print(f"speed-up          : {t_ref / t_ours:8.1f} x")
        print(f"max |dH| / max |H_ref| (per probe): {worst(H, ref):.2e}")
    depth_cost(args.repeat, args.depth_nodes or xkernels.KernelOptions().depth_nodes)

    base = xkernels.Network.microcircuit(populations=["L23E", "L4E"], thalamus=False)
    sweep_options = dict(OPTIONS, tau=25.0, **REFERENCE)
    w0 = base.connection("L4E", "L23E").synapse.weight
    d0 = base.connection("L4E", "L23E").delay.params["loc"]
    grid = {W: list(np.linspace(0.25, 2.0, args.weights) * w0),
            D: list(np.linspace(0.5, 2.0, args.delays) * d0)}
    points = args.weights * args.delays
    start = time.perf_counter()
    S = xkernels.sweep(base, grid, probes(), method="superposition", client="sync",
                       progress=False, **sweep_options)
    t_sweep = time.perf_counter() - start
    print(f"{points}-point sweep ({W} x {D}), superposition, client='sync': "
          f"{t_sweep:.2f} s ({t_sweep / points * 1e3:.2f} ms/point; {S.sizes})")
    rng = np.random.default_rng(0)
    err = 0.0
    for _ in range(3):
        i, j = rng.integers(args.weights), rng.integers(args.delays)
        net = base.to_dict()
        for c in net["connections"]:
            if (c["pre"], c["post"]) == ("L4E", "L23E"):
                c["synapse"]["weight"] = grid[W][i]
                c["delay"]["params"]["loc"] = grid[D][j]
        direct = xkernels.compute_kernels(xkernels.Network.from_dict(net), probes(),
                                          **sweep_options)
        point = S.isel({S.dims[0]: i, S.dims[1]: j})
        err = max(err, float(abs(point - direct).max() / abs(direct).max()))
    print(f"sweep vs compute_kernels on 3 random points: max |dH|/max|H| = {err:.1e}")


if __name__ == "__main__":
    main()

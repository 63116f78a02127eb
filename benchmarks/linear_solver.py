"""Benchmark: solver="linear" against solver="neuron" (issue 23), same process.

1. The README network (2 x 2 kernels, 13-channel LFP + CDM, tau = 50 ms, g_eff on;
   LFPykernels' approximation, then the default options: depth averaging at the
   mean-input operating point) and the microcircuit's 64 kernels (16-channel LFP + CDM,
   g_eff off), ``compute_kernels`` with each solver, interleaved, best of ``--repeat``
   CPU times; the largest deviation per channel relative to the channel's peak.
2. A large reconstructed cell: a NeuroMorpho reconstruction shipped with Brian2
   (benchmarks/cells/mp_ma_40984_gc2.CNG.swc, loaded without a template) with segments
   of at most 1.5 µm (1205 segments) as both populations of the README network: the
   first call (NEURON cell read, sparse factorisation: stepped) and a repeated one, with the peak
   memory the linear solver allocates (tracemalloc).
3. A 100-point sweep of the E->E ``tau2`` x the E ``rate`` with g_eff on the README
   network (every point changes the membrane), default client and method, reference
   and default options, against the per-point path (``method="simulate"``) in the same
   run, with points checked against ``compute_kernels(solver="neuron")``.
4. ``kernel_batch`` of 1000 parameter sets (E->E ``tau2`` x E ``rate`` with g_eff; E->E
   weight x delay; tau 20 and 50 ms; reference and default options) against the
   per-point path (a zipped sweep), samples checked against
   ``compute_kernels(solver="neuron")``, and where its time goes with the defaults.
5. Where the time of one README computation goes (cProfile, by stage).

Networks and probes are built once; the timed call is ``compute_kernels`` itself.

    python benchmarks/linear_solver.py [--repeat 5] [--skip-large] [--skip-profile]
    python benchmarks/linear_solver.py --figure docs/linear_solver.png
    python benchmarks/linear_solver.py --batch-only        # parts 3 and 4

``benchmarks/kernels.py --solver`` and ``benchmarks/microcircuit.py --solver`` run
part 1 for their network.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CELLS = Path(__file__).resolve().parent / "cells"
README_GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0,
              "sigma_z": 75.0}
README_OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "t_X": 500.0, "Vrest": -65.0, "g_eff": True,
                  "averaging": "reference", "operating_point": "rest"}


def worst(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference per channel relative to that channel's peak (channels with a
    zero peak skipped; inf if either has a non-finite value)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    out = 0.0
    for c in range(a.shape[2]):
        peak = np.abs(b[:, :, c]).max()
        if peak > 0:
            out = max(out, float(np.abs(a[:, :, c] - b[:, :, c]).max() / peak))
    return out


def compare(name: str, run, repeat: int) -> dict:
    """``run(solver)`` -> kernels, for both solvers, interleaved; best CPU times."""
    run("neuron")
    run("linear")  # warm-up: NEURON libraries, cached cells
    times = {"neuron": [], "linear": []}
    values = {}
    for _ in range(repeat):
        for solver in ("neuron", "linear"):
            start = time.process_time()
            values[solver] = run(solver).values
            times[solver].append(time.process_time() - start)
    t_n, t_l = min(times["neuron"]), min(times["linear"])
    dev = worst(values["linear"], values["neuron"])
    parts = {solver: responses(run, solver) for solver in ("neuron", "linear")}
    print(f"{name}: neuron {1e3 * t_n:.1f} ms, linear {1e3 * t_l:.1f} ms CPU "
          f"(best of {repeat}): {t_n / t_l:.1f}x; largest deviation {dev:.2e} of the "
          f"channel peak.  The responses alone (profiled; linear: with delays and window): "
          f"neuron {1e3 * parts['neuron']:.1f} ms, linear {1e3 * parts['linear']:.2f} ms: "
          f"{parts['neuron'] / parts['linear']:.0f}x", flush=True)
    return {"neuron": t_n, "linear": t_l, "deviation": dev}


def responses(run, solver: str, repeat: int = 3) -> float:
    """Seconds per computation spent in the membrane responses (the part the solver
    replaces): cumulative time of ``LinearisedMembrane.signal`` (and, for the linear
    solver, ``LinearCable.kernels``: responses with the delay smearing and the window),
    best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        prof = cProfile.Profile()
        prof.enable()
        run(solver)
        prof.disable()
        stats = pstats.Stats(prof).stats
        best = min(best, sum(v[3] for k, v in stats.items()
                             if (k[0].endswith("membrane.py") and k[2] == "signal")
                             or (k[0].endswith("cable.py") and k[2] == "kernels")))
    return best


def _readme_inputs():
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    return xkernels.Network.example(), probes


_INPUTS: dict = {}


def _inputs(name, make):
    """Network and probes, built once: the timed call is ``compute_kernels`` alone."""
    if name not in _INPUTS:
        _INPUTS[name] = make()
    return _INPUTS[name]


def readme(solver: str):
    import xkernels

    net, probes = _inputs("readme", _readme_inputs)
    return xkernels.compute_kernels(net, probes, solver=solver, **README_OPTIONS)


def readme_defaults(solver: str):
    """The README network with the default options (depth averaging at the mean-input
    operating point on this conductance-based network)."""
    import xkernels

    net, probes = _inputs("readme", _readme_inputs)
    return xkernels.compute_kernels(net, probes, solver=solver, dt=2 ** -4, tau=50.0)


def _microcircuit_inputs():
    import xkernels

    gcp = {"z": -100.0 * np.arange(16), "sigma": 0.3, "R": 564.19, "sigma_z": 100.0}
    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **gcp),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    return xkernels.Network.microcircuit(thalamus=False), probes


def microcircuit(solver: str):
    import xkernels

    net, probes = _inputs("microcircuit", _microcircuit_inputs)
    return xkernels.compute_kernels(net, probes, solver=solver,
                                    **{**README_OPTIONS, "g_eff": False})


def large_network():
    """The README network with a 1205-segment reconstructed cell as both populations."""
    import xkernels

    cell = {"morphology": str(CELLS / "mp_ma_40984_gc2.CNG.swc"),  # no template needed
            "biophysics": {"name": "passive", "g_pas": 3e-4, "e_pas": None},
            "params": {"nsegs_method": "fixed_length", "max_nsegs_length": 1.5}}
    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"] = cell
    for conn in spec["connections"]:
        conn["placement"]["sections"] = ["allsec"]
    return xkernels.Network.from_dict(spec)


def large_cell() -> None:
    import xkernels
    from xkernels.engine.cells import LinearisedCell

    net = large_network()
    pop = net.population("E")
    with LinearisedCell(pop.cell, pop, 2 ** -4, -65.0) as cell:
        nseg = cell.nseg
    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}

    def run(solver):
        return xkernels.compute_kernels(net, probes, solver=solver, **README_OPTIONS)

    start = time.process_time()
    ref = run("neuron")
    t_neuron = time.process_time() - start
    tracemalloc.start()
    start = time.process_time()
    first = run("linear")
    t_first = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    start = time.process_time()
    run("linear")
    t_again = time.process_time() - start
    start = time.process_time()
    run("neuron")
    t_neuron_again = time.process_time() - start
    kernel_dev = max(float(np.abs(first.values[x, y] - ref.values[x, y]).max()
                           / np.abs(ref.values[x, y]).max())
                     for x in range(2) for y in range(2))
    print(f"large cell ({nseg} segments, 4 kernels): neuron {t_neuron:.2f} s (again "
          f"{t_neuron_again:.2f} s); linear first call {t_first:.2f} s (cell read, "
          f"factorisation; peak {peak / 2 ** 20:.0f} MiB traced), again "
          f"{t_again:.3f} s: {t_neuron_again / t_again:.0f}x; deviation "
          f"{kernel_dev:.1e} of each kernel's peak, {worst(first.values, ref.values):.1e} "
          "of the weakest channel's peak", flush=True)
    # new computations: an E->E weight no earlier call had (with g_eff, E's membrane is
    # new every time), best of 3, interleaved; then the peak memory of one more
    first_conn = net.connections[0]
    path = f"connections[{first_conn.pre}->{first_conn.post}].synapse.weight"
    times: dict[str, list[float]] = {"neuron": [], "linear": []}
    devs = []
    for k in range(3):
        point = net.with_values({path: first_conn.synapse.weight * (1.1 + 0.05 * k)})
        found = {}
        for solver in ("neuron", "linear"):
            start = time.process_time()
            found[solver] = xkernels.compute_kernels(point, probes, solver=solver,
                                                     **README_OPTIONS)
            times[solver].append(time.process_time() - start)
        devs.append(max(float(np.abs(found["linear"].values[x, y]
                                     - found["neuron"].values[x, y]).max()
                              / np.abs(found["neuron"].values[x, y]).max())
                        for x in range(2) for y in range(2)))
    tracemalloc.start()
    xkernels.compute_kernels(net.with_values({path: first_conn.synapse.weight * 1.3}),
                             probes, solver="linear", **README_OPTIONS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t_n, t_l = min(times["neuron"]), min(times["linear"])
    print(f"large cell, new weight each call: neuron {t_n:.2f} s, linear {t_l:.3f} s: "
          f"{t_n / t_l:.0f}x (peak {peak / 2 ** 20:.0f} MiB traced); deviation "
          f"{max(devs):.1e} of each kernel's peak", flush=True)


#: Options of parts 3 and 4: LFPykernels' approximation and the defaults (depth
#: averaging at the mean-input operating point on this conductance-based network).
OPTION_SETS = {"reference options": {"averaging": "reference", "operating_point": "rest",
                                     "g_eff": True},
               "default options": {}}


def sweep_points(n: int = 10, repeat: int = 3) -> None:
    """A 100-point sweep of the E->E tau2 x the E rate with g_eff (13-channel LFP + CDM,
    tau 50 ms), default client and method, against the per-point path
    (``method="simulate"``, in this process) in the same run, interleaved, best of
    ``repeat``."""
    import xkernels

    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    net = xkernels.Network.example()
    tau2 = list(np.linspace(1.0, 4.0, n))
    rate = list(np.linspace(1.0, 10.0, n))
    grid = {"connections[E->E].synapse.tau2": tau2, "populations[E].rate": rate}
    readme("linear")
    for label, extra in OPTION_SETS.items():
        options = {"dt": 2 ** -4, "tau": 50.0, **extra}
        xkernels.sweep(net, {k: v[:2] for k, v in grid.items()}, probes, progress=False,
                       **options)
        cpus, walls, per_points = [], [], []
        for _ in range(repeat):  # interleaved, best CPU times
            start, cpu = time.perf_counter(), time.process_time()
            S = xkernels.sweep(net, grid, probes, progress=False, **options)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            start = time.process_time()
            xkernels.sweep(net, grid, probes, progress=False, client="sync",
                           method="simulate", **options)
            per_points.append(time.process_time() - start)
        cpu, wall, per_point = min(cpus), min(walls), min(per_points)
        devs = []
        for i, j in [(0, 0), (n // 2, n - 1), (n - 1, n // 3)]:
            point = net.with_values({"connections[E->E].synapse.tau2": tau2[i],
                                     "populations[E].rate": rate[j]})
            ref = xkernels.compute_kernels(point, probes, solver="neuron", **options)
            devs.append(worst(S.values[i, j], ref.values))
        print(f"sweep tau2 x rate ({n * n} points, g_eff, {label}, default client and "
              f"method, best of {repeat}): {cpu:.2f} s CPU, {wall:.2f} s wall; per point "
              f"(method='simulate') "
              f"{per_point:.2f} s CPU: {per_point / cpu:.1f}x; 3 points against "
              f"solver='neuron': largest deviation {max(devs):.1e}", flush=True)


#: Stages of one computation: (label, file suffix, function name), cumulative times.
STAGES = (("prepare_kernels (validation, probe definitions, content hash)",
           "engine/kernels.py", "prepare_kernels"),
          ("prepare_population (cell, synapse placement, delay densities)",
           "engine/kernels.py", "prepare_population"),
          ("simulate_population (everything below)", "engine/kernels.py",
           "simulate_population"),
          ("  probe matrices", "engine/kernels.py", "cell_probes_matrix"),
          ("  membrane responses (the solver)", "engine/membrane.py", "signal"),
          ("  delay convolution and window (neuron)", "engine/linearisation.py",
           ("finish_kernel", "finish_kernels")),
          ("  responses, delays and window in modes (linear)", "engine/cable.py",
           "kernels"),
          ("label_kernels (DataArray, values digest)", "engine/kernels.py",
           "label_kernels"))


def stage_times(run, n: int, stages) -> tuple[float, dict[str, float]]:
    """Profile ``run()`` ``n`` times (cProfile): the total and the cumulative time per
    stage ``(label, file suffix, function name or names)``, seconds per call."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        run()
    prof.disable()
    stats = pstats.Stats(prof).stats
    parts = {}
    for label, suffix, name in stages:
        names = name if isinstance(name, tuple) else (name,)
        parts[label] = sum(v[3] for k, v in stats.items()
                           if k[0].endswith(suffix) and k[2] in names) / n
    return sum(v[2] for v in stats.values()) / n, parts


def profile(solver: str = "linear", n: int = 20) -> None:
    """Where the CPU time of one README computation goes, by stage."""
    readme(solver)
    total, parts = stage_times(lambda: readme(solver), n, STAGES)
    print(f"where the time goes, README network, solver={solver!r} (cProfile, mean of {n}; "
          f"total {1e3 * total:.1f} ms with profiling overhead):")
    for label, spent in parts.items():
        print(f"  {label:66s} {1e3 * spent:6.2f} ms")


def batch(n: int = 1000, tau: float = 20.0, repeat: int = 2) -> None:
    """``kernel_batch`` of ``n`` parameter sets against the per-point path (a zipped
    sweep of the same sets, ``method="simulate"``, in this process, interleaved),
    README network, CDM, g_eff; reference and default options; samples checked against
    ``compute_kernels(solver="neuron")``."""
    import xkernels

    net = xkernels.Network.example()
    probes = {"cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    rng = np.random.default_rng(0)
    cases = {"tau2 x rate": {"connections[E->E].synapse.tau2": rng.uniform(1.0, 4.0, n),
                             "populations[E].rate": rng.uniform(0.5, 10.0, n)},
             "E->E weight x delay": {
                 "connections[E->E].synapse.weight": rng.uniform(5e-5, 2e-4, n),
                 "connections[E->E].delay.params.loc": rng.uniform(0.5, 2.5, n)}}
    for label, extra in OPTION_SETS.items():
        options = {"tau": tau, **extra}
        xkernels.kernel_batch(net, probes, {k: v[:2] for k, v in cases["tau2 x rate"].items()},
                              **options)
        for name, values in cases.items():
            m = min(n, 200)
            t_batch = t_sweep = np.inf
            for _ in range(repeat):  # interleaved, best CPU times
                start = time.process_time()
                H = xkernels.kernel_batch(net, probes, values, **options)
                t_batch = min(t_batch, time.process_time() - start)
                start = time.process_time()
                xkernels.sweep(net, {k: list(v[:m]) for k, v in values.items()}, probes,
                               zipped=[list(values)], progress=False, client="sync",
                               method="simulate", **options)
                t_sweep = min(t_sweep, (time.process_time() - start) * n / m)
            devs = []
            for s in (0, n // 2, n - 1):
                point = net.with_values({k: float(v[s]) for k, v in values.items()})
                ref = xkernels.compute_kernels(point, probes, solver="neuron", **options)
                devs.append(worst(H.values[s], ref.values))
            print(f"kernel_batch, {name}, {label}, tau {tau:g} ms, {n} sets, best of "
                  f"{repeat}: {t_batch:.2f} s CPU ({n / t_batch:.0f} sets per second); per "
                  f"point (zipped sweep, "
                  f"{m} sets timed) {n / t_sweep:.0f} per second: {t_sweep / t_batch:.1f}x; "
                  f"3 samples against solver='neuron': largest deviation {max(devs):.1e}",
                  flush=True)


def batch_profile(n: int = 1000, tau: float = 50.0) -> None:
    """Where the CPU time of ``kernel_batch`` goes with the default options (E->E tau2 x
    E rate, CDM), by stage: each stage's function timed (CPU) where kernel_batch calls
    it, without a profiler (cProfile inflates the validation, which is Python calls)."""
    import xkernels
    from xkernels.sweeps import batch as batch_module

    net = xkernels.Network.example()
    probes = {"cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    rng = np.random.default_rng(1)
    values = {"connections[E->E].synapse.tau2": rng.uniform(1.0, 4.0, n),
              "populations[E].rate": rng.uniform(0.5, 10.0, n)}
    xkernels.kernel_batch(net, probes, {k: v[:2] for k, v in values.items()}, tau=tau)
    spent: dict[str, float] = {}
    stages = (("validation of each sample (Network.with_values)", xkernels.Network,
               "with_values"),
              ("eigendecompositions (batch_modes)", batch_module, "batch_modes"),
              ("steady states (batch_rest)", batch_module, "batch_rest"),
              ("kernels from the modes: delays, window (batch_kernels)", batch_module,
               "batch_kernels"),
              ("values digest (XXH3)", batch_module, "values_digest"))
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in stages]

    def timed(label, fun):
        def run(*args, **kwargs):
            start = time.process_time()
            try:
                return fun(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - start
        return run

    for (label, owner, name), (_, _, fun) in zip(stages, originals):
        setattr(owner, name, timed(label, fun))
    try:
        start = time.process_time()
        xkernels.kernel_batch(net, probes, values, tau=tau)
        total = time.process_time() - start
    finally:
        for owner, name, fun in originals:
            setattr(owner, name, fun)
    print(f"where kernel_batch's time goes, defaults, tau {tau:g} ms ({n} sets, CPU time "
          f"per stage; {1e3 * total / n:.2f} ms per set in all):")
    for label, _, _ in stages:
        print(f"  {label:52s} {1e3 * spent.get(label, 0.0) / n:6.3f} ms per set")
    rest = total - sum(spent.values())
    print(f"  {'the rest (planning the samples inputs, options, labels)':52s} "
          f"{1e3 * rest / n:6.3f} ms per set")


def figure(path: Path) -> None:
    """Exactness figure: the README network's kernels from both solvers and their
    difference per lag, relative to each channel's peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    H_n, H_l = readme("neuron"), readme("linear")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    tau = H_n["tau"].values
    for x in H_n.X.values:
        for y in H_n.Y.values:
            cdm_n = H_n.sel(X=x, Y=y).xk.probe("cdm").values[0]
            cdm_l = H_l.sel(X=x, Y=y).xk.probe("cdm").values[0]
            line, = axes[0].plot(tau, cdm_n, lw=2.5, alpha=0.5, label=f"{x}→{y} neuron")
            axes[0].plot(tau, cdm_l, "--", color=line.get_color(), lw=1,
                         label=f"{x}→{y} linear")
            peak = np.abs(H_n.sel(X=x, Y=y).values).max(axis=-1, keepdims=True)
            rel = np.abs(H_l.sel(X=x, Y=y).values - H_n.sel(X=x, Y=y).values) / peak
            axes[1].semilogy(tau[tau > 0], np.maximum(rel.max(axis=0)[tau > 0], 1e-18),
                             color=line.get_color(), lw=1, label=f"{x}→{y}")
    axes[0].set(xlim=(-2, 25), xlabel="τ (ms)", ylabel="CDM kernel (nA µm per spike)",
                title="README network: solver='neuron' vs 'linear'")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].axhline(1e-9, color="k", ls=":", lw=1)
    axes[1].text(tau.max() * 0.98, 1.4e-9, "test tolerance 1e-9", ha="right", fontsize=8)
    axes[1].set(xlabel="τ (ms)", ylabel="|linear − neuron| / channel peak",
                title="largest over the 14 channels", ylim=(1e-17, 1e-7))
    axes[1].legend(fontsize=7)
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--figure", type=Path, default=None,
                        help="only write the exactness figure to this path")
    parser.add_argument("--batch-only", action="store_true",
                        help="only parts 3 and 4 (sweep, kernel_batch) and their profile")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.figure is not None:
        figure(args.figure)
        return
    if args.batch_only:
        sweep_points()
        batch(tau=20.0)
        batch(tau=50.0)
        batch_profile(tau=50.0)
        return
    compare("README network (4 kernels)", readme, args.repeat)
    compare("README network, default options (depth, mean-input)", readme_defaults,
            args.repeat)
    compare("microcircuit (64 kernels)", microcircuit, args.repeat)
    if not args.skip_large:
        large_cell()
    sweep_points()
    batch(tau=20.0)
    batch(tau=50.0)
    if not args.skip_profile:
        batch_profile(tau=50.0)
        profile("linear")
        profile("neuron")


if __name__ == "__main__":
    main()

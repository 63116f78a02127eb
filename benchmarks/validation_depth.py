"""Validation of averaging="depth" against the hybrid ground truth, three networks.

Each network is a variant of the LFPykernels README network (E 8192, I 1024 passive
ball-and-sticks cells), driven by correlated Poisson spikes of every presynaptic neuron
(rates from the specification, shared rate fluctuation of relative STD 0.5, 20 ms
correlation time).  The ground truth (:func:`xkernels.hybrid.simulate`) places
``--cells`` postsynaptic cells (80 % E; a seeded subsample scaled by N / m) at random
depths N(loc, scale) in the population disc, each wired from the full presynaptic
populations with its synapses placed at its own depth; the predictions are the kernels
of ``averaging="reference"`` and ``averaging="depth"`` convolved with the same spikes'
population counts (one ground truth per network, shared through a resumable store).
Scores (signed R², STD ratio prediction / truth) over t >= ``--transient``.

1. ``current``: current-based synapses (Exp2SynI of amplitude ``w (E - Vrest)``), no
   extrinsic input, kernels ``g_eff=False``: a linear network with depth-dependent
   placement (E->: apical/basal around 50 µm, I->: around -100 µm);
2. ``conductance``: the README network itself (conductance-based Exp2Syn, extrinsic
   input as its mean conductance), kernels ``g_eff=True`` (membrane depends on depth);
3. ``flat``: as 1, but every connection placed uniformly by area on the apical
   dendrite (placement does not depend on depth): both modes must agree.

Probes: the LFP at 13 point-source contacts on the column axis (z = 1000 .. -200 µm)
and the z-only current dipole moment (both physical observables of the ground truth).

Criteria (issue 12): with ``averaging="depth"`` the STD ratio within 1 ± 0.12 on every
LFP channel and the CDM, and R² not below that of ``averaging="reference"``.

    python benchmarks/validation_depth.py [--cells 500] [--seconds 1] [--figure PNG]

Prints one markdown table per network and a verdict; ``--figure`` draws the STD ratio
per channel of both modes.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Z = np.linspace(1000.0, -200.0, 13)
TOLERANCE = 0.12      # STD ratio within 1 ± TOLERANCE
R2_SLACK = 0.002      # "R² not below": allowed rounding-level deficit


def networks():
    import xkernels

    readme = xkernels.Network.example()
    d = readme.to_dict()
    for c in d["connections"]:
        s = c["synapse"]
        s["weight"] = s["weight"] * (s["e"] - (-65.0))
        s["syntype"] = "Exp2SynI"
    d["conductance_based"] = False
    for p in d["populations"]:
        p["n_ext"] = 0.0
    current = xkernels.Network.from_dict(d)
    flat = copy.deepcopy(d)
    for c in flat["connections"]:
        c["placement"] = {"sections": ["apic"], "weights": [1.0],
                          "densities": [{"name": "uniform",
                                         "params": {"loc": -1e5, "scale": 2e5}}]}
    return {"current": (current, {"ext": "none", "g_eff": False}),
            "conductance": (readme, {"ext": "mean", "g_eff": True}),
            "flat": (xkernels.Network.from_dict(flat), {"ext": "none", "g_eff": False})}


def probes():
    import lfpykit

    import xkernels

    return {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.zeros(Z.size),
                                                y=np.zeros(Z.size), z=Z, sigma=0.3),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def channels():
    return [f"lfp:{k}" for k in range(Z.size)] + ["cdm:z"]


def table(name: str, ref, depth, seconds: float, nodes: int) -> tuple[str, bool]:
    lines = [f"### {name} ({seconds:.0f} s; depth_nodes={nodes})", "",
             "| channel | R² reference | R² depth | STD ratio reference | STD ratio depth |",
             "| --- | --- | --- | --- | --- |"]
    ok = True
    for ch in channels():
        label = f"{Z[int(ch.split(':')[1])]:.0f} µm" if ch.startswith("lfp") else "CDM z"
        r2a, r2b = (float(ds.r2.sel(probe_channel=ch)) for ds in (ref, depth))
        sa, sb = (float(ds.std_ratio.sel(probe_channel=ch)) for ds in (ref, depth))
        good = abs(sb - 1) <= TOLERANCE and r2b >= r2a - R2_SLACK
        ok &= good
        lines.append(f"| {label} | {r2a:.3f} | {r2b:.3f} | {sa:.2f} | {sb:.2f}"
                     f"{'' if good else ' ✗'} |")
    lines.append("")
    for probe in ("lfp", "cdm"):
        a, b = (ds.prediction.where(ds.probe == probe, drop=True) for ds in (depth, ref))
        diff = float(np.abs(a - b).max() / np.abs(b).max())
        lines.append(f"{probe}: max |prediction depth - reference| / max |reference| = "
                     f"{diff:.3g}  ")
    return "\n".join(lines), ok


def figure(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4.2), sharey=True)
    for ax, (name, (ref, depth)) in zip(np.atleast_1d(axes), results.items()):
        for ds, label, marker in ((ref, "reference", "o"), (depth, "depth", "s")):
            ratio = [float(ds.std_ratio.sel(probe_channel=f"lfp:{k}")) for k in range(Z.size)]
            ax.plot(ratio, Z, marker=marker, label=label)
            ax.plot([float(ds.std_ratio.sel(probe_channel="cdm:z"))], [1150.0],
                    marker=marker, linestyle="none", color=ax.lines[-1].get_color())
        ax.axvspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.9", zorder=0)
        ax.axvline(1.0, color="0.5", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("STD ratio (prediction / ground truth)")
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("contact depth (µm); top: CDM")
    first.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--transient", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--depth-nodes", type=int, default=None)
    parser.add_argument("--networks", default="current,conductance,flat")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--workdir", default=None,
                        help="directory of the ground-truth stores (kept; default: temporary)")
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    from xkernels.engine.averaging import DEFAULT_DEPTH_NODES
    from xkernels.hybrid import correlated_poisson, validate

    nodes = args.depth_nodes or DEFAULT_DEPTH_NODES
    t_stop = 1000.0 * args.seconds
    nets = networks()
    n_e = int(round(0.8 * args.cells))
    results, verdict = {}, {}
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in args.networks.split(","):
            net, options = nets[name]
            sizes = {p.name: p.size for p in net.populations}
            rates = {p.name: p.rate for p in net.populations}
            spikes = correlated_poisson(sizes, rates, t_stop=t_stop, seed=args.seed,
                                        fluctuation=0.5, tau_c=20.0)
            common = dict(t_stop=t_stop, transient=args.transient, seed=args.seed,
                          client=client, progress=False,
                          store=workdir / f"{name}-{args.cells}-{args.seconds:g}.zarr",
                          n_cells={"E": n_e, "I": args.cells - n_e}, **options)
            start = time.perf_counter()
            ref = validate(net, spikes, probes(), averaging="reference", n_positions=20000,
                           **common)
            depth = validate(net, spikes, probes(), averaging="depth", depth_nodes=nodes,
                             **common)
            text, ok = table(name, ref, depth, time.perf_counter() - start, nodes)
            print(text, flush=True)
            print(flush=True)
            results[name] = (ref, depth)
            verdict[name] = ok
    for name, ok in verdict.items():
        print(f"{name}: {'PASS' if ok else 'FAIL'} (STD ratio within 1 ± {TOLERANCE} on "
              f"every channel, R² not below reference)")
    if args.figure:
        figure(results, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()

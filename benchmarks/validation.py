"""Validation table: how good is the kernel prediction, per channel, for three networks.

Each network is the LFPykernels README network (E 8192, I 1024 passive ball-and-sticks
cells; every presynaptic neuron's spikes generated as correlated Poisson trains at the
specified rates, E 2.5 and I 5 spikes/s, with a shared rate fluctuation of relative
STD 0.5 and 20 ms correlation time).  The ground truth simulates a seeded subsample of
``--cells`` postsynaptic cells (80 % E) wired from the full presynaptic populations and
scales each population's sum by N / m (``n_cells``); the prediction is
``compute_kernels`` convolved with the same spikes' population counts.  Scores
(signed R², STD ratio prediction / truth) over t >= ``--transient``:

1. ``readme``: conductance-based Exp2Syn synapses, extrinsic input as its mean
   conductance with its reversal potential (``ext="mean"``, the default), kernels
   with ``g_eff=True``, Vrest -65 mV;
2. ``current``: the same network with current-based synapses of the linearised
   amplitude ``w (E - Vrest)`` (Exp2SynI), no extrinsic input, kernels ``g_eff=False``;
3. ``poisson-ext``: as 1, but the extrinsic input simulated as Poisson trains onto
   real Exp2Syn conductances (``ext="poisson"``): the full test of the g_eff
   linearisation;
4. ``leak-ext``: as 1, but the extrinsic conductance with the leak's reversal
   potential (``ext="leak"``: shunting without drive, the literal g_eff picture).

Probes: 13 point-source contacts on the column axis (z = 1000 .. -200 µm), the README's
GaussCylinderPotential LFP at the same depths, and the z-only current dipole moment.

    python benchmarks/validation.py [--cells 500] [--seconds 1] [--networks readme,...]

Prints one markdown table per network.

With ``--active``: the active README network (``Network.example(active=True)``: Na/K in
the soma, apical I_h; extrinsic input as its mean conductance, ``ext="mean"``), one
ground truth (cells simulated as they are, from v_init: use a longer ``--transient``)
against the kernels of every ``linearisation`` (``g_eff=True``); prints one table with
R² and STD ratio per channel and mode.

    python benchmarks/validation.py --active [--cells 500] [--seconds 1] [--transient 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Z = np.linspace(1000.0, -200.0, 13)


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
    return {"readme": (readme, {"ext": "mean", "g_eff": True}),
            "current": (current, {"ext": "none", "g_eff": False}),
            "poisson-ext": (readme, {"ext": "poisson", "g_eff": True}),
            "leak-ext": (readme, {"ext": "leak", "g_eff": True})}


def probes():
    import lfpykit

    import xkernels

    return {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.zeros(Z.size),
                                                y=np.zeros(Z.size), z=Z, sigma=0.3),
            "gauss": xkernels.GaussCylinderPotential(z=Z, sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def table(name: str, ds, options: dict, seconds: float) -> str:
    lines = [f"### {name} ({', '.join(f'{k}={v}' for k, v in options.items())}; "
             f"{seconds:.0f} s)", "",
             "| depth (µm) | R² point source | STD ratio point source | R² Gauss cylinder "
             "| STD ratio Gauss cylinder |", "| --- | --- | --- | --- | --- |"]
    for k, z in enumerate(Z):
        a, b = f"lfp:{k}", f"gauss:{k}"
        lines.append(f"| {z:.0f} | {float(ds.r2.sel(probe_channel=a)):.3f} | "
                     f"{float(ds.std_ratio.sel(probe_channel=a)):.2f} | "
                     f"{float(ds.r2.sel(probe_channel=b)):.3f} | "
                     f"{float(ds.std_ratio.sel(probe_channel=b)):.2f} |")
    lines.append(f"| CDM z | {float(ds.r2.sel(probe_channel='cdm:z')):.3f} | "
                 f"{float(ds.std_ratio.sel(probe_channel='cdm:z')):.2f} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--transient", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--networks", default="readme,current,poisson-ext,leak-ext")
    parser.add_argument("--active", action="store_true",
                        help="the active network against every linearisation instead")
    args = parser.parse_args()
    if args.active:
        run_active(args)
        return

    from dask.distributed import Client, LocalCluster

    from xkernels.hybrid import correlated_poisson, validate

    t_stop = 1000.0 * args.seconds
    nets = networks()
    chosen = args.networks.split(",")
    n_e = int(round(0.8 * args.cells))
    with LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        for name in chosen:
            net, options = nets[name]
            sizes = {p.name: p.size for p in net.populations}
            rates = {p.name: p.rate for p in net.populations}
            spikes = correlated_poisson(sizes, rates, t_stop=t_stop, seed=args.seed,
                                        fluctuation=0.5, tau_c=20.0)
            start = time.perf_counter()
            ds = validate(net, spikes, probes(), t_stop=t_stop, transient=args.transient,
                          seed=args.seed, client=client, progress=False,
                          n_cells={"E": n_e, "I": args.cells - n_e}, **options)
            print(table(name, ds, {**options, "cells": f"{n_e}+{args.cells - n_e}"},
                        time.perf_counter() - start), flush=True)
            print(flush=True)


LINEARISED = ("as-is", "passive", "frozen", "quasi-active")


def run_active(args) -> None:
    """One ground truth of the active network, the kernels of every linearisation."""
    import tempfile

    from dask.distributed import Client, LocalCluster

    import xkernels
    from xkernels.hybrid import correlated_poisson, validate

    net = xkernels.Network.example(active=True)
    t_stop = 1000.0 * args.seconds + args.transient
    sizes = {p.name: p.size for p in net.populations}
    rates = {p.name: p.rate for p in net.populations}
    spikes = correlated_poisson(sizes, rates, t_stop=t_stop, seed=args.seed,
                                fluctuation=0.5, tau_c=20.0)
    n_e = int(round(0.8 * args.cells))
    results = {}
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        for mode in LINEARISED:
            start = time.perf_counter()
            results[mode] = validate(net, spikes, probes(), t_stop=t_stop,
                                     transient=args.transient, seed=args.seed,
                                     client=client, progress=False,
                                     n_cells={"E": n_e, "I": args.cells - n_e},
                                     store=Path(tmp) / "ground_truth.zarr", ext="mean",
                                     g_eff=True, linearisation=mode)
            print(f"{mode}: {time.perf_counter() - start:.0f} s (ground truth simulated in "
                  "the first, read back after)", flush=True)
    header = " | ".join(f"{m}: R² point / Gauss | STD ratio point / Gauss" for m in LINEARISED)
    lines = [f"### active network ({n_e}+{args.cells - n_e} cells, {args.seconds:g} s "
             f"scored after {args.transient:g} ms, ext=mean, g_eff=True)", "",
             f"| depth (µm) | {header} |", "| --- |" + " --- | --- |" * len(LINEARISED)]

    def cell(ds, a, b):
        r2 = f"{float(ds.r2.sel(probe_channel=a)):.3f}"
        sd = f"{float(ds.std_ratio.sel(probe_channel=a)):.2f}"
        if b is not None:
            r2 += f" / {float(ds.r2.sel(probe_channel=b)):.3f}"
            sd += f" / {float(ds.std_ratio.sel(probe_channel=b)):.2f}"
        return f"{r2} | {sd}"

    for k, z in enumerate(Z):
        row = " | ".join(cell(results[m], f"lfp:{k}", f"gauss:{k}") for m in LINEARISED)
        lines.append(f"| {z:.0f} | {row} |")
    row = " | ".join(cell(results[m], "cdm:z", None) for m in LINEARISED)
    lines.append(f"| CDM z | {row} |")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()

"""Validation: a downscaled microcircuit through the hybrid ground truth vs the kernels.

A NEST microcircuit of ``--scale`` times the published sizes (the sizes of
``Network.microcircuit(scale=...)``) produces the spikes; the hybrid scheme
(:func:`xkernels.validate`) places, wires (the specification's in-degrees) and simulates
every cell of the 8 populations with those spikes; the kernel prediction convolves the
same spikes with the kernels of the same (scaled) network.  Prints R² and the STD ratio
(prediction / ground truth) per channel: LFP at 16 depths and the CDM.

    python benchmarks/microcircuit_validation.py [--scale 0.01] [--t-stop 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--t-stop", type=float, default=600.0)
    parser.add_argument("--transient", type=float, default=200.0)
    parser.add_argument("--k-scaling", type=float, default=0.1)
    args = parser.parse_args()
    import xkernels
    from xkernels.app import microcircuit as nest_mc
    from xkernels.spec import microcircuit as mc

    net = xkernels.Network.microcircuit(scale=args.scale)
    params = nest_mc.MicrocircuitParams(n_scaling=args.scale, k_scaling=args.k_scaling)
    start = time.perf_counter()
    spikes = nest_mc.simulate_microcircuit(args.t_stop, params=params)
    t_nest = time.perf_counter() - start
    assert {k: len(v) for k, v in spikes.populations.items()} == \
        {p.name: p.size for p in net.populations}
    probes = {"lfp": xkernels.GaussCylinderPotential(z=-100.0 * np.arange(16), sigma=0.3,
                                                     R=mc.COLUMN_RADIUS, sigma_z=100.0),
              "cdm": xkernels.CurrentDipoleMomentZ()}
    start = time.perf_counter()
    ds = xkernels.validate(net, {"times": spikes.times, "senders": spikes.senders,
                                 "populations": spikes.populations}, probes,
                           t_stop=args.t_stop, transient=args.transient, tau=25.0,
                           progress=False)
    t_val = time.perf_counter() - start
    n_cells = sum(p.size for p in net.populations if p.cell is not None)
    print(f"scale {args.scale}: {n_cells} cells, {args.t_stop:.0f} ms "
          f"(scores over t >= {args.transient:.0f} ms); NEST {t_nest:.0f} s, "
          f"validate {t_val:.0f} s")
    print("rates (spikes/s):", {k: round(v, 2)
                                for k, v in spikes.mean_rates(args.transient).items()})
    for ch in ds.probe_channel.values:
        print(f"{ch:10s} R2 = {float(ds.r2.sel(probe_channel=ch)):6.3f}   "
              f"STD ratio = {float(ds.std_ratio.sel(probe_channel=ch)):5.2f}")


if __name__ == "__main__":
    main()

"""Is the conductance-based ground truth linear in the presynaptic rate?  (A diagnostic.)

Reads the ground truths of ``validation_depth.py --workdir DIR`` (conductance network)
and compares their CDM with the depth-mode kernel prediction (Vrest -65 mV, g_eff of
the specified rates) as a function of the instantaneous presynaptic rate: the samples
(t >= transient) are split into terciles of the population rate of all presynaptic
neurons over the past ``--window`` ms, and in each the local gain (least-squares slope
of ground truth on prediction, both centred in the tercile) and the STD ratio are
reported.  A linear system has the same gain in every tercile; shunting and driving
force changes make the ground truth's gain fall with the rate.  ``--network current``
(the linear current-based network) is the control.

    python benchmarks/conductance_gain.py --workdir DIR [--cells 500] [--seeds 1234,99]
        [--network conductance]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--seeds", default="1234,99")
    parser.add_argument("--shanks", type=int, default=7)
    parser.add_argument("--ring", type=float, default=75.0)
    parser.add_argument("--transient", type=float, default=100.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--network", default="conductance")
    parser.add_argument("--fluctuation", type=float, default=0.5)
    args = parser.parse_args()

    import xarray as xr
    from validation_depth import fluct_tag, networks, predict

    import xkernels
    from xkernels.hybrid import correlated_poisson

    net, options = networks()[args.network]
    t_stop, dt = 1000.0 * args.seconds, 2.0 ** -4
    print(f"{args.network} network, CDM, depth-mode prediction, fluctuation "
          f"{args.fluctuation:g}")
    print()
    print("| seed | rate tercile (spikes/s per neuron, E+I) | gain GT/prediction | "
          "STD ratio | overall gain | overall STD ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed in (int(s) for s in args.seeds.split(",")):
        spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                    {p.name: p.rate for p in net.populations},
                                    t_stop=t_stop, seed=seed, fluctuation=args.fluctuation,
                                    tau_c=20.0)
        store = Path(args.workdir) / (f"{args.network}-{args.cells}-{args.seconds:g}-s{seed}-"
                                      f"k{args.shanks}-r{args.ring:g}"
                                      f"{fluct_tag(args)}.zarr")
        gt = xr.open_zarr(store, consolidated=False)["ground_truth"].sum("Y")
        truth = gt.sel(probe_channel="cdm:z").values
        pred = predict(net, spikes, {"cdm": xkernels.CurrentDipoleMomentZ()}, t_stop=t_stop,
                       dt=dt, channels=["cdm:z"], averaging="depth", g_eff=options["g_eff"])[0]
        n = int(round(t_stop / dt))
        counts = np.zeros(n)
        for p in net.populations:
            t = spikes.population_times(p.name)
            counts += np.bincount(np.minimum((t / dt).astype(int), n - 1), minlength=n)
        width = int(round(args.window / dt))
        rate = np.convolve(counts, np.ones(width) / width)[:n] / (   # the past window
            sum(p.size for p in net.populations) * dt / 1000.0)
        keep = np.arange(n) * dt >= args.transient
        r, a, b = rate[keep], truth[keep], pred[keep]
        edges = np.quantile(r, [0, 1 / 3, 2 / 3, 1])
        overall_gain = np.polyfit(b - b.mean(), a - a.mean(), 1)[0]
        for j in range(3):
            sel = (r >= edges[j]) & (r <= edges[j + 1])
            x, y = b[sel] - b[sel].mean(), a[sel] - a[sel].mean()
            gain = (x * y).sum() / (x * x).sum()
            print(f"| {seed} | {edges[j]:.2f}–{edges[j + 1]:.2f} | {gain:.3f} | "
                  f"{x.std() / y.std():.3f} | {overall_gain:.3f} | {b.std() / a.std():.3f} |")


if __name__ == "__main__":
    main()

"""Off-axis point contacts in averaging="depth": the flat network's kernels of both modes.

In the *flat* network of ``validation_depth.py`` (every synapse placed uniformly by area
on the apical dendrite) the currents do not depend on the soma depth, so both averaging
modes compute the same population kernel; they differ only in how the probe is
averaged over cell positions (depth: deterministic disc and depth integrals,
``xkernels.probes.lateral``/``depth``; reference: ``n_positions`` random positions).
For contacts off the column axis, the depth-mode kernel must agree with the reference
kernel within the reference's Monte-Carlo error: the reference is the mean over
``--seeds`` position seeds, its standard error the spread of those seeds / sqrt(seeds).

The reference (like the hybrid ground truth, lfpykit) keeps every source at least
``r_limit`` (half the segment diameter) from a contact; depth mode does not (its effect
on a disc average is of relative order (r_limit / R)²).  ``--no-r-limit`` removes
``r_limit`` from the reference's random positions (a diagnostic: the remaining
difference is then the reference's Monte-Carlo error).

    python benchmarks/offaxis_check.py [--offset 75] [--n-positions 200000] [--seeds 4]
        [--no-r-limit]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offset", type=float, default=75.0, help="lateral offset (µm)")
    parser.add_argument("--n-positions", type=int, default=200000)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--no-r-limit", action="store_true",
                        help="reference without lfpykit's r_limit (diagnostic)")
    args = parser.parse_args()

    import lfpykit
    from validation_depth import Z, networks

    import xkernels

    if args.no_r_limit:
        import xkernels.probes.population_average as averaging

        vectorised = averaging.average_contacts_vectorised

        def without_r_limit(method, probe, geometry, offsets):
            def point(**kw):
                kw["r_limit"] = kw["r_limit"] * 1e-9
                return method(**kw)
            return vectorised(point, probe, geometry, offsets)

        averaging.average_contacts_vectorised = without_r_limit
    net, options = networks()["flat"]
    x = np.full(Z.size, args.offset)
    probe = {"lfp": lfpykit.PointSourcePotential(cell=None, x=x, y=np.zeros(Z.size), z=Z,
                                                  sigma=0.3)}
    common = dict(g_eff=options["g_eff"], tau=50.0)
    start = time.perf_counter()
    depth = xkernels.compute_kernels(net, probe, averaging="depth", **common)
    refs = [xkernels.compute_kernels(net, probe, averaging="reference",
                                     n_positions=args.n_positions, seed=s, **common)
            for s in range(1, args.seeds + 1)]
    print(f"{time.perf_counter() - start:.0f} s; contacts at x = {args.offset:g} µm, "
          f"reference: mean of {args.seeds} seeds of n_positions = {args.n_positions}"
          f"{' without r_limit' if args.no_r_limit else ''}")
    print()
    print("| contact z | Y | max abs(depth − ref) / max abs(ref) | same, in standard errors "
          "of ref | STD ratio depth / ref |")
    print("| --- | --- | --- | --- | --- |")
    worst_rel = worst_se = 0.0
    for k, z in enumerate(Z):
        ch = f"lfp:{k}"
        for y in [str(v) for v in depth.coords["Y"].values]:
            d = depth.sel(probe_channel=ch, Y=y).sum("X").values
            r = np.array([h.sel(probe_channel=ch, Y=y).sum("X").values for h in refs])
            mean = r.mean(axis=0)
            se = r.std(axis=0, ddof=1) / np.sqrt(len(refs))
            i = np.argmax(np.abs(d - mean))
            rel = np.abs(d - mean).max() / np.abs(mean).max()
            in_se = np.abs(d - mean)[i] / se[i]
            worst_rel, worst_se = max(worst_rel, rel), max(worst_se, in_se)
            print(f"| {z:.0f} µm | {y} | {rel:.1e} | {in_se:.1f} | {d.std() / mean.std():.4f} |")
    print()
    print(f"largest deviation: {worst_rel:.2e} of the kernel's peak; {worst_se:.1f} standard "
          "errors (at the lag of the largest deviation)")


if __name__ == "__main__":
    main()

"""Benchmark: probe matrices of xkernels vs the LFPykernels 0.2.0 reference.

Prints wall-clock times (best of a few repeats) and ratios measured in the same run:

* GaussCylinderPotential (13 contacts, 27-segment cell): reference scipy quad per
  entry vs the vectorised closed-form/trapezoid evaluation, plus the max deviation;
* a larger case (64 contacts x 400 segments) for xkernels only vs reference
  extrapolated per entry;
* PointSource/LineSource population averaging over 2000 positions: the reference-style
  loop (one get_transformation_matrix per position) vs ``probe_matrix``.

Run: ``python benchmarks/probes.py``.  Timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import time
import warnings

import lfpykit
import numpy as np

from xkernels.probes import GaussCylinderPotential, draw_offsets, probe_matrix

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lfpykernels


def geometry(n_apical: int = 21) -> lfpykit.CellGeometry:
    za = np.linspace(15.0, 1015.0, n_apical + 1)
    zb = np.linspace(-15.0, -215.0, 6)
    seg = np.array([(-15.0, 15.0, 30.0)] + [(zb[i], zb[i + 1], 2.0) for i in range(5)]
                   + [(za[i], za[i + 1], 3.0) for i in range(n_apical)])
    n = len(seg)
    return lfpykit.CellGeometry(np.zeros((n, 2)), np.zeros((n, 2)), seg[:, :2], seg[:, 2].copy())


def best(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    geom = geometry()
    z = np.linspace(-200.0, 1000.0, 13)
    ref = lfpykernels.GaussCylinderPotential(geom, z=z, sigma=0.3, R=100, sigma_z=50.0)
    fast = GaussCylinderPotential(geom, z=z, sigma=0.3, R=100.0, sigma_z=50.0)
    t_ref, M_ref = best(ref.get_transformation_matrix, 2)
    t_fast, M_fast = best(fast.get_transformation_matrix, 5)
    dev = np.abs(M_fast - M_ref).max() / np.abs(M_ref).max()
    print(f"GaussCylinder 13x27: reference quad {t_ref * 1e3:8.1f} ms, xkernels "
          f"{t_fast * 1e3:7.2f} ms, ratio {t_ref / t_fast:7.0f}x, max dev {dev:.1e} of max")

    big = geometry(394)
    zb = np.linspace(-300.0, 1100.0, 64)
    t_big, _ = best(GaussCylinderPotential(big, z=zb).get_transformation_matrix, 3)
    per_entry = t_ref / M_ref.size
    print(f"GaussCylinder 64x400: xkernels {t_big * 1e3:8.1f} ms; reference extrapolated "
          f"{per_entry * 64 * 400:6.1f} s, ratio {per_entry * 64 * 400 / t_big:7.0f}x")

    pop = {"radius": 100.0, "loc": 0.0, "scale": 50.0}
    x, y = np.full(13, 20.0), np.zeros(13)
    for cls in (lfpykit.PointSourcePotential, lfpykit.LineSourcePotential):
        probe = cls(None, x=x, y=y, z=z, sigma=0.3)
        offsets = draw_offsets(pop, 2000, seed=1234)

        def loop(probe=probe, offsets=offsets):
            x0, y0, z0 = probe.x, probe.y, probe.z
            probe.cell = geom
            acc = 0.0
            for dx, dy, dz in offsets:
                probe.x, probe.y, probe.z = x0 + dx, y0 + dy, z0 + dz
                acc = acc + probe.get_transformation_matrix()
            probe.x, probe.y, probe.z, probe.cell = x0, y0, z0, None
            return acc / len(offsets)

        t_loop, M_loop = best(loop, 2)
        t_vec, M_vec = best(lambda probe=probe: probe_matrix(probe, geom, pop), 3)
        dev = np.abs(M_vec - M_loop).max() / np.abs(M_loop).max()
        print(f"{cls.__name__:21s} 2000 positions: loop {t_loop * 1e3:7.1f} ms, "
              f"probe_matrix {t_vec * 1e3:6.1f} ms, ratio {t_loop / t_vec:5.1f}x, "
              f"max dev {dev:.1e}")


if __name__ == "__main__":
    main()

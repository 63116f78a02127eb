"""Cost of xkernels.store against plain xarray/zarr baselines measured in the same run.

Run from the worktree root: ``python benchmarks/store.py [N_TAU]``.  Timings on a
shared 2-core machine are noisy: run it a couple of times and read the ratios.

* write: ``write_kernels`` (validation, temporary sibling, fsync, atomic swap) vs
  ``Dataset.to_zarr`` of the same data (same chunks, no fsync, no swap).
* read: ``open_kernels(...).values`` vs ``xr.open_zarr(...).kernels.values``.
* point: ``write_point`` (opens and checks the store, writes the region, flips
  ``done``) vs a raw zarr region assignment of the same values.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import xarray as xr
import zarr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _store_writer import make_kernels, sweep_point, sweep_template  # noqa: E402

import xkernels.store as store  # noqa: E402
from xkernels.store import layout  # noqa: E402


def _best(func, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(n_tau: int = 102_400) -> None:
    root = Path(tempfile.mkdtemp(prefix="xk-store-bench-"))
    try:
        H = make_kernels(1, n_tau)
        mb = H.nbytes / 2**20
        ours_path, base_path = root / "ours.zarr", root / "base.zarr"

        def ours_write():
            store.write_kernels(H, ours_path, overwrite=True)

        def base_write():
            shutil.rmtree(base_path, ignore_errors=True)
            ds = H.to_dataset(name="kernels")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.to_zarr(base_path, mode="w", consolidated=True, encoding={
                    "kernels": {"chunks": (2, 2, 16, layout.tau_chunk(H))}})

        t_base_w, t_ours_w = _best(base_write), _best(ours_write)
        t_base_r = _best(lambda: xr.open_zarr(base_path).kernels.values)
        t_ours_r = _best(lambda: store.open_kernels(ours_path).values)

        n_tau_point = 2001
        sweep = root / "sweep.zarr"
        store.create_sweep_store(sweep, sweep_template(4, 3, n_tau_point))
        points = [(i, j, sweep_point(i, j, n_tau_point)) for i in range(4) for j in range(3)]
        start = time.perf_counter()
        for i, j, P in points:
            store.write_point(sweep, P, index={"weight_E_E": i, "Vrest": j})
        t_ours_p = (time.perf_counter() - start) / len(points)
        arr = zarr.open_group(sweep, mode="r+")["kernels"]
        start = time.perf_counter()
        for i, j, P in points:
            arr[i, j] = P.values
        t_base_p = (time.perf_counter() - start) / len(points)

        print(f"kernels {dict(H.sizes)} = {mb:.0f} MiB")
        print(f"write  write_kernels {t_ours_w:.3f} s  to_zarr {t_base_w:.3f} s  "
              f"ratio {t_ours_w / t_base_w:.2f}")
        print(f"read   open_kernels  {t_ours_r:.3f} s  open_zarr {t_base_r:.3f} s  "
              f"ratio {t_ours_r / t_base_r:.2f}")
        print(f"point  write_point   {1e3 * t_ours_p:.1f} ms  raw zarr {1e3 * t_base_p:.1f} ms "
              f"({P.nbytes / 2**20:.2f} MiB per point)  ratio {t_ours_p / t_base_p:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

"""Benchmark: the microcircuit's kernel grid figure, before and after, in one run.

``H.xk.plot()`` of the Potjans & Diesmann microcircuit's kernels (9 presynaptic x 8
postsynaptic populations: 72 panels) for a 32-contact laminar LFP probe (50 µm
spacing), drawn as traces and as images, and rendered to PNG (what Jupyter shows):
the time from ``H.xk.plot()`` to the saved PNG.  Each run is a fresh process importing
xkernels from the given source tree (this checkout, and a baseline checkout such as
``git archive main | tar -x -C /tmp/base``), the two interleaved, ``--repeat`` times;
CPU times of the child processes are printed next to wall times (less sensitive to
other load on a shared machine).  The kernels are computed once (this checkout) and
passed to both as a NetCDF file.  The last figures are saved as
``plot_grid_{traces,image}_{base,this}.png`` in ``--out``.

Usage::

    git archive main | tar -x -C /tmp/base
    python benchmarks/plot_grid.py --baseline /tmp/base [--repeat 3] [--out /tmp]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: One timed run in a fresh process: argv = source tree, kernels file, PNG prefix.
CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import xarray as xr
import xkernels  # noqa: F401  (.xk)
H = xr.open_dataarray(sys.argv[2]).load()
out = {}
for kind in ("traces", "image"):
    cpu0, t0 = time.process_time(), time.perf_counter()
    fig = H.xk.plot(kind=kind)
    fig.savefig(f"{sys.argv[3]}_{kind}.png")
    out[kind] = (time.perf_counter() - t0, time.process_time() - cpu0)
    plt.close(fig)
print(json.dumps(out))
"""


def kernels(path: Path) -> None:
    """The microcircuit's kernels for a 32-contact LFP probe, written to ``path``."""
    import numpy as np

    import xkernels as xk
    from xkernels.spec import microcircuit as mc

    probe = xk.GaussCylinderPotential(z=-50.0 * np.arange(32), sigma=0.3,
                                      R=mc.COLUMN_RADIUS, sigma_z=100.0)
    H = xk.compute_kernels(xk.Network.microcircuit(), {"lfp": probe}, dt=2 ** -4,
                           tau=25.0, Vrest=-65.0, g_eff=False, averaging="reference",
                           operating_point="rest")
    H.drop_attrs().to_netcdf(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="source tree of the baseline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=tempfile.gettempdir(), help="folder of the PNGs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "kernels.nc"
        kernels(data)
        trees = {"base": Path(args.baseline).resolve(), "this": ROOT}
        times: dict = {(name, kind): [] for name in trees for kind in ("traces", "image")}
        for _ in range(args.repeat):
            for name, tree in trees.items():  # interleaved
                png = Path(args.out) / f"plot_grid_{name}"
                run = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(data),
                                      str(png)], capture_output=True, text=True,
                                     check=True, cwd=tmp)
                for kind, value in json.loads(run.stdout.splitlines()[-1]).items():
                    times[name, kind].append(value)
    for kind in ("traces", "image"):
        (wb, cb), (wt, ct) = ([statistics.median(v[i] for v in times[name, kind])
                               for i in (0, 1)] for name in trees)
        print(f"{kind:7s}: baseline {wb:6.2f} s wall ({cb:6.2f} s CPU), this "
              f"{wt:6.2f} s wall ({ct:6.2f} s CPU): {wb / wt:5.1f}x wall, "
              f"{cb / ct:5.1f}x CPU (medians of {args.repeat})")


if __name__ == "__main__":
    main()

"""Convolve while NEST runs: the LIF network simulated in 100 ms steps, each step's
rates pushed into a StreamingConvolver, the completed CDM samples ready at once.

    nice -n 10 python docs/examples/streaming_nest.py   # ~15 s; writes streaming_nest.png

Prints the largest difference between the streamed signal and the offline
``xkernels.convolve`` of the whole recording (relative to the signal's peak), the
rates samples held between steps and the time NEST and the convolution took per step.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

import xkernels
from xkernels.app.lif import population_rates, simulate_lif, stream_lif

T_STOP, STEP = 2000.0, 100.0


def main() -> None:
    H = xkernels.compute_kernels(xkernels.Network.example(),
                                 {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=50.0,
                                 averaging="depth", operating_point="rest")
    pieces, wall = [], []
    t = time.perf_counter()
    for _, signals in stream_lif(H, T_STOP, step=STEP, threads=1):
        wall.append(time.perf_counter() - t)
        pieces.append(signals)
        t = time.perf_counter()
    streamed = xr.concat(pieces, "time")
    offline = xkernels.convolve(population_rates(simulate_lif(T_STOP, threads=1)), H).compute()
    error = float(np.abs(streamed - offline).max() / np.abs(offline).max())
    print(f"{len(pieces) - 1} steps of {STEP} ms; per step (NEST + binning + push): "
          f"median {1e3 * np.median(wall[:-1]):.0f} ms")
    print(f"samples per chunk: {[p.sizes['time'] for p in pieces]}")
    print(f"streamed vs offline convolve: max |diff| / max |signal| = {error:.1e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
    cdm = offline.sel(probe_channel="cdm:z")
    ax.plot(cdm.time, cdm, color="0.7", lw=3, label="offline convolve")
    t0 = 0
    for i, p in enumerate(pieces):
        if p.sizes["time"]:
            ax.plot(p.time, p.sel(probe_channel="cdm:z"), lw=0.8,
                    color=f"C{i % 2}", label="streamed chunks" if i == 0 else None)
            t0 = float(p.time[-1])
    for k in range(1, int(T_STOP / STEP)):
        ax.axvline(k * STEP, color="k", lw=0.3, ls=":")
    ax.set(xlabel="time (ms)", ylabel=f"CDM ({cdm.attrs.get('units', 'nA µm')})",
           title=f"CDM streamed in {STEP:.0f} ms NEST steps (dotted); tail to {t0:.0f} ms "
                 "from finish()")
    ax.legend(loc="upper right", fontsize=8)
    out = Path(__file__).with_name("streaming_nest.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Out-of-core benchmark: an hour of rates in Zarr -> LFP + CDM signals in Zarr.

1. Writes ``--minutes`` (default 60) of 2-population rates at dt = 1/16 ms (57.6 M
   bins per population for an hour) to a Zarr store chunked along time, generated
   chunk by chunk (never in memory as a whole).
2. In a fresh subprocess (so that its peak RSS is the convolution's alone): opens the
   rates lazily with ``xr.open_zarr``, convolves them with 2 x 2 kernels of 13 LFP
   channels (mV) + 3 CDM channels (nA µm) x 1601 taps, and writes the signals with
   ``.to_zarr`` -- nothing is materialised as a whole.  Reports wall time, throughput
   and peak RSS (``getrusage`` ru_maxrss, and a psutil sampling thread).
3. Checks three 1-s windows of the stored signals (start, a chunk boundary, end) against
   the reference ``np.convolve(nu, h, 'same')`` loop on the same rates.

Disk needed: rates 2 x bins x 8 B (0.9 GB per hour), signals 16 x bins x 8 B (7.4 GB
per hour, float64) or half that with ``--dtype float32``.

Usage::

    python benchmarks/convolve_outofcore.py [--minutes 60] [--dir /tmp/xk_ooc]
        [--dtype float64] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

DT = 1 / 16  # ms
N_TAPS = 1601
RATE_CHUNK = 2**20  # samples per rates Zarr chunk (16 MB of float64 for 2 populations)


def make_kernels():
    import xarray as xr

    from xkernels.contract import channel_coords

    rng = np.random.default_rng(1)
    tau = DT * (np.arange(N_TAPS) - N_TAPS // 2)
    lfp = channel_coords("lfp", [f"lfp:{i}" for i in range(13)], "mV",
                         x=np.zeros(13), y=np.zeros(13), z=-100.0 * np.arange(13))
    cdm = channel_coords("cdm", ["cdm:x", "cdm:y", "cdm:z"], "nA µm")
    coords = {k: ("probe_channel", np.concatenate([lfp[k][1], cdm[k][1]])) for k in lfp}
    values = rng.normal(size=(2, 2, 16, 1)) * np.exp(-np.abs(tau) / 5.0)
    return xr.DataArray(values, name="kernels", dims=("X", "Y", "probe_channel", "tau"),
                        coords={"X": ["E", "I"], "Y": ["E", "I"], "tau": tau, **coords})


def _poisson_block(block, block_info=None):
    loc = block_info[0]["chunk-location"][-1]
    rng = np.random.default_rng([12345, loc])
    return rng.poisson([[2.0], [0.5]], size=block.shape).astype(np.float64)


def write_rates(path: Path, minutes: float) -> int:
    import dask.array as da
    import xarray as xr

    n_time = round(minutes * 60_000 / DT)
    data = da.zeros((2, n_time), chunks=(2, RATE_CHUNK)).map_blocks(_poisson_block,
                                                                    dtype=np.float64)
    rates = xr.DataArray(data, name="rates", dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": DT * np.arange(n_time)},
                         attrs={"units": "spikes/bin"})
    # the time coordinate in chunks too: one 460 MB chunk would cost ~1 GB to read back
    rates.to_dataset().to_zarr(path, mode="w", encoding={"time": {"chunks": (RATE_CHUNK,)}})
    return n_time


def convolve_phase(rates_path: str, out_path: str, dtype: str, compress: bool) -> dict:
    """Runs in the subprocess: lazy open, convolve, to_zarr; returns measurements."""
    import psutil
    import xarray as xr

    import xkernels  # noqa: F401

    proc = psutil.Process()
    peak = {"rss": proc.memory_info().rss}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], proc.memory_info().rss)
            time.sleep(0.01)

    kernels = make_kernels()
    rss_start = proc.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    rates = xr.open_zarr(rates_path)["rates"]
    signals = rates.xk.convolve(kernels, dtype=dtype)
    t_build = time.perf_counter() - t0
    encoding = None if compress else {"signals": {"compressors": None}}
    signals.to_dataset().to_zarr(out_path, mode="w", encoding=encoding)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    stop.set()
    sampler.join()
    return {
        "n_time": int(rates.sizes["time"]), "n_chunks": len(signals.chunks[-1]),
        "chunk": int(signals.chunks[-1][0]), "build_s": t_build, "wall_s": wall,
        "cpu_s": cpu, "rss_start_MB": rss_start / 2**20,
        "peak_rss_sampled_MB": peak["rss"] / 2**20,
        "ru_maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def check_windows(rates_path: Path, out_path: Path, chunk: int, dtype: str) -> float:
    """Max relative error of three 1-s windows against the np.convolve reference."""
    import xarray as xr

    kernels = make_kernels().values
    rates = xr.open_zarr(rates_path)["rates"]
    signals = xr.open_zarr(out_path)["signals"]
    n_time, half, width = rates.sizes["time"], N_TAPS // 2, 16_000
    worst = 0.0
    for start in (0, chunk - width // 2, n_time - width):
        lo, hi = max(0, start - half), min(n_time, start + width + half)
        nu = rates.isel(time=slice(lo, hi)).values
        ref = np.zeros((16, hi - lo))
        for i in range(2):
            for j in range(2):
                for c in range(16):
                    ref[c] += np.convolve(nu[i], kernels[i, j, c], "same")
        ref = ref[:, start - lo:start - lo + width]
        got = signals.isel(time=slice(start, start + width)).values.astype(np.float64)
        worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
    return worst


def _run_phase(phase: str, args) -> str:
    cmd = [sys.executable, __file__, "--phase", phase, "--dir", args.dir, "--dtype",
           args.dtype, "--minutes", str(args.minutes)] + ["--no-compress"] * args.no_compress
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        sys.exit(res.stderr)
    return res.stdout


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--dir", default="/tmp/xk_ooc", help="where the stores go")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    parser.add_argument("--no-compress", action="store_true",
                        help="store the signals uncompressed (default: Zarr's default codec)")
    parser.add_argument("--phase", default="all", choices=["all", "write", "convolve"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    base = Path(args.dir)
    rates_path, out_path = base / "rates.zarr", base / "signals.zarr"
    if args.phase == "convolve":
        print(json.dumps(convolve_phase(str(rates_path), str(out_path), args.dtype,
                                        not args.no_compress)))
        return
    if args.phase == "write":
        write_rates(rates_path, args.minutes)
        return

    base.mkdir(parents=True, exist_ok=True)
    n_time = round(args.minutes * 60_000 / DT)
    free = shutil.disk_usage(base).free
    need = n_time * (2 + 16 * np.dtype(args.dtype).itemsize / 8) * 8
    print(f"{args.minutes:g} min at dt = 1/16 ms: {n_time / 1e6:.1f} M bins per population; "
          f"disk needed ~{need / 1e9:.1f} GB, free {free / 1e9:.1f} GB")
    if need > 0.9 * free:
        sys.exit("not enough disk: use --dtype float32 or fewer --minutes")
    # both phases in subprocesses of this small process: a child's ru_maxrss starts at
    # its parent's RSS at fork time, so the parent must not hold the generated rates
    t = time.perf_counter()
    _run_phase("write", args)
    print(f"rates written to {rates_path} in {time.perf_counter() - t:.1f} s")
    m = json.loads(_run_phase("convolve", args).strip().splitlines()[-1])
    sim_s = m["n_time"] * DT / 1000
    out_gb = m["n_time"] * 16 * np.dtype(args.dtype).itemsize / 1e9
    codec = "uncompressed" if args.no_compress else "default codec"
    print(f"convolve + to_zarr ({args.dtype}, {codec}): {m['wall_s']:.1f} s wall "
          f"(graph {m['build_s']:.2f} s), {m['cpu_s'] / m['wall_s']:.2f} cores busy; "
          f"{m['n_chunks']} chunks of {m['chunk']} bins")
    print(f"throughput: {sim_s / m['wall_s']:.0f} s of signal per s, "
          f"{m['n_time'] / m['wall_s'] / 1e6:.1f} M bins/s, {out_gb * 1e3 / m['wall_s']:.0f} "
          f"MB/s written ({out_gb:.2f} GB)")
    print(f"peak RSS: {m['ru_maxrss_MB']:.0f} MB (ru_maxrss), {m['peak_rss_sampled_MB']:.0f} "
          f"MB (sampled); {m['rss_start_MB']:.0f} MB after imports")
    err = check_windows(rates_path, out_path, m["chunk"], args.dtype)
    print(f"three 1-s windows vs np.convolve reference: max relative error {err:.1e}")
    if not args.keep:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()

"""Benchmark: rates.xk.convolve(kernels) against the reference workflow and scipy.

60 s of 2-population rates at dt = 1/16 ms (960 000 bins) with 2 x 2 kernels of
16 channels x 1601 taps (symmetric tau axis), all in one run:

* (a) the reference workflow: ``np.convolve(nu_X, H_YX[c], 'same')`` summed over X, Y
  for every channel c;
* (b) ``scipy.signal.fftconvolve(nu_X, sum_Y H_YX, mode='same')``, vectorised over
  channels, summed over X;
* xkernels: ``rates.xk.convolve(kernels).values`` (graph construction, dask threaded
  scheduler on all cores, result gathered into one numpy array).

Prints wall times (min and median of ``--repeat`` runs; the reference loop runs once),
process CPU times, ratios, the cores xkernels kept busy (CPU time / wall time; 2.0 =
both cores) and the maximum relative deviation between the three results.  On a shared
machine the wall-time ratios understate xkernels (it needs both cores, the baselines
one); the CPU-time ratios are less sensitive to other load.

Usage::

    python benchmarks/convolve.py [--seconds 60] [--repeat 7] [--channels 16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.signal as ss
import xarray as xr

import xkernels  # noqa: F401  (registers .xk)
from xkernels.contract import channel_coords

DT = 1 / 16  # ms


def make_inputs(seconds: float, n_channels: int, n_taps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_time = round(seconds * 1000 / DT)
    pops = ["E", "I"]
    rates = xr.DataArray(rng.poisson([[2.0], [0.5]], size=(2, n_time)).astype(float),
                         dims=("X", "time"),
                         coords={"X": pops, "time": DT * np.arange(n_time)})
    tau = DT * (np.arange(n_taps) - n_taps // 2)
    shape = np.exp(-np.abs(tau) / 5.0)
    values = rng.normal(size=(2, 2, n_channels, 1))[..., :] * shape
    n_lfp = n_channels - 3
    coords = channel_coords("lfp", [f"lfp:{i}" for i in range(n_lfp)], "mV")
    cdm = channel_coords("cdm", ["cdm:x", "cdm:y", "cdm:z"], "nA µm")
    coords = {k: ("probe_channel", np.concatenate([coords[k][1], cdm[k][1]]))
              for k in coords}
    kernels = xr.DataArray(values, dims=("X", "Y", "probe_channel", "tau"),
                           coords={"X": pops, "Y": pops, "tau": tau, **coords})
    return rates, kernels


def reference_loop(rates: xr.DataArray, kernels: xr.DataArray) -> np.ndarray:
    """The reference workflow: one np.convolve per X, Y and channel."""
    nu, H = rates.values, kernels.values
    out = np.zeros((H.shape[2], nu.shape[1]))
    for i in range(H.shape[0]):
        for j in range(H.shape[1]):
            for c in range(H.shape[2]):
                out[c] += np.convolve(nu[i], H[i, j, c], "same")
    return out


def scipy_fftconvolve(rates: xr.DataArray, kernels: xr.DataArray) -> np.ndarray:
    """scipy.signal.fftconvolve with kernels pre-summed over Y, vectorised over channels."""
    nu, H = rates.values, kernels.sum("Y").values
    out = np.zeros((H.shape[1], nu.shape[1]))
    for i in range(H.shape[0]):
        sig = np.broadcast_to(nu[i], (H.shape[1], nu.shape[1]))
        out += ss.fftconvolve(sig, H[i], mode="same", axes=-1)
    return out


def xkernels_convolve(rates: xr.DataArray, kernels: xr.DataArray) -> np.ndarray:
    return rates.xk.convolve(kernels).values


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="rates duration (s)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of (b) and xkernels")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--taps", type=int, default=1601)
    parser.add_argument("--skip-loop", action="store_true", help="skip (a), the slow one")
    args = parser.parse_args(argv)

    rates, kernels = make_inputs(args.seconds, args.channels, args.taps)
    print(f"rates: 2 x {rates.sizes['time']} bins ({args.seconds:g} s at dt = 1/16 ms); "
          f"kernels: 2 x 2 x {args.channels} channels x {args.taps} taps")
    xkernels_convolve(rates, kernels)  # warm up imports and FFT plans
    scipy_fftconvolve(rates.isel(time=slice(0, 100_000)), kernels)

    t_xk, t_fft, cpu_xk, cpu_fft = [], [], [], []
    for _ in range(args.repeat):  # interleaved, so background load hits both alike
        out_xk, wall, cpu = timed(xkernels_convolve, rates, kernels)
        t_xk.append(wall)
        cpu_xk.append(cpu)
        out_fft, wall, cpu = timed(scipy_fftconvolve, rates, kernels)
        t_fft.append(wall)
        cpu_fft.append(cpu)
    busy = statistics.median(c / w for c, w in zip(cpu_xk, t_xk, strict=True))
    scale = np.abs(out_fft).max()
    print(f"xkernels             min {min(t_xk):7.3f} s  median {statistics.median(t_xk):7.3f} s"
          f"  CPU {statistics.median(cpu_xk):.3f} s, {busy:.2f} cores busy")
    print(f"(b) scipy fftconvolve min {min(t_fft):7.3f} s  median "
          f"{statistics.median(t_fft):7.3f} s  CPU {statistics.median(cpu_fft):.3f} s")
    print(f"ratio (b)/xkernels:  {min(t_fft) / min(t_xk):6.1f}x (min/min), "
          f"{statistics.median(t_fft) / statistics.median(t_xk):6.1f}x (median/median), "
          f"CPU time {statistics.median(cpu_fft) / statistics.median(cpu_xk):.1f}x")
    print(f"max |xkernels - (b)| / max |(b)| = {np.abs(out_xk - out_fft).max() / scale:.1e}")
    if not args.skip_loop:
        out_loop, t_loop, cpu_loop = timed(reference_loop, rates, kernels)
        print(f"(a) np.convolve loop     {t_loop:7.3f} s (one run)  CPU {cpu_loop:.3f} s")
        print(f"ratio (a)/xkernels:  {t_loop / min(t_xk):6.1f}x (vs min), "
              f"{t_loop / statistics.median(t_xk):6.1f}x (vs median), "
              f"CPU time {cpu_loop / statistics.median(cpu_xk):.1f}x")
        print(f"max |xkernels - (a)| / max |(a)| = "
              f"{np.abs(out_xk - out_loop).max() / np.abs(out_loop).max():.1e}")


if __name__ == "__main__":
    main()

"""``xkernels demo``: the README network end to end.

1. kernels of :meth:`xkernels.Network.example` for an LFP probe at 13 depths
   (``lfp``), the z-only current dipole moment (``cdm``) and EEG at three scalp
   electrodes (``eeg``, four-sphere head model);
2. a scaled-down E/I LIF network simulated in NEST (:mod:`xkernels.app.lif`), its spike
   counts per bin scaled to the full population sizes;
3. the signals ``rates * kernels`` (lazy, dask) written to Zarr, complete samples only
   (``mode="valid"``: the first and last 50 ms, where spikes before or after the
   recording would contribute, are dropped);
4. figures of the kernels and of the signals, and a JSON summary.

Everything is written into a temporary folder next to ``outdir`` and moved to
``outdir`` when complete (:mod:`xkernels.store.publish`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.app import lif
from xkernels.app.files import CLIError, check_output, default_probes, spec_document
from xkernels.checks import check_int, check_real
from xkernels.contract import probe_names
from xkernels.store.publish import publish, staged

#: EEG electrodes (µm): on the scalp (radius 90 mm) above the dipole and 20°/40° away.
EEG_ANGLES_DEG = (0.0, 20.0, 40.0)
SCALP_RADIUS = 90000.0
OPTIONS = {"dt": 2.0 ** -4, "tau": 50.0}
#: Shortest rates (ms) the demo accepts: 100 ms of complete signal after dropping the
#: incomplete first and last tau ms.
MIN_RATES_MS = 100.0 + 2 * OPTIONS["tau"]


def eeg_electrodes() -> np.ndarray:
    """(3, 3) electrode positions on the scalp sphere (µm), in the x-z plane."""
    angles = np.deg2rad(EEG_ANGLES_DEG)
    return SCALP_RADIUS * np.stack([np.sin(angles), np.zeros_like(angles),
                                    np.cos(angles)], axis=1)


def demo_probes() -> dict[str, Any]:
    """Probes of the demo: the README's ``lfp`` (13 depths) and ``cdm``
    (:func:`~xkernels.app.files.default_probes`), and ``eeg`` (3 electrodes)."""
    from xkernels.probes.models import EEGProbe

    return {**default_probes(), "eeg": EEGProbe(eeg_electrodes())}


def demo_grid() -> dict[str, list[float]]:
    """A small example grid for ``xkernels sweep`` (two synaptic weights, µS)."""
    return {"connections[E->E].synapse.weight": [0.00006, 0.00012, 0.00024],
            "connections[I->E].synapse.weight": [0.001, 0.002, 0.004]}


def _summary(H: xr.DataArray, rates: xr.DataArray, signals: xr.DataArray,
             lif_summary: dict[str, Any], seconds: float) -> dict[str, Any]:
    sig = signals.std("time")
    out: dict[str, Any] = {"populations": lif_summary,
                           "kernels_shape": dict(H.sizes),
                           "rates_duration_ms": float(rates.sizes["time"] * OPTIONS["dt"]),
                           "signals_time_ms": signals.attrs["complete_time"],
                           "signal_std": {}, "seconds": seconds}
    for probe in probe_names(signals):
        part = sig.xk.probe(probe)
        units = str(part.coords["units"].values[0])
        values = [float(v) for v in part.values]
        out["signal_std"][probe] = {"units": units, "max": max(values),
                                    "channels": dict(zip(
                                        part.coords["probe_channel"].values.tolist(),
                                        values))}
    return out


def run_demo(outdir: str | Path = "xkernels-demo", *, t_stop: float = 1200.0,
             transient: float = 200.0, threads: int = 2, seed: int = 12345,
             overwrite: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Run the demo and write its results into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        Output folder; must not exist unless ``overwrite``.
    t_stop : float
        Simulated time (ms), including the transient.
    transient : float
        Initial time discarded from the rates (ms), ``0 <= transient <= t_stop - 200``.
    threads : int
        NEST threads.
    seed : int
        NEST random seed.
    overwrite : bool
        Replace an existing ``outdir``.
    quiet : bool
        No progress bar or summary printout.

    Returns
    -------
    dict
        The summary also written to ``summary.json``: mean rates (spikes/s), shapes,
        standard deviations of the signals per probe (in the channel units).

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or out of range (checked before any work).
    CLIError
        ``outdir`` exists without ``overwrite``, a bad ``transient``, or no NEST.
    FileExistsError
        ``outdir`` appeared during the run (without ``overwrite``).
    """
    from tqdm.auto import tqdm

    check_real("t_stop (ms)", t_stop, positive=True)
    check_real("transient (ms)", transient)
    check_int("threads", threads, minimum=1)
    check_int("seed", seed, minimum=1)
    outdir = check_output(outdir, overwrite)
    if not 0 <= transient <= t_stop - MIN_RATES_MS:
        raise CLIError(f"--transient must be in [0, t_stop - {MIN_RATES_MS:g}] ms = "
                       f"[0, {t_stop - MIN_RATES_MS:g}] (at least {MIN_RATES_MS:g} ms of "
                       f"rates: 2 x tau dropped at the edges + 100 ms), got {transient:g}")
    import matplotlib

    try:
        lif.import_nest()
    except ImportError as err:
        raise CLIError(str(err)) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xkernels.signals.convolution import convolve
    from xkernels.spec.network import Network
    from xkernels.store import compute_kernels, write_kernels, write_rates, write_signals

    start = time.perf_counter()
    steps = ["kernels", "LIF network (NEST)", "signals", "figures"]
    with staged(outdir) as tmp:
        tmp.mkdir()
        with tqdm(total=len(steps), desc="xkernels demo", unit="step", disable=quiet,
                  file=sys.stderr) as bar:
            bar.set_postfix_str(steps[0])
            network = Network.example()
            probes = demo_probes()
            (tmp / "spec.json").write_text(json.dumps(spec_document(network, probes, OPTIONS),
                                                      indent=1))
            (tmp / "grid.json").write_text(json.dumps(demo_grid(), indent=1))
            H = compute_kernels(network, probes, **OPTIONS)
            write_kernels(H, tmp / "kernels.zarr")
            bar.update()

            bar.set_postfix_str(steps[1])
            spikes = lif.simulate_lif(t_stop, dt=OPTIONS["dt"], seed=seed, threads=threads)
            rates = lif.population_rates(spikes, t_start=transient, dt=OPTIONS["dt"])
            write_rates(rates, tmp / "rates.zarr")
            bar.update()

            bar.set_postfix_str(steps[2])
            signals = convolve(rates, H, mode="valid")
            write_signals(signals, tmp / "signals.zarr")
            signals = xr.open_zarr(tmp / "signals.zarr")["signals"].compute()
            bar.update()

            bar.set_postfix_str(steps[3])
            t0 = float(signals.coords["time"].values[0])
            t1 = float(signals.coords["time"].values[-1])
            for name, fig in (
                    ("kernels.png", H.xk.plot(tau_lim=(-5.0, 40.0))),
                    ("signals.png", signals.xk.plot(rates=rates,
                                                    time_lim=(t0, min(t1, t0 + 500.0))))):
                fig.savefig(tmp / name, dpi=110)
                plt.close(fig)
            bar.update()
            summary = _summary(H, rates, signals, lif.summary(spikes, transient),
                               round(time.perf_counter() - start, 1))
            (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
            publish(tmp, outdir, overwrite=overwrite)
    if not quiet:
        print(format_summary(outdir, summary))
    return summary


def format_summary(outdir: Path, summary: dict[str, Any]) -> str:
    """The lines printed at the end of the demo."""
    lines = [f"xkernels demo: results in {outdir}/ ({summary['seconds']} s)"]
    for name, pop in summary["populations"].items():
        lines.append(f"  {name}: {pop['n_sim']} LIF neurons simulated (scaled to "
                     f"{pop['n_full']}), {pop['rate']:.2f} spikes/s")
    lines.append(f"  kernels: {summary['kernels_shape']}")
    for probe, info in summary["signal_std"].items():
        lines.append(f"  {probe}: largest channel std {info['max']:.3g} {info['units']}")
    lines.append("  files: kernels.zarr rates.zarr signals.zarr kernels.png signals.png "
                 "spec.json grid.json summary.json")
    lines.append(f"  next: xkernels info {outdir}/kernels.zarr")
    return "\n".join(lines)

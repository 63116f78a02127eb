"""``xkernels validate SPEC.json SPIKES.npz -o OUT.zarr``: the kernel prediction beside
the hybrid ground truth (:func:`xkernels.hybrid.validate`), written to a Zarr store."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from xkernels.app.files import CLIError, check_output, load_spec
from xkernels.store.datasets import write_dataset

HELP = "kernel prediction vs hybrid ground truth -> a Zarr store with R² per channel"
DESCRIPTION = """\
Simulate every postsynaptic cell of the network in SPEC.json (placed, wired and driven
by the spikes in SPIKES.npz, written by xkernels.Spikes.save), compute the
kernels of SPEC.json and convolve them with the same spikes' population counts; write
ground_truth, prediction, r2 (signed) and std_ratio per channel to OUT.zarr.
SPEC.json's options are the kernels' (dt and Vrest are shared; its seed is the
kernels' position seed)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the ``validate`` command."""
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and kernel options")
    p.add_argument("spikes", metavar="SPIKES.npz", help="per-neuron spike trains")
    p.add_argument("-o", "--output", required=True, metavar="OUT.zarr")
    p.add_argument("--t-stop", type=float, default=None,
                   help="simulated time in ms (default: the one saved with the spikes)")
    p.add_argument("--transient", type=float, default=100.0,
                   help="initial ms excluded from the scores (default 100)")
    p.add_argument("--cells", type=float, default=None,
                   help="simulate a seeded subsample: a fraction in (0, 1] or a number of "
                        "cells per population (default: every cell)")
    p.add_argument("--ext", default="auto",
                   choices=("auto", "mean", "leak", "poisson", "none"),
                   help="extrinsic input of the ground truth (default auto)")
    p.add_argument("--seed", type=int, default=1234, help="wiring seed (default 1234)")
    p.add_argument("--workers", type=int, default=None,
                   help="dask worker processes (default: one per core; 1: this process)")
    p.add_argument("--store", default=None, metavar="GT.zarr",
                   help="resumable store of the ground truth (re-run to resume)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")


def cmd_validate(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from xkernels.hybrid import validate
    from xkernels.signals import Spikes

    out = check_output(args.output, args.overwrite)
    network, probes, options = load_spec(args.spec)
    try:
        spikes, saved_t_stop = Spikes.load(args.spikes)
    except (OSError, ValueError, KeyError) as err:
        raise CLIError(f"spikes file {str(args.spikes)!r}: {err}") from None
    t_stop = args.t_stop if args.t_stop is not None else saved_t_stop
    if t_stop is None:
        raise CLIError(f"spikes file {str(args.spikes)!r} has no t_stop; give --t-stop")
    cells: Any = args.cells
    if cells is not None and cells > 1:
        if cells != int(cells):
            raise CLIError(f"--cells must be a fraction in (0, 1] or a whole number of "
                           f"cells, got {cells}")
        cells = int(cells)
    start = time.perf_counter()
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be >= 1, got {args.workers}")
    client: Any = None if args.workers is None else (
        "sync" if args.workers == 1 else args.workers)
    try:
        ds = validate(network, spikes, probes, t_stop=t_stop, transient=args.transient,
                      seed=args.seed, client=client, store=args.store,
                      progress=not args.quiet, n_cells=cells, ext=args.ext,
                      dt=options.dt, Vrest=options.Vrest, options=options)
    except (ValueError, TypeError) as err:
        raise CLIError(f"spec file {str(args.spec)!r} / spikes file "
                       f"{str(args.spikes)!r}: {err}") from None
    write_dataset(ds, out, overwrite=args.overwrite, progress=False)
    if not args.quiet:
        lines = [f"  {label}: R² {r2:.3f}, STD ratio {ratio:.2f}" for label, r2, ratio in
                 zip(ds.probe_channel.values.tolist(), ds.r2.values, ds.std_ratio.values)]
        print("\n".join([f"wrote {out} in {time.perf_counter() - start:.1f} s "
                         f"(scores over t >= {args.transient} ms):"] + lines),
              file=sys.stderr, flush=True)
    return 0

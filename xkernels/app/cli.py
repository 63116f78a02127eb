"""The ``xkernels`` command line (also ``python -m xkernels``).

Commands: ``demo``, ``compute``, ``sweep``, ``convolve``, ``validate``, ``error``,
``info``; bare
``xkernels`` prints the help.  Run ``xkernels COMMAND --help`` for the options of each.
User errors
(missing or malformed files, stores of the wrong kind, existing outputs without
``--overwrite``) end with a one-line message naming the file and the problem and exit
status 1 (2 for bad command line syntax, with "did you mean ..." for typos).  Outputs
of ``compute``, ``convolve`` and ``demo`` are written to a temporary sibling and moved
into place only when complete, so a failed run leaves nothing half-written.  A
``sweep`` writes every finished point into its store at once: an interrupted sweep
(Ctrl-C, a killed process) keeps them, and running the same command again computes only
the missing points.  Relative paths in SPEC.json (cell morphologies, templates) are
relative to the spec file.  Set ``XKERNELS_TRACEBACK=1`` to see the full traceback of an
error.  Ctrl-C prints one line saying what was kept and exits with status 130.

Every command is one entry of :data:`COMMANDS` (a :class:`Command`: ``cmd_NAME`` runs
it, ``args_NAME`` adds its arguments when it is used, so that ``--help`` imports
nothing of the library, and an optional ``NAME_interrupted`` says what a Ctrl-C kept).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xkernels.checks import check_real, count, did_you_mean

if TYPE_CHECKING:
    from xkernels.spec.options import KernelOptions

PROG = "xkernels"

DESCRIPTION = """\
xkernels: spike-to-signal kernels (LFP, CDM, EEG/MEG) for point-neuron networks.

SPEC.json is {"network": {...}, "probes": {name: {"class": ..., "params": {...}}},
"options": {"dt": ..., "tau": ..., ...}} (or just the network); `xkernels demo`
writes a complete example next to its results.  Paths in it are relative to it.
"""
#: How long the demo takes, as said by ``demo --help`` and the README.
DEMO_DURATION = "under a minute on 2 cores"
#: What the Python API's keyword arguments are called on the command line.
_FLAG_WORDS = (("pass overwrite=True to replace it", "use --overwrite to replace it"),
               ("overwrite=True", "--overwrite"),
               ("pass allow_incomplete=True to open it anyway",
                "finish it first: run the same `xkernels sweep` command again"))


# --------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------
def _status(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _load_spec(args: argparse.Namespace) -> tuple[Any, dict[str, Any], KernelOptions]:
    """SPEC.json's network, probes and options, options given as flags replacing its."""
    from xkernels.app.files import load_spec

    flags = {name: getattr(args, name) for name in ("linearisation", "operating_point",
                                                    "averaging", "solver")
             if getattr(args, name, None) is not None}
    return load_spec(args.spec, **flags)


def _load_spikes(args: argparse.Namespace) -> tuple[Any, float | None]:
    """SPIKES.npz's spikes and the ``--t-stop`` given, else the file's t_stop (ms; None
    when neither has one)."""
    from xkernels.app.files import CLIError
    from xkernels.signals import Spikes

    try:
        spikes, saved_t_stop = Spikes.load(args.spikes)
    except (OSError, ValueError, KeyError) as err:
        raise CLIError(f"spikes file {str(args.spikes)!r}: {err}") from None
    return spikes, args.t_stop if args.t_stop is not None else saved_t_stop


def cmd_compute(args: argparse.Namespace) -> int:
    """``xkernels compute SPEC.json -o KERNELS.zarr``; returns the exit status."""
    from xkernels.app.files import CLIError, raised_by_xkernels
    from xkernels.store import compute_kernels, write_kernels

    out = _kernel_store_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
    start = time.perf_counter()
    _status(f"computing {count(len(network.connections), 'kernel')} (one per "
            f"connection), probes {list(probes)} ...", args.quiet)
    try:
        H = compute_kernels(network, probes, options)
    except (ValueError, TypeError) as err:
        if not raised_by_xkernels(err):
            raise
        raise CLIError(f"spec file {str(args.spec)!r}: {err}") from None
    write_kernels(H, out, overwrite=args.overwrite)
    _status(f"wrote {out} ({dict(H.sizes)}) in {time.perf_counter() - start:.1f} s",
            args.quiet)
    return 0


def _kernel_store_output(path: str | Path, overwrite: bool) -> Path:
    """The output path of a kernel store: new, or with ``overwrite`` a kernel store (never
    anything else), refused before any work."""
    from xkernels.app.files import CLIError, check_output
    from xkernels.store.layout import KernelStoreError, check_replaceable

    out = check_output(path, overwrite)
    try:
        check_replaceable(out, overwrite)
    except KernelStoreError as err:  # not a kernel store
        raise CLIError(str(err)) from None
    return out


def _remove_store(out: Path) -> None:
    """Delete the store at ``out``: renamed out of the way first (a crash while deleting
    never leaves a half-deleted store that a later run would resume), under the store's
    lock (not while another process writes it)."""
    from xkernels.store.publish import locked

    with locked(out):
        trash = out.parent / f".{out.name}.deleting-{uuid.uuid4().hex[:12]}"
        os.rename(out, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _points_done(out: Path) -> tuple[int, int] | None:
    """(done, total) sweep points of the store at ``out``, None without a store."""
    from xkernels.store import completed_points

    if not out.exists():
        return None
    done = completed_points(out)
    return int(done.sum()), int(done.size)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``xkernels sweep SPEC.json GRID.json -o SWEEP.zarr``; returns the exit status.

    Points are written to ``SWEEP.zarr`` as they finish; an existing store of the same
    sweep is resumed (only missing points computed) or grown, ``--overwrite`` starts
    afresh.
    """
    from xkernels.app.files import CLIError, raised_by_xkernels, read_json
    from xkernels.sweeps.driver import sweep

    out = _kernel_store_output(args.output, overwrite=True)  # resumed, grown or replaced
    network, probes, options = _load_spec(args)
    grid = read_json(args.grid, "grid")  # checked by sweep
    if args.overwrite and out.exists():
        _remove_store(out)
    before = _points_done(out)
    if before is not None:
        _status(f"resuming {out}: {before[0]} of {count(before[1], 'point')} already "
                "computed",
                args.quiet)
    start = time.perf_counter()
    try:
        H = sweep(network, grid, probes, options, store=out, progress=not args.quiet,
                  client=args.scheduler or (args.workers if args.workers > 1 else "sync"))
    except (ValueError, TypeError, KeyError) as err:
        if not raised_by_xkernels(err):
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        hint = (" (use --overwrite to replace it)" if "holds a different sweep" in str(msg)
                else "")
        raise CLIError(f"grid file {str(args.grid)!r} / spec file "
                       f"{str(args.spec)!r}: {msg}{hint}") from None
    _status(f"wrote {out} ({dict(H.sizes)}) in {time.perf_counter() - start:.1f} s",
            args.quiet)
    return 0


def sweep_interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``xkernels sweep`` kept (its one line after Ctrl-C)."""
    out = Path(args.output)
    done = _points_done(out)
    return (f"{done[0]} of {count(done[1], 'point')} stored in {str(out)!r}; run the "
            "same command again to compute the rest" if done else "nothing stored")


def cmd_convolve(args: argparse.Namespace) -> int:
    """``xkernels convolve RATES.zarr KERNELS.zarr -o SIGNALS.zarr``; returns the exit
    status."""
    from xkernels.app.files import CLIError, check_output, raised_by_xkernels
    from xkernels.signals import convolve
    from xkernels.store import open_kernels, open_rates, write_signals

    out = check_output(args.output, args.overwrite)
    rates = open_rates(args.rates, args.var)
    H = open_kernels(args.kernels)
    keep = tuple(k for k in (args.keep or "").split(",") if k)
    try:
        signals = convolve(rates, H, keep=keep, mode=args.mode)
    except (ValueError, TypeError) as err:
        if not raised_by_xkernels(err):
            raise
        raise CLIError(f"cannot convolve {str(args.rates)!r} with {str(args.kernels)!r}: "
                       f"{err}") from None
    write_signals(signals, out, overwrite=args.overwrite, progress=not args.quiet,
                  client=args.scheduler)
    _status(f"wrote {out} ({dict(signals.sizes)})", args.quiet)
    return 0


def describe_dataset(path: str | Path) -> str:
    """Summary of a rates or signals store."""
    from xkernels.app.files import CLIError
    from xkernels.store import KernelStoreError, open_rates, open_signals

    for name, opener in (("signals", open_signals), ("rates", open_rates)):
        try:
            da = opener(path)
        except KernelStoreError:
            continue
        lines = [f"xkernels {name} store {path}", f"  dims: {dict(da.sizes)} {da.dtype}"]
        if "time" in da.coords and da.sizes["time"] > 1:
            t = da.coords["time"].values
            lines.append(f"  time: {t[0]:g} .. {t[-1]:g} ms, dt = {t[1] - t[0]:g} ms")
        if "X" in da.coords:
            lines.append(f"  populations X: {', '.join(map(str, da.coords['X'].values))}")
        if "probe" in da.coords:
            probes = da.coords["probe"].values
            for p in dict.fromkeys(probes.tolist()):
                units = ", ".join(dict.fromkeys(
                    da.coords["units"].values[probes == p].tolist()))
                lines.append(f"  probe {p}: {count(int((probes == p).sum()), 'channel')} "
                             f"[{units}]")
        lines += [f"  {key}: {str(value)[:100]}" for key, value in da.attrs.items()]
        return "\n".join(lines)
    raise CLIError(f"{str(path)!r} is not an xkernels store: no 'kernels', 'rates' or "
                   "'signals' variable")


def cmd_validate(args: argparse.Namespace) -> int:
    """``xkernels validate SPEC.json SPIKES.npz -o OUT.zarr``: the kernel prediction beside
    the hybrid ground truth (:func:`xkernels.hybrid.validate`); returns the exit status."""
    from xkernels.app.files import CLIError, check_output, raised_by_xkernels
    from xkernels.hybrid import validate
    from xkernels.store.datasets import write_dataset

    out = check_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
    spikes, t_stop = _load_spikes(args)
    if t_stop is None:
        raise CLIError(f"spikes file {str(args.spikes)!r} has no t_stop; give --t-stop")
    cells: Any = args.cells
    if cells is not None and cells > 1:
        if cells != int(cells):
            raise CLIError(f"--cells must be a fraction in (0, 1] or a whole number of "
                           f"cells, got {cells}")
        cells = int(cells)
    start = time.perf_counter()
    client: Any = args.scheduler or (None if args.workers is None else (
        "sync" if args.workers == 1 else args.workers))
    try:
        ds = validate(network, spikes, probes, t_stop=t_stop, transient=args.transient,
                      seed=args.seed, client=client, store=args.store,
                      progress=not args.quiet, n_cells=cells, ext=args.ext,
                      dt=options.dt, Vrest=options.Vrest, options=options)
    except (ValueError, TypeError) as err:
        if not raised_by_xkernels(err):
            raise
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


def cmd_error(args: argparse.Namespace) -> int:
    """``xkernels error SPEC.json SPIKES.npz -o OUT.zarr``: error bars of the kernel
    prediction (:func:`xkernels.error_estimate`); returns the exit status."""
    from xkernels.app.files import CLIError, check_output, raised_by_xkernels
    from xkernels.errors import error_estimate
    from xkernels.store.datasets import write_dataset

    out = check_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
    spikes, t_stop = _load_spikes(args)
    start = time.perf_counter()
    try:
        ds = error_estimate(network, probes, spikes, t_start=args.t_start, t_stop=t_stop,
                            n_cells=args.cells, seed=args.seed, client=args.scheduler,
                            nonlinear_cells=args.nonlinear_cells, options=options)
    except (ValueError, TypeError) as err:
        if not raised_by_xkernels(err):
            raise
        raise CLIError(f"spec file {str(args.spec)!r} / spikes file "
                       f"{str(args.spikes)!r}: {err}") from None
    write_dataset(ds, out, overwrite=args.overwrite, progress=False)
    if not args.quiet:
        lines = [f"  {label}: relative error {rel:.3f} (heterogeneity {h / s:.3f}, bias "
                 f"{b / s:.3f}, nonlinearity {n / s:.3f})" for label, rel, h, b, n, s in
                 zip(ds.probe_channel.values.tolist(), ds.relative_error.values,
                     ds.heterogeneity.values, ds.bias.values, ds.nonlinearity.values,
                     ds.signal_std.values)]
        print("\n".join([f"wrote {out} in {time.perf_counter() - start:.1f} s:"] + lines),
              file=sys.stderr, flush=True)
    return 0


def _add_scheduler(p: argparse.ArgumentParser) -> None:
    """The ``--scheduler ADDRESS`` option: compute on a running dask cluster."""
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running dask scheduler (e.g. tcp://10.0.0.5:8786) "
                        "to compute on, instead of --workers; stores must be on a file "
                        "system its workers share")


def cmd_info(args: argparse.Namespace) -> int:
    """``xkernels info STORE``: print a summary; returns the exit status."""
    from xkernels.app.files import CLIError
    from xkernels.store import KernelStoreError, describe

    if not Path(args.store).exists():
        raise CLIError(f"store {str(args.store)!r} does not exist")
    try:
        print(describe(args.store))
    except KernelStoreError:  # not a kernel store: rates or signals
        print(describe_dataset(args.store))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``xkernels demo -o OUTDIR``: :func:`xkernels.app.demo.run_demo`; returns the exit
    status."""
    from xkernels.app.demo import run_demo

    run_demo(args.output, t_stop=args.t_stop, transient=args.transient,
             threads=args.threads, seed=args.seed, overwrite=args.overwrite,
             quiet=args.quiet)
    return 0


def compute_interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``xkernels compute`` left (its one line after Ctrl-C)."""
    return f"nothing written to {str(args.output)!r}; run the same command again"


def validate_interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``xkernels validate`` kept (its one line after Ctrl-C)."""
    import xarray as xr

    if args.store is None:
        return (f"nothing written to {str(args.output)!r} (with --store GT.zarr finished "
                "cells are kept and a re-run resumes)")
    if not Path(args.store).exists():
        return f"nothing stored in {str(args.store)!r} yet"
    with xr.open_zarr(args.store) as ds:
        done = ds["done"].values
    return (f"{int(done.sum())} of {count(done.size, 'batch', 'batches')} of cells stored "
            f"in {str(args.store)!r}; run the same command again to compute the rest")


# --------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------
def _positive(kind: type) -> Any:
    """An argparse type: ``kind(text)``, a finite number > 0."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
            check_real("value", value, positive=True)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} > 0, "
                                             f"got {text!r}") from None
        return value
    return parse


def _add_kernel_options(parser: argparse.ArgumentParser) -> None:
    from xkernels.spec.options import AVERAGING_MODES, LINEARISATIONS, OPERATING_POINTS, SOLVERS

    parser.add_argument("--linearisation", choices=LINEARISATIONS, default=None,
                        help="membrane linearisation of every postsynaptic cell: 'auto' "
                             "(quasi-active for an active or user-built membrane, as-is for "
                             "one known passive), as-is, passive, frozen or quasi-active; "
                             "replaces the option in SPEC.json (per population: a dict "
                             "there); default: SPEC.json's, else auto")
    parser.add_argument("--operating-point", choices=OPERATING_POINTS, default=None,
                        help="where conductance-based synapses are linearised: 'rest' "
                             "(Vrest, as LFPykernels), 'mean-input' (the per-segment "
                             "potential of the cell under the mean input; needs g_eff) or "
                             "'auto' (mean-input where g_eff is on, else rest); replaces "
                             "the option in SPEC.json; default: SPEC.json's, else auto")
    parser.add_argument("--averaging", choices=AVERAGING_MODES, default=None,
                        help="population averaging: 'depth' (cells and synapses at every "
                             "depth of the population) or 'reference' (one cell at the "
                             "mean depth, as LFPykernels); replaces the option in "
                             "SPEC.json; default: SPEC.json's, else depth")
    parser.add_argument("--solver", choices=SOLVERS, default=None,
                        help="how membrane responses are computed: 'neuron' (simulated), "
                             "'linear' (NEURON's fixed step in closed form: passive "
                             "and linearised membranes, not 'as-is' active ones) or "
                             "'auto' (linear where it applies); "
                             "replaces the option in SPEC.json")


def args_demo(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels demo``."""
    p.add_argument("-o", "--output", default="xkernels-demo",
                   help="output folder (default: ./xkernels-demo)")
    p.add_argument("--t-stop", type=_positive(float), default=1200.0,
                   help="simulated time in ms, including the transient (default 1200)")
    p.add_argument("--transient", type=float, default=200.0,
                   help="initial ms discarded from the rates (default 200; at most "
                        "t-stop - 200)")
    p.add_argument("--threads", type=_positive(int), default=2,
                   help="NEST threads (default 2)")
    p.add_argument("--seed", type=_positive(int), default=12345, help="NEST seed")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTDIR")


def args_compute(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels compute``."""
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and options")
    _add_kernel_options(p)


def args_sweep(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels sweep``."""
    p.add_argument("spec", metavar="SPEC.json")
    p.add_argument("grid", metavar="GRID.json")
    p.add_argument("--workers", type=_positive(int), default=1,
                   help="dask worker processes (default 1: run in this process)")
    _add_scheduler(p)
    _add_kernel_options(p)


def args_convolve(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels convolve``."""
    from xkernels.signals import MODES

    p.add_argument("rates", metavar="RATES.zarr")
    p.add_argument("kernels", metavar="KERNELS.zarr")
    p.add_argument("--keep", default="", help="keep per-population terms: X, Y or X,Y")
    p.add_argument("--mode", choices=MODES, default="same",
                   help="same: every rates sample (the first max(tau) ms lack the spikes "
                        "before the recording); valid: complete samples only")
    p.add_argument("--var", default="rates", help="rates variable name (default: rates)")
    _add_scheduler(p)


def args_validate(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels validate``."""
    from xkernels.hybrid import EXT_MODES

    p.add_argument("spec", metavar="SPEC.json", help="network, probes and kernel options")
    p.add_argument("spikes", metavar="SPIKES.npz", help="per-neuron spike trains")
    p.add_argument("--t-stop", type=float, default=None,
                   help="simulated time in ms (default: the one saved with the spikes)")
    p.add_argument("--transient", type=float, default=100.0,
                   help="initial ms excluded from the scores (default 100)")
    p.add_argument("--cells", type=float, default=None,
                   help="simulate a seeded subsample: a fraction in (0, 1] or a number of "
                        "cells per population (default: every cell)")
    p.add_argument("--ext", default="auto", choices=EXT_MODES,
                   help="extrinsic input of the ground truth (default auto)")
    p.add_argument("--seed", type=int, default=1234, help="wiring seed (default 1234)")
    p.add_argument("--workers", type=_positive(int), default=None,
                   help="dask worker processes (default: one per core; 1: this process)")
    p.add_argument("--store", default=None, metavar="GT.zarr",
                   help="resumable store of the ground truth (re-run to resume)")
    _add_scheduler(p)
    _add_kernel_options(p)


def args_error(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels error``."""
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and kernel options")
    p.add_argument("spikes", metavar="SPIKES.npz",
                   help="per-neuron spike trains (all neurons or a sample)")
    p.add_argument("--t-start", type=float, default=None,
                   help="start of the window in ms (default 0)")
    p.add_argument("--t-stop", type=float, default=None,
                   help="end of the window in ms (default: the one saved with the spikes)")
    p.add_argument("--cells", type=_positive(int), default=None,
                   help="neurons sampled per population for the single-cell kernels "
                        "(default: as many as fit in 256 MiB, 200 to 1000)")
    p.add_argument("--nonlinear-cells", type=int, default=None, metavar="N",
                   help="conductance-based networks: cells per population simulated to "
                        "measure the synapses' nonlinearity (default 16; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    _add_scheduler(p)
    _add_kernel_options(p)


def args_info(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xkernels info``."""
    p.add_argument("store", metavar="STORE")


@dataclass(frozen=True)
class Command:
    """One ``xkernels`` command: what ``--help`` says, its arguments and what it runs.

    A new command is one more entry of :data:`COMMANDS`: a ``cmd_NAME(args) -> int``
    and an ``args_NAME(parser)`` that adds its arguments.  Both import what they need
    inside (``args_NAME`` runs only when the command is used or its help shown), so
    ``xkernels --help`` stays fast whatever the commands import.

    Attributes
    ----------
    name, help, description : str
        The command's name, its line in ``xkernels --help``, and its ``--help`` text.
    arguments : callable
        ``arguments(parser)`` adds the command's own arguments.
    run : callable
        ``run(args) -> int``: runs it, returns the exit status.
    output : str, optional
        Metavar of a required ``-o`` (given with ``--overwrite``, whose help is
        ``overwrite``); None: the command adds its own output arguments, if any.
    quiet : bool
        Whether the command has ``-q/--quiet``.
    interrupted : callable, optional
        ``interrupted(args) -> str``: what a Ctrl-C left behind (printed as the one line
        after "interrupted; ").
    """

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    output: str | None = None
    overwrite: str = "replace an existing output"
    quiet: bool = True
    interrupted: Callable[[argparse.Namespace], str] | None = None


COMMANDS: tuple[Command, ...] = (
    Command(
        "demo", "README network: kernels -> NEST LIF rates -> LFP, CDM, EEG + figures",
        "Compute the README network's kernels (LFP at 13 depths, CDM, EEG at 3 "
        "electrodes), simulate a scaled-down E/I LIF network in NEST (1024 + 128 "
        "neurons, rates scaled to 8192 + 1024), convolve (complete samples only: the "
        f"first and last 50 ms are dropped), and write into OUTDIR ({DEMO_DURATION}):\n"
        "  kernels.zarr rates.zarr signals.zarr   (open with xarray.open_zarr)\n"
        "  kernels.png signals.png                (figures)\n"
        "  spec.json grid.json summary.json       (inputs for compute/sweep, key "
        "numbers)\nNeeds NEST (pip install nest-simulator); no network access.",
        args_demo, cmd_demo),
    Command(
        "compute", "kernels of SPEC.json -> a Zarr kernel store",
        "Compute the kernels of every connection of the network in SPEC.json for its "
        "probes and options and write them to a Zarr kernel store.",
        args_compute, cmd_compute, "KERNELS.zarr", interrupted=compute_interrupted),
    Command(
        "sweep", "kernels over a parameter grid -> one stacked Zarr store",
        "Compute kernels at every point of GRID.json (an object: parameter -> list "
        "of values; paths like \"connections[E->E].synapse.weight\", "
        "\"populations[E].rate\", \"Vrest\") and stack them along one dim per "
        "parameter in a Zarr store.  Every finished point is stored at once: an "
        "interrupted sweep (Ctrl-C, a killed process) is resumed by running the same "
        "command again, which computes only the missing points; values appended to "
        "GRID.json grow the store.",
        args_sweep, cmd_sweep, "SWEEP.zarr", "discard an existing SWEEP.zarr and start afresh",
        interrupted=sweep_interrupted),
    Command(
        "convolve", "rates store * kernel store -> signals store",
        "Convolve population rates (a Zarr store with a 'rates' variable, dims X and "
        "time, spikes per bin) with the kernels of a kernel store; write the signals "
        "(probe_channel, time) to a Zarr store.",
        args_convolve, cmd_convolve, "SIGNALS.zarr"),
    Command(
        "validate", "kernel prediction vs hybrid ground truth -> a Zarr store with R² "
        "per channel",
        "Simulate every postsynaptic cell of the network in SPEC.json (placed, wired "
        "and driven\nby the spikes in SPIKES.npz, written by xkernels.Spikes.save), "
        "compute the\nkernels of SPEC.json and convolve them with the same spikes' "
        "population counts; write\nground_truth, prediction, r2 (signed) and std_ratio "
        "per channel to OUT.zarr.\nSPEC.json's options are the kernels' (dt and Vrest "
        "are shared; its seed is the\nkernels' position seed).",
        args_validate, cmd_validate, "OUT.zarr", interrupted=validate_interrupted),
    Command(
        "error", "error bars of the kernel prediction -> a Zarr store per channel",
        "Estimate how far the kernel prediction of SPEC.json (its network, probes and "
        "options)\nis from the network's signal for the spikes in SPIKES.npz, without "
        "simulating the\nnetwork: single-cell kernels sampled from the network's "
        "wiring and the spikes'\ncovariances (Ness et al. 2025).  Writes "
        "relative_error, error_std, signal_std,\nheterogeneity, bias per channel to "
        "OUT.zarr.",
        args_error, cmd_error, "OUT.zarr", interrupted=compute_interrupted),
    Command(
        "info", "summarise a kernel, rates or signals store",
        "Print populations, probes, units, time axes and provenance of a store.",
        args_info, cmd_info, quiet=False),
)


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean ..." for mistyped commands, choices and options.

    Attributes
    ----------
    option_names : list of str
        Every option string of this parser (``-o``, ``--overwrite``, ...).
    commands : dict
        Command name -> its parser.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.option_names: list[str] = []
        self.commands: dict[str, _CommandParser] = {}
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:  # noqa: D102
        action = super().add_argument(*args, **kwargs)
        self.option_names.extend(action.option_strings)
        return action

    def unknown(self, extra: Sequence[str]) -> None:
        """Exit with argparse's message for unrecognised arguments, and the closest
        options."""
        hints = [did_you_mean(arg.split("=")[0], self.option_names)
                 for arg in extra if arg.startswith("-")]
        self.error(f"unrecognized arguments: {' '.join(extra)}" + "".join(hints))

    def error(self, message: str):  # noqa: D102 - argparse's
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            message += did_you_mean(match.group(1), re.findall(r"'([^']*)'", match.group(2)))
        super().error(message)


class _CommandParser(_Parser):
    """The parser of one command, given its arguments when first used (parsing or
    help), so that building ``xkernels``' parser imports nothing of the commands.

    Attributes
    ----------
    command : Command or None
        The command (set right after construction).
    """

    command: Command | None = None
    _complete = False

    def complete(self) -> _CommandParser:
        """Add the command's arguments (once); returns the parser."""
        if not self._complete and self.command is not None:
            self._complete = True
            cmd = self.command
            if cmd.quiet:
                self.add_argument("-q", "--quiet", action="store_true",
                                  help="no progress output")
            if cmd.output:
                self.add_argument("-o", "--output", required=True, metavar=cmd.output)
                self.add_argument("--overwrite", action="store_true", help=cmd.overwrite)
            cmd.arguments(self)
            self.set_defaults(func=cmd.run)
        return self

    def parse_known_args(self, *args: Any, **kwargs: Any):  # noqa: D102 - argparse's
        return super(_CommandParser, self.complete()).parse_known_args(*args, **kwargs)

    def format_help(self) -> str:  # noqa: D102 - argparse's
        return super(_CommandParser, self.complete()).format_help()

    def format_usage(self) -> str:  # noqa: D102 - argparse's
        return super(_CommandParser, self.complete()).format_usage()


def build_parser() -> _Parser:
    """The argument parser of the ``xkernels`` command (one sub-parser per entry of
    :data:`COMMANDS`, completed when used)."""
    from importlib.metadata import version

    parser = _Parser(prog=PROG, description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {version('xkernels')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                parser_class=_CommandParser)
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.command = cmd
        parser.commands[cmd.name] = p
    return parser


class _Interrupts:
    """While a command runs: Ctrl-C silences this process's stderr, then raises
    KeyboardInterrupt; :meth:`say` writes the one line that reports it.

    Stopping dask mid-task makes it log errors and tracebacks while the cluster closes
    (and again at exit): the process is ending, its only message is :meth:`say`'s.
    The local cluster's workers ignore the terminal's SIGINT themselves
    (:func:`xkernels.runtime.dask_setup`).  Outside the main thread nothing changes.
    """

    def __init__(self) -> None:
        self._stderr: int | None = None   # the real stderr, once silenced
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self._stderr is None:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            self._stderr = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        raise KeyboardInterrupt

    def say(self, line: str) -> None:
        """Write ``line`` to the real stderr (on a line of its own in a terminal)."""
        if self._stderr is None:
            print(line, file=sys.stderr, flush=True)
            return
        prefix = "\r\x1b[K" if os.isatty(self._stderr) else ""  # over a progress bar
        os.write(self._stderr, f"{prefix}{line}\n".encode())


def cli_message(err: BaseException) -> str:
    """One line for a user error, with the Python API's keywords said as CLI flags."""
    message = " ".join(str(err).split()) or type(err).__name__
    for api, flag in _FLAG_WORDS:
        message = message.replace(api, flag)
    return message


def _one_line_warning(command: str) -> Any:
    """A ``warnings.showwarning`` printing ``xkernels COMMAND: warning: message`` (no
    source line: the user of the command line did not write it)."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{PROG} {command}: warning: {message}", file=sys.stderr, flush=True)
    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xkernels`` console script; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``xkernels`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 after a user error (one line on stderr), 2 for bad command line
        syntax, 130 after Ctrl-C (one line on stderr saying what was kept).

    Examples
    --------
    >>> main(["info", "no-such.zarr"])
    1
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        (parser.commands[args.command] if args.command else parser).unknown(extra)
    if args.command is None:
        parser.print_help()
        return 0
    command = parser.commands[args.command].command
    interrupts = _Interrupts()
    try:
        with interrupts, warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        kept = ""
        if command.interrupted is not None:
            try:  # what the command kept, read from its store
                kept = command.interrupted(args)
            except (OSError, ValueError, KeyError):  # a store the interrupt left unreadable
                kept = "its store could not be read"
        interrupts.say(f"{PROG} {args.command}: interrupted" + (f"; {kept}" if kept else ""))
        return 130
    except Exception as err:
        from xkernels.app.files import CLIError
        from xkernels.store import KernelStoreError

        if not isinstance(err, (CLIError, KernelStoreError, OSError)) or \
                os.environ.get("XKERNELS_TRACEBACK"):
            raise
        print(f"{PROG} {args.command}: error: {cli_message(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

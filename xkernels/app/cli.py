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
error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xkernels.app.demo import run_demo
from xkernels.app.files import (
    CLIError,
    check_output,
    load_spec,
    raised_by_xkernels,
    read_json,
)
from xkernels.checks import check_real, did_you_mean
from xkernels.hybrid.wiring import EXT_MODES
from xkernels.signals.convolution import MODES
from xkernels.spec.options import (
    AVERAGING_MODES,
    LINEARISATIONS,
    OPERATING_POINTS,
    SOLVERS,
    KernelOptions,
)
from xkernels.store import KernelStoreError

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
    flags = {name: getattr(args, name)
             for name in ("linearisation", "operating_point", "averaging", "solver")
             if getattr(args, name, None) is not None}
    return load_spec(args.spec, **flags)


def cmd_compute(args: argparse.Namespace) -> int:
    """``xkernels compute SPEC.json -o KERNELS.zarr``; returns the exit status."""
    from xkernels.store import compute_kernels, write_kernels

    out = _kernel_store_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
    start = time.perf_counter()
    _status(f"computing kernels of {len(network.connections)} connections, "
            f"probes {list(probes)} ...", args.quiet)
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
    from xkernels.sweeps.driver import sweep

    out = _kernel_store_output(args.output, overwrite=True)  # resumed, grown or replaced
    network, probes, options = _load_spec(args)
    grid = read_json(args.grid, "grid")  # checked by sweep
    if args.overwrite and out.exists():
        _remove_store(out)
    before = _points_done(out)
    if before is not None:
        _status(f"resuming {out}: {before[0]} of {before[1]} points already computed",
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
    except KeyboardInterrupt:
        done = _points_done(out)
        kept = (f"{done[0]} of {done[1]} points are stored in {str(out)!r}; run the "
                "same command again to compute the rest" if done else "nothing stored")
        print(f"{PROG} sweep: interrupted; {kept}", file=sys.stderr, flush=True)
        raise
    _status(f"wrote {out} ({dict(H.sizes)}) in {time.perf_counter() - start:.1f} s",
            args.quiet)
    return 0


def cmd_convolve(args: argparse.Namespace) -> int:
    """``xkernels convolve RATES.zarr KERNELS.zarr -o SIGNALS.zarr``; returns the exit
    status."""
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
    from xkernels.store import open_rates, open_signals

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
                lines.append(f"  probe {p}: {int((probes == p).sum())} channels [{units}]")
        lines += [f"  {key}: {str(value)[:100]}" for key, value in da.attrs.items()]
        return "\n".join(lines)
    raise CLIError(f"{str(path)!r} is not an xkernels store: no 'kernels', 'rates' or "
                   "'signals' variable")


def cmd_validate(args: argparse.Namespace) -> int:
    """``xkernels validate SPEC.json SPIKES.npz -o OUT.zarr``: the kernel prediction beside
    the hybrid ground truth (:func:`xkernels.hybrid.validate`); returns the exit status."""
    from xkernels.hybrid import validate
    from xkernels.signals import Spikes
    from xkernels.store.datasets import write_dataset

    out = check_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
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
    from xkernels.errors import error_estimate
    from xkernels.signals import Spikes
    from xkernels.store.datasets import write_dataset

    out = check_output(args.output, args.overwrite)
    network, probes, options = _load_spec(args)
    try:
        spikes, saved_t_stop = Spikes.load(args.spikes)
    except (OSError, ValueError, KeyError) as err:
        raise CLIError(f"spikes file {str(args.spikes)!r}: {err}") from None
    t_stop = args.t_stop if args.t_stop is not None else saved_t_stop
    start = time.perf_counter()
    try:
        ds = error_estimate(network, probes, spikes, t_start=args.t_start, t_stop=t_stop,
                            n_cells=args.cells, seed=args.seed, client=args.scheduler,
                            options=options)
    except (ValueError, TypeError) as err:
        if not raised_by_xkernels(err):
            raise
        raise CLIError(f"spec file {str(args.spec)!r} / spikes file "
                       f"{str(args.spikes)!r}: {err}") from None
    write_dataset(ds, out, overwrite=args.overwrite, progress=False)
    if not args.quiet:
        lines = [f"  {label}: relative error {rel:.3f} (heterogeneity {h / s:.3f}, bias "
                 f"{b / s:.3f})" for label, rel, h, b, s in
                 zip(ds.probe_channel.values.tolist(), ds.relative_error.values,
                     ds.heterogeneity.values, ds.bias.values, ds.signal_std.values)]
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
    run_demo(args.output, t_stop=args.t_stop, transient=args.transient,
             threads=args.threads, seed=args.seed, overwrite=args.overwrite,
             quiet=args.quiet)
    return 0


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
        self.commands: dict[str, _Parser] = {}
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


def _add_kernel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--linearisation", choices=LINEARISATIONS, default=None,
                        help="membrane linearisation of every postsynaptic cell (replaces "
                             "the option in SPEC.json; per population: a dict there); "
                             "default: SPEC.json's, else as-is")
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
                             "'linear' (NEURON's fixed step in closed form, linear "
                             "membranes only) or 'auto' (linear where it applies); "
                             "replaces the option in SPEC.json")


def build_parser() -> _Parser:
    """The argument parser of the ``xkernels`` command."""
    from xkernels.provenance import XKERNELS_VERSION as __version__

    parser = _Parser(prog=PROG, description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def add(name: str, help_text: str, description: str, output: str | None = None,
            overwrite: str = "replace an existing output", quiet: bool = True
            ) -> argparse.ArgumentParser:
        """A command; ``output``: the metavar of its required ``-o`` (with
        ``--overwrite``, helped by ``overwrite``)."""
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.commands[name] = p
        if quiet:
            p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
        if output:
            p.add_argument("-o", "--output", required=True, metavar=output)
            p.add_argument("--overwrite", action="store_true", help=overwrite)
        return p

    p = add("demo", "README network: kernels -> NEST LIF rates -> LFP, CDM, EEG + figures",
            "Compute the README network's kernels (LFP at 13 depths, CDM, EEG at 3 "
            "electrodes), simulate a scaled-down E/I LIF network in NEST (1024 + 128 "
            "neurons, rates scaled to 8192 + 1024), convolve (complete samples only: the "
            f"first and last 50 ms are dropped), and write into OUTDIR ({DEMO_DURATION}):\n"
            "  kernels.zarr rates.zarr signals.zarr   (open with xarray.open_zarr)\n"
            "  kernels.png signals.png                (figures)\n"
            "  spec.json grid.json summary.json       (inputs for compute/sweep, key "
            "numbers)\nNeeds NEST (pip install nest-simulator); no network access.")
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
    p.set_defaults(func=cmd_demo)

    p = add("compute", "kernels of SPEC.json -> a Zarr kernel store",
            "Compute the kernels of every connection of the network in SPEC.json for its "
            "probes and options and write them to a Zarr kernel store.", "KERNELS.zarr")
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and options")
    _add_kernel_options(p)
    p.set_defaults(func=cmd_compute)

    p = add("sweep", "kernels over a parameter grid -> one stacked Zarr store",
            "Compute kernels at every point of GRID.json (an object: parameter -> list "
            "of values; paths like \"connections[E->E].synapse.weight\", "
            "\"populations[E].rate\", \"Vrest\") and stack them along one dim per "
            "parameter in a Zarr store.  Every finished point is stored at once: an "
            "interrupted sweep (Ctrl-C, a killed process) is resumed by running the same "
            "command again, which computes only the missing points; values appended to "
            "GRID.json grow the store.", "SWEEP.zarr",
            "discard an existing SWEEP.zarr and start afresh")
    p.add_argument("spec", metavar="SPEC.json")
    p.add_argument("grid", metavar="GRID.json")
    p.add_argument("--workers", type=_positive(int), default=1,
                   help="dask worker processes (default 1: run in this process)")
    _add_scheduler(p)
    _add_kernel_options(p)
    p.set_defaults(func=cmd_sweep)

    p = add("convolve", "rates store * kernel store -> signals store",
            "Convolve population rates (a Zarr store with a 'rates' variable, dims X and "
            "time, spikes per bin) with the kernels of a kernel store; write the signals "
            "(probe_channel, time) to a Zarr store.", "SIGNALS.zarr")
    p.add_argument("rates", metavar="RATES.zarr")
    p.add_argument("kernels", metavar="KERNELS.zarr")
    p.add_argument("--keep", default="", help="keep per-population terms: X, Y or X,Y")
    p.add_argument("--mode", choices=MODES, default="same",
                   help="same: every rates sample (the first max(tau) ms lack the spikes "
                        "before the recording); valid: complete samples only")
    p.add_argument("--var", default="rates", help="rates variable name (default: rates)")
    _add_scheduler(p)
    p.set_defaults(func=cmd_convolve)

    p = add("validate", "kernel prediction vs hybrid ground truth -> a Zarr store with R² "
            "per channel",
            "Simulate every postsynaptic cell of the network in SPEC.json (placed, wired "
            "and driven\nby the spikes in SPIKES.npz, written by xkernels.Spikes.save), "
            "compute the\nkernels of SPEC.json and convolve them with the same spikes' "
            "population counts; write\nground_truth, prediction, r2 (signed) and std_ratio "
            "per channel to OUT.zarr.\nSPEC.json's options are the kernels' (dt and Vrest "
            "are shared; its seed is the\nkernels' position seed).",
            "OUT.zarr")
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
    p.set_defaults(func=cmd_validate)

    p = add("error", "error bars of the kernel prediction -> a Zarr store per channel",
            "Estimate how far the kernel prediction of SPEC.json (its network, probes and "
            "options)\nis from the network's signal for the spikes in SPIKES.npz, without "
            "simulating the\nnetwork: single-cell kernels sampled from the network's "
            "wiring and the spikes'\ncovariances (Ness et al. 2025).  Writes "
            "relative_error, error_std, signal_std,\nheterogeneity, bias per channel to "
            "OUT.zarr.", "OUT.zarr")
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and kernel options")
    p.add_argument("spikes", metavar="SPIKES.npz",
                   help="per-neuron spike trains (all neurons or a sample)")
    p.add_argument("--t-start", type=float, default=None,
                   help="start of the window in ms (default 0)")
    p.add_argument("--t-stop", type=float, default=None,
                   help="end of the window in ms (default: the one saved with the spikes)")
    p.add_argument("--cells", type=_positive(int), default=None,
                   help="neurons sampled per population for the single-cell kernels "
                        "(default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    _add_scheduler(p)
    _add_kernel_options(p)
    p.set_defaults(func=cmd_error)

    p = add("info", "summarise a kernel, rates or signals store",
            "Print populations, probes, units, time axes and provenance of a store.",
            quiet=False)
    p.add_argument("store", metavar="STORE")
    p.set_defaults(func=cmd_info)
    return parser


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
    """Entry point of the ``xkernels`` console script; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        (parser.commands[args.command] if args.command else parser).unknown(extra)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, KernelStoreError, OSError) as err:
        if os.environ.get("XKERNELS_TRACEBACK"):
            raise
        print(f"{PROG} {args.command}: error: {cli_message(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

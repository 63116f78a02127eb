"""The ``xkernels`` command line (also ``python -m xkernels``).

Commands: ``demo``, ``compute``, ``sweep``, ``convolve``, ``info``.  Run
``xkernels COMMAND --help`` for the options of each.  User errors (missing or malformed
files, stores of the wrong kind, existing outputs without ``--overwrite``) end with a
one-line message naming the file and the problem and exit status 1 (2 for bad command
line syntax); outputs are written to a temporary sibling and moved into place only when
complete, so a failed run leaves nothing half-written.  Set ``XKERNELS_TRACEBACK=1`` to
see the full traceback of an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

PROG = "xkernels"
SPEC_KEYS = ("network", "probes", "options")
OPTION_KEYS = ("dt", "tau", "t_X", "Vrest", "g_eff", "fir", "n_positions", "seed")

DESCRIPTION = """\
xkernels: spike-to-signal kernels (LFP, CDM, EEG/MEG) for point-neuron networks.

commands:
  demo      the README network end to end: kernels -> a NEST LIF network's rates ->
            LFP, CDM and EEG signals; Zarr stores, PNG figures, spec.json and
            grid.json written to an output folder (a few minutes on 2 cores at most)
  compute   kernels of the network in SPEC.json, written to a Zarr kernel store
  sweep     kernels over a parameter grid (GRID.json), stacked in one Zarr store
  convolve  signals from a rates store and a kernel store, written to Zarr
  info      summarise a kernel, rates or signals store

SPEC.json is {"network": {...}, "probes": {name: {"class": ..., "params": {...}}},
"options": {"dt": ..., "tau": ..., ...}} (or just the network); `xkernels demo`
writes a complete example next to its results.
"""


class CLIError(Exception):
    """A user error: reported as one line, exit status 1."""


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------
def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file or raise :class:`CLIError` naming it."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} file {str(path)!r} does not exist")
    if not path.is_file():
        raise CLIError(f"{what} file {str(path)!r} is not a regular file")
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError:
        raise CLIError(f"{what} file {str(path)!r} is not a text file") from None
    except json.JSONDecodeError as err:
        raise CLIError(f"{what} file {str(path)!r} is not valid JSON: {err}") from None


def default_probes() -> dict[str, Any]:
    """The README probes: 13-contact LFP (``lfp``) and z-only CDM (``cdm``)."""
    from xkernels.probes.models import CurrentDipoleMomentZ, GaussCylinderPotential

    return {"lfp": GaussCylinderPotential(z=np.linspace(1000.0, -200.0, 13), sigma=0.3,
                                          R=150.0, sigma_z=75.0),
            "cdm": CurrentDipoleMomentZ()}


def load_spec(path: str | Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Read a computation spec: (Network, probes dict, compute_kernels options).

    Parameters
    ----------
    path : str or Path
        JSON file: ``{"network": ..., "probes": ..., "options": ...}`` or a bare
        network dict (then the README probes and default options are used).

    Returns
    -------
    network, probes, options
    """
    from xkernels.spec.network import Network
    from xkernels.probes.models import probe_from_definition

    data = read_json(path, "spec")
    if not isinstance(data, dict):
        raise CLIError(f"spec file {str(path)!r} must hold a JSON object, "
                       f"got {type(data).__name__}")
    if "network" not in data:
        data = {"network": data}
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise CLIError(f"spec file {str(path)!r} has unknown keys {unknown}; "
                       f"allowed: {list(SPEC_KEYS)}")
    try:
        network = Network.from_dict(data["network"])
    except (ValueError, TypeError, KeyError) as err:
        raise CLIError(f"spec file {str(path)!r}: network: {err}") from None
    probe_defs = data.get("probes")
    if probe_defs is None:
        probes = default_probes()
    else:
        if not isinstance(probe_defs, dict) or not probe_defs:
            raise CLIError(f"spec file {str(path)!r}: probes must be a non-empty object "
                           f"name -> {{'class': ..., 'params': ...}}")
        probes = {}
        for name, definition in probe_defs.items():
            try:
                probes[name] = probe_from_definition(definition)
            except (ValueError, TypeError) as err:
                raise CLIError(f"spec file {str(path)!r}: probes[{name!r}]: {err}") from None
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise CLIError(f"spec file {str(path)!r}: options must be an object, "
                       f"got {options!r}")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise CLIError(f"spec file {str(path)!r}: unknown options {unknown}; "
                       f"allowed: {list(OPTION_KEYS)}")
    return network, probes, dict(options)


def spec_document(network: Any, probes: Mapping[str, Any],
                  options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document :func:`load_spec` reads."""
    from xkernels.probes.models import probe_definition

    return {"network": network.to_dict(),
            "probes": {name: probe_definition(p) for name, p in probes.items()},
            "options": dict(options)}


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse an existing output unless ``overwrite``; the parent must be a folder."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise CLIError(f"output {str(path)!r} already exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise CLIError(f"output {str(path)!r}: parent {str(parent)!r} is not a folder")
    return path


def _temporary_sibling(path: Path) -> Path:
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename a finished ``tmp`` to ``path`` (replacing it if ``overwrite``)."""
    if path.exists():
        if not overwrite:
            raise CLIError(f"output {str(path)!r} already exists "
                           "(use --overwrite to replace it)")
        trash = _temporary_sibling(path)
        path.rename(trash)
        tmp.rename(path)
        if trash.is_dir():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)
    else:
        tmp.rename(path)


def _plain_strings(ds: Any) -> Any:
    """Copy of ``ds`` with fresh encodings and str coords as Python objects (zarr 3
    variable-length strings, which have a specification, unlike numpy's ``<U``)."""
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {}
    new = {}
    for name, coord in ds.coords.items():
        if coord.dtype.kind == "U":
            new[name] = (coord.dims, np.asarray(coord.values.tolist(), dtype=object)
                         .reshape(coord.shape), coord.attrs)
    return ds.assign_coords(new)


def write_dataset(ds: Any, path: str | Path, *, overwrite: bool = False,
                  progress: bool = True) -> None:
    """Write a Dataset to a Zarr store atomically (temporary sibling, then rename)."""
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    ds = _plain_strings(ds)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            delayed = ds.to_zarr(tmp, mode="w-", compute=False, consolidated=True,
                                 zarr_format=3)
            if progress:
                from dask.diagnostics import ProgressBar

                with ProgressBar(dt=0.5, out=sys.stderr):
                    delayed.compute()
            else:
                delayed.compute()
        move_into_place(tmp, path, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _open_zarr(path: str | Path, what: str):
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} store {str(path)!r} does not exist")
    try:
        return xr.open_zarr(path)
    except Exception as err:  # noqa: BLE001 - any failure to open is a user error here
        raise CLIError(f"{what} store {str(path)!r} is not a readable Zarr store "
                       f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
                       ) from None


def open_rates(path: str | Path, var: str = "rates"):
    """The rates DataArray (dims X, time) of a rates store."""
    ds = _open_zarr(path, "rates")
    if var not in ds.data_vars:
        raise CLIError(f"rates store {str(path)!r} has no variable {var!r} "
                       f"(variables: {list(ds.data_vars)}); is it a rates store?")
    rates = ds[var]
    if "X" not in rates.dims or "time" not in rates.dims:
        raise CLIError(f"rates store {str(path)!r}: variable {var!r} must have dims "
                       f"X and time, got {rates.dims}")
    return rates


def open_kernel_store(path: str | Path):
    """Kernels of a kernel store, or :class:`CLIError` naming the problem."""
    from xkernels.store.kernel_store import open_kernels

    path = Path(path)
    if not path.exists():
        raise CLIError(f"kernel store {str(path)!r} does not exist")
    try:
        return open_kernels(path)
    except (ValueError, TypeError, OSError) as err:
        raise CLIError(f"kernel store {str(path)!r}: {err}") from None


# --------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------
def _status(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def cmd_compute(args: argparse.Namespace) -> int:
    from xkernels.store.cache import compute_kernels
    from xkernels.store.kernel_store import write_kernels

    out = check_output(args.output, args.overwrite)
    network, probes, options = load_spec(args.spec)
    start = time.perf_counter()
    _status(f"computing kernels of {len(network.connections)} connections, "
            f"probes {list(probes)} ...", args.quiet)
    try:
        H = compute_kernels(network, probes, **options)
    except (ValueError, TypeError) as err:
        raise CLIError(f"spec file {str(args.spec)!r}: {err}") from None
    write_kernels(H, out, overwrite=args.overwrite)
    _status(f"wrote {out} ({dict(H.sizes)}) in {time.perf_counter() - start:.1f} s",
            args.quiet)
    return 0


def _load_grid(path: str | Path) -> dict[str, Any]:
    grid = read_json(path, "grid")
    if not isinstance(grid, dict) or not grid:
        raise CLIError(f"grid file {str(path)!r} must hold a non-empty JSON object "
                       "(parameter -> list of values)")
    return grid


def cmd_sweep(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if not args.resume:
        out = check_output(out, args.overwrite)
    network, probes, options = load_spec(args.spec)
    grid = _load_grid(args.grid)
    try:
        from xkernels.sweeps.driver import sweep
    except ModuleNotFoundError as err:  # pragma: no cover - until sweep lands
        raise CLIError(f"parameter sweeps are not available: {err}") from None

    # a new store is built next to the output and moved into place when complete;
    # --resume continues the store in place (the sweep writes finished points only)
    target = out if args.resume else _temporary_sibling(out)
    client = None
    cluster = None
    start = time.perf_counter()
    try:
        if args.workers > 1:
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            H = sweep(network, grid, probes, store=target, client=client or "sync",
                      progress=not args.quiet, **options)
        except (ValueError, TypeError, KeyError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise CLIError(f"grid file {str(args.grid)!r} / spec file "
                           f"{str(args.spec)!r}: {msg}") from None
        if not args.resume:
            move_into_place(target, out, args.overwrite)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        if not args.resume and target.exists():
            shutil.rmtree(target, ignore_errors=True)
    _status(f"wrote {out} ({dict(H.sizes)}) in {time.perf_counter() - start:.1f} s",
            args.quiet)
    return 0


def cmd_convolve(args: argparse.Namespace) -> int:
    from xkernels.signals.convolution import convolve

    out = check_output(args.output, args.overwrite)
    rates = open_rates(args.rates, args.var)
    H = open_kernel_store(args.kernels)
    keep = tuple(k for k in (args.keep or "").split(",") if k)
    try:
        signals = convolve(rates, H, keep=keep)
    except (ValueError, TypeError) as err:
        raise CLIError(f"cannot convolve {str(args.rates)!r} with {str(args.kernels)!r}: "
                       f"{err}") from None
    signals = signals.rename("signals")
    write_dataset(signals.to_dataset(), out, overwrite=args.overwrite,
                  progress=not args.quiet)
    _status(f"wrote {out} ({dict(signals.sizes)})", args.quiet)
    return 0


def describe_dataset(path: str | Path) -> str:
    """Summary of a rates or signals store."""
    ds = _open_zarr(path, "xkernels")
    kinds = [v for v in ("signals", "rates") if v in ds.data_vars]
    if not kinds:
        raise CLIError(f"{str(path)!r} is not an xkernels store: no 'kernels', 'rates' or "
                       f"'signals' variable (variables: {list(ds.data_vars)})")
    lines = []
    for name in kinds:
        da = ds[name]
        lines.append(f"xkernels {name} store {path}")
        lines.append(f"  dims: {dict(da.sizes)} {da.dtype}")
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
        for key, value in da.attrs.items():
            lines.append(f"  {key}: {str(value)[:100]}")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    from xkernels.store.kernel_store import KernelStoreError, describe

    path = Path(args.store)
    if not path.exists():
        raise CLIError(f"store {str(path)!r} does not exist")
    try:
        text = describe(path)
    except KernelStoreError:
        text = describe_dataset(path)
    except (ValueError, OSError) as err:
        raise CLIError(f"store {str(path)!r}: {err}") from None
    print(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from xkernels.app.demo import run_demo

    run_demo(args.output, t_stop=args.t_stop, transient=args.transient,
             threads=args.threads, seed=args.seed, overwrite=args.overwrite,
             quiet=args.quiet)
    return 0


# --------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------
def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} > 0, "
                                             f"got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} > 0, got {text!r}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xkernels`` command."""
    from xkernels._version import __version__

    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
        return p

    p = add("demo", "README network: kernels -> NEST LIF rates -> LFP, CDM, EEG + figures",
            "Compute the README network's kernels (LFP at 13 depths, CDM, EEG at 3 "
            "electrodes), simulate a scaled-down E/I LIF network in NEST (1024 + 128 "
            "neurons, rates scaled to 8192 + 1024), convolve, and write into OUTDIR:\n"
            "  kernels.zarr rates.zarr signals.zarr   (open with xarray.open_zarr)\n"
            "  kernels.png signals.png                (figures)\n"
            "  spec.json grid.json summary.json       (inputs for compute/sweep, key "
            "numbers)\nNeeds NEST (pip install nest-simulator); no network access.")
    p.add_argument("-o", "--output", default="xkernels-demo",
                   help="output folder (default: ./xkernels-demo)")
    p.add_argument("--t-stop", type=_positive(float), default=1200.0,
                   help="simulated time in ms, including the transient (default 1200)")
    p.add_argument("--transient", type=float, default=200.0,
                   help="initial ms discarded from the rates (default 200)")
    p.add_argument("--threads", type=_positive(int), default=2,
                   help="NEST threads (default 2)")
    p.add_argument("--seed", type=_positive(int), default=12345, help="NEST seed")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTDIR")
    p.set_defaults(func=cmd_demo)

    p = add("compute", "kernels of SPEC.json -> a Zarr kernel store",
            "Compute the kernels of every connection of the network in SPEC.json for its "
            "probes and options and write them to a Zarr kernel store.")
    p.add_argument("spec", metavar="SPEC.json", help="network, probes and options")
    p.add_argument("-o", "--output", required=True, metavar="KERNELS.zarr")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_compute)

    p = add("sweep", "kernels over a parameter grid -> one stacked Zarr store",
            "Compute kernels at every point of GRID.json (an object: parameter -> list "
            "of values; paths like \"connections[E->E].synapse.weight\", "
            "\"populations[E].rate\", \"Vrest\") and stack them along one dim per "
            "parameter in a Zarr store.")
    p.add_argument("spec", metavar="SPEC.json")
    p.add_argument("grid", metavar="GRID.json")
    p.add_argument("-o", "--output", required=True, metavar="SWEEP.zarr")
    p.add_argument("--workers", type=_positive(int), default=1,
                   help="dask worker processes (default 1: run in this process)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep in an existing SWEEP.zarr")
    p.set_defaults(func=cmd_sweep)

    p = add("convolve", "rates store * kernel store -> signals store",
            "Convolve population rates (a Zarr store with a 'rates' variable, dims X and "
            "time, spikes per bin) with the kernels of a kernel store; write the signals "
            "(probe_channel, time) to a Zarr store.")
    p.add_argument("rates", metavar="RATES.zarr")
    p.add_argument("kernels", metavar="KERNELS.zarr")
    p.add_argument("-o", "--output", required=True, metavar="SIGNALS.zarr")
    p.add_argument("--keep", default="", help="keep per-population terms: X, Y or X,Y")
    p.add_argument("--var", default="rates", help="rates variable name (default: rates)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_convolve)

    p = add("info", "summarise a kernel, rates or signals store",
            "Print populations, probes, units, time axes and provenance of a store.")
    p.add_argument("store", metavar="STORE")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xkernels`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileExistsError, FileNotFoundError,
            PermissionError, ImportError) as err:
        if os.environ.get("XKERNELS_TRACEBACK"):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

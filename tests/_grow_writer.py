"""Processes the growth tests kill with SIGKILL at chosen moments.

Usage (as a script, from the worktree root)::

    python tests/_grow_writer.py grow PATH N_W N_V N_TAU
    python tests/_grow_writer.py sweep-grow PATH
    python tests/_grow_writer.py block PATH N_W N_V N_TAU CHUNK_BYTES [N ARRAY]

``grow`` grows a synthetic sweep store to ``N_W x N_V`` points and ``sweep-grow``
grows the store of ``test_sweep.GROW_SMALL`` to ``test_sweep.GROW_BIG``; with
``XKERNELS_KILL_AT`` naming a kill point (:mod:`xkernels.store.publish`) the writer
kills itself there (a real crash at that step).  ``block`` writes every point of a
synthetic store with one :func:`xkernels.store.write_points` call (the test kills it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xkernels.store as store  # noqa: E402
from xkernels.store import layout  # noqa: E402

GROWN_HASH = "ab" * 32


def grown_template(n_w: int, n_v: int, n_tau: int) -> xr.DataArray:
    """The synthetic sweep template with another content hash (a grown grid's)."""
    from _store_writer import sweep_template

    template = sweep_template(n_w, n_v, n_tau)
    template.attrs["content_hash"] = GROWN_HASH
    return template


def block(n_w: int, n_v: int, n_tau: int) -> xr.DataArray:
    """Every point of the synthetic sweep as one block."""
    from _store_writer import sweep_point, sweep_template

    template = sweep_template(n_w, n_v, n_tau)
    values = np.stack([np.stack([sweep_point(i, j, n_tau).values for j in range(n_v)])
                       for i in range(n_w)])
    return template.copy(data=values)


def sweep_template_of(grid: dict) -> xr.DataArray:
    """The template ``sweep`` builds for ``grid`` (options of test_sweep.GROW_OPTIONS)."""
    from test_sweep import GROW_OPTIONS, make_probes

    from xkernels import KernelOptions
    from xkernels.engine import kernels as kern
    from xkernels.spec import Network
    from xkernels.sweeps.grid import parse_grid
    from xkernels.sweeps.points import sweep_hash, sweep_template

    network = Network.example()
    options = KernelOptions(**{k: v for k, v in GROW_OPTIONS.items()
                               if k in KernelOptions.model_fields})
    plan = kern.prepare_kernels(network, make_probes(), options)
    axes = parse_grid(network, grid)
    return sweep_template(plan, axes, sweep_hash(plan, axes))


def main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    if mode == "grow":
        n_w, n_v, n_tau = (int(a) for a in argv[2:5])
        store.extend_sweep_store(path, grown_template(n_w, n_v, n_tau))
    elif mode == "sweep-grow":
        from test_sweep import GROW_BIG

        store.extend_sweep_store(path, sweep_template_of(GROW_BIG))
    elif mode == "block":
        n_w, n_v, n_tau, chunk_bytes = (int(a) for a in argv[2:6])
        layout.TARGET_CHUNK_BYTES = chunk_bytes
        if len(argv) > 7:  # stop for good after the n-th chunk of that array is written
            from _store_writer import pause_after_chunks

            pause_after_chunks(int(argv[6]), argv[7])
        H = block(n_w, n_v, n_tau)
        print("ready", flush=True)
        store.write_points(path, H, index={"weight_E_E": list(range(n_w)),
                                           "Vrest": list(range(n_v))})
        print("done", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

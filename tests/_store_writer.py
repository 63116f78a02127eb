"""Synthetic kernels for the store tests, and a writer process the tests kill.

Usage (as a script, from the worktree root)::

    python tests/_store_writer.py whole PATH SEED N_TAU
    python tests/_store_writer.py sweep PATH N_W N_V N_TAU CHUNK_BYTES
    python tests/_store_writer.py hold PATH

``whole`` writes one store with ``overwrite=True``; ``sweep`` creates a sweep store
(or resumes it) and writes every point that is not done.  Both print progress lines
(flushed) that the tests wait for before sending SIGKILL.  ``hold`` makes a temporary
sibling of PATH as a writer does, prints its path and waits to be killed (at most
10 minutes).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import xkernels.store as store
from xkernels.contract import channel_coords
from xkernels.store import layout, publish

DT = 0.25
N_CHANNELS = 16
BASE_SPEC = {"populations": {"E": {"N": 400, "Vrest": -65.0}, "I": {"N": 100}},
             "connections": {"E->E": {"weight": 0.1, "delay": 1.5}}}


_NOISE: dict[tuple, np.ndarray] = {}


def _noise(shape: tuple) -> np.ndarray:
    """Incompressible values, drawn once per shape (so large test stores are cheap)."""
    if shape not in _NOISE:
        _NOISE[shape] = np.random.default_rng(sum(shape)).standard_normal(shape)
    return _NOISE[shape]


def make_kernels(seed: int = 0, n_tau: int = 11, *, sweep: dict | None = None,
                 point: dict | None = None, values: bool = True) -> xr.DataArray:
    """Kernels honouring the contract: 2x2 populations, LFP + CDM channels.

    ``sweep`` maps dim -> values (leading dims); ``point`` maps dim -> scalar value
    (scalar coords, the spec carries the swept values).  ``values=False`` gives zeros.
    """
    n_lfp = N_CHANNELS - 1
    lfp = channel_coords("lfp", [f"lfp:{i}" for i in range(n_lfp)], "mV",
                         x=np.zeros(n_lfp), y=np.zeros(n_lfp), z=-100.0 * np.arange(n_lfp))
    cdm = channel_coords("cdm", ["cdm:z"], "nA µm")
    chan = {k: ("probe_channel", np.concatenate([lfp[k][1], cdm[k][1]])) for k in lfp}
    half = n_tau // 2
    tau = (np.arange(n_tau) - half) * DT
    spec = json.loads(json.dumps(BASE_SPEC))
    for dim, value in (point or {}).items():
        if dim == "weight_E_E":
            spec["connections"]["E->E"]["weight"] = value
        elif dim == "Vrest":
            spec["populations"]["E"]["Vrest"] = value
    sweep = sweep or {}
    shape = tuple(len(v) for v in sweep.values()) + (2, 2, N_CHANNELS, n_tau)
    data = _noise(shape) * (1.0 + 1e-3 * seed) + seed if values else np.zeros(shape)
    coords = {"X": ["E", "I"], "Y": ["E", "I"], "tau": tau, **chan}
    coords.update({dim: np.asarray(v, dtype=float) for dim, v in sweep.items()})
    coords.update({dim: float(v) for dim, v in (point or {}).items()})
    attrs = {
        "spec": json.dumps(spec), "probes": json.dumps({"lfp": {"sigma": 0.3}, "cdm": {}}),
        "dt": DT, "t_X": 200.0, "tau_max": half * DT, "g_eff": True, "fir": False,
        "Vrest": json.dumps({"E": -65.0}),
        "versions": json.dumps({"xkernels": "0.1.0", "neuron": "8.2.4", "LFPy": "2.3",
                                "lfpykit": "0.5.1"}),
        "content_hash": f"{seed:08x}" * 8, "format_version": layout.STORE_FORMAT_VERSION,
    }
    if sweep:
        attrs["sweep_paths"] = json.dumps({"weight_E_E": "connections.E->E.weight",
                                           "Vrest": "populations.E.Vrest"})
    return xr.DataArray(data, dims=(*sweep, "X", "Y", "probe_channel", "tau"),
                        coords=coords, attrs=attrs, name="kernels")


WEIGHTS = [0.1, 0.2, 0.3, 0.4]
VRESTS = [-70.0, -65.0, -60.0]


def sweep_template(n_w: int, n_v: int, n_tau: int) -> xr.DataArray:
    """Template of a weight x Vrest sweep (zeros, never written)."""
    return make_kernels(0, n_tau, sweep={"weight_E_E": WEIGHTS[:n_w], "Vrest": VRESTS[:n_v]},
                        values=False)


def sweep_point(i: int, j: int, n_tau: int) -> xr.DataArray:
    """Kernels of sweep point (i, j), deterministic in (i, j)."""
    return make_kernels(100 + 10 * i + j, n_tau,
                        point={"weight_E_E": WEIGHTS[i], "Vrest": VRESTS[j]})


def run_sweep(path: str, n_w: int, n_v: int, n_tau: int, progress: bool = False) -> None:
    """Create or resume a sweep store and write every point that is not done."""
    store.create_sweep_store(path, sweep_template(n_w, n_v, n_tau))
    done = store.completed_points(path)
    for i in range(n_w):
        for j in range(n_v):
            if not done[i, j]:
                store.write_point(path, sweep_point(i, j, n_tau),
                                  index={"weight_E_E": i, "Vrest": j})
                if progress:
                    print(f"point {i} {j}", flush=True)


def main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    if mode == "whole":
        seed, n_tau = int(argv[2]), int(argv[3])
        H = make_kernels(seed, n_tau)
        print("ready", flush=True)
        store.write_kernels(H, path, overwrite=True)
        print("done", flush=True)
    elif mode == "sweep":
        n_w, n_v, n_tau, chunk_bytes = (int(a) for a in argv[2:6])
        layout.TARGET_CHUNK_BYTES = chunk_bytes
        print("ready", flush=True)
        run_sweep(path, n_w, n_v, n_tau, progress=True)
        print("done", flush=True)
    elif mode == "hold":
        with publish.staging(Path(path)) as stage:
            stage.tmp.mkdir()
            print("ready", flush=True)
            print(stage.tmp, flush=True)
            time.sleep(600)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Synthetic kernels for the store tests, and a writer process the tests kill.

Usage (as a script, from the worktree root)::

    python tests/_store_writer.py whole PATH SEED N_TAU
    python tests/_store_writer.py sweep PATH N_W N_V N_TAU CHUNK_BYTES [PAUSE_AT]
    python tests/_store_writer.py hold PATH

``whole`` writes one store with ``overwrite=True``; ``sweep`` creates a sweep store
(or resumes it) and writes every point that is not done; with ``PAUSE_AT`` it stops
for good (prints ``mid-point``) right after its PAUSE_AT-th kernels chunk reaches the
disk, so a test can kill it half way through a point.  Both print progress lines
(flushed) that the tests wait for before sending SIGKILL.  ``hold`` takes the lock of
PATH as a writer does, prints ``holding`` and waits to be killed (at most 10 minutes).

With ``XKERNELS_KILL_AT`` set to a kill point of :mod:`xkernels.store.publish`, the
writer kills itself there; ``chunk:N`` kills it right after its N-th chunk file of
``kernels`` reaches the disk.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import xkernels.store as store
from xkernels.contract import FORMAT_VERSION, VALUES_DIGEST_ATTR, channel_coords, values_digest
from xkernels.spec.network import Network
from xkernels.store import layout, publish

DT = 0.25
N_CHANNELS = 16
#: the specification as the library writes it (connections and populations are lists)
BASE_SPEC = Network.example().to_dict()
WEIGHT_PATH = "connections[E->E].synapse.weight"
#: probe definitions of the synthetic kernels (stores refuse probes without one)
PROBES = {"lfp": {"class": "lfpykit.PointSourcePotential", "params": {"sigma": 0.3}},
          "cdm": {"class": "xkernels.probes.CurrentDipoleMomentZ",
                  "params": {"components": "z"}}}


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
    (scalar coords; the spec and the ``Vrest`` option carry the swept values, as for a
    point of ``xkernels.sweep``).  ``values=False`` gives zeros.  The attrs carry the
    digest of the values, as kernels computed by the engine do.
    """
    n_lfp = N_CHANNELS - 1
    lfp = channel_coords("lfp", [f"lfp:{i}" for i in range(n_lfp)], "mV",
                         x=np.zeros(n_lfp), y=np.zeros(n_lfp), z=-100.0 * np.arange(n_lfp))
    cdm = channel_coords("cdm", ["cdm:z"], "nA µm")
    chan = {k: ("probe_channel", np.concatenate([lfp[k][1], cdm[k][1]])) for k in lfp}
    half = n_tau // 2
    tau = (np.arange(n_tau) - half) * DT
    spec = json.loads(json.dumps(BASE_SPEC))
    vrest = -65.0
    for dim, value in (point or {}).items():
        if dim == "weight_E_E":
            spec["connections"][0]["synapse"]["weight"] = value
        elif dim == "Vrest":
            vrest = value
    sweep = sweep or {}
    shape = tuple(len(v) for v in sweep.values()) + (2, 2, N_CHANNELS, n_tau)
    data = _noise(shape) * (1.0 + 1e-3 * seed) + seed if values else np.zeros(shape)
    coords = {"X": ["E", "I"], "Y": ["E", "I"], "tau": tau, **chan}
    coords.update({dim: np.asarray(v, dtype=float) for dim, v in sweep.items()})
    coords.update({dim: float(v) for dim, v in (point or {}).items()})
    attrs = {
        "spec": json.dumps(spec), "probes": json.dumps(PROBES),
        "dt": DT, "t_X": 200.0, "tau_max": half * DT, "g_eff": True, "fir": False,
        "Vrest": json.dumps(vrest),
        "versions": json.dumps({"xkernels": "0.1.0", "neuron": "8.2.4", "LFPy": "2.3",
                                "lfpykit": "0.5.1"}),
        "content_hash": f"{seed:08x}" * 8, "format_version": FORMAT_VERSION,
    }
    if sweep:
        attrs["sweep_paths"] = json.dumps({"weight_E_E": WEIGHT_PATH, "Vrest": "Vrest"})
    else:
        attrs[VALUES_DIGEST_ATTR] = values_digest(data)
    return xr.DataArray(data, dims=(*sweep, "X", "Y", "probe_channel", "tau"),
                        coords=coords, attrs=attrs, name="kernels")


WEIGHTS = [1e-4, 2e-4, 3e-4, 4e-4]  # µS


def with_spec(H: xr.DataArray, change) -> xr.DataArray:
    """A copy of ``H`` whose ``spec`` attribute is changed by ``change(spec_dict)``."""
    spec = json.loads(H.attrs["spec"])
    change(spec)
    out = H.copy()
    out.attrs["spec"] = json.dumps(spec)
    return out
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


def pause_after_chunks(n: int, array: str = "kernels") -> None:
    """Block (until killed) right after the n-th chunk of ``array`` has been written."""
    import zarr.storage

    original = zarr.storage.LocalStore.set
    written = [0]

    async def set_then_pause(self, key, value):
        await original(self, key, value)
        if key.startswith(f"{array}/c/"):
            written[0] += 1
            if written[0] == n:
                print("mid-point", flush=True)
                time.sleep(600)  # blocks zarr's event loop: nothing more is written

    zarr.storage.LocalStore.set = set_then_pause


def kill_after_chunks(n: int) -> None:
    """SIGKILL this process right after the n-th chunk of ``kernels`` is written."""
    import zarr.storage

    original = zarr.storage.LocalStore.set
    written = [0]

    async def set_then_kill(self, key, value):
        await original(self, key, value)
        if "kernels/c/" in key:
            written[0] += 1
            if written[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)

    zarr.storage.LocalStore.set = set_then_kill


def main(argv: list[str]) -> None:
    mode, path = argv[0], argv[1]
    kill_at = os.environ.get(publish.KILL_ENV, "")
    if kill_at.startswith("chunk:"):
        kill_after_chunks(int(kill_at.split(":")[1]))
    if mode == "whole":
        seed, n_tau = int(argv[2]), int(argv[3])
        H = make_kernels(seed, n_tau)
        print("ready", flush=True)
        store.write_kernels(H, path, overwrite=True)
        print("done", flush=True)
    elif mode == "sweep":
        n_w, n_v, n_tau, chunk_bytes = (int(a) for a in argv[2:6])
        layout.TARGET_CHUNK_BYTES = chunk_bytes
        if len(argv) > 6:
            pause_after_chunks(int(argv[6]))
        print("ready", flush=True)
        run_sweep(path, n_w, n_v, n_tau, progress=True)
        print("done", flush=True)
    elif mode == "hold":
        print("ready", flush=True)
        with publish.locked(Path(path)):
            print("holding", flush=True)
            time.sleep(600)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

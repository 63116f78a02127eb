"""Numbers that must stay bit-identical through a refactoring (issue 20).

    python benchmarks/same_numbers.py save /tmp/before.npz   # in a checkout of the old code
    python benchmarks/same_numbers.py check /tmp/before.npz  # in a checkout of the new code

Run from the root of the checkout (it imports that checkout's xkernels).  Covers kernels
in both averaging modes and operating points, with and without g_eff, FIR, dt = 0.1 ms;
sweeps on the superposition and the simulation path; convolution in both modes; a hybrid
ground truth.  ``check`` exits 1 if any array differs in any bit.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import xkernels  # noqa: E402
from xkernels import hybrid  # noqa: E402

W_EE = "connections[E->E].synapse.weight"
DELAY_EE = "connections[E->E].delay.params.loc"


def probes() -> dict:
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, z=np.linspace(1000., -200., 7),
                                                  sigma=0.3, R=150., sigma_z=75.),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def cases() -> dict[str, xr.DataArray]:
    net = xkernels.Network.example()
    ref = {"tau": 20.0, "averaging": "reference", "operating_point": "rest", "g_eff": True,
           "solver": "neuron"}
    out = {
        "ref": xkernels.compute_kernels(net, probes(), **ref),
        "depth": xkernels.compute_kernels(net, probes(), **{**ref, "averaging": "depth"}),
        "meanin": xkernels.compute_kernels(net, probes(), **{
            **ref, "averaging": "depth", "operating_point": "mean-input"}),
        "fir_nog": xkernels.compute_kernels(net, probes(), **{**ref, "g_eff": False,
                                                               "fir": True}),
        "dt01": xkernels.compute_kernels(net, probes(), dt=0.1, **ref),
    }
    sweep_kw = {"client": "sync", "progress": False}
    out["sweep_fast"] = xkernels.sweep(
        net, {W_EE: [1e-4, 2e-4, 3e-4], DELAY_EE: [1.0, 2.0]}, probes(),
        method="superposition", **{**ref, "g_eff": False}, **sweep_kw)
    out["sweep_sim"] = xkernels.sweep(net, {W_EE: [1e-4, 2e-4]}, probes(), method="simulate",
                                      **ref, **sweep_kw)
    rng = np.random.default_rng(0)
    rates = xr.DataArray(rng.poisson(5.0, (2, 20000)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": np.arange(20000) * 2**-4})
    out["conv_same"] = rates.xk.convolve(out["ref"]).compute()
    out["conv_valid"] = rates.xk.convolve(out["ref"], mode="valid").compute()
    spikes = hybrid.correlated_poisson({p.name: p.size for p in net.populations},
                                       {"E": 2.0, "I": 5.0}, t_stop=200.0, seed=3,
                                       fluctuation=0.3)
    out["hybrid"] = hybrid.simulate(net, spikes, {"lfp": probes()["lfp"]}, t_stop=200.0,
                                    n_cells=3, client="sync", progress=False)
    return out


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    out = cases()
    if mode == "save":
        np.savez(path, **{k: np.asarray(v.values) for k, v in out.items()})
        print("saved", path, {k: v.shape for k, v in out.items()})
        return
    saved = np.load(path)
    different = 0
    for name, value in out.items():
        a, b = np.asarray(value.values), saved[name]
        same = a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        detail = ""
        if not same and a.shape == b.shape:
            diff = np.nanmax(np.abs(a - b))
            detail = f" max|diff| = {diff:.3g}, relative {diff / np.nanmax(np.abs(b)):.3g}"
        print(f"{name:12s} {'bit-identical' if same else 'DIFFERENT'} {a.shape}{detail}")
        different += not same
    sys.exit(1 if different else 0)


if __name__ == "__main__":
    main()

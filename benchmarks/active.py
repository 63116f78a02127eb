"""Accuracy figures of membrane linearisation on the active README network.

``Network.example(active=True)`` (ball-and-sticks E/I cells with Hodgkin-Huxley Na/K in
the soma and an apical h-current), probes: 13-channel GaussCylinderPotential LFP and
z-only CDM.  Prints

1. how far each linearisation is from the quasi-active one (the small-signal limit of
   the active cell): max |H_mode - H_qa| / max |H_qa| per (X, Y) and probe;
2. why an active cell simulated "as-is" has no kernel: its response per unit weight
   with every synaptic weight scaled by s (g_eff off, so that the membrane does not
   change with s), relative to the quasi-active kernel; conductance-based synapses
   linearised around the same per-segment resting potential in both.

    python benchmarks/active.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
#: LFPykernels' approximation (one cell, at rest): the setting these figures were measured in
OPTIONS = {"dt": 2 ** -4, "tau": 50.0, "t_X": 500.0, "averaging": "reference",
           "operating_point": "rest"}
MODES = ("as-is", "passive", "frozen")
SCALES = (1e-3, 1e-2, 1e-1, 1.0)


def probes():
    import xkernels

    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def scaled(network, s: float):
    """The network with every synaptic weight multiplied by ``s``."""
    import xkernels

    spec = network.to_dict()
    for conn in spec["connections"]:
        conn["synapse"]["weight"] *= s
    return xkernels.Network.from_dict(spec)


def relative(H, ref, probe: str) -> float:
    a, b = H.xk.probe(probe).values, ref.xk.probe(probe).values
    return float(np.abs(a - b).max() / np.abs(b).max())


def main() -> None:
    import xkernels

    net = xkernels.Network.example(active=True)
    H = {mode: xkernels.compute_kernels(net, probes(), linearisation=mode, **OPTIONS)
         for mode in (*MODES, "quasi-active")}
    qa = H["quasi-active"]
    print("1. max |H_mode - H_quasi-active| / max |H_quasi-active| (g_eff on, "
          f"t_X = {OPTIONS['t_X']} ms for as-is)")
    print(f"{'X->Y':>6} {'probe':>5} " + " ".join(f"{m:>8}" for m in MODES))
    for X in ("E", "I"):
        for Y in ("E", "I"):
            for probe in ("lfp", "cdm"):
                row = [relative(H[m].sel(X=X, Y=Y), qa.sel(X=X, Y=Y), probe) for m in MODES]
                print(f"{X + '->' + Y:>6} {probe:>5} " + " ".join(f"{r:8.3f}" for r in row))
    rest = H["frozen"].attrs["resting_state"]
    for Y, state in json.loads(rest).items():
        v = np.array(state["v"])
        print(f"   resting potential of {Y}: {v.min():.2f} .. {v.max():.2f} mV")

    print("\n2. as-is response per unit weight at weights scaled by s, relative to the "
          "quasi-active kernel (g_eff off): max |H(s)/s - H_qa| / max |H_qa|, CDM")
    options = {**OPTIONS, "g_eff": False}
    spec = net.to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"]["e_pas"] = -65.0  # as the default; Vrest is per segment
    net = xkernels.Network.from_dict(spec)
    qa0 = xkernels.compute_kernels(net, probes(), linearisation="quasi-active", **options)
    vrest = {Y: state["v"] for Y, state in json.loads(qa0.attrs["resting_state"]).items()}
    pairs = [(X, Y) for X in "EI" for Y in "EI"]
    print(f"{'s':>8} " + " ".join(f"{X + '->' + Y:>8}" for X, Y in pairs))
    for s in SCALES:
        Hs = xkernels.compute_kernels(scaled(net, s), probes(), Vrest=vrest, **options) / s
        row = [relative(Hs.sel(X=X, Y=Y), qa0.sel(X=X, Y=Y), "cdm") for X, Y in pairs]
        print(f"{s:8.0e} " + " ".join(f"{r:8.3f}" for r in row))


if __name__ == "__main__":
    main()

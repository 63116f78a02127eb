"""Why the stepped large cell differed from NEURON by 1e-9, and by how much now.

The 1205-segment reconstructed cell of ``benchmarks/linear_solver.py`` (both
populations of the README network, reference options): the E cell's two volleys of
``compute_kernels(solver="linear")`` (its cable with the g_eff shift, the weights per
segment and the probe matrix, taken from the stepped solver's call), their probe
signals over ``--steps`` lags from

- NEURON (``LinearisedCell.synaptic_response``, the cell's ``g_pas`` set to the
  cable's), at rest at -65 mV and at 0 mV (NEURON steps absolute potentials: their
  rounding differs);
- the recursion in extended precision (``np.longdouble``, each step refined to its
  rounding with the residual in extended precision): the reference;
- the stepped solver (:class:`xkernels.engine.stepped.SteppedCable`: NEURON's form, the
  change per step, axial currents edge by edge);
- the potential form it replaced: ``(K + G + A) x[n+1] = K x[n] - w u[n]``, the
  currents ``-A x``.

Each row: the largest difference over channels and lags relative to the largest
signal of the reference, and against NEURON at -65 mV.  Then ``compute_kernels`` with
both solvers: the largest difference relative to each kernel's peak.

    python benchmarks/stepped_accuracy.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from linear_solver import README_GCP, README_OPTIONS, large_network  # noqa: E402


def captured_inputs(network, probes):
    """The stepped solver's inputs for the E cell: (cable, probe matrix, weights, taus)."""
    import xkernels
    from xkernels.engine import stepped

    seen = []
    original = stepped.SteppedCable.kernels

    def spy(self, matrix, weights, taus, *args, **kwargs):
        seen.append((self.cable, np.array(matrix), [np.array(w) for w in weights],
                     [tuple(t) for t in taus]))
        return original(self, matrix, weights, taus, *args, **kwargs)

    stepped.SteppedCable.kernels = spy
    try:
        xkernels.compute_kernels(network, probes, solver="linear",
                                 **README_OPTIONS)
    finally:
        stepped.SteppedCable.kernels = original
    return seen[0]


def synaptic_drive(tau1, tau2, dt, n, dtype=float):
    from xkernels.engine.cable import peak_norm

    f, t1, t2 = peak_norm(tau1, tau2)
    k = np.arange(n + 1).astype(dtype)
    return dtype(f) * (np.exp(-k * dtype(dt) / dtype(t1)) - np.exp(-k * dtype(dt) / dtype(t2)))


def extended(cable, dt, w, u):
    """The recursion in extended precision; the membrane currents (nseg, n + 1)."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    L = np.longdouble
    K = cable.cm.astype(L) * cable.area.astype(L) * L(1e-5) / L(dt)
    G = cable.g.astype(L) * cable.area.astype(L) * L(1e-2)
    A = sparse.csr_matrix(cable.axial).astype(L)
    S = (A + sparse.diags(K + G)).tocsr()
    lu = splu(sparse.csc_matrix(cable.axial + np.diag(np.asarray(K + G, dtype=float))))
    w = w.astype(L)
    x = np.zeros(cable.nseg, dtype=L)
    out = [np.zeros(cable.nseg, dtype=L)]
    for k in range(u.size - 1):
        b = K * x - w * u[k]
        x = lu.solve(np.asarray(b, dtype=float)).astype(L)
        for _ in range(3):
            x = x + lu.solve(np.asarray(b - S @ x, dtype=float)).astype(L)
        out.append(-(A @ x))
    return np.array(out).T


def potential_form(cable, dt, w, u):
    """The stepped solver before: potentials stepped, currents ``-A x``."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    K = cable.capacitance / dt
    A = sparse.csc_matrix(cable.axial)
    step = splu(sparse.csc_matrix(A + sparse.diags(K + cable.conductance)),
                permc_spec="MMD_AT_PLUS_A")
    x = np.zeros((u.size, cable.nseg))
    for k in range(u.size - 1):
        x[k + 1] = step.solve(K * x[k] - w * u[k])
    return -(A @ x.T)


def neuron_responses(network, cable, weights, taus, dt, n, e0):
    from xkernels.engine.cells import LinearisedCell

    pop = network.population("E")
    with LinearisedCell(pop.cell, pop, dt, e0, "neuron") as cell:
        for seg, g in zip(cell.segments, cable.g):
            seg.pas.g = g
        return [cell.synaptic_response(w, t1, t2, n, 0.0) for w, (t1, t2) in
                zip(weights, taus)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import xkernels
    from xkernels.engine.stepped import SteppedCable

    network = large_network()
    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    dt, n = README_OPTIONS["dt"], args.steps
    cable, M, weights, taus = captured_inputs(network, probes)
    print(f"{cable.nseg} segments; axial conductance / (C/dt + G) per segment up to "
          f"{(np.diag(cable.axial) / (cable.capacitance / dt + cable.conductance)).max():.3g}")
    neuron = {e0: neuron_responses(network, cable, weights, taus, dt, n, e0)
              for e0 in (-65.0, 0.0)}
    stepped = SteppedCable(cable, dt)
    for c, (w, (t1, t2)) in enumerate(zip(weights, taus)):
        truth = M @ np.asarray(extended(cable, dt, w, synaptic_drive(
            t1, t2, dt, n, np.longdouble)), dtype=float)
        rows = {"NEURON at -65 mV": M @ neuron[-65.0][c], "NEURON at 0 mV": M @ neuron[0.0][c],
                "stepped (NEURON's form)": M @ stepped.response(w, t1, t2, n),
                "potential form (before)": M @ potential_form(
                    cable, dt, w, synaptic_drive(t1, t2, dt, n))}
        print(f"volley {c} (tau1, tau2 = {t1}, {t2} ms): of the extended-precision "
              "signals' peak / against NEURON at -65 mV")
        for name, signal in rows.items():
            to_truth = np.abs(signal - truth).max() / np.abs(truth).max()
            to_neuron = np.abs(signal - rows["NEURON at -65 mV"]).max() / np.abs(
                rows["NEURON at -65 mV"]).max()
            print(f"  {name:26s} {to_truth:.1e}   {to_neuron:.1e}", flush=True)
    found = {solver: xkernels.compute_kernels(network, probes, solver=solver,
                                              **README_OPTIONS).values
             for solver in ("neuron", "linear")}
    dev = max(float(np.abs(found["linear"][x, y] - found["neuron"][x, y]).max()
                    / np.abs(found["neuron"][x, y]).max()) for x in range(2) for y in range(2))
    print(f"compute_kernels, linear against neuron: {dev:.1e} of each kernel's peak")


if __name__ == "__main__":
    main()

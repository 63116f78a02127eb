"""The hybrid scheme: ground truth on dask, and validate().

Real NEURON simulations, real Zarr stores, a real LocalCluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lfpykit
import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.hybrid import Spikes, correlated_poisson, simulate
from xkernels.hybrid.simulate import cell_matrix
from xkernels.hybrid.wiring import cell_rng, draw_position, wire_cell
from xkernels.spec import Network

sys.path.insert(0, str(Path(__file__).parent))
from _plain_lfpy import plain_cell_signal  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DT = 2.0 ** -4


def small_network(n_e: int = 24, n_i: int = 6, conductance_based: bool = True,
                  p: float = 0.2) -> Network:
    """The README network scaled down (same cells, synapses, delays)."""
    d = Network.example().to_dict()
    d["populations"][0]["size"] = n_e
    d["populations"][1]["size"] = n_i
    for c in d["connections"]:
        c["probability"] = p
        if not conductance_based:
            c["synapse"]["syntype"] = "Exp2SynI"
            c["synapse"]["weight"] = 0.01 if c["pre"] == "E" else -0.04
    d["conductance_based"] = conductance_based
    return Network.from_dict(d)


def contact_probes(n: int = 5) -> dict:
    z = np.linspace(900.0, -200.0, n)
    return {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.full(n, 20.0),
                                                y=np.zeros(n), z=z, sigma=0.3),
            "cdm": xkernels.CurrentDipoleMomentZ()}


# --------------------------------------------------------------------------------------
# one cell: grouped synapses == one LFPy.Synapse per synapse
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("conductance_based", [True, False])
def test_one_cell_equals_plain_lfpy(conductance_based):
    from xkernels.engine.network_cell import NetworkCell

    net = small_network(conductance_based=conductance_based)
    pop = net.population("E")
    rng = np.random.default_rng(3)
    t_stop = 120.0
    position = (31.0, -12.0, 40.0)
    # hand-placed synapses: several per segment, two inputs with different parameters
    synapses = []
    for conn in net.inputs("E"):
        syn = conn.synapse
        syntype = "Exp2Syn" if conductance_based else "Exp2SynI"
        for idx in (0, 3, 3, 7, 12, 12, 12, 20):
            times = np.sort(rng.uniform(0.0, t_stop, 6))
            synapses.append({"idx": idx, "syntype": syntype, "weight": syn.weight * 5,
                             "tau1": syn.tau1, "tau2": syn.tau2, "e": syn.e,
                             "times": times, "pre": conn.pre})
    probes = contact_probes()

    def matrix_of(geometry):
        return np.concatenate([xkernels.probes.probe_matrix(
            pr, geometry, {"radius": 0.0, "loc": 0.0, "scale": 0.0}, n_positions=1)
            for pr in probes.values()])

    ref, ref_imem = plain_cell_signal(pop.cell, pop.rotation, position, synapses, matrix_of,
                                      dt=DT, t_stop=t_stop, e_pas=-65.0)
    with NetworkCell(pop.cell, pop, DT, e_pas_default=-65.0) as cell:
        geometry = cell.place(*position)
        for pre in ("E", "I"):
            mine = [s for s in synapses if s["pre"] == pre]
            segs = sorted({s["idx"] for s in mine})
            times = [np.concatenate([s["times"] for s in mine if s["idx"] == k]) for k in segs]
            s0 = mine[0]
            cell.add_synapses(segs, times, syntype=s0["syntype"], weight=s0["weight"],
                              tau1=s0["tau1"], tau2=s0["tau2"], e=s0["e"])
        assert cell.n_groups == 10  # 5 distinct segments x 2 inputs, not 16 synapses
        n = int(round(t_stop / DT))
        got = cell.simulate(n, cell_matrix(probes, geometry), chunk_steps=333)
        imem = cell.simulate(n, np.eye(cell.nseg), chunk_steps=n)
    assert got.shape == ref.shape
    scale = np.abs(ref_imem).max()
    assert scale > 1e-3  # the synapses did something
    np.testing.assert_allclose(imem, ref_imem, rtol=0, atol=1e-9 * scale)
    for k in range(ref.shape[0]):
        np.testing.assert_allclose(got[k], ref[k], rtol=0,
                                   atol=1e-9 * max(np.abs(ref[k]).max(), 1e-300))

"""KernelApprox (lfpykernels 0.2.0) arguments for one postsynaptic population of a
:class:`xkernels.Network` (used by tests/test_microcircuit.py and
benchmarks/microcircuit.py to compute the same kernels through the reference's API)."""

from __future__ import annotations

import numpy as np
import scipy.stats as st

from xkernels.spec.presets import CELLS_DIR


def set_passive_microcircuit(cell, Vrest, g_pas=1e-4):
    """Passive leak on every section (the microcircuit's membrane)."""
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = Vrest


def kernel_approx_arguments(network, Y: str, Vrest: float = -65.0) -> dict:
    """KernelApprox keyword arguments for the inputs of ``Y`` in ``network``."""
    post = network.population(Y)
    conns = network.inputs(Y)
    cell = post.cell
    params = {"templatefile": str(CELLS_DIR / cell.templatefile),
              "templatename": cell.templatename, "templateargs": None,
              "morphology": str(cell.resolve("morphology")), "delete_sections": False,
              "custom_fun": [set_passive_microcircuit],
              "custom_fun_args": [{"Vrest": Vrest, "g_pas": cell.biophysics["g_pas"]}]}
    params.update(cell.params)
    mult = {c.multapses.name for c in conns}
    delay = {c.delay.name for c in conns}
    assert len(mult) == 1 and len(delay) == 1
    return dict(
        X=[c.pre for c in conns], Y=Y,
        N_X=np.array([network.population(c.pre).size for c in conns]), N_Y=post.size,
        C_YX=np.array([c.probability for c in conns]), cellParameters=params,
        populationParameters={"radius": post.radius, "loc": post.loc, "scale": post.scale},
        multapseFunction=getattr(st, mult.pop()),
        multapseParameters=[dict(c.multapses.params) for c in conns],
        delayFunction=getattr(st, delay.pop()),
        delayParameters=[dict(c.delay.params) for c in conns],
        synapseParameters=[c.synapse.to_dict() for c in conns],
        synapsePositionArguments=[
            {"section": list(c.placement.sections),
             "fun": [getattr(st, d.name) for d in c.placement.densities],
             "funargs": [dict(d.params) for d in c.placement.densities],
             "funweights": list(c.placement.weights)} for c in conns],
        extSynapseParameters={"syntype": "Exp2Syn", "weight": 0.0, "tau1": 0.2,
                              "tau2": 1.8, "e": 0.0},
        nu_ext=0.0, n_ext=0.0,
        nu_X={p.name: p.rate for p in network.populations},
        conductance_based=network.conductance_based)

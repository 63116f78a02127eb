"""Time-averaged membrane potential of hybrid ground-truth cells (a diagnostic).

:func:`xkernels.hybrid.simulate` records only the probe signals.  This module re-runs
a few of the same cells (same subsample, positions, wiring, spikes and extrinsic input
as ``simulate(..., seed=seed, n_cells=n_cells)``: :func:`xkernels.hybrid.wiring.wire_cell`
with the same seed) recording every segment's membrane potential, and returns its
mean over ``t >= transient``.  Used by ``validation_depth.py --vrest measured`` to
linearise conductance-based synapses around the potential the ground-truth cells
actually sit at.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def mean_potentials(network, spikes, post: str, *, n_cells: Any, n_measure: int,
                    seed: int, t_stop: float, transient: float, dt: float = 2.0 ** -4,
                    ext: str = "auto", Vrest: float = -65.0) -> dict[str, np.ndarray]:
    """Mean membrane potential per segment of ``n_measure`` ground-truth cells of ``post``.

    Parameters
    ----------
    network, spikes, seed, t_stop, dt, ext, Vrest
        As :func:`xkernels.hybrid.simulate` (``Vrest`` a number: the leak reversal).
    post : str
        Postsynaptic population.
    n_cells
        The ground truth's ``n_cells`` (its subsample of cells).
    n_measure : int
        The first ``n_measure`` cells of that subsample are simulated.
    transient : float
        Time (ms) excluded from the mean.

    Returns
    -------
    dict
        ``v`` (n_measure, nseg) mean potential (mV), ``z_soma`` (n_measure,) soma
        depth (µm), ``z_mid`` (nseg,) segment depths of a cell at 0 µm, ``index``.
    """
    from neuron import h

    from xkernels.engine import linearisation as lin
    from xkernels.engine.mechanisms import NEURON_LOCK
    from xkernels.engine.network_cell import NetworkCell
    from xkernels.hybrid.ground_truth import _batch_plan, resolve_ext
    from xkernels.hybrid.wiring import wire_cell
    from xkernels.signals.spikes import as_spikes

    spikes = as_spikes(spikes)
    ext = resolve_ext(ext, network)
    _, chosen, _ = _batch_plan(network, n_cells, seed, None)
    cells = [int(i) for i in chosen[post][:n_measure]]
    pop = network.population(post)
    arrays = {name: spikes.arrays(name) for name in spikes}
    n_steps = int(round(t_stop / dt))
    first = int(round(transient / dt))
    out, z_soma = [], []
    with NEURON_LOCK, NetworkCell(pop.cell, pop, dt, e_pas_default=Vrest) as cell:
        z_mid = np.asarray(cell.geometry.z_mid, dtype=float).copy()
        if ext == "leak":
            cell.shift_g_pas(lin.ext_leak_shift(pop, cell.geometry.area))
        elif ext == "mean":
            cell.add_leak(lin.ext_leak_shift(pop, cell.geometry.area), pop.ext_synapse.e)
        for index in cells:
            position, geometry, groups = wire_cell(network, post, index, seed=seed,
                                                   place=cell.place, spikes=arrays,
                                                   t_stop=t_stop, ext=ext)
            for g in groups:
                cell.add_synapses(g.segments, g.times, syntype=g.syntype, weight=g.weight,
                                  tau1=g.tau1, tau2=g.tau2, e=g.e)
            vecs = []
            for seg in cell.segments:
                vec = h.Vector()
                vec.record(seg._ref_v)
                vecs.append(vec)
            cell.simulate(n_steps, np.zeros((1, cell.nseg)))
            v = np.array([vec.as_numpy()[first:n_steps] for vec in vecs])
            out.append(v.mean(axis=1))
            z_soma.append(position[2])
            cell.clear_synapses()
            del vecs
    return {"v": np.array(out), "z_soma": np.array(z_soma), "z_mid": z_mid,
            "index": np.array(cells)}

"""The plain way to simulate one network cell with LFPy: the reference of the hybrid tests
and the baseline of ``benchmarks/hybrid.py``.

One ``LFPy.TemplateCell`` per cell, one ``LFPy.Synapse`` per synapse with its own spike
times (presynaptic spikes + that synapse's delay), ``cell.simulate(rec_imem=True)``,
then the probe matrices applied to ``cell.imem``.  Nothing of xkernels' NEURON code is
used; only the cell's biophysics function and the synapse lists come from the caller.
"""

from __future__ import annotations

import numpy as np


def passive(cell, g_pas: float, e_pas: float) -> None:
    """Leak on every section (as the ``passive`` preset)."""
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = e_pas


def plain_cell_signal(spec, rotation: dict, position, synapses, matrix_of, *, dt: float,
                      t_stop: float, e_pas: float, g_shift=None, biophysics=None,
                      v_init: float | None = None):
    """Signals of one cell simulated the plain LFPy way.

    Parameters
    ----------
    spec : xkernels.spec.CellSpec
        Passive-preset cell (morphology, template, g_pas).
    rotation : dict
        Rotation angles (radians).
    position : (x, y, z)
        Soma position (µm).
    synapses : list of dict
        ``{"idx", "syntype", "weight", "tau1", "tau2", "e", "times"}`` per synapse.
    matrix_of : callable
        geometry (lfpykit.CellGeometry) -> (n_channels, nseg) matrix.
    g_shift : ndarray, optional
        Leak conductance added per segment (S/cm²).
    biophysics : (callable, dict), optional
        A biophysics function and its arguments instead of the passive leak.
    v_init : float, optional
        Initial potential (mV); default ``e_pas``.

    Returns
    -------
    signals : ndarray (n_channels, n_steps), imem : ndarray (nseg, n_steps)
    """
    import LFPy
    import lfpykit

    n_steps = int(round(t_stop / dt))
    cell = LFPy.TemplateCell(
        morphology=str(spec.resolve("morphology")),
        templatefile=str(spec.resolve("templatefile")),
        templatename=spec.templatename, templateargs=None,
        dt=dt, tstart=0.0, tstop=(n_steps - 1) * dt, delete_sections=True,
        v_init=e_pas if v_init is None else v_init,
        custom_fun=[passive if biophysics is None else biophysics[0]],
        custom_fun_args=[{"g_pas": spec.biophysics["g_pas"], "e_pas": e_pas}
                         if biophysics is None else biophysics[1]])
    try:
        if rotation:
            cell.set_rotation(**rotation)
        cell.set_pos(*position)
        if g_shift is not None:
            segs = [seg for sec in cell.allseclist for seg in sec]
            for seg, dg in zip(segs, g_shift):
                seg.pas.g += dg
        syns = []
        for s in synapses:
            params = {"tau1": s["tau1"], "tau2": s["tau2"]}
            if s["syntype"] == "Exp2Syn":
                params["e"] = s["e"]
            syn = LFPy.Synapse(cell, idx=int(s["idx"]), syntype=s["syntype"],
                               weight=s["weight"], **params)
            syn.set_spike_times(np.asarray(s["times"], dtype=float))
            syns.append(syn)
        cell.simulate(rec_imem=True)
        imem = np.asarray(cell.imem)[:, :n_steps]
        geometry = lfpykit.CellGeometry(x=cell.x, y=cell.y, z=cell.z, d=cell.d)
        signals = matrix_of(geometry) @ imem
    finally:
        syns = None
        cell.strip_hoc_objects()
        del cell
        from neuron import h

        h("forall delete_section()")
    return signals, imem

"""Biophysics presets: the membrane mechanisms a preset name puts on a cell.

* ``passive`` -- a leak (``pas``) on every section (:func:`insert_passive`).
* ``active`` -- the leak plus Hodgkin-Huxley sodium and potassium channels in the soma
  and an h-current on every section whose density grows exponentially along the apical
  dendrite (:func:`insert_active`).  The channels are xkernels' own NMODL files in the
  top-level ``mod/`` folder, written from the published kinetics:

  - ``xkna``, ``xkkdr``: Hodgkin & Huxley (1952), J Physiol 117:500-544 (rates at
    6.3 °C, q10 = 3), densities 0.12 and 0.036 S/cm² as in that paper;
  - ``xkih``: Kole, Hallermann & Stuart (2006), J Neurosci 26:1677-1687 (rate
    functions fitted to layer-5 pyramidal-cell I_h, reversal -45 mV); its density
    grows along the apical dendrite as ``gh exp(d / gh_lambda)`` with path distance
    ``d`` from the soma (µm) and ``gh_lambda = 323 µm``, the length constant of the
    exponential I_h gradient of the L5 pyramidal-cell model of Hay et al. (2011),
    PLoS Comput Biol 7:e1002107.

The mechanisms are inserted inside LFPy's cell construction (``custom_fun``, before
LFPy sets the number of segments, so only uniform values survive it); the apical I_h
gradient is applied to the finished cell (:func:`finish_preset`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def insert_passive(cell: Any, g_pas: float, e_pas: float) -> None:
    """Biophysics preset ``passive``: a leak channel on every section.

    Parameters
    ----------
    cell : LFPy.TemplateCell
        The cell being built (called by LFPy as a ``custom_fun``).
    g_pas : float
        Leak conductance (S/cm²).
    e_pas : float
        Leak reversal potential (mV).
    """
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = e_pas


def insert_active(cell: Any, g_pas: float, e_pas: float, gnabar: float, gkbar: float,
                  gh: float, gh_lambda: float, ena: float, ek: float, eh: float) -> None:
    """Biophysics preset ``active``: leak everywhere, Na/K in the soma, I_h everywhere
    (uniform ``gh``; :func:`apical_gradient` applies its increase along the apical
    dendrite once the segments exist).

    Parameters
    ----------
    cell : LFPy.TemplateCell
        The cell being built (called by LFPy as a ``custom_fun``).
    g_pas : float
        Leak conductance on every section (S/cm²).
    e_pas : float
        Leak reversal potential (mV).
    gnabar, gkbar : float
        Peak sodium (``xkna``) and potassium (``xkkdr``) conductances in sections whose
        name contains ``soma`` (S/cm²).
    gh : float
        Peak h-current (``xkih``) conductance in the soma and the basal dendrites
        (S/cm²).
    gh_lambda : float
        Length constant of the exponential increase of ``gh`` along the apical
        dendrite (µm); used by :func:`apical_gradient`.
    ena, ek, eh : float
        Sodium, potassium and h-current reversal potentials (mV).
    """
    insert_passive(cell, g_pas, e_pas)
    for sec in cell.template.all:
        sec.insert("xkih")
        sec.gbar_xkih = gh
        sec.eh_xkih = eh
        if "soma" in sec.name():
            sec.insert("xkna")
            sec.insert("xkkdr")
            sec.gbar_xkna = gnabar
            sec.gbar_xkkdr = gkbar
            sec.ena = ena
            sec.ek = ek


def apical_gradient(sections: Any, gh: float, gh_lambda: float) -> None:
    """Set the I_h density of apical segments to ``gh exp(d / gh_lambda)``.

    Parameters
    ----------
    sections : iterable of nrn.Section
        The finished cell's sections (segments as simulated).
    gh : float
        I_h peak conductance at the soma (S/cm²).
    gh_lambda : float
        Length constant (µm); ``d`` is the path distance of the segment's centre from
        the middle of the first section whose name contains ``soma`` (µm).
    """
    import math

    from neuron import h

    sections = list(sections)
    soma = next((sec for sec in sections if "soma" in sec.name()), None)
    if soma is None:
        return
    for sec in sections:
        if "apic" in sec.name():
            for seg in sec:
                seg.xkih.gbar = gh * math.exp(h.distance(soma(0.5), seg) / gh_lambda)


def finish_preset(sections: Any, biophysics: Mapping[str, Any]) -> None:
    """Complete a biophysics preset on the finished cell (non-uniform densities).

    Parameters
    ----------
    sections : iterable of nrn.Section
        The cell's sections, after LFPy has set their number of segments.
    biophysics : Mapping[str, Any]
        The validated preset.
    """
    if biophysics["name"] == "active":
        apical_gradient(sections, float(biophysics["gh"]), float(biophysics["gh_lambda"]))


def preset_function(biophysics: Mapping[str, Any], e_pas: float,
                    ) -> tuple[Callable[..., None], dict]:
    """The LFPy ``custom_fun`` and its arguments for a biophysics preset.

    Parameters
    ----------
    biophysics : Mapping[str, Any]
        A validated preset (``{"name": "passive" or "active", ...}``, see
        :data:`xkernels.spec.presets.BIOPHYSICS_PRESETS`).
    e_pas : float
        The leak reversal potential to use (mV): the preset's, or Vrest when the preset
        leaves it unset.

    Returns
    -------
    tuple
        ``(function, keyword arguments)``.
    """
    name = biophysics["name"]
    if name == "passive":
        return insert_passive, {"g_pas": biophysics["g_pas"], "e_pas": e_pas}
    if name == "active":
        args = {key: float(value) for key, value in biophysics.items()
                if key not in ("name", "e_pas")}
        return insert_active, {**args, "e_pas": e_pas}
    raise ValueError(f"cell.biophysics.name must be one of ['active', 'passive'], got {name!r}")

"""Presets: the embedded cells, the biophysics presets and the README network.

The Potjans & Diesmann microcircuit is in :mod:`xkernels.spec.microcircuit`.
:meth:`xkernels.Network.example` and :meth:`xkernels.Network.microcircuit` validate them.
"""

from __future__ import annotations

import math
from pathlib import Path

from xkernels.checks import check_bool

CELLS_DIR = Path(__file__).parent / "cells_data"

#: Cells shipped with xkernels, selectable by name.
CELL_PRESETS: dict[str, dict[str, str]] = {
    f"ball_and_sticks_{kind}": {"templatefile": "BallAndSticksTemplate.hoc",
                                "templatename": "BallAndSticksTemplate",
                                "morphology": f"BallAndSticks_{kind}.hoc"}
    for kind in ("E", "I")
}

#: Morphology file formats read without a template (LFPy reads them into one).
MORPHOLOGY_FORMATS = (".swc", ".asc", ".hoc")

#: Keyword arguments of ``LFPy.Cell`` a cell's ``params`` may set (the others --
#: ``morphology``, ``dt``, ``tstart``, ``tstop``, ``delete_sections`` and the template's
#: -- are set by xkernels or are fields of the cell).  Checked against LFPy's signature
#: by the tests.
LFPY_CELL_KEYWORDS = ("v_init", "Ra", "cm", "passive", "passive_parameters", "extracellular",
                      "nsegs_method", "lambda_f", "d_lambda", "max_nsegs_length",
                      "custom_code", "custom_fun", "custom_fun_args", "pt3d", "celsius",
                      "verbose")

#: Biophysics presets: name -> allowed parameters (with defaults; None = use Vrest).
#: ``active`` adds to the leak Hodgkin-Huxley Na/K channels in the soma (S/cm²) and an
#: h-current growing along the apical dendrite (S/cm² at the soma, length constant in
#: µm); reversal potentials in mV.  Sources: :mod:`xkernels.engine.biophysics`.
BIOPHYSICS_PRESETS: dict[str, dict[str, float | None]] = {
    "passive": {"g_pas": 0.0003, "e_pas": None},
    "active": {"g_pas": 0.0003, "e_pas": None, "gnabar": 0.12, "gkbar": 0.036,
               "gh": 0.0002, "gh_lambda": 323.0, "ena": 50.0, "ek": -77.0, "eh": -45.0},
}
#: Parameters of biophysics presets that must be > 0 (leak, length) or >= 0 (channels).
BIOPHYSICS_LIMITS = {"g_pas": "positive", "gh_lambda": "positive", "gnabar": "nonnegative",
                     "gkbar": "nonnegative", "gh": "nonnegative"}


def example_spec(active: bool = False) -> dict:
    """The LFPykernels README network as a :meth:`xkernels.Network.from_dict` dict.

    Excitatory (8192) and inhibitory (1024) populations of ball-and-sticks cells,
    connection probability 0.05, truncated-normal multapses and delays, Exp2Syn
    synapses (weights in µS, time constants in ms, reversal potentials in mV),
    extrinsic drive of 450 synapses at 40 spikes/s.

    Parameters
    ----------
    active : bool
        Give both cells the ``active`` biophysics preset instead of ``passive``.

    Returns
    -------
    dict
        ``{"populations": [...], "connections": [...], "conductance_based": True}``.

    Examples
    --------
    >>> [c["synapse"]["e"] for c in example_spec()["connections"]]
    [0.0, -80.0, 0.0, -80.0]
    """
    biophysics = "active" if check_bool("active", active) else "passive"
    ext = {"syntype": "Exp2Syn", "weight": 0.0002, "tau1": 0.2, "tau2": 1.8, "e": 0.0}
    pops = [{"name": name, "size": size, "rate": rate,
             "cell": {"morphology": f"ball_and_sticks_{name}",
                      "biophysics": {"name": biophysics, "g_pas": 0.0003}},
             "radius": 150.0, "loc": 0.0, "scale": 75.0, "n_ext": 450, "nu_ext": 40.0,
             "ext_synapse": ext} for name, size, rate in (("E", 8192, 2.5), ("I", 1024, 5.0))]
    syn = {"E": {"weight": 0.00012, "syntype": "Exp2Syn", "tau1": 0.2, "tau2": 1.8, "e": 0.0},
           "I": {"weight": 0.002, "syntype": "Exp2Syn", "tau1": 0.1, "tau2": 9.0, "e": -80.0}}
    mult = {"E": {"a": (1 - 2.0) / 0.6, "b": (10 - 2.0) / 0.6, "loc": 2.0, "scale": 0.6},
            "I": {"a": (1 - 5.0) / 1.1, "b": (10 - 5.0) / 1.1, "loc": 5.0, "scale": 1.1}}
    delay = {"E": {"a": -2.2, "b": math.inf, "loc": 1.3, "scale": 0.5},
             "I": {"a": -1.5, "b": math.inf, "loc": 1.2, "scale": 0.6}}
    place = {"E": {"sections": ["apic", "dend"],
                   "densities": [{"name": "norm", "params": {"loc": 50.0, "scale": 100.0}}],
                   "weights": [1.0]},
             "I": {"sections": ["soma", "apic", "dend"],
                   "densities": [{"name": "norm", "params": {"loc": -100.0, "scale": 100.0}}],
                   "weights": [1.0]}}
    conns = [{"pre": x, "post": y, "probability": 0.05,
              "multapses": {"name": "truncnorm", "params": mult[x]},
              "delay": {"name": "truncnorm", "params": delay[x]},
              "synapse": syn[x], "placement": place[x]}
             for y in ("E", "I") for x in ("E", "I")]
    return {"populations": pops, "connections": conns, "conductance_based": True}

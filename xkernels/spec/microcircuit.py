"""The Potjans & Diesmann (2014) cortical microcircuit as a kernel specification.

Potjans TC, Diesmann M (2014). The cell-type specific cortical microcircuit: relating
structure and activity in a full-scale spiking network model. Cereb Cortex 24(3):785-806,
doi:10.1093/cercor/bhs358.  The facts below were typed in from the paper (table numbers
given with each); the code is ours.

* Populations, sizes and connection probabilities: Table 5 (8 populations L2/3, L4, L5,
  L6 x excitatory/inhibitory under 1 mm² of cortical surface, 77 169 neurons; the 8x8
  table of connection probabilities; the thalamic population of 902 neurons and its
  connection probabilities; background in-degrees K_ext).
* Synapses: Table 5 -- exponentially decaying currents, tau_syn = 0.5 ms; mean PSC
  amplitude 87.8 pA (PSP 0.15 mV), relative inhibitory strength g = -4, the
  L4E -> L2/3E amplitude doubled; delays 1.5 ms (excitatory) and 0.75 ms (inhibitory),
  normally distributed with a relative standard deviation of 0.5 (truncated below at
  0.1 ms, the simulation resolution of the original model).
* Neurons (used by the NEST model, :mod:`xkernels.app.microcircuit`): Table 5 --
  C_m = 250 pF, tau_m = 10 ms, t_ref = 2 ms, E_L = V_reset = -65 mV, V_th = -50 mV;
  background Poisson input at 8 spikes/s per synapse.
* Mean firing rates (:data:`MEAN_RATES`): the spontaneous state of the full-scale model,
  the population means of Fig. 6 of the paper as given in secondary material (typed in,
  not read off the figure's data).  Checked against this package's NEST model
  (:mod:`xkernels.app.microcircuit`) at full scale (n_scaling = k_scaling = 1, no DC
  compensation, so these values do not enter the simulation; seed 55, rates over
  0.2-1.2 s, SEM from 5 time blocks of one realisation)::

      python benchmarks/microcircuit_rates.py --n-scaling 1 --t-stop 1200 --threads 4 \
          --skip-default

  measured L2/3E 0.930, L2/3I 2.977, L4E 4.380, L4I 5.869, L5E 7.491, L5I 8.623,
  L6E 1.094, L6I 7.819 spikes/s (SEM 0.008-0.065): every population within 3.1 % of
  :data:`MEAN_RATES` (L5E -3.1 ± 0.8 %, the others within 1.6 %), so the values are kept.
  With full in-degrees but fewer neurons the rates drift away (neurons share more of
  their inputs): n_scaling 0.5 within 4.3 %, 0.25 up to +15 % (L2/3E), 0.1 up to
  +69 % (L2/3E; BENCHMARKS.md, microcircuit section).  For context, not our
  measurement: published NEST simulations of the full model report about L2/3E
  0.75-0.95, L2/3I 3.0, L4E 4.3, L4I 5.9-6.9, L5E 6.8-7.7, L5I 7.7-8.7, L6E 1.1,
  L6I 7.9-8.1 spikes/s.  They are the ``rate`` of each population and the ν_X of the
  NEST model's DC compensation; for this current-based network they do not enter the
  kernels (no g_eff shift).

The number of synapses follows the paper's construction (Eq. 1): with connection
probability C between populations of sizes N_X and N_Y the total number of synapses is
K = ln(1 - C) / ln(1 - 1 / (N_X N_Y)), drawn with multapses.  A postsynaptic cell thus
receives k_YX = K / N_Y synapses from X; in the specification this is
``probability * size_X * mean multapses`` with ``probability = C`` and a multapse count
whose mean is k_YX / (C N_X) (a Poisson count shifted by one; only the mean matters).

Geometry (not in the paper; from Hagen et al. 2016, Cereb Cortex 26:4461, the hybrid
scheme's microcircuit example): layer boundaries L1 0 to -81.6 µm, L2/3 to -587.1,
L4 to -922.2, L5 to -1170, L6 to -1491.7 µm (z = 0 at the pia, z negative into cortex);
somata of each population at the middle of their layer, spread over the layer
(standard deviation thickness / sqrt(12), that of a uniform distribution over the
layer); column radius sqrt(1 mm² / π) = 564.2 µm; passive membranes with
R_m = tau_m / C_m = 10 kΩ cm² (g_pas = 1e-4 S/cm²), C_m = 1 µF/cm², Ra = 150 Ω cm.

Cells: one ball-and-sticks cell per population, written for xkernels
(``cells_data/microcircuit/*.hoc``): pyramidal cells with an apical dendrite reaching
L1 (L2/3E, L5E), L2/3 (L4E) or L4 (L6E); interneurons compact within their layer.

Synapse placement -- a stated assumption.  The layer-specific targeting used by Hagen
et al. 2016 derives from the Binzegger et al. (2004) cat V1 data set, which xkernels
does not ship.  Here the synapses of presynaptic population X land where its axon is
assumed to arborise: a Gaussian density in depth centred on the middle of X's layer
with a standard deviation of half that layer's thickness (widened by the postsynaptic
population's depth spread, as for every placement), on the dendrites (``dend``,
``apic``) for excitatory X and on the soma and dendrites for inhibitory X.  Thalamic
synapses: an equal mixture of Gaussians centred on L4 and L6 (thalamocortical axons
arborise in L4 and in L6).  A cell without membrane in X's layer gets X's synapses on
its parts nearest to it (the Gaussian's tail).

Scaling.  ``scale`` in (0, 1] multiplies every population size (rounded, at least one
cell) and preserves in-degrees: the probability becomes 1 - (1 - C)^(N_X / N_X') and the
multapse mean follows so that each postsynaptic cell keeps k_YX synapses from X.  Kernels
are per spike of the whole (scaled) population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from xkernels.checks import check_bool, check_choice, check_real, fail

#: Cortical populations, in the paper's order.
POPULATIONS: tuple[str, ...] = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: The thalamic population (presynaptic only).
THALAMUS = "TC"

#: Population sizes, full scale (Table 5).
FULL_SIZES: dict[str, int] = {
    "L23E": 20683, "L23I": 5834, "L4E": 21915, "L4I": 5479,
    "L5E": 4850, "L5I": 1065, "L6E": 14395, "L6I": 2948, THALAMUS: 902,
}

#: Mean firing rates of the spontaneous state (spikes/s; see the module docstring).
MEAN_RATES: dict[str, float] = {
    "L23E": 0.943, "L23I": 3.026, "L4E": 4.368, "L4I": 5.882,
    "L5E": 7.733, "L5I": 8.664, "L6E": 1.096, "L6I": 7.851, THALAMUS: 0.0,
}

#: Connection probabilities C[post][pre] (Table 5; rows: target, columns: source in
#: the order of POPULATIONS).
CONNECTION_PROBABILITY: dict[str, tuple[float, ...]] = {
    "L23E": (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    "L23I": (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    "L4E": (0.0077, 0.0059, 0.0497, 0.1350, 0.0067, 0.0003, 0.0453, 0.0),
    "L4I": (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    "L5E": (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    "L5I": (0.0548, 0.0269, 0.0257, 0.0022, 0.0600, 0.3158, 0.0086, 0.0),
    "L6E": (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    "L6I": (0.0364, 0.0010, 0.0034, 0.0005, 0.0277, 0.0080, 0.0658, 0.1443),
}

#: Thalamic connection probabilities onto each population (Table 5).
THALAMIC_PROBABILITY: dict[str, float] = {
    "L23E": 0.0, "L23I": 0.0, "L4E": 0.0983, "L4I": 0.0619,
    "L5E": 0.0, "L5I": 0.0, "L6E": 0.0512, "L6I": 0.0196,
}

#: Background (external Poisson) in-degrees K_ext (Table 5).
BACKGROUND_INDEGREE: dict[str, int] = {
    "L23E": 1600, "L23I": 1500, "L4E": 2100, "L4I": 1900,
    "L5E": 2000, "L5I": 1900, "L6E": 2900, "L6I": 2100,
}
#: Background rate per external synapse (spikes/s, Table 5).
BACKGROUND_RATE = 8.0

#: Mean PSC amplitude (nA; 87.8 pA, Table 5), relative inhibitory strength g, and the
#: factor of the L4E -> L2/3E amplitude.
PSC_AMPLITUDE = 0.0878
G = -4.0
L4E_TO_L23E_FACTOR = 2.0
#: Relative standard deviation of the PSC amplitudes (used by the NEST model).
PSC_REL_SD = 0.1
#: Mean delays (ms) of excitatory and inhibitory (and thalamic = excitatory) synapses,
#: relative standard deviation, lower bound (ms).
DELAY_E = 1.5
DELAY_I = 0.75
DELAY_REL_SD = 0.5
DELAY_MIN = 0.1
#: Synaptic time constant (ms) of the exponential PSCs; the kernels use a current-based
#: double exponential (Exp2SynI) with a rise time of TAU_RISE, i.e. instantaneous at the
#: kernel resolution.
TAU_SYN = 0.5
TAU_RISE = 0.01

#: Point-neuron parameters (NEST ``iaf_psc_exp``; mV, ms, pF; Table 5).
NEURON_PARAMS: dict[str, float] = {
    "C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "E_L": -65.0, "V_reset": -65.0,
    "V_th": -50.0, "tau_syn_ex": TAU_SYN, "tau_syn_in": TAU_SYN,
}

#: Layer boundaries (top, bottom) in µm, z = 0 at the pia (Hagen et al. 2016).
LAYERS: dict[str, tuple[float, float]] = {
    "L1": (0.0, -81.6), "L23": (-81.6, -587.1), "L4": (-587.1, -922.2),
    "L5": (-922.2, -1170.0), "L6": (-1170.0, -1491.7),
}
#: Column radius (µm): a cylinder of 1 mm² cross-section.
COLUMN_RADIUS = math.sqrt(1e6 / math.pi)
#: Passive membrane conductance (S/cm²): R_m = tau_m / C_m = 10 ms / 1 µF/cm².
G_PAS = 1e-4

#: Morphology of each population's cell (in ``cells_data``).
MORPHOLOGIES: dict[str, str] = {name: f"microcircuit/{name}.hoc" for name in POPULATIONS}


def layer_of(population: str) -> str:
    """The layer (``"L23"``, ``"L4"``, ``"L5"``, ``"L6"``) of a cortical population.

    Parameters
    ----------
    population : str
        One of :data:`POPULATIONS`.

    Returns
    -------
    str
        The layer name, a key of :data:`LAYERS`.

    Examples
    --------
    >>> layer_of("L23I")
    'L23'
    """
    return check_choice("population", population, POPULATIONS)[:-1]


def layer_bounds(layer: str) -> tuple[float, float]:
    """(top, bottom) depth of a layer in µm (z = 0 at the pia, negative below).

    Examples
    --------
    >>> layer_bounds("L4")
    (-587.1, -922.2)
    """
    return LAYERS[check_choice("layer", layer, LAYERS)]


def layer_middle(layer: str) -> float:
    """Depth of the middle of a layer (µm)."""
    top, bottom = layer_bounds(layer)
    return 0.5 * (top + bottom)


def layer_thickness(layer: str) -> float:
    """Thickness of a layer (µm)."""
    top, bottom = layer_bounds(layer)
    return top - bottom


def total_synapses(probability: float, n_pre: int, n_post: int) -> float:
    """Expected total number of synapses from X to Y (Potjans & Diesmann 2014, Eq. 1).

    K = ln(1 - C) / ln(1 - 1 / (N_pre N_post)).

    Parameters
    ----------
    probability : float
        Connection probability C in [0, 1).
    n_pre, n_post : int
        Population sizes (cells).

    Returns
    -------
    float
        Number of synapses.
    """
    if probability == 0.0:
        return 0.0
    return math.log1p(-probability) / math.log1p(-1.0 / (n_pre * n_post))


def indegree(post: str, pre: str) -> float:
    """Synapses a cell of ``post`` receives from ``pre`` at full scale, k = K / N_post."""
    prob = _probability(post, pre)
    return total_synapses(prob, FULL_SIZES[pre], FULL_SIZES[post]) / FULL_SIZES[post]


def weight(post: str, pre: str) -> float:
    """Mean PSC amplitude (nA) of the connection pre -> post (positive: excitatory)."""
    if pre == THALAMUS or pre.endswith("E"):
        factor = L4E_TO_L23E_FACTOR if (pre, post) == ("L4E", "L23E") else 1.0
        return PSC_AMPLITUDE * factor
    return PSC_AMPLITUDE * G


def mean_delay(pre: str) -> float:
    """Mean delay (ms) of synapses made by ``pre``."""
    return DELAY_I if pre.endswith("I") else DELAY_E


def _probability(post: str, pre: str) -> float:
    check_choice("post", post, POPULATIONS)
    if check_choice("pre", pre, (*POPULATIONS, THALAMUS)) == THALAMUS:
        return THALAMIC_PROBABILITY[post]
    return CONNECTION_PROBABILITY[post][POPULATIONS.index(pre)]


def _placement(pre: str) -> dict:
    def gaussian(layer: str) -> dict:
        return {"name": "norm", "params": {"loc": layer_middle(layer),
                                           "scale": 0.5 * layer_thickness(layer)}}

    if pre == THALAMUS:
        return {"sections": ["dend", "apic"], "densities": [gaussian("L4"), gaussian("L6")],
                "weights": [1.0, 1.0]}
    sections = ["dend", "apic"] if pre.endswith("E") else ["soma", "dend", "apic"]
    return {"sections": sections, "densities": [gaussian(layer_of(pre))], "weights": [1.0]}


def _population(name: str, size: int) -> dict:
    pop: dict[str, Any] = {"name": name, "size": size, "rate": MEAN_RATES[name],
                           "radius": COLUMN_RADIUS}
    if name == THALAMUS:
        return pop
    layer = layer_of(name)
    pop.update({
        "loc": layer_middle(layer), "scale": layer_thickness(layer) / math.sqrt(12.0),
        "n_ext": float(BACKGROUND_INDEGREE[name]), "nu_ext": BACKGROUND_RATE,
        "cell": {"morphology": MORPHOLOGIES[name],
                 "templatefile": "BallAndSticksTemplate.hoc",
                 "templatename": "BallAndSticksTemplate",
                 "biophysics": {"name": "passive", "g_pas": G_PAS},
                 "params": {"nsegs_method": "lambda_f", "lambda_f": 100.0}},
    })
    return pop


def _connection(pre: str, post: str, sizes: dict[str, int]) -> dict:
    prob = _probability(post, pre)
    k = indegree(post, pre)
    if prob > 0.0:
        ratio = FULL_SIZES[pre] / sizes[pre]     # 1 / effective scale of X
        prob_scaled = -math.expm1(ratio * math.log1p(-prob))
        mean_mult = k / (prob_scaled * sizes[pre])
    else:
        prob_scaled, mean_mult = 0.0, 1.0
    delay = mean_delay(pre)
    sd = DELAY_REL_SD * delay
    return {"pre": pre, "post": post, "probability": prob_scaled,
            "multapses": {"name": "poisson", "params": {"mu": max(mean_mult - 1.0, 0.0),
                                                        "loc": 1}},
            "delay": {"name": "truncnorm",
                      "params": {"a": (DELAY_MIN - delay) / sd, "b": math.inf,
                                 "loc": delay, "scale": sd}},
            "synapse": {"weight": weight(post, pre), "tau1": TAU_RISE, "tau2": TAU_SYN,
                        "e": 0.0, "syntype": "Exp2SynI"},
            "placement": _placement(pre)}


def microcircuit_spec(scale: float = 1.0, *, thalamus: bool = True,
                      populations: Sequence[str] | None = None) -> dict:
    """The microcircuit as a :meth:`xkernels.Network.from_dict` specification.

    Parameters
    ----------
    scale : float
        Factor in (0, 1] on every population size; in-degrees are preserved (see the
        module docstring).
    thalamus : bool
        Include the thalamic population ``"TC"`` as an extra presynaptic population.
    populations : sequence of str, optional
        A subset of :data:`POPULATIONS` (in any order; the paper's order is kept); all
        connections among them (and from the thalamus) are included.

    Returns
    -------
    dict
        ``{"populations": [...], "connections": [...], "conductance_based": False}``.

    Raises
    ------
    ValueError
        ``scale`` outside (0, 1], an unknown population name.
    """
    scale = check_real("scale", scale)
    if not 0.0 < scale <= 1.0:
        fail("scale", scale, "in (0, 1]")
    thalamus = check_bool("thalamus", thalamus)
    if populations is None:
        chosen = list(POPULATIONS)
    else:
        if isinstance(populations, str) or not isinstance(populations, Sequence):
            fail("populations", populations, f"a list of names among {list(POPULATIONS)}",
                 TypeError)
        for i, name in enumerate(populations):
            check_choice(f"populations[{i}]", name, POPULATIONS)
        if not populations:
            fail("populations", populations, "a non-empty list")
        chosen = [name for name in POPULATIONS if name in populations]
    names = chosen + ([THALAMUS] if thalamus else [])
    sizes = {name: max(1, int(round(scale * FULL_SIZES[name]))) for name in names}
    pops = [_population(name, sizes[name]) for name in names]
    conns = [_connection(pre, post, sizes) for post in chosen for pre in names]
    return {"populations": pops, "connections": conns, "conductance_based": False}

"""The Potjans & Diesmann (2014) cortical microcircuit as a NEST point-neuron network.

Its spikes, binned and scaled to the full population sizes, are convolved with the
kernels of :meth:`xkernels.Network.microcircuit`.  NEST (``pip install nest-simulator``)
is imported lazily, only when the network is simulated.  All facts (sizes, connection
probabilities, synapses, delays, neurons, background input) come from
:mod:`xkernels.spec.microcircuit`, typed in from the paper's Table 5.

Downscaling (documented factors, default 1/10 of the neurons and 1/10 of the in-degrees,
so that 1 s of activity takes well under a minute on 2 cores):

* ``n_scaling`` multiplies every population size (the thalamus included).
* ``k_scaling`` multiplies every recurrent and thalamic in-degree
  k_YX = K_YX / N_Y (K_YX: the paper's synapse count, Eq. 1).  Synaptic weights are
  divided by sqrt(k_scaling), which keeps the variance of the input; the mean input
  that is lost, (1 - sqrt(k_scaling)) Σ_X k_YX J_YX τ_syn ν_X, is given back to every
  neuron as a DC current (van Albada, Helias & Diesmann 2015, PLoS Comput Biol
  11:e1004490, the scaling used with the published model; ν_X: the full model's mean
  rates).  The background Poisson input (K_ext synapses at 8 spikes/s each, Table 5) is
  not scaled.  The compensation keeps the mean input, not the rates exactly: at the
  default (0.1, 0.1) the measured stationary rates are 9-58 % below ``MEAN_RATES``
  (which the full-scale model reproduces to 3 %): L2/3E 0.39 instead of 0.94 spikes/s,
  L2/3I -34 %, L6E -21 %, the others -9 to -16 %
  (``python benchmarks/microcircuit_rates.py``, BENCHMARKS.md).
* Connections use the paper's rule: a fixed total number of synapses drawn with
  multapses and autapses allowed (NEST ``fixed_total_number``), k_YX k_scaling N_Y'
  synapses; PSC amplitudes normal with a relative SD of 0.1 (kept on their sign),
  delays normal (relative SD 0.5), redrawn below the resolution.

Thalamic input: ``round(902 n_scaling)`` parrot neurons driven by one Poisson generator
of rate ``th_rate`` (spikes/s) between ``th_start`` and ``th_start + th_duration`` (ms);
``th_rate = 0`` (default) is the spontaneous state of the paper.

Units: times in ms, rates in spikes/s, currents in pA, potentials in mV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xkernels.app.lif import NestSpikes, population_rates, record_spikes, start_nest, summary
from xkernels.checks import check_real, fail
from xkernels.spec import microcircuit as mc

__all__ = ["MicrocircuitParams", "dc_compensation", "population_rates",  # the last two:
           "simulate_microcircuit", "summary"]  # from xkernels.app.lif


@dataclass(frozen=True)
class MicrocircuitParams:
    """Parameters of the downscaled NEST microcircuit.

    Parameters
    ----------
    n_scaling : float
        Factor on the population sizes, in (0, 1].
    k_scaling : float
        Factor on the in-degrees, in (0, 1] (with weight and DC compensation).
    th_rate : float
        Rate of each thalamic neuron while active (spikes/s, >= 0; 0: no thalamic input).
    th_start, th_duration : float
        Onset and duration of the thalamic input (ms, >= 0).
    """

    n_scaling: float = 0.1
    k_scaling: float = 0.1
    th_rate: float = 0.0
    th_start: float = 0.0
    th_duration: float = 0.0

    def check(self) -> None:
        """Raise ``TypeError``/``ValueError`` naming the first bad field."""
        for name in ("n_scaling", "k_scaling"):
            value = check_real(f"MicrocircuitParams.{name}", getattr(self, name))
            if not 0.0 < value <= 1.0:
                fail(f"MicrocircuitParams.{name}", value, "in (0, 1]")
        for name in ("th_rate", "th_start", "th_duration"):
            check_real(f"MicrocircuitParams.{name}", getattr(self, name), nonnegative=True)

    def sizes(self) -> dict[str, int]:
        """Simulated population sizes (cortical populations and ``"TC"``)."""
        return {name: max(1, int(round(self.n_scaling * mc.FULL_SIZES[name])))
                for name in list(mc.POPULATIONS) + [mc.THALAMUS]}


def dc_compensation(k_scaling: float) -> dict[str, float]:
    """DC current (pA) per population replacing the mean input lost by k-scaling.

    (1 - sqrt(k_scaling)) Σ_X k_YX J_YX τ_syn ν_X over the cortical X, with the full
    model's in-degrees, PSC amplitudes (pA), τ_syn (ms) and mean rates (spikes/s).
    """
    out = {}
    for post in mc.POPULATIONS:
        total = sum(mc.indegree(post, pre) * mc.weight(post, pre) * 1e3
                    * mc.TAU_SYN * mc.MEAN_RATES[pre] * 1e-3 for pre in mc.POPULATIONS)
        out[post] = (1.0 - math.sqrt(k_scaling)) * total
    return out


def simulate_microcircuit(t_stop: float = 1000.0, *, dt: float = 2.0 ** -4,
                          params: MicrocircuitParams | None = None, seed: int = 55,
                          threads: int = 2) -> NestSpikes:
    """Simulate the downscaled microcircuit in NEST and return its spikes.

    Parameters
    ----------
    t_stop : float
        Duration (ms), > 0.
    dt : float
        NEST resolution (ms); use the kernels' dt so that spike times fall on bins.
    params : MicrocircuitParams, optional
        Scaling and thalamic input (default :class:`MicrocircuitParams`).
    seed : int
        NEST and initial-potential random seed (>= 1).
    threads : int
        NEST ``local_num_threads``.

    Returns
    -------
    NestSpikes
        Its ``populations`` are the 8 cortical ones and ``"TC"``.

    Raises
    ------
    TypeError, ValueError
        A bad parameter (checked before NEST is imported).
    ImportError
        NEST is not installed.
    """
    params = MicrocircuitParams() if params is None else params
    nest = start_nest(params, MicrocircuitParams, t_stop, dt, seed, threads)
    sizes = params.sizes()
    dc = dc_compensation(params.k_scaling)
    rng = np.random.default_rng(seed)
    nodes = {}
    for name in mc.POPULATIONS:
        nodes[name] = nest.Create("iaf_psc_exp", sizes[name],
                                  params=dict(mc.NEURON_PARAMS, I_e=dc[name]))
        # initial potentials N(-58 mV, 10 mV) as in the paper
        nodes[name].V_m = rng.normal(-58.0, 10.0, sizes[name]).tolist()
    nodes[mc.THALAMUS] = nest.Create("parrot_neuron", sizes[mc.THALAMUS])
    th_stop = params.th_start + params.th_duration
    thalamus = nest.Create("poisson_generator", params={
        "rate": float(params.th_rate), "start": float(params.th_start),
        "stop": float(max(th_stop, params.th_start))})
    nest.Connect(thalamus, nodes[mc.THALAMUS])

    weight_factor = 1.0 / math.sqrt(params.k_scaling)
    for post in mc.POPULATIONS:
        background = nest.Create("poisson_generator", params={
            "rate": mc.BACKGROUND_INDEGREE[post] * mc.BACKGROUND_RATE})
        nest.Connect(background, nodes[post], syn_spec={
            "weight": mc.PSC_AMPLITUDE * 1e3, "delay": mc.DELAY_E})
        for pre in list(mc.POPULATIONS) + [mc.THALAMUS]:
            k = mc.indegree(post, pre) * params.k_scaling
            n_syn = int(round(k * sizes[post]))
            if n_syn == 0:
                continue
            w = mc.weight(post, pre) * 1e3 * weight_factor       # pA
            d = mc.mean_delay(pre)
            wdist = nest.random.normal(mean=w, std=abs(w) * mc.PSC_REL_SD)
            weight = (nest.math.redraw(wdist, min=0.0, max=float("inf")) if w > 0 else
                      nest.math.redraw(wdist, min=-float("inf"), max=0.0))
            delay = nest.math.redraw(nest.random.normal(mean=d, std=d * mc.DELAY_REL_SD),
                                     min=float(dt), max=float("inf"))
            nest.Connect(nodes[pre], nodes[post],
                         {"rule": "fixed_total_number", "N": n_syn},
                         {"synapse_model": "static_synapse", "weight": weight,
                          "delay": delay})
    times, senders, populations = record_spikes(nest, nodes, t_stop)
    return NestSpikes(times, senders, populations, float(t_stop), float(dt), params,
                      dict(mc.FULL_SIZES),
                      "microcircuit")


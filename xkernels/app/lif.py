"""A small Brunel-like E/I network of leaky integrate-and-fire neurons in NEST.

Used by ``xkernels demo`` and the notebooks to produce spikes whose population rates
are convolved with the kernels of :meth:`xkernels.Network.example`.  NEST
(``pip install nest-simulator``) is imported lazily, only when a network is simulated.

Scaling.  The kernels of the README network are per presynaptic spike of the *whole*
population (E: 8192 cells, I: 1024 cells).  Simulating that many LIF neurons is not
needed to estimate the population rate: this module simulates a subnetwork with the
same 8:1 E/I ratio (by default 1/8 of the size, with the connection in-degrees of a
network of that size) and :func:`population_rates` multiplies its spike counts per bin
by ``N_full / N_sim`` so that the rates are those of the full-size populations, in
spikes per bin (the unit the kernels expect).

Units: times in ms, rates in spikes/s, currents in pA, potentials in mV,
capacitances in pF.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_int, check_mapping, check_real, fail

#: Full population sizes of the README network (the kernels' populations).
FULL_SIZES: dict[str, int] = {"E": 8192, "I": 1024}

#: Neuron parameters (NEST ``iaf_psc_exp``): mV, ms, pF.
NEURON_PARAMS: dict[str, float] = {
    "C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": -65.0, "V_reset": -65.0,
    "V_th": -50.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0,
}


@dataclass(frozen=True)
class LIFParams:
    """Parameters of the Brunel-like LIF network.

    Parameters
    ----------
    n_E, n_I : int
        Simulated population sizes (cells).
    epsilon : float
        Connection probability; every neuron receives ``epsilon * n_X`` inputs from
        each population X (fixed in-degree).
    J : float
        Excitatory synaptic current amplitude (pA).
    g : float
        Relative strength of inhibition (inhibitory amplitude is ``-g * J``).
    delay : float
        Synaptic delay (ms).
    nu_ext : float
        Rate of the independent Poisson drive of every neuron (spikes/s).
    J_ext : float
        Amplitude of the external synapses (pA).
    full_sizes : dict
        Population sizes the rates are scaled to (default :data:`FULL_SIZES`).
    """

    n_E: int = 1024
    n_I: int = 128
    epsilon: float = 0.1
    J: float = 30.0
    g: float = 12.0
    delay: float = 1.5
    nu_ext: float = 2700.0
    J_ext: float = 30.0
    full_sizes: Mapping[str, int] = field(default_factory=lambda: dict(FULL_SIZES))

    def check(self) -> None:
        """Raise ``TypeError`` (wrong type) or ``ValueError`` (bad value) naming the
        first bad field."""
        for name in ("n_E", "n_I"):
            check_int(f"LIFParams.{name}", getattr(self, name), minimum=1)
        for name in ("epsilon", "J", "g", "delay", "nu_ext", "J_ext"):
            check_real(f"LIFParams.{name}", getattr(self, name), nonnegative=True)
        if not 0 < self.epsilon <= 1:
            fail("LIFParams.epsilon", self.epsilon, "in (0, 1]")
        if self.delay <= 0:
            fail("LIFParams.delay (ms)", self.delay, "> 0")
        sizes = check_mapping("LIFParams.full_sizes", self.full_sizes)
        if set(sizes) != {"E", "I"}:
            fail("LIFParams.full_sizes keys", sorted(sizes), "['E', 'I']")


@dataclass
class LIFSpikes:
    """Spikes of a simulated LIF network.

    Attributes
    ----------
    times : ndarray
        Spike times (ms).
    senders : ndarray
        Sender ids (NEST node ids).
    populations : dict
        Population name -> ``range`` of its node ids.
    t_stop : float
        Simulated duration (ms).
    dt : float
        Simulation resolution (ms).
    params : LIFParams
        The network parameters.
    """

    times: np.ndarray
    senders: np.ndarray
    populations: dict[str, range]
    t_stop: float
    dt: float
    params: LIFParams

    def mean_rates(self, t_start: float = 0.0) -> dict[str, float]:
        """Mean firing rate per neuron (spikes/s) after ``t_start`` (ms)."""
        out = {}
        keep = self.times >= t_start
        for name, ids in self.populations.items():
            n = np.count_nonzero(keep & (self.senders >= ids.start) & (self.senders < ids.stop))
            out[name] = n / len(ids) / ((self.t_stop - t_start) / 1000.0)
        return out


def import_nest() -> Any:
    """Import NEST without its banner (``PYNEST_QUIET``).

    Returns
    -------
    module
        ``nest``.

    Raises
    ------
    ImportError
        NEST is not installed (the message says how to install it).
    """
    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the LIF network needs NEST: pip install nest-simulator") from err
    return nest


def _quiet(nest: Any) -> None:
    """Only errors from NEST (API of NEST >= 3.9 and older)."""
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - older NEST
        nest.set_verbosity("M_ERROR")


def simulate_lif(t_stop: float = 1000.0, *, dt: float = 2.0 ** -4,
                 params: LIFParams | None = None, seed: int = 12345,
                 threads: int = 2) -> LIFSpikes:
    """Simulate the E/I LIF network in NEST and return its spikes.

    Parameters
    ----------
    t_stop : float
        Duration (ms), > 0.
    dt : float
        NEST resolution (ms); use the kernels' dt (default 2**-4 ms) so that spike
        times fall on the rate bins.
    params : LIFParams, optional
        Network parameters (default :class:`LIFParams`).
    seed : int
        NEST random seed (>= 1).
    threads : int
        NEST ``local_num_threads``.

    Returns
    -------
    LIFSpikes
        Spike times and senders, and the node-id range of each population.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or value (checked before NEST is imported).
    ImportError
        NEST is not installed.
    """
    params = LIFParams() if params is None else params
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be an LIFParams, got {type(params).__name__}")
    params.check()
    check_real("t_stop (ms)", t_stop, positive=True)
    check_real("dt (ms)", dt, positive=True)
    check_int("seed", seed, minimum=1)
    check_int("threads", threads, minimum=1)

    nest = import_nest()
    nest.ResetKernel()
    _quiet(nest)
    # 2**-4 ms is not a whole number of NEST's default 1 µs tics: use binary tics
    nest.SetKernelStatus({"tics_per_ms": 2 ** 14, "resolution": float(dt),
                          "local_num_threads": int(threads),
                          "rng_seed": int(seed), "print_time": False})

    nodes_E = nest.Create("iaf_psc_exp", params.n_E, params=NEURON_PARAMS)
    nodes_I = nest.Create("iaf_psc_exp", params.n_I, params=NEURON_PARAMS)
    rng = np.random.default_rng(seed)
    for nodes in (nodes_E, nodes_I):  # random initial potentials below threshold
        nodes.V_m = rng.uniform(NEURON_PARAMS["V_reset"], NEURON_PARAMS["V_th"],
                                len(nodes)).tolist()
    noise = nest.Create("poisson_generator", params={"rate": float(params.nu_ext)})
    recorder = nest.Create("spike_recorder")

    every = nodes_E + nodes_I
    for pre, weight in ((nodes_E, params.J), (nodes_I, -params.g * params.J)):
        indegree = max(1, int(round(params.epsilon * len(pre))))
        nest.Connect(pre, every, {"rule": "fixed_indegree", "indegree": indegree},
                     {"synapse_model": "static_synapse", "weight": float(weight),
                      "delay": float(params.delay)})
    nest.Connect(noise, every, syn_spec={"weight": float(params.J_ext),
                                         "delay": float(params.delay)})
    nest.Connect(every, recorder)
    nest.Simulate(float(t_stop))

    events = recorder.get("events")
    order = np.argsort(events["times"], kind="stable")
    populations = {
        "E": range(nodes_E[0].global_id, nodes_E[-1].global_id + 1),
        "I": range(nodes_I[0].global_id, nodes_I[-1].global_id + 1),
    }
    return LIFSpikes(times=np.asarray(events["times"], dtype=float)[order],
                     senders=np.asarray(events["senders"], dtype=np.int64)[order],
                     populations=populations, t_stop=float(t_stop), dt=float(dt),
                     params=params)


def population_rates(spikes: LIFSpikes, *, t_start: float = 0.0, t_stop: float | None = None,
                     dt: float = 2.0 ** -4) -> xr.DataArray:
    """Full-population spike counts per bin, scaled from the simulated subnetwork.

    Parameters
    ----------
    spikes : LIFSpikes
        Output of :func:`simulate_lif`.
    t_start, t_stop : float
        Time window (ms); ``t_stop`` defaults to the simulated duration.  Discard the
        initial transient with ``t_start``.
    dt : float
        Bin width (ms); must equal the kernels' dt.

    Returns
    -------
    xarray.DataArray
        ``rates`` with dims (X, time): counts per bin of the simulated population times
        ``N_full / N_sim`` (spikes per bin of the full-size population), time in ms
        (bin start), attrs ``units``, ``scale`` (per population) and ``dt``.
    """
    if not isinstance(spikes, LIFSpikes):
        fail("spikes", type(spikes).__name__, "an LIFSpikes", TypeError)
    return full_population_rates(spikes, spikes.params.full_sizes, t_start=t_start,
                                 t_stop=t_stop, dt=dt,
                                 description="LIF subnetwork counts x N_full / N_sim")


def full_population_rates(spikes: Any, full_sizes: Mapping[str, int], *, t_start: float,
                          t_stop: float | None, dt: float, description: str) -> xr.DataArray:
    """Counts per bin of a NEST simulation's populations times ``N_full / N_sim``.

    Parameters
    ----------
    spikes : LIFSpikes or MicrocircuitSpikes
        Recorder events (``times``, ``senders``), node ids per population
        (``populations``) and the simulated duration ``t_stop`` (ms).
    full_sizes : mapping of str to int
        Full-size population sizes.
    t_start, t_stop : float
        Time window (ms); ``t_stop`` None: the simulated duration.
    dt : float
        Bin width (ms).
    description : str
        The ``description`` attribute of the result.

    Returns
    -------
    xarray.DataArray
        ``rates`` (X, time) in spikes per bin of the full-size populations, attrs
        ``units``, ``dt``, ``scale`` (per population) and ``description``.
    """
    from xkernels.signals import Spikes, rates_from_spikes

    events = Spikes.from_events(spikes.times, spikes.senders, spikes.populations)
    counts = rates_from_spikes(events, t_start=t_start,
                               t_stop=spikes.t_stop if t_stop is None else t_stop, dt=dt)
    scale = xr.DataArray([full_sizes[n] / events.sizes[n] for n in events], dims="X",
                         coords={"X": list(events)})
    rates = (counts * scale).rename("rates")
    rates.attrs.update(counts.attrs)
    rates.attrs.update({"units": "spikes per bin (full population)", "dt": float(dt),
                        "scale": [float(s) for s in scale.values],
                        "description": description})
    return rates


def summary(spikes: LIFSpikes, t_start: float = 0.0) -> dict[str, Any]:
    """Mean rates (spikes/s) and sizes, for printing."""
    rates = spikes.mean_rates(t_start)
    return {name: {"n_sim": len(ids), "n_full": spikes.params.full_sizes[name],
                   "rate": float(rates[name])} for name, ids in spikes.populations.items()}

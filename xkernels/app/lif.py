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
from collections.abc import Iterator, Mapping
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
class NestSpikes:
    """Spikes of a NEST network simulation (:func:`simulate_lif`,
    :func:`xkernels.app.microcircuit.simulate_microcircuit`).

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
    params : LIFParams or MicrocircuitParams
        The network parameters.
    full_sizes : dict
        Population name -> full size the rates are scaled to (cells).
    model : str
        What was simulated, for the ``description`` of the rates.
    """

    times: np.ndarray
    senders: np.ndarray
    populations: dict[str, range]
    t_stop: float
    dt: float
    params: Any
    full_sizes: Mapping[str, int]
    model: str

    def mean_rates(self, t_start: float = 0.0) -> dict[str, float]:
        """Mean firing rate per neuron (spikes/s) after ``t_start`` (ms).

        Examples
        --------
        >>> spikes = NestSpikes(np.array([1.0, 2.0]), np.array([1, 2]),
        ...                     {"E": range(1, 3)}, 1000.0, 0.0625, None, {"E": 16}, "toy")
        >>> float(spikes.mean_rates()["E"])  # 2 spikes of 2 neurons in 1 s
        1.0
        """
        keep = self.times >= t_start
        seconds = (self.t_stop - t_start) / 1000.0
        return {name: np.count_nonzero(keep & (self.senders >= ids.start)
                                       & (self.senders < ids.stop)) / len(ids) / seconds
                for name, ids in self.populations.items()}


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


def start_nest(params: Any, kind: type, t_stop: float, dt: float, seed: int,
               threads: int) -> Any:
    """Check a simulation's arguments, then reset NEST (errors only, resolution ``dt``).

    Parameters
    ----------
    params : LIFParams or MicrocircuitParams
        The network parameters, which must be a ``kind``.
    kind : type
        Their class.
    t_stop, dt : float
        Duration and resolution (ms), > 0.
    seed, threads : int
        NEST random seed (>= 1) and ``local_num_threads``.

    Returns
    -------
    module
        ``nest``, ready for a network.

    Raises
    ------
    TypeError, ValueError
        A bad argument (checked before NEST is imported).
    ImportError
        NEST is not installed.
    """
    if not isinstance(params, kind):
        fail("params", type(params).__name__, f"a {kind.__name__}", TypeError)
    params.check()
    check_real("t_stop (ms)", t_stop, positive=True)
    check_real("dt (ms)", dt, positive=True)
    check_int("seed", seed, minimum=1)
    check_int("threads", threads, minimum=1)
    nest = import_nest()
    nest.ResetKernel()
    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - older NEST
        nest.set_verbosity("M_ERROR")
    # 2**-4 ms is not a whole number of NEST's default 1 µs tics: use binary tics
    nest.SetKernelStatus({"tics_per_ms": 2 ** 14, "resolution": float(dt),
                          "local_num_threads": int(threads), "rng_seed": int(seed),
                          "print_time": False})
    return nest


def record_spikes(nest: Any, nodes: Mapping[str, Any], t_stop: float
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, range]]:
    """Simulate ``t_stop`` ms recording every node of ``nodes`` (population -> nodes).

    Returns
    -------
    (times, senders, populations)
        Spike times (ms) sorted stably, their senders, and the node-id range of each
        population.
    """
    recorder = nest.Create("spike_recorder")
    for group in nodes.values():
        nest.Connect(group, recorder)
    nest.Simulate(float(t_stop))
    events = recorder.get("events")
    order = np.argsort(events["times"], kind="stable")
    populations = {name: range(group[0].global_id, group[-1].global_id + 1)
                   for name, group in nodes.items()}  # NodeCollections of Create: contiguous
    return (np.asarray(events["times"], dtype=float)[order],
            np.asarray(events["senders"], dtype=np.int64)[order], populations)


def build_lif(t_stop: float, dt: float, params: LIFParams, seed: int, threads: int
              ) -> tuple[Any, dict[str, Any]]:
    """Reset NEST and create the E/I LIF network (not simulated yet).

    Parameters
    ----------
    t_stop, dt : float
        Duration and resolution (ms), checked before NEST is imported.
    params : LIFParams
        Network parameters.
    seed, threads : int
        NEST random seed (>= 1) and ``local_num_threads``.

    Returns
    -------
    (nest, nodes)
        The ``nest`` module and population name -> NodeCollection.
    """
    nest = start_nest(params, LIFParams, t_stop, dt, seed, threads)
    nodes_E = nest.Create("iaf_psc_exp", params.n_E, params=NEURON_PARAMS)
    nodes_I = nest.Create("iaf_psc_exp", params.n_I, params=NEURON_PARAMS)
    rng = np.random.default_rng(seed)
    for nodes in (nodes_E, nodes_I):  # random initial potentials below threshold
        nodes.V_m = rng.uniform(NEURON_PARAMS["V_reset"], NEURON_PARAMS["V_th"],
                                len(nodes)).tolist()
    noise = nest.Create("poisson_generator", params={"rate": float(params.nu_ext)})

    every = nodes_E + nodes_I
    for pre, weight in ((nodes_E, params.J), (nodes_I, -params.g * params.J)):
        indegree = max(1, int(round(params.epsilon * len(pre))))
        nest.Connect(pre, every, {"rule": "fixed_indegree", "indegree": indegree},
                     {"synapse_model": "static_synapse", "weight": float(weight),
                      "delay": float(params.delay)})
    nest.Connect(noise, every, syn_spec={"weight": float(params.J_ext),
                                         "delay": float(params.delay)})
    return nest, {"E": nodes_E, "I": nodes_I}


def simulate_lif(t_stop: float = 1000.0, *, dt: float = 2.0 ** -4,
                 params: LIFParams | None = None, seed: int = 12345,
                 threads: int = 2) -> NestSpikes:
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
    NestSpikes
        Spike times and senders, and the node-id range of each population.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong type or value (checked before NEST is imported).
    ImportError
        NEST is not installed.
    """
    params = LIFParams() if params is None else params
    nest, nodes = build_lif(t_stop, dt, params, seed, threads)
    times, senders, populations = record_spikes(nest, nodes, t_stop)
    return NestSpikes(times, senders, populations, float(t_stop), float(dt), params,
                      dict(params.full_sizes), "LIF subnetwork")


def stream_lif(kernels: xr.DataArray, t_stop: float = 1000.0, *, step: float = 100.0,
               dt: float = 2.0 ** -4, params: LIFParams | None = None, seed: int = 12345,
               threads: int = 2, mode: str = "same"
               ) -> Iterator[tuple[xr.DataArray, xr.DataArray]]:
    """Run the LIF network in NEST step by step, convolving while it runs.

    After every ``nest.Simulate(step)`` the spikes of the step are binned (spikes at the
    step's end belong to the next bin, kept for the next step), scaled to the full
    populations as :func:`population_rates` does, and pushed into a
    :class:`xkernels.signals.StreamingConvolver`; the signal samples they complete are
    yielded at once.  The same seed gives the spikes of :func:`simulate_lif`.

    Parameters
    ----------
    kernels : xarray.DataArray
        Kernels of the README network (``X`` = E, I), tau spacing ``dt``.
    t_stop : float
        Duration (ms), a whole number of steps.
    step : float
        Simulated time per NEST ``Simulate`` call (ms), a whole number of bins.
    dt, params, seed, threads
        As :func:`simulate_lif`.
    mode : {"same", "valid"}
        As :func:`xkernels.convolve`.

    Yields
    ------
    (rates, signals)
        The step's rates (X, time) and the signal samples completed by it; after the
        last step, ``(None, tail)`` with the samples
        :meth:`~xkernels.signals.StreamingConvolver.finish` returns.
    """
    from xkernels.signals import Spikes, StreamingConvolver, rates_from_spikes

    params = LIFParams() if params is None else params
    check_real("step (ms)", step, positive=True)
    n_steps = round(t_stop / step)
    if n_steps < 1 or abs(t_stop / step - n_steps) > 1e-9:
        fail("t_stop (ms)", t_stop, f"a whole number of steps of {step} ms")
    stream = StreamingConvolver(kernels, mode=mode)  # kernels checked before NEST starts
    nest, nodes = build_lif(t_stop, dt, params, seed, threads)
    recorder = nest.Create("spike_recorder")
    for group in nodes.values():
        nest.Connect(group, recorder)
    populations = {name: range(group[0].global_id, group[-1].global_id + 1)
                   for name, group in nodes.items()}
    scale = xr.DataArray([params.full_sizes[n] / len(ids) for n, ids in populations.items()],
                         dims="X", coords={"X": list(populations)})
    times, senders = np.zeros(0), np.zeros(0, dtype=np.int64)
    for k in range(n_steps):
        nest.Simulate(float(step))  # Prepare, Run, Cleanup: the recorder can be emptied
        events = recorder.get("events")
        recorder.n_events = 0  # constant memory: the recorder is emptied every step
        times = np.concatenate([times, np.asarray(events["times"], dtype=float)])
        senders = np.concatenate([senders, np.asarray(events["senders"], dtype=np.int64)])
        t0, t1 = k * step, (k + 1) * step
        spikes = Spikes.from_events(times, senders, populations)
        rates = (rates_from_spikes(spikes, t_start=t0, t_stop=t1, dt=dt) * scale)
        later = times >= t1 - 1e-9 * dt  # on the next bin's edge: the next step's
        times, senders = times[later], senders[later]
        yield rates.rename("rates"), stream.push(rates.rename("rates"))
    yield None, stream.finish()


def population_rates(spikes: NestSpikes, *, t_start: float = 0.0, t_stop: float | None = None,
                     dt: float = 2.0 ** -4) -> xr.DataArray:
    """Full-population spike counts per bin, scaled from the simulated network.

    Parameters
    ----------
    spikes : NestSpikes
        Output of :func:`simulate_lif` or
        :func:`xkernels.app.microcircuit.simulate_microcircuit`.
    t_start, t_stop : float
        Time window (ms); ``t_stop`` defaults to the simulated duration.  Discard the
        initial transient with ``t_start``.
    dt : float
        Bin width (ms); must equal the kernels' dt.

    Returns
    -------
    xarray.DataArray
        ``rates`` with dims (X, time): counts per bin of the simulated population times
        ``N_full / N_sim`` (spikes per bin of the full-size population, the unit of the
        kernels), time in ms (bin start), attrs ``units``, ``scale`` (per population),
        ``dt`` and ``description``.
    """
    from xkernels.io import read_nest
    from xkernels.signals import rates_from_spikes

    if not isinstance(spikes, NestSpikes):
        fail("spikes", type(spikes).__name__, "a NestSpikes", TypeError)
    events = read_nest({"times": spikes.times, "senders": spikes.senders}, spikes.populations)
    counts = rates_from_spikes(events, t_start=t_start,
                               t_stop=spikes.t_stop if t_stop is None else t_stop, dt=dt)
    scale = xr.DataArray([spikes.full_sizes[n] / events.sizes[n] for n in events], dims="X",
                         coords={"X": list(events)})
    rates = (counts * scale).rename("rates")
    rates.attrs.update(counts.attrs)
    rates.attrs.update({"units": "spikes per bin (full population)", "dt": float(dt),
                        "scale": [float(s) for s in scale.values],
                        "description": f"{spikes.model} counts x N_full / N_sim"})
    return rates


def summary(spikes: NestSpikes, t_start: float = 0.0) -> dict[str, Any]:
    """Simulated and full sizes and mean rates (spikes/s) per population, for printing."""
    rates = spikes.mean_rates(t_start)
    return {name: {"n_sim": len(ids), "n_full": spikes.full_sizes[name],
                   "rate": float(rates[name])} for name, ids in spikes.populations.items()}

"""Placement and wiring of one postsynaptic cell: pure numpy, seeded per cell.

Every random number of cell ``i`` of population ``Y`` comes from its own generator,
seeded by :class:`numpy.random.SeedSequence` keyed by ``(seed, Y, i)``
(:func:`cell_rng`), and is drawn in a fixed order: soma position, then for every
connection X -> Y in the network's population order the presynaptic partners,
multapses, delays and synapse segments, then extrinsic Poisson input.  A cell is
therefore wired identically whichever worker simulates it, in whichever batch, and a
subsample of cells is wired exactly as those cells are in the full network.

What is drawn (the network specification's meaning, as the kernels read it):

* soma position uniform in the disc of ``radius`` (µm) in the xy-plane, depth
  normal(``loc``, ``scale``);
* every presynaptic neuron of X is connected with probability ``probability``
  (independently; autapses allowed, as ``K = C N_X N_Y`` counts them);
* each connection carries a number of synapses drawn from the multapse distribution
  (a continuous one evaluated at 1..99 and renormalised, as
  :meth:`xkernels.spec.Connection.mean_multapses`), each synapse its own delay drawn
  from the delay distribution (inverse CDF);
* each synapse lands on a segment drawn from the placement density evaluated at the
  cell's absolute segment depths (see :func:`draw_synapses`).

Units: µm, ms, spikes/s.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats as st

from xkernels.engine.linearisation import placement_probability
from xkernels.spec.network import Connection, Distribution, Network, Population

#: Largest multapse count considered for discrete distributions.
MAX_MULTAPSES = 10_000


def population_key(name: str) -> int:
    """A stable 32-bit key of a population name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


def cell_rng(seed: int, population: str, index: int) -> np.random.Generator:
    """The generator of cell ``index`` of ``population`` for simulation ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), population_key(population), 0, int(index)]))


def select_cells(size: int, n_cells: int | float | None, seed: int,
                 population: str) -> np.ndarray:
    """Indices of the cells of a population to simulate (sorted).

    Parameters
    ----------
    size : int
        Population size N_Y.
    n_cells : int, float or None
        ``None``: all cells; an int ``m`` (1 <= m <= N_Y): a seeded subsample of ``m``
        cells; a float ``f`` in (0, 1]: a subsample of ``max(1, round(f N_Y))`` cells.
    seed : int
        Simulation seed (the subsample is drawn from its own generator, keyed by
        ``(seed, population)``).
    population : str
        Population name (for the key and error messages).

    Returns
    -------
    ndarray of int
        Sorted cell indices.  Their signals are scaled by ``N_Y / m`` by the caller.
    """
    if n_cells is None:
        return np.arange(size)
    if isinstance(n_cells, (int, np.integer)) and not isinstance(n_cells, (bool, np.bool_)):
        m = int(n_cells)
        if not 1 <= m <= size:
            raise ValueError(f"n_cells[{population!r}] must be in [1, {size}] (the population "
                             f"size), got {m}")
    elif isinstance(n_cells, (float, np.floating)):
        if not 0.0 < float(n_cells) <= 1.0:
            raise ValueError(f"n_cells[{population!r}] as a fraction must be in (0, 1], "
                             f"got {n_cells!r}")
        m = max(1, int(round(float(n_cells) * size)))
    else:
        raise TypeError(f"n_cells[{population!r}] must be None, an int or a float in (0, 1], "
                        f"got {n_cells!r}")
    if m == size:
        return np.arange(size)
    rng = np.random.default_rng(
        np.random.SeedSequence([int(seed), population_key(population), 1]))
    return np.sort(rng.choice(size, size=m, replace=False))


def draw_position(rng: np.random.Generator, pop: Population) -> tuple[float, float, float]:
    """Soma position (µm): uniform in the disc of ``pop.radius``, depth N(loc, scale)."""
    r = pop.radius * np.sqrt(rng.random())
    phi = 2.0 * np.pi * rng.random()
    z = pop.loc + pop.scale * rng.standard_normal()
    return float(r * np.cos(phi)), float(r * np.sin(phi)), float(z)


def multapse_table(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """Possible synapse counts per connection and their probabilities.

    A continuous distribution is evaluated at 1..99 and renormalised (as the kernels'
    mean multapse count); a discrete one is its pmf on its support up to the
    ``1 - 1e-12`` quantile (at most :data:`MAX_MULTAPSES`), renormalised.
    """
    dist = conn.multapses
    if dist.is_continuous:
        values = np.arange(1, 100)
    else:
        scipy_dist = getattr(st, dist.name)
        low, _ = scipy_dist.support(**dist.params)
        high = scipy_dist.ppf(1.0 - 1e-12, **dist.params)
        low = int(max(0, low))
        high = int(min(MAX_MULTAPSES, high if np.isfinite(high) else MAX_MULTAPSES))
        values = np.arange(low, max(low, high) + 1)
    p = dist.pdf(values)
    total = p.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"connections['{conn.key}'].multapses {dist.to_dict()} must put "
                         f"probability on synapse counts {values[0]}..{values[-1]}, got none")
    return values, p / total


def draw_delays(rng: np.random.Generator, delay: Distribution, n: int) -> np.ndarray:
    """``n`` conduction delays (ms) by inverse transform of uniform draws."""
    return getattr(st, delay.name).ppf(rng.random(n), **delay.params)


@dataclass
class SynapseGroups:
    """Synapses of one input of a cell, grouped by segment.

    Attributes
    ----------
    source : str
        Presynaptic population name, or ``"ext"`` for extrinsic Poisson input.
    syntype : str
        ``"Exp2Syn"`` (conductance, µS) or ``"Exp2SynI"`` (current, nA).
    weight, tau1, tau2, e : float
        Synapse parameters (weight in µS or nA, times in ms, reversal in mV).
    segments : ndarray of int
        Segments receiving at least one event (sorted, unique).
    times : list of ndarray
        Sorted delivery times (ms) per segment: spike time + delay of every synapse on
        it, restricted to ``[0, t_stop)``.
    n_synapses : int
        Number of synapses drawn (with or without events).
    synapse_segment, synapse_source, synapse_delay : ndarray
        Per synapse: segment index, presynaptic neuron index (-1 for extrinsic
        trains) and delay (ms; 0 for extrinsic trains), before grouping.
    """

    source: str
    syntype: str
    weight: float
    tau1: float
    tau2: float
    e: float
    segments: np.ndarray
    times: list[np.ndarray]
    n_synapses: int
    synapse_segment: np.ndarray
    synapse_source: np.ndarray
    synapse_delay: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of synaptic events delivered."""
        return int(sum(t.size for t in self.times))


def _group(seg: np.ndarray, t: np.ndarray, t_stop: float) -> tuple[np.ndarray, list]:
    keep = (t >= 0.0) & (t < t_stop)
    seg, t = seg[keep], t[keep]
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    segments, starts = np.unique(seg, return_index=True)
    return segments, np.split(t, starts[1:]) if segments.size else []


def draw_synapses(rng: np.random.Generator, network: Network, post: str, *,
                  sections: Sequence[str], z_mid: np.ndarray, area: np.ndarray,
                  spikes: Mapping[str, tuple[np.ndarray, np.ndarray]], t_stop: float,
                  ext: str) -> list[SynapseGroups]:
    """Wire one placed cell of ``post`` to the presynaptic neurons and group by segment.

    Synapse segments are drawn with probabilities from
    :func:`xkernels.engine.linearisation.placement_probability` evaluated at the
    cell's **absolute** segment midpoint depths ``z_mid`` with ``population_scale=0``:
    the densities are not widened.  The kernels place one representative cell at the
    population's mean depth ``loc`` and widen each density's scale to
    ``sqrt(scale² + pop.scale²)``; that widening approximates exactly what is done
    here, averaged over cells: a cell displaced by δ ~ N(0, pop.scale) has its segment
    at relative height u at absolute depth ``loc + δ + u``, so its synapse density
    there is ``f(loc + δ + u)``, and the average over δ of a Gaussian ``f`` is the
    Gaussian of widened scale at ``loc + u``.  Widening here as well would count the
    depth spread twice.

    Parameters
    ----------
    rng : numpy.random.Generator
        The cell's generator (see :func:`cell_rng`), after the position draw.
    network : Network
        The network.
    post : str
        Postsynaptic population.
    sections, z_mid, area
        Section name per segment, absolute segment midpoint depths (µm) and
        membrane areas (µm²) of the placed cell.
    spikes : mapping of str to (times, offsets)
        Compressed per-neuron spike trains of every presynaptic population.
    t_stop : float
        Simulation end (ms); later deliveries are dropped.
    ext : {"mean", "leak", "poisson", "none"}
        With ``"poisson"`` the extrinsic input is drawn as Poisson trains (one
        superposed train per segment of rate ``n_ext × A_i / ΣA × nu_ext``) onto
        ``Exp2Syn`` synapses of ``pop.ext_synapse``; otherwise no extrinsic synapses
        are drawn (``"mean"`` and ``"leak"`` change the membrane, in the caller).

    Returns
    -------
    list of SynapseGroups
        One entry per input (connection order, then ``"ext"``).
    """
    pop = network.population(post)
    z_mid = np.asarray(z_mid, dtype=float)
    area = np.asarray(area, dtype=float)
    nseg = z_mid.size
    out = []
    for conn in network.inputs(post):
        times_x, offsets_x = spikes[conn.pre]
        n_pre = offsets_x.size - 1
        connected = np.flatnonzero(rng.random(n_pre) < conn.probability)
        values, probs = multapse_table(conn)
        m = values[rng.choice(values.size, size=connected.size, p=probs)]
        pre = np.repeat(connected, m)
        delays = draw_delays(rng, conn.delay, pre.size)
        field = f"connections['{conn.key}'].placement"
        p = placement_probability(conn.placement, list(sections), z_mid, area, 0.0, field)
        seg = rng.choice(nseg, size=pre.size, p=p)
        # every spike of each synapse's presynaptic neuron, shifted by its delay
        counts = offsets_x[pre + 1] - offsets_x[pre]
        owner = np.repeat(np.arange(pre.size), counts)
        first = np.cumsum(counts) - counts
        index = np.repeat(offsets_x[pre], counts) + (np.arange(counts.sum()) - first[owner])
        t = times_x[index] + delays[owner]
        segments, times = _group(seg[owner], t, t_stop)
        syn = conn.synapse
        out.append(SynapseGroups(
            source=conn.pre, syntype="Exp2Syn" if network.conductance_based else "Exp2SynI",
            weight=syn.weight, tau1=syn.tau1, tau2=syn.tau2, e=syn.e,
            segments=segments, times=times, n_synapses=int(pre.size), synapse_segment=seg,
            synapse_source=pre, synapse_delay=delays))
    if ext == "poisson" and pop.n_ext > 0 and pop.nu_ext > 0:
        syn = pop.ext_synapse  # given: checked by simulate
        rate = pop.n_ext * area / area.sum() * pop.nu_ext          # spikes/s per segment
        counts = rng.poisson(rate * t_stop / 1000.0)
        seg = np.repeat(np.arange(nseg), counts)
        t = rng.random(seg.size) * t_stop
        segments, times = _group(seg, t, t_stop)
        out.append(SynapseGroups(source="ext", syntype="Exp2Syn", weight=syn.weight,
                                 tau1=syn.tau1, tau2=syn.tau2, e=syn.e, segments=segments,
                                 times=times, n_synapses=int(round(pop.n_ext)),
                                 synapse_segment=segments,
                                 synapse_source=np.full(segments.size, -1),
                                 synapse_delay=np.zeros(segments.size)))
    return out


def wire_cell(network: Network, post: str, index: int, *, seed: int,
              place: Callable[[float, float, float], object],
              spikes: Mapping[str, tuple[np.ndarray, np.ndarray]], t_stop: float,
              ext: str) -> tuple[tuple[float, float, float], object, list[SynapseGroups]]:
    """Place and wire cell ``index`` of ``post``.

    Parameters
    ----------
    network, post, index, seed
        The cell's identity (see :func:`cell_rng`).
    place : callable
        ``place(x, y, z)`` puts the cell's soma at that position (µm) and returns its
        geometry: an object with ``sections``, ``z_mid`` and ``area`` (as
        :class:`xkernels.engine.cells.Geometry`).
    spikes, t_stop, ext
        As :func:`draw_synapses`.

    Returns
    -------
    position, geometry, groups
    """
    rng = cell_rng(seed, post, index)
    position = draw_position(rng, network.population(post))
    geometry = place(*position)
    groups = draw_synapses(rng, network, post, sections=geometry.sections,
                           z_mid=geometry.z_mid, area=geometry.area, spikes=spikes,
                           t_stop=t_stop, ext=ext)
    return position, geometry, groups

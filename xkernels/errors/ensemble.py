"""Single-cell kernel ensembles: the signal that one spike of one presynaptic neuron causes.

A presynaptic neuron i of population X makes synapses on the cells of every
postsynaptic population Y as the hybrid scheme wires them
(:mod:`xkernels.hybrid.wiring`): each of the N_Y cells is a target with probability
``probability``, a target gets a number of synapses drawn from the multapse
distribution, each synapse its own delay and a segment drawn from the placement density
at the target's *absolute* segment depths, and each target sits at its own position
(uniform in the population disc, depth normal(loc, scale)) seen by the probes there.
With linear cells, the signal of one spike of neuron i is its single-cell kernel

    h_i^Y(τ) = Σ_targets j Σ_synapses s  a_s  M_j G_seg(s)(τ - d_s),

with ``G_seg`` the membrane-current response to a unit (1 nA) synapse on that segment,
``a_s`` the synapse's linearised peak current (nA), ``M_j`` the probe matrix of target j
at its position and ``d_s`` the synapse's delay (rounded to the time step).

Nothing is simulated per sample: ``G_seg`` is simulated once per segment and synapse
time constants (:meth:`~xkernels.engine.membrane.LinearisedMembrane.response`, the
linearised membrane of the kernels), the targets come from a pool of ``J`` cells placed
by the population's distributions (``J = min(pool, 4 N_Y)``; their probe matrices are
computed once), and each sampled neuron's kernel is a sum of shifted, scaled copies of
``M_j G_seg``.  Everything is drawn from generators seeded by ``(seed, population,
stream)``: the same seed gives the same ensemble.

The pool's positions are stratified (``pool_positions``: a scrambled Halton sequence
mapped through the position distributions), not independent draws: the mean
single-cell kernel is an average over target positions, and near a contact (above all
at the phase reversal, where the mean is a small difference) it is dominated by the few
targets that come close to it.  Measured on the current-based benchmark network with
correlated input (``benchmarks/error_seed.py pool``), the pool's mean kernel at the
phase-reversal contact moved by up to 7 % between seeds with independent positions, at
most 1.7 % with stratified ones (J = 1000 and 400 positions).

Units: µm, ms, nA; kernels in the probe channels' units per spike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import ndtri
from scipy.stats import qmc

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry, LinearisedCell
from xkernels.engine.kernels import prepare_population
from xkernels.engine.membrane import linearised
from xkernels.engine.plans import KernelPlan
from xkernels.hybrid.ground_truth import cell_matrix
from xkernels.hybrid.wiring import draw_delays, multapse_table, population_key
from xkernels.spec.network import Network, Population
from xkernels.spec.options import leak_reversal_of

#: Default number of target positions placed per postsynaptic population (``J``).
DEFAULT_POOL = 1000
#: At most this many positions per cell of the population: ``J = min(pool, 4 N_Y)``.
POOL_FACTOR = 4


@dataclass
class Ensemble:
    """Sampled single-cell kernels of every presynaptic population.

    Attributes
    ----------
    kernels : dict of str to ndarray
        Per presynaptic population X: shape (m_X, len(Y), n_channels, n + 1), the
        kernels of ``m_X`` sampled neurons onto every postsynaptic population at lags
        ``0..n`` steps.
    neurons : dict of str to ndarray
        Indices of the sampled neurons of X (sorted).
    Y : tuple of str
        Postsynaptic populations (axis 1 of ``kernels``).
    pool_kernels : dict of (str, str) to ndarray
        Per (X, Y): the expected kernel of each pool cell as a target of one spike of X
        (``E[multapses] Σ_seg p_j(seg) a_seg M_j G_seg`` smeared by the delay
        distribution), shape (J_Y, n_channels, n + 1).
    pool_scale : dict of (str, str) to float
        ``probability × N_Y``: the expected number of targets per presynaptic neuron
        (the factor from a pool cell's expected kernel to the population kernel).
    pool_size : dict of str to int
        ``J_Y`` per postsynaptic population.
    """

    kernels: dict[str, np.ndarray]
    neurons: dict[str, np.ndarray]
    Y: tuple[str, ...]
    pool_kernels: dict[tuple[str, str], np.ndarray]
    pool_scale: dict[tuple[str, str], float]
    pool_size: dict[str, int]


def ensemble_rng(seed: int, population: str, stream: int) -> np.random.Generator:
    """The generator of one stream (0: sampled neurons, 1: pool, 2: wiring) of one
    population for ensemble ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), population_key(population), 7, int(stream)]))


def pool_positions(rng: np.random.Generator, pop: Population, n: int) -> np.ndarray:
    """``n`` stratified soma positions (µm) of ``pop``: a scrambled Halton sequence in the
    unit cube mapped as :func:`xkernels.hybrid.wiring.draw_position` maps uniform draws
    (uniform in the disc of ``radius``, depth normal(``loc``, ``scale``)).

    Every point has the distribution of one cell's position (the scrambling is random),
    and the points fill the disc and the depth range evenly: the mean of a function of
    the position over them varies far less between seeds than over independent draws.

    Parameters
    ----------
    rng : numpy.random.Generator
        Generator of the scrambling.
    pop : Population
        The population (``radius``, ``loc``, ``scale``).
    n : int
        Number of positions.

    Returns
    -------
    ndarray
        Shape (n, 3): x, y, z.

    Examples
    --------
    >>> import xkernels
    >>> pop = xkernels.Network.example().population("E")
    >>> p = pool_positions(np.random.default_rng(0), pop, 1000)
    >>> bool(np.hypot(p[:, 0], p[:, 1]).max() <= pop.radius)
    True
    >>> bool(abs(p[:, 2].mean() - pop.loc) < 0.02 * pop.scale)   # stratified: close
    True
    """
    u = qmc.Halton(d=3, scramble=True, seed=rng).random(int(n))
    r = pop.radius * np.sqrt(u[:, 0])
    phi = 2.0 * np.pi * u[:, 1]
    z = pop.loc + pop.scale * ndtri(np.clip(u[:, 2], 1e-12, 1.0 - 1e-12))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def placed(geometry: Geometry, position: tuple[float, float, float]) -> Geometry:
    """``geometry`` translated so that its soma midpoint is at ``position`` (µm), as
    LFPy's ``set_pos`` moves a cell (the mean of the soma segments' midpoints)."""
    soma = np.array(["soma" in s for s in geometry.sections])
    if not soma.any():
        soma = np.zeros(geometry.nseg, dtype=bool)
        soma[0] = True
    centre = [getattr(geometry, a)[soma].mean() for a in ("x", "y", "z")]
    dx, dy, dz = (p - c for p, c in zip(position, centre))
    return Geometry(x=geometry.x + dx, y=geometry.y + dy, z=geometry.z + dz, d=geometry.d,
                    area=geometry.area, sections=list(geometry.sections))


def segment_responses(network: Network, post: str, plan: KernelPlan, segments: np.ndarray
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per presynaptic population of ``post``: the responses to a unit synapse on each of
    ``segments`` (used, nseg, n + 1) and the linearised peak current per synapse on each
    segment (nseg,)."""
    pop = network.population(post)
    inputs, state, mode, _ = prepare_population(network, post, plan)
    n = plan.grid.n_response
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with LinearisedCell(pop.cell, pop, plan.options.dt,
                        leak_reversal_of(plan.vrest_by_post[post]),
                        plan.options.solver_of(post)) as cell, \
            linearised(network, post, cell, plan, inputs, mode, state) as (membrane, _):
        nseg = cell.geometry.nseg
        v = membrane.state.v if membrane.state is not None else plan.vrest_by_post[post]
        cache: dict[tuple[float, float], np.ndarray] = {}
        for conn in network.inputs(post):
            syn = conn.synapse
            key = (syn.tau1, syn.tau2)
            if key not in cache:
                G = np.empty((segments.size, nseg, n + 1))
                for k, seg in enumerate(segments):
                    unit = np.zeros(nseg)
                    unit[seg] = 1.0
                    G[k] = membrane.response(unit, syn.tau1, syn.tau2, n, plan.options.t_X)
                cache[key] = G
            amplitude = lin.segment_weights(syn.weight, syn.e, v, np.ones(nseg),
                                            network.conductance_based)
            out[conn.pre] = (cache[key], np.broadcast_to(amplitude, (nseg,)).copy())
    return out


def sample_neurons(size: int, n_cells: int, seed: int, population: str) -> np.ndarray:
    """``n_cells`` neuron indices of a population (sorted, seeded): distinct when
    ``n_cells <= size``; otherwise every neuron and ``n_cells - size`` more drawn again
    (each sampled neuron gets its own wiring: more samples of the same distribution)."""
    m, size = int(n_cells), int(size)
    rng = ensemble_rng(seed, population, 0)
    if m > size:
        return np.sort(np.concatenate([np.arange(size), rng.choice(size, size=m - size)]))
    if m == size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=m, replace=False))


def single_cell_kernels(network: Network, probes: Mapping[str, Any], plan: KernelPlan, *,
                        n_cells: Mapping[str, int], seed: int = 0,
                        pool: int = DEFAULT_POOL) -> Ensemble:
    """Sample the single-cell kernels of ``n_cells[X]`` neurons of every presynaptic X.

    Parameters
    ----------
    network : Network
        The network (its distributions are sampled).
    probes : mapping of str to probe
        Named forward models (channel order of the result), evaluated at each target
        cell's own position as in :func:`xkernels.hybrid.simulate`.
    plan : KernelPlan
        The kernel computation whose membranes, operating point and lag grid the
        ensemble uses (:func:`xkernels.engine.prepare_kernels`).
    n_cells : mapping of str to int
        Neurons sampled per presynaptic population (at most its size).
    seed : int
        Seed of the sample, the pool and the wiring.
    pool : int
        Target positions placed per postsynaptic population, at most
        :data:`POOL_FACTOR` × N_Y (``J``, stratified: ``pool_positions``; targets are
        drawn from them, distinct ones when ``J >= N_Y``).

    Returns
    -------
    Ensemble

    Examples
    --------
    >>> import xkernels
    >>> from xkernels.engine import prepare_kernels
    >>> d = xkernels.Network.example().to_dict()
    >>> d["populations"][0]["size"], d["populations"][1]["size"] = 40, 10
    >>> net = xkernels.Network.from_dict(d)
    >>> probes = {"cdm": xkernels.CurrentDipoleMomentZ()}
    >>> plan = prepare_kernels(net, probes, xkernels.KernelOptions(tau=5.0))
    >>> ens = single_cell_kernels(net, probes, plan, n_cells={"E": 5, "I": 5}, seed=1,
    ...                           pool=50)
    >>> ens.kernels["E"].shape           # (neurons, Y, channels, lags 0..n)
    (5, 2, 1, 81)
    >>> ens.neurons["I"].size, ens.pool_size   # sampled neurons; target cells placed
    (5, {'E': 50, 'I': 40})
    """
    n = plan.grid.n_response
    dt = plan.options.dt
    posts = list(plan.Y)
    sample = {x: sample_neurons(network.population(x).size, n_cells[x], seed, x)
              for x in plan.X}
    kernels = {x: np.zeros((sample[x].size, len(posts), 0, n + 1)) for x in plan.X}
    pool_kernels: dict[tuple[str, str], np.ndarray] = {}
    pool_scale: dict[tuple[str, str], float] = {}
    pool_size: dict[str, int] = {}
    for iy, post in enumerate(posts):
        pop = network.population(post)
        J = min(int(pool), POOL_FACTOR * pop.size)
        pool_size[post] = J
        rng = ensemble_rng(seed, post, 1)
        positions = [tuple(map(float, p)) for p in pool_positions(rng, pop, J)]
        conns = list(network.inputs(post))
        # placement probabilities of every pool cell (its absolute depths), per input
        with LinearisedCell(pop.cell, pop, dt,
                            leak_reversal_of(plan.vrest_by_post[post])) as cell:
            origin = cell.geometry
        cells = [placed(origin, p) for p in positions]
        placement = {}
        for conn in conns:
            field = f"connections['{conn.key}'].placement"
            placement[conn.pre] = np.stack([
                lin.placement_probability(conn.placement, list(g.sections), g.z_mid, g.area,
                                          0.0, field) for g in cells])
        used = np.flatnonzero(np.any([placement[c.pre].any(axis=0) for c in conns], axis=0))
        responses = segment_responses(network, post, plan, used)
        slot = np.full(origin.nseg, -1)
        slot[used] = np.arange(used.size)
        matrices = np.stack([cell_matrix(probes, g) for g in cells])     # (J, ch, nseg)
        n_ch = matrices.shape[1]
        for conn in conns:
            x = conn.pre
            if kernels[x].shape[2] == 0:
                kernels[x] = np.zeros((sample[x].size, len(posts), n_ch, n + 1))
            G, amplitude = responses[x]
            values, probs = multapse_table(conn)
            wrng = ensemble_rng(seed, f"{x}->{post}", 2)
            p_cells = placement[x]
            # every sampled neuron's targets (distinct pool cells when the pool is the
            # whole population), multapses, delays and segments
            plan_syn: dict[int, list[tuple[int, int, int]]] = {}
            for k in range(sample[x].size):
                n_targets = wrng.binomial(pop.size, conn.probability)
                targets = wrng.choice(J, size=n_targets, replace=J < pop.size)
                m = values[wrng.choice(values.size, size=n_targets, p=probs)]
                delays = np.rint(draw_delays(wrng, conn.delay, int(m.sum())) / dt).astype(int)
                owner = np.repeat(targets, m)
                segs = np.array([wrng.choice(origin.nseg, p=p_cells[j]) for j in owner],
                                dtype=int)
                for j, s, d in zip(owner, segs, delays):
                    plan_syn.setdefault(int(j), []).append((k, int(s), int(d)))
            h_delay = lin.delay_filter(conn.delay, plan.grid.delay_times)
            mean_m = float((values * probs).sum())
            expected = np.empty((J, n_ch, n + 1))
            for j in range(J):
                # M_j G_seg for every used segment: (used, ch, n + 1)
                mapped = np.einsum("cs,ust->uct", matrices[j], G, optimize=True)
                mapped *= amplitude[used][:, None, None]
                mean_response = np.tensordot(p_cells[j][used], mapped, axes=(0, 0)) * mean_m
                full = fftconvolve(mean_response, h_delay[None, :], axes=-1)
                centre = plan.grid.delay_centre
                expected[j] = full[:, centre:centre + n + 1]
                for k, s, d in plan_syn.get(j, ()):
                    if 0 <= d <= n:
                        kernels[x][k, iy, :, d:] += mapped[slot[s], :, :n + 1 - d]
            pool_kernels[(x, post)] = expected
            pool_scale[(x, post)] = conn.probability * pop.size
    return Ensemble(kernels=kernels, neurons=sample, Y=tuple(posts), pool_kernels=pool_kernels,
                    pool_scale=pool_scale, pool_size=pool_size)

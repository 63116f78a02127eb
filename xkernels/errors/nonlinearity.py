"""The nonlinearity of conductance-based synapses, measured on a small sample of cells.

The error estimate (:mod:`xkernels.errors.estimate`) assumes linear cells: a cell's
signal is the sum of its synapses' unit responses.  A conductance-based synapse draws
``g(t) (V(t) - E)``: while it (and every other synapse) is open the membrane moves
towards ``E`` and conducts more, so a cell of the network answers its input more weakly
than its linearisation (a gain below one) and not exactly in proportion to it (a
residual).  Both are measured here, on a few postsynaptic cells simulated as the
hybrid scheme does (:func:`xkernels.hybrid.simulate`):

1. ``m`` cells of every postsynaptic population Y (seeded, drawn as
   ``xkernels.hybrid.wiring.select_cells`` draws a subsample) are placed and wired
   exactly as in the hybrid scheme (``wire_cell``, the
   same seed gives the same cells as the ground truth), driven by the given spikes and
   simulated by NEURON with real ``Exp2Syn`` conductances
   (``NetworkCell``) from one kernel length before
   the window (at most :data:`MAX_SPAN` of it): their membrane currents, mapped to the
   signals ``v_j(t)`` (every probe channel at the cell's own position);
2. each cell's own *linear* prediction, per presynaptic population X:
   ``l_jX(t) = Σ_synapses a_s M_j G_s(t - t_event)``, the same per-segment unit
   responses ``G_s`` and linearised peak currents ``a_s`` as the single-cell kernel
   ensemble (``xkernels.errors.ensemble.segment_responses``), superposed over the
   same events;
3. per channel, gains ``g_XY`` by least squares over the ``m`` cells of Y,
   ``v_j ≈ Σ_X g_XY l_jX``, scaled by one factor per channel that minimises the
   network's residual variance below (:mod:`xkernels.errors.network_gain`), and the
   residual ``r_j = v_j - Σ_X g_XY l_jX``; the gains' sampling covariance by the
   jackknife over the cells (``gain_covariance``).

The ensemble's single-cell kernels of pathway X -> Y are scaled by ``g_XY`` (so the
bias compares the kernels used with the *effective* mean single-cell kernel, and the
heterogeneity is at the cells' true scale); the residual of the network,
``Σ_Y Σ_{j ∈ Y} r_j``, has the variance

    N_Y ā_Y + N_Y (N_Y - 1) c̄_YY  summed over Y,  + Σ_{Y ≠ Y'} N_Y N_Y' c̄_YY'

with ``ā`` the mean variance of one cell's residual and ``c̄`` the mean covariance of
two different cells' residuals (from the sample's ``m (m - 1)`` pairs): the
``nonlinearity`` part of the estimate.  Current-based networks have none: nothing is
simulated for them.

If the spikes hold only a sample of a presynaptic population, each of its N_X neurons
is given one of the sampled trains (seeded): rates and correlations are kept, and the
trains of a cell's partners repeat when the sample is small.

Units: ms, µm, nA; signals in the probe channels' units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import Geometry, LinearisedCell
from xkernels.engine.network_cell import NetworkCell
from xkernels.engine.plans import KernelPlan
from xkernels.errors.ensemble import placed, segment_responses
from xkernels.errors.network_gain import network_fit
from xkernels.hybrid.ground_truth import cell_matrix
from xkernels.hybrid.wiring import population_key, select_cells, wire_cell
from xkernels.signals.spikes import Spikes
from xkernels.spec.network import Network
from xkernels.spec.options import leak_reversal_of

#: Default number of cells simulated per postsynaptic population.
DEFAULT_SAMPLE = 16
#: Fewest cells per population: the residual's cross-covariance needs two.
MIN_SAMPLE = 2
#: Longest stretch of the window simulated (ms): the gains and the residual's variance
#: are averages over time, a few seconds of spikes determine them.
MAX_SPAN = 4000.0


@dataclass
class Nonlinearity:
    """The measured nonlinearity of a conductance-based network's cells.

    Attributes
    ----------
    gain : ndarray
        ``g_XY`` per channel, shape (X, Y, channels): the factor from the linearised
        response of pathway X -> Y to the cells' (least squares over the sample).
    residual : ndarray
        Variance of the network's residual per channel (squared channel units).
    cells : dict of str to ndarray
        The simulated cells of every postsynaptic population (indices).
    signal_ratio : ndarray
        Per Y and channel, std of the simulated cells' signals over that of their
        linear predictions, shape (Y, channels) (diagnostic).
    residual_fraction : ndarray
        Per Y and channel, ``Σ_j ||r_j||² / Σ_j ||v_j||²`` (diagnostic).
    gain_covariance : ndarray
        Sampling covariance of the gains (jackknife over the cells of the per-cell fit,
        scaled as the gains are: ``gain_covariance``), shape (X, X, Y, channels); 0
        where not measured.
    """

    gain: np.ndarray
    residual: np.ndarray
    cells: dict[str, np.ndarray]
    signal_ratio: np.ndarray
    residual_fraction: np.ndarray
    gain_covariance: np.ndarray


def every_neuron(spikes: Spikes, sizes: Mapping[str, int], seed: int) -> Spikes:
    """``spikes`` with every neuron of every population: a population given in full is
    kept, one given by a sample of ``m < N`` neurons has each of its ``N`` neurons take
    one of the sampled trains (the first ``m`` the sample itself, the others drawn,
    seeded).

    Parameters
    ----------
    spikes : Spikes
        Spike trains (at least one neuron per population).
    sizes : mapping of str to int
        Population sizes N.
    seed : int
        Seed of the draw.

    Returns
    -------
    Spikes

    Examples
    --------
    >>> s = every_neuron(Spikes({"E": [[1.0], [2.0, 3.0]]}), {"E": 4}, seed=0)
    >>> times, offsets = s.arrays("E")
    >>> offsets.size - 1, times[:3].tolist()
    (4, [1.0, 2.0, 3.0])
    """
    data = {}
    for x in spikes:
        times, offsets = spikes.arrays(x)
        m, N = offsets.size - 1, int(sizes.get(x, offsets.size - 1))
        if m >= N:
            data[x] = (times, offsets)
            continue
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), population_key(x), 11]))
        which = np.concatenate([np.arange(m), rng.integers(0, m, size=N - m)])
        trains = [times[offsets[k]:offsets[k + 1]] for k in which]
        counts = np.array([t.size for t in trains])
        data[x] = (np.concatenate(trains) if trains else np.zeros(0),
                   np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    return Spikes.from_arrays(data)


def window_trains(spikes: Spikes, t0: float, t1: float
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Compressed trains of the spikes in ``[t0, t1)``, times relative to ``t0``.

    Parameters
    ----------
    spikes : Spikes
        Spike trains per population (ms).
    t0, t1 : float
        The window (ms).

    Returns
    -------
    dict
        Population -> ``(times (ms, from t0), offsets)``: neuron k's spikes are
        ``times[offsets[k]:offsets[k + 1]]``; every neuron kept, also without spikes.

    Examples
    --------
    >>> from xkernels import Spikes
    >>> s = Spikes({"E": [np.array([1.0, 5.0, 9.0]), np.array([2.0])]})
    >>> times, offsets = window_trains(s, 2.0, 9.0)["E"]
    >>> times.tolist(), offsets.tolist()
    ([3.0, 0.0], [0, 1, 2])
    """
    out = {}
    for x in spikes:
        times, offsets = spikes.arrays(x)
        keep = (times >= t0) & (times < t1)
        owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        counts = np.bincount(owner[keep], minlength=offsets.size - 1)
        out[x] = (times[keep] - t0, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    return out


def linear_signal(groups: list, segments: np.ndarray,
                  responses: Mapping[str, tuple[np.ndarray, np.ndarray]],
                  matrix: np.ndarray, dt: float, n_steps: int,
                  order: list[str]) -> np.ndarray:
    """A cell's linear prediction per presynaptic population.

    Parameters
    ----------
    groups : list of SynapseGroups
        The cell's wiring (``wire_cell``).
    segments : ndarray
        The segments (sorted) with unit responses: every segment of ``groups``.
    responses : mapping of str to (G, a)
        Per presynaptic population: unit responses ``G`` (len(segments), nseg, n + 1)
        on ``segments`` and peak currents ``a`` (nseg,) (nA).
    matrix : ndarray
        The probes at the cell's position (channels, nseg).
    dt : float
        Time step (ms); an event at ``t`` starts its response at step ``round(t / dt)``.
    n_steps : int
        Samples of the prediction.
    order : list of str
        Presynaptic populations (axis 0 of the result).

    Returns
    -------
    ndarray
        Shape (len(order), channels, n_steps).
    """
    n_ch = matrix.shape[0]
    out = np.zeros((len(order), n_ch, n_steps))
    for g in groups:
        if g.source not in responses or not len(g.segments):
            continue
        G, a = responses[g.source]
        n1 = G.shape[-1]
        L = fft.next_fast_len(n_steps + n1, real=True)
        acc = np.zeros((n_ch, L // 2 + 1), dtype=complex)
        for seg, times in zip(g.segments, g.times):
            bins = np.rint(np.asarray(times) / dt).astype(np.int64)
            bins = bins[(bins >= 0) & (bins < n_steps)]
            if not bins.size:
                continue
            counts = np.bincount(bins, minlength=n_steps).astype(float)
            k = int(np.searchsorted(segments, seg))
            if k >= segments.size or segments[k] != seg:
                raise RuntimeError(f"segment {seg} of a {g.source} synapse has no unit "
                                   "response: the wiring drawn without NEURON differs")
            h = a[seg] * (matrix @ G[k])                                  # (ch, n + 1)
            acc += fft.rfft(h, n=L, axis=-1) * fft.rfft(counts, n=L)[None, :]
        out[order.index(g.source)] += fft.irfft(acc, n=L, axis=-1)[:, :n_steps]
    return out


def wired_segments(network: Network, post: str, cells: np.ndarray, origin: Geometry, *,
                   seed: int, spikes: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   t_stop: float, ext: str) -> np.ndarray:
    """The segments (sorted) on which the hybrid scheme's wiring of ``cells`` puts a
    synapse with an event before ``t_stop``, drawn without NEURON (the cell at
    ``origin`` moved by :func:`~xkernels.errors.ensemble.placed`, as LFPy's ``set_pos``
    moves it).

    Parameters
    ----------
    network, post, cells, seed, spikes, t_stop, ext
        As :func:`simulate_sample` (``spikes`` compressed, times from the start).
    origin : Geometry
        The population's cell at the origin.

    Returns
    -------
    ndarray of int
    """
    found: set[int] = set()
    for index in cells:
        _, _, groups = wire_cell(network, post, int(index), seed=seed,
                                 place=lambda x, y, z: placed(origin, (x, y, z)),
                                 spikes=spikes, t_stop=t_stop, ext=ext)
        found.update(int(s) for g in groups if g.source != "ext" for s in g.segments)
    return np.array(sorted(found), dtype=np.int64)


def simulate_sample(network: Network, probes: Mapping[str, Any], plan: KernelPlan,
                    spikes: Mapping[str, tuple[np.ndarray, np.ndarray]], post: str,
                    cells: np.ndarray, *, seed: int, n_steps: int, ext: str,
                    segments: np.ndarray,
                    responses: Mapping[str, tuple[np.ndarray, np.ndarray]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``cells`` of ``post`` (real synapses) and their linear predictions.

    Parameters
    ----------
    network, probes, plan
        The network, the named probes and the ensemble's kernel plan (time step,
        Vrest).
    spikes : mapping of str to (times, offsets)
        Every neuron's compressed spike trains, times (ms) from the start of the run.
    post : str
        The postsynaptic population.
    cells : ndarray
        Cell indices, wired as the hybrid scheme with ``seed`` wires them.
    seed : int
        The wiring seed.
    n_steps : int
        Time steps simulated (from rest at time 0).
    ext : str
        Extrinsic input mode (resolved, as :func:`xkernels.hybrid.simulate`).
    segments, responses
        Unit responses of every presynaptic population on ``segments``
        (:func:`linear_signal`).

    Returns
    -------
    simulated : ndarray
        Shape (m, nseg, steps): the cells' transmembrane currents (nA).
    linear : ndarray
        Shape (m, X, nseg, steps): their linear predictions per presynaptic
        population (``plan.X`` order).
    matrices : ndarray
        Shape (m, channels, nseg): the probes at each cell's position.
    """
    pop = network.population(post)
    dt = plan.options.dt
    order = list(plan.X)
    simulated, linear, matrices = [], [], []
    with NetworkCell(pop.cell, pop, dt,
                     e_pas_default=leak_reversal_of(plan.vrest_by_post[post])) as cell:
        if ext == "leak":
            cell.shift_g_pas(lin.ext_leak_shift(pop, cell.geometry.area))
        elif ext == "mean" and pop.ext_synapse is not None:
            cell.add_leak(lin.ext_leak_shift(pop, cell.geometry.area), pop.ext_synapse.e)
        for index in cells:
            _, geometry, groups = wire_cell(network, post, int(index), seed=seed,
                                            place=cell.place, spikes=spikes,
                                            t_stop=n_steps * dt, ext=ext)
            for g in groups:
                cell.add_synapses(g.segments, g.times, syntype=g.syntype, weight=g.weight,
                                  tau1=g.tau1, tau2=g.tau2, e=g.e)
            matrices.append(cell_matrix(probes, geometry))
            currents = np.eye(cell.nseg)
            simulated.append(cell.simulate(n_steps, currents))
            cell.clear_synapses()
            linear.append(linear_signal(groups, segments, responses, currents, dt, n_steps,
                                        order))
    return np.stack(simulated), np.stack(linear), np.stack(matrices)


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per channel, the least-squares gains of the normal equations ``A[c] g = b[c]``
    (A: (channels, X, X), b: (channels, X)); a pathway without signal gets gain 1."""
    gain = np.ones((A.shape[1], A.shape[0]))
    for c in range(A.shape[0]):
        scale = np.sqrt(np.clip(np.diag(A[c]), 0.0, None))
        live = scale > 1e-12 * max(float(scale.max()), 1e-300)
        if not live.any():
            continue
        sub = A[c][np.ix_(live, live)] / np.outer(scale[live], scale[live])
        sol = np.linalg.lstsq(sub, b[c][live] / scale[live], rcond=1e-10)[0]
        gain[live, c] = sol / scale[live]
    return gain


def fit(simulated: np.ndarray, linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the gains ``g_X`` minimising ``Σ_j ||v_j - Σ_X g_X l_jX||²`` and
    the residuals.

    Parameters
    ----------
    simulated : ndarray
        Shape (m, channels, T), mean removed.
    linear : ndarray
        Shape (m, X, channels, T), mean removed.

    Returns
    -------
    gain : ndarray
        Shape (X, channels); a pathway without signal in a channel gets gain 1.
    residual : ndarray
        Shape (m, channels, T).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> l = rng.standard_normal((3, 2, 1, 500))
    >>> v = 0.7 * l[:, 0] + 0.9 * l[:, 1]
    >>> g, r = fit(v, l)
    >>> np.round(g[:, 0], 6).tolist(), float(abs(r).max()) < 1e-12
    ([0.7, 0.9], True)
    """
    A = np.einsum("jxct,jyct->cxy", linear, linear)
    b = np.einsum("jxct,jct->cx", linear, simulated)
    gain = _solve(A, b)
    residual = simulated - np.einsum("xc,jxct->jct", gain, linear)
    return gain, residual


def gain_covariance(simulated: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """The sampling covariance of :func:`fit`'s gains, by the jackknife over the cells.

    The gains are fitted on a few cells; at a channel where a pathway's signal is small
    or nearly collinear with another's (the phase reversal) they are uncertain, and an
    uncertain gain inflates every quadratic form it enters (``E[ĝ²] = g² + Var ĝ``).
    The error estimate subtracts that inflation
    (:func:`xkernels.errors.estimate.gain_noise`).

    Parameters
    ----------
    simulated, linear : ndarray
        As :func:`fit` (m >= 2 cells).

    Returns
    -------
    ndarray
        Shape (X, X, channels): ``Cov(ĝ_X, ĝ_X')`` per channel.

    Examples
    --------
    Gains fitted to noisy cells: the jackknife covariance matches the spread of the
    gains over independent samples of cells.

    >>> rng = np.random.default_rng(2)
    >>> def cells():
    ...     l = rng.standard_normal((16, 1, 1, 200))
    ...     return 0.8 * l[:, 0] + 0.5 * rng.standard_normal((16, 1, 200)), l
    >>> spread = np.std([fit(*cells())[0][0, 0] for _ in range(300)])
    >>> jack = np.sqrt(np.mean([gain_covariance(*cells())[0, 0, 0] for _ in range(100)]))
    >>> bool(0.8 < jack / spread < 1.25)
    True
    """
    m = simulated.shape[0]
    A_j = np.einsum("jxct,jyct->jcxy", linear, linear)
    b_j = np.einsum("jxct,jct->jcx", linear, simulated)
    A, b = A_j.sum(axis=0), b_j.sum(axis=0)
    loo = np.stack([_solve(A - A_j[j], b - b_j[j]) for j in range(m)])   # (m, X, ch)
    d = loo - loo.mean(axis=0)
    return (m - 1) / m * np.einsum("jxc,jyc->xyc", d, d)


def network_residual(residuals: Mapping[str, np.ndarray], sizes: Mapping[str, int]
                     ) -> np.ndarray:
    """Variance of the network's residual ``Σ_Y Σ_{j ∈ Y} r_j`` per channel from the
    sampled cells' residuals (module docstring), at least 0.

    Parameters
    ----------
    residuals : mapping of str to ndarray
        Per postsynaptic population, the residuals of its m >= 2 sampled cells, shape
        (m, channels, T), mean removed.
    sizes : mapping of str to int
        Population sizes N_Y.

    Returns
    -------
    ndarray
        Shape (channels,).

    Examples
    --------
    Independent residuals of unit variance: the network's is N:

    >>> rng = np.random.default_rng(1)
    >>> r = rng.standard_normal((4, 1, 200000))
    >>> round(float(network_residual({"E": r}, {"E": 10})[0]) / 10, 1)
    1.0
    """
    posts = list(residuals)
    total = 0.0
    sums = {y: residuals[y].sum(axis=0) for y in posts}
    for y in posts:
        r, N = residuals[y], sizes[y]
        m, T = r.shape[0], r.shape[-1]
        own = (r ** 2).sum(axis=(0, -1)) / T                     # Σ_j var r_j
        pairs = (sums[y] ** 2).sum(axis=-1) / T - own            # Σ_{j≠k} cov
        total = total + N * own / m + N * (N - 1) * pairs / (m * (m - 1))
        for y2 in posts:
            if y2 != y:
                m2 = residuals[y2].shape[0]
                cross = (sums[y] * sums[y2]).sum(axis=-1) / T
                total = total + N * sizes[y2] * cross / (m * m2)
    return np.maximum(np.asarray(total, dtype=float), 0.0)


def span(t_start: float, t_stop: float, dt: float, n: int) -> tuple[float, float, int]:
    """The stretch simulated for a window: from one kernel length (``n`` steps) before
    ``t_start`` (or 0) to at most :data:`MAX_SPAN` after it, and the steps skipped before
    the analysis (at least ``n``: the cells start at rest).

    Parameters
    ----------
    t_start, t_stop : float
        The window (ms).
    dt : float
        Time step (ms).
    n : int
        Kernel length (steps).

    Returns
    -------
    t0, t1 : float
        Simulated stretch (ms).
    skip : int
        Steps discarded at its start (a window longer than ``2 n`` steps, as
        :func:`~xkernels.errors.estimate.error_estimate` demands, leaves at least ``n``).

    Examples
    --------
    >>> span(100.0, 10000.0, 0.5, 40)
    (80.0, 4100.0, 40)
    """
    t0 = max(0.0, t_start - n * dt)
    t1 = min(t_stop, t_start + MAX_SPAN)
    skip = max(int(round((t_start - t0) / dt)), n)
    return t0, t1, skip


def measure(network: Network, probes: Mapping[str, Any], plan: KernelPlan, spikes: Spikes,
            *, n_cells: Mapping[str, int], seed: int, t_start: float, t_stop: float,
            ext: str) -> Nonlinearity:
    """Measure gains and residual on ``n_cells[Y]`` cells of every postsynaptic Y.

    Parameters
    ----------
    network : Network
        A conductance-based network.
    probes : mapping of str to probe
        Named probes (channel order).
    plan : KernelPlan
        The ensemble's kernel plan: its linearised membranes give the linear
        predictions; its lag grid sets how long before ``t_start`` the cells start (one
        kernel length, so that they have reached their operating point).
    spikes : Spikes
        Spike trains (every neuron, or a sample: :func:`every_neuron`).
    n_cells : mapping of str to int
        Cells per postsynaptic population (at least :data:`MIN_SAMPLE`).
    seed : int
        Seed of the cells drawn and of their wiring.
    t_start, t_stop : float
        The window (ms); at most :data:`MAX_SPAN` of it is used.
    ext : str
        Extrinsic input mode (resolved).

    Returns
    -------
    Nonlinearity
    """
    dt = plan.options.dt
    t0, t1, skip = span(t_start, t_stop, dt, plan.grid.n_response)
    n_steps = int(round((t1 - t0) / dt))
    sizes = {p.name: p.size for p in network.populations}
    arrays = window_trains(every_neuron(spikes, sizes, seed), t0, t1)
    posts = list(plan.Y)
    n_ch = plan.shape[2]
    gains = [np.ones((len(plan.X), n_ch)) for _ in posts]      # not measured: linear
    ratio = [np.full(n_ch, np.nan) for _ in posts]
    fraction = [np.full(n_ch, np.nan) for _ in posts]
    gcov = [np.zeros((len(plan.X), len(plan.X), n_ch)) for _ in posts]
    residuals: dict[str, np.ndarray] = {}
    signals: dict[str, np.ndarray] = {}
    linears: dict[str, np.ndarray] = {}
    chosen: dict[str, np.ndarray] = {}
    for post in posts:
        pop = network.population(post)
        if not n_cells[post]:
            chosen[post] = np.zeros(0, dtype=np.int64)
            continue
        cells = select_cells(sizes[post], int(n_cells[post]), seed, post)
        chosen[post] = cells
        with LinearisedCell(pop.cell, pop, dt,
                            leak_reversal_of(plan.vrest_by_post[post])) as cell:
            origin = cell.geometry
        segments = wired_segments(network, post, cells, origin, seed=seed, spikes=arrays,
                                  t_stop=n_steps * dt, ext=ext)
        responses = segment_responses(network, post, plan, segments)
        v, lx, M = simulate_sample(network, probes, plan, arrays, post, cells, seed=seed,
                                   n_steps=n_steps, ext=ext, segments=segments,
                                   responses=responses)
        v, lx = v[..., skip:], lx[..., skip:]
        v = v - v.mean(axis=-1, keepdims=True)
        lx = lx - lx.mean(axis=-1, keepdims=True)
        # in the channels: the cells' signals and linear predictions
        signals[post] = np.einsum("jcs,jst->jct", M, v)
        linears[post] = np.einsum("jcs,jxst->jxct", M, lx)
    if signals:     # per-cell gains scaled for the network's sum (network_gain)
        g_all, residuals = network_fit(signals, linears, sizes)
        for post in signals:
            gains[posts.index(post)] = g_all[:, list(signals).index(post)]
            v, lin_ch = signals[post], linears[post]
            # the per-cell fit's jackknife covariance, scaled as network_fit scales it
            cells_gain = fit(v, lin_ch)[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(abs(cells_gain) > 1e-12,
                                 gains[posts.index(post)] / cells_gain, 1.0)
            gcov[posts.index(post)] = (gain_covariance(v, lin_ch)
                                       * alpha[:, None, :] * alpha[None, :, :])
            with np.errstate(divide="ignore", invalid="ignore"):
                l_sum = lin_ch.sum(axis=1)
                ratio[posts.index(post)] = np.sqrt((v ** 2).sum(axis=(0, -1))
                                                   / (l_sum ** 2).sum(axis=(0, -1)))
                fraction[posts.index(post)] = ((residuals[post] ** 2).sum(axis=(0, -1))
                                               / (v ** 2).sum(axis=(0, -1)))
    residual = network_residual(residuals, sizes) if residuals else np.zeros(n_ch)
    return Nonlinearity(gain=np.stack(gains, axis=1), residual=residual,
                        cells=chosen, signal_ratio=np.stack(ratio),
                        residual_fraction=np.stack(fraction),
                        gain_covariance=np.stack(gcov, axis=2))

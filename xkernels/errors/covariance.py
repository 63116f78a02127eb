"""Spike-train covariances at lags ``-n..n`` bins, with memory independent of the
recording's length.

Spikes are counted in bins of ``dt`` over the window ``[t_start, t_stop)`` (``T``
bins).  Two quantities are needed (:mod:`xkernels.errors.estimate`):

* per population X, ``(a - c)(τ)``: the population-averaged auto-covariance of single
  neurons' counts minus the average cross-covariance of two different neurons.  With
  ``A(τ)`` the sum over the given neurons of their auto-covariances and ``P(τ)`` the
  auto-covariance of their summed counts, ``a = A / m`` and ``c = (P - A) / (m (m -
  1))``, so ``a - c = (m A - P) / (m (m - 1))``.  ``A`` comes from the spike pairs of
  each neuron within ``n`` bins (sparse: no dense per-neuron arrays), ``P`` from the
  summed counts;
* ``C_XX'(τ) = cov(ν_X(t), ν_X'(t + τ))`` of the population counts.  From m_X of N_X
  neurons: ``N a + N (N - 1) c`` on the diagonal and ``N_X N_X' / (m_X m_X')`` times
  the covariance of the given neurons' sums off it (exact when every neuron is given).

Summed counts are processed in blocks of ``block`` bins: each block is correlated
with itself extended by ``n`` bins on both sides (one FFT each), and the products of all
blocks are summed: memory ``O(populations² × (block + n))`` whatever ``T``.  With
``client`` the blocks are dask tasks (:class:`xkernels.runtime.Runner`).

Finite-recording bias.  Each covariance is the sum of products of mean-removed counts
over the ``T - |τ|`` pairs of bins at lag τ, divided by ``T - |τ|``.  Removing the
*sample* mean biases it by ``-Var(mean) ≈ -(1/T) Σ_τ' C(τ')`` at every lag; the
estimate adds back ``(1/T) Σ_{|τ'| <= n} C(τ')``, the part of that sum within the
kernels' lags (a covariance that lasts longer than the kernels is under-corrected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft

#: Bins per block of the summed counts (memory per block: populations × this).
DEFAULT_BLOCK = 2 ** 16


@dataclass
class SpikeCovariances:
    """Covariances of the counts at lags ``-n..n`` bins.

    Attributes
    ----------
    populations : tuple of str
        Population order.
    lags : ndarray
        ``-n..n`` (bins).
    auto_minus_cross : ndarray
        ``(a - c)(τ)`` per population, shape (P, 2n + 1) (spikes² per bin²).
    population : ndarray
        ``C_XX'(τ)`` of the full populations' counts, shape (P, P, 2n + 1).
    neurons : dict of str to int
        Neurons given per population.
    n_bins : int
        Bins in the window.
    """

    populations: tuple[str, ...]
    lags: np.ndarray
    auto_minus_cross: np.ndarray
    population: np.ndarray
    neurons: dict[str, int]
    n_bins: int


def _bins(times: np.ndarray, t_start: float, dt: float, n_bins: int) -> np.ndarray:
    b = np.floor((np.asarray(times, dtype=float) - t_start) / dt + 1e-9).astype(np.int64)
    return b[(b >= 0) & (b < n_bins)]


def neuron_pairs(times: np.ndarray, offsets: np.ndarray, t_start: float, dt: float,
                 n_bins: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum over neurons of ``Σ_t s_i(t) s_i(t + τ)`` for ``τ = 0..n`` and the spike count
    of every neuron in the window.

    Parameters
    ----------
    times, offsets : ndarray
        Compressed spike trains (:meth:`xkernels.Spikes.arrays`), ms, sorted per neuron.
    t_start, dt : float
        Window start and bin width (ms).
    n_bins, n : int
        Bins in the window and largest lag (bins).

    Returns
    -------
    pairs : ndarray
        Shape (n + 1,): ordered spike pairs of one neuron ``τ`` bins apart (``τ = 0``
        counts every spike with itself and pairs in one bin twice).
    counts : ndarray
        Spikes per neuron in the window.

    Examples
    --------
    >>> pairs, counts = neuron_pairs(np.array([0.5, 1.5, 1.7, 3.2]), np.array([0, 3, 4]),
    ...                              0.0, 1.0, 10, 2)
    >>> pairs.tolist(), counts.tolist()    # neuron 0: bins 0, 1, 1; neuron 1: bin 3
    ([6.0, 2.0, 0.0], [3, 1])
    """
    owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    b = np.floor((np.asarray(times, dtype=float) - t_start) / dt + 1e-9).astype(np.int64)
    keep = (b >= 0) & (b < n_bins)
    b, owner = b[keep], owner[keep]
    order = np.lexsort((b, owner))
    b, owner = b[order], owner[order]
    counts = np.bincount(owner, minlength=offsets.size - 1)
    pairs = np.zeros(n + 1)
    pairs[0] += b.size
    k = 1
    while k < b.size:
        same = owner[k:] == owner[:-k]
        d = b[k:] - b[:-k]
        hit = same & (d <= n)
        if not hit.any():
            break
        dh = d[hit]
        # pairs at lag 0 are counted in both orders
        pairs += np.bincount(dh, minlength=n + 1) + np.bincount(dh[dh == 0], minlength=n + 1)
        k += 1
    return pairs, counts


def _block_products(blocks: Sequence[np.ndarray], n: int, L: int) -> np.ndarray:
    """Σ_t u_p(t) v_q(t + k - n), k = 0..2n, of one block: ``blocks = (u, v)`` with u of
    shape (P, B) and v (P, B + 2n) starting n bins earlier."""
    u, v = blocks
    U = fft.rfft(u, n=L, axis=-1)
    V = fft.rfft(v, n=L, axis=-1)
    corr = fft.irfft(np.conj(U)[:, None, :] * V[None, :, :], n=L, axis=-1)
    return corr[..., :2 * n + 1]


def _summed_block(pop_times: Sequence[np.ndarray], means: np.ndarray, t_start: float,
                  dt: float, n_bins: int, first: int, stop: int) -> np.ndarray:
    """Mean-removed summed counts of every population over bins ``[first, stop)``
    (zero outside ``[0, n_bins)``)."""
    out = np.zeros((len(pop_times), stop - first))
    lo, hi = max(first, 0), min(stop, n_bins)
    for p, times in enumerate(pop_times):
        a, b = np.searchsorted(times, [t_start + lo * dt - 1e-9 * dt,
                                       t_start + hi * dt - 1e-9 * dt])
        bins = _bins(times[a:b], t_start, dt, n_bins) - first
        out[p] = np.bincount(bins, minlength=stop - first)[:stop - first]
        out[p, lo - first:hi - first] -= means[p]
    return out


def _block_task(times: Sequence[np.ndarray], means: np.ndarray, t_start: float, dt: float,
                n_bins: int, n: int, L: int, block: int, first: int) -> np.ndarray:
    """The lagged products of the block starting at bin ``first`` (a picklable task)."""
    stop = min(first + block, n_bins)
    u = _summed_block(times, means, t_start, dt, n_bins, first, stop)
    v = _summed_block(times, means, t_start, dt, n_bins, first - n, stop + n)
    return _block_products((u, v), n, L)


def summed_covariance(pop_times: Sequence[np.ndarray], t_start: float, dt: float,
                      n_bins: int, n: int, *, block: int = DEFAULT_BLOCK,
                      client: Any = None) -> np.ndarray:
    """Cross-covariances of summed counts at lags ``-n..n``, block by block.

    Parameters
    ----------
    pop_times : sequence of ndarray
        Sorted spike times (ms) of each summed train.
    t_start, dt : float
        Window start and bin width (ms).
    n_bins, n : int
        Bins in the window, largest lag (bins).
    block : int
        Bins per block.
    client : optional
        Where blocks run (:class:`xkernels.runtime.Runner`); None: this process.

    Returns
    -------
    ndarray
        ``C[p, q, k] = Σ_t x_p(t) x_q(t + k - n) / (n_bins - |k - n|)`` (mean-removed
        counts), shape (P, P, 2n + 1).

    Examples
    --------
    A train of one spike per bin has no variance; a Poisson train's variance at lag 0 is
    its mean count per bin:

    >>> rng = np.random.default_rng(0)
    >>> t = np.sort(rng.uniform(0, 10000.0, 20000))
    >>> C = summed_covariance([np.arange(0.5, 10000.0), t], 0.0, 1.0, 10000, 3)
    >>> float(abs(C[0, 0]).max()), round(float(C[1, 1, 3]), 1)
    (0.0, 2.0)
    """
    times = [np.sort(np.asarray(t, dtype=float)) for t in pop_times]
    means = np.array([_bins(t, t_start, dt, n_bins).size / n_bins for t in times])
    block = max(int(block), 1)
    L = fft.next_fast_len(block + 2 * n, real=True)
    starts = range(0, n_bins, block)

    shared = (times, means, t_start, dt, n_bins, n, L, block)
    if client is None:
        total = sum(_block_task(*shared, first) for first in starts)
    else:
        from xkernels.runtime import Runner

        with Runner(client) as runner:   # summed in block order: the same numbers
            total = sum(runner.imap(_block_task, [(first,) for first in starts],
                                    shared=shared))
    lags = np.arange(-n, n + 1)
    return total / (n_bins - np.abs(lags))


def _debias(c: np.ndarray, n_bins: int) -> np.ndarray:
    """Add back the sample mean's bias ``(1/T) Σ_{|τ| <= n} C(τ)`` (module docstring)."""
    return c + c.sum(axis=-1, keepdims=True) / n_bins


def spike_covariances(spikes: Any, sizes: dict[str, int], populations: Sequence[str], *,
                      t_start: float, dt: float, n_bins: int, n: int,
                      block: int = DEFAULT_BLOCK, client: Any = None) -> SpikeCovariances:
    """``(a - c)`` per population and the population-count covariances (module docstring).

    Parameters
    ----------
    spikes : Spikes
        Spike trains of at least two neurons of each of ``populations``.
    sizes : dict of str to int
        Population sizes N_X.
    populations : sequence of str
        Populations, in output order.
    t_start, dt : float
        Window start and bin width (ms).
    n_bins, n : int
        Bins in the window and the largest lag (bins).
    block, client
        As :func:`summed_covariance`.

    Returns
    -------
    SpikeCovariances

    Examples
    --------
    Independent Poisson neurons: ``a - c`` is their mean count per bin at lag 0 and 0
    elsewhere (to sampling noise):

    >>> from xkernels.hybrid import correlated_poisson
    >>> s = correlated_poisson({"E": 50}, {"E": 20.0}, t_stop=20000.0, seed=3, dt=1.0)
    >>> cov = spike_covariances(s, {"E": 50}, ["E"], t_start=0.0, dt=1.0, n_bins=20000,
    ...                         n=2)
    >>> np.round(cov.auto_minus_cross[0] / 0.02, 1).tolist()   # 20/s × 1 ms = 0.02
    [0.0, -0.0, 1.0, -0.0, 0.0]
    """
    lags = np.arange(-n, n + 1)
    valid = n_bins - np.abs(lags)
    amc = np.empty((len(populations), lags.size))
    given = {}
    for k, x in enumerate(populations):
        times, offsets = spikes.arrays(x)
        m = offsets.size - 1
        given[x] = m
        pairs, counts = neuron_pairs(times, offsets, t_start, dt, n_bins, n)
        half = pairs - float((counts.astype(float) ** 2).sum()) * (n_bins - np.arange(n + 1)) \
            / n_bins ** 2
        A = np.concatenate([half[:0:-1], half]) / valid
        amc[k] = A
    summed = summed_covariance([spikes.population_times(x) for x in populations], t_start,
                               dt, n_bins, n, block=block, client=client)
    pop = np.empty_like(summed)
    for k, x in enumerate(populations):
        m, N = given[x], sizes[x]
        A, P = amc[k], summed[k, k]
        a, c = A / m, (P - A) / (m * (m - 1))
        amc[k] = a - c
        pop[k, k] = N * a + N * (N - 1) * c
        for q, y in enumerate(populations):
            if q != k:
                pop[k, q] = summed[k, q] * N * sizes[y] / (m * given[y])
    return SpikeCovariances(populations=tuple(populations), lags=lags,
                            auto_minus_cross=_debias(amc, n_bins),
                            population=_debias(pop, n_bins), neurons=given, n_bins=n_bins)

"""Seeded correlated Poisson spike trains: hybrid-scheme input without a network simulator."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from xkernels.checks import check_int, check_real
from xkernels.signals.spikes import Spikes


def correlated_poisson(sizes: Mapping[str, int], rates: Mapping[str, float], *,
                       t_stop: float, seed: int, dt: float = 2.0 ** -4,
                       fluctuation: float = 0.0, tau_c: float = 10.0,
                       mip: float | Mapping[str, float] | None = None,
                       common: bool = True) -> Spikes:
    r"""Seeded Poisson spike trains with a shared rate fluctuation and/or MIP correlation.

    Every neuron of population X fires as an inhomogeneous Poisson process of rate

    .. math:: \nu_X(t) = \bar\nu_X \max(0, 1 + s\, \xi(t))

    with ``s = fluctuation`` and ξ an Ornstein-Uhlenbeck process of zero mean, unit
    variance and correlation time ``tau_c``, shared by all neurons of the population
    (and by all populations when ``common``): the population rate fluctuates and the
    neurons are correlated through it.  With ``mip = c`` the trains of a population
    are a multiple interaction process (Kuhn et al. 2003): a mother process of rate
    ν_X(t) / c whose every spike is copied into each neuron independently with
    probability ``c`` (pairwise spike-count correlation ``c`` at zero lag).
    Spike times lie on the grid ``k dt`` (as a simulator reports them); a neuron may
    fire twice in one step.  The rectification at 0 raises the mean rate slightly
    when ``fluctuation`` is large.

    Parameters
    ----------
    sizes : mapping of str to int
        Neurons per population (``{p.name: p.size for p in network.populations}``).
    rates : mapping of str to float
        Mean rate per neuron (spikes/s) of each population of ``sizes``.
    t_stop : float
        Duration (ms); spikes in ``[0, t_stop)``.
    seed : int
        Seed (deterministic output).
    dt : float
        Time grid (ms).
    fluctuation : float
        Relative standard deviation ``s`` of the shared rate fluctuation (>= 0).
    tau_c : float
        Correlation time of the fluctuation (ms, > 0).
    mip : float, mapping or None
        MIP copy probability ``c`` in (0, 1] (per population with a mapping); None:
        no MIP correlation.
    common : bool
        One fluctuation for all populations (True) or one per population.

    Returns
    -------
    Spikes

    Examples
    --------
    >>> spikes = correlated_poisson({"E": 10, "I": 5}, {"E": 5.0, "I": 10.0}, t_stop=1000.0,
    ...                             seed=1)
    >>> spikes.sizes
    {'E': 10, 'I': 5}
    """
    seed = check_int("seed", seed, minimum=0)
    t_stop = check_real("t_stop", t_stop, positive=True)
    dt = check_real("dt", dt, positive=True)
    fluctuation = check_real("fluctuation", fluctuation, nonnegative=True)
    tau_c = check_real("tau_c", tau_c, positive=True)
    n_bins = int(math.ceil(t_stop / dt - 1e-9))
    names = list(sizes)
    for name in names:
        if name not in rates:
            raise ValueError(f"rates lacks population {name!r}; rates has {list(rates)}")
        check_real(f"rates[{name!r}]", rates[name], nonnegative=True)
        check_int(f"sizes[{name!r}]", sizes[name], minimum=1)
    mips = {}
    for name in names:
        c = mip.get(name) if isinstance(mip, Mapping) else mip
        if c is not None:
            c = check_real(f"mip[{name!r}]" if isinstance(mip, Mapping) else "mip", c,
                           positive=True)
            if c > 1:
                raise ValueError(f"mip must be in (0, 1], got {c!r}")
        mips[name] = c
    root = np.random.SeedSequence(seed)
    shared_rng, *pop_rngs = (np.random.default_rng(s) for s in root.spawn(1 + len(names)))

    def ou(rng: np.random.Generator) -> np.ndarray:
        a = math.exp(-dt / tau_c)
        noise = rng.standard_normal(n_bins)
        noise[1:] *= math.sqrt(1.0 - a * a)
        from scipy.signal import lfilter

        return lfilter([1.0], [1.0, -a], noise)

    shared = ou(shared_rng) if fluctuation > 0 and common else None
    data = {}
    for name, rng in zip(names, pop_rngs):
        n = int(sizes[name])
        if fluctuation > 0:
            xi = shared if common else ou(rng)
            profile = np.maximum(0.0, 1.0 + fluctuation * xi)
        else:
            profile = np.ones(n_bins)
        lam = float(rates[name]) * profile * dt / 1000.0   # expected spikes per neuron-bin
        c = mips[name]
        if c is None:
            counts = rng.poisson(lam * n)
            bins = np.repeat(np.arange(n_bins), counts)
            neurons = rng.integers(0, n, size=bins.size)
        else:
            mothers = np.repeat(np.arange(n_bins), rng.poisson(lam / c))
            copies = rng.binomial(n, c, size=mothers.size)
            bins = np.repeat(mothers, copies)
            neurons = np.concatenate([rng.choice(n, size=k, replace=False) for k in copies]) \
                if copies.size else np.zeros(0, dtype=np.int64)
        order = np.lexsort((bins, neurons))
        counts_per = np.bincount(neurons, minlength=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts_per, out=offsets[1:])
        data[name] = (bins[order] * dt, offsets)
    return Spikes.from_arrays(data)

"""The error of a kernel prediction, estimated without simulating the network.

The network's signal is ``V(t) = Σ_X Σ_{i∈X} (s_i ∗ h_i)(t)``: every presynaptic neuron
i's spike counts s_i (per bin of dt) convolved with its single-cell kernel h_i (the
signal one of its spikes causes through all its targets).  The prediction is
``V̂ = Σ_X ν_X ∗ H_X`` with ν_X = Σ_i s_i and H_X = Σ_Y H_YX the kernels used.  With
h̄_X the mean single-cell kernel and δh_i = h_i − h̄_X::

    V − V̂ = Σ_X Σ_i s_i ∗ δh_i  +  Σ_X ν_X ∗ (h̄_X − H_X)
          =      heterogeneity   +      bias.

If every neuron of X has the same auto-covariance a(τ) and every pair the same
cross-covariance c(τ) (stationary, homogeneous spiking), Σ_i δh_i = 0 removes every
cross term, and (Ness, Tetzlaff, Einevoll & Dahmen 2025)::

    Var(heterogeneity_X) = Σ_τ (a − c)(τ) Σ_i Σ_k δh_i[k] δh_i[k + τ]
                         = (N_X − 1) Σ_{k,l} C_h[k, l] (a − c)(l − k),
    Var(bias) = Σ_{X,X'} Σ_τ C_XX'(τ) Σ_k b_X[k + τ] b_X'[k],   b_X = h̄_X − H_X,

with C_XX' the covariance of the population counts.  Heterogeneity and bias are
uncorrelated, as are the heterogeneity terms of different X.  The signal's variance is
the bias formula with h̄ for b, plus the heterogeneity.  Lagged products of kernels are
computed by FFT; no (lags × lags) matrix is formed.

Conductance-based synapses are not linear: their cells answer with a gain below one
and a residual.  Both are measured on a few cells simulated with real conductances
(:mod:`xkernels.errors.nonlinearity`); the single-cell kernels are scaled by the gains,
and the residual is a third part, uncorrelated with the others by construction (least
squares)::

    Var(V - V̂) = Var(heterogeneity) + Var(bias) + Var(nonlinearity).

Estimation (:func:`error_estimate`): the single-cell kernels are sampled
(:mod:`xkernels.errors.ensemble`), the covariances measured
(:mod:`xkernels.errors.covariance`).  The estimate is the expectation over realisations
of the network, so the quadratic forms are corrected for what sampling adds or lacks:

* the ensemble mean of m sampled neurons is noisy: ``C_h / m`` is subtracted;
* the network's own mean single-cell kernel is an average of N_X neurons wired
  independently, and of its N_Y target positions: ``C_h / N_X`` and the positions'
  variance over N_Y are added (the pool's positions are stratified,
  ``xkernels.errors.ensemble.pool_positions``, and add next to nothing);
* gains fitted on a few cells inflate every form they scale by their variance
  (jackknife): subtracted (``gain_noise``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy import fft

from xkernels.checks import check_int, check_real, did_you_mean
from xkernels.engine.kernels import prepare_kernels
from xkernels.errors.covariance import DEFAULT_BLOCK, SpikeCovariances, spike_covariances
from xkernels.errors.ensemble import DEFAULT_POOL, Ensemble, single_cell_kernels
from xkernels.errors.nonlinearity import DEFAULT_SAMPLE, MIN_SAMPLE, measure
from xkernels.hybrid.ground_truth import resolve_ext
from xkernels.signals.spikes import as_spikes
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.store.cache import compute_kernels

#: Default number of neurons sampled per presynaptic population for the ensemble: as
#: many as fit in :data:`ENSEMBLE_BYTES`, between :data:`FEWEST_DEFAULT_CELLS` and this.
DEFAULT_CELLS = 1000
#: The fewest neurons sampled by default.
FEWEST_DEFAULT_CELLS = 200
#: Memory (bytes) of one population's ensemble that sets the default sample.
ENSEMBLE_BYTES = 256 * 2 ** 20
#: Synapses drawn per population that set the default sample (cost: each is one
#: shifted copy of a unit response).
ENSEMBLE_SYNAPSES = 256_000
#: Fewest neurons per population: ``a − c`` and ``C_h`` need two different neurons.
MIN_NEURONS = 2


def lagged(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``R[..., τ] = Σ_k u[..., k + τ] v[..., k]`` for ``τ = -n..n`` (zero outside).

    Parameters
    ----------
    u, v : ndarray
        Shape (..., n + 1), broadcastable.

    Returns
    -------
    ndarray
        Shape (..., 2n + 1).

    Examples
    --------
    >>> lagged(np.array([1.0, 2.0]), np.array([3.0, 4.0])).round(12).tolist()
    [4.0, 11.0, 6.0]
    """
    n = u.shape[-1] - 1
    L = fft.next_fast_len(2 * n + 1, real=True)
    r = fft.irfft(fft.rfft(u, n=L, axis=-1) * np.conj(fft.rfft(v, n=L, axis=-1)), n=L,
                  axis=-1)
    return np.concatenate([r[..., L - n:], r[..., :n + 1]], axis=-1)


def _summed_autocorrelation(d: np.ndarray) -> np.ndarray:
    """``Σ_i lagged(d_i, d_i)`` over axis 0 of ``d`` (m, ..., n + 1)."""
    n = d.shape[-1] - 1
    L = fft.next_fast_len(2 * n + 1, real=True)
    D = fft.rfft(d, n=L, axis=-1)
    r = fft.irfft((D * np.conj(D)).real.sum(axis=0), n=L, axis=-1)
    return np.concatenate([r[..., L - n:], r[..., :n + 1]], axis=-1)


def _check_populations(network: Network, spikes: Any) -> None:
    pre = list(network.presynaptic)
    names = list(spikes)
    for name in names:
        if name not in [p.name for p in network.populations]:
            raise ValueError(f"spikes has population {name!r}, which the network lacks; its "
                             f"presynaptic populations are {pre}{did_you_mean(name, pre)}")
    missing = [x for x in pre if x not in names]
    if missing:
        raise ValueError(f"spikes lacks presynaptic populations {missing} of the network; "
                         f"it has {names}")
    for x in pre:
        m, size = spikes.sizes[x], network.population(x).size
        if m < MIN_NEURONS:
            raise ValueError(f"spikes[{x!r}] has {m} neuron(s); the error estimate needs at "
                             f"least {MIN_NEURONS} per population (the cross-covariance of "
                             "two different neurons), and a few hundred for a stable one")
        if m > size:
            raise ValueError(f"spikes[{x!r}] has {m} neurons, more than the population size "
                             f"{size}")


def _per_population(name: str, value: Any, populations: list[str], default: int,
                    role: str) -> dict[str, tuple[str, Any]]:
    """``{population: (field name, value)}`` of an int-or-dict option; unknown keys of a
    dict are refused (``role``: "presynaptic" or "postsynaptic")."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in populations]
        if unknown:
            raise ValueError(f"{name} has populations {unknown}; the {role} populations "
                             f"are {populations}{did_you_mean(unknown[0], populations)}")
        return {p: (f"{name}[{p!r}]", value.get(p, default)) for p in populations}
    return {p: (name, value) for p in populations}


def _cells(network: Network, n_cells: Any, neuron_bytes: int) -> dict[str, int]:
    pre = list(network.presynaptic)
    if n_cells is None:
        out = {}
        for x in pre:
            synapses = sum(c.probability * network.population(c.post).size
                           * c.mean_multapses() for c in network.connections if c.pre == x)
            fit = min(ENSEMBLE_BYTES // max(int(neuron_bytes), 1),
                      ENSEMBLE_SYNAPSES / max(synapses, 1.0))
            out[x] = int(min(DEFAULT_CELLS, max(FEWEST_DEFAULT_CELLS, fit)))
        return out
    out = {}
    for x, (field, v) in _per_population("n_cells", n_cells, pre, DEFAULT_CELLS,
                                         "presynaptic").items():
        out[x] = check_int(field, v, minimum=MIN_NEURONS)
    return out


def _nonlinear_cells(network: Network, nonlinear_cells: Any) -> dict[str, int]:
    """Cells simulated per postsynaptic population for the nonlinearity (0: none)."""
    posts = list(network.postsynaptic)
    if not network.conductance_based:
        return dict.fromkeys(posts, 0)
    if nonlinear_cells is None:     # the default, at most the population (0 below 2)
        sizes = {y: network.population(y).size for y in posts}
        return {y: min(DEFAULT_SAMPLE, n) if n >= MIN_SAMPLE else 0 for y, n in sizes.items()}
    value = nonlinear_cells
    out = {}
    for y, (field, v) in _per_population("nonlinear_cells", value, posts, DEFAULT_SAMPLE,
                                         "postsynaptic").items():
        v = check_int(field, v, minimum=0)
        size = network.population(y).size
        if v != 0 and not MIN_SAMPLE <= v <= size:
            raise ValueError(f"{field} must be 0 (no nonlinearity measured) or in "
                             f"[{MIN_SAMPLE}, {size}] (the residual's covariance needs "
                             f"{MIN_SAMPLE} cells; population {y!r} has {size}), got {v}")
        out[y] = v
    return out


def _window(spikes: Any, t_start: Any, t_stop: Any, dt: float, tau: float) -> tuple:
    t_start = 0.0 if t_start is None else check_real("t_start", t_start)
    if t_stop is None:
        last = max((float(spikes.population_times(x).max()) for x in spikes
                    if spikes.population_times(x).size), default=None)
        if last is None:
            raise ValueError("spikes has no spike at all: the window [t_start, t_stop) is "
                             "empty (pass t_stop, and spikes in it)")
        t_stop = (math.floor((last - t_start) / dt) + 1) * dt + t_start
    t_stop = check_real("t_stop", t_stop)
    if t_stop <= t_start:
        raise ValueError(f"the window [t_start, t_stop) = [{t_start}, {t_stop}) ms is empty; "
                         "t_stop must be > t_start")
    n_bins = int(math.floor((t_stop - t_start) / dt + 1e-9))
    if n_bins * dt <= 2.0 * tau:
        raise ValueError(f"the window [t_start, t_stop) = [{t_start}, {t_stop}) ms is "
                         f"shorter than the kernels: the covariances need lags -{tau}..{tau} "
                         f"ms, so a window longer than {2.0 * tau} ms (much longer for a "
                         "stable estimate)")
    inside = sum(int(np.count_nonzero((spikes.population_times(x) >= t_start)
                                      & (spikes.population_times(x) < t_stop)))
                 for x in spikes)
    if inside == 0:
        raise ValueError(f"no spike lies in the window [t_start, t_stop) = [{t_start}, "
                         f"{t_stop}) ms")
    return t_start, t_stop, n_bins


def ensemble_options(network: Network, options: KernelOptions) -> KernelOptions:
    """The options of the ensemble's cells: those of the prediction, except that in a
    conductance-based network every cell carries the mean synaptic conductance and its
    synapses are linearised at the potential the mean input holds it at
    (``g_eff=True``, ``operating_point="mean-input"``), the state closest to the
    network's.

    Examples
    --------
    >>> import xkernels
    >>> ensemble_options(xkernels.Network.example(),
    ...                  xkernels.KernelOptions(g_eff=False)).operating_point
    'mean-input'
    """
    if network.conductance_based:
        return options.replace(g_eff=True, operating_point="mean-input")
    return options


def scaled(ens: Ensemble, gain: np.ndarray, X: list[str]) -> Ensemble:
    """The ensemble with the kernels of pathway X -> Y scaled by ``gain[X, Y]`` per
    channel (the measured nonlinearity, :mod:`xkernels.errors.nonlinearity`).

    Parameters
    ----------
    ens : Ensemble
        Sampled single-cell kernels.
    gain : ndarray
        Shape (X, Y, channels).
    X : list of str
        Presynaptic populations (axis 0 of ``gain``).

    Returns
    -------
    Ensemble
        A new ensemble (``ens`` is not changed).

    Examples
    --------
    >>> ens = Ensemble(kernels={"E": np.ones((2, 1, 1, 3))}, neurons={"E": np.arange(2)},
    ...                Y=("E",), pool_kernels={("E", "E"): np.ones((4, 1, 3))},
    ...                pool_scale={("E", "E"): 1.0}, pool_size={"E": 4})
    >>> out = scaled(ens, np.full((1, 1, 1), 0.5), ["E"])
    >>> float(out.kernels["E"].max()), float(out.pool_kernels[("E", "E")].max())
    (0.5, 0.5)
    """
    kernels = {x: ens.kernels[x] * gain[ix][None, :, :, None] for ix, x in enumerate(X)}
    pool = {(x, y): k * gain[X.index(x), list(ens.Y).index(y)][None, :, None]
            for (x, y), k in ens.pool_kernels.items()}
    return Ensemble(kernels=kernels, neurons=ens.neurons, Y=ens.Y, pool_kernels=pool,
                    pool_scale=ens.pool_scale, pool_size=ens.pool_size)


def _causal(H: xr.DataArray, X: list[str], Y: list[str], dt: float, n: int) -> np.ndarray:
    """Kernels at lags 0..n steps, shape (X, Y, channels, n + 1) (zero where absent)."""
    values = H.transpose("X", "Y", "probe_channel", "tau").sel(X=X, Y=Y).values
    lags = np.rint(H["tau"].values / dt).astype(int)
    out = np.zeros(values.shape[:3] + (n + 1,))
    keep = (lags >= 0) & (lags <= n)
    out[..., lags[keep]] = values[..., keep]
    return out


def variances(ens: Ensemble, cov: SpikeCovariances, used: np.ndarray,
              sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """The variances of the error's parts and of the signal per channel (module docstring).

    Parameters
    ----------
    ens : Ensemble
        Sampled single-cell kernels (:func:`~xkernels.errors.ensemble.single_cell_kernels`).
    cov : SpikeCovariances
        Spike covariances (:func:`~xkernels.errors.covariance.spike_covariances`), at lags
        ``-n..n`` of the kernels' ``0..n``, populations in the order of ``used``.
    used : ndarray
        The kernels of the prediction at lags ``0..n``, shape (X, Y, channels, n + 1).
    sizes : mapping of str to int
        Population sizes.

    Returns
    -------
    dict
        ``heterogeneity``, ``bias``, ``signal`` (channels,) and ``pathways`` (X, Y,
        channels): variances in squared channel units.

    Examples
    --------
    Two neurons with kernels ±1 at lag 0, independent spikes of one per bin on average,
    a kernel of 0 used (so the mean single-cell kernel, 0, has no bias):

    >>> from xkernels.errors.covariance import SpikeCovariances
    >>> from xkernels.errors.ensemble import Ensemble
    >>> ens = Ensemble(kernels={"E": np.array([[[[1.0]]], [[[-1.0]]]])},
    ...                neurons={"E": np.arange(2)}, Y=("E",), pool_kernels={},
    ...                pool_scale={}, pool_size={"E": 2})
    >>> cov = SpikeCovariances(populations=("E",), lags=np.array([0]),
    ...                        auto_minus_cross=np.array([[1.0]]),
    ...                        population=np.array([[[2.0]]]), neurons={"E": 2}, n_bins=100)
    >>> v = variances(ens, cov, np.zeros((1, 1, 1, 1)), {"E": 2})
    >>> float(v["heterogeneity"][0]), float(v["bias"][0])   # Var(s_1 - s_2) = 2; bias 0
    (2.0, 0.0)
    """
    X, Y = list(cov.populations), list(ens.Y)
    n = used.shape[-1] - 1
    n_ch = used.shape[2]
    het = np.zeros(n_ch)
    het_path = np.zeros((len(X), len(Y), n_ch))
    mean = np.zeros((len(X), n_ch, n + 1))
    # C_h-lagged (1/m - 1/N): the sample mean's noise, minus the network's own mean's
    noise = np.zeros((len(X), n_ch, 2 * n + 1))
    for ix, x in enumerate(X):
        h = ens.kernels[x]                                          # (m, Y, ch, n + 1)
        m, N = h.shape[0], sizes[x]
        total = h.sum(axis=1)
        mean[ix] = total.mean(axis=0)
        R = _summed_autocorrelation(total - mean[ix]) / (m - 1)    # C_h lagged, (ch, 2n+1)
        het += (N - 1) * (R * cov.auto_minus_cross[ix]).sum(axis=-1)
        noise[ix] = R * (1.0 / m - 1.0 / N)
        for iy in range(len(Y)):
            d = h[:, iy] - h[:, iy].mean(axis=0)
            Rp = _summed_autocorrelation(d) / (m - 1)
            het_path[ix, iy] = (N - 1) * (Rp * cov.auto_minus_cross[ix]).sum(axis=-1)
    # the network's N_Y target positions: their mean varies between realisations (the
    # pool's stratified positions add next to nothing: ensemble.pool_positions)
    pool_term = np.zeros((len(X), len(X), n_ch, 2 * n + 1))
    for post in Y:
        J, N_Y = ens.pool_size[post], sizes[post]
        if J < 2:
            continue
        for ix, x in enumerate(X):
            for jx, x2 in enumerate(X):
                if (x, post) not in ens.pool_kernels or (x2, post) not in ens.pool_kernels:
                    continue
                g1, g2 = ens.pool_kernels[(x, post)], ens.pool_kernels[(x2, post)]
                c = lagged(g1 - g1.mean(axis=0), g2 - g2.mean(axis=0)).sum(axis=0) / (J - 1)
                pool_term[ix, jx] += (ens.pool_scale[(x, post)] * ens.pool_scale[(x2, post)]
                                      / N_Y * c)
    bias_kernel = mean - used.sum(axis=1)                          # (X, ch, n + 1)

    def quadratic(k: np.ndarray) -> np.ndarray:
        total = np.zeros(n_ch)
        for ix in range(len(X)):
            for jx in range(len(X)):
                Q = lagged(k[ix], k[jx]) + pool_term[ix, jx]
                if ix == jx:
                    Q = Q - noise[ix]
                total += (Q * cov.population[ix, jx]).sum(axis=-1)
        return total

    bias = np.maximum(quadratic(bias_kernel), 0.0)
    signal = np.maximum(quadratic(mean), 0.0) + np.maximum(het, 0.0)
    return {"heterogeneity": np.maximum(het, 0.0), "pathways": np.maximum(het_path, 0.0),
            "bias": bias, "signal": signal}


def gain_noise(ens: Ensemble, gain_cov: np.ndarray, cov: SpikeCovariances,
               sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """What the sampling noise of the measured gains adds to :func:`variances`.

    The single-cell kernels of pathway X -> Y are scaled by gains ``ĝ_XY`` fitted on a
    few cells (:mod:`xkernels.errors.nonlinearity`); with ``E[ĝ ĝ'] = g g' +
    Cov(ĝ, ĝ')`` every quadratic form of the scaled kernels is inflated on average by

    * ``Σ_Y Var(ĝ_XY) het_XY``: the heterogeneity of pathway X -> Y (unscaled) times its
      gain's variance (gains of different Y are fitted on different cells:
      independent);
    * ``Σ_Y Σ_XX' Cov(ĝ_XY, ĝ_X'Y) Σ_τ C_XX'(τ) Q_XY,X'Y(τ)`` for the population-rate
      forms (the bias and the signal), with ``Q`` the pathway's part of their lagged
      products: ``Σ_k μ_XY[k + τ] μ_X'Y[k]`` (``μ_XY`` the unscaled mean single-cell
      kernel of the pathway), plus the target positions' and minus the sampling noise's
      terms of :func:`variances`.

    Parameters
    ----------
    ens : Ensemble
        The *unscaled* ensemble (the linearised cells).
    gain_cov : ndarray
        ``Cov(ĝ_XY, ĝ_X'Y)``, shape (X, X, Y, channels)
        (:attr:`xkernels.errors.nonlinearity.Nonlinearity.gain_covariance`).
    cov : SpikeCovariances
        Spike covariances (populations in the order of the X axes).
    sizes : mapping of str to int
        Population sizes.

    Returns
    -------
    dict
        ``heterogeneity`` and ``rate`` (channels,): the inflation of the heterogeneity
        and of the population-rate forms (squared channel units), to subtract;
        ``pathways`` (X, Y, channels): that of each pathway's heterogeneity.

    Examples
    --------
    A gain known exactly adds nothing:

    >>> from xkernels.errors.covariance import SpikeCovariances
    >>> ens = Ensemble(kernels={"E": np.array([[[[1.0]]], [[[3.0]]]])},
    ...                neurons={"E": np.arange(2)}, Y=("E",), pool_kernels={},
    ...                pool_scale={}, pool_size={"E": 2})
    >>> cov = SpikeCovariances(populations=("E",), lags=np.array([0]),
    ...                        auto_minus_cross=np.array([[1.0]]),
    ...                        population=np.array([[[2.0]]]), neurons={"E": 2}, n_bins=100)
    >>> gain_noise(ens, np.zeros((1, 1, 1, 1)), cov, {"E": 2})["rate"].tolist()
    [0.0]
    >>> gain_noise(ens, np.full((1, 1, 1, 1), 0.01), cov, {"E": 2})["rate"].tolist()
    [0.08]
    """
    X, Y = list(cov.populations), list(ens.Y)
    n_ch = gain_cov.shape[-1]
    rate = np.zeros(n_ch)
    pathways = np.zeros((len(X), len(Y), n_ch))
    means = {x: ens.kernels[x].mean(axis=0) for x in X}             # (Y, ch, n + 1)
    for ix, x in enumerate(X):
        h = ens.kernels[x]
        m, N = h.shape[0], sizes[x]
        for iy, post in enumerate(Y):
            d = h[:, iy] - means[x][iy]
            Rp = _summed_autocorrelation(d) / (m - 1)
            pathways[ix, iy] = (gain_cov[ix, ix, iy] * (N - 1)
                                * (Rp * cov.auto_minus_cross[ix]).sum(-1))
            # the rate forms of variances(): the mean's lagged products, the pool's
            # position term and the sampling-noise term, each per pathway
            rate -= gain_cov[ix, ix, iy] * (Rp * (1.0 / m - 1.0 / N)
                                            * cov.population[ix, ix]).sum(-1)
            for jx, x2 in enumerate(X):
                Q = lagged(means[x][iy], means[x2][iy])
                J = ens.pool_size.get(post, 0)
                if J >= 2 and (x, post) in ens.pool_kernels and (x2, post) in ens.pool_kernels:
                    g1, g2 = ens.pool_kernels[(x, post)], ens.pool_kernels[(x2, post)]
                    Q = Q + (ens.pool_scale[(x, post)] * ens.pool_scale[(x2, post)]
                             / sizes[post] / (J - 1)
                             * lagged(g1 - g1.mean(axis=0), g2 - g2.mean(axis=0)).sum(axis=0))
                rate += gain_cov[ix, jx, iy] * (Q * cov.population[ix, jx]).sum(-1)
    return {"heterogeneity": pathways.sum(axis=(0, 1)), "pathways": pathways,
            "rate": rate}


def error_estimate(network: Network, probes: Any, spikes: Any, *,
                   t_start: float | None = None, t_stop: float | None = None,
                   n_cells: int | Mapping[str, int] | None = None, seed: int = 0,
                   pool: int = DEFAULT_POOL, block: int = DEFAULT_BLOCK, client: Any = None,
                   nonlinear_cells: int | Mapping[str, int] | None = None,
                   ext: str = "auto",
                   options: KernelOptions | Mapping[str, Any] | None = None,
                   **kernel_options: Any) -> xr.Dataset:
    """Error bars of the kernel prediction of ``network``'s signals for these spikes.

    The prediction is that of :func:`xkernels.compute_kernels` with these options
    convolved with the population spike counts (:func:`xkernels.validate`'s
    prediction).  Its error against the network (every cell simulated, as
    :func:`xkernels.hybrid.simulate` does) has two parts (module docstring): the
    *heterogeneity* of single-cell kernels (cells differ in their targets, positions,
    synapse placement and delays) acting on the spikes' auto- minus cross-covariance,
    and the *bias* of the kernels used against the mean single-cell kernel (e.g. the
    depth approximation of ``averaging="reference"``, or an operating point) acting on
    the population counts' covariance.

    Parameters
    ----------
    network : Network
        The network.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    spikes : Spikes or mapping
        ``{population: sequence of per-neuron spike-time arrays (ms)}`` or a
        :class:`xkernels.Spikes`, for every presynaptic population of the network: all
        its neurons or a sample (at least 2; a few hundred give stable covariances).
    t_start, t_stop : float, optional
        The window (ms) whose spikes are used; default from 0 to just after the last
        spike.  Longer than twice the kernels' ``tau``.
    n_cells : int or dict, optional
        Neurons sampled per presynaptic population for the single-cell kernel ensemble
        (at least 2).  Each sampled neuron gets its own wiring, so more than the
        population's size is allowed: more samples of the same distribution.  The
        ensemble holds ``n_cells × len(Y) × channels × lags`` floats per population
        and costs one shifted copy of a unit response per synapse drawn; by default as
        many neurons as fit in :data:`ENSEMBLE_BYTES` (256 MiB) and
        :data:`ENSEMBLE_SYNAPSES` (256 000 synapses), between 200 and
        :data:`DEFAULT_CELLS` = 1000 (the README network, ~920 synapses per E neuron:
        277 E neurons; its 400/100-cell variants of the benchmarks, 14 channels: 1000).
        Where the error is mostly the kernels' amplitude against the cells'
        (conductance-based networks with correlated input), the ensemble mean's
        sampling noise matters: use 1000 if the time allows.
    seed : int
        Seed of the ensemble (sampled neurons, target positions, wiring).
    pool : int
        Target positions placed per postsynaptic population, at most 4 × its size (its
        cells are drawn from them; more than the population's size averages over
        realisations of the positions, and the variance of the network's own ``N_Y``
        positions is added).
    block : int
        Bins per block of the covariance computation (memory).
    client : optional
        Where covariance blocks run (:class:`xkernels.runtime.Runner`); None: here.
    nonlinear_cells : int or dict, optional
        Conductance-based networks only: cells per postsynaptic population simulated
        with real conductance synapses to measure the nonlinearity
        (:mod:`xkernels.errors.nonlinearity`; default
        ``DEFAULT_SAMPLE`` = 16 or the population's
        size if smaller; at least 2; 0: none,
        the linear estimate).  Ignored for current-based networks (nothing simulated).
    ext : {"auto", "mean", "leak", "poisson", "none"}
        The extrinsic input of those cells, as for :func:`xkernels.hybrid.simulate`.
    options : KernelOptions or dict, optional
        Options of the kernels (as for :func:`xkernels.compute_kernels`).
    **kernel_options
        Fields of :class:`xkernels.KernelOptions` replacing those of ``options``.

    Returns
    -------
    xarray.Dataset
        Over ``probe_channel`` (with the kernels' channel coordinates):
        ``relative_error`` (std of true − predicted over std of true, dimensionless),
        ``error_std`` and ``signal_std`` (channel units), the parts ``heterogeneity``
        and ``bias`` (standard deviations in channel units,
        ``error_std² = heterogeneity² + bias² + nonlinearity²``; ``nonlinearity``, the
        part of the cells' signal that no linear kernel gives, is 0 in current-based
        networks), ``heterogeneity_pathway`` (X, Y, probe_channel): the heterogeneity
        of each pathway alone (their squares add up to ``heterogeneity²`` in
        expectation: targets in different populations are wired independently), and
        ``gain`` (X, Y, probe_channel): the measured factor from the linearised
        single-cell kernels to the cells' (1 in current-based networks).  Attrs:
        window, dt, seed, neurons and cells used, options.

    Raises
    ------
    ValueError
        Before any work: spikes of a population the network lacks or lacking one of
        its presynaptic populations, fewer than 2 neurons, an empty window or one not
        longer than twice the kernels' ``tau``, ``nonlinear_cells`` other than 0 or
        2..N_Y, bad options.

    Examples
    --------
    >>> import xkernels
    >>> from xkernels.hybrid import correlated_poisson
    >>> d = xkernels.Network.example().to_dict()
    >>> for p, n in zip(d["populations"], (40, 10)):
    ...     p["size"] = n
    >>> net = xkernels.Network.from_dict(d)
    >>> spikes = correlated_poisson({"E": 40, "I": 10}, {"E": 5.0, "I": 10.0},
    ...                             t_stop=1000.0, seed=1)
    >>> est = error_estimate(net, {"cdm": xkernels.CurrentDipoleMomentZ()}, spikes,
    ...                      t_stop=1000.0, n_cells=10, tau=20.0)
    >>> sorted(est.data_vars)  # doctest: +NORMALIZE_WHITESPACE
    ['bias', 'error_std', 'gain', 'heterogeneity', 'heterogeneity_pathway', 'nonlinearity',
     'relative_error', 'signal_std']
    >>> bool(0 < est["relative_error"].item() < 2)
    True
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    options = KernelOptions.of(options, **kernel_options).resolve(network)
    spikes = as_spikes(spikes)
    _check_populations(network, spikes)
    seed = check_int("seed", seed, minimum=0)
    pool = check_int("pool", pool, minimum=1)
    block = check_int("block", block, minimum=1)
    nonlinear = _nonlinear_cells(network, nonlinear_cells)
    ext = resolve_ext(ext, network)
    plan = prepare_kernels(network, probes, options)
    dt, n = plan.options.dt, plan.grid.n_response
    cells = _cells(network, n_cells, len(plan.Y) * plan.shape[2] * (n + 1) * 8)
    t_start, t_stop, n_bins = _window(spikes, t_start, t_stop, dt, n * dt)
    truth = ensemble_options(network, options)
    truth_plan = prepare_kernels(network, probes, truth)
    X, Y = list(plan.X), list(plan.Y)
    sizes = {x: network.population(x).size for x in X}
    # --- the work -------------------------------------------------------------------
    H = compute_kernels(network, probes, options)
    used = _causal(H, X, Y, dt, n)                                  # (X, Y, ch, n + 1)
    ens = single_cell_kernels(network, plan.probes, truth_plan, n_cells=cells, seed=seed,
                              pool=pool)
    n_ch = used.shape[2]
    gain, residual = np.ones((len(X), len(Y), n_ch)), np.zeros(n_ch)
    linear, found = ens, None
    if any(nonlinear.values()):
        found = measure(network, plan.probes, truth_plan, spikes, n_cells=nonlinear,
                        seed=seed, t_start=t_start, t_stop=t_stop, ext=ext)
        gain, residual = found.gain, found.residual
        ens = scaled(ens, gain, X)
    cov = spike_covariances(spikes, sizes, X, t_start=t_start, dt=dt, n_bins=n_bins, n=n,
                            block=block, client=client)
    all_sizes = {p.name: p.size for p in network.populations}
    parts = variances(ens, cov, used, all_sizes)
    het, het_path, bias, signal = (parts[k] for k in ("heterogeneity", "pathways", "bias",
                                                        "signal"))
    if found is not None:         # the gains' own sampling noise inflates every form
        inflation = gain_noise(linear, found.gain_covariance, cov, all_sizes)
        het = np.maximum(het - inflation["heterogeneity"], 0.0)
        het_path = np.maximum(het_path - inflation["pathways"], 0.0)
        bias = np.maximum(bias - inflation["rate"], 0.0)
        signal = np.maximum(signal - inflation["rate"] - inflation["heterogeneity"], 0.0)
    error = het + bias + residual
    signal = signal + residual
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(signal > 0, np.sqrt(error / signal), np.nan)
    channel = {k: H.coords[k] for k in ("probe", "units", "x", "y", "z") if k in H.coords}
    units = {"long_name": "", "units": "channel units (see the units coordinate)"}
    ds = xr.Dataset(
        {"relative_error": ("probe_channel", relative,
                            {"long_name": "std(true - predicted) / std(true)",
                             "units": "1"}),
         "error_std": ("probe_channel", np.sqrt(error),
                       {**units, "long_name": "std(true - predicted)"}),
         "signal_std": ("probe_channel", np.sqrt(signal),
                        {**units, "long_name": "std(true)"}),
         "heterogeneity": ("probe_channel", np.sqrt(het),
                           {**units, "long_name": "std of the heterogeneity part"}),
         "bias": ("probe_channel", np.sqrt(bias),
                  {**units, "long_name": "std of the bias part"}),
         "heterogeneity_pathway": (("X", "Y", "probe_channel"),
                                   np.sqrt(np.maximum(het_path, 0.0)),
                                   {**units, "long_name": "heterogeneity of one pathway"}),
         "nonlinearity": ("probe_channel", np.sqrt(residual),
                          {**units, "long_name": "std of the nonlinearity part"}),
         "gain": (("X", "Y", "probe_channel"), gain,
                  {"long_name": "cells' response / linearised response", "units": "1"})},
        coords={"probe_channel": H.coords["probe_channel"], **channel, "X": X, "Y": Y},
        attrs={"long_name": "error estimate of the kernel prediction (Ness et al. 2025)",
               "t_start": t_start, "t_stop": t_stop, "dt": dt, "seed": seed, "pool": pool,
               "ensemble_cells": json.dumps({x: int(ens.kernels[x].shape[0]) for x in X}),
               "spike_neurons": json.dumps(cov.neurons),
               "options": options.model_dump_json(),
               "ensemble_options": truth.model_dump_json(),
               "nonlinear_cells": json.dumps(nonlinear), "ext": ext,
               "kernel_hash": str(H.attrs.get("content_hash", ""))})
    return ds

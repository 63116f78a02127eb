"""Pure functions of the kernel method (Hagen et al. 2022): no NEURON, only arrays.

* :func:`beta_integral` -- time integral of the peak-normalised double exponential
* :func:`synapse_counts` -- expected in/out-degrees of a connection
* :func:`placement_probability` -- per-segment probability of a synapse
* :func:`leak_shift` -- the g_eff correction of the leak conductance
* :func:`segment_weights` -- linearised per-segment synaptic currents
* :func:`delay_filter` -- normalised delay distribution on the lag grid
* :func:`project` -- membrane currents to probe signals (small products row by row)
* :func:`finish_kernel` -- delay smearing, then :func:`window_kernel`: offset
  subtraction at τ = 0, FIR cut (:func:`finish_kernels`: several at once)
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from xkernels.checks import did_you_mean
from xkernels.spec.network import Connection, Placement, Population


def beta_integral(tau1: float | np.ndarray, tau2: float | np.ndarray) -> float | np.ndarray:
    """Integral over t >= 0 of the peak-normalised waveform (ms).

    The waveform ``(exp(-t/tau2) - exp(-t/tau1)) / peak`` has unit peak; its integral
    is ``(tau2 - tau1) / peak`` with ``peak`` the waveform maximum, reached at
    ``t_p = tau1 tau2 / (tau2 - tau1) * ln(tau2 / tau1)``.

    Parameters
    ----------
    tau1, tau2 : float or ndarray
        Rise and decay time constants (ms), ``tau1 < tau2`` (arrays: elementwise).
    """
    t_peak = tau1 * tau2 * np.log(tau2 / tau1) / (tau2 - tau1)
    peak = np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1)
    out = (tau2 - tau1) / peak
    return float(out) if np.ndim(out) == 0 else out


def synapse_counts(conn: Connection, n_pre: int, n_post: int) -> tuple[float, float]:
    """Expected synapses per postsynaptic cell (in) and per presynaptic cell (out).

    ``K = C_YX N_X N_Y <multapses>`` synapses in total;
    in-degree ``K / N_Y``, out-degree ``K / N_X``.
    """
    total = conn.probability * n_pre * n_post * conn.mean_multapses()
    return total / n_post, total / n_pre


def section_mask(sections: list[str], patterns: list[str], field_name: str) -> np.ndarray:
    """Segments whose section name contains any of ``patterns`` (``"allsec"``: all).

    Raises
    ------
    ValueError
        If a pattern matches no section of the cell.
    """
    names = np.asarray(sections)
    if "allsec" in patterns:
        return np.ones(names.size, dtype=bool)
    mask = np.zeros(names.size, dtype=bool)
    available = sorted({n.split(".")[-1] for n in sections})
    for pattern in patterns:
        hit = np.array([pattern in n for n in sections])
        if not hit.any():
            raise ValueError(f"{field_name}: section {pattern!r} does not exist on the cell; "
                             f"its sections are {available}"
                             f"{did_you_mean(pattern, {n.split('[')[0] for n in available})}")
        mask |= hit
    return mask


def placement_probability(placement: Placement, sections: list[str], z_mid: np.ndarray,
                          area: np.ndarray, population_scale: float,
                          field_name: str = "placement", allow_empty: bool = False
                          ) -> np.ndarray:
    """Probability that a synapse lands on each segment.

    p_i ∝ A_i Σ_k w_k f_k(z_i) over segments of the chosen sections inside
    ``(z_min, z_max)``, where each density f_k has its scale widened to
    sqrt(scale² + population_scale²) (the depth spread of postsynaptic somata).

    Parameters
    ----------
    placement : Placement
        Placement rule.
    sections : list of str
        Section name of every segment.
    z_mid : ndarray
        Segment midpoint depths (µm).
    area : ndarray
        Segment membrane areas (µm²).
    population_scale : float
        Standard deviation of the postsynaptic somatic depths (µm).
    allow_empty : bool
        Return zeros (no synapse on the cell) instead of raising when no segment is
        eligible or the densities vanish on all of them (a cell far from the layer of
        its synapses, in depth averaging).

    Returns
    -------
    ndarray
        Probabilities summing to 1 (or all zero with ``allow_empty``), shape (nseg,).
    """
    mask = section_mask(sections, placement.sections, f"{field_name}.sections")
    mask &= (z_mid > placement.z_min) & (z_mid < placement.z_max)
    if allow_empty and not mask.any():
        return np.zeros(z_mid.size)
    if not mask.any():
        raise ValueError(f"{field_name}: no segment of sections {placement.sections} lies in "
                         f"z in ({placement.z_min}, {placement.z_max})")
    density = np.zeros(int(mask.sum()))
    for dist, weight in zip(placement.densities, placement.weights):
        params = dict(dist.params)
        params["scale"] = np.sqrt(params.get("scale", 1.0) ** 2 + population_scale ** 2)
        density += dist.model_copy(update={"params": params}).pdf(z_mid[mask]) * weight
    p = np.zeros(z_mid.size)
    p[mask] = area[mask] * density
    total = p.sum()
    if allow_empty and not total > 0:
        return np.zeros(z_mid.size)
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"{field_name}: the densities give zero probability on every "
                         "eligible segment")
    return p / total


def leak_shift(area: np.ndarray, counts: np.ndarray, weight: float, tau1: float, tau2: float,
               rate: float) -> np.ndarray:
    """Mean synaptic conductance per membrane area added to the leak (S/cm²).

    ``Δg_i = n_i |w| β ν / A_i`` with ``n_i`` synapses on segment i, weight ``w`` (µS),
    β the waveform integral (ms), ν the activation rate (spikes/s) and A_i (µm²);
    µS ms s⁻¹ µm⁻² = 0.1 S/cm².
    """
    beta = beta_integral(tau1, tau2)
    return counts * abs(weight) / area * beta * rate * 0.1


def segment_weights(weight: float, e_rev: float, vrest, p_out: np.ndarray,
                    conductance_based: bool) -> np.ndarray:
    """Per-segment peak synaptic current of the linearised synapses (nA).

    Conductance-based: ``-w (V_rest - E) ρ_i`` (µS × mV = nA); current-based:
    ``w ρ_i``; ρ_i the expected out-degree on segment i.
    """
    if conductance_based:
        return -weight * (np.asarray(vrest, dtype=float) - e_rev) * p_out
    return weight * p_out


def delay_filter(delay, times: np.ndarray) -> np.ndarray:
    """Normalised delay weights: the delay density at ``times``, summing to 1.

    Parameters
    ----------
    delay : Distribution or scipy frozen distribution
        Delay distribution (ms), anything with a ``pdf`` method.
    times : ndarray
        Tap times (ms), e.g. ``LagGrid.delay_times`` (``k dt``, ``k = -n..n``).

    Raises
    ------
    ValueError
        If the density has no mass at ``times``.
    """
    pdf = delay.pdf(times)
    total = pdf.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("delay distribution has no probability mass on the lags "
                         f"[{times[0]}, {times[-1]}] ms")
    return pdf / total


#: Below this many multiply-adds a matrix product runs row by row (one GEMV per row):
#: BLAS's threaded GEMM costs more in thread hand-offs than it saves for products this
#: small, and ~20x more on a machine whose cores are busy (measured: 16x90 @ 90x802
#: took 12 ms threaded, 0.6 ms row by row, with other processes on both cores).
SMALL_PRODUCT = 2 ** 24


def project(matrix: np.ndarray, currents: np.ndarray) -> np.ndarray:
    """``matrix @ currents``: probe signals (n_channels, n_t) from membrane currents.

    Parameters
    ----------
    matrix : ndarray
        Shape (n_channels, nseg), channel units per nA.
    currents : ndarray
        Shape (nseg, n_t), nA.

    Returns
    -------
    ndarray
        Shape (n_channels, n_t).  Products below :data:`SMALL_PRODUCT` multiply-adds
        are computed row by row (the same numbers, without BLAS threads).
    """
    if matrix.shape[0] * matrix.shape[1] * currents.shape[-1] >= SMALL_PRODUCT:
        return matrix @ currents
    out = np.empty((matrix.shape[0], currents.shape[-1]))
    for k, row in enumerate(matrix):
        out[k] = row @ currents
    return out


def finish_kernel(response: np.ndarray, h_delay: np.ndarray, centre: int,
                  lags: np.ndarray) -> np.ndarray:
    """Delay-smear a channel response and cut the kernel window.

    Parameters
    ----------
    response : ndarray
        Shape (n_channels, n + 1): signal at lags 0..n steps after the volley; the
        signal is zero before the volley and unknown (taken as zero) after lag n.
    h_delay : ndarray
        Delay weights (taps); tap ``centre`` is applied at lag 0, tap ``centre + k`` at
        lag k.
    centre : int
        Index of the lag-0 tap.
    lags : ndarray
        Output lags (steps, increasing by one, at most n).

    Returns
    -------
    ndarray
        Kernel, shape (n_channels, lags.size): the delay-smeared response minus its
        value at lag 0, zero at negative lags.
    """
    n = response.shape[-1] - 1
    top = int(lags[-1]) if lags.size else 0
    if top > n or not 0 <= centre < h_delay.size:
        raise ValueError(f"lags up to {top} and lag-0 tap {centre} do not fit a response "
                         f"of {n + 1} lags and a filter of {h_delay.size} taps")
    full = fftconvolve(response, h_delay[None, :], axes=-1)
    return window_kernel(full[:, centre: centre + max(top, 0) + 1], lags)  # lags 0..top


def finish_kernels(responses: np.ndarray, filters: list[np.ndarray], centre: int,
                   lags: np.ndarray, n_response: int | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """:func:`finish_kernel` of several responses at once (one batch of FFTs).

    Parameters
    ----------
    responses : ndarray
        Shape (n_kernels, n_channels, n + 1); or, with ``n_response``, zero-padded to
        :func:`convolution_size` (the FFT's length: no padded copy is made).
    filters : list of ndarray
        One delay filter per kernel (the same number of taps).
    centre, lags
        As for :func:`finish_kernel`.
    n_response : int, optional
        ``n + 1`` when ``responses`` is zero-padded.
    out : ndarray, optional
        Written with the result (any array of its shape, e.g. a view) and returned.

    Returns
    -------
    ndarray
        Shape (n_kernels, n_channels, lags.size); equal to :func:`finish_kernel` of each
        to rounding (1e-15 relative).
    """
    from scipy import fft

    n = (responses.shape[-1] if n_response is None else int(n_response)) - 1
    top = int(lags[-1]) if lags.size else 0
    found = _filter_spectra(filters, centre, n)
    n_full, first, n_conv, size, spectra_of_taps = found[1:]
    if n_response is not None and responses.shape[-1] != size:
        raise ValueError(f"responses of {n + 1} lags zero-padded must have {size} "
                         f"(convolution_size), got {responses.shape[-1]}")
    if top > n or not 0 <= centre < n_full:
        raise ValueError(f"lags up to {top} and lag-0 tap {centre} do not fit a response "
                         f"of {n + 1} lags and a filter of {n_full} taps")
    stop = first + max(top, 0) + 1
    spectra = fft.rfft(responses, size, axis=-1)
    if spectra.dtype == spectra_of_taps.dtype:
        spectra *= spectra_of_taps
    else:
        spectra = spectra * spectra_of_taps
    # (the spectra are this function's own: pocketfft may use them as scratch)
    full = fft.irfft(spectra, size, axis=-1, overwrite_x=True)[..., :n_conv]
    pad_front, pad_back = max(0, -first), max(0, stop - full.shape[-1])
    if pad_front or pad_back:  # outside the convolution's support: zero
        full = np.pad(full, [(0, 0)] * (full.ndim - 1) + [(pad_front, pad_back)])
    return window_kernel(full[..., first + pad_front: stop + pad_front], lags, out)


def convolution_size(filters: list[np.ndarray], centre: int, n: int) -> int:
    """The FFT length :func:`finish_kernels` uses for responses of ``n + 1`` lags and
    ``filters`` (responses zero-padded to it are transformed without a copy).

    Examples
    --------
    >>> convolution_size([np.array([0.0, 1.0, 0.0])], 1, 10)
    12
    """
    return _filter_spectra(filters, centre, n)[4]


def _filter_spectra(filters: list[np.ndarray], centre: int, n: int) -> tuple:
    """What :func:`finish_kernels` needs of its filters for responses of ``n + 1``
    lags, kept for the last :data:`SPECTRA_KEPT` lists of filter objects (held, so
    that their ids are not reused while kept; the arrays must not be changed in place
    after the call -- planned delay filters never are): ``(filters, taps per filter,
    index of lag 0 in the convolution, its length, the FFT size, the filters' spectra
    (n_kernels, 1, size // 2 + 1))``.  The same numbers as computing them each time."""
    from scipy import fft

    key = (tuple(map(id, filters)), int(centre), int(n))
    found = _SPECTRA.get(key)
    if found is not None and len(found[0]) == len(filters) and \
            all(a is b for a, b in zip(found[0], filters)):
        return found
    taps = np.stack(filters)
    # only the taps from the first to the last nonzero one of any filter (a delay density
    # is often zero at most taps): tap lo + k of the full filter is tap k here, so lag l
    # (full index centre + l) is index centre - lo + l of this convolution
    nonzero = np.flatnonzero(taps.any(axis=0))
    lo, hi = (int(nonzero[0]), int(nonzero[-1])) if nonzero.size else (0, 0)
    lo = min(lo, centre)                      # lag 0 inside: no padding in front
    n_full = taps.shape[-1]
    taps = taps[:, lo: hi + 1]
    size = fft.next_fast_len(n + taps.shape[-1], real=True)  # the whole linear convolution
    # each distinct filter object transformed once (a batch of samples shares a few)
    which: dict[int, int] = {}
    index = np.array([which.setdefault(id(h), len(which)) for h in filters])
    distinct = np.unique(index, return_index=True)[1]
    spectra = fft.rfft(taps[distinct], size, axis=-1)[index][:, None]
    found = (tuple(filters), n_full, centre - lo, n + taps.shape[-1], size, spectra)
    while len(_SPECTRA) >= SPECTRA_KEPT:
        _SPECTRA.pop(next(iter(_SPECTRA), None), None)  # threads may race here
    _SPECTRA[key] = found
    return found


#: Filter spectra of :func:`finish_kernels` (key -> entry), at most SPECTRA_KEPT (an entry
#: per postsynaptic population of a computation: ~0.2 MB for the microcircuit's 8 filters
#: at tau = 100 ms).
_SPECTRA: dict = {}
SPECTRA_KEPT = 32


def window_kernel(smeared: np.ndarray, lags: np.ndarray, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """Kernel at ``lags`` from a delay-smeared response at lags 0..top (last axis).

    Subtracts the value at lag 0 and returns the values at ``lags``, zero at negative
    lags (written into ``out`` when given).
    """
    if out is None:
        out = np.empty(smeared.shape[:-1] + (lags.size,))
    # lags increase by one: the causal ones are a slice, from the first lag >= 0
    start = int(np.searchsorted(lags, 0)) if lags.size else 0
    out[..., :start] = 0.0
    if start < lags.size:
        first, last = int(lags[start]), int(lags[-1])
        np.subtract(smeared[..., first: last + 1], smeared[..., :1], out=out[..., start:])
    return out


def ext_leak_shift(pop: Population, area: np.ndarray) -> np.ndarray:
    """Leak shift from the extrinsic synapses of ``pop`` spread by area (S/cm²)."""
    if pop.n_ext == 0 or pop.nu_ext == 0:
        return np.zeros(area.size)
    syn = pop.ext_synapse
    counts = pop.n_ext * area / area.sum()
    return leak_shift(area, counts, syn.weight, syn.tau1, syn.tau2, pop.nu_ext)

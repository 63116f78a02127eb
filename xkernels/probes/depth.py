"""A probe's matrix integrated over the soma depths of a population (Gauss–Hermite).

In ``averaging="depth"`` the somata of a postsynaptic population lie at depths
``loc + s`` with ``s ~ N(0, σ²)`` (σ = the population's ``scale``, µm).  A cell at offset
``s`` has membrane currents ``I(s)`` (its synapses are placed at its own depth) and is
seen by the probe, averaged laterally over the population disc, through ``M(s)``.  The
kernel needs

.. math:: E[M(s)\\, I(s)] = \\int M(s)\\, I(s)\\, \\varphi_\\sigma(s)\\, ds .

``I(s)`` costs a simulation per depth, so it is known at ``N`` Gauss–Hermite nodes
``s_n = σ x_n`` only and interpolated between them by the polynomial of degree N - 1
through them (smooth: placement densities and the g_eff leak shift vary smoothly with
depth).  ``M(s)`` is cheap but not smooth: the laterally averaged potential of a source
has a kink, ``-|z_contact - z_source - s|``, where the source crosses the contact's depth,
which defeats a plain Gauss–Hermite rule (error ~ 1/N).  So the probe is integrated
*exactly* against the interpolant (product integration):

.. math:: E[M(s)\\, I(s)] \\approx \\sum_n Q_n I(s_n), \\qquad
          Q_n = E[L_n(s) M(s)] = w_n \\sum_{k<N} h_k(x_n)\\, \\mu_k, \\qquad
          \\mu_k = E[h_k(x)\\, M(\\sigma x)],

with ``L_n`` the Lagrange polynomials of the nodes, ``h_k = He_k / sqrt(k!)`` the
normalised (probabilists') Hermite polynomials and ``w_n`` the Gauss–Hermite weights
(summing to 1).  Each probe kind splits its depth-dependent matrix into

.. math:: M(s) = S(s) + \\sum_q a_q\\, |d_q - s|_r

(:class:`DepthTerms`): a smooth part ``S``, whose moments are computed with a fine
trapezoidal rule (:func:`fine_rule`), and kinks (``|u|_r``: ``|u|`` smoothed by a
Gaussian of standard deviation ``r``), whose moments are closed-form
(:func:`kink_moments`, Gaussian integration by parts).  With one node the rule is
``Q_1 = E[M(s)]``: the probe averaged over depth, as ``averaging="reference"`` uses
it.  With σ = 0 the rule is the identity: one node at s = 0 and ``Q_1 = M(0)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, roots_hermitenorm

__all__ = ["DepthRule", "DepthTerms", "depth_nodes", "depth_rule", "fine_rule", "hermite_table",
           "kink_moments"]

#: Half width of the fine rule for the smooth part's moments, in standard deviations
#: (the Gaussian weight beyond it is below 1e-18).
FINE_SPAN = 9.0
#: Largest spacing of the fine rule, in standard deviations.
FINE_STEP = 0.5
#: Most points of the fine rule.
FINE_POINTS_MAX = 2001
# the trapezoidal rule's error for a function analytic in the strip |Im s| < reach is
# about exp(-2 pi reach / step); a step of reach / 5 makes it ~1e-14
_STEPS_PER_REACH = 5.0


def hermite_table(x: np.ndarray, n: int) -> np.ndarray:
    """Normalised Hermite polynomials ``h_k(x) = He_k(x) / sqrt(k!)``, ``k < n``.

    Parameters
    ----------
    x : ndarray
        Points, any shape.
    n : int
        Number of polynomials.

    Returns
    -------
    ndarray
        Shape ``(n, *x.shape)``; ``E[h_j(x) h_k(x)] = δ_jk`` for standard normal x.
    """
    x = np.asarray(x, dtype=float)
    out = np.empty((n, *x.shape))
    if n > 0:
        out[0] = 1.0
    if n > 1:
        out[1] = x
    for k in range(1, n - 1):
        out[k + 1] = (x * out[k] - math.sqrt(k) * out[k - 1]) / math.sqrt(k + 1)
    return out


def kink_moments(at: np.ndarray, sigma: float, width: float, n: int) -> np.ndarray:
    """Hermite moments ``E[h_k(x) |d - σx|_r]`` of a (smoothed) kink, closed form.

    ``|u|_r`` is ``E_t |u - r t|`` with t standard normal (``|u|`` for r = 0).  With
    ``σ' = sqrt(σ² + r²)`` and ``a = d / σ'``, Gaussian integration by parts
    (``E[He_k(x) f(σx)] = σ^k E[f^(k)(σx)]``) gives

    * k = 0: ``σ' (2 φ(a) + a (2 Φ(a) - 1))``
    * k = 1: ``σ (1 - 2 Φ(a))``
    * k >= 2: ``2 σ (σ/σ')^(k-1) φ(a) h_(k-2)(a) / sqrt(k (k - 1))``

    Parameters
    ----------
    at : ndarray
        Kink positions ``d`` (µm), any shape.
    sigma : float
        Standard deviation of the depth offsets (µm), > 0.
    width : float
        Smoothing ``r`` of the kink (µm), >= 0.
    n : int
        Number of moments.

    Returns
    -------
    ndarray
        Shape ``(n, *at.shape)`` (µm).
    """
    at = np.asarray(at, dtype=float)
    s_tot = math.hypot(sigma, width)
    a = at / s_tot
    phi = np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
    cdf = ndtr(a)
    out = np.empty((n, *at.shape))
    out[0] = s_tot * (2.0 * phi + a * (2.0 * cdf - 1.0))
    if n > 1:
        out[1] = sigma * (1.0 - 2.0 * cdf)
    if n > 2:
        h = hermite_table(a, n - 2)
        ratio = sigma / s_tot
        for k in range(2, n):
            out[k] = (2.0 * sigma * ratio ** (k - 1) / math.sqrt(k * (k - 1))) * phi * h[k - 2]
    return out


@dataclass(frozen=True, eq=False)
class DepthTerms:
    """A probe's laterally averaged matrix as a function of the cell's depth offset.

    ``M(s) = smooth(s) + Σ_q coef[..., q] |at[..., q] - s|_width`` (µm offsets; the
    matrix in channel units per nA, shape (n_channels, nseg)).

    Attributes
    ----------
    exact : callable
        ``exact(dz)`` -> ``M(dz)`` for one offset, shape (n_channels, nseg): the matrix
        itself, evaluated directly (used when σ = 0).
    smooth : callable or None
        ``smooth(dz)`` for offsets ``dz`` of shape (n,) -> shape (n, n_channels, nseg);
        None: ``M`` has no kink and is smooth itself (``exact`` at each offset).
    coef, at : ndarray or None
        Kink coefficients and positions (µm), shape (n_channels, nseg, q); None if
        ``M`` has no kink.
    width : float
        Smoothing of the kinks (µm).
    reach : float
        Distance (µm) from the real axis to the nearest singularity of ``smooth``
        (sets the size of the fine rule; ``inf`` for polynomials and entire functions).
    """

    exact: Callable[[float], np.ndarray]
    smooth: Callable[[np.ndarray], np.ndarray] | None = None
    coef: np.ndarray | None = None
    at: np.ndarray | None = None
    width: float = 0.0
    reach: float = math.inf


def fine_rule(sigma: float, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """The fine rule for the smooth part's moments: trapezoidal in s, on ±9 σ.

    The trapezoidal rule converges geometrically for functions analytic in a strip
    around the real axis times the Gaussian weight: with a step of ``reach / 5`` (and at
    most σ/2) the error is ~1e-14 relative (nearer singularities need more points; at
    most 2001).

    Parameters
    ----------
    sigma : float
        Standard deviation of the depth offsets (µm), > 0.
    reach : float
        Distance (µm) of the nearest singularity of the smooth part from the real axis.

    Returns
    -------
    x, w : ndarray
        Nodes in units of σ and weights (``E[f(x)] ≈ Σ w f(x)``).
    """
    step = FINE_STEP
    if np.isfinite(reach):
        step = min(step, max(reach, 0.0) / (_STEPS_PER_REACH * sigma))
    count = min(FINE_POINTS_MAX, 2 * math.ceil(FINE_SPAN / max(step, 1e-12)) + 1)
    x = np.linspace(-FINE_SPAN, FINE_SPAN, count)
    w = np.exp(-0.5 * x * x) * (x[1] - x[0]) / math.sqrt(2.0 * math.pi)
    return x, w


@dataclass(frozen=True, eq=False)
class DepthRule:
    """Where to evaluate a cell and how to weigh the probe at each depth node.

    Attributes
    ----------
    offsets : ndarray
        Depth offsets ``s_n`` of the cell from the population's ``loc`` (µm), shape (N,).
    weights : ndarray
        Gauss–Hermite weights (sum 1), shape (N,).
    matrices : ndarray or None
        ``Q_n``, shape (N, n_channels, nseg): the kernel is ``Σ_n Q_n I(s_n)``.
    """

    offsets: np.ndarray
    weights: np.ndarray
    matrices: np.ndarray | None = None


def depth_nodes(sigma: float, n: int) -> DepthRule:
    """The depth nodes of a population (without probe matrices).

    Parameters
    ----------
    sigma : float
        The population's ``scale`` (µm), >= 0; 0 gives one node at 0.
    n : int
        Number of nodes, >= 1.

    Returns
    -------
    DepthRule
        ``offsets = σ x_n`` and the weights; ``matrices`` is None.
    """
    if sigma == 0:
        return DepthRule(np.zeros(1), np.ones(1))
    x, w = roots_hermitenorm(int(n))
    return DepthRule(sigma * x, w / w.sum())


def depth_rule(terms: DepthTerms, sigma: float, n: int) -> DepthRule:
    """The product-integration rule of one probe over the depth distribution.

    Parameters
    ----------
    terms : DepthTerms
        The probe's matrix as a function of depth offset.
    sigma : float
        Standard deviation of the soma depths (µm), >= 0.
    n : int
        Number of depth nodes, >= 1 (1 when ``sigma`` is 0).

    Returns
    -------
    DepthRule
        With ``matrices`` ``Q_n`` of shape (N, n_channels, nseg).
    """
    nodes = depth_nodes(sigma, n)
    if sigma == 0:
        return DepthRule(nodes.offsets, nodes.weights, np.asarray(terms.exact(0.0))[None])
    # Hermite moments mu_k = E[h_k(x) M(sigma x)]: the smooth part by the fine rule,
    # the kinks in closed form
    x, w = fine_rule(sigma, terms.reach)
    if terms.smooth is None:
        S = np.stack([terms.exact(float(dz)) for dz in sigma * x])
    else:
        S = np.asarray(terms.smooth(sigma * x), dtype=float)
    mu = np.tensordot(hermite_table(x, n) * w, S, axes=(1, 0))
    if terms.coef is not None:
        mu += np.einsum("...q,k...q->k...", terms.coef, kink_moments(terms.at, sigma,
                                                                    terms.width, n))
    x = nodes.offsets / sigma
    coeff = hermite_table(x, n) * nodes.weights          # (k, n)
    Q = np.tensordot(coeff, mu, axes=(0, 0))             # (n, n_channels, nseg)
    return DepthRule(nodes.offsets, nodes.weights, Q)

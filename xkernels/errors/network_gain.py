"""Gains of the nonlinearity fitted for the network's sum, not for single cells.

``nonlinearity.fit`` chooses the gains ``g_XY`` that minimise the
sampled cells' own residuals, ``Σ_j ||v_j - Σ_X g_XY l_jX||²``.  The error estimate
needs the residual of the *network*, ``Σ_Y Σ_{j ∈ Y} r_j``, whose variance is (module
:mod:`xkernels.errors.nonlinearity`)

    V(g) = Σ_Y [N_Y ā_Y + N_Y (N_Y - 1) c̄_YY] + Σ_{Y ≠ Y'} N_Y N_Y' c̄_YY'.

With correlated input and N_Y ≫ m the pair terms dominate, and they weigh the part of
the residual the cells have in common — the response to the population's shared drive
— which a per-cell fit hardly sees (each cell's private response outweighs it in
``Σ_j ||r_j||²``).  That common part is then counted twice: as ``nonlinearity`` (a
residual collinear with the linear response) and again in ``bias`` (the ensemble scaled
by gains that do not describe the network), and the two are added in variance although
they largely cancel.  Measured on the full README network (E 8192 / I 1024, correlated
input; ``benchmarks/error_estimate.py residual``): docs/error_estimates.md.

:func:`network_fit` minimises the same unbiased estimate ``V(g)`` that
``nonlinearity.network_residual`` evaluates, along the per-cell
gains: ``g = α g_cells`` per channel, ``α`` the minimum of the quadratic ``V(α g_cells)``.
The per-cell fit sets the pathways' relative gains (the cells' private responses
determine them); the network's sum sets their common scale.  Minimising ``V`` over every
gain freely is not stable: the pair terms come from ``m (m - 1)`` pairs scaled by
``N²``, the quadratic is often not positive definite, and with correlated input the
pathways' linear responses share one common mode (every cell's E and I input follow the
same rate), so the sum determines only about one combination of the gains (measured on
the README network: one eigenvalue 3–4, the others 0.2 or below, or negative, in
parameters scaled to unit diagonal).  Where ``V(α g_cells)`` has no positive curvature
``α = 1``.  With ``N_Y = m_Y`` (every cell sampled) ``V`` is the variance of the
sample's sum.

Units: signals in the probe channels' units; gains dimensionless.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def network_fit(simulated: Mapping[str, np.ndarray], linear: Mapping[str, np.ndarray],
                sizes: Mapping[str, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per channel, the gains minimising the estimated variance of the network's residual.

    Parameters
    ----------
    simulated : mapping of str to ndarray
        Per postsynaptic population Y, its m_Y >= 2 sampled cells' signals, shape
        (m_Y, channels, T), mean removed.
    linear : mapping of str to ndarray
        Their linear predictions per presynaptic population, shape
        (m_Y, X, channels, T), mean removed (the same X order for every Y).
    sizes : mapping of str to int
        Population sizes N_Y.

    Returns
    -------
    gain : ndarray
        Shape (X, Y, channels) (Y in the order of ``simulated``); a pathway without
        signal in a channel gets gain 1.
    residuals : dict of str to ndarray
        Per Y, the cells' residuals ``v_j - Σ_X g_XY l_jX``, shape (m_Y, channels, T).

    Examples
    --------
    Cells share a drive ``s`` (the network's sum is mostly its response) and have private
    input ``p_j``; they answer the shared one with gain 0.6 and their own with 1.0.  The
    per-cell fit gives a mixture; the network's gain is the shared one:

    >>> rng = np.random.default_rng(0)
    >>> s, p = rng.standard_normal(4000), rng.standard_normal((16, 4000))
    >>> lin = (s + p)[:, None, None, :]
    >>> v = (0.6 * s + p)[:, None, :]
    >>> g, _ = network_fit({"E": v}, {"E": lin}, {"E": 10000})
    >>> from xkernels.errors.nonlinearity import fit
    >>> round(float(g[0, 0, 0]), 2), round(float(fit(v, lin)[0][0, 0]), 2)
    (0.6, 0.8)
    """
    posts = list(simulated)
    n_x = next(iter(linear.values())).shape[1]
    n_ch = next(iter(simulated.values())).shape[1]
    n_y = len(posts)
    m = {y: simulated[y].shape[0] for y in posts}
    own = {y: sizes[y] / m[y] for y in posts}
    pair = {y: sizes[y] * (sizes[y] - 1) / (m[y] * (m[y] - 1)) for y in posts}
    sum_l = {y: linear[y].sum(axis=0) for y in posts}                  # (X, ch, T)
    sum_v = {y: simulated[y].sum(axis=0) for y in posts}               # (ch, T)
    gain = np.ones((n_x, n_y, n_ch))
    for c in range(n_ch):
        # Gram blocks: the cells' own (per Y) and the sums' (per Y, Y')
        P = n_x * n_y
        H_own, q_own = np.zeros((P, P)), np.zeros(P)
        H_sum, q_sum = np.zeros((P, P)), np.zeros(P)
        for a, y in enumerate(posts):
            ia = slice(a * n_x, (a + 1) * n_x)
            lj = linear[y][:, :, c]
            H_own[ia, ia] = np.einsum("jxt,jzt->xz", lj, lj)
            q_own[ia] = np.einsum("jxt,jt->x", lj, simulated[y][:, c])
            for b, y2 in enumerate(posts):
                w = pair[y] if y == y2 else own[y] * own[y2]
                H_sum[ia, b * n_x:(b + 1) * n_x] = w * (sum_l[y][:, c] @ sum_l[y2][:, c].T)
                q_sum[ia] += w * (sum_l[y][:, c] @ sum_v[y2][c])
        d = np.repeat([own[y] - pair[y] for y in posts], n_x)
        start = _minimum(H_own, q_own)                          # the per-cell gains
        H, q = H_sum + d[:, None] * H_own, q_sum + d * q_own
        curvature = float(start @ H @ start)
        alpha = float(q @ start) / curvature if curvature > 0 else 1.0
        gain[:, :, c] = (alpha * start).reshape(n_y, n_x).T
    residuals = {y: simulated[y] - np.einsum("xc,jxct->jct", gain[:, a], linear[y])
                 for a, y in enumerate(posts)}
    return gain, residuals


def _minimum(H: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The minimiser of ``g H g - 2 q g`` for a positive semi-definite ``H`` (a Gram
    matrix; 1 where a parameter has no signal)."""
    scale = np.sqrt(np.abs(np.diag(H)))
    live = scale > 1e-12 * max(float(scale.max()), 1e-300)
    theta = np.ones(q.size)
    if live.any():
        sub = H[np.ix_(live, live)] / np.outer(scale[live], scale[live])
        theta[live] = np.linalg.lstsq(sub, q[live] / scale[live], rcond=1e-10)[0] / scale[live]
    return theta

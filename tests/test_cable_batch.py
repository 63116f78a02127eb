"""xkernels.engine.cable_batch: many membranes of one cable at once (issue 23, item 4).

Pure arrays, no NEURON: the batched modes (LAPACK on the tridiagonal matrix of an
unbranched cable, dense for a branched one) and the kernels from the modes
(delays and window folded into the modes) must equal LinearCable, the single-membrane
solver the equivalence tests tie to NEURON, to rounding -- for shared and per-sample
delay filters, filters with taps at negative delays (the response cut at n_after),
causal-only lags, many channels, and poles near the synapse's bases.
"""

from __future__ import annotations

import numpy as np
import pytest

from xkernels.engine.cable import Cable, LinearCable
from xkernels.engine.cable_batch import batch_kernels, batch_modes, path_order

DT = 0.0625


def _cable(edges: list[tuple[int, int]], nseg: int, seed: int) -> Cable:
    """A cable of ``nseg`` segments linked by ``edges`` (random areas, conductances)."""
    rng = np.random.default_rng(seed)
    A = np.zeros((nseg, nseg))
    for i, j in edges:
        g = rng.uniform(0.005, 0.05)
        A[i, j] = A[j, i] = -g
    A[np.diag_indices(nseg)] = -A.sum(axis=1)
    return Cable(area=rng.uniform(200.0, 3000.0, nseg), cm=np.ones(nseg),
                 g=rng.uniform(2e-5, 1e-4, nseg), e=np.full(nseg, -65.0), axial=A)


def _shuffled_path(nseg: int, seed: int) -> Cable:
    order = np.random.default_rng(seed).permutation(nseg)
    return _cable([(int(order[k]), int(order[k + 1])) for k in range(nseg - 1)], nseg, seed)


def _branched(seed: int) -> Cable:
    # a soma (0) with three dendrites of 4 segments
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8),
             (0, 9), (9, 10), (10, 11), (11, 12)]
    return _cable(edges, 13, seed)


def test_path_order_makes_an_unbranched_cable_tridiagonal():
    cable = _shuffled_path(11, 3)
    order = path_order(cable.axial)
    P = cable.axial[np.ix_(order, order)]
    assert sorted(order.tolist()) == list(range(11))
    assert np.array_equal(P, np.triu(np.tril(P, 1), -1))
    assert path_order(_branched(0).axial) is None
    ring = _cable([(k, (k + 1) % 5) for k in range(5)], 5, 1)
    assert path_order(ring.axial) is None


@pytest.mark.parametrize("make", [lambda: _shuffled_path(17, 5), lambda: _branched(2)],
                         ids=["unbranched", "branched"])
def test_batch_modes_equal_linear_cable(make):
    cable = make()
    rng = np.random.default_rng(7)
    g = cable.g * rng.uniform(1.0, 4.0, (3, cable.nseg))
    rho, inward = batch_modes(cable, DT, g)
    for k in range(3):
        single = LinearCable(Cable(cable.area, cable.cm, g[k], cable.e, cable.axial), DT)
        np.testing.assert_allclose(rho[k], single.poles, rtol=1e-13)
        # K^-1/2 Q diag(ρ) Qᵀ K^-1/2 is the inverse of NEURON's step matrix K + G + A
        step = np.diag(cable.capacitance / DT + g[k] * cable.area * 1e-2) + cable.axial
        inverse = np.linalg.inv(step)
        np.testing.assert_allclose(inward[k] @ np.diag(rho[k]) @ inward[k].T, inverse,
                                   rtol=0, atol=1e-12 * np.abs(inverse).max())
    with pytest.raises(ValueError, match="membrane 1.*unstable"):
        batch_modes(cable, DT, np.stack([cable.g, -10.0 * cable.g]))


def _reference(cable, g, probe, weights, taus, filters, centre, lags, n_after):
    """LinearCable.kernels per sample: (n, V, C, lags)."""
    out = []
    for k in range(g.shape[0]):
        single = LinearCable(Cable(cable.area, cable.cm, g[k], cable.e, cable.axial), DT)
        out.append(single.kernels(probe, list(weights[k]), list(taus[k]), list(filters[k]),
                                  centre, lags, n_after))
    return np.stack(out)


def _taps(centre: int, rng, shift: float = 0.0) -> np.ndarray:
    times = (np.arange(2 * centre + 1) - centre) * DT
    h = np.exp(-0.5 * ((times - rng.uniform(0.8, 2.0) + shift) / rng.uniform(0.2, 0.6)) ** 2)
    h[times < 0.0 if shift == 0.0 else times < -3.0] = 0.0
    return h / h.sum()


@pytest.mark.parametrize("case", ["shared", "per-sample", "negative-delays", "causal-lags"])
def test_batch_kernels_equal_linear_cable(case):
    cable, n, V, centre = _shuffled_path(13, 11), 4, 2, 160
    rng = np.random.default_rng(13)
    g = cable.g * rng.uniform(1.0, 3.0, (n, cable.nseg))
    probe = rng.normal(size=(5, cable.nseg))                         # 5 channels
    weights = rng.normal(size=(n, V, cable.nseg))
    taus = np.stack([rng.uniform(0.1, 0.5, (n, V)), rng.uniform(1.0, 9.0, (n, V))], axis=-1)
    if case in ("shared", "causal-lags"):
        shared = [_taps(centre, rng) for _ in range(V)]
        filters = [[shared[v] for v in range(V)] for _ in range(n)]
    else:
        filters = [[_taps(centre, rng, 2.5 if case == "negative-delays" else 0.0)
                    for _ in range(V)] for _ in range(n)]
    lags = np.arange(1, centre + 1) if case == "causal-lags" else np.arange(-centre, centre + 1)
    rho, inward = batch_modes(cable, DT, g)
    R = np.matmul(-(probe @ cable.axial), inward)                    # (n, C, m)
    modal = np.einsum("nvs,nsm->nvm", weights, inward)
    coefficients = R[:, None] * modal[:, :, None, :]                 # (n, V, C, m)
    flat = [h for row in filters for h in row]
    out = batch_kernels(rho, coefficients, taus[..., 0], taus[..., 1], flat, centre, lags,
                        DT, centre)
    ref = _reference(cable, g, probe, weights, taus, filters, centre, lags, centre)
    assert out.shape == ref.shape
    peak = np.abs(ref).max(axis=-1, keepdims=True)
    assert (np.abs(out - ref) / peak).max() < 1e-11
    if case == "negative-delays":  # mass at negative delays: the cut response's path
        assert all(h[:centre].sum() > 0.1 for h in flat)


def test_batch_kernels_with_a_pole_at_a_synaptic_base():
    """A pole equal to exp(-dt / tau2) (where closed forms divide by zero) and a
    one-mode, one-tap volley against the recursion stepped by hand."""
    dt, tau1, tau2, n_after = 0.1, 0.3, 2.0, 60
    rho = np.array([[np.exp(-dt / tau2), 0.5]])
    coefficients = np.array([[[[1.0, -0.3]]]])
    h = np.zeros(2 * n_after + 1)
    h[n_after + 3] = 1.0                                             # 3 steps' delay
    lags = np.arange(-n_after, n_after + 1)
    out = batch_kernels(rho, coefficients, np.array([[tau1]]), np.array([[tau2]]), [h],
                        n_after, lags, dt, n_after)[0, 0, 0]
    t_peak = np.log(tau2 / tau1) * tau1 * tau2 / (tau2 - tau1)
    f = 1.0 / (np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1))
    y, x = np.zeros(n_after + 1), np.zeros(2)
    for t in range(1, n_after + 1):  # mode: x[t] = ρ (x[t-1] - u[t-1]), u[k] = f(a1^k - a2^k)
        k = t - 1
        x = rho[0] * (x - f * (np.exp(-dt * k / tau1) - np.exp(-dt * k / tau2)))
        y[t] = (coefficients[0, 0, 0] * x).sum()
    expected = np.zeros(lags.size)
    expected[n_after + 3:] = y[: n_after + 1 - 3]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13 * np.abs(expected).max())

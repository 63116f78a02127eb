"""Error estimates (issue 24): covariances, ensembles, the formula, bad input.

Validation against the hybrid ground truth (every cell simulated) is heavy and lives in
benchmarks/error_estimate.py (BENCHMARKS.md); here: the formula against a direct
simulation of its own model, the ensemble's mean against the engine's depth-averaged
kernels, the covariances against dense computations, and every bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.signal import fftconvolve

import xkernels
from xkernels.errors.covariance import neuron_pairs, spike_covariances, summed_covariance
from xkernels.errors.estimate import _summed_autocorrelation, lagged
from xkernels.hybrid import correlated_poisson
from xkernels.signals import Spikes
from xkernels.spec import Network

DT = 2.0 ** -4


def small_network(n_e: int = 40, n_i: int = 10, conductance_based: bool = False) -> Network:
    """The README network scaled down; current-based: amplitudes w (E - (-65 mV))."""
    d = Network.example().to_dict()
    for p, n in zip(d["populations"], (n_e, n_i)):
        p["size"] = n
        if not conductance_based:
            p["n_ext"] = 0.0
    for c in d["connections"]:
        c["probability"] = 0.2
        if not conductance_based:
            c["synapse"]["weight"] *= c["synapse"]["e"] + 65.0
            c["synapse"]["syntype"] = "Exp2SynI"
    d["conductance_based"] = conductance_based
    return Network.from_dict(d)


CDM = {"cdm": xkernels.CurrentDipoleMomentZ()}


def spikes_for(net: Network, t_stop: float = 1000.0, seed: int = 1, **kw) -> Spikes:
    return correlated_poisson({p.name: p.size for p in net.populations},
                              {p.name: p.rate for p in net.populations}, t_stop=t_stop,
                              seed=seed, **kw)


# --------------------------------------------------------------------------------------
# covariances: against dense computations
# --------------------------------------------------------------------------------------
def test_neuron_pairs_match_dense_products():
    rng = np.random.default_rng(2)
    trains = [np.sort(rng.uniform(0, 200.0, rng.poisson(40))) for _ in range(5)]
    s = Spikes({"E": trains})
    times, offsets = s.arrays("E")
    pairs, counts = neuron_pairs(times, offsets, 10.0, 0.5, 300, 7)
    dense = np.stack([np.bincount(np.floor((t[(t >= 10) & (t < 160)] - 10) / 0.5)
                                  .astype(int), minlength=300) for t in trains]).astype(float)
    want = [sum((x[:300 - k] * x[k:]).sum() for x in dense) for k in range(8)]
    np.testing.assert_allclose(pairs, want)
    np.testing.assert_array_equal(counts, dense.sum(axis=1))


def test_summed_covariance_is_blockwise_exact():
    """Blocks of any size give the dense lagged products of mean-removed counts."""
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, 500.0, 300)), np.sort(rng.uniform(0, 500.0, 200))]
    n_bins, n = 1000, 9
    dense = np.stack([np.bincount(np.floor(t / 0.5).astype(int), minlength=n_bins)
                      for t in trains]).astype(float)
    dense -= dense.mean(axis=1, keepdims=True)
    lags = np.arange(-n, n + 1)
    want = np.array([[[sum(dense[p, t] * dense[q, t + k] for t in range(n_bins)
                           if 0 <= t + k < n_bins) / (n_bins - abs(k)) for k in lags]
                      for q in range(2)] for p in range(2)])
    for block in (7, 64, 5000):
        got = summed_covariance(trains, 0.0, 0.5, n_bins, n, block=block)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_covariance_blocks_on_a_dask_cluster_give_the_same_numbers():
    from dask.distributed import Client

    rng = np.random.default_rng(7)
    trains = [np.sort(rng.uniform(0, 5000.0, 3000)), np.sort(rng.uniform(0, 5000.0, 900))]
    here = summed_covariance(trains, 0.0, 0.5, 10000, 20, block=1000)
    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        there = summed_covariance(trains, 0.0, 0.5, 10000, 20, block=1000, client=client)
    np.testing.assert_array_equal(here, there)


def test_heterogeneity_formula_equals_simulated_variance():
    """Σ_τ (a - c)(τ) Σ_i lagged(δh_i, δh_i) = Var(Σ_i s_i ∗ δh_i), correlated spikes."""
    rng = np.random.default_rng(0)
    N, n = 30, 40
    spikes = correlated_poisson({"E": N}, {"E": 20.0}, t_stop=60000.0, seed=4, dt=1.0,
                                fluctuation=0.8, tau_c=5.0)
    h = rng.standard_normal((N, 2, n + 1)) * np.exp(-np.arange(n + 1) / 8.0)
    d = h - h.mean(axis=0)
    nb = 60000
    times, offsets = spikes.arrays("E")
    signal = np.zeros((2, nb + n))
    for i in range(N):
        s = np.bincount(times[offsets[i]:offsets[i + 1]].astype(int), minlength=nb)
        signal += fftconvolve(s[None, :].astype(float), d[i], axes=-1)
    direct = signal[:, n:nb].var(axis=-1)
    cov = spike_covariances(spikes, {"E": N}, ["E"], t_start=0.0, dt=1.0, n_bins=nb, n=n)
    formula = (N - 1) * (_summed_autocorrelation(d) / (N - 1)
                         * cov.auto_minus_cross[0]).sum(axis=-1)
    np.testing.assert_allclose(direct, formula, rtol=0.02)
    # the population counts' covariance is the dense one (every neuron given)
    counts = np.bincount(times.astype(int), minlength=nb).astype(float)
    counts -= counts.mean()
    np.testing.assert_allclose(cov.population[0, 0, n], counts.var(), rtol=0.01)


def test_a_sample_of_neurons_stands_for_the_population():
    """From half of the neurons, the population counts' covariance is extrapolated to
    all of them: N a + N (N - 1) c."""
    spikes = correlated_poisson({"E": 200}, {"E": 20.0}, t_stop=20000.0, seed=8, dt=1.0,
                                fluctuation=0.5, tau_c=5.0)
    full = spike_covariances(spikes, {"E": 200}, ["E"], t_start=0.0, dt=1.0, n_bins=20000,
                             n=10)
    half = Spikes({"E": list(spikes["E"])[:100]})
    sampled = spike_covariances(half, {"E": 200}, ["E"], t_start=0.0, dt=1.0, n_bins=20000,
                                n=10)
    assert sampled.neurons == {"E": 100}
    np.testing.assert_allclose(sampled.population[0, 0], full.population[0, 0], rtol=0.05,
                               atol=0.03 * full.population[0, 0].max())
    np.testing.assert_allclose(sampled.auto_minus_cross, full.auto_minus_cross, rtol=0.1,
                               atol=0.01 * full.auto_minus_cross.max())


def test_lagged_is_the_direct_sum():
    rng = np.random.default_rng(5)
    u, v = rng.standard_normal(6), rng.standard_normal(6)
    want = [sum(u[k + t] * v[k] for k in range(6) if 0 <= k + t < 6) for t in range(-5, 6)]
    np.testing.assert_allclose(lagged(u, v), want, atol=1e-12)


# --------------------------------------------------------------------------------------
# the ensemble
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def estimate_small():
    net = small_network()
    spikes = spikes_for(net, fluctuation=0.5)
    est = xkernels.error_estimate(net, CDM, spikes, t_stop=1000.0, n_cells=20, seed=3,
                                  tau=10.0, dt=DT, g_eff=False)
    return net, spikes, est


def test_estimate_is_seeded_and_its_parts_add_up(estimate_small):
    net, spikes, est = estimate_small
    again = xkernels.error_estimate(net, CDM, spikes, t_stop=1000.0, n_cells=20, seed=3,
                                    tau=10.0, dt=DT, g_eff=False)
    xr_equal = all(np.array_equal(est[k].values, again[k].values) for k in est.data_vars)
    assert xr_equal
    other = xkernels.error_estimate(net, CDM, spikes, t_stop=1000.0, n_cells=20, seed=4,
                                    tau=10.0, dt=DT, g_eff=False)
    assert not np.array_equal(other["heterogeneity"].values, est["heterogeneity"].values)
    np.testing.assert_allclose(est["error_std"] ** 2,
                               est["heterogeneity"] ** 2 + est["bias"] ** 2)
    np.testing.assert_allclose(est["relative_error"], est["error_std"] / est["signal_std"])
    assert est["heterogeneity_pathway"].dims == ("X", "Y", "probe_channel")
    assert 0.0 < est["relative_error"].item() < 1.0


def test_ensemble_mean_is_the_depth_averaged_kernel():
    """Every neuron sampled: the mean single-cell kernel is the depth-consistent kernel
    (a different computation: Gauss-Hermite depth nodes, expected synapse counts, the
    delay density) to sampling error."""
    from xkernels.engine import prepare_kernels
    from xkernels.errors.ensemble import single_cell_kernels

    net = small_network(80, 20)
    options = xkernels.KernelOptions(tau=10.0, dt=DT, averaging="depth", g_eff=False)
    plan = prepare_kernels(net, CDM, options)
    ens = single_cell_kernels(net, plan.probes, plan, n_cells={"E": 80, "I": 20}, seed=0)
    H = xkernels.compute_kernels(net, CDM, options).sel(tau=slice(0, None))
    for x in ("E", "I"):
        mean = ens.kernels[x].mean(axis=0)[:, 0]                      # (Y, n + 1)
        h = ens.kernels[x][:, :, 0]
        sem = h.std(axis=0) / np.sqrt(h.shape[0])
        want = H.sel(X=x, probe_channel="cdm:z").transpose("Y", "tau").values
        # the peak within 4 standard errors and 6 %
        for iy in range(2):
            k = np.argmax(abs(want[iy]))
            assert abs(mean[iy, k] - want[iy, k]) < 4 * sem[iy, k] + 0.06 * abs(want[iy, k])


# --------------------------------------------------------------------------------------
# bad input: clear errors before any work
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda s: {**s, "X": s["E"]}, "spikes has population 'X', which the network lacks"),
    (lambda s: {"E": s["E"]}, r"spikes lacks presynaptic populations \['I'\]"),
    (lambda s: {"E": s["E"], "I": s["I"][:1]}, "needs at least 2 per population"),
])
def test_bad_spikes(change, message):
    net = small_network()
    spikes = spikes_for(net, t_stop=300.0)
    trains = {k: list(spikes[k]) for k in spikes}
    with pytest.raises(ValueError, match=message):
        xkernels.error_estimate(net, CDM, change(trains), tau=10.0, dt=DT)


@pytest.mark.parametrize("window, message", [
    ({"t_start": 100.0, "t_stop": 100.0}, "is empty"),
    ({"t_start": 50.0, "t_stop": 60.0}, r"shorter than the kernels.*longer than 20.0 ms"),
])
def test_bad_window(window, message):
    net = small_network()
    with pytest.raises(ValueError, match=message):
        xkernels.error_estimate(net, CDM, spikes_for(net, t_stop=300.0), tau=10.0, dt=DT,
                                **window)


def test_no_spikes_and_bad_n_cells():
    net = small_network()
    empty = {"E": [[]] * 40, "I": [[]] * 10}
    with pytest.raises(ValueError, match="no spike at all"):
        xkernels.error_estimate(net, CDM, empty, tau=10.0, dt=DT)
    with pytest.raises(ValueError, match="no spike lies in the window"):
        xkernels.error_estimate(net, CDM, empty, t_stop=100.0, tau=10.0, dt=DT)
    spikes = spikes_for(net, t_stop=300.0)
    with pytest.raises(ValueError, match="n_cells must be an integer >= 2"):
        xkernels.error_estimate(net, CDM, spikes, n_cells=1, tau=10.0, dt=DT)
    with pytest.raises(ValueError, match="did you mean 'E'"):
        xkernels.error_estimate(net, CDM, spikes, n_cells={"EE": 5}, tau=10.0, dt=DT)


def test_validate_reports_the_estimate_beside_the_measured_error():
    net = small_network(10, 4)
    spikes = spikes_for(net, t_stop=250.0, fluctuation=0.5)
    est = xkernels.error_estimate(net, CDM, spikes, t_start=50.0, t_stop=250.0, n_cells=10,
                                  tau=10.0, dt=DT)
    ds = xkernels.validate(net, spikes, CDM, t_stop=250.0, transient=50.0, client="sync",
                           progress=False, tau=10.0, estimate=est)
    np.testing.assert_array_equal(ds["estimated_relative_error"].values,
                                  est["relative_error"].values)
    assert 0.0 < ds["relative_error"].item() < 2.0
    with pytest.raises(TypeError, match="estimate must be the Dataset of"):
        xkernels.validate(net, spikes, CDM, t_stop=250.0, client="sync", tau=10.0,
                          estimate=est["relative_error"])


def test_error_band_is_drawn_around_the_signals():
    import matplotlib

    matplotlib.use("Agg")
    net = small_network(20, 5)
    spikes = spikes_for(net, t_stop=400.0)
    H = xkernels.compute_kernels(net, CDM, tau=10.0, dt=DT, g_eff=False)
    rates = xkernels.rates_from_spikes({x: spikes.population_times(x) for x in "EI"},
                                       t_start=0.0, t_stop=400.0, dt=DT)
    signals = rates.xk.convolve(H)
    err = xr.DataArray([5.0], dims="probe_channel", coords={"probe_channel": ["cdm:z"]})
    fig = signals.xk.plot(error=xr.Dataset({"error_std": err}), time_lim=(0, 100))
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    trace = np.asarray(fig.axes[0].lines[0].get_ydata())
    drawn = signals.sel(time=slice(0, 100)).compute().values[0]
    factor = trace.max() / (drawn - drawn.mean()).max()          # the axis' unit scaling
    # the band spans ± 5 nA µm around the (mean-removed) trace
    np.testing.assert_allclose([band.max() - trace.max(), trace.min() - band.min()],
                               [5.0 * factor] * 2, rtol=1e-9)
    with pytest.raises(ValueError, match="no value for channels"):
        signals.xk.plot(error=err.assign_coords(probe_channel=["lfp:0"]))
    with pytest.raises(ValueError, match="kind='traces'"):
        signals.xk.plot(error=err, kind="image")


def test_cli_error(tmp_path, capsys):
    """``xkernels error SPEC SPIKES -o OUT.zarr`` writes the estimate of the Python API."""
    import json

    from xkernels.app.cli import main
    from xkernels.probes import probe_definition

    net = small_network(10, 4)
    spec = {"network": net.to_dict(),
            "probes": {k: probe_definition(v) for k, v in CDM.items()},
            "options": {"tau": 10.0, "dt": DT, "g_eff": False}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    spikes = spikes_for(net, t_stop=400.0, fluctuation=0.5)
    spikes.save(tmp_path / "spikes.npz", t_stop=400.0)
    out = tmp_path / "out.zarr"
    argv = ["error", str(tmp_path / "spec.json"), str(tmp_path / "spikes.npz"), "-o",
            str(out), "--cells", "10", "--seed", "2"]
    assert main(argv) == 0
    assert "cdm:z: relative error" in capsys.readouterr().err
    ds = xr.open_zarr(out)
    direct = xkernels.error_estimate(net, CDM, spikes, t_stop=400.0, n_cells=10, seed=2,
                                     tau=10.0, dt=DT, g_eff=False)
    np.testing.assert_allclose(ds["relative_error"].values, direct["relative_error"].values,
                               rtol=1e-12)
    # bad input: a clear one-line message, exit status 1, nothing written
    bad = tmp_path / "bad.zarr"
    argv[4] = str(bad)
    argv += ["--t-start", "390"]
    assert main(argv) == 1
    assert "shorter than the kernels" in capsys.readouterr().err
    assert not bad.exists()


# --------------------------------------------------------------------------------------
# the nonlinearity of conductance-based synapses (xkernels.errors.nonlinearity)
# --------------------------------------------------------------------------------------
def _sample(net: Network, spikes: Spikes, post: str, cells: np.ndarray, options, *,
            seed: int, t_stop: float, ext: str):
    """The nonlinearity's cells of ``post``: simulated currents, linear predictions,
    probe matrices (from time 0)."""
    from xkernels.engine import prepare_kernels
    from xkernels.engine.cells import LinearisedCell
    from xkernels.errors import nonlinearity as nl
    from xkernels.errors.ensemble import segment_responses

    plan = prepare_kernels(net, CDM, options.resolve(net))
    arrays = {x: spikes.arrays(x) for x in spikes}
    pop = net.population(post)
    with LinearisedCell(pop.cell, pop, DT, -65.0) as cell:
        origin = cell.geometry
    n_steps = int(round(t_stop / DT))
    segments = nl.wired_segments(net, post, cells, origin, seed=seed, spikes=arrays,
                                 t_stop=t_stop, ext=ext)
    return nl.simulate_sample(net, plan.probes, plan, arrays, post, cells, seed=seed,
                              n_steps=n_steps, ext=ext, segments=segments,
                              responses=segment_responses(net, post, plan, segments))


def test_nonlinearity_cells_are_the_ground_truth_cells():
    """Every cell of a small conductance-based network through the nonlinearity's
    simulation sums to the hybrid ground truth (an independent run: its own batches,
    wiring and reduction through the probes)."""
    net = small_network(12, 4, conductance_based=True)
    spikes = spikes_for(net, t_stop=120.0, fluctuation=0.3)
    truth = xkernels.hybrid.simulate(net, spikes, CDM, t_stop=120.0, dt=DT, seed=5,
                                     client="sync", progress=False, ext="mean")
    options = xkernels.KernelOptions(tau=10.0, dt=DT, g_eff=True,
                                     operating_point="mean-input")
    for post in ("E", "I"):
        cells = np.arange(net.population(post).size)
        v, _, M = _sample(net, spikes, post, cells, options, seed=5, t_stop=120.0,
                          ext="mean")
        total = np.einsum("jcs,jst->ct", M, v)
        want = truth.sel(Y=post).values
        np.testing.assert_allclose(total, want, rtol=1e-9, atol=1e-9 * abs(want).max())


def test_linear_prediction_is_neuron_for_current_synapses():
    """Current-based synapses are linear: each cell's superposed unit responses equal
    NEURON's simulation of it (the kernels long enough to hold the responses)."""
    net = small_network(12, 4)
    spikes = spikes_for(net, t_stop=200.0)
    options = xkernels.KernelOptions(tau=100.0, dt=DT, g_eff=False, averaging="reference")
    v, lin, _ = _sample(net, spikes, "E", np.array([0, 3]), options, seed=2, t_stop=200.0,
                        ext="none")
    np.testing.assert_allclose(lin.sum(axis=1), v, atol=1e-4 * abs(v).max())


def test_fit_and_network_residual():
    from xkernels.errors.nonlinearity import fit, network_residual

    rng = np.random.default_rng(3)
    common = rng.standard_normal((1, 1, 100000))
    r = 0.5 * common + rng.standard_normal((4, 1, 100000))   # correlation 0.2 between cells
    # Var(Σ_1^N r_j) = N * 1.25 + N (N - 1) * 0.25
    got = network_residual({"E": r - r.mean(axis=-1, keepdims=True)}, {"E": 50})[0]
    assert abs(got / (50 * 1.25 + 50 * 49 * 0.25) - 1) < 0.1
    lin = rng.standard_normal((3, 2, 2, 5000))
    g, res = fit(0.8 * lin[:, 0] + 1.2 * lin[:, 1] + 0.01 * rng.standard_normal((3, 2, 5000)),
                 lin)
    np.testing.assert_allclose(g, [[0.8, 0.8], [1.2, 1.2]], atol=1e-3)


def test_network_gains_give_the_network_residual():
    """N = 1000 cells answer a shared drive with gain 0.6 (plus a shared nonlinear part)
    and their private input with gain 1: from 16 of them, network_fit finds the shared
    gain and the residual of the sum of all 1000 (computed here directly); the per-cell
    gains mix both and their residual estimate is several times the network's."""
    from xkernels.errors.network_gain import network_fit
    from xkernels.errors.nonlinearity import fit, network_residual

    rng = np.random.default_rng(5)
    N, m, T = 1000, 16, 3000
    s = rng.standard_normal(T)
    shared = 0.05 * (s ** 2 - 1)                             # common, not linear in s
    p = rng.standard_normal((N, T))
    lin = (s + p)[:, None, None, :]                          # (cells, X, ch, T)
    v = (0.6 * s + shared + p + 0.3 * rng.standard_normal((N, T)))[:, None, :]
    lin, v = lin - lin.mean(axis=-1, keepdims=True), v - v.mean(axis=-1, keepdims=True)
    g, res = network_fit({"E": v[:m]}, {"E": lin[:m]}, {"E": N})
    assert abs(g[0, 0, 0] - 0.6) < 0.02
    truth = (v - g[0, 0, 0] * lin[:, 0]).sum(axis=0).var()
    assert abs(network_residual(res, {"E": N})[0] / truth - 1) < 0.3
    g_cell, res_cell = fit(v[:m], lin[:m])
    assert g_cell[0, 0] > 0.75
    assert network_residual({"E": res_cell}, {"E": N})[0] > 5 * truth


@pytest.fixture(scope="module")
def estimate_conductance():
    net = small_network(40, 10, conductance_based=True)
    spikes = spikes_for(net, t_stop=600.0, fluctuation=0.3)
    kw = dict(t_start=50.0, t_stop=600.0, n_cells=10, tau=10.0, dt=DT, nonlinear_cells=3)
    return net, spikes, kw, xkernels.error_estimate(net, CDM, spikes, seed=3, **kw)


def test_conductance_estimate_measures_the_nonlinearity(estimate_conductance):
    net, spikes, kw, est = estimate_conductance
    # inhibitory conductances are weaker than linearised: gains below 1
    assert float(est["gain"].sel(X="I").max()) < 0.95
    assert float(est["nonlinearity"].item()) > 0.0
    np.testing.assert_allclose(est["error_std"] ** 2, est["heterogeneity"] ** 2
                               + est["bias"] ** 2 + est["nonlinearity"] ** 2)
    assert est.attrs["nonlinear_cells"] == '{"E": 3, "I": 3}'
    again = xkernels.error_estimate(net, CDM, spikes, seed=3, **kw)
    assert all(np.array_equal(est[k].values, again[k].values) for k in est.data_vars)
    other = xkernels.error_estimate(net, CDM, spikes, seed=4, **kw)
    assert not np.array_equal(other["gain"].values, est["gain"].values)
    linear = xkernels.error_estimate(net, CDM, spikes, seed=3, **{**kw, "nonlinear_cells": 0})
    assert float(linear["nonlinearity"].item()) == 0.0
    assert (linear["gain"] == 1.0).all()


def test_current_based_networks_simulate_nothing(estimate_small):
    _, _, est = estimate_small
    assert est.attrs["nonlinear_cells"] == '{"E": 0, "I": 0}'
    assert (est["gain"] == 1.0).all() and float(est["nonlinearity"].item()) == 0.0


@pytest.mark.parametrize("value, message", [
    (1, r"nonlinear_cells must be 0 \(no nonlinearity measured\) or in \[2, 40\].*got 1"),
    ({"I": 11}, r"nonlinear_cells\['I'\] must be 0 .* or in \[2, 10\].*got 11"),
    ({"II": 3}, "did you mean 'I'"),
])
def test_bad_nonlinear_cells(value, message):
    net = small_network(40, 10, conductance_based=True)
    with pytest.raises(ValueError, match=message):
        xkernels.error_estimate(net, CDM, spikes_for(net, t_stop=300.0), tau=10.0, dt=DT,
                                nonlinear_cells=value)


def test_a_spike_sample_drives_every_neuron_of_the_nonlinearity():
    from xkernels.errors.nonlinearity import every_neuron

    spikes = Spikes({"E": [[1.0, 2.0], [3.0], []], "I": [[4.0], [5.0]]})
    full = every_neuron(spikes, {"E": 50, "I": 2}, seed=0)
    times, offsets = full.arrays("E")
    assert offsets.size - 1 == 50
    trains = {tuple(times[offsets[k]:offsets[k + 1]]) for k in range(50)}
    assert trains == {(1.0, 2.0), (3.0,), ()}           # only the given trains, repeated
    assert full.arrays("I")[0].tolist() == [4.0, 5.0]   # a full population is kept
    again = every_neuron(spikes, {"E": 50, "I": 2}, seed=0)
    assert np.array_equal(again.arrays("E")[0], times)


# --------------------------------------------------------------------------------------
# sampling noise of the estimate's own ingredients (issue 24, ensemble-seed robustness)
# --------------------------------------------------------------------------------------
def _synthetic_covariances(n: int, N: int, a: float, c: float):
    """Spike covariances of P populations of N neurons each: white auto-covariance ``a``,
    a cross-covariance ``c`` decaying over the lags, no covariance between populations."""
    from xkernels.errors.covariance import SpikeCovariances

    lags = np.arange(-n, n + 1)
    shape = np.exp(-abs(lags) / 3.0)
    amc = np.where(lags == 0, a, 0.0) - c * shape
    pop = np.zeros((2, 2, lags.size))
    for p in range(2):
        pop[p, p] = N * np.where(lags == 0, a, 0.0) + N * (N - 1) * c * shape
    return SpikeCovariances(populations=("E", "I"), lags=lags,
                            auto_minus_cross=np.stack([amc, amc]), population=pop,
                            neurons={"E": N, "I": N}, n_bins=10 ** 6)


def test_bias_is_the_expectation_over_realisations_of_the_network():
    """The network's mean single-cell kernel is itself an average of N_X neurons: the
    estimate from an ensemble of m neurons is the error's expectation over realisations
    of the network (C_h / N_X added, C_h / m removed), checked by drawing both."""
    from xkernels.errors.ensemble import Ensemble
    from xkernels.errors.estimate import variances

    rng = np.random.default_rng(11)
    n, N, m = 6, 8, 40
    cov = _synthetic_covariances(n, N, a=1.0, c=0.3)        # strongly correlated spikes
    shape = np.exp(-np.arange(n + 1) / 2.0)
    mu = np.stack([1.0 * shape, -0.6 * shape])[:, None, None, :]   # (X, Y=1, ch, n + 1)
    used = np.stack([0.7 * shape, -0.5 * shape])[:, None, None, :]

    def draw(k):
        return {x: mu[ix][None] + rng.standard_normal((k, 1, 1, n + 1)) * shape
                for ix, x in enumerate(("E", "I"))}

    def total(kernels):
        ens = Ensemble(kernels=kernels, neurons={}, Y=("E",), pool_kernels={},
                       pool_scale={}, pool_size={"E": 0})
        v = variances(ens, cov, used, {"E": N, "I": N})
        return v["heterogeneity"][0] + v["bias"][0]

    # a realisation's error: the formula with its own N kernels is exact (the mean is
    # the network's: noise 1/N - 1/N = 0); an estimate: m sampled kernels
    truth = np.mean([total(draw(N)) for _ in range(3000)])
    estimate = np.mean([total(draw(m)) for _ in range(3000)])
    assert abs(estimate / truth - 1) < 0.02
    # without the network's own mean noise the estimate falls short by far more
    missing = sum((lagged(shape, shape) * (1.0 / N) * cov.population[p, p]).sum()
                  for p in range(2))
    assert missing / truth > 0.08


def test_gain_noise_removes_what_uncertain_gains_add():
    """Every quadratic form of gain-scaled kernels, averaged over gains with a given
    covariance (sigma points: exact), minus gain_noise, is that of the true gains."""
    from xkernels.errors.ensemble import Ensemble
    from xkernels.errors.estimate import gain_noise, scaled, variances

    rng = np.random.default_rng(4)
    n, N, m = 5, 30, 12
    cov = _synthetic_covariances(n, N, a=1.0, c=0.1)
    kernels = {x: rng.standard_normal((m, 2, 1, n + 1)) + 0.5 for x in ("E", "I")}
    ens = Ensemble(kernels=kernels, neurons={}, Y=("E", "I"), pool_kernels={},
                   pool_scale={}, pool_size={"E": 0, "I": 0})
    used = np.zeros((2, 2, 1, n + 1))
    sizes = {"E": N, "I": N}
    g = np.array([[0.9, 1.1], [0.8, 0.7]])[..., None]               # (X, Y, ch)
    gain_cov = np.zeros((2, 2, 2, 1))
    points = []
    for iy in range(2):                  # independent gains per Y, correlated across X
        C = np.array([[0.04, 0.015], [0.015, 0.02]]) * (1 + iy)
        gain_cov[:, :, iy, 0] = C
        w, V = np.linalg.eigh(C)
        for k in range(2):
            for sign in (1, -1):
                d = np.zeros_like(g)
                d[:, iy, 0] = sign * np.sqrt(2 * w[k]) * V[:, k]
                points.append(g + d)
    # each point moves one Y's gains; the mean over the 4 points of one Y has that
    # Y's covariance and the other Y exact: the average of all 8 has half of each
    gain_cov /= 2
    mean = {k: np.mean([variances(scaled(ens, p, ["E", "I"]), cov, used, sizes)[k]
                        for p in points], axis=0) for k in ("heterogeneity", "bias")}
    exact = variances(scaled(ens, g, ["E", "I"]), cov, used, sizes)
    noise = gain_noise(ens, gain_cov, cov, sizes)
    np.testing.assert_allclose(mean["heterogeneity"] - noise["heterogeneity"],
                               exact["heterogeneity"], rtol=1e-9)
    np.testing.assert_allclose(mean["bias"] - noise["rate"], exact["bias"], rtol=1e-9)
    assert noise["rate"][0] > 0.01 * exact["bias"][0]              # not a vacuous check


def test_gain_covariance_is_the_spread_of_the_gains():
    """The jackknife covariance of two collinear pathways' gains (ill-conditioned, as at
    a phase reversal) matches their spread over independent samples of cells."""
    from xkernels.errors.nonlinearity import fit, gain_covariance

    rng = np.random.default_rng(6)

    def cells():
        common = rng.standard_normal((8, 1, 1, 300))
        lin = np.concatenate([common, 0.9 * common + 0.3 * rng.standard_normal(common.shape)],
                             axis=1)                                  # (m, X=2, ch, T)
        v = 0.8 * lin[:, 0] + 0.6 * lin[:, 1] + 0.5 * rng.standard_normal((8, 1, 300))
        return v, lin

    spread = np.cov(np.array([fit(*cells())[0][:, 0] for _ in range(400)]).T)
    jack = np.mean([gain_covariance(*cells())[..., 0] for _ in range(200)], axis=0)
    np.testing.assert_allclose(jack, spread, rtol=0.3)
    assert spread[0, 1] < 0                                           # collinear: anti-correlated


def test_pool_positions_are_stratified_draws_of_the_population():
    from scipy import stats

    from xkernels.errors.ensemble import pool_positions
    from xkernels.hybrid.wiring import draw_position

    pop = Network.example().population("E")
    p = pool_positions(np.random.default_rng(0), pop, 2000)
    rng = np.random.default_rng(1)
    iid = np.array([draw_position(rng, pop) for _ in range(2000)])
    for k in (2,):                                                    # depth
        assert stats.ks_2samp(p[:, k], iid[:, k]).pvalue > 0.01
    assert stats.ks_2samp(np.hypot(*p[:, :2].T), np.hypot(*iid[:, :2].T)).pvalue > 0.01
    # a mean over 200 positions moves far less between seeds than over independent draws
    f = lambda q: 1.0 / np.hypot(np.hypot(q[:, 0], q[:, 1]), q[:, 2] - pop.loc) ** 0.5  # noqa: E731
    strat = [f(pool_positions(np.random.default_rng(s), pop, 200)).mean() for s in range(30)]
    drawn = [f(np.array([draw_position(np.random.default_rng(100 + s), pop)
                         for _ in range(200)])).mean() for s in range(30)]
    assert np.std(strat) < 0.5 * np.std(drawn)

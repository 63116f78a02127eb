"""Tests of xkernels.rates: binning spikes into population counts per bin."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xkernels.rates import rates_from_spikes, rates_from_spikes_per_second


def test_matches_np_histogram_over_left_edges():
    rng = np.random.default_rng(0)
    dt, t_start, t_stop = 0.0625, 100.0, 350.0
    spikes = {"E": rng.uniform(50, 400, 5000), "I": rng.uniform(50, 400, 1200)}
    R = rates_from_spikes(spikes, t_start=t_start, t_stop=t_stop, dt=dt)
    bins = t_start + dt * np.arange(round((t_stop - t_start) / dt) + 1)
    assert R.dims == ("X", "time") and R.X.values.tolist() == ["E", "I"]
    np.testing.assert_array_equal(R.time.values, bins[:-1])
    for x in ("E", "I"):
        np.testing.assert_array_equal(R.sel(X=x).values, np.histogram(spikes[x], bins)[0])
    assert R.attrs["units"] == "spikes/bin" and R.attrs["dt"] == dt


def test_grid_spike_times_land_on_their_own_bin():
    dt = 0.1  # not exactly representable: k * dt may fall just below an edge
    grid = np.round(np.arange(1, 1000) * dt, 10)
    R = rates_from_spikes({"E": grid}, t_start=0.0, t_stop=100.0, dt=dt)
    expected = np.zeros(1000)
    expected[1:] = 1
    np.testing.assert_array_equal(R.sel(X="E").values, expected)
    assert R.sizes["time"] == 1000


def test_recorder_events_with_populations():
    rng = np.random.default_rng(1)
    times = rng.uniform(0, 100, 4000)
    senders = rng.integers(1, 121, 4000)  # 1..100 E, 101..120 I, plus 121? no: < 121
    pops = {"E": (1, 100), "I": np.arange(101, 121)}
    R = rates_from_spikes(times=times, senders=senders, populations=pops,
                          t_start=0.0, t_stop=100.0, dt=0.5)
    per_pop = {"E": times[senders <= 100], "I": times[senders > 100]}
    ref = rates_from_spikes(per_pop, t_start=0.0, t_stop=100.0, dt=0.5)
    xr.testing.assert_identical(R, ref)
    assert float(R.sum()) == 4000


def test_unlisted_senders_are_ignored():
    R = rates_from_spikes(times=[1.0, 2.0, 3.0], senders=[1, 2, 99],
                          populations={"E": (1, 2)}, t_start=0.0, t_stop=4.0, dt=1.0)
    np.testing.assert_array_equal(R.values, [[0, 1, 1, 0]])


def test_per_second_conversion():
    rates = xr.DataArray([[10.0, 20.0], [5.0, 0.0]], dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": [0.0, 0.0625]})
    counts = rates_from_spikes_per_second(rates, {"I": 100, "E": 400})
    np.testing.assert_allclose(counts.values, [[10 * 400 * 0.0625e-3, 20 * 400 * 0.0625e-3],
                                               [5 * 100 * 0.0625e-3, 0.0]])
    assert counts.attrs["units"] == "spikes/bin"
    np.testing.assert_allclose(rates_from_spikes_per_second(np.array([8.0]), 1000, dt=0.5),
                               [4.0])
    # counting Poisson spikes at that rate agrees on average with the conversion
    rng = np.random.default_rng(2)
    n, rate, T = 200, 12.0, 5000.0
    times = np.concatenate([np.sort(rng.uniform(0, T, rng.poisson(rate * T / 1000)))
                            for _ in range(n)])
    R = rates_from_spikes({"E": times}, t_start=0.0, t_stop=T, dt=1.0)
    expected = rates_from_spikes_per_second(np.array(rate), n, dt=1.0)
    assert abs(float(R.mean()) - expected) < 0.05 * expected


@pytest.mark.parametrize("kwargs, match", [
    (dict(t_start=0.0, t_stop=10.0, dt=0.0), "dt must be > 0"),
    (dict(t_start=5.0, t_stop=5.0, dt=1.0), "t_stop must be > t_start"),
    (dict(t_start=0.0, t_stop=10.0, dt=3.0), "integer number of bins"),
    (dict(t_start=0.0, t_stop=np.nan, dt=1.0), "t_stop must be a finite number"),
])
def test_bad_windows(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rates_from_spikes({"E": [1.0]}, **kwargs)


def test_bad_spike_inputs():
    w = dict(t_start=0.0, t_stop=10.0, dt=1.0)
    with pytest.raises(ValueError, match=r"spikes\['E'\] contains 1 non-finite"):
        rates_from_spikes({"E": [1.0, np.nan]}, **w)
    with pytest.raises(ValueError, match="not both"):
        rates_from_spikes({"E": [1.0]}, times=[1.0], **w)
    with pytest.raises(ValueError, match="all of times, senders and populations"):
        rates_from_spikes(times=[1.0], senders=[1], **w)
    with pytest.raises(ValueError, match="senders must be integer node ids"):
        rates_from_spikes(times=[1.0, 2.0], senders=[1], populations={"E": (1, 2)}, **w)
    with pytest.raises(ValueError, match=r"populations \['E', 'I'\] share node id 5"):
        rates_from_spikes(times=[1.0], senders=[1], populations={"E": (1, 5), "I": [5, 6]},
                          **w)
    with pytest.raises(ValueError, match=r"populations\['E'\] as a tuple"):
        rates_from_spikes(times=[1.0], senders=[1], populations={"E": (5, 1)}, **w)
    with pytest.raises(ValueError, match="population_size lacks populations"):
        rates_from_spikes_per_second(
            xr.DataArray([1.0], dims="X", coords={"X": ["E"]}), {"I": 3}, dt=1.0)
    with pytest.raises(ValueError, match="dt .* is required"):
        rates_from_spikes_per_second(np.ones(3), 10)


def test_single_spike_gives_kernel_at_spike_time_plus_tau():
    from xkernels.contract import channel_coords
    from xkernels.signals.convolution import convolve

    dt, n_taps = 0.0625, 9
    tau = dt * (np.arange(n_taps) - 3)  # tau from -3 dt to +5 dt
    rng = np.random.default_rng(3)
    H = xr.DataArray(rng.normal(size=(1, 1, 2, n_taps)), dims=("X", "Y", "probe_channel", "tau"),
                     coords={"X": ["E"], "Y": ["E"], "tau": tau,
                             **channel_coords("lfp", ["a", "b"], "mV")})
    R = rates_from_spikes({"E": [5.0]}, t_start=0.0, t_stop=10.0, dt=dt)
    V = convolve(R, H)
    np.testing.assert_allclose(V.sel(time=5.0 + tau, method="nearest").values,
                               H.isel(X=0, Y=0).values, rtol=1e-12, atol=1e-14)
    assert float(abs(V).sum()) == pytest.approx(float(abs(H).sum()), rel=1e-12)

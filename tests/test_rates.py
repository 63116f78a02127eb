"""Tests of xkernels.signals.rates: binning spikes into population counts per bin."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xkernels.signals import Spikes, rates_from_spikes, rates_from_spikes_per_second


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
    senders = rng.integers(1, 121, 4000)  # 1..100 E, 101..120 I
    pops = {"E": (1, 100), "I": np.arange(101, 121)}
    events = Spikes.from_events(times, senders, pops)
    assert events.sizes == {"E": 100, "I": 20}
    R = rates_from_spikes(events, t_start=0.0, t_stop=100.0, dt=0.5)
    per_pop = {"E": times[senders <= 100], "I": times[senders > 100]}
    ref = rates_from_spikes(per_pop, t_start=0.0, t_stop=100.0, dt=0.5)
    xr.testing.assert_identical(R, ref)
    assert float(R.sum()) == 4000
    for i in (0, 57, 99):  # neuron i of E is node id i + 1, its spikes sorted
        np.testing.assert_array_equal(events["E"][i], np.sort(times[senders == i + 1]))


def test_one_rule_for_node_ids():
    """Unknown senders and node ids listed twice are refused, naming them, by every
    reader of spike-recorder events (rates, hybrid, the NEST models)."""
    from xkernels.signals.spikes import as_spikes

    with pytest.raises(ValueError, match=r"senders \[99, 120\] belong to no population; "
                                         r"populations hold node ids \{'E': '1..2'\}"):
        Spikes.from_events([1.0, 2.0, 3.0, 3.5], [1, 2, 99, 120], {"E": (1, 2)})
    with pytest.raises(ValueError, match=r"populations \['E', 'I'\] share node ids \[5, 6\]"):
        Spikes.from_events([1.0], [1], {"E": (1, 6), "I": [5, 6, 7]})
    with pytest.raises(ValueError, match=r"populations\['E'\] lists node ids \[3\] more "
                                         "than once"):
        Spikes.from_events([1.0], [1], {"E": [1, 3, 2, 3]})
    with pytest.raises(ValueError, match=r"senders \[7\] belong to no population"):
        as_spikes({"times": [1.0], "senders": [7], "populations": {"E": (1, 2)}})


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
    (dict(t_start=0.0, t_stop=np.nan, dt=1.0), "t_stop must be finite"),
])
def test_bad_windows(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rates_from_spikes({"E": [1.0]}, **kwargs)


def test_bad_spike_inputs():
    w = dict(t_start=0.0, t_stop=10.0, dt=1.0)
    with pytest.raises(ValueError, match=r"spikes\['E'\] contains 1 non-finite"):
        rates_from_spikes({"E": [1.0, np.nan]}, **w)
    with pytest.raises(TypeError, match="spikes must be a Spikes or a non-empty mapping"):
        rates_from_spikes([1.0, 2.0], **w)
    with pytest.raises(TypeError, match="senders must be integer node ids"):
        Spikes.from_events([1.0, 2.0], [1.0, 2.0], {"E": (1, 2)})
    with pytest.raises(ValueError, match="times and senders must be 1-D arrays of one length"):
        Spikes.from_events([1.0, 2.0], [1], {"E": (1, 2)})
    with pytest.raises(ValueError, match=r"populations\['E'\] as a tuple"):
        Spikes.from_events([1.0], [1], {"E": (5, 1)})
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

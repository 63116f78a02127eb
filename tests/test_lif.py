"""The NEST LIF network: spikes, population ranges, scaled rates, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from xkernels.app.lif import LIFParams, population_rates, simulate_lif, summary

pytest.importorskip("nest")


@pytest.fixture(scope="module")
def spikes():
    return simulate_lif(400.0, params=LIFParams(n_E=256, n_I=32), seed=7, threads=2)


def test_spikes_and_ranges(spikes):
    assert list(spikes.populations) == ["E", "I"]
    e, i = spikes.populations["E"], spikes.populations["I"]
    assert len(e) == 256 and len(i) == 32 and e.stop == i.start
    assert np.all(np.diff(spikes.times) >= 0)
    assert spikes.times.min() > 0 and spikes.times.max() <= 400.0
    assert set(np.unique(spikes.senders)) <= set(e) | set(i)
    # spike times lie on the 1/16 ms grid
    np.testing.assert_allclose(spikes.times * 16, np.round(spikes.times * 16), atol=1e-9)
    rates = spikes.mean_rates(100.0)
    assert all(0.5 < r < 100 for r in rates.values()), rates


def test_rates_are_scaled_counts(spikes):
    rates = population_rates(spikes, t_start=100.0, t_stop=400.0)
    assert rates.dims == ("X", "time") and rates.sizes["time"] == 300 * 16
    np.testing.assert_allclose(rates.coords["time"].values[:2], [100.0, 100.0625])
    for name, factor in (("E", 8192 / 256), ("I", 1024 / 32)):
        ids = spikes.populations[name]
        sel = (spikes.senders >= ids.start) & (spikes.senders < ids.stop)
        edges = 100.0 + np.arange(300 * 16 + 1) / 16
        counts, _ = np.histogram(spikes.times[sel], edges)
        np.testing.assert_allclose(rates.sel(X=name).values, counts * factor)
    info = summary(spikes, 100.0)
    assert info["E"]["n_full"] == 8192 and info["I"]["n_sim"] == 32


def test_same_seed_same_spikes(spikes):
    again = simulate_lif(400.0, params=LIFParams(n_E=256, n_I=32), seed=7, threads=2)
    np.testing.assert_array_equal(again.times, spikes.times)
    np.testing.assert_array_equal(again.senders, spikes.senders)


@pytest.mark.parametrize("kwargs, match", [
    ({"t_stop": -1.0}, "t_stop"),
    ({"dt": 0.0}, "dt"),
    ({"seed": 0}, "seed"),
    ({"threads": 0}, "threads"),
    ({"params": LIFParams(n_E=0)}, "n_E"),
    ({"params": LIFParams(epsilon=1.5)}, "epsilon"),
    ({"params": LIFParams(delay=0.0)}, "delay"),
])
def test_bad_input(kwargs, match):
    kwargs = {"t_stop": 10.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_lif(**kwargs)
    with pytest.raises(TypeError):
        simulate_lif(10.0, params={"n_E": 10})

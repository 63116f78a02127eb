"""StreamingConvolver: chunked rates in, complete signal chunks out, equal to convolve."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.signals.streaming import StreamingConvolver

DT = 0.25


def kernels(tau0, n_taps, seed=0, sweep=False):
    rng = np.random.default_rng(seed)
    shape = ((2,) if sweep else ()) + (2, 2, 3, n_taps)
    dims = (("w",) if sweep else ()) + ("X", "Y", "probe_channel", "tau")
    coords = {"X": ["E", "I"], "Y": ["E", "I"], "tau": tau0 + DT * np.arange(n_taps),
              "probe_channel": ["lfp:0", "lfp:1", "cdm:z"],
              "units": ("probe_channel", ["mV", "mV", "nA µm"])}
    if sweep:
        coords["w"] = [0.5, 1.0]
    return xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords, name="kernels")


def rates(n, seed=1, trials=0):
    rng = np.random.default_rng(seed)
    shape = ((trials,) if trials else ()) + (2, n)
    dims = (("trial",) if trials else ()) + ("X", "time")
    coords = {"X": ["I", "E"], "time": 10.0 + DT * np.arange(n)}  # X order differs
    if trials:
        coords["trial"] = np.arange(trials)
    return xr.DataArray(rng.poisson(3.0, shape).astype(float), dims=dims, coords=coords,
                        attrs={"units": "spikes/bin"})


def stream(H, nu, sizes, **kw):
    conv = StreamingConvolver(H, **kw)
    out, i, held = [], 0, []
    for size in sizes:
        out.append(conv.push(nu.isel(time=slice(i, i + size))))
        held.append(conv.buffered_samples)
        i += size
    assert i >= nu.sizes["time"]
    out.append(conv.finish())
    for part in out:
        assert part.dims[-1] == "time"
    return xr.concat([p for p in out if p.sizes["time"]], "time"), held, conv


def random_sizes(n, rng):
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.choice([1, 1, 2, 5, 17, 40, 150, 400])))
    return sizes


CASES = [  # (tau0 in bins, n_taps): symmetric, causal, delayed causal, all negative
    (-20, 41), (0, 33), (6, 25), (-30, 12)]


@pytest.mark.parametrize("mode", ["same", "valid"])
@pytest.mark.parametrize("lag0,n_taps", CASES)
def test_stream_equals_offline_convolve(mode, lag0, n_taps):
    rng = np.random.default_rng(lag0 + 100)
    H = kernels(lag0 * DT, n_taps)
    nu = rates(1000)
    offline = xkernels.convolve(nu, H, mode=mode).compute()
    streamed, held, conv = stream(H, nu, random_sizes(1000, rng), mode=mode)
    assert streamed.sizes == offline.sizes
    np.testing.assert_allclose(streamed.values, offline.values, rtol=0,
                               atol=1e-12 * np.abs(offline.values).max())
    np.testing.assert_allclose(streamed.coords["time"].values, offline.coords["time"].values,
                               rtol=0, atol=1e-9)
    assert streamed.coords["probe_channel"].values.tolist() == ["lfp:0", "lfp:1", "cdm:z"]
    assert streamed.coords["units"].values.tolist() == ["mV", "mV", "nA µm"]
    assert streamed.attrs["mode"] == mode and streamed.attrs["dt"] == DT
    # constant memory: never more rates than the kernel's span held between chunks
    assert max(held) <= n_taps - 1 + max(lag0, 0)
    assert conv.n_emitted == offline.sizes["time"]


def test_stream_one_sample_chunks_keep_and_batch_dims():
    H = kernels(-5 * DT, 11, sweep=True)
    nu = rates(60, trials=3)
    offline = xkernels.convolve(nu, H, keep=("X", "Y")).compute()
    streamed, _, _ = stream(H, nu, [1] * 60, keep=("X", "Y"))
    assert streamed.dims == offline.dims
    np.testing.assert_allclose(streamed.values, offline.values, rtol=0,
                               atol=1e-12 * np.abs(offline.values).max())
    np.testing.assert_array_equal(streamed.coords["w"], [0.5, 1.0])
    np.testing.assert_array_equal(streamed.coords["trial"], [0, 1, 2])


def test_stream_every_output_once_whatever_the_chunks():
    """A unit impulse stream: every output sample appears once, at its own time."""
    H = kernels(-3 * DT, 7)
    nu = xr.zeros_like(rates(30))
    nu[0, 12] = 1.0  # an I spike at time 13 ms
    streamed, _, _ = stream(H, nu, [4, 1, 0, 25])
    assert np.all(np.diff(streamed.coords["time"].values) > 0)
    h = H.sel(X="I").sum("Y").values  # (channel, tau)
    np.testing.assert_allclose(streamed.isel(time=slice(9, 16)).values, h, rtol=1e-12)


def test_stream_bad_input_leaves_the_stream_usable():
    H = kernels(-2 * DT, 5)
    nu = rates(40)
    conv = StreamingConvolver(H)
    conv.push(nu.isel(time=slice(0, 10)))
    with pytest.raises(ValueError, match=r"chunk time must continue the stream: first "
                                         r"time 12.5 ms.*got times from 12.75"):
        conv.push(nu.isel(time=slice(11, 20)))
    with pytest.raises(ValueError, match="X labels must match"):
        conv.push(nu.isel(time=slice(10, 20)).assign_coords(X=["I", "G"]))
    bad = nu.isel(time=slice(10, 20)).copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value\(s\) \(first at time=13.25"):
        conv.push(bad)
    with pytest.raises(TypeError, match="chunk must be an xarray.DataArray"):
        conv.push(nu.values)
    conv.push(nu.isel(time=slice(10, 40)))  # still usable
    conv.finish()
    with pytest.raises(RuntimeError, match="finished"):
        conv.push(nu.isel(time=slice(0, 1)))
    with pytest.raises(ValueError, match="mode must be one of"):
        StreamingConvolver(H, mode="full")
    with pytest.raises(ValueError, match="rates time spacing"):
        StreamingConvolver(H).push(nu.assign_coords(time=nu.coords["time"] * 2))


def test_stream_while_nest_runs():
    """Real NEST in 100 ms steps: the streamed rates are the one-shot run's, the streamed
    signal its offline convolution."""
    from xkernels.app.lif import LIFParams, population_rates, simulate_lif, stream_lif

    H = kernels(-40 * 2.0 ** -4, 81, seed=3).isel(probe_channel=[2])
    H = H.assign_coords(tau=-40 * 2.0 ** -4 + 2.0 ** -4 * np.arange(81))
    params = LIFParams(n_E=256, n_I=32)
    parts = list(stream_lif(H, 300.0, step=100.0, params=params, threads=1))
    assert [r is None for r, _ in parts] == [False, False, False, True]
    streamed_rates = xr.concat([r for r, _ in parts[:-1]], "time")
    offline_rates = population_rates(simulate_lif(300.0, params=params, threads=1))
    assert float(offline_rates.sum()) > 0
    np.testing.assert_array_equal(streamed_rates.values, offline_rates.values)
    offline = xkernels.convolve(offline_rates, H).compute()
    streamed = xr.concat([s for _, s in parts], "time")
    assert [s.sizes["time"] for _, s in parts] == [1600 - 40, 1600, 1600, 40]
    np.testing.assert_allclose(streamed.values, offline.values, rtol=0,
                               atol=1e-12 * np.abs(offline.values).max())

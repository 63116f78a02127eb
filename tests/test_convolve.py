"""Tests of xkernels.convolve: exactness against direct sums, laziness, metadata, errors."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xkernels  # noqa: F401  (registers .xk)
from xkernels.contract import channel_coords
from xkernels.signals.convolution import convolve

DT = 0.0625
POPS = ["E", "I"]


def probe_coords(n_lfp: int = 13, n_cdm: int = 3) -> dict:
    """probe_channel coords of an LFP probe (mV) stacked with a CDM probe (nA µm)."""
    lfp = channel_coords("lfp", [f"lfp:{i}" for i in range(n_lfp)], "mV",
                         x=np.zeros(n_lfp), y=np.zeros(n_lfp),
                         z=-100.0 * np.arange(n_lfp))
    cdm = channel_coords("cdm", [f"cdm:{a}" for a in "xyz"[:n_cdm]], "nA µm")
    return {k: ("probe_channel", np.concatenate([lfp[k][1], cdm[k][1]])) for k in lfp}


def make_kernels(rng, n_taps: int, lag0: int = None, *, n_lfp=13, n_cdm=3, dt=DT,
                 sweep: dict | None = None, x=POPS, y=POPS) -> xr.DataArray:
    """Random kernels; tau = (lag0 + k) dt (symmetric around 0 by default)."""
    if lag0 is None:
        lag0 = -(n_taps // 2)
    sweep = sweep or {}
    shape = tuple(len(v) for v in sweep.values()) + (len(x), len(y), n_lfp + n_cdm, n_taps)
    coords = {**{k: v for k, v in sweep.items()}, "X": list(x), "Y": list(y),
              "tau": (lag0 + np.arange(n_taps)) * dt, **probe_coords(n_lfp, n_cdm)}
    return xr.DataArray(rng.normal(size=shape), name="kernels",
                        dims=tuple(sweep) + ("X", "Y", "probe_channel", "tau"),
                        coords=coords)


def make_rates(rng, n_time: int, *, t0=10.0, dt=DT, extra: dict | None = None,
               x=POPS) -> xr.DataArray:
    extra = extra or {}
    shape = tuple(len(v) for v in extra.values()) + (len(x), n_time)
    return xr.DataArray(rng.poisson(4.0, size=shape).astype(float),
                        dims=tuple(extra) + ("X", "time"),
                        coords={**extra, "X": list(x), "time": t0 + dt * np.arange(n_time)})


def direct_sum(nu: np.ndarray, h: np.ndarray, lag0: int) -> np.ndarray:
    """out[x, y, c, i] = sum_k h[x, y, c, k] nu[x, i - lag0 - k], nu = 0 outside."""
    n_x, n_y, n_c, n_taps = h.shape
    n_time = nu.shape[-1]
    out = np.zeros((n_x, n_y, n_c, n_time))
    for k in range(n_taps):
        shift = lag0 + k
        lo, hi = max(0, shift), min(n_time, n_time + shift)
        if lo < hi:
            out[..., lo:hi] += (h[..., k][..., None]
                                * nu[:, None, None, lo - shift:hi - shift])
    return out


def rel_err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def test_equals_reference_np_convolve_loop():
    rng = np.random.default_rng(1)
    H = make_kernels(rng, 101)
    R = make_rates(rng, 3000)
    out = R.xk.convolve(H)
    assert isinstance(out.data, da.Array)
    ref = np.zeros((16, 3000))
    for i in range(2):
        for j in range(2):
            for c in range(16):
                ref[c] += np.convolve(R.values[i], H.values[i, j, c], "same")
    assert out.dims == ("probe_channel", "time")
    assert rel_err(out.values, ref) <= 1e-9


@pytest.mark.parametrize("lag0", [0, -40, -3, 7, 90, -200])
@pytest.mark.parametrize("time_chunk", [None, 5, 64])
@pytest.mark.parametrize("rate_chunks", [None, 6, 97])
def test_direct_sum_any_lag_and_chunking(lag0, time_chunk, rate_chunks):
    rng = np.random.default_rng(abs(lag0) + (time_chunk or 0))
    H = make_kernels(rng, 41, lag0, n_lfp=4, n_cdm=1)
    R = make_rates(rng, 300)
    if rate_chunks:
        R = R.chunk({"time": rate_chunks, "X": 1})
    out = convolve(R, H, time_chunk=time_chunk)
    if time_chunk:
        assert max(out.chunks[-1]) == time_chunk
    ref = direct_sum(R.values, H.values, lag0).sum(axis=(0, 1))
    assert rel_err(out.values, ref) <= 1e-9
    np.testing.assert_array_equal(out.time.values, R.time.values)


def test_kernel_longer_than_signal_and_window_outside_data():
    rng = np.random.default_rng(2)
    R = make_rates(rng, 30)
    for lag0 in (-100, -60, 0, 31, 500):
        H = make_kernels(rng, 80, lag0, n_lfp=2, n_cdm=1)
        ref = direct_sum(R.values, H.values, lag0).sum(axis=(0, 1))
        out = convolve(R, H, time_chunk=4).values
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9 * max(np.abs(ref).max(), 1))


@pytest.mark.parametrize("keep", [("X",), ("Y",), ("X", "Y"), ("Y", "X")])
def test_keep_contributions(keep):
    rng = np.random.default_rng(3)
    H = make_kernels(rng, 21, -4, n_lfp=3, n_cdm=1)
    R = make_rates(rng, 200)
    out = convolve(R, H, keep=keep, time_chunk=50)
    full = direct_sum(R.values, H.values, -4)
    ref = full.sum(axis=tuple(i for i, d in enumerate("XY") if d not in keep))
    expected_dims = tuple(d for d in ("X", "Y") if d in keep) + ("probe_channel", "time")
    assert out.dims == expected_dims
    assert rel_err(out.values, ref) <= 1e-9
    for d in keep:
        assert out.coords[d].values.tolist() == POPS
    xr.testing.assert_allclose(out.sum([d for d in keep]), convolve(R, H), rtol=1e-12)


def test_rates_population_order_does_not_matter():
    rng = np.random.default_rng(4)
    H = make_kernels(rng, 15, n_lfp=2, n_cdm=1)
    R = make_rates(rng, 100)
    swapped = R.isel(X=[1, 0])
    np.testing.assert_allclose(convolve(swapped, H).values, convolve(R, H).values,
                               rtol=1e-12)


def test_extra_dims_broadcast():
    rng = np.random.default_rng(5)
    sims = {"sim": [0, 1, 2]}
    H = make_kernels(rng, 17, -5, n_lfp=2, n_cdm=1,
                     sweep={"sim": [0, 1, 2], "weight": [0.5, 1.0]})
    R = make_rates(rng, 150, extra={"trial": ["a", "b"], **sims}).chunk(
        {"trial": 1, "sim": 2, "time": 40})
    out = convolve(R, H, time_chunk=33)
    assert out.dims == ("trial", "sim", "weight", "probe_channel", "time")
    assert out.coords["trial"].values.tolist() == ["a", "b"]
    assert out.coords["weight"].values.tolist() == [0.5, 1.0]
    values = out.values
    for i in range(2):
        for s in range(3):
            for w in range(2):
                ref = direct_sum(R.values[i, s], H.values[s, w], -5).sum(axis=(0, 1))
                assert rel_err(values[i, s, w], ref) <= 1e-9


def test_metadata_units_and_dtype():
    rng = np.random.default_rng(6)
    H = make_kernels(rng, 9)
    R = make_rates(rng, 64)
    out = convolve(R, H, dtype=np.float32)
    assert out.dtype == np.float32
    assert out.name == "signals"
    for c in ("probe", "units", "x", "y", "z"):
        np.testing.assert_array_equal(out.coords[c].values, H.coords[c].values)
    assert set(out.coords["units"].values.tolist()) == {"mV", "nA µm"}
    assert "lfp [mV]" in out.attrs["units_note"] and "cdm [nA µm]" in out.attrs["units_note"]
    assert "units" not in out.attrs  # mixed units: per channel only
    lfp = convolve(R, H.xk.probe("lfp"))
    assert lfp.attrs["units"] == "mV"
    np.testing.assert_allclose(out.values, convolve(R, H).values, rtol=1e-6, atol=1e-4)
    assert out.xk.probe("cdm").sizes["probe_channel"] == 3


def test_auto_chunking_splits_time_for_both_cores():
    rng = np.random.default_rng(7)
    H = make_kernels(rng, 1601, n_lfp=1, n_cdm=0)
    R = make_rates(rng, 100_000)
    out = convolve(R, H)
    assert len(out.chunks[-1]) >= 2


def test_integer_rates_and_lazy_kernels_from_zarr(tmp_path):
    rng = np.random.default_rng(8)
    H = make_kernels(rng, 33, -10, n_lfp=3, n_cdm=1)
    H.to_dataset().to_zarr(tmp_path / "k.zarr")
    H_lazy = xr.open_zarr(tmp_path / "k.zarr")["kernels"]
    assert isinstance(H_lazy.data, da.Array)
    R = make_rates(rng, 400).astype(np.int64)
    out = convolve(R, H_lazy)
    ref = direct_sum(R.values.astype(float), H.values, -10).sum(axis=(0, 1))
    assert rel_err(out.values, ref) <= 1e-9
    assert out.coords["units"].values.tolist() == H.coords["units"].values.tolist()


def test_rates_read_lazily_from_zarr_and_signals_to_zarr(tmp_path):
    rng = np.random.default_rng(9)
    H = make_kernels(rng, 25, n_lfp=3, n_cdm=1)
    ds = make_rates(rng, 500).to_dataset(name="rates").chunk({"time": 128})
    ds.to_zarr(tmp_path / "rates.zarr")
    lazy = xr.open_zarr(tmp_path / "rates.zarr")
    out = lazy["rates"].xk.convolve(H)
    out.to_dataset().to_zarr(tmp_path / "signals.zarr")
    back = xr.open_zarr(tmp_path / "signals.zarr")["signals"]
    ref = direct_sum(ds.rates.values, H.values, -12).sum(axis=(0, 1))
    assert rel_err(back.values, ref) <= 1e-9
    assert back.coords["units"].values.tolist() == H.coords["units"].values.tolist()


def test_hand_made_kernels_need_only_dims_and_tau():
    """Kernels with dims X, Y, probe_channel, tau and only a tau coordinate convolve;
    rates without X labels are matched by position; core dims in any order."""
    rng = np.random.default_rng(21)
    full = make_kernels(rng, 15, -3, n_lfp=2, n_cdm=1)
    bare = xr.DataArray(full.values, dims=full.dims, coords={"tau": full.tau.values})
    R = make_rates(rng, 120)
    ref = direct_sum(R.values, full.values, -3).sum(axis=(0, 1))
    out = convolve(R, bare)
    assert out.dims == ("probe_channel", "time")
    assert not {"probe", "units", "x", "y", "z", "probe_channel"} & set(out.coords)
    assert rel_err(out.values, ref) <= 1e-9
    assert rel_err(convolve(R.drop_vars("X"), full).values, ref) <= 1e-9
    shuffled = bare.transpose("tau", "probe_channel", "Y", "X")
    assert rel_err(convolve(R, shuffled).values, ref) <= 1e-9
    # channel metadata carried when present
    assert convolve(R, full).coords["probe"].values.tolist() == ["lfp", "lfp", "cdm"]
    with pytest.raises(ValueError, match="matched by position and must agree in number"):
        convolve(R.drop_vars("X").isel(X=[0]), full)


def test_rate_fluctuations_accepted():
    """Any finite values convolve: rates minus their mean give the signal minus its
    mean away from the edges, by linearity."""
    rng = np.random.default_rng(22)
    H = make_kernels(rng, 21, -10, n_lfp=2, n_cdm=1)
    R = make_rates(rng, 400)
    fluct = R - R.mean("time")
    assert float(fluct.min()) < 0
    out = convolve(fluct, H).values
    ref = direct_sum(fluct.values, H.values, -10).sum(axis=(0, 1))
    assert rel_err(out, ref) <= 1e-9


@pytest.mark.parametrize("lag0, n_taps", [(-10, 21), (0, 12), (3, 5), (-8, 4)])
@pytest.mark.parametrize("time_chunk", [None, 7])
def test_mode_valid_keeps_complete_samples_only(lag0, n_taps, time_chunk):
    rng = np.random.default_rng(23)
    H = make_kernels(rng, n_taps, lag0, n_lfp=2, n_cdm=1)
    R = make_rates(rng, 90).chunk({"time": 25})
    same = convolve(R, H, time_chunk=time_chunk)
    valid = convolve(R, H, mode="valid", time_chunk=time_chunk)
    first = max(lag0 + n_taps - 1, 0)
    stop = 90 + min(lag0, 0)
    t = R.time.values
    np.testing.assert_array_equal(valid.time.values, t[first:stop])
    np.testing.assert_allclose(valid.values, same.values[:, first:stop], rtol=1e-12,
                               atol=1e-12)
    assert valid.attrs["mode"] == "valid" and same.attrs["mode"] == "same"
    assert valid.attrs["complete_time"] == [t[first], t[stop - 1]]
    assert same.attrs["complete_time"] == valid.attrs["complete_time"]
    # the complete samples are those a longer recording does not change
    longer = xr.concat([R.isel(time=slice(0, 40)).assign_coords(time=t[:40] - 40 * DT), R,
                        R.isel(time=slice(0, 40)).assign_coords(time=t[-1] + DT * (
                            1 + np.arange(40)))], "time")
    wide = convolve(longer, H).sel(time=valid.time)
    np.testing.assert_allclose(valid.values, wide.values, rtol=1e-9, atol=1e-9)
    if time_chunk:
        assert set(valid.chunks[-1][:-1]) == {time_chunk}  # uniform: zarr-writable


def test_mode_valid_refuses_too_short_rates():
    rng = np.random.default_rng(24)
    H = make_kernels(rng, 41, n_lfp=1, n_cdm=1)
    R = make_rates(rng, 40)
    with pytest.raises(ValueError, match="mode='valid' leaves no sample: the rates span "
                                         r"2.5 ms.*use mode='same' or longer rates"):
        convolve(R, H, mode="valid")
    assert convolve(R, H).attrs["complete_time"] == []


def test_signals_of_stored_rates_write_with_plain_xarray(tmp_path):
    """Signals computed from rates read from Zarr carry no encoding of that store:
    plain xarray writes them (no 'coord.encoding = {}' needed) without warnings."""
    import warnings

    from xkernels.store.datasets import CONSOLIDATED_WARNING

    rng = np.random.default_rng(25)
    H = make_kernels(rng, 25, n_lfp=3, n_cdm=1)
    make_rates(rng, 3000).astype("float32").chunk({"time": 1000}).to_dataset(
        name="rates").to_zarr(tmp_path / "rates.zarr", consolidated=False)
    rates = xr.open_zarr(tmp_path / "rates.zarr", consolidated=False)["rates"]
    out = rates.xk.convolve(H, dtype="float32", time_chunk=512)
    assert {name: c.encoding for name, c in out.coords.items() if c.encoding} == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=CONSOLIDATED_WARNING)  # zarr's, any data
        out.to_dataset().to_zarr(tmp_path / "signals.zarr")
    back = xr.open_zarr(tmp_path / "signals.zarr")["signals"]
    xr.testing.assert_allclose(back.compute(), out.compute())
    assert back.time.attrs["units"] == "ms"


# ------------------------------------------------------------------- property tests

lag_and_shape = st.tuples(st.integers(2, 30), st.integers(2, 120), st.integers(-60, 40))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=lag_and_shape, seed=st.integers(0, 2**32 - 1),
       chunk=st.one_of(st.none(), st.integers(1, 130)),
       rate_chunk=st.one_of(st.none(), st.integers(1, 130)))
def test_property_direct_sum(shape, seed, chunk, rate_chunk):
    n_taps, n_time, lag0 = shape
    rng = np.random.default_rng(seed)
    H = make_kernels(rng, n_taps, lag0, n_lfp=2, n_cdm=1)
    R = make_rates(rng, n_time)
    if rate_chunk:
        R = R.chunk({"time": rate_chunk})
    out = convolve(R, H, time_chunk=chunk).values
    ref = direct_sum(R.values, H.values, lag0).sum(axis=(0, 1))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9 * max(np.abs(ref).max(), 1e-12))


@settings(max_examples=25, deadline=None)
@given(shape=lag_and_shape, seed=st.integers(0, 2**32 - 1),
       a=st.floats(0, 10), b=st.floats(0, 10))
def test_property_linearity(shape, seed, a, b):
    n_taps, n_time, lag0 = shape
    rng = np.random.default_rng(seed)
    H = make_kernels(rng, n_taps, lag0, n_lfp=2, n_cdm=1)
    r1, r2 = make_rates(rng, n_time), make_rates(rng, n_time)
    lhs = convolve(a * r1 + b * r2, H).values
    rhs = a * convolve(r1, H).values + b * convolve(r2, H).values
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-9 * max(np.abs(rhs).max(), 1e-12))


@settings(max_examples=25, deadline=None)
@given(shape=lag_and_shape, seed=st.integers(0, 2**32 - 1), shift=st.integers(0, 50),
       chunk=st.one_of(st.none(), st.integers(1, 80)))
def test_property_time_shift_equivariance(shape, seed, shift, chunk):
    """Delaying the rates by m bins delays the signal by m bins (zeros padded)."""
    n_taps, n_time, lag0 = shape
    rng = np.random.default_rng(seed)
    H = make_kernels(rng, n_taps, lag0, n_lfp=2, n_cdm=1)
    pad = n_taps + abs(lag0)
    nu = np.zeros((2, n_time + 2 * pad + shift))
    nu[:, pad:pad + n_time] = rng.poisson(3.0, size=(2, n_time))
    time = DT * np.arange(nu.shape[1])
    base = xr.DataArray(nu, dims=("X", "time"), coords={"X": POPS, "time": time})
    shifted = base.copy(data=np.roll(nu, shift, axis=1))
    out0 = convolve(base, H, time_chunk=chunk).values
    out1 = convolve(shifted, H, time_chunk=chunk).values
    scale = max(np.abs(out0).max(), 1e-12)
    np.testing.assert_allclose(out1[:, shift:], out0[:, :out0.shape[1] - shift],
                               rtol=0, atol=1e-9 * scale)


# ----------------------------------------------------------------------- bad input


@pytest.fixture
def pair():
    rng = np.random.default_rng(10)
    return make_rates(rng, 100), make_kernels(rng, 11, n_lfp=2, n_cdm=1)


def test_refuses_spacing_mismatch(pair):
    R, H = pair
    R2 = R.assign_coords(time=R.time * 2)
    with pytest.raises(ValueError, match=r"rates time spacing \(0.125 ms\).*tau spacing "
                                         r"\(0.0625 ms\)"):
        convolve(R2, H)


def test_refuses_irregular_time(pair):
    R, H = pair
    t = R.time.values.copy()
    t[50:] += 0.01
    with pytest.raises(ValueError, match="rates time coordinate must be regularly"):
        convolve(R.assign_coords(time=t), H)


def test_refuses_x_mismatch(pair):
    R, H = pair
    with pytest.raises(ValueError, match=r"kernels X=\['E', 'I'\], rates X=\['E'\]"):
        convolve(R.sel(X=["E"]), H)
    with pytest.raises(ValueError, match=r"kernels X=\['E'\], rates X=\['E', 'I'\].*"
                                         r"from kernels: \['I'\]"):
        convolve(R, H.sel(X=["E"]))


def test_refuses_sweep_coordinate_mismatch():
    rng = np.random.default_rng(11)
    H = make_kernels(rng, 5, n_lfp=1, n_cdm=1, sweep={"sim": [0, 1]})
    R = make_rates(rng, 20, extra={"sim": [0, 2]})
    with pytest.raises(ValueError, match=r"dim 'sim' differs: rates has 2 values \[0, 2\], "
                                         r"kernels has 2 values \[0, 1\]"):
        convolve(R, H)


def test_refuses_bad_options_and_types(pair):
    R, H = pair
    with pytest.raises(ValueError, match="keep may only contain"):
        convolve(R, H, keep=("probe_channel",))
    with pytest.raises(ValueError, match=r"time_chunk \(samples\) must be an integer >= 1"):
        convolve(R, H, time_chunk=0)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        convolve(R, H, dtype=np.int32)
    with pytest.raises(TypeError, match="rates must be an xarray.DataArray"):
        convolve(R.values, H)
    with pytest.raises(TypeError, match="complex"):
        convolve(R.astype(complex), H)
    with pytest.raises(ValueError, match=r"rates must have dims \('X', 'time'\)"):
        convolve(R.rename(time="t"), H)
    with pytest.raises(ValueError, match=r"kernels must have dims .*missing \['Y'\]"):
        convolve(R, H.isel(Y=0))
    with pytest.raises(ValueError, match="kernels is missing the 'tau' coordinate"):
        convolve(R, H.drop_vars("tau"))
    with pytest.raises(ValueError, match=r"mode must be one of \['same', 'valid'\], "
                                         r"got 'full'"):
        convolve(R, H, mode="full")
    with pytest.raises(ValueError, match="not a multiple of the time step"):
        convolve(R, H.assign_coords(tau=H.tau + 0.03))


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "infinite"),
                                       (-np.inf, "infinite")])
def test_bad_values_refused_at_compute_time(pair, bad, kind):
    R, H = pair
    values = R.values.copy()
    values[1, 37] = bad
    R_bad = R.copy(data=values).chunk({"time": 30})
    out = convolve(R_bad, H)  # metadata is fine: no error yet
    with pytest.raises(ValueError, match=rf"rates contain 1 {kind} value\(s\) \(first at "
                                         rf"X='I', time=12.3125 ms\) in their block "
                                         r"from time=11.875 to 13.6875 ms"):
        out.compute()


def test_bad_values_nothing_published(tmp_path):
    """NaN in the last rates block: the atomic writer publishes nothing."""
    from xkernels.store import write_signals

    rng = np.random.default_rng(12)
    H = make_kernels(rng, 31, n_lfp=3, n_cdm=1)
    R = make_rates(rng, 2000)
    values = R.values.copy()
    values[0, 1999] = np.nan  # in the very last chunk
    R.copy(data=values).chunk({"time": 200}).to_dataset(name="rates").to_zarr(
        tmp_path / "rates.zarr")
    rates = xr.open_zarr(tmp_path / "rates.zarr")["rates"]
    out = convolve(rates, H, time_chunk=100)
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError, match=r"rates contain 1 NaN value\(s\) \(first at "
                                             r"X='E', time=134.9375 ms\) in their block "
                                             r"from time=122.5 to 134.9375 ms"):
            write_signals(out, tmp_path / "signals.zarr")
    assert not (tmp_path / "signals.zarr").exists()


class CountingArray:
    """A numpy array behind ``__getitem__`` that counts the reads of each element."""

    def __init__(self, values):
        self.values, self.shape, self.dtype, self.ndim = values, values.shape, \
            values.dtype, values.ndim
        self.reads = np.zeros(values.shape, int)

    def __getitem__(self, key):
        self.reads[key] += 1
        return self.values[key]


@pytest.mark.parametrize("mode", ["same", "valid"])
def test_rates_read_once(mode):
    """Every rates sample is read exactly once by one compute (the value checks run in
    the reading tasks, not in a second pass over the rates)."""
    rng = np.random.default_rng(14)
    H = make_kernels(rng, 41, n_lfp=2, n_cdm=1)
    R = make_rates(rng, 3000)
    source = CountingArray(R.values)
    lazy = R.copy(data=da.from_array(source, chunks=(2, 250), name="counted-rates"))
    out = convolve(lazy, H, time_chunk=400, mode=mode)
    values = out.values
    assert source.reads.min() == source.reads.max() == 1
    ref = direct_sum(R.values, H.values, -20).sum(axis=(0, 1))
    assert rel_err(values, ref[:, 20:-20] if mode == "valid" else ref) <= 1e-9


def test_same_call_same_graph():
    """Graph keys are deterministic (tokenized): repeating a call shares its work."""
    rng = np.random.default_rng(15)
    H = make_kernels(rng, 41, n_lfp=2, n_cdm=1)
    R = make_rates(rng, 3000)
    a, b = convolve(R, H, keep=("X",)), convolve(R.copy(deep=True), H.copy(deep=True),
                                                  keep=("X",))
    assert a.data.name == b.data.name
    assert a.data.__dask_keys__() == b.data.__dask_keys__()
    assert dict(a.data.__dask_graph__()).keys() == dict(b.data.__dask_graph__()).keys()
    assert convolve(R + 1, H, keep=("X",)).data.name != a.data.name
    assert convolve(R, H).data.name != a.data.name
    lazy = R.chunk({"time": 500})
    assert convolve(lazy, H).data.name == convolve(lazy, H).data.name


# ---------------------------------------------------------------------- distributed


@pytest.mark.slow
def test_distributed_identical_results():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(13)
    H = make_kernels(rng, 65, -20, n_lfp=5, n_cdm=3)
    R = make_rates(rng, 5000, extra={"trial": [0, 1]}).chunk({"time": 700, "trial": 1})
    local = convolve(R, H, time_chunk=900, keep=("X",)).compute(scheduler="threads")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        remote = convolve(R, H, time_chunk=900, keep=("X",)).compute()
        bad = R.where(R.time < 300)  # NaN after 300 ms
        with pytest.raises(ValueError, match="rates contain .* NaN"):
            convolve(bad, H).compute()
    xr.testing.assert_identical(local, remote)


def test_long_time_axis_checked_in_blocks():
    from xkernels.contract import regular_spacing

    t = DT * np.arange(3_000_001)
    assert regular_spacing(t, "rates time coordinate", block=2**20) == \
        pytest.approx(DT, rel=1e-12)
    t[2_500_000:] += 0.5 * DT
    with pytest.raises(ValueError, match="rates time coordinate must be regularly spaced"):
        regular_spacing(t, "rates time coordinate", block=2**20)

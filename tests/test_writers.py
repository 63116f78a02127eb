"""Writers for every product: rates and signals stores (atomic, no zarr warnings, read by
plain ``xr.open_zarr``), ``.xk.to_zarr`` dispatching on the dims, dt checks."""

from __future__ import annotations

import os
import warnings

import dask
import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.contract import channel_coords
from xkernels.store import KernelStoreError, open_rates, open_signals, write_rates
from xkernels.store.datasets import CONSOLIDATED_WARNING

DT = 2 ** -4


def kernels(rng, n_taps=33) -> xr.DataArray:
    lfp = channel_coords("lfp", ["lfp:0", "lfp:1"], "mV", z=[0.0, -100.0])
    cdm = channel_coords("cdm", ["cdm:z"], "nA µm")
    merged = {k: ("probe_channel", np.concatenate([lfp[k][1], cdm[k][1]]), *lfp[k][2:])
              for k in lfp}
    tau = (np.arange(n_taps) - n_taps // 2) * DT
    return xr.DataArray(rng.normal(size=(2, 2, 3, n_taps)), name="kernels",
                        dims=("X", "Y", "probe_channel", "tau"),
                        coords={"X": ["E", "I"], "Y": ["E", "I"], "tau": tau, **merged})


def spike_rates(rng, t_stop=200.0) -> xr.DataArray:
    spikes = {x: np.sort(rng.uniform(0.0, t_stop, n)) for x, n in (("E", 4000), ("I", 900))}
    return xkernels.rates_from_spikes(spikes, t_start=0.0, t_stop=t_stop, dt=DT)


def no_siblings(path) -> bool:
    """Nothing next to ``path`` but its lock file (kept: see xkernels.store.publish)."""
    return not [n for n in os.listdir(path.parent)
                if n.startswith(f".{path.name}.") and n != f".{path.name}.lock"]


def test_signals_and_rates_to_zarr_atomic_quiet_plain_readable(tmp_path):
    rng = np.random.default_rng(1)
    H = kernels(rng)
    rates = spike_rates(rng)
    signals = rates.xk.convolve(H, time_chunk=700)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no zarr warning at all
        signals.xk.to_zarr(tmp_path / "signals.zarr")
        rates.xk.to_zarr(tmp_path / "rates.zarr")
    back = xr.open_zarr(tmp_path / "signals.zarr")["signals"]
    np.testing.assert_allclose(back.values, signals.values, rtol=1e-12)
    assert back.coords["probe"].values.tolist() == ["lfp", "lfp", "cdm"]
    assert back.coords["z"].attrs["units"] == "µm" and back.time.attrs["units"] == "ms"
    assert back.attrs["dt"] == DT and back.attrs["mode"] == "same"
    r = xr.open_zarr(tmp_path / "rates.zarr")["rates"]
    xr.testing.assert_equal(r.compute(), rates)
    assert r.attrs["units"] == "spikes/bin" and r.time.attrs["units"] == "ms"
    xr.testing.assert_equal(open_rates(tmp_path / "rates.zarr").compute(), rates)
    assert open_signals(tmp_path / "signals.zarr").sizes == signals.sizes
    assert no_siblings(tmp_path / "signals.zarr")
    # the same path again: refused, unless overwrite
    with pytest.raises(FileExistsError, match="signals store .* already exists"):
        signals.xk.to_zarr(tmp_path / "signals.zarr")
    (2 * signals).xk.to_zarr(tmp_path / "signals.zarr", overwrite=True)
    np.testing.assert_allclose(xr.open_zarr(tmp_path / "signals.zarr")["signals"].values,
                               2 * signals.values, rtol=1e-12)


def test_kernels_still_written_as_kernel_stores(tmp_path):
    rng = np.random.default_rng(2)
    K = kernels(rng)
    with pytest.raises(ValueError, match="kernels attrs lack provenance fields"):
        K.xk.to_zarr(tmp_path / "k.zarr")  # a kernel store, validated as such
    assert not (tmp_path / "k.zarr").exists()
    with pytest.raises(ValueError, match=r"to_zarr writes kernels .* got an array with "
                                         r"dims \('a',\)"):
        xr.DataArray([1.0], dims="a").xk.to_zarr(tmp_path / "a.zarr")


def test_failed_signal_write_leaves_nothing(tmp_path):
    """Lazy signals are checked at compute time: NaN rates write no store at all."""
    rng = np.random.default_rng(3)
    rates = spike_rates(rng)
    values = rates.values.copy()
    values[1, -1] = np.nan
    signals = rates.copy(data=values).xk.convolve(kernels(rng), time_chunk=500)
    path = tmp_path / "signals.zarr"
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match="1 NaN"):
        signals.xk.to_zarr(path)
    assert not path.exists() and no_siblings(path)


def test_rates_from_spikes_with_plain_xarray_only_zarrs_generic_warning(tmp_path):
    """No warning of ours (fixed-width strings, encodings): only zarr's notice about
    consolidated metadata, which plain xarray triggers for any dataset."""
    rates = spike_rates(np.random.default_rng(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rates.to_zarr(tmp_path / "r.zarr")
    assert [str(w.message) for w in caught
            if not str(w.message).startswith(CONSOLIDATED_WARNING)] == []
    back = xr.open_zarr(tmp_path / "r.zarr")["rates"]
    assert back.X.values.tolist() == ["E", "I"] and back.attrs["dt"] == DT


def test_rates_dt_attribute_must_match_time(tmp_path):
    rates = spike_rates(np.random.default_rng(5))
    bad = rates.assign_attrs(dt=0.1)
    with pytest.raises(ValueError, match=r"rates: attribute dt = 0.1 ms disagrees with the "
                                         r"spacing of its time coordinate, 0.0625 ms"):
        write_rates(bad, tmp_path / "bad.zarr")
    assert not (tmp_path / "bad.zarr").exists()
    bad.to_zarr(tmp_path / "plain.zarr")  # written by plain xarray
    with pytest.raises(KernelStoreError, match=r"rates in '.*plain.zarr': attribute dt = "
                                               r"0.1 ms disagrees"):
        open_rates(tmp_path / "plain.zarr")
    with pytest.raises(KernelStoreError, match="has no variable 'nope'"):
        open_rates(tmp_path / "plain.zarr", var="nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_rates(tmp_path / "missing.zarr")


def test_irregular_dask_chunks_are_made_storable(tmp_path):
    rates = spike_rates(np.random.default_rng(6)).chunk({"time": (100, 3000, 100)})
    write_rates(rates, tmp_path / "r.zarr")
    xr.testing.assert_equal(xr.open_zarr(tmp_path / "r.zarr")["rates"].compute(),
                            rates.compute())

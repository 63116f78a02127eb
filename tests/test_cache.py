"""compute_kernels(store=...) caching and acting on stored provenance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.spec import Network


def probes():
    return {"lfp": xkernels.GaussCylinderPotential(z=np.linspace(800.0, -200.0, 6), sigma=0.3,
                                                   R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def test_store_is_written_then_reused_without_simulating(tmp_path, simulations):
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == 1 and store.exists()
    again = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == 1  # served from the store
    xr.testing.assert_identical(again, H)


def test_different_inputs_refused_unless_overwrite(tmp_path, simulations):
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    with pytest.raises(ValueError, match="holds kernels of different inputs"):
        xkernels.compute_kernels(Network.example(), probes(), tau=4.0, Vrest=-70.0,
                                 store=store)
    xr.testing.assert_identical(xkernels.open_kernels(store).load(), H)  # untouched
    H70 = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, Vrest=-70.0,
                                   store=store, overwrite=True)
    assert H70.attrs["content_hash"] != H.attrs["content_hash"]
    xr.testing.assert_identical(xkernels.open_kernels(store).load(), H70)


def test_not_a_kernel_store_refused(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes"):
        xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=folder)
    assert (folder / "readme.txt").read_text() == "hello"


def test_recompute_from_stored_provenance_gives_the_same_kernels(tmp_path):
    from xkernels.probes import probe_from_definition

    store = tmp_path / "k.zarr"
    xkernels.compute_kernels(Network.example(), probes(), tau=4.0, Vrest=-68.0, g_eff=True,
                             store=store)
    H = xr.open_zarr(store)["kernels"]  # as a notebook would, without our reader
    import json

    network = Network.from_kernels(H)
    rebuilt = {name: probe_from_definition(d) for name, d in json.loads(H.attrs["probes"]).items()}
    again = xkernels.compute_kernels(network, rebuilt, dt=H.attrs["dt"],
                                     tau=H.attrs["tau_max"], t_X=H.attrs["t_X"],
                                     Vrest=json.loads(H.attrs["Vrest"]),
                                     g_eff=bool(H.attrs["g_eff"]), fir=bool(H.attrs["fir"]))
    assert again.attrs["content_hash"] == H.attrs["content_hash"]
    np.testing.assert_array_equal(again.values, H.values)


# --------------------------------------------------------------------------------------
# a store never vouches for data that is not what its provenance says
# --------------------------------------------------------------------------------------
@pytest.fixture
def computed(tmp_path):
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    return H, store


def _derived_cases(H):
    return {
        "scaled": 2 * H,
        "one probe": H.xk.probe("lfp"),
        "lag subset": H.sel(tau=slice(0, 2)),
        "float32": H.astype(np.float32),
    }


@pytest.mark.parametrize("case", ["scaled", "one probe", "lag subset", "float32"])
def test_modified_kernels_are_stored_as_derived_and_never_served(tmp_path, computed,
                                                                 simulations, case):
    from xkernels.contract import DERIVED, PROVENANCE_ATTR

    H, _ = computed
    derived = _derived_cases(H)[case]
    assert derived.attrs["content_hash"] == H.attrs["content_hash"]  # xarray keeps attrs
    path = tmp_path / "derived.zarr"
    derived.xk.to_zarr(path)
    attrs = xkernels.read_attrs(path)
    assert attrs[PROVENANCE_ATTR] == DERIVED
    assert attrs["derived_from"] == H.attrs["content_hash"]
    assert attrs["content_hash"] != H.attrs["content_hash"]
    n = simulations["n"]
    with pytest.raises(ValueError, match="derived"):
        xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=path)
    assert simulations["n"] == n  # refused before simulating
    again = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=path,
                                     overwrite=True)
    assert simulations["n"] == n + 1
    xr.testing.assert_identical(again, H)
    assert xkernels.read_attrs(path)[PROVENANCE_ATTR] == "computed"


def test_unmodified_kernels_stay_computed_through_a_round_trip(tmp_path, computed,
                                                               simulations):
    H, store = computed
    copy = tmp_path / "copy.zarr"
    xkernels.open_kernels(store).xk.to_zarr(copy)  # lazily read, written elsewhere
    n = simulations["n"]
    served = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=copy)
    assert simulations["n"] == n
    xr.testing.assert_identical(served, H)


def test_values_changed_on_disk_are_refused(computed, simulations):
    import zarr

    H, store = computed
    zarr.open_group(store, mode="r+")["kernels"][0, 0, 0, :] = 1.0  # behind our back
    n = simulations["n"]
    with pytest.raises(ValueError, match="do not match the digest"):
        xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == n
    again = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store,
                                     overwrite=True)
    xr.testing.assert_identical(again, H)


def _rewrite_attrs(store, **changes):
    """Change the stored kernels' attributes (as an older xkernels would have written)."""
    import zarr

    group = zarr.open_group(store, mode="r+")
    attrs = dict(group["kernels"].attrs)
    for key, value in changes.items():
        if value is None:
            attrs.pop(key, None)
        else:
            attrs[key] = value
    group["kernels"].attrs.clear()
    group["kernels"].attrs.update(attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: consolidated metadata is not in the v3 spec
        zarr.consolidate_metadata(store)


def test_kernels_of_an_older_engine_are_recomputed(computed, simulations, monkeypatch):
    from xkernels.engine import kernels as engine

    H, store = computed
    # the same inputs under a later engine version: the stored numbers are stale
    monkeypatch.setattr(engine, "ENGINE_VERSION", engine.ENGINE_VERSION + 1)
    n = simulations["n"]
    old = engine.ENGINE_VERSION - 1
    with pytest.warns(UserWarning, match=f"computed by engine version {old}"):
        again = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == n + 1
    assert again.attrs["engine_version"] == engine.ENGINE_VERSION
    assert xkernels.read_attrs(store)["engine_version"] == engine.ENGINE_VERSION
    assert again.attrs["content_hash"] != H.attrs["content_hash"]


def test_geff_with_a_rate_never_set_warns():
    spec = Network.example().to_dict()
    del spec["populations"][1]["rate"]
    network = Network.from_dict(spec)
    assert network.population("I").rate is None
    with pytest.warns(UserWarning, match=r"populations \['I'\] have no rate.*'I->E', 'I->I'"):
        xkernels.compute_kernels(network, probes(), tau=1.0, g_eff=True,
                                 operating_point="rest")
    spec["populations"][1]["rate"] = 0.0  # a silent population, said explicitly: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xkernels.compute_kernels(Network.from_dict(spec), probes(), tau=1.0, g_eff=True,
                                 operating_point="rest")

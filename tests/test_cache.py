"""compute_kernels(store=...) caching and acting on stored provenance."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.engine.cells import LinearisedCell
from xkernels.network import Network


def probes():
    return {"lfp": xkernels.GaussCylinderPotential(z=np.linspace(800.0, -200.0, 6), sigma=0.3,
                                                   R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


@pytest.fixture
def simulations(monkeypatch):
    counter = {"n": 0}
    original = LinearisedCell.synaptic_response

    def counted(cell, *args, **kwargs):
        counter["n"] += 1
        return original(cell, *args, **kwargs)

    monkeypatch.setattr(LinearisedCell, "synaptic_response", counted)
    return counter


def test_store_is_written_then_reused_without_simulating(tmp_path, simulations):
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == 4 and store.exists()
    again = xkernels.compute_kernels(Network.example(), probes(), tau=4.0, store=store)
    assert simulations["n"] == 4  # served from the store
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

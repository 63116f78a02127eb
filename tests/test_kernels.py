"""compute_kernels: the DataArray contract, bad input refused before simulating,
NEURON state isolation, and physics checks independent of the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import xkernels
from xkernels.engine.cells import LinearisedCell
from xkernels.spec import Network

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}


def probes():
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **GCP),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


@pytest.fixture(scope="module")
def H():
    return xkernels.compute_kernels(Network.example(), probes(), dt=2 ** -4, tau=20.0,
                                    t_X=200.0, Vrest=-65.0, g_eff=True)


def test_data_contract(H):
    xkernels.check_kernels(H)
    assert H.name == "kernels"
    assert H.dims == ("X", "Y", "probe_channel", "tau")
    assert H.coords["X"].values.tolist() == ["E", "I"]
    assert H.coords["Y"].values.tolist() == ["E", "I"]
    assert H.sizes["tau"] == 2 * 320 + 1
    np.testing.assert_allclose(H.tau.values, np.arange(-320, 321) * 2 ** -4)
    assert H.tau.attrs["units"] == "ms"
    assert H.coords["probe_channel"].values.tolist() == \
        [f"lfp:{i}" for i in range(13)] + ["cdm:z"]
    assert set(H.coords["units"].values[:13]) == {"mV"}
    assert set(H.coords["units"].values[13:]) == {"nA µm"}
    np.testing.assert_array_equal(H.coords["z"].values[:13], GCP["z"])
    assert np.isnan(H.coords["z"].values[13:]).all()
    assert np.isnan(H.coords["x"].values).all()
    assert H.attrs["dt"] == 2 ** -4 and H.attrs["t_X"] == 200.0 and H.attrs["g_eff"] is True
    versions = json.loads(H.attrs["versions"])
    assert {"xkernels", "neuron", "LFPy", "LFPykit"} <= set(versions)
    assert len(H.attrs["content_hash"]) == 64
    assert Network.from_kernels(H) == Network.example()
    assert H.xk.probe("cdm").sizes["probe_channel"] == 1  # the z-only dipole: one channel
    assert {H.coords[c].attrs["units"] for c in "xyz"} == {"µm"}


def test_physics_sanity(H):
    # causal: nothing before the spike
    assert (H.sel(tau=slice(None, 0)) == 0).all()
    # z-only dipole: one channel, cdm:z
    assert H.xk.probe("cdm").probe_channel.values.tolist() == ["cdm:z"]
    # excitatory input onto apical/basal dendrites of E: sink high up, CDM negative first
    cdm_EE = H.sel(X="E", Y="E", probe_channel="cdm:z")
    cdm_IE = H.sel(X="I", Y="E", probe_channel="cdm:z")
    assert np.sign(cdm_EE.sel(tau=slice(0, 5)).sum()) == -np.sign(cdm_IE.sel(tau=slice(0, 5))
                                                                  .sum())
    assert np.isfinite(H.values).all() and np.abs(H.values).max() > 0


@pytest.mark.parametrize("dt, n", [(2 ** -4, 160), (0.1, 100), (0.025, 400)])
def test_dipole_equals_sum_of_z_weighted_currents(dt, n):
    """Independent check of the CDM pipeline: p_z(t) = Σ_i z_i I_i(t) of the simulated
    currents, smeared by the delay distribution (computed by direct summation here),
    also at time steps that are not powers of two."""
    from xkernels.engine.plans import plan_population
    from xkernels.engine.timeline import regular_grid

    net = Network.example()
    pop = net.population("E")
    tau = 10.0
    with LinearisedCell(pop.cell, pop, dt, -65.0) as cell:
        plan = plan_population(net, "E", cell.geometry, -65.0, False,
                               regular_grid(dt, n, False))
        item = plan.inputs["I"]
        imem = cell.synaptic_response(item.weights, item.tau1, item.tau2, n, 200.0)
        z = cell.geometry.z_mid
    assert imem.shape == (27, n + 1)
    pz = z @ imem
    h = item.h_delay
    smeared = np.array([sum(pz[m - j] * h[n + j] for j in range(-n, n + 1) if 0 <= m - j <= n)
                        for m in range(n + 1)])
    expected = smeared - smeared[0]
    H = xkernels.compute_kernels(net, {"cdm": xkernels.CurrentDipoleMomentZ(cell=None)},
                                 dt=dt, tau=tau, t_X=200.0, Vrest=-65.0, g_eff=False,
                                 averaging="reference")  # one cell, as simulated here
    assert H.sizes["tau"] == 2 * n + 1
    np.testing.assert_allclose(H.tau.values, np.arange(-n, n + 1) * dt, rtol=0, atol=1e-12)
    got = H.sel(X="I", Y="E", probe_channel="cdm:z").isel(tau=slice(n, None)).values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    # Kirchhoff: membrane currents of a cell sum to zero at every time
    np.testing.assert_allclose(imem.sum(axis=0), 0.0, atol=1e-12 * np.abs(imem).max())


def test_linear_in_weight_without_geff():
    net = Network.example()
    spec = net.to_dict()
    spec["connections"][0]["synapse"]["weight"] *= 3.0
    H1 = xkernels.compute_kernels(net, probes(), tau=5.0, g_eff=False)
    H3 = xkernels.compute_kernels(Network.from_dict(spec), probes(), tau=5.0, g_eff=False)
    np.testing.assert_allclose(H3.sel(X="E", Y="E"), 3.0 * H1.sel(X="E", Y="E"), rtol=1e-9,
                               atol=1e-12 * float(abs(H1).max()))
    np.testing.assert_array_equal(H3.sel(X="I"), H1.sel(X="I"))
    assert H3.attrs["content_hash"] != H1.attrs["content_hash"]


def test_fir_cut_and_no_leaked_sections():
    from neuron import h

    H = xkernels.compute_kernels(Network.example(), probes(), tau=2.0, fir=True, g_eff=False)
    np.testing.assert_allclose(H.tau.values, np.arange(1, 33) * 2 ** -4)
    assert len(list(h.allsec())) == 0


class _SimulationCounter:
    """Counts the responses simulated, on either membrane path (a cell simulated as it
    is, or a linearised membrane: the mean-input operating point's)."""

    def __init__(self, monkeypatch):
        from xkernels.engine.membrane import LinearisedMembrane

        self.calls = 0
        for cls, name in ((LinearisedCell, "synaptic_response"),
                          (LinearisedMembrane, "response")):
            monkeypatch.setattr(cls, name, self._counted(getattr(cls, name)))

    def _counted(self, original):
        def counted(obj, *args, **kwargs):
            self.calls += 1
            return original(obj, *args, **kwargs)
        return counted


BAD_OPTIONS = [
    ({"dt": 0.0}, ValueError, "dt must be > 0"),
    ({"dt": -0.1}, ValueError, "dt must be > 0 (ms), got -0.1"),
    ({"tau": 0.01}, ValueError, "tau must be >= dt"),
    ({"tau": 10.03}, ValueError, "tau = 10.03 ms and dt = 0.0625 ms give 160.48"),
    ({"t_X": 10.0, "tau": 50.0}, ValueError, "t_X must be >= tau = 50.0 ms, got 10.0"),
    ({"g_eff": "yes"}, ValueError, "g_eff must be True, False or 'auto', got 'yes'"),
    ({"g_eff": 1}, TypeError, "g_eff must be True, False or 'auto'"),
    ({"Vrest": [-65.0] * 5}, ValueError, "e_pas must be set when Vrest is a per-segment"),
    ({"Vrest": {"E": -65.0}}, ValueError, "without an entry for population 'I'"),
    ({"Vrest": float("nan")}, ValueError, "Vrest must be finite"),
    ({"n_positions": 0}, ValueError, "n_positions"),
]


@pytest.mark.parametrize("options, exc, message", BAD_OPTIONS)
def test_bad_options_refused_before_any_simulation(options, exc, message, monkeypatch):
    counter = _SimulationCounter(monkeypatch)
    with pytest.raises(exc) as info:
        xkernels.compute_kernels(Network.example(), probes(), **options)
    assert message in str(info.value)
    assert counter.calls == 0


def test_vrest_list_of_wrong_length_refused(monkeypatch):
    spec = Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"]["e_pas"] = -65.0
    counter = _SimulationCounter(monkeypatch)
    with pytest.raises(ValueError, match="has 5 values; its cell has 27 segments"):
        xkernels.compute_kernels(Network.from_dict(spec), probes(), Vrest=[-65.0] * 5)
    assert counter.calls == 0


def test_geff_with_current_based_network_refused(monkeypatch):
    spec = Network.example().to_dict()
    spec["conductance_based"] = False
    net = Network.from_dict(spec)
    counter = _SimulationCounter(monkeypatch)
    with pytest.raises(ValueError, match="g_eff=True requires a conductance-based network"):
        xkernels.compute_kernels(net, probes(), g_eff=True)
    assert counter.calls == 0


def test_missing_section_refused_before_any_simulation(monkeypatch):
    spec = Network.example().to_dict()
    # the last connection (I->I) names a section the I cell does not have: E kernels must
    # not have been simulated when it is found
    spec["connections"][-1]["placement"]["sections"] = ["soma", "axon"]
    net = Network.from_dict(spec)
    counter = _SimulationCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"section 'axon' does not exist on the cell"):
        xkernels.compute_kernels(net, probes())
    assert counter.calls == 0
    from neuron import h

    assert len(list(h.allsec())) == 0  # the refused call left no sections behind


def test_bad_probes_refused():
    with pytest.raises(TypeError):
        xkernels.compute_kernels(Network.example(), [object()])
    with pytest.raises(TypeError, match="xkernels.Network"):
        xkernels.compute_kernels({"populations": []}, probes())


def test_kernels_of_unconnected_pairs_are_zero():
    spec = Network.example().to_dict()
    spec["connections"] = [c for c in spec["connections"] if (c["pre"], c["post"]) != ("I", "I")]
    H = xkernels.compute_kernels(Network.from_dict(spec), probes(), tau=2.0, g_eff=False)
    assert (H.sel(X="I", Y="I") == 0).all()
    assert (H.sel(X="E", Y="I") != 0).any()
    assert isinstance(H, xr.DataArray)


def test_any_lfpykit_model_is_a_probe(tmp_path):
    """A model without a dedicated branch (OneSphereVolumeConductor) gives channels of its
    own (one per matrix row, units from the model table) and finite kernels."""
    import lfpykit

    spec = Network.example().to_dict()
    for pop in spec["populations"]:
        pop["loc"] = -2000.0  # off the sphere's centre, where the model is singular
    r = np.array([[50.0, 60.0, 70.0], [10.0, 0.0, -10.0], [-2100.0, -1500.0, -900.0]])
    sphere = lfpykit.OneSphereVolumeConductor(None, r=r, R=10000.0, sigma_i=0.3)
    H = xkernels.compute_kernels(Network.from_dict(spec), {"sphere": sphere}, tau=2.0,
                                 g_eff=False, averaging="reference")  # depth mode: 8x slower
    assert H.coords["probe_channel"].values.tolist() == ["sphere:0", "sphere:1", "sphere:2"]
    assert set(H.coords["units"].values) == {"mV"}
    np.testing.assert_array_equal(H.coords["z"].values, r[2])
    assert np.isfinite(H.values).all() and np.abs(H.values).max() > 0
    with pytest.raises(ValueError, match=r"cannot describe: probes\[.sphere.\]"):
        xkernels.compute_kernels(Network.from_dict(spec), {"sphere": sphere}, tau=2.0,
                                 g_eff=False, store=tmp_path / "k.zarr")
    assert not (tmp_path / "k.zarr").exists()

"""operating_point="mean-input": conductance-based synapses linearised around the
potential of the cell under its mean input.

Checked against independent computations: the steady state of the mean input found by
a different cell (the hybrid ground truth's NetworkCell) integrated with fixed steps;
kernels equal to those of ``"rest"`` with that potential given as a per-segment Vrest;
depth averaging of a population without depth spread equal to the reference mode; a
sweep equal to its points; and bad input refused before anything is simulated.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import xkernels
from xkernels.engine import kernels as engine_kernels
from xkernels.engine import linearisation as lin
from xkernels.engine.mechanisms import NEURON_LOCK
from xkernels.engine.network_cell import NetworkCell

TAU = 10.0
DT = 2.0 ** -4


def probes():
    return {"lfp": xkernels.GaussCylinderPotential(z=np.linspace(1000.0, -200.0, 7),
                                                   sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


@pytest.fixture(scope="module")
def network():
    return xkernels.Network.example()


@pytest.fixture(scope="module")
def mean_input(network):
    return xkernels.compute_kernels(network, probes(), tau=TAU, dt=DT,
                                    averaging="reference", operating_point="mean-input")


@pytest.fixture(scope="module")
def at_rest(network):
    return xkernels.compute_kernels(network, probes(), tau=TAU, dt=DT,
                                    averaging="reference", operating_point="rest")


def with_changes(network, change):
    """``network`` with ``change(population_dict)`` applied to every population dict."""
    d = network.to_dict()
    for p in d["populations"]:
        change(p)
    return xkernels.Network.from_dict(d)


def with_e_pas(network):
    """The network with the leak reversal fixed at -65 mV (a per-segment Vrest needs it)."""
    def fix(p):
        p["cell"]["biophysics"]["e_pas"] = -65.0
    return with_changes(network, fix)


def with_active_E(network):
    """The network with the active preset for population E."""
    def activate(p):
        if p["name"] == "E":
            p["cell"]["biophysics"] = {"name": "active"}
    return with_changes(network, activate)


def steady_state_by_fixed_steps(network, post: str, t_stop: float = 1000.0) -> np.ndarray:
    """Per-segment potential (mV) of another cell (NetworkCell) given the mean conductance
    of every input with its reversal potential, after ``t_stop`` ms of fixed steps."""
    from neuron import h

    pop = network.population(post)
    with NEURON_LOCK, NetworkCell(pop.cell, pop, DT, e_pas_default=-65.0) as cell:
        geo = cell.geometry
        cell.add_leak(lin.ext_leak_shift(pop, geo.area), pop.ext_synapse.e)
        for conn in network.inputs(post):
            p = lin.placement_probability(conn.placement, geo.sections, geo.z_mid, geo.area,
                                          pop.scale, "placement", False)
            k_in, _ = lin.synapse_counts(conn, network.population(conn.pre).size, pop.size)
            syn = conn.synapse
            cell.add_leak(lin.leak_shift(geo.area, p * k_in, syn.weight, syn.tau1, syn.tau2,
                                         network.population(conn.pre).rate), syn.e)
        recorders = []
        for seg in cell.segments:
            vec = h.Vector()
            vec.record(seg._ref_v)
            recorders.append(vec)
        n = int(round(t_stop / DT))
        cell.simulate(n, np.zeros((1, cell.nseg)))
        return np.array([vec.as_numpy()[n - 1] for vec in recorders])


@pytest.mark.parametrize("post", ["E", "I"])
def test_potential_is_the_steady_state_of_the_mean_input(network, mean_input, post):
    state = json.loads(mean_input.attrs["resting_state"])[post]
    v = np.asarray(state["v"])
    expected = steady_state_by_fixed_steps(network, post)
    np.testing.assert_allclose(v, expected, rtol=0, atol=1e-6)
    # the excitatory input (E = 0 mV) depolarises: never below the leak, above it on the
    # dendrites that receive it (several mV on the apical tuft)
    assert v.min() > -66.0 and v.max() > -60.0


def test_rest_is_unchanged_and_the_modes_differ(network, mean_input, at_rest):
    assert at_rest.attrs["operating_point"] == "rest"
    assert mean_input.attrs["operating_point"] == "mean-input"
    assert "resting_state" not in at_rest.attrs
    assert mean_input.attrs["content_hash"] != at_rest.attrs["content_hash"]
    plan = engine_kernels.prepare_kernels(network, probes(),
                                          xkernels.KernelOptions(dt=DT, tau=TAU,
                                                                 averaging="reference",
                                                                 operating_point="rest"))
    assert plan.digest == at_rest.attrs["content_hash"]
    # the same membrane, other driving forces: I -> E (E_I = -80 mV) barely changes,
    # I -> I (inhibitory cell sitting ~5-10 mV above rest) grows
    ratio = (mean_input.std("tau") / at_rest.std("tau")).sel(probe_channel="cdm:z")
    assert abs(float(ratio.sel(X="I", Y="E")) - 1) < 0.02
    assert float(ratio.sel(X="I", Y="I")) > 1.05


def test_equals_rest_with_that_potential_as_vrest(network, mean_input):
    """The kernels are those of a per-segment Vrest at the mean-input potential: the
    membrane (g_eff) is the same, only the driving force moved."""
    fixed = with_e_pas(network)
    rest = json.loads(mean_input.attrs["resting_state"])
    vrest = {post: rest[post]["v"] for post in ("E", "I")}
    H = xkernels.compute_kernels(fixed, probes(), tau=TAU, dt=DT, Vrest=vrest,
                                 averaging="reference", operating_point="rest")
    scale = float(np.abs(mean_input).max())
    np.testing.assert_allclose(H.values, mean_input.values, rtol=0, atol=1e-9 * scale)


def test_depth_mode_without_spread_is_the_reference_mode(network):
    d = network.to_dict()
    for p in d["populations"]:
        p["scale"] = 0.0
    flat = xkernels.Network.from_dict(d)
    cdm = {"cdm": xkernels.CurrentDipoleMomentZ()}
    ref = xkernels.compute_kernels(flat, cdm, tau=TAU, dt=DT, averaging="reference",
                                   operating_point="mean-input")
    depth = xkernels.compute_kernels(flat, cdm, tau=TAU, dt=DT, averaging="depth",
                                           operating_point="mean-input")
    rest = xkernels.compute_kernels(flat, cdm, tau=TAU, dt=DT, averaging="depth",
                                    operating_point="rest")
    np.testing.assert_allclose(depth.values, ref.values, rtol=0,
                               atol=1e-9 * float(np.abs(ref).max()))
    assert not np.allclose(depth.values, rest.values, rtol=0.01)


def test_depth_mode_settles_every_node(network):
    """Each depth node has its own placement, hence its own mean-input potential: the
    depth-mode kernels are not those of one node's potential everywhere."""
    cdm = {"cdm": xkernels.CurrentDipoleMomentZ()}
    depth = xkernels.compute_kernels(network, cdm, tau=TAU, dt=DT, averaging="depth",
                                           depth_nodes=3, operating_point="mean-input")
    assert depth.attrs["operating_point"] == "mean-input"
    rest = xkernels.compute_kernels(network, cdm, tau=TAU, dt=DT, averaging="depth",
                                    depth_nodes=3, operating_point="rest")
    ratio = (depth.std("tau") / rest.std("tau")).sel(probe_channel="cdm:z")
    assert float(ratio.sel(X="I", Y="I")) > 1.05
    # one potential for every node (that of the cell at loc, placement widened) is not
    # what the nodes settle to: close, but not equal
    at_loc = json.loads(depth.attrs["resting_state"])
    one = xkernels.compute_kernels(with_e_pas(network), cdm, tau=TAU, dt=DT,
                                   averaging="depth", depth_nodes=3, operating_point="rest",
                                   Vrest={k: v["v"] for k, v in at_loc.items()})
    diff = float(np.abs(one - depth).max() / np.abs(depth).max())
    assert 1e-4 < diff < 0.1


def test_store_keys_and_provenance(network, tmp_path):
    cdm = {"cdm": xkernels.CurrentDipoleMomentZ()}
    path = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(network, cdm, tau=TAU, store=path, averaging="reference",
                                 operating_point="mean-input")
    again = xkernels.compute_kernels(network, cdm, tau=TAU, store=path, averaging="reference",
                                     operating_point="mean-input")
    np.testing.assert_array_equal(again.values, H.values)
    read = xkernels.open_kernels(path)
    assert read.attrs["operating_point"] == "mean-input"
    # the rest kernels are other kernels: refused without overwrite, the store untouched
    with pytest.raises(ValueError):
        xkernels.compute_kernels(network, cdm, tau=TAU, store=path, averaging="reference",
                                 operating_point="rest")
    np.testing.assert_array_equal(xkernels.open_kernels(path).values, H.values)


def test_sweep_at_the_mean_input_equals_compute_kernels(network):
    """Every point at its own operating point: the batched linear path (passive cells)
    gives compute_kernels' numbers to rounding (1e-10 of the peak)."""
    cdm = {"cdm": xkernels.CurrentDipoleMomentZ()}
    weights = [0.0008, 0.0016]
    S = xkernels.sweep(network, {"connections[E->I].synapse.weight": weights}, cdm,
                       tau=TAU, operating_point="mean-input", averaging="reference",
                       client="sync", progress=False)
    for k, w in enumerate(weights):
        d = network.to_dict()
        for c in d["connections"]:
            if c["pre"] == "E" and c["post"] == "I":
                c["synapse"]["weight"] = w
        H = xkernels.compute_kernels(xkernels.Network.from_dict(d), cdm, tau=TAU,
                                     operating_point="mean-input", averaging="reference")
        np.testing.assert_allclose(S.isel({S.dims[0]: k}).values, H.values, rtol=0,
                                   atol=1e-10 * np.abs(H.values).max())
    with pytest.raises(ValueError, match="operating_point"):
        xkernels.sweep(network, {"connections[E->I].synapse.weight": weights}, cdm,
                       tau=TAU, operating_point="mean-input", client="sync",
                       method="superposition", progress=False)


# -- bad input: refused before anything is simulated -----------------------------------
def test_unknown_operating_point(network):
    with pytest.raises(ValueError, match=r"operating_point must be one of \['rest', "
                                         r"'mean-input', 'auto'\], got 'mean_input'"):
        xkernels.KernelOptions(dt=DT, tau=TAU, operating_point="mean_input")


def test_mean_input_needs_g_eff(network):
    with pytest.raises(ValueError, match="needs g_eff=True"):
        xkernels.compute_kernels(network, probes(), tau=TAU, g_eff=False,
                                       operating_point="mean-input")


def test_mean_input_needs_conductance_based_synapses(network):
    d = network.to_dict()
    d["conductance_based"] = False
    current = xkernels.Network.from_dict(d)
    # g_eff (which mean-input needs) needs conductance-based synapses
    with pytest.raises(ValueError, match="needs g_eff=True"):
        xkernels.compute_kernels(current, probes(), tau=TAU, g_eff=False,
                                       operating_point="mean-input")
    with pytest.raises(ValueError, match="g_eff=True requires a conductance-based"):
        xkernels.compute_kernels(current, probes(), tau=TAU, g_eff=True,
                                 operating_point="mean-input")
    with pytest.raises(ValueError, match="operating_point='mean-input' requires a "
                                         "conductance-based network"):
        xkernels.compute_kernels(current, probes(), tau=TAU, operating_point="mean-input")


def test_active_cell_as_is_is_refused(network):
    active = with_active_E(network)
    with pytest.raises(ValueError, match="taken as they are \\(linearisation 'as-is'\\)"):
        xkernels.compute_kernels(active, probes(), tau=TAU, linearisation="as-is",
                                 operating_point="mean-input")


def test_active_cell_linearised_around_its_mean_input_state(network):
    active = with_active_E(network)
    cdm = {"cdm": xkernels.CurrentDipoleMomentZ()}
    states = {}
    for point in ("rest", "mean-input"):
        H = xkernels.compute_kernels(active, cdm, tau=TAU, linearisation="frozen",
                                     operating_point=point, averaging="reference")
        states[point] = np.asarray(json.loads(H.attrs["resting_state"])["E"]["v"])
    # the active cell rests near -65 mV; the mean input holds its apical tuft ~8 mV higher
    assert states["rest"].max() < -64.0
    assert states["mean-input"].max() > -58.0

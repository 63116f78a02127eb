"""The linear solver (solver="linear", xkernels.engine.cable) against NEURON itself.

Every case computes the same kernels twice, with solver="neuron" (one NEURON simulation
per response) and solver="linear" (the fixed-step scheme in closed form): they must
agree to 1e-9 relative (per probe channel, relative to its peak); measured: <= 1e-12.
Against lfpykernels 0.2.0 the linear solver is checked in tests/test_equivalence.py
(``test_network_api_matches_reference_for_all_pairs`` uses solver="linear").
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import laminar_probes, worst_channel_deviation

import xkernels
from xkernels.engine import prepare_kernels, simulate_kernels

EXACT = 1e-9


def _kernels(network, solver, **options):
    options = {"tau": 20.0, "averaging": "reference", "operating_point": "rest", **options}
    plan = prepare_kernels(network, laminar_probes(),
                           xkernels.KernelOptions(solver=solver, **options))
    return simulate_kernels(network, plan)


_worst = worst_channel_deviation


def _with_e_pas():
    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"]["e_pas"] = -65.0
    return xkernels.Network.from_dict(spec)


def _fast_rise():
    spec = xkernels.Network.example().to_dict()
    spec["connections"][0]["synapse"]["tau1"] = 0.01
    return xkernels.Network.from_dict(spec)


def _current_based():
    spec = xkernels.Network.example().to_dict()
    spec["conductance_based"] = False
    for conn, weight in zip(spec["connections"], (0.05, -0.2, 0.05, -0.2)):
        conn["synapse"] = {**conn["synapse"], "syntype": "Exp2SynI", "weight": weight}
    return xkernels.Network.from_dict(spec)


CASES = {
    "rest_geff": ({}, False),
    "no_geff": ({"g_eff": False}, False),
    "dt_0_1_fir": ({"dt": 0.1, "fir": True}, False),
    "mean_input": ({"operating_point": "mean-input"}, False),
    "depth": ({"averaging": "depth", "depth_nodes": 3}, False),
    "depth_mean_input": ({"averaging": "depth", "depth_nodes": 3,
                          "operating_point": "mean-input"}, False),
    "depth_no_geff": ({"averaging": "depth", "depth_nodes": 3, "g_eff": False}, False),
    "per_segment_vrest": ({"Vrest": {"E": -65.0, "I": list(
        np.linspace(-70.0, -60.0, 15))}}, "e_pas"),
    "current_based": ({"g_eff": False, "fir": True}, True),
    "frozen_active": ({"linearisation": "frozen"}, "active"),
    # a rise time far below dt (the microcircuit's 0.01 ms at dt 0.0625)
    "fast_rise": ({"g_eff": False}, "fast_rise"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_linear_equals_neuron(case, mechanisms_loaded):
    options, kind = CASES[case]
    network = {False: xkernels.Network.example, True: _current_based, "e_pas": _with_e_pas,
               "fast_rise": _fast_rise,
               "active": lambda: xkernels.Network.example(active=True)}[kind]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _kernels(network, "neuron", **options)
        got = _kernels(network, "linear", **options)
    assert np.abs(ref.values).max() > 0 and np.isfinite(got.values).all()
    assert _worst(got.values, ref.values) <= EXACT, case
    assert got.attrs.get("resting_state") is None or \
        np.allclose(_rest(got), _rest(ref), rtol=0, atol=1e-6)


def _rest(H):
    import json

    return np.concatenate([v["v"] for v in json.loads(H.attrs["resting_state"]).values()])


def test_cable_response_matches_neuron_to_rounding(mechanisms_loaded):
    """The closed form against NEURON's time stepping on one cell: to 1e-12."""
    from xkernels.engine.cells import LinearisedCell

    pop = xkernels.Network.example().population("E")
    for dt in (0.1, 2 ** -4):
        with LinearisedCell(pop.cell, pop, dt, -65.0) as cell:
            weights = np.zeros(cell.nseg)
            weights[[0, 5, 20]] = [0.3, -1.0, 2.0]
            ref = cell.synaptic_response(weights, 0.3, 4.0, 300, 100.0)
            got = cell.linear_cable().response(weights, 0.3, 4.0, 300)
        assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


def test_linear_refused_for_active_as_is(mechanisms_loaded):
    network = xkernels.Network.example(active=True)
    plan = prepare_kernels(network, laminar_probes(), xkernels.KernelOptions(
        tau=5.0, solver="linear", operating_point="rest", averaging="reference",
        linearisation="as-is"))
    with pytest.raises(ValueError, match=r"solver='linear'.*population 'E'.*mechanism"):
        simulate_kernels(network, plan)
    # "auto" takes NEURON there
    auto = simulate_kernels(network, prepare_kernels(
        network, laminar_probes(), xkernels.KernelOptions(
        tau=5.0, operating_point="rest", averaging="reference", linearisation="as-is")))
    assert np.isfinite(auto.values).all()


def test_unknown_solver_refused():
    with pytest.raises(ValueError, match=r"solver.*'lineer'.*did you mean 'linear'"):
        xkernels.KernelOptions(solver="lineer")


def _negative_leak(cell):
    for sec in cell.allseclist:
        sec.insert("pas")
        for seg in sec:
            seg.pas.g = -1e-4
            seg.pas.e = -65.0


@pytest.mark.parametrize("solver", ["linear", "neuron"])
def test_unstable_membrane_refused(solver, mechanisms_loaded):
    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"] = _negative_leak
    network = xkernels.Network.from_dict(spec)
    plan = prepare_kernels(network, laminar_probes(), xkernels.KernelOptions(
        tau=5.0, g_eff=False, solver=solver, linearisation="passive", averaging="reference"))
    with pytest.raises(ValueError, match=r"population 'E'.*unstable.*-0\.0001 S/cm²"):
        simulate_kernels(network, plan)


def test_solver_in_provenance_and_hash():
    network = xkernels.Network.example()
    a = prepare_kernels(network, laminar_probes(), xkernels.KernelOptions(solver="neuron"))
    b = prepare_kernels(network, laminar_probes(), xkernels.KernelOptions(solver="linear"))
    assert a.digest != b.digest
    assert '"solver":"linear"' in b.attrs["options"]


def test_auto_resolves_per_population_and_records_it(mechanisms_loaded):
    """solver="auto": the linear solver for the linearised population, NEURON for the
    active one taken as it is; the kernels' ``solver`` attribute says so."""
    import json

    network = xkernels.Network.example(active=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        H = _kernels(network, "auto", tau=5.0, t_X=50.0,
                     linearisation={"E": "frozen", "I": "as-is"})
    assert json.loads(H.attrs["solver"]) == {"E": "linear", "I": "neuron"}
    assert json.loads(_kernels(xkernels.Network.example(), "auto", tau=5.0)
                      .attrs["solver"]) == {"E": "linear", "I": "linear"}


def test_sweep_of_tau2_and_rate_equals_neuron(mechanisms_loaded):
    """A sweep over an E->E tau2 x the E rate with g_eff (every point changes the
    membrane): each point equals compute_kernels(solver="neuron") to 1e-9."""
    network = xkernels.Network.example()
    options = {"tau": 20.0, "g_eff": True, "averaging": "reference", "operating_point": "rest"}
    tau2 = [1.5, 3.0]
    rate = [1.0, 8.0]
    S = xkernels.sweep(network, {"connections[E->E].synapse.tau2": tau2,
                                 "populations[E].rate": rate}, laminar_probes(),
                       client="sync", progress=False, **options)
    for i, j in [(0, 1), (1, 0)]:
        point = network.with_values({"connections[E->E].synapse.tau2": tau2[i],
                                     "populations[E].rate": rate[j]})
        ref = _kernels(point, "neuron", **options)
        got = S.isel({S.dims[0]: i, S.dims[1]: j})
        assert _worst(got.values, ref.values) <= EXACT


def test_sweep_refuses_linear_for_active_as_is_before_writing(tmp_path, mechanisms_loaded):
    store = tmp_path / "s.zarr"
    with pytest.raises(ValueError, match=r"solver='linear'.*population 'E'.*nonlinear"):
        xkernels.sweep(xkernels.Network.example(active=True),
                       {"connections[E->E].synapse.weight": [1e-4, 2e-4]}, laminar_probes(),
                       tau=5.0, solver="linear", client="sync", progress=False,
                       store=store, operating_point="rest", averaging="reference",
                       linearisation="as-is")
    assert not store.exists()


def test_stepped_cable_equals_the_eigendecomposition():
    """SteppedCable (a large cell's first computation) against LinearCable on one cell:
    rest, responses, projections, kernels and depth-node sums to rounding."""
    from xkernels.engine.cable import LinearCable
    from xkernels.engine.cells import cable_cell
    from xkernels.engine.linearisation import delay_filter
    from xkernels.engine.stepped import SteppedCable
    from xkernels.engine.timeline import regular_grid

    network = xkernels.Network.example()
    pop = network.population("E")
    cell = cable_cell(pop.cell, pop, 2 ** -4, -65.0)
    cell.shift_g_pas(np.linspace(1e-5, 3e-5, cell.nseg))
    cable = cell.cable()
    modal, stepped = LinearCable(cable, 2 ** -4), SteppedCable(cable, 2 ** -4)
    e = np.linspace(-70.0, -60.0, cell.nseg)
    assert np.allclose(stepped.rest(e), modal.rest(e), rtol=1e-13, atol=0)
    rng = np.random.default_rng(3)
    w = rng.normal(size=(cell.nseg, 2))
    M = rng.normal(size=(3, cell.nseg))
    grid = regular_grid(2 ** -4, 80, fir=False)
    h = [delay_filter(c.delay, grid.delay_times) for c in network.connections[:2]]
    taus = [(0.2, 1.8), (0.1, 9.0)]

    def close(a, b):
        return np.abs(a - b).max() <= 1e-12 * np.abs(b).max()

    assert close(stepped.response(w[:, 0], 0.2, 1.8, 200), modal.response(w[:, 0], 0.2, 1.8, 200))
    assert close(stepped.projected(M, w, 0.1, 9.0, 200), modal.projected(M, w, 0.1, 9.0, 200))
    args = (grid.delay_centre, grid.lags, grid.n_response)
    assert close(stepped.kernels(M, list(w.T), taus, h, *args),
                 modal.kernels(M, list(w.T), taus, h, *args))
    nodes = rng.normal(size=(4, 3, cell.nseg))
    node_w = [rng.normal(size=(4, cell.nseg)) for _ in taus]
    assert close(stepped.node_kernels(nodes, node_w, taus, h, *args),
                 modal.node_kernels(nodes, node_w, taus, h, *args))
    cell.shift_g_pas(np.full(cell.nseg, -1.0))  # a negative leak: refused as LinearCable
    with pytest.raises(ValueError, match=r"unstable.*not positive definite"):
        SteppedCable(cell.cable(), 2 ** -4)


def test_large_cell_is_stepped(monkeypatch, mechanisms_loaded):
    """From STEPPED_FROM segments a cell is stepped (no eigendecomposition); equal to
    NEURON."""
    from xkernels.engine import stepped as stepped_module
    from xkernels.engine.stepped import SteppedCable

    monkeypatch.setattr(stepped_module, "STEPPED_FROM", 1)
    stepped = []
    kernels = SteppedCable.kernels
    monkeypatch.setattr(SteppedCable, "kernels",
                        lambda self, *a, **k: stepped.append(self) or kernels(self, *a, **k))
    spec = xkernels.Network.example().to_dict()
    spec["connections"][0]["synapse"]["weight"] *= 1.2345  # a membrane no test had (g_eff)
    network = xkernels.Network.from_dict(spec)
    ref = _kernels(network, "neuron")
    got = _kernels(network, "linear")
    assert stepped, "the new membrane of E was not stepped"
    assert _worst(got.values, ref.values) <= EXACT

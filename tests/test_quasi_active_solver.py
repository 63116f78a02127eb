"""solver="linear" for quasi-active membranes (xkernels.engine.quasi_active_cable)
against NEURON itself.

Every equivalence case computes the same kernels with solver="neuron" (two NEURON
simulations per response, the central difference at ±ε) and solver="linear" (the
linearised fixed step, voltage and gating states, in closed form): they must agree to
1e-9 relative per probe channel (measured: <= 3e-10, NEURON's central difference being
the larger error).  The cells: the ``active`` preset (our Na, K and an apical I_h),
NEURON's built-in ``hh`` with its rate tables (linear interpolation between whole mV),
and the M-current of the "own cell" example.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import laminar_probes, own_cell_network, readme_arguments, worst_channel_deviation

import xkernels
from xkernels.engine import membrane as mem
from xkernels.engine import prepare_kernels, simulate_kernels
from xkernels.engine.cells import LinearisedCell
from xkernels.engine.quasi_active_cable import QuasiActiveSolver, SteppedQuasiActive

EXACT = 1e-9


def _kernels(network, solver, **options):
    options = {"tau": 10.0, "averaging": "reference", "operating_point": "rest",
               "linearisation": "quasi-active", **options}
    plan = prepare_kernels(network, laminar_probes(),
                           xkernels.KernelOptions(solver=solver, **options))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate_kernels(network, plan)


def hh_with_tables(cell):
    """NEURON's built-in hh in the soma with its rate tables (NEURON's default), a leak
    everywhere."""
    from neuron import h

    h.usetable_hh = 1
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = 3e-4
        sec.e_pas = -65.0
        if "soma" in sec.name():
            sec.insert("hh")


def _with_cell(biophysics, **params):
    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"] = biophysics
        pop["cell"]["params"] = {**pop["cell"].get("params", {}), **params}
    return xkernels.Network.from_dict(spec)


def _current_based_active():
    spec = xkernels.Network.example(active=True).to_dict()
    spec["conductance_based"] = False
    for conn, weight in zip(spec["connections"], (0.05, -0.2, 0.05, -0.2)):
        conn["synapse"] = {**conn["synapse"], "syntype": "Exp2SynI", "weight": weight}
    return xkernels.Network.from_dict(spec)


NETWORKS = {"active": lambda: xkernels.Network.example(active=True),
            "hh_tables": lambda: _with_cell(hh_with_tables),
            "current_based": _current_based_active}
CASES = {
    "rest_geff": ("active", {}),
    "no_geff": ("active", {"g_eff": False}),
    "dt_0_1_fir": ("active", {"dt": 0.1, "fir": True}),
    "mean_input": ("active", {"operating_point": "mean-input"}),
    "depth": ("active", {"averaging": "depth", "depth_nodes": 3}),
    "depth_mean_input": ("active", {"averaging": "depth", "depth_nodes": 3,
                                    "operating_point": "mean-input"}),
    "hh_tables_dt_0_1": ("hh_tables", {"dt": 0.1}),
    "hh_tables_mean_input": ("hh_tables", {"operating_point": "mean-input"}),
    "current_based": ("current_based", {"g_eff": False}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_linear_equals_neuron(case, mechanisms_loaded):
    kind, options = CASES[case]
    network = NETWORKS[kind]()
    ref = _kernels(network, "neuron", **options)
    got = _kernels(network, "linear", **options)
    assert np.abs(ref.values).max() > 0 and np.isfinite(got.values).all()
    assert _worst(got.values, ref.values) <= EXACT, case
    assert set(json.loads(got.attrs["solver"]).values()) == {"linear"}
    rest = [json.loads(H.attrs["resting_state"]) for H in (ref, got)]
    for post in rest[0]:  # the same resting state: NEURON's settling ends near the
        # fixed point of its step that the linear solver finds by Newton's iteration
        assert rest[0][post]["mode"] == rest[1][post]["mode"] == "quasi-active"
        np.testing.assert_allclose(rest[0][post]["v"], rest[1][post]["v"], rtol=0,
                                   atol=1e-9)


_worst = worst_channel_deviation


@pytest.mark.slow
def test_own_cell_with_an_m_current(mechanisms_loaded):
    """A reconstructed cell (lambda rule) with a user's NMODL M-current (tau up to 1 s):
    the slowest gate of these tests."""
    network = own_cell_network()
    options = {"linearisation": {"E": "quasi-active", "I": "passive"}, "tau": 20.0}
    ref = _kernels(network, "neuron", **options)
    got = _kernels(network, "linear", **options)
    assert _worst(got.values, ref.values) <= EXACT


@pytest.mark.parametrize("dt", [2 ** -4, 0.1])
def test_closed_form_and_stepped_recursion_match_neuron(dt, mechanisms_loaded):
    """One cell's response: the closed form and the stepped recursion against NEURON's
    central difference (to 1e-9 of the peak), and against each other to rounding."""
    pop = xkernels.Network.example(active=True).population("E")
    weights = np.zeros(27)
    weights[[0, 5, 20]] = [0.3, -1.0, 2.0]
    responses = {}
    for solver in ("neuron", "linear"):
        with LinearisedCell(pop.cell, pop, dt, -65.0, solver) as cell, \
                mem.LinearisedMembrane(cell, "quasi-active", "E", [(0.2, 1.8)]) as membrane:
            responses[solver] = membrane.response(weights, 0.2, 1.8, 600, 0.0)
            if solver == "linear":
                closed = membrane.solver
                stepped = SteppedQuasiActive(closed.cable, dt)
    ref = responses["neuron"]
    assert isinstance(closed, QuasiActiveSolver) and closed.spectral_radius < 1
    assert np.abs(responses["linear"] - ref).max() <= EXACT * np.abs(ref).max()
    steps = stepped.response(weights, 0.2, 1.8, 600)
    assert np.abs(steps - responses["linear"]).max() <= 1e-12 * np.abs(ref).max()
    # the gating states are there: without them (frozen-like) the response differs
    assert closed.cable.n_states == 27 + 3


def test_quasi_active_of_a_passive_cell_is_lfpykernels(mechanisms_loaded):
    """On the README's passive cells the quasi-active membrane is the cell itself: with
    the linear solver, lfpykernels 0.2.0's kernel to 1e-6 (CDM, E -> E)."""
    import lfpykernels

    network = xkernels.Network.example()
    H = _kernels(network, "linear", tau=50.0, t_X=500.0, Vrest=-65.0, g_eff=True)
    reference = lfpykernels.KernelApprox(**readme_arguments("E"))
    expected = reference.get_kernel([lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)],
                                    X="E", Vrest=-65.0, dt=2 ** -4, t_X=500, tau=50,
                                    g_eff=True)["KernelApproxCurrentDipoleMoment"][2]
    ours = H.sel(X="E", Y="E", probe_channel="cdm:z").values
    assert np.abs(ours - expected).max() <= 1e-6 * np.abs(expected).max()


def _negative_leak(cell):
    for sec in cell.allseclist:
        sec.insert("pas")
        for seg in sec:
            seg.pas.g = -1e-4
            seg.pas.e = -65.0


def _negative_leak_and_idle_gates(cell):
    """A negative leak, and an h-channel of conductance 0: a gate that carries no
    current (the membrane is not passive, so it is linearised quasi-active)."""
    _negative_leak(cell)
    for sec in cell.allseclist:
        sec.insert("xkih")
        for seg in sec:
            seg.xkih.gbar = 0.0


@pytest.mark.parametrize("solver", ["linear", "auto"])
def test_unstable_quasi_active_membrane_refused(solver, mechanisms_loaded):
    """A membrane resting at an unstable point (a negative leak, started exactly at its
    reversal) is refused before any kernel, with the pole outside the unit circle
    (solver="neuron" integrates it as asked: the oracle); with only the leak (computed
    as "as-is": a passive membrane is its own small-signal limit), by the cable."""
    options = xkernels.KernelOptions(tau=5.0, g_eff=False, solver=solver,
                                     linearisation="quasi-active", averaging="reference")
    network = _with_cell(_negative_leak_and_idle_gates, v_init=-65.0)
    with pytest.raises(ValueError, match=r"population 'E'.*unstable.*-0\.0001 S/cm².*"
                                         r"pole.*mechanisms \['pas', 'xkih'\]"):
        simulate_kernels(network, prepare_kernels(network, laminar_probes(), options))
    network = _with_cell(_negative_leak, v_init=-65.0)
    with pytest.raises(ValueError, match=r"population 'E'.*unstable.*not positive definite"
                                         r".*-0\.0001 S/cm²"):
        simulate_kernels(network, prepare_kernels(network, laminar_probes(), options))


def test_a_system_that_is_not_neurons_step_is_refused(mechanisms_loaded, monkeypatch):
    """The check against NEURON's own steps: a stencil across the kinks of hh's rate
    tables (5 mV steps) reads a wrong system, and the linear solver refuses it."""
    monkeypatch.setattr(mem, "STENCIL_VOLTAGES", (5.0,))
    monkeypatch.setattr(mem, "QUASI_KEPT", 0)  # no solver kept from another test
    with pytest.raises(ValueError, match=r"population 'E'.*solver='linear' cannot be "
                                         r"exact.*\['hh', 'pas'\].*solver='neuron'"):
        _kernels(_with_cell(hh_with_tables), "linear", tau=2.0)


def _extracellular(cell):
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.e_pas = -65.0
        sec.insert("extracellular")


def test_extracellular_refused_by_the_linear_solver(mechanisms_loaded):
    with pytest.raises(ValueError, match=r"population 'E'.*'extracellular'.*changes the "
                                         r"cable equation.*solver='neuron'"):
        _kernels(_with_cell(_extracellular), "linear", tau=2.0)


def test_auto_takes_the_linear_solver(mechanisms_loaded):
    network = xkernels.Network.example(active=True)
    plan = prepare_kernels(network, laminar_probes(), xkernels.KernelOptions(
        tau=5.0, linearisation="quasi-active", averaging="reference"))
    assert plan.options.solver == "linear"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        H = simulate_kernels(network, plan)
    assert json.loads(H.attrs["solver"]) == {"E": "linear", "I": "linear"}


def test_stepped_recursion_through_the_pipeline(mechanisms_loaded, monkeypatch):
    """Where the eigenvectors are too ill-conditioned the recursion is stepped: forced
    here (every condition number is above 0), the kernels of both averagings still
    equal NEURON's to 1e-9."""
    from xkernels.engine import quasi_active_cable as qac

    network = xkernels.Network.example(active=True)
    stepped, built = qac.SteppedQuasiActive, []

    class Counted(stepped):
        def __init__(self, *args):
            built.append(1)
            stepped.__init__(self, *args)

    monkeypatch.setattr(qac, "CONDITION_MAX", 0.0)
    monkeypatch.setattr(qac, "SteppedQuasiActive", Counted)
    monkeypatch.setattr(mem, "QUASI_KEPT", 0)  # no solver kept from another test
    for averaging in ("depth", "reference"):
        options = {"tau": 5.0, "averaging": averaging, "depth_nodes": 2}
        ref = _kernels(network, "neuron", **options)
        got = _kernels(network, "linear", **options)
        assert _worst(got.values, ref.values) <= EXACT, averaging
    assert len(built) >= 4  # 2 populations x (2 nodes, or prepare + reference)


SLOW_REGENERATIVE_GATE = """
NEURON {
    SUFFIX qaslowgate
    NONSPECIFIC_CURRENT i
    RANGE gbar, e
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 2e-5 (S/cm2)  e = 50 (mV)  tau = 1000 (ms) }
ASSIGNED { v (mV) i (mA/cm2) }
STATE { s }
INITIAL { s = sinf(v) }
BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gbar * s * (v - e)
}
DERIVATIVE states { s' = (sinf(v) - s) / tau }
FUNCTION sinf(v (mV)) { sinf = 1 / (1 + exp(-(v + 65) / 2)) }
"""


def _regenerative(cell):
    """A leak of 1e-4 S/cm² and a slow inward gate whose steady-state slope conductance
    (-2.8e-4 S/cm²) outweighs it; at rest at -65 mV exactly (the leak reversal balances
    the gate's current there), the instantaneous conductance positive."""
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.g_pas, sec.e_pas = 1e-4, -65.0 - 0.5 * 115.0 * 2e-5 / 1e-4
        sec.insert("qaslowgate")


@pytest.mark.slow
def test_unstable_gating_dynamics_refused(tmp_path, mechanisms_loaded):
    """A membrane whose conductances are positive but whose slow gate is regenerative
    (a pole of the quasi-active step outside the unit circle, growth ~0.6 s: the cell
    stays at its equilibrium through the settling) is refused, naming the gate."""
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "qaslowgate.mod").write_text(SLOW_REGENERATIVE_GATE)
    spec = xkernels.Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"] = {**pop["cell"], "biophysics": _regenerative,
                       "mechanisms": str(tmp_path / "mod"),
                       "params": {**pop["cell"].get("params", {}), "v_init": -65.0}}
    network = xkernels.Network.from_dict(spec)
    with pytest.raises(ValueError, match=r"population 'E'.*unstable at its operating "
                                         r"point: its fixed-step system has the pole 1\.0001"
                                         r".*\['pas', 'qaslowgate'\].*'s_qaslowgate'.*"
                                         r"mechanism 'qaslowgate'"):
        _kernels(network, "linear", tau=2.0, g_eff=False)



def test_sparse_stepping_of_large_cells(mechanisms_loaded, monkeypatch):
    """From SPARSE_FROM segments the quasi-active system is stepped with sparse
    matrices (no dense system, no eigendecomposition): forced here for the active
    README cells, their kernels equal NEURON's to 1e-9 and the closed form's to
    rounding, the spectral radius (poles nearest 1, shift-invert) is the closed form's,
    and an unstable membrane is still refused with its pole."""
    from xkernels.engine import quasi_active_cable as qac

    network = xkernels.Network.example(active=True)
    closed = _kernels(network, "linear", tau=5.0)
    monkeypatch.setattr(qac, "SPARSE_FROM", 1)
    monkeypatch.setattr(mem, "QUASI_KEPT", 0)  # no solver kept from another test
    built = []
    monkeypatch.setattr(qac.SparseQuasiActive, "_stepped",
                        lambda self, *a, _f=qac.SparseQuasiActive._stepped:
                        built.append(self) or _f(self, *a))
    sparse = _kernels(network, "linear", tau=5.0)
    assert built and all(isinstance(s, qac.SparseQuasiActive) for s in built)
    assert _worst(sparse.values, _kernels(network, "neuron", tau=5.0).values) <= EXACT
    assert _worst(sparse.values, closed.values) <= 1e-11
    radius = built[0].spectral_radius
    reference = qac.QuasiActiveSolver(built[0].cable, built[0].dt).spectral_radius
    assert abs(radius - reference) <= 1e-12 and radius < 1
    unstable = _with_cell(_negative_leak_and_idle_gates, v_init=-65.0)
    with pytest.raises(ValueError, match=r"population 'E'.*unstable.*pole"):
        _kernels(unstable, "linear", tau=5.0, g_eff=False)

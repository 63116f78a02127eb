"""Membrane linearisation of active cells, checked against NEURON itself.

* quasi-active kernels are the limit of vanishing synaptic weight of the active cell,
  (R(εw) - R(-εw)) / 2ε, with R simulated here by plain NEURON from v_init;
* frozen kernels are those of a passive cell whose leak, per segment, is the resting
  total membrane conductance computed here analytically from the Hodgkin-Huxley and
  Kole et al. (2006) rate functions;
* on two cells: NEURON's built-in ``hh`` in the soma, and the ``active`` preset (our
  Na/K channels and an apical h-current);
* the resting state, provenance, cache key, per-population modes and bad input.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import xkernels
from xkernels.engine import linearisation as lin
from xkernels.engine.cells import LinearisedCell
from xkernels.engine.kernels import prepare_kernels, probes_matrix
from xkernels.engine.membrane import LinearisedMembrane
from xkernels.engine.plans import plan_population
from xkernels.spec import Network

DT = 2.0 ** -4
TAU = 10.0
#: settling of the reference simulations (ms of fixed steps from v_init)
T_SETTLE = 3000.0
PROBES = {"cdm": xkernels.CurrentDipoleMomentZ()}
#: one cell at the mean depth, at rest: the cells these tests build and settle themselves
REF = {"averaging": "reference", "operating_point": "rest"}


# --------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------
def insert_hh(cell):
    """NEURON's built-in Hodgkin-Huxley channels in the soma, a leak everywhere.

    hh's rate tables are switched off: their linear interpolation between whole mV has
    kinks, where a small-signal linearisation does not exist."""
    from neuron import h

    h.usetable_hh = 0
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = 3e-4
        sec.e_pas = -65.0
        if "soma" in sec.name():
            sec.insert("hh")


def insert_hh_only(cell):
    """Hodgkin-Huxley channels on every section and no ``pas`` leak."""
    for sec in cell.template.all:
        sec.insert("hh")


def insert_leak(cell, g, e, nseg):
    """A leak with per-segment conductance ``g`` (S/cm²) and reversal ``e`` (mV) on
    sections of ``nseg`` segments (set here: LFPy sets them after this function, and
    keeps per-segment values only if their number does not change)."""
    for sec, n in zip(cell.template.all, nseg):
        sec.nseg = n
    segments = [seg for sec in cell.template.all for seg in sec]
    assert len(segments) == len(g) == len(e)
    for sec in cell.template.all:
        sec.insert("pas")
    for seg, g_i, e_i in zip(segments, g, e):
        seg.pas.g = g_i
        seg.pas.e = e_i


def insert_pacemaker(cell):
    """Hodgkin-Huxley everywhere and a steady 0.5 nA into the soma: it never rests."""
    from neuron import h

    for sec in cell.template.all:
        sec.insert("hh")
        sec.insert("pas")
        sec.g_pas = 1e-6
        if "soma" in sec.name():
            cell.bias = h.IClamp(sec(0.5))
            cell.bias.amp = 0.5
            cell.bias.dur = 1e9
            cell.bias.delay = 0.0


def insert_extracellular(cell):
    for sec in cell.template.all:
        sec.insert("pas")
        sec.e_pas = -65.0
        sec.insert("extracellular")


def insert_nan_channel(cell):
    for sec in cell.template.all:
        sec.insert("pas")
        sec.e_pas = -65.0
        if "soma" in sec.name():
            sec.insert("hh")
            sec.gnabar_hh = float("nan")


def network(biophysics, *, with_I_cell: bool = False) -> Network:
    """The README network restricted to E cells (inputs from E and I) or with I cells
    too; ``biophysics`` for every cell."""
    spec = Network.example().to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"] = biophysics
    if not with_I_cell:
        spec["populations"][1]["cell"] = None
        spec["connections"] = [c for c in spec["connections"] if c["post"] == "E"]
    return Network.from_dict(spec)


CELLS = {"hh": insert_hh, "active": {"name": "active"}}


# --------------------------------------------------------------------------------------
# independent computations
# --------------------------------------------------------------------------------------
def hh_rates(v):
    """Hodgkin & Huxley (1952) steady states m, h, n at potentials v (mV)."""
    am = 0.1 * (v + 40.0) / (1.0 - np.exp(-(v + 40.0) / 10.0))
    bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
    ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
    bh = 1.0 / (1.0 + np.exp(-(v + 35.0) / 10.0))
    an = 0.01 * (v + 55.0) / (1.0 - np.exp(-(v + 55.0) / 10.0))
    bn = 0.125 * np.exp(-(v + 65.0) / 80.0)
    return am / (am + bm), ah / (ah + bh), an / (an + bn)


def ih_rates(v):
    """Kole et al. (2006) I_h activation: steady state and time constant (ms)."""
    a = 0.00643 * (v + 154.9) / (np.exp((v + 154.9) / 11.9) - 1.0)
    b = 0.193 * np.exp(v / 33.1)
    return a / (a + b), 1.0 / (a + b)


def segment_layout(net: Network, post: str = "E"):
    """Section kind, relative position and section length of every segment."""
    pop = net.population(post)
    with LinearisedCell(pop.cell, pop, DT, -65.0) as cell:
        kinds = [seg.sec.name().split(".")[-1].split("[")[0] for seg in cell.segments]
        xs = np.array([seg.x for seg in cell.segments])
        lengths = np.array([seg.sec.L for seg in cell.segments])
        geometry = cell.geometry
        nseg = [sec.nseg for sec in cell.cell.allseclist]
    return kinds, xs, lengths, geometry, nseg


def analytic_conductance(kind: str, net: Network, v: np.ndarray) -> np.ndarray:
    """Resting total membrane conductance (S/cm²) of every segment at potentials v."""
    kinds, xs, lengths, _, _ = segment_layout(net)
    soma = np.array([k == "soma" for k in kinds])
    m, h, n = hh_rates(v)
    g = np.full(v.size, 3e-4)
    if kind == "hh":  # built-in hh with its own leak gl = 3e-4 in the soma
        g = g + soma * (0.12 * m ** 3 * h + 0.036 * n ** 4 + 3e-4)
    else:  # active preset: our Na/K in the soma, I_h growing along the apical dendrite
        g = g + soma * (0.12 * m ** 3 * h + 0.036 * n ** 4)
        soma_length = lengths[soma][0]
        distance = np.where([k == "apic" for k in kinds], soma_length / 2 + xs * lengths, 0.0)
        g = g + 0.0002 * np.exp(distance / 323.0) * ih_rates(v)[0]
    return g


def plain_response(pop, weights, tau1, tau2, g_shift, n_after):
    """Membrane currents (nA) of the cell as it is, settled by fixed steps from v_init
    for T_SETTLE, after a volley of Exp2SynI synapses; and the potentials at the volley."""
    from neuron import h

    n_before = int(round(T_SETTLE / DT))
    with LinearisedCell(pop.cell, pop, DT, -65.0) as cell:
        cell.shift_g_pas(g_shift)
        synapses, netcons, recorders = [], [], []
        for seg, w in zip(cell.segments, weights):
            if w != 0.0:
                syn = h.Exp2SynI(seg)
                syn.tau1, syn.tau2 = tau1, tau2
                nc = h.NetCon(None, syn)
                nc.weight[0] = w
                synapses.append(syn)
                netcons.append(nc)
        for seg in cell.segments:
            vec = h.Vector()
            vec.record(seg._ref_i_membrane_, DT)
            recorders.append(vec)
        h.CVode().active(0)
        h.CVode().use_fast_imem(1)
        h.dt = DT
        h.finitialize(cell.cell.v_init)
        for nc in netcons:
            nc.event(n_before * DT)
        pc = h.ParallelContext()
        pc.psolve(n_before * DT)
        v_rest = np.array([seg.v for seg in cell.segments])
        pc.psolve((n_before + n_after) * DT)
        if h.t < (n_before + n_after - 0.5) * DT:
            h.fadvance()
        imem = np.array([vec.as_numpy()[n_before: n_before + n_after + 1]
                         for vec in recorders])
        del synapses, netcons, recorders
    return imem, v_rest


def relative(ours, ref):
    scale = np.abs(ref).max()
    assert scale > 0
    return float(np.abs(ours - ref).max() / scale)


# --------------------------------------------------------------------------------------
# the channels of the active preset
# --------------------------------------------------------------------------------------
def test_preset_channels_follow_the_published_kinetics(mechanisms_loaded):
    """xkna/xkkdr gates equal NEURON's own hh at every potential and temperature; xkih
    follows the Kole et al. (2006) rate functions."""
    from neuron import h

    sec = h.Section(name="channels")
    celsius, usetable = h.celsius, h.usetable_hh
    h.usetable_hh = 0  # hh's rate table clips below -100 mV and interpolates
    try:
        for name in ("hh", "xkna", "xkkdr", "xkih"):
            sec.insert(name)
        seg = sec(0.5)
        for h.celsius in (6.3, 22.0, 34.0):
            for v in (-120.0, -83.3, -65.0, -55.0, -40.0, -21.7, 10.0, 40.0):
                h.finitialize(v)
                assert seg.xkna.m == pytest.approx(seg.hh.m, rel=1e-12)
                assert seg.xkna.h == pytest.approx(seg.hh.h, rel=1e-12)
                assert seg.xkkdr.n == pytest.approx(seg.hh.n, rel=1e-12)
                assert seg.xkna.mtau == pytest.approx(seg.hh.mtau, rel=1e-12)
                assert seg.xkna.htau == pytest.approx(seg.hh.htau, rel=1e-12)
                assert seg.xkkdr.ntau == pytest.approx(seg.hh.ntau, rel=1e-12)
                minf, mtau = ih_rates(v)
                assert seg.xkih.minf == pytest.approx(minf, rel=1e-12)
                assert seg.xkih.mtau == pytest.approx(mtau, rel=1e-12)
    finally:
        h.celsius, h.usetable_hh = celsius, usetable
        h.delete_section(sec=sec)


def test_active_example_coexists_with_the_passive_one():
    passive, active = Network.example(), Network.example(active=True)
    assert passive.population("E").cell.biophysics["name"] == "passive"
    assert active.population("E").cell.biophysics == {
        "name": "active", "g_pas": 0.0003, "e_pas": None, "gnabar": 0.12, "gkbar": 0.036,
        "gh": 0.0002, "gh_lambda": 323.0, "ena": 50.0, "ek": -77.0, "eh": -45.0}
    assert Network.from_json(active.to_json()) == active
    spec = active.to_dict()
    spec["populations"][0]["cell"]["biophysics"]["gh"] = -1.0
    with pytest.raises(ValueError, match=r"biophysics.gh must be >= 0, got -1.0"):
        Network.from_dict(spec)


# --------------------------------------------------------------------------------------
# exactness
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=sorted(CELLS))
def active_case(request):
    """A cell, its quasi-active and frozen kernels, and the plan of its inputs."""
    net = network(CELLS[request.param])
    quasi = xkernels.compute_kernels(net, PROBES, **REF, tau=TAU, linearisation="quasi-active")
    frozen = xkernels.compute_kernels(net, PROBES, **REF, tau=TAU, linearisation="frozen")
    rest = json.loads(frozen.attrs["resting_state"])["E"]
    v_rest = np.array(rest["v"])
    _, _, _, geometry, _ = segment_layout(net)
    plan = prepare_kernels(net, PROBES, xkernels.KernelOptions(**REF, dt=DT, tau=TAU))
    inputs = plan_population(net, "E", geometry, v_rest, True, plan.grid)
    matrix = probes_matrix(plan.probes, geometry, net.population("E"), 2000, 1234)
    return {"kind": request.param, "net": net, "quasi": quasi, "frozen": frozen,
            "rest": rest, "inputs": inputs, "matrix": matrix, "n": plan.grid.n_response,
            "grid": plan.grid}


def test_resting_state_is_where_the_cell_comes_to_rest(active_case):
    quasi_rest = json.loads(active_case["quasi"].attrs["resting_state"])["E"]
    # the linear solver's quasi-active rest: the fixed point of NEURON's step by
    # Newton's iteration, which settling (the frozen membrane's rest) ends near
    np.testing.assert_allclose(quasi_rest["v"], active_case["rest"]["v"], rtol=0, atol=1e-9)
    pop = active_case["net"].population("E")
    _, v_plain = plain_response(pop, np.zeros(len(quasi_rest["v"])), 0.2, 1.8,
                                active_case["inputs"].g_shift, 1)
    np.testing.assert_allclose(active_case["rest"]["v"], v_plain, rtol=0, atol=1e-6)
    assert np.ptp(v_plain) > 1e-3  # not a trivially uniform rest


@pytest.mark.parametrize("pre", ["E", "I"])
def test_quasi_active_is_the_limit_of_vanishing_weight(active_case, pre):
    """(R(εw) - R(-εw)) / 2ε of the cell simulated as it is converges to the
    quasi-active kernel (O(ε²)) and is within 1e-4 of it at ε = 1e-4."""
    pop = active_case["net"].population("E")
    item = active_case["inputs"].inputs[pre]
    ours = active_case["quasi"].sel(X=pre, Y="E").values
    errors = []
    for eps in (1e-3, 1e-4):
        up, _ = plain_response(pop, eps * item.weights, item.tau1, item.tau2,
                               active_case["inputs"].g_shift, active_case["n"])
        down, _ = plain_response(pop, -eps * item.weights, item.tau1, item.tau2,
                                 active_case["inputs"].g_shift, active_case["n"])
        grid = active_case["grid"]
        limit = lin.finish_kernel(active_case["matrix"] @ ((up - down) / (2 * eps)),
                                  item.h_delay, grid.delay_centre, grid.lags)
        errors.append(relative(ours, limit))
    assert errors[1] <= 1e-4, errors
    assert errors[1] < errors[0] / 10, errors  # converging to it, not merely near


def test_frozen_conductances_are_the_analytic_resting_conductances(active_case):
    """g_eff off: the frozen conductance of every segment is, at the resting potential,
    gnabar m∞³ h∞ + gkbar n∞⁴ (+ gl) + g_pas (+ gh m_h∞), from the published rates."""
    net = active_case["net"]
    H = xkernels.compute_kernels(net, PROBES, **REF, tau=1.0, g_eff=False, linearisation="frozen")
    rest = json.loads(H.attrs["resting_state"])["E"]
    v = np.array(rest["v"])
    expected = analytic_conductance(active_case["kind"], net, v)
    np.testing.assert_allclose(rest["g"], expected, rtol=1e-9)
    soma_share = (np.array(rest["g"]) - 3e-4).max() / 3e-4
    assert soma_share > 0.5  # the channels matter: not a leak-dominated check


def test_frozen_is_the_passive_cell_with_resting_conductances(active_case):
    """The frozen kernel equals that of a passive cell whose leak is the analytic
    resting conductance, with the same per-segment Vrest for the synapses."""
    net = active_case["net"]
    v = np.array(active_case["rest"]["v"])
    g = analytic_conductance(active_case["kind"], net, v)
    cell = f"populations[{net.names[0]}].cell"
    passive = net.with_values({f"{cell}.biophysics": insert_leak,
                               f"{cell}.biophysics_args": {"g": g.tolist(), "e": v.tolist(),
                                                           "nseg": segment_layout(net)[-1]}})
    H_ref = xkernels.compute_kernels(passive, PROBES, **REF, tau=TAU, Vrest={"E": v.tolist()},
                                     linearisation="as-is")  # "auto": quasi-active
    assert relative(active_case["frozen"].values, H_ref.values) <= 1e-6


def test_linearisations_differ_for_an_active_cell(active_case):
    quasi, frozen = active_case["quasi"].values, active_case["frozen"].values
    assert relative(frozen, quasi) > 1e-3


# --------------------------------------------------------------------------------------
# passive cells, modes per population
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def passive_as_is():
    return xkernels.compute_kernels(Network.example(), PROBES, **REF, tau=TAU)


@pytest.mark.parametrize("mode", ["passive", "frozen", "quasi-active"])
def test_every_mode_of_a_passive_cell_is_the_cell_itself(passive_as_is, mode):
    H = xkernels.compute_kernels(Network.example(), PROBES, **REF, tau=TAU, linearisation=mode)
    assert relative(H.values, passive_as_is.values) <= 1e-6
    if mode == "quasi-active":  # a passive membrane is its own small-signal limit
        np.testing.assert_array_equal(H.values, passive_as_is.values)
        assert "resting_state" not in H.attrs  # computed as "as-is": nothing settled
        return
    rest = json.loads(H.attrs["resting_state"])
    assert set(rest) == {"E", "I"}
    np.testing.assert_allclose(rest["E"]["v"], -65.0, atol=1e-6)


def test_passive_mode_of_the_active_example_is_the_passive_example(passive_as_is):
    H = xkernels.compute_kernels(Network.example(active=True), PROBES, **REF, tau=TAU,
                                 linearisation="passive")
    assert relative(H.values, passive_as_is.values) <= 1e-12


def test_modes_per_population():
    net = Network.example(active=True)
    both = xkernels.compute_kernels(net, PROBES, **REF, tau=2.0,
                                    linearisation={"E": "quasi-active", "I": "frozen"})
    assert json.loads(both.attrs["linearisation"]) == {"E": "quasi-active", "I": "frozen"}
    rest = json.loads(both.attrs["resting_state"])
    assert rest["E"]["mode"] == "quasi-active" and rest["I"]["mode"] == "frozen"
    assert "g" in rest["I"] and "g" not in rest["E"]
    quasi = xkernels.compute_kernels(net, PROBES, **REF, tau=2.0, linearisation="quasi-active")
    frozen = xkernels.compute_kernels(net, PROBES, **REF, tau=2.0, linearisation="frozen")
    np.testing.assert_array_equal(both.sel(Y="E"), quasi.sel(Y="E"))
    np.testing.assert_array_equal(both.sel(Y="I"), frozen.sel(Y="I"))
    hashes = {both.attrs["content_hash"], quasi.attrs["content_hash"],
              frozen.attrs["content_hash"]}
    assert len(hashes) == 3


def test_as_is_keeps_its_content_hash_and_the_store_tells_modes_apart(tmp_path):
    net = Network.example(active=True)
    options = xkernels.KernelOptions(**REF, dt=DT, tau=1.0, n_positions=10, seed=1,
                                     linearisation="as-is")
    default = prepare_kernels(net, PROBES, options)
    as_is = prepare_kernels(net, PROBES,
                            options.replace(linearisation={"E": "as-is", "I": "as-is"}))
    assert as_is.digest == default.digest
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(net, PROBES, **REF, tau=1.0, linearisation="frozen", store=store)
    again = xkernels.compute_kernels(net, PROBES, **REF, tau=1.0, linearisation="frozen",
                                     store=store)
    assert again.attrs["resting_state"] == H.attrs["resting_state"]
    np.testing.assert_array_equal(again.values, H.values)
    with pytest.raises(ValueError, match="holds kernels of different inputs"):
        xkernels.compute_kernels(net, PROBES, **REF, tau=1.0, linearisation="quasi-active",
                                 store=store)


# --------------------------------------------------------------------------------------
# bad input: refused before any kernel is simulated, no sections left behind
# --------------------------------------------------------------------------------------
class _Responses:
    def __init__(self, monkeypatch):
        self.calls = 0
        originals = {cls: cls.__dict__[name] for cls, name in
                     ((LinearisedMembrane, "response"), (LinearisedCell, "synaptic_response"))}

        def counting(original):
            def counted(obj, *args, **kwargs):
                self.calls += 1
                return original(obj, *args, **kwargs)
            return counted

        monkeypatch.setattr(LinearisedMembrane, "response",
                            counting(originals[LinearisedMembrane]))
        monkeypatch.setattr(LinearisedCell, "synaptic_response",
                            counting(originals[LinearisedCell]))


BAD_MODES = [
    ("active", ValueError, "linearisation must be one of ['auto', 'as-is', 'passive', "
                           "'frozen', 'quasi-active'], got 'active'"),
    ({"E": "frozen"}, ValueError, "without an entry for population 'I'"),
    ({"E": "frozen", "I": "frozen", "X": "frozen"}, ValueError,
     "linearisation keys must be postsynaptic populations among ['E', 'I'], got ['X']"),
    ({"E": "frozen", "I": "linear"}, ValueError, "linearisation['I'] must be one of"),
    (None, TypeError, "linearisation must be one of"),
]


@pytest.mark.parametrize("mode, exc, message", BAD_MODES)
def test_bad_modes_refused_before_anything(mode, exc, message, monkeypatch):
    built = []
    monkeypatch.setattr(LinearisedCell, "__init__",
                        lambda *a, **k: built.append(1) or (_ for _ in ()).throw(
                            AssertionError("a cell was built")))
    with pytest.raises(exc) as info:
        xkernels.compute_kernels(Network.example(active=True), PROBES, **REF, linearisation=mode)
    assert message in str(info.value)
    assert not built


BAD_CELLS = [
    (insert_pacemaker, "frozen",
     r"linearisation='frozen' of population 'I': the cell has no resting state: segment "
     r"\S+\[0\]\(\S+\) still changed by \S+ mV"),
    (insert_hh_only, "passive",
     r"linearisation='passive' of population 'I': segment \S*soma\[0\]\(0.5\) has no "
     r"leak mechanism 'pas' to keep \(its mechanisms: \['hh'\]\)"),
    (insert_extracellular, "frozen",
     r"linearisation='frozen' of population 'I': segment \S*soma\[0\]\(0.5\) has the "
     r"mechanism 'extracellular'"),
    (insert_nan_channel, "quasi-active",
     r"linearisation='quasi-active' of population 'I': mechanism 'hh' of segment "
     r"\S*soma\[0\]\(0.5\) has gnabar_hh = nan: NEURON cannot evaluate its currents"),
]


@pytest.mark.parametrize("biophysics, mode, message", BAD_CELLS,
                         ids=["no rest", "no leak", "extracellular", "nan"])
def test_cells_that_cannot_be_linearised_are_refused_before_any_kernel(
        biophysics, mode, message, monkeypatch):
    from neuron import h

    spec = Network.example(active=True).to_dict()
    spec["populations"][1]["cell"]["biophysics"] = biophysics  # I: the last cell built
    net = Network.from_dict(spec)
    responses = _Responses(monkeypatch)
    with pytest.raises(ValueError, match=message):
        xkernels.compute_kernels(net, PROBES, **REF, tau=1.0, g_eff=False, linearisation=mode)
    assert responses.calls == 0
    assert len(list(h.allsec())) == 0


def test_no_sections_left_behind():
    from neuron import h

    xkernels.compute_kernels(Network.example(active=True), PROBES, **REF, tau=1.0,
                             linearisation={"E": "quasi-active", "I": "frozen"})
    assert len(list(h.allsec())) == 0


def test_hybrid_cells_get_the_same_active_membrane():
    """The ground truth's cells (engine.network_cell) are built with the same preset,
    I_h gradient included, as the kernels' cells."""
    from xkernels.engine.cells import template_cell

    net = Network.example(active=True)
    pop = net.population("E")
    with LinearisedCell(pop.cell, pop, DT, -65.0) as cell:
        expected = [(seg.pas.g, seg.xkih.gbar) for seg in cell.segments]
    built = template_cell(pop.cell, pop, DT, -65.0)
    try:
        got = [(seg.pas.g, seg.xkih.gbar) for sec in built.allseclist for seg in sec]
        soma = [sec for sec in built.allseclist if "soma" in sec.name()][0]
        assert soma(0.5).xkna.gbar == 0.12 and soma(0.5).xkkdr.gbar == 0.036
    finally:
        built.strip_hoc_objects()
        from neuron import h

        h("forall delete_section()")
    assert got == expected
    assert len({g for _, g in got}) > 10  # the apical gradient is there

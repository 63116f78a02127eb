"""averaging="depth": soma depths integrated jointly with placement and forward model.

Real NEURON simulations of the README network (or variants of it), compared with the
exact limits the method must reach: the identity at scale 0, the reference when
placement does not depend on depth, convergence in the node count, the superposition
equal to per-node simulation, and bad input refused before anything is simulated.
"""

from __future__ import annotations

import copy
import json

import lfpykit
import numpy as np
import pytest
from lfpykit import lfpcalc

import xkernels
from xkernels import KernelOptions
from xkernels.engine import depth_average as avg
from xkernels.engine.kernels import prepare_kernels
from xkernels.probes import lateral
from xkernels.probes.depth import hermite_table, kink_moments
from xkernels.probes.depth_terms import contact_terms
from xkernels.probes.population_average import probe_depth_rule, probe_matrix

GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
OPTIONS = {"dt": 2 ** -4, "tau": 20.0, "t_X": 200.0, "Vrest": -65.0}
#: the options of the native API: OPTIONS with the synapses linearised at rest (both
#: averaging modes are compared at the same operating point here)
NATIVE = {**OPTIONS, "operating_point": "rest"}
#: and with LFPykernels' population averaging
REFERENCE = {**NATIVE, "averaging": "reference"}


def probes(sigma_z: float = 75.0) -> dict:
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, **{**GCP, "sigma_z": sigma_z}),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def network_with(**changes) -> xkernels.Network:
    """The README network with population fields and/or placements replaced."""
    data = copy.deepcopy(xkernels.Network.example().to_dict())
    for pop in data["populations"]:
        pop.update(changes.get("population", {}))
    if "placement" in changes:
        for conn in data["connections"]:
            conn["placement"] = copy.deepcopy(changes["placement"])
    return xkernels.Network.from_dict(data)


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / np.abs(b).max())


# --------------------------------------------------------------------------------------
# the quadrature itself (no NEURON)
# --------------------------------------------------------------------------------------
def test_kink_moments_match_brute_force():
    sigma = 75.0
    x = np.linspace(-12, 12, 48001)
    weight = np.exp(-x * x / 2) / np.sqrt(2 * np.pi) * (x[1] - x[0])
    h = hermite_table(x, 7)
    for width in (0.0, 30.0):
        for d in (-260.0, -10.0, 0.0, 45.0):
            u = d - sigma * x
            if width == 0.0:
                f = np.abs(u)
            else:
                t = np.linspace(-9, 9, 361)
                g = np.exp(-t * t / 2) / np.sqrt(2 * np.pi) * (t[1] - t[0])
                f = np.abs(u[:, None] - width * t[None, :]) @ g
            np.testing.assert_allclose(kink_moments(np.array(d), sigma, width, 7),
                                       h @ (f * weight), rtol=0, atol=2e-6 * sigma)


def _source_potential(line: bool, start, end, contact, sigma: float = 0.3) -> float:
    """Potential (mV per nA) of a point source at the segment midpoint or of a line
    source along it (the formula lfpcalc evaluates), scalar math for the quadrature."""
    import math

    if not line:
        mid = [(a + b) / 2 for a, b in zip(start, end)]
        return 1.0 / (4 * math.pi * sigma * math.dist(mid, contact))
    length = math.dist(start, end)
    u = [(b - a) / length for a, b in zip(start, end)]
    rel_ = [c - a for a, c in zip(start, contact)]
    along = sum(x * y for x, y in zip(rel_, u))
    rho = math.sqrt(max(sum(x * x for x in rel_) - along * along, 1e-24))
    return (math.asinh(along / rho) - math.asinh((along - length) / rho)) / \
        (4 * math.pi * sigma * length)


def test_disc_average_of_point_and_line_sources_is_the_lateral_mean():
    """The closed-form disc average equals the point/line-source potential averaged over
    the cell's lateral positions in the disc (adaptive 2-D quadrature), with the foot
    point inside, near the rim and outside the disc, and contacts at the depth of a
    segment (line sources are split there: exact at the reference depth)."""
    from scipy import integrate

    z = np.array([[-10, 10], [10, 60], [60, 110]], float)
    x = np.array([[0, 0], [0, 20], [20, 45]], float)
    geom = lfpykit.CellGeometry(x=x, y=np.zeros_like(x), z=z, d=np.full(3, 2.0))
    contacts = np.array([[0, 0, 80.0], [140, 10, 30.0], [300, 0, 20.0]])
    R = 150.0
    # the scalar formulas are lfpcalc's
    for line, method in ((False, lfpcalc.calc_lfp_pointsource),
                         (True, lfpcalc.calc_lfp_linesource)):
        value = method(cell_x=geom.x, cell_y=geom.y, cell_z=geom.z, x=contacts[1, 0],
                       y=contacts[1, 1], z=contacts[1, 2], sigma=0.3,
                       r_limit=np.full(3, 1e-9))
        np.testing.assert_allclose(value, [_source_potential(
            line, (geom.x[j, 0], 0.0, geom.z[j, 0]), (geom.x[j, 1], 0.0, geom.z[j, 1]),
            contacts[1]) for j in range(3)], rtol=1e-12)
    for line, dz in ((False, -17.0), (True, 0.0)):
        ours = contact_terms(contacts, 0.3, geom, {"radius": R}, line).exact(dz)
        for e, j in ((0, 2), (1, 0), (1, 1), (2, 2)):
            def f(r, t, e=e, j=j, dz=dz, line=line):
                ox, oy = r * np.cos(t), r * np.sin(t)
                start = (geom.x[j, 0] - ox, -oy, geom.z[j, 0] + dz)
                end = (geom.x[j, 1] - ox, -oy, geom.z[j, 1] + dz)
                return r * _source_potential(line, start, end, contacts[e])
            value = integrate.dblquad(f, 0, 2 * np.pi, 0, R, epsabs=0, epsrel=1e-10)[0]
            assert abs(ours[e, j] / (value / (np.pi * R * R)) - 1) < 1e-7, (line, e, j)


def test_gauss_cylinder_depth_rule_reproduces_the_reference_matrix():
    """Currents that do not depend on depth: Σ_n Q_n = E[M(s)] = the reference matrix
    (sigma_z = scale: the bare disc integrated over depth; sigma_z > scale: residual)."""
    z = np.stack([np.r_[-10, np.arange(10, 1000, 40.0)], np.r_[10, np.arange(50, 1040, 40.0)]], 1)
    n = len(z)
    geom = lfpykit.CellGeometry(x=np.zeros((n, 2)), y=np.zeros((n, 2)), z=z, d=np.ones(n))
    pop = {"radius": 150.0, "loc": 0.0, "scale": 75.0}
    for sigma_z in (75.0, 110.0):
        probe = xkernels.GaussCylinderPotential(**{**GCP, "sigma_z": sigma_z})
        ref = probe_matrix(probe, geom, pop)
        for nodes in (1, 3, 6):
            rule = probe_depth_rule(probe, geom, pop, nodes)
            assert rule.matrices.shape == (nodes, 13, n)
            assert rel(rule.matrices.sum(axis=0), ref) < 1e-11
    # polynomial currents of degree < N are integrated exactly, kinks included
    probe = xkernels.GaussCylinderPotential(**GCP)
    rule = probe_depth_rule(probe, geom, pop, 4)
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(4, n))
    current = sum(coef[k] * (rule.offsets[:, None] / 75.0) ** k for k in range(4))
    ours = np.einsum("ncj,nj->c", rule.matrices, current)
    s = np.linspace(-900, 900, 36001)
    weight = np.exp(-s * s / (2 * 75.0 ** 2)) / np.sqrt(2 * np.pi) / 75.0 * (s[1] - s[0])
    u = GCP["z"][None, :, None] - z.mean(1)[None, None, :] - s[:, None, None]
    M = (np.sqrt(u * u + 150.0 ** 2) - np.abs(u)) / (2 * 0.3 * np.pi * 150.0 ** 2)
    I_s = sum(coef[k][None] * (s[:, None] / 75.0) ** k for k in range(4))
    brute = np.einsum("scj,sj,s->c", M, I_s, weight)
    assert rel(ours, brute) < 1e-6


# --------------------------------------------------------------------------------------
# kernels (real NEURON)
# --------------------------------------------------------------------------------------
def eeg_meg():
    return {"eeg": xkernels.EEGProbe(np.array([[0.0, 0.0, 90000.0], [20000.0, 0.0, 87000.0]])),
            "meg": xkernels.MEGProbe(np.array([[10000.0, 0.0, 88000.0]]))}


@pytest.mark.parametrize("solver", ["neuron", "linear"])
def test_scale_zero_is_the_identity(solver, mechanisms_loaded):
    """A population with scale 0 has one depth node: the kernels of "reference", bit for
    bit with NEURON (GaussCylinder, CDM, EEG, MEG; g_eff on); to rounding with the
    linear solver, whose reference path applies the delays and the window to the modal
    responses (the depth path to the node sums)."""
    net = network_with(population={"scale": 0.0})
    named = {**probes(), **eeg_meg()}
    ref = xkernels.compute_kernels(net, named, g_eff=True, solver=solver, **REFERENCE)
    depth = xkernels.compute_kernels(net, named, g_eff=True, averaging="depth",
                                     depth_nodes=7, solver=solver, **NATIVE)
    if solver == "neuron":
        np.testing.assert_array_equal(depth.values, ref.values)
    else:
        np.testing.assert_allclose(depth.values, ref.values, rtol=0,
                                   atol=1e-12 * np.abs(ref.values).max())
    assert depth.attrs["averaging"] == "depth" and depth.attrs["depth_nodes"] == 7
    assert ref.attrs["averaging"] == "reference" and "depth_nodes" not in ref.attrs
    assert depth.attrs["content_hash"] != ref.attrs["content_hash"]


@pytest.mark.parametrize("mode", ["frozen", "quasi-active"])
def test_scale_zero_is_the_identity_for_linearised_active_cells(mode, mechanisms_loaded):
    """The same with an active membrane linearised (a new cell per node, settled and
    linearised with the node's g_eff shift): scale 0 gives the reference kernels."""
    data = xkernels.Network.example(active=True).to_dict()
    for pop in data["populations"]:
        pop["scale"] = 0.0
    net = xkernels.Network.from_dict(data)
    ref = xkernels.compute_kernels(net, probes(), g_eff=True, linearisation=mode, **REFERENCE)
    depth = xkernels.compute_kernels(net, probes(), g_eff=True, linearisation=mode,
                                     averaging="depth", depth_nodes=3, **NATIVE)
    np.testing.assert_allclose(depth.values, ref.values, rtol=0,
                               atol=1e-12 * np.abs(ref.values).max())


def test_depth_independent_placement_agrees_with_reference(mechanisms_loaded):
    """Synapses placed uniformly by area on the apical dendrite, at every depth: the
    currents do not depend on depth, so both modes agree to the quadrature error of the probe
    (GaussCylinder, CDM, EEG) and to the Monte Carlo error of the reference's random
    cell positions (point and line sources)."""
    uniform = {"sections": ["apic"], "weights": [1.0],
               "densities": [{"name": "uniform", "params": {"loc": -1e5, "scale": 2e5}}]}
    net = network_with(placement=uniform)
    named = {**probes(), **eeg_meg()}
    ref = xkernels.compute_kernels(net, named, g_eff=True, **REFERENCE)
    depth = xkernels.compute_kernels(net, named, g_eff=True, averaging="depth", depth_nodes=3,
                                     **NATIVE)
    for name in named:
        assert rel(depth.xk.probe(name), ref.xk.probe(name)) < 1e-9, name
    # contact probes: deterministic disc average vs the reference's random positions
    z = np.linspace(900.0, -100.0, 6)
    contacts = {"point": lfpykit.PointSourcePotential(cell=None, x=np.zeros(6), y=np.zeros(6),
                                                      z=z, sigma=0.3),
                "line": lfpykit.LineSourcePotential(cell=None, x=np.full(6, 40.0),
                                                    y=np.zeros(6), z=z, sigma=0.3)}
    ref = xkernels.compute_kernels(net, contacts, g_eff=False, n_positions=20000, **REFERENCE)
    depth = xkernels.compute_kernels(net, contacts, g_eff=False, averaging="depth",
                                     depth_nodes=3, **NATIVE)
    for name in contacts:
        assert rel(depth.xk.probe(name), ref.xk.probe(name)) < 0.03, name
    # and the deterministic average does not depend on n_positions/seed
    again = xkernels.compute_kernels(net, contacts, g_eff=False, averaging="depth",
                                     depth_nodes=3, n_positions=10, seed=7, **NATIVE)
    np.testing.assert_array_equal(again.values, depth.values)


@pytest.fixture(scope="module")
def by_nodes():
    """README network, depth averaging with 1..15 nodes (g_eff on)."""
    net = xkernels.Network.example()
    return {n: xkernels.compute_kernels(net, probes(), g_eff=True, averaging="depth",
                                        depth_nodes=n, **NATIVE) for n in (3, 5, 9, 15)}


def test_convergence_in_the_node_count(by_nodes):
    converged = by_nodes[15]
    errors = [rel(by_nodes[n].values, converged.values) for n in (3, 5, 9)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-3
    # the depth-consistent kernels are not the reference ones (placement is in depth)
    ref = xkernels.compute_kernels(xkernels.Network.example(), probes(), g_eff=True,
                                   **REFERENCE)
    ratio = (converged.std("tau") / ref.std("tau")).xk.probe("lfp")
    assert float(abs(ratio - 1).max()) > 0.1


def test_superposition_equals_per_node_simulation(mechanisms_loaded):
    """Passive membrane without g_eff: the same at every node, so the currents of every
    node can be superposed from unit responses; the kernels are those of simulating every
    node (to rounding)."""
    from xkernels.engine.cells import LinearisedCell
    from xkernels.spec.options import leak_reversal_of

    net = xkernels.Network.example()
    plan = prepare_kernels(net, probes(), KernelOptions(g_eff=False, seed=1, averaging="depth",
                                                        depth_nodes=4, **NATIVE))
    pop = net.population("I")

    def build():
        return LinearisedCell(pop.cell, pop, plan.options.dt, leak_reversal_of(-65.0))

    out = {method: avg.depth_kernels(net, "I", plan, build, method=method)
           for method in ("nodes", "superposition")}
    for pre in ("E", "I"):
        assert rel(out["superposition"][pre], out["nodes"][pre]) < 1e-9
    plan_g = prepare_kernels(net, probes(), KernelOptions(seed=1, averaging="depth",
                                                          depth_nodes=4, **NATIVE))
    with pytest.raises(ValueError, match="same at every depth node"):
        avg.depth_kernels(net, "I", plan_g, build, method="superposition")
    # a linearised membrane ("passive": the same as-is cell here) gives the same kernels
    passive = avg.depth_kernels(net, "I", plan, build, mode="passive")
    for pre in ("E", "I"):
        assert rel(passive[pre], out["nodes"][pre]) < 1e-9


def test_sweep_fast_path_and_store(tmp_path, mechanisms_loaded):
    net = xkernels.Network.example()
    grid = {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]}
    kw = dict(g_eff=False, averaging="depth", depth_nodes=3, client="sync", progress=False,
              **NATIVE)
    fast = xkernels.sweep(net, grid, probes(), method="superposition", **kw)
    slow = xkernels.sweep(net, grid, probes(), method="simulate", **kw)
    assert rel(fast.values, slow.values) < 1e-9
    single = xkernels.compute_kernels(net, probes(), g_eff=False, averaging="depth",
                                      depth_nodes=3, **NATIVE)
    np.testing.assert_allclose(slow.isel(weight_E_E=1).values, single.values, rtol=0,
                               atol=1e-12 * np.abs(single.values).max())
    with pytest.raises(ValueError, match="does not change with depth"):
        xkernels.sweep(net, grid, probes(), method="superposition",
                       **{**kw, "g_eff": True})
    # the mode is part of the cache key and of the provenance
    store = tmp_path / "k.zarr"
    H = xkernels.compute_kernels(net, probes(), g_eff=False, averaging="depth",
                                 depth_nodes=3, store=store, **NATIVE)
    back = xkernels.open_kernels(store)
    assert back.attrs["averaging"] == "depth" and back.attrs["depth_nodes"] == 3
    np.testing.assert_array_equal(back.values, H.values)
    with pytest.raises(ValueError, match="different inputs"):
        xkernels.compute_kernels(net, probes(), g_eff=False, store=store, **REFERENCE)
    with pytest.raises(ValueError, match="different inputs"):
        xkernels.compute_kernels(net, probes(), g_eff=False, averaging="depth",
                                 depth_nodes=5, store=store, **NATIVE)
    summary = xkernels.describe(store)
    assert "    averaging: depth\n" in summary and "    depth_nodes: 3\n" in summary


def test_sweep_fast_path_uses_each_points_vrest(mechanisms_loaded):
    """Depth nodes of a swept Vrest are linearised at the point's Vrest (the fast path
    used the base Vrest at every node: -75 mV came out mirrored, 2.0 relative off)."""
    net = xkernels.Network.example()
    kw = dict(g_eff=False, averaging="depth", depth_nodes=3, **NATIVE)
    fast = xkernels.sweep(net, {"Vrest": [-65.0, -75.0]}, probes(), method="superposition",
                          client="sync", progress=False, **kw)
    for vrest in (-65.0, -75.0):
        single = xkernels.compute_kernels(net, probes(), **{**kw, "Vrest": vrest})
        assert rel(fast.sel(Vrest=vrest).values, single.values) < 1e-9


def test_depth_nodes_enter_the_hash_only_in_depth_mode():
    """Reference kernels do not depend on depth_nodes: a cached store of them is served
    whatever depth_nodes says; depth kernels are told apart by it."""
    net = xkernels.Network.example()
    plan = prepare_kernels(net, probes(), KernelOptions(**REFERENCE))
    other = prepare_kernels(net, probes(), KernelOptions(depth_nodes=3, **REFERENCE))
    assert "depth_nodes" not in plan.inputs and plan.digest == other.digest
    depth = prepare_kernels(net, probes(), KernelOptions(averaging="depth", **NATIVE))
    assert depth.inputs == {**plan.inputs, "averaging": "depth", "depth_nodes": 5}


def test_compat_always_uses_reference(monkeypatch):
    """Even with "depth" as the engine's default, the compat layer computes reference
    kernels: the values of ``prepare_kernels(..., averaging="reference")``."""
    from conftest import readme_arguments

    import xkernels.compat as compat
    import xkernels.engine.kernels as engine

    probe = compat.GaussCylinderPotential(cell=None, **GCP)
    approx = compat.KernelApprox(**readme_arguments("E"))
    original = engine.prepare_kernels
    seen = []

    def depth_by_default(network, probes, options, **kwargs):
        seen.append(options.averaging)
        return original(network, probes, options, **kwargs)

    monkeypatch.setattr(compat, "prepare_kernels", depth_by_default)
    H = approx.get_kernel([probe], X="E", **OPTIONS)["GaussCylinderPotential"]
    assert seen == ["reference"]
    monkeypatch.undo()
    lfp = {"lfp": xkernels.GaussCylinderPotential(**GCP)}
    depth = xkernels.compute_kernels(approx.network, lfp, averaging="depth",
                                     **NATIVE).sel(X="E", Y="E").values
    assert np.abs(H).max() > 0
    assert np.abs(H - depth[:, :H.shape[1]]).max() > 1e-3 * np.abs(H).max()


# --------------------------------------------------------------------------------------
# bad input: refused before anything is simulated or written
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"averaging": "Depth"}, ValueError, "averaging must be one of"),
    ({"averaging": None}, ValueError, "averaging"),
    ({"averaging": "depth", "depth_nodes": 5, "dpeth_nodes": 3}, TypeError,
     "unknown kernel option 'dpeth_nodes'.*did you mean 'depth_nodes'"),
    ({"averaging": "depth", "depth_nodes": 0}, ValueError, "depth_nodes must be an integer >= 1"),
    ({"depth_nodes": 0}, ValueError, r"depth_nodes must be an integer >= 1, got 0"),
    ({"averaging": "depth", "depth_nodes": 2.5}, TypeError, "depth_nodes"),
])
def test_bad_options_refused(tmp_path, monkeypatch, kwargs, exc, match):
    import xkernels.engine.kernels as engine

    monkeypatch.setattr(engine, "LinearisedCell", None)  # any simulation would fail
    store = tmp_path / "k.zarr"
    with pytest.raises(exc, match=match):
        xkernels.compute_kernels(xkernels.Network.example(), probes(), g_eff=True,
                                 store=store, **kwargs, **NATIVE)
    assert not store.exists()


def test_conflicting_probe_smoothing_refused(tmp_path, monkeypatch):
    import xkernels.engine.kernels as engine

    monkeypatch.setattr(engine, "LinearisedCell", None)
    store = tmp_path / "k.zarr"
    with pytest.raises(ValueError, match=r"probes\['lfp'\]\.sigma_z = 50.0 µm is smaller "
                                         r"than populations\['E'\]\.scale = 75\.0"):
        xkernels.compute_kernels(xkernels.Network.example(), probes(sigma_z=50.0),
                                 averaging="depth", store=store, **NATIVE)
    assert not store.exists()
    # the same probe is fine in reference mode (nothing integrated twice there) ...
    prepare_kernels(xkernels.Network.example(), probes(sigma_z=50.0),
                    KernelOptions(n_positions=10, seed=1, **REFERENCE))


def test_cli_option(tmp_path, mechanisms_loaded):
    from xkernels.app.cli import main

    spec = {"network": xkernels.Network.example().to_dict(),
            "options": {**NATIVE, "g_eff": False, "averaging": "depth", "depth_nodes": 3}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["compute", str(path), "-o", str(tmp_path / "k.zarr"), "--quiet"]) == 0
    H = xkernels.open_kernels(tmp_path / "k.zarr")
    assert H.attrs["averaging"] == "depth" and H.attrs["depth_nodes"] == 3
    spec["options"]["averaging"] = "both"
    path.write_text(json.dumps(spec))
    assert main(["compute", str(path), "-o", str(tmp_path / "b.zarr"), "--quiet"]) == 1
    assert not (tmp_path / "b.zarr").exists()


def test_lateral_sources_split_at_contact_depth():
    geom = lfpykit.CellGeometry(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
                                z=np.array([[0.0, 100.0]]), d=np.ones(1))
    src = lateral.line_points(np.array([[0.0, 0.0, 30.0]]), geom)
    assert np.isclose(src.weight.sum(), 1.0)
    assert (src.h[0, 0, :4] > 0).all() and (src.h[0, 0, 4:] < 0).all()

"""Accurate by default (issue 25): ``averaging="depth"``, ``g_eff="auto"`` and
``operating_point="auto"``, resolved once against the network; everything downstream
(kernels' attributes, content hash, cache, sweep stores) holds the resolved values.

Checked against the explicit options the defaults resolve to (same numbers, same
cache entry, same hash), against another resolution (a different entry), the bad
inputs refused before anything is simulated, and the sweep's one message where the
superposition fast path does not apply.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import xkernels
from xkernels import KernelOptions, Network
from xkernels.engine import prepare_kernels

TAU = 2.0


def cdm():
    return {"cdm": xkernels.CurrentDipoleMomentZ()}


def current_based(network: Network) -> Network:
    """``network`` with current-based synapses (Exp2SynI, weights in nA)."""
    d = network.to_dict()
    d["conductance_based"] = False
    for c in d["connections"]:
        c["synapse"]["syntype"] = "Exp2SynI"
        c["synapse"]["weight"] = 0.05 if c["pre"] == "E" else -0.2
    return Network.from_dict(d)


def test_defaults_resolve_per_network():
    options = KernelOptions()
    assert (options.averaging, options.g_eff, options.operating_point) == \
        ("depth", "auto", "auto")
    assert not options.resolved
    conductance = options.resolve(Network.example())
    assert (conductance.g_eff, conductance.operating_point) == (True, "mean-input")
    current = options.resolve(current_based(Network.example()))
    assert (current.g_eff, current.operating_point) == (False, "rest")
    assert conductance.resolved and current.resolved
    # resolving resolved options changes nothing; explicit choices are kept
    assert conductance.resolve(Network.example()) == conductance
    rest = KernelOptions(operating_point="rest").resolve(Network.example())
    assert (rest.g_eff, rest.operating_point) == (True, "rest")
    assert KernelOptions(g_eff=False).resolve(Network.example()).operating_point == "rest"


def test_provenance_and_cache_key_hold_the_resolved_options(tmp_path, simulations):
    network, path = Network.example(), tmp_path / "k.zarr"
    H = xkernels.compute_kernels(network, cdm(), tau=TAU, store=path)
    n = simulations["n"]
    assert n > 0
    assert (H.attrs["averaging"], H.attrs["g_eff"], H.attrs["operating_point"]) == \
        ("depth", True, "mean-input")
    stored = json.loads(xkernels.open_kernels(path).attrs["options"])
    assert "auto" not in stored.values()
    assert (stored["g_eff"], stored["operating_point"]) == (True, "mean-input")
    summary = xkernels.describe(path)  # what `xkernels info` prints
    assert "    g_eff: True\n" in summary and "    operating_point: mean-input\n" in summary
    assert "auto" not in summary
    # the explicit resolved options are the same cache entry: served, nothing simulated
    explicit = xkernels.compute_kernels(network, cdm(), tau=TAU, store=path, g_eff=True,
                                        operating_point="mean-input", averaging="depth")
    assert simulations["n"] == n
    assert explicit.attrs["content_hash"] == H.attrs["content_hash"]
    np.testing.assert_array_equal(explicit.values, H.values)
    # another resolution is another entry: refused without overwrite, store untouched
    with pytest.raises(ValueError):
        xkernels.compute_kernels(network, cdm(), tau=TAU, store=path,
                                 operating_point="rest")
    assert simulations["n"] == n
    np.testing.assert_array_equal(xkernels.open_kernels(path).values, H.values)
    rest = xkernels.compute_kernels(network, cdm(), tau=TAU, operating_point="rest")
    assert rest.attrs["content_hash"] != H.attrs["content_hash"]
    assert np.abs(rest.values - H.values).max() > 1e-3 * np.abs(H.values).max()


def test_sweep_store_holds_the_resolved_options(tmp_path):
    grid = {"populations[E].rate": [2.0, 3.0]}
    path = tmp_path / "s.zarr"
    S = xkernels.sweep(Network.example(), grid, cdm(), tau=TAU, client="sync",
                       progress=False, store=path)  # linear algebra per point: no warning
    stored = json.loads(S.attrs["options"])
    assert (stored["g_eff"], stored["operating_point"]) == (True, "mean-input")
    assert stored["solver"] == "linear"
    # the same sweep with the explicit resolved options resumes the store (all done)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = xkernels.sweep(Network.example(), grid, cdm(), tau=TAU, client="sync",
                               progress=False, store=path, g_eff=True,
                               operating_point="mean-input")
    np.testing.assert_array_equal(again.values, S.values)


def test_sweep_says_once_that_it_simulates_every_point():
    """With NEURON simulating every point (solver="neuron"); with the default solver the
    points of these passive cells are linear algebra and nothing is said."""
    network = Network.example()
    grid = {"connections[E->I].synapse.weight": [0.0008, 0.0016, 0.0024]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        S = xkernels.sweep(network, grid, cdm(), tau=TAU, client="sync", progress=False,
                           solver="neuron")
        quiet = xkernels.sweep(network, grid, cdm(), tau=TAU, client="sync", progress=False)
    np.testing.assert_allclose(quiet.values, S.values, rtol=0, atol=1e-9 * abs(S.values).max())
    messages = [str(w.message) for w in caught if "fast path" in str(w.message)]
    assert len(messages) == 1, messages
    assert "simulating every point (3)" in messages[0]
    assert "operating_point='rest'" in messages[0]
    assert "averaging='reference' or g_eff=False" in messages[0]
    # and what it simulated is the points' kernels with the defaults
    point = network.with_values({"connections[E->I].synapse.weight": 0.0016})
    H = xkernels.compute_kernels(point, cdm(), tau=TAU, solver="neuron")
    np.testing.assert_allclose(S.isel({S.dims[0]: 1}).values, H.values, rtol=1e-12, atol=0)


def test_current_based_defaults_take_the_fast_path_silently():
    network = current_based(Network.example())
    grid = {"connections[E->E].synapse.weight": [0.05, 0.1, 0.2]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = xkernels.sweep(network, grid, cdm(), tau=TAU, client="sync", progress=False,
                              method="superposition")
        auto = xkernels.sweep(network, grid, cdm(), tau=TAU, client="sync", progress=False)
    np.testing.assert_array_equal(auto.values, fast.values)
    assert json.loads(auto.attrs["options"])["g_eff"] is False


# -- bad input: refused before anything is simulated -----------------------------------
def without_rate(network: Network, name: str) -> Network:
    d = network.to_dict()
    for p in d["populations"]:
        if p["name"] == name:
            del p["rate"]
    return Network.from_dict(d)


@pytest.mark.parametrize("given, chosen", [({}, "(what 'auto' is"),
                                           ({"operating_point": "mean-input"}, "")])
def test_mean_input_without_rates_names_the_populations(given, chosen, simulations,
                                                        tmp_path):
    network = without_rate(Network.example(), "I")
    match = (r"operating_point='mean-input'.*needs the rate of every presynaptic "
             r"population.*populations \['I'\] have no rate \(connections \['I->E', "
             r"'I->I'\]\)")
    with pytest.raises(ValueError, match=match) as info:
        xkernels.compute_kernels(network, cdm(), tau=TAU, store=tmp_path / "k.zarr",
                                 **given)
    assert chosen in str(info.value)
    with pytest.raises(ValueError, match=match):
        xkernels.sweep(network, {"populations[E].rate": [1.0, 2.0]}, cdm(), tau=TAU,
                       client="sync", store=tmp_path / "s.zarr", **given)
    assert simulations["n"] == 0 and not list(tmp_path.iterdir())
    # LFPykernels' operating point keeps today's warning (the synapses add nothing)
    with pytest.warns(UserWarning, match=r"populations \['I'\] have no rate"):
        xkernels.compute_kernels(network, cdm(), tau=TAU, operating_point="rest")


def test_resolved_defaults_are_the_validated_combination_per_network_kind():
    """issue 23, item 5: what ``"auto"`` resolves to on each kind of network
    benchmarks/validation_depth.py and ``validation.py --active`` scored is the
    combination that won there: depth averaging everywhere, g_eff and the mean-input
    operating point on conductance-based networks (passive or, with a linearisation,
    active cells), neither on current-based ones."""
    def resolved(network, **given):
        o = KernelOptions(**given).resolve(network)
        return o.averaging, o.g_eff, o.operating_point

    readme, active = Network.example(), Network.example(active=True)
    flat = current_based(readme).to_dict()
    for c in flat["connections"]:
        c["placement"] = {"sections": ["apic"], "weights": [1.0],
                          "densities": [{"name": "uniform",
                                         "params": {"loc": -1e5, "scale": 2e5}}]}
    assert resolved(readme) == ("depth", True, "mean-input")
    assert resolved(current_based(readme)) == ("depth", False, "rest")
    assert resolved(Network.from_dict(flat)) == ("depth", False, "rest")
    assert resolved(Network.microcircuit()) == ("depth", False, "rest")
    for mode in ("quasi-active", "frozen", "passive"):
        assert resolved(active, linearisation=mode) == ("depth", True, "mean-input")


def test_linearisation_auto_resolves_per_membrane_kind():
    """issue 23, item 5: ``linearisation="auto"`` (the default) is "quasi-active" for a
    membrane known active from the specification, "as-is" for one known passive, and
    "quasi-active" for one only known once built (a callable biophysics or custom_fun,
    a mechanisms folder, a template of the user's own); per population, resolved once."""
    def modes(network, **given):
        return KernelOptions(**given).resolve(network).linearisation

    readme, active = Network.example(), Network.example(active=True)
    assert KernelOptions().linearisation == "auto"
    assert modes(readme) == "as-is" and modes(active) == "quasi-active"
    assert modes(Network.microcircuit()) == "as-is"
    assert modes(current_based(readme)) == "as-is"
    # the active preset with every voltage-gated conductance off is passive
    off = {f"populations[{p}].cell.biophysics.{g}": 0.0 for p in "EI"
           for g in ("gnabar", "gkbar", "gh")}
    assert modes(active.with_values(off)) == "as-is"
    # a membrane built by user code: known only once built
    d = readme.to_dict()
    d["populations"][0]["cell"]["biophysics"] = "xkernels.engine.biophysics:insert_passive"
    d["populations"][0]["cell"]["biophysics_args"] = {"g_pas": 3e-4, "e_pas": -65.0}
    built = Network.from_dict(d)
    assert modes(built) == {"E": "quasi-active", "I": "as-is"}
    # explicit modes and per-population "auto" entries
    assert modes(active, linearisation={"E": "auto", "I": "frozen"}) == \
        {"E": "quasi-active", "I": "frozen"}
    assert modes(active, linearisation="as-is", operating_point="rest") == "as-is"
    assert not KernelOptions(linearisation={"E": "auto", "I": "as-is"}, g_eff=True,
                             operating_point="rest", solver="neuron").resolved


def test_auto_on_a_membrane_that_turns_out_passive_is_as_is():
    """``linearisation="auto"`` takes a membrane built by user code quasi-active; once
    built with only ``pas`` it is computed as ``"as-is"``: the same kernels bit for bit,
    with either solver and operating point, without settling it (no resting state)."""
    d = Network.example().to_dict()
    for pop in d["populations"]:
        pop["cell"]["biophysics"] = "xkernels.engine.biophysics:insert_passive"
        pop["cell"]["biophysics_args"] = {"g_pas": 3e-4, "e_pas": -65.0}
    built = Network.from_dict(d)
    for solver, extra in (("linear", {}), ("neuron", {"averaging": "reference",
                                                      "operating_point": "rest"})):
        auto = xkernels.compute_kernels(built, cdm(), tau=TAU, solver=solver, **extra)
        assert json.loads(auto.attrs["linearisation"]) == {"E": "quasi-active",
                                                           "I": "quasi-active"}
        as_is = xkernels.compute_kernels(built, cdm(), tau=TAU, solver=solver,
                                         linearisation="as-is", **extra)
        np.testing.assert_array_equal(auto.values, as_is.values)
        if extra:  # at rest: nothing settled (under the mean input the leak's rest is)
            assert "resting_state" not in auto.attrs


def test_active_readme_network_runs_with_no_options(tmp_path, capsys):
    """The defaults on the active README network: quasi-active membranes, depth
    averaging, g_eff and the mean-input operating point (docs/linearisation.md: 27 of
    28 channels within 12 % of the hybrid ground truth), the same kernels and content
    hash as those options given explicitly; from the command line with no option flag."""
    from xkernels.app.cli import main
    from xkernels.app.files import spec_document

    active = Network.example(active=True)
    H = xkernels.compute_kernels(active, cdm(), tau=TAU)
    assert (H.attrs["averaging"], H.attrs["g_eff"], H.attrs["operating_point"]) == \
        ("depth", True, "mean-input")
    assert json.loads(H.attrs["linearisation"]) == {"E": "quasi-active", "I": "quasi-active"}
    explicit = xkernels.compute_kernels(active, cdm(), tau=TAU, linearisation="quasi-active",
                                        averaging="depth", g_eff=True,
                                        operating_point="mean-input")
    np.testing.assert_array_equal(H.values, explicit.values)
    assert H.attrs["content_hash"] == explicit.attrs["content_hash"]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(spec_document(active, cdm(), {"tau": TAU})))
    assert main(["compute", str(spec), "-o", str(tmp_path / "k.zarr"), "-q"]) in (0, None)
    stored = xkernels.open_kernels(tmp_path / "k.zarr")
    np.testing.assert_array_equal(stored.values, H.values)
    assert "auto" not in json.loads(stored.attrs["options"]).values()
    summary = xkernels.describe(tmp_path / "k.zarr")  # what `xkernels info` prints
    assert "    linearisation: quasi-active\n" in summary and "auto" not in summary


def test_active_cells_as_is_refused_at_the_mean_input_before_anything(tmp_path,
                                                                      simulations):
    """An active cell taken "as-is" (explicitly: the default linearisation makes it
    quasi-active) has no resting state under the mean input: refused when the options
    are resolved, naming the populations and the remedy -- before a kernel or a
    ground-truth cell is simulated, nothing written."""
    from xkernels.hybrid import correlated_poisson

    active = Network.example(active=True)
    match = (r"operating_point='mean-input' \(what 'auto' is.*populations \['E', 'I'\] "
             r"have active membranes.*linearisation='quasi-active'.*"
             r"operating_point='rest'")
    with pytest.raises(ValueError, match=match):
        xkernels.compute_kernels(active, cdm(), tau=TAU, store=tmp_path / "k.zarr",
                                 linearisation="as-is")
    spikes = correlated_poisson({"E": 8192, "I": 1024}, {"E": 2.5, "I": 5.0}, t_stop=20.0,
                                seed=1)
    with pytest.raises(ValueError, match=match):
        xkernels.validate(active, spikes, cdm(), t_stop=20.0, transient=5.0,
                          client="sync", progress=False, store=tmp_path / "gt.zarr",
                          n_cells={"E": 2, "I": 1}, linearisation="as-is")
    with pytest.raises(ValueError, match=r"populations \['E'\] have active"):
        KernelOptions(linearisation={"E": "as-is", "I": "frozen"}).resolve(active)
    assert simulations["n"] == 0 and not list(tmp_path.iterdir())
    # LFPykernels' operating point keeps the cells as they are when asked to
    rest = KernelOptions(operating_point="rest", linearisation="as-is").resolve(active)
    assert (rest.g_eff, rest.operating_point, rest.linearisation) == (True, "rest", "as-is")


def test_current_based_network_refuses_g_eff_and_mean_input():
    network = current_based(Network.example())
    with pytest.raises(ValueError, match="g_eff=True requires a conductance-based network"):
        xkernels.compute_kernels(network, cdm(), tau=TAU, g_eff=True)
    with pytest.raises(ValueError, match="operating_point='mean-input' requires a "
                                         "conductance-based network"):
        xkernels.compute_kernels(network, cdm(), tau=TAU, operating_point="mean-input")
    with pytest.raises(ValueError, match=r"g_eff must be True, False or 'auto', got 'on'"):
        KernelOptions(g_eff="on")


def test_microcircuit_runs_with_no_options():
    """issue 21, item 4: ``compute_kernels(Network.microcircuit(), probes)`` with no
    options: g_eff resolves to off on the current-based microcircuit, all 72 kernels
    (~1.6 s with the CDM), the same as the explicit resolved options."""
    H = xkernels.compute_kernels(Network.microcircuit(), cdm())
    assert (H.attrs["g_eff"], H.attrs["operating_point"], H.attrs["averaging"]) == \
        (False, "rest", "depth")
    assert dict(H.sizes) == {"X": 9, "Y": 8, "probe_channel": 1, "tau": 1601}
    assert np.isfinite(H.values).all()
    net = Network.microcircuit()
    for X in net.presynaptic:
        for Y in net.postsynaptic:
            c = net.connection(X, Y)
            peak = float(np.abs(H.sel(X=X, Y=Y).values).max())
            assert (peak > 0) == (c is not None and c.probability > 0), (X, Y, peak)
    plan = prepare_kernels(Network.microcircuit(), cdm(),
                           KernelOptions(g_eff=False, operating_point="rest"))
    assert plan.digest == H.attrs["content_hash"]


def test_garbage_of_another_model_does_not_break_the_saved_resting_state(monkeypatch):
    """The mean-input operating point (the default here) saves the resting state with
    NEURON's SaveState, which stores every section: an unreachable object of another
    model holding sections (an LFPy cell, lfpykernels' KernelApprox gone out of scope),
    freed by Python's collector between two responses, made the restore fail ("Stored
    state inconsistent") or NEURON abort.  Here such garbage waits in the oldest
    generation and the collector runs at every allocation: it must not run while a cell
    of ours is alive."""
    import gc

    from neuron import h

    from xkernels.engine import membrane

    clean = xkernels.compute_kernels(Network.example(), cdm(), tau=TAU, solver="neuron")

    class Model:
        pass

    other = Model()
    other.self = other  # a reference cycle: only the collector frees it
    other.sections = [h.Section(name=f"other_model_{k}") for k in range(3)]
    gc.collect()  # survivors move to the oldest generation
    del other
    enabled = []
    original = membrane.LinearisedMembrane._run

    def run(self, *args, **kwargs):
        enabled.append(gc.isenabled())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(membrane.LinearisedMembrane, "_run", run)
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        H = xkernels.compute_kernels(Network.example(), cdm(), tau=TAU, solver="neuron")
    finally:
        gc.set_threshold(*thresholds)
    assert enabled and not any(enabled) and gc.isenabled()
    # the other model's sections took part in settling (variable steps): rounding only
    np.testing.assert_allclose(H.values, clean.values, rtol=0,
                               atol=1e-12 * np.abs(clean.values).max())
    gc.collect()
    assert not [sec for sec in h.allsec() if "other_model" in sec.name()]


def test_command_line_sweep_says_it_once_in_one_line(tmp_path, capsys):
    from xkernels.app.cli import main
    from xkernels.app.files import spec_document

    (tmp_path / "spec.json").write_text(json.dumps(
        spec_document(Network.example(), cdm(), {"tau": TAU, "solver": "neuron"})))
    (tmp_path / "grid.json").write_text(json.dumps(
        {"connections[E->I].synapse.weight": [0.0008, 0.0016]}))
    status = main(["sweep", str(tmp_path / "spec.json"), str(tmp_path / "grid.json"),
                   "-o", str(tmp_path / "s.zarr"), "-q"])
    err = capsys.readouterr().err
    assert status == 0
    lines = [line for line in err.splitlines() if "fast path" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "xkernels sweep: warning: sweep: simulating every point (2)"), err
    assert "UserWarning" not in err
    stored = json.loads(xkernels.open_kernels(tmp_path / "s.zarr").attrs["options"])
    assert (stored["g_eff"], stored["operating_point"]) == (True, "mean-input")

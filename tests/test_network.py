"""Network specification: validation with clear messages, JSON round trip."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import scipy.stats as st

from xkernels.spec import Distribution, Network


def example_dict() -> dict:
    return Network.example().to_dict()


def test_json_round_trip_is_identical(tmp_path):
    net = Network.example()
    text = net.to_json(tmp_path / "spec.json")
    again = Network.from_json(tmp_path / "spec.json")
    assert again == net
    assert again.to_json() == text
    # strict JSON: infinities of truncnorm bounds are encoded as strings
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert again.connection("E", "E").delay.params["b"] == np.inf


def test_structure_of_example():
    net = Network.example()
    assert net.names == ["E", "I"]
    assert net.presynaptic == ["E", "I"] and net.postsynaptic == ["E", "I"]
    assert [c.key for c in net.inputs("I")] == ["E->I", "I->I"]
    # truncated normal on 1..99 evaluated at integers: mean close to loc = 2
    assert net.connection("E", "E").mean_multapses() == pytest.approx(2.0052, abs=1e-3)


def test_frozen_scipy_objects_are_accepted():
    spec = example_dict()
    spec["connections"][0]["delay"] = st.truncnorm(a=-2.2, b=np.inf, loc=1.3, scale=0.5)
    spec["connections"][0]["multapses"] = st.poisson(mu=2.0, loc=1)
    net = Network.from_dict(spec)
    assert net.connections[0].delay == Distribution(
        name="truncnorm", params={"a": -2.2, "b": np.inf, "loc": 1.3, "scale": 0.5})
    assert net.connections[0].mean_multapses() == pytest.approx(3.0)


def test_discrete_multapses_use_their_mean():
    spec = example_dict()
    spec["connections"][0]["multapses"] = {"name": "binom", "params": {"n": 10, "p": 0.3}}
    assert Network.from_dict(spec).connections[0].mean_multapses() == pytest.approx(3.0)


def _mutated(path_fn):
    spec = copy.deepcopy(example_dict())
    path_fn(spec)
    return spec


BAD_SPECS = [
    (lambda s: s["populations"][0].update(size=0), ValueError, "populations['E'].size"),
    (lambda s: s["populations"][0].update(size=-5), ValueError, "> 0"),
    (lambda s: s["populations"][1].update(size=2.5), TypeError, "populations['I'].size"),
    (lambda s: s["connections"][0].update(probability=1.5), ValueError,
     "connections['E->E'].probability must be in [0, 1], got 1.5"),
    (lambda s: s["connections"][1].update(probability=-0.1), ValueError, "in [0, 1]"),
    (lambda s: s["connections"][0]["delay"].update(name="gaussian"), ValueError,
     "connections['E->E'].delay.name must be a scipy.stats distribution"),
    (lambda s: s["connections"][0]["delay"]["params"].update(sigma=1.0), TypeError,
     "connections['E->E'].delay.params"),
    (lambda s: s["connections"][0]["delay"]["params"].update(scale=-0.5), ValueError,
     "connections['E->E'].delay.scale must be > 0, got -0.5"),
    (lambda s: s["connections"][0]["synapse"].update(tau1=5.0, tau2=1.0), ValueError,
     "synapse.tau1"),
    (lambda s: s["connections"][0]["synapse"].update(syntype="AlphaSynapse"), ValueError,
     "syntype"),
    (lambda s: s["connections"][0]["synapse"].update(weight=float("nan")), ValueError,
     "weight must be finite"),
    (lambda s: s["connections"][0]["placement"].update(weights=[1.0, 2.0]), ValueError,
     "placement.weights"),
    (lambda s: s["connections"][0].update(pre="X"), ValueError,
     "connections['X->E'].pre must be one of ['E', 'I']"),
    (lambda s: s["populations"][0].update(radius=0), ValueError, "radius must be > 0"),
    (lambda s: s["populations"][0]["cell"].update(morphology="nowhere.hoc",
                                                 templatefile="nowhere_t.hoc",
                                                 templatename="T"),
     FileNotFoundError, "nowhere.hoc"),
    (lambda s: s["populations"][0]["cell"].update(morphology="pyramid_xyz", templatefile=None,
                                                 templatename=None), ValueError, "presets"),
    (lambda s: s["populations"][0]["cell"]["biophysics"].update(name="hh"), ValueError,
     "biophysics.name"),
    (lambda s: s["populations"][0]["cell"]["biophysics"].update(g_pas=-1e-4), ValueError,
     "g_pas"),
    (lambda s: s["connections"].append(copy.deepcopy(s["connections"][0])), ValueError,
     "unique"),
    (lambda s: s["populations"][0].update(colour="red"), ValueError, "keys"),
    (lambda s: s["connections"][0]["synapse"].update(syntype="Exp2SynI"), ValueError,
     "conductance-based"),
    (lambda s: s["connections"][3]["synapse"].update(weight=-0.05), ValueError,
     "connections['I->I'].synapse.weight must be >= 0 in a conductance-based network"),
    (lambda s: s["populations"][0]["ext_synapse"].update(weight=-2e-4), ValueError,
     "populations['E'].ext_synapse.weight must be >= 0"),
]


def test_negative_weights_are_currents_in_current_based_networks():
    spec = _mutated(lambda s: s["connections"][3]["synapse"].update(weight=-0.05,
                                                                     syntype="Exp2SynI"))
    spec["conductance_based"] = False
    assert Network.from_dict(spec).connection("I", "I").synapse.weight == -0.05


@pytest.mark.parametrize("mutate, exc, message", BAD_SPECS)
def test_bad_specs_are_refused_with_field_and_value(mutate, exc, message):
    with pytest.raises(exc) as info:
        Network.from_dict(_mutated(mutate))
    assert message in str(info.value)


def test_postsynaptic_population_needs_a_cell():
    spec = example_dict()
    spec["populations"][1]["cell"] = None
    with pytest.raises(ValueError, match=r"populations\['I'\].cell"):
        Network.from_dict(spec)


def test_invalid_json_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        Network.from_json("{not json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Network.from_json(tmp_path / "missing.json")


def test_from_kernels_requires_spec_attr():
    import xarray as xr

    with pytest.raises(ValueError, match="spec"):
        Network.from_kernels(xr.DataArray([1.0]))


def test_frozen_hashable_and_equal_by_value():
    a, b = Network.example(), Network.example()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Network.example(active=True)
    with pytest.raises(Exception, match="frozen"):
        a.conductance_based = False
    with pytest.raises(TypeError, match="cannot be changed"):
        a.connection("E", "E").delay.params["loc"] = 5.0
    with pytest.raises(AttributeError):
        a.connections.append(a.connections[0])
    changed = a.with_values({"connections[E->E].delay.params.loc": 2.0})
    assert changed.connection("E", "E").delay.mean() > a.connection("E", "E").delay.mean()
    assert a == b and changed != a and hash(changed) != hash(a)


def test_json_schema_describes_the_json():
    import jsonschema

    schema = Network.model_json_schema()
    for net in (Network.example(), Network.example(active=True), Network.microcircuit(0.01)):
        jsonschema.validate(json.loads(net.to_json()), schema)
    bad = example_dict()
    bad["populations"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(bad, schema)


def test_other_spec_versions_are_refused():
    spec = example_dict()
    assert spec["spec_version"] == 2
    spec["spec_version"] = 1
    with pytest.raises(ValueError, match=r"spec_version must be 2 .*got 1"):
        Network.from_dict(spec)

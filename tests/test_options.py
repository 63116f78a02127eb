"""KernelOptions: every option of a kernel computation in one frozen, validated object,
used by compute_kernels, sweep, validate, the CLI's SPEC.json and the stored provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xkernels
from xkernels import KernelOptions, Network


def cdm():
    return {"cdm": xkernels.CurrentDipoleMomentZ()}


def test_frozen_equal_and_hashable_by_value():
    options = KernelOptions(tau=2.0, Vrest={"E": -65.0, "I": [-65.0] * 3})
    with pytest.raises(Exception, match="frozen"):
        options.tau = 3.0
    same = KernelOptions(Vrest={"E": -65, "I": (-65.0, -65.0, -65.0)}, tau=2)
    assert options == same and hash(options) == hash(same)
    assert len({options, same, options.replace(fir=True)}) == 2
    assert KernelOptions.model_validate_json(options.model_dump_json()) == options


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"taw": 5.0}, TypeError, "unknown kernel option 'taw'; allowed: ['dt', 'tau'"),
    ({"tau": "5"}, TypeError, "tau must be a real number, got '5'"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0, got -1"),
    ({"Vrest": {"E": -65.0, "I": "low"}}, TypeError, "Vrest['I'] must be a real number"),
    ({"linearisation": {"E": "frozen", "I": "hot"}}, ValueError,
     "linearisation['I'] must be one of ['auto', 'as-is', 'passive', 'frozen', "
     "'quasi-active']"),
])
def test_bad_options_are_one_line_errors_everywhere(kwargs, exc, message, tmp_path):
    with pytest.raises(exc) as info:
        xkernels.compute_kernels(Network.example(), cdm(), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(exc, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        xkernels.sweep(Network.example(), {"populations[E].rate": [1.0, 2.0]}, cdm(),
                       client="sync", **kwargs)
    with pytest.raises(exc, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        KernelOptions(**kwargs)


def test_options_object_keywords_and_provenance():
    options = KernelOptions(tau=2.0, g_eff=False)
    H = xkernels.compute_kernels(Network.example(), cdm(), options, fir=True)
    assert H.attrs["fir"] and not H.attrs["g_eff"] and H.attrs["tau_max"] == 2.0
    # the options as computed: "auto" resolved for the network (g_eff off: at rest;
    # passive cells: the linear solver)
    assert KernelOptions.model_validate_json(H.attrs["options"]) == \
        options.replace(fir=True, operating_point="rest", solver="linear",
                        linearisation="as-is")
    same = xkernels.compute_kernels(Network.example(), cdm(), tau=2.0, g_eff=False, fir=True)
    np.testing.assert_array_equal(H.values, same.values)
    assert H.attrs["content_hash"] == same.attrs["content_hash"]


def test_sweep_takes_the_options_object():
    grid = {"connections[E->E].synapse.weight": [1e-4, 2e-4]}
    options = KernelOptions(tau=2.0, g_eff=False)
    S = xkernels.sweep(Network.example(), grid, cdm(), options, client="sync", progress=False)
    S2 = xkernels.sweep(Network.example(), grid, cdm(), tau=2.0, g_eff=False, client="sync",
                        progress=False)
    np.testing.assert_array_equal(S.values, S2.values)
    with pytest.raises(ValueError, match=r"t_X must be >= tau = 2.0 ms, got 1.0"):
        xkernels.sweep(Network.example(), {"t_X": [1.0, 200.0]}, cdm(), options,
                       client="sync")


def test_spec_json_options_block_is_the_options_json(tmp_path):
    from xkernels.app.files import load_spec, spec_document

    options = KernelOptions(tau=2.0, linearisation={"E": "passive", "I": "frozen"})
    doc = spec_document(Network.example(), cdm(), options)
    assert doc["options"] == json.loads(options.model_dump_json())
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    assert load_spec(tmp_path / "spec.json")[2] == options
    doc["options"] = {"tau": 2.0, "depth_node": 3}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    from xkernels.app.files import CLIError

    with pytest.raises(CLIError, match=r"bad.json': options: unknown kernel option "
                                       r"'depth_node'.*did you mean 'depth_nodes'"):
        load_spec(tmp_path / "bad.json")


def test_no_entry_point_has_option_defaults_of_its_own():
    """compute_kernels, sweep and validate take their defaults from KernelOptions: a
    default is changed in one place."""
    import inspect

    from xkernels.hybrid import validate

    for function in (xkernels.compute_kernels, xkernels.sweep, validate):
        names = set(inspect.signature(function).parameters)
        assert not names & {"tau", "g_eff", "averaging", "operating_point", "linearisation",
                            "fir", "t_X", "n_positions", "depth_nodes"}, function

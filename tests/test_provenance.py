"""Provenance: one version source, the content hash, channel coordinates, and the one
policy of every store for inputs it cannot describe."""

from __future__ import annotations

import importlib.metadata

import lfpykit
import numpy as np
import pytest

import xkernels
from xkernels import provenance
from xkernels.hybrid import correlated_poisson, simulate
from xkernels.probes import (
    CurrentDipoleMomentZ,
    ProbeKind,
    probe_definitions,
    register,
)
from xkernels.spec import Network

W_EE = "connections[E->E].synapse.weight"


class GainProbe(lfpykit.LinearModel):
    """A user's forward model: the somatic membrane current times a gain (mV/nA)."""

    def __init__(self, cell=None, gain=1.0):
        super().__init__(cell)
        self.gain = gain
        self.units = "mV"

    def get_transformation_matrix(self):
        matrix = np.zeros((1, self.cell.totnsegs))
        matrix[0, 0] = self.gain
        return matrix


def _sweep(gain, store, **kwargs):
    return xkernels.sweep(Network.example(), {W_EE: [1e-4, 2e-4]},
                          {"gain": GainProbe(gain=gain), "cdm": CurrentDipoleMomentZ()},
                          tau=2.0, g_eff=False, client="sync", progress=False, store=store,
                          **kwargs)


def test_sweep_store_refuses_probes_it_cannot_describe(tmp_path):
    """The bug: the probe entered the sweep hash without parameters, so re-running the
    sweep with the gain x10 into the same store returned the stored values."""
    store = tmp_path / "s.zarr"
    in_memory = _sweep(1.0, None)
    tenfold = _sweep(10.0, None)
    gain = in_memory.xk.probe("gain").values
    assert abs(gain).max() > 0
    np.testing.assert_allclose(tenfold.xk.probe("gain").values, 10 * gain, rtol=1e-9,
                               atol=1e-9 * abs(gain).max())
    with pytest.raises(ValueError, match=r"sweep store .*s\.zarr.* cannot hold values of "
                                         r"probes it cannot describe: probes\['gain'\] "
                                         r"\(test_provenance\.GainProbe"):
        _sweep(1.0, store)
    assert not store.exists()


def test_every_store_refuses_probes_it_cannot_describe(tmp_path):
    probes = {"gain": GainProbe(gain=2.0)}
    with pytest.raises(ValueError, match=r"kernel store .* probes\['gain'\]"):
        xkernels.compute_kernels(Network.example(), probes, tau=2.0, store=tmp_path / "k.zarr")
    net = Network.example()
    spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                {p.name: p.rate for p in net.populations}, t_stop=10.0, seed=1)
    with pytest.raises(ValueError, match=r"hybrid store .* probes\['gain'\]"):
        simulate(net, spikes, probes, t_stop=10.0, n_cells=1, client="sync", progress=False,
                 store=tmp_path / "gt.zarr")
    # a sweep template carrying such a probe is refused by the store functions too
    template = _sweep(1.0, None)
    with pytest.raises(ValueError, match=r"probes\['gain'\]"):
        xkernels.create_sweep_store(tmp_path / "t.zarr", template)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


def test_a_kind_that_fails_is_a_bug_not_an_opaque_probe():
    """Only UndescribedProbe makes a probe 'without definition'; other errors propagate."""

    class Broken(lfpykit.LinearModel):
        pass

    @register(Broken)
    class BrokenKind(ProbeKind):
        serialised_as = Broken

        def params(self, probe):
            return {"gain": probe.gain}  # a bug: Broken has no gain

    with pytest.raises(AttributeError, match="gain"):
        probe_definitions({"b": Broken(cell=None)})
    defs = probe_definitions({"g": GainProbe()})
    assert defs["g"]["params"] is None and "cannot describe" in defs["g"]["why"]


def test_hybrid_channel_coordinates_keep_their_units():
    """The hybrid's channel merge dropped the µm units of x, y, z."""
    net = Network.example()
    spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                {p.name: p.rate for p in net.populations}, t_stop=10.0, seed=1)
    probes = {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.zeros(2), y=np.zeros(2),
                                                  z=np.array([0.0, 100.0]), sigma=0.3),
              "cdm": CurrentDipoleMomentZ()}
    gt = simulate(net, spikes, probes, t_stop=10.0, n_cells=1, client="sync", progress=False)
    H = xkernels.compute_kernels(net, probes, tau=2.0)
    for name in ("x", "y", "z"):
        assert gt.coords[name].attrs == {"units": "µm"} == H.coords[name].attrs
    np.testing.assert_array_equal(gt.coords["z"].values, H.coords["z"].values)


def test_one_version_source():
    assert xkernels.__version__ == importlib.metadata.version("xkernels")
    assert provenance.versions()["xkernels"] == xkernels.__version__
    H = xkernels.compute_kernels(Network.example(), {"cdm": CurrentDipoleMomentZ()}, tau=1.0)
    assert f'"xkernels": "{xkernels.__version__}"' in H.attrs["versions"]


def test_content_hash_is_canonical_and_refuses_nan():
    assert provenance.content_hash({"a": 1, "b": [1.5]}) == provenance.content_hash(
        {"b": [1.5], "a": 1})
    assert provenance.content_hash({"a": 1}) != provenance.content_hash({"a": 2})
    with pytest.raises(ValueError):
        provenance.content_hash({"a": float("nan")})


def test_plan_records_the_network_as_its_plain_json():
    """The kernels' spec attribute and content hash are assembled from the JSON of the
    network's parts, written once per object (xkernels.engine.spec_json): the same text
    and hash as the network's JSON written whole, for networks that share parts."""
    import hashlib
    import json

    from xkernels.engine.kernels import kernel_inputs, prepare_kernels

    base = Network.example()
    changed = base.with_values({W_EE: 3e-4, "populations[I].rate": 7.5,
                                "connections[I->E].delay.params.loc": 1.7})
    probes = {"cdm": CurrentDipoleMomentZ()}
    for net in (base, changed, Network.example(active=True), base):
        for options in ({"averaging": "reference", "operating_point": "rest"}, {}):
            plan = prepare_kernels(net, probes, xkernels.KernelOptions(**options))
            text = json.dumps(net.to_dict(), sort_keys=True, allow_nan=False)
            assert plan.attrs["spec"] == text
            inputs = kernel_inputs(net, probe_definitions(probes), plan.options)
            assert plan.inputs == inputs
            canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"),
                                   allow_nan=False)
            assert plan.digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert provenance.content_hash({"a": [1.5], "b": 1}, {"a": "[1.5]"}) == \
        provenance.content_hash({"b": 1, "a": [1.5]})
    # a value that looks like the marker put where a text goes: written whole
    marker = "\x00xkernels text of a\x00"
    assert provenance.content_hash({"a": [1.5], "b": marker}, {"a": "[1.5]"}) == \
        provenance.content_hash({"a": [1.5], "b": marker})

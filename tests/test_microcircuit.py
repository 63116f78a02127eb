"""The Potjans & Diesmann (2014) microcircuit preset: published values, errors, kernels."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import xkernels as xk
from xkernels.spec import microcircuit as mc

# typed in independently from Potjans & Diesmann 2014, Table 5
SIZES = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
NAMES = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


@pytest.fixture(scope="module")
def net():
    return xk.Network.microcircuit()


def test_sizes_names_and_thalamus(net):
    assert net.names == NAMES + ["TC"]
    assert [net.population(n).size for n in NAMES] == SIZES
    assert sum(SIZES) == 77169 == sum(net.population(n).size for n in NAMES)
    assert net.population("TC").size == 902 and net.population("TC").cell is None
    assert net.presynaptic == NAMES + ["TC"] and net.postsynaptic == NAMES
    assert not net.conductance_based


@pytest.mark.parametrize("pre, post, prob", [
    ("L23E", "L23E", 0.1009), ("L4E", "L23E", 0.0437), ("L5I", "L5E", 0.3726),
    ("L6I", "L6E", 0.2252), ("L23E", "L4I", 0.0691), ("L5I", "L23E", 0.0),
    ("TC", "L4E", 0.0983), ("TC", "L6I", 0.0196), ("TC", "L23E", 0.0)])
def test_published_probabilities(net, pre, post, prob):
    assert net.connection(pre, post).probability == prob


def test_indegrees_follow_the_papers_synapse_count(net):
    # K = ln(1 - C) / ln(1 - 1/(N_pre N_post)); a post cell receives K / N_post
    for pre, post, prob in [("L4E", "L23E", 0.0437), ("L5I", "L5E", 0.3726),
                            ("TC", "L4E", 0.0983)]:
        n_pre = net.population(pre).size
        n_post = net.population(post).size
        k = math.log(1 - prob) / math.log1p(-1 / (n_pre * n_post)) / n_post
        c = net.connection(pre, post)
        assert c.probability * n_pre * c.mean_multapses() == pytest.approx(k, rel=1e-12)
    # L5I -> L5E: ~ -ln(1 - 0.3726) * 1065 = 496.7 synapses per cell
    assert mc.indegree("L5E", "L5I") == pytest.approx(-math.log(1 - 0.3726) * 1065, rel=1e-6)


def test_synapses_and_delays(net):
    assert net.connection("L23E", "L5E").synapse.weight == pytest.approx(0.0878)
    assert net.connection("L4E", "L23E").synapse.weight == pytest.approx(2 * 0.0878)
    assert net.connection("L4I", "L4E").synapse.weight == pytest.approx(-4 * 0.0878)
    assert net.connection("TC", "L4E").synapse.weight == pytest.approx(0.0878)
    syn = net.connection("L6I", "L6I").synapse
    assert syn.syntype == "Exp2SynI" and syn.tau2 == 0.5 and syn.tau1 < 0.05
    for pre, mean in (("L23E", 1.5), ("L4I", 0.75), ("TC", 1.5)):
        d = net.connection(pre, "L5E").delay.params
        assert d["loc"] == mean and d["scale"] == 0.5 * mean
        assert d["loc"] + d["a"] * d["scale"] == pytest.approx(0.1)


def test_geometry(net):
    assert mc.layer_bounds("L4") == (-587.1, -922.2)
    for name in NAMES:
        top, bottom = mc.layer_bounds(name[:-1])
        assert net.population(name).loc == pytest.approx((top + bottom) / 2)
        assert net.population(name).radius == pytest.approx(564.19, abs=0.01)
    # pyramidal apical dendrites reach the layers stated in the module docstring
    reach = {"L23E": "L1", "L4E": "L23", "L5E": "L1", "L6E": "L4"}
    for name in NAMES:
        path = net.population(name).cell.resolve("morphology")
        top_z = max(float(z) for z in re.findall(r"pt3dadd\(0, 0, ([-0-9.]+),", path.read_text()))
        tip = net.population(name).loc + top_z
        layer = reach.get(name, name[:-1])
        top, bottom = mc.layer_bounds(layer)
        assert bottom < tip < top, (name, tip, layer)


@pytest.mark.parametrize("scale", [0.1, 0.01])
def test_scale_preserves_indegrees(net, scale):
    small = xk.Network.microcircuit(scale=scale)
    for name in NAMES + ["TC"]:
        assert small.population(name).size == max(1, round(scale * net.population(name).size))
    for c in net.connections:
        s = small.connection(c.pre, c.post)
        k_full = c.probability * net.population(c.pre).size * c.mean_multapses()
        k_small = s.probability * small.population(c.pre).size * s.mean_multapses()
        assert k_small == pytest.approx(k_full, rel=1e-9, abs=1e-12)
        assert s.probability >= c.probability


def test_subset_and_json_roundtrip():
    net = xk.Network.microcircuit(populations=["L5I", "L5E"], thalamus=False)
    assert net.names == ["L5E", "L5I"] and len(net.connections) == 4
    assert xk.Network.from_json(net.to_json()) == net


@pytest.mark.parametrize("scale", [0, -0.5, 1.5, float("nan")])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        xk.Network.microcircuit(scale=scale)


def test_bad_names():
    with pytest.raises(ValueError, match=r"populations\[1\] must be one of .*got 'L7E'"):
        xk.Network.microcircuit(populations=["L23E", "L7E"])
    with pytest.raises(ValueError, match="layer must be one of .*got 'L7'"):
        mc.layer_bounds("L7")
    with pytest.raises(ValueError, match="population must be one of .*got 'E'"):
        mc.layer_of("E")
    with pytest.raises(TypeError, match="populations"):
        xk.Network.microcircuit(populations="L23E")


GCP = {"z": -100.0 * np.arange(16), "sigma": 0.3, "R": 564.19, "sigma_z": 50.0}
OPTIONS = {"dt": 2 ** -4, "tau": 5.0, "t_X": 60.0, "Vrest": -65.0, "g_eff": False}


@pytest.fixture(scope="module")
def kernels(net):
    probes = {"lfp": xk.GaussCylinderPotential(cell=None, **GCP),
              "cdm": xk.CurrentDipoleMomentZ(cell=None)}
    # LFPykernels' approximation (test_kernels_match_reference compares with it)
    return xk.compute_kernels(net, probes, averaging="reference", operating_point="rest",
                              linearisation="as-is", **OPTIONS)


def test_kernels_all_pairs(net, kernels):
    H = kernels
    assert H.sizes == {"X": 9, "Y": 8, "probe_channel": 17, "tau": 161}
    assert np.isfinite(H.values).all()
    for c in net.connections:
        h = H.sel(X=c.pre, Y=c.post).values
        assert (np.abs(h).max() > 0) == (c.probability > 0), c.key
    # L2/3 input onto the L5E apical dendrite: excitation (sink above the soma) gives
    # a negative CDM_z, inhibition a positive one; L4E input from below onto L2/3E a
    # positive one
    cdm = H.xk.probe("cdm").sel(probe_channel="cdm:z").sum("tau")
    assert cdm.sel(X="L23E", Y="L5E") < 0 < cdm.sel(X="L23I", Y="L5E")
    assert cdm.sel(X="L4E", Y="L23E") > 0


def test_kernels_match_reference(net, kernels):
    import lfpykernels
    from _microcircuit_reference import kernel_approx_arguments
    from conftest import tight_reference_quadrature

    ka = lfpykernels.KernelApprox(**kernel_approx_arguments(net, "L23I"))
    for X in ("L4E", "L5E"):  # (L23I -> L23I: symmetric, its CDM cancels to ~0)
        with tight_reference_quadrature():
            ref = ka.get_kernel([lfpykernels.GaussCylinderPotential(cell=None, **GCP),
                                 lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)],
                                X=X, **OPTIONS)
        for name, key in (("lfp", "GaussCylinderPotential"),
                          ("cdm", "KernelApproxCurrentDipoleMoment")):
            ours = kernels.sel(X=X, Y="L23I").xk.probe(name).values
            expected = ref[key]
            if name == "cdm":  # ours: one channel cdm:z; the reference's x, y rows are 0
                assert (expected[:2] == 0).all() and ours.shape[0] == 1
                expected = expected[2:]
            err = np.abs(ours - expected).max() / np.abs(expected).max()
            assert err <= 1e-6, (X, name, err)


def test_nest_model_checks_and_dc_compensation():
    from xkernels.app import microcircuit as nest_mc

    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"MicrocircuitParams.n_scaling must be in \(0, 1\]"):
            nest_mc.simulate_microcircuit(10.0, params=nest_mc.MicrocircuitParams(n_scaling=bad))
    with pytest.raises(ValueError, match="MicrocircuitParams.th_rate must be >= 0"):
        nest_mc.MicrocircuitParams(th_rate=-1.0).check()
    with pytest.raises(ValueError, match="t_stop"):
        nest_mc.simulate_microcircuit(-1.0)
    assert nest_mc.MicrocircuitParams(n_scaling=0.1).sizes()["TC"] == 90
    assert all(v == 0 for v in nest_mc.dc_compensation(1.0).values())
    # mean input lost by k-scaling: (1 - sqrt(k)) sum_X k_YX J_YX tau_syn nu_X, by hand
    # for L5I (pA): in-degree x PSC (pA) x 0.5 ms x rate (1/s) x 1e-3
    by_hand = sum(mc.indegree("L5I", x) * mc.weight("L5I", x) * 1e3 * 0.5
                  * mc.MEAN_RATES[x] * 1e-3 for x in NAMES)
    assert nest_mc.dc_compensation(0.25)["L5I"] == pytest.approx(0.5 * by_hand)

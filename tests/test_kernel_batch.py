"""xkernels.kernel_batch: kernels of a batch of parameter sets (issue 23, item 4).

Each sample must equal compute_kernels(solver="neuron") of the sample's network to
1e-9 (per probe channel, relative to its peak; measured <= 2e-12), on the batched path
(passive cells; reference or depth averaging, at rest or at the mean input: the
defaults) and on the one-by-one path; the sweeps' linear path (method="auto" with the
defaults) likewise; bad input is refused before any kernel is computed.  Also: repeated
computations in one process (cached cells, placement memo, labelled templates, smeared
modal responses) never serve the values of other inputs.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr
from conftest import worst_channel_deviation

import xkernels
from xkernels.sweeps import batch as batch_module

EXACT = 1e-9
TAU2, RATE = "connections[E->E].synapse.tau2", "populations[E].rate"
W_IE, DELAY_EI = "connections[I->E].synapse.weight", "connections[E->I].delay.params.loc"
VALUES = {TAU2: [1.5, 3.5, 2.5], RATE: [2.0, 9.0, 5.0], W_IE: [0.002, 0.004, 0.003],
          DELAY_EI: [1.0, 2.0, 1.5]}
REF = {"tau": 10.0, "averaging": "reference", "g_eff": True}


def _probes():
    return {"lfp": xkernels.GaussCylinderPotential(cell=None, z=np.linspace(1000., -200., 4),
                                                  sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


_worst = worst_channel_deviation


def _never(*args, **kwargs):
    raise AssertionError("a kernel was computed before the bad input was refused")


def _sample(values, s):
    return xkernels.Network.example().with_values({p: v[s] for p, v in values.items()})


@pytest.mark.parametrize("operating_point", ["rest", "mean-input"])
def test_batch_equals_neuron_per_sample(operating_point, mechanisms_loaded):
    options = {**REF, "operating_point": operating_point}
    H = xkernels.kernel_batch(xkernels.Network.example(), _probes(), VALUES,
                              solver="linear", **options)
    assert H.dims == ("sample", "X", "Y", "probe_channel", "tau")
    assert H["tau2_E_E"].values.tolist() == VALUES[TAU2]
    for s in (0, 1):
        ref = xkernels.compute_kernels(_sample(VALUES, s), _probes(), solver="neuron",
                                       **options)
        assert _worst(H.values[s], ref.values) < EXACT
        np.testing.assert_array_equal(H["tau"].values, ref["tau"].values)
    # the samples differ (a wrong sample order or a reused value would show here)
    assert _worst(H.values[0], H.values[1]) > 1e-3


def test_batch_with_default_options_equals_neuron(mechanisms_loaded, monkeypatch):
    """The defaults (depth averaging, mean-input operating point, g_eff): computed
    together (no sample falls back to compute_kernels), each sample NEURON's numbers."""
    monkeypatch.setattr(batch_module, "simulate_values", _never)  # not one by one
    H = xkernels.kernel_batch(xkernels.Network.example(), _probes(), VALUES, tau=10.0)
    monkeypatch.undo()
    assert H.attrs["averaging"] == "depth" and H.attrs["operating_point"] == "mean-input"
    for s in (0, 2):
        ref = xkernels.compute_kernels(_sample(VALUES, s), _probes(), solver="neuron",
                                       tau=10.0)
        assert _worst(H.values[s], ref.values) < EXACT
    assert _worst(H.values[0], H.values[2]) > 1e-3


def test_batch_with_mass_at_negative_delays_equals_neuron(mechanisms_loaded, monkeypatch):
    """A delay distribution with mass below 0 ms (NEURON's response is cut at the last
    lag there, so such a batch is smeared by FFT): still NEURON's numbers."""
    values = {"connections[E->E].delay.params.a": [-10.0, -2.2], RATE: [2.0, 9.0]}
    monkeypatch.setattr(batch_module, "simulate_values", _never)  # computed together
    H = xkernels.kernel_batch(xkernels.Network.example(), _probes(), values, tau=10.0)
    monkeypatch.undo()
    ref = xkernels.compute_kernels(_sample(values, 0), _probes(), solver="neuron", tau=10.0)
    assert _worst(H.values[0], ref.values) < EXACT
    assert _worst(H.values[0], H.values[1]) > 1e-3


def test_sweep_auto_takes_the_linear_path_with_defaults(mechanisms_loaded, caplog):
    """sweep(method="auto") with the defaults (depth, mean input: no superposition)
    computes the points together by the batched linear solver; points equal NEURON."""
    grid = {TAU2: [1.5, 3.0], RATE: [2.0, 8.0]}
    net = xkernels.Network.example()
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps.driver"):
        S = xkernels.sweep(net, grid, _probes(), tau=10.0, client="sync", progress=False)
    assert "by linear" in caplog.text
    for i, j in ((0, 1), (1, 0)):
        point = net.with_values({TAU2: grid[TAU2][i], RATE: grid[RATE][j]})
        ref = xkernels.compute_kernels(point, _probes(), solver="neuron", tau=10.0)
        assert _worst(S.values[i, j], ref.values) < EXACT
    with pytest.raises(ValueError, match="method='linear' needs"):
        xkernels.sweep(net, {TAU2: [1.5, 3.0]}, _probes(), tau=10.0, client="sync",
                       method="linear", solver="neuron", progress=False)


def test_batch_one_by_one_path_equals_compute_kernels(mechanisms_loaded):
    """A parameter of the cell (not batched) and depth averaging: each sample by
    compute_kernels, the same numbers."""
    values = {"populations[E].cell.biophysics.g_pas": [3e-4, 5e-4], TAU2: [1.5, 3.0]}
    options = {**REF, "operating_point": "rest", "solver": "linear"}
    H = xkernels.kernel_batch(xkernels.Network.example(), _probes(), values, **options)
    ref = xkernels.compute_kernels(_sample(values, 1), _probes(), **options)
    np.testing.assert_array_equal(H.values[1], ref.values)


def test_batch_refuses_bad_input_before_computing(monkeypatch):
    net = xkernels.Network.example()
    # nothing is computed before the refusal
    monkeypatch.setattr(batch_module, "batched_values", _never)
    monkeypatch.setattr(batch_module, "simulate_values", _never)
    with pytest.raises(ValueError, match="tau2"):
        xkernels.kernel_batch(net, _probes(), {"connections[E->E].synapse.tua2": [1.0]})
    with pytest.raises(ValueError, match="one per sample"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, 2.0], RATE: [1.0]})
    with pytest.raises(ValueError, match="finite"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, np.nan]})
    with pytest.raises(ValueError, match=r"sample 1 .*tau2.*-2\.0.*must be"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, -2.0]})
    with pytest.raises(ValueError, match=r"sample 0 .*rate.*-1\.0"):
        xkernels.kernel_batch(net, _probes(), {RATE: [-1.0, 2.0]})
    with pytest.raises(ValueError, match=r"values\['populations\[E\]\.rate'\].*1-d.*\(2, 2\)"):
        xkernels.kernel_batch(net, _probes(), {RATE: [[1.0, 2.0], [3.0, 4.0]]})
    with pytest.raises(ValueError, match="1-d"):
        xkernels.kernel_batch(net, _probes(), {RATE: 2.0})
    with pytest.raises(TypeError, match="real numbers"):
        xkernels.kernel_batch(net, _probes(), {RATE: ["fast", "slow"]})
    with pytest.raises(ValueError, match="did you mean"):
        xkernels.kernel_batch(net, _probes(), {"populations[E].rtae": [1.0]})
    with pytest.raises(ValueError, match=r"sample 1 .*E->I.*delay.*no probability mass"):
        xkernels.kernel_batch(net, _probes(), {DELAY_EI: [1.0, 300.0]}, tau=5.0)
    with pytest.raises(ValueError, match="solver"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0]}, solver="linaer")


def test_repeated_computations_never_serve_other_inputs(mechanisms_loaded):
    """Cells, placement and delay memos, populations' preparations (kept per the
    objects of the network they use: with_values shares the unchanged ones) and labelled
    templates are kept per process: a second computation that changes only a delay, a
    placement, a time constant or a presynaptic rate gets its own numbers (equal to
    NEURON's)."""
    options = {**REF, "operating_point": "rest"}
    net = xkernels.Network.example()
    first = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    for change in ({DELAY_EI: 2.0}, {"connections[E->E].placement.z_max": 400.0},
                   {TAU2: 3.0}, {"populations[I].rate": 2 * net.population("I").rate}):
        other = net.with_values(change)
        H = xkernels.compute_kernels(other, _probes(), solver="linear", **options)
        ref = xkernels.compute_kernels(other, _probes(), solver="neuron", **options)
        assert _worst(H.values, ref.values) < EXACT
        assert _worst(H.values, first.values) > 1e-6
        assert H.attrs["content_hash"] != first.attrs["content_hash"]
    again = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    np.testing.assert_array_equal(again.values, first.values)
    again.coords["z"].values[0] = 1e9  # the template behind it is not touched
    again["tau"].attrs["units"] = "s"
    third = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    assert third.coords["z"].values[0] != 1e9
    # labelled from the template as xarray's own constructor labels
    plain = xr.DataArray(third.values, dims=third.dims, name=third.name, attrs=third.attrs,
                         coords={name: (c.dims, c.values, c.attrs)
                                 for name, c in first.coords.items()})
    assert third.identical(plain)

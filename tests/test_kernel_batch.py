"""xkernels.kernel_batch: kernels of a batch of parameter sets (issue 23, item 4).

Each sample must equal compute_kernels(solver="neuron") of the sample's network to
1e-9 (per probe channel, relative to its peak; measured <= 2e-12), on the batched path
(passive cells, reference averaging) and on the one-by-one path; bad input is refused
before any kernel is computed.  Also: repeated computations in one process (cached
cells, placement memo, labelled templates, smeared modal responses) never serve the
values of other inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import worst_channel_deviation

import xkernels

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


def test_batch_one_by_one_path_equals_compute_kernels(mechanisms_loaded):
    """A parameter of the cell (not batched) and depth averaging: each sample by
    compute_kernels, the same numbers."""
    values = {"populations[E].cell.biophysics.g_pas": [3e-4, 5e-4], TAU2: [1.5, 3.0]}
    options = {**REF, "operating_point": "rest", "solver": "linear"}
    H = xkernels.kernel_batch(xkernels.Network.example(), _probes(), values, **options)
    ref = xkernels.compute_kernels(_sample(values, 1), _probes(), **options)
    np.testing.assert_array_equal(H.values[1], ref.values)


def test_batch_refuses_bad_input_before_computing():
    net = xkernels.Network.example()
    with pytest.raises(ValueError, match="tau2"):
        xkernels.kernel_batch(net, _probes(), {"connections[E->E].synapse.tua2": [1.0]})
    with pytest.raises(ValueError, match="one per sample"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, 2.0], RATE: [1.0]})
    with pytest.raises(ValueError, match="finite"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, np.nan]})
    with pytest.raises(ValueError, match="sample 1"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0, -2.0]})
    with pytest.raises(ValueError, match="solver"):
        xkernels.kernel_batch(net, _probes(), {TAU2: [1.0]}, solver="linaer")


def test_repeated_computations_never_serve_other_inputs(mechanisms_loaded):
    """Cells, placement and delay memos and labelled templates are kept per process:
    a second computation that changes only a delay, a placement or a time constant
    gets its own numbers (equal to NEURON's)."""
    options = {**REF, "operating_point": "rest"}
    net = xkernels.Network.example()
    first = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    for change in ({DELAY_EI: 2.0}, {"connections[E->E].placement.z_max": 400.0},
                   {TAU2: 3.0}):
        other = net.with_values(change)
        H = xkernels.compute_kernels(other, _probes(), solver="linear", **options)
        ref = xkernels.compute_kernels(other, _probes(), solver="neuron", **options)
        assert _worst(H.values, ref.values) < EXACT
        assert _worst(H.values, first.values) > 1e-6
        assert H.attrs["content_hash"] != first.attrs["content_hash"]
    again = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    np.testing.assert_array_equal(again.values, first.values)
    again.coords["z"].values[0] = 1e9  # the template behind it is not touched
    third = xkernels.compute_kernels(net, _probes(), solver="linear", **options)
    assert third.coords["z"].values[0] != 1e9

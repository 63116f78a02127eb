"""Lag grids: the regular grid of compute_kernels, and the reference's lags reproduced
from NEURON's clock arithmetic (checked against real LFPy/NEURON simulations)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cell_parameters

from xkernels.engine.timeline import lfpy_time_vector, lfpykernels_grid, regular_grid
from xkernels.spec.options import whole_steps

# (dt, tstop): the first three lose the last sample, gain one, or end exactly
CLOCK_CASES = [(0.1, 550.0), (0.025, 600.0), (0.1, 250.0), (0.05, 250.0), (0.025, 225.0),
               (2 ** -4, 550.0), (0.3, 37.3), (0.07, 150.0)]


@pytest.mark.parametrize("dt, tstop", CLOCK_CASES)
def test_time_vector_is_lfpys_bit_for_bit(dt, tstop, mechanisms_loaded):
    import LFPy

    params = cell_parameters()
    params.update(dt=dt, tstart=0.0, tstop=tstop, delete_sections=True)
    cell = LFPy.TemplateCell(**params)
    try:
        cell.simulate(rec_imem=True)
        tvec = np.asarray(cell.tvec)
    finally:
        cell.strip_hoc_objects()
    ours = lfpy_time_vector(dt, tstop)
    assert ours.size == tvec.size, (ours.size, tvec.size)
    np.testing.assert_array_equal(ours, tvec)


def test_time_vector_documented_cases():
    assert lfpy_time_vector(0.1, 550.0).size == 5500       # t = 550 not recorded
    assert lfpy_time_vector(0.025, 600.0).size == 24002    # one step past t = 600
    assert lfpy_time_vector(2 ** -4, 550.0).size == 8801


def test_reference_grid_documented_cases():
    g = lfpykernels_grid(0.05, 50.0, 200.0, False)
    assert g.lags[0] == -999 and g.lags[-1] == 999           # both ends dropped
    assert g.delay_times.size == 2000 and g.delay_centre == 999
    g = lfpykernels_grid(0.1, 50.0, 500.0, False)
    assert g.n_response == 499 and g.lags[-1] == 499         # lag +50 ms missing
    g = lfpykernels_grid(0.1, 50.0, 200.0, True)
    assert g.lags[0] == 1 and g.lags[-1] == 500


@pytest.mark.parametrize("fir", [False, True])
def test_reference_grid_is_regular_at_dyadic_dt(fir):
    ref = lfpykernels_grid(2 ** -4, 50.0, 200.0, fir)
    reg = regular_grid(2 ** -4, 800, fir)
    np.testing.assert_array_equal(ref.lags, reg.lags)
    np.testing.assert_array_equal(ref.delay_times, reg.delay_times)
    assert (ref.n_response, ref.delay_centre) == (reg.n_response, reg.delay_centre)


def test_regular_grid_and_whole_steps():
    g = regular_grid(0.1, 500, False)
    assert g.lags.size == 1001 and g.delay_centre == 500
    np.testing.assert_allclose(g.tau_axis[[0, -1]], [-50.0, 50.0], rtol=1e-12)
    assert whole_steps(50.0, 0.1) == 500 and whole_steps(100.0, 0.025) == 4000
    assert whole_steps(50.0, 0.3) is None and whole_steps(10.03, 2 ** -4) is None

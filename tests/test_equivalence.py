"""Equivalence with lfpykernels 0.2.0: max|Δ| / max|H_ref| <= 1e-6 for every probe.

The same KernelApprox arguments are given to the reference and to xkernels.compat (the
drop-in layer on the xkernels engine); parameter sets together cover every option of
the reference's ``get_kernel``: continuous and discrete multapse functions, delay
distributions (causal and with mass at negative lags), synapse placement (sections,
mixtures, depth windows, 'allsec'), g_eff, scalar and per-segment Vrest, current-based
synapses, rotation, population loc, t_X, tau, dt and fir, plus a membrane that has to
settle from v_init.  Time steps that are not powers of two (0.1, 0.05, 0.025 ms with
tau = 20, 50, 100 ms) are compared too, for the compat layer (the reference's own lags
and delay taps, to 1e-6) and for ``compute_kernels`` (the regular grid, equal to the
reference with its delay grid corrected; the difference to the reference as shipped is
measured and asserted as documented in :mod:`xkernels.engine.timeline`).

The reference integrates its GaussCylinderPotential with scipy's default quad
tolerance; most comparisons tighten it (``tight_reference_quadrature``) so that they
measure the engine.  ``test_network_api_matches_reference_for_all_pairs`` also compares
with the reference exactly as shipped, to :data:`AS_SHIPPED_TOLERANCE`.
"""

from __future__ import annotations

from importlib.metadata import version

import lfpykernels  # the oracle: a broken install fails these tests, never skips them
import numpy as np
import pytest
import scipy.stats as st
from conftest import (
    cell_parameters,
    other_cell_arguments,
    readme_arguments,
    relative_difference,
    set_nonuniform_passive,
    tight_reference_quadrature,
)

TOLERANCE = 1e-6
#: The reference as shipped integrates each GaussCylinderPotential entry with quad's
#: default absolute tolerance 1.49e-8; on the README network its LFP then differs from
#: the exact integral (and from xkernels) by up to 1.34e-6 of the kernel's peak (E -> I,
#: a compact cell whose LFP is a small residual of cancelling segments); 2.54e-8,
#: 2.11e-9 and 4.12e-7 on the other pairs, <= 1e-13 for the CDM.  With tight quadrature
#: every pair is within 1.1e-9.
AS_SHIPPED_TOLERANCE = 2e-6


def test_oracle_is_lfpykernels_0_2_0():
    assert version("lfpykernels") == "0.2.0"
    assert lfpykernels.__version__ == "0.2.0"


def _nseg(morphology: str) -> int:
    from xkernels.engine.cells import LinearisedCell
    from xkernels.spec import CellSpec, Population

    params = cell_parameters(morphology)
    spec = CellSpec(morphology=params["morphology"], templatefile=params["templatefile"],
                    templatename=params["templatename"], biophysics=None,
                    params={"custom_fun": params["custom_fun"],
                            "custom_fun_args": params["custom_fun_args"]})
    with LinearisedCell(spec, Population(name="Y", size=1), 2 ** -4) as c:
        return c.geometry.nseg


def _probes(module, gcp: dict):
    return [module.GaussCylinderPotential(cell=None, **gcp),
            module.KernelApproxCurrentDipoleMoment(cell=None)]


README_GCP = {"z": np.linspace(1000.0, -200.0, 13), "sigma": 0.3, "R": 150.0,
              "sigma_z": 75.0}


def _case_readme():
    return readme_arguments("E"), {"Vrest": -65.0, "dt": 2 ** -4, "t_X": 500, "tau": 50,
                                   "g_eff": True}, README_GCP, ["E", "I"]


def _case_per_segment_vrest():
    kw = readme_arguments("I")
    n = _nseg("BallAndSticks_I.hoc")
    vrest = list(np.linspace(-70.0, -60.0, n))
    return kw, {"Vrest": vrest, "dt": 2 ** -4, "t_X": 200, "tau": 40, "g_eff": False}, \
        README_GCP, ["E", "I"]


def _case_current_based_fir():
    # the reference builds current-based synapses only when told syntype='Exp2SynI'
    # (with 'Exp2Syn' it would simulate conductances despite conductance_based=False)
    kw = readme_arguments("E")
    kw["conductance_based"] = False
    kw["synapseParameters"] = [
        {"weight": 0.05, "syntype": "Exp2SynI", "tau1": 0.3, "tau2": 2.0},
        {"weight": -0.2, "syntype": "Exp2SynI", "tau1": 0.5, "tau2": 6.0}]
    return kw, {"Vrest": -65.0, "dt": 2 ** -4, "t_X": 100, "tau": 25, "g_eff": False,
                "fir": True}, {"z": np.linspace(800.0, -300.0, 12), "sigma": 0.33,
                               "R": 250.0, "sigma_z": 40.0}, ["E", "I"]


def _case_rotation_loc_mixture():
    kw = readme_arguments("E")
    kw["rotationParameters"] = {"x": 0.4, "y": -0.3}
    kw["populationParameters"] = {"radius": 200.0, "loc": -150.0, "scale": 50.0}
    kw["synapsePositionArguments"] = [
        {"section": ["soma", "apic"], "fun": [st.norm, st.norm],
         "funargs": [{"loc": 0.0, "scale": 80.0}, {"loc": 600.0, "scale": 120.0}],
         "funweights": [0.5, 1.0], "z_min": -300.0, "z_max": 700.0},
        {"section": ["dend"], "fun": [st.norm],
         "funargs": [{"loc": -250.0, "scale": 60.0}], "funweights": [2.0]}]
    return kw, {"Vrest": -70.0, "dt": 2 ** -4, "t_X": 300, "tau": 30, "g_eff": True}, \
        {"z": np.linspace(900.0, -500.0, 15), "sigma": 0.3, "R": 200.0, "sigma_z": 50.0}, \
        ["I"]


def _case_discrete_multapses_noncausal_delays():
    kw = readme_arguments("E")
    kw["multapseFunction"] = st.poisson
    kw["multapseParameters"] = [{"mu": 2.0, "loc": 1}, {"mu": 4.5, "loc": 1}]
    kw["delayFunction"] = st.norm
    kw["delayParameters"] = [{"loc": 1.0, "scale": 1.5}, {"loc": 0.5, "scale": 2.0}]
    return kw, {"Vrest": -60.0, "dt": 2 ** -3, "t_X": 300, "tau": 30, "g_eff": True}, \
        README_GCP, ["E", "I"]


def _case_settling_membrane_allsec():
    kw = readme_arguments("E")
    kw["cellParameters"] = cell_parameters("BallAndSticks_E.hoc", custom=set_nonuniform_passive,
                                           v_init=-70.0)
    kw["synapsePositionArguments"][0] = {"section": "allsec", "fun": [st.norm],
                                         "funargs": [{"loc": 200.0, "scale": 150.0}],
                                         "funweights": [1.0]}
    return kw, {"Vrest": -65.0, "dt": 2 ** -4, "t_X": 500, "tau": 20, "g_eff": True}, \
        README_GCP, ["E"]


def _case_three_populations():
    kw = readme_arguments("E")
    kw["X"] = ["E", "I", "T"]
    kw["N_X"] = np.array([8192, 1024, 2000])
    kw["C_YX"] = np.array([0.05, 0.05, 0.1])
    kw["multapseParameters"] = kw["multapseParameters"] + [
        {"a": (1 - 3.0) / 1.0, "b": (10 - 3.0) / 1.0, "loc": 3.0, "scale": 1.0}]
    kw["delayParameters"] = kw["delayParameters"] + [
        {"a": -1.0, "b": np.inf, "loc": 3.0, "scale": 1.0}]
    kw["synapseParameters"] = kw["synapseParameters"] + [
        {"weight": 0.0003, "syntype": "Exp2Syn", "tau1": 0.5, "tau2": 3.0, "e": 0.0}]
    kw["synapsePositionArguments"] = kw["synapsePositionArguments"] + [
        {"section": ["apic"], "fun": [st.norm], "funargs": [{"loc": 800.0, "scale": 50.0}],
         "funweights": [1.0]}]
    kw["nu_X"] = {"E": 2.5, "I": 5.0, "T": 10.0}
    n = _nseg("BallAndSticks_E.hoc")
    vrest = list(-65.0 + 3.0 * np.sin(np.arange(n)))
    return kw, {"Vrest": vrest, "dt": 2 ** -4, "t_X": 200, "tau": 50, "g_eff": True}, \
        {"z": np.linspace(1200.0, -400.0, 9), "sigma": 0.4, "R": 120.0, "sigma_z": 120.0}, \
        ["T"]


def _case_other_cells_E():
    return other_cell_arguments("E"), {"Vrest": -65.0, "dt": 2 ** -4, "t_X": 200, "tau": 50,
                                       "g_eff": True}, README_GCP, ["E", "I"]


def _case_other_cells_I_non_dyadic_fir():
    return other_cell_arguments("I"), {"Vrest": -70.0, "dt": 0.05, "t_X": 300, "tau": 20,
                                       "g_eff": True, "fir": True}, README_GCP, ["E", "I"]


CASES = {
    "other_cells_multibranch_E": _case_other_cells_E,
    "other_cells_multibranch_I_dt_0_05_fir": _case_other_cells_I_non_dyadic_fir,
    "readme": _case_readme,
    "per_segment_vrest_no_geff": _case_per_segment_vrest,
    "current_based_fir": _case_current_based_fir,
    "rotation_loc_mixture_zwindow": _case_rotation_loc_mixture,
    "discrete_multapses_noncausal_delays": _case_discrete_multapses_noncausal_delays,
    "settling_membrane_allsec": _case_settling_membrane_allsec,
    "three_populations_vrest_list_geff": _case_three_populations,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_reference(case, mechanisms_loaded):
    from xkernels import compat

    kw, options, gcp, pre = CASES[case]()
    reference = lfpykernels.KernelApprox(**kw)
    ours = compat.KernelApprox(**kw)
    for X in pre:
        with tight_reference_quadrature():
            H_ref = reference.get_kernel(_probes(lfpykernels, gcp), X=X, **options)
        H = ours.get_kernel(_probes(compat, gcp), X=X, **options)
        assert set(H) == set(H_ref)
        for name in H_ref:
            assert H[name].shape == H_ref[name].shape, (case, X, name)
            assert relative_difference(H[name], H_ref[name]) <= TOLERANCE, (case, X, name)


def test_network_api_matches_reference_for_all_pairs(mechanisms_loaded):
    """compute_kernels (solver="linear") on the 2x2 README network: every X -> Y against
    the reference, with tight quadrature to TOLERANCE and exactly as shipped to
    AS_SHIPPED_TOLERANCE."""
    import xkernels
    from xkernels.spec import Network

    net = Network.example()
    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **README_GCP),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    H = xkernels.compute_kernels(net, probes, dt=2 ** -4, tau=50, t_X=500, Vrest=-65.0,
                                 g_eff=True, averaging="reference", operating_point="rest",
                                 linearisation="as-is", solver="linear")
    assert H.dims == ("X", "Y", "probe_channel", "tau")
    for Y in ("E", "I"):
        reference = lfpykernels.KernelApprox(**readme_arguments(Y))
        for X in ("E", "I"):
            options = {"X": X, "Vrest": -65.0, "dt": 2 ** -4, "t_X": 500, "tau": 50,
                       "g_eff": True}
            shipped = reference.get_kernel(_probes(lfpykernels, README_GCP), **options)
            with tight_reference_quadrature():
                tight = reference.get_kernel(_probes(lfpykernels, README_GCP), **options)
            for name, key in (("lfp", "GaussCylinderPotential"),
                              ("cdm", "KernelApproxCurrentDipoleMoment")):
                ours = H.sel(X=X, Y=Y).xk.probe(name).values
                if name == "cdm":  # ours: one channel cdm:z; the reference's x, y rows are 0
                    assert (tight[key][:2] == 0).all() and ours.shape[0] == 1
                    tight_expected, shipped_expected = tight[key][2:], shipped[key][2:]
                else:
                    tight_expected, shipped_expected = tight[key], shipped[key]
                assert relative_difference(ours, tight_expected) <= TOLERANCE, (X, Y, name)
                assert relative_difference(ours, shipped_expected) <= AS_SHIPPED_TOLERANCE, \
                    (X, Y, name)


# --------------------------------------------------------------------------------------
# time steps that are not powers of two
# --------------------------------------------------------------------------------------
NON_DYADIC = [(dt, tau, t_X, fir)
              for k, (dt, tau) in enumerate((dt, tau) for dt in (0.1, 0.05, 0.025)
                                            for tau in (20, 50, 100))
              for t_X, fir in [((200, 500)[k % 2], k % 3 == 2)]]


@pytest.mark.parametrize("dt, tau, t_X, fir", NON_DYADIC)
def test_compat_matches_reference_at_non_dyadic_dt(dt, tau, t_X, fir, mechanisms_loaded):
    """The reference's own lags (its window moves with NEURON's accumulated time) and
    delay taps: same shape, same values."""
    from xkernels import compat

    kw = readme_arguments("E")
    reference = lfpykernels.KernelApprox(**kw)
    ours = compat.KernelApprox(**kw)
    options = {"Vrest": -65.0, "dt": dt, "tau": tau, "t_X": t_X, "g_eff": True, "fir": fir}
    for X in ("E", "I"):
        H_ref = reference.get_kernel([lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)],
                                     X=X, **options)["KernelApproxCurrentDipoleMoment"]
        H = ours.get_kernel([compat.KernelApproxCurrentDipoleMoment(cell=None)], X=X,
                            **options)["KernelApproxCurrentDipoleMoment"]
        assert H.shape == H_ref.shape, (X, H.shape, H_ref.shape)
        assert relative_difference(H, H_ref) <= TOLERANCE, X


def test_compat_lfp_matches_reference_at_dt_0_1(mechanisms_loaded):
    from xkernels import compat

    kw = readme_arguments("I")
    options = {"Vrest": -65.0, "dt": 0.1, "tau": 50, "t_X": 200, "g_eff": True}
    with tight_reference_quadrature():
        H_ref = lfpykernels.KernelApprox(**kw).get_kernel(_probes(lfpykernels, README_GCP),
                                                           X="E", **options)
    H = compat.KernelApprox(**kw).get_kernel(_probes(compat, README_GCP), X="E", **options)
    for name in H_ref:
        assert H[name].shape == H_ref[name].shape == (H_ref[name].shape[0], 1000)
        assert relative_difference(H[name], H_ref[name]) <= TOLERANCE, name


def _corrected_delay_grid(self, X, dt, tau):
    """The reference's get_delay on the lags it means, k dt for k = -n..n."""
    n = int(round(tau / dt))
    [i] = np.flatnonzero(np.array(self.X) == X)
    pdf = self.delayFunction(**self.delayParameters[i]).pdf(np.linspace(-tau, tau, 2 * n + 1))
    return pdf / pdf.sum()


#: measured difference between compute_kernels (regular grid) and the reference as
#: shipped at non-dyadic dt: its delay filter acts half a step late (see
#: xkernels.engine.timeline); the bounds bracket the figures in the docs
AS_SHIPPED_NON_DYADIC = {0.1: (0.030, 0.050), 0.05: (0.015, 0.025), 0.025: (0.0075, 0.0125)}


@pytest.mark.parametrize("dt, tau", [(0.1, 50), (0.05, 100), (0.025, 20)])
def test_network_api_at_non_dyadic_dt(dt, tau, mechanisms_loaded, monkeypatch):
    """compute_kernels at dt = 0.1 / 0.05 / 0.025 ms: all 2 tau / dt + 1 lags; on the
    reference's lags equal to the reference with its delay grid corrected (1e-6), and
    as far from the reference as shipped as documented."""
    import xkernels
    from xkernels.spec import Network

    t_X = 200
    n = int(round(tau / dt))
    H = xkernels.compute_kernels(Network.example(),
                                 {"cdm": xkernels.CurrentDipoleMomentZ(cell=None)},
                                 dt=dt, tau=tau, t_X=t_X, Vrest=-65.0, g_eff=True,
                                 averaging="reference", operating_point="rest",
                                 linearisation="as-is")
    assert H.sizes["tau"] == 2 * n + 1
    np.testing.assert_allclose(H.tau.values, np.arange(-n, n + 1) * dt, rtol=0, atol=1e-9)
    low, high = AS_SHIPPED_NON_DYADIC[dt]
    for Y in ("E", "I"):
        reference = lfpykernels.KernelApprox(**readme_arguments(Y))
        for X in ("E", "I"):
            ours = H.sel(X=X, Y=Y, probe_channel="cdm:z").values
            options = {"X": X, "Vrest": -65.0, "dt": dt, "t_X": t_X, "tau": tau,
                       "g_eff": True}
            probe = [lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
            shipped = reference.get_kernel(probe, **options)["KernelApproxCurrentDipoleMoment"]
            tvec = reference.cell.tvec
            lags = np.flatnonzero((tvec >= t_X - tau) & (tvec <= t_X + tau)) - \
                np.argmin(np.abs(tvec - t_X))
            with monkeypatch.context() as m:
                m.setattr(lfpykernels.KernelApprox, "get_delay", _corrected_delay_grid)
                probe = [lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
                fixed = reference.get_kernel(probe, **options)["KernelApproxCurrentDipoleMoment"]
            assert relative_difference(ours[lags + n], fixed[2]) <= TOLERANCE, (X, Y)
            assert low <= relative_difference(ours[lags + n], shipped[2]) <= high, (X, Y)

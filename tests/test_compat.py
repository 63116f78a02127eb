"""xkernels.compat: the LFPykernels 0.2.0 API refuses malformed arguments up front."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr
from conftest import readme_arguments, subprocess_env

from xkernels import compat


@pytest.mark.parametrize("field, value, exc, message", [
    ("N_X", np.array([8192]), ValueError, "N_X has 1 entries, expected 2"),
    ("C_YX", np.array([0.05, 0.05, 0.1]), ValueError, "C_YX has 3 entries, expected 2"),
    ("multapseParameters", [{"loc": 2.0, "scale": 0.6}], ValueError, "multapseParameters"),
    ("delayParameters", {"loc": 1.0}, TypeError, "delayParameters must be a list"),
    ("synapseParameters", [], ValueError, "synapseParameters has 0 entries"),
    ("synapsePositionArguments", [{}] * 3, ValueError, "synapsePositionArguments"),
    ("X", "EI", TypeError, "X must be a non-empty list"),
    ("C_YX", np.array([0.05, 1.5]), ValueError, "connections['I->E'].probability"),
    ("N_X", np.array([8192, 0]), ValueError, "populations['I'].size must be > 0"),
    ("multapseFunction", lambda **kw: None, TypeError, "multapseFunction must be a scipy"),
    ("populationParameters", {"radius": 150.0}, ValueError, "populationParameters lacks"),
    # the translated network is validated as Network.from_dict validates it
    ("synapseParameters", [{"weight": -1e-4, "syntype": "Exp2Syn", "tau1": 0.2, "tau2": 1.8,
                            "e": 0.0}] * 2, ValueError,
     "connections['E->E'].synapse.weight must be >= 0 in a conductance-based network"),
])
def test_bad_arguments_refused(field, value, exc, message):
    kw = readme_arguments("E")
    kw[field] = value
    with pytest.raises(exc) as info:
        compat.KernelApprox(**kw)
    assert message in str(info.value)


def test_missing_morphology_file_refused():
    kw = readme_arguments("E")
    kw["cellParameters"] = dict(kw["cellParameters"], morphology="no/such/cell.hoc")
    with pytest.raises(FileNotFoundError, match="no/such/cell.hoc"):
        compat.KernelApprox(**kw)


def test_get_kernel_refuses_unknown_population_and_bad_probes(mechanisms_loaded):
    approx = compat.KernelApprox(**readme_arguments("E"))
    with pytest.raises(ValueError, match="X must be one of"):
        approx.get_kernel([compat.KernelApproxCurrentDipoleMoment(None)], X="T")
    with pytest.raises(TypeError, match="probes must be a non-empty list"):
        approx.get_kernel([], X="E")


def test_repeated_calls_reuse_the_computation(mechanisms_loaded):
    approx = compat.KernelApprox(**readme_arguments("E"))
    probes = [compat.KernelApproxCurrentDipoleMoment(None)]
    H_E = approx.get_kernel(probes, X="E", tau=5.0, t_X=10.0)
    cached = dict(approx._cache)
    H_I = approx.get_kernel(probes, X="I", tau=5.0, t_X=10.0)
    assert approx._cache.keys() == cached.keys()  # served from the same computation
    key = "KernelApproxCurrentDipoleMoment"
    assert H_E[key].shape == H_I[key].shape == (3, 161)
    assert not np.array_equal(H_E[key], H_I[key])


def test_discrete_multapse_function_accepted():
    kw = readme_arguments("E")
    kw["multapseFunction"] = st.poisson
    kw["multapseParameters"] = [{"mu": 2.0, "loc": 1}, {"mu": 4.0, "loc": 1}]
    approx = compat.KernelApprox(**kw)
    assert approx.network.connection("I", "E").mean_multapses() == pytest.approx(5.0)


def test_lfpykernels_probes_accepted_by_compute_kernels(mechanisms_loaded):
    """LFPykernels' probe classes give exactly the kernels of their xkernels equivalents."""
    import lfpykernels  # the oracle is a test dependency: fail, never skip

    import xkernels

    gcp = {"z": np.linspace(1000.0, -200.0, 4), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
    options = {"dt": 2 ** -4, "tau": 2.0, "t_X": 10.0, "Vrest": -65.0, "g_eff": True}
    network = xkernels.Network.example()
    H_ref = xkernels.compute_kernels(
        network, [lfpykernels.GaussCylinderPotential(None, **gcp),
                  lfpykernels.KernelApproxCurrentDipoleMoment(None)], **options)
    H = xkernels.compute_kernels(
        network, [xkernels.GaussCylinderPotential(None, **gcp),
                  xkernels.CurrentDipoleMomentZ(None, components="xyz")], **options)
    xr.testing.assert_identical(H_ref, H)


def test_compat_registration_is_active_on_any_import():
    """Importing any xkernels module (here the engine alone) registers the lfpykernels
    probe kinds: xkernels.probes imports them."""
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('ignore'); import numpy as np; "
            "import lfpykernels; from xkernels.engine import kernels; "
            "from xkernels.probes import kind_of; "
            "p = lfpykernels.GaussCylinderPotential(None, z=np.zeros(1), sigma=0.3, R=1.0, "
            "sigma_z=1.0); print(type(kind_of(p)).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=subprocess_env())
    assert out.stdout.split()[-1] == "ReferenceGaussCylinderKind"

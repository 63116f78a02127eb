"""Tests of xkernels.probes against lfpykernels 0.2.0, lfpykit and independent quadrature."""

from __future__ import annotations

import doctest
import json
import math
import warnings
from pathlib import Path

import lfpykit
import numpy as np
import pytest
import scipy.integrate as si
from hypothesis import given, settings
from hypothesis import strategies as st
from lfpykit.eegmegcalc import (
    FourSphereVolumeConductor,
    InfiniteHomogeneousVolCondMEG,
    SphericallySymmetricVolCondMEG,
)

import xkernels.probes.models as probes_mod
from xkernels.contract import CHANNEL_COORDS
from xkernels.probes import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
    ProbeKind,
    default_probe_name,
    draw_offsets,
    gauss_cylinder_mean,
    normalize_probes,
    probe_channels,
    probe_definition,
    probe_from_definition,
    probe_matrix,
    register,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lfpykernels  # imports NEURON/LFPy; test-only reference

POP = {"radius": 100.0, "loc": 0.0, "scale": 50.0}
DIPOLE = np.array([0.0, 0.0, 78000.0])


def ball_and_sticks(loc: float = 0.0) -> lfpykit.CellGeometry:
    """27 segments: soma z in [-15, 15] (d 30), basal to -215 (d 2), apical to 1015 (d 3)."""
    soma = [(-15.0, 15.0, 30.0)]
    zb = np.linspace(-15.0, -215.0, 6)
    basal = [(zb[i], zb[i + 1], 2.0) for i in range(5)]
    za = np.linspace(15.0, 1015.0, 22)
    apical = [(za[i], za[i + 1], 3.0) for i in range(21)]
    seg = np.array(soma + basal + apical)
    n = len(seg)
    x = np.zeros((n, 2))
    x[1:6] = np.linspace(0.0, 30.0, 6)[np.c_[np.arange(5), np.arange(1, 6)]]  # tilted basal
    return lfpykit.CellGeometry(x=x, y=np.zeros((n, 2)), z=seg[:, :2] + loc,
                                d=seg[:, 2].copy())


@pytest.fixture(scope="module")
def geom() -> lfpykit.CellGeometry:
    return ball_and_sticks()


@pytest.fixture(scope="module")
def imem() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(27, 11))


# --------------------------------------------------------------------------- #
# GaussCylinderPotential
# --------------------------------------------------------------------------- #
GAUSS_CASES = [
    # R, sigma_z, sigma, contact depths
    (100.0, 50.0, 0.3, np.linspace(-200.0, 1000.0, 13)),   # README example
    (100.0, 2.0, 0.3, np.linspace(-300.0, 1100.0, 8)),     # sigma_z << R
    (20.0, 800.0, 1.0, np.array([-500.0, 0.0, 500.0])),    # sigma_z >> R
    (250.0, 100.0, 0.05, np.array([-5000.0, -1500.0, 3000.0, 6000.0])),  # far outside
    (50.0, 30.0, 0.3, np.array([0.0, 7.5, 15.0])),          # contacts inside the soma
]


@pytest.mark.parametrize("R, sigma_z, sigma, z", GAUSS_CASES)
def test_gauss_cylinder_matches_reference_quad(geom, R, sigma_z, sigma, z):
    ref = lfpykernels.GaussCylinderPotential(geom, z=z, sigma=sigma, R=R, sigma_z=sigma_z)
    expected = ref.get_transformation_matrix()
    got = GaussCylinderPotential(geom, z=z, sigma=sigma, R=R,
                                 sigma_z=sigma_z).get_transformation_matrix()
    assert got.shape == expected.shape == (z.size, geom.totnsegs)
    assert np.abs(got - expected).max() <= 1e-7 * np.abs(expected).max()


def _disk_mean_quad(d: float, R: float, sigma_z: float) -> float:
    """E[sqrt((d-s)^2+R^2) - |d-s|], s ~ N(0, sigma_z), by quad split at the kink s = d."""

    def integrand(s):
        u = d - s
        return R * R / (math.hypot(u, R) + abs(u)) * math.exp(-0.5 * (s / sigma_z) ** 2)

    lo, hi = -40.0 * sigma_z, 40.0 * sigma_z
    edges = sorted({lo, hi, *[p for p in (d - R, d, d + R, 0.0) if lo < p < hi]})
    # further breakpoints: every sigma_z and R scale near the peaks
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        val, _ = si.quad(integrand, a, b, epsabs=0.0, epsrel=1e-13, limit=500)
        total += val
    return total / (sigma_z * math.sqrt(2.0 * math.pi))


@pytest.mark.parametrize("R, sigma_z", [(500.0, 0.5), (10.0, 5000.0), (100.0, 100.0),
                                        (1.0, 1.0), (1000.0, 3.0)])
@pytest.mark.parametrize("d", [0.0, 0.3, 37.0, 1e3, 1e5, -2e4])
def test_gauss_cylinder_mean_against_split_quadrature(R, sigma_z, d):
    expected = _disk_mean_quad(d, R, sigma_z)
    got = float(gauss_cylinder_mean(np.array([d]), R, sigma_z)[0])
    assert got == pytest.approx(expected, rel=1e-9)


def test_gauss_cylinder_limits():
    # sigma_z << R: E|d - s| is the folded-normal mean (exact) and the smooth part
    # is sqrt(d^2 + R^2) + sigma_z^2 R^2 / (2 (d^2 + R^2)^1.5) + O(sigma_z^4)
    d = np.array([-400.0, -30.0, -1e-3, 0.0, 5e-4, 20.0, 3000.0])
    R, sz = 80.0, 1e-3
    folded = (sz * np.sqrt(2 / np.pi) * np.exp(-0.5 * (d / sz) ** 2)
              + d * np.vectorize(math.erf)(d / (sz * np.sqrt(2))))
    smooth = np.hypot(d, R) + sz ** 2 * R ** 2 / (2 * np.hypot(d, R) ** 3)
    np.testing.assert_allclose(gauss_cylinder_mean(d, R, sz), smooth - folded, rtol=1e-12)
    # far field: the disk function falls off as R^2 / (2 |d|)
    far = gauss_cylinder_mean(np.array([1e6]), 50.0, 10.0)[0]
    assert far == pytest.approx(50.0 ** 2 / (2 * 1e6), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(d=st.floats(-1e4, 1e4), R=st.floats(0.5, 2000.0), sigma_z=st.floats(0.5, 2000.0))
def test_gauss_cylinder_mean_properties(d, R, sigma_z):
    val, mirrored = gauss_cylinder_mean(np.array([d, -d]), R, sigma_z)
    assert 0.0 < val <= R * (1 + 1e-12)
    assert val == pytest.approx(mirrored, rel=1e-12)
    # the disk function is maximal at u = 0: smearing lowers the peak
    assert gauss_cylinder_mean(np.array([0.0]), R, sigma_z)[0] >= val * (1 - 1e-12)


def test_gauss_cylinder_needs_cell():
    probe = GaussCylinderPotential(z=np.array([0.0]))
    with pytest.raises(AttributeError, match="cell is None"):
        probe.get_transformation_matrix()


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"z": None}, TypeError, "z"),
    ({"z": np.zeros((2, 2))}, ValueError, "1-D"),
    ({"z": np.array([])}, ValueError, "non-empty"),
    ({"z": np.array([0.0, np.nan])}, ValueError, "finite"),
    ({"z": ["a", "b"]}, TypeError, "real numbers"),
    ({"z": [0.0], "sigma": 0.0}, ValueError, "sigma must be > 0, got 0.0"),
    ({"z": [0.0], "sigma": "0.3"}, TypeError, "sigma"),
    ({"z": [0.0], "sigma": True}, TypeError, "sigma"),
    ({"z": [0.0], "R": -1.0}, ValueError, r"R must .* got -1.0"),
    ({"z": [0.0], "sigma_z": float("inf")}, ValueError, "sigma_z"),
])
def test_gauss_cylinder_bad_input(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        GaussCylinderPotential(**kwargs)


# --------------------------------------------------------------------------- #
# CDM, EEG, MEG
# --------------------------------------------------------------------------- #
def test_cdm_z(geom):
    """The native z-only dipole has one row (channel cdm:z); components="xyz" gives the
    reference's three rows, x and y zero."""
    M = CurrentDipoleMomentZ(geom).get_transformation_matrix()
    assert isinstance(CurrentDipoleMomentZ(), lfpykit.CurrentDipoleMoment)
    assert M.shape == (1, geom.z.shape[0])
    np.testing.assert_allclose(M[0], geom.z.mean(axis=1))
    ref = lfpykernels.KernelApproxCurrentDipoleMoment(geom).get_transformation_matrix()
    np.testing.assert_array_equal(M, ref[2:])
    np.testing.assert_array_equal(
        CurrentDipoleMomentZ(geom, components="xyz").get_transformation_matrix(), ref)
    # the z-row is that of the full CDM
    np.testing.assert_array_equal(M[0], lfpykit.CurrentDipoleMoment(geom)
                                  .get_transformation_matrix()[2])
    assert probe_channels("cdm", CurrentDipoleMomentZ())["probe_channel"][1].tolist() == \
        ["cdm:z"]
    with pytest.raises(ValueError, match=r"CurrentDipoleMomentZ.components must be one of "
                                         r"\['z', 'xyz'\], got 'xy'"):
        CurrentDipoleMomentZ(components="xy")


def test_eeg_matches_four_sphere_by_hand(geom, imem):
    r_el = np.array([[0.0, 0.0, 90000.0], [15000.0, 0.0, 88000.0], [0.0, -30000.0, 84000.0]])
    eeg = EEGProbe(r_el, cell=geom)
    p = lfpykernels.KernelApproxCurrentDipoleMoment(geom).get_transformation_matrix() @ imem
    by_hand = FourSphereVolumeConductor(r_el, [79000.0, 80000.0, 85000.0, 90000.0],
                                        [0.3, 1.5, 0.015, 0.3]).get_dipole_potential(p, DIPOLE)
    got = eeg.get_transformation_matrix() @ imem
    np.testing.assert_allclose(got, by_hand, rtol=1e-10, atol=1e-12 * np.abs(by_hand).max())
    # non-default head and dipole
    eeg2 = EEGProbe(r_el, radii=[80000, 81000, 86000, 91000], sigmas=[0.33, 1.79, 0.01, 0.33],
                    dipole_location=[1000.0, 0.0, 77000.0])
    M2 = probe_matrix(eeg2, geom, POP)
    T2 = FourSphereVolumeConductor(r_el, [80000, 81000, 86000, 91000],
                                   [0.33, 1.79, 0.01, 0.33]).get_transformation_matrix(
        np.array([1000.0, 0.0, 77000.0]))
    np.testing.assert_allclose(M2, np.outer(T2[:, 2], geom.z.mean(axis=1)), rtol=1e-12)


@pytest.mark.parametrize("conductor", ["infinite", "spherical"])
def test_meg_matches_lfpykit_by_hand(geom, imem, conductor):
    sensors = np.array([[10000.0, 0.0, 90000.0], [0.0, 5000.0, 95000.0],
                        [-3000.0, 4000.0, 100000.0]])
    loc = np.array([2000.0, 0.0, 78000.0])   # off-axis so the spherical field is non-zero
    meg = MEGProbe(sensors, dipole_location=loc, conductor=conductor)
    p = lfpykernels.KernelApproxCurrentDipoleMoment(geom).get_transformation_matrix() @ imem
    model = (InfiniteHomogeneousVolCondMEG(sensors) if conductor == "infinite"
             else SphericallySymmetricVolCondMEG(sensors))
    H = model.calculate_H(p, loc)                       # (n_sensors, 3, n_t), nA/µm
    M = probe_matrix(meg, geom, POP)                    # (n_sensors * 3, nseg)
    assert M.shape == (9, geom.totnsegs)
    np.testing.assert_allclose(M @ imem, H.reshape(9, -1), rtol=1e-10,
                               atol=1e-12 * np.abs(H).max())
    assert np.abs(H).max() > 0
    labels = probe_channels("meg", meg)["probe_channel"][1]
    assert labels[4] == "meg:1:y"       # row 4 of M is sensor 1, component y


def test_eeg_meg_bad_input():
    with pytest.raises(ValueError, match=r"r_electrodes rows \[1\]"):
        EEGProbe(np.array([[0.0, 0.0, 90000.0], [0.0, 0.0, 95000.0]]))
    with pytest.raises(ValueError, match="last axis of length 3"):
        EEGProbe(np.array([[0.0, 90000.0]]))
    with pytest.raises(ValueError, match="radii"):
        EEGProbe(np.array([[0.0, 0.0, 90000.0]]), radii=[1.0, 3.0, 2.0, 90000.0])
    with pytest.raises(ValueError, match="sigmas"):
        EEGProbe(np.array([[0.0, 0.0, 90000.0]]), sigmas=[0.3, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="dipole_location"):
        EEGProbe(np.array([[0.0, 0.0, 90000.0]]), dipole_location=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="conductor"):
        MEGProbe(np.array([[0.0, 0.0, 90000.0]]), conductor="sphere")
    with pytest.raises(ValueError, match="coincide"):
        MEGProbe(np.array([[0.0, 0.0, 78000.0]]))


# --------------------------------------------------------------------------- #
# probe_matrix and population averaging
# --------------------------------------------------------------------------- #
def _brute_force_average(probe, geom, offsets):
    """Move the contacts by every offset, one at a time, as the reference does."""
    x0, y0, z0 = probe.x.copy(), probe.y.copy(), probe.z.copy()
    probe.cell = geom
    acc = np.zeros((x0.size, geom.totnsegs))
    for dx, dy, dz in offsets:
        probe.x, probe.y, probe.z = x0 + dx, y0 + dy, z0 + dz
        acc += probe.get_transformation_matrix()
    probe.x, probe.y, probe.z, probe.cell = x0, y0, z0, None
    return acc / len(offsets)


def _contacts():
    return np.full(6, 20.0), np.zeros(6), np.linspace(-200.0, 1000.0, 6)


CONTACT_PROBES = {
    "point": lambda: lfpykit.PointSourcePotential(None, *_contacts(), sigma=0.3),
    "line": lambda: lfpykit.LineSourcePotential(None, *_contacts(), sigma=0.3),
    "recext-line": lambda: lfpykit.RecExtElectrode(None, x=_contacts()[0], y=_contacts()[1],
                                                   z=_contacts()[2], method="linesource"),
    "recext-point": lambda: lfpykit.RecExtElectrode(None, x=_contacts()[0], y=_contacts()[1],
                                                    z=_contacts()[2], method="pointsource"),
    "recext-root": lambda: lfpykit.RecExtElectrode(None, x=_contacts()[0], y=_contacts()[1],
                                                   z=_contacts()[2], method="root_as_point"),
}


@pytest.mark.parametrize("kind", list(CONTACT_PROBES))
def test_contact_average_equals_brute_force(geom, kind):
    n = 300 if kind == "recext-root" else 2000   # root_as_point takes the slow path
    probe = CONTACT_PROBES[kind]()
    probe.cell = geom
    M = probe_matrix(probe, geom, POP, n_positions=n, seed=99)
    assert probe.cell is geom          # the user's probe is never changed
    probe.cell = None
    expected = _brute_force_average(probe, geom, draw_offsets(POP, n, seed=99))
    np.testing.assert_allclose(M, expected, rtol=1e-10, atol=0.0)


def test_contact_average_deterministic_and_seeded(geom):
    probe = CONTACT_PROBES["line"]()
    a = probe_matrix(probe, geom, POP, seed=5)
    b = probe_matrix(probe, geom, POP, seed=5)
    c = probe_matrix(probe, geom, POP, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # different seeds: both estimates of the same population mean
    np.testing.assert_allclose(a, c, rtol=0.1)


def test_contact_average_no_double_shift():
    """A population at loc = 500 with the geometry at z = 500 equals loc = 0 shifted."""
    probe = CONTACT_PROBES["point"]()
    at_zero = probe_matrix(probe, ball_and_sticks(0.0), POP, seed=3)
    shifted_probe = lfpykit.PointSourcePotential(None, probe.x, probe.y, probe.z + 500.0)
    at_500 = probe_matrix(shifted_probe, ball_and_sticks(500.0), dict(POP, loc=500.0), seed=3)
    np.testing.assert_allclose(at_500, at_zero, rtol=1e-9)


def test_draw_offsets_distribution():
    off = draw_offsets({"radius": 100.0, "loc": 300.0, "scale": 50.0}, 20000, seed=1)
    assert off.shape == (20000, 3)
    assert np.all(np.hypot(off[:, 0], off[:, 1]) <= 100.0)
    # uniform in the disk: P(r < R/2) = 1/4
    assert np.mean(np.hypot(off[:, 0], off[:, 1]) < 50.0) == pytest.approx(0.25, abs=0.015)
    assert off[:, 2].mean() == pytest.approx(0.0, abs=2.0)   # relative to loc
    assert off[:, 2].std() == pytest.approx(50.0, rel=0.03)
    np.testing.assert_array_equal(off, draw_offsets({"radius": 100, "loc": 300, "scale": 50},
                                                    20000, seed=1))


def test_probe_matrix_plain_models_and_reset(geom):
    gauss = GaussCylinderPotential(z=np.linspace(-200.0, 1000.0, 13))
    M = probe_matrix(gauss, geom, POP)
    assert gauss.cell is None
    gauss.cell = geom
    np.testing.assert_array_equal(M, gauss.get_transformation_matrix())
    gauss.cell = None
    # the reference class is evaluated with the fast equivalent
    ref = lfpykernels.GaussCylinderPotential(None, z=gauss.z, sigma=0.3, R=100, sigma_z=50.0)
    M_ref = probe_matrix(ref, geom, None)
    ref.cell = geom
    exact = ref.get_transformation_matrix()
    assert np.abs(M_ref - exact).max() <= 1e-7 * np.abs(exact).max()
    np.testing.assert_array_equal(probe_matrix(lfpykit.CurrentDipoleMoment(None), geom, None),
                                  lfpykit.CurrentDipoleMoment(geom).get_transformation_matrix())


def test_probe_matrix_bad_input(geom):
    probe = CONTACT_PROBES["point"]()
    with pytest.raises(ValueError, match="population is missing 'scale'"):
        probe_matrix(probe, geom, {"radius": 100.0, "loc": 0.0})
    with pytest.raises(ValueError, match=r"population\['radius'\] must be >= 0, got -1"):
        probe_matrix(probe, geom, {"radius": -1, "loc": 0.0, "scale": 1.0})
    with pytest.raises(ValueError, match="n_positions must be an integer >= 1, got 0"):
        probe_matrix(probe, geom, POP, n_positions=0)
    with pytest.raises(TypeError, match="LinearModel"):
        probe_matrix(object(), geom, POP)
    with pytest.raises(TypeError, match="CellGeometry"):
        probe_matrix(probe, object(), POP)


@pytest.mark.parametrize("population, n, exc, text", [
    ([100.0, 0.0, 50.0], 10, TypeError, "population must be a dict"),
    ({"radius": "100", "loc": 0.0, "scale": 1.0}, 10, TypeError,
     r"population\['radius'\] must be a real number, got '100'"),
    ({"radius": True, "loc": 0.0, "scale": 1.0}, 10, TypeError, "real number"),
    ({"radius": 1.0, "loc": np.nan, "scale": 1.0}, 10, ValueError,
     r"population\['loc'\] must be finite"),
    ({"radius": 1.0, "loc": 0.0, "scale": -2.0}, 10, ValueError, r"\['scale'\] must be >= 0"),
    (POP, 2.5, TypeError, "n_positions must be an integer, got 2.5"),
    (POP, True, TypeError, "n_positions must be an integer, got True"),
])
def test_draw_offsets_wrong_types_and_values(population, n, exc, text):
    """One policy: TypeError for a wrong type, ValueError for a bad value."""
    with pytest.raises(exc, match=text):
        draw_offsets(population, n)
    assert draw_offsets(POP, np.int64(3)).shape == (3, 3)


# --------------------------------------------------------------------------- #
# channel metadata
# --------------------------------------------------------------------------- #
def test_probe_channels(geom):
    z = np.linspace(-200.0, 1000.0, 13)
    lfp = probe_channels("lfp", GaussCylinderPotential(z=z))
    assert set(lfp) == {"probe_channel", *CHANNEL_COORDS}
    assert lfp["probe_channel"][1].tolist() == [f"lfp:{i}" for i in range(13)]
    assert set(lfp["units"][1]) == {"mV"}
    assert np.all(np.isnan(lfp["x"][1])) and np.all(np.isnan(lfp["y"][1]))
    np.testing.assert_array_equal(lfp["z"][1], z)

    cdm = probe_channels("cdm", lfpykernels.KernelApproxCurrentDipoleMoment(None))
    assert cdm["probe_channel"][1].tolist() == ["cdm:x", "cdm:y", "cdm:z"]
    assert set(cdm["units"][1]) == {"nA µm"} and np.all(np.isnan(cdm["z"][1]))

    r_el = np.array([[0.0, 0.0, 90000.0], [0.0, 1000.0, 89000.0]])
    eeg = probe_channels("eeg", EEGProbe(r_el))
    assert eeg["probe_channel"][1].tolist() == ["eeg:0", "eeg:1"]
    np.testing.assert_array_equal(eeg["y"][1], r_el[:, 1])

    meg = probe_channels("meg", MEGProbe(r_el))
    assert meg["probe_channel"][1].tolist()[:4] == ["meg:0:x", "meg:0:y", "meg:0:z", "meg:1:x"]
    assert set(meg["units"][1]) == {"nA/µm"}
    np.testing.assert_array_equal(meg["z"][1], np.repeat(r_el[:, 2], 3))

    pts = probe_channels("ps", CONTACT_PROBES["point"]())
    np.testing.assert_array_equal(pts["x"][1], _contacts()[0])

    # one channel label per matrix row for every supported probe
    for name, probe in normalize_probes([GaussCylinderPotential(z=z), CurrentDipoleMomentZ(),
                                         EEGProbe(r_el), MEGProbe(r_el),
                                         CONTACT_PROBES["line"]()]).items():
        rows = probe_matrix(probe, geom, POP, n_positions=10).shape[0]
        assert probe_channels(name, probe)["probe_channel"][1].size == rows

    with pytest.raises(TypeError, match="has no known units"):
        probe_channels("x", lfpykit.LinearModel(None))
    # any other lfpykit model: one channel per matrix row, units from a table or the user
    sphere = lfpykit.OneSphereVolumeConductor(None, r=np.array([[0.0, 0.0], [0.0, 0.0],
                                                                [100.0, 500.0]]), R=10000.0)
    coords = probe_channels("sphere", sphere)
    assert coords["probe_channel"][1].tolist() == ["sphere:0", "sphere:1"]
    assert set(coords["units"][1]) == {"mV"}
    identity = lfpykit.LinearModel(None)
    identity.units = "nA"
    assert probe_channels("imem", identity)["probe_channel"][1].size == 2
    with pytest.raises(ValueError, match="without ':'"):
        probe_channels("a:b", CurrentDipoleMomentZ())


# --------------------------------------------------------------------------- #
# provenance
# --------------------------------------------------------------------------- #
ROUND_TRIP = {
    "gauss": lambda: GaussCylinderPotential(z=np.array([0.0, 100.0]), sigma=0.4, R=80.0,
                                            sigma_z=30.0),
    "cdmz": lambda: CurrentDipoleMomentZ(),
    "cdm": lambda: lfpykit.CurrentDipoleMoment(None),
    "eeg": lambda: EEGProbe(np.array([[0.0, 0.0, 90000.0]]), dipole_location=[0, 10, 77000]),
    "meg": lambda: MEGProbe(np.array([[0.0, 1e4, 90000.0]]), conductor="spherical"),
    "point": CONTACT_PROBES["point"],
    "line": CONTACT_PROBES["line"],
    "recext": CONTACT_PROBES["recext-root"],
    "recext-aniso": lambda: lfpykit.RecExtElectrode(None, sigma=[0.3, 0.3, 0.2], x=[10.0],
                                                    y=[0.0], z=[50.0], method="pointsource"),
}


@pytest.mark.parametrize("kind", list(ROUND_TRIP))
def test_definition_round_trip(geom, kind):
    probe = ROUND_TRIP[kind]()
    definition = probe_definition(probe)
    rebuilt = probe_from_definition(json.loads(json.dumps(definition)))
    assert type(rebuilt) is type(probe)
    assert probe_definition(rebuilt) == definition
    np.testing.assert_array_equal(probe_matrix(rebuilt, geom, POP, n_positions=20),
                                  probe_matrix(probe, geom, POP, n_positions=20))


def test_definition_of_reference_probes(geom):
    ref = lfpykernels.GaussCylinderPotential(None, z=np.array([0.0, 500.0]), sigma=0.3,
                                             R=100, sigma_z=50.0)
    rebuilt = probe_from_definition(probe_definition(ref))
    assert isinstance(rebuilt, GaussCylinderPotential) and rebuilt.R == 100.0
    cdm = probe_from_definition(probe_definition(
        lfpykernels.KernelApproxCurrentDipoleMoment(None)))
    assert type(cdm) is CurrentDipoleMomentZ and cdm.components == "xyz"


def test_definition_class_paths():
    """Definitions name classes by their public path and read module paths too."""
    eeg = EEGProbe(np.array([[0.0, 0.0, 90000.0]]))
    definition = probe_definition(eeg)
    assert definition["class"] == "xkernels.probes.EEGProbe"
    for path in ("xkernels.probes.models.EEGProbe", "xkernels.probes.EEGProbe"):
        rebuilt = probe_from_definition(dict(definition, **{"class": path}))
        assert type(rebuilt) is EEGProbe and probe_definition(rebuilt) == definition
    assert probe_definition(CONTACT_PROBES["point"]())["class"] == "lfpykit.PointSourcePotential"
    # subclasses are described only where the kind says so (a subclass may change physics)
    with pytest.raises(TypeError, match="cannot describe lfpykit.models.RecMEAElectrode"):
        probe_definition(lfpykit.RecMEAElectrode(None, x=np.zeros(1), y=np.zeros(1),
                                                 z=np.zeros(1)))


def test_definition_errors():
    with pytest.raises(TypeError, match="cannot describe lfpykit.models.LinearModel"):
        probe_definition(lfpykit.LinearModel(None))
    with pytest.raises(ValueError, match="'class' must be one of"):
        probe_from_definition({"class": "os.system", "params": {}})
    with pytest.raises(TypeError, match="'class' and 'params'"):
        probe_from_definition(["xkernels.probes.CurrentDipoleMomentZ"])


# --------------------------------------------------------------------------- #
# naming
# --------------------------------------------------------------------------- #
def test_normalize_probes_names():
    gauss = GaussCylinderPotential(z=[0.0])
    ps = CONTACT_PROBES["point"]()
    named = normalize_probes([gauss, CurrentDipoleMomentZ(),
                              lfpykernels.KernelApproxCurrentDipoleMoment(None),
                              lfpykernels.GaussCylinderPotential(None, z=np.array([0.0])),
                              EEGProbe(np.array([[0.0, 0.0, 90000.0]])),
                              MEGProbe(np.array([[0.0, 1.0, 90000.0]])), ps,
                              lfpykit.CurrentDipoleMoment(None)])
    assert list(named) == ["lfp", "cdm", "cdm_1", "lfp_1", "eeg", "meg",
                           "pointsourcepotential", "cdm_2"]
    assert named["lfp"] is gauss and named["pointsourcepotential"] is ps
    assert normalize_probes({"deep": gauss}) == {"deep": gauss}
    assert list(normalize_probes(gauss)) == ["lfp"]


@pytest.mark.parametrize("bad, exc, text", [
    ([], ValueError, "at least one probe"),
    ({}, ValueError, "at least one probe"),
    ([object()], TypeError, r"probes\[0\] must be an lfpykit.LinearModel, got object"),
    ({"lfp": 3}, TypeError, r"probes\['lfp'\] must be an lfpykit.LinearModel, got int"),
    ({"": CurrentDipoleMomentZ()}, ValueError, "probe name"),
    ({"a:b": CurrentDipoleMomentZ()}, ValueError, "without ':'"),
    ("lfp", TypeError, "got str"),
])
def test_normalize_probes_bad_input(bad, exc, text):
    with pytest.raises(exc, match=text):
        normalize_probes(bad)


def test_probe_names_follow_the_validation_policy():
    with pytest.raises(TypeError, match="probe name must be a non-empty str without ':', got 3"):
        normalize_probes({3: CurrentDipoleMomentZ()})
    with pytest.raises(ValueError, match="probe name must be a non-empty str"):
        probe_channels("", CurrentDipoleMomentZ())
    with pytest.raises(TypeError, match="LinearModel, got object"):
        default_probe_name(object())


# --------------------------------------------------------------------------- #
# the registry: a new probe class is one registered kind
# --------------------------------------------------------------------------- #
class Bipolar(lfpykit.LinearModel):
    """Test model: potential difference between two point contacts on the z-axis."""

    def __init__(self, cell=None, z=(0.0, 100.0), sigma=0.3):
        super().__init__(cell=cell)
        self.z = np.asarray(z, dtype=float)
        self.sigma = float(sigma)

    def get_transformation_matrix(self):
        zero = np.zeros(2)
        M = lfpykit.PointSourcePotential(self.cell, x=zero, y=zero, z=self.z,
                                         sigma=self.sigma).get_transformation_matrix()
        return M[1:] - M[:1]


class BipolarChild(Bipolar):
    pass


@register(Bipolar)
class BipolarKind(ProbeKind):
    name = "bipolar"
    units = "mV"
    serialised_as = Bipolar
    float_params = ("z", "sigma")


def test_new_probe_class_is_one_registration(geom):
    probe = Bipolar(z=(-100.0, 500.0))
    assert list(normalize_probes([probe, Bipolar()])) == ["bipolar", "bipolar_1"]
    coords = probe_channels("bip", probe)
    assert coords["probe_channel"][1].tolist() == ["bip:0"]      # generic: matrix rows
    assert coords["units"][1].tolist() == ["mV"]
    definition = json.loads(json.dumps(probe_definition(probe)))
    assert definition == {"class": f"{__name__}.Bipolar",
                          "params": {"z": [-100.0, 500.0], "sigma": 0.3}}
    rebuilt = probe_from_definition(definition)
    assert type(rebuilt) is Bipolar
    M = probe_matrix(rebuilt, geom, POP)
    assert M.shape == (1, geom.totnsegs) and rebuilt.cell is None
    probe.cell = geom
    np.testing.assert_array_equal(M, probe.get_transformation_matrix())
    # subclasses share the kind's name, channels and matrix, not its definition
    child = BipolarChild()
    assert default_probe_name(child) == "bipolar"
    with pytest.raises(TypeError, match="cannot describe"):
        probe_definition(child)


def test_lfpykernels_kinds_are_registered():
    from xkernels.probes import kind_of
    from xkernels.probes.lfpykernels_kinds import ReferenceGaussCylinderKind

    ref = lfpykernels.GaussCylinderPotential(None, z=np.array([0.0]), sigma=0.3, R=100,
                                             sigma_z=50.0)
    assert isinstance(kind_of(ref), ReferenceGaussCylinderKind)
    assert default_probe_name(ref) == "lfp"
    fast = kind_of(ref).evaluated_as(ref)
    assert type(fast) is GaussCylinderPotential and fast.R == 100.0


def test_module_doctests():
    result = doctest.testmod(probes_mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_mea_slice_is_averaged_laterally_only(geom):
    probe = lfpykit.RecMEAElectrode(None, sigma_T=0.3, sigma_S=1.5, sigma_G=0.0, h=3000.0,
                                    z_shift=-500.0, x=np.array([0.0, 50.0]), y=np.zeros(2),
                                    z=np.full(2, -500.0), method="pointsource")
    M = probe_matrix(probe, geom, POP, n_positions=20, seed=4)
    expected = np.zeros_like(M)
    for dx, dy, _ in draw_offsets(POP, 20, seed=4):
        probe.cell = lfpykit.CellGeometry(geom.x - dx, geom.y - dy, geom.z, geom.d)
        expected += probe.get_transformation_matrix() / 20
    probe.cell = None
    np.testing.assert_allclose(M, expected, rtol=1e-12)


def test_probes_are_never_modified(geom):
    """probe_matrix, probe_depth_rule and probe_channels evaluate copies: a cell the user
    set on a probe stays (two computations may share probe objects)."""
    from xkernels.probes import probe_depth_rule

    gauss = GaussCylinderPotential(geom, z=[0.0, 100.0])
    point = CONTACT_PROBES["point"]()
    point.cell = geom
    sphere = lfpykit.OneSphereVolumeConductor(cell=geom, r=np.array([[0.0], [0.0], [500.0]]),
                                              R=10000.0)
    probe_matrix(gauss, geom, POP)
    probe_matrix(point, geom, POP, n_positions=10)
    probe_depth_rule(gauss, geom, POP, 3)
    probe_channels("sphere", sphere)
    assert gauss.cell is geom and point.cell is geom and sphere.cell is geom


def test_channels_let_a_model_bug_through():
    """An error inside a model's matrix is the model's own (a traceback), not a
    TypeError about channels."""

    class Broken(lfpykit.LinearModel):
        units = "mV"

        def get_transformation_matrix(self):
            raise ZeroDivisionError("a bug in the model")

    with pytest.raises(ZeroDivisionError, match="a bug in the model"):
        probe_channels("broken", Broken(None))


# --------------------------------------------------------------------------------------
# laminar CSD
# --------------------------------------------------------------------------------------
def test_csd_of_a_dipole_of_point_sources():
    """Two point sources (a sink and a source of 1.5 nA) and a tilted segment crossing a
    slab boundary: the CSD is each slab's current over its volume, in µA/mm³."""
    from xkernels.probes import CSDProbe

    R, h = 60.0, 100.0
    geom = lfpykit.CellGeometry(
        x=np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 30.0]]), y=np.zeros((3, 2)),
        z=np.array([[-30.0, -30.0], [130.0, 130.0], [20.0, 100.0]]), d=np.ones(3))
    centres = np.array([200.0, 100.0, 0.0, -100.0])
    current = np.array([-1.5, 1.5, 0.4])  # nA: sink, source, and a line segment
    volume_mm3 = np.pi * (R * 1e-3) ** 2 * (h * 1e-3)
    # by hand: slab [-50, 50] holds the sink and 30 of the segment's 80 µm, slab
    # [50, 150] the source and the other 50 µm; µA = 1e-3 nA
    expected = 1e-3 * np.array([0.0, 1.5 + 0.4 * 50 / 80, -1.5 + 0.4 * 30 / 80, 0.0]) \
        / volume_mm3
    probe = CSDProbe(geom, z=centres, h=h, R=R)
    np.testing.assert_allclose(probe.get_transformation_matrix() @ current, expected,
                               rtol=1e-13, atol=1e-15)
    assert probe.h == h and CSDProbe(z=centres).h == 100.0  # default: the spacing
    assert default_probe_name(probe) == "csd"
    coords = probe_channels("csd", probe)
    assert coords["units"][1].tolist() == ["µA/mm³"] * 4
    np.testing.assert_array_equal(coords["z"][1], centres)
    rebuilt = probe_from_definition(probe_definition(probe))
    assert type(rebuilt) is CSDProbe and (rebuilt.z == centres).all() and rebuilt.R == R
    with pytest.raises(ValueError, match="CSDProbe.h"):
        CSDProbe(z=centres, h=-1.0)
    with pytest.raises(TypeError, match="CSDProbe.z"):
        CSDProbe()


def test_csd_equals_lfpykit_on_a_real_cell():
    """LFPy's L2/3 pyramidal cell: lfpykit's LaminarCurrentSourceDensity (nA/µm³) with a
    radius beyond the cell's lateral extent, times 1e6."""
    import LFPy

    from xkernels.probes import CSDProbe

    cell = LFPy.Cell(morphology=str(Path(LFPy.__file__).parent / "test" / "L23E_p23.hoc"),
                     nsegs_method="fixed_length", max_nsegs_length=5.0,
                     delete_sections=True)
    geom = lfpykit.CellGeometry(x=cell.x.copy(), y=cell.y.copy(), z=cell.z.copy(),
                                d=cell.d.copy())
    cell.__del__()
    radius = float(np.hypot(geom.x, geom.y).max()) + 1.0
    centres = np.arange(float(geom.z.max()) + 50.0, float(geom.z.min()) - 100.0, -50.0)
    ours = CSDProbe(geom, z=centres, h=50.0, R=radius).get_transformation_matrix()
    bounds = np.column_stack([centres - 25.0, centres + 25.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # segments longer than the slabs
        theirs = lfpykit.LaminarCurrentSourceDensity(
            geom, z=bounds, r=np.full(centres.size, radius)).get_transformation_matrix()
    assert geom.totnsegs > 150 and np.abs(theirs).max() > 0
    np.testing.assert_allclose(ours, 1e6 * theirs, rtol=1e-9, atol=1e-12 * np.abs(ours).max())


def test_csd_kernels_conserve_current():
    """CSD kernels of the README network: slabs covering every cell sum (times their
    volume) to the total membrane current, zero -- in both averaging modes; the channels
    carry units and depths."""
    import xkernels

    probe = xkernels.CSDProbe(z=np.arange(2500.0, -1500.0, -100.0), R=250.0)
    for averaging in ("reference", "depth"):
        H = xkernels.compute_kernels(xkernels.Network.example(), {"csd": probe}, tau=5.0,
                                     dt=2 ** -4, averaging=averaging,
                                     operating_point="rest", g_eff=True)
        assert H.coords["units"].values.tolist() == ["µA/mm³"] * 40
        total = H.sum("probe_channel")  # each slab's current / (π R² h): same volume
        scale = float(abs(H).max())
        assert scale > 0 and float(abs(total).max()) < 1e-9 * scale, averaging

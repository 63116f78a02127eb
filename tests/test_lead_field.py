"""LeadFieldProbe: any head model's lead field (an array, the New York head file, MNE)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lfpykit import CellGeometry
from lfpykit.eegmegcalc import FourSphereVolumeConductor

import xkernels
from xkernels.probes import (
    EEGProbe,
    LeadFieldProbe,
    lead_field_from_mne,
    lead_field_from_nyhead,
    probe_channels,
    probe_definition,
    probe_from_definition,
)
from xkernels.probes.lead_field import rotation_to

R_EL = np.array([[0.0, 0.0, 90000.0], [10000.0, 0.0, 89000.0], [0.0, -20000.0, 87000.0]])
LOC = np.array([0.0, 0.0, 78000.0])


def four_sphere_lead_field(r_el=R_EL, loc=LOC, sigmas=(0.3, 1.5, 0.015, 0.3)):
    """Lead field of lfpykit's four-sphere model, one column per unit dipole component
    (mV per nA µm), from its potential of each unit dipole."""
    model = FourSphereVolumeConductor(r_el, sigmas=list(sigmas))
    return np.column_stack([model.get_dipole_potential(np.eye(3)[:, [k]], loc)[:, 0]
                            for k in range(3)])


@pytest.mark.parametrize("averaging", ["reference", "depth"])
def test_four_sphere_lead_field_gives_the_eeg_kernels(averaging):
    probes = {"eeg": EEGProbe(R_EL, dipole_location=LOC),
              "lf": LeadFieldProbe(four_sphere_lead_field(), LOC, sensor_positions=R_EL)}
    H = xkernels.compute_kernels(xkernels.Network.example(), probes, tau=10.0,
                                 averaging=averaging, operating_point="rest", g_eff=False)
    eeg, lf = H.xk.probe("eeg").values, H.xk.probe("lf").values
    assert np.abs(eeg).max() > 0
    np.testing.assert_allclose(lf, eeg, rtol=0, atol=1e-10 * np.abs(eeg).max())
    assert H.coords["units"].values.tolist() == ["mV"] * 6
    np.testing.assert_array_equal(H.xk.probe("lf").coords["x"].values, R_EL[:, 0])


def test_units_convert_and_label_channels():
    geom = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
                        z=np.array([[0.0, 10.0], [10.0, 30.0]]), d=np.ones(2))
    L = np.array([[0.1, 0.2, 3.0], [0.0, 0.0, -2.0], [0.0, 1.0, 5.0]])
    si = LeadFieldProbe(L, LOC, units=["V/(A m)", "T/(A m)", "T/(m A m)"],
                        names=["Cz", "MEG0111", "MEG0112"], cell=geom)
    # 1 V/(A m) = 1e-12 mV/(nA µm); 1 T/(A m) = 1 fT/(nA µm); z-dipole at 5 and 20 µm
    expected = np.array([[3e-12], [-2.0], [5.0]]) * np.array([[5.0, 20.0]])
    np.testing.assert_allclose(si.get_transformation_matrix(), expected, rtol=1e-15)
    coords = probe_channels("s", si)
    assert coords["probe_channel"][1].tolist() == ["s:Cz", "s:MEG0111", "s:MEG0112"]
    assert coords["units"][1].tolist() == ["mV", "fT", "fT/m"]
    assert xkernels.probes.default_probe_name(LeadFieldProbe(L[1:2], LOC, "T/(A m)")) == "meg"
    rebuilt = probe_from_definition(probe_definition(si))
    assert probe_definition(rebuilt) == probe_definition(si)
    rebuilt.cell = geom
    np.testing.assert_array_equal(rebuilt.get_transformation_matrix(),
                                  si.get_transformation_matrix())


def test_bad_lead_fields_are_refused():
    with pytest.raises(ValueError, match=r"lead_field.shape must be \(n_sensors, 3\).*"
                                         r"transposed.*got \(3, 5\)"):
        LeadFieldProbe(np.ones((3, 5)), LOC)
    with pytest.raises(ValueError, match=r"lead_field.shape .*got \(4,\)"):
        LeadFieldProbe(np.ones(4), LOC)
    with pytest.raises(ValueError, match="finite"):
        LeadFieldProbe([[0.0, np.nan, 1.0]], LOC)
    with pytest.raises(ValueError, match=r"units\[0\] must be one of .*did you mean "
                                         r"'V/\(A m\)'"):
        LeadFieldProbe(np.ones((2, 3)), LOC, units="V/(A m )")
    with pytest.raises(ValueError, match="one str or 2"):
        LeadFieldProbe(np.ones((2, 3)), LOC, units=["V/(A m)"])
    with pytest.raises(ValueError, match=r"sensor_positions.shape must be \(2, 3\)"):
        LeadFieldProbe(np.ones((2, 3)), LOC, sensor_positions=np.ones((3, 3)))
    with pytest.raises(ValueError, match="LeadFieldProbe.names must be unique"):
        LeadFieldProbe(np.ones((2, 3)), LOC, names=["a", "a"])
    with pytest.raises(ValueError, match="LeadFieldProbe.names must name each of the 2"):
        LeadFieldProbe(np.ones((2, 3)), LOC, names=["a"])
    with pytest.raises(ValueError, match="dipole_position.shape"):
        LeadFieldProbe(np.ones((2, 3)), [0.0, 78000.0])


def test_rotation_to():
    for n in ([0.0, 0.0, 1.0], [0.0, 0.0, -2.0], [1.0, 2.0, -0.5], [0.0, 1e-3, 1.0]):
        R = rotation_to(n)
        np.testing.assert_allclose(R @ [0.0, 0.0, 1.0], np.array(n) / np.linalg.norm(n),
                                   atol=1e-15)
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-15)
        assert np.linalg.det(R) == pytest.approx(1.0)


def _write_nyhead(path, n_vert=40, n_el=7, seed=0):
    """A synthetic New York head file: MATLAB 7.3 (HDF5 with the 512-byte MATLAB
    header), the datasets and shapes h5py shows of the real sa_nyhead.mat's struct
    ``sa`` (MATLAB's column-major arrays appear transposed), random values."""
    import h5py

    rng = np.random.default_rng(seed)
    vc = rng.uniform(-70, 70, (3, n_vert))
    normals = rng.normal(size=(3, n_vert))
    normals /= np.linalg.norm(normals, axis=0)
    with h5py.File(path, "w", userblock_size=512) as f:
        sa = f.create_group("sa")
        ctx = sa.create_group("cortex75K")
        ctx["vc"] = vc
        ctx["normals"] = normals
        ctx["V_fem"] = rng.normal(size=(3, n_vert, n_el))
        ctx["V_fem_normal"] = rng.normal(size=(n_vert, n_el))
        sa["locs_3D"] = rng.uniform(-90, 90, (5, n_el))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: synthetic HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    return vc


def test_nyhead_file_gives_lfpykits_eeg(tmp_path):
    from lfpykit.eegmegcalc import NYHeadModel

    path = tmp_path / "sa_nyhead.mat"
    vc = _write_nyhead(path)
    pos = vc[:, 11] + 0.3
    probe = lead_field_from_nyhead(path, pos)
    # LFPykit's own reading of the same file: its EEG of a unit z-dipole turned along
    # the cortical normal (mV for 1 nA µm)
    ny = NYHeadModel(nyhead_file=str(path))
    ny.set_dipole_pos(pos)
    p = ny.rotate_dipole_to_surface_normal(np.array([[0.0], [0.0], [1.0]]))
    eeg = ny.get_transformation_matrix() @ p
    np.testing.assert_allclose(probe.dipole_matrix()[:, 2], eeg[:, 0], rtol=1e-12)
    np.testing.assert_allclose(probe.dipole_position, vc[:, 11] * 1e3)
    assert probe.channel_units == ["mV"] * 7
    raw = lead_field_from_nyhead(path, pos, orientation=None)
    np.testing.assert_allclose(raw.dipole_matrix(),
                               ny.get_transformation_matrix(), rtol=1e-12)
    with pytest.raises(ValueError, match="nearest cortex vertex"):
        lead_field_from_nyhead(path, [500.0, 0.0, 0.0])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        lead_field_from_nyhead(tmp_path / "none.mat", pos)


def test_nyhead_file_layout_is_checked(tmp_path):
    import h5py

    path = tmp_path / "other.mat"
    with h5py.File(path, "w") as f:
        f["sa/cortex75K/vc"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"lacks \['sa/cortex75K/normals'"):
        lead_field_from_nyhead(path, [0.0, 0.0, 0.0])


def _mne_forward(sigmas, rr=(0.0, 0.0, 0.078)):
    import mne

    mne.set_log_level("ERROR")
    xy = {"Cz": (0.0, 0.0), "E1": (0.03, 0.0), "E2": (0.0, -0.05), "E3": (0.06, 0.02)}
    ch_pos = {k: [x, y, np.sqrt(0.09 ** 2 - x * x - y * y)] for k, (x, y) in xy.items()}
    info = mne.create_info(list(ch_pos), 1000.0, "eeg")
    info.set_montage(mne.channels.make_dig_montage(ch_pos=ch_pos, coord_frame="head"))
    sphere = mne.make_sphere_model(r0=(0.0, 0.0, 0.0), head_radius=0.09,
                                   relative_radii=(79 / 90, 80 / 90, 85 / 90, 1.0),
                                   sigmas=sigmas)
    src = mne.setup_volume_source_space(pos=dict(rr=np.array([rr]),
                                                 nn=np.array([[0.0, 0.0, 1.0]])),
                                        sphere=sphere)
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True,
                                    meg=False)
    return fwd, np.array(list(ch_pos.values())) * 1e6


def test_mne_sphere_forward_solution_end_to_end():
    sigmas = (0.3, 1.5, 0.015, 0.3)
    fwd, r_el = _mne_forward(sigmas)
    probe = lead_field_from_mne(fwd, 0)
    assert probe.names == ["Cz", "E1", "E2", "E3"]
    np.testing.assert_allclose(probe.dipole_position, LOC)
    np.testing.assert_allclose(probe.sensor_positions, r_el, rtol=1e-12)
    eeg = EEGProbe(r_el * (1 - 1e-12), sigmas=sigmas, dipole_location=LOC)
    H = xkernels.compute_kernels(xkernels.Network.example(), {"mne": probe, "eeg": eeg},
                                 tau=10.0, averaging="reference", operating_point="rest",
                                 g_eff=False)
    mne_k, eeg_k = H.xk.probe("mne"), H.xk.probe("eeg")
    assert mne_k.dims == ("X", "Y", "probe_channel", "tau") and mne_k.sizes["probe_channel"] == 4
    assert mne_k.coords["probe_channel"].values.tolist() == ["mne:Cz", "mne:E1", "mne:E2",
                                                             "mne:E3"]
    assert set(mne_k.coords["units"].values) == {"mV"}
    # linearity: the kernels of a channel are those of the four-sphere EEG scaled by the
    # ratio of the two z lead fields (both models see the same z-only dipole moment)
    ratio = probe.dipole_matrix()[:, 2] / eeg.dipole_matrix()[:, 2]
    expected = eeg_k.values * ratio[:, None]
    np.testing.assert_allclose(mne_k.values, expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())
    # MNE's EEG sphere model (Berg's approximation) agrees with the exact four-sphere
    # series to 0.6 % on the channels with the largest signal (measured: 0.58 %) ...
    big = np.abs(eeg.dipole_matrix()[:, 2]) > 0.5 * np.abs(eeg.dipole_matrix()[:, 2]).max()
    assert np.all(np.abs(ratio[big] - 1) < 0.01)
    # and back to MNE: the forward solution's channel names and positions, in volts
    rates = xkernels.rates_from_spikes({"E": [1.0, 22.5], "I": [3.0]}, t_start=0.0,
                                       t_stop=30.0, dt=2.0 ** -4)
    signals = rates.xk.convolve(H).sel(probe_channel=mne_k.probe_channel).compute()
    raw = signals.xk.to_mne(eeg="mne")
    assert raw.ch_names == ["Cz", "E1", "E2", "E3"]
    assert raw.get_channel_types() == ["eeg"] * 4
    np.testing.assert_allclose(raw.get_data(), signals.values * 1e-3, rtol=1e-12)
    placed = raw.get_montage().get_positions()["ch_pos"]
    np.testing.assert_allclose([placed[c] for c in raw.ch_names], r_el * 1e-6, atol=1e-12)


def test_mne_homogeneous_sphere_limit():
    """... and with equal conductivities (a homogeneous sphere) to 1e-4 (all three
    components, off-axis source; measured 8.5e-5)."""
    sigmas = (0.3, 0.3, 0.3, 0.3)
    rr = (0.0, 0.01, 0.05)
    fwd, r_el = _mne_forward(sigmas, rr)
    probe = lead_field_from_mne(fwd, 0)
    exact = four_sphere_lead_field(r_el * (1 - 1e-12), np.array(rr) * 1e6, sigmas)
    np.testing.assert_allclose(probe.dipole_matrix(), exact, rtol=0,
                               atol=1e-4 * np.abs(exact).max())
    with pytest.raises(ValueError, match="source must be an int index"):
        lead_field_from_mne(fwd, 1)
    with pytest.raises(TypeError, match="fwd must be an mne.Forward"):
        lead_field_from_mne({"sol": None})


def test_mne_magnetometers_give_sarvas_in_femtotesla():
    """MNE's MEG forward of point magnetometers in a sphere model is Sarvas' formula:
    equal to lfpykit's SphericallySymmetricVolCondMEG (H, nA/µm per nA µm) times µ0
    along the sensor normals, which checks the conversion T/(A m) -> fT/(nA µm)."""
    import mne
    from lfpykit.eegmegcalc import SphericallySymmetricVolCondMEG
    from mne.io.constants import FIFF

    mne.set_log_level("ERROR")
    pos = np.array([[0.02, 0.0, 0.10], [0.0, 0.03, 0.098], [-0.04, 0.01, 0.095]])  # m
    info = mne.create_info(["M1", "M2", "M3"], 1000.0, "mag")
    with info._unlock():
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    normals = pos / np.linalg.norm(pos, axis=1)[:, None]
    for ch, p, n in zip(info["chs"], pos, normals, strict=True):
        ch["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
        ex = np.cross([0.0, 1.0, 0.0], n)
        ex /= np.linalg.norm(ex)
        ch["loc"][:12] = np.concatenate([p, ex, np.cross(n, ex), n])
    sphere = mne.make_sphere_model(r0=(0.0, 0.0, 0.0), head_radius=0.09)
    rr = np.array([0.01, 0.0, 0.07])
    src = mne.setup_volume_source_space(pos=dict(rr=rr[None], nn=np.array([[0.0, 0.0, 1.0]])),
                                        sphere=sphere)
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=False,
                                    meg=True)
    probe = lead_field_from_mne(fwd, 0)
    assert probe.channel_units == ["fT"] * 3
    assert xkernels.probes.default_probe_name(probe) == "meg"
    H = SphericallySymmetricVolCondMEG(pos * 1e6).get_transformation_matrix(rr * 1e6)
    # H in (nA/µm) per nA µm = 1e12 (A/m) per A m; B = µ0 H along the normal, in T per
    # A m, which is the same number in fT per nA µm
    B = 4e-7 * np.pi * 1e12 * np.einsum("si,sik->sk", normals, H)
    np.testing.assert_allclose(probe.dipole_matrix(), B, rtol=0,
                               atol=1e-9 * np.abs(B).max())


def test_lead_field_kernels_are_stored_cached_and_described(tmp_path):
    """A lead-field probe has a definition: the kernel store records it, a second call
    is served from the store, another lead field is refused as another computation."""
    L = four_sphere_lead_field()
    probe = LeadFieldProbe(L, LOC, sensor_positions=R_EL, names=["a", "b", "c"])
    net = xkernels.Network.example()
    kw = dict(tau=5.0, averaging="reference", operating_point="rest", g_eff=False)
    H = xkernels.compute_kernels(net, {"lf": probe}, store=tmp_path / "k.zarr", **kw)
    again = xkernels.compute_kernels(net, {"lf": LeadFieldProbe(L, LOC, sensor_positions=R_EL,
                                                                names=["a", "b", "c"])},
                                     store=tmp_path / "k.zarr", **kw)
    np.testing.assert_array_equal(again.values, H.values)
    assert "lf: 3 channels [mV] (lf:a, lf:b, lf:c)" in xkernels.describe(tmp_path / "k.zarr")
    stored = xkernels.open_kernels(tmp_path / "k.zarr")
    definition = json.loads(stored.attrs["probes"])["lf"]
    assert definition["class"] == "xkernels.probes.LeadFieldProbe"
    assert definition["params"]["names"] == ["a", "b", "c"]
    assert stored.coords["probe_channel"].values.tolist() == ["lf:a", "lf:b", "lf:c"]
    other = LeadFieldProbe(2 * L, LOC, sensor_positions=R_EL, names=["a", "b", "c"])
    with pytest.raises(ValueError, match="holds kernels of different inputs"):
        xkernels.compute_kernels(net, {"lf": other}, store=tmp_path / "k.zarr", **kw)

"""EEG/MEG from any head model: a user-supplied lead field at the population's location.

A lead field ``L`` (sensors x 3) maps a current dipole at one position in the head to
the sensors: ``signal = L p``.  :class:`LeadFieldProbe` applies it to the z-only
current dipole moment of the kernel cell (the population's axis is the local z), so
any forward model -- a boundary/finite element head (the New York head), an MNE
forward solution, a sphere model -- gives kernels of EEG or MEG sensors.

Sources of lead fields
----------------------
a plain array
    ``LeadFieldProbe(L, dipole_position, units=...)`` with ``L`` of shape
    (n_sensors, 3) in one of :data:`LEAD_FIELD_UNITS`.
the New York head
    :func:`lead_field_from_nyhead` reads ``sa_nyhead.mat`` (Huang, Parra & Haufe 2016,
    https://www.parralab.org/nyhead/, MATLAB 7.3 = HDF5), finds the cortex vertex
    closest to a position (mm), and turns the population's axis along the cortical
    normal there.
an MNE forward solution
    :func:`lead_field_from_mne` takes one source of ``mne.Forward`` (free orientation,
    any channel types: EEG in V/(A m), magnetometers in T/(A m), gradiometers in
    T/(m A m)).

Orientation.  The kernel cell's dipole points along the local z axis (apical
dendrites up).  A lead field in head coordinates is turned into the population's frame
by a rotation taking local z to the population's orientation (a unit vector in head
coordinates, e.g. the cortical normal): ``L_local = L_head R``.  Only ``L_local[:, 2]``
(= ``L_head n``) contributes to kernels, whose dipole moment is along z.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from xkernels.checks import check_array, check_choice, did_you_mean, fail
from xkernels.probes.models import ZDipoleProbe, channel_names

__all__ = ["LEAD_FIELD_UNITS", "LeadFieldProbe", "lead_field_from_mne",
           "lead_field_from_nyhead", "rotation_to"]

#: Units of a lead field -> (units of the kernel channels, factor to per nA µm).
#: A lead field in ``u`` is multiplied by the factor, giving channel units per nA µm
#: of dipole moment (xkernels' CDM unit); e.g. 1 V/(A m) = 1e-12 mV/(nA µm),
#: 1 V/(mA m) = 1e-9 mV/(nA µm) (the New York head's ``V_fem``), 1 T/(A m) =
#: 1 fT/(nA µm).
LEAD_FIELD_UNITS: dict[str, tuple[str, float]] = {
    "mV/(nA µm)": ("mV", 1.0),
    "µV/(nA µm)": ("µV", 1.0),
    "V/(A m)": ("mV", 1e-12),
    "V/(mA m)": ("mV", 1e-9),
    "fT/(nA µm)": ("fT", 1.0),
    "T/(A m)": ("fT", 1.0),
    "T/(m A m)": ("fT/m", 1.0),
}


def rotation_to(direction: Any) -> np.ndarray:
    """Rotation matrix taking the z axis to ``direction`` (the smallest such rotation).

    Parameters
    ----------
    direction : array_like, shape (3,)
        Target direction (any non-zero length; normalised here).

    Returns
    -------
    ndarray, shape (3, 3)
        ``R`` with ``R @ [0, 0, 1] = direction / |direction|``; the identity for +z,
        a half turn about x for -z.

    Examples
    --------
    >>> R = rotation_to([1.0, 0.0, 0.0])
    >>> (R @ [0.0, 0.0, 1.0]).round(12).tolist()
    [1.0, 0.0, 0.0]
    """
    n = check_array("orientation", direction, ndim=1, last=3)
    norm = float(np.linalg.norm(n))
    if norm == 0:
        fail("orientation", n.tolist(), "a non-zero vector (the population's axis)")
    n = n / norm
    cos = float(n[2])
    axis = np.array([-n[1], n[0], 0.0])  # z x n
    sin = float(np.linalg.norm(axis))
    if sin < 1e-12:
        return np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / sin
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sin * K + (1.0 - cos) * (K @ K)


class LeadFieldProbe(ZDipoleProbe):
    """EEG/MEG sensors from a lead field at the population's location.

    .. math:: S = c\\, L\\, M_\\mathrm{CDM}\\, I

    with :math:`L` (n_sensors, 3) the lead field (signal per dipole moment along the
    population's local x, y, z), :math:`c` the factor of its units to channel units per
    nA µm (:data:`LEAD_FIELD_UNITS`), :math:`M_\\mathrm{CDM}` (3, n_seg) the z-only
    dipole moment (nA -> nA µm) and :math:`I` the segment currents (nA).  For a lead
    field of the four-sphere model this is :class:`~xkernels.probes.EEGProbe`.

    Parameters
    ----------
    lead_field : array_like, shape (n_sensors, 3)
        Sensor signal per unit dipole moment along local x, y, z (columns), in
        ``units``.  The population's axis is local z; a lead field in head coordinates
        must be turned first (see :func:`rotation_to`, or the loaders
        :func:`lead_field_from_nyhead`, :func:`lead_field_from_mne`).
    dipole_position : array_like, shape (3,)
        Where the lead field was computed (µm, head coordinates): provenance, and the
        position the kernels' description names.
    units : str or sequence of str
        Units of the lead field, one for all sensors or one per sensor, from
        :data:`LEAD_FIELD_UNITS` (e.g. ``"mV/(nA µm)"``, ``"V/(A m)"``, ``"T/(A m)"``).
    sensor_positions : array_like, shape (n_sensors, 3), optional
        Sensor positions (µm, head coordinates): the channels' ``x``, ``y``, ``z``.
    names : sequence of str, optional
        Sensor names: channel labels ``f"{name}:{sensor}"`` (default ``f"{name}:{i}"``).
    cell : CellGeometry or None
        Cell geometry (µm).

    Raises
    ------
    ValueError
        A lead field not of shape (n_sensors, 3) (the transpose is named), unknown
        units, or ``units``, ``sensor_positions``, ``names`` not matching the
        number of sensors -- before anything is computed.

    Examples
    --------
    Two electrodes whose lead fields are 2 and -1 µV per nA µm of a z-dipole:

    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> probe = LeadFieldProbe([[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]], [0.0, 0.0, 78000.0],
    ...                        units="µV/(nA µm)", names=["Cz", "Oz"])
    >>> probe.cell = CellGeometry(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
    ...                           z=np.array([[0.0, 20.0]]), d=np.ones(1))
    >>> probe.get_transformation_matrix()   # µV per nA at the midpoint z = 10 µm
    array([[ 20.],
           [-10.]])
    >>> probe.channel_units
    ['µV', 'µV']
    """

    def __init__(self, lead_field: Any, dipole_position: Any,
                 units: str | Sequence[str] = "mV/(nA µm)", sensor_positions: Any = None,
                 names: Sequence[str] | None = None, cell: Any = None) -> None:
        super().__init__(cell=cell)
        L = np.array(lead_field, dtype=float) if not isinstance(lead_field, str) else None
        if L is None or L.ndim != 2 or L.shape[1] != 3 or L.shape[0] == 0:
            shape = None if L is None else L.shape
            hint = (" (it looks transposed: pass lead_field.T)" if L is not None
                    and L.ndim == 2 and L.shape[0] == 3 and L.shape[1] != 3 else "")
            fail("LeadFieldProbe.lead_field.shape", shape,
                 "(n_sensors, 3): one row per sensor, one column per dipole component "
                 f"(local x, y, z){hint}")
        self.lead_field = check_array("LeadFieldProbe.lead_field", L, ndim=2, last=3)
        n = self.lead_field.shape[0]
        self.dipole_position = check_array("LeadFieldProbe.dipole_position",
                                           dipole_position, ndim=1, last=3)
        unit_list = [units] * n if isinstance(units, str) else list(units)
        if len(unit_list) != n:
            fail("LeadFieldProbe.units", units, f"one str or {n} (one per sensor of "
                 f"lead_field) from {list(LEAD_FIELD_UNITS)}")
        for i, u in enumerate(unit_list):
            if u not in LEAD_FIELD_UNITS:
                raise ValueError(f"LeadFieldProbe.units[{i}] must be one of "
                                 f"{list(LEAD_FIELD_UNITS)}, got {u!r}"
                                 + (did_you_mean(u, LEAD_FIELD_UNITS) if isinstance(u, str)
                                    else ""))
        self.units_in = units if isinstance(units, str) else list(units)
        self._units = unit_list
        if sensor_positions is not None:
            sensor_positions = check_array("LeadFieldProbe.sensor_positions",
                                           sensor_positions, ndim=2, last=3)
            if sensor_positions.shape[0] != n:
                fail("LeadFieldProbe.sensor_positions.shape", sensor_positions.shape,
                     f"({n}, 3), one row per sensor of lead_field")
        self.sensor_positions = sensor_positions
        self.names = channel_names("LeadFieldProbe.names", names, n)

    @property
    def channel_units(self) -> list[str]:
        """Units of every channel (per nA of membrane current), e.g. ``["mV", "fT"]``.

        Examples
        --------
        >>> LeadFieldProbe([[0.0, 0.0, 1.0]] * 2, [0.0, 0.0, 78000.0],
        ...                units=["V/(A m)", "T/(A m)"]).channel_units
        ['mV', 'fT']
        """
        return [LEAD_FIELD_UNITS[u][0] for u in self._units]

    def dipole_matrix(self) -> np.ndarray:
        """The lead field in channel units per nA µm.

        Returns
        -------
        ndarray
            Shape (n_sensors, 3): the lead field times the factor of its units.

        Examples
        --------
        >>> LeadFieldProbe([[0.0, 0.0, 1.0]], [0.0, 0.0, 78000.0], units="V/(A m)"
        ...                ).dipole_matrix()          # mV per nA µm
        array([[0.e+00, 0.e+00, 1.e-12]])
        """
        factor = np.array([LEAD_FIELD_UNITS[u][1] for u in self._units])
        return self.lead_field * factor[:, None]


def lead_field_from_nyhead(path: str | os.PathLike, position: Any, *,
                           orientation: Any = "normal",
                           electrodes: Sequence[int] | None = None,
                           max_distance: float = 2.0) -> LeadFieldProbe:
    """A :class:`LeadFieldProbe` of the New York head at the cortex vertex nearest
    ``position``.

    Reads ``sa_nyhead.mat`` (https://www.parralab.org/nyhead/; a MATLAB 7.3 file, that
    is HDF5, read with h5py) in the layout h5py shows of the struct ``sa``:
    ``sa/cortex75K/vc`` (3, n_vertices) vertex positions (mm),
    ``sa/cortex75K/normals`` (3, n_vertices) outward cortical normals,
    ``sa/cortex75K/V_fem`` (3, n_vertices, n_electrodes) the FEM lead field (V per
    mA m) and ``sa/locs_3D`` (>= 3, n_electrodes) electrode positions (mm, rows x, y,
    z).  These are the datasets LFPykit's ``NYHeadModel`` reads.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.mat`` file.
    position : array_like, shape (3,)
        Population position (mm, the head model's coordinates).
    orientation : "normal", array_like of shape (3,) or None
        The population's axis in head coordinates: the cortical normal at the vertex
        (default), a given vector, or None for the head's z axis.
    electrodes : sequence of int, optional
        Electrode indices to keep (default: all).
    max_distance : float
        Largest allowed distance (mm) between ``position`` and the nearest vertex.

    Returns
    -------
    LeadFieldProbe
        ``units="V/(mA m)"`` (mV per nA µm after conversion); ``dipole_position`` and
        ``sensor_positions`` in µm.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, a file without the datasets above (naming the missing one), a
        position farther than ``max_distance`` from the cortex -- before anything else.

    Examples
    --------
    >>> probe = lead_field_from_nyhead("sa_nyhead.mat", [18.0, 8.0, 71.0])  # doctest: +SKIP
    >>> probe.lead_field.shape                                              # doctest: +SKIP
    (231, 3)
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"New York head file {path!r} does not exist (download "
                                "sa_nyhead.mat from https://www.parralab.org/nyhead/)")
    pos = check_array("position (mm)", position, ndim=1, last=3)
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path!r} is not a MATLAB 7.3 (HDF5) file; sa_nyhead.mat is one")
    with h5py.File(path, "r") as f:
        needed = ("sa/cortex75K/vc", "sa/cortex75K/normals", "sa/cortex75K/V_fem",
                  "sa/locs_3D")
        missing = [k for k in needed if k not in f]
        if missing:
            raise ValueError(f"{path!r} lacks {missing} of the New York head layout "
                             f"{list(needed)}")
        vc = np.asarray(f["sa/cortex75K/vc"], dtype=float)
        i = int(np.argmin(((vc - pos[:, None]) ** 2).sum(axis=0)))
        distance = float(np.linalg.norm(vc[:, i] - pos))
        if distance > max_distance:
            raise ValueError(f"position {pos.tolist()} mm is {distance:.3g} mm from the "
                             f"nearest cortex vertex {vc[:, i].tolist()}; allowed: <= "
                             f"max_distance = {max_distance} mm")
        normal = np.asarray(f["sa/cortex75K/normals"][:, i], dtype=float)
        L = np.asarray(f["sa/cortex75K/V_fem"][:, i, :], dtype=float).T  # (n_el, 3)
        locs = np.asarray(f["sa/locs_3D"][:3, :], dtype=float).T
    if electrodes is not None:
        L, locs = L[list(electrodes)], locs[list(electrodes)]
    axis = normal if isinstance(orientation, str) and orientation == "normal" else orientation
    if isinstance(axis, str):
        check_choice("orientation", orientation, ("normal",))
    R = np.eye(3) if axis is None else rotation_to(axis)
    return LeadFieldProbe(L @ R, vc[:, i] * 1e3, units="V/(mA m)",
                          sensor_positions=locs * 1e3)


#: MNE channel kinds (``FIFF.FIFFV_*_CH``) -> lead field units of ``mne.Forward``
_MNE_UNITS = {2: "V/(A m)", 1: "T/(A m)"}


def lead_field_from_mne(fwd: Any, source: int = 0, *, orientation: Any = None
                        ) -> LeadFieldProbe:
    """A :class:`LeadFieldProbe` of one source of an MNE forward solution.

    Parameters
    ----------
    fwd : mne.Forward
        A free-orientation forward solution (``mne.make_forward_solution`` without
        ``convert_to_fixed``/``force_fixed``), in head coordinates, of EEG
        (V per A m), magnetometer (T per A m) and/or gradiometer (T/m per A m)
        channels.  ``mne.convert_forward_solution(fwd, surf_ori=False)`` first if it
        was converted to surface orientation.
    source : int
        Index of the source (over all source spaces of ``fwd``): the population's
        location.
    orientation : array_like of shape (3,) or None
        The population's axis in head coordinates (e.g. the cortical normal
        ``fwd["source_nn"]`` of a surface source space); None: the head's z axis.

    Returns
    -------
    LeadFieldProbe
        Channels named as in ``fwd["info"]["ch_names"]``, units per channel
        (``"V/(A m)"`` for EEG, ``"T/(A m)"`` for magnetometers, ``"T/(m A m)"`` for
        gradiometers: kernels in mV, fT, fT/m), sensor positions and
        ``dipole_position`` in µm.

    Raises
    ------
    TypeError, ValueError
        Not an ``mne.Forward``, a fixed-orientation solution, a source index out of
        range.

    Examples
    --------
    >>> import mne                                              # doctest: +SKIP
    >>> fwd = mne.make_forward_solution(info, None, src, sphere)  # doctest: +SKIP
    >>> probe = lead_field_from_mne(fwd, source=0)              # doctest: +SKIP
    >>> H = xkernels.compute_kernels(net, {"eeg": probe})       # doctest: +SKIP
    """
    import mne

    if not isinstance(fwd, mne.Forward):
        fail("fwd", type(fwd).__name__, "an mne.Forward", TypeError)
    if fwd["source_ori"] != 2 or fwd["sol"]["data"].shape[1] != 3 * fwd["nsource"]:
        raise ValueError("fwd must be a free-orientation forward solution (3 columns per "
                         "source); got fixed orientation: compute it without "
                         "force_fixed / convert_to_fixed")
    if fwd["surf_ori"]:
        raise ValueError("fwd has surface-oriented columns; pass "
                         "mne.convert_forward_solution(fwd, surf_ori=False)")
    if fwd["coord_frame"] != mne.io.constants.FIFF.FIFFV_COORD_HEAD:
        raise ValueError("fwd must be in head coordinates (coord_frame FIFFV_COORD_HEAD)")
    n_src = int(fwd["nsource"])
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) \
            or not 0 <= source < n_src:
        fail("source", source, f"an int index of a source, 0 <= source < {n_src}")
    L = np.asarray(fwd["sol"]["data"][:, 3 * source:3 * source + 3], dtype=float)
    info = fwd["info"]
    units, positions = [], []
    for ch in info["chs"]:
        kind = int(ch["kind"])
        if kind not in _MNE_UNITS:
            raise ValueError(f"channel {ch['ch_name']!r} is of kind {kind}; supported: "
                             "EEG, MEG")
        unit = _MNE_UNITS[kind]
        if kind == 1 and int(ch["unit"]) == mne.io.constants.FIFF.FIFF_UNIT_T_M:
            unit = "T/(m A m)"
        units.append(unit)
        loc = np.asarray(ch["loc"][:3], dtype=float)
        if kind == 1 and info["dev_head_t"] is not None:  # MEG: device -> head frame
            loc = mne.transforms.apply_trans(info["dev_head_t"], loc)
        positions.append(loc)
    R = np.eye(3) if orientation is None else rotation_to(orientation)
    return LeadFieldProbe(L @ R, np.asarray(fwd["source_rr"][source]) * 1e6, units=units,
                          sensor_positions=np.asarray(positions) * 1e6,
                          names=list(info["ch_names"]))


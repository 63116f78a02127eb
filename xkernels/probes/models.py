"""Forward models ("probes") mapping transmembrane currents to measured signals.

Every probe is an :class:`lfpykit.LinearModel`: with ``probe.cell`` set to a
cell geometry (:class:`lfpykit.CellGeometry`, coordinates in µm) its
``get_transformation_matrix()`` maps transmembrane currents (nA, one row per
segment) to the probe's channels.

Classes
-------
GaussCylinderPotential
    Population-averaged LFP of the kernel method (Hagen et al. 2022), mV.
CurrentDipoleMomentZ
    Current dipole moment with the lateral components dropped, nA µm.
EEGProbe, MEGProbe
    EEG (mV, four-sphere head model) and magnetic field H (nA/µm) from the
    z-only current dipole moment.

Helpers used by the kernel engine: :func:`probe_matrix`, :func:`probe_channels`,
:func:`probe_definition`, :func:`probe_from_definition`,
:func:`normalize_probes` and :func:`draw_offsets`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import lfpykit
import numpy as np
from lfpykit import lfpcalc
from lfpykit.eegmegcalc import (
    FourSphereVolumeConductor,
    InfiniteHomogeneousVolCondMEG,
    SphericallySymmetricVolCondMEG,
)

from xkernels.contract import channel_coords

__all__ = [
    "GaussCylinderPotential",
    "CurrentDipoleMomentZ",
    "EEGProbe",
    "MEGProbe",
    "gauss_cylinder_mean",
    "draw_offsets",
    "probe_matrix",
    "probe_channels",
    "probe_definition",
    "probe_from_definition",
    "normalize_probes",
]

#: default four-sphere head model: brain, CSF, skull, scalp outer radii (µm)
FOUR_SPHERE_RADII = (79000.0, 80000.0, 85000.0, 90000.0)
#: default four-sphere conductivities (S/m)
FOUR_SPHERE_SIGMAS = (0.3, 1.5, 0.015, 0.3)
#: default dipole location, near the top of the cortex (µm)
DIPOLE_LOCATION = (0.0, 0.0, 78000.0)

# trapezoidal rule in log(t) for gauss_cylinder_mean: step and relative tolerance
# of the truncated tails.  The step error is ~exp(-2*pi*(pi/2)/h) (about 1e-17 for
# h = 0.25); measured worst relative error against 30-digit quadrature: 1.1e-13.
_LOG_STEP = 0.25
_TAIL_TOL = 1e-13
# largest number of float64 elements of a temporary array (memory bound, ~32 MB)
_CHUNK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------- #
# input validation helpers
# --------------------------------------------------------------------------- #
def _positive_float(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field} must be a real number > 0, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{field} must be a finite number > 0, got {value!r}")
    return value


def _finite_array(value: Any, field: str, ndim: int, last: int | None = None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{field} must be an array of real numbers, got {value!r}") from err
    if arr.ndim != ndim or arr.size == 0 or (last is not None and arr.shape[-1] != last):
        want = f"{ndim}-D" + (f" with last axis of length {last}" if last else "")
        raise ValueError(f"{field} must be a non-empty {want} array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field} must contain only finite values, got {arr.tolist()}")
    return arr


def _require_cell(model: lfpykit.LinearModel) -> Any:
    if model.cell is None:
        raise AttributeError(f"{type(model).__name__}.cell is None; set it to a "
                             "CellGeometry (or use xkernels.probes.probe_matrix)")
    return model.cell


def _midpoints(geometry: Any, axis: str = "z") -> np.ndarray:
    return np.asarray(getattr(geometry, axis), dtype=float).mean(axis=-1)


# --------------------------------------------------------------------------- #
# GaussCylinderPotential
# --------------------------------------------------------------------------- #
def gauss_cylinder_mean(d: np.ndarray, R: float, sigma_z: float) -> np.ndarray:
    """Gaussian average of the on-axis disk function ``sqrt(u^2+R^2) - |u|``.

    Computes

    .. math:: I(d) = \\int_{-\\infty}^{\\infty} \\left(\\sqrt{(d-s)^2 + R^2}
              - |d-s|\\right) g(s)\\, ds, \\quad
              g(s) = \\frac{e^{-s^2 / 2\\sigma_z^2}}{\\sqrt{2\\pi}\\,\\sigma_z}

    exactly rewritten (with :math:`\\sqrt{a} = \\frac{1}{2\\sqrt\\pi}
    \\int_0^\\infty (1 - e^{-ta})\\, t^{-3/2} dt` and the Gaussian expectation
    of :math:`e^{-t(d-s)^2}`) as a smooth, positive integral without the kink
    at :math:`s = d`:

    .. math:: I(d) = \\frac{1}{2\\sqrt\\pi} \\int_0^\\infty
              \\frac{(1 - e^{-tR^2})\\, e^{-t d^2 / (1 + 2t\\sigma_z^2)}}
              {t^{3/2} \\sqrt{1 + 2t\\sigma_z^2}}\\, dt ,

    evaluated with the trapezoidal rule in :math:`\\log t` (exponentially
    convergent: the integrand is analytic in the strip
    :math:`|\\mathrm{Im}\\log t| < \\pi/2` and decays exponentially at both
    ends).  Tails are cut where they are below ``1e-13`` of the result;
    the relative error is about ``1e-13`` for any ``d``, ``R``, ``sigma_z``.

    Parameters
    ----------
    d : ndarray
        Vertical offsets :math:`z_e - z_i` (µm), any shape.
    R : float
        Disk radius (µm), > 0.
    sigma_z : float
        Standard deviation of the Gaussian (µm), > 0.

    Returns
    -------
    ndarray
        :math:`I(d)` (µm), same shape as ``d``.
    """
    d = np.asarray(d, dtype=float)
    if d.size == 0:
        return np.zeros(d.shape)
    b2 = (d.ravel() / R) ** 2          # dimensionless, t is measured in 1/R^2
    a2 = (sigma_z / R) ** 2
    big = 1.0 + a2 + float(b2.max())   # result >= R / (2 sqrt(big)) by Jensen
    t_lo = math.pi * _TAIL_TOL ** 2 / (4.0 * big)
    t_hi = min(4.0 * big / (math.pi * _TAIL_TOL ** 2),
               math.sqrt(big) / (math.sqrt(2.0 * math.pi * a2) * _TAIL_TOL))
    x = np.arange(math.log(t_lo), math.log(t_hi) + _LOG_STEP, _LOG_STEP)
    t = np.exp(x)
    q = 1.0 + 2.0 * a2 * t
    weight = _LOG_STEP / (2.0 * math.sqrt(math.pi)) * -np.expm1(-t) / np.sqrt(t * q)
    rate = t / q
    out = np.empty(b2.size)
    step = max(1, _CHUNK_ELEMENTS // x.size)
    for start in range(0, b2.size, step):
        sl = slice(start, start + step)
        out[sl] = np.exp(-np.multiply.outer(b2[sl], rate)) @ weight
    return (R * out).reshape(d.shape)


class GaussCylinderPotential(lfpykit.LinearModel):
    """Potential of current sources smeared over a Gaussian cylinder.

    Each segment's transmembrane current is spread uniformly over a disk of
    radius :math:`R` in the xy-plane and with a Gaussian profile (standard
    deviation :math:`\\sigma_z`) along z around the segment midpoint
    :math:`z_i`: the mean potential of a population of cells placed in a
    cylinder (Hagen et al. 2022, PLOS Comput Biol 18(8): e1010353).  Same
    parameters and semantics as ``lfpykernels.GaussCylinderPotential``
    (LFPykernels 0.2.0), computed without numerical quadrature per entry.

    The contact at depth :math:`z_j` on the cylinder axis sees

    .. math:: M_{ji} = \\frac{1}{\\pi R^2} \\int_{-\\infty}^{\\infty}
              f(z_j - s - z_i)\\, g(s)\\, ds, \\qquad
              f(u) = \\frac{\\sqrt{u^2 + R^2} - |u|}{2\\sigma}, \\qquad
              g(s) = \\frac{e^{-s^2/2\\sigma_z^2}}{\\sqrt{2\\pi}\\,\\sigma_z}

    (see :func:`gauss_cylinder_mean` for the numerics).  With currents in nA,
    lengths in µm and :math:`\\sigma` in S/m, :math:`M` is in mV/nA and
    :math:`V = M I` in mV.

    Parameters
    ----------
    cell : CellGeometry or None
        Cell geometry (µm); may be set later through the ``cell`` attribute.
    z : array_like
        Contact depths (µm), 1-D, finite.
    sigma : float
        Extracellular conductivity (S/m), > 0.
    R : float
        Cylinder (disk) radius (µm), > 0.
    sigma_z : float
        Standard deviation of the vertical Gaussian spread (µm), > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[-10., 10.], [10., 200.]]),
    ...                     d=np.array([20., 2.]))
    >>> probe = GaussCylinderPotential(cell, z=np.array([0., 100.]),
    ...                                sigma=0.3, R=100., sigma_z=50.)
    >>> M = probe.get_transformation_matrix()   # mV / nA
    >>> M.shape
    (2, 2)
    >>> bool(M[0, 0] > M[1, 0] > 0)
    True
    """

    def __init__(self, cell: Any = None, z: Any = None, sigma: float = 0.3,
                 R: float = 100.0, sigma_z: float = 50.0) -> None:
        super().__init__(cell=cell)
        if z is None:
            raise TypeError("GaussCylinderPotential needs contact depths z (µm), "
                            "a 1-D array of finite floats; got None")
        self.z = _finite_array(z, "GaussCylinderPotential.z", ndim=1)
        self.sigma = _positive_float(sigma, "GaussCylinderPotential.sigma")
        self.R = _positive_float(R, "GaussCylinderPotential.R")
        self.sigma_z = _positive_float(sigma_z, "GaussCylinderPotential.sigma_z")

    def get_transformation_matrix(self) -> np.ndarray:
        """Linear map from segment currents (nA) to contact potentials (mV).

        Returns
        -------
        ndarray
            Shape (n_contacts, n_seg), mV/nA.

        Raises
        ------
        AttributeError
            If ``cell`` is None.
        """
        cell = _require_cell(self)
        d = self.z[:, None] - _midpoints(cell)[None, :]
        disk = gauss_cylinder_mean(d, self.R, self.sigma_z)
        return disk / (2.0 * self.sigma * math.pi * self.R ** 2)


# --------------------------------------------------------------------------- #
# current dipole moment, EEG, MEG
# --------------------------------------------------------------------------- #
class CurrentDipoleMomentZ(lfpykit.CurrentDipoleMoment):
    """Current dipole moment keeping only its z-component.

    For a population that is rotationally symmetric around the z-axis the
    lateral components average out; as ``lfpykernels.KernelApproxCurrentDipoleMoment``
    the x and y rows are zero:

    .. math:: P = M I, \\qquad M = [0, 0, z^\\mathrm{mid}]^T

    with :math:`z^\\mathrm{mid}_i` the segment midpoints (µm) and currents in
    nA, so :math:`P` is in nA µm.

    Parameters
    ----------
    cell : CellGeometry or None
        Cell geometry (µm).

    Examples
    --------
    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.ones((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[0., 10.], [10., 30.]]), d=np.ones(2))
    >>> CurrentDipoleMomentZ(cell).get_transformation_matrix()
    array([[ 0.,  0.],
           [ 0.,  0.],
           [ 5., 20.]])
    """

    def __init__(self, cell: Any = None) -> None:
        super().__init__(cell=cell)

    def get_transformation_matrix(self) -> np.ndarray:
        """Shape (3, n_seg) matrix (µm; nA -> nA µm), rows x, y, z."""
        z = _midpoints(_require_cell(self))
        M = np.zeros((3, z.size))
        M[2] = z
        return M


def _dipole_location(value: Any, field: str) -> np.ndarray:
    return _finite_array(value, field, ndim=1, last=3)


class EEGProbe(lfpykit.LinearModel):
    """EEG in the four-sphere head model from the z-only current dipole moment.

    .. math:: V = T\\, M_\\mathrm{CDM}\\, I

    where :math:`M_\\mathrm{CDM}` (3, n_seg) is :class:`CurrentDipoleMomentZ`
    (nA -> nA µm) and :math:`T` (n_electrodes, 3) the
    :class:`lfpykit.eegmegcalc.FourSphereVolumeConductor` matrix (mV per nA µm)
    of a dipole at ``dipole_location``.  The result is in mV.

    Parameters
    ----------
    r_electrodes : array_like
        Shape (n_electrodes, 3) electrode positions (µm); every electrode must
        be farther from the head centre than the dipole and no farther than the
        scalp radius.
    radii : sequence of 4 floats
        Outer radii of brain, CSF, skull and scalp (µm), increasing.
    sigmas : sequence of 4 floats
        Conductivities of brain, CSF, skull and scalp (S/m), > 0.
    dipole_location : array_like
        Shape (3,) dipole position (µm), inside the brain sphere, not at the
        centre.
    cell : CellGeometry or None
        Cell geometry (µm).

    Examples
    --------
    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[0., 10.], [10., 30.]]), d=np.ones(2))
    >>> eeg = EEGProbe(np.array([[0., 0., 90000.]]), cell=cell)
    >>> eeg.get_transformation_matrix().shape   # mV / nA
    (1, 2)
    """

    def __init__(self, r_electrodes: Any, radii: Sequence[float] = FOUR_SPHERE_RADII,
                 sigmas: Sequence[float] = FOUR_SPHERE_SIGMAS,
                 dipole_location: Any = DIPOLE_LOCATION, cell: Any = None) -> None:
        super().__init__(cell=cell)
        r_el = _finite_array(r_electrodes, "EEGProbe.r_electrodes", ndim=2, last=3)
        radii_ = _finite_array(radii, "EEGProbe.radii", ndim=1)
        sigmas_ = _finite_array(sigmas, "EEGProbe.sigmas", ndim=1)
        loc = _dipole_location(dipole_location, "EEGProbe.dipole_location")
        if radii_.size != 4 or radii_[0] <= 0 or np.any(np.diff(radii_) <= 0):
            raise ValueError("EEGProbe.radii must be 4 increasing positive radii (µm) of "
                             f"brain, CSF, skull, scalp; got {radii_.tolist()}")
        if sigmas_.size != 4 or np.any(sigmas_ <= 0):
            raise ValueError("EEGProbe.sigmas must be 4 conductivities > 0 (S/m); "
                             f"got {sigmas_.tolist()}")
        r_dip = float(np.linalg.norm(loc))
        if not 0 < r_dip < radii_[0]:
            raise ValueError("EEGProbe.dipole_location must lie inside the brain sphere "
                             f"(0 < |r| < {radii_[0]} µm) and not at its centre; got "
                             f"{loc.tolist()} (|r| = {r_dip})")
        dist = np.linalg.norm(r_el, axis=1)
        bad = (dist <= r_dip) | (dist > radii_[3])
        if np.any(bad):
            raise ValueError(f"EEGProbe.r_electrodes rows {np.flatnonzero(bad).tolist()} "
                             f"have |r| = {dist[bad].tolist()} µm; allowed: "
                             f"{r_dip} < |r| <= {radii_[3]} (dipole radius < |r| <= scalp)")
        self.r_electrodes = r_el
        self.radii = radii_
        self.sigmas = sigmas_
        self.dipole_location = loc
        self._dipole_map: tuple[tuple, np.ndarray] | None = None

    def _key(self) -> tuple:
        return tuple(np.concatenate([np.ravel(self.r_electrodes), self.radii, self.sigmas,
                                     self.dipole_location]).tolist())

    def dipole_matrix(self) -> np.ndarray:
        """Four-sphere map (n_electrodes, 3): dipole (nA µm) -> potential (mV)."""
        key = self._key()
        if self._dipole_map is None or self._dipole_map[0] != key:
            model = FourSphereVolumeConductor(self.r_electrodes, radii=self.radii.tolist(),
                                              sigmas=self.sigmas.tolist())
            T = model.get_transformation_matrix(self.dipole_location.copy())
            self._dipole_map = (key, np.asarray(T, dtype=float))
        return self._dipole_map[1]

    def get_transformation_matrix(self) -> np.ndarray:
        """Shape (n_electrodes, n_seg) map from currents (nA) to EEG (mV)."""
        cdm = CurrentDipoleMomentZ(_require_cell(self)).get_transformation_matrix()
        return self.dipole_matrix() @ cdm


class MEGProbe(lfpykit.LinearModel):
    """Magnetic field H at MEG sensors from the z-only current dipole moment.

    .. math:: H = T\\, M_\\mathrm{CDM}\\, I

    :math:`T` (n_sensors, 3, 3) is lfpykit's dipole-to-field map: by default
    :class:`lfpykit.eegmegcalc.InfiniteHomogeneousVolCondMEG` (formerly
    ``lfpykit.MEG``; :math:`H = p \\times R / 4\\pi |R|^3`), or with
    ``conductor="spherical"``
    :class:`lfpykit.eegmegcalc.SphericallySymmetricVolCondMEG` (Sarvas).  H is
    in nA/µm (multiply by :math:`\\mu_0` for B).  Note that in the spherical
    model a radial dipole (a z-dipole on the z-axis, the default) produces no
    field outside the sphere, and in the infinite model a z-dipole gives no
    field on its own axis.

    Parameters
    ----------
    sensor_locations : array_like
        Shape (n_sensors, 3) sensor positions (µm).
    dipole_location : array_like
        Shape (3,) dipole position (µm).
    conductor : {"infinite", "spherical"}
        Volume-conductor model.
    cell : CellGeometry or None
        Cell geometry (µm).

    Examples
    --------
    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[0., 10.], [10., 30.]]), d=np.ones(2))
    >>> meg = MEGProbe(np.array([[10000., 0., 78000.]]), cell=cell)
    >>> meg.get_transformation_matrix().shape   # sensors, (Hx, Hy, Hz), segments
    (1, 3, 2)
    """

    CONDUCTORS = ("infinite", "spherical")

    def __init__(self, sensor_locations: Any, dipole_location: Any = DIPOLE_LOCATION,
                 conductor: str = "infinite", cell: Any = None) -> None:
        super().__init__(cell=cell)
        sensors = _finite_array(sensor_locations, "MEGProbe.sensor_locations", ndim=2, last=3)
        loc = _dipole_location(dipole_location, "MEGProbe.dipole_location")
        if conductor not in self.CONDUCTORS:
            raise ValueError(f"MEGProbe.conductor must be one of {self.CONDUCTORS}, "
                             f"got {conductor!r}")
        dist = np.linalg.norm(sensors - loc, axis=1)
        if np.any(dist == 0):
            raise ValueError("MEGProbe.sensor_locations rows "
                             f"{np.flatnonzero(dist == 0).tolist()} coincide with the "
                             f"dipole location {loc.tolist()}")
        if conductor == "spherical":
            r_dip = np.linalg.norm(loc)
            bad = np.linalg.norm(sensors, axis=1) <= r_dip
            if np.any(bad):
                raise ValueError(f"MEGProbe.sensor_locations rows {np.flatnonzero(bad).tolist()}"
                                 " must be farther from the origin than the dipole "
                                 f"(|r| > {r_dip} µm) with conductor='spherical'")
        self.sensor_locations = sensors
        self.dipole_location = loc
        self.conductor = conductor

    def dipole_matrix(self) -> np.ndarray:
        """Dipole-to-field map (n_sensors, 3, 3): nA µm -> nA/µm."""
        if self.conductor == "infinite":
            model = InfiniteHomogeneousVolCondMEG(self.sensor_locations)
        else:
            model = SphericallySymmetricVolCondMEG(self.sensor_locations)
        return np.asarray(model.get_transformation_matrix(self.dipole_location.copy()))

    def get_transformation_matrix(self) -> np.ndarray:
        """Shape (n_sensors, 3, n_seg) map from currents (nA) to H (nA/µm)."""
        cdm = CurrentDipoleMomentZ(_require_cell(self)).get_transformation_matrix()
        return self.dipole_matrix() @ cdm


# --------------------------------------------------------------------------- #
# probe_matrix: population averaging of contact-based models
# --------------------------------------------------------------------------- #
def _is_reference_gauss(probe: Any) -> bool:
    cls = type(probe)
    return cls.__name__ == "GaussCylinderPotential" and cls.__module__.startswith("lfpykernels")


def _is_contact_model(probe: Any) -> bool:
    return isinstance(probe, (lfpykit.PointSourcePotential, lfpykit.LineSourcePotential,
                              lfpykit.RecExtElectrode))


def _validate_population(population: Any) -> dict[str, float]:
    if not isinstance(population, Mapping):
        raise TypeError("population must be a dict with keys 'radius', 'loc', 'scale' "
                        f"(µm), got {population!r}")
    out = {}
    for key in ("radius", "loc", "scale"):
        if key not in population:
            raise ValueError(f"population is missing {key!r}; need 'radius', 'loc', "
                             f"'scale' (µm), got keys {sorted(population)}")
        val = population[key]
        if isinstance(val, bool) or not isinstance(val, numbers.Real) or not math.isfinite(val):
            raise ValueError(f"population[{key!r}] must be a finite number, got {val!r}")
        if key != "loc" and val < 0:
            raise ValueError(f"population[{key!r}] must be >= 0, got {val!r}")
        out[key] = float(val)
    return out


def draw_offsets(population: Mapping[str, float], n_positions: int = 2000,
                 seed: int | np.random.Generator | None = 1234) -> np.ndarray:
    """Random cell displacements relative to the population centre.

    Positions are uniform in the disk of radius ``population['radius']`` in
    the xy-plane and normal with standard deviation ``population['scale']``
    along z, centred on (0, 0) and ``population['loc']``; this function
    returns them minus (0, 0, loc), i.e. relative to a cell placed at the
    population depth.

    Parameters
    ----------
    population : dict
        ``radius``, ``loc``, ``scale`` (µm).
    n_positions : int
        Number of positions, >= 1.
    seed : int, numpy.random.Generator or None
        Seed of the ``numpy.random.default_rng`` generator (deterministic for
        an int).

    Returns
    -------
    ndarray
        Shape (n_positions, 3) offsets (µm).
    """
    pop = _validate_population(population)
    if isinstance(n_positions, bool) or not isinstance(n_positions, numbers.Integral) \
            or n_positions < 1:
        raise ValueError(f"n_positions must be an int >= 1, got {n_positions!r}")
    rng = np.random.default_rng(seed)
    n = int(n_positions)
    radius = pop["radius"] * np.sqrt(rng.random(n))
    angle = 2.0 * np.pi * rng.random(n)
    dz = rng.normal(0.0, pop["scale"], size=n) if pop["scale"] > 0 else np.zeros(n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle), dz])


def _vectorised_method(probe: Any):
    """lfpcalc function that is elementwise in (segment, contact), or None."""
    if isinstance(probe, lfpykit.RecMEAElectrode):
        return None
    if isinstance(probe, lfpykit.PointSourcePotential):
        return lfpcalc.calc_lfp_pointsource
    if isinstance(probe, lfpykit.LineSourcePotential):
        return lfpcalc.calc_lfp_linesource
    if isinstance(probe, lfpykit.RecExtElectrode):
        extended = probe.n is not None and probe.N is not None and probe.r is not None
        if probe.anisotropic or extended or probe.kwargs:
            return None
        return {"pointsource": lfpcalc.calc_lfp_pointsource,
                "linesource": lfpcalc.calc_lfp_linesource}.get(probe.method)
    return None


def _average_contacts_vectorised(method, probe: Any, geometry: Any,
                                 offsets: np.ndarray) -> np.ndarray:
    ex, ey, ez = (np.asarray(v, dtype=float).ravel() for v in (probe.x, probe.y, probe.z))
    n_el, nseg = ex.size, geometry.totnsegs
    d = np.asarray(geometry.d, dtype=float)
    r_limit = (d.mean(axis=-1) if d.ndim == 2 else d) / 2
    total = np.zeros((n_el, nseg))
    step = max(1, _CHUNK_ELEMENTS // (4 * n_el * nseg))
    for start in range(0, len(offsets), step):
        off = offsets[start:start + step]
        shape = (len(off), n_el, nseg)

        def seg(a, shape=shape):
            return np.broadcast_to(np.asarray(a, dtype=float), shape + (2,)).reshape(-1, 2)

        def contact(e, o, shape=shape):
            return np.broadcast_to((e[None, :] + o[:, None])[:, :, None], shape).ravel()

        vals = method(cell_x=seg(geometry.x), cell_y=seg(geometry.y), cell_z=seg(geometry.z),
                      x=contact(ex, off[:, 0]), y=contact(ey, off[:, 1]),
                      z=contact(ez, off[:, 2]), sigma=probe.sigma,
                      r_limit=np.broadcast_to(r_limit, shape).ravel())
        total += np.asarray(vals).reshape(shape).sum(axis=0)
    return total / len(offsets)


def _average_by_moving_cell(probe: Any, geometry: Any, offsets: np.ndarray) -> np.ndarray:
    d = np.asarray(geometry.d)
    total = None
    try:
        for dx, dy, dz in offsets:
            # moving every contact by +delta == moving the cell by -delta
            probe.cell = lfpykit.CellGeometry(np.asarray(geometry.x) - dx,
                                              np.asarray(geometry.y) - dy,
                                              np.asarray(geometry.z) - dz, d)
            M = np.asarray(probe.get_transformation_matrix(), dtype=float)
            total = M.copy() if total is None else total + M
    finally:
        probe.cell = None
    return total / len(offsets)


def _check_geometry(geometry: Any) -> int:
    for attr in ("x", "y", "z", "d"):
        if not hasattr(geometry, attr):
            raise TypeError(f"geometry must be an lfpykit.CellGeometry-like object with "
                            f"x, y, z, d (µm); {type(geometry).__name__} has no {attr!r}")
    shape = np.shape(geometry.z)
    if len(shape) != 2 or shape[1] != 2 or shape[0] == 0:
        raise ValueError(f"geometry.z must have shape (nseg, 2), got {shape}")
    return shape[0]


def probe_matrix(probe: lfpykit.LinearModel, geometry: Any, population: Any, *,
                 n_positions: int = 2000, seed: int | None = 1234) -> np.ndarray:
    """Transformation matrix of ``probe`` for one population's cell geometry.

    Sets ``probe.cell = geometry``, evaluates ``probe.get_transformation_matrix()``
    and sets ``probe.cell`` back to None.  Special cases:

    * contact-based models (``lfpykit.PointSourcePotential``,
      ``LineSourcePotential``, ``RecExtElectrode`` and subclasses): the matrix is
      averaged over ``n_positions`` cell positions drawn from the population with
      :func:`draw_offsets` (seeded, deterministic).  Each contact is moved by the
      drawn position minus (0, 0, loc), because ``geometry`` already sits at
      z = loc.  (LFPykernels 0.2.0 adds the drawn position *including* loc, a
      double shift when loc != 0, and draws from the global numpy RNG; it
      averages only PointSourcePotential and LineSourcePotential.)  Isotropic
      point/line-source models are averaged for all positions at once with
      lfpykit's elementwise formulas; other variants move a copy of the cell
      by the opposite offset, one position at a time.  ``RecMEAElectrode`` is
      averaged over lateral offsets only (the slice layers are fixed in z).
    * ``lfpykernels.GaussCylinderPotential`` is evaluated with the fast
      :class:`GaussCylinderPotential` of identical parameters (same matrix to
      ~1e-10 relative, no per-entry quadrature).
    * MEG-like matrices of shape (n_sensors, 3, nseg) are reshaped to
      (n_sensors * 3, nseg), sensor-major.

    Parameters
    ----------
    probe : lfpykit.LinearModel
        Forward model, with ``cell`` None (or anything; it is restored to None).
    geometry : lfpykit.CellGeometry
        Rotated, placed cell geometry (µm).
    population : dict or None
        ``radius``, ``loc``, ``scale`` (µm); required only for contact-based
        models.
    n_positions : int
        Number of cell positions averaged for contact-based models.
    seed : int or None
        Seed of the position generator.

    Returns
    -------
    ndarray
        Shape (n_channels, nseg); units of the probe per nA.
    """
    if not isinstance(probe, lfpykit.LinearModel):
        raise TypeError(f"probe must be an lfpykit.LinearModel, got {type(probe).__name__}")
    nseg = _check_geometry(geometry)
    if _is_reference_gauss(probe):
        probe = GaussCylinderPotential(z=probe.z, sigma=probe.sigma, R=probe.R,
                                       sigma_z=probe.sigma_z)
    if _is_contact_model(probe):
        probe.cell = None
        offsets = draw_offsets(population, n_positions, seed)
        if isinstance(probe, lfpykit.RecMEAElectrode):
            offsets[:, 2] = 0.0
        method = _vectorised_method(probe)
        if method is not None:
            M = _average_contacts_vectorised(method, probe, geometry, offsets)
        else:
            M = _average_by_moving_cell(probe, geometry, offsets)
    else:
        try:
            probe.cell = geometry
            M = np.asarray(probe.get_transformation_matrix(), dtype=float)
        finally:
            probe.cell = None
    if M.ndim == 3:
        M = M.reshape(-1, M.shape[-1])
    if M.ndim != 2 or M.shape[1] != nseg:
        raise ValueError(f"{type(probe).__name__} returned a matrix of shape {M.shape}; "
                         f"expected (n_channels, {nseg})")
    return M


# --------------------------------------------------------------------------- #
# channel metadata
# --------------------------------------------------------------------------- #
def _numbered(name: str, n: int) -> list[str]:
    return [f"{name}:{i}" for i in range(n)]


def probe_channels(name: str, probe: lfpykit.LinearModel) -> dict[str, tuple[str, np.ndarray]]:
    """``probe_channel`` coordinates of one probe (see ``contract.channel_coords``).

    Parameters
    ----------
    name : str
        Probe name, e.g. ``"lfp"``.
    probe : lfpykit.LinearModel
        A probe of a supported class (see :func:`normalize_probes`).

    Returns
    -------
    dict
        Coordinate name -> ("probe_channel", values): labels ``f"{name}:{i}"``
        (``f"{name}:x|y|z"`` for dipole moments, ``f"{name}:{i}:x|y|z"`` for
        MEG), units and contact positions x, y, z (µm; NaN where meaningless).
    """
    _check_name(name)
    if isinstance(probe, GaussCylinderPotential) or _is_reference_gauss(probe):
        z = np.asarray(probe.z, dtype=float)
        return channel_coords(name, _numbered(name, z.size), "mV", z=z)
    if isinstance(probe, lfpykit.CurrentDipoleMoment):
        return channel_coords(name, [f"{name}:{c}" for c in "xyz"], "nA µm")
    if isinstance(probe, EEGProbe):
        r = probe.r_electrodes
        return channel_coords(name, _numbered(name, len(r)), "mV", r[:, 0], r[:, 1], r[:, 2])
    if isinstance(probe, MEGProbe):
        r = np.repeat(probe.sensor_locations, 3, axis=0)
        labels = [f"{name}:{i}:{c}" for i in range(len(probe.sensor_locations)) for c in "xyz"]
        return channel_coords(name, labels, "nA/µm", r[:, 0], r[:, 1], r[:, 2])
    if _is_contact_model(probe):
        x, y, z = (np.asarray(v, dtype=float).ravel() for v in (probe.x, probe.y, probe.z))
        return channel_coords(name, _numbered(name, x.size), "mV", x, y, z)
    return _generic_channels(name, probe)


#: Units of lfpykit models without a dedicated branch above (per nA of membrane current).
_GENERIC_UNITS = {"OneSphereVolumeConductor": "mV", "RecMEAElectrode": "mV",
                  "LaminarCurrentSourceDensity": "nA/µm³",
                  "VolumetricCurrentSourceDensity": "nA/µm³"}


def _generic_channels(name: str, probe: lfpykit.LinearModel) -> dict[str, tuple[str, np.ndarray]]:
    """Channels of any other lfpykit model: one per row of its matrix.

    The row count is read off the matrix for a small probing geometry (two short
    segments near the origin); units come from ``probe.units`` if the user set it, else
    from :data:`_GENERIC_UNITS`; positions from ``probe.x/y/z`` when they have one
    value per row.
    """
    kind = type(probe).__name__
    units = getattr(probe, "units", None) or _GENERIC_UNITS.get(kind)
    if not isinstance(units, str) or not units:
        raise TypeError(f"probe {name!r} ({kind}) has no known units: set "
                        f"probe.units = '<units per nA>' (e.g. 'mV') before using it")
    saved = probe.cell
    probe.cell = lfpykit.CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
                                      z=np.array([[-5.0, 0.0], [0.0, 5.0]]),
                                      d=np.ones(2))
    try:
        rows = np.asarray(probe.get_transformation_matrix()).reshape(-1, 2).shape[0]
    except Exception as err:  # the model refuses the probing geometry
        raise TypeError(f"cannot determine the channels of probe {name!r} ({kind}): "
                        f"{type(err).__name__}: {err}") from None
    finally:
        probe.cell = saved
    positions = []
    stacked = getattr(probe, "r", None)  # e.g. OneSphereVolumeConductor: r of shape (3, n)
    stacked = None if stacked is None else np.asarray(stacked, dtype=float)
    for i, axis in enumerate(("x", "y", "z")):
        values = getattr(probe, axis, None)
        if values is None and stacked is not None and stacked.shape == (3, rows):
            values = stacked[i]
        arr = None if values is None else np.asarray(values, dtype=float).ravel()
        positions.append(arr if arr is not None and arr.size == rows else None)
    return channel_coords(name, _numbered(name, rows), units, *positions)


# --------------------------------------------------------------------------- #
# provenance
# --------------------------------------------------------------------------- #
def _list(a: Any) -> Any:
    return None if a is None else np.asarray(a, dtype=float).tolist()


def _path(cls: type) -> str:
    module = cls.__module__
    if module.startswith("lfpykit."):
        module = "lfpykit"   # public import path
    return f"{module}.{cls.__name__}"


_CONSTRUCTORS: dict[str, type] = {
    _path(c): c for c in (GaussCylinderPotential, CurrentDipoleMomentZ, EEGProbe, MEGProbe,
                          lfpykit.CurrentDipoleMoment, lfpykit.PointSourcePotential,
                          lfpykit.LineSourcePotential, lfpykit.RecExtElectrode)
}


def probe_definition(probe: lfpykit.LinearModel) -> dict[str, Any]:
    """JSON-serialisable description of a probe: class path and parameters.

    ``lfpykernels.GaussCylinderPotential`` and
    ``lfpykernels.KernelApproxCurrentDipoleMoment`` are described as their
    xkernels equivalents (:class:`GaussCylinderPotential`,
    :class:`CurrentDipoleMomentZ`), which give the same matrices.

    Parameters
    ----------
    probe : lfpykit.LinearModel

    Returns
    -------
    dict
        ``{"class": "<module>.<Class>", "params": {...}}`` with lists/floats.

    Raises
    ------
    TypeError
        For probe classes it cannot describe.
    """
    cls = type(probe)
    if isinstance(probe, GaussCylinderPotential) or _is_reference_gauss(probe):
        return {"class": _path(GaussCylinderPotential),
                "params": {"z": _list(probe.z), "sigma": float(probe.sigma),
                           "R": float(probe.R), "sigma_z": float(probe.sigma_z)}}
    if isinstance(probe, CurrentDipoleMomentZ) or (
            cls.__name__ == "KernelApproxCurrentDipoleMoment"
            and cls.__module__.startswith("lfpykernels")):
        return {"class": _path(CurrentDipoleMomentZ), "params": {}}
    if cls is lfpykit.CurrentDipoleMoment:
        return {"class": _path(cls), "params": {}}
    if cls is EEGProbe:
        return {"class": _path(cls),
                "params": {"r_electrodes": _list(probe.r_electrodes),
                           "radii": _list(probe.radii), "sigmas": _list(probe.sigmas),
                           "dipole_location": _list(probe.dipole_location)}}
    if cls is MEGProbe:
        return {"class": _path(cls),
                "params": {"sensor_locations": _list(probe.sensor_locations),
                           "dipole_location": _list(probe.dipole_location),
                           "conductor": probe.conductor}}
    if cls in (lfpykit.PointSourcePotential, lfpykit.LineSourcePotential):
        return {"class": _path(cls),
                "params": {"x": _list(probe.x), "y": _list(probe.y), "z": _list(probe.z),
                           "sigma": float(probe.sigma)}}
    if cls is lfpykit.RecExtElectrode:
        sigma = probe.sigma
        params = {"x": _list(probe.x), "y": _list(probe.y), "z": _list(probe.z),
                  "sigma": _list(sigma) if np.ndim(sigma) else float(sigma),
                  "N": _list(probe.N), "r": _list(probe.r), "n": probe.n,
                  "contact_shape": probe.contact_shape, "method": probe.method,
                  "seedvalue": probe.seedvalue}
        if probe.kwargs:
            raise TypeError(f"probe_definition cannot describe RecExtElectrode with extra "
                            f"keyword arguments {sorted(probe.kwargs)}")
        return {"class": _path(cls), "params": params}
    raise TypeError(f"probe_definition cannot describe {cls.__module__}.{cls.__name__}; "
                    f"supported classes: {sorted(_CONSTRUCTORS)} and the lfpykernels "
                    "GaussCylinderPotential / KernelApproxCurrentDipoleMoment")


def probe_from_definition(definition: Mapping[str, Any]) -> lfpykit.LinearModel:
    """Rebuild a probe from :func:`probe_definition` output (with ``cell=None``).

    Parameters
    ----------
    definition : dict
        ``{"class": ..., "params": {...}}``.

    Returns
    -------
    lfpykit.LinearModel
    """
    if not isinstance(definition, Mapping) or "class" not in definition:
        raise TypeError(f"probe definition must be a dict with keys 'class' and 'params', "
                        f"got {definition!r}")
    path = definition["class"]
    if path not in _CONSTRUCTORS:
        raise ValueError(f"probe definition 'class' must be one of {sorted(_CONSTRUCTORS)}, "
                         f"got {path!r}")
    params = dict(definition.get("params") or {})
    cls = _CONSTRUCTORS[path]
    for key in ("x", "y", "z", "r_electrodes", "sensor_locations", "dipole_location", "N"):
        if params.get(key) is not None:
            params[key] = np.asarray(params[key], dtype=float)
    if cls is lfpykit.RecExtElectrode and isinstance(params.get("sigma"), list):
        params["sigma"] = np.asarray(params["sigma"], dtype=float)
    return cls(cell=None, **params)


# --------------------------------------------------------------------------- #
# probe naming
# --------------------------------------------------------------------------- #
def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"probe name must be a non-empty str without ':', got {name!r}")


def default_probe_name(probe: lfpykit.LinearModel) -> str:
    """Conventional name: ``lfp``, ``cdm``, ``eeg``, ``meg`` or the class name."""
    cls = type(probe)
    if cls.__name__ == "GaussCylinderPotential":
        return "lfp"
    if isinstance(probe, lfpykit.CurrentDipoleMoment):
        return "cdm"
    if isinstance(probe, EEGProbe):
        return "eeg"
    if isinstance(probe, MEGProbe):
        return "meg"
    return cls.__name__.lower()


def normalize_probes(probes: Any) -> dict[str, lfpykit.LinearModel]:
    """Name the probes of a computation.

    Parameters
    ----------
    probes : dict, list/tuple or a single lfpykit.LinearModel
        ``{name: probe}`` (names non-empty, without ':') or probes to be named by
        :func:`default_probe_name`; repeated names get suffixes ``_1``, ``_2``, ...

    Returns
    -------
    dict
        Name -> probe, in input order.
    """
    if isinstance(probes, lfpykit.LinearModel):
        probes = [probes]
    if isinstance(probes, Mapping):
        items = list(probes.items())
        for name, _ in items:
            _check_name(name)
    elif isinstance(probes, (list, tuple)):
        items = []
        taken: set[str] = set()
        for i, probe in enumerate(probes):
            if not isinstance(probe, lfpykit.LinearModel):
                raise TypeError(f"probes[{i}] must be an lfpykit.LinearModel, got "
                                f"{type(probe).__name__}")
            base = default_probe_name(probe)
            name, k = base, 0
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            taken.add(name)
            items.append((name, probe))
    else:
        raise TypeError("probes must be a dict name -> lfpykit.LinearModel or a list of "
                        f"them, got {type(probes).__name__}")
    if not items:
        raise ValueError("probes must contain at least one probe, got an empty "
                         f"{type(probes).__name__}")
    for name, probe in items:
        if not isinstance(probe, lfpykit.LinearModel):
            raise TypeError(f"probes[{name!r}] must be an lfpykit.LinearModel, got "
                            f"{type(probe).__name__}")
    return dict(items)

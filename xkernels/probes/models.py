"""Forward models ("probes") mapping transmembrane currents to measured signals.

One class per physical forward model.  Every probe is an :class:`lfpykit.LinearModel`:
with ``probe.cell`` set to a cell geometry (:class:`lfpykit.CellGeometry`, coordinates
in µm) its ``get_transformation_matrix()`` maps transmembrane currents (nA, one row per
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

Names, channels and definitions of probes come from :mod:`xkernels.probes.registry`
(which also holds the kinds of these classes); population averaging
from :mod:`xkernels.probes.population_average`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import lfpykit
import numpy as np
from lfpykit.eegmegcalc import (
    FourSphereVolumeConductor,
    InfiniteHomogeneousVolCondMEG,
    SphericallySymmetricVolCondMEG,
)

from xkernels.checks import check_array, check_choice, check_real, did_you_mean, fail

__all__ = ["GaussCylinderPotential", "CSDProbe", "CurrentDipoleMomentZ", "EEGProbe", "MEGProbe",
           "gauss_cylinder_mean", "midpoints", "z_dipole_matrix", "FOUR_SPHERE_RADII",
           "FOUR_SPHERE_SIGMAS", "DIPOLE_LOCATION", "CHUNK_ELEMENTS"]

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
# nodes whose exponent b2 * rate varies less than this are summed as a series
_SERIES_EPS = 1e-3
#: Largest number of float64 elements of one temporary array of the probes' numerics
#: (memory bound, ~32 MB): arrays over many entries are computed in blocks of this size.
CHUNK_ELEMENTS = 4_000_000


def _require_cell(model: lfpykit.LinearModel) -> Any:
    if model.cell is None:
        raise AttributeError(f"{type(model).__name__}.cell is None; set it to a "
                             "CellGeometry (or use xkernels.probes.probe_matrix)")
    return model.cell


def midpoints(geometry: Any, axis: str = "z") -> np.ndarray:
    """Segment midpoints of ``geometry`` along ``axis`` (µm), shape (nseg,)."""
    return np.asarray(getattr(geometry, axis), dtype=float).mean(axis=-1)


# --------------------------------------------------------------------------- #
# GaussCylinderPotential
# --------------------------------------------------------------------------- #
def gauss_cylinder_mean(d: np.ndarray, R: float, sigma_z: float) -> np.ndarray:
    r"""Gaussian average of the on-axis disk function ``sqrt(u^2+R^2) - |u|``.

    Computes

    .. math:: I(d) = \int_{-\infty}^{\infty} \left(\sqrt{(d-s)^2 + R^2}
              - |d-s|\right) g(s)\, ds, \quad
              g(s) = \frac{e^{-s^2 / 2\sigma_z^2}}{\sqrt{2\pi}\,\sigma_z}

    exactly rewritten (with :math:`\sqrt{a} = \frac{1}{2\sqrt\pi}
    \int_0^\infty (1 - e^{-ta})\, t^{-3/2} dt` and the Gaussian expectation
    of :math:`e^{-t(d-s)^2}`) as a smooth, positive integral without the kink
    at :math:`s = d`:

    .. math:: I(d) = \frac{1}{2\sqrt\pi} \int_0^\infty
              \frac{(1 - e^{-tR^2})\, e^{-t d^2 / (1 + 2t\sigma_z^2)}}
              {t^{3/2} \sqrt{1 + 2t\sigma_z^2}}\, dt ,

    evaluated with the trapezoidal rule in :math:`\log t` (exponentially
    convergent: the integrand is analytic in the strip
    :math:`|\mathrm{Im}\log t| < \pi/2` and decays exponentially at both
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

    Examples
    --------
    >>> gauss_cylinder_mean(np.array([0.0, 100.0]), R=150.0, sigma_z=75.0).round(3)
    array([106.554,  84.95 ])
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
    # Nodes where b2 * rate (low t) or b2 * (rate - 1 / 2a2) (high t) stays below
    # _SERIES_EPS for every entry are summed as a Taylor series in b2 with moments
    # computed once: the same trapezoidal sum to ~1e-17, with ~3x fewer exponentials.
    b2_max = float(b2.max())
    r_inf = 1.0 / (2.0 * a2)
    low = b2_max * rate < _SERIES_EPS
    high = ~low & (b2_max * (r_inf - rate) < _SERIES_EPS)
    mid = ~(low | high)
    out = _series(b2, rate[low], weight[low])
    if high.any():
        out += np.exp(-b2 * r_inf) * _series(b2, rate[high] - r_inf, weight[high])
    rate, weight = rate[mid], weight[mid]
    step = max(1, CHUNK_ELEMENTS // max(rate.size, 1))
    for start in range(0, b2.size, step):
        sl = slice(start, start + step)
        out[sl] += np.exp(-np.multiply.outer(b2[sl], rate)) @ weight
    return (R * out).reshape(d.shape)


def _series(b2: np.ndarray, r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_k w_k exp(-b2 r_k)`` for ``|b2 r_k| < _SERIES_EPS``, by its Taylor series
    (terms up to (b2 r)^4 / 4!; the next is below 1e-17 of the sum)."""
    out = np.zeros(b2.size)
    if r.size == 0:
        return out
    term = np.ones(b2.size)
    for j in range(5):
        out += term * float(np.sum(w * r ** j))
        term = term * (-b2) / (j + 1)
    return out


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
            fail("GaussCylinderPotential.z", z, "a 1-D array of finite contact depths (µm)",
                 TypeError)
        self.z = check_array("GaussCylinderPotential.z", z, ndim=1)
        self.sigma = check_real("GaussCylinderPotential.sigma", sigma, positive=True)
        self.R = check_real("GaussCylinderPotential.R", R, positive=True)
        self.sigma_z = check_real("GaussCylinderPotential.sigma_z", sigma_z, positive=True)

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

        Examples
        --------
        >>> import numpy as np
        >>> from lfpykit import CellGeometry
        >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
        ...                     z=np.array([[-10., 10.], [10., 200.]]), d=np.ones(2))
        >>> M = GaussCylinderPotential(cell, z=[0., 100.]).get_transformation_matrix()
        >>> M.shape
        (2, 2)
        """
        cell = _require_cell(self)
        d = self.z[:, None] - midpoints(cell)[None, :]
        disk = gauss_cylinder_mean(d, self.R, self.sigma_z)
        return disk / (2.0 * self.sigma * math.pi * self.R ** 2)


# --------------------------------------------------------------------------- #
# laminar current source density
# --------------------------------------------------------------------------- #
#: µA/mm³ per nA/µm³
UA_PER_MM3 = 1e6


class CSDProbe(lfpykit.LinearModel):
    """Laminar current source density of the population column, µA/mm³.

    The membrane current per unit volume in cylindrical slabs of the column that the
    population fills (radius :math:`R`, the radius of the
    :class:`GaussCylinderPotential` it goes with), centred at depths :math:`z_j`, of
    height :math:`h`.  Each segment is a line source: the part of its current in a slab
    is the part of its length (along z) inside it, wherever it lies laterally (the
    population's cells fill the disc):

    .. math:: C_j = \\frac{10^6}{\\pi R^2 h} \\sum_i I_i\\,
              \\frac{|[z_i^0, z_i^1] \\cap [z_j - h/2, z_j + h/2]|}{|z_i^1 - z_i^0|}

    (a segment without vertical extent counts whole in the slab holding it).  With
    currents in nA and lengths in µm, :math:`C` is in µA/mm³ (``lfpykit``'s
    ``LaminarCurrentSourceDensity`` gives the same in nA/µm³, 10⁻⁶ times these
    numbers, counting only the parts of segments within ``r`` of the axis).  Sinks
    (current into the cells) are negative.

    Parameters
    ----------
    cell : CellGeometry or None
        Cell geometry (µm); may be set later through the ``cell`` attribute.
    z : array_like
        Slab centres (µm), 1-D, finite.
    h : float, optional
        Slab height (µm), > 0; default: the smallest spacing of ``z`` (100 µm for a
        single slab).
    R : float
        Column radius (µm), > 0.

    Examples
    --------
    Two point-like segments, a sink of 1 nA at z = 0 and a source at 100 µm:

    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[0., 0.], [100., 100.]]), d=np.ones(2))
    >>> csd = CSDProbe(cell, z=[100., 0.], R=100.)
    >>> C = csd.get_transformation_matrix() @ np.array([-1.0, 1.0])   # µA/mm³
    >>> np.round(C * np.pi, 6)                       # ±1 nA / (π 100² · 100 µm³)
    array([ 1., -1.])
    """

    def __init__(self, cell: Any = None, z: Any = None, h: float | None = None,
                 R: float = 100.0) -> None:
        super().__init__(cell=cell)
        if z is None:
            fail("CSDProbe.z", z, "a 1-D array of finite slab centres (µm)", TypeError)
        self.z = check_array("CSDProbe.z", z, ndim=1)
        if h is None:
            gaps = np.diff(np.sort(self.z))
            h = float(gaps.min()) if gaps.size else 100.0
            if h <= 0:
                fail("CSDProbe.z", self.z.tolist(), "distinct slab centres (or give h)")
        self.h = check_real("CSDProbe.h", h, positive=True)
        self.R = check_real("CSDProbe.R", R, positive=True)

    def get_transformation_matrix(self) -> np.ndarray:
        """Linear map from segment currents (nA) to the slabs' CSD (µA/mm³).

        Returns
        -------
        ndarray
            Shape (n_slabs, n_seg), µA/mm³ per nA.

        Raises
        ------
        AttributeError
            If ``cell`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from lfpykit import CellGeometry
        >>> cell = CellGeometry(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
        ...                     z=np.array([[-50., 150.]]), d=np.ones(1))
        >>> M = CSDProbe(cell, z=[0., 100.], R=100.).get_transformation_matrix()
        >>> np.round(M * np.pi * 100.**3 / 1e6, 6)       # half of the segment in each
        array([[0.5],
               [0.5]])
        """
        cell = _require_cell(self)
        z = np.asarray(cell.z, dtype=float)
        lo, hi = z.min(axis=1)[None, :], z.max(axis=1)[None, :]
        bottom, top = (self.z - self.h / 2)[:, None], (self.z + self.h / 2)[:, None]
        length = hi - lo
        overlap = np.clip(np.minimum(hi, top) - np.maximum(lo, bottom), 0.0, None)
        flat = length == 0.0  # no vertical extent: whole in the slab holding it
        inside = (lo >= bottom) & (lo < top)
        fraction = np.where(flat, inside.astype(float),
                            overlap / np.where(flat, 1.0, length))
        return fraction * (UA_PER_MM3 / (math.pi * self.R ** 2 * self.h))


# --------------------------------------------------------------------------- #
# current dipole moment, EEG, MEG
# --------------------------------------------------------------------------- #
def z_dipole_matrix(cell: Any) -> np.ndarray:
    """Shape (3, n_seg) matrix of the z-only dipole moment (µm; nA -> nA µm): rows x,
    y (zero) and z (the segment midpoints' z), the input of the EEG and MEG models."""
    z = midpoints(cell)
    M = np.zeros((3, z.size))
    M[2] = z
    return M


class CurrentDipoleMomentZ(lfpykit.CurrentDipoleMoment):
    """Current dipole moment keeping only its z-component.

    For a population that is rotationally symmetric around the z-axis the
    lateral components average out, so only the z-component is kept:

    .. math:: P_z = M I, \\qquad M = z^\\mathrm{mid}

    with :math:`z^\\mathrm{mid}_i` the segment midpoints (µm) and currents in
    nA, so :math:`P_z` is in nA µm: one channel (``cdm:z``).  With
    ``components="xyz"`` the matrix has the three rows of
    ``lfpykernels.KernelApproxCurrentDipoleMoment`` (x and y rows zero; channels
    ``cdm:x``, ``cdm:y``, ``cdm:z``), as :mod:`xkernels.compat` uses it.

    Parameters
    ----------
    cell : CellGeometry or None
        Cell geometry (µm).
    components : {"z", "xyz"}
        ``"z"``: one row, the z-component; ``"xyz"``: the reference's three rows.

    Examples
    --------
    >>> import numpy as np
    >>> from lfpykit import CellGeometry
    >>> cell = CellGeometry(x=np.ones((2, 2)), y=np.zeros((2, 2)),
    ...                     z=np.array([[0., 10.], [10., 30.]]), d=np.ones(2))
    >>> CurrentDipoleMomentZ(cell).get_transformation_matrix()
    array([[ 5., 20.]])
    >>> CurrentDipoleMomentZ(cell, components="xyz").get_transformation_matrix()
    array([[ 0.,  0.],
           [ 0.,  0.],
           [ 5., 20.]])
    """

    COMPONENTS = ("z", "xyz")

    def __init__(self, cell: Any = None, components: str = "z") -> None:
        super().__init__(cell=cell)
        self.components = check_choice("CurrentDipoleMomentZ.components", components,
                                       self.COMPONENTS)

    def get_transformation_matrix(self) -> np.ndarray:
        """Linear map from segment currents (nA) to the current dipole moment (nA µm).

        Returns
        -------
        ndarray
            Shape (1, n_seg), µm: the z row (segment midpoint depths); (3, n_seg),
            rows x, y (zero) and z, with ``components="xyz"``.

        Raises
        ------
        AttributeError
            No cell geometry set.

        Examples
        --------
        >>> import numpy as np
        >>> from lfpykit import CellGeometry
        >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
        ...                     z=np.array([[-10., 10.], [10., 200.]]), d=np.ones(2))
        >>> CurrentDipoleMomentZ(cell).get_transformation_matrix()
        array([[  0., 105.]])
        """
        M = z_dipole_matrix(_require_cell(self))
        return M if self.components == "xyz" else M[2:]


def channel_names(field: str, names: Sequence[str] | None, n: int) -> list[str] | None:
    """Checked channel names: ``n`` unique non-empty strings without ``:`` (or None).

    Parameters
    ----------
    field : str
        The parameter, for messages.
    names : sequence of str or None
        The names.
    n : int
        Number of channels (electrodes, sensors).

    Returns
    -------
    list of str or None
        The names as a list.

    Raises
    ------
    ValueError
        Wrong count, duplicates, empty names or names with ``:`` (the label separator).

    Examples
    --------
    >>> channel_names("EEGProbe.names", ("Fz", "Cz"), 2)
    ['Fz', 'Cz']
    """
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(v, str) for v in names):
        raise TypeError(f"{field} must be a sequence of str (one per channel), got {names!r}")
    out = list(names)
    if len(out) != n:
        raise ValueError(f"{field} must name each of the {n} channels, got {len(out)} names")
    bad = [v for v in out if not v or ":" in v]
    if bad or len(set(out)) != len(out):
        raise ValueError(f"{field} must be unique non-empty names without ':', got {out}")
    return out


def _refuse_rows(field: str, bad: np.ndarray, why: str) -> None:
    """Raise a ValueError naming the rows of ``field`` where ``bad`` is True, and why."""
    if np.any(bad):
        raise ValueError(f"{field} rows {np.flatnonzero(bad).tolist()} {why}")


class ZDipoleProbe(lfpykit.LinearModel):
    """A signal of the z-only current dipole moment: ``dipole_matrix() @ z_dipole_matrix``."""

    def get_transformation_matrix(self) -> np.ndarray:
        """Linear map from segment currents (nA) to the signal: the map of the dipole
        (:meth:`dipole_matrix`) times the z-only current dipole moment (nA µm per nA).

        Returns
        -------
        ndarray
            Shape (n_electrodes, n_seg) for EEG (mV/nA); (n_sensors, 3, n_seg) for MEG
            (nA/µm per nA).

        Raises
        ------
        AttributeError
            No cell geometry set.

        Examples
        --------
        >>> import numpy as np
        >>> from lfpykit import CellGeometry
        >>> cell = CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
        ...                     z=np.array([[-10., 10.], [10., 200.]]), d=np.ones(2))
        >>> EEGProbe(r_electrodes=[[0., 0., 90000.]], cell=cell).get_transformation_matrix().shape
        (1, 2)
        >>> MEGProbe(sensor_locations=[[10000., 0., 95000.]], cell=cell
        ...          ).get_transformation_matrix().shape
        (1, 3, 2)
        """
        return self.dipole_matrix() @ z_dipole_matrix(_require_cell(self))


class EEGProbe(ZDipoleProbe):
    """EEG in the four-sphere head model from the z-only current dipole moment.

    .. math:: V = T\\, M_\\mathrm{CDM}\\, I

    where :math:`M_\\mathrm{CDM}` (3, n_seg) is the z-only dipole moment
    (:func:`z_dipole_matrix`, nA -> nA µm) and :math:`T` (n_electrodes, 3) the
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
    names : sequence of str, optional
        One name per electrode (e.g. 10-20 labels): channels ``eeg:<name>`` instead
        of ``eeg:<index>``.  :meth:`from_montage` sets them.

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
                 dipole_location: Any = DIPOLE_LOCATION, cell: Any = None,
                 names: Sequence[str] | None = None) -> None:
        super().__init__(cell=cell)
        r_el = check_array("EEGProbe.r_electrodes", r_electrodes, ndim=2, last=3)
        radii_ = check_array("EEGProbe.radii", radii, ndim=1)
        sigmas_ = check_array("EEGProbe.sigmas", sigmas, ndim=1)
        loc = check_array("EEGProbe.dipole_location", dipole_location, ndim=1, last=3)
        if radii_.size != 4 or radii_[0] <= 0 or np.any(np.diff(radii_) <= 0):
            fail("EEGProbe.radii", radii_.tolist(),
                 "4 increasing positive radii (µm) of brain, CSF, skull, scalp")
        if sigmas_.size != 4 or np.any(sigmas_ <= 0):
            fail("EEGProbe.sigmas", sigmas_.tolist(), "4 conductivities > 0 (S/m)")
        r_dip = float(np.linalg.norm(loc))
        if not 0 < r_dip < radii_[0]:
            raise ValueError("EEGProbe.dipole_location must lie inside the brain sphere "
                             f"(0 < |r| < {radii_[0]} µm) and not at its centre; got "
                             f"{loc.tolist()} (|r| = {r_dip})")
        dist = np.linalg.norm(r_el, axis=1)
        bad = (dist <= r_dip) | (dist > radii_[3])
        _refuse_rows("EEGProbe.r_electrodes", bad, f"have |r| = {dist[bad].tolist()} µm; "
                     f"allowed: {r_dip} < |r| <= {radii_[3]} (dipole radius < |r| <= scalp)")
        self.r_electrodes = r_el
        self.radii = radii_
        self.sigmas = sigmas_
        self.dipole_location = loc
        self.names = channel_names("EEGProbe.names", names, len(r_el))

    @classmethod
    def from_montage(cls, montage: Any = "spherical_1020", names: Sequence[str] | None = None,
                     **kwargs: Any) -> EEGProbe:
        """EEG electrodes of an MNE montage, named, on the scalp of the four-sphere head.

        Each electrode's direction from the head centre is kept and its distance set to
        the scalp radius ``radii[3]`` (the montages' heads are not the four-sphere
        model's spheres).

        Parameters
        ----------
        montage : str or mne.channels.DigMontage
            A standard montage name (``mne.channels.get_builtin_montages()``, e.g.
            ``"spherical_1020"``, ``"biosemi64"``) or a montage (head frame).
        names : sequence of str, optional
            The electrodes to keep, in this order (default: all of the montage's).
        **kwargs
            Other :class:`EEGProbe` parameters (``radii``, ``sigmas``,
            ``dipole_location``, ``cell``).

        Returns
        -------
        EEGProbe
            With ``names`` set: channels ``eeg:<name>``.

        Raises
        ------
        ValueError
            An unknown montage name or electrode name (with "did you mean").

        Examples
        --------
        >>> eeg = EEGProbe.from_montage("spherical_1020", names=["Fz", "Cz", "Pz"])
        >>> eeg.names, round(float(np.linalg.norm(eeg.r_electrodes[1])))
        (['Fz', 'Cz', 'Pz'], 90000)
        >>> from xkernels.probes import probe_channels
        >>> probe_channels("eeg", eeg)["probe_channel"][1].tolist()
        ['eeg:Fz', 'eeg:Cz', 'eeg:Pz']
        """
        import mne  # optional: pip install mne

        if isinstance(montage, str):
            builtin = mne.channels.get_builtin_montages()
            if montage not in builtin:
                check_choice("montage", montage, builtin)
            montage = mne.channels.make_standard_montage(montage)
        positions = montage.get_positions()["ch_pos"]
        chosen = list(positions) if names is None else list(names)
        for name in chosen:
            if name not in positions:
                raise ValueError(f"names: electrode {name!r} is not in the montage"
                                 f"{did_you_mean(name, positions)}; it has {list(positions)}")
        radii = np.asarray(kwargs.get("radii", FOUR_SPHERE_RADII), dtype=float)
        r = np.array([positions[n] for n in chosen], dtype=float)
        # on the scalp; 1e-12 below it so that rounding never puts one outside
        r = r / np.linalg.norm(r, axis=1, keepdims=True) * (radii[-1] * (1 - 1e-12))
        return cls(r, names=chosen, **kwargs)

    def dipole_matrix(self) -> np.ndarray:
        """Four-sphere map from a dipole at ``dipole_location`` to the electrodes.

        Returns
        -------
        ndarray
            Shape (n_electrodes, 3), mV per nA µm.

        Examples
        --------
        >>> EEGProbe(r_electrodes=[[0., 0., 90000.]]).dipole_matrix().shape
        (1, 3)
        """
        model = FourSphereVolumeConductor(self.r_electrodes, radii=self.radii.tolist(),
                                          sigmas=self.sigmas.tolist())
        return np.asarray(model.get_transformation_matrix(self.dipole_location.copy()),
                          dtype=float)


class MEGProbe(ZDipoleProbe):
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
    names : sequence of str, optional
        One name per sensor (e.g. ``"MEG0111"``): channels ``meg:<name>:x|y|z``
        instead of ``meg:<index>:x|y|z``.

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
                 conductor: str = "infinite", cell: Any = None,
                 names: Sequence[str] | None = None) -> None:
        super().__init__(cell=cell)
        sensors = check_array("MEGProbe.sensor_locations", sensor_locations, ndim=2, last=3)
        loc = check_array("MEGProbe.dipole_location", dipole_location, ndim=1, last=3)
        check_choice("MEGProbe.conductor", conductor, self.CONDUCTORS)
        _refuse_rows("MEGProbe.sensor_locations", np.linalg.norm(sensors - loc, axis=1) == 0,
                     f"coincide with the dipole location {loc.tolist()}")
        if conductor == "spherical":
            r_dip = np.linalg.norm(loc)
            _refuse_rows("MEGProbe.sensor_locations", np.linalg.norm(sensors, axis=1) <= r_dip,
                         "must be farther from the origin than the dipole "
                         f"(|r| > {r_dip} µm) with conductor='spherical'")
        self.sensor_locations = sensors
        self.dipole_location = loc
        self.conductor = conductor
        self.names = channel_names("MEGProbe.names", names, len(sensors))

    def dipole_matrix(self) -> np.ndarray:
        """Map from a dipole at ``dipole_location`` to the magnetic field at the sensors.

        Returns
        -------
        ndarray
            Shape (n_sensors, 3, 3): nA µm -> nA/µm.

        Examples
        --------
        >>> MEGProbe(sensor_locations=[[10000., 0., 95000.]]).dipole_matrix().shape
        (1, 3, 3)
        """
        conductor = {"infinite": InfiniteHomogeneousVolCondMEG,
                     "spherical": SphericallySymmetricVolCondMEG}[self.conductor]
        model = conductor(self.sensor_locations)
        return np.asarray(model.get_transformation_matrix(self.dipole_location.copy()))

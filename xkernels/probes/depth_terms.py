"""Depth terms of the probe kinds: each probe's matrix as a function of the cell's depth.

Used by ``averaging="depth"`` (:mod:`xkernels.probes.depth`); one builder per rule:

* :func:`moved_terms` -- the probe's own matrix with the cell moved in depth (CDM, EEG,
  MEG and any probe without population averaging: no lateral average);
* :func:`gauss_cylinder_terms` -- :class:`~xkernels.probes.GaussCylinderPotential`:
  the analytic disc average of radius ``R``, with the depth smoothing the population
  already provides taken out of ``sigma_z`` (the rule is in :func:`residual_sigma_z`);
* :func:`contact_terms` -- point/line-source contacts averaged over the population disc
  (:mod:`xkernels.probes.lateral`);
* :func:`lateral_quadrature_terms` -- other contact-based models: a fixed polar
  quadrature over the disc, moving the cell (no closed-form kink: less accurate).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import lfpykit
import numpy as np
from scipy.special import ndtr

from xkernels.probes import lateral
from xkernels.probes.depth import DepthTerms
from xkernels.probes.models import GaussCylinderPotential, gauss_cylinder_mean, midpoints

__all__ = ["check_disc", "contact_terms", "gauss_cylinder_terms", "lateral_quadrature_terms",
           "matrix_of", "moved", "moved_sum", "moved_terms", "residual_sigma_z"]

#: Points of the fixed polar quadrature of :func:`lateral_quadrature_terms`.
QUADRATURE_RADII = 6
QUADRATURE_ANGLES = 12


def moved(geometry: Any, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0
          ) -> lfpykit.CellGeometry:
    """A copy of ``geometry`` translated by (dx, dy, dz) (µm)."""
    return lfpykit.CellGeometry(x=np.asarray(geometry.x, dtype=float) + dx,
                                y=np.asarray(geometry.y, dtype=float) + dy,
                                z=np.asarray(geometry.z, dtype=float) + dz,
                                d=np.asarray(geometry.d, dtype=float))


def matrix_of(model: lfpykit.LinearModel, geometry: Any) -> np.ndarray:
    """``model``'s matrix for the cell ``geometry``, shape (n_channels, nseg) (MEG-like
    (n_sensors, 3, nseg) sensor-major): a copy of ``model`` with ``cell = geometry`` is
    evaluated, ``model`` itself is never changed."""
    evaluated = copy.copy(model)
    evaluated.cell = geometry
    M = np.asarray(evaluated.get_transformation_matrix(), dtype=float)
    return M.reshape(-1, M.shape[-1]) if M.ndim == 3 else M


def moved_sum(model: lfpykit.LinearModel, geometry: Any, shifts: np.ndarray,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``model``'s matrices (:func:`matrix_of`) for the cell moved by each shift
    (µm, shape (n, 3)), each times its weight where ``weights`` (shape (n,)) are given."""
    total = None
    for i, (dx, dy, dz) in enumerate(shifts):
        M = matrix_of(model, moved(geometry, dx, dy, dz))
        if weights is not None:
            M = weights[i] * M
        total = M if total is None else total + M
    return total


def moved_terms(model: lfpykit.LinearModel, geometry: Any, affine: bool = False
                ) -> DepthTerms:
    """The model's own matrix for the cell moved in depth; no kink, no lateral average.

    Parameters
    ----------
    model : lfpykit.LinearModel
        The probe.
    geometry : lfpykit.CellGeometry
        The cell at the population's depth (µm).
    affine : bool
        The matrix is affine in the offset (the dipole probes: CDM, EEG, MEG): it is
        evaluated at two offsets only.
    """

    def exact(dz: float) -> np.ndarray:
        return matrix_of(model, moved(geometry, dz=dz))

    if not affine:
        return DepthTerms(exact=exact)
    at_zero = exact(0.0)
    slope = exact(1.0) - at_zero

    def smooth(dz: np.ndarray) -> np.ndarray:
        dz = np.atleast_1d(np.asarray(dz, dtype=float))
        return at_zero[None] + dz[:, None, None] * slope[None]

    return DepthTerms(exact=exact, smooth=smooth)


def residual_sigma_z(sigma_z: float, scale: float, field: str = "probe",
                     population: str = "population") -> float:
    """The depth smoothing a GaussCylinderPotential keeps in ``averaging="depth"``.

    ``sigma_z`` is the probe's *total* depth smoothing.  Depth averaging integrates the
    population's soma depths (standard deviation ``scale``) explicitly, so the probe
    keeps only ``sqrt(sigma_z² - scale²)`` (Gaussians compose in quadrature): the total
    smoothing is unchanged and, for currents that do not depend on depth, both modes give
    the same kernels.  ``sigma_z == scale`` (the usual choice) leaves the bare disc.

    Raises
    ------
    ValueError
        ``sigma_z < scale``: the probe would smooth less than the population spreads
        (a conflict; use ``sigma_z >= scale`` or ``averaging="reference"``).
    """
    excess = sigma_z * sigma_z - scale * scale
    if excess < -1e-12 * scale * scale:
        raise ValueError(
            f"{field}.sigma_z = {sigma_z} µm is smaller than {population}.scale = {scale} "
            "µm: averaging='depth' integrates the soma depths explicitly and takes them out "
            "of the probe's depth smoothing (which keeps sqrt(sigma_z² - scale²)); allowed: "
            "sigma_z >= scale (sigma_z = scale for none), or averaging='reference'")
    return math.sqrt(max(excess, 0.0))


def gauss_cylinder_terms(probe: GaussCylinderPotential, geometry: Any,
                         population: Mapping[str, float]) -> DepthTerms:
    """GaussCylinderPotential with the population's depth spread integrated explicitly.

    At depth offset s the contact at ``z_c`` sees segment ``i`` through the disc average
    ``(sqrt(u² + R²) - |u|) / (2 σ π R²)``, ``u = z_c - z_i - s``, smoothed by the residual
    ``r = sqrt(sigma_z² - scale²)`` (:func:`residual_sigma_z`).  The kink ``-|u|_r`` is
    returned separately; the smooth part is ``E_t sqrt((u - r t)² + R²)``.
    """
    r = residual_sigma_z(probe.sigma_z, population["scale"])
    R = float(probe.R)
    k = 1.0 / (2.0 * float(probe.sigma) * math.pi * R * R)
    u0 = np.asarray(probe.z, dtype=float)[:, None] - midpoints(geometry)[None, :]

    def smooth(dz: np.ndarray) -> np.ndarray:
        u = u0[None] - np.atleast_1d(np.asarray(dz, dtype=float))[:, None, None]
        if r == 0:
            return k * np.sqrt(u * u + R * R)
        a = u / r
        folded = r * (2.0 * np.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
                      + a * (2.0 * ndtr(a) - 1.0))          # E_t |u - r t|
        return k * (gauss_cylinder_mean(u, R, r) + folded)

    def exact(dz: float) -> np.ndarray:
        if r == 0:
            u = u0 - dz
            return k * (np.sqrt(u * u + R * R) - np.abs(u))
        model = GaussCylinderPotential(z=probe.z, sigma=probe.sigma, R=R, sigma_z=r)
        return matrix_of(model, moved(geometry, dz=dz))

    return DepthTerms(smooth=smooth, exact=exact, coef=np.full(u0.shape + (1,), -k),
                      at=u0[..., None], width=r, reach=math.hypot(R, r))


def check_disc(population: Mapping[str, float], field: str = "population") -> float:
    """The population disc radius (µm) for contact probes in depth averaging (> 0).

    Raises
    ------
    ValueError
        A radius of 0: the potential of a point source right under a contact would not
        be integrable over depth without the disc average.
    """
    radius = float(population["radius"])
    if not radius > 0:
        raise ValueError(f"{field}.radius must be > 0 µm for point/line-source probes with "
                         f"averaging='depth' (their potential is averaged over the "
                         f"population disc), got {radius}")
    return radius


def contact_terms(contacts: np.ndarray, sigma_e: float, geometry: Any,
                  population: Mapping[str, float], line: bool,
                  root_as_point: bool = False) -> DepthTerms:
    """Point/line-source contacts averaged over the population disc, at every depth.

    Parameters
    ----------
    contacts : ndarray
        Contact positions, shape (n_contacts, 3) (µm).
    sigma_e : float
        Extracellular conductivity (S/m).
    geometry : lfpykit.CellGeometry
        The cell at the population's depth (µm).
    population : Mapping
        ``radius`` (µm, > 0).
    line : bool
        Line sources (else point sources at segment midpoints).
    root_as_point : bool
        With ``line``: the first segment (the soma) as a point source.
    """
    radius = check_disc(population)
    if line:
        sources = lateral.line_points(contacts, geometry, root_as_point=root_as_point)
    else:
        sources = lateral.point_points(contacts, geometry)
    smooth, coef, reach = lateral.disc_average(sources, radius, sigma_e)
    at = sources.h

    def exact(dz: float) -> np.ndarray:
        return smooth(np.array([dz]))[0] + (coef * np.abs(at - dz)).sum(axis=-1)

    return DepthTerms(smooth=smooth, exact=exact, coef=coef, at=at, width=0.0, reach=reach)


def polar_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A fixed quadrature of the uniform distribution on a disc of ``radius`` (µm).

    Gauss–Legendre in r² (:data:`QUADRATURE_RADII` points) times the trapezoidal rule in
    angle (:data:`QUADRATURE_ANGLES`): exact for polynomials in x, y of low degree.

    Returns
    -------
    offsets, weights : ndarray
        Shape (n, 3) lateral offsets (z = 0) and weights summing to 1.
    """
    v, gw = np.polynomial.legendre.leggauss(QUADRATURE_RADII)
    r = radius * np.sqrt(0.5 * (v + 1.0))
    theta = 2.0 * np.pi * (np.arange(QUADRATURE_ANGLES) + 0.5) / QUADRATURE_ANGLES
    rr, tt = np.meshgrid(r, theta, indexing="ij")
    ww = np.repeat(0.5 * gw[:, None], QUADRATURE_ANGLES, axis=1) / QUADRATURE_ANGLES
    offsets = np.column_stack([(rr * np.cos(tt)).ravel(), (rr * np.sin(tt)).ravel(),
                               np.zeros(rr.size)])
    return offsets, ww.ravel()


def lateral_quadrature_terms(model: lfpykit.LinearModel, geometry: Any,
                             population: Mapping[str, float]) -> DepthTerms:
    """Any contact-based model averaged over the disc by a fixed polar quadrature.

    The cell is moved by each quadrature offset (contacts fixed).  The kink of the
    averaged potential at the contacts' depths is not treated separately, so the depth
    integral converges slowly near the contacts (use point/line-source models for
    accurate depth averaging).
    """
    offsets, weights = polar_offsets(float(population["radius"]))

    def exact(dz: float) -> np.ndarray:
        return moved_sum(model, geometry, offsets + [0.0, 0.0, dz], weights)

    # the kink is not separated: a moderate step (population radius / 5) keeps the
    # number of matrix evaluations bounded
    return DepthTerms(exact=exact, reach=float(population["radius"]))

"""Point and line sources averaged over the lateral positions of a population disc.

A cell of a population sits at a lateral offset ``o`` uniform in the disc of radius R
(µm).  A point source at lateral offset ``c`` from a contact and ``h`` below it (µm) then
contributes, on average,

.. math:: \\bar V = \\frac{1}{\\pi R^2} \\int_{|o| < R}
          \\frac{dA(o)}{4 \\pi \\sigma_e \\sqrt{|c - o|^2 + h^2}}

per nA (mV; σ_e in S/m).  In polar coordinates around the contact's foot point the
radial integral is analytic, ``∫ ρ dρ / sqrt(ρ² + h²) = sqrt(ρ² + h²)``, so only the
angle needs a quadrature:

* the foot point inside the disc (``|c| < R``):
  ``∫_0^{2π} [sqrt(ρ_2(θ)² + h²) - |h|] dθ`` with ``ρ_2`` the distance to the rim along
  θ -- smooth and periodic in θ: the trapezoidal rule converges geometrically.  The
  ``-2π|h|`` term is the kink of the averaged potential at h = 0, returned separately
  (its depth integral is done in closed form, :mod:`xkernels.probes.depth`);
* outside (``|c| > R``): ``∫ [sqrt(ρ_2² + h²) - sqrt(ρ_1² + h²)] dψ`` over the rays
  that cross the disc, with ``sin ψ = (R/|c|) sin φ`` so that the integrand is smooth
  in φ (Gauss–Legendre).  No kink.

A line source is the mean of point sources along its segment (the line-source formula
is exactly that), integrated here with Gauss–Legendre points in each part of the
segment above and below the contact's depth (with the cell at its reference depth: exact
there; the depth integral of :mod:`xkernels.probes.depth` smooths the kink as it moves
along the segment, and 4 points per part then give ~1e-9 for a depth spread of 75 µm,
~1e-6 for 20 µm).  lfpykit's ``r_limit`` (a minimum
source–contact distance of about one segment radius) is not applied: averaged over a
disc of radius R its effect is of relative order ``(r_limit / R)²``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xkernels.probes.models import CHUNK_ELEMENTS, midpoints

__all__ = ["LateralSources", "disc_average", "line_points", "point_points"]

#: Angles of the trapezoidal rule (foot point inside the disc).
N_ANGLES = 128
#: Gauss–Legendre points across the disc (foot point outside the disc).
N_CHORD = 48
#: Gauss–Legendre points per part of a line segment (above / below a contact).
N_LINE = 4


@dataclass(frozen=True, eq=False)
class LateralSources:
    """Point sources relative to contacts, grouped per (contact, segment) pair.

    Attributes
    ----------
    cx, cy : ndarray
        Lateral offset of each contact from each source point (µm), shape
        (n_contacts, nseg, q).
    h : ndarray
        Height of each contact above each source point (µm), same shape, with the cell
        at its reference depth.
    weight : ndarray
        Weight of each source point (its share of the segment's current), same shape;
        sums to 1 over q.
    """

    cx: np.ndarray
    cy: np.ndarray
    h: np.ndarray
    weight: np.ndarray


def point_points(contacts: np.ndarray, geometry) -> LateralSources:
    """Segments as point sources at their midpoints.

    Parameters
    ----------
    contacts : ndarray
        Contact positions, shape (n_contacts, 3) (µm).
    geometry : lfpykit.CellGeometry
        Cell geometry (µm).

    Returns
    -------
    LateralSources
        With q = 1.
    """
    mid = [midpoints(geometry, a) for a in "xyz"]
    rel = [contacts[:, i, None, None] - mid[i][None, :, None] for i in range(3)]
    return LateralSources(rel[0], rel[1], rel[2], np.ones_like(rel[2]))


def line_points(contacts: np.ndarray, geometry, points: int = N_LINE,
                root_as_point: bool = False) -> LateralSources:
    """Segments as line sources: Gauss–Legendre points on each segment.

    Each segment is split at the depth of each contact (the averaged potential has a
    kink there) and each part gets ``points`` Gauss–Legendre points.

    Parameters
    ----------
    contacts : ndarray
        Contact positions, shape (n_contacts, 3) (µm).
    geometry : lfpykit.CellGeometry
        Cell geometry (µm); segments from ``[:, 0]`` to ``[:, 1]``.
    points : int
        Points per part.
    root_as_point : bool
        The first segment (the soma) as a point source at its midpoint instead.

    Returns
    -------
    LateralSources
        With q = 2 ``points``.
    """
    start = np.stack([np.asarray(getattr(geometry, a), dtype=float)[:, 0] for a in "xyz"])
    end = np.stack([np.asarray(getattr(geometry, a), dtype=float)[:, 1] for a in "xyz"])
    dz = end[2] - start[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        split = (contacts[:, 2, None] - start[2][None, :]) / dz[None, :]
    split = np.where(np.isfinite(split), np.clip(split, 0.0, 1.0), 0.5)   # (n_el, nseg)
    u, w = np.polynomial.legendre.leggauss(points)
    u, w = 0.5 * (u + 1.0), 0.5 * w                                         # on [0, 1]
    t = np.concatenate([split[..., None] * u, split[..., None] + (1 - split[..., None]) * u],
                       axis=-1)                                           # (n_el, nseg, q)
    weight = np.concatenate([split[..., None] * w, (1 - split[..., None]) * w], axis=-1)
    rel = [contacts[:, i, None, None] - (start[i][None, :, None]
                                          + t * (end[i] - start[i])[None, :, None])
           for i in range(3)]
    if root_as_point:
        point = point_points(contacts, geometry)
        for part, at_mid in zip(rel, (point.cx, point.cy, point.h)):
            part[:, 0, :] = at_mid[:, 0, :]
        weight[:, 0, :] = 0.0
        weight[:, 0, 0] = 1.0
    return LateralSources(rel[0], rel[1], rel[2], weight)


def _angular_rule(cx: np.ndarray, cy: np.ndarray, radius: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per source point: outer and inner radii along each angle and their weights.

    Returns ``rho2, w2, rho1, w1`` of shape (P, K) with
    ``∫ (over the disc) dA / sqrt(ρ² + h²) = Σ w2 sqrt(rho2² + h²) - Σ w1 sqrt(rho1² + h²)``
    minus ``2π|h|`` where the foot point is inside.
    """
    c = np.hypot(cx, cy)
    P = c.size
    K = max(N_ANGLES, N_CHORD)
    rho2 = np.zeros((P, K))
    rho1 = np.zeros((P, K))
    w2 = np.zeros((P, K))
    w1 = np.zeros((P, K))
    inside = c <= radius
    if inside.any():
        theta = 2.0 * np.pi * np.arange(N_ANGLES) / N_ANGLES
        ux, uy = np.cos(theta), np.sin(theta)
        cu = cx[inside, None] * ux + cy[inside, None] * uy                # c . u
        disc = np.maximum(cu * cu - c[inside, None] ** 2 + radius ** 2, 0.0)
        rho2[inside, :N_ANGLES] = -cu + np.sqrt(disc)
        w2[inside, :N_ANGLES] = 2.0 * np.pi / N_ANGLES
    outside = ~inside
    if outside.any():
        v, gw = np.polynomial.legendre.leggauss(N_CHORD)
        phi = 0.5 * np.pi * v                                              # (-π/2, π/2)
        ratio = radius / c[outside, None]
        sin_psi = ratio * np.sin(phi)
        cos_psi = np.sqrt(1.0 - sin_psi * sin_psi)
        half = radius * np.cos(phi)                                         # half chord
        mid = c[outside, None] * cos_psi
        jac = 0.5 * np.pi * gw * ratio * np.cos(phi) / cos_psi              # dψ per dv
        rho2[outside, :N_CHORD] = mid + half
        rho1[outside, :N_CHORD] = mid - half
        w2[outside, :N_CHORD] = jac
        w1[outside, :N_CHORD] = jac
    return rho2, w2, rho1, w1


def disc_average(sources: LateralSources, radius: float, sigma_e: float
                 ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, float]:
    """Disc-averaged point-source potentials as smooth part plus kink in depth.

    Parameters
    ----------
    sources : LateralSources
        The source points relative to the contacts.
    radius : float
        Radius of the population disc (µm), > 0.
    sigma_e : float
        Extracellular conductivity (S/m), > 0.

    Returns
    -------
    smooth : callable
        ``smooth(dz)`` for depth offsets of the cell ``dz`` (µm, shape (n,)) -> the
        smooth part, shape (n, n_contacts, nseg) (mV/nA).
    coef : ndarray
        Kink coefficients, shape (n_contacts, nseg, q): the averaged matrix is
        ``smooth(dz) + Σ_q coef |h - dz|`` (mV/nA/µm), zero where the foot point is
        outside the disc.
    reach : float
        Distance (µm) of the nearest singularity of ``smooth`` from the real dz axis:
        the smallest distance of a foot point from the rim.
    """
    shape = sources.h.shape
    cx, cy, h0 = sources.cx.ravel(), sources.cy.ravel(), sources.h.ravel()
    weight = sources.weight.ravel()
    scale = 1.0 / (4.0 * math.pi * sigma_e * math.pi * radius ** 2)
    rho2, w2, rho1, w1 = _angular_rule(cx, cy, radius)
    keep2 = w2.any(axis=0)
    keep1 = w1.any(axis=0)
    rho2, w2 = rho2[:, keep2] ** 2, w2[:, keep2] * (weight * scale)[:, None]
    rho1, w1 = rho1[:, keep1] ** 2, w1[:, keep1] * (weight * scale)[:, None]
    c = np.hypot(cx, cy)
    inside = c <= radius
    coef = np.where(inside, -2.0 * math.pi * scale * weight, 0.0).reshape(shape)
    reach = float(np.abs(radius - c).min()) if c.size else math.inf
    n_el, nseg, q = shape

    def smooth(dz: np.ndarray) -> np.ndarray:
        dz = np.atleast_1d(np.asarray(dz, dtype=float))
        out = np.empty((dz.size, h0.size))
        step = max(1, CHUNK_ELEMENTS // max(1, h0.size * max(rho2.shape[1], 1)))
        for start in range(0, dz.size, step):
            h2 = (h0[None, :] - dz[start:start + step, None]) ** 2               # (n, P)
            val = np.einsum("npk,pk->np", np.sqrt(rho2[None] + h2[..., None]), w2)
            if rho1.shape[1]:
                val -= np.einsum("npk,pk->np", np.sqrt(rho1[None] + h2[..., None]), w1)
            out[start:start + step] = val
        return out.reshape(dz.size, n_el, nseg, q).sum(axis=-1)

    return smooth, coef, reach

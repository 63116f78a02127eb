"""A probe's transformation matrix for one population: averaging over cell positions.

:func:`probe_matrix` evaluates a probe for a population's cell geometry.  Contact-based
models (the kinds with ``averaged``: point/line sources, ``RecExtElectrode``) see the
population, not one cell: their matrix is averaged over cell positions drawn by
:func:`draw_offsets`, with lfpykit's elementwise formulas for all positions at once
where the kind gives one (:func:`average_contacts_vectorised`), else by moving the cell
one position at a time (:func:`~xkernels.probes.depth_terms.moved_sum`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lfpykit
import numpy as np
from lfpykit import lfpcalc

from xkernels.checks import check_int, check_mapping, check_real, fail
from xkernels.probes.depth import DepthRule, depth_rule
from xkernels.probes.depth_terms import matrix_of, moved_sum
from xkernels.probes.models import CHUNK_ELEMENTS
from xkernels.probes.registry import ProbeKind, kind_of

__all__ = ["average_contacts_vectorised", "check_geometry",
           "check_probe_depth", "draw_offsets", "probe_depth_rule", "probe_matrix"]

# lfpykit's formulas elementwise in (segment, contact), by the kinds' source model
_ELEMENTWISE = {"pointsource": lfpcalc.calc_lfp_pointsource,
                "linesource": lfpcalc.calc_lfp_linesource}


def _check_population(population: Any) -> dict[str, float]:
    check_mapping("population", population,
                  expected="a dict with keys 'radius', 'loc', 'scale' (µm)")
    out = {}
    for key in ("radius", "loc", "scale"):
        if key not in population:
            raise ValueError(f"population is missing {key!r}; need 'radius', 'loc', "
                             f"'scale' (µm), got keys {sorted(population)}")
        out[key] = check_real(f"population[{key!r}]", population[key],
                              nonnegative=key != "loc")
    return out


def _evaluated(probe: lfpykit.LinearModel) -> tuple[lfpykit.LinearModel, ProbeKind]:
    """The model evaluated for ``probe`` (:meth:`ProbeKind.evaluated_as`) and its kind."""
    model = kind_of(probe).evaluated_as(probe)
    return model, kind_of(model)


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
        ``radius`` (>= 0), ``loc``, ``scale`` (>= 0), µm.
    n_positions : int
        Number of positions, >= 1.
    seed : int, numpy.random.Generator or None
        Seed of the ``numpy.random.default_rng`` generator (deterministic for
        an int).

    Returns
    -------
    ndarray
        Shape (n_positions, 3) offsets (µm).

    Raises
    ------
    TypeError
        If ``population`` is not a dict or a value is not a real number, or
        ``n_positions`` not an integer.
    ValueError
        If a key is missing or a value is out of range.

    Examples
    --------
    >>> draw_offsets({"radius": 150.0, "loc": 0.0, "scale": 75.0}, 5, seed=1).shape
    (5, 3)
    """
    pop = _check_population(population)
    n = check_int("n_positions", n_positions, minimum=1)
    rng = np.random.default_rng(seed)
    radius = pop["radius"] * np.sqrt(rng.random(n))
    angle = 2.0 * np.pi * rng.random(n)
    dz = rng.normal(0.0, pop["scale"], size=n) if pop["scale"] > 0 else np.zeros(n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle), dz])


def average_contacts_vectorised(method: Callable[..., np.ndarray], probe: Any, geometry: Any,
                                offsets: np.ndarray) -> np.ndarray:
    """Mean matrix of a contact-based probe with its contacts moved by each offset.

    Parameters
    ----------
    method : callable
        lfpcalc function elementwise in (segment, contact), e.g.
        ``lfpykit.lfpcalc.calc_lfp_pointsource``.
    probe : lfpykit.LinearModel
        Contacts ``probe.x/y/z`` (µm) and conductivity ``probe.sigma`` (S/m).
    geometry : lfpykit.CellGeometry
        Cell geometry (µm); ``r_limit`` is half the segment diameter.
    offsets : ndarray
        Shape (n_positions, 3) contact displacements (µm).

    Returns
    -------
    ndarray
        Shape (n_contacts, nseg), mV/nA.
    """
    ex, ey, ez = (np.asarray(v, dtype=float).ravel() for v in (probe.x, probe.y, probe.z))
    n_el, nseg = ex.size, geometry.totnsegs
    d = np.asarray(geometry.d, dtype=float)
    r_limit = (d.mean(axis=-1) if d.ndim == 2 else d) / 2
    total = np.zeros((n_el, nseg))
    step = max(1, CHUNK_ELEMENTS // (4 * n_el * nseg))
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


def check_geometry(geometry: Any) -> int:
    """Number of segments of a CellGeometry-like object (x, y, z, d; z of shape
    (nseg, 2)).

    Raises
    ------
    TypeError
        If an attribute is missing.
    ValueError
        If ``geometry.z`` does not have shape (nseg, 2) with nseg >= 1.
    """
    for attr in ("x", "y", "z", "d"):
        if not hasattr(geometry, attr):
            raise TypeError(f"geometry must be an lfpykit.CellGeometry-like object with "
                            f"x, y, z, d (µm); {type(geometry).__name__} has no {attr!r}")
    shape = np.shape(geometry.z)
    if len(shape) != 2 or shape[1] != 2 or shape[0] == 0:
        fail("geometry.z.shape", shape, "(nseg, 2) with nseg >= 1")
    return shape[0]


def probe_matrix(probe: lfpykit.LinearModel, geometry: Any, population: Any, *,
                 n_positions: int = 2000, seed: int | None = 1234) -> np.ndarray:
    """Transformation matrix of ``probe`` for one population's cell geometry.

    Evaluates ``probe.get_transformation_matrix()`` for ``probe.cell = geometry`` (on a
    copy: ``probe`` itself is never changed), except where the probe's kind (see
    :mod:`xkernels.probes.registry`) says otherwise:

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
    * a kind may evaluate an equivalent model instead (``xkernels.compat``
      evaluates ``lfpykernels.GaussCylinderPotential`` with the fast
      :class:`~xkernels.probes.GaussCylinderPotential` of identical parameters:
      same matrix to ~1e-10 relative, no per-entry quadrature).
    * MEG-like matrices of shape (n_sensors, 3, nseg) are reshaped to
      (n_sensors * 3, nseg), sensor-major.

    Parameters
    ----------
    probe : lfpykit.LinearModel
        Forward model; its ``cell`` is not used.
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

    Examples
    --------
    A vertical stick of two 100 µm segments.  The z dipole moment per nA of membrane
    current is the segments' midpoint depth (nA µm per nA):

    >>> from xkernels.probes import CurrentDipoleMomentZ
    >>> stick = lfpykit.CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
    ...                              z=np.array([[0.0, 100.0], [100.0, 200.0]]),
    ...                              d=np.ones(2))
    >>> probe_matrix(CurrentDipoleMomentZ(), stick, None)
    array([[ 50., 150.]])

    A point contact 300 µm above the origin (σ = 0.3 S/m) sees one cell at the origin,
    or the mean over the cell positions of a population (mV per nA):

    >>> contact = lfpykit.PointSourcePotential(cell=None, x=np.array([0.0]),
    ...                                        y=np.array([0.0]), z=np.array([300.0]),
    ...                                        sigma=0.3)
    >>> one = probe_matrix(contact, stick, {"radius": 0.0, "loc": 0.0, "scale": 0.0},
    ...                    n_positions=1)
    >>> mean = probe_matrix(contact, stick, {"radius": 150.0, "loc": 0.0, "scale": 75.0})
    >>> np.round(one * 1e3, 3), np.round(mean * 1e3, 3)         # µV per nA
    (array([[1.061, 1.768]]), array([[1.042, 1.591]]))
    """
    model, kind = _evaluated(probe)
    nseg = check_geometry(geometry)
    if kind.averaged:
        offsets = draw_offsets(population, n_positions, seed)
        if kind.lateral_only:
            offsets[:, 2] = 0.0
        method = _ELEMENTWISE.get(kind.source_model(model))
        if method is not None:
            M = average_contacts_vectorised(method, model, geometry, offsets)
        else:  # moving every contact by +offset == moving the cell by -offset
            M = moved_sum(model, geometry, -offsets) / len(offsets)
    else:
        M = matrix_of(model, geometry)
    if M.ndim != 2 or M.shape[1] != nseg:
        raise ValueError(f"{type(model).__name__} returned a matrix of shape {M.shape}; "
                         f"expected (n_channels, {nseg})")
    return M


def check_probe_depth(probe: lfpykit.LinearModel, population: Any, field: str = "probe",
                      population_field: str = "population") -> None:
    """Raise if ``probe`` cannot be integrated over the soma depths of ``population``
    (``averaging="depth"``), before anything is computed.

    Parameters
    ----------
    probe : lfpykit.LinearModel
        The probe.
    population : dict
        ``radius``, ``loc``, ``scale`` (µm).
    field, population_field : str
        Names of the probe and the population in messages, e.g. ``"probes['lfp']"``.

    Raises
    ------
    ValueError
        A conflict named by the probe's kind, e.g. a GaussCylinderPotential whose
        ``sigma_z`` is below the population's ``scale``, or a contact probe with a
        population ``radius`` of 0.

    Examples
    --------
    A Gaussian cylinder that smooths less in depth than the population spreads:

    >>> import numpy as np, xkernels
    >>> from xkernels.probes import check_probe_depth
    >>> lfp = xkernels.GaussCylinderPotential(cell=None, z=np.array([0.0]), sigma=0.3,
    ...                                       R=150.0, sigma_z=20.0)
    >>> pop = {"radius": 150.0, "loc": 0.0, "scale": 50.0}
    >>> check_probe_depth(lfp, pop, "probes['lfp']", "populations['E']")
    Traceback (most recent call last):
    ...
    ValueError: probes['lfp'].sigma_z = 20.0 µm is smaller than populations['E'].scale ...
    >>> check_probe_depth(xkernels.CurrentDipoleMomentZ(cell=None), pop)  # no conflict
    """
    model, kind = _evaluated(probe)
    kind.check_depth(model, _check_population(population), field, population_field)


def probe_depth_rule(probe: lfpykit.LinearModel, geometry: Any, population: Any,
                     n_nodes: int) -> DepthRule:
    """A probe's depth-averaging rule for one population's cell (``averaging="depth"``).

    The cell's soma depth is ``loc + s``, ``s ~ N(0, scale²)``; the kernel is
    ``Σ_n Q_n I(s_n)`` with ``I(s_n)`` the membrane currents of the cell at the
    Gauss–Hermite node ``s_n`` and ``Q_n`` the probe integrated (laterally averaged over
    the population disc, exactly against the interpolating polynomial in depth) by
    :func:`xkernels.probes.depth.depth_rule`.  How each probe is averaged is its kind's
    rule (:meth:`~xkernels.probes.registry.ProbeKind.depth_terms`).

    Parameters
    ----------
    probe : lfpykit.LinearModel
        Forward model; its ``cell`` is not used.
    geometry : lfpykit.CellGeometry
        The cell placed at the population's depth ``loc`` (µm).
    population : dict
        ``radius``, ``loc``, ``scale`` (µm).
    n_nodes : int
        Depth nodes, >= 1 (one node when ``scale`` is 0).

    Returns
    -------
    DepthRule
        Offsets ``s_n`` (µm), weights and ``matrices`` of shape (N, n_channels, nseg).

    Examples
    --------
    A three-segment vertical stick (0 to 300 µm) in a population spread 50 µm in
    depth: five Gauss–Hermite nodes, and for the z-only current dipole moment (µm per
    nA of each segment) the node matrices average to the segment midpoints (the
    dipole is affine in depth):

    >>> import lfpykit, numpy as np, xkernels
    >>> from xkernels.probes import probe_depth_rule
    >>> stick = lfpykit.CellGeometry(
    ...     x=np.zeros((3, 2)), y=np.zeros((3, 2)), d=np.full(3, 2.0),
    ...     z=np.array([[0.0, 100.0], [100.0, 200.0], [200.0, 300.0]]))
    >>> pop = {"radius": 150.0, "loc": 0.0, "scale": 50.0}
    >>> rule = probe_depth_rule(xkernels.CurrentDipoleMomentZ(cell=None), stick, pop, 5)
    >>> rule.offsets.round(2)
    array([-142.85,  -67.78,    0.  ,   67.78,  142.85])
    >>> rule.matrices.shape
    (5, 1, 3)
    >>> rule.matrices.sum(axis=0).round(6)
    array([[ 50., 150., 250.]])
    """
    pop = _check_population(population)
    n = check_int("depth_nodes", n_nodes, minimum=1)
    check_geometry(geometry)
    model, kind = _evaluated(probe)
    kind.check_depth(model, pop)
    return depth_rule(kind.depth_terms(model, geometry, pop), pop["scale"], n)

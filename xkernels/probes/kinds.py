"""Probe kinds of the built-in forward models and of lfpykit's models.

One :class:`~xkernels.probes.registry.ProbeKind` per probe class (see the registry for
the rules); lfpykit classes without a kind here (``OneSphereVolumeConductor``, the
current source densities, user subclasses of ``LinearModel``) get the generic one.
LFPykernels' classes are registered by :mod:`xkernels.compat`.
"""

from __future__ import annotations

from typing import Any

import lfpykit
import numpy as np
from lfpykit import lfpcalc

from xkernels.contract import channel_coords
from xkernels.probes.depth import DepthTerms
from xkernels.probes.depth_terms import contact_terms, gauss_cylinder_terms, residual_sigma_z
from xkernels.probes.models import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
)
from xkernels.probes.registry import (
    ContactMethod,
    ProbeKind,
    UndescribedProbe,
    json_floats,
    numbered,
    register,
)

__all__ = ["ContactKind", "CurrentDipoleMomentKind", "CurrentDipoleMomentZKind", "EEGKind",
           "GaussCylinderKind", "LineSourceKind", "MEGKind", "PointSourceKind",
           "RecExtElectrodeKind", "RecMEAElectrodeKind"]

register(lfpykit.LinearModel)(ProbeKind)   # the generic fallback


@register(GaussCylinderPotential)
class GaussCylinderKind(ProbeKind):
    """LFP on the population axis: one channel per contact depth, mV."""

    name = "lfp"
    units = "mV"
    serialised_as = GaussCylinderPotential
    describes_subclasses = True
    array_params = ("z",)

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        z = np.asarray(probe.z, dtype=float)
        return channel_coords(name, numbered(name, z.size), self.units, z=z)

    def params(self, probe: Any) -> dict[str, Any]:
        return {"z": json_floats(probe.z), "sigma": float(probe.sigma),
                "R": float(probe.R), "sigma_z": float(probe.sigma_z)}

    def check_depth(self, probe: Any, population: Any, field: str = "probe",
                    population_field: str = "population") -> None:
        residual_sigma_z(float(probe.sigma_z), float(population["scale"]), field,
                         population_field)

    def depth_terms(self, probe: Any, geometry: Any, population: Any) -> DepthTerms:
        """Disc of radius ``R``; of ``sigma_z`` only the part beyond the population's
        depth spread is kept (:func:`~xkernels.probes.depth_terms.residual_sigma_z`)."""
        return gauss_cylinder_terms(probe, geometry, population)


@register(lfpykit.CurrentDipoleMoment)
class CurrentDipoleMomentKind(ProbeKind):
    """Current dipole moment: channels ``name:x|y|z``, nA µm."""

    depth_affine = True

    name = "cdm"
    units = "nA µm"
    serialised_as = lfpykit.CurrentDipoleMoment

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        return channel_coords(name, [f"{name}:{c}" for c in "xyz"], self.units)


@register(CurrentDipoleMomentZ)
class CurrentDipoleMomentZKind(CurrentDipoleMomentKind):
    """z-only current dipole moment: one channel ``name:z`` (``name:x|y|z`` with
    ``components="xyz"``, the reference's layout, which probes without a
    ``components`` attribute -- LFPykernels' own class -- have).  Subclasses are
    described as :class:`~xkernels.probes.CurrentDipoleMomentZ` too."""

    serialised_as = CurrentDipoleMomentZ
    describes_subclasses = True

    @staticmethod
    def components(probe: Any) -> str:
        """``"z"`` or ``"xyz"``: the rows of the probe's matrix."""
        return getattr(probe, "components", "xyz")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        return channel_coords(name, [f"{name}:{c}" for c in self.components(probe)],
                              self.units)

    def params(self, probe: Any) -> dict[str, Any]:
        return {"components": self.components(probe)}


@register(EEGProbe)
class EEGKind(ProbeKind):
    """EEG: one channel per electrode at its position, mV."""

    depth_affine = True

    name = "eeg"
    units = "mV"
    serialised_as = EEGProbe
    array_params = ("r_electrodes", "dipole_location")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        r = probe.r_electrodes
        return channel_coords(name, numbered(name, len(r)), self.units,
                              r[:, 0], r[:, 1], r[:, 2])

    def params(self, probe: Any) -> dict[str, Any]:
        return {"r_electrodes": json_floats(probe.r_electrodes),
                "radii": json_floats(probe.radii), "sigmas": json_floats(probe.sigmas),
                "dipole_location": json_floats(probe.dipole_location)}


@register(MEGProbe)
class MEGKind(ProbeKind):
    """MEG: channels ``name:i:x|y|z`` (sensor-major) at the sensor positions, nA/µm."""

    depth_affine = True

    name = "meg"
    units = "nA/µm"
    serialised_as = MEGProbe
    array_params = ("sensor_locations", "dipole_location")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        sensors = probe.sensor_locations
        r = np.repeat(sensors, 3, axis=0)
        labels = [f"{name}:{i}:{c}" for i in range(len(sensors)) for c in "xyz"]
        return channel_coords(name, labels, self.units, r[:, 0], r[:, 1], r[:, 2])

    def params(self, probe: Any) -> dict[str, Any]:
        return {"sensor_locations": json_floats(probe.sensor_locations),
                "dipole_location": json_floats(probe.dipole_location),
                "conductor": probe.conductor}


class ContactKind(ProbeKind):
    """Contact-based potential (contacts at ``probe.x/y/z``, mV), averaged over the
    cell positions of the population."""

    units = "mV"
    averaged = True
    array_params = ("x", "y", "z")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        x, y, z = (np.asarray(v, dtype=float).ravel() for v in (probe.x, probe.y, probe.z))
        return channel_coords(name, numbered(name, x.size), self.units, x, y, z)

    def params(self, probe: Any) -> dict[str, Any]:
        return {"x": json_floats(probe.x), "y": json_floats(probe.y),
                "z": json_floats(probe.z), "sigma": float(probe.sigma)}

    #: source model of the closed-form disc average: "pointsource", "linesource",
    #: "root_as_point", or None (fixed lateral quadrature)
    def depth_method(self, probe: Any) -> str | None:
        return None

    def depth_terms(self, probe: Any, geometry: Any, population: Any) -> DepthTerms:
        """Disc average in closed form (analytic in radius, quadrature in angle) for
        isotropic point/line sources, else the fixed lateral quadrature."""
        method = self.depth_method(probe)
        if method is None:
            return super().depth_terms(probe, geometry, population)
        contacts = np.column_stack([np.asarray(v, dtype=float).ravel()
                                    for v in (probe.x, probe.y, probe.z)])
        return contact_terms(contacts, float(probe.sigma), geometry, population,
                             line=method != "pointsource",
                             root_as_point=method == "root_as_point")


@register(lfpykit.PointSourcePotential)
class PointSourceKind(ContactKind):
    serialised_as = lfpykit.PointSourcePotential

    def vectorised_method(self, probe: Any) -> ContactMethod | None:
        return lfpcalc.calc_lfp_pointsource

    def depth_method(self, probe: Any) -> str | None:
        return "pointsource"


@register(lfpykit.LineSourcePotential)
class LineSourceKind(ContactKind):
    serialised_as = lfpykit.LineSourcePotential

    def vectorised_method(self, probe: Any) -> ContactMethod | None:
        return lfpcalc.calc_lfp_linesource

    def depth_method(self, probe: Any) -> str | None:
        return "linesource"


@register(lfpykit.RecExtElectrode)
class RecExtElectrodeKind(ContactKind):
    """``RecExtElectrode``: vectorised for isotropic point/line sources with point
    contacts; other variants (anisotropic, extended contacts, ``root_as_point``, extra
    keyword arguments) move the cell one position at a time."""

    serialised_as = lfpykit.RecExtElectrode
    array_params = ("x", "y", "z", "N")

    def params(self, probe: Any) -> dict[str, Any]:
        if probe.kwargs:
            raise UndescribedProbe(f"probe_definition cannot describe RecExtElectrode with extra "
                            f"keyword arguments {sorted(probe.kwargs)}")
        sigma = probe.sigma
        return {"x": json_floats(probe.x), "y": json_floats(probe.y),
                "z": json_floats(probe.z),
                "sigma": json_floats(sigma) if np.ndim(sigma) else float(sigma),
                "N": json_floats(probe.N), "r": json_floats(probe.r), "n": probe.n,
                "contact_shape": probe.contact_shape, "method": probe.method,
                "seedvalue": probe.seedvalue}

    def build(self, params: Any) -> lfpykit.LinearModel:
        params = dict(params)
        if isinstance(params.get("sigma"), list):
            params["sigma"] = np.asarray(params["sigma"], dtype=float)
        return super().build(params)

    def vectorised_method(self, probe: Any) -> ContactMethod | None:
        extended = probe.n is not None and probe.N is not None and probe.r is not None
        if probe.anisotropic or extended or probe.kwargs:
            return None
        return {"pointsource": lfpcalc.calc_lfp_pointsource,
                "linesource": lfpcalc.calc_lfp_linesource}.get(probe.method)

    def depth_method(self, probe: Any) -> str | None:
        extended = probe.n is not None and probe.N is not None and probe.r is not None
        if probe.anisotropic or extended or probe.kwargs:
            return None
        return probe.method if probe.method in ("pointsource", "linesource",
                                                "root_as_point") else None


@register(lfpykit.RecMEAElectrode)
class RecMEAElectrodeKind(ContactKind):
    """Slice MEA: averaged over lateral offsets only (the slice layers are fixed in z),
    moving the cell; no definition."""

    lateral_only = True

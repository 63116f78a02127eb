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

from xkernels.contract import channel_coords
from xkernels.probes.depth import DepthTerms
from xkernels.probes.depth_terms import gauss_cylinder_terms, residual_sigma_z
from xkernels.probes.models import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
)
from xkernels.probes.registry import ProbeKind, UndescribedProbe, numbered, register

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
    float_params = ("z", "sigma", "R", "sigma_z")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        z = np.asarray(probe.z, dtype=float)
        return channel_coords(name, numbered(name, z.size), self.units, z=z)

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
    """Current dipole moment: channels ``name:x|y|z``, nA µm (only ``name:z`` for a
    probe whose ``components`` attribute is ``"z"``)."""

    depth_affine = True

    name = "cdm"
    units = "nA µm"
    serialised_as = lfpykit.CurrentDipoleMoment

    @staticmethod
    def components(probe: Any) -> str:
        """``"z"`` or ``"xyz"``: the rows of the probe's matrix."""
        return getattr(probe, "components", "xyz")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        return channel_coords(name, [f"{name}:{c}" for c in self.components(probe)],
                              self.units)


@register(CurrentDipoleMomentZ)
class CurrentDipoleMomentZKind(CurrentDipoleMomentKind):
    """z-only current dipole moment: one channel ``name:z`` (``name:x|y|z`` with
    ``components="xyz"``, the reference's layout, which probes without a
    ``components`` attribute -- LFPykernels' own class -- have).  Subclasses are
    described as :class:`~xkernels.probes.CurrentDipoleMomentZ` too."""

    serialised_as = CurrentDipoleMomentZ
    describes_subclasses = True

    def params(self, probe: Any) -> dict[str, Any]:
        return {"components": self.components(probe)}


@register(EEGProbe)
class EEGKind(ProbeKind):
    """EEG: one channel per electrode at its position, mV."""

    depth_affine = True

    name = "eeg"
    units = "mV"
    serialised_as = EEGProbe
    float_params = ("r_electrodes", "radii", "sigmas", "dipole_location")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        r = probe.r_electrodes
        return channel_coords(name, numbered(name, len(r)), self.units,
                              r[:, 0], r[:, 1], r[:, 2])


@register(MEGProbe)
class MEGKind(ProbeKind):
    """MEG: channels ``name:i:x|y|z`` (sensor-major) at the sensor positions, nA/µm."""

    depth_affine = True

    name = "meg"
    units = "nA/µm"
    serialised_as = MEGProbe
    float_params = ("sensor_locations", "dipole_location")
    plain_params = ("conductor",)

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        sensors = probe.sensor_locations
        r = np.repeat(sensors, 3, axis=0)
        labels = [f"{name}:{i}:{c}" for i in range(len(sensors)) for c in "xyz"]
        return channel_coords(name, labels, self.units, r[:, 0], r[:, 1], r[:, 2])


class ContactKind(ProbeKind):
    """Contact-based potential (contacts at ``probe.x/y/z``, mV), averaged over the
    cell positions of the population."""

    units = "mV"
    averaged = True
    float_params = ("x", "y", "z", "sigma")
    #: the :meth:`~ProbeKind.source_model` of every probe of the kind
    source: str | None = None

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        x, y, z = (np.asarray(v, dtype=float).ravel() for v in (probe.x, probe.y, probe.z))
        return channel_coords(name, numbered(name, x.size), self.units, x, y, z)

    def source_model(self, probe: Any) -> str | None:
        return self.source


@register(lfpykit.PointSourcePotential)
class PointSourceKind(ContactKind):
    serialised_as = lfpykit.PointSourcePotential
    source = "pointsource"


@register(lfpykit.LineSourcePotential)
class LineSourceKind(ContactKind):
    serialised_as = lfpykit.LineSourcePotential
    source = "linesource"


@register(lfpykit.RecExtElectrode)
class RecExtElectrodeKind(ContactKind):
    """``RecExtElectrode``: isotropic point/line sources (and, in depth averaging,
    ``root_as_point``) with point contacts have closed forms; other variants
    (anisotropic, extended contacts, extra keyword arguments) move the cell one
    position at a time."""

    serialised_as = lfpykit.RecExtElectrode
    float_params = ("x", "y", "z", "sigma", "N", "r")
    plain_params = ("n", "contact_shape", "method", "seedvalue")

    def params(self, probe: Any) -> dict[str, Any]:
        if probe.kwargs:
            raise UndescribedProbe(f"probe_definition cannot describe RecExtElectrode with extra "
                            f"keyword arguments {sorted(probe.kwargs)}")
        return super().params(probe)

    def source_model(self, probe: Any) -> str | None:
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

"""The probe kinds of LFPykernels' own probe classes, recognised without importing it.

``lfpykernels`` is a test-only dependency: its classes are matched by module and class
name (:func:`~xkernels.probes.registry.register_matching`).
``lfpykernels.GaussCylinderPotential`` is evaluated with the fast
:class:`~xkernels.probes.GaussCylinderPotential` of the same parameters and described as
it; ``lfpykernels.KernelApproxCurrentDipoleMoment`` as
:class:`~xkernels.probes.CurrentDipoleMomentZ`.  Imported by ``xkernels.probes``, so
these probes can be passed to :func:`xkernels.compute_kernels` directly.
"""

from __future__ import annotations

from typing import Any

from xkernels.probes.models import GaussCylinderPotential
from xkernels.probes.registry import (
    CurrentDipoleMomentZKind,
    GaussCylinderKind,
    ProbeKind,
    register_matching,
)

__all__ = ["ReferenceGaussCylinderKind"]


def _register_lfpykernels(name: str, kind: ProbeKind) -> None:
    """Register probe ``kind`` for the class ``name`` of the lfpykernels package
    (recognised by module and class name: lfpykernels is not imported)."""

    def predicate(cls: type) -> bool:
        return cls.__name__ == name and cls.__module__.split(".")[0] == "lfpykernels"

    register_matching(f"lfpykernels.{name}", predicate, kind)


class ReferenceGaussCylinderKind(GaussCylinderKind):
    """``lfpykernels.GaussCylinderPotential``: same parameters, channels and definition
    as :class:`~xkernels.probes.GaussCylinderPotential`, whose matrix it is evaluated
    with (the same to ~1e-10 relative, without one quadrature per entry).

    Examples
    --------
    >>> import numpy as np
    >>> import lfpykernels
    >>> from xkernels.probes import kind_of
    >>> ref = lfpykernels.GaussCylinderPotential(None, z=np.zeros(1), sigma=0.3, R=50.0,
    ...                                          sigma_z=20.0)
    >>> type(kind_of(ref).evaluated_as(ref)).__module__
    'xkernels.probes.models'
    """

    def evaluated_as(self, probe: Any) -> GaussCylinderPotential:
        return GaussCylinderPotential(z=probe.z, sigma=probe.sigma, R=probe.R,
                                      sigma_z=probe.sigma_z)


_register_lfpykernels("GaussCylinderPotential", ReferenceGaussCylinderKind())
_register_lfpykernels("KernelApproxCurrentDipoleMoment", CurrentDipoleMomentZKind())

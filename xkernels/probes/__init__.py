"""Forward models (one class each), population averaging of their matrices, and the
channel metadata of each probe kind."""

from xkernels.probes.models import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
    draw_offsets,
    gauss_cylinder_mean,
    normalize_probes,
    probe_channels,
    probe_definition,
    probe_from_definition,
    probe_matrix,
)

__all__ = ["CurrentDipoleMomentZ", "EEGProbe", "GaussCylinderPotential", "MEGProbe",
           "draw_offsets", "gauss_cylinder_mean", "normalize_probes", "probe_channels",
           "probe_definition", "probe_from_definition", "probe_matrix"]

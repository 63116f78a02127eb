"""Forward models and everything xkernels knows about them.

``models``
    The forward models, one class each (LFP, laminar CSD, z-only CDM, EEG, MEG).
``lead_field``
    EEG/MEG from any head model's lead field (an array, the New York head, MNE).
``registry``
    One adapter (:class:`ProbeKind`) per probe class: name, channels, definition,
    averaging; the place where a new probe class is declared (:func:`register`); the
    kinds of the models above and of lfpykit's models; names, channel coordinates and
    JSON definitions of probes.
``averaging``
    A probe's matrix for one population (:func:`probe_matrix`, :func:`draw_offsets`),
    and its depth-averaging rule (:func:`probe_depth_rule`).
``depth``, ``depth_terms``, ``lateral``
    Depth averaging: Gauss–Hermite product integration, each kind's matrix as a
    function of depth, disc averages of point and line sources.
``lfpykernels_kinds``
    The kinds of LFPykernels' own probe classes (registered on import of this package).
"""

from xkernels.probes import lfpykernels_kinds as _lfpykernels_kinds  # noqa: F401 (registers)
from xkernels.probes.lead_field import (
    LEAD_FIELD_UNITS,
    LeadFieldProbe,
    lead_field_from_mne,
    lead_field_from_nyhead,
)
from xkernels.probes.models import (
    CSDProbe,
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
    gauss_cylinder_mean,
)
from xkernels.probes.population_average import (
    check_probe_depth,
    draw_offsets,
    probe_depth_rule,
    probe_matrix,
)
from xkernels.probes.registry import (
    ProbeKind,
    UndescribedProbe,
    default_probe_name,
    kind_of,
    normalize_probes,
    probe_channels,
    probe_definition,
    probe_definitions,
    probe_from_definition,
    register,
    register_matching,
)

__all__ = ["CSDProbe", "LEAD_FIELD_UNITS", "CurrentDipoleMomentZ", "EEGProbe",
           "GaussCylinderPotential", "LeadFieldProbe", "MEGProbe", "lead_field_from_mne",
           "lead_field_from_nyhead",
           "ProbeKind", "UndescribedProbe", "check_probe_depth", "default_probe_name",
           "draw_offsets", "gauss_cylinder_mean", "kind_of", "normalize_probes",
           "probe_channels", "probe_definition", "probe_definitions", "probe_depth_rule",
           "probe_from_definition", "probe_matrix", "register", "register_matching"]

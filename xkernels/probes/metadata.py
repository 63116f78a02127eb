"""Probes as data: names, channel coordinates and JSON definitions.

Thin functions over the probe registry (:mod:`xkernels.probes.registry`): every answer
comes from the probe's kind, so none of them changes when a probe class is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lfpykit
import numpy as np

from xkernels.checks import fail
from xkernels.probes.registry import (
    UndescribedProbe,
    class_path,
    describing_kind,
    kind_for_path,
    kind_of,
    matching_labels,
    serialised_paths,
)

__all__ = ["check_probe_name", "default_probe_name", "normalize_probes", "probe_channels",
           "probe_definition", "probe_definitions", "probe_from_definition"]


def check_probe_name(name: Any) -> str:
    """``name`` if it is a valid probe name: a non-empty str without ``':'``.

    Raises
    ------
    TypeError
        If ``name`` is not a str.
    ValueError
        If it is empty or contains ``':'`` (the channel label separator).
    """
    allowed = "a non-empty str without ':'"
    if not isinstance(name, str):
        fail("probe name", name, allowed, TypeError)
    if not name or ":" in name:
        fail("probe name", name, allowed)
    return name


def probe_channels(name: str, probe: lfpykit.LinearModel) -> dict[str, tuple[str, np.ndarray]]:
    """``probe_channel`` coordinates of one probe (see ``contract.channel_coords``).

    Parameters
    ----------
    name : str
        Probe name, e.g. ``"lfp"``.
    probe : lfpykit.LinearModel
        Any lfpykit model; classes without a kind of their own need known units
        (``probe.units``, or :data:`~xkernels.probes.registry.GENERIC_UNITS`).

    Returns
    -------
    dict
        Coordinate name -> ("probe_channel", values): labels ``f"{name}:{i}"``
        (``f"{name}:x|y|z"`` for dipole moments, ``f"{name}:{i}:x|y|z"`` for
        MEG), units and contact positions x, y, z (µm; NaN where meaningless).

    Examples
    --------
    >>> from xkernels.probes import GaussCylinderPotential
    >>> list(probe_channels("lfp", GaussCylinderPotential(z=[0.0, 100.0])))
    ['probe_channel', 'probe', 'units', 'x', 'y', 'z']
    """
    check_probe_name(name)
    return kind_of(probe).channels(name, probe)


def probe_definition(probe: lfpykit.LinearModel) -> dict[str, Any]:
    """JSON-serialisable description of a probe: class path and parameters.

    Kinds may describe a probe as an equivalent class: with :mod:`xkernels.compat`
    imported (``import xkernels`` does), ``lfpykernels.GaussCylinderPotential`` and
    ``lfpykernels.KernelApproxCurrentDipoleMoment`` are described as
    :class:`~xkernels.probes.GaussCylinderPotential` and
    :class:`~xkernels.probes.CurrentDipoleMomentZ`, which give the same matrices.

    Parameters
    ----------
    probe : lfpykit.LinearModel

    Returns
    -------
    dict
        ``{"class": "<module>.<Class>", "params": {...}}`` with lists/floats.

    Raises
    ------
    UndescribedProbe
        (a TypeError) For probes it cannot describe.

    Examples
    --------
    >>> from xkernels.probes import GaussCylinderPotential
    >>> probe_definition(GaussCylinderPotential(z=[0.0, 100.0]))["class"]
    'xkernels.probes.GaussCylinderPotential'
    """
    kind = describing_kind(probe)
    if kind is None:
        cls = type(probe)
        others = matching_labels()
        raise UndescribedProbe(f"probe_definition cannot describe {cls.__module__}."
                               f"{cls.__name__}; supported classes: {serialised_paths()}"
                               + (f" and {others}" if others else ""))
    return {"class": class_path(kind.serialised_as), "params": kind.params(probe)}


def probe_definitions(named: Mapping[str, lfpykit.LinearModel]) -> dict[str, dict[str, Any]]:
    """The definitions of named probes; ``params`` None (and ``why``) where there is none.

    Only :class:`~xkernels.probes.registry.UndescribedProbe` marks a probe as without
    definition; any other error of a kind propagates (it is a bug, not a property of
    the probe).  Stores refuse probes without definition
    (:func:`xkernels.provenance.require_described`).

    Parameters
    ----------
    named : Mapping[str, lfpykit.LinearModel]
        Probe name -> probe.

    Returns
    -------
    dict
        Probe name -> ``{"class", "params"}`` (plus ``"why"`` when ``params`` is None).

    Examples
    --------
    >>> from xkernels.probes import CurrentDipoleMomentZ
    >>> defs = probe_definitions({"cdm": CurrentDipoleMomentZ(),
    ...                           "mine": lfpykit.LinearModel(cell=None)})
    >>> defs["cdm"]["params"], defs["mine"]["params"], defs["mine"]["class"]
    ({'components': 'z'}, None, 'lfpykit.models.LinearModel')
    """
    out = {}
    for name, probe in named.items():
        try:
            out[name] = probe_definition(probe)
        except UndescribedProbe as err:
            cls = type(probe)
            out[name] = {"class": f"{cls.__module__}.{cls.__qualname__}", "params": None,
                         "why": str(err)}
    return out


def probe_from_definition(definition: Mapping[str, Any]) -> lfpykit.LinearModel:
    """Rebuild a probe from :func:`probe_definition` output (with ``cell=None``).

    Parameters
    ----------
    definition : dict
        ``{"class": ..., "params": {...}}``.

    Returns
    -------
    lfpykit.LinearModel

    Raises
    ------
    TypeError
        If ``definition`` is not a dict with a ``'class'``.
    ValueError
        If the class is not one that definitions may name.

    Examples
    --------
    >>> from xkernels.probes import GaussCylinderPotential
    >>> p = probe_from_definition(probe_definition(GaussCylinderPotential(z=[0.0, 100.0])))
    >>> type(p).__name__, p.z.tolist()
    ('GaussCylinderPotential', [0.0, 100.0])
    """
    if not isinstance(definition, Mapping) or "class" not in definition:
        fail("probe definition", definition, "a dict with keys 'class' and 'params'",
             TypeError)
    path = definition["class"]
    kind = kind_for_path(path) if isinstance(path, str) else None
    if kind is None:
        fail("probe definition 'class'", path, f"one of {serialised_paths()}")
    return kind.build(definition.get("params") or {})


def default_probe_name(probe: lfpykit.LinearModel) -> str:
    """Conventional name: ``lfp``, ``cdm``, ``eeg``, ``meg`` or the class name in lower case.

    Parameters
    ----------
    probe : lfpykit.LinearModel
        The probe.

    Returns
    -------
    str
        The name given by the probe's kind.

    Examples
    --------
    >>> from xkernels.probes import GaussCylinderPotential
    >>> default_probe_name(GaussCylinderPotential(z=[0.0]))
    'lfp'
    """
    return kind_of(probe).default_name(probe)


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

    Raises
    ------
    TypeError
        For a wrong container, a probe that is not an ``lfpykit.LinearModel`` or a
        name that is not a str.
    ValueError
        For no probes, or an empty name or one containing ``':'``.

    Examples
    --------
    >>> from xkernels.probes import CurrentDipoleMomentZ, GaussCylinderPotential
    >>> list(normalize_probes([GaussCylinderPotential(z=[0.0]), CurrentDipoleMomentZ()]))
    ['lfp', 'cdm']
    """
    if isinstance(probes, lfpykit.LinearModel):
        probes = [probes]
    if isinstance(probes, Mapping):
        keyed = list(probes.items())
    elif isinstance(probes, (list, tuple)):
        keyed = list(enumerate(probes))
    else:
        raise TypeError("probes must be a dict name -> lfpykit.LinearModel or a list of "
                        f"them, got {type(probes).__name__}")
    if not keyed:
        raise ValueError("probes must contain at least one probe, got an empty "
                         f"{type(probes).__name__}")
    named: dict[str, lfpykit.LinearModel] = {}
    for key, probe in keyed:
        if not isinstance(probe, lfpykit.LinearModel):
            raise TypeError(f"probes[{key!r}] must be an lfpykit.LinearModel, got "
                            f"{type(probe).__name__}")
        if isinstance(probes, Mapping):
            name = check_probe_name(key)
        else:
            base = name = default_probe_name(probe)
            suffix = 0
            while name in named:
                suffix += 1
                name = f"{base}_{suffix}"
        named[name] = probe
    return named

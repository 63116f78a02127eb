"""Serialisable, validated network specification.

A :class:`Network` holds populations (size, representative cell, spatial distribution,
rotation, mean rate, extrinsic input) and connections X -> Y (connection probability,
multapse and delay distributions, synapse parameters and synapse placement).  It is
validated on construction, round-trips through JSON (:meth:`Network.to_json` /
:meth:`Network.from_json`) and is what :func:`xkernels.compute_kernels` consumes.

Units: sizes in cells, probabilities dimensionless, rates in spikes/s, lengths in µm,
times in ms, conductance weights in µS (current-based weights in nA), potentials in mV,
membrane conductances in S/cm².
"""

from __future__ import annotations

import copy
import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats as st

from xkernels.spec.microcircuit import microcircuit_spec
from xkernels.validation import check_mapping, check_real, fail

CELLS_DIR = Path(__file__).parent / "cells_data"
SPEC_VERSION = 1

#: Cells shipped with xkernels, selectable by name.
CELL_PRESETS: dict[str, dict[str, str]] = {
    "ball_and_sticks_E": {
        "templatefile": "BallAndSticksTemplate.hoc",
        "templatename": "BallAndSticksTemplate",
        "morphology": "BallAndSticks_E.hoc",
    },
    "ball_and_sticks_I": {
        "templatefile": "BallAndSticksTemplate.hoc",
        "templatename": "BallAndSticksTemplate",
        "morphology": "BallAndSticks_I.hoc",
    },
}

#: Biophysics presets: name -> allowed parameters (with defaults; None = use Vrest).
#: ``active`` adds to the leak Hodgkin-Huxley Na/K channels in the soma (S/cm²) and an
#: h-current growing along the apical dendrite (S/cm² at the soma, length constant in
#: µm); reversal potentials in mV.  Sources: :mod:`xkernels.engine.biophysics`.
BIOPHYSICS_PRESETS: dict[str, dict[str, float | None]] = {
    "passive": {"g_pas": 0.0003, "e_pas": None},
    "active": {"g_pas": 0.0003, "e_pas": None, "gnabar": 0.12, "gkbar": 0.036,
               "gh": 0.0002, "gh_lambda": 323.0, "ena": 50.0, "ek": -77.0, "eh": -45.0},
}
#: Parameters of biophysics presets that must be >= 0 (conductances), > 0 (lengths).
_NONNEGATIVE_BIOPHYSICS = ("gnabar", "gkbar", "gh")
_POSITIVE_BIOPHYSICS = ("g_pas", "gh_lambda")

#: Double-exponential synapse waveforms: conductance-based ``Exp2Syn`` (linearised
#: around Vrest) and current-based ``Exp2SynI`` (for current-based networks).
SUPPORTED_SYNTYPES = ("Exp2Syn", "Exp2SynI")


# --------------------------------------------------------------------------------------
# distributions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Distribution:
    """A scipy.stats distribution given by name and keyword arguments.

    Parameters
    ----------
    name : str
        Name of a distribution in :mod:`scipy.stats` (``"truncnorm"``, ``"norm"``,
        ``"poisson"``...).
    params : dict
        Keyword arguments of the distribution (shape parameters, ``loc``, ``scale``).

    Examples
    --------
    Conduction delays (ms) of mean 1.5 ms, truncated at 2 standard deviations below:

    >>> delay = Distribution("truncnorm", {"a": -2.0, "b": np.inf, "loc": 1.5, "scale": 0.3})
    >>> delay.check("delay")
    >>> round(delay.mean(), 6)
    1.516574
    >>> delay.to_dict()
    {'name': 'truncnorm', 'params': {'a': -2.0, 'b': 'inf', 'loc': 1.5, 'scale': 0.3}}
    """

    name: str
    params: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, field_name: str) -> Distribution:
        """Build from a Distribution, ``{"name": ..., "params": {...}}``,
        ``{"name": ..., **kwargs}``, a ``(name, kwargs)`` pair or a frozen scipy object.

        Parameters
        ----------
        value : Distribution, dict, tuple or frozen scipy.stats distribution
            The distribution in any of the forms above.
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        Distribution
            The validated distribution.

        Raises
        ------
        TypeError, ValueError
            An unknown name or parameters that scipy rejects, naming ``field_name``.

        Examples
        --------
        >>> Distribution.parse({"name": "norm", "params": {"loc": 1.5, "scale": 0.3}}, "delay")
        Distribution(name='norm', params={'loc': 1.5, 'scale': 0.3})
        """
        if isinstance(value, Distribution):
            dist = value
        elif isinstance(value, Mapping):
            if "name" not in value:
                fail(f"{field_name}.name", None, "the name of a scipy.stats distribution")
            params = value.get("params")
            if params is None:
                params = {k: v for k, v in value.items() if k != "name"}
            dist = cls(str(value["name"]), dict(params))
        elif isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
            dist = cls(value[0], dict(value[1]))
        elif hasattr(value, "dist") and hasattr(value, "kwds"):
            if getattr(value, "args", ()):
                raise TypeError(f"{field_name}: frozen scipy distributions must be given "
                                f"keyword arguments only, got positional {value.args!r}")
            dist = cls(value.dist.name, dict(value.kwds))
        else:
            raise TypeError(f"{field_name} must be a scipy.stats distribution given as "
                            f"{{'name': ..., 'params': {{...}}}} or a frozen scipy object, "
                            f"got {value!r}")
        dist.check(field_name)
        return dist

    def check(self, field_name: str) -> None:
        """Raise if the name is unknown or the parameters are rejected by scipy.

        Parameters
        ----------
        field_name : str
            Name of the field, used in error messages.

        Raises
        ------
        TypeError, ValueError
            Naming ``field_name``, the value and what is allowed.

        Examples
        --------
        >>> Distribution("norm", {"loc": 0.0, "scale": -1.0}).check("delay")
        Traceback (most recent call last):
        ...
        ValueError: delay.scale must be > 0, got -1.0
        """
        obj = getattr(st, self.name, None)
        if not isinstance(obj, (st.rv_continuous, st.rv_discrete)):
            raise ValueError(f"{field_name}.name must be a scipy.stats distribution "
                             f"(e.g. 'norm', 'truncnorm', 'poisson'), got {self.name!r}")
        params = {k: _jsonable_number(v) for k, v in self.params.items()}
        object.__setattr__(self, "params", params)
        scale = params.get("scale", 1.0)
        if isinstance(scale, (int, float)) and not scale > 0:
            raise ValueError(f"{field_name}.scale must be > 0, got {scale!r}")
        try:  # the support is NaN for parameters scipy rejects (~0.02 ms; a mean ~5 ms)
            low, high = obj.support(**params)
        except TypeError as err:
            raise TypeError(f"{field_name}.params {self.params!r} are not accepted by "
                            f"scipy.stats.{self.name}: {err}") from None
        if np.isnan(low) or np.isnan(high):
            raise ValueError(f"{field_name}.params {self.params!r} are invalid parameters of "
                             f"scipy.stats.{self.name}")

    @property
    def is_continuous(self) -> bool:
        """True for ``rv_continuous`` distributions.

        Examples
        --------
        >>> Distribution("norm", {"loc": 1.5, "scale": 0.3}).is_continuous
        True
        >>> Distribution("poisson", {"mu": 2.0}).is_continuous   # multapse counts
        False
        """
        return isinstance(getattr(st, self.name), st.rv_continuous)

    def frozen(self):
        """The frozen scipy.stats distribution.

        Returns
        -------
        scipy.stats.rv_frozen
            The distribution with its parameters.

        Examples
        --------
        >>> float(Distribution("norm", {"loc": 2.0, "scale": 0.5}).frozen().std())
        0.5
        """
        return getattr(st, self.name)(**self.params)

    # evaluated on the shared scipy instance: freezing builds docstrings and costs ~1 ms
    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Probability density (continuous) or mass (discrete) at ``x``.

        Parameters
        ----------
        x : ndarray
            Points, in the units of the distribution (ms for delays, µm for depths).

        Returns
        -------
        ndarray
            Density (per unit of ``x``) or probability mass, same shape as ``x``.

        Examples
        --------
        >>> float(Distribution("norm", {"loc": 0.0, "scale": 1.0}).pdf(np.array([0.0]))[0])
        0.3989422804014327
        """
        dist = getattr(st, self.name)
        if self.is_continuous:
            return dist.pdf(x, **self.params)
        return dist.pmf(x, **self.params)

    def mean(self) -> float:
        """Mean of the distribution.

        Returns
        -------
        float
            The mean, in the units of the distribution.

        Examples
        --------
        >>> Distribution("norm", {"loc": 1.5, "scale": 0.3}).mean()
        1.5
        """
        return float(getattr(st, self.name).mean(**self.params))

    def to_dict(self) -> dict:
        """JSON-serialisable form.

        Returns
        -------
        dict
            ``{"name": ..., "params": {...}}``, infinities as the strings ``"inf"``/``"-inf"``.

        Examples
        --------
        >>> Distribution("truncnorm", {"a": -2.0, "b": np.inf}).to_dict()
        {'name': 'truncnorm', 'params': {'a': -2.0, 'b': 'inf'}}
        """
        return {"name": self.name,
                "params": {k: _json_number(v) for k, v in self.params.items()}}


def _jsonable_number(value: Any) -> Any:
    """numpy scalars -> Python; the strings "inf"/"-inf" -> floats."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf"):
        return float(value)
    return value


def _json_number(value: Any) -> Any:
    """Floats for strict JSON: infinities become the strings "inf"/"-inf"."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# --------------------------------------------------------------------------------------
# synapses, placement, cells
# --------------------------------------------------------------------------------------
@dataclass
class Synapse:
    """Synapse parameters of a connection (or of extrinsic input).

    Parameters
    ----------
    weight : float
        Peak conductance (µS) for conductance-based networks, peak current (nA) for
        current-based networks.
    tau1, tau2 : float
        Rise and decay time constants of the double-exponential waveform (ms),
        ``0 < tau1 < tau2``.
    e : float
        Reversal potential (mV); used to linearise conductance-based synapses.
    syntype : str
        ``"Exp2Syn"`` (conductance-based) or ``"Exp2SynI"`` (current-based; only in
        networks with ``conductance_based=False``, where either name means a current
        synapse of peak ``weight`` nA).

    Examples
    --------
    An excitatory conductance-based synapse of peak 0.1 nS (1e-4 µS) reversing at 0 mV:

    >>> Synapse(weight=1e-4, tau1=0.2, tau2=1.8, e=0.0)
    Synapse(weight=0.0001, tau1=0.2, tau2=1.8, e=0.0, syntype='Exp2Syn')
    >>> Network.example().connection("I", "E").synapse.e      # inhibitory: reverses at -80 mV
    -80.0
    """

    weight: float
    tau1: float = 0.2
    tau2: float = 1.8
    e: float = 0.0
    syntype: str = "Exp2Syn"

    @classmethod
    def parse(cls, value: Any, field_name: str) -> Synapse:
        """Build from a Synapse or a dict of its fields.

        Parameters
        ----------
        value : Synapse or dict
            ``weight`` (µS or nA), ``tau1``, ``tau2`` (ms), ``e`` (mV), ``syntype``.
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        Synapse
            The validated synapse.

        Raises
        ------
        TypeError, ValueError
            A missing or invalid field, named.

        Examples
        --------
        >>> Synapse.parse({"weight": 1e-4, "tau1": 0.2, "tau2": 1.8, "e": 0.0}, "synapse")
        Synapse(weight=0.0001, tau1=0.2, tau2=1.8, e=0.0, syntype='Exp2Syn')
        """
        if isinstance(value, Synapse):
            value = value.to_dict()
        value = check_mapping(field_name, value, {"weight", "tau1", "tau2", "e", "syntype"},
                              expected="a dict with weight, tau1, tau2, e, syntype")
        if "weight" not in value:
            fail(f"{field_name}.weight", None, "given")
        syn = cls(**dict(value))
        syn.weight = check_real(f"{field_name}.weight", syn.weight)
        syn.tau1 = check_real(f"{field_name}.tau1", syn.tau1, positive=True)
        syn.tau2 = check_real(f"{field_name}.tau2", syn.tau2, positive=True)
        syn.e = check_real(f"{field_name}.e", syn.e)
        if syn.tau1 >= syn.tau2:
            fail(f"{field_name}.tau1", syn.tau1, f"< tau2 = {syn.tau2}")
        if syn.syntype not in SUPPORTED_SYNTYPES:
            fail(f"{field_name}.syntype", syn.syntype, f"one of {SUPPORTED_SYNTYPES}")
        return syn

    def to_dict(self) -> dict:
        """JSON-serialisable form.

        Returns
        -------
        dict
            The synapse's fields.

        Examples
        --------
        >>> Synapse(weight=1e-4, tau1=0.2, tau2=1.8, e=0.0).to_dict()["weight"]
        0.0001
        """
        return {"weight": self.weight, "tau1": self.tau1, "tau2": self.tau2, "e": self.e,
                "syntype": self.syntype}


@dataclass
class Placement:
    """Where on the postsynaptic cell the synapses of a connection land.

    The probability of segment i is proportional to its membrane area times
    ``sum_k weights[k] * densities[k].pdf(z_i)`` over segments of the named sections
    with ``z_min < z_i < z_max`` (z_i: segment midpoint depth, µm).  The density scales
    are widened by the population's depth spread (Gaussians convolved).

    Parameters
    ----------
    sections : list of str
        Section name patterns (substring match, e.g. ``["apic", "dend"]``) or
        ``["allsec"]``.
    densities : list of Distribution
        Depth densities (µm).
    weights : list of float
        Mixture weights, one per density (>= 0).
    z_min, z_max : float
        Depth window (µm).

    Examples
    --------
    Synapses on the apical dendrites, around 500 µm above the soma (±100 µm):

    >>> p = Placement(sections=["apic"], weights=[1.0],
    ...               densities=[Distribution("norm", {"loc": 500.0, "scale": 100.0})])
    >>> p.to_dict()["densities"]
    [{'name': 'norm', 'params': {'loc': 500.0, 'scale': 100.0}}]
    >>> p.z_min, p.z_max                    # no depth window by default
    (-1000000.0, 1000000.0)
    """

    sections: list[str]
    densities: list[Distribution]
    weights: list[float]
    z_min: float = -1e6
    z_max: float = 1e6

    @classmethod
    def parse(cls, value: Any, field_name: str) -> Placement:
        """Build from a Placement or a dict of its fields.

        Parameters
        ----------
        value : Placement or dict
            ``sections``, ``densities`` (distributions of depth, µm), ``weights``, ``z_min``,
            ``z_max`` (µm); LFPykernels' ``section``/``fun``/``funargs``/``funweights`` also
            accepted.
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        Placement
            The validated placement rule.

        Raises
        ------
        TypeError, ValueError
            A missing or invalid field, named.

        Examples
        --------
        >>> p = Placement.parse({"sections": ["apic"], "densities": [
        ...     {"name": "norm", "params": {"loc": 500.0, "scale": 100.0}}]}, "placement")
        >>> p.sections, p.weights
        (['apic'], [1.0])
        """
        if isinstance(value, Placement):
            value = value.to_dict()
        value = check_mapping(field_name, value,
                              expected="a dict with sections, densities, weights")
        # accept the reference's key names too
        aliases = {"section": "sections", "fun": "densities", "funweights": "weights"}
        for old, new in aliases.items():
            if old in value:
                value[new] = value.pop(old)
        if "funargs" in value:
            funargs = value.pop("funargs")
            funs = value.get("densities")
            if not isinstance(funs, (list, tuple)):
                funs = [funs]
                funargs = [funargs]
            if len(funs) != len(funargs):
                fail(f"{field_name}.funargs", funargs, f"a list of {len(funs)} dicts")
            value["densities"] = [
                {"name": f if isinstance(f, str) else f.name, "params": dict(a)}
                for f, a in zip(funs, funargs)]
        allowed = {"sections", "densities", "weights", "z_min", "z_max"}
        check_mapping(field_name, value, allowed)
        sections = value.get("sections", ["allsec"])
        if isinstance(sections, str):
            sections = [sections]
        if not sections or not all(isinstance(s, str) and s for s in sections):
            fail(f"{field_name}.sections", sections, "a non-empty list of section names")
        densities = value.get("densities")
        if densities is None:
            fail(f"{field_name}.densities", None, "a list of depth distributions")
        if not isinstance(densities, (list, tuple)):
            densities = [densities]
        densities = [Distribution.parse(d, f"{field_name}.densities[{i}]")
                     for i, d in enumerate(densities)]
        for i, d in enumerate(densities):
            if not d.is_continuous:
                fail(f"{field_name}.densities[{i}].name", d.name, "a continuous distribution")
        weights = value.get("weights", [1.0] * len(densities))
        if np.ndim(weights) == 0:
            weights = [weights]
        weights = [check_real(f"{field_name}.weights[{i}]", w, nonnegative=True)
                   for i, w in enumerate(weights)]
        if len(weights) != len(densities):
            fail(f"{field_name}.weights", weights,
                  f"a list of {len(densities)} numbers (one per density)")
        if sum(weights) <= 0:
            fail(f"{field_name}.weights", weights, "not all zero")
        z_min = check_real(f"{field_name}.z_min", value.get("z_min", -1e6))
        z_max = check_real(f"{field_name}.z_max", value.get("z_max", 1e6))
        if z_min >= z_max:
            fail(f"{field_name}.z_min", z_min, f"< z_max = {z_max}")
        return cls(list(sections), densities, weights, z_min, z_max)

    def to_dict(self) -> dict:
        """JSON-serialisable form.

        Returns
        -------
        dict
            The placement's fields, densities as dicts.

        Examples
        --------
        >>> Network.example().connection("E", "E").placement.to_dict()["sections"]
        ['apic', 'dend']
        """
        return {"sections": list(self.sections),
                "densities": [d.to_dict() for d in self.densities],
                "weights": list(self.weights), "z_min": self.z_min, "z_max": self.z_max}


def callable_path(fun: Callable) -> str:
    """``module:qualname`` of a function (for JSON).

    Functions defined in ``__main__``, closures and lambdas are named too (so a
    specification can always be described and hashed) but cannot be imported back:
    :func:`import_callable` then raises a clear error.
    """
    module = getattr(fun, "__module__", None) or "<unknown>"
    qualname = getattr(fun, "__qualname__", None) or repr(fun)
    return f"{module}:{qualname}"


def import_callable(path: str) -> Callable:
    """Import ``module:qualname``."""
    module_name, _, qualname = path.partition(":")
    if "<" in path or module_name == "__main__":
        raise ValueError(f"cell.biophysics callable {path!r} cannot be imported: define it at "
                         "module level in an importable module to store it in a spec")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cell.biophysics callable {path!r} cannot be imported: {err}") from None
    if not callable(obj):
        raise TypeError(f"cell.biophysics {path!r} is not callable")
    return obj


@dataclass
class CellSpec:
    """The multicompartment cell representative of a population.

    Parameters
    ----------
    morphology : str
        A preset name from :data:`CELL_PRESETS` or a path to a morphology file.
    templatefile, templatename : str, optional
        LFPy ``TemplateCell`` template (file path and name); taken from the preset when
        ``morphology`` names one.
    templateargs : any
        Arguments of the template.
    biophysics : dict or callable
        ``{"name": "passive", "g_pas": S/cm², "e_pas": mV or None (= Vrest)}``, or a
        callable ``f(cell, **biophysics_args)`` applied to the LFPy cell, or ``None``
        (mechanisms come with the template).
    biophysics_args : dict
        Keyword arguments of a biophysics callable.
    params : dict
        Further ``LFPy.TemplateCell`` keyword arguments (``v_init``, ``nsegs_method``,
        ``lambda_f``, ``custom_fun``...).

    Examples
    --------
    The embedded inhibitory ball-and-sticks cell, passive with the preset leak
    conductance (S/cm²) and the leak reversal at the resting potential:

    >>> cell = CellSpec.parse("ball_and_sticks_I", "cell")
    >>> cell.templatename, cell.biophysics
    ('BallAndSticksTemplate', {'name': 'passive', 'g_pas': 0.0003, 'e_pas': None})
    >>> cell.resolve("morphology").name
    'BallAndSticks_I.hoc'
    """

    morphology: str = "ball_and_sticks_E"
    templatefile: str | None = None
    templatename: str | None = None
    templateargs: Any = None
    biophysics: Any = field(default_factory=lambda: {"name": "passive"})
    biophysics_args: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, field_name: str) -> CellSpec:
        """Build from a CellSpec, a dict of its fields or the name of an embedded cell.

        Parameters
        ----------
        value : CellSpec, dict or str
            The cell: ``morphology``, ``templatefile``, ``templatename``, ``biophysics``...
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        CellSpec
            The validated cell specification.

        Raises
        ------
        TypeError, ValueError
            A missing or invalid field, named.

        Examples
        --------
        >>> Network.example().population("E").cell.morphology
        'ball_and_sticks_E'
        """
        if isinstance(value, CellSpec):
            value = value.to_dict(allow_callables=True)
        if isinstance(value, str):
            value = {"morphology": value}
        value = check_mapping(field_name, value, expected="a cell preset name or a dict")
        allowed = {"morphology", "templatefile", "templatename", "templateargs", "biophysics",
                   "biophysics_args", "params"}
        check_mapping(field_name, value, allowed)
        spec = cls(**value)
        if spec.morphology in CELL_PRESETS:
            preset = CELL_PRESETS[spec.morphology]
            spec.templatefile = spec.templatefile or preset["templatefile"]
            spec.templatename = spec.templatename or preset["templatename"]
        else:
            if spec.templatefile is None or spec.templatename is None:
                fail(f"{field_name}.morphology", spec.morphology,
                      f"one of the presets {sorted(CELL_PRESETS)} or a file path given "
                      "together with templatefile and templatename")
        for key in ("morphology", "templatefile"):
            path = spec.resolve(key)
            if not path.is_file():
                raise FileNotFoundError(f"{field_name}.{key}: file {str(path)!r} not found")
        if not isinstance(spec.params, Mapping):
            fail(f"{field_name}.params", spec.params, "a dict", TypeError)
        reserved = {"morphology", "templatefile", "templatename", "templateargs", "dt",
                    "tstop", "tstart", "delete_sections"}
        clash = sorted(reserved & set(spec.params))
        if clash:
            fail(f"{field_name}.params keys", clash, f"none of {sorted(reserved)}")
        spec.biophysics = cls._parse_biophysics(spec.biophysics, f"{field_name}.biophysics")
        return spec

    @staticmethod
    def _parse_biophysics(value: Any, field_name: str) -> Any:
        if value is None or callable(value):
            return value
        if isinstance(value, str):
            if ":" in value:
                return import_callable(value)
            value = {"name": value}
        if not isinstance(value, Mapping) or "name" not in value:
            fail(field_name, value, f"a preset dict {{'name': one of "
                  f"{sorted(BIOPHYSICS_PRESETS)}, ...}}, a callable or None", TypeError)
        name = value["name"]
        if name not in BIOPHYSICS_PRESETS:
            fail(f"{field_name}.name", name, f"one of {sorted(BIOPHYSICS_PRESETS)}")
        defaults = BIOPHYSICS_PRESETS[name]
        check_mapping(field_name, value, set(defaults) | {"name"})
        out = {"name": name}
        for key, default in defaults.items():
            given = value.get(key, default)
            out[key] = None if given is None else check_real(f"{field_name}.{key}", given)
        for key in _POSITIVE_BIOPHYSICS:
            if out.get(key) is not None and out[key] <= 0:
                fail(f"{field_name}.{key}", out[key], "> 0")
        for key in _NONNEGATIVE_BIOPHYSICS:
            if out.get(key) is not None and out[key] < 0:
                fail(f"{field_name}.{key}", out[key], ">= 0")
        return out

    def resolve(self, key: str) -> Path:
        """Absolute path of the morphology or template file.

        Parameters
        ----------
        key : {"morphology", "templatefile"}
            Which file.

        Returns
        -------
        pathlib.Path
            The file (embedded cells resolve to the package's data files).

        Examples
        --------
        >>> Network.example().population("E").cell.resolve("templatefile").name
        'BallAndSticksTemplate.hoc'
        """
        name = self.morphology if key == "morphology" else self.templatefile
        if key == "morphology" and name in CELL_PRESETS:
            name = CELL_PRESETS[name]["morphology"]
        path = Path(str(name)).expanduser()
        if not path.is_absolute() and not path.exists() and (CELLS_DIR / path).exists():
            path = CELLS_DIR / path
        return path.resolve()

    def to_dict(self, allow_callables: bool = False) -> dict:
        """JSON-serialisable form.

        Parameters
        ----------
        allow_callables : bool
            Keep callables (e.g. ``custom_fun``) as they are instead of ``module:qualname``.

        Returns
        -------
        dict
            The cell's fields.

        Examples
        --------
        >>> Network.example().population("I").cell.to_dict()["morphology"]
        'ball_and_sticks_I'
        """
        bio = self.biophysics
        if callable(bio) and not allow_callables:
            bio = callable_path(bio)
        params = dict(self.params)
        if not allow_callables and "custom_fun" in params:
            params["custom_fun"] = [callable_path(f) for f in params["custom_fun"]]
        return {"morphology": self.morphology, "templatefile": self.templatefile,
                "templatename": self.templatename, "templateargs": self.templateargs,
                "biophysics": bio if not isinstance(bio, Mapping) else dict(bio),
                "biophysics_args": dict(self.biophysics_args), "params": params}


# --------------------------------------------------------------------------------------
# populations and connections
# --------------------------------------------------------------------------------------
@dataclass
class Population:
    """A population of the network.

    Parameters
    ----------
    name : str
        Population name (``"E"``, ``"I"``...).
    size : int
        Number of neurons (> 0).
    rate : float or None
        Mean firing rate ν_X (spikes/s, >= 0), used for the g_eff shift; None (the
        default) when not given -- kernels with ``g_eff=True`` then warn that the
        population's synapses add no conductance.
    cell : CellSpec or None
        Representative cell; required if the population is postsynaptic.
    radius : float
        Population radius in the xy-plane (µm, > 0).
    loc : float
        Mean depth of somata (µm).
    scale : float
        Standard deviation of somatic depths (µm, >= 0).
    rotation : dict
        Rotation angles about ``x``, ``y``, ``z`` (radians).
    n_ext : float
        Number of extrinsic synapses per cell (>= 0).
    nu_ext : float
        Activation rate of each extrinsic synapse (spikes/s, >= 0).
    ext_synapse : Synapse or None
        Extrinsic synapse parameters (for g_eff).

    Examples
    --------
    >>> Population(name="E", size=100, rate=2.5).scale
    50.0
    """

    name: str
    size: int
    rate: float | None = None
    cell: CellSpec | None = None
    radius: float = 100.0
    loc: float = 0.0
    scale: float = 50.0
    rotation: dict = field(default_factory=dict)
    n_ext: float = 0.0
    nu_ext: float = 0.0
    ext_synapse: Synapse | None = None

    @classmethod
    def parse(cls, value: Any, field_name: str) -> Population:
        """Build from a Population or a dict of its fields.

        Parameters
        ----------
        value : Population or dict
            ``name``, ``size``, ``rate`` (spikes/s), ``cell``, ``radius``, ``loc``, ``scale``
            (µm), ``rotation``, ``n_ext``, ``nu_ext`` (spikes/s), ``ext_synapse``.
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        Population
            The validated population.

        Raises
        ------
        TypeError, ValueError
            A missing or invalid field, named.

        Examples
        --------
        >>> Population.parse({"name": "E", "size": 100}, "populations[0]").size
        100
        """
        if isinstance(value, Population):
            value = value.to_dict(allow_callables=True)
        value = check_mapping(field_name, value, set(cls.__dataclass_fields__), expected="a dict")
        name = value.get("name")
        if not isinstance(name, str) or not name or ":" in name or "->" in name:
            fail(f"{field_name}.name", name, "a non-empty str without ':' or '->'")
        field_name = f"populations[{name!r}]"
        size = value.get("size")
        is_number = isinstance(size, (int, np.integer, float)) and not isinstance(size, bool)
        if not is_number or not math.isfinite(size) or float(size) != int(size):
            fail(f"{field_name}.size", size, "a positive integer", TypeError)
        if int(size) <= 0:
            fail(f"{field_name}.size", size, "> 0")
        pop = cls(name=name, size=int(size))
        rate = value.get("rate")
        pop.rate = None if rate is None else check_real(f"{field_name}.rate", rate,
                                                        nonnegative=True)
        cell = value.get("cell")
        pop.cell = None if cell is None else CellSpec.parse(cell, f"{field_name}.cell")
        pop.radius = check_real(f"{field_name}.radius", value.get("radius", 100.0), positive=True)
        pop.loc = check_real(f"{field_name}.loc", value.get("loc", 0.0))
        pop.scale = check_real(f"{field_name}.scale", value.get("scale", 50.0), nonnegative=True)
        rotation = value.get("rotation") or {}
        if not isinstance(rotation, Mapping) or set(rotation) - {"x", "y", "z"}:
            fail(f"{field_name}.rotation", rotation, "a dict with keys among x, y, z")
        pop.rotation = {k: check_real(f"{field_name}.rotation.{k}", v)
                        for k, v in rotation.items() if v is not None}
        pop.n_ext = check_real(f"{field_name}.n_ext", value.get("n_ext", 0.0), nonnegative=True)
        pop.nu_ext = check_real(f"{field_name}.nu_ext", value.get("nu_ext", 0.0), nonnegative=True)
        ext = value.get("ext_synapse")
        pop.ext_synapse = None if ext is None else Synapse.parse(ext, f"{field_name}.ext_synapse")
        return pop

    def to_dict(self, allow_callables: bool = False) -> dict:
        """JSON-serialisable form.

        Parameters
        ----------
        allow_callables : bool
            Keep callables in the cell's parameters instead of ``module:qualname``.

        Returns
        -------
        dict
            The population's fields.

        Examples
        --------
        >>> Network.example().population("E").to_dict()["size"]
        8192
        """
        return {"name": self.name, "size": self.size, "rate": self.rate,
                "cell": None if self.cell is None else self.cell.to_dict(allow_callables),
                "radius": self.radius, "loc": self.loc, "scale": self.scale,
                "rotation": dict(self.rotation), "n_ext": self.n_ext, "nu_ext": self.nu_ext,
                "ext_synapse": None if self.ext_synapse is None else self.ext_synapse.to_dict()}


@dataclass
class Connection:
    """Connections from presynaptic population ``pre`` (X) onto ``post`` (Y).

    Parameters
    ----------
    pre, post : str
        Population names.
    probability : float
        Pairwise connection probability C_YX in [0, 1].
    multapses : Distribution
        Number of synapses per connection: a continuous distribution is evaluated at
        the integers 1..99 and renormalised (as the reference does); a discrete one
        is used as is.  Only its mean matters.
    delay : Distribution
        Continuous distribution of conduction delays (ms).
    synapse : Synapse
        Synapse parameters.
    placement : Placement
        Synapse placement on the postsynaptic cell.

    Examples
    --------
    >>> c = Network.example().connection("E", "E")
    >>> c.key, c.probability, c.synapse.weight
    ('E->E', 0.05, 0.00012)
    """

    pre: str
    post: str
    probability: float
    multapses: Distribution
    delay: Distribution
    synapse: Synapse
    placement: Placement

    @classmethod
    def parse(cls, value: Any, field_name: str) -> Connection:
        """Build from a Connection or a dict of its fields.

        Parameters
        ----------
        value : Connection or dict
            ``pre``, ``post``, ``probability``, ``multapses``, ``delay`` (ms), ``synapse``,
            ``placement``.
        field_name : str
            Name of the field, used in error messages.

        Returns
        -------
        Connection
            The validated connection.

        Raises
        ------
        TypeError, ValueError
            A missing or invalid field, named.

        Examples
        --------
        >>> c = Network.example().connection("I", "E")
        >>> Connection.parse(c.to_dict(), "connections[1]") == c
        True
        """
        if isinstance(value, Connection):
            value = value.to_dict()
        allowed = set(cls.__dataclass_fields__)
        value = check_mapping(field_name, value, allowed, expected="a dict")
        missing = sorted(allowed - set(value) - {"multapses"})
        if missing:
            fail(f"{field_name}", f"missing {missing}", f"a dict with keys {sorted(allowed)}")
        pre, post = value["pre"], value["post"]
        field_name = f"connections['{pre}->{post}']"
        prob = check_real(f"{field_name}.probability", value["probability"])
        if not 0.0 <= prob <= 1.0:
            fail(f"{field_name}.probability", prob, "in [0, 1]")
        multapses = Distribution.parse(value.get("multapses", {"name": "randint",
                                                               "params": {"low": 1, "high": 2}}),
                                       f"{field_name}.multapses")
        delay = Distribution.parse(value["delay"], f"{field_name}.delay")
        if not delay.is_continuous:
            fail(f"{field_name}.delay.name", delay.name, "a continuous distribution")
        scale = delay.params.get("scale", 1.0)
        if check_real(f"{field_name}.delay.scale", scale) <= 0:
            fail(f"{field_name}.delay.scale", scale, "> 0")
        mscale = multapses.params.get("scale", 1.0)
        if multapses.is_continuous and check_real(f"{field_name}.multapses.scale", mscale) <= 0:
            fail(f"{field_name}.multapses.scale", mscale, "> 0")
        synapse = Synapse.parse(value["synapse"], f"{field_name}.synapse")
        placement = Placement.parse(value["placement"], f"{field_name}.placement")
        return cls(pre, post, prob, multapses, delay, synapse, placement)

    @property
    def key(self) -> str:
        """The connection's label, ``"pre->post"``.

        Returns
        -------
        str
            E.g. ``"I->E"``.

        Examples
        --------
        >>> Network.example().connection("I", "E").key
        'I->E'
        """
        return f"{self.pre}->{self.post}"

    def mean_multapses(self) -> float:
        """Expected number of synapses per connection.

        Returns
        -------
        float
            The mean of the multapse distribution (synapses per connected pair).

        Examples
        --------
        >>> round(Network.example().connection("E", "E").mean_multapses(), 3)
        2.0...
        """
        if self.multapses.is_continuous:
            counts = np.arange(1, 100)
            pk = self.multapses.pdf(counts)
            if not np.isfinite(pk).all() or pk.sum() <= 0:
                raise ValueError(f"connections['{self.key}'].multapses {self.multapses.params}"
                                 " has no probability mass on 1..99 synapses")
            return float((counts * pk).sum() / pk.sum())
        mean = self.multapses.mean()
        if not np.isfinite(mean) or mean < 0:
            raise ValueError(f"connections['{self.key}'].multapses mean must be finite and "
                             f">= 0, got {mean}")
        return mean

    def to_dict(self) -> dict:
        """JSON-serialisable form.

        Returns
        -------
        dict
            The connection's fields, distributions as dicts.

        Examples
        --------
        >>> Network.example().connection("I", "E").to_dict()["probability"]
        0.05
        """
        return {"pre": self.pre, "post": self.post, "probability": self.probability,
                "multapses": self.multapses.to_dict(), "delay": self.delay.to_dict(),
                "synapse": self.synapse.to_dict(), "placement": self.placement.to_dict()}


# --------------------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------------------
class Network:
    """A validated network specification.

    Parameters
    ----------
    populations : sequence of Population or dict
        The populations, in order (this order is the X / Y coordinate order).
    connections : sequence of Connection or dict
        Connections between populations (at most one per ordered pair).
    conductance_based : bool
        True if the network's synapses are conductance-based (they are then linearised
        around Vrest); False for current-based synapses (weights in nA).

    Examples
    --------
    >>> net = Network.from_dict(Network.example().to_dict())
    >>> [p.name for p in net.populations]
    ['E', 'I']
    """

    def __init__(self, populations: Sequence[Any], connections: Sequence[Any],
                 conductance_based: bool = True) -> None:
        if not isinstance(populations, (list, tuple)) or not populations:
            fail("populations", populations, "a non-empty list")
        self.populations = [Population.parse(p, f"populations[{i}]")
                            for i, p in enumerate(populations)]
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            fail("populations names", names, "unique")
        if not isinstance(connections, (list, tuple)) or not connections:
            fail("connections", connections, "a non-empty list")
        self.connections = [Connection.parse(c, f"connections[{i}]")
                            for i, c in enumerate(connections)]
        if not isinstance(conductance_based, (bool, np.bool_)):
            fail("conductance_based", conductance_based, "True or False", TypeError)
        self.conductance_based = bool(conductance_based)
        keys = [c.key for c in self.connections]
        if len(set(keys)) != len(keys):
            fail("connections", keys, "unique (one connection per pre->post pair)")
        for c in self.connections:
            for role, name in (("pre", c.pre), ("post", c.post)):
                if name not in names:
                    fail(f"connections['{c.key}'].{role}", name, f"one of {names}")
            post = self.population(c.post)
            if post.cell is None:
                fail(f"populations[{c.post!r}].cell", None,
                      "a cell specification (the population is postsynaptic)")
            c.mean_multapses()  # validates the multapse distribution
            if self.conductance_based and c.synapse.syntype == "Exp2SynI":
                fail(f"connections['{c.key}'].synapse.syntype", c.synapse.syntype,
                      "'Exp2Syn' in a conductance-based network (Exp2SynI is current-based; "
                      "set conductance_based=False)")
            if self.conductance_based and c.synapse.weight < 0:
                fail(f"connections['{c.key}'].synapse.weight", c.synapse.weight,
                     ">= 0 in a conductance-based network (a conductance, µS; inhibition "
                     "comes from the reversal potential synapse.e)")
        for p in self.populations:
            if p.ext_synapse is not None and p.ext_synapse.syntype != "Exp2Syn":
                fail(f"populations[{p.name!r}].ext_synapse.syntype", p.ext_synapse.syntype,
                      "'Exp2Syn' (its conductance enters g_eff)")
            if self.conductance_based and p.ext_synapse is not None and \
                    p.ext_synapse.weight < 0:
                fail(f"populations[{p.name!r}].ext_synapse.weight", p.ext_synapse.weight,
                     ">= 0 in a conductance-based network (a conductance, µS)")

    # -- access ------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Population names in order.

        Examples
        --------
        >>> Network.example().names
        ['E', 'I']
        """
        return [p.name for p in self.populations]

    def population(self, name: str) -> Population:
        """The population called ``name``.

        Parameters
        ----------
        name : str
            Population name.

        Returns
        -------
        Population
            The population.

        Raises
        ------
        KeyError
            No population of that name (the message lists the names).

        Examples
        --------
        >>> Network.example().population("I").size
        1024
        """
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"population {name!r} not in {self.names}")

    def connection(self, pre: str, post: str) -> Connection | None:
        """The connection from ``pre`` onto ``post``, or None.

        Parameters
        ----------
        pre, post : str
            Presynaptic (X) and postsynaptic (Y) population names.

        Returns
        -------
        Connection or None
            The connection, None if the network has none from ``pre`` onto ``post``.

        Examples
        --------
        >>> Network.example().connection("I", "E").synapse.e
        -80.0
        """
        for c in self.connections:
            if c.pre == pre and c.post == post:
                return c
        return None

    @property
    def presynaptic(self) -> list[str]:
        """Populations with at least one outgoing connection (the X coordinate).

        Examples
        --------
        >>> Network.example().presynaptic
        ['E', 'I']
        """
        return [n for n in self.names if any(c.pre == n for c in self.connections)]

    @property
    def postsynaptic(self) -> list[str]:
        """Populations with at least one incoming connection (the Y coordinate).

        Examples
        --------
        >>> Network.example().postsynaptic
        ['E', 'I']
        """
        return [n for n in self.names if any(c.post == n for c in self.connections)]

    def inputs(self, post: str) -> list[Connection]:
        """Connections onto ``post`` in population order.

        Parameters
        ----------
        post : str
            Postsynaptic population name.

        Returns
        -------
        list of Connection
            Its incoming connections, ordered by presynaptic population.

        Examples
        --------
        >>> [c.key for c in Network.example().inputs("E")]
        ['E->E', 'I->E']
        """
        return [c for n in self.names for c in self.connections
                if c.post == post and c.pre == n]

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-serialisable dict (callables as ``module:qualname``).

        Returns
        -------
        dict
            ``spec_version``, ``conductance_based``, ``populations``, ``connections``.

        Examples
        --------
        >>> sorted(Network.example().to_dict())
        ['conductance_based', 'connections', 'populations', 'spec_version']
        """
        return {"spec_version": SPEC_VERSION,
                "conductance_based": self.conductance_based,
                "populations": [p.to_dict() for p in self.populations],
                "connections": [c.to_dict() for c in self.connections]}

    @classmethod
    def from_dict(cls, data: Mapping) -> Network:
        """Build from :meth:`to_dict` output (or a hand-written dict).

        Parameters
        ----------
        data : dict
            ``populations``, ``connections`` and optionally ``conductance_based`` and
            ``spec_version``.

        Returns
        -------
        Network
            The validated network.

        Raises
        ------
        TypeError, ValueError
            Unknown keys, an unsupported ``spec_version`` or an invalid field, named.

        Examples
        --------
        >>> net = Network.example()
        >>> Network.from_dict(net.to_dict()) == net
        True
        """
        if not isinstance(data, Mapping):
            fail("network specification", type(data).__name__, "a dict", TypeError)
        data = copy.deepcopy(dict(data))
        version = data.pop("spec_version", SPEC_VERSION)
        if version != SPEC_VERSION:
            fail("spec_version", version, f"{SPEC_VERSION}")
        unknown = sorted(set(data) - {"populations", "connections", "conductance_based"})
        if unknown:
            fail("network keys", unknown, "a subset of ['populations', 'connections', "
                  "'conductance_based', 'spec_version']")
        for pop in data.get("populations", []) or []:
            cell = pop.get("cell") if isinstance(pop, Mapping) else None
            if isinstance(cell, Mapping):
                params = cell.get("params") or {}
                if "custom_fun" in params:
                    params["custom_fun"] = [import_callable(f) if isinstance(f, str) else f
                                            for f in params["custom_fun"]]
        return cls(data.get("populations"), data.get("connections"),
                   data.get("conductance_based", True))

    def to_json(self, path: str | Path | None = None, indent: int | None = 1) -> str:
        """JSON text of the specification (also written to ``path`` if given).

        Parameters
        ----------
        path : str or path, optional
            File to write the JSON to.
        indent : int or None
            Indentation of the JSON text.

        Returns
        -------
        str
            The JSON text.

        Examples
        --------
        >>> text = Network.example().to_json()
        >>> Network.from_json(text) == Network.example()
        True
        """
        text = json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Network:
        """Build from JSON text or a JSON file path.

        Parameters
        ----------
        text_or_path : str or path
            JSON text (starting with ``{``) or the path of a JSON file.

        Returns
        -------
        Network
            The validated network.

        Raises
        ------
        FileNotFoundError
            A path that does not exist.
        ValueError
            Text that is not valid JSON, or an invalid specification.

        Examples
        --------
        >>> Network.from_json(Network.example().to_json()).names
        ['E', 'I']
        """
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"network specification file {text!r} not found")
            text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"network specification is not valid JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def from_kernels(cls, H) -> Network:
        """Rebuild the specification stored in the attrs of a kernels DataArray.

        Parameters
        ----------
        H : xarray.DataArray
            Kernels from :func:`xkernels.compute_kernels` (or read from a store).

        Returns
        -------
        Network
            The network the kernels were computed for.

        Raises
        ------
        ValueError
            ``H`` has no ``spec`` attribute.

        Examples
        --------
        >>> import xarray as xr
        >>> H = xr.DataArray([0.0], attrs={"spec": Network.example().to_json()})
        >>> Network.from_kernels(H) == Network.example()
        True
        """
        if "spec" not in getattr(H, "attrs", {}):
            raise ValueError("kernels have no 'spec' attribute to rebuild the network from")
        return cls.from_json(H.attrs["spec"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return (f"Network(populations={self.names}, "
                f"connections={[c.key for c in self.connections]}, "
                f"conductance_based={self.conductance_based})")

    # -- examples ----------------------------------------------------------------------
    @classmethod
    def example(cls, active: bool = False) -> Network:
        """The LFPykernels README network as a 2x2 E/I network (the embedded default).

        Excitatory (8192) and inhibitory (1024) populations of ball-and-sticks cells,
        connection probability 0.05, truncated-normal multapses and delays, Exp2Syn
        synapses, extrinsic drive of 450 synapses at 40 spikes/s.

        Parameters
        ----------
        active : bool
            Give both cells the ``active`` biophysics preset (the passive leak plus
            Hodgkin-Huxley Na/K channels in the soma and an apical h-current, see
            :mod:`xkernels.engine.biophysics`) instead of the ``passive`` one.  Compute
            its kernels with a ``linearisation`` (``"frozen"``, ``"quasi-active"``...).

        Examples
        --------
        >>> net = Network.example()
        >>> net.names, [c.key for c in net.connections]
        (['E', 'I'], ['E->E', 'I->E', 'E->I', 'I->I'])
        """
        if not isinstance(active, (bool, np.bool_)):
            fail("active", active, "True or False", TypeError)
        biophysics = "active" if active else "passive"
        def syn_e():
            return {"weight": 0.00012, "syntype": "Exp2Syn", "tau1": 0.2, "tau2": 1.8, "e": 0.0}

        def syn_i():
            return {"weight": 0.002, "syntype": "Exp2Syn", "tau1": 0.1, "tau2": 9.0, "e": -80.0}

        ext = {"syntype": "Exp2Syn", "weight": 0.0002, "tau1": 0.2, "tau2": 1.8, "e": 0.0}
        pops = [
            {"name": "E", "size": 8192, "rate": 2.5,
             "cell": {"morphology": "ball_and_sticks_E",
                      "biophysics": {"name": biophysics, "g_pas": 0.0003}},
             "radius": 150.0, "loc": 0.0, "scale": 75.0, "n_ext": 450, "nu_ext": 40.0,
             "ext_synapse": ext},
            {"name": "I", "size": 1024, "rate": 5.0,
             "cell": {"morphology": "ball_and_sticks_I",
                      "biophysics": {"name": biophysics, "g_pas": 0.0003}},
             "radius": 150.0, "loc": 0.0, "scale": 75.0, "n_ext": 450, "nu_ext": 40.0,
             "ext_synapse": ext},
        ]
        mult = {"E": {"a": (1 - 2.0) / 0.6, "b": (10 - 2.0) / 0.6, "loc": 2.0, "scale": 0.6},
                "I": {"a": (1 - 5.0) / 1.1, "b": (10 - 5.0) / 1.1, "loc": 5.0, "scale": 1.1}}
        delay = {"E": {"a": -2.2, "b": np.inf, "loc": 1.3, "scale": 0.5},
                 "I": {"a": -1.5, "b": np.inf, "loc": 1.2, "scale": 0.6}}
        place = {"E": {"sections": ["apic", "dend"],
                       "densities": [{"name": "norm", "params": {"loc": 50.0, "scale": 100.0}}],
                       "weights": [1.0]},
                 "I": {"sections": ["soma", "apic", "dend"],
                       "densities": [{"name": "norm",
                                      "params": {"loc": -100.0, "scale": 100.0}}],
                       "weights": [1.0]}}
        syn = {"E": syn_e, "I": syn_i}
        conns = [{"pre": x, "post": y, "probability": 0.05,
                  "multapses": {"name": "truncnorm", "params": mult[x]},
                  "delay": {"name": "truncnorm", "params": delay[x]},
                  "synapse": syn[x](), "placement": place[x]}
                 for y in ("E", "I") for x in ("E", "I")]
        return cls(pops, conns, conductance_based=True)

    @classmethod
    def microcircuit(cls, scale: float = 1.0, *, thalamus: bool = True,
                     populations: Sequence[str] | None = None) -> Network:
        """The Potjans & Diesmann (2014) cortical microcircuit (current-based).

        Eight populations L23E/I, L4E/I, L5E/I, L6E/I with the published sizes,
        connection probabilities and synapses, layered ball-and-sticks cells and, with
        ``thalamus=True``, the thalamic population ``"TC"`` (902 cells) as an extra
        presynaptic population.  Sources, assumptions (synapse placement) and scaling:
        :mod:`xkernels.spec.microcircuit`.

        Parameters
        ----------
        scale : float
            Factor in (0, 1] on every population size (in-degrees preserved).
        thalamus : bool
            Include the thalamic input population.
        populations : sequence of str, optional
            A subset of the eight cortical populations.

        Examples
        --------
        >>> net = Network.microcircuit()
        >>> net.names[:3], net.population("L23E").size
        (['L23E', 'L23I', 'L4E'], 20683)
        """
        return cls.from_dict(microcircuit_spec(scale, thalamus=thalamus,
                                               populations=populations))

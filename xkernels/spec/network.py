"""The network specification: frozen, validated pydantic models.

A :class:`Network` holds populations (size, representative cell, spatial distribution,
rotation, mean rate, extrinsic input) and connections X -> Y (connection probability,
multapse and delay distributions, synapse parameters and synapse placement).  Every
model is validated on construction, frozen, and equal and hashable by value (mappings
are :class:`FrozenDict`, lists are tuples), so a network can key a cache.  A changed
network is a new one, validated the same way: :meth:`Network.with_values`.  It
round-trips through JSON (:meth:`Network.to_json` / :meth:`Network.from_json`;
:meth:`Network.model_json_schema` is the schema of that JSON) and is what
:func:`xkernels.compute_kernels` consumes.

Errors name the field, the value and what is allowed, in one line:
``ValueError: connections['I->E'].delay.scale must be > 0, got -0.5``.

Units: sizes in cells, probabilities dimensionless, rates in spikes/s, lengths in µm,
times in ms, conductance weights in µS (current-based weights in nA), potentials in mV,
membrane conductances in S/cm².
"""

from __future__ import annotations

import functools
import json
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.stats as st
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from xkernels.checks import (
    check_bool,
    check_choice,
    check_mapping,
    check_real,
    close_matches,
    did_you_mean,
    fail,
)
from xkernels.spec.base import (
    Frozen,
    FrozenDict,
    FrozenMap,
    NonNegative,
    Positive,
    Real,
    Spec,
    checked,
    freeze,
)
from xkernels.spec.callables import import_callable
from xkernels.spec.files import PATH_FIELDS, absolute, from_folder, relative_to
from xkernels.spec.microcircuit import microcircuit_spec
from xkernels.spec.paths import join_path, split_path
from xkernels.spec.presets import (
    BIOPHYSICS_LIMITS,
    BIOPHYSICS_PRESETS,
    CELL_PRESETS,
    CELLS_DIR,
    LFPY_CELL_KEYWORDS,
    MORPHOLOGY_FORMATS,
    example_spec,
)

#: Version of the JSON layout written by :meth:`Network.to_dict`; no other is read.
SPEC_VERSION = 2

#: Double-exponential synapse waveforms: conductance-based ``Exp2Syn`` (linearised
#: around Vrest) and current-based ``Exp2SynI`` (for current-based networks).
SUPPORTED_SYNTYPES = ("Exp2Syn", "Exp2SynI")


# --------------------------------------------------------------------------------------
# distributions, synapses, placement, cells
# --------------------------------------------------------------------------------------
def _params(params: dict[str, Any]) -> FrozenDict:
    """Frozen distribution parameters, ``"Infinity"`` (JSON) read as ``inf``."""
    def number(v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower().lstrip("+-") in ("inf", "infinity"):
            return float(v)
        return v
    return freeze({k: number(v) for k, v in params.items()})


@functools.cache
def _scipy_distributions() -> tuple[str, ...]:
    """Names of the distributions of :mod:`scipy.stats`."""
    return tuple(name for name in dir(st)
                 if isinstance(getattr(st, name), (st.rv_continuous, st.rv_discrete)))


@functools.lru_cache(maxsize=4096)
def _support(name: str, params: FrozenDict) -> tuple[float, float]:
    return getattr(st, name).support(**params)


class Distribution(Spec):
    """A scipy.stats distribution given by name and keyword arguments.

    Built from ``{"name": ..., "params": {...}}``, ``{"name": ..., **params}`` or a
    frozen scipy object (keyword arguments only).

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

    >>> delay = Distribution(name="truncnorm",
    ...                      params={"a": -2.0, "b": np.inf, "loc": 1.5, "scale": 0.3})
    >>> round(delay.mean(), 6)
    1.516574
    >>> delay.to_dict()
    {'name': 'truncnorm', 'params': {'a': -2.0, 'b': 'Infinity', 'loc': 1.5, 'scale': 0.3}}
    >>> Distribution(name="norm", params={"loc": 0.0, "scale": -1.0})
    Traceback (most recent call last):
    ...
    ValueError: scale must be > 0, got -1.0
    """

    name: str
    params: Annotated[dict[str, Any], AfterValidator(_params)] = FrozenDict()

    @classmethod
    def _forms(cls, value: Any) -> Any:
        if hasattr(value, "dist") and hasattr(value, "kwds"):
            if getattr(value, "args", ()):
                raise TypeError(f" frozen scipy distributions must be given keyword "
                                f"arguments only, got positional {value.args!r}")
            return {"name": value.dist.name, "params": value.kwds}
        if isinstance(value, Mapping) and "params" not in value:
            return {"name": value.get("name"),
                    "params": {k: v for k, v in value.items() if k != "name"}}
        return value

    @model_validator(mode="after")
    def _scipy(self) -> Distribution:
        obj = getattr(st, self.name, None)
        if not isinstance(obj, (st.rv_continuous, st.rv_discrete)):
            raise ValueError(f"name must be a scipy.stats distribution (e.g. 'norm', "
                             f"'truncnorm', 'poisson'), got {self.name!r}"
                             f"{did_you_mean(self.name, _scipy_distributions())}")
        scale = self.params.get("scale", 1.0)
        if isinstance(scale, (int, float)) and not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        try:  # the support is NaN for parameters scipy rejects (~0.02 ms; a mean ~5 ms)
            low, high = _support(self.name, self.params)
        except TypeError as err:
            raise TypeError(f"params {dict(self.params)!r} are not accepted by "
                            f"scipy.stats.{self.name}: {err}") from None
        if np.isnan(low) or np.isnan(high):
            raise ValueError(f"params {dict(self.params)!r} are invalid parameters of "
                             f"scipy.stats.{self.name}")
        return self

    @property
    def is_continuous(self) -> bool:
        """True for ``rv_continuous`` distributions.

        Examples
        --------
        >>> Distribution(name="norm", params={"loc": 1.5, "scale": 0.3}).is_continuous
        True
        >>> Distribution(name="poisson", params={"mu": 2.0}).is_continuous   # multapse counts
        False
        """
        return isinstance(getattr(st, self.name), st.rv_continuous)

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
        >>> standard = Distribution(name="norm", params={"loc": 0.0, "scale": 1.0})
        >>> float(standard.pdf(np.array([0.0]))[0])
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
        >>> Distribution(name="norm", params={"loc": 1.5, "scale": 0.3}).mean()
        1.5
        """
        with np.errstate(divide="ignore", invalid="ignore"):  # scipy's higher moments
            return float(getattr(st, self.name).mean(**self.params))


class Synapse(Spec):
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
    >>> Synapse(weight=1e-4, tau1=2.0)
    Traceback (most recent call last):
    ...
    ValueError: tau1 must be < tau2 = 1.8, got 2.0
    """

    _expected: ClassVar[str] = "a dict with weight, tau1, tau2, e, syntype"

    weight: Real
    tau1: Positive = 0.2
    tau2: Positive = 1.8
    e: Real = 0.0
    syntype: Annotated[Literal["Exp2Syn", "Exp2SynI"],
                       checked(check_choice, allowed=SUPPORTED_SYNTYPES)] = "Exp2Syn"

    @model_validator(mode="after")
    def _rules(self) -> Synapse:
        if self.tau1 >= self.tau2:
            fail("tau1", self.tau1, f"< tau2 = {self.tau2}")
        return self


class Placement(Spec):
    """Where on the postsynaptic cell the synapses of a connection land.

    The probability of segment i is proportional to its membrane area times
    ``sum_k weights[k] * densities[k].pdf(z_i)`` over segments of the named sections
    with ``z_min < z_i < z_max`` (z_i: segment midpoint depth, µm).  The density scales
    are widened by the population's depth spread (Gaussians convolved).  LFPykernels'
    key names ``section``/``fun``/``funargs``/``funweights`` are accepted too.

    Parameters
    ----------
    sections : tuple of str
        Section name patterns (substring match, e.g. ``("apic", "dend")``) or
        ``("allsec",)``.
    densities : tuple of Distribution
        Continuous depth densities (µm).
    weights : tuple of float
        Mixture weights, one per density (>= 0, not all zero; default all 1).
    z_min, z_max : float
        Depth window (µm).

    Examples
    --------
    Synapses on the apical dendrites, around 500 µm above the soma (±100 µm):

    >>> p = Placement(sections="apic", densities={"name": "norm", "loc": 500.0, "scale": 100.0})
    >>> p.sections, p.weights, p.densities[0].params["loc"]
    (('apic',), (1.0,), 500.0)
    >>> p.z_min, p.z_max                    # no depth window by default
    (-1000000.0, 1000000.0)
    """

    _expected: ClassVar[str] = "a dict with sections, densities, weights"

    sections: tuple[str, ...] = ("allsec",)
    densities: tuple[Distribution, ...]
    weights: tuple[NonNegative, ...]
    z_min: Real = -1e6
    z_max: Real = 1e6

    @classmethod
    def _forms(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        value = {{"section": "sections", "fun": "densities", "funweights": "weights"}.get(k, k): v
                 for k, v in value.items()}
        if "funargs" in value:
            funargs, funs = value.pop("funargs"), value.get("densities")
            if not isinstance(funs, (list, tuple)):
                funs, funargs = [funs], [funargs]
            if len(funs) != len(funargs):
                fail("funargs", funargs, f"a list of {len(funs)} dicts")
            value["densities"] = [{"name": f if isinstance(f, str) else f.name, "params": a}
                                  for f, a in zip(funs, funargs)]
        if isinstance(value.get("sections"), str):
            value["sections"] = [value["sections"]]
        densities = value.get("densities")
        if densities is not None and not isinstance(densities, (list, tuple)):
            value["densities"] = densities = [densities]
        weights = value.get("weights", [1.0] * len(densities or []))
        value["weights"] = [weights] if np.ndim(weights) == 0 else weights
        return value

    @model_validator(mode="after")
    def _rules(self) -> Placement:
        if not self.sections or not all(self.sections):
            fail("sections", list(self.sections), "a non-empty list of section names")
        for i, d in enumerate(self.densities):
            if not d.is_continuous:
                fail(f"densities[{i}].name", d.name, "a continuous distribution")
        if len(self.weights) != len(self.densities):
            fail("weights", list(self.weights),
                 f"a list of {len(self.densities)} numbers (one per density)")
        if sum(self.weights) <= 0:
            fail("weights", list(self.weights), "not all zero")
        if self.z_min >= self.z_max:
            fail("z_min", self.z_min, f"< z_max = {self.z_max}")
        return self


def _biophysics(field: str, value: Any) -> Any:
    """A biophysics preset dict (defaults filled in), a callable or None."""
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        if ":" in value:
            try:
                return import_callable(value)
            except (TypeError, ValueError) as err:
                raise type(err)(f"{field} {err}") from None
        value = {"name": value}
    if not isinstance(value, Mapping) or "name" not in value:
        fail(field, value, f"a preset dict {{'name': one of {sorted(BIOPHYSICS_PRESETS)}, "
             "...}, a callable or None", TypeError)
    name = check_choice(f"{field}.name", value["name"], sorted(BIOPHYSICS_PRESETS))
    defaults = BIOPHYSICS_PRESETS[name]
    check_mapping(field, value, set(defaults) | {"name"})
    out = {"name": name}
    for key, default in defaults.items():
        given = value.get(key, default)
        out[key] = None if given is None else check_real(
            f"{field}.{key}", given, **{BIOPHYSICS_LIMITS.get(key, "finite"): True})
    return FrozenDict(out)


class CellSpec(Spec):
    r"""The multicompartment cell representative of a population.

    Built from a dict of its fields or the name of an embedded cell.  Any morphology
    LFPy reads is accepted, with or without a template: a ``.swc``, ``.asc`` or ``.hoc``
    file (its sections created at the top level) alone, or a morphology together with
    an LFPy ``TemplateCell`` template.  File paths are held absolute
    (:mod:`xkernels.spec.files`: a relative path is relative to the working directory
    when the specification is built, or to the JSON file it is read from).

    Parameters
    ----------
    morphology : str
        A preset name from :data:`~xkernels.spec.presets.CELL_PRESETS` or the path of a
        morphology file (``.swc``, ``.asc`` or ``.hoc``; any format a template loads
        when ``templatefile`` is given).
    templatefile, templatename : str, optional
        LFPy ``TemplateCell`` template (hoc file and the name of a template it
        defines); taken from the preset when ``morphology`` names one; both or neither.
    templateargs : any
        Arguments of the template.
    biophysics : dict, callable or None
        ``{"name": "passive", "g_pas": S/cm², "e_pas": mV or None (= Vrest)}`` (or the
        ``"active"`` preset), a callable ``f(cell, **biophysics_args)`` applied to the
        LFPy cell (or its ``"module:qualname"``), or ``None`` (mechanisms come with the
        template or the params' ``custom_fun``).
    biophysics_args : dict
        Keyword arguments of a biophysics callable.
    mechanisms : str, optional
        A folder of the user's own NMODL (``.mod``) files, compiled on first use and
        cached like xkernels' own (:func:`xkernels.engine.mechanisms.load_user_mechanisms`);
        their names must differ from xkernels' and NEURON's.
    params : dict
        Further LFPy cell keyword arguments (``Ra`` (Ω cm), ``cm`` (µF/cm²), ``v_init``
        (mV), ``nsegs_method``, ``lambda_f`` (Hz), ``d_lambda``, ``max_nsegs_length``
        (µm), ``celsius`` (°C), ``custom_fun`` (callables or their ``"module:qualname"``)
        ...: :data:`~xkernels.spec.presets.LFPY_CELL_KEYWORDS`).

    Examples
    --------
    The embedded inhibitory ball-and-sticks cell, passive with the preset leak
    conductance (S/cm²) and the leak reversal at the resting potential:

    >>> cell = CellSpec.model_validate("ball_and_sticks_I")
    >>> cell.templatename, cell.biophysics
    ('BallAndSticksTemplate', {'name': 'passive', 'g_pas': 0.0003, 'e_pas': None})
    >>> cell.resolve("morphology").name
    'BallAndSticks_I.hoc'

    A morphology without a template, and a mistyped LFPy keyword:

    >>> import pathlib, tempfile
    >>> swc = pathlib.Path(tempfile.mkdtemp()) / "cell.swc"
    >>> _ = swc.write_text("1 1 0 0 0 10 -1\n2 3 0 0 -10 1 1\n3 3 0 0 -200 1 2\n")
    >>> CellSpec(morphology=str(swc), params={"Ra": 150.0}).templatename is None
    True
    >>> CellSpec(morphology=str(swc), params={"lambda": 100.0})
    Traceback (most recent call last):
    ...
    ValueError: params keys must be LFPy cell keywords [...], got ['lambda']; did you mean ...
    """

    _expected: ClassVar[str] = "a cell preset name or a dict"

    morphology: str = "ball_and_sticks_E"
    templatefile: str | None = None
    templatename: str | None = None
    templateargs: Frozen = None
    biophysics: Annotated[Any, checked(_biophysics)] = FrozenDict(
        name="passive", **BIOPHYSICS_PRESETS["passive"])
    biophysics_args: FrozenMap = FrozenDict()
    mechanisms: str | None = None
    params: FrozenMap = FrozenDict()

    @classmethod
    def _forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = {"morphology": value}
        if not isinstance(value, Mapping):
            return value
        value = dict(value)
        for key in PATH_FIELDS:
            if isinstance(value.get(key), str):
                value[key] = absolute(key, value[key])
        preset = CELL_PRESETS.get(value.get("morphology", cls.model_fields["morphology"].default))
        for key in ("templatefile", "templatename"):
            if preset and value.get(key) is None:
                value[key] = preset[key]
        params = value.get("params")
        if isinstance(params, Mapping) and "custom_fun" in params:
            value["params"] = dict(params, custom_fun=[
                import_callable(f) if isinstance(f, str) else f for f in params["custom_fun"]])
        return value

    @model_validator(mode="after")
    def _rules(self) -> CellSpec:
        if (self.templatefile is None) != (self.templatename is None):
            given, other = (("templatefile", "templatename") if self.templatename is None
                            else ("templatename", "templatefile"))
            fail(other, None, f"given together with {given} (both, or neither for a "
                 f"morphology file without a template)")
        morphology = self.resolve("morphology")
        if self.templatename is None and morphology.suffix.lower() not in MORPHOLOGY_FORMATS:
            fail("morphology", self.morphology, f"one of the presets {sorted(CELL_PRESETS)}"
                 f", a {', '.join(MORPHOLOGY_FORMATS)} file, or a file loaded by a template "
                 "(templatefile and templatename)")
        if not morphology.is_file():
            raise FileNotFoundError(f"morphology: file {str(morphology)!r} not found"
                                    f"{_near(morphology)}")
        if self.templatefile is not None:
            path = self.resolve("templatefile")
            if not path.is_file():
                raise FileNotFoundError(f"templatefile: file {str(path)!r} not found"
                                        f"{_near(path)}")
            defined = hoc_templates(path)
            if self.templatename not in defined:
                raise ValueError(f"templatename must be a template defined in {str(path)!r} "
                                 f"(its templates: {defined}), got {self.templatename!r}"
                                 f"{did_you_mean(self.templatename, defined)}")
        if self.mechanisms is not None:
            folder = self.resolve("mechanisms")
            if not folder.is_dir():
                raise FileNotFoundError(f"mechanisms: folder {str(folder)!r} not found"
                                        f"{_near(folder)}")
            if not any(folder.glob("*.mod")):
                fail("mechanisms", self.mechanisms, "a folder holding NMODL (.mod) files")
        reserved = {"morphology", "templatefile", "templatename", "templateargs", "dt",
                    "tstop", "tstart", "delete_sections"}
        clash = sorted(reserved & set(self.params))
        if clash:
            fail("params keys", clash, f"none of {sorted(reserved)} (set by xkernels or "
                 "fields of the cell)")
        if "nsegs_method" in self.params:
            check_choice("params.nsegs_method", self.params["nsegs_method"],
                         ["lambda100", "lambda_f", "fixed_length", None])
        unknown = sorted(set(self.params) - set(LFPY_CELL_KEYWORDS))
        if unknown:
            hints = [f"{close_matches(k, LFPY_CELL_KEYWORDS, 1)[0]!r} for {k!r}"
                     for k in unknown if close_matches(k, LFPY_CELL_KEYWORDS, 1)]
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise ValueError(f"params keys must be LFPy cell keywords "
                             f"{list(LFPY_CELL_KEYWORDS)}, got {unknown}{hint}")
        return self

    def resolve(self, key: str) -> Path:
        """Absolute path of the morphology, the template file or the mechanisms folder.

        Parameters
        ----------
        key : {"morphology", "templatefile", "mechanisms"}
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
        name = getattr(self, check_choice("key", key, PATH_FIELDS))
        if key == "morphology" and name in CELL_PRESETS:
            name = CELL_PRESETS[name]["morphology"]
        path = Path(str(name))
        return path if path.is_absolute() else _in_cells_dir(str(name))


@functools.lru_cache(maxsize=256)
def _in_cells_dir(name: str) -> Path:
    """``name`` resolved in the package's cell folder (kept: every validation of a
    network resolves its cells' files, ~0.1 ms each)."""
    return (CELLS_DIR / name).resolve()


def _near(path: Path) -> str:
    """``"; did you mean '...'?"`` for a file of the same folder with a close name."""
    if not path.parent.is_dir():
        return f" (its folder {str(path.parent)!r} does not exist)"
    return did_you_mean(path.name, [p.name for p in path.parent.iterdir()])


def hoc_templates(path: Path) -> list[str]:
    """The names of the templates a hoc file defines (``begintemplate NAME``).

    Examples
    --------
    >>> from xkernels.spec.presets import CELLS_DIR
    >>> hoc_templates(CELLS_DIR / "BallAndSticksTemplate.hoc")
    ['BallAndSticksTemplate']
    """
    stat = os.stat(path)
    return list(_templates_of(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _templates_of(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """:func:`hoc_templates` of a file as it is at ``mtime_ns`` and ``size`` (kept: every
    validation of a network checks its cells' templates)."""
    text = re.sub(r"(?s)/\*.*?\*/|//[^\n]*", "", Path(path).read_text(errors="replace"))
    return tuple(re.findall(r"\bbegintemplate\s+(\w+)", text))


# --------------------------------------------------------------------------------------
# populations and connections
# --------------------------------------------------------------------------------------
def _size(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not float(value).is_integer():
        fail(field, value, "a positive integer", TypeError)
    if value <= 0:
        fail(field, value, "> 0")
    return int(value)


def _rotation(value: Any) -> Any:
    value = value or {}
    if not isinstance(value, Mapping) or set(value) - {"x", "y", "z"}:
        fail("", value, "a dict with keys among x, y, z")
    return {k: v for k, v in value.items() if v is not None}


class Population(Spec):
    """A population of the network.

    Parameters
    ----------
    name : str
        Population name (``"E"``, ``"I"``...; no ``:`` or ``->``).
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
        Extrinsic synapse parameters (for g_eff; ``Exp2Syn``).

    Examples
    --------
    >>> Population(name="E", size=100, rate=2.5).scale
    50.0
    >>> Population(name="E", size=0)
    Traceback (most recent call last):
    ...
    ValueError: size must be > 0, got 0
    """

    name: str
    size: Annotated[int, checked(_size)]
    rate: NonNegative | None = None
    cell: CellSpec | None = None
    radius: Positive = 100.0
    loc: Real = 0.0
    scale: NonNegative = 50.0
    rotation: Annotated[dict[str, Real], BeforeValidator(_rotation),
                        AfterValidator(FrozenDict)] = FrozenDict()
    n_ext: NonNegative = 0.0
    nu_ext: NonNegative = 0.0
    ext_synapse: Synapse | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, name: Any) -> str:
        if not isinstance(name, str) or not name or ":" in name or "->" in name:
            fail("", name, "a non-empty str without ':' or '->'")
        return name

    @model_validator(mode="after")
    def _rules(self) -> Population:
        if self.ext_synapse is not None and self.ext_synapse.syntype != "Exp2Syn":
            fail("ext_synapse.syntype", self.ext_synapse.syntype,
                 "'Exp2Syn' (its conductance enters g_eff)")
        return self


class Connection(Spec):
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
        is used as is.  Only its mean matters.  Default: exactly one.
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
    probability: Real
    multapses: Distribution = Distribution(name="randint", params={"low": 1, "high": 2})
    delay: Distribution
    synapse: Synapse
    placement: Placement

    @model_validator(mode="after")
    def _rules(self) -> Connection:
        if not 0.0 <= self.probability <= 1.0:
            fail("probability", self.probability, "in [0, 1]")
        if not self.delay.is_continuous:
            fail("delay.name", self.delay.name, "a continuous distribution")
        return self

    @property
    def key(self) -> str:
        """The connection's label, ``"pre->post"`` (e.g. ``"I->E"``).

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

        Raises
        ------
        ValueError
            A multapse distribution without mass on 1..99 synapses, or a negative mean.

        Examples
        --------
        >>> round(Network.example().connection("E", "E").mean_multapses(), 3)
        2.0...
        """
        try:
            return _multapse_mean(self.multapses)
        except ValueError as err:
            raise ValueError(f"connections['{self.key}'].multapses {err}") from None


@functools.lru_cache(maxsize=4096)
def _multapse_mean(dist: Distribution) -> float:
    if dist.is_continuous:
        counts = np.arange(1, 100)
        pk = dist.pdf(counts)
        if not np.isfinite(pk).all() or pk.sum() <= 0:
            raise ValueError(f"{dict(dist.params)} has no probability mass on 1..99 synapses")
        return float((counts * pk).sum() / pk.sum())
    mean = dist.mean()
    if not np.isfinite(mean) or mean < 0:
        raise ValueError(f"mean must be finite and >= 0, got {mean}")
    return mean


# --------------------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------------------
class Network(Spec):
    """A validated, frozen network specification.

    Parameters
    ----------
    populations : sequence of Population or dict
        The populations, in order (this order is the X / Y coordinate order).
    connections : sequence of Connection or dict
        Connections between populations (at most one per ordered pair).
    conductance_based : bool
        True if the network's synapses are conductance-based (they are then linearised
        around Vrest); False for current-based synapses (weights in nA).
    spec_version : int
        The JSON layout's version; only :data:`SPEC_VERSION` is read.

    Examples
    --------
    >>> net = Network.from_dict(Network.example().to_dict())
    >>> [p.name for p in net.populations], net == Network.example()
    (['E', 'I'], True)
    >>> {net: "a cache entry"}[Network.example()]
    'a cache entry'
    """

    spec_version: int = SPEC_VERSION
    conductance_based: Annotated[bool, checked(check_bool)] = True
    populations: Annotated[tuple[Population, ...], Field(min_length=1)]
    connections: Annotated[tuple[Connection, ...], Field(min_length=1)]

    @classmethod
    def _forms(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        version = data.get("spec_version", SPEC_VERSION)
        if version != SPEC_VERSION:
            fail("spec_version", version, f"{SPEC_VERSION} (the only layout this xkernels "
                 "reads; to have an older file validated as this layout, remove its "
                 "spec_version)")
        return data

    @model_validator(mode="after")
    def _rules(self) -> Network:
        names = self.names
        if len(set(names)) != len(names):
            fail("populations names", names, "unique")
        keys = [c.key for c in self.connections]
        if len(set(keys)) != len(keys):
            fail("connections", keys, "unique (one connection per pre->post pair)")
        for c in self.connections:
            where = f"connections['{c.key}']"
            for role, name in (("pre", c.pre), ("post", c.post)):
                if name not in names:
                    fail(f"{where}.{role}", name, f"one of {names}")
            if self.population(c.post).cell is None:
                fail(f"populations[{c.post!r}].cell", None,
                     "a cell specification (the population is postsynaptic)")
            c.mean_multapses()  # validates the multapse distribution
            if self.conductance_based and c.synapse.syntype == "Exp2SynI":
                fail(f"{where}.synapse.syntype", c.synapse.syntype,
                     "'Exp2Syn' in a conductance-based network (Exp2SynI is current-based; "
                     "set conductance_based=False)")
        templates: dict[str, tuple[str, Path]] = {}
        for p in self.populations:
            if p.cell is None or p.cell.templatename is None:
                continue
            path = p.cell.resolve("templatefile")
            name, (first, where) = p.cell.templatename, templates.setdefault(
                p.cell.templatename, (p.name, path))
            if where != path and where.read_bytes() != path.read_bytes():
                fail(f"populations[{p.name!r}].cell.templatename", name,
                     f"another name than that of the template of populations[{first!r}] "
                     f"(defined in {str(where)!r}, another in {str(path)!r}): NEURON "
                     "defines a template name once per process")
        synapses = [(f"connections['{c.key}'].synapse", c.synapse) for c in self.connections]
        synapses += [(f"populations[{p.name!r}].ext_synapse", p.ext_synapse)
                     for p in self.populations if p.ext_synapse is not None]
        for where, synapse in synapses:
            if self.conductance_based and synapse.weight < 0:
                fail(f"{where}.weight", synapse.weight, ">= 0 in a conductance-based network "
                     "(a conductance, µS; inhibition comes from the reversal potential e)")
        return self

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

    # -- derived networks --------------------------------------------------------------
    def with_values(self, values: Mapping[str | Sequence[str], Any]) -> Network:
        """A new network with the values at the given parameter paths, validated as
        :meth:`from_dict` validates (network-level rules included).

        Parameters
        ----------
        values : Mapping
            Parameter path -> value.  Paths as sweep grids write them
            (:func:`xkernels.spec.paths.split_path`):
            ``"connections[E->E].synapse.weight"``,
            ``"populations[E].cell.biophysics.g_pas"``,
            ``"connections[I->E].placement.densities[0].params.loc"``.

        Returns
        -------
        Network
            The changed network (``self`` is unchanged).

        Raises
        ------
        ValueError, TypeError
            A path that names nothing, or a value the specification refuses (the same
            one-line error as :meth:`from_dict`).

        Examples
        --------
        >>> net = Network.example()
        >>> net.with_values({"connections[E->E].synapse.weight": 2e-4}).connection(
        ...     "E", "E").synapse.weight
        0.0002
        >>> net.with_values({"connections[E->E].synapse.weight": -1e-4})
        Traceback (most recent call last):
        ...
        ValueError: connections['E->E'].synapse.weight must be >= 0 in a conductance-based ...
        """
        # Only the models on a changed path are opened into dicts, and so validated
        # again with every model above them (whose validators hold the cross-field
        # rules); the untouched parts are passed as the validated, frozen models they are.
        data = _opened(self)
        for path, value in values.items():
            tokens = split_path(path)
            node: Any = data
            for depth, token in enumerate(tokens[:-1]):
                key = _key(node, token, tokens, depth)
                node[key] = _opened(node[key])
                node = node[key]
            node[_key(node, tokens[-1], tokens, len(tokens) - 1)] = value
        return type(self).from_dict(data)

    # -- serialisation -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping) -> Network:
        """Build from :meth:`to_dict` output (or a hand-written dict).

        Parameters
        ----------
        data : dict
            ``populations``, ``connections`` and optionally ``conductance_based`` and
            ``spec_version`` (only :data:`SPEC_VERSION`).

        Returns
        -------
        Network
            The validated network.

        Raises
        ------
        TypeError, ValueError
            Unknown keys, another ``spec_version`` or an invalid field, named.

        Examples
        --------
        >>> net = Network.example()
        >>> Network.from_dict(net.to_dict()) == net
        True
        """
        if not isinstance(data, Mapping):
            fail("network specification", type(data).__name__, "a dict", TypeError)
        return cls(**data)

    def to_json(self, path: str | Path | None = None, indent: int | None = 1) -> str:
        """JSON text of the specification (also written to ``path`` if given).

        Keys are sorted; infinities are the strings ``"Infinity"``/``"-Infinity"``.
        Written to a file, the cells' file paths are relative to that file's folder
        (:mod:`xkernels.spec.files`), so :meth:`from_json` reads the file back from any
        working directory, as does the command line.

        Parameters
        ----------
        path : str or path, optional
            File to write the JSON to.
        indent : int or None
            Indentation of the JSON text.

        Returns
        -------
        str
            The JSON text (as written: paths relative to ``path``'s folder when given,
            absolute otherwise).

        Examples
        --------
        >>> Network.from_json(Network.example().to_json()) == Network.example()
        True
        """
        data = self.to_dict()
        if path is not None:
            data = relative_to(data, Path(os.path.abspath(path)).parent)
        text = json.dumps(data, indent=indent, sort_keys=True, allow_nan=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Network:
        """Build from JSON text or a JSON file path.

        Parameters
        ----------
        text_or_path : str or path
            JSON text (starting with ``{``) or the path of a JSON file.  Relative cell
            file paths in a file are relative to the file's folder; in text, to the
            working directory.

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
        text, folder = str(text_or_path), None
        if not text.lstrip().startswith("{"):
            if not Path(text).is_file():
                raise FileNotFoundError(f"network specification file {text!r} not found")
            folder = Path(os.path.abspath(text)).parent
            text = Path(text).read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"network specification is not valid JSON: {err}") from None
        return cls.from_dict(data if folder is None else from_folder(data, folder))

    @classmethod
    def from_kernels(cls, H: Any) -> Network:
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

    def __str__(self) -> str:
        return (f"Network(populations={self.names}, "
                f"connections={[c.key for c in self.connections]}, "
                f"conductance_based={self.conductance_based})")

    __repr__ = __str__

    # -- presets -----------------------------------------------------------------------
    @classmethod
    def example(cls, active: bool = False) -> Network:
        """The LFPykernels README network as a 2x2 E/I network (the embedded default).

        Excitatory (8192) and inhibitory (1024) populations of ball-and-sticks cells,
        connection probability 0.05, truncated-normal multapses and delays, Exp2Syn
        synapses, extrinsic drive of 450 synapses at 40 spikes/s
        (:func:`xkernels.spec.presets.example_spec`).

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
        return cls.from_dict(example_spec(active))

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


def _opened(value: Any) -> Any:
    """A model as a dict of its fields, a mapping as a dict, a sequence as a list (one
    level: what a path goes through is opened as it is walked)."""
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def _key(node: Any, token: str, tokens: tuple, depth: int) -> int | str:
    """Where the part ``token`` is in ``node`` (populations and connections by name; a
    new key of a dict at the end of the path)."""
    if depth == 1 and tokens[0] in ("populations", "connections"):
        def field(item: Any, name: str) -> Any:
            return item[name] if isinstance(item, Mapping) else getattr(item, name)

        names = [field(item, "name") if tokens[0] == "populations" else
                 f"{field(item, 'pre')}->{field(item, 'post')}" for item in node]
        if token in names:
            return names.index(token)
    elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return int(token)
    elif isinstance(node, dict) and (token in node or depth == len(tokens) - 1):
        return token
    raise ValueError(f"parameter path {join_path(tokens)} names no value of the network "
                     f"(no {join_path(tokens[:depth + 1])})")

"""The probe registry: one adapter ("kind") per class of forward model.

Everything xkernels needs to know about a class of probe beyond its transformation
matrix — its conventional name, its channel labels, units and positions, its JSON
definition, and how its matrix is averaged over the cell positions of a population —
lives in one :class:`ProbeKind` registered for that class.  Supporting a new probe
class is one new place::

    @register(MyProbe)
    class MyProbeKind(ProbeKind):
        name = "my"               # default probe name
        units = "mV"              # per nA of membrane current
        serialised_as = MyProbe   # rebuilt as MyProbe(cell=None, **params)

        float_params = ("x",)     # written as floats, read back as float arrays

A probe's kind is looked up along its class's method resolution order: the first class
with a registered kind (or accepted by a predicate given to :func:`register_matching`)
wins, and ``lfpykit.LinearModel`` itself carries the generic fallback, :class:`ProbeKind`
(one channel per matrix row, units from ``probe.units`` or :data:`GENERIC_UNITS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import lfpykit
import numpy as np

from xkernels.checks import fail
from xkernels.contract import channel_coords
from xkernels.probes.depth import DepthTerms
from xkernels.probes.depth_terms import (
    check_disc,
    contact_terms,
    lateral_quadrature_terms,
    matrix_of,
    moved_terms,
)

__all__ = ["GENERIC_UNITS", "ProbeKind", "class_path", "describing_kind", "json_floats",
           "kind_for_path", "kind_of", "matching_labels", "numbered", "register",
           "register_matching", "serialised_paths"]

#: Units (per nA of membrane current) of lfpykit models without a kind of their own.
GENERIC_UNITS = {"OneSphereVolumeConductor": "mV",
                 "LaminarCurrentSourceDensity": "nA/µm³",
                 "VolumetricCurrentSourceDensity": "nA/µm³"}

K = TypeVar("K", bound="ProbeKind")


class UndescribedProbe(TypeError):
    """A probe whose definition cannot be written (its kind has none for it).

    The only error :func:`xkernels.probes.probe_definitions` turns into a probe
    "without definition"; any other error of a kind is a bug and propagates.

    Examples
    --------
    >>> import lfpykit
    >>> from xkernels.probes import probe_definition
    >>> try:
    ...     probe_definition(lfpykit.LinearModel(cell=None))
    ... except UndescribedProbe as err:
    ...     print(str(err)[:62])
    probe_definition cannot describe lfpykit.models.LinearModel; s
    """


def numbered(name: str, n: int) -> list[str]:
    """Channel labels ``name:0`` ... ``name:{n-1}``."""
    return [f"{name}:{i}" for i in range(n)]


def json_floats(a: Any) -> Any:
    """``a`` as (nested) lists of floats for JSON, None kept."""
    return None if a is None else np.asarray(a, dtype=float).tolist()


def class_path(cls: type) -> str:
    """Public import path of a class, written into probe definitions.

    Classes of ``lfpykit`` and ``xkernels.probes`` are named by their package
    (``lfpykit.PointSourcePotential``, ``xkernels.probes.EEGProbe``), where users
    import them from, so that stored definitions survive moves between submodules.
    """
    module = cls.__module__
    for package in ("lfpykit", "xkernels.probes"):
        if module.startswith(package + "."):
            module = package
    return f"{module}.{cls.__name__}"


class ProbeKind:
    """How xkernels handles one class of probe (an ``lfpykit.LinearModel``).

    The base class is the generic fallback, registered for ``lfpykit.LinearModel``:
    one channel per row of the transformation matrix, units from ``probe.units`` (set
    by the user), :attr:`units` or :data:`GENERIC_UNITS`, no JSON definition, no
    population averaging.  Subclasses override attributes and methods.

    Attributes
    ----------
    name : str or None
        Default probe name (None: the probe's class name in lower case).
    units : str or None
        Units of every channel, per nA of membrane current (e.g. ``"mV"``).
    serialised_as : type or None
        Class that :func:`xkernels.probes.probe_from_definition` rebuilds, as
        ``serialised_as(cell=None, **params)``; None if the kind has no definition.
    describes_subclasses : bool
        Whether subclasses of the registered class are described as
        ``serialised_as`` too (otherwise only the registered class itself is).
    float_params : tuple of str
        Constructor parameters read from the probe's attributes of the same name,
        written as floats or (nested) lists of floats and rebuilt as float arrays
        (scalars stay floats).
    plain_params : tuple of str
        Constructor parameters written as they are (str, int, None).
    averaged : bool
        Contact-based model: its matrix is averaged over the cell positions of the
        population (see :func:`xkernels.probes.probe_matrix`).
    lateral_only : bool
        With ``averaged``: average over lateral offsets only (z fixed).
    depth_affine : bool
        The matrix is an affine function of the cell's depth offset (dipole probes),
        which makes depth averaging cheap (:meth:`depth_terms`).

    Examples
    --------
    A new probe class -- the mean membrane current of the cell times a gain (mV/nA),
    a toy model -- and its kind, which names it, gives its units and makes it
    storable:

    >>> import lfpykit
    >>> class MeanCurrent(lfpykit.LinearModel):
    ...     def __init__(self, cell=None, gain=1.0):
    ...         super().__init__(cell=cell)
    ...         self.gain = gain
    ...     def get_transformation_matrix(self):
    ...         n = self.cell.totnsegs
    ...         return np.full((1, n), self.gain / n)
    >>> @register(MeanCurrent)
    ... class MeanCurrentKind(ProbeKind):
    ...     name = "mean"
    ...     units = "mV"
    ...     serialised_as = MeanCurrent
    ...     float_params = ("gain",)
    >>> probe = MeanCurrent(gain=2.0)
    >>> kind = kind_of(probe)
    >>> type(kind).__name__, kind.default_name(probe), kind.units_of(probe)
    ('MeanCurrentKind', 'mean', 'mV')
    >>> kind.build(kind.params(probe)).gain          # rebuilt from its definition
    2.0

    The probe now works everywhere a built-in one does:

    >>> from xkernels.probes import probe_channels, probe_definition
    >>> probe_channels("mean", probe)["probe_channel"][1].tolist()
    ['mean:0']
    >>> probe_definition(probe)["params"]
    {'gain': 2.0}
    """

    name: str | None = None
    units: str | None = None
    serialised_as: type | None = None
    describes_subclasses: bool = False
    float_params: tuple[str, ...] = ()
    plain_params: tuple[str, ...] = ()
    averaged: bool = False
    lateral_only: bool = False
    depth_affine: bool = False

    # -- naming and channels ------------------------------------------------ #
    def default_name(self, probe: lfpykit.LinearModel) -> str:
        """Conventional probe name, e.g. ``"lfp"``.

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        str
            :attr:`name`, or the probe's class name in lower case.

        Examples
        --------
        >>> from xkernels.probes import GaussCylinderPotential
        >>> probe = GaussCylinderPotential(z=[0.0, 100.0])
        >>> kind_of(probe).default_name(probe)
        'lfp'
        >>> sphere = lfpykit.OneSphereVolumeConductor(cell=None, r=np.array([[0.0], [0.0],
        ...                                           [500.0]]), R=10000.0)
        >>> kind_of(sphere).default_name(sphere)        # the generic kind: the class name
        'onespherevolumeconductor'
        """
        return self.name or type(probe).__name__.lower()

    def channels(self, name: str, probe: lfpykit.LinearModel) -> dict[str, tuple[str, np.ndarray]]:
        """``probe_channel`` coordinates (see ``contract.channel_coords``).

        Generic rule: one channel per row of the matrix, read off the matrix for a
        small probing geometry (two short segments near the origin); positions
        from ``probe.x/y/z`` (or a stacked ``probe.r`` of shape (3, n)) when they
        have one value per row.

        Parameters
        ----------
        name : str
            The probe's name (the ``probe`` coordinate).
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        dict
            Coordinate name -> (dim, values): labels, ``probe``, ``units``, ``x``, ``y``,
            ``z`` (µm, NaN where meaningless).

        Raises
        ------
        TypeError
            The probe has no known units (an error of the model itself, e.g. one
            refusing the probing geometry, propagates as it is).

        Examples
        --------
        Channels of an LFP probe with contacts at two depths (µm):

        >>> from xkernels.probes import GaussCylinderPotential
        >>> probe = GaussCylinderPotential(z=[0.0, 100.0])
        >>> coords = kind_of(probe).channels("lfp", probe)
        >>> coords["probe_channel"][1].tolist(), coords["units"][1].tolist()
        (['lfp:0', 'lfp:1'], ['mV', 'mV'])
        >>> coords["z"][1].tolist()
        [0.0, 100.0]

        The generic rule, for a model without a kind of its own (one channel per row of
        its matrix, at the electrode position ``r``, µm):

        >>> sphere = lfpykit.OneSphereVolumeConductor(cell=None, r=np.array([[0.0], [0.0],
        ...                                           [500.0]]), R=10000.0)
        >>> coords = kind_of(sphere).channels("sphere", sphere)
        >>> coords["probe_channel"][1].tolist(), coords["z"][1].tolist()
        (['sphere:0'], [500.0])
        """
        kind = type(probe).__name__
        units = self.units_of(probe)
        if not isinstance(units, str) or not units:
            raise TypeError(f"probe {name!r} ({kind}) has no known units: set "
                            f"probe.units = '<units per nA>' (e.g. 'mV') before using it")
        probing = lfpykit.CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
                                       z=np.array([[-5.0, 0.0], [0.0, 5.0]]), d=np.ones(2))
        rows = matrix_of(probe, probing).reshape(-1, 2).shape[0]
        positions = []
        stacked = getattr(probe, "r", None)  # e.g. OneSphereVolumeConductor: r, (3, n)
        stacked = None if stacked is None else np.asarray(stacked, dtype=float)
        for i, axis in enumerate(("x", "y", "z")):
            values = getattr(probe, axis, None)
            if values is None and stacked is not None and stacked.shape == (3, rows):
                values = stacked[i]
            arr = None if values is None else np.asarray(values, dtype=float).ravel()
            positions.append(arr if arr is not None and arr.size == rows else None)
        return channel_coords(name, numbered(name, rows), units, *positions)

    def units_of(self, probe: lfpykit.LinearModel) -> str | None:
        """Channel units: ``probe.units`` if set, else :attr:`units`, else the table.

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        str or None
            Units of the channels per nA of membrane current (e.g. ``"mV"``), None if
            unknown.

        Examples
        --------
        >>> from xkernels.probes import CurrentDipoleMomentZ
        >>> kind_of(CurrentDipoleMomentZ()).units_of(CurrentDipoleMomentZ())
        'nA µm'

        A model of lfpykit without a kind of its own: from :data:`GENERIC_UNITS`, unless
        the probe's ``units`` attribute says otherwise:

        >>> sphere = lfpykit.OneSphereVolumeConductor(cell=None, r=np.array([[0.0], [0.0],
        ...                                           [500.0]]), R=10000.0)
        >>> kind_of(sphere).units_of(sphere)
        'mV'
        >>> sphere.units = "µV"
        >>> kind_of(sphere).units_of(sphere)
        'µV'
        """
        return (getattr(probe, "units", None) or self.units
                or GENERIC_UNITS.get(type(probe).__name__))

    # -- JSON definition ---------------------------------------------------- #
    def params(self, probe: lfpykit.LinearModel) -> dict[str, Any]:
        """JSON-serialisable constructor parameters of ``serialised_as``.

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        dict
            Keyword arguments that rebuild the probe: :attr:`float_params` as floats or
            lists of floats, then :attr:`plain_params` (empty for the generic kind).

        Examples
        --------
        Contact depths (µm), conductivity (S/m), radius and depth spread (µm) of an LFP
        probe:

        >>> from xkernels.probes import GaussCylinderPotential
        >>> probe = GaussCylinderPotential(z=[0.0, 100.0], sigma=0.3, R=150.0, sigma_z=75.0)
        >>> kind_of(probe).params(probe)
        {'z': [0.0, 100.0], 'sigma': 0.3, 'R': 150.0, 'sigma_z': 75.0}
        """
        out = {key: json_floats(getattr(probe, key)) for key in self.float_params}
        return out | {key: getattr(probe, key) for key in self.plain_params}

    def build(self, params: Mapping[str, Any]) -> lfpykit.LinearModel:
        """The probe of a definition's ``params`` (``cell=None``).

        Parameters
        ----------
        params : mapping
            Constructor parameters, as written by :meth:`params`.

        Returns
        -------
        lfpykit.LinearModel
            A new probe of class ``serialised_as``.

        Raises
        ------
        TypeError
            The kind has no definition (``serialised_as`` is None).

        Examples
        --------
        >>> from xkernels.probes import GaussCylinderPotential
        >>> kind = kind_of(GaussCylinderPotential(z=[0.0]))
        >>> probe = kind.build({"z": [0.0, 100.0], "sigma": 0.3, "R": 150.0, "sigma_z": 75.0})
        >>> type(probe).__name__, probe.z, probe.cell
        ('GaussCylinderPotential', array([  0., 100.]), None)

        The generic kind has no definition to build from:

        >>> ProbeKind().build({})
        Traceback (most recent call last):
        ...
        TypeError: ProbeKind has no definition to build from
        """
        if self.serialised_as is None:
            raise TypeError(f"{type(self).__name__} has no definition to build from")
        params = dict(params)
        for key in self.float_params:
            if np.ndim(params.get(key)) > 0:
                params[key] = np.asarray(params[key], dtype=float)
        return self.serialised_as(cell=None, **params)

    # -- population averaging ----------------------------------------------- #
    def evaluated_as(self, probe: lfpykit.LinearModel) -> lfpykit.LinearModel:
        """The model whose matrix is computed for ``probe`` (default: itself).

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        lfpykit.LinearModel
            The model evaluated in its place (e.g. a faster equivalent).

        Examples
        --------
        By default a probe is evaluated as itself:

        >>> from xkernels.probes import GaussCylinderPotential
        >>> probe = GaussCylinderPotential(z=[0.0, 100.0])
        >>> kind_of(probe).evaluated_as(probe) is probe
        True

        A kind may substitute an equivalent model (as :mod:`xkernels.compat` does for
        LFPykernels' own ``GaussCylinderPotential``, evaluated with the fast one):

        >>> class FastCylinderKind(ProbeKind):
        ...     def evaluated_as(self, probe):
        ...         return GaussCylinderPotential(z=probe.z, sigma=probe.sigma, R=probe.R,
        ...                                       sigma_z=probe.sigma_z)
        >>> model = FastCylinderKind().evaluated_as(probe)
        >>> model is probe, model.z.tolist()
        (False, [0.0, 100.0])
        """
        return probe

    def source_model(self, probe: lfpykit.LinearModel) -> str | None:
        """The source model of a contact-based probe that has closed forms.

        ``"pointsource"`` and ``"linesource"`` (isotropic, point contacts): the
        population average of :func:`~xkernels.probes.probe_matrix` uses lfpykit's
        elementwise formulas for all cell positions at once, and depth averaging the
        disc average in closed form (:mod:`xkernels.probes.lateral`), which also knows
        ``"root_as_point"``.  None: the cell is moved one position at a time.

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe.

        Returns
        -------
        str or None
            ``"pointsource"``, ``"linesource"``, ``"root_as_point"`` or None.

        Examples
        --------
        Point-source contacts (µm, S/m) have closed forms; models that are not averaged
        over cell positions have none:

        >>> contacts = lfpykit.PointSourcePotential(cell=None, x=np.array([0.0]),
        ...                                         y=np.array([0.0]), z=np.array([300.0]),
        ...                                         sigma=0.3)
        >>> kind_of(contacts).source_model(contacts)
        'pointsource'
        >>> from xkernels.probes import CurrentDipoleMomentZ
        >>> print(kind_of(CurrentDipoleMomentZ()).source_model(CurrentDipoleMomentZ()))
        None
        """
        return None

    # -- depth averaging (compute_kernels(..., averaging="depth")) ----------- #
    def check_depth(self, probe: lfpykit.LinearModel, population: Mapping[str, float],
                    field: str = "probe", population_field: str = "population") -> None:
        """Raise if ``probe`` cannot be integrated over the soma depths of ``population``
        (e.g. its own depth smoothing conflicts with them); called before simulating.

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe (before :meth:`evaluated_as`).
        population : Mapping[str, float]
            ``radius``, ``loc``, ``scale`` (µm).
        field, population_field : str
            Names of the probe and the population in messages.

        Raises
        ------
        ValueError
            Naming the probe, the population and the rule.

        Examples
        --------
        >>> import numpy as np, xkernels
        >>> from xkernels.probes import kind_of
        >>> cdm = xkernels.CurrentDipoleMomentZ(cell=None)
        >>> kind_of(cdm).check_depth(cdm, {"radius": 150.0, "loc": 0.0, "scale": 75.0})
        >>> lfp = xkernels.GaussCylinderPotential(cell=None, z=np.array([0.0]), sigma=0.3,
        ...                                       R=150.0, sigma_z=20.0)
        >>> kind_of(lfp).check_depth(lfp, {"radius": 150.0, "loc": 0.0, "scale": 75.0})
        Traceback (most recent call last):
        ...
        ValueError: probe.sigma_z = 20.0 µm is smaller than population.scale = 75.0 µm: ...
        """
        if self.averaged:
            check_disc(population, population_field)

    def depth_terms(self, probe: lfpykit.LinearModel, geometry: Any,
                    population: Mapping[str, float]) -> DepthTerms:
        """The probe's matrix as a function of the cell's depth offset (see
        :mod:`xkernels.probes.depth`).

        Default: probes without population averaging are evaluated on the cell moved in
        depth (:func:`~xkernels.probes.depth_terms.moved_terms`); contact-based ones
        averaged over the population disc in closed form where they have a
        :meth:`source_model` (:func:`~xkernels.probes.depth_terms.contact_terms`), else by
        a fixed quadrature (:func:`~xkernels.probes.depth_terms.lateral_quadrature_terms`).

        Parameters
        ----------
        probe : lfpykit.LinearModel
            The probe (as :meth:`evaluated_as` returns it; its ``cell`` is not used).
        geometry : lfpykit.CellGeometry
            The cell at the population's depth ``loc`` (µm).
        population : Mapping[str, float]
            ``radius``, ``loc``, ``scale`` (µm).

        Returns
        -------
        DepthTerms
            ``M(s)``: a smooth part and closed-form kinks (channel units per nA).

        Examples
        --------
        >>> import lfpykit, numpy as np, xkernels
        >>> from xkernels.probes import kind_of
        >>> stick = lfpykit.CellGeometry(
        ...     x=np.zeros((3, 2)), y=np.zeros((3, 2)), d=np.full(3, 2.0),
        ...     z=np.array([[0.0, 100.0], [100.0, 200.0], [200.0, 300.0]]))
        >>> cdm = xkernels.CurrentDipoleMomentZ(cell=None)
        >>> terms = kind_of(cdm).depth_terms(cdm, stick, {"radius": 150.0, "loc": 0.0,
        ...                                               "scale": 50.0})
        >>> terms.exact(10.0)  # the cell 10 µm up: its segments' midpoints move with it
        array([[ 60., 160., 260.]])
        """
        if not self.averaged:
            return moved_terms(probe, geometry, self.depth_affine)
        method = self.source_model(probe)
        if method is None:
            return lateral_quadrature_terms(probe, geometry, population)
        contacts = np.column_stack([np.asarray(v, dtype=float).ravel()
                                    for v in (probe.x, probe.y, probe.z)])
        return contact_terms(contacts, float(probe.sigma), geometry, population,
                             line=method != "pointsource",
                             root_as_point=method == "root_as_point")


_BY_CLASS: dict[type, ProbeKind] = {}
_MATCHING: dict[str, tuple[Callable[[type], bool], ProbeKind]] = {}


def register(cls: type) -> Callable[[type[K]], type[K]]:
    """Class decorator: register an instance of the decorated kind for ``cls``.

    Parameters
    ----------
    cls : type
        Probe class (an ``lfpykit.LinearModel`` subclass); its subclasses get the
        same kind unless they have one of their own.  Registering again replaces.

    Returns
    -------
    callable
        The decorator, returning the kind class unchanged.

    Examples
    --------
    A subclass of lfpykit's current dipole moment with the z row only, named and
    labelled like :class:`~xkernels.probes.CurrentDipoleMomentZ` (nA µm):

    >>> import lfpykit
    >>> class DipoleZ(lfpykit.CurrentDipoleMoment):
    ...     def get_transformation_matrix(self):
    ...         return super().get_transformation_matrix()[2:]
    >>> from xkernels.probes import probe_channels
    >>> probe_channels("p", DipoleZ(cell=None))["probe_channel"][1].tolist()  # lfpykit's
    ['p:x', 'p:y', 'p:z']
    >>> from xkernels.contract import channel_coords
    >>> from xkernels.probes.kinds import CurrentDipoleMomentKind
    >>> @register(DipoleZ)
    ... class DipoleZKind(CurrentDipoleMomentKind):
    ...     def channels(self, name, probe):
    ...         return channel_coords(name, [f"{name}:z"], self.units)
    >>> probe_channels("p", DipoleZ(cell=None))["probe_channel"][1].tolist()
    ['p:z']
    """
    if not (isinstance(cls, type) and issubclass(cls, lfpykit.LinearModel)):
        fail("register(cls)", cls, "a subclass of lfpykit.LinearModel", TypeError)

    def decorate(kind: type[K]) -> type[K]:
        _BY_CLASS[cls] = kind()
        return kind

    return decorate


def register_matching(label: str, predicate: Callable[[type], bool], kind: ProbeKind) -> None:
    """Register ``kind`` for every class accepted by ``predicate``.

    For classes that cannot be imported where the kind is defined (e.g. the classes
    of an optional package, recognised by module and name).

    Parameters
    ----------
    label : str
        Name of the matched classes in messages, e.g.
        ``"lfpykernels.GaussCylinderPotential"``; registering a label again replaces.
    predicate : callable
        ``predicate(cls) -> bool`` for each class of a probe's MRO.
    kind : ProbeKind
        The kind used for the matched classes.

    Raises
    ------
    TypeError
        ``kind`` is not a ProbeKind instance.

    Examples
    --------
    ``Dipole`` stands for a class of an optional package ``otherpkg`` that xkernels
    cannot import; it is recognised by module and name:

    >>> import lfpykit
    >>> class Dipole(lfpykit.CurrentDipoleMoment):
    ...     __module__ = "otherpkg.models"
    >>> type(kind_of(Dipole(cell=None))).__name__       # inherited from lfpykit's class
    'CurrentDipoleMomentKind'
    >>> from xkernels.probes.kinds import CurrentDipoleMomentZKind
    >>> register_matching("otherpkg.Dipole",
    ...                   lambda cls: (cls.__name__ == "Dipole"
    ...                                and cls.__module__.split(".")[0] == "otherpkg"),
    ...                   CurrentDipoleMomentZKind())
    >>> type(kind_of(Dipole(cell=None))).__name__
    'CurrentDipoleMomentZKind'
    """
    if not isinstance(kind, ProbeKind):
        fail(f"register_matching({label!r}).kind", kind, "a ProbeKind instance", TypeError)
    _MATCHING[label] = (predicate, kind)


def _lookup(probe: Any) -> tuple[type, ProbeKind] | None:
    """The first class of ``probe``'s MRO with a kind, and that kind (None for a probe
    that is not an ``lfpykit.LinearModel``)."""
    if not isinstance(probe, lfpykit.LinearModel):
        return None
    for base in type(probe).__mro__:
        kind = _BY_CLASS.get(base)
        if kind is not None:
            return base, kind
        for predicate, kind in _MATCHING.values():
            if predicate(base):
                return base, kind
    return None


def kind_of(probe: Any) -> ProbeKind:
    """The :class:`ProbeKind` of ``probe`` (an ``lfpykit.LinearModel``).

    Parameters
    ----------
    probe : lfpykit.LinearModel
        The probe.

    Returns
    -------
    ProbeKind
        The kind registered for the first class of the probe's MRO that has one.

    Raises
    ------
    TypeError
        If ``probe`` is not an ``lfpykit.LinearModel``.

    Examples
    --------
    >>> from xkernels.probes import CurrentDipoleMomentZ
    >>> kind_of(CurrentDipoleMomentZ()).default_name(CurrentDipoleMomentZ())
    'cdm'
    """
    found = _lookup(probe)
    if found is None:
        raise TypeError(f"probe must be an lfpykit.LinearModel, got {type(probe).__name__}")
    return found[1]


def describing_kind(probe: Any) -> ProbeKind | None:
    """The kind that writes ``probe``'s definition, or None if it has none."""
    owner, kind = _lookup(probe) or (None, None)
    if kind is None or kind.serialised_as is None or (owner is not type(probe) and
                                                      not kind.describes_subclasses):
        return None
    return kind


def serialised_paths() -> list[str]:
    """Sorted class paths that definitions may name (one per serialisable class)."""
    return sorted(class_path(cls) for cls, kind in _BY_CLASS.items()
                  if kind.serialised_as is cls)


def matching_labels() -> list[str]:
    """Labels of the kinds registered with :func:`register_matching` that have a
    definition."""
    return [label for label, (_, kind) in _MATCHING.items() if kind.serialised_as is not None]


def kind_for_path(path: str) -> ProbeKind | None:
    """The kind that builds definitions of class ``path`` (public or module path)."""
    for cls, kind in _BY_CLASS.items():
        if kind.serialised_as is cls and path in (class_path(cls),
                                                  f"{cls.__module__}.{cls.__name__}"):
            return kind
    return None

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

The module also holds the kinds of xkernels' forward models and of lfpykit's models
(lfpykit classes without one -- ``OneSphereVolumeConductor``, the current source
densities, user subclasses of ``LinearModel`` -- get the generic kind; LFPykernels'
classes are registered by :mod:`xkernels.compat`), and the thin functions over the
kinds that give probes as data: names, channel coordinates and JSON definitions
(every answer comes from the probe's kind, so none changes when a class is added).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import lfpykit
import numpy as np

from xkernels.checks import close_matches, fail
from xkernels.contract import channel_coords
from xkernels.probes.depth import DepthTerms
from xkernels.probes.depth_terms import (
    check_disc,
    contact_terms,
    gauss_cylinder_terms,
    lateral_quadrature_terms,
    matrix_of,
    moved_terms,
    residual_sigma_z,
)
from xkernels.probes.lead_field import LeadFieldProbe
from xkernels.probes.models import (
    CSDProbe,
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    MEGProbe,
)

__all__ = ["GENERIC_UNITS", "CSDKind", "ContactKind", "CurrentDipoleMomentKind",
           "CurrentDipoleMomentZKind", "EEGKind", "GaussCylinderKind", "LeadFieldKind",
           "LineSourceKind", "MEGKind", "PointSourceKind",
           "ProbeKind", "RecExtElectrodeKind", "RecMEAElectrodeKind", "UndescribedProbe",
           "check_probe_name", "class_path", "default_probe_name", "kind_of",
           "normalize_probes", "numbered", "probe_channels", "probe_definition",
           "probe_definitions", "probe_from_definition", "register", "register_matching"]

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
    >>> from xkernels.probes.registry import CurrentDipoleMomentKind
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
    >>> from xkernels.probes.registry import CurrentDipoleMomentZKind
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


def serialised_paths() -> list[str]:
    """Sorted class paths that definitions may name (one per serialisable class)."""
    return sorted(class_path(cls) for cls, kind in _BY_CLASS.items()
                  if kind.serialised_as is cls)


def kind_for_path(path: str) -> ProbeKind | None:
    """The kind that builds definitions of class ``path`` (public or module path)."""
    for cls, kind in _BY_CLASS.items():
        if kind.serialised_as is cls and path in (class_path(cls),
                                                  f"{cls.__module__}.{cls.__name__}"):
            return kind
    return None


# -- the built-in kinds: xkernels' forward models and lfpykit's models ------- #

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


@register(CSDProbe)
class CSDKind(ProbeKind):
    """Laminar CSD of the population column: one channel per slab centre, µA/mm³;
    depth averaging evaluates it on the cell moved in depth."""

    name = "csd"
    units = "µA/mm³"
    serialised_as = CSDProbe
    describes_subclasses = True
    float_params = ("z", "h", "R")

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        z = np.asarray(probe.z, dtype=float)
        return channel_coords(name, numbered(name, z.size), self.units, z=z)


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
        names = getattr(probe, "names", None)
        labels = numbered(name, len(r)) if names is None else [f"{name}:{n}" for n in names]
        return channel_coords(name, labels, self.units, r[:, 0], r[:, 1], r[:, 2])

    def params(self, probe: Any) -> dict[str, Any]:
        return with_names(super().params(probe), probe)


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
        names = getattr(probe, "names", None) or range(len(sensors))
        labels = [f"{name}:{i}:{c}" for i in names for c in "xyz"]
        return channel_coords(name, labels, self.units, r[:, 0], r[:, 1], r[:, 2])

    def params(self, probe: Any) -> dict[str, Any]:
        return with_names(super().params(probe), probe)


def with_names(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    """``params`` plus the probe's channel ``names`` when it has any (a probe without
    names keeps the definition, hence the content hash, it always had).

    Parameters
    ----------
    params : dict
        Constructor parameters.
    probe : lfpykit.LinearModel
        An EEG or MEG probe.

    Returns
    -------
    dict
        ``params``, with ``names`` if the probe names its channels.

    Examples
    --------
    >>> from xkernels.probes import EEGProbe
    >>> with_names({}, EEGProbe([[0.0, 0.0, 90000.0]], names=["Cz"]))
    {'names': ['Cz']}
    """
    names = getattr(probe, "names", None)
    return params if names is None else params | {"names": list(names)}


@register(LeadFieldProbe)
class LeadFieldKind(ProbeKind):
    """EEG/MEG from a user's lead field: one channel per sensor (``name:i`` or
    ``name:<sensor name>``) at the sensor positions, in the lead field's channel units
    (mV, µV, fT or fT/m per nA)."""

    depth_affine = True

    serialised_as = LeadFieldProbe
    float_params = ("lead_field", "dipole_position", "sensor_positions")

    def default_name(self, probe: Any) -> str:
        units = set(probe.channel_units)
        return ("eeg" if units <= {"mV", "µV"} else "meg" if units <= {"fT", "fT/m"}
                else "leadfield")

    def units_of(self, probe: Any) -> str | None:
        units = list(dict.fromkeys(probe.channel_units))
        return units[0] if len(units) == 1 else ", ".join(units)

    def params(self, probe: Any) -> dict[str, Any]:
        return super().params(probe) | {"units": probe.units_in, "names": probe.names}

    def channels(self, name: str, probe: Any) -> dict[str, tuple[str, np.ndarray]]:
        n = probe.lead_field.shape[0]
        labels = (numbered(name, n) if probe.names is None
                  else [f"{name}:{c}" for c in probe.names])
        r = probe.sensor_positions
        positions = (None, None, None) if r is None else (r[:, 0], r[:, 1], r[:, 2])
        return channel_coords(name, labels, probe.channel_units, *positions)


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


# -- probes as data: names, channel coordinates and JSON definitions ------- #


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
    owner, kind = _lookup(probe) or (None, None)
    if kind is None or kind.serialised_as is None or (owner is not type(probe) and
                                                      not kind.describes_subclasses):
        cls = type(probe)
        others = [label for label, (_, matching) in _MATCHING.items()
                  if matching.serialised_as is not None]
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
        paths = serialised_paths()
        names = {p.rsplit(".", 1)[-1]: p for p in paths}
        close = close_matches(path, paths, 1) or [names[n] for n in close_matches(
            str(path).rsplit(".", 1)[-1], names, 1)]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"probe definition 'class' must be one of {paths}, got {path!r}"
                         f"{hint}")
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

"""The options of a kernel computation: one frozen, validated :class:`KernelOptions`.

Every option and its default is written once, here.  :func:`xkernels.compute_kernels`,
:func:`xkernels.sweep`, :func:`xkernels.validate`, the command line (the ``options``
block of SPEC.json is this object's JSON), :mod:`xkernels.compat`, the stored
provenance and the cache keys all read it.

The defaults are the accurate kernels: ``averaging="depth"``, ``g_eff="auto"`` (on for a
conductance-based network), ``operating_point="auto"`` (``"mean-input"`` wherever
conductance-based synapses are linearised with g_eff, ``"rest"`` otherwise) and
``linearisation="auto"`` (``"quasi-active"`` for an active membrane or one only known
once built, ``"as-is"`` for one known passive).
``averaging="reference", operating_point="rest", linearisation="as-is"`` (with ``g_eff``
as LFPykernels is given it) reproduce LFPykernels 0.2.0.  :meth:`KernelOptions.resolve`
turns ``"auto"`` into the concrete values for one network and checks what needs the
network (g_eff on a current-based network, the rates the mean input needs, the keys of
per-population ``Vrest`` and ``linearisation``); the engine, the stores, the cache keys and the
provenance only ever see resolved options.  Errors are one line naming the option, the
value and what is allowed (TypeError for a wrong type, ValueError for a bad value).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import numpy as np
from pydantic import model_validator

from xkernels.checks import (
    check_bool,
    check_choice,
    check_int,
    check_real,
    did_you_mean,
    fail,
)
from xkernels.spec.base import Real, Spec, checked
from xkernels.spec.presets import CELLS_DIR

if TYPE_CHECKING:
    from xkernels.spec.network import Network

Linearisation = Literal["auto", "as-is", "passive", "frozen", "quasi-active"]
OperatingPoint = Literal["rest", "mean-input", "auto"]
Averaging = Literal["reference", "depth"]
Solver = Literal["auto", "neuron", "linear"]
#: Membrane linearisation modes (see :mod:`xkernels.engine.membrane`); ``"as-is"``
#: simulates the cell as specified (LFPykernels' behaviour); ``"auto"`` (the default) is
#: resolved per postsynaptic population by :func:`auto_linearisation`.
LINEARISATIONS: tuple[str, ...] = get_args(Linearisation)
#: Operating points of conductance-based synapses: ``"rest"`` linearises them around
#: ``Vrest`` (or the resting state a linearisation finds; LFPykernels' behaviour),
#: ``"mean-input"`` around the per-segment potential of the cell under the mean input;
#: ``"auto"`` (the default) is ``"mean-input"`` where g_eff is on, else ``"rest"``.
OPERATING_POINTS: tuple[str, ...] = get_args(OperatingPoint)
#: The value of ``g_eff`` and ``operating_point`` that :meth:`KernelOptions.resolve`
#: replaces by a concrete one for the network.
AUTO = "auto"
#: Population-averaging modes (:mod:`xkernels.engine.depth_average`).
AVERAGING_MODES: tuple[str, ...] = get_args(Averaging)
#: How kernels are computed (:mod:`xkernels.engine.cable`): ``"neuron"`` time-steps
#: every response in NEURON, ``"linear"`` evaluates NEURON's fixed-step scheme of a
#: linear membrane in closed form, ``"auto"`` takes ``"linear"`` wherever it is exact.
SOLVERS: tuple[str, ...] = get_args(Solver)
#: Relative tolerance of "a whole number of time steps" (``tau / dt``).
WHOLE_RTOL = 1e-9

VrestValue = float | tuple[float, ...]


def whole_steps(value: float, dt: float) -> int | None:
    """``value / dt`` as an int when it is a whole number to :data:`WHOLE_RTOL`, else None.

    Parameters
    ----------
    value, dt : float
        A duration and the time step (ms), ``dt > 0``.

    Examples
    --------
    >>> whole_steps(50.0, 0.1), whole_steps(50.0, 0.3)
    (500, None)
    """
    n = int(round(value / dt))
    if abs(n * dt - value) > WHOLE_RTOL * max(abs(value), dt):
        return None
    return n


def _vrest_value(field: str, value: Any) -> VrestValue:
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value, dtype=float)
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ValueError(f"{field} must be a number or a 1-D list of finite values (mV)")
        return tuple(float(v) for v in arr)
    return check_real(field, value)


def _vrest(field: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _vrest_value(f"{field}[{k!r}]", v) for k, v in value.items()}
    return _vrest_value(field, value)


def _g_eff(field: str, value: Any) -> bool | str:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == AUTO:
        return AUTO
    fail(field, value, f"True, False or {AUTO!r}",
         ValueError if isinstance(value, str) else TypeError)


def _linearisation(field: str, value: Any) -> Any:
    if isinstance(value, str):
        return check_choice(field, value, LINEARISATIONS)
    if not isinstance(value, Mapping):
        fail(field, value, f"one of {list(LINEARISATIONS)} or a dict population -> mode",
             TypeError)
    return {str(post): check_choice(f"{field}[{post!r}]", mode, LINEARISATIONS)
            for post, mode in value.items()}


def _solver(field: str, value: Any) -> Any:
    if isinstance(value, str):
        return check_choice(field, value, SOLVERS)
    if not isinstance(value, Mapping):
        fail(field, value, f"one of {list(SOLVERS)} or a dict population -> solver",
             TypeError)
    return {str(post): check_choice(f"{field}[{post!r}]", v, SOLVERS)
            for post, v in value.items()}


def linear_applies(mode: str, cell: Any) -> bool:
    """Whether ``solver="auto"`` takes the linear solver for a population, from its
    specification: its membrane linearised (``"passive"``, ``"frozen"`` or
    ``"quasi-active"``), or taken ``"as-is"`` with the ``passive`` biophysics preset and
    no ``custom_fun`` (the mechanisms a callable inserts are unknown before the cell is
    built: NEURON).

    Parameters
    ----------
    mode : str
        The population's linearisation.
    cell : CellSpec
        Its cell (``biophysics``, ``params``).

    Examples
    --------
    >>> from xkernels.spec.network import Network
    >>> passive = Network.example().population("E").cell
    >>> active = Network.example(active=True).population("E").cell
    >>> linear_applies("as-is", passive), linear_applies("as-is", active)
    (True, False)
    >>> linear_applies("frozen", active), linear_applies("quasi-active", active)
    (True, True)
    """
    if mode in ("passive", "frozen", "quasi-active"):
        return True
    bio = cell.biophysics
    return mode == "as-is" and isinstance(bio, Mapping) and bio.get("name") == "passive" \
        and not cell.params.get("custom_fun")


def embedded_template(cell: Any) -> bool:
    """Whether a cell's template is known to insert no mechanism: none given (a
    morphology file alone) or the template of xkernels' embedded cells.

    Parameters
    ----------
    cell : CellSpec
        A population's cell.

    Examples
    --------
    >>> from xkernels.spec.network import Network
    >>> embedded_template(Network.example().population("E").cell)
    True
    """
    if cell.templatefile is None:
        return True
    key = str(cell.templatefile)  # resolve("templatefile") depends on nothing else
    found = _EMBEDDED.get(key)
    if found is None:
        found = cell.resolve("templatefile").parent == _cells_dir()
        if len(_EMBEDDED) >= 256:
            _EMBEDDED.clear()
        _EMBEDDED[key] = found
    return found


#: :func:`embedded_template` per template file (resolving a path reads the file system).
_EMBEDDED: dict[str, bool] = {}


@functools.lru_cache(maxsize=1)
def _cells_dir() -> Path:
    """The embedded cells' folder, resolved (kept: resolving reads the file system,
    ~0.1 ms, and every :meth:`KernelOptions.resolve` asks per population)."""
    return CELLS_DIR.resolve()


def passive_spec(cell: Any) -> bool:
    """Whether a cell's membrane is known passive from its specification alone: the
    ``passive`` biophysics preset, or the ``active`` preset with every voltage-gated
    conductance (Na, K, h) 0; no ``custom_fun``, no folder of the user's own NMODL
    (``mechanisms``) and no template of the user's own (only the embedded cells'
    templates, which insert no mechanism, are known without building the cell).

    Parameters
    ----------
    cell : CellSpec
        A population's cell.

    Examples
    --------
    >>> from xkernels.spec.network import Network
    >>> passive_spec(Network.example().population("E").cell)
    True
    >>> passive_spec(Network.example(active=True).population("E").cell)
    False
    """
    bio = cell.biophysics
    if not isinstance(bio, Mapping) or cell.params.get("custom_fun") \
            or cell.mechanisms is not None or not embedded_template(cell):
        return False
    return bio.get("name") == "passive" or (bio.get("name") == "active"
                                             and not active_preset(cell))


def auto_linearisation(cell: Any) -> str:
    """What ``linearisation="auto"`` is for a population's cell, from its specification:
    ``"quasi-active"`` for an active membrane (:func:`active_preset`; the most accurate
    against the hybrid ground truth, docs/linearisation.md), ``"as-is"`` for a membrane
    known passive (:func:`passive_spec`: exact, LFPykernels' behaviour), and
    ``"quasi-active"`` for a membrane only known once the cell is built (a callable
    biophysics, ``custom_fun``, a ``mechanisms`` folder or a template of the user's own):
    a cell that turns out passive once built (only ``pas`` in every section) is then
    computed as ``"as-is"``, the same kernels at the same cost
    (:meth:`xkernels.engine.plans.KernelPlan.membrane_mode`), an active one with the
    accurate linearisation.

    Parameters
    ----------
    cell : CellSpec
        A population's cell.

    Returns
    -------
    str
        ``"as-is"`` or ``"quasi-active"``.

    Examples
    --------
    >>> from xkernels.spec.network import Network
    >>> auto_linearisation(Network.example().population("E").cell)
    'as-is'
    >>> auto_linearisation(Network.example(active=True).population("E").cell)
    'quasi-active'
    """
    return "as-is" if passive_spec(cell) else "quasi-active"


def active_preset(cell: Any) -> bool:
    """Whether a cell has the ``active`` biophysics preset with a voltage-gated channel
    (Na, K or h conductance > 0): an active membrane known from the specification alone
    (a callable biophysics or ``custom_fun`` is only known once the cell is built).

    Parameters
    ----------
    cell : CellSpec
        A population's cell.

    Examples
    --------
    >>> from xkernels.spec.network import Network
    >>> active_preset(Network.example(active=True).population("E").cell)
    True
    >>> active_preset(Network.example().population("E").cell)
    False
    """
    bio = cell.biophysics
    return isinstance(bio, Mapping) and bio.get("name") == "active" \
        and any((bio.get(key) or 0.0) > 0 for key in ("gnabar", "gkbar", "gh"))


Flag = Annotated[bool, checked(check_bool)]


class KernelOptions(Spec):
    """Every option of a kernel computation, validated; frozen, equal and hashable by value.

    Parameters
    ----------
    dt : float
        Time step (ms), > 0.
    tau : float
        Half width of the kernel (ms); lags ``-tau..tau`` (``dt..tau`` with ``fir``).
        A whole multiple of ``dt``.
    t_X : float
        Presynaptic spike time used when a cell must settle from ``v_init`` (ms);
        ``>= tau``.  Cells with a uniform passive membrane start exactly at rest and
        do not need it.
    Vrest : float, tuple of float or dict
        Membrane potential (mV) around which conductance-based synapses are
        linearised: one value, one value per segment, or a dict per postsynaptic
        population.  Also the leak reversal potential of the ``passive`` preset when
        that has no ``e_pas`` (with ``operating_point="mean-input"`` that is all it
        sets: the synapses are linearised where the mean input holds the cell).
    g_eff : bool or "auto"
        Add the mean conductance of recurrent and extrinsic synapses (at the
        presynaptic populations' ``rate`` and the extrinsic ``nu_ext``) to the membrane
        (needs a conductance-based network).  ``"auto"`` (default): on for a
        conductance-based network, off for a current-based one.
    fir : bool
        Return only the causal lags ``dt..tau``.
    n_positions, seed : int
        Cell positions averaged over for point/line-source probes, and their seed
        (``averaging="reference"``).
    linearisation : str or dict
        How the membrane of each postsynaptic cell is made linear (one mode, or a dict
        postsynaptic population -> mode): ``"auto"`` (default) is resolved per
        population by :meth:`resolve` from the specification alone
        (:func:`auto_linearisation`: ``"quasi-active"`` for the ``active`` preset and
        for a membrane only known once built -- a callable biophysics, ``custom_fun``,
        a ``mechanisms`` folder, a template of the user's own --, ``"as-is"`` for one
        known passive); ``"as-is"`` simulates the cell as specified
        (LFPykernels' behaviour; exact for passive cells, not a kernel for active ones,
        whose response is not linear in the weights); ``"passive"`` removes every
        mechanism but the leak ``pas``; ``"frozen"`` fixes every membrane conductance at
        its value at the resting state; ``"quasi-active"`` linearises the whole
        membrane, gating dynamics included, around the resting state (the limit of
        vanishing synaptic weight).  See :mod:`xkernels.engine.membrane`.  In every mode
        but ``"as-is"`` the cell is settled to its resting state first (refused if it
        has none), conductance-based synapses are linearised around the per-segment
        resting potential found (instead of ``Vrest``) and that potential is reported in
        the ``resting_state`` attribute (JSON, mV per segment; with
        ``averaging="depth"``: of the cell at the population's mean depth with the
        reference g_eff shift).
    averaging : {"depth", "reference"}
        Population averaging (:mod:`xkernels.engine.depth_average`); default
        ``"depth"``.  ``"reference"``
        (LFPykernels 0.2.0): one cell at the population's mean depth, synapse densities
        widened by the depth spread, only the probe averaged over positions.
        ``"depth"``: the soma depths (normal, ``loc``, ``scale``) integrated jointly
        with synapse placement and the forward model by Gauss–Hermite quadrature; the
        probes averaged over the population disc deterministically.  A
        GaussCylinderPotential keeps only the depth smoothing ``sigma_z`` adds beyond
        the population's ``scale`` (``sqrt(sigma_z² - scale²)``; ``sigma_z < scale`` is
        refused); a population with ``scale`` 0 has one node (its kernels are those of
        ``"reference"``).
    depth_nodes : int
        Gauss–Hermite nodes of ``averaging="depth"`` (>= 1; validated in both modes).
    operating_point : {"auto", "rest", "mean-input"}
        Where conductance-based synapses are linearised, ``w (V - E)``.  ``"auto"``
        (default): ``"mean-input"`` where g_eff is on (a conductance-based network),
        ``"rest"`` otherwise (a current-based network has no operating point).  ``"rest"``
        (LFPykernels 0.2.0): at ``Vrest`` (or the resting state a linearisation finds),
        with the g_eff conductance added to the leak at the leak's reversal potential.
        ``"mean-input"``: the g_eff conductance of every synapse is added with *its own*
        reversal potential (extrinsic and recurrent, at the populations' rates), the
        cell (in depth mode: the cell at each depth node) is settled under that mean
        input, and the synapses are linearised around the per-segment potential it
        settles to (reported in the ``resting_state`` attribute).  Needs ``g_eff`` on,
        a conductance-based network and a ``rate`` for every presynaptic population; a
        cell with an active membrane needs a linearisation other than ``"as-is"``.
    solver : {"auto", "neuron", "linear"} or dict
        How the membrane responses are computed (one value, or a dict per postsynaptic
        population).  ``"neuron"``: one NEURON simulation
        per response.  ``"linear"``: the cell's cable is read from NEURON once and
        NEURON's fixed-step scheme (backward Euler) is evaluated in closed form
        (:mod:`xkernels.engine.cable`): the same kernels to rounding, no time stepping,
        and the rest of a passive cell under the mean input is one linear solve.  It
        needs a linear membrane -- a passive cell, or the linearisations ``"passive"``,
        ``"frozen"`` and ``"quasi-active"`` (voltage and gating states as one system
        read from NEURON at the resting state NEURON finds,
        :mod:`xkernels.engine.quasi_active_cable`) -- and is refused for an active cell
        taken ``"as-is"``, and for a quasi-active cell with ``extracellular`` or whose
        NEURON steps the system does not reproduce (named).  ``"auto"``: ``"linear"``
        wherever it applies, else ``"neuron"``, resolved per postsynaptic population by
        :meth:`resolve` (:func:`linear_applies`: any linearisation but ``"as-is"``, or
        the ``passive`` preset taken ``"as-is"``; a callable biophysics taken
        ``"as-is"`` goes to NEURON).  An unstable linearised membrane is refused before
        any kernel: with either solver for ``"passive"`` and ``"frozen"``, with the
        linear solver for ``"quasi-active"`` (a pole of its fixed step on or outside
        the unit circle).

    Notes
    -----
    ``averaging="reference", operating_point="rest", linearisation="as-is"`` (and
    ``g_eff`` as given to LFPykernels) compute the kernels of LFPykernels 0.2.0;
    :mod:`xkernels.compat` passes them.  ``"auto"`` values are resolved for a network
    by :meth:`resolve`: what the kernels, their stores and their cache keys record is
    the resolved value.

    Examples
    --------
    >>> options = KernelOptions(tau=5.0)
    >>> options.tau, options.dt, options.n_lags
    (5.0, 0.0625, 80)
    >>> options.averaging, options.g_eff, options.operating_point
    ('depth', 'auto', 'auto')
    >>> from xkernels.spec.network import Network
    >>> resolved = options.resolve(Network.example())     # conductance-based
    >>> resolved.g_eff, resolved.operating_point, resolved.linearisation
    (True, 'mean-input', 'as-is')
    >>> options.resolve(Network.example(active=True)).linearisation
    'quasi-active'
    >>> options.resolve(Network.microcircuit()).g_eff       # current-based
    False
    >>> options.replace(fir=True) == KernelOptions(tau=5.0, fir=True)
    True
    >>> KernelOptions(dt=0.0625, tau=5.03)
    Traceback (most recent call last):
    ...
    ValueError: tau / dt must be a whole number (to 1e-09 relative): tau = 5.03 ms and
    dt = 0.0625 ms give 80.48; ...
    """

    dt: Real = 2.0 ** -4
    tau: Real = 50.0
    t_X: Real = 200.0
    Vrest: Annotated[VrestValue | dict[str, VrestValue], checked(_vrest)] = -65.0
    g_eff: Annotated[bool | Literal["auto"], checked(_g_eff)] = AUTO
    fir: Flag = False
    n_positions: Annotated[int, checked(check_int, minimum=1)] = 2000
    seed: Annotated[int, checked(check_int, minimum=0)] = 1234
    linearisation: Annotated[Linearisation | dict[str, Linearisation],
                             checked(_linearisation)] = AUTO
    averaging: Annotated[Averaging, checked(check_choice, allowed=AVERAGING_MODES)] = \
        "depth"
    depth_nodes: Annotated[int, checked(check_int, minimum=1)] = 5
    operating_point: Annotated[OperatingPoint, checked(check_choice,
                                                        allowed=OPERATING_POINTS)] = AUTO
    solver: Annotated[Solver | dict[str, Solver], checked(_solver)] = AUTO

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"unknown kernel option {unknown[0]!r}; allowed: "
                            f"{list(type(self).model_fields)}"
                            f"{did_you_mean(unknown[0], type(self).model_fields)}")
        super().__init__(**options)

    @classmethod
    def of(cls, options: KernelOptions | Mapping[str, Any] | None = None,
           **changes: Any) -> KernelOptions:
        """``options`` (a KernelOptions, a dict of options or None for the defaults)
        with ``changes`` applied, validated.

        Parameters
        ----------
        options : KernelOptions, dict or None
            The options to start from (None: the defaults).
        **changes
            Options replacing those of ``options``.

        Returns
        -------
        KernelOptions

        Examples
        --------
        >>> KernelOptions.of({"tau": 5.0}, g_eff=False).g_eff
        False
        """
        if options is None:
            return cls._of_scalars(changes)
        if isinstance(options, Mapping):
            return cls(**{**options, **changes})
        if not isinstance(options, cls):
            fail("options", options, "a KernelOptions, a dict of options or None", TypeError)
        return options.replace(**changes) if changes else options

    @classmethod
    def _of_scalars(cls, changes: dict[str, Any]) -> KernelOptions:
        """``cls(**changes)``, the same object for the same options given as plain
        scalars (str, bool, int, float; keyed with their types, so that a value the
        validation refuses is never served): frozen options validated once per process
        (the last :data:`OPTIONS_KEPT`)."""
        if not all(type(v) in (str, bool, int, float) for v in changes.values()):
            return cls(**changes)
        key = (cls, tuple(sorted((k, type(v), v) for k, v in changes.items())))
        found = _OPTIONS.get(key)
        if found is None:
            found = cls(**changes)
            while len(_OPTIONS) >= OPTIONS_KEPT:
                _OPTIONS.pop(next(iter(_OPTIONS), None), None)  # threads may race here
            _OPTIONS[key] = found
        return found

    def replace(self, **changes: Any) -> KernelOptions:
        """A copy with ``changes`` applied, validated like a new object (the options
        set explicitly stay so: ``model_fields_set``).

        Parameters
        ----------
        **changes
            Options to replace.

        Returns
        -------
        KernelOptions

        Examples
        --------
        >>> KernelOptions(tau=5.0).replace(fir=True).fir
        True
        """
        return type(self)(**{**{k: getattr(self, k) for k in self.model_fields_set},
                             **changes})

    def __hash__(self) -> int:
        return hash(self.model_dump_json())

    # -- rules across options ----------------------------------------------------------
    @model_validator(mode="after")
    def _together(self) -> KernelOptions:
        if not self.dt > 0:
            fail("dt", self.dt, "> 0 (ms)")
        if self.tau < self.dt:
            raise ValueError(f"tau must be >= dt = {self.dt} ms, got {self.tau!r}")
        if self.n_lags is None:
            raise ValueError(
                f"tau / dt must be a whole number (to {WHOLE_RTOL:g} relative): tau = "
                f"{self.tau!r} ms and dt = {self.dt!r} ms give {self.tau / self.dt:.6g}; "
                "allowed: a tau that is a multiple of dt (dt = 0.1, 0.05, 0.025, 2**-4 ... "
                "with tau = 20, 50, 100 ...)")
        if self.t_X < self.tau:
            raise ValueError(f"t_X must be >= tau = {self.tau} ms, got {self.t_X!r}")
        if self.operating_point == "mean-input" and self.g_eff is False:
            raise ValueError("operating_point='mean-input' needs g_eff=True: the mean input "
                             "is the g_eff conductances of every synapse taken with their "
                             "reversal potentials, got g_eff=False")
        return self

    @property
    def n_lags(self) -> int | None:
        """``tau / dt`` (lags each side of 0; None if it is not a whole number).

        Examples
        --------
        >>> KernelOptions(dt=0.1, tau=20.0).n_lags
        200
        """
        return whole_steps(self.tau, self.dt)

    @property
    def resolved(self) -> bool:
        """Whether no option is ``"auto"`` (the options :meth:`resolve` returns).

        Examples
        --------
        >>> KernelOptions().resolved
        False
        >>> KernelOptions(g_eff=False, operating_point="rest", solver="linear",
        ...               linearisation="as-is").resolved
        True
        """
        return self.g_eff != AUTO and self.operating_point != AUTO and all(
            value != AUTO and not (isinstance(value, Mapping) and AUTO in value.values())
            for value in (self.solver, self.linearisation))

    def resolve(self, network: Network) -> KernelOptions:
        """The concrete options for ``network``, checked against it.

        ``g_eff="auto"`` becomes ``network.conductance_based``;
        ``operating_point="auto"`` becomes ``"mean-input"`` where g_eff is on, else
        ``"rest"``; ``linearisation="auto"`` becomes ``"quasi-active"`` or ``"as-is"``
        per postsynaptic population (:func:`auto_linearisation`); ``solver="auto"``
        becomes ``"linear"`` or ``"neuron"`` per postsynaptic population
        (:func:`linear_applies`, with the linearisation resolved); a dict where the
        populations differ.
        Resolved options are returned as they are (after the checks).

        Parameters
        ----------
        network : Network
            The network the kernels are computed for.

        Returns
        -------
        KernelOptions
            Options without ``"auto"`` (:attr:`resolved`), the resolved values marked
            as set (``model_fields_set``).

        Raises
        ------
        ValueError
            g_eff on a current-based network; ``operating_point="mean-input"`` on a
            current-based network, where a presynaptic population has no ``rate``
            (names them), or where a population of active cells (:func:`active_preset`)
            is taken ``"as-is"`` (names them); a per-population ``Vrest`` or
            ``linearisation`` without an entry for a postsynaptic population (or, for
            ``linearisation``, with entries for others); no extrinsic synapse where
            g_eff needs one.

        Warns
        -----
        UserWarning
            g_eff on at the operating point ``"rest"`` while a presynaptic population's
            ``rate`` was never set: its synapses add no conductance to the leak (as
            with rate 0).

        Examples
        --------
        >>> from xkernels.spec.network import Network
        >>> KernelOptions(Vrest={"E": -65.0}).resolve(Network.example())
        Traceback (most recent call last):
        ...
        ValueError: Vrest is a dict without an entry for population 'I'; keys: ['E']

        The mean input needs the rate of every presynaptic population:

        >>> silent = Network.example().with_values({"populations[I].rate": None})
        >>> KernelOptions().resolve(silent)
        Traceback (most recent call last):
        ...
        ValueError: operating_point='mean-input' (what 'auto' is on a conductance-based
        network) needs the rate of every presynaptic population: the mean input is the
        g_eff conductance of each synapse at its presynaptic rate; populations ['I'] have
        no rate (connections ['I->E', 'I->I']); set populations[...].rate (spikes/s; 0 for
        a silent population), or pass operating_point='rest' (LFPykernels' operating
        point)
        """
        g_eff, point = self.g_eff, self.operating_point
        if g_eff == AUTO:
            g_eff = network.conductance_based
        elif g_eff and not network.conductance_based:
            raise ValueError("g_eff=True requires a conductance-based network "
                             "(network.conductance_based is False); pass g_eff=False "
                             f"or {AUTO!r}")
        if point == AUTO:
            point = "mean-input" if g_eff else "rest"
        elif point == "mean-input" and not network.conductance_based:
            raise ValueError("operating_point='mean-input' requires a conductance-based "
                             "network (network.conductance_based is False: current-based "
                             f"synapses have no operating point); pass {AUTO!r} or 'rest'")
        linearisation = self._resolve_linearisation(network)
        solver = self._resolve_solver(network, linearisation)
        changes = {key: value for key, value in (
            ("g_eff", g_eff), ("operating_point", point), ("linearisation", linearisation),
            ("solver", solver)) if value != getattr(self, key)}
        # the resolved values are of the validated forms (a choice, a bool, a dict of
        # choices per population): copied in without validating them again
        resolved = self.model_copy(update=changes) if changes else self
        resolved._check(network, chosen="" if self.operating_point != AUTO else
                        " (what 'auto' is on a conductance-based network)")
        return resolved

    def _resolve_linearisation(self, network: Network) -> str | dict[str, str]:
        """``linearisation`` with ``"auto"`` replaced per postsynaptic population
        (:func:`auto_linearisation`): one value when all agree, else a dict."""
        post = list(network.postsynaptic)
        modes = self.modes(post)
        chosen = {name: auto_linearisation(network.population(name).cell)
                  if mode == AUTO else mode for name, mode in modes.items()}
        values = set(chosen.values())
        return values.pop() if len(values) == 1 else chosen

    def _resolve_solver(self, network: Network, linearisation: str | dict[str, str]
                        ) -> str | dict[str, str]:
        """``solver`` with ``"auto"`` replaced per postsynaptic population
        (:func:`linear_applies`, with ``linearisation`` as :meth:`_resolve_linearisation`
        resolved it): one value when all agree, else a dict."""
        post = list(network.postsynaptic)
        if isinstance(self.solver, Mapping):
            _entries("solver", self.solver, post)
        modes = dict(linearisation) if isinstance(linearisation, Mapping) else \
            {name: linearisation for name in post}
        chosen = {}
        for name in post:
            value = self.solver_of(name)
            if value == AUTO:
                value = "linear" if linear_applies(
                    modes[name], network.population(name).cell) else "neuron"
            chosen[name] = value
        values = set(chosen.values())
        return values.pop() if len(values) == 1 else chosen

    def solver_of(self, post: str) -> str:
        """The solver of postsynaptic population ``post`` (``"auto"`` until
        :meth:`resolve`).

        Parameters
        ----------
        post : str
            A postsynaptic population.

        Returns
        -------
        str
            ``"auto"``, ``"neuron"`` or ``"linear"``.

        Examples
        --------
        >>> KernelOptions(solver={"E": "linear", "I": "neuron"}).solver_of("I")
        'neuron'
        """
        value = self.solver
        return value.get(post, AUTO) if isinstance(value, Mapping) else value

    def _check(self, network: Network, chosen: str) -> None:
        """The rules of resolved options that need the network (see :meth:`resolve`)."""
        post = list(network.postsynaptic)
        _entries("Vrest", self.Vrest, post)
        modes = self.modes(post)
        active = [name for name in post if modes[name] == "as-is"
                  and active_preset(network.population(name).cell)]
        if active and self.operating_point == "mean-input":
            raise ValueError(
                f"operating_point='mean-input'{chosen} needs a resting state under the mean "
                f"input, and the cells of populations {active} have active membranes (the "
                "'active' biophysics preset) taken as they are (linearisation 'as-is'); pass "
                "linearisation='quasi-active' (the most accurate against the hybrid ground "
                "truth, docs/linearisation.md), 'frozen' or 'passive', or "
                "operating_point='rest' (LFPykernels' operating point)")
        if not self.g_eff:
            return
        unset = [c.key for c in network.connections if network.population(c.pre).rate is None]
        pres = sorted({key.split("->")[0] for key in unset})
        if unset and self.operating_point == "mean-input":
            raise ValueError(
                f"operating_point='mean-input'{chosen} needs the rate of every presynaptic "
                "population: the mean input is the g_eff conductance of each synapse at "
                f"its presynaptic rate; populations {pres} have no rate (connections "
                f"{unset}); set populations[...].rate (spikes/s; 0 for a silent "
                "population), or pass operating_point='rest' (LFPykernels' operating point)")
        if unset:
            warnings.warn(f"g_eff=True but populations {pres} have no rate: the synapses of "
                          f"connections {unset} add no conductance to the leak; set "
                          "populations[...].rate (spikes/s; 0 for a silent population) or "
                          "pass g_eff=False", UserWarning, stacklevel=4)
        for name in post:
            pop = network.population(name)
            if pop.n_ext > 0 and pop.nu_ext > 0 and pop.ext_synapse is None:
                raise ValueError(f"populations[{name!r}].ext_synapse must be given when "
                                 f"g_eff=True and n_ext = {pop.n_ext} > 0")

    def modes(self, postsynaptic: list[str]) -> dict[str, str]:
        """The membrane linearisation of every postsynaptic population, in order.

        Parameters
        ----------
        postsynaptic : list of str
            The network's postsynaptic populations.

        Returns
        -------
        dict
            Population -> mode.

        Raises
        ------
        ValueError
            A dict of modes without an entry for a postsynaptic population, or with
            entries for others.

        Examples
        --------
        >>> KernelOptions(linearisation="frozen").modes(["E", "I"])
        {'E': 'frozen', 'I': 'frozen'}
        """
        value = self.linearisation
        if isinstance(value, str):
            return {post: value for post in postsynaptic}
        unknown = sorted(set(value) - set(postsynaptic), key=str)
        if unknown:
            fail("linearisation keys", unknown,
                 f"postsynaptic populations among {postsynaptic}")
        _entries("linearisation", value, postsynaptic)
        return {post: value[post] for post in postsynaptic}

    def vrest_of(self, post: str) -> float | np.ndarray:
        """The Vrest (mV) of postsynaptic population ``post``.

        Parameters
        ----------
        post : str
            A postsynaptic population (:meth:`check` made sure a dict has it).

        Returns
        -------
        float or ndarray
            One number, or a 1-D float array (one value per segment).

        Examples
        --------
        >>> KernelOptions(Vrest={"E": -70.0, "I": [-65.0, -64.0]}).vrest_of("I")
        array([-65., -64.])
        """
        value = self.Vrest[post] if isinstance(self.Vrest, Mapping) else self.Vrest
        return np.asarray(value, dtype=float) if isinstance(value, tuple) else value


#: Options validated from plain scalars (:meth:`KernelOptions.of`), at most OPTIONS_KEPT.
_OPTIONS: dict = {}
OPTIONS_KEPT = 64


def _entries(field: str, value: Any, postsynaptic: list[str]) -> None:
    """A per-population dict ``value`` of option ``field`` must have every postsynaptic
    population (a single value applies to all)."""
    missing = [post for post in postsynaptic if post not in value] \
        if isinstance(value, Mapping) else []
    if missing:
        raise ValueError(f"{field} is a dict without an entry for population "
                         f"{missing[0]!r}; keys: {sorted(value)}")


def leak_reversal_of(vrest: float | np.ndarray) -> float | None:
    """The leak reversal potential (mV) that Vrest sets for a ``passive`` cell preset
    without ``e_pas``: Vrest itself when it is one number, None when it is per segment
    (the preset must then give ``e_pas``).

    Parameters
    ----------
    vrest : float or ndarray
        As returned by :meth:`KernelOptions.vrest_of`.
    """
    return vrest if isinstance(vrest, float) else None

"""The one place that talks to NEURON/LFPy: build, linearise and simulate a cell.

:class:`LinearisedCell` builds the LFPy ``TemplateCell`` representative of a
postsynaptic population, exposes its geometry as plain numpy arrays, shifts the passive
leak conductance per segment (the g_eff correction) and simulates the membrane-current
response to one volley of current-based ``Exp2SynI`` synapses.  Every other module works
on the arrays it returns and never imports ``neuron``.

The response is computed from a cell that starts at rest when the membrane is passive
with a uniform leak reversal potential (the resting state is then known exactly), so no
``t_X``-long settling transient has to be simulated.  Any other membrane is simulated
like the reference does: from ``v_init`` with the synaptic volley at ``t_X``.
"""

from __future__ import annotations

import functools
import gc
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xkernels.engine import stepped
from xkernels.engine.biophysics import finish_preset, preset_function
from xkernels.engine.cable import Cable, LinearCable, linear_cable
from xkernels.engine.mechanisms import NEURON_LOCK, load_mechanisms, load_user_mechanisms
from xkernels.engine.morphology import check_sections, load_into, morphology_template
from xkernels.engine.stepped import SteppedCable, stepped_cable
from xkernels.spec.network import CellSpec, Population

# density mechanisms that keep the membrane linear and passive
_LINEAR_MECHANISMS = {"pas"}


@dataclass
class Geometry:
    """Segment geometry of a placed, rotated cell (plain arrays, µm).

    Attributes
    ----------
    x, y, z : ndarray
        Segment start/end coordinates, shape (nseg, 2) (µm).
    d : ndarray
        Segment diameters, shape (nseg,) (µm).
    area : ndarray
        Membrane areas, shape (nseg,) (µm²).
    sections : list of str
        Name of the section of every segment.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    d: np.ndarray
    area: np.ndarray
    sections: list[str]

    @property
    def nseg(self) -> int:
        return self.area.size

    @property
    def z_mid(self) -> np.ndarray:
        """Segment midpoint depths (µm)."""
        return self.z.mean(axis=-1)

    def to_lfpykit(self):
        """An ``lfpykit.CellGeometry`` for forward models."""
        import lfpykit

        return lfpykit.CellGeometry(x=self.x, y=self.y, z=self.z, d=self.d)



@functools.cache
def _cell_class() -> type:
    """LFPy's ``TemplateCell`` loading the morphology itself, so that the sections are
    checked (:func:`~xkernels.engine.morphology.check_sections`) before NEURON's
    ``define_shape`` invents a shape for any of them; ``fill_all`` puts every section
    of the template object in its ``all`` list if loading did not (a template written
    for a template-less morphology)."""
    import LFPy
    from neuron import h

    class CheckedTemplateCell(LFPy.TemplateCell):
        def __init__(self, *, where: str, fill_all: bool, **kwargs) -> None:
            self.where, self.fill_all = where, fill_all
            super().__init__(**kwargs)

        def _load_geometry(self) -> None:
            args = self.templateargs
            args = () if args is None else tuple(args) if isinstance(args, (list, tuple)) \
                else (args,)
            self.template = getattr(h, self.templatename)(*args)
            try:
                if not any(True for _ in self.template.all):
                    load_into(self.template, self.morphology, self.fill_all)
                check_sections(self.template.all, self.where)
            except BaseException:
                self.template = None  # frees the object and the sections it made
                raise
            h.define_shape()
            self._create_sectionlists()

    return CheckedTemplateCell


#: Templates loaded by xkernels in this process: name -> the file defining it.
_TEMPLATE_FILES: dict[str, str] = {}


def _check_template_name(name: str, path: str, field: str) -> None:
    """Refuse a template name this process already took from another file with other
    contents (NEURON defines a name once; LFPy would silently use the first one)."""
    from neuron import h

    first = _TEMPLATE_FILES.setdefault(name, path) if not hasattr(h, name) or \
        name in _TEMPLATE_FILES else None
    if first is not None and first != path and \
            Path(first).read_bytes() != Path(path).read_bytes():
        raise ValueError(f"{field}: template {name!r} is defined in this process already, "
                         f"from {first!r}; NEURON cannot redefine it from {path!r}: give "
                         "one of them another name")


def template_cell(spec: CellSpec, population: Population, dt: float,
                  e_pas_default: float | None = None):
    """Build the LFPy ``TemplateCell`` of ``spec``, rotated as ``population`` says.

    The one construction shared by :class:`LinearisedCell` (kernels) and
    :class:`xkernels.engine.network_cell.NetworkCell` (the hybrid scheme): the user's
    mechanisms, template (or, for a morphology given without one, a template declaring
    exactly its sections: :func:`~xkernels.engine.morphology.morphology_template`),
    morphology, the section checks, biophysics preset or callable, ``params``.
    Sections that exist already (the user's own model) are left alone.

    Parameters
    ----------
    spec : CellSpec
        Cell specification.
    population : Population
        Population whose ``rotation`` (radians about x, y, z) is applied.
    dt : float
        Time step (ms).
    e_pas_default : float or None
        Leak reversal potential (mV) of the ``passive`` preset when its ``e_pas`` is
        unset.

    Returns
    -------
    LFPy.TemplateCell
        With its soma at the origin after rotation.

    Raises
    ------
    ValueError
        Mechanisms that do not compile or clash with loaded ones, a morphology that
        cannot be read, or sections that are not a cell (named:
        :func:`~xkernels.engine.morphology.check_sections`).
    """
    where = f"populations[{population.name!r}].cell"
    load_mechanisms()
    if spec.mechanisms is not None:
        load_user_mechanisms(spec.resolve("mechanisms"), f"{where}.mechanisms")
    params = dict(spec.params)
    custom_fun = list(params.pop("custom_fun", []) or [])
    custom_args = list(params.pop("custom_fun_args", []) or [{}] * len(custom_fun))
    bio = spec.biophysics
    if isinstance(bio, dict):
        e_pas = bio.get("e_pas")
        if e_pas is None:
            e_pas = e_pas_default
        if e_pas is None:
            raise ValueError(f"populations[{population.name!r}].cell.biophysics.e_pas must "
                             "be set when Vrest is a per-segment list (or not given), got None")
        fun, args = preset_function(bio, float(e_pas))
        custom_fun.insert(0, fun)
        custom_args.insert(0, args)
    elif callable(bio):
        custom_fun.insert(0, bio)
        custom_args.insert(0, dict(spec.biophysics_args))
    params.setdefault("v_init", -70.0)
    morphology = spec.resolve("morphology")
    if spec.templatename is None:
        templatename = morphology_template(morphology, f"{where}.morphology")
        templatefile = None
    else:
        templatename, templatefile = spec.templatename, str(spec.resolve("templatefile"))
        _check_template_name(templatename, templatefile, f"{where}.templatename")
    with warnings.catch_warnings():  # LFPy's "N sections detected!": the user's, kept
        warnings.filterwarnings("ignore", message=".*sections detected")
        cell = _cell_class()(
            where=where, fill_all=spec.templatename is None,
            morphology=str(morphology),
            templatefile=templatefile,
            templatename=templatename,
            templateargs=spec.templateargs,
            dt=dt, tstart=0.0, tstop=dt, delete_sections=False,
            custom_fun=custom_fun or None, custom_fun_args=custom_args or None,
            **params,
        )
    if isinstance(bio, dict):
        finish_preset(cell.allseclist, bio)
    rotation = {k: v for k, v in population.rotation.items() if v}
    if rotation:
        cell.set_rotation(**rotation)
    return cell

#: Cells alive (NEURON_LOCK held) and whether Python's cyclic garbage collector was
#: enabled when the first of them was built.
_PAUSED = {"cells": 0, "enabled": False}


def _pause_collector() -> None:
    """Pause Python's automatic garbage collection while a cell of ours is alive (the
    caller holds NEURON_LOCK).

    NEURON's ``SaveState`` (the resting state of a linearised membrane) stores every
    section, and its structure must not change between our simulations: if Python's
    collector frees an unreachable object of another model holding sections (an LFPy
    cell or an LFPykernels ``KernelApprox`` gone out of scope) in between, restoring
    fails ("Stored state inconsistent with current neuron structure") or NEURON aborts.
    Collecting explicitly instead would cost ~0.3 s per call in a process with xarray
    and dask loaded; pausing costs nothing, and the garbage is collected as usual after
    the last cell is closed.
    """
    if _PAUSED["cells"] == 0:
        _PAUSED["enabled"] = gc.isenabled()
        gc.disable()
    _PAUSED["cells"] += 1


def _resume_collector() -> None:
    """Undo one :func:`_pause_collector`; the last one restores the collector's state."""
    _PAUSED["cells"] -= 1
    if _PAUSED["cells"] == 0 and _PAUSED["enabled"]:
        gc.enable()


class NeuronCell:
    """An LFPy cell of a population in NEURON, owned by the engine.

    Holds :data:`~xkernels.engine.mechanisms.NEURON_LOCK` from construction to
    :meth:`close` (NEURON keeps global state: one thread builds and simulates cells at a
    time); :meth:`close` deletes the sections this cell created and no others.  Use as
    a context manager.

    Parameters
    ----------
    spec : CellSpec
        The cell specification.
    population : Population
        The population (its ``rotation`` is applied).
    dt : float
        Time step (ms).
    e_pas_default : float or None
        Leak reversal potential (mV) for the ``passive`` preset when its ``e_pas`` is
        unset.
    """

    def __init__(self, spec: CellSpec, population: Population, dt: float,
                 e_pas_default: float | None = None) -> None:
        from neuron import h

        NEURON_LOCK.acquire()
        _pause_collector()
        try:
            self._h = h
            self.dt = float(dt)
            self.cell = template_cell(spec, population, self.dt, e_pas_default)
        except BaseException:
            _resume_collector()
            NEURON_LOCK.release()
            raise
        self.segments = [seg for sec in self.cell.allseclist for seg in sec]
        self.sections = [sec.name() for sec in self.cell.allseclist for _ in sec]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Delete the cell's NEURON sections (only those) and release NEURON's lock."""
        if getattr(self, "cell", None) is None:
            return
        try:
            self._release()
            self.segments = []
            cell, self.cell = self.cell, None
            own = {sec.name() for sec in cell.allseclist}
            cell.strip_hoc_objects()  # frees the template and, with it, its sections
            del cell
            for sec in [sec for sec in self._h.allsec() if sec.name() in own]:
                self._h.delete_section(sec=sec)  # any kept alive by a reference
        finally:
            _resume_collector()
            NEURON_LOCK.release()

    def _release(self) -> None:
        """Drop what refers to the sections (synapses, recorders) before they go."""

    def segment_name(self, k: int) -> str:
        """NEURON's name of segment ``k`` (for messages)."""
        return str(self.segments[k])

    def read_geometry(self) -> Geometry:
        """The segment geometry of the cell where it is now (µm)."""
        cell = self.cell
        return Geometry(x=np.array(cell.x, dtype=float), y=np.array(cell.y, dtype=float),
                        z=np.array(cell.z, dtype=float), d=np.array(cell.d, dtype=float),
                        area=np.array(cell.area, dtype=float), sections=list(self.sections))

    @property
    def nseg(self) -> int:
        """Number of segments."""
        return len(self.segments)

    def _leak_changes(self, g: np.ndarray, what: str):
        """``(index, segment, conductance)`` of every segment where ``g`` (S/cm², shape
        (nseg,)) is non-zero; each must have a ``pas`` leak to take it."""
        g = np.asarray(g, dtype=float)
        if g.shape != (self.nseg,):
            raise ValueError(f"{what} must have shape ({self.nseg},) (one value per "
                             f"segment), got {g.shape}")
        for k in np.flatnonzero(g):
            seg = self.segments[k]
            if not hasattr(seg, "pas"):
                raise ValueError(f"segment {seg} must have a 'pas' mechanism to take {what}, "
                                 "got none")
            yield k, seg, g[k]

    def shift_g_pas(self, delta: np.ndarray) -> None:
        """Add ``delta`` (S/cm², shape (nseg,)) to the leak conductance of every segment.

        Raises
        ------
        ValueError
            ``delta`` of the wrong shape, or a segment to shift without ``pas``.
        """
        for _, seg, dg in self._leak_changes(delta, "the g_eff leak shift"):
            seg.pas.g += dg

    def add_leak(self, g: np.ndarray, e: float | np.ndarray,
                 what: str = "the mean input") -> None:
        """Add a conductance ``g`` (S/cm², shape (nseg,)) of reversal ``e`` (mV, one value
        or one per segment) to the leak, exactly: ``g_pas (v - e_pas) + g (v - e)`` is
        ``(g_pas + g)(v - e')`` with ``e' = (g_pas e_pas + g e) / (g_pas + g)``.

        Raises
        ------
        ValueError
            ``g`` of the wrong shape, ``e`` not finite where ``g`` > 0, or a segment to
            change without ``pas`` (``what`` names the conductance).
        """
        e = np.broadcast_to(np.asarray(e, dtype=float), (self.nseg,))
        for k, seg, dg in self._leak_changes(g, what):
            if not np.isfinite(e[k]):
                raise ValueError(f"segment {seg}: the reversal potential of {what} must be "
                                 f"finite, got {e[k]}")
            total = seg.pas.g + dg
            seg.pas.e = (seg.pas.g * seg.pas.e + dg * e[k]) / total
            seg.pas.g = total

    def is_linear(self) -> bool:
        """True if the membrane is linear: no density mechanism other than ``pas``.

        The membrane-current response of such a cell to current-based synapses is
        linear in the synaptic weights, so responses to unit synapses superpose.
        """
        return all({mech.name() for mech in seg} <= _LINEAR_MECHANISMS
                   for seg in self.segments)

    def resting_potential(self, tolerance: float = 1e-9) -> float | None:
        """The exact resting potential (mV) if the membrane is passive (only ``pas``)
        and its leak reversal potential uniform (to ``tolerance`` mV, the rounding of
        :meth:`add_leak`: their mean; 0: exactly the same on every segment), else None
        (the rest has to be found by simulation)."""
        if not all("pas" in {mech.name() for mech in seg} for seg in self.segments) \
                or not self.is_linear():
            return None
        e = [seg.pas.e for seg in self.segments]
        if max(e) - min(e) > tolerance:
            return None
        return float(np.mean(e)) if tolerance else e[0]

    def cable(self) -> Cable:
        """The cell as a linear :class:`~xkernels.engine.cable.Cable` (its membrane as it
        is now: leak shifts included), read from NEURON.

        Nodes are NEURON's: one per segment centre plus zero-area nodes at section ends
        and at the root's 0 end; the resistance from each node to its parent is
        NEURON's ``seg.ri()`` (MΩ), and the zero-area nodes, which carry no membrane,
        are eliminated exactly (Schur complement).

        Raises
        ------
        ValueError
            A membrane that is not linear (a density mechanism other than ``pas``,
            named with its segment) or a section attached by its 1 end.
        """
        for seg in self.segments:
            names = {mech.name() for mech in seg if not mech.name().endswith("_ion")}
            if not names <= _LINEAR_MECHANISMS or "pas" not in names:
                raise ValueError(f"segment {seg} has the mechanisms {sorted(names)}: the "
                                 "linear solver needs a linear membrane (only 'pas')")
        axial, area = self.axial()
        segs = self.segments
        return Cable(area=area, cm=np.array([seg.cm for seg in segs]),
                     g=np.array([seg.pas.g for seg in segs]),
                     e=np.array([seg.pas.e for seg in segs]), axial=axial)

    def axial(self) -> tuple[np.ndarray, np.ndarray]:
        """The axial conductance Laplacian between segments (µS, shape (nseg, nseg);
        see :meth:`cable`) and the membrane areas (µm²), read from NEURON once."""
        if getattr(self, "_axial", None) is None:
            self._axial = self._axial_laplacian()
            self._area = np.array([seg.area() for seg in self.segments])
        return self._axial, self._area

    def _axial_laplacian(self) -> np.ndarray:
        """The axial conductance Laplacian between segments (µS), :meth:`cable`."""
        h = self._h
        index: dict = {}          # node key -> index; segment centres first
        for sec in self.cell.allseclist:
            for k in range(sec.nseg):
                index[(sec.name(), k)] = len(index)
        nseg = len(index)
        edges = []                # (node, parent node, conductance µS)

        def node(key):
            if key not in index:
                index[key] = len(index)
            return index[key]

        def node_at(sec, x):
            """The node a child attached at ``sec(x)`` joins (NEURON's rule)."""
            if 0.0 < x < 1.0:
                return node((sec.name(), min(int(x * sec.nseg), sec.nseg - 1)))
            if x >= 1.0:
                return node((sec.name(), "end"))
            parent = sec.parentseg()
            return node((sec.name(), "root")) if parent is None else \
                node_at(parent.sec, parent.x)

        for sec in self.cell.allseclist:
            if sec.parentseg() is not None and h.section_orientation(sec=sec) != 0.0:
                raise ValueError(f"section {sec.name()} is attached by its 1 end: the "
                                 "linear solver needs sections attached by their 0 end")
            start = node_at(sec, 0.0)
            centres = [index[(sec.name(), k)] for k in range(sec.nseg)]
            for k, seg in enumerate(sec):
                edges.append((centres[k], start if k == 0 else centres[k - 1],
                              1.0 / seg.ri()))
            edges.append((node((sec.name(), "end")), centres[-1], 1.0 / sec(1.0).ri()))
        n = len(index)
        L = np.zeros((n, n))
        for i, j, g in edges:
            L[i, i] += g
            L[j, j] += g
            L[i, j] -= g
            L[j, i] -= g
        axial = L[:nseg, :nseg]
        if n > nseg:  # eliminate the zero-area nodes
            axial = axial - L[:nseg, nseg:] @ np.linalg.solve(L[nseg:, nseg:],
                                                              L[nseg:, :nseg])
        return 0.5 * (axial + axial.T)

    def synapse(self, seg, kind: str, tau1: float, tau2: float, weight: float = 0.0,
                ) -> tuple:
        """A point process ``kind`` (``"Exp2Syn"`` or ``"Exp2SynI"``) with rise and decay
        ``tau1``, ``tau2`` (ms) on ``seg`` and its event source ``NetCon(None, syn)`` of
        ``weight`` (µS or nA): ``(syn, netcon)``."""
        syn = getattr(self._h, kind)(seg)
        syn.tau1 = tau1
        syn.tau2 = tau2
        netcon = self._h.NetCon(None, syn)
        netcon.weight[0] = weight
        return syn, netcon

    def psolve(self, t: float) -> None:
        """Integrate to ``t`` (ms) with NEURON's compiled event loop
        (``ParallelContext.psolve``: the same fixed-step results as the interpreted
        ``continuerun`` without its per-step hoc overhead)."""
        pc = self._h.ParallelContext()
        pc.set_maxstep(10.0)
        pc.psolve(t)

    def fixed_steps(self) -> None:
        """Integrate with fixed steps of ``dt`` and fast ``i_membrane_``."""
        cvode = self._h.CVode()
        cvode.active(0)
        cvode.use_fast_imem(1)
        self._h.dt = self.dt

    def record_imem(self) -> list:
        """Fixed-step integration with fast i_membrane_ recorded at every step: one
        recording Vector per segment.

        Recording every step (not every ``dt`` ms by record events) gives exactly one
        sample per step whatever the accumulated rounding of NEURON's clock.
        """
        h = self._h
        self.fixed_steps()
        recorders = []
        for seg in self.segments:
            vec = h.Vector()
            vec.record(seg._ref_i_membrane_)  # every fixed step (no per-sample events)
            recorders.append(vec)
        return recorders


    def advance(self, recorders: list, t: float, n_samples: int) -> np.ndarray:
        """Integrate to about ``t`` (ms) with :meth:`psolve`, then step by step until
        every recorder holds ``n_samples`` samples (psolve decides by NEURON's
        accumulated clock, which drifts by ~1e-11 ms).

        Returns
        -------
        ndarray
            The samples recorded (nseg, >= ``n_samples``); the recorders are emptied.
        """
        if t >= 0:
            self.psolve(t)
        while recorders[0].size() < n_samples:
            self._h.fadvance()
        block = np.array([vec.as_numpy() for vec in recorders])
        for vec in recorders:
            vec.resize(0)
        return block

    def start(self, v_init: float) -> list:
        """Initialise a fixed-step run at ``v_init`` (mV) with the membrane currents
        recorded at every step (:meth:`record_imem`); the recording Vectors."""
        recorders = self.record_imem()
        self._h.finitialize(v_init)
        self._h.fcurrent()
        self._h.frecord_init()
        return recorders

class LinearisedCell(NeuronCell):
    """A cell representative of one postsynaptic population, ready for kernels.

    Parameters
    ----------
    spec : CellSpec
        The cell specification.
    population : Population
        The postsynaptic population (placement ``loc`` and ``rotation``).
    dt : float
        Time step (ms).
    e_pas_default : float or None
        Leak reversal potential (mV) for the ``passive`` preset when its ``e_pas`` is
        unset (the Vrest of the computation).
    solver : {"neuron", "linear", "auto"}
        How :meth:`synaptic_response` computes (:meth:`uses_linear_solver`).

    Use as a context manager (:class:`NeuronCell`).
    """

    def __init__(self, spec: CellSpec, population: Population, dt: float,
                 e_pas_default: float | None = None, solver: str = "neuron") -> None:
        super().__init__(spec, population, dt, e_pas_default)
        self.population = population.name
        #: what the cell is built from (keys of what is kept per membrane)
        self.spec, self.e_pas_default = spec, e_pas_default
        self.solver = solver
        self._linear: tuple[bytes, LinearCable | SteppedCable] | None = None
        self.cell.set_pos(z=population.loc)
        self.geometry = self.read_geometry()

    # -- the linear solver -------------------------------------------------------------
    def uses_linear_solver(self) -> bool:
        """Whether responses come from the linear solver: ``solver="linear"``, or
        ``"auto"`` with a linear membrane (only ``pas``).

        Raises
        ------
        ValueError
            ``solver="linear"`` with a membrane that is not linear (the population and
            the mechanism are named).
        """
        if self.solver == "neuron":
            return False
        if self.is_linear():
            return True
        if self.solver == "linear":
            names = sorted({mech.name() for seg in self.segments for mech in seg}
                           - _LINEAR_MECHANISMS)
            raise ValueError(
                f"solver='linear' cannot be exact for population {self.population!r}: its "
                f"membrane has the nonlinear mechanism {names[0]!r} (all: {names}) and is "
                "taken as it is; choose linearisation 'passive' or 'frozen' for it, or "
                "solver 'neuron' or 'auto'")
        return False

    def linear_cable(self) -> LinearCable | SteppedCable:
        """The :class:`~xkernels.engine.cable.LinearCable` of the membrane as it is now
        (rebuilt only when the membrane changed); from
        :data:`~xkernels.engine.stepped.STEPPED_FROM` segments the
        :class:`~xkernels.engine.stepped.SteppedCable` (no eigendecomposition)."""
        cable = self.cable()
        key = b"".join(a.tobytes() for a in (cable.cm, cable.g, cable.e))
        if self._linear is None or self._linear[0] != key:
            make = stepped_cable if cable.nseg >= stepped.STEPPED_FROM else linear_cable
            self._linear = (key, make(cable, self.dt, key))
        return self._linear[1]

    # -- simulation --------------------------------------------------------------------
    def synaptic_response(self, weights: np.ndarray, tau1: float, tau2: float,
                          n_after: int, t_X: float) -> np.ndarray:
        """Membrane currents after one synchronous volley onto every segment.

        Parameters
        ----------
        weights : ndarray
            ``Exp2SynI`` peak current per segment (nA, shape (nseg,)); positive is
            inward. Zero-weight segments get no synapse.
        tau1, tau2 : float
            Rise and decay time constants (ms).
        n_after : int
            Time steps to simulate after the volley.
        t_X : float
            Volley time (ms) used when the cell is not known to start at rest.

        Returns
        -------
        ndarray
            Shape (nseg, n_after + 1) transmembrane currents (nA) at lags ``k dt``,
            ``k = 0..n_after``, relative to the volley; the cell is at rest before it.
        """
        if self.uses_linear_solver():
            return self.linear_cable().response(weights, tau1, tau2, n_after)
        v_rest = self.resting_potential(tolerance=0.0)
        if v_rest is not None:
            # exact rest: start the volley one step after initialisation
            n_before, v_init = 1, v_rest
        else:
            n_before = int(round(t_X / self.dt))
            v_init = self.cell.v_init
        synapses, netcons = [], []
        for seg, w in zip(self.segments, np.asarray(weights, dtype=float)):
            if w == 0.0:
                continue
            syn, nc = self.synapse(seg, "Exp2SynI", tau1, tau2, w)
            synapses.append(syn)
            netcons.append(nc)
        recorders = self.start(v_init)
        for nc in netcons:
            # NEURON delivers it at the step whose start lies within dt/2 of this time
            nc.event(n_before * self.dt)
        imem = self._run(recorders, n_before + n_after)
        del synapses, netcons, recorders
        if v_rest is None:
            # a membrane not at rest: remove the baseline transient exactly by
            # subtracting the same simulation without the volley
            imem = imem - self._run(self.start(v_init), n_before + n_after)
        return imem[:, n_before:]

    def _run(self, recorders: list, n_steps: int) -> np.ndarray:
        """Integrate ``n_steps`` steps from initialisation; the recorded currents."""
        return self.advance(recorders, (n_steps - 1.5) * self.dt, n_steps + 1)[:, : n_steps + 1]


class CableCell:
    """A linear cell without NEURON: the :class:`LinearisedCell` of a passive cell
    (only ``pas``) as its geometry and :class:`~xkernels.engine.cable.Cable`, for the
    linear solver.

    Read from NEURON once per cell specification, population placement and default
    leak reversal (:func:`cable_cell`, cached), then every kernel computation with
    that cell costs no NEURON cell.  It offers what the kernel paths use of a linear
    :class:`LinearisedCell` -- ``geometry``, the leak changes (:meth:`shift_g_pas`,
    :meth:`add_leak`, the same arithmetic as NEURON's ``pas``),
    :meth:`synaptic_response` and :meth:`linear_cable` -- with the same numbers.

    Parameters
    ----------
    geometry : Geometry
        The cell's segment geometry (µm).
    cable : Cable
        Its cable with the leak as built.
    names : tuple of str
        NEURON's segment names (for messages).
    dt : float
        Time step (ms).
    population : str
        The population (for messages).
    memo : dict, optional
        Shared by the CableCells of one cached cell (:attr:`memo`).
    """

    #: responses always come from the linear solver; no NEURON state exists
    in_neuron = False
    solver = "linear"

    def __init__(self, geometry: Geometry, cable: Cable, names: tuple[str, ...], dt: float,
                 population: str, memo: dict | None = None) -> None:
        self.geometry = geometry
        #: kept with the cached cell: what depends only on its geometry (probe matrices)
        self.memo = {} if memo is None else memo
        self._cable = Cable(cable.area, cable.cm, cable.g.copy(), cable.e.copy(),
                            cable.axial)  # its own leak
        self._names = names
        self.dt = float(dt)
        self.population = population
        self._linear: tuple[bytes, LinearCable | SteppedCable] | None = None

    def copy(self) -> CableCell:
        """A new CableCell of the same cable with the leak as it is now (changing either
        leaves the other as it is)."""
        return CableCell(self.geometry, self._cable, self._names, self.dt, self.population,
                         self.memo)

    def __enter__(self) -> CableCell:
        return self

    def __exit__(self, *exc) -> None:
        pass

    @property
    def nseg(self) -> int:
        return self.geometry.nseg

    def segment_name(self, k: int) -> str:
        """NEURON's name of segment ``k``."""
        return self._names[k]

    def is_linear(self) -> bool:
        return True

    def uses_linear_solver(self) -> bool:
        return True

    def cable(self) -> Cable:
        """The cable with the leak as it is now."""
        return self._cable

    def _changes(self, g: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(g, dtype=float)
        if g.shape != (self.nseg,):
            raise ValueError(f"{what} must have shape ({self.nseg},) (one value per "
                             f"segment), got {g.shape}")
        k = np.flatnonzero(g)
        return k, g[k]

    def shift_g_pas(self, delta: np.ndarray) -> None:
        """As :meth:`NeuronCell.shift_g_pas`."""
        k, dg = self._changes(delta, "the g_eff leak shift")
        self._cable.g[k] += dg

    def add_leak(self, g: np.ndarray, e: float | np.ndarray,
                 what: str = "the mean input") -> None:
        """As :meth:`NeuronCell.add_leak` (the same floating-point operations)."""
        e = np.broadcast_to(np.asarray(e, dtype=float), (self.nseg,))
        k, dg = self._changes(g, what)
        bad = k[~np.isfinite(e[k])]
        if bad.size:
            raise ValueError(f"segment {self._names[bad[0]]}: the reversal potential of "
                             f"{what} must be finite, got {e[bad[0]]}")
        old_g, old_e = self._cable.g[k], self._cable.e[k]
        total = old_g + dg
        self._cable.e[k] = (old_g * old_e + dg * e[k]) / total
        self._cable.g[k] = total

    def resting_potential(self, tolerance: float = 1e-9) -> float | None:
        """As :meth:`NeuronCell.resting_potential`."""
        e = self._cable.e
        if e.max() - e.min() > tolerance:
            return None
        return float(np.mean(e)) if tolerance else float(e[0])

    linear_cable = LinearisedCell.linear_cable

    def synaptic_response(self, weights: np.ndarray, tau1: float, tau2: float,
                          n_after: int, t_X: float) -> np.ndarray:
        """As :meth:`LinearisedCell.synaptic_response` (``t_X`` is not needed)."""
        return self.linear_cable().response(weights, tau1, tau2, n_after)


#: Passive cells read by :func:`cable_cell`: key -> (geometry, cable, names) or None.
_SNAPSHOTS: dict = {}
SNAPSHOTS_KEPT = 32


def _snapshot(spec: CellSpec, population: Population, e_pas_default: float | None):
    key = (spec, tuple(sorted(population.rotation.items())), population.loc, e_pas_default)
    snap = _SNAPSHOTS.get(key, _SNAPSHOTS)  # the dict itself: not read yet
    if snap is _SNAPSHOTS:
        with LinearisedCell(spec, population, 1.0, e_pas_default) as cell:
            linear = cell.is_linear() and all("pas" in {m.name() for m in seg}
                                              for seg in cell.segments)
            snap = (cell.geometry, cell.cable(), tuple(str(seg) for seg in cell.segments),
                    {}) if linear else None
        while len(_SNAPSHOTS) >= SNAPSHOTS_KEPT:
            _SNAPSHOTS.pop(next(iter(_SNAPSHOTS), None), None)  # threads may race here
        _SNAPSHOTS[key] = snap
    return snap


def cable_cell(spec: CellSpec, population: Population, dt: float,
               e_pas_default: float | None = None) -> CableCell | None:
    """The :class:`CableCell` of a passive cell (None if its membrane is not linear).

    The NEURON cell is built once per cell specification, population ``rotation`` and
    ``loc`` and ``e_pas_default`` in a process (the last :data:`SNAPSHOTS_KEPT` are
    kept); each call returns a fresh :class:`CableCell` whose
    leak can be changed without touching the cached one.

    Parameters
    ----------
    spec, population, dt, e_pas_default
        As for :class:`LinearisedCell`.

    Examples
    --------
    >>> import xkernels
    >>> pop = xkernels.Network.example().population("E")
    >>> cell = cable_cell(pop.cell, pop, dt=0.0625, e_pas_default=-65.0)
    >>> cell.nseg, cell.resting_potential(tolerance=0.0)
    (27, -65.0)
    """
    snap = _snapshot(spec, population, e_pas_default)
    if snap is None:
        return None
    geometry, cable, names, memo = snap
    return CableCell(geometry, cable, names, dt, population.name, memo)

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
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xkernels.engine.biophysics import finish_preset, preset_function
from xkernels.engine.mechanisms import NEURON_LOCK, load_mechanisms, load_user_mechanisms
from xkernels.engine.morphology import check_sections, load_into, morphology_template
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
        try:
            self._h = h
            self.dt = float(dt)
            self.cell = template_cell(spec, population, self.dt, e_pas_default)
        except BaseException:
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
            NEURON_LOCK.release()

    def _release(self) -> None:
        """Drop what refers to the sections (synapses, recorders) before they go."""

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

    Use as a context manager (:class:`NeuronCell`).
    """

    def __init__(self, spec: CellSpec, population: Population, dt: float,
                 e_pas_default: float | None = None) -> None:
        super().__init__(spec, population, dt, e_pas_default)
        self.cell.set_pos(z=population.loc)
        self.geometry = self.read_geometry()

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

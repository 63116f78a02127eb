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

import warnings
from dataclasses import dataclass

import numpy as np

from xkernels.engine.biophysics import finish_preset, preset_function
from xkernels.engine.mechanisms import NEURON_LOCK, load_mechanisms
from xkernels.spec.network import CellSpec, Population

# density mechanisms that keep the membrane linear and passive
_LINEAR_MECHANISMS = {"pas"}


def insert_passive(cell, g_pas: float, e_pas: float) -> None:
    """Biophysics preset ``passive``: a leak channel on every section.

    Parameters
    ----------
    cell : LFPy.TemplateCell
        The cell being built (called by LFPy as a ``custom_fun``).
    g_pas : float
        Leak conductance (S/cm²).
    e_pas : float
        Leak reversal potential (mV).
    """
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = e_pas


def add_leak(segments: list, g: np.ndarray, e: float | np.ndarray, what: str) -> None:
    """Add a conductance ``g`` (S/cm², shape (nseg,)) of reversal ``e`` (mV, one value or
    one per segment) to the leak of ``segments``, exactly: ``g_pas (v - e_pas) + g (v - e)``
    is ``(g_pas + g)(v - e')`` with ``e' = (g_pas e_pas + g e) / (g_pas + g)``.

    Parameters
    ----------
    segments : list
        NEURON segments, one per entry of ``g``.
    g : ndarray
        Conductance to add per segment (S/cm²); segments with 0 are left alone.
    e : float or ndarray
        Its reversal potential (mV).
    what : str
        What the conductance is (named in the errors).

    Raises
    ------
    ValueError
        ``g`` of the wrong shape, ``e`` not finite where ``g`` > 0, or a segment to change
        without ``pas``.
    """
    g = np.asarray(g, dtype=float)
    if g.shape != (len(segments),):
        raise ValueError(f"leak conductance must have shape ({len(segments)},) (one value per "
                         f"segment), got {g.shape}")
    e = np.broadcast_to(np.asarray(e, dtype=float), g.shape)
    for seg, dg, rev in zip(segments, g, e):
        if dg == 0.0:
            continue
        if not np.isfinite(rev):
            raise ValueError(f"segment {seg}: the reversal potential of {what} must be "
                             f"finite, got {rev}")
        if not hasattr(seg, "pas"):
            raise ValueError(f"segment {seg} must have a 'pas' mechanism to take {what}, "
                             "got none")
        total = seg.pas.g + dg
        seg.pas.e = (seg.pas.g * seg.pas.e + dg * rev) / total
        seg.pas.g = total


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



def template_cell(spec: CellSpec, population: Population, dt: float,
                  e_pas_default: float | None = None):
    """Build the LFPy ``TemplateCell`` of ``spec``, rotated as ``population`` says.

    The one construction shared by :class:`LinearisedCell` (kernels) and
    :class:`xkernels.engine.network_cell.NetworkCell` (the hybrid scheme): template,
    morphology, biophysics preset or callable, ``params``.  Sections that exist already
    (the user's own model) are left alone.

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
    """
    import LFPy

    load_mechanisms()
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
        fun, args = preset_function(bio, float(e_pas), insert_passive)
        custom_fun.insert(0, fun)
        custom_args.insert(0, args)
    elif callable(bio):
        custom_fun.insert(0, bio)
        custom_args.insert(0, dict(spec.biophysics_args))
    params.setdefault("v_init", -70.0)
    with warnings.catch_warnings():  # LFPy's "N sections detected!": the user's, kept
        warnings.filterwarnings("ignore", message=".*sections detected")
        cell = LFPy.TemplateCell(
            morphology=str(spec.resolve("morphology")),
            templatefile=str(spec.resolve("templatefile")),
            templatename=spec.templatename,
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

    def shift_g_pas(self, delta: np.ndarray) -> None:
        """Add ``delta`` (S/cm², shape (nseg,)) to the leak conductance of every segment.

        Raises
        ------
        ValueError
            ``delta`` of the wrong shape, or a segment to shift without ``pas``.
        """
        delta = np.asarray(delta, dtype=float)
        if delta.shape != (self.nseg,):
            raise ValueError(f"g_pas shift must have shape ({self.nseg},) (one value per "
                             f"segment), got {delta.shape}")
        for seg, dg in zip(self.segments, delta):
            if dg != 0.0:
                if not hasattr(seg, "pas"):
                    raise ValueError(f"segment {seg} has no 'pas' mechanism to shift "
                                     "(g_eff needs a passive leak on every segment)")
                seg.pas.g += dg

    def add_leak(self, g: np.ndarray, e: float | np.ndarray,
                 what: str = "the mean input (operating_point='mean-input')") -> None:
        """Add a conductance ``g`` (S/cm², shape (nseg,)) of reversal ``e`` (mV, one value
        or one per segment) to the leak, exactly (:func:`add_leak`; ``what`` is named in
        its errors)."""
        add_leak(self.segments, g, e, what)

    def is_linear(self) -> bool:
        """True if the membrane is linear: no density mechanism other than ``pas``.

        The membrane-current response of such a cell to current-based synapses is
        linear in the synaptic weights, so responses to unit synapses superpose.
        """
        return all({mech.name() for mech in seg} <= _LINEAR_MECHANISMS
                   for seg in self.segments)

    def resting_potential(self, tolerance: float = 0.0) -> float | None:
        """The exact resting potential (mV) if the membrane is passive (only ``pas``)
        and its leak reversal potential uniform (to ``tolerance`` mV: their mean), else
        None (the rest has to be found by simulation)."""
        if not all("pas" in {mech.name() for mech in seg} for seg in self.segments) \
                or not self.is_linear():
            return None
        e = [seg.pas.e for seg in self.segments]
        if max(e) - min(e) > tolerance:
            return None
        return float(np.mean(e)) if tolerance else e[0]

    def record_imem(self) -> list:
        """Fixed-step integration with fast i_membrane_ recorded at every step: one
        recording Vector per segment.

        Recording every step (not every ``dt`` ms by record events) gives exactly one
        sample per step whatever the accumulated rounding of NEURON's clock.
        """
        h = self._h
        cvode = h.CVode()
        cvode.active(0)
        cvode.use_fast_imem(1)
        h.dt = self.dt
        recorders = []
        for seg in self.segments:
            vec = h.Vector()
            vec.record(seg._ref_i_membrane_)  # every fixed step (no per-sample events)
            recorders.append(vec)
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
        h = self._h
        v_rest = self.resting_potential()
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
            syn = h.Exp2SynI(seg)
            syn.tau1 = tau1
            syn.tau2 = tau2
            nc = h.NetCon(None, syn)
            nc.weight[0] = w
            synapses.append(syn)
            netcons.append(nc)
        recorders = self.record_imem()
        h.finitialize(v_init)
        h.fcurrent()
        h.frecord_init()
        for nc in netcons:
            # NEURON delivers it at the step whose start lies within dt/2 of this time
            nc.event(n_before * self.dt)
        imem = self._run(recorders, n_before + n_after)
        del synapses, netcons, recorders
        if v_rest is None:
            # a membrane not at rest: remove the baseline transient exactly by
            # subtracting the same simulation without the volley
            imem = imem - self._baseline(v_init, n_before + n_after)
        return imem[:, n_before:]

    def _run(self, recorders: list, n_steps: int) -> np.ndarray:
        """Integrate ``n_steps`` steps from initialisation; the recorded currents.

        ``ParallelContext.psolve`` (NEURON's compiled event loop, the same fixed-step
        results as the interpreted ``continuerun`` of LFPy without its per-step hoc
        overhead) runs to about one step before the end, single steps finish the count
        (psolve decides by NEURON's accumulated clock, which drifts by ~1e-11 ms).
        """
        h = self._h
        pc = h.ParallelContext()
        pc.set_maxstep(10.0)
        if n_steps > 1:
            pc.psolve((n_steps - 1.5) * self.dt)
        first = recorders[0] if recorders else None
        if first is None:
            return np.zeros((0, n_steps + 1))
        while first.size() < n_steps + 1:
            h.fadvance()
        return np.array([vec.as_numpy()[: n_steps + 1] for vec in recorders])

    def _baseline(self, v_init: float, n_steps: int) -> np.ndarray:
        h = self._h
        recorders = self.record_imem()
        h.finitialize(v_init)
        h.fcurrent()
        h.frecord_init()
        return self._run(recorders, n_steps)

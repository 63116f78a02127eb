"""One cell of a network population in NEURON: placed, wired with grouped synapses,
simulated with its real synaptic inputs, and reduced to probe signals.

This is the NEURON part of the hybrid scheme (:mod:`xkernels.hybrid`): the ground truth
that the kernels approximate.  Unlike :class:`xkernels.engine.cells.LinearisedCell`
nothing is linearised: conductance-based synapses are real conductances (``Exp2Syn``
with their reversal potential), current-based ones are ``Exp2SynI`` currents, and any
membrane mechanism is simulated as it is.

A :class:`NetworkCell` is built once and reused for many cells of the same population:
NEURON's dynamics do not depend on where the cell sits, so only the geometry handed to
the forward models (and the synapse placement, done by the caller from
:attr:`NetworkCell.geometry`) changes between cells.  Synapses are grouped: all
synapses of one group (one presynaptic population on one segment) share one NEURON
point process and one event source, ``NetCon(None, syn)``, with every delivery time
(presynaptic spike time + conduction delay) queued by ``NetCon.event`` after
``finitialize``.  Because ``Exp2Syn``/``Exp2SynI`` are linear in their events, this is
the same model as one point process per synapse (to floating-point rounding), at a
fraction of the cost.

Units: lengths µm, times ms, weights µS (``Exp2Syn``) or nA (``Exp2SynI``), potentials
mV, transmembrane currents nA.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xkernels.engine.cells import Geometry, NeuronCell
from xkernels.spec.network import CellSpec, Population

#: Point-process types a synapse group may use.
SYNAPSE_TYPES = ("Exp2Syn", "Exp2SynI")

#: Default number of time steps integrated between two reductions of the currents.
DEFAULT_CHUNK_STEPS = 4096



class NetworkCell(NeuronCell):
    """A cell of population ``population`` for the hybrid scheme.

    Parameters
    ----------
    spec : CellSpec
        Cell specification (usually ``population.cell``).
    population : Population
        The population (its ``rotation`` is applied once; positions are set per cell
        with :meth:`place`).
    dt : float
        Fixed integration time step (ms); currents are recorded every step.
    e_pas_default : float or None
        Leak reversal potential (mV) of the ``passive`` preset when its ``e_pas`` is
        unset (the Vrest of the kernels).
    v_init : float or None
        Initial membrane potential (mV).  ``None``: the exact resting potential when
        the membrane is passive with a uniform leak reversal potential (no settling
        transient), otherwise the cell's ``v_init`` parameter (default -70 mV).

    Notes
    -----
    Use as a context manager; :meth:`close` deletes every synapse, recorder and NEURON
    section it created, and no other (:class:`~xkernels.engine.cells.NeuronCell`: it
    holds NEURON's lock while it exists).
    """

    def __init__(self, spec: CellSpec, population: Population, dt: float, *,
                 e_pas_default: float | None = None, v_init: float | None = None) -> None:
        super().__init__(spec, population, dt, e_pas_default)
        self.population = population.name
        self._groups: list[tuple] = []   # (point process, NetCon, delivery times)
        self._recorders: list = []
        self._v_init = None if v_init is None else float(v_init)
        self.place(0.0, 0.0, 0.0)

    def _release(self) -> None:
        self.clear_synapses()
        self._recorders = []

    # -- geometry ----------------------------------------------------------------------
    def place(self, x: float, y: float, z: float) -> Geometry:
        """Move the soma midpoint to ``(x, y, z)`` (µm) and return the new geometry.

        The NEURON model is unchanged (positions do not enter the cable equation);
        only :attr:`geometry` moves.
        """
        self.cell.set_pos(x=float(x), y=float(y), z=float(z))
        self.geometry = self.read_geometry()
        return self.geometry

    # -- membrane ----------------------------------------------------------------------
    @property
    def v_init(self) -> float:
        """Initial potential (mV): as given, else the exact rest of a passive uniform
        membrane (after any leak changes), else the cell's ``v_init`` parameter."""
        if self._v_init is not None:
            return self._v_init
        rest = self.resting_potential()
        return rest if rest is not None else float(self.cell.v_init)

    # -- synapses ----------------------------------------------------------------------
    def add_synapses(self, segments: Sequence[int], times: Sequence[np.ndarray], *,
                     syntype: str, weight: float, tau1: float, tau2: float,
                     e: float = 0.0) -> None:
        """Add synapse groups: one point process and one event source per segment.

        Parameters
        ----------
        segments : sequence of int
            Segment index of every group (unique per call).
        times : sequence of ndarray
            Delivery times (ms) of every group: spike times plus delays of all its
            synapses, any order; times outside ``[0, t_stop)`` of the run are never
            delivered.
        syntype : {"Exp2Syn", "Exp2SynI"}
            Conductance-based (``weight`` in µS, reversal ``e`` in mV) or
            current-based (``weight`` in nA, positive = inward) double exponential.
        weight : float
            Weight of every synapse of the groups.
        tau1, tau2 : float
            Rise and decay time constants (ms).
        e : float
            Reversal potential of ``Exp2Syn`` (mV).
        """
        if syntype not in SYNAPSE_TYPES:
            raise ValueError(f"syntype must be one of {SYNAPSE_TYPES}, got {syntype!r}")
        segments = np.asarray(segments, dtype=np.int64)
        if len(segments) != len(times):
            raise ValueError(f"segments ({len(segments)}) and times ({len(times)}) must "
                             "have one entry per synapse group")
        if segments.size and (segments.min() < 0 or segments.max() >= self.nseg):
            raise ValueError(f"segment indices must be in [0, {self.nseg}), got "
                             f"[{segments.min()}, {segments.max()}]")
        for idx, t in zip(segments.tolist(), times):
            t = np.asarray(t, dtype=float)
            if t.size == 0:
                continue
            syn, nc = self.synapse(self.segments[idx], syntype, tau1, tau2, weight)
            if syntype == "Exp2Syn":
                syn.e = e
            self._groups.append((syn, nc, np.sort(t)))

    @property
    def n_groups(self) -> int:
        """Number of point processes (synapse groups) attached."""
        return len(self._groups)

    def clear_synapses(self) -> None:
        """Remove every synapse group."""
        self._groups = []

    # -- simulation --------------------------------------------------------------------
    def simulate(self, n_steps: int, matrix: np.ndarray, *,
                 chunk_steps: int = DEFAULT_CHUNK_STEPS) -> np.ndarray:
        """Simulate ``n_steps`` steps and return ``matrix @ imem`` at ``t = k dt``.

        The transmembrane currents are integrated with a fixed step ``dt`` from
        ``v_init``, recorded every step (fast ``i_membrane_``) and reduced through
        ``matrix`` in chunks of ``chunk_steps`` steps, so memory stays
        ``nseg × chunk_steps`` whatever the duration.

        Parameters
        ----------
        n_steps : int
            Number of samples: times ``0, dt, ..., (n_steps - 1) dt`` (ms).
        matrix : ndarray
            Shape (n_channels, nseg): forward models of every probe for this cell at
            its position (channel units per nA).
        chunk_steps : int
            Steps integrated between two reductions.

        Returns
        -------
        ndarray
            Shape (n_channels, n_steps), the probe signals of this cell.
        """
        matrix = np.asarray(matrix, dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != self.nseg:
            raise ValueError(f"matrix must have shape (n_channels, {self.nseg}), got "
                             f"{matrix.shape}")
        n_steps = int(n_steps)
        chunk_steps = max(1, int(chunk_steps))
        out = np.empty((matrix.shape[0], n_steps))
        # every fixed step, t = 0 included
        recorders = self._recorders = self.start(self.v_init)
        try:
            t_end = n_steps * self.dt
            for _, nc, times in self._groups:
                lo, hi = np.searchsorted(times, [0.0, t_end], side="left")
                for t in times[lo:hi].tolist():
                    nc.event(t)
            done, carry = 0, np.empty((self.nseg, 0))
            while done < n_steps:
                stop = min(n_steps, done + chunk_steps)
                # integrate until the sample at (stop - 1) dt is recorded
                block = np.concatenate([carry, self.advance(
                    recorders, (stop - 1) * self.dt, stop - done - carry.shape[1])], axis=1)
                out[:, done:stop] = matrix @ block[:, : stop - done]
                carry = block[:, stop - done:]
                done = stop
        finally:
            self._recorders = []
            del recorders
        return out

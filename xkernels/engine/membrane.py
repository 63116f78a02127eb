"""Linearisation of a cell's membrane around its resting state.

A kernel is the response of a *linear* cell.  An active membrane (voltage-gated
channels) is not linear, so it has to be linearised explicitly; the mode is chosen per
postsynaptic population:

``"as-is"``
    The cell is simulated as specified (LFPykernels' behaviour): passive cells start
    exactly at rest, other cells settle from ``v_init`` for ``t_X`` before the volley.
    The membrane is *not* linearised (:meth:`LinearisedCell.synaptic_response`).
``"passive"``
    Every density mechanism but the leak ``pas`` is removed.
``"frozen"``
    The cell is settled to its resting state; every membrane conductance is then fixed
    at its resting value: the membrane becomes a leak with, per segment, the total
    conductance ``g_i = dI_i/dV`` of all its mechanisms at rest with their gating
    states held (S/cm²) and the reversal potential ``E_i = V_i + I_i / g_i`` at which
    the leak carries the resting ionic current ``I_i`` (mA/cm²) at the resting potential
    ``V_i`` -- so the frozen cell rests exactly where the active cell rests (``E_i =
    V_i`` wherever no axial current flows at rest).
``"quasi-active"``
    The small-signal linearisation of the whole membrane around the resting state,
    gating dynamics included: the limit of vanishing synaptic weight of the active
    cell's response, ``(R(εw) - R(-εw)) / 2ε`` as ``ε -> 0``, computed by NEURON at the
    same time step from the saved resting state with a perturbation so small
    (:data:`PERTURBATION`) that the remaining nonlinearity is far below 1e-6 relative.

Nothing here knows any channel: ``g_i`` and ``I_i`` come from NEURON's own evaluation
of every mechanism's currents (``fcurrent``) at ``V_i ± δ`` with the states held, and
the quasi-active response from simulations of the cell itself, so any cell and any
NMODL mechanism is linearised the same way.

The resting state is found by settling (variable-step integration from ``v_init``, then
fixed steps of ``dt``) and checked to be stationary; a cell that does not come to rest
(spontaneous spiking, an injected current...) is refused with the segment that keeps
moving; a quasi-active cell's rest is then polished by Newton's iteration on NEURON's own
fixed step to its fixed point (the linear solver goes there from the coarse settling
phase directly).  Conductance-based synapses are linearised around that state (the caller uses
:attr:`RestingState.v` as the per-segment Vrest).  The resting state is found once per
cell and saved (``SaveState``); every presynaptic population's response starts from it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from xkernels.engine import linearisation as lin
from xkernels.engine.cells import LinearisedCell
from xkernels.engine.plans import KernelPlan, PopulationPlan, plan_population
from xkernels.spec.network import Network

__all__ = ["LinearisedMembrane", "RestingState", "linearised", "check_current_evaluation",
           "frozen_leak"]
#: The leak mechanism kept by ``"passive"`` and used to hold frozen conductances.
LEAK = "pas"
#: Mechanisms whose currents are not membrane currents of the cable equation (they
#: change the cable itself) and cannot be frozen into a leak.
UNFREEZABLE = ("extracellular",)

#: Settling: variable-step chunks (ms), the longest settling (ms), and the largest
#: change of any segment's potential over the last chunk that counts as settled (mV).
SETTLE_CHUNK = 500.0
SETTLE_MAX = 10000.0
SETTLE_TOLERANCE = 1e-7
#: Stationarity check after settling: fixed steps of dt over this window (ms); no
#: segment may move by more than STATIONARY_TOLERANCE (mV).
STATIONARY_WINDOW = 50.0
STATIONARY_TOLERANCE = 1e-6
#: Settling phases: variable-step tolerance (absolute = relative) and the largest
#: change over a chunk (mV) that ends the phase.  A coarse phase gets through the
#: transient cheaply, a tight one settles the cell to SETTLE_TOLERANCE.  The coarse
#: phase ends after at most COARSE_MAX ms: its own integration error can keep a cell
#: that rests moving by more than its criterion (an active cell held depolarised by the
#: mean input: ~0.05 mV per chunk at tolerance 1e-3, at rest within 500 ms at 1e-10),
#: so the tight phase, not the coarse one, decides whether the cell has a resting state.
SETTLE_PHASES = ((1e-3, 1e-2), (1e-10, SETTLE_TOLERANCE))
COARSE_MAX = SETTLE_MAX / 2
#: A cell still moving by more than this (mV per chunk) at the end of the coarse phase
#: has no resting state (it fires: the tight phase is not tried, it would take minutes).
COARSE_NEARLY = 1.0
#: The resting state of the linear solver's quasi-active membranes: the coarse
#: settling phase, then Newton's iteration on NEURON's own fixed step ``z -> step(z)``
#: (potentials and gating states), its Jacobian the quasi-active system read where the
#: coarse phase ended, until the correction of every potential is at most
#: NEWTON_VOLTAGE (mV) and of every state NEWTON_STATE, in at most NEWTON_STEPS
#: iterations (else the cell settles as for NEURON).  NEURON's tight settling ends
#: within ~3e-11 mV (the active README cell) to 6e-10 mV (the own-cell example, an
#: M-current of time constants up to 1 s) of the same point: with ``solver="neuron"``
#: a quasi-active cell's settled rest is polished by the same iteration, so that both
#: solvers linearise at one point.
NEWTON_VOLTAGE = 1e-10
NEWTON_STATE = 1e-12
NEWTON_STEPS = 30
#: Quasi-active resting states (with their solvers) of the linear solver, by the
#: cell's specification, leak, dt and temperature (:func:`_quasi_key`): the last
#: QUASI_KEPT, so that a computation repeated on the same membrane does not settle it
#: and read its system again.
QUASI_KEPT = 16
_QUASI: dict = {}
#: Voltage step of the central difference of the ionic currents (mV).
VOLTAGE_STEP = 1e-3
#: Total synaptic peak current of the quasi-active perturbation (nA).
PERTURBATION = 1e-5


@dataclass(frozen=True, eq=False)
class RestingState:
    """The resting state of a cell and its linearisation.

    Attributes
    ----------
    mode : str
        The linearisation mode (one of :data:`~xkernels.spec.options.LINEARISATIONS`,
        not ``"as-is"``).
    v : ndarray
        Resting potential of every segment (mV), shape (nseg,).
    g : ndarray or None
        ``"frozen"``: total membrane conductance of every segment at rest, gating
        states held (S/cm²).
    e : ndarray or None
        ``"frozen"``: reversal potential of the frozen leak (mV).
    solver : QuasiActiveSolver or None
        ``"quasi-active"`` with the linear solver: the membrane's solver at this state
        (a later linearisation of the same cell and inputs reuses it instead of
        settling again).
    """

    mode: str
    v: np.ndarray
    g: np.ndarray | None = None
    e: np.ndarray | None = None
    solver: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists of floats), for provenance."""
        out: dict[str, Any] = {"mode": self.mode, "v": [float(x) for x in self.v]}
        if self.g is not None:
            out["g"] = [float(x) for x in self.g]
            out["e"] = [float(x) for x in self.e]
        return out


class LinearisedMembrane:
    """The membrane of a cell in one linearisation mode, at rest, ready for volleys.

    Parameters
    ----------
    cell : LinearisedCell
        The cell, with any g_eff leak shift already applied.  Its membrane is modified
        in place for ``"passive"`` and ``"frozen"``.
    mode : str
        One of :data:`~xkernels.spec.options.LINEARISATIONS`.
    population : str
        The postsynaptic population (named in error messages).
    taus : sequence of (float, float)
        The synapse rise and decay time constants (ms) that :meth:`response` will be
        asked for (one set of synapses each is placed before the rest is saved).
    state : RestingState, optional
        The resting state found by an earlier linearisation of the same cell: frozen
        conductances are applied without settling again; other modes settle again and
        must find the same state.

    Raises
    ------
    ValueError
        The mode cannot be applied to the cell (no leak for ``"passive"``, mechanisms
        that cannot be frozen or evaluated for ``"frozen"``) or the cell has no resting
        state; the message names the mode, the population, the segment and the
        mechanism.  Raised before any synaptic input is simulated.

    Use as a context manager (or call :meth:`close`) to release the synapses and the
    saved state before the cell is closed.
    """

    def __init__(self, cell: LinearisedCell, mode: str, population: str,
                 taus: Sequence[tuple[float, float]],
                 state: RestingState | None = None) -> None:
        self.cell = cell
        self.mode = mode
        self.population = population
        self.state: RestingState | None = None
        self._synapses: dict[tuple[float, float], tuple[list, list]] = {}
        self._saved = None
        self._recorders: list = []
        self._baseline: np.ndarray | None = None
        self._quasi = None
        #: responses from the linear solver (:mod:`xkernels.engine.cable`)
        self.linear = False
        if mode == "as-is":
            self.linear = cell.uses_linear_solver()  # refuses "linear" for active cells
            if self.linear:
                try:  # built here (and kept) so that an unstable cable is refused now
                    cell.linear_cable()
                except ValueError as error:
                    raise ValueError(f"population {population!r}: {error}") from None
            return
        where = f"linearisation={mode!r} of population {population!r}"
        if not getattr(cell, "in_neuron", True):  # a CableCell: only "passive" comes here
            self.linear = True
            exact = cell.resting_potential(tolerance=0.0)
            v = np.full(cell.nseg, exact) if exact is not None else cell.linear_cable().rest()
            _check_stable(cell, where, ["pas"])
            self.state = RestingState(mode, v)
            return
        from neuron import h

        self._h = h
        h.CVode().use_fast_imem(1)
        segments = cell.segments
        mechanisms = sorted({name for seg in segments for name in _mechanisms(seg)})
        quasi = mode == "quasi-active"
        self.linear = cell.solver != "neuron"
        _check_finite(segments, where)
        if mode in ("passive", "frozen") or (quasi and self.linear):
            _check_linearisable(segments, mode, where)
        if mode == "passive":
            _keep_only(cell, (LEAK,))
        else:
            check_current_evaluation()  # before any state exists: it adds a section
        if quasi and self.linear and state is not None and state.solver is not None:
            # the same cell and inputs linearised before (prepare, then simulate): its
            # resting state and solver, without settling again
            self.state, self._quasi = state, state.solver
            return
        key = _quasi_key(cell, h) if quasi and self.linear and state is None \
            and QUASI_KEPT > 0 else None
        if key is not None and key in _QUASI:  # the same membrane in an earlier call
            self.state = _QUASI[key]
            self._quasi = self.state.solver
            return
        # the synapses are placed before settling whichever the solver (they take part
        # in NEURON's variable-step settling: the same resting state either way)
        for tau1, tau2 in dict.fromkeys((float(a), float(b)) for a, b in taus):
            self._add_synapses(tau1, tau2)
        if mode == "frozen" and state is not None:
            self._freeze(state)
        elif mode == "frozen":
            self._settle(where)
            g, e = frozen_leak(segments, where)
            self._freeze(RestingState("frozen", self._voltages(), g, e))
        else:
            exact = _uniform_leak_reversal(segments) if mode == "passive" else None
            if exact is not None:
                self._set_rest(np.full(len(segments), exact))
            elif self.linear and not quasi:  # a linear cable's steady state: one solve
                _check_stable(cell, where, mechanisms)
                self._set_rest(cell.linear_cable().rest())
            elif self.linear:  # quasi-active: NEURON's fixed point by Newton's iteration
                self._rest_by_newton(where)
            else:
                self._settle(where)
                if quasi:  # where settling ends, polished to the same fixed point
                    self._newton(where)
            v = self._voltages()
            if state is not None and np.abs(state.v - v).max() > STATIONARY_TOLERANCE:
                raise RuntimeError(f"{where}: settling the same cell again gave another "
                                   f"resting state (max difference "
                                   f"{np.abs(state.v - v).max():.3g} mV)")
            self.state = RestingState(mode, v)
        if not quasi:
            _check_stable(cell, where, mechanisms)
        if self.linear and not quasi:
            return
        self._saved = h.SaveState()
        self._saved.save()
        self._t0 = float(h.t)
        if quasi and self.linear:
            self.state = replace(self.state, solver=self._linearise_gates(where))
            if key is not None:
                while len(_QUASI) >= QUASI_KEPT:
                    _QUASI.pop(next(iter(_QUASI), None), None)  # threads may race here
                _QUASI[key] = self.state
            return
        self._recorders = cell.record_imem()

    def _restore(self) -> None:
        """Put the cell back to the saved resting state (fixed steps of dt)."""
        self.cell.fixed_steps()
        self._h.finitialize(self.cell.cell.v_init)
        self._saved.restore(1)

    def _linearise_gates(self, where: str):
        """The quasi-active system of the cell at rest (:func:`quasi_active_cable`) and
        its solver, checked against NEURON's own steps and for stability (kept and
        returned)."""
        from xkernels.engine.quasi_active_cable import quasi_active_solver

        system = quasi_active_cable(self.cell, self._restore, where)
        solver = quasi_active_solver(system, self.cell.dt)
        check_quasi_active(self.cell, system, solver, self._restore, where)
        _check_spectrum(self.cell, system, solver, where)
        self._quasi = solver
        return solver

    @property
    def solver(self):
        """The linear solver of the membrane: the cell's
        :class:`~xkernels.engine.cable.LinearCable`, or for ``"quasi-active"`` its
        :class:`~xkernels.engine.quasi_active_cable.QuasiActiveSolver`."""
        quasi = getattr(self, "_quasi", None)
        return quasi if quasi is not None else self.cell.linear_cable()

    # -- context management ------------------------------------------------------------
    def __enter__(self) -> LinearisedMembrane:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the synapses, recorders and saved state (before the cell is closed)."""
        self._synapses = {}
        self._recorders = []
        self._saved = None

    # -- the response ------------------------------------------------------------------
    def response(self, weights: np.ndarray, tau1: float, tau2: float, n_after: int,
                 t_X: float) -> np.ndarray:
        """Membrane currents after one synchronous volley, from the resting state.

        Parameters
        ----------
        weights : ndarray
            ``Exp2SynI`` peak current per segment (nA, shape (nseg,)); positive is
            inward.
        tau1, tau2 : float
            Rise and decay time constants (ms); one of the pairs given at construction.
        n_after : int
            Time steps simulated after the volley.
        t_X : float
            Volley time of ``"as-is"`` cells that must settle (ms); unused otherwise.

        Returns
        -------
        ndarray
            Shape (nseg, n + 1): change of the transmembrane currents (nA) at lags
            ``k dt``, ``k = 0..n``, ``n = n_after`` after the volley, of the
            linearised membrane.
        """
        if self.mode == "as-is":
            return self.cell.synaptic_response(weights, tau1, tau2, n_after, t_X)
        weights = np.asarray(weights, dtype=float)
        if self.linear:
            return self.solver.response(weights, tau1, tau2, n_after)
        n_steps = int(n_after)
        if self.mode == "quasi-active":
            total = np.abs(weights).sum()
            if total == 0.0:
                return np.zeros((weights.size, n_steps + 1))
            eps = PERTURBATION / total
            up = self._run(eps * weights, tau1, tau2, n_steps)
            down = self._run(-eps * weights, tau1, tau2, n_steps)
            return (up - down) / (2.0 * eps)
        if self._baseline is None or self._baseline.shape[-1] != n_steps + 1:
            self._baseline = self._run(np.zeros_like(weights), tau1, tau2, n_steps)
        return self._run(weights, tau1, tau2, n_steps) - self._baseline

    def signal(self, matrix: np.ndarray, weights: np.ndarray, tau1: float, tau2: float,
               n_after: int, t_X: float) -> np.ndarray:
        """``matrix @ response(...)``: the probe signals (n_channels, n_after + 1) of
        :meth:`response` mapped through ``matrix`` (n_channels, nseg); the linear solver
        maps its modes directly."""
        if self.linear:
            return self.solver.projected(matrix, weights, tau1, tau2, n_after)
        return lin.project(matrix, self.response(weights, tau1, tau2, n_after, t_X))

    def _run(self, weights: np.ndarray, tau1: float, tau2: float, n_steps: int) -> np.ndarray:
        """Currents (nA) at lags 0..n_steps after a volley at one step after the rest."""
        h = self._h
        key = (float(tau1), float(tau2))
        if key not in self._synapses:
            raise ValueError(f"no synapses with tau1, tau2 = {key} were prepared for "
                             f"population {self.population!r}; prepared: {list(self._synapses)}")
        _, netcons = self._synapses[key]
        dt = self.cell.dt
        self._restore()
        h.frecord_init()
        t_volley = h.t + dt
        for nc, w in zip(netcons, weights):
            nc.weight[0] = w
            if w != 0.0:
                nc.event(t_volley)
        out = self.cell.advance(self._recorders, self._t0 + (n_steps + 1) * dt,
                                n_steps + 2)[:, 1: n_steps + 2]
        if not np.isfinite(out).all():
            raise ValueError(f"linearisation={self.mode!r} of population "
                             f"{self.population!r}: the simulation from the resting state "
                             "gave non-finite membrane currents")
        return out

    # -- resting state -----------------------------------------------------------------
    def _add_synapses(self, tau1: float, tau2: float) -> None:
        synapses, netcons = [], []
        for seg in self.cell.segments:
            syn, nc = self.cell.synapse(seg, "Exp2SynI", tau1, tau2)
            synapses.append(syn)
            netcons.append(nc)
        self._synapses[(tau1, tau2)] = (synapses, netcons)

    def _voltages(self) -> np.ndarray:
        return np.array([seg.v for seg in self.cell.segments])

    def _rest_by_newton(self, where: str) -> None:
        """Put the cell at the fixed point of NEURON's fixed step (the resting state
        :meth:`_settle` approaches): the coarse settling phase, then :meth:`_newton`;
        where either does not get there, :meth:`_settle`."""
        if not (self._settle(where, SETTLE_PHASES[:1], check=False)
                and self._newton(where)):
            self._settle(where)

    def _newton(self, where: str) -> bool:
        """From where the cell is, Newton's iteration to the fixed point of NEURON's
        fixed step (potentials and gating states), the quasi-active system read there as
        its Jacobian, to :data:`NEWTON_VOLTAGE` and :data:`NEWTON_STATE` in at most
        :data:`NEWTON_STEPS` iterations: True with the cell there, else False with the
        cell back where it was."""
        h, cell = self._h, self.cell
        cell.fixed_steps()
        h.fcurrent()
        saved = h.SaveState()
        saved.save()

        def restore():
            cell.fixed_steps()
            h.finitialize(cell.cell.v_init)
            saved.restore(1)

        try:
            system = quasi_active_cable(cell, restore, where)
            newton = system.fixed_point_solver(cell.dt)  # F -> (I - T)^-1 F, sparse
        except (ValueError, RuntimeError):  # a state Python cannot set, a singular
            restore()                       # Jacobian...: the cell stays settled
            h.fcurrent()
            return False
        n = system.nseg
        state = _Pointers([seg._ref_v for seg in cell.segments]
                          + [getattr(cell.segments[i], f"_ref_{name}")
                             for i, name in zip(system.segment, system.names)])
        restore()
        z = state.get()
        for _ in range(NEWTON_STEPS):
            restore()
            state.set(z)
            h.fadvance()
            change = newton(state.get() - z)
            z = z + change
            if not np.isfinite(z).all():
                break
            if np.abs(change[:n]).max() <= NEWTON_VOLTAGE and \
                    np.abs(change[n:]).max(initial=0.0) <= NEWTON_STATE:
                restore()
                state.set(z)
                h.fcurrent()
                return True
        restore()
        h.fcurrent()
        return False

    def _settle(self, where: str, phases=SETTLE_PHASES, check: bool = True) -> bool:
        """Integrate from ``v_init`` until the membrane stops moving, then check it
        (``check``: else only whether the last of ``phases`` met its criterion)."""
        h = self._h
        segments = self.cell.segments
        cvode = h.CVode()
        atol, rtol = cvode.atol(), cvode.rtol()
        try:
            cvode.active(1)
            h.finitialize(self.cell.cell.v_init)
            before = self._voltages()
            for phase, (tolerance, settled) in enumerate(phases):
                last = phase == len(SETTLE_PHASES) - 1
                cvode.atol(tolerance)
                cvode.rtol(tolerance)
                cvode.re_init()
                change = np.full(len(segments), np.inf)
                end = SETTLE_MAX if last else min(SETTLE_MAX, h.t + COARSE_MAX)
                while h.t < end and np.nanmax(change) > settled:
                    self.cell.psolve(h.t + SETTLE_CHUNK)
                    after = self._voltages()
                    change = np.abs(after - before)
                    change[~np.isfinite(after)] = np.inf
                    before = after
                if not last and np.nanmax(change) > max(settled, COARSE_NEARLY):
                    break
        finally:
            cvode.active(0)
            cvode.atol(atol)
            cvode.rtol(rtol)
        if not check:
            return bool(np.nanmax(change) <= phases[-1][1])
        if np.nanmax(change) > SETTLE_TOLERANCE:
            k = int(np.argmax(change))
            raise ValueError(
                f"{where}: the cell has no resting state: segment {segments[k]} still "
                f"changed by {change[k]:.3g} mV over the last {SETTLE_CHUNK:g} ms after "
                f"settling for {h.t:g} ms from v_init = {self.cell.cell.v_init} mV "
                "(spontaneous activity or an injected current?); linearise a cell that "
                "rests, or use linearisation='as-is'")
        h.dt = self.cell.dt
        h.fcurrent()
        before = self._voltages()
        self.cell.psolve(h.t + STATIONARY_WINDOW)
        change = np.abs(self._voltages() - before)
        if not np.isfinite(change).all() or change.max() > STATIONARY_TOLERANCE:
            k = int(np.argmax(np.where(np.isfinite(change), change, np.inf)))
            raise ValueError(
                f"{where}: the resting state is not stationary at dt = {self.cell.dt} ms: "
                f"segment {segments[k]} moved by {change[k]:.3g} mV over "
                f"{STATIONARY_WINDOW:g} ms of fixed steps (allowed "
                f"{STATIONARY_TOLERANCE:g} mV); linearise a cell that rests, or use "
                "linearisation='as-is'")
        return True

    def _set_rest(self, v: np.ndarray) -> None:
        """Initialise the (linear) membrane at the potentials ``v`` (mV)."""
        h = self._h
        self.cell.fixed_steps()
        h.finitialize(self.cell.cell.v_init)
        for seg, x in zip(self.cell.segments, v):
            seg.v = x
        h.fcurrent()

    def _freeze(self, state: RestingState) -> None:
        """Replace every mechanism by the frozen leak of ``state`` and rest there."""
        _keep_only(self.cell, ())
        for sec in self.cell.cell.allseclist:
            sec.insert(LEAK)
        for seg, g, e in zip(self.cell.segments, state.g, state.e):
            seg.pas.g = g
            seg.pas.e = e
        self._set_rest(state.v)
        self.state = state


@contextmanager
def linearised(network: Network, post: str, cell: LinearisedCell, plan: KernelPlan,
               inputs: PopulationPlan, mode: str, state: RestingState | None = None,
               depth: float | None = None, memo: dict | None = None,
               ) -> Iterator[tuple[LinearisedMembrane, PopulationPlan]]:
    """The membrane of ``cell`` in ``mode`` at rest, with the g_eff shift of ``inputs``
    applied, and the inputs at that rest.

    The g_eff conductance goes on the cell's leak with the leak's reversal
    (``operating_point="rest"``, LFPykernels' g_eff) or with the synapses' own
    (``"mean-input"``: the cell then rests where the mean input holds it).

    Parameters
    ----------
    network : Network
        The network.
    post : str
        The postsynaptic population of ``cell``.
    cell : LinearisedCell
        Its cell (at the population's depth; ``depth`` µm away for a depth node).
    plan : KernelPlan
        The computation.
    inputs : PopulationPlan
        The inputs of ``post`` on ``cell`` (planned at the computation's Vrest).
    mode : str
        The membrane linearisation.
    state : RestingState, optional
        The resting state found on this cell before: reapplied, and ``inputs`` kept.
    depth : float, optional
        The depth node of ``cell`` (:func:`~xkernels.engine.plans.plan_population`).
    memo : dict, optional
        Passed to :func:`~xkernels.engine.plans.plan_population` when the inputs are
        planned again (the same numbers, without recomputing the placement).

    Yields
    ------
    tuple
        ``(membrane, inputs)``: with a resting state newly found and conductance-based
        synapses, the inputs planned again with its potentials as Vrest.
    """
    if plan.options.operating_point == "mean-input" and inputs.e_shift is not None:
        cell.add_leak(inputs.g_shift, inputs.e_shift)  # NaN only where g_shift is 0
    else:
        cell.shift_g_pas(inputs.g_shift)
    taus = [(item.tau1, item.tau2) for item in inputs.inputs.values()]
    with LinearisedMembrane(cell, mode, post, taus, state) as membrane:
        if state is None and membrane.state is not None and network.conductance_based:
            inputs = plan_population(network, post, cell.geometry, membrane.state.v,
                                     plan.options.g_eff, plan.grid, memo, depth=depth)
        yield membrane, inputs


# --------------------------------------------------------------------------------------
# NEURON's evaluation of the membrane currents
# --------------------------------------------------------------------------------------
def _quasi_key(cell: LinearisedCell, h: Any) -> tuple | None:
    """What a quasi-active membrane's resting state depends on, as a key: the cell's
    specification and default leak reversal (as :func:`~xkernels.engine.cells.cable_cell`
    keys a passive cell), the leak of every segment as it is now (a computation
    changes only the leak: g_eff, the mean input), dt and the temperature; None for a
    cell without a specification."""
    spec = getattr(cell, "spec", None)
    if spec is None:
        return None
    leak = np.array([(seg.pas.g, seg.pas.e) if hasattr(seg, "pas") else (np.nan, np.nan)
                     for seg in cell.segments])
    return ("quasi-active", spec, cell.e_pas_default, float(cell.dt), float(h.celsius),
            leak.tobytes())


def _mechanisms(seg: Any) -> list[str]:
    """Names of the density mechanisms of a segment (ions excluded)."""
    return [mech.name() for mech in seg if not mech.name().endswith("_ion")]


def _nonfinite(seg: Any) -> tuple[str, str, float] | None:
    """The first mechanism of ``seg`` with a non-finite variable: (mechanism, variable,
    value), channels before ions (a channel's bad parameter makes its ions' currents
    NaN); None if every variable is finite."""
    for mech in sorted(seg, key=lambda m: m.name().endswith("_ion")):
        for var in mech:
            try:
                value = getattr(seg, var.name())
            except (AttributeError, TypeError, LookupError):
                continue
            if isinstance(value, float) and not np.isfinite(value):
                return mech.name(), var.name(), value
    return None


def _check_finite(segments: Sequence[Any], where: str) -> None:
    """Refuse mechanisms with a non-finite variable (NEURON cannot evaluate them)."""
    for seg in segments:
        bad = _nonfinite(seg)
        if bad is not None:
            raise ValueError(f"{where}: mechanism {bad[0]!r} of segment {seg} has "
                             f"{bad[1]} = {bad[2]}: NEURON cannot evaluate its currents")


def _check_linearisable(segments: Sequence[Any], mode: str, where: str) -> None:
    """Refuse segments ``mode`` cannot linearise: without the leak ``"passive"`` keeps,
    or with a mechanism that changes the cable equation (:data:`UNFREEZABLE`; for
    ``"quasi-active"``: with the linear solver)."""
    for seg in segments:
        names = _mechanisms(seg)
        if mode == "passive" and LEAK not in names:
            raise ValueError(f"{where}: segment {seg} has no leak mechanism {LEAK!r} to "
                             f"keep (its mechanisms: {names}); 'passive' removes every "
                             f"mechanism but {LEAK!r}")
        bad = [name for name in names if name in UNFREEZABLE]
        if bad and mode == "quasi-active":
            raise ValueError(f"{where}: segment {seg} has the mechanism {bad[0]!r}, which "
                             "changes the cable equation: solver='linear' cannot be exact "
                             "for it; use solver='neuron'")
        if bad and mode == "passive":
            raise ValueError(f"{where}: segment {seg} has the mechanism {bad[0]!r}, which "
                             "changes the cable equation and cannot be linearised")
        if bad:
            raise ValueError(f"{where}: segment {seg} has the mechanism {bad[0]!r}, which "
                             "changes the cable equation and cannot be frozen into a leak "
                             "conductance; use 'quasi-active'")


def _keep_only(cell: LinearisedCell, keep: Sequence[str]) -> None:
    """Remove every density mechanism not in ``keep`` from every section."""
    for sec in cell.cell.allseclist:
        names = {mech.name() for seg in sec for mech in seg}
        for name in sorted(names):
            if not name.endswith("_ion") and name not in keep:
                sec.uninsert(name)


def _check_stable(cell: LinearisedCell, where: str, mechanisms: Sequence[str]) -> None:
    """Refuse a linearised membrane that is unstable at its operating point: its
    conductance matrix (membrane leak plus axial coupling) is not positive definite,
    so a perturbation grows instead of decaying (a negative total membrane conductance
    the axial currents do not hold)."""
    cable = cell.cable()
    try:
        np.linalg.cholesky(cable.axial + np.diag(cable.conductance))
    except np.linalg.LinAlgError:
        k = int(np.argmin(cable.g))
        raise ValueError(
            f"{where}: the linearised membrane is unstable at its operating point (its "
            "conductance matrix is not positive definite): segment "
            f"{cell.segment_name(k)} has the total membrane conductance {cable.g[k]:.6g} "
            f"S/cm² (mechanisms {list(mechanisms)}); no kernel exists for it") from None


def _check_spectrum(cell: LinearisedCell, system, solver, where: str) -> None:
    """Refuse a quasi-active membrane that is unstable at its operating point: a pole
    of its fixed-step system on or outside the unit circle (a perturbation that does
    not decay), naming the state or potential its growing mode is largest in."""
    if solver.spectral_radius < 1.0:
        return
    from xkernels.engine.quasi_active_cable import growing_mode

    pole, k, state = growing_mode(solver)
    what = f"the potential of segment {cell.segment_name(k)}"
    if state is not None:
        i, name = int(system.segment[state]), system.names[state]
        owner = [m for m in _mechanisms(cell.segments[i]) if name.endswith(f"_{m}")]
        what += (f" and, of the gating states, in {name!r} of segment "
                 f"{cell.segment_name(i)} (mechanism {(owner or ['?'])[0]!r})")
    low = int(np.argmin(system.g))
    negative = (f" (segment {cell.segment_name(low)} has the total membrane conductance "
                f"{system.g[low]:.6g} S/cm²)") if system.g[low] < 0 else ""
    mechanisms = sorted({name for seg in cell.segments for name in _mechanisms(seg)})
    raise ValueError(
        f"{where}: the linearised membrane is unstable at its operating point{negative}: "
        f"its fixed-step system has the pole {complex(pole):.6g} per step (|pole| = "
        f"{abs(pole):.6g} >= 1) with mechanisms {mechanisms}; the growing mode is largest "
        f"in {what}; no kernel exists for it")


def _uniform_leak_reversal(segments: Sequence[Any]) -> float | None:
    """The leak reversal potential (mV) if it is the same on every segment."""
    values = {seg.pas.e for seg in segments}
    return values.pop() if len(values) == 1 else None


def _ionic_density(segments: Sequence[Any], v: np.ndarray) -> np.ndarray:
    """Total ionic current density of every segment (mA/cm²) at potentials ``v`` (mV),
    every state held: NEURON's ``fcurrent`` evaluation of all mechanisms."""
    from neuron import h

    for seg, x in zip(segments, v):
        seg.v = x
    h.fcurrent()
    return np.array([seg.i_membrane_ for seg in segments])


def frozen_leak(segments: Sequence[Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Total membrane conductance and frozen-leak reversal of every segment at rest.

    The membrane must be at rest (states and potentials of the resting state).  The
    ionic current density of every mechanism together is evaluated by NEURON at
    ``V ± δ`` (:data:`VOLTAGE_STEP`) with every state held:
    ``g = (I(V + δ) - I(V - δ)) / 2δ`` (exact for ohmic channels, O(δ²) otherwise) and
    ``E = V + I(V) / g``.  The potentials are restored afterwards.

    Parameters
    ----------
    segments : sequence of nrn.Segment
        The cell's segments.
    where : str
        Context for error messages (mode and population).

    Returns
    -------
    tuple of ndarray
        ``(g, e)``: conductance (S/cm²) and reversal potential (mV) per segment.

    Raises
    ------
    ValueError
        A current NEURON evaluates as non-finite, or a zero total conductance (the
        segment and its mechanisms are named).
    """
    v = np.array([seg.v for seg in segments])
    try:
        rest = _ionic_density(segments, v)
        up = _ionic_density(segments, v + VOLTAGE_STEP)
        down = _ionic_density(segments, v - VOLTAGE_STEP)
    finally:
        _ionic_density(segments, v)
    g = (up - down) / (2.0 * VOLTAGE_STEP)
    for k, seg in enumerate(segments):
        if not (np.isfinite(rest[k]) and np.isfinite(g[k])):
            culprit = (_nonfinite(seg) or ("?",))[0]
            raise ValueError(f"{where}: NEURON cannot evaluate the membrane currents of "
                             f"segment {seg} at rest (V = {v[k]:.6g} mV): mechanism "
                             f"{culprit!r} gives non-finite values")
        if g[k] == 0.0:
            raise ValueError(f"{where}: segment {seg} has zero total membrane conductance "
                             f"at rest (mechanisms {_mechanisms(seg)}): no leak to freeze")
    return g, v + rest / g


@functools.lru_cache(maxsize=1)
def check_current_evaluation() -> None:
    """Check, once per process, that NEURON reports ionic current densities as assumed.

    :func:`frozen_leak` reads the total ionic current density of a segment from
    ``seg.i_membrane_`` right after ``h.fcurrent()`` (with ``use_fast_imem``), an
    internal detail of NEURON.  This checks it on a throw-away section with a known
    leak, so that a NEURON where it does not hold fails clearly instead of freezing
    wrong conductances.

    Raises
    ------
    RuntimeError
        NEURON does not report the leak's current density there.
    """
    from neuron import h

    h.CVode().use_fast_imem(1)
    sec = h.Section(name="xkernels_current_check")
    try:
        sec.insert(LEAK)
        sec.g_pas = 1e-3
        sec.e_pas = -50.0
        seg = sec(0.5)
        seg.v = -60.0
        h.fcurrent()
        got, expected = seg.i_membrane_, 1e-3 * (-60.0 - -50.0)
    finally:
        h.delete_section(sec=sec)
    if abs(got - expected) > 1e-12:
        raise RuntimeError(
            "this NEURON does not report the ionic current density in i_membrane_ after "
            f"fcurrent() (a leak of 1e-3 S/cm² at 10 mV below its reversal gave {got!r}, "
            f"expected {expected!r} mA/cm²): 'frozen' linearisation is not available")


# --------------------------------------------------------------------------------------
# the quasi-active system, read from NEURON (xkernels.engine.quasi_active_cable)
# --------------------------------------------------------------------------------------
#: The first derivative's central stencil of order 8: offsets 1..4 (and their negatives,
#: with the opposite sign); exact for polynomials up to degree 8 (a gate's power).
STENCIL = (np.arange(1, 5), np.array([4 / 5, -1 / 5, 4 / 105, -1 / 280]))
#: Steps of the stencil: the potential (mV) for the states' update (the first of
#: STENCIL_VOLTAGES at which the stencils of order 8 and 4 agree to SMOOTH_AGREEMENT
#: relative, so that the stencil stays off the kinks of rate tables); a state, relative
#: to its resting value (at least STATE_FLOOR).
STENCIL_VOLTAGES = (0.1, 0.02, 0.004, 0.0008)
SMOOTH_AGREEMENT = 1e-8
STENCIL_STATE = 1e-3
STATE_FLOOR = 1e-2
#: NEURON's own step of the slope conductance in its matrix (mV, nrn_cur).
NEURON_CONDUCTANCE_STEP = 1e-3
#: A capacitance (µF/cm²) so large that a step leaves every potential unchanged: the
#: state update alone, at the potentials set.
FROZEN_CM = 1e30
#: The check of the system against NEURON's own steps: perturbation of the potentials
#: (mV) and of the states (relative, at least STATE_FLOOR), steps, and the largest
#: relative difference (the central difference's own error, O(perturbation²) and
#: rounding, is ~1e-8 at these perturbations on the active README cells).
CHECK_VOLTAGE = 1e-4
CHECK_STATE = 1e-4
CHECK_STEPS = 2
CHECK_TOLERANCE = 1e-6


def _derivative(evaluate, base: np.ndarray, step: np.ndarray,
                with_lower: bool = False, order: int = 8):
    """``d evaluate(base + t step) / dt`` at 0 by :data:`STENCIL` (a unit ``t``), or by
    its order-4 part (``order=4``: ±1, ±2 steps, exact up to a state's fourth power);
    with ``with_lower`` also that of order 4 from the same points."""
    offsets, weights = STENCIL
    if order == 4:
        offsets, weights = offsets[:2], np.array([2.0 / 3.0, -1.0 / 12.0])
    total = 0.0
    differences = []
    for k, c in zip(offsets, weights):
        differences.append(evaluate(base + k * step) - evaluate(base - k * step))
        total = total + c * differences[-1]
    if not with_lower:
        return total
    return total, (8.0 * differences[0] - differences[1]) / 12.0


def _smooth_derivative(evaluate, v0: np.ndarray) -> np.ndarray:
    """``d evaluate(v0 + t) / dt`` (every potential shifted by t mV) by :data:`STENCIL`
    with the largest step of :data:`STENCIL_VOLTAGES` at which the stencils of order 8
    and 4 agree to :data:`SMOOTH_AGREEMENT` (smooth there: no rate-table kink within
    the stencil; a larger step rounds less), else the smallest."""
    for step in STENCIL_VOLTAGES:
        found, lower = _derivative(evaluate, v0, np.full(v0.size, step), with_lower=True)
        scale = np.abs(found).max(initial=0.0)
        if np.abs(found - lower).max(initial=0.0) <= SMOOTH_AGREEMENT * scale:
            break
    return found / step


class _Pointers:
    """Many NEURON variables set and read at once (``h.PtrVector``), from their
    references (``seg._ref_v``...)."""

    def __init__(self, refs: Sequence[Any]) -> None:
        from neuron import h

        self.size = len(refs)
        self._pointers = h.PtrVector(max(self.size, 1))
        for k, ref in enumerate(refs):
            self._pointers.pset(k, ref)
        self._buffer = h.Vector(max(self.size, 1))
        self._view = self._buffer.as_numpy()  # the Vector's memory (never resized)

    def set(self, values: np.ndarray) -> None:
        """Write ``values`` to the variables."""
        if self.size:
            self._view[:] = values
            self._pointers.scatter(self._buffer)

    def get(self) -> np.ndarray:
        """The variables' values (a copy)."""
        if not self.size:
            return np.zeros(0)
        self._pointers.gather(self._buffer)
        return self._view[: self.size].copy()


def _state_names(segments: Sequence[Any], where: str) -> list[tuple[int, str]]:
    """``(segment, name)`` of every STATE variable of every density mechanism, by
    NEURON's ``MechanismStandard``; refuses one Python cannot read or write."""
    from neuron import h

    names: dict[str, list[str]] = {}
    out = []
    for i, seg in enumerate(segments):
        for mech in _mechanisms(seg):
            if mech not in names:
                standard, text = h.MechanismStandard(mech, 3), h.ref("")
                names[mech] = []
                for k in range(int(standard.count())):
                    standard.name(text, k)
                    names[mech].append(text[0])
            for name in names[mech]:
                try:
                    setattr(seg, name, getattr(seg, name))
                except (AttributeError, TypeError, LookupError, RuntimeError):
                    raise ValueError(f"{where}: the state {name!r} of mechanism {mech!r} "
                                     f"of segment {seg} cannot be read by the linear "
                                     "solver; use solver='neuron'") from None
                out.append((i, name))
    return out


def quasi_active_cable(cell: LinearisedCell, restore, where: str):
    """The membrane of ``cell`` linearised at its resting state, gating states included,
    as NEURON's fixed step treats it
    (:class:`~xkernels.engine.quasi_active_cable.QuasiActiveCable`).

    Generic, as the other modes: nothing here knows a channel.  With the cell at rest
    (``restore()`` puts it back there):

    * the ionic current density of all mechanisms together (``h.fcurrent()``, read
      from ``i_membrane_`` as :func:`frozen_leak` does) gives NEURON's matrix
      conductance (its forward difference over 0.001 mV), the slope conductance
      (:data:`STENCIL`) and dI/ds of every state (its order-4 part: exact up to a
      gate's fourth power, O(δ⁴) = 1e-12 beyond);
    * NEURON's own state update (``h.fadvance()`` with every capacitance set to
      :data:`FROZEN_CM`, so that no potential moves: the state update alone, at the
      potentials set, by whatever method the NMODL file names) gives ds[n+1]/ds[n]
      (order 4: exact for the affine update of ``cnexp``) and ds[n+1]/dv[n+1]
      (:data:`STENCIL` at the largest step free of rate-table kinks,
      :func:`_smooth_derivative`); a state is perturbed on every segment at once: a
      density mechanism's states depend on their own segment only.

    Parameters
    ----------
    cell : LinearisedCell
        The cell at its resting state (g_eff shift included), fixed steps of ``dt``.
    restore : callable
        ``restore()`` puts every potential, state and the clock back to the rest.
    where : str
        The mode and population, for messages.

    Returns
    -------
    QuasiActiveCable
        The linearised membrane; the cell is left at rest.

    Raises
    ------
    ValueError
        A state Python cannot read, or non-finite derivatives (named).
    """
    from neuron import h

    from xkernels.engine.quasi_active_cable import QuasiActiveCable

    segments = cell.segments
    axial, area = cell.axial()
    restore()
    states = _state_names(segments, where)
    segment = np.array([i for i, _ in states], dtype=int)
    potentials = _Pointers([seg._ref_v for seg in segments])
    gates = _Pointers([getattr(segments[i], f"_ref_{name}") for i, name in states])
    currents = _Pointers([seg._ref_i_membrane_ for seg in segments])
    v0, s0 = potentials.get(), gates.get()
    ds = STENCIL_STATE * np.maximum(np.abs(s0), STATE_FLOOR)
    kinds = sorted({name for _, name in states})

    def current(v, s=s0):
        gates.set(s)
        potentials.set(v)
        h.fcurrent()
        return currents.get()

    try:
        rest = current(v0)
        g_matrix = (current(v0 + NEURON_CONDUCTANCE_STEP) - rest) / NEURON_CONDUCTANCE_STEP
        g = _derivative(current, v0, np.full(v0.size, STENCIL_VOLTAGES[0])) \
            / STENCIL_VOLTAGES[0]
        coupling = np.zeros(segment.size)
        for kind in kinds:
            mask = np.array([name == kind for _, name in states])
            step = np.where(mask, ds, 0.0)
            slope = _derivative(lambda s: current(v0, s), s0, step, order=4)
            coupling[mask] = slope[segment[mask]] / ds[mask]
        cms = [seg.cm for seg in segments]
        update = np.zeros((segment.size, segment.size))

        def advance(v, s=s0):
            # no restore between steps: only the potentials and states set here act on
            # the states' update (the 2-step check against NEURON finds anything else)
            potentials.set(v)
            gates.set(s)
            h.fadvance()
            if not np.array_equal(potentials.get(), v):
                raise RuntimeError(f"{where}: a step with the capacitance "
                                   f"{FROZEN_CM:g} µF/cm² moved a potential")
            return gates.get()

        try:
            for seg in segments:
                seg.cm = FROZEN_CM
            drive = _smooth_derivative(advance, v0)
            same = segment[:, None] == segment[None, :]
            for kind in kinds:
                mask = np.array([name == kind for _, name in states])
                step = np.where(mask, ds, 0.0)
                change = _derivative(lambda s: advance(v0, s), s0, step, order=4)
                columns = np.flatnonzero(mask)
                update[:, columns] = np.where(same[:, columns], change[:, None], 0.0) \
                    / ds[columns][None, :]
        finally:
            for seg, c in zip(segments, cms):
                seg.cm = c
    finally:
        restore()
    bad = [name for name, value in (("slope conductance", g), ("dI/ds", coupling),
                                    ("state update", update), ("state drive", drive))
           if not np.isfinite(value).all()]
    if bad:
        raise ValueError(f"{where}: NEURON gives non-finite derivatives ({bad[0]}) of "
                         "the membrane at rest; no linearisation exists there")
    return QuasiActiveCable(area=area, cm=np.array(cms), axial=axial, g_matrix=g_matrix,
                            g=g, segment=segment, names=tuple(name for _, name in states),
                            coupling=coupling, update=update, drive=drive)


def check_quasi_active(cell: LinearisedCell, system, solver, restore,
                       where: str) -> float:
    """Check the system of :func:`quasi_active_cable` against NEURON's own steps: from
    the rest perturbed (± the potentials, then ± the states), the central difference of
    :data:`CHECK_STEPS` NEURON steps against as many steps of ``solver``
    (``solver.advance``).

    Returns
    -------
    float
        The largest difference, relative to the largest predicted value of its part
        (potentials or states) and perturbation.

    Raises
    ------
    ValueError
        A difference above :data:`CHECK_TOLERANCE`: something the system does not hold
        acts on the cell (a mechanism's hidden state, tables with kinks...).
    """
    from neuron import h

    segments = cell.segments
    n = len(segments)
    names = system.names
    rng = np.random.default_rng(0)

    def run(z):
        restore()
        for seg, x in zip(segments, z[:n]):
            seg.v += x
        for i, name, x in zip(system.segment, names, z[n:]):
            setattr(segments[i], name, getattr(segments[i], name) + x)
        for _ in range(CHECK_STEPS):
            h.fadvance()
        return np.concatenate([[seg.v for seg in segments],
                               [getattr(segments[i], name)
                                for i, name in zip(system.segment, names)]])

    worst = 0.0
    try:
        restore()
        s0 = np.array([getattr(segments[i], name) for i, name in zip(system.segment, names)])
        perturbations = [np.concatenate([CHECK_VOLTAGE * rng.uniform(-1, 1, n),
                                         np.zeros(s0.size)])]
        if s0.size:
            scale = CHECK_STATE * np.maximum(np.abs(s0), STATE_FLOOR)
            perturbations.append(np.concatenate([np.zeros(n),
                                                 scale * rng.uniform(-1, 1, s0.size)]))
        for z in perturbations:
            found = (run(z) - run(-z)) / 2.0
            expected = solver.advance(z, CHECK_STEPS)
            for part in (slice(0, n), slice(n, None)):
                top = np.abs(expected[part]).max(initial=0.0)
                if top > 0:
                    worst = max(worst, float(np.abs(found[part] - expected[part]).max()
                                             / top))
    finally:
        restore()
    if not worst <= CHECK_TOLERANCE:
        mechanisms = sorted({name for seg in segments for name in _mechanisms(seg)})
        raise ValueError(
            f"{where}: solver='linear' cannot be exact: NEURON's steps of the cell differ "
            f"from the linear system read from its mechanisms {mechanisms} by {worst:.3g} "
            "relative (a mechanism with a state that is not a STATE of a density "
            "mechanism, a point process with dynamics, rate tables with kinks at the "
            "resting potential...); use solver='neuron'")
    return worst

"""Lag grids: which lags a kernel has, and where its delay filter is evaluated.

A kernel computation simulates the response to one volley at lags ``0..n_response``
time steps after it, smears it with the delay filter (taps evaluated at
``delay_times``; tap ``delay_centre`` is applied at lag 0), subtracts the value at lag
0 and keeps the lags ``lags`` (steps; negative lags are zero).  A :class:`LagGrid`
holds these four choices; everything else in the engine is the same for every grid.

* :func:`regular_grid` -- xkernels' own: lags ``-n..n`` (``1..n`` with ``fir``),
  ``n = tau / dt``, the delay density evaluated at ``k dt``, ``k = -n..n``.  Any ``dt``
  for which ``tau / dt`` is a whole number (to 1e-9 relative) works.
* :func:`lfpykernels_grid` -- exactly what LFPykernels 0.2.0 does at the same
  ``dt``, ``tau``, ``t_X``, ``fir``, for :mod:`xkernels.compat`.  It equals the regular
  grid when ``dt`` is a power of two and ``t_X``, ``tau`` are multiples of it.  Otherwise
  two floating-point effects of the reference change its kernels:

  1. ``get_delay`` evaluates the delay density at ``np.linspace(-tau, tau,
     int(2 * tau // dt + 1))``.  Float floor division gives ``2 * 50 // 0.1 == 999``
     (0.1 is stored slightly above 1/10), so 1000 taps spaced 100/999 ms; with an even
     number of taps ``np.convolve(.., 'same')`` applies tap 499 (at -0.05005 ms) at lag
     0: the delay distribution acts half a step late and stretched by 2n / (2n - 1).
     At dt = 0.1 / 0.05 / 0.025 ms that changes the kernels by 3.3-4.5 % / 1.7-2.3 % /
     0.85-1.2 % of their peak (CDM of the README network, every X -> Y, tau = 20, 50,
     100 ms; measured against the reference with its delay grid corrected, which equals
     the regular grid to 1e-13; ``tests/test_equivalence.py`` asserts these figures).
  2. NEURON's clock.  The window is cut by comparing LFPy's ``cell.tvec`` with
     ``t_X ± tau``.  ``tvec`` holds the times of NEURON's record events, accumulated as
     ``t ← t + dt``; the number of steps is decided by NEURON's own clock, accumulated
     as ``t ← (t + dt/2) + dt/2``, in ``continuerun`` (``while t < tstop - dt/2``) plus
     one step if then ``t < tstop``; the record event of the last step is delivered
     only if its time is not later than the clock.  So ``tvec`` can lack its last
     sample or have one too many, and its accumulated times can fall a few 1e-12 ms on
     either side of ``t_X ± tau``: at dt = 0.05, tau = 50, t_X = 200 the reference
     returns 1999 lags (-49.95..49.95 ms, both ends dropped); at dt = 0.1, t_X = 500 the
     simulation ends one sample before ``t_X + tau`` (lag +50 is missing).
     :func:`lfpy_time_vector` reproduces ``tvec`` bit for bit (tested against NEURON).

Only :mod:`xkernels.compat` uses :func:`lfpykernels_grid`; :func:`xkernels.compute_kernels`
always returns the regular grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class LagGrid:
    """The lags of a kernel computation (see the module docstring).

    Attributes
    ----------
    dt : float
        Time step (ms).
    n_response : int
        The response is simulated at lags ``0..n_response`` steps after the volley.
    delay_times : ndarray
        Times (ms) at which the delay density gives the filter taps.
    delay_centre : int
        Index of the tap applied at lag 0.
    lags : ndarray
        Output lags (steps, int, increasing by one; at most ``n_response``).
    """

    dt: float
    n_response: int
    delay_times: np.ndarray
    delay_centre: int
    lags: np.ndarray

    @cached_property
    def delay_key(self) -> bytes:
        """``delay_times`` as bytes: a memo key, made once per grid (the array must not
        be changed in place)."""
        return self.delay_times.tobytes()

    @property
    def tau_axis(self) -> np.ndarray:
        """The output lags in ms (``lags * dt``)."""
        return self.lags * self.dt


def regular_grid(dt: float, n_lags: int, fir: bool) -> LagGrid:
    """xkernels' lag grid: lags ``-n..n`` (``1..n`` with ``fir``) of ``dt`` (ms).

    The same (immutable: read-only arrays) grid object for the same arguments in a
    process (the last 32 kept).

    Parameters
    ----------
    dt : float
        Time step (ms).
    n_lags : int
        ``n = tau / dt``.
    fir : bool
        Causal lags only.
    """
    return _regular_grid(float(dt), int(n_lags), bool(fir))


@functools.lru_cache(maxsize=32)
def _regular_grid(dt: float, n_lags: int, fir: bool) -> LagGrid:
    lags = np.arange(1, n_lags + 1) if fir else np.arange(-n_lags, n_lags + 1)
    delay_times = np.arange(-n_lags, n_lags + 1) * dt
    for array in (lags, delay_times):
        array.flags.writeable = False
    return LagGrid(dt=dt, n_response=n_lags, delay_times=delay_times,
                   delay_centre=n_lags, lags=lags)


def lfpy_time_vector(dt: float, tstop: float) -> np.ndarray:
    """``cell.tvec`` of an LFPy 2.3 fixed-step simulation from 0 to ``tstop`` (ms).

    Reproduces NEURON's arithmetic (module docstring, item 2): the clock advances by
    two half steps per step, the recorded times by whole steps.

    Parameters
    ----------
    dt, tstop : float
        Time step and end of the simulation (ms).

    Returns
    -------
    ndarray
        The recorded times (ms).
    """
    half = 0.5 * dt
    # np.add.accumulate adds left to right, one term at a time, as NEURON does
    n_max = int(tstop / dt) + 3
    clock = np.add.accumulate(np.r_[0.0, np.full(2 * n_max, half)])[::2]
    n_steps = int(np.argmax(~(clock < tstop - half)))  # continuerun's loop
    if clock[n_steps] < tstop:  # LFPy's extra step
        n_steps += 1
    times = np.add.accumulate(np.r_[0.0, np.full(n_steps, float(dt))])
    return times if times[-1] <= clock[n_steps] else times[:-1]


def lfpykernels_grid(dt: float, tau: float, t_X: float, fir: bool) -> LagGrid:
    """The lags and delay taps of ``lfpykernels.KernelApprox.get_kernel`` (0.2.0).

    Parameters
    ----------
    dt, tau, t_X : float
        As passed to ``get_kernel`` (ms), ``t_X >= tau``.
    fir : bool
        As passed to ``get_kernel``.

    Returns
    -------
    LagGrid
        Lags selected by the reference's comparisons of ``cell.tvec`` with ``t_X`` and
        ``tau``, relative to the sample nearest ``t_X``; taps at the reference's
        ``linspace``; the response as long as the reference simulates it.
    """
    tvec = lfpy_time_vector(dt, t_X + tau)
    i0 = int(np.argmin(np.abs(tvec - t_X)))
    if fir:
        keep = (tvec > t_X) & (tvec <= t_X + tau)
    else:
        keep = (tvec >= t_X - tau) & (tvec <= t_X + tau)
    n_taps = int(2 * tau // dt + 1)
    return LagGrid(dt=float(dt), n_response=tvec.size - 1 - i0,
                   delay_times=np.linspace(-tau, tau, n_taps),
                   delay_centre=(n_taps - 1) // 2, lags=np.flatnonzero(keep) - i0)

"""Validation of the options of a kernel computation: times, flags, Vrest and the
membrane linearisation.

Every check runs before anything is simulated and follows :mod:`xkernels.validation`
(TypeError for a wrong type, ValueError for a bad value, naming field, value and what
is allowed).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from xkernels.engine.timeline import WHOLE_RTOL, whole_steps
from xkernels.spec.network import Network
from xkernels.validation import check_bool, check_real, fail

#: Membrane linearisation modes (see :mod:`xkernels.engine.membrane`); ``"as-is"``
#: simulates the cell as specified (LFPykernels' behaviour).
LINEARISATIONS = ("as-is", "passive", "frozen", "quasi-active")
#: Operating points of conductance-based synapses: ``"rest"`` linearises them around
#: ``Vrest`` (or the resting state a linearisation finds; LFPykernels' behaviour),
#: ``"mean-input"`` around the per-segment potential of the cell under the mean input.
OPERATING_POINTS = ("rest", "mean-input")


def check_options(dt: float, tau: float, t_X: float, g_eff: bool, fir: bool,
                  conductance_based: bool) -> tuple[float, float, float, int]:
    """Validate the time options of a kernel computation.

    Parameters
    ----------
    dt, tau, t_X : float
        Time step, kernel half width and presynaptic spike time (ms), as for
        :func:`xkernels.compute_kernels`.
    g_eff, fir : bool
        As for :func:`xkernels.compute_kernels`.
    conductance_based : bool
        Whether the network's synapses are conductance based (g_eff needs it).

    Returns
    -------
    tuple
        ``(dt, tau, t_X, n_lags)`` as floats and ``n_lags = tau / dt``, which must be a
        whole number to :data:`~xkernels.engine.timeline.WHOLE_RTOL` relative (any
        ``dt``: 0.1 ms with tau = 50 ms gives 500 lags each side).

    Raises
    ------
    TypeError
        A time that is not a real number, a flag that is not a bool.
    ValueError
        A time out of range (the message names the field, the value and the bound).
    """
    dt = check_real("dt", dt)
    if dt <= 0:
        raise ValueError(f"dt must be > 0 (ms), got {dt!r}")
    tau = check_real("tau", tau)
    if tau < dt:
        raise ValueError(f"tau must be >= dt = {dt} ms, got {tau!r}")
    n_lags = whole_steps(tau, dt)
    if n_lags is None:
        raise ValueError(f"tau / dt must be a whole number (to {WHOLE_RTOL:g} relative): "
                         f"tau = {tau!r} ms and dt = {dt!r} ms give {tau / dt:.6g}; allowed: "
                         "a tau that is a multiple of dt (dt = 0.1, 0.05, 0.025, 2**-4 ... "
                         "with tau = 20, 50, 100 ...)")
    t_X = check_t_X(t_X, tau)
    check_bool("g_eff", g_eff)
    check_bool("fir", fir)
    if g_eff and not conductance_based:
        raise ValueError("g_eff=True requires a conductance-based network "
                         "(network.conductance_based is False); pass g_eff=False")
    return dt, tau, t_X, n_lags


def check_t_X(t_X: Any, tau: float) -> float:
    """``t_X`` (ms) as a float; it must be a real number ``>= tau`` (ms).

    Parameters
    ----------
    t_X : float
        Presynaptic spike time (ms).
    tau : float
        The validated kernel half width (ms).

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        Not a real number; not finite or below ``tau``.

    Examples
    --------
    >>> check_t_X(10, tau=50.0)
    Traceback (most recent call last):
    ...
    ValueError: t_X must be >= tau = 50.0 ms, got 10.0
    """
    t_X = check_real("t_X", t_X)
    if t_X < tau:
        raise ValueError(f"t_X must be >= tau = {tau} ms, got {t_X!r}")
    return t_X


def vrest_of_population(vrest: Any, post: str) -> float | np.ndarray:
    """The Vrest (mV) of postsynaptic population ``post`` from the ``Vrest`` option.

    Parameters
    ----------
    vrest : float, sequence of float or mapping
        The ``Vrest`` option of :func:`xkernels.compute_kernels`: one number, one value per
        segment, or a dict population -> either.
    post : str
        The postsynaptic population.

    Returns
    -------
    float or ndarray
        One number, or a 1-D float array (one value per segment).

    Raises
    ------
    TypeError
        A value that is not a real number.
    ValueError
        A dict without ``post``, a non-finite value, or an array that is not 1-D.
    """
    if isinstance(vrest, Mapping):
        if post not in vrest:
            raise ValueError(f"Vrest is a dict without an entry for population {post!r}; "
                             f"keys: {sorted(vrest)}")
        vrest = vrest[post]
        name = f"Vrest[{post!r}]"
    else:
        name = "Vrest"
    if isinstance(vrest, (list, tuple, np.ndarray)):
        arr = np.asarray(vrest, dtype=float)
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be a number or a 1-D list of finite values (mV)")
        return arr
    return check_real(name, vrest)


def leak_reversal_of(vrest: float | np.ndarray) -> float | None:
    """The leak reversal potential (mV) that Vrest sets for a ``passive`` cell preset
    without ``e_pas``: Vrest itself when it is one number, None when it is per segment
    (the preset must then give ``e_pas``).

    Parameters
    ----------
    vrest : float or ndarray
        As returned by :func:`vrest_of_population`.
    """
    return vrest if isinstance(vrest, float) else None


def check_network_inputs(network: Network, g_eff: bool) -> None:
    """Check the fields the g_eff correction needs (extrinsic synapses where there is
    extrinsic input) and warn about presynaptic populations without a rate.

    Parameters
    ----------
    network : Network
        The network specification.
    g_eff : bool
        Whether the g_eff correction is on (nothing to check otherwise).

    Raises
    ------
    ValueError
        ``populations[...].ext_synapse`` missing while g_eff is on and ``n_ext > 0``.

    Warns
    -----
    UserWarning
        A presynaptic population whose ``rate`` was never set: its synapses add no
        conductance to the leak (as with rate 0).
    """
    if not g_eff:
        return
    unset = [conn.key for conn in network.connections
             if network.population(conn.pre).rate is None]
    if unset:
        pres = sorted({key.split("->")[0] for key in unset})
        warnings.warn(f"g_eff=True but populations {pres} have no rate: the synapses of "
                      f"connections {unset} add no conductance to the leak; set "
                      "populations[...].rate (spikes/s; 0 for a silent population) or pass "
                      "g_eff=False", UserWarning, stacklevel=4)
    for post in network.postsynaptic:
        pop = network.population(post)
        if pop.n_ext > 0 and pop.nu_ext > 0 and pop.ext_synapse is None:
            raise ValueError(f"populations[{post!r}].ext_synapse must be given when g_eff=True "
                             f"and n_ext = {pop.n_ext} > 0")


def vrest_json(vrest: Any) -> Any:
    """The ``Vrest`` option as JSON-ready data (floats, lists, dicts of them).

    Parameters
    ----------
    vrest : float, sequence of float or mapping
        The ``Vrest`` option of :func:`xkernels.compute_kernels` (mV).
    """
    if isinstance(vrest, Mapping):
        return {str(k): vrest_json(v) for k, v in vrest.items()}
    if isinstance(vrest, (list, tuple, np.ndarray)):
        return [float(v) for v in np.asarray(vrest, dtype=float)]
    return float(vrest)


def check_operating_point(value: Any, g_eff: bool) -> str:
    """The operating point around which conductance-based synapses are linearised.

    Parameters
    ----------
    value : str
        The ``operating_point`` option of :func:`xkernels.compute_kernels`: one of
        :data:`OPERATING_POINTS`.
    g_eff : bool
        The ``g_eff`` option.

    Returns
    -------
    str
        ``value``, checked.

    Raises
    ------
    ValueError
        An unknown operating point; ``"mean-input"`` with ``g_eff=False`` (the mean
        input *is* the g_eff conductances, taken with their reversal potentials; g_eff
        itself needs a conductance-based network, checked before).

    Examples
    --------
    >>> check_operating_point("mean-input", g_eff=True)
    'mean-input'
    >>> check_operating_point("mean-input", g_eff=False)
    Traceback (most recent call last):
    ...
    ValueError: operating_point='mean-input' needs g_eff=True: the mean input is the g_eff
    conductances of every synapse ...
    """
    if not isinstance(value, str) or value not in OPERATING_POINTS:
        fail("operating_point", value, f"one of {list(OPERATING_POINTS)}")
    if value == "mean-input":
        if not g_eff:
            raise ValueError("operating_point='mean-input' needs g_eff=True: the mean input "
                             "is the g_eff conductances of every synapse taken with their "
                             "reversal potentials, got g_eff=False")
    return value


def check_linearisation(value: Any, postsynaptic: list[str]) -> dict[str, str]:
    """The membrane linearisation of every postsynaptic population.

    Parameters
    ----------
    value : str or mapping
        The ``linearisation`` option of :func:`xkernels.compute_kernels`: one of
        :data:`LINEARISATIONS` for every population, or a dict population -> mode with
        an entry for every postsynaptic population.
    postsynaptic : list of str
        The network's postsynaptic populations.

    Returns
    -------
    dict
        Population -> mode, in ``postsynaptic`` order.

    Raises
    ------
    TypeError
        Neither a str nor a dict.
    ValueError
        An unknown mode (named with its population), a dict without an entry for a
        postsynaptic population or with entries for other populations.

    Examples
    --------
    >>> check_linearisation("frozen", ["E", "I"])
    {'E': 'frozen', 'I': 'frozen'}
    """
    allowed = f"one of {list(LINEARISATIONS)}"
    if isinstance(value, str):
        if value not in LINEARISATIONS:
            fail("linearisation", value, allowed)
        return {post: value for post in postsynaptic}
    if not isinstance(value, Mapping):
        fail("linearisation", value, f"{allowed} or a dict population -> mode", TypeError)
    unknown = sorted(set(value) - set(postsynaptic), key=str)
    if unknown:
        fail("linearisation keys", unknown,
             f"postsynaptic populations among {postsynaptic}")
    out = {}
    for post in postsynaptic:
        if post not in value:
            raise ValueError(f"linearisation is a dict without an entry for population "
                             f"{post!r}; keys: {sorted(value)}")
        mode = value[post]
        if not isinstance(mode, str) or mode not in LINEARISATIONS:
            fail(f"linearisation[{post!r}]", mode, allowed)
        out[post] = mode
    return out

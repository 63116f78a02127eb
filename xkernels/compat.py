"""Drop-in LFPykernels 0.2.0 API on the xkernels engine.

``from xkernels.compat import KernelApprox, GaussCylinderPotential,
KernelApproxCurrentDipoleMoment`` runs code written for ``lfpykernels`` unchanged:
the same constructor arguments, ``get_kernel`` returning the same dict of ndarrays
(keyed by probe class name, shape (n_channels, n_lags)), computed by the xkernels
engine with ``averaging="reference"`` always (LFPykernels' population averaging,
whatever the native default) on the reference's own lags
(:func:`xkernels.engine.timeline.lfpykernels_grid`: at time steps that are not powers
of two the reference's window and delay taps move with floating-point rounding, and so
do ours).  The first ``get_kernel`` call simulates only its X; a later call with the
same options simulates every X left, and calls for X already simulated are answered
from memory.

LFPykernels' own probe classes are known to every part of xkernels (the probe kinds in
:mod:`xkernels.probes.lfpykernels_kinds`), so they can also be passed to
:func:`xkernels.compute_kernels` directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from xkernels.engine.kernels import prepare_kernels, simulate_values
from xkernels.probes.models import CurrentDipoleMomentZ, GaussCylinderPotential
from xkernels.probes.registry import probe_definitions
from xkernels.provenance import content_hash, undescribed
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions

__all__ = ["GaussCylinderPotential", "KernelApprox", "KernelApproxCurrentDipoleMoment"]


class KernelApproxCurrentDipoleMoment(CurrentDipoleMomentZ):
    """Current dipole moment along z only, with LFPykernels' three rows (x and y rows
    zero).

    Parameters
    ----------
    cell : CellGeometry or None
        Cell geometry (µm); None when given to :meth:`KernelApprox.get_kernel`.

    Examples
    --------
    >>> KernelApproxCurrentDipoleMoment(cell=None).components
    'xyz'
    """

    def __init__(self, cell: Any = None) -> None:
        super().__init__(cell=cell, components="xyz")


def _scipy_name(function: Any, field_name: str) -> str:
    name = getattr(function, "name", None)
    if isinstance(function, (st.rv_continuous, st.rv_discrete)) and \
            getattr(st, str(name), None) is not None:
        return str(name)
    if isinstance(function, str) and isinstance(getattr(st, function, None),
                                                (st.rv_continuous, st.rv_discrete)):
        return function
    raise TypeError(f"{field_name} must be a scipy.stats distribution (e.g. st.truncnorm), "
                    f"got {function!r}")


def _per_x(values: Any, n: int, field_name: str) -> list:
    if isinstance(values, Mapping) or not isinstance(values, (Sequence, np.ndarray)) \
            or isinstance(values, str):
        raise TypeError(f"{field_name} must be a list with one entry per presynaptic "
                        f"population ({n}), got {values!r}")
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{field_name} has {len(values)} entries, expected {n} "
                         "(one per population in X)")
    return values


@dataclass
class _Computed:
    """Kernels of one set of get_kernel options: the plan, values, X simulated so far."""

    plan: Any
    values: np.ndarray
    done: set


class KernelApprox:
    """Kernels of all presynaptic populations X onto one postsynaptic population Y.

    Same parameters as ``lfpykernels.KernelApprox`` (0.2.0); see
    :class:`xkernels.Network` for their meaning and units.  The network they describe
    is the ``network`` attribute.

    Parameters
    ----------
    X : list of str
        Presynaptic population names.
    Y : str
        Postsynaptic population name.
    N_X : list of int
        Presynaptic population sizes.
    N_Y : int
        Postsynaptic population size.
    C_YX : list of float
        Connection probabilities, one per X.
    cellParameters : dict
        ``LFPy.TemplateCell`` arguments (``morphology``, ``templatefile``,
        ``templatename``, ``custom_fun``...); ``dt``, ``tstop``, ``tstart`` and
        ``delete_sections`` are ignored.
    populationParameters : dict
        ``radius``, ``loc``, ``scale`` of the postsynaptic somata (µm).
    rotationParameters : dict
        Rotation of the cell (rad) about ``x`` and ``y``.
    multapseFunction, delayFunction : scipy.stats distribution
        Distributions of multapses (synapses per connection) and delays (ms).
    multapseParameters, delayParameters : list of dict
        Their parameters, one dict per X.
    synapseParameters : list of dict
        ``weight`` (µS, or nA for current-based), ``syntype``, ``tau1``, ``tau2`` (ms),
        ``e`` (mV), one per X.
    synapsePositionArguments : list of dict
        ``section``, ``fun``, ``funargs``, ``funweights`` (and ``z_min``, ``z_max``, µm),
        one per X.
    extSynapseParameters : dict
        Synapse of the extrinsic input.
    nu_ext : float
        Rate of the extrinsic synapses (spikes/s).
    n_ext : float
        Number of extrinsic synapses per cell.
    nu_X : dict
        Population name -> mean firing rate (spikes/s), for g_eff.
    conductance_based : bool
        Conductance-based (True) or current-based synapses.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, naming the argument, before anything is simulated.

    Examples
    --------
    >>> import scipy.stats as st
    >>> from xkernels.compat import KernelApprox
    >>> cell = {"morphology": "ball_and_sticks_E", "templatefile": "BallAndSticksTemplate.hoc",
    ...         "templatename": "BallAndSticksTemplate"}
    >>> approx = KernelApprox(X=["E", "I"], Y="E", N_X=[8192, 1024], N_Y=8192,
    ...                       C_YX=[0.05, 0.05], cellParameters=cell,
    ...                       multapseParameters=[{"a": -1.7, "b": 13.3, "loc": 2.0,
    ...                                            "scale": 0.6}] * 2,
    ...                       delayParameters=[{"a": -2.2, "b": 10, "loc": 1.3,
    ...                                         "scale": 0.5}] * 2,
    ...                       synapseParameters=[{"weight": 1.2e-4, "syntype": "Exp2Syn",
    ...                                           "tau1": 0.2, "tau2": 1.8, "e": 0.0}] * 2,
    ...                       synapsePositionArguments=[{"section": ["apic", "dend"],
    ...                                                  "fun": [st.norm],
    ...                                                  "funargs": [{"loc": 50.0,
    ...                                                               "scale": 100.0}],
    ...                                                  "funweights": [1.0]}] * 2)
    >>> approx.network.names
    ['E', 'I']
    """

    def __init__(
        self,
        X: Sequence[str] = ("E",),
        Y: str = "E",
        N_X: Sequence[int] = (1024,),
        N_Y: int = 1024,
        C_YX: Sequence[float] = (0.1,),
        cellParameters: Mapping | None = None,
        populationParameters: Mapping | None = None,
        rotationParameters: Mapping | None = None,
        multapseFunction: Any = st.truncnorm,
        multapseParameters: Sequence[Mapping] = ({"a": -0.2, "b": 1.6, "loc": 2, "scale": 5},),
        delayFunction: Any = st.truncnorm,
        delayParameters: Sequence[Mapping] = ({"a": -4.0, "b": np.inf, "loc": 1.5,
                                               "scale": 0.3},),
        synapseParameters: Sequence[Mapping] = ({"weight": 0.001, "syntype": "Exp2Syn",
                                                 "tau1": 0.2, "tau2": 1.8, "e": 0.0},),
        synapsePositionArguments: Sequence[Mapping] = (
            {"section": ["soma", "apic"], "fun": [st.norm, st.norm],
             "funargs": [{"loc": 0.0, "scale": 100.0}, {"loc": 750.0, "scale": 100.0}],
             "funweights": [0.5, 1.0]},),
        extSynapseParameters: Mapping | None = None,
        nu_ext: float = 40.0,
        n_ext: float = 128.0,
        nu_X: Mapping[str, float] | None = None,
        conductance_based: bool = True,
    ) -> None:
        if isinstance(X, str) or not isinstance(X, (Sequence, np.ndarray)) or len(X) == 0:
            raise TypeError(f"X must be a non-empty list of population names, got {X!r}")
        X = [str(x) for x in X]
        n = len(X)
        N_X = _per_x(N_X, n, "N_X")
        C_YX = _per_x(C_YX, n, "C_YX")
        multapse_name = _scipy_name(multapseFunction, "multapseFunction")
        delay_name = _scipy_name(delayFunction, "delayFunction")
        multapseParameters = _per_x(multapseParameters, n, "multapseParameters")
        delayParameters = _per_x(delayParameters, n, "delayParameters")
        synapseParameters = _per_x(synapseParameters, n, "synapseParameters")
        synapsePositionArguments = _per_x(synapsePositionArguments, n,
                                          "synapsePositionArguments")
        nu_X = dict(nu_X if nu_X is not None else {"E": 1.0})
        ext = dict(extSynapseParameters if extSynapseParameters is not None else
                   {"syntype": "Exp2Syn", "weight": 0.0005, "tau1": 0.2, "tau2": 1.8,
                    "e": 0.0})
        pop_params = dict(populationParameters if populationParameters is not None else
                          {"radius": 100, "loc": 0, "scale": 50})
        missing = sorted({"radius", "loc", "scale"} - set(pop_params))
        if missing:
            raise ValueError(f"populationParameters lacks {missing} (needs radius, loc, scale)")
        self.X, self.Y, self.N_X, self.N_Y, self.C_YX = X, Y, np.asarray(N_X), N_Y, C_YX
        self.nu_X = nu_X

        cell = self._cell_spec(dict(cellParameters or {}))
        post_name = Y
        if Y in X and int(N_X[X.index(Y)]) != int(N_Y):
            post_name = f"{Y}_post"  # Y differs from the presynaptic X of the same name
        populations = []
        for x, size in zip(X, N_X):
            rate = nu_X.get(x)  # unset: g_eff warns (the reference fails with a KeyError)
            populations.append({"name": x, "size": size,
                                "rate": None if rate is None else float(rate)})
        post = {"name": post_name, "size": N_Y, "cell": cell, "radius": pop_params["radius"],
                "loc": pop_params["loc"], "scale": pop_params["scale"],
                "rotation": dict(rotationParameters or {"x": 0.0, "y": 0.0}),
                "n_ext": n_ext, "nu_ext": nu_ext, "ext_synapse": ext}
        if post_name in X:
            populations[X.index(post_name)].update(
                {k: v for k, v in post.items() if k not in ("name", "size")})
        else:
            populations.append(post)
        connections = []
        for i, x in enumerate(X):
            connections.append({
                "pre": x, "post": post_name, "probability": C_YX[i],
                "multapses": {"name": multapse_name, "params": dict(multapseParameters[i])},
                "delay": {"name": delay_name, "params": dict(delayParameters[i])},
                "synapse": dict(synapseParameters[i]),
                "placement": dict(synapsePositionArguments[i])})
        self.network = Network.from_dict({"populations": populations,
                                          "connections": connections,
                                          "conductance_based": conductance_based})
        self._post = post_name
        self._cache: dict[str, Any] = {}

    @staticmethod
    def _cell_spec(params: dict) -> dict:
        for key in ("dt", "tstop", "tstart", "delete_sections"):
            params.pop(key, None)
        if "morphology" not in params or "templatefile" not in params:
            raise ValueError("cellParameters must give morphology, templatefile and "
                             f"templatename; got keys {sorted(params)}")
        return {"morphology": params.pop("morphology"),
                "templatefile": params.pop("templatefile"),
                "templatename": params.pop("templatename", None),
                "templateargs": params.pop("templateargs", None),
                "biophysics": None, "params": params}

    def get_kernel(self, probes: Sequence[Any], Vrest: float | Sequence[float] = -65,
                   dt: float = 2 ** -4, X: str = "E", t_X: float = 200, tau: float = 50,
                   g_eff: bool = True, fir: bool = False) -> dict[str, np.ndarray]:
        """Kernel of presynaptic population ``X`` for every probe.

        Parameters
        ----------
        probes : list of lfpykit.LinearModel
            Forward models created with ``cell=None`` (xkernels', lfpykernels' or lfpykit's).
        Vrest : float or list of float
            Linearisation potential (mV): one value or one per segment.
        dt : float
            Time step (ms).
        X : str
            Presynaptic population.
        t_X : float
            Presynaptic spike time for cells that must settle (ms).
        tau : float
            Half width of the kernel (ms).
        g_eff : bool
            Add the mean synaptic conductance to the leak.
        fir : bool
            Return only the causal lags ``dt..tau``.

        Returns
        -------
        dict of ndarray
            Probe class name -> array of shape (n_channels, 2 tau/dt + 1), or
            (n_channels, tau/dt) with ``fir``.

        Raises
        ------
        ValueError
            ``X`` is not a presynaptic population, or bad options (named).

        Examples
        --------
        The kernels of E onto E in the LFPykernels README style: a passive leak set by
        ``custom_fun``, an LFP probe with 13 contacts and the current dipole moment:

        >>> import scipy.stats as st
        >>> from xkernels.engine.biophysics import insert_passive
        >>> cell = {"morphology": "ball_and_sticks_E",
        ...         "templatefile": "BallAndSticksTemplate.hoc",
        ...         "templatename": "BallAndSticksTemplate", "custom_fun": [insert_passive],
        ...         "custom_fun_args": [{"g_pas": 0.0003, "e_pas": -65.0}]}
        >>> approx = KernelApprox(X=["E", "I"], Y="E", N_X=[8192, 1024], N_Y=8192,
        ...                       C_YX=[0.05, 0.05], cellParameters=cell,
        ...                       multapseParameters=[{"a": -1.7, "b": 13.3, "loc": 2.0,
        ...                                            "scale": 0.6}] * 2,
        ...                       delayParameters=[{"a": -2.2, "b": 10, "loc": 1.3,
        ...                                         "scale": 0.5}] * 2,
        ...                       synapseParameters=[{"weight": 1.2e-4, "syntype": "Exp2Syn",
        ...                                           "tau1": 0.2, "tau2": 1.8, "e": 0.0}] * 2,
        ...                       synapsePositionArguments=[{"section": ["apic", "dend"],
        ...                                                  "fun": [st.norm],
        ...                                                  "funargs": [{"loc": 50.0,
        ...                                                               "scale": 100.0}],
        ...                                                  "funweights": [1.0]}] * 2,
        ...                       nu_X={"E": 2.5, "I": 5.0})
        >>> probes = [GaussCylinderPotential(cell=None, z=np.linspace(1000.0, -200.0, 13),
        ...                                  sigma=0.3, R=150.0, sigma_z=75.0),
        ...           KernelApproxCurrentDipoleMoment(cell=None)]
        >>> H = approx.get_kernel(probes, Vrest=-65.0, dt=2 ** -4, X="E", t_X=200.0, tau=5.0)
        >>> {name: kernel.shape for name, kernel in H.items()}      # lags -5..5 ms
        {'GaussCylinderPotential': (13, 161), 'KernelApproxCurrentDipoleMoment': (3, 161)}
        >>> cdm = H["KernelApproxCurrentDipoleMoment"]
        >>> float(abs(cdm[:2]).max()), round(float(cdm[2].max()), 1)   # x, y zero; z nA µm
        (0.0, 465.7)
        """
        if X not in self.X:
            raise ValueError(f"X must be one of {self.X}, got {X!r}")
        if isinstance(probes, (str, Mapping)) or not isinstance(probes, Sequence) or \
                not probes:
            raise TypeError(f"probes must be a non-empty list of lfpykit models, got {probes!r}")
        names = {f"p{i}": probe for i, probe in enumerate(probes)}
        options = KernelOptions(dt=dt, tau=tau, t_X=t_X, Vrest=Vrest, g_eff=g_eff, fir=fir,
                                averaging="reference", operating_point="rest",
                                linearisation="as-is")
        definitions = probe_definitions(names)
        # probes without a definition are recomputed, never served from the cache
        key = None if undescribed(definitions) else content_hash(
            {"options": options.model_dump(mode="json"), "probes": list(definitions.values())})
        cached = self._cache.get(key) if key is not None else None
        if cached is None:
            plan = prepare_kernels(self.network, names, options, reference_lags=True)
            cached = _Computed(plan, np.zeros(plan.shape), set())
            if key is not None:
                self._cache = {key: cached}
        if X not in cached.done:
            # the first call simulates only its X (code written for LFPykernels often
            # makes a new KernelApprox per kernel); a later one all that are left
            todo = [X] if not cached.done else [x for x in self.X if x not in cached.done]
            values = simulate_values(self.network, cached.plan, pre=todo)
            for x in todo:
                i = cached.plan.X.index(x)
                cached.values[i] = values[i]
            cached.done.update(todo)
        i, j = cached.plan.X.index(X), cached.plan.Y.index(self._post)
        owner = cached.plan.coords["probe"][1]
        out = {}
        for name, probe in names.items():
            out[type(probe).__name__] = cached.values[i, j, owner == name].copy()
        return out

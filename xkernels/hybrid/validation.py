"""How good is the kernel prediction for *my* network?  Ground truth and prediction side
by side, with R² and the ratio of standard deviations per channel (Hagen et al. 2022).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_real
from xkernels.engine.kernels import prepare_kernels, simulate_kernels
from xkernels.hybrid.ground_truth import DEFAULT_DT, DEFAULT_SEED, simulate
from xkernels.signals import convolve, rates_from_spikes
from xkernels.signals.spikes import as_spikes
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions

#: default transient excluded from the scores (ms)
DEFAULT_TRANSIENT = 100.0


def scores(ground_truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed R² and STD ratio per row (channel) over the last axis (time).

    ``r2 = sign(r) r²`` with ``r`` Pearson's correlation coefficient of prediction and
    ground truth (negative when they are anti-correlated); ``std_ratio = std(prediction)
    / std(ground truth)``.  NaN where either signal is constant.

    Parameters
    ----------
    ground_truth, prediction : array_like
        Signals of the same shape (..., time), in the same units.

    Returns
    -------
    r2, std_ratio : ndarray
        Signed R² and STD ratio (prediction / ground truth), shape (...).

    Examples
    --------
    >>> t = np.linspace(0, 1, 101)
    >>> r2, ratio = scores(np.sin(6 * t)[None], -2 * np.sin(6 * t)[None])
    >>> float(r2[0]), float(ratio[0])
    (-1.0, 2.0)
    """
    gt = np.asarray(ground_truth, dtype=float)
    pr = np.asarray(prediction, dtype=float)
    x = gt - gt.mean(axis=-1, keepdims=True)
    y = pr - pr.mean(axis=-1, keepdims=True)
    sxx, syy = (x * x).sum(axis=-1), (y * y).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (x * y).sum(axis=-1) / np.sqrt(sxx * syy)
        ratio = np.sqrt(syy / sxx)
    bad = (sxx <= 0) | (syy <= 0)
    r = np.where(bad, np.nan, np.clip(r, -1.0, 1.0))
    ratio = np.where(bad, np.nan, ratio)
    return np.sign(r) * r * r, ratio


def validate(network: Network, spikes: Any, probes: Any, *, t_stop: float,
             dt: float = DEFAULT_DT, transient: float = DEFAULT_TRANSIENT,
             seed: int = DEFAULT_SEED, client: Any = None,
             store: str | os.PathLike | None = None, progress: bool | None = None,
             n_cells: Any = None, batch_size: int | None = None,
             Vrest: float | Mapping[str, float] = -65.0, ext: str = "auto",
             options: KernelOptions | Mapping[str, Any] | None = None,
             estimate: xr.Dataset | None = None,
             **kernel_options: Any) -> xr.Dataset:
    """Kernel prediction and hybrid ground truth of the same network and spikes.

    The ground truth is :func:`xkernels.hybrid.simulate` (every cell placed, wired and
    simulated).  The prediction is :func:`xkernels.compute_kernels` of the same
    network and probes convolved (:func:`xkernels.convolve`) with the population spike
    counts per ``dt`` bin of the same spikes (:func:`xkernels.rates_from_spikes`).

    Scores are computed over ``t >= transient`` only.  The first part of both signals
    is not comparable: the ground-truth cells start at rest (or ``v_init``) with no
    synaptic conductance, so the mean conductance and the membrane potential settle
    over the first tens of ms (membrane and synaptic time constants, longer for
    active membranes), while the kernels assume the stationary state from t = 0.

    Parameters
    ----------
    network, spikes, probes, t_stop, dt, seed, client, store
        As :func:`xkernels.hybrid.simulate`.
    progress, n_cells, batch_size, Vrest, ext
        As :func:`xkernels.hybrid.simulate` (``Vrest`` is also the kernels' Vrest).
    transient : float
        Initial time excluded from the scores (ms), ``0 <= transient < t_stop``.
    options : KernelOptions or dict, optional
        Options of the kernels (:class:`xkernels.KernelOptions`; default: the
        defaults, resolved for ``network``); their ``dt`` and ``Vrest`` are those given
        here.
    estimate : xarray.Dataset, optional
        An error estimate of the same prediction (:func:`xkernels.error_estimate` of
        this network, probes, spikes and options; best over ``[transient, t_stop)``):
        its ``relative_error`` is reported as ``estimated_relative_error`` beside the
        measured one.
    **kernel_options
        Fields of :class:`xkernels.KernelOptions` (``tau``, ``g_eff``, ``t_X``,
        ``n_positions``...) replacing those of ``options``; ``kernel_seed`` is its
        ``seed`` (of the positions averaged by contact probes; ``seed`` here is the
        wiring's).

    Returns
    -------
    xarray.Dataset
        ``ground_truth`` and ``prediction`` (probe_channel, time) in each channel's
        units, ``r2`` (signed R²: sign(r) r²), ``std_ratio`` (prediction / ground
        truth) and ``relative_error`` (std(ground truth − prediction) / std(ground
        truth)) per probe_channel; with ``estimate``, ``estimated_relative_error``;
        the channel coordinates of the kernels; attrs
        ``transient`` (ms), the provenance of both sides (``ground_truth_attrs``,
        ``kernel_attrs`` as JSON).

    Raises
    ------
    ValueError
        For bad input, before any cell is simulated (see ``simulate``).

    Examples
    --------
    A tiny run (6 cells, 200 ms; real validations simulate hundreds of cells for seconds):

    >>> import xkernels
    >>> from xkernels.hybrid import correlated_poisson
    >>> net = xkernels.Network.example()
    >>> spikes = correlated_poisson({p.name: p.size for p in net.populations},
    ...                             {p.name: p.rate for p in net.populations},
    ...                             t_stop=200., seed=1)
    >>> ds = validate(net, spikes, {"cdm": xkernels.CurrentDipoleMomentZ()}, t_stop=200.,
    ...               transient=50., n_cells={"E": 4, "I": 2}, client="sync",
    ...               progress=False, tau=20.)
    >>> sorted(ds.data_vars)
    ['ground_truth', 'prediction', 'r2', 'relative_error', 'std_ratio']
    >>> dict(ds["ground_truth"].sizes)
    {'probe_channel': 1, 'time': 3200}
    """
    t_stop = check_real("t_stop", t_stop, positive=True)
    transient = check_real("transient", transient, nonnegative=True)
    if transient >= t_stop:
        raise ValueError(f"transient must be < t_stop = {t_stop} ms, got {transient!r}")
    if "seed" in kernel_options:
        raise TypeError("seed is the ground truth's wiring seed; pass the kernels' position "
                        "seed as kernel_seed")
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    if estimate is not None and (not isinstance(estimate, xr.Dataset)
                                 or "relative_error" not in estimate):
        raise TypeError("estimate must be the Dataset of xkernels.error_estimate (with "
                        f"relative_error), got {type(estimate).__name__}")
    if "kernel_seed" in kernel_options:
        kernel_options["seed"] = kernel_options.pop("kernel_seed")
    options = KernelOptions.of(options, **kernel_options).replace(dt=dt, Vrest=Vrest)
    spikes = as_spikes(spikes)  # checked by simulate
    # every option of both sides is checked before any cell is simulated
    prep = prepare_kernels(network, probes, options)
    gt = simulate(network, spikes, probes, t_stop=t_stop, dt=dt, seed=seed, client=client,
                  store=store, progress=progress, n_cells=n_cells, batch_size=batch_size,
                  Vrest=Vrest, ext=ext)
    H = simulate_kernels(network, prep)
    X = [str(x) for x in H.coords["X"].values]
    rates = rates_from_spikes({x: spikes.population_times(x) for x in X}, t_start=0.0,
                              t_stop=t_stop, dt=dt)
    prediction = convolve(rates, H).compute()
    truth = gt.sum("Y")
    labels = truth.coords["probe_channel"].values.tolist()
    pred = prediction.sel(probe_channel=labels).values
    keep = truth.coords["time"].values >= transient - 1e-9 * dt
    r2, ratio = scores(truth.values[:, keep], pred[:, keep])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (truth.values[:, keep] - pred[:, keep]).std(axis=-1) \
            / truth.values[:, keep].std(axis=-1)
    if estimate is not None:
        missing = [c for c in labels
                   if c not in estimate.coords["probe_channel"].values.tolist()]
        if missing:
            raise ValueError(f"estimate has no relative_error for channels {missing[:5]}")
    channel = {k: truth.coords[k] for k in ("probe", "units", "x", "y", "z")}
    ds = xr.Dataset(
        {"ground_truth": (("probe_channel", "time"), truth.values),
         "prediction": (("probe_channel", "time"), pred),
         "r2": (("probe_channel",), r2, {"long_name": "signed R² (sign(r) r²)"}),
         "std_ratio": (("probe_channel",), ratio,
                       {"long_name": "STD ratio (prediction / ground truth)"}),
         "relative_error": (("probe_channel",), relative,
                            {"long_name": "std(ground truth - prediction) / "
                                          "std(ground truth)"})},
        coords={"probe_channel": truth.coords["probe_channel"], **channel,
                "time": truth.coords["time"]},
        attrs={"long_name": "kernel prediction vs hybrid ground truth",
               "transient": transient, "dt": dt, "t_stop": t_stop,
               "scores": "r2 and std_ratio over time >= transient",
               "ground_truth_attrs": json.dumps(dict(gt.attrs)),
               "kernel_attrs": json.dumps({k: v for k, v in H.attrs.items()
                                           if isinstance(v, (str, int, float, bool))})})
    if estimate is not None:
        ds["estimated_relative_error"] = (
            ("probe_channel",), estimate["relative_error"].sel(probe_channel=labels).values,
            {"long_name": "relative error estimated by xkernels.error_estimate"})
    ds["ground_truth"].attrs = {"long_name": "hybrid ground truth (sum over Y)"}
    ds["prediction"].attrs = {"long_name": "kernel prediction"}
    return ds

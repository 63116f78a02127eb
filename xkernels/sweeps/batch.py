"""Kernels of a batch of parameter sets: arrays in, one labelled array out.

:func:`kernel_batch` evaluates the kernels of ``n`` parameter sets (sample ``s`` sets
every given parameter path to its ``s``-th value), as simulation-based inference
loops need them.  Every sample's network is validated as
:meth:`xkernels.Network.with_values` validates it, before any kernel is computed.
Where the linear solver computes every postsynaptic population on a cell without
NEURON (passive membranes) and the parameters are synaptic weights, time constants and
reversal potentials, delay distributions or presynaptic rates, the samples are
computed together (:func:`batched_values`), with either averaging and either operating
point (the defaults included): each sample's g_eff leak shift and mean-input reversal
per depth node as arrays, the modes of all the membranes, their steady states, and the
kernels from every node's modes together, delays and window included
(:mod:`xkernels.engine.cable_batch`).  Any other parameter or option computes each sample by
:func:`xkernels.compute_kernels` (the same numbers, slower).  The sweeps' linear path
(``sweep(method="linear")``) is the same computation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CORE_DIMS, KERNEL_NAME, VALUES_DIGEST_ATTR, values_digest
from xkernels.engine import linearisation as lin
from xkernels.engine.blas import one_blas_thread
from xkernels.engine.cable_batch import batch_kernels, batch_modes, batch_rest, mixed_leak
from xkernels.engine.cells import CableCell
from xkernels.engine.depth_average import depth_rule
from xkernels.engine.kernels import (
    build_cell,
    cell_probes_matrix,
    plan_memo,
    prepare_kernels,
    simulate_values,
)
from xkernels.engine.plans import (
    KernelPlan,
    delay_taps,
    extrinsic_leak,
    input_counts,
    summed_leak,
)
from xkernels.provenance import content_hash
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.spec.paths import split_path
from xkernels.sweeps.grid import parameter_paths, unknown_path_message

__all__ = ["batchable", "batched_values", "kernel_batch"]

#: Parameters the batched path evaluates together (canonical paths).
BATCHED = re.compile(r"^(connections\[[^\]]+\]\.(synapse\.(weight|tau1|tau2|e)|delay\..+)"
                     r"|populations\[[^\]]+\]\.rate)$")

#: Samples computed together (bounds the memory of the modal responses).
CHUNK = 512


def kernel_batch(network: Network, probes: Any, values: Mapping[str, Any],
                 options: KernelOptions | Mapping[str, Any] | None = None,
                 **option_kwargs: Any) -> xr.DataArray:
    """Kernels of a batch of parameter sets, as one labelled array with a ``sample`` dim.

    Parameters
    ----------
    network : Network
        The base specification.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    values : Mapping
        Parameter path (as a sweep grid writes it, e.g.
        ``"connections[E->E].synapse.tau2"``, ``"populations[E].rate"``) -> one real
        value per sample (array_like, shape (n_samples,), all of the same length).
    options : KernelOptions or dict, optional
        Kernel options (or as keyword arguments), as for ``compute_kernels``.
    **option_kwargs
        Options by name.

    Returns
    -------
    xarray.DataArray
        Dims ``("sample", "X", "Y", "probe_channel", "tau")``; sample ``s`` equals
        ``compute_kernels(network.with_values({path: values[path][s], ...}), probes,
        options)`` (to rounding, ~1e-13 relative).  Every parameter is a coordinate
        along ``sample`` (named as in sweeps); ``attrs`` are those of the base
        network's kernels, with ``batch`` (the paths) and a ``content_hash`` of the
        base kernels' inputs and all the values.

    Raises
    ------
    TypeError, ValueError
        An unknown path (with the valid ones), values that are not real and finite or
        of different lengths, a value the specification refuses (naming the sample),
        bad options or probes; all before any kernel is computed.

    Examples
    --------
    Three parameter sets of the E->E decay time constant and the E rate (g_eff):

    >>> import xkernels
    >>> H = xkernels.kernel_batch(
    ...     xkernels.Network.example(), {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...     {"connections[E->E].synapse.tau2": [1.5, 2.0, 3.0],
    ...      "populations[E].rate": [2.0, 5.0, 8.0]},
    ...     tau=5.0, g_eff=True, averaging="reference", operating_point="rest",
    ...     solver="linear")
    >>> H.dims, H.sizes["sample"]
    (('sample', 'X', 'Y', 'probe_channel', 'tau'), 3)
    >>> H["tau2_E_E"].values.tolist()
    [1.5, 2.0, 3.0]
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    paths, names, table = _checked_values(network, values)
    opts = KernelOptions.of(options, **option_kwargs)
    plan = prepare_kernels(network, probes, opts)
    samples = []
    for s in range(table.shape[0]):
        assignment = {p: float(table[s, k]) for k, p in enumerate(paths)}
        try:
            samples.append(network.with_values(assignment))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"kernel_batch sample {s} ({assignment}): {exc}") from None
    taps = checked_delays(samples, plan, [
        lambda s=s: f"kernel_batch sample {s} ({dict(zip(paths, table[s].tolist()))})"
        for s in range(len(samples))])
    out = np.empty((len(samples),) + plan.shape)
    batched = batchable(network, plan, paths)
    # the batched parameters never change how options resolve (g_eff, operating point
    # and solver follow the network's kind and cells; every rate is set): the plan's
    # options are every sample's; samples computed one by one resolve their own
    rest = [] if batched else list(range(len(samples)))
    todo = sorted(set(range(len(samples))) - set(rest))
    for start in range(0, len(todo), CHUNK):  # todo is every sample or none
        chunk = todo[start: start + CHUNK]
        batched_values([samples[s] for s in chunk], plan, taps,
                       out=out[chunk[0]: chunk[-1] + 1])
    for s in rest:  # one by one, each validated as compute_kernels validates it
        out[s] = simulate_values(samples[s], prepare_kernels(samples[s], probes, opts))
    coords = {"sample": np.arange(len(samples)), **dict(plan.coords),
              **{name: ("sample", table[:, k]) for k, name in enumerate(names)}}
    attrs = {**plan.attrs, "batch": json.dumps(paths),
             "content_hash": content_hash({"kernels": plan.digest, "batch": {
                 p: table[:, k].tolist() for k, p in enumerate(paths)}}),
             VALUES_DIGEST_ATTR: values_digest(out)}
    return xr.DataArray(out, dims=("sample",) + CORE_DIMS, coords=coords, name=KERNEL_NAME,
                        attrs=attrs)


def checked_delays(samples: list[Network], plan: KernelPlan, where: list[Any]
                   ) -> dict[int, np.ndarray]:
    """Every sample's delay filters on the plan's lag grid, computed (and so checked:
    a delay distribution without mass on the lags is refused) before any kernel.

    Parameters
    ----------
    samples : list of Network
        The samples' networks.
    plan : KernelPlan
        The computation (its lag grid).
    where : list of callable
        Per sample, ``where[s]()`` names it in an error.

    Returns
    -------
    dict
        ``id(distribution)`` -> filter, for :func:`batched_values` (the distributions are
        held by ``samples``).

    Raises
    ------
    ValueError
        A delay distribution without mass on the lags (the sample and connection named).
    """
    taps: dict[int, np.ndarray] = {}
    memo: dict = {}
    for s, net in enumerate(samples):
        for conn in net.connections:
            if id(conn.delay) in taps:
                continue
            try:
                taps[id(conn.delay)] = delay_taps(conn.delay, plan.grid, memo)
            except ValueError as err:
                raise ValueError(f"{where[s]()}: connections['{conn.key}'].delay: "
                                 f"{err}") from None
    return taps


def _checked_values(network: Network, values: Any) -> tuple[list[str], list[str], np.ndarray]:
    """Canonical paths, coordinate names and the (n_samples, n_paths) table."""
    if not isinstance(values, Mapping) or not values:
        raise TypeError("values must be a non-empty dict of parameter path -> one value per "
                        f"sample, got {values!r}")
    valid = parameter_paths(network)
    paths, names, columns = [], [], []
    for user_path, column in values.items():
        hit = valid.get(split_path(user_path)) if isinstance(user_path, str) else None
        if hit is None:
            message = unknown_path_message(str(user_path), [v[0] for v in valid.values()])
            raise ValueError("values" + message.removeprefix("grid"))
        canon, _, readable = hit
        if canon in paths:
            raise ValueError(f"values: parameter {canon!r} is given twice")
        try:
            array = np.asarray(column, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"values[{user_path!r}] must be real numbers (one per sample), "
                            f"got {column!r}") from None
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"values[{user_path!r}] must be a non-empty 1-d array (one value "
                             f"per sample), got shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"values[{user_path!r}] must be finite, got "
                             f"{array[~np.isfinite(array)][:3].tolist()}")
        if columns and array.size != columns[0].size:
            raise ValueError(f"values[{user_path!r}] has {array.size} values, "
                             f"values[{paths[0]!r}] {columns[0].size}: one per sample each")
        paths.append(canon)
        names.append(readable)
        columns.append(array)
    return paths, names, np.column_stack(columns)


def batchable(network: Network, plan: KernelPlan, paths: list[str]) -> bool:
    """Whether samples of ``network`` varying ``paths`` can be computed together
    (:func:`batched_values`): every postsynaptic population on a passive cell the linear
    solver computes without NEURON (linearisation ``"as-is"`` or ``"passive"``), any
    averaging and operating point, and only parameters that change the inputs (not the
    cells): synaptic weights, time constants, reversal potentials, delays, rates.

    Parameters
    ----------
    network : Network
        The base specification.
    plan : KernelPlan
        Its computation (:func:`~xkernels.engine.kernels.prepare_kernels`).
    paths : list of str
        The canonical parameter paths that vary.

    Returns
    -------
    bool
    """
    if not all(BATCHED.match(p) for p in paths):
        return False
    for post in plan.Y:
        if plan.membrane_mode(post, True) not in ("as-is", "passive"):
            return False
        with build_cell(network, post, plan) as cell:
            if not isinstance(cell, CableCell):
                return False
    return True


def batched_values(samples: list[Network], plan: KernelPlan,
                   taps: dict[int, np.ndarray] | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The kernel values of ``samples`` (networks differing from the one ``plan`` was
    prepared for only in the parameters :func:`batchable` accepts), computed together.

    Per postsynaptic population: the synapse counts per segment (and depth node) come
    from the first sample (the cells and placements are those of every sample); each
    sample's g_eff leak shift, the mean input's reversal, the membranes (one per sample
    and depth node, each distinct one decomposed once: :func:`batch_modes`), their
    steady states (:func:`batch_rest`: conductance-based synapses are linearised there),
    the volleys' weights and the kernels from every node's modes, delays and window
    included (:func:`batch_kernels`), are arrays over samples.

    Parameters
    ----------
    samples : list of Network
        The samples' validated networks.
    plan : KernelPlan
        The computation (options resolved; the same for every sample).
    taps : dict, optional
        Delay filters already computed (:func:`checked_delays`), by the identity of the
        samples' delay distributions; filled with those computed here.
    out : ndarray, optional
        Written with the result (any array of that shape, e.g. a view).

    Returns
    -------
    ndarray
        Shape ``(len(samples), *plan.shape)``; sample ``s`` equals
        ``simulate_values(samples[s], prepare_kernels(samples[s], ...))`` to rounding.
    """
    out = np.empty((len(samples),) + plan.shape) if out is None else out
    with one_blas_thread():
        for j, post in enumerate(plan.Y):
            _population_batch(samples, plan, post, {} if taps is None else taps,
                              out[:, :, j])
    return out


def _population_batch(samples: list[Network], plan: KernelPlan, post: str,
                      taps: dict[int, np.ndarray], out: np.ndarray) -> None:
    """The kernels of every input of ``post`` in every sample, written to ``out`` (shape
    (n_samples, n_X, n_channels, n_tau); 0 where X is not an input)."""
    o, grid, first = plan.options, plan.grid, samples[0]
    cell = build_cell(first, post, plan)
    pop = first.population(post)
    geometry, memo, cable = cell.geometry, plan_memo(cell), cell.cable()
    conns = first.inputs(post)
    rows = [plan.X.index(conn.pre) for conn in conns]
    out[:, [x for x in range(len(plan.X)) if x not in rows]] = 0.0
    if not conns:
        return
    if o.averaging == "depth":
        rule = depth_rule(cell, plan, pop)
        offsets, matrices = [float(x) for x in rule.offsets], rule.matrices
    else:
        offsets, matrices = [None], cell_probes_matrix(cell, plan, pop)[None]
    counts = [input_counts(first, post, geometry, memo, depth=d) for d in offsets]
    into = [np.stack([c[conn.pre][0] for c in counts]) for conn in conns]    # (N, m) each
    outward = [np.stack([c[conn.pre][1] for c in counts]) for conn in conns]
    # every sample's synapses and rates, (S, 1, 1) per connection
    links = [[net.connection(conn.pre, post) for conn in conns] for net in samples]
    syn = [[x.synapse for x in row] for row in links]

    def column(values: list) -> list[np.ndarray]:
        table = np.array(values, dtype=float)
        return [table[:, k, None, None] for k in range(len(conns))]

    weight = column([[x.weight for x in row] for row in syn])
    tau1 = column([[x.tau1 for x in row] for row in syn])
    tau2 = column([[x.tau2 for x in row] for row in syn])
    e_syn = column([[x.e for x in row] for row in syn])
    S, N, m = len(samples), len(offsets), cable.nseg
    g, e = np.broadcast_to(cable.g, (S, N, m)), np.broadcast_to(cable.e, (S, N, m))
    if o.g_eff:
        rate = column([[net.population(conn.pre).rate or 0.0 for conn in conns]
                       for net in samples])
        shifts = [lin.leak_shift(geometry.area, into[k][None], weight[k], tau1[k], tau2[k],
                                 rate[k]) for k in range(len(conns))]
        g_shift, e_shift = summed_leak(extrinsic_leak(pop, geometry, memo), shifts, e_syn)
        g_shift = np.broadcast_to(g_shift, (S, N, m))
        if o.operating_point == "mean-input":
            g, e = mixed_leak(g, e, g_shift, e_shift)
        else:
            g = g + g_shift
    g, e = g.reshape(S * N, m), np.broadcast_to(e, (S, N, m)).reshape(S * N, m)
    rho, inward = _distinct_modes(cable, o.dt, g)
    v = plan.vrest_by_post[post]
    if first.conductance_based and plan.membrane_mode(post, True) != "as-is":
        v = batch_rest(cable, rho, inward, g, e).reshape(S, N, m)
    inward = inward.reshape(S, N, m, m)
    # modes -> probe channels per node, and each volley's modal input
    to_probe = np.matmul(-(matrices @ cable.axial), inward)             # (S, N, ch, m)
    coefficients = []
    for k in range(len(conns)):
        w = lin.segment_weights(weight[k], e_syn[k], v, outward[k][None],
                                first.conductance_based)
        c = np.matmul(np.broadcast_to(w, (S, N, m))[:, :, None, :], inward)[:, :, 0]
        coefficients.append(to_probe * c[:, :, None, :])                   # (S, N, ch, m)
    # by identity first: unswept delays are the same objects in every sample
    filters = [taps[id(d)] if id(d) in taps else taps.setdefault(
                   id(d), delay_taps(d, grid, memo))
               for d in (x.delay for row in links for x in row)]
    contiguous = rows == list(range(rows[0], rows[0] + len(rows)))
    kernels = batch_kernels(                                     # (S, C, ch, lags)
        rho.reshape(S, N * m),
        np.stack(coefficients, axis=1).transpose(0, 1, 3, 2, 4).reshape(
            (S, len(conns), matrices.shape[1], N * m)),
        np.concatenate(tau1, axis=1)[:, :, 0], np.concatenate(tau2, axis=1)[:, :, 0],
        filters, grid.delay_centre, grid.lags, o.dt, grid.n_response,
        out=out[:, rows[0]: rows[0] + len(rows)] if contiguous else None)
    if not contiguous:
        out[:, rows] = kernels


def _distinct_modes(cable: Any, dt: float, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`batch_modes` of the rows of ``g``, each distinct membrane decomposed once."""
    _, first, which = np.unique(g, axis=0, return_index=True, return_inverse=True)
    rho, inward = batch_modes(cable, dt, g[first])
    return rho[which.ravel()], inward[which.ravel()]

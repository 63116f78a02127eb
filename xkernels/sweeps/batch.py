"""Kernels of a batch of parameter sets: arrays in, one labelled array out.

:func:`kernel_batch` evaluates the kernels of ``n`` parameter sets (sample ``s`` sets
every given parameter path to its ``s``-th value), as simulation-based inference
loops need them.  Every sample's network is validated as
:meth:`xkernels.Network.with_values` validates it.  Where the linear solver computes
every postsynaptic population on a cell without NEURON (passive membranes,
``averaging="reference"``) and the parameters are synaptic weights, time constants and
reversal potentials, delay distributions or presynaptic rates, the samples are
computed together: their inputs planned on the cached cells, one batched
eigendecomposition of the membranes (with g_eff the rates, weights and time constants
change them) and the modal responses of all samples as arrays
(:func:`xkernels.engine.cable.batch_signals`), then one batch of FFTs for the delay
distributions.  Any other parameter or option computes each sample by
:func:`xkernels.compute_kernels` (the same numbers, slower).
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
from xkernels.engine.cable import batch_signals
from xkernels.engine.cells import CableCell
from xkernels.engine.kernels import (
    build_cell,
    cell_probes_matrix,
    plan_memo,
    prepare_kernels,
    simulate_values,
)
from xkernels.engine.plans import KernelPlan, plan_population
from xkernels.provenance import content_hash
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.spec.paths import split_path
from xkernels.sweeps.grid import parameter_paths, unknown_path_message

__all__ = ["kernel_batch"]

#: Parameters the batched path evaluates together (canonical paths).
BATCHED = re.compile(r"^(connections\[[^\]]+\]\.(synapse\.(weight|tau1|tau2|e)|delay\..+)"
                     r"|populations\[[^\]]+\]\.rate)$")

#: Samples computed together (bounds the memory of the modal responses).
CHUNK = 128


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
    out = np.empty((len(samples),) + plan.shape)
    batched = _batchable(network, plan, paths)
    rest = []
    for s, net in enumerate(samples):
        if not batched or opts.resolve(net) != plan.options:
            rest.append(s)
    todo = [s for s in range(len(samples)) if s not in set(rest)]
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start: start + CHUNK]
        out[chunk] = _batched_values([samples[s] for s in chunk], plan)
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


def _batchable(network: Network, plan: KernelPlan, paths: list[str]) -> bool:
    """Whether the samples can be computed together: reference averaging, every
    postsynaptic population on a passive cell without NEURON, and only parameters
    that change the inputs (not the cells)."""
    if plan.options.averaging != "reference" or not all(BATCHED.match(p) for p in paths):
        return False
    for post in plan.Y:
        with build_cell(network, post, plan) as cell:
            if not isinstance(cell, CableCell):
                return False
    return True


def _batched_values(samples: list[Network], plan: KernelPlan) -> np.ndarray:
    """The kernel values of ``samples`` (shape (n, *plan.shape)), computed together."""
    out = np.zeros((len(samples),) + plan.shape)
    grid = plan.grid
    X = list(plan.X)
    for j, post in enumerate(plan.Y):
        base = build_cell(samples[0], post, plan)
        geometry, memo = base.geometry, plan_memo(base)
        pop = samples[0].population(post)
        matrix = cell_probes_matrix(base, plan, pop)
        vrest = plan.vrest_by_post[post]
        mode = plan.membrane_mode(post, True)
        g, weights, taus, filters, sources = [], [], [], [], None
        for net in samples:
            inputs = plan_population(net, post, geometry, vrest, plan.options.g_eff, grid,
                                     memo)
            cell = base.copy()   # a fresh leak on the cached cable
            if plan.options.operating_point == "mean-input" and inputs.e_shift is not None:
                cell.add_leak(inputs.g_shift, inputs.e_shift)
            else:
                cell.shift_g_pas(inputs.g_shift)
            cable = cell.cable()
            if mode != "as-is" and net.conductance_based:
                exact = cell.resting_potential(tolerance=0.0)
                if exact is not None:
                    v = np.full(cell.nseg, exact)
                else:  # LinearCable.rest: (G + A) v = G e
                    G = cable.conductance
                    v = np.linalg.solve(cable.axial + np.diag(G), G * cable.e)
                if not (isinstance(vrest, float) and (v == vrest).all()):
                    inputs = plan_population(net, post, geometry, v, plan.options.g_eff,
                                             grid, memo)
            items = inputs.inputs
            sources = list(items) if sources is None else sources
            g.append(cable.g.copy())
            weights.append([items[x].weights for x in sources])
            taus.append([(items[x].tau1, items[x].tau2) for x in sources])
            filters.extend(items[x].h_delay for x in sources)
        if not sources:
            continue
        signals = batch_signals(base.cable(), plan.options.dt, np.array(g), matrix,
                                np.array(weights), np.array(taus), grid.n_response)
        n, nv = signals.shape[:2]
        kernels = lin.finish_kernels(signals.reshape((n * nv,) + signals.shape[2:]),
                                     filters, grid.delay_centre, grid.lags)
        kernels = kernels.reshape((n, nv) + kernels.shape[1:])
        for v, source in enumerate(sources):
            out[:, X.index(source), j] = kernels[:, v]
    return out

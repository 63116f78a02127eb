"""The hybrid scheme on dask: every postsynaptic cell placed, wired and simulated with the
network's real spikes; the ground truth that the kernels approximate.

:func:`simulate` splits the cells of every postsynaptic population into batches of
consecutive cells.  A batch is one task (:func:`run_batch`): in a worker process it
builds the population's cell once, then for each of its cells draws the position and
the wiring (:mod:`xkernels.hybrid.wiring`, seeded per cell), attaches one point process
per (input, segment), simulates with NEURON at a fixed step and reduces the membrane
currents through every probe at the cell's own position (no population averaging)
before summing into the batch total.  Batches are summed in a fixed order, so the
result does not depend on the number of workers or on the order in which tasks finish;
with ``store=`` every finished batch is written to a Zarr store and a re-run resumes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_choice, check_int, check_real
from xkernels.engine import linearisation as lin
from xkernels.engine.synapse_map import check_cells
from xkernels.hybrid import EXT_MODES
from xkernels.hybrid import store as hstore
from xkernels.hybrid.wiring import select_cells, wire_cell
from xkernels.probes import normalize_probes, probe_channels, probe_definitions, probe_matrix
from xkernels.provenance import (
    content_hash,
    merge_channel_coords,
    require_described,
    versions,
)
from xkernels.runtime import Runner, check_client, progress_bar
from xkernels.signals.spikes import Spikes, as_spikes
from xkernels.spec.network import Network
from xkernels.store.publish import locked

DEFAULT_DT = 2.0 ** -4
DEFAULT_SEED = 1234
#: default number of batches per population (the batch size follows from it)
BATCHES_PER_POPULATION = 32
#: Rough cost (s) of one cell and one second of activity, for the choice above.
SECONDS_PER_CELL_SECOND = 0.15
#: probe matrices at the cell's own position: no population offsets
_AT_POSITION = {"radius": 0.0, "loc": 0.0, "scale": 0.0}
RESULT_NAME = "ground_truth"


# --------------------------------------------------------------------------------------
# the worker task
# --------------------------------------------------------------------------------------
def cell_matrix(probes: Mapping[str, Any], geometry) -> np.ndarray:
    """Every probe's matrix for one cell at its own position, stacked (n_channels, nseg).

    Contact-based probes (point/line sources) are evaluated at the cell's position
    only (``probe_matrix`` with one position and zero spread); other probes as
    they are defined.  Channel order is the one of :func:`probe_channels`.
    """
    lfpykit_geometry = geometry.to_lfpykit()
    return np.concatenate([probe_matrix(probe, lfpykit_geometry, _AT_POSITION, n_positions=1,
                                        seed=0) for probe in probes.values()], axis=0)


def run_batch(network: Network, probes: Mapping[str, Any], spikes: Spikes, post: str,
              cells: Sequence[int], options: Mapping[str, Any]) -> dict[str, Any]:
    """Simulate cells ``cells`` of population ``post`` and sum their probe signals.

    Parameters
    ----------
    network : Network
    probes : mapping of str to probe
        Named probes (channel order of the result).
    spikes : Spikes
        Per-neuron spike trains of every presynaptic population.
    post : str
        Postsynaptic population.
    cells : sequence of int
        Cell indices (in the population) to simulate, summed in this order.
    options : mapping
        ``seed``, ``dt``, ``t_stop``, ``n_steps``, ``ext`` (resolved), ``e_pas``,
        ``v_init``, ``chunk_steps``.

    Returns
    -------
    dict
        ``values`` (n_channels, n_steps) sum of the cells' signals (channel units),
        ``cells``, ``synapses``, ``groups``, ``events`` counts, ``task_seconds`` (wall)
        and ``task_cpu_seconds`` (this process's CPU time) spent.
    """
    from xkernels.engine.mechanisms import NEURON_LOCK
    from xkernels.engine.network_cell import NetworkCell

    start, cpu = time.perf_counter(), time.process_time()
    pop = network.population(post)
    arrays = {name: spikes.arrays(name) for name in spikes}
    n_syn = n_groups = n_events = 0
    with NEURON_LOCK, NetworkCell(pop.cell, pop, options["dt"], e_pas_default=options["e_pas"],
                                  v_init=options["v_init"]) as cell:
        if options["ext"] == "leak":
            cell.shift_g_pas(lin.ext_leak_shift(pop, cell.geometry.area))
        elif options["ext"] == "mean" and pop.ext_synapse is not None:  # None: no input
            cell.add_leak(lin.ext_leak_shift(pop, cell.geometry.area), pop.ext_synapse.e)
        total = None
        for index in cells:
            _, geometry, groups = wire_cell(network, post, int(index), seed=options["seed"],
                                            place=cell.place, spikes=arrays,
                                            t_stop=options["t_stop"], ext=options["ext"])
            for g in groups:
                cell.add_synapses(g.segments, g.times, syntype=g.syntype, weight=g.weight,
                                  tau1=g.tau1, tau2=g.tau2, e=g.e)
                n_syn += g.n_synapses
                n_events += g.n_events
            n_groups += cell.n_groups
            signal = cell.simulate(options["n_steps"], cell_matrix(probes, geometry),
                                   chunk_steps=options["chunk_steps"])
            cell.clear_synapses()
            total = signal if total is None else total + signal
    return {"values": total, "cells": len(cells), "synapses": n_syn, "groups": n_groups,
            "events": n_events, "task_seconds": time.perf_counter() - start,
            "task_cpu_seconds": time.process_time() - cpu}


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------
def _e_pas(Vrest: Any, post: str) -> float:
    if isinstance(Vrest, Mapping):
        if post not in Vrest:
            raise ValueError(f"Vrest is a dict without population {post!r}; its keys are "
                             f"{sorted(Vrest)}")
        return check_real(f"Vrest[{post!r}]", Vrest[post])
    return check_real("Vrest", Vrest)


def resolve_ext(ext: str, network: Network) -> str:
    """``"auto"``: ``"mean"`` for conductance-based networks, ``"none"`` for
    current-based ones (see :func:`simulate`)."""
    check_choice("ext", ext, EXT_MODES)
    if ext == "auto":
        return "mean" if network.conductance_based else "none"
    return ext


def _batch_plan(network: Network, n_cells: Any, seed: int,
                batch_size: int | None) -> tuple[list[str], dict, list[dict]]:
    posts = network.postsynaptic
    if isinstance(n_cells, Mapping):
        unknown = [k for k in n_cells if k not in posts]
        if unknown:
            raise ValueError(f"n_cells has populations {unknown}; the postsynaptic "
                             f"populations are {posts}")
    chosen, batches = {}, []
    for post in posts:
        size = network.population(post).size
        idx = select_cells(size, n_cells.get(post) if isinstance(n_cells, Mapping) else n_cells,
                           seed, post)
        chosen[post] = idx
        bs = batch_size or max(1, math.ceil(idx.size / BATCHES_PER_POPULATION))
        for first in range(0, idx.size, bs):
            batches.append({"Y": post, "first": first, "cells": int(min(bs, idx.size - first))})
    return posts, chosen, batches


# --------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------
def simulate(network: Network, spikes: Any, probes: Any, *, t_stop: float,
             dt: float = DEFAULT_DT, seed: int = DEFAULT_SEED, client: Any = None,
             store: str | os.PathLike | None = None, progress: bool | None = None,
             n_cells: int | float | Mapping[str, Any] | None = None,
             batch_size: int | None = None, Vrest: float | Mapping[str, float] = -65.0,
             v_init: float | None = None, ext: str = "auto",
             chunk_steps: int = 4096) -> xr.DataArray:
    """Ground-truth signals of a network: every cell simulated with the real spikes.

    For every postsynaptic population Y, N_Y cells (or a seeded subsample, see
    ``n_cells``) are placed (uniform in the disc of ``radius``, depth
    normal(``loc``, ``scale``), the population's rotation), wired from every
    presynaptic neuron by the connection's probability, multapse and delay
    distributions and placement densities (at the cell's absolute depths, see
    :func:`xkernels.hybrid.wiring.draw_synapses`), driven by the actual spike times
    and simulated with LFPy/NEURON at a fixed step: conductance-based synapses are
    ``Exp2Syn`` conductances with their reversal potential, current-based ones
    ``Exp2SynI`` currents, membranes as specified (active ones as they are).  Each
    cell's transmembrane currents go through every probe at the cell's own position.

    Parameters
    ----------
    network : Network
        The network specification.
    spikes : Spikes or mapping
        Spike times (ms) of every neuron of every presynaptic population: a
        :class:`~xkernels.signals.Spikes`, a mapping population -> list of
        per-neuron arrays, or ``{"times", "senders", "populations"}`` spike-recorder
        events.  Times in ``[0, t_stop)``, sorted per neuron.
    probes : dict or list
        Forward models as for :func:`xkernels.compute_kernels`.  Point/line-source
        contacts see each cell where it is; a ``GaussCylinderPotential`` smears each
        cell's own currents over its disc and Gaussian depth profile (its model), so
        for a physical ground truth of the LFP use point/line-source contacts.
    t_stop : float
        Duration (ms), a whole multiple of ``dt``.
    dt : float
        Time step (ms) of the simulation and of the output samples.
    seed : int
        Seed of positions, wiring, subsampling and extrinsic Poisson input.
    client : None, "sync", int, str or dask.distributed.Client
        Where cells are simulated (:class:`xkernels.runtime.Runner`): ``None``, a
        local cluster of one single-threaded worker process per core, closed at the
        end (work estimated below :data:`xkernels.runtime.INLINE_SECONDS` is done in
        this process instead: starting a cluster costs seconds); an int, a local
        cluster of that many worker processes; ``"sync"``, this process, batch by
        batch; a scheduler address or a Client: that cluster.  Simulating in this
        process replaces its NEURON sections.
    store : path, optional
        Zarr store written batch by batch; if it exists (same inputs) only the
        batches not yet done are simulated.  Processes simulating into the same store
        take turns (its lock, :mod:`xkernels.store.publish`).
    progress : bool or None
        tqdm progress bar over cells (None: shown for more than 10 cells).
    n_cells : None, int, float or dict
        Cells simulated per population: all (None), a seeded subsample of that many
        (int) or that fraction (float in (0, 1]); a dict per population.  A
        subsample's sum is scaled by N_Y / m; each sampled cell is wired exactly as
        in the full simulation.
    batch_size : int, optional
        Cells per task (default: ceil(cells / 32) per population).  The batch layout,
        not the number of workers, fixes the summation order.
    Vrest : float or dict
        Leak reversal potential (mV) of the ``passive`` preset when its ``e_pas`` is
        unset, as for :func:`xkernels.compute_kernels`.
    v_init : float, optional
        Initial potential (mV); default: the exact rest of passive uniform membranes,
        else the cell's ``v_init``.
    ext : {"auto", "mean", "leak", "poisson", "none"}
        Extrinsic input (``n_ext`` synapses at ``nu_ext`` per cell, ``ext_synapse``):
        ``"mean"`` adds its mean conductance (spread by membrane area, as the kernels'
        ``g_eff``) with its reversal potential to the leak — the mean drive without
        fluctuations; ``"leak"`` adds the same conductance with the leak's reversal
        potential (exactly what ``g_eff`` assumes: shunting, no drive);
        ``"poisson"`` simulates it as Poisson trains onto ``ext_synapse``
        conductances (one superposed train per segment, rate
        ``n_ext A_i / ΣA nu_ext``), the real thing; ``"none"`` ignores it; ``"auto"``:
        ``"mean"`` in conductance-based networks, ``"none"`` otherwise.  In the README
        network ``"mean"`` and ``"poisson"`` give the same mean somatic potential
        (E -63.5 mV, I -59.3 mV), while ``"leak"`` lets the inhibitory conductances
        pull it to -70.2 / -71.9 mV and the kernels (linearised at -65 mV) then
        overestimate the LFP about twofold (BENCHMARKS.md, validation table).
    chunk_steps : int
        Time steps simulated between two reductions of a cell's currents (memory
        per task ~ nseg × chunk_steps).

    Returns
    -------
    xarray.DataArray
        ``ground_truth`` with dims (Y, probe_channel, time): each population's
        contribution in each channel's units (``units`` coordinate), at times
        ``k dt`` (ms), ``k = 0 .. t_stop/dt - 1``; ``.sum('Y')`` is the signal.  Attrs:
        spec, probes, dt, t_stop, seed, ext, Vrest, cells and scale per population,
        spikes_hash, content_hash, versions.

    Raises
    ------
    ValueError
        Before any cell is simulated: spikes not matching the network (population
        names, neuron counts, times outside ``[0, t_stop)``, unsorted trains,
        senders in no population), bad options, probes without a definition when
        ``store`` is given, a store of another simulation.

    Examples
    --------
    A tiny run: 100 ms of seeded Poisson spikes of the example network, two E cells and
    one I cell simulated (real ground truths simulate hundreds of cells for seconds,
    on a cluster), the current dipole moment (nA µm) per postsynaptic population:

    >>> import xkernels
    >>> from xkernels.hybrid import correlated_poisson
    >>> net = xkernels.Network.example()
    >>> spikes = correlated_poisson({p.name: p.size for p in net.populations},
    ...                             {p.name: p.rate for p in net.populations},
    ...                             t_stop=100.0, seed=1)
    >>> gt = simulate(net, spikes, {"cdm": xkernels.CurrentDipoleMomentZ()}, t_stop=100.0,
    ...               n_cells={"E": 2, "I": 1}, client="sync", progress=False)
    >>> dict(gt.sizes)
    {'Y': 2, 'probe_channel': 1, 'time': 1600}
    >>> gt.attrs["cells"], gt.attrs["scale"]    # subsample sums scaled to the populations
    ('{"E": 2, "I": 1}', '{"E": 4096.0, "I": 1024.0}')
    >>> signal = gt.sum("Y")                    # the signal: both populations' sum
    >>> signal.dims, str(signal["units"].values[0])
    (('probe_channel', 'time'), 'nA µm')
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xkernels.Network, got {type(network).__name__}")
    dt = check_real("dt", dt, positive=True)
    t_stop = check_real("t_stop", t_stop, positive=True)
    n_steps = int(round(t_stop / dt))
    if n_steps < 1 or abs(n_steps * dt - t_stop) > 1e-9 * max(1.0, t_stop):
        raise ValueError(f"t_stop must be a whole multiple of dt = {dt} ms, got {t_stop!r}")
    seed = check_int("seed", seed, minimum=0)
    chunk_steps = check_int("chunk_steps", chunk_steps, minimum=1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    ext = resolve_ext(ext, network)
    if v_init is not None:
        v_init = check_real("v_init", v_init)
    check_client(client)
    spikes = as_spikes(spikes)
    sizes = {p.name: p.size for p in network.populations}
    spikes.check(sizes, t_stop, required=network.presynaptic)
    named = normalize_probes(probes)
    definitions = probe_definitions(named)
    if store is not None:
        require_described(definitions, f"hybrid store {str(store)!r}")
    e_pas = {post: _e_pas(Vrest, post) for post in network.postsynaptic}
    if ext in ("leak", "mean", "poisson"):
        for post in network.postsynaptic:
            pop = network.population(post)
            if pop.n_ext > 0 and pop.nu_ext > 0 and pop.ext_synapse is None:
                raise ValueError(f"populations[{post!r}].ext_synapse must be given for "
                                 f"ext={ext!r} (n_ext = {pop.n_ext}), got None")
    check_cells(network, dt)  # every cell builds and takes its synapses: before any write
    posts, chosen, batches = _batch_plan(network, n_cells, seed, batch_size)
    channels = merge_channel_coords([probe_channels(name, probe)
                                     for name, probe in named.items()])
    scale = {post: network.population(post).size / chosen[post].size for post in posts}
    spikes_hash = spikes.digest()
    inputs = {"spec": network.to_dict(), "probes": [[n, d] for n, d in definitions.items()],
              "spikes": spikes_hash, "t_stop": t_stop, "dt": dt, "seed": seed, "ext": ext,
              "Vrest": e_pas, "v_init": v_init,
              "n_cells": {post: int(chosen[post].size) for post in posts},
              "batches": [[b["Y"], b["first"], b["cells"]] for b in batches],
              "chunk_steps": chunk_steps}
    digest = content_hash(inputs)
    versions_json = json.dumps(versions(), sort_keys=True)
    coords = {"Y": ("Y", np.asarray(posts, dtype=object)), **{
        k: (dim, np.asarray(v.tolist(), dtype=object) if v.dtype.kind in "UOS" else v, a)
        for k, (dim, v, a) in channels.items()},
        "time": ("time", np.arange(n_steps) * dt, {"units": "ms", "long_name": "time"})}
    options = {"seed": seed, "dt": dt, "t_stop": t_stop, "n_steps": n_steps, "ext": ext,
               "v_init": v_init, "chunk_steps": chunk_steps}
    stats = {"cells": 0, "synapses": 0, "groups": 0, "events": 0, "task_seconds": 0.0,
             "task_cpu_seconds": 0.0}
    out = np.zeros((len(posts), len(coords["probe_channel"][1]), n_steps))
    wall = time.perf_counter()
    with contextlib.ExitStack() as stack:
        done = np.zeros(len(batches), dtype=bool)
        if store is not None:  # one process at a time simulates into a store
            stack.enter_context(locked(Path(store)))
            done = hstore.open_or_create(store, coords, batches, inputs, {
                "content_hash": digest, "versions": versions_json})
        jobs, todo = [], []
        for b, batch in enumerate(batches):
            if not done[b]:
                post = batch["Y"]
                cells = chosen[post][batch["first"]: batch["first"] + batch["cells"]]
                jobs.append((post, [int(i) for i in cells], dict(options, e_pas=e_pas[post])))
                todo.append(b)
        n_jobs_cells = sum(len(j[1]) for j in jobs)
        runner = stack.enter_context(Runner(client))
        bar = stack.enter_context(progress_bar(n_jobs_cells, progress, "hybrid cells", "cell"))
        seconds = n_jobs_cells * t_stop / 1000.0 * SECONDS_PER_CELL_SECOND
        shared = (network, named, spikes)
        if store is None:  # in batch order: the sum does not depend on the workers
            results = enumerate(runner.imap(run_batch, jobs, seconds, shared))
        else:  # stored as they finish, summed in batch order below
            results = runner.imap_unordered(run_batch, jobs, seconds, shared)
        for k, result in results:
            b = todo[k]
            if store is not None:
                hstore.write_batch(store, b, result["values"])
            else:
                out[posts.index(batches[b]["Y"])] += result["values"]
            for key in stats:
                stats[key] += result[key]
            bar.update(result["cells"])
        stats["wall_seconds"] = time.perf_counter() - wall
        for j, post in enumerate(posts):
            if store is not None:
                for b, batch in enumerate(batches):
                    if batch["Y"] == post:
                        out[j] += hstore.read_batch(store, b)
            if scale[post] != 1.0:
                out[j] *= scale[post]
            if store is not None:
                hstore.write_ground_truth(store, j, out[j])
    attrs = {
        "long_name": "hybrid ground truth",
        "description": "every cell simulated with the network's spikes, per population",
        "spec": network.to_json(indent=None),
        "probes": json.dumps(definitions),
        "dt": dt, "t_stop": t_stop, "seed": seed, "ext": ext,
        "Vrest": json.dumps(e_pas), "v_init": "rest or cell v_init" if v_init is None
        else v_init,
        "cells": json.dumps(inputs["n_cells"]),
        "scale": json.dumps(scale),
        "spikes_hash": spikes_hash, "content_hash": digest,
        "versions": versions_json,
        "run_stats": json.dumps(stats),
    }
    return xr.DataArray(out, dims=("Y", "probe_channel", "time"), coords=coords,
                        name=RESULT_NAME, attrs=attrs)


def open_ground_truth(path: str | os.PathLike) -> xr.DataArray:
    """The ground truth of a finished store (raises if some population is not summed).

    Parameters
    ----------
    path : str or path
        A store written by :func:`xkernels.hybrid.simulate` with ``store=``.

    Returns
    -------
    xarray.DataArray
        Lazy ground truth, dims (Y, probe_channel, time), in each channel's units.

    Raises
    ------
    ValueError
        The store is incomplete (re-run ``simulate`` with the same inputs to finish it).

    Examples
    --------
    A tiny simulation (one cell per population, 20 ms) written to a store, opened
    again:

    >>> import xkernels
    >>> from xkernels.hybrid import correlated_poisson
    >>> net = xkernels.Network.example()
    >>> spikes = correlated_poisson({p.name: p.size for p in net.populations},
    ...                             {p.name: p.rate for p in net.populations},
    ...                             t_stop=20.0, seed=1)
    >>> gt = simulate(net, spikes, {"cdm": xkernels.CurrentDipoleMomentZ()}, t_stop=20.0,
    ...               n_cells=1, client="sync", progress=False, store="gt.zarr")
    >>> opened = open_ground_truth("gt.zarr")
    >>> opened.dims, opened.sizes["time"]
    (('Y', 'probe_channel', 'time'), 320)
    >>> bool((opened == gt).all())
    True
    """
    ds = xr.open_zarr(Path(path))
    if not bool(ds["summed"].all()):
        missing = ds["Y"].values[~ds["summed"].values].tolist()
        raise ValueError(f"store {str(path)!r} is incomplete: populations {missing} are not "
                         "summed yet (re-run simulate with the same inputs to finish it)")
    return ds["ground_truth"]

"""Parameter sweeps: one call, one DataArray with the swept parameters as leading dims.

``sweep(network, grid, probes)`` varies parameters of a network specification (any
number or string of :meth:`Network.to_dict`, addressed by a path such as
``connections[E->E].synapse.weight``) and the computation options ``Vrest`` and
``t_X`` over a grid (cartesian product, or zipped groups), and returns the kernels
with dims ``(<swept params>..., X, Y, probe_channel, tau)``.

* Every point is validated before anything is simulated: its specification is built
  (each changed part parsed once per distinct value, see :class:`PointBuilder`) and
  its synapse placement checked on the cell geometry.
* Points are computed in worker processes on dask.distributed (a local cluster sized
  to the cores by default, or the user's ``Client``), each with its own NEURON cells.
* With ``store=``, finished points are written to a Zarr sweep store at once (in
  blocks, :func:`xkernels.store.write_points`); running the same sweep again computes
  only the missing points, and running it with new values appended along some dims
  grows the store (:func:`xkernels.store.extend_sweep_store`) and computes only the
  new points.
* Where the kernel is linear in the swept parameters (the cell membrane is the same
  for many points) the :mod:`xkernels.superposition` fast path builds every point from
  per-segment unit responses instead of simulating it.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xkernels.engine import kernels as kern
from xkernels.sweeps import superposition as sup
from xkernels.contract import CHANNEL_COORDS, CORE_DIMS, KERNEL_NAME
from xkernels.spec.network import Connection, Network, Population

logger = logging.getLogger(__name__)

#: Computation options that can be swept besides the specification.
OPTION_PATHS = ("Vrest", "t_X")
#: Work (s) below which the default runner computes here instead of starting a cluster.
INLINE_SECONDS = 3.0
#: Rough cost estimates (s) of the tasks, for the choice above.
SECONDS_PER_CELL = 0.05
SECONDS_PER_SIMULATION = 0.02
#: Largest number of points simulated by one task.
MAX_POINTS_PER_TASK = 8
#: ``method`` values of :func:`sweep`.
METHODS = ("auto", "superposition", "simulate")
# parts of a connection / population parsed (validated) as one unit
_CONNECTION_UNITS = ("synapse", "delay", "multapses", "placement")
_POPULATION_UNITS = ("cell", "ext_synapse")
_POPULATION_SCALARS = ("size", "rate", "radius", "loc", "scale", "rotation", "n_ext", "nu_ext")
# path tokens left out of readable dim names
_SILENT_TOKENS = {"params", "synapse", "cell", "biophysics", "biophysics_args"}
_RESERVED_NAMES = set(CORE_DIMS) | set(CHANNEL_COORDS) | {KERNEL_NAME, "done"}


# --------------------------------------------------------------------------------------
# parameter paths
# --------------------------------------------------------------------------------------
@dataclass
class Param:
    """One swept parameter.

    Attributes
    ----------
    path : str
        Canonical path, e.g. ``connections[E->E].synapse.weight``.
    kind : str
        ``"connections"``, ``"populations"`` or ``"option"``.
    index : int
        Position of the connection / population in the network (-1 for options).
    address : tuple
        Keys / list indices of the value inside the component's ``to_dict()``.
    name : str
        Readable name (dim or coordinate name), e.g. ``weight_E_E``.
    values : list
        The swept values.
    """

    path: str
    kind: str
    index: int
    address: tuple
    name: str
    values: list

    @property
    def unit(self) -> tuple:
        """The part of the specification validated together with this parameter."""
        if self.kind == "option":
            return ("option", self.path)
        subs = _CONNECTION_UNITS if self.kind == "connections" else _POPULATION_UNITS
        head = self.address[0] if self.address[0] in subs else None
        return (self.kind, self.index, head)


@dataclass
class Axis:
    """One sweep dim: a single parameter, or a zipped group sharing the dim."""

    dim: str
    params: list[Param]

    @property
    def size(self) -> int:
        return len(self.params[0].values)

    @property
    def zipped(self) -> bool:
        return len(self.params) > 1


def split_path(path: str) -> tuple[str, ...]:
    """Tokens of a parameter path: ``connections['E->E'].delay.params.loc`` ->
    ``('connections', 'E->E', 'delay', 'params', 'loc')``."""
    tokens, i = [], 0
    while i < len(path):
        char = path[i]
        if char == "[":
            j = path.find("]", i)
            if j < 0:
                raise ValueError(f"parameter path {path!r} has an unclosed '['")
            tokens.append(path[i + 1:j].strip().strip("'\""))
            i = j + 1
        elif char == ".":
            i += 1
        else:
            match = re.match(r"[^.\[\]]+", path[i:])
            tokens.append(match.group().strip())
            i += match.end()
    return tuple(tokens)


def parameter_paths(network: Network) -> dict[tuple[str, ...], tuple[str, str, int, tuple]]:
    """Every sweepable parameter of ``network``.

    Returns
    -------
    dict
        Path tokens -> (canonical path, kind, component index, address in the
        component's dict).  Leaves of :meth:`Network.to_dict` that are numbers,
        strings or None (except names and pre/post), the rotation angles of every
        population, and the options ``Vrest`` and ``t_X``.
    """
    spec = network.to_dict()
    out: dict[tuple[str, ...], tuple[str, str, int, tuple]] = {}

    def walk(obj, tokens, canon, kind, index, address):
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                walk(value, (*tokens, str(key)), f"{canon}.{key}", kind, index, (*address, key))
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                walk(value, (*tokens, str(i)), f"{canon}[{i}]", kind, index, (*address, i))
        elif obj is None or (isinstance(obj, (int, float, str)) and not isinstance(obj, bool)):
            out[tokens] = (canon, kind, index, address)

    for i, pop in enumerate(spec["populations"]):
        name = pop["name"]
        rotation = {"x": 0.0, "y": 0.0, "z": 0.0, **pop["rotation"]}
        for key, value in {**pop, "rotation": rotation}.items():
            if key != "name":
                walk(value, ("populations", name, key), f"populations[{name}].{key}",
                     "populations", i, (key,))
    for i, conn in enumerate(spec["connections"]):
        key = f"{conn['pre']}->{conn['post']}"
        for field, value in conn.items():
            if field not in ("pre", "post"):
                walk(value, ("connections", key, field), f"connections[{key}].{field}",
                     "connections", i, (field,))
    for option in OPTION_PATHS:
        out[(option,)] = (option, "option", -1, (option,))
    return out


def _readable_name(kind: str, owner: str, address: tuple, component: Any) -> str:
    """``weight_E_E`` for ``connections[E->E].synapse.weight`` and the like."""
    if kind == "option":
        return str(address[0])
    parts, node = [], component
    for token in address:
        if isinstance(node, list):
            if len(node) > 1:
                parts.append(str(token))
            node = node[token] if token < len(node) else None
            continue
        child = node.get(token) if isinstance(node, Mapping) else None
        list_of_dicts = (isinstance(child, list) and len(child) == 1
                         and isinstance(child[0], Mapping))
        if token not in _SILENT_TOKENS and not list_of_dicts:
            parts.append(str(token))
        node = child
    suffix = re.sub(r"\W+", "_", owner.replace("->", "_")).strip("_")
    return "_".join([*parts, suffix])


def _check_values(path: str, values: Any) -> list:
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"grid[{path!r}] must be a non-empty list of values, got {values!r}")
    values = list(np.asarray(values).tolist()) if isinstance(values, np.ndarray) else list(values)
    if not values:
        raise ValueError(f"grid[{path!r}] must be a non-empty list of values, got []")
    numbers = [isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)) for v in values]
    if all(numbers):
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            raise ValueError(f"grid[{path!r}] values must be finite, got {bad} in {values}")
    elif not all(isinstance(v, str) for v in values):
        raise TypeError(f"grid[{path!r}] values must be all real numbers or all str, got "
                        f"{values!r}")
    return values


def parse_grid(network: Network, grid: Mapping[str, Any], *,
               zipped: Sequence[Sequence[str]] | None = None,
               names: Mapping[str, str] | None = None) -> list[Axis]:
    """Validate a sweep grid and return its axes (sweep dims) in grid order.

    Parameters
    ----------
    network : Network
        The base specification.
    grid : dict
        Parameter path -> list of values.
    zipped : list of lists of paths, optional
        Groups of grid paths varied together (equal lengths); each group is one dim
        named by joining its parameters' names with ``"__"``, indexed 0..n-1, with
        every parameter's values as a coordinate along it.
    names : dict, optional
        Path -> dim/coordinate name, replacing the readable default.

    Raises
    ------
    ValueError, TypeError
        Unknown paths (listing the valid ones), empty or non-finite value lists,
        repeated values, bad zip groups or name clashes.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError(f"grid must be a non-empty dict of parameter path -> values, "
                        f"got {grid!r}")
    valid = parameter_paths(network)
    spec = network.to_dict()
    names = dict(names or {})
    params: dict[str, Param] = {}
    canonical_of: dict[str, str] = {}
    for user_path, values in grid.items():
        if not isinstance(user_path, str):
            raise TypeError(f"grid keys must be parameter paths (str), got {user_path!r}")
        hit = valid.get(split_path(user_path))
        if hit is None:
            listing = "\n  ".join(sorted(v[0] for v in valid.values()))
            raise ValueError(f"grid: unknown parameter path {user_path!r}; valid paths "
                             f"are:\n  {listing}")
        canon, kind, index, address = hit
        if canon in params:
            raise ValueError(f"grid: parameter {canon!r} is given twice")
        if kind == "option":
            owner, component = "", None
        else:
            component = spec[kind][index]
            owner = (component["name"] if kind == "populations"
                     else f"{component['pre']}->{component['post']}")
        name = names.pop(user_path, names.pop(canon, None))
        if name is None:
            name = _readable_name(kind, owner, address, component)
        elif not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"names[{user_path!r}] must be a Python identifier, got {name!r}")
        params[canon] = Param(canon, kind, index, address, name,
                              _check_values(user_path, values))
        canonical_of[user_path] = canon
    if names:
        raise ValueError(f"names has paths not in the grid: {sorted(names)}")
    taken = [p.name for p in params.values()]
    clash = sorted({n for n in taken if taken.count(n) > 1} | (set(taken) & _RESERVED_NAMES))
    if clash:
        raise ValueError(f"sweep parameter names {clash} clash (with each other or with "
                         f"{sorted(_RESERVED_NAMES)}); choose names with names={{path: name}}")
    groups = _zip_groups(zipped, canonical_of, params)
    axes, seen = [], set()
    for canon, param in params.items():
        if canon in seen:
            continue
        group = groups.get(canon, [canon])
        seen.update(group)
        members = [params[c] for c in group]
        if len(members) == 1:
            values = members[0].values
            if len(set(values)) != len(values):
                raise ValueError(f"grid[{canon!r}] values must be unique (one sweep point "
                                 f"each), got {values}")
            axes.append(Axis(param.name, members))
        else:
            axes.append(Axis("__".join(m.name for m in members), members))
    dims = [a.dim for a in axes]
    if len(set(dims)) != len(dims) or set(dims) & (_RESERVED_NAMES | set(taken) - set(dims)):
        raise ValueError(f"sweep dim names {dims} clash with parameter names {taken}")
    return axes


def _zip_groups(zipped: Any, canonical_of: dict[str, str],
                params: dict[str, Param]) -> dict[str, list[str]]:
    if zipped is None:
        return {}
    if isinstance(zipped, (str, Mapping)) or not isinstance(zipped, Sequence):
        raise TypeError(f"zipped must be a list of lists of grid paths, got {zipped!r}")
    groups: dict[str, list[str]] = {}
    for g, group in enumerate(zipped):
        if isinstance(group, str) or not isinstance(group, Sequence) or len(group) < 2:
            raise ValueError(f"zipped[{g}] must list at least two grid paths, got {group!r}")
        members = []
        for path in group:
            canon = canonical_of.get(path)
            if canon is None:
                canon = next((c for c in params if split_path(c) == split_path(str(path))), None)
            if canon is None:
                raise ValueError(f"zipped[{g}]: {path!r} is not a key of grid "
                                 f"({sorted(canonical_of)})")
            if canon in groups or canon in members:
                raise ValueError(f"zipped: {path!r} appears in more than one place")
            members.append(canon)
        sizes = {c: len(params[c].values) for c in members}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"zipped[{g}]: zipped parameters need equal numbers of values, "
                             f"got {sizes}")
        for canon in members:
            groups[canon] = members
    return groups


def grid_points(axes: Sequence[Axis]) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
    """(index along every axis, path -> value) of every point, C order."""
    for index in np.ndindex(*[a.size for a in axes]):
        values = {}
        for axis, i in zip(axes, index):
            for param in axis.params:
                values[param.path] = param.values[i]
        yield tuple(int(i) for i in index), values


# --------------------------------------------------------------------------------------
# building and validating the point specifications
# --------------------------------------------------------------------------------------
class PointBuilder:
    """Build the specification of every sweep point, validating each changed part once.

    A point differs from the base network only in its swept values.  Each changed
    part (a connection's synapse, delay, multapses or placement, its probability, a
    population's cell, extrinsic synapse or scalar fields) is validated by the
    specification's own parser (``Connection.parse`` / ``Population.parse``) once per
    distinct combination of its swept values, and the point's :class:`Network` is
    assembled from the parsed parts.  Names are never swept, so the network-level
    invariants of the base hold for every point; the result equals
    ``Network.from_dict`` of the modified ``to_dict()``.
    """

    def __init__(self, network: Network, axes: Sequence[Axis], options: Mapping[str, Any],
                 check_option) -> None:
        self.base = network
        self.params = [p for axis in axes for p in axis.params]
        self.options = dict(options)
        self._check_option = check_option
        self._dicts = {"connections": [c.to_dict() for c in network.connections],
                       "populations": [p.to_dict(allow_callables=True)
                                       for p in network.populations]}
        self._parsed: dict[tuple, Any] = {}

    def build(self, values: Mapping[str, Any]) -> sup.PointSpec:
        """The point's network and options; ValueError/TypeError if it is invalid."""
        by_unit: dict[tuple, list[tuple[tuple, Any]]] = {}
        for param in self.params:
            by_unit.setdefault(param.unit, []).append((param.address, values[param.path]))
        options = dict(self.options)
        connections = list(self.base.connections)
        populations = list(self.base.populations)
        fields: dict[tuple[str, int], dict[str, Any]] = {}
        for unit, assignments in by_unit.items():
            parsed = self._parse(unit, tuple(assignments))
            if unit[0] == "option":
                options[unit[1]] = parsed
                continue
            kind, index, head = unit
            target = fields.setdefault((kind, index), {})
            if head is not None:
                target[head] = getattr(parsed, head)
            elif kind == "connections":
                target["probability"] = parsed.probability
            else:
                target.update({f: getattr(parsed, f) for f in _POPULATION_SCALARS})
        for (kind, index), changes in fields.items():
            items = connections if kind == "connections" else populations
            items[index] = dataclasses.replace(items[index], **changes)
        network = copy.copy(self.base)
        network.connections = connections
        network.populations = populations
        return sup.PointSpec(network, options["Vrest"], options["t_X"])

    def _parse(self, unit: tuple, assignments: tuple) -> Any:
        key = (unit, assignments)
        if key not in self._parsed:
            try:
                self._parsed[key] = self._parse_unit(unit, assignments)
            except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
                text = ", ".join(f"{self._path(unit, a)}={v!r}" for a, v in assignments)
                cls = type(err) if isinstance(err, (ValueError, TypeError)) else ValueError
                raise cls(f"sweep point with {text} is invalid: {err}") from None
        return self._parsed[key]

    def _path(self, unit: tuple, address: tuple) -> str:
        return next(p.path for p in self.params if p.unit == unit and p.address == address)

    def _parse_unit(self, unit: tuple, assignments: tuple) -> Any:
        if unit[0] == "option":
            return self._check_option(unit[1], assignments[0][1])
        kind, index, head = unit
        data = copy.deepcopy(self._dicts[kind][index])
        for address, value in assignments:
            node = data
            for token in address[:-1]:
                node = node[token]
            node[address[-1]] = value
        if kind == "connections":
            conn = Connection.parse(data, f"connections[{index}]")
            if head == "multapses":
                conn.mean_multapses()
            return conn
        return Population.parse(data, f"populations[{index}]")


# --------------------------------------------------------------------------------------
# the result's labels
# --------------------------------------------------------------------------------------
def sweep_template(prep: Mapping[str, Any], axes: Sequence[Axis], grid_hash: str,
                   data: Any = None) -> xr.DataArray:
    """The sweep's DataArray: sweep coords first, then the kernels' coords and attrs.

    ``data`` defaults to an unwritten (lazy) dask array of NaN.
    """
    shape = tuple(a.size for a in axes) + tuple(prep["shape"])
    if data is None:
        import dask.array as dsa

        data = dsa.full(shape, np.nan, chunks=(1,) * len(axes) + tuple(prep["shape"]))
    coords: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for axis in axes:
        if axis.zipped:
            coords[axis.dim] = (axis.dim, np.arange(axis.size),
                                {"long_name": "index of the zipped sweep point"})
            for p in axis.params:
                coords[p.name] = (axis.dim, np.asarray(p.values), {"path": p.path})
            paths[axis.dim] = [p.path for p in axis.params]
        else:
            p = axis.params[0]
            coords[axis.dim] = (axis.dim, np.asarray(p.values), {"path": p.path})
            paths[axis.dim] = p.path
    coords.update(prep["coords"])
    attrs = dict(prep["attrs"])
    attrs["content_hash"] = grid_hash
    attrs["sweep_paths"] = json.dumps(paths)
    return xr.DataArray(data, dims=(*[a.dim for a in axes], *CORE_DIMS), coords=coords,
                        name=KERNEL_NAME, attrs=attrs)


def _grid_hash(prep: Mapping[str, Any], axes: Sequence[Axis]) -> str:
    grid = [{"dim": a.dim, "params": [{"path": p.path, "name": p.name, "values": p.values}
                                      for p in a.params]} for a in axes]
    return kern.content_hash({"base": prep["inputs"], "grid": grid})


# --------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------
class Runner:
    """Runs tasks in worker processes (dask.distributed) or, with ``"sync"``, here.

    Parameters
    ----------
    client : None, "sync", str or distributed.Client
        ``None``: a local cluster of one single-threaded worker process per core,
        started on first use and closed by :meth:`close`; work estimated to take
        less than :data:`INLINE_SECONDS` while no cluster runs yet is done in this
        process instead (starting the cluster and importing NEURON in its workers
        costs seconds).  A str is the address of a running scheduler.  ``"sync"``
        runs every task in this process, one by one.
    """

    def __init__(self, client: Any = None) -> None:
        if client is not None and not isinstance(client, str):
            from dask.distributed import Client

            if not isinstance(client, Client):
                raise TypeError(f"client must be None, 'sync', a scheduler address or a "
                                f"dask.distributed.Client, got {type(client).__name__}")
        self._given = client
        self._client = None
        self._owned: list = []

    @property
    def sync(self) -> bool:
        return self._given == "sync"

    def client(self):
        """The distributed client (starting the local cluster if needed)."""
        if self._client is None:
            from dask.distributed import Client, LocalCluster

            if self._given is None:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                    else (os.cpu_count() or 1)
                cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(cluster)
                self._owned = [self._client, cluster]
            elif isinstance(self._given, str):
                self._client = Client(self._given)
                self._owned = [self._client]
            else:
                self._client = self._given
        return self._client

    def _inline(self, seconds: float) -> bool:
        return self.sync or (self._given is None and self._client is None
                             and seconds < INLINE_SECONDS)

    def parallelism(self, seconds: float = math.inf) -> int:
        """Tasks run at once for work of ``seconds``: 1 here, else the worker threads."""
        if self._inline(seconds):
            return 1
        return max(1, sum(self.client().nthreads().values()))

    def imap_unordered(self, fn, arguments: Sequence[tuple],
                       seconds: float = math.inf) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*arguments[i]))`` as tasks finish (any order).

        ``seconds`` estimates the total work (in one process).
        """
        if self._inline(seconds):
            for i, args in enumerate(arguments):
                yield i, fn(*args)
            return
        from dask.distributed import as_completed

        client = self.client()
        futures = [client.submit(fn, *args, pure=False) for args in arguments]
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                yield position[future.key], result
        finally:
            client.cancel(futures)

    def close(self) -> None:
        for obj in self._owned:
            obj.close()
        self._owned = []
        self._client = None


def simulate_points(networks: Sequence[Network], probes: Any,
                    options: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Worker task: full simulations (:func:`compute_kernels`) of a few points, stacked."""
    with sup.NEURON_LOCK:
        return np.stack([kern.compute_kernels(network, probes, **opts).values
                         for network, opts in zip(networks, options)])


def _progress(total: int, progress: bool | None, desc: str):
    from tqdm import tqdm

    show = total > 10 if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not show, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------
def sweep(
    network: Network,
    grid: Mapping[str, Any],
    probes: Any,
    *,
    zipped: Sequence[Sequence[str]] | None = None,
    names: Mapping[str, str] | None = None,
    dt: float = kern.DEFAULT_DT,
    tau: float = kern.DEFAULT_TAU,
    t_X: float = kern.DEFAULT_T_X,
    Vrest: Any = -65.0,
    g_eff: bool = True,
    fir: bool = False,
    n_positions: int = 2000,
    seed: int = 1234,
    store: str | os.PathLike | None = None,
    client: Any = None,
    method: str = "auto",
    progress: bool | None = None,
) -> xr.DataArray:
    """Kernels of every point of a parameter grid, stacked along leading sweep dims.

    Parameters
    ----------
    network : Network
        The base specification.
    grid : dict
        Parameter path -> list of values.  Paths address :meth:`Network.to_dict`
        with populations and connections by name, e.g.
        ``connections[E->E].synapse.weight`` (µS), ``populations[E].rate``
        (spikes/s), ``connections[I->E].delay.params.loc`` (ms),
        ``connections[E->E].placement.densities[0].params.loc`` (µm), and the
        options ``Vrest`` (mV) and ``t_X`` (ms).  The cartesian product is swept.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    zipped : list of lists of paths, optional
        Groups of grid parameters varied together instead of crossed; each group is
        one dim ``"<name1>__<name2>..."`` indexed 0..n-1 with each parameter's
        values as a coordinate along it.
    names : dict, optional
        Path -> dim name, replacing the readable default (``weight_E_E``,
        ``rate_E``, ``delay_loc_I_E``, ``placement_loc_E_E``, ``Vrest``...).
    dt, tau, t_X, Vrest, g_eff, fir, n_positions, seed
        Computation options of :func:`xkernels.compute_kernels` (the base values of
        swept options).
    store : str or path, optional
        Zarr sweep store.  Each finished point is written at once; an existing
        store of the same sweep is resumed (only missing points are computed).  A
        store of the same sweep with fewer values along some dims is grown: new
        values must be appended after the stored ones (same order), and only the
        new points are computed.  A store of a different sweep raises ValueError
        and is left untouched.
    client : None, "sync", str or dask.distributed.Client
        Where to compute: ``None`` starts a local cluster of one worker process
        per core; a Client or scheduler address uses that cluster; ``"sync"``
        computes in this process (for debugging).
    method : {"auto", "superposition", "simulate"}
        ``"simulate"`` runs :func:`compute_kernels` for every point.
        ``"superposition"`` builds points from per-segment unit responses computed
        once per (Y, membrane state); valid only for linear (passive) membranes.
        ``"auto"`` picks the superposition where it is valid and cheaper.
    progress : bool or None
        Show a progress bar (default: when more than 10 tasks run).

    Returns
    -------
    xarray.DataArray
        Dims ``(<sweep dims>..., X, Y, probe_channel, tau)``; sweep coordinates carry
        the values (``path`` in their attrs), attrs the base specification,
        ``sweep_paths`` (dim -> path, JSON) and a content hash of base and grid.
        In memory, or lazily opened from ``store``.

    Raises
    ------
    ValueError, TypeError
        Unknown parameter paths (the message lists the valid ones), empty or
        non-finite value lists, values making any point's specification invalid, or
        a store holding another sweep -- all before anything is simulated or written.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    runner = Runner(client)
    options = {"dt": dt, "tau": tau, "t_X": t_X, "Vrest": Vrest, "g_eff": g_eff, "fir": fir,
               "n_positions": n_positions, "seed": seed}
    prep = kern.prepare_kernels(network, probes, **options)
    dt, tau = prep["attrs"]["dt"], prep["attrs"]["tau_max"]
    axes = parse_grid(network, grid, zipped=zipped, names=names)

    def check_option(name: str, value: Any) -> Any:
        if name == "t_X":
            return kern.check_options(dt, tau, value, g_eff, fir, network.conductance_based)[2]
        return kern._number(name, value)

    builder = PointBuilder(network, axes, {"Vrest": Vrest, "t_X": t_X}, check_option)
    indices, specs, labels = [], [], []
    for index, values in grid_points(axes):
        spec = builder.build(values)
        try:
            kern.check_network_inputs(spec.network, g_eff)
        except ValueError as err:
            raise ValueError(f"sweep point {values} is invalid: {err}") from None
        indices.append(index)
        specs.append(spec)
        labels.append(values)
    template = sweep_template(prep, axes, _grid_hash(prep, axes))
    path = None if store is None else Path(store)
    done = np.zeros(len(specs), dtype=bool)
    if path is not None and path.exists():
        done = _check_store(path, template).reshape(-1)
    todo = [k for k in range(len(specs)) if not done[k]]
    values_out = None if path is not None else np.empty(template.shape)
    if not todo:
        logger.info("sweep: all %d points are already in the store", len(specs))
    try:
        if todo:
            _compute(runner, prep, options, axes, template, indices, specs, labels, todo,
                     path, values_out, method, progress)
    finally:
        runner.close()
    if path is not None:
        from xkernels.store.kernel_store import open_kernels

        return open_kernels(path)
    return template.copy(data=values_out)


def _check_store(path: Path, template: xr.DataArray) -> np.ndarray:
    """Check that an existing store holds this sweep, or grow it to this sweep (new
    values appended along some dims); return its done mask."""
    from xkernels.store.kernel_store import completed_points, extend_sweep_store

    try:
        added = extend_sweep_store(path, template)
    except ValueError as err:
        raise ValueError(f"store {str(path)!r} holds a different sweep (other base "
                         f"specification, options or grid); nothing was written. {err}") from None
    if added:
        logger.info("sweep: store grown by %s new values", added)
    return np.asarray(completed_points(path), dtype=bool)


def _compute(runner: Runner, prep, options, axes, template, indices, specs, labels, todo,
             path, values_out, method, progress) -> None:
    todo_specs = [specs[k] for k in todo]
    geometries = sup.collect_geometries(runner, todo_specs, prep["Y"], options["dt"])
    plans = sup.plan_points(todo_specs, geometries, prep, options,  # validates every point
                            [labels[k] for k in todo])
    chosen = sup.choose_method(method, plans, todo_specs, geometries, prep)
    logger.info("sweep: computing %d of %d points by %s", len(todo), len(specs), chosen)
    if path is not None:
        from xkernels.store.kernel_store import create_sweep_store

        create_sweep_store(path, template, exist_ok=True)
    with _progress(len(todo), progress, f"sweep ({chosen})") as bar:
        for batch, values in _results(runner, chosen, todo_specs, plans, prep, options,
                                      progress):
            if path is not None:
                _store_batch(path, template, axes, [indices[todo[j]] for j in batch], values)
            else:
                for j, point_values in zip(batch, values):
                    values_out[indices[todo[j]]] = point_values
            bar.update(len(batch))


def orthogonal_blocks(points: Sequence[tuple[int, ...]]) -> list[tuple[list[int], ...]]:
    """Split distinct grid positions into orthogonal blocks (one index list per dim).

    Every position is in exactly one block and every combination of a block's lists
    is a position, so each block is one ``isel``/zarr orthogonal selection.  Runs of
    consecutive points in C order give few blocks (whole rows and planes merge).
    """
    if not points:
        return []
    if len(points[0]) == 1:
        return [([p[0] for p in points],)]
    rests: dict[int, list[tuple[int, ...]]] = {}
    for p in points:
        rests.setdefault(p[0], []).append(p[1:])
    firsts_of: dict[tuple, list[int]] = {}
    for first, rest in rests.items():
        key = tuple(tuple(tuple(lst) for lst in block) for block in orthogonal_blocks(rest))
        firsts_of.setdefault(key, []).append(first)
    return [(firsts, *[list(lst) for lst in block])
            for key, firsts in firsts_of.items() for block in key]


def _store_batch(path: Path, template: xr.DataArray, axes: Sequence[Axis],
                 positions: Sequence[tuple[int, ...]], values: np.ndarray) -> None:
    """Write a batch of finished points (``values[n]`` at ``positions[n]``) in blocks."""
    from xkernels.store.kernel_store import write_points

    row = {p: n for n, p in enumerate(positions)}
    for block in orthogonal_blocks(list(positions)):
        rows = [row[p] for p in itertools.product(*block)]
        data = values[rows].reshape(tuple(len(b) for b in block) + values.shape[1:])
        selection = dict(zip((a.dim for a in axes), block))
        write_points(path, template.isel(selection).copy(data=data), index=selection)


def _results(runner: Runner, chosen: str, specs, plans, prep, options, progress):
    """Batches ``(point numbers, values)`` from the chosen method."""
    if chosen == "superposition":
        yield from sup.run_superposition(runner, specs, plans, prep, options,
                                         progress=progress)
        return
    per_point = sum(2 * SECONDS_PER_CELL + len(item["plan"]["inputs"]) * SECONDS_PER_SIMULATION
                    for item in plans[0].values()) if plans else 0.0
    seconds = len(specs) * per_point
    # a few points per task when distributed: fewer round trips, still ~4 tasks per worker
    size = max(1, min(MAX_POINTS_PER_TASK,
                      math.ceil(len(specs) / (4 * runner.parallelism(seconds)))))
    chunks = [list(range(i, min(i + size, len(specs)))) for i in range(0, len(specs), size)]
    arguments = [([specs[j].network for j in chunk], prep["named"],
                  [{**options, "Vrest": specs[j].Vrest, "t_X": specs[j].t_X} for j in chunk])
                 for chunk in chunks]
    for c, values in runner.imap_unordered(simulate_points, arguments, seconds):
        yield chunks[c], values

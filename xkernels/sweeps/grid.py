"""Sweep grids: parameter paths of a network specification, their validation, and the
grid's points.

A grid maps parameter paths (``connections[E->E].synapse.weight``, parsed by
:func:`xkernels.spec.paths.split_path`) to lists of values; :func:`parse_grid` checks it
against the network and returns its :class:`Axis` list (the sweep dims, zipped groups
sharing one), :func:`grid_points` enumerates the points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xkernels.checks import close_matches
from xkernels.contract import CHANNEL_COORDS, CORE_DIMS, KERNEL_NAME
from xkernels.spec.network import Network
from xkernels.spec.paths import split_path

#: Computation options that can be swept besides the specification.
OPTION_PATHS = ("Vrest", "t_X")
# path tokens left out of readable dim names
_SILENT_TOKENS = {"params", "synapse", "cell", "biophysics", "biophysics_args"}
_RESERVED_NAMES = set(CORE_DIMS) | set(CHANNEL_COORDS) | {KERNEL_NAME, "done"}


@dataclass(frozen=True)
class Param:
    """One swept parameter.

    Attributes
    ----------
    path : str
        Canonical path, e.g. ``connections[E->E].synapse.weight``.
    kind : str
        ``"connections"``, ``"populations"`` or ``"option"``.
    name : str
        Readable name (dim or coordinate name), e.g. ``weight_E_E``.
    values : list
        The swept values.

    Examples
    --------
    Params come out of :func:`parse_grid`; here the E->E synaptic weight (µS):

    >>> import xkernels
    >>> axes = parse_grid(xkernels.Network.example(),
    ...                   {"connections[E->E].synapse.weight": [1e-4, 2e-4]})
    >>> param = axes[0].params[0]
    >>> param.name, param.kind
    ('weight_E_E', 'connections')
    >>> param.values
    [0.0001, 0.0002]
    """

    path: str
    kind: str
    name: str
    values: list


@dataclass(frozen=True)
class Axis:
    """One sweep dim: a single parameter, or a zipped group sharing the dim.

    Attributes
    ----------
    dim : str
        The dim's name.
    params : list of Param
        The parameters swept along it (more than one when zipped).

    Examples
    --------
    The E->E and I->E weights (µS) varied together along one dim, the resting
    potential (mV) along another:

    >>> import xkernels
    >>> axes = parse_grid(xkernels.Network.example(),
    ...                   {"connections[E->E].synapse.weight": [1e-4, 2e-4],
    ...                    "connections[I->E].synapse.weight": [1e-4, 3e-4],
    ...                    "Vrest": [-65.0, -70.0, -75.0]},
    ...                   zipped=[["connections[E->E].synapse.weight",
    ...                            "connections[I->E].synapse.weight"]])
    >>> [(axis.dim, axis.size) for axis in axes]
    [('weight_E_E__weight_I_E', 2), ('Vrest', 3)]
    >>> [p.name for p in axes[0].params]
    ['weight_E_E', 'weight_I_E']
    """

    dim: str
    params: list[Param]

    @property
    def size(self) -> int:
        """Number of values along the dim.

        Examples
        --------
        >>> import xkernels
        >>> axes = parse_grid(xkernels.Network.example(), {"Vrest": [-65.0, -70.0, -75.0]})
        >>> axes[0].size
        3
        """
        return len(self.params[0].values)

    @property
    def zipped(self) -> bool:
        """Whether several parameters share the dim.

        Examples
        --------
        >>> import xkernels
        >>> grid = {"connections[E->E].synapse.weight": [1e-4, 2e-4],
        ...         "connections[E->I].synapse.weight": [1e-4, 2e-4]}
        >>> [a.zipped for a in parse_grid(xkernels.Network.example(), grid)]
        [False, False]
        >>> [a.zipped for a in parse_grid(xkernels.Network.example(), grid,
        ...                               zipped=[list(grid)])]
        [True]
        """
        return len(self.params) > 1


def unknown_path_message(path: str, valid: Sequence[str], n: int = 5) -> str:
    """The error for an unknown grid path: the closest few valid paths, not all of them.

    Parameters
    ----------
    path : str
        The path given.
    valid : sequence of str
        Every valid path (:func:`parameter_paths`).
    n : int
        How many close paths to list.

    Returns
    -------
    str
    """
    close = close_matches(path, valid, n=n, cutoff=0.5)
    if not close:  # nothing similar: the paths of the same kind (connections, ...)
        head = path.split("[")[0].split(".")[0]
        close = sorted(p for p in valid if p.startswith(head))[:n] or sorted(valid)[:n]
        lead = "valid paths include"
    else:
        lead = "did you mean"
    listing = "\n  ".join(close)
    return (f"grid: unknown parameter path {path!r}; {lead}:\n  {listing}\n({len(valid)} "
            "valid paths in all: xkernels.sweeps.parameter_paths(network) lists them)")


def parameter_paths(network: Network) -> dict[tuple[str, ...], tuple[str, str, str]]:
    """Every sweepable parameter of ``network``.

    Parameters
    ----------
    network : Network
        The base specification.

    Returns
    -------
    dict
        Path tokens -> (canonical path, kind, readable name).  Leaves of
        :meth:`Network.to_dict` that are numbers, strings or None (except names and
        pre/post), the rotation angles of every population, and the options ``Vrest``
        and ``t_X``.  The readable name (``weight_E_E``) leaves out structural tokens
        (``synapse``, ``params``...) and the index into one-element lists.

    Examples
    --------
    >>> import xkernels
    >>> paths = parameter_paths(xkernels.Network.example())
    >>> paths[("connections", "E->E", "synapse", "weight")]
    ('connections[E->E].synapse.weight', 'connections', 'weight_E_E')
    """
    out: dict[tuple[str, ...], tuple[str, str, str]] = {}

    def walk(value: Any, tokens: tuple, canon: str, kind: str, parts: list, suffix: str,
             part: str | None) -> None:
        parts = parts if part is None else [*parts, part]
        if isinstance(value, Mapping):
            for key, child in value.items():
                one = isinstance(child, list) and len(child) == 1 and isinstance(child[0], Mapping)
                walk(child, (*tokens, str(key)), f"{canon}.{key}", kind, parts, suffix,
                     None if key in _SILENT_TOKENS or one else str(key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*tokens, str(i)), f"{canon}[{i}]", kind, parts, suffix,
                     str(i) if len(value) > 1 else None)
        elif value is None or (isinstance(value, (int, float, str))
                               and not isinstance(value, bool)):
            out[tokens] = (canon, kind, "_".join([*parts, suffix]))

    spec = network.to_dict()
    for pop in spec["populations"]:
        name = pop["name"]
        pop["rotation"] = {"x": 0.0, "y": 0.0, "z": 0.0, **pop["rotation"]}
        walk({k: v for k, v in pop.items() if k != "name"}, ("populations", name),
             f"populations[{name}]", "populations", [], _suffix(name), None)
    for conn in spec["connections"]:
        key = f"{conn['pre']}->{conn['post']}"
        walk({k: v for k, v in conn.items() if k not in ("pre", "post")}, ("connections", key),
             f"connections[{key}]", "connections", [], _suffix(key), None)
    for option in OPTION_PATHS:
        out[(option,)] = (option, "option", option)
    return out


def _suffix(owner: str) -> str:
    """``E_E`` for the owner ``E->E`` of a parameter: its name as identifier characters."""
    return re.sub(r"\W+", "_", owner.replace("->", "_")).strip("_")


def _check_values(path: str, values: Any) -> list:
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"grid[{path!r}] must be a non-empty list of values, got {values!r}")
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    if not values:
        raise ValueError(f"grid[{path!r}] must be a non-empty list of values, got []")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
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

    Returns
    -------
    list of Axis
        One per sweep dim, in grid order.

    Raises
    ------
    ValueError, TypeError
        Unknown paths (listing the valid ones), empty or non-finite value lists,
        repeated values, bad zip groups or name clashes.

    Examples
    --------
    >>> import xkernels
    >>> axes = parse_grid(xkernels.Network.example(),
    ...                   {"connections[E->E].synapse.weight": [1e-4, 2e-4]})
    >>> axes[0].dim, axes[0].size, axes[0].zipped
    ('weight_E_E', 2, False)
    """
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError(f"grid must be a non-empty dict of parameter path -> values, "
                        f"got {grid!r}")
    valid = parameter_paths(network)
    names = dict(names or {})
    params: dict[str, Param] = {}
    canonical_of: dict[tuple[str, ...], str] = {}
    for user_path, values in grid.items():
        if not isinstance(user_path, str):
            raise TypeError(f"grid keys must be parameter paths (str), got {user_path!r}")
        hit = valid.get(split_path(user_path))
        if hit is None:
            raise ValueError(unknown_path_message(user_path, [v[0] for v in valid.values()]))
        canon, kind, readable = hit
        if canon in params:
            raise ValueError(f"grid: parameter {canon!r} is given twice")
        name = names.pop(user_path, names.pop(canon, None))
        if name is not None and (not isinstance(name, str) or not name.isidentifier()):
            raise ValueError(f"names[{user_path!r}] must be a Python identifier, got {name!r}")
        params[canon] = Param(canon, kind, name or readable, _check_values(user_path, values))
        canonical_of[split_path(canon)] = canon
    if names:
        raise ValueError(f"names has paths not in the grid: {sorted(names)}")
    groups = _zip_groups(zipped, canonical_of, params)
    axes, seen = [], set()
    for canon, param in params.items():
        if canon in seen:
            continue
        members = [params[c] for c in groups.get(canon, [canon])]
        seen.update(m.path for m in members)
        if len(members) == 1 and len(set(param.values)) != len(param.values):
            raise ValueError(f"grid[{canon!r}] values must be unique (one sweep point "
                             f"each), got {param.values}")
        axes.append(Axis("__".join(m.name for m in members), members))
    taken = [p.name for p in params.values()] + [a.dim for a in axes if a.zipped]
    clash = sorted({n for n in taken if taken.count(n) > 1} | (set(taken) & _RESERVED_NAMES))
    if clash:
        raise ValueError(f"sweep parameter and dim names {clash} clash (with each other or "
                         f"with {sorted(_RESERVED_NAMES)}); choose names with "
                         "names={path: name}")
    return axes


def _zip_groups(zipped: Any, canonical_of: dict[tuple[str, ...], str],
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
            canon = canonical_of.get(split_path(str(path)))
            if canon is None:
                raise ValueError(f"zipped[{g}]: {path!r} is not a key of grid "
                                 f"({sorted(params)})")
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
    """Every point of the grid, in C order.

    Parameters
    ----------
    axes : sequence of Axis
        From :func:`parse_grid`.

    Yields
    ------
    tuple
        ``(index along every axis, canonical path -> value)``.

    Examples
    --------
    >>> import xkernels
    >>> axes = parse_grid(xkernels.Network.example(),
    ...                   {"connections[E->E].synapse.weight": [1e-4, 2e-4]})
    >>> [index for index, values in grid_points(axes)]
    [(0,), (1,)]
    """
    for index in np.ndindex(*[a.size for a in axes]):
        values = {param.path: param.values[i] for axis, i in zip(axes, index)
                  for param in axis.params}
        yield tuple(int(i) for i in index), values

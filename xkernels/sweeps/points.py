"""Sweep points: the specification of every point of a grid, and the sweep's labels.

:class:`PointBuilder` turns the swept values of a point into its :class:`PointSpec`
(network and options; the network from :meth:`Network.with_values`, validated as
:meth:`Network.from_dict` validates); :func:`sweep_template` labels the result (sweep
coords first, then the kernels' coords and attrs) and :func:`sweep_hash` identifies a
sweep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import CORE_DIMS, KERNEL_NAME
from xkernels.engine.plans import KernelPlan
from xkernels.provenance import content_hash
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.sweeps.grid import Axis


@dataclass(frozen=True, eq=False)
class PointSpec:
    """The specification of one sweep point: its network and options.

    Attributes
    ----------
    network : Network
        The point's network.
    options : KernelOptions
        Its options (the base options with the point's swept ``Vrest`` (mV) and
        ``t_X`` (ms)).
    values : Mapping[str, Any]
        The point's swept values (canonical path -> value), naming it in errors.

    Examples
    --------
    A point's specification, as :meth:`PointBuilder.build` returns it:

    >>> import xkernels
    >>> point = PointSpec(xkernels.Network.example(), xkernels.KernelOptions(Vrest=-70.0))
    >>> point.network.names, point.options.Vrest
    (['E', 'I'], -70.0)
    """

    network: Network
    options: KernelOptions
    values: Mapping[str, Any] = field(default_factory=dict)


class PointBuilder:
    """Build the specification of every sweep point with :meth:`Network.with_values`.

    A point differs from the base network only in its swept values: its network is
    ``network.with_values(...)`` of them, so it is validated exactly as
    :meth:`Network.from_dict` validates (network-level rules included), once per
    distinct combination of swept specification values.  Its options are
    ``options.replace(...)`` of the swept options, validated as KernelOptions, and
    resolved against the point's network (:meth:`KernelOptions.resolve`: checked, and
    without ``"auto"`` when the base options are resolved, as :func:`xkernels.sweep`
    passes them).

    Parameters
    ----------
    network : Network
        The base specification.
    axes : sequence of Axis
        The grid's axes (:func:`xkernels.sweeps.grid.parse_grid`).
    options : KernelOptions
        The base options (the swept ``Vrest`` and ``t_X`` replace theirs).

    Examples
    --------
    The E->E weight (µS) swept against the resting potential (mV), 2 x 2 points:

    >>> import xkernels
    >>> from xkernels.sweeps import grid_points, parse_grid
    >>> network = xkernels.Network.example()
    >>> axes = parse_grid(network, {"connections[E->E].synapse.weight": [6e-5, 1.2e-4],
    ...                             "Vrest": [-65.0, -70.0]})
    >>> builder = PointBuilder(network, axes, xkernels.KernelOptions())
    >>> for index, values in grid_points(axes):
    ...     point = builder.build(values)
    ...     print(index, point.network.connection("E", "E").synapse.weight,
    ...           point.options.Vrest)
    (0, 0) 6e-05 -65.0
    (0, 1) 6e-05 -70.0
    (1, 0) 0.00012 -65.0
    (1, 1) 0.00012 -70.0
    """

    def __init__(self, network: Network, axes: Sequence[Axis],
                 options: KernelOptions) -> None:
        self.base = network
        self.params = [p for axis in axes for p in axis.params]
        self.options = options
        self._networks: dict[tuple, Network] = {}

    def build(self, values: Mapping[str, Any]) -> PointSpec:
        """The point's network and options.

        Parameters
        ----------
        values : Mapping[str, Any]
            Canonical parameter path -> value (from
            :func:`xkernels.sweeps.grid.grid_points`).

        Returns
        -------
        PointSpec
            The point's network and options.

        Raises
        ------
        ValueError, TypeError
            The point's specification is invalid: the swept values, then the error of
            :meth:`Network.from_dict` or :class:`KernelOptions`.

        Examples
        --------
        >>> import xkernels
        >>> from xkernels.sweeps import parse_grid
        >>> network = xkernels.Network.example()
        >>> axes = parse_grid(network, {"connections[E->E].synapse.tau1": [0.2, 0.5, 5.0]})
        >>> builder = PointBuilder(network, axes, xkernels.KernelOptions())
        >>> point = builder.build({"connections[E->E].synapse.tau1": 0.5})
        >>> point.network.connection("E", "E").synapse
        Synapse(weight=0.00012, tau1=0.5, tau2=1.8, e=0.0, syntype='Exp2Syn')
        >>> builder.build({"connections[E->E].synapse.tau1": 0.2}).network == network
        True

        An invalid point is refused, naming the swept value (rise time above decay
        time here):

        >>> builder.build({"connections[E->E].synapse.tau1": 5.0})
        Traceback (most recent call last):
        ...
        ValueError: sweep point with connections[E->E].synapse.tau1=5.0 is invalid:
        connections['E->E'].synapse.tau1 must be < tau2 = 1.8, got 5.0
        """
        changes = tuple((p.path, values[p.path]) for p in self.params if p.kind != "option")
        swept = {p.path: values[p.path] for p in self.params if p.kind == "option"}
        if changes not in self._networks:
            self._networks[changes] = _checked(changes, self.base.with_values, dict(changes))
        network = self._networks[changes]
        options = _checked(tuple(swept.items()), self.options.replace, **swept)
        options = _checked(tuple(values.items()), options.resolve, network)
        return PointSpec(network, options, dict(values))


def _checked(assignments: tuple, fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fun(*args, **kwargs)``; an error names the point's values first."""
    try:
        return fun(*args, **kwargs)
    except (ValueError, TypeError, FileNotFoundError) as err:
        text = ", ".join(f"{path}={value!r}" for path, value in assignments)
        raise type(err)(f"sweep point with {text} is invalid: {err}") from None


def sweep_template(plan: KernelPlan, axes: Sequence[Axis], grid_hash: str,
                   data: Any = None) -> xr.DataArray:
    """The sweep's DataArray: sweep coords first, then the kernels' coords and attrs.

    Parameters
    ----------
    plan : KernelPlan
        The base computation (kernel shape, coords and attrs).
    axes : sequence of Axis
        The sweep dims.
    grid_hash : str
        Content hash of the sweep (:func:`sweep_hash`), stored as ``content_hash``.
    data : array_like, optional
        Values of shape ``(<axis sizes>..., *plan.shape)``; defaults to an unwritten
        (lazy) dask array of NaN.

    Returns
    -------
    xarray.DataArray
        Dims ``(<sweep dims>..., X, Y, probe_channel, tau)``; sweep coords carry the
        parameter paths in their attrs, ``sweep_paths`` (JSON) maps dims to paths.

    Examples
    --------
    The labels of a sweep over the E->E weight (µS) of kernels of the current dipole
    moment, ±5 ms:

    >>> import xkernels
    >>> from xkernels.engine import prepare_kernels
    >>> from xkernels.sweeps import parse_grid
    >>> network = xkernels.Network.example()
    >>> plan = prepare_kernels(network, {"cdm": xkernels.CurrentDipoleMomentZ()},
    ...                        xkernels.KernelOptions(tau=5.0))
    >>> axes = parse_grid(network, {"connections[E->E].synapse.weight": [6e-5, 1.2e-4]})
    >>> T = sweep_template(plan, axes, sweep_hash(plan, axes))
    >>> dict(T.sizes)
    {'weight_E_E': 2, 'X': 2, 'Y': 2, 'probe_channel': 1, 'tau': 161}
    >>> T["weight_E_E"].attrs["path"], T.attrs["sweep_paths"]
    ('connections[E->E].synapse.weight', '{"weight_E_E": "connections[E->E].synapse.weight"}')
    >>> bool(T.isnull().all())                  # nothing computed yet
    True
    """
    shape = tuple(a.size for a in axes) + tuple(plan.shape)
    if data is None:
        import dask.array as dsa

        data = dsa.full(shape, np.nan, chunks=(1,) * len(axes) + tuple(plan.shape))
    coords: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for axis in axes:
        if axis.zipped:
            coords[axis.dim] = (axis.dim, np.arange(axis.size),
                                {"long_name": "index of the zipped sweep point"})
        for p in axis.params:  # the dim's own coordinate when not zipped
            coords[p.name] = (axis.dim, np.asarray(p.values), {"path": p.path})
        paths[axis.dim] = [p.path for p in axis.params] if axis.zipped else axis.params[0].path
    coords.update(plan.coords)
    attrs = {**plan.attrs, "content_hash": grid_hash, "sweep_paths": json.dumps(paths)}
    return xr.DataArray(data, dims=(*[a.dim for a in axes], *CORE_DIMS), coords=coords,
                        name=KERNEL_NAME, attrs=attrs)


def sweep_hash(plan: KernelPlan, axes: Sequence[Axis]) -> str:
    """Content hash of a sweep: the base computation's inputs and the grid.

    Parameters
    ----------
    plan : KernelPlan
        The base computation.
    axes : sequence of Axis
        The sweep dims (names, paths and values enter the hash).

    Returns
    -------
    str
        64 hex digits.
    """
    grid = [{"dim": a.dim, "params": [{"path": p.path, "name": p.name, "values": p.values}
                                      for p in a.params]} for a in axes]
    return content_hash({"base": plan.inputs, "grid": grid})

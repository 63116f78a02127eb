"""The full-simulation path of parameter sweeps: every point simulated by the engine.

Points are grouped into tasks of a few points each (fewer round trips to the workers,
still about four tasks per worker) and simulated in the runner's worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from xkernels.engine.kernels import prepare_kernels, simulate_values
from xkernels.runtime import (
    SECONDS_PER_CELL,
    SECONDS_PER_SIMULATION,
    Runner,
)
from xkernels.spec.network import Network
from xkernels.spec.options import KernelOptions
from xkernels.sweeps.planning import PointPlan
from xkernels.sweeps.points import PointSpec

#: Largest number of points simulated by one task.
MAX_POINTS_PER_TASK = 8


def simulate_points(networks: Sequence[Network], probes: Any,
                    options: Sequence[KernelOptions]) -> np.ndarray:
    """Worker task: full simulations of a few points, stacked.

    Parameters
    ----------
    networks : sequence of Network
        One per point.
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.
    options : sequence of KernelOptions
        One per point.

    Returns
    -------
    ndarray
        Shape ``(len(networks), X, Y, probe_channel, tau)``.
    """
    return np.stack([simulate_values(network, prepare_kernels(network, probes, opts))
                     for network, opts in zip(networks, options)])


def run_simulations(runner: Runner, specs: Sequence[PointSpec], plans: Sequence[PointPlan],
                    probes: Mapping[str, Any], options: KernelOptions
                    ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, fully simulated.

    Parameters
    ----------
    runner : Runner
        Where the points are simulated.
    specs : sequence of PointSpec
        The points (network, Vrest, t_X).
    plans : sequence of PointPlan
        Their plans (:func:`xkernels.sweeps.planning.plan_points`), for the cost
        estimate.
    probes : Mapping[str, Any]
        The probes by name.
    options : KernelOptions
        Options shared by every point (each point's ``Vrest`` and ``t_X`` replace those
        given here).

    Yields
    ------
    tuple
        ``(point numbers, kernels)`` with kernels of shape
        ``(len(points), X, Y, probe_channel, tau)``, in completion order.
    """
    per_point = sum(2 * SECONDS_PER_CELL + len(item.plan.inputs) * SECONDS_PER_SIMULATION
                    for item in plans[0].values()) if plans else 0.0
    seconds = len(specs) * per_point
    # a few points per task when distributed: fewer round trips, still ~4 tasks per worker
    size = max(1, min(MAX_POINTS_PER_TASK,
                      math.ceil(len(specs) / (4 * runner.parallelism(seconds)))))
    chunks = [list(range(i, min(i + size, len(specs)))) for i in range(0, len(specs), size)]
    arguments = [([specs[j].network for j in chunk], probes,
                  [options.replace(Vrest=specs[j].Vrest, t_X=specs[j].t_X) for j in chunk])
                 for chunk in chunks]
    for c, values in runner.imap_unordered(simulate_points, arguments, seconds):
        yield chunks[c], values

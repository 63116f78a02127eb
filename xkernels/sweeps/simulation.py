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
from xkernels.sweeps.planning import PointPlan
from xkernels.sweeps.points import PointSpec

#: Largest number of points simulated by one task.
MAX_POINTS_PER_TASK = 8


def simulate_points(specs: Sequence[PointSpec], probes: Any) -> np.ndarray:
    """Worker task: full simulations of a few points, stacked.

    Parameters
    ----------
    specs : sequence of PointSpec
        The points (network and options).
    probes : dict or list
        Forward models, as for :func:`xkernels.compute_kernels`.

    Returns
    -------
    ndarray
        Shape ``(len(specs), X, Y, probe_channel, tau)``.
    """
    return np.stack([simulate_values(spec.network,
                                     prepare_kernels(spec.network, probes, spec.options))
                     for spec in specs])


def run_simulations(runner: Runner, specs: Sequence[PointSpec], plans: Sequence[PointPlan],
                    probes: Mapping[str, Any]) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield batches ``(point numbers, kernels)`` of every point, fully simulated.

    Parameters
    ----------
    runner : Runner
        Where the points are simulated.
    specs : sequence of PointSpec
        The points (network and options).
    plans : sequence of PointPlan
        Their plans (:func:`xkernels.sweeps.planning.plan_points`), for the cost
        estimate.
    probes : Mapping[str, Any]
        The probes by name.

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
    arguments = [([specs[j] for j in chunk], probes) for chunk in chunks]
    for c, values in runner.imap_unordered(simulate_points, arguments, seconds):
        yield chunks[c], values

"""Parameter sweeps, one module per job:

* :mod:`~xkernels.sweeps.grid` -- parameter paths, grid parsing, the grid's points;
* :mod:`~xkernels.sweeps.points` -- each point's specification, the sweep's labels;
* :mod:`~xkernels.sweeps.planning` -- every point planned (validated) on its cells;
* :mod:`~xkernels.sweeps.superposition` -- the superposition fast path;
* :mod:`~xkernels.sweeps.driver` -- :func:`sweep`, its full-simulation path and
  its resumable stores;
* :mod:`~xkernels.sweeps.batch` -- :func:`kernel_batch`, batches of parameter sets.
"""

from xkernels.sweeps.batch import kernel_batch
from xkernels.sweeps.driver import sweep
from xkernels.sweeps.grid import Axis, Param, grid_points, parameter_paths, parse_grid
from xkernels.sweeps.points import PointBuilder, PointSpec, sweep_template

__all__ = ["Axis", "Param", "PointBuilder", "PointSpec", "grid_points", "kernel_batch",
           "parameter_paths", "parse_grid", "sweep", "sweep_template"]

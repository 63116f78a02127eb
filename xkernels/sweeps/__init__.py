"""Parameter sweeps: grids of parameter paths, the dask runner, the driver with its
resumable stores, and the superposition fast path."""

from xkernels.sweeps.driver import sweep

__all__ = ["sweep"]

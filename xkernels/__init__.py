"""xkernels: xarray-native spike-to-signal kernels (Hagen et al. 2022) on LFPy/NEURON."""

from __future__ import annotations

__version__ = "0.1.0"

from . import accessor as _accessor  # noqa: E402,F401  (registers the .xk accessor)
from .contract import select_probe, validate_kernels  # noqa: E402
from .convolve import convolve  # noqa: E402  (the function; the module stays importable)
from .kernels import compute_kernels  # noqa: E402
from .network import Connection, Network, Population  # noqa: E402
from .probes import CurrentDipoleMomentZ, EEGProbe, GaussCylinderPotential, MEGProbe  # noqa: E402
from .rates import rates_from_spikes, rates_from_spikes_per_second  # noqa: E402
from .store import (  # noqa: E402
    completed_points,
    create_sweep_store,
    describe,
    extend_sweep_store,
    open_kernels,
    read_attrs,
    write_kernels,
    write_point,
    write_points,
)
from .sweep import sweep  # noqa: E402

__all__ = [
    "__version__", "Connection", "CurrentDipoleMomentZ", "EEGProbe", "GaussCylinderPotential",
    "MEGProbe", "Network", "Population", "completed_points", "compute_kernels", "convolve",
    "create_sweep_store", "describe", "extend_sweep_store", "open_kernels", "rates_from_spikes",
    "rates_from_spikes_per_second", "read_attrs", "select_probe", "sweep", "validate_kernels",
    "write_kernels", "write_point", "write_points",
]

"""xkernels: xarray-native spike-to-signal kernels (Hagen et al. 2022) on LFPy/NEURON.

The package is layered; data flows one way, from specifications to signals.  The layer
table is written once, as import-linter contracts in ``pyproject.toml``
(``[tool.importlinter]``, checked by ``lint-imports`` and ``tests/test_layers.py``).
"""

from __future__ import annotations

from xkernels import accessor as _accessor  # noqa: F401  (registers the .xk accessor)
from xkernels import compat as compat  # registers LFPykernels' probe classes (probe kinds)
from xkernels.contract import check_kernels, select_probe
from xkernels.errors import error_estimate
from xkernels.hybrid import validate
from xkernels.probes import (
    CurrentDipoleMomentZ,
    EEGProbe,
    GaussCylinderPotential,
    LeadFieldProbe,
    MEGProbe,
)
from xkernels.provenance import XKERNELS_VERSION as __version__
from xkernels.signals import (
    Spikes,
    StreamingConvolver,
    convolve,
    rates_from_spikes,
    rates_from_spikes_per_second,
)
from xkernels.spec import Connection, Network, Population
from xkernels.spec.options import KernelOptions
from xkernels.store import (
    completed_points,
    compute_kernels,
    create_sweep_store,
    describe,
    extend_sweep_store,
    open_kernels,
    open_rates,
    open_signals,
    read_attrs,
    write_kernels,
    write_point,
    write_points,
    write_rates,
    write_signals,
)
from xkernels.sweeps import kernel_batch, sweep

__all__ = [
    "__version__", "Connection", "CurrentDipoleMomentZ", "EEGProbe", "GaussCylinderPotential",
    "KernelOptions", "LeadFieldProbe", "MEGProbe", "Network", "Population", "Spikes",
    "StreamingConvolver", "completed_points",
    "compute_kernels", "convolve", "kernel_batch", "create_sweep_store", "describe",
    "error_estimate",
    "extend_sweep_store",
    "open_kernels", "open_rates", "open_signals", "rates_from_spikes",
    "rates_from_spikes_per_second", "read_attrs", "select_probe", "sweep", "validate",
    "check_kernels", "write_kernels", "write_point", "write_points", "write_rates",
    "write_signals",
]

"""xkernels: xarray-native spike-to-signal kernels (Hagen et al. 2022) on LFPy/NEURON.

The package is layered; data flows one way, from specifications to signals.  The layer
table is written once, as import-linter contracts in ``pyproject.toml``
(``[tool.importlinter]``, checked by ``lint-imports`` and ``tests/test_layers.py``).

``import xkernels`` registers the ``.xk`` accessor and nothing else: the public names
and subpackages are imported on first use (``lazy_loader``, SPEC 1), so the command
line's ``--help`` and scripts that use one corner of the package do not pay for the
whole stack (LFPy, NEURON, dask, scipy.stats).  A new public name is one entry below.
"""

from __future__ import annotations

from typing import Any

import lazy_loader as lazy

from xkernels import accessor as _accessor  # noqa: F401  (registers the .xk accessor)

_SUBPACKAGES = ["accessor", "app", "checks", "compat", "contract", "engine", "errors",
                "figures", "hybrid", "io", "plot", "probes", "provenance", "runtime", "signals",
                "spec", "store", "sweeps", "units"]
_getattr, __dir__, _names = lazy.attach(
    __name__,
    submodules=_SUBPACKAGES,
    submod_attrs={
        "contract": ["check_kernels", "select_probe"],
        "errors": ["error_estimate"],
        "hybrid": ["validate"],
        "probes": ["CSDProbe", "CurrentDipoleMomentZ", "EEGProbe", "GaussCylinderPotential",
                   "LeadFieldProbe", "MEGProbe"],
        "signals": ["Spikes", "StreamingConvolver", "convolve", "rates_from_spikes",
                    "rates_from_spikes_per_second"],
        "spec": ["Connection", "Network", "Population"],
        "spec.options": ["KernelOptions"],
        "store": ["completed_points", "compute_kernels", "create_sweep_store", "describe",
                  "extend_sweep_store", "open_kernels", "open_rates", "open_signals",
                  "read_attrs", "write_kernels", "write_point", "write_points",
                  "write_rates", "write_signals"],
        "sweeps": ["kernel_batch", "sweep"],
    },
)
#: The public names (subpackages are attributes too, but not listed).
__all__ = sorted({*_names} - {*_SUBPACKAGES, "spec.options"} | {"__version__"})


def __getattr__(name: str) -> Any:
    """A public name or subpackage, imported on first access."""
    if name == "__version__":
        from xkernels.provenance import XKERNELS_VERSION

        return XKERNELS_VERSION
    return _getattr(name)

"""xkernels: xarray-native spike-to-signal kernels (Hagen et al. 2022) on LFPy/NEURON."""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers the .xk accessor)
from .contract import select_probe, validate_kernels

__version__ = "0.1.0"

__all__ = ["__version__", "select_probe", "validate_kernels"]


def _optional_exports() -> None:
    """Expose the public API of modules that may land independently."""
    import importlib

    table = {
        "network": ["Network", "Population", "Connection"],
        "kernels": ["compute_kernels"],
        "probes": ["GaussCylinderPotential", "CurrentDipoleMomentZ", "EEGProbe", "MEGProbe"],
        "convolve": ["convolve"],
        "rates": ["rates_from_spikes", "rates_from_spikes_per_second"],
        "store": ["open_kernels", "describe", "write_kernels", "read_attrs",
                  "create_sweep_store", "extend_sweep_store", "write_point", "write_points",
                  "completed_points"],
        "sweep": ["sweep"],
    }
    for module_name, names in table.items():
        try:
            module = importlib.import_module(f".{module_name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{module_name}":
                raise
            continue
        for name in names:
            if hasattr(module, name):
                globals()[name] = getattr(module, name)
                __all__.append(name)


_optional_exports()

"""Network specifications: populations, connections, cells, distributions, presets.

Names are imported on first use (``lazy_loader``): ``xkernels.spec.options`` alone does
not import the network models (and scipy.stats)."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "network": ["CellSpec", "Connection", "Distribution", "Network", "Placement",
                "Population", "Synapse"],
})

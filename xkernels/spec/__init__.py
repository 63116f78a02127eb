"""Network specifications: populations, connections, cells, distributions, presets."""

from xkernels.spec.network import (
    CellSpec,
    Connection,
    Distribution,
    Network,
    Placement,
    Population,
    Synapse,
)

__all__ = ["CellSpec", "Connection", "Distribution", "Network", "Placement", "Population",
           "Synapse"]

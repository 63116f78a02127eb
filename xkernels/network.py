"""Former location of the network specification; kept so that old imports keep working.
New code imports from :mod:`xkernels.spec`."""

from xkernels.spec.network import (  # noqa: F401
    CellSpec,
    Connection,
    Distribution,
    Network,
    Placement,
    Population,
    Synapse,
)

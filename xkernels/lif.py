"""Former location of the NEST LIF model; kept so that old imports keep working.
New code imports from :mod:`xkernels.app.lif`."""

from xkernels.app.lif import (  # noqa: F401
    LIFParams,
    LIFSpikes,
    population_rates,
    simulate_lif,
    summary,
)

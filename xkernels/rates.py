"""Former location of the spike binning; kept so that old imports keep working.
New code imports from :mod:`xkernels.signals`."""

from xkernels.signals.rates import rates_from_spikes, rates_from_spikes_per_second  # noqa: F401

"""Signals from kernels and rates: spike binning and the lazy overlap-save convolution."""

from xkernels.signals.convolution import convolve
from xkernels.signals.rates import rates_from_spikes, rates_from_spikes_per_second

__all__ = ["convolve", "rates_from_spikes", "rates_from_spikes_per_second"]

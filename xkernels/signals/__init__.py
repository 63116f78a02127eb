"""Signals from kernels and rates: spike trains, spike binning and the lazy overlap-save
convolution."""

from xkernels.signals.convolution import convolve
from xkernels.signals.rates import rates_from_spikes, rates_from_spikes_per_second
from xkernels.signals.spikes import Spikes

__all__ = ["Spikes", "convolve", "rates_from_spikes", "rates_from_spikes_per_second"]

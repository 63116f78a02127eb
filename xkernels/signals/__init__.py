"""Signals from kernels and rates: spike trains, spike binning and the lazy overlap-save
convolution, and its streaming form for running simulations."""

from xkernels.signals.convolution import convolve
from xkernels.signals.rates import rates_from_spikes, rates_from_spikes_per_second
from xkernels.signals.spikes import Spikes
from xkernels.signals.streaming import StreamingConvolver

__all__ = ["Spikes", "StreamingConvolver", "convolve", "rates_from_spikes",
           "rates_from_spikes_per_second"]

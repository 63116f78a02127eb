"""Signals from kernels and rates: spike trains, spike binning and the lazy overlap-save
convolution, and its streaming form for running simulations.  Names are imported on
first use (``lazy_loader``)."""

import lazy_loader as lazy

#: ``mode`` values of :func:`convolve` (here, not in its module: the command line's
#: ``--help`` lists them without importing dask).
MODES = ("same", "valid")

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "convolution": ["convolve"],
    "rates": ["rates_from_spikes", "rates_from_spikes_per_second"],
    "spikes": ["Spikes"],
    "streaming": ["StreamingConvolver"],
})

"""The hybrid scheme (Hagen et al. 2016) on dask: every postsynaptic cell placed, wired
and simulated with the network's real spikes — the ground truth the kernels
approximate — and :func:`validate`, the kernel prediction beside it.  Names are
imported on first use (``lazy_loader``)."""

import lazy_loader as lazy

#: ``ext`` modes of :func:`simulate` and :func:`validate`: how the network's extrinsic
#: input (``n_ext`` synapses at ``nu_ext``) enters the ground truth's cells (here, not
#: in its module: the command line's ``--help`` lists them without importing the stack).
EXT_MODES = ("auto", "mean", "leak", "poisson", "none")

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "ground_truth": ["open_ground_truth", "simulate"],
    "plot": ["plot_validation"],
    "poisson": ["correlated_poisson"],
    "validation": ["scores", "validate"],
})

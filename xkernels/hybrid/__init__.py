"""The hybrid scheme (Hagen et al. 2016) on dask: every postsynaptic cell placed, wired
and simulated with the network's real spikes — the ground truth the kernels
approximate — and :func:`validate`, the kernel prediction beside it."""

from xkernels.hybrid.ground_truth import open_ground_truth, simulate
from xkernels.hybrid.plot import plot_validation
from xkernels.hybrid.poisson import correlated_poisson
from xkernels.hybrid.validation import scores, validate

__all__ = ["correlated_poisson", "open_ground_truth", "plot_validation", "scores", "simulate",
           "validate"]

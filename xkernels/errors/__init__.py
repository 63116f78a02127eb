"""Error bars of kernel predictions (Ness, Tetzlaff, Einevoll & Dahmen 2025): how far the
kernel signal is from the network's, from the cell-to-cell variability of single-cell
kernels and the spike trains' covariances, without simulating the network."""

from xkernels.errors.estimate import error_estimate

__all__ = ["error_estimate"]

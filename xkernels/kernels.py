"""Former location of :func:`compute_kernels`; kept so that old imports keep working.
New code uses :func:`xkernels.compute_kernels`."""

from xkernels.store.cache import compute_kernels  # noqa: F401

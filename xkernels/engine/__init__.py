"""The kernel engine: linearisation formulas, cells and mechanisms (the only code that
touches NEURON), and the kernel computation."""

from xkernels.engine.kernels import compute_kernels, prepare_kernels, simulate_kernels

__all__ = ["compute_kernels", "prepare_kernels", "simulate_kernels"]

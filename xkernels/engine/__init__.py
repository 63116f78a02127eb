"""The kernel engine: linearisation formulas, cells and mechanisms (the only code that
touches NEURON), the options and typed plans of a computation, and the computation."""

from xkernels.engine.kernels import (
    compute_kernels,
    prepare_kernels,
    simulate_kernels,
    simulate_values,
)
from xkernels.engine.plans import InputPlan, KernelPlan, PopulationPlan, plan_population

__all__ = ["InputPlan", "KernelPlan", "PopulationPlan", "compute_kernels", "plan_population",
           "prepare_kernels", "simulate_kernels", "simulate_values"]

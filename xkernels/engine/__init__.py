"""The kernel engine: linearisation formulas, cells and mechanisms (the only code that
touches NEURON), the typed plans of a computation, and the computation."""

from xkernels.engine.kernels import prepare_kernels, simulate_kernels, simulate_values
from xkernels.engine.plans import InputPlan, KernelPlan, PopulationPlan, plan_population

__all__ = ["InputPlan", "KernelPlan", "PopulationPlan", "plan_population", "prepare_kernels",
           "simulate_kernels", "simulate_values"]

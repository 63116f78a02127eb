"""Shared fixtures: paths of our cell files and the lfpykernels 0.2.0 oracle."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

CELLS = Path(__file__).resolve().parents[1] / "xkernels" / "spec" / "cells_data"
#: cells that are not xkernels' own (multi-branch, 90 and 55 segments)
OTHER_CELLS = Path(__file__).resolve().parents[1] / "benchmarks" / "cells"


def set_passive(cell, Vrest):
    """Passive leak on every section (the reference README's custom function)."""
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = 0.0003
        sec.e_pas = Vrest


def set_nonuniform_passive(cell, Vrest):
    """Passive leak whose reversal differs between soma and dendrites."""
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = 0.0003
        sec.e_pas = Vrest if "soma" in sec.name() else Vrest + 4.0


def cell_parameters(morphology: str = "BallAndSticks_E.hoc", Vrest: float = -65.0,
                    custom=set_passive, **extra) -> dict:
    """LFPy TemplateCell parameters of one of our ball-and-sticks cells."""
    params = {
        "templatefile": str(CELLS / "BallAndSticksTemplate.hoc"),
        "templatename": "BallAndSticksTemplate",
        "custom_fun": [custom],
        "custom_fun_args": [{"Vrest": Vrest}],
        "templateargs": None,
        "delete_sections": False,
        "morphology": str(CELLS / morphology),
    }
    params.update(extra)
    return params


def readme_arguments(Y: str = "E") -> dict:
    """KernelApprox arguments of the LFPykernels README example."""
    import scipy.stats as st  # here, not at import: collection stays fast

    return dict(
        X=["E", "I"], Y=Y, N_X=np.array([8192, 1024]), N_Y=8192 if Y == "E" else 1024,
        C_YX=np.array([0.05, 0.05]),
        cellParameters=cell_parameters(f"BallAndSticks_{Y}.hoc"),
        populationParameters={"radius": 150.0, "loc": 0.0, "scale": 75.0},
        multapseFunction=st.truncnorm,
        multapseParameters=[
            {"a": (1 - 2.0) / 0.6, "b": (10 - 2.0) / 0.6, "loc": 2.0, "scale": 0.6},
            {"a": (1 - 5.0) / 1.1, "b": (10 - 5.0) / 1.1, "loc": 5.0, "scale": 1.1}],
        delayFunction=st.truncnorm,
        delayParameters=[{"a": -2.2, "b": np.inf, "loc": 1.3, "scale": 0.5},
                         {"a": -1.5, "b": np.inf, "loc": 1.2, "scale": 0.6}],
        synapseParameters=[
            {"weight": 0.00012, "syntype": "Exp2Syn", "tau1": 0.2, "tau2": 1.8, "e": 0.0},
            {"weight": 0.002, "syntype": "Exp2Syn", "tau1": 0.1, "tau2": 9.0, "e": -80.0}],
        synapsePositionArguments=[
            {"section": ["apic", "dend"], "fun": [st.norm],
             "funargs": [{"loc": 50.0, "scale": 100.0}], "funweights": [1.0]},
            {"section": ["soma", "apic", "dend"], "fun": [st.norm],
             "funargs": [{"loc": -100.0, "scale": 100.0}], "funweights": [1.0]}],
        extSynapseParameters={"syntype": "Exp2Syn", "weight": 0.0002, "tau1": 0.2,
                              "tau2": 1.8, "e": 0.0},
        nu_ext=40.0, n_ext=450, nu_X={"E": 2.5, "I": 5.0},
    )


def other_cell_arguments(Y: str = "E") -> dict:
    """The README network's KernelApprox arguments on the multi-branch cells of
    ``benchmarks/cells`` (MultiBranch_E: 90 segments, MultiBranch_I: 55)."""
    kw = readme_arguments(Y)
    kw["cellParameters"] = dict(kw["cellParameters"],
                                morphology=str(OTHER_CELLS / f"MultiBranch_{Y}.hoc"),
                                templatefile=str(OTHER_CELLS / "MultiBranchTemplate.hoc"),
                                templatename="MultiBranchTemplate")
    return kw


#: the "own cell" example: a reconstructed pyramidal cell and NMODL files (M-current)
OWN_CELL = Path(__file__).resolve().parents[1] / "docs" / "examples" / "own_cell"


def m_current(cell):
    """The own-cell example's leak everywhere and M-current (``ownm``, tau up to 1 s)
    in the soma and basal dendrites."""
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.g_pas, sec.e_pas = 3e-5, -65.0
        if "soma" in sec.name() or "dend" in sec.name():
            sec.insert("ownm")
            sec.gbar_ownm, sec.ek = 5e-4, -90.0


def own_cell_network():
    """The README network with the own-cell example's reconstructed pyramidal cell
    (lambda rule: 76 segments) and its M-current as E, synapses spread over it."""
    import xkernels

    spec = xkernels.Network.example().to_dict()
    spec["populations"][0]["cell"] = {
        "morphology": str(OWN_CELL / "pyramidal.swc"), "mechanisms": str(OWN_CELL / "mod"),
        "params": {"Ra": 150.0, "cm": 1.0, "nsegs_method": "lambda_f", "lambda_f": 100},
        "biophysics": m_current}
    for conn in spec["connections"]:
        conn["placement"] = {"sections": ["soma", "dend", "apic"],
                             "densities": [{"name": "norm", "loc": 0.0, "scale": 200.0}]}
    return xkernels.Network.from_dict(spec)


@contextlib.contextmanager
def tight_reference_quadrature():
    """Run lfpykernels' GaussCylinderPotential with tight quad tolerances.

    The reference integrates with scipy's default absolute tolerance (1.49e-8), which
    leaves matrix errors of ~1e-8 of the largest entry.  For compact cells, whose LFP
    is a small residual of cancelling segment contributions, that reaches ~1e-6 of
    the kernel.  The oracle's semantics are unchanged; only its integration error
    is reduced so that the comparison measures the engine, not quad.
    """
    import lfpykernels.kernel_approximator as ref_module

    original = ref_module.si

    class _TightQuad:
        @staticmethod
        def quad(func, a, b, **kwargs):
            kwargs.update(epsabs=1e-14, epsrel=1e-12)
            return original.quad(func, a, b, **kwargs)

    ref_module.si = _TightQuad
    try:
        yield
    finally:
        ref_module.si = original


def relative_difference(ours: np.ndarray, ref: np.ndarray) -> float:
    """max|ours - ref| / max|ref|."""
    scale = np.abs(ref).max()
    assert scale > 0, "reference kernel is identically zero: the comparison is void"
    return float(np.abs(ours - ref).max() / scale)


@pytest.fixture(scope="session")
def mechanisms_loaded():
    from xkernels.engine.mechanisms import load_mechanisms

    load_mechanisms()
    return True


def subprocess_env() -> dict:
    """Environment for test subprocesses that import xkernels from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(CELLS.parents[2]), env.get("PYTHONPATH", "")])
    return env


def file_stamps(path: Path) -> dict[str, tuple[int, int]]:
    """Relative file path -> (inode, mtime_ns) of every file below ``path``."""
    out = {}
    for dirpath, _, files in os.walk(path):
        for name in files:
            full = Path(dirpath) / name
            st = full.stat()
            out[str(full.relative_to(path))] = (st.st_ino, st.st_mtime_ns)
    return out


@pytest.fixture
def simulations(monkeypatch):
    """Counts the kernel computations that reach the engine's simulation (whatever
    averaging and membrane path they take)."""
    from xkernels.engine import kernels as engine

    counter = {"n": 0}
    original = engine.simulate_kernels

    def counted(*args, **kwargs):
        counter["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "simulate_kernels", counted)
    return counter


def laminar_probes() -> dict:
    """A 7-contact laminar LFP (z 1000 .. -200 µm) and the z current dipole moment: the
    probes of the solver-equivalence tests (linear and quasi-active solver)."""
    import xkernels
    return {"lfp": xkernels.GaussCylinderPotential(
                cell=None, z=np.linspace(1000.0, -200.0, 7), sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}


def worst_channel_deviation(a, b) -> float:
    """Largest |a - b| per probe channel (axis 2) relative to that channel's peak in
    ``b`` (channels with a zero peak skipped)."""
    out = 0.0
    for c in range(a.shape[2]):
        peak = np.abs(b[:, :, c]).max()
        if peak > 0:
            out = max(out, float(np.abs(a[:, :, c] - b[:, :, c]).max() / peak))
    return out

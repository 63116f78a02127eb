"""The engine shares a process with its user: it deletes only the NEURON sections it
created, takes NEURON's lock itself (compute_kernels is thread-safe), never modifies the
user's probe objects, and refuses a foreign NEURON mechanism that has one of our names.
Each test failed before the engine was made so (the threads one with a segfault)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

import xkernels
from xkernels import Network

ROOT = Path(__file__).resolve().parents[1]


def probes():
    return {"lfp": xkernels.GaussCylinderPotential(z=np.linspace(500.0, -100.0, 4),
                                                  sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def test_a_section_of_the_user_survives_compute_kernels():
    from neuron import h

    # sections other tests of this process keep alive (e.g. lfpykernels' cells held by
    # a module fixture) are the user's too: they must all survive, and nothing be added
    others = [sec.name() for sec in h.allsec()]
    mine = h.Section(name="users_own_soma")
    try:
        mine.L, mine.diam, mine.nseg = 23.0, 7.0, 3
        mine.insert("hh")
        mine(0.5).hh.gnabar = 0.2
        for solver in ("neuron", "linear"):
            xkernels.compute_kernels(Network.example(), probes(), tau=2.0,
                                     linearisation="passive", solver=solver)
            assert [sec.name() for sec in h.allsec()] == others + ["users_own_soma"]
        assert (mine.L, mine.diam, mine.nseg) == (23.0, 7.0, 3)
        assert mine(0.5).hh.gnabar == 0.2
    finally:
        h.delete_section(sec=mine)
    assert [sec.name() for sec in h.allsec()] == others


def test_threads_computing_at_once_get_the_numbers_of_sequential_calls():
    network = Network.example()
    cases = [{"tau": 2.0}, {"tau": 2.0, "g_eff": False, "averaging": "depth"},
             {"tau": 2.0, "linearisation": "frozen"}, {"tau": 2.0, "fir": True}]
    expected = [xkernels.compute_kernels(network, probes(), **case).values for case in cases]
    shared = probes()  # the same probe objects in every thread
    results: list = [None] * len(cases)
    errors: list = []
    start = threading.Barrier(len(cases))

    def run(k):
        try:
            start.wait()
            results[k] = xkernels.compute_kernels(network, shared, **cases[k]).values
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_probe_objects_are_not_modified():
    import lfpykit

    stick = lfpykit.CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
                                 z=np.array([[0.0, 10.0], [10.0, 20.0]]), d=np.ones(2))
    named = probes()
    named["lfp"].cell = stick  # a probe the user also uses with a cell of their own
    before = {name: dict(vars(p)) for name, p in named.items()}
    arrays = {name: {k: np.array(v, copy=True) for k, v in vars(p).items()
                     if isinstance(v, np.ndarray)} for name, p in named.items()}
    xkernels.compute_kernels(Network.example(), named, tau=2.0)
    xkernels.compute_kernels(Network.example(), named, tau=2.0, averaging="depth")
    for name, probe in named.items():
        after = vars(probe)
        assert after.keys() == before[name].keys()
        for key, value in before[name].items():
            assert after[key] is value, f"probes[{name!r}].{key} was replaced"
        for key, value in arrays[name].items():
            np.testing.assert_array_equal(after[key], value)
    assert named["lfp"].cell is stick


FOREIGN = """\
NEURON {
    SUFFIX xkih
    NONSPECIFIC_CURRENT i
    RANGE gbar, gother
}
PARAMETER {
    gbar = 0.0001 (S/cm2)
    gother = 1 (S/cm2)
}
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = gbar * (v + 70) }
"""


def test_a_foreign_mechanism_with_our_name_is_refused(tmp_path):
    """Another package's ``xkih`` (other parameters) is loaded first: our cells refuse
    to use it instead of silently simulating someone else's channel."""
    (tmp_path / "xkih.mod").write_text(FOREIGN)
    from xkernels.engine.mechanisms import find_nrnivmodl

    build = subprocess.run([find_nrnivmodl()], cwd=tmp_path, capture_output=True, text=True)
    library = next(iter(sorted(tmp_path.glob("*/.libs/libnrnmech.so")) or
                        sorted(tmp_path.glob("*/libnrnmech.so"))), None)
    assert library is not None, build.stdout + build.stderr
    script = textwrap.dedent(f"""
        from neuron import h
        h.nrn_load_dll({str(library)!r})
        import xkernels
        from xkernels.engine.mechanisms import load_mechanisms
        try:
            load_mechanisms()
        except RuntimeError as err:
            print("REFUSED", err)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT)
    assert "REFUSED NEURON mechanism 'xkih' is not xkernels' own" in proc.stdout, \
        proc.stdout + proc.stderr
    assert "'gother_xkih'" in proc.stdout and "'eh_xkih'" in proc.stdout


def test_our_mechanisms_have_the_signature_of_our_sources():
    from xkernels.engine.mechanisms import load_mechanisms, signatures

    load_mechanisms()
    assert signatures()["xkna"] == {"PARAMETER": ["gbar_xkna"], "STATE": ["m_xkna", "h_xkna"]}
    assert set(signatures()) == {"Exp2SynI", "xkna", "xkkdr", "xkih"}

"""Bring your own cell: morphologies without a template, the user's NMODL mechanisms,
section checks, paths that mean one thing, and bad input refused before any work.

The example cell and mechanisms are the ones the guide ships
(``docs/examples/own_cell``): a 76-segment multi-branch SWC cell and two NMODL files.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lfpykernels  # the oracle: a broken install fails these tests, never skips them
import numpy as np
import pytest
from conftest import (
    CELLS,
    readme_arguments,
    relative_difference,
    set_passive,
    subprocess_env,
    tight_reference_quadrature,
)

import xkernels
from xkernels.spec import Network

OWN = Path(__file__).resolve().parents[1] / "docs" / "examples" / "own_cell"
SWC = OWN / "pyramidal.swc"
MODS = OWN / "mod"
EXPLICIT = {"averaging": "reference", "operating_point": "rest", "linearisation": "as-is"}

#: An empty template to load the SWC into, as lfpykernels needs one (the sections
#: Import3d creates for SWC types 1, 3, 4 and the lists it fills for types 1-4).
EMPTY_TEMPLATE = """
begintemplate EmptySWCTemplate
public init, soma, dend, apic, all, somatic, axonal, basal, apical
objref all, somatic, axonal, basal, apical
create soma[1], dend[1], apic[1]
proc init() {
    all = new SectionList()
    somatic = new SectionList()
    axonal = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
}
endtemplate EmptySWCTemplate
"""


def own_network(cell: dict | str | None = None, **changes) -> Network:
    """The README network's inputs onto E only, E's cell given (default: the SWC)."""
    data = Network.example().to_dict()
    data["connections"] = [c for c in data["connections"] if c["post"] == "E"]
    data["populations"][1]["cell"] = None
    data["populations"][0]["cell"] = cell if cell is not None else {
        "morphology": str(SWC), "params": {"Ra": 150.0}}
    data.update(changes)
    return Network.from_dict(data)


def cdm():
    return {"cdm": xkernels.CurrentDipoleMomentZ()}


def no_store_written(tmp_path: Path, network: Network, match: str,
                     exc: type[Exception] = ValueError) -> None:
    """compute_kernels(store=...) refuses ``network`` with ``match`` and writes nothing."""
    store = tmp_path / "never.zarr"
    with pytest.raises(exc, match=match):
        xkernels.compute_kernels(network, cdm(), store=store, tau=2.0, **EXPLICIT)
    assert not store.exists()


# --------------------------------------------------------------------------------------
# a bare SWC cell against lfpykernels 0.2.0 (loaded into an empty template)
# --------------------------------------------------------------------------------------
def test_bare_swc_matches_lfpykernels(tmp_path, mechanisms_loaded):
    template = tmp_path / "empty.hoc"
    template.write_text(EMPTY_TEMPLATE)
    gcp = {"z": np.array([600.0, 0.0, -150.0]), "sigma": 0.3, "R": 150.0, "sigma_z": 75.0}
    kw = readme_arguments("E")
    kw["cellParameters"] = {
        "morphology": str(SWC), "templatefile": str(template),
        "templatename": "EmptySWCTemplate", "templateargs": None,
        "delete_sections": False, "Ra": 150.0,
        "custom_fun": [set_passive], "custom_fun_args": [{"Vrest": -65.0}]}
    options = {"Vrest": -65.0, "dt": 2 ** -4, "t_X": 100.0, "tau": 10.0, "g_eff": True}
    reference = lfpykernels.KernelApprox(**kw)
    probes = {"lfp": xkernels.GaussCylinderPotential(cell=None, **gcp),
              "cdm": xkernels.CurrentDipoleMomentZ(cell=None)}
    H = xkernels.compute_kernels(own_network(), probes, **options, **EXPLICIT)
    assert H.sizes["Y"] == 1
    for X in ("E", "I"):
        with tight_reference_quadrature():
            ref = reference.get_kernel([lfpykernels.GaussCylinderPotential(cell=None, **gcp),
                                        lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)],
                                       X=X, **options)
        ours = H.sel(X=X, Y="E")
        assert relative_difference(ours.xk.probe("lfp").values,
                                   ref["GaussCylinderPotential"]) <= 1e-6, X
        assert relative_difference(ours.xk.probe("cdm").values,
                                   ref["KernelApproxCurrentDipoleMoment"][2:]) <= 1e-6, X


def test_lfpy_keywords_are_lfpys():
    import LFPy

    from xkernels.spec.presets import LFPY_CELL_KEYWORDS

    given = set(inspect.signature(LFPy.Cell.__init__).parameters) - {"self", "kwargs"}
    set_by_xkernels = {"morphology", "dt", "tstart", "tstop", "delete_sections"}
    assert set(LFPY_CELL_KEYWORDS) == given - set_by_xkernels


def test_params_are_checked():
    with pytest.raises(ValueError, match=r"did you mean 'lambda_f' for 'lamda_f'"):
        own_network({"morphology": str(SWC), "params": {"lamda_f": 100.0}})
    with pytest.raises(ValueError, match=r"nsegs_method must be one of .* did you mean "
                                         r"'lambda_f'"):
        own_network({"morphology": str(SWC), "params": {"nsegs_method": "lambdaf"}})


def test_hoc_morphology_with_top_level_sections(mechanisms_loaded):
    """A hoc file written for LFPy.Cell (top-level ``create``, no ``all`` list, procs)."""
    import LFPy

    lfpy_cells = Path(LFPy.__file__).parent / "test"
    net = own_network({"morphology": str(lfpy_cells / "L23E_p23.hoc")},
                      connections=[dict(c, placement={"sections": ["dend", "apic"],
                                                      "densities": [{"name": "norm", "loc": 0.0,
                                                                     "scale": 200.0}]})
                                   for c in own_network().to_dict()["connections"]])
    H = xkernels.compute_kernels(net, cdm(), tau=2.0, **EXPLICIT)
    assert np.abs(H.values).max() > 0


ASC = """("CellBody"
 (Color Red)
 (CellBody)
 (-5.0 0.0 0.0 0.1)
 (0.0 0.0 5.0 0.1)
 (5.0 0.0 0.0 0.1)
 (0.0 0.0 -5.0 0.1)
)
((Color Blue)
 (Dendrite)
 (0.0 0.0 -5.0 2.0)
 (0.0 0.0 -100.0 2.0)
)
((Color Green)
 (Apical)
 (0.0 0.0 5.0 3.0)
 (0.0 0.0 500.0 3.0)
)
"""


def test_neurolucida_morphology(tmp_path, mechanisms_loaded):
    """A Neurolucida file without a template: soma contour, a basal and an apical
    dendrite, where the file puts them (µm)."""
    from xkernels.engine.synapse_map import synapse_map

    asc = tmp_path / "cell.asc"
    asc.write_text(ASC)
    m = synapse_map(own_network({"morphology": str(asc)}), "E")
    assert m.section_kinds[0] == "soma" and set(m.section_kinds) == {"soma", "dend", "apic"}
    apic = np.array(m.section_kinds) == "apic"
    assert m.geometry.z[apic].max() == pytest.approx(500.0, abs=1.0)
    assert m.geometry.z.min() == pytest.approx(-100.0, abs=1.0)
    assert m.synapses["E"].sum() == pytest.approx(0.05 * 8192 * 2.0, rel=0.02)


# --------------------------------------------------------------------------------------
# section checks, before anything is simulated
# --------------------------------------------------------------------------------------
def test_undeclared_section_array_is_refused(tmp_path, mechanisms_loaded):
    """The issue's story: a template declaring an ``axon`` the morphology never uses
    left an unconnected section without 3-D points in the cell (kernels off by 3.3 %)."""
    template = tmp_path / "Mine.hoc"
    template.write_text((CELLS / "BallAndSticksTemplate.hoc").read_text()
                        .replace("BallAndSticksTemplate", "MineWithAxon")
                        .replace("public init, soma, dend, apic", "public init, soma, dend, "
                                 "apic, axon")
                        .replace("create soma[1], dend[1], apic[1]",
                                 "create soma[1], dend[1], apic[1], axon[1]"))
    net = own_network({"morphology": str(CELLS / "BallAndSticks_E.hoc"),
                       "templatefile": str(template), "templatename": "MineWithAxon"})
    no_store_written(tmp_path, net, r"populations\['E'\].cell: the morphology has sections "
                     r"without 3-D points \['MineWithAxon\[\d+\].axon\[0\]'\]; sections not "
                     r"connected to the cell .*'MineWithAxon\[\d+\].axon\[0\]'")


def test_bad_sections_are_named(tmp_path, mechanisms_loaded):
    swc = tmp_path / "thin.swc"
    swc.write_text("1 1 0 0 0 8 -1\n2 3 0 0 -100 0 1\n3 3 0 0 -200 0 2\n")
    no_store_written(tmp_path, own_network({"morphology": str(swc)}),
                     r"sections with a zero diameter \['XkMorphology_\w+\[\d+\].dend\[0\]'\]")
    hoc = tmp_path / "loose.hoc"  # a forgotten connect statement
    hoc.write_text("create soma, dend, apic\n"
                   "soma { pt3dadd(0, 0, -10, 20) pt3dadd(0, 0, 10, 20) }\n"
                   "dend { pt3dadd(0, 0, -10, 2) pt3dadd(0, 0, -200, 2) }\n"
                   "apic { pt3dadd(0, 0, 10, 2) pt3dadd(0, 0, 500, 2) }\n"
                   "connect dend(0), soma(0)\n")
    no_store_written(tmp_path, own_network({"morphology": str(hoc)}),
                     r"sections not connected to the cell \(whose root is "
                     r"'XkMorphology_\w+\[\d+\].soma'\) \['XkMorphology_\w+\[\d+\].apic'\]")


def test_zero_length_section_is_named(tmp_path, mechanisms_loaded):
    hoc = tmp_path / "flat.hoc"
    hoc.write_text("create soma, dend\nsoma { pt3dadd(0, 0, -10, 20) pt3dadd(0, 0, 10, 20) }\n"
                   "dend { pt3dadd(0, 0, -10, 2) pt3dadd(0, 0, -10, 2) }\n"
                   "connect dend(0), soma(0)\n")
    no_store_written(tmp_path, own_network({"morphology": str(hoc)}),
                     r"sections of zero length \['XkMorphology_\w+\[\d+\].dend'\]")


def test_placement_window_without_segments(tmp_path, mechanisms_loaded):
    data = own_network().to_dict()
    data["connections"][0]["placement"]["z_min"] = 2000.0
    data["connections"][0]["placement"]["z_max"] = 3000.0
    no_store_written(tmp_path, Network.from_dict(data),
                     r"connections\['E->E'\].placement: no segment of sections .* lies in "
                     r"z in \(2000.0, 3000.0\)")


# --------------------------------------------------------------------------------------
# bad input: clear errors before any work, nothing written
# --------------------------------------------------------------------------------------
def test_missing_morphology(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"populations\['E'\].cell.morphology: file "
                                                r"'.*pyramidl.swc' not found; did you mean "
                                                r"'pyramidal.swc'"):
        own_network({"morphology": str(OWN / "pyramidl.swc")})


def test_unreadable_formats(tmp_path, mechanisms_loaded):
    txt = tmp_path / "cell.txt"
    txt.write_text(SWC.read_text())
    with pytest.raises(ValueError, match=r"cell.morphology must be one of the presets .* a "
                                         r"\.swc, \.asc, \.hoc file"):
        own_network({"morphology": str(txt)})
    garbage = tmp_path / "garbage.swc"
    garbage.write_text("this is not\na morphology\n")
    no_store_written(tmp_path, own_network({"morphology": str(garbage)}),
                     r"populations\['E'\].cell.morphology: '.*garbage.swc' cannot be read as "
                     r"a \.swc morphology")


def test_template_errors_when_the_network_is_built(tmp_path):
    template = str(CELLS / "BallAndSticksTemplate.hoc")
    with pytest.raises(ValueError, match=r"populations\['E'\].cell.templatename must be a "
                                         r"template defined in .*BallAndSticksTemplate.hoc.* "
                                         r"got 'BallAndStickTemplate'; did you mean "
                                         r"'BallAndSticksTemplate'"):
        own_network({"morphology": str(CELLS / "BallAndSticks_E.hoc"),
                     "templatefile": template, "templatename": "BallAndStickTemplate"})
    with pytest.raises(FileNotFoundError, match=r"populations\['E'\].cell.templatefile: file "
                                                r"'.*Nope.hoc' not found"):
        own_network({"morphology": str(CELLS / "BallAndSticks_E.hoc"),
                     "templatefile": str(tmp_path / "Nope.hoc"), "templatename": "Nope"})
    with pytest.raises(ValueError, match=r"cell.templatefile must be given together with "
                                         r"templatename"):
        own_network({"morphology": str(CELLS / "BallAndSticks_E.hoc"),
                     "templatename": "BallAndSticksTemplate"})


def test_missing_section_lists_the_cells(tmp_path, mechanisms_loaded):
    data = own_network().to_dict()
    data["connections"][1]["placement"]["sections"] = ["soma", "basal"]
    no_store_written(tmp_path, Network.from_dict(data),
                     r"connections\['I->E'\].placement.sections: section 'basal' does not "
                     r"exist on the cell; its sections are \['apic\[0\]', .*'soma\[0\]'\]")
    data["connections"][1]["placement"]["sections"] = ["soma", "apical"]
    no_store_written(tmp_path, Network.from_dict(data), r"did you mean 'apic'\?")


def test_missing_mechanisms_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cell.mechanisms: folder '.*nomods' not "
                                                r"found"):
        own_network({"morphology": str(SWC), "mechanisms": str(tmp_path / "nomods")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"cell.mechanisms must be a folder holding NMODL"):
        own_network({"morphology": str(SWC), "mechanisms": str(tmp_path / "empty")})


@pytest.mark.slow
def test_mechanisms_that_do_not_compile(tmp_path, mechanisms_loaded, monkeypatch):
    monkeypatch.setenv("XKERNELS_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "badmod"
    bad.mkdir()
    (bad / "broken.mod").write_text((MODS / "ownleak.mod").read_text().replace(
        "i = g * (v - e)", "i = g * (v - e"))
    no_store_written(tmp_path, own_network({"morphology": str(SWC), "mechanisms": str(bad)}),
                     r"populations\['E'\].cell.mechanisms: the NMODL files do not compile: "
                     r"nrnivmodl could not compile .* Error: .*line \d+ in file broken.mod")


# --------------------------------------------------------------------------------------
# the user's mechanisms beside ours
# --------------------------------------------------------------------------------------
def test_own_mechanisms_load_beside_ours(tmp_path, mechanisms_loaded):
    """A passive leak of g split between ``pas`` and the user's ``ownleak`` (same
    reversal) is the passive cell: kernels equal to rounding (frozen membrane)."""
    from neuron import h

    from xkernels.engine import mechanisms

    net = own_network({"morphology": str(SWC), "params": {"Ra": 150.0},
                       "mechanisms": str(MODS), "biophysics": "test_own_cell:split_leak"})
    H = xkernels.compute_kernels(net, cdm(), tau=5.0, Vrest=-65.0, g_eff=False,
                                 **{**EXPLICIT, "linearisation": "frozen"})
    assert hasattr(h, "ownleak") and hasattr(h, "ownm") and hasattr(h, "Exp2SynI")
    assert mechanisms.load_user_mechanisms(MODS) is None  # once per content
    copy = tmp_path / "copy"
    shutil.copytree(MODS, copy)
    assert mechanisms.load_user_mechanisms(copy) is None  # the same sources elsewhere
    passive = xkernels.compute_kernels(own_network(), cdm(), tau=5.0, Vrest=-65.0,
                                       g_eff=False, **EXPLICIT)
    assert relative_difference(H.values, passive.values) < 1e-9


def split_leak(cell, g=0.0003, share=0.25, e=-65.0):
    """Biophysics: ``pas`` and ``ownleak`` sharing a leak conductance ``g`` (S/cm²)."""
    for sec in cell.template.all:
        sec.insert("pas")
        sec.insert("ownleak")
        sec.g_pas, sec.e_pas = g * (1 - share), e
        sec.g_ownleak, sec.e_ownleak = g * share, e


@pytest.mark.parametrize("name, match", [
    ("xkna", r"a name of one of xkernels' own mechanisms"),
    ("hh", r"which is defined in NEURON already \(a built-in"),
])
def test_mechanism_name_clash_is_refused(name, match, tmp_path, mechanisms_loaded):
    from neuron import h

    from xkernels.engine import mechanisms

    folder = tmp_path / "clash"
    folder.mkdir()
    (folder / "mine.mod").write_text((MODS / "ownleak.mod").read_text().replace(
        "SUFFIX ownleak", f"SUFFIX {name}"))
    before = h.MechanismType(0).count()
    with pytest.raises(ValueError, match=rf"cell.mechanisms: .*mine.mod defines mechanism "
                                         rf"'{name}', {match}"):
        mechanisms.load_user_mechanisms(folder, "cell.mechanisms")
    assert h.MechanismType(0).count() == before  # nothing loaded


# --------------------------------------------------------------------------------------
# paths mean one thing
# --------------------------------------------------------------------------------------
def test_json_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(OWN, project / "cells")
    monkeypatch.chdir(project)
    net = own_network({"morphology": "cells/pyramidal.swc", "mechanisms": "cells/mod"})
    cell = net.population("E").cell
    assert cell.morphology == str(project / "cells" / "pyramidal.swc")
    assert cell.mechanisms == str(project / "cells" / "mod")
    (project / "specs").mkdir()
    net.to_json(project / "specs" / "net.json")
    written = json.loads((project / "specs" / "net.json").read_text())
    assert written["populations"][0]["cell"]["morphology"] == "../cells/pyramidal.swc"
    assert written["populations"][0]["cell"]["mechanisms"] == "../cells/mod"
    assert written["populations"][0]["cell"]["templatefile"] is None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Network.from_json(project / "specs" / "net.json") == net
    assert Network.from_json("../project/specs/net.json") == net
    # the presets keep their names
    example = Network.example()
    example.to_json("example.json")
    assert json.loads(Path("example.json").read_text())["populations"][0]["cell"][
        "templatefile"] == "BallAndSticksTemplate.hoc"
    assert Network.from_json("example.json") == example


@pytest.mark.slow
def test_cli_reads_a_saved_network_from_another_directory(tmp_path, mechanisms_loaded):
    project = tmp_path / "project"
    shutil.copytree(OWN, project / "cells")
    net = own_network({"morphology": str(project / "cells" / "pyramidal.swc")})
    spec = project / "spec.json"
    net.to_json(spec)
    doc = {"network": json.loads(spec.read_text()),
           "probes": {"cdm": {"class": "xkernels.probes.CurrentDipoleMomentZ",
                              "params": {}}},
           "options": {"tau": 2.0, **EXPLICIT}}
    spec.write_text(json.dumps(doc))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "xkernels", "compute",
                           os.path.relpath(spec, elsewhere), "-o", "k.zarr", "--quiet"],
                          cwd=elsewhere, env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    stored = xkernels.open_kernels(elsewhere / "k.zarr")
    direct = xkernels.compute_kernels(net, cdm(), tau=2.0, **EXPLICIT)
    np.testing.assert_array_equal(stored.values, direct.values)
    assert Network.from_kernels(stored) == net


# --------------------------------------------------------------------------------------
# a cache mismatch names the inputs
# --------------------------------------------------------------------------------------
def test_cache_mismatch_names_the_inputs(tmp_path, mechanisms_loaded):
    store = tmp_path / "k.zarr"
    net = Network.example()
    xkernels.compute_kernels(net, cdm(), store=store, tau=2.0, **EXPLICIT)
    other = net.with_values({"populations[E].cell.biophysics.g_pas": 0.0004})
    with pytest.raises(ValueError, match=r"holds kernels of different inputs \(populations"
                                         r"\['E'\].cell.biophysics.g_pas: stored 0.0003, "
                                         r"requested 0.0004; options.tau: stored 2.0, "
                                         r"requested 3.0\)"):
        xkernels.compute_kernels(other, cdm(), store=store, tau=3.0, **EXPLICIT)


def test_one_template_name_one_file(tmp_path, mechanisms_loaded):
    """NEURON defines a template name once per process: LFPy would silently build the
    second file's cells from the first file's template."""
    text = (CELLS / "BallAndSticksTemplate.hoc").read_text().replace(
        "BallAndSticksTemplate", "ClashTemplate")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "T.hoc").write_text(text if folder == "a" else text.replace(
            "all = new SectionList()", "all = new SectionList()\n    // another template"))

    def cell(folder):
        return {"morphology": str(CELLS / "BallAndSticks_E.hoc"),
                "templatefile": str(tmp_path / folder / "T.hoc"),
                "templatename": "ClashTemplate"}

    data = own_network(cell("a")).to_dict()
    data["populations"][1]["cell"] = cell("b")
    with pytest.raises(ValueError, match=r"populations\['I'\].cell.templatename must be "
                                         r"another name than that of the template of "
                                         r"populations\['E'\]"):
        Network.from_dict(data)
    xkernels.compute_kernels(own_network(cell("a")), cdm(), tau=1.0, **EXPLICIT)
    no_store_written(tmp_path, own_network(cell("b")),
                     r"populations\['E'\].cell.templatename: template 'ClashTemplate' is "
                     r"defined in this process already, from '.*/a/T.hoc'")


def test_validate_refuses_a_bad_cell_before_writing(tmp_path, mechanisms_loaded):
    from xkernels.hybrid import correlated_poisson, validate

    data = own_network().to_dict()
    data["connections"][0]["placement"]["sections"] = ["apical"]
    net = Network.from_dict(data)
    spikes = correlated_poisson({p.name: p.size for p in net.populations},
                                {p.name: p.rate for p in net.populations}, t_stop=50.0, seed=1)
    store = tmp_path / "gt.zarr"
    with pytest.raises(ValueError, match=r"connections\['E->E'\].placement.sections: section "
                                         r"'apical' does not exist on the cell.*did you mean "
                                         r"'apic'"):
        validate(net, spikes, cdm(), t_stop=50.0, transient=10.0, n_cells={"E": 1}, client="sync",
                 store=store, progress=False)
    assert not store.exists()

"""Execute every notebook (short sizes via environment variables) and check its results."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def execute(name: str, tmp_path: Path, **env: str) -> dict:
    """Run a notebook in tmp_path with env vars as a user would (Jupyter's default inline
    matplotlib backend); check that every plotting cell shows exactly one image; return
    its results JSON.  The executed notebook is kept as ``tmp_path / name``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{name} is committed with outputs"
    results = tmp_path / "results.json"
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ["XKERNELS_NB_RESULTS"] = str(results)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), saved.get("PYTHONPATH", "")])
    os.environ["PYNEST_QUIET"] = "1"
    os.environ.pop("MPLBACKEND", None)  # what Jupyter users have: the inline backend
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(nb, tmp_path / name)
    check_figures(nb, name)
    return json.loads(results.read_text())


def check_figures(nb, name: str) -> None:
    """Every cell that plots shows exactly one image/png; no figure is shown as text."""
    plotting = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        texts = [o["data"]["text/plain"] for o in cell.outputs
                 if "image/png" not in o.get("data", {}) and "text/plain" in o.get("data", {})]
        assert not [t for t in texts if "<Figure size" in t], (name, i, texts)
        # a plotting cell: the .xk.plot() methods, plot_validation, plot_cell, or
        # pyplot figures
        if any(call in cell.source for call in (".plot(", "plot_validation(", "plot_cell(",
                                                "plt.subplots(", "plt.figure(")):
            plotting += 1
            assert len(images) == 1, (name, i, cell.source, [o.get("data", {}).keys()
                                                            for o in cell.outputs])
        else:
            assert not images, (name, i, cell.source)
    assert plotting >= 1, name


@pytest.mark.slow
def test_readme_example(tmp_path):
    r = execute("01_readme_example.ipynb", tmp_path)
    assert r["shape"] == {"X": 2, "Y": 2, "probe_channel": 14, "tau": 1601}
    assert r["probes"] == ["cdm", "lfp"] and r["finite"] and r["signals_finite"]
    # inhibitory synapses near the soma: a negative dipole; excitatory apical: positive
    assert r["cdm_z_peak_I_E"] < 0 < r["cdm_z_peak_E_E"]
    assert r["signals_shape"] == {"probe_channel": 14, "time": 16000 - 2 * 800}  # valid


@pytest.mark.slow
def test_lif_network_nest(tmp_path):
    pytest.importorskip("nest")
    r = execute("02_lif_network_nest.ipynb", tmp_path, XKERNELS_NB_T_STOP="700")
    assert r["rates_shape"] == {"X": 2, "time": 8000}
    assert all(0.5 < v < 50 for v in r["mean_rates"].values())
    assert r["signals_shape"] == {"probe_channel": 17, "time": 8000 - 2 * 800}
    assert r["finite"]
    assert r["eeg_max_rel_err"] < 1e-10
    assert r["corr_eeg0_cdmz"] > 0.99  # electrode above a radial dipole tracks it
    assert len(r["lfp_std_mV"]) == 13 and min(r["lfp_std_mV"]) > 0


@pytest.mark.slow
def test_parameter_sweep(tmp_path):
    r = execute("03_parameter_sweep.ipynb", tmp_path, XKERNELS_NB_GRID="2")
    assert len(r["dims"]) == 2 and r["shape"] == [2, 2] and r["finite"]
    assert r["increases_with_inhibitory_weight"]


@pytest.mark.slow
def test_long_recording_dask(tmp_path):
    r = execute("04_long_recording_dask.ipynb", tmp_path, XKERNELS_NB_SECONDS="20")
    assert r["n_time"] == 320_000
    assert r["signals_shape"] == {"probe_channel": 14, "time": 320_000}
    assert r["n_chunks"] > 1 and r["finite_std"]
    assert r["max_rel_err"] < 1e-5  # float32 output
    shutil.rmtree(tmp_path / "signals.zarr")


@pytest.mark.slow
def test_microcircuit(tmp_path):
    pytest.importorskip("nest")
    r = execute("06_microcircuit.ipynb", tmp_path, XKERNELS_NB_T_STOP="450",
                XKERNELS_NB_N_SCALING="0.02", XKERNELS_NB_K_SCALING="0.1")
    # 16 LFP contacts, 16 CSD slabs, cdm:z, 3 EEG electrodes
    assert r["kernels_shape"] == {"X": 9, "Y": 8, "probe_channel": 36, "tau": 801}
    assert r["rates_shape"] == {"X": 9, "time": 4000}
    assert r["signals_shape"] == {"probe_channel": 36, "time": 4000} and r["finite"]
    assert len(r["lfp_std_mV"]) == 16 and min(r["lfp_std_mV"]) > 0
    assert r["keep_X_sum_rel_err"] < 1e-10       # the split by X sums to the total
    assert r["csd_shape"][0] == 16      # a CSD slab around every contact
    cortical = {k: v for k, v in r["mean_rates"].items() if k != "TC"}
    assert all(0 < v < 50 for v in cortical.values()) and r["mean_rates"]["TC"] == 0
    assert abs(r["corr_eeg0_cdmz"]) > 0.99


@pytest.mark.slow
def test_own_cell(tmp_path):
    r = execute("07_own_cell.ipynb", tmp_path, XKERNELS_NB_T_STOP="200", XKERNELS_NB_CELLS="4",
                XKERNELS_NB_TAU="10")
    assert r["kernels_shape"] == {"X": 2, "Y": 2, "probe_channel": 14, "tau": 321}
    assert r["finite"]
    peak = r["cdm_peak"]   # the M-current's conductance shrinks the kernels
    assert peak["quasi-active"] < peak["passive"] and peak["frozen"] < peak["passive"]
    assert r["cdm_r2"] > 0 and 0.5 < r["cdm_std_ratio"] < 2.0


def test_committed_notebooks_are_what_generate_writes():
    """notebooks/generate.py is the notebooks' source: every committed notebook has its
    cells, kind and text (an edit made in one only is lost when the other is rebuilt)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", NOTEBOOKS / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    kinds = {"md": "markdown", "markdown": "markdown", "code": "code"}
    assert sorted(generate.NOTEBOOKS) == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name, cells in generate.NOTEBOOKS.items():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        committed = [(c.cell_type, c.source.strip()) for c in nb.cells]
        written = [(kinds[kind], source.strip()) for kind, source in cells]
        assert committed == written, name

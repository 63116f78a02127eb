"""The xkernels command line, run as a subprocess on real files in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYNEST_QUIET="1")
    env.pop("XKERNELS_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "xkernels", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def call(*args: str, cwd: Path, capsys) -> subprocess.CompletedProcess:
    """Run the CLI in this process (same code path as the console script)."""
    from xkernels.app.cli import main

    old = Path.cwd()
    os.chdir(cwd)
    try:
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """One short demo run shared by the tests (NEST + kernels + convolution)."""
    cwd = tmp_path_factory.mktemp("demo")
    proc = run("demo", "-o", "out", "--t-stop", "600", "--transient", "100", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "results in out" in proc.stdout
    return cwd / "out"


def test_help_lists_every_command(tmp_path, capsys):
    proc = run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("demo", "compute", "sweep", "convolve", "info"):
        assert command in proc.stdout
    for command in ("demo", "compute", "sweep", "convolve", "info"):
        sub = call(command, "--help", cwd=tmp_path, capsys=capsys)
        assert sub.returncode == 0 and "usage: xkernels " + command in sub.stdout


def test_demo_outputs(demo):
    names = {p.name for p in demo.iterdir()}
    assert {"kernels.zarr", "rates.zarr", "signals.zarr", "kernels.png", "signals.png",
            "spec.json", "grid.json", "summary.json"} <= names
    assert not [p for p in demo.parent.iterdir() if p.name.startswith(".out.tmp")]
    H = xr.open_zarr(demo / "kernels.zarr")["kernels"]
    assert H.dims == ("X", "Y", "probe_channel", "tau")
    assert set(H.coords["probe"].values.tolist()) == {"lfp", "cdm", "eeg"}
    rates = xr.open_zarr(demo / "rates.zarr")["rates"].load()
    # 500 ms kept at dt = 1/16 ms; counts scaled by N_full / N_sim = 8
    assert rates.sizes["time"] == 8000
    assert np.all(rates.values >= 0) and np.allclose(rates.values % 8, 0)
    signals = xr.open_zarr(demo / "signals.zarr")["signals"].load()
    assert signals.dims == ("probe_channel", "time")
    assert np.isfinite(signals.values).all()
    # independent check of one channel: direct sum over lags of H (summed over Y)
    h = H.sum("Y").sel(probe_channel="lfp:6").load()
    lags = np.rint(h.coords["tau"].values / 0.0625).astype(int)
    t_index = 4000
    expected = 0.0
    for x in ("E", "I"):
        nu = rates.sel(X=x).values
        expected += np.sum(h.sel(X=x).values * nu[t_index - lags])
    assert signals.sel(probe_channel="lfp:6").values[t_index] == pytest.approx(expected,
                                                                              rel=1e-9)
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["populations"]["E"]["n_full"] == 8192
    assert 0.5 < summary["populations"]["E"]["rate"] < 50
    for png in ("kernels.png", "signals.png"):
        assert (demo / png).stat().st_size > 20_000


def test_compute_convolve_info_roundtrip(demo, tmp_path):
    proc = run("compute", str(demo / "spec.json"), "-o", "k.zarr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    H1 = xr.open_zarr(tmp_path / "k.zarr")["kernels"].load()
    H0 = xr.open_zarr(demo / "kernels.zarr")["kernels"].load()
    np.testing.assert_allclose(H1.values, H0.values, rtol=1e-12, atol=0)
    proc = run("convolve", str(demo / "rates.zarr"), "k.zarr", "-o", "s.zarr", "-q",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    s1 = xr.open_zarr(tmp_path / "s.zarr")["signals"].load()
    s0 = xr.open_zarr(demo / "signals.zarr")["signals"].load()
    np.testing.assert_allclose(s1.values, s0.values, rtol=1e-10, atol=0)
    for store, words in (("k.zarr", ["kernel store", "lfp: 13 channels", "eeg: 3"]),
                         ("s.zarr", ["signals store", "time: 100", "probe cdm"]),
                         (str(demo / "rates.zarr"), ["rates store", "populations X"])):
        proc = run("info", store, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        for word in words:
            assert word in proc.stdout


def test_bad_input_one_line_errors(demo, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "badnet.json").write_text(json.dumps({"network": {"populations": []}}))
    (tmp_path / "badkey.json").write_text(json.dumps({"network": {}, "colour": 1}))
    one_line_error(call("compute", "missing.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "missing.json", "does not exist")
    one_line_error(call("compute", "bad.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "bad.json", "not valid JSON")
    one_line_error(call("compute", "list.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "list.json", "JSON object")
    one_line_error(call("compute", "badnet.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "badnet.json", "populations")
    one_line_error(call("compute", "badkey.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "badkey.json", "colour")
    one_line_error(call("sweep", str(demo / "spec.json"), "bad.json", "-o", "w.zarr",
                       cwd=tmp_path, capsys=capsys), "bad.json", "not valid JSON")
    # stores of the wrong kind
    one_line_error(call("convolve", str(demo / "kernels.zarr"), str(demo / "kernels.zarr"),
                       "-o", "s.zarr", cwd=tmp_path, capsys=capsys), "kernels.zarr", "rates")
    one_line_error(call("convolve", str(demo / "rates.zarr"), str(demo / "rates.zarr"),
                       "-o", "s.zarr", cwd=tmp_path, capsys=capsys), "rates.zarr", "kernel store")
    one_line_error(call("info", "nowhere.zarr", cwd=tmp_path, capsys=capsys), "nowhere.zarr")
    (tmp_path / "plain").mkdir()
    one_line_error(call("info", "plain", cwd=tmp_path, capsys=capsys), "plain")
    # existing outputs are refused before any work, and kept intact
    (tmp_path / "exists.zarr").mkdir()
    (tmp_path / "exists.zarr" / "marker").write_text("keep")
    one_line_error(call("compute", str(demo / "spec.json"), "-o", "exists.zarr",
                       cwd=tmp_path, capsys=capsys), "exists.zarr", "--overwrite")
    one_line_error(call("convolve", str(demo / "rates.zarr"), str(demo / "kernels.zarr"),
                       "-o", "exists.zarr", cwd=tmp_path, capsys=capsys),
                   "exists.zarr", "already exists")
    one_line_error(call("demo", "-o", "exists.zarr", cwd=tmp_path, capsys=capsys), "exists.zarr")
    assert (tmp_path / "exists.zarr" / "marker").read_text() == "keep"
    # nothing half-written anywhere
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["bad.json", "badkey.json", "badnet.json", "exists.zarr", "list.json",
                    "plain"]
    # argparse errors: exit status 2, usage line
    proc = call("compute", cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    proc = call("demo", "--t-stop", "-5", cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 2 and "t-stop" in proc.stderr




def test_user_error_in_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    one_line_error(run("compute", "bad.json", "-o", "k.zarr", cwd=tmp_path),
                   "bad.json", "not valid JSON")
    proc = run("convolve", "a.zarr", cwd=tmp_path)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_overwrite_replaces(demo, tmp_path):
    (tmp_path / "s.zarr").mkdir()
    proc = run("convolve", str(demo / "rates.zarr"), str(demo / "kernels.zarr"), "-o",
               "s.zarr", "--overwrite", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert xr.open_zarr(tmp_path / "s.zarr")["signals"].sizes["probe_channel"] == 19
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_sweep_command_end_to_end(demo, tmp_path, capsys):
    """A real sweep from the demo's spec: the stored grid equals compute_kernels per point."""
    import xkernels
    from xkernels.network import Network

    grid = {"connections[I->E].synapse.weight": [0.001, 0.003],
            "connections[E->E].delay.params.loc": [1.0, 2.0]}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    proc = call("sweep", str(demo / "spec.json"), "grid.json", "-o", "sweep.zarr", "-q",
                cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    S = xkernels.open_kernels(tmp_path / "sweep.zarr")
    assert S.dims[:2] == ("weight_I_E", "delay_loc_E_E")
    assert S.shape[:2] == (2, 2)
    spec = json.loads((demo / "spec.json").read_text())
    probes = {name: xkernels.probes.probe_from_definition(d)
              for name, d in spec["probes"].items()}
    point = spec["network"]
    point["connections"] = [dict(c) for c in point["connections"]]
    for c in point["connections"]:
        if (c["pre"], c["post"]) == ("I", "E"):
            c["synapse"] = dict(c["synapse"], weight=0.003)
        if (c["pre"], c["post"]) == ("E", "E"):
            c["delay"] = {"name": c["delay"]["name"],
                          "params": dict(c["delay"]["params"], loc=2.0)}
    H = xkernels.compute_kernels(Network.from_dict(point), probes, **spec["options"])
    got = S.isel(weight_I_E=1, delay_loc_E_E=1).values
    np.testing.assert_allclose(got, H.values, rtol=0, atol=1e-9 * np.abs(H.values).max())
    info = call("info", "sweep.zarr", cwd=tmp_path, capsys=capsys)
    assert info.returncode == 0 and "weight_I_E" in info.stdout


def test_compute_with_linearisation(tmp_path, capsys):
    """--linearisation replaces the spec's option; the store records the mode and the
    resting state; a bad mode in SPEC.json is a one-line error naming it."""
    import xkernels
    from xkernels.app.files import spec_document
    from xkernels.network import Network

    probes = {"cdm": xkernels.CurrentDipoleMomentZ()}
    options = {"tau": 1.0, "linearisation": {"E": "passive", "I": "passive"}}
    doc = spec_document(Network.example(active=True), probes, options)
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    proc = call("compute", "spec.json", "-o", "k.zarr", "--linearisation", "frozen", "-q",
                cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    H = xkernels.open_kernels(tmp_path / "k.zarr")
    assert json.loads(H.attrs["linearisation"]) == {"E": "frozen", "I": "frozen"}
    assert set(json.loads(H.attrs["resting_state"])) == {"E", "I"}
    ref = xkernels.compute_kernels(Network.example(active=True), probes, tau=1.0,
                                   linearisation="frozen")
    np.testing.assert_array_equal(H.values, ref.values)
    doc["options"]["linearisation"] = "linear"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    one_line_error(call("compute", "bad.json", "-o", "b.zarr", cwd=tmp_path, capsys=capsys),
                   "bad.json", "linearisation must be one of", "'linear'")
    proc = call("compute", "spec.json", "-o", "c.zarr", "--linearisation", "linear",
                cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 2 and "invalid choice: 'linear'" in proc.stderr

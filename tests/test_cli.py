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

import xkernels

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


COMMANDS = ("demo", "compute", "sweep", "convolve", "info")


def test_help_lists_every_command_once(tmp_path, capsys):
    proc = run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in COMMANDS:
        listed = [ln for ln in proc.stdout.splitlines() if ln.split()[:1] == [command]]
        assert len(listed) == 1, (command, proc.stdout)
    for command in COMMANDS:
        sub = call(command, "--help", cwd=tmp_path, capsys=capsys)
        assert sub.returncode == 0 and "usage: xkernels " + command in sub.stdout


def test_bare_command_prints_help(tmp_path):
    proc = run(cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: xkernels") and "commands:" in proc.stdout


def test_demo_duration_same_in_help_and_readme(tmp_path, capsys):
    from xkernels.app.cli import DEMO_DURATION

    help_text = " ".join(call("demo", "--help", cwd=tmp_path, capsys=capsys).stdout.split())
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert DEMO_DURATION in help_text and DEMO_DURATION in readme
    assert "few seconds" not in readme and "few minutes" not in help_text


def test_typos_get_did_you_mean(tmp_path, capsys):
    proc = call("comptue", "spec.json", cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 2 and "did you mean 'compute'?" in proc.stderr
    proc = call("compute", "spec.json", "-o", "k.zarr", "--overwirte", cwd=tmp_path,
                capsys=capsys)
    # (the closest first; '--solver' may follow)
    assert proc.returncode == 2 and "did you mean '--overwrite'" in proc.stderr
    proc = call("convolve", "r", "k", "-o", "s", "--mode", "vlaid", cwd=tmp_path,
                capsys=capsys)
    assert proc.returncode == 2 and "did you mean 'valid'?" in proc.stderr
    # info has no progress output, so no -q
    proc = call("info", "-q", "x.zarr", cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 2 and "unrecognized arguments: -q" in proc.stderr
    (tmp_path / "spec.json").write_text(json.dumps({"network": {}, "optoins": {}}))
    one_line_error(call("compute", "spec.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "spec.json", "optoins", "did you mean 'options'?")
    doc = json.loads(small_spec(tmp_path).read_text())
    doc["options"] = {"dtt": 1}
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    one_line_error(call("compute", "spec.json", "-o", "k.zarr", cwd=tmp_path, capsys=capsys),
                   "spec.json", "dtt", "did you mean 'dt'?")


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
    # complete samples only: the first and last 50 ms (800 bins) of the rates are dropped
    np.testing.assert_array_equal(signals.time.values, rates.time.values[800:-800])
    assert signals.attrs["mode"] == "valid"
    assert signals.attrs["complete_time"] == [float(signals.time[0]), float(signals.time[-1])]
    # independent check of one channel: direct sum over lags of H (summed over Y)
    h = H.sum("Y").sel(probe_channel="lfp:6").load()
    lags = np.rint(h.coords["tau"].values / 0.0625).astype(int)
    t_index = 4000
    expected = 0.0
    for x in ("E", "I"):
        nu = rates.sel(X=x).values
        expected += np.sum(h.sel(X=x).values * nu[t_index - lags])
    got = signals.sel(probe_channel="lfp:6", time=rates.time[t_index]).values
    assert got == pytest.approx(expected, rel=1e-9)
    # the demo's signals equal a convolution of its rates ('valid' part)
    direct = xkernels.convolve(rates, H, mode="valid").sel(probe_channel="lfp:6")
    np.testing.assert_allclose(signals.sel(probe_channel="lfp:6"), direct, rtol=1e-9)
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["populations"]["E"]["n_full"] == 8192
    assert 0.5 < summary["populations"]["E"]["rate"] < 50
    for png in ("kernels.png", "signals.png"):
        assert (demo / png).stat().st_size > 20_000


@pytest.mark.slow
def test_compute_convolve_info_roundtrip(demo, tmp_path):
    proc = run("compute", str(demo / "spec.json"), "-o", "k.zarr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    H1 = xr.open_zarr(tmp_path / "k.zarr")["kernels"].load()
    H0 = xr.open_zarr(demo / "kernels.zarr")["kernels"].load()
    np.testing.assert_allclose(H1.values, H0.values, rtol=1e-12, atol=0)
    proc = run("convolve", str(demo / "rates.zarr"), "k.zarr", "-o", "s.zarr", "-q",
               "--mode", "valid", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    s1 = xr.open_zarr(tmp_path / "s.zarr")["signals"].load()
    s0 = xr.open_zarr(demo / "signals.zarr")["signals"].load()
    np.testing.assert_allclose(s1.values, s0.values, rtol=1e-10, atol=0)
    for store, words in (("k.zarr", ["kernel store", "lfp: 13 channels", "eeg: 3"]),
                         ("s.zarr", ["signals store", "time: 150", "probe cdm"]),
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




@pytest.mark.slow
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
    assert xr.open_zarr(tmp_path / "s.zarr")["signals"].sizes["probe_channel"] == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.zarr.lock", "s.zarr"]


def test_sweep_command_end_to_end(demo, tmp_path, capsys):
    """A real sweep from the demo's spec: the stored grid equals compute_kernels per point."""
    import xkernels
    from xkernels.spec import Network

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


# ------------------------------------------------------------------ what a user expects


def small_spec(folder: Path, tau: float = 20.0) -> Path:
    """A spec file of the README network with the CDM probe only (fast sweeps)."""
    from xkernels.app.files import spec_document

    doc = spec_document(xkernels.Network.example(), {"cdm": xkernels.CurrentDipoleMomentZ()},
                        {"dt": 2 ** -4, "tau": tau})
    path = folder / "spec.json"
    path.write_text(json.dumps(doc))
    return path


def test_messages_say_overwrite_not_the_python_keyword(tmp_path, capsys):
    spec = small_spec(tmp_path, tau=2.0)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("keep")
    outputs = []
    for args in (("compute", str(spec), "-o", "plain", "--overwrite"),
                 ("sweep", str(spec), "grid.json", "-o", "plain"),
                 ("sweep", str(spec), "grid.json", "-o", "plain", "--overwrite")):
        (tmp_path / "grid.json").write_text(json.dumps({"Vrest": [-65.0, -60.0]}))
        proc = call(*args, cwd=tmp_path, capsys=capsys)
        one_line_error(proc, "plain", "--overwrite")
        outputs.append(proc.stderr)
    assert not [o for o in outputs if "overwrite=True" in o], outputs
    assert (tmp_path / "plain" / "keep.txt").read_text() == "keep"
    assert "--overwrite replaces kernel stores only" in outputs[0]


def test_spec_paths_relative_to_the_spec_file(tmp_path, capsys):
    from xkernels.spec.presets import CELLS_DIR

    folder = tmp_path / "model"
    (folder / "cells").mkdir(parents=True)
    (folder / "cells" / "E.hoc").write_text((CELLS_DIR / "BallAndSticks_E.hoc").read_text())
    (folder / "cells" / "T.hoc").write_text(
        (CELLS_DIR / "BallAndSticksTemplate.hoc").read_text())
    spec = small_spec(folder, tau=2.0)
    doc = json.loads(spec.read_text())
    doc["network"]["populations"][0]["cell"].update(
        morphology="cells/E.hoc", templatefile="cells/T.hoc")
    spec.write_text(json.dumps(doc))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = call("compute", "../model/spec.json", "-o", "k.zarr", "-q", cwd=elsewhere,
                capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    stored = json.loads(xkernels.read_attrs(elsewhere / "k.zarr")["spec"])
    assert stored["populations"][0]["cell"]["morphology"] == str(folder / "cells" / "E.hoc")
    doc["network"]["populations"][0]["cell"]["morphology"] = "cells/missing.hoc"
    spec.write_text(json.dumps(doc))
    one_line_error(call("compute", "../model/spec.json", "-o", "k2.zarr", cwd=elsewhere,
                        capsys=capsys),
                   "spec file '../model/spec.json'", "morphology",
                   str(folder / "cells" / "missing.hoc"), "not found")


def test_unknown_grid_path_lists_the_closest_few(tmp_path, capsys):
    spec = small_spec(tmp_path, tau=2.0)
    (tmp_path / "grid.json").write_text(json.dumps(
        {"connections[E->E].synapse.wieght": [1e-4, 2e-4]}))
    proc = call("sweep", str(spec), "grid.json", "-o", "s.zarr", cwd=tmp_path, capsys=capsys)
    one_line_error(proc, "grid.json", "unknown parameter path", "did you mean",
                   "connections[E->E].synapse.weight")
    assert len(proc.stderr) < 800, len(proc.stderr)
    assert not (tmp_path / "s.zarr").exists()


def test_grid_points_the_specification_refuses(tmp_path, capsys):
    """Issue 20: a grid point is validated as the spec file is (a negative conductance)."""
    spec = small_spec(tmp_path, tau=2.0)
    (tmp_path / "grid.json").write_text(json.dumps(
        {"connections[E->E].synapse.weight": [1e-4, -1e-4]}))
    proc = call("sweep", str(spec), "grid.json", "-o", "s.zarr", cwd=tmp_path, capsys=capsys)
    one_line_error(proc, "connections[E->E].synapse.weight=-0.0001 is invalid",
                   "connections['E->E'].synapse.weight must be >= 0 in a conductance-based "
                   "network", "got -0.0001")
    assert not (tmp_path / "s.zarr").exists()


def test_rates_store_with_wrong_dt_refused(demo, tmp_path, capsys):
    rates = xr.open_zarr(demo / "rates.zarr")["rates"].load()
    rates.assign_attrs(dt=0.1).to_dataset().to_zarr(tmp_path / "r.zarr")
    one_line_error(call("convolve", "r.zarr", str(demo / "kernels.zarr"), "-o", "s.zarr",
                        cwd=tmp_path, capsys=capsys),
                   "r.zarr", "dt = 0.1 ms disagrees", "0.0625 ms")
    assert not (tmp_path / "s.zarr").exists()


def start_sweep(tmp_path: Path, n_points: int, env: dict | None = None
                ) -> tuple[subprocess.Popen, list[str]]:
    spec = small_spec(tmp_path, tau=50.0)
    (tmp_path / "grid.json").write_text(json.dumps(
        {"Vrest": [-75.0 + 0.5 * i for i in range(n_points)]}))  # one simulation per point
    args = [sys.executable, "-m", "xkernels", "sweep", str(spec), "grid.json", "-o",
            "s.zarr", "-q"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True), args


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "Ctrl-C"])
def test_interrupted_sweep_keeps_points_and_resumes(tmp_path, how):
    import signal

    from conftest import file_stamps

    from xkernels.store import completed_points
    from xkernels.store.publish import KILL_ENV, KILL_SIGNAL_ENV

    n = 40
    # deterministic: the sweep signals itself right after its second stored block
    proc, args = start_sweep(tmp_path, n, {
        KILL_ENV: "region:kernels-flagged#2",
        KILL_SIGNAL_ENV: "KILL" if how == "SIGKILL" else "INT"})
    out, err = proc.communicate(timeout=300)
    done = completed_points(tmp_path / "s.zarr")
    kept = int(done.sum())
    assert 0 < kept < n, kept  # the kill happened mid-sweep, and the points are kept
    if how == "Ctrl-C":
        assert proc.returncode == 130
        assert "Traceback" not in err and err.splitlines()[-1] == (
            f"xkernels sweep: interrupted; {kept} of {n} points stored in 's.zarr'; run "
            "the same command again to compute the rest")
    else:
        assert proc.returncode == -signal.SIGKILL
    chunks = tmp_path / "s.zarr" / "kernels" / "c"
    before = {k: v for k, v in file_stamps(chunks).items()
              if done[int(k.split(os.sep)[0])]}
    rerun = subprocess.run(args[:-1], cwd=tmp_path, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming s.zarr: {kept} of {n} points already computed" in rerun.stderr
    assert completed_points(tmp_path / "s.zarr").all()
    after = file_stamps(chunks)
    assert {k: after[k] for k in before} == before  # kept points were not recomputed
    S = xkernels.open_kernels(tmp_path / "s.zarr")
    assert np.isfinite(S.values).all() and S.sizes["Vrest"] == n


def test_compute_with_linearisation(tmp_path, capsys):
    """--linearisation replaces the spec's option; the store records the mode and the
    resting state; a bad mode in SPEC.json is a one-line error naming it."""
    import xkernels
    from xkernels.app.files import spec_document
    from xkernels.spec import Network

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


def test_compute_with_operating_point(tmp_path, capsys):
    """--operating-point (or the spec's option) reaches the kernels; the store records
    it; a bad value in SPEC.json is a one-line error naming it, before anything is
    written."""
    import xkernels
    from xkernels.app.files import spec_document
    from xkernels.spec import Network

    probes = {"cdm": xkernels.CurrentDipoleMomentZ()}
    doc = spec_document(Network.example(), probes, {"tau": 1.0})
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    proc = call("compute", "spec.json", "-o", "k.zarr", "--operating-point", "mean-input",
                "-q", cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    H = xkernels.open_kernels(tmp_path / "k.zarr")
    assert H.attrs["operating_point"] == "mean-input"
    ref = xkernels.compute_kernels(Network.example(), probes, tau=1.0,
                                   operating_point="mean-input")
    np.testing.assert_array_equal(H.values, ref.values)
    doc["options"].update(operating_point="mean-input", g_eff=False)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    one_line_error(call("compute", "bad.json", "-o", "b.zarr", cwd=tmp_path, capsys=capsys),
                   "bad.json", "operating_point='mean-input' needs g_eff=True")
    assert not (tmp_path / "b.zarr").exists()


def test_help_imports_no_simulator(tmp_path):
    """``--help`` of xkernels and of every command imports neither NEURON nor LFPy (nor
    dask.array, scipy.stats): the help is fast."""
    code = ("import sys; from xkernels.app.cli import main, COMMANDS\n"
            "for argv in [['--help']] + [[c.name, '--help'] for c in COMMANDS]:\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            "print('IMPORTED', *[m for m in ('neuron', 'LFPy', 'lfpykit', 'dask.array', "
            "'scipy.stats', 'pydantic') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].split() == ["IMPORTED", "pydantic"]
    assert "usage: xkernels validate" in proc.stdout


def test_info_shows_every_stored_option(tmp_path, capsys):
    from xkernels.app.files import spec_document

    H = xkernels.compute_kernels(
        xkernels.Network.example(), {"cdm": xkernels.CurrentDipoleMomentZ()}, dt=2 ** -4,
        tau=1.0, averaging="reference", operating_point="rest", g_eff=True)
    xkernels.write_kernels(H, tmp_path / "k.zarr")
    proc = call("info", str(tmp_path / "k.zarr"), cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    options = json.loads(H.attrs["options"])
    shown = proc.stdout.split("  options:\n")[1].split("  sweep:")[0].splitlines()
    assert [line.split(":")[0].strip() for line in shown] == list(options)
    assert {"Vrest", "g_eff", "linearisation", "averaging", "depth_nodes",
            "operating_point"} <= set(options)
    assert "    depth_nodes: 5" in shown and "    averaging: reference" in shown
    assert "cdm: 1 channel [nA µm]" in proc.stdout and "4 kernels (2 X x 2 Y)" in proc.stdout
    del spec_document


@pytest.mark.slow
def test_ctrl_c_during_compute_leaves_nothing(tmp_path):
    """SIGINT while the kernel store is being published: one line, exit 130, no store
    (nor any temporary sibling): running the command again starts afresh (the result
    of a rerun is an uninterrupted run)."""
    from xkernels.store.publish import KILL_ENV, KILL_SIGNAL_ENV

    spec = small_spec(tmp_path, tau=2.0)
    args = [sys.executable, "-m", "xkernels", "compute", str(spec), "-o", "k.zarr", "-q"]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT),
                                   **{KILL_ENV: "publish:synced", KILL_SIGNAL_ENV: "INT"}))
    assert proc.returncode == 130
    assert proc.stderr.splitlines() == ["xkernels compute: interrupted; nothing written to "
                                        "'k.zarr'; run the same command again"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".k.zarr.lock", "spec.json"], left  # the lock file stays, as always


@pytest.mark.slow
def test_ctrl_c_during_validate_on_a_cluster_one_line_and_resumes(tmp_path):
    """A terminal's Ctrl-C (SIGINT to the whole process group: the command and its dask
    workers) after the ground truth's second stored batch: one line, exit 130, the
    batches kept; the same command again resumes and gives the uninterrupted result."""
    from test_hybrid import contact_probes, small_network

    from xkernels.hybrid import correlated_poisson
    from xkernels.probes import probe_definition
    from xkernels.store.publish import KILL_ENV, KILL_SIGNAL_ENV

    net = small_network(6, 2, conductance_based=False, p=0.5)
    doc = {"network": net.to_dict(),
           "probes": {k: probe_definition(v) for k, v in contact_probes(2).items()},
           "options": {"n_positions": 20, "seed": 3}}
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    correlated_poisson({"E": 6, "I": 2}, {"E": 20.0, "I": 40.0}, t_stop=60.0, seed=1
                       ).save(tmp_path / "spikes.npz", t_stop=60.0)
    args = [sys.executable, "-m", "xkernels", "validate", "spec.json", "spikes.npz",
            "--transient", "10", "-q"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(args + ["-o", "out.zarr", "--store", "gt.zarr", "--workers", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          start_new_session=True,
                          env=dict(env, **{KILL_ENV: "region:partial-flagged#2",
                                           KILL_SIGNAL_ENV: "INT-GROUP"}))
    assert proc.returncode == 130, proc.stderr
    # one line after the interrupt (before it, warnings such as dask's about a busy
    # dashboard port may have been printed): no traceback of any process
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(
        "xkernels validate: interrupted; 2 of 8 batches of cells stored in 'gt.zarr'")
    assert not (tmp_path / "out.zarr").exists()
    from xkernels.app.cli import main

    old = Path.cwd()
    os.chdir(tmp_path)
    try:  # resumed in this process, without a cluster
        assert main(args[3:] + ["-o", "out.zarr", "--store", "gt.zarr", "--workers", "1"]) == 0
    finally:
        os.chdir(old)
    direct = xkernels.validate(net, xkernels.Spikes.load(tmp_path / "spikes.npz")[0],
                               contact_probes(2), t_stop=60.0, transient=10.0,
                               client="sync", seed=1234, n_positions=20, kernel_seed=3)
    xr.testing.assert_equal(xr.open_zarr(tmp_path / "out.zarr").load(), direct)
def test_compute_with_solver(tmp_path, capsys):
    """--solver reaches the kernels (recorded in the options attribute); a misspelt one
    is refused with the allowed values."""
    import xkernels
    from xkernels.app.files import spec_document
    from xkernels.spec import Network

    probes = {"cdm": xkernels.CurrentDipoleMomentZ()}
    doc = spec_document(Network.example(), probes, {"tau": 1.0})
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    proc = call("compute", "spec.json", "-o", "k.zarr", "--solver", "neuron", "-q",
                cwd=tmp_path, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    H = xkernels.open_kernels(tmp_path / "k.zarr")
    assert json.loads(H.attrs["options"])["solver"] == "neuron"
    ref = xkernels.compute_kernels(Network.example(), probes, tau=1.0, solver="neuron")
    np.testing.assert_array_equal(H.values, ref.values)
    proc = call("compute", "spec.json", "-o", "b.zarr", "--solver", "lineer", cwd=tmp_path,
                capsys=capsys)
    assert proc.returncode != 0 and "did you mean 'linear'" in proc.stderr

"""Mechanisms: compiled on first use into a keyed cache, safe under concurrency, and
Exp2SynI produces the documented waveform."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from xkernels.engine import mechanisms

ROOT = Path(__file__).resolve().parents[1]

COMPILE_AND_LOAD = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from xkernels.engine import mechanisms
    build = mechanisms.load_mechanisms(cache=Path({cache!r}))
    from neuron import h
    assert hasattr(h, "Exp2SynI")
    print(build)
""")


def _run_many(cache: Path, n: int) -> list[str]:
    code = COMPILE_AND_LOAD.format(root=str(ROOT), cache=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=cache)
             for _ in range(n)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(out.strip().splitlines()[-1])
    return outputs


@pytest.mark.slow
def test_concurrent_first_use_compiles_once(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    outputs = _run_many(cache, 3)
    assert len(set(outputs)) == 1
    builds = [p for p in cache.iterdir() if p.is_dir()]
    assert [p.name for p in builds] == [Path(outputs[0]).name]
    assert mechanisms._find_library(builds[0]) is not None
    # no temporaries or x86_64 folders left behind in the working folder
    assert not any(p.name.startswith(".") and p.is_dir() for p in cache.iterdir())
    assert not (cache / "x86_64").exists()
    # second use: the cached build is reused, not rebuilt
    stamp = mechanisms._find_library(builds[0]).stat().st_mtime_ns
    _run_many(cache, 1)
    assert mechanisms._find_library(builds[0]).stat().st_mtime_ns == stamp


def test_build_key_depends_on_sources(tmp_path):
    mod = tmp_path / "mod"
    mod.mkdir()
    for path in mechanisms.mod_sources():
        (mod / path.name).write_text(path.read_text())
    source = (mechanisms.MOD_DIR / "exp2synI.mod").read_text()
    key = mechanisms.build_key(mod)
    assert key == mechanisms.build_key(mechanisms.MOD_DIR)
    (mod / "exp2synI.mod").write_text(source + "\n: changed\n")
    assert mechanisms.build_key(mod) != key


def test_missing_mod_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .mod files"):
        mechanisms.mod_sources(tmp_path)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XKERNELS_CACHE_DIR", str(tmp_path / "c"))
    assert mechanisms.cache_root() == tmp_path / "c"


def test_mod_sources_ship_as_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"xkernels.mod" = "mod"' in pyproject
    assert mechanisms.MOD_DIR == ROOT / "mod"
    assert [p.name for p in mechanisms.mod_sources()] == ["exp2synI.mod", "xkih.mod",
                                                         "xkkdr.mod", "xkna.mod"]


def test_exp2syni_waveform(mechanisms_loaded):
    """Peak-normalised double exponential, inward for a positive weight."""
    from neuron import h

    h.load_file("stdrun.hoc")
    tau1, tau2, weight, dt = 0.5, 3.0, 0.2, 2 ** -5
    soma = h.Section(name="probe_soma")
    try:
        soma.insert("pas")
        syn = h.Exp2SynI(soma(0.5))
        syn.tau1, syn.tau2 = tau1, tau2
        nc = h.NetCon(None, syn)
        nc.weight[0] = weight
        rec = h.Vector()
        rec.record(syn._ref_i, dt)
        h.CVode().active(0)
        h.dt = dt
        h.finitialize(-65.0)
        nc.event(1.0)
        h.continuerun(15.0)
        current = rec.as_numpy().copy()
    finally:
        del nc, syn
        h.delete_section(sec=soma)
    # fixed-step NEURON evaluates i from the states at the start of each step: the value
    # recorded at t belongs to the waveform at t - dt
    t = np.arange(current.size) * dt - 1.0 - dt
    t_peak = tau1 * tau2 / (tau2 - tau1) * np.log(tau2 / tau1)
    norm = 1.0 / (np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1))
    expected = np.where(t > 0, -weight * norm * (np.exp(-t / tau2) - np.exp(-t / tau1)), 0.0)
    after = t >= 0
    np.testing.assert_allclose(current[after], expected[after], rtol=1e-9, atol=1e-12)
    assert current.min() == pytest.approx(-weight, rel=2e-3)
    assert current.max() <= 0.0


def test_load_is_idempotent(mechanisms_loaded):
    assert mechanisms.load_mechanisms() is None
    assert os.path.isdir(mechanisms.cache_root())


WHEEL_SMOKE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {site!r})
    import numpy as np
    import xkernels
    assert xkernels.__file__.startswith({site!r}), xkernels.__file__
    H = xkernels.compute_kernels(xkernels.Network.example(),
                                 {{"cdm": xkernels.CurrentDipoleMomentZ()}}, tau=1.0)
    assert np.abs(H.values).max() > 0
    print("ok")
""")


@pytest.mark.slow
def test_works_from_a_built_wheel(tmp_path):
    """The wheel ships mod/ and the cells; mechanisms compile into the user cache,
    with no x86_64/ folder in the working directory."""
    import zipfile

    wheel_dir = tmp_path / "wheel"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "-q", "-w", str(wheel_dir)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("xkernels-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "xkernels/mod/exp2synI.mod" in names
        assert "xkernels/spec/cells_data/BallAndSticks_E.hoc" in names
        archive.extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    # PATH without the interpreter's scripts folder: nrnivmodl must still be found
    env = dict(os.environ, XKERNELS_CACHE_DIR=str(tmp_path / "cache"), PATH="/usr/bin:/bin")
    run = subprocess.run([sys.executable, "-c", WHEEL_SMOKE.format(site=str(site))], cwd=work,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ok")
    assert list(work.iterdir()) == []

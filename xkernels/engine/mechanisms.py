"""Compile and load xkernels' NEURON mechanisms without a manual step.

The ``.mod`` sources shipped in ``xkernels/mod`` are compiled with ``nrnivmodl`` on first
use into a per-user cache directory keyed by the sources, the NEURON version and the
machine architecture, then loaded into the running NEURON.  Concurrent first uses by
several processes are serialised with a file lock; a finished build is published by an
atomic rename, so a half-built cache entry is never loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from filelock import FileLock

# NEURON without its GUI: no "no DISPLAY" warning on headless machines
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")



def _find_mod_dir() -> Path:
    """The NMODL sources: ``xkernels/mod`` inside an installed wheel, the repository's
    top-level ``mod/`` in a source checkout or an editable install."""
    installed = Path(__file__).resolve().parents[1] / "mod"
    if any(installed.glob("*.mod")):
        return installed
    return Path(__file__).resolve().parents[2] / "mod"


MOD_DIR = _find_mod_dir()
#: NEURON keeps global state and is not thread-safe: every simulation in a process holds
#: this lock (re-entrant, so a locked caller may call locked helpers).
NEURON_LOCK = threading.RLock()
_CACHE_ENV = "XKERNELS_CACHE_DIR"


def cache_root() -> Path:
    """Directory holding compiled mechanism builds.

    ``$XKERNELS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xkernels`` or
    ``~/.cache/xkernels``.
    """
    if os.environ.get(_CACHE_ENV):
        return Path(os.environ[_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xkernels"


def mod_sources(mod_dir: Path = MOD_DIR) -> list[Path]:
    """Sorted ``.mod`` files of ``mod_dir``."""
    files = sorted(Path(mod_dir).glob("*.mod"))
    if not files:
        raise FileNotFoundError(f"no .mod files found in {mod_dir}")
    return files


def build_key(mod_dir: Path = MOD_DIR) -> str:
    """Hash of the mod sources, NEURON version, Python ABI and architecture."""
    import neuron

    digest = hashlib.sha256()
    for path in mod_sources(mod_dir):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(str(neuron.__version__).encode())
    digest.update(platform.machine().encode())
    digest.update(sys.implementation.cache_tag.encode())
    return digest.hexdigest()[:16]


def _find_library(build_dir: Path) -> Path | None:
    for pattern in ("*/libnrnmech.so", "*/.libs/libnrnmech.so", "*/libnrnmech.dylib",
                    "*/.libs/libnrnmech.dylib", "*/nrnmech.dll"):
        hits = sorted(build_dir.glob(pattern))
        if hits:
            return hits[0]
    return None


def find_nrnivmodl() -> str | None:
    """Path of NEURON's ``nrnivmodl``: on PATH, else beside this Python's scripts.

    pip puts it in the interpreter's scripts folder (or the user scheme's), which need
    not be on PATH (``pip install --user``, a venv that is not activated).
    """
    found = shutil.which("nrnivmodl")
    if found:
        return found
    import sysconfig

    folders = {Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))}
    try:
        folders.add(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    except KeyError:
        pass
    for folder in folders:
        candidate = folder / "nrnivmodl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def compile_mechanisms(mod_dir: Path = MOD_DIR, cache: Path | None = None) -> Path:
    """Compile ``mod_dir`` into the cache if needed and return the build directory.

    Parameters
    ----------
    mod_dir : pathlib.Path
        Directory with ``.mod`` sources.
    cache : pathlib.Path, optional
        Cache root (default :func:`cache_root`).

    Returns
    -------
    pathlib.Path
        Build directory containing ``<arch>/libnrnmech.so``.

    Raises
    ------
    RuntimeError
        If ``nrnivmodl`` is missing or fails (its output is included).
    """
    cache = Path(cache) if cache is not None else cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"mechanisms-{build_key(mod_dir)}"
    if _find_library(target) is not None:
        return target
    with FileLock(str(cache / f"{target.name}.lock")):
        if _find_library(target) is not None:  # built by another process meanwhile
            return target
        nrnivmodl = find_nrnivmodl()
        if nrnivmodl is None:
            raise RuntimeError("nrnivmodl not found on PATH; install NEURON (pip install "
                               "neuron) in this environment")
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache))
        try:
            for src in mod_sources(mod_dir):
                shutil.copy2(src, work / src.name)
            proc = subprocess.run([nrnivmodl], cwd=work, capture_output=True, text=True)
            if _find_library(work) is None:
                raise RuntimeError(f"nrnivmodl failed in {work} (exit {proc.returncode}):\n"
                                   f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return target


@functools.cache
def signatures(mod_dir: Path = MOD_DIR) -> dict[str, dict[str, list[str]]]:
    """The signature of every mechanism of our mod files: its PARAMETER and STATE names,
    as NEURON lists them (``name_suffix`` for density mechanisms).

    Examples
    --------
    >>> signatures()["Exp2SynI"]
    {'PARAMETER': ['tau1', 'tau2'], 'STATE': ['rise', 'decay']}
    """
    out = {}
    for path in mod_sources(mod_dir):
        text = re.sub(r"(?s)\bCOMMENT\b.*?\bENDCOMMENT\b|:[^\n]*", "", path.read_text())
        kind, name = re.search(r"\b(POINT_PROCESS|SUFFIX)\s+(\w+)", text).groups()
        suffix = "" if kind == "POINT_PROCESS" else f"_{name}"
        out[name] = {}
        for block in ("PARAMETER", "STATE"):
            body = re.search(rf"\b{block}\s*{{([^}}]*)}}", text).group(1)
            body = re.sub(r"\([^)]*\)|<[^>]*>|=\s*\S+", " ", body)
            out[name][block] = [f"{var}{suffix}" for var in re.findall(r"[A-Za-z_]\w*", body)]
    return out


def load_mechanisms(mod_dir: Path = MOD_DIR, cache: Path | None = None) -> Path | None:
    """Make our mechanisms available in this process's NEURON, verified by signature.

    Compiles on first use (see :func:`compile_mechanisms`).  If every mechanism of our
    mod files is already defined (loaded earlier, by us or by another package compiling
    the same sources) nothing is loaded and ``None`` is returned.  Every mechanism must
    have the parameters and states of our source (:func:`signatures`): a mechanism of
    the same name loaded from elsewhere is refused.

    Returns
    -------
    pathlib.Path or None
        The build directory that was loaded, or ``None`` if nothing was needed.

    Raises
    ------
    RuntimeError
        A mechanism still undefined after loading, or defined with another signature.
    """
    from neuron import h

    expected = signatures(mod_dir)
    present = [name for name in expected if hasattr(h, name)]
    _refuse_foreign(h, {name: expected[name] for name in present})
    if len(present) == len(expected):
        return None
    build = compile_mechanisms(mod_dir, cache)
    library = _find_library(build)
    h.nrn_load_dll(str(library))
    missing = [name for name in expected if not hasattr(h, name)]
    if missing:
        raise RuntimeError(f"loaded {library} but mechanisms {missing} are still undefined")
    _refuse_foreign(h, expected)
    return build


def _refuse_foreign(h, expected: dict[str, dict[str, list[str]]]) -> None:
    """Refuse a defined mechanism whose signature (its PARAMETER and STATE names, as
    NEURON's ``MechanismStandard`` lists them) is not that of our source."""
    for name, signature in expected.items():
        got = {}
        for block, vartype in (("PARAMETER", 1), ("STATE", 3)):
            standard, text = h.MechanismStandard(name, vartype), h.ref("")
            got[block] = []
            for i in range(int(standard.count())):
                standard.name(text, i)
                got[block].append(text[0])
        if got != signature:
            raise RuntimeError(
                f"NEURON mechanism {name!r} is not xkernels' own: it has {got}, xkernels' "
                f"source defines {signature}; a mechanism of the same name was loaded from "
                "elsewhere (another package or an nrnivmodl folder): use xkernels in a "
                "process without it")

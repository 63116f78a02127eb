"""Compile and load NEURON mechanisms without a manual step: xkernels' own and a user's.

The ``.mod`` sources shipped in ``xkernels/mod`` (and any folder of NMODL files a cell
specification names, :func:`load_user_mechanisms`) are compiled with ``nrnivmodl`` on
first use into a per-user cache directory keyed by the sources, the NEURON version and
the machine architecture, then loaded into the running NEURON.  Concurrent first uses by
several processes are serialised with a file lock; a finished build is published by an
atomic rename, so a half-built cache entry is never loaded.  A compilation says so on
stderr (one line), and a failed one names the compiler's first error line.

Several libraries live in one process: ours and one per user folder.  NEURON refuses a
second definition of a mechanism name in the middle of loading a library (leaving it
half loaded), so a user's mechanism whose name is already defined -- one of ours, a
NEURON built-in such as ``hh``, or one of another folder -- is refused before loading.
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


def _build_inputs(mod_dir: Path) -> list[Path]:
    """The files a build compiles: the ``.mod`` sources and the ``.inc`` files they may
    INCLUDE."""
    return sorted([*mod_sources(mod_dir), *Path(mod_dir).glob("*.inc")])


def build_key(mod_dir: Path = MOD_DIR) -> str:
    """Hash of the mod sources, NEURON version, Python ABI and architecture."""
    import neuron

    digest = hashlib.sha256()
    for path in _build_inputs(mod_dir):
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
        If ``nrnivmodl`` is missing or fails: the message names the compiler's first
        error line and the log file holding its whole output.
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
            for src in _build_inputs(mod_dir):
                shutil.copy2(src, work / src.name)
            print(f"xkernels: compiling the NEURON mechanisms of {mod_dir} (once; cached in "
                  f"{target}) ...", file=sys.stderr, flush=True)
            proc = subprocess.run([nrnivmodl], cwd=work, capture_output=True, text=True)
            if _find_library(work) is None:
                log = cache / f"{target.name}.log"
                log.write_text(f"{proc.stdout}\n{proc.stderr}")
                raise RuntimeError(f"nrnivmodl could not compile {mod_dir} (exit "
                                   f"{proc.returncode}): {first_error(proc.stdout + proc.stderr)}"
                                   f" (whole output in {log})")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return target


def first_error(output: str) -> str:
    r"""The compiler's first error line in ``nrnivmodl`` output (nocmodl's ``Error:``
    line, else the first line mentioning an error), stripped.

    Examples
    --------
    >>> first_error("syntax error:\n Error: Illegal block at line 10 in file bad.mod\n")
    'Error: Illegal block at line 10 in file bad.mod'
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for test in (lambda line: "Error:" in line, lambda line: "error" in line.lower()):
        hit = next((line for line in lines if test(line)), None)
        if hit is not None:
            return hit
    return lines[-1] if lines else "no output"


_NAME = re.compile(r"\b(POINT_PROCESS|SUFFIX|ARTIFICIAL_CELL)\s+(\w+)")


def _uncommented(path: Path) -> str:
    return re.sub(r"(?s)\bCOMMENT\b.*?\bENDCOMMENT\b|:[^\n]*", "", path.read_text())


def mechanism_names(mod_dir: Path) -> dict[str, str]:
    """The mechanisms a folder of NMODL files defines: name -> file name.

    Parameters
    ----------
    mod_dir : pathlib.Path
        Folder of ``.mod`` files.

    Returns
    -------
    dict of str to str
        The name each file gives in its ``SUFFIX``, ``POINT_PROCESS`` or
        ``ARTIFICIAL_CELL`` statement.

    Raises
    ------
    ValueError
        A file defining no mechanism, or two files defining the same name.

    Examples
    --------
    >>> mechanism_names(MOD_DIR)["xkna"]
    'xkna.mod'
    """
    out: dict[str, str] = {}
    for path in mod_sources(mod_dir):
        found = _NAME.search(_uncommented(path))
        if found is None:
            raise ValueError(f"{path} defines no mechanism (no SUFFIX, POINT_PROCESS or "
                             "ARTIFICIAL_CELL statement in its NEURON block)")
        name = found.group(2)
        if name in out:
            raise ValueError(f"{path.name} and {out[name]} in {mod_dir} both define "
                             f"mechanism {name!r}")
        out[name] = path.name
    return out


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
        text = _uncommented(path)
        kind, name = _NAME.search(text).groups()
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


#: Folders of user mechanisms loaded in this process: build key -> (folder, names).
_USER_LIBRARIES: dict[str, tuple[Path, dict[str, str]]] = {}


def load_user_mechanisms(mod_dir: str | Path, field: str = "mechanisms",
                         cache: Path | None = None) -> Path | None:
    """Compile (once per content, cached like ours) and load a user's NMODL folder.

    The folder's mechanisms join ours in this process.  A folder whose sources were
    loaded already (this folder or a copy of it) is not loaded again.  Names are
    checked before NEURON sees the library: a mechanism name that is one of xkernels'
    own, a NEURON built-in (``hh``, ``pas``, ``Exp2Syn``...) or defined by another
    folder loaded earlier is refused (NEURON would stop half-way through loading).

    Parameters
    ----------
    mod_dir : str or pathlib.Path
        Folder of ``.mod`` (and ``.inc``) files.
    field : str
        The specification field naming the folder, for messages.
    cache : pathlib.Path, optional
        Cache root (default :func:`cache_root`).

    Returns
    -------
    pathlib.Path or None
        The build directory loaded, None if these sources were loaded already.

    Raises
    ------
    ValueError
        No ``.mod`` file in the folder, a name clash, or sources that do not compile
        (with the compiler's first error line).
    """
    from neuron import h

    mod_dir = Path(mod_dir)
    with NEURON_LOCK:
        try:
            key = build_key(mod_dir)
            names = mechanism_names(mod_dir)
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"{field}: {err}") from None
        if key in _USER_LIBRARIES:
            return None
        ours = signatures()
        for name, file in names.items():
            if name in ours:
                raise ValueError(f"{field}: {mod_dir / file} defines mechanism {name!r}, a "
                                 f"name of one of xkernels' own mechanisms {sorted(ours)}; "
                                 "rename it in its NEURON block")
            if hasattr(h, name):
                owner = next((str(folder) for folder, loaded in _USER_LIBRARIES.values()
                              if name in loaded), None)
                where = (f"by the mechanisms of {owner} loaded earlier" if owner else
                         "in NEURON already (a built-in or a library loaded earlier)")
                raise ValueError(f"{field}: {mod_dir / file} defines mechanism {name!r}, "
                                 f"which is defined {where}; rename it in its NEURON "
                                 "block (two definitions of one name cannot be loaded "
                                 "into one process)")
        try:
            build = compile_mechanisms(mod_dir, cache)
        except RuntimeError as err:
            raise ValueError(f"{field}: the NMODL files do not compile: {err}") from None
        library = _find_library(build)
        h.nrn_load_dll(str(library))
        missing = [name for name in names if not hasattr(h, name)]
        if missing:
            raise RuntimeError(f"loaded {library} but mechanisms {missing} are still "
                               "undefined")
        _USER_LIBRARIES[key] = (mod_dir, names)
        return build

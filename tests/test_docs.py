"""The documentation: the site builds with warnings as errors, every docstring example
runs, the public API's docstrings pass numpydoc's checks, the rendered notebooks are the
committed ones.

Needs the documentation tools, which the ``test`` extra installs (a missing tool fails,
it does not skip); the build runs offline (``XKERNELS_DOCS_OFFLINE=1`` disables
intersphinx) on a copy of ``docs/``, so nothing is written into the checkout.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import xkernels

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# ----------------------------------------------------------------------------------
# the public API
# ----------------------------------------------------------------------------------
PUBLIC_MODULES = ["xkernels", "xkernels.spec", "xkernels.probes", "xkernels.engine",
                  "xkernels.store", "xkernels.signals", "xkernels.sweeps", "xkernels.hybrid",
                  "xkernels.compat", "xkernels.io", "xkernels.units"]


def public_objects() -> dict[str, object]:
    """Qualified name -> object for every name in the public modules' ``__all__`` and
    every public method and property those classes define themselves."""
    found: dict[str, object] = {}
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants (__version__)
            qualname = f"{obj.__module__}.{obj.__qualname__}"
            found[qualname] = obj
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(value, (classmethod, staticmethod)):
                        value = value.__func__
                    if inspect.isfunction(value) or isinstance(value, property):
                        found[f"{qualname}.{attr}"] = value
    return dict(sorted(found.items()))


# numpydoc checks enforced on every public object (numpydoc.validate codes):
#   GL08  the object has a docstring
#   SS01  it has a summary line                PR01  every parameter is documented
#   SS03  the summary ends with a period       PR02  no unknown parameter is documented
#   RT01  a function that returns something documents what (Returns section)
#   EX01  it has an Examples section (checked on its own, listing every object without
#         one: test_public_objects_have_examples); the examples run as doctests below
ENFORCED = {"GL08", "SS01", "SS03", "PR01", "PR02", "RT01"}

# Known false positives of numpydoc.validate, with the reason:
#   register(cls): numpydoc drops a first argument named ``cls`` as if it were a
#   classmethod's, then reports the documented ``cls`` as unknown.
FALSE_POSITIVES = {("xkernels.probes.registry.register", "PR02")}


def _validate(qualname: str, obj: object) -> list[tuple[str, str]]:
    """numpydoc's errors for ``qualname``; a dataclass's fields may be documented in its
    Attributes section instead of Parameters (they are both)."""
    from numpydoc.docscrape import NumpyDocString
    from numpydoc.validate import validate

    errors = [(code, msg) for code, msg in validate(qualname)["errors"]
              if (qualname, code) not in FALSE_POSITIVES]
    if dataclasses.is_dataclass(obj):
        doc = NumpyDocString(inspect.getdoc(obj) or "")
        documented = {n.strip() for p in doc["Attributes"] + doc["Parameters"]
                      for n in p.name.split(",")}
        fields = {f.name for f in dataclasses.fields(obj)}
        if fields <= documented:
            errors = [(c, m) for c, m in errors if c != "PR01"]
    return errors


@pytest.fixture(scope="module")
def validation_errors() -> dict[str, list[tuple[str, str]]]:
    import numpydoc  # noqa: F401  (in the ``test`` extra)

    return {name: _validate(name, obj) for name, obj in public_objects().items()}


def test_public_api_is_found():
    objects = public_objects()
    assert "xkernels.spec.network.Network.from_json" in objects
    assert "xkernels.store.cache.compute_kernels" in objects
    assert len(objects) > 80


def test_public_docstrings_pass_numpydoc(validation_errors):
    problems = [f"{name}: {code} {msg}" for name, errors in validation_errors.items()
                for code, msg in errors if code in ENFORCED]
    assert not problems, "\n".join(problems)


def test_public_objects_have_examples(validation_errors):
    missing = sorted(name for name, errors in validation_errors.items()
                     if any(code == "EX01" for code, _ in errors))
    assert not missing, "public objects without an Examples section:\n" + "\n".join(missing)


# ----------------------------------------------------------------------------------
# docstring examples run as doctests
# ----------------------------------------------------------------------------------
def _all_modules() -> list[str]:
    names = ["xkernels"]
    for info in pkgutil.walk_packages(xkernels.__path__, "xkernels."):
        if info.name.split(".")[-1] == "__main__":
            continue
        names.append(info.name)
    return sorted(names)


MODULES = _all_modules()


def test_every_module_is_doctested():
    assert {"xkernels.probes.models", "xkernels.spec.network", "xkernels.store.cache",
            "xkernels.signals.convolution", "xkernels.compat"} <= set(MODULES)


@pytest.mark.parametrize("modname", MODULES)
def test_docstring_examples(modname, tmp_path, monkeypatch):
    module = importlib.import_module(modname)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, modname)
             if t.examples and getattr(t, "filename", None) is not None
             and Path(t.filename).resolve() == Path(module.__file__).resolve()]
    if not tests:
        pytest.skip(f"{modname} has no docstring examples")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"


# ----------------------------------------------------------------------------------
# the notebooks shown on the site are the committed ones, with their outputs
# ----------------------------------------------------------------------------------
def test_rendered_notebooks_are_the_committed_ones():
    import nbformat
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert sources
    for src in sources:
        copy = DOCS / "examples" / src.name
        assert copy.exists(), f"{copy} is missing: run python docs/execute_notebooks.py"
        a, b = nbformat.read(src, 4), nbformat.read(copy, 4)
        assert [(c.cell_type, c.source) for c in a.cells] == \
            [(c.cell_type, c.source) for c in b.cells], \
            f"{copy.name} differs from notebooks/{src.name}: run docs/execute_notebooks.py"
        code = [c for c in b.cells if c.cell_type == "code"]
        assert all(c.execution_count or not c.source.strip() for c in code) and \
            not any(o.output_type == "error" for c in code for o in c.outputs), \
            f"{copy.name} is not fully executed"
        if any("plot" in c.source for c in code):
            assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), \
                f"{copy.name} plots but stores no figure"


# ----------------------------------------------------------------------------------
# the site builds, with warnings as errors, offline
# ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_site_builds(tmp_path):
    # the documentation tools are part of the ``test`` extra: missing is a failure
    import myst_nb  # noqa: F401
    import pydata_sphinx_theme  # noqa: F401
    import sphinx  # noqa: F401

    # build a copy so that autosummary's generated pages never land in the checkout
    src = tmp_path / "repo"
    shutil.copytree(DOCS, src / "docs", ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copy(ROOT / "BENCHMARKS.md", src / "BENCHMARKS.md")
    shutil.copytree(ROOT / "benchmarks", src / "benchmarks",
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    env = dict(os.environ, XKERNELS_DOCS_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-n", "-W", "--keep-going", "-q",
                           "-b", "html", str(src / "docs"), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    # nitpicky (-n): a reference to an xkernels name that resolves nowhere is an error
    unresolved = [line for line in proc.stderr.splitlines()
                  if "reference target not found: xkernels" in line]
    assert not unresolved, "\n".join(unresolved)
    assert proc.returncode == 0, proc.stderr[-5000:]
    api = (out / "api.html").read_text()
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in module.__all__:
            if name == "__version__":
                continue
            obj = getattr(module, name)
            shown = {f"{modname}.{name}"}
            shown |= {f"xkernels.{n}" for n in xkernels.__all__ if getattr(xkernels, n) is obj}
            assert any(f'title="{s}"' in api or f'href="api/generated/{s}.html"' in api
                       for s in shown), f"{modname}.{name} is not in the API reference"
    for page in ("getting-started", "concepts", "validation", "performance", "changelog",
                 "user-guide/compat", "examples/01_readme_example"):
        assert (out / f"{page}.html").exists(), page
    notebook = (out / "examples" / "01_readme_example.html").read_text()
    assert "<img" in notebook  # stored figures rendered, nothing executed

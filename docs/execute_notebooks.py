"""Execute the example notebooks for the documentation: ``python docs/execute_notebooks.py``.

The notebooks in ``notebooks/`` are committed without outputs (the test suite executes
them).  The site renders executed copies, written by this script into
``docs/examples/`` and committed, so that building the site never runs a simulation.
``tests/test_docs.py`` checks that every copy has the same cells as its source.

Sizes are the notebooks' defaults unless overridden with their environment variables
(e.g. ``XKERNELS_NB_T_STOP``).  Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks"
TARGET = Path(__file__).resolve().parent / "examples"


def execute(path: Path) -> None:
    """Execute one notebook in a scratch folder and write it, with outputs, to TARGET."""
    nb = nbformat.read(path, as_version=4)
    work = TARGET / "_run" / path.stem
    work.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYNEST_QUIET": "1"}
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ.pop("XKERNELS_NB_RESULTS", None)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend stores figures as PNG
    try:
        nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3",
                                extra_arguments=["--matplotlib=inline"],
                                resources={"metadata": {"path": str(work)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    shutil.rmtree(TARGET / "_run", ignore_errors=True)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, TARGET / path.name)
    print(f"wrote {TARGET / path.name}")


def main(names: list[str]) -> None:
    """Execute the notebooks named (all of ``notebooks/*.ipynb`` when none are)."""
    paths = [SOURCE / n for n in names] if names else sorted(SOURCE.glob("*.ipynb"))
    for path in paths:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmark: ``xkernels --help`` and ``xkernels COMMAND --help``, before and after.

Each help is a fresh ``python -m xkernels ... --help`` process importing xkernels from
the given source tree (this checkout, and a baseline checkout such as
``git archive main | tar -x -C /tmp/base``), the two interleaved, ``--repeat`` times;
prints the median wall time and the median CPU time of the child (user + system, less
sensitive to other load on a shared machine), and whether the help imported NEURON,
LFPy or dask.array.

Usage::

    git archive main | tar -x -C /tmp/base
    python benchmarks/cli_help.py --baseline /tmp/base [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ([], ["demo"], ["compute"], ["sweep"], ["convolve"], ["validate"], ["info"])
#: Prints which heavy modules a help imported (run in the child after main()).
PROBE = ("import sys, runpy; sys.argv = ['xkernels'] + sys.argv[1:]\n"
         "try:\n    runpy.run_module('xkernels', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('HEAVY', *[m for m in ('neuron', 'LFPy', 'dask.array', 'scipy.stats') "
         "if m in sys.modules], file=sys.stderr)")


def timed(tree: Path, argv: list[str]) -> tuple[float, float, str]:
    """Wall time, child CPU time (s) and the heavy modules of one help."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", PROBE, *argv, "--help"], env=env,
                         capture_output=True, text=True, check=True, cwd=tree)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    heavy = run.stderr.strip().splitlines()[-1].removeprefix("HEAVY").strip()
    return wall, cpu, heavy or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="source tree of the baseline")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    trees = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    print(f"{'command':22s} {'baseline wall / CPU':>22s} {'this wall / CPU':>18s}  "
          "imported by the help (baseline | this)")
    for argv in COMMANDS:
        runs: dict = {name: [] for name in trees}
        for _ in range(args.repeat):
            for name, tree in trees.items():  # interleaved
                runs[name].append(timed(tree, argv))
        cells = []
        for name in trees:
            wall = statistics.median(r[0] for r in runs[name])
            cpu = statistics.median(r[1] for r in runs[name])
            cells.append(f"{wall:6.2f} s / {cpu:5.2f} s")
        label = " ".join(["xkernels", *argv, "--help"])
        print(f"{label:22s} {cells[0]:>22s} {cells[1]:>18s}  "
              f"{runs['baseline'][-1][2]} | {runs['this'][-1][2]}")


if __name__ == "__main__":
    main()

"""The growth journal of a sweep store: resizing along sweep dims, crash safe.

Growing a sweep store (:func:`xkernels.store.extend_sweep_store`) changes several
arrays -- coordinates, ``done``, ``kernels`` -- and the consolidated metadata.  The
writer holds a lock file inside the store (:func:`xkernels.store.publish.held_lock`),
writes the journal :data:`EXTEND_JOURNAL` (atomically) describing the change, applies
idempotent steps in a fixed order (no kernel chunk is rewritten) and removes the
journal last.  Until the consolidated metadata is rewritten, plain readers
(``xr.open_zarr``) see the old grid.

A store left with a journal by a dead writer -- its lock can be acquired -- is rolled
forward to the new grid (new points not done) by the next xkernels process that opens
it (:func:`finish_interrupted`).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xkernels.contract import KERNEL_NAME
from xkernels.store.datasets import CONSOLIDATED_WARNING
from xkernels.store.layout import DONE_NAME
from xkernels.store.publish import fsync_quietly, held_lock, probe_lock

#: Journal of an extension in progress, inside the store (absent between extensions).
EXTEND_JOURNAL = ".xkernels-extend.json"
#: Start of the journal's and the extension lock files' names.
_PREFIX = ".xkernels-extend"

Step = tuple[str, Callable[[], None]]


@dataclass(frozen=True)
class Extension:
    """What growing a sweep store changes (the journal's content).

    Attributes
    ----------
    shapes : dict
        Array name -> (old shape, new shape), for every array with a grown dim.
    tails : dict
        Coordinate name -> the values appended to it.
    content_hash : str
        Content hash of the grown sweep (the new ``kernels`` attribute).
    lock : str
        Name of the lock file (inside the store) its writer holds; empty in journals
        of xkernels versions without extension locks.
    """

    shapes: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]]
    tails: Mapping[str, list] = field(default_factory=dict)
    content_hash: str = ""
    lock: str = ""

    def to_json(self) -> str:
        """The journal text."""
        return json.dumps({"shapes": {k: [list(old), list(new)]
                                      for k, (old, new) in self.shapes.items()},
                           "tails": dict(self.tails), "content_hash": self.content_hash,
                           "lock": self.lock})

    @classmethod
    def from_json(cls, text: str) -> Extension:
        """Read a journal (also one of an xkernels version without locks)."""
        data = json.loads(text)
        return cls(shapes={k: (tuple(old), tuple(new)) for k, (old, new)
                           in data["shapes"].items()},
                   tails=dict(data.get("tails", {})), content_hash=data["content_hash"],
                   lock=data.get("lock", ""))


def read_journal(path: Path) -> Extension | None:
    """The journal of the store at ``path``, or None when it has none."""
    try:
        return Extension.from_json((path / EXTEND_JOURNAL).read_text())
    except FileNotFoundError:
        return None


def write_journal(path: Path, extension: Extension) -> None:
    """Write the journal atomically (complete or absent) and durably."""
    tmp = path / f"{EXTEND_JOURNAL}.{uuid.uuid4().hex[:12]}.partial"
    tmp.write_text(extension.to_json())
    fsync_quietly(tmp)
    os.replace(tmp, path / EXTEND_JOURNAL)
    fsync_quietly(path)


def extension_steps(path: Path, extension: Extension) -> list[Step]:
    """The idempotent steps that apply ``extension`` to the store at ``path``, in order.

    Coordinates first (new shape, then their new values), then ``done`` (new points
    read as its fill value False), then ``kernels`` (content hash, then shape: no chunk
    is written), then the consolidated metadata that plain readers use, then the
    journal is removed.

    Returns
    -------
    list of (str, callable)
        Step name and the function running it.
    """
    import zarr

    def group() -> Any:
        return zarr.open_group(path, mode="r+", use_consolidated=False)

    def grow(name: str) -> None:
        arr = group()[name]
        old, new = extension.shapes[name]
        arr.resize(tuple(new))
        if name in extension.tails:
            arr[old[0]:] = np.asarray(extension.tails[name], dtype=arr.dtype)

    def kernels() -> None:
        arr = group()[KERNEL_NAME]
        arr.update_attributes({"content_hash": extension.content_hash})
        arr.resize(tuple(extension.shapes[KERNEL_NAME][1]))

    def consolidate() -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=CONSOLIDATED_WARNING)
            warnings.filterwarnings("ignore", message=f"Object at {_PREFIX}")
            zarr.consolidate_metadata(path, zarr_format=3)
        for name in ("", *extension.shapes):
            fsync_quietly(path / name / "zarr.json")

    def finish() -> None:
        (path / EXTEND_JOURNAL).unlink(missing_ok=True)
        fsync_quietly(path)

    order = sorted(extension.shapes,
                   key=lambda n: (n == KERNEL_NAME, n == DONE_NAME, n))
    steps = [(f"resize {name}", lambda name=name: grow(name))
             for name in order if name != KERNEL_NAME]
    return [*steps, ("resize kernels", kernels), ("consolidate", consolidate),
            ("finish", finish)]


@contextlib.contextmanager
def journaled(path: Path, extension: Extension) -> Iterator[list[Step]]:
    """Start applying ``extension``: hold a new lock, write the journal, yield the steps.

    The caller runs the steps in order inside the block; the lock is released (its
    file removed) on exit.  A writer that dies inside the block leaves the journal
    for :func:`finish_interrupted`.
    """
    lock = f"{_PREFIX}-{uuid.uuid4().hex[:12]}.lock"
    with held_lock(path / lock):
        extension = replace(extension, lock=lock)
        write_journal(path, extension)
        yield extension_steps(path, extension)


def apply_extension(path: Path, extension: Extension) -> None:
    """Apply ``extension`` to the store at ``path`` under its journal (crash safe)."""
    with journaled(path, extension) as steps:
        for _name, step in steps:
            step()


def finish_interrupted(path: Path) -> None:
    """Complete an extension whose writer died (roll forward); no-op without journal.

    An extension whose writer still holds its lock is left alone: readers see the
    old grid until that writer is done.  Without permission to take the lock (a
    read-only store), nothing is done either.
    """
    if not (path / EXTEND_JOURNAL).is_file():
        return
    extension = read_journal(path)
    if extension is None:  # finished meanwhile
        return
    if not extension.lock:  # written by an xkernels without extension locks
        for _name, step in extension_steps(path, extension):
            step()
        return
    try:
        with probe_lock(path / extension.lock) as dead:
            if dead and read_journal(path) == extension:
                for _name, step in extension_steps(path, extension):
                    step()
    except PermissionError:
        return

"""How results appear at their path: one lock per result, a staging sibling, a rename.

The one consistency model of every store (kernel, sweep, rates, signals, hybrid) and of
the CLI's output folders:

* **One writer at a time.**  Every writer of ``path`` holds :func:`locked` -- a plain
  file lock (filelock) on the sibling ``.{name}.lock``, which is never deleted (a
  flock file that disappeared could let two processes lock two different files of
  the same name).  Re-entrant in a thread; the operating system releases it when its
  process dies.  A second process waits, then sees what the first left.
* **Atomic publish.**  A new result, or a grown copy of an existing one, is built in
  the sibling ``.{name}.tmp``, fsynced and renamed into place (:func:`publish`).  An
  existing result is first renamed to ``.{name}.old`` and removed after.  A reader
  finds at ``path`` the old complete result, the new complete one, or (between the
  two renames) nothing -- never a partial one.
* **Regions in place.**  Region stores (sweeps, hybrid ground truths) are filled in
  place, under the lock, each region's data before its done flag
  (:mod:`xkernels.store.regions`); growing one is a copy-and-swap as above.
* **Readers never write.**  What a killed writer leaves (``.tmp``, ``.old``) is
  cleaned up by the next writer, under the lock (:func:`recover`): an ``.old`` with
  nothing at ``path`` is put back.
* **Kill points.**  :func:`kill_point` lets tests kill a writer at a named step: set
  ``XKERNELS_KILL_AT`` to the step's name (``name#n``: the n-th time it is reached) in
  the writer's environment, and ``XKERNELS_KILL_SIGNAL=INT`` for a Ctrl-C instead of
  SIGKILL (``INT-GROUP``: SIGINT to the whole process group, as a terminal sends it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

#: Environment variable naming the :func:`kill_point` at which a writer kills itself.
KILL_ENV = "XKERNELS_KILL_AT"
#: Environment variable naming the signal :func:`kill_point` sends (``KILL`` or ``INT``).
KILL_SIGNAL_ENV = "XKERNELS_KILL_SIGNAL"

_kill_point_passes: dict[str, int] = {}

logger = logging.getLogger(__name__)


def kill_point(name: str) -> None:
    """Signal this process if ``XKERNELS_KILL_AT`` names this step (a test hook).

    ``XKERNELS_KILL_AT`` is ``name`` (the first time the step is reached) or
    ``name#n`` (the n-th time); ``XKERNELS_KILL_SIGNAL`` is ``KILL`` (default: SIGKILL),
    ``INT`` (SIGINT) or ``INT-GROUP`` (SIGINT to every process of this one's group, as
    a terminal's Ctrl-C: run the writer in a session of its own).

    Parameters
    ----------
    name : str
        The step just completed, e.g. ``"grow:built"``.
    """
    wanted = os.environ.get(KILL_ENV)
    if not wanted or wanted.partition("#")[0] != name:
        return
    _kill_point_passes[name] = _kill_point_passes.get(name, 0) + 1
    if _kill_point_passes[name] == int(wanted.partition("#")[2] or 1):
        how = os.environ.get(KILL_SIGNAL_ENV, "KILL")
        if how == "INT-GROUP":  # as a terminal's Ctrl-C: every process of the group
            os.killpg(os.getpgrp(), signal.SIGINT)
        else:
            os.kill(os.getpid(), signal.SIGINT if how == "INT" else signal.SIGKILL)


def sibling(target: Path, kind: str) -> Path:
    """The sibling ``.{name}.{kind}`` of ``target`` (kinds: lock, tmp, old)."""
    target = Path(target).absolute()
    return target.parent / f".{target.name}.{kind}"


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Be the only writer of ``target`` for the duration of the block.

    Waits (logging a warning once) while another process holds the lock.  Re-entrant
    within a thread (filelock's own counter); other threads wait their turn.

    Parameters
    ----------
    target : pathlib.Path
        The result (it need not exist; its parent folder is created).
    """
    lock_file = sibling(target, "lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_file, is_singleton=True)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        logger.warning("%s is being written by another process; waiting for it to finish "
                       "(lock %s)", target, lock_file)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def remove(path: Path) -> None:
    """Remove a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def recover(target: Path) -> None:
    """Undo what a killed writer of ``target`` left (call holding :func:`locked`).

    A result moved aside (``.old``) comes back if nothing is at ``target``, else it is
    removed; a half-built ``.tmp`` is removed.
    """
    target = Path(target).absolute()
    old = sibling(target, "old")
    if os.path.lexists(old):
        if os.path.lexists(target):
            remove(old)
        else:
            os.rename(old, target)
    remove(sibling(target, "tmp"))


@contextlib.contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Lock ``target``, clean up after killed writers and yield the staging path.

    Build the result at the yielded path (it does not exist yet), then call
    :func:`publish`; whatever is left of it is removed on exit.

    Parameters
    ----------
    target : pathlib.Path
        Final path of the result.
    """
    target = Path(target).absolute()
    with locked(target):
        recover(target)
        tmp = sibling(target, "tmp")
        try:
            yield tmp
        finally:
            remove(tmp)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory below ``root`` (a single file: just it)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))
    if not root.is_dir():
        _fsync(root)


def publish(tmp: Path, target: Path, *, overwrite: bool, what: str = "output") -> None:
    """Move the finished ``tmp`` (from :func:`staged`) to ``target``, durably.

    Parameters
    ----------
    tmp : pathlib.Path
        The complete result.
    target : pathlib.Path
        Its final path.
    overwrite : bool
        Replace an existing ``target``.
    what : str
        What the result is, for error messages (``"kernel store"``).

    Raises
    ------
    FileExistsError
        ``target`` exists and ``overwrite`` is False.
    """
    target = Path(target).absolute()
    fsync_tree(tmp)
    kill_point("publish:synced")
    if os.path.lexists(target):
        if not overwrite:
            raise FileExistsError(f"{what} {str(target)!r} already exists "
                                  "(pass overwrite=True to replace it)")
        old = sibling(target, "old")
        os.rename(target, old)
        kill_point("publish:moved-aside")
        os.rename(tmp, target)
        _fsync(target.parent)
        kill_point("publish:renamed")
        remove(old)
        return
    os.rename(tmp, target)
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():  # some file systems refuse to fsync a directory
            raise
    finally:
        os.close(fd)

"""Atomic publishing of directories, and the file locks that tell live writers from dead.

The one place that knows how a result (a Zarr store, the demo's output folder, ...)
appears at its final path.  A writer never builds its result there: it reserves
siblings named after itself (a *token* ``{host}-{pid}-{random}``)::

    .{name}.lock-{token}   lock file, held by the writer while it lives (filelock)
    .{name}.tmp-{token}    the result being built
    .{name}.old-{token}    an existing result moved aside (only without renameat2)

builds the result in ``tmp``, fsyncs it and only then publishes it
(:func:`publish`): with ``renameat2(RENAME_EXCHANGE)`` (Linux) an existing result and
the new one swap atomically, with ``renameat2(RENAME_NOREPLACE)`` a new result never
replaces one that appeared meanwhile; elsewhere the existing result is first moved
aside.  A reader finds at the final path either the old complete result or the new
complete one, never a partial one.

Exclusive writers.  Processes that grow or resume the same sweep store take turns:
:func:`exclusive` holds ``.{name}.sweep-lock`` (a permanent sibling: a flock file is
never deleted, or two processes could lock two different files of the same name)
for as long as they plan, compute and write; a second process waits for the first.

Liveness.  A writer holds its lock file from before its first sibling exists until
after its last one is gone; the operating system releases the lock when the process
dies (killed, crashed).  A lock that can be acquired therefore belongs to a dead
writer, and :func:`recover` -- run before every write -- restores a result it moved
aside (if nothing is at the final path) and removes the rest.  Unlike a process-id
check this cannot be fooled by a new process reusing the dead writer's id.  Only
siblings made on this host are judged (file locks are not reliable across the hosts
of a network file system).  A sibling without a lock file (written by an xkernels
without locks) counts as dead.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
#: Kinds of sibling a writer may leave next to its target.
SIBLING_KINDS = ("lock", "tmp", "old")
#: Seconds a writer waits for its own new lock file (a recoverer may probe it briefly).
LOCK_WAIT = 60.0

logger = logging.getLogger(__name__)
#: exclusive locks this process holds: (lock file, thread) -> depth (re-entry)
_HELD: dict[tuple[Path, int], int] = {}
_HELD_GUARD = threading.Lock()


def host_name() -> str:
    """This host's name as used in sibling names (``-`` replaced by ``_``)."""
    return socket.gethostname().replace("-", "_") or "host"


# ---------------------------------------------------------------------------------
# locks
# ---------------------------------------------------------------------------------


@contextlib.contextmanager
def held_lock(lock_file: Path) -> Iterator[None]:
    """Hold the lock file ``lock_file`` for the duration of the block (this writer lives).

    The file is created if needed and removed before the lock is released.  Use a
    name no other writer uses: only recoverers (:func:`probe_lock`) contend for it.

    Parameters
    ----------
    lock_file : pathlib.Path
        Lock file path; its folder must exist.
    """
    lock = FileLock(lock_file, timeout=LOCK_WAIT)
    lock.acquire()
    try:
        yield
    finally:
        try:
            lock_file.unlink(missing_ok=True)
        finally:
            lock.release()


def exclusive_lock_file(target: Path) -> Path:
    """The lock file of :func:`exclusive` for ``target`` (a sibling, never removed)."""
    target = Path(target).absolute()
    return target.parent / f".{target.name}.sweep-lock"


@contextlib.contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Be the only process growing or resuming ``target`` for the duration of the block.

    Waits (logging a warning once) while another process holds the lock; the
    operating system releases it when that process dies.  Re-entrant within a thread.

    Parameters
    ----------
    target : pathlib.Path
        The store (it need not exist yet; its parent folder is created).
    """
    target = Path(target).absolute()
    lock_file = exclusive_lock_file(target)
    key = (lock_file, threading.get_ident())
    with _HELD_GUARD:
        depth = _HELD.get(key, 0)
        if depth:
            _HELD[key] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_file, thread_local=False, preserve_lock_file=True)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        logger.warning("%s is being grown or resumed by another process; waiting for it "
                       "to finish (lock %s)", target, lock_file)
        lock.acquire()
    with _HELD_GUARD:
        _HELD[key] = 1
    try:
        yield
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        lock.release()


@contextlib.contextmanager
def probe_lock(lock_file: Path) -> Iterator[bool]:
    """Try to take another writer's lock without waiting: is that writer dead?

    Yields True when the lock was acquired -- its writer is gone, and the block may
    clean up after it (the lock file is removed before the lock is released) -- and
    False when a live process holds it.

    Parameters
    ----------
    lock_file : pathlib.Path
        Lock file of the writer in question (it is created, then removed, if missing).
    """
    lock = FileLock(lock_file)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock_file.unlink(missing_ok=True)
        finally:
            lock.release()


# ---------------------------------------------------------------------------------
# siblings of one writer
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staging:
    """The siblings of ``target`` that belong to one writer.

    Attributes
    ----------
    target : pathlib.Path
        Final path of the result (absolute).
    token : str
        ``{host}-{pid}-{random}``, unique to the writer.
    """

    target: Path
    token: str

    @classmethod
    def new(cls, target: Path) -> Staging:
        """Siblings for a new writer (this process) of ``target``."""
        return cls(target, f"{host_name()}-{os.getpid()}-{uuid.uuid4().hex[:12]}")

    def sibling(self, kind: str) -> Path:
        """The sibling of ``kind`` (one of :data:`SIBLING_KINDS`)."""
        return self.target.parent / f".{self.target.name}.{kind}-{self.token}"

    @property
    def tmp(self) -> Path:
        """Where the result is built."""
        return self.sibling("tmp")

    @property
    def aside(self) -> Path:
        """Where an existing result is moved while the new one takes its place."""
        return self.sibling("old")

    @property
    def lock_file(self) -> Path:
        """The lock file held by the writer while it lives."""
        return self.sibling("lock")


def writers_of(target: Path) -> list[Staging]:
    """The writers of ``target`` on this host that left a sibling or lock file.

    Parameters
    ----------
    target : pathlib.Path
        Final path of a result.

    Returns
    -------
    list of Staging
        Sorted by token; live and dead writers alike.
    """
    prefix = f".{target.name}."
    host = host_name()
    try:
        names = os.listdir(target.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    tokens = set()
    for name in names:
        if not name.startswith(prefix):
            continue
        kind, sep, token = name[len(prefix):].partition("-")
        parts = token.rsplit("-", 2)
        if kind in SIBLING_KINDS and sep and len(parts) == 3 and parts[0] == host \
                and parts[1].isdigit():
            tokens.add(token)
    return [Staging(target, token) for token in sorted(tokens)]


def remove(path: Path) -> None:
    """Remove a file, symlink or directory tree if it exists (errors ignored)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _clean(stage: Staging) -> None:
    """Put back a result ``stage`` moved aside if nothing replaced it; drop the rest."""
    aside = stage.aside
    if os.path.lexists(aside):
        if not stage.target.exists():
            os.rename(aside, stage.target)
        else:
            remove(aside)
    remove(stage.tmp)


def recover(target: Path) -> None:
    """Undo what dead writers of ``target`` left next to it.

    A result moved aside by a writer that died before putting the new one in place
    is restored (when nothing is at ``target``); temporary siblings and lock files of
    dead writers are removed.  Siblings of live writers are kept.

    Parameters
    ----------
    target : pathlib.Path
        Final path of a result.
    """
    for stage in writers_of(target):
        with probe_lock(stage.lock_file) as dead:
            if dead:
                _clean(stage)


@contextlib.contextmanager
def staging(target: Path) -> Iterator[Staging]:
    """Reserve temporary siblings of ``target`` for this writer.

    Creates the parent folder, runs :func:`recover`, takes the writer's lock and
    yields its :class:`Staging` (``stage.tmp`` does not exist yet: build the result
    there, then call :func:`publish`).  On exit whatever is left of the siblings is
    removed -- a result moved aside and not replaced is put back -- and the lock is
    released, so a failed write leaves ``target`` as it was.

    Parameters
    ----------
    target : pathlib.Path
        Final path of the result.
    """
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    stage = Staging.new(target)
    with held_lock(stage.lock_file):
        try:
            yield stage
        finally:
            _clean(stage)


# ---------------------------------------------------------------------------------
# durability and the atomic move
# ---------------------------------------------------------------------------------


def fsync_quietly(path: Path) -> None:
    """fsync a file or directory, ignoring file systems that refuse it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory below ``root`` (a single file: just it)."""
    if not root.is_dir():
        fsync_quietly(root)
        return
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_quietly(Path(dirpath))


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when the system does not support it."""
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    ret = func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags))
    if ret == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def publish(stage: Staging, *, overwrite: bool, what: str = "output") -> None:
    """Move the finished ``stage.tmp`` to ``stage.target``, durably and atomically.

    The result is fsynced first; ``target`` never holds a partial result.

    Parameters
    ----------
    stage : Staging
        From :func:`staging`, with the complete result at ``stage.tmp``.
    overwrite : bool
        Replace an existing ``target`` (swapped atomically where renameat2 exists).
    what : str
        What the result is, for error messages (``"kernel store"``).

    Raises
    ------
    FileExistsError
        ``target`` exists (or appeared while writing) and ``overwrite`` is False.
    """
    tmp, path = stage.tmp, stage.target
    fsync_tree(tmp)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{what} {str(path)!r} already exists "
                                  "(pass overwrite=True to replace it)")
        if _renameat2(tmp, path, _RENAME_EXCHANGE):
            fsync_quietly(path.parent)
            remove(tmp)  # now holds the old result
            return
        os.rename(path, stage.aside)
        os.rename(tmp, path)
        fsync_quietly(path.parent)
        remove(stage.aside)
        return
    if not _renameat2(tmp, path, _RENAME_NOREPLACE):
        if path.exists():
            raise FileExistsError(f"{what} {str(path)!r} appeared while writing")
        os.rename(tmp, path)
    fsync_quietly(path.parent)

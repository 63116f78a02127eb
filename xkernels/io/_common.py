"""Shared by the readers and writers: optional imports and atomic files."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from xkernels.store.publish import publish, staged


def optional(module: str, what: str, package: str | None = None) -> ModuleType:
    """Import an optional dependency, or say how to install it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"pynwb"``.
    what : str
        What needs it, for the message (``"read_nwb"``).
    package : str, optional
        Its name on PyPI (default: ``module``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        The module is not installed; the message names the pip command.

    Examples
    --------
    >>> optional("h5py", "read_sonata").__name__
    'h5py'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{what} needs {package or module}: pip install "
                          f"{package or module} (or pip install 'xkernels[io]')") from err


def as_path(field: str, value: Any) -> Path:
    """``value`` as a Path, refusing anything that is not a str or path."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{field} must be a path (str or os.PathLike), got "
                        f"{type(value).__name__}")
    return Path(value)


def existing_file(field: str, value: Any) -> Path:
    """A path that names an existing file, or a FileNotFoundError naming it."""
    path = as_path(field, value)
    if path.is_dir():
        raise IsADirectoryError(f"{field}: {str(path)!r} is a folder; pass the file(s) "
                                "in it, e.g. sorted(Path(folder).glob('*.dat'))")
    if not path.is_file():
        raise FileNotFoundError(f"{field}: no such file {str(path)!r}")
    return path


@contextlib.contextmanager
def atomic_file(path: Any, *, overwrite: bool, what: str) -> Iterator[Path]:
    """Write a file at a staging path and rename it into place when complete.

    A writer that fails or is killed leaves nothing at ``path`` (an existing file stays
    as it was); the staging file is removed (by the next writer if killed).  See
    :mod:`xkernels.store.publish`.

    Parameters
    ----------
    path : str or path
        Final path of the file.
    overwrite : bool
        Replace an existing file.
    what : str
        What the file is, for messages (``"NWB file"``).

    Yields
    ------
    pathlib.Path
        The staging path to write.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False (checked before anything is written).

    Examples
    --------
    >>> with atomic_file("out.txt", overwrite=False, what="text file") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> open("out.txt").read()
    'complete'
    """
    target = as_path("path", path).absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{what} {str(target)!r} already exists (pass overwrite=True "
                              "to replace it)")
    with staged(target) as tmp:
        yield tmp
        publish(tmp, target, overwrite=overwrite, what=what)

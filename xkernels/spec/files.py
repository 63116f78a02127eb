"""The files a cell specification names, and the one rule for where they are.

A cell names up to three files or folders: ``morphology``, ``templatefile`` and
``mechanisms``.  Each is a file bundled with xkernels (a preset name such as
``ball_and_sticks_E``, or a bundled file name such as ``BallAndSticksTemplate.hoc``),
kept as that name, or a path of the user's, held absolute from the moment the
specification is built: a relative path is taken relative to the working directory
then (:func:`absolute`), and a network means the same files whatever directory it is
used from later.

In a JSON file, paths are relative to the JSON file's folder (or absolute):
:meth:`xkernels.Network.to_json` writes them so (:func:`relative_to`), and
:meth:`xkernels.Network.from_json` and the command line read them so
(:func:`from_folder`): a network saved from Python loads from any working directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xkernels.spec.presets import CELL_PRESETS, CELLS_DIR

#: The cell fields that name files or folders.
PATH_FIELDS = ("morphology", "templatefile", "mechanisms")


def is_bundled(key: str, value: str) -> bool:
    """Whether ``value`` of cell field ``key`` names something shipped with xkernels.

    Examples
    --------
    >>> is_bundled("morphology", "ball_and_sticks_E"), is_bundled("templatefile", "my.hoc")
    (True, False)
    """
    if Path(value).is_absolute():
        return False
    return (key == "morphology" and value in CELL_PRESETS) or (
        key != "mechanisms" and (CELLS_DIR / value).is_file())


def absolute(key: str, value: str, folder: str | Path | None = None) -> str:
    """The path ``value`` of cell field ``key`` as a specification holds it.

    Parameters
    ----------
    key : str
        ``"morphology"``, ``"templatefile"`` or ``"mechanisms"``.
    value : str
        The path as given (``~`` expanded).
    folder : str or path, optional
        Folder a relative path is relative to (default: the working directory).

    Returns
    -------
    str
        An absolute path; a bundled name unchanged unless a file of that name lies in
        ``folder`` (which then wins).

    Examples
    --------
    >>> absolute("morphology", "ball_and_sticks_E")
    'ball_and_sticks_E'
    >>> absolute("morphology", "cells/my.swc", folder="/data/project")
    '/data/project/cells/my.swc'
    """
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    local = Path(os.path.abspath(Path(folder if folder is not None else ".") / path))
    if is_bundled(key, value) and not local.exists():
        return value
    return str(local)


def _cells(network: Any, change: Callable[[str, str], str]) -> Any:
    """A copy of a network dict with ``change(key, value)`` applied to every cell path."""
    if not isinstance(network, Mapping) or not isinstance(network.get("populations"),
                                                          (list, tuple)):
        return network
    populations = []
    for pop in network["populations"]:
        cell = pop.get("cell") if isinstance(pop, Mapping) else None
        if isinstance(cell, str):
            cell = {"morphology": cell}
        if isinstance(cell, Mapping):
            cell = dict(cell)
            for key in PATH_FIELDS:
                if isinstance(cell.get(key), str):
                    cell[key] = change(key, cell[key])
            pop = dict(pop, cell=cell)
        populations.append(pop)
    return dict(network, populations=populations)


def from_folder(network: Any, folder: str | Path) -> Any:
    """A network dict read from a file in ``folder``, its relative cell paths made
    absolute against that folder (bundled names kept unless such a file lies there).

    Parameters
    ----------
    network : object
        The network dict (returned unchanged unless a dict with populations).
    folder : str or path
        Folder of the JSON file.

    Returns
    -------
    object
        A copy with the paths rewritten.

    Examples
    --------
    >>> from_folder({"populations": [{"cell": {"morphology": "my.swc"}}]},
    ...             "/data")["populations"][0]["cell"]
    {'morphology': '/data/my.swc'}
    """
    return _cells(network, lambda key, value: absolute(key, value, folder))


def relative_to(network: Any, folder: str | Path) -> Any:
    """A network dict to write into a file in ``folder``: absolute cell paths made
    relative to that folder.

    Parameters
    ----------
    network : object
        :meth:`xkernels.Network.to_dict` output.
    folder : str or path
        Folder of the JSON file.

    Returns
    -------
    object
        A copy with the paths rewritten.

    Examples
    --------
    >>> relative_to({"populations": [{"cell": {"morphology": "/data/cells/my.swc"}}]},
    ...             "/data")["populations"][0]["cell"]
    {'morphology': 'cells/my.swc'}
    """
    folder = os.path.abspath(folder)

    def change(key: str, value: str) -> str:
        return os.path.relpath(value, folder) if Path(value).is_absolute() else value
    return _cells(network, change)

"""Morphologies in NEURON: loading any file LFPy reads into a cell template, and the
checks of a cell's sections before anything is simulated.

A cell given without a template (``cell.morphology`` a ``.swc``, ``.asc`` or ``.hoc``
file whose sections are created at the top level) is loaded into a template written
here for it (:func:`morphology_template`): it declares exactly the section arrays the
file creates -- no more, since a declared array the file never fills stays behind as a
section without 3-D points, not connected to the cell -- and the section lists NEURON's
Import3d fills (``all``, ``somatic``, ``axonal``, ``basal``, ``apical``).  The cell is
then an LFPy ``TemplateCell`` like every other, its sections owned by its template
object (named ``<template>[i].dend[3]``) and deleted with it.

:func:`check_sections` refuses, naming the sections, what would silently change the
kernels: sections without 3-D points (NEURON's ``define_shape`` would invent a shape for
them), sections not connected to the cell, and sections of zero length or diameter.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The file formats read without a template (suffix -> Import3d reader; hoc is executed).
FORMATS = {".swc": "Import3d_SWC_read", ".asc": "Import3d_Neurolucida3", ".hoc": None}
#: Section lists a template for Import3d must offer at least (Import3d fills them).
_LISTS = ("all", "somatic", "axonal", "basal", "apical")


def _type_name(kind: int) -> str:
    """The section array name Import3d gives a morphology point type (SWC type)."""
    names = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
    if kind in names:
        return names[kind]
    return f"minus_{-kind}" if kind < 0 else f"dend_{kind}"


def _list_name(kind: int) -> str:
    """The section list Import3d fills with the sections of a point type."""
    names = {1: "somatic", 2: "axonal", 3: "basal", 4: "apical"}
    if kind in names:
        return names[kind]
    return f"minus_{-kind}set" if kind < 0 else f"dendritic_{kind}"


def _hoc_sections(path: Path) -> list[str]:
    """The section names a hoc file creates (its ``create`` statements)."""
    text = re.sub(r"(?s)/\*.*?\*/|//[^\n]*", "", path.read_text(errors="replace"))
    names: list[str] = []
    for match in re.finditer(r"\bcreate\s+([^\n{}]+)", text):
        for item in match.group(1).split(","):
            name = re.match(r"\s*([A-Za-z_]\w*)", item)
            if name and name.group(1) not in names:
                names.append(name.group(1))
    return names


def read_error(path: Path, what: str, detail: str) -> ValueError:
    return ValueError(f"{what}: {str(path)!r} cannot be read as a {path.suffix.lower()} "
                      f"morphology ({detail})")


def _import3d(path: Path, what: str) -> Any:
    """An Import3d reader holding the file, its errors as one ValueError."""
    from neuron import h

    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    reader = getattr(h, FORMATS[path.suffix.lower()])()
    if path.suffix.lower() == ".asc":
        reader.quiet = 1
    try:
        reader.input(str(path))
        h.Import3d_GUI(reader, 0)
    except RuntimeError as err:
        raise read_error(path, what, f"NEURON's Import3d: {err}") from None
    if int(reader.sections.count()) == 0:
        raise read_error(path, what, "no sections")
    return reader


@functools.lru_cache(maxsize=64)
def _sections_of(path: Path, stamp: tuple, what: str) -> tuple[tuple[str, ...],
                                                                 tuple[str, ...]]:
    if path.suffix.lower() == ".hoc":
        names = _hoc_sections(path)
        if not names:
            raise read_error(path, what, "it creates no section: no 'create' statement")
        return tuple(names), _LISTS
    reader = _import3d(path, what)
    kinds = sorted({int(reader.sections.object(i).type)
                    for i in range(int(reader.sections.count()))})
    # Import3d fills one list per type from the smallest to the largest present
    lists = ("all", *sorted({_list_name(k) for k in range(min(kinds[0], 1), max(kinds[-1], 4)
                                                         + 1) if k != 0} | set(_LISTS[1:])))
    return tuple(_type_name(k) for k in kinds if k != 0), lists


def section_arrays(path: str | Path, what: str = "morphology"
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The section arrays a morphology file creates (``soma``, ``dend``, ``apic``...)
    and the section lists a template must offer to load it.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.swc``, ``.asc`` or ``.hoc`` file.
    what : str
        The field naming the file, for messages.

    Returns
    -------
    arrays, lists : tuple of str

    Raises
    ------
    ValueError
        A file that cannot be read as its format.
    """
    path = Path(path)
    info = path.stat()
    return _sections_of(path, (info.st_mtime_ns, info.st_size), what)


def morphology_template(path: str | Path, what: str = "morphology") -> str:
    """Define (once) the empty template a template-less morphology is loaded into.

    Parameters
    ----------
    path : str or pathlib.Path
        The morphology file.
    what : str
        The field naming the file, for messages.

    Returns
    -------
    str
        The template's name (``XkMorphology_<hash>``, one per set of section arrays).
    """
    from neuron import h

    arrays, lists = section_arrays(path, what)
    name = "XkMorphology_" + hashlib.sha256(" ".join(arrays + lists).encode()).hexdigest()[:10]
    if not hasattr(h, name):
        body = "\n".join(f"    {lst} = new SectionList()" for lst in lists)
        h(f"begintemplate {name}\n"
          f"public init, {', '.join(arrays)}, {', '.join(lists)}\n"
          f"objref {', '.join(lists)}\n"
          f"create {', '.join(f'{a}[1]' for a in arrays)}\n"
          f"proc init() {{\n{body}\n}}\n"
          f"endtemplate {name}\n")
    return name


def load_into(template: Any, path: str | Path, fill_all: bool) -> None:
    """Load a morphology file into a template object (sections created in it).

    Parameters
    ----------
    template : hoc object
        The template instance.
    path : str or pathlib.Path
        ``.swc``/``.asc`` (read with NEURON's Import3d) or ``.hoc`` (executed in the
        object's context).
    fill_all : bool
        Append every section of the object to its ``all`` list if loading left it
        empty (a hoc file written for the top level does not fill it).
    """
    from neuron import h

    path = Path(path)
    if path.suffix.lower() == ".hoc":
        h.execute(f'xopen("{path}")', template)
    else:
        h.Import3d_GUI(_import3d(path, "morphology"), 0).instantiate(template)
    if fill_all and not any(True for _ in template.all):
        h.execute("forall all.append()", template)


def check_sections(sections: Iterable[Any], where: str) -> None:
    """Refuse sections that would silently change a cell's kernels, naming them.

    Run on the loaded cell before NEURON's ``define_shape`` (which invents a shape for
    sections without 3-D points).

    Parameters
    ----------
    sections : iterable of nrn.Section
        The cell's sections.
    where : str
        The cell's field, for messages (``populations['E'].cell``).

    Raises
    ------
    ValueError
        Sections without 3-D points, not connected to the cell (another tree than the
        largest one), or of zero length or zero diameter.
    """
    sections = list(sections)
    if not sections:
        raise ValueError(f"{where}: the cell has no sections (its template's 'all' list "
                         "is empty after loading the morphology)")
    problems = []
    no_points = [sec.name() for sec in sections if sec.n3d() == 0]
    if no_points:
        problems.append(f"sections without 3-D points {_listed(no_points)}")
    root_of = {}
    for sec in sections:
        root = sec
        while root.parentseg() is not None:
            root = root.parentseg().sec
        root_of[sec.name()] = root.name()
    trees: dict[str, list[str]] = {}
    for name, root in root_of.items():
        trees.setdefault(root, []).append(name)
    if len(trees) > 1:
        main = max(trees, key=lambda root: (len(trees[root]), "soma" in root))
        loose = [name for root, names in trees.items() if root != main for name in names]
        problems.append(f"sections not connected to the cell (whose root is {main!r}) "
                        f"{_listed(loose)}")
    with_points = [sec for sec in sections if sec.n3d() > 0]
    # from the 3-D points themselves: NEURON updates L and diam from them lazily
    short = [sec.name() for sec in with_points if not sec.arc3d(int(sec.n3d()) - 1) > 0]
    if short:
        problems.append(f"sections of zero length {_listed(short)}")
    thin = [sec.name() for sec in with_points
            if any(not sec.diam3d(i) > 0 for i in range(int(sec.n3d())))]
    if thin:
        problems.append(f"sections with a zero diameter {_listed(thin)}")
    if problems:
        raise ValueError(f"{where}: the morphology has " + "; ".join(problems) +
                         " (a declared section the morphology never uses, or a gap in "
                         "the file: fix the morphology or its template)")


def _listed(names: list[str], n: int = 6) -> str:
    shown = ", ".join(repr(name) for name in names[:n])
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return f"[{shown}{more}]"

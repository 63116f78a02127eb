"""The package's architecture as a contract: data flows one way between layers.

Every import of an ``xkernels`` module — at module level or inside a function — is read
from the source with :mod:`ast` and checked against the layer table below: a module may
import from its own unit (subpackage) or from a lower layer, never from above or from a
sibling of the same rank; the module graph has no cycles; no module imports a private
name of another module; and ``pyproject.toml`` installs every subpackage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xkernels"

#: unit → rank; a unit may import only from its own unit or a unit of lower rank.
LAYERS = {
    "xkernels.provenance": 1,
    "xkernels.runtime": 0,
    "xkernels.contract": 0,
    "xkernels.validation": 0,
    "xkernels.figures": 0,
    "xkernels.spec": 1,
    "xkernels.probes": 2,
    "xkernels.engine": 3,
    "xkernels.store": 4,
    "xkernels.signals": 4,
    "xkernels.sweeps": 5,
    "xkernels.hybrid": 5,
    "xkernels.compat": 6,
    "xkernels.plot": 6,
    "xkernels.accessor": 7,
    "xkernels.app": 8,
    # the package's front door and the modules kept for old import paths
    "xkernels": 9,
    "xkernels.__main__": 9,
    "xkernels.network": 9,
    "xkernels.kernels": 9,
    "xkernels.rates": 9,
    "xkernels.lif": 9,
}
#: the only unit that may import NEURON (and LFPy, which imports it)
NEURON_UNIT = "xkernels.engine"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def unit_of(module: str) -> str:
    """The layer-table entry a module belongs to (longest matching prefix)."""
    best = None
    for unit in LAYERS:
        if (module == unit or module.startswith(unit + ".")) and \
                (best is None or len(unit) > len(best)):
            best = unit
    if best is None:
        raise AssertionError(f"module {module} has no entry in LAYERS (add its layer)")
    return best


def resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else \
        module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> list[tuple[int, str, str | None]]:
    """(line, imported xkernels module, imported name or None) for every import."""
    tree = ast.parse(MODULES[module].read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append((node.lineno, alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    out.append((node.lineno, f"{target}.{alias.name}", None))
                else:
                    out.append((node.lineno, target, alias.name))
    return out


def internal_edges() -> dict[str, set[tuple[int, str, str | None]]]:
    return {m: {(line, t, name) for line, t, name in imports_of(m)
                if t == "xkernels" or t.startswith("xkernels.")} for m in MODULES}


EDGES = internal_edges()


def test_every_module_has_a_layer():
    for module in MODULES:
        unit_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_one_way(module):
    own = unit_of(module)
    bad = []
    for line, target, _ in sorted(EDGES[module]):
        assert target in MODULES, f"{module}:{line} imports unknown module {target}"
        other = unit_of(target)
        if other == own:
            continue
        if LAYERS[other] >= LAYERS[own]:
            bad.append(f"{module}:{line} imports {target} (layer {other}, rank "
                       f"{LAYERS[other]}) from layer {own} (rank {LAYERS[own]})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = {m: {t for _, t, _ in EDGES[m] if t != m} for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_private_names_across_modules():
    bad = []
    for module, edges in EDGES.items():
        for line, target, name in edges:
            if name and name.startswith("_") and not name.startswith("__") and target != module:
                bad.append(f"{module}:{line} imports private {target}.{name}")
        # attribute access on imported xkernels modules: ``lin._thing``
        tree = ast.parse(MODULES[module].read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    full = (alias.name if isinstance(node, ast.Import)
                            else f"{resolve(module, node)}.{alias.name}")
                    if full in MODULES and full != module:
                        aliases[alias.asname or alias.name.split(".")[0]] = full
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in aliases and node.attr.startswith("_") and \
                    not node.attr.startswith("__"):
                bad.append(f"{module}:{node.lineno} uses private "
                           f"{aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_only_the_engine_imports_neuron():
    bad = []
    for module in MODULES:
        if unit_of(module) == NEURON_UNIT:
            continue
        for line, target, _ in imports_of(module):
            if target.split(".")[0] in ("neuron", "LFPy"):
                bad.append(f"{module}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_library_does_not_import_the_front_door():
    """Library modules import what they need from its module, not ``xkernels`` itself."""
    bad = [f"{m}:{line}" for m, edges in EDGES.items() if LAYERS[unit_of(m)] < 9
           for line, target, _ in edges if target == "xkernels"]
    assert not bad, bad


def test_pyproject_installs_every_subpackage():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {module_name(p.parent) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"subpackages missing from pyproject: {sorted(found - listed)}"
    assert config["package-dir"]["xkernels.mod"] == "mod"
    assert any((ROOT / "mod").glob("*.mod"))


def test_submodules_are_not_shadowed():
    """``package.<name>`` is the submodule wherever a submodule of that name exists, in
    the package and in every subpackage (``import xkernels.x.y`` gives the module)."""
    import importlib

    bad = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        package = importlib.import_module(module_name(init.parent))
        for path in init.parent.iterdir():
            name = path.stem if path.suffix == ".py" else path.name
            if name.startswith("_") or not (path.suffix == ".py"
                                            or (path / "__init__.py").exists()):
                continue
            module = importlib.import_module(f"{package.__name__}.{name}")
            if getattr(package, name, module) is not module:
                bad.append(f"{package.__name__}.{name}")
    assert not bad, f"submodules shadowed by other objects: {bad}"

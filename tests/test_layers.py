"""The package's architecture as a contract: data flows one way between layers.

The layer table is written once, as import-linter contracts in ``pyproject.toml``
(``[tool.importlinter]``): a module imports from its own unit or from a lower layer,
never from above or from an independent sibling, and only the engine imports NEURON.
``lint-imports`` checks every import, at module level and inside functions; this file
runs it, checks that every unit of the package is in the table, and checks with
:mod:`ast` what import-linter does not express: no import cycles, no private names
across modules, no library module importing the front door, and ``pyproject.toml``
installing every subpackage.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xkernels"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
#: the layers contract's units, top layer first
LAYERS = next(c["layers"] for c in CONTRACTS["contracts"] if c["type"] == "layers")
UNITS = [unit.strip() for layer in LAYERS for unit in layer.split("|")]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


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


def test_import_contracts_kept():
    """``lint-imports`` (the layer table and the NEURON contract) passes."""
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                          "lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_unit_has_a_layer():
    """Every module and subpackage of xkernels is in the layer table (no unit escapes
    the contract), and the README's architecture section names each of them."""
    units = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    assert units == set(UNITS), f"not in the layer table: {sorted(units - set(UNITS))}; " \
        f"in the table but not in the package: {sorted(set(UNITS) - units)}"
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture"):]
    section = section[:section.index("\n## ", 1)]
    missing = [u for u in units - {"__main__", "_version"}
               if not any(f"{u}{end}" in section for end in ("/", ".py"))]
    assert not missing, f"README's Architecture section does not describe {missing}"


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


def test_library_does_not_import_the_front_door():
    """Library modules import what they need from its module, not ``xkernels`` itself."""
    front = ("xkernels", "xkernels.__main__")
    bad = [f"{m}:{line}" for m, edges in EDGES.items() if m not in front
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

"""The shape of `dropout_lib`: which module may import which, no cycles, small modules, and a
light `import dropout_lib` (README.md, "Architecture").

The imports are read from the source with `ast`, so the rules hold for every import in a file,
also those inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dropout_lib"
MAX_LINES = 300

# Core modules and the core modules each one may import. Every chapter may use the core.
CORE = {
    "functional": set(),
    "seeding": set(),
    "spread": set(),
    "data": set(),
    "execute": set(),
    "initialisation": set(),
    "layers": {"functional"},
    "models": {"functional", "initialisation", "layers"},
    "variants": {"functional", "initialisation", "layers"},
    "training": {"data"},
    "mc": {"functional", "layers"},
    "batchnorm": {"functional"},
    "plotting": {"data", "training"},
    "stacked": {"data", "functional", "layers", "training"},
}
# Chapter modules: each may import core modules (not `plotting` or `execute`), never another
# chapter module and never the grading code.
CHAPTERS = {"by_hand", "analysis", "ensembles", "inference", "regression", "uncertainty",
            "practice", "data_size", "blocks", "transformer"}
CHAPTER_MAY_IMPORT = set(CORE) - {"plotting", "execute"}
# The grading code: the exercise registry and checks (`grading`, with `grading.checks.chNN`)
# and the scorecard (`grade`). Only they import each other; within them, no cycle either
# (`test_no_import_cycles_between_modules`).
GRADING = {"grading", "grade"}
# Third-party packages that only one module may import.
ONLY_IN = {"matplotlib": {"plotting"}, "sklearn": {"data"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def top(name: str) -> str:
    """The top-level module of the library that `name` belongs to ('checks.ch01' -> 'checks')."""
    return name.split(".")[0]


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(library modules, third-party top-level packages) that module `name` imports."""
    library, external = module_imports(name)
    return {top(m) for m in library if m}, external


def module_imports(name: str) -> tuple[set[str], set[str]]:
    """(library modules by their full names, third-party packages) that `name` imports."""
    path = MODULES[name]
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    library, external = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dropout_lib"):
                    library.add(alias.name.removeprefix("dropout_lib").lstrip(".") or "__init__")
                else:
                    external.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("dropout_lib"):
                    base = node.module.removeprefix("dropout_lib").lstrip(".")
                else:
                    external.add((node.module or "").split(".")[0])
                    continue
            else:
                base = ".".join(package[:len(package) - node.level + 1] + (
                    node.module.split(".") if node.module else []))
            # `from . import mc` imports the module mc; `from .mc import sample` the module mc
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                library.add(candidate if candidate in MODULES else base or "__init__")
    return {m for m in library if m}, external


GRAPH = {name: imports_of(name)[0] for name in MODULES}


def test_every_module_is_placed_in_the_map():
    """A new module must be added to CORE, CHAPTERS or GRADING here (and to README.md)."""
    for name in MODULES:
        assert name == "__init__" or top(name) in set(CORE) | CHAPTERS | GRADING, name


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top(n) in CORE))
def test_core_modules_import_only_what_the_map_allows(name):
    extra = GRAPH[name] - CORE[name] - {name}
    assert not extra, f"{name} may import {sorted(CORE[name]) or 'no library module'}, " \
                      f"but imports {sorted(extra)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if top(n) in CHAPTERS))
def test_chapter_modules_import_only_core_modules(name):
    extra = GRAPH[name] - CHAPTER_MAY_IMPORT - {name}
    assert not extra, f"chapter module {name} imports {sorted(extra)}; chapter modules import " \
                      "core modules only (never plotting, another chapter or the grading code)"


def test_nothing_outside_the_grading_code_imports_it():
    for name, imported in GRAPH.items():
        if top(name) not in GRADING and name != "__init__":
            assert not imported & GRADING, f"{name} imports {sorted(imported & GRADING)}"


def test_the_package_init_imports_no_module_when_it_is_loaded():
    """`__init__` only names its submodules; `__getattr__` imports them on first use."""
    tree = ast.parse(MODULES["__init__"].read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module == "__future__", ast.unparse(node)
        if isinstance(node, ast.Import):
            assert [alias.name for alias in node.names] == ["importlib"], ast.unparse(node)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` (node -> the nodes it imports) as a path, or None (depth-first)."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt] if nxt in path else path + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [node])):
            return cycle
    return None


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        for target in targets:
            edge = (top(name), target)
            if name != "__init__" and edge[0] != target:
                graph.setdefault(edge[0], set()).add(target)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycles_between_modules():
    """Module by module (inside the grading package too), not only between top-level ones."""
    graph = {name: module_imports(name)[0] - {name, "__init__"} for name in MODULES
             if name != "__init__"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    # the cycle the grading code used to have (grading -> checks -> grading)
    old_grading = {"grading": {"checks"}, "checks": {"grading"}}
    assert find_cycle(old_grading) == ["checks", "grading", "checks"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    n_lines = len(MODULES[name].read_text().splitlines())
    assert n_lines <= MAX_LINES, f"{name} has {n_lines} lines; split it by concept"


@pytest.mark.parametrize("package, allowed", sorted(ONLY_IN.items()))
def test_heavy_packages_are_imported_in_one_place(package, allowed):
    users = {name for name in MODULES if package in imports_of(name)[1]}
    assert users <= allowed, f"{package} is imported by {sorted(users - allowed)}"


LIGHT = ("matplotlib", "sklearn", "dropout_lib.grading.checks", "dropout_lib.grading",
         "dropout_lib.plotting", "dropout_lib.data")


@pytest.mark.parametrize("statement, allowed_library", [
    ("import dropout_lib", {"dropout_lib"}),
    ("import dropout_lib.functional", {"dropout_lib", "dropout_lib.functional"}),
    ("from dropout_lib import layers, mc",
     {"dropout_lib", "dropout_lib.functional", "dropout_lib.layers", "dropout_lib.mc"}),
])
def test_importing_the_library_is_light(statement, allowed_library):
    """A fresh interpreter: what `sys.modules` holds after the import."""
    code = (f"import sys; {statement}; "
            "print('\\n'.join(sorted(m for m in sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert {m for m in loaded if m.startswith("dropout_lib")} == allowed_library
    assert not {m for m in loaded for heavy in LIGHT if m == heavy or m.startswith(heavy + ".")}


def test_submodules_and_names_are_still_reachable_from_the_package():
    code = ("from dropout_lib import plotting, check, dropout, Dropout, set_seed, mc; "
            "import dropout_lib; print(dropout_lib.grading.check is check, "
            "dropout_lib.functional.dropout is dropout, 'plotting' in dir(dropout_lib))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["True", "True", "True"]
    import dropout_lib

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = dropout_lib.nonsense

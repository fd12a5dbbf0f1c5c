"""The shape of the code (issue 12): modules import each other in one direction only, none is
over 500 lines, and no type check is silenced.

Imports are read from the source with `ast`, at module level and inside functions alike: an
import moved into a function to dodge a cycle is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("leakdrop", "scrubbers")
MAX_LINES = 500


def _sources() -> dict[str, Path]:
    """Every module of the project packages, by dotted name."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            # Imports under `if TYPE_CHECKING:` never run (only the type checker reads them,
            # and annotations are strings: `from __future__ import annotations`), so they
            # cannot make an import cycle; their `else:` branch does run.
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))


def _targets(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: set[str]
) -> Iterator[str]:
    """The project modules an import statement uses (a module, or submodules of a package)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        # Relative: `from . import x` in a package's __init__ is relative to the package
        # itself, in a module to the package holding it.
        base = module.split(".")
        if not is_package:
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    for alias in node.names:
        # `from pkg import name`: the submodule `pkg.name` when there is one, else a name
        # defined by `pkg` itself.
        submodule = f"{source}.{alias.name}"
        yield submodule if submodule in modules else source


def _graph() -> dict[str, set[str]]:
    # Only the imports named in a statement are edges: importing `scrubbers._core` also
    # runs `scrubbers/__init__.py` first, but that parent-package step is how Python loads
    # any submodule, not a dependency of the importing module on the package's API.
    sources = _sources()
    modules = set(sources)
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        is_package = path.name == "__init__.py"
        graph[module] = {
            target
            for node in _imports(tree)
            for target in _targets(module, is_package, node, modules)
            if target in modules and target != module
        }
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports that comes back to where it started, if there is one."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        # Depth-first, without recursion: `path` is the chain of modules being followed,
        # `branches` the imports of each of them still to follow.
        path = [start]
        branches = [iter(sorted(graph[start]))]
        while branches:
            following = next(branches[-1], None)
            if following is None:
                branches.pop()
                done.add(path.pop())
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                branches.append(iter(sorted(graph[following])))
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    # The check itself: `leakdrop.cli` loads each command's module when it runs.
    assert "leakdrop.scrub_cmd" in _graph()["leakdrop.cli"]


def test_no_import_cycle() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_no_module_over_500_lines() -> None:
    too_long = {}
    for path in _sources().values():
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text("utf-8").splitlines())
        if lines > MAX_LINES:
            too_long[name] = lines
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"


def test_no_type_check_silenced() -> None:
    silenced = [
        f"{path.relative_to(ROOT).as_posix()}:{number}"
        for path in _sources().values()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if "type: ignore" in line
    ]
    assert not silenced, f"`type: ignore` in: {silenced}"

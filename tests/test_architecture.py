"""The layout's rules, read from the source with ``ast``: no import loops between modules of ``automl/``, and
modules and packages that stay small enough to read, and Keras only inside model families."""

from __future__ import annotations

import ast
from pathlib import Path

import automl

PACKAGE_ROOT = Path(automl.__file__).parent
MAX_MODULE_LINES = 400
MAX_PACKAGE_MODULES = 12
ONE_MODULE_PER_FAMILY = {"models"}  # a package whose size is its number of families


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``automl`` that ``name`` imports anywhere in its source (top level or inside functions)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from automl.x import y` names the module automl.x.y when there is one, else an attribute of automl.x
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names
            ]
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imported_modules(name, path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_sees_a_loop_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_import_reader_resolves_relative_and_from_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("from automl.job import plan\nfrom .final import x\nimport automl.study.record\n")
    known = {"automl.job", "automl.job.plan", "automl.job.final", "automl.study.record", "automl.job.mod"}
    assert imported_modules("automl.job.mod", source, known) == {
        "automl.job.plan",
        "automl.job.final",
        "automl.study.record",
    }


def test_no_module_of_automl_imports_itself_back_through_others() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole package was read
    assert cycles(graph) == []


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def test_no_package_holds_more_modules_than_a_reader_can_keep_in_mind() -> None:
    packages = {p.parent for p in PACKAGE_ROOT.rglob("__init__.py")}
    crowded = {
        module_name(p / "__init__.py"): n
        for p in packages
        if p.name not in ONE_MODULE_PER_FAMILY and (n := len(list(p.glob("*.py")))) > MAX_PACKAGE_MODULES
    }
    assert crowded == {}


def test_every_package_says_what_it_is_for() -> None:
    undocumented = [
        module_name(p) for p in PACKAGE_ROOT.rglob("__init__.py") if not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert undocumented == []


def third_party_roots(path: Path) -> set[str]:
    """The top-level packages a module imports anywhere in its source (top level or inside functions)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_model_families_import_keras_or_tensorflow() -> None:
    outside = {
        name
        for name, path in modules().items()
        if not name.startswith("automl.models") and third_party_roots(path) & {"keras", "tensorflow"}
    }
    assert outside == set(), "Keras is a model family's business; the data layer reads and fetches files"

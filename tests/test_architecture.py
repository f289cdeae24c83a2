"""The house rules, checked from the source with `ast` (no imports run):

- floors: `indexes < memory < rag < eval < api`; a module imports only from its own floor
  or lower ones (lazy imports inside functions count; `if TYPE_CHECKING:` blocks do not);
- no import cycle between modules (a strongly connected component of more than one);
- no file over 400 lines;
- SQL only in the storage package (`rag/storage/`): no `execute`/`executemany`/
  `executescript` call, no `sqlite3.connect`, no SQL text handed to `query` elsewhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("indexes", "memory", "rag", "eval", "api")
MAX_LINES = 400
STORAGE = "rag.storage"
_SQL_CALLS = {"execute", "executemany", "executescript"}
_SQL_TEXT = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|WITH|PRAGMA)\b",
                       re.IGNORECASE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for floor in FLOORS for p in sorted((ROOT / floor).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool,
                   modules: frozenset[str] = frozenset()) -> set[str]:
    """Every dotted name `tree` imports, relative imports resolved, TYPE_CHECKING skipped."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            # `from pkg import mod` names the module; `from pkg import name` names pkg.
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name that is a module, or its package)."""
    files = source_files()
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for name in imported_names(tree, module, path.name == "__init__.py", frozenset(files)):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def floor_of(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                  if floor_of(t) > floor_of(m))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_upward_imports() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_no_file_over_the_limit() -> None:
    long = {str(p.relative_to(ROOT)): n for p in source_files().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_every_rag_folder_says_what_lives_there() -> None:
    missing = []
    for folder in sorted(p for p in (ROOT / "rag").rglob("*") if p.is_dir() and p.name != "__pycache__"):
        init = folder / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) if init.exists() else None
        if not doc:
            missing.append(str(folder.relative_to(ROOT)))
    assert missing == []


def sql_calls(tree: ast.AST) -> list[str]:
    """`line: call` for every call in `tree` that runs SQL: a cursor/connection method, a
    new SQLite connection, or SQL text handed to a `query(...)` method."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, first = node.func.attr, node.args[0] if node.args else None
        text = first.value if isinstance(first, ast.Constant) else (
            first.values[0].value if isinstance(first, ast.JoinedStr) and first.values
            and isinstance(first.values[0], ast.Constant) else None)
        if (name in _SQL_CALLS or (name == "connect" and isinstance(node.func.value, ast.Name)
                                   and node.func.value.id == "sqlite3")
                or (name == "query" and isinstance(text, str) and _SQL_TEXT.match(text))):
            found.append(f"{node.lineno}: .{name}(")
    return found


def test_sql_only_in_the_storage_package() -> None:
    outside = {module: calls for module, path in source_files().items()
               if not (module == STORAGE or module.startswith(STORAGE + "."))
               and (calls := sql_calls(ast.parse(path.read_text(encoding="utf-8"))))}
    assert outside == {}


# The checker itself, on small made-up graphs, so a broken checker cannot pass silently.
def test_checker_finds_an_upward_import_and_a_cycle() -> None:
    graph = {"indexes.a": {"rag.b"}, "rag.b": {"rag.c"}, "rag.c": {"rag.b"}, "api.d": {"rag.b"}}
    assert upward_imports(graph) == ["indexes.a -> rag.b"]
    assert cycles(graph) == [["rag.b", "rag.c"]]


def test_checker_resolves_relative_and_lazy_imports() -> None:
    tree = ast.parse("from . import x\nfrom ..y import z\ndef f():\n    import eval.runner\n"
                     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import api.app\n")
    names = imported_names(tree, "rag.pkg.mod", is_package=False, modules=frozenset({"rag.pkg.x"}))
    assert {"rag.pkg.x", "rag.y", "eval.runner"} <= names
    assert "api.app" not in names


def test_checker_finds_sql() -> None:
    tree = ast.parse("conn.execute('DELETE FROM t')\nc.executemany(q, rows)\nsqlite3.connect(p)\n"
                     "store.query('SELECT 1')\nstore.query(f'select {x}')\nstore.query(name)\n"
                     "index.search('SELECT')\n")
    assert [c.split(": ")[1] for c in sql_calls(tree)] == [
        ".execute(", ".executemany(", ".connect(", ".query(", ".query("]

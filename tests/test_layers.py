"""The package's shape: layers that import downward only, no import circle, libraries kept in their layer.

Read from the source (every import, those inside functions too), so a change that breaks the
shape fails here before it tangles anything.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.codebase import PACKAGE, parsed

# Highest first: a module may import from its own room and those below it. The service every door holds
# (service/) opens threads through the threads' rooms (threads/), the backends that answer them (backends/) and
# what they all share about a turn (core/); what a question carries (content/) is below them all.
LAYERS = [
    "app",
    "editor",
    "api",
    "ui",
    "service",
    "threads",
    "backends",
    "core",
    "content",
    "tools",
    "local",
    "store",
    "providers",
    "",
]


# Libraries that belong to one or two layers only.
CONFINED = {
    "prompt_toolkit": {"app", "ui"},
    "rich": {"app", "ui"},
    "typer": {"app"},
    "click": {"app"},
    "sqlite3": {"store"},
    "aiosqlite": {"store"},
    "psycopg": {"store"},
    "psycopg_pool": {"store"},
    "langgraph.checkpoint.sqlite": {"store"},
    "langgraph.checkpoint.postgres": {"store"},
    "langgraph.store.sqlite": {"store"},  # LangGraph's store (memories) on chat's database
    "langgraph.store.postgres": {"store"},
    "mcp": {"tools"},
    "fastapi": {"api"},
    "acp": {"editor", "app"},  # the Agent Client Protocol's SDK: chat acp (chatcli.editor) and its command
    "uvicorn": {"app", "api"},
    "bs4": {"content"},  # web pages as text (chatcli.content.html_text)
    "markdownify": {"content"},
}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Dotted names this module imports, anywhere in it (relative imports resolved)."""
    tree = parsed(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_of(name: str) -> str:
    if name == "chatcli.__main__":
        return "app"  # ``python -m chatcli``: the entry point
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the package modules it imports (made once: tests read it, none changes it)."""
    known = modules()
    edges = {}
    for name, path in known.items():
        targets = set()
        for imported in imports(name, path):
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported != "chatcli":
                targets.add(imported)
        edges[name] = frozenset(targets)
    return edges


def test_imports_run_downward_only():
    wrong = []
    for name, targets in graph().items():
        for target in targets:
            if LAYERS.index(layer_of(target)) < LAYERS.index(layer_of(name)):
                wrong.append(f"{name} -> {target}")
    assert wrong == [], "imports that run up a layer"


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                circles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_libraries_stay_in_their_layers():
    wrong = []
    for name, path in modules().items():
        for imported in imports(name, path):
            for library, allowed in CONFINED.items():
                if (imported == library or imported.startswith(library + ".")) and layer_of(name) not in allowed:
                    wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_the_house_is_easy_to_walk():
    """Few rooms on the ground floor (the entry point, the settings and what they stand on: the provider table,
    the trust rules, the paths, the errors, the text helpers, the context budget); a module's size follows its
    meaning (the gates on size are ruff's complexity and line-length rules and the type checker, in .ci/run, not a
    count of lines)."""
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 9, top


def test_no_module_imports_another_modules_private_name():
    """A name with a leading underscore is its module's own: another module that needs it gets a public one."""
    wrong = []
    for name, path in modules().items():
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chatcli"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                wrong += [f"{name}: {node.module}.{n}" for n in private]
    assert wrong == []


def test_the_api_needs_nothing_of_the_terminal():
    """chat serve shares the engine and the answer's schema (chatcli.service), not the terminal's outputs."""
    wrong = [f"{name} -> {target}" for name, targets in graph().items() if name.startswith("chatcli.api")
             for target in targets if target.startswith("chatcli.ui")]  # fmt: skip
    assert wrong == []

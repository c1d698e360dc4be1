"""docs/SECURITY.md is the threat model: every input that is not the user's keyboard, what it may
cause, and the tests that prove it. Kept current: every test it names must exist, and every kind
of input it promises to cover has its section."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SECURITY.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")
# The inputs the threat model must cover, each a section heading of its own.
INPUTS = (
    "A directory's `.env`",
    "The model's server",
    "A tool call",
    "An MCP server",
    "A fetched page",
    "A file",
    "An import",
    "An HTTP client of `chat serve`",
    "Another local user",
    "A sandboxed command",
)


@lru_cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    )


def test_every_test_the_threat_model_names_exists():
    text = DOC.read_text(encoding="utf-8")
    named = NAMED.findall(text)
    assert len(named) >= 40, "the threat model names too few tests to prove anything"
    missing = [f"{path}::{name}" for path, name in named if not (ROOT / path).exists() or name not in _tests_in(path)]
    assert not missing, f"docs/SECURITY.md names tests that do not exist: {missing}"


def test_every_kind_of_input_has_its_section_and_its_tests():
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    titles = {section.splitlines()[0].strip(): section for section in sections}
    for wanted in INPUTS:
        found = [body for title, body in titles.items() if title.startswith(wanted)]
        assert found, f"docs/SECURITY.md has no section for {wanted!r} (sections: {list(titles)})"
        assert NAMED.search(found[0]), f"the section {wanted!r} names no test"

"""The package's source files, each parsed once per test process: the tests that read the code (its layers, the one
writer) walk the same trees, and must not change them."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chatcli"


@cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of one of the package's files."""
    return ast.parse(path.read_text())

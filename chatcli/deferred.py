"""Defer the start-up cost of a package chatcli never uses until something uses it.

``langgraph.runtime`` imports one typing class from ``langgraph_sdk.auth.types``, and
importing any submodule runs the package's ``__init__`` first: that one pulls in the
LangGraph Platform HTTP client and ``websockets`` (about 7% of the CPU time of importing
``langgraph.graph`` and ``langchain_openai``), needed only for ``RemoteGraph``.
``defer_package_init`` registers the package with its ``__path__`` but without running its
``__init__``, so submodules import as usual; the first lookup of any other name on the
package runs the real ``__init__`` and answers from it, so nothing is missing for code
that does use the package.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

# Dunder names that import machinery and tools probe for; looking them up does not load.
_PROBES = frozenset({"__wrapped__", "__getattr__", "__dir__", "__test__", "__origin__", "__mro_entries__"})


def defer_package_init(name: str) -> ModuleType | None:
    """Register package ``name`` without running its ``__init__``; None if already imported or absent."""
    if name in sys.modules:
        return None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    module = importlib.util.module_from_spec(spec)

    def __getattr__(attr: str) -> object:
        if attr in _PROBES:
            raise AttributeError(attr)
        del module.__getattr__
        spec.loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[name] = module
    return module


def defer_unused_packages() -> None:
    """Call before the first LangGraph import."""
    defer_package_init("langgraph_sdk")

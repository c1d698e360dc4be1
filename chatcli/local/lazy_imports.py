"""Defer the ``__init__`` of library packages whose eager imports chatcli never uses.

Several packages on chatcli's path import far more in their ``__init__`` than a chat turn
needs: ``openai.types`` imports every type of the whole API (graders, evals, batches...),
``openai.types.responses`` all of the Responses API, ``langsmith.types`` every LangSmith
REST schema, ``langchain_openai`` Azure, the completion LLMs and embeddings,
``langgraph_sdk`` the LangGraph Platform HTTP client and ``websockets``. Together they are
about half the start-up time of a one-shot question, yet chatcli's path needs only a few
of their submodules.

``defer_package_init(name)`` makes the coming import of package ``name`` register it with
its ``__path__`` but without running its ``__init__``:

* submodules import as usual (``import pkg.sub``, ``from pkg import sub``, ``pkg.sub``);
* the first lookup of any other name on the package (a class its ``__init__`` re-exports,
  ``__all__``, ``__version__``...) runs the real ``__init__``, under the import system's
  lock for the package, and answers from it: code that does use the package sees it whole.

A name that the ``__init__`` binds itself (``from .foo import foo``) is never answered by
the submodule: looking it up runs the real ``__init__``, and so does any lookup on a
package whose ``__init__`` binds names dynamically (its own ``__getattr__``, ``globals()``,
a star import). Anything else unexpected (a package imported already, a loader without
``exec_module``, a source that cannot be read) falls back to the normal, full import.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

# Packages chatcli's path imports but uses only submodules of (chatcli.local.runtime.install defers them).
UNUSED_INITS = (
    "langgraph_sdk",  # the platform client: langgraph.runtime needs one typing class from it
    "openai.types",  # every API type; a chat stream needs openai.types.chat and a few more
    "openai.types.responses",  # the Responses API types; openai.lib needs a few of them
    "langsmith.types",  # every LangSmith REST schema; the run tree needs one field list
    "langchain_openai",  # Azure, completion LLMs, embeddings: chatcli uses ChatOpenAI only
    "langchain_openai.chat_models",  # AzureChatOpenAI beside ChatOpenAI
    "sqlite_vec",  # vector search (and numpy) for LangGraph's SQLite store: chat's memories do not search by vector
)

# Dunder names that import machinery and tools probe for; looking them up does not load.
_PROBES = frozenset({"__wrapped__", "__getattr__", "__dir__", "__test__", "__origin__", "__mro_entries__"})
# Names in an ``__init__`` that may bind attributes the source does not show.
_DYNAMIC = frozenset({"__getattr__", "globals", "setattr", "vars", "exec", "eval", "__dict__"})


class _DeferredLoader:
    """Wraps a package's loader: creates the module as usual, runs its ``__init__`` on demand."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:  # create_module, get_source, get_resource_reader, is_package...
        return getattr(self.loader, name)

    def exec_module(self, module: ModuleType) -> None:
        if _is_deferred(module):  # importlib.reload() of a package still deferred
            _load(module)
            return
        loader = self.loader
        bound: list[frozenset[str] | None] = []  # the names its __init__ binds, once read

        def __getattr__(attr: str) -> Any:
            if attr in _PROBES:
                raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}")
            if not bound:
                bound.append(_names_bound_by_init(loader, module.__name__))
            if bound[0] is not None and attr not in bound[0]:
                if (sub := _import_submodule(module.__name__, attr)) is not None:
                    return sub
            _load(module)
            if _is_deferred(module):  # only if its lock could not be taken (a deadlock avoided)
                raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}")
            return getattr(module, attr)

        # Attributes the type checker does not know of: on a function, and a module's own __getattr__.
        setattr(__getattr__, "deferred_loader", loader)
        setattr(module, "__getattr__", __getattr__)


def _is_deferred(module: ModuleType) -> bool:
    return hasattr(vars(module).get("__getattr__"), "deferred_loader")


def _load(module: ModuleType) -> None:
    """Run the package's real ``__init__`` once, as an import would, with its own loader back."""
    try:  # the import system's own lock for the package, so concurrent imports wait (CPython's: no public API)
        lock = importlib._bootstrap._ModuleLockManager(module.__name__)  # type: ignore[attr-defined]
        lock.__enter__()
    except RuntimeError:  # the import system saw a deadlock: another thread is loading it
        return
    try:
        if not _is_deferred(module):
            return  # loaded meanwhile by another thread
        loader = module.__getattr__.deferred_loader  # type: ignore[attr-defined]
        del module.__getattr__
        module.__loader__ = loader
        spec = module.__spec__
        if spec is not None:
            spec.loader = loader
            spec._initializing = True  # type: ignore[attr-defined]  # other threads' imports wait
        try:
            loader.exec_module(module)
        finally:
            if spec is not None:
                spec._initializing = False  # type: ignore[attr-defined]
    finally:
        lock.__exit__(None, None, None)


def _names_bound_by_init(loader: Any, name: str) -> frozenset[str] | None:
    """Every name the package's ``__init__`` binds; None when that cannot be known from its source."""
    import ast

    try:
        tree = ast.parse(loader.get_source(name) or "")
    except Exception:  # noqa: BLE001 - any surprise means: load the real thing
        return None
    # The field of each kind of node that names what it binds (a Name's, stored or read: a harmless over-estimate).
    binds: dict[type, str] = {ast.Name: "id", ast.Attribute: "attr", ast.Global: "names", ast.Nonlocal: "names"}
    binds |= dict.fromkeys((ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler), "name")
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif bound := getattr(node, binds.get(type(node), ""), None):  # (an except without "as": None)
            names.update([bound] if isinstance(bound, str) else bound)
    return None if names & _DYNAMIC else frozenset(names)


def _import_submodule(package: str, attr: str) -> ModuleType | None:
    """``package.attr`` imported, or None when there is no such submodule."""
    if not attr.isidentifier():
        return None
    full = f"{package}.{attr}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


class _DeferringFinder:
    """A meta path finder that hands out deferring specs for the registered package names, and has what waits for a
    module (``when_loaded``) run on it as soon as it has loaded. It finds nothing itself: the others find them."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.waiting: dict[str, Callable[[ModuleType], None]] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        reloading = isinstance(target, ModuleType) and _is_deferred(target)  # importlib.reload()
        then = self.waiting.pop(fullname, None)
        deferred = fullname in self.names or reloading
        if not deferred and then is None:
            return None
        self.names.discard(fullname)  # once: an import after a failed one is a normal one
        spec: ModuleSpec | None = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        loader = spec.loader if spec is not None else None
        if then is not None and loader is not None and hasattr(loader, "exec_module"):
            load = loader.exec_module

            def loaded(module: ModuleType) -> None:
                load(module)
                then(module)

            loader.exec_module = loaded  # type: ignore[method-assign]
        if not deferred or spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        if spec.submodule_search_locations is not None:  # a package: its loader defers its __init__
            spec.loader = cast("Loader", _DeferredLoader(loader))  # a loader to the import system: it creates and execs
        return spec


_finder = _DeferringFinder()


def defer_package_init(name: str) -> bool:
    """Have the coming import of package ``name`` skip its ``__init__``; False if imported already."""
    if name in sys.modules:
        return False
    _first()
    _finder.names.add(name)
    return True


def when_loaded(name: str, then: Callable[[ModuleType], None]) -> None:
    """Run ``then(module)`` on module ``name`` as soon as it has loaded (at once if it has)."""
    if name in sys.modules:
        then(sys.modules[name])
    else:
        _first()
        _finder.waiting[name] = then


def _first() -> None:
    """The finder first on the meta path, where it is asked for every module."""
    sys.meta_path[:] = [_finder, *(finder for finder in sys.meta_path if finder is not _finder)]


def is_deferred(name: str) -> bool:
    """True while package ``name`` is imported but its ``__init__`` has not run."""
    module = sys.modules.get(name)
    return module is not None and _is_deferred(module)


def reset() -> None:
    """No coming import deferred (chatcli.local.runtime.reset); packages imported deferred stay as they are."""
    _finder.names.clear()
    _finder.waiting.clear()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)

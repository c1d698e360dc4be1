"""A LangGraph graph of the user's (``chat --graph``), loaded from what the command line names: ``PATH.py:NAME``,
``module:NAME``, or a graph id of the ``langgraph.json`` in the working directory.

Loading it runs the user's code: only the file (or module) the command line names is imported, as
``python PATH.py`` would run it (its directory first on the import path); chat never looks for graphs by
itself. The name may be a compiled graph, an uncompiled ``StateGraph`` (compiled here), or a function that
returns one (a ``langgraph.json`` factory: no argument, or a ``RunnableConfig``; async too). chat's
checkpointer is attached when the graph has none (or keeps threads in memory only), so threads persist.

``GraphFile`` is the seam the engine opens (chatcli.service.chat.Chat.open): anything with a
``label`` and an ``open(saver)`` that gives a graph-like app (``astream``, ``aget_state``...) will do, so a
deployed graph (LangGraph's ``RemoteGraph``) plugs in where a local one does.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from chatcli.core.binding import Binding
from chatcli.core.graph_app import RunningGraph
from chatcli.errors import UsageError

MANIFEST = "langgraph.json"
FORMS = "PATH.py:NAME, module:NAME, or a graph id of ./langgraph.json"


@dataclass(frozen=True)
class GraphFile:
    """The graph ``--graph SPEC`` names, resolved against the working directory ``cwd``."""

    spec: str
    cwd: Path

    def again(self, thread_id: str) -> str:
        """The command line that goes on with thread ``thread_id`` of this graph."""
        return f"chat --graph {self.spec} -t {thread_id}"

    @property
    def label(self) -> str:
        """How chat names the graph (in ``chat threads``, as a thread's model): ``agent.py:graph``, ``pkg.mod:app``, an
        id."""
        where, _, name = self.spec.rpartition(":")
        return f"{Path(where).name}:{name}" if where else self.spec

    @property
    def binding(self) -> Binding:
        """Its threads are bound to it: a file by its absolute path, a module or a langgraph.json id with the
        directory it was named in."""
        where, _, name = self.spec.rpartition(":")
        spec = self.spec
        if _is_file(self.spec, self.cwd):
            spec = str((self.cwd / self.spec).resolve())
        elif (path := _file(where, self.cwd)) is not None:
            spec = f"{path}:{name}"
        return Binding(kind="graph", graph=spec, cwd=str(self.cwd.resolve()))

    def check(self) -> None:
        """Refuse now what needs none of the user's code to refuse (before a thread is looked for): a file that is
        not there, a graph id ./langgraph.json does not have."""
        path = _file(_located(self.spec, self.cwd)[0], self.cwd)
        if path is not None and not path.is_file():
            raise UsageError(f"--graph {self.spec}: no file {path}", hint=f"--graph takes {FORMS}")

    async def open(self, saver: Any, stack: AsyncExitStack, say: Callable[[str], None]) -> RunningGraph:
        """Load the graph, with ``saver`` as its checkpointer unless it keeps its own; check it takes messages.
        A graph made by a context manager (a ``langgraph.json`` factory) stays open until ``stack`` closes;
        ``say`` tells which graph of a file chat took."""
        app: RunningGraph = with_checkpointer(await load_graph(self.spec, self.cwd, stack, say), saver, self.spec)
        check_messages(app, self.spec)
        return app


def _located(spec: str, cwd: Path) -> tuple[str, str]:
    """The file or module ``spec`` names and the graph's name in it ("": its one graph), a graph id of
    ./langgraph.json read there."""
    if _is_file(spec, cwd):
        return spec, ""
    where, _, name = spec.rpartition(":")
    if not where:
        where, _, name = _manifest_entry(spec, cwd).rpartition(":")
    return where, name


def _manifest_entry(spec: str, cwd: Path) -> str:
    """The ``PATH:NAME`` (relative to ``cwd``) a graph id of ./langgraph.json stands for."""
    path = cwd / MANIFEST
    if not path.is_file():
        raise UsageError(f"--graph {spec}: no {MANIFEST} here to find a graph id in", hint=f"--graph takes {FORMS}")
    try:
        graphs = json.loads(path.read_text(encoding="utf-8")).get("graphs") or {}
    except (ValueError, OSError, AttributeError) as exc:
        raise UsageError(f"{path} cannot be read: {exc}") from None
    entry = graphs.get(spec) if isinstance(graphs, dict) else None
    entry = entry.get("path") if isinstance(entry, dict) else entry
    if not isinstance(entry, str) or ":" not in entry:
        known = ", ".join(sorted(graphs)) if isinstance(graphs, dict) and graphs else "none"
        raise UsageError(f"{MANIFEST} has no graph {spec!r}", hint=f"its graphs: {known}")
    return entry


def _import_file(path: Path, spec: str) -> Any:
    """Run the file ``path`` as a module (its directory first on the import path, as ``python PATH`` has it)."""
    if not path.is_file():
        raise UsageError(f"--graph {spec}: no file {path}", hint=f"--graph takes {FORMS}")
    free = path.stem.isidentifier() and path.stem not in sys.modules
    name = path.stem if free else f"chatcli_graph_{abs(hash(path))}"
    found = importlib.util.spec_from_file_location(name, path)
    if found is None or found.loader is None:
        raise UsageError(f"--graph {spec}: {path} is not a Python file")
    module = importlib.util.module_from_spec(found)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    sys.modules[name] = module  # dataclasses and pickling look their module up by name
    try:
        found.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


# LangChain's OpenAI models wrap each streamed chunk in ``asyncio.wait_for`` (``stream_chunk_timeout``), which on
# Python 3.11 can swallow a cancellation that arrives as a chunk does: the graph's model call then runs to its end in
# the background after Ctrl-C or a client that left (its tokens paid for). Its default is read as the model is made,
# from this variable: off for the user's graph, unless the user set it (a stall still ends at the HTTP read timeout).
CHUNK_TIMEOUT = "LANGCHAIN_OPENAI_STREAM_CHUNK_TIMEOUT_S"


def _module(where: str, base: Path, spec: str) -> Any:
    """The module ``where`` names: a file (``.py``, or a path), else a module name importable from ``base``."""
    if sys.version_info < (3, 12):
        os.environ.setdefault(CHUNK_TIMEOUT, "0")
    try:
        if (path := _file(where, base)) is not None:
            return _import_file(path, spec)
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        return importlib.import_module(where)
    except UsageError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name == where:
            raise UsageError(f"--graph {spec}: no module named {where}", hint=f"--graph takes {FORMS}") from None
        raise _failed(spec, exc) from exc
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: whatever it raises is one line
        raise _failed(spec, exc) from exc


def _failed(spec: str, exc: BaseException) -> UsageError:
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return UsageError(f"loading the graph {spec} failed: {detail}", hint="--debug shows where")


def _file(where: str, cwd: Path) -> Path | None:
    """The file ``where`` names (``.py``, or a path), resolved against ``cwd``; None: it names a module."""
    return (cwd / where).resolve() if where.endswith(".py") or "/" in where or "\\" in where else None


def _is_graph(obj: Any) -> bool:
    return callable(getattr(obj, "astream", None)) and callable(getattr(obj, "aget_state", None))


def _is_file(spec: str, cwd: Path) -> bool:
    """``spec`` names a file without naming a graph in it (``agent.py``, ``graphs/agent.py``)."""
    return ":" not in spec and (spec.endswith(".py") or (cwd / spec).is_file())


def _one_graph(module: Any, spec: str, say: Callable[[str], None]) -> str:
    """The name of the graph in ``module`` that ``--graph FILE`` means: its one graph (compiled, or else a
    ``StateGraph``), else its ``graph`` or ``app`` (said, with the others); several and neither is refused."""
    from langgraph.graph import StateGraph

    public = {name: obj for name, obj in vars(module).items() if not name.startswith("_")}
    # Compiled graphs first: a builder beside its compiled graph (``builder.compile()``) is the same graph.
    graphs: list[str] = [name for name, obj in public.items() if _is_graph(obj)]
    found = graphs or [name for name, obj in public.items() if isinstance(obj, StateGraph)]
    if len(found) == 1:
        return found[0]
    chosen = next((name for name in ("graph", "app") if name in found), None)
    if not found or chosen is None:
        names = ", ".join(found) or "none"
        raise UsageError(f"--graph {spec}: which graph? the file has {names}", hint=f"--graph {spec}:NAME chooses one")
    say(f"{spec} has the graphs {', '.join(found)}: chat takes {chosen} (--graph {spec}:NAME for another)")
    return chosen


async def load_graph(spec: str, cwd: Path, stack: AsyncExitStack, say: Callable[[str], None]) -> Any:
    """The compiled graph ``spec`` names (without a checkpointer of chat's yet). A factory that is a context
    manager (``langgraph.json``'s ``async with`` form) is entered on ``stack``, which keeps it open."""
    from langgraph.graph import StateGraph

    where, name = _located(spec, cwd)
    if not where or not (name.isidentifier() or not name):
        raise UsageError(f"--graph {spec}: not a graph", hint=f"--graph takes {FORMS}")
    module = _module(where, cwd, spec)
    name = name or _one_graph(module, spec, say)
    if not hasattr(module, name):
        raise UsageError(f"--graph {spec}: {where} has no {name}")
    obj = getattr(module, name)
    try:
        if inspect.isroutine(obj):  # a factory
            takes = [p for p in inspect.signature(obj).parameters.values() if p.default is p.empty]
            obj = obj({"configurable": {}}) if takes else obj()
            obj = await obj if inspect.isawaitable(obj) else obj
        obj = await _entered(obj, stack)
        if isinstance(obj, StateGraph):
            obj = obj.compile()
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise _failed(spec, exc) from exc
    if not _is_graph(obj):
        what = "a class" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise UsageError(f"--graph {spec} is {what}, not a LangGraph graph", hint=f"--graph takes {FORMS}")
    return obj


async def _entered(obj: Any, stack: AsyncExitStack) -> Any:
    """What a factory's context manager gives (entered on ``stack``); anything else as it is."""
    if _is_graph(obj):
        return obj
    if hasattr(obj, "__aenter__") and hasattr(obj, "__aexit__"):
        return await stack.enter_async_context(obj)
    if hasattr(obj, "__enter__") and hasattr(obj, "__exit__"):
        return stack.enter_context(obj)
    return obj


def with_checkpointer(app: Any, saver: Any, spec: str = "") -> Any:
    """``app`` persisted by ``saver``, unless it has a checkpointer of its own that keeps threads (not only in
    memory)."""
    from langgraph.checkpoint.memory import InMemorySaver

    own = getattr(app, "checkpointer", None)
    if own is False:
        raise UsageError(
            f"the graph {spec} was compiled with checkpointer=False: chat keeps threads with one",
            hint="compile it without checkpointer=False",
        )
    if own is None or own is True or isinstance(own, InMemorySaver):
        return app.copy(update={"checkpointer": saver})
    return app


def check_messages(app: Any, spec: str) -> None:
    """Refuse, in one line, a graph whose state has no ``messages`` key (chat sends each line as a message)."""
    channels = getattr(app, "channels", None)
    if isinstance(channels, dict) and "messages" not in channels:
        keys = ", ".join(k for k in channels if not k.startswith(("__", "branch:"))) or "none"
        raise UsageError(
            f"the graph {spec} has no messages key in its state (its keys: {keys})",
            hint="chat sends each line as a human message on `messages` (MessagesState has it)",
        )

"""What answers a thread: chat's own graph, a graph of the user's (``--graph``), or an assistant on a LangGraph
Agent Server (``--remote``).

A thread (chatcli.service.thread.Thread) is one class whatever answers it. What differs is here, as data and a few
small methods: what the thread can do (``can``, as chatcli.service.abilities says of each: chat's system prompt, roles
and model choice, compaction, files, keeping the thread), how one turn runs (its chatcli.core.turn.Source),
how chat writes a change into the thread's state and finds where a retry starts, how a failure inside the graph
is said, and the list of its threads. Nothing outside chat's core asks which backend it holds: it asks what the
thread can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol, Sequence, cast

from chatcli.core.binding import Binding
from chatcli.core.events import Listener
from chatcli.core.graph_app import Compactor, GraphApp, RunningGraph
from chatcli.core.turn import Config, Source
from chatcli.errors import ChatError, UsageError
from chatcli.service.abilities import CAN, Abilities

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langgraph.types import StateSnapshot

    from chatcli.backends.own.spending import Guard
    from chatcli.backends.remote.client import Remote
    from chatcli.config import Settings
    from chatcli.store import Store, ThreadInfo
    from chatcli.store.base import Asked
    from chatcli.threads.operations import Transcript

# A retry on a graph of the user's looks this far back (in checkpoints) for where its question began to be answered.
LOOKBACK = 100


class ThreadList(Protocol):
    """A backend's threads, as the prompt's thread commands and Tab completion read them."""

    secrets: tuple[str, ...]

    async def list(self, limit: int | None = None) -> list[ThreadInfo]: ...

    async def info(self, thread_id: str) -> ThreadInfo | None: ...

    async def transcript(self, thread_id: str) -> Transcript: ...

    async def shown(self, thread_id: str) -> Transcript: ...

    async def export_json(self, thread_id: str) -> dict[str, Any]: ...

    async def delete(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> None: ...


class Backend:
    """Chat's own graph: ``app`` compiled by chatcli.backends.own.graph, which ``compactor`` folds; its tools step runs
    ``toolbox``'s calls. The defaults of every method are chat's own graph's; the other backends below change
    what differs."""

    can: Abilities = CAN["chat"]
    label: str | None = None  # what answers, named, when it is not a model of chat's (a graph, a server's)
    binding: Binding | None = None  # what the threads are bound to (None: chat's own, on their model)

    def __init__(self, app: GraphApp, compactor: Compactor | None = None):
        self.app = app
        self.compactor = compactor
        # By thread, the lock its turns here hold or wait for: dropped once none does.
        self._held: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def thread_lock(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Hold ``thread_id`` for one turn in this process, where no database of chat's holds it (an Agent
        Server's thread): its turns here queue up, each after the one before it has ended and kept what it must (a
        stopped answer's part written into the thread, which the next question waits for). ``on_wait()`` is called
        first when another turn holds it."""
        lock = self._held.setdefault(thread_id, asyncio.Lock())
        if lock.locked() and on_wait is not None:
            on_wait()
        async with lock:
            yield

    def source(self, stall_timeout: float | None, context_tokens: int | None) -> Source:
        """How one turn of a thread runs (a new one for each thread)."""
        from chatcli.backends.own.turns import ChatSource

        running: RunningGraph = self.app  # type: ignore[assignment]  # chat's own graph runs here
        return ChatSource(running, stall_timeout, context_tokens)

    def threads(self, store: Store | None) -> ThreadList:
        """The threads on this backend (chat's database for a graph that runs here)."""
        from chatcli.threads.operations import Threads

        assert store is not None  # chat's own graph and a graph of the user's run on chat's database
        return Threads(self.app, store, foreign=self.label is not None)

    async def ask(self, config: Config, values: dict[str, Any]) -> dict[str, Any] | None:
        """Take a question (``values``: its messages, and settings for the thread) and return the run's input: chat's
        graph stores it first (if it cannot be stored nothing is sent) and the run goes on from it."""
        from langgraph.graph import START

        await self.app.aupdate_state(config, values, as_node=START)
        return None

    async def change(self, config: Config, values: dict[str, Any]) -> None:
        """Write a change chat makes to the thread (messages taken back), as the node that answers."""
        from chatcli.backends.own.graph import MODEL_NODE

        await self.app.aupdate_state(config, values, as_node=MODEL_NODE)

    async def retry_point(
        self, config: Config, head: StateSnapshot, question: BaseMessage, current: dict[str, Any]
    ) -> Config:
        """Where a retry of ``question`` starts (``head``: the thread's state), with the thread's ``current``
        settings (chatcli.backends.own.rewind)."""
        from chatcli.backends.own.rewind import retry_point

        return await retry_point(self.app, config, head, question, current)

    def failure(self, exc: Exception) -> Exception:
        """What a failure of a turn is said as (chat's own graph: as it is)."""
        return exc

    def hearing(self, listener: Listener) -> Listener:
        """Who hears a turn: ``listener`` (a server's run tells its start once the server has taken it)."""
        return listener

    def message(self, item: object) -> BaseMessage:
        """A message of the thread's state as LangChain's message."""
        return cast("BaseMessage", item)

    def check_new(self, thread_id: str) -> None:
        """Refuse, in one line, an id a new thread cannot have here."""

    def check_background(self) -> None:
        """Refuse, in one line, a background reply (chatcli.service.jobs) this backend's threads cannot have."""

    async def aclose(self) -> None:
        """Let go of what the backend holds open (a server's connection)."""

    async def keep(self, thread_id: str, asked: Sequence[Asked] | None) -> None:
        """Once a turn of a thread kept elsewhere (an Agent Server's) has ended: note in chat's database where it lives
        and what it waits on for the user (``asked``: the inbox; None: not known now). Chat's own threads are kept
        there already."""


class GraphBackend(Backend):
    """A graph of the user's, ``label`` (``agent.py:graph``), run here; its threads bound to ``binding``."""

    can = CAN["graph"]

    def __init__(self, app: GraphApp, label: str, binding: Binding | None, settings: Settings):
        from chatcli.backends.own.pricing import Pricer

        super().__init__(app)
        self.label, self.binding = label, binding
        # How its model calls are priced: config.toml's [prices] first, then the kept table, by the model each call
        # names (where the graph sends them is its own: none counts as local but by its provider).
        self.pricer = Pricer(settings.prices, None, False, settings)
        self.guard: Guard | None = None  # the spending limits its model calls are kept within (None: none set)

    def source(self, stall_timeout: float | None, context_tokens: int | None) -> Source:
        from chatcli.backends.graphs.turns import GraphSource

        return GraphSource(self.app, self.pricer, self.guard)

    async def ask(self, config: Config, values: dict[str, Any]) -> dict[str, Any] | None:
        return {"messages": values["messages"]}  # the graph's input: it stores the question itself

    async def change(self, config: Config, values: dict[str, Any]) -> None:
        """Through LangGraph's own entry node, then clearing what that would run: nothing of the graph's nodes."""
        from chatcli.backends.own.rewind import write_values

        await write_values(self.app, config, values)

    async def retry_point(
        self, config: Config, head: StateSnapshot, question: BaseMessage, current: dict[str, Any]
    ) -> Config:
        """The earliest checkpoint of the last turn where ``question`` is the last message and a node is next; a
        thread with none (forked, imported) has its head rewound to the question instead."""
        from langchain_core.messages import RemoveMessage
        from langgraph.graph import START

        found = None
        async for snapshot in self.app.aget_state_history(config, limit=LOOKBACK):
            messages = snapshot.values.get("messages") or []
            if snapshot.next and messages and messages[-1].id == question.id:
                found = snapshot
            elif found is not None:
                break
        if found is not None:
            return dict(found.config)
        messages = head.values["messages"]
        after = messages[next(i for i, m in enumerate(messages) if m.id == question.id) + 1 :]
        gone = {"messages": [RemoveMessage(id=m.id) for m in after]}
        return dict(await self.app.aupdate_state(head.config, gone, as_node=START))

    def failure(self, exc: Exception) -> Exception:
        """A model client's error as chat says its own, chat's own as it is, anything else raised by the graph's
        code as one line naming the node it failed in."""
        import re

        from chatcli.providers.registry import raised_by_a_client

        if isinstance(exc, ChatError) or raised_by_a_client(exc):  # a model client's: said by its provider
            return exc
        notes = " ".join(getattr(exc, "__notes__", None) or ())
        node = re.search(r"During task with name '([^']+)'", notes)
        where = f" in node {node.group(1)}" if node else ""
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return ChatError(f"the graph failed{where}: {detail}", hint="--debug shows where")

    def message(self, item: object) -> BaseMessage:
        """The message as LangChain's; an answer with token counts and no cost kept (the graph keeps its answers
        as its model gave them) with its cost, priced as the run priced it, so /usage totals it as chat's own."""
        from chatcli.backends.graphs.messages import as_message
        from chatcli.backends.own.pricing import COST_KEY, LOCAL, UNPRICED_KEY, answer_cost

        message: BaseMessage = as_message(item)
        meta, used = getattr(message, "response_metadata", None), getattr(message, "usage_metadata", None)
        if not isinstance(meta, dict) or not used or COST_KEY in meta:
            return message
        usd, local = answer_cost(meta, used, self.pricer)
        priced = {**meta, COST_KEY: usd, **({UNPRICED_KEY: LOCAL} if local else {})}
        return message.model_copy(update={"response_metadata": priced})


class RemoteBackend(GraphBackend):
    """An assistant on a LangGraph Agent Server (``remote``): the server keeps its threads and runs its graph."""

    can = CAN["remote"]

    def __init__(self, remote: Remote, settings: Settings):
        from chatcli.backends.remote.state import ServerApp

        self.remote, self.server = remote, ServerApp(remote)
        self.db = settings.db or ""  # chat's database, where its threads are noted (``keep``)
        super().__init__(self.server, remote.graph_id, remote.spec.binding, settings)

    def source(self, stall_timeout: float | None, context_tokens: int | None) -> Source:
        from chatcli.backends.remote.run import RemoteSource

        return RemoteSource(self.remote, self.server, self.pricer)

    def threads(self, store: Store | None) -> ThreadList:
        from chatcli.threads.remote import RemoteThreads

        return RemoteThreads(self.remote, self.app, self.db)

    def check_new(self, thread_id: str) -> None:
        import uuid

        try:
            uuid.UUID(thread_id)
        except ValueError:
            raise UsageError(
                f"a new thread on {self.remote.spec.url} needs a UUID for its id, not {thread_id[:40]!r}",
                hint="the server names its threads with UUIDs",
            ) from None

    def check_background(self) -> None:
        if self.remote.spec.headers:  # the job could not send them: they would be on its command line
            raise UsageError(
                "a background reply cannot send this server the --header it was opened with (it would be on the "
                "job's command line, for any user to read)",
                hint="give the server's key in LANGGRAPH_API_KEY (or LANGSMITH_API_KEY) and open it without --header",
            )

    def hearing(self, listener: Listener) -> Listener:
        from chatcli.backends.remote.threads import StartWhenTaken

        return StartWhenTaken(listener)

    async def aclose(self) -> None:
        await self.remote.aclose()

    async def keep(self, thread_id: str, asked: Sequence[Asked] | None) -> None:
        """Note that ``thread_id`` lives on this server (chatcli.core.binding), so that ``chat -t ID`` without
        --remote says where it is instead of starting a thread of chat's own under that id, and what it waits on
        for the user: ``chat inbox`` lists it beside chat's own threads, and answers it through this server."""
        from chatcli.core.inputs import check_thread_id
        from chatcli.store.light import open_light_store

        binding = self.remote.spec.binding
        # The thread is the server's: a local database that cannot take the note changes nothing of it.
        with contextlib.suppress(ChatError, OSError):
            check_thread_id(thread_id)  # an id the server named: a string of its choosing
            async with open_light_store(self.db) as store:
                if await store.index.get(thread_id) is None:  # a thread of chat's own keeps its binding, whatever
                    await store.index.bind(thread_id, binding.to_json())  # the server this turn ran on
                    if asked is not None:
                        await store.index.waits(thread_id, asked)

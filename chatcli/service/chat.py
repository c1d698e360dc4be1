"""Wiring: open the store, build the model and the graph, and hand back a conversation or the thread manager."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, cast

from chatcli.config import Settings
from chatcli.core.inputs import check_thread_id, new_thread_id, resolve_thread_id
from chatcli.errors import UsageError

if TYPE_CHECKING:
    # Imported where they are used: the prompt chooses its thread (``choose``) before its first paint, and the
    # thread, its backend and its events load after it (chatcli.ui.prompt._open).
    from chatcli.backends.own.relevance import Relevance
    from chatcli.backends.own.roles import Role
    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.content.attachments import Attachment
    from chatcli.core.binding import Binding
    from chatcli.core.events import Listener
    from chatcli.core.graph_app import GraphApp, GraphLoader
    from chatcli.service.backend import Backend, ThreadList
    from chatcli.service.commands import Commands
    from chatcli.service.thread import Thread
    from chatcli.store import Store, ThreadInfo
    from chatcli.tools.toolbox import Toolbox

    # What answers a process's threads: chat's own graph (None), a graph of the user's, an Agent Server's assistant.
    Answering = GraphLoader | RemoteSpec | None

# open_conversation's ``toolbox`` when the caller gives none: it opens its own.
OWN = object()


@dataclass(frozen=True)
class Opening:
    """The thread a run opens: ``info`` is its index row when it is resumed, None when it is new."""

    thread_id: str
    info: ThreadInfo | None = None
    binding: Binding | None = None  # what answers it, as stored with it (None: new, or stored before bindings)
    elsewhere: bool = False  # kept by a LangGraph server, not in chat's database (``info`` is the server's)


@dataclass(frozen=True)
class ThreadSetup:
    """How the command line sets the thread up, built once from its flags and applied by ``set_up``."""

    system: str | None = None  # --system
    variables: dict[str, str] = field(default_factory=dict)  # --var NAME=VALUE
    role: Role | None = None  # --role, read already
    model: str | None = None  # -m: it wins over the thread's role's model
    temperature: str | None = None  # --temperature: it wins over the role's
    attach: tuple[str, ...] = ()  # -a FILE, as given
    attachments: tuple[Attachment, ...] = ()  # those files (and an image on stdin), read and checked
    latest: bool = False  # --continue
    new_thread: str | None = None  # --new-thread ID
    announce: bool = False  # the prompt names the new thread once it exists (the banner could not)
    # What answers the thread when it is not chat's own graph: --graph's (a chatcli.backends.graphs.load.GraphFile, or
    # anything with its ``label`` and ``open(saver)``), or --remote's assistant (a chatcli.backends.remote.client
    # RemoteSpec); --resume: the value its pending interrupts get.
    app: "GraphLoader | RemoteSpec | None" = None
    resume: Any = None
    rebind: bool = False  # --rebind: a thread bound to another graph (or to chat's own) is handed to this one


async def choose_thread(
    db: str, thread: str | None = None, *, new: str | None = None, latest: bool = False, model: str | None = None
) -> Opening:
    """Which thread to open: ``thread`` resumed, ``new`` started under that name, the most recent one
    (``latest``; with ``model``, the most recent that model answered last: a graph's label, for --graph),
    or a new one; an id that exists nowhere but looks like one that does is refused, naming it.

    Reads only the thread index (no checkpoint), so it runs before anything is sent or the prompt opens.
    """
    from chatcli.store import read_threads

    if thread == "" or new == "":
        raise UsageError("the thread id is empty", hint="give an id (chat threads lists them), or leave the option out")
    if sum(map(bool, (thread, new, latest))) > 1:
        raise UsageError("--thread, --new-thread and --continue each choose the thread: give one of them")
    named = thread or new
    wanted = check_thread_id(named) if named else None
    rows = await read_threads(db)
    if latest:
        mine = [row for row in rows if model is None or row.model == model]
        if not mine:
            raise UsageError(
                f"no conversation {'with ' + model + ' ' if model else ''}to continue yet",
                hint="ask a question to start one",
            )
        return Opening(mine[0].thread_id, mine[0], await _bound(db, mine[0].thread_id))
    if new is not None:
        if any(row.thread_id == new for row in rows):
            raise UsageError(f"thread {new} already exists", hint=f"chat --thread {new} resumes it")
        return Opening(new)
    if wanted is None:
        known = {row.thread_id for row in rows}
        fresh = next(t for t in iter(new_thread_id, None) if t not in known)
        return Opening(fresh)
    info = existing(wanted, rows, f"chat --new-thread {wanted}")
    if info is None:
        elsewhere = await _bound(db, wanted)
        if elsewhere is not None and elsewhere.kind == "remote":  # a deployed graph's thread, not one of chat's
            raise UsageError(
                f"thread {wanted} is on {elsewhere.url}", hint=f"{elsewhere.command(wanted)} goes on with it"
            )
        return Opening(wanted)
    return Opening(info.thread_id, info, await _bound(db, info.thread_id))


async def choose(
    db: str,
    thread: str | None = None,
    *,
    new: str | None = None,
    latest: bool = False,
    answering: Answering = None,
) -> Opening:
    """Which thread a run opens (see ``choose_thread``), wherever what answers it keeps its threads: chat's
    database, or the LangGraph server ``answering`` names (its thread ``thread`` names, its latest, or a new one)."""
    from chatcli.backends.remote.client import RemoteSpec

    if not isinstance(answering, RemoteSpec):
        label = answering.label if answering is not None else None  # -c: that graph's last thread
        return await choose_thread(db, thread, new=new, latest=latest, model=label)
    from chatcli.backends.remote.client import Remote
    from chatcli.backends.remote.threads import new_thread_id

    remote = await Remote.open(answering)
    try:
        if thread:
            try:
                return Opening((info := await remote.thread(thread)).thread_id, info, elsewhere=True)
            except UsageError:
                if not _is_uuid(thread):
                    raise
                return Opening(
                    thread.lower(), elsewhere=True
                )  # a new thread under the id given, as the server takes it
        if latest:
            rows = await remote.threads(1)
            if not rows:
                raise UsageError(f"no thread of {remote.graph_id} on {answering.url} to continue yet")
            return Opening(rows[0].thread_id, rows[0], elsewhere=True)
        return Opening(new_thread_id(), elsewhere=True)
    finally:
        await remote.aclose()


def _is_uuid(text: str) -> bool:
    """True for a whole UUID (what a LangGraph server names its threads with)."""
    import uuid

    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


async def _bound(db: str, thread_id: str) -> Binding | None:
    from chatcli.core.binding import Binding
    from chatcli.store import read_binding

    return Binding.from_json(await read_binding(db, thread_id))


def existing(wanted: str, rows: list[ThreadInfo], start_new: str) -> ThreadInfo | None:
    """The row of the thread ``wanted`` names among ``rows`` (its id, or a unique start of a generated
    one), or None for a new name; a probable typo of a generated id is refused, naming it, with
    ``start_new`` as the way to start a thread under that name anyway (see ``resolve_thread_id``)."""
    found = resolve_thread_id(wanted, [row.thread_id for row in rows], start_new)
    return next((row for row in rows if row.thread_id == found), None) if found else None


async def set_up(conversation: Thread, setup: ThreadSetup, settings: Settings) -> None:
    """Open the thread with the command line's role, --system and --var;
    -m (or the local model, which serves one model) and --temperature win over the thread's role's."""
    pinned = setup.model is not None or bool(settings.local)
    await conversation.set_up(
        setup.role, setup.system, setup.variables, model_given=pinned, temperature_given=setup.temperature is not None
    )


def load_engine(spec: str | None = None) -> None:
    """Import the heavy modules of a turn (LangGraph, the model's client, the SQLite checkpointer).

    The client is the one of ``spec``'s provider (another provider's package, such as Anthropic's, is
    imported only for its models); the OpenAI-compatible one by default.
    """
    import importlib.util

    from chatcli.providers import provider
    from chatcli.providers.registry import name_of

    package = provider(name_of(spec or "")).package
    if package and importlib.util.find_spec(package) is not None:
        importlib.import_module(f"{package}.chat_models")
    else:
        import langchain_openai.chat_models.base  # noqa: F401  (ChatOpenAI only: the package loads Azure too)

    import chatcli.backends.own.graph  # noqa: F401
    import chatcli.backends.own.model  # noqa: F401
    import chatcli.store.messages  # noqa: F401  (the SQLite checkpointer)


def notices(listener: Listener) -> Callable[[str], None]:
    """How the layers below (the store, the tools) say a line: as a ``Notice`` to ``listener``."""
    from chatcli.core.events import Notice

    return lambda text: listener.hear(Notice(text))


@asynccontextmanager
async def open_conversation(
    settings: Settings,
    thread_id: str,
    listener: Listener | None = None,
    toolbox: "Toolbox | None | object" = OWN,
    app: "GraphLoader | RemoteSpec | None" = None,
) -> AsyncIterator[Thread]:
    """Open the store, build the model and the graph, and hand back the thread's conversation.

    ``listener`` hears every turn (chatcli.core.events) and what happens between turns, and is
    asked about tool calls; by default nothing is heard and no call is approved. ``toolbox`` is the
    session's tools (chatcli.tools.toolbox.Toolbox, or None for none); by default the conversation
    opens its own: MCP servers with no cached listing start first, and the engine loads in a thread
    meanwhile, so their start-up overlaps. ``app``: a graph that is not chat's own (``ThreadSetup.app``):
    no model, no tools of chat's (its backend is a chatcli.service.backend.GraphBackend).
    """
    check_thread_id(thread_id)
    from chatcli.core.events import Silent

    listener = listener if listener is not None else Silent()
    if app is not None:  # a graph of the user's, or a server's assistant
        async with open_chat(settings, listener, app) as engine:
            yield await engine.conversation(thread_id)
        return
    async with AsyncExitStack() as stack:
        tools: Toolbox | None
        if toolbox is not OWN:
            tools = cast("Toolbox | None", toolbox)  # the caller's (or none)
        else:  # the settings' own
            # With the warm worker on, one-shots share MCP servers kept by the MCP host.
            tools = await stack.enter_async_context(
                open_toolbox(settings, listener, shared=settings.worker, revalidate=settings.worker)
            )
            if tools is not None and tools.loaded is not None:  # a server starts (nothing cached for it)
                await tools.warm()
                await asyncio.to_thread(load_engine)
        engine = await stack.enter_async_context(open_engine(settings, listener, tools))
        yield await engine.conversation(thread_id)


@dataclass
class Chat:
    """The service a door holds, one per process: what answers its threads (``backend``: chat's own graph of one
    settings, a graph of the user's, an Agent Server's assistant) and the store that keeps them (None: the
    server does); ``conversation(thread_id)`` gives the Thread of any of them."""

    backend: Backend
    store: Store | None  # None: the server keeps the threads (an Agent Server's assistant)
    settings: Settings
    context_tokens: int
    toolbox: "Toolbox | None"
    listener: Listener
    question_limit: int | None = (
        None  # the default model's (chatcli.backends.own.model_state.ModelState.question_limit)
    )
    limited_by: str = "budget"  # and what sets it: the user's "budget", the model's "window", an "assumed" one

    @property
    def app(self) -> GraphApp:
        return self.backend.app

    @property
    def graph(self) -> str | None:
        """The label of an app that is not chat's own (see open_graph_engine), None for chat's own graph."""
        return self.backend.label

    async def conversation(
        self,
        thread_id: str,
        listener: Listener | None = None,
        model: str | None = None,
        toolbox: "Toolbox | None" = None,
    ) -> Thread:
        """Thread ``thread_id``'s conversation, heard by ``listener`` (the engine's by default), asking
        ``model`` (the settings' by default), with ``toolbox``'s tools (the engine's by default: a session's own
        comes from ``Toolbox.for_session``)."""
        from chatcli.service.thread import Thread

        own = self.backend.can.prompt
        conversation = Thread(
            app=self.app,
            thread_id=check_thread_id(thread_id),
            backend=self.backend,
            context_tokens=self.context_tokens if own else None,
            question_limit=self.question_limit,
            limited_by=self.limited_by,
            store=self.store,
            model_name=model or self.settings.model,
            stall_timeout=self.settings.timeout or None,
            toolbox=toolbox if toolbox is not None and own else self.toolbox,
            listener=listener if listener is not None else self.listener,
            approve_all=self.settings.approve_all,
        )
        await conversation.follow_thread()  # the model and temperature of the thread's role
        return conversation

    def threads(self) -> ThreadList:
        """The threads: on the engine's database, or on the server that keeps them."""
        from chatcli.providers.base import known_secrets
        from chatcli.threads.operations import Threads

        if self.store is None:  # an Agent Server's: shown with the same credentials masked
            threads = self.backend.threads(None)
            threads.secrets = known_secrets(self.settings)
            return threads
        return Threads(self.app, self.store, foreign=self.graph is not None, secrets=known_secrets(self.settings))

    def commands(self) -> Commands:
        """This chat's command registry: the prompt's slash commands and an editor's available commands are views of
        it, each filtered by what its thread can do (chatcli.service.commands)."""
        from chatcli.service.commands import Commands

        if not isinstance(getattr(self, "_commands", None), Commands):
            self._commands = Commands()
        return self._commands

    async def model_for(self, thread_id: str, model: str | None = None) -> str | None:
        """The model thread ``thread_id`` goes on with when a door asks for ``model`` (None: the thread's own, or the
        settings'): the door's, else the thread's binding (chatcli.core.binding); a thread another graph answers is
        refused in one line naming the command that goes on with it."""
        from chatcli.core.binding import Choice, answered_by

        if self.store is None:  # the server's threads: each is its assistant's
            return model
        serving = self.backend.binding  # what this door's threads are bound to (None: chat's own graph)
        way = await answered_by(self.store.index, thread_id, Choice(serving, model))
        if way is None:
            return model
        if way.graph is not None and (serving is None or not way.graph.same_graph(serving)):
            raise UsageError(
                f"thread {thread_id} is answered by {way.graph.describe()}, which is not what answers here",
                hint=f"{way.graph.command(thread_id)} goes on with it",
            )
        return way.model

    async def new_or_kept(self, thread_id: str) -> None:
        """Refuse, in one line, an id a new thread cannot have on this backend (a server names its own)."""
        threads = self.threads()
        if await threads.info(thread_id) is None:
            self.backend.check_new(thread_id)


@asynccontextmanager
async def open_chat(
    settings: Settings,
    listener: Listener,
    answering: Answering = None,
    toolbox: "Toolbox | None" = None,
) -> AsyncIterator[Chat]:
    """The one engine of a process (``chat serve``'s): chat's own graph with ``toolbox``'s tools, the graph of the
    user's ``answering`` loads, or the assistant on the LangGraph server it names."""
    from chatcli.backends.remote.client import RemoteSpec

    if answering is None:
        async with open_engine(settings, listener, toolbox) as engine:
            yield engine
    elif isinstance(answering, RemoteSpec):
        from chatcli.backends.remote.client import Remote
        from chatcli.service.backend import RemoteBackend

        backend = RemoteBackend(await Remote.open(answering))
        try:
            yield Chat(backend, None, settings, 0, None, listener)
        finally:
            await backend.aclose()
    else:
        async with open_graph_engine(settings, listener, answering) as engine:
            yield engine


@asynccontextmanager
async def open_graph_engine(settings: Settings, listener: Listener, source: GraphLoader) -> AsyncIterator[Chat]:
    """Open the store and the app ``source`` gives (``await source.open(saver)``: a graph that is not chat's own,
    kept by the store's checkpointer unless it keeps its own threads); no model or tools of chat's."""
    from chatcli.service.backend import GraphBackend
    from chatcli.store import open_store

    async with open_store(settings.db or "") as store, AsyncExitStack() as stack:
        store.tell_waits(notices(listener))
        app = await source.open(store.saver, stack, notices(listener))
        app = with_store(app, store.memory if settings.memories else None)
        yield Chat(GraphBackend(app, source.label, source.binding), store, settings, 0, None, listener)


def with_store(app: Any, memory: Any) -> Any:
    """``app`` with LangGraph's store of chat's database (the user's memories, under ``("chatcli", "memories",
    LOGIN)``) unless it keeps a store of its own beyond memory, as its checkpointer is."""
    from langgraph.store.memory import InMemoryStore

    own = getattr(app, "store", None)
    if memory is None or not hasattr(app, "copy") or (own is not None and not isinstance(own, InMemoryStore)):
        return app
    return app.copy(update={"store": memory})


def relevance(settings: Settings) -> "Relevance | None":
    """How the memories are ranked past their share: by the embedding model the settings name (None: the newest)."""
    spec = settings.embedding_model
    if not spec or not settings.memories:
        return None
    from chatcli.backends.own.model import build_embeddings, describe_error
    from chatcli.backends.own.relevance import Relevance

    def describe(exc: BaseException) -> str | None:
        error = describe_error(exc, settings, spec=spec)
        return error.message if error is not None else None

    return Relevance(spec, lambda: build_embeddings(settings, spec), describe)


@asynccontextmanager
async def open_engine(settings: Settings, listener: Listener, toolbox: "Toolbox | None" = None) -> AsyncIterator[Chat]:
    """Open the store and build the model and the graph (with ``toolbox``'s tools); ``listener`` hears
    what happens between turns (a database another program holds)."""
    from chatcli.backends.own.graph import ChatGraph
    from chatcli.backends.own.model import ModelPool
    from chatcli.backends.own.model_state import ModelStates
    from chatcli.backends.own.pricing import Pricer
    from chatcli.backends.own.standing import Standing
    from chatcli.local.policy import keeper
    from chatcli.service.backend import Backend
    from chatcli.store import open_store

    models = ModelPool(settings)
    models()  # build the default model now: a bad setting fails before the first question
    # Each model's window: learned earlier, or told by its server (llama.cpp, vLLM, LM Studio,
    # Ollama); the local model's own server is sized by chat already.
    states = ModelStates(settings.context_tokens, settings)
    default = await states.of(settings.model)
    async with open_store(settings.db or "") as store:
        store.tell_waits(notices(listener))  # a database another program holds: say that chat waits for it
        # A local model server started by `chat --local` is waited for (and started again if it
        # stopped) at each model call, after the question is stored: see local.keeper.
        graph = ChatGraph(
            models,
            default_system=settings.system,
            context_tokens=settings.context_tokens,
            memory=settings.memory,
            compact_at=settings.compact_at,
            before_model=keeper(settings),
            states=states,
            toolbox=toolbox,
            tool_rounds=settings.tool_rounds,
            tool_result_chars=settings.tool_result_chars,
            pricer=Pricer(settings.prices, settings.base_url, bool(settings.local), settings),
            standing=Standing(
                settings.memories, settings.project_instructions, settings.workdir, relevance=relevance(settings)
            ),
        )
        yield Chat(
            Backend(graph.compile(store.saver, store.memory), graph),
            store,
            settings,
            default.budget,
            toolbox,
            listener,
            question_limit=default.question_limit,
            limited_by=default.limited_by,
        )


@asynccontextmanager
async def open_toolbox(
    settings: Settings,
    listener: Listener | None = None,
    *,
    refresh: bool = False,
    always: bool = False,
    idle: float | None = None,
    shared: bool = False,
    revalidate: bool = True,
) -> AsyncIterator[Any]:
    """The session's tools; None with --no-tools, or when no tool is set up (unless ``always``: a
    session, where a resumed thread's calls may name a built-in tool that is not turned on).

    MCP servers are known by their cached listings and start when used; those with none (or all,
    with ``refresh``) start in the background now, and so do those whose listing went stale (the
    lifetime the server gave it passed) unless not ``revalidate`` (a one-shot without the MCP host:
    listed again when used). With ``idle``, a server that runs no call for
    that many seconds is stopped (it starts again when used). ``shared``: the servers are the
    user's MCP host's (chatcli.tools.mcp.host), kept running between runs for ``worker_idle``
    seconds. What goes wrong with a server is a ``Notice`` to ``listener``. The servers stop (or
    are let go) when the block ends.
    """
    from pathlib import Path

    from chatcli.paths import data_dir
    from chatcli.tools.mcp.config import read_servers

    servers = read_servers(Path(settings.mcp_config)) if settings.use_tools and settings.mcp_config else []
    # With memories on, the remember tool (offered on a turn that asks to remember something, each call approved).
    remembering = ("memory",) if settings.memories and "memory" not in settings.tools else ()
    groups = (*settings.tools, *remembering)
    if not settings.use_tools or not (servers or groups or always):
        yield None
        return
    from chatcli.tools import sandbox
    from chatcli.tools.mcp.cache import ListCache
    from chatcli.tools.mcp.link import HostLink
    from chatcli.tools.toolbox import Toolbox

    cache = ListCache()
    cache.prepare()
    toolbox = Toolbox(
        sandbox=sandbox.policy_for(settings),  # what this toolbox's shell runs in, and its approval block says
        builtin_groups=groups,
        servers=servers,
        approve=settings.approve,
        approve_all=settings.approve_all,
        timeout=settings.tool_timeout,
        log_dir=data_dir() / "mcp",
        note=notices(listener) if listener is not None else None,
        cache=cache,
        link=HostLink(settings.worker_idle) if shared else None,
    )
    toolbox.revalidate = revalidate
    toolbox.start(refresh=refresh)
    stopping = asyncio.ensure_future(toolbox.stop_idle_every(idle)) if idle and toolbox.servers else None
    try:
        yield toolbox
    finally:
        if stopping is not None:
            stopping.cancel()
        await toolbox.aclose()

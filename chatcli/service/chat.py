"""The service every door asks for a thread: ``Chat`` decides which thread an id names, what goes on with it, its tools
and its set-up, and opens the store and what answers (chat's own graph, a graph of the user's, an Agent Server's)."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack, ExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, AsyncIterator, Callable, Literal, Mapping, TypedDict, TypeVar, Unpack

from chatcli.config import Settings
from chatcli.core.inputs import check_thread_id, find_thread, new_thread_id
from chatcli.errors import NoThread, UsageError
from chatcli.local import runtime
from chatcli.paths import data_dir
from chatcli.provider_table import name_of
from chatcli.service.answerer import OWN, Answerer
from chatcli.service.opening import Opening, ThreadSetup
from chatcli.service.running import Running
from chatcli.text import redact_url

if TYPE_CHECKING:
    # Imported where they are used: the prompt finds its thread (``Chat.find``) before its first paint, and the
    # thread, its backend and its events load after it (chatcli.ui.prompt._open).
    from langgraph.store.base import BaseStore

    from chatcli.backends.own.model import ModelList
    from chatcli.backends.own.model_state import ModelState
    from chatcli.backends.own.pricing import Pricer
    from chatcli.backends.own.relevance import Relevance
    from chatcli.backends.own.spending import Guard
    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.core.binding import Binding
    from chatcli.core.events import Listener
    from chatcli.core.graph_app import GraphApp, GraphLoader
    from chatcli.service.backend import Backend, ThreadList
    from chatcli.service.commands import Commands
    from chatcli.service.thread import Thread
    from chatcli.store import Store
    from chatcli.store.index import ThreadIndex
    from chatcli.tools.hooks import Hooks
    from chatcli.tools.toolbox import Toolbox


def load_engine(spec: str | None = None) -> None:
    """Import the heavy modules of a turn (LangGraph, the model's client, the SQLite checkpointer).

    The client is the one of ``spec``'s provider (another provider's package, such as Anthropic's, is
    imported only for its models); the OpenAI-compatible one by default.
    """
    import importlib.util

    from chatcli.providers import provider

    if (package := provider(name_of(spec or "")).package) and importlib.util.find_spec(package) is not None:
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


@dataclass(frozen=True)
class Engine:
    """What a ``Chat`` opened: what answers its threads (``backend``: chat's own graph of one settings, a graph of the
    user's, an Agent Server's assistant), the store that keeps them (None: the server does), and, for chat's own
    graph, the session's tools and the default model's window."""

    backend: Backend
    store: Store | None
    toolbox: Toolbox | None = None
    default: ModelState | None = None  # the default model's window and question limit (chat's own graph's)


class ToolboxOptions(TypedDict, total=False):
    """How ``Chat.open`` opens the session's tools (``open_toolbox``'s options)."""

    always: bool
    idle: float | None
    shared: bool
    revalidate: bool


class Chat:
    """The service, one per process: every door (the prompt, a one-shot, ``chat serve``, ``chat acp``, ``chat
    compact``) asks it for a thread, and it decides once which thread an id names, what goes on with it (its stored
    model or graph against what the door asks), which tools it has and how it is set up.

    ``answerer`` is what answers (chatcli.service.answerer): chat's own graph, a graph of the user's (``--graph``) or
    an Agent Server's assistant (``--remote``). A ``Chat`` opens what answers when first asked for a thread (or on
    ``open``), and closes it when its ``async with`` block ends.

    Its ``mode`` says what a thread it finds may change: ``"one"`` until it opens (a door of one thread: the command
    line), when a thread that another graph answers is gone on with by that graph, and the thread's model is the
    run's; ``"many"`` from then on (serve, an editor, the prompt's /switch), when what answers and the settings are
    fixed: such a thread is refused in one line naming the command that goes on with it.
    """

    def __init__(
        self,
        settings: Settings,
        answerer: Answerer = OWN,
        listener: Listener | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from chatcli.core.events import Silent

        self.settings = settings
        # The variables of the run it serves (the process's, or a test's): a background reply it starts gets them.
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.answerer = answerer
        self.listener: Listener = listener if listener is not None else Silent()
        self.engine: Engine | None = None
        self.mode: Literal["one", "many"] = "one"
        self.running = Running()  # what runs on its threads: a delete here, and its close, stop it first
        # Seconds its close waits for them, then for SessionEnd's hooks (an editor's agent leaves sooner: chat acp).
        self.close_wait = 10.0
        self.sessions: list[Hooks] = []  # every set of hooks it loaded, its own first (a session's own too)
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Chat:
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.running.stop_all(self.close_wait)  # each turn ends as on Ctrl-C, kept, before the store closes
            try:  # (a hook stopped: its processes killed)
                await asyncio.wait_for(self._sessions_end(), self.close_wait)
            except TimeoutError:
                notices(self.listener)(f"SessionEnd hooks stopped after {self.close_wait:g} s: chat ends")
            await self._stack.aclose()
        finally:
            self.engine, self.mode = None, "one"  # closed: opened again, it is as new

    def set_up(
        self,
        stack: ExitStack,
        say: Callable[[str], None],
        *,
        quiet: bool = False,
        checked: bool = True,
        worker: bool | None = None,
    ) -> Settings:
        """The run's set-up, before anything opens or paints, the same at every door: for chat's own graph the local
        model when the settings want it (running until ``stack`` closes; falling back on it for want of a key is
        said with ``say`` unless ``quiet``), then the cheap checks that fail first: the credentials (not for a graph,
        which has its own) and the database file (a PostgreSQL one is checked when opened; none with ``checked``
        False: chat models lists what is set up). Unless ``worker`` is None, the warm worker's idle time is read
        (CHATCLI_WORKER_IDLE, config.toml: chatcli.local.worker_settings): an MCP server idle that long stops, and with
        ``worker`` (a one-shot) and the worker wanted, chat's own graph shares the MCP servers the MCP host keeps.
        The settings chat runs with are returned (the local server's when it runs)."""
        from chatcli.backends.own.model import check_credentials
        from chatcli.local import policy as local
        from chatcli.store import check_store

        if self.answerer.can.prompt and local.wants_local(self.settings):
            fallback = local.is_fallback(self.settings)
            self.settings = stack.enter_context(local.serving(self.settings, say=say))
            if fallback and not quiet:
                model = self.settings.model
                say(f"no API key set: using the local model {model} (chat --help tells how to use another)")
        if checked and self.answerer.can.prompt:
            check_credentials(self.settings)
        if checked:
            check_store(self.settings.db or "")
        if worker is not None:
            from chatcli.local.worker_settings import worker_config

            wanted, idle = worker_config(self.environ)
            shared = worker and wanted and self.answerer.can.prompt
            self.settings = replace(self.settings, worker=shared, worker_idle=idle)
        return self.settings

    # ---- hooks (chatcli.tools.hooks)

    @property
    def hooks(self) -> Hooks:
        """The user's hooks where it runs, loaded as it opens: every thread's but an editor's session's own."""
        return self.sessions[0]

    def hooks_at(self, workdir: str | None) -> Hooks:
        """The hooks in effect in ``workdir`` (the settings' hooks table with the files hooks.load reads), what in
        them cannot run told in a line each."""
        from pathlib import Path

        from chatcli.core.events import Notice
        from chatcli.tools.hooks import Unsupported, load

        found = load(Path(workdir or os.getcwd()), self.environ, {"hooks": self.settings.hooks or {}})
        found = replace(found, permission_mode="bypassPermissions" if self.settings.approve_all else "default")
        for line in found.problems:
            if not isinstance(line, Unsupported):  # (chat hooks lists those)
                self.listener.hear(Notice(line, warn=True))
        self.sessions.append(found)
        return found

    async def _sessions_end(self) -> None:
        """SessionEnd for each thread a question was asked on since it opened."""
        from chatcli.core.events import saying

        while self.sessions:  # (each once: a Chat opened again loads its hooks again)
            hooks = self.sessions.pop()
            for thread in sorted(hooks.started):
                await hooks.fire("SessionEnd", {"reason": "other"}, session_id=thread, say=saying(self.listener.hear))

    # ---- what answers

    async def open(
        self,
        listener: Listener | None = None,
        *,
        tools: bool | Toolbox = True,
        load: Callable[[], None] | None = None,
        answers: bool = True,
        **toolbox: Unpack[ToolboxOptions],
    ) -> Engine:
        """Open the store and what answers (once; later calls give the same): chat's own graph with the settings'
        tools (``open_toolbox``'s ``toolbox`` options; none with ``tools=False``; ``tools``' own when it is a
        Toolbox the caller opened), or a graph that has its own. ``answers`` False: chat's own graph without a model
        (no key needed), for a door that only rewrites threads (``chat fork``).
        ``listener`` hears what happens between turns from now on. ``load`` runs off the event loop once the MCP
        servers are starting (the engine's imports: their start-up overlaps)."""
        if self.engine is not None:
            return self.engine
        from chatcli.backends.own.model import named_endpoints
        from chatcli.local.loopback import Allowed

        if listener is not None:
            self.listener = listener
        stack, answerer = self._stack, self.answerer
        stack.enter_context(Allowed(named_endpoints(self.settings)))  # the addresses its settings name, while open
        if not toolbox:  # a one-shot's: with the warm worker on, it shares the MCP servers the MCP host keeps
            toolbox = {"shared": self.settings.worker, "revalidate": self.settings.worker}
        box = tools if answerer.can.prompt and not isinstance(tools, bool) else None
        if answerer.can.prompt and tools is True:  # chat's own graph, with chat's tools
            box = await stack.enter_async_context(
                open_toolbox(self.settings, self.listener, **toolbox, environ=self.environ)
            )
        self.hooks_at(self.settings.workdir)
        if box is not None and (load is not None or box.loaded is not None):  # a server starts meanwhile
            await box.warm()
            load = load or load_engine
        if load is not None:
            await asyncio.to_thread(load)
        if answerer.can.prompt:
            engine = _own_engine(self.settings, self.listener, box, answers)
        elif answerer.remote is not None:
            engine = _remote_engine(self.settings, answerer.remote)
        else:
            assert answerer.graph is not None
            engine = _graph_engine(self.settings, self.listener, answerer.graph)
        self.engine = await stack.enter_async_context(engine)
        self.mode = "many"  # what answers is open: a thread found from now on changes neither it nor the settings
        runtime.over()  # what a turn needs is imported
        return self.engine

    @property
    def opened(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the chat is not open yet: ask it for a thread first")
        return self.engine

    @property
    def backend(self) -> Backend:
        return self.opened.backend

    @property
    def store(self) -> Store | None:
        return self.opened.store

    @property
    def toolbox(self) -> Toolbox | None:
        return self.opened.toolbox

    # ---- threads

    async def find(
        self,
        ref: str | None = None,
        *,
        new: str | None = None,
        latest: bool = False,
        setup: ThreadSetup | None = None,
        exists: bool = False,
        exact: bool = False,
        own: bool = False,
        start_new: str = "",
        going_on: bool = True,
    ) -> Opening:
        """Which thread ``ref`` names and what goes on with it, reading only the thread index (no checkpoint), so a
        door may ask before anything loads: ``ref`` itself, a unique start of a generated id, a new thread under
        ``new``, the most recent one (``latest``), or a new one; an id that looks like a typo of one that exists is
        refused, naming it (``start_new``: how to start a thread under that name anyway). ``exists``: a thread that
        does not exist is refused (``NoThread``); ``exact``: only an id itself names a thread (a door that names its
        threads whole: an editor), and one that is no thread's id is no thread; ``own``: a thread a graph answers is
        refused (its memory is its own).

        Then the thread's stored binding is reconciled with ``setup``'s model, graph and --rebind
        (chatcli.core.binding.reconcile): the model it goes on with is the Opening's, checked as /model's is. A door
        that only names the thread (``going_on=False``: chat show, rm, fork...) skips that: any thread here is its to
        name, and a thread on an Agent Server is said in one line as always."""
        setup = setup or ThreadSetup()
        self._check_setup(setup)
        if exact and not ref:
            raise NoThread("no thread ''", hint="`chat threads` lists them")
        if ref == "" or new == "":
            raise UsageError(
                "the thread id is empty", hint="give an id (chat threads lists them), or leave the option out"
            )
        if sum(map(bool, (ref, new, latest))) > 1:
            raise UsageError("--thread, --new-thread and --continue each choose the thread: give one of them")
        try:
            if self.answerer.remote is not None:
                opening = await self._on_server(self.answerer.remote, ref, latest)
            else:
                opening = await self._named(ref, new, latest, start_new, exact, going_on)
        except UsageError:
            if not exact:
                raise
            opening = Opening("")  # no thread's id
        if own:
            from chatcli.core.binding import refuse_graphs

            refuse_graphs(opening.thread_id, opening.binding, opening.info.model if opening.info else None)
        if exists and opening.info is None or exact and opening.thread_id != ref:
            raise NoThread(f"no thread {str(ref or new)[:80]!r}", hint="`chat threads` lists them")
        bound = opening.binding
        if opening.info is None and bound is not None and bound.kind == "remote":  # a deployed graph's, not chat's
            raise UsageError(
                f"thread {opening.thread_id} is on {bound.url}",
                hint=f"chat threads --remote {bound.url} lists it; {bound.command(opening.thread_id)} goes on with it",
            )
        if not going_on:
            return opening
        if opening.info is None or opening.elsewhere:
            if opening.info is None and self.engine is not None:
                self.engine.backend.check_new(opening.thread_id)  # an id a new thread cannot have here
            return replace(opening, model=setup.model)
        return self._continued(opening, setup)

    def _check_setup(self, setup: ThreadSetup) -> None:
        """What the door asks for the thread, checked before anything of it is applied (a role, --at, --system): the
        question's files (at most 16, 40 MB together), and a model a door of many names (a request's), which must be
        chat's own graph's to take and usable here. A door of one thread checked its -m as the run's model already
        (Chat.set_up, after --local set the local model up)."""
        from chatcli.content.attachments import check_files

        check_files(setup.attachments)
        if setup.attachments and (setup.again or setup.resume is not None):  # they would be dropped unsaid
            asked = "--again asks the last question again" if setup.again else "--resume answers what the thread asked"
            raise UsageError(f"files go with a new question: {asked}, with none", hint="nothing was sent")
        if setup.model is None or self.mode == "one":
            return
        from chatcli.service.thread import check_model

        check_model(self.settings, self.answerer.can, setup.model)

    async def _named(
        self, ref: str | None, new: str | None, latest: bool, start_new: str, exact: bool, going_on: bool = True
    ) -> Opening:
        """The thread of chat's database (or of a graph's checkpointer) that the door names, read from its thread index
        by key (chatcli.core.inputs.find_thread), its binding too."""
        store = self.engine.store if self.engine is not None else None
        index = self._index()
        named = ref or new
        wanted = check_thread_id(named) if named else None
        if latest:
            label = self.answerer.label  # --graph -c: that graph's last thread
            info = await index.latest(label)
            if info is None and not going_on:
                raise UsageError("no threads yet", hint='chat "a question" starts one')
            if info is None:
                raise UsageError(
                    f"no conversation {'with ' + label + ' ' if label else ''}to continue yet",
                    hint="ask a question to start one",
                )
        elif new is not None:
            if await index.get(new) is not None:
                raise UsageError(f"thread {new} already exists", hint=f"chat --thread {new} resumes it")
            return Opening(new)
        elif wanted is None:
            while await index.get(fresh := new_thread_id()) is not None:
                pass
            return Opening(fresh)
        elif exact:
            info = await index.get(wanted)
        else:
            info = await find_thread(wanted, index, start_new or f"chat --new-thread {wanted}")
        if info is not None and store is not None:  # as the thread list shows it (self.threads())
            from chatcli.providers.base import known_secrets
            from chatcli.threads.masking import masked

            info = masked(info, known_secrets(self.settings))
        thread_id = info.thread_id if info is not None else wanted or ""
        return Opening(thread_id, info, await self._binding(thread_id, index))

    async def kept_on(self, thread_id: str) -> RemoteSpec | None:
        """The Agent Server whose thread ``thread_id`` is, as chat's database notes it (the server its last turn ran
        on: chatcli.service.backend.RemoteBackend.keep); None for a thread of chat's own database, or none noted.
        Read back, not named in this run: another user's listener at that address is refused."""
        from chatcli.backends.remote.client import remote_spec
        from chatcli.store import is_postgres_url

        bound = await self._binding(check_thread_id(thread_id))
        if bound is None or bound.kind != "remote" or not bound.url:
            return None
        if is_postgres_url(self.settings.db or ""):  # another user of a shared database may have written the binding
            raise UsageError(
                f"thread {thread_id} is on {redact_url(bound.url)}, which chat does not send your key to because a "
                "shared database says so",
                hint=f"{redact_url(bound.command(thread_id))} asks it at the terminal, the server named by you",
            )
        return replace(remote_spec(bound.url, bound.assistant, [], self.environ), named=False)

    def _index(self) -> ThreadIndex:
        """Where threads are read: the open store's index, or chat's database read without opening it (a ReadIndex:
        one read-only connection for all its reads, closed when it is dropped)."""
        from chatcli.store.light import ReadIndex

        store = self.engine.store if self.engine is not None else None
        return store.index if store is not None else ReadIndex(self.settings.db or "")

    async def _binding(self, thread_id: str, index: ThreadIndex | None = None) -> Binding | None:
        """The binding chat's database keeps for ``thread_id``, read through ``index`` (by default ``_index()``)."""
        from chatcli.core.binding import Binding

        own = self.engine is not None and self.engine.store is None  # a graph's own checkpointer: none kept
        return None if own else Binding.from_json(await (index or self._index()).binding(thread_id))

    async def _on_server(self, spec: RemoteSpec, ref: str | None, latest: bool) -> Opening:
        """The thread of the Agent Server's that the door names: ``ref``, its latest, or a new one (a new thread
        under an id given, as the server takes it: a UUID)."""
        from chatcli.backends.remote.client import Remote
        from chatcli.backends.remote.threads import new_thread_id as new_remote_id

        remote = await Remote.open(spec)
        try:
            if ref:
                try:
                    return Opening((info := await remote.thread(ref)).thread_id, info, elsewhere=True)
                except UsageError:
                    if not _is_uuid(ref):
                        if self.engine is not None:  # a door of many (serve): says what a new thread's id must be
                            self.engine.backend.check_new(ref)
                        raise
                    return Opening(ref.lower(), elsewhere=True)
            if latest:
                rows = await remote.threads(1)
                if not rows:
                    raise UsageError(f"no thread of {remote.graph_id} on {spec.url} to continue yet")
                return Opening(rows[0].thread_id, rows[0], elsewhere=True)
            return Opening(new_remote_id(), elsewhere=True)
        finally:
            await remote.aclose()

    def _continued(self, opening: Opening, setup: ThreadSetup) -> Opening:
        """``opening`` with what goes on with it: its stored binding against what the door asks. Before anything is
        open, a thread another graph answers makes that graph the Chat's; once open, it is refused."""
        from chatcli.core.binding import Choice, reconcile

        assert opening.info is not None
        asked = self.answerer.binding
        try:
            way = reconcile(
                opening.thread_id, opening.binding, opening.info.model, Choice(asked, setup.model, setup.rebind)
            )
        except UsageError as exc:
            if self.mode == "one":
                raise
            # A door of many threads hands none to another graph: no --rebind here.
            raise UsageError(exc.message.partition(", not ")[0], hint=(exc.hint or "").partition(";")[0]) from None
        if way.graph is not None and (asked is None or not way.graph.same_graph(asked)):
            if self.mode == "many":
                raise UsageError(
                    f"thread {opening.thread_id} is answered by {way.graph.describe()}, which is not what answers here",
                    hint=f"{way.graph.command(opening.thread_id)} goes on with it",
                )
            self.answerer = Answerer(graph=self._graph_of(opening.thread_id, way.graph))
        model = way.model if way.graph is None else None
        if self.mode == "one" and model is not None and model != self.settings.model:
            self.settings = replace(self.settings, model=model)  # a door of one thread: its model is the run's
        return replace(opening, model=model, said=way.said)

    def _graph_of(self, thread_id: str, binding: Binding) -> GraphLoader:
        """The graph file ``binding`` names, loaded from where it was named (not from a shared database)."""
        from pathlib import Path

        from chatcli.backends.graphs.load import GraphFile
        from chatcli.store import is_postgres_url

        if is_postgres_url(self.settings.db or ""):  # another user of a shared database may have written the binding
            raise UsageError(
                f"thread {thread_id} is answered by {binding.describe()}, which a shared database does not load by "
                "itself",
                hint=f"{binding.explicit_command(thread_id)} goes on with it",
            )
        return GraphFile(binding.graph or "", Path(binding.cwd or self.settings.workdir or Path.cwd()))

    async def thread(
        self,
        ref: str | Opening | None = None,
        *,
        setup: ThreadSetup | None = None,
        exists: bool = False,
        listener: Listener | None = None,
        toolbox: Toolbox | None = None,
    ) -> Thread:
        """The thread ``ref`` names (see ``find``; an Opening found already is taken as it is), open and set up
        with ``setup`` (role, --system, --var; -m and --temperature win over the thread's role's), heard by
        ``listener`` (the Chat's by default), with ``toolbox``'s tools (the Chat's by default: a session's own comes
        from ``Toolbox.for_session``). Opens what answers first if it is not open yet."""
        setup = setup or ThreadSetup()
        opening = ref if isinstance(ref, Opening) else await self.find(ref, setup=setup, exists=exists)
        engine = self.engine or await self.open(listener)
        from chatcli.backends.own.model_state import ModelState
        from chatcli.service.own_prompt import ModelChoice
        from chatcli.service.thread import Thread

        own_graph, model = engine.backend.can.prompt, opening.model or self.settings.model
        default = engine.default or ModelState(0)
        tools = toolbox if toolbox is not None and own_graph else engine.toolbox
        conversation = Thread(
            engine.backend,
            check_thread_id(opening.thread_id),
            context_tokens=default.budget if own_graph else None,
            question_limit=default.question_limit,
            limited_by=default.limited_by,
            store=engine.store,
            model=ModelChoice(model, model),
            toolbox=tools,
            listener=listener if listener is not None else self.listener,
            settings=self.settings,
            # A session's own tools: the hooks where it works.
            hooks=self.hooks_at(str(tools.host.workdir)) if tools is not None and tools is toolbox else self.hooks,
        )
        from chatcli.service.jobs import keep_killed

        await keep_killed(conversation, self.environ)  # what a killed background reply of it had said
        pinned = setup.model is not None or opening.model is not None or bool(self.settings.local)
        await conversation.set_up(setup, model_given=pinned)
        if setup.at is not None:  # --at: from a node of its tree (the branch it was on stays whole)
            await conversation.goto(setup.at)
        return conversation

    async def delete(self, thread_id: str) -> None:
        """Delete ``thread_id`` for good (``chat rm``): what runs on it here is stopped first (a turn's part kept,
        then gone with it); a turn on it in another process is waited for."""
        from chatcli.service.jobs import delete_thread

        await self.running.stop_all(tasks=self.running.on(thread_id))
        await delete_thread(self.threads(), thread_id, self.environ)

    def threads(self) -> ThreadList:
        """The threads: on the Chat's database, or on the server that keeps them."""
        from chatcli.providers.base import known_secrets

        threads = self.backend.threads(self.store)
        threads.secrets = known_secrets(self.settings)  # masked in what they show
        return threads

    async def models(self) -> ModelList:
        """The model catalog: every provider's models that are set up (the local server's alone when it runs)."""
        from chatcli.backends.own.model import list_all

        return await list_all(self.settings, ["openai"] if self.settings.local else None)

    def commands(self) -> Commands:
        """This chat's command registry: the prompt's slash commands and an editor's available commands are views of
        it, each filtered by what its thread can do (chatcli.service.commands)."""
        from chatcli.service.commands import Commands

        if not isinstance(getattr(self, "_commands", None), Commands):
            self._commands = Commands()
        return self._commands


def _is_uuid(text: str) -> bool:
    """True for a whole UUID (what a LangGraph server names its threads with)."""
    import uuid

    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


@asynccontextmanager
async def _remote_engine(settings: Settings, spec: RemoteSpec) -> AsyncIterator[Engine]:
    from chatcli.backends.remote.client import Remote
    from chatcli.service.backend import RemoteBackend

    async with aclosing(RemoteBackend(await Remote.open(spec), settings)) as backend:
        yield Engine(backend, None)


@asynccontextmanager
async def _graph_engine(settings: Settings, listener: Listener, source: GraphLoader) -> AsyncIterator[Engine]:
    """Open the store and the app ``source`` gives (``await source.open(saver)``: a graph that is not chat's own,
    kept by the store's checkpointer unless it keeps its own threads); no model or tools of chat's."""
    from chatcli.service.backend import GraphBackend
    from chatcli.store import open_store

    async with open_store(settings.db or "") as store, AsyncExitStack() as stack:
        store.tell_waits(notices(listener))
        app = await source.open(store.saver, stack, notices(listener))
        app = with_store(app, store.memory if settings.memories else None)
        backend = GraphBackend(app, source.label, source.binding, settings)
        backend.guard = _guard(settings, backend.pricer, store.index)
        yield Engine(backend, store)


def _guard(settings: Settings, pricer: Pricer, ledger: ThreadIndex) -> Guard | None:
    """The spending limits a run's model calls are kept within, where any is set (chatcli.backends.own.spending)."""
    from chatcli.backends.own.spending import LIMITS, Guard

    return Guard(settings, pricer, ledger) if any(getattr(settings, name) is not None for name in LIMITS) else None


App = TypeVar("App", bound="GraphApp")


def with_store(app: App, memory: BaseStore | None) -> App:
    """``app`` with LangGraph's store of chat's database (the user's memories, under ``("chatcli", "memories",
    LOGIN)``) unless it keeps a store of its own beyond memory, as its checkpointer is."""
    from langgraph.store.memory import InMemoryStore

    own, copy = getattr(app, "store", None), getattr(app, "copy", None)
    if memory is None or copy is None or (own is not None and not isinstance(own, InMemoryStore)):
        return app
    kept: App = copy(update={"store": memory})
    return kept


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
async def _own_engine(
    settings: Settings, listener: Listener, toolbox: Toolbox | None = None, answers: bool = True
) -> AsyncIterator[Engine]:
    """Open the store and build the model (none unless ``answers``) and the graph (with ``toolbox``'s tools);
    ``listener`` hears what happens between turns (a database another program holds)."""
    from chatcli.backends.own.graph import graph_for
    from chatcli.backends.own.model import ModelPool
    from chatcli.backends.own.model_state import ModelStates
    from chatcli.backends.own.standing import Standing
    from chatcli.local.policy import keeper
    from chatcli.service.backend import Backend
    from chatcli.store import open_store

    models = ModelPool(settings) if answers else None  # a bad setting fails here, before the first question
    # Each model's window: learned earlier, or told by its server (llama.cpp, vLLM, LM Studio,
    # Ollama); the local model's own server is sized by chat already.
    states = ModelStates(settings.context_tokens, settings)
    default = await states.of(settings.model) if answers else None
    async with open_store(settings.db or "") as store:
        store.tell_waits(notices(listener))  # a database another program holds: say that chat waits for it
        # A local model server started by `chat --local` is waited for (and started again if it
        # stopped) at each model call, after the question is stored: see local.keeper.
        graph = graph_for(
            settings,
            models,
            toolbox,
            before_model=keeper(settings),
            states=states,
            standing=Standing(
                settings.memories, settings.project_instructions, settings.workdir, relevance=relevance(settings)
            ),
        )
        graph.guard = _guard(settings, graph.pricer, store.index)
        yield Engine(Backend(graph.compile(store.saver, store.memory), graph), store, toolbox, default)


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
    environ: Mapping[str, str] = os.environ,
) -> AsyncIterator[Toolbox | None]:
    """The session's tools; None with --no-tools, or when no tool is set up (unless ``always``: a
    session, where a resumed thread's calls may name a built-in tool that is not turned on).

    MCP servers are known by their cached listings and start when used; those with none (or all,
    with ``refresh``) start in the background now, and so do those whose listing went stale (the
    lifetime the server gave it passed) unless not ``revalidate`` (a one-shot without the MCP host:
    listed again when used). With ``idle``, a server that runs no call for
    that many seconds is stopped (it starts again when used). ``shared``: the servers are the
    user's MCP host's (chatcli.tools.mcp.host), kept running between runs for ``worker_idle``
    seconds. What goes wrong with a server is a ``Notice`` to ``listener``, and so is a plugin's server left out
    (on stderr without a listener: ``chat tools``). The servers stop (or are let go) when the block ends.
    """
    from pathlib import Path

    from chatcli.core.events import Logged, Notice
    from chatcli.tools.mcp.config import read_servers
    from chatcli.tools.plugins import enabled, servers_of

    servers = read_servers(Path(settings.mcp_config)) if settings.use_tools and settings.mcp_config else []
    problems: list[str] = []
    servers += [s for p in (enabled(environ).plugins if settings.use_tools else ()) for s in servers_of(p, problems)]
    for line in problems:
        (listener or Logged("chat")).hear(Notice(line, warn=True))
    here = (settings.workdir or os.getcwd(),)  # the directory chat works in: the servers' roots
    servers = [replace(spec, roots=here) for spec in servers]
    # With memories on, the remember tool (offered on a turn that asks to remember something, each call approved).
    remembering = ("memory",) if settings.memories and "memory" not in settings.tools else ()
    groups = (*settings.tools, *remembering)
    if not settings.use_tools or not (servers or groups or always):
        yield None
        return
    from chatcli.backends.own.served import toolbox_for
    from chatcli.tools.mcp.cache import ListCache
    from chatcli.tools.mcp.link import HostLink

    cache = ListCache()
    cache.prepare()
    toolbox = toolbox_for(
        settings,
        groups,
        servers=servers,
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

"""The ACP agent: an editor's sessions are chat's threads, opened through the one service every door holds.

A session's id is its thread's id: ``chat -t ID`` goes on with it at the terminal, and a thread started there is
loaded here (its history replayed first). Each prompt is one turn of the thread (``Thread.send``), its events told
to the editor by the session's listener (chatcli.editor.listener); a cancel stops it as Ctrl-C does, the part of the
answer that came kept in the thread. The chat's commands an editor may run are offered (``/compact``, ``/retry``...),
by name. Failures are the JSON-RPC errors the protocol names, each in one line; none ends the agent.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Mapping, NamedTuple, TypeVar

from acp import PROTOCOL_VERSION, RequestError, schema
from acp.helpers import update_available_commands

from chatcli.backends.own.failures import describe
from chatcli.config import Settings
from chatcli.core.events import TurnResult
from chatcli.editor import updates
from chatcli.editor.listener import EditorListener
from chatcli.errors import ChatError, NoThread, UsageError
from chatcli.service.chat import Chat
from chatcli.service.command_runs import SERVER_WAIT, Said
from chatcli.service.commands import run_offered
from chatcli.service.opening import Opening, ThreadSetup
from chatcli.service.thread import Thread
from chatcli.store.base import Place
from chatcli.text import iso_time, say

if TYPE_CHECKING:
    from chatcli.core.interrupts import Pending
    from chatcli.tools.toolbox import Toolbox

T = TypeVar("T")
# How many threads one session/list page holds.
PAGE = 100
# Seconds the providers' model lists may take, and the most models the editor's picker offers.
CATALOG_WAIT = 15.0
MAX_MODELS = 500
MODEL_OPTION = "model"
# The session methods beside session/new and session/load an agent may offer: chat offers each.
SESSION_METHODS = ("list", "resume", "fork", "close", "delete", "additionalDirectories")
# Seconds a session/new, load or resume waits for the providers' model lists before it answers without them.
START_WAIT = 10.0


@dataclass
class Session:
    """An open session: its thread, the listener that tells the editor, the turn running (if any), the cwd."""

    thread: Thread
    listener: EditorListener
    cwd: str
    dirs: tuple[str, ...] = ()  # the editor's additionalDirectories: the session's other roots
    running: asyncio.Task[Any] | None = None
    models: list[str] = field(default_factory=list)
    tools: Toolbox | None = None  # the session's own (its MCP servers, its host), closed with it
    listing: asyncio.Future[None] | None = None  # the commands offered again once the MCP servers are up
    placing: asyncio.Future[None] | None = None  # where the thread was made, being kept with it


async def _asked(thread: Thread, text: str, files: list[Any], forms: bool, environ: Mapping[str, str]) -> TurnResult:
    """A question of the editor's: what the thread waits for is asked first (``session/request_permission``, as at
    the prompt when a thread is opened again; a graph's question as a form), then the question. An editor without
    forms cannot ask a graph's question: the prompt's text is its answer, as a line typed at the prompt would be. A
    background reply's question goes on as that reply was started (chatcli.service.answering)."""
    from chatcli.core.interrupts import typed_answer
    from chatcli.service.answering import as_asked, resumed
    from chatcli.service.waiting import go_on_waiting

    waiting = await thread.waiting()
    if not forms and _graph_question(waiting):
        if files:  # they would be dropped unsaid
            raise UsageError("files go with a question: this prompt answers the graph's question, with none")
        return await resumed(thread, typed_answer(text), environ)  # (its question was said: the prompt answers it)
    if await as_asked(thread, waiting, environ) is None:
        await go_on_waiting(thread)
    return await thread.send(text, files, mentions=text)


def _graph_question(waiting: list[Pending]) -> bool:
    """What the thread waits on is a graph's question (no call to approve, no tool's form)."""
    return bool(waiting) and all(not item.is_approval and item.elicitation is None for item in waiting)


def _answering(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A request's method, counted while it runs: the agent answers every request it read before it leaves."""

    @functools.wraps(method)
    async def counted(self: Editor, *args: Any, **kwargs: Any) -> T:
        self.busy += 1
        self.idle.clear()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()

    return counted


class Editor:
    """The agent side of ``chat acp``: ``chat`` is the process's one service (chat's own graph, a graph of the
    user's, or an Agent Server's assistant), ``setup`` what the command line set (-m, --role...)."""

    def __init__(self, chat: Chat, settings: Settings, setup: ThreadSetup):
        self.chat, self.settings, self.setup = chat, settings, setup
        from chatcli.providers.base import known_secrets

        self.secrets = known_secrets(settings)  # every credential the user has: masked in all the editor is sent
        self.sessions: dict[str, Session] = {}
        self.opening: dict[str, asyncio.Future[Session]] = {}  # the sessions being loaded
        self.client: Any = None
        self.capabilities = schema.ClientCapabilities()
        self.catalog: asyncio.Future[None] | None = None  # the set-up providers' models being listed, once
        self.listed: list[str] = []  # those models, once listed
        self.gone = False  # the editor closed its end (stdin): the requests read are answered, nothing more asked
        self.busy = 0  # requests being answered
        self.idle = asyncio.Event()
        self.idle.set()

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    def editor_gone(self) -> None:
        """The editor has ended (it closed stdin, stopped reading, or is gone): every request it sent is still
        answered while the agent leaves, and every turn running stops as on a cancel, its part (or the question it
        was asking) kept in the thread."""
        self.gone = True
        if self.catalog is not None:
            self.catalog.cancel()
        for session in self.sessions.values():
            session.listener.editor_gone()
            session.listener.stop()

    # ---- the connection

    async def initialize(self, protocol_version: int, **asked: Any) -> schema.InitializeResponse:
        """What chat offers, as far as what answers can (files, MCP servers over HTTP); the editor's capabilities are
        kept (its files, terminals and forms are used where it offers them)."""
        from chatcli import __version__

        self.capabilities = asked.get("client_capabilities") or schema.ClientCapabilities()
        own = self.chat.backend.can
        return schema.InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=schema.AgentCapabilities(
                load_session=True,
                prompt_capabilities=schema.PromptCapabilities(image=own.files, embedded_context=own.files),
                mcp_capabilities=schema.McpCapabilities(http=own.prompt, sse=False),
                session_capabilities=schema.SessionCapabilities.model_validate(dict.fromkeys(SESSION_METHODS, {})),
            ),
            agent_info=schema.Implementation(name="chatcli", title="chat", version=__version__),
            auth_methods=[],
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> schema.AuthenticateResponse | None:
        raise RequestError(-32602, "chat needs no sign-in: its keys are in its settings")

    # ---- sessions

    @_answering
    async def new_session(self, **asked: Any) -> schema.NewSessionResponse:
        """A new thread, kept (and listed) from its first prompt on, in ``cwd``; the response offers every model the
        providers set up list, so that a client may choose one at once."""
        where = _where(**asked)  # (a hostile cwd refused before anything is asked of the chat)
        session = await self._open(_said(self.chat.find(setup=self.setup)), where)
        options = await self._offered(session)
        return schema.NewSessionResponse(session_id=session.thread.thread_id, config_options=options)

    @_answering
    async def load_session(self, session_id: str, **asked: Any) -> schema.LoadSessionResponse:
        """The thread's whole history replayed as updates, then the response: the session goes on from there."""
        return schema.LoadSessionResponse(config_options=await self._reopened(session_id, _where(**asked), True))

    @_answering
    async def resume_session(self, session_id: str, **asked: Any) -> schema.ResumeSessionResponse:
        """As a load, without the history (the editor has it)."""
        return schema.ResumeSessionResponse(config_options=await self._reopened(session_id, _where(**asked), False))

    async def _reopened(self, session_id: str, where: Where, replay: bool) -> list[Any] | None:
        """The session of thread ``session_id`` loaded (its history replayed as updates) or resumed, and its options.
        One on a thread that waits for the user (a call to approve, a tool's question, a graph's interrupt: asked at
        another door, or by a background reply) shows each question, as ``chat inbox`` lists it (known credentials
        masked); the next prompt asks them first."""
        from chatcli.service.inbox import asked_of
        from chatcli.threads.masking import masked
        from chatcli.threads.records import message_record

        session = await self._existing(session_id, where)
        if replay:
            messages = await _said(session.thread.messages())
            records = [{**message_record(m), "message_id": getattr(m, "id", None)} for m in messages]
            for update in updates.replayed(masked(records, self.secrets)):
                session.listener.send(update)
        if waiting := await _said(session.thread.waiting()):
            asked = "; ".join(masked(item.text, self.secrets) for item in asked_of(waiting))
            next_prompt = "answers it" if _graph_question(waiting) and not session.listener.forms else "asks it first"
            session.listener.said(f"this thread waits for you: {asked}. Your next prompt {next_prompt}.")
        await session.listener.flushed()
        return await self._offered(session)

    @_answering
    async def fork_session(self, session_id: str, **asked: Any) -> schema.ForkSessionResponse:
        """A new session that starts where ``session_id`` is now: a new thread holding the branch its thread is on,
        from the first question to the current node (its system prompt and variables with it), as ``/fork`` makes
        it; kept in ``cwd`` and the request's directories, and answered as a session/new is. A thread that is not
        open here is forked too; one that is empty, answering a prompt, or that what answers cannot fork, is
        refused."""
        where = _where(**asked)
        session = self.sessions.get(session_id)
        if self.chat.running.on(session_id):
            raise RequestError(-32600, f"session {session_id} is answering a prompt: fork it once the answer ends")
        thread = session.thread if session else await _said(self.chat.thread(await self._found(session_id)))
        try:
            done: Any = await run_offered(self.chat, thread, self.chat.commands().by_name["/fork"], "")
        except UsageError as exc:
            raise RequestError(-32602, f"session {session_id} cannot be forked: {exc}") from None
        except ChatError as exc:  # the store failed: said in one line
            raise _error(exc) from None
        new_id: str = done.forked
        forked = await self._open(self._found(new_id), where)
        await _said(self._place(new_id, forked))  # made here: in the new session's directories
        return schema.ForkSessionResponse(session_id=new_id, config_options=await self._offered(forked))

    @_answering
    async def close_session(self, session_id: str, **kwargs: Any) -> schema.CloseSessionResponse:
        """Let go of an open session: its turn stopped as a cancel stops it (the part kept), its MCP servers ended;
        the thread stays (``session/load`` opens it again)."""
        self._session(session_id)  # (one not open: not found)
        await _closed(self.sessions.pop(session_id))
        return schema.CloseSessionResponse()

    @_answering
    async def delete_session(self, session_id: str, **kwargs: Any) -> schema.DeleteSessionResponse:
        """Delete the thread for good (as ``chat rm``): closed first where it is open here; a turn running on it
        in another process is waited for."""
        await self._found(session_id)
        if (session := self.sessions.pop(session_id, None)) is not None:
            await _closed(session)
        await _said(self.chat.delete(session_id))
        return schema.DeleteSessionResponse()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The methods of ACP's schema the SDK does not route (chatcli.editor.framing.UNROUTED), which reach the agent
        as extensions; any other extension is not found."""
        from chatcli.editor.framing import UNROUTED

        if method == UNROUTED.get("session/delete"):
            try:
                request = schema.DeleteSessionRequest.model_validate(params)
            except ValueError as exc:
                raise RequestError(-32602, f"Invalid params: {' '.join(str(exc).split())[:200]}") from None
            await self.delete_session(request.session_id)
            return {}  # a DeleteSessionResponse: nothing to say
        raise RequestError.method_not_found(f"_{method}"[:100])

    @_answering
    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> schema.ListSessionsResponse:
        """Every thread, those started at the terminal too, most recent first, a page at a time."""
        start = int(cursor) if cursor and re.fullmatch(r"[0-9]{1,9}", cursor) else 0
        wanted = {cwd, str(_workdir(cwd))} if cwd is not None else None  # a filter: an absolute directory
        store = self.chat.store  # where each thread was made (an Agent Server's threads: none known)
        places = await _said(store.index.places()) if store is not None else {}
        if wanted is None:
            rows = await _said(self.chat.threads().list(start + PAGE + 1))
        else:  # a thread whose place is not known is in no directory's list
            every = await _said(self.chat.threads().list())
            rows = [row for row in every if row.thread_id in places and places[row.thread_id].cwd in wanted]
        sessions = [_listed(row, places.get(row.thread_id)) for row in rows[start : start + PAGE]]
        more = str(start + PAGE) if len(rows) > start + PAGE else None
        return schema.ListSessionsResponse(sessions=sessions, next_cursor=more)

    def _placed(self, session: Session) -> None:
        """The session's first question made its thread: where is kept with its row, before the prompt's answer."""
        session.placing = asyncio.ensure_future(self._place(session.thread.thread_id, session))

    async def _place(self, thread_id: str, session: Session) -> None:
        """Keep with thread ``thread_id``'s row where it was made: ``session``'s directories, not the agent's."""
        if self.chat.store is not None:
            await self.chat.store.index.place(thread_id, session.cwd, session.dirs)

    async def _existing(self, session_id: str, where: Where) -> Session:
        """The session of thread ``session_id``, opened if it is not yet (once, however many ask at a time); a thread
        that does not exist is refused."""
        workdir, dirs = where.workdir, where.dirs
        if (session := self.sessions.get(session_id)) is not None:
            # Open already, now in other directories: its tools act in them from now on, its project's AGENTS.md is
            # theirs, and its own MCP servers are told their roots changed.
            if (session.cwd, session.dirs) != (str(workdir), dirs):
                session.cwd, session.dirs = str(workdir), dirs
                session.thread.workdir = str(workdir)
                if session.tools is not None:
                    await session.tools.reroot(workdir, dirs)
            return session
        if session_id not in self.opening:
            self.opening[session_id] = asyncio.ensure_future(self._open(self._found(session_id), where))
            self.opening[session_id].add_done_callback(lambda _: self.opening.pop(session_id, None))
        return await asyncio.shield(self.opening[session_id])

    async def _found(self, session_id: Any) -> Opening:
        """The thread a session's id names, exactly (an editor names its sessions whole), and what goes on with it
        (``Chat.find``); one that does not exist is the protocol's "not found"."""
        try:
            if isinstance(session_id, str):
                return await self.chat.find(session_id, exists=True, exact=True, setup=self.setup)
        except NoThread:
            pass
        except ChatError as exc:
            raise _error(exc) from None
        raise _not_found(session_id)

    async def _open(self, found: Awaitable[Opening], where: Where) -> Session:
        """The session of the thread ``found`` names, ``where`` the editor says: its tools acting in its directory
        (through the editor where it offers to), with the editor's MCP servers beside chat's own."""
        opening = await found
        thread_id, (workdir, dirs, servers) = opening.thread_id, where
        roots = (str(workdir), *dirs)  # the session's directories: its servers' roots
        specs = [replace(spec, roots=roots) for spec in _server_specs(servers)]
        if specs and self.chat.toolbox is not None:  # the MCP client imported, in its thread, before they start:
            await self.chat.toolbox.load_client()  # two threads importing the same modules may see them half made
        asking = self.capabilities.elicitation  # the editor's forms and addresses to visit
        forms, links = asking is not None and asking.form is not None, asking is not None and asking.url is not None
        listener = EditorListener(self.client, thread_id, forms=forms, secrets=self.secrets, links=links)
        tools = self._tools(workdir, listener, specs)
        try:
            thread = await _said(self.chat.thread(opening, setup=self.setup, listener=listener, toolbox=tools))
            thread.whole = updates.STOPPED_BY_MODEL  # an answer the model ended early: a stop reason, not an error
            thread.workdir = str(workdir)  # the session's project: its AGENTS.md goes with each request
        except BaseException:
            if tools is not None:
                await tools.aclose()
            await listener.aclose()
            raise
        session = Session(thread, listener, str(workdir), dirs, tools=tools)
        # The turn running stopped as a cancel stops it (its part kept): once, however many ask (the editor's stop
        # button, its going away, the agent's end, a delete: chatcli.service.running).
        listener.stop = lambda: self.chat.running.stop(session.running)
        listener.made = lambda: self._placed(session)
        if self.gone:
            listener.editor_gone()
        self.sessions[thread_id] = session
        listener.send(self._commands(thread))
        if tools is not None and tools.servers:  # their prompts are commands too, once their listings are known
            session.listing = asyncio.ensure_future(self._prompts_known(session, tools))
        return session

    async def _prompts_known(self, session: Session, tools: Toolbox) -> None:
        """Offer the commands again once the MCP servers still starting are up, if their prompts or skills add any."""
        before = len(self.chat.commands().offered(session.thread.can, tools))
        await tools.settle(SERVER_WAIT)
        if len(self.chat.commands().offered(session.thread.can, tools)) != before:
            session.listener.send(self._commands(session.thread))

    def _tools(self, workdir: Path, listener: EditorListener, servers: list[Any]) -> Toolbox | None:
        """The session's toolbox: chat's, its built-ins acting in ``workdir`` through the editor where it offers
        files and terminals, and the editor's MCP ``servers`` (the editor's word, as mcp.json is the user's)."""
        if self.chat.toolbox is None:  # --no-tools, or a graph that has tools of its own
            if servers:
                say(sys.stderr, "chat acp: the editor's MCP servers are left out: no tools of chat's here\n")
            return None
        from chatcli.editor.host import EditorHost

        reads = bool(self.capabilities.fs and self.capabilities.fs.read_text_file)
        host = EditorHost(listener, workdir, reads=reads, terminals=bool(self.capabilities.terminal))
        tools = self.chat.toolbox.for_session(servers, host)
        tools.start()
        return tools

    def _commands(self, thread: Thread) -> schema.AvailableCommandsUpdate:
        """The commands this session offers: the chat's that an editor may run and this thread can, its MCP servers'
        prompts among them (its registry's view, chatcli.service.commands), named without the slash; a name that
        could not be typed back is left out."""
        offered = [
            schema.AvailableCommand(name=name, description=_plain(c.description), input=_input(c.hint))
            for c in self.chat.commands().offered(thread.can, thread.toolbox)
            if re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", name := c.name.removeprefix("/"))  # (SERVER:NAME: a skill's)
        ]
        return update_available_commands(offered)

    def _options(self, session: Session) -> list[Any] | None:
        """The model choice, where chat chooses the model (a graph chooses its own)."""
        model = session.thread.model_name
        if not session.thread.can.prompt or not model:
            return None
        if self.catalog is None:  # the editor's model picker: every set-up provider's models, once they are listed
            self.catalog = asyncio.ensure_future(self._list_models())
        names = [n for n in dict.fromkeys([model, self.settings.model, *session.models, *self.listed]) if n]
        choices = [schema.SessionConfigSelectOption(value=n, name=n, description=_provider_of(n)) for n in names]
        select = schema.SessionConfigOptionSelect(
            id=MODEL_OPTION, name="Model", category="model", type="select", current_value=model, options=choices
        )
        return [select]

    async def _offered(self, session: Session) -> list[Any] | None:
        """The session's options as a session/new, load or resume answers them: with every model the providers
        list, once listed (at most START_WAIT seconds; what comes later is sent as an update)."""
        offers = self._options(session) is not None  # (which starts the listing)
        if offers and self.catalog is not None and not self.catalog.done() and not self.gone:
            await asyncio.wait({asyncio.shield(self.catalog)}, timeout=START_WAIT)
        return self._options(session)

    async def _list_models(self) -> None:
        """The models of every provider set up (``chat models``), offered in each session's model option when they
        come; a provider that cannot list is left out (its models can still be typed: ``model NAME``)."""
        try:
            if self.chat.toolbox is not None:  # an MCP client's import under way ends first: one import at a time
                await self.chat.toolbox.warm()
            self.listed = (await asyncio.wait_for(self.chat.models(), CATALOG_WAIT)).names[:MAX_MODELS]
        except Exception as exc:  # noqa: BLE001 - the picker keeps the models it has
            say(sys.stderr, f"chat acp: the providers' models were not listed: {' '.join(str(exc).split())[:200]}\n")
        for session in self.sessions.values():
            if self.listed:
                self._update_options(session)

    @_answering
    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> schema.SetSessionConfigOptionResponse:
        session = self._session(session_id)
        if config_id != MODEL_OPTION or not isinstance(value, str) or not value.strip():
            raise RequestError(-32602, f"no option {config_id!r} with value {value!r}")
        await _said(session.thread.choose_model(value.strip()))  # checked there, as at every door
        self._chosen(session, value.strip())
        return schema.SetSessionConfigOptionResponse(config_options=self._options(session) or [])

    @staticmethod
    def _chosen(session: Session, name: str) -> None:
        """``name`` is among the session's models from now on (offered in its config options)."""
        if name not in session.models:
            session.models = [*session.models, name][-20:]

    def _session(self, session_id: str) -> Session:
        if (session := self.sessions.get(session_id)) is None:
            raise _not_found(session_id)
        return session

    # ---- a prompt, and its cancel

    @_answering
    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> schema.PromptResponse:
        """One turn of the session's thread (or one of its commands); a cancel ends it ``cancelled``, the partial
        answer kept."""
        session = self._session(session_id)
        if session.running is not None and not session.running.done():
            raise RequestError(-32600, f"session {session_id} is answering a prompt already")
        text, files = _question(prompt)
        command = self._command(session, text)
        if command is not None and files:  # they would be dropped unsaid
            raise RequestError(-32602, f"files go with a question, not with {text.split()[0][:40]}", {"exitCode": 2})
        work = command or (lambda: _asked(session.thread, text, files, session.listener.forms, self.chat.environ))
        session.running = self.chat.running.start(work(), session_id)
        if self.gone:  # read as the editor ended: answered at once, cancelled
            session.listener.stop()
        await asyncio.wait({session.running})
        await session.listener.flushed()
        if session.placing is not None:
            await asyncio.wait({session.placing})
        if session.running.cancelled():
            return schema.PromptResponse(stop_reason="cancelled")
        if (failure := session.running.exception()) is None:
            result = session.running.result()
            return schema.PromptResponse(stop_reason=updates.stop_reason(result), usage=updates.usage(result))
        # A spending limit that refused a model call ends the turn max_turn_requests, its one line (how to raise the
        # limit) said as the agent's message; not refusal, which tells the editor to drop the prompt the thread kept.
        limited = describe(failure, self.settings)
        if limited.limit is None:
            raise _error(failure, self.settings)  # any other failure: the JSON-RPC error
        session.listener.said(limited.line)
        await session.listener.flushed()
        return schema.PromptResponse(stop_reason="max_turn_requests")

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        """Stop the session's turn as Ctrl-C does; a cancel for nothing is nothing."""
        if (session := self.sessions.get(session_id)) is not None:
            session.listener.stop()

    def _command(self, session: Session, text: str) -> Callable[[], Coroutine[Any, Any, TurnResult]] | None:
        """The work of a command typed as ``/name arg`` (an MCP prompt's too: ``/mcp__SERVER__PROMPT``; None: the
        text is a question)."""
        if not text.startswith("/"):
            return None
        name, _, arg = text[1:].partition(" ")
        command = self.chat.commands().get("/" + name.strip(), session.thread.toolbox)
        if command is None or command.run is None:
            return None  # not a command an editor is offered: a question

        async def run() -> TurnResult:
            done = await run_offered(self.chat, session.thread, command, arg.strip())
            if not isinstance(done, Said):
                return done
            line = done.line
            if done.model is not None:
                self._chosen(session, done.model)
                self._update_options(session)
            if done.forked is not None:
                await self._place(done.forked, session)  # made here: in this session's directories
                line = f"forked into session {done.forked} (chat -t {done.forked}); load it to go on there"
            session.listener.said(line)  # a line said, as the answer of the turn
            return TurnResult(line)

        return run

    def _update_options(self, session: Session) -> None:
        if options := self._options(session):
            update = schema.ConfigOptionUpdate(session_update="config_option_update", config_options=options)
            session.listener.send(update)

    async def aclose(self) -> None:
        """Stop every running turn (its partial kept) and let go of the sessions."""
        if self.catalog is not None:
            self.catalog.cancel()
        # A stopped turn keeps its part in a moment; the agent leaves within two seconds of its editor.
        await self.chat.running.stop_all(timeout=1)
        for session in self.sessions.values():
            await _release(session)


async def _release(session: Session) -> None:
    """Let go of what a session holds: its listener, its MCP servers."""
    if session.listing is not None:
        session.listing.cancel()
    await session.listener.aclose()
    if session.tools is not None:
        await session.tools.aclose()


async def _closed(session: Session) -> None:
    """A session closed: its turn stopped as a cancel (the part kept, the prompt answered ``cancelled``), then
    released."""
    running = session.running
    session.listener.stop()
    if running is not None and not running.done():
        await asyncio.wait({running})
    if session.placing is not None:
        await asyncio.wait({session.placing})
    await session.listener.flushed()  # what the turn said reaches the editor before the session goes
    await _release(session)


@functools.lru_cache(maxsize=1024)
def _provider_of(model: str) -> str | None:
    """The provider a model's name is of, as chat names it ("OpenAI", "Anthropic"); None for a name of none."""
    from chatcli.providers import provider_of

    try:
        return provider_of(model)[0].label
    except Exception:  # noqa: BLE001 - a name typed by hand that no provider takes: offered without one
        return None


def _listed(row: Any, place: Place | None) -> schema.SessionInfo:
    """A thread as session/list shows it: in the directory it was made in (one made before places were kept: in the
    agent's own, and its ``_meta`` says the place is not known)."""
    return schema.SessionInfo(
        session_id=row.thread_id,
        cwd=place.cwd if place is not None else _here(),
        additional_directories=list(place.dirs) if place is not None and place.dirs else None,
        title=row.title,
        updated_at=iso_time(row.updated_at),
        field_meta=None if place is not None else {"chatcli": {"placeKnown": False}},
    )


def _here() -> str:
    """The agent's own directory (the root, when it was removed)."""
    try:
        return os.getcwd()
    except OSError:
        return os.path.abspath(os.sep)


class Where(NamedTuple):
    """Where a session works, as the editor says: its directory, its other roots, the editor's MCP servers for it."""

    workdir: Path
    dirs: tuple[str, ...]
    servers: list[Any]


def _where(
    cwd: str, mcp_servers: list[Any] | None = None, additional_directories: list[str] | None = None, **_: Any
) -> Where:
    """Where a session/new, load, resume or fork says the session works, checked: ``cwd`` and each of its
    ``additionalDirectories`` an absolute path to a directory (resolved, each once)."""
    try:
        dirs = tuple(dict.fromkeys(str(_workdir(entry)) for entry in additional_directories or []))
    except RequestError as exc:
        raise RequestError(-32602, f"additionalDirectories: {exc}") from None
    return Where(_workdir(cwd), dirs, mcp_servers or [])


def _not_found(session_id: Any) -> RequestError:
    """The protocol's "not found" for ``session_id``, which is named only as far as it is short and printable."""
    return RequestError(-32002, f"Resource not found: {str(session_id)[:80].encode('unicode_escape').decode('ascii')}")


def _input(hint: str | None) -> schema.AvailableCommandInput | None:
    return schema.AvailableCommandInput(root=schema.UnstructuredCommandInput(hint=hint)) if hint else None


def _plain(text: str) -> str:
    """A server's text for the editor's menu: one line, no control characters, bounded."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:300]


def _workdir(cwd: str) -> Path:
    """A session's working directory: the editor's ``cwd``, which must be an absolute path to a directory."""
    if not cwd or not os.path.isabs(cwd):
        raise RequestError(-32602, f"cwd must be an absolute path: {cwd[:200]!r}")
    try:
        path = Path(cwd)
        if not path.is_dir():
            raise RequestError(-32602, f"cwd is not a directory: {cwd[:200]!r}")
        return path.resolve()
    except (OSError, ValueError) as exc:  # a name too long, a NUL, a loop of links
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RequestError(-32602, f"cwd cannot be used ({why}): {cwd[:200]!r}") from None


def _server_specs(servers: list[Any]) -> list[Any]:
    """The editor's MCP servers (stdio and streamable HTTP) as chat's, checked as mcp.json's are."""
    from chatcli.tools.mcp.config import parse_servers

    entries: dict[str, Any] = {}
    for server in servers:
        if server.name in entries:
            say(sys.stderr, f"chat acp: MCP server {server.name[:60]!r} is named twice; the first is used\n")
            continue
        if isinstance(server, schema.McpServerStdio):
            env = {v.name: v.value for v in server.env}
            entries[server.name] = {"command": server.command, "args": list(server.args), "env": env}
        elif isinstance(server, schema.McpServerHttp):
            entries[server.name] = {"url": server.url, "headers": {h.name: h.value for h in server.headers}}
        else:  # not offered in the capabilities: left out, said
            kind = getattr(server, "type", type(server).__name__)
            say(sys.stderr, f"chat acp: MCP server {server.name}: {kind} is not a transport chat speaks; left out\n")
    try:
        return parse_servers({"mcpServers": entries}, "the editor's MCP servers")
    except ChatError as exc:
        raise RequestError(-32602, str(exc)) from None


async def _said(work: Awaitable[Any]) -> Any:
    """``work``'s result; chat's one-line failure as the JSON-RPC error the protocol names."""
    try:
        return await work
    except ChatError as exc:
        raise _error(exc) from None


def _error(exc: BaseException, settings: Settings | None = None) -> RequestError:
    """A failure as the JSON-RPC error: chat's one line (and the exit code the command line would give)."""
    if isinstance(exc, RequestError):
        return exc
    failure = describe(exc, settings)
    if not isinstance(exc, ChatError):
        say(sys.stderr, f"chat acp: {type(exc).__name__}: {exc}\n")
    code = -32602 if isinstance(exc, UsageError) else -32603
    return RequestError(code, failure.line, {"exitCode": int(failure.exit_status)})


def _question(blocks: list[Any]) -> tuple[str, list[Any]]:
    """A prompt's blocks as chat's question: the text, and the files (an embedded resource, an image) to send, as many
    as one question may carry (counted before any is decoded; the thread checks them whole)."""
    from chatcli.content.attachments import check_count, from_bytes

    texts: list[str] = []
    files: list[Any] = []
    try:
        check_count(sum(isinstance(b, (schema.ImageContentBlock, schema.EmbeddedResourceContentBlock)) for b in blocks))
        for block in blocks:
            if isinstance(block, schema.TextContentBlock):
                texts.append(block.text)
            elif isinstance(block, schema.ImageContentBlock):
                data = base64.b64decode(block.data, validate=True)
                files.append(from_bytes(block.uri or f"image-{len(files) + 1}", data))
            elif isinstance(block, schema.EmbeddedResourceContentBlock):
                resource = block.resource
                text = isinstance(resource, schema.TextResourceContents)
                data = resource.text.encode() if text else base64.b64decode(resource.blob, validate=True)
                files.append(from_bytes(resource.uri.removeprefix("file://"), data))
            elif isinstance(block, schema.ResourceContentBlock):
                texts.append(f"[{block.name}]({block.uri})")
            else:
                raise UsageError("audio is not something chat sends to a model")
    except ChatError as exc:
        raise _error(exc) from None
    except ValueError as exc:
        raise RequestError(-32602, f"a block could not be read: {exc}") from None
    return "\n".join(texts), files

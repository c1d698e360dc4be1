"""A thread: its turns sent, stopped, retried, undone and resumed, whatever answers it.

``Thread`` is the one class every door holds (the prompt, a one-shot, the worker, ``chat serve``): each call
is one step of the thread, told to its listener (chatcli.core.events). What answers it is its backend
(chatcli.service.backend: chat's own graph, a graph of the user's, a LangGraph server's assistant), which says
what the thread can do besides asking and answering (``can``) and how the few steps that differ are made.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Literal, cast

from chatcli.backends.own.rewind import THREAD_SETTINGS
from chatcli.core.binding import Binding
from chatcli.core.events import End, Listener, Notice, Silent, Start, Token, ToolCall, TurnResult, names_nodes
from chatcli.core.graph_app import GraphApp
from chatcli.core.inputs import check_model_name, check_question
from chatcli.core.interrupts import Pending, resume_value
from chatcli.core.turn import Approvals, Config, Turns
from chatcli.errors import ConfigError, Refused, UsageError
from chatcli.service.abilities import Abilities
from chatcli.service.backend import Backend, ThreadList
from chatcli.service.inbox import answer_to, asked_of
from chatcli.service.outcome import outcome, waits_on
from chatcli.service.own_prompt import ModelChoice, OwnPrompt, marked
from chatcli.service.recall import Recall, Undone
from chatcli.store import Store
from chatcli.tools.hooks import NO_HOOKS, Hooks

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from chatcli.config import Settings
    from chatcli.content.attachments import Attachment
    from chatcli.core.elicitation import Elicitation, Elicited
    from chatcli.core.events import Decision, Question, Reply, Review, TurnEvent
    from chatcli.service.opening import ThreadSetup
    from chatcli.store.memories import MemoryBook
    from chatcli.threads.spending import Standing
    from chatcli.threads.tree import Node, Tree
    from chatcli.tools.hooks import Verdict
    from chatcli.tools.toolbox import Toolbox


NO_VALUE = object()  # ``resume``'s value when none is given: what the thread waits on is asked

# The parts of chat's own prompt and memory a door asks a thread for (``Thread.own``), and the line that refuses
# each on a thread a graph answers (which builds its own prompt and keeps its own memory).
Own = Literal["setup", "roles", "system", "memory"]
NOT_OURS: dict[Own, str] = {
    "setup": "roles, system prompts and variables are chat's own",
    "roles": "roles are chat's own",
    "system": "the system prompt is chat's own",
    "memory": "a graph keeps its thread's memory its own way: compaction is for chat's own threads",
}


@dataclass
class Thread:
    """Thread ``thread_id`` answered by ``backend`` (chat's own graph, a graph of the user's, an Agent Server's
    assistant): a handle, never moved to another thread; every call is one step of the thread, told to ``listener``
    (chatcli.core.events); ``recall`` reads its history for the screen."""

    backend: Backend
    thread_id: str
    # The door's settings: its failures are said in their terms (keys masked); a reply that has begun may go
    # ``timeout`` seconds without text before it counts as stalled; --yes (``approve_all``) gives every approval a
    # graph of the user's asks (chat's own: its toolbox's).
    settings: Settings
    context_tokens: int | None = None
    # The most estimated tokens one question may hold, and what sets it (chatcli.backends.own.model_state.ModelState).
    question_limit: int | None = None
    limited_by: str = "budget"
    # The open database: thread index and cross-process turn lock.
    store: Store | None = None
    model: ModelChoice = ModelChoice()
    # The thread's settings (its role, system prompt, variables) told before its first message, sent with it.
    pending: dict[str, Any] = field(default_factory=dict)
    # The session's tools (a chatcli.tools.toolbox.Toolbox), or None when tools are off.
    toolbox: "Toolbox | None" = None
    # Hears every turn's events and is asked about tool calls that need approval (the default
    # hears nothing and refuses them: nobody to ask).
    listener: Listener = field(default_factory=Silent)
    workdir: str | None = None  # the project's directory when it is not the process's (an editor's session)
    # The ends of an answer that is not whole which the door says its own way (an editor's stop reasons): returned,
    # not raised (chatcli.service.outcome).
    whole: tuple[str, ...] = ()
    # The session's hooks (chatcli.tools.hooks: the Chat's), fired at its turns' moments, its graph's too (config).
    hooks: Hooks = NO_HOOKS
    notified: set[str] = field(default_factory=set)  # the questions a Notification hook was told of
    asked_with: str | None = None  # the model the turn running now is asked with, for it alone (a command file's)

    def __post_init__(self) -> None:
        if self.backend.label:  # a graph's: its label names what answers
            self.model = ModelChoice(self.backend.label, self.backend.label)
        source = self.backend.source(self.settings.timeout or None, self.context_tokens)
        self.turns = Turns(source, Approvals(self.toolbox, self.settings.approve_all))

    @property
    def app(self) -> GraphApp:
        return self.backend.app

    @property
    def model_name(self) -> str | None:
        """The model asked now (None: the settings')."""
        return self.model.name

    @property
    def can(self) -> Abilities:
        """What this thread does besides asking and answering (its backend's abilities)."""
        return self.backend.can

    @property
    def prompt(self) -> OwnPrompt | None:
        """What only chat's own graph does with this thread: its role, system prompt and variables, compaction,
        summary and pins (chatcli.service.own_prompt); None when a graph answers it, which builds its own prompt
        and keeps its own memory."""
        return OwnPrompt(self) if self.can.prompt else None

    def own(self, part: Own) -> OwnPrompt:
        """The thread's ``prompt``, asked for ``part`` of it; when a graph answers the thread, one line saying that
        ``part`` is chat's own (UsageError, with the backend's hint)."""
        if (prompt := self.prompt) is None:
            raise UsageError(NOT_OURS[part], hint=self.can.hint)
        return prompt

    async def waiting(self, state: Any = None) -> list[Pending]:
        """What the thread waits on: an approval of its calls, or a tool's question (asked before chat stopped,
        or left for a request or ``--resume`` to answer); each call with where it would run, as the terminal says.
        ``state``: the thread's, when the turn holding it has read it."""
        pending = self.turns.source.pending(state or await self.app.aget_state(self.config))
        return [replace(item, calls=tuple(map(self.turns.approvals.shown, item.calls))) for item in pending]

    async def _run(
        self, payload: Any, start: Config, created: bool = False, asking: Any = None, node: int | None = None
    ) -> TurnResult:
        """One turn from ``start`` with ``payload`` (an input, a resume, or None: on from the checkpoint), told to
        the listener as the backend hears it (``node``: the node of the tree its answer is; ``asking``: the thread's
        state, read, whose questions are asked first); a failure inside the graph said as the backend says it."""
        opening = Start(self.thread_id, created, node)
        listener = _EndAfterInbox(self.backend.hearing(self.listener), lambda: self.keep_inbox(self.turns.ended))
        try:
            result = await self.turns.run(payload, start, self.config, listener, opening, asking=asking)
            return await self._went_on(result, listener)
        except Exception as exc:
            if (failure := self.backend.failure(exc)) is exc:
                raise  # as it was: a model client's error keeps its own cause, which its provider reads
            raise failure from exc
        finally:
            try:
                await asyncio.shield(self.keep_inbox(self.turns.ended))
            finally:
                listener.release()

    async def keep_inbox(self, state: Any = None) -> None:
        """Keep the inbox (chat inbox) in step with the thread (``state``: as its turn ended, if read) once a turn has
        ended, however it ended and at whichever door: what it waits on for the user now, or nothing. A thread no
        database of chat's keeps (an Agent Server's) is noted there by its backend, with where it lives; a store that
        fails here loses no answer (the turn has ended)."""
        try:
            asked = asked_of(await self.waiting(state))
        except Exception:  # noqa: BLE001 - (a server gone mid-turn) the inbox is told again at the next turn
            asked = None
        try:
            if self.store is None:
                await self.backend.keep(self.thread_id, asked)  # None: where it lives only
            elif asked is not None:
                await self.store.index.waits(self.thread_id, asked)
        except Exception:  # noqa: BLE001 - the inbox is told again at the thread's next turn
            return
        for row in [row for row in asked or () if row.id not in self.notified]:  # a question waits: hooks told
            self.notified.add(row.id)
            kind = "permission_prompt" if row.kind == "approval" else "elicitation_dialog"
            await self.hook("Notification", notification_type=kind, message=row.text, title="chat waits for you")

    async def hook(self, event: str, **fields: Any) -> Verdict:
        """What the session's hooks of ``event`` say (the thread is their session, its messages their transcript),
        each failure and message told."""
        from chatcli.core.events import saying

        say = saying(self.listener.hear)
        return await self.hooks.fire(event, fields, session_id=self.thread_id, say=say, history=self.messages)

    async def _hooked_question(self, text: str) -> str:
        """What the hooks add to a question before it is sent (SessionStart's, on the session's first question, and
        UserPromptSubmit's context); UsageError, the question not sent, when a UserPromptSubmit hook refuses it."""
        if not self.hooks.hooks:
            return ""
        context: list[str] = []
        if self.thread_id not in self.hooks.started:
            self.hooks.started.add(self.thread_id)
            if any(hook.event == "SessionStart" for hook in self.hooks.hooks):  # (its history read only then)
                source = "resume" if await self.messages() else "startup"
                model = self.model.name or self.model.default or ""
                context += (await self.hook("SessionStart", source=source, model=model)).context
        said = await self.hook("UserPromptSubmit", prompt=text)
        if said.blocked or said.stop is not None:
            raise Refused(f"a UserPromptSubmit hook refused the question: {said.reason or said.stop}")
        return "\n\n".join([*context, *said.context])

    async def _went_on(self, result: TurnResult, listener: _EndAfterInbox) -> TurnResult:
        """The answer gone on, in the same turn, while a Stop hook blocks its end (``decision: block``: its reason
        the next question), at most ``max_continuations`` times; an answer that waits or is not whole is not."""
        from chatcli.backends.own.request_history import now_iso
        from chatcli.content.attachments import question_message
        from chatcli.core.chunks import add_usage

        for passes in range(self.settings.max_continuations + 1):
            if result.interrupted or result.waiting or result.interrupts:
                break
            said = await self.hook("Stop", stop_hook_active=passes > 0, last_assistant_message=result.text)
            if not said.blocked:
                break
            if passes == self.settings.max_continuations:
                said_max = f"a Stop hook asked for more: {passes} passes made, as max_continuations allows"
                listener.hear(Notice(said_max, warn=True))
                break
            listener.hear(Notice(f"a Stop hook asks for another pass: {said.reason}"))
            listener.hear(Token("\n\n"))  # the answer goes on, as after a tool call
            asked = question_message(said.reason, response_metadata={"created_at": now_iso()})
            payload = await self.backend.ask(self.config, {"messages": [asked]})
            listener.going_on = True  # one answer: its next start is not told again
            opening = Start(self.thread_id)
            before, result = result, await self.turns.run(payload, self.config, self.config, listener, opening)
            result.text, result.usage = f"{before.text}\n\n{result.text}", add_usage(before.usage, result.usage)
        return result

    @asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        """Hold the thread for the length of a turn, so turns from other processes queue up; a thread no database
        of chat's holds (an Agent Server's) is held in this process, by its backend. Either way the lock is let go
        once the turn has ended, a stopped answer's part kept in the thread (and the state it ended at forgotten):
        the next question comes after it."""
        async with (self.store or self.backend).thread_lock(self.thread_id):
            try:
                yield
            finally:
                self.turns.ended = None

    @property
    def config(self) -> Config:
        from chatcli.backends.own.toolcalls import HOOKS, TOOLBOX

        configurable: dict[str, Any] = {"thread_id": self.thread_id}
        if not self.can.prompt:
            return {"configurable": configurable}  # the graph chooses its own model
        configurable[HOOKS] = self.hooks  # (chat's own graph's: its steps fire them)
        if model := self.asked_with or self.model.name:
            configurable["model"] = model
        if self.model.temperature is not None:
            configurable["temperature"] = self.model.temperature
        if self.toolbox is not None:  # this thread's tools (a session's own, or the engine's)
            configurable[TOOLBOX] = self.toolbox
        if self.workdir is not None:  # where its project is (an editor's session's: its AGENTS.md)
            configurable["workdir"] = self.workdir
        return {"configurable": configurable}

    async def set_up(self, setup: ThreadSetup, model_given: bool = False) -> None:
        """Open the thread as the door asks (``setup``): the model and temperature it keeps (its role's; else the
        defaults) unless ``model_given`` or the setup's temperature (-m and --temperature win for this run), then
        its role if one was named, then --system and --var over it."""
        role, system, variables = setup.role, setup.system, setup.variables
        asked = role is not None or system is not None or bool(variables)
        prompt = self.own("setup") if asked else None  # refused in one line when a graph builds its own prompt
        if not self.can.prompt:
            return
        kept = (await self.app.aget_state(self.config)).values
        self.model = self.model.taken_up(kept.get("model"), kept.get("temperature"))
        if prompt is not None and role is not None:
            await prompt.set_role(role)
        if model_given:
            self.model = replace(self.model, name=self.model.default, pinned=True)
        if setup.temperature is not None:
            self.model = replace(self.model, temperature=None, temperature_pinned=True)  # the settings' (the flag's)
        if prompt is not None:
            await prompt.set_system(system, variables)

    @property
    def recall(self) -> Recall:
        """Reads of this thread's history for the screen: last question, answer, thinking, token totals."""
        return Recall(self.messages)

    async def spending(self) -> Standing:
        """How this thread and the day stand against the spending limits that are set (/usage), as the spending
        ledger says (chatcli.threads.spending.standing); not ``kept`` where chat does not make the model calls: a
        server's thread (--remote), which has no ledger here."""
        from chatcli.threads.spending import Room, Standing, limits_set, standing

        if self.store is None:
            return Standing([Room(name, usd) for name, usd in limits_set(self.settings)], 0.0, kept=False)
        return await standing(self.settings, self.store.index, [self.thread_id])

    def memories(self) -> MemoryBook:
        """What the user asked chat to remember (a chatcli.store.memories.MemoryBook), in chat's database."""
        if self.store is None:
            raise UsageError("memories are kept in chat's own database: a server's thread (--remote) has none here")
        book: MemoryBook = self.store.memories()
        return book

    def threads(self) -> ThreadList:
        """The threads beside this one (chat's database, or the server's)."""
        return self.backend.threads(self.store)

    async def messages(self, state: Any = None) -> list[BaseMessage]:
        """The thread's whole stored history, as LangChain's messages (of ``state``, when its turn has read it)."""
        state = state or await self.app.aget_state(self.config)
        return [self.backend.message(m) for m in state.values.get("messages", [])]

    # ---- time travel: every change goes through LangGraph checkpoints, old states stay in history

    async def tree(self) -> Tree:
        """Every question asked on the thread and every answer it had, as a tree (chatcli.threads.tree)."""
        from chatcli.threads.tree import read_tree

        return await read_tree(self.thread_id, self.store, self.app)

    async def goto(self, name: str, before: bool = False) -> Node:
        """Move the thread to the node ``name`` names (a number or a label): the next question goes on from there
        (``before``: from where its question was asked, to ask it another way), and the branch left stays whole
        (chatcli.service.branches)."""
        from chatcli.service.branches import move

        async with self.lock():
            tree = await self.tree()
            return await move(self.app, tree, name, await self._settings_now(), self.store, before)

    async def question(self, name: str) -> tuple[Node, str]:
        """The node ``name`` names and its question's whole text (/edit N)."""
        from chatcli.service.branches import question_of

        return await question_of(self.app, await self.tree(), name)

    async def label(self, name: str) -> Node:
        """Name the node the thread is on (/goto NAME goes back to it)."""
        from chatcli.service.branches import name_node

        return await name_node(await self.tree(), name, self.store)

    async def _node(self, turn: Literal["new", "again", "on"]) -> int | None:
        """The node of the thread's tree the turn about to run answers as: a ``new`` question's (the next number), a
        retry's (``again``: the next, unless the question has no answer yet), or the one it is on (``on``). None on a
        thread chat's database does not keep (a server's: reading its tree costs more than the turn), and when the
        listener does not tell it (the prompt: its tree is read when /tree asks, not at every turn)."""
        if self.store is None or not self.can.kept or not names_nodes(self.listener):
            return None
        tree = await self.tree()
        current = tree.nodes.get(tree.current) if tree.current is not None else None
        if turn == "on" or (turn == "again" and current is not None and current.end_pos == current.asked_pos):
            return tree.current
        return len(tree.nodes) + 1

    async def _settings_now(self, state: Any = None) -> dict[str, Any]:
        """What the thread keeps beside its messages as it is now (its system prompt, variables, role, model,
        pins, and what is pending for it; ``state``: the thread's, read already), for a state it goes on from that is
        older: nothing on a graph's thread."""
        if not self.can.prompt:
            return {}
        head = (state or await self.app.aget_state(self.config)).values
        current = {**{k: head[k] for k in THREAD_SETTINGS if k in head}, **self.pending}
        self.pending = {}
        return current

    async def undo(self) -> Undone | None:
        """Take back the last thing done: a compaction or a summary edit made since the last answer (the summary
        before it is sent again), else the last exchange (the last user message and all after it); None when
        there is none."""
        from langchain_core.messages import RemoveMessage

        from chatcli.backends.own.compaction import undoable, undone

        async with self.lock():
            state = (await self.app.aget_state(self.config)).values
            if self.can.prompt and state.get("messages") and undoable(state):
                await self.backend.change(marked(self.config, "undo"), undone(state))
                return Undone("", 0, state["compaction"]["kind"])
            history = [self.backend.message(m) for m in state.get("messages", [])]
            asked = [i for i, m in enumerate(history) if m.type == "human"]
            if not asked:
                return None
            removed = history[asked[-1] :]
            gone = [RemoveMessage(id=cast(str, m.id)) for m in removed]  # a stored message has its id
            await self.backend.change(self.config, {"messages": gone})
            if self.store is not None:
                await self.store.index.set_count(self.thread_id, asked[-1])
        return Undone(str(removed[0].text), len(removed))

    @outcome
    async def retry(self) -> TurnResult:
        """Answer the last user message again, in place of the answer it has; stream like ``send``.

        Resumes the model from the checkpoint where that message awaited its answer, so the
        old answer leaves the thread (it stays in the checkpoint history). Stopped or failed,
        the part that arrived is kept, as in a turn.
        """
        async with self.lock():
            head = await self.app.aget_state(self.config)
            asked = [m for m in await self.messages(head) if m.type == "human"]
            if not asked:
                raise UsageError("nothing to retry: this thread has no message yet")
            current = await self._settings_now(head)  # the retry uses the thread's system prompt and variables as now
            node = await self._node("again")
            start = await self.backend.retry_point(self.config, head, asked[-1], current)
            try:
                return await self._run(None, start, node=node)
            finally:
                await asyncio.shield(self._record(asked[-1].text))

    @outcome
    async def send(
        self,
        text: str,
        attachments: list[Attachment] | None = None,
        mentions: str = "",
        queue: bool = False,
        title: str = "",
        model: str | None = None,
    ) -> TurnResult:
        """Send one user message and stream the reply to the listener.

        ``attachments`` (chatcli.content.attachments.Attachment) go with it; ``queue``: they are the prompt's
        queue (/attach), emptied once the message is stored. The MCP resources
        ``mentions`` names as ``@SERVER:URI`` go too: only text the user typed is passed there, never
        what a file, a pipe, a page or a server's prompt holds (it could name another server's
        resources, to have them read and sent). ``title``: what names a new thread, if not the text (a command's
        line, for a skill or a prompt that sent its instructions); ``model``: the one this turn alone is asked with
        (its caller checks it: check_model), the thread's kept as it is. On cancellation
        or failure, whatever part of the reply arrived is saved to the thread, marked as
        interrupted, before the exception goes on.
        """
        if not self.can.files and attachments:
            raise UsageError(f"files cannot be sent to {self.can.where}", hint=self.can.files_hint)
        from chatcli.backends.own.mentions import mentioned
        from chatcli.backends.own.request_history import now_iso
        from chatcli.content.attachments import Attachment, check_files, question_message

        given = list(attachments or [])
        check_files(given)
        if text.strip() or not given:  # (a question of no text has no mentions)
            check_question(text, self.question_limit, self.limited_by)
        files = given + await mentioned(mentions, self.toolbox, given)
        if context := await self._hooked_question(text):  # sent as a file where files go, else after the text
            files += [Attachment("context from hooks", "text/plain", context.encode())] if self.can.files else []
            text += "" if self.can.files else f"\n\n{context}"
        message = question_message(text, files, response_metadata={"created_at": now_iso()})
        from chatcli.core.memories import ASKED, asks_to_remember

        # Whether the user's own words ask to remember something (never a pipe's, a file's or a prompt's).
        message.additional_kwargs[ASKED] = asks_to_remember(mentions)
        if files:
            check_question(str(message.text) or "(images)", self.question_limit, self.limited_by)
        title = title or text or files[0].name
        async with self.lock():
            self.asked_with = model
            try:
                return await self._send(message, attachments if queue else None, title=title)
            finally:
                self.asked_with = None
                await asyncio.shield(self._record(title))

    async def _record(self, question: str) -> None:
        """Update the thread index after a turn, whatever its outcome (its messages counted in the state it ended at,
        read again if it stopped early): a thread is listed from its first question on, titled by it, answered or not
        (a wrong key, a server down: ``chat -c`` goes on with it)."""
        if self.store is not None:
            await self._index(question, len(await self.messages(self.turns.ended)))

    async def choose_model(self, name: str) -> None:
        """/model: ``name`` answers from the next message on, and the thread keeps it (its binding): stored now,
        a new thread's with it, so that leaving before the next message forgets nothing. Checked first, the same at
        every door: a graph's thread has its own model, and a name that is none, or whose provider's key or package
        is missing, is one line (nothing switched)."""
        check_model(self.settings, self.can, name)
        self.model = replace(self.model, name=name, pinned=True)
        # Stored now: a new thread exists from this moment, listed untitled with no message until its first question
        # names it, and what answers it is stored with it.
        if self.store is not None and await self.store.index.get(self.thread_id) is None:
            await self._index("", 0)  # in the door's directory, titled by its first question
        elif self.store is not None:
            await self._bind()

    def binding(self) -> Binding:
        """What answers this thread: its graph, or chat's own on the model -m or /model chose (None: the
        settings' default or the thread's role's)."""
        if self.backend.binding is not None:
            return self.backend.binding
        return Binding(model=self.model.name if self.model.pinned else None)

    async def _index(self, title: str, count: int) -> None:
        """The thread's row (title, size, model) and its binding, stored."""
        assert self.store is not None
        where = self.workdir or self.settings.workdir
        await self.store.index.touch(self.thread_id, title, count, self.model.name, where)
        await self.store.index.bind(self.thread_id, self.binding().to_json())

    async def _bind(self) -> None:
        """Store the thread's binding now, when it changes: a turn asked with -m (or a request's model) moves the
        thread as it starts, so a turn stopped mid-answer (a client that left, Ctrl-C, kill) has moved it too, and
        the next question, however soon it comes, goes on with the model the thread was last asked with."""
        assert self.store is not None
        binding = self.binding().to_json()
        if await self.store.index.binding(self.thread_id) != binding:
            await self.store.index.bind(self.thread_id, binding)

    async def _send(self, message: Any, queue: list[Attachment] | None = None, title: str = "") -> TurnResult:
        """Stream one turn while holding the thread.

        On chat's own graph the question is committed first: if it cannot be stored (a locked or full
        database), nothing is sent to the model; then the model step resumes from it. Another graph takes it
        as its run's input.
        """
        from chatcli.backends.own.toolcalls import INTERRUPTED, closing_results, open_calls

        # Calls left without results (chat was killed mid-call, or a question for approval
        # was never answered) are closed first: no request may carry a call without its result.
        history = await self.messages()
        node = await self._node("new")
        closing = closing_results(open_calls(history), INTERRUPTED, "interrupted")
        values = {"messages": [*closing, message], **self.pending}
        self.pending = {}
        payload = await self.backend.ask(self.config, values)
        if queue is not None:
            queue.clear()  # sent with this message, which is stored now (nothing awaited in between)
        if not history and self.store is not None:  # indexed now: a thread killed mid-turn is still found by its id
            kept = await self.store.index.get(self.thread_id)  # stored already if it was told something
            await self._index(title, len(values["messages"]))
            if kept is not None and not kept.title:
                await self.store.index.set_title(self.thread_id, title)
        elif self.store is not None:  # what answers it, stored with the question, as a new thread's is
            await self._bind()
        return await self._run(payload, self.config, created=not history, node=node)

    @outcome
    async def resume(self, value: object = NO_VALUE) -> TurnResult:
        """Go on from what the thread waits on (calls to approve, a tool's question, a graph's interrupts): asked
        again, or answered with ``value`` (a tool's question's or an interrupt's answer: ``--resume``), then run
        the turn to its answer with the model (and temperature) it was asked with, unless -m or /model chose
        another; AlreadyDone if nothing waits any more."""
        async with self.lock():
            state = await self.app.aget_state(self.config)
            waiting = await waits_on(self, state=state)  # nothing: another request (or process) answered it meanwhile
            payload = None if value is NO_VALUE else self._answer(waiting[0], value)
            asked = [m for m in await self.messages(state) if m.type == "human"]
            kept, turn, node = self.model, state.metadata or {}, await self._node("on")
            if self.can.prompt and not kept.pinned and isinstance(turn.get("model"), str):
                self.model = replace(self.model, name=turn["model"])
            if self.can.prompt and not kept.temperature_pinned and isinstance(turn.get("temperature"), (int, float)):
                self.model = replace(self.model, temperature=turn["temperature"])
            try:
                # With no value, what it waits on is asked again, from the state read (nothing runs first).
                return await self._run(payload, self.config, asking=state if payload is None else None, node=node)
            finally:
                if asked:
                    await asyncio.shield(self._record(asked[-1].text))
                self.model = kept

    def _answer(self, pending: Pending, value: object) -> Any:
        """The run that answers ``pending`` with ``value``; UsageError if it is no answer to it."""
        if not self.can.prompt:
            return self.turns.source.resumed(value)  # a graph's interrupt: the value is its answer, as it reads it
        if pending.elicitation is None:
            raise UsageError(
                f"thread {self.thread_id} waits for the approval of tool calls, which --resume does not give",
                hint=f"chat -t {self.thread_id} asks about them in a terminal",
            )
        answer = answer_to(pending.elicitation, value)
        return self.turns.source.resumed(resume_value([pending], [answer.resume(pending.elicitation)]))


class _EndAfterInbox:
    """A turn's events passed on as they come, but its ``End`` once the inbox is kept (``release``): whoever reads
    how the turn ended (a background reply's "waiting for you", the JSON object's approvals) finds its questions in
    ``chat inbox`` already. Each question is in the inbox before it is asked (``kept``): however the process ends
    while it is asked (a closed terminal, a kill), it is left there."""

    def __init__(self, listener: Listener, kept: Callable[[], Awaitable[None]]):
        self.listener, self.kept = listener, kept
        self.end: End | None = None
        self.going_on = False  # the answer goes on as a Stop hook asked (Thread._went_on): told as one

    def hear(self, event: TurnEvent) -> None:
        if isinstance(event, End):
            self.end = event
            return
        if not (self.going_on and isinstance(event, Start)):  # (going on, the answer is told as one)
            self.listener.hear(event)

    def release(self) -> None:
        end, self.end = self.end, None
        if end is not None:
            self.listener.hear(end)

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        await self.kept()
        # Asked as the turn asks it: a listener of chat's own calls may take the call alone.
        return await self.listener.approve(call, *(() if review is None else (review,)))

    async def answer(self, question: Question) -> Reply | None:
        await self.kept()
        return await self.listener.answer(question)

    async def elicit(self, question: Elicitation) -> Elicited | None:
        await self.kept()
        return await self.listener.elicit(question)


def check_model(settings: Settings, can: Abilities, name: str) -> None:
    """A model a door names for chat's own graph (-m, a request's ``model``, /model, an editor's pick), checked the
    same at every door: a graph's thread has its own model, and a name that is none, or whose provider's key or
    package is missing, is one line."""
    if not can.prompt:
        raise UsageError("the model is the graph's own", hint=can.hint)

    check_model_name(name)
    from chatcli.backends.own.model import check_credentials

    try:
        check_credentials(settings, name)
    except ConfigError as exc:  # the door's request, not the settings, named it
        raise UsageError(exc.message, hint=exc.hint) from None

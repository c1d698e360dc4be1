"""One session's listener: a turn's events as ``session/update`` notifications, in order, and its questions asked of
the editor (``session/request_permission`` for a tool call or a graph's review, ``elicitation/create`` for a tool's
question or a graph's interrupt, where the editor offers it)."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from typing import Any, Awaitable, Callable, TypeVar

from acp import schema
from acp.interfaces import Client

from chatcli.core import events
from chatcli.core.elicitation import Elicitation, Elicited, Field, Unreadable, answer_of, read_fields
from chatcli.core.events import Decision, Question, Reply, Review, ToolCall, declined
from chatcli.editor import updates
from chatcli.text import say
from chatcli.threads.masking import masked


def form_of(fields: tuple[Field, ...]) -> dict[str, Any]:
    """A tool's form (the fields chat read from its server's schema, checked and bounded) as the schema ACP's
    ``elicitation/create`` takes: primitive fields, choices as titled options."""
    properties: dict[str, Any] = {}
    for field in fields:
        low, high = _whole(field.low), _whole(field.high)
        options = [{"const": value, "title": label} for value, label in field.choices]
        kinds: dict[str, dict[str, Any]] = {
            "choice": dict(type="string", oneOf=options),
            "choices": dict(type="array", items={"anyOf": options}, minItems=low, maxItems=high),
            "string": dict(type="string", minLength=low, maxLength=high, format=field.format or None),
            "integer": dict(type="integer", minimum=low, maximum=high),
            "number": dict(type="number", minimum=field.low, maximum=field.high),
        }
        default = _whole(field.default) if field.kind == "integer" else field.default
        spec = {"title": field.label, "description": field.description or None, "default": default}
        spec |= kinds.get(field.kind, {"type": field.kind})
        properties[field.name] = {k: v for k, v in spec.items() if v is not None}
    return {"type": "object", "properties": properties, "required": [field.name for field in fields if field.required]}


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


T = TypeVar("T")
# What an editor is asked to show: a form, or an address to visit.
Modes = type[schema.ElicitationFormSessionMode | schema.ElicitationUrlSessionMode]
# Why a call did not run when the editor's answer could not be read.
UNREAD = "not run: the editor's answer to the permission request could not be read"
# Why a call was not run without asking: the user answered "reject always" earlier in this session.
NEVER = "not run: the user rejects every call of this tool in this session"


class EditorListener:
    """Hears the turns of session ``session_id`` and tells the editor; asks it what a turn asks. ``forms``: the
    editor answers ``elicitation/create`` forms (else a tool's question is declined and a graph's question waits)."""

    def __init__(self, client: Client, session_id: str, forms: bool, secrets: tuple[str, ...], links: bool):
        self.client, self.session_id, self.forms, self.links = client, session_id, forms, links
        # The user's credentials: a turn that goes on with a stored one (a call asked again, an answer that echoes the
        # thread) shows them as *** (chatcli.threads.masking), as the session's load does.
        self.secrets = secrets
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.never: set[str] = set()  # the tools "reject always" refused for the rest of the session
        self.announced: set[str] = set()  # the calls the editor was told of in this turn
        self.terminals: dict[str, str] = {}  # the calls whose command runs in an editor's terminal (its id)
        self.asking = 0  # requests to the editor waiting for its answer
        self.gone = False  # the editor closed its end: nothing asked of it can be answered now
        self.stop: Callable[[], None] = lambda: None  # stops the session's turn (set by the agent)
        self.made: Callable[[], None] = lambda: None  # a turn's question made the thread (set by the agent)
        self.ids: dict[str, str] = {}  # the message being told, by kind: its id
        self._pump = asyncio.ensure_future(self._send_all())

    # ---- the events of a turn

    def hear(self, event: events.TurnEvent) -> None:
        if isinstance(event, events.Token) and event.text:
            self.send(updates.message(masked(event.text, self.secrets), self._id("message")))
        elif isinstance(event, events.Thinking) and event.text:
            self.send(updates.thought(masked(event.text, self.secrets), self._id("thought")))
        elif isinstance(event, events.Aside) and event.text:  # a subagent's words: in the thought view, named
            kind = f"aside {event.source}"
            said = ("" if kind in self.ids else f"[{event.source}] ") + event.text  # named where its words begin
            self.send(updates.thought(masked(said, self.secrets), self._id(kind)))
        elif isinstance(event, events.Start):
            self.ids.clear()
            if event.created:
                self.made()
        elif isinstance(event, ToolCall):
            self.ids.clear()  # what the model says after its calls is a message of its own
            self._announce(event)
        elif isinstance(event, events.Progress) and event.seconds == 0:
            self.send(updates.call_running(event.call.id))
        elif isinstance(event, events.ToolResult):
            self._announce(event.call)
            terminal = self.terminals.pop(event.call.id, None)
            self.send(updates.call_ended(event.call.id, event.status, masked(event.content, self.secrets), terminal))
        elif isinstance(event, events.Notice):
            say(sys.stderr, f"chat acp: {event.text}\n")
        elif isinstance(event, events.End):
            self.announced.clear()
            self.ids.clear()

    def _id(self, kind: str) -> str:
        """The id of the message of ``kind`` ("message", "thought") being told (a new one once another began)."""
        if kind not in self.ids:
            self.ids.clear()
            self.ids[kind] = updates.new_id()
        return self.ids[kind]

    def said(self, text: str) -> None:
        """A message of chat's own (a command's line): a message of its own."""
        self.ids.clear()
        self.send(updates.message(text, updates.new_id()))

    def show_terminal(self, call_id: str, terminal_id: str) -> None:
        """Call ``call_id`` runs its command in the editor's terminal ``terminal_id``: its card shows it."""
        self.terminals[call_id] = terminal_id
        self.send(updates.call_running(call_id, terminal_id))

    def _announce(self, call: ToolCall) -> None:
        if call.id not in self.announced:
            self.announced.add(call.id)
            self.send(updates.call_started(masked(call, self.secrets)))

    def send(self, update: Any) -> None:
        """Queue ``update`` for the editor: notifications go out one at a time, in the order they were heard."""
        self.outbox.put_nowait(update)

    async def flushed(self) -> None:
        """Return once every update heard so far has been sent (before a response or a question that follows it)."""
        await self.outbox.join()

    async def _send_all(self) -> None:
        while True:
            update = await self.outbox.get()
            try:
                await self.client.session_update(session_id=self.session_id, update=update)
            except Exception as exc:  # noqa: BLE001 - an editor that went away: the turn goes on, kept
                say(sys.stderr, f"chat acp: an update was not sent: {exc}\n")
            finally:
                self.outbox.task_done()

    async def aclose(self) -> None:
        self._pump.cancel()

    async def asked(self, request: Awaitable[T]) -> T:
        """The editor's answer to ``request``, asked once every update heard so far has been sent; once the editor has
        closed its end, none can come: the session's turn stops as on a cancel (what it was asking kept in the thread:
        ``chat -t ID`` asks it again)."""
        if self.gone:
            if inspect.iscoroutine(request):
                request.close()
            self.stop()
            await asyncio.Event().wait()  # the stop arrives here
        await self.flushed()
        self.asking += 1
        try:
            return await request
        finally:
            self.asking -= 1

    def editor_gone(self) -> None:
        """The editor closed its end: a turn waiting for its answer stops now, a later question stops its turn."""
        self.gone = True
        if self.asking:
            self.stop()

    # ---- what a turn asks

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        """A permission request naming the call already announced; "reject always" refuses the tool from now on."""
        if call.name in self.never:
            return Decision("no", by=NEVER)
        self._announce(call)
        options = updates.OPTIONS if review is None else updates.ONCE_OPTIONS
        asked = updates.call_asked(masked(call, self.secrets))
        request = self.client.request_permission(session_id=self.session_id, tool_call=asked, options=options)
        try:
            response = await self.asked(request)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be read: the call does not run
            say(sys.stderr, f"chat acp: the editor's answer to a permission request could not be read: {exc!s:.200}\n")
            return Decision("no", by=UNREAD)
        outcome = response.outcome
        if not isinstance(outcome, schema.AllowedOutcome):  # the prompt was cancelled meanwhile
            return Decision("no", rest=True)
        chosen = outcome.option_id
        if chosen in (updates.ALLOW_ONCE, updates.ALLOW_ALWAYS):
            return Decision("yes", always=chosen == updates.ALLOW_ALWAYS and review is None)
        if chosen == updates.REJECT_ALWAYS:
            self.never.add(call.name)
        return Decision("no")

    async def elicit(self, question: Elicitation) -> Elicited | None:
        """A tool's question as the editor's form, its answer checked as the prompt checks it; a tool's address to
        visit (a sign-in, a payment) as ACP's URL elicitation, which the editor shows and says whether the user went
        on ("accept"), said no, or dismissed it; declined, and said why, where the editor has neither."""
        if question.url is not None and self.links:
            link = dict(tool_call_id=question.call_id or None, elicitation_id=updates.new_id(), url=question.url)
            action = (await self._elicited(question.message, **link) or {}).get("action")
            return Elicited(action) if action in ("accept", "decline", "cancel") else declined(question)
        if question.url is not None or not self.forms or not isinstance(question.schema, dict):
            return declined(question)
        try:
            form = form_of(read_fields(question.schema))
        except Unreadable as exc:
            return Elicited("decline", why=f"not asked: {exc}")
        response = await self._elicited(question.message, tool_call_id=question.call_id, requested_schema=form)
        if response is None:
            return declined(question)
        try:
            return answer_of(response, question)
        except ValueError as exc:
            return Elicited("decline", why=f"not an answer to the tool's question: {exc}")

    async def answer(self, question: Question) -> Reply | None:
        """A graph's interrupt that is no approval, as a one-field form; where the editor has no forms, said as a
        message (the session's next prompt answers it), and None: the thread waits at it."""
        shown = question.value if isinstance(question.value, str) else json.dumps(question.value, ensure_ascii=False)
        if not self.forms:
            self.said(f"the graph asks: {masked(shown, self.secrets)}\nYour next prompt answers it.")
            return None
        field = {"answer": {"type": "string", "title": "Answer"}}
        form = {"type": "object", "properties": field, "required": ["answer"]}
        response = await self._elicited(shown, tool_call_id=None, requested_schema=form)
        if response is None or response.get("action") != "accept":
            return None
        from chatcli.core.interrupts import typed_answer

        return Reply(typed_answer(str((response.get("content") or {}).get("answer", ""))))

    async def _elicited(self, message: str, **fields: Any) -> dict[str, Any] | None:
        """The editor's answer (``{"action": ..., "content": ...}``) to an ``elicitation/create``: a form with
        ``requested_schema``, else an address to visit (``fields`` checked as the schema's); None, and said why, when
        it could not be asked."""
        form = "requested_schema" in fields
        mode: Modes = schema.ElicitationFormSessionMode if form else schema.ElicitationUrlSessionMode
        failed = "the question was not asked" if form else "the address was not shown"
        try:
            asked = mode.model_validate({"session_id": self.session_id, **fields})
            response = await self.asked(self.client.create_elicitation(message=message, mode=asked))
        except Exception as exc:  # noqa: BLE001 - what the editor could not show: declined, and said why
            say(sys.stderr, f"chat acp: {failed}: {exc!s:.200}\n")
            return None
        return dict(response.model_dump(mode="json", exclude_none=True))

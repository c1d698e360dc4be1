"""One call of the tools step settled: refused, answered by the user, or run with its progress told (a
``Progress`` event each second while it runs, and one whenever the tool reports how far it got) and its
server's questions to the user asked as LangGraph interrupts (MCP elicitations); its result stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from chatcli.core.events import Emit, Notice, Progress, ToolCall, ToolResult, saying
from chatcli.core.turn import where
from chatcli.tools import builtin

if TYPE_CHECKING:
    from langchain_core.messages import ToolMessage

    from chatcli.backends.own.sampling import Model
    from chatcli.tools.hooks import Hooks, Verdict
    from chatcli.tools.toolbox import Toolbox

TICK = 1.0  # seconds between two progress events of a call that says nothing of its own
MESSAGE_CHARS = 200  # characters of a tool's progress message passed on


async def settle(
    toolbox: Toolbox,
    hooks: Hooks,
    call: dict[str, Any],
    decision: dict[str, Any],
    asked: bool,
    emit: Any,
    thread: str,
    model: "Model | None",
    entry: Any = None,
) -> ToolMessage:
    """``call``'s result (a ToolMessage), emitted as a ``ToolResult``: refused as the user's ``decision`` says
    (when it was ``asked``), or run (``hooks`` told after). Runs in a LangGraph task of its own
    (chatcli.backends.own.toolcalls); ``model`` answers its server's requests to use the model, where the user allows
    them. ``model`` None: a call of an MCP App's ``entry`` (chatcli.api.apps), run outside the graph (its server's
    questions declined), its result kept whole beside the text."""
    entry = entry or toolbox.find(call["name"], call["id"])
    edited = decision.get("args")  # the user's edit, or a hook's (chatcli.tools.hooks)
    shown = replace(shown_call(call, entry), arguments=edited) if isinstance(edited, dict) else shown_call(call, entry)
    media: list[dict[str, Any]] = []  # the result's images and audio, for the model
    view: dict[str, Any] | None = None
    extra: dict[str, Any] = {}  # what else the stored result keeps (a subagent's usage)
    if entry is None or call["args"] is None:
        known = ", ".join(e.name for e in toolbox.entries()) or "none"
        unread = f"error: {call.get('error')}; the call was not run (send it again with a JSON object)"
        text = f"error: there is no tool named {call['name']!r} (tools: {known})" if entry is None else unread
        outcome, seconds = "error", 0.0
    elif asked and decision.get("action") == "respond":  # the user answered for the tool
        text, outcome, seconds = str(decision.get("reason") or ""), "ok", 0.0
    elif asked and decision.get("action") != "yes":
        reason = decision.get("reason")
        text = decision.get("by") or "not run: the user refused this call"
        if reason:
            text += f". The user says: {reason}"
        outcome, seconds = "refused", 0.0
    else:
        arguments: Any = edited if isinstance(edited, dict) else call["args"]
        if model is None:
            emit(shown)
            done = await run_call(toolbox, entry, arguments, shown, emit)
        elif entry.group == builtin.AGENTS and entry.server == builtin.SERVER:  # a subagent answers it
            key = f"{thread}:{call['id']}"
            if key not in toolbox.delegating:  # (shown once: not again as it goes on after an approval inside it)
                emit(shown)
            toolbox.delegating.add(key)
            done = await model.delegate(call["id"], arguments, emit)
            toolbox.delegating.discard(key)
        else:
            done = await run_asking(toolbox, entry, arguments, shown, emit, f"{thread}:{call['id']}", model)
        text, outcome, seconds, extra = done.text, done.status, done.seconds, done.kept
        if done.view or model is None:  # its MCP App's: the view, and the result whole (chatcli.tools.mcp.apps)
            from chatcli.tools.mcp.apps import kept_result

            view = {"uri": done.view, "result": kept_result(done.result)}
        text, media = kept(done.media, text, thread, toolbox.kept_most)
        if arguments is not call["args"]:  # the model must know what ran, not what it asked for
            who = decision.get("edited") or "the user"
            text = f"({who} edited the arguments before it ran: {json.dumps(arguments, ensure_ascii=False)})\n{text}"
        after = "PostToolUse" if outcome == "ok" else "PostToolUseFailure"
        result = {"tool_response": text} if outcome == "ok" else {"error": text, "is_interrupt": outcome == "cancelled"}
        said = await hooked(toolbox, hooks, thread, emit)(after, entry, {**call, "args": arguments}, **result)
        if said.context or said.blocked:  # what the hooks tell the model of the result
            text += "".join(f"\n\n[{after} hook: {line}]" for line in (*said.context, said.reason) if line)
    seconds = round(seconds, 3)
    meta = dict(server=shown.server, seconds=seconds, label=shown.label, arguments=shown.arguments, view=view)
    message = result_message(call, text, outcome, media, **(meta | extra))
    emit(ToolResult(shown, outcome, text, seconds, message))
    return message


def hooked(toolbox: Toolbox, hooks: Hooks, thread: str, emit: Any) -> Callable[..., Awaitable[Verdict]]:
    """``fire(event, entry, call, **more)``: what the session's hooks of ``event`` say of ``call`` (its ``id`` and
    ``args``) of ``entry``'s tool, each failure and message told as a ``Notice``; a built-in tool's input in the
    shape of Claude Code's tool of its kind, a hook's rewrite of it read back as chat's."""

    async def fire(event: str, entry: Any, call: dict[str, Any], **more: Any) -> Verdict:
        own = entry.server == builtin.SERVER
        shaped = builtin.peer_input(entry.name, call["args"], toolbox.host.workdir) if own else call["args"]
        fields = {"tool_name": entry.hook_name, "tool_input": shaped, "tool_use_id": call["id"], **more}
        said = await hooks.fire(event, fields, session_id=thread, say=saying(emit))
        if own and said.updated_input is not None:  # a hook written for Claude Code rewrites its shape: chat's tool's
            said = replace(said, updated_input=builtin.own_input(entry.name, shaped, dict(said.updated_input)))
        return said

    return fire


async def run_asking(
    toolbox: Toolbox, entry: Any, arguments: dict[str, Any], shown: ToolCall, emit: Emit, key: str, model: Model
) -> Any:
    """Run the call (or go on with the one kept under ``key``, whose server waits for an answer), each question
    its server asks the user an ``interrupt()``: the answer given before when the step runs again (the call
    kept, or run anew after chat stopped), else the run stops there and the call is kept waiting for it
    (chatcli.tools.asking). A request to use the model is such a question first, then ``model``'s answer."""
    from langgraph.errors import GraphInterrupt

    from chatcli.backends.own.sampling import is_request
    from chatcli.tools.asking import MAX_QUESTIONS, SAMPLING
    from chatcli.tools.results import Outcome

    started = asyncio.get_running_loop().time()
    kept, fresh = toolbox.kept.take(key, lambda ask, tell: run_call(toolbox, entry, arguments, shown, tell, ask))
    kept.tell = emit
    if fresh:
        emit(shown)
    number = 0
    try:
        while (params := await kept.question(number)) is not None:
            if number >= MAX_QUESTIONS:  # a server that asks on and on (each decline answered by another)
                toolbox.kept.drop(key)  # the call is stopped, at its server too
                text = f"error: the tool asked more than {MAX_QUESTIONS} questions in one call and was stopped"
                return Outcome(text, "error", asyncio.get_running_loop().time() - started)
            if is_request(params):  # given once: a request answered before is not sent to the model again
                answer = await _sampled(params[SAMPLING], shown, emit, model, number >= len(kept.answers))
            else:
                answer = _answered(params, shown, emit)
            kept.give(number, answer)
            number += 1
        done = await asyncio.shield(kept.task)
    except GraphInterrupt:
        toolbox.kept.waiting(key)
        raise
    except BaseException:
        toolbox.kept.drop(key)
        raise
    toolbox.kept.drop(key)
    return done


def _answered(params: dict[str, Any], shown: ToolCall, emit: Emit) -> dict[str, Any]:
    """The answer to the server's question ``params`` (its ``elicitation/create``): the interrupt's value."""
    from langgraph.types import interrupt

    from chatcli.core.elicitation import Elicitation, Unreadable, answer_of

    try:
        question = Elicitation.asked(params, shown.id, shown.label, shown.server)
    except Exception as exc:  # noqa: BLE001 - whatever a server sends, its call goes on
        why = str(exc) if isinstance(exc, Unreadable) else "it is not a question of the MCP schema"
        emit(Notice(f"{shown.label} asked a question chat cannot ask ({why}): declined", warn=True))
        return {"action": "decline"}
    reply = interrupt(question.value())
    answered = reply.get("question") if isinstance(reply, dict) else None
    if answered is not None and answered != question.fingerprint:  # run anew, the call asked something else
        emit(Notice(f"{shown.label} asked another question than the one answered: cancelled", warn=True))
        return {"action": "cancel"}
    try:
        return answer_of(reply, question).record()
    except ValueError:  # an answer that does not fit (a question that changed since): nothing is sent for it
        return {"action": "cancel"}


async def _sampled(params: Any, shown: ToolCall, emit: Emit, model: Model, fresh: bool) -> dict[str, Any]:
    """The answer to the server's request to use the model: asked of the user (an ``interrupt()``, as a question
    is), then, if they allow it and it was not answered before (``fresh``), the model's."""
    from chatcli.backends.own.sampling import Sampling, Unreadable, refused

    try:
        request = Sampling.read(params)
    except Unreadable as exc:
        emit(Notice(f"{shown.label} asked the model something chat cannot send ({exc}): declined", warn=True))
        return refused(f"chat cannot send it to its model: {exc}")
    allowed = _answered(request.question(shown.server, model.name), shown, emit)
    if allowed.get("action") != "accept":
        return refused(f"the user {'declined' if allowed.get('action') == 'decline' else 'cancelled'} the request")
    return await model.answer(request, emit) if fresh else {}


async def run_call(
    toolbox: Toolbox, entry: Any, arguments: dict[str, Any], shown: ToolCall, emit: Emit, ask: Any = None
) -> Any:
    """``toolbox.call`` for ``entry``, emitting ``Progress`` for ``shown`` until it ends (however it ends);
    ``ask`` answers its server's questions to the user."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    told: dict[str, Any] = {"done": None, "total": None, "message": None}  # what the tool said last
    heard = asyncio.Event()

    def reported(done: float | None, total: float | None, message: str | None) -> None:
        # Heard in the MCP session's own task: the event is emitted from the ticker's, in the turn's context.
        text = " ".join(message.split())[:MESSAGE_CHARS] if isinstance(message, str) else None
        told.update(done=done, total=total, message=text or None)
        heard.set()

    async def ticking() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), TICK)
            heard.clear()
            emit(Progress(shown, loop.time() - started, told["done"], told["total"], told["message"]))

    ticker = asyncio.create_task(ticking())
    try:
        return await toolbox.call(entry, arguments, shown.id, progress=reported, ask=ask)
    finally:
        ticker.cancel()


def shown_call(call: dict[str, Any], entry: Any) -> ToolCall:
    """A call as the approval question and the display show it."""
    label, server = (entry.label, entry.server) if entry is not None else (call["name"], None)
    arguments = call["args"] if call["args"] is not None else call.get("raw")
    return ToolCall(call["id"], call["name"], label, server, arguments, where(call["name"], entry))


def kept(media: list[dict[str, Any]], text: str, thread: str, most: int) -> tuple[str, list[dict[str, Any]]]:
    """A result's binary parts written under the thread (chatcli.tools.kept_files), each one's line in ``text``
    saying where, and a line for the oldest files removed to keep ``most``; and its images and audio as the model
    may be sent them (``{"type", "base64", "mime_type"}``)."""
    from chatcli.paths import shown_path
    from chatcli.tools.kept_files import keep, trim
    from chatcli.tools.results import MEDIA

    sent = []
    for part in media:
        path = keep(part, thread)
        named = str(part.get("named") or "")
        if named.endswith("]") and named in text:
            told = f", kept as {shown_path(path)}]" if path is not None else ", not kept: it could not be written]"
            text = text.replace(named, named[:-1] + told, 1)
        if part.get("type") in MEDIA:
            sent.append({"type": part["type"], "base64": part["base64"], "mime_type": part.get("mime_type") or ""})
    if media and (gone := trim(most)):
        text += f"\n[the oldest {gone} kept file{'s' * (gone > 1)} removed: max_kept_files is {most}]"
    return text, sent


def result_message(
    call: dict[str, Any], text: str, outcome: str, media: list[dict[str, Any]] | None = None, **meta: Any
) -> ToolMessage:
    """The stored result of ``call``: the whole text, how it ended, what else is known, and its images and audio
    (``MEDIA_KEY``: sent to a model that takes them, chatcli.backends.own.request_history.with_media)."""
    from langchain_core.messages import ToolMessage

    from chatcli.backends.own.request_history import MEDIA_KEY, now_iso

    known = {k: v for k, v in meta.items() if v is not None}
    return ToolMessage(
        text,
        tool_call_id=call["id"],
        name=call.get("name") or "",
        status="success" if outcome == "ok" else "error",
        additional_kwargs={MEDIA_KEY: media} if media else {},
        response_metadata={"created_at": now_iso(), "outcome": outcome, **known},
    )

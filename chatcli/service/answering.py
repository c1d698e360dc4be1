"""Answering what a thread waits on from outside it (``chat inbox answer``; any door that offers the inbox): which
thread, whether it can be answered now, with which tools and where it goes on, decided here once. The door says how
the answers are given (typed on its command line, asked in its terminal); the thread then goes on as a background
reply (chatcli.service.jobs), its answers on that reply's private stdin. What a background reply asked goes on as that
reply was started (its environment, flags and set-up, as its job recorded them), whichever door answers it: ``chat
inbox answer``, the prompt that opens its thread, ``chat serve``'s approvals request (the page's)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from chatcli.core.events import End, Notice, Token, ToolCall, ToolResult, TurnResult
from chatcli.errors import ChatError, ExitStatus, NoThread, UsageError

if TYPE_CHECKING:
    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.config import Settings
    from chatcli.core.events import Listener
    from chatcli.core.interrupts import Pending
    from chatcli.service.chat import Chat
    from chatcli.service.inbox import Answers
    from chatcli.service.jobs import Job, JobSpec
    from chatcli.service.thread import Thread
    from chatcli.store.base import Place

# Looks (each 0.05 s) at a background reply of the thread to be answered while the thread waits at a question: one
# that has just put its question in the inbox is ending; one still running after 3 s is answering it already.
ENDING = 60
# What of the set-up of the background reply that asked shapes the reply that goes on (not its question's: its
# files, its piped text, where in its thread it began).
KEPT = ("system", "variables", "role", "model", "temperature", "graph", "remote", "assistant")


@dataclass(frozen=True)
class Asked:
    """The background reply that asked what a thread waits on, as it was started: its job, its environment and its
    spec (its flags and its thread's set-up)."""

    job: Job
    environ: dict[str, str]
    spec: JobSpec


@dataclass(frozen=True)
class Going:
    """A thread to go on with: its answers, the built-in tools its calls name, where it was asked, and the Agent
    Server that keeps it (None: chat's database does)."""

    thread_id: str
    title: str
    answers: Answers | None  # None: its last question answered again (chat attach --go-on)
    tools: tuple[str, ...]
    cwd: Path
    server: RemoteSpec | None = None
    asked: Asked | None = None  # the background reply that asked it: it goes on as that one was started


Answering = Callable[["list[Pending]", bool], Awaitable["Answers | None"]]


async def prepare(
    chat: Chat, ref: str, environ: Mapping[str, str], here: Path, listener: Listener, answering: Answering
) -> Going | None:
    """The thread ``ref`` names, what it waits on answered by ``answering(pending, own)`` (None back: the user left,
    the thread still waits), checked to fit, before anything is started: a thread that waits on nothing, one a
    background reply answers already, an answer that does not fit are one line each, and the thread still waits.
    ``here``: where a thread made before places were kept goes on."""
    from chatcli.service import jobs
    from chatcli.service.answerer import Answerer
    from chatcli.service.chat import Chat

    server = await chat.kept_on(ref) if chat.answerer.remote is None else None
    if server is None:
        return await _prepare(chat, ref, environ, here, listener, answering)
    jobs.askable(server.url, listeners=False)  # (it goes on as a background reply; a listener: refused just below)
    async with Chat(chat.settings, Answerer(remote=server), chat.listener, chat.environ) as there:
        try:
            return await _prepare(there, ref, environ, here, listener, answering)  # through the server that keeps it
        except NoThread:  # the server has it no more (deleted there): nothing waits on it
            from chatcli.store.light import open_light_store

            async with open_light_store(chat.settings.db or "") as store:
                await store.index.waits(ref, [])
            raise


async def _prepare(
    chat: Chat, ref: str, environ: Mapping[str, str], here: Path, listener: Listener, answering: Answering
) -> Going | None:
    opening = await chat.find(ref, exists=True)
    thread = await chat.thread(opening, listener=listener)
    title = opening.info.title if opening.info is not None and opening.info.title else ""
    return await _going(thread, title, environ, here, answering, chat.answerer.remote)


async def _going(
    thread: Thread,
    title: str,
    environ: Mapping[str, str],
    here: Path,
    answering: Answering,
    server: RemoteSpec | None = None,
    asked: Asked | None = None,
) -> Going | None:
    from chatcli.service import jobs
    from chatcli.service.outcome import waits_on

    pending = await thread.waiting()
    for _ in range(ENDING if pending else 1):  # a reply is in the inbox as it asks: at the question, it is ending
        busy = [job for job in jobs.running(environ) if job.thread == thread.thread_id]
        if not busy:
            break
        await asyncio.sleep(0.05)
    else:
        raise UsageError(
            f"thread {thread.thread_id} is being answered already, by background reply {busy[0].id}",
            hint=f"chat attach {busy[0].id} follows it",
        )
    pending = pending or await waits_on(thread)
    answers = await answering(pending, thread.can.prompt)
    if answers is None:
        return None
    answers.check(pending)
    if server is not None:  # a server's graph: its own tools, run where the server is
        return Going(thread.thread_id, title, answers, (), here, server)
    asked = asked or asked_by(thread, pending, environ)
    place = (await thread.store.index.places()).get(thread.thread_id) if thread.store is not None else None
    tools = () if asked is not None and asked.spec.setup.get("remote") else _tools_of(pending)
    return Going(thread.thread_id, title, answers, tools, _where(place, thread.thread_id, here), asked=asked)


def asked_by(thread: Thread, pending: list[Pending], environ: Mapping[str, str]) -> Asked | None:
    """The background reply whose question ``pending`` is (the newest of the thread's jobs, its events naming those
    calls or questions), as it was started; None when no background reply asked it, or when how it was started cannot
    be read (an older chat's job): said in one line to the thread's listener, and the door goes on as before."""
    from chatcli.service import jobs

    ids = {call.id for item in pending for call in item.calls} | {item.id for item in pending if item.id}
    mine = (j for j in jobs.jobs(environ) if (j.thread or jobs.seen(j, environ).thread) == thread.thread_id)
    if not ids or (job := next(mine, None)) is None:
        return None
    named: set[Any] = set()
    for event in jobs.events(job, environ)[0]:
        waited = [*(event.get("approval_required") or ()), *(event.get("interrupts") or ())]
        named |= {event.get("id"), *(item.get("id") for item in waited if isinstance(item, dict))}
    return started(job, environ, lambda line: thread.listener.hear(Notice(line))) if named & ids else None


def started(job: Job, environ: Mapping[str, str], note: Callable[[str], None]) -> Asked | None:
    """``job`` as it was started, for what goes on from it; None when that cannot be read (an older chat's job, a
    record not the user's alone): ``note`` says so in one line, and it goes on with this run's."""
    from chatcli.service import jobs

    try:
        return Asked(job, *jobs.started_as(job, environ))
    except (OSError, ValueError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        note(f"how background reply {job.id} was started is not at hand ({why}): it goes on with this run's "
             "environment and settings")  # fmt: skip
        return None


async def as_asked(
    thread: Thread, pending: list[Pending], environ: Mapping[str, str], answers: Answers | None = None
) -> TurnResult | None:
    """What ``thread`` waits on (``pending``), if a background reply asked it (``asked_by``; else None), answered by
    ``answers`` (None: asked as the thread's listener asks, ``ask``) and gone on as that reply was started
    (``going_on``), told to the thread's listener as its own answer (``relayed``; nothing when the user left), for a
    door that would otherwise go on in its own process: chat serve's approvals request, ``--resume``, an editor."""
    if (asked := asked_by(thread, pending, environ)) is None:
        return None

    async def given(found: list[Pending], own: bool) -> Answers | None:
        return answers if answers is not None else await ask(thread.listener, found, own)

    if (job := await going_on(thread, asked, environ, given)) is None:
        return TurnResult("")
    thread.listener.hear(Notice(f"background reply {asked.job.id}'s question goes on as asked: job {job.id}"))
    return await relayed(job, thread.listener, environ)


async def resumed(thread: Thread, value: Any, environ: Mapping[str, str]) -> TurnResult:
    """``value`` the answer to what ``thread`` waits on first (``chat -t ID --resume VALUE``, an editor's prompt that
    answers a graph's question): gone on as the background reply that asked it was started (``as_asked``), else
    here (chatcli.service.thread.Thread.resume)."""
    from chatcli.service.inbox import Answers
    from chatcli.service.outcome import waits_on

    pending = await waits_on(thread)
    told = await as_asked(thread, pending, environ, Answers({}, {pending[0].id or "": value}))
    return told if told is not None else await thread.resume(value)


async def relayed(job: Job, listener: Listener, environ: Mapping[str, str]) -> TurnResult:
    """A background reply's events, from its first to its end, told to ``listener`` as its own turn's: ``--json`` and
    ``--jsonl`` (chat serve's request and event stream) as they are (its last, the final object), another its text,
    calls and results (``_heard``); its text back. One that failed, or ended without an end, raises its error (its exit
    code)."""
    from chatcli.service import jobs
    from chatcli.service.json_events import JsonEvents

    as_json = listener if isinstance(listener, JsonEvents) else None
    events, end, text = jobs.follow(job, environ), None, ""
    while (event := await asyncio.to_thread(next, events, None)) is not None:
        text += str(event.get("text") or "") if event.get("type") == "token" else ""
        if event.get("type") in ("done", "error"):
            end = event
            if as_json is not None:
                as_json._final(event if as_json.lines else {k: v for k, v in event.items() if k != "type"})
        elif as_json is not None and as_json.lines:
            as_json._write(event)
        elif as_json is None and (heard := _heard(event)) is not None:
            listener.hear(heard)
    if as_json is None:
        listener.hear(End(TurnResult("")))  # (the text shown whole)
    if end is None:
        shown = f"chat jobs lists it as interrupted; chat attach {job.id} shows what it said"
        raise ChatError(f"background reply {job.id}, which this answer went on as, ended without an answer ({shown})")
    if end["type"] == "error":  # its object told already: its exit code is this door's
        error: dict[str, Any] = end.get("error") or {}
        failure = ChatError(str(error.get("message")))
        with contextlib.suppress(ValueError):
            failure.exit_status = ExitStatus(error.get("exit_code", ExitStatus.ERROR))
        raise failure
    return TurnResult(text)


def _heard(event: dict[str, Any]) -> Token | ToolCall | ToolResult | None:
    """A background reply's ``--jsonl`` event as a turn's listener hears it: its text, its calls and their results."""
    if event.get("type") == "token":
        return Token(str(event.get("text") or ""))
    id_, name, label = (str(event.get(k) or "") for k in ("id", "name", "label"))
    call = ToolCall(id_, name, label, event.get("server"), event.get("arguments"))
    if event.get("type") == "tool_result":
        said = str(event.get("content") or "")
        return ToolResult(call, str(event.get("status")), said, float(event.get("seconds") or 0))
    return call if event.get("type") == "tool_call" else None


async def going_on(thread: Thread, asked: Asked, environ: Mapping[str, str], answering: Answering) -> Job | None:
    """What ``asked`` left ``thread`` waiting on, answered by ``answering`` and checked as ``prepare`` checks it, then
    the thread going on as that reply was started (``go_on``); None when the user left (the thread still waits)."""
    title = asked.job.question.removeprefix("(answered) ")
    going = await _going(thread, title, environ, Path(asked.job.cwd), answering, asked=asked)
    return go_on(going, thread.settings, environ) if going is not None else None


async def ask(listener: Listener, pending: list[Pending], own: bool) -> Answers | None:
    """What a thread waits on (``pending``), asked as ``listener`` asks it at the prompt (the same keys: yes, no,
    always, edit, a reason; a form's fields; ``own``: chat's own calls, asked without a review); None when the user
    leaves (Ctrl-C, or a call left for later)."""
    from chatcli.service.inbox import Answers

    decisions: dict[str, dict[str, Any]] = {}
    answers: dict[str, Any] = {}
    try:
        for item in pending:
            if item.elicitation is not None:
                elicited = await listener.elicit(item.elicitation)
                if elicited is None:
                    return None
                answers[item.id or ""] = elicited.record()
            elif not item.is_approval:
                reply = await listener.answer(item.question())
                if reply is None:
                    return None
                answers[item.id or ""] = reply.value
            for call, review in zip(item.calls, item.reviews):
                decision = await listener.approve(call, *(() if own else (review,)))
                if decision.action == "later":
                    return None
                action = decision.action if decision.action in ("yes", "respond") else "no"  # (respond: typed)
                decided: dict[str, Any] = {"action": action, "always": decision.always}
                decided.update({k: v for k, v in (("args", decision.args), ("reason", decision.reason)) if v})
                decisions[call.id] = decided
    except KeyboardInterrupt:
        return None
    return Answers(decisions, answers)


def _where(place: Place | None, thread_id: str, here: Path) -> Path:
    """Where the thread goes on: the directory it was asked in (its calls run there, whoever answers from where);
    ``here`` for a thread made before places were kept. Gone: one line."""
    if place is None:
        return here
    where = Path(place.cwd)
    if not where.is_dir():
        raise UsageError(
            f"thread {thread_id} was asked in {where}, which is gone: its calls have nowhere to run",
            hint=f"chat -t {thread_id} answers it at the prompt, here",
        )
    return where


def _tools_of(pending: list[Pending]) -> tuple[str, ...]:
    """The built-in tools (their groups) the calls waiting for approval name: turned on for the reply that goes on,
    as they were for the one that asked."""
    from chatcli.tools.builtin import GROUPS, SERVER

    named = {call.name for item in pending for call in item.calls if call.server in (None, SERVER)}
    return tuple(group for group, names in GROUPS.items() if named & set(names))


def go_on(going: Going, settings: Settings, environ: Mapping[str, str]) -> Job:
    """The thread goes on with its answers in the background, as a job, in the directory it was asked in, with the
    built-in tools its calls name, its answers in the job's spec (which only the user may read): as the background
    reply that asked was started (its environment, flags and set-up), on the database this run found it in; else with
    the bounds, database and environment of this run."""
    from chatcli.service import jobs

    server, asked = going.server, going.asked
    overrides, setup = jobs.bounds(settings, tools=False), {}
    if asked is not None:
        overrides = asked.spec.overrides | ({"db": settings.db} if settings.db else {})
        setup, environ = {k: v for k, v in asked.spec.setup.items() if k in KEPT}, asked.environ
    if tools := [*dict.fromkeys([*(overrides.get("tools") or ()), *going.tools])]:
        overrides = {**overrides, "tools": tools}
    setup |= {"remote": server.url, "assistant": server.assistant} if server else {}
    setup |= {"again": True} if going.answers is None else {}
    spec = jobs.JobSpec(going.thread_id, overrides=overrides, answers=going.answers, setup=setup)
    shown = going.title if going.answers is None else f"(answered) {going.title}"
    return jobs.start(spec, environ, going.cwd, shown, most=settings.max_jobs)

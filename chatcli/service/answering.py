"""Answering what a thread waits on from outside it (``chat inbox answer``; any door that offers the inbox): which
thread, whether it can be answered now, with which tools and where it goes on, decided here once. The door says how
the answers are given (typed on its command line, asked in its terminal); the thread then goes on as a background
reply (chatcli.service.jobs), its answers on that reply's private stdin."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping

from chatcli.errors import NoThread, UsageError

if TYPE_CHECKING:
    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.config import Settings
    from chatcli.core.events import Listener
    from chatcli.core.interrupts import Pending
    from chatcli.service.chat import Chat
    from chatcli.service.inbox import Answers
    from chatcli.service.jobs import Job
    from chatcli.store.base import Place

# Looks (each 0.05 s) at a background reply of the thread to be answered while the thread waits at a question: one
# that has just put its question in the inbox is ending; one still running after 3 s is answering it already.
ENDING = 60


@dataclass(frozen=True)
class Going:
    """A thread to go on with: its answers, the built-in tools its calls name, where it was asked, and the Agent
    Server that keeps it (None: chat's database does)."""

    thread_id: str
    title: str
    answers: Answers
    tools: tuple[str, ...]
    cwd: Path
    server: RemoteSpec | None = None


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
    from chatcli.service import jobs
    from chatcli.service.outcome import waits_on

    opening = await chat.find(ref, exists=True)
    thread = await chat.thread(opening, listener=listener)
    pending = await thread.waiting()
    for _ in range(ENDING if pending else 1):  # a reply is in the inbox as it asks: at the question, it is ending
        busy = [job for job in jobs.running(environ) if job.thread == opening.thread_id]
        if not busy:
            break
        await asyncio.sleep(0.05)
    else:
        raise UsageError(
            f"thread {opening.thread_id} is being answered already, by background reply {busy[0].id}",
            hint=f"chat attach {busy[0].id} follows it",
        )
    pending = pending or await waits_on(thread)
    answers = await answering(pending, thread.can.prompt)
    if answers is None:
        return None
    answers.check(pending)
    place = (await thread.store.index.places()).get(opening.thread_id) if thread.store is not None else None
    title = opening.info.title if opening.info is not None and opening.info.title else ""
    if (server := chat.answerer.remote) is not None:  # a server's graph: its own tools, run where the server is
        return Going(opening.thread_id, title, answers, (), here, server)
    return Going(opening.thread_id, title, answers, _tools_of(pending), _where(place, opening.thread_id, here))


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
    built-in tools its calls name and the bounds and database of this run, its answers in the job's spec (which only
    the user may read)."""
    from chatcli.service import jobs

    server = going.server
    overrides = jobs.bounds(settings, tools=False) | ({"tools": list(going.tools)} if going.tools else {})
    where = {"remote": server.url, "assistant": server.assistant} if server else {}
    spec = jobs.JobSpec(going.thread_id, overrides=overrides, answers=going.answers, setup=where)
    return jobs.start(spec, environ, going.cwd, f"(answered) {going.title}", most=settings.max_jobs)

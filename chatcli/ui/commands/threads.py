"""Slash commands about threads: start, list, switch, title, show and export them, and go on in another."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.core.inputs import check_thread_id
from chatcli.errors import UsageError
from chatcli.text import counted
from chatcli.threads.operations import export_text
from chatcli.ui.listing import print_threads, print_transcript
from chatcli.ui.registry import MAX_LISTED, Context

if TYPE_CHECKING:
    from chatcli.service.opening import Opening
    from chatcli.service.thread import Thread


async def switched(ctx: Context, opening: Opening, what: str) -> None:
    """Go on with the thread ``opening`` names (as ``Chat.find`` decided it), saying so: another handle from the chat,
    so nothing told the thread left for its next message (a role, a system prompt) comes along; --temperature does,
    being the run's."""
    from chatcli.core.binding import resume_template

    left = ctx.thread
    thread = ctx.conversation = await ctx.service.thread(opening, listener=left.listener)
    if left.model.temperature_pinned:
        thread.model = replace(thread.model, temperature=None, temperature_pinned=True)
    again = resume_template(thread.backend.binding, ctx.settings.db or "").format(id=thread.thread_id)
    ctx.output.note(f"{what} · thread {thread.thread_id} · resume with: {again}")


async def go_on_waiting_here(ctx: Context, thread: Thread) -> None:
    """A thread opened at the prompt that waits on the user: what a background reply asked is asked here, then goes on
    in the background as that reply was started (its environment, flags, directory: chatcli.service.answering), said
    here when it ends; anything else goes on here (chatcli.service.waiting)."""
    import functools

    from chatcli.service.answering import ask, asked_by, going_on
    from chatcli.service.waiting import go_on_waiting

    if (asked := asked_by(thread, await thread.waiting(), ctx.environ)) is None:
        await go_on_waiting(thread)
        return
    ctx.output.note(f"this thread waits for your answer to background reply {asked.job.id}'s question")
    if (job := await going_on(thread, asked, ctx.environ, functools.partial(ask, thread.listener))) is None:
        ctx.output.note("left it waiting: chat inbox lists it")
        return
    ctx.started.append(job)
    ctx.output.note(f"it goes on in the background as it was asked, as job {job.id}: said here when it ends")


async def _new(ctx: Context, arg: str) -> None:
    if arg and await ctx.service.threads().info(check_thread_id(arg)) is not None:
        raise UsageError(f"thread {arg} already exists", hint=f"/switch {arg} continues it")
    await switched(ctx, await ctx.service.find(new=arg or None), "new thread")


async def _threads(ctx: Context, arg: str) -> None:
    if arg and not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= MAX_LISTED):
        raise UsageError(f"/threads takes a number from 1 to {MAX_LISTED:,}, got {arg[:40]!r}")
    if not (rows := await ctx.service.threads().list(int(arg or 20))):
        ctx.output.note("no threads yet: your first message starts one")
        return
    print_threads(rows, ctx.out)
    ctx.output.note(f"you are on thread {ctx.thread.thread_id}")


async def _switch(ctx: Context, arg: str) -> None:
    if not arg:
        raise UsageError("/switch needs a thread id", hint="/threads lists them; Tab completes them")
    thread_id = check_thread_id(arg)
    if thread_id == ctx.thread.thread_id:
        ctx.output.note(f"already on thread {thread_id}")
        return
    # A unique start of a generated id finds it; one a character off is refused, naming it; /new NAME starts it.
    opening = await ctx.service.find(thread_id, start_new=f"/new {thread_id}")
    info = opening.info
    if info is not None and info.thread_id == ctx.thread.thread_id:
        ctx.output.note(f"already on thread {info.thread_id}")
        return
    await switched(ctx, opening, "new thread (no thread had that id)" if info is None else "switched")
    if info is not None:
        size = counted(info.message_count, "message")
        ctx.output.note(f"{info.title or '(untitled)'} · {size} · /history shows them")
        await go_on_waiting_here(ctx, ctx.thread)


async def _history(ctx: Context, arg: str) -> None:
    if not await ctx.thread.messages():
        ctx.output.note("this thread is empty")
        return
    print_transcript(await ctx.service.threads().shown(ctx.thread.thread_id), ctx.out)


async def _export(ctx: Context, arg: str) -> None:
    words = arg.split(maxsplit=1)
    fmt = words.pop(0) if words and words[0] in ("md", "json") else "md"
    if not await ctx.thread.messages():
        raise UsageError("nothing to export: this thread is empty")
    text = await export_text(ctx.service.threads(), ctx.thread.thread_id, fmt)
    if not words:  # no FILE: printed
        ctx.print(text.rstrip("\n"))
        return
    ctx.output.note(f"wrote {write_private(words[0], text)}")


def write_private(file: str, text: str) -> Path:
    """Write ``text`` to a new file readable by the user only; never overwrite."""
    path = Path(file).expanduser()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists", hint="choose another file name") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS = {"/new": _new, "/threads": _threads, "/switch": _switch, "/history": _history, "/export": _export}

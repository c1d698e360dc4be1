"""Slash commands at the prompt: the handlers, registered with ``@command`` (chatcli.ui.registry).

Handlers take a ``Context`` (the conversation, the output, the settings, where listings go)
and the text after the command name; they raise ``UsageError`` for anything the user should
fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chatcli.ui.reply import render_reply, resume_pending
from chatcli.ui.registry import LEAVE, MAX_LISTED, Context, command
# What the prompt and the tests take from here, as they did before the registry had its own module.
from chatcli.ui.registry import commands, execute, help_text, is_command, literal, resolve, run_command  # noqa: F401
from chatcli.errors import UsageError
from chatcli.text import make_title
from chatcli.chat.threads import transcript_markdown, turns_of
from chatcli.ui.listing import print_threads, print_transcript
from chatcli.chat.inputs import check_thread_id, new_thread_id


def _switched(ctx: Context, thread_id: str, what: str) -> None:
    ctx.conversation.switch(thread_id)
    ctx.output.note(f"{what} · thread {thread_id} · resume with: chat --thread {thread_id}")


# ---------------------------------------------------------------------------------- commands


@command("/help", help="list the commands", needs_thread=False)
async def _help(ctx: Context, arg: str) -> None:
    ctx.print(help_text())


@command("/new", help="start a new thread")
async def _new(ctx: Context, arg: str) -> None:
    _switched(ctx, new_thread_id(), "new thread")


@command("/threads", args="[N]", help="list the N most recent threads (default 20)")
async def _threads(ctx: Context, arg: str) -> None:
    if arg and not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= MAX_LISTED):
        raise UsageError(f"/threads takes a number from 1 to {MAX_LISTED:,}, got {arg[:40]!r}")
    rows = await ctx.threads().list(int(arg or 20))
    if not rows:
        ctx.output.note("no threads yet")
        return
    print_threads(rows, ctx.out)
    ctx.output.note(f"you are on thread {ctx.conversation.thread_id}")


@command("/switch", args="ID", help="continue another thread (a new id starts a thread)", complete="threads")
async def _switch(ctx: Context, arg: str) -> None:
    if not arg:
        raise UsageError("/switch needs a thread id", hint="/threads lists them; Tab completes them")
    thread_id = check_thread_id(arg)
    if thread_id == ctx.conversation.thread_id:
        ctx.output.note(f"already on thread {thread_id}")
        return
    info = await ctx.threads().info(thread_id)
    _switched(ctx, thread_id, "new thread (no thread had that id)" if info is None else "switched")
    if info is not None:
        ctx.output.note(f"{info.title or '(untitled)'} · {info.message_count} messages · /history shows them")
        await resume_pending(ctx.conversation, ctx.output, ctx.settings)


@command("/edit", args="[TEXT]", help="write your next message in $VISUAL or $EDITOR (as Ctrl-X Ctrl-E does)", needs_thread=False)
async def _edit(ctx: Context, arg: str) -> None:
    import asyncio

    from chatcli.ui.editor import edit_text

    text = await asyncio.to_thread(edit_text, arg)
    if not text.strip():
        ctx.output.note("the editor saved nothing: no message")
        return
    if ctx.prefill is not None:
        ctx.prefill(text)
    ctx.output.note("your message is at the prompt: Enter sends it")


@command("/copy", args="[N]", help="copy the last answer, or its N-th code block, to the clipboard")
async def _copy(ctx: Context, arg: str) -> None:
    from chatcli.ui.clipboard import code_blocks, copy

    answers = [m for m in await ctx.conversation.messages() if m.type == "ai" and str(m.text).strip()]
    if not answers:
        raise UsageError("nothing to copy: no answer yet in this thread")
    text, what = str(answers[-1].text), "the last answer"
    if arg:
        blocks = code_blocks(text)
        if not arg.isdigit() or not 1 <= int(arg) <= len(blocks):
            raise UsageError(f"/copy N takes a code block number: the last answer has {len(blocks) or 'no'} code block{'' if len(blocks) == 1 else 's'}")
        text, what = blocks[int(arg) - 1], f"code block {arg} of {len(blocks)}"
    ways = copy(text, ctx.out if ctx.out.isatty() else None)
    if not ways:
        raise UsageError("no clipboard to copy to here: not a terminal, and no wl-copy, xclip, xsel or pbcopy")
    size = f"{len(text.splitlines())} lines" if "\n" in text else f"{len(text)} characters"
    ctx.output.note(f"copied {what} ({size}) with {' and '.join(ways)}")


@command("/role", args="[NAME]", help="set this thread up with a role (its prompt, model, temperature); alone: show the role")
async def _role(ctx: Context, arg: str) -> None:
    from pathlib import Path

    from chatcli.chat.roles import load_role, role_names

    if not arg:
        current = await ctx.conversation.role()
        ctx.print(current or "(no role)")
        known = ", ".join(role_names(Path(ctx.settings.roles_dir or ""))) or "none yet"
        ctx.output.note(f"roles: {known} · /role NAME sets one")
        return
    role = load_role(Path(ctx.settings.roles_dir or ""), arg)
    await ctx.conversation.set_role(role)
    extra = "".join(f" · {k} {v}" for k, v in (("model", role.model), ("temperature", role.temperature)) if v is not None)
    ctx.output.note(f"role {role.name} from the next message{extra}")


@command("/attach", args="[FILE]", help="send FILE (an image or a text file) with your next message; alone: list and clear the queue")
async def _attach(ctx: Context, arg: str) -> None:
    from chatcli.chat.attachments import read_attachment

    conversation = ctx.conversation
    if arg:
        item = read_attachment(arg)
        conversation.attached.append(item)
        ctx.output.note(f"attached: {item.line} · sent with your next message")
        return
    if not conversation.attached:
        ctx.output.note("nothing attached (/attach FILE queues a file for your next message)")
        return
    for item in conversation.attached:
        ctx.print(item.line)
    conversation.attached = []
    ctx.output.note("the queue is cleared: nothing will be sent with your next message")


@command("/think", args="[on|off]", help="show the last answer's thinking in full; on/off: show thinking in full as it comes", complete=("on", "off"))
async def _think(ctx: Context, arg: str) -> None:
    from chatcli.chat.thinking import REASONING_KEY

    if arg:
        if arg not in ("on", "off"):
            raise UsageError("/think takes on, off, or nothing")
        if hasattr(ctx.output, "show_thinking"):
            ctx.output.show_thinking = arg == "on"
        ctx.output.note("thinking shown in full as it comes" if arg == "on" else "thinking folded to one line once the answer starts")
        return
    answers = [m for m in await ctx.conversation.messages() if m.type == "ai" and m.additional_kwargs.get(REASONING_KEY)]
    if not answers:
        ctx.output.note("no thinking in this thread yet (only reasoning models think aloud)")
        return
    ctx.print(answers[-1].additional_kwargs[REASONING_KEY].strip())


@command("/tools", help="the MCP servers and built-in tools of this session, their state and tools")
async def _tools(ctx: Context, arg: str) -> None:
    from chatcli.ui.toolview import print_tools

    toolbox = ctx.conversation.toolbox
    if toolbox is None and not ctx.settings.use_tools:
        ctx.output.note("tools are off for this session (--no-tools)")
        return
    print_tools(toolbox.status() if toolbox is not None else [], ctx.settings.mcp_config or "", ctx.out)


@command("/history", help="show this thread's messages")
async def _history(ctx: Context, arg: str) -> None:
    if not await ctx.conversation.messages():
        ctx.output.note("this thread is empty")
        return
    print_transcript(await ctx.threads().transcript(ctx.conversation.thread_id), ctx.out)


@command("/system", args="[TEXT]", help="show, or set from now on, this thread's system prompt")
async def _system(ctx: Context, arg: str) -> None:
    if not arg:
        current = await ctx.conversation.system_prompt()
        ctx.print(current or ctx.settings.system)
        if not current:
            ctx.output.note("(the default system prompt)")
        return
    await ctx.conversation.replace_system(arg)
    ctx.output.note("system prompt set for this thread")


@command("/model", args="[NAME]", help="show or switch the model")
async def _model(ctx: Context, arg: str) -> None:
    if not arg:
        ctx.print(ctx.conversation.model_name or ctx.settings.model)
        return
    if len(arg.split()) != 1:
        raise UsageError(f"a model name has no spaces: {arg[:40]!r}")
    ctx.conversation.model_name = arg
    ctx.output.note(f"model {arg} from the next message")


@command("/retry", help="answer the last message again, replacing the answer")
async def _retry(ctx: Context, arg: str) -> None:
    asked = [m for m in await ctx.conversation.messages() if m.type == "human"]
    if not asked:
        raise UsageError("nothing to retry: this thread has no message yet")
    ctx.output.note(f"retrying: {make_title(asked[-1].text)}")
    await render_reply(ctx.output, ctx.settings, ctx.conversation.retry)


@command("/undo", help="take back the last exchange (your message, its tool calls and its answer)")
async def _undo(ctx: Context, arg: str) -> None:
    removed = await ctx.conversation.undo()
    if not removed:
        ctx.output.note("nothing to undo")
        return
    ctx.output.note(f"undone: {make_title(removed[0].text)}" + (" (and its answer)" if len(removed) > 1 else ""))


@command("/fork", help="continue in a new thread that starts as a copy of this one")
async def _fork(ctx: Context, arg: str) -> None:
    turns = turns_of(await ctx.conversation.messages())
    if not turns:
        raise UsageError("nothing to fork: this thread is empty")
    original = ctx.conversation.thread_id
    new_id = await ctx.threads().fork(original, len(turns))
    _switched(ctx, new_id, f"forked {original} ({len(turns)} turn{'s' if len(turns) > 1 else ''})")
    ctx.output.note(f"{original} stays as it was: /switch {original}")


@command("/title", args="[TEXT]", help="show or set this thread's title")
async def _title(ctx: Context, arg: str) -> None:
    thread_id = ctx.conversation.thread_id
    if not arg:
        info = await ctx.threads().info(thread_id)
        ctx.print(info.title if info and info.title else "(no title yet: the first message names the thread)")
        return
    if not await ctx.conversation.messages():
        raise UsageError("nothing to title yet: this thread is empty")
    await ctx.threads().rename(thread_id, arg)
    ctx.output.note("title set")


@command("/export", args="[md|json] [FILE]", help="write this thread to a new FILE, or print it", complete=("md", "json"))
async def _export(ctx: Context, arg: str) -> None:
    words = arg.split(maxsplit=1)
    fmt = words.pop(0) if words and words[0] in ("md", "json") else "md"
    file = words[0] if words else ""
    if not await ctx.conversation.messages():
        raise UsageError("nothing to export: this thread is empty")
    thread_id = ctx.conversation.thread_id
    if fmt == "json":
        text = json.dumps(await ctx.threads().export_json(thread_id), ensure_ascii=False, indent=1) + "\n"
    else:
        text = transcript_markdown(await ctx.threads().transcript(thread_id))
    if not file:
        ctx.print(text.rstrip("\n"))
        return
    path = write_private(file, text)
    ctx.output.note(f"wrote {path}")


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


@command("/usage", help="tokens used by this thread's answers")
async def _usage(ctx: Context, arg: str) -> None:
    from chatcli.chat.graph import SUMMARY_USAGE

    messages = await ctx.conversation.messages()
    answers = [m for m in messages if m.type == "ai"]
    totals = {"input_tokens": 0, "output_tokens": 0}
    counted = 0
    for answer in answers:
        usages = [getattr(answer, "usage_metadata", None), answer.response_metadata.get(SUMMARY_USAGE)]
        counted += bool(usages[0])
        for usage in filter(None, usages):
            for key in totals:
                totals[key] += int(usage.get(key) or 0)
    turns = sum(m.type == "human" for m in messages)
    ctx.print(f"{turns} turns · {totals['input_tokens']:,} tokens in · {totals['output_tokens']:,} out")
    if counted < len(answers):
        ctx.output.note(f"{len(answers) - counted} of {len(answers)} answers came without token counts")


@command("/exit", help="leave (same as Ctrl-D)", needs_thread=False, aliases=("/quit",))
async def _exit(ctx: Context, arg: str) -> str:
    return LEAVE

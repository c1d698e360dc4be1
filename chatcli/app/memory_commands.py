"""``chat memory``: what you asked chat to remember, listed, added, forgotten and edited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import typer

from chatcli.app.shared import environment, subcommand, switch, verb
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.text import local_time, neutralise, say, say_json

if TYPE_CHECKING:
    from chatcli.store.memories import MemoryBook


@subcommand("memory", db=True)
def memory_command(
    settings: Settings,
    action: str = verb("[list|add|forget|edit|export|import]"),
    words: Optional[list[str]] = typer.Argument(None, metavar="[TEXT|ID|FILE]", show_default=False),
    as_json: bool = switch("--json", "list: one JSON list, with the ids (for scripts)."),
    yes: bool = switch("--yes -y", "import: keep them once shown, without asking (at a terminal only)."),
) -> None:
    """What you asked chat to remember: it goes with every question of every thread (within a share of the
    model's window: past it the newest first, or the nearest the question with an embedding_model), at the
    prompt, in one-shots, in chat serve and chat acp.

    list shows them with their ids; add TEXT remembers TEXT (as /remember TEXT does at the prompt); forget ID
    forgets one; edit opens them all in $VISUAL or $EDITOR, a line each; export prints them as JSON, and import
    FILE (or - for stdin) reads such an export in, on another machine or database (what is kept already stays
    once): it shows each new memory and asks once for them all (--yes: at a terminal, without asking); with no
    terminal it keeps nothing. --no-memory (or memories = false in config.toml) sends none.
    """
    import asyncio

    from chatcli.store import open_store

    async def main() -> None:
        async with open_store(settings.db or "") as store:
            await _act(action, " ".join(words or []), store.memories(), as_json, yes)

    asyncio.run(main())


async def _act(action: str, text: str, book: Any, as_json: bool, yes: bool = False) -> None:
    out, err = environment().stdout, environment().stderr
    if action == "add":
        memory = await book.add(_refused_as_usage(text), "command")
        say(err, f"remembered ({memory.id}): {neutralise(memory.text)}\n")
    elif action == "forget":
        if not text:
            raise UsageError("chat memory forget ID: name the memory (chat memory lists them)")
        if not await book.forget(text.strip()):
            raise UsageError(f"no memory {text.strip()!r}", hint="chat memory lists them, with their ids")
        say(err, f"forgot {text.strip()}\n")
    elif action == "export":
        memories = sorted(await book.all(), key=lambda m: m.created_at)
        say_json(out, {"format": EXPORT_FORMAT, "version": 1, "memories": [m.as_json() for m in memories]})
    elif action == "import":
        say(err, await import_memories(book, _imported(text), yes) + "\n")
    elif action == "edit":
        from chatcli.ui.commands.remembered import edit_memories

        say(err, ("\n".join(await edit_memories(book, environment().environ)) or "nothing changed") + "\n")
    else:
        memories = await book.all()
        if as_json:
            say_json(out, [m.as_json() for m in memories])
        elif not memories:
            say(err, "nothing remembered yet: chat memory add TEXT, or /remember TEXT at the prompt\n")
        else:
            lines = [f"{m.id}  {local_time(m.created_at)}  {neutralise(m.text)}" for m in memories]
            say(out, "\n".join(lines) + "\n", data=True)


EXPORT_FORMAT = "chatcli-memories"
MAX_IMPORT = 16 * 1024 * 1024  # bytes of an export read in


async def import_memories(book: "MemoryBook", texts: list[str], yes: bool = False) -> str:
    """Keep ``texts`` (checked already: ``memory_texts``) that are not kept yet, once the user has seen each and said
    yes (``_confirmed``); the line that says how many. Nothing is kept when they would pass MAX_MEMORIES, nor without
    the user's word."""
    from chatcli.store.memories import MAX_MEMORIES

    kept = {m.text for m in await book.all()}
    adding = list(dict.fromkeys(each for each in texts if each not in kept))
    if (total := len(kept) + len(adding)) > MAX_MEMORIES:  # (past it the oldest would go, unsaid)
        hint = "chat memory forget ID (or chat memory edit) makes room"
        raise UsageError(
            f"importing would keep {total:,} memories, more than {MAX_MEMORIES:,}: nothing was imported", hint=hint
        )
    if adding:
        _confirmed(adding, yes)
        await book.add_all(adding, "import")
    return f"imported {len(adding)} of {len(texts)} memories ({len(texts) - len(adding)} kept already)"


def _confirmed(texts: list[str], yes: bool) -> None:
    """Show each of ``texts`` where the user typed the command (stdin, a terminal; else the controlling terminal)
    and ask once for them all; ``yes``: shown, not asked. Every request of every thread will carry them as the
    user's own words, so nothing is kept unseen: with no terminal (a script, a tool's shell, a pipe with no
    terminal behind it) a UsageError, --yes or not; and one for any answer but y or yes."""
    env = environment()
    terminal = None if env.stdin_isatty else env.open_terminal()
    if not env.stdin_isatty and terminal is None:
        raise UsageError(
            f"not keeping {_count(texts)} with no terminal to show them at and ask: nothing was imported",
            hint="run chat memory import at a terminal; --yes counts only there",
        )
    shown = env.stderr if terminal is None else terminal
    try:
        lines = [f"{n:>4}. {neutralise(text)}" for n, text in enumerate(texts, 1)]
        say(shown, f"{_count(texts)} to keep, sent with every question of every thread as your own words:\n")
        say(shown, "\n".join(lines) + "\n")
        if yes:
            return
        answer = _answer(shown, env.stdin if terminal is None else terminal, f"Keep these {_count(texts)}? [y/N] ")
    finally:
        if terminal is not None:
            terminal.close()
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("nothing was imported")


def _count(texts: list[str]) -> str:
    return f"{len(texts)} memor{'y' if len(texts) == 1 else 'ies'}"


def _answer(shown: Any, reading: Any, question: str) -> str:
    """The line typed after ``question`` (keys typed before it was shown dropped: they did not answer it)."""
    import os
    import termios

    try:
        fd = reading.fileno()
        termios.tcflush(fd, termios.TCIFLUSH)
    except (OSError, ValueError, AttributeError, termios.error):
        fd = None
    say(shown, question)
    shown.flush()
    if fd is None or reading is not shown:  # stdin: read as text
        return str(reading.readline())
    line = b""
    while not line.endswith(b"\n") and (piece := os.read(fd, 1024)):  # the terminal opened to ask on: its descriptor
        line += piece
    return line.decode("utf-8", "replace")


def _imported(file: str) -> list[str]:
    """The memories' texts of the export ``file`` (- for stdin), each checked as a memory; a UsageError naming the
    first that does not fit, before any is kept."""
    from chatcli.app.run import read_export

    if not file:
        raise UsageError("chat memory import FILE: name an export (chat memory export writes one), or - for stdin")
    data = read_export(environment().stdin, file, "a memories export", "chat memory export writes one", MAX_IMPORT)
    name = "stdin" if file == "-" else file
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or not isinstance(data.get("memories"), list):
        raise UsageError(f'{name} is not a memories export (expected "format": "{EXPORT_FORMAT}")')
    texts = []
    for number, item in enumerate(data["memories"], 1):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise UsageError(f"{name}: memory {number} has no text: nothing was imported")
        try:
            texts.append(_refused_as_usage(text))
        except UsageError as exc:
            raise UsageError(f"{name}: memory {number}: {exc}: nothing was imported") from None
    return texts


def _refused_as_usage(text: str) -> str:
    from chatcli.store.memories import MemoryRefused, checked_text

    try:
        return checked_text(text)
    except MemoryRefused as exc:
        raise UsageError(str(exc)) from None

"""Output: a reply rendered as Markdown in a terminal, plain text anywhere else; notes and errors on stderr.

``Output`` is the protocol every output implements: ``PlainOutput`` (pipes, files, dumb
terminals), ``RichOutput`` (terminals) and ``chatcli.ui.jsonout.JsonOutput`` (--json, --jsonl).
The prompt, one-shot mode and the slash commands talk to the user through it only.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Protocol

from chatcli.chat.conversation import TurnResult
from chatcli.text import neutralise

_NOTES = {
    "cancelled": "stopped: the partial answer is kept in the thread",
}


class Output(Protocol):
    """How a reply, notes and errors reach the user."""

    def note(self, text: str) -> None:
        """A line about what is going on (dim in a terminal, on stderr)."""

    def warn(self, text: str) -> None:
        """A line the user should notice, short of an error (yellow in a terminal, on stderr)."""

    def error(self, text: str) -> None:
        """A failure that does not end the session, in one line."""

    def start_reply(self) -> None:
        """A reply begins."""

    def token(self, text: str) -> None:
        """The next piece of the reply."""

    def end_reply(self, result: TurnResult) -> None:
        """The reply streamed to its end (``result.interrupted`` says if it is incomplete)."""

    def abort(self, reason: str | None) -> None:
        """The reply stopped early: "cancelled" (Ctrl-C), or None (a failure, reported apart)."""

    def tool_event(self, event: dict[str, Any]) -> None:
        """A tool call starts ({"type": "tool_call", ...}) or ends ({"type": "tool_result", ...})."""


def usage_line(result: TurnResult) -> str | None:
    """Token counts and how full the context budget was: "812 in · 64 out · context 14% of 6,000".

    The server's counts when it sent them; otherwise the estimated size of what was sent,
    marked with "~". None when nothing is known.
    """
    usage = result.usage or {}
    prompt = usage.get("input_tokens")
    approx = prompt is None
    if approx:
        prompt = result.prompt_tokens_est
    if prompt is None:
        return None
    parts = [f"{'~' if approx else ''}{prompt:,} in"]
    if usage.get("output_tokens") is not None:
        parts.append(f"{usage['output_tokens']:,} out")
    if result.context_tokens:
        share = round(100 * prompt / result.context_tokens)
        parts.append(f"context {'~' if approx else ''}{share}% of {result.context_tokens:,}")
    return " · ".join(parts)


class StderrNotes:
    """Notes and errors as plain lines on stderr (``self.err``)."""

    err: IO[str]

    def note(self, text: str) -> None:
        self.err.write(f"{text}\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        self.note(text)

    def error(self, text: str) -> None:
        self.err.write(f"error: {text}\n")
        self.err.flush()

    def tool_event(self, event: dict[str, Any]) -> None:
        """Off the answer: one line on stderr per call, run or refused."""
        from chatcli.ui.toolview import ran_line, refused_line

        if event.get("type") == "ask":  # a dumb terminal: asked all the same
            from chatcli.ui.toolview import call_block

            self.note(call_block(event))
        if event.get("type") != "tool_result":
            return
        self.warn(refused_line(event) if event.get("status") == "refused" else ran_line(event))


class PlainOutput(StderrNotes):
    """Replies as raw text, token by token; for pipes, files and dumb terminals."""

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._last = "\n"
        # A pipe gets the model's exact text; a (dumb) terminal gets it defused.
        self._clean = self.out.isatty()

    def start_reply(self) -> None:
        self._last = "\n"

    def token(self, text: str) -> None:
        if self._clean:
            text = neutralise(text)
        self.out.write(text)
        self.out.flush()
        self._last = text[-1:] or self._last

    def end_reply(self, result: TurnResult) -> None:
        self._close_line()

    def abort(self, reason: str | None) -> None:
        self._close_line()
        if reason:
            self.warn(_NOTES[reason])

    def _close_line(self) -> None:
        if self._last != "\n":
            self.out.write("\n")
            self.out.flush()
        self._last = "\n"



class RichOutput:
    """Replies rendered as Markdown while they stream, with dim notes; for terminals."""

    def __init__(self, console: Any, err_console: Any):
        self.console = console
        self.err_console = err_console
        self._stream: Any = None
        self._asked: set[Any] = set()  # calls whose block was shown with the approval question

    def start_reply(self) -> None:
        from chatcli.ui.markdown.stream import MarkdownStream

        self._stream = MarkdownStream(self.console)

    def token(self, text: str) -> None:
        if self._stream is None:  # the answer goes on after a tool call
            if not text.strip():
                return
            self.start_reply()
        self._stream.feed(neutralise(text))

    def end_reply(self, result: TurnResult) -> None:
        if self._stream is not None:
            self._stream.finish()
        self._stream = None
        line = usage_line(result)
        if line:
            self.note(line)

    def abort(self, reason: str | None) -> None:
        if self._stream is not None:
            self._stream.abort(None)
            self._stream = None
        if reason:
            self.warn(_NOTES[reason])

    def tool_event(self, event: dict[str, Any]) -> None:
        """A compact dim block per call, between the parts of the answer."""
        from chatcli.ui.toolview import call_block, result_block

        if self._stream is not None:
            self._stream.finish()
            self._stream = None
        if event.get("type") == "ask":  # about to be asked: the block shows once, before the question
            self._asked.add(event.get("id"))
            self.note(call_block(event))
        elif event.get("type") == "tool_call":
            if event.get("id") not in self._asked:
                self.note(call_block(event))
        elif event.get("status") == "refused":
            self.warn(result_block(event))
        else:
            self.note(result_block(event))

    def note(self, text: str) -> None:
        self.err_console.print(text, style="dim", markup=False, highlight=False)

    def warn(self, text: str) -> None:
        self.err_console.print(text, style="yellow", markup=False, highlight=False)

    def error(self, text: str) -> None:
        self.err_console.print(f"error: {text}", style="bold red", markup=False, highlight=False)


def make_output(out: IO[str] | None = None, err: IO[str] | None = None, *, dumb: bool | None = None) -> Output:
    """Rich rendering when stdout is a terminal, plain text otherwise (and in a ``dumb`` terminal)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if dumb is None:
        dumb = os.environ.get("TERM") == "dumb"
    if not out.isatty() or dumb:
        return PlainOutput(out, err)
    from rich.console import Console

    return RichOutput(Console(file=out), Console(file=err, stderr=True))


def _when(timestamp: float) -> str:
    """A local date and time, minutes precision."""
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def print_threads(threads: list[Any], out: IO[str] | None = None) -> None:
    """The thread list: a table in a terminal, tab-separated lines in a pipe."""
    out = out or sys.stdout
    if not out.isatty():
        for t in threads:
            title = " ".join((t.title or "").split())
            out.write(f"{t.thread_id}\t{_when(t.updated_at)}\t{t.message_count}\t{t.model or ''}\t{title}\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("thread", "updated", "msgs", "model", "title"):
        table.add_column(column, justify="right" if column == "msgs" else "left", no_wrap=column != "title")
    for t in threads:
        title = " ".join((t.title or "").split())
        # Text, not str: stored data is never read as rich markup ("[/bold]" in a model name).
        cells = (t.thread_id, _when(t.updated_at), str(t.message_count), t.model or "", title)
        table.add_row(*(Text(neutralise(cell)) for cell in cells))
    Console(file=out).print(table)


def print_transcript(transcript: Any, out: IO[str] | None = None) -> None:
    """A thread's messages: each under a ruled speaker line in a terminal, Markdown text in a pipe."""
    from chatcli.chat.threads import message_record, readable_time, transcript_markdown

    out = out or sys.stdout
    if not out.isatty():
        out.write(transcript_markdown(transcript))
        return
    from rich.console import Console
    from rich.rule import Rule
    from rich.text import Text

    from chatcli.ui.markdown.stream import render_markdown

    console = Console(file=out)
    info = transcript.info
    console.print(neutralise(" ".join((info.title or info.thread_id).split())), style="bold", markup=False, highlight=False)
    console.print(neutralise(f"thread {info.thread_id}" + (f" · {info.model}" if info.model else "")), style="dim", markup=False, highlight=False)
    if transcript.system:
        console.print(f"system: {neutralise(transcript.system)}", style="dim", markup=False, highlight=False)
    from chatcli.ui.toolview import call_block, result_block

    after_tools = False  # an answer that goes on after tool results gets no second speaker line
    for message in transcript.messages:
        record = message_record(message)
        if record["role"] == "tool":
            event = {"label": record.get("label") or record["name"], "status": record["status"], "content": record["content"], "seconds": record.get("seconds")}
            console.print(result_block(event), style="dim", markup=False, highlight=False)
            after_tools = True
            continue
        if not (record["role"] == "assistant" and after_tools):
            who = "You" if record["role"] == "user" else "Assistant"
            stamp = " · ".join(x for x in (who, readable_time(record.get("created_at")), record.get("model")) if x)
            console.print()
            console.print(Rule(Text(neutralise(stamp)), align="left", style="dim"))
        after_tools = False
        if record["content"]:
            console.file.write(render_markdown(neutralise(record["content"]), console))
        for call in record.get("tool_calls", []):
            console.print(call_block({"label": call["name"], "arguments": call["arguments"]}), style="dim", markup=False, highlight=False)
        if record.get("interrupted"):
            console.print(f"[answer incomplete: {record['interrupted']}]", style="yellow", markup=False)


def print_hits(hits: list[Any], out: IO[str] | None = None) -> None:
    """Search results: thread, turn and a snippet, one per line."""
    out = out or sys.stdout
    tty = out.isatty()
    for hit in hits:
        snippet = " ".join(hit.snippet.split())
        line = f"{hit.thread_id}\tturn {hit.turn}\t{hit.role}\t{snippet}"
        out.write((neutralise(line) if tty else line) + "\n")

"""Listings of stored threads: the thread table, a transcript, search hits (rendered in a terminal, plain in a pipe)."""

from __future__ import annotations

import sys
from typing import IO, Any

from chatcli.text import neutralise


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


def print_transcript(transcript: Any, out: IO[str] | None = None, thinking: bool = False) -> None:
    """A thread's messages: each under a ruled speaker line in a terminal, Markdown text in a pipe.

    A reasoning model's thinking is one dim line per answer, or in full with ``thinking``.
    """
    from chatcli.chat.threads import attachment_line, message_record, readable_time, transcript_markdown

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
        if record.get("reasoning"):
            thought = " ".join(record["reasoning"].split())
            if not thinking and len(thought) > 90:
                thought = thought[:89] + "… (--thinking shows it all)"
            console.print(neutralise(f"thought: {thought}"), style="dim", markup=False, highlight=False)
        if record["content"]:
            console.file.write(render_markdown(neutralise(record["content"]), console))
        for item in record.get("attachments", []):
            console.print(neutralise(f"attached: {attachment_line(item)}"), style="dim", markup=False, highlight=False)
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

"""Listings of stored threads: the thread table, a transcript, search hits (rendered in a terminal, plain in a pipe)."""

from __future__ import annotations

from typing import IO, Any, Mapping, Sequence

from chatcli.text import local_time, neutralise, say, show
from chatcli.threads.records import one_line

_SPEAKERS = {"human": "You", "ai": "Assistant", "tool": "Tool", "system": "System"}
HIGHLIGHT = "bold reverse"  # a search's matches in a terminal


def print_threads(threads: list[Any], out: IO[str]) -> None:
    """The thread list: a table in a terminal, tab-separated lines in a pipe."""
    rows = [
        (t.thread_id, local_time(t.updated_at), str(t.message_count), t.model or "", " ".join((t.title or "").split()))
        for t in threads
    ]
    _table(out, ("thread", "updated", "msgs", "model", "title"), rows)


def _table(
    out: IO[str], columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], marks: Sequence[list[tuple[int, int]]] = ()
) -> None:
    """``rows`` as tab-separated lines in a pipe; in a terminal a table under ``columns`` (a count right-aligned,
    only the last column wrapped), with each row's ``marks`` highlighted in its last cell."""
    if not out.isatty():
        say(out, "".join("\t".join(row) + "\n" for row in rows), data=True)
        return
    from rich.table import Table
    from rich.text import Text

    from chatcli.ui.output import terminal_console

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        right = column in ("msgs", "turn")
        table.add_column(column, justify="right" if right else "left", no_wrap=column != columns[-1])
    for n, row in enumerate(rows):
        # Text, not str: stored data is never read as rich markup ("[/bold]" in a model name).
        cells = [Text(neutralise(cell)) for cell in row]  # neutralise keeps offsets: one character for one
        for start, end in marks[n] if marks else ():
            cells[-1].stylize(HIGHLIGHT, start, end)
        table.add_row(*cells)
    terminal_console(out).print(table)


def print_transcript(
    transcript: Any, out: IO[str], thinking: bool = False, environ: Mapping[str, str] | None = None
) -> None:
    """A thread's messages: each under a ruled speaker line in a terminal (paged when taller than it), Markdown text
    in a pipe.

    A reasoning model's thinking is one dim line per answer, or in full with ``thinking``.
    """
    from chatcli.threads.operations import transcript_markdown
    from chatcli.ui.pager import ScreenBuffer, page

    if not out.isatty():
        say(out, transcript_markdown(transcript), data=True)
        return
    screen = ScreenBuffer()
    _render_transcript(transcript, screen, thinking)
    page(screen.getvalue(), out, environ)


def _render_transcript(transcript: Any, out: IO[str], thinking: bool) -> None:
    from rich.rule import Rule
    from rich.text import Text

    from chatcli.threads.operations import attachment_line
    from chatcli.threads.records import message_record
    from chatcli.ui.markdown.stream import render_markdown
    from chatcli.ui.output import terminal_console

    console = terminal_console(out)

    def line(text: str, style: str = "dim") -> None:  # stored text: shown, never read as markup or obeyed
        console.print(neutralise(text), style=style, markup=False, highlight=False)

    info = transcript.info
    line(" ".join((info.title or info.thread_id).split()), "bold")
    line(f"thread {info.thread_id}" + (f" · {info.model}" if info.model else ""))
    if transcript.system:
        line(f"system: {transcript.system}")
    from chatcli.core.events import ToolCall, ToolResult
    from chatcli.ui.toolblocks import call_block, result_block

    after_tools = False  # an answer that goes on after tool results gets no second speaker line
    for message in transcript.messages:
        record = message_record(message)
        if record["role"] == "tool":
            call = ToolCall(record["tool_call_id"], record["name"], record.get("label") or record["name"], None, None)
            result = ToolResult(call, record["status"], record["content"], record.get("seconds") or 0.0)
            line(result_block(result))
            for made in (record.get("view") or {}).get("calls", []):  # its MCP App's calls (chatcli.api.apps)
                label = f"{made.get('label') or made['name']} (its view)"
                call = ToolCall(made["tool_call_id"], made["name"], label, None, made.get("arguments"))
                line(call_block(call))
                line(result_block(ToolResult(call, made["status"], made["content"], made.get("seconds") or 0.0)))
            after_tools = True
            continue
        if not (record["role"] == "assistant" and after_tools):
            who = "You" if record["role"] == "user" else "Assistant"
            stamp = " · ".join(x for x in (who, local_time(record.get("created_at")), record.get("model")) if x)
            console.print()
            console.print(Rule(Text(neutralise(stamp)), align="left", style="dim"))
        after_tools = False
        if record.get("reasoning"):
            thought = " ".join(record["reasoning"].split())
            if not thinking and len(thought) > 90:
                thought = thought[:89] + "… (--thinking shows it all)"
            line(f"thought: {thought}")
        if record["content"]:
            show(console.file, render_markdown(neutralise(record["content"]), console))
        for item in record.get("attachments", []):
            line(f"attached: {attachment_line(item)}")
        for call in record.get("tool_calls", []):
            shown = ToolCall(call["id"], call["name"], call["name"], None, call["arguments"])
            line(call_block(shown))
        if record.get("interrupted"):
            line(f"[answer incomplete: {record['interrupted']}]", "yellow")


def print_hits(hits: list[Any], out: IO[str]) -> None:
    """Search results: a table with the matches highlighted in a terminal; in a pipe one hit per line,
    tab-separated: thread, turn, speaker, time, snippet (no marks, no escape codes)."""
    flat = [one_line(hit.snippet, hit.marks) for hit in hits]
    rows = [
        (hit.thread_id, str(hit.turn), _SPEAKERS.get(hit.role, hit.role), local_time(hit.created_at), text)
        for hit, (text, _) in zip(hits, flat)
    ]
    _table(out, ("thread", "turn", "who", "when", "match"), rows, [spans for _, spans in flat])

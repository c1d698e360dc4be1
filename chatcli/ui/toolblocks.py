"""Tool calls as blocks of text: a compact block per call and per result, and the stderr line of each.

What runs is what is shown: in a call's block each argument keeps its end in view (a long
line or a long value is cut in the middle, never at the end), runs of blanks and of blank lines
are shown as a count, and every Unicode line break counts as one. Widths are terminal cells
(a CJK character or an emoji takes two). The approval question is chatcli.ui.approval.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatcli.core.events import NO_TERMINAL, Progress, ToolCall, ToolResult
from chatcli.text import is_terminal, neutralise, show

# How much of the arguments and of a result a block shows.
SHOWN_LINES = 4
# Runs of blanks longer than this (cells; at the start of a line, indentation) are shown as a count.
BLANKS_INSIDE, BLANKS_LEADING = 8, 32
_BLANK_RUN = re.compile(r"\s{2,}")


def arguments_text(arguments: Any, indent: int | None = None) -> str:
    """Arguments as the user reads them: JSON (indented on request), or the raw text the model sent."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, indent=indent)


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _fitting(text: str, width: int, from_end: bool = False) -> str:
    """The longest start (or end) of ``text`` that takes at most ``width`` terminal cells."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _cells(text[len(text) - middle :] if from_end else text[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return text[len(text) - low :] if from_end else text[:low]


def fit_cells(row: str, width: int, keep_end: bool = False) -> str:
    """``row`` cut to ``width`` cells: at its end, or in its middle when its end must stay in view."""
    if _cells(row) <= width:
        return row
    if not keep_end:
        return _fitting(row, width - 1) + "…"
    tail = _fitting(row, max(1, width // 3), from_end=True)
    return _fitting(row, width - 1 - _cells(tail)) + "…" + tail


def _blanks(match: re.Match[str]) -> str:
    run = match.group(0)
    limit = BLANKS_LEADING if match.start() == 0 else BLANKS_INSIDE
    # spaces and tabs as code indents and aligns them
    return run if not run.strip(" \t") and len(run) + 7 * run.count("\t") <= limit else f" ⟨{len(run)} blanks⟩ "


def _blank_lines(count: int) -> list[str]:
    return [""] * count if count < 2 else [f"⟨{count} blank lines⟩"]


def _rows(text: str) -> list[str]:
    """The lines of ``text`` as shown: split at every line break, runs of blanks and of blank lines counted."""
    rows: list[str] = []
    empty = 0
    for row in text.splitlines():
        if not row.strip():
            empty += 1
            continue
        rows += _blank_lines(empty)
        empty = 0
        rows.append(_BLANK_RUN.sub(_blanks, row))
    return rows + _blank_lines(empty) or [""]


def shortened(text: str, lines: int = SHOWN_LINES, width: int | None = None, keep_end: bool = False) -> str:
    """``text`` in at most ``lines`` lines of ``width`` cells (the terminal's), saying how much is left out.

    With ``keep_end`` the last line stays and the cut is in the middle, and blanks are counted (arguments);
    otherwise the first lines are shown (results).
    """
    if width is None:
        import shutil

        width = max(40, shutil.get_terminal_size((100, 24)).columns - 6)
    rows = _rows(text) if keep_end else text.splitlines() or [""]
    # One line more than ``lines`` is shown whole: the line saying it was left out would take its place.
    if len(rows) > lines + 1 and keep_end:
        rows = [*rows[: lines - 1], f"… {len(rows) - lines} more lines …", rows[-1]]
    elif len(rows) > lines + 1:
        rows = [*rows[:lines], f"… {len(rows) - lines} more lines"]
    return "\n".join(fit_cells(row, width, keep_end) for row in rows)


def call_block(call: ToolCall) -> str:
    """The lines shown when a call starts (or is asked about): the tool, then each argument, cut in the middle."""
    arguments = call.arguments
    if isinstance(arguments, dict) and arguments:
        shown = [f"{name}: {arguments_text(value)}" for name, value in arguments.items()]  # a text as it is
        body = "\n".join(shortened(text, keep_end=True) for text in shown)
    elif not arguments:
        body = "(no arguments)"
    else:
        body = shortened(arguments_text(arguments), keep_end=True)
    if call.server == "builtin" and isinstance(arguments, dict) and isinstance(arguments.get("path"), str):
        from chatcli.tools.builtin import resolve

        where = str(resolve(arguments["path"]))
        body += f"\n(that is {where})" if where != arguments["path"] else ""  # only when it says something new
    if call.where:  # where a shell command runs: first, so that no cut hides it
        body = f"{call.where}\n{body}"
    return neutralise(f"⚙ {call.label or call.name}\n" + _indent(body))


_HEADS = {"ok": "→", "error": "→ error from", "timeout": "→ timed out:", "cancelled": "→ cancelled:"}


def result_block(result: ToolResult) -> str:
    """The lines shown when a call ends: the tool, how it ended, its time, then its first lines."""
    label = result.call.label or result.call.name or "tool"
    status = result.status
    content = str(result.content or "").strip()
    if status == "refused":
        reason = content.partition("The user says: ")[2]
        return neutralise(f"  ✗ {label}: not run" + (f" ({reason})" if reason else ""))
    head = f"  {_HEADS.get(status, '→ ' + status)} {label} · {result.seconds or 0.0:.1f} s"
    return neutralise(head + "\n" + _indent(_indent(shortened(content or "(no output)"))))


def pipe_line(result: ToolResult) -> str:
    """The one stderr line of a call in a pipe, run or refused: its arguments on one line, cut in the middle."""
    name = result.call.label or result.call.name
    arguments = fit_cells(" ".join(arguments_text(result.call.arguments).split()), 120, keep_end=True)
    if result.status == "refused":  # --yes is named only where it would have run the call: not past a hook's no
        content = str(result.content or "")
        hint = "; --yes approves every call" if content == NO_TERMINAL else ""
        return neutralise(f"tool call refused: {name} {arguments} ({content.removeprefix('not run: ')}{hint})")
    return neutralise(f"tool: {name} {arguments} → {result.status} · {result.seconds or 0:.1f} s")


def _indent(text: str) -> str:
    return "\n".join("  " + row for row in text.split("\n"))


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def progress_text(event: Progress, width: int = 100) -> str:
    """The live line of a running call: "⚙ notes:index · 3 s · 2/5 · reading the files"."""
    text = f"⚙ {event.call.label or event.call.name} · {int(event.seconds)} s"
    if event.done is not None:
        text += f" · {_number(event.done)}/{_number(event.total)}" if event.total else f" · {_number(event.done)}"
    if event.message:
        text += f" · {event.message}"
    return fit_cells(neutralise(" ".join(text.split())), width)


class LiveLine:
    """One dim line redrawn in place on a terminal (the call running now), erased before anything else shows.

    On a stream that is not a terminal it draws nothing.
    """

    def __init__(self, stream: Any):
        self.stream, self.live, self.shown = stream, is_terminal(stream), False

    def draw(self, event: Progress) -> None:
        if not self.live:
            return
        import shutil

        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        show(self.stream, "\r\x1b[2K\x1b[2m" + progress_text(event, width) + "\x1b[22m")
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            show(self.stream, "\r\x1b[2K")
            self.shown = False

"""Tool calls as the user sees them: a compact block per call, and the approval question.

The question is asked before any call runs. Enter means No; y runs it, a runs it and every
later call of that tool this session, e edits the arguments (JSON) first, r refuses with a
reason for the model, v shows the whole arguments. Keys typed before the question appears are
dropped, and Ctrl-C (or Ctrl-D) at the question means No: the session goes on.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from chatcli.text import neutralise

# How much of the arguments and of a result a block shows.
SHOWN_LINES = 4
SHOWN_WIDTH = 200

QUESTION = "Run it? [y]es / [N]o / [a]lways this tool / [e]dit / [r]eason / [v]iew all: "


def arguments_text(arguments: Any, indent: int | None = None) -> str:
    """Arguments as the user reads them: JSON (indented on request), or the raw text the model sent."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, indent=indent)


def shortened(text: str, lines: int = SHOWN_LINES, width: int | None = None) -> str:
    """The first ``lines`` lines of ``text`` (each cut to the terminal's ``width``), saying how much is left out."""
    if width is None:
        import shutil

        width = max(40, shutil.get_terminal_size((100, 24)).columns - 6)
    rows = text.splitlines() or [""]
    shown = [row if len(row) <= width else row[: width - 1] + "…" for row in rows[:lines]]
    if len(rows) > lines:
        shown.append(f"… {len(rows) - lines} more lines")
    return "\n".join(shown)


def call_block(event: dict[str, Any]) -> str:
    """The lines shown when a call starts (or is asked about): the tool, then its arguments, cut."""
    arguments = event.get("arguments")
    if isinstance(arguments, dict) and len(arguments) == 1:
        (name, value), = arguments.items()  # one argument (a command, a path): shown as it is
        body = f"{name}: {value}" if isinstance(value, str) else arguments_text(arguments)
    elif not arguments:
        body = "(no arguments)"
    else:
        body = arguments_text(arguments, indent=2 if isinstance(arguments, dict) and len(json.dumps(arguments)) > 80 else None)
    if event.get("server") == "builtin" and isinstance(arguments, dict) and isinstance(arguments.get("path"), str):
        from chatcli.tools.builtin import resolve

        body += f"\n(path: {resolve(arguments['path'])})"
    if event.get("server") == "builtin" and event.get("name") == "shell":  # first, so that no cut hides it
        from chatcli.tools.sandbox import describe

        body = f"{describe()}\n{body}"
    return neutralise(f"⚙ {event.get('label') or event.get('name')}\n" + _indent(shortened(body)))


_HEADS = {"ok": "→", "error": "→ error from", "timeout": "→ timed out:", "cancelled": "→ cancelled:"}


def result_block(event: dict[str, Any]) -> str:
    """The lines shown when a call ends: the tool, how it ended, its time, then its first lines."""
    label = event.get("label") or event.get("name") or "tool"
    status = event.get("status", "ok")
    content = str(event.get("content") or "").strip()
    if status == "refused":
        reason = content.partition("The user says: ")[2]
        return neutralise(f"  ✗ {label}: not run" + (f" ({reason})" if reason else ""))
    head = f"  {_HEADS.get(status, '→ ' + status)} {label} · {event.get('seconds') or 0.0:.1f} s"
    return neutralise(head + "\n" + _indent(_indent(shortened(content or "(no output)"))))


def _one_line(arguments: Any, width: int = 120) -> str:
    """Arguments on one line, cut at ``width``."""
    text = " ".join(arguments_text(arguments).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def refused_line(event: dict[str, Any]) -> str:
    """The one stderr line for a call that was not run."""
    arguments = _one_line(event.get("arguments"))
    reason = str(event.get("content") or "").removeprefix("not run: ")
    return neutralise(f"tool call refused: {event.get('label') or event.get('name')} {arguments} ({reason}; --yes approves every call)")


def ran_line(event: dict[str, Any]) -> str:
    """The one stderr line for a call that ran, in a pipe."""
    arguments = _one_line(event.get("arguments"))
    return neutralise(f"tool: {event.get('label') or event.get('name')} {arguments} → {event.get('status')} · {event.get('seconds') or 0:.1f} s")


def _indent(text: str) -> str:
    return "\n".join("  " + row for row in text.split("\n"))


class TerminalApprover:
    """Asks the user about each call that needs approval (see the module docstring).

    ``output`` shows the call (an "ask" tool event), notes and warnings; ``toolbox`` keeps the
    tools allowed "always".
    """

    def __init__(self, toolbox: Any, output: Any, stdin_fd: int = 0):
        self.toolbox = toolbox
        self.output = output
        self.show: Callable[[str], None] = output.note
        self.warn: Callable[[str], None] = output.warn
        self.stdin_fd = stdin_fd

    async def __call__(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        decisions: dict[str, Any] = {}
        for call in calls:
            entry = self.toolbox.find(call["name"]) if self.toolbox is not None else None
            if entry is not None and self.toolbox.preapproved(entry):
                decisions[call["id"]] = {"action": "yes"}  # "always" was chosen for an earlier call
                continue
            self.output.event({"type": "ask", **call})
            decisions[call["id"]] = await self._ask(call, entry)
        return decisions

    async def _ask(self, call: dict[str, Any], entry: Any) -> dict[str, Any]:
        while True:
            answer = (await self._line(QUESTION)).strip().lower()
            if answer in ("y", "yes"):
                return {"action": "yes"}
            if answer in ("a", "always"):
                if entry is not None:
                    self.toolbox.allow(entry)
                return {"action": "yes"}
            if answer in ("", "n", "no", "\x03"):
                return {"action": "no"}
            if answer in ("v", "view", "?"):
                self.show(neutralise(arguments_text(call.get("arguments"), indent=2)))
            elif answer in ("r", "reason"):
                reason = (await self._line("Reason (for the model): ")).strip()
                return {"action": "no", "reason": reason or None}
            elif answer in ("e", "edit"):
                edited = await self._edit(call)
                if edited is not None:
                    return {"action": "yes", "args": edited}
            else:
                self.warn("answer y, n (or Enter), a, e, r or v")

    async def _edit(self, call: dict[str, Any]) -> dict[str, Any] | None:
        """The arguments as the user edited them (JSON object), or None to ask again."""
        text = await self._line("Arguments (JSON, Enter to run): ", default=arguments_text(call.get("arguments")))
        if text == "\x03":
            return None
        try:
            edited = json.loads(text)
        except json.JSONDecodeError as exc:
            self.warn(f"not valid JSON ({exc.msg}): the call was not run")
            return None
        if not isinstance(edited, dict):
            self.warn("the arguments must be a JSON object: the call was not run")
            return None
        call["arguments"] = edited
        return edited

    async def _line(self, question: str, default: str = "") -> str:
        """One answer from the terminal; Ctrl-C or Ctrl-D give "\\x03" (No)."""
        from prompt_toolkit import PromptSession

        self._drop_typeahead()
        try:
            # handle_sigint=False: chat's own Ctrl-C handler (stop the turn) must stay in place for
            # the call that follows; here the terminal is raw and Ctrl-C arrives as a key (No).
            return await PromptSession().prompt_async(question, default=default, handle_sigint=False)
        except (KeyboardInterrupt, EOFError):
            return "\x03"

    def _drop_typeahead(self) -> None:
        """Forget keys typed before the question (a stray Enter or y must not answer it)."""
        try:
            import termios

            termios.tcflush(self.stdin_fd, termios.TCIFLUSH)
        except (ImportError, OSError, ValueError):
            pass


def connect(conversation: Any, output: Any, ask: bool) -> None:
    """Show ``conversation``'s tool calls through ``output``; ask about them in a terminal (``ask``).

    Without a terminal to ask, a call that needs approval is refused (and said so on stderr).
    """
    conversation.on_event = output.event
    if ask:
        conversation.approve = TerminalApprover(conversation.toolbox, output)


def print_tools(rows: list[Any], config_path: str, out: Any, as_json: bool = False) -> None:
    """`chat tools` and `/tools`: each server (and the built-ins), its state, and its tools."""
    if as_json:
        listing = [
            {
                "server": row.name, "transport": row.transport, "state": row.state, "detail": row.detail or None,
                "where": row.where, "tools": [{"name": e.name, "description": e.description} for e in row.tools],
            }
            for row in rows
        ]  # fmt: skip
        out.write(json.dumps(listing, ensure_ascii=False, indent=1) + "\n")
        return
    if not rows:
        out.write(f"no tools: add MCP servers to {config_path}, or turn on the built-ins with --tools shell,files\n")
        return
    lines = []
    for row in rows:
        state = row.state + (f": {row.detail}" if row.detail else "")
        lines.append(f"{row.name} ({row.transport}) {state}" + (f" · {row.where}" if row.where and row.transport != "built-in" else ""))
        if row.log is not None and row.state == "failed":
            lines.append(f"  log: {row.log}")
        width = max((len(e.name) for e in row.tools), default=0)
        for entry in row.tools:
            description = entry.description if len(entry.description) <= 90 else entry.description[:89] + "…"
            lines.append(f"  {entry.name.ljust(width)}  {description}".rstrip())
    text = "\n".join(lines) + "\n"
    out.write(neutralise(text) if out.isatty() else text)

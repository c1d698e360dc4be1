"""Output: a reply rendered as Markdown in a terminal, plain text anywhere else; notes and errors on stderr.

``Output`` is the protocol every output implements: ``PlainOutput`` (pipes, files, dumb
terminals), ``RichOutput`` (terminals) and ``chatcli.ui.jsonout.JsonOutput`` (--json, --jsonl).
Each is a listener of the engine's turn events (chatcli.core.events); the prompt, one-shot mode
and the slash commands talk to the user through it only.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, cast

from chatcli.core.events import Progress, Start, ToolCall, ToolResult, TurnResult
from chatcli.service.outcome import cost_part
from chatcli.text import TerminalFile, counted, neutralise, say, show
from chatcli.ui.listening import Listening

if TYPE_CHECKING:
    from rich.console import Console


# How a reply, notes and errors reach the user: every output (above) is a Listening, a listener of turns (``hear``,
# ``approve``, ``answer``, ``elicit``) with lines (``note``, ``warn``, ``error``), on stderr in a terminal.
Output = Listening


def usage_line(result: TurnResult) -> str | None:
    """Token counts, cost and how full the context budget was: "812 in · 64 out · $0.0012 · context 14% of 6,000"
    ("812 in (700 cached)" when the prompt cache gave some of them).

    The server's counts when it sent them; otherwise the estimated size of what was sent,
    marked with "~". None when nothing is known.
    """
    usage = result.usage or {}
    approx = usage.get("input_tokens") is None
    prompt = result.prompt_tokens_est if approx else usage["input_tokens"]
    if prompt is None:
        return None
    from chatcli.core.chunks import cache_counts

    cached = cache_counts(usage)[0]
    parts = [f"{'~' if approx else ''}{prompt:,} in" + (f" ({cached:,} cached)" if cached else "")]
    if usage.get("output_tokens") is not None:
        parts.append(f"{usage['output_tokens']:,} out")
    if price := cost_part(result):
        parts.append(price)
    if result.context_tokens:
        share = round(100 * prompt / result.context_tokens)
        parts.append(f"context {'~' if approx else ''}{share}% of {result.context_tokens:,}")
    return " · ".join(parts)


def left_out_line(result: TurnResult) -> str | None:
    """The line that says the budget left earlier turns out of the request, or None when it sent them all."""
    n = result.turns_left_out
    return f"{counted(n, 'earlier turn')} not sent · /compact keeps them in a summary" if n else None


class StderrNotes(Listening):
    """Notes and errors as plain lines on stderr (``self.err``), control characters made visible;
    with ``live`` (a LiveLine on a terminal's stderr), the call running now on a line redrawn in place."""

    err: IO[str]
    live: Any = None

    def progress(self, event: Progress) -> None:
        if self.live is not None:
            self.live.draw(event)

    def note(self, text: str) -> None:
        if self.live is not None:
            self.live.clear()
        say(self.err, f"{text}\n")

    warn = note

    def error(self, text: str) -> None:
        self.note(f"error: {text}")

    def tool_result(self, result: ToolResult) -> None:
        """Off the answer: one line on stderr per call, run or refused."""
        from chatcli.ui.toolblocks import pipe_line

        self.warn(pipe_line(result))


class PlainOutput(StderrNotes):
    """Replies as raw text, token by token; for pipes, files and dumb terminals."""

    def __init__(self, out: IO[str], err: IO[str], live: bool = False):
        self.out, self.err, self._last = out, err, "\n"
        if live:  # stderr a terminal that takes cursor moves: a running call is shown live there
            from chatcli.ui.toolblocks import LiveLine

            self.live = LiveLine(self.err)

    def start_reply(self, start: Start) -> None:
        self._last = "\n"

    def token(self, text: str) -> None:
        say(self.out, text, data=True)  # a pipe gets the model's exact text; a (dumb) terminal, neutralised
        self._last = text[-1:] or self._last

    def speaker(self, name: str) -> None:
        """A graph's node speaks: its name on a line of its own, before its text."""
        self._close_line()
        say(self.out, f"{name}:\n", data=True)

    def end_reply(self, result: TurnResult) -> None:
        self._close_line()

    def abort(self, reason: str | None) -> None:
        if self.live is not None:
            self.live.clear()
        self._close_line()
        if reason == "cancelled":
            self.warn(self._stopped())

    def _close_line(self) -> None:
        if self._last != "\n":
            say(self.out, "\n")
        self._last = "\n"


class RichOutput(Listening):
    """Replies rendered as Markdown while they stream, with dim notes; for terminals."""

    def __init__(self, console: Any, err_console: Any, show_thinking: bool = False, at_prompt: bool = False):
        # show_thinking: a reasoning model's thinking in full, not folded.
        self.console, self.err_console, self.show_thinking = console, err_console, show_thinking
        # Where folded thinking is shown whole: /think at the prompt; after a one-shot, the last thread's.
        self.thinking_hint = "/think shows it" if at_prompt else "chat show --thinking shows it"
        # Where a subgraph's folded words are shown whole: from then on, as all thinking is.
        self.aside_hint = "/think on shows them whole" if at_prompt else "CHATCLI_SHOW_THINKING=1 shows them whole"
        self._stream: Any = None
        self._thinking: Any = None  # chatcli.ui.thinking.ThinkingView while the model thinks
        self._aside: str | None = None  # the subgraph whose words ``_thinking`` shows (None: the model's thinking)
        self._shown: set[Any] = set()  # calls whose block was shown, as they started or were asked about
        from chatcli.ui.toolblocks import LiveLine

        self._live = LiveLine(err_console.file)  # the call running now, on stderr when it is a terminal

    def start_reply(self, start: Start | None = None) -> None:
        from chatcli.ui.markdown.stream import MarkdownStream

        self._stream = MarkdownStream(self.console)

    def token(self, text: str) -> None:
        if self._stream is None:  # the answer goes on after a tool call, or after thinking
            if not text.strip():
                return
            self._settle()
            self.start_reply()
        self._stream.feed(neutralise(text))

    def speaker(self, name: str) -> None:
        """A graph's node speaks: its name, bold, on a line of its own before its text."""
        self._settle()
        self.console.print(neutralise(f"{name}:"), style="bold", markup=False, highlight=False)

    def end_reply(self, result: TurnResult) -> None:
        self._settle()
        for line in filter(None, (usage_line(result), left_out_line(result))):
            self.note(line)

    def abort(self, reason: str | None) -> None:
        self._settle()
        if reason == "cancelled":
            self.warn(self._stopped())

    def _settle(self) -> None:
        """End what is drawn live (the answer's last lines, the thinking, a running call) before anything else shows."""
        self._live.clear()
        if self._stream is not None:
            self._stream.finish()
            self._stream = None
        if self._thinking is not None:
            self._thinking.fold()
            self._thinking = None
        self._aside = None

    def thinking(self, text: str) -> None:
        """The thinking, live and then folded once the answer starts."""
        self.aside(None, text)

    def aside(self, source: str | None, text: str) -> None:
        """A subgraph's words (a subagent's), as thinking is shown: live and dim, then folded to one line naming
        it; in full with show_thinking (/think on). Never in the answer. ``source`` None: the model's thinking."""
        if self._thinking is None or self._aside != source:
            from chatcli.ui.thinking import ThinkingView

            self._settle()
            self._aside = source
            hint, says = (self.thinking_hint, None) if source is None else (self.aside_hint, f"subgraph {source}")
            self._thinking = ThinkingView(self.console, full=self.show_thinking, hint=hint, says=says)
        self._thinking.feed(text)

    # A compact dim block per tool call, between the parts of the answer.
    def asking(self, call: ToolCall) -> None:
        """About to be asked: the block shows once, before the question."""
        self.tool_call(call)

    def show_question(self, markdown: str) -> None:
        """An interrupt's question, rendered as the answer is."""
        from chatcli.ui.markdown.stream import render_markdown

        self._settle()
        show(self.console.file, render_markdown(neutralise(markdown), self.console))

    def tool_call(self, call: ToolCall) -> None:
        from chatcli.ui.toolblocks import call_block

        self._settle()
        if call.id not in self._shown:  # once: a graph's call shows before it is asked about, chat's own as it is
            self._shown.add(call.id)
            self.note(call_block(call))

    def progress(self, event: Progress) -> None:
        self._live.draw(event)

    def tool_result(self, result: ToolResult) -> None:
        from chatcli.ui.toolblocks import result_block

        self._settle()
        (self.warn if result.status == "refused" else self.note)(result_block(result))

    # Every line below the answer passes here: a server's error, a title or a question shown by
    # a command may hold escape sequences (a clipboard write, a retitle), shown, never obeyed.
    def note(self, text: str) -> None:
        self._line(text, "dim")

    def warn(self, text: str) -> None:
        self._line(text, "yellow")

    def error(self, text: str) -> None:
        self._line(f"error: {text}", "bold red")

    def _line(self, text: str, style: str) -> None:
        self._live.clear()
        self.err_console.print(neutralise(text), style=style, markup=False, highlight=False)


def make_output(
    out: IO[str],
    err: IO[str],
    *,
    dumb: bool = False,
    show_thinking: bool = False,
    ask: bool = False,
    terminal: IO[str] | None = None,
    at_prompt: bool = False,
) -> Output:
    """Rich rendering when stdout is a terminal, plain text otherwise (and in a ``dumb`` terminal).

    A reasoning model's thinking shows in a terminal only (folded unless ``show_thinking``), never in a pipe.
    ``ask``: tool calls that need approval are asked about in the terminal (else refused): ``terminal`` when
    given (the controlling terminal, stdin being a pipe), keys read from it alone.
    """
    output: Listening
    if not out.isatty() or dumb:
        output = PlainOutput(out, err, live=not dumb)
    else:
        output = RichOutput(terminal_console(out), terminal_console(err), show_thinking, at_prompt)
    if ask:
        from chatcli.ui.approval import TerminalApprover

        if terminal is not None:
            from prompt_toolkit.input import create_input

            keys = create_input(stdin=terminal)  # type: ignore[arg-type]  # IO[str], a TextIO at run time
            output.approver = TerminalApprover(output, terminal.fileno(), terminal, prompt_input=keys)
        else:
            output.approver = TerminalApprover(output)
    return output


def terminal_console(stream: IO[str], **options: Any) -> Console:
    """A rich Console on ``stream`` whose every write passes chatcli.text (only chat's own sequences stay live)."""
    from rich.console import Console

    # A file to rich: it writes and flushes, and asks isatty, fileno and encoding.
    return Console(file=cast(IO[str], TerminalFile(stream)), **options)

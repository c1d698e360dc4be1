"""What every listener of a turn does with its events (chatcli.core.events): each to a method of its own.

The outputs of the terminal and the pipe (chatcli.ui), the JSON outputs (chatcli.service.json_events) and
``chat serve``'s stream all hear a turn through this one routing.
"""

from __future__ import annotations

from chatcli.core import events as ev


class Router:
    """A turn's events, each to its method. ``thread_note``, if set, is said once when a turn's question has
    made a new thread ("{id}" is its id)."""

    thread_note: str | None = None
    _running: str | None = None  # the tool call running now, to say what a stop cut short
    says_the_result: bool = False  # an output of the result as an object: a Notice ``in_result`` is in it already
    stops_said: int = 0  # replies whose stop (Ctrl-C) was said: a stop before the reply began is said by its caller

    def hear(self, event: ev.TurnEvent) -> None:
        if isinstance(event, ev.Token):
            self.token(event.text)
        elif isinstance(event, ev.Speaker):
            self.speaker(event.name)
        elif isinstance(event, ev.Thinking):
            self.thinking(event.text)
        elif isinstance(event, ev.Aside):
            self.aside(event.source, event.text)
        elif isinstance(event, ev.ToolCall):
            self._running = event.label or event.name
            self.tool_call(event)
        elif isinstance(event, ev.Progress):
            self.progress(event)
        elif isinstance(event, ev.ToolResult):
            self._running = None
            self.tool_result(event)
        elif isinstance(event, ev.Notice):
            if not (event.in_result and self.says_the_result):
                (self.warn if event.warn else self.note)(event.text)
        elif isinstance(event, ev.Start):
            self.start_reply(event)
            if event.created and self.thread_note:
                self.note(self.thread_note.format(id=event.thread_id))
                self.thread_note = None
        elif isinstance(event, ev.End):
            if event.result.interrupted == "cancelled":
                self.stops_said += 1
                self.abort("cancelled")
            elif event.result.interrupted == "error":
                self.abort(None)  # the error line says what was kept
            else:
                self.end_reply(event.result)

    def start_reply(self, start: ev.Start) -> None:
        """A reply begins."""

    def token(self, text: str) -> None:
        """The next piece of the reply."""

    def speaker(self, name: str) -> None:
        """The text that follows is the graph's node ``name``'s."""

    def thinking(self, text: str) -> None:
        """The next piece of a reasoning model's thinking: shown in a terminal only."""

    def aside(self, source: str, text: str) -> None:
        """The next piece of a subgraph's own words (a subagent's, under its namespace ``source``): not the answer's."""

    def tool_call(self, call: ev.ToolCall) -> None:
        """A call starts to run."""

    def progress(self, event: ev.Progress) -> None:
        """A call still runs (each second, and when the tool tells how far it got): shown live in a terminal."""

    def tool_result(self, result: ev.ToolResult) -> None:
        """A call ended (ran, failed or was refused)."""

    def end_reply(self, result: ev.TurnResult) -> None:
        """The reply streamed to its end (``result.interrupted`` says if it is incomplete)."""

    def abort(self, reason: str | None) -> None:
        """The reply stopped early: "cancelled" (Ctrl-C), or None (a failure, reported apart)."""

    def note(self, text: str) -> None:
        raise NotImplementedError

    def warn(self, text: str) -> None:
        raise NotImplementedError

    def _stopped(self) -> str:
        """The line for a reply stopped by Ctrl-C (or a signal): what was stopped, what the thread keeps."""
        running, self._running = self._running, None
        if running:
            return (
                f"stopped: the tool call {running} was cancelled (the thread keeps it as cancelled, with "
                "everything before it)"
            )
        return "stopped: the partial answer is kept in the thread"

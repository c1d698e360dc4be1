"""Output for scripts: one JSON object per answer (--json), or JSON lines as it streams (--jsonl).

These plug into the same ``ask()`` path as the terminal and pipe outputs. stdout carries only
JSON: the final object (``done``) or, when the command fails, an error object; notes and the
usual one-line error go to stderr.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from chatcli.chat.events import Start, ToolCall, ToolResult, TurnResult
from chatcli.chat.failures import describe
from chatcli.config import Settings
from chatcli.text import is_terminal, json_text, say
from chatcli.ui.output import StderrNotes


def usage_object(result: TurnResult | None) -> dict[str, int] | None:
    """The server's token counts in OpenAI's names, or None when it sent none."""
    usage = result.usage if result else None
    if not usage:
        return None
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


class JsonOutput(StderrNotes):
    """``--json`` (``lines=False``): one object at the end; ``--jsonl``: a line per chunk, then the end.

    ``thread_id`` and ``model`` (the configured model) are filled in by the caller once known.
    """

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None, *, lines: bool = False):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.lines = lines
        self.thread_id: str | None = None
        self.model: str | None = None
        self._parts: list[str] = []
        self._result: TurnResult | None = None
        self._started: float | None = None
        self._first: float | None = None
        self._ended: float | None = None
        self._finished = False  # the final object (done or error) is out
        self._calls: list[dict[str, Any]] = []  # tool calls of the answer, with their results
        self._reasoning: list[str] = []  # a reasoning model's thinking

    # ---- a turn's events ---------------------------------------------------------------------

    def start_reply(self, start: Start) -> None:
        self.thread_id = start.thread_id
        self._calls = []
        self._reasoning = []
        self._parts = []
        self._result = None
        self._started = time.monotonic()
        self._first = self._ended = None

    def token(self, text: str) -> None:
        if self._first is None:
            self._first = time.monotonic()
        self._parts.append(text)
        if self.lines:
            self._write({"type": "token", "text": text})

    # --jsonl: a reasoning, tool_call or tool_result line each; --json: kept for the object's
    # ``reasoning`` and ``tool_calls``. A call that was refused also gets its stderr line.
    def thinking(self, text: str) -> None:
        self._reasoning.append(text)
        if self.lines:
            self._write({"type": "reasoning", "text": text})

    def tool_call(self, call: ToolCall) -> None:
        if self.lines:
            self._write(call.record())

    def tool_result(self, result: ToolResult) -> None:
        if result.status == "refused":
            StderrNotes.tool_result(self, result)
        record = {k: v for k, v in result.call.record().items() if k != "type"}
        self._calls.append({**record, "status": result.status, "result": result.content, "seconds": result.seconds})
        if self.lines:
            self._write(result.record())

    def end_reply(self, result: TurnResult) -> None:
        self._ended = time.monotonic()
        self._result = result
        if result.interrupted and not result.waiting:
            return  # ask() raises the matching error next, and fail() reports it with the partial reply
        done = {
            "thread_id": self.thread_id,
            "reply": result.text,
            "model": result.model or self.model,
            "usage": usage_object(result),
            "cost_usd": result.known_cost,  # null: not priced, or the model's price is unknown
            "timing": self._timing(),
            "finish_reason": result.finish_reason,
        }
        done["tool_calls"] = self._calls
        done["turns_left_out"] = result.turns_left_out
        done["reasoning"] = "".join(self._reasoning) or None
        if result.waiting:  # `chat serve`: the calls that wait for an approval request
            done["approval_required"] = [
                {k: v for k, v in call.record().items() if k != "type"} for call in result.waiting
            ]
        self._final({"type": "done", **done} if self.lines else done)

    def abort(self, reason: str | None) -> None:
        self._ended = time.monotonic()
        if reason == "cancelled":
            self.warn(self._stopped())

    # ---- failures -----------------------------------------------------------------------------

    def fail(self, exc: BaseException, settings: Settings | None = None) -> None:
        """Report a failure of the command as the final object, its message and exit code as on stderr (printed apart)."""
        failure = describe(exc, settings)
        result = self._result
        obj = {
            "thread_id": self.thread_id,
            "reply": result.text if result else "".join(self._parts),
            "model": (result.model if result else None) or self.model,
            "finish_reason": result.finish_reason if result else None,
            "tool_calls": self._calls,
            "reasoning": "".join(self._reasoning) or None,
            "turns_left_out": result.turns_left_out if result else 0,
            "error": {"message": failure.line, "exit_code": int(failure.exit_status)},
        }
        self._final({"type": "error", **obj} if self.lines else obj)

    # ---- writing ------------------------------------------------------------------------------

    def _timing(self) -> dict[str, float | None]:
        start = self._started
        if start is None:
            return {"total_s": None, "first_token_s": None}
        end = self._ended if self._ended is not None else time.monotonic()
        first = None if self._first is None else round(self._first - start, 3)
        return {"total_s": round(end - start, 3), "first_token_s": first}

    def _final(self, obj: dict[str, Any]) -> None:
        if self._finished:
            return  # one final object per run
        self._finished = True
        self._write(obj)

    def _write(self, obj: dict[str, Any]) -> None:
        # In a terminal, escape everything non-ASCII too; anywhere, every control character.
        say(self.out, json_text(obj, ensure_ascii=is_terminal(self.out)) + "\n", data=True)

"""The inbox: every question chat waits on for the user, across threads and doors, and answers given ahead.

A thread that ends a turn waiting on the user (a tool call to approve, a tool's server's question, a graph's
interrupt) is listed in the store's inbox by the service itself (``Thread``), whichever door ran the turn: the
prompt, a one-shot, ``chat serve``, ``chat acp`` or a background reply. It leaves the inbox once a turn ends with
nothing waiting. ``Answers`` are answers given before the questions are asked again: ``chat serve``'s approvals
request and ``chat inbox answer`` carry them, and the turn that goes on reads them where it would have asked.

Public API::

    asked_of(pending) -> list[Asked]            # what a thread waits on, a line each (the inbox's rows)
    Answers(decisions, answers)                  # answers by call id and by interrupt id
    Answers.of_json(text)                        # as chat serve's approvals request and chat inbox answer - read them
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from chatcli.core.elicitation import Elicitation, Elicited, answer_of
from chatcli.core.events import Decision, Question, Reply, Review, ToolCall
from chatcli.core.interrupts import Pending
from chatcli.errors import UsageError
from chatcli.store.base import Asked

# How much of a call's arguments or a question's value a row of the inbox shows.
SHOWN = 200
# The most an answers document may hold (read from a file or a pipe).
MAX_ANSWERS = 1024 * 1024


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def asked_of(pending: Iterable[Pending]) -> list[Asked]:
    """What a thread waits on (chatcli.core.interrupts.Pending), a line each: a call to approve (by call id), a
    tool's server's question or a graph's interrupt (by interrupt id)."""
    asked: list[Asked] = []
    for item in pending:
        if item.is_approval:
            asked += [
                Asked("approval", call.id, f"run {call.label or call.name} {_short(call.arguments)}")
                for call in item.calls
            ]
        elif item.elicitation is not None:
            question = item.elicitation
            fields = question.url or ", ".join(f.name for f in question.fields)
            said = f"{question.server or question.tool} asks: {question.message}" + (f" ({fields})" if fields else "")
            asked.append(Asked("question", item.id or "", _short(said)))
        else:
            asked.append(Asked("interrupt", item.id or "", _short(item.value)))
    return asked


def answer_to(question: Elicitation, value: Any) -> Elicited:
    """``value`` as the answer to a tool's question; UsageError when it does not fit the question."""
    try:
        return answer_of(value, question)
    except ValueError as exc:
        raise UsageError(f"not an answer to the tool's question: {exc}") from None


@dataclass(frozen=True)
class Answers:
    """Answers given ahead: a decision about each call, by call id (``{"action": "yes" | "no", "args"?: {...},
    "reason"?: "...", "always"?: true}``, or ``{"action": "respond", "reason": "the answer"}`` where the call allows
    it), and an answer to each question, by interrupt id (a tool's question:
    ``{"action": "accept", "content": {...}}``, "decline" or "cancel"; a graph's interrupt: the value it resumes
    with). A call or question they do not answer is the listener's to handle as it would without them."""

    decisions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    answers: Mapping[str, Any] = field(default_factory=dict)

    def decision(self, call: ToolCall) -> Decision | None:
        """The decision about ``call``; None if none was given."""
        answer = self.decisions.get(call.id)
        if not isinstance(answer, Mapping):
            return None
        reason = answer.get("reason") if isinstance(answer.get("reason"), str) else None
        if answer.get("action") == "yes":
            args = answer.get("args") if isinstance(answer.get("args"), dict) else None
            return Decision("yes", args=args, always=answer.get("always") is True)
        if answer.get("action") == "respond":  # the user's answer, for the tool's (where the call allows it: check)
            return Decision("respond", reason=reason or "")
        return Decision("no", reason=reason)

    def reply(self, question: Question) -> Reply | None:
        """The value a graph's interrupt resumes with; None if none was given."""
        return None if question.id is None or question.id not in self.answers else Reply(self.answers[question.id])

    def elicited(self, question: Elicitation) -> Elicited | None:
        """The answer to a tool's question (UsageError when it does not fit the question); None if none was given."""
        if question.id is None or question.id not in self.answers:
            return None
        return answer_to(question, self.answers[question.id])

    def check(self, pending: Iterable[Pending]) -> None:
        """UsageError unless these answers fit what the thread waits on (``pending``): an answer to a tool's question
        that does not fit its form, or answers that answer none of it, change nothing."""
        waiting = list(pending)
        calls = {call.id for item in waiting for call in item.calls}
        questions = {item.id for item in waiting if not item.is_approval}
        if not (set(self.decisions) & calls or set(self.answers) & questions):
            raise UsageError("these answers answer nothing the thread waits on", hint="chat inbox --json lists it")
        for item in waiting:
            if item.elicitation is not None:
                self.elicited(item.elicitation)
            for call, review in zip(item.calls, item.reviews or (Review(),) * len(item.calls)):
                if (self.decisions.get(call.id) or {}).get("action") == "respond" and "respond" not in review.allowed:
                    raise UsageError(f"call {call.id} takes no typed answer: yes or no", hint="GET .../waiting says")

    @classmethod
    def of_json(cls, text: str) -> Answers:
        """Answers from their JSON (``to_json``'s, or chat serve's approvals request's body); UsageError if not."""
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict) or set(value) - {"decisions", "answers"}:
            raise UsageError('answers are a JSON object {"decisions": {CALL_ID: {...}}, "answers": {ID: ...}}')
        decisions, answers = value.get("decisions") or {}, value.get("answers") or {}
        if not isinstance(decisions, dict) or not all(isinstance(d, dict) for d in decisions.values()):
            raise UsageError('"decisions" is an object of decisions by call id')
        if not isinstance(answers, dict):
            raise UsageError('"answers" is an object of answers by interrupt id')
        return cls(decisions, answers)

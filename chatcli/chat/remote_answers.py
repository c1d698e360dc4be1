"""The answers to the interrupts a run stopped at, asked of the turn's listener.

A value in LangChain's human-in-the-loop shape (``action_requests`` / ``review_configs``) is asked
as chat asks about a tool call: approve, edit or reject, with a reason; the answer is a
``{"decisions": [...]}``. Any other value cannot be asked here yet: the thread waits at it.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from chatcli.chat.events import Listener, Notice, ToolCall


def is_review(value: Any) -> bool:
    """True for an interrupt value in LangChain's human-in-the-loop shape."""
    return isinstance(value, dict) and isinstance(value.get("action_requests"), list)


async def review(interrupt_id: str, value: Mapping[str, Any], listener: Listener) -> dict[str, Any] | None:
    """The decisions about each action the value asks to review; None when the listener answers later."""
    decisions = []
    for number, action in enumerate(value["action_requests"]):
        name = str(action.get("name") or action.get("action") or "action")
        call = ToolCall(f"{interrupt_id}:{number}", name, name, None, action.get("args") or {})
        decision = await listener.approve(call)
        if decision.action == "later":
            return None
        if decision.action == "yes" and decision.args is not None and decision.args != call.arguments:
            decisions.append({"type": "edit", "edited_action": {"name": name, "args": decision.args}})
        elif decision.action == "yes":
            decisions.append({"type": "approve"})
        else:
            decisions.append({"type": "reject", "message": decision.reason or decision.by or "refused by the user"})
    return {"decisions": decisions}


async def answer_interrupts(interrupts: list[Mapping[str, Any]], listener: Listener) -> Any:
    """The resume value for ``interrupts`` (one value, or a map by interrupt id); None when the thread waits."""
    answers: dict[str, Any] = {}
    for interrupt in interrupts:
        key, value = str(interrupt.get("id")), interrupt.get("value")
        answer = await review(key, value, listener) if is_review(value) else None
        if answer is None:
            if not is_review(value):
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                listener.hear(Notice(f"the graph waits for an answer: {shown}", warn=True))
            return None
        answers[key] = answer
    return next(iter(answers.values())) if len(answers) == 1 else answers

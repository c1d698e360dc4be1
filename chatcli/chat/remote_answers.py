"""The answers to the interrupts a run on a LangGraph server stopped at, asked of the turn's listener.

The interrupts are read as chatcli.chat.interrupts reads every graph's: an approval (LangChain's
human-in-the-loop shapes, chat's own) is asked call by call as chat asks about its tool calls; any
other value is shown and answered with a line of text or JSON. The run resumes with the answers.
"""

from __future__ import annotations

from typing import Any, Mapping

from chatcli.chat.events import Decision, Listener


async def answer_interrupts(
    interrupts: list[Mapping[str, Any]], listener: Listener, always: set[str] | None = None
) -> Any:
    """The resume value for ``interrupts`` (one value, or a map by interrupt id); None when nobody can answer
    now (the thread waits at them). ``always``: the tools "always" was chosen for in this session."""
    from chatcli.chat.interrupts import approval_answer, pending_of, resume_value
    from chatcli.chat.toolcalls import REFUSED_REST

    always = set() if always is None else always
    pending, values = pending_of(interrupts), []
    for waiting in pending:
        if not waiting.is_approval:
            reply = await listener.answer(waiting.question())
            if reply is None:
                return None
            values.append(reply.value)
            continue
        decisions: list[Decision] = []
        for call, review in zip(waiting.calls, waiting.reviews):
            decision = Decision("yes") if call.name in always else await listener.approve(call, review)
            if decision.action == "later":
                return None
            if decision.rest:
                decisions += [Decision("no", by=REFUSED_REST)] * (len(waiting.calls) - len(decisions))
                break
            if decision.always and decision.action == "yes":
                always.add(call.name)
            decisions.append(decision)
        values.append(approval_answer(waiting, decisions))
    return resume_value(pending, values)

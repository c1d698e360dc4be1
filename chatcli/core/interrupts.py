"""What a graph's interrupt asks, and the value it is resumed with: LangChain's human-in-the-loop shapes, chat's
own older shape, and any other value. Pure data, no LangGraph: a local graph, chat's own tools step and a
deployed graph (langgraph-sdk) all read and answer their interrupts here.

The shapes (LangChain's ``HumanInTheLoopMiddleware``):

- **"hitl"**, one request for a batch of calls: ``{"action_requests": [{"name", "args", "description"?}],
  "review_configs": [{"action_name", "allowed_decisions": [...]}]}``, resumed with ``{"decisions": [...]}``,
  one decision per action request, in order: ``{"type": "approve"}``, ``{"type": "edit", "edited_action":
  {"name", "args"}}``, ``{"type": "reject", "message"?}``, ``{"type": "respond", "message"}``. chat's own
  tools step asks in this shape (``approval_request``); its action requests also carry chat's ``id``,
  ``label`` and ``server`` of each call, and its decisions the ``tool_call_id`` they answer (so a decision
  finds its call even when the batch asked again is shorter) and, for a refusal nobody typed, ``by``.
- **"tool_approval"**, one call per interrupt (the middleware's per-call mode): ``{"type":
  "tool_approval", "tool_call_id", "name", "args", "description"}``, resumed with one decision.
- **"calls"**, what chat's tools step asked before: ``{"calls": [{"id", "name", "label", "server",
  "arguments"}]}``. A thread stored waiting on it is still asked and answered (``decisions_by_call``
  reads every shape of answer).
- **"elicitation"**, a question a tool's server asks in the middle of its call (chatcli.core.elicitation):
  ``{"type": "elicitation", "mode", "message", "tool_call_id", "tool", "server", "requested_schema" | "url"}``,
  resumed with ``{"action": "accept", "content": {...}}``, ``{"action": "decline"}`` or ``{"action": "cancel"}``.
- **"value"**: anything else, shown to the user and answered with a line of text or JSON (``typed_answer``).

Public API::

    read(value, interrupt_id=None) -> Pending           # one interrupt, as chat asks it
    pending_of(interrupts) -> list[Pending]             # a state's interrupts (objects or SDK dicts)
    approval_answer(pending, decisions) -> value        # the resume value of an approval (chat Decisions)
    decision_record(call, decision, keyed) -> dict      # one Decision as a human-in-the-loop decision
    approval_request(calls) -> dict                     # chat's own tools step: its interrupt value
    decisions_by_call(answer, asked) -> {id: stored}    # chat's own tools step: any answer, per call id
    resume_value(pending, values) -> value              # Command(resume=...): one value, or {id: value}
    typed_answer(text) -> value                         # a typed line: its JSON value, else the text
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from chatcli.core.elicitation import Elicitation
from chatcli.core.events import CHAT_DECISIONS, DECISIONS, Decision, Question, Review, ToolCall

APPROVALS = ("hitl", "tool_approval", "calls")  # the shapes that ask about tool calls

# What a call is answered with when the user refused it and every later call of its reply at once ("q").
REFUSED_REST = "not run: the user refused this call and every later call of this reply at once"


@dataclass(frozen=True)
class Pending:
    """One interrupt a thread waits on: its ``id``, the ``value`` the graph raised, its ``shape`` ("hitl",
    "tool_approval", "calls", "elicitation" or "value"); for an approval, the ``calls`` to decide on and each
    one's ``review`` (in the same order). ``keyed``: the request names its calls by id (chat's own). For an
    elicitation, the ``elicitation`` asked."""

    id: str | None
    value: Any
    shape: str = "value"
    calls: tuple[ToolCall, ...] = ()
    reviews: tuple[Review, ...] = ()
    keyed: bool = False
    elicitation: Elicitation | None = None

    @property
    def is_approval(self) -> bool:
        return self.shape in APPROVALS

    def question(self) -> Question:
        """The interrupt as a question that is no approval."""
        return Question(self.value, self.id)


def _allowed(config: Any) -> tuple[str, ...]:
    wanted = config.get("allowed_decisions") if isinstance(config, dict) else None
    if not isinstance(wanted, list):
        return CHAT_DECISIONS
    return tuple(d for d in DECISIONS if d in wanted) or CHAT_DECISIONS


def _arguments(action: dict[str, Any]) -> Any:
    """An action's arguments: ``args`` (``arguments`` in LangChain's first releases of the middleware)."""
    return action.get("args", action.get("arguments", {}))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _hitl(value: dict[str, Any], interrupt_id: str | None) -> Pending:
    actions = [a for a in value["action_requests"] if isinstance(a, dict)]
    configs = [c for c in value.get("review_configs") or [] if isinstance(c, dict)]
    by_name = {c.get("action_name"): c for c in configs}
    keyed = bool(actions) and all(isinstance(a.get("id"), str) for a in actions)
    calls, reviews = [], []
    for n, action in enumerate(actions):
        name = str(action.get("name") or "")
        config = configs[n] if len(configs) == len(actions) else by_name.get(name)
        call_id = action["id"] if keyed else f"{interrupt_id or 'action'}-{n}"
        label = _text(action.get("label")) or name
        calls.append(ToolCall(call_id, name, label, action.get("server"), _arguments(action)))
        described = _text(action.get("description")) or _text((config or {}).get("description"))
        hook = keyed and action.get("hook") is True  # chat's own call a hook wants asked about
        reviews.append(Review(_allowed(config), None if keyed else described, asked=hook))
    return Pending(interrupt_id, value, "hitl", tuple(calls), tuple(reviews), keyed)


def read(value: Any, interrupt_id: str | None = None) -> Pending:
    """The interrupt ``value`` (raised with id ``interrupt_id``) as chat asks it."""
    if isinstance(value, dict) and isinstance(value.get("action_requests"), list):
        return _hitl(value, interrupt_id)
    asked = Elicitation.of(value, interrupt_id)
    if asked is not None:
        return Pending(interrupt_id, value, "elicitation", elicitation=asked)
    if isinstance(value, dict) and value.get("type") == "tool_approval" and isinstance(value.get("name"), str):
        given = value.get("tool_call_id")
        call_id: str = given if isinstance(given, str) else interrupt_id or "call"
        call = ToolCall(call_id, value["name"], value["name"], None, _arguments(value))
        review = Review(CHAT_DECISIONS, _text(value.get("description")))
        return Pending(interrupt_id, value, "tool_approval", (call,), (review,))
    calls = value.get("calls") if isinstance(value, dict) else None
    if isinstance(calls, list) and calls and all(isinstance(c, dict) and "id" in c and "name" in c for c in calls):
        shown = tuple(
            ToolCall(c["id"], c["name"], c.get("label") or c["name"], c.get("server"), c.get("arguments"))
            for c in calls
        )
        return Pending(interrupt_id, value, "calls", shown, tuple(Review() for _ in shown), keyed=True)
    return Pending(interrupt_id, value)


def pending_of(interrupts: Iterable[Any]) -> list[Pending]:
    """The interrupts of a state (LangGraph's ``Interrupt`` objects, or the SDK's ``{"value", "id"}`` dicts)."""

    def get(item: Any, key: str) -> Any:
        return item.get(key) if isinstance(item, dict) else getattr(item, key, None)

    return [read(get(item, "value"), get(item, "id")) for item in interrupts or ()]


def decision_record(call: ToolCall, decision: Decision, keyed: bool = False) -> dict[str, Any]:
    """``decision`` about ``call`` as a human-in-the-loop decision; ``keyed`` adds the call's id (and who
    refused, when nobody typed it), for chat's own tools step."""
    if decision.action == "yes" and decision.args is not None and decision.args != call.arguments:
        record: dict[str, Any] = {"type": "edit", "edited_action": {"name": call.name, "args": decision.args}}
    elif decision.action == "yes":
        record = {"type": "approve"}
    elif decision.action == "respond":
        record = {"type": "respond", "message": decision.reason or ""}
    else:
        message = decision.reason or (None if keyed else decision.by)  # by: the graph tells its model nobody was asked
        record = {"type": "reject", **({"message": message} if message else {})}
    if keyed:
        record["tool_call_id"] = call.id
        if decision.by and record["type"] == "reject":
            record["by"] = decision.by
    return record


def approval_answer(pending: Pending, decisions: list[Decision]) -> Any:
    """The value ``pending`` (an approval) is resumed with: ``decisions``, one per call, in its shape."""
    records = [decision_record(call, d, pending.keyed) for call, d in zip(pending.calls, decisions)]
    return records[0] if pending.shape == "tool_approval" else {"decisions": records}


def approval_request(calls: list[ToolCall], hooks: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The interrupt chat's own tools step raises for ``calls``: a human-in-the-loop request, each action
    with chat's id, label and server of its call (a client such as agent-chat-ui reads name and args); ``hooks``:
    the reason a hook gave for having the user asked about a call (by its id), which nothing approves in advance."""
    actions, configs = [], []
    for call in calls:
        where, hook = f" ({call.server})" if call.server else "", (hooks or {}).get(call.id)
        said = hook or f"chat asks before it runs {call.label}{where}"
        action = {"name": call.name, "args": call.arguments, "description": said, "id": call.id, "label": call.label}
        actions.append({**action, "server": call.server, **({"hook": True} if hook else {})})
        configs.append({"action_name": call.name, "allowed_decisions": list(CHAT_DECISIONS)})
    return {"action_requests": actions, "review_configs": configs}


def _stored(record: Any) -> dict[str, Any]:
    """A human-in-the-loop decision in the form chat's tools step reads (``Decision.stored``)."""
    if not isinstance(record, dict):
        return {}
    kind, message = record.get("type"), _text(record.get("message"))
    if kind == "approve":
        return {"action": "yes"}
    if kind == "edit":
        edited = record.get("edited_action")
        arguments = _arguments(edited) if isinstance(edited, dict) else None
        return {"action": "yes", "args": arguments} if isinstance(arguments, dict) else {"action": "yes"}
    if kind == "respond":
        return {"action": "respond", "reason": record.get("message") if isinstance(record.get("message"), str) else ""}
    by = {"by": record["by"]} if _text(record.get("by")) else {}
    return {"action": "no", **({"reason": message} if message else {}), **by}


def decisions_by_call(answer: Any, asked: list[ToolCall]) -> dict[str, dict[str, Any]]:
    """Each asked call's decision in ``answer`` (any shape: ``{"decisions": [...]}``, one decision, or chat's
    older ``{CALL_ID: {"action": ...}}``), as ``Decision.stored()`` forms by call id; a call it names
    nothing for is absent (not run). Decisions that name their call are matched by id, others in order."""
    if not isinstance(answer, dict):
        return {}
    if isinstance(answer.get("type"), str):
        answer = {"decisions": [answer]}
    records = answer.get("decisions")
    if not isinstance(records, list):  # chat's older answer, by call id
        return {call.id: answer[call.id] for call in asked if isinstance(answer.get(call.id), dict)}
    ids = {call.id for call in asked}
    found: dict[str, dict[str, Any]] = {}
    for n, record in enumerate(records):
        named = record.get("tool_call_id") if isinstance(record, dict) else None
        target = named if named in ids else (asked[n].id if named is None and n < len(asked) else None)
        if target is not None and target not in found:
            found[target] = _stored(record)
    return found


def resume_value(pending: list[Pending], values: list[Any]) -> Any:
    """What ``Command(resume=...)`` takes for the ``values`` answering ``pending``: ``{interrupt id: value}``, or
    the value itself when one interrupt waits that has no id.

    By id even for one: LangGraph gives a bare value to the next interrupt without an answer, which, for a node
    or task that asks twice, may be a later one than the question answered."""
    if len(pending) == 1 and pending[0].id is None:
        return values[0]
    return {p.id: value for p, value in zip(pending, values)}


def typed_answer(text: str) -> Any:
    """A line typed (or given with ``--resume``) as the value it means: JSON when it is JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text

"""The answer as scripts and HTTP clients get it: one typed definition of the ``--json`` object and of each
``--jsonl`` event, which the command line's JSON output and ``chat serve`` both serialize (and which is the
API's response model, so its OpenAPI document is made from it).

pydantic is imported with this module: only JSON output needs it (LangChain has loaded it by then anyway).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Usage(_Shape):
    """The server's token counts, in OpenAI's names."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Timing(_Shape):
    total_s: float | None = Field(description="Seconds from the question to the end of the answer.")
    first_token_s: float | None = Field(description="Seconds to the answer's first piece.")


class Call(_Shape):
    """A tool call as the user is shown it: ``label`` is the name the user knows, ``server`` where it runs."""

    id: str
    name: str
    label: str
    server: str | None
    arguments: Any = Field(description="An object; the raw text when the model's arguments could not be read.")


class CallDone(Call):
    """A call of the answer with how it ended (ok, error, timeout, refused, cancelled, interrupted)."""

    status: str
    result: str
    seconds: float


class Interrupt(_Shape):
    """An interrupt the thread waits on (a graph's, or a tool's question to the user): its id and its value."""

    id: str | None
    value: Any = Field(
        description="As the graph raised it: LangChain's human-in-the-loop request, any JSON, or a tool's question "
        '(an MCP elicitation): {"type": "elicitation", "mode": "form" | "url", "message", "tool_call_id", "tool", '
        '"server", "requested_schema" (form) or "url"}, answered with {"action": "accept", "content": {...}}, '
        '"decline" or "cancel".'
    )


class ErrorInfo(_Shape):
    message: str = Field(description="One line, as on stderr.")
    exit_code: int = Field(description="As the command line's.")
    limit: str | None = Field(
        None,
        description="Present only when a spending limit refused a model call before it was sent (exit_code 6): "
        'the setting\'s name, "max_cost_answer", "max_cost_thread", "max_cost_day" or "unpriced".',
    )


class SubgraphWords(_Shape):
    """What one subgraph of a graph said (a deepagents subagent, say): its namespace as LangGraph names it (the
    nodes it runs under, "/"-joined: "tools:call_1"), and its words."""

    namespace: str
    text: str


class _Reply(_Shape):
    thread_id: str | None
    node: int | None = Field(
        None,
        description="The node of the thread's tree this answer is (chat tree ID; --at NODE asks from it); null for "
        "an Agent Server's thread.",
    )
    reply: str = Field(description="The answer's text (the part that arrived, on a failure).")
    model: str | None
    finish_reason: str | None
    tool_calls: list[CallDone] = Field(default_factory=list)
    turns_left_out: int = Field(0, description="Earlier questions the context budget left out of the request.")
    turns_compacted: int = Field(
        0, description="Earlier questions folded into the thread's summary just before this answer (compaction)."
    )
    reasoning: str | None = Field(None, description="What a reasoning model thought first.")
    subgraphs: list[SubgraphWords] = Field(
        default_factory=list,
        description="What the graph's subgraphs said on the way (a subagent's words), each under its namespace, in "
        "order: never part of the reply.",
    )
    memories: list[str] = Field(
        default_factory=list, description="The ids of the remembered things the request carried (chat memory)."
    )


class Answer(_Reply):
    """The ``--json`` object of an answer."""

    usage: Usage | None = Field(None, description="The server's token counts; null when it sent none.")
    cost_usd: float | None = Field(None, description="Dollars, when the model's price is known.")
    timing: Timing
    approval_required: list[Call] | None = Field(
        None,
        description="Calls the thread waits on: answer them with POST .../approvals (chat serve), or with "
        "--resume '{\"decisions\": [...]}' (chat --graph).",
    )
    interrupts: list[Interrupt] | None = Field(
        None,
        description="Interrupts the thread waits on (chat --graph, approvals among them; a tool's question): the "
        'next call answers with --resume VALUE (chat serve: POST /v1/threads/ID/approvals {"answers": {ID: '
        "VALUE}} for a tool's question), which the graph gets as Command(resume=VALUE).",
    )


class Failure(_Reply):
    """The ``--json`` object of a run that failed: the part that arrived, and the error."""

    error: ErrorInfo


class Refusal(_Shape):
    """A request refused before any turn began (``chat serve``): the error alone."""

    error: ErrorInfo


# ---- the --jsonl events: each a line as it happens; the last is "done" (an Answer) or "error" (a Failure)


class TokenEvent(_Shape):
    type: Literal["token"] = "token"
    text: str


class ReasoningEvent(_Shape):
    type: Literal["reasoning"] = "reasoning"
    text: str


class SubgraphEvent(SubgraphWords):
    """The next piece of a subgraph's words (not the answer's)."""

    type: Literal["subgraph"] = "subgraph"


class ToolCallEvent(Call):
    type: Literal["tool_call"] = "tool_call"


class ToolResultEvent(Call):
    type: Literal["tool_result"] = "tool_result"
    status: str
    content: str
    seconds: float
    view: dict[str, Any] | None = Field(
        None,
        description='The MCP App its tool shows its calls in: {"uri": "ui://...", "result": the whole CallToolResult '
        "(None when larger than 1 MB)}; GET /v1/apps/SERVER/view?uri=URI serves it.",
    )


class ProgressEvent(_Shape):
    """A call still running: about once a second, and at each progress notification of its MCP server."""

    type: Literal["progress"] = "progress"
    id: str
    name: str
    label: str
    seconds: float = Field(description="Since the call began.")
    progress: float | None = Field(None, description="How far the tool says it got (of ``total``), when it says.")
    total: float | None = None
    message: str | None = Field(None, description="The tool's own words on its progress (at most 200 characters).")


class ApprovalEvent(Call):
    type: Literal["approval"] = "approval"


class InterruptEvent(Interrupt):
    """The graph waits on this interrupt (the ``done`` object's ``interrupts`` has it too)."""

    type: Literal["interrupt"] = "interrupt"


class NodeEvent(_Shape):
    """The tokens that follow are this node's (a graph of several nodes that speak)."""

    type: Literal["node"] = "node"
    name: str


class DoneEvent(Answer):
    type: Literal["done"] = "done"


class ErrorEvent(Failure):
    type: Literal["error"] = "error"


# Every --jsonl event's shape: each one above with a "type".
EVENTS = tuple(
    c for c in list(globals().values()) if isinstance(c, type) and issubclass(c, _Shape) and "type" in c.model_fields
)


def dumped(shape: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """``fields`` as ``shape`` defines them (checked: a field it lacks, or one of the wrong type, raises)."""
    return shape(**fields).model_dump(mode="json")

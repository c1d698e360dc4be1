"""What a turn tells whoever listens, as typed events, and the one protocol every listener implements.

The engine emits; the terminal output, the JSON outputs (and any other client) listen. A turn is
``Start``, then ``Thinking``, ``Token`` (after a ``Speaker`` when a graph's node speaks), ``ToolCall``,
``Progress`` (each second while a call runs), ``ToolResult``, ``Notice`` and ``Usage`` as they happen, then
always one ``End`` (also when it was stopped or failed). A ``Notice`` may also come between turns (an MCP
server that failed, a database another program holds). Approval is asked of the listener, one call at a
time (``approve``); a tool's question in the middle of its call, with ``elicit``; any other interrupt,
with ``answer``. A call's and its progress's ``record()`` is their JSON form (the ``--jsonl`` lines are
chatcli.core.answer's shapes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Protocol, Union

from chatcli.core.elicitation import NO_TERMINAL as NOBODY_TO_ASK
from chatcli.core.elicitation import Elicitation, Elicited


@dataclass
class TurnResult:
    """What one turn produced: the reply text and what is known about how it ended."""

    text: str
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    # Why the reply is not a whole answer: "cancelled", "error", "truncated" (no finish reason),
    # "length" (the model's output limit), "content_filter", or "empty" (no text at all);
    # None when complete.
    interrupted: str | None = None
    # The model that answered, as the server named it (None if it did not say).
    model: str | None = None
    # Estimated tokens of what was sent (system prompt, summary, history, question), and the budget.
    prompt_tokens_est: int | None = None
    context_tokens: int | None = None
    # Earlier questions (with their answers) the budget left out of the request.
    turns_left_out: int = 0
    # Earlier questions folded into the thread's summary just before this answer (an automatic compaction).
    turns_compacted: int = 0
    # The memories the turn's requests carried (their ids: chat memory lists them).
    memories: list[str] = field(default_factory=list)
    # What a reasoning model thought before (or between) its answers; "" if it said nothing of it.
    reasoning: str = ""
    # Calls the thread waits to have approved, when the listener answers later ("approval"); a graph that is
    # not chat's own: the interrupts it waits on (chatcli.core.interrupts.Pending), approvals or not ("interrupt").
    waiting: list[ToolCall] = field(default_factory=list)
    interrupts: list[Any] = field(default_factory=list)
    # What the answer's model calls cost in US dollars (None: not priced), and the models of the
    # calls whose price is unknown (then the cost is unknown too: never a guess).
    # ``local``: those of them that are local models, which no hosted price is taken for.
    cost_usd: float | None = None
    unpriced: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)

    def add_cost(self, usd: float | None, model: str | None, local: bool = False) -> None:
        """One model call's cost (chatcli.backends.own.pricing.Priced)."""
        if usd is None:
            self.unpriced.append(model or "the model")
            if local:
                self.local.append(model or "the model")
        else:
            self.cost_usd = round((self.cost_usd or 0.0) + usd, 10)

    @property
    def known_cost(self) -> float | None:
        """The answer's cost when every call of it has a price, else None."""
        return None if self.unpriced else self.cost_usd


@dataclass(frozen=True)
class Compacted:
    """What a compaction on purpose did (/compact, ``chat compact``): the questions it folded into the summary, the
    estimated tokens a request sent before and sends after, the focus it was given, its summariser call's
    usage and cost (``spent``: a TurnResult without text, so that it reads as a turn's usage line does), and
    whether the summary's answer ran past its room and was cut there (``cut``)."""

    turns: int
    before: int
    after: int
    focus: str | None
    spent: TurnResult
    cut: bool = False


@dataclass(frozen=True)
class Start:
    """A turn begins on ``thread_id``; ``created``: its question made the thread (it exists from now on); ``node``: the
    node of the thread's tree its answer is (chatcli.threads.tree; None where it is not known)."""

    thread_id: str
    created: bool = False
    node: int | None = None


@dataclass(frozen=True)
class Token:
    """The next piece of the answer."""

    text: str


@dataclass(frozen=True)
class Speaker:
    """The text that follows is the graph's node ``name``'s (a graph that is not chat's own, once more than one
    of its nodes has spoken)."""

    name: str


@dataclass(frozen=True)
class Thinking:
    """The next piece of what a reasoning model thinks."""

    text: str


@dataclass(frozen=True)
class Aside:
    """The next piece of what a subgraph of the graph said (a subagent's words, its namespace ``source``: the path of
    nodes it runs under, as LangGraph names it): its own, not the answer's."""

    source: str
    text: str


@dataclass(frozen=True)
class ToolCall:
    """A call of a tool as the user is shown it (and asked about): ``label`` is the name the user knows."""

    id: str
    name: str
    label: str
    server: str | None
    arguments: Any  # a dict; the raw text when the model's arguments could not be read
    # Where a command would run (a built-in shell's sandbox, said by its toolbox): shown, not part of the record.
    where: str = field(default="", compare=False)

    def record(self) -> dict[str, Any]:
        return {"type": "tool_call", **{k: v for k, v in asdict(self).items() if k != "where"}}


@dataclass(frozen=True)
class ToolResult:
    """How a call ended: ``status`` "ok", "error", "timeout", "refused", "cancelled" or "interrupted".

    ``message`` is the result as the thread stores it (a LangChain ToolMessage), built once.
    """

    call: ToolCall
    status: str
    content: str
    seconds: float = 0.0
    message: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Progress:
    """A call still running: the seconds since it began and, when the tool tells it, how far it got.

    Sent about once a second and whenever the tool reports progress (MCP's progress notifications:
    ``done`` of ``total``, and a ``message``, the tool's own words).
    """

    call: ToolCall
    seconds: float
    done: float | None = None
    total: float | None = None
    message: str | None = None

    def record(self) -> dict[str, Any]:
        call = {"id": self.call.id, "name": self.call.name, "label": self.call.label, "seconds": round(self.seconds, 1)}
        return {"type": "progress", **call, "progress": self.done, "total": self.total, "message": self.message}


@dataclass(frozen=True)
class Notice:
    """A line about what is going on, off the answer: ``warn`` for one the user should notice; ``in_result`` for
    one the turn's result says as well (turns compacted or left out), which an output of the result as an object
    (``--json``, ``--jsonl``) need not say again."""

    text: str
    warn: bool = False
    in_result: bool = False


Emit = Callable[[Any], None]  # where a step emits its events: the turn's stream, as a listener hears them


def saying(hear: Callable[[Any], object]) -> Callable[[str, bool], object]:
    """How a layer below the events (a hook's verdict) says a line to ``hear``: a ``Notice``, ``warn`` or not."""
    return lambda text, warn: hear(Notice(text, warn=warn))


@dataclass(frozen=True)
class Usage:
    """Tokens one model call used, as the server counted them (a tool round makes several calls)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    model: str | None = None


@dataclass(frozen=True)
class End:
    """The turn is over: ``result.interrupted`` says "cancelled", "error", another incompleteness, or None."""

    result: TurnResult


TurnEvent = Union[Start, Token, Speaker, Thinking, Aside, ToolCall, Progress, ToolResult, Notice, Usage, End]


# What may be decided about a call that waits for approval, in LangChain's human-in-the-loop words; chat's
# own tools take the first three (respond: the user answers in the tool's place, for "ask the user" tools).
DECISIONS = ("approve", "edit", "reject", "respond")
CHAT_DECISIONS = ("approve", "edit", "reject")


@dataclass(frozen=True)
class Review:
    """How a call that waits for approval may be answered: the ``allowed`` decisions (of ``DECISIONS``),
    and what the graph says of the call (a human-in-the-loop request's description), if anything."""

    allowed: tuple[str, ...] = CHAT_DECISIONS
    description: str | None = None
    asked: bool = False  # a hook wants the user asked: nothing approves it in advance (--yes, a pattern, "always")


@dataclass(frozen=True)
class Question:
    """An interrupt that is no approval: the graph's ``value`` (any JSON), shown to the user and answered
    with a line of text or JSON; ``id`` is the interrupt's."""

    value: Any
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """The answer to a ``Question``: the value the graph resumes with (``Command(resume=value)``)."""

    value: Any


@dataclass(frozen=True)
class Decision:
    """The answer about one call: run it ("yes", maybe with edited ``args``) or not ("no"); "respond": not
    run, ``reason`` is its result (the user answers for the tool); or "later": the turn ends there and the
    thread waits at the question (an HTTP client answers with a request, a script with ``--resume``).

    ``reason`` is the user's word to the model; ``by`` says who refused when it was not the user's
    choice; ``always`` lets the tool run without asking for the rest of the session; ``rest``
    refuses every later call of the same reply too.
    """

    action: Literal["yes", "no", "later", "respond"]
    args: dict[str, Any] | None = None
    reason: str | None = None
    by: str | None = None
    always: bool = False
    rest: bool = False

    def stored(self) -> dict[str, Any]:
        """The form the thread keeps (the answer to its approval interrupt)."""
        said = {"action": self.action, "args": self.args, "reason": self.reason, "by": self.by}
        return {k: v for k, v in said.items() if v is not None}


class Listener(Protocol):
    """Whoever hears a turn: the terminal, the JSON outputs, an HTTP stream."""

    def hear(self, event: TurnEvent) -> None:
        """One event, as it happens (never raises for the engine to handle)."""

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        """Whether ``call`` may run (answered as ``review`` allows; chat's own calls: None); a listener with
        nobody to ask refuses (``refuse``)."""

    async def answer(self, question: Question) -> Reply | None:
        """The answer to an interrupt that is no approval; None when nobody can answer now (the turn ends
        there and the thread waits at the question)."""

    async def elicit(self, question: Elicitation) -> Elicited | None:
        """The answer to a tool's question (chatcli.core.elicitation); a listener with nobody to ask declines
        (``declined``); None when the answer comes later (``--resume``, a request): the thread waits at it."""


# Why a call that needs approval was not run when nobody could be asked.
NO_TERMINAL = "not run: it needs the user's approval and there was no terminal to ask"


def refuse(call: ToolCall) -> Decision:
    """The answer when nobody can be asked: not run, and said why."""
    return Decision("no", by=NO_TERMINAL)


def declined(question: Elicitation) -> Elicited:
    """The answer to a tool's question when nobody can be asked: declined, and said why."""
    return Elicited("decline", why=NOBODY_TO_ASK)


def names_nodes(listener: object) -> bool:
    """Whether ``listener`` tells which node of the thread's tree each answer is (``Start.node``: the JSON outputs,
    chat serve's), so a turn reads the thread's tree first; a listener says so with ``names_nodes = True``."""
    return bool(getattr(listener, "names_nodes", False))


class Silent:
    """A listener that hears nothing and can ask nobody (tests, background work)."""

    def hear(self, event: TurnEvent) -> None:
        pass

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        return refuse(call)

    async def answer(self, question: Question) -> Reply | None:
        return None

    async def elicit(self, question: Elicitation) -> Elicited | None:
        return declined(question)


class Logged(Silent):
    """A process's listener between turns (``chat serve``'s, ``chat acp``'s): it asks nobody, and says each notice
    on stderr after ``prefix``."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def hear(self, event: TurnEvent) -> None:
        import sys

        from chatcli.text import say

        if isinstance(event, Notice):
            say(sys.stderr, f"{self.prefix}: {event.text}\n")

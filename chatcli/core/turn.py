"""One turn loop for every graph chat drives: run, ask what the graph waits on, resume, until it ends.

What differs between chat's own graph (chatcli.backends.own.turns), a graph of the user's
(chatcli.backends.graphs.turns) and a run on a LangGraph Agent Server (chatcli.backends.remote.run) is a small
``Source``: how one run streams, what an interrupt is, how a partial answer is kept and how a whole one
ends. The loop, the approval policy (``Approvals``), the reading of a model's chunks into events
(``tell_chunk``) and keeping what arrived when a turn stops early are written here once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

from chatcli.core.events import Decision, End, Listener, Review, Start, Thinking, Token, ToolCall, TurnResult, Usage
from chatcli.core.interrupts import REFUSED_REST, Pending, approval_answer, resume_value
from chatcli.errors import ModelError

if TYPE_CHECKING:
    from chatcli.core.graph_app import GraphApp
    from chatcli.tools.toolbox import Toolbox

Config = dict[str, Any]  # a thread's (or a checkpoint's) LangGraph config
# Characters one answer may hold, its thinking included (each of its events is bounded too: providers.bounded).
MAX_ANSWER = 16 * 1024 * 1024


def incomplete_reason(result: TurnResult) -> str | None:
    """Why a reply that streamed to its end is still not a whole answer, or None."""
    if result.finish_reason is None:
        return "truncated"  # the stream ended without saying why: a cut the server hid
    if result.finish_reason in ("length", "content_filter"):
        return result.finish_reason
    return "empty" if not result.text.strip() else None


@dataclass
class Progress:
    """How far a turn got: its text so far, the results of the calls that finished."""

    parts: list[str] = field(default_factory=list)
    # parts[round:] is the text of the model call streaming now (earlier ones are stored).
    round: int = 0
    done: dict[str, Any] = field(default_factory=dict)  # results of finished calls (ToolMessages), by call id
    reasoning: list[str] = field(default_factory=list)  # the thinking, as it arrived
    reasoning_round: int = 0
    size: int = 0  # characters of text and thinking so far
    ended: Any = None  # the thread's state (a StateSnapshot) as its run told it, or as the turn read it before

    def next_round(self) -> None:
        """A tool step ran: what streams next belongs to the next model call."""
        self.round = len(self.parts)
        self.reasoning_round = len(self.reasoning)

    def current(self) -> str:
        return "".join(self.parts[self.round :]).strip("\n") if self.round else "".join(self.parts)

    def thought(self) -> str:
        """The thinking of the model call streaming now."""
        return "".join(self.reasoning[self.reasoning_round :])


def tell_chunk(
    chunk: Any, listener: Listener, result: TurnResult, progress: Progress, before: Callable[[], None] | None = None
) -> tuple[str, str]:
    """A model's streamed piece (a LangChain AI message or chunk, from any provider) told as chat's events:
    its thinking, its text (after ``before()``, an answer going on after tool calls set apart), its
    usage; why it ended and its model noted in ``result``. Returns the thinking and the text it carried."""
    from chatcli.core.chunks import finish_of, thinking_of

    thought, piece = thinking_of(chunk), str(chunk.text)
    progress.size += len(thought) + len(piece)
    if progress.size > MAX_ANSWER:
        raise ModelError(
            f"the answer passed {MAX_ANSWER // (1024 * 1024)} MB: it stops here",
            hint="the part that arrived is kept; ask for less, or in parts",
        )
    if thought:
        progress.reasoning.append(thought)
        listener.hear(Thinking(thought))
    if piece:
        if before is not None:
            before()
        if progress.round and progress.round == len(progress.parts):
            progress.parts.append("\n\n")  # the answer goes on after tool calls
            listener.hear(Token("\n\n"))
        progress.parts.append(piece)
        listener.hear(Token(piece))
    tell_usage(chunk, listener, result)
    result.finish_reason = finish_of(chunk.response_metadata) or result.finish_reason
    result.model = chunk.response_metadata.get("model_name") or result.model
    return thought, piece


def tell_usage(chunk: Any, listener: Listener, result: TurnResult) -> None:
    """The token counts a model call's ``chunk`` carries, if any: added to the turn's, and told."""
    used = chunk.usage_metadata
    if used:  # each model call (tool round, subagent) counts its own
        from chatcli.core.chunks import add_usage

        result.usage = add_usage(result.usage, used)
        n = [int(used.get(key) or 0) for key in ("input_tokens", "output_tokens", "total_tokens")]
        listener.hear(Usage(n[0], n[1], n[2], chunk.response_metadata.get("model_name")))


class Source(Protocol):
    """What one kind of graph does its own way; ``Turns`` does the rest."""

    context_tokens: int | None  # the history's budget, told with the result (None: the graph's business)
    # A request's own review (its allowed decisions, its description) goes with each approval question: a
    # graph's human-in-the-loop request. Chat's own calls are asked without one (no graph to answer later).
    reviews: ClassVar[bool]

    @property
    def app(self) -> GraphApp:
        """The graph whose state of the thread a turn reads after a run that did not tell it (``Progress.ended``)."""

    async def begin(self, payload: Any, head: Config, progress: Progress) -> None:
        """A turn starts with ``payload`` (an input, or None / a resume: going on from a checkpoint)."""

    async def stream(
        self, payload: Any, config: Config, listener: Listener, result: TurnResult, progress: Progress
    ) -> None:
        """One run from ``config`` until it ends or an interrupt stops it, told to ``listener``."""

    def pending(self, state: Any) -> list[Pending]:
        """What the thread waits on in ``state`` (its snapshot: the interrupts this source asks about)."""

    def resumed(self, value: Any) -> Any:
        """What a run is made with to resume with ``value`` (``Command(resume=value)`` or its like)."""

    def shown_as(self, call: ToolCall, progress: Progress) -> ToolCall:
        """The call asked about, as the turn showed it."""

    async def keep(self, head: Config, progress: Progress, reason: str) -> None:
        """Keep what arrived of a turn that stopped early (``reason``: "cancelled" or "error") in the thread."""

    async def ended(
        self, head: Config, state: Any, result: TurnResult, waiting: list[Pending], progress: Progress
    ) -> None:
        """The run is over at ``state``, whole or waiting at ``waiting``: say in ``result`` how it ended (and mark
        it kept)."""


class Approvals:
    """Which calls run without asking, and "always" answers: a toolbox's own rules (its approve list, --yes,
    "always" by the tool as the user knows it) when chat runs the tools; otherwise --yes (``approve_all``)
    and "always" by the tool's name, for a graph's requests."""

    def __init__(self, toolbox: "Toolbox | None" = None, approve_all: bool = False):
        self.toolbox = toolbox
        self.approve_all = approve_all
        self.always: set[str] = set()

    def _entry(self, call: ToolCall) -> Any:
        return self.toolbox.find(call.name, call.id) if self.toolbox is not None else None

    def given(self, call: ToolCall, review: Review | None) -> bool:
        """True when ``call`` runs without asking."""
        if review is not None and ("approve" not in review.allowed or review.asked):
            return False
        if self.toolbox is not None:
            entry = self._entry(call)
            return entry is not None and bool(self.toolbox.preapproved(entry, call.arguments))
        return self.approve_all or call.name in self.always

    def allow(self, call: ToolCall) -> None:
        """``call``'s tool runs without asking for the rest of the session."""
        if self.toolbox is None:
            self.always.add(call.name)
        elif (entry := self._entry(call)) is not None:
            self.toolbox.allow(entry)

    def shown(self, call: ToolCall) -> ToolCall:
        """``call`` as the question shows it: with where it would run, when chat's toolbox runs it."""
        if self.toolbox is None:
            return call
        entry = self._entry(call)
        said = where(call.name, entry)
        return replace(call, where=said) if said and call.server == getattr(entry, "server", None) else call


class Turns:
    """Runs a thread's turns on ``source`` and tells a listener what happens (chatcli.core.events); ``last`` is
    the result of the latest turn, partial when it stopped or failed; ``ended`` the thread's state it ended at (its
    messages and what it waits on, as its last run told it or read after it), for its records while the thread is
    held: None once a turn starts, and when it stops early."""

    def __init__(self, source: Source, approvals: Approvals | None = None):
        self.source = source
        self.approvals = approvals or Approvals()
        self.last: TurnResult | None = None
        self.ended: Any = None

    async def run(
        self, payload: Any, start: Config, head: Config, listener: Listener, opening: Start, asking: Any = None
    ) -> TurnResult:
        """Run the graph with ``payload`` from ``start`` (a checkpoint's config) to its end, and tell it.

        ``head`` is the thread's own config, where a stopped reply is kept. What the graph waits on (tool
        calls to approve, questions) stops the run: the listener is asked, and the run resumed with the
        answers, as often as it asks; ``asking``, the thread's state as the turn read it, has what it waits on
        there asked before anything runs. ``End`` is told however it ends.
        """
        result = TurnResult(text="", context_tokens=self.source.context_tokens)
        progress = Progress(ended=asking)
        self.last, self.ended = result, None
        await self.source.begin(payload, head, progress)
        listener.hear(opening)
        waiting: list[Pending] = []
        try:
            while True:
                if progress.ended is None:
                    await self.source.stream(payload, start, listener, result, progress)
                self.ended, progress.ended = progress.ended or await self.source.app.aget_state(head), None
                pending = self.source.pending(self.ended)
                if not pending:
                    break
                waiting = pending  # asked: a stop here (a closed terminal, a kill) leaves it waiting, not refused
                values = await self._answers(pending, listener, progress)
                if values is None:  # answered later: the thread waits at the question
                    break
                payload, start, waiting = self.source.resumed(resume_value(pending, values)), head, []
        except BaseException as exc:
            self.ended = None
            await self._ended_early(exc, result, progress, listener, head, asked=bool(waiting))
            raise
        result.text, result.reasoning = "".join(progress.parts), "".join(progress.reasoning)
        await self.source.ended(head, self.ended, result, waiting, progress)
        listener.hear(End(result))
        return result

    async def _answers(self, pending: list[Pending], listener: Listener, progress: Progress) -> list[Any] | None:
        """The value answering each of ``pending``; None when the listener answers later."""
        values = []
        for asked in pending:  # each answer as a list of one (a typed answer may be JSON's null), None: later
            if asked.elicitation is not None:  # a tool's question, in the middle of its call
                answered = await listener.elicit(asked.elicitation)
                got = None if answered is None else [answered.resume(asked.elicitation)]
            elif not asked.is_approval:
                reply = await listener.answer(asked.question())
                got = None if reply is None else [reply.value]
            else:
                decisions = await self._decide(asked, listener, progress)
                got = None if decisions is None else [approval_answer(asked, decisions)]
            if got is None:
                return None
            values += got
        return values

    async def _decide(self, asked: Pending, listener: Listener, progress: Progress) -> list[Decision] | None:
        """The decisions about an approval's calls, asked one by one: "always" holds for the rest of the
        session, "q" refuses the rest of the batch; None when the listener answers later."""
        decisions: list[Decision] = []
        for call, review in zip(asked.calls, asked.reviews):
            if self.approvals.given(call, review):
                decisions.append(Decision("yes"))
                continue
            shown = self.approvals.shown(self.source.shown_as(call, progress))
            asked_with = (review,) if self.source.reviews else ()  # chat's own calls are asked without one
            decision = await listener.approve(shown, *asked_with)
            if decision.action == "later":
                return None
            if decision.rest:
                return decisions + [Decision("no", by=REFUSED_REST)] * (len(asked.calls) - len(decisions))
            if decision.always and decision.action == "yes":
                self.approvals.allow(call)
            decisions.append(decision)
        return decisions

    async def _ended_early(
        self, exc: BaseException, result: TurnResult, progress: Progress, listener: Listener, head: Config, asked: bool
    ) -> None:
        """The turn stopped before its end (a failure, Ctrl-C): the result holds what arrived, which the source
        keeps in the thread (shielded: a second Ctrl-C never loses it), then the end is told. Stopped at a question
        (``asked``), all that arrived is kept already and the question stays waiting: no stop is the user's answer."""
        reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
        result.text, result.reasoning, result.interrupted = "".join(progress.parts), "".join(progress.reasoning), reason
        if isinstance(exc, Exception | asyncio.CancelledError):
            if not asked:
                await asyncio.shield(self.source.keep(head, progress, reason))
            listener.hear(End(result))


def where(call_name: str, entry: Any) -> str:
    """Where a built-in shell's command runs, as its toolbox's sandbox says it; "" for any other call."""
    return str(getattr(entry, "where", "") or "") if call_name == "shell" else ""

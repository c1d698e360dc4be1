"""Compaction: a thread's earlier turns folded into a summary that is sent in their place.

Nothing is deleted: the thread keeps every message (``chat show``, ``export`` and ``search`` see them all). The
summary (state ``summary``) covers the messages up to the one with id ``summary_through``, and changes only what a
request sends: the system prompt, the summary, the messages kept whole (the thread's first question, and the turns
pinned with /pin, their questions with what they attached and their answers' text), then the recent history.

A thread is compacted three ways:

- on purpose (/compact [FOCUS], ``chat compact ID``, chat serve's ``POST /v1/threads/ID/compact``): every turn
  but the last is folded, the focus text steering what the summary keeps (``compact``);
- before a request would fail (memory "compact", the default): at the start of a turn whose request would pass
  ``compact_at`` of the history budget, the older turns are folded and the recent ones keep about
  ``KEEP`` of the budget (``Fold``), said in one line;
- as it goes (memory "summary"): each model step folds what would not fit.

Each fold is one summariser call a part (``fold_in``), read as it streams but never shown: LangGraph does not stream
calls tagged "nostream", and the turn runner skips any chunk tagged ``SUMMARY_TAG``. Its answer is read no further
than the summary's room (about a quarter of the history budget): one that runs on is cut there, and said to be,
so that what a server sends costs no more time or memory than the summary it may become.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Awaitable, Callable, Mapping, Sequence, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig

from chatcli.backends.own.request_history import SUMMARY_PREFIX, now_iso, select_history, transcript, without_tools
from chatcli.core.chunks import add_usage, thinking_of
from chatcli.core.turn import MAX_ANSWER
from chatcli.errors import ModelError, UsageError
from chatcli.tools.skills import ACTIVATED, TOOL

SUMMARY_TAG = "chatcli:summary"
# Usage of the summariser calls made before a reply, kept in that reply's response_metadata.
SUMMARY_USAGE = "chatcli_summary_usage"
CUT = " [...]"  # ends a summary whose answer ran past its room
CUT_NOTE = "the summary ran past its room and was cut there"  # how each door says so, in its line
_SUMMARISER = (
    "You keep a running summary of a conversation between a user and an assistant. "
    "Fold the new part of the conversation into the current summary. Keep every fact, name, "
    "number, decision, preference and open question the user may refer back to, with when it was "
    "said (the turn, or the date, shown in brackets). When something changed, keep its latest value "
    "and say that it changed and when. Never add what was not said. Drop pleasantries. Write terse "
    "plain text, at most {words} words. Reply with the updated summary only."
)
_FOCUS = "\n\nThe user asks this summary to keep, above all and in detail: {focus}"
# Of the history budget: the share the recent turns keep whole after an automatic compaction, the share the
# messages kept whole (first question, pinned turns) may take, and the summary's size in words per token.
KEEP = 0.4
WHOLE = 0.5
WORDS_PER_TOKEN = 0.1
# Summariser calls for one fold at most: of a span longer than this many half budgets, the most recent part is
# folded; the older turns stay out of the request, as they were.
MOST_CALLS = 8


@dataclass(frozen=True)
class Fold:
    """When a model step folds older turns first: past ``trigger`` of the budget, keeping ``keep`` of it for the
    recent turns, with at most ``calls`` summariser calls."""

    trigger: float
    keep: float
    calls: int = 1


RUNNING = Fold(1.0, 1.0, 2)  # memory "summary": what would not fit, every step


def automatic(share: float) -> Fold:
    """Memory "compact": past ``share`` of the budget (at the start of a turn), down to ``KEEP`` of it."""
    return Fold(share, min(KEEP, share), 1)


@dataclass
class Sent:
    """What one request sends (``messages``), how many questions it leaves out, and what a fold made of it: the
    state update, the summariser's usage and the questions folded."""

    messages: list[BaseMessage]
    left_out: int = 0
    update: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    folded: int = 0
    before: int = 0  # estimated tokens the request would have sent without the fold
    cut: bool = False  # the summary's answer ran past its room and was cut there


def tokens(messages: Sequence[BaseMessage]) -> int:
    return count_tokens_approximately(messages) if messages else 0


def past(fixed: Sequence[BaseMessage], history: Sequence[BaseMessage], limit: float) -> bool:
    """Whether ``fixed`` and ``history`` together pass ``limit`` tokens, counting from the newest message only as
    far as needed (a turn's work stays the size of what it sends, not of the thread)."""
    total = tokens(fixed)
    for message in reversed(history):
        if total > limit:
            return True
        total += tokens([message])
    return total > limit


def covered(state: Mapping[str, Any]) -> tuple[str, int]:
    """The thread's summary and how many leading messages it covers; ("", 0) with none, or when the last message it
    covers is gone (taken back, or the thread rewritten before it)."""
    summary = state.get("summary") or ""
    if not summary:
        return "", 0
    messages, through = state["messages"], state.get("summary_through")
    start = next((index + 1 for index in range(len(messages) - 1, -1, -1) if messages[index].id == through), None)
    return (summary, start) if start is not None else ("", 0)


def first_question(messages: Sequence[BaseMessage]) -> int | None:
    return next((i for i, m in enumerate(messages) if m.type == "human"), None)


def whole(messages: Sequence[BaseMessage], upto: int, pinned: Sequence[str], room: int) -> list[BaseMessage]:
    """Of the first ``upto`` messages, those sent whole whatever the summary says, in order, within ``room``
    tokens: the first question, each pinned turn's question (with what it attached) and its answers' text, and each
    skill activated (its instructions, chatcli.tools.skills: a user's /NAME, or the model's call's result)."""
    chosen: list[BaseMessage] = []
    first, marked, pinning = first_question(messages), set(pinned), False
    for index, message in enumerate(messages[:upto]):
        candidate: BaseMessage | None = None
        activated = ACTIVATED.match(str(message.text))
        if message.type == "human":
            pinning = message.id in marked
            candidate = message if pinning or index == first or activated else None
        elif activated and message.type == "tool" and message.name == TOOL:  # its call is not sent: the user's side
            candidate = HumanMessage(str(message.text), id=message.id)
        elif message.type == "ai" and pinning:
            candidate = without_tools(message)
            if candidate is not None and not str(candidate.text).strip():
                candidate = None
        if candidate is None:
            continue
        size = tokens([candidate])
        if size <= room:
            chosen.append(candidate)
            room -= size
    return chosen


def head(summary: str, state: Mapping[str, Any], upto: int, budget: int) -> list[BaseMessage]:
    """The summary and the messages kept whole, sent before the recent history (nothing without a summary)."""
    if not summary:
        return []
    # A user-side message that says what it is, after the system prompt and before the turns sent whole.
    said: list[BaseMessage] = [HumanMessage(SUMMARY_PREFIX + summary)]
    return said + whole(state["messages"], upto, state.get("pinned") or [], int(budget * WHOLE) - tokens(said))


def sent(system: SystemMessage, state: Mapping[str, Any], budget: int) -> Sent:
    """What a request of the thread sends as it stands: the system prompt, the summary and the messages kept whole,
    then the most recent messages that fit the budget."""
    messages = state["messages"]
    summary, start = covered(state)
    before = head(summary, state, start, budget)
    kept = select_history(system, messages[start:], max(1, budget - tokens(before)))[1:]
    left_out = sum(m.type == "human" for m in messages[start : len(messages) - len(kept)])  # questions not sent
    return Sent([system, *before, *kept], left_out)


async def read_within(
    chat_model: Any, prompt: list[BaseMessage], config: RunnableConfig, room: int, what: str, lost: str
) -> tuple[str, Any, bool]:
    """An answer chat reads for itself (the summariser's, an MCP server's request's), read as it streams: its text,
    its usage, and whether the text ran past ``room`` characters (it is cut there, and the rest never read). Its
    thinking is counted with its text against ``MAX_ANSWER``, as a turn's is: past it, the answer to ``what`` fails
    (``lost`` says what that costs)."""
    from langchain_core.messages.ai import add_usage as merged

    pieces: list[str] = []
    size = read = 0
    usage: Any = None
    stream = cast("AsyncGenerator[Any, None]", chat_model.astream(prompt, config))
    async with aclosing(stream):  # stopped early, the request is closed at once (its connection with it)
        async for chunk in stream:
            piece = str(chunk.text)
            size, read = size + len(piece), read + len(piece) + len(thinking_of(chunk))
            if getattr(chunk, "usage_metadata", None):
                usage = merged(usage, chunk.usage_metadata)
            pieces.append(piece)
            if size > room:
                return "".join(pieces)[:room], usage, True
            if read > MAX_ANSWER:
                raise ModelError(
                    f"the answer to {what} passed {MAX_ANSWER // (1024 * 1024)} MB: {lost}",
                    hint=f"a model that thinks this long is not one {what} can wait for",
                )
    return "".join(pieces), usage, False


def _record(kind: str, state: Mapping[str, Any], turns: int, focus: str | None = None) -> dict[str, Any]:
    """The thread's ``compaction``: what was made last, and the summary it replaced (for /undo)."""
    before = {"summary": state.get("summary"), "summary_through": state.get("summary_through")}
    after = state["messages"][-1].id if state["messages"] else None
    return dict(kind=kind, at=now_iso(), turns=turns, focus=focus or None, after=after, before=before)


def _parts(messages: Sequence[BaseMessage], size: int) -> list[list[BaseMessage]]:
    """``messages`` cut before questions into parts of about ``size`` tokens (a longer turn is a part alone)."""
    parts: list[list[BaseMessage]] = [[]]
    room = size
    for message in messages:
        cost = tokens([message])
        if message.type == "human" and parts[-1] and cost > room:
            parts.append([])
            room = size
        parts[-1].append(message)
        room -= cost
    return [part for part in parts if part]


async def fold_in(
    chat_model: BaseChatModel,
    summary: str,
    span: Sequence[BaseMessage],
    config: RunnableConfig,
    budget: int,
    offset: int,
    focus: str | None = None,
) -> tuple[str, dict[str, Any] | None, int, bool]:
    """``summary`` with ``span`` folded in, half a budget of it per summariser call (with the summary and the
    instructions a call sends no more than a turn may), oldest first; of a span longer than ``MOST_CALLS`` parts,
    its most recent ones, its turns numbered from ``offset`` (the questions before it), steered by ``focus``. The
    summary, the calls' usage, the messages of ``span`` left out of it (its oldest), and whether an answer was cut at
    the summary's room."""
    focused = _FOCUS.format(focus=focus) if focus else ""
    instructions = SystemMessage(_SUMMARISER.format(words=max(30, int(budget * WORDS_PER_TOKEN))) + focused)
    # A summary that ignores its word limit must not crowd out the conversation (nor the next fold's room): at most
    # about a quarter of the budget (approximate counter: 4 characters a token), and its answer is read no further.
    said = (min(budget, MAX_ANSWER), "the summary request", "nothing was folded")
    told: RunnableConfig = {**config, "tags": [*(config.get("tags") or []), "nostream", SUMMARY_TAG]}
    parts = _parts(span, budget // 2)  # with the summary and the instructions, a call stays in the budget
    skipped = sum(len(part) for part in parts[:-MOST_CALLS])
    usage: dict[str, Any] | None = None
    asked = offset + sum(m.type == "human" for m in span[:skipped])
    cut = False
    for part in parts[-MOST_CALLS:]:
        # The whole request stays within the history budget, as a turn's does: the window keeps room for the reply.
        room = budget - tokens([instructions, HumanMessage(summary)]) - 40
        new = transcript(part, max(400, 4 * room), asked)
        asking = HumanMessage(f"Current summary:\n{summary or '(none yet)'}\n\nNew part of the conversation:\n{new}")
        text, used, this_cut = await read_within(chat_model, [instructions, asking], told, *said)
        if not text.strip():  # the turns would count as folded into nothing
            raise ModelError("the model answered the summary request with nothing: nothing was folded")
        summary = text.strip() + CUT if this_cut else text.strip()
        usage, cut = add_usage(usage, used), cut or this_cut
        asked += sum(m.type == "human" for m in part)
    return summary, usage, skipped, cut


async def fitted(
    chat_model: BaseChatModel,
    system: SystemMessage,
    state: Mapping[str, Any],
    config: RunnableConfig,
    budget: int,
    fold: Fold | None,
    may_fold: Callable[[], Awaitable[bool]] | None = None,
) -> Sent:
    """What this model step sends, folding older turns into the summary first when ``fold`` says the request is
    past its share of the budget (``Sent.update`` then holds the new summary); ``may_fold`` is asked once, before
    the first fold (the PreCompact hooks: False leaves the turns that do not fit out instead)."""
    messages = state["messages"]
    summary, start = covered(state)
    update: dict[str, Any] = {}
    usage: dict[str, Any] | None = None
    folded, calls, before, cut = 0, 0, 0, False
    while fold is not None and calls < fold.calls:
        said = head(summary, state, start, budget)
        if not past([system, *said], messages[start:], fold.trigger * budget):
            break
        before = before or tokens([system, *said, *messages[start:]])
        kept = select_history(system, messages[start:], max(1, int(fold.keep * budget) - tokens(said)))[1:]
        first = len(messages) - len(kept)  # index of the first message sent as it is
        if first <= start or (calls == 0 and may_fold is not None and not await may_fold()):
            break
        asked = sum(m.type == "human" for m in messages[:start])
        summary, used, _, this_cut = await fold_in(chat_model, summary, messages[start:first], config, budget, asked)
        usage, cut = add_usage(usage, used), cut or this_cut
        folded += sum(m.type == "human" for m in messages[start:first])
        start, calls = first, calls + 1
        update = {"summary": summary, "summary_through": messages[first - 1].id}
    if update:
        update["compaction"] = _record("auto", state, folded)
    now = sent(system, {**state, **update}, budget)
    return Sent(now.messages, now.left_out, update, usage, folded, before, cut)


async def compact(
    chat_model: BaseChatModel,
    system: SystemMessage,
    state: Mapping[str, Any],
    config: RunnableConfig,
    budget: int,
    focus: str | None = None,
) -> Sent:
    """Fold every turn but the last into the summary (the latest exchange stays as it is), steered by ``focus``.

    A long thread is folded half a budget at a time (``fold_in``), its most recent ``MOST_CALLS`` parts; older turns
    no summary covers yet stay out of the request, as they were. What a request sends then, with the fold's update,
    usage and turns; UsageError when there is nothing to fold."""
    messages = state["messages"]
    summary, start = covered(state)
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].type == "human"), None)
    if last is None or last <= start:
        why = "no turn before the last one" if summary == "" else "the summary covers it all"
        hint = "the earlier turns are folded once there are some past the last exchange"
        raise UsageError(f"nothing to compact: {why}", hint=hint)
    before = tokens(sent(system, state, budget).messages)
    asked = sum(m.type == "human" for m in messages[:start])
    summary, usage, left, cut = await fold_in(chat_model, summary, messages[start:last], config, budget, asked, focus)
    turns = sum(m.type == "human" for m in messages[start + left : last])
    update = {"summary": summary, "summary_through": messages[last - 1].id}
    update["compaction"] = _record("compact", state, turns, focus)
    now = sent(system, {**state, **update}, budget)
    return Sent(now.messages, now.left_out, update, usage, turns, before, cut)


def edited(state: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The state update that makes ``text`` the summary (/summary edit): the same messages covered."""
    if not covered(state)[0]:
        raise UsageError("this thread has no summary to edit", hint="/compact makes one")
    return {"summary": text.strip(), "compaction": _record("edit", state, 0)}


def undoable(state: Mapping[str, Any]) -> bool:
    """Whether the last thing done to the thread is a compaction on purpose or a summary edit (/undo takes it back
    before any exchange)."""
    record, messages = state.get("compaction") or {}, state["messages"]
    last = bool(messages) and record.get("after") == messages[-1].id
    return record.get("kind") in ("compact", "edit") and "before" in record and last


def undone(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state update that puts back the summary a compaction or an edit replaced."""
    before = state["compaction"]["before"]
    return {"summary": before.get("summary"), "summary_through": before.get("summary_through"), "compaction": None}

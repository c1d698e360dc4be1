"""What a thread's stored messages say, for the screen: the last question, answer and thinking, and token totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from chatcli.threads.spending import Tally


@dataclass(frozen=True)
class UsageTotals:
    """A thread's turns and answers (``uncounted``: those that came without token counts), and what the answers used
    and cost (``used``: chatcli.threads.spending.Tally, as ``chat stats`` totals them)."""

    turns: int
    answers: int
    uncounted: int
    used: Tally


@dataclass(frozen=True)
class Undone:
    """What /undo took back: the question's text and how many messages went with it (its answer, tool calls,
    results); or, with ``compaction`` ("compact" or "edit"), a compaction or a summary edit."""

    question: str
    messages: int
    compaction: str | None = None


@dataclass(frozen=True)
class SummaryView:
    """What a thread sends in place of its earlier turns (/summary): the summary (None: none), the questions it
    covers of the thread's, the turns pinned (numbers from 1), whether the first question is kept whole beside
    it, and the last compaction's record (kind, time, focus)."""

    text: str
    covers: int
    turns: int
    pinned: list[int]
    first_whole: bool
    made: dict[str, Any] | None


class Recall:
    """Reads of a thread's history for the screen (``conversation.recall``), so the UI never reads LangChain
    messages."""

    def __init__(self, messages: Callable[[], Awaitable[list[Any]]]):
        self.messages = messages

    async def last_question(self) -> str | None:
        """The text the user typed for the last user message (maybe "" for files alone; not the text its files were
        put in with), or None when there is none."""
        from chatcli.content.attachments import TYPED_KEY

        asked = [m for m in await self.messages() if m.type == "human"]
        if not asked:
            return None
        typed = (asked[-1].additional_kwargs or {}).get(TYPED_KEY)
        return typed if isinstance(typed, str) else str(asked[-1].text)

    async def left_unanswered(self) -> bool:
        """True when the last question has no whole answer: a failure or a stop left none, or only a part."""
        messages = await self.messages()
        asked = [i for i, m in enumerate(messages) if m.type == "human"]
        answers = [m for m in messages[asked[-1] + 1 :] if m.type == "ai"] if asked else [None]
        if not answers:
            return True
        last = answers[-1]
        return last is not None and bool(last.response_metadata.get("interrupted") or getattr(last, "tool_calls", None))

    async def last_answer(self) -> str | None:
        """The text of the last answer that has any, or None."""
        answers = [str(m.text) for m in await self.messages() if m.type == "ai" and str(m.text).strip()]
        return answers[-1] if answers else None

    async def last_thinking(self) -> str | None:
        """What the last answer that came with thinking thought (stripped), or None: from any provider."""
        from chatcli.core.chunks import thinking_of

        thoughts = [thinking_of(m) for m in await self.messages() if m.type == "ai" and thinking_of(m).strip()]
        return thoughts[-1].strip() if thoughts else None

    async def usage_totals(self) -> UsageTotals:
        """The thread's turns and the tokens its answers (and the summaries made for them) used."""
        from chatcli.threads.spending import Spending

        messages, report = await self.messages(), Spending()
        for message in messages:
            report.count("", message)
        answers = [m for m in messages if m.type == "ai"]
        uncounted = sum(not getattr(m, "usage_metadata", None) for m in answers)
        return UsageTotals(sum(m.type == "human" for m in messages), len(answers), uncounted, report.total)

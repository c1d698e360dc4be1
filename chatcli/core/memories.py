"""Which memories a request carries, and how: the user's words at the end of the system message, within a share of
the request's budget, the newest first; and which questions are offered the ``remember`` tool.

Memories are the user's own words (typed with ``/remember``, ``chat memory add``, or approved when the model
asked to keep them with the ``remember`` tool): a ``chatcli.store.memories.Memory`` each, kept in the conversation
database's store, shared by every thread of the user.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from chatcli.store.memories import Memory

SHARE = 0.1  # of a request's history budget that its memories may take


# A question that asks chat to remember something: its turn is offered the ``remember`` tool (none is otherwise).
_ASKS = re.compile(r"\b(remember|memori[sz]e|don'?t forget|do not forget|keep in mind|note that)\b", re.I)


# A question's mark (its additional_kwargs): whether what the user typed asked to remember something.
ASKED = "chatcli_asks_to_remember"


def asks_to_remember(question: str) -> bool:
    """True when ``question`` asks to remember something (English words: "remember", "don't forget"...)."""
    return bool(_ASKS.search(question))


def chosen(memories: Iterable[Memory], budget: int, scores: Mapping[str, float] | None = None) -> list[Memory]:
    """The memories a request carries, as many as fit in ``SHARE`` of its ``budget`` tokens: the newest first, or
    with ``scores`` (by id: how near each is to the question) the nearest first, the rest filling what room is
    left (a memory without a score after every scored one, the newest first)."""
    room = int(budget * SHARE)
    newest = sorted(memories, key=lambda m: m.created_at, reverse=True)
    if scores is not None:
        newest.sort(key=lambda m: (m.id in scores, scores.get(m.id, 0.0)), reverse=True)  # stable: ties by time
    picked: list[Memory] = []
    for memory in newest:
        cost = len(memory.text) // 4 + 3  # its tokens (four characters a token, as chat estimates), and its line's
        if cost > room:
            if scores is None:
                break
            continue
        picked.append(memory)
        room -= cost
    return picked


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a vector of zeros as it is): the nearness of two such is their dot product."""
    import math

    length = math.hypot(*vector)
    return [x / length for x in vector] if length else list(vector)


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    """The dot product of two vectors of one length: their cosine, for vectors of length 1 (math.sumprod where
    Python has it, 3.12 on: several times faster)."""
    import math
    import operator

    product = getattr(math, "sumprod", None)
    total: float = product(a, b) if product is not None else sum(map(operator.mul, a, b))
    return total


def block(memories: list[Memory]) -> str:
    """The part of the system message that carries ``memories`` (empty with none)."""
    if not memories:
        return ""
    lines = "\n".join(f"- {m.text}" for m in sorted(memories, key=lambda m: m.created_at))
    said = "The user asked you to remember the following, in their own words, across all their conversations. "
    return said + "Use it where it helps; do not mention it otherwise.\n" + lines

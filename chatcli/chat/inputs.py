"""What chatcli accepts as input: thread ids and messages, each refused with a clear reason."""

from __future__ import annotations

import re
import secrets

from chatcli.errors import UsageError
from chatcli.text import LONE_SURROGATE

THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_thread_id() -> str:
    """A short random thread id that is easy to type."""
    return secrets.token_hex(4)


def check_thread_id(thread_id: str) -> str:
    """Accept ids of letters, digits, '.', '_' and '-' (at most 64), or fail clearly."""
    if not THREAD_ID.fullmatch(thread_id):
        raise UsageError(
            f"invalid thread id {thread_id[:70]!r}",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return thread_id


def check_utf8(text: str, what: str) -> str:
    """Refuse text holding undecodable bytes (a Latin-1 terminal, a bad argument), naming where; return it unchanged."""
    bad = LONE_SURROGATE.search(text)
    if bad:
        raise UsageError(
            f"{what} is not valid UTF-8 (character {bad.start() + 1})",
            hint="set your terminal or file encoding to UTF-8",
        )
    return text


def check_question(text: str, max_tokens: int | None = None) -> str:
    """Refuse input that has nothing to ask or cannot fit the context budget; return it unchanged."""
    if not text.strip():
        raise UsageError("nothing to send: the message is empty")
    check_utf8(text, "the message")
    estimate = len(text) // 4
    if max_tokens and estimate > max_tokens:
        raise UsageError(
            f"the message is too long: about {estimate:,} tokens, the context budget is {max_tokens:,}",
            hint="send a shorter message or raise CHATCLI_CONTEXT_TOKENS",
        )
    return text


# Shorter ids are too alike to tell a typo from another name ("t1" and "t2").
_SIMILAR_FROM = 4


def _one_edit(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with one character inserted, deleted, replaced, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
    if len(a) < len(b):
        return a[start:] == b[start + 1 :]
    swapped = start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
    return a[start + 1 :] == b[start + 1 :] or (swapped and a[start + 2 :] == b[start + 2 :])


_LAST_PART = re.compile(r"(.*[-_.])([^-_.]*)")


_NUMBERED = re.compile(r"(.*\D)(\d+)")
_GENERATED = re.compile(r"[0-9a-f]{8}")  # new_thread_id's: a digit off is a typo there


def _siblings(a: str, b: str) -> bool:
    """Names alike only in their numbering (review-1, review-12, notes2; project-a, project-b): two threads, not a typo."""
    na, nb = _NUMBERED.fullmatch(a), _NUMBERED.fullmatch(b)
    if na and nb and na.group(1) == nb.group(1) and not (_GENERATED.fullmatch(a) or _GENERATED.fullmatch(b)):
        return True
    ma, mb = _LAST_PART.fullmatch(a), _LAST_PART.fullmatch(b)
    if not ma or not mb or ma.group(1) != mb.group(1):
        return False
    tails = (ma.group(2), mb.group(2))
    return all(t.isdigit() for t in tails) or all(len(t) <= 2 for t in tails)


def similar_ids(wanted: str, known: list[str], limit: int = 3) -> list[str]:
    """The ids of ``known`` (in their order) that ``wanted`` may have meant: the same in another case,
    or (from 4 characters) a prefix of one or one edit away, except a sibling's name (review-2 for review-1)."""

    def alike(k: str) -> bool:
        if k.lower() == wanted.lower():
            return True
        if len(wanted) < _SIMILAR_FROM or _siblings(wanted, k):
            return False
        return k.startswith(wanted) or _one_edit(wanted, k)

    return [k for k in known if k != wanted and alike(k)][:limit]

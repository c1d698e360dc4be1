"""What chatcli accepts as input: thread ids and messages, each refused with a clear reason."""

from __future__ import annotations

import re
import secrets

from chatcli.errors import UsageError

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


# Undecodable bytes reach Python as lone surrogates (a Latin-1 terminal, a bad argument):
# they cannot be stored or sent, so such text is refused with the place of the first one.
_NOT_UTF8 = re.compile("[\ud800-\udfff]")


def check_utf8(text: str, what: str) -> str:
    """Refuse text holding undecodable bytes; return it unchanged."""
    bad = _NOT_UTF8.search(text)
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

"""What chatcli accepts as input: thread ids and messages, each refused with a clear reason."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from chatcli.errors import UsageError
from chatcli.provider_table import is_model_name
from chatcli.text import LONE_SURROGATE

if TYPE_CHECKING:
    from chatcli.store import ThreadInfo
    from chatcli.store.index import ThreadIndex

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


def check_model_name(name: str) -> str:
    """A model's name as a door, a request or an import gives it: printable, no spaces, at most 200 characters."""
    if not is_model_name(name):
        raise UsageError(
            f"not a model name: {name[:40]!r} (printable, no spaces, at most 200 characters)",
            hint="chat models lists the models' names; -m NAME asks one",
        )
    return name


def check_utf8(text: str, what: str) -> str:
    """Refuse text holding undecodable bytes (a Latin-1 terminal, a bad argument), naming where; return it unchanged."""
    bad = LONE_SURROGATE.search(text)
    if bad:
        raise UsageError(
            f"{what} is not valid UTF-8 (character {bad.start() + 1})",
            hint="set your terminal or file encoding to UTF-8",
        )
    return text


def check_question(text: str, max_tokens: int | None = None, of: str = "budget") -> str:
    """Refuse input that has nothing to ask or cannot fit; return it unchanged.

    ``max_tokens`` (estimated) is the user's context budget (``of`` "budget"), or what the model's context window
    holds beside the reply: a window that is known ("window"), one chat sized for a server on this machine
    ("sized"), or the one taken for a model whose window is not ("assumed",
    chatcli.backends.own.context_windows.DEFAULT_WINDOW). None: nothing is refused for its size.
    """
    if not text.strip():
        raise UsageError("nothing to send: the message is empty")
    check_utf8(text, "the message")
    estimate = len(text) // 4
    if not max_tokens or estimate <= max_tokens:
        return text
    if of == "budget":
        raise UsageError(
            f"the message is too long: about {estimate:,} tokens, the context budget is {max_tokens:,}",
            hint="send a shorter message or raise CHATCLI_CONTEXT_TOKENS",
        )
    hint = {
        "window": "send a shorter message, or ask a model with a larger window: -m MODEL",
        "sized": "send a shorter message, or give the model a larger window (it takes memory): CHATCLI_CONTEXT_TOKENS",
    }.get(of, "its window is not known to chat; if it is larger, say so: CHATCLI_CONTEXT_TOKENS")
    raise UsageError(
        f"the message is too long: about {estimate:,} tokens, the model's context window holds ~{max_tokens:,}"
        " beside the reply",
        hint=hint,
    )


# new_thread_id's ids: a unique start of one finds it (git-style), and one off by a character is a typo.
GENERATED = re.compile(r"[0-9a-f]{8}")
_LIKE_GENERATED = re.compile(r"[0-9a-f]{7,9}")
_PREFIX_FROM = 4  # characters, as git asks of an abbreviated commit
_START = re.compile(f"[0-9a-f]{{{_PREFIX_FROM},8}}")  # what may start a generated id


def one_edit(a: str, b: str) -> bool:
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


def resolve_thread_id(wanted: str, known: list[str], start_new: str = "") -> str | None:
    """The thread ``wanted`` names among ``known`` ids, or None when it names none (a new name).

    An id names itself; a start of a generated id (4 characters or more) names that thread when it
    is the start of no other. A name the user chose is never refused for resembling another
    (fix-a beside fix-b, a branch name, a ticket); only what looks like a generated id one
    character off one that exists is refused as a probable typo, with ``start_new`` as the way to
    start a thread under that name anyway. A start shared by several generated ids is refused too.
    """
    check_thread_id(wanted)
    if wanted in known:
        return wanted
    lowered = wanted.lower()
    generated = [k for k in known if GENERATED.fullmatch(k)]
    if len(wanted) >= _PREFIX_FROM:
        starting = [k for k in generated if k.startswith(lowered)]
        if len(starting) == 1:
            return starting[0]
        if starting:
            raise UsageError(
                f"{wanted} is the start of {len(starting)} threads: {', '.join(starting[:5])}",
                hint="give more of the id",
            )
    if _LIKE_GENERATED.fullmatch(lowered):
        near = [k for k in generated if one_edit(lowered, k)]
        if near:
            new = f"; {start_new} starts a new thread under that name" if start_new else ""
            raise UsageError(f"no thread {wanted}; did you mean {' or '.join(near[:3])}?", hint=f"a typo?{new}")
    return None


async def find_thread(wanted: str, index: ThreadIndex, start_new: str = "") -> ThreadInfo | None:
    """The thread ``wanted`` names in ``index``, as ``resolve_thread_id`` finds it among every id, or None (a new
    name), reading the index by its key: every id is read only when ``wanted`` names no thread itself and starts
    several (or another id besides a generated one), or looks like a generated id mistyped."""
    if (info := await index.get(wanted)) is not None:
        return info
    lowered = wanted.lower()
    starting = await index.matching(lowered, 2) if _START.fullmatch(lowered) else []
    if len(starting) == 1 and GENERATED.fullmatch(starting[0].thread_id):
        return starting[0]
    if not starting and not _LIKE_GENERATED.fullmatch(lowered):
        return None
    rows = await index.list()
    found = resolve_thread_id(wanted, [row.thread_id for row in rows], start_new)
    return next((row for row in rows if row.thread_id == found), None)

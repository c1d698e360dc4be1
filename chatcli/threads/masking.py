"""Every credential the user has, masked wherever a stored thread is printed, replayed or served.

A thread keeps what was said, keys included (a line the user pasted, an answer or a tool's output that echoed
one), and the model is sent it as it was; what is shown of it never holds one. ``masked`` is the one function every
surface calls on what it shows of a stored thread: ``chat show``, ``chat export`` (Markdown and JSON), ``chat
threads`` and ``--json``, ``chat search``, the prompt's /history and /export, ``chat serve``'s thread reads (its own
threads and an Agent Server's), and an editor's ``session/load`` and the turns of its sessions (``chat acp``). The
credentials are ``chatcli.providers.base.known_secrets``: the keys in the settings (every provider's key variable
the provider table names, ``Settings.secrets``) and those the providers' SDKs read by themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, TypeVar, cast

from chatcli.store import SearchHit
from chatcli.text import mask_secrets

T = TypeVar("T")
MASK = "***"
SHORTEST = 4  # characters of a credential (or of its piece at a snippet's edge) that is masked


def masked(value: T, secrets: Iterable[str]) -> T:
    """``value`` as it may be shown: each of ``secrets`` in it shown as ``***``. Takes text, plain data (dicts,
    lists, tuples), dataclasses (a thread's row, its transcript, a tool call), LangChain messages (as their
    fields) and search hits (a piece of a credential cut at the snippet's edge masked too, the highlights kept)."""
    kept = tuple(s for s in dict.fromkeys(secrets) if len(s) >= SHORTEST)
    return cast(T, _masked(value, kept)) if kept else value


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return mask_secrets(value, secrets)
    if isinstance(value, dict):
        return {key: _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_masked(item, secrets) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, SearchHit):
        return _masked_hit(value, secrets)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _masked(getattr(value, f.name), secrets) for f in dataclasses.fields(value) if f.init}
        for name in getattr(value, "CUT_FIELDS", ("title",)):  # a thread's title: its question cut near 60 characters
            if isinstance(getattr(value, name, None), str):
                changed[name] = _masked_cut(getattr(value, name), secrets)
        return dataclasses.replace(value, **changed)
    if type(value).__module__.startswith("langchain_core.messages"):  # a stored message: shown as its fields
        from chatcli.threads.records import fields_of

        return _masked(fields_of(value), secrets)
    return value


def _covered(text: str, secrets: tuple[str, ...]) -> list[bool]:
    """Which characters of a snippet belong to a credential: each whole one, and a piece of one the snippet's window
    cut at its start or its end (a key's last or first characters, next to the ``…``)."""
    cover = [False] * len(text)
    for secret in secrets:
        at = text.find(secret)
        while at >= 0:
            cover[at : at + len(secret)] = [True] * len(secret)
            at = text.find(secret, at + 1)
    head = len(text) - len(text.lstrip("…"))
    tail = len(text.rstrip("…"))
    for secret in secrets:  # the longest piece of it at each edge (0: none)
        sizes = range(len(secret) - 1, SHORTEST - 1, -1)
        size = next((n for n in sizes if text.startswith(secret[-n:], head)), 0)
        cover[head : head + size] = [True] * size
        size = next((n for n in sizes if tail - n >= 0 and text.endswith(secret[:n], 0, tail)), 0)
        cover[tail - size : tail] = [True] * size
    return cover


def _masked_cut(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` cut from a longer one (a title, a snippet), masked: a credential cut at its edge too."""
    from itertools import groupby

    runs = groupby(zip(_covered(text, secrets), text), key=lambda pair: pair[0])  # (covered, its characters)
    return "".join(MASK if covered else "".join(char for _, char in run) for covered, run in runs)


def _masked_hit(hit: SearchHit, secrets: tuple[str, ...]) -> SearchHit:
    """A search hit as shown: its title and snippet masked, its highlights moved to where their text now is."""
    text = hit.snippet
    cover = _covered(text, secrets)
    out: list[str] = []
    at = [0] * (len(text) + 1)  # where each offset of the snippet is in the masked one
    runs: dict[int, tuple[int, int]] = {}  # a covered character's "***" (start, end)
    run: tuple[int, int] = (0, 0)
    for i, char in enumerate(text):
        at[i] = len(out)
        if cover[i]:
            if i == 0 or not cover[i - 1]:
                run = (len(out), len(out) + len(MASK))
                out.extend(MASK)
            runs[i] = run
        else:
            out.append(char)
    at[len(text)] = len(out)
    kept = [(s, e) for s, e in hit.marks if 0 <= s <= e <= len(text)]  # each mark's ends, moved past a "***" over them
    marks = tuple((runs[s][0] if s in runs else at[s], runs[e - 1][1] if e - 1 in runs else at[e]) for s, e in kept)
    title = _masked_cut(hit.title, secrets) if hit.title is not None else None
    return dataclasses.replace(hit, title=title, snippet="".join(out), marks=marks)

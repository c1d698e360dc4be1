"""Context windows: learned from a server's refusal, fitted to, and remembered per provider, endpoint and model.

A server that cannot take a request because it is over the model's window says so, each
provider its own way (its ``classify`` reads it: a ``too_long`` Trouble, with the window when it
is said; an OpenAI-compatible server may also send an empty stream, ``empty_stream``). chat then
sends less history (``fit``), asks again once, and keeps the budget it learned in
``$XDG_DATA_HOME/chatcli/windows.json`` so that later runs start with it. Entries are keyed by
endpoint and model as the user names it (``anthropic:claude-...``; a bare name is the
OpenAI-compatible endpoint's), so one model's window never shrinks another's.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from chatcli.budget import split_window
from chatcli.paths import data_dir, write_private

FILE_NAME = "windows.json"


# The context window taken for a model nobody says the window of (no setting, no entry in genai-prices' table, a
# server that does not tell it): large enough for a 60,000-token pipe (its history budget is 90,000 tokens). A
# server whose window is smaller refuses the first request that does not fit, and chat learns its window then.
DEFAULT_WINDOW = 200_000


def fit(window: int, max_tokens: int | None) -> int:
    """The history budget (estimated tokens) that leaves room for the reply in ``window``."""
    return split_window(window, max_tokens)[0]


# A learned budget is a ceiling to probe, not a law: after this long chat tries more again.
PROBE_AFTER = 24 * 3600  # seconds


def _key(endpoint: str, model: str) -> str:
    """The file's key for an endpoint and model: the URL without credentials, query or fragment."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(endpoint)
        endpoint = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        endpoint = endpoint.rpartition("@")[2]
    return f"{endpoint} {model}"


def _read(path: Path) -> dict[str, Any]:
    """The JSON object ``path`` holds; {} for a file that is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load() -> dict[str, Any]:
    """What the file holds, with every key stripped of credentials (a file written before that is rewritten)."""
    data = _read(data_dir() / FILE_NAME)
    clean: dict[str, Any] = {}
    for key, entry in data.items():
        endpoint, _, model = str(key).rpartition(" ")
        clean[_key(endpoint, model)] = entry
    if list(clean) != list(data):
        _save(clean)  # a password in a URL is not kept at rest
    return clean


def _save(data: dict[str, Any], path: Path | None = None) -> None:
    """Write the file (windows.json, or ``path``) whole, readable by the user only, through a temporary file of this
    process's; best effort."""
    with contextlib.suppress(OSError, ValueError):
        write_private(path or data_dir() / FILE_NAME, json.dumps(data, indent=1))


def remember(endpoint: str, model: str, budget: int, window: int | None, asked_for: int | None = None) -> None:
    """Keep the learned budget for later runs, with when it was learned and the budget the user asked for then."""
    import time

    data = _load()
    data[_key(endpoint, model)] = dict(budget=budget, window=window, learned_at=int(time.time()), asked_for=asked_for)
    _save(data)


def forget(endpoint: str, model: str) -> None:
    """Drop what was learned for this endpoint and model (the next refusal teaches it again)."""
    data = _load()
    if data.pop(_key(endpoint, model), None) is not None:
        _save(data)


# Why a request was refused, by the kind of refusal that says no window: chat asks again with half of it.
_HALVED = {
    "too_long": "the server refused the request for its size",
    "empty_stream": "the server sent an empty answer, as servers over their context window do",
}


@dataclass(eq=False)
class WindowFitter:
    """What the model step asks when a request was refused: a smaller budget to ask again with.

    ``propose`` answers; ``adopt`` keeps it (for later runs) and returns the line that says so,
    when the step does ask again, which it does only if the history got shorter (a single
    message over the window is refused once: no loop). ``limit`` says why the budget starts
    under a learned window, if it does: ``left_out`` then returns, once, the line that says history
    was left out because of it.
    """

    endpoint: str
    model: str
    max_tokens: int | None
    _: KW_ONLY
    asked_for: int | None = None
    limit: str | None = None
    _window: int | None = field(default=None, init=False)
    _said: str = field(default="", init=False)

    def propose(self, trouble: Any, budget: int, sent: int) -> int | None:
        """A smaller history budget if ``trouble`` (chatcli.providers.base.Trouble or None) is a refusal for
        size, else None (nothing is kept yet)."""
        kind, window = getattr(trouble, "kind", None), getattr(trouble, "window", None)
        if kind == "too_long" and window:
            smaller = min(fit(window, self.max_tokens), budget - 1)
            self._said = f"the model's context window is {window:,} tokens"
        elif kind in _HALVED and sent > 100:  # (no window said: half of what was sent)
            smaller, window, self._said = min(sent // 2, budget - 1), None, _HALVED[kind]
        else:
            return None
        self._window = window
        return smaller if 0 < smaller < sent else None

    def adopt(self, budget: int) -> str:
        """The step asks again with ``budget``: keep it for later runs; the line that says so."""
        remember(self.endpoint, self.model, budget, self._window, self.asked_for)
        self.limit = None  # just said, in other words
        return (
            f"{self._said}: chat sends at most ~{budget:,} tokens of history from now on (remembered for {self.model})"
        )

    def left_out(self, turns: int) -> str | None:
        """History was chosen under a learned window and left ``turns`` out: the line that says why, once."""
        if self.limit is None or not turns:
            return None
        from chatcli.text import counted

        limit, self.limit = self.limit, None
        left = f"{counted(turns, 'earlier turn')} not sent"
        data, key = _load(), _key(self.endpoint, self.model)
        entry = data.get(key)
        if isinstance(entry, dict) and entry.get("explained"):  # said in full once for this endpoint and model
            return f"{left} (the window learned for {self.model})"
        if isinstance(entry, dict):
            data[key] = {**entry, "explained": True}
            _save(data)
        return (
            f"{left}: {limit}; chat tries a bigger budget again after a day, when you raise "
            "CHATCLI_CONTEXT_TOKENS, or when the server says its window is bigger"
        )


async def starting_budget(
    endpoint: str,
    model: str,
    context_tokens: int,
    max_tokens: int | None,
    told: Callable[[], Awaitable[int | None]] | None,
    asked_for: int | None = None,
) -> tuple[int, str | None]:
    """The history budget to start with, and why, when a learned limit is behind it (a budget lower than the user's,
    learned from this endpoint).

        A window the server tells is asked once per endpoint and model, then remembered. A budget
        learned earlier applies while it is fresh: the server is asked again each time (a bigger
        window it now states wins), and after a day, or once the user asks for a bigger budget
        than when it was learned, chat starts from the user's budget again (a refusal teaches it
        again). ``told`` asks the server (the provider's ``window``), once per endpoint and model;
    None: this server is never asked. ``asked_for``: the user's own budget (CHATCLI_CONTEXT_TOKENS), if any.
    """
    import time

    entry = _load().get(_key(endpoint, model))
    if not isinstance(entry, dict):
        if told is None:
            return context_tokens, None
        window = await told()
        budget = fit(window, max_tokens) if window else 0
        remember(endpoint, model, budget, window, asked_for)
        return (min(context_tokens, budget), None) if budget else (context_tokens, None)
    learned = entry.get("budget")  # the entry read above: the file is read once
    if not isinstance(learned, int) or not 0 < learned < context_tokens:
        return context_tokens, None
    window = await told() if told is not None else None
    if window and fit(window, max_tokens) > learned:  # the server was started again with a bigger window
        remember(endpoint, model, fit(window, max_tokens), window, asked_for)
        return min(context_tokens, fit(window, max_tokens)), None
    stale = time.time() - (entry.get("learned_at") or 0) > PROBE_AFTER
    before = entry.get("asked_for")
    if stale or (asked_for is not None and (not isinstance(before, int) or asked_for > before)):
        forget(endpoint, model)
        return context_tokens, None
    window = entry.get("window")
    shown = f"{window:,}-token context window" if isinstance(window, int) and window else "context window"
    return learned, f"the model's {shown}, learned from the server, leaves room for ~{learned:,} tokens of history"


KNOWN_FILE = "known-windows.json"


def known_window(spec: str) -> int | None:
    """The context window genai-prices' table gives the model ``spec`` (as the user names it), or None.

    The table costs a sixth of a second to load, so each answer is kept in ``known-windows.json`` beside
    windows.json, for the installed table (its file's size and time): later runs read one small file.
    """
    from chatcli.backends.own.pricing import kept_window, table_stamp

    stamp = table_stamp()
    path = data_dir() / KNOWN_FILE
    data = _read(path)
    if data.get("table") != stamp:
        data = {"table": stamp, "windows": {}}
    windows = data.get("windows")
    if not isinstance(windows, dict):
        windows = data["windows"] = {}
    if spec in windows:
        found = windows[spec]
        return found if isinstance(found, int) and found > 0 else None
    found = kept_window(spec)
    windows[spec] = found
    _save(data, path)
    return found

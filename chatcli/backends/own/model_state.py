"""What chat learns about each model as it goes, kept per provider, endpoint and model.

A model's history budget (shrunk when its server refuses a request for its size), whether its
server refused the tools parameter, and the fitter that learns its window belong to that model
alone: a refusal from ``small-model`` on one thread never trims what ``default-model`` is sent
on another, in memory or in windows.json (chatcli.backends.own.context_windows).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from chatcli.backends.own.context_windows import DEFAULT_WINDOW, WindowFitter, fit, known_window, starting_budget
from chatcli.backends.own.pricing import on_this_network
from chatcli.budget import HISTORY_SHARE
from chatcli.config import Settings
from chatcli.provider_table import DEFAULT
from chatcli.providers import provider_of


@dataclass
class ModelState:
    """One model's learned state: ``budget`` (estimated tokens of history), ``fitter`` (a WindowFitter, or
    None: nothing is learned), ``no_tools`` (its server refused tools: asked without them), ``question_limit``
    (the most estimated tokens one question may hold: the user's cap, or what the model's window leaves beside
    the reply), ``limited_by`` (what sets that limit: the user's "budget", the model's known "window", the one
    chat "sized" for it (Ollama's), or the "assumed" one of a model whose window nobody says)."""

    budget: int
    fitter: Any = None
    no_tools: bool = False
    question_limit: int | None = None
    limited_by: str = "budget"


def table_window(settings: Settings, spec: str) -> int | None:
    """The context window genai-prices' table gives the model ``spec`` (as the user names it), or None. The table
    speaks of hosted models: a server on this machine or network has the window it was started with (and no
    hosted price either: chatcli.backends.own.pricing)."""
    chosen, name = provider_of(spec or settings.model)
    if on_this_network(chosen.endpoint(settings)):
        return None
    return known_window(name if chosen.name == DEFAULT else f"{chosen.name}:{name}")


class ModelStates:
    """Each model's ModelState, made at its first call: from windows.json and what its server tells.

    Without ``settings`` (a graph built bare) every model starts at ``context_tokens`` and learns nothing.
    """

    def __init__(self, context_tokens: int | None, settings: Settings | None = None):
        self.context_tokens = context_tokens
        self.settings = settings
        self._states: dict[tuple[str, str, str], ModelState] = {}
        self._making: dict[tuple[str, str, str], asyncio.Future[ModelState]] = {}

    def key(self, spec: str) -> tuple[str, str, str]:
        """(provider, endpoint, model) of a model as the user names it."""
        if self.settings is None:
            return ("", "", spec)

        chosen, name = provider_of(spec or self.settings.model)
        return (chosen.name, chosen.endpoint(self.settings), name)

    async def of(self, spec: str) -> ModelState:
        """``spec``'s state (made once, even when two threads ask at once)."""
        key = self.key(spec)
        if key in self._states:
            return self._states[key]
        if key not in self._making:
            self._making[key] = asyncio.ensure_future(self._make(spec))
        state = await asyncio.shield(self._making[key])
        self._states.setdefault(key, state)
        self._making.pop(key, None)
        return self._states[key]

    async def _make(self, spec: str) -> ModelState:
        settings = self.settings
        if settings is None:
            return ModelState(self.context_tokens or fit(DEFAULT_WINDOW, None))

        chosen, name = provider_of(spec := spec or settings.model)
        # Learned-window entries: a bare name for the OpenAI-compatible endpoint (as always), else provider:model.
        stored = name if chosen.name == DEFAULT else f"{chosen.name}:{name}"
        endpoint = chosen.endpoint(settings)
        # Known: the user's cap, or the table's window (the server's, or a refusal's, below).
        cap = settings.context_tokens
        table = table_window(settings, spec) if cap is None else None
        known = cap is not None or table is not None
        # The history budget a model starts from: the user's cap, else what its window (the table's, else
        # DEFAULT_WINDOW) leaves for history.
        budget, limit = cap if cap is not None else fit(table or DEFAULT_WINDOW, settings.max_tokens), None
        if not (settings.local and spec == settings.model):  # the local model's server is sized by chat already
            asked = replace(settings, model=spec)

            async def told() -> int | None:
                from chatcli.backends.own.model import refuse_another_users_listener

                refuse_another_users_listener(asked, chosen.name)
                return await chosen.window(asked, name)

            tells = told if chosen.tells_window(asked) else None
            base = budget
            budget, limit = await starting_budget(endpoint, stored, base, settings.max_tokens, tells, asked_for=cap)
            known = known or budget < base  # the server told a smaller window, or refused a bigger request
        fitter = WindowFitter(endpoint, stored, settings.max_tokens, asked_for=cap, limit=limit)
        sized = "sized" if chosen.sizes_window else "window" if known else "assumed"
        limited_by = "budget" if cap is not None else sized
        # What one question may hold: the user's cap as it is; else the whole window the budget was taken from, less
        # the reply's room (the history's share of it is only the margin kept for earlier turns).
        limited = cap if cap is not None else int(budget / HISTORY_SHARE)
        return ModelState(budget, fitter, question_limit=limited, limited_by=limited_by)

    def trouble(self, exc: BaseException, spec: str) -> Any:
        """What kind of failure ``exc`` from ``spec`` is (chatcli.providers.base.Trouble), or None."""
        if self.settings is None:
            return None

        try:
            return provider_of(spec or self.settings.model)[0].classify(exc)
        except Exception:  # noqa: BLE001 - a failure that cannot even be sorted is not a refusal for size
            return None

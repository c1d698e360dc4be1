"""What chat learns about each model as it goes, kept per provider, endpoint and model.

A model's history budget (shrunk when its server refuses a request for its size), whether its
server refused the tools parameter, and the fitter that learns its window belong to that model
alone: a refusal from ``small-model`` on one thread never trims what ``default-model`` is sent
on another, in memory or in windows.json (chatcli.chat.context_windows).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from chatcli.config import Settings


@dataclass
class ModelState:
    """One model's learned state: ``budget`` (estimated tokens of history), ``fitter`` (a WindowFitter, or
    None: nothing is learned), ``no_tools`` (its server refused tools: asked without them)."""

    budget: int
    fitter: Any = None
    no_tools: bool = False


class ModelStates:
    """Each model's ModelState, made at its first call: from windows.json and what its server tells.

    Without ``settings`` (a graph built bare) every model starts at ``context_tokens`` and learns nothing.
    """

    def __init__(self, context_tokens: int, settings: Settings | None = None):
        self.context_tokens = context_tokens
        self.settings = settings
        self._states: dict[tuple[str, str, str], ModelState] = {}
        self._making: dict[tuple[str, str, str], asyncio.Future] = {}

    def key(self, spec: str) -> tuple[str, str, str]:
        """(provider, endpoint, model) of a model as the user names it."""
        if self.settings is None:
            return ("", "", spec)
        from chatcli.providers import provider_of

        chosen, name = provider_of(spec or self.settings.model)
        return (chosen.name, chosen.endpoint(self.settings), name)

    async def of(self, spec: str) -> ModelState:
        """``spec``'s state (made once, even when two threads ask at once)."""
        key = self.key(spec)
        if key in self._states:
            return self._states[key]
        if key not in self._making:
            self._making[key] = asyncio.ensure_future(
                self._make(spec or (self.settings.model if self.settings else ""))
            )
        state = await asyncio.shield(self._making[key])
        self._states.setdefault(key, state)
        self._making.pop(key, None)
        return self._states[key]

    def known(self, spec: str) -> ModelState | None:
        """``spec``'s state if it was made already."""
        return self._states.get(self.key(spec))

    async def _make(self, spec: str) -> ModelState:
        settings = self.settings
        if settings is None:
            return ModelState(self.context_tokens)
        from chatcli.chat.context_windows import WindowFitter, starting_budget
        from chatcli.providers import provider_of
        from chatcli.providers.registry import DEFAULT

        chosen, name = provider_of(spec)
        # Learned-window entries: a bare name for the OpenAI-compatible endpoint (as always), else provider:model.
        stored = name if chosen.name == DEFAULT else f"{chosen.name}:{name}"
        endpoint = chosen.endpoint(settings)
        budget, limit = self.context_tokens, None
        if not (settings.local and spec == settings.model):  # the local model's server is sized by chat already
            asked = replace(settings, model=spec)

            async def told() -> int | None:
                if chosen.name in asked.untrusted_endpoints:
                    from chatcli.chat.model import refuse_another_users_listener

                    refuse_another_users_listener(asked, chosen.name)
                return await chosen.window(asked, name)

            tells = told if chosen.tells_window(asked) else None
            budget, limit = await starting_budget(endpoint, stored, budget, settings.max_tokens, tells)
        fitter = WindowFitter(endpoint, stored, settings.max_tokens, asked_for=settings.context_tokens, limit=limit)
        return ModelState(budget, fitter)

    def trouble(self, exc: BaseException, spec: str) -> Any:
        """What kind of failure ``exc`` from ``spec`` is (chatcli.providers.base.Trouble), or None."""
        if self.settings is None:
            return None
        from chatcli.providers import provider_of

        try:
            return provider_of(spec or self.settings.model)[0].classify(exc)
        except Exception:  # noqa: BLE001 - a failure that cannot even be sorted is not a refusal for size
            return None

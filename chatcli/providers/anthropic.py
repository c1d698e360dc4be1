"""Anthropic's Messages API (langchain-anthropic): ``anthropic:claude-sonnet-4-6``.

ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, as the anthropic SDK reads them. What Anthropic's models
are for is kept: extended thinking (``thinking_budget``: CHATCLI_THINKING_BUDGET) streams apart from
the answer and stays in the thread with its signature, which the API checks when a thread with
tool calls goes on; and each request carries cache breakpoints on its stable prefix
(chatcli.providers.anthropic_cache), so a long thread is mostly read from the prompt cache.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from chatcli.config import Settings
from chatcli.errors import ConfigError
from chatcli.providers.base import Provider, Trouble, first_line, listed, raised_in
from chatcli.providers.bounded import bounded_hooks

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# The answer's tokens when max_tokens is not set (the API needs a number); thinking comes on top.
ANSWER_TOKENS = 8192
LEAST_THINKING = 1024  # the API's least budget_tokens
# "prompt is too long: 208310 tokens > 200000 maximum"; "input length and `max_tokens` exceed context
# limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again".
_TOO_LONG = re.compile(r"prompt is too long: *(\d+) tokens *> *(\d+) maximum|exceed context limit: *[\d +]+> *(\d+)")
# The error types of Anthropic's error JSON (also sent as an ``error`` event in the middle of a stream).
_KINDS = {
    "authentication_error": "auth",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limit",
    "overloaded_error": "overloaded",
    "api_error": "server",
    "timeout_error": "timeout",
}
# An error without a type of Anthropic's, by its status (any other 5xx is the server's, the rest refusals).
_STATUSES = {401: "auth", 403: "permission", 404: "not_found", 429: "rate_limit", 529: "overloaded"}


def thinking(profile: Any, budget: int) -> dict[str, Any]:
    """The ``thinking`` parameter that turns a model's thinking on, by what LangChain's profile of it says.

    Models that decide how long to think (Opus 4.6, Sonnet 4.6 and later: those with a "max"
    effort) think adaptively, and the newest (an "xhigh" effort: Opus 4.7, Sonnet 5...) take no
    budget and send their thinking only when asked for a summary of it; the others think within
    ``budget`` tokens.
    """
    levels = (profile or {}).get("reasoning_effort_levels") or ()
    if "xhigh" in levels:
        return {"type": "adaptive", "display": "summarized"}
    if "max" in levels:
        return {"type": "adaptive"}
    return {"type": "enabled", "budget_tokens": budget}


def server_detail(exc: Any) -> tuple[str, str]:
    """The error's type and the server's own one-line explanation, from Anthropic's error JSON."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("type") or ""), first_line(error.get("message"))


def window_of(detail: str) -> int | None:
    """The context window a "too long" refusal names."""
    found = _TOO_LONG.search(detail)
    return int(found.group(2) or found.group(3)) if found else None


def transport_kind(exc: BaseException) -> str | None:
    """ "timeout" or "connection" for an error of the SDK's HTTP library (raised as is while an answer streams)."""
    for name in ("httpx2", "httpx"):  # anthropic 2 uses httpx2; only an imported one can have raised
        library = sys.modules.get(name)
        if library is not None and isinstance(exc, library.TimeoutException):
            return "timeout"
        if library is not None and isinstance(exc, library.TransportError):
            return "connection"
    return None


class Anthropic(Provider):
    def check(self, settings: Settings) -> None:
        super().check(settings)
        budget = settings.thinking_budget
        if budget and budget < LEAST_THINKING:
            raise ConfigError(
                f"thinking_budget must be at least {LEAST_THINKING:,} tokens for Anthropic models, got {budget}",
                hint=f"set CHATCLI_THINKING_BUDGET to {LEAST_THINKING} or more, or 0 to turn thinking off",
            )

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        """ChatAnthropic with cache breakpoints, a timeout, bounded retries, usage while streaming and thinking if
        asked."""
        from chatcli.providers.anthropic_cache import client_class

        answer, budget = settings.max_tokens or ANSWER_TOKENS, settings.thinking_budget or 0
        # ChatAnthropic takes these by their pydantic aliases (model, api_key...), which a type checker does not see.
        chat: BaseChatModel = client_class()(
            model=model,
            api_key=self.key(settings),
            base_url=self.endpoint(settings),
            default_request_timeout=settings.timeout,
            max_retries=settings.max_retries,
            max_tokens=answer + budget,  # the API counts the thinking in max_tokens: the answer keeps its share
            temperature=settings.temperature,  # (not sent to a model that takes none: anthropic_cache)
            streaming=True,
            stream_usage=True,
        )
        return chat.model_copy(update={"thinking": thinking(chat.profile, budget)}) if budget else chat

    def classify(self, exc: BaseException) -> Trouble | None:
        import anthropic

        status = getattr(exc, "status_code", None)
        kind_said, detail = server_detail(exc)
        if isinstance(exc, anthropic.APIStatusError):
            too_long = window_of(detail) or "prompt is too long" in detail.lower()
            if isinstance(exc, anthropic.BadRequestError) and too_long:
                return Trouble("too_long", status, detail, window=window_of(detail))
            code = status or 0
            kind = _KINDS.get(kind_said) or _STATUSES.get(code) or ("server" if code >= 500 else "refused")
            # An error event in the middle of a stream comes with the stream's own status (200).
            return Trouble(kind, status if status and status >= 400 else None, detail)
        if isinstance(exc, anthropic.APITimeoutError):
            return Trouble("timeout")
        if isinstance(exc, anthropic.APIConnectionError):
            return Trouble("connection", detail=first_line(str(exc.__cause__ or "")))
        transport = transport_kind(exc)
        if transport:
            return Trouble(transport)
        if isinstance(exc, anthropic.AnthropicError):
            return Trouble("bad_response", detail=first_line(str(exc)))
        if isinstance(exc, json.JSONDecodeError) and raised_in(exc, f"{os.sep}anthropic{os.sep}"):
            return Trouble("malformed", detail=f"an event that is not JSON ({exc.msg})")
        return None

    async def list_models(self, settings: Settings) -> list[str]:
        """The model ids the API lists (``GET /v1/models``, every page), sorted."""
        import anthropic

        import chatcli.providers.tls as tls

        client = anthropic.AsyncAnthropic(
            api_key=self.key(settings),
            base_url=self.endpoint(settings),
            timeout=min(settings.timeout, 10.0),
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=bounded_hooks({}), verify=tls.system()),
        )
        try:
            return await listed((model.id async for model in client.models.list(limit=100)), self.where(settings))
        finally:
            await client.close()


PROVIDER = Anthropic.of("anthropic")

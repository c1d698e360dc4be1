"""Anthropic's Messages API (langchain-anthropic): ``anthropic:claude-sonnet-4-5``.

ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, as the anthropic SDK reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.config import Settings
from chatcli.providers.base import Provider, Trouble, first_line

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class Anthropic(Provider):
    name, label, wire, package, extra = (
        "anthropic",
        "Anthropic",
        "Anthropic Messages",
        "langchain_anthropic",
        "anthropic",
    )
    key_var, url_var, default_url = "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"
    example, prices = "anthropic:claude-sonnet-4-5", "anthropic"

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        from langchain_anthropic import ChatAnthropic

        extra: dict[str, Any] = {} if settings.temperature is None else {"temperature": settings.temperature}
        return ChatAnthropic(
            model=model,
            api_key=self.key(settings),
            base_url=self.endpoint(settings),
            default_request_timeout=settings.timeout,
            max_retries=settings.max_retries,
            max_tokens=settings.max_tokens or 8192,
            streaming=True,
            stream_usage=True,
            **extra,
        )

    def classify(self, exc: BaseException) -> Trouble | None:
        import anthropic

        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        error = body.get("error") if isinstance(body, dict) else None
        detail = first_line(error.get("message")) if isinstance(error, dict) else ""
        kinds = (
            (anthropic.AuthenticationError, "auth"),
            (anthropic.PermissionDeniedError, "permission"),
            (anthropic.NotFoundError, "not_found"),
            (anthropic.RateLimitError, "rate_limit"),
            (anthropic.APITimeoutError, "timeout"),
            (anthropic.APIConnectionError, "connection"),
        )
        for kind_of, kind in kinds:
            if isinstance(exc, kind_of):
                return Trouble(kind, status, detail)
        if isinstance(exc, anthropic.APIStatusError) and status == 529:
            return Trouble("overloaded", status, detail)
        if isinstance(exc, anthropic.BadRequestError) and "prompt is too long" in detail.lower():
            return Trouble("too_long", status, detail)
        if isinstance(exc, anthropic.APIStatusError):
            return Trouble("server" if status and status >= 500 else "refused", status, detail)
        if isinstance(exc, anthropic.AnthropicError):
            return Trouble("bad_response", detail=first_line(str(exc)))
        return None


PROVIDER = Anthropic()

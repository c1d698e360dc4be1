"""Google's Gemini API (langchain-google-genai): ``google_genai:gemini-2.5-flash``.

GOOGLE_API_KEY, and GOOGLE_GEMINI_BASE_URL for another endpoint (as the google-genai SDK reads them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.config import Settings
from chatcli.providers.base import Provider, Trouble, first_line

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class Gemini(Provider):
    name, label, wire, package, extra = "google_genai", "Gemini", "Gemini API", "langchain_google_genai", "google"
    key_var, url_var = "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"
    default_url = "https://generativelanguage.googleapis.com"
    example, prices = "google_genai:gemini-2.5-flash", "google"

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        from langchain_google_genai import ChatGoogleGenerativeAI

        extra: dict[str, Any] = {} if settings.temperature is None else {"temperature": settings.temperature}
        if settings.max_tokens:
            extra["max_output_tokens"] = settings.max_tokens
        if self.url(settings):
            extra["base_url"] = self.url(settings)
        return ChatGoogleGenerativeAI(
            model=model,
            google_api_key=self.key(settings),
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            include_thoughts=True,
            **extra,
        )

    def classify(self, exc: BaseException) -> Trouble | None:
        status = getattr(exc, "code", None) or getattr(exc, "status_code", None)
        if not isinstance(status, int):
            return None
        detail = first_line(getattr(exc, "message", None) or str(exc))
        kinds = {401: "auth", 403: "permission", 404: "not_found", 429: "rate_limit", 503: "overloaded"}
        if status in kinds:
            return Trouble(kinds[status], status, detail)
        if status == 400 and "token" in detail.lower() and "exceed" in detail.lower():
            return Trouble("too_long", status, detail)
        return Trouble("server" if status >= 500 else "refused", status, detail)


PROVIDER = Gemini()

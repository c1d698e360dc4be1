"""An Ollama server's own API (langchain-ollama): ``ollama:qwen3``.

OLLAMA_HOST (default http://localhost:11434), as the ollama client reads it; no key. Its models
run on the user's machine: never priced from the kept table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.config import Settings
from chatcli.providers.base import Provider, Trouble, first_line

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class Ollama(Provider):
    name, label, wire, package, extra = "ollama", "Ollama", "Ollama", "langchain_ollama", "ollama"
    key_var, url_var, default_url = None, "OLLAMA_HOST", "http://localhost:11434"
    needs_key, example, prices = False, "ollama:qwen3", ""

    def endpoint(self, settings: Settings) -> str:
        url = self.url(settings) or self.default_url
        return url if "://" in url else f"http://{url}"

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        from langchain_ollama import ChatOllama

        extra: dict[str, Any] = {} if settings.temperature is None else {"temperature": settings.temperature}
        if settings.max_tokens:
            extra["num_predict"] = settings.max_tokens
        return ChatOllama(
            model=model,
            base_url=self.endpoint(settings),
            client_kwargs={"timeout": settings.timeout},
            **extra,
        )

    def classify(self, exc: BaseException) -> Trouble | None:
        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError):
            status, detail = exc.status_code, first_line(exc.error)
            if status == 404:
                return Trouble("not_found", status, detail, hint="ollama pull it first; chat models lists those pulled")
            return Trouble("server" if status >= 500 else "refused", status, detail)
        if isinstance(exc, httpx.TimeoutException):
            return Trouble("timeout")
        if isinstance(exc, (httpx.TransportError, ConnectionError)):
            return Trouble("connection")
        return None


PROVIDER = Ollama()

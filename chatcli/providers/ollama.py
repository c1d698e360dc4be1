"""An Ollama server's own API (langchain-ollama, on the ollama client): ``ollama:qwen3``.

OLLAMA_HOST (default http://127.0.0.1:11434; ``host``, ``host:port`` or a URL, as the ollama
client reads it); no key. Its models run on the user's machine: never priced from the kept table.

Ollama does not refuse a request over a model's window: it drops the oldest messages until the
rest fits, and says nothing. So chat asks for the window its history budget needs (``num_ctx``,
never more than the model was trained for, which ``/api/show`` tells), and fits the history to
that window. A thinking model's thoughts are asked for (``think``) and arrive apart from the
answer; a model that does not think refuses that (400 "... does not support thinking"), so it
is asked again without, and not asked for them again in the session.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any, AsyncIterator
from urllib.parse import urlsplit

from chatcli.budget import LOCAL_BUDGET, split_window
from chatcli.config import Settings
from chatcli.providers.base import Line, Provider, Trouble, asking_again, first_line, listed
from chatcli.providers.bounded import bounded_hooks

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from langchain_ollama import ChatOllama

DEFAULT_PORT = 11434


def _plain(timeout: float) -> dict[str, Any]:
    """The options of the sync client langchain-ollama makes beside the async one (chat never asks through it)."""
    import chatcli.providers.tls as tls

    return {"timeout": timeout, "verify": tls.certifi()}


def _bounded() -> dict[str, Any]:
    """The httpx options that bound each line of what the server sends, and each answer read whole
    (chatcli.providers.bounded)."""
    import chatcli.providers.tls as tls

    return {"event_hooks": bounded_hooks({}), "verify": tls.certifi()}


class Ollama(Provider):
    sizes_window = True

    def endpoint(self, settings: Settings) -> str:
        """OLLAMA_HOST as the ollama client reads it: a bare host gets http:// and port 11434."""
        return host_url(self.url(settings) or "")

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        return _model_class()(
            model=model,
            base_url=self.endpoint(settings),
            client_kwargs=_plain(settings.timeout),
            async_client_kwargs=_bounded(),
            num_ctx=needed_window(settings),
            num_predict=settings.max_tokens,
            temperature=settings.temperature,
            reasoning=True,
        )

    def embeddings(self, settings: Settings, model: str) -> "Embeddings":
        from langchain_ollama import OllamaEmbeddings

        return OllamaEmbeddings(
            model=model,
            base_url=self.endpoint(settings),
            client_kwargs=_plain(settings.timeout),
            async_client_kwargs=_bounded(),
        )

    def classify(self, exc: BaseException) -> Trouble | None:
        import json

        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError):
            status, detail = exc.status_code, first_line(str(exc.error))
            if status == 404 and "model" in detail and "not found" in detail:  # not "404 page not found"
                return Trouble("not_found", status, detail)
            kinds = {401: "auth", 403: "permission", 429: "rate_limit", 503: "overloaded"}  # cloud models, a proxy
            if status in kinds:
                return Trouble(kinds[status], status, detail)
            if status == -1:  # an error object in the middle of the stream: the runner failed
                return Trouble("server", None, detail)
            return Trouble("server" if status >= 500 else "refused", status, detail)
        if isinstance(exc, httpx.TimeoutException):
            return Trouble("timeout")
        if isinstance(exc, (httpx.TransportError, ConnectionError)):
            return Trouble("connection")
        if isinstance(exc, json.JSONDecodeError):
            return Trouble("malformed", detail=first_line(str(exc), 80))
        return None

    def describe(self, trouble: Trouble, settings: Settings, model: str, mid_answer: bool = False) -> Line:
        where = self.where(settings)
        if trouble.kind == "not_found":
            return f"model {model!r} is not pulled at {where}", f"ollama pull {model} (chat models lists those pulled)"
        if trouble.kind == "auth":
            line = f"authentication refused by {where} ({trouble.status}): {trouble.detail}".removesuffix(": ")
            return line, "for Ollama's cloud models: ollama signin; else check the proxy at OLLAMA_HOST"
        if trouble.kind == "connection" and not mid_answer:
            return f"no Ollama server at {where}", "start it (ollama serve), or set OLLAMA_HOST to where it runs"
        return super().describe(trouble, settings, model, mid_answer)

    async def list_models(self, settings: Settings) -> list[str]:
        """The models pulled (``/api/tags``), named as they are typed: ``qwen3`` for ``qwen3:latest``."""
        async with self._client(settings, 10.0) as client:
            pulled = await client.list()  # an answer read whole: bounded (providers.bounded)

        async def names() -> AsyncIterator[str | None]:
            for m in pulled.models:
                yield self.canonical(str(m.model)) if m.model else None

        return await listed(names(), self.where(settings))

    def canonical(self, model: str) -> str:
        return model.removesuffix(":latest")

    def runs_here(self, settings: Settings) -> bool:
        """An Ollama listening where it does unless told otherwise, and its package installed to ask it with."""
        import importlib.util
        import socket

        if self.url(settings) or importlib.util.find_spec(self.package) is None:
            return False
        try:
            socket.create_connection(("127.0.0.1", DEFAULT_PORT), timeout=0.2).close()
            return True
        except OSError:
            return False

    def tells_window(self, settings: Settings) -> bool:
        return True

    async def window(self, settings: Settings, model: str) -> int | None:
        """The window chat's requests ask for (``num_ctx``), or the model's trained one if that is smaller."""
        try:
            async with self._client(settings, 5.0) as client:
                shown = await client.show(model)
        except Exception:  # noqa: BLE001 - not told: the window asked for stands
            return needed_window(settings)
        return window_of(shown.modelinfo or {}, shown.parameters or "", needed_window(settings))

    def _client(self, settings: Settings, most: float) -> Any:
        """The ollama client for a question of the server's own, answered within ``most`` seconds (bounded)."""
        import ollama

        return ollama.AsyncClient(host=self.endpoint(settings), timeout=min(settings.timeout, most), **_bounded())


def host_url(host: str) -> str:
    """An OLLAMA_HOST value as a URL, as the ollama client makes it (``0.0.0.0`` -> ``http://0.0.0.0:11434``)."""
    host = host.strip().rstrip("/")
    if not host:
        return f"http://127.0.0.1:{DEFAULT_PORT}"
    if "://" not in host:
        host = f"http://{host}" if not host.startswith(":") else f"http://127.0.0.1{host}"
        with contextlib.suppress(ValueError):  # not a port: the client says so when it is used
            parts = urlsplit(host)
            if parts.port is None:
                host = parts._replace(netloc=f"{parts.netloc}:{DEFAULT_PORT}").geturl()
    return host


def needed_window(settings: Settings) -> int:
    """The smallest window (a multiple of 1,024 tokens) whose history budget holds the settings' budget."""
    window = 2048
    while split_window(window, settings.max_tokens)[0] < (settings.context_tokens or LOCAL_BUDGET):
        window += 1024
    return window


def window_of(info: Any, parameters: str, asked: int) -> int:
    """The window a model runs with when asked for ``asked`` tokens: at most its trained length
    (``<arch>.context_length``, else a ``num_ctx`` its Modelfile sets)."""
    trained = [v for k, v in dict(info).items() if str(k).endswith(".context_length") and isinstance(v, int) and v > 0]
    if not trained:
        for line in parameters.splitlines():
            name, _, value = line.partition(" ")
            if name == "num_ctx" and value.strip().isdigit():
                trained = [int(value.strip())]
    return min([asked, *trained])


def _without_thinking(model: Any, exc: BaseException) -> bool:
    """A model that refused ``think``: asked again without it, and not asked for it again after."""
    import ollama

    refused = isinstance(exc, ollama.ResponseError) and "does not support thinking" in str(exc.error)
    if not model.reasoning or not refused:
        return False
    model.reasoning = None
    return True


@functools.cache
def _model_class() -> "type[ChatOllama]":
    """ChatOllama, asking a model that refuses ``think`` again without it (and not again after); its tools' schemas
    inlined (Ollama's client drops a ``$ref``)."""
    from langchain_ollama import ChatOllama

    return asking_again(ChatOllama, _without_thinking, "ChatOllamaThinking", inline=True)


PROVIDER = Ollama.of("ollama")

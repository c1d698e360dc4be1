"""The OpenAI-compatible endpoint (langchain-openai): OpenAI itself, and any server that speaks its chat API.

``openai:NAME`` and a bare ``NAME`` are this provider: OPENAI_API_KEY and OPENAI_BASE_URL (a
local server needs no key, but the client insists on one: a placeholder is sent).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from chatcli.config import Settings
from chatcli.errors import ConfigError, ModelError
from chatcli.providers.base import Provider, Trouble, first_line, listed, raised_in
from chatcli.providers.bounded import bounded_hooks, environment_key

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

PLACEHOLDER_KEY = "not-needed"


@lru_cache(maxsize=8)
def shared_http_client(base_url: str | None, timeout: float | None, environment: tuple[object, ...]) -> Any:
    """The SDK's own async client (its limits, redirects, proxies), each line of an answer bounded
    (providers.bounded), one per endpoint, timeout and proxy environment, as langchain-openai keeps its default
    ones: a model built again (each one-shot of the warm worker, each request of ``chat serve``) reuses its
    connections and TLS set-up instead of making them anew."""
    from openai import DefaultAsyncHttpxClient

    import chatcli.providers.tls as tls

    return DefaultAsyncHttpxClient(event_hooks=bounded_hooks({}), verify=tls.system())


@lru_cache(maxsize=1)
def sdk_platform() -> Any:
    """The platform the SDK names in its requests' headers, found once per process (the warm worker's, before it
    forks): a client finds it itself on a thread started for it at its first request."""
    from openai._base_client import get_platform

    return get_platform()


def _chunk_as_sent(process: Any, *, data: object, cast_to: Any, response: Any) -> Any:
    """A streamed chunk as the JSON object it came as: langchain-openai turns the SDK's typed chunk back into one
    (some 0.08 ms of CPU a chunk, both ways). Anything else is the SDK's to make."""
    from openai.types.chat import ChatCompletionChunk

    chunk = cast_to is ChatCompletionChunk and isinstance(data, dict)
    return data if chunk else process(data=data, cast_to=cast_to, response=response)


def server_detail(exc: Any) -> str:
    """The server's own one-line explanation, if it sent one."""
    body = getattr(exc, "body", None)
    return first_line(body.get("message") or (body.get("error") or {}).get("message")) if isinstance(body, dict) else ""


def _client_options(settings: Settings) -> dict[str, Any]:
    """What the chat models and the embedding models take alike: the key, the endpoint, the SDK's own client (its
    limits, redirects, proxies; each line of an answer bounded: providers.bounded), the timeout and the retries."""
    secret = settings.api_key or PLACEHOLDER_KEY

    async def api_key() -> str:
        # An async key makes langchain-openai build only its async HTTP client (chatcli never
        # calls a model synchronously), which saves start-up time.
        return secret

    return {
        "api_key": api_key,
        "base_url": settings.base_url or None,
        "http_async_client": shared_http_client(settings.base_url or None, settings.timeout, environment_key()),
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
    }


class OpenAICompatible(Provider):
    def key(self, settings: Settings) -> str | None:
        return settings.api_key

    def url(self, settings: Settings) -> str | None:
        return settings.base_url

    def check(self, settings: Settings) -> None:
        if not settings.api_key and not settings.base_url:
            raise ConfigError("no API key: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server")

    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        """ChatOpenAI (chatcli.providers.openai_stream's) with a timeout, bounded retries and usage while streaming."""
        from chatcli.providers.openai_stream import client_class

        extra: dict[str, Any] = {} if settings.temperature is None else {"temperature": settings.temperature}
        if settings.max_tokens:
            extra["max_tokens"] = settings.max_tokens  # sent as max_completion_tokens, which OpenAI reads
            if settings.base_url:  # other OpenAI-compatible servers (llama-cpp-python's among them) read max_tokens
                extra["extra_body"] = {"max_tokens": settings.max_tokens}
        chat = client_class()(
            model=model,
            **_client_options(settings),
            stream_usage=True,
            streaming=True,
            # Its per-chunk timeout wraps every chunk in asyncio.wait_for, which on Python
            # 3.11 can swallow a cancellation: Ctrl-C would wait for the whole reply. A
            # stalled server is still caught by the HTTP read timeout above.
            stream_chunk_timeout=None,
            # The client is chat's own (its proxies included); langchain-openai's socket options would only shadow
            # the proxy variables of a client chat never uses, and warn of it on every run behind a proxy.
            http_socket_options=(),
            **extra,
        )
        client = chat.root_async_client
        client._platform = sdk_platform()
        client._process_response_data = partial(_chunk_as_sent, client._process_response_data)
        return chat

    def embeddings(self, settings: Settings, model: str) -> "Embeddings":
        """OpenAIEmbeddings on the same endpoint and key, the texts sent as they are (no tiktoken: its tables would
        be downloaded, and other OpenAI-compatible servers take text)."""
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(model=model, **_client_options(settings), check_embedding_ctx_length=False)

    def classify(self, exc: BaseException) -> Trouble | None:
        import json

        import openai

        from chatcli.providers.openai_stream import MalformedStream
        from chatcli.providers.openai_windows import is_empty_stream, window_of

        status, detail = getattr(exc, "status_code", None), server_detail(exc)
        kinds = (
            (openai.AuthenticationError, "auth"),
            (openai.PermissionDeniedError, "permission"),
            (openai.NotFoundError, "not_found"),
            (openai.RateLimitError, "rate_limit"),
            (openai.APITimeoutError, "timeout"),
            (openai.APIConnectionError, "connection"),
        )
        for kind_of, kind in kinds:
            if isinstance(exc, kind_of):
                return Trouble(kind, status, detail)
        if isinstance(exc, openai.BadRequestError) and window_of(exc):
            return Trouble("too_long", status, detail, window=window_of(exc))
        if isinstance(exc, openai.BadRequestError) and "image" in detail.lower():
            return Trouble("image", status, detail)
        if isinstance(exc, openai.APIStatusError):
            return Trouble("server" if status and status >= 500 else "refused", status, detail)
        if isinstance(exc, openai.OpenAIError):
            return Trouble("bad_response", detail=first_line(str(exc)))
        if is_empty_stream(exc):
            return Trouble("empty_stream")
        # A JSONDecodeError raised in the SDK: its decoding of the server's event stream.
        if isinstance(exc, MalformedStream) or (isinstance(exc, json.JSONDecodeError) and raised_in(exc, "openai")):
            return Trouble("malformed", detail=str(exc) if isinstance(exc, MalformedStream) else "")
        return None

    def describe(
        self, trouble: Trouble, settings: Settings, model: str, mid_answer: bool = False
    ) -> tuple[str, str | None]:
        if trouble.kind == "empty_stream":
            line = (
                f"{self.where(settings)} answered, but not with an OpenAI-compatible stream: there was no answer in it"
            )
            local = "the local server does this when the question and history are over its context window"
            return line, local if settings.local else "is OPENAI_BASE_URL the API's /v1 address? --debug shows more"
        line, hint = super().describe(trouble, settings, model, mid_answer)
        if trouble.kind == "not_found" and settings.base_url and not trouble.message and not settings.local:
            # A server that knows no such path says so as it would of a model (OPENAI_BASE_URL=.../v1/v1).
            hint = f"{hint}; or is OPENAI_BASE_URL not the API's /v1 address?" if hint else None
        return line, hint

    async def list_models(self, settings: Settings) -> list[str]:
        """The model ids the endpoint lists (``GET /models``), sorted."""
        import openai

        import chatcli.providers.tls as tls

        client = openai.AsyncOpenAI(
            api_key=settings.api_key or PLACEHOLDER_KEY,
            base_url=settings.base_url or None,
            timeout=min(settings.timeout, 10.0),
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks=bounded_hooks({}), verify=tls.system()),  # bounded
        )
        try:
            return await listed((getattr(e, "id", None) async for e in client.models.list()), self.where(settings))
        except openai.NotFoundError:
            raise ModelError(
                f"{self.where(settings)} has no model list (404 on /models)",
                hint="is OPENAI_BASE_URL the API's /v1 address?",
            ) from None
        finally:
            await client.close()

    def tells_window(self, settings: Settings) -> bool:
        return bool(settings.base_url)  # OpenAI does not; llama.cpp, vLLM, LM Studio and Ollama do

    async def window(self, settings: Settings, model: str) -> int | None:
        from chatcli.providers.openai_windows import told_window

        return await told_window(settings.base_url, model, settings.api_key) if settings.base_url else None


PROVIDER = OpenAICompatible.of("openai")

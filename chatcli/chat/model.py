"""The chat model (langchain-openai) and what its errors mean to a user; the only module that reads keys."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatcli.config import Settings
from chatcli.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

OPENAI_URL = "https://api.openai.com/v1"
# OpenAI-compatible local servers accept any key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"


def check_credentials(settings: Settings) -> None:
    """Fail early when there is neither a key nor a local endpoint to talk to, or the model name is unusable."""
    from chatcli.chat.inputs import check_utf8

    check_utf8(settings.model, "the model name")
    if not settings.api_key and not settings.base_url:
        from chatcli.local.policy import fallback_hint

        raise ConfigError(
            "no API key: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server",
            hint=fallback_hint(),
        )


def build_chat_model(settings: Settings) -> "BaseChatModel":
    """Build the ChatOpenAI client with a timeout, bounded retries and usage while streaming."""
    check_credentials(settings)
    from chatcli.chat.client import client_class

    extra: dict[str, Any] = {} if settings.temperature is None else {"temperature": settings.temperature}
    if settings.max_tokens:
        extra["max_tokens"] = settings.max_tokens  # sent as max_completion_tokens, which OpenAI reads
        if settings.base_url:  # other OpenAI-compatible servers (llama-cpp-python's among them) read max_tokens
            extra["extra_body"] = {"max_tokens": settings.max_tokens}
    secret = settings.api_key or PLACEHOLDER_KEY

    async def api_key() -> str:
        # An async key makes ChatOpenAI build only its async HTTP client (chatcli never
        # calls the model synchronously), which saves start-up time.
        return secret

    return client_class()(
        model=settings.model,
        api_key=api_key,
        base_url=settings.base_url or None,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        stream_usage=True,
        streaming=True,
        # Its per-chunk timeout wraps every chunk in asyncio.wait_for, which on Python
        # 3.11 can swallow a cancellation: Ctrl-C would wait for the whole reply. A
        # stalled server is still caught by the HTTP read timeout above.
        stream_chunk_timeout=None,
        **extra,
    )


class ModelPool:
    """Chat models by name, built once each, all sharing the endpoint settings."""

    def __init__(self, settings: Settings):
        check_credentials(settings)
        self.settings = settings
        self._models: dict[str, "BaseChatModel"] = {}

    def __call__(self, name: str | None = None) -> "BaseChatModel":
        name = name or self.settings.model
        if name not in self._models:
            self._models[name] = build_chat_model(replace(self.settings, model=name))
        return self._models[name]


def endpoint_name(settings: Settings) -> str:
    """A short name for the endpoint, for messages: host and port only."""
    url = settings.base_url or OPENAI_URL
    try:
        parts = urlsplit(url)
        hostport = parts.netloc.rpartition("@")[2]  # never the user and password before it
    except ValueError:
        return "the server at OPENAI_BASE_URL"
    return hostport or "the server at OPENAI_BASE_URL"


def redact(text: str, settings: Settings) -> str:
    """Remove the API key, anything shaped like a key, and passwords in URLs from text shown to the user."""
    if settings.api_key and len(settings.api_key) >= 4:
        text = text.replace(settings.api_key, "***")
    text = re.sub(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", r"\1***@", text, flags=re.I)
    text = re.sub(r"([?&]password=)[^&\s]+", r"\1***", text, flags=re.I)
    return re.sub(r"\b(sk|key)-[A-Za-z0-9_\-*]{6,}", r"\1-***", text)


def is_connection_error(exc: BaseException) -> bool:
    """True for a connection that could not be opened or broke (not for a timeout)."""
    import openai

    return isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError)


def _server_detail(exc: Exception) -> str:
    """The server's own one-line explanation, if it sent one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        detail = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(detail, str):
            return detail.splitlines()[0][:200] if detail else ""
    return ""


def _from_stream_parser(exc: BaseException) -> bool:
    """True when the error was raised while decoding the server's event stream."""
    import json

    tb = exc.__traceback__
    while tb is not None:
        if "openai" in tb.tb_frame.f_code.co_filename:
            return isinstance(exc, json.JSONDecodeError)
        tb = tb.tb_next
    return False


def _retried(settings: Settings) -> str:
    """How often a retryable error was retried before giving up, for the message."""
    n = settings.max_retries
    return f" after {n} {'retry' if n == 1 else 'retries'}" if n else ""


def describe_error(exc: BaseException, settings: Settings, *, mid_answer: bool = False) -> ModelError | None:
    """Turn an error from the model client into a one-line ModelError, or None if it is not one.

    ``mid_answer`` says part of the answer had already arrived when it failed.
    """
    import openai

    from chatcli.chat.client import MalformedStream
    from chatcli.chat.context_windows import is_empty_stream, window_of

    where = endpoint_name(settings)
    status = getattr(exc, "status_code", None)
    detail = _server_detail(exc)  # type: ignore[arg-type]
    tail = f": {detail}" if detail else ""
    if isinstance(exc, openai.AuthenticationError):
        message, hint = f"authentication refused by {where} (401){tail}", "check OPENAI_API_KEY"
    elif isinstance(exc, openai.PermissionDeniedError):
        message, hint = f"access denied by {where} (403){tail}", "check the key's permissions"
    elif isinstance(exc, openai.NotFoundError):
        message = f"model {settings.model!r} not found at {where} (404){tail}"
        hint = "choose another with --model or CHATCLI_MODEL"
    elif isinstance(exc, openai.RateLimitError):
        message = f"rate limited by {where} (429){_retried(settings)}{tail}"
        hint = "wait a moment and try again"
    elif isinstance(exc, TimeoutError) or (isinstance(exc, openai.APITimeoutError) and mid_answer):
        # TimeoutError: the stream went on without text (Conversation.stall_timeout)
        message = f"the answer from {where} stalled: no text for more than {settings.timeout:g} s"
        hint = "the part shown is kept; raise CHATCLI_TIMEOUT if the server is slow"
    elif isinstance(exc, openai.APITimeoutError):
        message = f"no answer from {where} within {settings.timeout:g} s"
        hint = "is the server overloaded? raise CHATCLI_TIMEOUT if it is slow"
    elif isinstance(exc, openai.APIConnectionError) and mid_answer:
        message = f"the connection to {where} broke in the middle of the answer"
        hint = "the part shown is kept; ask again to continue"
    elif isinstance(exc, openai.APIConnectionError):
        message = f"lost or could not open the connection to {where}"
        hint = "is the server running? check OPENAI_BASE_URL"
    elif isinstance(exc, openai.BadRequestError) and window_of(exc):
        message = f"the message is too long for the model's context window ({window_of(exc):,} tokens) at {where}"
        hint = "send a shorter message (older turns are already left out)"
    elif isinstance(exc, openai.BadRequestError) and "image" in detail.lower():
        message = f"the model {settings.model!r} at {where} does not take images ({status}){tail}"
        hint = "your message is kept in the thread (/undo takes it back); choose a vision model with --model"
    elif isinstance(exc, openai.APIStatusError) and status and status >= 500:
        message = f"server error from {where} ({status}){_retried(settings)}{tail}"
        hint = "the server failed; try again later"
    elif isinstance(exc, openai.APIStatusError):
        message, hint = f"request refused by {where} ({status}){tail}", "run with --debug for details"
    elif isinstance(exc, openai.OpenAIError):
        message, hint = f"bad response from {where}: {exc}", "run with --debug for details"
    elif is_empty_stream(exc):
        message = f"{where} answered, but not with an OpenAI-compatible stream: there was no answer in it"
        hint = (
            "the local server does this when the question and history are over its context window"
            if settings.local
            else "is OPENAI_BASE_URL the API's /v1 address? --debug shows more"
        )
    elif isinstance(exc, MalformedStream) or (isinstance(exc, ValueError) and _from_stream_parser(exc)):
        what = f": {exc}" if isinstance(exc, MalformedStream) else ""
        message, hint = (
            f"{where} sent a malformed stream{what}",
            "is it really an OpenAI-compatible server? --debug shows more",
        )
    else:
        return None
    from chatcli.text import neutralise

    # The server's words reach the terminal: no escape sequences, no key.
    one_line = neutralise(message).replace("\n", " ").replace("\t", " ")
    error = ModelError(redact(one_line, settings), hint=hint)
    error.__cause__ = exc
    return error


async def list_models(settings: Settings, timeout: float = 10.0) -> list[str]:
    """The model ids the endpoint lists (``GET /models``), sorted; a ModelError says why there are none to read."""
    check_credentials(settings)
    import openai

    client = openai.AsyncOpenAI(
        api_key=settings.api_key or PLACEHOLDER_KEY, base_url=settings.base_url or None,
        timeout=min(settings.timeout, timeout), max_retries=0,
    )  # fmt: skip
    try:
        page = await client.models.list()
        return sorted({entry.id for entry in page.data if isinstance(getattr(entry, "id", None), str) and entry.id})
    except openai.NotFoundError:
        raise ModelError(
            f"{endpoint_name(settings)} has no model list (404 on /models)",
            hint="is OPENAI_BASE_URL the API's /v1 address?",
        ) from None
    except Exception as exc:  # noqa: BLE001 - described below, or raised as it is
        error = describe_error(exc, settings)
        if error is None:
            raise
        raise error from exc
    finally:
        await client.close()

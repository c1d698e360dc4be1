"""Google's Gemini API (langchain-google-genai, on the google-genai SDK): ``google_genai:gemini-2.5-flash``.

GOOGLE_API_KEY, and GOOGLE_GEMINI_BASE_URL for another endpoint (the variable the google-genai
SDK reads for the Gemini API's base URL; the SDK adds ``/v1beta/models/...``).

A Gemini model's thoughts are asked for (``include_thoughts``) and arrive as LangChain's
``thinking`` content blocks; a model that does not think refuses the request that asks
(400 "Thinking is not enabled for models/..."), so that model is asked again without, and is
not asked for them again in the session. Gemma refuses a system instruction the same way: its
system prompt then goes at the head of the first question. The API says a model's window
(``inputTokenLimit``) and lists the models that chat (``generateContent``).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatcli.config import Settings
from chatcli.errors import causes
from chatcli.providers.base import Line, Provider, Trouble, asking_again, first_line, listed
from chatcli.providers.bounded import bounded_hooks

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from langchain_google_genai import ChatGoogleGenerativeAI

# The refusals of thoughts asked of a model that does not think (the Gemini API's, and Vertex AI's words).
_NO_THINKING = re.compile(r"thinking is not (enabled|supported)|thinking_config|include_thoughts is only enabled", re.I)
_WINDOW = re.compile(r"maximum number of tokens allowed \((\d+)\)")
_RETRY = re.compile(r"^(\d+(?:\.\d+)?)s$")
# aiohttp's exceptions (the SDK uses aiohttp instead of httpx when it is installed), by name: not imported here.
_DROPPED = ("ClientPayloadError", "ServerDisconnectedError", "ClientConnectorError", "ClientOSError")
_AIOHTTP = {"ServerTimeoutError": "timeout", **dict.fromkeys(_DROPPED, "connection")}


def _bounded(url: str) -> dict[str, Any]:
    """The HTTP client options that bound each line the server at ``url`` sends, and each answer read whole
    (chatcli.providers.bounded); the SDK gives the same to its sync client, which chat never uses. A transport of
    httpx's own, with the proxy the environment names for ``url``: given one, the SDK keeps to httpx where aiohttp
    is installed (it would take aiohttp, and none of these options, its errors or its timeouts, otherwise). The TLS
    set-up the SDK would make anew for each client (``verify``; ``ssl`` for its websockets): the process's one."""
    from urllib.request import getproxies, proxy_bypass

    import httpx

    import chatcli.providers.tls as tls

    parts = urlsplit(url)
    proxy = None if proxy_bypass(parts.hostname or "") else getproxies().get(parts.scheme, getproxies().get("all"))
    trusted = tls.certifi()
    transport = httpx.AsyncHTTPTransport(verify=trusted, proxy=proxy)
    return {"event_hooks": bounded_hooks({}), "transport": transport, "verify": trusted, "ssl": trusted}


class Gemini(Provider):
    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        return _model_class()(
            model=model,
            google_api_key=self.key(settings),
            base_url=self.endpoint(settings),  # always: never the SDK's own pick (a gateway, Vertex AI)
            vertexai=False,
            timeout=settings.timeout,
            max_retries=settings.max_retries + 1,  # the SDK counts attempts, the first one too
            temperature=settings.temperature,  # None: the model's own default, not LangChain's 0.7
            max_output_tokens=settings.max_tokens,
            include_thoughts=True,
            client_args=_bounded(self.endpoint(settings)),
            thinking_budget=settings.thinking_budget or None,  # CHATCLI_THINKING_BUDGET; unset: the model's own
            streaming=True,
        )

    def embeddings(self, settings: Settings, model: str) -> "Embeddings":
        from langchain_google_genai import GoogleGenerativeAIEmbeddings
        from pydantic import SecretStr

        key = self.key(settings)
        return GoogleGenerativeAIEmbeddings(
            model=model,
            api_key=SecretStr(key) if key else None,
            base_url=self.endpoint(settings),  # always: never the SDK's own pick
            vertexai=False,
            client_args=_bounded(self.endpoint(settings)),
        )

    def classify(self, exc: BaseException) -> Trouble | None:
        refused = _api_error(exc)
        if refused is not None:
            return _sorted(refused)
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return Trouble("timeout")
        if isinstance(exc, httpx.TransportError):
            return Trouble("connection", detail=first_line(str(exc)))
        for kind in type(exc).__mro__:
            if kind.__module__.startswith("aiohttp") and kind.__name__ in _AIOHTTP:
                return Trouble(_AIOHTTP[kind.__name__])
        from google.genai import errors

        if isinstance(exc, errors.UnknownApiResponseError):
            return Trouble("malformed", detail=first_line(str(exc), 80))
        from langchain_google_genai.chat_models import ChatGoogleGenerativeAIError

        if isinstance(exc, ChatGoogleGenerativeAIError):
            return Trouble("bad_response", detail=first_line(str(exc)))
        return None

    def describe(self, trouble: Trouble, settings: Settings, model: str, mid_answer: bool = False) -> Line:
        line, hint = super().describe(trouble, settings, model, mid_answer)
        if trouble.kind == "rate_limit" and trouble.hint:
            return line, trouble.hint  # the API said when
        if trouble.kind == "not_found":
            return line, "chat models lists the models your key can use"
        return line, hint

    async def list_models(self, settings: Settings) -> list[str]:
        """The models that chat (``generateContent``), by their names without ``models/``."""
        client = self._client(settings)
        try:
            pages = await client.aio.models.list(config={"page_size": 200})
            names = (
                found.name.removeprefix("models/") if "generateContent" in (found.supported_actions or []) else None
                async for found in pages
                if found.name
            )
            return await listed(names, self.where(settings))
        finally:
            await client.aio.aclose()

    def tells_window(self, settings: Settings) -> bool:
        return True

    async def window(self, settings: Settings, model: str) -> int | None:
        """The model's ``inputTokenLimit``, as the API tells it (None when it does not answer)."""
        client = self._client(settings, timeout=min(settings.timeout, 5.0))
        try:
            found = await client.aio.models.get(model=model)
            limit = found.input_token_limit
            return limit if isinstance(limit, int) and limit > 0 else None
        except Exception:  # noqa: BLE001 - a window not told is the usual case: it is learned when refused
            return None
        finally:
            await client.aio.aclose()

    def _client(self, settings: Settings, timeout: float | None = None) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.endpoint(settings),
            timeout=int(1000 * (timeout or min(settings.timeout, 10.0))),
            async_client_args=_bounded(self.endpoint(settings)),  # each answer bounded, as the model's are
        )
        return genai.Client(api_key=self.key(settings), http_options=options)


def _api_error(exc: BaseException) -> Any:
    """The google-genai APIError behind ``exc`` (LangChain raises its own from it), or None."""
    from google.genai import errors

    return next((each for each in causes(exc) if isinstance(each, errors.APIError)), None)


def _sorted(error: Any) -> Trouble:
    """The kind of failure the API's error is (its code, its status name, its words)."""
    code, status, said = error.code, str(error.status or ""), str(error.message or "")
    detail = first_line(said.split(". ")[0].lstrip("* "))
    details = (error.details or {}).get("error", {}).get("details") if isinstance(error.details, dict) else None
    reasons = {d.get("reason") for d in details or [] if isinstance(d, dict)}
    if code == 400 and ("API_KEY_INVALID" in reasons or "API key not valid" in said):
        return Trouble("auth", code, detail)
    window = _WINDOW.search(said) if code == 400 else None
    if window is not None:
        return Trouble("too_long", code, detail, window=int(window.group(1)))
    if code in (401, 403, 404):
        return Trouble({401: "auth", 403: "permission", 404: "not_found"}[code], code, detail)
    if code == 429:
        return Trouble("rate_limit", code, detail, hint=_retry_hint(details))
    if code == 503 or status == "UNAVAILABLE":
        return Trouble("overloaded", code, detail)
    return Trouble("server" if isinstance(code, int) and code >= 500 else "refused", code, detail)


def _retry_hint(details: Any) -> str:
    """What the API said of when to try again (a RetryInfo with its 429), or ""."""
    for entry in details or []:
        delay = entry.get("retryDelay") if isinstance(entry, dict) else None
        found = _RETRY.match(delay) if isinstance(delay, str) else None
        if found:
            return f"the API says to try again in {float(found.group(1)):g} s"
    return ""


def _adapted(model: Any, exc: BaseException) -> bool:
    """Change ``model`` (a ChatGemini) to what its refusal asks for, if it is one chat knows: thoughts asked
    of a model that does not think, a system instruction to one that takes none (Gemma). False: it is not."""
    error = _api_error(exc)
    said = str(error.message or "") if error is not None and error.code == 400 else ""
    if (model.include_thoughts or model.thinking_budget is not None) and _NO_THINKING.search(said):
        model.include_thoughts = model.thinking_budget = None
        return True
    if not model.convert_system_message_to_human and "Developer instruction is not enabled" in said:
        model.convert_system_message_to_human = True  # the system prompt goes first in the first question
        return True
    return False


@functools.cache
def _model_class() -> "type[ChatGoogleGenerativeAI]":
    """ChatGoogleGenerativeAI, asking again a model that refuses what it does not take (thoughts, a system
    instruction), without it, and not asking for it again after; its tools' schemas inlined (Gemini's ``parameters``
    take no ``$ref``)."""
    from langchain_google_genai import ChatGoogleGenerativeAI

    return asking_again(ChatGoogleGenerativeAI, _adapted, "ChatGemini", inline=True)


PROVIDER = Gemini.of("google_genai")

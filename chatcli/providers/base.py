"""What a provider is to chat: one small protocol, and the one-line errors every provider's failures become.

A provider builds a LangChain chat model for a model name from the settings, sorts its client's
exceptions into a few kinds (``Trouble``), lists its models, and tells a model's context window
when it can. Everything else (thinking, usage, tool calls) chat reads from LangChain's standard
message fields, the same for every provider. The line and hint of each kind are written here
once, so a rate limit reads the same from every provider, naming that provider's own variables.
"""

from __future__ import annotations

import importlib.util
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, AsyncIterable, ClassVar, Self, TypeVar
from urllib.parse import urlsplit

from chatcli import provider_table
from chatcli.config import Settings
from chatcli.errors import ConfigError, ListenerRefused, ModelError, causes
from chatcli.provider_table import AGENT_SERVER_KEYS, ProviderInfo, is_model_name, sdk_credentials
from chatcli.providers.bounded import refusal_in
from chatcli.text import mask_secrets, neutralise

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

Model = TypeVar("Model", bound="BaseChatModel")  # a chat model class, kept as its own type (asking_again)
Line = tuple[str, str | None]  # a failure's line and its hint


# Where chatcli keeps the thinking of an OpenAI-compatible reply: in the message's additional_kwargs,
# apart from its text (langchain-openai never sends that key back). Other providers keep theirs in
# the content, as LangChain's blocks (chatcli.core.chunks reads both).
REASONING_KEY = "reasoning_content"
# A reply's tool calls exactly as they were streamed, for chatcli.backends.own.toolcalls to read strictly.
RAW_CALLS = "chatcli_raw_tool_calls"
# A provider's model list (``chat models``): the most names it may give, and the most seconds its pages may take
# (each page is an answer read whole, bounded by chatcli.providers.bounded): a server whose pages never end is
# said in one line, not waited for.
MOST_MODELS = 10_000
LIST_SECONDS = 60.0
# How to reach a server of another user's on this machine on purpose: the user names its address.
NAME_CA = "name the authority that signed it with SSL_CERT_FILE (a file of certificates) or SSL_CERT_DIR"
NAME_IT = "if that server is one you mean to use, name its address yourself, in your environment or config"


@dataclass(frozen=True)
class Trouble:
    """A failure of a model call, sorted: ``kind`` is one of auth, permission, not_found, rate_limit, overloaded,
    timeout, connection, too_long, image, server, refused, bad_response, malformed, empty_stream; ``detail`` the
    server's own words."""

    kind: str
    status: int | None = None
    detail: str = ""
    window: int | None = None  # too_long: the model's window, when the refusal says it
    message: str = ""  # a provider's own line and hint, for what only it can say
    hint: str = ""
    at: str = ""  # the host the failed request went to, when it is not the settings' (a graph's own model)


class Provider(ProviderInfo, ABC):
    """One provider: what it is (names, variables, the modules of its client...: its row in chatcli.provider_table,
    whose fields it has) and its behaviour: how to build, list and read failures of its models.

    Subclasses implement ``build`` and ``classify`` and are made with ``of``; ``list_models`` and ``window`` are
    optional (none listed, window unknown).
    """

    # The model's window is the size chat asks its server for (Ollama's num_ctx), for LOCAL_BUDGET tokens of history
    # unless CHATCLI_CONTEXT_TOKENS says otherwise: it grows with that setting.
    sizes_window: ClassVar[bool] = False

    @classmethod
    def of(cls, name: str) -> Self:
        """This provider, with the fields of its row ``name`` in chatcli.provider_table."""
        row = provider_table.info(name)
        return cls(**{each.name: getattr(row, each.name) for each in fields(row)})

    # -- settings

    def key(self, settings: Settings) -> str | None:
        """The key: its variable's, else the first of the other names its SDK reads it under."""
        names = (self.key_var, *self.key_aliases) if self.key_var else ()
        return next((found for name in names if name and (found := settings.env(name))), None)

    def url(self, settings: Settings) -> str | None:
        return settings.env(self.url_var) if self.url_var else None

    def endpoint(self, settings: Settings) -> str:
        """The base URL calls go to (for messages, learned windows and prices)."""
        return self.url(settings) or self.default_url

    def where(self, settings: Settings) -> str:
        """Host and port of the endpoint, never a user and password before it."""
        try:
            return urlsplit(self.endpoint(settings)).netloc.rpartition("@")[2] or self.label
        except ValueError:
            return f"the server at {self.url_var}"

    def check(self, settings: Settings) -> None:
        """Fail early (one line) when the provider's package is missing or its key is needed and not set."""
        if self.package and importlib.util.find_spec(self.package) is None:
            raise ConfigError(
                f"{self.label} models need the {self.extra!r} extra, which is not installed",
                hint=f"pip install 'chatcli-langgraph[{self.extra}]', or [providers] for every provider",
            )
        if self.needs_key and not self.key(settings):
            raise ConfigError(f"no API key for {self.label}: set {self.key_var}")

    # -- what each provider does its own way

    @abstractmethod
    def build(self, settings: Settings, model: str) -> "BaseChatModel":
        """The LangChain chat model ``model`` of this provider, from the settings."""

    @abstractmethod
    def classify(self, exc: BaseException) -> Trouble | None:
        """The kind of failure ``exc`` is, or None if it is not one of this provider's client's."""

    def embeddings(self, settings: Settings, model: str) -> "Embeddings":
        """The LangChain embedding model ``model`` of this provider, from the settings (it ranks the memories:
        chatcli.backends.own.relevance); a provider without any says so in one line."""
        raise ConfigError(
            f"{self.label} has no embedding models",
            hint="set embedding_model to an OpenAI-compatible (openai:NAME), Ollama or Google model",
        )

    async def list_models(self, settings: Settings) -> list[str]:
        return []

    def runs_here(self, settings: Settings) -> bool:
        """Whether this provider, though not set up, answers on this machine (its models are listed then)."""
        return False

    def canonical(self, model: str) -> str:
        """The model's name as this provider's users type it (Ollama: ``qwen3`` for ``qwen3:latest``)."""
        return model

    def tells_window(self, settings: Settings) -> bool:
        """Whether ``window`` may know (asked once per endpoint and model, then remembered)."""
        return False

    async def window(self, settings: Settings, model: str) -> int | None:
        return None

    # -- the one line

    def describe(self, trouble: Trouble, settings: Settings, model: str, mid_answer: bool = False) -> Line:
        """The line and hint for ``trouble`` from ``model``."""
        if trouble.message:
            return trouble.message, trouble.hint or None
        where, status, detail = trouble.at or self.where(settings), trouble.status, trouble.detail
        kind, tail, again = trouble.kind, f": {detail}" if detail else "", retried(settings) if self.retries else ""
        kind += " mid-answer" if mid_answer and kind in ("timeout", "connection") else ""
        size = f" ({trouble.window:,} tokens)" if trouble.window else ""
        said = {
            "auth": (f"authentication refused by {where} ({status or 401}){tail}", f"check {self.key_var}"),
            "permission": (f"access denied by {where} ({status or 403}){tail}", "check the key's permissions"),
            "not_found": (
                f"model {model!r} not found at {where} ({status or 404}){tail}",
                "choose another with --model or CHATCLI_MODEL",
            ),
            "rate_limit": (f"rate limited by {where} ({status or 429}){again}{tail}", "wait a moment and try again"),
            "overloaded": (f"{where} is overloaded ({status or 529}){again}{tail}", "try again in a minute"),
            "image": (
                f"the model {model!r} at {where} does not take images ({status}){tail}",
                "your message is kept in the thread (/undo takes it back); choose a vision model with --model",
            ),
            "server": (
                f"server error from {where}{f' ({status})' if status else ''}{again}{tail}",
                "the server failed; try again later",
            ),
            "refused": (f"request refused by {where} ({status}){tail}", "run with --debug for details"),
            "timeout mid-answer": (
                f"the answer from {where} stalled: no text for more than {settings.timeout:g} s",
                "the part shown is kept; raise CHATCLI_TIMEOUT if the server is slow",
            ),
            "timeout": (
                f"no answer from {where} within {settings.timeout:g} s",
                "is the server overloaded? raise CHATCLI_TIMEOUT if it is slow",
            ),
            "connection mid-answer": (
                f"the connection to {where} broke in the middle of the answer",
                "the part shown is kept; ask again to continue",
            ),
            "connection": (
                f"lost or could not open the connection to {where}",
                f"is the server running? check {self.url_var}" if self.url_var else "check your network",
            ),
            "too_long": (
                f"the message is too long for the model's context window{size} at {where}",
                "send a shorter message (older turns are already left out)",
            ),
            "malformed": (
                f"{where} sent a malformed stream{tail}",
                f"is it really a {self.wire} server? --debug shows more",
            ),
        }
        return said.get(kind, (f"bad response from {where}{tail}", "run with --debug for details"))


async def listed(names: AsyncIterable[Any], where: str) -> list[str]:
    """The model names a list gives (``names``, read as its pages come), sorted and once each; a ModelError once
    it passes ``MOST_MODELS`` names or ``LIST_SECONDS``. A name that is none (a space or a control character in it)
    is left out: chat would refuse it as the user's."""
    import asyncio

    found: set[str] = set()
    count, deadline = 0, asyncio.timeout(LIST_SECONDS)
    try:
        async with deadline:
            async for name in names:
                count += 1
                if count > MOST_MODELS:
                    raise ModelError(
                        f"{where} lists more than {MOST_MODELS:,} models: the list is refused",
                        hint="a server that means it is not one chat reads",
                    )
                if isinstance(name, str) and is_model_name(name):  # (one chat could not be asked with: not offered)
                    found.add(name)
    except TimeoutError:
        if not deadline.expired():
            raise
        raise ModelError(
            f"{where} took more than {LIST_SECONDS:g} s to list its models: the list is refused",
            hint="a server whose pages never end is not one chat reads",
        ) from None
    return sorted(found)


def retried(settings: Settings) -> str:
    """How often a retryable error was retried before giving up, for the message."""
    n = settings.max_retries
    return f" after {n} {'retry' if n == 1 else 'retries'}" if n else ""


def first_line(text: Any, limit: int = 200) -> str:
    """A server's explanation as one short line."""
    return text.strip().splitlines()[0][:limit] if isinstance(text, str) and text.strip() else ""


def one_error(
    provider: Provider, exc: BaseException, settings: Settings, model: str, mid_answer: bool, own: bool = True
) -> ModelError | None:
    """``exc`` as the one-line ModelError the user sees, or None if the provider does not know it.

    ``own``: the model is chat's, built from ``settings``; otherwise (a graph's own model) the line names the
    host the request went to, and claims no retries (the graph chose how many).
    """
    refused = refusal_in(exc)  # an answer past its size, whichever client's error the SDK made of it
    if refused is not None:
        return refused
    listener = ListenerRefused.within(exc)  # another user's, refused at the connection (chatcli.local.loopback)
    if listener is not None:
        return ModelError(f"{listener}: nothing was sent there", hint=NAME_IT)
    untrusted = untrusted_certificate(exc)
    if untrusted is not None:
        where = requested_host(exc) or provider.where(settings)
        return ModelError(f"{where}'s certificate is not trusted ({untrusted}): nothing was sent there", hint=NAME_CA)
    # TimeoutError: no text for too long (Conversation.stall_timeout), before a word or after.
    trouble = Trouble("timeout") if isinstance(exc, TimeoutError) else provider.classify(exc)
    if trouble is None:
        return None
    if not own:
        trouble = replace(trouble, at=trouble.at or requested_host(exc) or provider.label)
        settings = replace(settings, max_retries=0)
    message, hint = provider.describe(trouble, settings, model, mid_answer)

    # The server's words reach the terminal: no escape sequences, no key.
    line = neutralise(message).replace("\n", " ").replace("\t", " ")
    error = ModelError(redact(line, settings), hint=hint)
    error.__cause__ = exc
    return error


def raised_in(exc: BaseException, package: str) -> bool:
    """True when ``exc`` was raised in code whose file's path holds ``package`` (an SDK reading its stream, say)."""
    import traceback

    return any(package in frame.f_code.co_filename for frame, _line in traceback.walk_tb(exc.__traceback__))


def untrusted_certificate(exc: BaseException) -> str | None:
    """Why the server's certificate was not trusted, when that is what ``exc`` (or an error it was raised from)
    is: OpenSSL's words ("unable to get local issuer certificate", "Hostname mismatch ..."); None otherwise."""
    import ssl

    for current in causes(exc):
        if isinstance(current, ssl.SSLCertVerificationError):
            return neutralise(str(current.verify_message or "certificate verify failed")).replace("\n", " ")
    return None


def requested_host(exc: BaseException) -> str:
    """Host and port of the request a client's error (or one it was raised from) is about, never a user and
    password before them; "" when none says."""
    for current in causes(exc):
        response = getattr(current, "response", None)
        for holder, name in ((current, "request"), (response, "request"), (response, "url")):
            try:
                found = getattr(holder, name, None)  # httpx raises when an error has no request
            except RuntimeError:
                continue
            url = getattr(found, "url", found) if name == "request" else found
            netloc = urlsplit(str(url)).netloc if url is not None else ""
            if netloc:
                return netloc.rpartition("@")[2]
    return ""


def sdk_secrets() -> list[str]:
    """The values of the credentials providers' SDKs read from the environment by themselves (OLLAMA_API_KEY,
    ANTHROPIC_AUTH_TOKEN...; chatcli.provider_table): a server may echo one back in its error."""
    from os import environ

    words = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    return [environ[var] for var in sdk_credentials() if environ.get(var) and any(w in var for w in words)]


def known_secrets(settings: Settings) -> tuple[str, ...]:
    """Every credential chat knows the value of: the keys in the settings, those the SDKs read by themselves and an
    Agent Server's. No surface shows one (errors, --debug, `chat config`, show, export, the inbox, the API's
    threads)."""
    import os

    servers = [os.environ[var] for var in AGENT_SERVER_KEYS if os.environ.get(var)]
    return (*settings.secrets(), *sdk_secrets(), *servers)


def redact(text: str, settings: Settings) -> str:
    """Remove every provider key (chat's and those the SDKs read by themselves), anything shaped like a key,
    and passwords in URLs from text shown to the user."""
    text = mask_secrets(text, known_secrets(settings))
    text = re.sub(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", r"\1***@", text, flags=re.I)
    text = re.sub(r"([?&](?:password|key)=)[^&\s]+", r"\1***", text, flags=re.I)
    return re.sub(r"\b(sk|key)-[A-Za-z0-9_\-*]{6,}", r"\1-***", text)


def inlined(tool: Any) -> Any:
    """An OpenAI function definition with its parameters' JSON schema inlined (each ``$ref`` replaced by what it
    points to; ``$defs`` and ``$schema`` dropped), for a provider whose wire format takes no ``$ref``."""
    from langchain_core.utils.json_schema import dereference_refs

    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("parameters"), dict):
        return tool
    schema = dereference_refs(function["parameters"])
    for key in ("$defs", "definitions", "$schema"):
        schema.pop(key, None)
    return {**tool, "function": {**function, "parameters": schema}}


def asking_again(base: type[Model], adapt: Any, name: str, tries: int = 3, inline: bool = False) -> type[Model]:
    """A subclass of the chat model class ``base`` that asks again when the model refused something it does
    not take (thinking, a system instruction...): ``adapt(model, exc)`` changes the model so that it no
    longer asks for it (kept for later calls) and says whether to ask again. A reply that has begun streaming
    is never asked again. ``inline``: its tools are bound ``inlined`` (its provider takes no ``$ref``)."""

    def bind_tools(self: Any, tools: Any, **kwargs: Any) -> Any:
        return super(cls, self).bind_tools([inlined(tool) for tool in tools], **kwargs)

    async def _astream(self: Any, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        for left in range(tries, 0, -1):
            started = False
            try:
                async for chunk in super(cls, self)._astream(messages, stop, run_manager, **kwargs):
                    started = True
                    yield chunk
                return
            except Exception as exc:
                if started or left == 1 or not adapt(self, exc):
                    raise

    async def _agenerate(self: Any, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        for left in range(tries, 0, -1):
            try:
                return await super(cls, self)._agenerate(messages, stop, run_manager, **kwargs)
            except Exception as exc:
                if left == 1 or not adapt(self, exc):
                    raise

    methods = {"_astream": _astream, "_agenerate": _agenerate, "__doc__": asking_again.__doc__}
    cls: type[Model] = type(name, (base,), {**methods, **({"bind_tools": bind_tools} if inline else {})})
    return cls

"""The chat models of a session, by the names the user gives them (``anthropic:claude-...``, ``gpt-4.1``).

Each name belongs to a provider (chatcli.providers): it builds the model, and says what its
client's errors mean. This module is what the rest of chat asks: build a model once per name,
check a name can be used before the first question, turn a failed call into one line, list the
models of every provider that is set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from chatcli.config import Settings
from chatcli.errors import ChatError, ConfigError, ModelError
from chatcli.provider_table import DEFAULT, NAMES, info
from chatcli.providers import provider, provider_of
from chatcli.providers.base import Provider, one_error
from chatcli.providers.base import redact as redact  # this module's for the rest of chat
from chatcli.providers.registry import owner_of

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel


def check_credentials(settings: Settings, spec: str | None = None) -> None:
    """Fail early when the model (``spec``, else the settings') cannot be used: unusable name, no key, no package.
    Every model chat builds passes here, whichever door or file named it (-m, CHATCLI_MODEL, config.toml, a role, a
    thread's binding, a request)."""
    from chatcli.core.inputs import check_model_name, check_utf8

    spec = spec or settings.model
    check_model_name(check_utf8(spec, "the model name"))
    chosen, _name = provider_of(spec)
    try:
        chosen.check(settings)
    except ConfigError as exc:
        if chosen.name != DEFAULT or exc.hint:
            raise
        from chatcli.local.policy import fallback_hint

        raise ConfigError(str(exc), hint=fallback_hint()) from None
    refuse_another_users_listener(settings, chosen.name)


def build_chat_model(settings: Settings, spec: str | None = None) -> "BaseChatModel":
    """The chat model ``spec`` (else the settings' model) names, built by its provider."""
    chosen, name = _usable(settings, spec or settings.model)
    return chosen.build(settings, name)


def build_embeddings(settings: Settings, spec: str) -> "Embeddings":
    """The embedding model ``spec`` names (``openai:text-embedding-3-small``), built by its provider from the same
    settings as the chat models: its key, its endpoint, the same rules for an endpoint an untrusted .env chose."""
    chosen, name = _usable(settings, spec)
    return chosen.embeddings(settings, name)


def _usable(settings: Settings, spec: str) -> tuple[Provider, str]:
    """``spec``'s provider and model name, checked usable, its SDK's own credentials withheld where an untrusted
    .env chose its endpoint."""
    check_credentials(settings, spec)
    chosen, name = provider_of(spec)
    if chosen.name in settings.untrusted_endpoints:
        # An untrusted .env chose where its requests go: every credential its SDK would read by itself
        # (chatcli.providers.registry) leaves this process's environment, for the rest of the process (a warm
        # worker's call, chat serve and a one-shot each have their own process and settings).
        for var in info(chosen.name).credentials:
            os.environ.pop(var, None)
    return chosen, name


def named_endpoints(settings: Settings) -> list[str]:
    """The endpoints the user's own settings name (the environment, config.toml, a trusted .env), every provider's:
    an address another user listens on may be reached there only (chatcli.local.loopback)."""
    untrusted = settings.untrusted_endpoints
    return [url for name in NAMES if name not in untrusted and (url := provider(name).url(settings)) is not None]


def refuse_another_users_listener(settings: Settings, name: str) -> None:
    """ConfigError when the endpoint of provider ``name`` is a port on this machine where another user's process
    listens and the user's own settings did not name it: its default (reached by a model name, a thread's binding,
    an import) or one an untrusted .env chose. Loopback is shared, and a thread sent there is that user's to read.
    Said before the model is asked; every other connection is checked as it is made (chatcli.local.loopback)."""
    from chatcli.local.loopback import address_of, others_listening

    chosen = provider(name)
    untrusted = name in settings.untrusted_endpoints
    if not untrusted and chosen.url(settings):
        return  # the user named it
    url = chosen.endpoint(settings)
    if (named := address_of(url)) is None:
        return  # not a URL the client could use either: its own error says so
    host, port = named
    addresses = ("127.0.0.1", "::1") if host == "localhost" else (host,)
    others = set[int]().union(*(others_listening(address, port) for address in addresses))
    if not others:
        return
    uids = ", ".join(map(str, sorted(others)))
    if untrusted:
        raise ConfigError(
            f"{chosen.url_var} from an untrusted .env names {chosen.where(settings)}, where another user of this"
            f" machine listens (uid {uids}): nothing is sent there",
            hint="if that server is one you mean to use, set the address yourself, or trust the .env: chat trust",
        )
    raise ConfigError(
        f"{chosen.label}'s default address {chosen.where(settings)} is another user's listener on this machine"
        f" (uid {uids}): nothing is sent there",
        hint=f"if that server is one you mean to use, name it yourself: {chosen.url_var}={url} in your environment",
    )


class ModelPool:
    """Chat models by name, built once each, every provider's from the same settings."""

    def __init__(self, settings: Settings):
        check_credentials(settings)
        self.settings = settings
        self._models: dict[str, "BaseChatModel"] = {}
        self()  # the default model built now: a bad setting fails before the first question

    def __call__(self, name: str | None = None) -> "BaseChatModel":
        name = name or self.settings.model
        if name not in self._models:
            self._models[name] = build_chat_model(replace(self.settings, model=name))
        return self._models[name]


def endpoint_name(settings: Settings, spec: str | None = None) -> str:
    """A short name for the model's endpoint, for messages: host and port only."""
    return provider_of(spec or settings.model)[0].where(settings)


def describe_error(
    exc: BaseException, settings: Settings, *, mid_answer: bool = False, spec: str | None = None, own: bool = True
) -> ModelError | None:
    """Turn an error from a model call into a one-line ModelError, or None if it is not one.

    Sorted by the provider whose client raised it: the one of ``spec`` (the model that was called; the
    settings' by default), or another's when it is that provider's client's error (a graph's own model may
    be any provider's). ``own``: the model is chat's (False: a graph's, built by its own code); ``mid_answer``
    says part of the answer had already arrived when it failed.
    """
    chosen, name = provider_of(spec or settings.model)
    owner = owner_of(exc)
    if owner is not None and owner != chosen.name:
        chosen, name, own = provider(owner), "", False
    return one_error(chosen, exc, settings, name, mid_answer, own)


def set_up(settings: Settings) -> list[str]:
    """The providers that are set up: the settings' model's, and each whose key or base URL is set."""
    chosen = provider_of(settings.model)[0].name
    return [chosen, *(n for n in NAMES if n != chosen and ((p := provider(n)).key(settings) or p.url(settings)))]


@dataclass
class ModelList:
    """The models the providers list, as the user names them, and the providers that could not say."""

    names: list[str] = field(default_factory=list)
    failures: list[tuple[str, ChatError]] = field(default_factory=list)  # (provider label, why)


async def list_all(settings: Settings, which: list[str] | None = None) -> ModelList:
    """The models of ``which`` providers (default: every one set up, and a local Ollama if one answers),
    asked at once; one that cannot list is a failure beside the others' names, never the end of the list."""
    import asyncio

    # Providers not set up whose server runs on this machine anyway (Ollama on its own port): listed when they
    # answer, passed over in silence when they do not.
    listed = set_up(settings)
    quiet = [] if which else [name for name in NAMES if name not in listed and provider(name).runs_here(settings)]
    which = which or listed
    results = await asyncio.gather(*(_listed(settings, name) for name in which + quiet), return_exceptions=True)
    listing = ModelList()
    for name, result in zip(which + quiet, results):
        if isinstance(result, ChatError):
            if name not in quiet:
                listing.failures.append((provider(name).label, result))
        elif isinstance(result, BaseException):
            raise result
        else:
            listing.names.extend(result)
    listing.names = sorted(dict.fromkeys(listing.names))
    return listing


async def _listed(settings: Settings, name: str) -> list[str]:
    """One provider's models, named as the user names them; a failure as a ChatError."""
    chosen = provider(name)
    chosen.check(settings)
    refuse_another_users_listener(settings, name)
    try:
        listed = await chosen.list_models(settings)
    except ChatError:
        raise
    except Exception as exc:  # noqa: BLE001 - described below, or raised as it is
        error = one_error(chosen, exc, settings, "", False)
        if error is None:
            raise
        raise error from exc
    return [shown_name(f"{name}:{model}") for model in listed]


def shown_name(spec: str) -> str:
    """A model's name as chat shows and lists it: bare for the OpenAI-compatible endpoint, else
    ``provider:model`` in the provider's own spelling of the model (``ollama:qwen3`` for ``qwen3:latest``)."""
    chosen, model = provider_of(spec)
    model = chosen.canonical(model)
    return model if chosen.name == DEFAULT else f"{chosen.name}:{model}"

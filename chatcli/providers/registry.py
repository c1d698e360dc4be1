"""Reading a model's name and an error against the provider table (chatcli.provider_table, on the ground floor,
which holds what each provider is): the provider a name asks for, strictly, and the provider whose client raised
an error.

A model is named as LangChain names it, ``provider:model``; a bare name is the OpenAI-compatible endpoint's. A
prefix that is not a provider's stays part of the name (Ollama's tags have colons), unless it is one of
LangChain's other providers or a near miss of a provider's name: one clear line.
"""

from __future__ import annotations

from chatcli.errors import ConfigError, causes
from chatcli.provider_table import BY_NAME, DEFAULT, NAMES, OTHERS, PROVIDERS, info

# The HTTP libraries under the clients: their errors (a dropped connection, a timeout) may come from any provider.
TRANSPORTS = ("httpx", "httpx2", "httpcore", "aiohttp")


def split(spec: str) -> tuple[str, str]:
    """``(provider name, model name)`` of a model as the user names it; a bare name is the default provider's."""
    prefix, colon, rest = spec.partition(":")
    if colon and prefix in BY_NAME:
        if not rest.strip():
            raise ConfigError(f"no model name after {prefix}: in {spec!r}", hint=f"e.g. {info(prefix).example}")
        return prefix, rest
    if colon and prefix in OTHERS:
        raise ConfigError(
            f"chat does not speak to {prefix} models ({spec!r})",
            hint=f"chat speaks to {', '.join(NAMES)}; an OpenAI-compatible server works through OPENAI_BASE_URL",
        )
    if colon and (near := _near_name(prefix)):  # `-m antropic:claude`; `qwen3:8b` is a model's own name
        raise ConfigError(
            f"no provider {prefix!r} in {spec!r}: did you mean {near}:?", hint=f"e.g. {info(near).example}"
        )
    return DEFAULT, spec


def _near_name(prefix: str) -> str | None:
    """The provider name ``prefix`` is most likely a typo of (``antropic``, ``gogle_genai``), or None."""
    from difflib import get_close_matches

    found = get_close_matches(prefix.lower(), [*BY_NAME, *OTHERS], n=1, cutoff=0.8)
    return found[0] if found and found[0] in BY_NAME and found[0] != prefix else None


def owner_of(exc: BaseException) -> str | None:
    """The provider whose client raised ``exc`` (or an exception it was raised from), by the module of its
    class; None for a transport's error or anything else, which no single provider owns."""
    for current in causes(exc):
        module = type(current).__module__
        for row in PROVIDERS:
            if any(module == client or module.startswith(client + ".") for client in row.clients):
                return row.name
    return None


def raised_by_a_client(exc: BaseException) -> bool:
    """True for an error of a model provider's client or of the HTTP library under it."""
    return owner_of(exc) is not None or type(exc).__module__.split(".")[0] in TRANSPORTS

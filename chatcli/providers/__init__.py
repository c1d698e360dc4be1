"""The providers chat speaks to, and model names in LangChain's own naming: ``provider:model``.

``anthropic:claude-sonnet-4-6`` is Anthropic's Messages API, ``google_genai:gemini-2.5-flash``
Google's Gemini API, ``ollama:qwen3`` an Ollama server; ``openai:gpt-4.1`` and a bare name
(``gpt-4.1``, ``qwen3:8b``) are the OpenAI-compatible endpoint (OPENAI_BASE_URL), as before. A
prefix that is not a provider's name stays part of the model's name (Ollama's tags have colons),
unless it is one of LangChain's other providers, which chat does not speak to: one clear line.

Each provider is one module of this package (``chatcli.providers.anthropic``...) with a
``PROVIDER`` (a chatcli.providers.base.Provider); its library is imported only when one of its
models is built, so start-up does not grow with the providers installed. Adding a provider is
its module, its name in ``NAMES``, its fake server (tests/fakes) and its row in the shared tests.
"""

from __future__ import annotations

import importlib
from typing import Any

from chatcli.errors import ConfigError

# (A provider is a chatcli.providers.base.Provider; not imported here: the settings import this module.)
Provider = Any

# The providers, by LangChain's name (``init_chat_model``'s), the default first.
NAMES = ("openai", "anthropic", "google_genai", "ollama")
DEFAULT = "openai"
# LangChain's names for providers chat has no module for: ``groq:llama-3`` is refused, not sent as a name.
OTHERS = frozenset(
    "azure_openai azure_ai google_vertexai google_anthropic_vertex bedrock bedrock_converse cohere fireworks "
    "together mistralai huggingface groq deepseek ibm nvidia xai perplexity upstage".split()
)


def provider(name: str) -> Provider:
    """The provider called ``name`` (one of ``NAMES``)."""
    return importlib.import_module(f"chatcli.providers.{name}").PROVIDER


def split(spec: str) -> tuple[str, str]:
    """``(provider name, model name)`` of a model as the user names it; a bare name is the default provider's."""
    prefix, colon, rest = spec.partition(":")
    if colon and prefix in NAMES:
        if not rest.strip():
            raise ConfigError(f"no model name after {prefix}: in {spec!r}", hint=f"e.g. {provider(prefix).example}")
        return prefix, rest
    if colon and prefix in OTHERS:
        raise ConfigError(
            f"chat does not speak to {prefix} models ({spec!r})",
            hint=f"chat speaks to {', '.join(NAMES)}; an OpenAI-compatible server works through OPENAI_BASE_URL",
        )
    return DEFAULT, spec


def name_of(spec: str) -> str:
    """The provider a model name belongs to, never failing (a name it cannot use is the default's)."""
    prefix, colon, rest = spec.partition(":")
    return prefix if colon and prefix in NAMES and rest.strip() else DEFAULT


def provider_of(spec: str) -> tuple[Provider, str]:
    """The provider of a model as the user names it, and the model's own name."""
    name, model = split(spec)
    return provider(name), model


def variables() -> dict[str, tuple[str | None, str | None]]:
    """Each provider's key and base-URL variables (the ones its own SDK reads), by provider name."""
    return {name: (provider(name).key_var, provider(name).url_var) for name in NAMES}

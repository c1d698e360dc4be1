"""What each provider is, as data: one row a provider, read by the settings, the trust rules, the sandbox, the
engine and the tests alike. Standard library only, so the settings stand on it.

A model is named as LangChain names it, ``provider:model``: ``anthropic:claude-sonnet-4-6``,
``google_genai:gemini-2.5-flash``, ``ollama:qwen3``; ``openai:gpt-4.1`` and a bare name (``gpt-4.1``,
``qwen3:8b``) are the OpenAI-compatible endpoint's (``name_of``; chatcli.providers reads a name strictly).

How each provider behaves (building its model, sorting its errors, listing its models) is its module in
``chatcli.providers``, which reads its row here. Adding a provider is its row in provider_table.json, its module
(chatcli/providers/NAME.py), its extra in pyproject.toml, and its fake server with its line in tests/providers.py:
tests/test_provider_registry.py fails until they agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

_NONE: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, eq=False)  # one row each: compared and hashed as itself
class ProviderInfo:
    """One provider, as data."""

    name: str  # LangChain's name: the ``name:`` of ``name:model``
    label: str  # for messages: "Anthropic"
    wire: str  # what its server speaks, for messages: "Anthropic Messages"
    package: str  # the LangChain integration's import name ("" for one chat always has); missing: the extra is named
    extra: str  # chatcli-langgraph[extra] installs it
    default_url: str
    example: str  # a model name, for help texts
    key_var: str | None = None  # the key variable chat reads and hands the client
    url_var: str | None = None  # the base-URL variable chat reads and hands the client
    prices: str = ""  # genai-prices' provider id; "" for models that run on the user's machine
    needs_key: bool = True
    # Its client retries a failed call CHATCLI_MAX_RETRIES times (said in the line); the ollama client tries once.
    retries: bool = True
    # The modules of its client (its SDK, its LangChain integration): their exceptions are this provider's, and
    # tests/test_provider_registry.py reads their sources for the variables they read.
    clients: tuple[str, ...] = ()
    # Variables its SDK or integration reads from the environment by itself as a credential or to choose where to
    # send one (tests/test_provider_registry.py finds every environment read in their sources and fails until
    # each is listed here or in ``harmless``).
    credentials: tuple[str, ...] = ()
    # Other names its SDK reads the key under, after ``key_var`` and in its order (Google's: GEMINI_API_KEY).
    key_aliases: tuple[str, ...] = ()
    harmless: tuple[str, ...] = ()  # the other variables they read: logging, regions, versions, test switches
    # Prefixes of variables that belong to it, which a shell command never sees (chatcli.tools.builtin). Ollama's
    # are none: OLLAMA_HOST stays (the ollama command in a shell needs it; its key is withheld as every *_KEY is).
    prefixes: tuple[str, ...] = ()
    # Why a reply ended, in its own words, to OpenAI's (stop, length, tool_calls, content_filter).
    finish_reasons: Mapping[str, str] = field(default_factory=lambda: _NONE)
    # Content block types that carry its thinking, with the field that holds the text.
    thought_blocks: Mapping[str, str] = field(default_factory=lambda: _NONE)
    # Words in its refusal of a request for its ``tools`` (a model that takes none). llama.cpp: "tools param requires
    # --jinja flag"; vLLM: '"auto" tool choice requires --enable-auto-tool-choice'; others: an unknown field; Gemma on
    # the Gemini API: "Function calling is not enabled for ..."; Ollama: "... does not support tools".
    tool_refusals: tuple[str, ...] = ()


def _frozen(value: Any) -> Any:
    """A value of provider_table.json as a row keeps it: a list as a tuple, an object read-only."""
    return tuple(value) if isinstance(value, list) else MappingProxyType(value) if isinstance(value, dict) else value


# The rows, and the names below, are data: provider_table.json beside this module, read once (JSON: the parser
# every run has loaded already, and a hundredth of the time tomllib takes).
_DATA = json.loads(Path(__file__).with_name("provider_table.json").read_text(encoding="utf-8"))
PROVIDERS = tuple(ProviderInfo(**{k: _frozen(v) for k, v in row.items()}) for row in _DATA["providers"])
NAMES = tuple(row.name for row in PROVIDERS)  # the default first
DEFAULT = "openai"
BY_NAME: Mapping[str, ProviderInfo] = MappingProxyType({row.name: row for row in PROVIDERS})
# LangChain's names for providers chat has no module for: ``groq:llama-3`` is refused, not sent as a name.
OTHERS = frozenset(_DATA["others"])
# Prefixes of other services' variables a shell command never sees either (LangChain's own, other vendors').
OTHER_PREFIXES: tuple[str, ...] = tuple(_DATA["other_prefixes"])


def info(name: str) -> ProviderInfo:
    """The row of the provider called ``name`` (one of ``NAMES``)."""
    return BY_NAME[name]


def is_model_name(name: str) -> bool:
    """True for what may name a model, wherever it is named: printable, no spaces, 1 to 200 characters."""
    return 0 < len(name) <= 200 and name.isprintable() and not any(c.isspace() for c in name)


def name_of(spec: str) -> str:
    """The provider a model name belongs to, never failing (a name it cannot use is the default's)."""
    prefix, colon, rest = spec.partition(":")
    return prefix if colon and prefix in BY_NAME and rest.strip() else DEFAULT


def variables() -> dict[str, tuple[str | None, str | None]]:
    """Each provider's key and base-URL variables (the ones chat reads and hands its client), by provider name."""
    return {row.name: (row.key_var, row.url_var) for row in PROVIDERS}


def key_variables() -> frozenset[str]:
    """The variables chat reads a provider's key from."""
    return frozenset(var for row in PROVIDERS for var in (row.key_var, *row.key_aliases) if var)


def url_variables() -> frozenset[str]:
    """The variables chat reads a provider's base URL (or host) from."""
    return frozenset(row.url_var for row in PROVIDERS if row.url_var)


# An Agent Server's key (chat --remote), where no --header carries one: langgraph-sdk's own order, less
# LANGCHAIN_API_KEY. A credential as a provider's key is: never shown.
AGENT_SERVER_KEYS = ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY")


def sdk_credentials() -> frozenset[str]:
    """Every variable some provider's SDK or integration reads by itself as (or to send) a credential."""
    return frozenset(var for row in PROVIDERS for var in row.credentials)


def withheld_prefixes() -> tuple[str, ...]:
    """Prefixes of every variable that belongs to a model provider or to LangChain's services."""
    return tuple(dict.fromkeys(p for row in PROVIDERS for p in row.prefixes)) + OTHER_PREFIXES


def finish_reasons() -> dict[str, str]:
    """Every provider's words for why a reply ended, to OpenAI's."""
    return {word: ours for row in PROVIDERS for word, ours in row.finish_reasons.items()}


def thought_blocks() -> dict[str, str]:
    """Every content block type that carries thinking, to its text field (``reasoning``: LangChain's standard)."""
    return {"reasoning": "reasoning", **{kind: text for row in PROVIDERS for kind, text in row.thought_blocks.items()}}


def tool_refusals() -> tuple[str, ...]:
    """Every provider's words for refusing a request's tools."""
    return tuple(dict.fromkeys(word for row in PROVIDERS for word in row.tool_refusals))

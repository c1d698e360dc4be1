"""What each provider is, as data: one row a provider, read by the settings, the trust rules, the sandbox, the
engine and the tests alike. Standard library only, so the settings stand on it.

A model is named as LangChain names it, ``provider:model``: ``anthropic:claude-sonnet-4-6``,
``google_genai:gemini-2.5-flash``, ``ollama:qwen3``; ``openai:gpt-4.1`` and a bare name (``gpt-4.1``,
``qwen3:8b``) are the OpenAI-compatible endpoint's (``name_of``; chatcli.providers reads a name strictly).

How each provider behaves (building its model, sorting its errors, listing its models) is its module in
``chatcli.providers``, which reads its row here. Adding a provider is its row here, its module
(chatcli/providers/NAME.py), its extra in pyproject.toml, and its fake server with its line in tests/providers.py:
tests/test_provider_registry.py fails until they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

_NONE: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, eq=False)  # one row each: compared and hashed as itself
class ProviderInfo:
    """One provider, as data."""

    name: str  # LangChain's name: the ``name:`` of ``name:model``
    label: str  # for messages: "Anthropic"
    wire: str  # what its server speaks, for messages: "Anthropic Messages"
    package: str  # the LangChain integration's import name ("" for one chat always has); missing: the extra is named
    extra: str  # chatcli-langgraph[extra] installs it
    key_var: str | None  # the key variable chat reads and hands the client
    url_var: str | None  # the base-URL variable chat reads and hands the client
    default_url: str
    example: str  # a model name, for help texts
    prices: str = ""  # genai-prices' provider id; "" for models that run on the user's machine
    needs_key: bool = True
    retries: bool = True  # its client retries a failed call CHATCLI_MAX_RETRIES times (said in the line)
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
    # Prefixes of variables that belong to it, which a shell command never sees (chatcli.tools.builtin).
    prefixes: tuple[str, ...] = ()
    # Why a reply ended, in its own words, to OpenAI's (stop, length, tool_calls, content_filter).
    finish_reasons: Mapping[str, str] = field(default_factory=lambda: _NONE)
    # Content block types that carry its thinking, with the field that holds the text.
    thought_blocks: Mapping[str, str] = field(default_factory=lambda: _NONE)
    # Words in its refusal of a request for its ``tools`` (a model that takes none).
    tool_refusals: tuple[str, ...] = ()


PROVIDERS: tuple[ProviderInfo, ...] = (
    ProviderInfo(
        "openai",
        "OpenAI",
        "OpenAI-compatible",
        "",
        "",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "gpt-4.1",
        clients=("openai", "langchain_openai"),
        credentials=(
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OPENAI_API_BASE",
            "OPENAI_ADMIN_KEY",
            "OPENAI_ORG_ID",
            "OPENAI_ORGANIZATION",
            "OPENAI_PROJECT_ID",
            "OPENAI_CUSTOM_HEADERS",
            "OPENAI_PROXY",
            "OPENAI_WEBHOOK_SECRET",
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_AD_TOKEN",
            "AZURE_OPENAI_ENDPOINT",
            "AWS_BEARER_TOKEN_BEDROCK",
            "AWS_BEDROCK_BASE_URL",
        ),
        harmless=(
            "OPENAI_API_TYPE",
            "OPENAI_API_VERSION",
            "OPENAI_LOG",
            "LANGCHAIN_OPENAI_TCP_KEEPALIVE",
            "LC_OUTPUT_VERSION",
            "DEFER_PYDANTIC_BUILD",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "GOOGLE_CLOUD_LOCATION",
            "GOOGLE_CLOUD_PROJECT",
        ),
        prefixes=("OPENAI_", "AZURE_OPENAI_", "OPENROUTER_", "AWS_BEDROCK"),
        # llama.cpp: "tools param requires --jinja flag"; vLLM: '"auto" tool choice requires
        # --enable-auto-tool-choice'; others: an unknown field.
        tool_refusals=(
            "tool_choice",
            "tool choice",
            "tools param",
            "requires",
            "unknown field",
            "unrecognized",
            "extra inputs",
        ),
    ),
    ProviderInfo(
        "anthropic",
        "Anthropic",
        "Anthropic Messages",
        "langchain_anthropic",
        "anthropic",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "https://api.anthropic.com",
        "anthropic:claude-sonnet-4-6",
        prices="anthropic",
        clients=("anthropic", "langchain_anthropic"),
        credentials=(
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_API_URL",
            "ANTHROPIC_PROXY",
            "ANTHROPIC_CUSTOM_HEADERS",
            "ANTHROPIC_ENVIRONMENT_KEY",
            "ANTHROPIC_FOUNDRY_API_KEY",
            "ANTHROPIC_FOUNDRY_BASE_URL",
            "ANTHROPIC_FOUNDRY_RESOURCE",
            "ANTHROPIC_BEDROCK_BASE_URL",
            "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
            "ANTHROPIC_VERTEX_BASE_URL",
            "ANTHROPIC_GOOGLE_CLOUD_BASE_URL",
            "ANTHROPIC_WEBHOOK_SIGNING_KEY",
            "ANTHROPIC_WORK_SECRET",
            "AWS_BEARER_TOKEN_BEDROCK",
        ),
        harmless=(
            "ANTHROPIC_LOG",
            "ANTHROPIC_OPEN_TELEMETRY",
            "ANTHROPIC_OPEN_TELEMETRY_PROPAGATION",
            "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE",
            "ANTHROPIC_OPEN_TELEMETRY_TRACES_MAX_CONTENT_BYTES",
            "ANTHROPIC_GOOGLE_CLOUD_LOCATION",
            "ANTHROPIC_GOOGLE_CLOUD_PROJECT",
            "ANTHROPIC_GOOGLE_CLOUD_WORKSPACE_ID",
            "ANTHROPIC_VERTEX_PROJECT_ID",
            "CLOUD_ML_REGION",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "GOOGLE_CLOUD_PROJECT",
            "APPDATA",
            "DEFER_PYDANTIC_BUILD",
        ),
        prefixes=("ANTHROPIC_", "CLAUDE_"),
        finish_reasons=MappingProxyType(
            {
                "end_turn": "stop",
                "stop_sequence": "stop",
                "pause_turn": "stop",
                "max_tokens": "length",
                "model_context_window_exceeded": "length",
                "tool_use": "tool_calls",
                "refusal": "content_filter",
            }
        ),
        thought_blocks=MappingProxyType({"thinking": "thinking"}),
    ),
    ProviderInfo(
        "google_genai",
        "Gemini",
        "Gemini API",
        "langchain_google_genai",
        "google",
        "GOOGLE_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        "google_genai:gemini-2.5-flash",
        prices="google",
        clients=("google.genai", "langchain_google_genai"),
        credentials=(
            "GOOGLE_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_GENAI_API_KEY",
            "GOOGLE_GENAI_ACCESS_TOKEN",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_VERTEX_BASE_URL",
            "GOOGLE_GENAI_DEFAULT_HEADERS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_GENAI_USE_ENTERPRISE",
            "GOOGLE_GENAI_HTTP_CLIENT",
            "GOOGLE_GENAI_REPLAYS_DIRECTORY",
        ),
        key_aliases=("GEMINI_API_KEY",),
        harmless=(
            "GOOGLE_CLOUD_LOCATION",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_GENAI_API_VERSION",
            "GOOGLE_GENAI_CLIENT_MODE",
            "GOOGLE_GENAI_DEBUG",
            "GOOGLE_GENAI_REPLAY_ID",
            "GOOGLE_GENAI_RUN_GEMINI_ONLY_IN_API_MODE",
            "GOOGLE_GENAI_RUN_VERTEX_ONLY_IN_API_MODE",
            "GOOGLE_GENAI_USER_PROJECT",
            "GITHUB_ACTIONS",
            "PYTEST_CURRENT_TEST",
            "UNITTEST_ON_FORGE",
            "SSL_CERT_DIR",
            "SSL_CERT_FILE",
        ),
        prefixes=("GOOGLE_API", "GOOGLE_GENAI", "GOOGLE_GEMINI", "GEMINI_", "VERTEXAI"),
        finish_reasons=MappingProxyType(
            {
                "STOP": "stop",
                "MAX_TOKENS": "length",
                "SAFETY": "content_filter",
                "RECITATION": "content_filter",
                "PROHIBITED_CONTENT": "content_filter",
                "BLOCKLIST": "content_filter",
                "SPII": "content_filter",
                "IMAGE_SAFETY": "content_filter",
                "IMAGE_PROHIBITED_CONTENT": "content_filter",
                "IMAGE_RECITATION": "content_filter",
            }
        ),
        # Gemma on the Gemini API: "Function calling is not enabled for ...".
        tool_refusals=("not enabled",),
    ),
    ProviderInfo(
        "ollama",
        "Ollama",
        "Ollama",
        "langchain_ollama",
        "ollama",
        None,
        "OLLAMA_HOST",
        "http://127.0.0.1:11434",
        "ollama:qwen3",
        needs_key=False,
        retries=False,  # the ollama client makes one attempt
        clients=("ollama", "langchain_ollama"),
        credentials=("OLLAMA_API_KEY", "OLLAMA_HOST"),
        # (OLLAMA_HOST stays: the ollama command in a shell needs it; its key is withheld as every *_KEY is.)
        # "... does not support tools"
        tool_refusals=("not support", "unsupported", "no tool"),
    ),
)

NAMES = tuple(row.name for row in PROVIDERS)  # the default first
DEFAULT = "openai"
BY_NAME: Mapping[str, ProviderInfo] = MappingProxyType({row.name: row for row in PROVIDERS})
# LangChain's names for providers chat has no module for: ``groq:llama-3`` is refused, not sent as a name.
OTHERS = frozenset(
    "azure_openai azure_ai google_vertexai google_anthropic_vertex bedrock bedrock_converse cohere fireworks "
    "together mistralai huggingface groq deepseek ibm nvidia xai perplexity upstage".split()
)
# Prefixes of other services' variables a shell command never sees either (LangChain's own, other vendors').
OTHER_PREFIXES = (
    "MISTRAL_",
    "GROQ_",
    "DEEPSEEK_",
    "XAI_",
    "TOGETHER_",
    "FIREWORKS_",
    "COHERE_",
    "CO_API",
    "PERPLEXITY",
    "HUGGINGFACE",
    "REPLICATE_",
    "LANGSMITH_",
    "LANGCHAIN_",
    "LANGGRAPH_",
    "LLAMA_CLOUD",
    "VOYAGE_",
    "CEREBRAS_",
    "LITELLM_",
)


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

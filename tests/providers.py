"""Every provider chat speaks to, as the shared tests (tests/test_providers_shared.py) drive it.

A ``Row`` names a provider, the model chat is asked to use (``anthropic:claude-fake``), how to
start a fake server speaking that provider's real wire format on 127.0.0.1, and the variables
that point chat at it. Every fake takes the same scripted items (tests/fakeserver.py: ``Reply``
with ``thinking``, ``Calls``, ``Fault``), has the same default answer ("You said: ...", with the
earlier questions), and records what it was sent (``requests``): so one test proves one
behaviour for every provider. Adding a provider: its fake server, and its row here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable

from tests.fakeserver import FakeOpenAIServer


@dataclass(frozen=True)
class Row:
    name: str  # the provider's name (chatcli.providers)
    model: str  # as the user names it
    start: Callable[[], AbstractContextManager[Any]]  # a fake server, started
    env: Callable[[Any], dict[str, str]]  # the variables that point chat at it
    module: str = ""  # the LangChain package its client is (skipped when it is not installed)
    # False: the server never refuses a request over the model's window, it cuts it itself (Ollama drops the
    # oldest messages): chat sizes the window it asks for instead (tests/test_ollama.py).
    refuses_over_window: bool = True

    def __str__(self) -> str:
        return self.name


def _openai_env(server: FakeOpenAIServer) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test-SECRET-0123456789"}


def _anthropic_env(server: Any) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": server.base_url, "ANTHROPIC_API_KEY": "sk-ant-test-SECRET-0123456789"}


def _anthropic() -> AbstractContextManager[Any]:
    from tests.fakes.anthropic import FakeAnthropicServer

    return FakeAnthropicServer()


def _gemini_env(server: Any) -> dict[str, str]:
    from tests.fakes.gemini import KEY

    return {"GOOGLE_GEMINI_BASE_URL": server.base_url, "GOOGLE_API_KEY": KEY}


def _gemini() -> AbstractContextManager[Any]:
    from tests.fakes.gemini import FakeGeminiServer

    return FakeGeminiServer()


def _ollama_env(server: Any) -> dict[str, str]:
    return {"OLLAMA_HOST": server.base_url}


def _ollama() -> AbstractContextManager[Any]:
    from tests.fakes.ollama import FakeOllamaServer

    return FakeOllamaServer()


ROWS: list[Row] = [
    Row("openai", "openai:gpt-fake", FakeOpenAIServer, _openai_env),
    Row("anthropic", "anthropic:claude-fake", _anthropic, _anthropic_env, "langchain_anthropic"),
    Row("google_genai", "google_genai:gemini-fake", _gemini, _gemini_env, "langchain_google_genai"),
    Row("ollama", "ollama:qwen3", _ollama, _ollama_env, "langchain_ollama", refuses_over_window=False),
]

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
    # How a LangGraph developer's own graph builds this provider's model, pointed at the fake by the variables
    # of ``env`` (read from the graph's process): an import line and an expression.
    graph_model: tuple[str, str] = ("", "")

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
    Row(
        "openai", "openai:gpt-fake", FakeOpenAIServer, _openai_env,
        graph_model=("from langchain_openai import ChatOpenAI", "ChatOpenAI(model='gpt-fake', "
                     "base_url=os.environ['OPENAI_BASE_URL'], api_key=os.environ['OPENAI_API_KEY'], max_retries=0)"),
    ),
    Row(
        "anthropic", "anthropic:claude-fake", _anthropic, _anthropic_env, "langchain_anthropic",
        graph_model=("from langchain_anthropic import ChatAnthropic", "ChatAnthropic(model='claude-fake', "
                     "base_url=os.environ['ANTHROPIC_BASE_URL'], api_key=os.environ['ANTHROPIC_API_KEY'], "
                     "max_retries=0)"),
    ),
    Row(
        "google_genai", "google_genai:gemini-fake", _gemini, _gemini_env, "langchain_google_genai",
        graph_model=("from langchain_google_genai import ChatGoogleGenerativeAI", "ChatGoogleGenerativeAI("
                     "model='gemini-fake', base_url=os.environ['GOOGLE_GEMINI_BASE_URL'], vertexai=False, "
                     "google_api_key=os.environ['GOOGLE_API_KEY'], max_retries=1)"),
    ),
    Row(
        "ollama", "ollama:qwen3", _ollama, _ollama_env, "langchain_ollama", refuses_over_window=False,
        graph_model=("from langchain_ollama import ChatOllama",
                     "ChatOllama(model='qwen3', base_url=os.environ['OLLAMA_HOST'])"),
    ),
]  # fmt: skip

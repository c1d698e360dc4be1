"""Every provider chat speaks to, as the shared tests (tests/test_providers_shared.py) drive it.

A ``Row`` names a provider (its row of chatcli/provider_table.json says its variables and its package), the model
chat is asked to use (``anthropic:claude-fake``), and its fake server, which speaks that provider's real wire
format on 127.0.0.1. Every fake takes the same scripted items (tests/fakeserver.py: ``Reply`` with ``thinking``,
``Calls``, ``Fault``), has the same default answer ("You said: ...", with the earlier questions), and records
what it was sent (``requests``): so one test proves one behaviour for every provider. Adding a provider: its
fake server, and its line here (tests/test_provider_registry.py fails until the table and these agree).
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from chatcli.provider_table import ProviderInfo, info


@dataclass(frozen=True)
class Row:
    name: str  # the provider's name (chatcli.provider_table)
    model: str  # as the user names it
    fake: str  # its fake server, "module:Class" (``start`` starts one)
    # The key chat is given for it; a fake that takes one key only says which as its module's KEY.
    key: str = ""
    # False: the server never refuses a request over the model's window, it cuts it itself (Ollama drops the
    # oldest messages): chat sizes the window it asks for instead (tests/test_ollama.py).
    refuses_over_window: bool = True
    # How a LangGraph developer's own graph builds this provider's model, pointed at the fake by the variables
    # of ``env`` (read from the graph's process): an import line and an expression.
    graph_model: tuple[str, str] = ("", "")

    def __str__(self) -> str:
        return self.name

    @property
    def info(self) -> ProviderInfo:
        """Its row of the provider table."""
        return info(self.name)

    @property
    def module(self) -> str:
        """The LangChain package its client is ("" for one chat always has): its tests skip when it is missing."""
        return self.info.package

    def fake_module(self) -> Any:
        return importlib.import_module(self.fake.partition(":")[0])

    def start(self) -> AbstractContextManager[Any]:
        """A fake server of this provider's (a context manager that starts it)."""
        server: AbstractContextManager[Any] = getattr(self.fake_module(), self.fake.partition(":")[2])()
        return server

    def env(self, server: Any) -> dict[str, str]:
        """The variables that point chat at ``server`` (its row's address variable) with the key it takes."""
        found = {self.info.url_var: server.base_url} if self.info.url_var else {}
        if self.info.key_var:
            found[self.info.key_var] = getattr(self.fake_module(), "KEY", self.key)
        return found


ROWS: list[Row] = [
    Row(
        "openai", "openai:gpt-fake", "tests.fakeserver:FakeOpenAIServer", "sk-test-SECRET-0123456789",
        graph_model=("from langchain_openai import ChatOpenAI", "ChatOpenAI(model='gpt-fake', "
                     "base_url=os.environ['OPENAI_BASE_URL'], api_key=os.environ['OPENAI_API_KEY'], max_retries=0)"),
    ),
    Row(
        "anthropic", "anthropic:claude-fake", "tests.fakes.anthropic:FakeAnthropicServer",
        "sk-ant-test-SECRET-0123456789",
        graph_model=("from langchain_anthropic import ChatAnthropic", "ChatAnthropic(model='claude-fake', "
                     "base_url=os.environ['ANTHROPIC_BASE_URL'], api_key=os.environ['ANTHROPIC_API_KEY'], "
                     "max_retries=0)"),
    ),
    Row(
        "google_genai", "google_genai:gemini-fake", "tests.fakes.gemini:FakeGeminiServer",
        graph_model=("from langchain_google_genai import ChatGoogleGenerativeAI", "ChatGoogleGenerativeAI("
                     "model='gemini-fake', base_url=os.environ['GOOGLE_GEMINI_BASE_URL'], vertexai=False, "
                     "google_api_key=os.environ['GOOGLE_API_KEY'], max_retries=1)"),
    ),
    Row(
        "ollama", "ollama:qwen3", "tests.fakes.ollama:FakeOllamaServer", refuses_over_window=False,
        graph_model=("from langchain_ollama import ChatOllama",
                     "ChatOllama(model='qwen3', base_url=os.environ['OLLAMA_HOST'])"),
    ),
]  # fmt: skip

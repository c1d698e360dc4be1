"""``chat models`` and /model's Tab across providers: every provider set up lists its models, named as
``-m`` takes them; one that cannot list is a line beside the others' names, not the end of the list."""

from __future__ import annotations

import json

import pytest

from tests.fakeserver import FakeOpenAIServer
from tests.helpers import chat

pytest.importorskip("langchain_google_genai")
pytest.importorskip("langchain_ollama")


@pytest.fixture
def three(server: FakeOpenAIServer, chat_env: dict[str, str]):
    """The OpenAI-compatible fake, a Gemini API fake and an Ollama fake, each set up in the environment."""
    from tests.fakes.gemini import KEY, FakeGeminiServer
    from tests.fakes.ollama import FakeOllamaServer

    server.models = ["gpt-fake", "gpt-4o"]
    with FakeGeminiServer() as gemini, FakeOllamaServer() as ollama:
        gemini.max_page = 2  # the list comes in pages: all of them are read
        env = {**chat_env, "GOOGLE_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": gemini.base_url,
               "OLLAMA_HOST": ollama.base_url}  # fmt: skip
        yield gemini, ollama, env


EVERY = [
    "google_genai:gemini-2.0-flash", "google_genai:gemini-2.5-flash", "google_genai:gemini-3-pro-preview",
    "google_genai:gemini-fake", "google_genai:gemma-3-27b-it", "gpt-4o", "gpt-fake", "ollama:gemma3:4b",
    "ollama:llama3.2", "ollama:qwen3",
]  # fmt: skip


def test_models_lists_every_provider_set_up_as_model_takes_them(three):
    gemini, ollama, env = three
    run = chat(env, "models")
    assert run.code == 0 and run.err == "", run
    assert run.out.splitlines() == EVERY  # Gemini's embedding model cannot chat: not listed
    assert json.loads(chat(env, "models", "--json").out) == EVERY
    shown = chat({**env, "CHATCLI_MODEL": "ollama:qwen3:latest"}, "models", tty=True).out.splitlines()
    assert [line for line in shown if line.startswith("*")] == ["* ollama:qwen3"], shown
    assert gemini.requests == [] and ollama.requests == []  # listing asks no model anything


def test_a_provider_that_cannot_list_is_one_line_beside_the_others(three):
    gemini, ollama, env = three
    gemini.key = "another key"  # the one set is refused: 400 API key not valid
    run = chat(env, "models")
    assert run.code == 0, run
    assert run.out.splitlines() == [name for name in EVERY if not name.startswith("google_genai:")]
    [line] = run.err_lines
    assert line.startswith("Gemini listed nothing: authentication refused by 127.0.0.1") and "GOOGLE_API_KEY" in line


def test_when_no_provider_can_list_the_first_is_the_error_and_the_rest_are_lines(three, server):
    gemini, ollama, env = three
    gemini.key, server.models = "another key", []
    env["OLLAMA_HOST"] = env["OPENAI_BASE_URL"].removesuffix("/v1") + "/nowhere"
    env["OPENAI_BASE_URL"] += "/nowhere"
    run = chat(env, "models")
    assert run.code == 4, run
    assert "has no model list (404 on /models)" in run.err_lines[-1], run
    assert any(line.startswith("Gemini: authentication refused") for line in run.err_lines), run


def test_model_tab_offers_every_providers_models_by_their_own_names():
    from chatcli.ui.completion import CommandCompleter, ModelCache, ThreadCache
    from tests.test_prompt_small import _completions

    cache = ModelCache()
    cache.items = list(EVERY)
    completer = CommandCompleter(ThreadCache(), cache)
    assert _completions(completer, "/model gem") == [
        "google_genai:gemini-2.0-flash", "google_genai:gemini-2.5-flash", "google_genai:gemini-3-pro-preview",
        "google_genai:gemini-fake", "google_genai:gemma-3-27b-it", "ollama:gemma3:4b",
    ]  # fmt: skip
    assert _completions(completer, "/model ollama:q") == ["ollama:qwen3"]
    assert _completions(completer, "/model gpt-4") == ["gpt-4o"]


def test_a_local_ollama_not_set_up_is_listed_when_it_answers_and_passed_over_when_not(server, chat_env, monkeypatch):
    import chatcli.providers.ollama as ollama_provider
    from tests.fakes.ollama import FakeOllamaServer
    from tests.fakeserver import closed_port_url

    server.models = ["gpt-fake"]
    with FakeOllamaServer() as ollama:  # where Ollama listens unless OLLAMA_HOST says otherwise
        monkeypatch.setattr(ollama_provider, "DEFAULT_PORT", ollama.port)
        run = chat(chat_env, "models")
        assert run.code == 0 and run.out.splitlines() == ["gpt-fake", "ollama:gemma3:4b", "ollama:llama3.2",
                                                          "ollama:qwen3"], run  # fmt: skip
    monkeypatch.setattr(ollama_provider, "DEFAULT_PORT", int(closed_port_url().rpartition(":")[2].split("/")[0]))
    run = chat(chat_env, "models")
    assert run.code == 0 and run.out.splitlines() == ["gpt-fake"] and run.err == "", run


def test_a_listed_name_chat_could_not_be_asked_with_is_not_offered(server, chat_env):
    """A server's list may hold what is no model's name (a path with spaces, an escape sequence): chat would refuse
    it as the user's, so it is not offered, and what is a name is."""
    server.models = ["gpt-fake", "/models/My Model.gguf", "evil\x1b]0;pwned\x07", ""]
    run = chat(chat_env, "models")
    assert run.code == 0 and run.out.split() == ["gpt-fake"], run

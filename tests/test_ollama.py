"""Ollama (``ollama:``) through the real ``chat`` against a fake that speaks Ollama's own API.

What the shared tests (tests/test_providers_shared.py) do not already prove for every provider:
the window chat asks for holds its history (Ollama cuts what does not fit, silently), a model
trained for less gets less, a model that does not think or take tools is asked again without,
Ollama's errors as their one line (a model not pulled, no server), and OLLAMA_HOST as the ollama
client reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcli.config import Settings
from tests.fakes.ollama import FakeOllamaServer, StreamError, words
from tests.fakeserver import Calls, Fault, Reply, closed_port_url
from tests.helpers import assert_one_error_line, chat, stored, summary

pytest.importorskip("langchain_ollama")


@pytest.fixture
def ollama(chat_env: dict[str, str]):
    """(the fake Ollama server, the environment that points chat at it and nowhere else)."""
    with FakeOllamaServer() as fake:
        env = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}
        env.update(OLLAMA_HOST=fake.base_url, CHATCLI_MODEL="ollama:qwen3")
        yield fake, env


def _db(env: dict[str, str]) -> str:
    return env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


NOTE = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 30  # 450 words


def test_the_window_asked_for_holds_the_whole_budget_so_nothing_is_cut_silently(ollama):
    fake, env = ollama
    env["CHATCLI_CONTEXT_TOKENS"] = "10000"  # more than the 4,096 Ollama runs a model with unless asked
    env["CHATCLI_MEMORY"] = "trim"  # the whole budget sent as history, never folded
    for i in range(12):
        assert chat(env, "-t", "long", f"note {i}: {NOTE}").code == 0
    assert fake.truncated == 0, "Ollama cut a request chat sent"
    assert {body["options"]["num_ctx"] for body in fake.requests} == {22528}
    assert words(fake.requests[-1]["messages"]) > 4096, "the history sent is the budget's, not the default window's"


def test_a_model_trained_for_a_smaller_window_gets_a_history_that_fits_it(ollama):
    fake, env = ollama
    fake.window = 1200  # the model's trained length (words here), told by /api/show
    for i in range(8):
        run = chat(env, "-t", "small", f"note {i}: {NOTE[:700]}")
        assert run.code == 0, run
    assert fake.truncated == 0 and set(fake.shown) == {"qwen3"}
    assert all(words(body["messages"]) <= 1200 for body in fake.requests)
    assert fake.requests[-1]["options"]["num_ctx"] == 14336  # Ollama itself keeps it to the trained length


def test_a_model_that_does_not_think_is_asked_again_without_and_not_asked_again(ollama, tmp_path):
    fake, env = ollama
    env["CHATCLI_MODEL"] = "ollama:llama3.2"
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    fake.queue(Calls([("read_file", {"path": "notes.txt"})]))
    run = chat(env, "-t", "plain", "--tools", "files", "--yes", "what do my notes say?", cwd=tmp_path)
    assert run.code == 0 and run.out.startswith("You said: what do my notes say?"), run
    assert [body.get("think") for body in fake.requests] == [True, None, None]
    assert "the harbour opens at dawn" in json.dumps(fake.requests[-1])


def test_a_model_without_tools_is_asked_without_them(ollama):
    fake, env = ollama
    env["CHATCLI_MODEL"] = "ollama:gemma3:4b"
    run = chat(env, "--tools", "files", "hello")
    assert run.code == 0 and run.out.startswith("You said: hello"), run
    assert "does not take tools" in run.err and not fake.requests[-1].get("tools"), run


def test_the_answer_and_its_counts_and_thinking(ollama):
    fake, env = ollama
    fake.queue(Reply("forty-two", thinking="an old question"))
    run = chat(env, "--jsonl", "what is the answer?")
    events = [json.loads(line) for line in run.out.splitlines()]
    [done] = [e for e in events if e["type"] == "done"]
    prompt = words(fake.requests[-1]["messages"])
    assert done["usage"] == {"prompt_tokens": prompt, "completion_tokens": 4, "total_tokens": prompt + 4}, done
    assert done["reasoning"] == "an old question" and done["reply"] == "forty-two" and done["finish_reason"] == "stop"


ERRORS = [
    (Fault(status=404), "'qwen3' is not pulled at 127.0.0.1", "ollama pull qwen3"),
    (Fault(status=500), "server error", "try again later"),
    (Fault(status=401), "authentication refused", "ollama signin"),
    (Fault(status=429), "rate limited", "wait a moment"),
    (Fault(malformed=True), "malformed stream", "Ollama server"),
]


@pytest.mark.parametrize("fault, said, hinted", ERRORS, ids=["not-pulled", "runner", "cloud-auth", "cloud-limit",
                                                              "malformed"])  # fmt: skip
def test_each_of_ollamas_errors_is_one_line_with_its_hint(ollama, fault, said, hinted):
    fake, env = ollama
    env["CHATCLI_MAX_RETRIES"] = "2"  # the ollama client makes one attempt: no retries are claimed
    fake.queue(fault)
    run = chat(env, "-t", "e", "will this work?")
    line = assert_one_error_line(run, 4)
    assert said in line and hinted in run.err, run
    assert "retries" not in line and len(fake.requests) == 1, run
    assert summary(stored(_db(env), "e"))[0][:2] == ("human", "will this work?")


def test_a_model_that_is_not_pulled_names_the_pull(ollama):
    fake, env = ollama
    run = chat(env, "-m", "ollama:mistral-nemo", "hi")
    line = assert_one_error_line(run, 4)
    assert "'mistral-nemo' is not pulled" in line and "ollama pull mistral-nemo" in run.err, run


def test_an_error_in_the_middle_of_the_stream_keeps_the_part_that_arrived(ollama):
    fake, env = ollama
    fake.queue(StreamError(after=3))
    run = chat(env, "-t", "mid", "count for me")
    line = assert_one_error_line(run, 4)
    assert "server error from 127.0.0.1" in line and "unexpected EOF" in line and "None" not in line, line
    assert run.out.startswith("one two three"), run
    kept = summary(stored(_db(env), "mid"))
    assert kept[1][0] == "ai" and kept[1][1].startswith("one two three") and kept[1][2], kept


def test_no_server_is_one_line_naming_ollama_host(ollama):
    fake, env = ollama
    port = closed_port_url().removesuffix("/v1").rpartition(":")[2]
    env["OLLAMA_HOST"] = f"127.0.0.1:{port}"  # host:port, as Ollama's own variable is often set
    run = chat(env, "hi")
    line = assert_one_error_line(run, 4)
    assert f"no Ollama server at 127.0.0.1:{port}" in line and "OLLAMA_HOST" in run.err, run


def test_ollama_host_is_read_as_the_ollama_client_reads_it():
    from chatcli.providers.ollama import PROVIDER

    def endpoint(host: str) -> str:
        return PROVIDER.endpoint(Settings(provider_env=(("OLLAMA_HOST", host),) if host else ()))

    assert endpoint("") == "http://127.0.0.1:11434"
    assert endpoint("0.0.0.0") == "http://0.0.0.0:11434"  # the server's own bind address, often exported
    assert endpoint("gpu-box:8080") == "http://gpu-box:8080"
    assert endpoint(":9000") == "http://127.0.0.1:9000"
    assert endpoint("https://ollama.example.com/") == "https://ollama.example.com"


ENDINGS = [
    (Reply("half an ans", finish_reason="length"), "cut off at the model's output limit"),
    (Fault(no_finish=True, text="it just stops"), "the server sent no finish reason"),
]  # (Ollama has no content filter)


@pytest.mark.parametrize("item, said", ENDINGS, ids=["length", "no-finish"])
def test_an_answer_that_did_not_end_whole_says_why_and_is_kept(item, said, ollama):
    fake, env = ollama
    fake.queue(item)
    run = chat(env, "-t", "end", "tell me")
    assert said in run.err, run
    kept = summary(stored(_db(env), "end"))
    assert kept[1][0] == "ai" and kept[1][1] == (item.text) and kept[1][2], kept


@pytest.mark.parametrize("after, said", [(2, "stalled: no text for more than 1 s"), (0, "no answer from 127.0.0.1")])
def test_a_server_gone_silent_is_one_line_and_keeps_what_arrived(after, said, ollama):
    fake, env = ollama
    env["CHATCLI_TIMEOUT"] = "1"
    fake.queue(Fault(stall_after=after, stall=30, text="one two three four"))
    run = chat(env, "-t", "quiet", "are you there?")
    line = assert_one_error_line(run, 4)
    assert said in line, line
    assert run.out.startswith("one two" if after else ""), run
    kept = summary(stored(_db(env), "quiet"))
    assert kept[0][:2] == ("human", "are you there?") and (not after or kept[1][1].startswith("one two")), kept

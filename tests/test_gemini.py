"""Gemini (``google_genai:``) through the real ``chat`` against a fake that speaks the Gemini API's wire.

What the shared tests (tests/test_providers_shared.py) do not already prove for every provider:
Gemini 3's thought signatures kept across a tool call and the next question, a model that does not
think asked again without thoughts, the usage Gemini counts cumulatively read once, each of
Google's errors as its one line, the window the API tells, and the endpoint variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.gemini import KEY, FakeGeminiServer, StreamError, words
from tests.fakes.gemini_rules import SKIP_SIGNATURE, camel
from tests.fakeserver import Calls, Fault, Reply, closed_port_url
from tests.helpers import assert_one_error_line, chat, stored, summary

pytest.importorskip("langchain_google_genai")


@pytest.fixture
def gemini(chat_env: dict[str, str]):
    """(the fake Gemini API, the environment that points chat at it and nowhere else)."""
    with FakeGeminiServer() as fake:
        env = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}
        env.update(GOOGLE_GEMINI_BASE_URL=fake.base_url, GOOGLE_API_KEY=KEY, CHATCLI_MODEL="google_genai:gemini-fake")
        yield fake, env


def _db(env: dict[str, str]) -> str:
    return env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _asked_thoughts(body: dict) -> bool:
    config = body.get("generationConfig") or {}
    thinking = config.get("thinkingConfig") or {}
    return bool(thinking.get("includeThoughts") or thinking.get("include_thoughts"))


def test_gemini_3_keeps_its_thought_signatures_through_a_tool_call_and_the_next_question(gemini, tmp_path):
    fake, env = gemini
    env["CHATCLI_MODEL"] = "google_genai:gemini-3-pro-preview"
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    fake.queue(Calls([("read_file", {"path": "notes.txt"})], thinking="the notes will say"), Reply("At dawn."))
    run = chat(env, "-t", "g3", "--tools", "files", "--yes", "--jsonl", "when does the harbour open?", cwd=tmp_path)
    assert run.code == 0, run
    events = _events(run.out)
    assert "".join(e["text"] for e in events if e["type"] == "reasoning") == "the notes will say", events
    assert "".join(e["text"] for e in events if e["type"] == "token").strip() == "At dawn.", events
    # The fake refuses a call sent back without the signature it gave (or with one it never gave).
    again = chat(env, "-t", "g3", "--tools", "files", "and at dusk?", cwd=tmp_path)
    assert again.code == 0 and again.out.startswith("You said: and at dusk? (earlier: when does the harbour open?)")
    assert len(fake.requests) == 3
    sent = json.dumps(fake.requests[-1])
    assert "the harbour opens at dawn" in sent and "thoughtSignature" in sent, sent
    assert SKIP_SIGNATURE not in sent, "the call went back with its own signature, not the API's bypass"


def test_a_model_that_does_not_think_is_asked_again_without_thoughts_and_not_asked_again(gemini, tmp_path):
    fake, env = gemini
    env["CHATCLI_MODEL"] = "google_genai:gemini-2.0-flash"
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    fake.queue(Calls([("read_file", {"path": "notes.txt"})]))
    run = chat(env, "-t", "old", "--tools", "files", "--yes", "what do my notes say?", cwd=tmp_path)
    assert run.code == 0 and run.out.startswith("You said: what do my notes say?"), run
    assert "error" not in run.err, run
    assert [_asked_thoughts(body) for body in fake.requests] == [True, False, False]


def test_usage_counted_once_though_gemini_sends_it_cumulatively(gemini):
    fake, env = gemini
    fake.queue(Reply("one two three four", thinking="a b c"))
    run = chat(env, "--jsonl", "count these words please")
    assert run.code == 0, run
    [done] = [e for e in _events(run.out) if e["type"] == "done"]
    # Every event carries the counts so far; the answer's are its last event's: the prompt's words, and four
    # tokens of answer with three of thought.
    prompt = words(camel(fake.requests[-1]))
    assert done["usage"] == {"prompt_tokens": prompt, "completion_tokens": 7, "total_tokens": prompt + 7}, done


ERRORS = [
    (
        Fault(status=400, message="API key not valid. Please pass a valid API key."),
        "authentication refused",
        "GOOGLE_API_KEY",
    ),
    (Fault(status=403), "access denied", "permissions"),
    (Fault(status=404), "model 'gemini-fake' not found", "chat models"),
    (Fault(status=429), "rate limited", "try again in 7 s"),
    (Fault(status=503), "is overloaded (503)", "try again"),
    (Fault(status=500), "server error", "try again later"),
    (Fault(malformed=True), "malformed stream", "Gemini API"),
]


@pytest.mark.parametrize("fault, said, hinted", ERRORS, ids=["bad-key", "denied", "no-model", "quota", "overloaded",
                                                              "internal", "malformed"])  # fmt: skip
def test_each_of_googles_errors_is_one_line_with_its_hint(gemini, fault, said, hinted):
    fake, env = gemini
    fake.queue(fault)
    run = chat(env, "-t", "e", "will this work?")
    line = assert_one_error_line(run, 4)
    assert said in line and hinted in run.err, run
    assert "SECRET" not in run.err
    assert summary(stored(_db(env), "e"))[0][:2] == ("human", "will this work?")


def test_an_error_in_the_middle_of_the_stream_keeps_the_part_that_arrived(gemini):
    fake, env = gemini
    fake.queue(StreamError(after=3, status=503))
    run = chat(env, "-t", "mid", "count for me")
    line = assert_one_error_line(run, 4)
    assert "overloaded" in line, line
    assert run.out.startswith("one two three"), run
    kept = summary(stored(_db(env), "mid"))
    assert kept[1][0] == "ai" and kept[1][1].startswith("one two three") and kept[1][2], kept


def test_a_server_that_is_not_there_is_one_line_naming_the_variable(gemini):
    fake, env = gemini
    env["GOOGLE_GEMINI_BASE_URL"] = closed_port_url().removesuffix("/v1")
    run = chat(env, "hello?")
    line = assert_one_error_line(run, 4)
    assert "could not open the connection" in line and "GOOGLE_GEMINI_BASE_URL" in run.err, run


def test_retries_are_the_number_asked_for(gemini):
    fake, env = gemini
    env["CHATCLI_MAX_RETRIES"] = "1"
    fake.queue(Fault(status=503), Fault(status=503))
    run = chat(env, "-t", "r", "are you there?")
    line = assert_one_error_line(run, 4)
    assert "overloaded (503) after 1 retry" in line and len(fake.requests) == 2, run
    fake.queue(Fault(status=503))
    assert chat(env, "-t", "r", "and now?").code == 0 and len(fake.requests) == 4


def test_the_window_the_api_tells_is_fitted_from_the_first_question(gemini):
    fake, env = gemini
    long = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 12
    fake.window = 900  # words; told as the model's inputTokenLimit
    env["CHATCLI_MEMORY"] = "trim"  # every request a question's: what the window lets through, no summary asked for
    for i in range(5):
        run = chat(env, "-t", "w", f"note {i}: {long}")
        assert run.code == 0, run
    assert len(fake.requests) == 5, "no request was refused for its size"
    assert all(len(json.dumps(body).split()) < 1400 for body in fake.requests)


ENDINGS = [
    (Reply("half an ans", finish_reason="length"), "cut off at the model's output limit"),
    (Reply("I cannot", finish_reason="content_filter"), "content filter stopped the answer"),
    (Fault(no_finish=True, text="it just stops"), "the server sent no finish reason"),
]


@pytest.mark.parametrize("item, said", ENDINGS, ids=["length", "filtered", "no-finish"])
def test_an_answer_that_did_not_end_whole_says_why_and_is_kept(item, said, gemini):
    fake, env = gemini
    fake.queue(item)
    run = chat(env, "-t", "end", "tell me")
    assert said in run.err, run
    kept = summary(stored(_db(env), "end"))
    assert kept[1][0] == "ai" and kept[1][1] == (item.text) and kept[1][2], kept


def test_gemma_takes_no_system_instruction_thoughts_or_tools_and_is_asked_again_without(gemini):
    fake, env = gemini
    env["CHATCLI_MODEL"] = "google_genai:gemma-3-27b-it"
    run = chat(env, "--tools", "files", "--system", "Answer briefly.", "hello")
    assert run.code == 0 and run.out.startswith("You said: Answer briefly."), run  # the prompt heads the question
    assert "does not take tools" in run.err, run
    last = fake.requests[-1]
    assert "systemInstruction" not in last and not last.get("tools") and not _asked_thoughts(last), last


@pytest.mark.parametrize("after, said", [(2, "stalled: no text for more than 1 s"), (0, "no answer from 127.0.0.1")])
def test_a_server_gone_silent_is_one_line_and_keeps_what_arrived(after, said, gemini):
    fake, env = gemini
    env["CHATCLI_TIMEOUT"] = "1"
    fake.queue(Fault(stall_after=after, stall=30, text="one two three four"))
    run = chat(env, "-t", "quiet", "are you there?")
    line = assert_one_error_line(run, 4)
    assert said in line, line
    assert run.out.startswith("one two" if after else ""), run
    kept = summary(stored(_db(env), "quiet"))
    assert kept[0][:2] == ("human", "are you there?") and (not after or kept[1][1].startswith("one two")), kept


def test_a_hosted_gemini_answer_is_priced_thinking_as_output_and_cache_reads_as_such(gemini, monkeypatch):
    fake, env = gemini
    proxy = f"http://127.0.0.1:{fake.port}"  # the fake answers as a hosted name, as Gemini's own
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    hosted = {**env, "GOOGLE_GEMINI_BASE_URL": "http://generativelanguage.chatcli.invalid", "HTTP_PROXY": proxy,
              "NO_PROXY": "", "CHATCLI_MODEL": "google_genai:gemini-2.5-flash"}  # fmt: skip
    fake.cached_tokens = 6
    fake.queue(Reply("one two three", thinking="first this then that"))
    run = chat(hosted, "-t", "p", "--json", "a question of some ten words to price it")
    assert run.code == 0, run
    [reply] = [m for m in stored(_db(env), "p") if m.type == "ai"]
    usage = reply.usage_metadata
    assert usage["output_tokens"] == 3 + 4 and usage["input_token_details"]["cache_read"] == 6, usage
    # gemini-2.5-flash: $0.30 in, $0.03 read from the cache, $2.50 out (thinking too) a million tokens
    dollars = (usage["input_tokens"] - 6) * 0.30 + 6 * 0.03 + usage["output_tokens"] * 2.50
    assert json.loads(run.out)["cost_usd"] == pytest.approx(dollars / 1e6)


def test_the_thinking_budget_is_the_models_and_a_model_that_does_not_think_is_asked_without_it(gemini):
    fake, env = gemini
    env["CHATCLI_THINKING_BUDGET"] = "2048"
    assert chat(env, "how deep?").code == 0
    thinking = camel(fake.requests[-1])["generationConfig"]["thinkingConfig"]
    assert thinking == {"includeThoughts": True, "thinkingBudget": 2048}, thinking
    env["CHATCLI_MODEL"] = "google_genai:gemini-2.0-flash"
    run = chat(env, "and now?")
    assert run.code == 0 and run.out.startswith("You said: and now?"), run
    assert "thinkingConfig" not in camel(fake.requests[-1]).get("generationConfig", {})


@pytest.mark.parametrize("names", [("GEMINI_API_KEY",), ("GOOGLE_API_KEY", "GEMINI_API_KEY")])
def test_the_key_is_read_as_googles_sdk_reads_it(gemini, tmp_path, names):
    """GEMINI_API_KEY alone is the key (as google-genai reads it); with GOOGLE_API_KEY too, GOOGLE_API_KEY wins.
    Either is masked where chat shows settings."""
    fake, env = gemini
    del env["GOOGLE_API_KEY"]
    env.update({name: KEY if n == 0 else "gm-the-other-key-0000" for n, name in enumerate(names)})
    fake.queue(Reply("Hello."))
    run = chat(env, "hi", cwd=tmp_path)
    assert run.code == 0 and run.out == "Hello.\n", run
    sent = {k.lower(): v for k, v in fake.request_headers[-1].items()}
    assert sent["x-goog-api-key"] == KEY
    shown = chat(env, "config", cwd=tmp_path).out
    assert KEY not in shown and "gm-the-other-key-0000" not in shown

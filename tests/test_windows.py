"""Context windows smaller than the budget: learned from the server's refusal, fitted, asked again
once, remembered for later runs; a single message too big is one line, never a loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import assert_one_error_line, chat

LONG = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 12  # ~170 words


def fill(env: dict[str, str], thread: str, turns: int) -> None:
    for i in range(turns):
        assert chat(env, "-t", thread, f"note {i}: {LONG}").code == 0


def windows_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatcli" / "windows.json"


@pytest.fixture
def chat_env(chat_env: dict[str, str]) -> dict[str, str]:
    """These tests are about what trim memory leaves out under a learned window; the default memory, which
    compacts instead, is the last test's."""
    return {**chat_env, "CHATCLI_MEMORY": "trim"}


@pytest.mark.parametrize("style", ["openai", "llama", "empty"])
def test_a_window_smaller_than_the_budget_is_learned_fitted_and_remembered(server, chat_env, style):
    fill(chat_env, "w", 4)  # about 1,400 words of history, under no window yet
    server.window, server.window_style = 900, style
    before = len(server.requests)
    run = chat(chat_env, "-t", "w", "what was the first note about?")
    assert run.code == 0, run
    assert run.out.startswith("You said: what was the first note about?"), "answered after one retry"
    assert len(server.requests) == before + 2, "refused once, asked again once"
    notes = [line for line in run.err_lines if "context window" in line or "empty answer" in line]
    assert len(notes) == 1 and "remembered" in notes[0], run
    words = lambda body: sum(len(str(m["content"]).split()) for m in body["messages"])  # noqa: E731
    assert words(server.requests[-1]) <= 900 < words(server.requests[-2])
    saved = json.loads(windows_file(chat_env).read_text())
    assert len(saved) == 1 and list(saved.values())[0]["budget"] > 0
    # A later run starts with what was learned. A window the server named is fitted at once;
    # an empty answer names none, so chat halves what it sent and may need one more step.
    again = chat(chat_env, "-t", "w", "and the last one?")
    assert again.code == 0 and again.out.startswith("You said: and the last one?"), again
    if style == "empty":
        assert len(server.requests) <= before + 4
    else:
        assert len(server.requests) == before + 3, again
        # Nothing refused this time, but history was left out under the learned window: said once.
        [said] = [line for line in again.err_lines if "window" in line]
        assert (
            said.startswith("4 earlier turns not sent: the model's 900-token context window") and "after a day" in said
        ), said
        # Explained once for this endpoint and model; later runs say it short.
        third = chat(chat_env, "-t", "w", "and the one before?")
        [short] = [line for line in third.err_lines if "not sent" in line]
        assert short.endswith("earlier turns not sent (the window learned for gpt-fake)"), short
        assert len(short) < 80 and "after a day" not in third.err


def test_a_single_message_over_the_window_is_one_line_and_no_loop(server, chat_env):
    server.window = 100
    before = len(server.requests)
    line = assert_one_error_line(chat(chat_env, "-t", "big", LONG), 4)
    assert "too long for the model's context window (100 tokens)" in line, line
    assert len(server.requests) - before == 1, "nothing left to cut: not asked again"


@pytest.mark.parametrize("kind", ["llama", "vllm", "lmstudio", "ollama"])
def test_a_window_the_server_tells_is_used_from_the_first_turn(server, chat_env, kind):
    fill(chat_env, "t", 4)  # under no window yet: nothing asked the server (it told nothing)
    saved = json.loads(windows_file(chat_env).read_text())
    assert list(saved.values())[0]["window"] is None, "asked once, and remembered it told nothing"
    windows_file(chat_env).unlink()  # a new machine, say: the server is asked again
    server.window, server.tells_window = 900, kind
    before = len(server.requests)
    run = chat(chat_env, "-t", "t", "what was the first note about?")
    assert run.code == 0 and len(server.requests) == before + 1, "fitted from the first request: no refusal"
    assert list(json.loads(windows_file(chat_env).read_text()).values())[0]["window"] == 900


# --------------------------------------------------------------------------- a learned window is a ceiling to probe


def _learn(env: dict[str, str], server, window: int = 900) -> None:
    """Fill a thread, then have the server refuse it for size: chat learns ``window``."""
    fill(env, "p", 4)
    server.window = window
    assert chat(env, "-t", "p", "learn it").code == 0
    assert list(json.loads(windows_file(env).read_text()).values())[0]["window"] == window
    server.window = None  # the server started again with a big window


def _whole_history_sent(server) -> bool:
    users = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    return any(u.startswith("note 0:") for u in users)


def test_a_bigger_budget_asked_for_is_tried_again(server, chat_env):
    _learn(chat_env, server)
    held = chat(chat_env, "-t", "p", "still held?")
    assert held.code == 0 and not _whole_history_sent(server), "a fresh learned window still applies"
    run = chat({**chat_env, "CHATCLI_CONTEXT_TOKENS": "50000"}, "-t", "p", "now with room?")
    assert run.code == 0 and _whole_history_sent(server), run
    assert not [line for line in run.err_lines if "not sent" in line], run


def test_a_bigger_window_the_server_states_wins_over_a_learned_one(server, chat_env):
    _learn(chat_env, server)
    server.window, server.tells_window = 100_000, "llama"
    run = chat(chat_env, "-t", "p", "after the restart?")
    assert run.code == 0 and _whole_history_sent(server), run
    assert list(json.loads(windows_file(chat_env).read_text()).values())[0]["window"] == 100_000


def test_after_a_day_chat_tries_more_and_a_refusal_teaches_it_again(server, chat_env):
    _learn(chat_env, server)
    saved = json.loads(windows_file(chat_env).read_text())
    for entry in saved.values():
        entry["learned_at"] -= 2 * 24 * 3600
    windows_file(chat_env).write_text(json.dumps(saved))
    run = chat(chat_env, "-t", "p", "a day later")
    assert run.code == 0 and _whole_history_sent(server), run
    # Still small after all: refused, learned again, said once.
    server.window = 900
    again = chat(chat_env, "-t", "p", "and again")
    assert again.code == 0, again
    assert len([line for line in again.err_lines if "remembered" in line]) == 1, again
    assert list(json.loads(windows_file(chat_env).read_text()).values())[0]["window"] == 900


def test_no_password_in_an_endpoint_url_is_kept_at_rest(server, chat_env):
    secret_url = server.base_url.replace("http://", "http://bob:s3cretPW@")
    windows_file(chat_env).parent.mkdir(parents=True, exist_ok=True)
    # A file written by an earlier version, with the password (and a key in the query) in its key.
    old = {f"{secret_url}?api-key=QUERYSECRET old-model": {"budget": 500, "window": 1000}}
    windows_file(chat_env).write_text(json.dumps(old))
    run = chat({**chat_env, "OPENAI_BASE_URL": secret_url}, "hi")
    assert run.code == 0, run
    text = windows_file(chat_env).read_text()
    assert "s3cretPW" not in text and "QUERYSECRET" not in text and "bob" not in text, text
    assert f"{server.base_url} gpt-fake" in json.loads(text)


# --------------------------------------------------------------------------- turns left out are said


def test_turns_left_out_by_the_budget_are_said_in_the_usage_line_and_in_json(server, chat_env):
    small = {**chat_env, "CHATCLI_CONTEXT_TOKENS": "600"}
    fill(small, "b", 3)  # each note ~220 tokens: the budget holds about two of them
    shown = chat(small, "-t", "b", "what was the first note about?", tty=True)
    assert shown.code == 0, shown
    lines = shown.err.splitlines()
    usage = next(i for i, line in enumerate(lines) if " in · " in line)
    assert lines[usage + 1] == "2 earlier turns not sent · /compact keeps them in a summary", lines
    as_json = json.loads(chat(small, "--json", "-t", "b", "and the second?").out)
    assert as_json["turns_left_out"] == 3, as_json
    lines = [json.loads(line) for line in chat(small, "--jsonl", "-t", "b", "and now?").out.splitlines()]
    assert lines[-1]["type"] == "done" and lines[-1]["turns_left_out"] >= 3
    # With room for everything, nothing is said.
    roomy = chat(chat_env, "-t", "b", "all of it?", tty=True)
    assert (
        roomy.code == 0
        and "not sent" not in roomy.err
        and json.loads(chat(chat_env, "--json", "-t", "b", "still?").out)["turns_left_out"] == 0
    )


def test_under_the_default_memory_a_window_learned_from_a_refusal_compacts_instead_of_leaving_turns_out(
    server, chat_env
):
    compacting = {k: v for k, v in chat_env.items() if k != "CHATCLI_MEMORY"}
    fill(compacting, "c", 4)
    server.window, server.window_style = 900, "openai"
    run = chat(compacting, "-t", "c", "what was the first note about?")
    assert run.code == 0 and run.out.startswith("You said: what was the first note about?"), run
    said = [line for line in run.err_lines if line.startswith("compacted ")]
    assert len(said) == 1 and "/summary shows it" in said[0], run.err
    assert "not sent" not in run.err, "the turns are folded into the summary, not left out"
    summarised = [r for r in server.requests if str(r["messages"][0]["content"]).startswith("You keep a running")]
    # Folded a window's worth per call (no call sends more than the model takes), the oldest first: every note.
    assert summarised and "note 0:" in summarised[0]["messages"][-1]["content"]
    folded = " ".join(str(r["messages"][-1]["content"]) for r in summarised)
    assert all(f"note {i}:" in folded for i in range(4))
    assert all(sum(len(str(m["content"]).split()) for m in r["messages"]) <= 900 for r in summarised)
    last = server.requests[-1]["messages"]
    assert str(last[1]["content"]).startswith("Summary of the earlier conversation")
    assert sum(len(str(m["content"]).split()) for m in last) <= 900


def test_a_window_probe_goes_where_the_environment_says_at_that_time(monkeypatch):
    """The warm worker and chat serve live on: a probe made while HTTP_PROXY named a proxy does not send the
    next one, made without it, through that proxy (urllib's shared opener kept the first call's proxies)."""
    import asyncio

    from chatcli.providers.openai_windows import told_window
    from tests.fakeserver import FakeOpenAIServer

    with FakeOpenAIServer() as proxy, FakeOpenAIServer() as endpoint:
        proxy.window, proxy.tells_window = 111, "llama"  # a proxy answers for any URL it is asked for
        endpoint.window, endpoint.tells_window = 222, "llama"
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.base_url.removesuffix("/v1"))
        assert asyncio.run(told_window(endpoint.base_url, "gpt-fake")) == 111, "through the proxy the environment names"
        monkeypatch.delenv("http_proxy")
        assert asyncio.run(told_window(endpoint.base_url, "gpt-fake")) == 222, (
            "straight to the endpoint once it names none"
        )


# --------------------------------------------------------------------------- with no setting, the model's window


def git_log(size: int = 350_000) -> str:
    """A ``git log -p`` of ``size`` characters, as a newcomer pipes it: commits, authors, diffs; its last line is
    a marker to find in the request."""
    commit = (
        "commit 3f9a1c2e{n:032x}\nAuthor: A Developer <dev@example.org>\nDate:   Tue Nov 24 10:{m:02d}:00 2026\n\n"
        "    Fix the parser for nested lists ({n})\n\ndiff --git a/src/parse.py b/src/parse.py\n"
        "-    return items\n+    return [flatten(i) for i in items]  # nested lists, issue {n}\n\n"
    )
    text, n = "", 0
    while len(text) < size:
        text += commit.format(n=n, m=n % 60)
        n += 1
    return text[:size] + "\nEND OF LOG 1c0d874\n"


def sent_text(fake) -> str:
    return json.dumps(fake.requests[-1], ensure_ascii=False) if fake.requests else ""


@pytest.mark.slow  # a 350 kB request through each provider's client and fake: seconds each
def test_the_readmes_pipe_goes_whole_to_every_provider(provider):
    """`git log | chat "summarize"` on a 350 kB log: the whole log is sent with the question, on every provider's
    wire format (no 6,000-token wall); a server on this machine that chat sizes itself (Ollama) says in one line
    that its window cannot hold it, and how to make it bigger."""
    row, fake, env = provider
    env = {**env, "CHATCLI_MEMORY": "trim"}
    log = git_log()
    fake.queue(Reply("A parser fixed for nested lists, many times."))  # (not the fake's echo of 350 kB, a token each)
    run = chat(env, "summarize", stdin=log)
    if row.name == "ollama":  # its window is sized for 6,000 tokens of history: the user's memory, the user's say
        line = assert_one_error_line(run, 2)
        assert "the model's context window holds" in line and "CHATCLI_CONTEXT_TOKENS" in line, line
        return
    assert run.code == 0, run
    assert "END OF LOG 1c0d874" in sent_text(fake) and "summarize" in sent_text(fake), "the log was not sent whole"


@pytest.mark.slow  # a 45,000-token thread built and sent whole: seconds each
@pytest.mark.parametrize("model, window", [("gpt-5-mini", 400_000), ("gpt-4o", 128_000)])
def test_with_no_setting_the_history_budget_is_the_models_window(server, hosted, model, window):
    """A thread of 45,000 tokens goes whole to a hosted model whose window holds it; the user's
    CHATCLI_CONTEXT_TOKENS is a cap below that; a question larger than what the window holds beside the reply is
    one line naming it."""
    from chatcli.budget import split_window

    env = {**hosted, "CHATCLI_MODEL": model}
    server.queue(*(Reply(f"noted {n}") for n in range(3)))
    for n in range(3):
        assert chat(env, "-t", "big", f"part {n}: " + git_log(60_000)).code == 0  # ~15,000 tokens a turn
    run = chat(env, "--json", "-t", "big", "and in all?")
    assert run.code == 0 and json.loads(run.out)["turns_left_out"] == 0, run
    firsts = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    assert firsts[0].startswith("part 0:") and len(firsts) == 4, "the whole thread fits the model's window"
    capped = chat({**env, "CHATCLI_CONTEXT_TOKENS": "6000", "CHATCLI_MEMORY": "trim"}, "--json", "-t", "big", "now?")
    assert capped.code == 0 and json.loads(capped.out)["turns_left_out"] >= 3, capped
    room = int(split_window(window, None)[0] / 0.6)  # what the window holds beside the reply
    before = len(server.requests)
    line = assert_one_error_line(chat(env, "-t", "big", "x" * (room * 4 + 400)), 2)
    assert f"the model's context window holds ~{room:,} beside the reply" in line, line
    assert len(server.requests) == before, "nothing was sent"


def test_chat_config_says_the_budget_is_the_models_window(hosted, chat_env):
    shown = chat({**hosted, "CHATCLI_MODEL": "gpt-5-mini"}, "config").out
    [line] = [line for line in shown.splitlines() if line.startswith("context_tokens")]
    assert "the model's window (gpt-5-mini: 400,000 tokens, ~180,000 of history: the prompt's context" in line, line
    # A server on this machine has the window it was started with, whatever its model is called.
    for env in ({**chat_env, "CHATCLI_MODEL": "gpt-5-mini"}, chat_env):
        unknown = chat(env, "config").out
        assert "'s is not known" in unknown and "200,000; ~90,000 of history" in unknown, unknown

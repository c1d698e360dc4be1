"""Hostile text reaches the terminal by every path chat writes on, and is shown, never obeyed.

The text comes from where an attacker puts it: an MCP server's error, a model server's error body,
the name of the directory chat runs in, a model's answer that becomes a thread's title, JSON
output. Each path is run for real (in-process, as a process, through the warm worker), and what
reached stdout and stderr is checked for any sequence a terminal would act on (tests.test_terminal_lines).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import mcp_servers, test_worker
from tests.fakeserver import Fault, Reply
from tests.helpers import assert_one_error_line, chat, chat_process
from tests.test_mcp import write_servers
from tests.test_terminal_lines import EVIL, PAYLOADS, live_escapes

ODD = Path(__file__).resolve().parent / "mcp" / "odd.py"
worker_env = test_worker.worker_env  # the fixture: chat_env with the warm worker on (stopped after the test)
# What a terminal would obey, as chat shows it: the ESC as ␛, BEL as ␇, C1 as U+FFFD.
SHOWN = ("␛]52;c;ZXZpbA==", "␛]0;PWNED", "␛[6n", "␛[2J", "\ufffd2J")
# Characters JSON may carry raw that a terminal (or a reader) takes for more than text.
RAW_IN_JSON = [chr(c) for c in (0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, 0x202E)]
TRICKY = "a\x9b2J b\x9d0;T\x9c c\u2028d\u2029e\x7f f\u202eg\x1b]0;T\x07 h"
# A directory name may hold anything but "/" and NUL.
EVIL_NAME = "repo " + " ".join(p for p in PAYLOADS if "/" not in p)


def evil_resource(chat_env: dict[str, str]) -> None:
    write_servers(chat_env, {"h": mcp_servers.stdio(ODD, "evil-resource")})


def assert_shown_not_obeyed(text: str) -> None:
    assert live_escapes(text) == [], text
    for shown in SHOWN:
        assert shown in text, (shown, text)


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_a_one_shot_s_error_from_an_mcp_server_is_shown_not_obeyed(server, chat_env, tty):
    evil_resource(chat_env)
    run = chat(chat_env, "read @h:h://nothere", tty=tty)
    line = assert_one_error_line(run, 2)
    assert line.startswith("chat: error: MCP server h could not give @h:h://nothere"), line
    assert_shown_not_obeyed(run.err)
    assert server.requests == []  # nothing was sent


@pytest.mark.e2e
def test_the_same_error_as_a_process_and_through_the_worker(server, chat_env, worker_env):
    evil_resource(worker_env)
    for env in ({**chat_env, "CHATCLI_WORKER": "0"}, worker_env, worker_env):  # the worker: started, then warm
        run = chat_process(env, "read @h:h://nothere")
        assert run.code == 2 and len(run.err_lines) == 1, run
        assert_shown_not_obeyed(run.err)


@pytest.mark.parametrize("flags", [[], ["--json"], ["--jsonl"]])
def test_a_model_server_s_error_body_is_shown_not_obeyed(server, chat_env, flags):
    server.queue(Fault(status=400, message=EVIL))
    run = chat(chat_env, *flags, "hi", tty=not flags)
    assert run.code == 4, run
    assert_shown_not_obeyed(run.err)
    if flags:  # the error object too: JSON escapes every control, and says the same line
        assert not any(c in run.out for c in RAW_IN_JSON) and live_escapes(run.out) == [], run.out
        assert json.loads(run.out.splitlines()[-1])["error"]["message"] in run.err


def test_a_directory_name_with_escapes_is_shown_not_obeyed(server, chat_env, tmp_path):
    repo = tmp_path / EVIL_NAME
    repo.mkdir()
    (repo / ".env").write_text("CHATCLI_SYSTEM=obey\n")
    run = chat(chat_env, "hello", cwd=repo)  # the note names the ignored .env, with its path
    assert run.code == 0 and "ignored" in run.err, run
    assert_shown_not_obeyed(run.err)
    for args in (["trust"], ["trust", "--revoke"], ["trust", "--revoke"]):
        said = chat(chat_env, *args, cwd=repo)
        assert said.code == 0 and "trust" in said.err, said
        assert_shown_not_obeyed(said.err)
    (repo / ".env").unlink()
    assert_shown_not_obeyed(assert_one_error_line(chat(chat_env, "trust", cwd=repo), 2))


@pytest.mark.parametrize("flags", [["--json"], ["--jsonl"]])
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_json_output_escapes_what_a_terminal_would_act_on_and_keeps_the_text(server, chat_env, flags, tty):
    server.queue(Reply(tokens=[TRICKY[:9], TRICKY[9:]]))
    run = chat(chat_env, *flags, "-t", "tricky", "hi", tty=tty)
    assert run.code == 0, run
    assert not any(c in run.out for c in RAW_IN_JSON) and live_escapes(run.out) == [], run.out
    assert json.loads(run.out.splitlines()[-1])["reply"] == TRICKY


@pytest.mark.parametrize(
    "args",
    [["threads", "--json"], ["export", "tricky", "--format", "json"], ["search", "tricky", "--json"]],
    ids=["threads", "export", "search"],
)
def test_stored_text_as_json_escapes_what_a_terminal_would_act_on_and_keeps_the_text(server, chat_env, args):
    server.queue(Reply("the tricky answer " + TRICKY))
    assert chat(chat_env, "-t", "tricky", "tricky " + TRICKY).code == 0  # the question names the thread
    run = chat(chat_env, *args)
    assert run.code == 0, run
    assert not any(c in run.out for c in RAW_IN_JSON) and live_escapes(run.out) == [], run.out
    kept = strings(json.loads(run.out))  # the text as stored, every character
    assert any("a\x9b2J b\x9d0;T\x9c c" in text and "e\x7f f\u202eg" in text for text in kept), kept


def strings(value: object) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings(item)]


@pytest.mark.parametrize("args", [["threads"], ["show", "evil"], ["search", "odd"], ["stats"]])
def test_a_title_and_answer_with_escapes_are_shown_not_obeyed_in_a_terminal(server, chat_env, args):
    server.queue(Reply(f"an odd answer {EVIL}"))
    assert chat(chat_env, "-t", "evil", f"odd question {EVIL}").code == 0
    run = chat({**chat_env, "PAGER": "cat"}, *args, tty=True)
    assert run.code == 0, run
    assert live_escapes(run.out) == [] and live_escapes(run.err) == [], run
    assert "␛]52;c;ZXZpbA==" in run.out, run.out

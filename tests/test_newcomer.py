"""A newcomer's first hour, as the README walks it, with the installed ``chat`` as a process each time: the six
commands, a first question that fails and its retry, a spending limit a person would set in config.toml, and a
background reply whose question is answered from the inbox. Each step is tested where its decision lives too; this
is the walk, end to end, so that a step that no longer follows the one before is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat_process as chat
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def test_the_readme_walk_from_the_first_question_to_the_inbox(server, hosted, isolated_env, tmp_path):
    env = {**hosted, "CHATCLI_MODEL": "gpt-5-mini"}
    unproxied = {k: v for k, v in env.items() if k.lower() != "http_proxy"}
    down = chat({**unproxied, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "my first question")
    assert down.code == 4 and "Traceback" not in down.err and len(down.err.strip().splitlines()) <= 3, down
    first = down.err.split("thread: ")[1].split()[0]
    [listed] = json.loads(chat(env, "threads", "--json").out)  # the failed first question is a thread all the same
    assert (listed["thread_id"], listed["title"]) == (first, "my first question"), listed

    server.queue(Reply("Answered at last."))
    retried = chat(env, "--json", "-c", "--again")  # its retry: the same question, asked of the server that answers
    assert retried.code == 0 and json.loads(retried.out)["thread_id"] == first, retried

    config = Path(isolated_env) / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("max_cost_answer = 0.10\n")  # what a person would set: a hosted model's "hi" still goes
    server.queue(Reply("Rayleigh scattering."), Reply("feat: add the parser"), Reply("As I said: scattering."))
    assert chat(env, "why is the sky blue?").out == "Rayleigh scattering.\n"
    piped = chat(env, "write a commit message", stdin="diff --git a/p.py b/p.py\n+def parse(): ...\n")
    assert piped.code == 0 and "diff --git" in json.dumps(server.requests[-1]["messages"]), piped
    assert chat(env, "-c", "say it again").out == "As I said: scattering.\n"
    titles = [row["title"] for row in json.loads(chat(env, "threads", "--json").out)]
    assert titles[1:] == ["why is the sky blue?", "my first question"], titles
    assert titles[0].startswith("write a commit message") and "langchain" not in piped.err, (titles, piped)

    server.queue(tool_calls(("shell", {"command": "echo from-the-inbox"})), Reply("It printed from-the-inbox."))
    thread = chat(env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()
    eventually(lambda: thread in chat(env, "inbox", "--json").out, "the background reply's question in the inbox")
    answered = chat(env, "inbox", "answer", thread, "yes", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    eventually(lambda: "It printed from-the-inbox." in chat(env, "show", thread).out, "the answer", timeout=60)
    assert "from-the-inbox" in chat(env, "show", thread).out

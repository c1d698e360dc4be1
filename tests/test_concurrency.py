"""Several ``chat`` processes on one thread at once: turns queue up, none is lost, nothing crashes.

The one-shots are started warm (tests/mcp_servers.chat_argv: each a process of its own, forked from one that imported
chat, as chat's warm worker runs a one-shot): what is tested is processes sharing a store, not how each starts, and
forks that start within milliseconds of each other meet in the store closer together than cold starts do."""

from __future__ import annotations

import subprocess

import pytest

from tests.fakeserver import Reply
from tests.helpers import CHAT
from tests.mcp_servers import chat_argv
from tests.test_reliability import db_of, integrity, stored, summary, user_turns

pytestmark = [pytest.mark.e2e, pytest.mark.stores("sqlite", "postgres")]


def echo(question: str, earlier: list[str]) -> str:
    """The fake server's default reply to ``question`` after the ``earlier`` ones."""
    return f"You said: {question}" + (f" (earlier: {' | '.join(earlier)})" if earlier else "")


def test_eight_one_shot_processes_on_one_thread_lose_no_turn(server, chat_env):
    server.delay = 0.01  # replies take a while to stream, so the processes overlap
    questions = [f"question number {i}" for i in range(8)]
    procs = [
        subprocess.Popen(
            chat_argv(CHAT, "--thread", "busy", q),
            env=chat_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for q in questions
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            results.append((proc.returncode, out.decode(), err.decode()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for code, out, err in results:
        assert code == 0, (code, out, err)
        assert "locked" not in err and "Traceback" not in err, err
    assert len(server.requests) == 8

    # The thread holds all eight turns, each question followed by its own answer, and each
    # answer saw every earlier turn (the turns ran one after another, not side by side).
    history = summary(stored(db_of(chat_env), "busy"))
    assert [kind for kind, _, _ in history] == ["human", "ai"] * 8
    asked = [text for kind, text, _ in history if kind == "human"]
    assert sorted(asked) == sorted(questions)
    for k, question in enumerate(asked):
        assert history[2 * k + 1] == ("ai", echo(question, asked[:k]), None)
    for (code, out, _), question in zip(results, questions):
        k = asked.index(question)
        assert out == echo(question, asked[:k]) + "\n", "each process printed its own answer"
    assert integrity(db_of(chat_env)) == "ok"


def test_two_repls_on_one_thread_take_turns(server, chat_env):
    from tests.helpers import Repl

    a = Repl(["--thread", "shared"], chat_env)
    b = Repl(["--thread", "shared"], chat_env)
    try:
        a.wait_prompt()
        b.wait_prompt()
        at = a.say("alpha one")
        a.wait_for("You said: alpha one", after=at)
        a.wait_prompt()
        at = b.say("bravo one")
        b.wait_for("You said: bravo one (earlier: alpha one)", after=at)
        b.wait_prompt()

        # A's reply is still streaming when B sends: B waits for the thread, then goes on after it.
        server.queue(Reply(" ".join(["slow"] * 15), delay=0.1))
        at_a = a.say("alpha two")
        assert server.wait_for_requests(3, timeout=15)
        at_b = b.say("bravo two")
        a.wait_for("slow slow", after=at_a)
        a.wait_prompt()
        b.wait_for("You said: bravo two (earlier: alpha one | bravo one | alpha two)", after=at_b)
        b.wait_prompt()
        for repl in (a, b):
            repl.child.sendcontrol("d")
            assert repl.exit_code() == 0
            assert "locked" not in repl.text and "Traceback" not in repl.text
    finally:
        a.kill()
        b.kill()

    assert user_turns(server.requests[-1]) == [
        ("user", "alpha one"),
        ("assistant", "You said: alpha one"),
        ("user", "bravo one"),
        ("assistant", "You said: bravo one (earlier: alpha one)"),
        ("user", "alpha two"),
        ("assistant", " ".join(["slow"] * 15)),
        ("user", "bravo two"),
    ]
    assert len(stored(db_of(chat_env), "shared")) == 8


@pytest.mark.stores("sqlite")
def test_processes_creating_a_new_database_together_all_answer(server, chat_env, tmp_path):
    """Three one-shots on a database that does not exist yet, three times: each sets it up in turn."""
    for round_ in range(3):
        env = {**chat_env, "CHATCLI_DB": str(tmp_path / f"new-{round_}" / "chat.db")}
        procs = [
            subprocess.Popen(
                chat_argv(CHAT, "-t", "shared", f"q{round_}-{i}"),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i in range(3)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0 and "locked" not in err.decode(), err.decode()
        assert [kind for kind, _, _ in summary(stored(env["CHATCLI_DB"], "shared"))] == ["human", "ai"] * 3

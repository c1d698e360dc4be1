"""The approval question takes one key, in a real terminal, typed as people type: fast.

Before, the question was a line: ``y`` waited for Enter, and what came next was glued onto
the answer ("yhello" answered nothing and "hello" was lost), and keys prompt-toolkit had read
ahead with the question's line answered the question. Each test checks the screen, what the
model was sent and whether the command ran.
"""

from __future__ import annotations

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.test_tools_pty import (
    QUESTION,
    REFUSED,
    answer,
    answer_shown,
    assert_valid,
    tool_messages,
    wait_asked,
    wait_file,
)

pytestmark = pytest.mark.e2e  # every test here starts chat in a pseudo-terminal

DROPPED = "(keys typed before the question are not taken as an answer)"
TYPING = "(that was typing, not an answer: nothing was run; press one key on its own)"
# Says it started, then runs until the test makes "go" (at most 20 s), then makes "marker".
HELD_COMMAND = (
    "echo started > started; n=0; while [ ! -e go ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done; touch marker"
)


def user_lines(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def test_y_alone_runs_the_call(server, chat_env, start, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("made it"))
    repl = start("--tools", "shell", "--thread", "onekey")
    at = repl.say("make a marker")
    wait_asked(repl, QUESTION, at)
    after = answer(repl, "y")  # no Enter
    repl.wait_for("made it", after=after, timeout=10)
    repl.wait_prompt()
    assert (tmp_path / "marker").exists()
    assert f"{QUESTION} yes" in repl.text[at:], repl.text[at:]
    assert_valid(server)


def test_yes_typed_out_is_no_answer_then_y_alone_runs_it_and_nothing_more_is_sent(server, chat_env, start, tmp_path):
    """ "yes⏎" typed as for a line-based question: typing (the y is a word's first letter), so nothing runs and
    the question says so once; y pressed on its own then runs the call, and no part of "yes⏎" is sent as a message."""
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("made it"))
    repl = start("--tools", "shell", "--thread", "habit")
    at = repl.say("make a marker")
    wait_asked(repl, QUESTION, at)
    answer(repl, "yes\r")
    repl.wait_for(TYPING, after=at)
    assert not (tmp_path / "marker").exists()
    answer(repl, "y")
    repl.wait_for("made it", after=at, timeout=15)
    repl.wait_prompt()
    assert (tmp_path / "marker").exists()
    assert repl.text[at:].count(TYPING) == 1, repl.text[at:]
    # The next line typed at the prompt: a stray "es⏎" would have been read before it, and sent.
    after = repl.say("next")
    repl.wait_for("You said: next", after=after)
    repl.wait_prompt()
    assert len(server.requests) == 3, [user_lines(body) for body in server.requests]
    assert user_lines(server.requests[-1]) == ["make a marker", "next"]


def test_a_message_typed_after_the_answer_goes_to_the_next_prompt(server, chat_env, start, tmp_path):
    """A line typed while the approved command runs (the moment after the answer is over) is the next message."""
    server.queue(tool_calls(("shell", {"command": HELD_COMMAND})), Reply("made it"))
    repl = start("--tools", "shell", "--thread", "after")
    at = repl.say("make a marker")
    wait_asked(repl, QUESTION, at)
    answer(repl, "y")
    wait_file(tmp_path / "started")  # the command runs: the call starts only once the answer's moment is over
    repl.child.send("and now?\r")  # typed while it runs
    (tmp_path / "go").touch()  # then it ends
    repl.wait_for("You said: and now?", after=at, timeout=15)
    assert (tmp_path / "marker").exists()
    assert user_lines(server.requests[-1])[-1] == "and now?"


def test_keys_read_ahead_with_the_question_line_do_not_answer(server, chat_env, start, tmp_path):
    """ "make a marker⏎y⏎" typed at once: prompt-toolkit reads the y with the line and keeps it for the next prompt."""
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("not run then"))
    repl = start("--tools", "shell", "--thread", "readahead")
    at = repl.mark()
    repl.child.send("make a marker\ry\r")
    wait_asked(repl, QUESTION, at)
    assert DROPPED in repl.text[at:], repl.text[at:]
    after = answer(repl, "n")
    assert answer_shown(repl, at) == "no", "keys typed with the question's line answered it"
    repl.wait_for("not run then", after=after)
    repl.wait_prompt()
    assert not (tmp_path / "marker").exists()
    assert tool_messages(server.requests[1])[0]["content"] == REFUSED


def test_a_line_typed_during_the_reply_is_not_the_answer(server, chat_env, start, tmp_path):
    reply = tool_calls(("shell", {"command": "touch marker"}), text="Thinking")
    reply.parts.insert(1, 1.0)  # the call comes a second after the text
    server.queue(reply, Reply("not run then"))
    repl = start("--tools", "shell", "--thread", "during")
    at = repl.say("make a marker")
    repl.wait_for("Thinking", after=at)
    repl.child.send("yes please\r")  # typed during the reply, before anything was asked
    wait_asked(repl, QUESTION, at)
    assert DROPPED in repl.text[at:], repl.text[at:]
    after = answer(repl, "\r")  # Enter alone: No
    assert answer_shown(repl, at) == "no", "a line typed during the reply answered the question"
    repl.wait_for("not run then", after=after)
    assert not (tmp_path / "marker").exists(), "a line typed during the reply approved the call"
    assert tool_messages(server.requests[1])[0]["content"] == REFUSED

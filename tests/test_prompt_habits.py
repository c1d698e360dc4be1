"""Habits people bring to the prompt: /clear starts afresh (Claude Code's), a failed question says how to
ask it again and Up, Enter asks it again without the model seeing it twice, and with vi keys Esc then
Enter leaves insert mode and sends."""

from __future__ import annotations

import pytest

from tests.fakeserver import Fault, Reply
from tests.helpers import Repl
from tests.test_repl_lines import dispatch_lines


def questions(server) -> list[str]:
    return [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]


async def test_clear_starts_a_new_thread_as_new_does(settings, server):
    results, out, err = await dispatch_lines(settings, ["remember 42", "/clear", "what was the number?"])
    assert results == [True, True, True] and "new thread" in err, err
    assert questions(server) == ["what was the number?"]  # nothing of the old thread went with it


@pytest.mark.parametrize("fault", [Fault(status=500), Fault(cut_after=2)], ids=["server error", "cut stream"])
async def test_the_failed_question_sent_again_is_asked_once(settings, server, fault):
    server.queue(Reply("first answer"), fault, Reply("the answer at last"))
    lines = ["an earlier question", "the question that fails", "the question that fails"]
    results, out, err = await dispatch_lines(settings, lines)
    assert results == [True, True, True]
    assert "/retry asks it again" in err and "asked again, in place of" in err, err
    assert questions(server) == ["an earlier question", "the question that fails"]  # not twice
    assert "the answer at last" in out


async def test_a_question_refused_before_it_was_sent_is_not_taken_for_a_retry(settings, server):
    server.queue(Reply("kept answer"), Reply("new answer"))
    huge = "word " * 400_000  # ~500,000 tokens: more than the window taken for a model nobody says the window of
    results, out, err = await dispatch_lines(settings, ["the first question", huge, huge[:40]])
    assert "/retry asks it again" not in err, err  # nothing of the refused line was stored
    assert questions(server) == ["the first question", huge[:40]]


async def test_a_different_question_after_a_failure_is_a_new_question(settings, server):
    server.queue(Fault(status=500), Reply("fine"))
    results, out, err = await dispatch_lines(settings, ["this one fails", "another question"])
    assert questions(server) == ["this one fails", "another question"]


@pytest.mark.e2e
def test_with_vi_keys_esc_then_enter_sends_and_alt_enter_is_a_newline(server, chat_env):
    repl = Repl([], {**chat_env, "CHATCLI_EDITING_MODE": "vi"})
    try:
        repl.wait_prompt()
        repl.wait_for("[I] >")
        repl.type("one line")
        at = repl.mark()
        repl.child.send("\x1b")  # Esc by itself: normal mode, shown at once
        repl.wait_for("N", after=at)  # no key follows: a mode waiting for one would never show
        server.queue(Reply("Sent."))
        repl.child.send("\r")  # Enter in normal mode sends
        repl.wait_for("Sent.")
        assert server.requests[-1]["messages"][-1]["content"] == "one line"
        repl.wait_prompt()
        repl.type("first")
        repl.child.send("\x1b\r")  # Alt-Enter, as a terminal sends it: a newline, not sent
        repl.child.send("second")
        repl.wait_for("second")
        server.queue(Reply("Both."))
        repl.child.send("\r")
        repl.wait_for("Both.")
        assert server.requests[-1]["messages"][-1]["content"] == "first\nsecond"
    finally:
        repl.kill()


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_help_wraps_at_words_within_the_terminal(columns):
    from chatcli.ui.registry import defined, help_text

    shown = help_text(columns)
    lines = shown.splitlines()
    assert all(len(line) < columns for line in lines), [line for line in lines if len(line) >= columns]
    words = " ".join(shown.split())
    for command in defined().listed():  # every description whole, no word cut in two
        assert " ".join(command.help.split()) in words, command.name

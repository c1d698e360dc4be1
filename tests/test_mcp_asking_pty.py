"""A tool's question (an MCP elicitation) at the prompt of the installed ``chat``, in a real terminal: the one
key that answers, declines or cancels, each field on a line of its own and checked, the server's escapes
shown and not obeyed, an address opened only when asked, and the question asked again after chat was
killed at it. tests/mcp/asking.py is the server (see tests/test_mcp_asking.py for the other doors)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import Repl
from tests.test_mcp import write_servers
from tests.test_mcp_asking import BOOKED, ERAS, asking, ran
from tests.test_mcp_lazy import results
from tests.test_tools_pty import CTRL_C, answer, pty, wait_asked  # noqa: F401 - pty is a fixture

pytestmark = pytest.mark.e2e  # chat in a pseudo-terminal, with an MCP server

FORM = "Answer it? [y]es / [N]o, decline / Ctrl-C cancels:"
URL = "Go there? [o]pen in the browser / [y]es, I open it myself / [N]o, decline / Ctrl-C cancels:"
PARTY = "party size (whole number, 1 to 12, required):"


def fill(repl: Repl, prompt: str, text: str, after: int) -> int:
    """Wait for the field ``prompt`` (asked after position ``after``), type ``text`` and Enter; the position before."""
    wait_asked(repl, prompt, after)
    at = repl.mark()
    repl.child.send(text + "\r")
    return at


def a_form_is_asked_a_field_a_line_each_checked_and_the_call_runs_once(repl: Repl, server: Any, calls: Path) -> None:
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("Booked for four."))
    at = repl.say("book a table in Paris")
    wait_asked(repl, FORM, at)
    asked = repl.text[at:]
    assert "? asking:book (MCP server asking) asks:" in asked, asked
    assert "Booking a table in Paris: for how many, and when?" in asked
    at = answer(repl, "y")
    at = fill(repl, PARTY, "20", at)
    repl.wait_for("party size must be at most 12: type it again", after=at)
    at = fill(repl, PARTY, "4", at)
    at = fill(repl, "day (date, required):", "tomorrow", at)
    repl.wait_for("day is not a date: type it again", after=at)
    at = fill(repl, "day (date, required):", "2026-12-24", at)
    day = at
    at = fill(repl, "seating (choose one) [inside]:", "", at)  # Enter: the default
    assert "1. inside" in repl.text[day:] and "2. terrace" in repl.text[day:]  # the choices, numbered
    at = fill(repl, "note for the restaurant (text):", "", at)  # Enter: an optional field left out
    at = fill(repl, "confirm the booking (yes or no, required):", "y", at)
    repl.wait_for("Booked for four.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1]) == [BOOKED]
    assert ran(calls) == ["book"]  # the call waited for its answer: never run twice


def n_declines_ctrl_c_cancels_and_a_server_s_escapes_are_shown_not_obeyed(repl: Repl, server: Any, calls: Path) -> None:
    server.queue(
        tool_calls(("book", {"city": "Paris"})),
        Reply("Not booked."),
        tool_calls(("book", {"city": "Paris"})),
        Reply("Stopped."),
        tool_calls(("hostile", {})),
        Reply("Word taken."),
    )
    at = repl.say("book")
    wait_asked(repl, FORM, at)
    answer(repl, "n")
    repl.wait_for("Not booked.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1]) == ["book in Paris: decline"]

    at = repl.say("book again")
    wait_asked(repl, FORM, at)
    at = answer(repl, "y")
    wait_asked(repl, PARTY, at)
    answer(repl, CTRL_C)  # at a field: the whole question is cancelled, the turn goes on
    repl.wait_for("Stopped.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1])[-1] == "book in Paris: cancel"

    before = len(repl.raw)
    at = repl.say("a word")
    wait_asked(repl, FORM, at)
    shown = repl.raw[before:]
    for escape in ("\x1b]52;", "\x1b]0;PWNED", "\x1b[2J", "\x1b[31mred"):
        assert escape not in shown, escape  # never sent to the terminal as it came
    assert "Type a word ␛]52;c;cHduZWQ=␇ ␛[2J please" in repl.text[at:]
    at = answer(repl, "y")
    at = fill(repl, "word ␛]0;PWNED␇ ␛[31mred␛[0m (text, required):", "hi", at)
    repl.wait_for("Word taken.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1])[-1] == 'hostile: accept {"word":"hi"}'


def an_address_is_shown_and_opened_only_when_asked(repl: Repl, server: Any, calls: Path) -> None:
    """The session's BROWSER writes the address it was given to ``opened`` beside ``calls``."""
    opened = calls.parent / "opened"
    server.queue(tool_calls(("visit", {})), Reply("Go ahead."), tool_calls(("visit", {})), Reply("Opened."))
    at = repl.say("sign in")
    wait_asked(repl, URL, at)
    assert "address: https://bank.example/sign-in?x=1" in repl.text[at:] and "Sign in to the bank" in repl.text[at:]
    answer(repl, "y")  # "I go there myself": accepted, nothing opened
    repl.wait_for("Go ahead.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1]) == ["visit: accept"] and not opened.exists()
    at = repl.say("open it for me")
    wait_asked(repl, URL, at)
    answer(repl, "o")
    repl.wait_for("Opened.", after=at)
    repl.wait_prompt()
    assert opened.read_text() == "https://bank.example/sign-in?x=1\n"
    assert results(server.requests[-1])[-1] == "visit: accept"


def a_server_s_request_to_use_the_model_is_one_key_and_its_answer_is_not_the_reply(
    repl: Repl, server: Any, calls: Path
) -> None:
    """MCP sampling at the prompt: who asks, what it asks and how long an answer it may have are shown; y lets the
    thread's model answer the server (its tokens never shown as the reply), n tells the server no."""
    text = "the fox \x1b]0;PWNED\x07 jumps"
    server.queue(
        tool_calls(("summarise", {"text": text})),
        Reply("A jumping fox."),
        Reply("Summarised."),
        tool_calls(("summarise", {"text": "again"})),
        Reply("Not summarised."),
    )
    asked_before = len(server.requests)
    at = repl.say("summarise the fox")
    wait_asked(repl, FORM, at)
    asked = repl.text[at:]
    assert "MCP server asking asks your model (gpt-fake)" in asked and "at most 100 tokens" in asked, asked
    assert "[user] Summarise: the fox" in asked and "\x1b]0;PWNED" not in asked  # the server's escape shown, inert
    at = answer(repl, "y")
    repl.wait_for("Summarised.", after=at)
    repl.wait_prompt()
    assert "A jumping fox" not in repl.text[at:].replace("summarise: A jumping fox.", "")
    assert results(server.requests[-1])[0].startswith("summarise: A jumping fox. [")
    at = repl.say("once more")
    wait_asked(repl, FORM, at)
    answer(repl, "n")
    repl.wait_for("Not summarised.", after=at)
    repl.wait_prompt()
    assert "the user declined the request" in results(server.requests[-1])[-1]
    assert len(server.requests) == asked_before + 5  # the declined request never reached the model


@pytest.mark.parametrize("era", ERAS)
def test_one_prompt_asks_forms_declines_cancels_addresses_and_the_model_for_a_server(
    server, chat_env, start, tmp_path, era
):
    """One session of the prompt, each scenario on a new thread (/new): a form is asked a field a line, each checked,
    and the call runs once; n declines, Ctrl-C cancels and a server's escapes are shown, not obeyed; a server's request
    to use the model is one key and its answer is not the reply; an address is shown, and opened only when asked."""
    calls = tmp_path / "calls"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "opened"}\n')
    browser.chmod(0o755)
    env = dict(chat_env, BROWSER=str(browser))
    write_servers(env, {"asking": asking(calls, era)})
    repl = start("--yes", env=env)
    scenarios = (
        a_form_is_asked_a_field_a_line_each_checked_and_the_call_runs_once,
        n_declines_ctrl_c_cancels_and_a_server_s_escapes_are_shown_not_obeyed,
        a_server_s_request_to_use_the_model_is_one_key_and_its_answer_is_not_the_reply,
        an_address_is_shown_and_opened_only_when_asked,
    )
    for scenario in scenarios:
        try:
            scenario(repl, server, calls)
        except AssertionError as error:
            raise AssertionError(f"{scenario.__name__.replace('_', ' ')}: {error}") from error
        repl.say("/new")
        repl.wait_prompt()


@pytest.mark.parametrize("era", ERAS)
def test_after_kill_9_at_the_question_it_is_asked_again_and_the_call_runs_anew(server, chat_env, pty, tmp_path, era):  # noqa: F811
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls, era)})
    server.queue(tool_calls(("visit", {})))
    first = pty("--yes", "--thread", "ask9")
    first.wait_prompt()
    at = first.say("sign in")
    wait_asked(first, URL, at)
    first.child.kill(signal.SIGKILL)
    first.exit_code()
    assert ran(calls) == ["visit"] and len(server.requests) == 1

    server.queue(Reply("Signed in after all."))
    repl = pty("--thread", "ask9")  # no --yes now: the call was approved when it began
    wait_asked(repl, URL, 0)
    assert "this thread was waiting for your answer to a question of asking:visit" in repl.text
    at = answer(repl, "y")
    repl.wait_for("Signed in after all.", after=at)
    repl.wait_prompt()
    assert results(server.requests[-1]) == ["visit: accept"]
    assert ran(calls) == ["visit", "visit"]  # its process died with chat: run anew, given the answer when it asked


@pytest.mark.parametrize("era", ERAS)
def test_a_one_shot_in_a_terminal_asks_too(server, chat_env, pty, tmp_path, era):  # noqa: F811
    write_servers(chat_env, {"asking": asking(tmp_path / "calls", era)})
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("Not booked."))
    once = pty("--yes", "book a table in Paris")
    wait_asked(once, FORM, 0)
    answer(once, "\r")  # Enter: declined
    assert once.exit_code() == 0
    assert "Not booked." in once.text and results(server.requests[-1]) == ["book in Paris: decline"]

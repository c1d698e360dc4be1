"""chat --graph in a real terminal: the example graph's two interrupts (a plain question, and an approval in
LangChain's human-in-the-loop shape) asked and answered with keys, in the prompt and in a one-shot; Ctrl-C at a
question; chat killed at a question and started again on the thread."""

from __future__ import annotations

import json
import signal

import pytest

from tests.fakeserver import Reply, protocol_error, tool_calls
from tests.helpers import Repl, chat, stored, summary
from tests.test_graph_app import AGENT, sent
from tests.test_reliability import db_of
from tests.test_tools_pty import CTRL_C, QUESTION, answer, wait_asked
from tests.test_tools_typed import judged  # noqa: F401 - a fixture

pseudo_terminal = pytest.mark.e2e  # chat in a pseudo-terminal

ANSWER = "Answer (text or JSON):"


@pytest.fixture
def pty(chat_env):
    """Start ``chat`` in a pseudo-terminal without waiting for the "> " prompt; killed at the end."""
    started: list[Repl] = []

    def _start(*args: str) -> Repl:
        started.append(Repl(list(args), chat_env))
        return started[-1]

    yield _start
    for repl in started:
        repl.kill()


@pytest.mark.usefixtures("judged")
def test_a_graphs_question_and_its_approval_are_answered_at_the_prompt(server, chat_env, monkeypatch):
    """At the prompt in this process (tests/test_tools_typed.Asked): the question, then the approval, edited."""
    from tests.test_tools_typed import Asked

    for name, value in chat_env.items():  # the graph's own model reads this process's variables
        if name.startswith("OPENAI_"):
            monkeypatch.setenv(name, value)

    server.queue(
        tool_calls(("ask_user", {"question": "Which **city**?"}), text="Let me ask."),
        tool_calls(("book_table", {"restaurant": "Chez Y", "people": 2, "time": "19:00"})),
        Reply("Booked for four."),
    )
    prompt = Asked(chat_env, "--graph", AGENT, "--thread", "g1")
    try:
        assert "Which city?" in prompt.send("book a table", showing="Which city?")  # the question, as Markdown
        shown = prompt.press("Lyon\r", showing=QUESTION)
        assert "Book this table?" in shown and "restaurant: Chez Y" in shown, shown
        prompt.press("e")
        prompt.press('\x01\x0b{"restaurant": "Chez Y", "people": 4, "time": "19:00"}\r')  # Ctrl-A, Ctrl-K: a new line
        prompt.answered("Booked for four.")
    finally:
        prompt.leave()
    assert ("tool", "Lyon") in sent(server, 1)
    assert ("tool", "Booked a table for 4 at Chez Y at 19:00.") in sent(server, 2)
    kept = stored(db_of(chat_env), "g1")
    assert [m.type for m in kept] == ["human", "ai", "tool", "ai", "tool", "ai"], summary(kept)


@pseudo_terminal
def test_a_one_shot_in_a_terminal_asks_too(server, chat_env, pty):
    server.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"})), Reply("Not booked."))
    run = pty("--graph", AGENT, "book a table")
    wait_asked(run, QUESTION, 0)
    answer(run, "r")
    wait_asked(run, "Reason (for the model):", 0)
    answer(run, "too late\r")
    assert run.exit_code() == 0
    assert "Not booked." in run.text
    assert ("tool", "Not booked. too late") in sent(server)


@pseudo_terminal
def test_ctrl_c_at_a_graphs_question_leaves_it_waiting_and_the_next_message_goes_on(server, chat_env, start):
    server.queue(tool_calls(("ask_user", {"question": "Which city?"})))
    repl = start("--graph", AGENT, "--thread", "cc")
    at = repl.say("plan a trip")
    wait_asked(repl, ANSWER, at)
    answer(repl, CTRL_C)
    repl.wait_for("not answered: the thread waits at the question", after=at)
    repl.wait_prompt()
    waiting = json.loads(chat(chat_env, "inbox", "--json").out)  # left at the prompt, it is in the inbox
    assert [(w["thread_id"], [a["text"] for a in w["asked"]]) for w in waiting] == [("cc", ["Which city?"])], waiting
    server.queue(Reply("Fine, no trip."))
    after = repl.say("never mind")
    repl.wait_for("Fine, no trip.", after=after)
    repl.wait_prompt()
    assert json.loads(chat(chat_env, "inbox", "--json").out) == []  # the next message went on: nothing waits
    for body in server.requests:  # the question's call got a result before the next message was sent
        assert protocol_error(body["messages"]) is None, body["messages"]


@pseudo_terminal
def test_after_kill_9_at_a_graphs_question_it_is_asked_again(server, chat_env, pty):
    server.queue(tool_calls(("ask_user", {"question": "Which city?"})))
    first = pty("--graph", AGENT, "--thread", "k9")
    first.wait_prompt()
    at = first.say("plan a trip")
    wait_asked(first, ANSWER, at)
    first.child.kill(signal.SIGKILL)
    first.exit_code()

    server.queue(Reply("Lyon it is."))
    repl = pty("--graph", AGENT, "--thread", "k9")
    wait_asked(repl, ANSWER, 0)
    assert "this thread was waiting for your answer to the graph's question" in repl.text
    assert "Which city?" in repl.text
    after = answer(repl, "Lyon\r")
    repl.wait_for("Lyon it is.", after=after)
    repl.wait_prompt()
    assert ("tool", "Lyon") in sent(server)
    kept = stored(db_of(chat_env), "k9")
    assert [m.type for m in kept] == ["human", "ai", "tool", "ai"], summary(kept)

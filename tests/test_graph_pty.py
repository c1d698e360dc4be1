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
from tests.test_tools_pty import ARGUMENTS, CTRL_C, QUESTION, answer, wait_asked

pytestmark = pytest.mark.e2e  # every test here starts chat in a pseudo-terminal

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


def test_a_graphs_question_and_its_approval_are_answered_at_the_prompt(server, chat_env, start):
    server.queue(
        tool_calls(("ask_user", {"question": "Which **city**?"}), text="Let me ask."),
        tool_calls(("book_table", {"restaurant": "Chez Y", "people": 2, "time": "19:00"})),
        Reply("Booked for four."),
    )
    repl = start("--graph", AGENT, "--thread", "g1")
    at = repl.say("book a table")
    wait_asked(repl, ANSWER, at)
    assert "Which city?" in repl.text[at:]  # the question, as Markdown
    after = answer(repl, "Lyon\r")
    wait_asked(repl, QUESTION, after)
    assert "Book this table?" in repl.text[after:] and "restaurant: Chez Y" in repl.text[after:]
    edit = answer(repl, "e")
    wait_asked(repl, ARGUMENTS, edit)
    answer(repl, "\x01\x0b")  # Ctrl-A, Ctrl-K: the line is empty
    answer(repl, '{"restaurant": "Chez Y", "people": 4, "time": "19:00"}\r')
    repl.wait_for("Booked for four.", after=edit)
    repl.wait_prompt()
    assert ("tool", "Lyon") in sent(server, 1)
    assert ("tool", "Booked a table for 4 at Chez Y at 19:00.") in sent(server, 2)
    kept = stored(db_of(chat_env), "g1")
    assert [m.type for m in kept] == ["human", "ai", "tool", "ai", "tool", "ai"], summary(kept)


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

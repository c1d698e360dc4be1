"""A question typed at any moment after ``chat`` starts is answered without another key.

Between prompts the terminal is in line mode and turns Enter into a newline: before the fix,
a question typed before the prompt was ready sat at the prompt as a line break ("… ") until
Enter was pressed again. The pseudo-terminal tests type as people do: at once, while the
prompt is being drawn, while the engine loads, and during a reply. One test drives the prompt
loop in-process with prompt-toolkit's pipe input while the engine is still loading.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakeserver import Reply
from tests.helpers import ROWS, Repl, eventually_async, screen, visible

ANSWER_WAIT = 20  # seconds: the engine's import takes a second or two on a busy machine


def _spawn(chat_env: dict[str, str]) -> Repl:
    return Repl([], chat_env)


@pytest.mark.e2e
def test_a_question_typed_at_once_is_answered(chat_env, server, storage):
    repl = _spawn(chat_env)
    try:
        repl.child.send("typed at once\r")  # before chat has even started Python
        repl.wait_for("You said: typed at once", timeout=ANSWER_WAIT)
        repl.wait_prompt()
        repl.wait_prompt()  # the second prompt: the one after the answer
        assert "…" not in screen(repl.raw)[-3], repl.text[-500:]
        repl.child.sendeof()
        assert repl.exit_code() == 0
    finally:
        repl.kill()


@pytest.mark.e2e
def test_a_question_typed_while_the_prompt_is_drawn_is_answered(chat_env, server):
    repl = _spawn(chat_env)
    try:
        repl.wait_for("chatcli · new thread")  # the banner is out, the prompt not yet ready
        repl.child.send("typed while drawing\r")
        repl.wait_for("You said: typed while drawing", timeout=ANSWER_WAIT)
    finally:
        repl.kill()


@pytest.mark.e2e
def test_two_questions_typed_while_the_engine_loads_are_both_answered_in_order(chat_env, server):
    repl = _spawn(chat_env)
    try:
        repl.wait_prompt()  # the prompt reads keys; the engine is still importing in a thread
        repl.child.send("first while loading\r")
        repl.child.send("second while loading\r")
        repl.wait_for("You said: second while loading (earlier: first while loading)", timeout=ANSWER_WAIT)
        assert [m["content"] for m in server.requests[0]["messages"] if m["role"] == "user"] == ["first while loading"]
    finally:
        repl.kill()


@pytest.mark.e2e
def test_a_question_typed_during_a_reply_is_sent_next_and_not_echoed_into_it(chat_env, server):
    server.queue(Reply("one two three four five six seven eight nine ten eleven twelve", delay=0.1))
    repl = _spawn(chat_env)
    try:
        repl.wait_prompt()
        repl.say("a slow one")
        repl.wait_for("two")
        repl.child.send("typed during the reply\r")
        repl.wait_for("You said: typed during the reply", timeout=ANSWER_WAIT)
        shown = [line for line in screen(repl.raw)[:ROWS] if line.strip()]
        assert "one two three four five six seven eight nine ten eleven twelve" in shown, shown
        # The line typed ahead appears once, at its own prompt, never inside the reply.
        assert [line for line in shown if "typed during the reply" in line and not line.startswith("You said")] == [
            "> typed during the reply"
        ], shown
    finally:
        repl.kill()


async def test_the_prompt_loop_answers_a_line_entered_before_the_engine_is_loaded(settings, server, monkeypatch):
    """In-process: Enter arrives while the engine still loads in a thread; the answer needs no other key."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    import chatcli.ui.prompt as prompt
    from chatcli.service.chat import Chat
    from chatcli.service.opening import Opening
    from chatcli.ui.output import PlainOutput
    from chatcli.ui.prompt_session import make_session
    from tests.helpers import Captured

    real_import = prompt._import_engine
    entered_first: list[bool] = []

    def slow_import(model: str) -> None:
        # A slow disk or a busy machine: the import lasts until the prompt has taken the line.
        deadline = time.monotonic() + ANSWER_WAIT
        while "entered while loading" not in session.history.get_strings() and time.monotonic() < deadline:
            time.sleep(0.01)
        entered_first.append("entered while loading" in session.history.get_strings())
        real_import(model)

    monkeypatch.setattr(prompt, "_import_engine", slow_import)
    out, err = Captured(), Captured()
    with create_pipe_input() as keys:
        session = make_session(settings, input=keys, output=DummyOutput())
        keys.send_text("entered while loading\r")
        repl = asyncio.create_task(
            prompt.run_repl(Chat(settings), Opening("feedbeef"), PlainOutput(out, err), session=session)
        )
        await eventually_async(
            lambda: repl.done() or "You said: entered while loading" in out.getvalue(), "the answer", ANSWER_WAIT
        )
        assert not repl.done(), (repl, out.getvalue(), err.getvalue())
        keys.send_text("\x04")  # Ctrl-D leaves
        await asyncio.wait_for(repl, 10)
    assert "bye · resume with: chat --thread feedbeef" in err.getvalue()
    assert entered_first == [True], "the line was entered before the engine was loaded"


@pytest.mark.e2e
def test_the_next_question_typed_the_instant_each_answer_ends_is_always_sent(chat_env, server):
    """Hundreds of turns, each long question typed the moment the last answer's last byte arrives.

    That instant, the terminal is between the reply and the next prompt: a key driver in line mode
    there would turn the Enter into a newline (a line break at the prompt, and a stall until
    another key). The Enter follows the text by 0 to 30 ms, turn by turn, so that it meets the
    prompt in every phase of its start. The answer must come every time, without another key.
    """
    turns = 200
    # The typing is the subject: a budget of 6,000 tokens keeps each turn's request (and the fake's answer, which
    # repeats the earlier questions) as short at turn 200 as at turn 20, so that every turn takes the same time.
    repl = _spawn({**chat_env, "CHATCLI_CONTEXT_TOKENS": "6000", "CHATCLI_MEMORY": "trim"})
    try:
        repl.wait_prompt()
        seen = 0
        for turn in range(turns):
            question = f"q{turn:03d} " + "long words " * 12  # about 140 characters: the line wraps at the prompt
            repl.child.send(question.rstrip())
            time.sleep(turn % 7 * 0.005)  # the Enter lands 0 to 30 ms later: every phase of the prompt's start
            repl.child.send("\r")
            answer = f"You said: q{turn:03d} long words"
            started = time.monotonic()
            while answer not in visible(repl.raw[seen:]):
                if time.monotonic() - started > 10:
                    pytest.fail(
                        f"turn {turn}: no answer without another key; the screen ends with:\n{repl.text[-800:]}"
                    )
                if not repl._pump(0.01):
                    pytest.fail(f"turn {turn}: chat ended; output ends with:\n{repl.text[-800:]}")
            seen = repl.raw.index("You said:", seen) + 1  # the next needle is looked for after this answer
        # Each question was asked once (the thread compacts now and then on the way: those requests are the
        # summariser's, made before a question is sent, never while an answer streams).
        asked = [r for r in server.requests if not str(r["messages"][0]["content"]).startswith("You keep a running")]
        assert len(asked) == turns
        assert asked[-1]["messages"][-1]["content"] == f"q{turns - 1:03d} " + ("long words " * 12).rstrip()
        repl.child.sendeof()
        assert repl.exit_code() == 0
    finally:
        repl.kill()

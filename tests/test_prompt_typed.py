"""The prompt as its user meets it from one session to the next, its command line in this process (``chat ARGS`` at
a terminal, keys typed through prompt-toolkit's pipe input: tests/doors/prompt.py's ``Typed``): the thread it opens
and how to resume it, the input history kept between sessions, a failure of the model said in one line.

What only a terminal gives (Ctrl-C's signal, the screen as drawn) is tests/test_prompt_pty.py's; the prompt loop's
keys (Alt-Enter, a paste, Ctrl-C at the prompt, lines typed at once) are tests/test_prompt_inprocess.py's.
"""

from __future__ import annotations

from tests.doors.prompt import Typed
from tests.fakeserver import Fault
from tests.helpers import UP


def user_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def assistant_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "assistant"]


def test_two_turns_remember_then_resume_in_a_new_session(server, chat_env):
    first = Typed(chat_env, ["--thread", "demo"])
    first.ready()
    assert "thread demo" in first.text and "chat --thread demo" in first.text, first  # how to resume, at once
    assert "You said: my name is Zed" in first.say("my name is Zed")[0], first
    assert "You said: what is my name? (earlier: my name is Zed)" in first.say("what is my name?")[0], first
    assert user_messages(server.requests[-1]) == ["my name is Zed", "what is my name?"]
    at = len(first.err.getvalue())
    assert first.leave() == 0, first  # Ctrl-D
    assert "bye" in first.err.getvalue()[at:] and "chat --thread demo" in first.err.getvalue()[at:], first

    # A new session on the same thread sends the whole history.
    again = Typed(chat_env, ["--thread", "demo"])
    said = again.say("and again?")[0]
    assert "You said: and again? (earlier: my name is Zed | what is my name?)" in said, again
    body = server.requests[-1]
    assert user_messages(body) == ["my name is Zed", "what is my name?", "and again?"]
    assert assistant_messages(body) == [
        "You said: my name is Zed",
        "You said: what is my name? (earlier: my name is Zed)",
    ]
    again.keys.send_text("/exit\r")
    again.thread.join(30)
    assert again.leave() == 0, again
    assert len(server.requests) == 3  # /exit is not sent to the model


def test_input_history_is_kept_across_sessions(server, chat_env, isolated_env):
    first = Typed(chat_env, [])
    assert "You said: a line worth repeating" in first.say("a line worth repeating")[0], first
    assert first.leave() == 0, first

    history = isolated_env / ".local" / "share" / "chatcli" / "history"
    assert "a line worth repeating" in history.read_text()
    assert history.stat().st_mode & 0o077 == 0  # private to the user

    second = Typed(chat_env, [])
    assert "You said: a line worth repeating" in second.say(UP)[0], second  # the line recalled, then Enter
    assert user_messages(server.requests[-1]) == ["a line worth repeating"]  # a new thread
    assert second.leave() == 0, second


def test_model_error_prints_one_line_and_keeps_the_question(server, chat_env):
    assert chat_env["CHATCLI_MAX_RETRIES"] == "0"
    server.queue(Fault(status=500))
    typed = Typed(chat_env, ["--thread", "oops"])
    out, err = typed.say("will this fail?")
    shown = out + "\n" + err
    error_lines = [line for line in shown.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, error_lines
    assert "Traceback" not in shown
    assert len(server.requests) == 1  # no retry
    assert typed.thread.is_alive(), typed

    assert "You said: second try (earlier: will this fail?)" in typed.say("second try")[0], typed
    assert user_messages(server.requests[-1]) == ["will this fail?", "second try"]
    assert typed.leave() == 0, typed

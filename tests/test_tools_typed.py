"""A tool call at the prompt, answered as a user answers it (y, Enter, r, a, e, Ctrl-C at the question), with
``chat``'s command line in this process: keys typed through prompt-toolkit's pipe input (tests/doors/prompt.py's
``Typed``). Each test checks what was shown, what the model was sent next and what the thread keeps.

What only a terminal or a process gives (keys typed too early, Ctrl-C's signal while a command runs, chat killed
mid-call, the screen as drawn) is tests/test_tools_pty.py's; the question's keys one by one,
tests/test_approval_inprocess.py's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.doors.prompt import Typed
from tests.fakeserver import Reply, tool_calls
from tests.helpers import eventually, stored, visible
from tests.test_reliability import db_of
from tests.test_tools_pty import (
    BLOCK,
    QUESTION,
    REFUSED,
    REFUSED_REST,
    TIMING,
    assert_valid,
    tool_messages,
    tool_results,
)

CTRL_C = "\x03"
PAUSED = [0.0]  # the seconds of the user's pauses, passed on the clock the keys are judged by


@pytest.fixture(autouse=True)
def judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock chat judges keys by (chatcli.ui.approval._now) runs the user's pauses at once (``Asked.press``)."""
    from chatcli.ui import approval

    PAUSED[0] = 0.0
    monkeypatch.setattr(approval, "_now", lambda: time.monotonic() + PAUSED[0])


class Asked:
    """A prompt session, ``chat ARGS``: ``send`` a line at the prompt, ``press`` keys at a question, as a person does
    (once they have read it: chatcli.ui.deliberate takes only a key pressed on its own); each returns what was shown
    since, once the next prompt (a question, a line to edit, the "> " one) reads keys."""

    def __init__(self, env: dict[str, str], *args: str):
        self.typed = Typed(env, list(args))
        self.prompt = self.typed.ready()

    def shown(self, since: tuple[int, int] = (0, 0)) -> str:
        """What stdout and stderr were shown since ``since`` (their lengths then)."""
        return visible(self.typed.out.getvalue()[since[0] :]) + "\n" + visible(self.typed.err.getvalue()[since[1] :])

    def _next(self, keys: str, showing: str) -> str:
        at = len(self.typed.out.getvalue()), len(self.typed.err.getvalue())
        before = self.prompt
        self.typed.keys.send_text(keys)

        def up() -> Any:
            app = self.typed.app_session.app
            return app is not None and app.is_running and app.future is not before and app.future

        self.prompt = eventually(up, "the next prompt", timeout=60)
        flat = "".join(showing.split())  # (a question wraps at the edge of its terminal)
        eventually(lambda: flat in "".join(self.shown(at).split()), repr(showing), timeout=60)  # drawn
        return self.shown(at)

    def send(self, line: str, showing: str = "") -> str:
        return self._next(line + "\r", showing)

    def press(self, keys: str, showing: str = "") -> str:
        from chatcli.ui.deliberate import GAP

        PAUSED[0] += GAP + 0.25  # the user's pause, on chat's clock for keys: what is tested
        return self._next(keys, showing)

    def answered(self, what: str) -> str:
        """Wait until ``what`` is shown and the "> " prompt reads keys; all that was shown."""
        eventually(lambda: what in self.typed.text, repr(what), timeout=60)
        self.prompt = self.typed.ready()
        return self.shown()

    def leave(self) -> None:
        assert self.typed.leave() == 0, self.typed


def test_yes_runs_the_command_shows_its_output_and_the_model_gets_it(server, chat_env):
    server.queue(
        tool_calls(("shell", {"command": "echo pty-ok-123"}), text="Let me check."), Reply("final answer here")
    )
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "yes")
    asked = prompt.send("run the check", showing=QUESTION)
    assert BLOCK in asked and "command: echo pty-ok-123" in asked, asked
    prompt.press("y")
    shown = prompt.answered("final answer here")
    assert "→" in shown and TIMING.search(shown) and "pty-ok-123" in shown and "[exit code 0]" in shown, shown
    prompt.leave()

    assert len(server.requests) == 2
    assert_valid(server)
    (result,) = tool_messages(server.requests[1])
    assert result["tool_call_id"] == "call_0_shell" and result["content"] == "pty-ok-123\n[exit code 0]"
    kept = stored(db_of(chat_env), "yes")
    assert [m.type for m in kept] == ["human", "ai", "tool", "ai"]
    assert tool_results(kept) == [("call_0_shell", "pty-ok-123\n[exit code 0]", "ok")]
    assert kept[-1].content == "final answer here"


def test_enter_alone_refuses_and_the_session_goes_on(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine, I will not"))
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "no")
    prompt.send("make a marker", showing=QUESTION)
    prompt.press("\r")
    shown = prompt.answered("fine, I will not")
    assert not (tmp_path / "marker").exists(), "a refused command ran"
    assert "not run" in shown

    assert_valid(server)
    (result,) = tool_messages(server.requests[1])
    assert result["content"] == REFUSED
    assert tool_results(stored(db_of(chat_env), "no")) == [("call_0_shell", REFUSED, "refused")]
    prompt.send("still there?", showing="You said: still there?")  # the session goes on
    prompt.leave()


def test_a_reason_reaches_the_model(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("ok, ls then"))
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "why")
    prompt.send("make a marker", showing=QUESTION)
    prompt.press("r", showing="Reason (for the model):")
    prompt.press("use ls instead\r")
    prompt.answered("ok, ls then")
    prompt.leave()
    assert not (tmp_path / "marker").exists()

    assert_valid(server)
    (result,) = tool_messages(server.requests[1])
    assert result["content"] == f"{REFUSED}. The user says: use ls instead"
    assert tool_results(stored(db_of(chat_env), "why"))[0][1:] == (
        f"{REFUSED}. The user says: use ls instead",
        "refused",
    )


def test_always_asks_once_for_two_calls_of_the_tool(server, chat_env):
    server.queue(
        tool_calls(("shell", {"command": "echo first-1"}), ("shell", {"command": "echo second-2"})),
        Reply("both done"),
    )
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "always")
    prompt.send("run both", showing=QUESTION)
    shown = prompt.press("a", showing="both done")  # the next prompt is the "> " one: no second question
    assert "both done" in shown and "first-1" in shown and "second-2" in shown, shown
    prompt.leave()

    assert_valid(server)
    assert [m["content"] for m in tool_messages(server.requests[1])] == [
        "first-1\n[exit code 0]",
        "second-2\n[exit code 0]",
    ]
    outcomes = tool_results(stored(db_of(chat_env), "always"))
    assert [(call, outcome) for call, _, outcome in outcomes] == [("call_0_shell", "ok"), ("call_1_shell", "ok")]


def test_edit_runs_the_edited_arguments(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("edited run seen"))
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "edit")
    prompt.send("make a marker", showing=QUESTION)
    prompt.press("e", showing="Arguments (JSON, Enter to run):")
    buffer = prompt.typed.app_session.app.current_buffer
    assert buffer.text == '{"command": "touch marker"}', buffer.text  # prefilled with what the model asked
    prompt.typed.keys.send_text("\x01\x0b")  # Ctrl-A, Ctrl-K: the line is empty
    eventually(lambda: buffer.text == "", "the line to be emptied")
    prompt.press('{"command": "echo edited-777"}\r')
    shown = prompt.answered("edited run seen")
    prompt.leave()
    assert not (tmp_path / "marker").exists(), "the command as the model asked it ran"
    assert "edited-777" in shown

    assert_valid(server)
    (result,) = tool_messages(server.requests[1])
    assert result["content"].endswith("edited-777\n[exit code 0]")
    assert "the user edited the arguments" in result["content"]  # the model knows what really ran
    (kept,) = [m for m in stored(db_of(chat_env), "edit") if m.type == "tool"]
    assert kept.content.endswith("edited-777\n[exit code 0]") and kept.response_metadata["arguments"] == {
        "command": "echo edited-777"
    }


def test_ctrl_c_at_the_question_refuses_the_whole_batch_and_chat_goes_on(server, chat_env, tmp_path):
    calls = [("shell", {"command": f"touch marker{i}"}) for i in range(3)]
    server.queue(tool_calls(*calls), Reply("understood"))
    prompt = Asked(chat_env, "--tools", "shell", "--thread", "cc")
    prompt.send("make three markers", showing=QUESTION)
    shown = prompt.press(CTRL_C, showing="understood")  # the next prompt is the "> " one: nothing else asked
    assert "understood" in shown and shown.count("not run") == 3, shown
    assert not list(tmp_path.glob("marker*"))

    assert_valid(server)
    assert [m["content"] for m in tool_messages(server.requests[1])] == [REFUSED_REST] * 3
    prompt.send("next one", showing="You said: next one")
    prompt.leave()

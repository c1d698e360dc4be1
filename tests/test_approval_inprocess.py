"""The approval question (chatcli.ui.approval) driven in this process, key by key, as a user answers it.

What is typed at the question goes in through a prompt-toolkit pipe input, each answer once
its prompt is up; what was typed before the question waits in the input queue of a
pseudo-terminal made here (``os.openpty``), as it would in the user's terminal. The question
is drawn on a text stream that says it is a terminal (a prompt-toolkit VT100 output), and read
back as screen lines. The approver is given the pipe as its ``prompt_input``, that stream as
its ``terminal`` and the pseudo-terminal as its ``stdin_fd``; it is the approver of a plain
output, the listener that asks.

The first tests ask about one call through the listener and check what the user sees (the
call's block, the question, the answer shown after it, the notes) and the decision. The rules
for a reply's several calls ("always", no to the rest) are the engine's: the last tests run
whole turns against the fake server, and check which calls were asked about, what the model is
told of each and what the thread keeps.

The same behaviour in a real terminal, through the installed ``chat``: tests/test_tools_pty.py
and tests/test_approval_keys_pty.py (marked e2e).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import termios
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, AsyncIterator, Awaitable, Iterator, Sequence

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.core.events import Decision, ToolCall
from chatcli.ui import approval, deliberate
from chatcli.ui.approval import TerminalApprover
from chatcli.ui.output import PlainOutput
from tests.fakeserver import Reply, protocol_error, tool_calls
from tests.helpers import Captured, eventually, screen

# What the user reads.
ASKED = "no to all:"  # the end of the question, after which the key's meaning is shown
KEYS = "press y, n (or Enter), a, e, r, v, or q (no to this call and every later one of this reply)"
DROPPED = "(keys typed before the question are not taken as an answer)"
EDIT = "Arguments (JSON, Enter to run):"
# What the model is told of a call that did not run.
REFUSED = "not run: the user refused this call"
REFUSED_REST = "not run: the user refused this call and every later call of this reply at once"
NO_TERMINAL = "not run: it needs the user's approval and there was no terminal to ask"

# prompt-toolkit turns bracketed paste on as each prompt (a question, the edit or reason line) starts reading keys.
READY = "\x1b[?2004h"
ENTER, CTRL_C, CTRL_D, CTRL_U, UP = "\r", "\x03", "\x04", "\x15", "\x1b[A"
CPR_REQUEST, CPR_ANSWER = "\x1b[6n", "\x1b[24;1R"  # where is the cursor? on the last row
PASTED = "\x1b[200~{}\x1b[201~"  # how a terminal sends pasted text (bracketed paste)
WAIT = 5.0  # seconds a test waits for a question before it fails
# The pause of one who reads the question before pressing a key: longer than the typing gap
# (chatcli.ui.deliberate.GAP), with room for the keys before it to be read.
READING = deliberate.GAP + 0.25


# --------------------------------------------------------------------------- the seam
# All these tests know of how the engine and the terminal talk: a call is a ``ToolCall`` and its
# answer a ``Decision`` (chatcli.core.events); the output is the listener, which asks through its
# ``approver``; a conversation is opened with the listener. When that changes, only this section does.


def tool_call(name: str, arguments: Any) -> ToolCall:
    """A call of a built-in tool, as the engine shows it to the user."""
    return ToolCall("call_0", name, f"{name} (built-in)", "builtin", arguments)


def asking(output: Any, approver: TerminalApprover) -> Any:
    """``output``, a listener that asks its calls with ``approver``."""
    output.approver = approver
    return output


@asynccontextmanager
async def conversation_with(settings: Any, thread_id: str, listener: Any) -> AsyncIterator[Any]:
    from tests.helpers import a_thread

    async with a_thread(settings, thread_id, listener) as conversation:
        yield conversation


async def send(conversation: Any, question: str, settings: Any) -> Any:
    """One turn, rendered by the conversation's listener, as the prompt sends it."""
    return await conversation.send(question)


# --------------------------------------------------------------------------- the user at a terminal


class User:
    """A user at a terminal: keys typed at each prompt, keys typed before the question, the screen."""

    def __init__(self, keys: Any, master: int, slave: int):
        self.keys = keys  # prompt-toolkit's input: what is typed at a prompt
        self.master, self.slave = master, slave  # the pseudo-terminal holding what was typed before
        self.screen = Captured(tty=True)  # where the question is drawn
        self.out, self.err = Captured(), Captured()  # the answer, and the notes (not on that screen)
        self.output = PlainOutput(self.out, self.err)
        self.paused = 0.0  # the seconds of the user's pauses, passed on the clock the keys are judged by

    def approver(self, terminal: Any = None) -> TerminalApprover:
        """The question as chat asks it, on this terminal (or on ``terminal``)."""
        terminal = self.screen if terminal is None else terminal
        return TerminalApprover(self.output, stdin_fd=self.slave, terminal=terminal, prompt_input=self.keys)

    async def drive(self, work: Awaitable[Any], typed: Sequence[str], timeout: float = WAIT) -> Any:
        """Run ``work``, typing ``typed[i]`` once the i-th prompt is up, as a person who reads it first: a pause
        (READING) after whatever they typed last, passed on the clock chat judges keys by (``pause``) rather than
        waited for; fail if it asks more or fewer times."""
        task = asyncio.ensure_future(work)
        sent = reported = seen = 0
        with create_app_session(input=self.keys, output=DummyOutput()):  # nothing reaches the real terminal
            deadline = asyncio.get_running_loop().time() + timeout
            while not task.done():
                drawn = self.screen.getvalue()
                if drawn.count(CPR_REQUEST) > reported:  # answered as a terminal does, or each prompt waits for it
                    self.keys.send_text(CPR_ANSWER)
                    reported += 1
                elif drawn.count(READY) > seen:  # a question is up, once chat has read what came before it
                    seen = drawn.count(READY)
                    deadline = asyncio.get_running_loop().time() + timeout  # each question is waited for anew
                elif sent < len(typed) and seen > sent:
                    self.pause()
                    self.keys.send_text(typed[sent])
                    sent += 1
                    deadline = asyncio.get_running_loop().time() + timeout
                if asyncio.get_running_loop().time() > deadline:
                    task.cancel()
                    pytest.fail(f"still asking after {sent} of {len(typed)} answers; the screen:\n{self.shown}")
                await asyncio.sleep(0.005)
        result = task.result()
        assert sent == len(typed), f"asked {self.screen.getvalue().count(READY)} times, {len(typed)} answers were typed"
        return result

    async def ask(
        self, name: str, arguments: Any, typed: Sequence[str] = (), terminal: Any = None, timeout: float = WAIT
    ) -> Decision:
        """The listener asks about one call of tool ``name``; the user types ``typed``."""
        listener = asking(self.output, self.approver(terminal))
        return await self.drive(listener.approve(tool_call(name, arguments)), typed, timeout)

    def lines(self) -> list[str]:
        """The question's terminal as the user sees it (its line ends are CR LF, as a terminal makes them)."""
        return screen(self.screen.getvalue().replace("\r\n", "\n").replace("\n", "\r\n"))

    @property
    def shown(self) -> str:
        return "\n".join(self.lines())

    def pause(self) -> None:
        """The user reads the question before the next key: READING seconds pass on chat's clock for keys (the test's
        ``judged`` clock), so that key is typed on its own however busy the machine."""
        self.paused += READING

    def answers(self) -> list[str]:
        """What each question showed as its answer, in order."""
        return [line.partition(ASKED)[2].strip() for line in self.lines() if ASKED in line]

    def type_before(self, text: str) -> None:
        """Type ``text`` in the terminal before any question is up (a line typed while the model streams)."""
        os.write(self.master, text.encode())
        # the terminal's line discipline takes it a moment later
        eventually(lambda: self.waiting() >= len(text), "the pseudo-terminal to hold what was typed", WAIT, 0.001)

    def waiting(self) -> int:
        """How many bytes the terminal holds, typed and not yet read."""
        return int.from_bytes(fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0"), "little")

    async def read_line(self, typed: str) -> str:
        """The line a prompt (the "> " one) reads when ``typed`` is typed at it."""
        session: PromptSession[str] = PromptSession(input=self.keys, output=DummyOutput())
        self.keys.send_text(typed)
        return await asyncio.wait_for(session.prompt_async("> "), WAIT)


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch) -> Iterator[User]:
    # The moment after an answer in which keys are the rest of it ("es⏎" of "yes⏎"), shortened:
    # every answer waits it out. Keys typed with the answer are dropped all the same.
    monkeypatch.setattr(approval, "AFTER_ANSWER", 0.01)
    master, slave = os.openpty()
    try:
        with create_pipe_input() as keys:
            typing = User(keys, master, slave)
            # The clock keys are judged by (chatcli.ui.approval._now) runs the user's pauses at once.
            monkeypatch.setattr(approval, "_now", lambda: time.monotonic() + typing.paused)
            yield typing
    finally:
        os.close(master)
        os.close(slave)


NOTES = ("read_file", {"path": "notes.txt"})
OTHER = ("read_file", {"path": "other.txt"})
LISTING = ("list_directory", {"path": "."})
YES, NO, REST = Decision("yes"), Decision("no"), Decision("no", rest=True)


# --------------------------------------------------------------------------- one key answers


@pytest.mark.parametrize(
    ("key", "decision", "shown"), [("y", YES, "yes"), ("Y", YES, "yes"), ("n", NO, "no"), (ENTER, NO, "no")]
)
async def test_one_key_answers_and_what_it_meant_stays_on_screen(user, key, decision, shown):
    assert await user.ask(*NOTES, typed=[key]) == decision
    assert user.answers() == [shown]
    screen_text = user.shown
    assert screen_text.index("⚙ read_file (built-in)") < screen_text.index("Run it? [y]es / [N]o"), "no block first"
    assert "path: notes.txt" in screen_text
    assert "⚙ read_file (built-in)" in user.err.getvalue(), "the output's notes do not show the block"


async def test_always_runs_it_and_says_so_for_the_session(user):
    assert await user.ask(*NOTES, typed=["a"]) == Decision("yes", always=True)
    assert user.answers() == ["always"]


async def test_other_keys_answer_nothing_and_say_which_keys_do(user):
    decision = await user.ask(*NOTES, typed=[UP + "x", "n"])  # an arrow is no answer at all; x is the wrong one
    assert decision == NO
    assert user.answers() == ["x", "no"]
    assert KEYS in user.shown


async def test_pasted_text_answers_nothing(user):
    assert await user.ask(*NOTES, typed=[PASTED.format("y") + "n", "n"]) == NO
    assert user.answers() == ["", "no"]
    assert approval.TYPING in user.shown


# --------------------------------------------------------------------------- e, r, v


async def test_edit_runs_the_arguments_as_edited(user):
    decision = await user.ask(*NOTES, typed=["e", CTRL_U + '{"path": "other.txt"}' + ENTER])
    assert decision == Decision("yes", args={"path": "other.txt"})
    assert user.answers() == ["edit"]
    assert f'{EDIT} {{"path": "other.txt"}}' in user.lines()


async def test_edit_starts_from_the_arguments_and_enter_runs_them(user):
    assert await user.ask(*NOTES, typed=["e", ENTER]) == Decision("yes", args={"path": "notes.txt"})
    assert f'{EDIT} {{"path": "notes.txt"}}' in user.lines()


async def test_edited_text_that_is_no_json_object_is_said_and_asked_again(user):
    typed = ["e", CTRL_U + "{not json" + ENTER, "e", CTRL_U + "[1, 2]" + ENTER, "n"]
    assert await user.ask(*NOTES, typed=typed) == NO
    assert "not valid JSON (Expecting property name enclosed in double quotes): the call was not run" in user.shown
    assert "the arguments must be a JSON object: the call was not run" in user.shown
    assert user.answers() == ["edit", "edit", "no"]


@pytest.mark.parametrize(("typed", "reason"), [("too risky" + ENTER, "too risky"), ("  " + ENTER, None)])
async def test_reason_refuses_with_the_user_s_words_for_the_model(user, typed, reason):
    assert await user.ask(*NOTES, typed=["r", typed]) == Decision("no", reason=reason)
    assert user.answers() == ["reason"]
    assert any(line.startswith("Reason (for the model):") for line in user.lines())


async def test_view_shows_the_whole_arguments_the_block_cuts(user):
    why = "because " + "w" * 1000 + " the end"  # a model may send any argument, at any length
    assert await user.ask("read_file", {"path": "notes.txt", "why": why}, typed=["v", "y"]) == YES
    assert user.answers() == ["view all", "yes"]
    block, _, after = user.shown.partition("view all")
    assert why not in block and "because www" in block and "…" in block and "w the end" in block
    assert f'"why": "{why}"' in after


# --------------------------------------------------------------------------- q, Ctrl-C, Ctrl-D: no to the rest


@pytest.mark.parametrize("key", ["q", "Q", CTRL_C, CTRL_D], ids=["q", "Q", "ctrl-c", "ctrl-d"])
async def test_q_ctrl_c_or_ctrl_d_at_the_question_refuse_this_call_and_the_rest(user, key):
    assert await user.ask(*NOTES, typed=[key]) == REST
    assert user.answers() == ["no to all"]


@pytest.mark.parametrize(
    ("first", "key"),
    [("e", CTRL_C), ("r", CTRL_C), ("r", CTRL_D)],
    ids=["edit-ctrl-c", "reason-ctrl-c", "reason-ctrl-d"],
)
async def test_ctrl_c_or_ctrl_d_at_the_edit_or_reason_line_refuse_the_rest(user, first, key):
    assert await user.ask(*NOTES, typed=[first, key]) == REST


async def test_ctrl_d_at_the_edit_line_refuses_the_rest_as_the_module_says(user):
    """Ctrl-D at the edit line (which holds the arguments) does what q does, not prompt-toolkit's delete-character."""
    assert await user.ask(*NOTES, typed=["e", CTRL_D]) == REST


# --------------------------------------------------------------------------- no terminal


async def test_without_a_terminal_the_call_is_refused_and_nothing_is_asked(user):
    not_a_terminal = Captured(tty=False)
    user.keys.send_text("y")  # a key that would answer, were anything asked
    assert await user.ask(*NOTES, terminal=not_a_terminal) == Decision("no", by=NO_TERMINAL)
    assert not_a_terminal.getvalue() == "" and user.err.getvalue() == ""
    assert await user.read_line(ENTER) == "y", "a key was read though nothing was asked"


# --------------------------------------------------------------------------- keys typed too early or too late


async def test_a_line_the_terminal_holds_from_before_the_question_does_not_answer_it(user):
    user.type_before("yes please" + ENTER)  # typed while the model was streaming
    assert await user.ask(*NOTES, typed=["n"]) == NO
    assert user.answers() == ["no"]
    assert DROPPED in user.shown and DROPPED in user.err.getvalue()
    assert user.waiting() == 0, "the terminal still holds the line: it would be the next message"


async def test_keys_read_ahead_with_the_message_s_line_do_not_answer(user):
    """ "read my notes⏎y⏎" typed at once: the prompt reads the y with the line, and it must not answer."""
    assert await user.read_line("read my notes" + ENTER + "y" + ENTER) == "read my notes"
    assert await user.ask(*NOTES, typed=["n"]) == NO
    assert user.answers() == ["no"]
    assert DROPPED in user.shown


async def test_nothing_typed_before_the_question_says_nothing_about_it(user):
    await user.ask(*NOTES, typed=["n"])
    assert DROPPED not in user.shown


async def test_yes_typed_out_is_typing_then_y_alone_answers_and_nothing_is_the_next_message(user):
    """ "yes⏎", as for a question that wanted a line: typing, which answers nothing (the y is the first letter of a
    word); the question says so once, y pressed on its own then answers, and no part of "yes⏎" is sent later."""
    assert await user.ask(*NOTES, typed=["yes" + ENTER, "y"]) == YES
    assert user.answers() == ["", "yes"]
    assert user.shown.count(approval.TYPING) == 1
    assert await user.read_line("next" + ENTER) == "next"


# --------------------------------------------------------------------------- whole turns: what the model is told


@pytest.fixture
def files_settings(settings: Any, tmp_path: Any) -> Any:
    (tmp_path / "notes.txt").write_text("buy milk\n")
    (tmp_path / "other.txt").write_text("call mum\n")
    return replace(settings, tools=("files",))


async def _turns(user: User, settings: Any, *turns: tuple[str, Sequence[str]], terminal: Any = None) -> list[Any]:
    """Ask each (question, keys typed at its prompts) in one thread; the thread's messages after."""
    listener = asking(user.output, user.approver(terminal))
    async with conversation_with(settings, "asked", listener) as conversation:
        for question, typed in turns:
            await user.drive(send(conversation, question, settings), typed)
        return await conversation.messages()


def _told(server: Any, request: int = 1) -> list[str]:
    """What the model was told of each call: the tool results in the ``request``-th request."""
    assert all(protocol_error(body["messages"]) is None for body in server.requests), "a call was left with no result"
    return [m["content"] for m in server.requests[request]["messages"] if m.get("role") == "tool"]


async def test_yes_in_a_turn_runs_the_call_and_the_model_gets_its_result(user, server, files_settings):
    server.queue(tool_calls(NOTES), Reply("You need milk."))
    messages = await _turns(user, files_settings, ("what is on my list?", ["y"]))
    assert _told(server) == ["buy milk\n"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[-1].content == "You need milk." and "You need milk." in user.out.getvalue()


async def test_each_call_of_a_reply_is_asked_in_turn(user, server, files_settings):
    server.queue(tool_calls(NOTES, LISTING), Reply("Not the listing, then."))
    await _turns(user, files_settings, ("look around", ["y", "n"]))
    assert _told(server) == ["buy milk\n", REFUSED]
    assert user.answers() == ["yes", "no"]
    assert user.shown.index("path: notes.txt") < user.shown.index("⚙ list_directory (built-in)")


async def test_an_edited_call_runs_as_edited_and_the_model_is_told(user, server, files_settings):
    server.queue(tool_calls(NOTES), Reply("Call your mother."))
    await _turns(user, files_settings, ("what is on my list?", ["e", CTRL_U + '{"path": "other.txt"}' + ENTER]))
    assert _told(server) == ['(the user edited the arguments before it ran: {"path": "other.txt"})\ncall mum\n']


async def test_a_reason_reaches_the_model_and_nothing_runs(user, server, files_settings):
    server.queue(tool_calls(NOTES), Reply("Fine, I will not look."))
    messages = await _turns(user, files_settings, ("what is on my list?", ["r", "private" + ENTER]))
    assert _told(server) == [f"{REFUSED}. The user says: private"]
    assert "tool call refused: read_file (built-in)" in user.err.getvalue()
    assert messages[-1].content == "Fine, I will not look."


@pytest.mark.parametrize("key", ["q", CTRL_C, CTRL_D], ids=["q", "ctrl-c", "ctrl-d"])
async def test_no_to_all_refuses_the_rest_of_the_reply_s_calls(user, server, files_settings, key):
    server.queue(tool_calls(NOTES, LISTING, OTHER), Reply("As you wish."))
    messages = await _turns(user, files_settings, ("read it all", ["y", key]))
    assert _told(server) == ["buy milk\n", REFUSED_REST, REFUSED_REST]
    assert user.answers() == ["yes", "no to all"], "a call after the one refused was asked about"
    assert [m.type for m in messages] == ["human", "ai", "tool", "tool", "tool", "ai"]
    assert messages[-1].content == "As you wish."


async def test_always_runs_that_tool_unasked_for_the_rest_of_the_session(user, server, files_settings):
    server.queue(
        tool_calls(NOTES, OTHER, LISTING), Reply("milk, mum"),
        tool_calls(NOTES, ("read_file", {"path": "/etc/hostname"})), Reply("again"),
    )  # fmt: skip
    await _turns(user, files_settings, ("both lists", ["a", "n"]), ("once more", ["n"]))
    assert _told(server, 1) == ["buy milk\n", "call mum\n", REFUSED], "another tool is still asked"
    # Later turns too; and "always" lets files tools through only inside the working directory.
    assert _told(server, 3)[-2:] == ["buy milk\n", REFUSED]
    assert user.answers() == ["always", "no", "no"]


async def test_without_a_terminal_every_call_is_refused_and_the_answer_goes_on(user, server, files_settings):
    server.queue(tool_calls(NOTES, OTHER), Reply("I could not look."))
    messages = await _turns(user, files_settings, ("read both", []), terminal=Captured(tty=False))
    assert _told(server) == [NO_TERMINAL, NO_TERMINAL]
    assert messages[-1].content == "I could not look."
    assert user.err.getvalue().count("tool call refused: read_file (built-in)") == 2

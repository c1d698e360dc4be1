"""The prompt loop (chatcli.ui.prompt.run_repl) driven in this process, as a user types at it.

Keys go in through a prompt-toolkit pipe input and the prompt draws on a dummy output; the
answers, the notes and what the slash commands print are kept, and the model is the fake
server. Each test checks what the user sees and what the thread keeps (read back from the
store once the session has ended), or what the model was sent.

The same behaviour in a real terminal, through the installed ``chat``: tests/test_prompt_pty.py,
tests/test_keys_pty.py and tests/test_typeahead.py (marked e2e).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import asynccontextmanager, contextmanager, redirect_stdout
from typing import Any, AsyncIterator, Callable, Iterator

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.service.chat import Chat
from chatcli.service.opening import Opening
from chatcli.ui.output import PlainOutput
from chatcli.ui.prompt import run_repl
from chatcli.ui.prompt_session import make_session
from tests.fakeserver import Reply
from tests.helpers import ALT_ENTER, Captured, summary

ENTER, CTRL_C, CTRL_D = "\r", "\x03", "\x04"
PASTED = "\x1b[200~{}\x1b[201~"  # how a terminal sends pasted text (bracketed paste)
THREAD = "inproc1"
WAIT = 30.0  # seconds a test waits for something to be shown before it fails (the first prompt of a process, on a
# busy machine, waits for its imports: 10 s was seen to be too few)
STOPPED = "stopped: the partial answer is kept in the thread"


def user_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


# --------------------------------------------------------------------------- the seam
# All these tests know of the prompt's insides: ``run_repl`` takes the settings, the thread, an
# output and a prompt-toolkit session (made with ``make_session`` on the pipe); commands print on
# ``Context.out``, which defaults to ``sys.stdout``; "the prompt is up" is the session's
# application running; the thread is read back from the store. Only this section uses them.


class Session:
    """chat's prompt loop in this process: what is typed goes in, what is printed is kept.

    ``out`` is stdout (the answers, and what commands print), ``err`` the notes and errors.
    """

    def __init__(self, keys: Any, prompt: Any, out: Captured, err: Captured, task: asyncio.Task):
        self.keys, self.prompt, self.out, self.err, self.task = keys, prompt, out, err, task

    def type(self, text: str) -> None:
        self.keys.send_text(text)

    async def until(self, shown: str | Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
        """Wait until ``shown`` is printed (on stdout or stderr), or a condition (``what``) holds."""
        done = shown if callable(shown) else lambda: shown in self.out.getvalue() + self.err.getvalue()
        what = what or repr(shown)
        deadline = time.monotonic() + timeout
        while not done():
            if self.task.done() or time.monotonic() > deadline:
                how = "the session ended" if self.task.done() else "timed out"
                pytest.fail(f"{how} waiting for {what}\n{self}")
            await asyncio.sleep(0.01)

    async def ready(self) -> None:
        """Wait until the prompt is up, reading keys, with nothing typed ahead waiting for it."""
        await self.until(lambda: self.prompt.app.is_running and not self.prompt.default_buffer.text, what="the prompt")

    async def say(self, line: str, then: str) -> str:
        """At the prompt, type ``line`` and Enter; wait until ``then`` is shown and the prompt is back.

        What the line printed (stdout, then stderr)."""
        await self.ready()
        at = len(self.out.getvalue()), len(self.err.getvalue())
        self.type(line + ENTER)
        printed = lambda: self.out.getvalue()[at[0] :] + self.err.getvalue()[at[1] :]  # noqa: E731
        await self.until(lambda: then in printed(), what=repr(then))
        await self.ready()
        return printed()

    async def ended(self, timeout: float = WAIT) -> None:
        """Wait for the session to end by itself (it was told to leave)."""
        await asyncio.wait_for(asyncio.shield(self.task), timeout)

    def __str__(self) -> str:  # shown when a test fails
        return f"--- stdout\n{self.out.getvalue()}\n--- stderr\n{self.err.getvalue()}"


@asynccontextmanager
async def prompt_loop(settings: Any, thread_id: str = THREAD) -> AsyncIterator[Session]:
    """Run the prompt loop on ``thread_id`` for the block; left with Ctrl-D at the end if still running.

    Commands print on ``Context.out``, which the prompt makes for each command line from
    ``sys.stdout``: stdout is redirected for the session's length, into the same stream as the
    answers, as on a terminal.
    """
    out, err = Captured(), Captured()
    with create_pipe_input() as keys, redirect_stdout(out):
        session = make_session(settings, input=keys, output=DummyOutput())
        repl = run_repl(Chat(settings), Opening(thread_id), PlainOutput(out, err), session=session, named=True)
        task = asyncio.create_task(_guarded(repl))
        try:
            yield Session(keys, session, out, err, task)
        finally:
            if not task.done():
                keys.send_text(CTRL_D)
                try:
                    await asyncio.wait_for(task, WAIT)
                except TimeoutError:
                    task.cancel()
                    raise
    task.result()  # a session that failed fails the test


async def _guarded(session: Any) -> None:
    """The session, a KeyboardInterrupt escaping it made a failure of this test (not the end of the test run)."""
    try:
        await session
    except KeyboardInterrupt as exc:
        raise AssertionError("a Ctrl-C ended the session") from exc


async def stored(settings: Any, thread_id: str = THREAD) -> list[tuple[str, str, str | None]]:
    """(type, text, interrupted mark) of each message the thread keeps, read from the store."""
    from chatcli.store import open_checkpointer

    async with open_checkpointer(settings.db) as saver:
        found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    return summary(list(found.checkpoint["channel_values"].get("messages", [])) if found else [])


def press_ctrl_c() -> None:
    """Ctrl-C while a reply streams: the terminal sends chat SIGINT (the prompt is not reading keys then).

    Only while the event loop handles SIGINT (chat's handler, set with ``loop.add_signal_handler``):
    otherwise the signal would stop asyncio.run, and the test run with it.
    """
    handler = signal.getsignal(signal.SIGINT)
    assert getattr(handler, "__module__", None) == "asyncio.unix_events", f"no Ctrl-C handler in the loop: {handler!r}"
    os.kill(os.getpid(), signal.SIGINT)


# --------------------------------------------------------------------------- a question, Ctrl-D, exit


async def test_a_question_is_answered_shown_and_stored(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("hello there", then="You said: hello there")
        chat.type(CTRL_D)
        await chat.ended()
    assert f"bye · resume with: chat --thread {THREAD}" in chat.err.getvalue()
    assert await stored(settings) == [("human", "hello there", None), ("ai", "You said: hello there", None)]


async def test_the_second_question_is_sent_with_the_first(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("my name is Zed", then="You said: my name is Zed")
        await chat.say("what is my name?", then="You said: what is my name? (earlier: my name is Zed)")
    assert user_messages(server.requests[-1]) == ["my name is Zed", "what is my name?"]


@pytest.mark.parametrize("leave", ["exit", "quit", " EXIT ", "/exit", "/quit", "/bye", ".exit", ".quit"])
async def test_exit_alone_leaves_and_is_not_sent(settings, server, leave):
    async with prompt_loop(settings) as chat:
        await chat.say("hello", then="You said: hello")
        chat.type(leave + ENTER + "typed after leaving" + ENTER)
        await chat.ended()
    assert [user_messages(body) for body in server.requests] == [["hello"]]
    assert "bye" in chat.err.getvalue()


async def test_ctrl_d_on_an_empty_new_thread_leaves_and_keeps_nothing(settings, server):
    async with prompt_loop(settings) as chat:
        chat.type(CTRL_D)
        await chat.ended()
    assert chat.err.getvalue().splitlines()[-1] == "bye", "an empty thread was said to be kept"
    assert server.requests == [] and await stored(settings) == []


async def test_double_slash_sends_a_line_that_starts_with_a_slash(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("//exit is a command", then="You said: /exit is a command")
    assert await stored(settings) == [
        ("human", "/exit is a command", None),
        ("ai", "You said: /exit is a command", None),
    ]


# --------------------------------------------------------------------------- typing fast


async def test_lines_typed_at_once_are_each_sent_as_their_own_message_in_order(settings, server):
    async with prompt_loop(settings) as chat:
        chat.type("one" + ENTER + "two" + ENTER + "three" + ENTER)
        await chat.until("You said: three")
    assert [user_messages(body)[-1] for body in server.requests] == ["one", "two", "three"]
    assert [text for kind, text, _ in await stored(settings) if kind == "human"] == ["one", "two", "three"]


async def test_a_line_typed_during_a_reply_is_sent_after_it(settings, server):
    server.queue(Reply("a slow answer in many words", delay=0.05))
    async with prompt_loop(settings) as chat:
        chat.type("first" + ENTER)
        await chat.until("a slow")
        chat.type("second" + ENTER)
        await chat.until("You said: second")
    assert "a slow answer in many words\n" in chat.out.getvalue(), "the line typed went into the answer"
    assert [text for kind, text, _ in await stored(settings) if kind == "human"] == ["first", "second"]


async def test_a_line_and_ctrl_d_typed_at_once_answer_the_line_then_leave(settings, server):
    async with prompt_loop(settings) as chat:
        chat.type("last words" + ENTER + CTRL_D)
        await chat.ended()
    assert "You said: last words" in chat.out.getvalue()
    assert len(await stored(settings)) == 2


async def test_alt_enter_makes_one_message_of_two_lines(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("line one" + ALT_ENTER + "line two", then="You said: line one\nline two")
    assert [user_messages(body) for body in server.requests] == [["line one\nline two"]]


async def test_pasted_lines_are_one_message(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say(PASTED.format("first line\r\nsecond line"), then="You said: first line\nsecond line")
    assert [user_messages(body) for body in server.requests] == [["first line\nsecond line"]]


# --------------------------------------------------------------------------- Ctrl-C


async def test_ctrl_c_at_the_prompt_clears_the_line(settings, server):
    async with prompt_loop(settings) as chat:
        chat.type("forget this" + CTRL_C)
        await chat.say("hello", then="You said: hello")
    assert [user_messages(body) for body in server.requests] == [["hello"]]


async def test_ctrl_c_three_times_on_an_empty_prompt_says_how_to_leave(settings, server):
    async with prompt_loop(settings) as chat:
        chat.type(CTRL_C * 3)
        await chat.until("Ctrl-D or /exit leaves")
        await chat.say("still here", then="You said: still here")


async def test_ctrl_c_during_a_reply_keeps_the_part_shown_and_the_prompt_goes_on(settings, server):
    words = [f"w{i:02d}" for i in range(1, 41)]
    server.queue(Reply(" ".join(words), delay=0.02))
    async with prompt_loop(settings) as chat:
        chat.type("count slowly" + ENTER)
        await chat.until("w03")
        press_ctrl_c()
        await chat.until(STOPPED)
        await chat.say("next question", then="You said: next question (earlier: count slowly)")
    shown = chat.out.getvalue()
    assert "w40" not in shown
    assert (shown + chat.err.getvalue()).count("stopped") == 1, chat  # the reply's stop, said once
    messages = await stored(settings)
    assert [kind for kind, _, _ in messages] == ["human", "ai", "human", "ai"]
    partial, mark = messages[1][1], messages[1][2]
    assert partial.startswith("w01 w02 w03") and "w40" not in partial and mark == "cancelled", messages[1]
    assert partial in shown, "the thread keeps more (or other) than was shown"


async def test_ctrl_c_as_the_prompt_hands_a_line_over_stops_that_line(settings, server, monkeypatch):
    """The terminal makes Ctrl-C a signal again the moment the prompt hands a line over, before the prompt
    has finished closing: a Ctrl-C then stops that line (nothing is sent), and the prompt comes back."""
    from chatcli.ui import signals

    handled = asyncio.Event()
    heard = signals.CtrlC.__call__

    def hear(self: Any, signum: int) -> None:
        heard(self, signum)
        handled.set()

    monkeypatch.setattr(signals.CtrlC, "__call__", hear)
    async with prompt_loop(settings) as chat:
        real = chat.prompt.prompt_async

        async def closing(*args: Any, **kwargs: Any) -> str:
            line = await real(*args, **kwargs)
            if line == "stop me":  # Ctrl-C while the prompt closes, with the line taken
                press_ctrl_c()
                await handled.wait()
            return line

        monkeypatch.setattr(chat.prompt, "prompt_async", closing)
        await chat.say("warm up", then="You said: warm up")  # the engine is in: only the Ctrl-C can stop the line
        await chat.say("stop me", then="stopped: nothing was sent")
        await chat.say("next", then="You said: next")
    assert [user_messages(body) for body in server.requests] == [["warm up"], ["warm up", "next"]]


async def test_ctrl_c_after_a_line_went_to_be_answered_and_before_its_reply_began_is_said_once(
    settings, server, monkeypatch
):
    """A Ctrl-C that lands once the line's work has begun (the engine in) and before its reply has begun (nothing
    streamed, no reply of its own to say the stop) is said as a reply's stop is: one line, and the prompt goes on."""
    from chatcli.ui import prompt

    asked = prompt.ask_line

    async def begun(conversation: Any, text: str, queued: list[Any], again: bool = False) -> Any:
        if text == "stop me":
            press_ctrl_c()
            await asyncio.Event().wait()  # the reply has not begun when the Ctrl-C is heard
        return await asked(conversation, text, queued, again)

    monkeypatch.setattr(prompt, "ask_line", begun)
    async with prompt_loop(settings) as chat:
        await chat.say("warm up", then="You said: warm up")
        said = await chat.say("stop me", then="stopped")
        await chat.say("after", then="You said: after")
    assert said.count("stopped") == 1 and "nothing was sent" not in said, said


async def test_ctrl_b_before_the_question_is_kept_leaves_it_at_the_prompt_with_its_files(
    settings, server, monkeypatch, tmp_path
):
    """Ctrl-B the instant a question goes, before it is kept: a background reply would ask it without the files
    queued with it, and they would go with the next question instead. Nothing moves: the question is back at the
    prompt with its files still queued, and Enter sends them together. (Ctrl-B is read from a terminal only: here
    its handler is called as the key watcher calls it; tests/test_jobs.py presses it in a pseudo-terminal.)"""
    from chatcli.service.thread import Thread
    from chatcli.ui import prompt

    (tmp_path / "notes.txt").write_text("the notes say forty-two\n")
    question, real, held, ctrl_b = "what do the notes say?", Thread.send, [], []
    watched = prompt.watching

    @contextmanager
    def watching(keys: Any, key: Any, pressed: Callable[[], None]) -> Iterator[None]:
        ctrl_b.append(pressed)  # what the key calls, for the line running
        with watched(keys, key, pressed):
            yield

    async def ctrl_b_first(self: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        if text == question and not held:  # Ctrl-B while the question is on its way, not yet kept
            held.append(text)
            ctrl_b[-1]()
            await asyncio.Event().wait()  # until Ctrl-B stops it
        return await real(self, text, *args, **kwargs)

    monkeypatch.setattr(prompt, "watching", watching)
    monkeypatch.setattr(Thread, "send", ctrl_b_first)
    async with prompt_loop(settings) as chat:
        await chat.say(f"/attach {tmp_path / 'notes.txt'}", then="sent with your next message")
        await chat.ready()
        chat.type(question + ENTER)
        await chat.until("nothing was sent: your question is at the prompt, with its 1 file still queued")
        await chat.until(lambda: chat.prompt.default_buffer.text == question, what="the question back at the prompt")
        assert server.requests == [] and "background" not in chat.err.getvalue(), chat
        chat.type(ENTER)
        await chat.until(f"You said: {question}")
        await chat.ready()
    sent = user_messages(server.requests[-1])[-1]
    assert question in str(sent) and "forty-two" in str(sent), sent  # the question and its file, together
    assert len(server.requests) == 1


def _ctrl_b(monkeypatch: Any, moved: list[tuple[str, bool]]) -> list[Callable[[], None]]:
    """Ctrl-B's handler for each line run (as the key watcher calls it; a terminal's key is read in
    tests/test_jobs.py), and the background start recorded in ``moved`` (the question, and whether it is asked again
    from where it was kept) and refused as max_jobs refuses it: here no job's process is started."""
    from chatcli.errors import ChatError
    from chatcli.service import jobs
    from chatcli.ui import prompt

    handlers: list[Callable[[], None]] = []
    watched = prompt.watching

    @contextmanager
    def watching(keys: Any, key: Any, pressed: Callable[[], None]) -> Iterator[None]:
        handlers.append(pressed)
        with watched(keys, key, pressed):
            yield

    def started(conversation: Any, question: str, settings: Any, environ: Any, again: bool = False) -> Any:
        moved.append((question, again))
        raise ChatError("1 background replies run already (max_jobs 1)")

    monkeypatch.setattr(prompt, "watching", watching)
    monkeypatch.setattr(jobs, "ask_in_background", started)
    monkeypatch.setattr(jobs, "running", lambda environ: [])
    return handlers


@pytest.mark.parametrize("attached", [False, True], ids=["no file", "a text file"])
async def test_ctrl_b_mid_reply_asks_the_kept_question_again_whatever_it_carried(
    settings, server, monkeypatch, tmp_path, attached
):
    """Ctrl-B while the reply streams: the question is kept (with what it carried, a text file put in its text), so
    the background reply asks it again from there, never anew beside it; refused, it is said kept, as a stopped one."""
    (tmp_path / "notes.txt").write_text("the notes say forty-two\n")
    moved: list[tuple[str, bool]] = []
    ctrl_b = _ctrl_b(monkeypatch, moved)
    server.queue(Reply(" ".join(f"w{i:03d}" for i in range(400)), delay=0.02))
    question = "what do the notes say?"
    async with prompt_loop(settings) as chat:
        if attached:
            await chat.say(f"/attach {tmp_path / 'notes.txt'}", then="sent with your next message")
        await chat.ready()
        chat.type(question + ENTER)
        await chat.until("w005")  # the reply streams: its question is kept
        ctrl_b[-1]()
        await chat.until("your question is kept")
        await chat.ready()
    assert moved == [(question, True)], moved
    kept = [text for kind, text, _ in await stored(settings) if kind == "human"]
    assert len(kept) == 1 and question in kept[0] and ("forty-two" in kept[0]) == attached, kept


async def test_ctrl_b_before_the_question_is_kept_then_refused_puts_it_back_at_the_prompt(
    settings, server, monkeypatch
):
    """Ctrl-B before the question is kept, and the background reply cannot start (max_jobs): nothing was sent, and
    the question is back at the prompt (not said kept: /retry would ask the one before it)."""
    from chatcli.service.thread import Thread

    moved: list[tuple[str, bool]] = []
    ctrl_b = _ctrl_b(monkeypatch, moved)
    question, real, held = "and the second?", Thread.send, []

    async def ctrl_b_first(self: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        if text == question and not held:
            held.append(text)
            ctrl_b[-1]()
            await asyncio.Event().wait()  # until Ctrl-B stops it
        return await real(self, text, *args, **kwargs)

    monkeypatch.setattr(Thread, "send", ctrl_b_first)
    async with prompt_loop(settings) as chat:
        await chat.say("the first", then="You said: the first")
        chat.type(question + ENTER)
        await chat.until("nothing was sent: your question is at the prompt")
        await chat.until(lambda: chat.prompt.default_buffer.text == question, what="the question back at the prompt")
        assert "your question is kept" not in chat.err.getvalue() and len(server.requests) == 1, chat
        chat.type(ENTER)  # sent from there, once
        await chat.until(f"You said: {question}")
        await chat.ready()
    assert moved == [(question, False)], moved
    assert [user_messages(body)[-1] for body in server.requests] == ["the first", question]


async def test_bg_with_files_queued_is_refused_and_keeps_them(settings, server, tmp_path):
    """/bg asks in another process, without the files /attach queued here: refused in one line, the files kept for
    the next message here."""
    (tmp_path / "notes.txt").write_text("the notes say forty-two\n")
    async with prompt_loop(settings) as chat:
        await chat.say(f"/attach {tmp_path / 'notes.txt'}", then="sent with your next message")
        said = await chat.say("/bg summarise them", then="/bg asks without files")
        assert "/attach --clear" in said and "job" not in said, said
        await chat.say("summarise them", then="You said: summarise them")
    assert "forty-two" in str(user_messages(server.requests[-1])[-1])


# --------------------------------------------------------------------------- slash commands


async def test_help_lists_the_commands_and_sends_nothing(settings, server):
    async with prompt_loop(settings) as chat:
        shown = await chat.say("/help", then="removed.")  # the last word of /help, however its lines wrap
    for usage in ("/threads [N]", "/usage", "/undo", "/retry", "/system [TEXT]", "/exit", "/help"):
        assert f"  {usage} " in shown, usage
    assert server.requests == []


async def test_threads_lists_this_thread_with_its_title(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("a question about otters", then="You said: a question about otters")
        shown = await chat.say("/threads", then=f"you are on thread {THREAD}")
    row = next(line for line in shown.splitlines() if THREAD in line and "you are on" not in line)
    assert "otters" in row, shown


async def test_usage_counts_the_turns(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("a", then="You said: a")
        await chat.say("b", then="You said: b")
        shown = await chat.say("/usage", then=" out")
    assert shown.startswith("2 turns · ") and "tokens in · " in shown, shown


async def test_undo_takes_back_the_last_exchange(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("keep me", then="You said: keep me")
        await chat.say("drop me", then="You said: drop me")
        await chat.say("/undo", then="undone: drop me (and its answer)")
        await chat.say("and now?", then="You said: and now? (earlier: keep me)")
    assert [text for kind, text, _ in await stored(settings) if kind == "human"] == ["keep me", "and now?"]


async def test_undo_on_an_empty_thread_says_so(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("/undo", then="nothing to undo")
    assert server.requests == []


async def test_retry_replaces_the_answer(settings, server):
    server.queue(Reply("first answer"), Reply("second answer"))
    async with prompt_loop(settings) as chat:
        await chat.say("pick a number", then="first answer")
        shown = await chat.say("/retry", then="second answer")
    assert "retrying: pick a number" in shown
    assert await stored(settings) == [("human", "pick a number", None), ("ai", "second answer", None)]
    assert user_messages(server.requests[1]) == ["pick a number"], "the retry sent the old answer too"


async def test_system_sets_the_prompt_the_model_gets_from_now_on(settings, server):
    async with prompt_loop(settings) as chat:
        await chat.say("/system You are a pirate.", then="system prompt set for this thread")
        shown = await chat.say("/system", then="You are a pirate.")
        await chat.say("ahoy", then="You said: ahoy")
    assert "(the default system prompt)" not in shown
    assert server.requests[-1]["messages"][0] == {"role": "system", "content": "You are a pirate."}


async def test_an_unknown_command_is_one_error_line_and_never_sent(settings, server):
    async with prompt_loop(settings) as chat:
        shown = await chat.say("/hepl", then="/help lists commands")
        await chat.say("hello", then="You said: hello")
    assert shown.startswith("error: unknown command /hepl") and "did you mean /help?" in shown, shown
    assert [user_messages(body) for body in server.requests] == [["hello"]]

"""The interactive prompt, driven through a real pseudo-terminal with pexpect.

Each test starts the installed ``chat`` console script against the fake OpenAI server and
types at it the way a person would. The terminal is 100x40 and answers prompt-toolkit's
cursor-position requests (CPR) like a real terminal with the cursor on the bottom row.
What the user sees is checked on the output with the escape sequences removed; what the
thread holds is checked through the history the next request sends.
"""

from __future__ import annotations

import pytest

from tests.fakeserver import Fault, Reply
from tests.helpers import ALT_ENTER, CHAT, UP

PROMPT_DONE = "\x1b[?2004l"  # prompt-toolkit turns bracketed paste off as it hands the line over

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not CHAT.exists(), reason=f"console script not installed at {CHAT}")]


def user_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def assistant_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "assistant"]


# --------------------------------------------------------------------------------------------


def test_two_turns_remember_then_resume_in_a_new_process(start, server):
    repl = start("--thread", "demo")
    assert "thread demo" in repl.text
    assert "chat --thread demo" in repl.text  # how to resume, before the first question

    at = repl.say("my name is Zed")
    repl.wait_for("You said: my name is Zed", after=at)
    repl.wait_prompt()
    at = repl.say("what is my name?")
    repl.wait_for("You said: what is my name? (earlier: my name is Zed)", after=at)
    repl.wait_prompt()
    assert user_messages(server.requests[-1]) == ["my name is Zed", "what is my name?"]

    at = repl.mark()
    repl.child.sendcontrol("d")
    assert repl.exit_code() == 0
    after = repl.text[at:]
    assert "bye" in after and "chat --thread demo" in after

    # A new process on the same thread sends the whole history.
    again = start("--thread", "demo")
    at = again.say("and again?")
    again.wait_for("You said: and again? (earlier: my name is Zed | what is my name?)", after=at)
    again.wait_prompt()
    body = server.requests[-1]
    assert user_messages(body) == ["my name is Zed", "what is my name?", "and again?"]
    assert assistant_messages(body) == [
        "You said: my name is Zed",
        "You said: what is my name? (earlier: my name is Zed)",
    ]
    again.say("/exit")
    assert again.exit_code() == 0
    assert len(server.requests) == 3  # /exit is not sent to the model


def test_ctrl_c_at_the_prompt_clears_the_line(start, server):
    repl = start()
    repl.type("forget this")
    repl.child.sendcontrol("c")
    repl.wait_prompt()
    assert repl.child.isalive()
    assert not server.requests

    at = repl.say("hello")
    repl.wait_for("You said: hello", after=at)
    repl.wait_prompt()
    assert "forget this" not in repl.text[at:]
    assert user_messages(server.requests[-1]) == ["hello"]


def test_ctrl_c_during_a_reply_stops_it_and_keeps_the_part_shown(start, server):
    words = [f"w{i:02d}" for i in range(1, 41)]
    full = " ".join(words)
    server.queue(Reply(full, delay=0.2))
    repl = start("--thread", "stop")

    at = repl.say("count slowly")
    repl.wait_for("w03", after=at)
    stop_at = repl.mark()
    repl.child.sendintr()
    took = repl.wait_for("stopped", after=stop_at, timeout=5)
    assert took < 2, f"the stopped note took {took:.1f} s"
    repl.wait_prompt(timeout=5)
    shown = repl.text[at:]
    assert "w40" not in shown
    assert repl.child.isalive()

    at = repl.say("next question")
    repl.wait_for("You said: next question (earlier: count slowly)", after=at)
    repl.wait_prompt()
    body = server.requests[-1]
    assert user_messages(body) == ["count slowly", "next question"]
    kept = assistant_messages(body)
    assert len(kept) == 1, kept
    partial = kept[0]
    assert partial.startswith("w01 w02 w03"), partial
    assert full.startswith(partial) and len(partial) < len(full), partial
    assert "w40" not in partial


def test_ctrl_c_right_after_sending_the_first_line_keeps_the_repl(start, server):
    # The engine loads in the background for the first second or so: Ctrl-C while the first
    # question waits for it must stop that question, not end the program. (Should the engine
    # be loaded already, the Ctrl-C lands in this slow reply instead: same outcome for the user.)
    server.queue(Reply(" ".join(["slow"] * 30), delay=0.1))
    repl = start()
    at = repl.say("never mind")
    repl.wait_line_taken()
    repl.wait_signals_on()  # prompt-toolkit gave the terminal back (a Ctrl-C before that is a key press)
    repl.child.sendintr()
    repl.wait_for("stopped", after=at, timeout=5)
    repl.wait_prompt(timeout=5)
    assert repl.child.isalive()
    nothing_sent = "nothing was sent" in repl.text[at:]
    print("Ctrl-C landed", "while the engine loaded" if nothing_sent else "in the reply")
    if nothing_sent:
        assert not server.requests
        server.clear()  # the slow reply was never used

    at = repl.say("hello again")
    repl.wait_for("You said: hello again", after=at)
    repl.wait_prompt()
    expected = ["hello again"] if nothing_sent else ["never mind", "hello again"]
    assert user_messages(server.requests[-1]) == expected


def test_alt_enter_inserts_a_newline(start, server):
    repl = start()
    repl.type("line one")
    repl.child.send(ALT_ENTER)
    repl.type("line two")
    assert not server.requests  # Alt-Enter did not send
    repl.child.send("\r")
    assert server.wait_for_requests(1, timeout=10)
    repl.wait_for("line two")
    repl.wait_prompt()
    assert user_messages(server.requests[-1])[-1] == "line one\nline two"


def test_pasting_several_lines_sends_them_as_one_message(start, server):
    repl = start()
    # What a terminal sends for a paste when bracketed paste is on (prompt-toolkit turns it on).
    at, raw_at = repl.mark(), len(repl.raw)
    repl.child.send("\x1b[200~first line\r\nsecond line\r\nthird line\x1b[201~")
    repl.wait_for("third line", after=at)  # the prompt shows the whole paste
    assert PROMPT_DONE not in repl.raw[raw_at:] and not server.requests  # the newlines in the paste did not send it
    at = repl.mark()
    repl.child.send("\r")
    repl.wait_for("You said: first line", after=at)
    repl.wait_prompt()
    assert [user_messages(body) for body in server.requests] == [["first line\nsecond line\nthird line"]]


def test_input_history_is_kept_across_sessions(start, server, isolated_env):
    first = start()
    at = first.say("a line worth repeating")
    first.wait_for("You said: a line worth repeating", after=at)
    first.wait_prompt()
    first.child.sendcontrol("d")
    assert first.exit_code() == 0

    history = isolated_env / ".local" / "share" / "chatcli" / "history"
    assert "a line worth repeating" in history.read_text()
    assert history.stat().st_mode & 0o077 == 0  # private to the user

    second = start()
    at = second.mark()
    second.child.send(UP)
    second.wait_for("a line worth repeating", after=at)
    second.child.send("\r")
    second.wait_until(lambda: len(server.requests) == 2, "the second request")
    assert user_messages(server.requests[-1]) == ["a line worth repeating"]  # a new thread
    second.wait_prompt()


def test_model_error_prints_one_line_and_keeps_the_question(start, server, chat_env):
    assert chat_env["CHATCLI_MAX_RETRIES"] == "0"
    server.queue(Fault(status=500))
    repl = start("--thread", "oops")

    at = repl.say("will this fail?")
    repl.wait_for("error", after=at)
    repl.wait_prompt()
    shown = repl.text[at:]
    error_lines = [line for line in shown.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, error_lines
    assert "Traceback" not in shown
    assert len(server.requests) == 1  # no retry
    assert repl.child.isalive()

    at = repl.say("second try")
    repl.wait_for("You said: second try (earlier: will this fail?)", after=at)
    repl.wait_prompt()
    assert user_messages(server.requests[-1]) == ["will this fail?", "second try"]


def long_answer() -> str:
    """About 80 lines of Markdown, with a fenced code block in the middle."""
    parts = [f"Paragraph {n:02d} says hello." for n in range(1, 31)]
    code = "\n".join(f"code_line_{n:02d} = {n}" for n in range(1, 16))
    parts.append(f"```python\n{code}\n```")
    parts += [f"Paragraph {n:02d} says hello." for n in range(31, 51)]
    parts.append("The very last line.")
    return "\n\n".join(parts) + "\n"


def test_long_markdown_answer_arrives_whole(start, server):
    answer = long_answer()
    assert answer.count("\n") >= 80
    server.queue(Reply(answer, delay=0.004))
    repl = start()

    at = repl.say("write a lot")
    repl.wait_for("The very last line.", after=at, timeout=20)
    repl.wait_prompt()
    shown = repl.text[at:]
    for n in range(1, 51):
        assert f"Paragraph {n:02d} says hello." in shown, n
    for n in range(1, 16):
        assert f"code_line_{n:02d} = {n}" in shown, n
    assert "```" not in shown
    assert "python" not in shown  # the fence's info string is not shown either
    # The last lines come in order, after the code block, before the prompt.
    tail = shown[shown.rindex("code_line_15") :]
    positions = [tail.rindex(f"Paragraph {n:02d} says hello.") for n in (48, 49, 50)]
    assert positions == sorted(positions)
    assert tail.rindex("The very last line.") > positions[-1]


def test_ctrl_c_stops_a_fast_markdown_stream_every_time(start, server):
    # A fast server and a terminal renderer that is slower than it: tokens queue up behind
    # the screen. Wherever in the stream Ctrl-C lands, the stop is immediate (a client
    # that loses the cancellation keeps reading until the whole answer has arrived).
    tokens = [f" **w{i}**" if i % 7 == 0 else f" w{i}" for i in range(3000)]
    repl = start("--thread", "fast")
    for trial in range(6):
        server.queue(Reply(tokens=tokens, delay=0.002))
        ended = server.streams_ended
        at = repl.say(f"stream {trial}")
        # A sweep by event: the Ctrl-C lands when w30, w90, w150... shows, at another point of the stream and
        # of the renderer's backlog each trial, wherever a busy machine has the server by then.
        repl.wait_for(f"w{30 + 60 * trial}", after=at)
        stop_at = repl.mark()
        repl.child.sendintr()
        repl.wait_for("stopped", after=stop_at, timeout=30)
        # The verdict is the event too: the answer stopped before the server had written the rest of it.
        assert server.streams_ended == ended, f"stop {trial + 1} read the whole answer first"
        repl.wait_prompt(timeout=5)

"""The interactive prompt, driven through a real pseudo-terminal with pexpect: what only a terminal gives, Ctrl-C's
signal during a reply and a long answer drawn on its screen.

Each test starts the installed ``chat`` console script against the fake OpenAI server and
types at it the way a person would. The terminal is 100x40 and answers prompt-toolkit's
cursor-position requests (CPR) like a real terminal with the cursor on the bottom row.
What the user sees is checked on the output with the escape sequences removed; what the
thread holds is checked through the history the next request sends. The rest of the prompt runs in this process:
tests/test_prompt_inprocess.py (its keys) and tests/test_prompt_typed.py (from one session to the next).
"""

from __future__ import annotations

import pytest

from tests.fakeserver import Reply
from tests.helpers import CHAT

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not CHAT.exists(), reason=f"console script not installed at {CHAT}")]


def user_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def assistant_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "assistant"]


# --------------------------------------------------------------------------------------------


def test_ctrl_c_during_a_reply_stops_it_and_keeps_the_part_shown(start, server):
    words = [f"w{i:02d}" for i in range(1, 100)]
    full = " ".join(words)
    server.queue(Reply(full, delay=0.2))  # 20 s of answer: the stop is measured against it
    repl = start("--thread", "stop")

    at = repl.say("count slowly")
    repl.wait_for("w03", after=at)
    stop_at, ended = repl.mark(), server.streams_ended
    repl.child.sendintr()
    repl.wait_for("stopped", after=stop_at)
    assert server.streams_ended == ended, "the stop waited for the answer to end"
    repl.wait_prompt()
    shown = repl.text[at:]
    assert "w99" not in shown
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
    assert "w99" not in partial


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
    kept = "your question is kept" in repl.text[at:]  # (not when stopped before the thread had it)
    print("Ctrl-C landed", "while the engine loaded" if nothing_sent else "in the reply", "kept" if kept else "")
    assert not (nothing_sent and (server.requests or kept))
    if not server.requests:  # stopped before its request went out: the slow reply was never used
        server.clear()

    at = repl.say("hello again")
    repl.wait_for("You said: hello again", after=at)
    repl.wait_prompt()
    expected = ["never mind", "hello again"] if kept else ["hello again"]
    assert user_messages(server.requests[-1]) == expected


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

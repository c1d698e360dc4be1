"""Tool calls in a real terminal, as a user meets them: the block where the question is, keys typed too early,
Ctrl-C while a command runs, and chat killed mid-call or at the question. Each test checks the screen, what the
model was sent next, and what the thread keeps. Each answer to the question (y, Enter, r, a, e, Ctrl-C) at the
prompt in this process: tests/test_tools_typed.py."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.fakeserver import Reply, protocol_error, tool_calls
from tests.helpers import CHAT, HANG, Repl, chat, eventually, screen, stored, summary
from tests.test_reliability import db_of

pytestmark = pytest.mark.e2e  # every test here starts chat in a pseudo-terminal

QUESTION = "Run it? [y]es / [N]o / [a]lways this tool / [e]dit / [r]eason / [v]iew all / [q] no to all:"
REASON = "Reason (for the model):"
ARGUMENTS = "Arguments (JSON, Enter to run):"
BLOCK = "⚙ shell (built-in)"
REFUSED = "not run: the user refused this call"
REFUSED_REST = "not run: the user refused this call and every later call of this reply at once"
# prompt-toolkit turns bracketed paste on as each prompt (the "> " one or a question) starts waiting.
READY = "\x1b[?2004h"
DONE = "\x1b[?2004l"
CTRL_C = "\x03"
ANSWERED = re.compile(re.escape(QUESTION) + r" (yes|no to all|no|always|edit|reason|view all)\b")
TIMING = re.compile(r"· \d+\.\d s")  # how long a call took, in its result block


# --------------------------------------------------------------------------- helpers


def wait_asked(repl: Repl, question: str, after: int, timeout: float = 10) -> None:
    """Wait until ``question`` (a prompt of the approval UI) is up and reading keys.

    It is a prompt-toolkit prompt too: counted as seen, so that ``wait_prompt`` goes on waiting
    for the next "> " prompt."""
    target = repl.prompts_seen + 1
    repl.wait_until(lambda: question in repl.text[after:] and repl.raw.count(READY) >= target, repr(question), timeout)
    repl.prompts_seen = target
    repl.asked_at = time.monotonic()  # type: ignore[attr-defined]


def answer_shown(repl: Repl, after: int) -> str:
    """Wait until the first question after ``after`` shows what answered it; that answer ("yes", "no"...).

    What a test waits on to know the keys typed so far were read: a key the question took before
    the ones typed last would show as its answer here."""
    repl.wait_until(lambda: ANSWERED.search(repl.text[after:]) is not None, "the question to be answered")
    return ANSWERED.search(repl.text[after:]).group(1)


def answer(repl: Repl, keys: str) -> int:
    """Type ``keys`` at the question up now, as a person does: once they have read it (a pause after it appeared
    and after the keys they typed last: chatcli.ui.deliberate takes only a key pressed on its own); the output
    position before them."""
    from chatcli.ui.deliberate import GAP

    since = max(getattr(repl, "asked_at", 0.0), getattr(repl, "answered_at", 0.0))
    time.sleep(max(0.0, since + GAP + 0.25 - time.monotonic()))  # the user's pause: what is being tested
    at = repl.mark()
    repl.child.send(keys)
    repl.answered_at = time.monotonic()  # type: ignore[attr-defined]
    return at


def prompts_since(repl: Repl, raw_at: int) -> int:
    """How many prompts (the "> " one and questions) were put up after position ``raw_at`` of ``raw``."""
    return repl.raw[raw_at:].count(READY)


def tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m.get("role") == "tool"]


def assert_valid(server: Any) -> None:
    """Every request chat sent keeps the tool-call protocol (the fake server would have said 400)."""
    for number, body in enumerate(server.requests):
        assert protocol_error(body["messages"]) is None, (number, body["messages"])


def tool_results(thread_messages: list[Any]) -> list[tuple[str, str, str | None]]:
    """(call id, text, outcome) of each stored tool result."""
    return [
        (m.tool_call_id, str(m.content), (m.response_metadata or {}).get("outcome"))
        for m in thread_messages
        if m.type == "tool"
    ]


def gone(pid: int) -> bool:
    """True once ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def wait_file(path: Path, timeout: float = 10) -> str:
    """The contents of ``path`` once a command has written a line to it."""
    text = eventually(
        lambda: path.exists() and path.read_text().endswith("\n") and path.read_text(),
        f"{path} (the command to start)",
        timeout,
        interval=0.02,
    )
    return text.strip()


def kill_group(pid: int) -> None:
    """Clean up a command's process group that chat could not stop (it was killed itself)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def pty(chat_env):
    """Start ``chat`` in a pseudo-terminal without waiting for the "> " prompt; killed at the end."""
    started: list[Repl] = []

    def _start(*args: str) -> Repl:
        repl = Repl(list(args), chat_env)
        started.append(repl)
        return repl

    yield _start
    for repl in started:
        repl.kill()


# --------------------------------------------------------------------------- the block and keys typed too early


def test_the_text_before_a_call_is_shown_once_and_on_its_own_line(server, chat_env, start):
    """The model's words before a call end their line before the block, and are not printed again."""
    server.queue(
        tool_calls(("shell", {"command": "echo shown-once"}), text="Let me check."), Reply("final answer here")
    )
    repl = start("--tools", "shell", "--thread", "once")
    at = repl.say("run the check")
    raw_at = len(repl.raw)
    wait_asked(repl, QUESTION, at)
    before = screen(repl.raw[raw_at:])
    assert "Let me check." in before and BLOCK in before, before  # a line of its own, then the block
    after = answer(repl, "y")
    repl.wait_for("final answer here", after=after)
    repl.wait_prompt()
    lines = screen(repl.raw[raw_at:])
    shown = "\n".join(lines)
    assert shown.count("Let me check.") == 1 and shown.count(BLOCK) == 1, shown
    assert lines.index("Let me check.") < lines.index(BLOCK) < lines.index("final answer here"), shown


def test_keys_typed_while_the_model_streams_do_not_answer_the_question(server, chat_env, start, tmp_path):
    reply = tool_calls(("shell", {"command": "touch marker"}), text="Thinking")
    reply.parts.insert(1, 1.0)  # the call comes a second after the text
    server.queue(reply, Reply("not run then"))
    repl = start("--tools", "shell", "--thread", "ahead")
    at = repl.say("make a marker")
    repl.wait_for("Thinking", after=at)
    repl.child.send("y\r")  # typed ahead, before anything was asked
    wait_asked(repl, QUESTION, at)
    after = answer(repl, "n")
    assert answer_shown(repl, at) == "no", "keys typed ahead answered the question"
    repl.wait_for("not run then", after=after)
    repl.wait_prompt()
    assert "→" not in repl.text[at:] and not (tmp_path / "marker").exists(), "keys typed ahead approved the call"
    assert tool_messages(server.requests[1])[0]["content"] == REFUSED


def test_the_block_is_shown_where_the_question_is_when_stderr_goes_to_a_file(server, chat_env, tmp_path):
    """`chat 2>log`: the question is on the terminal, and so is what it asks about, whole to its end."""
    from tests.helpers import CHAT

    log = tmp_path / "err.log"
    server.queue(tool_calls(("shell", {"command": "echo hello\n\n\n\n\n\ntouch PWNED"})), Reply("fine, not run"))
    repl = Repl(["-c", f'exec "{CHAT}" --tools shell --thread redir 2>"{log}"'], chat_env, program="/bin/sh")
    try:
        repl.wait_prompt()
        at = repl.say("greet")
        wait_asked(repl, QUESTION, at)
        asked = repl.text[at:]
        assert BLOCK in asked and "touch PWNED" in asked, asked
        assert asked.index("touch PWNED") < asked.index(QUESTION), asked
        after = answer(repl, "n")
        repl.wait_for("fine, not run", after=after)
        repl.wait_prompt()
    finally:
        repl.kill()
    assert not (tmp_path / "PWNED").exists()
    assert tool_messages(server.requests[1])[0]["content"] == REFUSED


# --------------------------------------------------------------------------- stops and crashes


def test_ctrl_c_while_a_command_runs_stops_its_group_and_keeps_the_thread_valid(server, chat_env, start, tmp_path):
    command = f"echo $$ > group; sleep {HANG:g} & echo $! > child; wait"  # only the stop ends it
    server.queue(tool_calls(("shell", {"command": command})))
    # Outside the sandbox: the PIDs the command writes are this machine's (a sandbox's end with it:
    # tests/test_sandbox.py).
    repl = start("--tools", "shell", "--sandbox", "off", "--thread", "stop")
    at = repl.say("sleep a while")
    wait_asked(repl, QUESTION, at)
    after = answer(repl, "y")
    group, child = int(wait_file(tmp_path / "group")), int(wait_file(tmp_path / "child"))
    try:
        repl.wait_until(lambda: DONE in repl.raw[repl.raw.rindex(READY) :], "the question to close")
        repl.child.send(CTRL_C)
        repl.wait_prompt()  # a stop that waited for the command would wait HANG
        assert "stopped" in repl.text[after:]
        eventually(lambda: gone(group) and gone(child), "the command's processes to end with the stop")
    finally:
        kill_group(group)

    kept = stored(db_of(chat_env), "stop")
    assert [m.type for m in kept] == ["human", "ai", "tool"], summary(kept)
    ((call, text, outcome),) = tool_results(kept)
    assert call == "call_0_shell" and text.startswith("cancelled") and outcome == "cancelled", (text, outcome)

    at = repl.say("are we fine?")
    repl.wait_for("You said: are we fine?", after=at)
    repl.wait_prompt()
    assert "error" not in repl.text[at:], repl.text[at:]
    assert len(server.requests) == 2
    assert_valid(server)
    assert tool_messages(server.requests[1])[0]["content"].startswith("cancelled")


def test_ctrl_c_stops_the_answer_that_follows_an_approved_call(server, chat_env, start):
    words = " ".join(f"w{i:02d}" for i in range(400))
    server.queue(tool_calls(("shell", {"command": "echo hi"})), Reply(words, delay=0.05))  # 20 s of answer
    repl = start("--tools", "shell", "--thread", "stop-answer")
    at = repl.say("run it")
    wait_asked(repl, QUESTION, at)
    after = answer(repl, "y")
    repl.wait_for("w03", after=after)
    ended = server.streams_ended
    repl.child.send(CTRL_C)
    repl.wait_prompt()
    assert server.streams_ended == ended, "the answer went on to its end after Ctrl-C"
    assert "w399" not in repl.text[after:]
    kept = summary(stored(db_of(chat_env), "stop-answer"))
    assert kept[-1][0] == "ai" and kept[-1][2] == "cancelled" and kept[-1][1].startswith("w00"), kept


def test_after_kill_9_mid_call_the_thread_goes_on(server, chat_env, pty, tmp_path):
    server.queue(tool_calls(("shell", {"command": "echo $$ > group; sleep 30"})))
    repl = pty("--tools", "shell", "--sandbox", "off", "--thread", "k9")  # host PIDs, as above
    repl.wait_prompt()
    at = repl.say("sleep a while")
    wait_asked(repl, QUESTION, at)
    answer(repl, "y")
    group = int(wait_file(tmp_path / "group"))
    try:
        repl.child.kill(signal.SIGKILL)
        repl.exit_code()
        run = chat(chat_env, "--thread", "k9", "next question")
    finally:
        kill_group(group)  # chat was killed: nobody else stops it
    assert run.code == 0, run
    assert "You said: next question" in run.out

    assert len(server.requests) == 2
    assert_valid(server)
    (result,) = tool_messages(server.requests[1])
    assert result["tool_call_id"] == "call_0_shell" and result["content"].startswith("interrupted")
    kept = stored(db_of(chat_env), "k9")
    assert [m.type for m in kept] == ["human", "ai", "tool", "human", "ai"], summary(kept)
    assert tool_results(kept)[0][2] == "interrupted"


def test_after_kill_9_at_the_question_it_is_asked_again(server, chat_env, pty, tmp_path):
    """Asked again when the thread is opened with its tools named again, and without (the call named a built-in tool:
    it may run for it either way)."""
    for again in (["--tools", "shell"], []):
        thread = f"ask9-{len(again)}"
        server.clear()
        server.queue(tool_calls(("shell", {"command": "echo resumed-42"})))
        first = pty("--tools", "shell", "--thread", thread)
        first.wait_prompt()
        at = first.say("say it")
        wait_asked(first, QUESTION, at)
        first.child.kill(signal.SIGKILL)
        first.exit_code()
        assert len(server.requests) == 1, again

        server.queue(Reply("resumed answer"))
        repl = pty("--thread", thread, *again)
        wait_asked(repl, QUESTION, 0)
        shown = repl.text
        assert "this thread was waiting for your approval" in shown and "command: echo resumed-42" in shown, shown
        after = answer(repl, "y")
        repl.wait_for("resumed answer", after=after)
        repl.wait_prompt()
        assert "resumed-42" in repl.text[after:], again

        assert len(server.requests) == 2, again
        assert_valid(server)
        assert tool_messages(server.requests[1])[0]["content"] == "resumed-42\n[exit code 0]", again
        kept = stored(db_of(chat_env), thread)
        assert [m.type for m in kept] == ["human", "ai", "tool", "ai"], summary(kept)
        assert kept[-1].content == "resumed answer", again


def test_a_server_failing_while_the_user_types_is_told_above_the_prompt(server, chat_env, start):
    """A background failure never lands across the line being typed: it goes above the prompt."""
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "mcp.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    # It fails a little after the prompt is up, while the user types.
    config.write_text(json.dumps({"mcpServers": {"late": {"command": "sh", "args": ["-c", "sleep 1; exit 7"]}}}))
    repl = start()
    repl.type("half a ques")
    repl.wait_for("MCP server late:")
    repl.wait_until(lambda: screen(repl.raw)[-1].startswith("> half a ques"), "the prompt redrawn under the note")
    lines = screen(repl.raw)
    note = [line for line in lines if line.startswith("MCP server late:")]
    assert len(note) == 1 and "going on without its tools" in note[0], lines
    assert not any("half a ques" in line and "MCP server" in line for line in lines), lines


def test_the_tools_list_fits_the_terminal_a_line_a_tool(chat_env):
    """`chat tools` in a terminal of 80 columns and of 160: each tool's line fits (nothing wraps mid-word), and the
    wider terminal shows more of each description."""
    widest = {}
    for cols in (80, 160):
        child = pexpect.spawn(
            str(CHAT),
            ["tools", "--tools", "shell,files"],
            env=chat_env,
            encoding="utf-8",
            dimensions=(40, cols),
            timeout=30,
        )
        child.expect(pexpect.EOF)
        tools = [line for line in child.before.splitlines() if line.startswith("  ")]
        assert len(tools) == 3 and all(len(line) < cols for line in tools), (cols, tools)
        widest[cols] = max(len(line) for line in tools)
    assert widest[80] < 80 < 124 < widest[160], widest

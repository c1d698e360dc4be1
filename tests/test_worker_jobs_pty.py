"""Job control with the warm worker is the shell's, as without it: Ctrl-Z stops the answer, ``fg`` and ``bg`` go on.

Each test runs ``chat`` from bash (with job control, in a pseudo-terminal) twice: the normal way
and through the worker, and both must behave the same. While chat is stopped the answer writes
nothing and reads nothing: keys typed at the shell then are the shell's, never an answer to a
tool call's question. A chat in the background writes (unless ``stty tostop``) and stops, as
the kernel stops any process, when it would read the terminal or change its modes.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.fakeserver import Raw, Reply, delta_chunk, sse, tool_calls
from tests.helpers import Repl, stored, summary
from tests.matrix import ONE_SHOT, doors
from tests.test_reliability import db_of
from tests.test_tools_pty import QUESTION
from tests.test_worker import answering_child, chat, served, status, worker_env  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e  # every test here starts a shell and chat in a pseudo-terminal

PS1 = "shell-ready$ "
WORDS = [f"w{i:02d}" for i in range(1, 41)]
TEXT = " ".join(WORDS)
DELAY = 0.05  # seconds between streamed words
STOPPED = re.compile(r"\[1\]\+\s+Stopped\((SIG[A-Z]+)\)")  # as bash says it in POSIX mode: with the signal


class Shell(Repl):
    """bash with job control in a pseudo-terminal; its screen kept in ``raw`` (see tests.helpers.Repl)."""

    def __init__(self, env: dict[str, str]):
        super().__init__(["--norc", "--noprofile", "-i"], dict(env, PS1=PS1), program="/bin/bash")
        self.wait_for(PS1)
        # Report a job's change at once (not at the next prompt), and with the signal that stopped it.
        self.wait_ready(self.run("set -b -o posix"))

    def run(self, line: str) -> int:
        """Type a command line and wait until the shell echoed it; the text position before it ran."""
        at = self.mark()
        self.child.send(line + "\r")
        self.wait_for(line, after=at)
        return at

    def wait_ready(self, after: int) -> None:
        """Wait for the shell's prompt after position ``after``."""
        self.wait_for(PS1, after=after, timeout=30)

    def wait_stopped(self, after: int, prompt: bool = True) -> str:
        """Wait until the shell reports the job stopped (and, for a job in the foreground, prompts again);
        the signal that stopped it."""
        self.wait_until(lambda: STOPPED.search(self.text[after:]) is not None, "the job to stop", timeout=15)
        found = STOPPED.search(self.text[after:])
        assert found is not None
        if prompt:
            self.wait_ready(after + found.end())
        return found.group(1)


def chat_line(*args: str) -> str:
    return " ".join([sys.executable, "-m", "chatcli", *args])


@pytest.fixture
def shell_env(door):
    """The environment chat runs in from the shell: the normal way, or through a worker already running (the
    one-shot doors of tests/matrix.py; a test of both is decorated with ``ONE_SHOT_DOORS``)."""
    return door.env


ONE_SHOT_DOORS = doors(*ONE_SHOT)


def through_worker(env: dict[str, str]) -> bool:
    return env["CHATCLI_WORKER"] == "1"


def stopped_processes(shell: Shell, env: dict[str, str]) -> list[str]:
    """The state of chat as started by the shell and, with the worker, of the answer's process: "T" is stopped."""
    shell_pid = shell.child.pid
    callers = Path(f"/proc/{shell_pid}/task/{shell_pid}/children").read_text().split()
    pids = [int(pid) for pid in callers]
    if through_worker(env):
        pids.append(answering_child(status(env)["pid"]))
    return [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in pids]


def start_answer(shell: Shell, server, *args: str) -> int:
    """Start chat answering slowly; return the text position once the first words are on the screen."""
    at = shell.run(chat_line(*args))
    shell.wait_for(WORDS[3], after=at)
    return at


def ctrl_z(shell: Shell, server, env: dict[str, str]) -> int:
    """Ctrl-Z; once the shell says the job stopped, check that it stays silent while the server sends on."""
    at = shell.mark()
    shell.child.send("\x1a")
    assert shell.wait_stopped(at) == "SIGTSTP"
    assert set(stopped_processes(shell, env)) == {"T"}
    quiet = shell.mark()
    assert server.wait_until_sent(chunks=server.chunks_sent + 5), "the server stopped sending"
    shell._pump(0.3)  # what a running answer would have shown of those words
    assert not re.search(r"w\d\d", shell.text[quiet:]), shell.text[quiet:]
    return quiet


@ONE_SHOT_DOORS
def test_ctrl_z_stops_the_answer_and_fg_finishes_it(server, shell_env, door):
    server.queue(Reply(TEXT, delay=DELAY))
    before = door.mark()
    shell = Shell(shell_env)
    start_answer(shell, server, "-t", "stopped", "count")
    ctrl_z(shell, server, shell_env)
    at = shell.run("fg")
    shell.wait_for(WORDS[-1], after=at)
    shell.wait_ready(at)
    done = shell.run('echo "exit=$?"')
    shell.wait_for("exit=0", after=done)
    kept = summary(stored(db_of(shell_env), "stopped"))
    assert [(kind, text.strip(), mark) for kind, text, mark in kept][1] == ("ai", TEXT, None)
    door.went(before)  # through the worker: the worker's run
    shell.kill()


@ONE_SHOT_DOORS
def test_ctrl_z_then_bg_goes_on_in_the_background_as_a_process_would(server, shell_env):
    """In the background the answer goes on writing; with ``stty tostop`` it stops at its next write, until
    ``fg`` (unless it ignores SIGTTOU: then it writes on). Each case in a shell of its own."""
    cases = {"writes": ("", False), "tostop": ("stty tostop", True), "ignored": ("stty tostop; trap '' TTOU", False)}
    for case, (setup, stops) in cases.items():
        server.queue(Reply(TEXT, delay=DELAY))
        shell = Shell(shell_env)
        if setup:
            shell.wait_ready(shell.run(setup))
        start_answer(shell, server, "-t", f"background-{case}", "count")
        ctrl_z(shell, server, shell_env)
        at = shell.run("bg")
        if stops:
            assert shell.wait_stopped(at, prompt=False) == "SIGTTOU", case
            assert set(stopped_processes(shell, shell_env)) == {"T"}, case
            at = shell.run("fg")
            shell.wait_for(WORDS[-1], after=at)
            shell.wait_ready(at)
        else:
            shell.wait_for(WORDS[-1], after=at)
            shell.wait_for("Done", after=at)
        kept = summary(stored(db_of(shell_env), f"background-{case}"))
        assert [(kind, text.strip(), mark) for kind, text, mark in kept][1] == ("ai", TEXT, None), case
        shell.kill()


def slow_tool_call(command: str) -> Raw:
    """A reply that streams words slowly, then asks for a shell call."""
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for word in WORDS[:20]:
        parts += [sse(delta_chunk({"content": word + " "})), DELAY]
    return Raw([*parts, *tool_calls(("shell", {"command": command})).parts])


@ONE_SHOT_DOORS
def test_keys_typed_while_chat_is_stopped_are_the_shells_not_an_answer(server, shell_env, tmp_path):
    """Stopped before its tool call, chat reads nothing: "y" typed then runs at the shell; the question waits.

    Continued in the background, chat stops again (as the kernel stops a process) before the
    question: it can be answered only in the foreground. Continued with ``fg``, then with ``bg``, each in a shell of its
    own.
    """
    for resume in ("fg", "bg"):
        server.queue(slow_tool_call("touch ran"), Reply("all done"))
        shell = Shell(shell_env)
        start_answer(shell, server, "--tools", "shell", "--sandbox", "off", "-t", f"asked-{resume}", "count")
        ctrl_z(shell, server, shell_env)
        assert server.wait_until_sent(ended=server.streams_ended + 1), "the tool call was not sent"
        at = shell.run("y")  # a stopped chat leaves the key to the shell
        shell.wait_for("command not found", after=at)
        shell.wait_ready(at)
        if resume == "bg":
            at = shell.run("bg")
            assert shell.wait_stopped(at, prompt=False) == "SIGTTOU"  # first, it drops what was typed ahead
            assert set(stopped_processes(shell, shell_env)) == {"T"}
            at = shell.run("y")
            shell.wait_for("command not found", after=at)
            shell.wait_ready(at)
        at = shell.run("fg")
        shell.wait_for(QUESTION, after=at)
        assert not (tmp_path / "ran").exists(), resume
        asked = shell.mark()
        shell.child.send("n")
        shell.wait_for("all done", after=asked)
        shell.wait_ready(asked)
        assert not (tmp_path / "ran").exists(), resume
        assert f"{QUESTION} no" in shell.text[at:], shell.text[at:]
        results = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
        assert len(results) == 1 and "not run: the user refused this call" in results[0]["content"], resume
        shell.kill()


def test_a_caller_killed_while_stopped_hangs_up_its_answer(server, worker_env):  # noqa: F811
    """The shell gone (the stopped chat killed), the answer is not left stopped in the worker: it ends, kept."""
    assert chat(worker_env, "start it").code == 0
    server.queue(Reply(TEXT, delay=DELAY))
    shell = Shell(worker_env)
    start_answer(shell, server, "-t", "orphan", "count")
    ctrl_z(shell, server, worker_env)
    worker = status(worker_env)["pid"]
    answer = answering_child(worker)
    os.kill(int(Path(f"/proc/{shell.child.pid}/task/{shell.child.pid}/children").read_text().split()[0]), 9)
    deadline_ok = False
    for _ in range(300):
        if status(worker_env)["running"] == 0:
            deadline_ok = True
            break
        shell._pump(0.05)
    assert deadline_ok, f"the answer {answer} is still in the worker"
    kept = summary(stored(db_of(worker_env), "orphan"))
    assert [(kind, mark) for kind, _text, mark in kept] == [("human", None), ("ai", "cancelled")]
    shell.kill()

"""Signals during an answer: kill (SIGTERM) and a closed terminal (SIGHUP) are handled as Ctrl-C is,
and a second Ctrl-C while the partial answer is saved never loses it nor hangs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from tests.fakeserver import Reply
from tests.helpers import CHAT, Repl, stored, summary
from tests.mcp_servers import chat_argv
from tests.test_reliability import db_of

pytestmark = pytest.mark.e2e  # every test here starts a process

WORDS = " ".join(f"w{i:02d}" for i in range(1, 81))


def start_one_shot(chat_env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        chat_argv(CHAT, *args),
        env=chat_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )  # fmt: skip


def wait_for_output(proc: subprocess.Popen, n: int = 10) -> bytes:
    """Block until the answer has started streaming: ``n`` bytes on stdout."""
    got = b""
    while len(got) < n:
        piece = os.read(proc.stdout.fileno(), 4096)
        assert piece, "chat ended before answering"
        got += piece
    return got


def test_kill_and_hangup_keep_the_partial_answer_and_exit_as_signals_do(server, chat_env):
    for sig, code, said in ((signal.SIGTERM, 143, "terminated"), (signal.SIGHUP, 129, "hung up (the terminal closed)")):
        server.queue(Reply(WORDS, delay=0.05))
        proc = start_one_shot(chat_env, "-t", f"s{code}", "count")
        shown = wait_for_output(proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == code, (sig.name, err)
        lines = [line for line in err.decode().splitlines() if not line.startswith("thread: ")]
        assert lines == ["stopped: the partial answer is kept in the thread", said], (sig.name, lines)
        kept = summary(stored(db_of(chat_env), f"s{code}"))
        assert kept[0] == ("human", "count", None), sig.name
        assert kept[1][0] == "ai" and kept[1][2] == "cancelled", (sig.name, kept)
        assert kept[1][1].strip() == (shown + out).decode().strip(), sig.name
        server.clear()  # what the stopped answer did not take


def test_kill_with_json_still_writes_the_object(server, chat_env):
    server.queue(Reply(WORDS, delay=0.05))
    proc = start_one_shot(chat_env, "--jsonl", "-t", "sj", "count")
    first = wait_for_output(proc, 40)  # a few token events
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    last = json.loads((first + out).decode().strip().splitlines()[-1])
    assert last["type"] == "error" and last["error"]["exit_code"] == 143 and last["reply"].startswith("w01")
    assert summary(stored(db_of(chat_env), "sj"))[1][1] == last["reply"]


def test_a_quick_double_ctrl_c_never_skips_the_save_nor_hangs(server, chat_env):
    for run in range(5):
        server.queue(Reply(WORDS, delay=0.05))
        thread = f"dbl{run}"
        proc = start_one_shot(chat_env, "-t", thread, "count")
        # A sweep by event: the pair lands after w01, w03, w05... is shown, later in the answer each run.
        shown = wait_for_output(proc)
        while f"w{2 * run + 1:02d}".encode() not in shown:
            piece = os.read(proc.stdout.fileno(), 4096)
            assert piece, "chat ended before answering"
            shown += piece
        proc.send_signal(signal.SIGINT)
        time.sleep(0.002)  # the second Ctrl-C while the first is being handled: what "quick double" means
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"run {run}: chat hung after two Ctrl-C")
        assert proc.returncode == 130, (run, err)
        kept = summary(stored(db_of(chat_env), thread))
        assert len(kept) == 2 and kept[1][0] == "ai" and kept[1][2] == "cancelled", (run, kept)


@pytest.mark.parametrize("late", [signal.SIGINT, signal.SIGTERM])
async def test_a_stop_signal_after_the_answer_was_stopped_changes_nothing_until_the_command_ends(late):
    """What is left once the partial answer is kept (the thread closed, the process's own end) takes time on a busy
    machine: a Ctrl-C then neither interrupts it with a traceback nor ends chat by SIGINT instead of 130."""
    from chatcli.app.run import stoppable
    from chatcli.errors import Interrupted
    from chatcli.ui.signals import STOPPING

    async def answer() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)

    handlers = {signum: signal.getsignal(signum) for signum in STOPPING}
    try:
        with pytest.raises(Interrupted) as stopped:
            await stoppable(answer())
        assert stopped.value.exit_status == 130
        os.kill(os.getpid(), late)
        await asyncio.sleep(0.01)  # where Python would run a handler: none left that ends the command
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


async def test_stop_signals_are_ignored_after_a_block_only_when_it_stopped_the_command():
    """The prompt and a one-shot share the rule (chatcli.ui.signals.on_stop_signals): a block left without a stop
    (the prompt's /quit) puts Python's handlers back; one that stopped the command leaves the signals ignored."""
    from chatcli.ui.signals import STOPPING, on_stop_signals

    handlers = {signum: signal.getsignal(signum) for signum in STOPPING}
    try:
        with on_stop_signals(lambda signum: None):
            pass
        assert signal.SIG_IGN not in {signal.getsignal(signum) for signum in STOPPING}  # Python's own again
        with on_stop_signals(lambda signum: None, ending=lambda: True):
            pass
        assert {signal.getsignal(signum) for signum in STOPPING} == {signal.SIG_IGN}
        os.kill(os.getpid(), signal.SIGHUP)  # a closed terminal then: nothing
        await asyncio.sleep(0.01)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_kill_at_the_prompt_in_the_middle_of_an_answer_keeps_it_and_exits_143(server, chat_env):
    server.queue(Reply(WORDS, delay=0.05))
    repl = Repl(["--thread", "rt"], chat_env)
    try:
        repl.wait_prompt()
        at = repl.say("count")
        repl.wait_for("w03", after=at)
        repl.child.kill(signal.SIGTERM)
        assert repl.exit_code() == 143
    finally:
        repl.kill()
    assert "stopped: the partial answer is kept in the thread" in repl.text
    kept = summary(stored(db_of(chat_env), "rt"))
    assert kept[0] == ("human", "count", None) and kept[1][2] == "cancelled" and kept[1][1].startswith("w01")


def test_closing_the_terminal_in_the_middle_of_an_answer_keeps_it(server, chat_env):
    server.queue(Reply(WORDS, delay=0.05))
    repl = Repl(["--thread", "hup"], chat_env)
    try:
        repl.wait_prompt()
        at = repl.say("count")
        repl.wait_for("w03", after=at)
        status = repl.hang_up()
    finally:
        with contextlib.suppress(Exception):
            repl.kill()
    assert status == 129, status
    kept = summary(stored(db_of(chat_env), "hup"))
    assert kept[0] == ("human", "count", None) and kept[1][2] == "cancelled" and kept[1][1].startswith("w01")

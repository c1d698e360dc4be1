"""The warm start of the test MCP servers (tests/mcp/warm.py, tests/mcp_servers.py) is the script as ``python`` runs
it: the same arguments, environment, folder, output and exit code, and no server left when its command is stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import mcp_servers
from tests.helpers import eventually

e2e = pytest.mark.e2e  # starts processes

SCRIPT = """\
import os, sys
import mcp.types  # an SDK's script: started warm
if os.environ.get("PIDFILE"):
    open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
line = sys.stdin.readline()
print("argv", sys.argv[1:], "cwd", os.getcwd(), "env", os.environ.get("WHICH"), "read", line.strip(), flush=True)
print("to stderr", file=sys.stderr, flush=True)
if line.startswith("sleep"):
    import time
    time.sleep(60)
if line.startswith("say"):
    sys.exit("said and gone")
if line.startswith("exit"):
    os._exit(5)  # no clean-up, no SystemExit
if line.startswith("kill"):
    import signal
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(line) if line.strip().isdigit() else 0)
"""


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "server.py"
    script.write_text(SCRIPT)
    return script


def _run(argv: list[str], line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WHICH": "this one"}
    return subprocess.run(argv, input=line, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


@e2e
def test_a_warm_server_runs_and_is_stopped_as_python_runs_it(tmp_path):
    """Whichever way the script ends: an exit code, none, a message to sys.exit, os._exit, SIGKILL; and stopped with
    SIGTERM (passed on, its end waited for) or SIGKILL (the server sees its end of the socket close), it leaves no
    server."""
    runs(tmp_path)
    stops(tmp_path)


def runs(tmp_path: Path) -> None:
    script, folder = _script(tmp_path), tmp_path / "elsewhere"
    folder.mkdir()
    warm = mcp_servers.argv(script, "a b", "--flag")
    assert warm != mcp_servers.argv(script, "a b", "--flag", warm=False)  # it is started warm
    for line in ("7\n", "0\n", "say\n", "exit\n", "kill\n"):
        got = _run(warm, line, folder)
        expected = _run(mcp_servers.argv(script, "a b", "--flag", warm=False), line, folder)
        assert (got.returncode, got.stdout, got.stderr) == (expected.returncode, expected.stdout, expected.stderr), line


def stops(tmp_path: Path) -> None:
    for how in (signal.SIGTERM, signal.SIGKILL):
        pidfile = tmp_path / f"pid-{how.name}"
        command = subprocess.Popen(
            mcp_servers.argv(_script(tmp_path)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PIDFILE": str(pidfile)},
            text=True,
        )
        assert command.stdin is not None and command.stdout is not None
        command.stdin.write("sleep\n")
        command.stdin.flush()
        assert command.stdout.readline().startswith("argv")
        pid = int(pidfile.read_text())
        assert pid != command.pid  # the server is the warm fork, not the command
        command.send_signal(how)
        assert command.wait(30) == -how, how.name
        # SIGTERM is passed on and its end waited for (its files closed; the process reaped a moment after); SIGKILL
        # cannot be: the server sees its end of the socket close.
        timeout = 2 if how == signal.SIGTERM else 10
        eventually(lambda: not Path(f"/proc/{pid}").exists(), f"the server's end after {how.name}", timeout=timeout)


@e2e
def test_chat_started_warm_is_chat_and_ends_of_a_signal_as_chat_does(chat_env, server):
    """``chat ARGS`` forked from the warm process (tests/mcp_servers.chat_argv) says and ends as chat does: as the
    command line run in this process, and ``chat acp`` (which reads the real stdin to its end) as the installed chat.
    An editor ends its agent with a signal: ``chat acp`` started warm ends as the installed one does (SIGTERM, the
    editors' way, compared with it; what chat says of Ctrl-C is tests/test_failures.py's; SIGKILL is the kernel's)."""
    says(chat_env, server)
    ends(chat_env)


def says(chat_env: dict[str, str], server: Any) -> None:
    from tests.fakeserver import Reply
    from tests.helpers import CHAT, chat

    for args in (["--version"], ["--json", "hello"], ["--no-such-flag"], ["config", "get"], ["acp"]):
        server.queue(Reply("hi there"))
        warm = subprocess.run(
            mcp_servers.chat_argv(CHAT, *args), input="", capture_output=True, text=True, env=chat_env, timeout=60
        )
        if args == ["acp"]:
            cold = subprocess.run(
                [str(CHAT), *args], input="", capture_output=True, text=True, env=chat_env, timeout=60
            )
            expected = (cold.returncode, cold.stdout, cold.stderr)
        else:
            server.queue(Reply("hi there"))
            here = chat(chat_env, *args)
            expected = (here.code, here.out, here.err)
        assert (warm.returncode, warm.stderr) == (expected[0], expected[2]), (args, warm, expected)
        if args[0] == "--json":  # the same answer (its thread and timing are its own)
            assert json.loads(warm.stdout)["reply"] == json.loads(expected[1])["reply"] == "hi there"
        else:
            assert warm.stdout == expected[1], (args, warm, expected)


def ends(chat_env: dict[str, str]) -> None:
    from tests.helpers import CHAT

    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}
    for how, ends in ((signal.SIGTERM, None), (signal.SIGINT, (130, "interrupted\n")), (signal.SIGKILL, (-9, ""))):
        ended = []
        for argv in (mcp_servers.chat_argv(CHAT, "acp"), [str(CHAT), "acp"])[: 1 if ends else 2]:
            agent = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chat_env
            )
            assert agent.stdin is not None and agent.stdout is not None and agent.stderr is not None
            agent.stdin.write(json.dumps(initialize).encode() + b"\n")
            agent.stdin.flush()
            assert json.loads(agent.stdout.readline())["id"] == 1  # it is up and reading
            agent.send_signal(how)
            ended.append((agent.wait(30), agent.stderr.read().decode()))
        assert ended[0] == (ends or ended[1]), (how.name, ended)


def test_a_script_of_no_sdk_starts_as_itself(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("print('hi')\n")
    assert mcp_servers.argv(plain) == [sys.executable, str(plain)]

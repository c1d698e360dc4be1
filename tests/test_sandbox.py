"""The shell tool's sandbox, with the real bubblewrap: where a command may write, whether it reaches
the network, what the approval block says about it, and a command that leaves a process behind.

The sandbox tests are skipped, saying why, only where bubblewrap cannot run (.ci/run installs it).
Working directories live under /tmp (pytest's tmp_path): the case the mount order must get right.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatcli.config import load_settings
from chatcli.tools import builtin, sandbox
from chatcli.tools.builtin import run_shell
from tests.fakeserver import Reply, tool_calls
from tests.helpers import HANG, chat, chat_process, eventually, eventually_async
from tests.test_tools import tool_messages, write_config

WHY_NOT = sandbox.unavailable()
needs_bwrap = pytest.mark.skipif(WHY_NOT is not None, reason=f"no sandbox on this machine: {WHY_NOT}")


@pytest.fixture(autouse=True)
def wide_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks are not cut to a terminal's width."""
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory beside HOME (not holding it), made current."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside /tmp (so not hidden by the sandbox's private /tmp) the user can write."""
    path = Path(tempfile.mkdtemp(prefix="chatcli-sandbox-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def shell(command: str, mode: str = "workspace", network: bool = False, **flags: object) -> str:
    """Run ``command`` as the shell tool does, under the policy a session with these settings gets."""
    return asyncio.run(
        run_shell(command, sandbox.policy_for(load_settings({"sandbox": mode, "network": network, **flags})))
    )


def shell_call(command: str, policy: sandbox.Policy | None = None) -> Any:
    """The call of the shell tool as a toolbox with ``policy`` shows it (and asks about it)."""
    from chatcli.backends.own.toolrun import shown_call
    from chatcli.tools.toolbox import Toolbox

    toolbox = Toolbox(builtin_groups=("shell",), sandbox=policy or sandbox.policy_for(load_settings({})))
    entry = toolbox.find("shell")
    return shown_call({"id": "c1", "name": "shell", "args": {"command": command}}, entry)


class Listener:
    """A TCP server on the host's 127.0.0.1 that records what each connection sends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.received.append(conn.recv(100))

    def connect_command(self) -> str:
        # bash's /dev/tcp, not this Python: a virtual environment under /tmp is hidden by the sandbox's own /tmp.
        return f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{self.port} && printf hello >&3 && echo connected'"


def running(marker: str) -> list[int]:
    """PIDs on this machine whose command line is ``marker`` (e.g. "sleep 600.251")."""
    wanted = marker.replace(" ", "\0").encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# --------------------------------------------------------------------------- where a command may write


@needs_bwrap
def test_a_sandboxed_command_writes_in_the_working_directory_and_nowhere_else(project, outside):
    scratch = f"/tmp/chatcli-scratch-{os.getpid()}"
    result = shell(
        f"echo in > made.txt; echo out > {outside}/escaped.txt; echo home > $HOME/escaped.txt; "
        f"echo tmp > {scratch} && cat {scratch}"
    )
    assert (project / "made.txt").read_text() == "in\n"
    assert not (outside / "escaped.txt").exists() and f"{outside}/escaped.txt: Read-only file system" in result, result
    assert not (Path(os.environ["HOME"]) / "escaped.txt").exists()
    assert "tmp" in result.splitlines() and not Path(scratch).exists()  # a private /tmp, gone with the command
    assert result.endswith("[exit code 0]")


@needs_bwrap
def test_git_and_chats_own_directories_stay_read_only_inside_the_working_directory(tmp_path):
    # The working directory is tmp_path: HOME, so chat's config and data, lie inside it.
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    config = tmp_path / "home" / ".config" / "chatcli"
    data = tmp_path / "home" / ".local" / "share" / "chatcli"
    cache = tmp_path / "home" / ".cache" / "chatcli" / "mcp"  # MCP servers' listings: what the model is offered
    config.mkdir(parents=True)
    data.mkdir(parents=True)
    cache.mkdir(parents=True)
    (config / "config.toml").write_text('model = "mine"\n')
    result = shell(
        "echo x > .git/HEAD; echo x > .git/new; echo x > home/.config/chatcli/config.toml; "
        "echo x > home/.local/share/chatcli/chat.db; echo x > home/.cache/chatcli/mcp/planted.json; echo ok > fine.txt"
    )
    assert (tmp_path / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n" and not (
        tmp_path / ".git" / "new"
    ).exists()
    assert (config / "config.toml").read_text() == 'model = "mine"\n'
    assert not (data / "chat.db").exists() and not (cache / "planted.json").exists()
    assert result.count("Read-only file system") == 5, result
    assert (tmp_path / "fine.txt").read_text() == "ok\n"


@needs_bwrap
@pytest.mark.parametrize(
    "place",
    ["home/.config/chatcli", "home/.local/share/chatcli", "home/.cache/chatcli/mcp", "home/.config/chatcli/roles"],
)
def test_chats_own_directories_not_made_yet_cannot_be_made_and_filled_from_inside(tmp_path, place):
    """Run in HOME before chat made its directories, a command cannot make one and plant a file there
    (an mcp.json whose server a later session would start outside the sandbox, a cached listing)."""
    assert not (tmp_path / "home" / ".config").exists()
    result = shell(f"mkdir -p {place} && echo planted > {place}/mcp.json; echo done")
    assert not (tmp_path / place / "mcp.json").exists(), result
    assert "Read-only file system" in result and result.splitlines()[-2] == "done", result


@needs_bwrap
@pytest.mark.parametrize("where", ["in the working directory", "above it"])
def test_a_database_near_the_work_is_protected_and_the_work_stays_writable(project, where):
    db = project / "chat.db" if where == "in the working directory" else project.parent / "chat.db"
    db.write_bytes(b"SQLite format 3\0")
    result = shell(f"echo x > {db}; echo ok > fine.txt", db=str(db))
    assert db.read_bytes() == b"SQLite format 3\0", result
    assert (project / "fine.txt").read_text() == "ok\n", result


@needs_bwrap
def test_read_only_writes_nowhere(project):
    result = shell("echo x > made.txt", mode="read-only")
    assert not (project / "made.txt").exists()
    assert "made.txt: Read-only file system" in result and not result.endswith("[exit code 0]"), result


def test_off_runs_the_command_with_the_users_rights(project, outside):
    result = shell(f"echo out > {outside}/written.txt", mode="off")
    assert (outside / "written.txt").read_text() == "out\n" and result == "[exit code 0]"


@needs_bwrap
def test_the_sandbox_has_its_own_processes_and_no_new_privileges(project):
    result = shell("grep NoNewPrivs /proc/self/status; ls /proc | grep -c '^[0-9]'")
    privs, count, _ = result.splitlines()
    assert privs.split() == ["NoNewPrivs:", "1"]
    assert int(count) < 10, result  # the host runs hundreds


# --------------------------------------------------------------------------- the network


@pytest.mark.parametrize("mode, network, connects", [
    pytest.param("workspace", False, False, marks=needs_bwrap),
    pytest.param("read-only", False, False, marks=needs_bwrap),
    pytest.param("workspace", True, True, marks=needs_bwrap),
    ("off", False, True),
])  # fmt: skip
def test_a_server_on_localhost_is_reached_only_with_the_network_on(project, mode, network, connects):
    listener = Listener()
    result = shell(listener.connect_command(), mode=mode, network=network)
    if connects:
        assert result == "connected\n[exit code 0]"
        eventually(lambda: listener.received, "the server on localhost to hear the command", interval=0.02)
        assert listener.received == [b"hello"]
    else:
        assert "Connection refused" in result or "Network is unreachable" in result, result
        assert listener.received == []


@needs_bwrap
def test_two_toolboxes_in_one_process_each_keep_their_own_sandbox(project, outside):
    """As in chat serve or anything that embeds chat: the policy goes with the toolbox, not the process."""
    from chatcli.backends.own.toolrun import shown_call
    from chatcli.service.chat import open_toolbox

    async def both() -> list[str]:
        strict_settings = load_settings({"tools": "shell", "sandbox": "read-only"})
        open_settings = load_settings({"tools": "shell", "sandbox": "off"})
        async with open_toolbox(strict_settings) as strict, open_toolbox(open_settings) as plain:
            said = []
            # The open one made last, the strict one used last: each runs and shows under its own policy.
            for toolbox, name in ((plain, "plain"), (strict, "strict")):
                entry = toolbox.find("shell")
                said.append(shown_call({"id": name, "name": "shell", "args": {}}, entry).where)
                said.append(await entry.tool.ainvoke({"command": f"echo x > {outside}/{name}.txt"}))
            return said

    plain_line, plain_ran, strict_line, strict_ran = asyncio.run(both())
    assert plain_line.startswith("not sandboxed") and plain_ran == "[exit code 0]", (plain_line, plain_ran)
    assert strict_line.startswith("sandbox: read-only") and "exit code 0" not in strict_ran, (strict_line, strict_ran)
    assert (outside / "plain.txt").exists() and not (outside / "strict.txt").exists()


# --------------------------------------------------------------------------- what the user is told


@needs_bwrap
def test_the_approval_block_says_which_sandbox_the_command_runs_in(project):
    from chatcli.ui.toolblocks import call_block

    command = "\n".join(f"echo line {i}" for i in range(30))
    lines = call_block(shell_call(command)).splitlines()
    assert lines[:2] == [
        "⚙ shell (built-in)",
        f"  sandbox: workspace, no network (writes only in {project} and a private /tmp)",
    ]
    assert (
        "  … 26 more lines …" in lines[2:] and lines[-1].strip() == "echo line 29"
    )  # the command is cut in the middle, the sandbox line never
    shown = call_block(shell_call(command, sandbox.Policy("read-only", network=True)))
    assert shown.splitlines()[1] == "  sandbox: read-only, network open (no writes but a private /tmp)"
    assert (
        call_block(shell_call(command, sandbox.Policy("off")))
        .splitlines()[1]
        .startswith('  not sandboxed (sandbox = "off")')
    )


def test_without_bubblewrap_the_block_says_not_sandboxed_and_how_to_install_it(project, monkeypatch, outside):
    from chatcli.ui.toolblocks import call_block

    monkeypatch.setattr(sandbox.shutil, "which", lambda *_args, **_options: None)  # no bubblewrap on PATH
    line = call_block(shell_call("ls")).splitlines()[1]
    assert (
        line.startswith("  not sandboxed: bubblewrap (bwrap) is not installed") and "apt-get install bubblewrap" in line
    )
    # Approved knowing that, the command runs as it always did.
    assert asyncio.run(run_shell(f"echo x > {outside}/plain.txt")) == "[exit code 0]"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert (
        call_block(shell_call("ls")).splitlines()[1]
        == "  not sandboxed: the sandbox needs Linux and bubblewrap; this is darwin"
    )


def test_a_bubblewrap_that_cannot_start_a_namespace_is_said_plainly(project, monkeypatch, tmp_path):
    from chatcli.ui.toolblocks import call_block

    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")  # the bwrap found first
    line = call_block(shell_call("ls")).splitlines()[1]
    assert (
        line
        == "  not sandboxed: bubblewrap cannot start a sandbox here (bwrap: No permissions to create new namespace)"
    )


@needs_bwrap
@pytest.mark.e2e
def test_the_terminal_shows_the_sandbox_before_asking(server, start):
    server.queue(tool_calls(("shell", {"command": "echo hi"})), Reply("done"))
    repl = start("--tools", "shell", "--network")
    at = repl.say("run it")
    repl.wait_for("Run it?", after=at)
    assert "sandbox: workspace, network open (writes only in " in repl.text[at:], repl.text[at:]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("config, environ, flags, expected", [
    ("", {}, {}, ("workspace", False)),
    ('sandbox = "off"\n', {}, {}, ("off", False)),
    ('sandbox = "off"\nnetwork = true\n', {"CHATCLI_SANDBOX": "read-only"}, {}, ("read-only", True)),
    ("", {"CHATCLI_SANDBOX": "off", "CHATCLI_NETWORK": "1"}, {"sandbox": "workspace"}, ("workspace", True)),
])  # fmt: skip
def test_sandbox_and_network_come_from_the_config_the_environment_and_the_flags(
    chat_env, config, environ, flags, expected
):
    write_config(chat_env, config)
    settings = load_settings(flags, environ={**chat_env, **environ})
    assert (settings.sandbox, settings.network) == expected


def test_an_unknown_sandbox_mode_is_one_line(chat_env):
    run = chat({**chat_env, "CHATCLI_SANDBOX": "strict"}, "hi")
    assert run.code == 3 and "sandbox must be workspace, read-only or off, got 'strict'" in run.err, run
    run = chat(chat_env, "--sandbox", "strict", "hi")
    assert run.code == 2 and "'strict' is not one of" in run.err, run


@needs_bwrap
def test_the_flags_reach_the_shell_tool(server, chat_env, tmp_path):
    listener = Listener()
    server.queue(tool_calls(("shell", {"command": f"touch made; {listener.connect_command()}"})), Reply("ok"))
    run = chat(chat_env, "--tools", "shell", "--yes", "--sandbox", "read-only", "--network", "go", cwd=tmp_path)
    assert run.code == 0, run
    result = tool_messages(server.requests[1])[0]["content"]
    assert "touch: cannot touch 'made': Read-only file system" in result and "connected" in result, result
    assert not (tmp_path / "made").exists() and listener.received == [b"hello"]


# --------------------------------------------------------------------------- what a command leaves behind


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is left holding the output is given 0.2 s, not 0.5 s, to let go before it is stopped."""
    monkeypatch.setattr(builtin, "LEFTOVER_GRACE", 0.2)


@pytest.mark.parametrize("mode", [pytest.param("workspace", marks=needs_bwrap), "off"])
def test_a_daemon_holding_the_output_does_not_hold_the_result(project, mode, short_grace):
    # The daemon sleeps HANG seconds: a result that waited for it would not come before pytest's timeout.
    marker = f"sleep {HANG:g}.251{len(mode)}"  # each mode's own: the two may run at once, in two workers
    result = shell(f"setsid {marker} & echo started $!", mode=mode)
    left = running(marker)
    for pid in left:
        os.kill(pid, 9)
    assert result.startswith("started ") and result.endswith("[exit code 0]"), result
    if mode == "off":  # in a session of its own: out of reach, and said so
        assert "still running: its later output is not read" in result and len(left) == 1
    else:
        assert left == []  # it ended with the sandbox


@pytest.mark.parametrize("mode", [pytest.param("workspace", marks=needs_bwrap), "off"])
def test_background_jobs_end_with_the_command_and_their_output_so_far_is_kept(project, mode, short_grace):
    marker = f"sleep 30.252{len(mode)}"  # each mode's own: the two may run at once, in two workers
    result = shell(f"(echo early; {marker}) & sleep 0.2; echo main", mode=mode)
    left = running(marker)
    assert left == [], "a background job outlived the command"
    assert result.splitlines()[:2] == ["early", "main"] and result.endswith("[exit code 0]"), result


@needs_bwrap
def test_a_sandboxed_command_stopped_at_its_time_limit_leaves_nothing_running(project):
    policy = sandbox.policy_for(load_settings({}))
    both_ran = []

    async def stopped() -> None:
        loop = asyncio.get_running_loop()

        async def once_both_run(limit: asyncio.Timeout) -> None:
            await eventually_async(lambda: len(running("sleep 30.253")) >= 2, "both commands to run", 30)
            both_ran.append(True)
            limit.reschedule(loop.time())  # the time limit is up now

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(10) as limit:
                watch = asyncio.ensure_future(once_both_run(limit))
                await run_shell("sleep 30.253 & sleep 30.253", policy)
        watch.cancel()

    asyncio.run(stopped())
    assert both_ran, "the command's two processes never ran"
    # TERM, then KILL 2 s later, then the sandbox's namespace torn down: seconds on a machine busy with other tests
    eventually(lambda: running("sleep 30.253") == [], "the command's processes to end", 10)


@pytest.mark.e2e
def test_chat_returns_a_daemons_output_and_exits_cleanly(server, chat_env, tmp_path):
    """In the sandbox (where this machine has one) and without."""
    write_config(chat_env, "tool_timeout = 10\n")
    for mode in ("workspace", "off") if WHY_NOT is None else ("off",):
        server.clear()
        server.queue(tool_calls(("shell", {"command": "setsid sleep 30.254 & echo started"})), Reply("it started"))
        try:
            run = chat_process(chat_env, "--tools", "shell", "--yes", "--sandbox", mode, "start it", cwd=tmp_path)
        finally:
            for pid in running("sleep 30.254"):
                os.kill(pid, 9)
        assert run.code == 0 and run.out == "it started\n", (mode, run)
        result = tool_messages(server.requests[1])[0]["content"]
        assert result.startswith("started\n") and result.endswith("[exit code 0]"), (mode, result)
        for trouble in ("Traceback", "Exception ignored", "Event loop is closed"):
            assert trouble not in run.err, (mode, run)


@pytest.mark.parametrize("mode", ["workspace", "off"])
def test_the_users_api_key_is_not_in_a_commands_environment(project, monkeypatch, mode):
    if mode == "workspace" and WHY_NOT is not None:
        pytest.skip(f"no sandbox on this machine: {WHY_NOT}")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-SECRET-42")
    monkeypatch.setenv("SOME_TOOL_SETTING", "kept")
    result = shell('echo "key=[$OPENAI_API_KEY] other=[$SOME_TOOL_SETTING]"', mode=mode)
    assert result == "key=[] other=[kept]\n[exit code 0]", result


def test_a_commands_environment_drops_every_credential_shape_and_keeps_what_the_user_passes(monkeypatch):
    """The class, not a list: each credential word anywhere in a name, any value carrying a URL password."""
    words = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "Key", "token")
    names = [shape.format(w) for w in words for shape in ("{}", "MY_{}", "{}_FILE", "NPM_CONFIG__{}", "X{}Y")]
    urls = [
        "postgres://u:PASS@db/x", "mysql://root:PASS@127.0.0.1/x", "redis://:PASS@cache:6379", "https://u:PASS@git/x",
        "amqp://u:PASS@mq//", "postgresql://db/x?password=PASS", "mongodb+srv://u:PASS@c.example/db",
    ]  # fmt: skip
    plain = {"LANG": "C.UTF-8", "GIT_AUTHOR_NAME": "me", "KEYBOARD": "us", "PATH": os.environ["PATH"],
             "SERVICE_URL": "https://api.example/v1", "SOME_TOOL_SETTING": "kept"}  # fmt: skip
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name in names:
        monkeypatch.setenv(name, "hidden")
    for n, url in enumerate(urls):
        monkeypatch.setenv(f"DATABASE_URL_{n}", url)
    for name, value in plain.items():
        monkeypatch.setenv(name, value)
    given = builtin.command_environment()
    assert given == plain, sorted(set(given) - set(plain))
    # The user's config (shell_env) lets a name through; nothing else changes.
    passed = builtin.command_environment(("MY_TOKEN", "DATABASE_URL_0"))
    assert passed == {**plain, "MY_TOKEN": "hidden", "DATABASE_URL_0": urls[0]}
    policy = sandbox.policy_for(load_settings({"shell_env": "MY_TOKEN"}))
    assert policy.passed == ("MY_TOKEN",)


@needs_bwrap
@pytest.mark.parametrize("mode", ["workspace", "read-only"])
def test_a_sandboxed_command_cannot_read_the_mcp_servers_oauth_tokens(project, outside, monkeypatch, mode):
    """chat's data directory is readable from the sandbox (read-only), but not the tokens of `chat mcp login`."""
    from chatcli.paths import data_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(outside / "data"))  # outside /tmp, which the sandbox has its own of
    kept = data_dir() / "mcp-auth"
    kept.mkdir(mode=0o700, parents=True, exist_ok=True)
    (kept / "github.json").write_text('{"tokens": {"access_token": "gho_SECRET_TOKEN_0123"}}')
    (data_dir() / "other.txt").write_text("not a secret")
    result = shell(f"cat {kept}/github.json; cat {data_dir()}/other.txt", mode)
    assert "gho_SECRET_TOKEN_0123" not in result and "not a secret" in result, result  # the rest is still there
    assert shell(f"ls -A {kept}", mode).strip() == "[exit code 0]", "the directory is seen empty"

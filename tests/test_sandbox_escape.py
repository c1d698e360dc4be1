"""A sandboxed command cannot leave the sandbox through chat: not through its warm worker's socket
or any socket of the user's session, not with root's capabilities, not with chat's settings or a
provider's key taken from its environment.

Tried as a command the model wrote would: it runs ``chat`` itself with the worker on and an MCP
"server" of its own, lists the runtime directory, writes to chat's config and database, and, as
root, remounts / read-write. Everything the test keeps lives outside /tmp (under /var/tmp), so
what the sandbox hides is hidden by its masks, not by its private /tmp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from chatcli.config import load_settings
from chatcli.tools import builtin, sandbox
from chatcli.tools.builtin import run_shell
from tests.fakeserver import Reply, tool_calls
from tests.helpers import CHAT, chat_process
from tests.test_tools import tool_messages

WHY_NOT = sandbox.unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"no sandbox on this machine: {WHY_NOT}")
# The interpreter itself (not the virtual environment, which may lie under /tmp): standard library only, -I.
PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


@pytest.fixture
def place() -> Iterator[Path]:
    """A directory outside /tmp, open to every user (the sandbox runs as another user in one test)."""
    path = Path(tempfile.mkdtemp(prefix="chatcli-escape-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def shell(command: str, cwd: Path, environ: dict[str, str] | None = None, mode: str = "workspace") -> str:
    """Run ``command`` as the shell tool does, with ``environ`` as chat's environment."""
    saved = dict(os.environ)
    os.environ.update(environ or {})
    old = Path.cwd()
    try:
        os.chdir(cwd)
        policy = sandbox.policy_for(load_settings({"sandbox": mode}), os.environ)
        return asyncio.run(run_shell(command, policy))
    finally:
        os.chdir(old)
        os.environ.clear()
        os.environ.update(saved)


def listening(path: Path) -> socket.socket:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(1)
    return sock


def connect_command(path: Path) -> str:
    code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(path)!r}); print('CONNECTED')"
    return f'{PYTHON} -I -c "{code}" 2>&1 | tail -1'


# --------------------------------------------------------------------------- capabilities


CAPS = "grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status"
ESCAPE = "mount -o remount,rw / 2>&1; mount -t tmpfs none /mnt 2>&1; echo x > /etc/chatcli-escaped 2>&1; echo done"


@pytest.mark.skipif(os.getuid() != 0, reason="the root case needs root")
def test_as_root_the_sandbox_has_no_capabilities_and_cannot_remount(place):
    result = shell(f"{CAPS}; {ESCAPE}", place)
    caps = [line.split() for line in result.splitlines() if line.startswith("Cap")]
    assert len(caps) == 4 and all(value == "0000000000000000" for _, value in caps), result
    assert not Path("/etc/chatcli-escaped").exists(), "a sandboxed command wrote to the host's /etc"
    assert "Read-only file system" in result and "done" in result, result


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("setpriv"), reason="needs root to become another user")
def test_as_another_user_the_sandbox_has_no_capabilities_either(place):
    argv = sandbox.command_argv(f"{CAPS}; {ESCAPE}", sandbox.Policy(), place)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
        capture_output=True, text=True, cwd=place, timeout=30,
    )  # fmt: skip
    caps = [line.split() for line in done.stdout.splitlines() if line.startswith("Cap")]
    assert len(caps) == 4 and all(value == "0000000000000000" for _, value in caps), done
    assert not Path("/etc/chatcli-escaped").exists() and "done" in done.stdout, done


# --------------------------------------------------------------------------- sockets


@pytest.mark.parametrize("where", ["XDG_RUNTIME_DIR", "TMPDIR"])
def test_no_socket_of_the_users_session_is_reachable(place, where):
    runtime = place / "run"
    runtime.mkdir(mode=0o700)
    socket_path = (
        runtime / "chatcli" / "worker.sock"
        if where == "XDG_RUNTIME_DIR"
        else runtime / f"chatcli-{os.getuid()}" / "worker.sock"
    )
    environ = {where: str(runtime)}
    work = place / "work"
    work.mkdir()
    with listening(socket_path):
        outside = subprocess.run(["sh", "-c", connect_command(socket_path)], capture_output=True, text=True)
        assert outside.stdout.strip() == "CONNECTED", outside  # the test's socket does listen
        result = shell(
            f'ls -A "{socket_path.parent}" 2>/dev/null; echo listed; {connect_command(socket_path)}', work, environ
        )
    assert result.splitlines()[0] == "listed", f"the runtime directory is visible: {result}"
    assert "CONNECTED" not in result and "No such file or directory" in result, result


def test_the_worker_s_fallback_directories_are_all_hidden(place, monkeypatch):
    """Every place the worker may listen (chatcli.app.worker.client.runtime_dir) is hidden or private /tmp."""
    from chatcli.app.worker.client import runtime_dir

    private = place / "xdg"
    private.mkdir(mode=0o700)
    for environ in ({"XDG_RUNTIME_DIR": str(private)}, {"TMPDIR": str(place)}, {"XDG_RUNTIME_DIR": str(place)}, {}):
        directory = runtime_dir(environ)
        assert directory is not None
        hidden = sandbox.runtime_places(environ)
        assert directory.startswith("/tmp/") or any((directory + "/").startswith(h + "/") for h in hidden), (
            environ,
            directory,
            hidden,
        )


def test_the_mcp_host_listens_where_the_worker_does(place):
    """The MCP host's socket (chatcli.local.daemon.runtime_dir) is in the worker's directory: hidden as it is."""
    from chatcli.app.worker.client import runtime_dir as worker_dir
    from chatcli.local.daemon import runtime_dir

    private = place / "xdg2"
    private.mkdir(mode=0o700)
    for environ in ({"XDG_RUNTIME_DIR": str(private)}, {"TMPDIR": str(place)}, {"XDG_RUNTIME_DIR": str(place)}, {}):
        assert str(runtime_dir(environ)) == worker_dir(environ), environ


# --------------------------------------------------------------------------- the environment


SECRETS = {
    "CHATCLI_WORKER": "1",
    "CHATCLI_MCP_CONFIG": "/x/mcp.json",
    "CHATCLI_DB": "postgresql://me:pw@db/chat",
    "OPENAI_API_KEY": "sk-1",
    "OPENAI_BASE_URL": "http://gateway/v1",
    "ANTHROPIC_API_KEY": "sk-ant-2",
    "GOOGLE_API_KEY": "g-3",
    "GEMINI_API_KEY": "g-4",
    "MISTRAL_API_KEY": "m-5",
    "OPENROUTER_API_KEY": "or-6",
    "LANGSMITH_API_KEY": "ls-7",
    "GITHUB_TOKEN": "ghp-8",
    "AWS_SECRET_ACCESS_KEY": "aws-9",
    "AWS_SESSION_TOKEN": "aws-10",
    "PGPASSWORD": "pg-11",
    "my_service_password": "pw-12",
    "HF_TOKEN": "hf-13",
    "DATABASE_URL": "postgres://u:PASS-14@db.example/app",
    "NPM_CONFIG__AUTH": "npm-15",
    "DOCKER_AUTH_CONFIG": "docker-16",
    "GOOGLE_APPLICATION_CREDENTIALS": "/x/gcp-17.json",
}
KEPT = {"SOME_TOOL_SETTING": "kept", "OLLAMA_HOST": "127.0.0.1:11434", "LANG": "C.UTF-8", "KEYBOARD": "us"}


@pytest.mark.parametrize("mode", ["workspace", "off"])
def test_a_command_gets_no_chat_setting_and_no_credential(place, mode):
    result = shell("env", place, {**SECRETS, **KEPT}, mode=mode)
    seen = dict(line.split("=", 1) for line in result.splitlines() if "=" in line)
    assert not set(SECRETS) & set(seen), sorted(set(SECRETS) & set(seen))
    assert all(seen.get(k) == v for k, v in KEPT.items()), seen
    assert not any(builtin.withheld(k) for k in seen), seen


# --------------------------------------------------------------------------- chat run inside the sandbox


@pytest.mark.e2e
@pytest.mark.skipif(str(CHAT).startswith("/tmp/"), reason="the installed chat lies under /tmp: hidden in the sandbox")
def test_chat_run_inside_the_sandbox_reaches_neither_the_worker_nor_chats_files(server, chat_env, place):
    home, runtime, work = place / "home", place / "run", place / "work"
    runtime.mkdir(mode=0o700)
    work.mkdir()
    env = dict(
        chat_env,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_RUNTIME_DIR=str(runtime),
    )
    env.pop("CHATCLI_DB", None)  # the SQLite file under HOME: the database the command must not write
    config = home / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('system = "Be brief."\n')
    marker = place / "started-outside"
    (work / "evil.json").write_text(
        json.dumps({"mcpServers": {"evil": {"command": "sh", "args": ["-c", f"touch {marker}; sleep 5"]}}})
    )
    server.queue(Reply("warm"))
    warm = chat_process({**env, "CHATCLI_WORKER": "1"}, "-t", "w", "start the worker")
    assert warm.code == 0 and (runtime / "chatcli" / "worker.sock").is_socket(), warm
    from chatcli.app.worker.commands import control

    served = control("status", env)[1]["served"]
    db = home / ".local" / "share" / "chatcli" / "chat.db"
    command = (
        f"export CHATCLI_WORKER=1 CHATCLI_MCP_CONFIG=$PWD/evil.json OPENAI_API_KEY=sk-inner "
        f"OPENAI_BASE_URL={server.base_url}; {CHAT} -t inner hi; echo chat-exit=$?; "
        f'ls -A "$XDG_RUNTIME_DIR"; echo listed; echo x >> {config}; echo x >> {db}'
    )
    server.queue(tool_calls(("shell", {"command": command})), Reply("done"))
    try:
        run = chat_process(env, "--tools", "shell", "--yes", "-t", "outer", "go", cwd=work)
        assert run.code == 0, run
        result = tool_messages(server.requests[-1])[0]["content"]
        exit_line = next(line for line in result.splitlines() if line.startswith("chat-exit="))
        assert exit_line not in ("chat-exit=0", "chat-exit=127"), result  # chat ran, and could not answer
        assert result.split("listed")[0].splitlines()[-1] == exit_line, f"the runtime directory is visible: {result}"
        assert result.count("Read-only file system") == 2, result
        assert config.read_text() == 'system = "Be brief."\n'
        assert control("status", env)[1]["served"] == served, "the worker answered a call from inside the sandbox"
        assert not marker.exists(), "the sandbox's MCP server was started outside it"
        assert [r["messages"][-1]["content"] for r in server.requests[:1]] == ["start the worker"]
    finally:
        control("stop", env)


@pytest.mark.e2e
def test_a_chat_serve_socket_anywhere_is_not_reachable(chat_env, place):
    """`chat serve --socket PATH` outside the runtime directories: in the sandbox, nothing listens there."""
    sock = place / "api" / "serve.sock"
    sock.parent.mkdir()
    work = place / "work"
    work.mkdir()
    env = {k: v for k, v in chat_env.items() if k != "CHATCLI_WORKER"}
    server = subprocess.Popen([str(CHAT), "serve", "--socket", str(sock)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()  # said once it listens
        assert "listening on" in line, line
        outside = subprocess.run(["sh", "-c", connect_command(sock)], capture_output=True, text=True)
        assert outside.stdout.strip() == "CONNECTED", outside
        environ = {k: env[k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "HOME")}
        result = shell(connect_command(sock), work, environ)
        assert "CONNECTED" not in result and "ConnectionRefusedError" in result, result
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not list((Path(env["XDG_DATA_HOME"]) / "chatcli" / "listening").iterdir()), "the note outlived the server"


# --------------------------------------------------------------------------- chat's data, and what git runs by itself


def test_a_command_reaches_none_of_chats_data_and_plants_nothing_git_runs(place):
    """Chat's databases (the SQLite file; PostgreSQL's sockets: the host CHATCLI_DB names, $PGHOST's, the usual
    /run/postgresql, the test server's), the worker's and the MCP host's sockets, chat's config, mcp.json, cached
    listings and OAuth tokens, and every git repository under the working directory (top-level, nested, bare, and
    the ones the command makes): a command tries each, each is refused, and git run afterwards outside the sandbox
    runs nothing the command planted."""
    from chatcli.tools.mcp.link import host_socket
    from tests.stores import PG_DSN

    work = home = place / "home"  # chat run in HOME: its data directory lies in the working directory
    runtime, mark = place / "run", place / "git-ran-it"
    runtime.mkdir(mode=0o700)
    pg, pghost = place / "pg" / "postgresql", place / "pghost"
    environ = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "PGHOST": str(pghost),
        "CHATCLI_DB": f"postgresql:///chat?host={pg}",
    }
    sockets = [runtime / "chatcli" / "worker.sock", runtime / "chatcli" / host_socket(environ)]
    sockets += [pg / ".s.PGSQL.5432", pghost / ".s.PGSQL.5432"]
    if os.access("/run/postgresql", os.W_OK):  # as root: a socket where PostgreSQL's own live
        sockets.append(Path(f"/run/postgresql/.s.PGSQL.{59000 + os.getpid() % 1000}"))
    if PG_DSN:  # the test server, through its own socket
        import psycopg

        with psycopg.connect(PG_DSN) as conn:
            where = str(conn.execute("SHOW unix_socket_directories").fetchone()[0]).split(",")[0]
            sockets.append(Path(where) / f".s.PGSQL.{conn.info.port}")
    db, token = home / ".local/share/chatcli/chat.db", home / ".local/share/chatcli/mcp-auth/server.json"
    config, listing = home / ".config/chatcli/config.toml", home / ".cache/chatcli/mcp/server.json"
    for path, text in ((token, "{}"), (config, 'model = "mine"\n'), (listing, "{}")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sqlite3.connect(db).close()
    for repo, *bare in (["."], ["vendor/lib"], ["backup.git", "--bare"]):
        subprocess.run(["git", "init", "-q", *bare, str(work / repo)], check=True)
    plant = f"core.fsmonitor 'touch {mark}'"
    hook = f"printf '#!/bin/sh\\ntouch {mark}\\n' >"
    checks = [f"c {s}" for s in sockets] + [
        *(f"w {path}" for path in (db, config, config.with_name("mcp.json"), listing)),
        f"r {token}",
        *(f"w {repo}/config" for repo in (".git", "vendor/lib/.git", "backup.git")),
        "w vendor/lib/.git/hooks/post-checkout",
    ]
    makes = [
        f"git init -q made && git -C made config {plant}",
        f"git init -q hooked && {hook} hooked/.git/hooks/pre-commit && chmod +x hooked/.git/hooks/pre-commit",
        f"git init -q --bare made.git && git -C made.git config {plant}",
        f"git init -q vendor/lib/inner && git -C vendor/lib/inner config {plant}",
        "git init -q clean",  # what git init writes: nothing git runs
        # HEAD a link to a directory (git takes it), and a config that is a link out of the repository (clean now,
        # a later command would write it): a link's target is out of the check's sight.
        f"git init -q headlink && (cd headlink/.git && mkdir -p refs/heads/x && rm HEAD && ln -s refs/heads/x HEAD"
        f" && git config --file config {plant})",
        "git init -q linked && mv linked/.git/config linked.cfg && ln -s ../../linked.cfg linked/.git/config",
    ]
    helpers = (  # c: connect to a socket, w: append to a file, r: read one; each says which way it went
        f'c() {{ {PYTHON} -I -c "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])" "$1" '
        '2>/dev/null && echo "REACHED $1" || echo "refused $1"; }; '
        'w() { (echo x >> "$1") 2>/dev/null && echo "REACHED $1" || echo "refused $1"; }; '
        'r() { grep -q . "$1" 2>/dev/null && echo "REACHED $1" || echo "refused $1"; }'
    )
    with contextlib.ExitStack() as stack:
        for path in sockets[:-1] if PG_DSN else sockets:
            stack.enter_context(listening(path))
            stack.callback(path.unlink, missing_ok=True)
        for path in sockets:  # each one listens
            assert run_outside(connect_command(path)).stdout.strip() == "CONNECTED", path
        result = shell("; ".join([helpers, *checks, *makes, "echo done"]), work, environ)
    lines = result.splitlines()
    assert "REACHED" not in result and lines.count("done") == 1, result
    assert len([line for line in lines if line.startswith("refused ")]) == len(checks), result
    assert (
        db.read_bytes() == b""
        and config.read_text() == 'model = "mine"\n'
        and not config.with_name("mcp.json").exists()
    )
    assert "fsmonitor" not in (work / "vendor/lib/.git/config").read_text()
    off = lines[0]  # the line the user sees first and the model reads
    made = ("made/.git", "hooked/.git", "made.git", "inner/.git", "headlink/.git", "linked/.git")
    assert "switched off" in off and all(r in off for r in made), off
    assert "clean" not in off and (work / "clean" / ".git" / "HEAD").exists(), off
    git = "git -c user.name=t -c user.email=t@t"
    for repo in ("made", "hooked", "made.git", "vendor/lib/inner", "vendor/lib", "clean", "headlink"):  # git, later
        run_outside(f"{git} -C {work / repo} status; {git} -C {work / repo} commit -q --allow-empty -m x")
    assert not mark.exists(), "git ran what a sandboxed command planted"
    for repo in ("made", "hooked"):  # switched back on, each runs what was planted: the test can fail
        os.replace(work / repo / ".git" / "HEAD.sandboxed", work / repo / ".git" / "HEAD")
        run_outside(f"{git} -C {work / repo} status; {git} -C {work / repo} commit -q --allow-empty -m x")
        assert mark.exists(), f"what was planted in {repo} was not live"
        mark.unlink()


def run_outside(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)

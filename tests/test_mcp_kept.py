"""MCP servers kept across calls: one-shots with the warm worker share them (through the MCP host), and so do
``chat serve``'s requests; a server idle too long is stopped, one that died is started again; the host acts for
each caller, and a library upgraded retires it. ``MCP_DOORS`` are the one-shot doors to the MCP servers (tests/matrix.py's
``door`` fixture), for any test of a one-shot's servers (tests/test_mcp_asking.py, tests/test_mcp_oauth.py).

tests/mcp/bars.py adds a line (its pid) to the file ``BARS_STARTS`` names each time it starts.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import HANG, eventually
from tests.matrix import COLD_HOST, ColdHost, doors
from tests.test_mcp import write_servers
from tests.test_mcp_lazy import bars, results, started
from tests.test_serve import here  # noqa: F401 - a fixture
from tests.test_worker import chat, log, served, worker_env  # noqa: F401 - worker_env is a fixture

pytestmark = pytest.mark.e2e  # starts MCP servers, the worker and chat serve


def host_answer(env: dict[str, str], op: str) -> dict[str, Any] | None:
    """What the MCP host answers ``op`` ("status", "stop"); None when no host listens."""
    for path in (Path(env["XDG_RUNTIME_DIR"]) / "chatcli").glob("mcp-*.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(path))
            except OSError:
                continue
            sock.sendall(json.dumps({"id": 0, "op": op}).encode() + b"\n")
            return json.loads(sock.makefile().readline())
    return None


@pytest.fixture
def kept_env(worker_env):  # noqa: F811
    """worker_env, the MCP host stopped at the end."""
    yield worker_env
    state = host_answer(worker_env, "stop")
    if state is not None:
        assert gone(state["pid"]), "the MCP host did not stop"


@pytest.fixture
def warm_env(kept_env):
    """The environment of the doors that want the worker (tests/matrix.py): kept_env, the MCP host stopped at the end."""
    return kept_env


# The one-shot's doors to its MCP servers: chat's own servers (``cold``: the worker off, ``chat`` in this process), the
# MCP host's from a process of its own (``cold-host``: the worker wanted but not up yet), the MCP host's from the warm
# worker's child (``worker``). A test of a one-shot's MCP servers is decorated with ``MCP_DOORS``.
MCP_DOORS = doors("cold", COLD_HOST, "worker")
# What the MCP host maps (a resource, a part of a result, a root) tested once through it: chat's own and the worker's.
HOST_DOORS = doors("cold", "worker")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def gone(pid: int, timeout: float = 15) -> bool:
    try:
        return eventually(lambda: not alive(pid), f"process {pid} to end", timeout)
    except AssertionError:
        return False


def pids(marks: Path) -> list[int]:
    return [int(line) for line in marks.read_text().split()] if marks.exists() else []


def test_one_shots_through_the_worker_share_one_server(server, kept_env, tmp_path):
    marks = tmp_path / "starts"
    write_servers(kept_env, {"bars": bars(marks)})
    for number in range(3):
        server.queue(tool_calls(("add", {"a": 40, "b": number})), Reply("added"))
        run = chat(kept_env, "--yes", f"add {number}")
        assert run.code == 0 and run.out == "added\n", (run, log(kept_env))
        assert results(server.requests[-1]) == [str(40 + number)]
    assert served(kept_env) >= 2  # the worker answered (the first one-shot may have started it)
    assert started(marks) == 1, "a one-shot through the worker started the server again"
    (kept,) = host_answer(kept_env, "status")["servers"]
    assert kept["name"] == "bars" and kept["state"] == "ready" and alive(pids(marks)[0])
    server.queue(Reply("plain"))
    assert chat(kept_env, "a plain question").code == 0
    assert started(marks) == 1


def test_a_server_that_died_in_the_host_is_started_again_by_the_next_one_shot(server, kept_env, tmp_path):
    marks = tmp_path / "starts"
    write_servers(kept_env, {"bars": bars(marks)})
    server.queue(tool_calls(("die", {})), Reply("it died"))
    died = chat(kept_env, "--yes", "stop it")
    assert died.code == 0 and results(server.requests[-1])[0].startswith("error:"), died
    said = [line for line in died.err.splitlines() if line.startswith("MCP server bars")]
    assert len(said) == 1 and "starts again" in said[0], died
    server.queue(tool_calls(("add", {"a": 2, "b": 40})), Reply("back"))
    again = chat(kept_env, "--yes", "add")
    assert again.code == 0 and results(server.requests[-1]) == ["42"], (again, log(kept_env))
    assert started(marks) == 2


def test_the_host_stops_an_idle_server_and_the_next_call_starts_it(server, kept_env, tmp_path):
    marks = tmp_path / "starts"
    env = dict(kept_env, CHATCLI_WORKER_IDLE="3")
    write_servers(env, {"bars": bars(marks)})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert chat(env, "--yes", "add").code == 0
    assert gone(pids(marks)[0], 30), "the idle server was not stopped"
    server.queue(tool_calls(("add", {"a": 2, "b": 2})), Reply("four"))
    run = chat(env, "--yes", "add again")
    assert run.code == 0 and results(server.requests[-1]) == ["4"], run
    assert started(marks) == 2


@doors(COLD_HOST, "worker")
def test_a_library_upgraded_retires_the_mcp_host_and_the_next_one_shot_has_a_new_one(server, door, tmp_path):
    """A package replaced under site-packages (as pip upgrades one): the host that kept the servers retires at
    once, and the next one-shot's call is served by a host started with the new files."""
    if isinstance(door, ColdHost):
        door.fresh()  # the library's files as a process starting reads them, not as a warm one read them
    site = tmp_path / "lib" / "site-packages"
    (site / "fakelib-1.0.dist-info").mkdir(parents=True)
    env = dict(door.env, PYTHONPATH=f"{door.env['PYTHONPATH']}{os.pathsep}{site}")
    marks = tmp_path / "starts"
    write_servers(env, {"bars": bars(marks)})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert door.run(env, "--yes", "add").code == 0
    old = host_answer(env, "status")["pid"]
    (site / "fakelib-1.0.dist-info").rename(site / "fakelib-1.1.dist-info")
    server.queue(tool_calls(("add", {"a": 2, "b": 2})), Reply("four"))
    run = door.run(env, "--yes", "add again")
    assert run.code == 0 and results(server.requests[-1]) == ["4"], run
    assert host_answer(env, "status")["pid"] != old
    assert gone(old), "the host of the old files did not leave"
    assert not alive(pids(marks)[0]) and alive(pids(marks)[-1])  # its server with it; the new host's runs


def test_chat_serve_keeps_a_server_stops_it_when_idle_starts_one_that_died_and_streams_progress(
    server,
    chat_env,
    here,  # noqa: F811 - the fixture
    tmp_path,
    monkeypatch,
):
    from chatcli.tools.toolbox import Toolbox

    # Idle servers are stopped only once the clock is let run, below: before, the two requests find their server
    # however long the machine takes between them (past the 5 s of idle, a slow machine's second request would
    # rightly start another).
    idle_clock, stop_idle = threading.Event(), Toolbox.stop_idle

    async def held(self: Toolbox, idle: float) -> None:
        if idle_clock.is_set():
            await stop_idle(self, idle)

    monkeypatch.setattr(Toolbox, "stop_idle", held)
    marks = tmp_path / "starts"
    write_servers(chat_env, {"bars": bars(marks)})
    served_ = here("--yes", env=dict(chat_env, CHATCLI_WORKER_IDLE="5"))
    for number in range(2):
        server.queue(tool_calls(("add", {"a": 40, "b": number})), Reply("added"))
        status, answer = served_.ask("kept", f"add {number}")
        assert status == 200 and answer["tool_calls"][0]["result"] == str(40 + number), answer
    assert started(marks) == 1  # one server for both requests
    idle_clock.set()
    assert gone(pids(marks)[0], 30), "the idle server was not stopped"
    server.queue(tool_calls(("die", {})), Reply("died"), tool_calls(("add", {"a": 1, "b": 2})), Reply("three"))
    status, answer = served_.ask("kept", "die")
    assert status == 200 and answer["tool_calls"][0]["result"].startswith("error:"), answer
    status, answer = served_.ask("kept", "add")
    assert status == 200 and answer["tool_calls"][0]["result"] == "3", answer
    assert started(marks) == 3  # started again after the idle stop, and after it died
    server.queue(tool_calls(("steps", {"count": 2})), Reply("stepped"))
    events = list(served_.events("/v1/threads/kept/messages", {"content": "step"}))
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["message"] for e in progress if e["message"]] == ["step 1 of 2", "step 2 of 2"], events
    assert {e["label"] for e in progress} == {"bars:steps"}
    kinds = [e["type"] for e in events]
    assert kinds.index("tool_call") < kinds.index("progress") < kinds.index("tool_result")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_another_user_gets_nothing_from_the_mcp_host(server, kept_env, tmp_path):
    write_servers(kept_env, {"bars": bars(tmp_path / "starts")})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert chat(kept_env, "--yes", "add").code == 0
    directory = Path(kept_env["XDG_RUNTIME_DIR"]) / "chatcli"
    (sock,) = directory.glob("mcp-*.sock")
    # As if the file modes let them in: the kernel's word on the peer's uid still keeps them out.
    for path, mode in ((directory.parent, 0o711), (directory, 0o711), (sock, 0o666)):
        os.chmod(path, mode)
    probe = (
        "import json, os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "print('connected as', os.getuid(), flush=True)\n"
        "try:\n"
        "    s.sendall(json.dumps({'id': 0, 'op': 'status'}).encode() + b'\\n')\n"
        "    print('reply', s.makefile().readline() or None)\n"
        "except OSError as exc:\n"
        "    print('reply None', exc)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", probe, str(sock)], capture_output=True, text=True, timeout=30)
    for path in (directory.parent, directory):
        os.chmod(path, 0o700)
    assert proc.stdout.startswith("connected as 65534\nreply None"), proc
    assert host_answer(kept_env, "status")["servers"][0]["state"] == "ready"  # still there for its user


def test_ctrl_c_on_a_one_shot_through_the_worker_cancels_the_call_at_the_kept_server(server, kept_env, tmp_path):
    import signal
    import subprocess

    from tests.test_mcp_calls import written
    from tests.test_worker import CHAT_HERE

    files = {name: tmp_path / name for name in ("starts", "calls", "cancels")}
    write_servers(
        kept_env,
        {"bars": bars(files["starts"], env={"BARS_CALLS": str(files["calls"]), "BARS_CANCELS": str(files["cancels"])})},
    )
    # The call would run HANG seconds: a server kept busy by it would not answer the next call before pytest's timeout.
    server.queue(tool_calls(("slow", {"seconds": HANG})))
    proc = subprocess.Popen([*CHAT_HERE, "--yes", "wait"], env=kept_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # A cold one-shot that starts the MCP host, which starts the server (the worker starting beside them): on a
        # busy machine, many seconds; waited for, not timed.
        assert written(files["calls"], 90) == [f"slow {HANG}"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130
    finally:
        proc.kill()
    assert written(files["cancels"], 60) == [f"slow {HANG}"]  # the host told the server, which stopped the call
    server.queue(tool_calls(("slow", {"seconds": 0.2})), Reply("quick"))
    run = chat(kept_env, "--yes", "a short wait")
    assert run.code == 0 and results(server.requests[-1]) == ["waited 0.2 s"], (run, log(kept_env))
    assert started(files["starts"]) == 1  # the same server, not kept busy by the cancelled call


def test_chat_worker_status_names_the_kept_servers_and_stop_stops_them(server, kept_env, tmp_path):
    marks = tmp_path / "starts"
    write_servers(kept_env, {"bars": bars(marks)})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert chat(kept_env, "--yes", "add").code == 0
    shown = chat(kept_env, "worker", "status")
    assert "MCP servers kept for one-shots" in shown.out and "bars (ready)" in shown.out, shown
    assert json.loads(chat(kept_env, "worker", "status", "--json").out)["mcp_servers"][0]["name"] == "bars"
    stopped = chat(kept_env, "worker", "stop")
    assert "stopped the MCP host" in stopped.err and "the 1 MCP server it kept" in stopped.err, stopped
    assert gone(pids(marks)[0]), "the kept server was left running"
    assert host_answer(kept_env, "status") is None


CONFINED = {
    "network namespace": ["unshare", "-n"],
    "nice": ["nice", "-n", "7"],
    "limits": ["prlimit", "--nofile=256:256"],
    "no_new_privs": ["setpriv", "--no-new-privs"],
}


def test_a_caller_confined_otherwise_gets_nothing_from_the_mcp_host(server, kept_env, tmp_path):
    """The host starts what a caller names, with the host's rights: only callers confined as it is may ask. Each way
    of being confined otherwise (those installed here) is tried against the one host."""
    import shutil
    import subprocess
    import sys

    confines = {name: argv for name, argv in CONFINED.items() if shutil.which(argv[0])}
    if not confines:
        pytest.skip("none of unshare, nice, prlimit, setpriv is installed")
    write_servers(kept_env, {"bars": bars(tmp_path / "starts")})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert chat(kept_env, "--yes", "add").code == 0
    (sock,) = (Path(kept_env["XDG_RUNTIME_DIR"]) / "chatcli").glob("mcp-*.sock")
    probe = (
        "import json, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "try:\n"
        "    s.sendall(json.dumps({'id': 0, 'op': 'status'}).encode() + b'\\n')\n"
        "    print('reply', s.makefile().readline().strip() or None)\n"
        "except OSError:\n"
        "    print('reply None')  # closed on at once\n"
    )
    same = subprocess.run([sys.executable, "-c", probe, str(sock)], capture_output=True, text=True, timeout=30)
    assert same.stdout.startswith('reply {"id": 0'), same  # confined as the host is: answered
    for name, confine in confines.items():
        other = subprocess.run([*confine, sys.executable, "-c", probe, str(sock)], capture_output=True, text=True,
                               timeout=30)  # fmt: skip
        assert other.stdout.strip() == "reply None", (name, other)


def test_a_caller_the_mcp_host_will_not_serve_runs_its_servers_itself(server, kept_env, tmp_path):
    """A one-shot confined otherwise (here at another nice level) is closed on by the host: its server runs
    for it alone, and its tool call is answered all the same."""
    import subprocess

    from tests.test_worker import CHAT_HERE

    marks = tmp_path / "starts"
    write_servers(kept_env, {"bars": bars(marks)})
    server.queue(tool_calls(("add", {"a": 1, "b": 1})), Reply("two"))
    assert chat(kept_env, "--yes", "add").code == 0 and started(marks) == 1  # the host's
    server.queue(tool_calls(("add", {"a": 2, "b": 2})), Reply("four"))
    done = subprocess.run(["nice", "-n", "7", *CHAT_HERE, "--yes", "add"], env=kept_env, capture_output=True,
                          text=True, timeout=90)  # fmt: skip
    assert done.returncode == 0 and done.stdout == "four\n", done
    assert results(server.requests[-1]) == ["4"] and "MCP server" not in done.stderr, done
    assert started(marks) == 2  # its own, for this run only

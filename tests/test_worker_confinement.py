"""The warm worker answers only a caller confined exactly as it is; any other runs the normal way, silently.

A child forked by the worker has the worker's namespaces, cgroups, limits, priorities,
credentials and security state, not the caller's. Each test runs ``chat`` confined otherwise
than the worker (by unshare, bwrap, setpriv, ulimit, nice, ...) once the worker has served a
call, and checks that the worker served no more, that nothing was said of it, and that the
answer had the caller's confinement: what a shell tool call reports, what it can reach or write.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from functools import partial
from pathlib import Path
from typing import Any, Callable

import pytest

from chatcli.tools.confinement import alike, describe
from tests.fakeserver import Reply, tool_calls
from tests.helpers import Run
from tests.matrix import Worker
from tests.test_worker import CHAT_HERE, chat, log, same, served, status, worker_env  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e  # every test here starts processes

ROOT_ONLY = pytest.mark.skipif(os.getuid() != 0, reason="needs root to confine a process so")


def run(env: dict[str, str], wrapper: list[str], *args: str, cwd: Path | None = None) -> Run:
    """``chat ARGS`` started through ``wrapper`` (a command that confines what it then runs)."""
    proc = subprocess.run([*wrapper, *CHAT_HERE, *args], env=env, capture_output=True, timeout=90, cwd=cwd)
    return Run(list(args), proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


class Started(dict[str, str]):
    """A warm environment, and how many calls its worker had served once this test's first one was answered."""

    served: int


@pytest.fixture
def env(warm_env):
    """The worker on (this test process's, tests/matrix.py), and running: it has served this test's first call (it is
    confined as this test's process is)."""
    Worker(warm_env).open()  # started and listening first: a chat that finds it still starting runs the normal way
    before = served(warm_env)
    assert chat(warm_env, "start it").code == 0 and served(warm_env) == before + 1, log(warm_env)
    started = Started(warm_env)
    started.served = before + 1
    return started


def plain(env: dict[str, str]) -> dict[str, str]:
    return dict(env, CHATCLI_WORKER="0")


def assert_normal_way(env: Started, got: Run) -> None:
    """The worker served nothing more, and said nothing of it."""
    assert served(env) == env.served, (got, log(env))
    assert "worker" not in got.err, got


def tool_result(server) -> str:
    """What the shell tool call's command printed, as chat sent it to the model."""
    return [m for m in server.requests[-1]["messages"] if m["role"] == "tool"][0]["content"]


NAMESPACES = [
    pytest.param(["--net"], id="net"),
    pytest.param(["--mount"], id="mnt"),
    pytest.param(["--ipc"], id="ipc"),
    pytest.param(["--uts"], id="uts"),
    pytest.param(["--pid", "--fork"], id="pid"),
    pytest.param(["--pid"], id="pid_for_children"),
    pytest.param(["--user", "--map-root-user"], id="user"),
    pytest.param(["--cgroup"], id="cgroup"),
    pytest.param(["--time", "--fork"], id="time"),
    pytest.param(["--time"], id="time_for_children"),
]


def a_caller_in_a_namespace_of_its_own_runs_the_normal_way(server: Any, env: Started, flags: list[str]) -> None:
    """Each namespace of its own is refused alike (test_the_kernel_shows_each_confinement_that_refuses_a_caller):
    these two, where chat cannot answer there (no network; no thread can start), end as without the worker."""
    got = run(env, ["unshare", *flags], "q")
    assert_normal_way(env, got)
    expected = run(plain(env), ["unshare", *flags], "q")
    assert same(got) == same(expected) and got.code in (4, 1), (got, expected)


LIMITS = [
    pytest.param("ulimit -n 100; exec", "ulimit -n", "100", id="open-files"),
    pytest.param("ulimit -f 123456; exec", "ulimit -f", "123456", id="file-size"),
    pytest.param("ulimit -S -s 4096; exec", "ulimit -s", "4096", id="stack-soft"),
    pytest.param("exec nice -n 15", "nice", "15", id="nice"),
    pytest.param("exec chrt --batch 0", "chrt -p $$", "SCHED_BATCH", id="scheduling-policy"),
    pytest.param("exec ionice -c 3", "ionice", "idle", id="io-priority"),
    pytest.param("exec choom -n 300 --", "cat /proc/self/oom_score_adj", "300", id="oom-score"),
    pytest.param("exec taskset -c 0", "grep Cpus_allowed_list /proc/self/status", "\t0\n", id="cpu-affinity"),
]


def a_caller_with_other_limits_or_priorities_runs_with_its_own(server: Any, env: Started) -> None:
    """Each limit or priority of its own is refused alike (test_the_kernel_shows_each_confinement_that_refuses_a_caller):
    a nice value, once through chat, whose tool call reports the caller's own."""
    setup, command, expected = "exec nice -n 15", "nice", "15"
    server.queue(tool_calls(("shell", {"command": command})), Reply("checked"))
    wrapper = ["sh", "-c", f'{setup} "$@"', "sh"]
    got = run(env, wrapper, "--tools", "shell", "--yes", "--sandbox", "off", "check")
    assert got.code == 0 and got.out == "checked\n", got
    assert_normal_way(env, got)
    assert expected in tool_result(server), tool_result(server)  # the caller's, not the worker's


def each_call_has_its_callers_umask(server: Any, env: Started) -> None:
    """The umask is set per call (the child takes the caller's, as the kernel reports it): served by the worker."""
    for mask, mode in (("077", "600"), ("022", "644"), ("027", "640")):
        server.queue(tool_calls(("shell", {"command": f"touch made-{mask}; stat -c %a made-{mask}"})), Reply("made"))
        got = run(env, ["sh", "-c", f'umask {mask}; exec "$@"', "sh"], "--tools", "shell", "--yes", "-t", mask, "q")
        assert got.code == 0 and tool_result(server).startswith(f"{mode}\n"), (got, tool_result(server))
    assert served(env) == env.served + 3


def a_caller_in_a_bubblewrap_sandbox_cannot_write_through_the_worker(server: Any, env: Started, network: bool) -> None:
    """``bwrap --ro-bind / /``: the whole file system read-only but chat's home; the tool cannot write outside it."""
    home = env["HOME"]
    wrapper = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", home, home, *(["--unshare-net"] * network)]
    # Outside /dev, which the sandbox mounts anew (writable, its own): the tests' folder may be in /dev/shm.
    outside = Path(tempfile.mkdtemp(prefix="escape-", dir="/var/tmp"))
    target = outside / "escaped"
    server.queue(tool_calls(("shell", {"command": f"touch {target}"})), Reply("tried"))
    try:
        got = run(env, wrapper, "--tools", "shell", "--yes", "--sandbox", "off", "write it")
        assert_normal_way(env, got)
        assert not target.exists()
    finally:
        shutil.rmtree(outside, ignore_errors=True)
    if network:
        expected = run(plain(env), wrapper, "--tools", "shell", "--yes", "--sandbox", "off", "write it")
        assert same(got) == same(expected) and got.code == 4, (got, expected)
    else:
        assert got.code == 0 and "Read-only file system" in tool_result(server), (got, tool_result(server))


SECCOMP = """
import ctypes, os, struct, sys
allow = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000))  # return SECCOMP_RET_ALLOW
program = ctypes.create_string_buffer(struct.pack("HP", 1, ctypes.addressof(allow)))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(22, 2, program, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    raise SystemExit(os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
"""

CREDENTIALS = [
    pytest.param(["setpriv", "--regid", "12345", "--clear-groups"], id="group-id"),
    pytest.param(["setpriv", "--groups", "12345"], id="supplementary-groups"),
    pytest.param(["setpriv", "--securebits", "+noroot", "--inh-caps", "-all"], id="capabilities"),
    pytest.param(["setpriv", "--inh-caps", "+net_raw"], id="inheritable-capabilities"),
    pytest.param(["setpriv", "--bounding-set", "-net_raw"], id="bounding-set"),
    pytest.param(["setpriv", "--no-new-privs"], id="no_new_privs"),
    pytest.param([sys.executable, "-c", SECCOMP], id="seccomp"),
]


def a_caller_with_other_credentials_or_security_runs_the_normal_way(server: Any, env: Started) -> None:
    """Each credential or security state of its own is refused alike
    (test_the_kernel_shows_each_confinement_that_refuses_a_caller): no_new_privs, once through chat."""
    got = run(env, ["setpriv", "--no-new-privs"], "q")
    assert got.code == 0 and got.out == "You said: q\n", got
    assert_normal_way(env, got)


def confined(wrapper: list[str], command: str = "true") -> tuple[str, dict[str, str] | None]:
    """What ``command`` printed under ``wrapper``, and the kernel's description of the confined process (a shell that
    then waits), as the worker reads a caller's."""
    proc = subprocess.Popen(
        [*wrapper, "sh", "-c", f"{command}; echo ready; exec sleep 60"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its group ends with it, a child an `unshare --fork` made too
    )
    try:
        assert proc.stdout is not None
        printed = "".join(iter(proc.stdout.readline, "ready\n"))  # confined and waiting once it says so
        return printed, describe(proc.pid, io=True)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_the_kernel_shows_each_confinement_that_refuses_a_caller():
    """Each namespace, limit, priority, credential and security state of its own shows in the caller's /proc, so
    the worker (confined as this test is) refuses it: chat answers the normal way, confined as it was started."""
    worker = describe(io=True)
    assert alike(worker, confined([])[1]), "a process confined as this one is served"
    shown: list[str] = []
    for setup, command, expected in (limit.values for limit in LIMITS):
        if "taskset" in setup and len(os.sched_getaffinity(0)) < 2:
            continue  # one CPU: nothing narrower to pin to
        printed, caller = confined(["sh", "-c", f'{setup} "$@"', "sh"], command)
        assert expected in printed, (setup, printed)  # what chat's tool call would report: the caller's own
        assert not alike(worker, caller), setup
        shown.append(setup)
    if os.getuid() == 0:
        for wrapper in [*(["unshare", *ns.values[0]] for ns in NAMESPACES), *(c.values[0] for c in CREDENTIALS)]:
            assert not alike(worker, confined(wrapper)[1]), wrapper
            shown.append(" ".join(wrapper))
    assert len(shown) >= len(LIMITS) - 1, shown


def _cgroup_base() -> Path | None:
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if (base / "cgroup.procs").exists() and os.access(base, os.W_OK):
            return base
    return None


def a_caller_in_another_cgroup_runs_the_normal_way(server: Any, env: Started) -> None:
    base = _cgroup_base()
    assert base is not None
    group = base / f"chatcli-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        got = run(env, ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"], "q")
    finally:
        group.rmdir()
    assert got.code == 0 and got.out == "You said: q\n", got
    assert_normal_way(env, got)


PROBE = """
import json, os, socket, sys
from chatcli.app.worker.client import FDS, build_id, receive, send
from chatcli.tools.confinement import describe
path, worker, lie = sys.argv[1], int(sys.argv[2]), sys.argv[3]
me = describe()
if lie == "the worker's namespaces":
    me.update({k: v for k, v in describe(worker).items() if k.startswith("ns ")})
elif lie == "another start":
    me["start"] = str(int(me["start"]) + 1)
elif lie == "another pid":
    me["pid"] = str(worker)
sock = socket.socket(socket.AF_UNIX)
sock.connect(path)
mine, its = socket.socketpair()
cwd = os.open(".", os.O_RDONLY)
header = {"build": build_id(), "argv": ["q"], "environ": dict(os.environ), "confinement": me, "idle": 600}
send(sock, header, [0, 1, 2, cwd, its.fileno()])
first = receive(sock)[0] or {}
print(json.dumps(first), flush=True)
if "pid" in first:
    print(json.dumps(receive(sock)[0]), flush=True)  # how the answer ended
"""


LIES = {
    "confined alike is served": ([], "nothing", 1),
    "lying about its namespaces": (["unshare", "--net"], "the worker's namespaces", 0),
    "other network": (["unshare", "--net"], "nothing", 0),
    "lying about its start": ([], "another start", 0),
    "lying about its pid": ([], "another pid", 0),
}


def the_worker_goes_by_the_kernels_word_not_the_callers(
    server: Any, env: Started, wrapper: list[str], lie: str, more: int
) -> None:
    """A caller that bypasses chat's own client and says it is confined as the worker is, is not believed."""
    path = os.path.join(env["XDG_RUNTIME_DIR"], "chatcli", "worker.sock")
    probe = [*wrapper, sys.executable, "-c", PROBE, path, str(status(env)["pid"]), lie]
    proc = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=60)
    first = json.loads(proc.stdout.splitlines()[0]) if proc.stdout else None
    if more:
        assert "pid" in first and "You said: q" in proc.stdout and '{"exit": 0}' in proc.stdout, proc
    else:
        assert first == {"refused": "confinement"}, proc
    assert served(env) == env.served + more


def test_a_caller_confined_otherwise_than_the_worker_runs_the_normal_way(server, env):
    """One warm worker, callers one after another: a caller in a namespace of its own (its own network; its own PID
    namespace for its children) runs the normal way; a caller with other limits or priorities runs with its own; each
    call has its caller's umask (served by the worker); a caller in a bubblewrap sandbox (with its own network or the
    host's) cannot write through the worker; a caller with other credentials or security runs the normal way; a caller
    in another cgroup runs the normal way; and the worker goes by the kernel's word, not the caller's (confined alike
    is served; lying about its namespaces, in another network, lying about its start or its PID is refused). The
    scenarios that confine a process so need root; the cgroup one a hierarchy this test may write to."""
    scenarios: dict[str, Callable[[], None]] = {
        "other limits or priorities": partial(a_caller_with_other_limits_or_priorities_runs_with_its_own, server, env),
        "the caller's umask": partial(each_call_has_its_callers_umask, server, env),
    }
    if os.getuid() == 0:
        for flags in (["--net"], ["--pid"]):
            name = f"a namespace of its own: unshare {' '.join(flags)}"
            scenarios[name] = partial(a_caller_in_a_namespace_of_its_own_runs_the_normal_way, server, env, flags)
        for network in (True, False):
            name = f"bubblewrap {'with its own network' if network else 'on the network'}"
            scenarios[name] = partial(
                a_caller_in_a_bubblewrap_sandbox_cannot_write_through_the_worker, server, env, network
            )
        scenarios["other credentials"] = partial(
            a_caller_with_other_credentials_or_security_runs_the_normal_way, server, env
        )
        for name, (wrapper, lie, more) in LIES.items():
            scenarios[f"the kernel's word: {name}"] = partial(
                the_worker_goes_by_the_kernels_word_not_the_callers, server, env, wrapper, lie, more
            )
    if _cgroup_base() is not None:
        scenarios["another cgroup"] = partial(a_caller_in_another_cgroup_runs_the_normal_way, server, env)
    for name, scenario in scenarios.items():
        server.clear()  # what a caller that could not reach the model left queued
        env.served = served(env)
        try:
            scenario()
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


FAKE_WORKER = """
import os, socket, sys
path = sys.argv[1]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path + ".fake")
listener.listen(1)
os.replace(path + ".fake", path)
print("listening", flush=True)
conn, _ = listener.accept()
conn.settimeout(30)
got = b""
try:
    while chunk := conn.recv(65536):
        got += chunk
except OSError:
    pass
print("received", len(got), flush=True)
"""


@ROOT_ONLY
def test_a_caller_hands_nothing_to_a_worker_confined_otherwise(server, worker_env):  # noqa: F811
    """Whatever listens on the worker's socket from another network namespace gets no streams, no environment."""
    from chatcli.app.worker.client import runtime_dir

    path = os.path.join(runtime_dir(worker_env), "worker.sock")
    fake = subprocess.Popen(
        ["unshare", "--net", sys.executable, "-c", FAKE_WORKER, path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout.readline() == "listening\n"
        listening = os.stat(path).st_ino
        got = chat(worker_env, "q")
        assert got.code == 0 and got.out == "You said: q\n" and "worker" not in got.err, got
        assert fake.stdout.readline() == "received 0\n"  # the connection closed without a byte
        assert os.stat(path).st_ino == listening  # not replaced: no worker was started in its place
    finally:
        fake.kill()
        fake.wait()

"""The warm worker answers a one-shot exactly as the command line does, and gets out of the way when it cannot.

Every run here starts this checkout's ``chat`` through its launcher (``python -m chatcli``, what
the ``chat`` script runs), with the worker's socket in a private directory of the test's own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

import pytest

from tests import matrix
from tests.fakeserver import FakeOpenAIServer, Fault, Reply
from tests.helpers import Run, eventually, stored, summary
from tests.helpers import chat as chat_here
from tests.providers import ROWS
from tests.test_reliability import db_of

pytestmark = pytest.mark.e2e  # every test here starts processes

ROOT = Path(__file__).resolve().parent.parent
CHAT_HERE = [sys.executable, "-m", "chatcli"]
WORDS = " ".join(f"w{i:02d}" for i in range(1, 81))
_IDS = re.compile(r"\b[0-9a-f]{8}\b")
_TIMES = re.compile(r'"(total_s|first_token_s)": [0-9.]+')

# chat_env with the worker on, its socket in a private directory of the test's own, stopped at the end: the worker
# door's environment (tests/matrix.py, where the fixture is), named here too for the modules that import it from here.
worker_env = matrix.worker_env


def control(command, env):
    from chatcli.app.worker.commands import control

    return control(command, env)[1]


def status(env):
    return control("status", env)


def served(env) -> int:
    state = status(env)
    return state["served"] if state else 0


def log(env) -> str:
    """The worker's log (its stderr), for a failure's message."""
    path = Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "worker.log"
    return path.read_text() if path.exists() else "(no worker log)"


def gone(pid: int, timeout: float = 10) -> bool:
    def ended() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        return eventually(ended, f"process {pid} to end", timeout)
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        return False


def chat(env, *args: str, stdin: bytes = b"", cwd: Path | None = None) -> Run:
    proc = subprocess.run([*CHAT_HERE, *args], env=env, input=stdin, capture_output=True, timeout=90, cwd=cwd)
    return Run(
        list(args), proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    )


def same(run: Run) -> tuple[int, str, str]:
    """What a user sees, thread ids and timings aside (each run starts its own thread)."""
    out = _TIMES.sub(r'"\1": S', _IDS.sub("ID", run.out))
    return run.code, out, _IDS.sub("ID", run.err)


# The worker's own mappings, each once: argv, stdin and stdout as descriptors; a refusal's exit code and stderr; an
# answer broken midway. What a one-shot answers is the command line's, tested in this process
# (tests/test_worker_unit.py, test_what_a_one_shot_answers_is_the_command_line_s).
PARITY = {
    "a question and stdin": (("sum this",), b"1 2 3\n", None),
    "a usage error": (("--json", "--jsonl", "q"), b"", None),
    "json cut mid-answer": (("--json", "q"), b"", Fault(cut_after=3)),
}


def the_worker_answers_as_the_command_line_does(
    server: Any, warm_env: dict[str, str], args: tuple[str, ...], stdin: bytes, fault: Fault | None
) -> None:
    before = served(warm_env)
    if fault:
        server.queue(fault)
    expected = chat_here(dict(warm_env, CHATCLI_WORKER="0"), *args, stdin=stdin)  # the normal way, in this process
    if fault:
        server.queue(fault)
    got = chat(warm_env, *args, stdin=stdin)
    assert served(warm_env) == before + 1, (got, log(warm_env))  # this one through the worker (started by it)
    assert same(got) == same(expected), f"{got}\n=== without the worker:\n{expected}"


def each_call_takes_its_own_environment_directory_and_dotenv(
    server: Any, warm_env: dict[str, str], tmp_path: Path
) -> None:
    before = served(warm_env)
    with FakeOpenAIServer() as other:
        moved = chat(
            dict(warm_env, OPENAI_BASE_URL=other.base_url, CHATCLI_MODEL="gpt-other", CHATCLI_SYSTEM="Be brief."),
            "two",
        )
        assert moved.code == 0 and other.requests[-1]["model"] == "gpt-other", moved
        assert other.requests[-1]["messages"][0] == {"role": "system", "content": "Be brief."}
    again = chat(warm_env, "and three")  # nothing of the call before is left
    assert again.code == 0 and server.requests[-1]["model"] == "gpt-fake"
    assert server.requests[-1]["messages"][0]["content"] != "Be brief."
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("CHATCLI_MODEL=gpt-dotenv\n")
    env = {k: v for k, v in warm_env.items() if k != "CHATCLI_MODEL"}
    here = chat(env, "four", cwd=project)
    assert here.code == 0 and server.requests[-1]["model"] == "gpt-dotenv", here
    assert served(warm_env) == before + 3


def each(scenarios: dict[str, Callable[[], None]]) -> None:
    """Run ``scenarios`` one after another; a failure says which scenario it was."""
    for name, scenario in scenarios.items():
        try:
            scenario()
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


def test_the_worker_answers_each_call_as_the_command_line_does_with_its_own_environment(server, warm_env, tmp_path):
    """Calls one after another to one worker: each is answered as the command line answers it (a question and stdin,
    a usage error, JSON cut mid-answer: argv, stdin and stdout as descriptors, a refusal's exit code and stderr, an
    answer broken midway), and each call takes its own environment, directory and .env."""
    scenarios: dict[str, Callable[[], None]] = {
        f"as the command line: {name}": partial(the_worker_answers_as_the_command_line_does, server, warm_env, *case)
        for name, case in PARITY.items()
    }
    scenarios["its own environment, directory and .env"] = partial(
        each_call_takes_its_own_environment_directory_and_dotenv, server, warm_env, tmp_path
    )
    each(scenarios)


def start_answer(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CHAT_HERE, *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )  # fmt: skip


def first_words(proc: subprocess.Popen, n: int = 10) -> bytes:
    got = b""
    while len(got) < n:
        piece = os.read(proc.stdout.fileno(), 4096)
        assert piece, "chat ended before answering"
        got += piece
    return got


def interrupted(server, env, sig: int, thread: str) -> tuple[int, list[str], list]:
    server.queue(Reply(WORDS, delay=0.05))
    proc = start_answer(env, "-t", thread, "count")
    shown = first_words(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    kept = summary(stored(db_of(env), thread))
    assert kept[1][1].strip() == (shown + out).decode().strip()  # what was shown is what is kept
    lines = [line for line in err.decode().splitlines() if not line.startswith("thread: ")]
    return proc.returncode, lines, [(kind, mark) for kind, _text, mark in kept]


SIGNALS = {"ctrl-c": (signal.SIGINT, "interrupted"), "term": (signal.SIGTERM, "terminated")}
SIGNALS["hup"] = (signal.SIGHUP, "hung up (the terminal closed)")


def a_signal_stops_the_answer_and_keeps_the_partial_as_without_the_worker(
    server: Any, warm_env: dict[str, str], sig: int, said: str
) -> None:
    """As chat started the normal way ends of each (tests/test_signals.py): the partial kept, one line on what ended
    it, the signal's exit code."""
    before = served(warm_env)
    got = interrupted(server, warm_env, sig, f"warm-{sig}")
    assert served(warm_env) == before + 1
    assert got == (
        128 + sig,
        ["stopped: the partial answer is kept in the thread", said],
        [("human", None), ("ai", "cancelled")],
    )


def answering_child(worker_pid: int) -> int:
    children = eventually(
        lambda: Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text().split(),
        "an answer running in the worker",
        10,
        interval=0.02,
    )
    return int(children[0])


def an_answer_killed_outright_kills_the_caller_with_the_same_signal(server: Any, warm_env: dict[str, str]) -> None:
    server.queue(Reply(WORDS, delay=0.05))
    proc = start_answer(warm_env, "count")
    first_words(proc)
    os.kill(answering_child(status(warm_env)["pid"]), signal.SIGKILL)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL  # as the shell shows a fresh chat killed so


def test_a_worker_killed_mid_answer_leaves_the_answer_s_own_end(server, worker_env):
    """The worker killed outright while its child answers: the answer goes on to its end, and the caller prints it
    whole and exits as the answer did (0), not as a lost worker."""
    chat(worker_env, "start it")
    server.queue(Reply(WORDS, delay=0.05))
    proc = start_answer(worker_env, "-t", "orphan", "count")
    shown = first_words(proc)
    os.kill(status(worker_env)["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and (shown + out).decode() == WORDS + "\n", err
    assert b"the worker stopped" not in err, err
    kept = summary(stored(db_of(worker_env), "orphan"))
    assert [(kind, mark) for kind, _text, mark in kept] == [("human", None), ("ai", None)]


def a_caller_that_dies_hangs_up_its_answer_which_is_kept(server: Any, warm_env: dict[str, str]) -> None:
    server.queue(Reply(WORDS, delay=0.05))
    proc = start_answer(warm_env, "-t", "orphan", "count")
    first_words(proc)
    proc.kill()
    proc.wait()
    eventually(lambda: not status(warm_env)["running"], "the worker to finish the orphaned answer")
    kept = summary(stored(db_of(warm_env), "orphan"))
    assert [(kind, mark) for kind, _text, mark in kept] == [("human", None), ("ai", "cancelled")]


def test_whatever_ends_an_answer_in_the_worker_ends_it_as_without_and_the_worker_goes_on(server, warm_env):
    """One worker, answers ended one after another: Ctrl-C, SIGTERM and SIGHUP to the caller stop the answer and keep
    the partial as without the worker; an answer killed outright kills the caller with the same signal; a caller that
    dies hangs up its answer, which is kept."""
    chat(warm_env, "start it")
    scenarios: dict[str, Callable[[], None]] = {
        f"a signal ({name})": partial(
            a_signal_stops_the_answer_and_keeps_the_partial_as_without_the_worker, server, warm_env, *sig
        )
        for name, sig in SIGNALS.items()
    }
    scenarios["an answer killed outright"] = partial(
        an_answer_killed_outright_kills_the_caller_with_the_same_signal, server, warm_env
    )
    scenarios["a caller that dies"] = partial(a_caller_that_dies_hangs_up_its_answer_which_is_kept, server, warm_env)
    each(scenarios)


def test_the_worker_exits_after_its_idle_time(server, worker_env):
    env = dict(worker_env, CHATCLI_WORKER_IDLE="1")
    assert chat(env, "q").code == 0
    pid = status(env)["pid"]
    assert gone(pid, timeout=15)
    assert not os.path.exists(Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "worker.sock")


STALE = """
import sys
sys.path.insert(0, {root!r})
import chatcli.app.worker.client as client
client.build_id = lambda: "chatcli 0.0.1 an older install"
from chatcli.app.worker.server import boot
boot()
"""


def test_a_worker_of_another_build_is_replaced(server, worker_env):
    from chatcli.app.worker.client import runtime_dir

    path = os.path.join(runtime_dir(worker_env), "worker.sock")
    subprocess.run(
        [sys.executable, "-c", STALE.format(root=str(ROOT)), path, "600"], env=worker_env, check=True, timeout=60
    )
    old = status(worker_env)
    assert old["build"] == "chatcli 0.0.1 an older install"
    run = chat(worker_env, "q")
    assert run.code == 0 and run.out == "You said: q\n", run
    new = status(worker_env)
    assert new["pid"] != old["pid"] and new["served"] == 1 and gone(old["pid"])


OLDER_CALLER = """
import json, os, socket, sys
from chatcli.app.worker.client import receive, send
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
send(sock, {"build": "chatcli 0.0.1 an older install", "argv": ["q"], "environ": {}, "umask": 18}, [0, 1, 2, 0])
print(json.dumps(receive(sock)[0]))
"""


def test_a_caller_of_another_build_retires_the_worker_whatever_descriptors_it_sends(server, worker_env):
    """An older chat (four descriptors, no word on its confinement) is told "stale": the worker makes way."""
    from chatcli.app.worker.client import runtime_dir

    chat(worker_env, "start it")
    pid = status(worker_env)["pid"]
    path = os.path.join(runtime_dir(worker_env), "worker.sock")
    probe = subprocess.run(
        [sys.executable, "-c", OLDER_CALLER, path], env=worker_env, capture_output=True, text=True, timeout=30
    )
    assert json.loads(probe.stdout) == {"refused": "stale"}, probe
    assert gone(pid)


def test_a_stale_socket_file_is_replaced(server, worker_env):
    from chatcli.app.worker.client import runtime_dir

    path = os.path.join(runtime_dir(worker_env), "worker.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: a worker that crashed
    run = chat(worker_env, "q")
    assert run.code == 0 and run.out == "You said: q\n" and served(worker_env) == 1, run


def test_what_the_worker_cannot_do_runs_the_normal_way(server, worker_env):
    listing = chat(worker_env, "rm", "nothing-here")
    assert listing.code == 2 and status(worker_env) is None  # a subcommand that writes starts no worker
    assert chat(worker_env, "q").code == 0 and served(worker_env) == 1
    assert chat(worker_env, "threads").code == 0 and served(worker_env) == 2  # one that reads, to a pipe: the worker
    assert chat(worker_env, "tree", "--remote", "http://127.0.0.1:9").code != 0 and served(worker_env) == 2
    other = chat(dict(worker_env, PYTHONWARNINGS="ignore"), "q2")  # Python would load differently
    assert other.code == 0 and other.out == "You said: q2\n" and served(worker_env) == 2, other


def test_a_one_shot_imports_nothing_more_in_the_worker_s_child(server, warm_env):
    """What a one-shot on a thread imports is loaded before the worker forks: its child runs the turn, and no import."""
    assert chat(warm_env, "-t", "T", "start it").code == 0  # the store and the thread made
    code = (
        "import sys\n"
        "from chatcli.app.worker.server import warm_up\n"
        "warm_up()\n"
        "before = set(sys.modules)\n"
        "from chatcli.app.worker.child import run_as_process\n"
        "assert run_as_process(['-t', 'T', 'q'], print) == 0\n"
        "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(set(sys.modules) - before)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=warm_env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("You said: q"), proc.stderr
    assert proc.stderr.rsplit("MODULES ", 1)[1].split() == []


def test_the_caller_imports_only_the_standard_library_when_the_worker_answers(server, warm_env):
    chat(warm_env, "start it")
    before = served(warm_env)
    code = (
        "import os, sys\n"
        "before, leave = set(sys.modules), os._exit  # the interpreter's own start (site hooks included)\n"
        "os._exit = lambda code: (sys.stderr.write('\\nMODULES ' + ' '.join(sorted(set(sys.modules) - before))"
        " + '\\n'), sys.stderr.flush(), leave(code))\n"
        "sys.argv = ['chat', 'q']\n"
        "from chatcli.app.launch import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=warm_env, capture_output=True, text=True, timeout=60)
    assert proc.stdout == "You said: q\n" and served(warm_env) == before + 1, proc.stderr
    modules = proc.stderr.rsplit("MODULES ", 1)[1].split()
    # What the caller speaks to the worker with: the interpreter's C modules (_socket, _signal, _json), none of the
    # standard library's Python modules that would cost a one-shot more than the rest of its work.
    heavy = set("enum re functools collections contextlib json socket signal selectors typing pathlib".split())
    assert not {m.split(".")[0] for m in modules} & heavy, " ".join(modules)
    assert set(modules) <= {
        "__future__",  # (a few attribute lookups: annotations stay text)
        "_json",  # the framing: json.dumps' and json.loads' own C halves (chatcli.local.daemon)
        "_socket",
        "errno",
        "gc",
        "select",  # the poll on the worker's socket and the job-control channel
        "chatcli",  # the package: a setting's yes or no (flag)
        "chatcli.app",
        "chatcli.app.flags",  # the command line's names and flags
        "chatcli.app.launch",
        "chatcli.app.worker",  # the package (a docstring), which its modules come with
        "chatcli.app.worker.client",
        "chatcli.app.worker.jobs",
        "chatcli.local",  # the package (a docstring), which chatcli.local.daemon comes with
        "chatcli.local.worker_settings",  # the worker's settings
        "chatcli.local.daemon",  # the daemons' framing, peer credentials and start lock
        "chatcli.local.runtime",  # the collector's rounds held back while chat starts (the gc module alone)
        "chatcli.tools",  # the package (a docstring), which chatcli.tools.confinement comes with
        "chatcli.tools.confinement",
    }, " ".join(modules)


def test_worker_status_and_stop(server, worker_env):
    run = chat(worker_env, "worker", "status", "--json")
    assert run.code == 0 and json.loads(run.out)["running"] is False, run
    chat(worker_env, "q")
    run = chat(worker_env, "worker", "status")
    assert run.code == 0 and "running: pid" in run.out and "exits in" in run.out, run
    pid = status(worker_env)["pid"]
    run = chat(worker_env, "worker", "stop")
    assert run.code == 0 and f"stopped the worker (pid {pid})" in run.err, run
    assert gone(pid) and status(worker_env) is None


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_another_user_gets_nothing_from_the_worker(server, worker_env):
    from chatcli.app.worker.client import runtime_dir

    chat(worker_env, "start it")
    directory = runtime_dir(worker_env)
    # As if the file modes let them in: the kernel's word on the peer's uid still keeps them out.
    for path, mode in ((worker_env["XDG_RUNTIME_DIR"], 0o711), (directory, 0o711), (f"{directory}/worker.sock", 0o666)):
        os.chmod(path, mode)
    probe = (
        "import os, socket, sys\n"
        "from chatcli.app.worker.client import receive, send\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "print('connected as', os.getuid(), flush=True)\n"
        "try:\n"
        "    send(s, {'control': 'status'})\n"
        "    print('reply', receive(s)[0])\n"
        "except OSError as exc:\n"
        "    print('reply None', exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, f"{directory}/worker.sock"],
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    for path in (worker_env["XDG_RUNTIME_DIR"], directory):
        os.chmod(path, 0o700)
    assert proc.stdout.startswith("connected as 65534\nreply None"), proc
    assert served(worker_env) == 1


def test_every_installed_provider_is_ready_in_the_worker(warm_env):
    """The worker builds each installed provider's model once as it starts: an `anthropic:`, `google_genai:` or
    `ollama:` one-shot is answered by it as warm as an OpenAI-compatible one (docs/PERFORMANCE.md, row 11)."""
    import importlib.util

    installed = [row for row in ROWS if not row.module or importlib.util.find_spec(row.module) is not None]
    assert installed, "no provider installed"
    for row in installed:
        with row.start() as fake:
            env = {k: v for k, v in warm_env.items() if not k.startswith("OPENAI_")}
            env.update(row.env(fake), CHATCLI_MODEL=row.model)
            before = served(env)
            run = chat(env, "hello there")
            assert run.code == 0 and run.out == "You said: hello there\n", (row, run, log(env))
            state = status(env)
            assert state["served"] == before + 1 and row.name in state["warm"], (row, state, log(env))


def test_by_default_the_first_one_shot_starts_the_worker_for_the_next_ones(server, worker_env):
    """No setting: the first one-shot runs the normal way (it never waits for a worker to start) and leaves one
    starting; once it listens, the next one-shots are its. CHATCLI_WORKER=0 keeps it off."""
    env = {k: v for k, v in worker_env.items() if k != "CHATCLI_WORKER"}
    off = chat({**env, "CHATCLI_WORKER": "0"}, "not yet")
    assert off.code == 0 and status(env) is None
    first = chat(env, "first")
    assert first.code == 0 and first.out == "You said: first\n", first
    eventually(lambda: status(env) is not None, "the worker to listen", timeout=60)
    assert status(env)["served"] == 0  # the first one ran the normal way
    second = chat(env, "second")
    assert second.code == 0 and second.out == "You said: second\n", second
    assert status(env)["served"] == 1, log(env)

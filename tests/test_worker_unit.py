"""The warm worker's launcher decides in-process and cheaply: which runs go to the worker, and its settings."""

from __future__ import annotations

import os
import stat

import pytest

from chatcli.app import launch
from chatcli.app.worker.client import runtime_dir
from chatcli.config import load_settings
from chatcli.local.worker_settings import DEFAULT_IDLE, worker_config
from tests.fakeserver import Fault
from tests.helpers import chat


@pytest.mark.parametrize(
    "argv, terminal, expected",
    [
        (["what is 2+2"], True, True),  # a question
        ([], False, True),  # piped stdin
        (["--json", "-t", "abc", "q"], True, True),
        (["-m", "threads", "q"], True, True),  # a valued option's value is not a command
        (["--", "threads"], True, True),  # after --, a question even if it is a command name
        ([], True, False),  # the prompt
        (["-t", "abc"], True, False),  # the prompt on a thread
        (["-m", "gpt"], True, False),
        (["threads"], False, False),  # subcommands
        (["-t", "x", "show", "x"], True, False),
        (["worker", "status"], True, False),
        (["--help"], False, False),
        (["--version"], False, False),
        (["--local", "q"], True, False),
        (["--local-model=x.gguf", "q"], True, False),
        (["--install-completion"], True, False),
    ],
)
def test_only_one_shots_go_to_the_worker(argv, terminal, expected):
    assert launch.is_one_shot(argv, terminal) is expected


@pytest.mark.parametrize(
    "argv, to_a_pipe, expected",
    [
        (["tree", "abc", "--json"], True, True),  # a script's: no pager, the worker's warm store
        (["threads"], True, True),
        (["--db", "x.db", "show", "abc"], True, True),
        (["tree", "abc"], False, False),  # on a terminal it may page, and a pager needs the terminal
        (["threads"], False, False),
        (["tree", "abc", "--remote", "http://127.0.0.1:1"], True, False),  # a flag the worker leaves alone
        (["show", "--graph", "app.py:graph", "abc"], True, False),
        (["export", "abc"], True, False),  # writes files: the normal way
        (["rm", "abc"], True, False),
        (["tree", "threads"], True, True),  # a thread named as a command is the command's argument
    ],
)
def test_a_script_s_reading_commands_go_to_the_worker(argv, to_a_pipe, expected):
    assert launch.is_one_shot(argv, True, stdout_is_terminal=not to_a_pipe) is expected


def write_config(home, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_worker_is_on_unless_turned_off_and_the_environment_beats_config_toml(isolated_env):
    from chatcli.local.worker_settings import worker_mode

    environ = {"HOME": str(isolated_env), "XDG_CONFIG_HOME": str(isolated_env / ".config")}
    assert worker_config(environ) == (True, DEFAULT_IDLE) and worker_mode(environ)[0] == "default"
    write_config(isolated_env, 'model = "m"\nworker = false\nworker_idle = 30\n')
    assert worker_config(environ) == (False, 30.0)
    assert worker_mode({**environ, "CHATCLI_WORKER": "1"})[0] == "on"  # asked for: a one-shot waits for it
    assert worker_config({**environ, "CHATCLI_WORKER_IDLE": "5"}) == (False, 5.0)
    write_config(isolated_env, "worker = true\n")
    assert worker_mode(environ)[0] == "on"
    assert worker_config({**environ, "CHATCLI_WORKER": "0"})[0] is False
    write_config(isolated_env, "worker = [broken")  # the normal path reports a broken file
    assert worker_mode(environ)[0] == "default"
    assert worker_config({**environ, "CHATCLI_WORKER": "no"})[0] is False


def test_config_toml_may_hold_the_worker_settings(isolated_env):
    write_config(isolated_env, "worker = true\nworker_idle = 12.5\n")
    settings = load_settings({})
    assert settings.worker is True and settings.worker_idle == 12.5


def test_a_dotenv_cannot_change_the_worker(isolated_env, tmp_path, monkeypatch):
    from chatcli.local.worker_settings import worker_mode

    (tmp_path / ".env").write_text("CHATCLI_WORKER=1\nCHATCLI_WORKER_IDLE=99999\n")
    assert worker_mode(dict(os.environ)) == ("default", DEFAULT_IDLE)  # the launcher never reads a .env
    assert load_settings({}).worker is False  # nor do the settings: only a one-shot of the launcher's uses it
    (tmp_path / ".env").write_text("CHATCLI_WORKER=0\n")
    assert launch.wants_worker(["q"], dict(os.environ)) == ("default", DEFAULT_IDLE)


def test_the_runtime_directory_is_private_and_a_symlink_or_an_open_one_is_refused(tmp_path, capsys):
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    path = runtime_dir({"XDG_RUNTIME_DIR": str(base)})
    assert path == str(base / "chatcli") and stat.S_IMODE(os.lstat(path).st_mode) == 0o700
    os.rmdir(path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, base / "chatcli")
    assert runtime_dir({"XDG_RUNTIME_DIR": str(base)}) is None
    assert "not a private directory" in capsys.readouterr().err
    os.unlink(base / "chatcli")
    (base / "chatcli").mkdir(mode=0o755)
    os.chmod(base / "chatcli", 0o755)
    assert runtime_dir({"XDG_RUNTIME_DIR": str(base)}) is None


def test_a_runtime_directory_that_is_a_symlink_is_not_used(server, chat_env, tmp_path, capsys):
    """The launcher hands nothing over (the normal way answers, as the worker's other refusals do, tests/test_worker.py)
    and says why; nothing is made where the link points."""
    from chatcli.app.worker.client import hand_over

    env = dict(chat_env, CHATCLI_WORKER="1", XDG_RUNTIME_DIR=str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, tmp_path / "run" / "chatcli")
    assert hand_over(["q"], env, DEFAULT_IDLE) is None
    assert "not using the worker" in capsys.readouterr().err
    run = chat(env, "q")
    assert run.code == 0 and run.out == "You said: q\n", run
    assert os.listdir(elsewhere) == []


def test_a_runtime_dir_that_is_not_private_is_not_used(tmp_path):
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    os.chmod(shared_dir, 0o777)
    path = runtime_dir({"XDG_RUNTIME_DIR": str(shared_dir), "TMPDIR": str(tmp_path)})
    assert path == str(tmp_path / f"chatcli-{os.getuid()}")  # the private fallback, not the open directory


def test_the_worker_serves_a_caller_only_if_every_item_of_its_confinement_is_the_same():
    """Each item the kernel shows, and each the caller says of itself, refuses the call when it differs."""
    from chatcli.tools.confinement import describe, serves

    pid = os.getpid()
    worker, seen, said = describe(io=True), describe(pid, io=True), describe()
    assert serves(worker, seen, pid, said)
    assert {"ns net", "ns mnt", "ns user", "ns pid_for_children", "cgroup", "limits", "CapEff", "sched"} <= set(seen)
    for key in seen:  # the kernel's word on the caller differs from the worker's own
        assert not serves(worker, {**seen, key: seen[key] + "0"}, pid, said), key
    for key in said:  # or the caller says something else of itself than the kernel does
        assert not serves(worker, seen, pid, {**said, key: said[key] + "0"}), key
    assert not serves(worker, seen, pid + 1, said)
    assert not serves(worker, None, pid, said) and not serves(worker, seen, pid, None)


def test_the_peer_is_the_process_at_the_other_end_pinned_when_the_kernel_can(monkeypatch):
    """SO_PEERPIDFD names the peer and pins it; without it (an older kernel), SO_PEERCRED's pid and no pin."""
    import socket

    from chatcli.tools import confinement as worker_confinement
    from chatcli.tools.confinement import peer, still_there

    one, other = socket.socketpair()
    with one, other:
        pid, pidfd = peer(one)
        assert pid == os.getpid()
        if pidfd is not None:  # a kernel with SO_PEERPIDFD (6.5 and later)
            assert still_there(pid, pidfd) and not still_there(pid + 1, pidfd)
            os.close(pidfd)
        monkeypatch.setattr(worker_confinement, "SO_PEERPIDFD", None)
        assert peer(one) == (os.getpid(), None)


def test_a_peer_that_has_exited_is_no_longer_there():
    """What was read of /proc/PID is the peer's only while it lives: after its exit the pid may be another's."""
    import socket

    from chatcli.tools.confinement import peer, still_there

    listener = socket.socket(socket.AF_UNIX)
    listener.bind(f"\0chatcli-test-{os.getpid()}")
    listener.listen(1)
    child = os.fork()
    if child == 0:
        socket.socket(socket.AF_UNIX).connect(f"\0chatcli-test-{os.getppid()}")
        os._exit(0)
    conn, _ = listener.accept()
    with listener, conn:
        pid, pidfd = peer(conn)
        if pidfd is None:
            pytest.skip("no SO_PEERPIDFD here (Linux before 6.5)")
        os.waitpid(child, 0)
        assert pid == child and not still_there(pid, pidfd)
        os.close(pidfd)


ONE_SHOTS = [
    pytest.param(("what is up",), b"", None, 0, "You said: what is up\n", "", id="question"),
    pytest.param((), b"a piped question\n", None, 0, "You said: a piped question\n", "", id="stdin"),
    pytest.param(("--json", "explain"), b"", None, 0, '"reply": "You said: explain"', "", id="json"),
    pytest.param(("--jsonl", "stream it"), b"", None, 0, '{"type": "token", "text": "You"}\n', "", id="jsonl"),
    pytest.param(("-t", "bad id!", "q"), b"", None, 2, "", "invalid thread id 'bad id!'", id="bad-thread-id"),
    pytest.param(("q",), b"\xff\xfe not text", None, 2, "", "stdin is neither valid UTF-8", id="bad-stdin"),
    pytest.param(("q",), b"", Fault(status=500), 4, "", "(500)", id="server-500"),
]


@pytest.mark.parametrize("args, stdin, fault, code, out, err", ONE_SHOTS)
def test_what_a_one_shot_answers_is_the_command_line_s(server, chat_env, args, stdin, fault, code, out, err):
    """What the worker carries, decided by the command line alone: the worker answers each the same way
    (tests/test_worker.py keeps one process a mapping: descriptors, a refusal, an answer broken midway)."""
    if fault:
        server.queue(fault)
    run = chat(chat_env, *args, stdin=stdin)
    assert run.code == code and out in run.out and err in run.err, run
    if code:
        assert run.err.splitlines()[-1].startswith("chat: error: "), run  # one line, the exit code says the kind
    else:
        assert run.err.startswith("thread: ") or args[0].startswith("--json"), run


def test_what_the_caller_writes_is_what_json_writes_and_reads_back_whole():
    import json
    import socket

    from chatcli.local.daemon import frame, receive, send

    # An environment as os.environ holds it: undecodable bytes are lone surrogates (surrogateescape).
    hostile = ['say "hi"\\', "\x00\x1b[2J\r\n\t\x7f\u2028", "héllo 漢字 😀", os.fsdecode(b"\xff\xfe\xc3"), "\ud800"]
    message = {"argv": hostile, "environ": dict.fromkeys(hostile, "\udcff"), "idle": 0.25, "n": -(10**20), "ok": None}
    assert frame(message) == json.dumps(message).encode() + b"\n" and json.loads(frame(message)) == message
    one, other = socket.socketpair()
    reading, writing = os.pipe()
    with one, other:
        send(one, message, [reading, writing])
        got, fds = receive(other, max_fds=6)
        assert got == message and [os.fstat(fd).st_ino for fd in fds] == [os.fstat(reading).st_ino] * 2
        for fd in (reading, writing, *fds):
            os.close(fd)
        for line in (b"\n", b'{"a": 1} {}\n', b'{"a": \n', b"\xff\n"):  # none of them a message: an error, said
            one.sendall(line)
            with pytest.raises(ValueError):
                receive(other)


def test_a_message_that_is_not_one_json_object_is_an_error_and_its_descriptors_are_closed():
    """A peer's bad line (not JSON, not UTF-8, too deep, not an object) must not leave its descriptors open in the
    worker, nor stop it with an error other than ValueError."""
    import socket

    from chatcli.local.daemon import receive

    reading, writing = os.pipe()
    one, other = socket.socketpair()
    with one, other:
        for line in (b"{bad\n", b"\xff\n", b"[" * 100_000 + b"\n", b"[1, 2]\n", b"5\n", b'"control"\n'):
            one.sendmsg([line], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, reading.to_bytes(4, "little") * 3)])
            open_before = set(os.listdir("/proc/self/fd"))
            with pytest.raises(ValueError):
                receive(other, max_fds=7)
            assert set(os.listdir("/proc/self/fd")) <= open_before, line[:10]
    os.close(reading)
    os.close(writing)


def test_the_build_a_daemon_serves_is_of_the_whole_package():
    """An edit anywhere in chat's code (not only beside the module that reads the build) retires a worker or host."""
    import chatcli
    from chatcli.local.daemon import build_id

    assert os.path.dirname(os.path.abspath(chatcli.__file__)) in build_id().split()


def test_the_worker_s_warm_up_turn_answers_in_a_home_of_its_own_and_leaves_nothing(isolated_env, monkeypatch):
    """The warm-up answers one question the way a one-shot does (its own server on loopback, a home of its own),
    then leaves no file, no thread and nothing in the user's database: the user's threads are theirs alone."""
    import threading

    from chatcli.app import cli
    from chatcli.app.worker.server import warm_turn

    said: list[tuple[int, str]] = []
    run = cli.main
    monkeypatch.setattr(
        cli, "main", lambda argv, env: said.append((code := run(argv, env), env.stdout.getvalue())) or code
    )
    home, threads, before = isolated_env, threading.active_count(), sorted(isolated_env.rglob("*"))
    warm_turn()
    assert said == [(0, "thread: warm-up\nok\n")]
    assert threading.active_count() == threads and sorted(home.rglob("*")) == before


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_warm_up_turn_stopped_short_still_puts_back_the_environment_and_its_thread(isolated_env, monkeypatch, stop):
    """The worker's own environment comes back and its loopback server ends even when the turn ends by an exception
    no Exception catches: else every call after is refused (a thread) and answered in a home that is gone."""
    import threading

    from chatcli.app import cli
    from chatcli.app.worker.server import warm_turn

    def stopped(argv: list[str], env: object) -> int:
        raise stop()

    monkeypatch.setattr(cli, "main", stopped)
    environ, threads = dict(os.environ), threading.active_count()
    with pytest.raises(stop):
        warm_turn()
    assert dict(os.environ) == environ and threading.active_count() == threads

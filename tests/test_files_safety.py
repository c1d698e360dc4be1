"""Files that are not files, and files that are not the project's: ``-a`` and the files tool refuse a
FIFO or a device at once, and pre-approving ``files`` covers the working directory only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import assert_one_error_line, chat, chat_process
from tests.test_tools import refused_lines, tool_messages, write_config

SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-for-the-model"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a notes file, and a link in it to ~/.ssh (which holds a key)."""
    ssh = Path(os.environ["HOME"]) / ".ssh"
    ssh.mkdir()
    (ssh / "id_ed25519").write_text(SECRET)
    work = tmp_path / "project"
    work.mkdir()
    (work / "notes.txt").write_text("the notes say 7\n")
    (work / "keys").symlink_to(ssh)
    monkeypatch.chdir(work)
    return work


# --------------------------------------------------------------------------- not a regular file


@pytest.mark.parametrize("kind, says", [("fifo", "a FIFO (named pipe)"), ("device", "a character device")])
def test_attaching_a_fifo_or_a_device_is_refused_at_once(server, chat_env, tmp_path, kind, says):
    # Either would never end if chat read it: nobody writes to the FIFO (opening it to read waits forever), and
    # /dev/zero read whole fills the memory. That chat returns at all is the proof (or pytest's timeout fails here).
    target = "/dev/zero"
    if kind == "fifo":
        target = str(tmp_path / "pipe")
        os.mkfifo(target)
    run = chat(chat_env, "-a", target, "what is in it?")
    line = assert_one_error_line(run, 2)
    assert line == f"chat: error: cannot attach {target}: it is {says}, not a regular file (nothing was sent)"
    assert server.requests == []


@pytest.mark.e2e
def test_read_file_on_a_fifo_is_an_error_result_and_chat_exits(server, chat_env, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    server.queue(
        tool_calls(("read_file", {"path": "pipe"}), ("read_file", {"path": "/dev/zero"})), Reply("could not read")
    )
    # Opening the FIFO to read would wait forever and /dev/zero has no end: that chat exits at all is the proof (a
    # chat that waited is ended by chat_process's own timeout, naming the command).
    run = chat_process(chat_env, "--tools", "files", "--yes", "read them", cwd=tmp_path)
    assert run.code == 0 and run.out == "could not read\n", run
    fifo, device = (m["content"] for m in tool_messages(server.requests[1]))
    assert fifo == f"error: {tmp_path / 'pipe'} is a FIFO (named pipe), not a regular file: not read"
    assert device == "error: /dev/zero is a character device, not a regular file: not read"


# --------------------------------------------------------------------------- pre-approval stops at the working directory


def test_approved_files_cover_paths_inside_the_working_directory_only(project):
    from chatcli.tools.toolbox import Toolbox

    box = Toolbox(builtin_groups=("files",), approve=("files",))
    read, listing = box.find("read_file"), box.find("list_directory")
    assert box.preapproved(read, {"path": "notes.txt"}) and box.preapproved(read, {"path": str(project / "notes.txt")})
    assert box.preapproved(listing, {}) and box.preapproved(listing, {"path": "."})
    outside = [str(Path(os.environ["HOME"]) / ".ssh" / "id_ed25519"), "keys/id_ed25519", "../project/keys", "..", "~"]
    for path in outside:
        assert not box.preapproved(read, {"path": path}) and not box.preapproved(listing, {"path": path}), path
    assert not box.preapproved(read, None)  # arguments unknown: asked
    box.allow(read)  # "always" at the question
    assert box.preapproved(read, {"path": "notes.txt"}) and not box.preapproved(read, {"path": "keys/id_ed25519"})
    everything = Toolbox(builtin_groups=("files",), approve_all=True)  # --yes: the user asked for every call
    assert everything.preapproved(everything.find("read_file"), {"path": "keys/id_ed25519"})


def test_an_approved_files_tool_does_not_read_through_a_link_out_of_the_working_directory(server, chat_env, project):
    write_config(chat_env, 'approve = ["files"]\n')
    server.queue(
        tool_calls(("read_file", {"path": "keys/id_ed25519"}), ("list_directory", {"path": "~/.ssh"})),
        Reply("I could not."),
    )
    run = chat(chat_env, "--tools", "files", "read the key")
    assert run.code == 0 and run.out == "I could not.\n", run
    assert SECRET not in str(server.requests[1]) and "id_ed25519" not in tool_messages(server.requests[1])[1]["content"]
    assert len(refused_lines(run.err)) == 2, run


def test_an_approved_files_tool_reads_in_the_working_directory_without_asking(server, chat_env, project):
    write_config(chat_env, 'approve = ["files"]\n')
    server.queue(tool_calls(("read_file", {"path": "notes.txt"})), Reply("seven"))
    run = chat(chat_env, "--tools", "files", "read the notes")
    assert run.code == 0 and not refused_lines(run.err), run
    assert tool_messages(server.requests[1])[0]["content"] == "the notes say 7\n"


def runtime_line() -> int:
    """The line of runtime_dir's one mkdir."""
    import inspect

    from chatcli.local.daemon import runtime_dir

    lines, start = inspect.getsourcelines(runtime_dir)
    return start + next(i for i, line in enumerate(lines) if "os.mkdir(" in line)


def test_every_directory_chat_makes_is_the_users_alone_at_every_level():
    """``mkdir(parents=True)`` gives its mode to the last level only (``files/`` under a new data directory was
    0755): every directory chat makes goes through chatcli.paths.private_dir, which makes each missing level 0700,
    and the code holds no other way to make one but the sockets' (chatcli.local.daemon.runtime_dir: one level, 0700,
    in the system's runtime or temporary directory, refused unless it is the user's alone and no link)."""
    import ast
    import tempfile

    from chatcli.paths import private_dir
    from tests.codebase import PACKAGE, parsed

    made = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("mkdir", "makedirs"):
                made.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert [where for where in made if not where.startswith("paths.py:")] == [
        "local/daemon.py:" + str(runtime_line())
    ], made
    with tempfile.TemporaryDirectory() as scratch:
        old = os.umask(0o022)
        try:
            private_dir(Path(scratch) / "data" / "chatcli" / "files" / "t1")
            private_dir(Path(scratch) / "data" / "chatcli" / "jobs")  # beside what exists, nothing else changed
        finally:
            os.umask(old)
        levels = [p for p in Path(scratch).rglob("*")]
        assert len(levels) == 5 and {oct(p.stat().st_mode & 0o777) for p in levels} == {"0o700"}, levels

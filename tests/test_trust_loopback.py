"""Loopback is shared: an endpoint an untrusted .env names on this machine may be another user's listener.

A cloned repository's .env may point chat at "a server on this machine" (``OPENAI_BASE_URL=http://127.0.0.1:PORT``),
but on a shared machine any local user may be the one listening there. Before a thread goes to such an endpoint,
chat asks the kernel who owns the listening socket; another user's is refused in one line naming the uid, and
nothing is sent. The user's own settings (the environment, a trusted .env) may name any endpoint.

The other user is a process that became ``nobody`` before it opened its socket (the kernel notes the socket's
owner as it is made), so these run where the tests run as root. Every provider's endpoint variable, every form of
a loopback address, and both one-shot doors (the process itself, and through the warm worker: tests/matrix.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatcli.providers import provider
from tests.helpers import chat, eventually
from tests.matrix import ONE_SHOT, doors
from tests.providers import ROWS

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")

NOBODY = 65534
SECRET = "my bank PIN is 4711"

# A listener that is another user's: it becomes nobody, then listens; it prints its port, then the size of
# everything each connection sent it (a line a connection), and answers nothing.
LISTENER = """
import os, socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
os.setgroups([]); os.setgid(65534); os.setuid(65534)
server = socket.socket(family, socket.SOCK_STREAM)
server.bind((sys.argv[1], 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    conn.settimeout(2)
    got = 0
    try:
        while piece := conn.recv(65536):
            got += len(piece)
    except OSError:
        pass
    conn.close()
    print(got, flush=True)
"""


class Stranger:
    """Another user's listener on ``bind``: its port, and what it was sent."""

    def __init__(self, bind: str):
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", LISTENER, bind], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.received: list[int] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.received.append(int(line))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


# How a .env writes an address on this machine, and where the stranger listens for it.
FORMS = {
    "127.0.0.1": ("127.0.0.1", "127.0.0.1"),
    "localhost": ("localhost", "127.0.0.1"),
    "[::1]": ("[::1]", "::1"),
    "127.0.0.1, every address": ("127.0.0.1", "0.0.0.0"),
}


@pytest.fixture(params=list(FORMS))
def stranger(request: pytest.FixtureRequest) -> Iterator[tuple[str, Stranger]]:
    written, bind = FORMS[request.param]
    try:
        listening = Stranger(bind)
    except ValueError:
        pytest.skip(f"this machine cannot listen on {bind}")
    yield written, listening
    listening.stop()


def cloned(tmp_path: Path, row: Any, host: str, port: int) -> Path:
    """A repository whose .env points ``row``'s provider at ``host:port`` with a key of its own."""
    chosen = provider(row.name)
    path = "/v1" if row.name == "openai" else ""
    lines = [f"{chosen.url_var}=http://{host}:{port}{path}"]
    if chosen.key_var:
        lines.append(f"{chosen.key_var}=its-own-key-123")
    project = tmp_path / "cloned"
    project.mkdir()
    (project / ".env").write_text("\n".join(lines) + "\n")
    return project


def the_users_thread(env: dict[str, str]) -> None:
    """A thread that holds a secret, told to the user's own endpoint."""
    run = chat(env, "-t", "bank", SECRET)
    assert run.code == 0, run


def refused(run: Any, row: Any, stranger: Stranger) -> None:
    chosen = provider(row.name)
    assert run.code == 3, run  # a configuration error (docs/usage.md's exit codes)
    [line] = [line for line in run.err.splitlines() if not line.startswith("chat: note: ")]
    assert line.startswith("chat: error: ") and f"uid {NOBODY}" in line and chosen.url_var in line, run.err
    assert "another user of this machine" in line and "chat trust" in line
    assert sum(stranger.received) == 0, "the thread went to another user's listener"


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_a_dotenv_endpoint_where_another_user_listens_gets_nothing(chat_env, stranger, tmp_path, row):
    if row.module:
        pytest.importorskip(row.module)
    host, listening = stranger
    project = cloned(tmp_path, row, host, listening.port)
    env = {k: v for k, v in chat_env.items() if k != provider(row.name).url_var}
    if row.name == "openai":  # the thread the user had goes on with the model it has: none of it is sent
        the_users_thread(chat_env)
        refused(chat(env, "-t", "bank", "and what was it?", cwd=project), row, listening)
    refused(chat(env, "-m", row.model, SECRET, cwd=project), row, listening)
    listed = chat(env, "models", cwd=project)  # every provider set up: this one's failure is a line beside them
    assert f"uid {NOBODY}" in listed.err and "Traceback" not in listed.err, listed
    assert sum(listening.received) == 0, "the model list was asked of another user's listener"


@doors(*ONE_SHOT)
def test_at_every_one_shot_door(door, tmp_path):
    """The thread going on at each one-shot door (tests/matrix.py): a process of its own, and through the worker."""
    row = ROWS[0]
    listening = Stranger("127.0.0.1")
    try:
        env = {k: v for k, v in door.env.items() if k != "OPENAI_BASE_URL"}
        the_users_thread(dict(door.env, CHATCLI_WORKER="0"))
        project = cloned(tmp_path, row, "127.0.0.1", listening.port)
        before = door.mark()
        run = door.run(env, "-t", "bank", "and what was it?", cwd=project)
        door.went(before)  # at the worker door, the run was the worker's
        refused(run, row, listening)
    finally:
        listening.stop()


@pytest.mark.slow  # two requests that wait out a listener that never answers
def test_the_users_own_choice_goes_where_it_says(chat_env, tmp_path):
    """The environment, or a .env the user trusts, may name any endpoint: the request goes there."""
    listening = Stranger("127.0.0.1")
    try:
        row = ROWS[0]
        project = cloned(tmp_path, row, "127.0.0.1", listening.port)
        assert chat(chat_env, "trust", cwd=project).code == 0
        env = {k: v for k, v in chat_env.items() if k != "OPENAI_BASE_URL"}
        run = chat({**env, "CHATCLI_TIMEOUT": "3"}, "hi", cwd=project)
        assert run.code != 0 and "another user" not in run.err, run  # it went, and nobody answered
        went = eventually(lambda: [n for n in listening.received if n > 0], "a trusted .env's endpoint to be asked")
        own = chat(
            {**chat_env, "OPENAI_BASE_URL": f"http://127.0.0.1:{listening.port}/v1", "CHATCLI_TIMEOUT": "3"}, "hi"
        )
        assert own.code != 0 and "another user" not in own.err, own
        eventually(lambda: len([n for n in listening.received if n > 0]) > len(went), "the environment's endpoint")
    finally:
        listening.stop()


def test_who_listens_is_read_for_every_family(tmp_path):
    """/proc/net/tcp and tcp6 as Linux writes them: the owners of the sockets listening where a connection goes."""
    from chatcli.local.sockets import listener_uids

    v4, v6 = tmp_path / "tcp", tmp_path / "tcp6"
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    v4.write_text(
        head
        + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1\n"
        + "   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 2 1\n"
        + "   2: 0100007F:1F92 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1002        0 3 1\n"
    )
    v6.write_text(
        head
        + "   0: 00000000000000000000000001000000:1F93 00000000000000000000000000000000:0000 0A 0:0 0:0 0  1003 0 4\n"
        + "   1: 00000000000000000000000000000000:1F94 00000000000000000000000000000000:0000 0A 0:0 0:0 0  1004 0 5\n"
    )
    tables = (str(v4), str(v6))
    assert listener_uids("127.0.0.1", 0x1F90, tables) == {1000}
    assert listener_uids("127.0.0.2", 0x1F90, tables) == set()  # another address: another listener
    assert listener_uids("127.0.0.1", 0x1F91, tables) == {1001}  # 0.0.0.0 takes loopback too
    assert listener_uids("::1", 0x1F91, tables) == set()  # but not IPv6
    assert listener_uids("127.0.0.1", 0x1F92, tables) == set()  # a connection, not a listener
    assert listener_uids("::1", 0x1F93, tables) == {1003}
    assert listener_uids("::1", 0x1F94, tables) == {1004} and listener_uids("127.0.0.1", 0x1F94, tables) == {1004}
    assert listener_uids("127.0.0.1", 0x1F90, (str(tmp_path / "none"),)) is None
    assert json.dumps(sorted(listener_uids("127.0.0.1", 1, tables) or [])) == "[]"

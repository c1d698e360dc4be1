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

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from chatcli.providers import provider
from tests.helpers import Repl, chat, eventually
from tests.matrix import DOORS, ONE_SHOT, backends, doors
from tests.providers import ROWS

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")

NOBODY = 65534
PROBE = 7919  # the bytes the test's own connection sends (Stranger.connections)
SECRET = "my bank PIN is 4711"

# A listener that is another user's: it becomes nobody, then listens; it prints its port, then the size of
# everything each connection sent it (a line a connection), and answers nothing.
LISTENER = """
import os, socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
os.setgroups([]); os.setgid(65534); os.setuid(65534)
server = socket.socket(family, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
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

    def __init__(self, bind: str, port: int = 0):
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", LISTENER, bind, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        said = self.process.stdout.readline()
        if not said.strip():  # it could not listen: the port is taken (by a local Ollama, say), or the family absent
            why = self.process.stderr.read().strip().splitlines()[-1:] or ["no word"]
            pytest.skip(f"another user cannot listen on {bind}:{port} here ({why[0]}): this test needs to")
        self.port = int(said)
        self.received: list[int] = []
        self.probes: set[int] = set()  # which of them were the test's own (``connections``)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.received.append(int(line))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def connections(self) -> list[int]:
        """What each connection made to it so far sent, every one of them: a connection of the test's own (PROBE
        bytes, a size no other sends) is accepted after any earlier one, so once it is counted the earlier are too."""
        import socket

        from chatcli.local import loopback

        host = "::1" if self.process.args[-2] == "::1" else "127.0.0.1"  # type: ignore[index]
        before = len(self.received)
        with (
            loopback.Allowed([f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"]),
            socket.create_connection((host, self.port), timeout=5) as probe,
        ):
            probe.sendall(b"!" * PROBE)

        def counted() -> int | None:
            return next((i for i in range(before, len(self.received)) if self.received[i] == PROBE), None)

        eventually(lambda: counted() is not None, "the listener to count the test's own connection")
        self.probes.add(counted())  # type: ignore[arg-type]
        return [sent for i, sent in enumerate(self.received) if i not in self.probes]


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
    listening = Stranger(bind)
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


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0", "::1", "::"])
def test_the_kernels_two_tables_tell_the_same_owners(bind):
    """chat asks the kernel over netlink (sock_diag, what ``ss`` uses: microseconds), and reads /proc/net/tcp where
    it cannot (milliseconds, every socket written out): both name the same owner for another user's listener on
    every kind of address and for each end of a connection to it, and nobody where nothing listens."""
    import socket

    from chatcli.local import loopback
    from chatcli.local.sockets import PROC_TABLES, _asked, listener_uids, peer_uid

    if _asked(1 << 10, 0) is None:
        pytest.skip("netlink's sock_diag cannot be asked here")
    stranger = Stranger(bind)
    try:
        for host in ("127.0.0.1", "::1"):
            by_netlink, by_text = (
                listener_uids(host, stranger.port),
                listener_uids(host, stranger.port, PROC_TABLES),
            )
            assert by_netlink == by_text, (host, by_netlink, by_text)
        reaching = "::1" if ":" in bind else "127.0.0.1"
        assert listener_uids(reaching, stranger.port) == {NOBODY}
        with (
            loopback.Allowed([f"[{reaching}]:{stranger.port}" if ":" in bind else f"{reaching}:{stranger.port}"]),
            socket.create_connection((reaching, stranger.port)) as mine,
        ):
            ours = mine.getsockname()[:2]
            assert peer_uid(ours, stranger.port) == peer_uid(ours, stranger.port, PROC_TABLES) == os.getuid()
            assert peer_uid((ours[0], ours[1] + 1 or 1), stranger.port) == -1  # not a connection: nobody
    finally:
        stranger.stop()
    from tests.remote_server import free_port

    nothing = free_port()
    assert listener_uids("127.0.0.1", nothing) == listener_uids("127.0.0.1", nothing, PROC_TABLES) == set()


# --------------------------------------------------------------------------- at the connection, whatever chose it


@contextlib.contextmanager
def stranger_at(port: int) -> Iterator[Stranger]:
    """Another user listening on 127.0.0.1:``port`` (a provider's default), one test at a time on this machine."""
    import fcntl

    with open(os.path.join(tempfile.gettempdir(), f"chatcli-tests-port-{port}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listening = Stranger("127.0.0.1", port)
        try:
            yield listening
        finally:
            listening.stop()


def connectors(host: str, port: int) -> dict[str, Callable[[], object]]:
    """Every way chat, a graph it loads or a library of either opens a TCP connection, on every event loop chat may
    run on (asyncio's, and uvloop's, which connects inside libuv where no audit event is raised): each sends a
    request if it gets one."""
    import asyncio
    import socket
    import urllib.request

    import aiohttp
    import httpx
    import requests
    import uvloop

    url = f"http://{host}:{port}/v1/models"

    async def streams() -> None:
        _reader, writer = await asyncio.open_connection(host.strip("[]"), port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        writer.close()

    async def with_httpx() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(url)

    async def with_aiohttp() -> None:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            await response.read()

    def with_socket() -> None:
        with socket.create_connection((host.strip("[]"), port), timeout=3) as connection:
            connection.sendall(b"hello")

    ways: dict[str, Callable[[], object]] = {
        "socket": with_socket,
        "httpx": lambda: httpx.get(url, timeout=3),
        "urllib": lambda: urllib.request.urlopen(url, timeout=3),
        "requests": lambda: requests.get(url, timeout=3),
    }
    for loop, run in (("asyncio", asyncio.run), ("uvloop", uvloop.run)):
        for stack, client in (("streams", streams), ("httpx", with_httpx), ("aiohttp", with_aiohttp)):
            ways[f"{stack} on {loop}"] = lambda run=run, client=client: run(client())  # type: ignore[misc]
    return ways


def test_every_connection_to_another_users_listener_is_refused_unless_the_user_named_it(stranger):
    """The guard is the connection itself: every library, every way of writing the address; the user's own word
    (an address their settings name) lets exactly that address through; a listener of this user's is theirs."""
    from chatcli.errors import ListenerRefused
    from chatcli.local import loopback

    written, listening = stranger
    ways = connectors(written, listening.port)  # uvloop imported: the guard covers its loop as it starts
    loopback.guard()
    for how, connect in ways.items():
        with pytest.raises(Exception) as refused:  # each library's own error, made of the refused connection
            connect()
        assert ListenerRefused.within(refused.value) is not None, (how, refused.value)
        assert f"uid {NOBODY}" in str(ListenerRefused.within(refused.value))
    assert listening.connections() == [], "a connection reached another user's listener"
    with loopback.Allowed([f"http://{written}:{listening.port + 1}"]), pytest.raises(ConnectionRefusedError):
        connectors(written, listening.port)["socket"]()  # another port
    with loopback.Allowed([f"http://{written}:{listening.port}/v1"]):
        connectors(written, listening.port)["socket"]()
    assert listening.connections() == [5], "the address the user named was not reached"
    with pytest.raises(ConnectionRefusedError):
        connectors(written, listening.port)["socket"]()  # the settings that named it are closed


def refused_in_a_fresh_process(stranger: tuple[str, Stranger], prepare: str, connect: str) -> None:
    """A new Python process runs ``prepare``, then ``connect`` (which may use HOST and PORT, the stranger's): the
    connection is refused as another user's listener, and nothing reaches it."""
    import subprocess

    written, listening = stranger
    script = (
        "import asyncio, socket, sys\nfrom chatcli.local import loopback, runtime\n"
        f"from chatcli.errors import ListenerRefused\nHOST, PORT = {written.strip('[]')!r}, {listening.port}\n"
        f"{prepare}\ntry:\n    {connect}\n    print('REACHED')\nexcept Exception as exc:\n"
        "    print('refused' if ListenerRefused.within(exc) else repr(exc))\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip() == "refused", ran
    assert listening.connections() == [], "a connection reached another user's listener"


def test_a_uvloop_imported_after_the_guard_is_covered_too(stranger):
    """A graph's node or a library may import uvloop at any time (anyio's ``use_uvloop``): its loop is checked from
    its import on, in a process that started guarding before it."""
    prepare = (
        "loopback.guard()\nassert 'uvloop' not in sys.modules\nimport uvloop\n"
        "async def go():\n    await asyncio.open_connection(HOST, PORT)"
    )
    refused_in_a_fresh_process(stranger, prepare, "uvloop.run(go())")


def test_a_runtime_reset_leaves_the_guard_on(stranger):
    """A process whose runtime is reset (a test's, between tests), before its first guard or after it, still
    guards: a reset forgets the addresses named, never the check."""
    prepare = "runtime.reset()\nloopback.guard()\nruntime.reset()"
    refused_in_a_fresh_process(stranger, prepare, "socket.create_connection((HOST, PORT), timeout=5)")


def test_a_listener_of_ones_own_is_never_refused():
    import socket

    from chatcli.local import loopback

    loopback.guard()
    with socket.create_server(("127.0.0.1", 0)) as own:
        socket.create_connection(own.getsockname()[:2], timeout=3).close()


async def test_an_address_a_chat_named_is_allowed_only_while_that_chat_is_open(settings):
    """Two Chats in one process (serve's, an editor's, a test's): the address one Chat's settings name reaches
    another user's listener while that Chat is open, and is refused again once it closes, the other still open."""
    import socket
    from dataclasses import replace

    from chatcli.errors import ListenerRefused
    from chatcli.local import loopback
    from chatcli.service.chat import Chat

    listening = Stranger("127.0.0.1")
    try:
        loopback.guard()
        async with Chat(settings) as other:
            await other.open(tools=False)
            ollama = ("OLLAMA_HOST", f"http://127.0.0.1:{listening.port}")  # named, and asked for nothing here
            async with Chat(replace(settings, provider_env=(*settings.provider_env, ollama))) as naming:
                await naming.open(tools=False)
                socket.create_connection(("127.0.0.1", listening.port), timeout=3).close()
            with pytest.raises(ListenerRefused):
                socket.create_connection(("127.0.0.1", listening.port), timeout=3)
        assert listening.connections() == [0], "one connection, made while the Chat that named it was open"
    finally:
        listening.stop()


def ollama_thread(tmp_path: Path) -> Path:
    """A shared export of a thread answered by a model of Ollama's (its default address is 127.0.0.1:11434)."""
    export = {
        "format": "chatcli-thread", "version": 2, "title": "dinner", "model": "ollama:llama3", "system": None,
        "messages": [{"role": "user", "content": "what is for dinner?"}, {"role": "assistant", "content": "soup"}],
    }  # fmt: skip
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(export))
    return path


OLLAMA_PORT = 11434


def ways_to_ollama(chat_env: dict[str, str], tmp_path: Path) -> dict[str, Callable[[], Any]]:
    """Every way a run reaches Ollama's default address without the user naming it: a model flag, an untrusted
    .env's model, an imported thread's binding, the models an unnamed Ollama may list, a ranking of memories."""
    env = {k: v for k, v in chat_env.items() if k != "OLLAMA_HOST"}
    project = tmp_path / "cloned"
    project.mkdir()
    (project / ".env").write_text("CHATCLI_MODEL=ollama:llama3\n")

    def imported() -> Any:
        made = chat(env, "import", str(ollama_thread(tmp_path)))
        assert made.code == 0, made
        return chat(env, "-t", made.out.strip(), f"and for dessert? {SECRET}")

    return {
        "a model flag": lambda: chat(env, "-m", "ollama:llama3", SECRET),
        "an untrusted .env's model": lambda: chat(
            {k: v for k, v in env.items() if k != "CHATCLI_MODEL"}, SECRET, cwd=project
        ),
        "an imported thread": imported,
        "the model list": lambda: chat(env, "models"),
    }


@pytest.mark.parametrize("way", ["a model flag", "an untrusted .env's model", "an imported thread", "the model list"])
def test_ollamas_default_address_is_refused_when_another_user_listens_there(chat_env, tmp_path, way):
    pytest.importorskip("langchain_ollama")
    with stranger_at(OLLAMA_PORT) as listening:
        run = ways_to_ollama(chat_env, tmp_path)[way]()
        assert listening.connections() == [], f"{way}: a connection reached another user's listener"
    assert "Traceback" not in run.err, run
    if way == "the model list":  # a local Ollama nobody set up is passed over in silence: it is not one's own
        assert run.code == 0 and "11434" not in run.out, run
        return
    assert run.code == 3, run
    [line] = [line for line in run.err.splitlines() if not line.startswith("chat: note: ")]
    assert line.startswith("chat: error: ") and f"uid {NOBODY}" in line and "127.0.0.1:11434" in line, run.err
    assert "nothing is sent there" in line and "OLLAMA_HOST=" in line, line


def test_an_embedding_model_at_another_users_listener_is_refused(chat_env, tmp_path):
    """The memories are ranked by a model the user's config names, at its provider's default address: refused."""
    pytest.importorskip("langchain_ollama")
    from chatcli.backends.own.model import build_embeddings
    from chatcli.config import load_settings
    from chatcli.errors import ConfigError

    settings = load_settings({}, environ={k: v for k, v in chat_env.items() if k != "OLLAMA_HOST"}, cwd=tmp_path)
    with stranger_at(OLLAMA_PORT) as listening:
        with pytest.raises(ConfigError) as refused:
            build_embeddings(settings, "ollama:nomic-embed-text")
        assert listening.connections() == []
    assert f"uid {NOBODY}" in str(refused.value) and "OLLAMA_HOST=" in str(refused.value)


def test_the_users_own_ollama_host_reaches_it(chat_env, tmp_path):
    """Naming the address is the user's word: a system Ollama that runs as its own user is reached."""
    pytest.importorskip("langchain_ollama")
    with stranger_at(OLLAMA_PORT) as listening:
        env = {**chat_env, "OLLAMA_HOST": f"http://127.0.0.1:{OLLAMA_PORT}", "CHATCLI_TIMEOUT": "2"}
        run = chat(env, "-m", "ollama:llama3", "hi")
        assert "another user" not in run.err, run
        assert [n for n in listening.connections() if n > 0], "the address the user named was not reached"


@doors(*DOORS)
def test_an_imported_threads_model_reaches_no_other_users_listener_at_any_door(door, tmp_path):
    """A shared export of an Ollama thread, imported, then asked on at every door (the prompt, a one-shot cold and
    through the worker, chat serve, an editor's session): another user listens at Ollama's default address, and
    gets nothing: not the history, not the question, not a model list or a window probe."""
    pytest.importorskip("langchain_ollama")
    door.env.pop("OLLAMA_HOST", None)
    made = chat(dict(door.env, CHATCLI_WORKER="0"), "import", str(ollama_thread(tmp_path)))
    assert made.code == 0, made
    with stranger_at(OLLAMA_PORT) as listening:
        if door.name == "prompt":  # the thread's model is checked as the prompt opens on it: it does not open
            repl = Repl(["-t", made.out.strip()], door.env)
            code, said = repl.exit_code(), repl.text
        else:
            answer = door.ask(f"and for dessert? {SECRET}", thread=made.out.strip())
            code, said = answer.code, str(answer)
        assert listening.connections() == [], f"{door.name}: a connection reached another user's listener"
    assert code != 0 and f"uid {NOBODY}" in said and "OLLAMA_HOST=" in said, said
    assert "Traceback" not in said, said


OLLAMA_GRAPH = """
from langchain_ollama import ChatOllama
from langgraph.graph import START, MessagesState, StateGraph

model = ChatOllama(model="llama3")  # Ollama's default address: 127.0.0.1:11434


async def ask(state):
    return {"messages": [await model.ainvoke(state["messages"])]}


graph = StateGraph(MessagesState).add_node("ask", ask).add_edge(START, "ask").compile()
"""


@pytest.fixture
def graph_path(tmp_path: Path) -> str:
    """The graph the ``graph`` backend loads here: a developer's, asking Ollama at its default address."""
    (tmp_path / "ollagent.py").write_text(OLLAMA_GRAPH)
    return f"{tmp_path / 'ollagent.py'}:graph"


@backends("graph")
@doors("prompt", "cold", "serve", "serve+process", "acp", "acp+process")
def test_a_graphs_own_model_reaches_no_other_users_listener_at_any_door(door, monkeypatch):
    """A graph's own ChatOllama, at its default address where another user listens: the question goes nowhere at
    every door, whatever loop the door runs on (``chat serve`` as its users start it: uvicorn, uvloop installed)."""
    pytest.importorskip("langchain_ollama")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)  # the graph's client reads this process's, in-process
    door.env.pop("OLLAMA_HOST", None)
    with stranger_at(OLLAMA_PORT) as listening:
        answer = door.ask(f"what is for dinner? {SECRET}")
        assert listening.connections() == [], f"{door.name}: a connection reached another user's listener"
    line = door.failed(answer, 4)  # the model call failed (docs/usage.md's exit codes), one line at every door
    assert f"uid {NOBODY}" in line and "127.0.0.1:11434" in line and "nothing was sent" in line, line


@doors("prompt", "cold", "worker", "serve+process", "acp")
def test_an_authorization_server_at_another_users_listener_hears_nothing_at_any_door(door, backend):
    """An MCP server of the user's mcp.json signs in with its client's secret, no browser; its 401 names an
    authorization server where another user listens: no door sends it the secret, the metadata request or anything."""
    from tests.fakeserver import Reply
    from tests.test_mcp import write_servers
    from tests.test_mcp_oauth import _recording

    listening = Stranger("127.0.0.1")
    server, seen = _recording(f"http://127.0.0.1:{listening.port}", own_resource=True)
    try:
        oauth = {"clientId": "robot", "clientSecret": SECRET}
        url = f"http://127.0.0.1:{server.server_address[1]}/mcp"
        write_servers(door.env, {"pointing": {"url": url, "oauth": oauth}}).chmod(0o600)
        backend.model.queue(Reply("noted"))
        answer = door.ask("what tools do you have?")  # chat asks the server its tools before the model
        assert seen, "the MCP server was never asked"
        assert listening.connections() == [], f"{door.name}: a connection reached another user's listener"
        assert "Traceback" not in str(answer), answer
    finally:
        server.shutdown()
        listening.stop()


@pytest.mark.e2e  # a background reply is a process of its own
def test_a_background_reply_of_a_graph_reaches_no_other_users_listener(chat_env, graph_path, monkeypatch):
    """The same graph asked by ``chat --bg``: its job's process guards as every run does; the job fails in one
    line naming the listener's owner, and nothing reaches it."""
    import json

    from tests.helpers import eventually

    pytest.importorskip("langchain_ollama")
    env = {k: v for k, v in chat_env.items() if k != "OLLAMA_HOST"}
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    with stranger_at(OLLAMA_PORT) as listening:
        thread = chat(env, "--bg", "--graph", graph_path, f"what is for dinner? {SECRET}").out.strip()

        def ended() -> dict | None:
            jobs = json.loads(chat(env, "jobs", "--json").out)
            return next((j for j in jobs if j["thread_id"] == thread and j["state"] != "running"), None)

        job = eventually(ended, "the background reply to end", timeout=60)
        assert listening.connections() == [], "a background reply reached another user's listener"
    assert job["state"] == "failed" and f"uid {NOBODY}" in job["error"]["message"], job


class _Netlink:
    """A netlink socket whose dump of ``failing`` (a family) ends as the kernel ends a dump it could not make:
    ``NLMSG_DONE`` carrying -errno (no tcp_diag), or with no reply at all (``silent``: a timeout)."""

    real: Any = None
    failing = 0
    silent = False

    def __init__(self, *args: Any):
        self.args, self.family, self.inner = args, 0, None

    def __enter__(self) -> _Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.inner is not None:
            self.inner.close()

    def settimeout(self, value: float) -> None:
        self.timeout = value

    def sendall(self, data: bytes) -> None:
        self.family = data[16]
        if self.family != self.failing:
            self.inner = _Netlink.real(*self.args)
            self.inner.settimeout(self.timeout)
            self.inner.sendall(data)

    def recv(self, size: int) -> bytes:
        import socket
        import struct

        if self.inner is not None:
            return bytes(self.inner.recv(size))
        if self.silent:
            raise socket.timeout("timed out")
        return struct.pack("=IHHIIi", 20, 3, 2, 1, 0, -2)  # NLMSG_DONE, NLM_F_MULTI, -ENOENT


@pytest.mark.parametrize("how", ["no tcp_diag for IPv4", "no tcp_diag for IPv6", "IPv6 silent"])
def test_netlink_that_cannot_say_is_never_taken_for_nobody_listening(how, monkeypatch):
    """Whatever way netlink fails, for either family, chat reads the text tables: another user's listener is still
    found (a dual-stack one is listed as IPv6), never "nobody listens"."""
    import socket

    from chatcli.local import sockets

    stranger = Stranger("::")
    try:
        _Netlink.real, _Netlink.silent = socket.socket, how.endswith("silent")
        _Netlink.failing = socket.AF_INET6 if "IPv6" in how else socket.AF_INET

        def made(family: int = -1, *args: Any) -> Any:
            return _Netlink(family, *args) if family == socket.AF_NETLINK else _Netlink.real(family, *args)

        monkeypatch.setattr(sockets.socket, "socket", made)
        assert sockets.listener_uids("127.0.0.1", stranger.port) == {NOBODY}
        assert sockets.listener_uids("::1", stranger.port) == {NOBODY}
    finally:
        stranger.stop()

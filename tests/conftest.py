"""Shared fixtures: every test runs with its own HOME, XDG dirs and a clean environment.

The store's contract (tests/test_store_contract.py) and its concurrency run on SQLite and PostgreSQL; conversation
tests run on SQLite: see tests/stores.py (the ``stores`` mark and the ``storage`` fixture).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatcli.provider_table import PROVIDERS, sdk_credentials
from tests.fakeserver import FakeOpenAIServer, on_a_reused_port
from tests.providers import ROWS
from tests.stores import PG_DSN, SKIP_REASON, PgServer, Storage


def in_memory_temp() -> str | None:
    """Where the suite's temporary files go when ``TMPDIR`` does not say: a tmpfs (``/dev/shm``) with room, else None.

    Each test makes a home of its own, stores, sockets and its PostgreSQL databases: on a disk's file system that is
    the kernel's work at every file made and removed (a PostgreSQL database made from its template took 0.06-0.27 s
    of system CPU on this machine's ext4 while tests ran, 0.014 s in memory). What the tests assert does not depend on
    where the files are; a machine without /dev/shm, or a ``TMPDIR`` of the developer's, keeps its own.
    """
    if os.environ.get("TMPDIR") or not os.access("/dev/shm", os.W_OK):
        return None
    try:
        with open("/proc/mounts") as mounts:
            if not any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in mounts):
                return None
    except OSError:
        return None
    room = os.statvfs("/dev/shm")
    return "/dev/shm" if room.f_bavail * room.f_frsize > 4 * 1024**3 else None


_MEMORY = in_memory_temp()
if _MEMORY:  # before pytest makes its temporary folder, and for every process the tests start
    import tempfile

    os.environ["TMPDIR"] = _MEMORY
    tempfile.tempdir = None

# Every test module's fixtures: the test matrix's (``door``, ``backend``, ``provider_row``, ...: tests/matrix.py) and
# ``session``, chat's service over a fake model (tests/session.py).
pytest_plugins = ["tests.matrix", "tests.session"]

_OUR_VARS = ("CHATCLI_", "NO_COLOR", "XDG_")


def _ours(name: str) -> bool:
    """A variable no test inherits from the machine: chat's own, the XDG dirs, and every provider's (each named
    in its row of chatcli/provider_table.json: its key, its address, what its SDK reads, its prefixes)."""
    return (
        name.startswith(_OUR_VARS)
        or name in sdk_credentials()
        or any(name.startswith(row.prefixes) for row in PROVIDERS if row.prefixes)
    )


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a temp dir and drop any real keys or endpoints."""
    for name in list(os.environ):
        if _ours(name):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """What a run changes for the whole process put back after each test (chatcli.local.runtime.reset): every address
    named to the loopback guard (the guard itself stays on, as in a chat process), the import hook, the collector's
    start-up; nothing one test opened reaches the next."""
    yield
    from chatcli.local import runtime

    runtime.reset()


@pytest.fixture(autouse=True, scope="session")
def warm_jobs() -> None:
    """A background reply a test starts from this process (``chat --bg``, /bg, ``chat inbox answer``) is a process
    of its own forked from the warm process of chat (tests/mcp/warm.py), as the ones its warm ``chat`` processes start
    are: a process like the one chat starts, without its second of imports. (A test that answers them in this process
    takes ``jobs_here``.)"""
    from chatcli.service.jobs import LAUNCHER
    from tests.mcp.warm import job_launcher
    from tests.mcp_servers import warm_socket

    LAUNCHER.set(job_launcher(lambda: warm_socket("chat")))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests to completion in an event loop of their own."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", 'stores(*kinds): run the test once per store ("sqlite", "postgres"); see tests/stores.py'
    )
    from tests.mcp.legacy import MARK

    if not MARK.exists():  # the MCP SDK of the 2025 era, for its servers: installed with the tests, never by them
        raise pytest.UsageError("the tests' MCP servers of 2025 need their SDK: python tests/mcp/legacy.py installs it")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep what collection imported (the package, LangGraph, the providers' clients: some 400,000 objects that live
    as long as the worker) out of the cycle collector's rounds, and run its rounds less often: a pytest worker
    allocates in every test and spent about a tenth of its CPU walking the same objects again (as chat's own
    processes do not: chatcli.local.runtime)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 20, 100)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked ``stores(...)`` once per store (the closest mark wins). A run on PostgreSQL is marked
    ``e2e``: it needs a server besides the test, so the fast run is on SQLite, the default store, and the whole
    suite runs both."""
    mark = metafunc.definition.get_closest_marker("stores")
    if mark is not None and tuple(mark.args) != ("sqlite",) and "storage" in metafunc.fixturenames:
        kinds = [pytest.param(kind, marks=pytest.mark.e2e) if kind == "postgres" else kind for kind in mark.args]
        metafunc.parametrize("storage", kinds, indirect=True)


def _postgres_binaries() -> bool:
    """True where PostgreSQL's server programs are installed (on PATH, or Debian's /usr/lib/postgresql/N/bin)."""
    import glob
    import shutil

    return bool(shutil.which("initdb") and shutil.which("pg_ctl")) or bool(
        glob.glob("/usr/lib/postgresql/*/bin/initdb")
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    """The PostgreSQL server named by CHATCLI_TEST_PG; else, where PostgreSQL is installed, a throwaway one
    started for this test process (.ci/postgres, stopped at the end); else None."""
    import subprocess
    import tempfile

    dsn, started = PG_DSN, None
    if not dsn and _postgres_binaries():
        started = tempfile.mkdtemp(prefix="chatcli-pg-")
        script = Path(__file__).resolve().parent.parent / ".ci" / "postgres"
        done = subprocess.run([str(script), "start", started], capture_output=True, text=True, timeout=120)
        dsn = done.stdout.strip() if done.returncode == 0 else None
    if not dsn:
        yield None
        return
    server = PgServer(dsn)
    try:
        yield server
    finally:
        server.close()
        if started:
            subprocess.run([str(script), "stop", started], capture_output=True, timeout=60)


@pytest.fixture(autouse=True)
def storage(request: pytest.FixtureRequest, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Storage]:
    """The store this test runs against: SQLite (the default file) unless parametrized to PostgreSQL,
    which gets a fresh database of the test's own as CHATCLI_DB."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield Storage("sqlite")
        return
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip(SKIP_REASON)
    store = Storage.postgres(server)
    monkeypatch.setenv("CHATCLI_DB", store.url)
    yield store
    store.close()


@pytest.fixture
def server():
    """A fake OpenAI-compatible server on 127.0.0.1 for the length of the test (on the previous
    test's port when it is free: see ``on_a_reused_port``)."""
    with on_a_reused_port() as fake:
        yield fake


@pytest.fixture
def chat_env(server: FakeOpenAIServer, isolated_env: Path, storage: Storage) -> dict[str, str]:
    """Environment for running the installed ``chat`` against the fake server (and the test's store)."""
    env = {k: v for k, v in os.environ.items() if not _ours(k)}
    env.update(
        HOME=str(isolated_env),
        XDG_CONFIG_HOME=str(isolated_env / ".config"),
        XDG_DATA_HOME=str(isolated_env / ".local" / "share"),
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-test-SECRET-0123456789",
        CHATCLI_MODEL="gpt-fake",
        CHATCLI_TIMEOUT="5",
        CHATCLI_MAX_RETRIES="0",
        # The warm worker is on by default; a test's processes run the normal way unless the test is about the
        # worker (tests/test_worker.py turns it on): a worker left by each test would outlive it.
        CHATCLI_WORKER="0",
    )
    if storage.url:
        env["CHATCLI_DB"] = storage.url
    return env


# A public name for the fake server (``hosted``): .invalid is never resolved, so the name is reached
# through the proxy or not at all.
HOSTED_URL = "http://api.chatcli.invalid/v1"


@pytest.fixture
def hosted(server: FakeOpenAIServer, chat_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """chat_env with the fake server as a hosted endpoint: HOSTED_URL, reached through HTTP_PROXY (the
    fake server takes absolute-form requests), as a provider's own endpoint is (chatcli.backends.own.pricing)."""
    proxy = server.base_url.removesuffix("/v1")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)  # read by httpx in this process; the env below is a child's
    return {**chat_env, "OPENAI_BASE_URL": HOSTED_URL, "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": ""}


@pytest.fixture
def start(chat_env: dict[str, str]) -> Iterator[Any]:
    """Start ``chat`` in a pseudo-terminal with arguments (in ``env``, else ``chat_env``), once its prompt is up;
    killed at the end."""
    from tests.helpers import Repl

    started: list[Repl] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> Repl:
        repl = Repl(list(args), env if env is not None else chat_env)
        started.append(repl)
        repl.wait_prompt()
        return repl

    yield _start
    for repl in started:
        repl.kill()


@pytest.fixture
def settings(server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage: Storage) -> Any:
    """Settings for a conversation with the fake server, stored in a fresh database."""
    from chatcli.config import load_settings

    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("CHATCLI_MODEL", "gpt-fake")
    monkeypatch.setenv("CHATCLI_DB", storage.db(tmp_path / "chat.db"))
    monkeypatch.setenv("CHATCLI_MAX_RETRIES", "0")
    monkeypatch.setenv("CHATCLI_TIMEOUT", "5")
    return load_settings({})


@pytest.fixture(params=ROWS, ids=str)
def provider(request: pytest.FixtureRequest, chat_env: dict[str, str]) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """Every provider in turn (tests/providers.py ROWS): (row, its fake server speaking that provider's wire format,
    the environment that points chat at it and nowhere else). A provider whose package is not installed is skipped."""
    import importlib.util

    row = request.param
    if row.module and importlib.util.find_spec(row.module) is None:
        pytest.skip(f"{row.module} is not installed")
    with row.start() as fake:
        env = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}
        env.update(row.env(fake), CHATCLI_MODEL=row.model)
        yield row, fake, env

"""PostgreSQL as the store: schema set up on first use, processes starting together, failures
as one line without the password, linear storage, search identical to SQLite's, the turn lock.

What chat asks of any store runs on both in tests/test_store_contract.py; these are what only
PostgreSQL has. They need a server (CHATCLI_TEST_PG, see tests/stores.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

from tests.fakeserver import closed_port_url
from tests.helpers import CHAT, assert_one_error_line, chat, chat_process
from tests.mcp_servers import chat_argv
from tests.stores import SKIP_REASON, PgServer, message_rows
from tests.test_reliability import stored, summary

SECRET = "s3cret-Pa55"


@pytest.fixture
def pg(pg_server: PgServer | None) -> PgServer:
    if pg_server is None:
        pytest.skip(SKIP_REASON)
    return pg_server


@pytest.fixture
def empty_db(pg: PgServer) -> Iterator[str]:
    """A database chatcli has never seen (no tables at all)."""
    name = pg.create()
    yield pg.url(name)
    pg.drop(name)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


# --------------------------------------------------------------------------- schema


@pytest.mark.e2e  # a PostgreSQL server
def test_schema_is_set_up_on_first_use_reused_by_the_next_process_and_a_newer_one_refused(server, chat_env, empty_db):
    from chatcli.store.postgres.schema import MIGRATIONS

    chat_env["CHATCLI_DB"] = empty_db
    first = chat(chat_env, "-t", "zed", "my name is Zed")
    assert first.code == 0, first
    applied = query(empty_db, "SELECT name, applied_at FROM chatcli_migrations ORDER BY applied_at, name")
    assert [n for n, _ in applied] == [m.name for m in MIGRATIONS]
    assert query(empty_db, "SELECT count(*) FROM checkpoint_migrations")[0][0] > 0

    second = chat(chat_env, "-t", "zed", "what is my name?")
    assert second.code == 0, second
    assert second.out == "You said: what is my name? (earlier: my name is Zed)\n"
    assert query(empty_db, "SELECT name, applied_at FROM chatcli_migrations ORDER BY applied_at, name") == applied

    # A database set up by a newer chatcli (a migration this one does not know) is refused in one line.
    query(empty_db, "INSERT INTO chatcli_migrations (name) VALUES ('m099_future')")
    line = assert_one_error_line(chat(chat_env, "hello again"), 5)
    assert "newer chatcli" in line and "m099_future" in line and "upgrade chatcli" in line


@pytest.mark.e2e
def test_processes_starting_together_set_up_the_schema_once(server, chat_env, empty_db):
    chat_env["CHATCLI_DB"] = empty_db
    procs = [
        subprocess.Popen(
            chat_argv(CHAT, "--thread", f"t{i}", f"question {i}"),  # (warm: forks meet in the store closer together)
            env=chat_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    results = [(p.wait(timeout=90), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, (code, out, err)
    from chatcli.store.postgres.schema import MIGRATIONS

    names = [m.name for m in MIGRATIONS]
    assert query(empty_db, "SELECT name FROM chatcli_migrations ORDER BY applied_at, name") == [(n,) for n in names]
    for i in range(6):
        assert summary(stored(empty_db, f"t{i}")) == [
            ("human", f"question {i}", None),
            ("ai", f"You said: question {i}", None),
        ]


# --------------------------------------------------------------------------- failures


@pytest.mark.e2e  # a PostgreSQL server
def test_connection_failures_are_one_line_and_never_show_the_password(chat_env, pg):
    from chatcli.errors import StoreError
    from chatcli.store import open_store

    host = urlsplit(pg.dsn).netloc.rpartition("@")[2]
    cases = {
        "refused": (
            f"postgresql://bob:{SECRET}@127.0.0.1:{urlsplit(closed_port_url()).port}/chat",
            "Connection refused",
        ),
        "no database": (f"postgresql://postgres:{SECRET}@{host}/no_such_db", 'database "no_such_db" does not exist'),
        "no role": (f"postgresql://nobody:{SECRET}@{host}/postgres", 'role "nobody" does not exist'),
        "bad port": (f"postgresql://bob:{SECRET}@127.0.0.1:notaport/chat", "invalid integer value"),
        "password in the query": (f"postgres://nobody@{host}/postgres?password={SECRET}", 'role "nobody"'),
    }

    async def fail(url: str) -> StoreError:
        with pytest.raises(StoreError) as caught:
            async with open_store(url):
                pass
        return caught.value

    for name, (url, expected) in cases.items():
        message = str(asyncio.run(fail(url)))
        assert expected in message and "***" in message and SECRET not in message, (name, message)
        assert "\n" not in message, (name, message)

    # What the user sees: one line, exit 5; with --debug, a traceback without the password either.
    runs = [
        (cases["refused"], ["hi"]),
        (cases["no database"], ["threads"]),
        (cases["password in the query"], ["--debug", "hi"]),
    ]
    results = [(r, chat(chat_env, "--db", r[0][0], *r[1])) for r in runs]
    for ((url, expected), args), run in results:
        assert SECRET not in run.out + run.err, (args, run)
        if "--debug" in args:
            assert run.code == 5 and "Traceback" in run.err and f"{expected}" in run.err, run
        else:
            assert expected in assert_one_error_line(run, 5)


@pytest.mark.e2e  # processes: what a process imports
def test_the_postgres_driver_is_imported_only_for_postgres_and_its_absence_is_one_line(tmp_path, chat_env):
    # The SQLite path does not import it.
    code = (
        "import asyncio, sys\n"
        "from chatcli.store import open_store\n"
        "import chatcli.app.cli, chatcli.app.run, chatcli.threads.operations, chatcli.service.thread\n"
        "async def main():\n"
        f"    async with open_store({str(tmp_path / 'c.db')!r}) as store:\n"
        "        await store.index.list()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'langgraph.checkpoint.postgres'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    # A psycopg that cannot be imported, as when chatcli was installed without the extra.
    fake = tmp_path / "shadow" / "psycopg"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'psycopg'\")\n")
    chat_env["PYTHONPATH"] = str(fake.parent)
    for args in (["hi"], ["threads"]):
        line = assert_one_error_line(chat_process(chat_env, "--db", "postgresql://u@127.0.0.1/chat", *args), 5)
        assert "pip install -e" in line and "[postgres]" in line and '"chatcli[' not in line, args


def test_passwords_in_urls_are_redacted():
    from chatcli.text import redact_url

    assert redact_url(f"postgresql://bob:{SECRET}@db.example:5432/chat") == "postgresql://bob:***@db.example:5432/chat"
    assert redact_url(f"postgres://bob@db/chat?sslmode=require&password={SECRET}") == (
        "postgres://bob@db/chat?sslmode=require&password=***"
    )
    assert redact_url("postgresql://bob@db/chat") == "postgresql://bob@db/chat"


# --------------------------------------------------------------------------- storage and search


@pytest.mark.e2e  # a PostgreSQL server
def test_storage_is_one_row_per_message_and_grows_linearly(pg, tmp_path):
    from tests.test_graph import Harness, fake_model

    url = pg.url(pg.create(pg.schema_template))

    def blob_bytes() -> int:
        return query(url, "SELECT coalesce(sum(length(blob)), 0) FROM checkpoint_blobs WHERE channel = 'messages'")[0][
            0
        ]

    async def turns(n: int) -> None:
        async with Harness(url, fake_model("An answer of a fair length, " * 8)) as conv:
            for i in range(n):
                await conv.send(f"question {i}: " + "some words of context " * 8)

    try:
        asyncio.run(turns(10))
        after_10 = blob_bytes()
        asyncio.run(turns(20))
        after_30 = blob_bytes()
        assert message_rows(url, "t1")["messages"] == 60, "one row per message"
        # Checkpoints hold a reference to the message chain, not the list: what they add
        # per turn stays the same (a copy of the list per checkpoint would grow ~9x here).
        assert after_30 < 3.5 * after_10, (after_10, after_30)
        biggest = query(url, "SELECT max(length(blob)) FROM checkpoint_blobs WHERE channel = 'messages'")[0][0]
        assert biggest < 200
    finally:
        pg.drop(url.rsplit("/", 1)[1])


SEARCH_THREADS = [
    (
        "Rust lifetimes",
        [
            "How does the borrow checker decide how long a reference lives?",
            "The borrow checker assigns each reference a lifetime: the region of code where it must "
            "stay valid. Lifetimes are inferred within a function; at boundaries you annotate them, "
            "as in fn longest<'a>(x: &'a str, y: &'a str) -> &'a str. The checker then verifies "
            "that no reference outlives its referent.",
            "and with async code?",
            "Futures that borrow must not outlive the data: tokio::spawn needs 'static, so move "
            "owned data in (Arc<Mutex<T>>) instead of borrowing. Scoped tasks lift that restriction.",
        ],
    ),
    (
        "Café École",
        [
            "Où est le café près de l'École? C'est naïve.",
            "Le café est à côté de l'école, rue de l'Été. Über-fast: 3.14 minutes à pied.",
        ],
    ),
    (
        "paths and mail",
        [
            "Send /usr/lib/x86_64-linux-gnu/libssl.so.3 to ops@example.com, please.",
            "Done: ops@example.com got libssl.so.3 from /usr/lib. The borrow was returned.",
        ],
    ),
]
SEARCH_QUERIES = [
    "borrow",
    "borrow checker",
    "reference lifetime",
    "ecole",
    "CAFÉ",
    "usr lib",
    "example.com",
    "libssl.so.3",
    "'static",
    "x86",
    "the",
    "checker: strict?",
    "Arc<Mutex<T>>",
    "no-such-word",
]


@pytest.mark.e2e  # a PostgreSQL server
def test_search_gives_the_same_results_as_on_sqlite(pg, tmp_path):
    from chatcli.config import load_settings
    from chatcli.threads.opening import open_threads
    from chatcli.threads.operations import EXPORT_FORMAT

    url = pg.url(pg.create(pg.schema_template))

    async def results(db: str) -> list[list[tuple[Any, ...]]]:
        async with open_threads(load_settings({"db": db})) as threads:
            for title, texts in SEARCH_THREADS:
                roles = ["user", "assistant"] * len(texts)
                await threads.import_json(
                    {
                        "format": EXPORT_FORMAT,
                        "title": title,
                        "messages": [{"role": r, "content": t} for r, t in zip(roles, texts)],
                    }
                )
            return [[(h.title, h.turn, h.role, h.snippet) for h in await threads.search(q)] for q in SEARCH_QUERIES]

    try:
        on_sqlite = asyncio.run(results(str(tmp_path / "chat.db")))
        on_postgres = asyncio.run(results(url))
    finally:
        pg.drop(url.rsplit("/", 1)[1])
    assert sum(map(len, on_sqlite)) > 20 and [] in on_sqlite  # the queries do find things, and not always
    for q, a, b in zip(SEARCH_QUERIES, on_sqlite, on_postgres):
        assert b == a, q  # same hits, same order, same snippets


# --------------------------------------------------------------------------- the turn lock


@pytest.mark.e2e  # a PostgreSQL server
def test_the_turn_lock_holds_across_connections_and_a_cancelled_wait_leaves_no_lock(pg):
    from chatcli.store import open_store

    url = pg.url(pg.create(pg.schema_template))

    def advisory_locks() -> int:
        # This database's only: the server's other databases (other tests, run beside this one) hold theirs.
        return query(
            url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )[0][0]

    async def scenario() -> list[str]:
        events: list[str] = []
        async with open_store(url) as a, open_store(url) as b:
            async with a.thread_lock("x"):
                events.append(f"held {await asyncio.to_thread(advisory_locks)}")
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(b.thread_lock("x").__aenter__(), 0.25)
                events.append("other waited")
                async with b.thread_lock("y"):
                    events.append("another thread is free")
            async with b.thread_lock("x"):
                events.append("taken after release")
        events.append(f"left {await asyncio.to_thread(advisory_locks)}")
        return events

    try:
        assert asyncio.run(scenario()) == [
            "held 1",
            "other waited",
            "another thread is free",
            "taken after release",
            "left 0",
        ]
    finally:
        pg.drop(url.rsplit("/", 1)[1])


# --------------------------------------------------------------------------- a connection that drops


def _drop_connections(pg: PgServer, name: str) -> int:
    """What a server restart does to chatcli: every session on the database ends."""
    rows = pg.admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
    ).fetchall()
    return len(rows)


@pytest.mark.e2e
def test_the_prompt_survives_a_dropped_connection_and_keeps_every_message(server, chat_env, pg):
    """The server restarts under an open prompt: the next message reconnects and is kept; while the
    database refuses connections a message is one line and the prompt stays."""
    from tests.helpers import Repl

    name = pg.create(pg.schema_template)
    url = pg.url(name)
    repl = Repl(["--thread", "pg"], {**chat_env, "CHATCLI_DB": url})
    try:
        repl.wait_prompt()
        at = repl.say("first message")
        repl.wait_for("You said: first message", after=at)
        repl.wait_prompt()
        assert _drop_connections(pg, name) >= 1
        at = repl.say("after the restart")
        repl.wait_for("You said: after the restart (earlier: first message)", after=at)
        repl.wait_prompt()
        assert "error" not in repl.text[at:]
        # The database refuses connections for a while: one line, the prompt stays.
        pg.admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _drop_connections(pg, name)
        at = repl.say("while it is down")
        repl.wait_for("error: ", after=at)
        repl.wait_prompt()
        line = " ".join(repl.text[at:].split())
        assert "cannot connect to" in line and "Traceback" not in repl.text
        pg.admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        at = repl.say("back again")
        repl.wait_for("You said: back again", after=at)
        repl.wait_prompt()
        repl.child.sendcontrol("d")
        assert repl.exit_code() == 0
    finally:
        repl.kill()
        pg.admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    kept = [text for kind, text, _ in summary(stored(url, "pg")) if kind == "human"]
    assert kept[:2] == ["first message", "after the restart"] and kept[-1] == "back again"
    pg.drop(name)


@pytest.mark.e2e  # a PostgreSQL server
async def test_a_one_shot_question_after_the_connection_dropped_is_kept(server, chat_env, pg):
    """In-process: the store's connection dies between two turns; the second turn reconnects."""
    from chatcli.config import load_settings
    from tests.helpers import a_thread

    name = pg.create(pg.schema_template)
    url = pg.url(name)
    settings = load_settings(
        {"db": url, "base_url": server.base_url, "api_key": "sk-x", "model": "gpt-fake"}, environ={}
    )

    async def go() -> list[str]:
        async with a_thread(settings, "t") as conversation:
            await conversation.send("one")
            _drop_connections(pg, name)
            await conversation.send("two")
            assert [t.thread_id for t in await conversation.threads().list()] == ["t"]
            return [m.text for m in await conversation.messages()]

    try:
        assert await go() == ["one", "You said: one", "two", "You said: two (earlier: one)"]
    finally:
        pg.drop(name)

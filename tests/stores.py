"""The stores tests run against: a SQLite file (the default), or a database on a PostgreSQL server.

Conversation tests run on SQLite. What runs on both is the store's contract (tests/test_store_contract.py),
PostgreSQL's own tests, processes on one database and migrations: a module opts in with
``pytestmark = pytest.mark.stores("sqlite", "postgres")`` (one test opts out with
``@pytest.mark.stores("sqlite")``), each of its tests then runs once per store, and the ``storage``
fixture says which. The PostgreSQL runs need a server: ``CHATCLI_TEST_PG``
holds its DSN (``.ci/postgres start`` prints one); without it, where PostgreSQL's programs are
installed, each test process starts a throwaway server of its own; with neither they are skipped. Each test gets
databases of its own, copied from a template whose schema is already set up, and dropped after.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PG_ENV = "CHATCLI_TEST_PG"
PG_DSN = os.environ.get(PG_ENV)  # read before the tests clear CHATCLI_* from their environment
SKIP_REASON = f"PostgreSQL tests need a server: install PostgreSQL, or set {PG_ENV} to a DSN (.ci/postgres start)"


def is_url(db: Any) -> bool:
    return str(db).startswith(("postgresql://", "postgres://"))


def _set_up(url: str) -> None:
    """Open the store at ``url`` once, which sets up its schema."""
    from chatcli.store import open_store

    async def run() -> None:
        async with open_store(url):
            pass

    asyncio.run(run())


class PgServer:
    """The test server: creates and drops the tests' databases over an admin connection.

    Copying a database and dropping one is the server's work, a few tenths of a second each: a
    second connection does it in the background while the tests run (``fresh`` hands over a
    copy of the schema template made while the previous test ran, ``drop_later`` drops a test's
    database after it). Each test still gets a database of its own that no test used before.
    """

    def __init__(self, dsn: str):
        import psycopg

        self.dsn = dsn
        self.admin = psycopg.connect(dsn, autocommit=True)
        self._count = 0
        self._templates: list[str] = []
        self.schema_template = self.template(_set_up)
        self._background = psycopg.connect(dsn, autocommit=True)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-databases")
        self._spares: dict[str, Future[str]] = {}  # template -> a copy being made of it
        self._later: list[Future[Any]] = []  # drops, checked at the end

    def _run_later(self, sql: str) -> None:
        self._later.append(self._worker.submit(self._background.execute, sql))

    def fresh(self, template: str | None = None) -> str:
        """A new database copied from ``template`` (the schema template by default), made in
        the background while the previous test ran; its name. The next copy is started."""
        template = template or self.schema_template
        spare = self._spares.get(template) or self._copy_later(template)
        name = spare.result()
        self._spares[template] = self._copy_later(template)
        return name

    def _copy_later(self, template: str) -> Future[str]:
        name = self._name("test")

        def make() -> str:
            self._background.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return name

        return self._worker.submit(make)

    def rename(self, name: str, new_name: str) -> None:
        self.admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{new_name}"')

    def drop_later(self, name: str) -> None:
        self._run_later(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        """The DSN of database ``name`` on this server."""
        return urlunsplit(urlsplit(self.dsn)._replace(path="/" + name))

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"chatcli_{kind}_{os.getpid()}_{self._count}"

    def create(self, template: str | None = None, name: str | None = None) -> str:
        """A new database (empty, or a copy of ``template``); returns its name."""
        name = name or self._name("test")
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or "template0"}"')
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def template(self, fill: Any) -> str:
        """A database filled by ``fill(url)``, to copy from (dropped at the end of the session)."""
        name = self.create()
        self._templates.append(name)
        fill(self.url(name))
        return name

    def close(self) -> None:
        for spare in self._spares.values():
            self.drop_later(spare.result())
        self._worker.shutdown(wait=True)
        self._background.close()
        for done in self._later:
            done.result()  # a drop that failed fails the session's end, as it failed a test's
        for name in self._templates:
            self.drop(name)
        self.admin.close()


@dataclass
class Storage:
    """Where one test's conversations are kept.

    ``url`` is the test's database (``CHATCLI_DB``) on PostgreSQL, None on SQLite (the default file).
    """

    kind: str
    server: PgServer | None = None
    url: str | None = None
    _made: dict[str, str] = field(default_factory=dict)
    _names: list[str] = field(default_factory=list)

    @classmethod
    def postgres(cls, server: PgServer) -> Storage:
        storage = cls("postgres", server)
        storage.url = storage.new_database()
        return storage

    def new_database(self, template: str | None = None) -> str:
        """The URL of a new database of this test, by default with its schema set up."""
        assert self.server is not None
        name = self.server.create(template) if template else self.server.fresh()
        self._names.append(name)
        return self.server.url(name)

    def reset(self, template: str) -> None:
        """Make the test's database (same URL) a fresh copy of ``template``."""
        assert self.server is not None
        self.server.drop(self._names[0])
        self.server.rename(self.server.fresh(template), self._names[0])

    def db(self, path: Path | str) -> str:
        """The database to use where a test would use the SQLite file ``path``: that file, or a
        database on the server (the test's own for the first path, then one more per path)."""
        if self.kind == "sqlite":
            return str(path)
        key = str(path)
        if key not in self._made:
            self._made[key] = self.url if not self._made else self.new_database()
        return self._made[key]

    def close(self) -> None:
        if self.server is not None:
            for name in self._names:
                self.server.drop_later(name)


# --------------------------------------------------------------------------- reading a store directly


def message_rows(db: Path | str, thread: str) -> dict[str, int]:
    """Rows the store holds for ``thread``: checkpoints, pending writes and message nodes."""
    if is_url(db):
        import psycopg

        tables = {"checkpoints": "checkpoints", "writes": "checkpoint_writes", "messages": "chatcli_messages"}
        with psycopg.connect(str(db)) as conn:
            return {
                key: conn.execute(f"SELECT count(*) FROM {table} WHERE thread_id = %s", (thread,)).fetchone()[0]
                for key, table in tables.items()
            }
    tables = {"checkpoints": "checkpoints", "writes": "writes", "messages": "chatcli_messages"}
    with closing(sqlite3.connect(db)) as conn:
        return {
            key: conn.execute(f"SELECT count(*) FROM {table} WHERE thread_id = ?", (thread,)).fetchone()[0]
            for key, table in tables.items()
        }


def dangling_nodes(url: str) -> int:
    """Message nodes whose parent is missing (a PostgreSQL store's consistency check)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT count(*) FROM chatcli_messages m
                WHERE m.parent IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM chatcli_messages p WHERE p.node = m.parent)"""
        ).fetchone()[0]

"""Schema migrations: an ordered list of named migrations per backend, applied names recorded in the database.

Each backend keeps the same shape of list (``Migration(name, statements)``, the same names in
the same order, its own SQL) and a ``MigrationLog`` that reads which names a database has
seen and applies one migration with its record in one transaction. ``migrate`` runs the
ones not seen yet, and refuses a database that records a name this version does not know
(it was set up by a newer chatcli). Databases from before the names were recorded (SQLite's
``PRAGMA user_version``, PostgreSQL's ``chatcli_schema`` table) are adopted: the first N
names count as applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from chatcli.errors import StoreError

# Where applied migrations are recorded, on both backends.
LOG_TABLE = "chatcli_migrations"


@dataclass(frozen=True)
class Migration:
    """A named step of the schema: statements run once, in order, in one transaction."""

    name: str
    statements: tuple[str, ...] = ()


# The statements both databases run alike, by the migration that runs them (SQLite takes DOUBLE PRECISION as REAL).
SHARED = {
    "m002_threads": (
        """CREATE TABLE IF NOT EXISTS chatcli_threads (
            thread_id TEXT PRIMARY KEY,
            title TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            message_count INTEGER NOT NULL DEFAULT 0,
            model TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS chatcli_threads_updated ON chatcli_threads(updated_at)",
    ),
    # What answers each thread (chatcli.core.binding): chat's own graph and its model, a graph of the user's, a
    # deployed graph. A table of its own: the thread index's rows and listings stay as they were.
    "m004_bindings": (
        "CREATE TABLE IF NOT EXISTS chatcli_bindings (thread_id TEXT PRIMARY KEY, binding TEXT NOT NULL)",
    ),
    # The names a user gives the nodes of a thread's tree (/label): a name is on one node of its thread.
    "m006_labels": (
        """CREATE TABLE IF NOT EXISTS chatcli_labels (
            thread_id TEXT NOT NULL, label TEXT NOT NULL, node INTEGER NOT NULL, PRIMARY KEY (thread_id, label))""",
    ),
    # What each thread waits on for the user (chat inbox): a row while it waits, gone once it is answered.
    "m008_waiting": (
        """CREATE TABLE IF NOT EXISTS chatcli_waiting (
            thread_id TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL, asked TEXT NOT NULL)""",
    ),
}


def shared(name: str, *more: str) -> Migration:
    """The migration ``name`` as both databases run it (``more``: a database's own statements after those)."""
    return Migration(name, (*SHARED[name], *more))


class MigrationLog(Protocol):
    """A database's record of applied migrations."""

    async def applied(self) -> list[str]:
        """The names applied so far (adopting an older record of them if that is what it has)."""

    async def apply(self, migration: Migration, count: int) -> bool:
        """Run ``migration`` and record it (it is the ``count``-th); False if another process just did."""


def check_known(name: str, applied: Sequence[str], migrations: Sequence[Migration]) -> None:
    """Refuse a database whose record names a migration this version does not have."""
    if unknown := [n for n in applied if n not in {m.name for m in migrations}]:
        newer = f"{name} was set up by a newer chatcli (migration {unknown[0]}; this one knows {len(migrations)})"
        raise StoreError(newer, hint="upgrade chatcli")


async def migrate(log: MigrationLog, migrations: Sequence[Migration], name: str) -> list[str]:
    """Apply the migrations ``log`` has not seen, in order; return the names applied now."""
    applied = await log.applied()
    check_known(name, applied, migrations)
    done = []
    for number, migration in enumerate(migrations, start=1):
        if migration.name not in applied and await log.apply(migration, number):
            done.append(migration.name)
    return done

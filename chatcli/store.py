"""Where conversations are kept: the checkpointer for a database path, created private to the user."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import zlib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from chatcli.errors import StoreError
from chatcli.index import SCHEMA_VERSION, ThreadIndex, migrate
# Threads map to byte ranges of one lock file; two threads rarely share a slot.
_LOCK_SLOTS = 1 << 20


def prepare_db_path(db: str) -> Path:
    """Make sure the database's directory exists (0700 when we create it) and is writable."""
    path = Path(db).expanduser()
    directory = path.parent
    if not directory.exists():
        try:  # exist_ok: another process starting at the same moment may have just made it
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc.strerror}", hint="choose another --db") from None
    if not directory.is_dir():
        raise StoreError(f"{directory} is not a directory", hint="choose another --db")
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file", hint="choose another --db")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StoreError(f"{path} is not writable", hint="choose another --db or fix its permissions")
    if not path.exists():
        try:  # created 0600: conversations are private
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return path  # another process starting at the same moment created it
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}", hint="choose another --db") from None
        os.close(fd)
        _start_incremental(path)
    return path


def _start_incremental(path: Path) -> None:
    """Make a new, empty database one whose free pages can be given back (see ``reclaim``)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")  # writes the header, so the setting sticks
    finally:
        conn.close()


# Tables that only a chatcli (or LangGraph) database has; another program's file has none.
_OUR_TABLES = {"checkpoints", "chatcli_messages", "chatcli_threads"}


def check_database(path: Path) -> None:
    """Fail with a clear message if the file is not a SQLite database this version can use."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a chatcli database ({exc})", hint="choose another --db") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer chatcli (schema {version}, this one knows {SCHEMA_VERSION})",
            hint="upgrade chatcli",
        )
    if tables and not tables & _OUR_TABLES:
        raise StoreError(f"{path} is another program's SQLite database", hint="choose another --db")


@asynccontextmanager
async def thread_lock(db: Path, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
    """Hold the thread for one turn, across processes, so concurrent turns queue up instead of forking.

    Polls a byte-range lock on ``<db>.lock`` so that waiting can be cancelled (Ctrl-C).
    """
    lock_path = db.with_name(db.name + ".lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    slot = zlib.crc32(thread_id.encode()) % _LOCK_SLOTS
    try:
        waited = 0
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
                break
            except OSError:
                waited += 1
                if waited == 20 and on_wait is not None:
                    on_wait()
                await asyncio.sleep(0.05)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, slot)
    finally:
        os.close(fd)


_WAL_LIMIT = 8 * 1024 * 1024


async def _pragma(conn: Any, name: str) -> int:
    async with conn.execute(f"PRAGMA {name}") as cursor:
        (value,) = await cursor.fetchone()
    return int(value)


@dataclass
class Store:
    """An open conversation database: the checkpointer, the thread index, and the file."""

    saver: Any
    index: ThreadIndex
    path: Path

    async def reclaim(self) -> None:
        """Give free pages back to the file system once a good share of the file is free.

        Deleting threads frees pages inside the file; databases made by this version free
        them in place (incremental vacuum), older ones are rewritten once (VACUUM), which
        also switches them to incremental mode.
        """
        conn = self.saver.inner.conn
        async with self.saver.inner.lock:
            pages, free, mode = [await _pragma(conn, name) for name in ("page_count", "freelist_count", "auto_vacuum")]
            if not free or free * 4 < pages:
                return
            if mode == 2:  # incremental
                # It frees one page per step; executescript steps it to the end.
                await conn.executescript("PRAGMA incremental_vacuum;")
            else:
                await conn.commit()
                await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                await conn.execute("VACUUM")
            await conn.commit()

    def thread_lock(self, thread_id: str) -> Any:
        """Hold ``thread_id`` for one turn (see ``thread_lock``)."""
        return thread_lock(self.path, thread_id)


def is_postgres_url(db: str) -> bool:
    """True when ``db`` names a PostgreSQL database (``postgresql://...`` or ``postgres://...``)."""
    return db[:13].lower().startswith(("postgresql://", "postgres://"))


@asynccontextmanager
async def open_store(db: str) -> AsyncIterator[Any]:
    """Open (creating and migrating as needed) the conversation database at ``db``.

    A SQLite file by default; a ``postgresql://`` URL opens ``chatcli.pgstore.PostgresStore``
    instead, which offers the same attributes and methods.
    """
    if is_postgres_url(db):
        from chatcli.pgstore import open_pg_store

        async with open_pg_store(db) as store:
            yield store
        return
    path = prepare_db_path(db)
    check_database(path)
    from chatcli.msgstore import sqlite_saver

    try:
        async with sqlite_saver(str(path)) as saver:
            conn, lock = saver.inner.conn, saver.inner.lock
            async with lock:
                await migrate(conn)
            # The WAL file is cut back to this size after each checkpoint instead of staying at its peak.
            await conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")
            yield Store(saver=saver, index=ThreadIndex(conn, lock), path=path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"database error in {path}: {exc}", hint="restore a backup or choose another --db") from None


@asynccontextmanager
async def open_checkpointer(db: str) -> AsyncIterator[Any]:
    """Open the conversation database and hand back just its checkpointer."""
    async with open_store(db) as store:
        yield store.saver

"""The SQLite store (the default): one file, private to the user, opened and migrated on first use."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import zlib
from contextlib import AsyncExitStack, asynccontextmanager, closing, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Callable, cast
from urllib.parse import quote

from chatcli.errors import StoreError
from chatcli.paths import private_dir
from chatcli.store.base import Guard, Params, Row, poll_lock, the_row
from chatcli.store.database import Store
from chatcli.store.migrations import migrate
from chatcli.store.sqlite_index import SqliteThreadIndex
from chatcli.store.sqlite_schema import MIGRATIONS, SqliteMigrationLog

if TYPE_CHECKING:
    import aiosqlite

    from chatcli.store.messages import MessageStoreSaver

# Threads map to byte ranges of one lock file; two threads rarely share a slot.
_LOCK_SLOTS = 1 << 20
# The byte after the turns' slots: held while a process sets the file up (two at once would collide).
_SETUP_SLOT = _LOCK_SLOTS
_WAL_LIMIT = 8 * 1024 * 1024
# How long SQLite itself waits for a lock before an operation fails (the store's Guard then waits longer, saying so).
BUSY_TIMEOUT_MS = 5000
# Tables that only a chatcli (or LangGraph) database has; another program's file has none.
_OUR_TABLES = {"checkpoints", "chatcli_messages", "chatcli_threads"}


def prepare_db_path(db: str) -> Path:
    """Make sure the database's directory exists (0700 when we create it) and is writable."""
    path = Path(db).expanduser()
    directory = path.parent
    if not directory.exists():
        try:  # exist_ok: another process starting at the same moment may have just made it
            private_dir(directory)
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc.strerror}", hint="choose another --db") from None
    if not directory.is_dir():
        raise StoreError(f"{directory} is not a directory", hint="choose another --db")
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file", hint="choose another --db")
    if path.exists() and not path.is_file():
        raise StoreError(f"{path} is not a regular file (a device or a pipe)", hint="choose another --db")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StoreError(f"{path} is not writable", hint="choose another --db or fix its permissions")
    if not path.exists():
        _create(path)
    return path


def _create(path: Path) -> None:
    """A new database at ``path`` in one step: every table set up at once (new.sql), beside it, then moved in (another
    process making the same file at the same moment keeps its own); 0600, conversations are private; free pages
    given back (see ``reclaim``). A full disk leaves nothing behind."""
    import tempfile
    from importlib.resources import files

    made = ""
    try:
        fd, made = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)  # 0600
        os.close(fd)
        with closing(sqlite3.connect(made, isolation_level=None)) as conn:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")  # writes the header, so the setting sticks
            conn.executescript(f"BEGIN;\n{files('chatcli.store').joinpath('new.sql').read_text()}COMMIT;")
            conn.execute("PRAGMA journal_mode = WAL")
        try:
            os.link(made, path)
        except FileExistsError:
            pass  # another process starting at the same moment made it
        except OSError:  # a file system without hard links: moved in, unless one is there by now
            if not path.exists():
                os.rename(made, path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}", hint="choose another --db") from None
    except sqlite3.Error as exc:
        raise opening_error(path, exc, new=True) from None
    finally:
        for leftover in ("", "-wal", "-shm", "-journal") if made else ():
            Path(made + leftover).unlink(missing_ok=True)


_ROOM = 1024 * 1024  # bytes free below which an I/O error is a full disk (SQLite says "disk I/O error" for one)


def _no_room(path: Path) -> bool:
    """True when the file system holding ``path`` has (next to) no space or no inode left."""
    try:
        info = os.statvfs(path.parent)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < _ROOM or bool(info.f_files and not info.f_favail)


def _primary(exc: BaseException) -> int | None:
    """The primary result code of the SQLite error ``exc`` (of its extended one), if it carries one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def held(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds the file (busy or locked), known by its code: its words may be
    another's (a full-text table's constructor that met the lock says "vtable constructor failed")."""
    return _primary(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def opening_error(path: Path, exc: sqlite3.Error | OSError, new: bool = False) -> StoreError:
    """What an SQLite error at the opening of ``path`` means, said for what it is: a full disk, an I/O error, a file
    that cannot be opened (each: the file is unharmed, nothing was written to it), one held by another program, one
    that is damaged; only a file that is no SQLite database at all "is not a chatcli database". ``new``: the file
    was being created (and is not there)."""
    primary = _primary(exc)
    cannot, unharmed = (f"cannot create {path}", "") if new else (f"cannot open {path}", "the file is unharmed: ")
    full = primary == sqlite3.SQLITE_FULL
    if full or (primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) and _no_room(path)):
        return StoreError(f"{cannot}: the disk it is on is full", hint=f"{unharmed}free some space and try again")
    if primary == sqlite3.SQLITE_IOERR:
        named = getattr(exc, "sqlite_errorname", "") or "SQLITE_IOERR"
        return StoreError(f"{cannot}: a disk I/O error ({named})", hint=f"{unharmed}check the disk and try again")
    if primary == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            f"{cannot} ({exc})", hint=f"{unharmed}check that its directory can be written to, and try again"
        )
    if primary == sqlite3.SQLITE_NOTADB:
        return StoreError(f"{path} is not a chatcli database ({exc})", hint="choose another --db")
    if primary == sqlite3.SQLITE_CORRUPT:
        damaged = "the file is damaged: restore a backup or choose another --db"
        return StoreError(f"database error in {path}: {exc}", hint=damaged)
    if held(exc):
        return StoreError(f"{path} is locked by another program ({exc})", hint="try again once it lets go of it")
    return StoreError(f"database error in {path}: {exc}", hint="run with --debug for details")


# The files this process checked, as os.stat saw them then (device, inode, size, modification time).
_CHECKED: set[tuple[int, ...]] = set()


def check_database(path: Path, conn: sqlite3.Connection | None = None) -> None:
    """Fail with a clear message if the file is not a SQLite database this version can use: another program's, a
    newer chatcli's, or a damaged one. The first row of every table is read, before anything is written (opening it
    turns on WAL): a file whose pages are garbage is refused here and left exactly as it was. Decided once a process
    for a file: one this process checked, unchanged since (its inode, size and modification time), is not read again.
    ``conn``: read on that connection (read-only, kept open), not on one of its own."""
    try:
        seen = os.stat(path)
        if (stat := (seen.st_dev, seen.st_ino, seen.st_size, seen.st_mtime_ns)) in _CHECKED:
            return
        with nullcontext(conn) if conn else closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            for name in tables:
                quoted = name.replace('"', '""')
                conn.execute(f'SELECT 1 FROM "{quoted}" LIMIT 1').fetchall()
    except (sqlite3.Error, OSError) as exc:
        raise opening_error(path, exc) from None
    if version > len(MIGRATIONS):  # the count of applied migrations, kept for every release to read
        newer = f"{path} was written by a newer chatcli (schema {version}, this one knows {len(MIGRATIONS)})"
        raise StoreError(newer, hint="upgrade chatcli")
    if tables and not tables & _OUR_TABLES:
        raise StoreError(f"{path} is another program's SQLite database", hint="choose another --db")
    _CHECKED.add(stat)


class ReadOnly:
    """The file ``db`` read with plain sqlite3 on one read-only connection (nothing created, a lock waited for
    ``timeout`` seconds at most), opened by the first read that finds the file there and kept until this is dropped
    (by any thread: its reads are one after another); no rows from a file that is not there yet or lacks the table (a
    new file, or one from before it). ``checked``: another program's file, or a newer chatcli's, is said as when it is
    opened (``check_database``)."""

    def __init__(self, db: str, checked: bool = False, timeout: float = 5):
        self.conn: sqlite3.Connection | None = None
        self.path, self.checked, self.timeout = Path(db).expanduser(), checked, timeout

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        """The rows of one query."""
        if self.conn is None and not self.path.is_file():
            return []
        try:
            if self.conn is None:
                uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, check_same_thread=False)
                if self.checked:  # (on this connection: kept only once the file passed)
                    check_database(self.path, conn)
                self.conn = conn
            return list(self.conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:  # as when it is opened: a full disk, a damaged file...
            if isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
                return []
            raise opening_error(self.path, exc) from None

    def __del__(self) -> None:
        if self.conn is not None:
            self.conn.close()


@asynccontextmanager
async def _byte_lock(db: Path, slot: int, on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
    """Hold byte ``slot`` of ``<db>.lock`` (a POSIX lock: released if the process dies), polling (so waiting stays
    cancellable)."""
    fd = os.open(db.with_name(db.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)

    async def try_lock() -> bool:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
            return True
        except OSError:
            return False

    try:
        await poll_lock(try_lock, on_wait)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, slot)
    finally:
        os.close(fd)


class SqliteStore(Store):
    """An open SQLite conversation database (see chatcli.store.database.Store): its index on the connection of its saver
    (``saver``: None in a store opened for managing threads only, chatcli.store.light)."""

    index: SqliteThreadIndex

    def __init__(self, path: Path, index: SqliteThreadIndex, saver: MessageStoreSaver | None = None):
        self.path = path
        self.name = str(path)
        self.index = index
        self.guard = index.guard
        self.saver = saver
        opened = os.stat(path)
        self._identity = (opened.st_dev, opened.st_ino)
        self._slots: dict[int, asyncio.Lock] = {}  # this process's turns, by byte of the lock file

    @asynccontextmanager
    async def thread_lock(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Hold ``thread_id`` for one turn, across processes and within this one, so concurrent turns queue up.

        POSIX locks belong to the process (and closing any descriptor of the file drops them all):
        turns of this process queue on a lock of its own first, one per byte of the lock file.
        """
        self.check_file()
        slot = zlib.crc32(thread_id.encode()) % _LOCK_SLOTS
        async with self._slots.setdefault(slot, asyncio.Lock()), _byte_lock(self.path, slot, on_wait):
            yield

    def check_file(self) -> None:
        """Refuse to go on writing a database file that was deleted or replaced since it was opened:
        what this session wrote would be gone when it ends."""
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != self._identity:
            raise StoreError(
                f"{self.path} was deleted or replaced while chat was running: nothing more is written to it",
                hint="start chat again to open the file that is there now",
            )

    async def reclaim(self) -> None:
        """Give free pages back to the file system once a good share of the file is free.

        Databases made by this version free them in place (incremental vacuum); older ones
        are rewritten once (VACUUM), which also switches them to incremental mode.
        """
        conn = self.index.conn
        async with self.index.lock:
            pages, free, mode = [await _pragma(conn, name) for name in ("page_count", "freelist_count", "auto_vacuum")]
            if not free or free * 4 < pages:
                return
            if mode == 2:  # incremental: one page per step; executescript steps it to the end
                await conn.executescript("PRAGMA incremental_vacuum;")
            else:
                await conn.commit()
                await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                await conn.execute("VACUUM")
            await conn.commit()


async def connect(path: Path, read_only: bool = False) -> aiosqlite.Connection:
    """An aiosqlite connection to the file ``path``; ``read_only``: one chat may not write, read as immutable (SQLite
    then takes no lock and writes no -wal/-shm beside it)."""
    import aiosqlite

    immutable = f"file:{quote(str(path.absolute()))}?immutable=1"
    conn = await aiosqlite.connect(immutable if read_only else str(path), uri=read_only)
    await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


@asynccontextmanager
async def sqlite_saver(
    path: str | Path, guard: Guard | None = None, read_only: bool = False
) -> AsyncIterator[MessageStoreSaver]:
    """LangGraph's checkpointer on the SQLite file ``path``, its message lists kept as nodes (chatcli.store.messages),
    set up; ``read_only``: a file chat may not write (set up already), opened for reading only."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from chatcli.store.messages import MessageStoreSaver

    guard = guard or sqlite_guard(str(path))
    conn = await connect(Path(path), read_only)
    try:
        inner = AsyncSqliteSaver(conn)
        saver = MessageStoreSaver(inner, SqliteThreadIndex(conn, inner.lock, guard), guard=guard)
        if read_only:
            saver.assume_set_up()
        else:
            await saver.setup()
        yield saver
    finally:
        await conn.close()


async def _pragma(conn: aiosqlite.Connection, name: str) -> int:
    async with conn.execute(f"PRAGMA {name}") as cursor:
        (value,) = the_row(await cursor.fetchone())
    return int(value)


def sqlite_guard(db: str) -> Guard:
    """The Guard of a SQLite file: its errors as StoreErrors, waiting while another program holds it."""
    return Guard(str(Path(db).expanduser()), (sqlite3.Error,), hint="run with --debug for details", busy=held)


@asynccontextmanager
async def open_sqlite_store(db: str, read_only: bool = False) -> AsyncIterator[SqliteStore]:
    """Open (creating and migrating as needed) the SQLite database at ``db``.

    ``read_only``: the caller only reads (threads, show, export, search), so a file chat may not write is opened
    for reading (listed, shown, exported and searched, never changed) instead of refused.
    """
    guard, path = sqlite_guard(db), Path(db).expanduser()
    # A file chat may read but not write (a read-only file or mount), for a caller that only reads.
    unwritable = read_only and path.is_file() and os.access(path, os.R_OK) and not os.access(path, os.W_OK)
    path = path if unwritable else prepare_db_path(db)
    check_database(path)
    try:
        async with AsyncExitStack() as stack:
            try:
                opened = await _set_up(stack, path, guard, unwritable)
            except sqlite3.DatabaseError as exc:
                raise opening_error(path, exc) from None
            yield opened
    except sqlite3.DatabaseError as exc:
        hint = "choose another --db" if unwritable else "restore a backup or choose another --db"
        raise StoreError(f"database error in {path}: {exc}", hint=hint) from None


async def _set_up(stack: AsyncExitStack, path: Path, guard: Guard, read_only: bool) -> SqliteStore:
    """The store of the file at ``path``, set up (migrated) and open until ``stack`` closes; ``read_only``: a file
    chat may not write, which an older chatcli must not have left behind."""
    # Processes opening a new file at once set it up in turn.
    async with nullcontext() if read_only else _byte_lock(path, _SETUP_SLOT):
        saver = await stack.enter_async_context(sqlite_saver(path, guard, read_only))
        opened = SqliteStore(path, cast(SqliteThreadIndex, saver.table), saver)
        log = SqliteMigrationLog(opened.index.conn)
        if read_only:
            if len(await log.names() or ()) < len(MIGRATIONS):
                older = f"{path} is read-only and was written by an older chatcli"
                raise StoreError(older, hint="open it once where it is writable")
            return opened
        async with opened.index.lock:
            await migrate(log, MIGRATIONS, str(path))
        # The WAL file is cut back to this size after each checkpoint instead of staying at its peak.
        await opened.index.conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")
        from langgraph.store.sqlite.aio import AsyncSqliteStore

        from chatcli.store.memories import stop_batching

        # LangGraph's store (memories) on this connection, under its lock: one thread serves both. Its transactions
        # (BEGIN ... COMMIT under the lock) hold in the connection's default mode, where the saver commits its own.
        opened.memory = memory = AsyncSqliteStore(opened.index.conn)
        memory.lock = opened.index.lock
        stack.push_async_callback(stop_batching, memory)
        await memory.setup()
        await opened.index.conn.commit()  # the log rows of its migrations, where it ran any, begun implicitly
    return opened

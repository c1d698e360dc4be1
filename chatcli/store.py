"""Where conversations are kept: the checkpointer for a database path, created private to the user."""

from __future__ import annotations

import os
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from chatcli.errors import StoreError


def prepare_db_path(db: str) -> Path:
    """Make sure the database's directory exists (0700 when we create it) and is writable."""
    path = Path(db).expanduser()
    directory = path.parent
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc.strerror}", hint="choose another --db") from None
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file", hint="choose another --db")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StoreError(f"{path} is not writable", hint="choose another --db or fix its permissions")
    if not path.exists():
        # Created 0600: conversations are private.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    return path


def check_database(path: Path) -> None:
    """Fail with a clear message if the file is not a SQLite database we can read."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a chatcli database ({exc})", hint="choose another --db") from None


@asynccontextmanager
async def open_checkpointer(db: str) -> AsyncIterator["object"]:
    """Open the conversation store at ``db`` for the length of the block."""
    path = prepare_db_path(db)
    check_database(path)
    from chatcli.msgstore import sqlite_saver

    try:
        async with sqlite_saver(str(path)) as saver:
            yield saver
    except sqlite3.OperationalError as exc:
        raise StoreError(f"database error in {path}: {exc}") from None

"""The script that makes a new SQLite store in one step (chatcli/store/new.sql), written from a store its
migrations made one by one: ``python tests/store_script.py > chatcli/store/new.sql`` after a migration is added.
tests/test_store_new.py checks that the two agree."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
from pathlib import Path

NOW = "(julianday('now') - 2440587.5) * 86400.0"  # seconds since 1970, as time.time()
SHADOW = ("_data", "_idx", "_docsize", "_config", "_content")  # a full-text table's own: it makes them


def migrated(path: Path) -> None:
    """A store at ``path`` set up as a file from before the script is: by each migration in turn."""
    from chatcli.store import open_store

    with sqlite3.connect(path) as conn:  # an empty file, as chat made one before
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")

    async def opened() -> None:
        async with open_store(str(path)):
            pass

    asyncio.run(opened())


def schema(path: Path) -> tuple[list[str], dict[str, list[tuple]]]:
    """The file's definitions (in the order made, a full-text table's own left out) and its migration logs' rows."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        virtual = [name for _, name, sql in rows.fetchall() if sql.startswith("CREATE VIRTUAL")]
        made = [
            sql
            for _, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
            )
            if not any(name == v + suffix for v in virtual for suffix in SHADOW)
        ]
        logs = {
            "chatcli_migrations": [
                row[:1] for row in conn.execute("SELECT name FROM chatcli_migrations ORDER BY rowid")
            ],
            "store_migrations": conn.execute("SELECT v FROM store_migrations ORDER BY v").fetchall(),
            "user_version": conn.execute("PRAGMA user_version").fetchall(),
        }
    return made, logs


def script(path: Path) -> str:
    made, logs = schema(path)
    lines = [f"{sql};" for sql in made]
    lines += [
        f"INSERT INTO chatcli_migrations (name, applied_at) VALUES ('{name}', {NOW});"
        for (name,) in logs["chatcli_migrations"]
    ]
    lines += [f"INSERT INTO store_migrations (v) VALUES ({v});" for (v,) in logs["store_migrations"]]
    lines.append(f"PRAGMA user_version = {logs['user_version'][0][0]};")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        migrated(Path(folder) / "chat.db")
        sys.stdout.write(script(Path(folder) / "chat.db"))

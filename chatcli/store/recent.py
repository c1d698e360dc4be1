"""The most recent thread ids and titles, read fast for shell completion (no LangGraph, no checkpointer).

SQLite only, read-only; any problem (no file yet, a PostgreSQL URL, a locked or old database)
gives an empty list: completion must never fail or hang the shell.
"""

from __future__ import annotations

from pathlib import Path


def recent_threads(db: str, limit: int = 200) -> list[tuple[str, str]]:
    """(thread id, title) of the ``limit`` most recently used threads in the SQLite file ``db``."""
    import sqlite3
    from contextlib import closing

    if "://" in db or not Path(db).is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{Path(db).absolute()}?mode=ro", uri=True, timeout=0.5)) as conn:
            rows = conn.execute(
                "SELECT thread_id, coalesce(title, '') FROM chatcli_threads ORDER BY updated_at DESC LIMIT ?", (limit,)
            ).fetchall()
    except sqlite3.Error:
        return []
    return [(str(tid), " ".join(str(title).split())[:60]) for tid, title in rows]

"""chatcli's tables in PostgreSQL: the migrations, and where the database records them."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.rows import tuple_row

from chatcli.store.migrations import LOG_TABLE, Migration, shared

# The same names, in the same order, as chatcli.store.sqlite_schema.MIGRATIONS.
MIGRATIONS: list[Migration] = [
    # Checkpoint and message tables: created by LangGraph's saver and chatcli.store.messages.
    Migration("m001_base"),
    shared("m002_threads"),
    Migration(
        "m003_search",
        (
            # Filled by the message table on insert (chatcli.store.fts.search_fields).
            "ALTER TABLE chatcli_messages ADD COLUMN IF NOT EXISTS search tsvector",
            "ALTER TABLE chatcli_messages ADD COLUMN IF NOT EXISTS ntokens INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX IF NOT EXISTS chatcli_messages_search ON chatcli_messages USING gin (search)",
            # Message and token totals for ranking (FTS5 keeps the same in its index).
            """CREATE TABLE IF NOT EXISTS chatcli_search_stats (
                id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id), messages BIGINT NOT NULL, tokens BIGINT NOT NULL)""",
            """INSERT INTO chatcli_search_stats (messages, tokens)
               SELECT count(*), coalesce(sum(ntokens), 0) FROM chatcli_messages
               ON CONFLICT DO NOTHING""",
            """CREATE OR REPLACE FUNCTION chatcli_search_count() RETURNS trigger LANGUAGE plpgsql AS $$
               DECLARE
                   sign INTEGER := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
               BEGIN
                   UPDATE chatcli_search_stats
                      SET messages = messages + sign * (SELECT count(*) FROM changed),
                          tokens = tokens + sign * (SELECT coalesce(sum(ntokens), 0) FROM changed);
                   RETURN NULL;
               END $$""",
            """CREATE TRIGGER chatcli_search_insert AFTER INSERT ON chatcli_messages
               REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION chatcli_search_count()""",
            """CREATE TRIGGER chatcli_search_delete AFTER DELETE ON chatcli_messages
               REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION chatcli_search_count()""",
            # How many times a phrase (its tokens in a row) occurs in a message's tsvector.
            """CREATE OR REPLACE FUNCTION chatcli_phrase_count(v tsvector, phrase TEXT[])
               RETURNS INTEGER LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
                   WITH lex AS (SELECT lexeme, positions FROM unnest(v) WHERE lexeme = ANY (phrase))
                   SELECT count(*)::INTEGER
                     FROM lex AS head, unnest(head.positions) AS p
                    WHERE head.lexeme = phrase[1]
                      AND NOT EXISTS (
                          SELECT 1 FROM generate_subscripts(phrase, 1) AS i
                           WHERE i > 1 AND NOT EXISTS (
                               SELECT 1 FROM lex
                                WHERE lex.lexeme = phrase[i] AND p + i - 1 = ANY (lex.positions)))
               $$""",
        ),
    ),
    shared("m004_bindings"),
    # Where each thread was made (the directory, and an editor's additional directories as a JSON list), kept
    # with its index row from its first turn on; NULL for a thread made before (not known).
    Migration(
        "m005_places",
        (
            "ALTER TABLE chatcli_threads ADD COLUMN IF NOT EXISTS cwd TEXT",
            "ALTER TABLE chatcli_threads ADD COLUMN IF NOT EXISTS dirs TEXT",
        ),
    ),
    shared("m006_labels"),
    # What each model call cost (or, while it runs, the most it may cost: held), by thread and time: the spending
    # limits sum it before each call. Kept when a thread is deleted: what was spent was spent.
    Migration(
        "m007_spending",
        (
            """CREATE TABLE IF NOT EXISTS chatcli_spending (
                id BIGSERIAL PRIMARY KEY, thread_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
                usd DOUBLE PRECISION NOT NULL, held BOOLEAN NOT NULL DEFAULT false)""",
            "CREATE INDEX IF NOT EXISTS chatcli_spending_at ON chatcli_spending (at)",
            "CREATE INDEX IF NOT EXISTS chatcli_spending_thread ON chatcli_spending (thread_id)",
        ),
    ),
    shared("m008_waiting"),
]

_LOG = f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
    name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"""


async def _column(conn: AsyncConnection[Any], sql: str) -> list[Any] | None:
    """The first column of a query's rows; None if its table does not exist."""
    try:  # the connection is in autocommit mode: a failed statement spoils nothing
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(sql)
            return [row[0] for row in await cur.fetchall()]
    except errors.UndefinedTable:
        return None


class PostgresMigrationLog:
    """Applied migrations in the ``chatcli_migrations`` table; the caller holds the schema lock.

    A database from before the names were recorded has a ``chatcli_schema`` table of
    numbered rows instead: its names are adopted as they are.
    """

    def __init__(self, conn: AsyncConnection[Any]):
        self.conn = conn

    async def applied(self) -> list[str]:
        names = await _column(self.conn, f"SELECT name FROM {LOG_TABLE} ORDER BY applied_at, name")
        if names is not None:
            return names
        legacy = await _column(self.conn, "SELECT name FROM chatcli_schema ORDER BY version") or []
        async with self.conn.transaction():
            await self.conn.execute(_LOG)
            for name in legacy:
                await self.conn.execute(f"INSERT INTO {LOG_TABLE} (name) VALUES (%s)", (name,))
        return legacy

    async def apply(self, migration: Migration, count: int) -> bool:
        async with self.conn.transaction():
            await self.conn.execute(_LOG)
            for statement in migration.statements:
                await self.conn.execute(statement)
            await self.conn.execute(f"INSERT INTO {LOG_TABLE} (name) VALUES (%s)", (migration.name,))
        return True

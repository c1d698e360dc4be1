"""The thread index and full-text search on PostgreSQL, with migrations recorded in the database.

Same tables, methods and results as ``chatcli.index`` on SQLite. Search matches the tokens
that ``chatcli.textsearch`` stores with each message (a ``tsvector`` with a GIN index), all
words required, and the snippet is cut as FTS5 cuts it.
"""

from __future__ import annotations

from typing import Any

from psycopg import errors
from psycopg.rows import tuple_row

from chatcli.index import _COLUMNS, SearchHit, ThreadIndex, ThreadInfo
from chatcli.textsearch import idf, query_phrases, snippet, tsquery_literal

# Each migration is a list of statements, applied once, in order, inside one transaction;
# the chatcli_schema table has one row per applied migration.
MIGRATIONS: list[tuple[str, list[str]]] = [
    # Checkpoint and message tables: created by LangGraph's saver and chatcli.msgstore.
    ("m001_base", []),
    (
        "m002_threads",
        [
            """CREATE TABLE IF NOT EXISTS chatcli_threads (
                thread_id TEXT PRIMARY KEY,
                title TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                message_count INTEGER NOT NULL DEFAULT 0,
                model TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS chatcli_threads_updated ON chatcli_threads(updated_at)",
        ],
    ),
    (
        "m003_search",
        [
            # Filled by the message table on insert (chatcli.textsearch.search_fields).
            "ALTER TABLE chatcli_messages ADD COLUMN IF NOT EXISTS search tsvector",
            "ALTER TABLE chatcli_messages ADD COLUMN IF NOT EXISTS ntokens INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX IF NOT EXISTS chatcli_messages_search ON chatcli_messages USING gin (search)",
            # Message and token totals for ranking (FTS5 keeps the same in its index).
            """CREATE TABLE IF NOT EXISTS chatcli_search_stats (
                id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
                messages BIGINT NOT NULL,
                tokens BIGINT NOT NULL
            )""",
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
        ],
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

_SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS chatcli_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def schema_version(conn: Any) -> int:
    """How many migrations the database has seen (0 for a database chatcli never used)."""
    try:
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute("SELECT coalesce(max(version), 0) FROM chatcli_schema")
            (version,) = await cur.fetchone()
    except errors.UndefinedTable:
        return 0
    return version


async def migrate(conn: Any) -> int:
    """Apply the migrations this database has not seen yet; return its schema version.

    The caller holds the lock that keeps other processes from migrating at the same time.
    """
    version = await schema_version(conn)
    if version >= SCHEMA_VERSION:
        return version
    async with conn.transaction():
        await conn.execute(_SCHEMA_TABLE)
        for number, (name, statements) in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO chatcli_schema (version, name) VALUES (%s, %s)", (number, name))
    return SCHEMA_VERSION


class PostgresThreadIndex(ThreadIndex):
    """The index of threads on the saver's connection (autocommit), under the saver's lock.

    The statements are the SQLite ones with psycopg's ``%s`` placeholders; listing and search
    have their own.
    """

    async def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        async with self.lock:
            async with self.conn.cursor(row_factory=tuple_row) as cur:
                await cur.execute(sql.replace("?", "%s"), params)
                return list(await cur.fetchall())

    async def _write(self, sql: str, params: tuple = ()) -> int:
        # PostgreSQL text cannot hold NUL: a title taken from a question with one drops it.
        params = tuple(p.replace("\x00", "") if isinstance(p, str) else p for p in params)
        async with self.lock:
            async with self.conn.cursor() as cur:
                await cur.execute(sql.replace("?", "%s"), params)
                return cur.rowcount

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM chatcli_threads ORDER BY updated_at DESC LIMIT ?", (limit,)
        )
        return [ThreadInfo(*row) for row in rows]

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching ``text`` (words, all required), best first (FTS5's bm25 ranking)."""
        phrases = query_phrases(text)
        if not phrases:
            return []
        # The corpus figures bm25 needs: messages, tokens, and the messages holding each phrase.
        found_in = ", ".join(["(SELECT count(*) FROM chatcli_messages WHERE search @@ ?::tsquery)"] * len(phrases))
        (messages, tokens, *holding), = await self._rows(
            f"SELECT messages, tokens, {found_in} FROM chatcli_search_stats",
            tuple(tsquery_literal([phrase]) for phrase in phrases),
        )
        average = tokens / messages if messages else 1.0
        # Each phrase's share, as FTS5 computes it (k1 = 1.2, b = 0.75); f{i} is its frequency.
        score = " + ".join(
            f"?::float8 * ((f.f{i} * 2.2) / (f.f{i} + 1.2 * (1 - 0.75 + 0.75 * m.ntokens / ?::float8)))"
            for i in range(len(phrases))
        )
        frequencies = ", ".join(f"chatcli_phrase_count(m.search, ?::text[]) AS f{i}" for i in range(len(phrases)))
        weights = [value for hits in holding for value in (idf(messages, hits), average)]
        rows = await self._rows(
            f"""SELECT m.thread_id, t.title, m.pos, m.role, m.text, m.node, {score} AS score
                  FROM chatcli_messages m
                  CROSS JOIN LATERAL (SELECT {frequencies}) AS f
                  LEFT JOIN chatcli_threads t ON t.thread_id = m.thread_id
                 WHERE m.search @@ ?::tsquery
                 ORDER BY score DESC, m.node
                 LIMIT ?""",
            (*weights, *phrases, tsquery_literal(phrases), limit),
        )
        return [
            SearchHit(tid, title, pos // 2 + 1, role, snippet(body or "", phrases), node)
            for tid, title, pos, role, body, node, _ in rows
        ]

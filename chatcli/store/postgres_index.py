"""The thread index and full-text search on PostgreSQL.

Same tables, methods and results as the SQLite index. Search matches the tokens that
``chatcli.store.fts`` stores with each message (a ``tsvector`` with a GIN index), all words
required, ranked as FTS5 ranks (bm25), and the snippet is cut as FTS5 cuts it.
"""

from __future__ import annotations

from psycopg.rows import tuple_row

from chatcli.store.base import SearchHit
from chatcli.store.fts import idf, query_phrases, snippet, tsquery_literal
from chatcli.store.index import COLUMNS, SqlThreadIndex


class PostgresThreadIndex(SqlThreadIndex):
    """The index of threads on the saver's connection (autocommit), under the saver's lock."""

    NO_LIMIT = None
    SQL = {
        "touch": f"""INSERT INTO chatcli_threads ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT(thread_id) DO UPDATE SET updated_at = excluded.updated_at,
                message_count = excluded.message_count, model = excluded.model,
                title = coalesce(chatcli_threads.title, excluded.title)""",
        "get": f"SELECT {COLUMNS} FROM chatcli_threads WHERE thread_id = %s",
        "list": f"SELECT {COLUMNS} FROM chatcli_threads ORDER BY updated_at DESC LIMIT %s",
        "ids": "SELECT thread_id FROM chatcli_threads WHERE thread_id LIKE %s ESCAPE '\\' ORDER BY updated_at DESC",
        "set_title": "UPDATE chatcli_threads SET title = %s WHERE thread_id = %s",
        "set_count": "UPDATE chatcli_threads SET message_count = %s, updated_at = %s WHERE thread_id = %s",
        "delete": "DELETE FROM chatcli_threads WHERE thread_id = %s",
        "turn": """WITH RECURSIVE up(node, parent, role) AS (
                SELECT node, parent, role FROM chatcli_messages WHERE node = %s
                UNION ALL SELECT m.node, m.parent, m.role FROM chatcli_messages m JOIN up ON m.node = up.parent)
            SELECT count(*) FROM up WHERE role = 'human'""",
    }

    async def _fetch(self, sql: str, params: tuple) -> list[tuple]:
        async with self.conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(sql, params)
            return list(await cur.fetchall())

    async def _execute(self, sql: str, params: tuple) -> int:
        # PostgreSQL text cannot hold NUL: a title taken from a question with one drops it.
        params = tuple(p.replace("\x00", "") if isinstance(p, str) else p for p in params)
        async with self.conn.cursor() as cur:
            await cur.execute(sql, params)
            return cur.rowcount

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching ``text`` (words, all required), best first (FTS5's bm25 ranking)."""
        phrases = query_phrases(text)
        if not phrases:
            return []
        # The corpus figures bm25 needs: messages, tokens, and the messages holding each phrase.
        found_in = ", ".join(["(SELECT count(*) FROM chatcli_messages WHERE search @@ %s::tsquery)"] * len(phrases))
        (messages, tokens, *holding), = await self._rows(
            f"SELECT messages, tokens, {found_in} FROM chatcli_search_stats",
            tuple(tsquery_literal([phrase]) for phrase in phrases),
        )
        average = tokens / messages if messages else 1.0
        # Each phrase's share, as FTS5 computes it (k1 = 1.2, b = 0.75); f{i} is its frequency.
        score = " + ".join(
            f"%s::float8 * ((f.f{i} * 2.2) / (f.f{i} + 1.2 * (1 - 0.75 + 0.75 * m.ntokens / %s::float8)))"
            for i in range(len(phrases))
        )
        frequencies = ", ".join(f"chatcli_phrase_count(m.search, %s::text[]) AS f{i}" for i in range(len(phrases)))
        weights = [value for hits in holding for value in (idf(messages, hits), average)]
        rows = await self._rows(
            f"""SELECT m.thread_id, t.title, m.pos, m.role, m.text, m.node, {score} AS score
                  FROM chatcli_messages m
                  CROSS JOIN LATERAL (SELECT {frequencies}) AS f
                  LEFT JOIN chatcli_threads t ON t.thread_id = m.thread_id
                 WHERE m.search @@ %s::tsquery
                 ORDER BY score DESC, m.node
                 LIMIT %s""",
            (*weights, *phrases, tsquery_literal(phrases), limit),
        )
        return await self.counted([
            SearchHit(tid, title, pos // 2 + 1, role, snippet(body or "", phrases), node)
            for tid, title, pos, role, body, node, _ in rows
        ])

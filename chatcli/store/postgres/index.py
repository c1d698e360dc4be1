"""The thread index and full-text search on PostgreSQL.

Same tables, methods and results as the SQLite index. Search matches the tokens that
``chatcli.store.fts`` stores with each message (a ``tsvector`` with a GIN index), all words
required, ranked as FTS5 ranks (bm25), and the snippet is cut as FTS5 cuts it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from psycopg.rows import tuple_row

from chatcli.store.base import Held, Params, Row, SearchHit, the_row
from chatcli.store.decode import loads
from chatcli.store.fts import idf, query_phrases, snippet, tsquery_literal
from chatcli.store.index import (
    CLOSE,
    OPEN,
    STATEMENTS,
    SqlThreadIndex,
    marked,
    passes,
    postgres_style,
    purging,
    spent_of,
)
from chatcli.store.keys import MARK, REF_KEY, TAIL

if TYPE_CHECKING:
    from psycopg import AsyncConnection  # noqa: F401 - named in PostgresThreadIndex's base class, as a string


class PostgresThreadIndex(SqlThreadIndex["AsyncConnection[Any]"]):
    """The index of threads on the saver's connection (autocommit), under the saver's lock."""

    NO_LIMIT = None
    SQL = {
        **postgres_style({**STATEMENTS, "purge": purging("checkpoints", "checkpoint_blobs", "checkpoint_writes")}),
        "head": (
            "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' ORDER "
            "BY checkpoint_id DESC LIMIT 1"
        ),
        # Values other than strings, numbers and None live in checkpoint_blobs, one row per version.
        "blobs": """SELECT bl.channel, bl.type, bl.blob
              FROM checkpoints c CROSS JOIN jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
              JOIN checkpoint_blobs bl ON bl.thread_id = c.thread_id AND bl.checkpoint_ns = c.checkpoint_ns
                   AND bl.channel = v.key AND bl.version = v.value
             WHERE c.thread_id = %s AND c.checkpoint_ns = '' AND c.checkpoint_id = %s""",
        # Each checkpoint's id, its parent's, the last message of its list (its metadata's TAIL; else its message
        # list's blob, a ref, at the version the checkpoint names), the two fields of its metadata the tree reads, and
        # its time.
        "points": f"""SELECT c.checkpoint_id, c.parent_checkpoint_id, jsonb_typeof(c.metadata -> '{TAIL}'),
                   c.metadata ->> '{TAIL}', bl.type, bl.blob, c.metadata ->> 'model', c.metadata ->> '{MARK}',
                   c.checkpoint ->> 'ts' FROM checkpoints c
              LEFT JOIN checkpoint_blobs bl ON bl.thread_id = c.thread_id AND bl.checkpoint_ns = c.checkpoint_ns
                   AND bl.channel = 'messages' AND bl.version = c.checkpoint -> 'channel_versions' ->> 'messages'
                   AND coalesce(jsonb_typeof(c.metadata -> '{TAIL}'), '') NOT IN ('number', 'null')
             WHERE c.thread_id = %s AND c.checkpoint_ns = '' ORDER BY c.checkpoint_id""",
    }

    async def _fetch(self, sql: str, params: Params) -> list[Row]:
        async with self.conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(sql, params)
            return list(await cur.fetchall())

    async def _execute(self, sql: str, params: Params) -> int:
        # PostgreSQL text cannot hold NUL: a title taken from a question with one drops it.
        params = tuple(p.replace("\x00", "") if isinstance(p, str) else p for p in params)
        async with self.conn.cursor() as cur:
            await cur.execute(sql, params)
            return cur.rowcount

    async def _execute_all(self, statements: list[str], params: Params) -> None:
        async with self.conn.transaction(), self.conn.cursor() as cur:
            for statement in statements:
                await cur.execute(statement, params)

    async def _hold(self, thread_id: str, usd: float, limits: tuple[float | None, ...], day_start: float) -> Held:
        async with self.conn.transaction(), self.conn.cursor(row_factory=tuple_row) as cur:
            # One transaction at a time sums and holds, across processes: the lock goes with the transaction.
            await cur.execute("SELECT pg_advisory_xact_lock(hashtext('chatcli_spending'))")
            await cur.execute(self.SQL["spent"], self.spent_params(thread_id, day_start))
            spent = spent_of(list(await cur.fetchall()))
            if not passes(spent, usd, limits):
                return Held(None, spent)
            await cur.execute(
                "INSERT INTO chatcli_spending (thread_id, at, usd, held) VALUES (%s, %s, %s, true) RETURNING id",
                (thread_id, time.time(), usd),
            )
            (row,) = the_row(await cur.fetchone())
        return Held(int(row), spent)

    async def _channel_values(self, thread_id: str) -> dict[str, Any] | None:
        rows = await self._rows(self.SQL["head"], (thread_id,))
        if not rows:
            return None
        checkpoint_id, checkpoint = rows[0]
        values = dict(checkpoint.get("channel_values") or {})
        for channel, type_, blob in await self._rows(self.SQL["blobs"], (thread_id, checkpoint_id)):
            if type_ != "empty":
                values[channel] = loads(type_, blob)
        return values

    async def _points(self, thread_id: str) -> list[tuple[str, str | None, Any, Any, Any, Any]]:
        found: list[tuple[str, str | None, Any, Any, Any, Any]] = []
        for c, parent, kind, tail, type_, blob, model, mark, ts in await self._rows(self.SQL["points"], (thread_id,)):
            if kind in ("number", "null"):  # its metadata names the message: nothing to decode
                found.append((c, parent, None if tail is None else {REF_KEY: int(tail)}, model, mark, ts))
            else:
                found.append((c, parent, loads(type_, blob), model, mark, ts))
        return found

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching ``text`` (words, all required), best first (FTS5's bm25 ranking)."""
        phrases = query_phrases(text)
        if not phrases:
            return []
        # The corpus figures bm25 needs: messages, tokens, and the messages holding each phrase.
        found_in = ", ".join(["(SELECT count(*) FROM chatcli_messages WHERE search @@ %s::tsquery)"] * len(phrases))
        ((messages, tokens, *holding),) = await self._rows(
            f"SELECT messages, tokens, {found_in} FROM chatcli_search_stats",
            tuple(tsquery_literal([phrase]) for phrase in phrases),
        )
        average = tokens / messages if messages else 1.0
        # Each phrase's share, as FTS5 computes it (k1 = 1.2, b = 0.75); f{i} is its frequency.
        score = " + ".join(
            f"%s::float8 * ((f.f{i} * 2.2) / (f.f{i} + 1.2 * (1 - 0.75 + 0.75 * m.ntokens / %s::float8)))"
            for i in range(len(phrases))
        )
        counted = [_frequency(phrase) for phrase in phrases]
        frequencies = ", ".join(f"{sql} AS f{i}" for i, (sql, _) in enumerate(counted))
        weights = [value for hits in holding for value in (idf(messages, hits), average)]
        rows = await self._rows(
            f"""SELECT m.thread_id, t.title, m.pos, m.role, m.text, m.node, m.created_at, {score} AS score
                  FROM chatcli_messages m
                  CROSS JOIN LATERAL (SELECT {frequencies}) AS f
                  LEFT JOIN chatcli_threads t ON t.thread_id = m.thread_id
                 WHERE m.search @@ %s::tsquery
                 ORDER BY score DESC, m.node
                 LIMIT %s""",
            (*weights, *(value for _, params in counted for value in params), tsquery_literal(phrases), limit),
        )
        return [
            marked(
                SearchHit(
                    tid,
                    title,
                    pos // 2 + 1,
                    role,
                    snippet(body or "", phrases, open_mark=OPEN, close_mark=CLOSE),
                    node,
                    when,
                )
            )
            for tid, title, pos, role, body, node, when, _ in rows
        ]


def _frequency(phrase: list[str]) -> tuple[str, list[Any]]:
    """SQL for how often ``phrase`` occurs in a message's tokens, and its parameters.

    A phrase ending in a prefix ("alic*") is counted inline: ``chatcli_phrase_count`` (a
    migration) compares whole tokens only.
    """
    if not phrase[-1].endswith("*"):
        return "chatcli_phrase_count(m.search, %s::text[])", [list(phrase)]
    params: list[Any] = []

    def match(alias: str, tok: str) -> str:
        params.append(tok[:-1] if tok.endswith("*") else tok)
        return f"starts_with({alias}.lexeme, %s)" if tok.endswith("*") else f"{alias}.lexeme = %s"

    conditions = [match("h", phrase[0])]
    for i, tok in enumerate(phrase[1:], start=1):
        conditions.append(
            f"EXISTS (SELECT 1 FROM unnest(m.search) AS l{i} WHERE {match(f'l{i}', tok)} AND p + {i} = ANY "
            f"(l{i}.positions))"
        )
    return "(SELECT count(*)::INTEGER FROM unnest(m.search) AS h, unnest(h.positions) AS p WHERE " + " AND ".join(
        conditions
    ) + ")", params

"""Full-text search the way SQLite's FTS5 does it, for stores that have no FTS5 (PostgreSQL).

The SQLite store indexes messages with FTS5 (``unicode61`` tokenizer) and shows hits with
``snippet()``. To give the same results elsewhere this module reproduces both: text is
cut into the same tokens (runs of letters, digits and private-use characters, folded to
lower case without diacritics), a question is the same list of phrases (one per word, all
required), and a snippet picks the same window of tokens and marks the same matches
(Unicode tables differ a little: some emoji newer than SQLite's tables can cut differently).
PostgreSQL then only stores and matches the tokens (``search_fields`` / ``tsquery_literal``),
so its own parser and the server's locale play no part, and ranks hits by FTS5's ``bm25()``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

Token = tuple[int, int, str]
"""One token: start and end offsets in the text, and the folded token."""

# PostgreSQL limits: positions go up to 16383, a lexeme keeps at most 256 of them, a lexeme
# is shorter than 2 KB and a whole tsvector smaller than 1 MB (this leaves room to spare).
_MAX_POS = 16383
_MAX_POSITIONS = 256
_MAX_LEXEME_BYTES = 2046
_MAX_VECTOR_BYTES = 900_000


_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SENTENCE_END = re.compile(r"[.:][ \t\n\r]+")  # what ends a sentence, up to the next one's first character


@lru_cache(maxsize=4096)
def _is_token_char(char: str) -> bool:
    """Letters, digits and private-use characters make tokens (unicode61's "L* N* Co").

    Code points without a category are token characters too, as in SQLite (whose Unicode
    tables are older: a few newer emoji are unassigned there and glue to the word before).
    """
    if char < "\x80":
        return char.isalnum()
    category = unicodedata.category(char)
    return category[0] in "LN" or category in ("Co", "Cn")


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """Lower case without diacritics ("É" -> "e"); a lone combining mark folds to nothing."""
    if char < "\x80":
        return char.lower()
    return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)).lower()


def tokens(text: str) -> list[Token]:
    """Cut ``text`` into tokens as FTS5's unicode61 tokenizer does.

    A token starts at a letter, digit or private-use character and runs on through those
    and through combining marks (which fold away); everything else separates tokens.
    """
    if text.isascii():  # the common case, at C speed
        return [(m.start(), m.end(), m.group().lower()) for m in _ASCII_TOKEN.finditer(text)]
    result: list[Token] = []
    start = -1
    folded: list[str] = []
    for i, char in enumerate(text):
        if _is_token_char(char) or (start >= 0 and char >= "\x80" and unicodedata.combining(char)):
            if start < 0:
                start = i
            folded.append(_fold(char))
        elif start >= 0:
            result.append((start, i, "".join(folded)))
            start, folded = -1, []
    if start >= 0:
        result.append((start, len(text), "".join(folded)))
    return result


def query_phrases(text: str) -> list[list[str]]:
    """The phrases of a search: one per whitespace-separated word, each a list of tokens.

    Words without any token ("?", "--") are left out, as FTS5 leaves out empty phrases. A word
    ending in ``*`` matches as a prefix: its last token is given with the ``*`` (tokens never
    hold one), as FTS5 reads ``"alic"*``.
    """
    found = [([tok for _, _, tok in tokens(word.rstrip("*"))], word.endswith("*")) for word in text.split()]
    return [[*phrase[:-1], phrase[-1] + "*"] if star else phrase for phrase, star in found if phrase]


def fts5_query(text: str) -> str:
    """An FTS5 query needing every word of ``text``: each a quoted string (no operator, column
    filter or NEAR is read from it), a trailing ``*`` a prefix match."""
    words = [(word.rstrip("*"), "*" if word.endswith("*") else "") for word in text.split()]
    return " ".join('"' + core.replace('"', '""') + '"' + star for core, star in words if tokens(core))


def _matches(token: str, wanted: str) -> bool:
    return token.startswith(wanted[:-1]) if wanted.endswith("*") else token == wanted


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def search_fields(text: str) -> tuple[str, int]:
    """What PostgreSQL stores to search ``text``: its tokens as a ``tsvector`` literal (each
    with its positions), and how many tokens it has (for ranking).

    Positions past PostgreSQL's limit share the last one, as ``to_tsvector`` does; a text too
    big for one tsvector keeps the tokens that fit (all words of any realistic message).
    """
    toks = tokens(text)
    positions: dict[str, list[int]] = {}
    for position, (_, _, tok) in enumerate(toks, start=1):
        if len(tok.encode()) > _MAX_LEXEME_BYTES:
            continue
        kept = positions.setdefault(tok, [])
        position = min(position, _MAX_POS)
        if len(kept) < _MAX_POSITIONS and (not kept or kept[-1] != position):
            kept.append(position)
    parts: list[str] = []
    size = 0
    for lexeme, where in positions.items():
        part = _quote(lexeme) + ":" + ",".join(map(str, where))
        size += len(part.encode()) + 1
        if size > _MAX_VECTOR_BYTES:
            break
        parts.append(part)
    return " ".join(parts), len(toks)


def _lexeme(tok: str) -> str:
    return _quote(tok[:-1]) + ":*" if tok.endswith("*") else _quote(tok)


def tsquery_literal(phrases: Sequence[Sequence[str]]) -> str:
    """A PostgreSQL ``tsquery`` literal that needs every phrase, each as consecutive tokens (``:*`` a prefix)."""
    return " & ".join("(" + " <-> ".join(_lexeme(tok) for tok in phrase) + ")" for phrase in phrases)


def idf(rows: int, hits: int) -> float:
    """FTS5's inverse document frequency of a phrase found in ``hits`` of ``rows`` messages."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


# --------------------------------------------------------------------------- snippets
# A port of FTS5's snippet() (fts5_aux.c): the window of ``size`` tokens holding the most
# distinct phrases, preferably starting a sentence, with the matches marked.


def _instances(toks: Sequence[str], phrases: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """(offset, phrase) of every match of every phrase, in document order."""
    return sorted(
        (offset, number)
        for number, phrase in enumerate(phrases)
        for offset in range(len(toks) - len(phrase) + 1)
        if all(_matches(toks[offset + i], wanted) for i, wanted in enumerate(phrase))
    )


def holds(text: str, phrases: Sequence[Sequence[str]]) -> bool:
    """True when ``text`` holds every phrase (as FTS5 matches a query of them)."""
    words = [tok for _, _, tok in tokens(text)]
    return bool(phrases) and {number for _, number in _instances(words, phrases)} == set(range(len(phrases)))


def _score(
    insts: Sequence[tuple[int, int]], sizes: Sequence[int], n_doc: int, begin: int, size: int
) -> tuple[int, int]:
    """Score of the window at ``begin`` (1000 per distinct phrase, 1 per repeat) and where to
    start it so that its matches sit in the middle."""
    seen: set[int] = set()
    score, first, last = 0, -1, 0
    for offset, phrase in insts:
        if begin <= offset < begin + size:
            score += 1 if phrase in seen else 1000
            seen.add(phrase)
            if first < 0:
                first = offset
            last = offset + sizes[phrase]
    adjusted = first - int((size - (last - first)) / 2)  # C division: rounds toward zero
    if adjusted + size > n_doc:
        adjusted = n_doc - size
    return score, max(adjusted, 0)


def _coalesced(insts: Sequence[tuple[int, int]], sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Matches as (first token, last token), overlapping ones merged."""
    spans: list[tuple[int, int]] = []
    for offset, phrase in insts:
        end = offset + sizes[phrase] - 1
        if spans and offset <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((offset, end))
    return spans


def snippet(text: str, phrases: Sequence[Sequence[str]], open_mark: str, close_mark: str, size: int = 12) -> str:
    """What FTS5's ``snippet(table, 0, open_mark, close_mark, '…', size)`` returns for ``text``."""
    toks = tokens(text)
    n_doc = len(toks)
    words = [tok for _, _, tok in toks]
    sizes = [len(phrase) for phrase in phrases]
    insts = _instances(words, phrases)
    # The tokens that start a sentence: the first, and any after '.' or ':' and a space.
    ends = {found.end() for found in _SENTENCE_END.finditer(text)}
    firsts = [position for position, (start, _, _) in enumerate(toks) if position == 0 or start in ends]

    best_score, best_start = 0, 0
    for offset, _ in insts:
        score, adjusted = _score(insts, sizes, n_doc, offset, size)
        if score > best_score:
            best_score, best_start = score, adjusted
        if firsts and n_doc > size:
            j = bisect_right(firsts, offset) - 1  # the last sentence start at or before the match (firsts[0] is 0)
            if firsts[j] < offset:
                score, _ = _score(insts, sizes, n_doc, firsts[j], size)
                score += 120 if firsts[j] == 0 else 100
                if score > best_score:
                    best_score, best_start = score, firsts[j]

    range_start, range_end = best_start, best_start + size - 1
    spans = iter([span for span in _coalesced(insts, sizes) if span[0] >= range_start])
    current = next(spans, (-1, -1))
    out = ["…"] if range_start > 0 else []
    at = 0  # offset in text up to which the output is written
    for position, (start, end, _) in enumerate(toks):
        if position < range_start or position > range_end:
            continue
        if range_start and position == range_start:
            at = start
        if position == current[0]:
            out += [text[at:start], open_mark]
            at = start
        if position == current[1]:
            out += [text[at:end], close_mark]
            at = end
            current = next(spans, (-1, -1))
        if position == range_end:
            out.append(text[at:end])
            at = end
            if current[0] <= position < current[1]:
                out.append(close_mark)
    out.append(text[at:] if range_end >= n_doc - 1 else "…")
    return "".join(out)

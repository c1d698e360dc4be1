"""The memories nearest a question, by an embedding model (the ``embedding_model`` setting): when they do not all
fit in their share of a request, the ones about what is asked go first, not merely the newest.

Each memory's vector is made once per model and text, and kept in LangGraph's store beside the memories
(chatcli.store.memories: ``MemoryBook.vectors``, all of a model's in one item), so a question costs one embedding of
its own text; a memory added or edited since is embedded then, a hundred at a time, each batch kept as it comes. The
vectors are kept at length 1 and compared here (their dot product, in Python: a user keeps at most a thousand
memories), not by the database: neither SQLite's vector extension nor pgvector is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from chatcli.core.memories import dot, unit
from chatcli.store.memories import MAX_DIMENSIONS, Memory, MemoryBook, vector_key

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

BATCH = 100  # texts embedded in one request (their vectors kept together)
MAX_QUESTION = 4000  # characters of the question that are embedded (its beginning)


@dataclass(eq=False)
class Relevance:
    """Scores memories by their nearness to a question with the embedding model ``spec`` (``build`` makes it, once:
    a setting it refuses is said when first needed, not at start-up; ``describe`` makes its client's errors one
    line, None for one it does not know)."""

    spec: str
    build: Callable[[], "Embeddings"]
    describe: Callable[[BaseException], str | None] = lambda exc: None
    _model: "Embeddings | None" = field(default=None, init=False)
    # The last scores, by what they were made of (the question and the memories): a turn's later model steps
    # (after its tool calls) ask the same, and are not embedded again.
    _last: tuple[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]] | None = field(default=None, init=False)

    def model(self) -> "Embeddings":
        if self._model is None:
            self._model = self.build()
        return self._model

    async def scores(self, book: MemoryBook, memories: Sequence[Memory], question: str) -> dict[str, float]:
        """Each memory's nearness to ``question`` by its id (a memory whose vector could not be made has none)."""
        asked_of = (question, tuple((m.id, m.text) for m in memories))
        if self._last is not None and self._last[0] == asked_of:
            return self._last[1]
        scores = await self._scores(book, memories, question)
        self._last = (asked_of, scores)
        return scores

    async def _scores(self, book: MemoryBook, memories: Sequence[Memory], question: str) -> dict[str, float]:
        model = self.model()
        kept = await book.vectors(self.spec)
        keys = {m.id: vector_key(self.spec, m.text) for m in memories}
        vectors: dict[str, Sequence[float]] = {key: kept[key] for key in set(keys.values()) if key in kept}
        missing = list(dict.fromkeys(m.text for m in memories if keys[m.id] not in vectors))
        stale = len(vectors) != len(kept)  # kept vectors of texts no memory has now: dropped when next written
        for start in range(0, len(missing), BATCH):
            texts = missing[start : start + BATCH]
            made = [unit(v) for v in _checked(await model.aembed_documents(texts), len(texts))]
            size = len(made[0])
            vectors = {key: v for key, v in vectors.items() if len(v) == size}  # (a model that changed its size)
            vectors.update((vector_key(self.spec, text), vector) for text, vector in zip(texts, made))
            await book.keep_vectors(self.spec, vectors)  # each batch kept as it comes
            stale = False
        if stale:
            await book.keep_vectors(self.spec, vectors)
        asked = unit(_checked([await model.aembed_query(question[:MAX_QUESTION])], 1)[0])
        found = {m.id: vector for m in memories if (vector := vectors.get(keys[m.id])) is not None}
        return {name: dot(asked, vector) for name, vector in found.items() if len(vector) == len(asked)}


def _checked(made: Any, count: int) -> list[list[float]]:
    """The embedding model's answer for ``count`` texts, as vectors of finite numbers; a ValueError naming what was
    wrong with it otherwise (a server's answer is not trusted to be what was asked for)."""
    if not isinstance(made, list) or len(made) != count:
        given = len(made) if isinstance(made, list) else "no"
        raise ValueError(f"the embedding model gave {given} vectors for {count} texts")
    vectors = []
    for vector in made:
        if not isinstance(vector, list) or not vector or len(vector) > MAX_DIMENSIONS:
            raise ValueError("the embedding model gave something other than a vector")
        numbers = [float(x) for x in vector if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if len(numbers) != len(vector) or not all(math.isfinite(x) for x in numbers):
            raise ValueError("the embedding model gave a vector that is not all numbers")
        vectors.append(numbers)
    return vectors

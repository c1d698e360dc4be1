"""The embeddings every fake server gives (OpenAI's ``/v1/embeddings``, Ollama's ``/api/embed``, Gemini's
``:batchEmbedContents``): a deterministic vector of the words of a text, so texts that share words are near.

Each word (lower case, letters and digits, the commonest English words left out) adds one to a dimension chosen
by its hash, and the vector is scaled to length 1: the cosine of two texts grows with the words they share, which
is what an embedding model's nearness means for the tests. ``Embedder`` records what each request asked for and
answers with a queued fault instead when a test wants one.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading

DIMENSIONS = 256
MODEL = "embed-fake"  # the embedding model every fake serves (under each provider's spelling)
_COMMON = frozenset(
    "a an and are as at be by do does for from had has have i in is it me my of on or our so that the their them "
    "this to was we what when where which who why will with you your".split()
)


def vector(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """``text``'s vector: its words, hashed."""
    values = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word not in _COMMON:
            values[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little") % dimensions] += 1.0
    length = math.hypot(*values)
    return [v / length for v in values] if length else values


class Embedder:
    """A fake server's embeddings: ``asked`` holds each request's texts; ``faults`` the HTTP statuses to answer the
    next requests with instead (one each); ``dimensions`` each vector's (a benchmark sets a real model's)."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.faults: list[int] = []
        self.dimensions = DIMENSIONS
        self._lock = threading.Lock()

    def answer(self, texts: list[str]) -> list[list[float]] | int:
        """The vectors of ``texts``, or the status of a queued fault."""
        with self._lock:
            self.asked.append(list(texts))
            if self.faults:
                return self.faults.pop(0)
        return [vector(text, self.dimensions) for text in texts]

    def texts(self) -> list[str]:
        """Every text embedded so far, in order."""
        with self._lock:
            return [text for asked in self.asked for text in asked]

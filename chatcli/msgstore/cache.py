"""In-memory cache of stored message chains, so a turn compares and loads O(new messages)."""

from __future__ import annotations

import operator

from langchain_core.messages import BaseMessage

_MAX_CHAINS_PER_THREAD = 16

_get_id = operator.attrgetter("id")
_get_content = operator.attrgetter("content")


class _Chain:
    """A stored message list: node ids and the message objects, position-aligned."""

    __slots__ = ("nodes", "msgs", "ids", "contents")

    def __init__(self, nodes: list[int], msgs: list[BaseMessage]) -> None:
        self.nodes = nodes
        self.msgs = msgs
        self.ids = list(map(_get_id, msgs))
        self.contents = list(map(_get_content, msgs))

    def extend(self, nodes: list[int], msgs: list[BaseMessage]) -> None:
        """Append in place: refs into the old prefix stay valid (nodes are immutable)."""
        self.nodes.extend(nodes)
        self.msgs.extend(msgs)
        self.ids.extend(map(_get_id, msgs))
        self.contents.extend(map(_get_content, msgs))

    def has(self, tail: int, n: int) -> bool:
        # A node's path to the root is unique, so a match at n-1 means the whole
        # prefix [:n] is that node's chain.
        return len(self.nodes) >= n and self.nodes[n - 1] == tail

    def prefix_len(self, new: list[BaseMessage]) -> tuple[int, bool]:
        """Common prefix length by identity (O(1) per message, C loops).

        The flag is True when the first difference is a message object that was
        changed in place since it was stored (its id or content object differs).
        """
        n = min(len(new), len(self.msgs))
        if (
            all(map(operator.is_, new, self.msgs))
            and all(map(operator.eq, map(_get_id, new), self.ids))
            and all(map(operator.is_, map(_get_content, new), self.contents))
        ):
            return n, False
        for i in range(n):
            m = new[i]
            if m is not self.msgs[i]:
                return i, False
            if m.id != self.ids[i] or m.content is not self.contents[i]:
                return i, True
        return n, False


class _ThreadCache:
    __slots__ = ("chains", "by_node")

    def __init__(self) -> None:
        self.chains: list[_Chain] = []  # most recently used first
        self.by_node: dict[int, BaseMessage] = {}

    def find(self, tail: int, n: int) -> _Chain | None:
        for i, chain in enumerate(self.chains):
            if chain.has(tail, n):
                if i:
                    self.chains.insert(0, self.chains.pop(i))
                return chain
        return None

    def touch(self, chain: _Chain) -> None:
        for i, c in enumerate(self.chains):
            if c is chain:
                if i:
                    self.chains.insert(0, self.chains.pop(i))
                return

    def add(self, chain: _Chain) -> None:
        """Add ``chain`` as most recent, dropping chains that are prefixes of it."""
        m = len(chain.nodes)
        self.chains = [
            c
            for c in self.chains
            if not (c.nodes and len(c.nodes) <= m and chain.nodes[len(c.nodes) - 1] == c.nodes[-1])
        ]
        self.chains.insert(0, chain)
        del self.chains[_MAX_CHAINS_PER_THREAD:]
        self.by_node.update(zip(chain.nodes, chain.msgs))



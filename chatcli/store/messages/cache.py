"""In-memory cache of stored message chains, so a turn compares and loads O(new messages)."""

from __future__ import annotations

import operator
from collections import deque

from langchain_core.messages import BaseMessage

_MAX_CHAINS_PER_THREAD = 16
_MAX_HANDED = 4

_get_id = operator.attrgetter("id")
_get_content = operator.attrgetter("content")


class Chain:
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

    def prefix_len(self, new: list[BaseMessage], trusted: int = 0) -> tuple[int, bool]:
        """Common prefix length by identity (O(1) per message, C loops).

        The flag is True when the first difference is a message object that was
        changed in place since it was stored (its id or content object differs).
        Only messages from index ``trusted`` on are checked for that: the caller
        knows the ones before were carried over unchanged (see ``reducer``), so
        a usual turn reads the attributes of its new messages only.
        """
        n = min(len(new), len(self.msgs))
        t = min(max(trusted, 0), n)
        same = all(map(operator.is_, new, self.msgs))  # map stops at the shorter list
        same = same and all(map(operator.eq, map(_get_id, new[t:n]), self.ids[t:n]))
        if same and all(map(operator.is_, map(_get_content, new[t:n]), self.contents[t:n])):
            return n, False
        for i in range(n):
            m = new[i]
            if m is not self.msgs[i]:
                return i, False
            if i >= t and (m.id != self.ids[i] or m.content is not self.contents[i]):
                return i, True
        return n, False


class ThreadCache:
    __slots__ = ("chains", "by_node", "handed")

    def __init__(self) -> None:
        self.chains: list[Chain] = []  # most recently used first
        self.by_node: dict[int, BaseMessage] = {}
        # Lists handed to LangGraph when reading a checkpoint, with their length then: a
        # checkpoint that puts one back carried those messages over unchanged.
        self.handed: deque[tuple[list[BaseMessage], int]] = deque(maxlen=_MAX_HANDED)

    def forget(self) -> None:
        """Drop everything (a cached object was found changed in place)."""
        self.chains.clear()
        self.by_node.clear()
        self.handed.clear()

    def carried(self, msgs: list[BaseMessage]) -> int:
        """How many leading messages of ``msgs`` were handed out unchanged (0 if not a handed list)."""
        return next((n for lst, n in self.handed if lst is msgs), 0)

    def find(self, tail: int, n: int) -> Chain | None:
        """The cached chain whose first ``n`` nodes end at ``tail``, now the most recently used; None if none is."""
        chain = next((chain for chain in self.chains if chain.has(tail, n)), None)
        if chain is not None:
            self.touch(chain)
        return chain

    def touch(self, chain: Chain) -> None:
        """Make ``chain`` (a cached one) the most recently used."""
        if chain in self.chains:  # (by identity: a Chain has no __eq__)
            self.chains.remove(chain)
            self.chains.insert(0, chain)

    def add(self, chain: Chain) -> None:
        """Add ``chain`` as most recent, dropping chains that are prefixes of it."""
        self.chains = [c for c in self.chains if not (c.nodes and chain.has(c.nodes[-1], len(c.nodes)))]
        self.chains.insert(0, chain)
        del self.chains[_MAX_CHAINS_PER_THREAD:]
        self.by_node.update(zip(chain.nodes, chain.msgs))

"""What answers a process's threads, decided once from the command line: chat's own graph, a graph of the user's
(``--graph``) or an Agent Server's assistant (``--remote``), with what it can do (``can``). A door reads the abilities
here and never asks which of the three it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatcli.service.abilities import CAN, Abilities

if TYPE_CHECKING:
    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.core.binding import Binding, Kind
    from chatcli.core.graph_app import GraphLoader


@dataclass(frozen=True)
class Answerer:
    """Chat's own graph (no ``graph``, no ``remote``), the graph a file or ./langgraph.json names (``graph``), or an
    Agent Server's assistant (``remote``): one of them, never both."""

    graph: GraphLoader | None = None
    remote: RemoteSpec | None = None

    @property
    def kind(self) -> Kind:
        return "remote" if self.remote is not None else "graph" if self.graph is not None else "chat"

    @property
    def can(self) -> Abilities:
        """What its threads can do: chat's own graph's model, system prompt, roles, tools, compaction, memories and
        AGENTS.md are chat's to choose; a graph of the user's and an Agent Server's choose their own."""
        return CAN[self.kind]

    @property
    def label(self) -> str | None:
        """How chat names what answers (``agent.py:graph``, an assistant, a server); None for chat's own graph."""
        found = self.remote or self.graph
        return found.label if found is not None else None

    @property
    def binding(self) -> Binding | None:
        """What its threads are bound to (chatcli.core.binding); None for chat's own graph (the model decides)."""
        found = self.remote or self.graph
        return found.binding if found is not None else None

    def again(self, thread_id: str) -> str:
        """The command line that goes on with thread ``thread_id``."""
        found = self.remote or self.graph
        return found.again(thread_id) if found is not None else f"chat -t {thread_id}"


OWN = Answerer()  # chat's own graph

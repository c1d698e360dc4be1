"""What chat asks of the graph that answers a thread, one typed definition for every door.

chat's own graph, a graph from a file and a deployed graph (``chatcli.backends.remote.state.ServerApp``,
which reads the server's threads) are each a ``GraphApp``: their state read, written and walked back
by thread. The two graphs that run in this process are a ``RunningGraph`` as well: chat streams their
runs itself (a deployed graph's run streams from its server, ``chatcli.backends.remote.run``).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Protocol

if TYPE_CHECKING:
    from chatcli.core.binding import Binding
    from chatcli.core.events import Compacted


class GraphApp(Protocol):
    """A thread's state by its config (``{"configurable": {"thread_id": ...}}``), as LangGraph's compiled graph
    gives it."""

    def aget_state(self, config: Any, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def aupdate_state(self, config: Any, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def aget_state_history(self, config: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]: ...


class RunningGraph(GraphApp, Protocol):
    """A graph chat runs here: its runs streamed as LangGraph streams them (``stream_mode`` and all)."""

    def astream(self, input: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]: ...


class GraphLoader(Protocol):
    """A graph that is not chat's own, before it is loaded (``chatcli.backends.graphs.load.GraphFile``: ``--graph``)."""

    @property
    def label(self) -> str:
        """How chat names the graph (``agent.py:graph``, an id of ./langgraph.json)."""

    @property
    def binding(self) -> Binding:
        """What its threads are bound to (chatcli.core.binding): the graph as the command line named it."""

    def again(self, thread_id: str) -> str:
        """The command line that goes on with thread ``thread_id`` of this graph."""

    async def open(self, saver: Any, stack: AsyncExitStack, say: Callable[[str], None]) -> RunningGraph:
        """The graph, with ``saver`` as its checkpointer unless it keeps its own; what it holds open stays open
        until ``stack`` closes; ``say`` tells the user a line."""


class Compactor(Protocol):
    """What folds a thread's earlier turns into its summary (chat's own graph: ``ChatGraph.compact``)."""

    async def compact(self, state: Any, config: Any, focus: str | None, emit: Any) -> tuple[dict[str, Any], Compacted]:
        """The state update that stores the new summary, and what was done (chatcli.core.events.Compacted), as the
        PreCompact hooks let it (``emit`` hears them)."""

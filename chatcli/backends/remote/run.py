"""Turns on a LangGraph server's thread: chatcli.backends.graphs.turns.GraphSource, its runs made on the server.

Each run is created with langgraph-sdk and streams ``messages-tuple`` (the tokens, from whichever node emits
them) and ``updates`` (tool calls and their results as the nodes store them), from subgraphs too; what
arrives is told exactly as a local graph's turn is (the node speaking, tool calls, interrupts asked and
answered with ``Command(resume=...)``). The run is created resumable and goes on when the connection
drops: the stream is joined again (``runs.join_stream`` from the last event seen) instead of the run
being started again. Stopped (Ctrl-C), the run is cancelled on the server, then the part that arrived is
kept in the thread, marked as interrupted, as chat keeps it in its own threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator

from chatcli.backends.graphs.messages import messages_of
from chatcli.backends.graphs.turns import GraphSource
from chatcli.backends.remote.client import MissingAssistant, Remote, translated
from chatcli.backends.remote.state import ServerApp, checkpoint_of
from chatcli.core.events import Listener, Notice, TurnResult
from chatcli.core.turn import Config, Progress
from chatcli.errors import ModelError

STREAM_MODES = ["messages-tuple", "updates"]
# How each run is made: streamed from subgraphs too, resumable, and going on when the connection drops.
RUN = dict(stream_mode=STREAM_MODES, stream_subgraphs=True, stream_resumable=True, on_disconnect="continue")
# The run's metadata naming the background reply (chat --bg) it was made for (chatcli.service.remote_jobs).
JOB_TAG = "chatcli_job"
# Times a dropped stream is joined again in one run (langgraph-sdk tries a few times itself first).
REJOINS = 3
# Seconds a stopped run is given to stop on the server before what arrived is kept.
CANCEL_WAIT = 5.0


@dataclass(frozen=True)
class Resume:
    """A run that resumes the thread's interrupts with ``value`` (LangGraph's Command, without importing it)."""

    value: Any


def request_of(payload: Any, config: dict[str, Any], job: str | None) -> dict[str, Any]:
    """What ``runs.stream`` takes for a turn's ``payload`` (an input, a ``Resume``, or None: go on from the
    checkpoint the config names), made as ``RUN`` says and tagged with the background reply ``job`` it is for.
    The run makes the thread when it is new."""
    given = {"command": {"resume": payload.value}} if isinstance(payload, Resume) else {"input": payload}
    tag = {"metadata": {JOB_TAG: job}} if job else {}
    return {**RUN, "if_not_exists": "create", **given, **tag, **(checkpoint_of(config) or {})}


class RemoteSource(GraphSource):
    """A graph's source whose runs are ``remote``'s assistant's, on the server."""

    def __init__(self, remote: Remote, app: ServerApp | None = None, pricer: Any = None):
        super().__init__(app or ServerApp(remote), pricer)
        self.remote = remote
        self.run_id: str | None = None
        self.last_event: str | None = None

    def resumed(self, value: Any) -> Resume:
        self._resuming()
        return Resume(value)  # langgraph.types (and LangSmith's client with it) stays unimported: 0.1-0.2 s

    async def stream(
        self, payload: Any, config: Config, listener: Listener, result: TurnResult, progress: Progress
    ) -> None:
        """One run on the server until it ends or an interrupt stops it."""
        thread, self._whole = config["configurable"]["thread_id"], set()
        self.run_id = self.last_event = None
        asked = request_of(payload, config, self.remote.spec.job)
        first = self.remote.client.runs.stream(thread, self.remote.assistant_id, **asked)
        parts = self._rejoined(first, thread, listener)
        try:
            with translated(self.remote.spec):
                async for part in parts:
                    mode, _, namespace = part.event.partition("|")  # "messages|tools:call_1": a subgraph's
                    data = part.data
                    if mode == "messages" and isinstance(data, list) and len(data) == 2:
                        spoke = tuple(namespace.split("|")) if namespace else ()
                        self._message(data, spoke, listener, result, progress)
                    elif mode == "metadata" and isinstance(data, dict):
                        self.run_id = data.get("run_id") or self.run_id
                        getattr(listener, "taken", lambda: None)()  # the thread exists now: it may be named
                    elif mode == "updates" and isinstance(data, dict):
                        for node, output in data.items():
                            if node != "__interrupt__":
                                self._updates(messages_of(output), listener, progress)
                    elif mode == "error":
                        raise ModelError(f"the graph failed on the server: {_failure(data)}")
        except asyncio.CancelledError:
            await asyncio.shield(self._stop(thread))
            raise
        except MissingAssistant:
            raise await self.remote.missing() from None
        finally:  # a run that failed mid-stream leaves no stream open for the event loop's end to close
            await asyncio.shield(_closed(parts))

    async def _rejoined(self, first: AsyncIterator[Any], thread: str, listener: Listener) -> AsyncIterator[Any]:
        """The run's events; after a dropped connection, those of the same run, joined again after the last seen."""
        import httpx

        source, rejoins = first, 0
        while True:
            try:
                async for part in source:
                    self.last_event = part.id or self.last_event
                    yield part
                return
            except GeneratorExit:  # closed by its reader (the run failed, or was stopped): the stream too
                await _closed(source)
                raise
            except httpx.TransportError:
                if self.run_id is None or rejoins == REJOINS:
                    raise
                rejoins += 1
                listener.hear(Notice("the connection to the server dropped: joining the run again"))
                source = self.remote.client.runs.join_stream(
                    thread, self.run_id, stream_mode=STREAM_MODES, last_event_id=self.last_event
                )

    async def _stop(self, thread: str) -> None:
        """Cancel the run on the server (what arrived is kept next, by ``keep``)."""
        if self.run_id is None:
            return
        # Stopping goes on whatever happens: what arrived is on the screen, the server may be gone.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_WAIT):
                await self.remote.client.runs.cancel(thread, self.run_id, wait=True, action="interrupt")

    def _knows(self, node: str) -> bool:
        return True  # the server's nodes are known as they speak


async def _closed(stream: Any) -> None:
    """Close an async stream now, if it can be closed (what it says on closing is of no interest then)."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing a stream that already failed
            await close()


def _failure(data: Any) -> str:
    said = data if isinstance(data, dict) else {"message": str(data)}
    return ": ".join(str(said[k]) for k in ("error", "message") if said.get(k)) or "no reason given"

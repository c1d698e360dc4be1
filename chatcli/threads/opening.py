"""The database opened for thread management (``chat threads``, ``show``, ``rm``...): no model, no key."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from chatcli.config import Settings
from chatcli.store import open_store
from chatcli.threads.operations import Threads


@asynccontextmanager
async def open_threads(settings: Settings, read_only: bool = False, light: bool = False) -> AsyncIterator[Threads]:
    """Open the database for thread management; no model or key is needed.

    ``read_only``: only reading follows (list, show, export, search): a database chat may not
    write is opened for reading. ``light``: the caller lists, shows, exports, searches, renames
    or deletes, which read and change rows directly, without LangGraph: the model stack is never
    imported. Import and fork write threads the way a conversation does, through the graph.
    """
    from chatcli.store.light import open_light_store

    async with (open_light_store if light else open_store)(settings.db or "", read_only) as store:
        app = None
        if not light:
            from chatcli.backends.own.graph import build_graph

            app = build_graph(None, store.saver, default_system=settings.system, context_tokens=settings.context_tokens)
        yield Threads(app, store, settings=settings)

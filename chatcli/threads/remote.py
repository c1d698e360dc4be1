"""A LangGraph Agent Server's threads, as the prompt's thread commands, Tab completion and ``chat serve --remote``
read them: listed, shown, exported and deleted on the server (``chat --remote URL``)."""

from __future__ import annotations

from typing import Any, List

from chatcli.backends.remote.client import Remote, translated
from chatcli.core.graph_app import GraphApp
from chatcli.errors import UsageError
from chatcli.store import ThreadInfo
from chatcli.store.base import Waiting
from chatcli.threads.masking import masked


class RemoteThreads:
    """The server's threads, as the prompt's thread commands and Tab completion read them."""

    def __init__(self, remote: Remote, app: GraphApp, db: str = ""):
        self.remote, self.app = remote, app
        self.db = db  # chat's database: its inbox, where the server's threads that wait are noted too
        self.secrets: tuple[str, ...] = ()  # masked where shown (chatcli.threads.operations.Threads.secrets)

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        return masked(await self.remote.threads(limit), self.secrets)

    async def waiting(self) -> List[Waiting]:
        """What waits for the user, as ``chat inbox`` lists it: chat's inbox, in its database, holds every thread
        that waits, this server's (noted as each turn ends) and any other's."""
        from chatcli.store.light import open_light_store

        async with open_light_store(self.db, read_only=True) as store:
            return masked(await store.index.waiting(), self.secrets)

    async def info(self, thread_id: str | None) -> ThreadInfo | None:
        if not thread_id:
            return None
        try:
            return await self.remote.thread(thread_id)
        except UsageError:
            return None

    async def transcript(self, thread_id: str) -> Any:
        from chatcli.threads.operations import Transcript

        info = await self.remote.thread(thread_id)
        state = await self.app.aget_state({"configurable": {"thread_id": info.thread_id}})
        return Transcript(info, list(state.values.get("messages") or []), None, {})

    async def shown(self, thread_id: str) -> Any:
        return masked(await self.transcript(thread_id), self.secrets)

    async def export_json(self, thread_id: str) -> dict[str, Any]:
        """The thread as ``chat export --format json`` gives one of chat's own."""
        from chatcli.threads.operations import exported

        return exported(await self.shown(thread_id))

    async def delete(self, thread_id: str, on_wait: Any = None) -> None:
        """Delete the thread on the server, for good (its runs with it)."""
        from chatcli.store.light import open_light_store

        found = await self.remote.thread(thread_id)
        with translated(self.remote.spec):
            await self.remote.client.threads.delete(found.thread_id)
        async with open_light_store(self.db) as store:  # nothing waits on it now (chat inbox)
            if await store.index.get(found.thread_id) is None:
                await store.index.waits(found.thread_id, [])

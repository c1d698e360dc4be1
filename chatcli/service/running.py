"""What a process runs on its threads: every door's turns, compactions and commands, each in a task known here.

A door starts its work here (``Running.start``), so that the service decides once what stops it: a thread deleted
in this process stops the work running on it first (``Chat.delete``), and a door that ends (``chat serve`` stopped,
an editor gone, a ``Chat`` closed) stops it all, each turn keeping its partial answer as on Ctrl-C, before the store
closes. A turn is stopped once, however many ask (an editor's stop button, its going away, a delete): a second cancel
would cut short the saving of its part.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Running:
    """The tasks running on this process's threads, by thread (one per ``Chat``: one app of ``chat serve`` stopping
    never stops another's)."""

    def __init__(self) -> None:
        self.tasks: dict[asyncio.Task[Any], str] = {}
        # The tasks a stop was sent to (not those a timeout of their own cancels and takes back: a stop then goes).
        self._stopped: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    def stop(self, task: asyncio.Task[Any] | None) -> None:
        """Stop ``task`` as Ctrl-C does (it keeps its part): once, however many ask."""
        if task is not None and not task.done() and task not in self._stopped:
            self._stopped.add(task)
            task.cancel()

    def start(self, work: Coroutine[Any, Any, T], thread_id: str) -> asyncio.Task[T]:
        """``work`` on ``thread_id`` (a turn, a compaction, a command) in a task of its own, stopped with its thread
        (``stop_all`` of ``on(thread_id)``: Chat.delete) and with the door (``stop_all``)."""
        task = asyncio.ensure_future(work)
        self.tasks[task] = thread_id
        task.add_done_callback(lambda done: self.tasks.pop(done, None))
        return task

    def on(self, thread_id: str) -> list[asyncio.Task[Any]]:
        """The tasks running on ``thread_id`` here."""
        return [task for task, thread in self.tasks.items() if thread == thread_id and not task.done()]

    async def stop_all(self, timeout: float = 10.0, tasks: list[asyncio.Task[Any]] | None = None) -> None:
        """Stop every task still running (``tasks``: those alone; each turn keeps its partial answer, marked), and wait
        up to ``timeout``."""
        tasks = [task for task in self.tasks if not task.done()] if tasks is None else tasks
        for task in tasks:
            self.stop(task)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

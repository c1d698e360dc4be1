"""Signals that stop a reply: Ctrl-C (SIGINT), kill (SIGTERM), a closed terminal (SIGHUP).

Each is handled as Ctrl-C is: the work in progress is cancelled once, and what arrived is
kept (the partial answer, marked). A second signal while that is being saved changes nothing:
the save is never skipped, and the command then ends with 128 + the first signal's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Callable, Iterator

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def on_stop_signals(handler: Callable[[int], None], signals: tuple[int, ...] = STOPPING) -> Iterator[None]:
    """While the block runs, ``handler(signum)`` is called (in the event loop) for each of ``signals``."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)


class StopOnSignal:
    """Cancels one task at the first stop signal and remembers which signal it was."""

    def __init__(self, task: asyncio.Task):
        self.task = task
        self.received: int | None = None

    def __call__(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            self.task.cancel()
        # Later signals: the partial answer is being saved; stopping that would lose it.


@contextlib.contextmanager
def ctrl_c_cancels(task: asyncio.Task) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) cancels ``task`` instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)

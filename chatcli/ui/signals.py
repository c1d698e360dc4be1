"""Signals that stop a reply: Ctrl-C (SIGINT), kill (SIGTERM), a closed terminal (SIGHUP).

Each is handled as Ctrl-C is: the work in progress is cancelled once, and what arrived is
kept (the partial answer, marked). A second signal while that is being saved changes nothing:
the save is never skipped, and the command then ends with 128 + the first signal's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any, Callable, Iterator

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def on_stop_signals(
    handler: Callable[[int], None], signals: tuple[int, ...] = STOPPING, ending: Callable[[], bool] = lambda: False
) -> Iterator[None]:
    """While the block runs, ``handler(signum)`` is called (in the event loop) for each of ``signals``. If the block
    ends with ``ending()`` true (a stop was taken: the command ends with it), they stay ignored from then on: a later
    one changes nothing, whenever it comes (set while they are blocked: removing a handler restores Python's)."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler, signum)
            installed.append(signum)
    try:
        yield
    finally:
        if ended := ending():
            signal.pthread_sigmask(signal.SIG_BLOCK, installed)
        for signum in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
                if ended:
                    signal.signal(signum, signal.SIG_IGN)
        if ended:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, installed)


class CtrlC:
    """Ctrl-C (SIGINT) for a whole prompt session: it cancels the work of the line taken last.

    The terminal gives Ctrl-C back as a signal the moment the prompt hands a line over, while the
    prompt is still closing: a Ctrl-C then cancels that line's work as it begins. At a prompt
    reading keys Ctrl-C is a key (the terminal is raw); a SIGINT sent from elsewhere is that key.
    """

    def __init__(self, session: Any = None):
        self.session = session
        self.task: asyncio.Task[object] | None = None
        self.early = False  # pressed after the prompt took the line, before its work began

    def __call__(self, signum: int) -> None:
        if self.task is not None:
            self.task.cancel()
        elif self.session is not None and self.session.app.is_running:
            self.session.app.exit(exception=KeyboardInterrupt())
        else:
            self.early = True

    @contextlib.contextmanager
    def cancels(self, task: asyncio.Task[object]) -> Iterator[None]:
        """While the block runs, Ctrl-C cancels ``task`` (at once, if it was pressed as the prompt closed)."""
        self.task = task
        if self.early:
            task.cancel()
        try:
            yield
        finally:
            self.task, self.early = None, False

"""The one redraw throttle of the live areas (the streaming Markdown, the thinking): at most one
redraw every ``interval`` seconds, and always one soon after the last piece, even if no more comes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable

SLOW_FACTOR = 5  # an adapting throttle waits at least this many draw-times between draws
MAX_INTERVAL = 1.0  # but never longer than this


class Throttle:
    """Calls ``draw`` when ``poke``d, at most every ``interval`` seconds; a poke inside that time
    schedules one redraw for when it ends (the server may pause right after it).

    With ``adapt``, a slow ``draw`` widens the interval to ``SLOW_FACTOR`` times its cost, up to
    ``MAX_INTERVAL``, so a long answer on a slow terminal is not redrawn more than it can take.
    """

    def __init__(
        self,
        draw: Callable[[], None],
        interval: float,
        *,
        adapt: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._draw, self._adapt, self._clock = draw, adapt, clock
        self.min_interval = self.interval = interval
        self._last = float("-inf")
        self._pending: Any = None
        self._stopped = False

    def poke(self) -> None:
        """Something new to show: draw now, or once the interval since the last draw is over."""
        if self._stopped:
            return
        waited = self._clock() - self._last
        if waited >= self.interval:
            self.now()
        elif self._pending is None:
            # no event loop (a caller feeding by hand): the next poke or the end draws it
            with contextlib.suppress(RuntimeError):
                self._pending = asyncio.get_running_loop().call_later(max(0.0, self.interval - waited), self.now)

    def now(self) -> None:
        """Draw at once (and learn how long a draw takes)."""
        self._pending = None
        if self._stopped:
            return
        start = self._last = self._clock()
        self._draw()
        if self._adapt and self.min_interval > 0:
            cost = self._clock() - start
            self.interval = min(MAX_INTERVAL, max(self.min_interval, SLOW_FACTOR * cost))

    def stop(self) -> None:
        """No more draws: the area is being closed."""
        self._stopped = True
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

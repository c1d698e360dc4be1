"""What a chat process changes for the whole process, in one place a test can put back (``reset``).

- The start-up import hook (``install``, chatcli.local.lazy_imports): library packages whose ``__init__`` imports far
  more than chat uses are registered without running it. ``CHATCLI_LAZY_IMPORTS=0`` turns it off.
- The loopback guard (chatcli.local.loopback): every connection checked, with the addresses each open owner named.
- The cycle collector during start-up. A chat process starts by importing LangGraph, LangChain, a provider's client
  and its own modules: some 200,000 objects, nearly all of which live as long as the process, and little garbage
  (about 1,500 objects). The collector runs a round every 700 new objects and, each time enough of them have built
  up, walks every object there is: about a third of a cold one-shot's CPU, for nothing. ``begin()``, first thing in
  a process, lets start-up allocate without a round: up to ``START_UP`` new objects, so a process that never says its
  start-up is over still collects, in larger rounds. ``over()``, once what the process runs on is imported
  (``Chat.open``, which every door and ``chat compact`` open a thread with; a command that follows or watches
  background replies; a daemon's warm-up), freezes every object there is (``gc.freeze``: no later round walks them
  again, and start-up's own garbage is kept with them, which costs less than finding it) and puts the collector's
  thresholds back. Only the first ``over()`` does anything, and neither does anything in a process that did not
  ``begin()`` (a library caller's, a test's).

Standard library only at its top: the launcher imports it before it decides where a run goes.
"""

from __future__ import annotations

import gc
import os

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Mapping

START_UP = 400_000  # new objects: what the prompt's start-up makes (about 220,000), with room to spare
# Set to 0 to import every library package whole (to rule the import hook out when something misbehaves).
SWITCH = "CHATCLI_LAZY_IMPORTS"

_thresholds: tuple[int, ...] | None = None


def install(environ: Mapping[str, str] = os.environ) -> bool:
    """Defer the unused packages' ``__init__`` unless ``CHATCLI_LAZY_IMPORTS`` is 0 (or off, false, no): before
    anything imports LangGraph, LangChain or OpenAI. True if installed."""
    from chatcli.local.lazy_imports import UNUSED_INITS, defer_package_init

    if environ.get(SWITCH, "").strip().lower() in ("0", "off", "false", "no"):
        return False
    for name in UNUSED_INITS:
        defer_package_init(name)
    return True


def begin() -> None:
    """Hold the collector's rounds back until ``over()`` (or ``START_UP`` new objects)."""
    global _thresholds
    if _thresholds is None and gc.isenabled():
        _thresholds = gc.get_threshold()
        gc.set_threshold(START_UP, *_thresholds[1:])


def over() -> None:
    """Start-up is over: keep what it built out of every later round, and collect as usual from now on."""
    global _thresholds
    if _thresholds is not None:
        thresholds, _thresholds = _thresholds, None
        gc.freeze()
        gc.set_threshold(*thresholds)


def reset() -> None:
    """The process as before any run (a test's, between tests): no address allowed, no import deferred
    that was not imported yet, the collector's thresholds back (what was frozen stays frozen)."""
    from chatcli.local import lazy_imports, loopback

    global _thresholds
    gc.set_threshold(*(_thresholds or gc.get_threshold()))
    _thresholds = None
    loopback.reset()
    lazy_imports.reset()

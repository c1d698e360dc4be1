"""A process's start-up, without the cycle collector's rounds.

A chat process starts by importing LangGraph, LangChain, a provider's client and its own modules: some 200,000
objects, nearly all of which live as long as the process (modules, classes, functions), and little garbage (about
1,500 objects). Python's cycle collector runs a round every 700 new objects and, each time enough of them have
built up, walks every object there is (three times in a cold one-shot's start, and once more as it exits): about a
third of a cold one-shot's CPU, for nothing.

``begin()``, first thing in a process, lets start-up allocate without a round: up to ``START_UP`` new objects, so a
process that never says its start-up is over still collects, in larger rounds. ``over()``, once what the process
runs on is imported (``Chat.open``, which every door and ``chat compact`` open a thread with; a command that follows
or watches background replies; a daemon's warm-up), freezes every object there is (``gc.freeze``: no later round
walks them again, and start-up's own garbage is kept with them, which costs less than finding it) and puts the
collector's thresholds back. Only the first ``over()`` does anything, and neither does anything in a process that
did not ``begin()`` (a library caller's, a test's).
"""

from __future__ import annotations

import gc

START_UP = 400_000  # new objects: what the prompt's start-up makes (about 220,000), with room to spare

_thresholds: tuple[int, ...] | None = None


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

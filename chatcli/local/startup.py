"""A process's start-up, without the cycle collector's rounds.

A chat process starts by importing LangGraph, LangChain, a provider's client and its own modules: some 250,000
objects, nearly all of which live as long as the process (modules, classes, functions), and almost no garbage (about
1,500 objects). Python's cycle collector, which runs a round every 700 new objects and walks everything every few
rounds, spends about a tenth of a cold one-shot's CPU walking them for nothing.

``begin()``, first thing in a process, lets start-up allocate without a round: up to ``START_UP`` new objects, so a
process that never says its start-up is over still collects, in larger rounds. ``over()``, once what a turn needs is
imported (``Chat.open`` at every door, a daemon's warm-up), freezes what start-up built (no later round walks it
again: ``gc.freeze``) and puts the collector's thresholds back. Both do nothing in a process that did not
``begin()`` (a library caller's, a test's).
"""

from __future__ import annotations

import gc

START_UP = 400_000  # objects: what the prompt's start-up builds, with room to spare

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

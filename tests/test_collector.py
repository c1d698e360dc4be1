"""A chat process starts without the cycle collector's rounds and collects as usual once its start-up is over
(chatcli.local.runtime): a long prompt, ``chat serve`` or ``chat acp`` keeps its memory as any Python process does.

What start-up saves is measured by benchmarks/startup_bench.py (row 26), not here."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatcli.config import load_settings
from chatcli.local import runtime
from tests.helpers import a_thread
from tests.test_graph_app import AGENT, graph_env  # noqa: F401  (a fixture)


@pytest.fixture
def collector() -> Iterator[tuple[int, ...]]:
    """This worker's collector as it was (its thresholds), put back after the test whatever the test did; earlier
    tests' garbage collected first, so that the test's ``over()`` freezes none of it."""
    thresholds = gc.get_threshold()
    gc.collect()
    yield thresholds
    gc.collect()
    runtime.over()  # a test that began and did not end (what is left is the worker's own, alive)
    gc.set_threshold(*thresholds)
    gc.enable()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def _collected_within(objects: int) -> bool:
    """Whether a cycle made now is freed by the collector's own rounds (no ``gc.collect()``) within ``objects`` new
    objects made after it."""
    first = Cycle()
    gone = weakref.ref(first)
    del first
    for _ in range(objects // 1000):
        [Cycle() for _ in range(1000)]  # each its own garbage cycle: counted as a new object, freed by a round only
        if gone() is None:
            return True
    return False


@pytest.mark.usefixtures("graph_env")  # the graph's own ChatOpenAI sees the fake server
@pytest.mark.parametrize("answering", ["own", "graph"])
async def test_once_chat_is_open_the_collector_runs_as_before_and_leaves_start_up_s_objects_alone(
    answering, collector, chat_env
):
    """Every door opens its thread through ``Chat.open``: from then on the process collects as it did before
    ``begin()``, and what start-up built (modules, classes) is frozen out of its rounds."""
    from chatcli.backends.graphs.load import GraphFile

    runtime.begin()
    assert gc.get_threshold()[0] == runtime.START_UP
    frozen = gc.get_freeze_count()
    settings = load_settings({}, environ=chat_env)
    graph = GraphFile(AGENT, Path.cwd()) if answering == "graph" else None
    async with a_thread(settings, "t", graph=graph) as thread:
        assert gc.get_threshold() == collector, "the usual rounds again"
        assert gc.get_freeze_count() > frozen, "what start-up built is kept out of them"
        await thread.send("hello")
    assert _collected_within(10_000), "a cycle made after start-up is freed by the usual rounds"


def test_a_process_that_never_says_its_start_up_is_over_still_collects(collector):
    """A command that never opens a thread (``chat threads``, a follower of a background reply) holds its rounds
    back for ``START_UP`` new objects at most: its garbage is freed all the same."""
    runtime.begin()
    assert not _collected_within(runtime.START_UP // 4), "start-up's rounds are held back"
    assert _collected_within(2 * runtime.START_UP), "but not for ever"


def test_a_library_caller_s_collector_is_left_alone(collector):
    """Code that opens a ``Chat`` in its own process (a test, an application of the user's) never called ``begin``:
    ``Chat.open`` changes nothing of its collector."""
    frozen = gc.get_freeze_count()
    runtime.over()
    assert gc.get_threshold() == collector
    assert gc.get_freeze_count() <= frozen, "nothing frozen (a frozen object may have died meanwhile)"
    gc.disable()  # a process that turned the collector off itself: begin() does not turn it on
    runtime.begin()
    runtime.over()
    assert not gc.isenabled() and gc.get_threshold() == collector

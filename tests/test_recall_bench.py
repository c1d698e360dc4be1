"""The recall benchmark (benchmarks/recall_bench.py) against the deterministic fake model (tests/recall_fake.py).

The fake summariser keeps exactly the planted sentences it is shown, and the fake model answers a question right
exactly when the sentences it needs reach its request: so these tests prove the benchmark's mechanics, not a model.
A faithful summary loses no question in any category; a summary that drops one fact costs exactly that fact's
question, in its category; what was remembered is answered in a new thread exactly when the memories are sent; the
report has its rows; and the checkers tell right replies from wrong ones.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chatcli.backends.own.request_history import SUMMARY_PREFIX
from tests.recall_fake import DONT_KNOW, RecallFake, text_of


def _bench() -> ModuleType:
    """benchmarks/recall_bench.py as a module (benchmarks/ is no package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "recall_bench.py"
    spec = importlib.util.spec_from_file_location("recall_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["recall_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rb = _bench()
TURNS, SEED = 40, 3


def fitting(settings: Any, thread: Any) -> Any:
    """The test's settings with a history budget the whole thread fits in (the benchmark's own choice)."""
    return replace(settings, context_tokens=thread.tokens() + rb.MARGIN)


def questions(server: Any, thread: Any) -> list[list[str]]:
    """The texts of each request that asked a probe, in order."""
    asked = thread_questions(thread)
    texts = [[text_of(m.get("content")) for m in request["messages"]] for request in server.requests]
    return [request for request in texts if request[-1] in asked]


def thread_questions(thread: Any) -> set[str]:
    return {probe.question for probe in thread.probes}


def replaced(thread: Any, latest: str) -> str:
    """The planted sentence an update (``latest``) replaced: planted facts are listed in their plant's order."""
    return thread.facts[thread.facts.index(latest) - 1]


def dropped(thread: Any, category: str) -> tuple[Any, str]:
    """The first probe of ``category`` and the planted sentence it needs most (its last)."""
    probe = next(p for p in thread.probes if p.category == category)
    return probe, probe.evidence[-1]


@pytest.mark.slow  # a conversation of TURNS turns, compacted and asked: about a second
async def test_a_faithful_summary_loses_no_question_and_nothing_is_invented(settings, server):
    thread = rb.generate(TURNS, SEED)
    fake = RecallFake(thread)
    server.default_reply = fake.reply
    full, compacted = await rb.run(fitting(settings, thread), thread)
    assert [a.reply for a in full.answers if not a.right] == []
    assert [a.reply for a in compacted.answers if not a.right] == []
    assert all(a.reply == DONT_KNOW for a in compacted.answers if a.probe.category == "abstention")
    assert rb.kept(compacted) == (16, 16) and fake.summaries >= 1
    # The full mode sent the whole thread; the compacted one the summary in place of the folded turns.
    sent = questions(server, thread)
    assert len(sent) == 2 * len(thread.probes) and max(a.left_out for a in full.answers) == 0
    said = [turn.question for turn in thread.turns]
    for request in sent[: len(thread.probes)]:
        assert request[1:-1:2] == said
    for request in sent[len(thread.probes) :]:
        assert request[1].startswith(SUMMARY_PREFIX)
        assert request[2:-1] == [said[0], said[-1], thread.turns[-1].answer]  # first question, last turn
    # Each question was taken back before the next: none saw another.
    asked = thread_questions(thread)
    assert all(sum(text in asked for text in request) == 1 for request in sent)
    assert compacted.compacted.turns == TURNS - 1


@pytest.mark.slow  # a conversation of TURNS turns, compacted and asked: about a second
async def test_a_compaction_in_several_calls_carries_the_summary_from_one_to_the_next(settings, server):
    thread = rb.generate(TURNS, SEED)
    fake = RecallFake(thread)
    server.default_reply = fake.reply
    budget = 1800  # a part of the thread per call; the summary of every fact (~1,500 characters) still fits
    _, compacted = await rb.run(fitting(settings, thread), thread, budget)
    assert fake.summaries > 1 and len(compacted.summary) < budget
    assert compacted.score() == (20, 20) and rb.kept(compacted) == (16, 16)


@pytest.mark.slow  # a conversation of TURNS turns, compacted and asked: about a second
@pytest.mark.parametrize("category", ["single", "updated", "multi_session", "temporal"])
async def test_a_summary_that_drops_a_fact_costs_exactly_its_question(settings, server, category):
    thread = rb.generate(TURNS, SEED)
    probe, fact = dropped(thread, category)
    server.default_reply = RecallFake(thread, drop=[fact]).reply
    full, compacted = await rb.run(fitting(settings, thread), thread)
    assert [a.probe for a in compacted.answers if not a.right] == [probe]
    assert full.score() == (20, 20), "the whole thread still answers it"
    for each in rb.CATEGORIES:
        assert compacted.score(each) == (3 if each == category else 4, 4), each
    assert rb.kept(compacted) == (15, 16) and rb.kept(compacted, category) == (3, 4)


@pytest.mark.slow  # a conversation of TURNS turns, compacted and asked: about a second
async def test_dropping_the_value_that_was_updated_costs_nothing(settings, server):
    thread = rb.generate(TURNS, SEED)
    latest = next(p for p in thread.probes if p.category == "updated").evidence[0]
    old = replaced(thread, latest)
    server.default_reply = RecallFake(thread, drop=[old]).reply
    _, compacted = await rb.run(fitting(settings, thread), thread)
    assert compacted.score() == (20, 20)


@pytest.mark.slow  # a conversation of TURNS turns, compacted and asked: about a second
async def test_what_was_remembered_is_answered_in_a_new_thread_only_when_the_memories_are_sent(settings, server):
    from chatcli.store import open_store

    thread = rb.generate(TURNS, SEED)
    server.default_reply = RecallFake(thread).reply
    (full, compacted), (on, off) = await rb.both(fitting(settings, thread), thread, None)
    assert full.score() == compacted.score() == (20, 20), "the long thread's questions are as before"
    assert on.score("cross_thread") == (4, 4), [a.reply for a in on.answers]
    assert off.score("cross_thread") == (0, 4), "with memories off, nothing in a new thread knows them"
    assert on.score("cross_abstention") == off.score("cross_abstention") == (2, 2)
    assert all(a.reply == DONT_KNOW for a in off.answers)
    # Kept as /remember keeps them, in the benchmark's database.
    async with open_store(settings.db) as store:
        kept = await store.memories().all()
    assert sorted(m.text for m in kept) == sorted(thread.remembered) and {m.source for m in kept} == {"prompt"}
    # The long thread ran before they were kept: none of its requests carries them. A new thread's request is its
    # system message and the question, the memories at the end of the system message (with memories on only).
    texts = [[text_of(m.get("content")) for m in request["messages"]] for request in server.requests]
    cross = {probe.question for probe in thread.cross}
    long, new = [t for t in texts if t[-1] not in cross], [t for t in texts if t[-1] in cross]
    assert long and not any(memory in text for t in long for text in t for memory in thread.remembered)
    assert len(new) == 2 * len(thread.cross)
    for request in new[: len(thread.cross)]:
        assert len(request) == 2 and all(f"\n- {memory}" in request[0] for memory in thread.remembered)
    for request in new[len(thread.cross) :]:
        assert len(request) <= 2 and not any(memory in text for text in request for memory in thread.remembered)


def test_the_report_has_a_row_per_category_for_both_modes(tmp_path):
    from chatcli.core.events import Compacted, TurnResult

    thread = rb.generate(TURNS, SEED)
    right = [rb.Answer(p, p.answer or DONT_KNOW, True, 0, 900) for p in thread.probes]
    lossy = [replace(a, reply="I don't know.", right=False) if i == 0 else a for i, a in enumerate(right)]
    done = Compacted(TURNS - 1, 2500, 300, None, TurnResult(""))
    runs = [rb.ModeRun("full", right, 1.0), rb.ModeRun("compacted", lossy, 2.0, done, "my locker code is 0000")]
    on = [rb.Answer(p, p.answer or DONT_KNOW, True, 0, 300) for p in thread.cross]
    off = [replace(a, reply=DONT_KNOW, right=not a.probe.evidence, sent=200) for a in on]
    crossed = [rb.ModeRun("memories on", on, 0.5), rb.ModeRun("memories off", off, 0.4)]
    out = tmp_path / "results-recall.md"
    rb.write(runs, thread, "fake", str(out), crossed)
    text = out.read_text()
    assert "| recall, single: right, full / compacted | 100% (4/4) / 75% (3/4) | — | — |" in text
    for category in ("updated", "multi_session", "temporal", "abstention"):
        assert f"| recall, {category}: right, full / compacted | 100% (4/4) / 100% (4/4) | — | — |" in text
    assert "| recall, all: right, full / compacted | 100% (20/20) / 95% (19/20) | — | — |" in text
    assert f"{TURNS - 1} turns folded, ~2,500 -> ~300 tokens sent" in text
    assert "| single | What is my locker code? | right | wrong: I don't know. |" in text
    assert "| recall, cross_thread: right, in a new thread | 100% (4/4) | — | — |" in text
    assert "| recall, cross_thread (memories off): right, in a new thread | 0% (0/4) | — | — |" in text
    assert "| recall, cross_abstention: right, memories on / off | 100% (2/2) / 100% (2/2) | — | — |" in text
    assert "| recall: cross_thread, what a question sent | ~300 tokens, ~200 with memories off | — | — |" in text
    assert "| cross_thread | What is my library card number? | right | wrong: I don't know: you have" in text
    assert "| cross_abstention | What is my aunt's name? | right | right |" in text


# --------------------------------------------------------------------------- the thread and the checkers


def test_the_thread_is_the_same_for_a_seed_and_keeps_its_facts_where_a_compaction_folds_them():
    thread = rb.generate(TURNS, SEED)
    assert thread == rb.generate(TURNS, SEED) and thread != rb.generate(TURNS, SEED + 1)
    where = {fact: [i for i, turn in enumerate(thread.turns) if fact in turn.question] for fact in thread.facts}
    assert all(len(turns) == 1 for turns in where.values()), "each fact is said once"
    kept_whole = (0, TURNS - 1)
    assert not any(where[fact][0] in kept_whole for fact in thread.facts)
    days = [turn.at.date() for turn in thread.turns]
    categories = [p.category for p in thread.cross]
    assert len(thread.remembered) == 4 and categories == 4 * ["cross_thread"] + 2 * ["cross_abstention"]
    assert not any(memory in turn.question for memory in thread.remembered for turn in thread.turns), "never said"
    for probe in thread.probes:
        if probe.category == "multi_session":
            first, second = (days[where[fact][0]] for fact in probe.evidence)
            assert first < second, probe.question  # sessions days apart
    for each in thread.probes:  # the value it was updated to comes after the one it replaced
        if each.category == "updated":
            assert where[replaced(thread, each.evidence[0])][0] < where[each.evidence[0]][0], each.question


def probe(thread: Any, start: str) -> Any:
    return next(p for p in thread.probes if p.question.startswith(start))


def test_the_checkers_take_right_replies_and_refuse_wrong_ones():
    thread = rb.generate(TURNS, SEED)
    for each in [*thread.probes, *thread.cross]:
        assert each.right(each.answer or "I don't know."), each.question
        if each.category not in rb.ABSTAINING:
            assert not each.right("I don't know."), each.question
    locker = probe(thread, "What is my locker code?")
    assert locker.right(f"Your locker code is {locker.answer}.")
    assert not locker.right(f"Your locker code is {locker.answer}1.")
    sync = probe(thread, "What time is the weekly team sync now?")
    old = replaced(thread, sync.evidence[0]).split()[-1]
    assert old != sync.answer and ":" in old
    assert not sync.right(f"The sync is at {old}.")
    assert sync.right(f"It moved from {old} to {sync.answer}.")
    first = probe(thread, "Which did I tell you about first")
    orders = [p for p in thread.probes if p.question.startswith("Which did I tell you about first")]
    named_first = [p.question.split(": ")[1].split(" or ")[0] for p in orders]  # the option the question names first
    assert [p.answer == named for p, named in zip(orders, named_first)] == [True, False]
    assert first.right(f"You mentioned {first.needs[0][0]} first.")
    assert not first.right(f"You mentioned {first.later} before {first.needs[0][0]}.")
    bike = probe(thread, "What is my bike lock code?")
    assert bike.right("You haven\u2019t told me your bike lock code.")
    assert not bike.right(f"Your bike lock code is {locker.answer}.")
    assert not bike.right("Sorry, I can't help with that.")
    brother = probe(thread, "What is my brother's name?")
    assert not brother.right(f"I don't know; maybe {rb.NAMES[0]}?")
    gym = next(p for p in thread.cross if p.question.startswith("What is my gym membership number?"))
    assert gym.right("You haven't told me your gym membership number.")
    assert not gym.right(f"Your gym membership number is {thread.cross[0].answer}.")

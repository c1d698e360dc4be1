"""Spending seen against the limits (#66): ``chat stats`` (its table and ``--json``) and /usage at the prompt say,
for each limit that is set, what the spending ledger holds against it (today, this thread; a question's limit as
the limit per question), what is left, and how to raise one that is reached; with no limit set, they say nothing
new (``--json`` has its ``spending`` object, limits empty).

The spending is made by real turns against the fake server, priced by config.toml's [prices] ($100 a million
tokens in, $1,000 out: 1,000 in and 100 out cost $0.20), and by rows written to the ledger through the store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from chatcli.service.limits import NOT_KEPT, limit_lines
from chatcli.threads.spending import Room, Standing, day_start
from tests.fakeserver import Reply
from tests.helpers import chat

COUNTS = {"prompt_tokens": 1000, "completion_tokens": 100}
PRICES = '[prices."gpt-fake"]\ninput = 100\noutput = 1000\n'
LIMITS = {"CHATCLI_MAX_COST_DAY": "5", "CHATCLI_MAX_COST_THREAD": "0.2", "CHATCLI_MAX_COST_ANSWER": "0.5"}
# Each call's most: its few tokens in, and 100 out (max_tokens) at $1,000 a million: about $0.10.
CONFIG = "max_tokens = 100\n" + PRICES


@pytest.fixture
def priced(chat_env, isolated_env):
    """chat_env with gpt-fake priced (and max_tokens set) in config.toml."""
    path = isolated_env / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG)
    return chat_env


async def spend(db: str, thread_id: str, usd: float) -> None:
    """A settled row in the spending ledger: ``usd`` spent by ``thread_id`` now."""
    from chatcli.store import open_store

    async with open_store(db) as store:
        held = await store.index.hold(thread_id, usd, (), day_start())
        assert held.row is not None
        await store.index.settle(held.row, usd)


# --------------------------------------------------------------------------- chat stats


def test_stats_shows_today_and_the_thread_that_spent_most_against_their_limits(server, priced):
    limited = {**priced, **LIMITS}
    server.queue(Reply("answer", usage=COUNTS), Reply("answer", usage={**COUNTS, "completion_tokens": 50}))
    assert chat(limited, "-t", "first", "one").code == 0
    assert chat(limited, "-t", "second", "two").code == 0  # 1,000 in, 50 out: $0.15

    table = chat(limited, "stats")
    assert table.code == 0, table
    assert table.out.splitlines()[-4].split()[0] == "total"  # the table as it was, then a line per limit
    assert table.out.splitlines()[-3:] == [
        "today: $0.3500 of $5.00 (max_cost_day) · $4.65 left",
        "the most in a thread (first): $0.2000 of $0.2000 (max_cost_thread) · reached: raise it in config.toml or "
        "CHATCLI_MAX_COST_THREAD",
        "each question: up to $0.5000 (max_cost_answer)",
    ]

    report = json.loads(chat(limited, "stats", "--json").out)
    spending = report["spending"]
    assert datetime.fromisoformat(spending["day_start"]).timestamp() == day_start()
    assert spending["today_usd"] == pytest.approx(0.35)
    assert spending["thread"] == {"thread_id": "first", "usd": pytest.approx(0.2)}
    assert spending["limits"] == [
        {
            "limit": "max_cost_day",
            "usd": 5.0,
            "spent_usd": pytest.approx(0.35),
            "left_usd": pytest.approx(4.65),
            "reached": False,
            "thread_id": None,
        },
        {
            "limit": "max_cost_thread",
            "usd": 0.2,
            "spent_usd": pytest.approx(0.2),
            "left_usd": pytest.approx(0.0),
            "reached": True,
            "thread_id": "first",
        },
        {
            "limit": "max_cost_answer",
            "usd": 0.5,
            "spent_usd": None,
            "left_usd": None,
            "reached": False,
            "thread_id": None,
        },
    ]
    assert report["total"]["cost_usd"] == pytest.approx(0.35)  # the rest of the report as it was

    later = chat(limited, "stats", "--since", "2999-01-01")  # --since leaves the ledger whole
    assert later.out.splitlines()[0] == "no answers since 2999-01-01 00:00"
    assert later.out.splitlines()[1:] == table.out.splitlines()[-3:]


def test_stats_with_no_limit_set_says_nothing_new(server, priced):
    server.queue(Reply("answer", usage=COUNTS))
    assert chat({**priced, **LIMITS}, "-t", "first", "one").code == 0  # spent while limits were set

    table = chat(priced, "stats")
    assert table.code == 0, table
    lines = table.out.splitlines()
    assert lines[-1].split() == ["total", "1", "1,000", "100", "$0.2000"], table.out
    assert "max_cost" not in table.out + table.err
    spending = json.loads(chat(priced, "stats", "--json").out)["spending"]
    assert spending["limits"] == [] and spending["today_usd"] == pytest.approx(0.2)  # the ledger, read for scripts
    assert spending["thread"] == {"thread_id": "first", "usd": pytest.approx(0.2)}

    assert chat({**priced, "CHATCLI_MAX_COST_DAY": "1"}, "stats").out.splitlines()[-1] == (
        "today: $0.2000 of $1.00 (max_cost_day) · $0.8000 left"  # one limit set: its line alone
    )


# --------------------------------------------------------------------------- /usage at the prompt


def limited(settings, **limits):
    return replace(settings, prices=(("gpt-fake", 100.0, 1000.0, 0.0),), max_tokens=100, **limits)


async def test_usage_shows_today_this_thread_and_the_question_s_limit(settings, server):
    from tests.test_prompt_inprocess import prompt_loop

    settings = limited(settings, max_cost_day=5.0, max_cost_thread=1.0, max_cost_answer=0.5)
    await spend(settings.db, "elsewhere", 1.0)  # another thread's today: the day's limit counts it
    server.queue(Reply("answer", usage=COUNTS))
    async with prompt_loop(settings) as session:
        await session.say("a question", then="answer")
        shown = await session.say("/usage", then="(max_cost_answer)")
        assert shown.splitlines() == [
            "1 turn · 1,000 tokens in · 100 out · $0.2000",
            "today: $1.20 of $5.00 (max_cost_day) · $3.80 left",
            "this thread: $0.2000 of $1.00 (max_cost_thread) · $0.8000 left",
            "each question: up to $0.5000 (max_cost_answer)",
        ], shown
        await spend(settings.db, "elsewhere", 3.8)  # another process spends the rest of the day
        shown = await session.say("/usage", then="(max_cost_answer)")
        assert shown.splitlines()[1] == (
            "today: $5.00 of $5.00 (max_cost_day) · reached: raise it in config.toml or CHATCLI_MAX_COST_DAY"
        ), shown


async def test_usage_with_no_limit_set_is_its_one_line(settings, server):
    from tests.test_prompt_inprocess import prompt_loop

    settings = limited(settings)
    server.queue(Reply("answer", usage=COUNTS))
    async with prompt_loop(settings) as session:
        await session.say("a question", then="answer")
        shown = await session.say("/usage", then=" out")
    assert shown.splitlines() == ["1 turn · 1,000 tokens in · 100 out · $0.2000"], shown


def test_a_thread_without_a_ledger_says_so_once_and_only_when_a_limit_is_set():
    # A server's thread (--remote): its model calls are the server's, never held against chat's limits.
    assert limit_lines(Standing([Room("max_cost_day", 5.0), Room("max_cost_answer", 1.0)], 0.0, kept=False)) == [
        NOT_KEPT
    ]
    assert limit_lines(Standing([], 0.0, kept=False)) == []
    assert limit_lines(Standing([], 0.0)) == []

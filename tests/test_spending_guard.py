"""The spending guard before each model call: a call's most (the request at the input price, the most the answer may
cost at the output price) is held within the answer's, the thread's and the day's limits, else refused in one line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chatcli.backends.own.pricing import Pricer
from chatcli.backends.own.spending import Guard, LimitReached
from chatcli.config import Settings
from chatcli.errors import ExitStatus

# $1 per million tokens in, $10 per million out (config.toml's [prices]): 10,000 in and 1,000 out cost $0.02.
PRICES = (("priced", 1.0, 10.0, 0.1),)


def guard(settings: Settings, ledger, **limits) -> Guard:
    chosen = replace(settings, prices=PRICES, **limits)
    return Guard(chosen, Pricer(chosen.prices), ledger)


async def test_the_answer_s_limit_refuses_the_call_that_could_pass_it_in_whichever_process_goes_on(settings):
    """A question's calls are counted in the ledger from its start: a second guard over the same store (another
    process resuming the question: chat inbox answer, --resume, chat attach --go-on) goes on counting them."""
    from chatcli.store import open_store

    async with open_store(settings.db) as store:
        g = guard(settings, store.index, max_cost_answer=0.05)
        await g.new_question("t")
        first = await g.before("t", "priced", 10_000, 1000)
        assert first.most == pytest.approx(0.02) and first.room == pytest.approx(0.05)
        await g.after(first, 0.015)  # it cost less than its most
        second = await g.before("t", "priced", 10_000, 1000)
        assert second.room == pytest.approx(0.035)
    async with open_store(settings.db) as store:  # the question resumed in another process
        other = guard(settings, store.index, max_cost_answer=0.05)
        with pytest.raises(LimitReached) as refused:  # 0.015 spent + 0.02 held + 0.02 at most > 0.05
            await other.before("t", "priced", 10_000, 1000)
        assert refused.value.limit == "max_cost_answer" and refused.value.exit_status == ExitStatus.LIMIT
        line = str(refused.value)
        assert "up to $0.0200" in line and "spent $0.0350 of its $0.0500" in line and "--max-cost" in line, line
        assert (await other.before("u", "priced", 10_000, 1000)).room == pytest.approx(0.05)  # another thread's
        await other.new_question("t")
        assert (await other.before("t", "priced", 10_000, 1000)).room == pytest.approx(0.05)  # a new question


async def test_the_thread_s_and_the_day_s_limits_are_read_from_the_store(settings):
    from chatcli.store import open_store

    async with open_store(settings.db) as store:
        one = guard(settings, store.index, max_cost_thread=0.05, max_cost_day=0.07)
        for _ in range(2):
            await one.after(await one.before("a", "priced", 10_000, 1000), 0.02)
        with pytest.raises(LimitReached, match=r"this thread has spent \$0.0400 of its \$0.0500 limit") as thread:
            await one.before("a", "priced", 10_000, 1000)
        assert thread.value.limit == "max_cost_thread"
        other = guard(settings, store.index, max_cost_day=0.07)  # another process's guard, another thread
        await other.after(await other.before("b", "priced", 10_000, 1000), 0.02)
        with pytest.raises(LimitReached, match=r"today has spent \$0.0600 of its \$0.0700 limit") as day:
            await other.before("c", "priced", 10_000, 1000)
        assert day.value.limit == "max_cost_day"


async def test_a_model_without_a_price_is_said_once_a_thread_refused_or_refused_when_an_untrusted_env_chose_it(
    settings,
):
    from chatcli.store import open_store

    async with open_store(settings.db) as store:
        said: list[str] = []
        allowed = guard(settings, store.index, max_cost_answer=0.01)
        for thread in ("t", "t", "u"):
            assert (await allowed.before(thread, "nobody-knows", 10_000, None, said.append)).row is None
        assert said == ["nobody-knows has no known price: its calls are not counted against the spending limits"] * 2
        refusing = guard(settings, store.index, max_cost_answer=0.01, unpriced="refuse")
        with pytest.raises(LimitReached, match="no known price") as refused:
            await refusing.before("t", "nobody-knows", 10_000, None)
        assert refused.value.limit == "unpriced"
        chosen = guard(settings, store.index, max_cost_answer=0.01, untrusted_model="mock:nitro")
        with pytest.raises(
            LimitReached, match="mock:nitro has no known price.*the untrusted .env here chose it"
        ) as env:
            await chosen.before("t", "mock:nitro", 10_000, None, said.append)
        assert env.value.limit == "unpriced" and "chat trust" in (env.value.hint or "")
        await chosen.before("t", "nobody-knows", 10_000, None, said.append)  # a model it did not choose: said
        assert len(said) == 3


async def test_a_call_s_most_is_its_requests_bound_else_the_model_s_and_unknown_is_refused(settings):
    """The most an answer may cost: the request's max_tokens or the model's output limit (the meter finds them);
    neither known, a graph's call is refused saying why. Chat's own calls, stopped as they stream, hold what the
    limits leave (at most their most), and are refused only when a short answer would not fit."""
    from chatcli.store import open_store

    async with open_store(settings.db) as store:
        g = guard(settings, store.index, max_cost_answer=1.0)
        assert (await g.before("t", "priced", 10_000, 50_000)).most == pytest.approx(0.01 + 0.5)
        with pytest.raises(LimitReached, match=r"up to \$1.01 \(max_tokens bounds an answer's most\)"):
            await g.before("u", "priced", 10_000, 100_000)
        with pytest.raises(LimitReached, match="the most the next model call could cost is not known") as unknown:
            await g.before("v", "priced", 10_000, None)
        assert unknown.value.limit == "max_cost_answer" and "max_tokens" in (unknown.value.hint or "")
        watched = await g.before("w", "priced", 10_000, 100_000, watched=True)  # 100,000 out: $1.01, past $1
        assert watched.most == pytest.approx(1.0) and watched.room == pytest.approx(1.0)
        assert (await g.before("x", "priced", 10_000, None, watched=True)).most == pytest.approx(0.01 + 0.01024)
        small = guard(settings, store.index, max_cost_answer=0.015)  # less than 10,000 in and 1,024 out
        with pytest.raises(LimitReached, match=r"up to \$0.0202"):
            await small.before("y", "priced", 10_000, 100_000, watched=True)


def _config(home, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


COUNTS = {"prompt_tokens": 1000, "completion_tokens": 100}
# gpt-fake at $10 in and $100 out a million, max_tokens 1,000: a call's most is its request's tokens at $10 a million
# plus $0.10 for the answer's room; one that cost 1,000 in and 100 out: $0.02.
PRICED = '[prices."gpt-fake"]\ninput = 10.0\noutput = 100.0\n'


def test_a_one_shot_past_its_limit_is_refused_before_anything_is_sent_and_keeps_the_question(
    server, chat_env, isolated_env
):
    import json

    from tests.fakeserver import Reply
    from tests.helpers import chat

    _config(isolated_env, "max_tokens = 1000\n" + PRICED)
    refused = chat(chat_env, "--max-cost", "0.05", "-t", "capped", "--json", "what does it cost?")
    assert refused.code == 6 and not server.requests, refused
    error = json.loads(refused.out)["error"] if refused.out.strip() else None
    assert "up to $0.10" in refused.err + json.dumps(error), refused
    server.queue(Reply("worth it", usage=COUNTS))
    answered = chat(chat_env, "--max-cost", "0.20", "-t", "capped", "go on")
    assert answered.code == 0 and "worth it" in answered.out, answered
    asked = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    assert "what does it cost?" in json.dumps(asked), asked  # the refused question was kept in the thread


def test_a_call_that_fails_holds_nothing_of_the_limit(server, chat_env, isolated_env):
    from tests.fakeserver import Fault, Reply
    from tests.helpers import chat

    _config(isolated_env, "max_tokens = 1000\nmax_cost_thread = 0.15\n" + PRICED)
    server.queue(Fault(status=500))  # (the tests ask without retries)
    failed = chat(chat_env, "-t", "flaky", "first try")
    assert failed.code == 4, failed  # the model's error, not the limit's
    server.queue(Reply("answered", usage=COUNTS))  # $0.10 held: it fits only if the failure held nothing
    answered = chat(chat_env, "-t", "flaky", "again")
    assert answered.code == 0 and "answered" in answered.out, answered


@pytest.mark.e2e  # two processes at once
def test_two_chats_at_once_cannot_both_pass_the_day_s_limit(server, chat_env, isolated_env):
    """One chat's call is under way (its most held in the ledger) when another asks: the day's total read from the
    store leaves no room, so the second is refused before it sends anything. Stopped with Ctrl-C, the first's call
    settles at what arrived, and its held most is free again."""
    import signal
    import subprocess

    from tests.fakeserver import Fault, Reply
    from tests.helpers import CHAT, chat_process
    from tests.mcp_servers import chat_argv

    _config(isolated_env, "max_tokens = 1000\nmax_cost_day = 0.15\n" + PRICED)  # room for one call's $0.10 most
    env = {**chat_env, "CHATCLI_WORKER": "0"}
    # Silent until it is stopped (a loaded machine may take long to start the second chat: the first must not go on).
    server.queue(Fault(stall_after=3, stall=300, text="alpha beta gamma delta"))
    # Nor by its own stall clock: the tests' 5 s passed while a busy machine started the second (a clean clone's run).
    first = subprocess.Popen(
        chat_argv(CHAT, "-t", "one", "a long story"),
        env={**env, "CHATCLI_TIMEOUT": "300"}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert server.wait_until(lambda: server.stalls >= 1, timeout=30), "the first answer never began"
        second = chat_process(env, "-t", "two", "a short one")
        assert second.code == 6 and "max_cost_day" in second.err and "today has spent $0.1" in second.err, second
        assert len(server.requests) == 1, "the second chat sent nothing"
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
        assert first.returncode == 130
    finally:
        first.kill()
    server.queue(Reply("room again", usage=COUNTS))
    third = chat_process(env, "-t", "two", "and now?")
    assert third.code == 0 and "room again" in third.out, third

"""What answers cost in dollars: priced from the server's token counts by genai-prices' table or
config.toml's [prices], shown on the usage line, in --json/--jsonl, kept with the turn, totalled by
`chat stats` and /usage; a model without a known price is said to have none, never guessed.

The fake server echoes the model asked for: gpt-4o-2024-08-06 is in genai-prices' table (gpt-4o:
$2.50 in, $1.25 cached in, $10 out per million tokens), gpt-fake is in no table. The ``hosted`` fixture
reaches the fake server as a hosted endpoint, under a public name through an HTTP proxy (on 127.0.0.1 a model
the table knows is priced the same: tests/test_cost_local.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatcli.backends.own.pricing import COST_KEY, Pricer, dollars
from chatcli.errors import UsageError
from chatcli.threads.spending import parse_since
from tests.conftest import HOSTED_URL
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, stored
from tests.test_reliability import db_of

PRICED = "gpt-4o-2024-08-06"
# 1,000 tokens in (200 of them cached), 100 out.
COUNTS = {"prompt_tokens": 1000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 200}}
GPT_4O = (800 * 2.50 + 200 * 1.25 + 100 * 10.0) / 1e6  # $0.00325
USAGE = {"input_tokens": 1000, "output_tokens": 100, "input_token_details": {"cache_read": 200}}


def config(home: Path, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def last_answer(chat_env: dict[str, str], thread: str):
    return [m for m in stored(db_of(chat_env), thread) if m.type == "ai"][-1]


# --------------------------------------------------------------------------- the prices


def test_the_kept_table_prices_dated_and_prefixed_names_and_knows_no_other(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the price table reached for the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    pricer = Pricer()
    assert pricer.cost(USAGE, "gpt-4o-2024-08-06") == pytest.approx(GPT_4O)
    assert pricer.cost(USAGE, "openai/gpt-4o") == pytest.approx(GPT_4O)  # OpenRouter's and LiteLLM's names
    assert pricer.cost(USAGE, "my-local-llama") is None  # unknown: not guessed
    assert pricer.cost(USAGE, "gpt-4o-2099-01-01") is None  # a date genai-prices does not know
    assert pricer.cost(USAGE, "my-local-llama", "gpt-4o") == pytest.approx(GPT_4O)  # the name asked for, next
    assert pricer.cost(None, "gpt-4o") is None  # no counts, no cost
    assert pricer.cost_of([USAGE, None, USAGE], "gpt-4o") == pytest.approx(2 * GPT_4O)
    assert pricer.cost_of([USAGE, USAGE], "my-local-llama") is None


def test_config_prices_come_first_and_add_models():
    pricer = Pricer([("my-model", 1.0, 2.0, 0.5), ("GPT-4O", 0.0, 0.0, 0.0)])
    assert pricer.cost(USAGE, "my-model") == pytest.approx((800 * 1.0 + 200 * 0.5 + 100 * 2.0) / 1e6)
    assert pricer.cost(USAGE, "org/My-Model") == pytest.approx(0.0011)  # letter case and a provider prefix aside
    assert pricer.cost(USAGE, "gpt-4o") == 0.0  # over the kept table's $0.00325
    assert pricer.cost(USAGE, "my-model-2") is None  # no prefix matching: a different model


def test_dollars_are_shown_to_a_tenth_of_a_cent_and_small_amounts_whole():
    assert [dollars(x) for x in (0.00325, 0.0012, 0, 1.5, 1234.5, 0.000035)] == [
        "$0.0032", "$0.0012", "$0.0000", "$1.50", "$1,234.50", "$0.000035",
    ]  # fmt: skip


def test_since_takes_dates_times_today_and_ages():
    from datetime import datetime

    now = datetime(2026, 11, 23, 15, 30).astimezone()
    assert parse_since("7d", now) == now.replace(day=16)
    assert parse_since("12h", now) == now.replace(hour=3)
    assert parse_since("today", now) == now.replace(hour=0, minute=0)
    assert parse_since("2026-11-20", now) == datetime(2026, 11, 20).astimezone()
    with pytest.raises(UsageError, match="--since takes"):
        parse_since("last tuesday", now)


# --------------------------------------------------------------------------- one answer


def test_json_has_the_cost_of_a_priced_model_and_null_for_an_unknown_one(server, hosted):
    server.queue(Reply("priced", usage=COUNTS), Reply("unknown", usage=COUNTS))
    priced = json.loads(chat(hosted, "--json", "-m", PRICED, "-t", "p", "hi").out)
    unknown = json.loads(chat(hosted, "--json", "-t", "u", "hi").out)
    assert priced["cost_usd"] == pytest.approx(GPT_4O) and priced["model"] == PRICED
    assert unknown["cost_usd"] is None and unknown["model"] == "gpt-fake"


def test_jsonl_says_the_cost_in_its_end_event(server, hosted):
    server.queue(Reply(tokens=["two", " parts"], usage=COUNTS))
    lines = [json.loads(line) for line in chat(hosted, "--jsonl", "-m", PRICED, "hi").out.splitlines()]
    assert [line["type"] for line in lines] == ["token", "token", "done"]
    assert lines[-1]["cost_usd"] == pytest.approx(GPT_4O)


def test_the_usage_line_in_a_terminal_shows_dollars_or_says_the_price_is_unknown(server, hosted):
    server.queue(Reply("priced", usage=COUNTS), Reply("unknown", usage=COUNTS))
    priced = chat(hosted, "-m", PRICED, "hi", tty=True)
    unknown = chat(hosted, "hi", tty=True)
    assert "1,000 in (200 cached) · 100 out · $0.0032 · context" in priced.err, priced
    assert "1,000 in (200 cached) · 100 out · price unknown (gpt-fake) · context" in unknown.err, unknown
    assert "$" not in unknown.err


def test_a_price_in_config_toml_prices_a_model_the_table_does_not_know(server, chat_env, isolated_env):
    config(isolated_env, '[prices."gpt-fake"]\ninput = 3.0\noutput = 15.0\ncached_input = 0.3\n')
    server.queue(Reply("configured", usage=COUNTS))
    run = chat(chat_env, "--json", "-t", "cfg", "hi")
    assert json.loads(run.out)["cost_usd"] == pytest.approx((800 * 3.0 + 200 * 0.3 + 100 * 15.0) / 1e6), run


def test_a_dotenv_cannot_set_prices(server, chat_env, tmp_path):
    # A cloned repository's .env says nothing about what answers cost, trusted or not: prices
    # come from config.toml only.
    (tmp_path / ".env").write_text('CHATCLI_PRICES={"gpt-fake": {"input": 0, "output": 0}}\nprices=free\n')
    server.queue(Reply("still unknown", usage=COUNTS))
    run = chat({**chat_env, "CHATCLI_PRICES": "free"}, "--json", "hi", cwd=tmp_path)
    assert run.code == 0 and json.loads(run.out)["cost_usd"] is None, run


def test_a_bad_price_table_is_a_config_error(server, chat_env, isolated_env):
    config(isolated_env, '[prices."gpt-fake"]\ninput = "cheap"\noutput = 1\n')
    run = chat(chat_env, "hi")
    assert run.code != 0 and 'prices."gpt-fake"' in run.err and "dollars per million tokens" in run.err, run


# --------------------------------------------------------------------------- kept and totalled


def test_the_calls_of_a_tool_round_add_up(server, hosted):
    server.queue(tool_calls(("shell", {"command": "echo hi"}), usage=COUNTS, model=PRICED), Reply("done", usage=COUNTS))
    run = chat(hosted, "--tools", "shell", "--yes", "--json", "-m", PRICED, "-t", "tools", "go")
    assert json.loads(run.out)["cost_usd"] == pytest.approx(2 * GPT_4O), run
    answers = [m for m in stored(db_of(hosted), "tools") if m.type == "ai"]
    assert [m.response_metadata[COST_KEY] for m in answers] == [pytest.approx(GPT_4O)] * 2


def test_a_price_table_that_cannot_load_makes_the_price_unknown_not_the_answer_fail(server, hosted, monkeypatch):
    import chatcli.backends.own.pricing

    def broken():
        raise ImportError("genai_prices is broken")

    monkeypatch.setattr(chatcli.backends.own.pricing, "_table", broken)
    server.queue(Reply("still answered", usage=COUNTS))
    run = chat(hosted, "--json", "-m", PRICED, "hi")
    assert run.code == 0 and json.loads(run.out)["reply"] == "still answered", run
    assert json.loads(run.out)["cost_usd"] is None


def test_the_cost_is_stored_with_the_answer(server, hosted):
    server.queue(Reply("priced", usage=COUNTS), Reply("unknown", usage=COUNTS), Reply("no counts", usage=False))
    chat(hosted, "-m", PRICED, "-t", "kept", "hi")
    chat(hosted, "-t", "unknown", "hi")
    chat(hosted, "-m", PRICED, "-t", "uncounted", "hi")
    assert last_answer(hosted, "kept").response_metadata[COST_KEY] == pytest.approx(GPT_4O)
    assert last_answer(hosted, "unknown").response_metadata[COST_KEY] is None
    assert COST_KEY not in last_answer(hosted, "uncounted").response_metadata


def test_stats_totals_by_day_model_and_thread(server, hosted):
    server.queue(*[Reply("answer", usage=COUNTS) for _ in range(3)])
    chat(hosted, "-m", PRICED, "-t", "first", "one")
    chat(hosted, "-m", PRICED, "-t", "first", "two")
    chat(hosted, "-t", "second", "the third")  # gpt-fake: no known price
    report = json.loads(chat(hosted, "stats", "--json").out)
    assert report["total"] == {
        "answers": 3,
        "input_tokens": 3000,
        "output_tokens": 300,
        "cost_usd": pytest.approx(2 * GPT_4O),
        "unpriced_answers": 1,
        "cache_read_tokens": 600,
        "cache_write_tokens": 0,
    }
    assert [(d["answers"], d["unpriced_answers"]) for d in report["by_day"]] == [(3, 1)]
    models = {m["model"]: (m["answers"], m["cost_usd"]) for m in report["by_model"]}
    assert models == {PRICED: (2, pytest.approx(2 * GPT_4O)), "gpt-fake": (1, None)}
    threads = [(t["thread_id"], t["title"], t["answers"], t["cost_usd"]) for t in report["by_thread"]]
    assert threads == [("first", "one", 2, pytest.approx(2 * GPT_4O)), ("second", "the third", 1, None)]

    table = chat(hosted, "stats")
    assert table.code == 0, table
    lines = table.out.splitlines()
    assert lines[0].split() == ["answers", "tokens", "in", "cached", "tokens", "out", "dollars"]
    assert lines[-2].split() == ["total", "3", "3,000", "600", "300", "$0.0065", "+", "1", "unpriced"]
    assert "1 of the 3 answers has no known price (gpt-fake)" in lines[-1]
    assert any(line.split()[:2] == ["first", "one"] and line.endswith("$0.0065") for line in lines), table.out


def test_stats_since_leaves_older_answers_out(server, hosted):
    server.queue(Reply("answer", usage=COUNTS))
    chat(hosted, "-m", PRICED, "-t", "old", "one")
    assert json.loads(chat(hosted, "stats", "--json", "--since", "1h").out)["total"]["answers"] == 1
    later = json.loads(chat(hosted, "stats", "--json", "--since", "2999-01-01").out)
    assert later["total"] == {
        "answers": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": None,
        "unpriced_answers": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    assert chat(hosted, "stats", "--since", "2999-01-01").out == "no answers since 2999-01-01 00:00\n"
    bad = chat(hosted, "stats", "--since", "soon")
    assert bad.code == 2 and "--since takes" in bad.err


async def test_usage_shows_the_threads_dollars_and_says_what_has_no_price(settings, server, hosted):
    from dataclasses import replace

    from tests.test_commands import chat as session

    settings = replace(settings, base_url=HOSTED_URL)
    server.queue(Reply("one", usage=COUNTS), Reply("two", usage=COUNTS), Reply("three", usage=COUNTS))
    async with session(settings) as c:
        c.conversation.model = replace(c.conversation.model, name=PRICED)
        await c.ask("a")
        await c.ask("b")
        c.conversation.model = replace(c.conversation.model, name="gpt-fake")
        await c.ask("c")
        shown = await c.run("/usage")
    assert "3 turns · 3,000 tokens in (600 cached) · 300 out · $0.0065" in shown, shown
    assert "1 of 3 answers have no known price" in shown, shown


# --------------------------------------------------------------------------- start-up


@pytest.mark.e2e  # five Python processes: which modules a process loads
def test_the_price_table_is_loaded_by_an_answer_only(server, hosted, isolated_env):
    # The engine the prompt opens loads it once per hosted model ever, for the model's context window, kept then
    # in known-windows.json: from then on it never does (an answer does, unless config.toml prices the model);
    # the thread commands (chat stats too) load neither it nor the model stack.
    probe = """
import asyncio, sys
from chatcli.core.events import Silent
from chatcli.service.chat import Chat
from chatcli.config import load_settings

async def main():
    async with Chat(load_settings({}), listener=Silent()) as chat:
        await chat.open()
        opened = "genai_prices" in sys.modules
        result = await (await chat.thread("probe")).send("hi")
        print(opened, "genai_prices" in sys.modules, result.cost_usd)

asyncio.run(main())
"""
    env = {**hosted, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for model, opened, cost in ((PRICED, "True", GPT_4O), (PRICED, "False", GPT_4O), ("gpt-fake", "True", None)):
        server.queue(Reply("answer", usage=COUNTS))
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env={**env, "CHATCLI_MODEL": model},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout.split() == [opened, "True", str(cost)], (model, done.stdout, done.stderr)
    # A model config.toml prices needs no table: it is not loaded at all.
    config(isolated_env, '[prices."gpt-fake"]\ninput = 2.5\noutput = 10\ncached_input = 1.25\n')
    server.queue(Reply("answer", usage=COUNTS))
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False", str(GPT_4O)], done.stderr
    for args in (["threads"], ["stats"], ["stats", "--json"]):
        code = f"import sys; sys.argv = ['chat', *{args!r}]\nfrom chatcli.app.cli import main\nmain()\n"
        code += "print(sorted({m.split('.')[0] for m in sys.modules} & {'genai_prices', 'langchain_core', 'langgraph', 'openai'}))"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.stdout.splitlines()[-1] == "[]", (args, done.stderr)


def test_stats_counts_a_forked_or_imported_thread_s_answers_once_and_shows_one_precision(server, hosted):
    server.queue(*[Reply("answer", usage=COUNTS) for _ in range(2)])
    chat(hosted, "-m", PRICED, "-t", "first", "one")
    chat(hosted, "-m", PRICED, "-t", "first", "two")
    before = json.loads(chat(hosted, "stats", "--json").out)["total"]
    assert chat(hosted, "fork", "first", "--at", "2", "--as", "copy").code == 0
    exported = chat(hosted, "export", "first", "--format", "json")
    assert chat(hosted, "import", "-", stdin=exported.out).code == 0
    after = json.loads(chat(hosted, "stats", "--json").out)
    assert after["total"] == before, "a copy's answers were counted again"
    assert [t["thread_id"] for t in after["by_thread"]] == ["first"]
    table = chat(hosted, "stats").out
    cells = [word for word in table.split() if word.startswith("$")]
    assert cells and all(len(c.split(".")[1]) == 4 for c in cells), table  # one precision down the column
    assert "(unknown)" not in table

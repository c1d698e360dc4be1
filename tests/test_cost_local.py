"""A hosted model is priced by its name wherever its endpoint stands; only a model known to be local is never priced
from genai-prices' table, which holds what hosted providers charge.

Known local: the local model (``--local``), a provider's whose models run on this machine (Ollama), and a model named
as local models are (a GGUF file, an Ollama tag, a quantisation). Its price is unknown and said to be local, on the
usage line, in /usage and `chat stats`; --json's cost_usd is null; config.toml's [prices] still price it. A model the
table does not know, on an endpoint on this machine or a private network (by its host's shape: nothing is resolved),
is unknown too, said as local. The fake server on 127.0.0.1 is such an endpoint, as a team's gateway is.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chatcli.backends.own.pricing import COST_KEY, LOCAL, UNPRICED_KEY, Pricer, local_name, on_this_network
from tests.conftest import HOSTED_URL
from tests.fakeserver import Reply
from tests.helpers import chat, stored
from tests.test_cost import COUNTS, GPT_4O, PRICED, USAGE, config
from tests.test_reliability import db_of

TAGGED = "deepseek-r1:7b"  # the table's deepseek-r1 ($0.135 per million in) by its Ollama tag
OWN = (800 * 3.0 + 200 * 0.3 + 100 * 15.0) / 1e6

LOCAL_URLS = [
    "http://127.0.0.1:11434/v1", "http://127.1.2.3/v1", "http://127.1:8080/v1", "http://2130706433/v1",
    "http://0x7f.0.0.1/v1", "http://localhost:11434/v1", "http://LOCALHOST.:1/v1", "http://ollama.localhost/v1",
    "http://[::1]:8080/v1", "http://[::ffff:127.0.0.1]/v1", "http://0.0.0.0:8000/v1", "http://[::]:8000/v1",
    "http://10.0.0.5/v1", "http://172.16.0.1/v1", "http://172.31.255.254/v1", "http://192.168.1.20:1234/v1",
    "http://[fd00::1]/v1", "http://[fe80::1%25eth0]:8080/v1", "http://169.254.10.10/v1", "http://100.101.102.103/v1",
    "http://gpu-box.local:11434/v1", "http://llm.internal/v1", "http://nas.lan/v1", "http://ai.home.arpa/v1",
    "http://myserver:8080/v1", "https://user:pw@10.1.2.3:443/v1",
]  # fmt: skip
PUBLIC_URLS = [
    "https://api.openai.com/v1", "https://openrouter.ai/api/v1", "http://8.8.8.8/v1", "http://172.32.0.1/v1",
    "http://172.15.255.255/v1", "http://192.169.0.1/v1", "http://[2001:4860:4860::8888]/v1",
    "http://[::ffff:8.8.8.8]/v1", "http://localhost.example.com/v1", "http://local.example.org/v1", None,
]  # fmt: skip
LOCAL_NAMES = [
    TAGGED, "llama3.2:latest", "mixtral:8x7b", "qwen3:0.6b", "gemma3:270m", "llama3:instruct", "gpt-4o:latest",
    "qwen2.5-coder:14b-instruct-q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
    "claude-3-opus-20240229-q4", "gpt-4o-q4_k_m", "gpt-4o-Q8_0", "gpt-4o-iq2_xxs", "gpt-4o-gguf",
    "/models/gpt-4o.gguf", "Llama-3.2-1B-Instruct-Q8_0.gguf",
]  # fmt: skip
HOSTED_NAMES = [
    "gpt-4o", PRICED, "openai/gpt-4o", "anthropic/claude-3.5-sonnet:beta", "deepseek-r1", "claude-3-opus-20240229",
    "meta-llama/llama-3.1-8b-instruct:free", "anthropic.claude-3-5-sonnet-20240620-v1:0", "qwen/qwq-32b",
    "ft:gpt-4o-mini-2024-07-18:my-org:custom:9ub5xnm1",
]  # fmt: skip


# --------------------------------------------------------------------------- which is local


def _line(err: str) -> str:
    """stderr with the terminal's wrapping of a long usage line undone."""
    return " ".join(err.split())


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize("url", LOCAL_URLS)
def test_a_hosted_model_behind_an_endpoint_on_this_machine_or_a_private_network_is_priced_by_its_name(url):
    # A team's LLM gateway (LiteLLM, Portkey) in front of hosted models: gpt-4o there costs what gpt-4o costs.
    assert on_this_network(url)
    assert Pricer(endpoint=url).cost(USAGE, "gpt-4o") == pytest.approx(GPT_4O)
    assert Pricer([("gpt-4o", 1.0, 2.0, 0.5)], endpoint=url).cost(USAGE, "gpt-4o") == pytest.approx(0.0011)
    assert Pricer([("gpt-4o", 0.0, 0.0, 0.0)], endpoint=url).cost(USAGE, "gpt-4o") == 0  # config.toml's 0: free
    assert Pricer(endpoint=url).cost(USAGE, TAGGED) is None and Pricer(endpoint=url).local("no-such-model")
    assert Pricer(endpoint=url).cost(USAGE, "ollama:llama3") is None


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_a_public_endpoint_is_priced_from_the_table(url):
    assert not on_this_network(url)
    assert Pricer(endpoint=url).cost(USAGE, "gpt-4o") == pytest.approx(GPT_4O)


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize("name", LOCAL_NAMES)
def test_a_model_named_as_local_models_are_is_not_priced_from_the_table_anywhere(name):
    public = Pricer(endpoint="https://openrouter.ai/api/v1")
    assert local_name(name) and public.local(name)
    assert public.cost(USAGE, name) is None
    assert public.cost(USAGE, name, "gpt-4o") is None  # nor by the other name of the call
    assert Pricer([(name, 1.0, 2.0, 0.5)]).cost(USAGE, name) == pytest.approx(0.0011)  # config.toml's price holds


@pytest.mark.stores("sqlite")
def test_the_table_would_price_those_names_and_still_prices_hosted_ones():
    # What was wrong: the table priced Ollama tags and quantisations as the hosted model.
    from genai_prices import Usage, calc_price

    for name in (TAGGED, "claude-3-opus-20240229-q4"):
        assert calc_price(Usage(input_tokens=1000), name).total_price > 0
    public = Pricer(endpoint="https://api.openai.com/v1")
    for name in HOSTED_NAMES:
        assert not local_name(name) and not public.local(name), name
    assert public.cost(USAGE, "anthropic/claude-3.5-sonnet:beta") is not None  # OpenRouter's variant keeps its price


@pytest.mark.stores("sqlite")
def test_the_local_model_is_not_priced_from_the_table():
    assert Pricer(endpoint="https://api.openai.com/v1", local=True).cost(USAGE, "gpt-4o") is None


# --------------------------------------------------------------------------- as the user sees it


def test_a_local_model_says_local_on_the_usage_line_null_in_json_and_in_stats(server, chat_env):
    # The fake server on 127.0.0.1: a GGUF file, an Ollama tag, a model of no table.
    server.queue(*[Reply("answer", usage=COUNTS) for _ in range(3)])
    gguf = "Llama-3.2-1B-Instruct-Q8_0.gguf"
    shown = chat(chat_env, "-m", gguf, "-t", "one", "hi", tty=True)
    assert f"1,000 in (200 cached) · 100 out · not priced: local ({gguf}) · context" in _line(shown.err), shown
    assert "$" not in shown.err and "price unknown" not in shown.err
    tagged = json.loads(chat(chat_env, "--json", "-m", TAGGED, "-t", "two", "hi").out)
    assert tagged["cost_usd"] is None and tagged["model"] == TAGGED
    chat(chat_env, "-t", "three", "hi")  # gpt-fake
    (answer,) = [m for m in stored(db_of(chat_env), "two") if m.type == "ai"]
    assert answer.response_metadata[COST_KEY] is None and answer.response_metadata[UNPRICED_KEY] == LOCAL
    report = json.loads(chat(chat_env, "stats", "--json").out)
    assert (report["total"]["cost_usd"], report["total"]["unpriced_answers"]) == (None, 3)
    table = chat(chat_env, "stats").out.splitlines()
    assert table[-1] == (
        f"3 of the 3 answers are from a local model, not priced ({gguf}, {TAGGED}, gpt-fake): left out of the dollars; "
        'config.toml\'s [prices."MODEL"] can price it'
    ), table
    assert "no known price" not in "\n".join(table)
    assert [line for line in table if line.startswith(f"  {TAGGED} ")][0].endswith("  local, not priced")


def test_config_toml_prices_a_local_model(server, chat_env, isolated_env):
    config(isolated_env, f'[prices."{TAGGED}"]\ninput = 3.0\noutput = 15.0\ncached_input = 0.3\n')
    server.queue(Reply("priced", usage=COUNTS), Reply("priced", usage=COUNTS))
    assert json.loads(chat(chat_env, "--json", "-m", TAGGED, "hi").out)["cost_usd"] == pytest.approx(OWN)
    shown = chat(chat_env, "-m", TAGGED, "hi", tty=True)
    assert "1,000 in (200 cached) · 100 out · $0.0040 · context" in _line(shown.err), shown


def test_a_hosted_endpoint_prices_by_the_table_but_not_a_local_models_name(server, hosted):
    server.queue(Reply("priced", usage=COUNTS), Reply("tagged", usage=COUNTS), Reply("unknown", usage=COUNTS))
    assert json.loads(chat(hosted, "--json", "-m", PRICED, "hi").out)["cost_usd"] == pytest.approx(GPT_4O)
    tagged = chat(hosted, "-m", "claude-3-opus-20240229-q4", "hi", tty=True)
    assert "1,000 in (200 cached) · 100 out · not priced: local (claude-3-opus-20240229-q4) · context" in _line(
        tagged.err
    ), tagged
    unknown = chat(hosted, "hi", tty=True)
    assert "· price unknown (gpt-fake) · context" in unknown.err, unknown  # unknown, not local: a hosted model


async def test_usage_tells_local_answers_from_unknown_prices(settings, server, hosted):
    from tests.test_commands import chat as session

    server.queue(Reply("one", usage=COUNTS), Reply("two", usage=COUNTS), Reply("three", usage=COUNTS))
    async with session(replace(settings, base_url=HOSTED_URL)) as c:
        c.conversation.model = replace(c.conversation.model, name=PRICED)
        await c.ask("a")
        c.conversation.model = replace(c.conversation.model, name=TAGGED)
        await c.ask("b")
        c.conversation.model = replace(c.conversation.model, name="gpt-fake")
        await c.ask("c")
        shown = await c.run("/usage")
    assert "3 turns · 3,000 tokens in (600 cached) · 300 out · $0.0032" in shown, shown
    assert "1 of 3 answers have no known price" in shown, shown
    assert "1 of 3 answers are from a local model, not priced" in shown, shown


async def test_the_local_model_is_not_priced_by_the_table(settings, server, hosted):
    # --local talks to its own server (settings.local): here reached under a public name, priced by nothing.
    from tests.test_commands import chat as session

    server.queue(Reply("one", usage=COUNTS))
    async with session(replace(settings, base_url=HOSTED_URL, local=True, model=PRICED)) as c:
        result = await c.conversation.send("a")
    assert (result.cost_usd, result.unpriced, result.local) == (None, [PRICED], [PRICED])

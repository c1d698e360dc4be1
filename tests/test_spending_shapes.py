"""Spending limits whatever shape a model call has (#83): a graph's own model, streamed or not, is held at the most
its own request may cost (its invocation parameters' max_tokens, else its LangChain profile's output limit; chat's
max_tokens is never what a graph's model sends), and refused saying why where that most is not known; chat's own
model without max_tokens holds what the limits leave and is stopped as it streams (#84: a $0.10 limit answers "hi"
on gpt-5-mini). A question's limit is kept in the ledger: resumed in another process, it goes on counting. A model of
no known price is refused when an untrusted .env chose it and said otherwise; OpenRouter's variants price as their
model. The fake OpenAI server on 127.0.0.1 answers every call; prices come from config.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import chat

COUNTS = {"prompt_tokens": 1000, "completion_tokens": 100}
# $10 a million tokens in and $100 out: 1,000 out cost $0.10, gpt-4o's 16,384 (its profile's limit) $1.64.
PRICES = "".join(f'[prices."{name}"]\ninput = 10.0\noutput = 100.0\n' for name in ("long-2000", "gpt-4o"))


def _config(home: Path, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def graph_env(chat_env, monkeypatch):
    """chat_env, with the fake server in this process's environment too (the graph's own ChatOpenAI reads it)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    return chat_env


def _graph(where: Path, model: str, streamed: bool, *, interrupted: bool = False) -> str:
    """A graph of one model node (``model``: its ChatOpenAI's arguments after the address), streamed or not; with
    ``interrupted``, it asks (an interrupt) after the first call and calls the model again once answered."""
    path = where / "shaped.py"
    path.write_text(
        "import os\nfrom langchain_openai import ChatOpenAI\nfrom langgraph.graph import START, MessagesState, "
        "StateGraph\nfrom langgraph.types import interrupt\n"
        f"MODEL = ChatOpenAI(base_url=os.environ['OPENAI_BASE_URL'], max_retries=0, disable_streaming={not streamed}, "
        f"{model})\n"
        "async def ask(state):\n    return {'messages': [await MODEL.ainvoke(state['messages'])]}\n"
        "def wait(state):\n    interrupt('go on?')\n    return {}\n"
        "b = StateGraph(MessagesState)\nb.add_node('first', ask)\nb.add_edge(START, 'first')\n"
        + ("b.add_node('wait', wait)\nb.add_node('again', ask)\nb.add_edge('first', 'wait')\nb.add_edge('wait', 'again')\n"
           if interrupted else "")
        + "g = b.compile()\n"
    )  # fmt: skip
    return f"{path}:g"


# Each bound a graph's call may have, as (its model's arguments, the most it could cost, a limit under it and one
# over it); None: not known, refused under any limit.
BOUNDS = {
    "its max_tokens": ("model='long-2000', max_tokens=1000", "$0.10", 0.05, 0.50),
    "its profile's limit": ("model='gpt-4o'", "$1.64", 1.00, 2.00),
    "none known": ("model='long-2000'", None, 1.00, None),
}


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "not streamed"])
@pytest.mark.parametrize("bound", list(BOUNDS))
def test_a_graph_s_call_is_held_at_its_own_most_streamed_or_not_and_refused_where_it_is_unknown(
    graph_env, server, isolated_env, tmp_path, bound, streamed
):
    model, most, under, over = BOUNDS[bound]
    graph = _graph(tmp_path, model, streamed)
    env = {**graph_env, "CHATCLI_MAX_TOKENS": "10"}  # chat's own max_tokens: never what the graph's model sends
    _config(isolated_env, f"max_cost_answer = {under}\n" + PRICES)
    refused = chat(env, "--graph", graph, "-t", "under", "hello")
    assert refused.code == 6 and not server.requests, refused
    expected = f"could cost up to {most}" if most else "could cost is not known while a limit is set (max_cost_answer)"
    assert expected in refused.err and "max_cost_answer" in refused.err, refused
    if over is None:
        return
    _config(isolated_env, f"max_cost_answer = {over}\n" + PRICES)
    server.queue(Reply("worth it", usage=COUNTS))
    answered = chat(env, "--graph", graph, "-t", "over", "hello")
    assert answered.code == 0 and "worth it" in answered.out, answered
    assert bool(server.requests[-1].get("stream")) is streamed


def test_a_question_resumed_in_another_process_goes_on_counting(graph_env, server, isolated_env, tmp_path):
    """The graph's first call costs $0.07; resumed (a later process, as chat inbox answer, --resume and chat attach
    --go-on are), its second could cost $0.10 more: past the question's $0.15, refused. A new question has room."""
    graph = _graph(tmp_path, "model='long-2000', max_tokens=1000", True, interrupted=True)
    _config(isolated_env, "max_cost_answer = 0.15\n" + PRICES)
    server.queue(Reply("first", usage={"prompt_tokens": 1000, "completion_tokens": 600}))
    waiting = json.loads(chat(graph_env, "--graph", graph, "-t", "r", "--json", "hello").out)
    assert waiting["interrupts"][0]["value"] == "go on?", waiting
    resumed = chat(graph_env, "--graph", graph, "-t", "r", "--resume", "yes")
    assert resumed.code == 6 and "this question has spent $0.07" in resumed.err, resumed
    assert len(server.requests) == 1, "the second call was never sent"
    server.queue(Reply("again", usage=COUNTS))
    asked = json.loads(chat(graph_env, "--graph", graph, "-t", "r2", "--json", "a new question").out)
    assert asked["reply"] == "again" and asked["interrupts"], asked


def test_chat_s_own_answer_without_max_tokens_holds_what_the_limit_leaves_and_is_stopped_there(
    chat_env, server, isolated_env
):
    """gpt-5-mini may answer 128,000 tokens ($0.26 at $2 a million): a $0.10 limit still answers "hi" (the answer
    is stopped as it streams where it would pass the limit); refused only when a short answer would not fit."""
    env = {**chat_env, "CHATCLI_MODEL": "gpt-5-mini"}
    prices = '[prices."gpt-5-mini"]\ninput = 0.25\noutput = 2.0\n'
    _config(isolated_env, "max_cost_answer = 0.10\n" + prices)
    server.queue(Reply("hello"))
    assert chat(env, "-t", "hi", "hi").code == 0
    assert "max_tokens" not in server.requests[-1] and "max_completion_tokens" not in server.requests[-1]
    _config(isolated_env, "max_cost_answer = 0.004\n" + prices)  # room for 2,000 tokens: a short answer's 1,024 fit
    server.queue(Reply(tokens=[f"w{n:04d} " for n in range(4000)]))  # about 6,000 tokens: $0.012
    stopped = chat(env, "-t", "long", "everything")
    assert stopped.code == 6 and "the answer was stopped at about" in stopped.err, stopped
    _config(isolated_env, "max_cost_answer = 0.001\n" + prices)
    asked = len(server.requests)
    refused = chat(env, "-t", "short", "hi")
    assert refused.code == 6 and "could cost up to $0.002" in refused.err and len(server.requests) == asked, refused


def test_a_model_of_no_known_price_is_refused_when_an_untrusted_env_chose_it_and_said_otherwise(
    chat_env, server, isolated_env, tmp_path
):
    project = tmp_path / "cloned"
    project.mkdir()
    (project / ".env").write_text("CHATCLI_MODEL=mock:nitro\n")
    env = {**{k: v for k, v in chat_env.items() if k != "CHATCLI_MODEL"}, "CHATCLI_MAX_COST_ANSWER": "1"}
    refused = chat(env, "hi", cwd=project)
    assert refused.code == 6 and "the untrusted .env here chose it" in refused.err and not server.requests, refused
    said = "mock:nitro runs at a local endpoint, where no hosted price applies: its calls are not counted"
    own = chat({**env, "CHATCLI_MODEL": "mock:nitro"}, "hi", cwd=project)  # the user's own choice
    assert own.code == 0 and own.err.count(said) == 1, own
    assert chat(env, "trust", cwd=project).code == 0
    trusted = chat(env, "hi", cwd=project)
    assert trusted.code == 0 and trusted.err.count(said) == 1, trusted
    known = chat({**env, "CHATCLI_MODEL": "gpt-5-mini"}, "hi")  # a price known: counted behind any endpoint
    assert known.code == 0 and "gpt-5-mini runs at a local endpoint" not in known.err and "not counted" not in known.err


def test_a_spending_limit_holds_for_a_hosted_model_behind_a_gateway_on_the_private_network(
    chat_env, server, isolated_env
):
    # The fake server on 127.0.0.1 stands for http://llmgateway:4000/v1: gpt-5-mini there costs OpenAI's price.
    _config(isolated_env, "max_cost_answer = 0.0001\n")
    env = {**chat_env, "CHATCLI_MODEL": "gpt-5-mini"}
    refused = chat(env, "hi")
    assert refused.code == 6 and "could cost up to $" in refused.err and not server.requests, refused
    said = chat(env, "config").out
    assert "by the kept price table: a hosted model's price, wherever its endpoint stands" in said, said
    local = chat({**env, "CHATCLI_MODEL": "qwen3:8b"}, "config").out
    assert "not counted: a local model" in local, local


@pytest.mark.parametrize("variant", ["nitro", "online", "exacto", "floor"])
def test_an_openrouter_variant_is_priced_as_its_model(variant):
    from chatcli.backends.own.pricing import Pricer

    usage = {"input_tokens": 1000, "output_tokens": 1000}
    base = Pricer().cost(usage, "openai/o1-pro")
    assert base and Pricer().cost(usage, f"openai/o1-pro:{variant}") == base
    own = Pricer((("openai/o1-pro:nitro", 1.0, 1.0, 1.0),))  # config.toml's price for the variant itself first
    assert own.cost(usage, "openai/o1-pro:nitro") == pytest.approx(0.002)
    assert Pricer().cost(usage, "openai/gpt-oss-20b:free") is None  # free is not its model's price

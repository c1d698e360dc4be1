"""A graph whose messages are kept as deltas (LangGraph's DeltaChannel, as deepagents keeps them) is read as the graph
reads it: ``chat show``, ``export``, ``search``, ``stats`` and the prompt's /history give the whole thread, though its
latest checkpoint holds none of the list. And a graph's runs (``--graph``, ``--remote``) report their model calls'
tokens, summed, and their cost, in ``--json``, /usage and ``chat stats``; unknown where the model sent no counts.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import Tokens, chat
from tests.matrix import backends

# A graph of one node that answers without a model, its messages kept as deltas.
DELTA_GRAPH = """
from typing import Annotated
from typing_extensions import TypedDict
from langchain_core.messages import AIMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import START, StateGraph
from langgraph.graph.message import _messages_delta_reducer

class State(TypedDict):
    messages: Annotated[list, DeltaChannel(_messages_delta_reducer)]

def answer(state):
    return {"messages": [AIMessage("noted: " + state["messages"][-1].text)]}

builder = StateGraph(State)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
graph = builder.compile()
"""

# deepagents' agent, its model the fake OpenAI server's.
DEEP_GRAPH = """
import os
from deepagents import create_deep_agent
from langchain_openai import ChatOpenAI

graph = create_deep_agent(
    model=ChatOpenAI(model="gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0),
    system_prompt="Be brief.",
)
"""

# Two model calls in one run: a draft, then the answer.
TWO_CALLS = """
import os
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph

MODEL = ChatOpenAI(model="gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0)

async def draft(state):
    return {"messages": [await MODEL.ainvoke(state["messages"])]}

async def answer(state):
    return {"messages": [await MODEL.ainvoke(state["messages"])]}

b = StateGraph(MessagesState)
b.add_node("draft", draft)
b.add_node("answer", answer)
b.add_edge(START, "draft")
b.add_edge("draft", "answer")
g = b.compile()
"""


@pytest.fixture
def graph_env(chat_env, monkeypatch):
    """chat_env, with the fake server in this process's environment too (the graph's own model reads it)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    return chat_env


def db_of(env: dict[str, str]) -> str:
    return env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


def latest_values(env: dict[str, str], thread: str) -> dict:
    """The channel values of the thread's latest checkpoint, as stored."""
    from chatcli.store.decode import loads

    with sqlite3.connect(db_of(env)) as conn:
        row = conn.execute(
            "SELECT type, checkpoint FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id DESC LIMIT 1",
            (thread,),
        ).fetchone()
    return dict(loads(*row)["channel_values"])


def said(exported: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in exported["messages"]]


def test_a_thread_kept_as_deltas_is_shown_exported_searched_and_counted_whole(graph_env, tmp_path):
    path = tmp_path / "deltas.py"
    path.write_text(DELTA_GRAPH)
    for question in ("apples are red", "pears are green"):
        run = chat(graph_env, "--graph", f"{path}:graph", "-t", "fruit", question)
        assert run.code == 0 and run.out == f"noted: {question}\n", run
    assert "messages" not in latest_values(graph_env, "fruit")  # the case: the latest checkpoint holds no list
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # the graph's code is not loaded: LangGraph rebuilds the list all the same
    shown = chat(graph_env, "show", "fruit", cwd=elsewhere)
    assert shown.code == 0, shown
    for text in ("apples are red", "noted: apples are red", "pears are green", "noted: pears are green"):
        assert text in shown.out, shown.out
    exported = json.loads(chat(graph_env, "export", "fruit", "--format", "json", cwd=elsewhere).out)
    assert said(exported) == [
        ("user", "apples are red"),
        ("assistant", "noted: apples are red"),
        ("user", "pears are green"),
        ("assistant", "noted: pears are green"),
    ]
    markdown = chat(graph_env, "export", "fruit", cwd=elsewhere).out
    assert "noted: pears are green" in markdown
    found = json.loads(chat(graph_env, "search", "pears", "--json", cwd=elsewhere).out)
    assert [(h["thread_id"], h["turn"]) for h in found] == [("fruit", 2), ("fruit", 2)], found
    assert chat(graph_env, "search", "bananas", cwd=elsewhere).code == 1  # nothing found is nothing found
    listed = json.loads(chat(graph_env, "threads", "--json", cwd=elsewhere).out)
    assert [(t["thread_id"], t["message_count"]) for t in listed] == [("fruit", 4)]


async def test_at_the_prompt_history_reads_the_graphs_state(settings, tmp_path):
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    path = tmp_path / "deltas.py"
    path.write_text(DELTA_GRAPH)
    async with a_thread(settings, "plums", Tokens(), graph=GraphFile(f"{path}:graph", tmp_path)) as conv:
        await conv.send("plums are purple")
        await conv.send("figs are sweet")
        shown = await conv.threads().shown("plums")  # what /history and /export print
        assert [m["content"] for m in shown.messages] == [
            "plums are purple",
            "noted: plums are purple",
            "figs are sweet",
            "noted: figs are sweet",
        ]


def test_deepagents_threads_are_shown_searched_and_priced(server, graph_env, tmp_path):
    pytest.importorskip("deepagents", reason='deepagents is not installed: pip install -e ".[test]"')
    path = tmp_path / "deep.py"
    path.write_text(DEEP_GRAPH)
    usage = {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230}
    server.queue(Reply("Bananas are yellow.", usage=usage))
    run = chat(graph_env, "--graph", f"{path}:graph", "-t", "deep", "--json", "what colour are bananas?")
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["reply"] == "Bananas are yellow."
    assert answer["usage"] == usage
    assert answer["cost_usd"] and answer["cost_usd"] > 0, answer  # gpt-4o-mini has a known price
    assert "messages" not in latest_values(graph_env, "deep")  # deepagents keeps its messages as deltas
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = chat(graph_env, "show", "deep", cwd=elsewhere)
    assert "what colour are bananas?" in shown.out and "Bananas are yellow." in shown.out, shown
    found = json.loads(chat(graph_env, "search", "bananas", "--json", cwd=elsewhere).out)
    assert [(h["thread_id"], h["speaker"], h["turn"]) for h in found] == [("deep", "user", 1), ("deep", "assistant", 1)]
    stats = json.loads(chat(graph_env, "stats", "--json", cwd=elsewhere).out)["total"]
    assert (stats["answers"], stats["input_tokens"], stats["output_tokens"]) == (1, 1200, 30), stats
    assert stats["cost_usd"] == pytest.approx(answer["cost_usd"]) and stats["unpriced_answers"] == 0


@pytest.fixture
def graph_path(tmp_path):
    """The graph the ``graph`` backend loads here: two model calls in one run."""
    path = tmp_path / "two_calls.py"
    path.write_text(TWO_CALLS)
    return f"{path}:g"


@backends("graph")
@pytest.mark.parametrize("door", ["cold"], indirect=True)
def test_a_graphs_run_reports_its_calls_tokens_summed_and_their_cost(backend, door):
    from chatcli.backends.own.pricing import Pricer

    first = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    second = {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220}
    backend.model.queue(Reply("A draft.", usage=first), Reply("The answer.", usage=second))
    run = chat(backend.env, *backend.args, "-t", "costly", "--json", "a question")
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["usage"] == {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330}
    pricer = Pricer()
    each = [pricer.cost({"input_tokens": u["prompt_tokens"], "output_tokens": u["completion_tokens"]}, "gpt-4o-mini")
            for u in (first, second)]  # fmt: skip
    assert answer["cost_usd"] == pytest.approx(sum(each)) and answer["cost_usd"] > 0
    stats = json.loads(chat(backend.env, "stats", "--json").out)["total"]
    assert (stats["answers"], stats["input_tokens"], stats["output_tokens"]) == (2, 300, 30), stats
    assert stats["cost_usd"] == pytest.approx(sum(each))
    backend.model.queue(Reply("No counts.", usage=False), Reply("None here.", usage=False))
    blind = json.loads(chat(backend.env, *backend.args, "-t", "blind", "--json", "again").out)
    assert blind["usage"] is None and blind["cost_usd"] is None  # unknown: never a guess


async def test_usage_at_the_prompt_totals_a_graphs_answers_with_their_cost(server, settings, tmp_path, monkeypatch):
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    path = tmp_path / "two_calls.py"
    path.write_text(TWO_CALLS)
    server.queue(
        Reply("A draft.", usage={"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}),
        Reply("The answer.", usage={"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220}),
    )
    async with a_thread(settings, "usage", Tokens(), graph=GraphFile(f"{path}:g", tmp_path)) as conv:
        result = await conv.send("a question")
        totals = await conv.recall.usage_totals()  # what /usage shows
    used = totals.used
    assert (used.input_tokens, used.output_tokens, totals.answers, totals.uncounted) == (300, 30, 2, 0)
    assert used.cost_usd == pytest.approx(result.known_cost) and used.cost_usd > 0 and used.unpriced == 0


async def test_a_graphs_calls_are_priced_by_config_toml_first(server, settings, tmp_path):
    """[prices] in config.toml prices a graph's model calls as it prices chat's own: before the kept table."""
    from dataclasses import replace

    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    path = tmp_path / "two_calls.py"
    path.write_text(TWO_CALLS)
    server.queue(
        Reply("A draft.", usage={"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}),
        Reply("The answer.", usage={"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220}),
    )
    priced = replace(settings, prices=(("gpt-4o-mini", 1.0, 2.0, 0.5),))  # dollars per million tokens
    async with a_thread(priced, "priced", Tokens(), graph=GraphFile(f"{path}:g", tmp_path)) as conv:
        result = await conv.send("a question")
    assert result.known_cost == pytest.approx((300 * 1.0 + 30 * 2.0) / 1_000_000)


@backends("remote")
@pytest.mark.parametrize("door", ["cold"], indirect=True)
def test_an_agent_servers_run_reports_its_calls_tokens_summed(backend, door):
    from tests.fakeserver import tool_calls

    first = {"prompt_tokens": 40, "completion_tokens": 4, "total_tokens": 44}
    second = {"prompt_tokens": 60, "completion_tokens": 6, "total_tokens": 66}
    backend.model.queue(tool_calls(("get_weather", {"city": "Paris"}), usage=first), Reply("Sunny.", usage=second))
    run = chat(backend.env, *backend.args, "--json", "weather in Paris?")
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["usage"] == {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}, answer
    assert answer["cost_usd"] is None  # the deployed graph's model (gpt-fake) has no known price: unknown

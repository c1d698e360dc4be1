"""A subgraph's words are its own: a graph's subgraph (a deepagents subagent, a graph a node calls) streams tokens that
are never part of the answer. In a terminal they are folded like thinking, under the subgraph's name; --json gives them
in ``subgraphs`` with their namespace, --jsonl as ``subgraph`` events; the reply (and stdout in a pipe) is the answer's
alone. Their model calls still count in the run's usage."""

from __future__ import annotations

import json
import re

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.test_graph_deltas import DEEP_GRAPH  # deepagents' agent, its model the fake server's

# A graph whose "research" node runs a subgraph of its own (its model call streams under the node's namespace) and
# keeps only a note of it; then "answer" answers.
NESTED = """
import os
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph

MODEL = ChatOpenAI(model="gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0)


async def look(state):
    return {"messages": [await MODEL.ainvoke(state["messages"])]}


inner = StateGraph(MessagesState)
inner.add_node("look", look)
inner.add_edge(START, "look")
SUB = inner.compile()


class State(MessagesState):
    notes: str


async def research(state):
    found = await SUB.ainvoke({"messages": state["messages"]})
    return {"notes": found["messages"][-1].content}


async def answer(state):
    return {"messages": [await MODEL.ainvoke(state["messages"])]}


b = StateGraph(State)
b.add_node("research", research)
b.add_node("answer", answer)
b.add_edge(START, "research")
b.add_edge("research", "answer")
graph = b.compile()
"""

SUB_WORDS = "The subgraph looked and found three facts."
ANSWER = "Here is the answer."
COUNTS = [
    {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27},
]


@pytest.fixture
def nested(chat_env, server, tmp_path, monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    path = tmp_path / "nested.py"
    path.write_text(NESTED)
    server.queue(Reply(SUB_WORDS, usage=COUNTS[0]), Reply(ANSWER, usage=COUNTS[1]))
    return ["--graph", f"{path}:graph"]


def test_json_keeps_a_subgraphs_words_apart_from_the_reply(chat_env, nested):
    run = chat(chat_env, *nested, "--json", "what do you find?")
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["reply"] == ANSWER
    (aside,) = answer["subgraphs"]
    assert aside["text"] == SUB_WORDS and aside["namespace"].startswith("research:"), aside
    assert answer["usage"] == {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}  # both calls count


def test_a_subgraphs_model_calls_count_in_chat_stats_as_in_the_runs_usage(chat_env, nested, server):
    """Its calls are kept in no message of the thread: the answer keeps their counts, once a turn."""
    runs = [json.loads(chat(chat_env, *nested, "-t", "nested", "--json", "what now?").out)]
    server.queue(Reply(SUB_WORDS, usage=COUNTS[0]), Reply(ANSWER, usage=COUNTS[1]))
    runs.append(json.loads(chat(chat_env, *nested, "-t", "nested", "--json", "and then?").out))
    (row,) = json.loads(chat(chat_env, "stats", "--json").out)["by_thread"]
    assert [r["usage"]["prompt_tokens"] for r in runs] == [30, 30]  # the subgraph's 10 and the answer's 20, each
    assert (row["input_tokens"], row["output_tokens"]) == (60, 24), row
    assert row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in runs)), (row, runs)


def test_jsonl_streams_a_subgraphs_words_as_its_own_events(chat_env, nested):
    run = chat(chat_env, *nested, "--jsonl", "what do you find?")
    assert run.code == 0, run
    events = [json.loads(line) for line in run.out.splitlines()]
    tokens = "".join(e["text"] for e in events if e["type"] == "token")
    aside = [e for e in events if e["type"] == "subgraph"]
    assert tokens == ANSWER
    assert "".join(e["text"] for e in aside) == SUB_WORDS
    assert {e["namespace"] for e in aside} == {events[-1]["subgraphs"][0]["namespace"]}
    assert events[-1]["type"] == "done" and events[-1]["reply"] == ANSWER


def test_a_pipe_gets_the_answer_alone(chat_env, nested):
    run = chat(chat_env, *nested, "what do you find?")
    assert run.code == 0, run
    assert run.out == "answer:\n" + ANSWER + "\n"  # the node that speaks is named (the graph has several)
    assert SUB_WORDS not in run.out + run.err


def test_a_deepagents_subagents_words_are_not_the_answer(chat_env, server, tmp_path, monkeypatch):
    """deepagents' ``task`` tool runs a subagent: its tokens stream from the tool's namespace, not the answer's."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    path = tmp_path / "deep.py"
    path.write_text(DEEP_GRAPH)
    server.queue(
        tool_calls(("task", {"description": "find three facts", "subagent_type": "general-purpose"})),
        Reply(SUB_WORDS),
        Reply(ANSWER),
    )
    run = chat(chat_env, "--graph", f"{path}:graph", "--json", "find facts, with a subagent")
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["reply"] == ANSWER
    assert [a["text"] for a in answer["subgraphs"]] == [SUB_WORDS], answer["subgraphs"]
    assert answer["subgraphs"][0]["namespace"].startswith("tools:")
    assert [c["name"] for c in answer["tool_calls"]] == ["task"]


@pytest.mark.parametrize("full", [False, True], ids=["folded", "shown whole"])
def test_a_terminal_folds_a_subgraphs_words_under_its_name_as_it_does_thinking(full):
    """Live and dim while they stream, then one line naming the subgraph (or all of them, dim, with /think on);
    the answer after them is the answer alone. An escape in them is shown, never obeyed."""
    from chatcli.core.events import Aside, End, Start, Token, TurnResult
    from chatcli.ui.output import RichOutput, terminal_console
    from tests.helpers import Captured

    out = Captured(tty=True)
    output = RichOutput(terminal_console(out, force_terminal=True), terminal_console(Captured(tty=True)), full)
    output.hear(Start("t"))
    for word in (*SUB_WORDS.split(" "), "\x1b]0;PWNED\x07"):
        output.hear(Aside("tools:call_1", word + " "))
    output.hear(Token(ANSWER))
    output.hear(End(TurnResult(text=ANSWER)))
    shown = out.getvalue()
    assert "\x1b]0;PWNED" not in shown
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).replace("\r", "\n")
    assert text.rstrip().endswith(ANSWER), shown
    if full:
        assert SUB_WORDS in text and "(subgraph tools:call_1: 8 words)" in text, shown
    else:
        assert "subgraph tools:call_1: 8 words · CHATCLI_SHOW_THINKING=1 shows them whole" in text, shown


DEEP_WITH_TOOL = """
import os
from deepagents import create_deep_agent
from langchain_openai import ChatOpenAI


def book_table(restaurant: str, people: int) -> str:
    \"\"\"Book a table.\"\"\"
    return f"Booked a table for {people} at {restaurant}."


graph = create_deep_agent(
    model=ChatOpenAI(model="gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0),
    tools=[book_table],
    interrupt_on={"book_table": True},
)
"""


def test_a_subagents_tool_call_is_shown_and_asked_like_any_other(chat_env, server, tmp_path, monkeypatch):
    """The subagent's call to a tool the graph asks about waits for the user's answer, named as the graph's own are;
    approved, it runs inside the subagent and the answer goes on."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    path = tmp_path / "deep.py"
    path.write_text(DEEP_WITH_TOOL)
    graph = ["--graph", f"{path}:graph", "-t", "sub"]
    server.queue(
        tool_calls(("task", {"description": "book for two at Chez X", "subagent_type": "general-purpose"})),
        tool_calls(("book_table", {"restaurant": "Chez X", "people": 2})),
    )
    waiting = chat(chat_env, *graph, "--json", "book, with a subagent")
    assert waiting.code == 0, waiting
    (call,) = json.loads(waiting.out)["approval_required"]
    assert call["name"] == "book_table" and call["arguments"] == {"restaurant": "Chez X", "people": 2}
    server.queue(Reply(SUB_WORDS), Reply(ANSWER))
    approve = json.dumps({"decisions": [{"type": "approve"}]})
    done = chat(chat_env, *graph, "--json", "--resume", approve)
    assert done.code == 0, done
    answer = json.loads(done.out)
    assert answer["reply"] == ANSWER and "approval_required" not in answer
    assert [a["text"] for a in answer["subgraphs"]] == [SUB_WORDS]
    shown = {c["name"]: (c["status"], c["result"]) for c in answer["tool_calls"]}  # the subagent's call is listed
    assert shown == {"book_table": ("ok", "Booked a table for 2 at Chez X."), "task": ("ok", SUB_WORDS)}
    subagents = [m for m in server.requests[-2]["messages"] if m["role"] == "tool"]  # its call after the approval
    assert [m["content"] for m in subagents] == ["Booked a table for 2 at Chez X."]
    (task,) = [m for m in server.last_messages() if m["role"] == "tool"]  # and the agent reads what it said
    assert task["content"] == SUB_WORDS

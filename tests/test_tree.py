"""A thread is a tree nothing is lost from: every answer a /retry replaced, every exchange an /undo took back, every
branch a /goto left stays a node that can be seen (/tree, ``chat tree``, serve's ``/v1/threads/ID/tree``) and gone
back to. Read the same way for chat's own graph, a graph of the user's (one that keeps its messages as deltas too)
and on both stores; the doors that are clients (an editor, ``chat serve``) are in tests/test_client_commands.py. Chat's
own graph's moves are asked of a ``session`` (tests/session.py: the service over a fake model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Fault, Reply
from tests.helpers import Tokens, a_thread, chat
from tests.matrix import backends, doors, sent
from tests.test_graph_deltas import DELTA_GRAPH

# A graph of the user's that answers with the model it is given (so the fake server's replies reach it).
PLAIN_GRAPH = """
import os
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph

MODEL = ChatOpenAI(model="gpt-fake", base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0)

async def ask(state):
    return {"messages": [await MODEL.ainvoke(state["messages"])]}

builder = StateGraph(MessagesState)
builder.add_node("ask", ask)
builder.add_edge(START, "ask")
graph = builder.compile()
"""


def _graph(kind: str, tmp_path: Path) -> Any:
    """What answers: chat's own graph (None), a plain graph of the user's, or one whose messages are deltas."""
    from chatcli.backends.graphs.load import GraphFile

    if kind == "own":
        return None
    path = tmp_path / f"{kind}.py"
    path.write_text(PLAIN_GRAPH if kind == "graph" else DELTA_GRAPH)
    return GraphFile(f"{path}:graph", tmp_path)


def _said(tree: Any) -> dict[int, tuple[str, str, int | None]]:
    return {n: (node.question, node.answer, node.parent) for n, node in tree.nodes.items()}


async def test_retry_undo_and_goto_leave_every_answer_in_the_tree(session):
    await moves(await session.chat.thread("tree", listener=Tokens()), session.model, noted=False)


@pytest.mark.parametrize("kind", ["graph", "deltas"])
async def test_retry_undo_and_goto_leave_every_answer_in_a_graph_s_tree(server, settings, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    noted = kind == "deltas"  # that graph answers without a model: "noted: " and the question
    async with a_thread(settings, "tree", Tokens(), graph=_graph(kind, tmp_path)) as thread:
        await moves(thread, server, noted)


async def moves(thread: Any, model: Any, noted: bool) -> None:
    """q1, q2, /retry, /undo, q3, /goto, /label, q4...: every answer stays a node; ``model`` answers (the fake server
    or a session's model)."""
    model.queue(Reply("one"), Reply("two"), Reply("two again"), Reply("three"), Reply("four"), Reply("five"))
    await thread.send("q1")
    await thread.send("q2")
    await thread.retry()
    await thread.undo()  # the retried exchange goes, the thread is on node 1 again
    await thread.send("q3")
    tree = await thread.tree()
    a = (lambda q, said: f"noted: {q}") if noted else (lambda q, said: said)
    assert _said(tree) == {
        1: ("q1", a("q1", "one"), None),
        2: ("q2", a("q2", "two"), 1),
        3: ("q2", a("q2", "two again"), 1),
        4: ("q3", a("q3", "three"), 1),
    }
    assert tree.current == 4 and tree.path == [1, 4] and tree.branches == 3
    assert tree.nodes[1].children == [2, 3, 4]

    moved = await thread.goto("2")  # back to the first answer q2 had: the next question goes on from it
    assert moved.number == 2
    assert [m.text for m in await thread.messages()] == ["q1", a("q1", "one"), "q2", a("q2", "two")]
    await thread.label("first-try")
    await thread.send("q4")
    tree = await thread.tree()
    assert tree.current == 5 and tree.path == [1, 2, 5], _said(tree)
    assert tree.nodes[2].labels == ["first-try"] and tree.nodes[5].parent == 2
    assert set(tree.nodes) == {1, 2, 3, 4, 5}  # nothing the move left is gone: node 4 is still there

    await thread.goto("first-try")  # a label names its node
    assert (await thread.tree()).current == 2
    await thread.goto("4")
    assert [m.text for m in await thread.messages()][-2:] == ["q3", a("q3", "three")]
    await thread.send("q5")  # asked from node 4: its request carries that branch, not the one left
    if not noted:
        sent = json.dumps(model.requests[-1]["messages"])
        assert "q3" in sent and "q4" not in sent and "two" not in sent, sent


async def test_an_undo_after_a_model_switch_leaves_each_node_the_model_that_answered_it(session):
    """q1 on the default model, /model slow, q2, /undo: node 1 was answered by the default model, whatever the thread
    moved to since (the undo's own checkpoint ends on node 1 under the new model)."""
    session.model.queue(Reply("one"), Reply("two"))
    thread = await session.chat.thread("switched", listener=Tokens())
    await thread.send("q1")
    first = thread.model_name
    await thread.choose_model("slow")
    await thread.send("q2")
    assert {n: node.model for n, node in (await thread.tree()).nodes.items()} == {1: first, 2: "slow"}
    await thread.undo()
    tree = await thread.tree()
    assert {n: node.model for n, node in tree.nodes.items()} == {1: first, 2: "slow"} and tree.current == 1


async def test_the_tree_read_from_the_metadata_is_the_tree_read_from_each_checkpoint(session):
    """Each checkpoint chat writes names the last message of its list in its metadata (``chatcli_tail``), which the
    tree reads instead of decoding every checkpoint; a thread stored before (no such key) reads to the same tree."""
    from chatcli.store import is_postgres_url
    from chatcli.store.keys import TAIL

    session.model.queue(Reply("one"), Reply("two"), Reply("two again"), Reply("three"), Reply("four"))
    thread = await session.chat.thread("meta", listener=Tokens())
    await thread.send("q1")
    await thread.send("q2")
    await thread.retry()
    await thread.undo()
    await thread.send("q3")
    await thread.goto("2")
    await thread.send("q4")
    index = thread.store.index
    metadata = [
        m if isinstance(m, dict) else json.loads(m) for (m,) in await index._rows("SELECT metadata FROM checkpoints")
    ]
    assert len(metadata) > 8 and all(isinstance(m[TAIL], int) for m in metadata), metadata
    fast = await thread.tree()
    postgres = is_postgres_url(session.settings.db)
    forget = (
        f"UPDATE checkpoints SET metadata = metadata - '{TAIL}'"
        if postgres
        else f"UPDATE checkpoints SET metadata = json_remove(CAST(metadata AS TEXT), '$.{TAIL}')"
    )
    assert await index._write(forget) == len(metadata)
    slow = await thread.tree()

    def shape(tree: Any) -> Any:
        return [(n.number, n.parent, n.question, n.answer, n.kind, n.children) for n in tree.nodes.values()]

    assert shape(fast) == shape(slow) and (fast.current, fast.path) == (slow.current, slow.path) == (5, [1, 2, 5])
    assert _said(fast)[3] == ("q2", "two again", 1)
    for n, node in fast.nodes.items():
        assert abs(node.at - slow.nodes[n].at) < 1, (node.at, slow.nodes[n].at)  # the id's time is the checkpoint's


async def test_a_move_keeps_the_thread_settings_as_they_are_now(session):
    from chatcli.errors import UsageError

    session.model.queue(Reply("one"), Reply("two"), Reply("three"))
    thread = await session.chat.thread("kept")
    await thread.send("q1")
    await thread.send("q2")
    await thread.own("system").set_system("Answer in French.")
    await thread.goto("1")
    await thread.send("q3")
    system = session.model.requests[-1]["messages"][0]
    assert system["role"] == "system" and "Answer in French." in str(system["content"])
    assert [m.text for m in await thread.messages()] == ["q1", "one", "q3", "three"]
    with pytest.raises(UsageError, match=r"no node '9' in thread kept \(nodes 1 to 3, or a label\)"):
        await thread.goto("9")
    for bad in ("12", "two words", "x" * 41, "tab\there"):
        with pytest.raises(UsageError, match="not a label"):
            await thread.label(bad)


def test_chat_tree_draws_the_tree_and_gives_it_as_json(server, chat_env):
    server.queue(Reply("first answer"), Reply("second answer"), Reply("another answer"))
    assert chat(chat_env, "-t", "drawn", "a question").code == 0
    assert chat(chat_env, "-t", "drawn", "the next").code == 0
    kept = chat(chat_env, "tree", "drawn", "--json")
    assert kept.code == 0, kept
    tree = json.loads(kept.out)
    assert tree["thread_id"] == "drawn" and tree["current"] == 2 and tree["branches"] == 1
    first, second = tree["nodes"]
    fields = "node kind parent question answer at model labels children current"
    assert set(first) == set(fields.split())
    assert first["kind"] == "turn"
    assert (first["node"], first["parent"], first["question"], first["answer"]) == (
        1,
        None,
        "a question",
        "first answer",
    )
    assert (second["parent"], second["current"], second["model"], first["children"]) == (1, True, "gpt-fake", [2])
    assert second["at"].endswith("+00:00")
    drawn = chat(chat_env, "tree", "drawn")
    assert drawn.code == 0
    lines = drawn.out.splitlines()
    assert lines[0] == "thread drawn: 2 nodes, 1 branch, on node 2"
    assert "1  a question -> first answer" in lines[1] and lines[2].startswith("* 2  the next -> second answer")
    missing = chat(chat_env, "tree", "nothing-here")
    assert missing.code == 2 and "no thread 'nothing-here'" in missing.err


def test_a_long_straight_run_is_folded_and_all_unfolds_it():
    from chatcli.threads.tree import Point, Said, build, draw

    said, points = [], []
    for turn in range(40):  # 40 turns in a row, then a retry of the 20th: a branch off node 19
        said += [
            Said(2 * turn + 1, 2 * turn or None, "human", f"q{turn + 1}", 2 * turn),
            Said(2 * turn + 2, 2 * turn + 1, "ai", f"a{turn + 1}", 2 * turn + 1),
        ]
        points.append(Point(f"c{turn:03}", 2 * turn + 2))
    said.append(Said(81, 39, "ai", "a20 again", 39))
    points.append(Point("c999", 80))
    tree = build("long", said, points, {3: ["here"]})
    drawn = draw(tree, width=80)
    assert any("turns folded" in line for line in drawn) and drawn[-1].startswith("(folded runs: /tree all")
    shown = [line for line in drawn if "->" in line]
    assert any(" 3   [here] q3 -> a3" in line for line in shown)  # a labelled node is never folded
    assert any("├─ 41  q20 -> a20 again" in line for line in shown)  # the branch, drawn off its node
    assert shown[-1].startswith("* 40  q40 -> a40")
    assert all(len(line) <= 80 for line in drawn)
    whole = draw(tree, width=80, unfold=True)
    assert len([line for line in whole if "->" in line]) == 41 and not any("folded" in line for line in whole)


def test_at_the_prompt_tree_goto_and_a_question_typed_at_once(server, chat_env):
    from tests.doors.prompt import Typed
    from tests.helpers import eventually, visible

    typed = Typed(chat_env, ["--thread", "typed"])  # the prompt in this process (tests/doors/prompt.py)
    for question in ("q1", "q2"):
        assert f"You said: {question}" in typed.say(question)[0], typed
    before = typed.ready()
    at = len(typed.out.getvalue()), len(typed.err.getvalue())
    typed.keys.send_text("/retry\r/tree\r/goto 2\r/label first\rafter goto\r")  # at once, as fast as a paste

    def shown() -> str:
        return visible(typed.out.getvalue()[at[0] :]) + "\n" + visible(typed.err.getvalue()[at[1] :])

    eventually(lambda: "You said: after goto (earlier: q1 | q2)" in shown(), "the answer after /goto", timeout=30)
    typed.ready(before)
    assert "the answer it had is kept as node 2: /goto 2 brings it back" in shown(), shown()
    assert "thread typed: 3 nodes, 2 branches, on node 3" in shown() and "* 3  q2 -> You said: q2" in shown(), shown()
    assert "on node 2: q2 -> You said: q2" in shown() and "node 3 is where you were (/goto 3)" in shown(), shown()
    assert "node 2 is first" in shown()
    drawn = "\n".join(typed.say("/tree"))
    assert "[first]" in drawn and "* 4  after goto -> You said: after goto" in drawn, drawn
    assert typed.leave() == 0, typed


def test_a_one_shot_asks_from_a_node_and_the_branch_it_left_stays(server, chat_env):
    for question in ("q1", "q2"):
        assert chat(chat_env, "-t", "from", question).code == 0
    asked = chat(chat_env, "-t", "from", "--at", "1", "--json", "instead")
    assert asked.code == 0 and json.loads(asked.out)["reply"] == "You said: instead (earlier: q1)", asked
    tree = json.loads(chat(chat_env, "tree", "from", "--json").out)
    assert [(n["node"], n["parent"], n["question"]) for n in tree["nodes"]] == [
        (1, None, "q1"), (2, 1, "q2"), (3, 1, "instead")
    ]  # fmt: skip
    assert tree["current"] == 3
    lost = chat(chat_env, "-t", "from", "--at", "9", "more")
    assert lost.code == 2 and "no node '9' in thread from" in lost.err, lost
    assert chat(chat_env, "--at", "1", "q").code == 2  # a node of which thread?


def test_show_export_and_fork_take_one_branch(server, chat_env):
    for question in ("q1", "q2"):
        assert chat(chat_env, "-t", "twigs", question).code == 0
    assert chat(chat_env, "-t", "twigs", "--at", "1", "other").code == 0  # node 3, beside node 2
    assert chat(chat_env, "title", "twigs", "Twigs").code == 0

    def said(messages: list[dict]) -> list[str]:
        return [m["content"] for m in messages if m["role"] == "user"]

    whole = json.loads(chat(chat_env, "export", "twigs", "-f", "json").out)
    assert said(whole["messages"]) == ["q1", "other"]  # the branch the thread is on
    left = json.loads(chat(chat_env, "export", "twigs", "-f", "json", "--at", "2").out)
    assert said(left["messages"]) == ["q1", "q2"] and left["messages"][-1]["content"] == "You said: q2 (earlier: q1)"
    shown = chat(chat_env, "show", "twigs", "--at", "2").out
    assert "q2" in shown and "other" not in shown
    assert "no node 'nine'" in chat(chat_env, "show", "twigs", "--at", "nine").err

    forked = chat(chat_env, "fork", "twigs", "--at", "2", "--as", "from-two")
    assert forked.code == 0 and forked.out.strip() == "from-two", forked
    again = json.loads(chat(chat_env, "-t", "from-two", "--json", "and?").out)
    assert again["reply"] == "You said: and? (earlier: q1 | q2)"
    original = json.loads(chat(chat_env, "tree", "twigs", "--json").out)
    assert [n["question"] for n in original["nodes"]] == ["q1", "q2", "other"] and original["current"] == 3


@doors("serve")
@backends()
def test_every_backend_s_thread_is_a_tree_at_serve(door: Any, backend: Any):
    """chat's own graph, a graph of the user's and an Agent Server's thread (its checkpoint history): the same tree,
    the same moves, through chat serve's routes."""
    backend.model.queue(Reply("one"), Reply("two"), Reply("two again"))
    first = door.ask("q1")
    thread = first.thread
    assert door.ask("q2", thread).code == 0

    def command(name: str, given: str = "") -> Any:
        status, done = door.served.request("POST", f"/v1/threads/{thread}/commands", {"command": name, "input": given})
        assert status == 200, done
        return done

    assert command("retry")["reply"] == "two again"
    status, tree = door.served.request("GET", f"/v1/threads/{thread}/tree")
    assert status == 200, tree
    assert [(n["node"], n["parent"], n["question"], n["answer"]) for n in tree["nodes"]] == [
        (1, None, "q1", "one"), (2, 1, "q2", "two"), (3, 1, "q2", "two again")
    ] and tree["current"] == 3, tree  # fmt: skip
    assert command("goto", "2")["said"] == "on node 2: q2 -> two; node 3 is where you were (/goto 3)"
    again = door.ask("q3", thread)
    assert again.code == 0 and "(earlier: q1 | q2)" in again.out, again
    asked = sent(backend.row, backend.model.requests[-1])
    assert ("assistant", "two") in asked and ("assistant", "two again") not in asked, asked
    status, tree = door.served.request("GET", f"/v1/threads/{thread}/tree")
    assert [(n["node"], n["parent"]) for n in tree["nodes"]][-1] == (4, 2) and tree["current"] == 4, tree


@doors("prompt", "acp")
@backends("own", "graph")
def test_every_backend_s_thread_is_a_tree_at_the_prompt_and_in_an_editor(door: Any, backend: Any):
    """The same tree and moves typed as commands: /retry, /tree, /goto at the prompt, and as an editor sends them (a
    prompt of the command's text, offered in its command list), on chat's own graph and a graph of the user's (an
    Agent Server's thread is the same tree: at serve, above)."""
    backend.model.queue(Reply("one"), Reply("two"), Reply("two again"))
    first = door.ask("q1")
    assert first.code == 0, first
    second = door.go_on(first, "q2")
    assert second.code == 0 and "two" in second.out, second
    retried = door.go_on(second, "/retry")
    assert retried.code == 0 and "two again" in retried.out, retried
    drawn = door.go_on(retried, "/tree")
    assert "3 nodes, 2 branches, on node 3" in drawn.out, drawn
    assert "q2 -> two again" in drawn.out and "q2 -> two" in drawn.out.replace("q2 -> two again", ""), drawn
    moved = door.go_on(drawn, "/goto 2")
    assert "on node 2" in moved.out, moved
    again = door.go_on(moved, "q3")
    assert again.code == 0 and "(earlier: q1 | q2)" in again.out, again
    asked = sent(backend.row, backend.model.requests[-1])
    assert ("assistant", "two") in asked and ("assistant", "two again") not in asked, asked
    drawn = door.go_on(again, "/tree")
    assert "4 nodes, 2 branches, on node 4" in drawn.out, drawn


async def test_edit_n_asks_a_past_question_again_on_a_new_branch(session, tmp_path, monkeypatch):
    import stat

    from tests.test_commands import chat as prompt

    editor = tmp_path / "reword"
    editor.write_text('#!/bin/sh\nsed -i "s/cats/dogs/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))
    async with prompt(session, "edited") as c:
        for question in ("hello", "tell me about cats\nin two lines", "and their food?"):
            await c.ask(question)
        shown = await c.run("/edit 2")
        assert "asking question 2 again, edited, on a new branch (/goto 2: as it was)" in shown, shown
        assert "You said: tell me about dogs\nin two lines (earlier: hello)" in shown  # the whole question, edited
        tree = await c.conversation.tree()
        assert [(n, node.parent, node.question) for n, node in tree.nodes.items()] == [
            (1, None, "hello"),
            (2, 1, "tell me about cats\nin two lines"),
            (3, 2, "and their food?"),
            (4, 1, "tell me about dogs\nin two lines"),
        ]
        assert tree.current == 4
        editor.write_text("#!/bin/sh\ntrue\n")  # saved as it was: nothing is asked, nothing moves
        asked = len(session.model.requests)
        assert "question 1 unchanged: nothing asked" in await c.run("/edit 1")
        assert len(session.model.requests) == asked and (await c.conversation.tree()).current == 4


def test_a_fork_of_a_graph_s_thread_is_answered_by_that_graph(server, chat_env, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", chat_env["OPENAI_BASE_URL"])  # the graph's own code reads it
    graph = tmp_path / "plain.py"
    graph.write_text(PLAIN_GRAPH)
    assert chat(chat_env, "--graph", f"{graph}:graph", "-t", "grown", "q1").code == 0
    assert chat(chat_env, "fork", "grown", "--at", "1", "--as", "its-fork").code == 0
    for thread in ("grown", "its-fork"):  # each answered by the graph, which chooses its own model
        refused = chat(chat_env, "-t", thread, "-m", "gpt-other", "and?")
        assert refused.code == 2 and f"thread {thread} is answered by the graph {graph}:graph" in refused.err, refused


@doors("cold")  # (the worker's child prints the same answer: its mapping is tests/test_matrix.py's)
def test_a_json_answer_names_the_node_it_made(door: Any, server: Any):
    def asked(*args: str) -> Any:
        return json.loads(door.chat("-t", "named", "--json", *args).out)

    first, second, branched = asked("q1"), asked("q2"), asked("--at", "1", "q2 another way")
    assert (first["node"], second["node"], branched["node"]) == (1, 2, 3), (first, second, branched)
    server.queue(Fault(status=500))
    assert asked("q3")["node"] == 4  # a question that failed is a node too: /retry answers it there
    tree = json.loads(door.chat("tree", "named", "--json").out)
    assert [(n["node"], n["parent"], n["question"]) for n in tree["nodes"]] == [
        (1, None, "q1"), (2, 1, "q2"), (3, 1, "q2 another way"), (4, 3, "q3")
    ]  # fmt: skip


async def test_a_compaction_is_a_node_and_going_before_it_sends_every_turn_again(session):
    from tests.test_commands import chat as prompt
    from tests.test_compact import SUMMARY, answered, four_turns, texts

    def summarised(request: dict) -> bool:
        return any(text.startswith(SUMMARY) for text in texts(request))

    async with prompt(session, "folded") as c:
        await four_turns(c)
        session.model.queue(Reply("locker 4417, standup 10:15, cat Biscuit"))
        await c.run("/compact")
        tree = await c.conversation.tree()
        compacted = tree.nodes[5]
        assert (compacted.kind, compacted.parent, tree.current) == ("compact", 4, 5), tree.nodes
        await c.ask("and after?")
        assert summarised(answered(session.model)[-1])
        tree = await c.conversation.tree()
        assert tree.nodes[6].parent == 5 and tree.path == [1, 2, 3, 4, 5, 6]
        drawn = await c.run("/tree")
        assert "5  (compacted: the turns before folded into a summary)" in drawn and "/tree all" not in drawn, drawn

        assert "on node 4" in await c.run("/goto 4")  # the node before the compaction: every turn whole again
        await c.ask("uncompacted?")
        sent = answered(session.model)[-1]
        assert not summarised(sent) and sum(t.startswith("Please note") for t in texts(sent)) == 4, texts(sent)
        tree = await c.conversation.tree()
        assert tree.nodes[7].parent == 4 and tree.current == 7

        await c.run("/goto 5")  # and the compacted state comes back with its node
        await c.ask("compacted again?")
        assert summarised(answered(session.model)[-1])
        assert (await c.conversation.tree()).nodes[8].parent == 5

        session.model.queue(Reply("a second summary"))
        await c.run("/compact")
        assert (await c.conversation.tree()).current == 9
        assert "undone: the compaction" in await c.run("/undo")  # taken back: the thread is on the node before it
        tree = await c.conversation.tree()
        assert tree.current == 8 and tree.nodes[9].kind == "compact", tree.nodes


@pytest.mark.parametrize(
    "door, backend",
    [
        pytest.param("cold", "own", id="own-cold"), pytest.param("cold", "graph", id="graph-cold"),
        pytest.param("cold", "remote", id="remote-cold", marks=pytest.mark.e2e),
        pytest.param("worker", "own", id="own-worker", marks=pytest.mark.e2e),
    ],
    indirect=True,
)  # fmt: skip
def test_a_one_shot_branches_from_a_node_on_every_backend(door: Any, backend: Any):
    """``chat -t ID --at NODE`` asks from a node; a script's ``chat tree ID --json`` (its output a pipe) then shows the
    branch it made, through the warm worker where there is one (a LangGraph server's tree is read with ``--remote``;
    the runs the worker leaves to the normal way are tests/test_matrix.py's ``BY_DESIGN`` cells)."""
    first = door.ask("q1")
    assert first.code == 0, first
    thread = first.thread
    assert door.ask("q2", thread).code == 0
    branched = door.chat(*backend.args, "-t", thread, "--at", "1", "--json", "q3")
    assert branched.code == 0 and "(earlier: q1)" in json.loads(branched.out)["reply"], branched
    asked = sent(backend.row, backend.model.requests[-1])
    assert ("user", "q2") not in asked and ("user", "q1") in asked, asked
    where = backend.args if backend.name == "remote" else []  # a server's thread is read from its history
    before = door.mark() if door.name == "worker" else None
    tree = json.loads(door.chat("tree", thread, "--json", *where).out)
    if before is not None:
        door.went(before, through=not where)
    assert [(n["node"], n["parent"], n["question"]) for n in tree["nodes"]] == [
        (1, None, "q1"), (2, 1, "q2"), (3, 1, "q3")
    ] and tree["current"] == 3, tree  # fmt: skip

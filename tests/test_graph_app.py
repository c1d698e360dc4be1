"""chat --graph: a LangGraph graph of the user's, driven by chat in-process.

The graph is the example shipped in examples/graphs/agent.py (ChatOpenAI, pointed at the fake OpenAI server by
OPENAI_BASE_URL, as a LangGraph developer's own graph would be), or a small graph written by the test. Its code
runs in this process and reads this process's environment, so the tests set the fake server's there too. What chat
decides of a graph (which one a name finds, its interrupts, undo, retry, fork, a stop) is asked of a ``session``
(tests/session.py) with the example's ChatOpenAI made the session's fake model (``agent_model``); the command line's
words, the terminal and the wire are asked of the command line and the fake server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from chatcli.core.events import Decision
from tests.fakeserver import Calls, Reply, tool_calls
from tests.helpers import Tokens, assert_one_error_line, chat

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AGENT = f"{EXAMPLES / 'graphs' / 'agent.py'}:graph"


@pytest.fixture
def graph_env(chat_env, monkeypatch):
    """chat_env, with the fake server in this process's environment too (the graph's own ChatOpenAI reads it)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    return chat_env


@pytest.fixture
def agent_model(session, monkeypatch):
    """examples/graphs/agent.py's model (the ChatOpenAI it makes as it loads) is the session's fake model."""
    monkeypatch.setattr("langchain_openai.ChatOpenAI", lambda **_: session.model)
    monkeypatch.delitem(sys.modules, "graphs.agent", raising=False)  # (loaded again by its module's name)


def sent(fake, n: int = -1) -> list[tuple[str, str]]:
    """The roles and texts of the messages of request ``n`` to the model (``fake``: the fake server or model)."""
    return [(m["role"], m.get("content") or "") for m in fake.requests[n]["messages"]]


def write_graph(tmp_path: Path, body: str, name: str = "mine.py") -> str:
    path = tmp_path / name
    path.write_text("from langchain_core.messages import AIMessage\n"
                    "from langgraph.graph import START, END, MessagesState, StateGraph\n" + body)  # fmt: skip
    return str(path)


def test_a_graph_answers_shows_its_tool_call_and_keeps_the_thread(server, graph_env):
    server.queue(tool_calls(("get_weather", {"city": "Paris"}), text="Checking."), Reply("Sunny in Paris."))
    run = chat(graph_env, "--graph", AGENT, "-t", "trip", "weather in Paris?")
    assert run.code == 0, run
    assert run.out == "Checking.\n\nSunny in Paris.\n"
    assert 'tool: get_weather {"city": "Paris"} → ok' in run.err
    assert ("tool", "It is sunny and 21 °C in Paris.") in sent(server)
    server.queue(Reply("chat's own answer"))
    assert chat(graph_env, "-t", "own", "something else").code == 0  # the most recent thread is not the graph's
    server.queue(Reply("Yes."))
    again = chat(graph_env, "--graph", AGENT, "-c", "and tomorrow?")  # -c: the graph's own last thread
    assert again.code == 0 and again.out == "Yes.\n", again
    assert [m for m in sent(server) if m[0] == "user"] == [("user", "weather in Paris?"), ("user", "and tomorrow?")]
    listed = chat(graph_env, "threads").out
    assert "trip" in listed and "agent.py:graph" in listed


def test_a_graphs_one_shot_runs_in_the_command_that_names_it_never_in_the_warm_worker():
    from chatcli.app.launch import is_one_shot

    assert is_one_shot(["-t", "x", "hi"], True)  # chat's own one-shot may go to the worker
    for argv in (["--graph", "agent.py:graph", "hi"], ["-g", "agent", "hi"], ["--graph=agent", "hi"]):
        assert not is_one_shot(argv, True), argv


async def test_a_graph_is_found_by_its_langgraph_json_id_by_module_and_as_a_builder_or_factory(
    session, agent_model, tmp_path
):
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    async def answer(spec: str, question: str = "hi", cwd: Path = EXAMPLES) -> str:
        async with a_thread(session.settings, spec.rpartition(":")[2], graph=GraphFile(spec, cwd)) as conv:
            return (await conv.send(question)).text

    session.model.queue(Reply("by id"), Reply("by module"))
    assert await answer("agent") == "by id"
    assert await answer("graphs.agent:graph") == "by module"
    body = (
        "def answer(state):\n    return {'messages': [AIMessage('built: ' + state['messages'][-1].text)]}\n"
        "builder = StateGraph(MessagesState)\nbuilder.add_node('answer', answer)\nbuilder.add_edge(START, 'answer')\n"
        "async def make_graph(config):\n    return builder.compile()\n"
    )
    path = write_graph(tmp_path, body)
    assert await answer(f"{path}:builder", "one") == "built: one"
    assert await answer(f"{path}:make_graph", "two", tmp_path) == "built: two"


def test_what_is_no_graph_is_one_line(server, graph_env, tmp_path):
    no_messages = write_graph(tmp_path, "from typing import TypedDict\nclass S(TypedDict):\n    text: str\n"
                              "b = StateGraph(S)\nb.add_node('n', lambda s: s)\nb.add_edge(START, 'n')\ng = b.compile()\n",
                              "plain.py")  # fmt: skip
    broken = write_graph(tmp_path, "raise RuntimeError('no key set')\n", "broken.py")
    cases = {
        f"{no_messages}:g": "has no messages key in its state (its keys: text)",
        f"{no_messages}:S": "is a class, not a LangGraph graph",  # only a function is called, as a factory
        f"{no_messages}:nothing": "has no nothing",
        f"{broken}:g": "loading the graph",
        "no_such_module:graph": "no module named no_such_module",
        "agent": "no langgraph.json here",
    }
    for spec, said in cases.items():
        run = chat(graph_env, "--graph", spec, "hi")
        assert run.code == 2 and said in run.err and len(run.err_lines) == 1 and "Traceback" not in run.err, (spec, run)
    assert "RuntimeError: no key set" in chat(graph_env, "--graph", f"{broken}:g", "hi").err
    refused = chat(graph_env, "--graph", AGENT, "--system", "be brief", "hi")
    assert refused.code == 2 and "--system does not apply to --graph" in refused.err
    assert server.requests == []


def test_a_graph_that_is_not_there_is_said_before_a_thread_is_looked_for(server, graph_env, tmp_path):
    """`chat --graph agent -c` in this checkout's root, whose langgraph.json has only `chat`: the line says so, not
    "no conversation with agent to continue yet (ask a question to start one)", which asking would not mend."""
    root = EXAMPLES.parent
    cases = {
        ("--graph", "agent", "-c", "hi"): "langgraph.json has no graph 'agent' (its graphs: chat)",
        ("--graph", "agent", "-t", "trip", "hi"): "langgraph.json has no graph 'agent' (its graphs: chat)",
        ("--graph", "agent.py:graph", "-c", "hi"): f"no file {root / 'agent.py'}",
        ("--graph", "gone.py", "-c", "hi"): f"no file {root / 'gone.py'}",
    }
    for args, said in cases.items():
        assert said in assert_one_error_line(chat(graph_env, *args, cwd=root), 2), args
    assert "no langgraph.json here" in assert_one_error_line(chat(graph_env, "--graph", "agent", "-c", cwd=tmp_path), 2)
    assert server.requests == []


def test_a_failure_in_the_graphs_code_names_its_node(server, graph_env, tmp_path):
    body = ("def boom(state):\n    raise ValueError('the index is gone')\n"
            "b = StateGraph(MessagesState)\nb.add_node('lookup', boom)\nb.add_edge(START, 'lookup')\ng = b.compile()\n")  # fmt: skip
    run = chat(graph_env, "--graph", f"{write_graph(tmp_path, body)}:g", "hi")
    assert run.code == 1, run
    assert "chat: error: the graph failed in node lookup: ValueError: the index is gone" in run.err


def test_the_names_of_the_nodes_that_speak_head_their_text(server, graph_env, tmp_path):
    body = ("def researcher(state):\n    return {'messages': [AIMessage('Facts.')]}\n"
            "def writer(state):\n    return {'messages': [AIMessage('Draft.')]}\n"
            "b = StateGraph(MessagesState)\nb.add_node('researcher', researcher)\nb.add_node('writer', writer)\n"
            "b.add_edge(START, 'researcher')\nb.add_edge('researcher', 'writer')\ng = b.compile()\n")  # fmt: skip
    run = chat(graph_env, "--graph", f"{write_graph(tmp_path, body)}:g", "write it")
    assert run.out == "researcher:\nFacts.\nwriter:\nDraft.\n", run
    lines = [
        json.loads(line)
        for line in chat(graph_env, "--graph", f"{tmp_path / 'mine.py'}:g", "--jsonl", "again").out.splitlines()
    ]
    assert [(e["type"], e.get("name") or e.get("text")) for e in lines[:-1]] == [
        ("node", "researcher"), ("token", "Facts."), ("node", "writer"), ("token", "Draft.")
    ]  # fmt: skip


async def _open(settings, thread: str, listener: Tokens):
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    return a_thread(settings, thread, listener, graph=GraphFile(AGENT, Path.cwd()))


async def test_both_shapes_of_interrupt_are_asked_and_the_answers_reach_the_tools(session, agent_model):
    session.model.queue(
        Calls([("ask_user", {"question": "Which city?"})], text="Let me ask."),
        Calls([("book_table", {"restaurant": "Chez Y", "people": 2, "time": "19:00"})]),
        Reply("Booked."),
    )

    async def approve(call):
        return Decision("yes", args={**call.arguments, "people": 3})

    async def answer(question):
        return "Lyon"

    listener = Tokens(approve=approve, answer=answer)
    async with await _open(session.settings, "hitl", listener) as conv:
        result = await conv.send("book a table")
    assert result.text == "Let me ask.\n\nBooked."
    assert [q.value for q in listener.questions] == ["Which city?"]
    (review,) = listener.reviews
    assert review.allowed == ("approve", "edit", "reject") and review.description == "Book this table?"
    assert ("tool", "Lyon") in sent(session.model, 1)
    assert ("tool", "Booked a table for 3 at Chez Y at 19:00.") in sent(session.model, 2)


async def test_an_interrupt_left_unanswered_is_asked_again_when_the_thread_is_resumed(session, agent_model):
    session.model.queue(Calls([("ask_user", {"question": "Which city?"})]), Reply("Lyon it is."))
    async with await _open(session.settings, "crash", Tokens()) as conv:  # nobody answers: the run stops there
        result = await conv.send("plan a trip")
        assert [p.value for p in result.interrupts] == ["Which city?"]

    async def answer(question):
        return "Lyon"

    listener = Tokens(answer=answer)
    async with await _open(session.settings, "crash", listener) as conv:  # chat started again on the thread
        assert [p.value for p in await conv.waiting()] == ["Which city?"]
        result = await conv.resume()
        assert await conv.waiting() == []
    assert result.text == "Lyon it is." and [q.value for q in listener.questions] == ["Which city?"]


async def test_undo_retry_and_fork_go_through_the_graphs_checkpoints(session, agent_model):
    model = session.model
    model.queue(Reply("First."), Reply("Second."), Reply("Second, again."), Reply("On the fork."))
    async with await _open(session.settings, "travel", Tokens()) as conv:
        await conv.send("one")
        await conv.send("two")
        retried = await conv.retry()
        assert retried.text == "Second, again."
        assert [m.text for m in await conv.messages()] == ["one", "First.", "two", "Second, again."]
        assert sent(model, 2) == sent(model, 1)  # the same question, without the answer it replaces
        undone = await conv.undo()
        assert undone.question == "two" and [m.text for m in await conv.messages()] == ["one", "First."]
        fork = await conv.threads().fork("travel", 1)
    async with await _open(session.settings, fork, Tokens()) as conv:  # the fork, as another thread of the Chat
        await conv.send("three")
        assert [m.text for m in await conv.messages()] == ["one", "First.", "three", "On the fork."]
    assert sent(model)[-1] == ("user", "three") and ("user", "two") not in sent(model)


async def test_a_stopped_answer_keeps_what_arrived(session, agent_model):
    session.model.queue(Reply("one two three four five six seven eight", delay=0.2))
    first = asyncio.Event()
    async with await _open(session.settings, "stop", Tokens(on_token=lambda _t: first.set())) as conv:
        turn = asyncio.ensure_future(conv.send("count"))
        await first.wait()
        turn.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn
        last = (await conv.messages())[-1]
    assert last.type == "ai" and last.text.startswith("one") and last.response_metadata["interrupted"] == "cancelled"


def test_over_json_an_interrupt_waits_and_resume_answers_it(server, graph_env):
    server.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"})))
    waiting = json.loads(chat(graph_env, "--graph", AGENT, "-t", "j", "--json", "book").out)
    (call,) = waiting["approval_required"]
    assert call["name"] == "book_table" and call["arguments"]["people"] == 2
    assert waiting["interrupts"][0]["value"]["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    server.queue(tool_calls(("ask_user", {"question": "For when?"})))
    reject = {"decisions": [{"type": "reject", "message": "not that one"}]}
    asked = [
        json.loads(line)
        for line in chat(
            graph_env, "--graph", AGENT, "-t", "j", "--jsonl", "--resume", json.dumps(reject)
        ).out.splitlines()
    ]
    assert asked[0]["type"] == "tool_result" and asked[0]["content"] == "Not booked. not that one"
    assert [(e["type"], e.get("value")) for e in asked if e["type"] == "interrupt"] == [("interrupt", "For when?")]
    assert asked[-1]["type"] == "done" and asked[-1]["interrupts"][0]["value"] == "For when?"
    server.queue(Reply("Tomorrow then."))
    done = json.loads(chat(graph_env, "--graph", AGENT, "-t", "j", "--json", "--resume", "tomorrow").out)
    assert done["reply"] == "Tomorrow then." and "interrupts" not in done
    assert ("tool", "tomorrow") in sent(server)


def test_in_a_pipe_an_approval_is_refused_and_a_question_waits_with_how_to_answer_it(server, graph_env):
    server.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"})), Reply("Not booked."))
    refused = chat(graph_env, "--graph", AGENT, "book")
    assert refused.code == 0 and refused.out == "Not booked.\n"
    assert "no terminal to ask" in sent(server)[-1][1]
    server.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"})), Reply("Booked."))
    approved = chat(graph_env, "--graph", AGENT, "--yes", "book")  # --yes approves what the graph asks to
    assert approved.code == 0 and ("tool", "Booked a table for 2 at X at 19:00.") in sent(server)
    server.queue(tool_calls(("ask_user", {"question": "Which city?"})))
    run = chat(graph_env, "--graph", AGENT, "-t", "p", "plan")
    assert run.code == 1 and "the graph asks:\nWhich city?" in run.err
    assert f"--graph {AGENT} -t p --resume ANSWER answers it" in run.err


async def test_at_the_prompt_retry_and_undo_work_and_chats_own_settings_are_refused(server, settings):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from chatcli.backends.graphs.load import GraphFile
    from chatcli.service.answerer import Answerer
    from chatcli.service.chat import Chat
    from chatcli.service.opening import ThreadSetup
    from chatcli.ui.output import PlainOutput
    from chatcli.ui.prompt import run_repl
    from chatcli.ui.prompt_session import make_session
    from tests.helpers import Captured
    from tests.test_prompt_inprocess import CTRL_D, Session, _guarded

    server.queue(Reply("First."), Reply("First, again."))
    out, err = Captured(), Captured()
    setup = ThreadSetup(answerer=Answerer(graph=GraphFile(AGENT, Path.cwd())))
    with create_pipe_input() as keys:
        session = make_session(settings, input=keys, output=DummyOutput())
        chat = Chat(settings, setup.answerer)
        opening = await chat.find(new="p1")
        repl = run_repl(chat, opening, PlainOutput(out, err), setup=setup, session=session, named=True)
        chat_ = Session(keys, session, out, err, asyncio.create_task(_guarded(repl)))
        await chat_.say("one", then="First.")
        await chat_.say("/retry", then="First, again.")
        assert "the system prompt is chat's own" in await chat_.say("/system", then="error:")
        assert "the model is the graph's own" in await chat_.say("/model gpt-x", then="error:")
        assert "undone: one" in await chat_.say("/undo", then="undone")
        chat_.type(CTRL_D)
        await chat_.ended()
    assert sent(server, 1) == sent(server, 0) == [("user", "one")]
    async with await _open(settings, "p1", Tokens()) as conv:
        assert await conv.messages() == []


def test_a_deployed_graphs_plain_dict_messages_are_read_as_langchains():
    from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage

    from chatcli.backends.graphs.messages import as_message, messages_of

    chunk = as_message(
        {"type": "AIMessageChunk", "content": "Hel", "id": "r1", "tool_call_chunks": [], "example": False}
    )
    assert isinstance(chunk, AIMessageChunk) and chunk.text == "Hel"
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
    ai, tool = messages_of({"messages": [{"type": "ai", "content": "", "tool_calls": [call]},
                                         {"type": "tool", "content": "sunny", "tool_call_id": "c1", "status": "error"}]})  # fmt: skip
    assert isinstance(ai, AIMessage) and ai.tool_calls[0]["args"] == {"city": "Paris"}
    assert isinstance(tool, ToolMessage) and tool.status == "error"
    assert as_message({"no": "type"}) == {"no": "type"}  # not a message: left as it is


def test_what_a_graph_says_is_shown_not_obeyed_by_the_terminal(server, graph_env, tmp_path):
    """A graph's text, node names, interrupt values and errors (a deployed graph's are a server's answer) reach the
    terminal through chat's one writer: an escape sequence in any of them is shown, never run."""
    clip, clear = "\x1b]52;c;cm0gLXJmIH4K\x07", "\x1b[2J"
    body = (f"from langgraph.types import interrupt\n"
            f"def speak(state):\n    return {{'messages': [AIMessage('hello {clear} there {clip}')]}}\n"
            f"def ask(state):\n    interrupt('pick one {clip}{clear}')\n    return {{}}\n"
            f"def boom(state):\n    raise ValueError('gone {clip}')\n"
            f"b = StateGraph(MessagesState)\nb.add_node('speak {clear}', speak)\nb.add_node('ask', ask)\n"
            f"b.add_edge(START, 'speak {clear}')\nb.add_edge('speak {clear}', 'ask')\ng = b.compile()\n"
            f"c = StateGraph(MessagesState)\nc.add_node('boom', boom)\nc.add_edge(START, 'boom')\nh = c.compile()\n")  # fmt: skip
    path = write_graph(tmp_path, body)
    for target, args in ((f"{path}:g", ["-t", "esc", "hi"]), (f"{path}:h", ["hi"])):
        run = chat(graph_env, "--graph", target, *args, tty=True)
        assert "\u241b" in run.out + run.err, run  # shown as a visible escape sign
        for text in (run.out, run.err):
            assert clip not in text and clear not in text and "\x1b]52" not in text, repr(text)
    asked = chat(graph_env, "--graph", f"{path}:g", "-t", "esc2", "hi")
    assert "pick one" in asked.err and "\x1b" not in asked.err, repr(asked.err)


def test_the_example_graph_runs_with_only_a_servers_address(server, graph_env, monkeypatch):
    """As the README's no-key line has it: OPENAI_BASE_URL alone, for a server of one's own that takes no key."""
    monkeypatch.delenv("OPENAI_API_KEY")
    env = {k: v for k, v in graph_env.items() if k != "OPENAI_API_KEY"}
    server.queue(Reply("Sunny."))
    run = chat(env, "--graph", AGENT, "weather?")
    assert run.code == 0 and run.out == "Sunny.\n", run


def test_a_file_alone_is_its_one_graph(server, graph_env, tmp_path):
    server.queue(Reply("Sunny."))
    run = chat(graph_env, "--graph", str(EXAMPLES / "graphs" / "agent.py"), "weather?")
    assert run.code == 0 and run.out == "Sunny.\n" and "chat takes" not in run.err, run


def test_a_file_of_several_graphs_takes_its_graph_and_says_so(server, graph_env, tmp_path):
    body = "def node(state):\n    return {'messages': [AIMessage('hi')]}\n" + "".join(
        f"{name} = StateGraph(MessagesState).add_node('n', node).add_edge(START, 'n').compile()\n"
        for name in ("other", "graph")
    )
    path = write_graph(tmp_path, body, "several.py")
    run = chat(graph_env, "--graph", path, "hello", cwd=tmp_path)
    assert run.code == 0 and run.out == "hi\n", run
    assert f"{path} has the graphs other, graph: chat takes graph (--graph {path}:NAME for another)" in run.err


def test_a_file_of_several_graphs_none_named_graph_asks_which(server, graph_env, tmp_path):
    body = "def node(state):\n    return {'messages': [AIMessage('hi')]}\n" + "".join(
        f"{name} = StateGraph(MessagesState).add_node('n', node).add_edge(START, 'n').compile()\n"
        for name in ("first", "second")
    )
    path = write_graph(tmp_path, body, "several.py")
    line = assert_one_error_line(chat(graph_env, "--graph", path, "hello", cwd=tmp_path), 2)
    assert "which graph? the file has first, second" in line and f"--graph {path}:NAME" in line, line


async def test_the_projects_own_langgraph_json_entry_runs(session):
    """`chat --graph chat` in this checkout: langgraph.json's entry is a factory that is an async context manager
    (chatcli.backends.own.served:graph), entered for the run and left after it."""
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    session.model.queue(Reply("chat's graph, loaded as any other."))
    async with a_thread(session.settings, "own", graph=GraphFile("chat", EXAMPLES.parent)) as conv:
        assert (await conv.send("hello")).text == "chat's graph, loaded as any other."


async def test_a_stopped_answer_ends_the_graphs_model_call_wherever_the_stop_lands(
    server, settings, tmp_path, monkeypatch
):
    """Stopping a turn (Ctrl-C, a client of chat serve that leaves) ends the graph's own model call, wherever in the
    stream the stop lands: a call left running goes on in the background to its end, paid for. (LangChain's OpenAI
    model waits for each chunk with asyncio.wait_for, which on Python 3.11 loses a cancellation that lands as a
    chunk arrives; chat turns that wait off for the user's graph, unless the user set it.)"""
    from chatcli.backends.graphs.load import CHUNK_TIMEOUT, GraphFile
    from tests.helpers import a_thread

    monkeypatch.setenv(CHUNK_TIMEOUT, "")
    monkeypatch.delenv(CHUNK_TIMEOUT)  # the user's default; put back as it was after the test
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, server.base_url if name == "OPENAI_BASE_URL" else "sk-test")
    path = tmp_path / "fast.py"
    path.write_text(
        "import os\nfrom langchain_openai import ChatOpenAI\n"
        "from langgraph.graph import START, MessagesState, StateGraph\n"
        "MODEL = ChatOpenAI(model='gpt-4o-mini', max_retries=0)\n"
        "async def ask(state):\n    return {'messages': [await MODEL.ainvoke(state['messages'])]}\n"
        "b = StateGraph(MessagesState)\nb.add_node('model', ask)\nb.add_edge(START, 'model')\ng = b.compile()\n"
    )
    heard = {"tokens": 0}
    enough = asyncio.Event()
    wanted = {"tokens": 1}

    def token(_text: str) -> None:
        heard["tokens"] += 1
        if heard["tokens"] >= wanted["tokens"]:
            enough.set()

    async with a_thread(settings, "fast", Tokens(on_token=token), graph=GraphFile(f"{path}:g", tmp_path)) as conv:
        for attempt in range(12):
            server.queue(Reply(tokens=[f" w{i}" for i in range(3000)], delay=0.0005))
            cut, heard["tokens"], wanted["tokens"] = server.streams_cut, 0, 1 + attempt * 7
            enough.clear()
            turn = asyncio.ensure_future(conv.send("count"))
            await enough.wait()
            turn.cancel()
            with pytest.raises(asyncio.CancelledError):
                await turn
            stopped = await asyncio.to_thread(server.wait_until, lambda: server.streams_cut > cut, 5.0)
            assert stopped, f"stop {attempt + 1}: the graph's model call went on after its turn was stopped"

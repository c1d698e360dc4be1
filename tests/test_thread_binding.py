"""A thread knows what answers it: its model (chosen with -m or /model) and its graph (--graph) are stored with it,
and every way back to it (-t ID, -c, a resume hint) goes on with them; another graph takes it over only when asked.

The graph is the example one (examples/graphs/agent.py: ChatOpenAI with tools, on the fake server); a request is
the graph's when it offers the graph's tools, chat's own when it offers none. What chat's service decides for its own
graph's threads (the model a thread goes on with, what a one-shot, /model, a deletion or a server's note does to it)
is asked of a ``session`` (tests/session.py); a graph (its own model client), the doors and the command line's words,
of them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chatcli.errors import ChatError, UsageError
from chatcli.service.chat import Chat
from chatcli.service.opening import Opening, ThreadSetup
from tests.fakeserver import Fault, Reply
from tests.helpers import assert_one_error_line, chat

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AGENT = f"{EXAMPLES / 'graphs' / 'agent.py'}:graph"
ELSEWHERE_GRAPH = "other.py:graph"

# The ways back to an existing thread on the command line: by its id, and as the last thread.
RESUMES = {"thread": ["-t", "bound"], "continue": ["-c"]}


@pytest.fixture
def graph_env(chat_env, monkeypatch):
    """chat_env, with the fake server in this process's environment too (the graph's own ChatOpenAI reads it)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, chat_env[name])
    return chat_env


async def one_shot(
    session: Any, question: str, thread: str = "bound", *, model: str | None = None, latest: bool = False
) -> tuple[Opening, str | None]:
    """``question`` asked as ``chat [-m MODEL] -t THREAD`` (``-c`` with ``latest``) asks it, a chat of one thread
    opened for it: the thread it found (``said``: the line it says of a change) and the model that answered (--json's
    ``model``)."""
    setup = ThreadSetup(model=model, latest=latest)
    async with Chat(replace(session.settings, model=model or session.settings.model)) as one:
        opening = await one.find(None if latest else thread, latest=latest, setup=setup)
        return opening, (await (await one.thread(opening, setup=setup)).send(question)).model


def _graphs(server) -> bool:
    """The last request to the model was the example graph's (it offers its tools)."""
    return any(t["function"]["name"] == "get_weather" for t in server.requests[-1].get("tools") or [])


@pytest.mark.parametrize("door", ["thread", "continue"])
async def test_a_thread_goes_on_with_the_model_it_was_started_with(session, door):
    await one_shot(session, "hi", model="gpt-chosen")
    assert (await one_shot(session, "again", latest=door == "continue"))[1] == "gpt-chosen"
    assert [r["model"] for r in session.model.requests] == ["gpt-chosen", "gpt-chosen"]


async def test_m_on_a_thread_changes_it_and_says_so_once(session):
    await one_shot(session, "hi", model="gpt-first")
    changed, _ = await one_shot(session, "again", model="gpt-second")
    assert changed.said == "thread bound now answers with gpt-second (was gpt-first)", changed
    same, _ = await one_shot(session, "more", model="gpt-second")
    assert same.said is None, same
    await one_shot(session, "last")
    assert [r["model"] for r in session.model.requests] == ["gpt-first", "gpt-second", "gpt-second", "gpt-second"]


async def at_the_prompt(chat: Any, thread: str, *lines: str) -> list[str]:
    """What the prompt said to each of ``lines`` on ``thread`` (a command, or a question): at a ``session``'s chat, or
    at a chat of its own opened on ``chat``'s settings, closed after them (leaving the prompt)."""
    from tests.test_commands import chat as prompt_chat

    async with prompt_chat(chat, thread) as at:
        return [await (at.run(line) if line.startswith("/") else at.ask(line)) for line in lines]


async def test_model_at_the_prompt_is_kept_with_the_thread(session):
    await one_shot(session, "hi")
    await at_the_prompt(session, "bound", "/model gpt-slow", "at the prompt")
    assert (await one_shot(session, "and from a script"))[1] == "gpt-slow"


@pytest.mark.parametrize("door", RESUMES)
def test_a_graphs_thread_goes_on_with_its_graph(server, graph_env, tmp_path, door, storage):
    """From another directory, without --graph: the thread's graph answers. A shared database (PostgreSQL), where
    another user may have written the binding, never loads code by itself: one line names the command."""
    server.queue(Reply("from the graph"), Reply("the graph again"))
    assert chat(graph_env, "--graph", AGENT, "-t", "bound", "hi", cwd=tmp_path).code == 0
    assert _graphs(server)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = chat(graph_env, *RESUMES[door], "and again?", cwd=elsewhere)
    if storage.kind == "postgres":
        line = assert_one_error_line(run, 2)
        assert "a shared database does not load by itself" in line and f"chat --graph {AGENT} --thread bound" in line
        assert len(server.requests) == 1
        run = chat(graph_env, "--graph", AGENT, "--thread", "bound", "and again?", cwd=elsewhere)
    assert run.code == 0 and run.out == "the graph again\n", run
    assert _graphs(server) and len(server.requests) == 2


def test_another_graph_or_chats_own_is_refused_in_one_line_unless_rebind(server, graph_env, tmp_path, storage):
    server.queue(Reply("from the graph"))
    assert chat(graph_env, "--graph", AGENT, "-t", "bound", "hi", cwd=tmp_path).code == 0
    (tmp_path / "other.py").write_text((EXAMPLES / "graphs" / "agent.py").read_text())
    refused = chat(graph_env, "--graph", ELSEWHERE_GRAPH, "-t", "bound", "hi", cwd=tmp_path)
    line = assert_one_error_line(refused, 2)
    assert "answered by the graph" in line and "--rebind" in line and "chat --thread bound" in line, line
    model = chat(graph_env, "-m", "gpt-own", "-t", "bound", "hi", cwd=tmp_path)
    assert "--rebind" in assert_one_error_line(model, 2)
    assert len(server.requests) == 1  # nothing was sent for either
    server.queue(Reply("the other graph"))
    taken = chat(graph_env, "--graph", ELSEWHERE_GRAPH, "--rebind", "-t", "bound", "go on", cwd=tmp_path)
    assert taken.code == 0 and f"thread bound now answered by the graph {tmp_path / 'other.py'}:graph" in taken.err
    server.queue(Reply("still the other"))
    named = ["--graph", ELSEWHERE_GRAPH] if storage.kind == "postgres" else []  # a shared database loads no code
    assert chat(graph_env, *named, "-t", "bound", "and now?", cwd=tmp_path).out == "still the other\n"


async def test_chats_own_thread_is_not_handed_to_a_graph_unasked(session, tmp_path):
    from chatcli.backends.graphs.load import GraphFile
    from chatcli.service.answerer import Answerer

    await session.ask("hi", "bound")
    graph = Answerer(graph=GraphFile(AGENT, tmp_path))
    async with Chat(session.settings, graph) as one:
        with pytest.raises(UsageError, match="chat's own graph"):
            await one.find("bound", setup=ThreadSetup(answerer=graph))
    assert len(session.model.requests) == 1


async def test_model_at_the_prompt_then_leaving_is_kept_with_the_thread(session):
    """/model said, then Ctrl-D before any message: the thread still goes on with that model."""
    await one_shot(session, "hi")
    [said] = await at_the_prompt(session.settings, "bound", "/model long-5")  # and leave
    assert "kept with this thread" in said, said
    assert (await one_shot(session, "after leaving"))[1] == "long-5"
    assert session.model.requests[-1]["model"] == "long-5"


async def test_a_thread_stored_before_bindings_goes_on_with_its_last_model(session):
    """A thread with no binding stored (as every thread before them) is read from its index row: its last model."""
    await one_shot(session, "hi", model="gpt-old")
    await session.chat.store.index.bind("bound", "not json at all")  # as good as none: read as a thread from before
    assert (await one_shot(session, "again"))[1] == "gpt-old"


async def test_a_deleted_thread_takes_its_binding_with_it(session):
    await one_shot(session, "hi", model="gpt-gone")
    await session.chat.delete("bound")
    assert (await one_shot(session, "anew"))[1] == "gpt-fake"


def test_chat_serve_goes_on_with_a_threads_model_and_refuses_a_graphs(server, graph_env, tmp_path):
    from tests.doors.serve import AppServed

    server.queue(Reply("one"), Reply("from the graph"))
    assert chat(graph_env, "-m", "gpt-chosen", "-t", "mine", "hi", cwd=tmp_path).code == 0
    assert chat(graph_env, "--graph", AGENT, "-t", "graphs", "hi", cwd=tmp_path).code == 0
    served = AppServed(graph_env)  # chat serve in this process (tests/doors/serve.py)
    try:
        server.queue(Reply("two"))
        status, body = served.ask("mine", "over HTTP")
        assert status == 200 and body["model"] == "gpt-chosen", body
        assert server.requests[-1]["model"] == "gpt-chosen"
        status, body = served.ask("graphs", "over HTTP")
        assert status == 400 and "answered by the graph" in body["error"]["message"], body
        assert len(server.requests) == 3
    finally:
        served.stop()


def test_switch_at_the_prompt_goes_on_with_each_threads_own(server, graph_env, tmp_path):
    import asyncio

    from chatcli.config import load_settings
    from tests.test_commands import chat as prompt_chat

    server.queue(Reply("a"), Reply("b"), Reply("g"))
    assert chat(graph_env, "-m", "gpt-a", "-t", "thread-a", "hi", cwd=tmp_path).code == 0
    assert chat(graph_env, "-t", "thread-b", "hi", cwd=tmp_path).code == 0
    assert chat(graph_env, "--graph", AGENT, "-t", "thread-g", "hi", cwd=tmp_path).code == 0
    settings = load_settings({}, environ=graph_env, cwd=tmp_path)

    async def prompt() -> list[str]:
        async with prompt_chat(settings, "thread-b") as at:
            printed = [await at.run("/switch thread-a")]
            await at.ask("on a")
            printed.append(await at.run("/switch thread-b"))
            await at.ask("on b")
            try:
                await at.run("/switch thread-g")
            except Exception as exc:  # the prompt says a command's UsageError in one line
                printed.append(str(exc) + " " + str(getattr(exc, "hint", "")))
            return printed

    printed = asyncio.run(prompt())
    assert [r["model"] for r in server.requests[-2:]] == ["gpt-a", "gpt-fake"]
    assert "answered by the graph" in printed[-1] and "chat --thread thread-g" in printed[-1], printed


async def test_a_servers_thread_id_never_takes_over_a_local_thread(session):
    """What a deployed graph's server names is a string of its choosing: noting its thread locally never
    rebinds a thread of chat's own, nor puts it in the inbox, nor takes an id that is no thread id."""
    from types import SimpleNamespace

    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.service.backend import RemoteBackend
    from chatcli.store.base import Asked

    await one_shot(session, "hi", "mine", model="gpt-mine")
    evil = RemoteBackend.__new__(RemoteBackend)  # what a server's backend notes, with no connection made
    evil.remote = SimpleNamespace(spec=RemoteSpec("http://evil.example", "agent"))
    evil.db = session.settings.db
    for named in ("mine", "../../etc", "x" * 500):
        await evil.keep(named, [Asked("interrupt", "i1", "answer me")])
    assert await session.chat.threads().waiting() == []  # chat inbox's list
    assert (await one_shot(session, "again", "mine"))[1] == "gpt-mine"


def test_every_resume_hint_is_a_command_that_goes_on_with_the_thread():
    """`chat --thread ID` finds what answers a thread; a graph's thread in a shared database, which loads no code
    by itself, is named with its graph (paths quoted, braces and all)."""
    from chatcli.core.binding import Binding, resume_template
    from chatcli.ui.prompt_session import banner

    graph = Binding(kind="graph", graph="/work/my {agents}/a.py:graph", cwd="/work")
    assert resume_template(None, "/home/me/chat.db").format(id="t1") == "chat --thread t1"
    assert resume_template(graph, "/home/me/chat.db").format(id="t1") == "chat --thread t1"
    shared = resume_template(graph, "postgresql://db/chat").format(id="t1")
    assert shared == "cd /work && chat --graph '/work/my {agents}/a.py:graph' --thread t1", shared
    assert banner("t1", None, True, resume_template(graph, "postgresql://db/chat"))[0].endswith(shared)


def test_two_projects_graphs_of_one_id_are_told_apart_by_their_directory(server, graph_env, tmp_path):
    """`agent` of one project's langgraph.json is not `agent` of another's: the refusal names the directories,
    not "answered by the graph agent, not the graph agent"."""
    first, second = tmp_path / "first", tmp_path / "second"
    for project in (first, second):
        (project / "graphs").mkdir(parents=True)
        (project / "graphs" / "agent.py").write_text((EXAMPLES / "graphs" / "agent.py").read_text())
        (project / "langgraph.json").write_text((EXAMPLES / "langgraph.json").read_text())
    server.queue(Reply("from the first"))
    assert chat(graph_env, "--graph", "agent", "-t", "trip", "hi", cwd=first).code == 0
    line = assert_one_error_line(chat(graph_env, "--graph", "agent", "-t", "trip", "hi", cwd=second), 2)
    assert f"answered by the graph agent (named in {first}), not the graph agent (named in {second})" in line, line
    assert len(server.requests) == 1


@pytest.mark.parametrize("leave", ["/exit", "ctrl-d"])
def test_model_told_to_a_new_thread_is_kept_when_leaving_before_any_question(server, chat_env, leave):
    """A new thread told /model exists from then on: leaving before any question (/exit or Ctrl-D) keeps it, listed,
    with the model it was told, and ``chat -t ID`` goes on with that model."""
    import re

    from tests.doors.prompt import Typed
    from tests.helpers import visible

    prompt = Typed(chat_env, [])  # the prompt in this process (tests/doors/prompt.py)
    assert "kept with this thread" in "".join(prompt.say("/model think")), prompt
    prompt.ready()
    at = len(prompt.out.getvalue()), len(prompt.err.getvalue())
    if leave == "/exit":
        prompt.keys.send_text("/exit\r")
        prompt.thread.join(60)
    assert prompt.leave() == 0, prompt  # (Ctrl-D, if the prompt is still there)
    said = visible(prompt.out.getvalue()[at[0] :] + prompt.err.getvalue()[at[1] :])
    found = re.search(r"bye · resume with: chat --thread (\S+)", said)
    assert found, prompt
    thread = found.group(1)
    listed = chat(chat_env, "threads", "--json")
    assert listed.code == 0 and thread in [row["thread_id"] for row in json.loads(listed.out)], listed
    server.queue(Reply("from think"))
    run = chat(chat_env, "--json", "-t", thread, "again")
    assert run.code == 0 and json.loads(run.out)["model"] == "think", run
    assert [r["model"] for r in server.requests] == ["think"]


@pytest.mark.parametrize("how", ["config option", "/model"])
def test_model_told_to_a_new_editor_session_is_kept_when_the_editor_leaves(server, chat_env, how):
    """An editor's new session told a model (its config option, or /model) and closed before any prompt: the thread
    is kept, listed, and goes on with that model from the terminal."""
    from tests.doors.acp import InProcessEditor

    editor = InProcessEditor(chat_env)  # chat acp in this process (tests/doors/acp.py)
    editor.initialize()
    session = editor.new()
    if how == "/model":
        editor.prompt(session, "/model think")
    else:
        editor.call("set_config_option", config_id="model", session_id=session, value="think")
    assert editor.close() == 0, editor.stderr.decode()
    listed = chat(chat_env, "threads", "--json")
    assert listed.code == 0 and session in [row["thread_id"] for row in json.loads(listed.out)], listed
    server.queue(Reply("from think"))
    run = chat(chat_env, "--json", "-t", session, "again")
    assert run.code == 0 and json.loads(run.out)["model"] == "think", run
    assert [r["model"] for r in server.requests] == ["think"]


async def test_a_new_thread_told_a_model_is_titled_by_its_first_question_and_kept_if_it_fails(session):
    """Kept untitled from /model on; a first question that fails leaves it kept (its model with it), and the first
    one answered names it."""
    [said] = await at_the_prompt(session, "fresh", "/model gpt-told")
    assert "kept with this thread" in said, said

    async def row() -> Any:
        return await session.chat.threads().info("fresh")  # as chat threads lists it

    assert ((await row()).title or "", (await row()).message_count) == ("", 0)
    session.model.queue(Fault(status=500, message="down"))
    with pytest.raises(ChatError):
        await one_shot(session, "a first try", "fresh")
    assert (await row()).thread_id == "fresh"
    session.model.queue(Reply("answered"))
    assert (await one_shot(session, "a second try", "fresh"))[1] == "gpt-told"
    assert (await row()).title == "a first try"
    assert [r["model"] for r in session.model.requests] == ["gpt-told", "gpt-told"]

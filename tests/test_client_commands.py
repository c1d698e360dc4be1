"""The commands a client runs on a thread, the same at each door that is a client's: an editor's available commands
(``chat acp``) and ``chat serve``'s ``/v1/commands``, both views of one registry (chatcli.service.commands) run by one
service (chatcli.service.command_runs); on chat's own graph and a graph of the user's (which runs only those that
need nothing of chat's prompt). Both doors run in this process (tests/doors)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fakeserver import Reply
from tests.helpers import chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture

# What a graph's thread is not offered: its model, prompt, memory.
OWN_ONLY = {"compact", "summary", "pin", "unpin", "model", "role", "system", "fork", "skills"}
EVERYWHERE = {
    "retry",
    "bg",
    "undo",
    "tree",
    "goto",
    "label",
    "think",
    "usage",
    "title",
    "history",
    "remember",
    "memory",
    "plugin",
}


class Refused(Exception):
    """A command refused at a door, in its one line."""


class Client:
    """A door a client runs commands at: ``offered()`` names them with their descriptions; ``ask`` starts the
    thread; ``run`` runs one and gives the line it said, or the answer of the turn it ran."""

    thread: str

    def offered(self) -> dict[str, str]: ...

    def ask(self, text: str) -> str: ...

    def run(self, command: str, given: str = "") -> str: ...


class AcpClient(Client):
    def __init__(self, editor: Any):
        self.editor = editor
        self.thread = editor.new()

    def offered(self) -> dict[str, str]:
        editor, session = self.editor, self.thread
        editor.wait_for(lambda: bool(editor.of(session, "available_commands_update")))
        update = editor.of(session, "available_commands_update")[-1]
        return {c.name: c.description for c in update.available_commands}

    def ask(self, text: str) -> str:
        mark = len(self.editor.updates)
        assert self.editor.prompt(self.thread, text).stop_reason == "end_turn"
        return str(self.editor.text(self.thread, since=mark))

    def run(self, command: str, given: str = "") -> str:
        from acp import RequestError

        try:
            return self.ask(f"/{command} {given}".strip())
        except RequestError as exc:
            raise Refused(str(exc)) from None


class ServeClient(Client):
    thread = "c0ffee01"

    def __init__(self, served: Any):
        self.served = served

    def offered(self) -> dict[str, str]:
        status, listed = self.served.request("GET", "/v1/commands")
        assert status == 200, listed
        return {c["name"]: c["description"] for c in listed}

    def ask(self, text: str) -> str:
        status, answer = self.served.ask(self.thread, text)
        assert status == 200, answer
        return str(answer["reply"])

    def run(self, command: str, given: str = "") -> str:
        status, done = self.served.request(
            "POST", f"/v1/threads/{self.thread}/commands", {"command": command, "input": given}
        )
        if status != 200:
            raise Refused(done["error"]["message"])
        return str(done.get("said", done.get("reply")))


@contextmanager
def opened(door: str, env: dict[str, str], *args: str) -> Iterator[Client]:
    """A client's door, ``acp`` (an editor, in this process) or ``serve``, on chat started with ``args``; closed (an
    editor's ``chat acp`` must end cleanly) as the ``with`` ends."""
    if door == "acp":
        from tests.doors.acp import InProcessEditor

        editor = InProcessEditor(env, *args)
        editor.initialize()
        yield AcpClient(editor)
        assert editor.close() == 0, editor.stderr.decode()
    else:
        from tests.doors.serve import AppServed

        served = AppServed(env, *args)
        try:
            yield ServeClient(served)
        finally:
            served.stop()


@pytest.fixture(params=["acp", "serve"])
def client(request, chat_env, monkeypatch, graph_args) -> Iterator[Client]:
    if graph_args:  # the graph's own code reads its model's key and address, in this process too
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.setenv(name, chat_env[name])
    with opened(request.param, chat_env, *graph_args) as door:
        yield door


@pytest.fixture(params=["own", "graph"])
def graph_args(request) -> list[str]:
    from tests.matrix import AGENT

    return ["--graph", AGENT] if request.param == "graph" else []


def test_each_client_door_offers_what_the_thread_can_run(client, graph_args):
    offered = client.offered()
    if graph_args:
        assert set(offered) == EVERYWHERE, offered
    else:
        assert set(offered) == EVERYWHERE | OWN_ONLY, offered
    assert all(text and not name.startswith("/") for name, text in offered.items())


def test_retry_answers_again_and_undo_takes_the_exchange_back(client, server, chat_env):
    server.queue(Reply("first answer"), Reply("second answer"))
    assert client.ask("a question") == "first answer"
    assert client.run("retry") == "second answer"
    assert client.run("undo") == "undone: a question (and its answer); kept as node 2: /goto 2 brings it back"
    assert client.run("undo") == "nothing to undo"
    kept = json.loads(chat(chat_env, "export", client.thread, "--format", "json").out)
    assert kept["messages"] == [], kept  # the thread is kept, with nothing said in it now


@pytest.mark.usefixtures("jobs_here")  # the background reply in this process: its own process is test_jobs's
def test_bg_asks_in_the_background_and_the_thread_keeps_its_answer(client, server, chat_env):
    """An editor's /bg and serve's bg command start a background reply as the prompt's /bg does: the session is free
    at once, ``chat jobs`` lists it, the thread keeps the answer."""
    server.queue(Reply("first answer"), Reply("answered behind your back"))
    client.ask("a question")
    said = client.run("bg", "and another one")
    assert said.startswith("answering in the background as job "), said
    job = said.split()[6].rstrip(":")

    def done() -> dict[str, Any] | None:
        listed = json.loads(chat(chat_env, "jobs", "--json").out)
        return next((j for j in listed if j["id"] == job and j["state"] == "done"), None)

    found = eventually(done, f"job {job} to be done", timeout=60)
    assert found["question"] == "and another one" and found["thread_id"] == client.thread, found
    shown = chat(chat_env, "show", client.thread).out
    assert "and another one" in shown and "answered behind your back" in shown, shown
    with pytest.raises(Refused, match="question"):
        client.run("bg")


def test_a_model_chosen_answers_from_the_next_message_and_a_bad_one_is_one_line(client, server, chat_env, graph_args):
    server.queue(Reply("hello"))
    client.ask("hello")
    if graph_args:  # the graph chooses its own: not offered, and refused when run all the same
        with pytest.raises(Refused, match="/model is chat's own"):
            client.run("model", "gpt-other")
        return
    with pytest.raises(Refused, match="not a model name"):
        client.run("model", "two words")
    with pytest.raises(Refused, match="no API key for Anthropic"):  # its key is not set: nothing switched
        client.run("model", "anthropic:claude-x")
    assert client.run("model") == chat_env["CHATCLI_MODEL"]
    assert client.run("model", "gpt-other") == "model gpt-other from the next message, kept with this thread"
    client.ask("again")
    assert server.requests[-1]["model"] == "gpt-other"


def test_fork_starts_a_thread_that_holds_this_ones_turns(client, server, chat_env, graph_args):
    server.queue(Reply("the answer"))
    client.ask("the question")
    if graph_args:  # a graph's memory is its own: not offered, and refused when run all the same
        with pytest.raises(Refused, match="/fork is chat's own"):
            client.run("fork")
        return
    said = client.run("fork")
    assert said.startswith("forked ") and " into " in said, said
    new = said.split(" into ")[1].split()[1]  # "into thread ID", "into session ID": as each door names a thread
    kept = chat(chat_env, "show", new)
    assert "the question" in kept.out and "the answer" in kept.out, kept
    assert new != client.thread


def test_the_prompts_commands_about_a_thread_run_at_each_client_door(client, server, graph_args):
    """/title, /usage, /history, /remember, /memory, /think, /system, /pin: one handler each (chatcli.service), offered
    and run at an editor and at serve as at the prompt; what only a terminal does is refused there in one line."""
    server.queue(Reply("an answer"))
    client.ask("a question")
    assert client.run("title", "penguins") == "title set"
    assert client.run("title") == "penguins"
    assert client.run("usage").startswith("1 turn · ")
    assert "a question" in client.run("history") and "an answer" in client.run("history")
    assert client.run("think") == "no thinking in this thread yet (only reasoning models think aloud)"
    with pytest.raises(Refused, match="/think on is run at chat's prompt only"):
        client.run("think", "on")
    kept = client.run("remember", "I like tea")
    assert kept.startswith("remembered (") and "I like tea" in client.run("memory"), kept
    if graph_args:  # the graph builds its own prompt
        with pytest.raises(Refused, match="/system is chat's own"):
            client.run("system", "Be terse.")
        return
    assert client.run("system", "Be terse.") == "system prompt set for this thread"
    assert client.run("system") == "Be terse."
    assert client.run("pin").startswith("turn 1 pinned: ")


def test_serve_refuses_a_command_it_does_not_run_and_a_thread_that_is_none(chat_env):
    from tests.doors.serve import AppServed

    served = AppServed(chat_env)
    try:
        status, refused = served.request("POST", "/v1/threads/c0ffee01/commands", {"command": "exit"})
        assert status == 400 and "no command 'exit' here" in refused["error"]["message"], refused
        status, refused = served.request("POST", "/v1/threads/c0ffee01/commands", {"command": "\x1b[2J"})
        assert status == 400 and "\x1b" not in json.dumps(refused["error"]["message"], ensure_ascii=False), refused
        status, missing = served.request("POST", "/v1/threads/nosuch01/commands", {"command": "undo"})
        assert status == 404, missing
    finally:
        served.stop()


def test_the_tree_keeps_what_retry_replaced_and_goto_goes_back_to_it(client, server, chat_env, graph_args):
    server.queue(Reply("first answer"), Reply("second answer"), Reply("third answer"))
    client.ask("a question")
    assert client.run("retry") == "second answer"
    drawn = client.run("tree")
    assert "a question -> first answer" in drawn and "a question -> second answer" in drawn, drawn
    went = "on node 1: a question -> first answer; node 2 is where you were (/goto 2)"
    assert client.run("goto", "1") == went
    assert client.run("label", "kept") == "node 1 is kept (/goto kept goes back to it): a question -> first answer"
    assert client.ask("and then?") == "third answer"
    with pytest.raises(Refused, match="no node '7'"):
        client.run("goto", "7")
    if isinstance(client, ServeClient):  # the same tree, as JSON, at serve's route
        status, tree = client.served.request("GET", f"/v1/threads/{client.thread}/tree")
        assert status == 200, tree
    else:
        tree = json.loads(chat(chat_env, "tree", client.thread, "--json").out)
    nodes = {n["node"]: (n["parent"], n["answer"], n["labels"]) for n in tree["nodes"]}
    assert nodes == {1: (None, "first answer", ["kept"]), 2: (None, "second answer", []), 3: (1, "third answer", [])}
    assert tree["current"] == 3
    if isinstance(client, ServeClient):  # a message may ask from a node, as --at does
        status, answer = client.served.ask(client.thread, "from two", at="2")
        assert status == 200 and answer["reply"] == "You said: from two (earlier: a question)", answer
        assert answer["node"] == 4, answer
        status, tree = client.served.request("GET", f"/v1/threads/{client.thread}/tree")
        assert tree["current"] == 4 and tree["nodes"][3]["parent"] == 2, tree
        status, refused = client.served.ask(client.thread, "from nowhere", at="nine")
        assert status == 400 and "no node 'nine'" in refused["error"]["message"], refused


@pytest.mark.e2e  # a real langgraph dev
@pytest.mark.usefixtures("jobs_here")
@pytest.mark.parametrize("kind", ["acp", "serve"])
def test_bg_on_an_agent_servers_thread_is_answered_there_at_each_client_door(kind, deployed, deployed_model, chat_env):
    """An editor's /bg and serve's bg command on a thread an Agent Server keeps: the background reply asks that server
    on that thread, and the server's thread keeps its answer."""
    import uuid

    from langgraph_sdk import get_sync_client

    from tests.remote_server import KEY

    env = {**{k: v for k, v in chat_env.items() if not k.startswith("LANGSMITH")}, "LANGGRAPH_API_KEY": KEY}
    args = ["--remote", deployed.url, "--assistant", "example"]
    deployed_model.clear()
    deployed_model.queue(Reply("first answer"), Reply("answered on the server"))
    if kind == "acp":
        from tests.doors.acp import InProcessEditor

        editor = InProcessEditor(env, *args)
        editor.initialize()
        client: Client = AcpClient(editor)
    else:
        from tests.doors.serve import AppServed

        served = AppServed(env, *args)
        client = ServeClient(served)
        client.thread = str(uuid.uuid4())
    try:
        assert client.ask("a question") == "first answer"
        said = client.run("bg", "and another one")
        assert said.startswith("answering in the background as job "), said
        job = said.split()[6].rstrip(":")

        def done() -> dict[str, Any] | None:
            listed = json.loads(chat(env, "jobs", "--json").out)
            return next((j for j in listed if j["id"] == job and j["state"] != "running"), None)

        found = eventually(done, f"job {job} to end", timeout=60)
        assert found["state"] == "done" and found["thread_id"] == client.thread, found
    finally:
        if kind == "acp":
            assert editor.close() == 0
        else:
            served.stop()
    kept = get_sync_client(url=deployed.url, api_key=KEY).threads.get_state(client.thread)["values"]["messages"]
    assert [m["content"] for m in kept][-2:] == ["and another one", "answered on the server"], kept


@pytest.mark.parametrize("graph_args", ["own"], indirect=True)  # compaction is chat's own
def test_undoing_a_compaction_says_so_at_each_client_door_as_the_prompt_does(client, server):
    server.queue(Reply("noted 1"), Reply("noted 2"), Reply("noted 3"), Reply("S: one, two"))
    for n in (1, 2, 3):
        client.ask(f"question {n}")
    said = client.run("compact")
    assert said.startswith("compacted 2 earlier turns: ~") and "/undo takes it back" in said, said
    assert client.run("undo") == "undone: the compaction (the summary before it is sent again)"
    assert client.run("undo") == "undone: question 3 (and its answer); kept as node 3: /goto 3 brings it back"


def test_tree_takes_all_or_nothing_at_each_client_door_as_at_the_prompt(client, server):
    server.queue(Reply("an answer"))
    client.ask("a question")
    with pytest.raises(Refused, match="/tree takes all, or nothing"):
        client.run("tree", "everything")
    assert "a question -> an answer" in client.run("tree", "all")


@pytest.mark.usefixtures("in_memory")
def test_serve_runs_an_mcp_servers_prompt_and_lists_it_once_known(server, chat_env):
    """The notes server, of mcp 2.x, made in this process (tests/mcp_servers.in_memory)."""
    from tests import mcp_servers
    from tests.doors.serve import AppServed
    from tests.test_mcp import write_servers

    write_servers(chat_env, {"notes": mcp_servers.stdio(Path(__file__).parent / "mcp" / "notes.py")})
    served = AppServed(chat_env)
    try:
        client = ServeClient(served)
        server.queue(Reply("hello"), Reply("looks fine"))
        client.ask("hello")  # the thread a command runs on
        assert client.run("mcp__notes__review", "'x = 1' focus=style") == "looks fine"
        assert server.last_messages()[-1]["content"] == "Review this code for style:\nx = 1"
        status, listed = served.request("GET", "/v1/commands")
        review = next(c for c in listed if c["name"] == "mcp__notes__review")
        assert review["input"] == "code [focus]" and review["answers"], review
        with pytest.raises(Refused, match="unknown command /mcp__notes__nope"):
            client.run("mcp__notes__nope")
    finally:
        served.stop()

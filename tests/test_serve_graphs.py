"""``chat serve --graph FILE:NAME`` and ``chat serve --remote URL``: a LangGraph app's threads over the same HTTP API
as chat's own, its interrupts answered by ``POST .../approvals`` (an approval by call id, any other question by
interrupt id), its threads listed, exported and deleted, and a thread served here going on at the command line.

Every test of a served app runs on both LangGraph backends of tests/matrix.py (``LANGGRAPH_APPS``): the example graph
(examples/graphs/agent.py) loaded by ``chat serve --graph``, and the same graph deployed on a real ``langgraph dev``
(tests/remote_server.py, the matrix's ``deployed`` fixture). ``chat serve`` is its app in this process
(tests/doors/serve.py): a cell on ``--remote`` is in the e2e run for its ``langgraph dev``, not for chat serve.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator

import pytest

from tests.doors.serve import AppServed
from tests.fakeserver import FakeOpenAIServer, Reply, tool_calls
from tests.helpers import chat
from tests.matrix import AGENT, Backend, backends
from tests.remote_server import KEY

pytestmark = pytest.mark.timeout(180)

# Both LangGraph backends of tests/matrix.py: ``--graph`` (the example graph, loaded by chat serve) and ``--remote``
# (the same graph on a real ``langgraph dev``).
LANGGRAPH_APPS = backends("graph", "remote")


@pytest.fixture
def graph_path() -> str:
    """The graph ``--graph`` loads here: the example, whose tools ask (ask_user) and wait for approval (book_table)."""
    return AGENT


class App:
    """``chat serve`` on one backend, with the fake model its graph asks and the command line that goes on with a
    thread of it."""

    def __init__(self, served: AppServed, model: FakeOpenAIServer, args: list[str], env: dict[str, str]):
        self.served, self.model, self.args, self.env = served, model, args, env

    def ask(self, thread: str, text: str, **extra: Any) -> tuple[int, Any]:
        return self.served.ask(thread, text, **extra)

    def answer(self, thread: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self.served.request("POST", f"/v1/threads/{thread}/approvals", body)


@pytest.fixture
def app(backend: Backend) -> Iterator[App]:
    served = AppServed(backend.env, *backend.args)
    try:
        yield App(served, backend.model, backend.args, backend.env)
    finally:
        served.stop()


@LANGGRAPH_APPS
def test_a_served_graph_answers_and_its_approval_and_question_are_answered_by_request(app):
    thread = str(uuid.uuid4())  # a server names its threads with UUIDs; so does any client
    status, first = app.ask(thread, "hello there")
    assert status == 200 and first["reply"] == "You said: hello there" and first["thread_id"] == thread, first

    app.model.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"}, "call_b")))
    status, waiting = app.ask(thread, "book a table")
    assert status == 200 and [c["id"] for c in waiting["approval_required"]] == ["call_b"], waiting
    app.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
    status, asked = app.answer(thread, {"decisions": {"call_b": {"action": "yes"}}})
    assert status == 200, asked
    assert [(c["name"], c["status"]) for c in asked["tool_calls"]][:1] == [("book_table", "ok")], asked
    (question,) = asked["interrupts"]
    assert question["value"] == "For when?", asked

    app.model.queue(Reply("Tomorrow then."))
    status, done = app.answer(thread, {"answers": {question["id"]: "tomorrow"}})
    assert status == 200 and done["reply"] == "Tomorrow then." and "interrupts" not in done, done
    assert ["tool", "tomorrow"] in [[m["role"], m.get("content")] for m in app.model.requests[-1]["messages"]]

    status, again = app.answer(thread, {"answers": {question["id"]: "tomorrow"}})
    assert status == 409 and "waits on nothing: answered already" in again["error"]["message"], again


@LANGGRAPH_APPS
def test_a_served_graph_s_threads_are_listed_exported_deleted_and_go_on_at_the_command_line(app):
    thread = str(uuid.uuid4())
    assert app.ask(thread, "remember this")[0] == 200
    status, rows = app.served.request("GET", "/v1/threads")
    assert status == 200 and thread in [r["thread_id"] for r in rows], rows
    status, exported = app.served.request("GET", f"/v1/threads/{thread}")
    assert status == 200 and [m["role"] for m in exported["messages"]][:2] == ["user", "assistant"], exported
    assert exported["messages"][0]["content"] == "remember this"

    # The thread goes on at the command line, on the same graph: it was kept where the command line keeps it.
    go_on = chat(app.env, *app.args, "-t", thread, "and now?")
    assert go_on.code == 0 and go_on.out == "You said: and now? (earlier: remember this)\n", go_on

    assert app.served.request("DELETE", f"/v1/threads/{thread}")[0] == 204
    status, gone = app.served.request("GET", f"/v1/threads/{thread}")
    assert status in (400, 404) and "error" in gone, gone


@LANGGRAPH_APPS
def test_what_only_chat_s_own_graph_takes_is_refused_in_one_line(app):
    thread = str(uuid.uuid4())
    for extra, said in (({"model": "gpt-4.1"}, "the model is the graph's own"), ({"system": "be brief"}, "chat's own")):
        status, refused = app.ask(thread, "hi", **extra)
        assert status == 400 and said in refused["error"]["message"], (extra, refused)
        assert "\n" not in refused["error"]["message"]
    status, refused = app.served.request("POST", f"/v1/threads/{thread}/commands", {"command": "compact"})
    assert status in (400, 404) and "error" in refused, refused


@pytest.mark.e2e  # a langgraph dev
def test_a_new_thread_on_a_server_needs_the_server_s_kind_of_id(chat_env, deployed, deployed_model):
    env = {**{k: v for k, v in chat_env.items() if not k.startswith("LANGSMITH")}, "LANGGRAPH_API_KEY": KEY}
    served = AppServed(env, "--remote", deployed.url, "--assistant", "example")
    try:
        status, refused = served.ask("nightly", "hi")
        assert status == 400 and "needs a UUID" in refused["error"]["message"], refused
    finally:
        served.stop()


def test_graph_and_remote_are_one_choice(chat_env):
    both = chat(chat_env, "serve", "--graph", AGENT, "--remote", "http://127.0.0.1:9")
    assert both.code == 2 and "give --graph or --remote, not both" in both.err, both
    alone = chat(chat_env, "serve", "--assistant", "example")
    assert alone.code == 2 and "--assistant and --header go with --remote URL" in alone.err, alone
    assert json.dumps  # the module's JSON helpers stay imported for the error bodies above

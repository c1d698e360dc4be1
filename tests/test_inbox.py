"""One inbox (``chat inbox``, ``GET /v1/inbox``): every question chat waits on for the user, whichever door asked it
(a one-shot, ``chat serve``, a background reply) and on which backend, listed in one place and answered there, the
thread going on in the background; answered anywhere, it leaves the inbox."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.matrix import AGENT, backends
from tests.test_serve import Served

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def graph_path() -> str:
    """The graph ``--graph`` loads here: the example, whose tools ask (ask_user) and wait for approval (book_table)."""
    return AGENT


def inbox(env: dict[str, str]) -> list[dict]:
    run = chat(env, "inbox", "--json")
    assert run.code == 0, run
    return json.loads(run.out)


def jobs_of(env: dict[str, str], thread: str) -> list[dict]:
    run = chat(env, "jobs", "--json")
    assert run.code == 0, run
    return [j for j in json.loads(run.out) if j["thread_id"] == thread]


@backends("own", "graph")
def test_a_served_thread_s_questions_are_in_both_inboxes_and_answered_from_the_command_line(backend, tmp_path):
    """Asked over HTTP, listed by ``GET /v1/inbox`` and ``chat inbox``; answered by a request, it leaves the inbox
    (the graph's next question takes its place); ``chat inbox answer`` answers what waits, the thread going on in the
    background."""
    own = backend.name == "own"
    env = {**backend.env, "CHATCLI_TOOLS": "shell"} if own else backend.env
    served = Served(env, *backend.args)
    thread = str(uuid.uuid4())
    try:
        if own:
            backend.model.queue(tool_calls(("shell", {"command": "echo from-the-inbox"}, "call_b")))
        else:
            backend.model.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"}, "call_b")))
        status, waiting = served.ask(thread, "book a table")
        assert status == 200 and [c["id"] for c in waiting["approval_required"]] == ["call_b"], waiting
        status, listed = served.request("GET", "/v1/inbox")
        assert status == 200 and [(r["thread_id"], [a["kind"] for a in r["asked"]]) for r in listed] == [
            (thread, ["approval"])
        ], listed
        assert inbox(backend.env) == listed  # one inbox, whichever door reads it

        if not own:  # the graph's approval answered by a request; then its tool asks a question
            backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
            status, asked = served.request(
                "POST", f"/v1/threads/{thread}/approvals", {"decisions": {"call_b": {"action": "yes"}}}
            )
            assert status == 200, asked
            (row,) = inbox(backend.env)
            assert [a["kind"] for a in row["asked"]] == ["interrupt"] and "For when?" in row["asked"][0]["text"], row
    finally:
        served.stop()

    backend.model.queue(Reply("Booked for tomorrow."))
    answered = chat(backend.env, "inbox", "answer", thread, "yes" if own else "tomorrow", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    eventually(lambda: [j for j in jobs_of(backend.env, thread) if j["state"] == "done"], "the answer's job to end")
    assert inbox(backend.env) == []
    shown = chat(backend.env, "show", thread).out
    assert "Booked for tomorrow." in shown and (not own or "from-the-inbox" in shown), shown

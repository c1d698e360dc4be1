"""A client of ``chat serve`` that leaves mid-answer, on a thread its request starts and on one that had turns.

The answer stops (chat leaves the model's stream, long before its end), the part that arrived is kept, marked, and
the thread's next question is answered at once, before the answer left behind would have ended: as plain JSON and as
server-sent events, on chat's own graph and on a graph of the user's (``chat serve --graph``). A thread asked with a model (a
request's ``"model"``, as ``-m``) goes on with it, whether the turn that named it ended or was left, and however soon
the next question comes.

On a LangGraph server's thread (``chat serve --remote``), which no database of chat's holds, the next question asked
the moment the client left waits for the part shown to be written into the server's thread, and comes after it.

Each step waits for what happened (the answer streaming, the model's stream left), never for a fixed time. chat
serve is its app in this process (tests/doors/serve.py), a client that leaves the ASGI disconnect uvicorn gives it;
leaving over a real socket (closed, reset, half closed) is tests/test_serve_guard.py's.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any, Iterator

import pytest

from tests.doors.serve import AppServed
from tests.fakeserver import Fault, Reply
from tests.matrix import Backend, Serve, backends, doors, sent

pytestmark = pytest.mark.timeout(120)

WORDS = [f" word{i}" for i in range(1500)]
DELAY = 0.02  # seconds between the words: the whole answer takes 30 s, what each step is measured against
WHOLE = len(WORDS) * DELAY
MODEL = "long-600"  # the model the leaving request names (chat's own graph; a graph of the user's has its own)
STORY = "alpha beta gamma delta epsilon"


@pytest.fixture
def served(backend: Backend) -> Iterator[AppServed]:
    server = AppServed(backend.env, *backend.args)
    try:
        yield server
    finally:
        server.stop()


def _leave_mid_answer(served: AppServed, backend: Backend, thread: str, events: bool) -> float:
    """Ask ``thread`` for the long answer, leave once it streams (the client closes, as ``curl -m 1`` does), and
    check chat left the model's stream before its end; when the answer would have ended, had chat gone on with it
    (the words not sent yet, at the fake's pace, from the moment its client left)."""
    fake = backend.model
    body: dict[str, Any] = {"content": "a long one"} | ({"model": MODEL} if backend.name == "own" else {})
    chunks, cut = fake.chunks_sent, fake.streams_cut
    path = f"/v1/threads/{thread}/messages"
    if events:  # the client reads the first words, then goes
        status, seen = served.leave(path, body, shown=" word4")
        assert status == 200 and [e["type"] for e in seen].count("token") >= 5, seen
    else:  # what a plain request's client cannot see: the model into its answer
        served.leave(path, body, shown=lambda: fake.chunks_sent >= chunks + 5, stream=False)
    assert fake.wait_until_sent(chunks=chunks + 5), "the answer never began"
    ends = time.monotonic() + (len(WORDS) - (fake.chunks_sent - chunks)) * DELAY
    ended = fake.streams_ended
    fake.wait_until(lambda: fake.streams_cut > cut or fake.streams_ended > ended, timeout=WHOLE)
    assert fake.streams_cut > cut and fake.streams_ended == ended, "the answer ran on to its end after its client left"
    return ends


@backends("own", "graph")
@pytest.mark.parametrize("events", [False, True], ids=["json", "events"])
@pytest.mark.parametrize("started", ["new", "existing"])
def test_a_client_that_leaves_mid_answer_stops_it_and_the_next_question_is_answered_at_once(
    backend: Backend, served: AppServed, started: str, events: bool
) -> None:
    fake = backend.model
    thread = str(uuid.uuid4())  # a server names its threads with UUIDs; so does any client
    if started == "existing":
        fake.queue(Reply("first"))
        assert served.ask(thread, "hello")[1]["reply"] == "first"
    fake.queue(Reply(tokens=WORDS, delay=DELAY), Reply("next"))

    would_end = _leave_mid_answer(served, backend, thread, events)

    status, answer = served.ask(thread, "and now?")
    assert status == 200 and answer["reply"] == "next", answer
    assert time.monotonic() < would_end, "the next question waited as long as the answer left behind would have run"

    status, exported = served.request("GET", f"/v1/threads/{thread}")
    assert status == 200, exported
    said = [(m["role"], m["content"]) for m in exported["messages"]]
    assert (
        said[-4][0] == "user"
        and said[-4][1] == "a long one"
        and said[-2:]
        == [
            ("user", "and now?"),
            ("assistant", "next"),
        ]
    ), said
    kept = exported["messages"][-3]
    assert kept["role"] == "assistant" and kept.get("interrupted") == "cancelled", kept
    whole = "".join(WORDS)
    assert kept["content"].startswith(" word0 word1 word2") and kept["content"] != whole, kept
    assert whole.startswith(kept["content"]), kept  # the part that arrived, as it arrived
    if backend.name == "own":  # the thread goes on with the model it was asked with, new or not, left or not
        assert answer["model"] == MODEL and fake.requests[-1]["model"] == MODEL, (answer, fake.requests[-1])


@doors("serve")
@backends("remote")
def test_the_next_question_waits_until_the_left_answer_is_kept_on_a_server_s_thread(
    door: Serve, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LangGraph server's thread (``--remote``) has no lock in chat's database: the part shown is written into it
    after its run is cancelled there. The next question, asked the moment the client left, waits for that write (held
    here until that question waits, or has reached the model): question, the part shown, the next question."""
    from chatcli.backends.remote.state import ServerApp
    from chatcli.service.backend import RemoteBackend

    model, waits = backend.model, threading.Event()

    def reached() -> bool:  # the next question reached the model (the write it should wait for not made yet)
        return any(("user", "go on") in sent(backend.row, asked) for asked in list(model.requests))

    write = ServerApp.aupdate_state

    async def held(self: ServerApp, config: dict[str, Any], values: Any, as_node: str | None = None) -> Any:
        kept = isinstance(values, dict) and any(
            (getattr(m, "response_metadata", None) or {}).get("interrupted") for m in values.get("messages") or []
        )
        while kept and not (waits.is_set() or reached()):
            await asyncio.sleep(0.01)  # polled: the write goes on once the next question waits, or went on without it
        return await write(self, config, values, as_node)

    monkeypatch.setattr(ServerApp, "aupdate_state", held)
    hold = RemoteBackend.thread_lock
    monkeypatch.setattr(RemoteBackend, "thread_lock", lambda self, thread, on_wait=None: hold(self, thread, waits.set))

    model.queue(Fault(stall_after=3, text=STORY))
    stopped = door.stop("tell me a story", shown="gamma")
    door.stopped(stopped)
    again = door.go_on(stopped, "go on")
    assert again.code == 0 and waits.is_set(), again  # it waited for the thread, then was answered
    asked = sent(backend.row, model.requests[-1])
    assert [role for role, _ in asked[-3:]] == ["user", "assistant", "user"], asked
    assert asked[-3][1] == "tell me a story" and asked[-1][1] == "go on", asked
    assert asked[-2][1].startswith("alpha beta gamma") and "epsilon" not in asked[-2][1], asked

    status, exported = door.served.request("GET", f"/v1/threads/{stopped.thread}")
    assert status == 200, exported
    said = [(m["role"], m.get("content"), m.get("interrupted")) for m in exported["messages"]]
    assert [(role, text) for role, text, _ in said[:3]] == [
        ("user", "tell me a story"),
        ("assistant", asked[-2][1]),
        ("user", "go on"),
    ], said
    assert said[1][2] == "cancelled" and said[3][0] == "assistant" and len(said) == 4, said

"""A client of ``chat serve`` that leaves mid-answer, on a thread its request starts and on one that had turns.

The answer stops within a second (chat leaves the model's stream), the part that arrived is kept, marked, and the
thread's next question is answered at once, not after the whole answer left behind: as plain JSON and as server-sent
events, on chat's own graph and on a graph of the user's (``chat serve --graph``). A thread asked with a model (a
request's ``"model"``, as ``-m``) goes on with it, whether the turn that named it ended or was left, and however soon
the next question comes.

Each step waits for what happened (the answer streaming, the model's stream left), never for a fixed time.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any, Iterator

import pytest

from tests.fakeserver import Reply
from tests.matrix import Backend, backends
from tests.test_serve import Served

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WORDS = [f" word{i}" for i in range(600)]
DELAY = 0.02  # seconds between the words: the whole answer takes 12 s
WHOLE = len(WORDS) * DELAY
MODEL = "long-600"  # the model the leaving request names (chat's own graph; a graph of the user's has its own)


@pytest.fixture
def served(backend: Backend) -> Iterator[Served]:
    server = Served(backend.env, *backend.args)
    try:
        yield server
    finally:
        server.stop()


def _leave_mid_answer(served: Served, backend: Backend, thread: str, events: bool) -> float:
    """Ask ``thread`` for the long answer, leave once it streams (closing the connection, as ``curl -m 1`` does);
    how long the answer went on after that (until chat left the model's stream)."""
    fake = backend.model
    body: dict[str, Any] = {"content": "a long one"} | ({"model": MODEL} if backend.name == "own" else {})
    chunks, cut = fake.chunks_sent, fake.streams_cut
    connection = served.connection()
    headers = served.sent({"Accept": "text/event-stream"} if events else {})
    connection.request("POST", f"/v1/threads/{thread}/messages", body=json.dumps(body), headers=headers)
    if events:  # the client reads the first words, then goes
        response = connection.getresponse()
        assert response.status == 200, response.read()
        seen = 0
        for line in response:
            seen += line.startswith(b'data: {"type": "token"')
            if seen == 3:
                break
    assert fake.wait_until_sent(chunks=chunks + 5), "the answer never began"
    if connection.sock is not None:
        connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    left = time.monotonic()
    assert fake.wait_until(lambda: fake.streams_cut > cut, timeout=WHOLE), "the answer ran on after its client left"
    return time.monotonic() - left


@backends("own", "graph")
@pytest.mark.parametrize("events", [False, True], ids=["json", "events"])
@pytest.mark.parametrize("started", ["new", "existing"])
def test_a_client_that_leaves_mid_answer_stops_it_and_the_next_question_is_answered_at_once(
    backend: Backend, served: Served, started: str, events: bool
) -> None:
    fake = backend.model
    thread = str(uuid.uuid4())  # a server names its threads with UUIDs; so does any client
    if started == "existing":
        fake.queue(Reply("first"))
        assert served.ask(thread, "hello")[1]["reply"] == "first"
    fake.queue(Reply(tokens=WORDS, delay=DELAY), Reply("next"))

    stopped = _leave_mid_answer(served, backend, thread, events)
    assert stopped < 1.0, f"the answer went on {stopped:.2f} s after its client left"

    asked = time.monotonic()
    status, answer = served.ask(thread, "and now?")
    took = time.monotonic() - asked
    assert status == 200 and answer["reply"] == "next", answer
    assert took < WHOLE / 4, f"the next question waited {took:.1f} s (the whole answer takes {WHOLE:.0f} s)"

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

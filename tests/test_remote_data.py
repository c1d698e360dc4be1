"""What a LangGraph Agent Server sends is checked as it arrives: a field of the wrong type is one line naming it.

Every field chat reads of a thread, an assistant and a thread's state, given every wrong kind of JSON value;
then the command line against a small server that answers `chat threads --remote` with such threads.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from chatcli.backends.remote.data import ServerAssistant, ServerState, ServerThread, checked
from chatcli.errors import ModelError
from tests.helpers import assert_one_error_line, chat

WRONG = {"a list": [1, 2], "an object": {"a": 1}, "a number": 7, "text": "x", "true or false": True}
SHAPES = [
    (ServerThread, "a thread", {"thread_id": "t1", "created_at": "2026-01-01T00:00:00+00:00", "metadata": {}}),
    (ServerAssistant, "an assistant", {"assistant_id": "a1", "graph_id": "agent"}),
    (ServerState, "a thread's state", {"values": {}, "next": [], "interrupts": [], "checkpoint": {}, "metadata": {}}),
]


def allowed(kind: type, field: str, value: Any) -> bool:
    """Whether ``value`` is of a type the field takes (those cases are not wrong)."""
    try:
        kind.model_validate({**dict.fromkeys(["thread_id", "assistant_id"], "x"), field: value})
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.parametrize("kind, what, good", SHAPES, ids=[s[1] for s in SHAPES])
def test_every_field_of_the_wrong_type_is_one_line_naming_it(kind, what, good):
    assert checked(kind, good, what, "http://h")
    for field in kind.model_fields:
        for said, value in WRONG.items():
            if allowed(kind, field, value):
                continue
            with pytest.raises(ModelError) as caught:
                checked(kind, {**good, field: value}, what, "http://h")
            line = str(caught.value)
            assert line.startswith(f"the LangGraph server at http://h sent {what} whose {field} is {said} ("), line
    for said, value in WRONG.items():  # not an object at all
        if not isinstance(value, dict):
            with pytest.raises(ModelError, match=f"sent {what} that is {said}"):
                checked(kind, value, what, "http://h")


@pytest.fixture
def odd_server() -> Iterator[Any]:
    """An Agent Server of a sort: it answers a thread search with whatever the test sets."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(server.threads).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.threads = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server
    server.shutdown()


def test_chat_threads_remote_says_what_the_server_sent_wrong_in_one_line(odd_server, chat_env):
    stamp = "2026-11-23T10:00:00+00:00"
    cases = {
        "metadata is a list": [{"thread_id": "t1", "metadata": ["graph_id", "agent"], "created_at": stamp}],
        "thread_id is a number": [{"thread_id": 12, "metadata": {}}],
        "values is text": [{"thread_id": "t1", "values": "messages"}],
        "that is text": ["t1"],
    }
    for said, threads in cases.items():
        odd_server.threads = threads
        run = chat(chat_env, "threads", "--remote", odd_server.url)
        line = assert_one_error_line(run, 4)
        assert said in line and "Traceback" not in run.err and "AttributeError" not in run.err, (said, run)
    # What a thread's metadata holds is read loosely: a title that is an object is no title, not a failure.
    odd_server.threads = [{"thread_id": "t1", "metadata": {"title": {"x": 1}, "graph_id": 5}, "updated_at": stamp}]
    run = chat(chat_env, "threads", "--remote", odd_server.url, "--json")
    assert run.code == 0 and json.loads(run.out)[0]["thread_id"] == "t1", run

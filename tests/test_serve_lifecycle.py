"""`chat serve` starting and stopping as a supervisor expects: "listening" only once it listens (a port that
is taken is one line, exit 2), and SIGTERM during an answer stops it within seconds, its partial kept, marked."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import pytest

from tests.fakeserver import Reply
from tests.helpers import CHAT, chat
from tests.test_serve import Served, free_port

pytestmark = pytest.mark.e2e


def test_a_port_that_is_taken_is_one_line_and_no_listening_is_said(chat_env):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(CHAT), "serve", "--port", str(port)], env=chat_env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [f"chat: error: cannot listen on 127.0.0.1:{port}: Address already in use "
                                                "(choose another --port)"], done.stderr  # fmt: skip
    assert "listening" not in done.stderr


@pytest.mark.parametrize("shape", ["events", "plain"])
def test_sigterm_during_an_answer_stops_it_within_seconds_and_keeps_the_partial(server, chat_env, shape):
    served = Served(chat_env, port=free_port())
    try:
        server.queue(Reply(tokens=[f" word{i}" for i in range(600)], delay=0.05))  # 30 s of answer
        connection = served.connection()
        accept = {"Accept": "text/event-stream"} if shape == "events" else {}
        connection.request("POST", "/v1/threads/t/messages", body=json.dumps({"content": "talk slowly"}),
                           headers={"Content-Type": "application/json", **accept})  # fmt: skip
        assert server.wait_until_sent(5)  # the answer is under way
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=15)
        took = time.monotonic() - started
        connection.close()
    finally:
        served.stop()
    assert took < 8, f"stopping took {took:.1f} s"
    shown = chat({**chat_env}, "export", "t", "--format", "json")
    messages = json.loads(shown.out)["messages"]
    assert messages[0]["content"] == "talk slowly" and messages[1]["interrupted"] == "cancelled", messages
    assert messages[1]["content"].startswith(" word0 word1 word2") and "word599" not in messages[1]["content"]

"""`chat serve` starting and stopping as a supervisor expects: "listening" only once it listens (a port that
is taken is one line, exit 2), and SIGTERM during an answer stops it within seconds, its partial kept, marked.

What is about the process (a signal, its memory, two processes on one thread) starts one (marked e2e); what a
route does is asked of chat serve's app in this process (``here``, tests/doors/serve.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from typing import Any

import pytest

from tests import test_serve
from tests.fakeserver import Reply
from tests.helpers import CHAT, chat
from tests.mcp_servers import chat_argv
from tests.test_serve import Served, free_port

here = test_serve.here


def test_a_port_that_is_taken_is_one_line_and_no_listening_is_said(chat_env):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = chat(chat_env, "serve", "--port", str(port))
    assert done.code == 2, done
    assert done.err.strip().splitlines() == [f"chat: error: cannot listen on 127.0.0.1:{port}: Address already in use "
                                             "(choose another --port)"], done.err  # fmt: skip
    assert "listening" not in done.err


@pytest.mark.e2e
@pytest.mark.parametrize("shape", ["events", "plain"])
def test_sigterm_during_an_answer_stops_it_within_seconds_and_keeps_the_partial(server, chat_env, shape):
    served = Served(chat_env, port=free_port(), warm=False)  # the installed chat's own way out, timed
    try:
        server.queue(Reply(tokens=[f" word{i}" for i in range(600)], delay=0.05))  # 30 s of answer
        connection = served.connection()
        accept = {"Accept": "text/event-stream"} if shape == "events" else {}
        connection.request("POST", "/v1/threads/t/messages", body=json.dumps({"content": "talk slowly"}),
                           headers=served.sent(accept))  # fmt: skip
        assert server.wait_until_sent(5)  # the answer is under way
        ended = server.streams_ended
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=60)
        # Measured against the answer's own time: chat was gone before it would have ended.
        assert server.streams_ended == ended, "chat ran on to the end of the answer before it exited"
        connection.close()
    finally:
        served.stop()
    shown = chat({**chat_env}, "export", "t", "--format", "json")
    messages = json.loads(shown.out)["messages"]
    assert messages[0]["content"] == "talk slowly" and messages[1]["interrupted"] == "cancelled", messages
    assert messages[1]["content"].startswith(" word0 word1 word2") and "word599" not in messages[1]["content"]


def _peak_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@pytest.mark.e2e
def test_a_body_over_the_limit_is_refused_before_it_is_read(server, chat_env):
    import http.client

    served = Served(chat_env, port=free_port(), warm=False)  # its memory is read: the process itself
    try:
        # Said by its length: refused at once, nothing read (the client sends no body at all).
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        connection.putrequest("POST", "/v1/threads/big/messages")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Authorization", f"Bearer {served.token}")
        connection.putheader("Content-Length", str(300 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"]["message"].startswith("the request is")
        connection.close()
        # Sent in chunks with no length: stopped as it is read past the limit, the memory kept low.
        before = _peak_kb(served.process.pid)
        chunk = b"x" * (1024 * 1024)
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        connection.putrequest("POST", "/v1/threads/big/messages")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Authorization", f"Bearer {served.token}")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        try:
            for _ in range(300):
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server answered and closed: the rest is not read
        response = connection.getresponse()
        assert response.status == 413, response.read()[:300]
        assert _peak_kb(served.process.pid) - before < 200 * 1024, "the body was held in memory"
        # Too many attachments, or too much in them: the service's, at every door (tests/test_attachments.py).
        assert server.requests == []
    finally:
        served.stop()


def test_every_error_is_the_documented_object_and_ids_are_checked_as_on_the_command_line(server, chat_env, here):
    served = here()
    for body, field in (({"contnet": "hi"}, "content"), ({"content": "hi", "modle": "m2"}, "modle")):
        status, answer = served.request("POST", "/v1/threads/t1/messages", body)
        assert status == 400 and set(answer) == {"error"} and field in answer["error"]["message"], answer
        assert answer["error"]["exit_code"] == 2
    status, answer = served.request("GET", "/v1/nowhere")
    assert status == 404 and set(answer) == {"error"}, answer
    status, answer = served.request("PUT", "/v1/threads")
    assert status == 405 and set(answer) == {"error"}, answer
    server.queue(Reply("first"), Reply("second"))
    assert served.ask("0ad131a5", "remember 42")[0] == 200
    status, answer = served.ask("0ad131a6", "what was it?")  # one character off a generated id
    assert status == 400 and "did you mean 0ad131a5" in answer["error"]["message"], answer
    status, answer = served.ask("0ad1", "what was it?")  # a unique start finds it
    assert status == 200 and answer["thread_id"] == "0ad131a5", answer
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"] == [
        "remember 42",
        "what was it?",
    ]
    assert served.request("GET", "/v1/threads/0ad1")[1]["thread_id"] == "0ad131a5"


SEPARATORS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("shape", ["plain", "events"])
def test_every_line_and_paragraph_separator_survives_both_shapes(server, chat_env, here, shape):
    from tests.fakeserver import tool_calls

    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    served = here("--yes", env=env)
    question = "q" + "|".join(SEPARATORS) + "|end"
    command = "printf 'r" + "|".join(c for c in SEPARATORS if c not in "\n\r") + "|end'"
    server.queue(
        Reply(f"<think>t{SEPARATORS}t</think>a{SEPARATORS}a"),
        tool_calls(("shell", {"command": command})),
        Reply("after the tool"),
    )
    if shape == "plain":
        status, first = served.ask("sep", question)
        assert status == 200 and first["reply"] == f"a{SEPARATORS}a", first
        assert first["reasoning"] == f"t{SEPARATORS}t", first
        status, second = served.ask("sep", "run it")
        assert status == 200 and second["reply"] == "after the tool", second
        result = second["tool_calls"][0]["result"]
    else:
        events = list(served.events("/v1/threads/sep/messages", {"content": question}))
        text = "".join(e["text"] for e in events if e["type"] == "token")
        thought = "".join(e["text"] for e in events if e["type"] == "reasoning")
        assert text == f"a{SEPARATORS}a" and events[-1]["reply"] == text, events
        assert thought == f"t{SEPARATORS}t", events
        events = list(served.events("/v1/threads/sep/messages", {"content": "run it"}))
        result = next(e for e in events if e["type"] == "tool_result")["content"]
    assert ("r" + "|".join(c for c in SEPARATORS if c not in "\n\r") + "|end") in result, repr(result)
    stored = served.request("GET", "/v1/threads/sep")[1]["messages"]
    assert stored[0]["content"] == question


def test_a_thread_deleted_while_it_answers_is_gone_for_good(server, chat_env, here):
    served = here()
    server.queue(Reply(tokens=[f" word{i}" for i in range(400)], delay=0.05))
    events: list[dict[str, Any]] = []
    path, body = "/v1/threads/secret/messages", {"content": "the password is hunter2"}
    asking = threading.Thread(target=lambda: events.extend(served.events(path, body)))
    asking.start()
    assert server.wait_until_sent(1), "the answer never began"
    assert served.request("DELETE", "/v1/threads/secret")[0] == 204
    asking.join(60)  # the stream ends: the answer was stopped
    assert not asking.is_alive() and events and events[0]["type"] in ("token", "reasoning"), events
    assert not any(e["type"] == "done" and "word399" in e.get("reply", "") for e in events), "it ran to its end"
    assert served.request("GET", "/v1/threads/secret")[0] == 404
    assert "secret" not in [t["thread_id"] for t in served.request("GET", "/v1/threads")[1]]
    served.stop()
    assert "secret" not in [row["thread_id"] for row in json.loads(chat(chat_env, "threads", "--json").out)]
    assert chat(chat_env, "show", "secret").code == 2  # nothing of it came back


@pytest.mark.e2e
def test_chat_rm_during_an_answer_in_another_process_waits_and_leaves_nothing(server, chat_env):
    """``chat rm`` while another process answers on the thread waits for that answer, then deletes all of it. The
    answer is held until rm says it waits (each process's start may take seconds on a busy machine)."""
    from tests.helpers import read_until
    from tests.test_jobs import held

    gate = threading.Event()
    server.queue(held("Slowly", " and then all of it.", gate))
    answering = subprocess.Popen(chat_argv(CHAT, "-t", "busy", "talk slowly"), env=chat_env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
    removing = None
    try:
        assert server.wait_until_sent(1, timeout=90), "the answer never began"
        removing = subprocess.Popen(chat_argv(CHAT, "rm", "busy", "--yes"), env=chat_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)  # fmt: skip
        assert removing.stderr is not None
        said = read_until(removing.stderr, b"waiting for the answer", timeout=90)
        gate.set()
        _out, err = removing.communicate(timeout=60)
        assert removing.returncode == 0 and b"deleted busy" in said + err, said + err
        assert answering.wait(timeout=30) == 0
    finally:
        gate.set()
        for process in (answering, removing):
            if process is not None and process.poll() is None:
                process.kill()
    assert chat(chat_env, "show", "busy").code == 2
    assert "busy" not in [row["thread_id"] for row in json.loads(chat(chat_env, "threads", "--json").out)]


def test_the_same_approval_twice_at_once_is_taken_once_and_the_answer_is_whole(
    server, chat_env, here, tmp_path, storage
):
    """On PostgreSQL, the two requests go to two servers sharing the database."""
    from tests.fakeserver import tool_calls

    served = here(env={**chat_env, "CHATCLI_TOOLS": "shell"})
    other = here(env={**chat_env, "CHATCLI_TOOLS": "shell"}) if storage.url else served
    marker = tmp_path / "runs"
    server.queue(tool_calls(("shell", {"command": f"echo run >> {marker}"}, "call_a")))
    assert served.ask("twice", "append a line")[1]["approval_required"][0]["id"] == "call_a"
    server.queue(Reply(tokens=[" done"] * 20, delay=0.02))
    answers: list[tuple[int, dict]] = []
    body = {"decisions": {"call_a": {"action": "yes"}}}

    def approve(to: Any) -> None:
        answers.append(to.request("POST", "/v1/threads/twice/approvals", body))

    threads = [threading.Thread(target=approve, args=(to,)) for to in (served, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409], answers
    taken = next(a for s, a in answers if s == 200)
    refused = next(a for s, a in answers if s == 409)
    assert taken["reply"] == " done" * 20 and taken["finish_reason"] == "stop", taken
    assert "answered already" in refused["error"]["message"], refused
    assert marker.read_text() == "run\n"  # the command ran once
    # A retry once it is over: 409 too, saying what happened.
    status, again = served.request("POST", "/v1/threads/twice/approvals", body)
    assert status == 409 and "call_a: success" in again["error"]["message"], again
    stored = served.request("GET", "/v1/threads/twice")[1]["messages"]
    assert stored[-1]["content"] == " done" * 20 and not stored[-1].get("interrupted"), stored[-1]


def test_the_answer_after_an_approval_keeps_the_turns_model(server, chat_env, here):
    from tests.fakeserver import tool_calls

    served = here(env={**chat_env, "CHATCLI_TOOLS": "shell"})
    server.queue(tool_calls(("shell", {"command": "echo hi"}, "call_m")))
    status, answer = served.ask("m", "say hi", model="m2")
    assert status == 200 and answer["approval_required"][0]["id"] == "call_m", answer
    assert server.requests[-1]["model"] == "m2"
    server.queue(Reply("hi said"))
    status, answer = served.request("POST", "/v1/threads/m/approvals", {"decisions": {"call_m": {"action": "yes"}}})
    assert status == 200 and answer["reply"] == "hi said", answer
    assert server.requests[-1]["model"] == "m2" and answer["model"] == "m2", server.requests[-1]["model"]

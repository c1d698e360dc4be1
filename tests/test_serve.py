"""`chat serve`: the threads over HTTP, as a script or a team would use them.

Each test starts ``chat serve`` against the fake OpenAI server: its app in this process (``here``: chat serve's
command line builds it, an ASGI client asks it, tests/doors/serve.py) where the API is; the installed one, talked to
with the standard library's HTTP client, where the server or its socket is what is tested (marked e2e: two servers
on one database here, a Unix socket in tests/test_serve_guard.py).
The answers are the command line's ``--json`` and ``--jsonl`` objects, a token guards it, an open address needs
one, a client that leaves stops its answer (kept, marked), tool calls wait for an approval request, and two servers
share one PostgreSQL database.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import threading
import time
from typing import Any, Iterator

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import CHAT, chat, eventually
from tests.mcp_servers import chat_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running ``chat serve``."""

    def __init__(
        self,
        env: dict[str, str],
        *args: str,
        port: int | None = None,
        unix: str | None = None,
        host: str = "127.0.0.1",
        warm: bool = True,
    ):
        """``warm``: forked from a process that imported chat (tests/mcp_servers.chat_argv); False for a test about
        the process itself (its pid, its memory), which then is the installed ``chat serve``."""
        self.port = port or free_port()
        self.unix = unix
        self.host = host
        self.token: str | None = (
            None  # the token chat serve made, sent with every request (unless a test sends its own)
        )
        where = (
            ["--socket", unix]
            if unix
            else ["--port", str(self.port)] + (["--host", host] if host != "127.0.0.1" else [])
        )
        command = [str(CHAT), "serve", *where, *args]
        command = chat_argv(*command) if warm else command
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chat serve ended: {self.process.stderr.read()}")
            try:
                if self.request(
                    "GET", "/v1/threads", headers={"Authorization": "Bearer " + env.get("CHATCLI_SERVE_TOKEN", "")}
                )[0] in (200, 401, 421):
                    self.token = self._made_token(env, args)
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("chat serve did not start")

    def _made_token(self, env: dict[str, str], args: tuple[str, ...]) -> str | None:
        """The token chat serve made for this user, as chat's own clients read it; None if it was given one or none."""
        given = {"--token", "--token-file", "--no-token"} & set(args) or "CHATCLI_SERVE_TOKEN" in env
        if self.unix or given:
            return None
        from chatcli.api.access import token_path

        return token_path(env).read_text().strip()

    def sent(self, headers: dict[str, str] | None) -> dict[str, str]:
        """The headers of a request: JSON, the made token, then the test's own."""
        mine = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {"Content-Type": "application/json", **mine, **(headers or {})}

    def connection(self) -> http.client.HTTPConnection:
        if self.unix is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection = http.client.HTTPConnection("localhost", timeout=30)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.unix)
        connection.sock = sock
        return connection

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = self.connection()
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data, headers=self.sent(headers))
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()

    def ask(self, thread: str, content: str, **extra: Any) -> tuple[int, Any]:
        return self.request("POST", f"/v1/threads/{thread}/messages", {"content": content, **extra})

    def events(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """The server-sent events of a request, each its ``data:`` object."""
        connection = self.connection()
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps(body).encode(),
                headers=self.sent({"Accept": "text/event-stream"}),
            )
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream")
            for line in response:
                if line.startswith(b"data: "):
                    yield json.loads(line[6:])
        finally:
            connection.close()

    def stop(self) -> str:
        """Stop the server; what it wrote on its console (stderr)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.stderr.read() if not self.process.stderr.closed else ""


@pytest.fixture
def serving(chat_env: dict[str, str]) -> Iterator[Any]:
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None, **options: Any) -> Served:
        started.append(Served(env or chat_env, *args, **options))
        return started[-1]

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def here(chat_env: dict[str, str]) -> Iterator[Any]:
    """``here(*args, env=...)``: ``chat serve ARGS``'s app in this process, asked through an ASGI client; stopped at
    the end (tests/doors/serve.py)."""
    from tests.doors.serve import AppServed

    started: list[AppServed] = []

    def start(*args: str, env: dict[str, str] | None = None) -> AppServed:
        started.append(AppServed(env or chat_env, *args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def without_timing(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "timing"}


# --------------------------------------------------------------------------- one schema


def test_an_answer_is_the_json_object_of_the_command_line(server, chat_env, here):
    server.queue(Reply("Hello over HTTP."))
    status, answer = here().ask("web1", "hi")
    server.queue(Reply("Hello over HTTP."))
    run = chat(chat_env, "--json", "-t", "cli1", "hi")
    assert status == 200 and run.code == 0, (answer, run)
    cli = json.loads(run.out)
    assert answer["thread_id"] == "web1" and answer["reply"] == "Hello over HTTP."
    assert without_timing(answer) == {**without_timing(cli), "thread_id": "web1"}
    assert set(answer["timing"]) == set(cli["timing"])


def test_events_are_the_jsonl_lines_of_the_command_line(server, chat_env, here):
    served = here()
    server.queue(Reply(tokens=["Streamed", " over", " HTTP."]))
    events = list(served.events("/v1/threads/web2/messages", {"content": "stream it"}))
    server.queue(Reply(tokens=["Streamed", " over", " HTTP."]))
    run = chat(chat_env, "--jsonl", "-t", "cli2", "stream it")
    cli = [json.loads(line) for line in run.out.splitlines()]
    assert [e["type"] for e in events] == [e["type"] for e in cli] == ["token", "token", "token", "done"]
    assert events[:-1] == cli[:-1]
    assert without_timing(events[-1]) == {**without_timing(cli[-1]), "thread_id": "web2"}


def test_threads_are_listed_exported_and_deleted_as_the_command_line_does(server, chat_env, here):
    served = here()
    server.queue(Reply("kept"))
    assert served.ask("keep", "remember this")[0] == 200
    status, listed = served.request("GET", "/v1/threads")
    assert status == 200 and listed == json.loads(chat(chat_env, "threads", "--json").out)
    status, exported = served.request("GET", "/v1/threads/keep")
    assert status == 200 and exported == json.loads(chat(chat_env, "export", "keep", "--format", "json").out)
    assert [m["content"] for m in exported["messages"]] == ["remember this", "kept"]
    assert served.request("DELETE", "/v1/threads/keep")[0] == 204
    assert served.request("GET", "/v1/threads/keep")[0] == 404
    assert served.request("DELETE", "/v1/threads/keep")[0] == 404
    status, error = served.request("GET", "/v1/threads/bad%20id")
    assert status == 400 and "thread id" in error["error"]["message"]
    status, schema = served.request("GET", "/openapi.json")
    assert status == 200 and "/v1/threads/{thread_id}/messages" in schema["paths"]


def test_a_model_failure_is_the_json_error_object(server, chat_env, here):
    from tests.fakeserver import Fault

    key = chat_env["OPENAI_API_KEY"]
    server.queue(Fault(status=401, message=f"Incorrect API key provided: {key}"))
    status, answer = here().ask("fails", "hi")
    assert status == 502 and answer["error"]["exit_code"] == 4, answer
    assert key not in json.dumps(answer) and "Incorrect API key" in answer["error"]["message"]


def test_a_model_the_request_names_is_checked_as_slash_model_is_and_nothing_is_sent(server, chat_env, here):
    """A request's model: a name that is none, or one whose provider's key is missing, is the service's one line (as
    /model's and an editor's pick), a 400; nothing reaches a model and no thread is started."""
    served = here()
    for model, said in (
        ("two words", "not a model name"),
        ("anthropic:claude-fake", "ANTHROPIC_API_KEY"),
    ):
        status, answer = served.ask(f"named-{len(said)}", "hi", model=model)
        assert status == 400 and answer["error"]["exit_code"] == 2 and said in answer["error"]["message"], answer
    assert server.requests == []
    assert served.request("GET", "/v1/threads")[1] == []


# --------------------------------------------------------------------------- who may ask


def test_with_a_token_every_request_needs_it(server, chat_env, here):
    served = here("--token", "s3cret")
    served.token = None  # each request says its own
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        assert served.request("GET", "/v1/threads", headers=headers)[0] == 401
        assert served.request("GET", "/openapi.json", headers=headers)[0] == 401
    assert served.request("GET", "/v1/threads", headers={"Authorization": "Bearer s3cret"})[0] == 200
    server.queue(Reply("ok"))
    status, _ = served.request(
        "POST", "/v1/threads/t/messages", {"content": "hi"}, headers={"Authorization": "Bearer s3cret"}
    )
    assert status == 200
    from_env = here(env={**chat_env, "CHATCLI_SERVE_TOKEN": "from-env"})
    from_env.token = None
    assert from_env.request("GET", "/v1/threads")[0] == 401
    assert from_env.request("GET", "/v1/threads", headers={"Authorization": "Bearer from-env"})[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_an_open_address_without_a_token_is_refused(chat_env, host):
    run = chat(chat_env, "serve", "--host", host, "--port", str(free_port()))
    assert run.code == 2 and run.err.startswith(f"chat: error: chat serve on {host} would answer anyone"), run
    assert len(run.err.strip().splitlines()) <= 2


@pytest.mark.e2e
def test_a_unix_socket_is_only_for_this_user(server, chat_env, serving, tmp_path):
    """Its mode is the user's alone, and no web page may ask (the guard's walk of every route, test_serve_guard)."""
    from tests.test_serve_guard import refused, routes

    socket_path = str(tmp_path / "chat.sock")
    served = serving(unix=socket_path)
    assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600
    assert served.request("GET", "/v1/threads", headers={"Host": "anything"})[0] == 200
    for origin in ("http://localhost", "http://evil.example", "null"):
        for method, path, body in routes("sock"):
            refused(served, method, path, body, 403, Origin=origin)
    assert server.requests == []
    server.queue(Reply("over a socket"))
    assert served.ask("sock", "hi")[1]["reply"] == "over a socket"


# --------------------------------------------------------------------------- nothing lost


def test_a_client_that_leaves_stops_the_answer_and_the_partial_is_kept(server, chat_env, here):
    served = here()
    server.queue(Reply(tokens=[f" word{i}" for i in range(200)], delay=0.05))
    status, events = served.leave("/v1/threads/gone/messages", {"content": "talk slowly"}, shown=" word4")
    assert status == 200 and len(events) >= 5, events

    def kept() -> list[dict]:
        got = served.request("GET", "/v1/threads/gone")
        assert got[0] == 200, got
        messages = got[1]["messages"]
        return messages if len(messages) == 2 and messages[1].get("interrupted") else []

    messages = eventually(kept, "the answer kept, marked", interval=0.2)
    assert messages[1]["interrupted"] == "cancelled", messages
    assert (
        messages[1]["content"].startswith(" word0 word1 word2 word3 word4") and "word199" not in messages[1]["content"]
    )
    server.queue(Reply("still works"))
    assert served.ask("gone", "go on")[1]["reply"] == "still works"


def test_a_tool_call_waits_for_an_approval_request(server, chat_env, here, tmp_path):
    served = here(env={**chat_env, "CHATCLI_TOOLS": "shell"})
    marker = tmp_path / "ran"
    server.queue(tool_calls(("shell", {"command": f"touch {marker}; echo made it"}, "call_a")))
    status, answer = served.ask("tools", "make a file")
    assert status == 200 and not marker.exists()
    assert [(c["id"], c["name"], c["arguments"]["command"]) for c in answer["approval_required"]] == [
        ("call_a", "shell", f"touch {marker}; echo made it")
    ]
    server.queue(Reply("Made it."))
    events = list(served.events("/v1/threads/tools/approvals", {"decisions": {"call_a": {"action": "yes"}}}))
    assert marker.exists()
    assert [e["type"] for e in events][-1] == "done" and events[-1]["reply"] == "Made it."
    assert [(c["id"], c["status"]) for c in events[-1]["tool_calls"]] == [("call_a", "ok")]
    assert "made it" in [e for e in events if e["type"] == "tool_result"][0]["content"]
    # Nothing waits now; a call without a decision is not run.
    status, error = served.request("POST", "/v1/threads/tools/approvals", {"decisions": {}})
    assert status == 409 and "waits on nothing: answered already" in error["error"]["message"], error
    # Streamed, the question is an event of its own before the end.
    server.queue(tool_calls(("shell", {"command": "echo again"}, "call_s")))
    streamed = list(served.events("/v1/threads/tools-sse/messages", {"content": "and once more"}))
    assert [e["type"] for e in streamed][-2:] == ["approval", "done"] and streamed[-2]["id"] == "call_s"
    assert streamed[-1]["approval_required"][0]["arguments"] == {"command": "echo again"}
    server.queue(tool_calls(("shell", {"command": f"rm {marker}"}, "call_b")))
    assert served.ask("tools", "now remove it")[1]["approval_required"][0]["id"] == "call_b"
    server.queue(Reply("Not removed."))
    status, answer = served.request(
        "POST", "/v1/threads/tools/approvals", {"decisions": {"call_b": {"action": "no", "reason": "keep it"}}}
    )
    assert status == 200 and marker.exists() and answer["reply"] == "Not removed."
    assert "keep it" in server.requests[-1]["messages"][-1]["content"]


# --------------------------------------------------------------------------- more than one machine


@pytest.mark.e2e
def test_two_servers_on_one_database_serialise_turns_and_lose_nothing(server, chat_env, serving):
    first, second = serving(), serving()
    questions = [f"question {i}" for i in range(8)]
    for _ in questions:
        server.queue(Reply(tokens=["an", " answer"], delay=0.05))
    results: list[Any] = []

    def ask(served: Served, text: str) -> None:
        results.append(served.ask("shared", text))

    workers = [threading.Thread(target=ask, args=(first if i % 2 else second, q)) for i, q in enumerate(questions)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [status for status, _ in results] == [200] * len(questions), results
    messages = first.request("GET", "/v1/threads/shared")[1]["messages"]
    asked = [m["content"] for m in messages if m["role"] == "user"]
    assert sorted(asked) == sorted(questions) and len(messages) == 2 * len(questions)
    assert [m["role"] for m in messages] == ["user", "assistant"] * len(questions), "turns interleaved"
    assert second.request("GET", "/v1/threads")[1][0]["message_count"] == 2 * len(questions)


def test_an_approval_may_reach_another_server_even_after_the_first_is_gone(server, chat_env, here, tmp_path):
    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    first, second = here(env=env), here(env=env)
    marker = tmp_path / "ran"
    server.queue(tool_calls(("shell", {"command": f"touch {marker}"}, "call_x")))
    assert first.ask("balanced", "make it")[1]["approval_required"][0]["id"] == "call_x"
    first.stop()  # the server that asked is gone: the question is in the database
    server.queue(Reply("Done on the other server."))
    status, answer = second.request(
        "POST", "/v1/threads/balanced/approvals", {"decisions": {"call_x": {"action": "yes"}}}
    )
    assert status == 200 and answer["reply"] == "Done on the other server." and marker.exists(), answer

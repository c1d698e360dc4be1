"""`chat serve` answers only requests meant for it: a web page cannot reach it through DNS rebinding
(another Host) or from another site (another Origin), and its token need not be on the command line.

Every route is tried with every kind of wrong Host and Origin, on chat serve's app in this process
(tests/doors/serve.py); what is about the server itself (a Unix socket, a raw request uvicorn reads, its console,
a connection closed or reset) on the installed ``chat serve``.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import mcp_servers, test_serve
from tests.doors.serve import PORT
from tests.fakeserver import Reply, tool_calls
from tests.helpers import HANG, assert_one_error_line, chat
from tests.test_mcp import write_servers
from tests.test_serve import free_port
from tests.test_terminal_lines import EVIL, live_escapes

ODD = Path(__file__).resolve().parent / "mcp" / "odd.py"
serving = test_serve.serving  # the fixture that starts ``chat serve`` (stopped after the test)
here = test_serve.here  # chat serve's app in this process


def routes(thread: str) -> list[tuple[str, str, object]]:
    """Every route of the API, each with a body it would take."""
    return [
        ("GET", "/v1/threads", None),
        ("GET", f"/v1/threads/{thread}", None),
        ("GET", f"/v1/threads/{thread}/tree", None),
        ("DELETE", f"/v1/threads/{thread}", None),
        ("POST", f"/v1/threads/{thread}/messages", {"content": "leak it"}),
        ("POST", f"/v1/threads/{thread}/approvals", {"decisions": {"call_a": {"action": "yes"}}}),
        ("GET", "/v1/commands", None),
        ("GET", "/v1/inbox", None),
        ("GET", "/v1/search", None),
        ("POST", f"/v1/threads/{thread}/commands", {"command": "undo"}),
        ("GET", f"/v1/threads/{thread}/waiting", None),
        ("GET", "/v1/jobs", None),
        ("GET", f"/v1/jobs/{thread.replace('thread_id', 'job_id')}/events", None),  # (a job's id, or its thread's)
        ("POST", f"/v1/jobs/{thread.replace('thread_id', 'job_id')}/stop", None),
        ("GET", f"/v1/apps/{thread.replace('thread_id', 'server')}/view", None),  # (an MCP server's name)
        ("POST", f"/v1/apps/{thread.replace('thread_id', 'server')}/call", {"tool": "rm", "approved": True}),
        ("GET", "/", None),
        ("GET", "/signin", None),
        ("POST", "/signin", None),
        ("GET", "/page/page.js", None),
        ("GET", "/page/page.css", None),
        ("GET", "/page/icon.svg", None),
        ("GET", "/page/app-bridge.js", None),
        ("GET", "/openapi.json", None),
        ("GET", "/docs", None),
        ("GET", "/docs/oauth2-redirect", None),
        ("GET", "/redoc", None),
    ]


def test_the_routes_the_guard_tests_walk_are_every_route_the_server_has(tmp_path):
    """A route added to chat serve is walked by every guard test, or this fails naming it."""
    from chatcli.api.guard import addresses
    from chatcli.api.server import create_app
    from chatcli.config import Settings

    app = create_app(Settings(db=str(tmp_path / "db")), addresses("127.0.0.1", 8765))
    served = {(method, route.path) for route in app.routes for method in getattr(route, "methods", ()) or ()}
    walked = {(method, path) for method, path, _ in routes("{thread_id}")}
    assert served - {("HEAD", path) for _, path in served} == walked, served ^ walked


def rebinding_hosts(port: int) -> list[str]:
    """Host headers a page on another name sends once that name points at 127.0.0.1."""
    return [
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"localhost.evil:{port}",
        f"localhost.:{port}",  # another name than localhost, resolved by DNS
        f"127.0.0.1:{port + 1}",  # the right address, another port: another server's pages
        f"localhost:{port}@evil.example",
        "evil.example",
        "localhost",  # no port: a browser always sends it (but on port 80)
        "",
    ]


def refused(served, method: str, path: str, body: object, status: int, **headers: str) -> None:
    got, answer = served.request(method, path, body, headers=headers)
    assert got == status, (method, path, headers, got, answer)
    assert set(answer) == {"error"} and answer["error"]["exit_code"] == 2 and answer["error"]["message"], answer


def raw_request(port: int, lines: list[str]) -> bytes:
    """An HTTP/1.0 request as written (a Host header may be left out), the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_request_for_another_host_is_refused_on_every_route(server, chat_env, here):
    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    served = here(env=env)
    marker = Path(chat_env["HOME"]) / "ran"
    server.queue(tool_calls(("shell", {"command": f"touch {marker}"}, "call_a")))
    assert served.ask("kept", "make a file")[1]["approval_required"][0]["id"] == "call_a"
    asked, before = len(server.requests), served.request("GET", "/v1/threads/kept")
    for host in rebinding_hosts(PORT):
        for method, path, body in routes("kept"):
            refused(served, method, path, body, 421, Host=host)
    # Nothing was read, asked, approved or deleted.
    assert len(server.requests) == asked and not marker.exists()
    assert served.request("GET", "/v1/threads/kept") == before and before[0] == 200
    # The server's own names, with its port: any case, as the name is case-insensitive. (No Host at all: the test
    # of the server's console, over a socket.)
    for host in ("127.0.0.1", "localhost", "[::1]", "LOCALHOST", "LocalHost"):
        status, listed = served.request("GET", "/v1/threads", headers={"Host": f"{host}:{PORT}"})
        assert status == 200 and [t["thread_id"] for t in listed] == ["kept"], (host, status)


def test_a_web_page_of_another_site_is_refused_and_the_server_s_own_page_is_not(server, chat_env, here):
    served = here()
    port = PORT
    foreign = [
        "http://evil.example",
        f"http://evil.example:{port}",
        "null",  # a sandboxed frame, a file:// page
        f"http://127.0.0.1:{port + 1}",
        f"http://localhost.evil:{port}",
        f"http://127.0.0.1:{port}.evil.example",
        f"file://127.0.0.1:{port}",
        f"http://127.0.0.1:{port}/",
    ]
    for origin in foreign:
        for method, path, body in routes("site"):
            refused(served, method, path, body, 403, Origin=origin)
    assert server.requests == []
    server.queue(Reply("asked from the server's own page"))
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        assert served.request("GET", "/v1/threads", headers={"Origin": origin})[0] == 200
    status, answer = served.request(
        "POST", "/v1/threads/site/messages", {"content": "hi"}, headers={"Origin": f"http://127.0.0.1:{port}"}
    )
    assert status == 200 and answer["reply"] == "asked from the server's own page"


def test_on_an_open_address_the_token_guards_and_allow_host_names_the_load_balancer(server, chat_env, here, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    token.chmod(0o600)
    bearer = {"Authorization": "Bearer s3cret"}
    open_one = here("--host", "0.0.0.0", "--token-file", str(token))
    open_one.token = None  # each request says its own
    port = PORT
    # Any name reaches it (a page cannot send the token): the token decides.
    assert open_one.request("GET", "/v1/threads", headers={"Host": f"chat.example:{port}", **bearer})[0] == 200
    assert open_one.request("GET", "/v1/threads", headers={"Host": f"chat.example:{port}"})[0] == 401
    # A page of another site is refused even with the token (its own name's page is its own).
    refused(open_one, "GET", "/v1/threads", None, 403, Origin="http://evil.example", **bearer)
    named = here("--host", "0.0.0.0", "--token-file", str(token), "--allow-host", "Chat.Example")
    named.token = None
    for host in (
        "chat.example",
        f"chat.example:{PORT}",
        "chat.example:443",
        "CHAT.EXAMPLE",
        f"127.0.0.1:{PORT}",
    ):
        assert named.request("GET", "/v1/threads", headers={"Host": host, **bearer})[0] == 200, host
    for host in (f"evil.example:{PORT}", f"chat.example.evil:{PORT}", "chat.example.:443"):
        refused(named, "GET", "/v1/threads", None, 421, Host=host, **bearer)
    origin = {"Origin": "https://chat.example", "Host": "chat.example", **bearer}
    assert named.request("GET", "/v1/threads", headers=origin)[0] == 200


# --------------------------------------------------------------------------- the token, kept off the command line


def test_a_token_file_is_read_once_and_a_token_argument_is_warned_about(server, chat_env, here, tmp_path):
    token = tmp_path / "token"
    token.write_text("  from-file \n")
    token.chmod(0o600)
    from_file = here("--token-file", str(token))
    from_file.token = None  # each request says its own
    token.write_text("changed")  # read once, at the start
    assert from_file.request("GET", "/v1/threads")[0] == 401
    assert from_file.request("GET", "/v1/threads", headers={"Authorization": "Bearer changed"})[0] == 401
    assert from_file.request("GET", "/v1/threads", headers={"Authorization": "Bearer from-file"})[0] == 200
    assert "warning" not in from_file.stop()
    on_the_line = here("--token", "visible")
    assert on_the_line.request("GET", "/v1/threads", headers={"Authorization": "Bearer visible"})[0] == 200
    console = on_the_line.stop()
    warnings = [line for line in console.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "ps" in warnings[0] and "--token-file" in warnings[0], console
    assert "CHATCLI_SERVE_TOKEN" in warnings[0] and "visible" not in console
    from_env = here(env={**chat_env, "CHATCLI_SERVE_TOKEN": "from-env"})
    assert from_env.request("GET", "/v1/threads", headers={"Authorization": "Bearer from-env"})[0] == 200
    assert "warning" not in from_env.stop()


def test_a_token_file_others_can_read_is_warned_about(server, chat_env, here, tmp_path):
    token = tmp_path / "token"
    token.write_text("shared-secret")
    token.chmod(0o644)
    served = here("--token-file", str(token))
    assert served.request("GET", "/v1/threads", headers={"Authorization": "Bearer shared-secret"})[0] == 200
    console = served.stop()
    assert f"--token-file {token} can be read by other users (chmod 600 {token})" in console, console
    assert "shared-secret" not in console


@pytest.mark.parametrize("case", ["missing", "empty", "spaces", "directory", "binary", "both"])
def test_a_token_file_that_gives_no_token_is_one_line(chat_env, tmp_path, case):
    path = tmp_path / "token"
    extra: list[str] = []
    if case == "empty":
        path.write_text(" \n\n")
    elif case == "spaces":
        path.write_text("two words\n")
    elif case == "directory":
        path.mkdir()
    elif case == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    elif case == "both":
        path.write_text("t")
        extra = ["--token", "t"]
    run = chat(chat_env, "serve", "--port", str(free_port()), "--token-file", str(path), *extra)
    line = assert_one_error_line(run, 2)
    assert ("not both" if case == "both" else str(path)) in line, line


# --------------------------------------------------------------------------- its console


@pytest.mark.e2e
def test_the_server_s_console_shows_escapes_instead_of_obeying_them(server, chat_env, serving):
    write_servers(chat_env, {"odd": mcp_servers.stdio(ODD, "evil")})
    served = serving()
    # No Host at all (HTTP/1.0 allows it): refused as another host is.
    assert raw_request(served.port, ["GET /v1/threads HTTP/1.0"]).startswith(b"HTTP/1.1 421 ")
    # Requests whose path and headers carry escapes (raw: not HTTP; quoted: no thread id): refused, and
    # nothing of them obeyed on the console.
    answer = raw_request(served.port, [f"GET /v1/threads/{EVIL.replace(' ', '%20')} HTTP/1.0", f"X-Evil: {EVIL}"])
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    status, error = served.request(
        "GET", "/v1/threads/" + quote(EVIL.replace("/", ""), safe=""), headers={"User-Agent": quote(EVIL)}
    )
    assert status == 400 and "thread id" in error["error"]["message"], error
    console = served.stop()
    assert "no tools for you ␛]52;c;ZXZpbA==␛\\ ␛]0;PWNED␇ ␛[2J" in console, console
    assert live_escapes(console) == [], console


def test_uvicorn_s_lines_pass_the_writer(capsys):
    import logging
    import logging.config

    from chatcli.app.library_output import SERVE_LOG_CONFIG

    logging.config.dictConfig(SERVE_LOG_CONFIG)
    try:
        logging.getLogger("uvicorn.error").warning("Invalid HTTP request: %s", EVIL)
        logging.getLogger("uvicorn.access").warning('127.0.0.1 - "GET /%s HTTP/1.1" 404', EVIL)
    finally:
        for name in ("uvicorn", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()
    err = capsys.readouterr().err
    assert err.count("chat serve: ") == 2 and live_escapes(err) == [], err
    assert "␛]52;c;ZXZpbA==␇" in err


# --------------------------------------------------------------------------- a client that leaves


# Every route that runs an answer (a turn, a resumed turn, a compaction's summary), each as a plain JSON request and,
# where it streams, as server-sent events (the app in this process, left as uvicorn tells it a client left); and
# every way a client leaves a socket, with each shape of answer: it closes (FIN), it is reset (RST, a process
# killed), it shuts down only its sending side and then closes.
ANSWERING = ["message", "message events", "approval", "approval events", "compact"]
LEAVING = ["close", "reset", "half close"]


def _leave(connection: Any, how: str) -> None:
    sock = connection.sock
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif how == "half close":
        sock.shutdown(socket.SHUT_WR)
    connection.close()


@pytest.mark.parametrize("route", ANSWERING)
def test_a_client_that_leaves_stops_its_answer_within_a_second_at_every_route(server, chat_env, here, route):
    """docs/serve.md's promise, at every route that answers: the answer stops, its part kept, the thread free."""
    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    _leave_an_answer(here(env=env), server, env, route, None, thread="left")


@pytest.mark.e2e
def test_a_client_that_closes_resets_or_half_closes_its_socket_stops_its_answer(server, chat_env, serving):
    """The same, for each way of leaving a socket in turn on one server, with a plain and a streamed answer (and what
    the answers left before it left behind holds up none)."""
    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    served = serving(env=env)
    for route in ("message", "message events"):
        for how in LEAVING:
            _leave_an_answer(served, server, env, route, how, thread=f"left-{route}-{how}".replace(" ", "-"))


def _leave_an_answer(served: Any, server: Any, env: dict[str, str], route: str, how: str | None, thread: str) -> None:
    """Ask in ``thread`` at ``route``, leave the answer once it is under way, as ``how`` says over a socket (None: the
    app in this process is told the client left), then check it stopped."""
    from tests.fakeserver import Fault
    from tests.test_compact_doors import four_turns

    case = f"{route}, {how or 'in this process'}"
    path, body = f"/v1/threads/{thread}/messages", {"content": "talk slowly"}
    if route.startswith("approval"):
        server.queue(tool_calls(("shell", {"command": "true"}, "call_a")))
        assert served.ask(thread, "run it")[1]["approval_required"][0]["id"] == "call_a", case
        path, body = f"/v1/threads/{thread}/approvals", {"decisions": {"call_a": {"action": "yes"}}}
    if route == "compact":
        four_turns(env, server, thread)
        path, body = f"/v1/threads/{thread}/commands", {"command": "compact"}
        server.queue(Fault(stall_after=0, stall=HANG))  # the summary never comes
    else:
        server.queue(Reply(tokens=[f" word{i}" for i in range(600)], delay=0.05))  # 30 s of answer
    chunks, stalls, cut = server.chunks_sent, server.stalls, server.streams_cut
    asked = time.monotonic()
    events = route.endswith("events")
    if how is not None:
        _leave_a_socket(served, server, how, path, body, events, case)
    elif route == "compact":  # left once the summary's request reached the model
        served.leave(path, body, shown=lambda: server.stalls > stalls, stream=False)
    else:  # left at its first token, or (a plain request) with the model well into its answer
        served.leave(path, body, shown="word0" if events else lambda: server.chunks_sent >= chunks + 10, stream=events)
    # When the answer left would have ended, had chat gone on with it: its words not sent yet, at the fake's pace.
    would_end = asked + HANG if route == "compact" else time.monotonic() + (600 - (server.chunks_sent - chunks)) * 0.05
    # The thread is free at once: the next question is answered, not held behind the one left.
    server.queue(Reply("next"))
    status, answer = served.ask(thread, "and now?")
    assert status == 200 and answer["reply"] == "next", (case, answer)
    assert time.monotonic() < would_end, f"{case}: the thread was held as long as the answer left would have run"
    messages = served.request("GET", f"/v1/threads/{thread}")[1]["messages"]
    if route != "compact":
        stopped = [m for m in messages if m["role"] == "assistant" and "word0" in m["content"]]
        assert stopped and stopped[-1]["interrupted"] == "cancelled" and "word599" not in stopped[-1]["content"], (
            case,
            messages,
        )
        # and the model's stream was left too (the next case counts its own chunks)
        assert server.wait_until(lambda: server.streams_cut > cut), f"{case}: the model's answer still streams"
    else:
        assert [m["content"] for m in messages if m["role"] == "user"][-1] == "and now?", case


def _leave_a_socket(served: Any, server: Any, how: str, path: str, body: Any, events: bool, case: str) -> None:
    """Ask over a socket, and leave it as ``how`` says once the answer is under way."""
    chunks = server.chunks_sent
    connection = served.connection()
    headers = served.sent({"Accept": "text/event-stream"} if events else {})
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    if events:  # the client saw the answer begin: its first token
        response = connection.getresponse()
        while b'"type": "token"' not in (line := response.fp.readline()):
            assert line, f"{case}: the events ended before a token"
    else:  # what a plain request's client cannot see: the model well into its answer (half a second of it)
        assert server.wait_until_sent(chunks=chunks + 10), f"{case}: the answer never began"
    _leave(connection, how)


def test_serve_help_names_the_token_file_and_allow_host(chat_env):
    shown = chat({**chat_env, "COLUMNS": "200"}, "serve", "--help").out
    assert "--token-file" in shown and "--allow-host" in shown and "(ps)" in shown, shown


def test_answers_over_http_escape_what_a_terminal_would_act_on(server, chat_env, here):
    served = here()
    text = "a\x9b2J b\u2028c \x1b]0;T\x07 d\u202e"
    server.queue(Reply(text))
    raw = served.raw("POST", "/v1/threads/odd/messages", {"content": "hi"})[1].decode()
    assert json.loads(raw)["reply"] == text and live_escapes(raw) == [] and "\u2028" not in raw, raw
    raw = served.raw("GET", "/v1/threads/odd")[1].decode()
    assert json.loads(raw)["messages"][1]["content"] == text and live_escapes(raw) == [], raw

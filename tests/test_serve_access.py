"""Who may call `chat serve` on this machine: a token by default on loopback too, kept where only the user reads
it; and whatever the token, no process of another local user (the kernel's word on the caller's uid).

Loopback is not private on a shared machine. A test of what the server says as it starts, or of who connects,
starts the installed ``chat serve`` (marked e2e); the other user is a process that became ``nobody`` (uid 65534)
before it connected, so these run where the tests run as root. The rest run chat's command line in this process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.api.page import public
from tests import test_serve
from tests.fakeserver import tool_calls
from tests.helpers import chat
from tests.test_serve import free_port
from tests.test_serve_guard import routes

serving = test_serve.serving
here = test_serve.here
NOBODY = 65534
LOOPBACKS = ["127.0.0.1", "::1"]  # every loopback family the server may listen on


def private_runtime(chat_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """chat_env with a runtime directory of the test's own, so the token made there is this test's."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {**chat_env, "XDG_RUNTIME_DIR": str(runtime)}


def as_nobody(host: str, port: int, requests: list[tuple[str, str, object, dict[str, str]]]) -> list[int]:
    """The statuses another user of this machine gets for ``requests`` (method, path, body, headers)."""
    probe = (
        "import email.parser, encodings.idna, http.client, json, os, socket, sys\n"
        "host, port, requests = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])\n"
        "socket.getaddrinfo(host, port)  # what it loads lazily, loaded while it may still read the files\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "statuses = []\n"
        "for method, path, body, headers in requests:\n"
        "    c = http.client.HTTPConnection(host, port, timeout=30)\n"
        "    data = json.dumps(body).encode() if body is not None else None\n"
        "    c.request(method, path, body=data, headers={'Content-Type': 'application/json', **headers})\n"
        "    statuses.append(c.getresponse().status)\n"
        "    c.close()\n"
        "print(json.dumps([os.getuid(), statuses]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", probe, host, str(port), json.dumps(requests)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    uid, statuses = json.loads(run.stdout)
    assert uid == NOBODY
    return statuses


def test_a_token_is_made_at_the_first_start_kept_private_and_every_route_needs_it(server, chat_env, here, tmp_path):
    env = private_runtime(chat_env, tmp_path)
    served = here(env=env)
    kept = Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "serve-token"
    info = os.stat(kept)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    token = kept.read_text().strip()
    assert len(token) >= 32 and served.token == token
    # Every route needs it; the wrong one, or one in the wrong place, is refused.
    for method, path, body in (route for route in routes("t") if not public(route[1], "")):  # the page's own: none
        for wrong in ({"Authorization": ""}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
            status, answer = served.request(method, path, body, headers=wrong)
            assert status == 401 and answer["error"]["exit_code"] == 2, (method, path, wrong, answer)
    assert server.requests == []
    # As the header, or in the URL as it is printed.
    assert served.request("GET", "/v1/threads")[0] == 200
    assert served.request("GET", f"/v1/threads?token={token}", headers={"Authorization": ""})[0] == 200
    assert served.request("GET", f"/?token={token}", headers={"Authorization": ""}) == (
        200,
        {"threads": "/v1/threads", "api": "/openapi.json"},
    )
    # The next start keeps the same token; chat serve --show-token prints it for scripts.
    again = here(env=env)
    assert again.token == token
    again.token = None  # the request says its own
    assert again.request("GET", "/v1/threads", headers={"Authorization": f"Bearer {token}"})[0] == 200
    shown = chat(env, "serve", "--show-token")
    assert shown.code == 0 and shown.out == token + "\n", shown


@pytest.mark.e2e
def test_a_token_is_made_at_the_first_start_kept_private_and_printed_as_the_url_to_use(
    server, chat_env, serving, tmp_path
):
    """What the server says once it listens: the URL to use, with the token it made, and where the token is kept."""
    env = private_runtime(chat_env, tmp_path)
    served = serving(env=env)
    kept = Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "serve-token"
    token = kept.read_text().strip()
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600 and served.token == token
    assert served.request("GET", f"/?token={token}", headers={"Authorization": ""})[0] == 200
    console = served.stop()
    assert f"listening on http://127.0.0.1:{served.port}/signin?code=" in console, console
    assert f"kept in {kept}" in console, console


def test_a_token_file_that_is_not_private_is_refused_in_one_line(chat_env, tmp_path):
    env = private_runtime(chat_env, tmp_path)
    made = chat(env, "serve", "--show-token")
    kept = Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "serve-token"
    assert made.code == 0 and kept.read_text().strip() == made.out.strip()
    for mode in (0o640, 0o604, 0o620, 0o602):
        kept.chmod(mode)
        run = chat(env, "serve", "--port", str(free_port()))
        assert run.code == 2 and f"{kept} is not a private file of yours" in run.err, (mode, run)
        assert len(run.err.strip().splitlines()) == 1 and "listening" not in run.err
    kept.unlink()
    kept.symlink_to(tmp_path / "elsewhere")  # a link is not followed, whatever it points at
    (tmp_path / "elsewhere").write_text("planted\n")
    run = chat(env, "serve", "--show-token")
    assert run.code == 2 and "planted" not in run.out and str(kept) in run.err, run


def test_no_token_says_in_one_line_what_it_opens(server, chat_env, here, tmp_path):
    env = private_runtime(chat_env, tmp_path)
    served = here("--no-token", env=env)
    assert served.token is None and served.request("GET", "/v1/threads")[0] == 200
    console = served.stop()
    warned = [line for line in console.splitlines() if "--no-token" in line]
    assert len(warned) == 1 and "every process of yours" in warned[0], console
    assert not (Path(env["XDG_RUNTIME_DIR"]) / "chatcli" / "serve-token").exists()
    for refused in (["--no-token", "--token", "t"], ["--no-token", "--host", "0.0.0.0"]):
        run = chat(env, "serve", "--port", str(free_port()), *refused)
        assert run.code == 2 and len(run.err.strip().splitlines()) <= 2, (refused, run)


@pytest.mark.e2e
@pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")
def test_another_local_user_is_refused_on_every_route_even_with_the_token(server, chat_env, serving, tmp_path):
    """With a token and without, on each loopback address: each a server of its own, one after another."""
    for access in ("token", "no-token"):
        for host in LOOPBACKS:
            server.clear()
            try:
                refused_on_every_route(server, chat_env, serving, tmp_path, host, access)
            except AssertionError as error:
                raise AssertionError(f"{access} on {host}: {error}") from error


def refused_on_every_route(
    server: Any, chat_env: dict[str, str], serving: Any, tmp_path: Path, host: str, access: str
) -> None:
    thread = "kept-" + "".join(c for c in access + host if c.isalnum())
    own = tmp_path / thread  # a runtime directory of its own: its server's token
    own.mkdir()
    env = {**private_runtime(chat_env, own), "CHATCLI_TOOLS": "shell"}
    # the installed chat: its console is read to its end, the way out included
    served = serving(*(["--no-token"] if access == "no-token" else []), env=env, host=host, warm=False)
    marker = tmp_path / "ran"
    server.queue(tool_calls(("shell", {"command": f"touch {marker}"}, "call_a")))
    assert served.ask(thread, "make a file")[1]["approval_required"][0]["id"] == "call_a"
    asked, before = len(server.requests), served.request("GET", f"/v1/threads/{thread}")
    token = {"Authorization": f"Bearer {served.token}"} if served.token else {}
    requests = [(method, path, body, token) for method, path, body in routes(thread)]
    statuses = as_nobody(host, served.port, requests + [("GET", f"/v1/threads?token={served.token}", None, {})])
    assert statuses == [403] * (len(requests) + 1), statuses
    # Nothing was read, asked, approved, run or deleted; the owner is answered as before.
    assert len(server.requests) == asked and not marker.exists()
    assert served.request("GET", f"/v1/threads/{thread}") == before and before[0] == 200
    console = served.stop()
    assert "Traceback" not in console, console


# Every header a proxy, an ASGI server or a framework may read as "the client is elsewhere", each with the
# values an attacker would send: another machine, a loopback address, the owner's own form.
FORWARDING = [
    {"X-Forwarded-For": "203.0.113.7"},
    {"X-Forwarded-For": "127.0.0.1"},
    {"X-Forwarded-For": "203.0.113.7, 127.0.0.1"},
    {"X-Forwarded-For": "[2001:db8::7]:443"},
    {"Forwarded": "for=203.0.113.7;proto=https;host=example.org"},
    {"Forwarded": 'for="[2001:db8::7]:443"'},
    {"X-Real-IP": "203.0.113.7"},
    {"X-Forwarded-Host": "example.org", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
    {"X-Forwarded-Prefix": "/elsewhere", "X-Original-Forwarded-For": "203.0.113.7"},
    {"True-Client-IP": "203.0.113.7", "CF-Connecting-IP": "203.0.113.7", "X-Client-IP": "203.0.113.7"},
    {"X-Cluster-Client-IP": "203.0.113.7", "Client-IP": "203.0.113.7", "Via": "1.1 proxy"},
]


def own_address() -> str | None:
    """An address of this machine's that is not loopback (another user reaches it as well), or None."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: the kernel only picks the route's source address
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.e2e
@pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")
def test_no_forwarding_header_makes_another_local_user_a_stranger_to_ask_for(server, chat_env, serving, tmp_path):
    """Who calls is the socket's word: no header (FORWARDING, every one uvicorn, Starlette or a proxy reads) lets
    another user of this machine in, on any route, with or without the token, from a proxy the user trusts or
    on an address of the machine's that is not loopback (where it has one). Each a server of its own, in turn."""
    hows = ["no-token", "token", "token, --trust-proxy 127.0.0.1", "no-token, --trust-proxy 127.0.0.0/8"]
    for how in [*hows, *(["on 0.0.0.0"] if own_address() else [])]:
        server.clear()
        try:
            no_header_lets_another_user_in(server, chat_env, serving, tmp_path, how)
        except AssertionError as error:
            raise AssertionError(f"{how}: {error}") from error


def no_header_lets_another_user_in(
    server: Any, chat_env: dict[str, str], serving: Any, tmp_path: Path, how: str
) -> None:
    thread = "kept-" + "".join(c for c in how if c.isalnum())
    own = tmp_path / thread  # a runtime directory of its own: its server's token
    own.mkdir()
    env = {**private_runtime(chat_env, own), "CHATCLI_TOOLS": "shell"}
    args = ["--no-token"] if how.startswith("no-token") else []
    host = "127.0.0.1"
    if "--trust-proxy" in how:
        args += ["--trust-proxy", how.rpartition(" ")[2]]
    if how == "on 0.0.0.0":
        host = own_address() or "no address but loopback"
        args += ["--host", "0.0.0.0"]
        env["CHATCLI_SERVE_TOKEN"] = "the-users-own-token-given-to-listen-beyond-loopback"
    served = serving(*args, env=env, warm=False)  # the installed chat: its console is read to its end
    served.token = served.token or env.get("CHATCLI_SERVE_TOKEN")
    marker = tmp_path / "ran"
    server.queue(tool_calls(("shell", {"command": f"touch {marker}"}, "call_a")))
    assert served.ask(thread, "make a file")[1]["approval_required"][0]["id"] == "call_a"
    asked, before = len(server.requests), served.request("GET", f"/v1/threads/{thread}")
    token = {"Authorization": f"Bearer {served.token}"} if served.token else {}
    requests = [
        (method, path, body, {**token, **forged}) for forged in FORWARDING for method, path, body in routes(thread)
    ]
    statuses = as_nobody(host, served.port, requests)
    refused = [(request[0], request[1], request[3]) for request, status in zip(requests, statuses) if status != 403]
    assert not refused, refused
    assert len(server.requests) == asked and not marker.exists()
    assert served.request("GET", f"/v1/threads/{thread}") == before and before[0] == 200
    # The owner's own requests with the same headers are answered: a header takes nothing away either.
    for forged in FORWARDING:
        assert served.request("GET", "/v1/threads", headers={**token, **forged})[0] == 200, forged
    console = served.stop()
    assert "Traceback" not in console, console


def test_trust_proxy_takes_only_addresses(chat_env):
    for given in ("proxy.example", "*", "127.0.0.1/99", ""):
        run = chat(chat_env, "serve", "--port", str(free_port()), "--trust-proxy", given)
        assert run.code == 2 and "--trust-proxy" in run.err and len(run.err.strip().splitlines()) == 1, (given, run)


def test_the_peer_of_a_loopback_connection_is_read_for_every_family(tmp_path):
    """/proc/net/tcp and tcp6 as Linux writes them: the owner of the caller's end, in every address form."""
    from chatcli.local.sockets import peer_uid

    v4 = tmp_path / "tcp"
    v6 = tmp_path / "tcp6"
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    v4.write_text(
        head
        + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        + "   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1\n"
        + "   2: 0100007F:C351 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 1\n"
        + "   3: 0200007F:C352 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 3 1\n"
    )
    mapped = "0000000000000000FFFF00000100007F"
    v6.write_text(
        head
        + "   0: 00000000000000000000000001000000:C353 00000000000000000000000001000000:1F90 01 0:0 0:0 0  1002 0 4\n"
        + f"   1: {mapped}:C354 {mapped}:1F90 01 00000000:00000000 00:00000000 00000000  1003 0 5\n"
    )
    tables = (str(v4), str(v6))
    assert peer_uid(("127.0.0.1", 0xC350), 0x1F90, tables) == 1000
    assert peer_uid(("127.0.0.2", 0xC352), 0x1F90, tables) == 1001
    assert peer_uid(("::1", 0xC353), 0x1F90, tables) == 1002
    assert peer_uid(("::ffff:127.0.0.1", 0xC354), 0x1F90, tables) == 1003
    assert peer_uid(("127.0.0.1", 0xC354), 0x1F90, tables) == 1003  # a dual-stack server sees plain IPv4
    # A socket in TIME_WAIT names no owner, another address or port is another connection: not found.
    assert peer_uid(("127.0.0.1", 0xC351), 0x1F90, tables) == -1
    assert peer_uid(("127.0.0.3", 0xC350), 0x1F90, tables) == -1
    assert peer_uid(("127.0.0.1", 0xC350), 0x1F91, tables) == -1
    # No table at all (not Linux): the system does not say, and the token alone guards.
    assert peer_uid(("127.0.0.1", 0xC350), 0x1F90, (str(tmp_path / "none"),)) is None


@pytest.mark.e2e
def test_a_connection_not_yet_accepted_is_nobodys_end_whoever_made_it(tmp_path):
    """A half-open connection (SYN_RECV, held for its listener) is listed by netlink as uid 0's and by /proc as the
    listener's: another user can plant one whose two ends look like a connection to chat serve from a port of its
    own. It is never taken for the peer of a connection: no owner is found (refused on loopback), by netlink or text."""
    import os
    import subprocess
    import sys

    from chatcli.local.sockets import PROC_TABLES, peer_uid

    if os.getuid() != 0:
        pytest.skip("becoming another user needs root")
    plant = (
        "import os, socket, sys\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "listener = socket.socket()\n"
        "listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 30)\n"
        "listener.bind(('127.0.0.1', 0)); listener.listen(8)\n"
        "print(listener.getsockname()[1], flush=True)\n"
        "c = socket.socket(); c.bind(('127.0.0.2', int(sys.argv[1]))); c.connect(listener.getsockname())\n"
        "print('planted', flush=True); sys.stdin.read()\n"
    )
    serve_port = free_port()
    planted = subprocess.Popen([sys.executable, "-I", "-c", plant, str(serve_port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert planted.stdout is not None
        port = int(planted.stdout.readline())
        assert planted.stdout.readline().strip() == "planted"
        # The planted socket: 127.0.0.1:port -> 127.0.0.2:serve_port, half-open (its SYN_RECV end is the listener's).
        for tables in (None, PROC_TABLES):
            assert peer_uid(("127.0.0.1", port), serve_port, tables) == -1
            assert peer_uid(("127.0.0.1", port), ("127.0.0.1", serve_port), tables) == -1
    finally:
        planted.kill()
        planted.wait()


def test_an_mcp_json_others_can_read_holding_a_secret_is_one_line_before_serving(chat_env):
    """As at every other door: the server does not start, and the one line names the file and the key (the server's
    start used to fail inside uvicorn, with its traceback)."""
    from tests.test_mcp import write_servers

    oauth = {"clientId": "robot", "clientSecret": "s3cret-value"}
    write_servers(chat_env, {"billing": {"url": "http://127.0.0.1:9/mcp", "oauth": oauth}}).chmod(0o644)
    run = chat(chat_env, "serve", "--port", str(free_port()))
    assert run.code == 3 and "mcpServers.billing.oauth.clientSecret" in run.err and "chmod 600" in run.err, run
    assert len(run.err.strip().splitlines()) == 1 and "listening" not in run.err and "s3cret" not in run.err, run

"""Remote MCP servers that sign in with OAuth: `chat mcp login NAME`, a tool call with the token, expiry and
refresh, a refused refresh, logout; a server that needs a login says the command in one line; tokens go to the
server they were issued for and nowhere else.

The server is real: FastMCP with the ``mcp`` package's authorization server routes over an in-memory provider
(tests/mcp/guarded.py), served over HTTP on 127.0.0.1 from a thread of this process (one of mcp 1.x, the 2025 era, is
a process of its own). The browser is this test, fetching the sign-in address chat prints and following the
redirect back to chat's listener on 127.0.0.1; `chat mcp login` runs in this process but where a signal stops it.
"""

from __future__ import annotations

import json
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import CHAT, Captured, chat, open_local
from tests.mcp_servers import chat_argv
from tests.test_mcp import write_servers
from tests.test_mcp_kept import MCP_DOORS, kept_env  # noqa: F401 - a fixture
from tests.test_mcp_lazy import cache_files
from tests.test_worker import worker_env  # noqa: F401 - a fixture (the doors through the MCP host)

GUARDED = Path(__file__).resolve().parent / "mcp" / "guarded.py"
NEEDS = "needs a login: run chat mcp login guarded"


class Guarded:
    """tests/mcp/guarded.py on a free port: its URL and its log of token requests. Of the 2026 era (mcp 2.x), it is
    served from a thread of this process; of the 2025 era (mcp 1.x), it is a process."""

    def __init__(self, where: Path, era: str = "2026", documents: dict[str, Any] | None = None, refuse: bool = False):
        self.log, self.no_refresh = where / "tokens.log", where / "no-refresh"
        self.errors = where / "guarded.err"
        env = {"GUARDED_LOG": str(self.log), "GUARDED_NO_REFRESH": str(self.no_refresh)}
        if refuse:
            env["GUARDED_REFUSE"] = "1"
        if documents is not None:  # the client ID metadata documents its authorization server can fetch
            (where / "documents.json").write_text(json.dumps(documents))
            env["GUARDED_CIMD"] = str(where / "documents.json")
        self.process: subprocess.Popen | None = None
        self.port = self._here(env) if era == "2026" else self._started({**os.environ, **env})
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def _here(self, env: dict[str, str]) -> int:
        """Serve it from a thread of this process; its port."""

        def app(port: int) -> Any:
            os.environ["MCP_ERA"] = "2026"  # what the script reads as it is run: the server of mcp 2.x
            try:
                return runpy.run_path(str(GUARDED), run_name="guarded_here")["app"](port, env)
            finally:
                del os.environ["MCP_ERA"]

        self.served = mcp_servers.OverHttp(app)
        return self.served.port

    def _started(self, env: dict[str, str]) -> int:
        """Start it as a process of its own; its port."""
        env["MCP_ERA"] = "2025"
        with open(self.errors, "wb") as errors:
            self.process = subprocess.Popen(
                mcp_servers.argv(GUARDED, env=env), env=env, stdout=subprocess.PIPE, stderr=errors, text=True
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)  # the port it bound, once it listens
        said = self.process.stdout.readline().strip() if ready else ""
        if not said.isdigit():
            self.stop()
            raise AssertionError(f"the guarded MCP server did not start: {self.errors.read_text()[-2000:]}")
        return int(said)

    def said(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def grants(self) -> list[str]:
        """The tokens it gave: "code" for a sign-in, "refresh" for a refresh."""
        return [line for line in self.said() if line in ("code", "refresh")]

    def stop(self) -> None:
        if self.process is None:
            self.served.stop()
            return
        self.process.terminate()
        self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def guarded(tmp_path: Path, chat_env: dict[str, str]) -> Iterator[Guarded]:
    server = Guarded(tmp_path)
    write_servers(chat_env, {"guarded": {"url": server.url}})
    yield server
    server.stop()


def login(chat_env: dict[str, str], name: str = "guarded", forged: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`chat mcp login NAME --no-browser` in this process, with this test as the browser: a thread of it opens the
    address chat prints. Each query of ``forged`` is sent to chat's callback first, as another local user could; what
    it heard is said after what chat said."""
    said: list[str] = []
    browsing: list[threading.Thread] = []

    def browse(address: str) -> None:
        callback = parse_qs(urlsplit(address).query)["redirect_uri"][0]
        for query in forged:
            try:
                with open_local(f"{callback}?{query}", timeout=10) as page:
                    said.append(f"forged {query}: {page.status}\n")
            except urllib.error.HTTPError as refused:
                said.append(f"forged {query}: {refused.code}\n")
        with open_local(address, timeout=10) as page:  # follows the redirect to chat
            said.append(page.read().decode() + "\n")

    class Browser(Captured):
        """chat's stderr: the sign-in address, once it is a whole line, is opened."""

        def write(self, text: str) -> int:
            written = super().write(text)
            if not browsing:
                lines = self.getvalue().splitlines(keepends=True)
                address = [line.strip() for line in lines if line.strip().startswith("http://") and line.endswith("\n")]
                if address:
                    browsing.append(threading.Thread(target=browse, args=(address[0],), daemon=True))
                    browsing[0].start()
            return written

    run = chat(chat_env, "mcp", "login", name, "--no-browser", err=Browser())
    for thread in browsing:
        thread.join(30)
    return subprocess.CompletedProcess(run.args, run.code, "", run.err + "".join(said))


def stored(chat_env: dict[str, str], name: str = "guarded") -> Path:
    return Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "mcp-auth" / f"{name}.json"


def expire(chat_env: dict[str, str]) -> None:
    """Make the kept access token one that has run out (as the clock would, without waiting for it)."""
    path = stored(chat_env)
    data = json.loads(path.read_text())
    data["expires_at"] = time.time() - 5
    path.write_text(json.dumps(data))


def test_login_a_call_with_the_token_expiry_refresh_and_logout(server, chat_env, guarded):
    # Before a login: one line naming the command, at `chat tools` and in a one-shot (which still answers).
    listed = chat(chat_env, "tools", "--refresh")
    assert NEEDS in listed.out + listed.err, listed
    server.queue(Reply("fine"))
    asked = chat(chat_env, "hello")
    assert asked.code == 0 and asked.out == "fine\n" and NEEDS in asked.err, asked

    signed = login(chat_env)
    assert signed.returncode == 0, signed.stderr
    assert "Signed in: you can close this tab." in signed.stderr
    assert "waiting for the sign-in to come back here (5 minutes at most; Ctrl-C stops)" in signed.stderr
    assert "logged in to guarded: 1 tool (whoami)" in signed.stderr
    assert guarded.grants() == ["code"]
    path = stored(chat_env)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    token = json.loads(path.read_text())["tokens"]["access_token"]

    # A tool call carries the token.
    server.queue(tool_calls(("whoami", {})), Reply("done"))
    run = chat(chat_env, "--yes", "who am I?")
    assert run.code == 0 and run.out == "done\n", run
    [result] = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert result == f"signed in with a token ending {token[-4:]}"

    # Expired: refreshed before the call, and the new token kept.
    expire(chat_env)
    assert "whoami" in chat(chat_env, "tools", "--refresh").out
    assert guarded.grants() == ["code", "refresh"]
    assert json.loads(path.read_text())["tokens"]["access_token"] != token

    # A refresh refused: the same one line, never a browser or a wait.
    guarded.no_refresh.touch()
    expire(chat_env)
    refused = chat(chat_env, "tools", "--refresh")
    assert "run chat mcp login guarded" in refused.out + refused.err, refused
    assert "whoami" not in refused.out

    # Logout forgets the tokens, and what the server listed for that login (a list may be its user's own).
    assert cache_files(chat_env)  # (what it listed for this login, above)
    out = chat(chat_env, "mcp", "logout", "guarded")
    assert out.code == 0 and "logged out of guarded" in out.err and not path.exists()
    assert not cache_files(chat_env)
    again = chat(chat_env, "tools", "--refresh")
    assert NEEDS in again.out + again.err


def waiting_login(chat_env: dict[str, str]) -> subprocess.Popen:
    """`chat mcp login guarded` started, once it says it waits for the browser to come back."""
    process = subprocess.Popen(
        chat_argv(CHAT, "mcp", "login", "guarded", "--no-browser"), env=chat_env, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    said = []
    for line in iter(process.stderr.readline, ""):
        said.append(line)
        if line.startswith("waiting for the sign-in to come back here"):
            return process
    process.kill()
    raise AssertionError(f"chat mcp login did not wait for the browser: {''.join(said)}")


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=["ctrl-c", "term", "hup", "kill"]
)
@pytest.mark.e2e  # a signal to `chat mcp login`: a process
def test_a_login_stopped_by_a_signal_leaves_the_tokens_kept_before_usable(server, chat_env, guarded, sig):
    """A second `chat mcp login` waits for the browser: meanwhile other runs go on with the tokens kept, and stopped
    there (Ctrl-C, kill, a closed terminal, kill -9) it leaves them as they were."""
    assert login(chat_env).returncode == 0
    kept = stored(chat_env).read_text()
    token = json.loads(kept)["tokens"]["access_token"]
    again = waiting_login(chat_env)
    try:
        server.queue(tool_calls(("whoami", {})), Reply("meanwhile"))
        run = chat(chat_env, "--yes", "who am I?")
        assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run
        again.send_signal(sig)
        assert again.wait(30) in (-sig, 128 + sig)
    finally:
        again.kill()
        again.wait()
    assert stored(chat_env).read_text() == kept
    assert [p.name for p in stored(chat_env).parent.iterdir()] == ["guarded.json"]  # nothing half-written left
    server.queue(tool_calls(("whoami", {})), Reply("after"))
    run = chat(chat_env, "--yes", "who am I now?")
    assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run


def test_a_refused_sign_in_is_one_line_and_keeps_nothing(chat_env, tmp_path):
    server = Guarded(tmp_path, refuse=True)
    try:
        write_servers(chat_env, {"guarded": {"url": server.url}})
        signed = login(chat_env)
        assert signed.returncode != 0
        errors = [line for line in signed.stderr.splitlines() if line.startswith("chat: error")]
        assert len(errors) == 1 and "access_denied" in errors[0], signed.stderr
        assert not stored(chat_env).exists()
    finally:
        server.stop()


def test_a_sign_in_answer_without_the_sign_in_s_state_is_not_heard(chat_env, guarded):
    """chat's callback listens on 127.0.0.1, which every local user reaches: a code or an error sent there without
    the state of the address chat printed is refused and the sign-in waits on for the real answer."""
    forged = ("code=forged&state=guess", "error=access_denied&state=guess", "code=forged", "error=access_denied")
    signed = login(chat_env, forged=forged)
    assert signed.returncode == 0, signed.stderr
    for query in forged:
        assert f"forged {query}: 400" in signed.stderr, signed.stderr
    assert "logged in to guarded: 1 tool (whoami)" in signed.stderr
    assert guarded.grants() == ["code"]


class Recorder(BaseHTTPRequestHandler):
    """An HTTP server that records every request and answers 401, pointing at metadata that names ``other``."""

    seen: list[tuple[str, str, str]] = []
    other = ""
    own_resource = False  # the metadata names this server as the resource (else ``other``), ``other`` its signer

    def _any(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization") or ""))
        if self.path.startswith("/.well-known/oauth-protected-resource"):
            resource = f"http://127.0.0.1:{self.server.server_address[1]}" if self.own_resource else self.other
            body = json.dumps({"resource": f"{resource}/mcp", "authorization_servers": [self.other]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"error": "invalid_token"}'
            self.send_response(401)
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            self.send_header(
                "WWW-Authenticate", f'Bearer resource_metadata="{host}/.well-known/oauth-protected-resource"'
            )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _any

    def log_message(self, *args: Any) -> None:
        pass


def _recording(other: str = "", own_resource: bool = False) -> tuple[ThreadingHTTPServer, list[tuple[str, str, str]]]:
    handler = type("Recording", (Recorder,), {"seen": [], "other": other, "own_resource": own_resource})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, handler.seen


def test_tokens_go_to_the_server_they_were_issued_for_and_nowhere_else(server, chat_env, guarded):
    assert login(chat_env).returncode == 0
    token = json.loads(stored(chat_env).read_text())["tokens"]["access_token"]
    # The same name pointed at another server (an edited mcp.json, a .env that moves it): it gets no token.
    elsewhere, seen = _recording()
    try:
        write_servers(chat_env, {"guarded": {"url": f"http://127.0.0.1:{elsewhere.server_address[1]}/mcp"}})
        listed = chat(chat_env, "tools", "--refresh")
        assert NEEDS in listed.out + listed.err, listed
        assert seen and not any(token in auth for _, _, auth in seen), seen
    finally:
        elsewhere.shutdown()


def test_metadata_naming_another_host_is_refused_and_that_host_hears_nothing(chat_env):
    other, heard = _recording()
    liar, _seen = _recording(other=f"http://127.0.0.1:{other.server_address[1]}")
    try:
        write_servers(chat_env, {"liar": {"url": f"http://127.0.0.1:{liar.server_address[1]}/mcp"}})
        signed = login(chat_env, "liar")
        assert signed.returncode != 0
        errors = [line for line in signed.stderr.splitlines() if line.startswith("chat: error")]
        assert len(errors) == 1 and "does not match" in errors[0], signed.stderr
        assert heard == [], "the other host was never asked anything"
        assert not stored(chat_env, "liar").exists()
    finally:
        other.shutdown()
        liar.shutdown()


def test_login_names_the_servers_and_a_local_one_needs_none(chat_env):
    remote = {"url": "http://127.0.0.1:9/mcp"}  # (never reached: no login is started)
    write_servers(chat_env, {"guarded": remote, "here": {"command": sys.executable, "args": ["-V"]}})
    unknown = chat(chat_env, "mcp", "login", "nope")
    assert unknown.code == 2 and "no MCP server named 'nope'" in unknown.err and "guarded, here" in unknown.err
    local = chat(chat_env, "mcp", "login", "here")
    assert local.code == 2 and "needs no login" in local.err


def whoami(server: Any, run: Any) -> str:
    """What the guarded server's whoami answered in the run's tool call (or the call's error)."""
    [result] = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    return result


@MCP_DOORS
def test_a_one_shot_at_every_door_calls_with_the_login_s_token_and_none_after_a_logout(server, door, guarded):
    """Signed in once, a one-shot's call carries the token whichever door it goes through: its own servers, or
    the MCP host's (from a process of its own, or from the warm worker), which acts for the caller. Logged out,
    the next one-shot's call carries none, though the host kept the server signed in."""
    assert login(door.env).returncode == 0
    token = json.loads(stored(door.env).read_text())["tokens"]["access_token"]
    server.queue(tool_calls(("whoami", {})), Reply("done"))
    run = door.chat("--yes", "who am I?")
    assert run.code == 0 and run.out == "done\n" and NEEDS not in run.err, run
    assert whoami(server, run) == f"signed in with a token ending {token[-4:]}"
    assert chat(door.env, "mcp", "logout", "guarded").code == 0
    server.queue(Reply("after"))
    after = door.chat("--yes", "and now?")
    assert after.code == 0 and after.out == "after\n", after
    # What it listed for the login went with it: listed anew, it needs one, said in one line; no tool offered.
    assert NEEDS in after.err and "tools" not in server.requests[-1], after


@MCP_DOORS
def test_a_one_shot_at_every_door_reaches_a_remote_server_through_its_own_proxy(server, door, guarded, monkeypatch):
    """A one-shot's HTTP_PROXY is its way to a remote MCP server whichever door it goes through (the MCP host's
    too); the next one-shot, with no proxy, goes straight to the server, though a host served the first."""
    assert login(door.env).returncode == 0
    token = json.loads(stored(door.env).read_text())["tokens"]["access_token"]
    proxy, seen = _recording()
    way = f"http://127.0.0.1:{proxy.server_address[1]}"
    # The model's server is reached directly, the MCP server through the proxy.
    model = server.base_url.removesuffix("/v1")
    proxied = {"HTTP_PROXY": way, "http_proxy": way, "NO_PROXY": model, "no_proxy": model}
    try:
        for name, value in proxied.items():
            monkeypatch.setenv(name, value)  # read by httpx in this process (the direct door), the rest are children
        server.queue(Reply("through the proxy"))  # (the proxy answers 401 to all: the server is left out)
        run = door.run({**door.env, **proxied}, "--yes", "who am I?")
        assert run.code == 0 and run.out == "through the proxy\n", run
        assert any(path.startswith(guarded.url) for _method, path, _auth in seen), seen  # absolute-form: a proxy's
        heard = len(seen)
        for name in proxied:
            monkeypatch.delenv(name)
        server.queue(tool_calls(("whoami", {})), Reply("straight"))
        run = door.chat("--yes", "and without it?")
        assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run
        assert len(seen) == heard
    finally:
        proxy.shutdown()


@pytest.mark.e2e  # the warm worker and the MCP host are processes
def test_two_data_directories_through_one_mcp_host_each_call_with_their_own_login(
    server,
    kept_env,  # noqa: F811 - the fixture
    tmp_path,
    monkeypatch,
):
    """Two profiles of one user (two data directories) share the MCP host, never a login: each one-shot's call
    carries its own data directory's token, or none. (The server of mcp 1.x, a process: what the host does for a
    caller without a login is tested against it.)"""
    from tests.test_mcp_kept import host_answer
    from tests.test_worker import chat as through_worker

    guarded = Guarded(tmp_path, "2025")
    try:
        write_servers(kept_env, {"guarded": {"url": guarded.url}})
        other = dict(kept_env, XDG_DATA_HOME=str(tmp_path / "other-profile"))
        assert login(kept_env).returncode == 0
        mine = json.loads(stored(kept_env).read_text())["tokens"]["access_token"]
        server.queue(tool_calls(("whoami", {})), Reply("mine"))
        run = through_worker(kept_env, "--yes", "who am I?")
        assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {mine[-4:]}", run
        server.queue(tool_calls(("whoami", {})), Reply("theirs"))
        run = through_worker(other, "--yes", "who am I?")
        assert run.code == 0 and "signed in" not in whoami(server, run) and NEEDS in run.err + whoami(server, run), run
        with monkeypatch.context() as patch:  # chat mcp login keeps its tokens in its process's data directory
            patch.setenv("XDG_DATA_HOME", other["XDG_DATA_HOME"])
            assert login(other).returncode == 0
        theirs = json.loads(stored(other).read_text())["tokens"]["access_token"]
        for env, token in ((other, theirs), (kept_env, mine)):
            server.queue(tool_calls(("whoami", {})), Reply("again"))
            run = through_worker(env, "--yes", "who am I now?")
            assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run
        pid = host_answer(kept_env, "status")["pid"]
        assert host_answer(other, "status")["pid"] == pid  # one host served both
    finally:
        guarded.stop()


# ---- who chat is to an authorization server: a client ID metadata document, or a registration ------------------

DOCUMENT = "https://chat.example.org/oauth/chatcli.json"


def document_of(url: str) -> dict[str, Any]:
    """Chat's client ID metadata document as docs/tools.md gives it, published at ``url``."""
    import re

    doc = (GUARDED.parent.parent.parent / "docs" / "tools.md").read_text()
    (block,) = [b for b in re.findall(r"```json\n(.*?)```", doc, re.S) if '"client_id"' in b]
    return {**json.loads(block), "client_id": url}


@pytest.mark.parametrize("era", [pytest.param("2025", marks=pytest.mark.e2e), "2026"])  # 2025: a process
@pytest.mark.parametrize("takes_documents", [True, False], ids=["documents", "registration"])
def test_login_signs_in_with_chat_s_client_metadata_document_where_the_server_takes_them(
    server, chat_env, tmp_path, era, takes_documents
):
    guarded = Guarded(tmp_path, era, {DOCUMENT: document_of(DOCUMENT)} if takes_documents else None)
    try:
        write_servers(chat_env, {"guarded": {"url": guarded.url}})
        config = Path(chat_env["XDG_CONFIG_HOME"], "chatcli", "config.toml")
        config.write_text(f'mcp_client_metadata_url = "{DOCUMENT}"\n')
        signed = login(chat_env)
        assert signed.returncode == 0 and "logged in to guarded: 1 tool (whoami)" in signed.stderr, signed.stderr
        kept = json.loads(stored(chat_env).read_text())
        if takes_documents:  # no registration: the document's URL is chat's client ID
            said = guarded.said()
            assert "register" not in said and "document" in said and kept["client"]["client_id"] == DOCUMENT, said
        else:  # the server takes no documents: chat registers itself, as before
            said = guarded.said()
            assert said == ["register", "code"] and kept["client"]["client_id"] != DOCUMENT, said
        assert stored(chat_env).stat().st_mode & 0o777 == 0o600
        token = kept["tokens"]["access_token"]
        server.queue(tool_calls(("whoami", {})), Reply("done"))
        run = chat(chat_env, "--yes", "who am I?")
        assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run
        expire(chat_env)  # refreshed as the same client
        assert "whoami" in chat(chat_env, "tools", "--refresh").out
        assert guarded.grants() == ["code", "refresh"]
    finally:
        guarded.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://chat.example.org/oauth/chatcli.json",  # not https
        "https://chat.example.org",  # no path
        "https://chat.example.org/",
        "https://me:secret@chat.example.org/oauth/chatcli.json",  # a password in it
        "https://chat.example.org/oauth/chatcli.json#me",  # a fragment
        "https:///oauth/chatcli.json",  # no host
        "https://chat.example.org/oauth/\x1b[31m.json",  # a terminal escape
        "chatcli.json",
    ],
)
def test_a_client_metadata_url_that_cannot_be_a_client_id_is_one_line(chat_env, url):
    config = Path(chat_env["XDG_CONFIG_HOME"], "chatcli", "config.toml")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"mcp_client_metadata_url = {json.dumps(url)}\n")
    run = chat(chat_env, "mcp", "login", "anything", "--no-browser")
    assert run.code != 0 and "mcp_client_metadata_url must be an https URL with a path" in run.err, run
    assert run.err.count("\n") <= 2 and "\x1b" not in run.err and "Traceback" not in run.err, run

"""`chat serve`'s page, the server's side of it: the sign-in a browser gets from the link chat serve prints, the session
cookie the API then takes (only from the page's own origin for a change), the headers and policy of the page, its
weight, and the API routes the page reads (what a thread waits on, whole; the background replies, followed).

What the page does in a browser is tests/test_page.py's (a real Chromium); here the app is asked in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatcli.api.access import CODE_SECONDS, SESSION_SECONDS, SignIns, cookie_name, sign_in_code, signed
from chatcli.api.page import FILES, POLICY
from tests import test_serve
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture

here = test_serve.here  # chat serve's app in this process (a fixture)
TOKEN = "the-users-token-0123456789abcdef"
ORIGIN = "http://127.0.0.1:8765"
COOKIE = cookie_name("127.0.0.1:8765")  # the session's name on that port


@pytest.fixture
def browser(settings: Any) -> Iterator[Any]:
    """A client of chat serve's app on 127.0.0.1:8765 with a token, as a browser is: no token of its own, cookies
    kept, redirects not followed."""
    from starlette.testclient import TestClient

    from chatcli.api.guard import addresses
    from chatcli.api.server import create_app

    app = create_app(settings, addresses("127.0.0.1", 8765, token=True), TOKEN)
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        yield client


def signed_in(browser: Any) -> Any:
    """The browser once it has taken a fresh sign-in link's code."""
    answer = browser.get(f"/signin?code={sign_in_code(TOKEN, 8765)}")
    assert answer.status_code == 303, answer.text
    return browser


def test_a_sign_in_link_gives_a_browser_a_session_once_and_leaves_no_secret_behind(browser):
    code = sign_in_code(TOKEN, 8765)
    assert TOKEN not in code
    taken = browser.get(f"/signin?code={code}")
    assert taken.status_code == 303 and taken.headers["location"] == "/"  # the code is not in the address it goes to
    assert taken.headers["referrer-policy"] == "no-referrer" and "no-store" in taken.headers["cache-control"]
    cookie = SimpleCookie(taken.headers["set-cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "strict" and cookie["path"] == "/" and not cookie["secure"]
    assert int(cookie["max-age"]) == SESSION_SECONDS and TOKEN not in cookie.value and code not in cookie.value
    assert browser.get("/v1/threads").status_code == 200  # the session, no token
    # The same link again (from the history, a log, a second tap): a page saying how to get another, no session.
    browser.cookies.clear()
    again = browser.get(f"/signin?code={code}")
    assert again.status_code == 403 and "chat serve --link" in again.text and "set-cookie" not in again.headers
    assert again.headers["content-type"].startswith("text/html") and again.headers["content-security-policy"] == POLICY
    assert browser.get("/v1/threads").status_code == 401


@pytest.mark.parametrize(
    "code",
    [
        sign_in_code(TOKEN, 8765, now=time.time() - CODE_SECONDS - 1),  # expired
        signed(TOKEN, "code:8765", CODE_SECONDS * 100),  # good for longer than a link is: not one chat serve made
        sign_in_code("another-servers-token", 8765),
        sign_in_code(TOKEN, 8766),  # another server's, on the same token
        signed(TOKEN, "session", CODE_SECONDS),  # a session's value is no code
        TOKEN,
        "",
        "x" * 5000 + ".1.2",
        "<script>alert(1)</script>",
    ],
    ids=[
        "expired",
        "too-long-lived",
        "another-token",
        "another-server",
        "a-session",
        "the-token",
        "empty",
        "long",
        "markup",
    ],
)
def test_a_code_that_is_not_a_fresh_one_of_this_server_gives_no_session(browser, code):
    from urllib.parse import quote

    answer = browser.get(f"/signin?code={quote(code)}")
    assert answer.status_code in (200, 403) and "set-cookie" not in answer.headers, answer.text
    assert "<script>" not in answer.text and "Sign in to chat" in answer.text
    assert browser.get("/v1/threads").status_code == 401


def test_a_code_is_good_for_five_minutes_once_by_the_server_s_clock():
    now = [1_000_000.0]
    codes = SignIns(TOKEN, clock=lambda: now[0])
    first, second = (sign_in_code(TOKEN, 8765, now=now[0]) for _ in range(2))
    now[0] += CODE_SECONDS - 1
    assert codes.take(first, 8765) and not codes.take(first, 8765)
    now[0] += 2  # five minutes and a second after it was made
    assert not codes.take(second, 8765)
    assert codes.taken == {}  # what expired is forgotten


def test_a_code_is_good_once_across_restarts_and_only_at_the_server_that_printed_it(settings, tmp_path):
    from starlette.testclient import TestClient

    from chatcli.api.guard import addresses
    from chatcli.api.server import create_app

    (tmp_path / "run").mkdir(mode=0o700)
    environ = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run")}

    def server(port: int) -> Any:  # chat serve started (again) on ``port``, as its user
        app = create_app(settings, addresses("127.0.0.1", port, token=True), TOKEN, environ=environ)
        return TestClient(app, base_url=f"http://127.0.0.1:{port}", follow_redirects=False)

    code, other = sign_in_code(TOKEN, 8765), sign_in_code(TOKEN, 8765)
    with server(8765) as first:
        assert first.get(f"/signin?code={code}").status_code == 303
    with server(8765) as restarted, server(8766) as beside:
        assert restarted.get(f"/signin?code={code}").status_code == 403, "a used code was taken after a restart"
        assert beside.get(f"/signin?code={other}").status_code == 403, "another server took this one's code"
        assert restarted.get(f"/signin?code={other}").status_code == 303
    kept = tmp_path / "run" / "chatcli" / "serve-signins-taken.json"
    assert kept.stat().st_mode & 0o077 == 0 and code in kept.read_text() and TOKEN not in kept.read_text()


def test_the_token_pasted_in_the_sign_in_form_gives_a_session_and_a_wrong_one_does_not(browser):
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}
    asked = browser.get("/signin")
    assert asked.status_code == 200 and 'method="post"' in asked.text and "chat serve --show-token" in asked.text
    wrong = browser.post("/signin", content=b"token=nope", headers=form)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    right = browser.post("/signin", content=f"token={TOKEN}".encode(), headers=form)
    assert right.status_code == 303 and right.headers["location"] == "/" and COOKIE in right.headers["set-cookie"]
    assert browser.get("/v1/threads").status_code == 200
    other = browser.post(
        "/signin", content=f"token={TOKEN}".encode(), headers={**form, "Origin": "http://evil.example"}
    )
    assert other.status_code == 403


def test_two_servers_on_one_machine_keep_their_own_sessions_in_one_browser(settings):
    """A browser sends a host's cookies to each of its ports: each server's session has a name of its own, so that
    signing in to one does not sign the browser out of the other."""
    from starlette.testclient import TestClient

    from chatcli.api.guard import addresses
    from chatcli.api.server import create_app

    kept: dict[str, str] = {}  # the browser's cookies for 127.0.0.1, whatever the port: a name kept once
    with contextlib.ExitStack() as stack:
        servers = []
        for port, token in ((8765, TOKEN), (8766, TOKEN[::-1])):
            app = create_app(settings, addresses("127.0.0.1", port, token=True), token)
            client = TestClient(app, base_url=f"http://127.0.0.1:{port}", follow_redirects=False)
            servers.append(stack.enter_context(client))
            taken = client.get(f"/signin?code={sign_in_code(token, port)}")
            kept.update({name: morsel.value for name, morsel in SimpleCookie(taken.headers["set-cookie"]).items()})
        assert sorted(kept) == ["chat_session_8765", "chat_session_8766"]
        sent = {"Cookie": "; ".join(f"{name}={value}" for name, value in kept.items())}
        for client in servers:
            client.cookies.clear()
            assert client.get("/v1/threads", headers=sent).status_code == 200, client.base_url
    assert cookie_name("[::1]:8765") == "chat_session_8765" and cookie_name("machine.ts.net") == "chat_session"
    assert cookie_name("[::1]") == "chat_session"


def test_over_https_the_session_cookie_is_secure(settings):
    from starlette.testclient import TestClient

    from chatcli.api.guard import addresses
    from chatcli.api.server import create_app

    app = create_app(settings, addresses("127.0.0.1", 8765, token=True), TOKEN)
    with TestClient(app, base_url="https://127.0.0.1:8765", follow_redirects=False) as client:
        taken = client.get(f"/signin?code={sign_in_code(TOKEN, 8765)}")
        assert taken.status_code == 303 and SimpleCookie(taken.headers["set-cookie"])[COOKIE]["secure"]


def test_the_session_changes_something_only_from_the_page_s_own_origin(browser, server):
    signed_in(browser)
    server.queue(Reply("asked from the page"))
    ask = {"content": "hi"}
    assert browser.post("/v1/threads/p1/messages", json=ask).status_code == 401  # no Origin: not the page
    for origin in ("http://evil.example", "null", "http://127.0.0.1:8766"):
        assert browser.post("/v1/threads/p1/messages", json=ask, headers={"Origin": origin}).status_code == 403
        assert browser.get("/v1/threads", headers={"Origin": origin}).status_code == 403
    assert browser.delete("/v1/threads/p1").status_code == 401
    assert server.requests == []
    answered = browser.post("/v1/threads/p1/messages", json=ask, headers={"Origin": ORIGIN})
    assert answered.status_code == 200 and answered.json()["reply"] == "asked from the page"
    # A session that is not this server's, or no longer good, is none.
    for value in (signed("another-token", "session", 60), signed(TOKEN, "session", -1), signed(TOKEN, "code", 60)):
        browser.cookies.clear()
        browser.cookies.set(COOKIE, value)
        assert browser.get("/v1/threads").status_code == 401


def test_the_page_is_served_with_its_policy_and_weighs_under_150_kb(browser):
    page = browser.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == POLICY
    assert "script-src 'self';" in POLICY and "unsafe" not in POLICY and "frame-ancestors 'none'" in POLICY
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css"), ("icon.svg", "image/svg+xml")):
        asset = browser.get(f"/page/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), name
        assert asset.headers["x-content-type-options"] == "nosniff"
    for elsewhere in ("/page/../access.py", "/page/nope.js", "/page/index.html"):  # only the page's files
        assert browser.get(elsewhere, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404, elsewhere
    for asked in ("name=../access.py", "name=signin.html", "path=../page.py"):  # nothing read from the request
        assert browser.get(f"/page/page.css?{asked}").content == (FILES / "page.css").read_bytes(), asked
    # Scripts asking / still get where to go (with the token), as before the page.
    assert browser.get("/", headers={"Accept": "application/json"}).status_code == 401
    links = browser.get("/", headers={"Accept": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert links.json() == {"threads": "/v1/threads", "api": "/openapi.json"}
    # What a phone loads to show the page: the host SDK for MCP App views comes only with the first view.
    files = [path for path in FILES.iterdir() if path.is_file() and not path.name.startswith("app-bridge")]
    assert sum(path.stat().st_size for path in files) < 150 * 1024, [(p.name, p.stat().st_size) for p in files]
    assert "app-bridge" not in (FILES / "index.html").read_text()
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Nothing inline the page's policy would have to allow, nothing from another host (the sandbox proxy is no
        # page of the page's: served on its own port, under the view's policy, chatcli.api.apps.proxy_page).
        if path.suffix == ".html" and path.name != "proxy.html":
            assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", text), path.name
        if path.suffix in (".html", ".js", ".css"):
            assert not re.search(r"(?<![\w/])(https?:)?//[\w.-]+\.\w", text.replace("\\/", "/")), path.name


def test_chat_serve_link_prints_a_new_sign_in_link_for_the_running_server(here, chat_env):
    served = here()
    made = chat(chat_env, "serve", "--link")
    link = made.out.strip()
    assert made.code == 0 and re.fullmatch(r"http://127\.0\.0\.1:8765/signin\?code=[\w.-]+", link), made
    assert served.token not in link
    status, _ = served.raw("GET", link.removeprefix("http://127.0.0.1:8765"), headers={"Authorization": ""})
    assert status == 303
    assert chat(chat_env, "serve", "--link", "--host", "box.tailnet.example", "--port", "9000").out.startswith(
        "http://box.tailnet.example:9000/signin?code="
    )


def test_what_a_thread_waits_on_is_given_whole_with_the_choices_it_takes(here, server, chat_env):
    served = here(env={**chat_env, "CHATCLI_TOOLS": "shell"})
    command = "echo " + "long argument " * 40
    server.queue(tool_calls(("shell", {"command": command}, "call_a")), Reply("ran it"))
    assert served.ask("w1", "run it")[1]["approval_required"][0]["id"] == "call_a"
    inbox = served.request("GET", "/v1/inbox")[1]
    assert inbox[0]["asked"][0]["text"].endswith("…")  # the inbox's row is a line
    status, waiting = served.request("GET", "/v1/threads/w1/waiting")
    where = waiting[0].pop("where")  # as the terminal says it: in its sandbox, or why not
    assert where.startswith(("sandbox: ", "not sandboxed")), where
    assert status == 200 and waiting == [
        {
            "kind": "approval",
            "id": "call_a",
            "call": {
                "id": "call_a",
                "name": "shell",
                "label": "shell (built-in)",
                "server": "builtin",
                "arguments": {"command": command},
            },  # fmt: skip
            "allowed": ["approve", "edit", "reject"],
            "description": None,
        }
    ]
    answered = served.request("POST", "/v1/threads/w1/approvals", {"decisions": {"call_a": {"action": "no"}}})
    assert answered[0] == 200 and answered[1]["reply"] == "ran it"
    assert served.request("GET", "/v1/threads/w1/waiting") == (200, [])
    assert served.request("GET", "/v1/threads/nothing-here/waiting")[0] == 404


@pytest.mark.usefixtures("jobs_here")
def test_background_replies_are_listed_and_followed_to_their_end(here, server):
    served = here()
    server.queue(Reply("first"), Reply("answered in the background"))
    served.ask("b1", "first")
    done = served.request("POST", "/v1/threads/b1/commands", {"command": "bg", "input": "and later"})[1]
    job = done["job"]

    def listed() -> dict[str, Any] | None:
        return next((j for j in served.request("GET", "/v1/jobs")[1] if j["id"] == job), None)

    assert eventually(listed, f"job {job} listed")["question"] == "and later"
    status, body = served.raw("GET", f"/v1/jobs/{job}/events")
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1]["type"] == "done", events
    assert "".join(e["text"] for e in events if e["type"] == "token") == "answered in the background"
    assert eventually(listed, "the job done")["state"] == "done"
    assert served.request("GET", "/v1/jobs/nope/events")[0] == 400


def test_the_page_s_files_are_in_the_package():
    listed = Path(__file__).parents[1] / "pyproject.toml"
    packaged = ["page/*.html", "page/*.js", "page/*.css", "page/*.svg", "page/*.txt"]  # (.txt: the SDK's license)
    assert f'"chatcli.api" = {json.dumps(packaged)}' in listed.read_text()
    assert {path.suffix for path in FILES.iterdir()} <= {".html", ".js", ".css", ".svg", ".txt"}


def test_the_threads_are_searched_through_their_text_as_chat_search_does(here, server, chat_env):
    served = here()
    server.queue(Reply("Pineapples grow on the ground."), Reply("Apples grow on trees."))
    served.ask("fruit", "Where do pineapples grow?")
    served.ask("trees", "And apples?")
    status, hits = served.request("GET", "/v1/search?q=pineapp*")
    assert status == 200 and {h["thread_id"] for h in hits} == {"fruit"}, hits
    assert {h["speaker"] for h in hits} == {"user", "assistant"} and all("ineapple" in h["snippet"] for h in hits)
    assert hits == json.loads(chat(chat_env, "search", "--json", "pineapp*").out)  # the command line's own hits
    status, refused = served.request("GET", "/v1/search?q=%20")
    assert status == 400 and refused["error"]["message"] == "nothing to search for", refused

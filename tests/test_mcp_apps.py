"""MCP Apps (SEP-1865) at the service's seam: chat declares the extension, a call of a tool with a view keeps the view's
address and the whole result beside the text (the terminal's and the model's), an App-only tool is not the model's,
serve gives a view with the origins its server declares (bounded to origins) and serves the sandbox proxy on a port of
its own, and a call a view asks for is decided as any call. The server is tests/mcp/viewed.py, made in this process;
what the page does with it in a browser is tests/test_page.py's and tests/test_page_apps.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatcli.tools.mcp.apps import policy
from tests import test_serve
from tests.fakeserver import Reply, tool_calls
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers

here = test_serve.here  # chat serve's app in this process (a fixture)
VIEWED = Path(__file__).parent / "mcp" / "viewed.py"
VIEW = "ui://tally/view.html"
pytestmark = pytest.mark.usefixtures("in_memory")


def viewed(chat_env: dict[str, str], **more: Any) -> None:
    import sys

    write_servers(chat_env, {"viewed": {"command": sys.executable, "args": [str(VIEWED)], **more}})


def offered(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def test_a_call_of_a_tool_with_a_view_keeps_the_view_and_the_whole_result_beside_its_text(server, chat_env, here):
    viewed(chat_env)
    served = here("--yes")
    server.queue(tool_calls(("tally", {"step": 2}), ("declared", {})), Reply("Two."))
    events = list(served.events("/v1/threads/t1/messages", {"content": "count"}))
    results = {e["name"]: e for e in events if e["type"] == "tool_result"}
    tally = results["tally"]
    assert tally["view"]["uri"] == VIEW and tally["view"]["result"]["structuredContent"] == {"count": 2}, tally
    assert '"count": 2' in tally["content"], tally  # the text the terminal and the model read
    assert results["declared"]["view"] is None  # a tool without a view: nothing beside its text
    # chat declares the Apps extension (and the skills one) to every server
    assert results["declared"]["content"] == "io.modelcontextprotocol/skills io.modelcontextprotocol/ui"
    # what the model read is the text alone; its tools: the model's, never the App-only one
    first, second = server.requests
    assert "bump" not in offered(first) and {"tally", "peek", "declared"} <= set(offered(first))
    sent = [m["content"] for m in second["messages"] if m["role"] == "tool"]
    assert '"count": 2' in sent[0] and "structuredContent" not in json.dumps(second)
    # the thread keeps it: the page shows the view when it reads the thread again
    status, thread = served.request("GET", "/v1/threads/t1")
    kept = next(m for m in thread["messages"] if m.get("name") == "tally")
    assert status == 200 and kept["view"] == tally["view"] and kept["server"] == "viewed", kept


def test_a_view_is_given_with_the_origins_it_declares_and_only_origins(server, chat_env, here):
    viewed(chat_env)
    served = here()
    status, view = served.request("GET", f"/v1/apps/viewed/view?uri={VIEW}")
    assert status == 200 and view["html"].startswith("<!doctype html><title>tally</title>"), view
    assert view["csp"]["connectDomains"] == ["https://api.example.com"]  # the keyword and the smuggled directive gone
    assert view["csp"]["resourceDomains"] == ["https://*.cdn.example"]  # "data:" and "*" are not origins
    assert view["proxy"] is None  # (no sandbox proxy in this process: the page says views need chat serve on TCP)
    for uri, said in (
        ("notes://today", "is not an MCP App's view"),
        ("ui://tally/plain.txt", "gave no MCP App for ui://tally/plain.txt"),
    ):
        status, refused = served.request("GET", f"/v1/apps/viewed/view?uri={uri}")
        assert status == 400 and said in refused["error"]["message"], (uri, refused)
    status, refused = served.request("GET", f"/v1/apps/nobody/view?uri={VIEW}")
    assert status == 400 and "no MCP server named 'nobody'" in refused["error"]["message"], refused


def test_the_sandbox_proxy_port_serves_the_proxy_under_the_views_policy_and_nothing_else(settings, tmp_path):
    """The sandbox proxy's port (another origin than the page's, to which a browser sends the page's cookie too):
    ``GET /`` is the proxy, under the policy of the origins asked for (bounded to origins) and framed by the page's
    origin alone; every other request is not found there, the page's API and page included, token or cookie."""
    import asyncio

    import httpx

    from chatcli.api.apps import ViewPort
    from chatcli.api.guard import Addresses
    from chatcli.api.server import create_app

    app = create_app(settings, Addresses(None), token="secret", views=ViewPort(proxy=8766, page=8765))
    hostile = {"connectDomains": ["https://api.example.com", "'unsafe-eval'", "https://x.test; script-src *"]}

    async def asked() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8766") as client:
            proxy = await client.get("/", params={"csp": json.dumps(hostile)})
            signed = {"Authorization": "Bearer secret", "Cookie": "chat_session_8765=x"}
            others = [await client.request(m, p, headers=signed) for m, p in (("GET", "/v1/threads"), ("POST", "/"))]
            deep = await client.get("/", params={"csp": "[" * 5000})  # (as deep as a hostile view likes: no policy)
            return [
                proxy,
                deep,
                *others,
                await client.get("/page/page.js"),
                await client.get("/", headers={"Host": "a b"}),
            ]

    proxy, deep, *others = asyncio.run(asked())
    assert deep.status_code == 200 and "connect-src 'none'" in deep.headers["content-security-policy"], deep
    csp = dict(part.strip().split(" ", 1) for part in proxy.headers["content-security-policy"].split(";"))
    assert proxy.status_code == 200 and "ui/notifications/sandbox-proxy-ready" in proxy.text, proxy.text[:300]
    assert 'data-page="http://127.0.0.1:8765"' in proxy.text and csp["frame-ancestors"] == "http://127.0.0.1:8765"
    assert csp["connect-src"] == "https://api.example.com" and csp["default-src"] == "'none'", csp
    assert [r.status_code for r in others] == [404] * 4 and not any("thread" in r.text for r in others), others


def test_a_policy_takes_only_origins_whatever_a_server_declares():
    hostile = {
        "connectDomains": [
            "https://ok.test",
            "'self'",
            "https://a.test 'unsafe-eval'",
            "javascript:x",
            7,
            "wss://w.test",
        ],
        "resourceDomains": "https://not-a-list.test",
        "frameDomains": ["https://f.test;sandbox", "https://f2.test:8443"],
        "baseUriDomains": None,
    }
    made = dict(part.strip().split(" ", 1) for part in policy(hostile, "http://127.0.0.1:8765").split(";"))
    assert made["connect-src"] == "https://ok.test wss://w.test"
    assert made["frame-src"] == "https://f2.test:8443" and made["base-uri"] == "'none'"
    assert made["img-src"] == "data: blob:" and made["script-src"] == "'unsafe-inline'"
    page = "http://127.0.0.1:8765"
    assert policy(None, page) == policy({}, page) and "connect-src 'none'" in policy("not an object", page)


def viewing(server: Any, served: Any) -> Any:
    """Thread t1 with the model's call of tally (its result, with the view, under the id "view1"), approved; and
    ``app(body)``, a request of that view's App: its status and answer."""
    server.queue(tool_calls(("tally", {"step": 2}, "view1")), Reply("Two."))
    status, said = served.request("POST", "/v1/threads/t1/messages", {"content": "count"})
    if said.get("approval_required"):
        served.request("POST", "/v1/threads/t1/approvals", {"decisions": {"view1": {"action": "yes"}}})
    return lambda body: served.request("POST", "/v1/apps/viewed/call", {"thread": "t1", "result": "view1", **body})


def test_a_call_a_view_asks_for_is_decided_as_any_call_and_answered_by_the_id_of_its_question(server, chat_env, here):
    viewed(chat_env)
    served = here()
    app = viewing(server, served)
    status, asked = app({"tool": "bump"})
    key = asked["ask"].pop("id")
    assert status == 200 and asked == {
        "ask": {"server": "viewed", "tool": "bump", "label": "viewed:bump", "arguments": {}, "reason": ""}
    }, asked
    status, done = served.request("POST", "/v1/apps/viewed/call", {"answer": key, "action": "yes"})
    assert status == 200 and done["result"]["content"][0]["text"] == "bumped to 12", done
    for gone in (key, "made-up"):  # answered once; an id never given: nothing runs
        status, said = served.request("POST", "/v1/apps/viewed/call", {"answer": gone, "action": "yes"})
        assert status == 400 and "no call waits on the answer" in said["error"]["message"], said
    for tool, why in (("peek", "offers its App no tool named 'peek'"), ("rm", "offers its App no tool named 'rm'")):
        refused = app({"tool": tool})[1]["result"]
        assert refused["isError"] and why in refused["content"][0]["text"], refused
    status, said = served.request("POST", "/v1/apps/viewed/call", {"tool": "bump", "thread": "t1", "result": "nope"})
    assert status == 400 and "thread 't1' has no view of MCP server 'viewed'" in said["error"]["message"], said
    # approved in advance, as a pattern approves the model's calls: it runs unasked
    (Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml").write_text('approve = ["viewed:*"]\n')
    status, answer = viewing(server, here())({"tool": "tally", "arguments": {"step": 1}})
    assert status == 200 and answer["result"]["structuredContent"] == {"count": 3}, answer  # (a server of its own)


@pytest.mark.parametrize("behavior", ["allow", "deny"])
def test_a_permission_request_hook_answers_an_apps_call_as_it_answers_the_models(server, chat_env, here, behavior):
    """A hook's decision bypassed through the App's door: a PermissionRequest hook that denies a call the user would be
    asked about refused the model's call but not the App's, which the user could then say yes to on the page (one
    that allows it ran the model's call unasked, and left the App's asked). Both doors now hear it alike."""
    from tests.test_hooks_doors import user_settings

    viewed(chat_env)
    decided = {"hookEventName": "PermissionRequest", "decision": {"behavior": behavior, "message": "not from a view"}}
    answer = f"echo '{json.dumps({'hookSpecificOutput': decided})}'"
    user_settings(Path(chat_env["HOME"]), PermissionRequest=[("mcp__viewed__bump", answer)])
    app = viewing(server, here())
    status, said = app({"tool": "bump"})
    assert status == 200 and "result" in said, said
    text = said["result"]["content"][0]["text"]
    if behavior == "deny":
        assert said["result"]["isError"] and text == "not run: a PermissionRequest hook refused it: not from a view"
    else:
        assert text.startswith("bumped to ") and not said["result"].get("isError"), said
    status, said = app({"tool": "tally", "arguments": {"step": 3}})
    assert status == 200 and "ask" in said, said  # a tool the hook does not match: asked as before


def test_the_answer_runs_the_call_shown_and_nothing_the_page_sends_with_it(server, chat_env, here):
    """Approval was a flag the page sent with the call again: a page could approve arguments other than those the
    user was shown, and a PreToolUse hook's rewrite was applied twice (2 shown, 3 ran). Serve now keeps the call it
    showed, as the hooks left it, and the answer names it: arguments sent with an answer are refused, and the call
    runs as shown, once."""
    import shlex
    import sys

    from tests.test_hooks_doors import user_settings

    viewed(chat_env)
    bump = (
        "import json, sys; step = json.load(sys.stdin)['tool_input']['step']; "
        "print(json.dumps({'hookSpecificOutput': {'hookEventName': 'PreToolUse', 'updatedInput': {'step': step + 1}}}))"
    )
    user_settings(
        Path(chat_env["HOME"]), PreToolUse=[("mcp__viewed__tally", f"{sys.executable} -c {shlex.quote(bump)}")]
    )
    served = here()
    app = viewing(server, served)
    status, said = app({"tool": "tally", "arguments": {"step": 1}})
    assert status == 200 and said["ask"]["arguments"] == {"step": 2}, said  # the hook's rewrite, shown
    key = said["ask"]["id"]
    for smuggled in ({"arguments": {"step": 50}}, {"tool": "tally", "arguments": {"step": 50}}):
        status, said = served.request("POST", "/v1/apps/viewed/call", {"answer": key, "action": "yes", **smuggled})
        assert status in (400, 422) and "result" not in said, said
    status, said = served.request("POST", "/v1/apps/viewed/call", {"answer": key, "action": "yes"})
    count = said["result"]["structuredContent"]["count"]
    assert status == 200 and count == 3 + 2, said  # the model's call's 3 (2, rewritten), then 2 as shown


def test_an_apps_call_fires_post_tool_use_and_is_kept_with_its_view_in_the_thread_not_sent_to_the_model(
    server, chat_env, here, tmp_path
):
    """An App's call ran beside the model's path: no PostToolUse hook heard it and the thread kept nothing of it. It
    now runs as the model's calls do (PostToolUse with Claude Code's fields, its events streamed) and is kept with the
    view's result, shown by chat show; the model is not sent it (the MCP Apps spec has a view tell the model what it
    wants it to know: ui/update-model-context, ui/message)."""
    from tests.helpers import chat
    from tests.test_hooks_doors import user_settings

    viewed(chat_env)
    (Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml").write_text('approve = ["viewed:*"]\n')
    heard = tmp_path / "heard.jsonl"
    user_settings(Path(chat_env["HOME"]), PostToolUse=[("mcp__viewed__.*", f"cat >> {heard}; echo >> {heard}")])
    served = here()
    app = viewing(server, served)
    events = list(served.events("/v1/apps/viewed/call", {"tool": "bump", "thread": "t1", "result": "view1"}))
    assert [e["type"] for e in events[:-1]] == ["tool_call", "tool_result"], events
    assert events[-1]["result"]["content"][0]["text"] == "bumped to 12", events
    status, said = app({"tool": "tally", "arguments": {"step": "x"}})  # a call that fails: PostToolUseFailure
    fields = [json.loads(line) for line in heard.read_text().splitlines() if line.strip()]
    made = next(f for f in fields if f["tool_name"] == "mcp__viewed__bump")
    assert made["hook_event_name"] == "PostToolUse" and made["session_id"] == "t1", made
    assert made["tool_input"] == {} and made["tool_response"] == "bumped to 12", made
    assert made["tool_use_id"].startswith("app_") and made["tool_use_id"] != "view1", made
    status, thread = served.request("GET", "/v1/threads/t1")
    kept = next(m for m in thread["messages"] if m.get("tool_call_id") == "view1")
    calls = kept["view"]["calls"]
    assert [(c["name"], c["status"], c["arguments"]) for c in calls] == [
        ("bump", "ok", {}),
        ("tally", "error", {"step": "x"}),
    ], calls
    assert calls[0]["content"] == "bumped to 12" and calls[0]["tool_call_id"] == made["tool_use_id"], calls
    shown = chat(chat_env, "show", "t1")
    assert "Tool call from its view: viewed:bump" in shown.out and "bumped to 12" in shown.out, shown
    server.queue(Reply("Twelve."))
    served.request("POST", "/v1/threads/t1/messages", {"content": "and now?"})
    assert "bumped" not in json.dumps(server.requests[-1]), "the model was sent the App's call"


def test_the_terminal_shows_such_a_call_as_its_text(server, chat_env):
    """The spec's fallback for a host that shows no view: the terminal shows the tool's text, as any call's."""
    from tests.helpers import chat

    viewed(chat_env)
    server.queue(tool_calls(("tally", {"step": 3})), Reply("Three."))
    run = chat(chat_env, "-y", "count", tty=True)
    assert run.code == 0 and "viewed:tally" in run.err and '"count": 3' in run.err, run
    assert "ui://" not in run.out + run.err and "structuredContent" not in run.out + run.err

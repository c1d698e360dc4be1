"""MCP Apps' views on ``chat serve``'s page in a real browser (tests/browser.py), shown as the specification's reference
host shows them: through the sandbox proxy on a port of its own. The registry's examples built with each framework
render and answer their own buttons; a view's script reaches nothing of the page's; the question box and a view's
size behave at a phone's width. tests/test_page.py has the page's other App tests (a call asked, a hostile view)."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from tests import browser as browsing
from tests.browser import DESKTOP, PHONE
from tests.fakeserver import Reply, tool_calls
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_apps import viewed
from tests.test_page import api, expect, shown_in, shown_view, signed_in, viewed_thread

pytestmark = [pytest.mark.e2e, browsing.needs_chromium]
browser, browse, page_served = browsing.browser, browsing.browse, browsing.page_served

NODE = os.environ.get("CHATCLI_TEST_MCP_NODE", "")
# server-basic-* 2.0.3 of each framework, and server-budget-allocator (.ci/mcp-servers installs them)
EXAMPLES = {
    name: os.environ.get(f"CHATCLI_TEST_SERVER_APP{suffix}", "")
    for name, suffix in (("vanillajs", ""), ("react", "_REACT"), ("preact", "_PREACT"), ("vue", "_VUE"),
                         ("solid", "_SOLID"), ("svelte", "_SVELTE"), ("budget", "_BUDGET"))
}  # fmt: skip
needs_examples = pytest.mark.skipif(
    not (NODE and all(EXAMPLES.values())),
    reason='the MCP Apps examples are not installed: eval "$(.ci/mcp-servers .venv/mcp-servers)"',
)


def examples(served_by: Any, chat_env: dict[str, str], server: Any, *names: str, tool: str = "get-time") -> Any:
    """chat serve (every call approved) with the examples ``names``, each the MCP server of that name, and a thread of
    that name whose call of its ``tool`` shows its view."""
    write_servers(chat_env, {name: {"command": NODE, "args": [EXAMPLES[name], "--stdio"]} for name in names})
    served = served_by("--yes")
    for name in names:
        called = tool if len(names) == 1 else f"{name}_{tool}"  # (a tool of one name on several servers: SERVER_TOOL)
        server.queue(tool_calls((called, {}, f"call_{name}")), Reply("Shown."))
        done = api(served, "POST", f"/v1/threads/{name}/messages", {"content": "show it"})
        assert done["tool_calls"][0]["status"] == "ok", done
    return served


@needs_examples
def test_each_frameworks_example_renders_and_answers_its_button(page_served, browse, server, chat_env):
    """The registry's server-basic example built with each framework: its view draws the call's time and, its "Get
    Server Time" pressed, the time its own call brought, never [ERROR]. Vue's read ``window.parent`` (its reactivity
    asks a value whether it is a ref): in a frame with no origin that threw a SecurityError, and the view said
    [ERROR]; the sandbox proxy's frame is its parent now, of the view's own origin."""
    frameworks = ("vanillajs", "react", "preact", "vue", "solid", "svelte")
    served = examples(page_served, chat_env, server, *frameworks)
    with browse(DESKTOP, "the examples of each framework") as view:
        page = view.page
        signed_in(view, served)
        for name in frameworks:
            page.goto(f"{served.origin}/#thread={name}")
            shown = shown_in(page)
            time = shown.locator("p", has_text="Server Time:").locator("code")
            expect(time, view.said(f"{name}: the call's time")).to_have_text(TIME)
            first = time.inner_text()
            shown.get_by_role("button", name="Get Server Time").click()
            expect(time, view.said(f"{name}: a time again, from its own call")).not_to_have_text(first)
            expect(time, view.said(f"{name}: not [ERROR]")).to_have_text(TIME)
        # what the views' policy blocked is their own eval (bundles try it), nothing of the page
        view.problems[:] = [p for p in view.problems if not p.startswith("CSP: script-src blocked eval at about:")]


TIME = __import__("re").compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")


@pytest.mark.usefixtures("in_memory")
def test_a_views_script_reaches_nothing_of_the_page(page_served, browse, server, chat_env):
    """A hostile view's script (tests/mcp/viewed.py's, played by the test), even where its policy let it connect
    anywhere (the context bypasses every policy): the page's API, though the browser sends the page's cookie to every
    port of its host, reads nothing to it and takes nothing from it, nor does the proxy's port; the page's document and
    cookie are out of its reach. Its parent, the proxy moved to a data: address, is of its origin (an opaque one)."""
    served = viewed_thread(page_served, server, chat_env)
    with browse(DESKTOP, "a view asking the page's API", bypass_csp=True) as view:
        frame = shown_view(view, served)
        proxy = view.page.locator("iframe.app").get_attribute("src").split("?")[0]
        ask = """async ([url, init]) => { try { const r = await fetch(url, { credentials: "include", ...init });
          return [r.status, r.type, await r.text()]; } catch (e) { return [0, "refused", e.name]; } }"""
        for url, init in itertools.product((f"{served.origin}/", proxy), ({}, {"mode": "no-cors"})):
            status, kind, text = frame.evaluate(ask, [f"{url}v1/threads", init])
            refused = (status, kind) in ((0, "refused"), (0, "opaque"))  # (CORS: refused; no-cors: unreadable)
            assert refused and "apps" not in text, view.said(f"{url}, {init}: {status} {kind} {text[:200]}")
        asks = len(server.requests)
        sent = {"method": "POST", "mode": "no-cors", "headers": {"Content-Type": "text/plain"}}
        frame.evaluate(ask, [f"{served.origin}/v1/threads/taken/messages", {**sent, "body": '{"content": "hi"}'}])
        listed = [t["thread_id"] for t in api(served, "GET", "/v1/threads")]
        assert "taken" not in listed and len(server.requests) == asks, view.said(f"nothing asked: {listed}")
        reach = """() => { const tried = (f) => { try { return f(); } catch (e) { return e.name; } };
          return [tried(() => parent.parent.document.title), tried(() => parent.document.title), tried(() => document.cookie)]; }"""
        assert frame.evaluate(reach) == ["SecurityError", "MCP App", "SecurityError"], view.said(
            "the page out of reach"
        )
        view.problems[:] = [p for p in view.problems if "CORS" not in p and "Failed to load resource" not in p]


@needs_examples
def test_a_view_s_message_goes_with_its_thread_and_a_view_fills_a_phone_s_width(page_served, browse, server, chat_env):
    """At a phone's size (390x844): the budget allocator's view draws its five sparklines (they were 0x0); a message a
    view put in the question box is taken out when another thread is opened (it stayed, to be sent there), while
    what the user typed stays."""
    served = examples(page_served, chat_env, server, "budget", tool="get-budget-data")
    server.queue(Reply("Elsewhere."))
    api(served, "POST", "/v1/threads/elsewhere/messages", {"content": "another thread"})
    with browse(PHONE, "the budget allocator") as view:
        page = view.page
        signed_in(view, served)
        page.goto(f"{served.origin}/#thread=budget")
        lines = shown_in(page).locator("canvas.sparkline")
        expect(lines, view.said("five sparklines")).to_have_count(5)
        sizes = [line.bounding_box() for line in lines.all()]
        assert all(box and box["width"] > 0 and box["height"] > 0 for box in sizes), view.said(f"drawn: {sizes}")
        shown = page.locator("iframe.app").element_handle().content_frame().child_frames[0]
        said = {"jsonrpc": "2.0", "id": 7, "method": "ui/message", "params": {"role": "user", "content": []}}
        said["params"]["content"].append({"type": "text", "text": "Rebalance toward marketing"})
        shown.evaluate("(message) => parent.postMessage(message, '*')", said)
        question = page.locator("#question")
        expect(question, view.said("the view's message waits")).to_have_value("Rebalance toward marketing")
        page.evaluate("location.hash = '#thread=elsewhere'")
        expect(page.locator("#messages"), view.said("another thread")).to_contain_text("Elsewhere.")
        expect(question, view.said("the view's message stays with its thread")).to_have_value("")
        question.fill("my own words")
        page.evaluate("location.hash = '#thread=budget'")
        expect(shown_in(page).locator("canvas.sparkline"), view.said("back")).to_have_count(5)
        expect(question, view.said("what the user typed stays")).to_have_value("my own words")
        # (the view's own: it heard an answer to the message the test sent in its name)
        view.problems[:] = [p for p in view.problems if "unknown message ID" not in p]
        view.problems[:] = [p for p in view.problems if not p.startswith("CSP: script-src blocked eval at about:")]


# A hostile view's script: each other view's frame on the page (its proxy's document, the view's document, code run in
# the view's realm, which would speak to the page in its name), and the page's document
SIBLINGS = """() => { const tried = (f) => { try { return String(f()); } catch (e) { return e.name; } };
  const others = Array.from({ length: top.frames.length }, (_, i) => top.frames[i]).filter((w) => w !== parent);
  return { own: tried(() => parent.document.title), page: tried(() => top.document.title), others: others.length,
    proxies: others.map((w) => tried(() => w.document.title)),
    views: others.map((w) => tried(() => w.frames[0].document.body.textContent)),
    realms: others.map((w) => tried(() => { const d = w.frames[0].document, s = d.createElement("script");
      s.textContent = "window.taken = document.title"; d.body.append(s); return w.frames[0].taken; })) }; }"""


@pytest.mark.usefixtures("in_memory")
def test_a_views_script_reaches_no_other_view_on_the_page(page_served, browse, server, chat_env):
    """Two views on one page (two calls of tests/mcp/viewed.py's tool), the first's script hostile (played by the
    test): the other view's frame, its proxy's document and its realm (where a script would speak to the page in its
    name) are another origin's to it, as the page is; its own proxy is of its origin. (5df5449 gave every view the proxy
    port's origin: one view reached the other's frame and ran its script in the other's realm.)"""
    viewed(chat_env)
    served = page_served("--yes")
    server.queue(tool_calls(("tally", {"step": 1}, "call_a"), ("tally", {"step": 2}, "call_b")), Reply("Counted."))
    called = api(served, "POST", "/v1/threads/apps/messages", {"content": "count"})["tool_calls"]
    assert [c["status"] for c in called] == ["ok", "ok"], called
    with browse(DESKTOP, "two views on one page") as view:
        signed_in(view, served)
        view.page.goto(f"{served.origin}/#thread=apps")
        for nth in (0, 1):
            shown = view.page.frame_locator(f"iframe.app >> nth={nth}").frame_locator("iframe").locator("#count")
            expect(shown, view.said(f"view {nth} shows")).to_have_text("the view")
        hostile = view.page.locator("iframe.app").first.element_handle().content_frame().child_frames[0]
        reached = hostile.evaluate(SIBLINGS)
        denied = {"own": "MCP App", "page": "SecurityError", "others": 1}  # (its own parent, the proxy: of its origin)
        denied |= dict.fromkeys(("proxies", "views", "realms"), ["SecurityError"])
        assert reached == denied, view.said(f"what the hostile view reached: {reached}")

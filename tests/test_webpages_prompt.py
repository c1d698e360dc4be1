"""Web pages at the prompt, driven in this process: `/attach URL` fetches the page while the prompt waits,
says what was queued (its title shown inert), sends it with the next message; a page that cannot be
fetched is one error line and queues nothing; Ctrl-C stops a slow fetch and the prompt comes back."""

from __future__ import annotations

import pytest

from chatcli.content import webpage
from tests.fakeserver import Reply
from tests.helpers import HANG
from tests.test_prompt_inprocess import ENTER, press_ctrl_c, prompt_loop, stored
from tests.website import Site


@pytest.fixture
def site():
    site = Site()
    yield site
    site.close()


def user_text(body: dict) -> str:
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return content if isinstance(content, str) else "\n".join(p["text"] for p in content if p["type"] == "text")


async def test_attach_url_queues_the_page_for_the_next_message(settings, server, site):
    server.queue(Reply("It folds."))
    async with prompt_loop(settings) as chat:
        said = await chat.say(f"/attach {site.url}/page", then="sent with your next message")
        assert f"attached: Release notes for Widget 2.0 · {site.url}/page (text/markdown, " in said
        await chat.say("summarise", then="It folds.")
    text = user_text(server.requests[-1])
    assert text.startswith(f"summarise\n\nWeb page `Release notes for Widget 2.0` ({site.url}/page):\n````\n")
    assert "SCRIPT-SECRET" not in text and "# Widget 2.0" in text
    assert len(await stored(settings)) == 2


async def test_a_page_that_cannot_be_fetched_is_one_line_and_queues_nothing(settings, server, site):
    async with prompt_loop(settings) as chat:
        said = await chat.say(f"/attach {site.url}/missing", then="nothing was sent")
        lines = said.strip().splitlines()
        # A fetch that takes over half a second (the first of a process, on a busy machine) says so
        # first: a note of progress, not a second error line.
        if lines[0] == f"fetching {site.url}/missing · Ctrl-C stops":
            lines.pop(0)
        assert lines == [f"error: cannot fetch {site.url}/missing: HTTP 404 Not Found (nothing was sent)"]
        await chat.say("hello", then="You said: hello")
    assert user_text(server.requests[-1]) == "hello"


async def test_a_pages_title_cannot_reach_the_terminal_as_escapes(settings, server, site):
    async with prompt_loop(settings) as chat:
        said = await chat.say(f"/attach {site.url}/evil-title", then="sent with your next message")
    assert "\x1b" not in said and "\x07" not in said and "\x9b" not in said
    assert "attached: Hi␛]0;pwned␇␛[2J\ufffd31m there ·" in said


async def test_ctrl_c_stops_a_slow_fetch_and_nothing_is_attached(settings, server, site, monkeypatch):
    monkeypatch.setattr(webpage, "READ_TIMEOUT", HANG)  # the site stalls HANG seconds too: only Ctrl-C ends it
    async with prompt_loop(settings) as chat:
        await chat.say("warm up", then="You said: warm up")  # the engine is in: the fetch starts at once
        chat.type(f"/attach {site.url}/stall" + ENTER)
        await chat.until(f"fetching {site.url}/stall · Ctrl-C stops")  # said after half a second
        press_ctrl_c()
        await chat.until("stopped: nothing was attached")
        await chat.until(lambda: site.left == ["/stall"], what="the connection closed")  # not left to time out
        await chat.say("/attach", then="nothing attached")
        await chat.say("after", then="You said: after")
    assert user_text(server.requests[-1]) == "after"
    assert len(server.requests) == 2

"""One reading of an answer's Markdown: what the terminal draws is what chat serve sends the page (and /copy copies).

Cases where the page's own parser once read differently from the terminal: emphasis that closes before a word goes
on (``*a*b*``), a code block fenced inside a list item, a table, a quote holding an item. The page only builds
elements from the lines serve sends (tests/test_page.py shows them in Chromium).
"""

from __future__ import annotations

import json
from typing import Any

from chatcli.content.markdown import Line, Span, code_blocks, inline, read
from tests.fakeserver import Reply
from tests.test_mdrender import OSC8, shown
from tests.test_serve import here  # noqa: F401 - a fixture

ANSWER = "Stars: *a*b*\n\n1. Run:\n\n    ```sh\n    make all\n    ```\n\n| a | b |\n|---|--:|\n| 1 |\n\n> - quoted"


def test_the_terminal_draws_the_reading_the_page_is_sent():
    lines = read(ANSWER)
    assert lines[0] == Line("text", (Span("Stars: "), Span("a", ("em",)), Span("b*")))
    assert [line.kind for line in lines[1:7]] == ["blank", "item", "blank", "open", "code", "close"]
    assert lines[5].text == "make all" and code_blocks(ANSWER) == ["make all"]  # what /copy 1 copies
    assert lines[8] == Line("table", cells=((Span("a"),), (Span("b"),)), align=("left", "right"))
    assert lines[10] == Line("row", cells=((Span("1"),),))
    assert lines[12] == Line("item", (Span("quoted"),), quote=1, marker="-")
    rows, raw = shown(ANSWER, colour=None)
    assert rows[0] == "Stars: ab*" and " make all" in rows and "▌ • quoted" in rows, rows
    assert "\x1b[3ma\x1b[0mb*" in shown(ANSWER)[1]  # "a" alone in italics


def test_a_bare_address_is_a_link_for_the_page_and_drawn_as_typed_in_the_terminal():
    link = "https://example.com/x"
    assert inline(f"see {link} for more") == [Span("see "), Span(link, link=link), Span(" for more")]
    assert inline(f"Read {link}.") == [Span("Read "), Span(link, link=link), Span(".")]  # the full stop not in it
    assert inline(f"(as {link}), then") == [Span("(as "), Span(link, link=link), Span("), then")]
    assert inline(f"run `curl {link}`") == [Span("run "), Span(f"curl {link}", ("code",))]  # code: never linked
    assert inline("ftp://example.com/x") == [Span("ftp://example.com/x")]  # http(s) only, as the page links
    assert inline(f"{link}␛]0;") == [Span(link, link=link), Span("␛]0;")]  # up to a control's symbol (neutralised)
    assert read_json(f"see {link}")[0]["spans"][1] == [link, [], link]  # what the page makes a link of
    rows, raw = shown(f"Read {link}.", colour=None)
    assert rows == [f"Read {link}."] and raw == f"Read {link}.\n"  # once, unstyled, as before
    rows, raw = shown(f"Read {link}.")
    assert rows == [f"Read {link}."] and OSC8.findall(raw) == [link, ""]  # in colour also clickable
    rows, raw = shown(f"Read this page: {link}.", width=len(f"Read this page: {link}"), colour=None)
    assert rows == ["Read this page:", f"{link}."]  # at a row's end the full stop goes on with it


def read_json(text: str) -> list[dict[str, Any]]:
    """The reading as JSON has it (a span a list)."""
    return json.loads(json.dumps([line.json() for line in read(text)]))


def test_serve_sends_the_reading_of_a_kept_answer_and_of_one_streamed_as_its_lines_complete(server, here):  # noqa: F811
    served = here()
    server.queue(Reply(ANSWER))
    assert served.ask("md", "stars?")[0] == 200
    status, plain = served.request("GET", "/v1/threads/md")
    assert status == 200 and all("read" not in m for m in plain["messages"]), plain  # a script's export, as it was
    status, kept = served.request("GET", "/v1/threads/md?reading=true")
    answer = [m for m in kept["messages"] if m["role"] == "assistant"][-1]
    assert answer["read"] == read_json(ANSWER)
    assert answer["read"][0] == {"kind": "text", "spans": [["Stars: ", [], ""], ["a", ["em"], ""], ["b*", [], ""]]}
    assert [m.get("read") for m in kept["messages"] if m["role"] == "user"] == [None]
    status, tree = served.request("GET", "/v1/threads/md/tree?reading=true")
    assert tree["nodes"][-1]["read"] == read_json(ANSWER)

    server.queue(Reply(ANSWER))
    events = list(served.events("/v1/threads/md/messages?reading=true", {"content": "again"}))
    text = "".join(e["text"] for e in events if e["type"] == "token")
    assert text == ANSWER and [line for e in events for line in e.get("read", [])] == read_json(ANSWER)
    read_by = [e["type"] for e in events if e.get("read")]  # each line as it completes, the last at the end
    assert read_by.count("token") > 3 and read_by[-1] == "done", read_by


HOSTILE_LINES = {  # what a model may write to make a reader of markers backtrack: openers that never close
    "code spans": "".join("`" * i + "a " for i in range(1, 200)),
    "links": "[a](" * 5000,
    "images": "![a](" * 4000,
    "emphasis": "*a " * 7000,
    "strong": "**a " * 5000,
    "underscores": "__a " * 5000,
    "strikes": "~~a " * 5000,
    "autolinks": "<https://a" * 2000,
}


def test_an_answer_of_markers_that_never_close_is_read_in_time_linear_in_its_length():
    """Each line is read in time its length bounds (each marked run at most so long, a line read for markers up to
    so long): a hostile answer cannot hold the terminal, nor chat serve's loop, which reads every answer it sends."""
    import threading

    done: list[str] = []
    reading = threading.Thread(target=lambda: done.extend(k for k, v in HOSTILE_LINES.items() if read(v)), daemon=True)
    reading.start()
    reading.join(60)  # the old reading took minutes on the first line alone (20 KB of backtick runs)
    assert done == list(HOSTILE_LINES), f"still reading {[k for k in HOSTILE_LINES if k not in done][:1]}"
    assert inline("**long** " + "x" * 30_000) == [Span("**long** " + "x" * 30_000)]  # past the bound: as typed

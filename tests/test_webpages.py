"""Web pages as context: `chat -a URL "question"` fetches the page from a local site and sends it as readable
text named by its title and URL (an image URL as an image); a page that cannot be fetched is one line, exit
non-zero, and the model is sent nothing. Each test checks what the model received (the fake server records it).

The same at the prompt (`/attach URL`, Ctrl-C during a slow fetch): tests/test_webpages_prompt.py. Bombs, pages
costly to convert, charsets that are none: tests/test_webpages_bounds.py.
"""

from __future__ import annotations

import base64

import pytest

from chatcli.content import webpage
from tests.fakeserver import Reply
from tests.helpers import chat
from tests.website import PNG, Proxy, Site


@pytest.fixture
def site():
    site = Site()
    yield site
    site.close()


@pytest.fixture
def proxy():
    proxy = Proxy()
    yield proxy
    proxy.close()


def user_content(body: dict) -> object:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def sent_text(server) -> str:
    (part,) = [p for p in user_content(server.requests[0]) if p["type"] == "text"]
    return part["text"]


# --------------------------------------------------------------------------- what is sent


@pytest.mark.parametrize("path", ["/docs/guide/intro", "/moved"])
def test_relative_links_and_images_are_made_absolute_against_the_page(server, chat_env, site, path):
    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", f"{site.url}{path}", "links?").code == 0
    text = sent_text(server)
    base = site.url  # after the redirect, the page's own URL
    for link in (f"[Next]({base}/docs/guide/next)", f"[API]({base}/docs/api)", f"[Home]({base}/home)",
                 "[CDN](http://cdn.example/x)", f"![Fig]({base}/docs/guide/fig.png)", "[mail](mailto:a@b.example)"):  # fmt: skip
        assert link in text, (link, text)


def test_a_pages_base_decides_where_its_links_go(server, chat_env, site):
    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", f"{site.url}/based", "links?").code == 0
    assert "[S](https://docs.example/v2/start)" in sent_text(server)


def test_a_page_goes_as_readable_text_named_by_its_title_and_url(server, chat_env, site):
    server.queue(Reply("Widgets fold now."))
    run = chat(chat_env, "-a", f"{site.url}/page", "summarise")
    assert run.code == 0, run
    assert run.out == "Widgets fold now.\n"
    text = sent_text(server)
    assert text.startswith(f"summarise\n\nWeb page `Release notes for Widget 2.0` ({site.url}/page):\n````\n")
    # Readable Markdown: heading, bold, link, list, fenced code; the inline image by its alt text.
    for kept in ("# Widget 2.0", "Widgets now **fold** in half", "[the folding guide](https://example.org/fold)",
                 "- faster\n- lighter", "```\nwidget.fold(2)\n```", "inline"):  # fmt: skip
        assert kept in text, kept
    # No script, style, noscript or markup reaches the model.
    for gone in ("SCRIPT-SECRET", "trackingSecret", "written by script", "hotpink", "secret-css-rule", "NOSCRIPT-SECRET",
                 "<p>", "<b>", "<html", "data:image", "stylesheet", "(#top)"):  # fmt: skip
        assert gone not in text, gone
    ((path, headers),) = site.requests
    assert path == "/page" and headers["User-Agent"].startswith("chatcli/")


def test_the_page_is_stored_with_the_question_and_named_in_the_record(server, chat_env, site):
    from tests.helpers import stored
    from tests.test_reliability import db_of

    server.queue(Reply("ok"))
    run = chat(chat_env, "-a", f"{site.url}/page", "--thread", "web", "summarise")
    assert run.code == 0, run
    (question, _answer) = stored(db_of(chat_env), "web")
    (record,) = question.additional_kwargs["chatcli_attachments"]
    assert record["name"] == "Release notes for Widget 2.0" and record["url"] == f"{site.url}/page"
    assert record["type"] == "text/markdown" and question.additional_kwargs["chatcli_typed"] == "summarise"


def test_export_and_import_keep_the_page_and_its_url(server, chat_env, site, tmp_path):
    import json

    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", f"{site.url}/page", "-t", "web", "summarise").code == 0
    exported = json.loads(chat(chat_env, "export", "web", "-f", "json").out)
    (item,) = exported["messages"][0]["attachments"]
    assert (item["name"], item["type"], item["url"]) == (
        "Release notes for Widget 2.0",
        "text/markdown",
        f"{site.url}/page",
    )
    assert base64.b64decode(item["data"]).decode().startswith("Top\n\n# Widget 2.0\n")
    (tmp_path / "web.json").write_text(json.dumps(exported))
    new_id = chat(chat_env, "import", str(tmp_path / "web.json")).out.strip()
    server.queue(Reply("again"))
    assert chat(chat_env, "-t", new_id, "and now?").code == 0
    first = server.requests[-1]["messages"][1]["content"][0]["text"]
    assert first == sent_text(server)  # the same question as first sent: its page named the same way


@pytest.mark.parametrize("path", ["/cat.png", "/cat"])
def test_an_image_url_goes_as_an_image(server, chat_env, site, path):
    server.queue(Reply("A cat."))
    run = chat(chat_env, "-a", site.url + path, "what is this?")
    assert run.code == 0, run
    content = user_content(server.requests[0])
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert content[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }


@pytest.mark.parametrize("path, kind, body", [
    ("/notes.txt", "text/plain", "plain <b>notes</b>\nline two\n"),  # text as it is: no markup removed
    ("/data.json", "application/json", '{"answer": 42}'),
])  # fmt: skip
def test_text_that_is_not_html_goes_as_it_is_named_by_its_url(server, chat_env, site, path, kind, body):
    server.queue(Reply("ok"))
    run = chat(chat_env, "-a", site.url + path, "read")
    assert run.code == 0, run
    assert sent_text(server) == f"read\n\nWeb page {site.url}{path}:\n```\n{body}\n```"


def test_the_pages_charset_is_honoured(server, chat_env, site):
    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", f"{site.url}/latin1", "read").code == 0
    assert f"Web page `Café` ({site.url}/latin1):\n```\ncrème\n```" in sent_text(server)


def test_redirects_are_followed_and_the_final_url_named(server, chat_env, site):
    server.queue(Reply("ok"))
    run = chat(chat_env, "-a", f"{site.url}/hop1", "summarise")
    assert run.code == 0, run
    assert f"Web page `Release notes for Widget 2.0` ({site.url}/page):" in sent_text(server)
    assert [path for path, _ in site.requests] == ["/hop1", "/hop2", "/page"]


def test_files_and_pages_go_together_in_the_order_given(server, chat_env, site, tmp_path):
    (tmp_path / "a.txt").write_text("file A\n")
    server.queue(Reply("ok"))
    run = chat(
        chat_env, "-a", f"{site.url}/notes.txt", "-a", str(tmp_path / "a.txt"), "-a", f"{site.url}/cat.png", "both"
    )
    assert run.code == 0, run
    text = sent_text(server)
    assert text.index(f"Web page {site.url}/notes.txt:") < text.index("File `a.txt`:")
    assert len([p for p in user_content(server.requests[0]) if p["type"] == "image_url"]) == 1


# --------------------------------------------------------------------------- what is refused: one line, nothing sent


@pytest.mark.parametrize("path, said, code", [
    ("/missing", "cannot fetch {url}: HTTP 404 Not Found (nothing was sent)", 2),
    ("/loop", "cannot fetch {url}: more than 5 redirects (nothing was sent)", 2),
    ("/to-file", "cannot attach {url}: it redirects to a file: URL, and chat follows http and https only (nothing was sent)", 2),
    ("/doc.pdf", "cannot attach {url}: it is application/pdf: chat attaches web pages, text and PNG, JPEG, GIF or WebP images (nothing was sent)", 2),
    ("/logo.svg", "cannot attach {url}: it is image/svg+xml: chat sends PNG, JPEG, GIF or WebP images (nothing was sent)", 2),
    ("/binary.html", "cannot attach {url}: it holds binary data, though it says text/html: chat attaches web pages, text and PNG, JPEG, GIF or WebP images (nothing was sent)", 2),
    ("/js-only", "cannot attach {url}: the page has no readable text (it may need JavaScript) (nothing was sent)", 2),
])  # fmt: skip
def test_a_page_that_cannot_be_attached_is_one_line_and_nothing_is_sent(server, chat_env, site, path, said, code):
    url = site.url + path
    run = chat(chat_env, "-a", url, "summarise")
    assert (run.code, run.out, run.err_lines) == (code, "", [f"chat: error: {said.format(url=url)}"]), run
    assert server.requests == []
    if path == "/loop":
        assert [p for p, _ in site.requests] == ["/loop"] * 6  # the first request and 5 redirects


def test_nothing_listens_is_one_line(server, chat_env, site):
    url = site.url.rsplit(":", 1)[0] + ":9/page"  # the discard port: nothing there
    run = chat(chat_env, "-a", url, "summarise")
    assert run.code == 2 and len(run.err_lines) == 1, run
    assert run.err_lines[0].startswith(f"chat: error: cannot fetch {url}: cannot connect (")
    assert server.requests == []


def test_a_stalled_server_times_out(server, chat_env, site, monkeypatch):
    monkeypatch.setattr(webpage, "READ_TIMEOUT", 0.5)
    # The site stalls HANG seconds: only the read timeout can end it, as the line says.
    run = chat(chat_env, "-a", f"{site.url}/stall", "summarise")
    assert run.err_lines == [
        f"chat: error: cannot fetch {site.url}/stall: the server sent nothing for 0.5 s (nothing was sent)"
    ]
    assert run.code == 2 and server.requests == []


def test_a_page_that_trickles_in_stops_at_the_whole_fetchs_limit(server, chat_env, site, monkeypatch):
    monkeypatch.setattr(webpage, "TOTAL_TIMEOUT", 1.0)  # each read is quick: only the total stops it
    run = chat(chat_env, "-a", f"{site.url}/trickle", "summarise")
    assert run.err_lines == [
        f"chat: error: cannot fetch {site.url}/trickle: it took longer than 1 s (nothing was sent)"
    ]
    assert server.requests == [] and 0 < site.sent["/trickle"] < 100


def test_a_body_over_the_cap_is_refused_by_its_length_before_it_is_read(server, chat_env, site):
    site.length_over_cap = 30 * 1024 * 1024
    run = chat(chat_env, "-a", f"{site.url}/huge-length", "summarise")
    assert run.err_lines == [
        f"chat: error: cannot attach {site.url}/huge-length: it is 30.0 MB (31,457,280 bytes); an attachment may be at most 20 MB (nothing was sent)"
    ], run
    assert run.code == 2 and server.requests == []


def test_an_endless_body_stops_at_the_cap(server, chat_env, site):
    run = chat(chat_env, "-a", f"{site.url}/endless", "summarise")
    assert run.err_lines == [
        f"chat: error: cannot attach {site.url}/endless: it is larger than 20 MB, the most an attachment may hold (the rest was not read) (nothing was sent)"
    ], run
    assert run.code == 2 and server.requests == []
    assert site.wait_ended("/endless"), "the server still writes: chat did not close the connection"
    assert 20 * 1024 * 1024 < site.sent["/endless"] < 60 * 1024 * 1024  # not 200 MB: it stopped when chat left


def test_a_reason_phrase_with_escapes_is_shown_inert(server, chat_env, site):
    run = chat(chat_env, "-a", f"{site.url}/evil-reason", "summarise")
    assert run.code == 2 and "\x1b" not in run.err and "\x07" not in run.err, run
    assert "HTTP 404 Gone␛]0;pwned␇" in run.err


def test_a_url_of_another_scheme_is_a_file_name(server, chat_env):
    run = chat(chat_env, "-a", "ftp://example.org/x", "summarise")  # never fetched
    assert run.code == 2 and run.err_lines == ["chat: error: cannot attach ftp://example.org/x: no such file"], run


# --------------------------------------------------------------------------- proxies


def test_the_users_proxy_is_used_and_no_proxy_honoured(server, chat_env, site, proxy, monkeypatch):
    # localhost resolves, 127.0.0.1 is excluded (the fake model server is there too).
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1")
    port = site.url.rsplit(":", 1)[1]
    server.queue(Reply("one"), Reply("two"))
    assert chat(chat_env, "-a", f"http://localhost:{port}/page", "via").code == 0
    assert proxy.asked == [f"http://localhost:{port}/page"] and site.requests == []
    assert f"Web page `Via the proxy` (http://localhost:{port}/page):" in sent_text(server)
    assert chat(chat_env, "-a", f"{site.url}/page", "direct").code == 0  # NO_PROXY: straight to the site
    assert len(proxy.asked) == 1 and [p for p, _ in site.requests] == ["/page"]

"""A fetched page cannot exhaust memory or time: the cap holds on the body as it decodes, in every
encoding chat accepts (gzip and deflate, stacked too), and a server's other encodings are refused
unread; converting HTML to text is held to a size, a CPU time and a memory limit in a process of its
own, and deep nesting or a charset that is none is no traceback. Each refusal is one line, exit 2,
and the model is sent nothing.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from chatcli.content import html_text
from tests.fakeserver import Reply
from tests.helpers import HANG, chat, eventually_async
from tests.test_huge_events import measured
from tests.test_webpages import sent_text
from tests.website import BOMBS, Site, heavy_page

CAP_LINE = "cannot attach {url}: it is larger than 20 MB, the most an attachment may hold (the rest was not read) (nothing was sent)"  # fmt: skip


@pytest.fixture
def site():
    site = Site()
    yield site
    site.close()


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/raw-deflate", "/gzip-gzip", "/two-members", "/identity"])
def test_a_page_in_each_encoding_chat_accepts_reads_as_the_plain_one(server, chat_env, site, path):
    server.queue(Reply("ok"), Reply("ok"))
    assert chat(chat_env, "-a", f"{site.url}/page", "plain").code == 0
    plain = sent_text(server).split(":\n", 1)[1]
    server.requests.clear()
    run = chat(chat_env, "-a", site.url + path, "plain")
    assert run.code == 0, run
    assert sent_text(server) == f"plain\n\nWeb page `Release notes for Widget 2.0` ({site.url}{path}):\n" + plain
    assert {headers["Accept-Encoding"] for _, headers in site.requests} == {"gzip, deflate"}


@pytest.mark.parametrize("path, said", [
    ("/br", "it came with Content-Encoding br, which chat did not ask for and does not decode (it asks for gzip or deflate)"),
    ("/compress", "it came with Content-Encoding compress, which chat did not ask for and does not decode (it asks for gzip or deflate)"),
    ("/nine-gzips", "it is encoded 9 times over; chat undoes at most 3"),
    ("/corrupt-gzip", "its gzip encoding is corrupt (Error -3 while decompressing data: invalid block type)"),
])  # fmt: skip
def test_an_encoding_chat_did_not_ask_for_or_cannot_undo_is_one_line(server, chat_env, site, path, said):
    url = site.url + path
    run = chat(chat_env, "-a", url, "summarise")
    assert (run.code, run.out, run.err_lines) == (
        2,
        "",
        [f"chat: error: cannot attach {url}: {said} (nothing was sent)"],
    )
    assert server.requests == []


@pytest.mark.slow  # seven bombs, each decoded to the cap: 5 s of CPU
def test_no_decompression_bomb_decodes_past_the_cap(server, chat_env, site):
    # Against a plain body that runs past the cap (read as it comes, then refused): a bomb may cost no
    # more. Before, 512 MB in gzip in gzip peaked at 1 GB, 2 GB of zstd at 4 GB, 256 MB of gzip at +100 MB.
    # Each runs in this process (how far its peak rose: tests/test_huge_events.measured), after a first run that
    # loaded what a run loads.
    chat(chat_env, "-a", f"{site.url}/endless", "summarise")
    plain, baseline = measured(chat_env, "-a", f"{site.url}/endless", "summarise")
    assert plain.code == 2 and plain.err_lines == [f"chat: error: {CAP_LINE.format(url=site.url + '/endless')}"]
    for path, (coding, _) in BOMBS.items():
        url = site.url + path
        run, rss = measured(chat_env, "-a", url, "summarise")
        if "zstd" in coding:  # never asked for: refused before its body is read
            said = "it came with Content-Encoding zstd, which chat did not ask for and does not decode (it asks for gzip or deflate)"  # fmt: skip
            assert run.err_lines == [f"chat: error: cannot attach {url}: {said} (nothing was sent)"], run
        else:
            assert run.err_lines == [f"chat: error: {CAP_LINE.format(url=url)}"], run
        assert run.code == 2 and run.out == ""
        assert rss < baseline + 32, (path, rss, baseline)
    assert server.requests == []


# --------------------------------------------------------------------------- converting to text


def test_a_page_too_big_to_convert_is_refused_before_it_is_converted(server, chat_env, site, monkeypatch):
    started: list[tuple[Any, ...]] = []  # the processes chat starts: the converter would be one
    start = asyncio.create_subprocess_exec

    async def starting(*args: Any, **kwargs: Any) -> Any:
        started.append(args)
        return await start(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", starting)
    url = f"{site.url}/big-table"
    run = chat(chat_env, "-a", url, "summarise")
    assert run.err_lines == [
        f"chat: error: cannot attach {url}: it is 16.0 MB of HTML, more than chat converts to text (2 MB) (nothing was sent)"
    ], run
    assert run.code == 2 and server.requests == []
    assert not [args for args in started if any("html_text" in str(arg) for arg in args)], "the page was converted"


@pytest.mark.slow  # a page made to take the converter its whole time limit
def test_a_page_that_takes_too_long_to_convert_is_stopped(server, chat_env, site, monkeypatch):
    # 400 KB of "<!--": the standard library's parser is quadratic on it (70 s here).
    monkeypatch.setattr(html_text, "CONVERT_SECONDS", 1)
    monkeypatch.setattr(html_text, "WAIT_SECONDS", HANG)  # the CPU limit alone: the wall-time backstop never comes
    url = f"{site.url}/comments"
    run = chat(chat_env, "-a", url, "summarise")
    # Said only when the kernel stopped the converter at its 1 s of CPU (RLIMIT_CPU), not after its 70 s of work.
    assert run.err_lines == [
        f"chat: error: cannot attach {url}: converting it to text took more than 1 s of CPU time (nothing was sent)"
    ], run
    assert run.code == 2 and server.requests == []


@pytest.mark.e2e  # seconds of work, the converter a process of its own
@pytest.mark.parametrize("megabytes", [90, 100, 120])  # where memory runs out differs: the answer does not
def test_a_page_that_needs_too_much_memory_to_convert_is_one_line(server, chat_env, site, monkeypatch, megabytes):
    monkeypatch.setattr(html_text, "CONVERT_MEMORY", megabytes * 1024 * 1024)  # the page takes some 135 MB
    monkeypatch.setattr(html_text, "WAIT_SECONDS", HANG)  # the memory alone: a busy machine's wall time is none
    url = f"{site.url}/at-the-limit"
    run = chat(chat_env, "-a", url, "summarise")
    assert run.err_lines == [
        f"chat: error: cannot attach {url}: converting it to text needs more than {megabytes} MB of memory (nothing was sent)"
    ], run
    assert run.code == 2 and server.requests == []


@pytest.mark.slow  # a hundred thousand elements converted
def test_elements_nested_a_hundred_thousand_deep_are_converted_as_their_text(server, chat_env, site):
    server.queue(Reply("ok"))
    run = chat(chat_env, "-a", f"{site.url}/nested", "summarise")
    assert run.code == 0, run
    assert sent_text(server) == f"summarise\n\nWeb page `Deep` ({site.url}/nested):\n```\n# Top\n\ndeep text\n```"


@pytest.mark.parametrize("name", ["undefined", "idna", "unicode_escape", "base64", "rot13", "no-such-charset", "utf-7"])
@pytest.mark.parametrize("where", ["charset", "meta-charset"])
def test_a_charset_that_is_none_is_read_as_utf8(server, chat_env, site, where, name):
    server.queue(Reply("ok"))
    url = f"{site.url}/{where}/{name}"
    run = chat(chat_env, "-a", url, "read")
    assert run.code == 0 and [line for line in run.err_lines if not line.startswith("thread: ")] == [], run
    text = sent_text(server)
    if name == "utf-7":  # a real charset, though not the page's: its lone surrogate is replaced
        assert "\ufffd" in text and "Web page `Caf" in text
    else:
        assert text == f"read\n\nWeb page `Café` ({url}):\n```\ncrème +2AA- \\ud800\n```"


@pytest.mark.e2e  # seconds of work, the converter a process of its own
def test_a_page_at_the_size_limit_converts(server, chat_env, site, monkeypatch):
    # A documentation page (headings, links, lists, code, tables) of 1.9 MB: seconds of CPU, its limit's (30 s) to
    # spend however busy the machine (the wall-time backstop never comes).
    monkeypatch.setattr(html_text, "WAIT_SECONDS", HANG)
    assert 1.8 * 1024 * 1024 < len(heavy_page("/at-the-limit")) < html_text.MAX_HTML
    server.queue(Reply("ok"))
    run = chat({**chat_env, "CHATCLI_CONTEXT_TOKENS": "1000000"}, "-a", f"{site.url}/at-the-limit", "summarise")
    assert run.code == 0, run
    assert "## Section 1439" in sent_text(server)


async def test_ctrl_c_during_a_conversion_stops_its_process():
    task = asyncio.create_task(html_text.convert("<!--" * 100_000))  # a minute of work and more
    (worker,) = await until(converters)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not Path(f"/proc/{worker}").exists()


def converters() -> list[int]:
    """This process's children that are converting a page."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"chatcli.content.html_text" in command:
            found.append(int(entry.name))
    return found


async def until(found, timeout: float = 10.0):
    return await eventually_async(found, "the converter's process", timeout)

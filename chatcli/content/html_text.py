"""An HTML page as readable text for a model: Markdown without scripts, styles or markup, and the page's title.

markdownify (over Beautiful Soup with the standard library's parser) does the conversion: headings, lists,
links, tables and fenced code survive, which a model reads better than flattened text. Both are imported
here, and this module only when a page was fetched: they cost nothing at start-up.

The page is someone else's, and both libraries are pure Python with costs that grow faster than the page
(the standard library's parser is quadratic on some malformed markup: 400 KB of ``<!--`` took 70 s): so
the conversion runs in a process of its own (``convert``), stopped after ``CONVERT_SECONDS`` of CPU time
(RLIMIT_CPU: a busy machine does not make a page fail; ``WAIT_SECONDS`` of wall time as a backstop) and
held to ``CONVERT_MEMORY``, on at most ``MAX_HTML`` bytes of HTML; elements nested deeper than
``MAX_DEPTH`` become their plain text (markdownify recurses once per level). Each limit is one line.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from typing import Any

# Elements whose content is never readable text (code, styling, embedded documents, form widgets).
_DROPPED = (
    "script style noscript template svg math canvas iframe object embed head select button input textarea link meta"
    " title"
).split()
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Python's codecs that are no charset a page can be in (they fail, or read escapes as characters).
_NOT_CHARSETS = ("undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape")
_TITLE_CHARS = 200
MB = 1024 * 1024
MAX_HTML = 2 * MB  # bytes of HTML converted to text (measured: see docs/PERFORMANCE.md)
CONVERT_SECONDS = 30  # CPU seconds converting one page may take (whole seconds: RLIMIT_CPU); a page at MAX_HTML
# takes 4-10 s (Beautiful Soup 4.15), so there is room on a slow machine for what the limit lets in
WAIT_SECONDS = 90.0  # and the most chat waits for it
CONVERT_MEMORY = 512 * MB  # the converting process's address space (a page at MAX_HTML: about 135 MB)
MAX_DEPTH = 100  # elements nested deeper are converted as their text


class Unconvertible(Exception):
    """The page cannot be converted to text (within the limits): why, in one line."""


def decode(data: bytes, charset: str | None) -> str:
    """The page's text: the charset of its Content-Type, else of its <meta>, else UTF-8; bad bytes replaced.

    A charset Python does not know, or that is not one (``undefined``, ``unicode_escape``), is passed over.
    """
    import codecs

    from chatcli.text import LONE_SURROGATE

    found = _META_CHARSET.search(data[:4096])
    not_charsets = {codecs.lookup(name).name for name in _NOT_CHARSETS}  # as Python names them: unicode-escape
    for name in (charset, found.group(1).decode("ascii") if found else None, "utf-8"):
        try:
            if not name or codecs.lookup(name).name in not_charsets:
                continue
            text = data.decode(name, errors="replace")
        except (LookupError, UnicodeError, ValueError):  # unknown, or no text encoding (base64, rot13)
            continue
        return LONE_SURROGATE.sub("\ufffd", text)  # UTF-7 can spell one; it could be neither sent nor stored
    return data.decode("utf-8", errors="replace")


def one_line(text: str, width: int = _TITLE_CHARS) -> str:
    """A title from a page (untrusted): one line, terminal controls made visible, at most ``width`` characters."""
    from chatcli.text import neutralise

    line = neutralise(" ".join(text.split()))
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def too_large(size: int) -> Unconvertible | None:
    """The refusal of a page of ``size`` bytes of HTML, or None when it is within MAX_HTML."""
    if size <= MAX_HTML:
        return None
    from chatcli.content.attachments import readable_size

    return Unconvertible(f"it is {readable_size(size)} of HTML, more than chat converts to text ({MAX_HTML // MB} MB)")


async def convert(html: str, url: str = "") -> tuple[str, str]:
    """``page_text(html, url)`` in a process of its own, within the limits; Unconvertible when past one.

    Cancelled (Ctrl-C), it stops that process at once.
    """
    import asyncio
    from pathlib import Path

    import chatcli

    data = html.encode("utf-8")
    if (refused := too_large(len(data))) is not None:
        raise refused
    root = str(Path(chatcli.__file__).resolve().parent.parent)  # this very code, whatever sys.path says
    start = (
        f"import sys; sys.path.insert(0, {root!r}); "
        f"from chatcli.content.html_text import main; main({CONVERT_SECONDS}, {CONVERT_MEMORY})"
    )
    try:
        pipe = asyncio.subprocess.PIPE
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", start, url, stdin=pipe, stdout=pipe, stderr=pipe
        )
    except OSError as exc:
        raise Unconvertible(f"chat cannot start the process that converts it to text ({exc})") from None
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            out, err = await worker.communicate(data)
    except TimeoutError:
        raise Unconvertible(f"converting it to text took longer than {WAIT_SECONDS:g} s") from None
    finally:
        if worker.returncode is None:
            worker.kill()
            await asyncio.shield(worker.wait())
    return _answer(worker.returncode, out, err)


def _answer(code: int | None, out: bytes, err: bytes) -> tuple[str, str]:
    if code in (-signal.SIGXCPU, -signal.SIGKILL, _OUT_OF_TIME):
        raise Unconvertible(f"converting it to text took more than {CONVERT_SECONDS} s of CPU time")
    try:
        answer = json.loads(out)
    except ValueError:
        lines = err.decode("utf-8", "replace").strip().splitlines()  # its last line: the exception
        raise Unconvertible(f"converting it to text failed ({lines[-1][:200] if lines else f'exit {code}'})") from None
    if "refused" in answer:
        raise Unconvertible(answer["refused"])
    return answer["title"], answer["text"]


_OUT_OF_TIME = 124


def main(seconds: int = CONVERT_SECONDS, memory: int = CONVERT_MEMORY) -> None:
    """The converting process: HTML (UTF-8) on stdin, ``{"title", "text"}`` or ``{"refused"}`` on stdout.

    Out of CPU time it exits with _OUT_OF_TIME, or is killed a second later (in a long call into C).
    """
    import os
    import resource

    from chatcli.text import say  # before the memory limit: nothing is imported once it is reached

    signal.signal(signal.SIGXCPU, lambda *_: os._exit(_OUT_OF_TIME))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    too_big = {"refused": f"converting it to text needs more than {memory // MB} MB of memory"}
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (memory, hard))  # the page's parser cannot lift it: the answer can
    answer = too_big
    try:  # (the page read and decoded under the limit too: where memory runs out is chance, the answer is not)
        html = sys.stdin.buffer.read().decode("utf-8", errors="replace")  # no more than MAX_HTML: see convert
        title, text = page_text(html, sys.argv[1] if len(sys.argv) > 1 else "")
        answer = {"title": title, "text": text}
    except Unconvertible as exc:
        answer = {"refused": str(exc)}
    except (MemoryError, SystemError):  # (out of memory inside C code can surface as either)
        pass
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))  # answering must not be where memory runs out
    say(sys.stdout, json.dumps(answer), data=True)  # to chat over a pipe


def page_text(html: str, url: str = "") -> tuple[str, str]:
    """``(title, text)`` of a page: its <title> (or first <h1>) on one line, and its body as Markdown.

    Links and images are made absolute against ``url`` (the page's, after redirects) or its <base>,
    so that a model reading the text, or the user reading the answer, can follow them.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    _absolute(soup, url)
    heading = soup.title or soup.find("h1")
    title = one_line(heading.get_text(" ")) if heading is not None else ""
    for tag in soup(_DROPPED):
        tag.decompose()
    for link in soup.find_all("a", href=True):  # in-page anchors and script links say nothing to a model
        if str(link["href"]).startswith(("#", "javascript:")):
            del link["href"]
    for image in soup.find_all("img", src=True):  # an inline image's data would be pages of base64: its alt text
        if str(image["src"]).startswith("data:"):
            image.replace_with(str(image.get("alt") or ""))
    return title, re.sub(r"\n{3,}", "\n\n", _converter().convert_soup(soup)).strip()


def _absolute(soup: Any, url: str) -> None:
    """Each relative link (href) and image (src) of ``soup`` made absolute against ``url`` or the page's <base>."""
    from urllib.parse import urljoin, urlsplit

    base = soup.find("base", href=True)
    if base is not None and urlsplit(urljoin(url, base["href"])).scheme in ("http", "https"):
        url = urljoin(url, base["href"])
    if not url:
        return
    for tag, attribute in (("a", "href"), ("img", "src")):
        for node in soup.find_all(tag, **{attribute: True}):
            value = str(node[attribute]).strip()
            if value.startswith(("#", "javascript:", "data:")) or urlsplit(value).scheme:
                continue  # an anchor, a script, inline data, or absolute already
            node[attribute] = urljoin(url, value)


def _converter() -> Any:
    from markdownify import ATX, MarkdownConverter

    class Converter(MarkdownConverter):
        depth = 0

        def process_tag(self, node: Any, parent_tags: Any = None) -> str:
            if self.depth >= MAX_DEPTH:  # its text, without recursing further
                text = " ".join(node.get_text(" ").split())
                escaped: str = self.escape(text, parent_tags or set())  # type: ignore[attr-defined]  # markdownify's, untyped
                return " " + escaped + " "
            self.depth += 1
            try:
                done: str = super().process_tag(node, parent_tags)  # type: ignore[misc]  # markdownify's, untyped
                return done
            finally:
                self.depth -= 1

    return Converter(heading_style=ATX, bullets="-", escape_misc=False)

"""An HTML page as readable text for a model: Markdown without scripts, styles or markup, and the page's title.

markdownify (over Beautiful Soup with the standard library's parser) does the conversion: headings, lists,
links, tables and fenced code survive, which a model reads better than flattened text. Both are imported
here, and this module only when a page was fetched: they cost nothing at start-up.
"""

from __future__ import annotations

import re
import threading
from typing import Any

# Elements whose content is never readable text (code, styling, embedded documents, form widgets).
_DROPPED = ("script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object", "embed", "head",
            "select", "button", "input", "textarea", "link", "meta", "title")  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_TITLE_CHARS = 200


class Stopped(Exception):
    """The conversion was given up (Ctrl-C): its thread ends at the next element."""


def decode(data: bytes, charset: str | None) -> str:
    """The page's text: the charset of its Content-Type, else of its <meta>, else UTF-8; bad bytes replaced."""
    found = _META_CHARSET.search(data[:4096])
    for name in (charset, found.group(1).decode("ascii") if found else None, "utf-8"):
        if not name:
            continue
        try:
            return data.decode(name, errors="replace")
        except LookupError:  # a charset Python does not know
            continue
    return data.decode("utf-8", errors="replace")


def one_line(text: str, width: int = _TITLE_CHARS) -> str:
    """A title from a page (untrusted): one line, terminal controls made visible, at most ``width`` characters."""
    from chatcli.text import neutralise

    line = neutralise(" ".join(text.split()))
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def page_text(html: str, stop: threading.Event | None = None) -> tuple[str, str]:
    """``(title, text)`` of a page: its <title> (or first <h1>) on one line, and its body as Markdown.

    ``stop``, once set, makes the conversion raise Stopped at its next element.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    heading = soup.title or soup.find("h1")
    title = one_line(heading.get_text(" ")) if heading is not None else ""
    for tag in soup(_DROPPED):
        tag.decompose()
    for link in soup.find_all("a", href=True):  # in-page anchors and script links say nothing to a model
        if link["href"].startswith(("#", "javascript:")):
            del link["href"]
    for image in soup.find_all("img", src=True):  # an inline image's data would be pages of base64: its alt text
        if image["src"].startswith("data:"):
            image.replace_with(image.get("alt") or "")
    text = _converter(stop).convert_soup(soup)
    return title, re.sub(r"\n{3,}", "\n\n", text).strip()


def _converter(stop: threading.Event | None) -> Any:
    from markdownify import ATX, MarkdownConverter

    class Converter(MarkdownConverter):
        def process_tag(self, node: Any, parent_tags: Any = None) -> str:
            if stop is not None and stop.is_set():
                raise Stopped
            return super().process_tag(node, parent_tags)

    return Converter(heading_style=ATX, bullets="-", escape_misc=False)

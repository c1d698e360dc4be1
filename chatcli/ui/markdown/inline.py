"""Inline Markdown in one line of text: code, emphasis, strike-through, links, images, escapes.

A marker only counts when it is closed on the same line (``**bold**``, ```code```);
otherwise it is shown as typed, so a lone ``*`` or an unfinished line never restyles the
rest of the answer. Underscores only mark emphasis at word edges (``snake_case_name`` stays).
"""

from __future__ import annotations

import re

from chatcli.ui.markdown.style import Span

_INLINE = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?<!`)(?P=ticks)(?!`))"
    r"|\\(?P<escaped>[!-/:-@\[-`{-~])"
    r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]*)(?:\s+\"[^\"]*\")?\)"
    r"|\[(?P<label>[^\]]+)\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|<(?P<auto>(?:https?|mailto):[^>\s]+)>"
    r"|\*\*\*(?=\S)(?P<strong_em>.+?)(?<=\S)\*\*\*"
    r"|\*\*(?=\S)(?P<strong>.+?)(?<=\S)\*\*(?!\*)"
    r"|(?<![\w_])__(?=\S)(?P<strong_u>.+?)(?<=\S)__(?![\w_])"
    r"|\*(?=[^\s*])(?P<em>.+?)(?<=[^\s*])\*(?!\*)"
    r"|(?<![\w_])_(?=[^\s_])(?P<em_u>.+?)(?<=[^\s_])_(?![\w_])"
    r"|~~(?=\S)(?P<strike>.+?)(?<=\S)~~"
)


def inline(text: str, style: tuple[str, ...] = (), link: str = "") -> list[Span]:
    """Split a line of Markdown into styled spans, markers removed."""
    if not any(c in text for c in "`\\![<*_~"):
        return [Span(text, style, link)] if text else []
    spans: list[Span] = []
    start = 0
    for match in _INLINE.finditer(text):
        if match.start() > start:
            spans.append(Span(text[start : match.start()], style, link))
        start = match.end()
        kind = match.lastgroup
        assert kind is not None  # each of the pattern's alternatives is a named group
        if kind == "code":
            body = match.group("code_text")
            if body.startswith(" ") and body.endswith(" ") and body.strip():
                body = body[1:-1]
            spans.append(Span(body, style + ("code",), link))
        elif kind == "escaped":
            spans.append(Span(match.group("escaped"), style, link))
        elif kind == "src":
            alt = match.group("alt") or match.group("src")
            spans.append(Span(f"[image: {alt}]", style + ("link",), match.group("src")))
        elif kind == "url":
            spans += inline(match.group("label"), style + ("link",), match.group("url"))
        elif kind == "auto":
            spans.append(Span(match.group("auto"), style + ("link",), match.group("auto")))
        else:  # the group is named by its styles: strong_em, em_u
            spans += inline(match.group(kind), style + tuple(kind.removesuffix("_u").split("_")), link)
    if start < len(text):
        spans.append(Span(text[start:], style, link))
    return spans


def plain_links(spans: list[Span]) -> list[Span]:
    """Spans with each link target written after its text, for output without hyperlinks."""
    out: list[Span] = []
    for index, span in enumerate(spans):
        out.append(span)
        last = index + 1 == len(spans) or spans[index + 1].link != span.link
        if span.link and last and span.link != span.text:
            out.append(Span(f" ({span.link})", span.style))
    return out

"""Pure text helpers shared by every layer: making model text safe for a terminal, titles, code fences, times."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

# A lone UTF-16 surrogate: what undecodable bytes (or a "\ud800" in JSON) become in a str; such
# text can be neither shown, stored nor sent.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Control characters other than newline and tab, shown as visible symbols instead of being
# obeyed by the terminal: a model must not be able to move the cursor or retitle the window.
_CONTROLS = {c: 0x2400 + c for c in range(32) if chr(c) not in "\n\t"} | {0x7F: 0x2421}
_CONTROLS.update({c: 0xFFFD for c in range(0x80, 0xA0)})
_CONTROLS[ord("\r")] = None  # CRLF line ends: the newline is enough
# Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) can make text read
# backwards on screen ("Trojan Source"): shown as U+FFFD instead.
_CONTROLS.update({c: 0xFFFD for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def neutralise(text: str) -> str:
    """Make terminal control characters in model text visible instead of active."""
    return text.translate(_CONTROLS)


def make_title(text: str, width: int = 60) -> str:
    """A one-line title from a question: its first line, cut at a word near ``width``."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[:width].rsplit(" ", 1)[0] or line[:width]
    return cut.rstrip(",.;:") + "…"


def fenced(text: str, language: str = "") -> str:
    """``text`` in a Markdown code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _moment(when: float | str | None) -> "datetime | None":
    """An aware datetime for epoch seconds or an ISO 8601 string (no offset means UTC); None if neither."""
    from datetime import datetime, timezone

    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return datetime.fromtimestamp(when, timezone.utc)
    if isinstance(when, str):
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def local_time(when: float | str | None) -> str:
    """A time for people: local, to the minute, with its offset from UTC ("2026-11-23 11:40 +01:00")."""
    moment = _moment(when)
    if moment is None:
        return when if isinstance(when, str) else ""
    local = moment.astimezone()
    offset = local.strftime("%z")  # "+0100": written "+01:00", as ISO 8601 and `date -R` readers expect
    return local.strftime("%Y-%m-%d %H:%M ") + offset[:3] + ":" + offset[3:5]


def iso_time(when: float | str | None) -> str | None:
    """A time for programs: ISO 8601 in UTC, to the second ("2026-11-23T10:40:12+00:00")."""
    from datetime import timezone

    moment = _moment(when)
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds")

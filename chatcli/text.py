"""Text helpers shared by every layer: the one writer of chat's output, safe for a terminal; titles, code fences, times.

Standard library only (the launcher and the worker's client use it before anything else is imported).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is

if TYPE_CHECKING:
    from datetime import datetime
    from typing import IO, Any, Iterable

# A lone UTF-16 surrogate: what undecodable bytes (or a "\ud800" in JSON) become in a str; such
# text can be neither shown, stored nor sent.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Control characters other than newline and tab, shown as visible symbols instead of being
# obeyed by the terminal: a model must not be able to move the cursor or retitle the window.
_CONTROLS: dict[int, int | None] = {c: 0x2400 + c for c in range(32) if chr(c) not in "\n\t"}
_CONTROLS[0x7F] = 0x2421
_CONTROLS.update({c: 0xFFFD for c in range(0x80, 0xA0)})
_CONTROLS[ord("\r")] = None  # CRLF line ends: the newline is enough
# Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) can make text read
# backwards on screen ("Trojan Source"): shown as U+FFFD instead.
_CONTROLS.update({c: 0xFFFD for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def neutralise(text: str) -> str:
    """Make terminal control characters in model text visible instead of active."""
    return text.translate(_CONTROLS)


# What chat's own rendering sends a terminal: rich's and the Markdown renderer's colours, the live
# area's cursor moves, links. ``show`` keeps these and neutralises any other control character.
_OWN_OR_CONTROL = re.compile(
    r"(\x1b\[[0-9;:]*m"  # colours and styles (SGR)
    r"|\x1b\[\?25[hl]"  # hide and show the cursor while an answer streams
    r"|\r?\x1b\[(?:1A|2K)"  # the live area: up a row, erase the row
    r"|\x1b\]8;[^\x00-\x1f\x7f-\x9f]*\x1b\\)"  # a link (OSC 8) whose address is printable
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"  # what ``neutralise`` changes
)
# What a JSON text may carry raw that a terminal (or a reader) would take as more than text: DEL,
# the C1 controls (U+009B is CSI), the line separators and the bidirectional overrides. JSON writes
# any character as \uXXXX, so escaping them changes no value.
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *_CONTROLS) if c >= 0x7F}


def own_sequences_only(rendered: str) -> str:
    """``rendered`` (chat's own rendering for a terminal) with every control sequence but chat's own neutralised."""
    return _OWN_OR_CONTROL.sub(lambda m: m.group() if m.group(1) else m.group().translate(_CONTROLS), rendered)


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` with every character a terminal could act on written as \\uXXXX."""
    import json

    return json.dumps(value, **options).translate(_JSON_ESCAPES)


def is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (False for anything that cannot say)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def say(stream: IO[str], text: str, *, data: bool = False) -> None:
    """Write ``text`` to ``stream``: every line chat writes to stdout or stderr passes here (or ``show``).

    Control characters are shown, never obeyed (``neutralise``): a server's error, a file name or
    a title cannot clear the screen, retitle the window or write the clipboard. ``data`` (an
    answer, an export, JSON) reaches a pipe or a file exactly, and a terminal neutralised.
    """
    stream.write(text if data and not is_terminal(stream) else neutralise(text))
    stream.flush()


def say_json(stream: IO[str], value: Any, indent: int | None = 1) -> None:
    """Write ``value`` as a script reads it: JSON (``indent``: None, on one line), then a newline, through ``say``."""
    say(stream, json_text(value, ensure_ascii=False, indent=indent) + "\n", data=True)


def show(stream: IO[str], rendered: str) -> None:
    """Write what chat rendered for a terminal: its own colours, cursor moves and links, nothing else live."""
    stream.write(rendered if isinstance(stream, TerminalFile) else own_sequences_only(rendered))
    stream.flush()


class TerminalFile:
    """A stream for rich's Console: everything the Console writes passes ``own_sequences_only``."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, rendered: str) -> int:
        self.stream.write(own_sequences_only(rendered))
        return len(rendered)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return is_terminal(self.stream)

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless one: "1 message", "2 messages", "0 turns", "3 branches"."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}{'es' if word.endswith(('ch', 'sh', 's', 'x')) else 's'}"


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


def moment_of(when: Any) -> "datetime | None":
    """An aware datetime for epoch seconds or an ISO 8601 string (no offset means UTC); None if neither, or out of
    range."""
    from datetime import datetime, timezone

    try:
        if isinstance(when, (int, float)) and not isinstance(when, bool):
            return datetime.fromtimestamp(when, timezone.utc)
        found = datetime.fromisoformat(when) if isinstance(when, str) else None
    except (ValueError, OverflowError, OSError):
        return None
    return found.replace(tzinfo=timezone.utc) if found and found.tzinfo is None else found


def local_time(when: float | str | None) -> str:
    """A time for people: local, to the minute, with its offset from UTC ("2026-11-23 11:40 +01:00")."""
    moment = moment_of(when)
    if moment is None:
        return when if isinstance(when, str) else ""
    local = moment.astimezone()
    offset = local.strftime("%z")  # "+0100": written "+01:00", as ISO 8601 and `date -R` readers expect
    return local.strftime("%Y-%m-%d %H:%M ") + offset[:3] + ":" + offset[3:5]


def iso_time(when: float | str | None) -> str | None:
    """A time for programs: ISO 8601 in UTC, to the second ("2026-11-23T10:40:12+00:00")."""
    from datetime import timezone

    moment = moment_of(when)
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (values of four characters or more) shown as ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):  # the longest first: a key holding another goes whole
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or the query) shown as ``***``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, colon, _ = userinfo.partition(":")
            netloc = f"{user}{':***' if colon else ''}@{hostport}"
        query = parts.query
        if "password" in query.lower():
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)

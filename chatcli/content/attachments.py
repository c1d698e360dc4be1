"""Files and images sent with a question: read and checked before anything is sent, stored once with it.

An image (PNG, JPEG, GIF, WebP, told by its first bytes) goes to the model as an image part
(a data URL) for vision models; a text file as a block naming the file, its content fenced.
A URL (http or https) is fetched first (chatcli.content.webpage): a page goes as its readable text, in a
block naming its title and URL, an image as an image.
The question keeps what the user typed, and a list of what was attached (name, type, size),
apart from what is sent: transcripts show one line per attachment.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcli.errors import UsageError
from chatcli.text import fenced

# The most one attachment may hold (OpenAI takes images up to 20 MB).
MAX_BYTES = 20 * 1024 * 1024
# The files one question may carry, and their bytes together, whatever door they came by (-a, /attach, @mentions,
# a request's attachments, an editor's blocks): the service's rule (chatcli.service.chat.Chat.find, before anything the
# door asks is applied; chatcli.service.thread.Thread.send, with the queue and the mentions).
MAX_FILES, MAX_FILES_BYTES = 16, 40 * 1024 * 1024
# Where a question keeps what the user typed and what was attached, in additional_kwargs.
TYPED_KEY = "chatcli_typed"
ATTACHMENTS_KEY = "chatcli_attachments"
IMAGES = "PNG, JPEG, GIF or WebP"
IN_TURNS = "nothing was sent: send them in turns"  # the hint of too many files, or too many bytes, for one question


def image_type(data: bytes) -> str | None:
    """The image's MIME type, told by its first bytes; None if it is not an image chat sends."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def readable_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class Attachment:
    """A file to send with a question: its name, its type and its bytes."""

    name: str
    mime: str
    data: bytes
    url: str = ""  # where a web page or an image came from (after redirects); its name is the page's title

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    @property
    def line(self) -> str:
        """ "shot.png (image/png, 120 KB)"; a page: "Its title · https://… (text/markdown, 12 KB)"."""
        named = f"{self.name} · {self.url}" if self.url and self.name != self.url else self.name
        return f"{named} ({self.mime}, {readable_size(len(self.data))})"

    @property
    def header(self) -> str:
        """The line before a text attachment's fenced content in the question."""
        if not self.url:
            return f"File `{self.name}`:"
        return f"Web page `{self.name}` ({self.url}):" if self.name != self.url else f"Web page {self.url}:"

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.mime, "size": len(self.data)} | ({"url": self.url} if self.url else {})


def _sizes(size: int, most: int) -> tuple[str, str]:
    """``size`` and the limit ``most`` it is over, as said: in bytes when, rounded, it would read as within it."""
    shown, limit = readable_size(size), f"{most // (1024 * 1024)} MB"
    if shown == readable_size(most):  # just over the limit: "20.0 MB" would read as within it
        shown, limit = f"{size:,} bytes", f"{limit} ({most:,} bytes)"
    return shown, limit


def _too_big(name: str, size: int) -> UsageError:
    shown, limit = _sizes(size, MAX_BYTES)
    return UsageError(f"{name} is {shown}; an attachment may be at most {limit}", hint="nothing was sent")


def check_count(count: int) -> None:
    """``count`` files within what one question may carry: a door that is handed many checks it before it reads
    or decodes them, as the question's files are checked whole (``check_files``)."""
    if count > MAX_FILES:
        raise UsageError(f"{count} files: at most {MAX_FILES} go with one question", hint=IN_TURNS)


def check_files(files: Sequence[Attachment]) -> None:
    """One question's files within what one question may carry; else one line, and nothing is sent."""
    check_count(len(files))
    if (size := sum(len(file.data) for file in files)) > MAX_FILES_BYTES:
        shown, limit = _sizes(size, MAX_FILES_BYTES)
        raise UsageError(f"the files hold {shown} together: at most {limit} go with one question", hint=IN_TURNS)


def from_bytes(name: str, data: bytes) -> Attachment:
    """An attachment of ``data``: an image, or UTF-8 text; anything else is refused."""
    if len(data) > MAX_BYTES:
        raise _too_big(name, len(data))
    if (mime := image_type(data)) is not None:
        return Attachment(name, mime, data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is neither text (UTF-8) nor a {IMAGES} image", hint="nothing was sent") from None
    return Attachment(name, "text/plain", data)


def read_attachment(path: str) -> Attachment:
    """The file at ``path`` as an attachment, or a UsageError (exit 2) saying why not; nothing is sent."""
    from chatcli.tools.builtin import NotRegularFile, open_regular

    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise UsageError(f"{path} is a directory: attach files one by one")
        if file.stat().st_size > MAX_BYTES:  # refused before it is read
            raise _too_big(file.name, file.stat().st_size)
        # A FIFO or a device is refused before it is read (one would block, /dev/zero never ends);
        # one byte over the limit tells a file that grew since its size was checked.
        data, size = open_regular(file, MAX_BYTES + 1)
        if size > MAX_BYTES:
            raise _too_big(file.name, size)
    except NotRegularFile as exc:
        raise UsageError(
            f"cannot attach {path}: it is {exc.kind}, not a regular file", hint="nothing was sent"
        ) from None
    except FileNotFoundError:
        raise UsageError(f"cannot attach {path}: no such file") from None
    except PermissionError:
        raise UsageError(f"cannot attach {path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"cannot attach {path}: {exc.strerror}") from None
    return from_bytes(file.name, data)


def is_url(text: str) -> bool:
    """Whether ``-a``/``/attach`` was given a web address (fetched) rather than a file."""
    return text[:8].lower().startswith(("http://", "https://"))


def question_message(text: str, attachments: list[Attachment] | tuple[Attachment, ...] = (), **kwargs: Any) -> Any:
    """The HumanMessage for ``text`` with ``attachments``: text files in the text, images as parts."""
    from langchain_core.messages import HumanMessage

    if not attachments:
        return HumanMessage(text, **kwargs)
    blocks = [text] if text.strip() else []
    blocks += [f"{item.header}\n{fenced(item.data.decode('utf-8'))}" for item in attachments if not item.is_image]
    parts: list[Any] = [{"type": "text", "text": "\n\n".join(blocks)}] if blocks else []
    for item in attachments:
        if item.is_image:
            url = f"data:{item.mime};base64,{base64.b64encode(item.data).decode('ascii')}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    extra = {TYPED_KEY: text, ATTACHMENTS_KEY: [item.record() for item in attachments]}
    return HumanMessage(parts, additional_kwargs=extra, **kwargs)


def attachments_of(message: Any) -> list[Attachment]:
    """The attachments a stored question carries, rebuilt from what it holds (for export)."""
    records = (getattr(message, "additional_kwargs", None) or {}).get(ATTACHMENTS_KEY) or []
    content = message.content if isinstance(message.content, list) else []
    images = [p["image_url"]["url"] for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    found = []
    for record in records:
        if record.get("type", "").startswith("image/") and images:
            data = base64.b64decode(images.pop(0).partition(",")[2])
        else:
            data = _text_file(message, Attachment(record.get("name", ""), "text/plain", b"", record.get("url", "")))
        found.append(Attachment(record.get("name", ""), record.get("type", "text/plain"), data, record.get("url", "")))
    return found


def _text_file(message: Any, item: Attachment) -> bytes:
    """A text file's (or page's) content, as its fenced block in the question holds it."""
    import re

    text = str(message.text)
    match = re.search(rf"{re.escape(item.header)}\n(`{{3,}})\n(.*?)\n\1(?:\n|$)", text, re.S)
    return match.group(2).encode("utf-8") if match else b""

"""What an MCP server offers, as plain data: its tools (with their schemas), prompts and resources.

A ``Listing`` comes from a server's answers, page by page (``Gathering``, bounded as a whole as
they arrive), or from the cache of them (``from_json``, chatcli.tools.mcp.cache). Either way it
is the server's own text: read strictly (a field of the wrong type drops the whole listing, never
half of it), and shown only through chat's neutralising writer, as anything a server says.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

# Limits on what a listing may hold (a server's answer or a cache file): past them it is refused.
MAX_ITEMS = 1000
MAX_TEXT = 64 * 1024  # characters of one name, description or URI
MAX_SCHEMA = 256 * 1024  # characters of one tool's input schema, as JSON
# Bounds on a whole listing, counted as a server's pages arrive (its tools, prompts and resources together, every
# page): the first passed refuses the listing, in one line naming the server, before another page is asked for. As
# chat's model lists are bounded (chatcli.providers.base: 10,000 names, 60 s), whatever each page holds.
MAX_BYTES = 8 * 1024 * 1024  # bytes of everything listed, as JSON (the cache keeps up to 16 MB: it fits)
MAX_PAGES = 1000  # pages of one list
LIST_SECONDS = 60.0  # one deadline for the whole listing (each page still waits at most the server's start time)


@dataclass(frozen=True)
class ToolInfo:
    """One tool: its name, description, JSON schema of its arguments and annotations (hints)."""

    name: str
    description: str
    schema: dict[str, Any]
    annotations: dict[str, Any] | None = None
    tasks: str | None = None  # its ``execution.taskSupport``: "required", "optional" (None: forbidden, or unsaid)
    view: str | None = None  # the ``ui://`` resource its MCP App shows its calls in (chatcli.tools.mcp.apps)
    for_model: bool = True  # False: only its App calls it (MCP Apps' visibility ["app"])
    for_app: bool = True  # False: its App may not call it (visibility ["model"])
    refused: str = ""  # why its schema cannot be offered (``unfit``): it is left out, said in one line

    @property
    def offered(self) -> bool:
        """False for a tool that runs only as an MCP task, which chat does not run (yet), or only for its App, or
        whose schema cannot be offered."""
        return self.tasks != "required" and self.for_model and not self.refused


PREFIX = "/mcp__"  # an MCP prompt's slash command: /mcp__SERVER__PROMPT (Claude Code's)


@dataclass(frozen=True)
class PromptEntry:
    """A server's prompt: ``/mcp__SERVER__NAME`` with its arguments (name, required, description)."""

    server: str
    name: str
    description: str
    arguments: tuple[tuple[str, bool, str], ...]

    @property
    def command(self) -> str:
        return f"{PREFIX}{self.server}__{self.name}"

    @property
    def synopsis(self) -> str:
        return " ".join(name if required else f"[{name}]" for name, required, _ in self.arguments)


@dataclass(frozen=True)
class ResourceEntry:
    """A server's resource, mentioned as ``@SERVER:URI``."""

    server: str
    uri: str
    name: str
    mime: str | None
    description: str

    @property
    def mention(self) -> str:
        return f"@{self.server}:{self.uri}"


class Malformed(ValueError):
    """A listing that does not have the shape of one."""


def _text(value: Any, empty: bool = True) -> str:
    if value is None and empty:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or (not value and not empty):
        raise Malformed("a text field")
    return value


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise Malformed("a list")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed("an object")
    return value


def _tasks(execution: Any) -> str | None:
    """A tool's ``execution.taskSupport`` (MCP 2025-11-25's tasks): "required" or "optional"; None otherwise."""
    support = _object(execution).get("taskSupport") if execution is not None else None
    return support if support in ("required", "optional") else None


def _ui(meta: Any) -> tuple[str | None, bool, bool]:
    """A tool's MCP App (``_meta.ui``, or the older ``_meta["ui/resourceUri"]``): the ``ui://`` view its calls are
    shown in, and who may call it (its ``visibility``: the model, its App, both when unsaid). Read leniently: a
    malformed ``ui`` is none (the tool is still a tool)."""
    ui = meta.get("ui") if isinstance(meta, dict) else None
    ui = ui if isinstance(ui, dict) else {}
    uri = ui.get("resourceUri") or (meta.get("ui/resourceUri") if isinstance(meta, dict) else None)
    view = uri if isinstance(uri, str) and uri.startswith("ui://") and len(uri) <= 2048 else None
    seen = ui.get("visibility")
    seen = [v for v in seen if v in ("model", "app")] if isinstance(seen, list) else []
    return view, not seen or "model" in seen, not seen or "app" in seen


# An HTTP header's name (RFC 9110's token), as SEP-2243 has an ``x-mcp-header`` be; the keywords whose values are data.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
DATA = ("const", "default", "enum", "examples")


def unfit(schema: dict[str, Any], modern: bool) -> str:
    """Why a tool with this input schema cannot be offered ("" when it can): a ``$ref`` that leads off the server
    (SEP-2106: chat never fetches one) or nowhere in the schema; of a server of 2026-07-28 or later, an
    ``x-mcp-header`` that SEP-2243 has a client refuse (no HTTP token, not on a string, integer or boolean parameter
    reached by ``properties`` alone, or twice)."""
    headers: set[str] = set()

    def walk(node: Any, at: str) -> str:  # at: "root", "param" (by properties alone), "" (anywhere else)
        items = node if isinstance(node, list) else [node]
        for item in items:
            if not isinstance(item, dict):
                continue
            ref, header = item.get("$ref"), item.get("x-mcp-header")
            if isinstance(ref, str) and not _points(schema, ref):
                where = "off the server" if not ref.startswith("#") else "nowhere in it"
                return f"its schema's $ref leads {where} ({ref[:200]}), which chat does not follow"
            if modern and header is not None:
                named = isinstance(header, str) and TOKEN.fullmatch(header) and header.lower() not in headers
                if not (named and at == "param" and item.get("type") in ("string", "integer", "boolean")):
                    return f"its x-mcp-header {str(header)[:100]!r} is not one a client may send (SEP-2243)"
                headers.add(header.lower())
            for key, value in item.items():
                if key == "properties" and isinstance(value, dict):
                    why = next((w for v in value.values() if (w := walk(v, "param" if at else ""))), "")
                else:
                    why = "" if key in DATA else walk(value, "")
                if why:
                    return why
        return ""

    try:
        return walk(schema, "root")
    except RecursionError:
        return "its schema is nested too deeply to read"


def _points(schema: Any, ref: str) -> bool:
    """True when ``ref`` is a JSON pointer (``#/$defs/point``) to a part of ``schema``."""
    from urllib.parse import unquote

    if ref != "#" and not ref.startswith("#/"):
        return False
    for part in ref[2:].split("/") if ref != "#" else ():
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(schema, list) and part.isdigit() and int(part) < len(schema):
            schema = schema[int(part)]
        elif isinstance(schema, dict) and part in schema:
            schema = schema[part]
        else:
            return False
    return True


def _words(text: str) -> str:
    return " ".join(text.split())


# An MCP revision is named by its date.
REVISION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MODERN = "2026-07-28"  # the first revision without sessions (servers are discovered, not initialised)
MAX_LIFETIME_MS = 24 * 60 * 60 * 1000  # a longer ttlMs is a day (as mcp's own cache caps it)


@dataclass(frozen=True)
class Listing:
    """Everything a server offers. Prompts and resources carry the server's name (they are addressed by it)."""

    tools: tuple[ToolInfo, ...] = ()
    prompts: tuple[PromptEntry, ...] = ()
    resources: tuple[ResourceEntry, ...] = ()
    revision: str = ""  # the MCP revision the server speaks ("2025-11-25"), when it was listed
    # How long the server said the lists stay fresh, in seconds (2026-07-28's ttlMs: the shortest of its lists',
    # at most a day); None: it said nothing (an earlier revision), and the listing holds until its configuration or
    # program changes. Not part of what it offers: a new lifetime is not "other tools".
    lifetime: float | None = field(default=None, compare=False)

    # What it was read from (the fields of the MCP protocol, by its names): the form the cache keeps and the MCP
    # host sends, which reads back as this listing.
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, server: str, data: Any) -> Listing:
        """A listing read strictly from its JSON form; ``Malformed`` if any part is not what it should be."""
        data = _object(data)
        revision = data.get("protocolVersion")
        known = revision if isinstance(revision, str) and REVISION.fullmatch(revision) else ""
        tools = []
        for item in _items(data.get("tools")):
            item = _object(item)
            schema = _object(item.get("inputSchema"))
            text = json.dumps(schema)
            if len(text) > MAX_SCHEMA:
                raise Malformed("a tool's schema is too large")
            hints, name, about = item.get("annotations"), _text(item.get("name"), False), _text(item.get("description"))
            unfitting = unfit(schema, known >= MODERN) if "$ref" in text or "x-mcp-header" in text else ""
            hinted, tasks = _object(hints) if hints is not None else None, _tasks(item.get("execution"))
            tools.append(ToolInfo(name, about, schema, hinted, tasks, *_ui(item.get("_meta")), unfitting))
        prompts = []
        for item in _items(data.get("prompts")):
            item = _object(item)
            arguments = []
            for argument in _items(item.get("arguments")):
                argument = _object(argument)
                required = argument.get("required")
                if not isinstance(required, (bool, type(None))):
                    raise Malformed("an argument's required")
                about = _words(_text(argument.get("description")))
                arguments.append((_text(argument.get("name"), False), bool(required), about))
            name = _text(item.get("name"), False)
            prompts.append(PromptEntry(server, name, _words(_text(item.get("description"))), tuple(arguments)))
        resources = []
        for item in _items(data.get("resources")):
            item = _object(item)
            uri = _text(item.get("uri"), False)
            mime, name = item.get("mimeType"), _text(item.get("name")) or uri
            kind, about = _text(mime) if mime is not None else None, _words(_text(item.get("description")))
            resources.append(ResourceEntry(server, uri, name, kind, about))
        _items(data.get("skills"))  # (the skills extension's entries, as sent: chatcli.tools.skills reads them)
        ttl = data.get("ttlMs")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
            raise Malformed("the lists' lifetime")
        lifetime = min(ttl, MAX_LIFETIME_MS) / 1000 if ttl is not None else None
        return cls(tuple(tools), tuple(prompts), tuple(resources), known, lifetime, data)

    def fresh(self, listed_at: float, now: float | None = None) -> bool:
        """True while the listing, taken at ``listed_at`` (epoch seconds), is as fresh as its server said it stays
        (always, for a server that said nothing)."""
        return self.lifetime is None or (time.time() if now is None else now) < listed_at + self.lifetime

    def tool(self, name: str) -> ToolInfo | None:
        return next((t for t in self.tools if t.name == name), None)

    def summary(self) -> str:
        """ "5 tools, 2 prompts" (what is offered, for a line)."""
        from chatcli.text import counted

        more = ((self.prompts, "prompt"), (self.resources, "resource"))
        return ", ".join([counted(len(self.tools), "tool"), *(counted(len(i), what) for i, what in more if i)])


class Refused(Exception):
    """A listing past one of the bounds of a whole listing; ``detail``: why, in a few words, and that the listing is
    refused (the line naming the server says it, as chatcli.tools.mcp.transport.describe does every ``detail``)."""

    def __init__(self, why: str):
        self.detail = f"{why}: the listing is refused"
        super().__init__(self.detail)


LISTS = ("tools", "prompts", "resources", "skills")


class Gathering:
    """A listing as a server's pages arrive: each page's items kept as JSON and counted against the bounds of the
    whole listing (``MAX_ITEMS`` of each list, ``MAX_BYTES`` of them all, ``MAX_PAGES`` of each list), each item
    read by the rules of ``Listing`` as it comes. ``seconds``: the one deadline of the whole listing, which the
    lister keeps (``late`` is its refusal)."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {what: [] for what in LISTS}
        self.pages = dict.fromkeys(LISTS, 0)
        self.size = 0  # bytes gathered, as JSON (cursors too: a server's, sent back each page)
        self.ttls: list[int] = []
        self.at = ""  # the page being gathered ("page 3 of its tools"), for a refusal
        self.seconds = LIST_SECONDS

    def asking(self, what: str) -> None:
        """The next page of the list ``what`` is asked for; ``Refused`` (and it is not asked) past ``MAX_PAGES``."""
        self.pages[what] += 1
        self.at = f"page {self.pages[what]:,} of its {what}"
        if self.pages[what] > MAX_PAGES:
            raise Refused(f"its {what} come in more than {MAX_PAGES:,} pages")

    def add(self, what: str, page: Any, ttl: int | None = None) -> str | None:
        """The page of the list ``what`` last asked for (an mcp.types list result) and the lifetime it gave (ms):
        its items kept, the cursor of the next page returned (None: the list is whole); ``Refused`` once a bound is
        passed, at the item that passes it."""
        cursor = getattr(page, "next_cursor", None)
        if cursor is not None and not isinstance(cursor, str):
            raise Refused(f"its {what} are not as MCP lists them (a cursor)")
        self._count(cursor or "")
        kept = self.lists[what]
        for item in getattr(page, what, None) or []:
            if len(kept) >= MAX_ITEMS:
                raise Refused(f"it lists more than {MAX_ITEMS:,} {what}")
            dump = getattr(item, "model_dump_json", None)  # (a skill's entry is plain JSON: chatcli.tools.skills)
            text = dump(by_alias=True, exclude_none=True) if dump is not None else json.dumps(item)
            self._count(text)
            data = json.loads(text)
            try:
                Listing.from_json("", {what: [data]})  # (as a server sends it: by the rules of the whole)
            except Malformed as exc:
                raise Refused(f"its {what} are not as MCP lists them ({exc})") from None
            kept.append(data)
        if ttl is not None:
            self.ttls.append(ttl)
        return cursor or None

    def _count(self, text: str) -> None:
        self.size += len(text.encode())
        if self.size > MAX_BYTES:
            raise Refused(f"its lists pass {MAX_BYTES // (1024 * 1024)} MB ({self.at})")

    def drop(self, what: str) -> None:
        """Forget what the list ``what`` gave so far (it could not be listed whole: none of it is offered)."""
        self.lists[what] = []

    def late(self) -> Refused:
        return Refused(f"it took more than {self.seconds:g} s to list what it offers ({self.at})")

    def listing(self, server: str, revision: Any = "") -> Listing:
        """What was gathered, as a ``Listing`` of ``server``'s (the revision it agreed to speak; the shortest
        lifetime any page gave)."""
        ttl = min(self.ttls) if self.ttls else None
        return Listing.from_json(server, {**self.lists, "protocolVersion": revision, "ttlMs": ttl})

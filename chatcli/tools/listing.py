"""What an MCP server offers, as plain data: its tools (with their schemas), prompts and resources.

A ``Listing`` comes from a server's answers (``from_mcp``) or from the cache of them
(``from_json``, chatcli.tools.mcp.cache). Either way it is the server's own text: read
strictly (a field of the wrong type drops the whole listing, never half of it), and shown only
through chat's neutralising writer, as anything a server says.
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


@dataclass(frozen=True)
class ToolInfo:
    """One tool: its name, description, JSON schema of its arguments and annotations (hints)."""

    name: str
    description: str
    schema: dict[str, Any]
    annotations: dict[str, Any] | None = None


@dataclass(frozen=True)
class PromptEntry:
    """A server's prompt: ``/mcp__SERVER__NAME`` with its arguments (name, required, description)."""

    server: str
    name: str
    description: str
    arguments: tuple[tuple[str, bool, str], ...]

    @property
    def command(self) -> str:
        return f"/mcp__{self.server}__{self.name}"

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


def _words(text: str) -> str:
    return " ".join(text.split())


# An MCP revision is named by its date.
REVISION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
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

    def as_json(self) -> dict[str, Any]:
        """The form the cache keeps (the fields of the MCP protocol, by its names)."""
        return {
            **({"protocolVersion": self.revision} if self.revision else {}),
            **({"ttlMs": round(self.lifetime * 1000)} if self.lifetime is not None else {}),
            "tools": [
                {"name": t.name, "description": t.description, "inputSchema": t.schema, "annotations": t.annotations}
                for t in self.tools
            ],
            "prompts": [
                {
                    "name": p.name,
                    "description": p.description,
                    "arguments": [{"name": n, "required": r, "description": d} for n, r, d in p.arguments],
                }
                for p in self.prompts
            ],
            "resources": [
                {"uri": r.uri, "name": r.name, "mimeType": r.mime, "description": r.description} for r in self.resources
            ],
        }

    @classmethod
    def from_json(cls, server: str, data: Any) -> Listing:
        """A listing read strictly from its JSON form; ``Malformed`` if any part is not what it should be."""
        data = _object(data)
        tools = []
        for item in _items(data.get("tools")):
            item = _object(item)
            schema = _object(item.get("inputSchema"))
            if len(json.dumps(schema)) > MAX_SCHEMA:
                raise Malformed("a tool's schema is too large")
            hints = item.get("annotations")
            tools.append(
                ToolInfo(
                    _text(item.get("name"), False),
                    _text(item.get("description")),
                    schema,
                    _object(hints) if hints is not None else None,
                )
            )
        prompts = []
        for item in _items(data.get("prompts")):
            item = _object(item)
            arguments = []
            for argument in _items(item.get("arguments")):
                argument = _object(argument)
                required = argument.get("required")
                if not isinstance(required, (bool, type(None))):
                    raise Malformed("an argument's required")
                arguments.append(
                    (_text(argument.get("name"), False), bool(required), _words(_text(argument.get("description"))))
                )
            name = _text(item.get("name"), False)
            prompts.append(PromptEntry(server, name, _words(_text(item.get("description"))), tuple(arguments)))
        resources = []
        for item in _items(data.get("resources")):
            item = _object(item)
            uri = _text(item.get("uri"), False)
            mime = item.get("mimeType")
            resources.append(
                ResourceEntry(
                    server,
                    uri,
                    _text(item.get("name")) or uri,
                    _text(mime) if mime is not None else None,
                    _words(_text(item.get("description"))),
                )
            )
        revision = data.get("protocolVersion")
        known = revision if isinstance(revision, str) and REVISION.fullmatch(revision) else ""
        ttl = data.get("ttlMs")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
            raise Malformed("the lists' lifetime")
        lifetime = min(ttl, MAX_LIFETIME_MS) / 1000 if ttl is not None else None
        return cls(tuple(tools), tuple(prompts), tuple(resources), known, lifetime)

    @classmethod
    def from_mcp(
        cls,
        server: str,
        tools: list[Any],
        prompts: list[Any],
        resources: list[Any],
        revision: Any = "",
        ttl_ms: int | None = None,
    ) -> Listing:
        """A listing from the server's answers (mcp.types objects), the revision it agreed to speak and the lifetime
        it gave its lists (ms), read by the same rules as the cache."""

        def dumped(items: list[Any]) -> list[Any]:
            return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]

        answers = {"tools": dumped(tools), "prompts": dumped(prompts), "resources": dumped(resources)}
        return cls.from_json(server, {**answers, "protocolVersion": revision, "ttlMs": ttl_ms})

    def fresh(self, listed_at: float, now: float | None = None) -> bool:
        """True while the listing, taken at ``listed_at`` (epoch seconds), is as fresh as its server said it stays
        (always, for a server that said nothing)."""
        if self.lifetime is None:
            return True
        return (time.time() if now is None else now) < listed_at + self.lifetime

    def tool(self, name: str) -> ToolInfo | None:
        return next((t for t in self.tools if t.name == name), None)

    def summary(self) -> str:
        """ "5 tools, 2 prompts" (what is offered, for a line)."""
        from chatcli.text import counted

        parts = [counted(len(self.tools), "tool")]
        parts += [
            counted(len(items), what)
            for items, what in ((self.prompts, "prompt"), (self.resources, "resource"))
            if items
        ]
        return ", ".join(parts)

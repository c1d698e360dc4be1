"""What MCP servers offer besides tools: prompts (slash commands ``/mcp__SERVER__PROMPT``) and
resources (mentioned in a question as ``@SERVER:URI``), in the conventions of Claude Code."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any, Awaitable, Protocol

from chatcli.text import counted, neutralise
from chatcli.tools.listing import PromptEntry, ResourceEntry
from chatcli.tools.mcp.server import McpServer, Unavailable

# A resource mention: @SERVER:URI, the URI running to the next white space (a final . , ; ) ! ? is not part of it).
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_-]+):(\S+?)(?=[.,;:!?)\]]*(?:\s|$))")
# Seconds a prompt or a resource may take to arrive.
TIMEOUT = 30.0


class HasServers(Protocol):
    """Where prompts and resources come from: a toolbox's MCP servers (chatcli.tools.toolbox.Toolbox)."""

    servers: list[McpServer]


class ContextError(Exception):
    """A prompt or a resource that cannot be had, in one line (the caller says it as a usage error)."""


def _servers(toolbox: HasServers | None) -> list[McpServer]:
    return toolbox.servers if toolbox is not None else []


def _known(toolbox: HasServers | None) -> list[McpServer]:
    return [server for server in _servers(toolbox) if server.offers]


def prompts(toolbox: HasServers | None) -> list[PromptEntry]:
    """Every prompt of the servers whose listing is known (started or not)."""
    return [prompt for server in _known(toolbox) for prompt in server.prompts]


def resources(toolbox: HasServers | None) -> list[ResourceEntry]:
    """Every resource of the servers whose listing is known (started or not)."""
    return [resource for server in _known(toolbox) for resource in server.resources]


def _slot(entry: PromptEntry, word: str, given: dict[str, str]) -> tuple[str | None, str]:
    """Which argument ``word`` fills (``name=value``, or the first not ``given``; None past the last) and with what."""
    names = [name for name, _, _ in entry.arguments]
    name, sep, value = word.partition("=")
    return (name, value) if sep and name in names else (next((n for n in names if n not in given), None), word)


def _filled(entry: PromptEntry, words: list[str]) -> dict[str, str]:
    """The arguments ``words`` give, in order or as ``name=value``; ContextError for a word past the last."""
    given: dict[str, str] = {}
    for word in words:
        slot, value = _slot(entry, word, given)
        if slot is None:
            many = counted(len(entry.arguments), "argument")
            raise ContextError(f"{entry.command} takes {many}: {entry.synopsis or '(none)'}")
        given[slot] = value
    return given


def prompt_arguments(entry: PromptEntry, words: list[str]) -> dict[str, str]:
    """The prompt's arguments from ``words``: in order, or ``name=value``; a missing required one is refused."""
    given = _filled(entry, words)
    if missing := [name for name, required, _ in entry.arguments if required and name not in given]:
        raise ContextError(f"{entry.command} needs {', '.join(missing)}: {entry.command} {entry.synopsis}")
    return given


async def prompt_text(toolbox: HasServers | None, entry: PromptEntry, arguments: dict[str, str]) -> str:
    """The prompt's messages as one question: a single user message as it is, several each under its role."""
    server = _server(toolbox, entry.server)
    result = await _asked(server, server.get_prompt(entry.name, arguments), f"the prompt {entry.name}")
    parts = [(m.role, getattr(m.content, "text", None)) for m in result.messages]
    texts = [(role, text) for role, text in parts if isinstance(text, str)]
    if not texts:
        raise ContextError(f"the prompt {entry.command} has no text to send")
    return texts[0][1] if len(texts) == 1 else "\n\n".join(f"{role}: {text}" for role, text in texts)


# Seconds Tab waits for a server's completions of a prompt's argument (then offers none), and the most it offers.
COMPLETE_WAIT = 3.0
MAX_COMPLETIONS = 100


def argument_at(entry: PromptEntry, words: list[str]) -> tuple[str, str, dict[str, str]] | None:
    """Which argument the last of ``words`` (typed after ``/mcp__SERVER__PROMPT``) fills, what of it is typed, and the
    arguments given before it (in order, or ``name=value``, as ``prompt_arguments`` reads them); None past the last."""
    try:
        given = _filled(entry, words[:-1])
    except ContextError:
        return None
    slot, value = _slot(entry, words[-1] if words else "", given)
    return (slot, value, given) if slot is not None else None


async def complete_argument(
    toolbox: HasServers | None, entry: PromptEntry, argument: str, value: str, given: dict[str, str]
) -> list[str]:
    """What the server offers for the prompt's ``argument`` as typed so far (``value``), the others ``given``
    (MCP's completion/complete): at most MAX_COMPLETIONS, one line each, its escapes made visible; none when the
    server has none, fails, is stopped, or takes longer than COMPLETE_WAIT once started (the prompt never waits on
    it: prompt-toolkit shows what comes when it comes)."""
    try:
        server = _server(toolbox, entry.server)
        waited = COMPLETE_WAIT + server.start_timeout  # the first Tab may start it (the prompt goes on meanwhile)
        result = await asyncio.wait_for(server.complete(entry.name, argument, value, given), waited)
        values = list(result.completion.values)[:MAX_COMPLETIONS]
    except Exception:  # noqa: BLE001 - Tab offers nothing: the prompt itself says what is wrong when it is sent
        return []
    return [neutralise(" ".join(str(v).split())) for v in values if isinstance(v, str) and v.strip()]


async def read_resource(toolbox: HasServers | None, server_name: str, uri: str) -> list[tuple[str, bytes]]:
    """The contents of ``uri`` on ``server_name``: (name, bytes) for each part, text as UTF-8."""
    server = _server(toolbox, server_name)
    result = await _asked(server, server.read_resource(uri), f"@{server_name}:{uri}")
    found = []
    for part in result.contents:
        name = f"{server_name}:{part.uri}"
        if getattr(part, "text", None) is not None:
            found.append((name, part.text.encode("utf-8")))
        elif getattr(part, "blob", None) is not None:
            found.append((name, base64.b64decode(part.blob)))
    if not found:
        raise ContextError(f"@{server_name}:{uri} is empty")
    return found


async def prompt_question(toolbox: HasServers | None, line: str) -> str:
    """The question the MCP prompt command ``line`` (``/mcp__SERVER__NAME ARGS``) gives: its arguments taken in order
    or as ``name=value`` (shell quoting), its text fetched from its server; a UsageError (nothing sent) otherwise."""
    import shlex

    from chatcli.errors import UsageError

    name, _, rest = line.strip().partition(" ")
    if (entry := next((p for p in prompts(toolbox) if p.command == name), None)) is None:
        known = ", ".join(p.command for p in prompts(toolbox)) or "none"
        raise UsageError(f"unknown command {name[:60]}", hint=f"the MCP prompts: {known}")
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"{entry.command}: {exc}") from None
    try:
        return await prompt_text(toolbox, entry, prompt_arguments(entry, words))
    except ContextError as exc:
        raise UsageError(str(exc), hint="nothing was sent") from None


def known_servers(toolbox: HasServers | None) -> set[str]:
    return {server.name for server in _servers(toolbox)}


def _server(toolbox: HasServers | None, name: str) -> McpServer:
    if (server := next((s for s in _servers(toolbox) if s.name == name), None)) is None:
        raise ContextError(f"no MCP server named {name}")
    return server


async def _asked(server: McpServer, work: Awaitable[Any], what: str) -> Any:
    """``server``'s answer to ``work`` (``what`` it gives), within TIMEOUT once started; else one line why."""
    try:
        return await asyncio.wait_for(work, TIMEOUT + server.start_timeout)
    except Unavailable as exc:
        raise ContextError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a server's failure is one line
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ContextError(f"MCP server {server.name} could not give {what}: {why}") from None

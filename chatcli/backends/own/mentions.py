"""Resources of MCP servers mentioned in a question (``summarise @notes:notes://today``): read and sent with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.tools.toolbox import Toolbox

# How long a question waits for MCP servers still starting before their resources are read.
SERVER_WAIT = 30.0


async def mentioned(text: str, toolbox: "Toolbox | None", attached: list[Any] | None = None) -> list[Any]:
    """The attachments (chatcli.content.attachments) of the resources ``text`` mentions as ``@SERVER:URI``.

    A mention of a name that is no configured server (an e-mail address, a handle) stays text; a
    resource that cannot be read is a usage error, and nothing is sent. Text goes as named text,
    images as images, within the attachment limits: with the files ``attached`` already, as many as one question
    may carry (counted before any is read, their bytes after each read).
    """
    if toolbox is None or "@" not in text:
        return []
    from chatcli.tools.context import MENTION, ContextError, known_servers, read_resource

    servers = known_servers(toolbox)
    wanted = [(m.group(1), m.group(2)) for m in MENTION.finditer(text) if m.group(1) in servers]
    if not wanted:
        return []
    from chatcli.content.attachments import check_count, check_files, from_bytes

    given = list(attached or [])
    unique = list(dict.fromkeys(wanted))
    check_count(len(given) + len(unique))
    await toolbox.settle(SERVER_WAIT)
    found: list[Any] = []
    for server, uri in unique:
        try:
            parts = await read_resource(toolbox, server, uri)
        except ContextError as exc:
            raise UsageError(str(exc), hint="nothing was sent") from None
        found += [from_bytes(name, data) for name, data in parts]
        check_files(given + found)
    return found

"""The tool that lets the model read a resource of an MCP server (MCP's ``resources/read``), so that a resource its
tools' results link (or embed by URI) can be followed, as the user reads one with an ``@SERVER:URI`` mention.

One such tool per server, named ``read_resource`` in the server's namespace as its own tools are named
(chatcli.tools.toolbox.offered_names: ``read_resource`` alone, ``notes_read_resource`` beside another server's),
labelled ``notes:read_resource``: asked, approved (``approve = ["notes:*"]``, ``"notes:read_resource"``, ``--yes``)
and listed by ``chat tools`` as the server's tools are. Which servers have it is known without starting one: a
server's capabilities are not kept between runs, only its listing (chatcli.tools.mcp.cache), so it is offered for
the servers whose listing holds resources (a server lists them only when it declares the resources capability); a
server that lists none, or whose own tool is named ``read_resource`` (never shadowed), has none.

A call reads the resource through the server's connection, chat's own or the MCP host's (as a mention does): its
text contents are the result, each binary one a line naming its URI, type and size (not sent as text); what the
server refuses (a URI it does not know) is an error result of one line, which the model reads. The result is bounded
as every tool result is (``tool_result_chars``).
"""

from __future__ import annotations

from typing import Any

from chatcli.tools.results import Outcome, resource_block, result_media, result_text

NAME = "read_resource"
LISTED = 10  # the server's resources named in the tool's description (the first, each cut to URI_CHARS)
URI_CHARS = 200


def offers_reader(server: Any) -> bool:
    """True when ``server`` (a chatcli.tools.mcp.server.McpServer) is offered a ``read_resource`` tool: it lists
    resources, and no tool of its own has that name (offered or not)."""
    return bool(server.resources) and (server.listing is None or server.listing.tool(NAME) is None)


def make_reader(server: Any) -> Any:
    """``server``'s reader as a LangChain tool (its name, its description: what it does and the first resources the
    server lists, and its schema; a call goes through ``read``)."""
    from chatcli.tools.mcp.server import stand_in

    uris = [" ".join(r.uri.split())[:URI_CHARS] for r in server.resources[:LISTED]]
    more = len(server.resources) - len(uris)
    listed = ", ".join(uris) + (f" and {more} more" if more > 0 else "")
    described = (
        f"Read a resource of the MCP server {server.name} by its URI, as its tools' results link it "
        f"(a resource link or an embedded resource) or as it lists it ({listed}). "
        "Gives the resource's text; a binary content is named by its type and size."
    )
    uri = {"type": "string", "description": "The resource's URI, as the server gave it."}
    schema = {"type": "object", "properties": {"uri": uri}, "required": ["uri"]}
    return stand_in(NAME, described, schema, {"readOnlyHint": True})


async def read(server: Any, arguments: dict[str, Any]) -> Outcome:
    """Read the resource ``arguments["uri"]`` of ``server`` (started first if need be): its contents as a call's
    outcome (binary ones as its parts, chatcli.tools.results), or an error line. A server that cannot be had raises
    ``Unavailable``, as a call of its tools does."""
    from chatcli.tools.mcp.calls import Unavailable

    uri = arguments.get("uri") if isinstance(arguments, dict) else None
    if not isinstance(uri, str) or not uri.strip():
        return Outcome(f'error: {NAME} takes the URI of a resource of {server.name}: {{"uri": "..."}}', "error")
    try:
        result = await server.read_resource(uri)
    except Unavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - what the server refuses is a result the model reads
        why = " ".join(str(exc).split())[:500] or type(exc).__name__
        shown = " ".join(uri.split())[:URI_CHARS]
        return Outcome(f"error: MCP server {server.name} could not read {shown}: {why}", "error")
    blocks = contents_blocks(uri, list(getattr(result, "contents", None) or []))
    return Outcome(result_text(blocks), "ok", media=result_media(blocks))


def contents_blocks(uri: str, contents: list[Any]) -> list[dict[str, Any]]:
    """The contents of a ``resources/read`` answer as blocks: a text content as it is (under a line naming its URI
    when there are several, or it is not the one asked for), a binary one as its data, named by its URI, type and
    size (chatcli.tools.results.resource_block)."""
    if not contents:
        return [{"type": "text", "text": f"(the resource {uri} has no contents)"}]
    blocks = []
    for part in contents:
        where = str(getattr(part, "uri", None) or uri)
        block = resource_block(part, "binary resource")
        if block["type"] == "text" and not (len(contents) == 1 and where == uri):
            mime = getattr(part, "mime_type", None) or getattr(part, "mimeType", None)
            block = {"type": "text", "text": f"[resource <{where}>{' ' + mime if mime else ''}]\n{block['text']}"}
        blocks.append(block)
    return blocks

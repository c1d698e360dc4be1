"""The model reads a resource of an MCP server (its ``resources/read``) through chat's ``read_resource`` tool, one in
each namespace of a server that lists resources, asked and approved as that server's tools are: the one-shot's
servers at every door that reaches them (cold, through the MCP host, in the warm worker). The server is
tests/mcp/notes.py (FastMCP: a text resource, an image one)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from chatcli.tools.listing import Listing
from chatcli.tools.mcp.config import ServerSpec
from chatcli.tools.toolbox import Toolbox
from tests import mcp_servers
from tests.fakeserver import Calls, Reply
from tests.helpers import chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_kept import HOST_DOORS
from tests.test_tools import write_config

NOTES = Path(__file__).resolve().parent / "mcp" / "notes.py"
TODAY = "Buy milk. Call Ada about the \x1b]0;PWNED\x07 release."  # (notes.py's, as it sends it)


def results(body: dict) -> list[str]:
    return [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]


@HOST_DOORS
def test_the_model_reads_a_resource_by_its_uri_and_an_unknown_one_is_an_error_it_reads(server, door):
    write_servers(door.env, {"notes": mcp_servers.stdio(NOTES)})
    write_config(door.env, 'approve = ["notes:*"]\n')  # no --yes: the server's pattern approves it
    server.queue(
        Calls([("read_resource", {"uri": "notes://today"}, "c1")]),
        Calls([("read_resource", {"uri": "notes://nowhere"}, "c2"), ("read_resource", {"uri": "notes://logo"}, "c3")]),
        Reply("Milk, and Ada."),
    )
    run = door.chat("what do my notes say?")
    assert run.code == 0, run
    assert "Milk, and Ada." in run.out
    offered = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    reader = offered["read_resource"]
    assert reader["parameters"]["properties"] == {
        "uri": {"type": "string", "description": "The resource's URI, as the server gave it."}
    }
    assert "MCP server notes" in reader["description"] and "notes://today" in reader["description"]
    assert results(server.requests[1]) == [TODAY]
    unknown, logo = results(server.requests[2])[1:]
    assert unknown.startswith("error: MCP server notes could not read notes://nowhere: ") and "\n" not in unknown
    assert "Traceback" not in unknown and "Traceback" not in run.err
    assert logo.startswith("[binary resource <notes://logo> image/png, 70 bytes, kept as ~/"), logo
    kept = Path(door.env["XDG_DATA_HOME"]) / "chatcli" / "files"
    assert [p.suffix for p in kept.glob("*/*")] == [".png"], "the image is kept for the user"
    last = json.dumps(server.requests[2]["messages"][-1])
    assert "image_url" in last and "data:image/png;base64," in last, "and goes to the model as an image"


@pytest.mark.usefixtures("in_memory")  # the server made in this process, to list it
def test_chat_tools_lists_it_with_the_servers_tools(chat_env):
    write_servers(chat_env, {"notes": mcp_servers.stdio(NOTES)})
    run = chat(chat_env, "tools", "--json")
    assert run.code == 0, run
    (notes,) = json.loads(run.out)
    assert [t["name"] for t in notes["tools"]] == ["read_resource"]
    assert notes["tools"][0]["description"].startswith("Read a resource of the MCP server notes by its URI")
    assert "read_resource" in chat(chat_env, "tools").out


# --------------------------------------------------------------------------- which servers have it, under which name


def _toolbox(listings: dict[str, dict[str, Any]], approve: tuple[str, ...] = ()) -> Toolbox:
    """A toolbox of servers known by these listings (as from the cache): none is started."""
    toolbox = Toolbox(servers=[ServerSpec(name, command="true") for name in listings], approve=approve)
    for server in toolbox.servers:
        server.adopt(Listing.from_json(server.name, listings[server.name]), time.time())
    return toolbox


def _tool(name: str) -> dict[str, Any]:
    return {"name": name, "description": "", "inputSchema": {"type": "object", "properties": {}}}


def _resource(uri: str) -> dict[str, Any]:
    return {"uri": uri, "name": uri}


def test_one_per_server_that_lists_resources_named_as_its_tools_are():
    toolbox = _toolbox(
        {
            "notes": {"tools": [_tool("search")], "resources": [_resource("notes://today")]},
            "wiki": {"tools": [_tool("search")], "resources": [_resource("wiki://home")]},
            "bare": {"tools": [_tool("add")]},  # lists no resources: none
            "own": {"tools": [_tool("read_resource")], "resources": [_resource("own://x")]},  # its own is kept
        }
    )
    named = [(e.name, e.label, e.reads) for e in toolbox.entries()]
    assert named == [
        ("notes_search", "notes:search", False),
        ("wiki_search", "wiki:search", False),
        ("add", "bare:add", False),
        ("own_read_resource", "own:read_resource", False),
        ("notes_read_resource", "notes:read_resource", True),
        ("wiki_read_resource", "wiki:read_resource", True),
    ]
    alone = _toolbox({"notes": {"resources": [_resource("notes://today")]}}).entries()
    assert [(e.name, e.label, e.reads) for e in alone] == [("read_resource", "notes:read_resource", True)]


@pytest.mark.parametrize(
    ("approve", "approved"),
    [
        (("notes:*",), True),
        (("notes:read_resource",), True),
        (("*:read_resource",), True),
        (("wiki:*",), False),
        ((), False),
    ],
)
def test_it_is_approved_by_the_servers_rules(approve, approved):
    toolbox = _toolbox({"notes": {"resources": [_resource("notes://today")]}}, approve)
    (reader,) = toolbox.entries()
    assert toolbox.preapproved(reader, {"uri": "notes://today"}) is approved
    toolbox.approve_all = True  # --yes
    assert toolbox.preapproved(reader, {"uri": "notes://today"})


async def test_a_call_without_a_uri_is_an_error_the_model_reads():
    toolbox = _toolbox({"notes": {"resources": [_resource("notes://today")]}})
    (reader,) = toolbox.entries()
    toolbox.servers[0].state = "ready"  # (never reached: the arguments are refused first)
    toolbox.servers[0].session = object()
    done = await toolbox.call(reader, {"path": "notes://today"})
    assert (done.status, done.text) == (
        "error",
        'error: read_resource takes the URI of a resource of notes: {"uri": "..."}',
    )

"""A server kept running is stopped when idle and started again when used: the idle stop and a call that comes as it
happens, on tests/mcp/bars.py made in this process (tests/mcp_servers.in_memory: each start of it a fresh run of its
module, written down in ``BARS_STARTS``). Through the MCP host and chat serve: tests/test_mcp_kept.py."""

from __future__ import annotations

import asyncio

import pytest

from chatcli.tools.mcp.config import parse_servers
from chatcli.tools.mcp.server import IDLE, READY, McpServer
from chatcli.tools.toolbox import Toolbox
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp_lazy import bars, started

pytestmark = pytest.mark.usefixtures("in_memory")


async def test_a_call_that_starts_a_server_again_while_its_idle_stop_ends_gets_the_new_server(tmp_path):
    """A call that comes as an idle server is being stopped starts it again; the stop, ending after that start, leaves
    the new run alone (it had made it "idle" again: the call failed with "MCP server bars is idle", seen in chat serve
    on a loaded machine)."""
    (spec,) = parse_servers({"mcpServers": {"bars": bars(tmp_path / "starts")}}, "test")
    server = McpServer(spec, tmp_path)
    try:
        await server.ensure()
        run = server._task
        assert run is not None
        stopping = asyncio.create_task(server.halt())  # the idle stop
        await asyncio.wait({run})  # its run has ended; the stop itself ends a moment later
        assert server.state == IDLE and not stopping.done()
        session = await server.ensure()  # a call came meanwhile: the server starts again
        await stopping
        assert server.state == READY and server.session is session, server.state
        assert started(tmp_path / "starts") == 2
    finally:
        await server.halt(final=True)


async def test_a_call_that_comes_as_an_idle_stop_begins_waits_for_it_and_gets_a_new_server(tmp_path):
    """A call that comes once the idle stop has begun, its session still there but closing, is not sent on it (it
    failed, "error: ... closed", seen in chat serve on a loaded machine): it waits for the stop, then starts it again."""
    (spec,) = parse_servers({"mcpServers": {"bars": bars(tmp_path / "starts")}}, "test")
    server = McpServer(spec, tmp_path)
    try:
        closing = await server.ensure()
        stopping = asyncio.create_task(server.halt())  # the idle stop
        while not server._halting:  # begun: the run told to end, its session not yet gone
            await asyncio.sleep(0)
        assert server.state == READY and server.session is closing
        session = await server.ensure()
        await stopping
        assert session is not closing and server.state == READY and server.session is session
        assert started(tmp_path / "starts") == 2
    finally:
        await server.halt(final=True)


async def test_a_server_started_for_a_call_is_not_stopped_as_idle_before_the_call_runs(tmp_path):
    """The idle stop looks for a ready server with no call running, unused for a while; one started again for a call
    was unused for that while (that is why it had stopped): the call waiting for it counts from the moment it asks."""
    (spec,) = parse_servers({"mcpServers": {"bars": bars(tmp_path / "starts")}}, "test")
    toolbox = Toolbox(servers=[spec], log_dir=tmp_path)
    (server,) = toolbox.servers
    try:
        calling = asyncio.create_task(server.call_tool("add", {"a": 40, "b": 2}))
        # Waited for here first, so this test hears of it first: the moment the server is ready, before the call has
        # its session, the idle stop comes (nothing has used the server for 0 s).
        await server.ensure()
        assert server.calls == 1  # the call waiting for it
        await toolbox.stop_idle(0)
        assert server.state == READY
        assert (await calling).content[0].text == "42"
        assert started(tmp_path / "starts") == 1
    finally:
        await toolbox.aclose()

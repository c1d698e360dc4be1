"""Small edges that used to mislead: a missing or mistyped MCP ``cwd``, one broken role file, a stop
during a tool call, an attachment just over the limit."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually_async
from tests.test_commands import chat as conversation
from tests.test_mcp import BARS, write_servers


@pytest.mark.e2e
def test_an_mcp_server_whose_directory_is_missing_says_so(server, chat_env, tmp_path):
    missing = tmp_path / "no-such-dir"
    write_servers(chat_env, {"bars": mcp_servers.stdio(BARS, cwd=str(missing))})
    server.queue(Reply("Still here."))
    run = chat(chat_env, "hello")
    assert run.code == 0, run
    lines = [line for line in run.err.splitlines() if "bars" in line]
    assert len(lines) == 1 and f"its directory does not exist: {missing}" in lines[0], run
    assert "command not found" not in run.err


def test_an_mcp_cwd_that_is_not_a_string_is_a_config_error(chat_env):
    write_servers(chat_env, {"bars": {"command": "python", "cwd": 5}})
    run = chat(chat_env, "hello")
    assert run.code == 3, run
    assert run.err.strip().endswith("mcpServers.bars.cwd must be a directory (a string)"), run


@pytest.fixture
def roles(chat_env: dict[str, str]) -> Path:
    directory = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "roles"
    directory.mkdir(parents=True)
    (directory / "pirate.md").write_text("You talk like a pirate.\n")
    (directory / "broken.toml").write_text("system = \n")
    return directory


def test_one_broken_role_file_is_a_warning_in_the_listing_and_breaks_no_other_role(server, chat_env, roles):
    run = chat(chat_env, "roles")
    assert run.code == 0, run
    assert run.out.startswith("pirate") and "broken" not in run.out, run
    (warning,) = run.err.splitlines()
    assert warning.startswith(f"skipped {roles / 'broken.toml'}: not valid TOML"), run

    run = chat(chat_env, "--role", "poet", "hello")  # an unknown role: named as such, not the broken file's error
    assert run.code == 2, run
    assert "no role 'poet'" in run.err and "(known: broken, pirate)" in run.err and "TOML" not in run.err, run

    server.queue(Reply("Arr."))
    assert chat(chat_env, "--role", "pirate", "hello").code == 0
    assert server.requests[0]["messages"][0]["content"] == "You talk like a pirate."
    assert chat(chat_env, "--role", "broken", "hello").code == 3  # the role asked for is the one that fails


async def test_a_stop_during_a_tool_call_says_the_call_was_cancelled(settings, server, tmp_path):
    started = tmp_path / "started"
    server.queue(tool_calls(("shell", {"command": f"touch {started}; sleep 30"})))
    settings = dataclasses.replace(settings, tools=("shell",), approve_all=True)
    async with conversation(settings, "stop") as c:
        turn = asyncio.create_task(c.ask("wait a while"))
        await eventually_async(started.exists, "the command to start")
        turn.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn
        said = c.err.getvalue().splitlines()
    assert (
        said[-1]
        == "stopped: the tool call shell (built-in) was cancelled (the thread keeps it as cancelled, with everything before it)"
    ), said
    assert "partial answer" not in "\n".join(said)


@pytest.mark.parametrize(
    "size, said",
    [
        (20 * 1024 * 1024 + 1, "is 20,971,521 bytes; an attachment may be at most 20 MB (20,971,520 bytes)"),
        (int(25.3 * 1024 * 1024), "is 25.3 MB; an attachment may be at most 20 MB"),
    ],
    ids=["just-over", "well-over"],
)
def test_an_attachment_over_the_limit_says_its_size_and_the_limit_plainly(server, chat_env, tmp_path, size, said):
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(size)
    run = chat(chat_env, "-a", str(big), "look")
    assert run.code == 2, run
    assert f"big.txt {said}" in run.err, run
    assert server.requests == []

"""MCP servers cost nothing until they are used: their lists are cached, they start when a tool is called.

Each test uses the FastMCP test server tests/mcp/bars.py, which adds a line (its pid) to the file
``BARS_STARTS`` names each time it starts: that file is how a test knows whether a server ran. Made in this process (``in_memory``: each start of it a fresh
run of its module, written down alike), unless the test is about a command or a file of its own.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import BARS, write_servers
from tests.test_sandbox import needs_bwrap

e2e = pytest.mark.e2e  # starts MCP server processes


def bars(starts: Path, **extra: object) -> dict:
    env = {"BARS_STARTS": str(starts), **extra.pop("env", {})}  # type: ignore[dict-item]
    return mcp_servers.stdio(BARS, env=env, **extra)


def started(starts: Path) -> int:
    return len(starts.read_text().splitlines()) if starts.exists() else 0


def offered(body: dict) -> list[str]:
    return sorted(t["function"]["name"] for t in body.get("tools") or [])


def cache_files(chat_env: dict[str, str]) -> list[Path]:
    return sorted((Path(chat_env["HOME"]) / ".cache" / "chatcli" / "mcp").glob("*.json"))


def results(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


@pytest.mark.usefixtures("in_memory")
def test_a_plain_question_starts_no_server_once_their_lists_are_cached(server, chat_env, tmp_path):
    marks = {name: tmp_path / f"{name}.starts" for name in ("one", "two", "three")}
    write_servers(chat_env, {name: bars(mark) for name, mark in marks.items()})
    server.queue(Reply("first"), Reply("second"), Reply("third"))
    assert chat(chat_env, "hi").code == 0  # nothing cached yet: each is started and listed, as before
    assert [started(mark) for mark in marks.values()] == [1, 1, 1]
    for _ in range(2):
        run = chat(chat_env, "hi again")
        assert run.code == 0, run
    assert [started(mark) for mark in marks.values()] == [1, 1, 1]  # no server ran for a plain question
    first, second, third = (offered(body) for body in server.requests)
    assert first == second == third and len(first) == 3 * 8  # the cached tools are offered, renamed apart alike
    assert [line for line in run.err.splitlines() if not line.startswith("thread:")] == [], run


@pytest.mark.usefixtures("in_memory")
def test_the_cache_is_private_and_keeps_no_value_of_the_environment(server, chat_env, tmp_path):
    marks = tmp_path / "starts"
    write_servers(chat_env, {"bars": bars(marks, env={"BARS_WORD": "s3cret-token-value"})})
    server.queue(Reply("ok"))
    assert chat(chat_env, "hi").code == 0
    (kept,) = cache_files(chat_env)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.parent.parent.stat().st_mode) == 0o700
    assert "s3cret-token-value" not in kept.read_text() and "BARS_WORD" not in kept.read_text()
    assert "secret_word" in {t["name"] for t in json.loads(kept.read_text())["listing"]["tools"]}


def _changed(case: str, tmp_path: Path, marks: Path) -> tuple[dict, dict]:
    """mcp.json's entry for the server before and after a change of ``case``."""
    if case == "file":
        script = tmp_path / "bars_copy.py"
        shutil.copy(BARS, script)
        from tests.mcp.legacy import OVERLAY

        (tmp_path / "legacy.py").write_text(f"import sys\nsys.path.insert(0, {str(OVERLAY)!r})\n")  # on mcp 1.x too
        entry = {**bars(marks), "args": [str(script)]}
        return entry, entry  # the same configuration: the script itself changes (see below)
    before = bars(marks)
    if case == "env value":
        return bars(marks, env={"BARS_WORD": "a"}), bars(marks, env={"BARS_WORD": "b"})
    if case == "env name":
        return before, bars(marks, env={"BARS_OTHER": "x"})
    if case == "args":
        return before, {**before, "args": [str(BARS), "--quiet"]}
    if case == "cwd":
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        return {**before, "cwd": str(tmp_path / "a")}, {**before, "cwd": str(tmp_path / "b")}
    if case == "command":
        wrapper = tmp_path / "run-bars"
        wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {BARS}\n")
        wrapper.chmod(0o755)
        return before, {**before, "command": str(wrapper), "args": []}
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    ["env value", "env name", "args", "cwd", pytest.param("command", marks=e2e), pytest.param("file", marks=e2e)],
)
def test_a_changed_configuration_or_server_file_is_listed_again(server, chat_env, tmp_path, case, request):
    if case not in ("command", "file"):  # (a command or a script of its own: a process)
        request.getfixturevalue("in_memory")
    marks = tmp_path / "starts"
    before, after = _changed(case, tmp_path, marks)
    write_servers(chat_env, {"bars": before})
    server.queue(Reply("1"), Reply("2"), Reply("3"), Reply("4"))
    assert chat(chat_env, "hi").code == 0 and chat(chat_env, "hi").code == 0
    assert started(marks) == 1  # listed once, then known from the cache
    if case == "file":
        script = Path(after["args"][0])
        script.write_text(script.read_text().replace('"""Add two whole numbers."""', '"""Add two integers."""'))
    write_servers(chat_env, {"bars": after})
    assert chat(chat_env, "hi").code == 0
    assert started(marks) == 2  # the cache did not fit any more: started and listed again
    assert chat(chat_env, "hi").code == 0
    assert started(marks) == 2  # and cached again
    if case == "file":
        adds = [t for t in server.requests[-1]["tools"] if t["function"]["name"] == "add"]
        assert adds[0]["function"]["description"] == "Add two integers."


@pytest.mark.usefixtures("in_memory")
def test_a_server_whose_tools_changed_is_told_when_it_starts_and_the_next_request_offers_them(
    server, chat_env, tmp_path
):
    marks, flag = tmp_path / "starts", tmp_path / "extra-on"
    write_servers(chat_env, {"bars": bars(marks, env={"BARS_EXTRA": str(flag)})})
    server.queue(Reply("listed"))
    assert chat(chat_env, "hi").code == 0
    flag.write_text("")  # the server offers one more tool from now on; its configuration is the same
    server.queue(tool_calls(("add", {"a": 2, "b": 40})), Reply("42 it is"), Reply("plain"))
    run = chat(chat_env, "--yes", "add them")
    assert run.code == 0, run
    assert "extra" not in offered(server.requests[1])  # what the cache said, when the model asked
    assert results(server.requests[2]) == ["42"]
    assert "extra" in offered(server.requests[2])  # the next request has the new list
    said = [line for line in run.err.splitlines() if "offers other tools" in line]
    assert len(said) == 1 and said[0].startswith("MCP server bars offers other tools than when it was last listed")
    assert chat(chat_env, "hi").code == 0
    assert "extra" in offered(server.requests[3]) and started(marks) == 2  # cached: known without a start


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "tools not a list", "schema not an object", "another key", "a link", "too large"],
)
@pytest.mark.usefixtures("in_memory")
def test_a_damaged_cache_file_is_as_good_as_none(server, chat_env, tmp_path, damage):
    marks = tmp_path / "starts"
    write_servers(chat_env, {"bars": bars(marks)})
    server.queue(Reply("1"), Reply("2"), Reply("3"))
    assert chat(chat_env, "hi").code == 0
    (kept,) = cache_files(chat_env)
    data = json.loads(kept.read_text())
    if damage == "garbage":
        kept.write_bytes(b"\xff\xfe not json \x1b]0;PWNED\x07")
    elif damage == "truncated":
        kept.write_text(kept.read_text()[:100])
    elif damage == "tools not a list":
        kept.write_text(json.dumps({**data, "listing": {"tools": {"add": {}}}}))
    elif damage == "schema not an object":
        data["listing"]["tools"][0]["inputSchema"] = "rm -rf /"
        kept.write_text(json.dumps(data))
    elif damage == "another key":
        kept.write_text(json.dumps({**data, "key": "0" * 64}))
    elif damage == "a link":
        elsewhere = tmp_path / "planted.json"
        elsewhere.write_text(kept.read_text())
        kept.unlink()
        kept.symlink_to(elsewhere)
    elif damage == "too large":
        kept.write_text(kept.read_text()[:-1] + " " * (17 * 1024 * 1024) + "}")
    run = chat(chat_env, "hi")
    assert run.code == 0 and run.out == "2\n", run
    assert [line for line in run.err.splitlines() if not line.startswith("thread:")] == [], run
    assert started(marks) == 2  # listed again
    assert offered(server.requests[1]) == offered(server.requests[0])
    assert chat(chat_env, "hi").code == 0 and started(marks) == 2  # and the file written whole again


@e2e
@needs_bwrap
def test_a_sandboxed_command_run_in_home_cannot_plant_a_cached_listing(server, chat_env):
    """The cache directory exists (0700) before any command runs, so the sandbox keeps it read-only even
    when the working directory holds it: a command cannot create it and fill it for a later session."""
    home = Path(chat_env["HOME"])
    planted = home / ".cache" / "chatcli" / "mcp" / "planted.json"
    command = f"mkdir -p {planted.parent}; echo '{{}}' > {planted}; echo tried"
    server.queue(tool_calls(("shell", {"command": command})), Reply("done"))
    run = chat(chat_env, "--tools", "shell", "--yes", "go", cwd=home)
    assert run.code == 0, run
    assert not planted.exists()
    assert "Read-only file system" in results(server.requests[1])[0]
    assert stat.S_IMODE(planted.parent.stat().st_mode) == 0o700


@pytest.mark.usefixtures("in_memory")
def test_a_cached_server_s_prompt_and_resource_are_known_and_start_it_when_used(server, chat_env, tmp_path):
    marks = tmp_path / "starts"
    notes = Path(__file__).parent / "mcp" / "notes.py"
    write_servers(chat_env, {"notes": mcp_servers.stdio(notes, env={"BARS_STARTS": str(marks)})})  # starts written
    server.queue(Reply("listed"), Reply("read"))
    assert chat(chat_env, "hi").code == 0 and started(marks) == 1
    listing = json.loads(chat(chat_env, "tools", "--json").out)
    assert started(marks) == 1  # chat tools shows the cached listing without starting it
    assert [p["command"] for p in listing[0]["prompts"]][:1] == ["/mcp__notes__review"]
    assert "@notes:notes://today" in [r["mention"] for r in listing[0]["resources"]]
    run = chat(chat_env, "summarise @notes:notes://today")
    assert run.code == 0, run
    assert started(marks) == 2  # the mention started it
    sent = server.requests[-1]["messages"][-1]["content"]
    assert "Buy milk." in json.dumps(sent)

"""MCP servers from mcp.json: servers written with FastMCP (tests/mcp/bars.py) or by hand (tests/mcp/lines.py), made
in this process and connected in memory (tests/mcp_servers.in_memory); over stdio and HTTP as processes where the
transport or the process is what a test is about (marked e2e); over HTTP from a thread of this process."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture

HERE = pytest.mark.usefixtures("in_memory")  # its servers made in this process
PROCESS = pytest.mark.e2e  # its servers started as processes: the transport, or the process, is what it tests

BARS = Path(__file__).resolve().parent / "mcp" / "bars.py"


def stdio(**extra: object) -> dict:
    return mcp_servers.stdio(BARS, **extra)


def write_servers(chat_env: dict[str, str], servers: dict) -> Path:
    path = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "mcp.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving(transport: str) -> Iterator[str]:
    """bars.py of mcp 1.x serving ``transport`` ("http": streamable HTTP, "sse": the older HTTP+SSE) on 127.0.0.1, a
    process; its URL."""
    port = free_port()
    proc = subprocess.Popen(
        mcp_servers.argv(BARS, transport, str(port)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    eventually(
        lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close() or True,
        f"the MCP server on port {port}",
        timeout=20,
        ignoring=(OSError,),
    )
    yield f"http://127.0.0.1:{port}/{'mcp' if transport == 'http' else 'sse'}"
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def http_bars(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """bars.py (mcp 2.x) serving streamable HTTP on 127.0.0.1 from a thread of this process; its URL."""
    served = mcp_servers.http_here(BARS, monkeypatch)
    yield f"http://127.0.0.1:{served.port}/mcp"
    served.stop()


@pytest.fixture
def sse_bars() -> Iterator[str]:
    """bars.py serving the HTTP+SSE transport (2024-11-05) on 127.0.0.1; its URL (``/sse``)."""
    yield from serving("sse")


@HERE
def test_a_stdio_server_tools_reach_the_model_and_its_results_come_back(server, chat_env):
    write_servers(chat_env, {"bars": stdio(env={"BARS_WORD": "quokka"})})
    server.queue(
        tool_calls(("secret_word", {}), ("add", {"a": 2, "b": 40})), Reply("The word is quokka and the sum 42.")
    )
    run = chat(chat_env, "--yes", "what is the secret word?")
    assert run.code == 0, run
    assert run.out == "The word is quokka and the sum 42.\n"
    offered = sorted(t["function"]["name"] for t in server.requests[0]["tools"])
    assert offered == ["add", "die", "grow", "secret_word", "shout", "slow", "steps", "stubborn"]
    word, total = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert word == "The secret word is quokka."  # the env of mcp.json reached the server
    assert total == "42"


def test_an_http_server_works_the_same(server, chat_env, http_bars):
    write_servers(chat_env, {"web": {"url": http_bars}})
    server.queue(tool_calls(("shout", {"text": "hello"})), Reply("done"))
    run = chat(chat_env, "--yes", "shout hello")
    assert run.code == 0, run
    assert [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"] == ["HELLO"]


@PROCESS
@pytest.mark.parametrize("kind", ["sse"])
def test_a_server_of_the_older_sse_transport_works_the_same_when_mcp_json_says_so(server, chat_env, sse_bars, kind):
    """An mcp.json copied from Claude Code or Cursor names an HTTP+SSE server by its "type": chat speaks it."""
    write_servers(chat_env, {"old": {"type": kind, "url": sse_bars}})
    server.queue(tool_calls(("shout", {"text": "hello"})), Reply("done"))
    run = chat(chat_env, "--yes", "shout hello")
    assert run.code == 0, run
    assert [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"] == ["HELLO"]
    listed = chat(chat_env, "tools")
    assert listed.code == 0 and "old" in listed.out and "sse" in listed.out, listed


@PROCESS
def test_an_sse_server_named_without_its_type_says_what_to_change_in_one_line(server, chat_env, sse_bars):
    """The same server in an mcp.json that does not say its transport: chat tries streamable HTTP, which it does not
    speak, and says what to change rather than "Not Found"; the question is answered without it."""
    write_servers(chat_env, {"old": {"url": sse_bars}})
    server.queue(Reply("without it"))
    run = chat(chat_env, "hello")
    assert run.code == 0 and run.out == "without it\n", run
    [line] = [line for line in run.err.splitlines() if "old" in line]
    assert "answered HTTP 405" in line and '"type": "sse"' in line, run.err


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ({"type": "websocket", "url": "ws://x"}, "old.type must be one of stdio, http"),
        ({"type": ["sse"], "url": "http://127.0.0.1:1/sse"}, "old.type must be one of stdio, http"),
        ({"type": "stdio", "url": "http://127.0.0.1:1/sse"}, 'type "stdio" needs "command"'),
        ({"type": "sse", "command": "x"}, 'type "sse" needs "url"'),
    ],
)
def test_a_type_chat_does_not_speak_or_that_contradicts_the_entry_is_one_line(chat_env, entry, said):
    write_servers(chat_env, {"old": entry})
    run = chat(chat_env, "tools")
    assert run.code == 3 and said in run.err and len(run.err.strip().splitlines()) == 1, run


@HERE
def test_approve_patterns_pick_which_tools_run_unasked(server, chat_env):
    write_servers(chat_env, {"bars": stdio()})
    Path(chat_env["XDG_CONFIG_HOME"], "chatcli", "config.toml").write_text('approve = ["bars:secret_word"]\n')
    server.queue(tool_calls(("secret_word", {}), ("add", {"a": 1, "b": 1})), Reply("ok"))
    run = chat(chat_env, "go")
    assert run.code == 0, run
    word, total = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert word.startswith("The secret word is")
    assert total.startswith("not run")
    refused = [line for line in run.err.splitlines() if line.startswith("tool call refused:")]
    assert len(refused) == 1 and "bars:add" in refused[0], run


@HERE
def test_a_server_that_cannot_start_is_one_line_and_the_chat_goes_on(server, chat_env):
    write_servers(chat_env, {"ghost": {"command": "no-such-mcp-server-here"}, "bars": stdio()})
    server.queue(Reply("Still here."))
    run = chat(chat_env, "hello")
    assert run.code == 0, run
    assert run.out == "Still here.\n"
    lines = [line for line in run.err.splitlines() if "ghost" in line]
    assert len(lines) == 1 and "command not found: no-such-mcp-server-here" in lines[0], run
    assert "Traceback" not in run.err
    assert "secret_word" in {t["function"]["name"] for t in server.requests[0]["tools"]}


@PROCESS
def test_a_server_that_dies_is_one_line_and_starts_again_for_the_next_call(server, chat_env, tmp_path):
    starts = tmp_path / "starts"
    write_servers(chat_env, {"bars": stdio(env={"BARS_STARTS": str(starts)})})
    server.queue(tool_calls(("die", {})), tool_calls(("add", {"a": 2, "b": 40})), Reply("It is back."))
    run = chat(chat_env, "--yes", "-t", "dies", "stop the server, then add")
    assert run.code == 0, run
    died = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"][0]
    assert died.startswith("error:")
    lines = [line for line in run.err.splitlines() if line.startswith("MCP server bars")]
    assert len(lines) == 1 and "stopped answering" in lines[0] and "starts again" in lines[0], run
    assert "add" in {t["function"]["name"] for t in server.requests[1]["tools"]}  # still offered
    assert [m["content"] for m in server.requests[2]["messages"] if m["role"] == "tool"][-1] == "42"
    assert len(starts.read_text().splitlines()) == 2  # started again for the second call


@PROCESS
def test_chat_tools_lists_servers_states_and_tools(chat_env):
    write_servers(chat_env, {"bars": stdio(), "ghost": {"command": "no-such-mcp-server-here"}})
    run = chat(chat_env, "tools", "--tools", "files")
    assert run.code == 0, run
    assert "builtin (built-in) ready" in run.out and "read_file" in run.out
    SPOKEN = "2025-11-25"  # the revision bars.py (mcp 1.x: tests/mcp/legacy.py) agreed to speak

    assert f"bars (stdio, MCP {SPOKEN}) ready" in run.out and "secret_word  The secret word of the day." in run.out
    assert "ghost (stdio) failed: command not found: no-such-mcp-server-here" in run.out
    listing = json.loads(chat(chat_env, "tools", "--json").out)  # bars is known now: listed from the cache
    assert [(s["server"], s["state"]) for s in listing] == [("bars", "idle"), ("ghost", "failed")]
    assert "secret_word" in {t["name"] for t in listing[0]["tools"]}
    assert [s["protocol_version"] for s in listing] == [SPOKEN, None]  # kept with the listing
    listing = json.loads(chat(chat_env, "tools", "--refresh", "--json").out)
    assert [(s["server"], s["state"]) for s in listing] == [("bars", "ready"), ("ghost", "failed")]


def test_chat_tools_with_nothing_set_up_says_how(chat_env):
    run = chat(chat_env, "tools")
    assert run.code == 0, run
    assert "no tools" in run.out and "mcp.json" in run.out and "--tools shell,files" in run.out


def test_a_broken_mcp_json_is_one_line(chat_env):
    path = write_servers(chat_env, {})
    path.write_text('{"mcpServers": {"bars": {"args": ["x"]}}}')
    run = chat(chat_env, "hello")
    assert run.code == 3, run
    assert run.err.strip().endswith('mcpServers.bars: give either "command" (stdio) or "url" (streamable HTTP)'), run


def test_no_tools_starts_no_server(server, chat_env, tmp_path):
    marker = tmp_path / "started"
    write_servers(chat_env, {"probe": {"command": "sh", "args": ["-c", f"touch {marker}; sleep 5"]}})
    server.queue(Reply("plain"))
    run = chat(chat_env, "--no-tools", "hello")
    assert run.code == 0, run
    assert "tools" not in server.requests[0]
    assert not marker.exists()


PARTS = Path(__file__).resolve().parent / "mcp" / "parts.py"


@HERE
def test_a_link_or_embedded_file_in_a_result_reaches_the_model_with_what_names_it(server, chat_env):
    """A result that links to a resource, or embeds a binary one, is named to the model by its URI, name, title, type,
    size and description (not "[file text/plain]"), so it can say which and follow it; its text parts as they are."""
    write_servers(chat_env, {"parts": mcp_servers.stdio(PARTS)})
    server.queue(tool_calls(("every_part", {})), Reply("done"))
    run = chat(chat_env, "--yes", "show me everything")
    assert run.code == 0, run
    [result] = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert "Here is everything." in result and "Buy milk." in result
    link = next(line for line in result.splitlines() if "q3.txt" in line)
    assert "<file:///srv/reports/q3.txt>" in link and "The third quarter's report" in link, result
    assert "text/plain" in link and "48,213 bytes" in link and "Revenue and costs, July to September" in link
    archive = next(line for line in result.splitlines() if "archive://logs.tgz" in line)
    assert "application/gzip" in archive and "bytes" in archive, result


TASKS = Path(__file__).resolve().parent / "mcp" / "tasks.py"


@HERE
def test_a_tool_that_runs_only_as_a_task_is_never_offered_and_chat_tools_says_why(server, chat_env):
    """MCP tasks are not run yet: a tool whose ``execution.taskSupport`` is "required" is not offered to the model
    (it would fail with -32601 when called); one that may run as a call is. `chat tools` names it, with why."""
    write_servers(chat_env, {"tasks": mcp_servers.stdio(TASKS)})
    server.queue(Reply("fine"))
    run = chat(chat_env, "--yes", "what can you do?")
    assert run.code == 0, run
    offered = sorted(tool["function"]["name"] for tool in server.requests[0]["tools"])
    assert "research" not in " ".join(offered) and any("quick" in name for name in offered), offered
    listed = chat(chat_env, "tools")
    assert listed.code == 0, listed
    line = next(line for line in listed.out.splitlines() if "research" in line)
    assert "runs only as an MCP task, which chat does not run yet: not offered to the model" in line, listed.out
    (row,) = [r for r in json.loads(chat(chat_env, "tools", "--json").out) if r["server"] == "tasks"]
    assert [t["name"] for t in row["tools"]] == ["quick", "plain"]
    assert [t["name"] for t in row["not_offered"]] == ["research"]


TALKY = Path(__file__).resolve().parent / "mcp" / "talky.py"


@PROCESS  # its log: the file a stdio server's stderr goes to, as well
def test_what_a_server_logs_goes_to_its_log_which_chat_tools_shows(server, chat_env):
    """MCP's logging notifications are never on the screen nor sent to the model: each is a line of the server's
    log, which `chat tools --log NAME` prints (an escape in it shown, not obeyed)."""
    write_servers(chat_env, {"talky": mcp_servers.stdio(TALKY)})
    assert "no log yet" in chat(chat_env, "tools", "--log", "talky").err
    server.queue(tool_calls(("work", {})), Reply("it worked"))
    run = chat(chat_env, "--yes", "do the work")
    assert run.code == 0 and "working on it" not in run.out + run.err, run
    [result] = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert result == "done working"
    shown = chat(chat_env, "tools", "--log", "talky")
    assert shown.code == 0, shown
    assert "[info talky] working on it" in shown.out
    line = next(line for line in shown.out.splitlines() if line.startswith("[warning talky]"))
    assert '"step": 2' in line, line
    assert "[error talky] a title change" in shown.out and "\x1b" not in shown.out, shown.out
    unknown = chat(chat_env, "tools", "--log", "nobody")
    assert unknown.code == 2 and "no MCP server named 'nobody'" in unknown.err and "talky" in unknown.err, unknown

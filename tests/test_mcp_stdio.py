"""The stdio transport to MCP servers: a banner on stdout, a huge result, lines cut anywhere (tests/mcp/odd.py)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from chatcli.tools.stdio import Dropped, Lines
from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, chat_process
from tests.test_mcp import write_servers

ODD = Path(__file__).resolve().parent / "mcp" / "odd.py"


def odd(*modes: str) -> dict:
    return mcp_servers.stdio(ODD, *modes)


def tool_results(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


# --------------------------------------------------------------------------- framing


def test_lines_come_out_whole_wherever_the_reads_cut_them():
    text = b'{"a": 1}\n\n{"b": "two"}\r\n{"c": 3}\n'
    for size in (1, 2, 3, 7, len(text)):
        lines = Lines(limit=100)
        out = [line for i in range(0, len(text), size) for line in lines.feed(text[i : i + size])]
        assert out == [b'{"a": 1}', b"", b'{"b": "two"}\r', b'{"c": 3}'], size


def test_a_line_over_the_limit_is_dropped_keeping_its_size_and_id():
    lines = Lines(limit=1000)
    body = b'{"jsonrpc":"2.0","id":7,"result":{"text":"' + b"x" * 5000 + b'"}}'
    out = [line for i in range(0, len(body), 333) for line in lines.feed(body[i : i + 333])] + lines.feed(b"\n{}\n")
    assert len(out) == 2 and isinstance(out[0], Dropped) and out[1] == b"{}"
    assert out[0].size == len(body) and out[0].request_id() == 7
    # The TypeScript SDK puts the id last.
    typescript = Dropped(9, b'{"result":{"content":[{"id":3}', b'"x"}]},"jsonrpc":"2.0","id":12}')
    assert typescript.request_id() == 12
    assert (
        Dropped(9, b'{"result":{"x":{"id":3', b'"x":{"id":4}}}').request_id() is None
    )  # ids inside the result are not it


def test_framing_a_big_message_takes_linear_time():
    """A 60 MB message costs the same to frame in 60 reads as in 6: each byte is looked at once, however the reads cut
    it. Measured in the same run, as this thread's own CPU time (the best of three: what else the machine runs does
    not count). The mcp client's own reader looked at its whole buffer again at each read: ten times the cost for ten
    times the reads, and minutes for this message."""
    size = 60 * 1024 * 1024

    def framing(reads: int) -> float:
        chunk = b"x" * (size // reads)
        best = float("inf")
        for _ in range(3):
            lines = Lines(limit=100 * 1024 * 1024)
            started = time.thread_time()
            for _ in range(reads):
                assert lines.feed(chunk) == []
            assert len(lines.feed(b"\n")[0]) == size
            best = min(best, time.thread_time() - started)
        return best

    few, many = framing(6), framing(60)
    assert many < 3 * few, f"{many:.3f} s of CPU in 60 reads, {few:.3f} s in 6"


# --------------------------------------------------------------------------- real servers


@pytest.mark.e2e
def test_a_banner_on_stdout_is_one_note_and_goes_to_the_log(server, chat_env):
    write_servers(chat_env, {"odd": odd("banner")})
    server.queue(tool_calls(("echo", {"text": "hi"})), Reply("It echoed."))
    run = chat_process(chat_env, "--yes", "echo hi")  # a process: the mcp client logs through the real stderr
    assert run.code == 0, run
    assert run.out == "It echoed.\n"
    assert tool_results(server.requests[1]) == ["hi"]  # the server works all the same
    assert "Traceback" not in run.err and "ValidationError" not in run.err, run
    log = Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "mcp" / "odd.log"
    notes = [line for line in run.err.splitlines() if "not JSON-RPC" in line]
    assert notes == [f"MCP server odd wrote a line that is not JSON-RPC to stdout (see {log}); it is ignored"], run
    assert "odd: server started, waiting for a client" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


@pytest.mark.e2e
def test_a_50_mb_result_is_dropped_with_a_note_within_seconds_and_the_session_goes_on(server, chat_env):
    write_servers(chat_env, {"odd": odd()})
    server.queue(tool_calls(("huge", {"megabytes": 50})), tool_calls(("huge", {"megabytes": 1})), Reply("Done."))
    # The mcp client's own reader took minutes over it, then the call timed out: the result dropped for its size,
    # as it streamed, is the proof it was not read that way (how fast framing is: the test above).
    run = chat(chat_env, "--yes", "make it big")
    assert run.code == 0, run
    assert run.out == "Done.\n"
    dropped = tool_results(server.requests[1])[0]
    assert (
        dropped.startswith("error:") and "the result was larger than 10 MB" in dropped and "was dropped" in dropped
    ), dropped
    assert tool_results(server.requests[2])[1].startswith("x" * 10000)  # the next call on the same server works
    notes = [line for line in run.err.splitlines() if "over the 10 MB limit" in line]
    assert len(notes) == 1 and notes[0].startswith("MCP server odd sent a result of 1"), run
    assert "stopped answering" not in run.err, run

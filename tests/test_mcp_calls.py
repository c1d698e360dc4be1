"""An MCP call as the user lives it: its progress while it runs (a live line in the terminal, events in
--jsonl), Ctrl-C that cancels it at the server too, and a question for approval asked again after chat
was killed at it.

tests/mcp/bars.py writes what happens to files its environment names: ``BARS_STARTS`` (each start),
``BARS_CALLS`` (each call of ``slow`` or ``stubborn`` as it begins) and ``BARS_CANCELS`` (each call of
``slow`` cancelled at the server). Made in this process (tests/mcp_servers.in_memory) but where a test is about a
terminal, a process that is killed or a server that must be restarted (marked e2e).
"""

from __future__ import annotations

import json
import re
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from chatcli.core import answer as schema
from tests.fakeserver import Reply, tool_calls
from tests.helpers import HANG, chat, eventually, eventually_async, screen
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_kept import gone
from tests.test_mcp_lazy import bars, results, started
from tests.test_prompt_inprocess import ENTER, press_ctrl_c, prompt_loop
from tests.test_tools_pty import QUESTION, answer, pty, wait_asked  # noqa: F401 - pty is a fixture

HERE = pytest.mark.usefixtures("in_memory")  # bars.py made in this process


def written(path: Path, timeout: float = 15) -> list[str]:
    """The lines of ``path`` once something is written there."""
    text = eventually(
        lambda: path.exists() and path.read_text().endswith("\n") and path.read_text(), f"{path}", timeout
    )
    return text.split("\n")[:-1]


async def until_written(path: Path, timeout: float = 15) -> None:
    await eventually_async(lambda: path.exists() and path.read_text().endswith("\n"), f"{path} written", timeout)


# --------------------------------------------------------------------------- progress


@HERE
def test_a_running_call_s_progress_is_a_jsonl_event_each_second_and_at_each_notification(server, chat_env, tmp_path):
    write_servers(chat_env, {"bars": bars(tmp_path / "starts")})
    server.queue(tool_calls(("steps", {"count": 3}), ("slow", {"seconds": 2.5})), Reply("done"))
    run = chat(chat_env, "--yes", "--jsonl", "go")
    assert run.code == 0, run
    events = [json.loads(line) for line in run.out.splitlines()]
    for event in events:  # each line one of the schema's events (chatcli.core.answer), progress included
        next(e for e in schema.EVENTS if e.model_fields["type"].default == event["type"]).model_validate(event)
    kinds = [(e["type"], e.get("name")) for e in events if e["type"] in ("tool_call", "progress", "tool_result")]
    steps = [e for e in events if e["type"] == "progress" and e["name"] == "steps"]
    assert [(e["progress"], e["total"], e["message"]) for e in steps if e["message"]] == [
        (1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3"),
    ]  # fmt: skip
    assert (
        kinds.index(("tool_call", "steps")) < kinds.index(("progress", "steps")) < kinds.index(("tool_result", "steps"))
    )
    slow = [e for e in events if e["type"] == "progress" and e["name"] == "slow"]
    assert len(slow) >= 2 and all(e["progress"] is None and e["message"] is None for e in slow), slow  # a tick a second
    assert [e["seconds"] for e in slow] == sorted(e["seconds"] for e in slow) and slow[0]["id"] == "call_1_slow"
    assert kinds.index(("tool_call", "slow")) < kinds.index(("progress", "slow")) < kinds.index(("tool_result", "slow"))
    assert not any(e["type"] == "progress" for e in json.loads(chat(chat_env, "--json", "q").out)["tool_calls"])


@pytest.mark.e2e  # the screen of a terminal
def test_a_running_call_is_a_live_line_in_the_terminal_cleared_when_its_result_shows(server, chat_env, start, tmp_path):
    write_servers(chat_env, {"bars": bars(tmp_path / "starts")})
    server.queue(tool_calls(("steps", {"count": 4})), Reply("All four steps taken."))
    repl = start("--yes")
    at = repl.say("take the steps")
    repl.wait_for("step 2 of 4", after=at)
    live = screen(repl.raw)
    assert any(re.fullmatch(r"⚙ bars:steps · \d+ s · 2/4 · step 2 of 4", line.strip()) for line in live), live
    repl.wait_for("All four steps taken.", after=at)
    repl.wait_prompt()
    lines = screen(repl.raw)
    assert not any(re.match(r"⚙ bars:steps · \d+ s", line.strip()) for line in lines), lines  # cleared
    assert any(re.match(r"→ bars:steps · \d+\.\d s", line.strip()) for line in lines), lines


# --------------------------------------------------------------------------- Ctrl-C


@pytest.fixture
def watched(settings, tmp_path):
    """Settings that run every call (--yes), with bars.py whose starts, calls and cancellations are written down."""
    files = {name: tmp_path / name for name in ("starts", "calls", "cancels")}
    config = Path(settings.mcp_config)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        json.dumps({"mcpServers": {"bars": bars(files["starts"], env={"BARS_CALLS": str(files["calls"]),
                                                                         "BARS_CANCELS": str(files["cancels"])})}})
    )  # fmt: skip
    return replace(settings, approve_all=True), files


@HERE
async def test_ctrl_c_cancels_the_call_at_the_server_and_the_next_call_is_not_kept_waiting(server, watched):
    settings, files = watched
    # The first call would run HANG seconds: a next call that waited for it would never see "quick".
    server.queue(tool_calls(("slow", {"seconds": HANG})), tool_calls(("slow", {"seconds": 0.2})), Reply("quick"))
    async with prompt_loop(settings) as chat_:
        await chat_.ready()
        chat_.type("wait a long time" + ENTER)
        await until_written(files["calls"])
        press_ctrl_c()
        await chat_.until("stopped: the tool call bars:slow was cancelled")
        assert written(files["cancels"]) == [f"slow {HANG}"]  # the server was told, and stopped the call
        await chat_.say("now a short one", then="quick")
    assert started(files["starts"]) == 1  # the server was not restarted: it took the cancellation
    assert "restarted" not in chat_.err.getvalue()


@pytest.mark.e2e  # a server blocked for good: its process is restarted
async def test_a_server_deaf_to_the_cancellation_is_restarted_and_says_so(server, watched):
    settings, files = watched
    server.queue(tool_calls(("stubborn", {"seconds": 30})), tool_calls(("add", {"a": 2, "b": 40})), Reply("42"))
    async with prompt_loop(settings) as chat_:
        await chat_.ready()
        chat_.type("be stubborn" + ENTER)
        await until_written(files["calls"])
        pid = int(written(files["starts"])[0])
        press_ctrl_c()
        await chat_.until("did not stop the cancelled call within 3 s: restarted")
        said = [line for line in chat_.err.getvalue().splitlines() if "restarted" in line]
        assert said == ["MCP server bars did not stop the cancelled call within 3 s: restarted"]
        await chat_.say("add", then="42")
    assert results(server.requests[-1])[-1] == "42"
    assert started(files["starts"]) == 2
    assert gone(pid), "the deaf server was left running"


# --------------------------------------------------------------------------- resumed approval


@pytest.mark.e2e  # chat killed in a terminal
def test_a_chat_killed_at_an_mcp_approval_asks_again_and_goes_on_with_the_turn_s_model(server, chat_env, pty, tmp_path):  # noqa: F811
    write_servers(chat_env, {"bars": bars(tmp_path / "starts")})
    server.queue(tool_calls(("add", {"a": 2, "b": 40})))
    first = pty("-m", "gpt-turn", "--thread", "mcp9")
    first.wait_prompt()
    at = first.say("add them")
    wait_asked(first, QUESTION, at)
    first.child.kill(signal.SIGKILL)
    first.exit_code()
    assert len(server.requests) == 1 and server.requests[0]["model"] == "gpt-turn"

    server.queue(Reply("It is 42."))
    repl = pty("--thread", "mcp9")
    wait_asked(repl, QUESTION, 0)
    shown = repl.text
    assert "this thread was waiting for your approval" in shown and "bars:add" in shown, shown
    after = answer(repl, "y")
    repl.wait_for("It is 42.", after=after)
    repl.wait_prompt()
    assert results(server.requests[1]) == ["42"]
    assert server.requests[1]["model"] == "gpt-turn"  # the turn's model, not the default
    assert "no tool named" not in repl.text

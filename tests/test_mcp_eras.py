"""MCP servers of both eras in one mcp.json: the 2026-07-28 revision (a server of mcp 2.x, discovered, stateless)
and the 2025 one (a server of mcp 1.x, initialised: tests/mcp/legacy.py), over stdio and streamable HTTP, listed,
said in `chat tools`, called with progress, stopped at the server when a call runs out of time.

tests/mcp/bars.py is either: ``MCP_ERA=2026`` in its environment makes it the 2.x one. A 2026 server is made in
this process where the test is not about its process or transport (``in_memory``); the 2025 one is a process.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.mcp_servers import here_if_cold, in_memory  # noqa: F401 - a fixture
from tests.test_mcp import BARS, free_port, write_servers
from tests.test_mcp_kept import pids
from tests.test_mcp_lazy import offered, results
from tests.test_serve import here, serving  # noqa: F401 - fixtures

e2e = pytest.mark.e2e  # starts MCP server processes

# Each era, and the revision its server speaks to chat.
ERAS = {"2026": "2026-07-28", "2025": "2025-11-25"}


def era_env(era: str) -> dict[str, str]:
    return {"MCP_ERA": era} if era == "2026" else {}


def bars_of(era: str, **env: str) -> dict:
    return mcp_servers.stdio(BARS, env={**era_env(era), **env})


@pytest.fixture
def http_of():
    """``http_of(era)``: bars.py of that era serving streamable HTTP on 127.0.0.1; its URL."""
    started = []

    def start(era: str) -> str:
        port = free_port()
        proc = subprocess.Popen(
            mcp_servers.argv(BARS, "http", str(port), env=era_env(era)),
            env={**__import__("os").environ, **era_env(era)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(proc)
        eventually(
            lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close() or True,
            f"the MCP server on port {port}",
            timeout=20,
            ignoring=(OSError,),
        )
        return f"http://127.0.0.1:{port}/mcp"

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(5)


@e2e
def test_servers_of_both_eras_in_one_mcp_json_are_listed_said_and_called(server, chat_env, http_of):
    servers = {
        "modern": bars_of("2026", BARS_WORD="tardigrade"),
        "classic": bars_of("2025", BARS_WORD="axolotl"),
        "modernweb": {"url": http_of("2026")},
        "classicweb": {"url": http_of("2025")},
    }
    write_servers(chat_env, servers)
    listing = json.loads(chat(chat_env, "tools", "--refresh", "--json").out)
    spoken = {row["server"]: (row["state"], row["protocol_version"]) for row in listing}
    assert spoken == {
        "modern": ("ready", ERAS["2026"]),
        "classic": ("ready", ERAS["2025"]),
        "modernweb": ("ready", ERAS["2026"]),
        "classicweb": ("ready", ERAS["2025"]),
    }
    shown = chat(chat_env, "tools").out
    assert f"modern (stdio, MCP {ERAS['2026']})" in shown and f"classic (stdio, MCP {ERAS['2025']})" in shown
    # Each server's tools under names of their own (a name they share is each one's SERVER_NAME), each call to its
    # server.
    server.queue(
        tool_calls(("modern_secret_word", {}), ("classic_secret_word", {}), ("modernweb_add", {"a": 40, "b": 2})),
        Reply("done"),
    )
    run = chat(chat_env, "--yes", "ask them")
    assert run.code == 0, run
    said = results(server.requests[-1])
    assert said == ["The secret word is tardigrade.", "The secret word is axolotl.", "42"], said


@pytest.mark.parametrize(
    "door, era",
    [
        pytest.param("cold", "2026", id="cold-2026"),  # in memory
        pytest.param("cold", "2025", id="cold-2025", marks=e2e),
        pytest.param("worker", "2026", id="worker", marks=e2e),  # through the MCP host
    ],
    indirect=["door"],
)
def test_a_call_s_progress_comes_in_either_era_at_every_door_to_the_servers(server, door, era, request):
    if era == "2026":
        here_if_cold(door, request)
    write_servers(door.env, {"bars": bars_of(era)})
    server.queue(tool_calls(("steps", {"count": 2})), Reply("done"))
    run = door.chat("--yes", "--jsonl", "go")
    assert run.code == 0, run
    events = [json.loads(line) for line in run.out.splitlines()]
    steps = [(e["progress"], e["total"], e["message"]) for e in events if e["type"] == "progress" and e["message"]]
    assert steps == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")], events
    assert results(server.requests[-1]) == ["took 2 steps"]


@pytest.mark.parametrize("era", [pytest.param("2025", marks=e2e), "2026"])
def test_a_stopped_call_is_cancelled_at_the_server_in_either_era(server, chat_env, era, tmp_path, request):
    import acp

    from tests.doors.acp import InProcessEditor

    if era == "2026":
        request.getfixturevalue("in_memory")
    calls, cancels = tmp_path / "calls", tmp_path / "cancels"
    write_servers(chat_env, {"bars": bars_of(era, BARS_CALLS=str(calls), BARS_CANCELS=str(cancels))})
    editor = InProcessEditor(chat_env, "--yes")  # chat acp in this process: its session goes on after the stop
    try:
        editor.initialize()
        session = editor.new(cwd=str(tmp_path))
        server.queue(tool_calls(("slow", {"seconds": 30})))
        running = editor.start("prompt", session_id=session, prompt=[acp.text_block("wait")])
        eventually(lambda: calls.exists() and calls.read_text().startswith("slow 30"), "the call to begin", 30)
        editor._run(editor.conn.cancel(session_id=session))
        assert running.result(20).stop_reason == "cancelled"
        eventually(
            lambda: cancels.exists() and cancels.read_text().startswith("slow 30"), "the server's own cancel", 15
        )
    finally:
        assert editor.close() == 0, editor.stderr.decode()


# A tool that asks the user, in each era: the 2025 way (the server's elicitation/create mid-call: tests/mcp/asking.py
# on mcp 1.x) and the 2026 way (the call answers InputRequiredResult; the client calls again with the answer).
ASKING = {"2025": BARS.parent / "asking.py", "2026": BARS.parent / "asking_modern.py"}
BOOKING = {"party": 4, "day": "2026-12-24", "confirm": True}


@pytest.mark.parametrize("era, tool", [pytest.param("2025", "book", marks=e2e), ("2026", "book"), ("2026", "reserve")])
def test_a_tool_s_question_is_asked_in_json_and_answered_by_resume_in_either_era(
    server, chat_env, era, tool, tmp_path, request
):
    """(2026's ``reserve`` asks through mcp's resolvers, as most servers of the SDK will; its ``book`` by hand.)"""
    if era == "2026":
        request.getfixturevalue("in_memory")
    calls = tmp_path / "calls"
    asking = mcp_servers.stdio(ASKING[era], env={"ASKING_CALLS": str(calls)})
    write_servers(chat_env, {"asking": asking})
    server.queue(tool_calls((tool, {"city": "Paris"})), Reply("Booked for four."))
    first = json.loads(chat(chat_env, "--yes", "--json", "-t", "trip", "book a table in Paris").out)
    (asked,) = first["interrupts"]
    value = asked["value"]
    assert value["type"] == "elicitation" and value["message"].startswith("Booking a table"), value
    assert {"party", "day", "confirm"} <= set(value["requested_schema"]["required"])
    answer = json.dumps({"action": "accept", "content": BOOKING})
    good = json.loads(chat(chat_env, "--json", "-t", "trip", "--resume", answer).out)
    assert good["reply"] == "Booked for four.", good
    (said,) = results(server.requests[-1])
    assert said.startswith("book in Paris: accept") and '"party":4' in said, said


@e2e
def test_the_docs_server_example_runs_on_the_sdk_installed_and_speaks_the_2026_revision(server, chat_env, tmp_path):
    import re

    doc = (BARS.parent.parent.parent / "docs" / "tools.md").read_text()
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "find_note" in block]
    script = tmp_path / "notes_server.py"
    script.write_text(code)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "milk.md").write_text("buy milk\n")
    write_servers(chat_env, {"notes": mcp_servers.stdio(script, env={"HOME": str(tmp_path)})})
    (row,) = json.loads(chat(chat_env, "tools", "--refresh", "--json").out)
    assert (row["state"], row["protocol_version"]) == ("ready", ERAS["2026"]), row
    server.queue(tool_calls(("find_note", {"word": "milk"})), Reply("milk.md"))
    assert chat(chat_env, "--yes", "which note?").code == 0
    assert results(server.requests[-1]) == ["milk.md"]


@e2e
def test_a_server_known_to_speak_an_earlier_revision_is_initialised_at_once(server, chat_env):
    write_servers(chat_env, {"classic": bars_of("2025")})
    log = Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "mcp" / "classic.log"
    assert chat(chat_env, "tools", "--refresh").code == 0  # first met: asked which revision it speaks
    assert "discover" in log.read_text()  # (a server of mcp 1.x logs the question it did not know)
    server.queue(tool_calls(("add", {"a": 1, "b": 2})), Reply("3"))
    assert chat(chat_env, "--yes", "add").code == 0  # known from the cache as a 2025 server: no question
    assert results(server.requests[-1]) == ["3"]
    assert "discover" not in log.read_text()


# ---- how long a list stays fresh (2026-07-28's ttlMs) ----------------------------------------------------------------

# A server's word on its tool list (ms; None: an earlier revision's server, which says nothing), and whether a
# listing cached a moment ago is listed again before chat trusts it.
LIFETIMES = {
    "a day": ("2026", "86400000", False),
    "none (the SDK's default: stale at once)": ("2026", None, True),
    "zero": ("2026", "0", True),
    "an earlier revision's (none said)": ("2025", None, False),
}


@pytest.mark.parametrize(
    "door, lifetime",
    [
        *[
            pytest.param("cold", name, id=f"cold-{name}", marks=[e2e] if era == "2025" else [])
            for name, (era, *_) in LIFETIMES.items()
        ],
        pytest.param("worker", "zero", id="worker-zero", marks=e2e),  # the MCP host lists it again in the background
    ],
    indirect=["door"],
)
def test_a_cached_listing_is_listed_again_once_its_server_says_it_is_stale(server, door, lifetime, tmp_path, request):
    era, ttl, stale = LIFETIMES[lifetime]
    if era == "2026":
        here_if_cold(door, request)
    starts, extra = tmp_path / "starts", tmp_path / "extra-on"
    env = {"BARS_STARTS": str(starts), "BARS_EXTRA": str(extra), **({"BARS_TTL_MS": ttl} if ttl else {})}
    write_servers(door.env, {"bars": bars_of(era, **env)})
    assert chat(door.env, "tools", "--refresh").code == 0  # listed and cached
    assert len(pids(starts)) == 1
    extra.write_text("")  # the server offers one more tool from now on

    def new_list_offered() -> bool:  # a question that calls no tool
        server.queue(Reply("fine"))
        run = door.chat("hi")
        assert run.code == 0, run
        return "extra" in offered(server.requests[-1])

    # Through the MCP host (the worker's one-shots), a stale listing is listed again in the background: a later
    # question is offered the new list. A one-shot of its own lists a server again when it uses it.
    if stale and door.name != "cold":
        eventually(new_list_offered, "the new list offered", timeout=30, interval=0.2)
        listing = json.loads(chat(door.env, "tools", "--json").out)
        assert listing[0]["ttl_ms"] == int(ttl or 0)
    else:  # fresh for a day, a server that said nothing, or a one-shot of its own: the cache, nothing started
        assert not new_list_offered() and not new_list_offered()
        assert len(pids(starts)) == 1


@pytest.mark.usefixtures("in_memory")
def test_a_running_server_s_stale_list_is_listed_again_in_a_long_session(server, chat_env, here):  # noqa: F811
    """chat serve (a long-lived door): the server kept running, its list past its lifetime is asked again."""
    write_servers(chat_env, {"bars": bars_of("2026", BARS_TTL_MS="0")})
    served = here("--yes")
    server.queue(tool_calls(("grow", {})), Reply("grown"))
    assert served.ask("t1", "grow")[1]["reply"] == "grown"  # the server runs on, and offers one more tool now
    assert "extra" not in offered(server.requests[-1])

    def offered_now() -> bool:
        server.queue(Reply("more"))
        assert served.ask("t1", "more")[0] == 200
        return "extra" in offered(server.requests[-1])

    eventually(offered_now, "the new list offered", timeout=20, interval=0.3)


# ---- a question answered after the server was started again (2026-07-28's sealed requestState) ----------------------


def test_an_answer_after_the_server_restarted_makes_the_call_again_with_it(
    server,
    chat_env,
    here,  # noqa: F811 - the fixture
    tmp_path,
    monkeypatch,
    capsys,
):
    """chat serve keeps a call waiting at its question; meanwhile the 2026 server behind streamable HTTP is started
    again, with a new key: the answered call's requestState is refused. One line says so, the call is made again,
    and the question, asked again as before, gets the answer given (the user is not asked twice). (The server and
    chat serve's app run in this process: the server over HTTP from a thread, made anew on the same port.)"""
    calls = tmp_path / "calls"
    first = mcp_servers.http_here(ASKING["2026"], monkeypatch, ASKING_CALLS=str(calls))
    second = None
    try:
        write_servers(chat_env, {"asking": {"url": f"http://127.0.0.1:{first.port}/mcp"}})
        served = here("--yes")
        server.queue(tool_calls(("book", {"city": "Paris"})), Reply("Booked for four."))
        status, obj = served.ask("r", "book a table in Paris")
        assert status == 200 and obj["interrupts"], obj
        first.stop()
        second = mcp_servers.http_here(ASKING["2026"], monkeypatch, first.port, ASKING_CALLS=str(calls))  # another key
        answer = {"action": "accept", "content": BOOKING}
        status, obj = served.request(
            "POST", "/v1/threads/r/approvals", {"answers": {obj["interrupts"][0]["id"]: answer}}
        )
        assert status == 200 and obj["reply"] == "Booked for four." and "interrupts" not in obj, obj
        (said,) = results(server.requests[-1])
        assert said.startswith("book in Paris: accept") and '"party":4' in said, said
        assert calls.read_text().split() == ["book", "book"]  # made again, from its start
        console = served.stop() + capsys.readouterr().err  # (its notes go to the process's stderr: sys.stderr)
        assert "MCP server asking no longer knew where book had got to" in console, console
        assert console.count("no longer knew") == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()

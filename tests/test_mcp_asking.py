"""A tool's question to the user in the middle of its call (an MCP elicitation), at every door.

tests/mcp/asking.py is a FastMCP server whose tools ask (``ctx.elicit``, ``ctx.elicit_url``) and return
what they were answered; each call it begins is written down, so a test knows whether a call ran
again. Without a terminal the question is declined and the turn ends normally; ``--json`` reports it
with the turn's interrupts and ``--resume`` answers it (the call, gone with the process that asked, runs
anew and gets the answer); ``chat serve`` returns it and a request answers it (the call kept waiting:
it runs once); at the prompt it is asked a field a line (tests/test_mcp_asking_pty.py).

Each decision is tested once, over the 2026 server (asking_modern.py) made in this process (``in_memory``); the
2025 era's way (asking.py on mcp 1.x, a process) where its protocol differs, and the MCP host's doors once each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import mcp_servers
from tests.fakeserver import Calls, Reply, tool_calls
from tests.helpers import chat
from tests.matrix import COLD_HOST
from tests.mcp_servers import here_if_cold, in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_lazy import results
from tests.test_serve import here  # noqa: F401 - a fixture

ASKING = Path(__file__).parent / "mcp" / "asking.py"
BOOKING = {"party": 4, "day": "2026-12-24", "confirm": True}
BOOKED = 'book in Paris: accept {"party":4,"day":"2026-12-24","seating":"inside","note":null,"confirm":true}'
NO_TERMINAL = "declined: there was no terminal to ask in"


# A server whose tools ask the user, of each era: the 2025 way (the server's elicitation/create mid-call: asking.py on
# mcp 1.x), the 2026 way (the call answers InputRequiredResult, the client calls again with the answers and the
# server's sealed requestState: asking_modern.py on mcp 2.x). Their tools ask the same questions.
ERAS = (pytest.param("2025", marks=pytest.mark.e2e), "2026")  # the 2025 era's server: a process
SCRIPTS = {"2025": ASKING, "2026": ASKING.parent / "asking_modern.py"}


def asking(calls: Path, era: str = "2026") -> dict[str, Any]:
    return mcp_servers.stdio(SCRIPTS[era], env={"ASKING_CALLS": str(calls)})


def ran(calls: Path) -> list[str]:
    """The calls the server began, in order."""
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.usefixtures("in_memory")
def test_without_a_terminal_the_question_is_declined_and_the_turn_ends_normally(server, chat_env, tmp_path):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("No booking, then."))
    run = chat(chat_env, "--yes", "book a table in Paris")
    assert run.code == 0 and run.out == "No booking, then.\n", run
    assert results(server.requests[-1]) == ["book in Paris: decline"]  # the tool heard "decline"
    assert "? asking:book (MCP server asking) asks:" in run.err and "Booking a table in Paris" in run.err, run.err
    assert NO_TERMINAL in run.err and ran(calls) == ["book"]


# Where the question is asked: chat's own server (2026 in memory, 2025 a process), and the MCP host's from each door.
ASKED_AT = [
    pytest.param("cold", "2026", id="cold-2026"),
    pytest.param("cold", "2025", id="cold-2025", marks=pytest.mark.e2e),
    pytest.param(COLD_HOST, "2026", id=COLD_HOST, marks=pytest.mark.e2e),
    pytest.param("worker", "2026", id="worker", marks=pytest.mark.e2e),
]


@pytest.mark.parametrize("door, era", ASKED_AT, indirect=["door"])
def test_json_reports_the_question_and_resume_answers_it(server, door, tmp_path, era, request):
    here_if_cold(door, request)
    calls = tmp_path / "calls"
    write_servers(door.env, {"asking": asking(calls, era)})
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("Booked for four."))
    first = door.chat("--yes", "--json", "-t", "trip", "book a table in Paris")
    obj = json.loads(first.out)
    assert first.code == 0 and obj["reply"] == "" and "approval_required" not in obj, first
    (asked,) = obj["interrupts"]
    value = asked["value"]
    assert value["type"] == "elicitation" and value["mode"] == "form", value
    assert (value["tool"], value["server"], value["tool_call_id"]) == ("asking:book", "asking", "call_0_book")
    assert value["message"] == "Booking a table in Paris: for how many, and when?"
    assert value["requested_schema"]["required"] == ["party", "day", "confirm"]
    assert len(server.requests) == 1  # the model was not asked again: the turn waits at the question
    # An answer that does not fit the form: one line, exit 2, and the thread still waits.
    wrong = {"action": "accept", "content": {**BOOKING, "party": 40}}
    bad = door.chat("--json", "-t", "trip", "--resume", json.dumps(wrong))
    assert bad.code == 2, bad
    assert (
        json.loads(bad.out)["error"]["message"] == "not an answer to the tool's question: party size must be at most 12"
    )
    good = door.chat("--json", "-t", "trip", "--resume", json.dumps({"action": "accept", "content": BOOKING}))
    obj = json.loads(good.out)
    assert good.code == 0 and obj["reply"] == "Booked for four." and "interrupts" not in obj, good
    assert results(server.requests[-1]) == [BOOKED]
    assert [c["result"] for c in obj["tool_calls"]] == [BOOKED]
    # The process that asked ended, and its call with it: the call ran anew and got the answer when it asked again.
    assert ran(calls) == ["book", "book"]
    again = door.chat("--json", "-t", "trip", "--resume", "decline")
    assert again.code == 2 and "answered already" in json.loads(again.out)["error"]["message"], again


@pytest.mark.parametrize("answer, heard", [('"decline"', "decline"), ('{"action": "cancel"}', "cancel")])
@pytest.mark.usefixtures("in_memory")
def test_resume_declines_or_cancels(server, chat_env, tmp_path, answer, heard):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("As you wish."))
    assert json.loads(chat(chat_env, "--yes", "--json", "-t", "t", "book").out)["interrupts"]
    run = chat(chat_env, "-t", "t", "--resume", answer)
    assert run.code == 0 and run.out == "As you wish.\n", run
    assert results(server.requests[-1]) == [f"book in Paris: {heard}"]


@pytest.mark.usefixtures("in_memory")
def test_two_questions_of_one_call_are_asked_in_turn(server, chat_env, tmp_path):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("twice", {})), Reply("Hello, Ada in green."))
    first = json.loads(chat(chat_env, "--yes", "--json", "-t", "t2", "go").out)
    assert first["interrupts"][0]["value"]["message"] == "Who are you?"
    second = chat(chat_env, "--json", "-t", "t2", "--resume", '{"action": "accept", "content": {"name": "Ada"}}')
    obj = json.loads(second.out)
    assert obj["interrupts"][0]["value"]["message"] == "Which colour?", second
    assert obj["interrupts"][0]["id"] != first["interrupts"][0]["id"]
    third = chat(chat_env, "--json", "-t", "t2", "--resume", '{"action": "accept", "content": {"colour": "green"}}')
    obj = json.loads(third.out)
    assert obj["reply"] == "Hello, Ada in green.", third
    assert results(server.requests[-1]) == ['twice: accept {"name":"Ada"} / accept {"colour":"green"}']
    assert ran(calls) == ["twice"] * 3  # anew for each one-shot: the first answer given again, not asked again


def test_resume_on_a_thread_that_waits_on_nothing_or_without_a_thread_is_one_line(server, chat_env):
    server.queue(Reply("hi"))
    assert chat(chat_env, "-t", "quiet", "hello").code == 0
    run = chat(chat_env, "-t", "quiet", "--resume", "decline")
    assert run.code == 2 and run.err.count("\n") <= 2 and "waits on nothing" in run.err, run
    run = chat(chat_env, "--resume", "decline")
    assert run.code == 2 and "name the thread: chat -t ID --resume VALUE" in run.err, run


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.usefixtures("in_memory")
def test_chat_serve_returns_the_question_and_a_request_answers_it(server, chat_env, here, tmp_path, era):  # noqa: F811
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls, era)})
    served = here("--yes")
    server.queue(tool_calls(("twice", {})), Reply("Hello, Ada in green."))
    status, obj = served.ask("s", "go")
    assert status == 200 and obj["interrupts"][0]["value"]["message"] == "Who are you?", obj
    first = obj["interrupts"][0]["id"]
    # An answer that does not fit: 400, and the question still waits, its call with it.
    status, bad = served.request(
        "POST", "/v1/threads/s/approvals", {"answers": {first: {"action": "accept", "content": {"name": "A"}}}}
    )
    assert status == 400 and "your name must be at least 2 characters" in bad["error"]["message"], bad
    status, obj = served.request(
        "POST", "/v1/threads/s/approvals", {"answers": {first: {"action": "accept", "content": {"name": "Ada"}}}}
    )
    assert status == 200 and obj["interrupts"][0]["value"]["message"] == "Which colour?", obj
    second = obj["interrupts"][0]["id"]
    status, obj = served.request(
        "POST", "/v1/threads/s/approvals", {"answers": {second: {"action": "accept", "content": {"colour": "green"}}}}
    )
    assert status == 200 and obj["reply"] == "Hello, Ada in green.", obj
    assert results(server.requests[-1]) == ['twice: accept {"name":"Ada"} / accept {"colour":"green"}']
    assert ran(calls) == ["twice"]  # the call waited for its answers in the server: it ran once
    status, obj = served.request("POST", "/v1/threads/s/approvals", {"answers": {second: "decline"}})
    assert status == 409 and "waits on nothing: answered already" in obj["error"]["message"], obj


@pytest.mark.usefixtures("in_memory")
def test_chat_serve_streams_the_question_as_an_interrupt_event(server, chat_env, here, tmp_path):  # noqa: F811
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    served = here("--yes")
    server.queue(tool_calls(("visit", {})), Reply("Signed in."))
    events = list(served.events("/v1/threads/u/messages", {"content": "sign in"}))
    (asked,) = [e for e in events if e["type"] == "interrupt"]
    assert asked["value"]["mode"] == "url" and asked["value"]["url"] == "https://bank.example/sign-in?x=1", asked
    assert events[-1]["type"] == "done" and events[-1]["interrupts"][0]["id"] == asked["id"]
    status, obj = served.request("POST", "/v1/threads/u/approvals", {"answers": {asked["id"]: {"action": "accept"}}})
    assert status == 200 and obj["reply"] == "Signed in." and results(server.requests[-1]) == ["visit: accept"], obj


@pytest.mark.parametrize("answer", ["decline", {"action": "cancel"}])
@pytest.mark.usefixtures("in_memory")
def test_chat_serve_takes_a_decline_or_a_cancel(server, chat_env, here, tmp_path, answer):  # noqa: F811
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    served = here("--yes")
    server.queue(tool_calls(("book", {"city": "Paris"})), Reply("As you wish."))
    status, obj = served.ask("d", "book")
    asked = obj["interrupts"][0]["id"]
    status, obj = served.request("POST", "/v1/threads/d/approvals", {"answers": {asked: answer}})
    heard = answer if isinstance(answer, str) else answer["action"]
    assert status == 200 and obj["reply"] == "As you wish." and "interrupts" not in obj, obj
    assert results(server.requests[-1]) == [f"book in Paris: {heard}"]


@pytest.mark.usefixtures("in_memory")
def test_a_question_is_asked_and_answered_whatever_the_provider(provider, tmp_path):
    """The call that asks came in each provider's own wire format; the answer's result goes back in it."""
    row, fake, env = provider
    calls = tmp_path / "calls"
    write_servers(env, {"asking": asking(calls)})
    fake.queue(Calls([("book", {"city": "Paris"}, "call_1")]))
    first = chat(env, "--yes", "--json", "-t", "p", "book a table")
    (asked,) = json.loads(first.out)["interrupts"]
    assert asked["value"]["tool"] == "asking:book" and asked["value"]["tool_call_id"], first  # (Gemini's: made up)
    run = chat(env, "-t", "p", "--resume", json.dumps({"action": "accept", "content": BOOKING}))
    assert run.code == 0 and run.out.startswith("You said: book a table"), run
    assert "book in Paris: accept" in json.dumps(fake.requests[-1]), fake.requests[-1]


# --------------------------------------------------------------------------- a server that asks as an attacker would


@pytest.mark.usefixtures("in_memory")
def test_a_call_that_asks_on_and_on_is_stopped_after_ten_questions(server, chat_env, tmp_path):
    """Without a terminal each question is declined, and a server may answer each decline with another question:
    the call is stopped at the eleventh, and the turn ends normally."""
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("nag", {})), Reply("It would not stop asking."))
    run = chat(chat_env, "--yes", "go on")
    assert run.code == 0 and run.out == "It would not stop asking.\n", run
    assert results(server.requests[-1]) == ["error: the tool asked more than 10 questions in one call and was stopped"]
    assert run.err.count(NO_TERMINAL) == 10, run.err


@pytest.mark.usefixtures("in_memory")
def test_an_answer_is_never_given_to_another_question(server, chat_env, tmp_path):
    """The user saw "Pay $1?" and confirmed; the call, run anew in the process that resumes, asks "Pay $1,000?":
    the answer is not given to it (the call hears cancel, and chat says why)."""
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("pay", {})), Reply("Not paid."))
    first = json.loads(chat(chat_env, "--yes", "--json", "-t", "pay", "pay the bill").out)
    assert first["interrupts"][0]["value"]["message"] == "Pay $1?", first
    run = chat(chat_env, "-t", "pay", "--resume", json.dumps({"action": "accept", "content": {"confirm": True}}))
    assert run.code == 0 and run.out == "Not paid.\n", run
    assert results(server.requests[-1]) == ["pay $1,000: cancel"]
    assert "asking:pay asked another question than the one answered: cancelled" in run.err, run.err
    assert ran(calls) == ["pay", "pay"]


@pytest.mark.usefixtures("in_memory")
def test_a_question_left_waiting_holds_up_no_other_call_to_its_server(server, chat_env, here, tmp_path):  # noqa: F811
    """chat serve: one thread waits at a question (its call kept running, its server waiting for the answer);
    another thread's call to the same server is answered meanwhile, not after the question."""
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    Path(chat_env["XDG_CONFIG_HOME"], "chatcli", "config.toml").write_text("tool_timeout = 20\n")
    served = here("--yes")
    server.queue(tool_calls(("book", {"city": "Paris"})))
    status, obj = served.ask("waits", "book a table")
    assert status == 200 and obj["interrupts"], obj
    server.queue(tool_calls(("plain", {})), Reply("Done."))
    status, obj = served.ask("other", "do the plain thing")
    assert status == 200 and obj["reply"] == "Done.", obj
    assert results(server.requests[-1]) == ["plain: done"]  # not "the call took longer than 20 s"

"""An MCP server's request to use the user's model in the middle of a call (MCP's sampling), at every door.

tests/mcp/asking.py's ``summarise`` (the 2025 way: the server's ``sampling/createMessage`` mid-call) and
asking_modern.py's (the 2026 way: an input request the call answers with) ask the client's model to summarise a
text and return what it answered. Chat asks the user first, as it asks a server's question: without a terminal
the request is declined and the model never hears it; ``--json`` reports it and ``--resume`` allows it; ``chat
serve`` returns it and a request allows it; at the prompt it is a key (tests/test_mcp_asking_pty.py). Allowed, the
thread's model answers the server's messages alone, at most the tokens it asked for.

Each decision once, over asking_modern.py made in this process (``in_memory``); the 2025 way (a process) and the MCP
host's door where their mapping is what is tested.
"""

from __future__ import annotations

import json
import re

import pytest

from chatcli.backends.own.sampling import MAX_IMAGES, MAX_TOKENS, Sampling, Unreadable
from tests.fakeserver import Calls, Reply, tool_calls
from tests.helpers import chat
from tests.mcp_servers import here_if_cold, in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_asking import ERAS, NO_TERMINAL, asking, ran
from tests.test_mcp_lazy import results
from tests.test_serve import here  # noqa: F401 - a fixture

TEXT = "The quick brown fox jumps over the lazy dog, twice."
ALLOW = json.dumps({"action": "accept", "content": {}})


def summarised(result: str) -> tuple[str, str]:
    """The answer the server heard and its stop reason, from the tool's result."""
    found = re.fullmatch(r"summarise: (.*) \[[^,\]]+, (\w+)\]", result, re.S)
    assert found is not None, result
    return found.group(1), found.group(2)


def sampled(body: dict) -> bool:
    """True if a request the model got is the server's (its system prompt, its message, no tools)."""
    said = [(m["role"], m["content"]) for m in body["messages"]]
    return said[:1] == [("system", "You summarise in one line.")] and not body.get("tools")


@pytest.mark.usefixtures("in_memory")
def test_without_a_terminal_the_request_is_declined_and_the_model_never_hears_it(server, chat_env, tmp_path):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls)})
    server.queue(tool_calls(("summarise", {"text": TEXT})), Reply("It would not summarise."))
    run = chat(chat_env, "--yes", "summarise the fox")
    assert run.code == 0 and run.out == "It would not summarise.\n", run
    assert len(server.requests) == 2 and not any(sampled(body) for body in server.requests)
    (result,) = results(server.requests[-1])
    assert "declined" in result, result  # the server heard that the user rejected it (MCP's error -1)
    assert "asks your model" in run.err and "Summarise: The quick brown fox" in run.err and NO_TERMINAL in run.err
    assert ran(calls) == ["summarise"]


@pytest.mark.parametrize(
    "door, era",
    [
        pytest.param("cold", "2026", id="cold-2026"),
        pytest.param("cold", "2025", id="cold-2025", marks=pytest.mark.e2e),  # sampling/createMessage mid-call
        pytest.param("worker", "2026", id="worker", marks=pytest.mark.e2e),  # through the MCP host
    ],
    indirect=["door"],
)
def test_json_reports_the_request_and_resume_allows_it(server, door, tmp_path, era, request):
    here_if_cold(door, request)
    calls = tmp_path / "calls"
    write_servers(door.env, {"asking": asking(calls, era)})
    server.queue(tool_calls(("summarise", {"text": TEXT})), Reply("A fox, jumping."), Reply("Done: a fox."))
    first = door.chat("--yes", "--json", "-t", "fox", "summarise the fox")
    obj = json.loads(first.out)
    (asked,) = obj["interrupts"]
    value = asked["value"]
    assert value["type"] == "elicitation" and value["mode"] == "form" and value["server"] == "asking", value
    assert value["requested_schema"] == {"type": "object", "properties": {}}  # nothing to fill: allow or not
    assert "asks your model (gpt-fake)" in value["message"] and "at most 100 tokens" in value["message"]
    assert f"[user] Summarise: {TEXT}" in value["message"] and "[system] You summarise in one line." in value["message"]
    assert len(server.requests) == 1  # nothing was sent to the model for the server yet
    done = door.chat("-t", "fox", "--resume", ALLOW)
    assert done.code == 0 and done.out == "Done: a fox.\n", done  # the server's answer is never shown as the reply
    asked_model = server.requests[1]
    assert sampled(asked_model), asked_model  # the server's messages alone: none of the thread's, no tools
    assert [m["content"] for m in asked_model["messages"][1:]] == [f"Summarise: {TEXT}"]
    assert asked_model.get("stop") == ["THE END"]
    assert summarised(results(server.requests[-1])[0]) == ("A fox, jumping.", "endTurn")


@pytest.mark.usefixtures("in_memory")
def test_an_answer_longer_than_the_server_asked_for_is_cut_there(server, chat_env, tmp_path):
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    server.queue(tool_calls(("summarise", {"text": TEXT, "tokens": 10})), Reply("word " * 400), Reply("Cut."))
    json.loads(chat(chat_env, "--yes", "--json", "-t", "long", "summarise").out)
    done = chat(chat_env, "--json", "-t", "long", "--resume", ALLOW)
    assert json.loads(done.out)["reply"] == "Cut.", done
    heard, why = summarised(results(server.requests[-1])[0])
    assert why == "maxTokens" and len(heard) <= 40 and heard.startswith("word word"), heard


@pytest.mark.parametrize("answer", ["decline", {"action": "cancel"}])
@pytest.mark.usefixtures("in_memory")
def test_resume_declining_the_request_sends_nothing_to_the_model(server, chat_env, tmp_path, answer):
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    server.queue(tool_calls(("summarise", {"text": TEXT})), Reply("No summary."))
    json.loads(chat(chat_env, "--yes", "--json", "-t", "no", "summarise").out)
    done = chat(chat_env, "-t", "no", "--resume", json.dumps(answer))
    assert done.code == 0 and done.out == "No summary.\n", done
    assert len(server.requests) == 2 and not any(sampled(body) for body in server.requests)
    said = "declined" if answer == "decline" else "cancelled"
    assert f"the user {said} the request" in results(server.requests[-1])[0]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.usefixtures("in_memory")
def test_chat_serve_returns_the_request_and_an_answer_allows_it(server, chat_env, here, tmp_path, era):  # noqa: F811
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls, era)})
    served = here("--yes")
    server.queue(tool_calls(("summarise", {"text": TEXT})), Reply("A fox."), Reply("Summarised."))
    status, obj = served.ask("s", "summarise the fox")
    (asked,) = obj["interrupts"]
    assert status == 200 and "asks your model" in asked["value"]["message"], obj
    status, obj = served.request("POST", "/v1/threads/s/approvals", {"answers": {asked["id"]: json.loads(ALLOW)}})
    assert status == 200 and obj["reply"] == "Summarised.", obj
    assert sampled(server.requests[1]) and summarised(results(server.requests[-1])[0]) == ("A fox.", "endTurn")
    assert ran(calls) == ["summarise"]  # the call waited in the server for the model's answer: it ran once


@pytest.mark.usefixtures("in_memory")
def test_the_request_is_answered_by_the_thread_model_whatever_the_provider(provider, tmp_path):
    """Each provider's model answers the server's request in its own wire format."""
    row, fake, env = provider
    write_servers(env, {"asking": asking(tmp_path / "calls")})
    fake.queue(Calls([("summarise", {"text": TEXT}, "call_1")]))
    first = chat(env, "--yes", "--json", "-t", "p", "summarise")
    assert json.loads(first.out)["interrupts"], first
    run = chat(env, "-t", "p", "--resume", ALLOW)
    assert run.code == 0, run
    sent = json.dumps(fake.requests)
    assert "You summarise in one line." in sent and f"Summarise: {TEXT}" in sent
    assert "summarise: You said: Summarise:" in json.dumps(fake.requests[-1]), fake.requests[-1]


@pytest.mark.usefixtures("in_memory")
def test_a_request_past_the_spending_limit_is_not_sent(server, chat_env, tmp_path):
    """The model's answer to a server is a model call as a turn's are: held within the limits before it is sent."""
    from pathlib import Path

    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    # $100 a million tokens out, answers of at most 1,000: each call's most is over $0.10, past the answer's $0.05.
    config.write_text('max_tokens = 1000\nmax_cost_answer = 0.05\n[prices."gpt-fake"]\ninput = 10.0\noutput = 100.0\n')
    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    server.queue(tool_calls(("summarise", {"text": TEXT})), Reply("never"), Reply("never either"))
    first = chat(chat_env, "--max-cost", "1", "--yes", "--json", "-t", "cost", "summarise")
    assert json.loads(first.out)["interrupts"], first
    done = chat(chat_env, "-t", "cost", "--resume", ALLOW)
    assert "the model did not answer the MCP server's request" in done.err and "max_cost_answer" in done.err, done
    assert len(server.requests) == 1 and not any(sampled(body) for body in server.requests)


# --------------------------------------------------------------------------- what a server sends, as an attacker would

GOOD = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 50}
PNG = "iVBORw0KGgo="


@pytest.mark.parametrize(
    "params, why",
    [
        ("not an object", "it is not an object"),
        ({"maxTokens": 5}, "it has no messages"),
        ({**GOOD, "messages": [{"role": "system", "content": {"type": "text", "text": "x"}}]}, "not from the user"),
        (
            {**GOOD, "messages": [{"role": "user", "content": {"type": "audio", "data": "", "mimeType": "audio/wav"}}]},
            "audio content",
        ),  # fmt: skip
        (
            {
                **GOOD,
                "messages": [{"role": "user", "content": {"type": "image", "data": "@@", "mimeType": "image/png"}}],
            },
            "not base64",
        ),  # fmt: skip
        (
            {
                **GOOD,
                "messages": [{"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "text/html"}}],
            },
            "no image type",
        ),  # fmt: skip
        (
            {
                **GOOD,
                "messages": [{"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}}]
                * (MAX_IMAGES + 1),
            },
            "more than",
        ),  # fmt: skip
        ({**GOOD, "messages": GOOD["messages"] * 51}, "more than 50 messages"),
        ({**GOOD, "systemPrompt": "x" * 100_001}, "longer than 100,000 characters"),
        ({**GOOD, "maxTokens": 0}, "maxTokens"),
        ({**GOOD, "maxTokens": True}, "maxTokens"),
        ({**GOOD, "tools": [{"name": "shell"}]}, "offers the model tools"),
    ],
)
def test_a_request_chat_cannot_answer_is_declined_with_why(params, why):
    with pytest.raises(Unreadable, match=why):
        Sampling.read(params)


def test_a_request_is_bounded_and_its_texts_shown_within_bounds():
    asked = Sampling.read(
        {
            **GOOD,
            "maxTokens": 10**9,
            "temperature": 99,
            "stopSequences": ["a" * 500, 3, "", "b", "c", "d", "e"],
            "modelPreferences": {"hints": [{"name": "claude\x1b[2J" + "x" * 200}, {"name": 5}]},
            "systemPrompt": "y" * 5_000,
        }
    )
    assert asked.max_tokens == MAX_TOKENS and asked.temperature is None
    assert asked.stop == ("a" * 100, "b", "c", "d") and len(asked.hints[0]) == 60
    question = asked.question("srv", "gpt-x")
    assert f"it asked for 1,000,000,000, chat allows {MAX_TOKENS:,}" in question["message"]
    assert len(question["message"]) < 2_200 and "more characters]" in question["message"]
    assert question["requestedSchema"] == {"type": "object", "properties": {}}

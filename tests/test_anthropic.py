"""Anthropic's models (chatcli.providers.anthropic) through langchain-anthropic, against the fake Messages API.

What Anthropic's models are for, kept: extended thinking shown apart and sent back with its
signature (the fake refuses a thread that loses it, as the API does), so a thread with tool calls
goes on; the stable prefix of each request marked for the prompt cache, its reads and writes
counted and priced as such; every failure the API gives as one line (exit 4) with the question
and any partial answer kept; the model list, every page of it. The behaviour every provider
shares is in tests/test_providers_shared.py; a thread moving between providers in
tests/test_provider_switch.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_anthropic")

from chatcli.core.events import Decision, Thinking, Token  # noqa: E402
from tests.fakes.anthropic import FakeAnthropicServer, StreamError, words  # noqa: E402
from tests.fakes.anthropic_rules import breakpoints, request_error, signature  # noqa: E402
from tests.fakeserver import Calls, Fault, Reply, closed_port_url  # noqa: E402
from tests.helpers import assert_one_error_line, chat, stored, summary  # noqa: E402

KEY = "sk-ant-test-SECRET-0123456789"
SYSTEM = "You are a helpful assistant."


@pytest.fixture
def claude(chat_env: dict[str, str]) -> Any:
    """(the fake Anthropic server, the environment that makes anthropic:claude-fake chat's model)."""
    with FakeAnthropicServer() as fake:
        yield fake, {**chat_env, "ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": KEY,
                     "CHATCLI_MODEL": "anthropic:claude-fake"}  # fmt: skip


def _db(env: dict[str, str]) -> str:
    return env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


class Approving:
    """A user who answers yes to every call, and what they saw of each turn."""

    def __init__(self) -> None:
        self.asked: list[Any] = []
        self.events: list[Any] = []

    def hear(self, event: Any) -> None:
        self.events.append(event)

    async def approve(self, call: Any) -> Decision:
        self.asked.append(call)
        return Decision("yes")

    def said(self, kind: type) -> str:
        return "".join(e.text for e in self.events if isinstance(e, kind))


# --------------------------------------------------------------------------- extended thinking


async def test_thinking_and_a_tool_call_go_on_through_approval_and_a_second_question(claude, tmp_path):
    from chatcli.config import load_settings
    from tests.helpers import a_thread

    fake, env = claude
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    settings = load_settings({"tools": "files"}, {**env, "CHATCLI_THINKING_BUDGET": "2048"}, tmp_path)
    fake.queue(Calls([("read_file", {"path": "notes.txt"}, "toolu_1")], thinking="I should read the notes"))
    fake.queue(Reply("It opens at dawn.", thinking="the notes say dawn"))
    user = Approving()
    async with a_thread(settings, "think", user) as conversation:
        first = await conversation.send("when does the harbour open?")
        assert [(c.name, c.arguments) for c in user.asked] == [("read_file", {"path": "notes.txt"})]
        assert user.said(Thinking) == "I should read the notesthe notes say dawn"
        assert user.said(Token) == "It opens at dawn." and first.interrupted is None
        fake.queue(Reply("Any time.", thinking="an easy one"))
        user.events.clear()
        await conversation.send("and thanks")
        assert user.said(Thinking) == "an easy one"
        assert await conversation.recall.last_thinking() == "an easy one", "what /think shows"
        messages = await conversation.messages()

    asked, after_tool, second = fake.requests
    assert asked["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert asked["max_tokens"] == 8192 + 2048, "the answer keeps its share beside the thinking"
    # The call goes back with the thinking that came before it, signed as it was given.
    signed = {
        "type": "thinking",
        "thinking": "I should read the notes",
        "signature": signature("I should read the notes"),
    }
    assert after_tool["messages"][1]["content"][0] == signed
    result = after_tool["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_1"
    assert "the harbour opens at dawn" in json.dumps(result)
    # The next question sends both answers back with their thinking.
    thoughts = [b for m in second["messages"] for b in m["content"] if isinstance(b, dict) and b["type"] == "thinking"]
    assert [b["thinking"] for b in thoughts] == ["I should read the notes", "the notes say dawn"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai", "human", "ai"]
    kept = [b for b in messages[1].content if isinstance(b, dict) and b.get("type") == "thinking"]
    assert kept[0]["signature"] == signature("I should read the notes"), "stored with its signature"
    # What the fake checks is what the API checks: the same request without signatures is refused.
    unsigned = json.loads(json.dumps(after_tool))
    del unsigned["messages"][1]["content"][0]["signature"]
    assert "signature: Field required" in request_error(unsigned)
    no_thinking = {**after_tool, "messages": [after_tool["messages"][0], {**after_tool["messages"][1],
                   "content": after_tool["messages"][1]["content"][1:]}, after_tool["messages"][2]]}  # fmt: skip
    assert "must start with a thinking block" in request_error(no_thinking)


def test_a_thinking_budget_under_the_apis_least_is_one_line(claude):
    fake, env = claude
    run = chat({**env, "CHATCLI_THINKING_BUDGET": "500"}, "hi")
    line = assert_one_error_line(run, 3)
    assert "thinking_budget must be at least 1,024 tokens for Anthropic models, got 500" in line, line
    assert fake.requests == []


@pytest.mark.parametrize(
    "model, thinking",
    [
        ("claude-fake", {"type": "enabled", "budget_tokens": 1024}),
        ("claude-sonnet-4-6", {"type": "adaptive"}),  # it decides how long to think; the budget turns it on
        ("claude-opus-4-7", {"type": "adaptive", "display": "summarized"}),  # takes no budget; shows a summary
    ],
)
def test_thinking_is_asked_for_as_each_model_takes_it_and_without_a_temperature(claude, model, thinking):
    fake, env = claude
    env = {**env, "CHATCLI_MODEL": f"anthropic:{model}", "CHATCLI_TEMPERATURE": "0.3"}
    assert chat({**env, "CHATCLI_THINKING_BUDGET": "1024"}, "think").code == 0
    assert fake.requests[-1]["thinking"] == thinking and "temperature" not in fake.requests[-1]
    assert chat(env, "plain").code == 0
    assert "thinking" not in fake.requests[-1]
    takes = model != "claude-opus-4-7"  # LangChain's profile: it takes no temperature at all
    assert fake.requests[-1].get("temperature") == (0.3 if takes else None)


# --------------------------------------------------------------------------- the prompt cache


def test_each_request_marks_its_stable_prefix_and_the_next_question_reads_it(claude):
    fake, env = claude
    assert chat(env, "-t", "c", "the first question").code == 0
    second = chat(env, "-t", "c", "the second question", tty=True)
    assert second.code == 0, second
    first_request, second_request = fake.requests
    assert breakpoints(first_request) == ["system.0", "messages.0.content.0"]
    # The prompt, the earlier turns (up to the answer before the new question), and the whole request.
    assert breakpoints(second_request) == ["system.0", "messages.1.content.0", "messages.2.content.0"]
    [_, _, _, answer] = stored(_db(env), "c")
    read = words(SYSTEM) + words("the first question")
    assert answer.usage_metadata["input_token_details"]["cache_read"] == read
    assert answer.usage_metadata["input_token_details"]["cache_creation"] == words(
        "You said: the first question the second question"
    )
    assert f"({read} cached)" in " ".join(second.err.split()), second


def test_each_tool_round_and_the_next_question_read_all_the_request_before_from_the_cache(claude, tmp_path):
    fake, env = claude
    (tmp_path / "notes.txt").write_text("a note\n")
    tools = ("--tools", "files", "--yes")  # the same tools each time: they come first in what is cached
    assert chat(env, "-t", "t", *tools, "a long first question about the notes " * 20, cwd=tmp_path).code == 0
    fake.queue(*[Calls([("read_file", {"path": "notes.txt"}, f"toolu_{n}")]) for n in range(3)])
    assert chat(env, "-t", "t", *tools, "read it three times", cwd=tmp_path).code == 0
    assert chat(env, "-t", "t", *tools, "thanks", cwd=tmp_path).code == 0
    answers = [m.usage_metadata for m in stored(_db(env), "t") if m.type == "ai"]
    assert len(answers) == 6
    for before, after in zip(answers, answers[1:]):  # each request starts with the one before, less its answer
        assert after["input_token_details"]["cache_read"] >= before["input_tokens"], answers
        assert (
            after["input_token_details"]["cache_read"] + after["input_token_details"]["cache_creation"]
            == (after["input_tokens"])
        ), "all of it is written for the next one"


def test_the_earlier_turns_are_read_after_a_round_of_many_calls_at_once(claude, tmp_path):
    fake, env = claude
    (tmp_path / "notes.txt").write_text("a note\n")
    tools = ("--tools", "files", "--yes")
    assert chat(env, "-t", "m", *tools, "a long first question about the notes " * 20, cwd=tmp_path).code == 0
    calls = [("read_file", {"path": "notes.txt"}, f"toolu_{n}") for n in range(11)]  # 22 blocks in one round
    fake.queue(Calls(calls))
    assert chat(env, "-t", "m", *tools, "read it eleven times", cwd=tmp_path).code == 0
    after_the_round = [m for m in stored(_db(env), "m") if m.type == "ai"][-1].usage_metadata
    earlier = words(SYSTEM) + words("a long first question about the notes " * 20)
    assert after_the_round["input_token_details"]["cache_read"] >= earlier, after_the_round


def test_cache_reads_and_writes_are_priced_as_such(claude, monkeypatch):
    fake, env = claude
    proxy = f"http://127.0.0.1:{fake.port}"  # the fake answers as api.anthropic.invalid, a hosted name
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    hosted = {**env, "ANTHROPIC_BASE_URL": "http://api.anthropic.invalid", "HTTP_PROXY": proxy, "NO_PROXY": ""}
    hosted["CHATCLI_MODEL"] = "anthropic:claude-sonnet-4-6"
    assert chat(hosted, "-t", "p", "the first question").code == 0
    assert chat(hosted, "-t", "p", "the second question").code == 0
    usages = [m.usage_metadata for m in stored(_db(env), "p") if m.type == "ai"]
    costs = [m.response_metadata["chatcli_cost_usd"] for m in stored(_db(env), "p") if m.type == "ai"]
    for usage, cost in zip(usages, costs):  # Sonnet 4.6: $3 in, $3.75 written, $0.30 read, $15 out a million
        details = usage["input_token_details"]
        plain = usage["input_tokens"] - details["cache_read"] - details["cache_creation"]
        dollars = plain * 3 + details["cache_creation"] * 3.75 + details["cache_read"] * 0.30
        assert cost == pytest.approx((dollars + usage["output_tokens"] * 15) / 1e6)
    assert usages[1]["input_token_details"]["cache_read"] > 0
    report = json.loads(chat(hosted, "stats", "--json").out)["total"]
    assert report["cost_usd"] == pytest.approx(sum(costs))
    assert report["cache_read_tokens"] == sum(u["input_token_details"]["cache_read"] for u in usages)


# --------------------------------------------------------------------------- failures, in one line


ERRORS = [
    (Fault(status=529), "is overloaded (529)"),
    (Fault(status=429, headers={"retry-after": "0"}), "rate limited by"),
    (Fault(status=401), "authentication refused"),
    (Fault(status=403), "access denied"),
    (Fault(status=404), "model 'claude-fake' not found"),
    (Fault(status=500), "server error"),
    (Fault(status=400, message="prompt is too long: 250000 tokens > 200000 maximum"), "window (200,000 tokens)"),
    (Fault(malformed=True), "sent a malformed stream"),
]


@pytest.mark.parametrize(
    "fault, said",
    ERRORS,
    ids=["overloaded", "rate-limit", "bad-key", "denied", "no-model", "server", "too-long", "malformed"],
)
def test_each_failure_is_one_line_and_keeps_the_question(claude, fault, said):
    fake, env = claude
    fake.queue(fault)
    run = chat(env, "-t", "f", "will this work?")
    line = assert_one_error_line(run, 4)
    assert said in line, line
    assert "SECRET" not in run.err
    assert summary(stored(_db(env), "f"))[0][:2] == ("human", "will this work?")


def test_a_bad_key_names_the_variable_to_check(claude):
    fake, env = claude
    fake.queue(Fault(status=401))
    run = chat(env, "hi")
    assert "(check ANTHROPIC_API_KEY)" in run.err, run


def test_an_overload_in_the_middle_of_the_answer_keeps_the_part_that_arrived(claude):
    fake, env = claude
    fake.queue(StreamError(after=3, text="alpha beta gamma delta epsilon"))
    run = chat(env, "-t", "o", "tell me")
    line = assert_one_error_line(run, 4)
    assert "is overloaded" in line and run.out.startswith("alpha beta gamma"), run
    kept = summary(stored(_db(env), "o"))
    assert kept[1][0] == "ai" and kept[1][1].startswith("alpha beta gamma") and kept[1][2], kept


def test_no_server_is_one_line_naming_the_variable(claude):
    fake, env = claude
    run = chat({**env, "ANTHROPIC_BASE_URL": closed_port_url().removesuffix("/v1")}, "hi")
    line = assert_one_error_line(run, 4)
    assert "could not open the connection" in line and "check ANTHROPIC_BASE_URL" in run.err, run


def test_a_server_that_goes_silent_is_one_line_and_keeps_the_part_that_arrived(claude):
    fake, env = claude
    fake.queue(Fault(stall_after=2, text="slow and steady wins", stall=10))
    run = chat({**env, "CHATCLI_TIMEOUT": "1"}, "-t", "s", "go")
    line = assert_one_error_line(run, 4)
    assert "stalled" in line and run.out.startswith("slow and"), run
    assert summary(stored(_db(env), "s"))[1][1].startswith("slow and")


# --------------------------------------------------------------------------- the model list


def test_models_lists_every_page_of_the_apis_list(claude):
    fake, env = claude
    fake.models = [f"claude-test-{n:02d}" for n in range(45)]  # the API pages by 20 unless asked for more
    run = chat(env, "models", "--json")
    assert run.code == 0, run
    listed = [name for name in json.loads(run.out) if name.startswith("anthropic:")]  # beside the endpoint's
    assert listed == [f"anthropic:claude-test-{n:02d}" for n in range(45)]


def test_a_model_list_refused_is_one_line(claude):
    fake, env = claude
    alone = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
    run = chat({**alone, "ANTHROPIC_API_KEY": ""}, "models")
    assert run.code == 3 and "no API key for Anthropic: set ANTHROPIC_API_KEY" in run.err, run
    beside = chat({**env, "ANTHROPIC_API_KEY": ""}, "models")  # another provider lists: a line, not the end
    assert beside.code == 0 and beside.out.splitlines() == ["gpt-4o", "gpt-4o-mini", "gpt-fake"], beside
    assert beside.err_lines == ["Anthropic listed nothing: no API key for Anthropic: set ANTHROPIC_API_KEY"], beside

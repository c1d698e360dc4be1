"""Interrupts in LangChain's human-in-the-loop shape (chatcli.core.interrupts): chat's own tool approvals are asked in
it (so a client such as agent-chat-ui can answer them), a thread stored waiting in chat's older shape still resumes,
and every shape of question and answer is read as a graph raises and a client sends it."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from chatcli.core import interrupts
from chatcli.core.events import Decision, ToolCall
from tests.fakeserver import Reply, tool_calls
from tests.helpers import Tokens


def tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def _stopped_at_the_question(conv, text: str) -> None:
    """Run a turn to its approval question and leave it unanswered (chat was killed there)."""
    from langchain_core.messages import HumanMessage

    async for _ in conv.app.astream({"messages": [HumanMessage(text)]}, conv.config):
        pass


async def test_chats_own_approval_is_a_human_in_the_loop_request_a_client_can_answer(server, settings):
    from langgraph.types import Command

    from tests.helpers import a_thread

    settings = replace(settings, tools=("shell",))
    server.queue(tool_calls(("shell", {"command": "echo asked"})), Reply("ran the edited one"))
    async with a_thread(settings, "hitl") as conv:
        await _stopped_at_the_question(conv, "go")
        state = await conv.app.aget_state(conv.config)
        request = state.interrupts[0].value
        assert [(a["name"], a["args"]) for a in request["action_requests"]] == [("shell", {"command": "echo asked"})]
        assert request["review_configs"] == [
            {"action_name": "shell", "allowed_decisions": ["approve", "edit", "reject"]}
        ]
        # What agent-chat-ui sends back: decisions in order, no ids.
        edit = {"type": "edit", "edited_action": {"name": "shell", "args": {"command": "echo edited-by-client"}}}
        async for _ in conv.app.astream(Command(resume={"decisions": [edit]}), conv.config):
            pass
        assert [c for p in await conv.waiting() for c in p.calls] == []
    result = tool_messages(server.requests[1])[0]["content"]
    assert "edited-by-client\n[exit code 0]" in result and "the user edited the arguments" in result


async def test_a_thread_waiting_in_chats_older_shape_is_asked_again_and_goes_on(server, settings, monkeypatch):
    from tests.helpers import a_thread

    settings = replace(settings, tools=("shell",))
    server.queue(tool_calls(("shell", {"command": "echo old-shape"})), Reply("ran it"))
    with monkeypatch.context() as older:  # the tools step as chat had it before: {"calls": [...]}
        older.setattr(interrupts, "approval_request", lambda calls, *_: {"calls": [asdict(c) for c in calls]})
        async with a_thread(settings, "old") as conv:
            await _stopped_at_the_question(conv, "go")
            state = await conv.app.aget_state(conv.config)
            assert "calls" in state.interrupts[0].value
    asked = []

    async def approve(call):
        asked.append(call)
        return Decision("no", reason="not that one")

    async with a_thread(settings, "old", Tokens(approve=approve)) as conv:
        result = await conv.resume()
    assert [(c.name, c.arguments) for c in asked] == [("shell", {"command": "echo old-shape"})]
    assert result.text == "ran it"
    assert (
        tool_messages(server.requests[1])[0]["content"]
        == "not run: the user refused this call. The user says: not that one"
    )


def test_every_shape_of_question_is_read_with_its_calls_and_allowed_decisions():
    batched = {
        "action_requests": [
            {"name": "send_email", "args": {"to": "a@b.c"}, "description": "Send it?"},
            {"name": "delete", "arguments": {"path": "/tmp/x"}},  # LangChain's first releases said "arguments"
        ],
        "review_configs": [
            {"action_name": "send_email", "allowed_decisions": ["approve", "reject"]},
            {"action_name": "delete", "allowed_decisions": ["approve", "edit", "reject", "respond"]},
        ],
    }
    read = interrupts.read(batched, "i1")
    assert read.shape == "hitl" and not read.keyed
    assert [(c.name, c.arguments) for c in read.calls] == [
        ("send_email", {"to": "a@b.c"}),
        ("delete", {"path": "/tmp/x"}),
    ]
    assert [r.allowed for r in read.reviews] == [("approve", "reject"), ("approve", "edit", "reject", "respond")]
    assert read.reviews[0].description == "Send it?"
    per_call = interrupts.read(
        {"type": "tool_approval", "tool_call_id": "c9", "name": "ask", "args": {}, "description": "d"}
    )
    assert per_call.shape == "tool_approval" and per_call.calls[0].id == "c9"
    free = interrupts.read({"question": "Which city?"}, "i2")
    assert not free.is_approval and free.question().value == {"question": "Which city?"}
    assert not interrupts.read("Which city?").is_approval


def test_decisions_go_back_in_the_shape_they_were_asked_in():
    calls = [ToolCall("a", "send_email", "send_email", None, {"to": "x"}), ToolCall("b", "delete", "delete", None, {})]
    batched = interrupts.Pending("i", {}, "hitl", tuple(calls), (), keyed=False)
    decisions = [Decision("yes", args={"to": "y"}), Decision("no", reason="never")]
    assert interrupts.approval_answer(batched, decisions) == {
        "decisions": [
            {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "y"}}},
            {"type": "reject", "message": "never"},
        ]
    }
    one = interrupts.Pending("i", {}, "tool_approval", (calls[0],), ())
    assert interrupts.approval_answer(one, [Decision("respond", reason="Paris")]) == {
        "type": "respond",
        "message": "Paris",
    }
    assert interrupts.approval_answer(one, [Decision("yes", args={"to": "x"})]) == {"type": "approve"}  # unchanged


def test_chats_tools_step_finds_each_calls_decision_by_id_or_in_order():
    asked = [ToolCall("a", "shell", "shell", None, {}), ToolCall("b", "shell", "shell", None, {})]
    # Named by id: a batch asked again shorter (an "always" since) still gets each decision right.
    named = {
        "decisions": [{"type": "reject", "tool_call_id": "a", "by": "nobody"}, {"type": "approve", "tool_call_id": "b"}]
    }
    assert interrupts.decisions_by_call(named, asked[1:]) == {"b": {"action": "yes"}}
    assert interrupts.decisions_by_call(named, asked)["a"] == {"action": "no", "by": "nobody"}
    in_order = {"decisions": [{"type": "approve"}, {"type": "respond", "message": "42"}]}
    assert interrupts.decisions_by_call(in_order, asked) == {
        "a": {"action": "yes"},
        "b": {"action": "respond", "reason": "42"},
    }
    older = {"a": {"action": "yes"}, "b": {"action": "no", "reason": "r"}}
    assert interrupts.decisions_by_call(older, asked) == older
    assert interrupts.decisions_by_call("yes", asked) == {}  # not an answer: nothing runs


def test_a_typed_answer_is_json_when_it_is_json_and_text_otherwise():
    assert interrupts.typed_answer('{"city": "Paris"}') == {"city": "Paris"}
    assert interrupts.typed_answer("Paris, please") == "Paris, please"
    assert interrupts.typed_answer("true") is True
    several = [interrupts.Pending("i1", 1), interrupts.Pending("i2", 2)]
    assert interrupts.resume_value(several, ["x", "y"]) == {"i1": "x", "i2": "y"}
    assert interrupts.resume_value(several[:1], ["x"]) == {"i1": "x"}  # by id: never the next question's
    assert interrupts.resume_value([interrupts.Pending(None, 1)], ["x"]) == "x"  # no id to give it by


def test_the_approval_question_offers_only_the_decisions_a_review_allows():
    from chatcli.ui.approval import question_for
    from tests.test_approval_inprocess import KEYS
    from tests.test_tools_pty import QUESTION

    assert question_for(("approve", "edit", "reject"))[:2] == (QUESTION + " ", KEYS)  # chat's own calls, as always
    asked, keys, answering = question_for(("approve", "reject"))
    assert asked == "Run it? [y]es / [N]o / [a]lways this tool / [r]eason / [v]iew all / [q] no to all: "
    assert "e" not in answering and "" in answering  # Enter is no
    asked, keys, answering = question_for(("respond",))
    assert asked == "Answer it? [t]ype the answer / [v]iew all: " and keys == "press t, v"
    assert answering == {"t", "v", "?"}  # Enter, n and q would reject: not allowed here


def test_a_typed_answer_is_taken_over_http_only_where_the_call_allows_one():
    """serve's approvals (and the page's "Type the answer"): a call whose request allows ``respond`` takes the user's
    answer for the tool's; chat's own calls (yes, edit or no) refuse one, in one line, and nothing is answered."""
    from chatcli.errors import UsageError
    from chatcli.service.inbox import Answers

    batched = {
        "action_requests": [{"name": "lookup", "args": {"q": "x"}}, {"name": "delete", "args": {"path": "/tmp/x"}}],
        "review_configs": [
            {"action_name": "lookup", "allowed_decisions": ["approve", "reject", "respond"]},
            {"action_name": "delete", "allowed_decisions": ["approve", "reject"]},
        ],
    }
    waiting = interrupts.read(batched, "i1")
    lookup, delete = waiting.calls
    typed = Answers({lookup.id: {"action": "respond", "reason": "Paris"}})
    typed.check([waiting])
    assert typed.decision(lookup) == Decision("respond", reason="Paris")
    assert interrupts.approval_answer(waiting, [typed.decision(lookup), Decision("no")])["decisions"][0] == {
        "type": "respond",
        "message": "Paris",
    }
    for pending, call in ((waiting, delete), (interrupts.read({"type": "tool_approval", "tool_call_id": "c9",
                                                              "name": "shell", "args": {}}), None)):  # fmt: skip
        call = call or pending.calls[0]
        with pytest.raises(UsageError, match=f"call {call.id} takes no typed answer"):
            Answers({call.id: {"action": "respond", "reason": "rm -rf /"}}).check([pending])


def test_chat_inbox_answer_in_a_terminal_sends_a_typed_answer_as_one():
    """``chat inbox answer ID`` asked in the terminal: the prompt's "type the answer" goes to the graph as its
    answer (``respond``), as the page and serve send it, never as a refusal."""
    import asyncio

    from chatcli.service.answering import ask

    waiting = interrupts.read(
        {
            "action_requests": [{"name": "lookup", "args": {"q": "x"}}],
            "review_configs": [{"action_name": "lookup", "allowed_decisions": ["approve", "reject", "respond"]}],
        },
        "i1",
    )

    class Typed:
        async def approve(self, call, review=None):
            return Decision("respond", reason="Paris")

    answers = asyncio.run(ask(Typed(), [waiting], own=False))
    call = waiting.calls[0]
    assert answers is not None and answers.decision(call) == Decision("respond", reason="Paris")
    answers.check([waiting])

"""MCP prompts and resources, as Claude Code users know them: ``/mcp__SERVER__PROMPT arg…`` sends
what the prompt gives; ``@SERVER:URI`` in a question attaches the resource; Tab, /help, /tools and
`chat tools` know both. The server is tests/mcp/notes.py, written with FastMCP, made in this process
(tests/mcp_servers.in_memory)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply
from tests.helpers import chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_commands import chat as conversation
from tests.test_mcp import write_servers

NOTES = Path(__file__).parent / "mcp" / "notes.py"

pytestmark = pytest.mark.usefixtures("in_memory")


def servers() -> dict[str, Any]:
    return {"notes": mcp_servers.stdio(NOTES)}


@pytest.fixture
def with_notes(settings: Any, tmp_path: Path) -> Any:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers()}))
    return dataclasses.replace(settings, mcp_config=str(path))


def last_question(server: Any) -> Any:
    return server.requests[-1]["messages"][-1]["content"]


# --------------------------------------------------------------------------- prompts


async def test_a_prompt_is_a_slash_command_and_its_text_is_the_question(server, with_notes):
    async with conversation(with_notes) as c:
        await c.conversation.toolbox.settle(30)
        server.queue(Reply("Looks fine."), Reply("Reviewed for style."), Reply("Stand-up."))
        await c.run("/mcp__notes__review 'x = 1'")
        assert last_question(server) == "Review this code for bugs:\nx = 1"
        await c.run("/mcp__notes__review focus=style 'y = 2'")
        assert last_question(server) == "Review this code for style:\ny = 2"
        await c.run("/mcp__notes__standup")
        assert (
            last_question(server)
            == "user: What did we do yesterday?\n\nassistant: Let me look at the notes.\n\nuser: And today?"
        )
        stored = [m.text for m in await c.conversation.messages() if m.type == "human"]
        assert stored[0] == "Review this code for bugs:\nx = 1" and len(stored) == 3


async def test_a_prompt_used_wrongly_is_one_line_and_nothing_is_sent(server, with_notes):
    from chatcli.errors import UsageError

    async with conversation(with_notes) as c:
        await c.conversation.toolbox.settle(30)
        with pytest.raises(UsageError, match=r"/mcp__notes__review needs code: /mcp__notes__review code \[focus\]"):
            await c.run("/mcp__notes__review")
        with pytest.raises(UsageError, match="takes 2 arguments"):
            await c.run("/mcp__notes__review a b c")
        with pytest.raises(UsageError, match="unknown command /mcp__notes__nope") as unknown:
            await c.run("/mcp__notes__nope")
        assert "/mcp__notes__review" in str(unknown.value.hint)
    assert server.requests == []


async def test_help_tools_and_tab_know_the_prompts_and_resources(server, with_notes):
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from chatcli.ui.completion import CommandCompleter, ThreadCache

    async with conversation(with_notes) as c:
        toolbox = c.conversation.toolbox
        await toolbox.settle(30)
        helped = await c.run("/help")
        assert "/mcp__notes__review code [focus]  Review a piece of code." in helped
        assert "/mcp__notes__standup" in helped
        listed = await c.run("/tools")
        assert "/mcp__notes__review code [focus]" in listed and "@notes:notes://today  Today's notes" in listed
        complete = CommandCompleter(ThreadCache(), toolbox=lambda: toolbox)

        def tab(text: str) -> list[str]:
            return [
                item.text for item in complete.get_completions(Document(text), CompleteEvent(completion_requested=True))
            ]

        assert tab("/mcp__notes__r") == ["/mcp__notes__review "]
        assert tab("summarise @notes:notes://t") == ["@notes:notes://today"]
        assert set(tab("look at @no")) == {"@notes:notes://today", "@notes:notes://logo"}
        assert tab("mail me@no") == []


def test_chat_tools_lists_prompts_and_resources(chat_env):
    write_servers(chat_env, servers())
    run = chat(chat_env, "tools", "--json")
    assert run.code == 0, run
    (notes,) = json.loads(run.out)
    assert [p["command"] for p in notes["prompts"]] == [
        "/mcp__notes__review",
        "/mcp__notes__standup",
        "/mcp__notes__handoff",
    ]
    assert notes["prompts"][0]["arguments"] == [
        {"name": "code", "required": True, "description": ""},
        {"name": "focus", "required": False, "description": ""},
    ]
    assert [(r["mention"], r["mime_type"]) for r in notes["resources"]] == [
        ("@notes:notes://today", "text/plain"),
        ("@notes:notes://logo", "image/png"),
    ]
    text = chat(chat_env, "tools").out
    assert "@notes:notes://today" in text and "/mcp__notes__standup" in text


# --------------------------------------------------------------------------- resources


async def test_a_mentioned_resource_goes_with_the_question(server, with_notes):
    async with conversation(with_notes) as c:
        server.queue(Reply("Milk and Ada."), Reply("A pixel."))
        await c.conversation.send("summarise @notes:notes://today, please", mentions="@notes:notes://today")
        sent = last_question(server)
        assert isinstance(sent, list) and sent[0]["type"] == "text"
        assert sent[0]["text"].startswith("summarise @notes:notes://today, please\n\nFile `notes:notes://today`:")
        assert (
            "Buy milk. Call Ada about the \x1b]0;PWNED\x07 release." in sent[0]["text"]
        )  # the model gets the data as it is
        await c.conversation.send("what is @notes:notes://logo?", mentions="what is @notes:notes://logo?")
        parts = last_question(server)
        assert [p["type"] for p in parts] == ["text", "image_url"] and parts[1]["image_url"]["url"].startswith(
            "data:image/png;base64,"
        )


async def test_a_resource_that_cannot_be_read_sends_nothing_and_other_ats_stay_text(server, with_notes):
    from chatcli.errors import UsageError

    async with conversation(with_notes) as c:
        with pytest.raises(UsageError, match="MCP server notes could not give @notes:notes://nowhere") as failed:
            await c.conversation.send("read @notes:notes://nowhere", mentions="read @notes:notes://nowhere")
        assert failed.value.hint == "nothing was sent"
        assert server.requests == [] and await c.conversation.messages() == []
        server.queue(Reply("ok"))
        typed = "mail me@example.com about @elsewhere:thing"
        await c.conversation.send(typed, mentions=typed)
        assert last_question(server) == "mail me@example.com about @elsewhere:thing"


async def test_mentions_past_what_a_question_carries_are_refused_before_any_is_read(server, with_notes, tmp_path):
    """Mentions count with the files attached, before any resource is read (a reading would fail first here: these
    resources do not exist), and nothing is sent."""
    from chatcli.content.attachments import MAX_FILES, read_attachment
    from chatcli.errors import UsageError

    many = " ".join(f"@notes:notes://missing{i}" for i in range(MAX_FILES + 1))
    (tmp_path / "a.txt").write_text("a file")
    async with conversation(with_notes) as c:
        with pytest.raises(UsageError, match=f"{MAX_FILES + 1} files: at most {MAX_FILES} go with one question"):
            await c.conversation.send(f"read {many}", mentions=f"read {many}")
        files = [read_attachment(str(tmp_path / "a.txt"))] * MAX_FILES
        with pytest.raises(UsageError, match=f"{MAX_FILES + 1} files: at most {MAX_FILES}"):
            await c.conversation.send("and @notes:notes://today", files, mentions="and @notes:notes://today")
        assert server.requests == [] and await c.conversation.messages() == []


def test_a_one_shot_question_attaches_a_mentioned_resource(server, chat_env):
    write_servers(chat_env, servers())
    server.queue(Reply("Summarised."))
    run = chat(chat_env, "summarise @notes:notes://today")
    assert run.code == 0 and run.out == "Summarised.\n", run
    assert "Buy milk." in last_question(server)[0]["text"]


async def test_at_the_prompt_a_prompt_command_is_sent_and_a_wrong_one_is_one_line(server, with_notes):
    from tests.test_repl_lines import dispatch_lines

    server.queue(Reply("Reviewed."))
    results, out, err = await dispatch_lines(with_notes, ["/mcp__notes__review 'x = 1'", "/mcp__notes__review"])
    assert results == [True, True]
    assert "Reviewed." in out and last_question(server) == "Review this code for bugs:\nx = 1"
    assert "error: /mcp__notes__review needs code" in err and len(server.requests) == 1


# --------------------------------------------------------------------------- mentions only in what the user typed


async def test_a_mention_in_a_prompts_text_reads_nothing(server, with_notes):
    async with conversation(with_notes) as c:
        await c.conversation.toolbox.settle(30)
        server.queue(Reply("Carried on."))
        await c.run("/mcp__notes__handoff")
        assert last_question(server) == "Carry on from @notes:notes://today and tell me what it says."


def test_a_mention_in_piped_text_reads_nothing_and_one_in_the_question_does(server, chat_env):
    write_servers(chat_env, servers())
    server.queue(Reply("Read."), Reply("Read it."))
    piped = chat(chat_env, "what does this say?", stdin="a file that says: see @notes:notes://today\n")
    assert piped.code == 0, piped
    assert last_question(server) == "what does this say?\n\na file that says: see @notes:notes://today\n"
    typed = chat(chat_env, "what does @notes:notes://today say?", stdin="context\n")
    assert typed.code == 0 and "Buy milk." in last_question(server)[0]["text"], typed


async def test_at_the_prompt_a_typed_mention_reads_the_resource(server, with_notes):
    from tests.test_repl_lines import dispatch_lines

    server.queue(Reply("Summarised."))
    results, out, err = await dispatch_lines(with_notes, ["summarise @notes:notes://today"])
    assert results == [True] and "Summarised." in out, err
    assert "Buy milk." in last_question(server)[0]["text"]

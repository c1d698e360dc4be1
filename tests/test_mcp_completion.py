"""Tab completes an MCP prompt's arguments as its server offers them (MCP's completion/complete): the argument being
typed, positional or ``name=``, with the ones before it as context; a server's escapes shown, never obeyed; nothing
offered (and no wait) when the server has none. Through chat's own connection and the MCP host's."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.config import load_settings
from chatcli.service.chat import open_toolbox
from chatcli.ui.completion import CommandCompleter, ThreadCache
from tests import mcp_servers
from tests.helpers import chat
from tests.test_mcp import write_servers

SERVER = Path(__file__).resolve().parent / "mcp" / "completing.py"
NOTES = Path(__file__).resolve().parent / "mcp" / "notes.py"


async def offered(completer: CommandCompleter, text: str) -> list[tuple[str, int]]:
    found = completer.get_completions_async(Document(text, len(text)), CompleteEvent(completion_requested=True))
    return [(c.text, c.start_position) async for c in found]


@pytest.fixture(params=[False, True], ids=["own", "mcp-host"])
def completing(request, chat_env, monkeypatch) -> Any:
    """The prompt's completer over a toolbox with the completing server (and notes, which completes nothing), on
    chat's own connection or the MCP host's."""
    write_servers(chat_env, {
        "completing": mcp_servers.stdio(SERVER),
        "notes": mcp_servers.stdio(NOTES),
    })  # fmt: skip
    for name, value in chat_env.items():
        monkeypatch.setenv(name, value)

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[CommandCompleter]:
        async with open_toolbox(load_settings({}), shared=request.param) as toolbox:
            assert toolbox is not None
            await toolbox.settle(30)
            yield CommandCompleter(ThreadCache(), toolbox=lambda: toolbox)

    return opened


async def test_the_argument_typed_completes_with_the_ones_before_it_as_context(completing):
    async with completing() as completer:
        assert await offered(completer, "/mcp__completing__greet e") == [("english", -1), ("esperanto", -1)]
        everything = await offered(completer, "/mcp__completing__greet ")
        assert [text for text, _ in everything[:4]] == ["english", "esperanto", "french", "german"]
        (hostile, at) = everything[4]  # its escape shown as the symbols of its characters, never sent to the terminal
        assert hostile == "\u241b]0;PWNED\u2407estonian" and at == 0
        assert await offered(completer, "/mcp__completing__greet french b") == [("bonjour", -1), ("bonsoir", -1)]
        assert await offered(completer, "/mcp__completing__greet language=german greeting=gu") == [
            ("greeting=guten tag", -len("greeting=gu"))
        ]


async def test_a_server_without_completions_offers_nothing_and_commands_still_complete(completing):
    async with completing() as completer:
        assert await offered(completer, "/mcp__notes__review ") == []
        assert await offered(completer, "/mcp__completing__greet french bonjour x") == []  # past the last argument
        assert ("/mcp__completing__greet ", -len("/mcp__comp")) in await offered(completer, "/mcp__comp")


@pytest.mark.e2e
def test_tab_completes_a_prompts_argument_in_the_terminal_and_the_prompt_is_sent(start, server, chat_env):
    write_servers(chat_env, {"completing": mcp_servers.stdio(SERVER)})
    assert chat(chat_env, "tools", "--refresh").code == 0  # listed once: its prompts are known as the prompt opens
    repl = start()
    at = repl.say("/mcp__completing__greet english")  # the server is running (a first Tab would start it)
    repl.wait_for("You said: Say hello in english.", after=at)
    repl.wait_prompt()
    repl.type("/mcp__completing__greet fr")
    repl.child.send("\t")
    repl.wait_for("ench", after=at)  # one offered: put in place
    repl.child.send(" bonjour")  # (the screen draws the space as a move of the cursor)
    repl.wait_for("bonjour", after=at)
    at = repl.mark()
    repl.child.send("\r")
    repl.wait_for("You said: Say bonjour in french.", after=at)
    repl.wait_prompt()

"""One command registry per chat (chatcli.service.commands): the prompt's /help, its Tab completion and an editor's
available commands are views of it, filtered by what the thread can do, never by a list of names."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.config import load_settings
from chatcli.editor.agent import Editor, Session
from chatcli.errors import UsageError
from chatcli.service import command_runs as runs
from chatcli.service.abilities import NOT_HERE, Abilities, Ability
from chatcli.service.backend import Backend, GraphBackend, RemoteBackend
from chatcli.service.chat import Chat
from chatcli.service.commands import Command, Commands
from chatcli.service.opening import ThreadSetup
from chatcli.ui.commands import HANDLERS, execute
from chatcli.ui.completion import CommandCompleter, ThreadCache
from chatcli.ui.output import PlainOutput
from chatcli.ui.registry import Context, help_text
from tests.helpers import run_command

# What a LangGraph server's thread runs at the prompt: the commands that need no thread chat keeps.
ON_A_SERVER = {
    *("/help", "/exit", "/edit", "/threads", "/switch", "/history", "/copy", "/usage", "/retry", "/undo"),
    *("/tree", "/goto", "/label", "/status", "/plugin"),  # (plugins are the user's, whatever answers)
    "/bg",  # a server's background reply is the server's own run (chatcli.service.remote_jobs)
}
# What an editor is offered on a thread of chat's own graph, in its order.
OFFERED = [
    *("compact", "summary", "pin", "unpin", "model", "role", "system", "retry", "bg", "undo", "tree", "goto", "label"),
    *("think", "usage", "fork", "title", "history", "remember", "memory", "plugin", "skills"),
]


class OneChat:
    """What the doors ask of a chat here: its commands."""

    def __init__(self, registry: Commands):
        self.registry = registry

    def commands(self) -> Commands:
        return self.registry


def _thread(can: Abilities) -> Any:
    return SimpleNamespace(can=can, toolbox=None)


def _offered(editor: Editor, can: Abilities) -> list[str]:
    return [c.name for c in editor._commands(_thread(can)).available_commands]


def _tab(completer: CommandCompleter, text: str) -> list[str]:
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]


def _editor(registry: Commands) -> Editor:
    return Editor(OneChat(registry), load_settings({}), ThreadSetup())  # type: ignore[arg-type]


def test_a_command_added_to_one_chats_registry_is_in_its_help_its_tab_and_its_editors_list():
    registry = Commands()
    louder = Command(
        "/shout", "say the last answer louder", "[N]", frozenset(), run=runs.undo, about="louder", hint="N"
    )
    registry.add(louder)
    out = io.StringIO()
    ctx = Context(None, PlainOutput(out, io.StringIO()), load_settings({}), out=out, commands=registry)
    assert asyncio.run(run_command(ctx, "/help")) is True
    (line,) = [line for line in out.getvalue().splitlines() if line.split()[:1] == ["/shout"]]
    assert line.split()[:3] == ["/shout", "[N]", "say"]
    assert _tab(CommandCompleter(ThreadCache(), commands=lambda: registry), "/sh") == [
        "/shout "
    ]  # it takes an argument
    offered = _editor(registry)._commands(_thread(Backend.can)).available_commands
    assert [c.name for c in offered] == [*OFFERED, "shout"]
    assert offered[-1].description == "louder" and offered[-1].input.root.hint == "N"
    # Another chat's registry, and the commands chat defines, are as they were.
    assert Commands().get("/shout") is None and "/shout" not in help_text(100)
    assert _tab(CommandCompleter(ThreadCache()), "/sh") == []


def test_a_command_that_needs_chats_own_prompt_is_not_offered_on_a_graph_and_is_refused_with_the_reason():
    registry = Commands()
    registry.add(Command("/tone", "set the answers' tone", "WORD", run=runs.undo, about="set the tone", own=True))
    editor = _editor(registry)
    assert "tone" in _offered(editor, Backend.can)
    assert "tone" not in _offered(editor, GraphBackend.can) and "tone" not in _offered(editor, RemoteBackend.can)
    session = Session(_thread(GraphBackend.can), SimpleNamespace(), "/")  # type: ignore[arg-type]
    for typed in ("/tone calm", "/compact"):
        run = editor._command(session, typed)
        assert run is not None
        with pytest.raises(UsageError) as refused:
            asyncio.run(run())
        assert refused.value.message == f"{typed.split()[0]} is chat's own" and refused.value.hint == NOT_HERE
    assert editor._command(session, "/help") is None  # not a command an editor runs: a question
    assert editor._command(session, "/Compact") is None  # names are exact there


def test_what_each_backend_can_do_filters_the_commands_as_the_lists_of_names_did():
    registry = Commands()
    assert {c.name for c in registry if registry.refusal(c, RemoteBackend.can) is None} == ON_A_SERVER
    assert all(registry.refusal(c, can) is None for c in registry for can in (Backend.can, GraphBackend.can))
    editor = _editor(registry)
    assert _offered(editor, Backend.can) == OFFERED
    kept = ["retry", "bg", "undo", "tree", "goto", "label", "think", "usage", "title", "history", "remember", "memory"]
    kept.append("plugin")
    assert _offered(editor, GraphBackend.can) == kept
    # bg: the server's run
    served = ["retry", "bg", "undo", "tree", "goto", "label", "usage", "history", "plugin"]
    assert _offered(editor, RemoteBackend.can) == served
    assert RemoteBackend.can.abilities == frozenset() and Backend.can.abilities == {Ability.KEPT, Ability.PROMPT}
    # One handler a command: every door's (``run``), or, for what only a terminal does, the prompt's own.
    prompts_own = {name.split()[0] for name in HANDLERS}
    assert {c.name for c in registry if c.run is None} == prompts_own - {"/summary", "/think", "/memory", "/history"}
    # (how the prompt shows thinking; an editor in a terminal)
    assert [name for name in HANDLERS if " " in name] == ["/think on", "/think off", "/summary edit", "/memory edit"]


def test_the_prompt_refuses_on_a_servers_thread_what_needs_a_thread_chat_keeps():
    settings = load_settings({})
    ctx = Context(_thread(RemoteBackend.can), PlainOutput(io.StringIO(), io.StringIO()), settings)
    for name in ("/title", "/compact", "/new", "/tools"):
        found = ctx.commands.get(name)
        assert found is not None
        with pytest.raises(UsageError) as refused:
            asyncio.run(execute(found, ctx, ""))
        assert refused.value.message == f"{name} is not available on a LangGraph server's thread"
        assert refused.value.hint == "/help lists commands"


def test_each_chat_has_one_registry_of_its_own():
    one, other = SimpleNamespace(), SimpleNamespace()  # what ``Chat.commands`` keeps its registry on
    assert Chat.commands(one) is Chat.commands(one)  # type: ignore[arg-type]
    Chat.commands(one).add(Command("/shout", "say the last answer louder"))  # type: ignore[arg-type]
    assert Chat.commands(other).get("/shout") is None  # type: ignore[arg-type]


def test_a_word_the_command_table_does_not_know_is_refused_where_the_table_is_read():
    """A typo in a row's words ("ayn" for "any") would give the command other needs without a word said."""
    from chatcli.service.commands import table

    with pytest.raises(ValueError, match="/x: no such word in the command table: ayn"):
        table("/x | ayn run:undo\n    help")
    (command,) = table("/x | any run:undo\n    help")
    assert command.name == "/x" and not command.needs

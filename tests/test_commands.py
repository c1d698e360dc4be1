"""Slash commands at the prompt: the registry, /help, each handler, Tab completion.

Handlers run directly against a real database file and the fake OpenAI server (what the
model is sent is read from ``server.requests``); a few scenarios drive the real ``chat``
in a pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.config import load_settings
from chatcli.errors import UsageError
from chatcli.ui.completion import CommandCompleter, ThreadCache
from chatcli.ui.output import PlainOutput
from chatcli.ui.registry import Context, defined, help_text, is_command, literal
from tests.doors.prompt import Typed
from tests.fakeserver import Reply
from tests.helpers import eventually, run_command
from tests.test_prompt_pty import user_messages


class Chat:
    """A conversation driven the way the REPL drives it, keeping what was printed."""

    def __init__(self, conversation: Any, settings: Any, service: Any = None):
        self.settings = settings
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.output = PlainOutput(self.out, self.err)
        conversation.listener = self.output
        self.ctx = Context(conversation, self.output, settings, service, out=self.out)

    @property
    def conversation(self) -> Any:
        """The thread the prompt is on now (another one after /switch, /new or /fork)."""
        return self.ctx.conversation

    def _printed(self) -> str:
        text = self.out.getvalue() + self.err.getvalue()
        self.out.seek(0), self.out.truncate(), self.err.seek(0), self.err.truncate()
        return text

    async def run(self, line: str) -> str:
        """Run a command line; return everything it printed (stdout, then notes)."""
        self._printed()
        await run_command(self.ctx, line)
        return self._printed()

    async def ask(self, text: str) -> str:
        """One turn; return the answer as shown."""
        self._printed()
        await self.conversation.send(text, self.ctx.attached, queue=True)
        return self._printed().strip()

    @property
    def thread_id(self) -> str:
        return self.conversation.thread_id


@asynccontextmanager
async def chat(settings: Any, thread_id: str = "t1") -> AsyncIterator[Chat]:
    """The prompt's commands on ``thread_id`` of a chat of ``settings``, or of a ``session``'s (tests/session.py)."""
    from chatcli.service.chat import Chat as Service
    from tests.session import Session

    if isinstance(settings, Session):
        yield Chat(await settings.chat.thread(thread_id), settings.settings, settings.chat)
        return
    async with Service(settings) as service:
        yield Chat(await service.thread(thread_id), settings, service)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# ------------------------------------------------------------------------------ the registry


def test_help_lists_every_command_with_its_help_and_needs_no_thread():
    out = io.StringIO()
    ctx = Context(None, PlainOutput(out, io.StringIO()), load_settings({}), out=out)
    assert run(run_command(ctx, "/help")) is True
    shown = out.getvalue()
    assert shown == help_text() + "\n"
    names = [c.name for c in defined().listed()]
    assert len(names) == len(set(names)) >= 14
    words = " ".join(shown.split())
    for entry in defined().listed():
        line = next(line for line in shown.splitlines() if line.split()[:1] == [entry.name])
        assert entry.args in line and " ".join(entry.help.split()) in words  # wrapped at words to the terminal
    assert "//" in shown  # how to send a message that starts with "/"


def test_exit_and_its_alias_leave():
    ctx = Context(None, PlainOutput(io.StringIO(), io.StringIO()), load_settings({}))
    assert run(run_command(ctx, "/exit")) is False
    assert run(run_command(ctx, "/quit")) is False


def test_unknown_command_suggests_the_closest_and_sends_nothing(server):
    with pytest.raises(UsageError) as caught:
        defined().find("/hepl")
    assert "did you mean /help?" in str(caught.value)
    with pytest.raises(UsageError) as caught:
        defined().find("/usr/bin is a directory")
    assert "unknown command /usr/bin" in str(caught.value) and "//" in str(caught.value)
    assert not server.requests


def test_what_counts_as_a_command():
    assert is_command("/help") and is_command("  /undo") and is_command("/usr/bin is where?")
    assert not is_command("what is /usr/bin?") and not is_command("//etc/hosts is a file")
    assert literal("//etc/hosts is a file") == "/etc/hosts is a file"
    assert literal("plain text") == "plain text"
    found, arg = defined().find("/system You are terse.\nReally terse.")
    assert found.name == "/system" and arg == "You are terse.\nReally terse."
    assert defined().find("/HELP")[0].name == "/help"
    with pytest.raises(UsageError, match="takes no argument"):
        defined().find("/undo 3")  # a command declared without arguments refuses them
    with pytest.raises(UsageError, match="not valid UTF-8"):
        defined().find("/title caf\udce9")  # bytes from a Latin-1 terminal are refused, not stored


# ------------------------------------------------------------------------------ the handlers


async def test_new_starts_a_thread_and_says_how_to_resume(settings, server):
    async with chat(settings) as c:
        await c.ask("first thread question")
        shown = await c.run("/new")
        assert c.thread_id != "t1"
        assert f"chat --thread {c.thread_id}" in shown
        await c.ask("second thread question")
    assert user_messages(server.requests[-1]) == ["second thread question"]


async def test_switch_continues_a_thread_or_starts_one_under_a_new_id(settings, server):
    async with chat(settings, "work") as c:
        await c.ask("remember 42")
        shown = await c.run("/switch fresh-id")
        assert c.thread_id == "fresh-id" and "new thread" in shown
        await c.ask("a question elsewhere")
        assert user_messages(server.requests[-1]) == ["a question elsewhere"]
        shown = await c.run("/switch work")
        assert "remember 42" in shown and "2 messages" in shown
        await c.ask("what was the number?")
        assert user_messages(server.requests[-1]) == ["remember 42", "what was the number?"]
        with pytest.raises(UsageError, match="invalid thread id"):
            await c.run("/switch ../../etc")
        with pytest.raises(UsageError, match="needs a thread id"):
            await c.run("/switch")
        assert c.thread_id == "work"


async def test_switch_moves_the_prompt_to_another_thread_leaving_what_was_told_the_first_behind(settings, server):
    async with chat(settings, "first") as c:
        left = c.conversation
        await c.run("/system Answer in French.")  # told an empty thread: kept for its first question
        await c.run("/switch second")
        assert c.conversation is not left and left.thread_id == "first", "the thread left is as it was"
        await c.ask("hello")
        assert "French" not in str(server.requests[-1]["messages"][0]["content"])
        await c.run("/switch first")
        await c.ask("bonjour")
        assert "French" not in str(server.requests[-1]["messages"][0]["content"]), "unsent, it was not kept"


async def test_threads_lists_recent_threads(settings, server):
    async with chat(settings, "alpha") as c:
        await c.ask("about alpha")
        await c.run("/switch beta")
        await c.ask("about beta")
        shown = await c.run("/threads")
        lines = [line for line in shown.splitlines() if "\t" in line]
        assert [line.split("\t")[0] for line in lines] == ["beta", "alpha"]
        assert "you are on thread beta" in shown
        assert len([line for line in (await c.run("/threads 1")).splitlines() if "\t" in line]) == 1
        with pytest.raises(UsageError):
            await c.run("/threads many")


async def test_history_shows_the_transcript(settings, server):
    async with chat(settings) as c:
        assert "empty" in await c.run("/history")
        await c.ask("my name is Zed")
        shown = await c.run("/history")
        assert "## You" in shown and "my name is Zed" in shown
        assert "You said: my name is Zed" in shown


async def test_system_shows_the_default_then_sets_the_thread_prompt_at_once(settings, server):
    async with chat(settings) as c:
        shown = await c.run("/system")
        assert settings.system in shown and "default" in shown
        await c.run("/system You are new here.")  # no thread yet: it starts with this
        await c.ask("hello")
        assert server.requests[-1]["messages"][0] == {"role": "system", "content": "You are new here."}
        await c.run("/system Talk like a pirate.")  # an existing thread: stored now
        assert "Talk like a pirate." in await c.run("/system")
    async with chat(settings) as c:  # kept with the thread
        await c.ask("and now?")
    assert server.requests[-1]["messages"][0] == {"role": "system", "content": "Talk like a pirate."}


async def test_model_shows_and_switches_the_model(settings, server):
    async with chat(settings) as c:
        assert (await c.run("/model")).strip() == "gpt-fake"
        await c.run("/model gpt-4o")
        await c.ask("which model?")
        assert server.requests[-1]["model"] == "gpt-4o"
        assert (await c.run("/model")).strip() == "gpt-4o"
        with pytest.raises(UsageError):
            await c.run("/model two words")


async def test_title_shows_and_sets_the_title(settings, server):
    async with chat(settings) as c:
        with pytest.raises(UsageError, match="empty"):
            await c.run("/title Too soon")
        await c.ask("how do tides work?")
        assert (await c.run("/title")).strip() == "how do tides work?"
        await c.run("/title Tides")
        assert (await c.run("/title")).strip() == "Tides"
        assert (await c.conversation.store.index.get("t1")).title == "Tides"


async def test_export_prints_or_writes_a_new_private_file(settings, server, tmp_path):
    async with chat(settings) as c:
        with pytest.raises(UsageError, match="empty"):
            await c.run("/export")
        await c.ask("export me")
        assert "## You" in await c.run("/export") and "export me" in await c.run("/export md")
        target = tmp_path / "thread.json"
        assert str(target) in await c.run(f"/export json {target}")
        data = json.loads(target.read_text())
        assert [m["content"] for m in data["messages"]] == ["export me", "You said: export me"]
        assert target.stat().st_mode & 0o077 == 0
        with pytest.raises(UsageError, match="already exists"):
            await c.run(f"/export md {target}")
        assert json.loads(target.read_text()) == data  # not overwritten
        await c.run(f"/export {tmp_path / 'notes.md'}")
        assert (tmp_path / "notes.md").read_text().startswith("# export me")


async def test_usage_adds_up_the_answers_token_counts(settings, server):
    server.queue(
        Reply("one", usage={"prompt_tokens": 10, "completion_tokens": 1}),
        Reply("two", usage={"prompt_tokens": 20, "completion_tokens": 2}),
        Reply("three", usage=False),
    )

    async with chat(settings) as c:
        for question in ("a", "b", "c"):
            await c.ask(question)
        shown = await c.run("/usage")
    assert "3 turns · 30 tokens in · 3 out" in shown
    assert "1 of 3 answers came without token counts" in shown


async def test_a_failing_command_leaves_the_thread_as_it_was(settings, server):
    async with chat(settings) as c:
        await c.ask("keep me")
        with pytest.raises(UsageError):
            await c.run("/undo now")  # takes no argument
        await c.ask("still there?")
    assert user_messages(server.requests[-1]) == ["keep me", "still there?"]


# ------------------------------------------------------------------------------ completion


def completions(completer: CommandCompleter, text: str) -> list[str]:
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]


async def test_tab_completes_command_names_and_thread_ids(settings, server):
    async def go():
        async with chat(settings, "project-a") as c:
            await c.ask("hi")
            await c.run("/switch project-b")
            await c.ask("hi")
            await c.run("/switch other")
            await c.ask("hi")
            cache = ThreadCache()
            await cache.refresh(c.conversation.threads())
            return cache

    completer = CommandCompleter(await go())
    assert completions(completer, "/sw") == ["/switch "]
    # A space after a command that takes an argument.
    assert completions(completer, "/u") == ["/undo", "/unpin ", "/usage"]
    assert len(completions(completer, "/")) == len(defined().listed())
    assert completions(completer, "/switch proj") == ["project-b", "project-a"]  # most recent first
    assert completions(completer, "/switch ") == ["other", "project-b", "project-a"]
    assert completions(completer, "/export ") == ["md", "json"]
    assert completions(completer, "/export md ") == []
    assert completions(completer, "hello /sw") == []
    assert completions(completer, "//sw") == []


# ------------------------------------------------------------------------------ in a terminal


def test_help_and_an_unknown_command_in_the_terminal(server, chat_env, monkeypatch):
    monkeypatch.setenv("LINES", "1000")  # all of it on the screen (taller than it, /help is paged)
    typed = Typed({**chat_env, "LINES": "1000"}, [])  # the prompt in this process, at a terminal
    try:
        shown = "\n".join(typed.say("/help"))
        for entry in defined().listed():
            assert entry.name in shown, (entry.name, shown)
        assert "did you mean /help?" in "\n".join(typed.say("/hepl"))
        assert not server.requests
        assert "You said: /etc/hosts is a file" in typed.say("//etc/hosts is a file")[0]
    finally:
        assert typed.leave() == 0, typed


def test_undo_in_the_terminal_takes_the_exchange_out_of_the_history(server, chat_env):
    typed = Typed(chat_env, ["--thread", "undo"])
    try:
        for question in ("keep this", "regret this"):
            assert f"You said: {question}" in typed.say(question)[0], typed
        assert "undone: regret this" in "\n".join(typed.say("/undo")), typed
        assert "You said: next" in typed.say("next")[0], typed
    finally:
        assert typed.leave() == 0, typed
    assert user_messages(server.requests[-1]) == ["keep this", "next"]
    assert "regret" not in json.dumps(server.requests[-1])


def test_tab_completes_a_command_and_a_thread_id_in_the_terminal(server, chat_env):
    typed = Typed(chat_env, ["--thread", "first-thread"])
    assert "You said: hello" in typed.say("hello")[0], typed
    assert "new thread" in "\n".join(typed.say("/new")), typed
    before = typed.ready()
    line = lambda: typed.app_session.app.current_buffer.text  # noqa: E731 - what the prompt holds
    typed.keys.send_text("/sw\t")
    eventually(lambda: line() == "/switch ", "Tab to complete /switch", 10)
    typed.keys.send_text("fir\t")
    eventually(lambda: line() == "/switch first-thread", "Tab to complete the thread's id", 10)
    typed.keys.send_text("\r")
    typed.ready(before)
    assert "switched · thread first-thread" in typed.text, typed
    assert "You said: again" in typed.say("again")[0], typed
    assert user_messages(server.requests[-1]) == ["hello", "again"]
    at = len(typed.text)
    typed.keys.send_text("/exit\r")
    typed.thread.join(60)
    assert typed.leave() == 0, typed
    assert "chat --thread first-thread" in typed.text[at:]  # the bye names the thread you are on


# ------------------------------------------------------------------------------ /tools


def test_tools_lists_the_sessions_tools_or_says_they_are_off(settings):
    from dataclasses import replace

    async def main() -> tuple[str, str, str]:
        async with chat(replace(settings, tools=("files",))) as c:
            listed = await c.run("/tools")
        async with chat(settings) as c:
            nothing = await c.run("/tools")
        async with chat(replace(settings, tools=("shell",), use_tools=False)) as c:
            off = await c.run("/tools")
        return listed, nothing, off

    listed, nothing, off = run(main())
    assert "builtin (built-in) ready" in listed and "read_file" in listed and "list_directory" in listed
    assert "no tools" in nothing and "mcp.json" in nothing
    assert "tools are off for this session (--no-tools)" in off

"""Small things at the prompt a newcomer trips on: /attach that lists without clearing (--clear
clears), Tab after /attach (file names), /role (role names) and /model (the server's models,
never waiting on the network), and /usage in good English.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from tests.helpers import eventually_async
from tests.test_commands import chat as conversation


async def test_attach_alone_lists_without_clearing_and_clear_clears(settings, server, tmp_path):
    (tmp_path / "notes.txt").write_text("some notes\n")
    async with conversation(settings) as c:
        await c.run(f"/attach {tmp_path / 'notes.txt'}")
        listed = await c.run("/attach")
        assert "notes.txt" in listed and "--clear" in listed
        assert len(c.ctx.attached) == 1, "listing the queue emptied it"
        assert "cleared: 1 file will not be sent" in await c.run("/attach --clear")
        assert c.ctx.attached == []


async def test_usage_says_1_turn(settings, server):
    async with conversation(settings) as c:
        await c.ask("a")
        shown = await c.run("/usage")
    assert shown.startswith("1 turn · "), shown


def _completions(completer, text: str) -> list[str]:
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]


def test_tab_completes_file_names_after_attach_and_roles_after_role(tmp_path, monkeypatch):
    from chatcli.ui.completion import CommandCompleter, ThreadCache

    (tmp_path / "apple.png").write_bytes(b"")
    (tmp_path / "apricot.txt").write_text("x")
    roles = tmp_path / "roles"
    roles.mkdir()
    (roles / "pirate.md").write_text("Arr.")
    (roles / "reviewer.toml").write_text('system = "Review."')
    monkeypatch.chdir(tmp_path)
    completer = CommandCompleter(ThreadCache(), roles_dir=str(roles))
    assert sorted(_completions(completer, "/attach ap")) == ["ple.png", "ricot.txt"]
    assert _completions(completer, "/role pir") == ["pirate"]
    assert _completions(completer, "/role ") == ["pirate", "reviewer"]


async def test_tab_after_model_offers_the_server_s_models_and_never_waits(settings, server):
    from chatcli.backends.own.model import list_all
    from chatcli.ui.completion import CommandCompleter, ModelCache, ThreadCache

    server.models = ["llama-3", "gpt-fake", "qwen"]
    slow = asyncio.Event()
    asked: list[list[str]] = []  # the server's list at each fetch

    async def fetch() -> list[str]:
        asked.append(list(server.models))
        await slow.wait()  # a slow server: Tab must not wait for it
        return (await list_all(settings, ["openai"])).names

    completer = CommandCompleter(ThreadCache(), ModelCache(fetch))
    # Nothing yet, at once: the fetch waits for ``slow``, set only below, so a Tab that waited would never return.
    assert _completions(completer, "/model ") == []
    slow.set()
    listed = await eventually_async(lambda: _completions(completer, "/model "), "the models to be offered", 5)
    assert listed == ["gpt-fake", "llama-3", "qwen"]
    assert _completions(completer, "/model ll") == ["llama-3"]
    server.models = ["other"]
    assert _completions(completer, "/model ") == ["gpt-fake", "llama-3", "qwen"]
    # Whatever these Tabs set going has run to its end: a fetch they started would have been counted.
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait_for(asyncio.gather(*others), 10)
    assert _completions(completer, "/model ") == ["gpt-fake", "llama-3", "qwen"]  # kept a while, not asked at every Tab
    assert len(asked) == 1, asked


async def test_an_input_history_that_cannot_be_written_never_ends_the_session(settings, server, tmp_path):
    """Its directory removed while chat runs: made again; a file that cannot be written: one line, the prompt goes on."""
    import shutil

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from chatcli.service.chat import Chat
    from chatcli.service.opening import Opening
    from chatcli.ui.output import PlainOutput
    from chatcli.ui.prompt import run_repl
    from chatcli.ui.prompt_session import make_session
    from tests.helpers import Captured

    history = Path(settings.history_file)
    out, err = Captured(), Captured()
    with create_pipe_input() as keys:
        session = make_session(settings, input=keys, output=DummyOutput())
        repl = asyncio.create_task(
            run_repl(Chat(settings), Opening("feedbee1"), PlainOutput(out, err), session=session)
        )
        shutil.rmtree(history.parent)  # the data directory removed under a running chat
        keys.send_text("first line\r")
        await _until(lambda: "You said: first line" in out.getvalue(), repl)
        assert "first line" in history.read_text()
        history.unlink()
        history.mkdir()  # now a directory: the file cannot be written at all
        keys.send_text("second line\r")
        await _until(lambda: "You said: second line" in out.getvalue(), repl)
        keys.send_text("third line\r")
        await _until(lambda: "You said: third line" in out.getvalue(), repl)
        keys.send_text("\x04")
        await asyncio.wait_for(repl, 10)
    assert err.getvalue().count("the input history cannot be written") == 1, err.getvalue()


async def _until(done, task, timeout: float = 15) -> None:
    await eventually_async(lambda: done() or task.done(), "the prompt to get there", timeout, interval=0.05)
    assert done(), task  # the prompt ended first

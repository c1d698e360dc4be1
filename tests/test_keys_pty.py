"""The keys and commands people bring from other tools, in a real terminal: the editor, /copy."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from chatcli.content.markdown import code_blocks
from tests.doors.prompt import Typed
from tests.fakeserver import Reply
from tests.helpers import Repl

pty = pytest.mark.e2e  # chat in a pseudo-terminal, the user's editor a process

ANSWER = "Two ways:\n\n```python\nprint('one')\n```\n\nor\n\n````sh\necho '```'\n````\n"
_OSC52 = re.compile(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07")


@pytest.fixture
def editor(tmp_path: Path) -> str:
    """A stand-in for $EDITOR: it adds a sentence to the file it is given, as a user would."""
    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\nprintf "%s" "$(cat "$1") plus what I wrote in the editor" > "$1"\n')
    script.chmod(0o755)
    return str(script)


def start_with(chat_env: dict[str, str], **env: str) -> Repl:
    repl = Repl([], {**chat_env, **env})
    repl.wait_prompt()
    return repl


@pty
def test_ctrl_x_ctrl_e_edits_the_input_in_the_editor(server, chat_env, editor):
    repl = start_with(chat_env, EDITOR=editor, VISUAL="")
    try:
        repl.type("my draft")
        repl.child.send("\x18\x05")  # Ctrl-X Ctrl-E
        repl.wait_for("what I wrote in the editor")
        server.queue(Reply("Read it."))
        repl.child.send("\r")  # the edited text is the input: Enter sends it
        repl.wait_for("Read it.")
        assert server.requests[-1]["messages"][-1]["content"] == "my draft plus what I wrote in the editor"
    finally:
        repl.kill()


@pty
def test_slash_edit_puts_what_the_editor_saved_at_the_prompt(server, chat_env, editor):
    repl = start_with(chat_env, VISUAL=editor)
    try:
        repl.say("/edit start")
        repl.wait_for("your message is at the prompt")
        repl.wait_prompt()
        assert server.requests == []  # nothing is sent before the user presses Enter
        server.queue(Reply("Got it."))
        repl.child.send("\r")
        repl.wait_for("Got it.")
        assert server.requests[-1]["messages"][-1]["content"] == "start plus what I wrote in the editor"
    finally:
        repl.kill()


def test_slash_edit_with_no_editor_is_one_line(server, chat_env, monkeypatch):
    editors = {"VISUAL": "", "EDITOR": "no-such-editor-here", "PATH": "/nonexistent"}
    for name, value in editors.items():  # where an editor is looked for: this process's variables
        monkeypatch.setenv(name, value)
    typed = Typed({**chat_env, **editors}, [])
    try:
        assert "no editor to open" in "\n".join(typed.say("/edit")), typed
    finally:
        assert typed.leave() == 0, typed


@pty  # OSC 52 goes to the terminal itself
def test_copy_sends_the_answer_or_a_code_block_by_osc_52(server, chat_env):
    repl = start_with(chat_env, DISPLAY="", WAYLAND_DISPLAY="")
    try:
        server.queue(Reply(ANSWER))
        repl.say("show me")
        repl.wait_for("or")
        repl.wait_prompt()
        after = len(repl.raw)
        repl.say("/copy 2")
        repl.wait_for("copied code block 2 of 2 (10 characters) with OSC 52", after=0)
        copied = [base64.b64decode(m).decode() for m in _OSC52.findall(repl.raw[after:])]
        assert copied == ["echo '```'"]
        repl.wait_prompt()
        after = len(repl.raw)
        repl.say("/copy")
        repl.wait_until(lambda: len(_OSC52.findall(repl.raw[after:])) == 1, "the OSC 52 sequence")
        assert base64.b64decode(_OSC52.findall(repl.raw[after:])[0]).decode() == ANSWER
        repl.wait_prompt()
        after = repl.say("/copy 3")
        repl.wait_for("the last answer has 2 code blocks", after=after)
    finally:
        repl.kill()


def test_code_blocks_are_found_as_markdown_fences_them():
    assert code_blocks(ANSWER) == ["print('one')", "echo '```'"]
    assert code_blocks("no code here") == []
    assert code_blocks("```\ncut off") == ["cut off"]
    assert code_blocks("~~~\ntilde\n~~~\n  ```js\nx\n  ```") == ["tilde", "x"]
    # A block in a list item, indented as models indent it: shown as code, so /copy 1 is it.
    assert code_blocks("1. Run:\n\n    ```sh\n    make all\n    ```\n2. Done.") == ["make all"]

"""vi keys at the prompt (``editing_mode = "vi"``), in a real terminal: the mode is shown, vi's
commands edit the line, and chat's own keys (Enter, Alt-Enter, the editor) work as with emacs keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import Repl, chat

pseudo_terminal = pytest.mark.e2e  # chat in a pseudo-terminal


def start_with(chat_env: dict[str, str], **env: str) -> Repl:
    repl = Repl([], {**chat_env, **env})
    repl.wait_prompt()
    return repl


@pseudo_terminal
def test_vi_keys_edit_the_line_and_the_mode_is_shown(server, chat_env):
    repl = start_with(chat_env, CHATCLI_EDITING_MODE="vi")
    try:
        repl.wait_for("[I] >")
        repl.type("hello world")
        at = repl.mark()
        repl.child.send("\x1b")  # Esc: normal mode, and the mark says so (only the changed cell is redrawn)
        repl.wait_for("N", after=at)
        repl.child.send("0")  # to the start of the line
        at = repl.mark()
        repl.child.send("i")  # insert there
        repl.wait_for("I", after=at)
        repl.child.send("Say: ")
        repl.wait_for("Say: ")
        server.queue(Reply("Said."))
        repl.child.send("\r")
        repl.wait_for("Said.")
        assert server.requests[-1]["messages"][-1]["content"] == "Say: hello world"
        # dw in normal mode deletes a word; Enter sends from normal mode too.
        repl.wait_prompt()
        repl.type("one two")
        at = repl.mark()  # before the keys: the next prompt may be drawn as soon as the answer ends
        repl.child.send("\x1b0dw")
        server.queue(Reply("Deleted."))
        repl.child.send("\r")
        repl.wait_for("Deleted.")
        assert server.requests[-1]["messages"][-1]["content"] == "two"
        # Ctrl-R searches the input history with vi keys too (from insert mode, where each prompt starts).
        repl.wait_prompt()
        repl.wait_for("[I] >", after=at)
        at = repl.mark()  # before the keys: what they draw may come at once
        repl.child.send("\x12")  # Ctrl-R
        repl.child.send("Say")
        repl.wait_for("Say", after=at)
        repl.child.send("\r")  # take the line found
        server.queue(Reply("Again."))
        repl.child.send("\r")
        repl.wait_for("Again.")
        assert server.requests[-1]["messages"][-1]["content"] == "Say: hello world"
    finally:
        repl.kill()


@pseudo_terminal
def test_chats_own_keys_work_with_vi_keys(server, chat_env, tmp_path: Path):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "%s" "$(cat "$1") and more from the editor" > "$1"\n')
    editor.chmod(0o755)
    repl = start_with(chat_env, CHATCLI_EDITING_MODE="vi", EDITOR=str(editor), VISUAL="")
    try:
        repl.type("first line")
        repl.child.send("\x1b\r")  # Alt-Enter: a new line, not sent
        repl.child.send("second line")
        repl.wait_for("second line")
        assert server.requests == []
        repl.child.send("\x18\x05")  # Ctrl-X Ctrl-E: the editor
        repl.wait_for("more from the editor")
        server.queue(Reply("Both lines."))
        repl.child.send("\r")
        repl.wait_for("Both lines.")
        assert server.requests[-1]["messages"][-1]["content"] == "first line\nsecond line and more from the editor"
    finally:
        repl.kill()


@pseudo_terminal
def test_emacs_keys_stay_the_default(server, chat_env):
    repl = start_with(chat_env)
    try:
        repl.type("world")
        repl.child.send("\x01")  # Ctrl-A: to the start of the line
        repl.child.send("hello ")
        server.queue(Reply("Hi."))
        repl.child.send("\r")
        repl.wait_for("Hi.")
        assert server.requests[-1]["messages"][-1]["content"] == "hello world"
        assert "[I] >" not in repl.text and "[N] >" not in repl.text
    finally:
        repl.kill()


def test_an_unknown_editing_mode_is_one_line(chat_env):
    run = chat({**chat_env, "CHATCLI_EDITING_MODE": "nano"}, "hi")
    assert run.code == 3 and run.err.strip().endswith("editing_mode must be emacs or vi, got 'nano'"), run


@pseudo_terminal
def test_with_vi_keys_lines_typed_at_once_are_each_answered(server, chat_env):
    """Typed before chat has started Python, fast, as with emacs keys: each line is one message."""
    repl = Repl([], {**chat_env, "CHATCLI_EDITING_MODE": "vi"})
    try:
        repl.child.send("first at once\rsecond at once\r")
        repl.wait_for("You said: second at once", timeout=20)
        asked = [r["messages"][-1]["content"] for r in server.requests]
        assert asked == ["first at once", "second at once"], asked
    finally:
        repl.kill()

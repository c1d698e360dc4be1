"""Attachments in a real terminal: ``chat -a FILE`` with no question opens the prompt with the file queued, its note a
line of its own above the prompt (written while the prompt waits, never across it), and the prompt reads
``[1 file] > ``. Each test checks the screen, what the model was sent and what the thread keeps. ``/attach``,
``/attach --clear``, a file that cannot go and ``/history`` at the prompt in this process: tests/test_attach_typed.py
(whose helpers and fixture are here)."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply
from tests.helpers import Repl, stored, visible
from tests.test_reliability import db_of
from tests.test_tools_pty import screen

pytestmark = pytest.mark.e2e  # every test here starts chat in a pseudo-terminal

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)  # 3008 bytes: "3 KB"
NOTES = "first line of notes\nsecond line\n"  # 32 bytes
# prompt-toolkit turns bracketed paste on as each prompt starts waiting, off when it hands the line over.
READY = "\x1b[?2004h"
DONE = "\x1b[?2004l"
QUEUED_NOTE = "· sent with your next message"
THREAD = re.compile(r"thread (\S+) · resume with")  # the banner names a named thread, the first message a new one


# --------------------------------------------------------------------------- helpers


def wait_prompt_reads(repl: Repl, text: str, timeout: float = 10) -> None:
    """Wait until the prompt waiting now reads ``text`` (before anything is typed at it)."""
    repl.wait_until(
        lambda: visible(repl.raw[repl.raw.rindex(READY) :]).strip() == text, f"the prompt {text!r}", timeout
    )


def user_content(body: dict) -> Any:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [p["image_url"]["url"] for p in content if isinstance(p, dict) and p.get("type") == "image_url"]


def texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"]


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """shot.png and notes.txt in the directory chat starts in."""
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text(NOTES)
    return tmp_path


def sixty_mb(directory: Path) -> Path:
    """A sparse 60 MB file that starts like a PNG."""
    big = directory / "huge.png"
    with big.open("wb") as handle:
        handle.write(PNG[:8])
        handle.truncate(60 * 1024 * 1024)
    return big


# --------------------------------------------------------------------------- chat -a FILE, no question


@pytest.mark.parametrize("thread_args", [[], ["--thread", "notes"]], ids=["new-thread", "named-thread"])
def test_chat_a_with_no_question_opens_the_prompt_with_the_file_queued(server, chat_env, start, files, thread_args):
    """``chat -a notes.txt``: the note is a line of its own above the prompt, which reads ``[1 file] >``.

    Without --thread the prompt is up before the thread is open (the engine loads behind it), so
    the note comes while the prompt waits: it must go above the prompt, not across it."""
    server.queue(Reply("Read your notes."))
    repl = start("-a", "notes.txt", *thread_args)
    note = f"attached: notes.txt (text/plain, 32 B) {QUEUED_NOTE}"
    repl.wait_for(note)
    wait_prompt_reads(repl, "[1 file] >")
    lines = screen(repl.raw)
    assert note in lines, f"the note is not a line of its own (written across the prompt?): {lines}"
    repl.prompts_seen = repl.raw.count(READY)  # a note printed above a waiting prompt draws it again
    assert server.requests == []  # nothing is sent before the first message

    at = repl.say("summarise")
    repl.wait_for("Read your notes.", after=at)
    repl.wait_prompt()
    assert "[1 file] > summarise" in repl.text[at:]
    wait_prompt_reads(repl, ">")

    (request,) = server.requests
    (text,) = texts(user_content(request))
    assert text == f"summarise\n\nFile `notes.txt`:\n```\n{NOTES}\n```", text
    thread = THREAD.search(repl.text).group(1)
    (question, _) = stored(db_of(chat_env), thread)
    assert question.additional_kwargs["chatcli_attachments"] == [
        {"name": "notes.txt", "type": "text/plain", "size": len(NOTES)}
    ]

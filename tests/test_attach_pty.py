"""Attachments in a real terminal, as a user meets them: ``/attach FILE`` queues a file (a note
says so and the prompt reads ``[1 file] > `` until the message goes), ``/attach`` alone lists the
queue and clears it, a file that cannot go is one error line and queues nothing, ``chat -a FILE``
with no question opens the prompt with the file queued, and ``/history`` shows an image as one
``attached:`` line, never its bytes. Each test checks the screen, what the model was sent and
what the thread keeps."""

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


def output_of(repl: Repl, raw_at: int) -> list[str]:
    """The non-empty lines a line sent after ``raw_at`` (a position in ``raw``) printed before the next prompt."""
    done = repl.raw.index(DONE, raw_at)
    ready = repl.raw.index(READY, done)
    return [line.strip() for line in visible(repl.raw[done:ready]).splitlines() if line.strip()]


def run_line(repl: Repl, line: str) -> list[str]:
    """Send ``line`` at the prompt, wait for the next prompt; what it printed."""
    raw_at = len(repl.raw)
    repl.say(line)
    repl.wait_prompt()
    return output_of(repl, raw_at)


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


# --------------------------------------------------------------------------- /attach FILE


def test_attach_queues_an_image_the_prompt_counts_it_and_the_question_carries_it(server, chat_env, start, files):
    server.queue(Reply("A picture of noise."), Reply("Still noise."))
    repl = start("--thread", "pic")
    wait_prompt_reads(repl, ">")

    said = run_line(repl, "/attach shot.png")
    assert said == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"], said
    wait_prompt_reads(repl, "[1 file] >")
    assert server.requests == []  # queued, not sent

    at = repl.say("what is this?")
    repl.wait_for("A picture of noise.", after=at)
    repl.wait_prompt()
    assert "[1 file] > what is this?" in repl.text[at:]  # the line as it was sent, under its prompt
    wait_prompt_reads(repl, ">")  # the file went with that message: the queue is empty again

    (request,) = server.requests
    content = user_content(request)
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert image_urls(content) == [data_url(PNG)]
    (question, answer) = stored(db_of(chat_env), "pic")
    assert question.additional_kwargs["chatcli_attachments"] == [
        {"name": "shot.png", "type": "image/png", "size": len(PNG)}
    ]
    assert answer.content == "A picture of noise."

    # The next message goes without a file of its own (the image stays in the history it carries).
    at = repl.say("are you sure?")
    repl.wait_for("Still noise.", after=at)
    repl.wait_prompt()
    assert "[1 file]" not in repl.text[at:]
    assert user_content(server.requests[1]) == "are you sure?"
    assert image_urls(server.requests[1]["messages"][1]["content"]) == [data_url(PNG)]
    wait_prompt_reads(repl, ">")


def test_attach_alone_lists_the_queue_and_attach_clear_empties_it(server, chat_env, start, files):
    repl = start("--thread", "cleared")
    assert run_line(repl, "/attach shot.png") == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"]
    wait_prompt_reads(repl, "[1 file] >")
    assert run_line(repl, "/attach notes.txt") == [f"attached: notes.txt (text/plain, 32 B) {QUEUED_NOTE}"]
    wait_prompt_reads(repl, "[2 files] >")

    said = run_line(repl, "/attach")
    assert said[:2] == ["shot.png (image/png, 3 KB)", "notes.txt (text/plain, 32 B)"], said
    assert len(said) == 3 and "--clear" in said[2], said
    wait_prompt_reads(repl, "[2 files] >")  # listing keeps the queue

    said = run_line(repl, "/attach --clear")
    assert said == ["the queue is cleared: 2 files will not be sent"], said
    wait_prompt_reads(repl, ">")

    said = run_line(repl, "/attach")  # nothing left to list
    assert len(said) == 1 and said[0].startswith("nothing attached"), said
    wait_prompt_reads(repl, ">")

    at = repl.say("plain question")
    repl.wait_for("You said: plain question", after=at)
    repl.wait_prompt()
    (request,) = server.requests
    content = user_content(request)
    assert content == "plain question", content  # no image part, no fenced file
    assert "notes" not in str(request["messages"]) and "image_url" not in str(request["messages"])
    (question, _) = stored(db_of(chat_env), "cleared")
    assert "chatcli_attachments" not in question.additional_kwargs
    wait_prompt_reads(repl, ">")


# --------------------------------------------------------------------------- files that cannot go


def sixty_mb(directory: Path) -> Path:
    """A sparse 60 MB file that starts like a PNG."""
    big = directory / "huge.png"
    with big.open("wb") as handle:
        handle.write(PNG[:8])
        handle.truncate(60 * 1024 * 1024)
    return big


@pytest.mark.parametrize(
    "name, says",
    [
        ("missing.png", "error: cannot attach missing.png: no such file"),
        ("huge.png", "error: huge.png is 60.0 MB; an attachment may be at most 20 MB"),
    ],
)
def test_a_file_that_cannot_go_is_one_error_line_and_queues_nothing(server, chat_env, start, files, name, says):
    sixty_mb(files)
    repl = start("--thread", "refused")
    said = run_line(repl, f"/attach {name}")
    assert len(said) == 1 and said[0].startswith(says), said
    assert "Traceback" not in repl.text
    wait_prompt_reads(repl, ">")  # nothing queued

    # With a file queued, a bad one leaves the queue as it was.
    assert run_line(repl, "/attach shot.png") == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"]
    said = run_line(repl, f"/attach {name}")
    assert len(said) == 1 and said[0].startswith(says), said
    wait_prompt_reads(repl, "[1 file] >")

    at = repl.say("look")
    repl.wait_for("You said: look", after=at)
    repl.wait_prompt()
    assert repl.child.isalive()
    (request,) = server.requests
    assert image_urls(user_content(request)) == [data_url(PNG)]  # the good file only
    (question, _) = stored(db_of(chat_env), "refused")
    assert [a["name"] for a in question.additional_kwargs["chatcli_attachments"]] == ["shot.png"]
    wait_prompt_reads(repl, ">")


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


# --------------------------------------------------------------------------- /history


def test_history_shows_an_attached_line_and_never_the_bytes(server, chat_env, start, files):
    server.queue(Reply("A picture of noise."))
    repl = start("--thread", "hist")
    run_line(repl, "/attach shot.png")
    at = repl.say("what is this?")
    repl.wait_for("A picture of noise.", after=at)
    repl.wait_prompt()

    said = run_line(repl, "/history")
    shown = "\n".join(said)
    assert "what is this?" in shown and "A picture of noise." in shown, shown
    assert said.count("attached: shot.png (image/png, 3 KB)") == 1, said
    encoded = base64.b64encode(PNG).decode()
    assert "base64" not in shown and "data:image" not in shown and encoded[:24] not in shown, shown
    assert "image_url" not in shown, shown
    # the line stands for the file under the question, before the answer
    assert said.index("attached: shot.png (image/png, 3 KB)") < next(
        i for i, line in enumerate(said) if "A picture of noise." in line
    )
    wait_prompt_reads(repl, ">")

"""Attachments at the prompt, as a user meets them, with ``chat``'s command line in this process (keys through
prompt-toolkit's pipe input: tests/doors/prompt.py's ``Typed``): ``/attach FILE`` queues a file (a note says so and
the prompt reads ``[1 file] > `` until the message goes), ``/attach`` alone lists the queue and ``--clear`` clears
it, a file that cannot go is one error line and queues nothing, and ``/history`` shows an image as one ``attached:``
line, never its bytes. Each test checks what was shown, what the model was sent and what the thread keeps.

A note printed above a prompt that waits (``chat -a FILE`` with no question) is the screen's:
tests/test_attach_pty.py.
"""

from __future__ import annotations

import base64

import pytest

from tests.doors.prompt import Typed
from tests.helpers import stored
from tests.test_attach_pty import NOTES, PNG, QUEUED_NOTE, data_url, files, image_urls, sixty_mb, user_content
from tests.test_reliability import db_of

__all__ = ["files"]  # the fixture (tests/test_attach_pty.py): shot.png and notes.txt where chat starts


def prompt_reads(typed: Typed) -> str:
    """What the prompt waiting now reads, before anything is typed at it ("> ", "[1 file] > ")."""
    from prompt_toolkit.formatted_text import to_formatted_text, to_plain_text
    from prompt_toolkit.layout import walk

    typed.ready()
    for container in walk(typed.app_session.app.layout.container):
        prefix = getattr(container, "get_line_prefix", None)  # the input line's: partial(session._get_line_prefix)
        session = getattr(getattr(prefix, "func", None), "__self__", None)
        if session is not None and hasattr(session, "message"):
            return to_plain_text(to_formatted_text(session.message)).strip()
    raise AssertionError(f"no prompt is waiting\n{typed}")


def lines(typed: Typed, line: str) -> list[str]:
    """Send ``line`` at the prompt; the non-empty lines it printed before the next prompt."""
    out, err = typed.say(line)
    return [text.strip() for text in (out + "\n" + err).splitlines() if text.strip()]


@pytest.fixture
def at_prompt(chat_env, files, monkeypatch):
    """``at_prompt(*args)``: the prompt in this process, started in the directory of ``files``; left at the end."""
    monkeypatch.chdir(files)
    opened: list[Typed] = []

    def start(*args: str) -> Typed:
        opened.append(Typed(chat_env, list(args)))
        return opened[-1]

    yield start
    for typed in opened:
        assert typed.leave() == 0, typed


def test_attach_queues_an_image_the_prompt_counts_it_and_the_question_carries_it(server, chat_env, at_prompt):
    from tests.fakeserver import Reply

    server.queue(Reply("A picture of noise."), Reply("Still noise."))
    typed = at_prompt("--thread", "pic")
    assert prompt_reads(typed) == ">"

    assert lines(typed, "/attach shot.png") == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"]
    assert prompt_reads(typed) == "[1 file] >"
    assert server.requests == []  # queued, not sent

    assert "A picture of noise." in typed.say("what is this?")[0], typed
    assert prompt_reads(typed) == ">"  # the file went with that message: the queue is empty again
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
    assert "Still noise." in typed.say("are you sure?")[0], typed
    assert user_content(server.requests[1]) == "are you sure?"
    assert image_urls(server.requests[1]["messages"][1]["content"]) == [data_url(PNG)]
    assert prompt_reads(typed) == ">"


def test_attach_alone_lists_the_queue_and_attach_clear_empties_it(server, chat_env, at_prompt):
    typed = at_prompt("--thread", "cleared")
    assert lines(typed, "/attach shot.png") == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"]
    assert prompt_reads(typed) == "[1 file] >"
    assert lines(typed, "/attach notes.txt") == [f"attached: notes.txt (text/plain, 32 B) {QUEUED_NOTE}"]
    assert prompt_reads(typed) == "[2 files] >"

    said = lines(typed, "/attach")
    assert said[:2] == ["shot.png (image/png, 3 KB)", "notes.txt (text/plain, 32 B)"], said
    assert len(said) == 3 and "--clear" in said[2], said
    assert prompt_reads(typed) == "[2 files] >"  # listing keeps the queue

    assert lines(typed, "/attach --clear") == ["the queue is cleared: 2 files will not be sent"]
    assert prompt_reads(typed) == ">"
    said = lines(typed, "/attach")  # nothing left to list
    assert len(said) == 1 and said[0].startswith("nothing attached"), said

    assert "You said: plain question" in typed.say("plain question")[0], typed
    (request,) = server.requests
    content = user_content(request)
    assert content == "plain question", content  # no image part, no fenced file
    assert "notes" not in str(request["messages"]) and "image_url" not in str(request["messages"])
    (question, _) = stored(db_of(chat_env), "cleared")
    assert "chatcli_attachments" not in question.additional_kwargs
    assert prompt_reads(typed) == ">"


@pytest.mark.parametrize(
    "name, says",
    [
        ("missing.png", "error: cannot attach missing.png: no such file"),
        ("huge.png", "error: huge.png is 60.0 MB; an attachment may be at most 20 MB"),
    ],
)
def test_a_file_that_cannot_go_is_one_error_line_and_queues_nothing(server, chat_env, at_prompt, files, name, says):
    sixty_mb(files)
    typed = at_prompt("--thread", "refused")
    said = lines(typed, f"/attach {name}")
    assert len(said) == 1 and said[0].startswith(says), said
    assert "Traceback" not in typed.text
    assert prompt_reads(typed) == ">"  # nothing queued

    # With a file queued, a bad one leaves the queue as it was.
    assert lines(typed, "/attach shot.png") == [f"attached: shot.png (image/png, 3 KB) {QUEUED_NOTE}"]
    said = lines(typed, f"/attach {name}")
    assert len(said) == 1 and said[0].startswith(says), said
    assert prompt_reads(typed) == "[1 file] >"

    assert "You said: look" in typed.say("look")[0], typed
    (request,) = server.requests
    assert image_urls(user_content(request)) == [data_url(PNG)]  # the good file only
    (question, _) = stored(db_of(chat_env), "refused")
    assert [a["name"] for a in question.additional_kwargs["chatcli_attachments"]] == ["shot.png"]
    assert prompt_reads(typed) == ">"


def test_history_shows_an_attached_line_and_never_the_bytes(server, chat_env, at_prompt):
    from tests.fakeserver import Reply

    server.queue(Reply("A picture of noise."))
    typed = at_prompt("--thread", "hist")
    lines(typed, "/attach shot.png")
    assert "A picture of noise." in typed.say("what is this?")[0], typed

    said = lines(typed, "/history")
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
    assert NOTES  # (notes.txt, 32 bytes, beside it: the fixture's)

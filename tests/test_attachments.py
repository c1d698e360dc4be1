"""Files and images with a question: checked before anything is sent, sent as the model reads them, stored once."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from chatcli.content.attachments import MAX_FILES, MAX_FILES_BYTES
from tests.fakeserver import Reply
from tests.helpers import assert_one_error_line, chat, stored
from tests.matrix import DOORS, doors
from tests.test_reliability import db_of

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(1000)
GIF = b"GIF89a" + os.urandom(500)
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + os.urandom(500)


def user_content(body: dict) -> object:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def image_urls(content: object) -> list[str]:
    return [p["image_url"]["url"] for p in content if isinstance(p, dict) and p.get("type") == "image_url"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data, mime", [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_an_image_goes_as_an_image_part(server, chat_env, tmp_path, data, mime):
    (tmp_path / "shot.img").write_bytes(data)
    server.queue(Reply("A picture of noise."))
    run = chat(chat_env, "-a", str(tmp_path / "shot.img"), "what is this?")
    assert run.code == 0, run
    content = user_content(server.requests[0])
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert image_urls(content) == [f"data:{mime};base64," + base64.b64encode(data).decode()]


def test_a_text_file_goes_as_a_named_fenced_block(server, chat_env, tmp_path):
    (tmp_path / "app.py").write_text("def main():\n    return 42\n")
    (tmp_path / "notes.md").write_text("```\nfenced inside\n```\n")
    server.queue(Reply("ok"))
    run = chat(chat_env, "-a", str(tmp_path / "app.py"), "--attach", str(tmp_path / "notes.md"), "review")
    assert run.code == 0, run
    (part,) = user_content(server.requests[0])
    text = part["text"]
    assert text.startswith("review\n\nFile `app.py`:\n```\ndef main():\n    return 42\n\n```")
    assert "File `notes.md`:\n````\n```\nfenced inside\n```\n\n````" in text  # a longer fence around fences


def test_an_image_on_stdin_is_an_attachment(server, chat_env):
    server.queue(Reply("noise"))
    run = chat(chat_env, "what is this?", stdin=PNG)
    assert run.code == 0, run
    assert image_urls(user_content(server.requests[0])) == ["data:image/png;base64," + base64.b64encode(PNG).decode()]


def test_binary_stdin_that_is_no_image_is_refused(server, chat_env):
    run = chat(chat_env, "what?", stdin=b"\x00\xff\xfe binary")
    assert run.code == 2, run
    assert "neither valid UTF-8" in run.err and "PNG, JPEG, GIF or WebP" in run.err
    assert server.requests == []


def test_a_60_mb_file_is_refused_before_anything_is_sent(server, chat_env, tmp_path):
    big = tmp_path / "huge.png"
    with big.open("wb") as handle:
        handle.write(PNG[:8])
        handle.truncate(60 * 1024 * 1024)
    run = chat(chat_env, "-a", str(big), "-t", "big", "look")
    assert run.code == 2, run
    assert "huge.png is 60.0 MB; an attachment may be at most 20 MB" in run.err
    assert server.requests == [] and not stored(db_of(chat_env), "big")


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: p / "missing.png", "no such file"),
        (lambda p: p, "is a directory"),
        (
            lambda p: (p / "blob.bin").write_bytes(b"\x00\x01\xff" * 10) and p / "blob.bin",
            "neither text (UTF-8) nor a PNG, JPEG, GIF or WebP image",
        ),
    ],
)
def test_an_attachment_that_cannot_go_is_one_line(server, chat_env, tmp_path, make, says):
    run = chat(chat_env, "-a", str(make(tmp_path)), "look")
    assert run.code == 2, run
    assert says in run.err and len(run.err.strip().splitlines()) == 1, run
    assert server.requests == []


def test_stored_once_shown_as_a_line_and_later_turns_work(server, chat_env, tmp_path):
    (tmp_path / "shot.png").write_bytes(PNG)
    server.queue(Reply("noise"), Reply("still noise"), Reply("yes"))
    assert chat(chat_env, "-a", str(tmp_path / "shot.png"), "-t", "pic", "what is this?").code == 0
    assert chat(chat_env, "-t", "pic", "are you sure?").code == 0
    # the image is in the history the next request carries (85 tokens of the budget, not its bytes)
    assert len(image_urls(user_content({"messages": server.requests[1]["messages"][:2]}))) == 1
    show = chat(chat_env, "show", "pic").out
    assert "what is this?" in show and "*attached: shot.png (image/png, 3 KB)*" in show
    assert "base64" not in show
    question = stored(db_of(chat_env), "pic")[0]
    assert question.additional_kwargs["chatcli_attachments"] == [
        {"name": "shot.png", "type": "image/png", "size": len(PNG)}
    ]


def test_export_and_import_keep_the_attachments(server, chat_env, tmp_path):
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "a.txt").write_text("text file body")
    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", str(tmp_path / "shot.png"), "-a", str(tmp_path / "a.txt"), "-t", "ex", "both").code == 0
    exported = json.loads(chat(chat_env, "export", "ex", "-f", "json").out)
    first = exported["messages"][0]
    assert first["content"] == "both"
    assert [(a["name"], a["type"]) for a in first["attachments"]] == [
        ("shot.png", "image/png"),
        ("a.txt", "text/plain"),
    ]
    assert base64.b64decode(first["attachments"][0]["data"]) == PNG
    assert base64.b64decode(first["attachments"][1]["data"]) == b"text file body"
    path = tmp_path / "ex.json"
    path.write_text(json.dumps(exported))
    new_id = chat(chat_env, "import", str(path)).out.strip()
    server.queue(Reply("again"))
    assert chat(chat_env, "-t", new_id, "and now?").code == 0
    sent = server.requests[-1]["messages"][1]["content"]
    assert image_urls(sent) == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    assert "File `a.txt`:\n```\ntext file body\n```" in sent[0]["text"]


def test_a_model_that_refuses_images_is_one_line_and_keeps_the_thread(server, chat_env, tmp_path):
    server.vision = False
    (tmp_path / "shot.png").write_bytes(PNG)
    run = chat(chat_env, "-a", str(tmp_path / "shot.png"), "-t", "blind", "what is this?")
    assert run.code == 4, run
    line = run.err_lines[-1]
    assert "does not take images" in line and "/undo" in line, run
    (question,) = stored(db_of(chat_env), "blind")
    assert question.additional_kwargs["chatcli_attachments"][0]["name"] == "shot.png"


def test_storage_grows_by_what_is_said_not_by_the_image_per_turn(server, chat_env, tmp_path):
    """The image is stored once: ten more turns add about what they say, not ten more images."""
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(400_000)
    (tmp_path / "big.png").write_bytes(big)
    db = Path(db_of(chat_env))
    server.queue(Reply("noise"))
    assert chat(chat_env, "-a", str(tmp_path / "big.png"), "-t", "grow", "what?").code == 0

    def size() -> int:
        import sqlite3

        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return db.stat().st_size + (
            db.with_name(db.name + "-wal").stat().st_size if db.with_name(db.name + "-wal").exists() else 0
        )

    after_image = size()
    for i in range(10):
        server.queue(Reply(f"answer {i}"))
        assert chat(chat_env, "-t", "grow", f"question {i}").code == 0
    assert size() - after_image < len(big) / 4, (after_image, size())


def _notes(where: Path, count: int, size: int = 0) -> tuple[Path, ...]:
    """``count`` text files, each saying its number (padded to ``size`` bytes)."""
    where.mkdir(exist_ok=True)
    files = []
    for i in range(count):
        file = where / f"note{i:02}.txt"
        text = f"note number {i}\n"
        file.write_text(text + "." * max(0, size - len(text)))
        files.append(file)
    return tuple(files)


@doors(*DOORS)
def test_one_question_carries_at_most_sixteen_files_at_every_door(door, backend, tmp_path):
    """The files one question may carry are the service's to count, whatever door they came by (-a, /attach, a
    request's attachments, an editor's resources): one more is one line, and nothing is sent; as many go whole."""
    files = _notes(tmp_path, MAX_FILES + 1)
    asked = len(backend.model.requests)
    line = door.failed(door.ask("what do these say?", files=files), 2)
    assert f"{MAX_FILES + 1} files: at most {MAX_FILES} go with one question" in line, line
    assert len(backend.model.requests) == asked, "nothing was sent"
    backend.model.queue(Reply("Sixteen notes."))
    answer = door.ask("what do these say?", files=files[:MAX_FILES])
    assert answer.code == 0 and "Sixteen notes." in answer.out, answer
    sent = json.dumps(backend.model.requests[-1])
    assert all(f"note number {i}" in sent for i in range(MAX_FILES)), "every file went with the question"


@doors("cold", "serve")
def test_files_that_hold_more_than_one_question_may_carry_together_are_refused(door, backend, tmp_path):
    """Each file within its own limit, together over what one question may carry: one line naming both."""
    files = _notes(tmp_path, 3, size=14 * 1024 * 1024)
    asked = len(backend.model.requests)
    line = door.failed(door.ask("what do these say?", files=files), 2)
    assert "the files hold 42.0 MB together: at most 40 MB go with one question" in line, line
    files = _notes(tmp_path, 2, size=MAX_FILES_BYTES // 2) + _notes(tmp_path / "more", 1)
    line = door.failed(door.ask("what do these say?", files=files), 2)
    held = f"{MAX_FILES_BYTES + len(files[2].read_bytes()):,} bytes"
    assert f"the files hold {held} together: at most 40 MB ({MAX_FILES_BYTES:,} bytes)" in line, line
    assert len(backend.model.requests) == asked, "nothing was sent"


def _export(server, chat_env, tmp_path: Path) -> dict:
    """A thread of one question with a text file, exported."""
    (tmp_path / "a.txt").write_text("text file body")
    server.queue(Reply("ok"))
    assert chat(chat_env, "-a", str(tmp_path / "a.txt"), "-t", "ex", "read it").code == 0
    return json.loads(chat(chat_env, "export", "ex", "-f", "json").out)


def _file(name: str, data: bytes, mime: str = "text/plain") -> dict:
    return {"name": name, "type": mime, "data": base64.b64encode(data).decode()}


@pytest.mark.parametrize(
    "damage, said",
    [
        ("a file over 20 MB", "messages[0].attachments[0]: big.txt is 21.0 MB; an attachment may be at most 20 MB"),
        ("bytes that are neither", "messages[0].attachments[0]: blob.bin is neither text (UTF-8) nor a PNG"),
        ("no model's name", "model: not a model name: 'two words'"),
    ],
)
def test_an_imported_thread_s_files_and_model_are_checked_as_a_question_s(server, chat_env, tmp_path, damage, said):
    """An export is not the user's typing: its questions' files are read as -a reads one (else every later turn would
    send them again as the file says) and its model's name checked as a door's, before anything is written."""
    exported = _export(server, chat_env, tmp_path)
    first = exported["messages"][0]
    if damage == "a file over 20 MB":
        first["attachments"] = [_file("big.txt", b"a" * (21 * 1024 * 1024))]
    elif damage == "bytes that are neither":
        first["attachments"] = [_file("blob.bin", b"\xff\xfe\x00not text", "text/plain")]
    else:
        exported["model"] = "two words"
    (tmp_path / "ex.json").write_text(json.dumps(exported))
    before = json.loads(chat(chat_env, "threads", "--json").out)
    line = assert_one_error_line(chat(chat_env, "import", str(tmp_path / "ex.json")), 2)
    assert "not a valid thread export: " + said in line, line
    assert json.loads(chat(chat_env, "threads", "--json").out) == before, "nothing was written"


def test_a_thread_stored_before_the_limits_imports_whole_and_a_text_keeps_its_type(server, chat_env, tmp_path):
    """How many files a stored question held is not limited on import (a thread of before the limits, a backup); a
    text keeps the type it was stored with (a page's text/markdown)."""
    exported = _export(server, chat_env, tmp_path)
    notes = [_file(f"n{i}.txt", b"note %d" % i) for i in range(MAX_FILES + 1)]
    exported["messages"][0]["attachments"] = [*notes, {**_file("page", b"# A page"), "type": "text/markdown"}]
    (tmp_path / "ex.json").write_text(json.dumps(exported))
    new_id = chat(chat_env, "import", str(tmp_path / "ex.json")).out.strip()
    again = json.loads(chat(chat_env, "export", new_id, "-f", "json").out)["messages"][0]["attachments"]
    assert len(again) == MAX_FILES + 2 and again[-1]["type"] == "text/markdown", again


def test_an_imported_file_s_type_is_told_by_its_bytes_not_by_the_export(server, chat_env, tmp_path):
    """A text said to be an image in the export goes as the text it is (never as an image part of a made-up type)."""
    exported = _export(server, chat_env, tmp_path)
    exported["messages"][0]["attachments"] = [_file("pic.svg", b"<svg>not an image part</svg>", "image/svg+xml")]
    (tmp_path / "ex.json").write_text(json.dumps(exported))
    new_id = chat(chat_env, "import", str(tmp_path / "ex.json")).out.strip()
    server.queue(Reply("again"))
    assert chat(chat_env, "-t", new_id, "and now?").code == 0
    sent = server.requests[-1]["messages"][1]["content"]
    assert image_urls(sent) == [] and "File `pic.svg`:" in sent[0]["text"], sent


@doors("serve", "cold")
def test_a_question_s_files_are_refused_before_a_role_or_a_node_is_applied(door, backend, tmp_path):
    """The question's files are checked before what the door asks of the thread is applied: a refused question
    leaves the thread on the node it was on, with the system prompt it had."""
    backend.model.queue(Reply("One."), Reply("Two."))
    first = door.ask("first")
    second = door.go_on(first, "second")
    assert second.code == 0, second
    roles = Path(door.env["XDG_CONFIG_HOME"]) / "chatcli" / "roles"
    roles.mkdir(parents=True, exist_ok=True)
    (roles / "pirate.md").write_text("You are a pirate.")
    files = _notes(tmp_path, MAX_FILES + 1)
    if door.name == "serve":
        attached = [{"name": f.name, "data_base64": base64.b64encode(f.read_bytes()).decode()} for f in files]
        status, body = door.served.ask(first.thread, "again", role="pirate", at="1", attachments=attached)
        assert status == 400 and "17 files" in body["error"]["message"], body
    else:
        attached = [arg for f in files for arg in ("-a", str(f))]
        run = door.chat("-t", first.thread, "--role", "pirate", "--at", "1", *attached, "again")
        assert "17 files" in assert_one_error_line(run, 2)
    backend.model.queue(Reply("Three."))
    third = door.go_on(second, "third")
    assert third.code == 0, third
    sent = json.dumps(backend.model.requests[-1])
    assert "second" in sent and "pirate" not in sent, "the thread was left as it was"


def test_files_with_again_are_refused_not_dropped(server, chat_env, tmp_path):
    """--again asks the stored question again with its own files: files given with it are said, not dropped."""
    (tmp_path / "a.txt").write_text("a file")
    server.queue(Reply("First."))
    assert chat(chat_env, "-t", "again", "first").code == 0
    line = assert_one_error_line(chat(chat_env, "-t", "again", "--again", "-a", str(tmp_path / "a.txt")), 2)
    assert "files go with a new question: --again asks the last question again, with none" in line, line
    assert len(server.requests) == 1, "nothing was sent"


@doors("acp")
def test_an_editor_s_command_with_files_is_refused_not_run_without_them(door, backend, tmp_path):
    from acp import RequestError, embedded_text_resource, resource_block, text_block

    backend.model.queue(Reply("First."))
    first = door.ask("first")
    note = tmp_path / "n.txt"
    note.write_text("a note")
    blocks = [text_block("/retry"), resource_block(embedded_text_resource(note.as_uri(), "a note"))]
    with pytest.raises(RequestError) as refused:
        door.editor.call("prompt", 30, session_id=first.thread, prompt=blocks)
    assert refused.value.code == -32602 and "files go with a question, not with /retry" in str(refused.value)
    assert len(backend.model.requests) == 1, "nothing was run"

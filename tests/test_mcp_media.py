"""A tool's image, audio and binary parts (tests/mcp/parts.py returns every kind): each kept for the user as a file
under the thread (its name chat's own, never the server's), named in the result with where it is; an image sent to a
model that takes images, after the tool results, for this question only; what a model does not take said once and
not sent. With every provider's fake (tests/providers.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests import mcp_servers
from tests.fakeserver import Calls, Reply, tool_calls
from tests.helpers import chat
from tests.test_mcp import write_servers
from tests.test_mcp_kept import HOST_DOORS

PARTS = Path(__file__).resolve().parent / "mcp" / "parts.py"
PNG = re.search(r'^PNG = "(.+)"$', PARTS.read_text(), re.M).group(1)  # (the server runs as a script: not imported)


def _files(env: dict[str, str], thread: str) -> list[Path]:
    return sorted((Path(env["XDG_DATA_HOME"]) / "chatcli" / "files" / thread).iterdir())


def test_a_tool_s_image_reaches_the_model_and_its_parts_are_kept_with_every_provider(provider):
    row, fake, env = provider
    write_servers(env, {"parts": mcp_servers.stdio(PARTS)})
    fake.queue(Calls([("every_part", {}, "call_1")]))
    fake.queue(Reply("a red dot"))
    run = chat(env, "-t", "media", "--yes", "--jsonl", "what does it show?")
    assert run.code == 0, run
    sent = json.dumps(fake.requests[1])
    assert PNG in sent, "the image went to the model as an image"
    assert "UklGRiQAAABXQVZF" not in sent and "H4sIAA==" not in sent, "audio and a binary file are not sent"
    told = [line for line in run.err.splitlines() if "not sent to" in line]
    assert len(told) == 1 and "audio audio/wav" in told[0] and "image" not in told[0], run.err
    kept = _files(env, "media")
    assert sorted(p.suffix for p in kept) == [".gz", ".png", ".wav"], kept
    assert base64.b64encode((next(p for p in kept if p.suffix == ".png")).read_bytes()).decode() == PNG
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in kept), "readable by the user alone"
    assert (kept[0].parent.stat().st_mode & 0o777) == 0o700
    result = json.loads(chat(env, "export", "media", "-f", "json").out)
    [tool] = [m for m in result["messages"] if m["role"] == "tool"]
    for path in kept:  # each part's line in the result says where it is kept
        assert path.name in tool["content"], tool["content"]
    fake.queue(Reply("anything else?"))
    again = chat(env, "-t", "media", "and then?")
    assert again.code == 0 and PNG not in json.dumps(fake.requests[-1]), "an earlier question's image is not resent"


def test_a_model_that_takes_no_images_is_not_sent_one_and_the_user_is_told(server, chat_env):
    write_servers(chat_env, {"parts": mcp_servers.stdio(PARTS)})
    server.queue(Calls([("every_part", {}, "call_1")]), Reply("I cannot see it"))
    run = chat(chat_env, "-m", "gpt-3.5-turbo", "-t", "blind", "--yes", "what does it show?")
    assert run.code == 0, run
    assert PNG not in json.dumps(server.requests[1]), "not sent to a model whose profile says it takes no images"
    told = [line for line in run.err.splitlines() if "not sent to gpt-3.5-turbo" in line]
    assert len(told) == 1 and "image image/png" in told[0], run.err
    assert len(_files(chat_env, "blind")) == 3, "kept all the same"


def test_kept_files_are_capped_the_oldest_going_first_said_in_one_line(server, chat_env):
    """Every thread's kept files together are at most ``max_kept_files``: a result that passes it removes the oldest
    (another thread's first), and its line says how many went and why."""
    write_servers(chat_env, {"parts": mcp_servers.stdio(PARTS)})
    env = {**chat_env, "CHATCLI_MAX_KEPT_FILES": "4"}
    server.queue(Calls([("every_part", {}, "call_1")]), Reply("three kept"))
    assert chat(env, "-t", "first", "--yes", "keep them").code == 0
    server.queue(Calls([("every_part", {}, "call_1")]), Reply("three more"))
    assert chat(env, "-t", "second", "--yes", "keep them too").code == 0
    assert len(_files(env, "first")) == 1 and len(_files(env, "second")) == 3
    result = json.loads(chat(env, "export", "second", "-f", "json").out)
    [tool] = [m for m in result["messages"] if m["role"] == "tool"]
    assert "[the oldest 2 kept files removed: max_kept_files is 4]" in tool["content"], tool["content"]


@pytest.mark.parametrize(
    "thread", ["../../escape", "/etc", "a/b", "..", ".", "", "x\x00y", "é" * 80, "-rf", "~root", "C:\\win"]
)
def test_a_kept_part_stays_under_the_files_folder_whatever_the_thread_or_type(tmp_path, thread):
    """The class of names that could move a write: the thread id (any text a user or an import gives) and the media
    type a server says (``../../x``, a path, a NUL) choose nothing: the folder is the id made safe (and a hash of it),
    the file its content's hash and a listed extension."""
    from chatcli.tools.kept_files import keep

    root = tmp_path / "data"
    for mime in ("image/png", "../../../x", "/etc/passwd", "image/png\x00.sh", "text/plain; name=../../a", ""):
        path = keep({"base64": base64.b64encode(b"data").decode(), "mime_type": mime}, thread, root)
        assert path is not None and path.resolve().is_relative_to((root / "files").resolve()), (thread, mime, path)
        assert path.parent.parent == root / "files" and path.suffix in (".png", ".bin", ".txt"), path
    assert keep({"base64": "not base64!", "mime_type": "image/png"}, thread, root) is None


def test_no_two_threads_share_a_folder_of_kept_files(tmp_path):
    """A thread's folder is its own: an id made safe never takes the name of another id (``chat rm`` of one would
    remove the other's files)."""
    import hashlib

    from chatcli.tools.kept_files import folder

    made = folder("a.b", tmp_path)
    lookalike = "a_b-" + hashlib.sha256(b"a.b").hexdigest()[:8]  # a valid thread id of its own
    assert folder(lookalike, tmp_path) != made and folder("a_b", tmp_path) != made


def test_a_symlink_planted_where_a_part_would_go_is_not_followed(tmp_path):
    import hashlib

    from chatcli.tools.kept_files import folder, keep

    root = tmp_path / "data"
    target = tmp_path / "elsewhere"
    place = folder("t", root)
    place.mkdir(parents=True)
    name = hashlib.sha256(b"data").hexdigest()[:16] + ".png"
    (place / name).symlink_to(target)
    assert keep({"base64": base64.b64encode(b"data").decode(), "mime_type": "image/png"}, "t", root) is None
    assert not target.exists()


@HOST_DOORS
def test_a_tool_s_image_reaches_the_model_through_every_door_to_mcp(server, door):
    """Through chat's own connection, the MCP host (JSON between them) and the warm worker: the same image, kept."""
    write_servers(door.env, {"parts": mcp_servers.stdio(PARTS)})
    server.queue(tool_calls(("every_part", {})), Reply("a red dot"))
    run = door.chat("--yes", "-t", f"media-{door.name}", "what does it show?")
    assert run.code == 0, run
    assert PNG in json.dumps(server.requests[-1]), "the image went to the model"
    assert sorted(p.suffix for p in _files(door.env, f"media-{door.name}")) == [".gz", ".png", ".wav"]

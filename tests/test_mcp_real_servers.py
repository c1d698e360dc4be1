"""chat against MCP servers nobody here wrote: the reference servers ``@modelcontextprotocol/server-everything`` and
``@modelcontextprotocol/server-filesystem`` from the npm registry, at the versions ``.ci/mcp-servers`` pins (it
installs them and prints the variables read here; ``.ci/run`` runs it, and here they must be there). What a user does
with each, at every door that reaches MCP servers (``MCP_DOORS``: a one-shot the normal way, through the MCP host, in
the warm worker), asserting what the model is sent and what the user sees; over stdio and streamable HTTP.

server-everything's tool names have hyphens (``get-sum``); it shows ``get-roots-list`` only to a client that declares
roots, as chat does (its working directory). server-filesystem's allowed directories are the roots a client declares
(they replace the directories on its command line), read after it starts: a call before that is answered against its
arguments (modelcontextprotocol/servers#3204), so a reply that must come after waits for its log to say so."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.fakeserver import Raw, Reply, tool_calls
from tests.helpers import chat_process, eventually
from tests.test_mcp import free_port, write_servers
from tests.test_mcp_kept import MCP_DOORS
from tests.test_mcp_lazy import results

NODE = os.environ.get("CHATCLI_TEST_MCP_NODE", "")
EVERYTHING = os.environ.get("CHATCLI_TEST_SERVER_EVERYTHING", "")
FILESYSTEM = os.environ.get("CHATCLI_TEST_SERVER_FILESYSTEM", "")

pytestmark = [
    pytest.mark.e2e,  # starts the servers (Node) and chat's processes
    pytest.mark.skipif(
        not (NODE and EVERYTHING and FILESYSTEM),
        reason='the real MCP servers are not installed: eval "$(.ci/mcp-servers .venv/mcp-servers)" '
        "(CHATCLI_TEST_MCP_NODE, CHATCLI_TEST_SERVER_EVERYTHING, CHATCLI_TEST_SERVER_FILESYSTEM)",
    ),
]

# A function name every provider takes (OpenAI's pattern, the strictest of them)
VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def everything() -> dict:
    return {"command": NODE, "args": [EVERYTHING, "stdio"]}


def filesystem(directory: Path) -> dict:
    return {"command": NODE, "args": [FILESYSTEM, str(directory)]}


def offered(body: dict) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def images(body: dict) -> list[str]:
    """The base64 of each image a request sends the model (OpenAI's ``image_url`` data URLs)."""
    found = []
    for message in body["messages"]:
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    found.append(part["image_url"]["url"].split("base64,", 1)[1])
    return found


@pytest.fixture
def everything_http(tmp_path: Path) -> Iterator[str]:
    """server-everything serving streamable HTTP on a free port; its URL once it says it listens."""
    port = free_port()
    log = tmp_path / "everything-http.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [NODE, EVERYTHING, "streamableHttp"],
            env={**os.environ, "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        eventually(
            lambda: proc.poll() is None and f"listening on port {port}" in log.read_text(),
            f"server-everything to listen on port {port} ({log})",
            timeout=30,
        )
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_chat_tools_lists_what_the_real_servers_offer_and_the_model_gets_valid_names(server, chat_env, tmp_path):
    """The installed ``chat tools``: server-everything's hyphenated tools, its prompts with their arguments and its
    resources; server-filesystem's tools. A question then offers them all to the model, each under a name the
    providers take (a name chat's own tools have is the server's name first)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    write_servers(chat_env, {"everything": everything(), "files": filesystem(shared)})
    listed = chat_process(chat_env, "tools", cwd=tmp_path)
    assert listed.code == 0, listed
    lines = listed.out.splitlines()
    for name in ("echo", "get-sum", "get-tiny-image", "get-resource-links", "get-structured-content",
                 "get-roots-list", "read_text_file", "list_allowed_directories"):  # fmt: skip
        assert any(line.split()[:1] == [name] for line in lines), (name, listed.out)
    assert any(line.startswith("  /mcp__everything__args-prompt city [state]") for line in lines), listed.out
    assert "@everything:demo://resource/static/document/" in listed.out, listed.out
    assert re.search(r"^everything \(stdio, MCP [\d-]+\)", listed.out, re.M), listed.out

    server.queue(Reply("hello"))
    run = chat_process(chat_env, "hello", cwd=tmp_path)
    assert run.code == 0 and run.out == "hello\n", run
    names = offered(server.requests[0])
    assert all(VALID_NAME.match(name) for name in names), names
    assert len(names) == len(set(names)), names
    assert {"echo", "get-sum", "get-tiny-image", "get-roots-list", "read_text_file", "list_allowed_directories"} <= set(
        names
    ), names
    # server-filesystem's read_file and list_directory have chat's own tools' names: offered under the server's
    assert {"files_read_file", "files_list_directory"} <= set(names), names


@MCP_DOORS
def test_server_everythings_tools_answer_the_model_at_every_door(server, door, tmp_path):
    """One question that calls what a user's model would: echo, get-sum, the tiny image (sent to the model as an
    image and kept under the thread), resource links (each named with its URI), structured content and the roots
    (chat's working directory)."""
    project = tmp_path / "my project"
    project.mkdir()
    thread = f"everything-{door.name}"
    write_servers(door.env, {"everything": everything()})
    server.queue(
        tool_calls(
            ("echo", {"message": "hello, world"}),
            ("get-sum", {"a": 2, "b": 40}),
            ("get-tiny-image", {}),
            ("get-resource-links", {"count": 2}),
            ("get-structured-content", {"location": "New York"}),
            ("get-roots-list", {}),
        ),
        Reply("all done"),
    )
    run = door.chat("--yes", "-t", thread, "try everything", cwd=project)
    assert run.code == 0 and run.out == "all done\n", run
    for tool in ("echo", "get-sum", "get-tiny-image", "get-resource-links", "get-structured-content", "get-roots-list"):
        assert any(line.startswith(f"tool: everything:{tool} ") and "→ ok" in line for line in run.err_lines), (
            tool,
            run.err,
        )
    sent = server.requests[1]
    echo, total, image, links, structured, roots = results(sent)
    assert echo == "Echo: hello, world"
    assert "42" in total, total
    # the image: a line in its result saying where it is kept, the PNG itself sent after the results
    kept = sorted((Path(door.env["XDG_DATA_HOME"]) / "chatcli" / "files" / thread).iterdir())
    assert [p.suffix for p in kept] == [".png"], kept
    assert "[image image/png, " in image and kept[0].name in image, image
    assert images(sent) == [base64.b64encode(kept[0].read_bytes()).decode()], "the kept PNG went to the model"
    # resource links: each with its URI, so the model can follow it (read_resource)
    uris = re.findall(r"<(demo://resource/[^>]+)>", links)
    assert len(uris) == 2, links
    assert "read_resource" in offered(sent), offered(sent)
    assert set(json.loads(structured)) >= {"temperature", "conditions", "humidity"}, structured
    assert project.as_uri() in roots and "(1 total)" in roots, roots


@MCP_DOORS
def test_server_everythings_sampling_request_is_asked_then_answered_by_the_thread_model(server, door, tmp_path):
    """``trigger-sampling-request`` (offered only to a client that declares sampling): without a terminal the request
    is declined and the model never hears it; reported by ``--json`` and allowed with ``--resume``, the thread's
    model answers the server's own messages, and the server's result carries that answer."""
    write_servers(door.env, {"everything": everything()})
    call = ("trigger-sampling-request", {"prompt": "name a colour", "maxTokens": 50})
    server.queue(tool_calls(call), Reply("declined, then"))
    run = door.chat("--yes", "-t", "s1", "ask the model", cwd=tmp_path)
    assert run.code == 0 and run.out == "declined, then\n", run
    assert len(server.requests) == 2 and "declined" in results(server.requests[-1])[0], results(server.requests[-1])
    server.queue(tool_calls(call), Reply("Teal."), Reply("It said teal."))
    first = door.chat("--yes", "--json", "-t", "s2", "ask the model", cwd=tmp_path)
    (asked,) = json.loads(first.out)["interrupts"]
    assert "MCP server everything asks your model" in asked["value"]["message"], asked
    done = door.chat("-t", "s2", "--resume", '{"action": "accept"}', cwd=tmp_path)
    assert done.code == 0 and done.out == "It said teal.\n", done
    lent = server.requests[3]
    assert [(m["role"], m["content"]) for m in lent["messages"]] == [
        ("system", "You are a helpful test server."),
        ("user", "Resource trigger-sampling-request context: name a colour"),
    ], lent
    assert "Teal." in results(server.requests[-1])[0], results(server.requests[-1])


def roots_read(env: dict[str, str], failed: list[BaseException]) -> Callable[[], None]:
    """Waits until server-filesystem's log (its stderr, kept by chat: a new one each time a server starts) says it
    took chat's roots: the start of a reply that must come after (``Raw``'s parts). server-filesystem asks for the roots once initialised and
    answers the calls that come meanwhile against its arguments (modelcontextprotocol/servers#3204)."""
    log = Path(env["XDG_DATA_HOME"]) / "chatcli" / "mcp" / "files.log"

    def wait() -> None:
        try:
            eventually(
                lambda: log.exists() and "Updated allowed directories from MCP roots" in log.read_text(),
                f"server-filesystem to take chat's roots ({log})",
                timeout=30,
            )
        except AssertionError as exc:
            failed.append(exc)

    return wait


def after(wait: Callable[[], None], *calls: tuple) -> Raw:
    """``tool_calls(*calls)``, sent once ``wait`` returns."""
    reply = tool_calls(*calls)
    reply.parts.insert(0, wait)
    return reply


@MCP_DOORS
def test_server_filesystem_works_in_the_directory_chat_declares_and_refuses_outside(server, door, tmp_path):
    """server-filesystem, given a directory on its command line, works where chat's roots say (the one-shot's
    directory: roots replace its arguments): lists and reads a file there; a path outside is refused by the server,
    the error reaching the model as the call's result and the turn going on. From another directory (a server of its
    own at every door: the host keeps one per caller's roots), its allowed directory is that one."""
    configured, project, elsewhere = tmp_path / "configured", tmp_path / "project", tmp_path / "elsewhere"
    for place in (configured, project, elsewhere):
        place.mkdir()
    (project / "notes.txt").write_text("buy oat milk\n")
    (elsewhere / "secret.txt").write_text("the launch codes\n")
    write_servers(door.env, {"files": filesystem(configured)})
    failed: list[BaseException] = []
    server.queue(
        tool_calls(("list_allowed_directories", {})),  # starts it (its answer may come before it has the roots)
        after(
            roots_read(door.env, failed),
            ("list_allowed_directories", {}),
            ("files_list_directory", {"path": str(project)}),
            ("read_text_file", {"path": str(project / "notes.txt")}),
            ("read_text_file", {"path": str(elsewhere / "secret.txt")}),
        ),
        Reply("read it"),
    )
    run = door.chat("--yes", "what is in my notes?", cwd=project)
    assert not failed and run.code == 0 and run.out == "read it\n", (failed, run)
    allowed, listing, notes, refused = results(server.requests[2])[1:]
    assert allowed.splitlines()[1:] == [str(project)], allowed
    assert listing == "[FILE] notes.txt", listing
    assert notes == "buy oat milk\n", notes
    assert "outside allowed directories" in refused, refused
    assert "launch codes" not in json.dumps(server.requests[2]), "refused by the server"
    assert any("files:read_text_file" in line and "secret.txt" in line for line in run.err_lines), run.err

    server.queue(
        tool_calls(("list_allowed_directories", {})),
        after(roots_read(door.env, failed), ("list_allowed_directories", {})),
        Reply("there"),
    )
    run = door.chat("--yes", "where may you work now?", cwd=elsewhere)
    assert not failed and run.code == 0 and run.out == "there\n", (failed, run)
    allowed = results(server.requests[-1])[-1]
    assert allowed.splitlines()[1:] == [str(elsewhere)], allowed


@MCP_DOORS
def test_server_everything_over_streamable_http(server, door, everything_http, tmp_path):
    """The same server over streamable HTTP (a URL in mcp.json): its tools called, its roots request answered."""
    write_servers(door.env, {"everything": {"url": everything_http}})
    server.queue(
        tool_calls(("echo", {"message": "over http"}), ("get-sum", {"a": 1, "b": 2}), ("get-roots-list", {})),
        Reply("done"),
    )
    run = door.chat("--yes", "add over http", cwd=tmp_path)
    assert run.code == 0 and run.out == "done\n", run
    echo, total, roots = results(server.requests[1])
    assert echo == "Echo: over http"
    assert "3" in total, total
    assert tmp_path.as_uri() in roots, roots

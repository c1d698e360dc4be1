"""A session's tools in the editor: files read through the editor (its unsaved buffers), commands run in its
terminal (sandboxed, with chat's environment and nothing of the editor's), both in the session's directory; the
editor's MCP servers beside mcp.json's, their prompts offered as commands and their questions asked as forms.

Each test starts ``chat acp`` in this process (tests/doors/acp.py) and drives it with the protocol's own SDK
(tests/acp_client.py), whose client reads files and runs terminals as an editor does. The editor's MCP servers of
mcp 2.x are made in this process (tests/mcp_servers.in_memory); one of the 2025 era is a process (marked e2e)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from acp import schema

from tests import mcp_servers
from tests.fakeserver import Calls, Reply
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_acp import open_editor as editors
from tests.test_mcp import write_servers
from tests.test_mcp_asking import BOOKED, BOOKING, ERAS, SCRIPTS
from tests.test_mcp_lazy import results

MCP = Path(__file__).parent / "mcp"
open_editor = editors  # the fixture: ``open_editor(*args, **capabilities)`` starts chat acp, initialized
FILES = {"fs": {"readTextFile": True, "writeTextFile": False}}


def stdio(name: str, script: Path, **env: str) -> schema.McpServerStdio:
    variables = [schema.EnvVariable(name=k, value=v) for k, v in env.items()]
    return schema.McpServerStdio(name=name, **mcp_servers.stdio(script), env=variables)


def ended(editor, session: str) -> list:
    return [u for u in editor.of(session, "tool_call_update") if u.status in ("completed", "failed")]


@pytest.mark.parametrize("through_editor", [True, False], ids=["editor-fs", "disk"])
def test_a_file_is_read_in_the_sessions_directory_through_the_editor_where_it_offers(
    open_editor, server, tmp_path, through_editor
):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.md").write_text("saved text\n")
    editor = open_editor("--tools", "files", "--yes", **(FILES if through_editor else {}))
    editor.client.files[str(project / "notes.md")] = "unsaved text in the buffer\n"
    session = editor.new(cwd=str(project))  # the agent itself runs elsewhere (the test's directory)
    server.queue(Calls([("read_file", {"path": "notes.md"})]), Reply("read"))
    assert editor.prompt(session, "what do my notes say?").stop_reason == "end_turn"
    (result,) = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    if through_editor:
        assert "unsaved text in the buffer" in result and editor.client.reads == [str(project / "notes.md")]
    else:
        assert "saved text" in result and "unsaved" not in result and editor.client.reads == []


def test_a_file_the_editor_cannot_read_is_a_result_the_model_reads_and_a_fifo_is_not_read(
    open_editor, server, tmp_path
):
    os.mkfifo(tmp_path / "pipe")
    editor = open_editor("--tools", "files", "--yes", **FILES)
    session = editor.new(cwd=str(tmp_path))
    server.queue(
        Calls([("read_file", {"path": "missing.txt"}), ("read_file", {"path": "pipe"})]), Reply("neither, then")
    )
    assert editor.prompt(session, "read them").stop_reason == "end_turn"
    missing, pipe = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    assert missing.startswith("error:") and "missing.txt" in missing
    assert "FIFO" in pipe and editor.client.reads == [str(tmp_path / "missing.txt")]
    assert editor.text(session) == "neither, then"


SHELL = 'pwd; echo "[${EDITOR_TOKEN:-no editor token}] [${OPENAI_API_KEY:-no key}]"; echo made > inside.txt'


@pytest.mark.parametrize("terminal", [True, False], ids=["editor-terminal", "local"])
def test_a_command_runs_in_the_sessions_directory_with_chats_environment_and_nothing_of_the_editors(
    open_editor, server, tmp_path, terminal
):
    from chatcli.tools import sandbox

    project = tmp_path / "project"
    project.mkdir()
    editor = open_editor("--tools", "shell", "--yes", terminal=terminal)
    editor.client.editor_env["EDITOR_TOKEN"] = "editor-secret"  # what the editor's terminals start with
    session = editor.new(cwd=str(project))
    server.queue(Calls([("shell", {"command": SHELL + "; echo x > ../outside.txt"})]), Reply("ran"))
    assert editor.prompt(session, "run it").stop_reason == "end_turn"
    (result,) = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    lines = result.splitlines()
    assert lines[0] == str(project.resolve()), result
    assert lines[1] == "[no editor token] [no key]", result
    assert (project / "inside.txt").read_text() == "made\n"
    if sandbox.unavailable() is None:  # chat's sandbox holds in the editor's terminal too
        assert not (tmp_path / "outside.txt").exists()
    (card,) = ended(editor, session)
    if terminal:
        (started,) = editor.client.terminals.values()
        assert started.cwd == str(project.resolve()) and started.released
        secrets = [v for k, v in editor.env.items() if "KEY" in k] + ["editor-secret"]
        assert not any(secret in " ".join(started.argv) for secret in secrets), started.argv  # no value on its line
        assert not Path(started.argv[-1]).exists()  # the launcher's private file is gone
        ids = [
            c.terminal_id
            for u in editor.of(session, "tool_call_update")
            for c in u.content or []
            if c.type == "terminal"
        ]
        assert set(ids) == {"term-1"} and card.content[0].type == "terminal"  # the card shows the terminal
    else:
        assert editor.client.terminals == {} and card.content[0].content.text == result


def test_a_cancel_stops_the_command_in_the_editors_terminal_and_keeps_the_thread(open_editor, server, tmp_path):
    import acp

    editor = open_editor("--tools", "shell", "--yes", terminal=True)
    session = editor.new(cwd=str(tmp_path))
    server.queue(Calls([("shell", {"command": "echo started; sleep 60"})]))
    running = editor.start("prompt", session_id=session, prompt=[acp.text_block("wait")])
    editor.wait_for(lambda: bool(editor.client.terminals))
    editor._run(editor.conn.cancel(session_id=session))
    assert running.result(20).stop_reason == "cancelled"
    (terminal,) = editor.client.terminals.values()
    assert terminal.killed and terminal.released
    server.queue(Reply("still here"))
    assert editor.prompt(session, "and now?").stop_reason == "end_turn"
    assert editor.text(session).endswith("still here")


@pytest.mark.usefixtures("in_memory")  # both servers, of mcp 2.x, made in this process
def test_the_editors_mcp_servers_serve_its_session_beside_mcp_json(open_editor, server, chat_env, tmp_path):
    write_servers(chat_env, {"bars": mcp_servers.stdio(MCP / "bars.py")})
    editor = open_editor("--yes", env=chat_env)
    with_notes = editor.new(cwd=str(tmp_path), servers=[stdio("notes", MCP / "notes.py")])
    server.queue(Calls([("add", {"a": 40, "b": 2})]), Reply("42"))
    assert editor.prompt(with_notes, "add").stop_reason == "end_turn"
    offered = {t["function"]["name"] for t in server.requests[-1].get("tools", [])}
    assert "add" in offered  # mcp.json's
    assert results(server.requests[-1]) == ["42"]
    # The editor's server's prompts are commands of that session, by name.
    editor.wait_for(lambda: any(c.name == "mcp__notes__review" for c in _commands(editor, with_notes)))
    review = next(c for c in _commands(editor, with_notes) if c.name == "mcp__notes__review")
    assert review.input.root.hint == "code [focus]"
    server.queue(Reply("looks fine"))
    assert editor.prompt(with_notes, "/mcp__notes__review 'x = 1' focus=style").stop_reason == "end_turn"
    assert server.last_messages()[-1]["content"] == "Review this code for style:\nx = 1"
    # Another session has mcp.json's tools, not the editor's server of the first.
    plain = editor.new(cwd=str(tmp_path))
    assert not any(c.name.startswith("mcp__notes") for c in _commands(editor, plain))
    server.queue(Reply("no notes here"))
    editor.prompt(plain, "hello")
    assert not any("notes" in t["function"]["name"] for t in server.requests[-1].get("tools", []))


def _commands(editor, session: str) -> list:
    updates = editor.of(session, "available_commands_update")
    return updates[-1].available_commands if updates else []


@pytest.mark.parametrize("era", ERAS)  # the 2025 era's server a process (e2e), 2026's made in this process
@pytest.mark.parametrize("forms", [True, False], ids=["form", "no-forms"])
@pytest.mark.usefixtures("in_memory")
def test_a_tool_of_the_editors_mcp_server_asks_through_the_editor(open_editor, server, tmp_path, forms, era):
    calls = tmp_path / "calls"
    editor = open_editor("--yes", **({"elicitation": {"form": {}}} if forms else {}))
    editor.client.form = lambda request: {"action": "accept", "content": BOOKING}
    session = editor.new(cwd=str(tmp_path), servers=[stdio("asking", SCRIPTS[era], ASKING_CALLS=str(calls))])
    server.queue(Calls([("book", {"city": "Paris"})]), Reply("done"))
    assert editor.prompt(session, "book a table in Paris").stop_reason == "end_turn"
    if forms:
        assert editor.client.forms, (results(server.requests[-1]), editor.stderr.decode())
        (form,) = editor.client.forms
        assert form["message"].startswith("Booking a table in Paris")
        assert results(server.requests[-1]) == [BOOKED]
    else:
        assert results(server.requests[-1]) == ["book in Paris: decline"]
    assert calls.read_text().splitlines() == ["book"]


@pytest.mark.parametrize("era", ERAS)  # the 2025 era's server a process (e2e), 2026's made in this process
@pytest.mark.parametrize("forms", [True, False], ids=["form", "no-forms"])
@pytest.mark.usefixtures("in_memory")
def test_a_servers_request_to_use_the_model_is_asked_through_the_editor(open_editor, server, tmp_path, forms, era):
    """MCP sampling in an editor's session: the request is the editor's form (nothing to fill: allow or not); the
    thread's model answers the server only where the user allows it, and never where the editor has no forms."""
    editor = open_editor("--yes", **({"elicitation": {"form": {}}} if forms else {}))
    editor.client.form = lambda request: {"action": "accept", "content": {}}
    session = editor.new(cwd=str(tmp_path), servers=[stdio("asking", SCRIPTS[era])])
    server.queue(Calls([("summarise", {"text": "a fox"})]), *([Reply("A fox.")] if forms else []), Reply("done"))
    assert editor.prompt(session, "summarise").stop_reason == "end_turn"
    (result,) = results(server.requests[-1])
    if forms:
        (form,) = editor.client.forms
        assert "asks your model" in form["message"] and "[user] Summarise: a fox" in form["message"], form
        assert result.startswith("summarise: A fox. ["), result
        assert len(server.requests) == 3
    else:
        assert "declined" in result and len(server.requests) == 2, result


def test_a_bad_cwd_or_mcp_server_is_the_protocols_error_and_the_agent_goes_on(open_editor, server, tmp_path):
    from acp import RequestError

    editor = open_editor("--yes")
    for cwd in ("relative/dir", str(tmp_path / "missing")):
        with pytest.raises(RequestError) as bad:
            editor.new(cwd=cwd)
        assert bad.value.code == -32602 and "cwd" in str(bad.value)
    hostile = schema.McpServerStdio(name="../../etc", command="/bin/true", args=[], env=[])
    with pytest.raises(RequestError) as bad:
        editor.new(cwd=str(tmp_path), servers=[hostile])
    assert bad.value.code == -32602 and "letters, digits" in str(bad.value)
    server.queue(Reply("fine"))
    assert editor.prompt(editor.new(cwd=str(tmp_path)), "hi").stop_reason == "end_turn"


@pytest.mark.usefixtures("in_memory")  # the asking server of mcp 2.x, made in this process
@pytest.mark.parametrize("offered", [True, False], ids=["url-mode", "forms-only"])
def test_a_tools_address_to_visit_is_acps_url_elicitation_where_the_editor_offers_it(
    open_editor, server, tmp_path, offered
):
    calls = tmp_path / "calls"
    asking = {"form": {}, "url": {}} if offered else {"form": {}}
    editor = open_editor("--yes", elicitation=asking)
    editor.client.form = lambda request: {"action": "accept"}
    session = editor.new(cwd=str(tmp_path), servers=[stdio("asking", SCRIPTS["2026"], ASKING_CALLS=str(calls))])
    server.queue(Calls([("visit", {})]), Reply("Signed in."))
    assert editor.prompt(session, "sign me in").stop_reason == "end_turn"
    if offered:
        (asked,) = editor.client.forms
        assert asked["url"] == "https://bank.example/sign-in?x=1" and "requestedSchema" not in asked  # URL mode
        assert asked["message"] == "Sign in to the bank to go on." and asked["sessionId"] == session
        assert asked["elicitationId"] and asked["toolCallId"]
        assert results(server.requests[-1]) == ["visit: accept"]
    else:
        assert editor.client.forms == [] and results(server.requests[-1]) == ["visit: decline"]

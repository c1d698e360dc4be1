"""chat declares the directory it works in as its roots (MCP's roots/list), as server-filesystem reads them to know
where it may act: the one-shot's directory at every door that reaches an MCP server (cold, through the MCP host, in
the warm worker), and an editor's session's own directory with its additional directories."""

from __future__ import annotations

from pathlib import Path

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.test_mcp import write_servers
from tests.test_mcp_kept import HOST_DOORS

ROOTS = Path(__file__).resolve().parent / "mcp" / "roots.py"


def result(server) -> str:
    """The last tool result the model read."""
    return str([m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"][-1])


@HOST_DOORS
def test_a_one_shots_directory_is_its_servers_root_at_every_door(server, door, tmp_path):
    write_servers(door.env, {"roots": mcp_servers.stdio(ROOTS)})
    project = tmp_path / "my project"
    project.mkdir()
    for where in (project, tmp_path):  # the same kept server, asked from two directories
        server.queue(tool_calls(("roots", {})), Reply("listed"))
        run = door.chat("--yes", "where may you work?", cwd=where)
        assert run.code == 0, run
        assert result(server) == f"{where.as_uri()} {where.name}", result(server)


def test_an_editors_session_declares_its_directories(server, chat_env, tmp_path, monkeypatch):
    from acp import schema

    from tests.doors.acp import InProcessEditor

    project, shared = tmp_path / "app", tmp_path / "lib"
    project.mkdir()
    shared.mkdir()
    editor = InProcessEditor(chat_env)
    try:
        editor.initialize()
        spec = schema.McpServerStdio(name="roots", **mcp_servers.stdio(ROOTS), env=[])
        session = editor.call(
            "new_session", cwd=str(project), mcp_servers=[spec], additional_directories=[str(shared)]
        ).session_id
        server.queue(tool_calls(("roots", {})), Reply("listed"))
        editor.client.permission = lambda request: "allow_once"
        editor.prompt(session, "where may you work?")
        assert result(server) == f"{project.as_uri()} app\n{shared.as_uri()} lib", result(server)
    finally:
        assert editor.close() == 0, editor.stderr.decode()


def test_an_editors_session_loaded_in_other_directories_tells_its_servers(server, chat_env, tmp_path):
    """An open session resumed or loaded with other directories: its own server hears that its roots changed
    (``notifications/roots/list_changed``) and lists the new ones; resumed in the same ones, it hears nothing."""
    from acp import schema

    from tests.doors.acp import InProcessEditor

    project, shared, other = tmp_path / "app", tmp_path / "lib", tmp_path / "other"
    for directory in (project, shared, other):
        directory.mkdir()
    changed = tmp_path / "changed"
    editor = InProcessEditor(chat_env)
    try:
        editor.initialize()
        env = [schema.EnvVariable(name="ROOTS_CHANGED", value=str(changed))]
        spec = schema.McpServerStdio(name="roots", **mcp_servers.stdio(ROOTS), env=env)
        session = editor.call("new_session", cwd=str(project), mcp_servers=[spec]).session_id
        editor.client.permission = lambda request: "allow_once"
        server.queue(tool_calls(("roots", {})), Reply("listed"))
        editor.prompt(session, "where may you work?")
        assert result(server) == f"{project.as_uri()} app", result(server)
        editor.call("resume_session", cwd=str(project), session_id=session, mcp_servers=[spec])
        assert not changed.exists()  # the same directories: nothing to tell
        editor.call(
            "resume_session", cwd=str(project), session_id=session, mcp_servers=[spec],
            additional_directories=[str(shared)],
        )  # fmt: skip
        server.queue(tool_calls(("roots", {})), Reply("listed"))
        editor.prompt(session, "and now?")
        assert result(server) == f"{project.as_uri()} app\n{shared.as_uri()} lib", result(server)
        editor.call("load_session", cwd=str(other), session_id=session, mcp_servers=[spec])
        server.queue(tool_calls(("roots", {})), Reply("listed"))
        editor.prompt(session, "and now?")
        assert result(server) == f"{other.as_uri()} other", result(server)
        assert changed.read_text().splitlines() == ["changed", "changed"]
    finally:
        assert editor.close() == 0, editor.stderr.decode()

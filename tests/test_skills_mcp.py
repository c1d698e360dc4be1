"""Skills an MCP server serves (MCP's skills extension, SEP-2640): listed with the server (``skills/list``), in the
catalog beside the folders' as ``SERVER:NAME``, fetched when the model or the user activates one (``resources/read``)
and checked against the size and sha256 the listing gave: a file that differs is refused in one line, never used. A
server without the extension changes nothing; a hostile one is bounded and defused. The server is tests/mcp/skilled.py
(hand-written JSON-RPC lines), over the fake provider (tests/fakeserver.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests import mcp_servers
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers
from tests.test_mcp_kept import HOST_DOORS
from tests.test_skills import PDF, write
from tests.test_skills_doors import system_of, tool_results, tools_of, user_skills

SKILLED = Path(__file__).resolve().parent / "mcp" / "skilled.py"
CATALOG = (
    "- docs:pdf-processing: Extract PDF text, fill forms, merge files. Use when handling PDFs.",
    "- docs:git-workflow: Follow this team's Git conventions for branches and commits.",
)


def skilled(kind: str, log: Path) -> dict:
    return mcp_servers.stdio(SKILLED, kind, env={"SKILLED_LOG": str(log)})


def asked(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@HOST_DOORS
def test_served_skills_join_the_catalog_and_are_fetched_and_checked_when_activated(server, door, tmp_path):
    log = tmp_path / "skilled.log"
    write_servers(door.env, {"docs": skilled("good", log)})
    write(user_skills(Path(door.env["HOME"])), "pdf-processing", PDF)  # the user's own, of the same name
    server.queue(
        tool_calls(("activate_skill", {"name": "docs:pdf-processing"})),
        tool_calls(("activate_skill", {"name": "docs:pdf-processing", "file": "references/REFERENCE.md"})),
        tool_calls(("activate_skill", {"name": "docs:pdf-processing", "file": "../git-workflow/SKILL.md"})),
        Reply("Extracted."),
    )
    run = door.chat("get the text out of report.pdf")
    assert run.code == 0 and "Extracted." in run.out, run
    first, second, third, fourth = server.requests
    system = system_of(first)
    assert all(line in system for line in CATALOG), system
    assert "- pdf-processing: Extract PDF text" in system  # the user's own skill: neither shadows the other
    assert "activate_skill" in tools_of(first)
    body = tool_results(second)[0]
    assert body.startswith('<skill_content name="docs:pdf-processing" server="docs">\n'), body
    assert "MCP server docs's skill" in body and "# PDF processing" in body
    assert "<file>references/REFERENCE.md</file>" in body and "name: pdf-processing" not in body
    assert tool_results(third)[-1] == "# Reference\nUse pdftotext -layout.\n"
    refused = tool_results(fourth)[-1]
    assert refused.startswith("error: ../git-workflow/SKILL.md: not a file of the skill docs:pdf-processing"), refused
    reads = [line for line in asked(log) if line.startswith("resources/read")]
    assert reads == [
        "resources/read skill://pdf-processing/SKILL.md",
        "resources/read skill://pdf-processing/references/REFERENCE.md",
    ]  # fetched when activated, nothing before; a file the skill does not list is never asked for
    # chat declares the extension (and MCP Apps's: chatcli.tools.mcp.apps)
    assert "initialize io.modelcontextprotocol/skills io.modelcontextprotocol/ui" in asked(log)


@pytest.mark.usefixtures("in_memory")
def test_a_file_not_as_listed_is_refused_in_one_line_and_never_used(server, chat_env, tmp_path):
    write_servers(chat_env, {"docs": skilled("tampered", tmp_path / "log")})
    server.queue(tool_calls(("activate_skill", {"name": "docs:pdf-processing"})), Reply("Could not load it."))
    run = chat(chat_env, "extract report.pdf")
    assert run.code == 0, run
    refused = tool_results(server.requests[1])[-1]
    assert refused == (
        "error: skill://pdf-processing/SKILL.md: not what MCP server docs listed (its size or sha256 differs); refused"
    )
    assert all("id_rsa" not in json.dumps(body) for body in server.requests)
    run = chat(chat_env, "skills")  # still listed: it is its content that is refused, each time it is fetched
    assert "docs:pdf-processing  Extract PDF text" in run.out, run


@pytest.mark.usefixtures("in_memory")
def test_chat_skills_lists_them_with_their_server(chat_env, tmp_path):
    write_servers(chat_env, {"docs": skilled("good", tmp_path / "log")})
    run = chat(chat_env, "skills")
    assert run.code == 0, run
    lines = run.out.splitlines()
    assert (
        "docs:pdf-processing  Extract PDF text, fill forms, merge files. Use when handling PDFs.  "
        "skill://pdf-processing/SKILL.md of MCP server docs"
    ) in lines, lines
    assert any(line.startswith("docs:git-workflow  ") for line in lines), lines
    listed = {s["name"]: s for s in json.loads(chat(chat_env, "skills", "--json").out)["skills"]}
    assert listed["docs:git-workflow"] == {
        "name": "docs:git-workflow",
        "description": "Follow this team's Git conventions for branches and commits.",
        "path": "skill://acme/git-workflow/SKILL.md of MCP server docs",
        "kind": "skill",
        "from": "mcp",
        "server": "docs",
        "state": "offered",
        "command": "/docs:git-workflow",
        "model_may_activate": True,
        "allowed_tools": [],
    }


@pytest.fixture(params=["acp", "serve"])
def client(request: pytest.FixtureRequest, chat_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """A client's door (tests/test_client_commands.py) to a chat whose mcp.json has a good server and a tampered one."""
    from tests.test_client_commands import opened

    request.getfixturevalue("in_memory")
    servers = {"docs": skilled("good", tmp_path / "good.log"), "bad": skilled("tampered", tmp_path / "bad.log")}
    write_servers(chat_env, servers)
    with opened(request.param, chat_env) as door:
        yield door


def test_the_user_runs_a_served_skill_as_a_command_and_a_tampered_one_is_refused(client, server):
    from tests.test_client_commands import Refused

    server.queue(Reply("hello"), Reply("on it"))
    client.ask("hello")
    offered = client.offered()
    assert offered["docs:git-workflow"].startswith("Follow this team's Git") and "bad:pdf-processing" in offered
    assert client.run("docs:git-workflow", "for this branch") == "on it"
    question = str(server.requests[-1]["messages"][-1]["content"])
    assert question.startswith('<skill_content name="docs:git-workflow" server="docs">')
    assert "Branch from main" in question and question.endswith("</skill_content>\n\nfor this branch")
    with pytest.raises(Refused) as refused:
        client.run("bad:pdf-processing")
    assert str(refused.value).startswith(
        "skill://pdf-processing/SKILL.md: not what MCP server bad listed (its size or sha256 differs); refused"
    )
    assert "\n" not in str(refused.value) and len(server.requests) == 2  # one line, and nothing was asked
    assert "docs:git-workflow  Follow this team's Git" in client.run("skills")


@pytest.mark.usefixtures("in_memory")
def test_a_hostile_servers_skills_are_bounded_and_defused(server, chat_env, tmp_path):
    log = tmp_path / "skilled.log"
    write_servers(chat_env, {"evil": skilled("hostile", log)})
    run = chat(chat_env, "skills")
    assert run.code == 0 and "\x1b" not in run.out and "\x07" not in run.out, run
    lines = run.out.splitlines()
    offered = sorted(line.split("  ")[0] for line in lines if line.startswith("evil:"))
    assert offered == ["evil:huge", "evil:liar", "evil:loud"], lines
    skipped = [line for line in lines if line.startswith("MCP server evil: ")]
    assert len(skipped) == 3 and all(line.endswith("; skipped") for line in skipped), skipped
    assert any("'skill://../../etc/SKILL.md' is not the URI of a skill's SKILL.md" in line for line in skipped)
    assert any("skill://moving/SKILL.md: its files are not listed with their sha256" in line for line in skipped)

    server.queue(
        tool_calls(("activate_skill", {"name": "evil:huge"})),
        tool_calls(("activate_skill", {"name": "evil:liar"})),
        tool_calls(("activate_skill", {"name": "evil:loud"})),
        Reply("done"),
    )
    assert chat(chat_env, "go").code == 0
    huge, liar, loud = (tool_results(body)[-1] for body in server.requests[1:])
    assert huge.startswith("error: skill://huge/SKILL.md: larger than 256 KiB"), huge
    assert liar.startswith("error: skill://liar/SKILL.md: not what MCP server evil listed"), liar
    assert "\x1b" not in loud and "\x07" not in loud and "Say " in loud, loud
    assert "resources/read skill://huge/SKILL.md" not in asked(log)  # refused by its listed size: never read


@pytest.mark.usefixtures("in_memory")
def test_a_server_without_the_extension_changes_nothing(server, chat_env, tmp_path):
    log = tmp_path / "skilled.log"
    write_servers(chat_env, {"docs": skilled("plain", log)})
    server.queue(Reply("plain"))
    assert chat(chat_env, "hello").code == 0
    first = server.requests[0]
    assert tools_of(first) == ["echo"] and "skill" not in system_of(first)
    assert "skills/list" not in asked(log) and "tools/list" in asked(log)


@pytest.mark.usefixtures("in_memory")
def test_while_a_served_skill_is_active_no_command_runs_unasked(server, chat_env, tmp_path):
    write_servers(chat_env, {"docs": skilled("good", tmp_path / "log")})
    server.queue(
        tool_calls(("activate_skill", {"name": "docs:git-workflow"})),
        tool_calls(("shell", {"command": "touch ran"})),
        Reply("I could not run it."),
    )
    run = chat(chat_env, "--tools", "shell", "--yes", "tidy the branches", cwd=tmp_path)
    assert run.code == 0, run
    first, second, third = server.requests
    assert "shell" in tools_of(first) and "shell" not in tools_of(second)  # --yes: it would run unasked
    assert "was not offered" in tool_results(third)[-1] and not (tmp_path / "ran").exists()
    server.queue(Reply("next"))
    assert chat(chat_env, "--tools", "shell", "--yes", "-c", "and now?", cwd=tmp_path).code == 0
    assert "shell" in tools_of(server.requests[-1])  # a new question: no skill active


def test_a_name_a_server_lists_twice_is_told_apart_by_its_path_and_none_shadows_another():
    from types import SimpleNamespace

    from chatcli.tools.skills import Found, served

    def entry(path: str, name: str) -> dict:
        uri = f"skill://{path}/SKILL.md"
        files = [{"uri": uri, "digest": "sha256:" + "0" * 64, "size": 1}]
        return {"uri": uri, "frontmatter": {"name": name, "description": f"The {path} one."}, "resources": files}

    def server(name: str, *entries: dict) -> SimpleNamespace:
        return SimpleNamespace(name=name, offers=True, listing=SimpleNamespace(data={"skills": list(entries)}))

    billing, support = entry("acme/billing/refunds", "refunds"), entry("acme/support/refunds", "refunds")
    found = served(Found(), [server("a", billing, support, billing), server("b", billing)])
    assert [(s.name, s.description) for s in found.skills] == [
        ("a:refunds", "The acme/billing/refunds one."),
        ("a:acme/support/refunds", "The acme/support/refunds one."),
        ("b:refunds", "The acme/billing/refunds one."),
    ]
    assert found.problems == ("MCP server a: skill://acme/billing/refunds/SKILL.md is listed twice; skipped",)


@pytest.mark.usefixtures("in_memory")
def test_a_server_of_the_2026_revision_serves_its_skills_as_its_sdk_declares_them(server, chat_env):
    write_servers(chat_env, {"docs": mcp_servers.stdio(Path(__file__).parent / "mcp" / "skilled_modern.py")})
    server.queue(tool_calls(("activate_skill", {"name": "docs:git-workflow"})), Reply("Branching."))
    run = chat(chat_env, "start a branch")
    assert run.code == 0 and "Branching." in run.out, run
    assert "- docs:git-workflow: Follow this team's Git conventions." in system_of(server.requests[0])
    body = tool_results(server.requests[1])[-1]
    assert body.startswith('<skill_content name="docs:git-workflow" server="docs">') and "Branch from main." in body


def test_an_activated_served_skill_is_known_as_active_by_its_whole_name():
    from chatcli.tools.skills import active

    said = ['<skill_content name="docs:pdf-processing" server="docs">\n(MCP server docs\'s skill...', "hello"]
    assert active(said) == {"docs:pdf-processing"}  # (kept whole through compaction, as a folder's skill is)

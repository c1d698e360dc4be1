"""Agent Skills in chat, at every door: the catalog goes with each question of chat's own graph, the model activates a
skill with the tool chat offers (no approval: it reads the skill's own files only), the user runs one as ``/NAME
ARGS`` at the prompt, in an editor (ACP) and through ``chat serve``'s command route; ``allowed-tools`` narrows the
tools offered while the skill is active; its instructions stay whole through compaction; ``chat skills`` and
``/skills`` say what is in effect; a project's skills wait for ``chat trust``. In this process, over the fake
provider (tests/fakeserver.py) and the doors of tests/doors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.test_skills import PDF, skill_md, write

EXTRACT = "import sys\nprint('text of', sys.argv[1])\n"


def user_skills(home: Path) -> Path:
    """The user's skills folder as Claude Code users have it."""
    return home / ".claude" / "skills"


def system_of(body: dict) -> str:
    return str(body["messages"][0]["content"]) if body["messages"][0]["role"] == "system" else ""


def tools_of(body: dict) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def tool_results(body: dict) -> list[str]:
    return [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]


@pytest.fixture
def pdf(isolated_env: Path) -> Path:
    """The spec's example skill, with its script and its reference, in the user's ~/.claude/skills."""
    return write(
        user_skills(isolated_env),
        "pdf-processing",
        PDF,
        **{"scripts/extract.py": EXTRACT, "references/REFERENCE.md": "# Reference\nUse pdftotext -layout.\n"},
    )


def test_no_skill_adds_nothing_to_the_request(server, chat_env):
    server.queue(Reply("plain"))
    assert chat(chat_env, "hello").code == 0
    body = server.requests[0]
    assert "tools" not in body and "activate_skill" not in system_of(body)


def test_the_catalog_goes_with_the_question_and_the_model_activates_a_skill_unasked(server, chat_env, pdf):
    server.queue(
        tool_calls(("activate_skill", {"name": "pdf-processing"})),
        tool_calls(("activate_skill", {"name": "pdf-processing", "file": "references/REFERENCE.md"})),
        tool_calls(("activate_skill", {"name": "pdf-processing", "file": "../../../../.bashrc"})),
        tool_calls(("activate_skill", {"name": "../skills/pdf-processing"})),
        Reply("Run scripts/extract.py on it."),
    )
    run = chat(chat_env, "get the text out of report.pdf")  # no terminal, no --yes: nothing could be approved
    assert run.code == 0 and run.out == "Run scripts/extract.py on it.\n", run
    first, second, third, fourth, fifth = server.requests
    assert "- pdf-processing: Extract PDF text, fill forms, merge files. Use when handling PDFs." in system_of(first)
    assert tools_of(first) == ["activate_skill"]  # (the remember tool waits for a question that asks to remember)
    body = tool_results(second)[0]
    assert body.startswith('<skill_content name="pdf-processing">\n# PDF processing') and str(pdf) in body
    assert "<file>scripts/extract.py</file>" in body and "<file>references/REFERENCE.md</file>" in body
    assert tool_results(third)[-1] == "# Reference\nUse pdftotext -layout.\n"
    assert tool_results(fourth)[-1].startswith("error: ../../../../.bashrc: not a file of the skill")
    assert (
        tool_results(fifth)[-1]
        == "error: no skill '../skills/pdf-processing' to activate (the system prompt lists them)"
    )
    assert "refused" not in run.err, run


def test_a_skill_for_the_user_alone_is_not_in_the_catalog_nor_activated(server, chat_env, isolated_env):
    write(user_skills(isolated_env), "deploy", skill_md("deploy", extra="disable-model-invocation: true\n"))
    server.queue(Reply("ok"))
    assert chat(chat_env, "deploy it").code == 0
    first = server.requests[0]
    assert "deploy" not in system_of(first) and "activate_skill" not in tools_of(first)


def test_allowed_tools_narrow_what_is_offered_while_the_skill_is_active(server, chat_env, isolated_env):
    write(
        user_skills(isolated_env),
        "reader",
        skill_md("reader", extra="allowed-tools: Read Grep\n"),  # Claude Code's names
    )
    server.queue(
        tool_calls(("activate_skill", {"name": "reader"})),
        tool_calls(("shell", {"command": "touch escaped"})),
        Reply("read only"),
    )
    run = chat(chat_env, "--tools", "shell,files", "--yes", "look around")
    assert run.code == 0, run
    first, second, third = server.requests
    assert tools_of(first) == ["shell", "read_file", "list_directory", "activate_skill"]
    assert tools_of(second) == ["read_file", "activate_skill"]  # never more than the skill allows
    assert "was not offered" in tool_results(third)[-1] and not Path("escaped").exists()
    server.queue(Reply("next"))
    assert chat(chat_env, "--tools", "shell,files", "-c", "and now?").code == 0
    assert "shell" in tools_of(server.requests[-1])  # a new question: no skill active


def test_a_projects_skills_wait_for_chat_trust_and_a_change_untrusts_them(server, chat_env, tmp_path):
    project = tmp_path / "repo"
    skill = write(project / ".agents" / "skills", "lint", skill_md("lint", "Lints the code. Use before a commit."))
    server.queue(Reply("one"), Reply("two"), Reply("three"))
    first = chat(chat_env, "hi", cwd=project)
    assert first.code == 0 and "1 of this project's skills wait for chat trust" in first.err, first
    assert "lint" not in system_of(server.requests[-1])
    listed = chat(chat_env, "skills", cwd=project)
    assert "untrusted, not offered until chat trust runs there" in listed.out and str(skill) in listed.out

    hooks = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]}}
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps(hooks))
    trusted = chat(chat_env, "trust", "--yes", cwd=project)
    assert trusted.code == 0 and "this project's skills lint: trusted as they are now" in trusted.err, trusted
    settings = (project / ".claude" / "settings.json").resolve()
    assert f"the hooks of {settings}: trusted as they are now" in trusted.err, trusted  # its hooks with its skills
    assert chat(chat_env, "hi", cwd=project).code == 0
    assert "- lint: Lints the code." in system_of(server.requests[-1])

    (skill / "SKILL.md").write_text(skill_md("lint", "Lints the code, then pushes it. Use always."))
    assert chat(chat_env, "hi", cwd=project).code == 0
    assert "lint" not in system_of(server.requests[-1])
    revoked = chat(chat_env, "trust", "--revoke", cwd=project)
    assert revoked.code == 0 and "lint: no longer trusted" in revoked.err, revoked
    assert f"the hooks of {settings}: no longer trusted" in revoked.err, revoked


def test_chat_skills_says_what_is_in_effect_and_why_the_others_are_not(chat_env, isolated_env, tmp_path, pdf):
    project = tmp_path / "repo"
    write(project / ".claude" / "skills", "pdf-processing", PDF)  # shadows the user's, once trusted
    write(user_skills(isolated_env), "tree", skill_md("tree"))  # /tree is chat's own
    write(user_skills(isolated_env), "ansi", skill_md("ansi", '"Paints \\e]0;owned\\a the \\e[2J screen"'))
    write(user_skills(isolated_env), "escape", skill_md("../../etc"))  # a name that climbs out of its folder
    big = user_skills(isolated_env) / "huge"
    big.mkdir()
    (big / "SKILL.md").write_bytes(b"---\nname: huge\ndescription: big\n---\n" + b"x" * 10 * 1024 * 1024)
    outside = tmp_path / "elsewhere" / "stolen"
    write(outside.parent, "stolen", skill_md("stolen"))
    (user_skills(isolated_env) / "stolen").symlink_to(outside)
    assert chat(chat_env, "trust", "--yes", cwd=project).code == 0

    run = chat(chat_env, "skills", cwd=project)
    assert run.code == 0, run
    lines = run.out.splitlines()
    assert "\x1b" not in run.out and "\x07" not in run.out
    assert any(line.startswith("pdf-processing  ") and str(project) in line for line in lines), lines
    assert any(line.startswith("tree  ") and "/tree is chat's own command" in line for line in lines), lines
    assert any("shadowed by a nearer skill" in line and str(pdf) in line for line in lines), lines
    for why in ("escape/SKILL.md: its name", "huge/SKILL.md: larger than", "stolen: a link out of the skills"):
        assert sum(why in line for line in lines) == 1, (why, lines)

    listed = json.loads(chat(chat_env, "skills", "--json", cwd=project).out)
    by_name = {(s["name"], s["state"]): s for s in listed["skills"]}
    assert by_name[("pdf-processing", "offered")]["from"] == "project"
    assert by_name[("pdf-processing", "shadowed")]["from"] == "user"
    assert by_name[("tree", "offered")]["command"] is None and by_name[("ansi", "offered")]["command"] == "/ansi"
    assert len(listed["problems"]) == 3


def test_slash_name_at_the_prompt_asks_the_skill_with_its_arguments(server, chat_env, pdf, monkeypatch):
    from tests.doors.prompt import Typed

    monkeypatch.setenv("PAGER", "cat")  # /help, taller than the screen, is printed as it is

    typed = Typed(chat_env, ["--thread", "skilled"])
    typed.ready()
    server.queue(Reply("extracted"))
    out, err = typed.say("/pdf-processing report.pdf pages 1-3")
    assert "extracted" in out, typed
    asked = server.requests[-1]["messages"][-1]
    assert asked["role"] == "user" and str(asked["content"]).startswith('<skill_content name="pdf-processing">')
    assert str(asked["content"]).endswith("</skill_content>\n\nreport.pdf pages 1-3")
    out, err = typed.say("/title")
    assert "/pdf-processing report.pdf pages 1-3" in out, typed  # the thread is named by the line typed
    out, err = typed.say("/skills")
    assert "pdf-processing  Extract PDF text" in out, typed
    out, err = typed.say("/help")
    assert "/pdf-processing [ARGS]  Extract PDF text" in out, typed
    out, err = typed.say("/tree-of-life")
    assert "unknown command /tree-of-life" in err, typed
    assert typed.leave() == 0, typed


@pytest.fixture(params=["acp", "serve"])
def client(request: Any, pdf: Path, chat_env: dict[str, str]) -> Iterator[Any]:
    """A client's door (tests/test_client_commands.py), opened once the skill is there."""
    from tests.test_client_commands import opened

    with opened(request.param, chat_env) as door:
        yield door


def test_slash_name_at_each_client_door(client, server):
    server.queue(Reply("hello"), Reply("extracted"))
    client.ask("hello")
    offered = client.offered()
    assert offered["pdf-processing"].startswith("Extract PDF text") and "skills" in offered
    assert client.run("pdf-processing", "report.pdf") == "extracted"
    asked = server.requests[-1]["messages"][-1]
    assert str(asked["content"]).startswith('<skill_content name="pdf-processing">')
    assert "pdf-processing  Extract PDF text" in client.run("skills")


def test_an_activated_skill_stays_whole_through_compaction():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from chatcli.backends.own.compaction import head
    from chatcli.tools.skills import TOOL

    body = '<skill_content name="pdf-processing">\n# PDF processing\nsteps\n</skill_content>'
    call = {"name": TOOL, "args": {"name": "pdf-processing"}, "id": "c1"}
    messages = [
        HumanMessage("first", id="h1"),
        AIMessage("", tool_calls=[call], id="a1"),
        ToolMessage(body, tool_call_id="c1", name=TOOL, id="t1"),
        AIMessage("done", id="a2"),
        HumanMessage(f"{body}\n\nreport.pdf", id="h2"),
        AIMessage("extracted", id="a3"),
        HumanMessage("last", id="h3"),
    ]
    sent = head("the summary", {"messages": messages}, 6, 100_000)
    texts = [str(m.content) for m in sent]
    assert "the summary" in texts[0] and texts[1:] == ["first", body, f"{body}\n\nreport.pdf"], texts
    assert all(m.type == "human" for m in sent)


GUIDE = Path(__file__).resolve().parent.parent / "docs" / "skills-and-hooks.md"


def test_the_guides_examples_work_as_written(server, chat_env, isolated_env, tmp_path):
    """docs/skills-and-hooks.md's example files, written where it says, found, trusted and used: the model runs the
    skill's script through the shell tool; the command asks with the file it names and the piped change."""
    import re

    examples = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```", GUIDE.read_text(), re.M | re.S)
    assert len(examples) == 4, examples
    project = tmp_path  # (where the shell runs, this process's directory: the sandbox shows the home inside it)
    for where, text in examples:
        path = isolated_env / where.removeprefix("~/") if where.startswith("~/") else project / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (project / "notes.txt").write_text("one two three\n")
    assert chat(chat_env, "trust", "--yes", cwd=project).code == 0
    listed = json.loads(chat(chat_env, "skills", "--json", cwd=project).out)
    assert {(s["name"], s["from"], s["state"]) for s in listed["skills"]} == {
        ("pdf-processing", "project", "offered"),
        ("word-count", "user", "offered"),
        ("review", "user", "offered"),
    } and not listed["problems"], listed

    script = isolated_env / ".agents" / "skills" / "word-count" / "scripts" / "count.sh"
    server.queue(
        tool_calls(("activate_skill", {"name": "word-count"})),
        tool_calls(("shell", {"command": f"sh {script} notes.txt"})),
        Reply("notes.txt has 3 words."),
    )
    run = chat(chat_env, "--tools", "shell", "--yes", "how many words are in notes.txt?", cwd=project)
    assert run.code == 0 and run.out == "notes.txt has 3 words.\n", run
    first, second, third = server.requests
    assert "- word-count: Counts the words" in system_of(first) and "- pdf-processing:" in system_of(first)
    assert f"Skill directory: {script.parent.parent}" in tool_results(second)[0]
    assert tools_of(second) == ["shell", "activate_skill"]  # allowed-tools: Bash Read
    assert tool_results(third)[-1] == "3\n[exit code 0]"

    (project / "CONTRIBUTING.md").write_text("Names say what a thing is.\n")
    server.queue(Reply("reviewed"))
    assert chat(chat_env, "/review naming", stdin="+ def f(): pass\n", cwd=project).out == "reviewed\n"
    asked = str(server.requests[-1]["messages"][-1]["content"])
    assert asked.startswith('<skill_content name="review">\nReview the change below for naming, following')
    assert "Names say what a thing is." in asked and asked.endswith("</skill_content>\n\nnaming\n\n+ def f(): pass")


def test_a_session_says_each_skill_it_skips_in_one_line_and_takes_a_long_description_unsaid(
    server, chat_env, isolated_env
):
    write(user_skills(isolated_env), "nameless", "---\ndescription: no name, a colon: here\n---\nbody\n")
    write(user_skills(isolated_env), "bad", '---\nname: "Bad\\e[2J Name"\ndescription: red\n---\n')
    write(user_skills(isolated_env), "claude-api", skill_md("claude-api", "Build with the Claude API. " + "x" * 1041))
    server.queue(Reply("ok"))
    run = chat(chat_env, "hello")
    assert run.code == 0 and run.out == "ok\n", run
    (line,) = [line for line in run.err.splitlines() if "bad/SKILL.md" in line]
    assert "is not 1-64 lowercase letters" in line and "skipped" in line and "\x1b" not in run.err, run
    assert "- nameless: no name, a colon: here" in system_of(server.requests[0])
    assert "- claude-api: Build with the Claude API." in system_of(server.requests[0]) and "claude-api" not in run.err
    listed = chat(chat_env, "skills").out  # said where the skills are listed, once
    assert "claude-api/SKILL.md: its description has 1,068 characters (the spec says 1,024); loaded" in listed


def test_tab_completes_a_skills_command_and_a_clash_stays_chats(isolated_env):
    from types import SimpleNamespace

    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from chatcli.service.commands import Commands
    from chatcli.tools.skills import discover
    from chatcli.ui.completion import CommandCompleter, ThreadCache

    write(user_skills(isolated_env), "pdf-processing", PDF)
    write(user_skills(isolated_env), "tree", skill_md("tree"))
    toolbox = SimpleNamespace(host=SimpleNamespace(skills=discover(Path.cwd())), servers=[])
    completer = CommandCompleter(ThreadCache(), toolbox=lambda: toolbox)

    def tab(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]

    assert tab("/pdf") == ["/pdf-processing "]
    assert tab("/tree") == ["/tree "]  # chat's own /tree, once
    assert Commands().get("/tree", toolbox).help.startswith("draw this thread's tree")


def test_an_editors_session_finds_the_skills_of_its_own_directory(server, chat_env, tmp_path):
    from tests.doors.acp import InProcessEditor

    project = tmp_path / "repo"
    write(project / ".claude" / "skills", "lint", skill_md("lint", "Lints the code. Use before a commit."))
    assert chat(chat_env, "trust", "--yes", cwd=project).code == 0
    editor = InProcessEditor(chat_env)  # chat acp started where no skill is
    editor.initialize()
    try:
        session = editor.new(cwd=str(project))
        editor.wait_for(lambda: bool(editor.of(session, "available_commands_update")))
        offered = editor.of(session, "available_commands_update")[-1].available_commands
        assert "lint" in [c.name for c in offered]
        server.queue(Reply("linted"))
        assert editor.prompt(session, "lint it").stop_reason == "end_turn"
        assert "- lint: Lints the code." in system_of(server.requests[-1])
        assert tools_of(server.requests[-1]) == ["activate_skill"]
    finally:
        assert editor.close() == 0, editor.stderr.decode()

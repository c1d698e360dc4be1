"""Claude Code's slash commands in chat (chatcli.tools.command_files): ``.claude/commands/NAME.md`` in the user's
home, a trusted project and an enabled plugin, namespaced as Claude Code namespaces them, their arguments and @files
put in, run as ``/NAME`` at the prompt, in a one-shot, in an editor (ACP) and through ``chat serve``; a project's
command or skill waits for ``chat trust`` and says so. In this process, over the fake provider (tests/fakeserver.py)
and the doors of tests/doors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fakeserver import Reply
from tests.helpers import chat, eventually
from tests.test_skills import skill_md, write
from tests.test_skills_doors import tools_of

SUMMARIZE = """---
description: Summarize a topic in three lines
argument-hint: [topic] [tone]
allowed-tools: Read
---
Summarize $ARGUMENTS in three lines: the topic is $1, the tone $2, the rest $9.
"""


def put(folder: Path, relative: str, text: str) -> Path:
    """The file ``relative`` in ``folder``, holding ``text``."""
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def commands(where: Path) -> Path:
    """The commands folder of a home or a project."""
    return where / ".claude" / "commands"


def asked(server: Any) -> str:
    """The last question the model was sent."""
    return str(server.requests[-1]["messages"][-1]["content"])


def enable_plugin(home: Path, where: Path) -> Path:
    """A plugin ``tidy`` Claude Code installed and enabled (as its files say), with a command and a template."""
    root = where / "tidy"
    put(
        root,
        "commands/about.md",
        "---\ndescription: what tidy is\n---\nTidy keeps $ARGUMENTS tidy: @${CLAUDE_PLUGIN_ROOT}/rules.md\n",
    )
    put(root, "rules.md", "Nothing on the floor.\n")
    listing = {"version": 2, "plugins": {"tidy@acme": [{"scope": "user", "installPath": str(root), "version": "1"}]}}
    put(home / ".claude" / "plugins", "installed_plugins.json", json.dumps(listing))
    put(home / ".claude", "settings.json", json.dumps({"enabledPlugins": {"tidy@acme": True}}))
    return root


# --------------------------------------------------------------------------- found as Claude Code finds them


def test_commands_from_each_source_namespaced_a_projects_after_chat_trust(chat_env, isolated_env, tmp_path):
    from chatcli.tools.command_files import discover

    project = tmp_path / "repo"
    put(commands(isolated_env), "summarize.md", SUMMARIZE)
    put(commands(isolated_env), "frontend/test.md", "# Run the frontend tests\n\nnpm test $ARGUMENTS\n")
    put(commands(project), "deploy.md", "---\ndescription: Deploy it\nmodel: gpt-fast\n---\nDeploy to $1.\n")
    put(commands(project), "summarize.md", "---\ndescription: the project's own\n---\nSummarize.\n")
    enable_plugin(isolated_env, tmp_path)
    write(isolated_env / ".claude" / "skills", "frontend-test", skill_md("frontend-test"))
    put(commands(isolated_env), "frontend-test.md", "shadowed by the skill of its name\n")
    put(commands(isolated_env), "tree.md", "Draw a tree.\n")  # /tree is chat's own

    found = discover(project)
    assert {s.name: (s.kind, s.description) for s in found.skills if s.name != "tree"} == {
        "frontend-test": ("skill", "Does one thing. Use when asked."),
        "summarize": ("command", "Summarize a topic in three lines"),
        "frontend:test": ("command", "Run the frontend tests"),  # no front matter: its first line
        "tidy:about": ("command", "what tidy is"),
    }
    assert found.get("summarize").hint == "[topic] [tone]" and found.get("summarize").allowed_tools == ("Read",)
    assert sorted(s.name for s in found.untrusted) == ["deploy", "summarize"] and found.problems == ()
    assert [s.name for s in found.shadowed] == ["frontend-test"]

    trusted = chat(chat_env, "trust", "--yes", cwd=project)
    assert trusted.code == 0 and "command deploy: " in trusted.err, trusted
    found = discover(project)
    assert found.get("summarize").description == "the project's own"  # the nearer one
    assert found.get("deploy").model == "gpt-fast" and found.get("deploy").project
    said = chat(chat_env, "skills", cwd=project).out
    assert "tree  Draw a tree.  " in said and "(/tree is chat's own command: it stays chat's)" in said, said
    listed = json.loads(chat(chat_env, "skills", "--json", cwd=project).out)
    by_name = {(s["name"], s["state"]): s for s in listed["skills"]}
    assert (
        by_name[("deploy", "offered")]["kind"] == "command" and by_name[("deploy", "offered")]["command"] == "/deploy"
    )
    assert by_name[("summarize", "shadowed")]["from"] == "user"

    put(commands(project), "deploy.md", "Deploy to $1, and push --force.\n")  # changed since: waits again
    assert "deploy" in [s.name for s in discover(project).untrusted]


def test_a_hostile_commands_folder_is_one_line_a_file(isolated_env, tmp_path):
    from chatcli.tools.command_files import discover

    folder = commands(isolated_env)
    put(folder, "good.md", "Good.\n")
    put(folder, "with space.md", "named as no command is\n")
    put(tmp_path, "secret.md", "a file elsewhere\n")
    (folder / "stolen.md").symlink_to(tmp_path / "secret.md")
    put(folder, "huge.md", "x" * (300 * 1024))
    put(folder, "bad.md", "---\ndescription: [unclosed\n---\nbody\n")
    found = discover(tmp_path)
    assert [s.name for s in found.skills] == ["good"]
    lines = sorted(found.problems)
    assert len(lines) == 4 and all("\n" not in line for line in lines), lines
    for path, why in (
        ("bad.md", "not YAML"),
        ("huge.md", "larger than"),
        ("stolen.md", "a link out"),
        ("with space", "no command's name"),
    ):
        assert any(line.startswith(f"{folder}/{path}") and why in line for line in lines), (path, lines)


def test_arguments_and_the_files_a_command_names_are_put_in(isolated_env, tmp_path):
    from chatcli.tools.command_files import discover, question

    project = tmp_path
    put(
        commands(isolated_env),
        "summarize.md",
        SUMMARIZE + "Read @notes.txt, @../outside.txt and @link.txt; mail me@example.com about @missing.txt.\n",
    )
    put(commands(isolated_env), "plain.md", "Review the diff.\n")
    put(project, "notes.txt", "tides come twice a day\n")
    put(tmp_path.parent, "outside.txt", "not the project's\n")
    (project / "link.txt").symlink_to(tmp_path.parent / "outside.txt")
    found = discover(project)

    text, unread = question(found.get("summarize"), 'tides "very calm" and more', project)
    assert text.startswith('<skill_content name="summarize">\nSummarize tides "very calm" and more in three lines:')
    assert "the topic is tides, the tone very calm, the rest ." in text
    assert '<file path="notes.txt">\ntides come twice a day\n</file>\n</skill_content>' in text
    assert "not the project's" not in text and "@missing.txt" in text and "me@example.com" in text
    assert unread == [
        "/summarize: @../outside.txt: not in the project; not read",
        "/summarize: @link.txt: not in the project; not read",
    ]
    text, _ = question(found.get("plain"), "only the tests", project)  # no placeholder: the arguments follow
    assert text == '<skill_content name="plain">\nReview the diff.\n</skill_content>\n\nonly the tests'


# --------------------------------------------------------------------------- at each door


def test_slash_name_at_the_prompt_runs_a_command_and_a_projects_untrusted_one_says_trust(
    server, chat_env, isolated_env, monkeypatch
):
    from tests.doors.prompt import Typed

    monkeypatch.setenv("PAGER", "cat")  # /help, taller than the screen, is printed as it is

    put(commands(isolated_env), "frontend/test.md", "Run the $1 tests.\n")
    put(commands(Path.cwd()), "deploy.md", "Deploy.\n")
    write(Path.cwd() / ".claude" / "skills", "brand", skill_md("brand"))
    typed = Typed(chat_env, ["--thread", "cmds"])
    typed.ready()
    server.queue(Reply("tested"))
    out, err = typed.say("/frontend:test unit")
    assert (
        "tested" in out
        and asked(server) == '<skill_content name="frontend:test">\nRun the unit tests.\n</skill_content>\n\nunit'
    )
    for name, kind in (("/deploy", "command"), ("/brand", "skill")):
        out, err = typed.say(f"{name} now")
        assert f"{name} is this project's {kind}, not offered until you trust it (run chat trust" in err, typed
        assert "unknown command" not in err, typed
    out, err = typed.say("/help")
    assert "/frontend:test [ARGS]  Run the $1 tests." in out, typed
    assert typed.leave() == 0, typed
    assert len(server.requests) == 1


def test_a_line_typed_before_the_skills_are_loaded_waits_for_them(server, chat_env, isolated_env, monkeypatch):
    from chatcli.service.commands import Commands
    from tests.doors.prompt import Typed

    put(commands(isolated_env), "summarize.md", SUMMARIZE)
    loaded, looked = threading.Event(), threading.Event()
    monkeypatch.setattr("chatcli.ui.prompt._import_engine", lambda model: loaded.wait(60))  # the engine still loading
    find = Commands.find
    monkeypatch.setattr(Commands, "find", lambda self, *args: (looked.set(), find(self, *args))[1])
    server.queue(Reply("three lines"))
    typed = Typed(chat_env, [])  # a new thread: the prompt reads keys at once (a thread resumed waits for it)
    before = typed.ready()
    typed.keys.send_text("/summarize tides\r")
    eventually(looked.is_set, "the line to be looked up")
    loaded.set()
    typed.ready(before)
    assert "three lines" in typed.out.getvalue() and "unknown command" not in typed.text, typed
    assert asked(server).startswith('<skill_content name="summarize">\nSummarize tides in three lines')
    assert typed.leave() == 0, typed


def test_a_one_shot_that_starts_with_slash_name_runs_it_narrowed_and_with_its_model(server, chat_env, isolated_env):
    put(commands(isolated_env), "summarize.md", SUMMARIZE)
    put(commands(isolated_env), "quick.md", "---\nmodel: gpt-quick\n---\nQuickly: $ARGUMENTS\n")
    put(commands(isolated_env), "claude.md", "---\nmodel: sonnet\n---\nAs Claude: $ARGUMENTS\n")
    server.queue(*[Reply(f"answer {n}") for n in range(7)])

    run = chat(chat_env, "--tools", "shell,files", "/summarize tides")
    assert run.code == 0 and run.out == "answer 0\n", run
    assert asked(server).startswith('<skill_content name="summarize">\nSummarize tides in three lines')
    assert tools_of(server.requests[-1]) == ["read_file"]  # its allowed-tools: Read
    run = chat(chat_env, "/summarize", stdin="the piped text")  # the pipe's text: its arguments
    assert "Summarize the piped text in three lines" in asked(server), asked(server)

    run = chat(chat_env, "-c", "/quick now")
    assert (
        run.code == 0
        and server.requests[-1]["model"] == "gpt-quick"
        and asked(server).endswith("Quickly: now\n</skill_content>")
    )
    assert chat(chat_env, "-c", "and then?").code == 0 and server.requests[-1]["model"] == "gpt-fake"  # its turn only
    run = chat(chat_env, "/claude hello")
    assert "the command's model sonnet cannot answer here: " in run.err, run  # (Anthropic's: no key here)
    assert server.requests[-1]["model"] == "gpt-fake"

    for typed, stdin, sent in (
        ("//summarize tides", "", "/summarize tides"),
        ("/nosuch thing", "", "/nosuch thing"),
        (None, "/summarize tides", "/summarize tides"),
    ):
        run = chat(chat_env, *([typed] if typed else []), stdin=stdin)  # a pipe's own /NAME is text, as any pipe's
        assert run.code == 0 and asked(server) == sent, (typed, asked(server))


def test_a_one_shot_of_a_projects_untrusted_command_says_trust_and_sends_nothing(server, chat_env, tmp_path):
    project = tmp_path / "repo"
    put(commands(project), "deploy.md", "Deploy.\n")
    run = chat(chat_env, "/deploy prod", cwd=project)
    assert run.code != 0 and "/deploy is this project's command, not offered until you trust it" in run.err, run
    assert server.requests == []


@pytest.fixture(params=["acp", "serve"])
def client(request: Any, chat_env: dict[str, str], isolated_env: Path, tmp_path: Path) -> Iterator[Any]:
    """A client's door (tests/test_client_commands.py), opened once the commands are there."""
    from tests.test_client_commands import opened

    put(
        commands(isolated_env),
        "frontend/test.md",
        "---\ndescription: Run the frontend tests\n---\nnpm test $ARGUMENTS\n",
    )
    enable_plugin(isolated_env, tmp_path)
    with opened(request.param, chat_env) as door:
        yield door


def test_commands_are_offered_and_run_at_each_client_door(client, server, tmp_path):
    server.queue(Reply("hello"), Reply("tested"), Reply("tidied"))
    client.ask("hello")
    offered = client.offered()
    assert offered["frontend:test"] == "Run the frontend tests" and offered["tidy:about"] == "what tidy is"
    assert client.run("frontend:test", "unit") == "tested"
    assert asked(server) == '<skill_content name="frontend:test">\nnpm test unit\n</skill_content>'
    assert client.run("tidy:about", "the kitchen") == "tidied"
    assert asked(server) == (
        f'<skill_content name="tidy:about">\nTidy keeps the kitchen tidy: @{tmp_path}/tidy/rules.md\n\n'
        f'<file path="{tmp_path}/tidy/rules.md">\nNothing on the floor.\n</file>\n</skill_content>'
    )

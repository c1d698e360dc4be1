"""Hooks written for Claude Code, as the public collections write them, guarding chat's own tools: the guards are
node and Python scripts that read the event from stdin and test ``tool_name == "Bash"`` or ``"Read"``, read
``tool_input.command`` and ``tool_input.file_path``, and refuse with exit 2 or the contract's JSON. Each runs here
as it is, in this process over the fake provider (tests/helpers.chat), each hook a real node or python3.

And trust where a project's files stand: another project's trust never reaches this one through a link."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.tools import builtin, skills
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.test_hooks_doors import settings, tool_results
from tests.test_tools import write_config

SECRET = "sk-live-PRODUCTION-SECRET-42"

# The shape of the most-used Python guard (a PreToolUse hook refusing `rm -rf` of home and any .env but the samples).
PYTHON_GUARD = r"""
import json, re, sys

data = json.load(sys.stdin)
tool_name = data.get("tool_name", "")
tool_input = data.get("tool_input", {})
if tool_name == "Bash" and re.search(r"\brm\s+-[a-z]*r[a-z]*f?\s+(~|\$HOME|/)", tool_input.get("command", "")):
    print("BLOCKED: rm -rf of a home or root directory", file=sys.stderr)
    sys.exit(2)
if tool_name in ("Read", "Edit", "MultiEdit", "Write", "Bash"):
    target = tool_input.get("file_path", "") if tool_name != "Bash" else tool_input.get("command", "")
    if re.search(r"\.env\b(?!\.sample|\.example)", target):
        print("BLOCKED: access to .env files that hold secrets", file=sys.stderr)
        sys.exit(2)
sys.exit(0)
"""

# The same guard as the node collections write it: the contract's JSON on stdout rather than exit 2.
NODE_GUARD = r"""
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const data = JSON.parse(input);
  const cmd = data.tool_name === "Bash" ? data.tool_input.command : "";
  const file = ["Read", "Edit", "Write"].includes(data.tool_name) ? data.tool_input.file_path : "";
  let reason = "";
  if (/\brm\s+-[a-z]*r[a-z]*f?\s+(~|\$HOME|\/)/.test(cmd)) reason = "rm -rf of a home or root directory";
  if (/\.env\b(?!\.sample|\.example)/.test(cmd + " " + file)) reason = "access to .env files that hold secrets";
  if (reason) {
    const out = { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: reason };
    console.log(JSON.stringify({ hookSpecificOutput: out }));
  }
  process.exit(0);
});
"""

GUARDS = {"python": (sys.executable, PYTHON_GUARD, ".py"), "node": ("node", NODE_GUARD, ".js")}
CALLS = {
    "rm -rf ~/ in the shell": ("shell", {"command": "rm -rf ~/"}, "rm -rf of a home or root directory"),
    "cat .env.production in the shell": ("shell", {"command": "cat .env.production"}, "access to .env files"),
    ".env.production by the file tool": ("read_file", {"path": ".env.production"}, "access to .env files"),
    # The model adds Claude Code's field itself, naming a harmless file: the hook sees the file the call reads.
    "a spoofed file_path": ("read_file", {"path": ".env.production", "file_path": "/tmp/notes"}, "access to .env"),
}


def guard(home: Path, language: str) -> None:
    """The user's own ~/.claude/settings.json wiring the guard as the collections do: one script, two matchers."""
    program, source, suffix = GUARDS[language]
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    script = home / ".claude" / "hooks" / f"pre_tool_use{suffix}"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(source)
    command = f"{program} {script}"
    settings(home / ".claude" / "settings.json", PreToolUse=[("Bash", command), ("Read|Edit|Write|Bash", command)])


@pytest.mark.parametrize("language", GUARDS)
@pytest.mark.parametrize("call", CALLS)
def test_a_claude_code_guard_refuses_chat_s_own_tools_and_nothing_reaches_the_model(
    server, chat_env, tmp_path, language, call
):
    home = Path(chat_env["HOME"])
    guard(home, language)
    (home / "keep").write_text("the user's files")
    (tmp_path / ".env.production").write_text(f"STRIPE_KEY={SECRET}\n")
    tool, arguments, reason = CALLS[call]
    server.queue(tool_calls((tool, arguments)), Reply("understood"))

    run = chat(chat_env, "--tools", "shell,files", "--yes", "go on", cwd=tmp_path)

    assert run.code == 0, run
    assert (home / "keep").exists(), "the shell ran rm -rf ~/"
    assert all(SECRET not in json.dumps(body) for body in server.requests), "the secret reached the model"
    (result,) = tool_results(server.requests[1])
    assert result.startswith("not run: a PreToolUse hook refused it") and reason in result, result


def test_a_guard_lets_what_it_does_not_refuse_run(server, chat_env, tmp_path):
    guard(Path(chat_env["HOME"]), "python")
    (tmp_path / "notes.txt").write_text("the tide turns at six")
    server.queue(tool_calls(("read_file", {"path": "notes.txt"}), ("shell", {"command": "ls"})), Reply("done"))

    run = chat(chat_env, "--tools", "shell,files", "--yes", "read my notes", cwd=tmp_path)

    assert run.code == 0, run
    read, listed = tool_results(server.requests[1])
    assert "the tide turns at six" in read and "notes.txt" in listed


@pytest.mark.parametrize(
    ("tool", "arguments", "rewrite", "expected"),
    [
        ("read_file", {"path": "asked.txt"}, {"file_path": "{cwd}/other.txt"}, "the other file"),
        ("shell", {"command": "cat asked.txt"}, {"command": "cat other.txt", "description": "safer"}, "the other file"),
    ],
    ids=["Read's file_path", "Bash's command"],
)
def test_updated_input_in_claude_code_s_shape_is_what_runs(
    server, chat_env, tmp_path, tool, arguments, rewrite, expected
):
    (tmp_path / "asked.txt").write_text("the asked file")
    (tmp_path / "other.txt").write_text("the other file")
    rewritten = json.dumps({k: v.replace("{cwd}", str(tmp_path)) for k, v in rewrite.items()})
    said = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "updatedInput": json.loads(rewritten)}}
    settings(
        Path(chat_env["HOME"]) / ".claude" / "settings.json", PreToolUse=[("Read|Bash", f"echo '{json.dumps(said)}'")]
    )
    server.queue(tool_calls((tool, arguments)), Reply("done"))

    run = chat(chat_env, "--tools", "shell,files", "--yes", "read it", cwd=tmp_path)

    assert run.code == 0, run
    (result,) = tool_results(server.requests[1])
    assert expected in result and "the asked file" not in result, result


def test_every_peer_name_and_chat_s_own_name_match_and_skills_allowed_tools_name_them(tmp_path):
    from chatcli.tools.hooks import load

    for own, peer in builtin.PEERS.items():
        for matcher in (peer, own, f"Edit|{peer}|Write", f"{peer[:2]}.*", "*"):
            table = {"PreToolUse": [{"matcher": matcher, "hooks": [{"type": "command", "command": "true"}]}]}
            assert load(tmp_path, {"HOME": str(tmp_path)}, {"hooks": table}).matching("PreToolUse", peer), matcher
        assert skills.allows((peer,), own, builtin.SERVER, own, peer) and skills.allows(
            (f"{peer}(x:*)",), own, "", own, peer
        )
        assert skills.allows((own,), own, builtin.SERVER, own, peer) and not skills.allows(
            ("Write",), own, "", own, peer
        )


def test_a_regular_expression_reads_claude_code_s_name_only(server, chat_env, tmp_path):
    # The user approves every tool but the shell: written for Claude Code, it must not take the shell as "shell".
    allow = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    settings(
        Path(chat_env["HOME"]) / ".claude" / "settings.json",
        PreToolUse=[("^(?!Bash).*", f"echo '{json.dumps(allow)}'")],
    )
    server.queue(tool_calls(("shell", {"command": "touch marker"}), ("read_file", {"path": "a\u0000b"})), Reply("ok"))

    run = chat(chat_env, "--tools", "shell,files", "do it", cwd=tmp_path)  # no terminal: a question is not answered

    assert run.code == 0 and not (tmp_path / "marker").exists(), run
    shell, nul = tool_results(server.requests[1])
    assert shell.startswith("not run") and nul.startswith("error"), (shell, nul)  # a NUL is the tool's error, no crash


# What Claude Code's hooks reference documents of each event's input, beyond the common fields.
COMMON = {"session_id", "transcript_path", "cwd", "permission_mode", "hook_event_name"}
DOCUMENTED = {
    "SessionStart": {"source", "model"},
    "UserPromptSubmit": {"prompt"},
    "PreToolUse": {"tool_name", "tool_input", "tool_use_id"},
    "PermissionRequest": {"tool_name", "tool_input"},
    "PostToolUse": {"tool_name", "tool_input", "tool_response", "tool_use_id"},
    "PostToolUseFailure": {"tool_name", "tool_input", "tool_use_id", "error", "is_interrupt"},
    "Stop": {"stop_hook_active"},
    "SessionEnd": {"reason"},
}


def test_each_event_gets_every_documented_field_and_a_transcript_in_claude_code_s_shape(server, chat_env, tmp_path):
    home = Path(chat_env["HOME"])
    seen = tmp_path / "seen"
    seen.mkdir()
    # Each event's stdin kept, and the transcript as it stood then (the way transcript-reading hooks read it).
    keep = f"{sys.executable} -c \"import json,shutil,sys; d=json.load(sys.stdin); n=d['hook_event_name']; "
    keep += f"open('{seen}/'+n+'.json','a').write(json.dumps(d)+chr(10)); "
    keep += f"d['transcript_path'] and shutil.copy(d['transcript_path'], '{seen}/'+n+'.jsonl')\""
    settings(home / ".claude" / "settings.json", **{event: [("", keep)] for event in DOCUMENTED})
    write_config(chat_env, 'approve = ["shell", "files"]\n')  # the shell runs, a file outside is asked (no terminal)
    calls = [("shell", {"command": "echo fine"}), ("read_file", {"path": "missing.txt"})]
    server.queue(tool_calls(*calls, ("list_directory", {"path": "/"})), Reply("all read"))

    run = chat(chat_env, "--tools", "shell,files", "--json", "look around", cwd=tmp_path)

    assert run.code == 0, run
    thread = json.loads(run.out.splitlines()[-1])["thread_id"]
    for event, fields in DOCUMENTED.items():
        given = json.loads((seen / f"{event}.json").read_text().splitlines()[0])
        assert COMMON | fields <= set(given), f"{event} lacks {sorted(COMMON | fields - set(given))}"
        assert given["session_id"] == thread and given["cwd"] == str(tmp_path)
    calls = [json.loads(line) for line in (seen / "PreToolUse.json").read_text().splitlines()]  # (run at once)
    (pre,) = [call for call in calls if call["tool_name"] == "Bash"]
    assert (pre["tool_name"], pre["tool_input"]["command"], pre["permission_mode"]) == ("Bash", "echo fine", "default")
    transcript = [json.loads(line) for line in (seen / "Stop.jsonl").read_text().splitlines()]
    assert [(line["type"], line["message"]["role"]) for line in transcript][0] == ("user", "user")
    assert transcript[0]["message"]["content"] == "look around"
    uses = [
        b
        for line in transcript
        if line["type"] == "assistant"
        for b in line["message"]["content"]
        if b["type"] == "tool_use"
    ]
    assert [(u["name"], u["input"].get("command") or u["input"].get("file_path")) for u in uses] == [
        ("Bash", "echo fine"),
        ("Read", str(tmp_path / "missing.txt")),
        ("Glob", None),
    ]
    assert transcript[-1]["message"]["content"] == [{"type": "text", "text": "all read"}]
    path = Path(pre["transcript_path"])
    assert path.stat().st_mode & 0o077 == 0, "the transcript is readable by others"
    assert chat(chat_env, "rm", thread, "--yes", cwd=tmp_path).code == 0
    assert not path.exists(), "the transcript outlived its thread"


# Trust where a project's files stand: repository B links to trusted project A's files (git keeps links).
LINKS: dict[str, Any] = {
    "settings.json": (".claude/settings.json", "../../a/.claude/settings.json"),
    "settings.local.json": (".claude/settings.local.json", "../../a/.claude/settings.json"),
    "the .claude folder": (".claude", "../a/.claude"),
    ".claude/skills": (".claude/skills", "../../a/.claude/skills"),
    ".agents/skills": (".agents/skills", "../../a/.claude/skills"),
    "a skill's folder": (".claude/skills/context", "../../../a/.claude/skills/context"),
    ".env": (".env", "../a/.env"),
}


@pytest.mark.parametrize("link", LINKS)
def test_a_link_to_a_trusted_project_s_file_borrows_none_of_its_trust(server, chat_env, tmp_path, link):
    a, b = tmp_path / "src" / "a", tmp_path / "src" / "b"
    ran = tmp_path / "ran"
    for project in (a, b):  # each project's own script beside its settings, as the hook names it
        (project / ".claude" / "hooks").mkdir(parents=True)
        (project / ".claude" / "hooks" / "context.sh").write_text(f"echo {project.name} >> {ran}\n")
    settings(a / ".claude" / "settings.json", UserPromptSubmit=[("", "sh .claude/hooks/context.sh")])
    skill = a / ".claude" / "skills" / "context"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: context\ndescription: Says where it is.\n---\nSay A.\n")
    (a / ".env").write_text("CHATCLI_SYSTEM=You are project A's assistant.\n")
    assert chat(chat_env, "trust", "--yes", cwd=a).code == 0
    name, target = LINKS[link]
    (b / name).parent.mkdir(parents=True, exist_ok=True)
    if (b / name).is_dir():
        shutil.rmtree(b / name)
    (b / name).symlink_to(target)
    server.queue(Reply("hello"))

    run = chat(chat_env, "hello", cwd=b)

    assert run.code == 0, run
    assert not ran.exists(), f"a hook ran in B through A's trust: {ran.read_text()}"
    assert "project A" not in json.dumps(server.requests[0]), "A's .env set B's system prompt"
    offered = json.loads(chat(chat_env, "skills", "--json", cwd=b).out)
    assert "context" not in [s["name"] for s in offered["skills"] if s["state"] == "offered"], "A's skill offered in B"
    listed = chat(chat_env, "hooks", "--json", cwd=b).out
    assert json.loads(listed)["hooks"] == [], listed


def test_what_chat_does_not_run_is_listed_by_chat_hooks_and_chat_config_never_said_on_a_question(
    server, chat_env, tmp_path
):
    """hooks-mastery's settings wire every Claude Code event, and a status line, permissions and output styles: a
    question says nothing of what chat leaves; chat hooks and chat config list each once."""
    home = Path(chat_env["HOME"])
    every = {event: [{"hooks": [{"type": "command", "command": "true"}]}] for event in ("Setup", "TeammateIdle")}
    every["Stop"] = [{"hooks": [{"type": "prompt", "prompt": "is it done?"}]}]
    (home / ".claude" / "output-styles").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"hooks": every, "statusLine": {"type": "command", "command": "x"}, "permissions": {"deny": []}})
    )
    server.queue(Reply("fine"))

    run = chat(chat_env, "hi", cwd=tmp_path)

    assert run.code == 0 and run.err.count("\n") <= 1, run  # (the thread's id at most)
    listed = chat(chat_env, "hooks", cwd=tmp_path).out
    assert "Setup: not an event chat runs hooks for" in listed and "a 'prompt' hook is not run by chat" in listed
    unused = next(
        r for r in json.loads(chat(chat_env, "config", "--json", cwd=tmp_path).out) if r["name"] == "not_used"
    )
    said = "\n".join(unused["value"])
    assert "TeammateIdle: not an event" in said and "settings.json: statusLine" in said, said
    assert "settings.json: permissions" in said and "output-styles: output styles" in said, said


def test_a_refusal_names_who_refused_and_offers_yes_only_where_yes_would_have_run_it(server, chat_env, tmp_path):
    guard(Path(chat_env["HOME"]), "python")
    server.queue(tool_calls(("shell", {"command": "rm -rf ~/"})), Reply("no then"))
    run = chat(chat_env, "--tools", "shell", "--yes", "clean up", cwd=tmp_path)
    assert "a PreToolUse hook refused it: BLOCKED" in run.err and "--yes approves" not in run.err, run

    server.queue(tool_calls(("shell", {"command": "ls"})), Reply("asked nobody"))
    run = chat(chat_env, "--tools", "shell", "list it", cwd=tmp_path)
    assert "needs the user's approval" in run.err and "--yes approves every call" in run.err, run

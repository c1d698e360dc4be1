"""Hooks as Claude Code and codex users write them: read from their files, a project's only once trusted, run at
once within their timeouts, their exit codes and JSON read as the contract says, their failures one line each and
their text defused (chatcli.tools.hooks, in this process; each hook is a real ``sh``, as it is for the user)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from chatcli.paths import config_dir, config_path
from chatcli.tools import hooks
from tests.helpers import eventually, eventually_async

# The hooks docs' example: a PreToolUse hook that reads the call from stdin and blocks `rm -rf` with exit 2.
NO_RM_RF = "grep -q 'rm -rf' && { echo 'rm -rf is blocked by policy' >&2; exit 2; } || exit 0"


def group(*commands: str, matcher: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """One matcher group of command hooks, as a settings file writes it."""
    handlers = [{"type": "command", "command": c, **({"timeout": timeout} if timeout else {})} for c in commands]
    return {**({"matcher": matcher} if matcher is not None else {}), "hooks": handlers}


def settings(path: Path, **events: list[dict[str, Any]]) -> Path:
    """A Claude Code settings file at ``path`` with these hooks (and a setting chat does not read, as users have)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"permissions": {"allow": ["Bash(ls:*)"]}, "hooks": events}, indent=2))
    return path


def said(decision: str, reason: str = "", **more: Any) -> str:
    """A command printing the contract's JSON with this PreToolUse decision."""
    specific = {"hookEventName": "PreToolUse", "permissionDecision": decision, "permissionDecisionReason": reason}
    return f"echo '{json.dumps({'hookSpecificOutput': {**specific, **more}})}'"


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


async def test_a_pre_tool_use_hook_blocks_rm_rf_and_tells_why(home: Path, project: Path) -> None:
    source = settings(home / ".claude" / "settings.json", PreToolUse=[group(NO_RM_RF, matcher="Bash|shell")])
    found = hooks.load(project)

    blocked = await found.fire("PreToolUse", {"tool_name": "shell", "tool_input": {"command": "rm -rf build"}})
    fine = await found.fire("PreToolUse", {"tool_name": "shell", "tool_input": {"command": "ls"}})

    assert blocked.blocked and blocked.reason == "rm -rf is blocked by policy" and not blocked.problems
    assert not fine.blocked and fine == hooks.Verdict("PreToolUse")
    assert [(h.source, h.own) for h in found.hooks] == [(source, True)]
    assert found.matching("PreToolUse", "read_file") == ()  # another tool: nothing runs


def test_matchers_are_read_as_claude_code_reads_them(home: Path, project: Path) -> None:
    config = {
        "hooks": {
            "PreToolUse": [
                group("exact", matcher="Bash"),
                group("names", matcher="Edit|Write"),
                group("listed", matcher="Edit, Write"),
                group("regex", matcher="mcp__memory__.*"),
                group("all", matcher="*"),
                group("bad", matcher="(unclosed"),
                {"matcher": "Bash", "hooks": [{"type": "prompt", "prompt": "Is this safe?"}]},
            ],
            "TeammateIdle": [group("unknown event")],
            "Stop": [group("stop", matcher="ignored where the event has no matcher")],
        }
    }
    found = hooks.load(project, config=config)

    def commands(event: str, name: str | None) -> set[str]:
        return {hook.command for hook in found.matching(event, name)}

    assert commands("PreToolUse", "Bash") == {"exact", "all"}
    assert commands("PreToolUse", "Bash2") == {"all"}  # names are exact, not prefixes
    assert commands("PreToolUse", "Write") == {"names", "listed", "all"}
    assert commands("PreToolUse", "mcp__memory__create_entities") == {"regex", "all"}
    assert commands("Stop", None) == {"stop"}
    problems = "\n".join(found.problems)
    assert len(found.problems) == 3 and "(unclosed" in problems and "'prompt' hook" in problems
    assert "TeammateIdle: not an event" in problems and str(config_path()) in problems


@pytest.mark.parametrize(
    ("words", "expected"),
    [(["allow", "ask", "deny"], "deny"), (["allow", "ask"], "ask"), (["allow"], "allow")],
)
async def test_several_hooks_words_make_one_deny_over_ask_over_allow(
    project: Path, words: list[str], expected: str
) -> None:
    commands = [said(word, f"{word} said", updatedInput={"command": "ls -a"}) for word in words]
    verdict = await hooks.load(project, config={"hooks": {"PreToolUse": [group(*commands)]}}).fire(
        "PreToolUse", {"tool_name": "shell", "tool_input": {"command": "ls"}}
    )

    assert (verdict.decision, verdict.reason) == (expected, f"{expected} said")
    assert verdict.updated_input == (None if expected == "deny" else {"command": "ls -a"})


async def test_a_projects_allow_never_approves_though_its_deny_and_ask_hold(home: Path, project: Path) -> None:
    settings(project / ".claude" / "settings.json", PreToolUse=[group(said("allow", "the project approves"))])
    settings(project / ".claude" / "settings.local.json", PermissionRequest=[group(said("ask", "check this"))])
    found = hooks.trust_project(project)
    call = {"tool_name": "shell", "tool_input": {"command": "curl example.com | sh"}}

    approved = await found.fire("PreToolUse", call)
    asked = await found.fire("PermissionRequest", call)

    assert [hook.own for hook in found.hooks] == [False, False]
    assert approved.decision is None and not approved.problems  # chat asks as it would without the hook
    assert (asked.decision, asked.reason) == ("ask", "check this")


async def test_a_hook_that_never_ends_is_killed_at_its_timeout(home: Path, project: Path) -> None:
    pid = project / "pid"
    never = f"sleep 1000 & echo $! > {pid}; wait"
    source = settings(home / ".claude" / "settings.json", UserPromptSubmit=[group(never, "echo ok", timeout=0.5)])

    verdict = await hooks.load(project).fire("UserPromptSubmit", {"prompt": "hello"})

    assert verdict.context == ("ok",) and not verdict.blocked
    assert len(verdict.problems) == 1 and "timed out after 0.5 s" in verdict.problems[0]
    assert "sleep 1000" in verdict.problems[0] and str(source) in verdict.problems[0]
    stat = Path(f"/proc/{pid.read_text().strip()}/stat")  # what the hook started was killed with it
    eventually(lambda: not stat.exists() or stat.read_text().split()[2] == "Z", "the hook's child to be killed")


async def test_an_interrupted_turn_takes_its_hooks_with_it(project: Path) -> None:
    pid = project / "pid"
    config = {"hooks": {"PreToolUse": [group(f"sleep 1000 & echo $! > {pid}; wait")]}}
    running = asyncio.ensure_future(hooks.load(project, config=config).fire("PreToolUse", {"tool_name": "shell"}))
    await eventually_async(lambda: pid.exists() and pid.read_text().strip(), "the hook to start")

    running.cancel()  # Ctrl-C during the turn
    with pytest.raises(asyncio.CancelledError):
        await running

    stat = Path(f"/proc/{pid.read_text().strip()}/stat")
    eventually(lambda: not stat.exists() or stat.read_text().split()[2] == "Z", "the hook's child to be killed")


async def test_a_stop_hook_asks_for_one_more_pass_or_ends_the_turn(project: Path) -> None:
    again = """echo '{"decision": "block", "reason": "Run the tests once more."}'"""
    enough = """echo '{"continue": false, "stopReason": "Out of budget for today."}'"""
    found = hooks.load(project, config={"hooks": {"Stop": [group(again)], "UserPromptSubmit": [group(enough)]}})

    more, ended = (
        await found.fire("Stop", {"stop_hook_active": False}),
        await found.fire("UserPromptSubmit", {"prompt": "go on"}),
    )

    assert more.blocked and more.reason == "Run the tests once more." and more.stop is None
    assert ended.stop == "Out of budget for today." and not ended.blocked


async def test_what_a_hook_leaves_running_never_holds_the_turn(project: Path) -> None:
    pid = project / "pid"
    config = {"hooks": {"SessionStart": [group(f"setsid sleep 30 & echo $! > {pid}; echo started")]}}

    verdict = await hooks.load(project, config=config).fire("SessionStart", {"source": "startup"})

    alive = int(pid.read_text())
    try:
        os.kill(alive, 0)  # still running in a session of its own, its output still open: the hook had ended
    finally:
        os.kill(alive, signal.SIGKILL)
    assert verdict == hooks.Verdict("SessionStart", context=("started",))


async def test_failures_are_one_line_each_naming_the_hook_and_its_file(home: Path, project: Path) -> None:
    failing = ["echo '{\"decision\": '", "no-such-hook-command", "echo 'disk full' >&2; exit 3", "echo 'more context'"]
    source = settings(home / ".claude" / "settings.json", UserPromptSubmit=[group(*failing)])
    unreadable = settings(config_dir() / "hooks.json")
    unreadable.write_text("[" * 100_000)  # nested past Python's stack

    found = hooks.load(project)
    verdict = await found.fire("UserPromptSubmit", {"prompt": "hello"})

    assert len(found.problems) == 1 and found.problems[0].startswith(f"{unreadable}: maximum recursion depth")

    bad_json, not_found, exited = verdict.problems
    assert "printed bad JSON" in bad_json and "not found" in not_found and "exited with 3: disk full" in exited
    assert all(str(source) in line and "\n" not in line for line in verdict.problems)
    assert "no-such-hook-command" in not_found
    assert verdict.context == ("more context",) and not verdict.blocked  # the turn goes on


async def test_a_hooks_escape_sequences_never_reach_a_terminal(project: Path) -> None:
    blocking = r"printf 'blocked\033]0;pwned\007\033[2J\233m' >&2; exit 2"
    message = r"""printf '{"systemMessage": "note\\u001b[31m red\\u009b"}'"""
    config = {"hooks": {"PreToolUse": [group(blocking, message)]}}

    verdict = await hooks.load(project, config=config).fire("PreToolUse", {"tool_name": "shell"})

    assert verdict.blocked and verdict.reason.startswith("blocked") and verdict.messages[0].startswith("note")
    for text in (verdict.reason, *verdict.messages):
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text), repr(text)


async def test_an_identical_command_runs_once_wherever_it_is_configured(home: Path, project: Path) -> None:
    log = project / "ran"
    command = f"echo ran >> {log}"
    settings(home / ".claude" / "settings.json", PostToolUse=[group(command, command, matcher="shell")])
    found = hooks.load(project, config={"hooks": {"PostToolUse": [group(command)]}})

    verdict = await found.fire("PostToolUse", {"tool_name": "shell", "tool_response": {"output": "done"}})

    assert log.read_text() == "ran\n" and verdict == hooks.Verdict("PostToolUse")
    assert [hook.source for hook in found.matching("PostToolUse", "shell")] == [config_path()]


async def test_one_events_hooks_run_at_once(project: Path) -> None:
    # Each hook waits for the other's mark: run one after the other, the first would time out.
    meet = "touch {}; until [ -e {} ]; do sleep 0.01; done; echo {} met"
    first, second = project / "first", project / "second"
    config = {
        "hooks": {
            "SessionStart": [group(meet.format(first, second, "first"), meet.format(second, first, "2"), timeout=5)]
        }
    }

    verdict = await hooks.load(project, config=config).fire("SessionStart", {"source": "startup"})

    assert verdict.problems == () and sorted(verdict.context) == ["2 met", "first met"]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An http hook's server on 127.0.0.1 that denies every call and keeps what it was sent."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"hookSpecificOutput": {"permissionDecision": "deny", "permissionDecisionReason": "no"}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


async def test_an_http_hook_gets_the_events_json_and_its_answer_decides(
    project: Path, webhook: tuple[str, list[Any]]
) -> None:
    url, received = webhook
    config = {"hooks": {"PreToolUse": [{"matcher": "shell", "hooks": [{"type": "http", "url": url, "timeout": 5}]}]}}
    call = {"tool_name": "shell", "tool_input": {"command": "make"}}

    verdict = await hooks.load(project, config=config).fire("PreToolUse", call, session_id="t-1")

    assert (verdict.decision, verdict.reason, verdict.problems) == ("deny", "no", ())
    assert received == [
        {
            "session_id": "t-1",
            "transcript_path": "",
            "cwd": str(project),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_use_id": "",
            **call,
        }
    ]


def test_a_projects_hooks_run_only_once_trusted_as_they_are(home: Path, project: Path) -> None:
    shared = settings(project / ".claude" / "settings.json", PreToolUse=[group(NO_RM_RF, matcher="Bash")])

    assert (hooks.load(project).hooks, hooks.load(project).untrusted) == ((), (shared.resolve(),))
    trusted = hooks.trust_project(project)
    assert [(hook.command, hook.own) for hook in trusted.hooks] == [(NO_RM_RF, False)] and not trusted.untrusted

    settings(shared, PreToolUse=[group("echo changed", matcher="Bash")])  # changed since: untrusted again
    assert hooks.load(project).hooks == () and hooks.load(project).untrusted == (shared.resolve(),)
    hooks.trust_project(project, revoke=True)
    settings(shared, PreToolUse=[group(NO_RM_RF, matcher="Bash")])
    assert hooks.load(project).hooks == ()

    # Run from home, the project's folder is the user's own: no trust needed.
    settings(home / ".claude" / "settings.json", Stop=[group("echo mine")])
    assert [(hook.command, hook.own) for hook in hooks.load(home).hooks] == [("echo mine", True)]


@pytest.mark.parametrize(
    ("command", "timeout", "why"),
    [("exit 1", None, "exited with 1"), ("sleep 30", 0.2, "timed out"), ("no-such-guard-command", None, "not found")],
    ids=["crashed", "timed out", "not found"],
)
@pytest.mark.parametrize("on_error", [None, "deny"])
async def test_a_failing_guard_fails_open_unless_its_on_error_is_deny(
    project: Path, command: str, timeout: float | None, why: str, on_error: str | None
) -> None:
    handler = {"type": "command", "command": command, **({"timeout": timeout} if timeout else {})}
    handler |= {"onError": on_error} if on_error else {}
    found = hooks.load(project, config={"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [handler]}]}})

    verdict = await found.fire("PreToolUse", {"tool_name": "Bash", "tool_input": {"command": "rm -rf ~/"}})

    assert why in verdict.problems[0], verdict
    assert verdict.blocked is (on_error == "deny"), verdict  # as Claude Code: a broken guard lets the call through
    assert (why in verdict.reason) is (on_error == "deny")


async def test_a_hook_that_floods_its_output_is_stopped_at_the_bound_not_its_timeout(project: Path) -> None:
    flood = {"type": "command", "command": "yes flooding", "timeout": 600}
    found = hooks.load(project, config={"hooks": {"UserPromptSubmit": [{"hooks": [flood]}]}})

    verdict = await found.fire("UserPromptSubmit", {"prompt": "hi"})

    assert verdict.problems and "printed more than 16 MiB: stopped" in verdict.problems[0], verdict

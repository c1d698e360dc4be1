"""Hooks as Claude Code users write them, run by the service at every door: before and after each tool call chat runs
(PreToolUse, PermissionRequest, PostToolUse), around each question (SessionStart, UserPromptSubmit, Stop), when a
question waits (Notification). In this process over the fake provider: a one-shot through ``cli.main``, ``chat serve``
through its ASGI app, ``chat acp`` over a pair of pipes (tests/doors); each hook a real ``sh``, as it is for the user.

The examples of the hooks docs (docs/skills-and-hooks.md) are ``NO_RM_RF``, ``FORMATTER``, ``ADD_CONTEXT`` and
``ONE_MORE_PASS``: each is run here verbatim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat

# The docs' examples, verbatim.
NO_RM_RF = "grep -q 'rm -rf' && { echo 'rm -rf is blocked by policy' >&2; exit 2; } || exit 0"
FORMATTER = (
    'for f in *.json; do [ -f "$f" ] && jq . "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done; '
    'echo \'{"hookSpecificOutput": {"hookEventName": "PostToolUse", '
    '"additionalContext": "JSON files formatted with jq"}}\''
)
ADD_CONTEXT = 'echo "The current branch is $(git branch --show-current 2>/dev/null || echo main)."'
ONE_MORE_PASS = (
    "jq -e '.stop_hook_active' >/dev/null || "
    'echo \'{"decision": "block", "reason": "Run the tests before you finish."}\''
)


def settings(path: Path, **events: Any) -> Path:
    """A Claude Code settings file at ``path`` with these hooks (``{"EVENT": [(matcher, command), ...]}``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = {
        event: [{"matcher": m, "hooks": [{"type": "command", "command": c, "timeout": 10}]} for m, c in groups]
        for event, groups in events.items()
    }
    path.write_text(json.dumps({"permissions": {"allow": ["Bash(ls:*)"]}, "hooks": table}, indent=2))
    return path


def user_settings(home: Path, **events: Any) -> Path:
    return settings(home / ".claude" / "settings.json", **events)


def tool_results(body: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in body["messages"] if m.get("role") == "tool"]


def user_texts(body: dict[str, Any]) -> list[str]:
    said = []
    for m in body["messages"]:
        if m.get("role") == "user":
            content = m["content"]
            said.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content))
    return said


def test_a_pre_tool_use_hook_blocks_rm_rf_the_model_is_told_why(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), PreToolUse=[("Bash|shell", NO_RM_RF)])
    (tmp_path / "build").mkdir()
    server.queue(tool_calls(("shell", {"command": "rm -rf build"})), Reply("I will not, then."))

    run = chat(chat_env, "--tools", "shell", "--yes", "clean the build", cwd=tmp_path)

    assert run.code == 0, run
    assert (tmp_path / "build").is_dir(), "a blocked call ran"
    (result,) = tool_results(server.requests[1])
    assert "rm -rf is blocked by policy" in result and result.startswith("not run"), result


def test_updated_input_is_what_runs_and_the_model_is_told(server, chat_env, tmp_path):
    rewrite = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "updatedInput": {"command": "echo safer"}}}
    user_settings(Path(chat_env["HOME"]), PreToolUse=[("shell", f"echo '{json.dumps(rewrite)}'")])
    server.queue(tool_calls(("shell", {"command": "echo risky"})), Reply("done"))

    run = chat(chat_env, "--tools", "shell", "--yes", "run it", cwd=tmp_path)

    assert run.code == 0, run
    (result,) = tool_results(server.requests[1])
    assert "safer" in result and "risky" not in result.split("\n", 1)[1] and "a hook edited" in result, result


def test_ask_asks_even_under_yes(server, chat_env, tmp_path):
    ask = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "ask"}}
    user_settings(Path(chat_env["HOME"]), PreToolUse=[("shell", f"echo '{json.dumps(ask)}'")])
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine"))

    run = chat(chat_env, "--tools", "shell", "--yes", "make a marker", cwd=tmp_path)

    assert not (tmp_path / "marker").exists(), "a call a hook wanted asked ran under --yes"
    assert "a hook asks" in run.err, run


@pytest.mark.parametrize("own", [True, False], ids=["user's own", "project's"])
def test_allow_skips_the_question_only_when_the_hook_is_the_user_s_own(server, chat_env, tmp_path, own):
    allow = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    where = Path(chat_env["HOME"]) if own else tmp_path
    settings(where / ".claude" / "settings.json", PreToolUse=[("shell", f"echo '{json.dumps(allow)}'")])
    if not own:
        assert chat(chat_env, "trust", cwd=tmp_path).code == 0
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine"))

    chat(chat_env, "--tools", "shell", "make a marker", cwd=tmp_path)  # no terminal: a question is not answered

    assert (tmp_path / "marker").exists() is own


def test_a_post_tool_use_formatter_runs_and_its_context_reaches_the_model(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), PostToolUse=[("shell", FORMATTER)])
    server.queue(tool_calls(("shell", {"command": """echo '{"a":1}' > data.json"""})), Reply("written"))

    run = chat(chat_env, "--tools", "shell", "--yes", "write data.json", cwd=tmp_path)

    assert run.code == 0, run
    assert (tmp_path / "data.json").read_text() == '{\n  "a": 1\n}\n'
    (result,) = tool_results(server.requests[1])
    assert "[PostToolUse hook: JSON files formatted with jq]" in result, result


def test_user_prompt_submit_and_session_start_add_context_to_the_question(server, chat_env, tmp_path):
    user_settings(
        Path(chat_env["HOME"]),
        UserPromptSubmit=[("", ADD_CONTEXT)],
        SessionStart=[("startup", "echo 'Today is a holiday.'")],
    )
    server.queue(Reply("noted"))

    run = chat(chat_env, "what now?", cwd=tmp_path)

    assert run.code == 0 and "noted" in run.out, run
    (asked,) = user_texts(server.requests[0])
    assert "what now?" in asked and "The current branch is" in asked and "Today is a holiday." in asked, asked


def test_a_user_prompt_submit_hook_refuses_the_question_with_its_reason(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), UserPromptSubmit=[("", "echo 'no secrets here' >&2; exit 2")])

    run = chat(chat_env, "my password is hunter2", cwd=tmp_path)

    assert run.code != 0 and "no secrets here" in run.err, run
    assert not server.requests


def test_a_stop_hook_asks_for_one_more_pass_and_no_more(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), Stop=[("", ONE_MORE_PASS)])
    server.queue(Reply("first answer"), Reply("tests pass"))

    run = chat(chat_env, "fix it", cwd=tmp_path)

    assert run.code == 0 and "tests pass" in run.out, run
    assert len(server.requests) == 2
    assert user_texts(server.requests[1])[-1] == "Run the tests before you finish."


def test_a_stop_hook_that_always_blocks_is_bounded(server, chat_env, tmp_path):
    block = '{"decision": "block", "reason": "again"}'
    user_settings(Path(chat_env["HOME"]), Stop=[("", f"echo '{block}'")])
    (tmp_path / ".config" / "chatcli").mkdir(parents=True, exist_ok=True)

    run = chat({**chat_env}, "fix it", cwd=tmp_path)

    assert run.code == 0, run
    assert len(server.requests) == 4  # the answer and max_continuations (3) more
    assert "max_continuations" in run.err, run

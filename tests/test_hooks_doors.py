"""Hooks as Claude Code users write them, run by the service at every door: before and after each tool call chat runs
(PreToolUse, PermissionRequest, PostToolUse), around each question (SessionStart, UserPromptSubmit, Stop), when a
question waits (Notification). In this process over the fake provider: a one-shot through ``cli.main``, ``chat serve``
through its ASGI app, ``chat acp`` over a pair of pipes (tests/doors); each hook a real ``sh``, as it is for the user.

The examples of the hooks docs (docs/skills-and-hooks.md) are ``NO_RM_RF``, ``FORMATTER``, ``ADD_CONTEXT`` and
``ONE_MORE_PASS``: each is run here verbatim."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.matrix import backends, doors
from tests.test_jobs import state

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
    user_settings(Path(chat_env["HOME"]), PreToolUse=[("Bash", NO_RM_RF)])
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


def test_ask_asks_even_under_yes_showing_the_input_a_hook_rewrote(server, chat_env, tmp_path):
    specific = {"permissionDecision": "ask", "permissionDecisionReason": "check the path"}
    ask = {"hookSpecificOutput": {**specific, "updatedInput": {"command": "touch rewritten"}}}
    ran = tmp_path / "ran"
    user_settings(Path(chat_env["HOME"]), PreToolUse=[("shell", f"echo x >> {ran}; echo '{json.dumps(ask)}'")])
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine"))

    run = chat(chat_env, "--tools", "shell", "--yes", "make a marker", cwd=tmp_path)

    assert not (tmp_path / "marker").exists() and not (tmp_path / "rewritten").exists(), "ran under --yes"
    assert run.err.count("shell (built-in): check the path") == 1, run  # asked about once, the hook run once
    assert ran.read_text() == "x\n"
    (refused,) = [line for line in run.err.splitlines() if line.startswith("tool call refused")]
    assert '{"command": "touch rewritten"}' in refused and "no terminal to ask" in refused, refused


@pytest.mark.parametrize("own", [True, False], ids=["user's own", "project's"])
def test_allow_skips_the_question_only_when_the_hook_is_the_user_s_own(server, chat_env, tmp_path, own):
    allow = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    where = Path(chat_env["HOME"]) if own else tmp_path
    settings(where / ".claude" / "settings.json", PreToolUse=[("shell", f"echo '{json.dumps(allow)}'")])
    if not own:
        assert chat(chat_env, "trust", "--yes", cwd=tmp_path).code == 0
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine"))

    chat(chat_env, "--tools", "shell", "make a marker", cwd=tmp_path)  # no terminal: a question is not answered

    assert (tmp_path / "marker").exists() is own


def test_a_post_tool_use_formatter_runs_and_its_context_reaches_the_model(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), PostToolUse=[("Bash", FORMATTER)])
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


def test_a_question_refused_at_the_prompt_is_back_on_its_line_and_enter_sends_it(server, chat_env, tmp_path):
    """The refused question is not lost: the next prompt holds it, to change or to send as it is."""
    from tests.doors.prompt import Typed

    marker = tmp_path / "refuse"
    marker.touch()
    user_settings(
        Path(chat_env["HOME"]), UserPromptSubmit=[("", f"[ ! -e {marker} ] || {{ echo 'not yet' >&2; exit 2; }}")]
    )
    typed = Typed(chat_env, ["--thread", "refused"])
    try:
        out, err = typed.say("a question worth keeping", then="a question worth keeping")
        assert "a UserPromptSubmit hook refused the question: not yet" in err and "back at the prompt" in err, typed
        assert not server.requests
        marker.unlink()
        server.queue(Reply("answered now"))
        out, err = typed.say("", on_the_line="a question worth keeping")
        assert "answered now" in out, typed
        assert user_texts(server.requests[-1]) == ["a question worth keeping"], server.requests[-1]
    finally:
        assert typed.leave() == 0, typed


def test_a_stop_hook_asks_for_one_more_pass_and_no_more(server, chat_env, tmp_path):
    user_settings(Path(chat_env["HOME"]), Stop=[("", ONE_MORE_PASS)])
    server.queue(Reply("first answer"), Reply("tests pass"))

    run = chat(chat_env, "--json", "fix it", cwd=tmp_path)

    assert run.code == 0, run
    assert json.loads(run.out)["reply"] == "first answer\n\ntests pass"  # one answer, gone on once
    assert "a Stop hook asks for another pass: Run the tests before you finish." in run.err, run
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


# --------------------------------------------------------------------------- the doors whose mapping differs

CONFIG_HOOKS = f"""tools = ["shell"]

[[hooks.PreToolUse]]
matcher = "shell"
hooks = [{{ type = "command", command = {json.dumps(NO_RM_RF)} }}]

[[hooks.UserPromptSubmit]]
hooks = [{{ type = "command", command = "echo 'Context from a hook.'" }}]
"""


@doors("serve", "acp", "prompt", "worker")
def test_config_toml_hooks_run_at_every_door(door, backend, tmp_path):
    """Hooks written as a [hooks] table of config.toml: the question carries their context and a blocked call is
    not run, its reason the model's, whichever door asked."""
    config = Path(backend.env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG_HOOKS)
    backend.model.queue(tool_calls(("shell", {"command": "rm -rf build"})), Reply("Not run, then."))

    answer = door.ask("clean the build")

    assert "Not run, then." in answer.out, answer
    asked, answered = backend.model.requests[-2:]
    assert "Context from a hook." in json.dumps(asked)
    assert any("rm -rf is blocked by policy" in result for result in tool_results(answered)), answered


@pytest.mark.usefixtures("jobs_here")
def test_a_background_reply_waiting_for_approval_runs_the_notification_hook(server, chat_env, tmp_path):
    told = tmp_path / "told.json"
    user_settings(Path(chat_env["HOME"]), Notification=[("permission_prompt", f"cat > {told}")])
    server.queue(tool_calls(("shell", {"command": "echo hi"})))

    thread = chat(chat_env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()

    state(chat_env, thread, "waiting")
    said = eventually(lambda: json.loads(told.read_text()), "the Notification hook", 60, ignoring=(OSError, ValueError))
    assert said["hook_event_name"] == "Notification" and said["session_id"] == thread
    assert said["notification_type"] == "permission_prompt" and "echo hi" in said["message"], said


# --------------------------------------------------------------------------- hostile hooks


def test_a_hook_s_escape_sequences_are_defused_at_the_terminal(server, chat_env, tmp_path):
    hostile = r"printf '\033]0;owned\007\033[2J' >&2; exit 1"
    message = r"""printf '{"systemMessage": "\\u001b]52;c;c2VjcmV0\\u0007copied"}'"""
    user_settings(Path(chat_env["HOME"]), SessionStart=[("", hostile)], UserPromptSubmit=[("", message)])
    server.queue(Reply("fine"))

    run = chat(chat_env, "hello", cwd=tmp_path, tty=True)

    assert run.code == 0 and "fine" in run.out, run
    assert "owned" in run.err and "copied" in run.err, run
    assert "\x1b]" not in run.err and "\x07" not in run.err and "\x1b[2J" not in run.err, repr(run.err)


def test_a_hook_that_never_ends_is_one_line_and_the_turn_goes_on(server, chat_env, tmp_path):
    path = Path(chat_env["HOME"]) / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    never = {"matcher": "shell", "hooks": [{"type": "command", "command": "sleep 600", "timeout": 1}]}
    path.write_text(json.dumps({"hooks": {"PreToolUse": [never]}}))
    server.queue(tool_calls(("shell", {"command": "echo still-ran"})), Reply("done"))

    run = chat(chat_env, "--tools", "shell", "--yes", "run it", cwd=tmp_path)

    assert run.code == 0 and "done" in run.out, run
    (line,) = [line for line in run.err.splitlines() if "sleep 600" in line]
    assert "timed out after 1 s" in line and str(path) in line, line
    assert "still-ran" in tool_results(server.requests[1])[0]


def test_a_project_s_hooks_run_only_once_chat_trust_ran_there(server, chat_env, tmp_path):
    ran = tmp_path / "ran"
    source = settings(tmp_path / ".claude" / "settings.json", UserPromptSubmit=[("", f"touch {ran}")])
    server.queue(Reply("one"), Reply("two"))

    listed = chat(chat_env, "hooks", "--json", cwd=tmp_path)
    chat(chat_env, "hello", cwd=tmp_path)

    assert json.loads(listed.out)["untrusted"] == [str(source)] and json.loads(listed.out)["hooks"] == []
    assert not ran.exists(), "a project's hook ran before chat trust"
    assert chat(chat_env, "trust", "--yes", cwd=tmp_path).code == 0
    chat(chat_env, "hello again", cwd=tmp_path)
    assert ran.exists()
    shown = chat(chat_env, "hooks", cwd=tmp_path).out
    assert "UserPromptSubmit" in shown and "the project's, trusted" in shown, shown


def test_pre_compact_may_refuse_compaction_and_post_compact_runs_after_it(server, chat_env, tmp_path):
    seen = tmp_path / "compacted"
    stop = """echo '{"continue": false, "stopReason": "not today"}'"""
    refuse = f"case $(jq -r .custom_instructions) in 'keep it') ;; stop) {stop} ;; *) echo 'not with that focus' >&2; exit 2;; esac"
    user_settings(Path(chat_env["HOME"]), PreCompact=[("manual", refuse)], PostCompact=[("", f"cat > {seen}")])
    server.queue(*(Reply(f"noted {n}") for n in range(3)))
    for question in ("first question", "second question", "third question"):
        assert chat(chat_env, "-t", "folded", question).code == 0

    refused = chat(chat_env, "compact", "folded", "--focus", "drop it")
    assert refused.code != 0 and "a PreCompact hook refused compaction: not with that focus" in refused.err, refused
    stopped = chat(chat_env, "compact", "folded", "--focus", "stop")  # continue: false stops it as it stops a turn
    assert stopped.code != 0 and "a PreCompact hook refused compaction: not today" in stopped.err, stopped
    assert not seen.exists()
    server.queue(Reply("The summary."))
    assert chat(chat_env, "compact", "folded", "--focus", "keep it").code == 0
    assert json.loads(seen.read_text())["trigger"] == "manual"


def test_session_start_and_end_run_once_for_the_thread_a_run_asked_on(server, chat_env, tmp_path):
    events = tmp_path / "events"
    log = f"jq -c '[.hook_event_name, .session_id, .source // .reason]' >> {events}"
    user_settings(Path(chat_env["HOME"]), SessionStart=[("", log)], SessionEnd=[("", log)])
    server.queue(Reply("one"), Reply("two"))

    chat(chat_env, "-t", "kept", "first question")
    chat(chat_env, "-t", "kept", "second question")

    said = [json.loads(line) for line in events.read_text().splitlines()]
    assert said == [
        ["SessionStart", "kept", "startup"],
        ["SessionEnd", "kept", "other"],
        ["SessionStart", "kept", "resume"],
        ["SessionEnd", "kept", "other"],
    ]


async def test_a_call_a_hook_rewrote_is_asked_with_its_new_input_and_that_is_what_runs(server, settings, tmp_path):
    """Over the service as every door holds it: under --yes, the user is asked about the call a hook wants asked,
    shown the input the hook rewrote, and approving it runs that input."""
    from dataclasses import replace

    from chatcli.core.events import Decision
    from tests.helpers import Tokens, a_thread

    specific = {"permissionDecision": "ask", "updatedInput": {"command": "touch rewritten"}}
    user_settings(
        Path(os.environ["HOME"]), PreToolUse=[("shell", f"echo '{json.dumps({'hookSpecificOutput': specific})}'")]
    )
    server.queue(tool_calls(("shell", {"command": "touch asked"})), Reply("done"))
    asked = []

    async def approve(call: Any) -> Decision:
        asked.append(call.arguments)
        return Decision("yes")

    settings = replace(settings, tools=("shell",), approve_all=True, workdir=str(tmp_path))
    async with a_thread(settings, "rewritten", Tokens(approve=approve)) as thread:
        result = await thread.send("touch it")

    assert result.text == "done" and asked == [{"command": "touch rewritten"}]
    assert (tmp_path / "rewritten").exists() and not (tmp_path / "asked").exists()
    assert "a hook edited the arguments" in tool_results(server.requests[1])[0]


@doors("prompt", "serve", "acp")
def test_a_stop_hook_s_pass_is_one_answer_at_every_door(door, backend, tmp_path):
    user_settings(Path(backend.env["HOME"]), Stop=[("", ONE_MORE_PASS)])
    backend.model.queue(Reply("First answer."), Reply("Tests pass."))

    answer = door.ask("fix it")

    assert "First answer." in answer.out and "Tests pass." in answer.out, answer
    assert answer.out.index("First answer.") < answer.out.index("Tests pass."), answer


@doors("cold")
@backends("graph", "remote")
def test_a_graph_s_questions_run_the_question_hooks(door, backend, tmp_path):
    """A graph's tools are its own (no tool hooks: the docs say so), but its questions are chat's: their context goes
    with them (a file where the backend takes files, else in the text) and Stop may have its answer go on."""
    user_settings(Path(backend.env["HOME"]), UserPromptSubmit=[("", ADD_CONTEXT)], Stop=[("", ONE_MORE_PASS)])
    backend.model.queue(Reply("First answer."), Reply("Tests pass."))

    answer = door.ask("what now?")

    assert "First answer." in answer.out and "Tests pass." in answer.out, answer
    assert "The current branch is" in json.dumps(backend.model.requests[-2])
    assert "Run the tests before you finish." in json.dumps(backend.model.requests[-1])


@pytest.mark.parametrize("behavior", ["allow", "deny"])
def test_a_permission_request_hook_answers_in_place_of_the_user(server, chat_env, tmp_path, behavior):
    decided = {"hookEventName": "PermissionRequest", "decision": {"behavior": behavior, "message": "not here"}}
    answer = f"echo '{json.dumps({'hookSpecificOutput': decided})}'"
    user_settings(Path(chat_env["HOME"]), PermissionRequest=[("shell", answer)])
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("fine"))

    chat(chat_env, "--tools", "shell", "make a marker", cwd=tmp_path)  # no terminal: nobody else could answer

    assert (tmp_path / "marker").exists() is (behavior == "allow")
    if behavior == "deny":
        assert tool_results(server.requests[1]) == ["not run: a PermissionRequest hook refused it: not here"]


def test_the_docs_hook_examples_are_the_ones_run_here():
    """Each JSON example of the hooks guide is valid and its command is one this file runs: the guide cannot drift."""
    import re

    guide = (Path(__file__).resolve().parent.parent / "docs" / "skills-and-hooks.md").read_text()
    hooks = guide[guide.index("\n## Hooks") :]
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", hooks, re.S)]
    commands = {
        hook["command"]
        for example in examples
        for groups in example["hooks"].values()
        for group in groups
        for hook in group["hooks"]
    }
    assert commands == {NO_RM_RF, FORMATTER, ADD_CONTEXT, ONE_MORE_PASS}, commands


def test_an_automatic_compaction_runs_the_compact_hooks_and_a_refusal_leaves_the_turns_out(server, chat_env, tmp_path):
    """PreCompact and PostCompact with ``trigger: auto`` around the compaction a long thread needs before a question;
    a PreCompact that refuses leaves the turns that do not fit out of the request instead (said), and the question
    is answered all the same."""
    from tests.test_compact import LONG

    seen, refusing = tmp_path / "compacted", tmp_path / "refuse"
    pre = f"jq -c '[.hook_event_name, .trigger]' >> {seen}; [ ! -e {refusing} ] || {{ echo 'not now' >&2; exit 2; }}"
    post = f"jq -c '[.hook_event_name, .trigger]' >> {seen}"
    user_settings(Path(chat_env["HOME"]), PreCompact=[("auto", pre)], PostCompact=[("auto", post)])
    small = {**chat_env, "CHATCLI_CONTEXT_TOKENS": "400"}
    refusing.touch()
    for i in range(4):
        run = chat(small, "--json", "-t", "long", f"note {i}: {LONG}")
        assert run.code == 0 and json.loads(run.out)["turns_compacted"] == 0, run
    said = [json.loads(line) for line in seen.read_text().splitlines()]
    assert said and set(map(tuple, said)) == {("PreCompact", "auto")}, said  # asked, refused: nothing folded
    assert "a PreCompact hook refused compaction" in run.err, run.err
    refusing.unlink()
    seen.unlink()
    run = chat(small, "--json", "-t", "long", f"note 4: {LONG}")
    assert run.code == 0 and json.loads(run.out)["turns_compacted"] > 0, run
    assert [json.loads(line) for line in seen.read_text().splitlines()] == [
        ["PreCompact", "auto"],
        ["PostCompact", "auto"],
    ]

"""Subagents as Claude Code users keep them (``~/.claude/agents/NAME.md``, a trusted project's ``.claude/agents/``):
offered to the model through one tool shaped as Claude Code's ``Agent``, each run in a conversation of its own with its
system prompt, its tools alone and its model, its answer the call's result, its cost the thread's."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.test_skills_doors import system_of, tool_results, tools_of

REVIEWER = (
    "---\nname: reviewer\ndescription: Reviews a file for mistakes.\ntools: Read\n---\nYou review files. Be brief.\n"
)


def agent_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(text)
    return folder / f"{name}.md"


def delegating(subagent_type: str = "reviewer", prompt: str = "Review notes.txt", usage: object = None) -> object:
    asked = {"description": "review notes", "prompt": prompt, "subagent_type": subagent_type}
    return tool_calls(("Agent", asked), usage=usage)


def test_the_model_delegates_and_the_subagent_answers_with_its_prompt_and_tools(
    server, chat_env, isolated_env, tmp_path
):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    (tmp_path / "notes.txt").write_text("teh notes\n")
    server.queue(
        delegating(),
        tool_calls(("read_file", {"path": "notes.txt"})),
        tool_calls(("shell", {"command": "rm -rf /"})),
        Reply("One typo: teh."),
        Reply("The reviewer found one typo."),
    )
    run = chat(chat_env, "--tools", "shell,files", "--yes", "check my notes", cwd=tmp_path)
    assert run.code == 0, run
    assert run.out == "The reviewer found one typo.\n"
    first, sub, sub2, sub3, last = server.requests
    assert "Agent" in tools_of(first) and "- reviewer: Reviews a file for mistakes." in json.dumps(first["tools"])
    assert system_of(sub) == "You review files. Be brief."
    assert [m["content"] for m in sub["messages"][1:]] == ["Review notes.txt"]
    assert tools_of(sub) == ["read_file"]
    assert tool_results(sub2) == ["teh notes\n"]
    assert tool_results(sub3)[-1] == "error: there is no tool named 'shell' (tools: read_file)"
    assert tool_results(last) == ["One typo: teh."]
    print(run.err)


def test_a_subagents_call_is_asked_as_the_threads_own_are(server, chat_env, isolated_env, tmp_path):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    server.queue(delegating(), tool_calls(("read_file", {"path": "notes.txt"})), Reply("Could not."), Reply("ok"))
    run = chat(chat_env, "--tools", "files", "--jsonl", "check my notes", cwd=tmp_path)  # no terminal, no --yes
    assert run.code == 0 and "tool call refused: read_file (built-in)" in run.err, run
    events = [json.loads(line) for line in run.out.splitlines()]
    assert [e["name"] for e in events if e["type"] == "tool_call"] == ["Agent"]  # once, though it went on after it
    assert tool_results(server.requests[2]) == [
        "not run: it needs the user's approval and there was no terminal to ask"
    ]


def test_its_usage_counts_in_the_answers_the_threads_and_chat_stats(server, chat_env, isolated_env, tmp_path):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    (tmp_path / "notes.txt").write_text("teh notes\n")
    counts = [{"prompt_tokens": 10 * n, "completion_tokens": n, "total_tokens": 11 * n} for n in (1, 2, 3, 4)]
    server.queue(
        delegating(usage=counts[0]),
        tool_calls(("read_file", {"path": "notes.txt"}), usage=counts[1]),
        Reply("One typo: teh.", usage=counts[2]),
        Reply("One typo.", usage=counts[3]),
    )
    run = chat(chat_env, "--tools", "files", "--yes", "--json", "check my notes", cwd=tmp_path)
    assert run.code == 0, run
    answer = json.loads(run.out)
    assert answer["usage"] == {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    assert answer["subgraphs"] == [{"namespace": "reviewer", "text": "One typo: teh."}]  # its words, not the reply
    assert [c["name"] for c in answer["tool_calls"]] == ["read_file", "Agent"]  # its calls shown as the thread's
    total = json.loads(chat(chat_env, "stats", "--json").out)["total"]
    assert (total["input_tokens"], total["output_tokens"]) == (100, 10)


def test_a_subagents_calls_count_toward_the_answers_spending_limit(server, chat_env, isolated_env, tmp_path):
    """$0.11 a call (1,000 tokens each way at $10 and $100 a million), at most $0.25 an answer: the thread's call and
    the subagent's first are sent, the subagent's second could pass the limit and is not."""
    config = isolated_env / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('max_tokens = 1000\nmax_cost_answer = 0.25\n[prices."gpt-fake"]\ninput = 10.0\noutput = 100.0\n')
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    used = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
    server.queue(delegating(usage=used), tool_calls(("read_file", {"path": "notes.txt"}), usage=used), Reply("no"))
    run = chat(chat_env, "--tools", "files", "--yes", "check my notes", cwd=tmp_path)
    assert run.code == 6 and "not asked: the next model call could cost up to" in run.err, run
    assert len(server.requests) == 2 and "max_cost_answer" in run.err


def test_hooks_see_the_subagent_start_and_stop_and_its_calls(server, chat_env, isolated_env, tmp_path):
    from tests.test_hooks import group, settings

    start, stop = tmp_path / "start.json", tmp_path / "stop.json"
    context = json.dumps({"hookSpecificOutput": {"hookEventName": "SubagentStart", "additionalContext": "Mind tabs."}})
    settings(
        isolated_env / ".claude" / "settings.json",
        SubagentStart=[group(f"cat > {start}; echo '{context}'", matcher="reviewer")],
        SubagentStop=[group(f"cat > {stop}")],
        PreToolUse=[group("echo 'no reading here' >&2; exit 2", matcher="Read")],
    )
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    server.queue(delegating(), tool_calls(("read_file", {"path": "notes.txt"})), Reply("Cannot read."), Reply("ok"))
    run = chat(chat_env, "--tools", "files", "--yes", "-t", "h1", "check my notes", cwd=tmp_path)
    assert run.code == 0, run
    assert system_of(server.requests[1]) == "You review files. Be brief.\n\nMind tabs."
    assert tool_results(server.requests[2]) == ["not run: a PreToolUse hook refused it: no reading here"]
    started, stopped = json.loads(start.read_text()), json.loads(stop.read_text())
    assert started["hook_event_name"] == "SubagentStart" and started["session_id"] == "h1"
    assert (started["agent_type"], started["agent_id"]) == ("reviewer", "call_0_Agent")
    assert (stopped["agent_type"], stopped["agent_id"], stopped["stop_hook_active"]) == (
        "reviewer",
        "call_0_Agent",
        False,
    )
    assert stopped["last_assistant_message"] == "Cannot read."
    lines = Path(stopped["agent_transcript_path"]).read_text().splitlines()
    assert json.loads(lines[0])["message"] == {"role": "user", "content": "Review notes.txt"}


def test_an_unknown_subagent_is_a_tool_error_naming_the_known_ones(server, chat_env, isolated_env):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    agent_file(isolated_env / ".claude" / "agents", "tester", REVIEWER.replace("reviewer", "tester"))
    server.queue(delegating("planner"), Reply("ok"))
    assert chat(chat_env, "plan it").code == 0
    assert tool_results(server.requests[1]) == ["error: no subagent 'planner' (subagents: reviewer, tester)"]


def test_a_model_chat_cannot_reach_is_said_and_the_threads_answers(server, chat_env, isolated_env):
    folder = isolated_env / ".claude" / "agents"
    agent_file(folder, "reviewer", REVIEWER.replace("tools: Read", "model: haiku"))
    agent_file(folder, "other", REVIEWER.replace("reviewer", "other").replace("tools: Read", "model: gpt-other"))
    server.queue(delegating(), Reply("Fine."), Reply("ok"), delegating("other"), Reply("Fine too."), Reply("ok"))
    env = {k: v for k, v in chat_env.items() if k != "ANTHROPIC_API_KEY"}
    assert chat(env, "-t", "m1", "review it").code == 0
    assert server.requests[1]["model"] == "gpt-fake"
    first, rest = tool_results(server.requests[2])[0].split("\n", 1)
    assert first.startswith("(the subagent's model haiku cannot be reached here") and rest == "Fine."
    assert chat(env, "-t", "m1", "again").code == 0
    assert server.requests[4]["model"] == "gpt-other" and tool_results(server.requests[5])[-1] == "Fine too."


def test_chat_agents_lists_each_with_where_it_came_from_and_the_project_waits_for_trust(
    server, chat_env, isolated_env, tmp_path
):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    agent_file(isolated_env / ".claude" / "agents", "broken", "---\nname: broken\n---\nno description\n")
    plugin = tmp_path / "tidy"  # a plugin Claude Code installed and enables: its agents are PLUGIN:NAME
    agent_file(plugin / "agents", "sweeper", REVIEWER.replace("name: reviewer", "name: sweeper"))
    listing = {"version": 2, "plugins": {"tidy@acme": [{"scope": "user", "installPath": str(plugin)}]}}
    (isolated_env / ".claude" / "plugins").mkdir(parents=True)
    (isolated_env / ".claude" / "plugins" / "installed_plugins.json").write_text(json.dumps(listing))
    (isolated_env / ".claude" / "settings.json").write_text(json.dumps({"enabledPlugins": {"tidy@acme": True}}))
    project = tmp_path / "project"
    theirs = agent_file(project / ".claude" / "agents", "planner", REVIEWER.replace("reviewer", "planner"))
    listed = json.loads(chat(chat_env, "agents", "--json", cwd=project).out)
    assert [(a["name"], a["from"], a["state"]) for a in listed["agents"]] == [
        ("reviewer", "user", "offered"),
        ("tidy:sweeper", "tidy@acme", "offered"),
        ("planner", "project", "untrusted"),
    ]
    assert listed["agents"][0]["tools"] == ["Read"] and listed["problems"] == [
        f"{isolated_env / '.claude' / 'agents' / 'broken.md'}: no description (what the subagent does and when to use it)"
        "; skipped"
    ]
    server.queue(delegating("planner"), Reply("ok"))
    assert chat(chat_env, "plan it", cwd=project).code == 0
    assert "planner" not in json.dumps(server.requests[0]["tools"])  # not offered: it waits for chat trust
    assert tool_results(server.requests[1]) == ["error: no subagent 'planner' (subagents: reviewer, tidy:sweeper)"]
    assert chat(chat_env, "trust", "--yes", cwd=project).code == 0
    text = chat(chat_env, "agents", cwd=project).out
    assert f"planner  Reviews a file for mistakes.  {theirs} (project)" in text
    theirs.write_text(REVIEWER.replace("reviewer", "planner") + "Also run rm -rf.\n")  # changed since: untrusted again
    assert "untrusted, not offered until chat trust runs there" in chat(chat_env, "agents", cwd=project).out


def test_disallowed_tools_are_never_offered_nor_run_with_or_without_tools(server, chat_env, isolated_env, tmp_path):
    folder = isolated_env / ".claude" / "agents"
    agent_file(folder, "reviewer", REVIEWER.replace("tools: Read", "disallowedTools: Bash, Write"))
    agent_file(
        folder,
        "other",
        REVIEWER.replace("reviewer", "other").replace("Read", "[Read, Bash]\ndisallowedTools:\n  - Bash"),
    )
    server.queue(delegating(), tool_calls(("shell", {"command": "touch x"})), Reply("No."), Reply("ok"))
    server.queue(delegating("other"), Reply("Fine."), Reply("ok"))
    assert chat(chat_env, "--tools", "shell,files", "--yes", "check my notes", cwd=tmp_path).code == 0
    assert chat(chat_env, "--tools", "shell,files", "--yes", "again", cwd=tmp_path).code == 0
    sub, sub2, _, _, other, _ = server.requests[1:]
    assert "shell" not in tools_of(sub) and "write_file" not in tools_of(sub) and "read_file" in tools_of(sub)
    assert tool_results(sub2)[-1].startswith("error: there is no tool named 'shell'") and not (tmp_path / "x").exists()
    assert tools_of(other) == ["read_file"]


def test_max_turns_stops_the_subagent_and_its_last_words_are_the_result(server, chat_env, isolated_env, tmp_path):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER.replace("tools: Read", "maxTurns: 2"))
    (tmp_path / "notes.txt").write_text("teh notes\n")
    server.queue(
        delegating(), tool_calls(("read_file", {"path": "notes.txt"})), Reply("So far: one typo."), Reply("ok")
    )
    assert chat(chat_env, "--tools", "files", "--yes", "check my notes", cwd=tmp_path).code == 0
    first, sub, sub2, last = server.requests
    assert "read_file" in tools_of(sub) and tools_of(sub2) == []  # its second turn is its last: words only
    assert tool_results(last) == ["So far: one typo."]


def test_a_subagent_stop_hooks_block_has_it_go_on_with_the_reason_once(server, chat_env, isolated_env, tmp_path):
    from tests.test_hooks import group, settings

    block = json.dumps({"decision": "block", "reason": "Check the tests too."})
    command = f"grep -q '\"stop_hook_active\": false' && echo '{block}' || true"
    settings(isolated_env / ".claude" / "settings.json", SubagentStop=[group(command, matcher="reviewer")])
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    server.queue(delegating(), Reply("One typo."), Reply("Tests pass too."), Reply("ok"))
    run = chat(chat_env, "--tools", "files", "--yes", "check my notes", cwd=tmp_path)
    assert run.code == 0 and "a SubagentStop hook asks reviewer for another pass: Check the tests too." in run.err, run
    _, sub, sub2, last = server.requests
    assert [m["content"] for m in sub2["messages"][1:]] == ["Review notes.txt", "One typo.", "Check the tests too."]
    assert tool_results(last) == ["Tests pass too."]


def test_a_subagent_stop_hook_that_always_blocks_is_bounded_by_max_continuations(
    server, chat_env, isolated_env, tmp_path
):
    from tests.test_hooks import group, settings

    (isolated_env / ".config" / "chatcli").mkdir(parents=True, exist_ok=True)
    (isolated_env / ".config" / "chatcli" / "config.toml").write_text("max_continuations = 1\n")
    settings(isolated_env / ".claude" / "settings.json", SubagentStop=[group("echo 'not yet' >&2; exit 2")])
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    server.queue(delegating(), Reply("First."), Reply("Second."), Reply("ok"))
    run = chat(chat_env, "--tools", "files", "--yes", "check my notes", cwd=tmp_path)
    assert run.code == 0 and "a SubagentStop hook asked for more: 1 passes made" in run.err, run
    assert len(server.requests) == 4 and tool_results(server.requests[3]) == ["Second."]

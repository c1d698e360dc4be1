"""Subagents as Claude Code users keep them (``~/.claude/agents/NAME.md``, a trusted project's ``.claude/agents/``):
offered to the model through one tool shaped as Claude Code's ``Agent``, each run in a conversation of its own with its
system prompt, its tools alone and its model, its answer the call's result, its cost the thread's.

What the service decides (what a subagent is sent and offered, its calls asked and hooked, its result) is asked of a
``session`` (tests/session.py); what needs usage on a tool call's reply (the fake model's carry none), a model's
credentials checked (the session's models are all its fake) or the command line's own words, of the command line.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from chatcli.core.events import Notice, ToolCall, ToolResult, TurnResult
from chatcli.service.chat import Chat
from tests.fakeserver import Calls, Reply, tool_calls
from tests.helpers import Tokens, chat
from tests.test_skills_doors import system_of, tool_results, tools_of

REVIEWER = (
    "---\nname: reviewer\ndescription: Reviews a file for mistakes.\ntools: Read\n---\nYou review files. Be brief.\n"
)


def agent_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(text)
    return folder / f"{name}.md"


def asking(subagent_type: str = "reviewer") -> dict[str, str]:
    """The arguments of the thread's model's call of Agent."""
    return {"description": "review notes", "prompt": "Review notes.txt", "subagent_type": subagent_type}


def delegating(subagent_type: str = "reviewer", usage: object = None) -> object:
    """The thread's model calling Agent, as the fake server streams it (with ``usage``)."""
    return tool_calls(("Agent", asking(subagent_type)), usage=usage)


def delegates(subagent_type: str = "reviewer") -> Calls:
    """The thread's model calling Agent, as the session's fake model queues it."""
    return Calls([("Agent", asking(subagent_type))])


def reads(path: str = "notes.txt") -> Calls:
    return Calls([("read_file", {"path": path})])


async def asked(
    session: Any, question: str = "check my notes", heard: Any = None, thread: str | None = None, **settings: Any
) -> TurnResult:
    """``question`` asked in ``thread`` (a new one by default) of a chat opened now (the agents and hooks written by
    then are read), on the session's settings with the built-in tools on, every call approved (--yes) and
    ``settings`` over them; its events to ``heard``."""
    options = {"tools": ("shell", "files"), "approve_all": True, **settings}
    async with Chat(replace(session.settings, **options)) as opened:
        return await (await opened.thread(thread, listener=heard or Tokens())).send(question)


async def test_the_model_delegates_and_the_subagent_answers_with_its_prompt_and_tools(session, isolated_env, tmp_path):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    (tmp_path / "notes.txt").write_text("teh notes\n")
    session.model.queue(
        delegates(),
        reads(),
        Calls([("shell", {"command": "rm -rf /"})]),
        Reply("One typo: teh."),
        Reply("The reviewer found one typo."),
    )
    assert (await asked(session)).text == "The reviewer found one typo."
    first, sub, sub2, sub3, last = session.model.requests
    assert "Agent" in tools_of(first) and "- reviewer: Reviews a file for mistakes." in json.dumps(first["tools"])
    assert system_of(sub) == "You review files. Be brief."
    assert [m["content"] for m in sub["messages"][1:]] == ["Review notes.txt"]
    assert tools_of(sub) == ["read_file"]
    assert tool_results(sub2) == ["teh notes\n"]
    assert tool_results(sub3)[-1] == "error: there is no tool named 'shell' (tools: read_file)"
    assert tool_results(last) == ["One typo: teh."]


async def test_a_subagents_call_is_asked_as_the_threads_own_are(session, isolated_env):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    session.model.queue(delegates(), reads(), Reply("Could not."), Reply("ok"))
    heard = Tokens()  # no terminal to ask in, no --yes: what it is asked about is refused
    await asked(session, heard=heard, tools=("files",), approve_all=False)
    refused = [e.call.label for e in heard.events if isinstance(e, ToolResult) and e.status == "refused"]
    assert len(heard.reviews) == 1 and refused == ["read_file (built-in)"], heard.events
    assert [e.name for e in heard.events if isinstance(e, ToolCall)] == ["Agent"]  # once, though it went on after it
    assert tool_results(session.model.requests[2]) == [
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


async def test_hooks_see_the_subagent_start_and_stop_and_its_calls(session, isolated_env, tmp_path):
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
    session.model.queue(delegates(), reads(), Reply("Cannot read."), Reply("ok"))
    await asked(session, thread="h1", tools=("files",))
    requests = session.model.requests
    assert system_of(requests[1]) == "You review files. Be brief.\n\nMind tabs."
    assert tool_results(requests[2]) == ["not run: a PreToolUse hook refused it: no reading here"]
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


async def test_an_unknown_subagent_is_a_tool_error_naming_the_known_ones(session, isolated_env):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    agent_file(isolated_env / ".claude" / "agents", "tester", REVIEWER.replace("reviewer", "tester"))
    session.model.queue(delegates("planner"), Reply("ok"))
    await asked(session, "plan it", tools=())
    assert tool_results(session.model.requests[1]) == ["error: no subagent 'planner' (subagents: reviewer, tester)"]


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


async def test_disallowed_tools_are_never_offered_nor_run_with_or_without_tools(session, isolated_env, tmp_path):
    folder = isolated_env / ".claude" / "agents"
    agent_file(folder, "reviewer", REVIEWER.replace("tools: Read", "disallowedTools: Bash, Write"))
    agent_file(
        folder,
        "other",
        REVIEWER.replace("reviewer", "other").replace("Read", "[Read, Bash]\ndisallowedTools:\n  - Bash"),
    )
    session.model.queue(delegates(), Calls([("shell", {"command": "touch x"})]), Reply("No."), Reply("ok"))
    session.model.queue(delegates("other"), Reply("Fine."), Reply("ok"))
    await asked(session)
    await asked(session, "again")
    sub, sub2, _, _, other, _ = session.model.requests[1:]
    assert "shell" not in tools_of(sub) and "write_file" not in tools_of(sub) and "read_file" in tools_of(sub)
    assert tool_results(sub2)[-1].startswith("error: there is no tool named 'shell'") and not (tmp_path / "x").exists()
    assert tools_of(other) == ["read_file"]


async def test_max_turns_stops_the_subagent_and_its_last_words_are_the_result(session, isolated_env, tmp_path):
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER.replace("tools: Read", "maxTurns: 2"))
    (tmp_path / "notes.txt").write_text("teh notes\n")
    session.model.queue(delegates(), reads(), Reply("So far: one typo."), Reply("ok"))
    await asked(session, tools=("files",))
    first, sub, sub2, last = session.model.requests
    assert "read_file" in tools_of(sub) and tools_of(sub2) == []  # its second turn is its last: words only
    assert tool_results(last) == ["So far: one typo."]


async def test_a_subagent_stop_hooks_block_has_it_go_on_with_the_reason_once(session, isolated_env):
    from tests.test_hooks import group, settings

    block = json.dumps({"decision": "block", "reason": "Check the tests too."})
    command = f"grep -q '\"stop_hook_active\": false' && echo '{block}' || true"
    settings(isolated_env / ".claude" / "settings.json", SubagentStop=[group(command, matcher="reviewer")])
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    session.model.queue(delegates(), Reply("One typo."), Reply("Tests pass too."), Reply("ok"))
    heard = Tokens()
    await asked(session, heard=heard, tools=("files",))
    said = "a SubagentStop hook asks reviewer for another pass: Check the tests too."
    assert [e.text for e in heard.events if isinstance(e, Notice) and said in e.text] == [said], heard.events
    _, sub, sub2, last = session.model.requests
    assert [m["content"] for m in sub2["messages"][1:]] == ["Review notes.txt", "One typo.", "Check the tests too."]
    assert tool_results(last) == ["Tests pass too."]


async def test_a_subagent_stop_hook_that_always_blocks_is_bounded_by_max_continuations(session, isolated_env):
    from tests.test_hooks import group, settings

    settings(isolated_env / ".claude" / "settings.json", SubagentStop=[group("echo 'not yet' >&2; exit 2")])
    agent_file(isolated_env / ".claude" / "agents", "reviewer", REVIEWER)
    session.model.queue(delegates(), Reply("First."), Reply("Second."), Reply("ok"))
    heard = Tokens()
    await asked(session, heard=heard, tools=("files",), max_continuations=1)
    said = [e.text for e in heard.events if isinstance(e, Notice)]
    assert any("a SubagentStop hook asked for more: 1 passes made" in line for line in said), said
    assert len(session.model.requests) == 4 and tool_results(session.model.requests[3]) == ["Second."]

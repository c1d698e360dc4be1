"""A subagent's run: the model's call of the ``Agent`` tool (chatcli.tools.agents) answered by a conversation apart.

It is chat's graph again, run as a subgraph of the call's step: its system prompt the subagent's, its one question the
call's prompt, its tools those of the session's that the subagent names and does not disallow (never ``Agent``: no
subagent starts another), at most ``maxTurns`` model calls (the last offered no tools, so it answers with what it has),
its model the one it names where chat can reach it (else the thread's, said in the result's first line). Its turns are
kept in the thread under the call's namespace, as a graph's subagents are; its calls are asked, hooked and held within
the spending limits as the thread's own are, and its tokens and cost count in the answer's and (``USAGE``, kept with the
call's result) in the thread's. SubagentStart runs before its first request (chatcli.backends.own.graph), and
SubagentStop once it has answered: its ``block`` has it go on with the hook's reason, as a Stop hook's has the thread.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatcli.backends.own.toolcalls import TOOLBOX, hooks_of, toolbox_of
from chatcli.core.events import Emit, saying
from chatcli.tools import builtin
from chatcli.tools.results import Outcome

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from chatcli.tools.agents import Subagent

USAGE = "chatcli_agent_usage"  # a call's result's metadata: its subagent's tokens (its cost: COST_KEY, model_name)
AGENT = "chatcli_agent"  # a subagent's run's metadata: its name, which its words are shown under


async def delegate(graph: Any, call_id: str, arguments: dict[str, Any], config: RunnableConfig, emit: Emit) -> Outcome:
    """The result of the ``Agent`` call ``call_id`` of ``graph``'s run of ``config`` (``graph``: chat's,
    chatcli.backends.own.graph.ChatGraph): the subagent's final answer."""
    from langchain_core.messages import HumanMessage
    from langgraph.errors import GraphBubbleUp

    from chatcli.backends.own.spending import LimitReached
    from chatcli.tools.hooks import transcript, write_transcript
    from chatcli.tools.kept_files import folder

    started, toolbox = time.monotonic(), toolbox_of(config, graph.toolbox)
    assert toolbox is not None  # (the Agent tool is one of its tools)
    agent = toolbox.host.agents.get(str(arguments.get("subagent_type")))
    if agent is None:
        known = ", ".join(a.name for a in toolbox.host.agents.agents) or "none"
        return Outcome(f"error: no subagent {arguments.get('subagent_type')!r} (subagents: {known})", "error")
    spec, note = _model(graph, config, agent)
    view = toolbox.narrowed(
        lambda e: e.group != builtin.AGENTS and builtin.permits(agent.tools, e) and not builtin.permits(agent.denied, e)
    )
    rounds = graph.tool_rounds if agent.turns is None else min(graph.tool_rounds, agent.turns - 1)
    sub = replace(graph, default_system=agent.body, toolbox=view, standing=None, context_tokens=None)
    sub.agent, sub.tool_rounds = (agent.name, call_id), rounds
    run: Any = {"configurable": {TOOLBOX: view, "model": spec}, "metadata": {AGENT: agent.name}}
    asked = {"messages": [HumanMessage(str(arguments.get("prompt") or ""))]}
    compiled, hooks = sub.compile(None), hooks_of(config)
    thread, say = str((config.get("configurable") or {}).get("thread_id") or ""), saying(emit)
    path = transcript(thread).with_name(f"agent-{folder(call_id).name}.jsonl")
    for passes in range(graph.continuations + 1):
        try:
            state = await compiled.ainvoke(asked, run)
        except (GraphBubbleUp, LimitReached):  # a question for the user (its calls' approval), or a limit: the turn's
            raise
        except Exception as exc:  # noqa: BLE001 - its model failed: a result the model reads, as a tool's failure is
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
            return Outcome(f"error: the subagent {agent.name} failed: {why}", "error", time.monotonic() - started)
        replies = [m for m in state["messages"] if m.type == "ai"]
        answer = replies[-1].text if replies else ""
        if not hooks.matching("SubagentStop", agent.name):
            break
        with suppress(OSError):  # its transcript written for them first (a hook that reads it finds none)
            await asyncio.to_thread(write_transcript, path, state["messages"], thread, hooks.cwd)
        fields: dict[str, Any] = {"agent_id": call_id, "agent_type": agent.name, "agent_transcript_path": str(path)}
        fields |= {"last_assistant_message": answer, "stop_hook_active": passes > 0}
        said = await hooks.fire("SubagentStop", fields, session_id=thread, say=say)
        if said.blocked and passes == graph.continuations:
            say(f"a SubagentStop hook asked for more: {passes} passes made, as max_continuations allows", True)
        if not said.blocked or passes == graph.continuations:
            break
        say(f"a SubagentStop hook asks {agent.name} for another pass: {said.reason}", False)
        asked = {"messages": [*state["messages"], HumanMessage(said.reason)]}  # (the same ids: not kept twice)
    final = note + (answer or "(the subagent gave no answer)")
    return Outcome(final, "ok", time.monotonic() - started, kept=spent(replies))


def _model(graph: Any, config: RunnableConfig, agent: Subagent) -> tuple[str | None, str]:
    """The model ``agent`` asks for, as the run's ``model`` (None: the thread's), and a line saying it could not be
    reached where it cannot (the thread's model answers then)."""
    from langchain_core.language_models import BaseChatModel

    from chatcli.errors import ChatError
    from chatcli.tools.agents import ALIASES

    named = ALIASES.get(agent.model, agent.model) if agent.model not in ("", "inherit") else None
    if named is None or graph.model is None or isinstance(graph.model, BaseChatModel):
        return (config.get("configurable") or {}).get("model"), ""
    try:
        graph.model(named)  # built once, checked usable (its provider's key, its package)
    except ChatError as exc:
        thread = graph.model_name(config)
        why = f"the subagent's model {agent.model} cannot be reached here: {exc}; the thread's model {thread} answered"
        return (config.get("configurable") or {}).get("model"), f"({why})\n"
    return named, ""


def spent(replies: list[Any]) -> dict[str, Any]:
    """What a subagent's ``replies`` used and cost, as its call's result keeps it (chatcli.threads.spending counts it
    as an answer of the subagent's model); nothing when none counted."""
    from chatcli.backends.own.compaction import SUMMARY_USAGE
    from chatcli.backends.own.pricing import COST_KEY
    from chatcli.core.chunks import add_usage

    usage = None
    for reply in replies:
        for each in (reply.usage_metadata, reply.response_metadata.get(SUMMARY_USAGE)):
            usage = add_usage(usage, each)
    costs = [reply.response_metadata.get(COST_KEY) for reply in replies if reply.usage_metadata]
    cost = sum(costs) if costs and all(isinstance(c, (int, float)) for c in costs) else None
    model = next((r.response_metadata.get("model_name") for r in reversed(replies) if r.usage_metadata), None)
    return {USAGE: usage, COST_KEY: cost, "model_name": model} if usage else {}

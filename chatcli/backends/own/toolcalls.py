"""The tool step of the graph: approval (a LangGraph interrupt), the calls, their results; and the call protocol.

An assistant message that asks for tool calls must be followed by one result per call in
every request that carries it (OpenAI refuses it otherwise, and the thread would be broken for
good). Everything here keeps that true: a call that is refused, fails, times out, is stopped
or was cut short by a crash still gets a result, and ``repair`` mends any history before it
is sent.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, cast

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call

from chatcli.backends.own.toolrun import hooked, result_message, settle, shown_call

# The tool calls exactly as the server streamed them (raw argument text, ids as sent), which a
# provider's client may add to a reply; ``settled`` reads them strictly, then drops the key.
from chatcli.providers.base import RAW_CALLS

if TYPE_CHECKING:
    from chatcli.backends.own.sampling import Sampler
    from chatcli.tools.hooks import Hooks
    from chatcli.tools.toolbox import Toolbox

TOOLS_NODE = "tools"
# Results of calls that never finished, recorded before the thread goes on.
INTERRUPTED = "interrupted: chat stopped before this call finished; it may or may not have had effects"
CANCELLED = "cancelled: the user stopped this call"
from chatcli.core.events import Notice
from chatcli.core.interrupts import REFUSED_REST as REFUSED_REST  # the approval loop's, said by the tools step
from chatcli.core.interrupts import decisions_by_call
from chatcli.provider_table import tool_refusals


def unique_ids(ids: list[Any]) -> list[str]:
    """``ids`` with every empty, missing or repeated one replaced by one of its own (the same each time)."""
    taken = {old for old in ids if isinstance(old, str) and old.strip()}
    seen: set[str] = set()
    fresh = []
    for n, old in enumerate(ids):
        if isinstance(old, str) and old.strip() and old not in seen:
            seen.add(old)
            fresh.append(old)
            continue
        new = f"{old.strip() if isinstance(old, str) and old.strip() else 'call'}-{n}"
        while new in taken:
            new += "x"
        taken.add(new)
        fresh.append(new)
    return fresh


def with_unique_ids(message: BaseMessage) -> BaseMessage:
    """``message`` with each tool call under an id of its own: what is stored, answered and sent agrees."""
    if not isinstance(message, AIMessage) or not (message.tool_calls or message.invalid_tool_calls):
        return message
    good, bad = message.tool_calls, message.invalid_tool_calls
    if (ids := unique_ids(old := [c.get("id") for c in [*good, *bad]])) == old:
        return message
    good = [{**c, "id": i} for c, i in zip(good, ids)]
    bad = [{**c, "id": i} for c, i in zip(bad, ids[len(good) :])]
    return message.model_copy(update={"tool_calls": good, "invalid_tool_calls": bad})


def _strict(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments read as one JSON object and nothing else: (arguments, None) or (None, what is wrong)."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None:
        return None, "arguments were not valid JSON: there were none"
    if isinstance(raw, str) and not raw.strip():
        return {}, None  # no arguments (some servers send "" for a tool without parameters): nothing to hide
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        return None, f"arguments were not valid JSON: {exc.msg} at character {exc.pos}"
    if not isinstance(value, dict):
        return None, f"arguments were not valid JSON: {json.dumps(value)[:40]} is not an object"
    return value, None


def settled(reply: BaseMessage) -> BaseMessage:
    """The reply as it is stored: its calls read strictly from what the server sent, each under an id of its own.

    LangChain reads streamed arguments leniently (a cut ``{"command": "ls`` becomes ``{"command":
    "ls"}``): a call runs only with the arguments the model wrote whole, others get an error result.
    """
    if not isinstance(reply, AIMessage):
        return reply
    kwargs = {k: v for k, v in reply.additional_kwargs.items() if k not in (RAW_CALLS, "tool_calls")}
    raw = reply.additional_kwargs.get(RAW_CALLS)
    update: dict[str, Any] = {"additional_kwargs": kwargs}
    if isinstance(raw, list):
        good, bad = [], []
        for call in raw:
            arguments, error = _strict(call.get("args"))
            name, call_id = call.get("name") or "", call.get("id")
            if error is None:
                good.append(tool_call(name=name, args=arguments or {}, id=call_id))
            else:
                bad.append(invalid_tool_call(name=name, args=call.get("args") or "", id=call_id, error=error))
        update.update(tool_calls=good, invalid_tool_calls=bad)
    return with_unique_ids(reply.model_copy(update=update))


def calls_of(message: BaseMessage) -> list[dict[str, Any]]:
    """The tool calls an assistant message asks for (those with unreadable arguments too), each under its own id."""
    if not isinstance(message, AIMessage):
        return []
    calls = [{"id": c.get("id"), "name": c["name"], "args": c.get("args") or {}} for c in message.tool_calls]
    for bad in message.invalid_tool_calls:
        error = bad.get("error") or "arguments were not valid JSON"
        calls.append({"id": bad.get("id"), "name": bad.get("name") or "", "args": None, "error": error})
        calls[-1]["raw"] = bad.get("args")
    for call, call_id in zip(calls, unique_ids([c["id"] for c in calls])):
        call["id"] = call_id
    return calls


OFFERED = "chatcli_offered"  # a reply's metadata: the names of the tools its request offered


def offered_names(messages: list[BaseMessage]) -> set[str] | None:
    """The tools the request of the last reply offered (None: not recorded, a reply stored before it was)."""
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            names = message.response_metadata.get(OFFERED)
            return set(names) if isinstance(names, list) else None
    return None


def open_calls(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """The calls of the last assistant message that have no result yet (a crash or a stop mid-call)."""
    index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].type != "tool"), None)
    if index is None or not isinstance(messages[index], AIMessage):
        return []
    answered = {m.tool_call_id for m in messages[index + 1 :] if isinstance(m, ToolMessage)}
    return [c for c in calls_of(messages[index]) if c["id"] not in answered]


def closing_results(
    calls: list[dict[str, Any]], text: str, outcome: str, done: dict[str, ToolMessage] | None = None
) -> list[ToolMessage]:
    """Results for ``calls``: those already ``done`` as they are, the others closed with ``text``."""
    done = done or {}
    return [done.get(call["id"]) or result_message(call, text, outcome) for call in calls]


def _cut(message: ToolMessage, limit: int) -> ToolMessage:
    text = str(message.content) if isinstance(message.content, str) else str(message.text)
    if not limit or len(text) <= limit:
        return message
    rest = len(text) - limit
    shown = f"{text[:limit]}\n[... {rest:,} more characters cut here; the user has the whole result]"
    return message.model_copy(update={"content": shown})


def repair(history: list[BaseMessage], limit: int) -> list[BaseMessage]:
    """The history as it may be sent: every call answered, no stray result, long results cut to ``limit``."""
    mended: list[BaseMessage] = []
    index = 0
    while index < len(history):
        message = history[index]
        index += 1
        if isinstance(message, ToolMessage):
            continue  # a result whose call is not just before it (trimmed away): never sent alone
        message = with_unique_ids(message)  # a thread stored before ids were made unique
        mended.append(message)
        calls = calls_of(message)
        if not calls:
            continue
        results: dict[str, ToolMessage] = {}
        while index < len(history) and isinstance(answer := history[index], ToolMessage):
            results.setdefault(answer.tool_call_id, answer)
            index += 1
        for call in calls:
            found = results.get(call["id"])
            mended.append(_cut(found, limit) if found is not None else result_message(call, INTERRUPTED, "interrupted"))
    return mended


# The run's config keys for the tools of a session that has its own (an editor's: Toolbox.for_session; a run
# without it uses the graph's) and for the session's hooks (chatcli.tools.hooks: a run without them fires none).
# (Objects: LangGraph keeps only plain values of the config with a checkpoint.)
TOOLBOX, HOOKS = "toolbox", "hooks"


def toolbox_of(config: Any, default: "Toolbox | None") -> "Toolbox | None":
    """The tools of the run of ``config``: its session's own, else the graph's ``default``."""
    found = ((config or {}).get("configurable") or {}).get(TOOLBOX)
    return cast("Toolbox", found) if found is not None else default


def hooks_of(config: Any) -> Hooks:
    """The hooks of the run of ``config``: its session's (chatcli.service.chat.Chat loads them), else none."""
    from chatcli.tools.hooks import NO_HOOKS

    return cast("Hooks", ((config or {}).get("configurable") or {}).get(HOOKS) or NO_HOOKS)


def emitter() -> Callable[[Any], None]:
    """Where the running step emits its events (chatcli.core.events): the turn's custom stream, or nowhere."""
    from langgraph.config import get_stream_writer

    try:
        return get_stream_writer()
    except Exception:  # noqa: BLE001 - not streaming (ainvoke): nobody to tell
        return lambda _event: None


async def hooks_decided(
    toolbox: Toolbox, hooks: Hooks, calls: list[dict[str, Any]], thread: str, entries: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the session's hooks decide of ``calls`` before they run: PreToolUse's, then PermissionRequest's for a
    call that would be asked. The calls they refuse ("refused", by id: each one's decision says why), those left to
    the approval ("asking": each call's id, its input as the hooks left it, and the reason a hook gave to have the
    user asked, approved in advance or not), and the decisions of those refused or whose input they rewrote.
    ``entries``: each call's tool, by call id (by default the model's tool of its name)."""
    emit, asking, refused, decisions = emitter(), [], [], {}
    entries = entries or {call["id"]: toolbox.find(call["name"], call["id"]) for call in calls}
    calls = [call for call in calls if entries[call["id"]] is not None and call["args"] is not None]
    fire = hooked(toolbox, hooks, thread, emit)
    for call, verdict in zip(calls, await asyncio.gather(*(fire("PreToolUse", entries[c["id"]], c) for c in calls))):
        entry, args, word = entries[call["id"]], call["args"], verdict.decision
        if verdict.updated_input is not None:
            args = dict(verdict.updated_input)
            decisions[call["id"]] = {"action": "yes", "args": args, "edited": "a hook"}
        if word == "ask" or word is None and not toolbox.preapproved(entry, args):
            asked = await fire("PermissionRequest", entry, {**call, "args": args})
            if asked.decision in ("allow", "deny"):
                verdict, word = asked, asked.decision
        if word == "deny":
            refused.append(call["id"])
            by = f"not run: a {verdict.event} hook refused it: {verdict.reason}"
            decisions[call["id"]] = {"action": "no", "by": by}
        elif word != "allow":
            reason = verdict.reason or "a hook asks" if word == "ask" else None
            if reason is not None:
                emit(Notice(f"{entry.label}: {reason}", warn=True))
            asking.append({"id": call["id"], "args": args, "hook": reason})
    return {"asking": asking, "refused": refused, "decisions": decisions}


def make_tools_node(default: "Toolbox", sampler: "Sampler") -> Any:
    """The graph node that runs the calls of the last reply, after asking for those that need it; ``sampler``
    answers a server's request to use the model (chatcli.backends.own.sampling) once the user allows it.

    The calls run with the run's toolbox (``toolbox_of``: a session's own, else ``default``). The approval
    question is one ``interrupt()`` for all the calls that need it, asked before
    any call runs; it is persisted with the thread, so it survives a crash and is asked again.
    It is a request in LangChain's human-in-the-loop shape, answered with its decisions (or in
    chat's older shape, for a thread stored waiting on it): chatcli.core.interrupts. The approval
    and each call are LangGraph tasks (chatcli.backends.own.toolrun.settle settles a call): a question a
    call's server asks the user mid-call is an ``interrupt()`` of that call's task, and when the
    node runs again with the answer, the decisions and the calls settled before it keep their
    results (nothing is asked or run again).
    """
    from langgraph.config import get_config
    from langgraph.func import task

    from chatcli.backends.own.sampling import Model
    from chatcli.core.interrupts import approval_request  # (looked up when the step runs: a test gives an older shape)

    async def ready(calls: list[dict[str, Any]]) -> Toolbox:
        """The run's toolbox, once the servers of ``calls`` have had their chance to start."""
        toolbox = cast("Toolbox", toolbox_of(get_config(), default))
        if any(toolbox.find(call["name"], call["id"]) is None for call in calls):
            await toolbox.settle()  # a server with nothing cached may be starting still (a resumed turn)
        return toolbox

    async def hooks_run(calls: list[dict[str, Any]]) -> dict[str, Any]:
        """The hooks' word on ``calls`` (``hooks_decided``): a task, so that they run once, before the question."""
        toolbox = await ready(calls)
        thread = str((get_config().get("configurable") or {}).get("thread_id") or "")
        return await hooks_decided(toolbox, hooks_of(get_config()), calls, thread)

    async def decided(calls: list[dict[str, Any]], hooked: dict[str, Any]) -> dict[str, Any]:
        """The approval of ``calls``: asked (an interrupt) for those that need it, as the hooks left them
        (``hooked``); a task, so that a run that goes on from a tool's question keeps the decisions taken when the
        calls began (``--yes`` then)."""
        from langgraph.types import interrupt

        toolbox = await ready(calls)
        by_id = {call["id"]: (call, toolbox.find(call["name"], call["id"])) for call in calls}
        asking = [a for a in hooked["asking"] if a["hook"] or not toolbox.preapproved(by_id[a["id"]][1], a["args"])]
        shown = [replace(shown_call(*by_id[a["id"]]), arguments=a["args"]) for a in asking]
        answer = interrupt(approval_request(shown, {a["id"]: a["hook"] for a in asking})) if shown else {}
        decisions = {**hooked["decisions"], **(decisions_by_call(answer, shown) if shown else {})}
        for a in asking:  # as a hook rewrote it: its input is shown and runs, unless the user edited it
            decision = decisions.get(a["id"], {})
            if a["args"] != by_id[a["id"]][0]["args"] and "args" not in decision:
                decisions[a["id"]] = {**decision, "args": a["args"], "edited": "a hook"}
        return {"decisions": decisions, "asked": [*hooked["refused"], *(call.id for call in shown)]}

    async def settled(call: dict[str, Any], decision: dict[str, Any], asked: bool) -> ToolMessage:
        config = get_config()
        toolbox, model = cast("Toolbox", toolbox_of(config, default)), Model.of(sampler, config)
        thread = str((config.get("configurable") or {}).get("thread_id") or "")
        return await settle(toolbox, hooks_of(config), call, decision, asked, emitter(), thread, model)

    approval: Any = task(name="approval")(cast(Any, decided))  # (its types do not follow a closure's)
    hooks: Any = task(name="hooks")(cast(Any, hooks_run))
    tool_call: Any = task(name="tool_call")(cast(Any, settled))

    async def run_tools(state: dict[str, Any]) -> dict[str, Any]:
        return await calls_run(state)  # (a small node: LangGraph reads its code for subgraphs at each compile)

    async def calls_run(state: dict[str, Any]) -> dict[str, Any]:
        every = open_calls(state["messages"])
        # A call of a tool its request did not offer (the remember tool on a turn that asked nothing of the kind) is
        # not run, whatever told the model to make it: its result says so.
        named = offered_names(state["messages"])
        toolbox = cast("Toolbox", toolbox_of(get_config(), default))
        # (a name no tool has is answered so by the call's own task)
        calls = [c for c in every if named is None or c["name"] in named or toolbox.find(c["name"], c["id"]) is None]
        session = hooks_of(get_config())
        plain = not session.hooks  # no hook to run: no task of theirs to keep
        if not plain and calls:  # the session's transcript as the hooks read it, these calls in it
            await session.record(str(get_config()["configurable"].get("thread_id") or ""), state["messages"])
        hooked = await (hooks_run(calls) if plain else hooks(calls)) if calls else {}
        decided = await approval(calls, hooked) if calls else {"decisions": {}, "asked": []}
        decisions, asked = decided["decisions"], set(decided["asked"])
        results: list[ToolMessage] = []
        for call in every:  # one at a time, in order: a question of one call stops the rest until it is answered
            if call not in calls:
                text = f"error: {call['name']!r} was not offered for this request: the call was not run"
                said = f"the model called {call['name']!r}, which was not offered for this request: not run"
                emitter()(Notice(said, warn=True))
                results.append(result_message(call, text, "error"))
                continue
            results.append(await tool_call(call, decisions.get(call["id"]) or {}, call["id"] in asked))
        return {"messages": results}

    return run_tools


def tools_refused(exc: BaseException) -> bool:
    """True if the server refused the request for its ``tools`` (a model without tool support)."""
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None) or getattr(exc.__cause__, "code", None)
    text = str(exc).lower()
    if status not in (400, 404, 422, 500, 501) or ("tool" not in text and "function calling" not in text):
        return False
    return any(word in text for word in tool_refusals())  # each provider's wording (Ollama's "does not support tools")

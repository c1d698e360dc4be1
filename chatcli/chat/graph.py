"""The LangGraph app: a thread's state, its prompt (system message + variables), memory (trim or summary), the model node."""

from __future__ import annotations

import re
from typing import Annotated, Any, Awaitable, Callable, Mapping

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import NotRequired, TypedDict

from chatcli.chat.history import (  # noqa: F401  (SUMMARY_PREFIX, select_history: part of this module's interface)
    SUMMARY_PREFIX,
    _add_usage,
    _folded_count,
    now_iso,
    select_history,
    summary_message,
    transcript,
    turns_left_out,
    without_tools,
)
from chatcli.chat.toolcalls import TOOLS_NODE, calls_of, make_tools_node, repair, settled, tools_refused

# How history beyond the context budget is handled: left out ("trim"), or folded into a
# running summary that is sent in its place ("summary").
from chatcli.config import MEMORY_MODES

# LangGraph's add_messages, at O(new messages) for the appends of a turn.
from chatcli.store.messages.reducer import add_messages

# How long a model step waits for MCP servers still starting (each also has its own limit).
SERVER_WAIT = 30.0

MODEL_NODE = "model"
# Tag of the summariser's model calls: LangGraph does not stream calls tagged "nostream",
# and turns.py skips any chunk carrying SUMMARY_TAG, so a summary never shows as the reply.
SUMMARY_TAG = "chatcli:summary"
# The estimated size (tokens) of what was sent to the model: in the stream metadata of the
# reply's chunks and in the stored reply's response_metadata.
PROMPT_ESTIMATE = "chatcli_prompt_tokens_est"
# Questions of the thread (with their answers) not sent with this request: the budget left them out.
TURNS_LEFT_OUT = "chatcli_turns_left_out"
# Usage of the summariser calls made before a reply, kept in that reply's response_metadata.
SUMMARY_USAGE = "chatcli_summary_usage"
_SUMMARISER = (
    "You keep a running summary of a conversation between a user and an assistant. "
    "Fold the new part of the conversation into the current summary. Keep every fact, name, "
    "number, decision, preference and open question the user may refer back to; drop "
    "pleasantries. Write terse plain text, at most {words} words. Reply with the updated "
    "summary only."
)
# Summariser calls per turn at most (a summary that grows can push more turns out of the budget).
_MAX_FOLDS = 2


class ChatState(TypedDict):
    """What a thread keeps: its messages and the settings that belong to it."""

    messages: Annotated[list[AnyMessage], add_messages]
    system: NotRequired[str | None]
    vars: NotRequired[dict[str, str]]
    # Memory "summary": the running summary of the messages up to and including the one
    # with id ``summary_through``; the messages after it are sent as they are.
    summary: NotRequired[str | None]
    summary_through: NotRequired[str | None]
    # The role the thread was set up with (chatcli.chat.roles), by name, and its model and
    # temperature (None: the settings'), which the thread keeps as it keeps its system prompt.
    role: NotRequired[str | None]
    model: NotRequired[str | None]
    temperature: NotRequired[float | None]


_VARIABLE = re.compile(r"\{(\w+)\}")


def render_system(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from the thread's variables; other braces stay as written."""
    return _VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


class _Budget:
    """The history budget of one graph (estimated tokens): it shrinks when a server's window says so."""

    def __init__(self, tokens: int):
        self.tokens = tokens


def _with_estimate(config: RunnableConfig, estimate: int, left_out: int = 0) -> RunnableConfig:
    """The call's config with the estimate of what is sent, and the turns left out, in its metadata (the streamed chunks carry them)."""
    return {**config, "metadata": {**(config.get("metadata") or {}), PROMPT_ESTIMATE: estimate, TURNS_LEFT_OUT: left_out}}


def build_graph(
    model: BaseChatModel | Callable[[str | None], BaseChatModel] | None,
    checkpointer: BaseCheckpointSaver | None,
    *,
    default_system: str,
    context_tokens: int,
    memory: str = "trim",
    before_model: Callable[[], Awaitable[None]] | None = None,
    fit_window: Any = None,
    toolbox: Any = None,
    tool_rounds: int = 10,
    tool_result_chars: int = 20_000,
) -> Any:
    """Compile the chat graph: START -> model (-> tools -> model ...) -> END, persisted by the checkpointer.

    ``model`` is a chat model, or a function from a model name to one: the name comes
    from ``config["configurable"]["model"]`` on each run, so a thread can switch models.
    ``memory`` is "trim" (history beyond ``context_tokens`` is left out of the request) or
    "summary" (it is folded into a running summary kept in the thread, sent in its place).
    ``before_model`` runs at the start of each model step, after the question is checkpointed
    (chat --local starts its server again there if it stopped). ``fit_window`` (a
    chatcli.chat.windows.WindowFitter), when a request is refused for its size, proposes a
    smaller history budget: if that makes the history shorter, the model is asked again, once.

    ``toolbox`` (a chatcli.tools.toolbox.Toolbox) offers the model its tools: a reply that
    calls them goes to the tools node (chatcli.chat.toolcalls), which asks for approval and
    runs them, then back to the model, at most ``tool_rounds`` times per question; a result
    longer than ``tool_result_chars`` is cut in what the model is sent (kept whole).
    """
    budget = _Budget(context_tokens)
    no_tools: set[str] = set()  # models whose server refused the tools parameter
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")

    def model_for(config: RunnableConfig) -> BaseChatModel:
        configurable = config.get("configurable") or {}
        if isinstance(model, BaseChatModel):
            chosen = model
        elif model is None:
            raise RuntimeError("this graph was built without a model")
        else:
            chosen = model(configurable.get("model"))
        temperature = configurable.get("temperature")  # a role's, switched to at the prompt
        return chosen.model_copy(update={"temperature": temperature}) if temperature is not None else chosen

    async def summarise(chat_model: BaseChatModel, summary: str, new: list[BaseMessage], config: RunnableConfig) -> tuple[str, Any]:
        """Fold ``new`` messages into ``summary`` with one non-streamed call; the summary and its usage."""
        prompt = [
            SystemMessage(_SUMMARISER.format(words=max(30, budget.tokens // 5))),
            HumanMessage(
                f"Current summary:\n{summary or '(none yet)'}\n\n"
                f"New part of the conversation:\n{transcript(new, 3 * budget.tokens)}"
            ),
        ]
        tags = [*(config.get("tags") or []), "nostream", SUMMARY_TAG]
        result = await chat_model.ainvoke(prompt, {**config, "tags": tags})
        text = str(result.text).strip() or summary
        # A summary that ignores its word limit must not crowd out the conversation: keep
        # at most about half the budget (approximate counter: 4 characters a token).
        limit = 2 * budget.tokens
        if len(text) > limit:
            text = "[...]" + text[len(text) - limit :]
        return text, getattr(result, "usage_metadata", None)

    async def summarised_history(
        chat_model: BaseChatModel, system: SystemMessage, state: ChatState, config: RunnableConfig
    ) -> tuple[list[BaseMessage], dict[str, Any], dict[str, int] | None]:
        """What to send in summary mode, the state update for the summary, and the summariser's usage.

        The messages that trimming would leave out and that the summary does not cover yet
        are folded into it (incrementally: each message is summarised once).
        """
        messages = state["messages"]
        summary = state.get("summary") or ""
        start = _folded_count(messages, state.get("summary_through")) if summary else 0
        if start is None:  # the history was rewritten before the summarised point: start over
            summary, start = "", 0
        update: dict[str, Any] = {}
        usage: dict[str, int] | None = None
        folds = 0
        while True:
            head = [summary_message(summary)] if summary else []
            room = max(1, budget.tokens - (count_tokens_approximately(head) if head else 0))
            kept = select_history(system, messages[start:], room)[1:]
            first = len(messages) - len(kept)  # index of the first message sent as it is
            if first <= start or folds == _MAX_FOLDS:
                break
            summary, used = await summarise(chat_model, summary, messages[start:first], config)
            usage = _add_usage(usage, used)
            start = first
            folds += 1
            update = {"summary": summary, "summary_through": messages[first - 1].id}
        return [system, *head, *kept], update, usage

    def offered(state: ChatState, name: str) -> list[dict[str, Any]]:
        """The tools to offer for this step: none past the round limit or for a model that refused them."""
        if toolbox is None or not toolbox.configured or name in no_tools:
            return []
        messages = state["messages"]
        asked = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].type == "human"), 0)
        rounds = sum(1 for m in messages[asked:] if calls_of(m))
        return toolbox.schemas() if rounds < tool_rounds else []

    async def call_model(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
        if before_model is not None:
            await before_model()
        if toolbox is not None and toolbox.configured:
            await toolbox.settle(SERVER_WAIT)  # MCP servers started with the session: their tools are wanted now
        template = state.get("system") or default_system
        system = SystemMessage(render_system(template, state.get("vars") or {}))
        chat_model = model_for(config)
        name = (config.get("configurable") or {}).get("model") or ""
        tools = offered(state, name)
        left_out = [0]  # questions the budget leaves out of this request (trim memory)

        async def prepare() -> tuple[list[BaseMessage], dict[str, Any], Any, int]:
            usage = None
            if memory == "summary":
                history, update, usage = await summarised_history(chat_model, system, state, config)
            else:
                history, update = select_history(system, state["messages"], budget.tokens), {}
                left_out[0] = turns_left_out(state["messages"], history)
                if fit_window is not None:
                    fit_window.left_out(left_out[0])
            history = repair(history, tool_result_chars)
            return history, update, usage, count_tokens_approximately(history)

        async def ask(history: list[BaseMessage], estimate: int) -> BaseMessage:
            nonlocal tools
            bound = chat_model.bind_tools(tools) if tools else chat_model
            try:
                return await bound.ainvoke(history, _with_estimate(config, estimate, left_out[0]))
            except Exception as exc:
                if not tools or not tools_refused(exc):
                    raise
                no_tools.add(name)
                if toolbox.note is not None:
                    toolbox.note(f"the model {name or ''} does not take tools here: asking without them".replace("  ", " "))
                tools = []
                return await chat_model.ainvoke(history, _with_estimate(config, estimate, left_out[0]))

        history, update, summary_usage, estimate = await prepare()
        try:
            reply = await ask(history, estimate)
        except Exception as exc:
            smaller = fit_window.propose(exc, budget.tokens, estimate) if fit_window is not None else None
            if smaller is None:
                raise
            first, budget.tokens = budget.tokens, smaller
            sent = len(history)
            history, update, summary_usage, estimate = await prepare()
            if len(history) >= sent:  # nothing left to cut: the message alone is too long
                budget.tokens = first
                raise
            fit_window.adopt(smaller)  # this process keeps it too, and later ones read it
            reply = await ask(history, estimate)
        reply = settled(reply)  # calls read strictly, each under an id of its own, before anything runs or is stored
        if not tools:
            reply = without_tools(reply)  # calls of tools never offered could never be answered
        reply.response_metadata.setdefault("created_at", now_iso())
        reply.response_metadata[PROMPT_ESTIMATE] = estimate
        if summary_usage:
            reply.response_metadata[SUMMARY_USAGE] = summary_usage
        return {"messages": [reply], **update}

    def after_model(state: ChatState) -> str:
        messages = state["messages"]
        return TOOLS_NODE if toolbox is not None and messages and calls_of(messages[-1]) else END

    builder = StateGraph(ChatState)
    builder.add_node(MODEL_NODE, call_model)
    builder.add_edge(START, MODEL_NODE)
    if toolbox is None:
        builder.add_edge(MODEL_NODE, END)
    else:
        builder.add_node(TOOLS_NODE, make_tools_node(toolbox))
        builder.add_conditional_edges(MODEL_NODE, after_model, [TOOLS_NODE, END])
        builder.add_edge(TOOLS_NODE, MODEL_NODE)
    return builder.compile(checkpointer=checkpointer)

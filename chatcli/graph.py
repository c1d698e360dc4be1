"""The LangGraph app: a thread's state, its prompt (system message + variables), trimming, the model node."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Mapping

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, BaseMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import NotRequired, TypedDict

MODEL_NODE = "model"


def now_iso() -> str:
    """The current time as an ISO 8601 UTC timestamp, as stored on messages."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
# The approximate counter charges every message at least this many tokens.
_MIN_TOKENS_PER_MESSAGE = 3


class ChatState(TypedDict):
    """What a thread keeps: its messages and the settings that belong to it."""

    messages: Annotated[list[AnyMessage], add_messages]
    system: NotRequired[str | None]
    vars: NotRequired[dict[str, str]]


_VARIABLE = re.compile(r"\{(\w+)\}")


def render_system(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from the thread's variables; other braces stay as written."""
    return _VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def select_history(
    system: SystemMessage, messages: list[BaseMessage], max_tokens: int
) -> list[BaseMessage]:
    """The system message plus the most recent whole messages that fit the token budget.

    The history starts on a human message; the latest message is always sent, even alone
    over the budget, so the model (not us) says when a single question is too long.
    """
    # Only the tail can fit, so trimming costs O(budget), not O(thread length).
    window = messages[-(max_tokens // _MIN_TOKENS_PER_MESSAGE + 2) :]
    kept = trim_messages(
        [system, *window],
        max_tokens=max_tokens,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        include_system=True,
        allow_partial=False,
    )
    if len(kept) <= 1 and messages:
        return [system, messages[-1]]
    return kept


def build_graph(
    model: BaseChatModel | Callable[[str | None], BaseChatModel] | None,
    checkpointer: BaseCheckpointSaver | None,
    *,
    default_system: str,
    context_tokens: int,
) -> Any:
    """Compile the chat graph: START -> model -> END, persisted by the checkpointer.

    ``model`` is a chat model, or a function from a model name to one: the name comes
    from ``config["configurable"]["model"]`` on each run, so a thread can switch models.
    """

    def model_for(config: RunnableConfig) -> BaseChatModel:
        if isinstance(model, BaseChatModel):
            return model
        if model is None:
            raise RuntimeError("this graph was built without a model")
        return model((config.get("configurable") or {}).get("model"))

    async def call_model(state: ChatState, config: RunnableConfig) -> dict[str, list[BaseMessage]]:
        template = state.get("system") or default_system
        system = SystemMessage(render_system(template, state.get("vars") or {}))
        history = select_history(system, state["messages"], context_tokens)
        reply = await model_for(config).ainvoke(history, config)
        reply.response_metadata.setdefault("created_at", now_iso())
        return {"messages": [reply]}

    builder = StateGraph(ChatState)
    builder.add_node(MODEL_NODE, call_model)
    builder.add_edge(START, MODEL_NODE)
    builder.add_edge(MODEL_NODE, END)
    return builder.compile(checkpointer=checkpointer)

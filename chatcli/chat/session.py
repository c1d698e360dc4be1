"""Wiring: open the store, build the model and the graph, and hand back a conversation or the thread manager."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Callable

from chatcli.chat.conversation import Conversation
from chatcli.chat.inputs import check_thread_id
from chatcli.chat.threads import Threads
from chatcli.config import Settings


# open_conversation's ``toolbox`` when the caller gives none: it opens its own.
OWN = object()


def load_engine() -> None:
    """Import the heavy modules of a turn (LangGraph, the OpenAI client, the SQLite checkpointer)."""
    import chatcli.chat.graph  # noqa: F401
    import chatcli.chat.model  # noqa: F401
    import langchain_openai.chat_models.base  # noqa: F401  (ChatOpenAI only: the package loads Azure too)
    import chatcli.store.messages  # noqa: F401  (the SQLite checkpointer)


@asynccontextmanager
async def open_conversation(
    settings: Settings, thread_id: str, note: Callable[[str], None] | None = None, toolbox: Any = OWN
) -> AsyncIterator[Conversation]:
    """Open the store, build the model and the graph, and hand back the thread's conversation.

    ``note`` shows a line to the user while a turn runs (the local server being started again).
    ``toolbox`` is the session's tools (chatcli.tools.toolbox.Toolbox, or None for none); by
    default the conversation opens its own: MCP servers start first, and the engine loads in a
    thread meanwhile, so their start-up overlaps.
    """
    check_thread_id(thread_id)
    async with AsyncExitStack() as stack:
        if toolbox is OWN:
            toolbox = await stack.enter_async_context(open_toolbox(settings, note))
            if toolbox is not None and toolbox.servers:
                await toolbox.warm()
                await asyncio.to_thread(load_engine)
        conversation = await stack.enter_async_context(_open_conversation(settings, thread_id, note, toolbox))
        yield conversation


@asynccontextmanager
async def _open_conversation(settings: Settings, thread_id: str, note: Callable[[str], None] | None, toolbox: Any) -> AsyncIterator[Conversation]:
    from chatcli.chat.graph import build_graph
    from chatcli.chat.model import OPENAI_URL, ModelPool
    from chatcli.chat.windows import WindowFitter, starting_budget
    from chatcli.local.policy import keeper
    from chatcli.store import open_store

    models = ModelPool(settings)
    models()  # build the default model now: a bad setting fails before the first question
    endpoint = settings.base_url or OPENAI_URL
    # A window learned earlier, or told by the server (llama.cpp, vLLM, LM Studio, Ollama):
    # the local model's own server is sized by chat already.
    budget, limit = settings.context_tokens, None
    if not settings.local:
        budget, limit = await starting_budget(endpoint, settings.base_url, settings.model, budget, settings.max_tokens, settings.api_key)
    async with open_store(settings.db or "") as store:
        if note is not None:
            store.tell_waits(note)  # a database another program holds: say that chat waits for it
        # A local model server started by `chat --local` is waited for (and started again if it
        # stopped) at each model call, after the question is stored: see local.keeper.
        app = build_graph(
            models,
            store.saver,
            default_system=settings.system,
            context_tokens=budget,
            memory=settings.memory,
            before_model=keeper(settings, note),
            fit_window=WindowFitter(endpoint, settings.model, settings.max_tokens, note, asked_for=settings.context_tokens, limit=limit),
            toolbox=toolbox,
            tool_rounds=settings.tool_rounds,
            tool_result_chars=settings.tool_result_chars,
        )
        yield Conversation(
            app=app,
            thread_id=thread_id,
            context_tokens=budget,
            store=store,
            model_name=settings.model,
            stall_timeout=settings.timeout or None,
            toolbox=toolbox,
        )


@asynccontextmanager
async def open_toolbox(settings: Settings, note: Callable[[str], None] | None = None) -> AsyncIterator[Any]:
    """The session's tools, MCP servers starting in the background; None when no tool is set up or --no-tools.

    The servers stop when the block ends.
    """
    from pathlib import Path

    from chatcli.paths import data_dir
    from chatcli.tools.servers import read_servers

    servers = read_servers(Path(settings.mcp_config)) if settings.use_tools and settings.mcp_config else []
    if not settings.use_tools or not (servers or settings.tools):
        yield None
        return
    from chatcli.tools import sandbox
    from chatcli.tools.toolbox import Toolbox

    sandbox.use(sandbox.policy_for(settings))  # what the shell tool runs in, and the approval block says
    toolbox = Toolbox(
        builtin_groups=settings.tools,
        servers=servers,
        approve=settings.approve,
        approve_all=settings.approve_all,
        timeout=settings.tool_timeout,
        log_dir=data_dir() / "mcp",
        note=note,
    )
    toolbox.start()
    try:
        yield toolbox
    finally:
        await toolbox.aclose()


@asynccontextmanager
async def open_threads(settings: Settings, read_only: bool = False) -> AsyncIterator[Threads]:
    """Open the database for thread management; no model or key is needed.

    ``read_only``: only reading follows (list, show, export, search): a database chat may not
    write is opened for reading.
    """
    from chatcli.chat.graph import build_graph
    from chatcli.store import open_store

    async with open_store(settings.db or "", read_only) as store:
        app = build_graph(None, store.saver, default_system=settings.system, context_tokens=settings.context_tokens)
        yield Threads(app, store)

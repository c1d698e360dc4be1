"""Wiring: open the store, build the model and the graph, and hand back a conversation or the thread manager."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

from chatcli.chat.conversation import Conversation
from chatcli.chat.inputs import check_thread_id
from chatcli.chat.threads import Threads
from chatcli.config import Settings


@asynccontextmanager
async def open_conversation(
    settings: Settings, thread_id: str, note: Callable[[str], None] | None = None
) -> AsyncIterator[Conversation]:
    """Open the store, build the model and the graph, and hand back the thread's conversation.

    ``note`` shows a line to the user while a turn runs (the local server being started again).
    """
    from chatcli.chat.graph import build_graph
    from chatcli.chat.model import OPENAI_URL, ModelPool
    from chatcli.chat.windows import WindowFitter, starting_budget
    from chatcli.local.policy import keeper
    from chatcli.store import open_store

    check_thread_id(thread_id)
    models = ModelPool(settings)
    models()  # build the default model now: a bad setting fails before the first question
    endpoint = settings.base_url or OPENAI_URL
    # A window learned earlier, or told by the server (llama.cpp, vLLM, LM Studio, Ollama):
    # the local model's own server is sized by chat already.
    budget = settings.context_tokens
    if not settings.local:
        budget = await starting_budget(endpoint, settings.base_url, settings.model, budget, settings.max_tokens, settings.api_key)
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
            fit_window=WindowFitter(endpoint, settings.model, settings.max_tokens, note),
        )
        yield Conversation(
            app=app,
            thread_id=thread_id,
            context_tokens=budget,
            store=store,
            model_name=settings.model,
            stall_timeout=settings.timeout or None,
        )


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

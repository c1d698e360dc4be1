"""chat's own graph for a LangGraph Agent Server: ``langgraph.json`` at the project's root names ``graph``.

``langgraph dev`` (or any deployment of the project) calls ``graph`` for each run and each read of a
thread's state: it builds chat's graph from the settings of the server's environment (config.toml,
the CHATCLI_* and OPENAI_* variables; the working directory's .env as chat reads it) with the model
on the OpenAI-compatible endpoint they name, and the tools they turn on. It attaches no checkpointer:
the server keeps the threads. ``chat --remote URL`` talks to it as to any other graph.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from chatcli.config import Settings, configure


def server_settings(environ: Any = None, cwd: Path | None = None) -> Settings:
    """The settings chat would use in the server's environment."""
    settings, _notes = configure({}, environ=os.environ if environ is None else environ, cwd=cwd or Path.cwd())
    return settings


def build(settings: Settings, toolbox: Any = None) -> Any:
    """chat's graph on ``settings``, compiled without a checkpointer (the server brings its own)."""
    from chatcli.chat.graph import build_graph
    from chatcli.chat.model import OPENAI_URL, ModelPool
    from chatcli.chat.pricing import Pricer

    endpoint = settings.base_url or OPENAI_URL
    return build_graph(
        ModelPool(settings),
        None,
        default_system=settings.system,
        context_tokens=settings.context_tokens,
        memory=settings.memory,
        toolbox=toolbox,
        tool_rounds=settings.tool_rounds,
        tool_result_chars=settings.tool_result_chars,
        pricer=Pricer(settings.prices, endpoint=endpoint, local=bool(settings.local)),
    )


@asynccontextmanager
async def graph() -> AsyncIterator[Any]:
    """The graph factory ``langgraph.json`` names: chat's graph with the tools the settings turn on,
    open for the length of one run (MCP servers stop when it ends)."""
    import asyncio

    from chatcli.chat.session import open_toolbox

    # Files are read off the server's event loop, which refuses blocking calls (langgraph dev checks).
    settings = await asyncio.to_thread(server_settings)
    async with open_toolbox(settings) as toolbox:
        yield await asyncio.to_thread(build, settings, toolbox)

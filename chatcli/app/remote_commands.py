"""``chat threads --remote URL``: a LangGraph Agent Server's threads, listed as ``chat threads`` lists chat's;
``chat tree ID --remote URL``: one's tree, read from its checkpoint history.

(One answer and the prompt on a server's threads run as every other: chatcli.app.run, with the server's
assistant as what answers.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from chatcli.app.environment import Environment


def list_threads(spec: Any, limit: int | None, as_json: bool, env: Environment) -> None:
    """``chat threads --remote URL``: the server's threads of the assistant's graph, as ``chat threads`` lists
    chat's."""
    from chatcli.text import json_text, say
    from chatcli.ui.listing import print_threads

    async def read() -> list[Any]:
        from chatcli.backends.remote.client import Remote

        remote = await Remote.open(spec, find=False)  # without --assistant: the threads of all its graphs
        try:
            return await remote.threads(limit)
        finally:
            await remote.aclose()

    rows = asyncio.run(read())
    if as_json:
        say(env.stdout, json_text([r.as_dict() for r in rows], ensure_ascii=False, indent=1) + "\n", data=True)
    elif not rows:
        say(env.stdout if env.stdout.isatty() else env.stderr, f"no threads on {spec.url} yet\n")
    else:
        print_threads(rows, env.stdout)


async def remote_tree(spec: Any, thread_id: str, labels: dict[int, list[str]]) -> Any:
    """``chat tree ID --remote URL``: the tree of the server's thread (chatcli.threads.tree), from its checkpoint
    history, with the ``labels`` chat keeps for it."""
    from chatcli.backends.remote.client import Remote
    from chatcli.backends.remote.state import ServerApp
    from chatcli.threads.tree import build, from_history

    remote = await Remote.open(spec, find=False)
    try:
        app = ServerApp(remote)
        said, points = await from_history(app.aget_state_history({"configurable": {"thread_id": thread_id}}))
    finally:
        await remote.aclose()
    return build(thread_id, said, points, labels)

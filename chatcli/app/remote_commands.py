"""``chat threads --remote URL``: a LangGraph Agent Server's threads, listed as ``chat threads`` lists chat's.

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

"""A background reply on an Agent Server (``chat --bg --remote URL``): its run is the server's own.

The job's one-shot creates the run on the server to go on when its connection drops (chatcli.backends.remote.run),
so the run outlives the job's process: a process killed, a machine restarted, the run goes on and ends on the
server. ``chat attach`` then joins it there (``answer``): the run's stream from its start while it runs (the
server keeps what a resumable run sent), else the answer the thread ends with; ``chat stop`` cancels it there
(``cancel``). The server is the job's URL and assistant; its key is read from the environment as ``--remote``
reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

if TYPE_CHECKING:
    from chatcli.backends.remote.client import Remote
    from chatcli.service.jobs import Job

# The stream's first event: a resumable run's events are kept on the server, and those after this id are sent again.
FROM_THE_START = "0"


async def answer(job: Job, environ: Mapping[str, str]) -> AsyncIterator[str]:
    """The text of ``job``'s answer as the server has it: its run's stream joined from the start while it runs,
    else the thread's last answer; nothing when the server has neither."""
    from chatcli.backends.remote.client import message_text, translated

    remote = await _open(job, environ)
    try:
        with translated(remote.spec):
            running = await remote.client.runs.list(job.thread, status="running", limit=1)
            if running:
                stream = remote.client.runs.join_stream(
                    job.thread, running[0]["run_id"], stream_mode=["messages-tuple"], last_event_id=FROM_THE_START
                )
                async for part in stream:
                    data = part.data
                    if part.event.startswith("messages") and isinstance(data, list) and data:
                        chunk = data[0] if isinstance(data[0], dict) else {}
                        if chunk.get("type") in ("AIMessageChunk", "ai"):
                            yield message_text(chunk)
                return
            state = await remote.client.threads.get_state(job.thread)
            said = [m for m in (state.get("values") or {}).get("messages") or () if isinstance(m, dict)]
            if said and said[-1].get("type") == "ai":
                yield message_text(said[-1])
    finally:
        await remote.aclose()


async def cancel(job: Job, environ: Mapping[str, str]) -> bool:
    """Cancel ``job``'s run on the server (what it said so far stays in the thread); False when none runs."""
    from chatcli.backends.remote.client import translated

    remote = await _open(job, environ)
    try:
        with translated(remote.spec):
            running = await remote.client.runs.list(job.thread, status="running", limit=1)
            for run in running:
                await remote.client.runs.cancel(job.thread, run["run_id"], wait=True, action="interrupt")
            return bool(running)
    finally:
        await remote.aclose()


async def _open(job: Job, environ: Mapping[str, str]) -> Remote:
    from chatcli.backends.remote.client import Remote, remote_spec

    assert job.remote is not None and job.thread is not None
    return await Remote.open(remote_spec(job.remote, job.assistant, [], environ), find=False)


def on_the_server(job: Job, seen: Any) -> bool:
    """Whether ``job`` is a remote one whose process ended before its answer did: its run may go on there."""
    return bool(job.remote and job.thread) and seen.state == "interrupted"

"""A background reply on an Agent Server (``chat --bg --remote URL``): its run is the server's own.

The job's one-shot creates the run on the server to go on when its connection drops (chatcli.backends.remote.run),
so the run outlives the job's process: a process killed, a machine restarted, the run goes on and ends on the
server. ``chat attach`` then joins it there (``answer``): the job's own run (each run a job makes is tagged with
it), its stream from the start (the server keeps what a resumable run sent); ``chat stop`` cancels that run there
(``cancel``), never another of the thread's. The server is the job's URL and assistant, read back from its record:
not named in this run, so the loopback owner check applies; its key is read from the environment as ``--remote``
reads it (a ``--header`` is never kept: ``chat --bg`` refuses one).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, AsyncIterator, Mapping

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.backends.remote.client import Remote
    from chatcli.service.jobs import Job, Seen

# The stream's first event: a resumable run's events are kept on the server, and those after this id are sent again.
FROM_THE_START = "0"


async def answer(job: Job, environ: Mapping[str, str]) -> AsyncIterator[str]:
    """The text of ``job``'s own run on the server (tagged with the job: never another run of the thread), its
    stream joined from its start, live while it runs. UsageError when the server has no run of the job's (its
    process died before the run was made)."""
    from chatcli.backends.remote.client import message_text

    async with _server(job, environ) as remote:
        run = await _own_run(remote, job)
        stream = remote.client.runs.join_stream(
            job.thread, run, stream_mode=["messages-tuple"], last_event_id=FROM_THE_START
        )
        async for part in stream:
            data = part.data
            if str(part.event).startswith("messages") and isinstance(data, list) and data:
                chunk = data[0] if isinstance(data[0], dict) else {}
                if chunk.get("type") in ("AIMessageChunk", "ai"):
                    yield message_text(chunk)


async def cancel(job: Job, environ: Mapping[str, str]) -> bool:
    """Cancel ``job``'s own run on the server (what it said so far stays in the thread); False when it is not
    running there (ended, or never made)."""
    async with _server(job, environ) as remote:
        try:
            run = await _own_run(remote, job, live=True)
        except UsageError:
            return False
        await remote.client.runs.cancel(job.thread, run, wait=True, action="interrupt")
        return True


async def _own_run(remote: Remote, job: Job, live: bool = False) -> str:
    """The id of the run on ``job``'s thread that the job made (``live``: only while pending or running). The server
    gives a thread the metadata of the run that made it and the thread's to the runs after it, so the later runs of
    the thread carry the job's tag too: the job's own is the first run so tagged."""
    from chatcli.backends.remote.run import JOB_TAG

    listed = await remote.client.runs.list(job.thread, limit=100)  # the newest first
    runs = [run for run in (listed if isinstance(listed, list) else ()) if isinstance(run, dict)]
    shaped = [run for run in runs if isinstance(run.get("metadata"), dict) and isinstance(run.get("run_id"), str)]
    tagged = [run for run in shaped if run["metadata"].get(JOB_TAG) == job.id]
    if tagged and not (live and tagged[-1].get("status") not in ("pending", "running")):
        return str(tagged[-1]["run_id"])
    raise UsageError(
        f"the server has no {'running ' if live else ''}run of job {job.id}'s"
        + ("" if live else ": its process ended before it asked"),
        hint=f"chat --remote {job.remote} -t {job.thread} opens its thread",
    )


@asynccontextmanager
async def _server(job: Job, environ: Mapping[str, str]) -> AsyncIterator[Remote]:
    """The job's server, as read back from its record (the loopback owner check applies to it: it is not named in
    this run; its key is the environment's), its failures said as ``--remote`` says them."""
    from chatcli.backends.remote.client import Remote, remote_spec, translated

    assert job.remote is not None and job.thread is not None
    remote = await Remote.open(replace(remote_spec(job.remote, job.assistant, [], environ), named=False), find=False)
    try:
        with translated(remote.spec):
            yield remote
    finally:
        await remote.aclose()


def on_the_server(job: Job, seen: Seen) -> bool:
    """Whether ``job`` is a remote one whose process ended before its answer did: its run may go on there."""
    return bool(job.remote and job.thread) and seen.state == "interrupted"


async def halt(job: Job, environ: Mapping[str, str]) -> str | None:
    """Stop ``job``'s reply as Ctrl-C would, what arrived kept in its thread: its process here (``"here"``: waited for
    until its end is written, at most ten seconds), or, its process gone, its run on the server (``"server"``); None
    when neither runs."""
    import asyncio

    from chatcli.service import jobs

    if jobs.stop(job, environ):
        for _ in range(200):
            if not jobs.alive(job, environ):
                break
            await asyncio.sleep(0.05)
        return "here"
    if on_the_server(job, jobs.seen(job, environ)) and await cancel(job, environ):
        return "server"
    return None

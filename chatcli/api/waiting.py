"""What waits for the user, whole, over HTTP: what a thread waits on (as the prompt would ask it), and the background
replies (``chat jobs``, ``chat attach``). The page asks these; so may a script."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from chatcli.api.turns import EVENT_STREAM, sse
from chatcli.core.events import Review
from chatcli.service import jobs

if TYPE_CHECKING:
    from chatcli.core.interrupts import Pending
    from chatcli.service.chat import Chat


def waiting_routes(app: FastAPI, chat: Chat) -> None:
    """The routes of what waits: a thread's questions whole, the background replies listed and followed."""

    @app.get(
        "/v1/threads/{thread_id}/waiting",
        summary="What a thread waits on, whole, as the prompt asks it: each call to approve (its arguments whole, the "
        "decisions it takes, where it would run: a shell command's sandbox), each tool's question (its form or "
        "address) and graph's interrupt (its value); POST /v1/threads/ID/approvals answers them",
    )
    async def thread_waiting(thread_id: str) -> list[dict[str, Any]]:
        thread = await chat.thread(thread_id, exists=True)
        return [item for pending in await thread.waiting() for item in _whole(pending)]

    @app.get("/v1/jobs", summary="The background replies, the newest first: the records of `chat jobs --json`")
    async def list_jobs() -> list[dict[str, Any]]:
        return [jobs.seen(job, chat.environ).as_dict() for job in jobs.jobs(chat.environ)]

    @app.post(
        "/v1/jobs/{job_id}/stop",
        summary="Stop a background reply as `chat stop ID` does: what arrived is kept in its thread; its state after",
    )
    async def stop_job(job_id: str) -> dict[str, Any]:
        from chatcli.service.remote_jobs import halt

        job = jobs.find(chat.environ, job_id)
        stopped = await halt(job, chat.environ)
        return {"id": job.id, "stopped": stopped is not None, "state": jobs.seen(job, chat.environ).state}

    @app.get(
        "/v1/jobs/{job_id}/events",
        summary="A background reply followed, as `chat attach ID` follows it: its `--jsonl` events from the first, "
        "then each as it comes, until its end, as server-sent events",
        response_class=StreamingResponse,
    )
    async def job_events(job_id: str, request: Request) -> StreamingResponse:
        job, written = jobs.find(chat.environ, job_id), sse(request)
        lines = (written(event) for event in jobs.follow(job, chat.environ))
        return StreamingResponse(lines, media_type=EVENT_STREAM, headers={"Cache-Control": "no-store"})


def _whole(pending: Pending) -> list[dict[str, Any]]:
    """One question a thread waits on, whole: each call of an approval apart (its id the call's), with where it would
    run as the terminal says it (a shell command's sandbox)."""
    if pending.is_approval:
        reviews = pending.reviews or (Review(),) * len(pending.calls)
        return [
            {"kind": "approval", "id": call.id, "call": {k: v for k, v in call.record().items() if k != "type"}}
            | {"allowed": list(review.allowed), "description": review.description, "where": call.where}
            for call, review in zip(pending.calls, reviews)
        ]
    if pending.elicitation is not None:
        return [{"kind": "question", "id": pending.id, "value": pending.elicitation.value()}]
    return [{"kind": "interrupt", "id": pending.id, "value": json.loads(json.dumps(pending.value, default=str))}]

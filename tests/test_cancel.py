"""Stopping a reply stops it at once, wherever in the stream the stop lands.

These run the real ChatOpenAI client against the fake server, in process, and cancel a
reply that is still streaming fast to a consumer that takes a while per token (as a
terminal renderer does): the stop must not wait for the rest of the answer. Python
3.11's ``asyncio.wait_for`` loses a cancellation that arrives just as the awaited chunk
completes, so a client that wraps each chunk in it (langchain-openai's per-chunk
timeout) reads the whole reply before it stops, here in most trials.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from chatcli.config import load_settings
from tests.fakeserver import FakeOpenAIServer, Reply
from tests.helpers import Tokens, a_thread

STREAM_SECONDS = 4.0  # how long each reply would stream if nobody stopped it
TOKEN_GAP = 0.005  # the server's pause between tokens
RENDER_TIME = 0.02  # the consumer's time per token: tokens queue up behind it
TRIALS = 20


async def _stops(server: FakeOpenAIServer, db: str) -> list[tuple[int, bool]]:
    """Each trial's stop: how many tokens had been rendered when it landed, and whether the server had written
    the whole reply by the time the stop was done (a stop that lost its cancellation reads it all first)."""
    settings = load_settings(
        {"db": db, "model": "gpt-fake"},
        environ={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "CHATCLI_MAX_RETRIES": "0"},
    )
    tokens = [f" w{i}" for i in range(int(STREAM_SECONDS / TOKEN_GAP))]
    rng = random.Random(7)
    stops = []
    async with a_thread(settings, "stops") as conversation:
        for trial in range(TRIALS):
            server.queue(Reply(tokens=tokens, delay=TOKEN_GAP))
            # A sweep over where the stop lands, by event: after the n-th rendered token, n drawn anew each
            # trial, so every point of the renderer's backlog is one a trial stops at, however busy the machine.
            at = rng.randint(1, 8)
            rendered = asyncio.Event()
            count = [0]

            def render(_piece: str, at: int = at, count: list[int] = count, rendered: asyncio.Event = rendered) -> None:
                count[0] += 1
                if count[0] >= at:
                    rendered.set()
                time.sleep(RENDER_TIME)

            ended_before = server.streams_ended
            conversation.listener = Tokens(render)
            task = asyncio.create_task(conversation.send(f"question {trial}"))
            await asyncio.wait_for(rendered.wait(), 10)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            stops.append((at, server.streams_ended > ended_before))
    return stops


@pytest.mark.slow  # TRIALS stops, each a few tokens into a stream
def test_a_stop_never_waits_for_the_rest_of_a_fast_stream(server, tmp_path):
    """The verdict is an event, not a time: no stop let the server write the rest of its reply."""
    stops = asyncio.run(_stops(server, str(tmp_path / "chat.db")))
    late = [at for at, whole in stops if whole]
    assert not late, f"{len(late)} of {TRIALS} stops read the whole stream first (stopped after tokens {late})"

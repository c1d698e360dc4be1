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

from chatcli.chat.session import open_conversation
from chatcli.config import load_settings
from tests.fakeserver import FakeOpenAIServer, Reply
from tests.helpers import Tokens

STREAM_SECONDS = 4.0  # how long each reply would stream if nobody stopped it
TOKEN_GAP = 0.005  # the server's pause between tokens
RENDER_TIME = 0.02  # the consumer's time per token: tokens queue up behind it
TRIALS = 20


async def _stop_times(server: FakeOpenAIServer, db: str) -> list[float]:
    settings = load_settings(
        {"db": db, "model": "gpt-fake"},
        environ={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "CHATCLI_MAX_RETRIES": "0"},
    )
    tokens = [f" w{i}" for i in range(int(STREAM_SECONDS / TOKEN_GAP))]
    rng = random.Random(7)
    times = []
    async with open_conversation(settings, "stops") as conversation:
        for trial in range(TRIALS):
            server.queue(Reply(tokens=tokens, delay=TOKEN_GAP))
            seen = asyncio.Event()

            def render(_piece: str) -> None:
                seen.set()
                time.sleep(RENDER_TIME)

            conversation.listener = Tokens(render)
            task = asyncio.create_task(conversation.send(f"question {trial}"))
            await asyncio.wait_for(seen.wait(), 10)
            await asyncio.sleep(rng.uniform(0.0, 0.1))  # a sweep over where the stop lands, not a phase
            start = time.perf_counter()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            times.append(time.perf_counter() - start)
    return times


@pytest.mark.slow  # TRIALS timed stops, each a moment into a stream: seconds by design
def test_a_stop_never_waits_for_the_rest_of_a_fast_stream(server, tmp_path):
    times = asyncio.run(_stop_times(server, str(tmp_path / "chat.db")))
    slow = [round(t, 2) for t in times if t > 0.5]
    assert not slow, f"{len(slow)} of {TRIALS} stops waited for the stream to go on: {slow}"

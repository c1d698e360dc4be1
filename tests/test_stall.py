"""The stall clock (``CHATCLI_TIMEOUT``), at every door in this process and with every provider: a reply that has
begun and then goes silent for longer than the limit ends in one line; a reply that keeps coming is never cut however
long it takes; and only the server's silence counts, not the time chat itself holds its event loop (LangChain putting a
long reply together after its last piece, a machine too busy to run chat)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from langchain_core.language_models import chat_models

from tests.fakeserver import Fault, Raw, Reply
from tests.helpers import HANG
from tests.matrix import HERE, doors, providers
from tests.providers import ROWS

LIMIT = 0.5


@pytest.fixture
def chat_env(chat_env: dict[str, str]) -> dict[str, str]:
    return {**chat_env, "CHATCLI_TIMEOUT": str(LIMIT)}


@doors(*HERE)
@providers()
def test_a_reply_that_goes_silent_is_ended_in_one_line(door, backend):
    # The server gives up only after HANG (its stream then cut): the line that says stalled is the limit's.
    backend.model.queue(Fault(stall_after=3, stall=HANG, text="alpha beta gamma delta epsilon"))
    line = door.failed(door.ask("tell me a story"), 4)
    assert f"stalled: no text for more than {LIMIT} s" in line, line


@doors(*HERE)
@providers()
def test_a_reply_that_keeps_coming_is_no_stall_nor_the_time_chat_takes_to_put_it_together(door, backend, monkeypatch):
    """A reply that keeps coming for more than twice the limit is never cut, however long it takes. Then LangChain puts
    its pieces together after the last one, holding the event loop (seconds, for a reply of thousands of pieces on a
    busy machine): here for more than twice the limit again. The last words are not lost to a stall that was chat's
    own."""
    together = chat_models.generate_from_stream

    def slowly(stream):
        time.sleep(LIMIT * 2.5)
        return together(stream)

    monkeypatch.setattr(chat_models, "generate_from_stream", slowly)
    words = " ".join(f"word{i}" for i in range(12))
    backend.model.queue(Reply(words, delay=LIMIT / 5))  # some 1.2 s, no gap near the limit
    answer = door.ask("tell me a story")
    assert answer.code == 0 and words in answer.out, answer
    assert "stalled" not in answer.out + "".join(answer.errors), answer  # the prompt's code is 0 after a failure too


@doors(*HERE)
@providers()
def test_a_reply_cut_while_its_clock_runs_leaves_no_clock_behind(door, backend, caplog):
    """The connection lost mid-reply ends it in one line; the next reply, longer than the limit, is answered whole and
    nothing else is said (a clock left running from the first would fire into it: asyncio's error on the terminal)."""
    backend.model.queue(Fault(cut_after=3, text="alpha beta gamma delta epsilon"))
    first = door.ask("tell me a story")
    door.failed(first, 4)
    words = " ".join(f"word{i}" for i in range(12))
    backend.model.queue(Reply(words, delay=LIMIT / 5))
    answer = door.go_on(first, "and then?")
    assert answer.code == 0 and words in answer.out, answer
    assert "Traceback" not in answer.out + "".join(answer.errors) and "Exception in callback" not in answer.out, answer
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


@doors(*HERE)
@providers(*[row for row in ROWS if row.name == "anthropic"])
def test_a_reply_that_only_pings_after_its_last_piece_is_a_stall(door, backend):
    """Anthropic's client calls the piece with the reply's stop reason (``message_delta``) its last, before the server
    has closed the reply: a server that then only pings, for ever, is a stall (its pings keep the connection alive: only
    the clock ends it)."""
    message = {"id": "msg_pings", "type": "message", "role": "assistant", "model": backend.row.model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}  # fmt: skip
    text = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "All of it."}}
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    head = [
        _event("message_start", {"type": "message_start", "message": message}),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _event("content_block_delta", text),
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event("message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 3}}),
    ]
    # Pings for HANG seconds: what ends the reply first is the limit, not the server's pings running out.
    backend.model.queue(Raw([*head, *[LIMIT / 5, _event("ping", {"type": "ping"})] * int(HANG / (LIMIT / 5))]))
    line = door.failed(door.ask("tell me a story"), 4)
    assert f"stalled: no text for more than {LIMIT} s" in line, line


def test_progress_in_the_same_turn_of_the_loop_as_the_check_is_still_progress():
    """The clock's check and a piece of the reply both due when the loop comes back (held a little, less than what
    counts as late): the piece counts, and the reply goes on."""
    from chatcli.backends.own.turns import StallClock

    limit = 2.0

    async def reply() -> str:
        loop = asyncio.get_running_loop()
        async with StallClock(limit) as clock:
            clock.restart()
            loop.call_at(loop.time() + limit, clock.restart)  # a piece, due just after the check
            await asyncio.sleep(limit - 0.1)
            time.sleep(0.15)  # the loop held across both: they run in one turn, the check some 0.05 s late
            await asyncio.sleep(limit / 4)
        return "went on"

    assert asyncio.run(reply()) == "went on"


@doors(*HERE)
@providers()
def test_the_time_chat_takes_to_keep_a_reply_is_no_stall(door, backend, monkeypatch):
    """Once the model's call has ended, what chat does before the stream ends (keeping the reply on a slow disk) is not
    the server's silence: a whole answer is answered whole."""
    from chatcli.store.messages.saver import MessageStoreSaver

    keep = MessageStoreSaver.aput

    async def slowly(self, *args, **kwargs):
        await asyncio.sleep(LIMIT * 2.5)
        return await keep(self, *args, **kwargs)

    monkeypatch.setattr(MessageStoreSaver, "aput", slowly)
    backend.model.queue(Reply("all of it, kept"))
    answer = door.ask("tell me a story")
    assert answer.code == 0 and "all of it, kept" in answer.out, answer
    assert "stalled" not in answer.out + "".join(answer.errors), answer  # the prompt's code is 0 after a failure too

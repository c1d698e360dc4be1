"""The fake OpenAI server, driven through the real ChatOpenAI client (and raw HTTP for the wire format).

The exception classes asserted here are what the real stack raises (langchain-openai wraps openai's
errors in subclasses such as OpenAIConnectionError, so isinstance checks on the openai classes hold).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

from tests.fakeserver import (
    FAULT_TEXT,
    FakeOpenAIServer,
    Fault,
    Reply,
    closed_port_url,
    lorem_markdown,
    on_a_reused_port,
    tokenize,
)
from tests.helpers import HANG


@pytest.fixture
def server():
    with on_a_reused_port() as s:
        yield s


def make_model(base_url: str, *, timeout: float = 2, max_retries: int = 0, **kw) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-fake", base_url=base_url, api_key="sk-test", timeout=timeout, max_retries=max_retries, **kw
    )


def collect(model: ChatOpenAI, messages):
    """Stream; return (chunks, aggregated chunk or None, exception or None)."""
    chunks, agg = [], None
    try:
        for c in model.stream(messages):
            chunks.append(c)
            agg = c if agg is None else agg + c
    except Exception as exc:  # noqa: BLE001 - the tests assert the class
        return chunks, agg, exc
    return chunks, agg, None


def contents(chunks) -> list[str]:
    return [c.content for c in chunks if c.content]


# ---- happy path -----------------------------------------------------------------------------


def test_stream_arrives_in_several_chunks_with_usage(server):
    text = "Hello there, this is a **streamed** reply.\n\n- one\n- two"
    server.queue(Reply(text))
    chunks, agg, exc = collect(make_model(server.base_url, stream_usage=True), [HumanMessage("say hi to me")])
    assert exc is None
    assert len(contents(chunks)) == len(tokenize(text)) > 5
    assert "".join(c.content for c in chunks) == text == agg.content
    assert agg.usage_metadata["output_tokens"] == len(tokenize(text))
    assert agg.usage_metadata["input_tokens"] == 4  # rough word count of the request
    assert agg.response_metadata["finish_reason"] == "stop"
    assert agg.response_metadata["model_name"] == "gpt-fake"
    body = server.requests[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_no_usage_unless_asked(server):
    chunks, agg, exc = collect(make_model(server.base_url), [HumanMessage("hi")])
    assert exc is None and agg.usage_metadata is None
    assert "stream_options" not in server.requests[-1]


def test_default_reply_proves_history_was_sent(server):
    msgs = [HumanMessage("my name is Ada"), AIMessage("Nice to meet you"), HumanMessage("what is my name?")]
    _, agg, exc = collect(make_model(server.base_url), msgs)
    assert exc is None
    assert agg.content == "You said: what is my name? (earlier: my name is Ada)"
    assert [m["role"] for m in server.last_messages()] == ["user", "assistant", "user"]


def test_explicit_tokens_delay_and_finish_reason(server):
    server.queue(Reply(tokens=["Hel", "lo", "!"], delay=0.05, finish_reason="length"))
    t0 = time.monotonic()
    chunks, agg, exc = collect(make_model(server.base_url), [HumanMessage("x")])
    assert exc is None and contents(chunks) == ["Hel", "lo", "!"]
    assert time.monotonic() - t0 >= 0.09
    assert agg.response_metadata["finish_reason"] == "length"


def test_non_streaming_and_models(server):
    server.queue(Reply("plain answer"))
    msg = make_model(server.base_url).invoke([HumanMessage("hello world")])
    assert msg.content == "plain answer"
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata["output_tokens"] == 2 and msg.usage_metadata["input_tokens"] == 2
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=2)
    assert "gpt-fake" in [m.id for m in client.models.list()]


def test_raw_sse_wire_format(server):
    server.queue(Reply("a b"))
    u = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
    req = {
        "model": "m-echo",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "one two three"}],
    }
    conn.request("POST", "/v1/chat/completions", json.dumps(req), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    raw = resp.read().decode()
    conn.close()
    events = [line[len("data: ") :] for line in raw.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    objs = [json.loads(e) for e in events[:-1]]
    assert all(o["object"] == "chat.completion.chunk" and o["model"] == "m-echo" for o in objs)
    assert all(o["id"] == objs[0]["id"] and isinstance(o["created"], int) for o in objs)
    assert objs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [o["choices"][0]["delta"] for o in objs[1:3]] == [{"content": "a"}, {"content": " b"}]
    assert objs[3]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert objs[4]["choices"] == []
    assert objs[4]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_concurrent_requests(server):
    """Six requests at once are answered at once: each answer begins only once all six have arrived, which a server
    answering one request at a time never sees."""
    server.queue(*[Reply("x y z", delay=0.15) for _ in range(6)])
    model = make_model(server.base_url, timeout=60)
    results: list[str] = []
    together: list[bool] = []  # for each request, as its answer began: had all six arrived?
    lock = threading.Lock()
    record = server._record_and_pop

    def all_six_first(body, headers, pop=True):
        item = record(body, headers, pop)
        together.append(server.wait_for_requests(6, timeout=60))
        return item

    server._record_and_pop = all_six_first

    def run():
        _, agg, exc = collect(model, [HumanMessage("hi")])
        with lock:
            results.append(agg.content if exc is None else repr(exc))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == ["x y z"] * 6
    assert together == [True] * 6  # overlapped, not serial
    assert len(server.requests) == 6 and server.pending() == 0


# ---- HTTP errors ----------------------------------------------------------------------------


def test_401_is_not_retried(server):
    server.queue(Fault(status=401), Fault(status=401), Fault(status=401))
    _, _, exc = collect(make_model(server.base_url, max_retries=2), [HumanMessage("hi")])
    assert isinstance(exc, openai.AuthenticationError)
    assert exc.status_code == 401 and exc.code == "invalid_api_key"
    assert len(server.requests) == 1


def test_429_retry_after_0_is_retried_then_raises(server):
    # One retry: "retry-after: 0" leaves the SDK to its own backoff, half a second the first time, a second the next.
    server.queue(*[Fault(status=429, headers={"retry-after": "0"}) for _ in range(2)])
    _, _, exc = collect(make_model(server.base_url, max_retries=1), [HumanMessage("hi")])
    assert isinstance(exc, openai.RateLimitError)
    assert len(server.requests) == 2 and server.pending() == 0


def test_429_retry_after_ms_then_success(server, monkeypatch):
    # Honoured 10 ms: the SDK's own backoff, had it been used instead, waits HANG here (and the test never ends).
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", HANG)
    monkeypatch.setattr(openai._base_client, "MAX_RETRY_DELAY", HANG)
    server.queue(Fault(status=429, headers={"retry-after-ms": "10"}), Reply("finally"))
    _, agg, exc = collect(make_model(server.base_url, max_retries=1), [HumanMessage("hi")])
    assert exc is None and agg.content == "finally"
    assert len(server.requests) == 2


def test_500_then_reply_succeeds_with_one_retry(server):
    server.queue(Fault(status=500), Reply("recovered"))
    _, agg, exc = collect(make_model(server.base_url, max_retries=1), [HumanMessage("hi")])
    assert exc is None and agg.content == "recovered"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "status, cls",
    [
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (502, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_status_classes(server, status, cls):
    server.queue(Fault(status=status))
    _, _, exc = collect(make_model(server.base_url), [HumanMessage("hi")])
    assert isinstance(exc, cls) and exc.status_code == status
    if status == 404:
        assert exc.code == "model_not_found" and "gpt-fake" in exc.message


# ---- broken streams -------------------------------------------------------------------------


def test_cut_after_3_tokens_is_connection_error(server):
    server.queue(Fault(cut_after=3), Reply("not used"))
    chunks, _, exc = collect(make_model(server.base_url, max_retries=2), [HumanMessage("hi")])
    assert contents(chunks) == tokenize(FAULT_TEXT)[:3]
    assert isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError)
    causes, e = [], exc
    while e is not None:
        causes.append(e)
        e = e.__cause__
    assert any("incomplete chunked read" in str(c) for c in causes)  # httpx2 RemoteProtocolError at the root
    assert len(server.requests) == 1  # a failure mid-stream is not retried
    assert server.stalls == 0  # cut, not silent


def test_cut_after_with_astream(server):
    server.queue(Fault(cut_after=2))
    got: list[str] = []

    async def main():
        async for c in make_model(server.base_url).astream("hi"):
            if c.content:
                got.append(c.content)

    with pytest.raises(openai.APIConnectionError):
        asyncio.run(main())
    assert got == tokenize(FAULT_TEXT)[:2]


def test_stall_triggers_read_timeout(server):
    server.queue(Fault(stall_after=2, stall=HANG))
    t0 = time.monotonic()
    chunks, _, exc = collect(make_model(server.base_url, timeout=0.5), [HumanMessage("hi")])
    assert contents(chunks) == tokenize(FAULT_TEXT)[:2]
    # The client's own read timeout ended it (the stall's end would be a cut stream, and comes after HANG).
    assert isinstance(exc, openai.APITimeoutError)  # a subclass of APIConnectionError
    assert time.monotonic() - t0 >= 0.45  # not before its timeout
    assert server.stalls == 1  # what a test can wait on: the stream went silent


def test_malformed_event_raises_json_decode_error(server):
    server.queue(Fault(malformed=True))
    chunks, _, exc = collect(make_model(server.base_url), [HumanMessage("hi")])
    assert contents(chunks) == tokenize(FAULT_TEXT)[:2]
    # Not an openai error: the raw json.JSONDecodeError (a ValueError) escapes the SDK.
    assert isinstance(exc, json.JSONDecodeError) and not isinstance(exc, openai.OpenAIError)


def test_empty_stream_finishes_normally(server):
    server.queue(Fault(empty=True))
    chunks, agg, exc = collect(make_model(server.base_url), [HumanMessage("hi")])
    assert exc is None and contents(chunks) == [] and agg.content == ""
    assert agg.response_metadata["finish_reason"] == "stop"


def test_no_finish_looks_complete_but_lacks_finish_reason(server):
    server.queue(Fault(no_finish=True))
    chunks, agg, exc = collect(make_model(server.base_url), [HumanMessage("hi")])
    assert exc is None
    assert agg.content == FAULT_TEXT
    assert "finish_reason" not in agg.response_metadata
    assert "model_name" not in agg.response_metadata  # also only sent with the finish chunk


def test_closed_port_is_connection_error(server):
    _, _, exc = collect(make_model(closed_port_url()), [HumanMessage("hi")])
    assert isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError)
    assert server.requests == []


# ---- server mechanics -----------------------------------------------------------------------


def test_shutdown_does_not_hang_on_a_stalled_client():
    s = FakeOpenAIServer().start()
    s.queue(Fault(stall_after=1, stall=HANG))
    errors: list[BaseException] = []

    def run():
        _, _, exc = collect(make_model(s.base_url, timeout=HANG), [HumanMessage("hi")])
        errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert s.wait_until(lambda: s.stalls == 1, timeout=30)  # the first token is out, the stream silent
    s.stop()  # neither the stall nor the client gives up before HANG: only the stop ends them
    t.join(60)
    assert not t.is_alive(), "the client still waits on the stalled stream after the server stopped"
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)
    assert not isinstance(errors[0], openai.APITimeoutError)  # cut by the stop, not timed out


def test_queue_clear_and_fault_validation(server):
    server.queue(Reply("a"), Reply("b"))
    assert server.pending() == 2
    server.clear()
    assert server.pending() == 0 and server.requests == [] and server.last_messages() == []
    with pytest.raises(ValueError):
        Fault()
    with pytest.raises(ValueError):
        Fault(status=500, cut_after=1)
    with pytest.raises(TypeError):
        server.queue("text")  # type: ignore[arg-type]


def test_lorem_markdown_token_count():
    for n in (0, 1, 7, 50, 333):
        assert len(tokenize(lorem_markdown(n))) == n
    assert lorem_markdown(50) == lorem_markdown(50)

"""One huge event from a server costs no memory: chat stops the answer at the limit, keeps what arrived, says why.

A server answers with a first piece of text ("Hello"), then one event of 200 MB that never ends its line
(an SSE ``data:`` line, an NDJSON line), in each wire format chat reads: the OpenAI-compatible endpoint's,
Anthropic's, Ollama's, and a LangGraph Agent Server's (``--remote``). ``chat`` runs in this process, and how far
its resident memory rose at its peak is read from the kernel (``measured``).
"""

from __future__ import annotations

import gc
import json
import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.helpers import Run, chat, read_request, serve_each

HUGE = 200 * 1024 * 1024  # bytes of the one event
CHUNK = b"a" * (1024 * 1024)
# How far resident memory may rise while a one-shot reads 200 MB streaming past it: its imports and a few events'
# worth (reading the event whole would take it past this).
MEMORY_MB = 400
REMOTE_THREAD = "00000000-0000-4000-8000-000000000001"


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def _anthropic_start() -> bytes:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-fake", "content": [],
               "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 1}}  # fmt: skip
    return (
        _sse("message_start", {"type": "message_start", "message": message})
        + _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )  # fmt: skip
        + _sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        )  # fmt: skip
    )


def _openai_piece(text: str) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-fake",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip


# name -> (what the server streams first, how the huge event begins, content type, chat's arguments, variables)
WIRES: dict[str, tuple[bytes, bytes, str, Callable[[str], list[str]], Callable[[str], dict[str, str]]]] = {
    "openai": (
        _sse(None, _openai_piece("Hello")),
        b'data: {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "',
        "text/event-stream",
        lambda url: ["-m", "gpt-fake"],
        lambda url: {"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-test"},
    ),
    "anthropic": (
        _anthropic_start(),
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": '
        b'{"type": "text_delta", "text": "',
        "text/event-stream",
        lambda url: ["-m", "anthropic:claude-fake"],
        lambda url: {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-ant-test"},
    ),
    "google_genai": (
        _sse(None, {"candidates": [{"content": {"parts": [{"text": "Hello"}], "role": "model"}, "index": 0}]}),
        b'data: {"candidates": [{"content": {"parts": [{"text": "',
        "text/event-stream",
        lambda url: ["-m", "google_genai:gemini-fake"],
        lambda url: {"GOOGLE_GEMINI_BASE_URL": url, "GOOGLE_API_KEY": "g-test"},
    ),
    "remote": (
        _sse("metadata", {"run_id": "r1"})
        + _sse("messages", [{"type": "AIMessageChunk", "content": "Hello", "id": "m1"}, {"langgraph_node": "n"}]),
        b'event: messages\ndata: [{"type": "AIMessageChunk", "id": "m1", "content": "',
        "text/event-stream",
        lambda url: ["--remote", url, "--assistant", "agent"],
        lambda url: {},
    ),
    "ollama": (
        json.dumps(
            {
                "model": "qwen3",
                "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": "Hello"},
                "done": False,
            }
        ).encode()
        + b"\n",  # fmt: skip
        b'{"model": "qwen3", "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": "',
        "application/x-ndjson",
        lambda url: ["-m", "ollama:qwen3"],
        lambda url: {"OLLAMA_HOST": url},
    ),
}


class HugeServer:
    """Answers every POST with ``first``, then one event of HUGE bytes beginning ``head``; GET / with 200."""

    def __init__(self, first: bytes, head: bytes, content_type: str):
        self.first, self.head, self.content_type = first, head, content_type
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sent = 0
        serve_each(self.sock, self._answer)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head, body = read_request(conn)
            if not head.startswith(b"POST"):
                thread = json.dumps({"thread_id": REMOTE_THREAD, "metadata": {}, "values": {}}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(thread)
                    + thread
                )
                return
            try:
                conn.sendall(
                    f"HTTP/1.1 200 OK\r\nContent-Type: {self.content_type}\r\nConnection: close\r\n\r\n".encode()
                    + self.first
                    + self.head
                )
                for _ in range(HUGE // len(CHUNK)):
                    conn.sendall(CHUNK)
                    self.sent += len(CHUNK)
                conn.sendall(b'"}}\n\n')
            except OSError:
                pass  # chat stopped reading: as it should

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=list(WIRES), ids=str)
def huge(request: pytest.FixtureRequest) -> Iterator[tuple[str, HugeServer]]:
    first, head, content_type, _args, _env = WIRES[request.param]
    server = HugeServer(first, head, content_type)
    yield request.param, server
    server.close()


def _status_mb(field: str) -> int:
    """A figure of this process's /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def measured(env: dict[str, str], *args: str, stdin: Any = b"") -> tuple[Run, int]:
    """Run ``chat ARGS`` in this process (``stdin`` as tests/helpers.chat takes it): its run, and how far its resident
    memory rose at its peak above what the process held when it began (MB, the kernel's count: VmHWM, reset by
    /proc/self/clear_refs first). Not its time: what bounds the work is counted (bytes sent, read, decoded)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from what is resident now
    held = _status_mb("VmRSS")
    run = chat(env, *args, stdin=stdin)
    return run, _status_mb("VmHWM") - held


def test_one_huge_event_stops_the_answer_keeps_what_arrived_and_costs_no_memory(huge, chat_env):
    name, server = huge
    _first, _head, _type, args, variables = WIRES[name]
    env = {k: v for k, v in chat_env.items() if not k.startswith(("OPENAI_", "CHATCLI_MODEL"))}
    env.update(variables(server.url), CHATCLI_WORKER="0", CHATCLI_TIMEOUT="60")
    thread = ["-t", REMOTE_THREAD] if name == "remote" else ["-t", "huge"]
    run, peak = measured(env, *args(server.url), *thread, "say hello")
    assert run.code == 4, (run, peak)
    lines = run.err.strip().splitlines()
    assert "sent one event of more than 8 MB: the answer stops here" in lines[-1], run.err
    assert run.out.startswith("Hello"), run
    assert server.sent < HUGE, "chat read the whole event"
    assert peak < MEMORY_MB, f"{name}: peak {peak} MB while one event of {HUGE >> 20} MB streamed"
    if name == "remote":
        return  # the server keeps its threads: what arrived is kept there (cancelled and written back), not here
    shown = chat(env, "show", "huge")
    assert "say hello" in shown.out and "Hello" in shown.out, shown
    assert os.path.getsize(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db") < 8 * 1024 * 1024 or env.get(
        "CHATCLI_DB"
    )


def test_an_answer_past_its_size_stops_there_and_what_arrived_is_kept(server, chat_env):
    """Many events, each small enough: the answer as a whole is bounded too (MAX_ANSWER characters)."""
    from chatcli.core.turn import MAX_ANSWER
    from tests.fakeserver import Reply
    from tests.helpers import assert_one_error_line, chat, stored

    piece = "b" * (1024 * 1024)
    server.queue(Reply(tokens=[piece] * (MAX_ANSWER // len(piece) + 8)))
    run = chat(chat_env, "-t", "long", "say it all")
    line = assert_one_error_line(run, 4)
    assert f"the answer passed {MAX_ANSWER >> 20} MB: it stops here" in line, line
    db = chat_env.get("CHATCLI_DB") or str(Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")
    kept = stored(db, "long")
    assert kept[0].content == "say it all" and MAX_ANSWER - len(piece) <= len(kept[1].content) <= MAX_ANSWER, len(
        kept[1].content
    )
    assert kept[1].response_metadata.get("interrupted") == "error"


@pytest.mark.parametrize("spec, key", [("gpt-fake", "OPENAI_API_KEY"), ("anthropic:claude-fake", "ANTHROPIC_API_KEY")])
def test_a_model_built_again_reuses_its_client_bounded_once(spec, key, monkeypatch):
    """Each model built (every one-shot of the warm worker, every request of ``chat serve``) is on the SDK's shared
    client, as LangChain keeps it: its connections and TLS set-up reused, and its lines bounded by one hook, not by
    one more per model built."""
    from chatcli.backends.own.model import build_chat_model
    from chatcli.config import load_settings

    monkeypatch.setenv(key, "sk-test-0123456789")
    settings = load_settings({"model": spec}, environ={key: "sk-test-0123456789"})
    clients = []
    for _ in range(3):
        model = build_chat_model(settings)
        sdk = model.root_async_client if spec == "gpt-fake" else model._async_client  # the SDK's client
        clients.append(sdk._client)  # its httpx client
    assert clients[0] is clients[1] is clients[2]
    hooks = [hook for hook in clients[0].event_hooks["response"] if getattr(hook, "bounds", False)]
    assert len(hooks) == 1, clients[0].event_hooks

"""Every answer chat reads whole, made huge by a server, is refused or cut in bounded time and memory.

A streamed answer is held to 8 MB a line and 16 M characters (tests/test_huge_events.py). These are the others: the
compaction's summary (read as it streams, cut at the summary's room), and the answers chat parses as one JSON
document: each provider's model list (``chat models``), a server's context window, a LangGraph Agent Server's JSON
(``--remote``), an MCP server's OAuth metadata (``chat mcp login``). A server here sends 200 MB of JSON in short
lines (no line limit is reached), or a list whose pages never end, or its answer a byte at a time; chat says so in
one line, and ``chat`` is measured in this process (tests/test_huge_events.measured): how far its resident memory
rose as the kernel counts it, and the work it did counted (the bytes a server sent, what chat read or decoded of it,
the requests it made), never its time.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import zlib
from contextlib import aclosing
from typing import Any, Callable, Iterator

import pytest

from chatcli.backends.own.compaction import CUT, CUT_NOTE
from chatcli.backends.own.request_history import SUMMARY_PREFIX
from chatcli.providers.bounded import MAX_EVENT
from tests.fakeserver import Reply
from tests.helpers import chat, eventually, read_request, serve_each
from tests.providers import ROWS, Row
from tests.test_compact_doors import four_turns, roles
from tests.test_huge_events import CHUNK, HUGE, MEMORY_MB, measured
from tests.test_mcp import write_servers

WORDS = 400_000  # the summary answer: 400,000 words, 2 MB of text, a word a streamed piece (Gemini's: 64 a piece)
REFUSED = f"sent an answer of more than {MAX_EVENT >> 20} MB: it is refused"
# Bytes of huge documents a server may have written by the time chat stops reading them: the limit for each of a
# few requests (a window probe asks three questions), and what the sockets' buffers held besides. Each is 200 MB.
READ_AT_MOST = 8 * MAX_EVENT


# --------------------------------------------------------------------------- the summary


@pytest.mark.slow  # 400,000 words streamed and read to their bound, each provider: 2-4 s of CPU
def test_a_400000_word_summary_is_cut_at_its_room_in_bounded_time_and_memory(provider, monkeypatch):
    from langchain_core.language_models import BaseChatModel

    row, fake, env = provider
    four_turns(env, fake)
    taken: list[int] = []  # the characters of text chat took from the summary's stream, piece by piece
    astream = BaseChatModel.astream

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        async with aclosing(astream(self, *args, **kwargs)) as stream:
            async for chunk in stream:
                taken.append(len(str(chunk.text)))
                yield chunk

    whole = "word " * WORDS
    fake.queue(Reply(whole))
    with monkeypatch.context() as patched:
        patched.setattr(BaseChatModel, "astream", counted)
        run, peak = measured({**env, "CHATCLI_TIMEOUT": "120"}, "compact", "doors")
    assert run.code == 0, run
    assert run.out.startswith("compacted 3 earlier turns") and CUT_NOTE in run.out, run
    # The work counted: chat read the answer up to its room (under 200,000 characters, below) and no further.
    assert 0 < sum(taken) < len(whole) / 4, f"{row}: {sum(taken):,} characters read of {len(whole):,}"
    assert peak < MEMORY_MB, f"{row}: peak {peak} MB for a summary answer of {WORDS:,} words"
    # The next request sends the summary as it was cut (a quarter of the budget at most), and every turn is kept.
    assert chat(env, "-t", "doors", "what ships on Friday?").code == 0
    _systems, parts = roles(row, fake.requests[-1])
    [summary] = [text for _role, text in parts if text.startswith(SUMMARY_PREFIX)]
    assert summary.endswith(CUT) and len(summary) < 200_000, len(summary)
    shown = chat(env, "show", "doors")
    assert shown.out.count("## You") == 5 and "what ships on Friday?" in shown.out, shown


def test_a_huge_summary_at_the_start_of_a_turn_is_cut_and_the_question_answered(server, chat_env):
    """The default memory compacts at the start of any turn whose request would not fit: a summary answer that runs
    on is cut there too, said in the turn's line about the compaction, and the question goes on."""
    from tests.fakeserver import echo_reply
    from tests.test_compact import LONG

    server.default_reply = lambda messages: (
        "word " * WORDS
        if str(messages[0]["content"]).startswith("You keep a running summary")
        else echo_reply(messages)
    )
    env = {**chat_env, "CHATCLI_CONTEXT_TOKENS": "400"}
    said: list[str] = []
    for i in range(6):
        run = chat(env, "-t", "auto", f"note {i}: {LONG}")
        assert run.code == 0 and run.out.startswith(f"You said: note {i}:"), run
        said += [line for line in run.err_lines if line.startswith("compacted ")]
    assert said and all(CUT_NOTE in line for line in said), said
    _systems, parts = roles(ROWS[0], server.requests[-1])
    [summary] = [text for _role, text in parts if text.startswith(SUMMARY_PREFIX)]
    assert summary.endswith(CUT) and len(summary) < 1_000, len(summary)


# --------------------------------------------------------------------------- answers read whole


# What a server answers a request with instead of the huge document: its status line, headers and body.
Answer = tuple[str, dict[str, str], bytes]


class HugeJSON:
    """Answers every request with 200 and a JSON document of HUGE bytes in short lines (no line passes any line
    limit), or with what ``answer(method, path)`` gives, when it gives something; ``sent``: the bytes of the huge
    documents written so far."""

    def __init__(self, answer: Callable[[str, str], Answer | None] = lambda method, path: None):
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.base_url = self.url  # as tests/providers.py's rows read a server's address
        self.sent = 0
        self.heads: list[str] = []  # each request's line and headers, as they came
        serve_each(self.sock, self._answer)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head, body = read_request(conn)
            self.heads.append(head.decode("latin-1"))
            method, target = head.decode("latin-1").split(" ")[:2]
            given = self.answer(method, target.partition("?")[0])
            try:
                if given is not None:
                    status, headers, data = given
                    said = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                    conn.sendall(
                        f"HTTP/1.1 {status}\r\n{said}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                        + data
                    )
                    return
                conn.sendall(
                    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"data": ['
                )
                line = b'\n  {"id": "model", "object": "model", "name": "models/model"},'
                lines = line * (len(CHUNK) // len(line))
                for _ in range(HUGE // len(lines)):
                    conn.sendall(lines)
                    self.sent += len(lines)
                conn.sendall(b'\n  {"id": "model"}\n]}\n')
            except OSError:
                pass  # chat stopped reading: as it should

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def huge() -> Iterator[HugeJSON]:
    server = HugeJSON()
    yield server
    server.close()


def installed(row: Row) -> None:
    import importlib.util

    if row.module and importlib.util.find_spec(row.module) is None:
        pytest.skip(f"{row.module} is not installed")


def without_providers(chat_env: dict[str, str]) -> dict[str, str]:
    """chat_env with no provider set up: each test names the one it points at a server."""
    return {k: v for k, v in chat_env.items() if not k.startswith(("OPENAI_", "CHATCLI_MODEL"))}


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_every_model_list_refuses_a_huge_answer_in_bounded_time_and_memory(row, huge, chat_env):
    installed(row)
    env = {**without_providers(chat_env), **row.env(huge), "CHATCLI_MODEL": row.model}
    run, peak = measured(env, "models")
    assert run.code != 0 and REFUSED in run.err and "Traceback" not in run.err, run
    assert huge.sent < READ_AT_MOST, "chat read the whole answer"
    assert peak < MEMORY_MB, f"{row}: peak {peak} MB"


def _gzip(head: bytes, middle: bytes = b"", tail: bytes = b"", times: int = 1) -> bytes:
    """``head``, ``middle`` ``times`` over, then ``tail``, gzipped (a few MB that decode to hundreds)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(head) + b"".join(packer.compress(middle) for _ in range(times))
    return body + packer.compress(tail) + packer.flush()


@pytest.mark.slow  # 400 MB of gzip decoded to 8 MB: a second of CPU
def test_a_compressed_answer_is_counted_as_it_decodes(chat_env, monkeypatch):
    """A gzip answer is decoded a step at a time and bounded as it decodes: 1.2 MB that would decode to 400 MB are
    refused at 8 MB, in bounded memory and decoding no further (the bytes zlib gave counted); a small one reads as
    the plain one; an encoding chat did not ask for (zstd, which the HTTP library would decode each chunk whole) is
    refused before it is read."""
    decoded: list[int] = []  # the bytes each decompression call gave, in this process
    engine_of = zlib.decompressobj

    class Counted:
        def __init__(self, *args: Any) -> None:
            self.engine = engine_of(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.engine.decompress(data, max_length)
            decoded.append(len(out))
            return out

        def __getattr__(self, name: str) -> Any:  # unconsumed_tail, unused_data, eof: the engine's
            return getattr(self.engine, name)

    monkeypatch.setattr(zlib, "decompressobj", Counted)
    line = b'\n  {"id": "model", "object": "model"},'
    bomb = _gzip(b'{"object": "list", "data": [', line * (1024 * 1024 // len(line)), b'\n{"id": "m"}]}', times=400)
    small = _gzip(
        b'{"object": "list", "data": [{"id": "gpt-zipped", "object": "model", "created": 1, "owned_by": "x"}]}'
    )
    answers = {
        "bomb": ("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb),
        "small": ("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, small),
        "zstd": ("200 OK", {"Content-Type": "application/json", "Content-Encoding": "zstd"}, b"(\xb5/\xfd" * 100),
    }
    said = {}
    for name, answer in answers.items():
        server = HugeJSON(lambda method, path, answer=answer: answer)
        try:
            env = {**without_providers(chat_env), "OPENAI_BASE_URL": f"{server.url}/v1", "OPENAI_API_KEY": "sk-test"}
            decoded.clear()
            said[name] = (*measured(env, "models"), sum(decoded))
            assert all("accept-encoding: gzip, deflate\r\n" in head.lower() + "\r\n" for head in server.heads)
        finally:
            server.close()
    run, peak, inflated = said["bomb"]
    assert run.code == 4 and REFUSED in run.err, run
    assert peak < MEMORY_MB, f"peak {peak} MB"
    assert 0 < inflated < 2 * MAX_EVENT, f"{inflated:,} bytes decoded of 400 MB: not stopped at the cap"
    assert said["small"][0].code == 0 and said["small"][0].out.split() == ["gpt-zipped"], said["small"]
    run = said["zstd"][0]
    assert run.code == 4 and "Content-Encoding zstd, which chat did not ask for" in run.err, run


def _pages(row: Row) -> Callable[[str, str], Answer | None]:
    """A model list whose pages never end, in ``row``'s wire format: a hundred models a page, the same each time."""

    def answer(method: str, path: str) -> Answer | None:
        if row.name == "anthropic":
            data = [{"type": "model", "id": f"claude-{n}", "display_name": "C", "created_at": "2025-01-01T00:00:00Z"}
                    for n in range(100)]  # fmt: skip
            page = {"data": data, "has_more": True, "first_id": "claude-0", "last_id": "claude-99"}
        else:
            models = [{"name": f"models/gemini-{n}", "supportedGenerationMethods": ["generateContent"]}
                      for n in range(100)]  # fmt: skip
            page = {"models": models, "nextPageToken": "more"}
        return "200 OK", {"Content-Type": "application/json"}, json.dumps(page).encode()

    return answer


@pytest.mark.parametrize("row", [row for row in ROWS if row.name in ("anthropic", "google_genai")], ids=str)
def test_a_model_list_whose_pages_never_end_is_refused_in_one_line(row, chat_env):
    from chatcli.providers.base import MOST_MODELS

    installed(row)
    server = HugeJSON(_pages(row))
    try:
        env = {**without_providers(chat_env), **row.env(server), "CHATCLI_MODEL": row.model}
        run = chat(env, "models")
        assert run.code != 0 and f"lists more than {MOST_MODELS:,} models: the list is refused" in run.err, run
        asked = [head for head in server.heads if "/models" in head.split("\r\n")[0]]
        assert len(asked) <= MOST_MODELS // 100 + 1, f"{len(asked)} pages asked for: not stopped at the bound"
    finally:
        server.close()


def _settings(row: Row, server: Any) -> Any:
    from chatcli.config import load_settings

    env = row.env(server)
    return load_settings({"model": row.model}, environ=env)


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_a_window_probe_reads_no_huge_answer_and_says_nothing_of_it(row, huge, monkeypatch):
    """The window a server tells is asked once per endpoint and model, in the background of a first question: a
    huge answer is not one (None, as a server that does not tell), and it is read no further than the limit."""
    from chatcli.providers import provider_of

    installed(row)
    for name, value in row.env(huge).items():
        monkeypatch.setenv(name, value)
    settings = _settings(row, huge)
    chosen, model = provider_of(row.model)
    told = asyncio.run(chosen.window(settings, model))
    assert told is None or row.name == "ollama", told  # Ollama's: the window chat asks for, as when it is not told
    assert huge.sent < READ_AT_MOST


def test_a_window_probe_takes_its_time_limit_however_slowly_the_server_answers():
    """A server that answers a byte at a time, forever, has the probe's seconds and no more: each of its three
    questions (llama.cpp's /props, the model list, Ollama's /api/show) is one request in 1.5 s, body included.
    Measured by the server's own clock: it drips a byte each 0.1 s at most, so 1.5 s is some 15 bytes a request."""
    from chatcli.providers.openai_windows import told_window

    limit, pace = 1.5, 0.1
    stop = threading.Event()
    sock = socket.create_server(("127.0.0.1", 0))
    dripped: list[int] = []  # for each request, the bytes it was given until the probe left it

    def drip(conn: socket.socket) -> None:
        given = 0
        with conn:
            conn.recv(65536)
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"n_ctx": ')
            while not stop.wait(pace):
                try:
                    conn.sendall(b"1")
                except OSError:
                    break
                given += 1
        dripped.append(given)

    serve_each(sock, drip)
    try:
        assert asyncio.run(told_window(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", "m", timeout=limit)) is None
    finally:
        stop.set()
        sock.close()
    eventually(lambda: len(dripped) >= 3, "each request's dripping to end")
    assert len(dripped) == 3, dripped
    # (a probe with no whole-request limit would never return; one of 30 s would take 300 bytes a request)
    assert max(dripped) < 3 * limit / pace, f"bytes dripped to each request: {dripped}"


def test_an_agent_servers_huge_json_is_refused_in_one_line_in_bounded_time_and_memory(huge, chat_env):
    run, peak = measured(without_providers(chat_env), "--remote", huge.url, "hello")
    lines = run.err.strip().splitlines()
    assert run.code == 4 and len(lines) == 1 and REFUSED in lines[0], run
    assert huge.sent < READ_AT_MOST, "chat read the whole answer"
    assert peak < MEMORY_MB, f"peak {peak} MB"


def _unauthorised(server: HugeJSON) -> Callable[[str, str], Answer | None]:
    """An MCP server that asks for a login (401 to anything) and names its metadata, the huge document."""

    def answer(method: str, path: str) -> Answer | None:
        if path.startswith("/.well-known/"):
            return None
        metadata = f"{server.url}/.well-known/oauth-protected-resource"
        headers = {"Content-Type": "application/json", "WWW-Authenticate": f'Bearer resource_metadata="{metadata}"'}
        return "401 Unauthorized", headers, b'{"error": "invalid_token"}'

    return answer


def test_an_mcp_servers_huge_oauth_metadata_is_refused_in_one_line_in_bounded_time_and_memory(chat_env):
    server = HugeJSON()
    server.answer = _unauthorised(server)
    try:
        write_servers(chat_env, {"big": {"url": f"{server.url}/mcp"}})
        run, peak = measured(chat_env, "mcp", "login", "big", "--no-browser")
        errors = [line for line in run.err.splitlines() if line.startswith("chat: error")]
        assert run.code != 0 and len(errors) == 1 and REFUSED in errors[0], run
        assert server.sent < READ_AT_MOST, "chat read the whole answer"
        assert peak < MEMORY_MB, f"peak {peak} MB"
    finally:
        server.close()

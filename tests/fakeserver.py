"""A fake OpenAI-compatible HTTP server for tests and benchmarks (stdlib only).

Usage::

    from tests.fakeserver import FakeOpenAIServer, Reply, Fault, closed_port_url

    with FakeOpenAIServer() as server:           # 127.0.0.1, free port, daemon thread
        server.base_url                           # "http://127.0.0.1:PORT/v1"
        server.queue(Reply("Hello there"), Fault(status=429, headers={"retry-after": "0"}))
        ...                                       # point ChatOpenAI(base_url=server.base_url) at it
        server.requests                           # JSON bodies of chat requests received, in order
        server.last_messages()                    # "messages" of the last chat request

Endpoints
---------
``POST /v1/chat/completions``
    Each request consumes ONE scripted item from the FIFO queue (``server.queue``); when the queue
    is empty the *default reply* is used: ``"You said: <last user message>"`` followed, when there
    are earlier user messages, by ``" (earlier: <m1> | <m2> ...)"``.  Tests use it to prove that the
    client sent the history (streamed a token a chunk; one of more than ``LONG`` tokens ``CHUNK`` a chunk).  ``"stream": true`` gets real SSE over chunked transfer encoding (one
    HTTP chunk per event, flushed), in the OpenAI ``chat.completion.chunk`` format::

        delta {"role": "assistant", "content": ""}      first chunk
        delta {"content": tok}                           one per token
        delta {}, finish_reason                          ("stop" by default)
        choices [], usage {...}                          only if stream_options.include_usage
        data: [DONE]

    Non-streaming requests get a ``chat.completion`` JSON object.  ``model`` is echoed.
    Every response carries ``Connection: close``.
``GET /v1/models``
    ``{"object": "list", "data": [{"id": name, "object": "model", ...}]}`` for ``server.models``.

Scripted items
--------------
``Reply(text, *, delay=0.0, usage=None, finish_reason="stop", tokens=None)``
    ``delay``: seconds between streamed tokens.  ``tokens``: explicit token list (overrides the
    split of ``text``; text becomes their concatenation).  Text is split with
    ``re.findall(r"\\s*\\S+|\\s+", text)``, so joined tokens == text.
    ``usage``: ``None`` = send usage when the request asks (``stream_options.include_usage``;
    always in non-streaming bodies); ``True`` = always send a usage chunk; ``False`` = never (a
    server ignoring ``include_usage``); a dict overrides the counts.  prompt_tokens = number of
    whitespace-separated words in the request messages, completion_tokens = number of tokens.
    ``finish_reason=None`` behaves like ``Fault(no_finish=True)`` for this text.

``Fault(...)``: exactly one of these kinds per instance:
    ``Fault(status=N, headers={...}, message=None, body=None)``
        HTTP error N with an OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``
        (type/code chosen from N: 401 invalid_api_key, 403, 404 model_not_found, 429
        rate_limit_exceeded, 500/502/503 server_error).  ``body`` replaces the whole JSON body.
        Headers e.g. ``{"retry-after": "0"}``, ``{"retry-after-ms": "10"}``, ``{"x-should-retry": "false"}``.
    ``Fault(cut_after=N)``      stream N content tokens then close the socket (no finish, no [DONE],
                                no terminating zero-length HTTP chunk -> incomplete body).
    ``Fault(stall_after=N, stall=S)``  stream N tokens then go silent for S seconds (default 30;
                                wakes early on server shutdown), then close like ``cut_after``.
    ``Fault(malformed=True)``   a ``data: {not json`` event after the first ``malformed_after``
                                (default 2) tokens, then the rest of the stream as normal.
    ``Fault(empty=True)``       zero content tokens, then a normal finish and [DONE].
    ``Fault(no_finish=True)``   the tokens, then a clean end of the HTTP body: no finish_reason
                                chunk and no [DONE] ("truncated answer looks complete").
    Stream faults use ``text`` (default ``FAULT_TEXT``, 14 tokens) and ``delay``.  On a
    non-streaming request: cut/stall -> the connection is closed without a (complete) response,
    malformed -> invalid JSON body, empty -> content "", no_finish -> finish_reason null.

A request in absolute form (``POST http://api.example.invalid/v1/chat/completions``, as sent to an
HTTP proxy) is served like one for its path: with ``HTTP_PROXY`` set to the server, chat reaches it
under a public name (tests/test_cost.py: a hosted endpoint, priced from genai-prices' table).

A refused connection needs no server: ``closed_port_url()`` returns a base_url to a port with
nothing listening. ``on_a_reused_port()`` makes a server on the port the previous one it made had
(the tests' servers: see its docstring).

Other API: ``server.queue(*items)`` (returns the server), ``server.clear()``,
``server.pending()``, ``server.requests`` / ``server.request_headers`` (lists, appended under a
lock), ``server.last_messages()``, ``server.wait_for_requests(n, timeout)``,
``server.chunks_sent`` / ``server.streams_ended`` with ``server.wait_until_sent(chunks, ended)``
(what has been written to the client, whether or not it has read it), ``server.stalls`` (streams
gone silent as a ``Fault(stall_after=...)`` has them) and ``server.streams_cut`` (streams the client
left before their end) with ``server.wait_until(condition)``, ``server.start()`` /
``server.stop()`` (the context manager calls them).

Standalone (benchmarks, manual tries)::

    python -m tests.fakeserver --port 8765 [--reply-tokens N] [--delay SECONDS] [--verbose]

prints the base_url on stdout and serves default replies forever (``--reply-tokens N``: the
default reply becomes N tokens of lorem-ipsum markdown instead of the "You said" echo).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
from dataclasses import KW_ONLY, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any, Callable
from urllib.parse import urlsplit

from tests.fakes.embedding import Embedder

__all__ = [
    "FakeOpenAIServer",
    "Reply",
    "Fault",
    "closed_port_url",
    "on_a_reused_port",
    "tokenize",
    "lorem_markdown",
    "FAULT_TEXT",
    "Raw",
    "sse",
    "delta_chunk",
    "protocol_error",
    "tool_calls",
    "tool_request_error",
    "DEFAULT_MODELS",
]

FAULT_TEXT = "The quick brown fox jumps over the lazy dog and then runs far away again"
DEFAULT_MODELS = ("gpt-fake", "gpt-4o-mini", "gpt-4o")

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into small tokens keeping whitespace: ``"".join(tokenize(t)) == t``."""
    return _TOKEN_RE.findall(text)


@dataclass
class Reply:
    text: str = ""
    _: KW_ONLY
    delay: float = 0.0
    usage: bool | dict | None = None
    finish_reason: str | None = "stop"
    tokens: list[str] | None = None
    thinking: str = ""  # streamed before the text, as the provider streams thinking (here: delta.reasoning_content)

    def __post_init__(self) -> None:
        if self.tokens is not None:
            self.tokens = list(self.tokens)
            self.text = "".join(self.tokens)

    def token_list(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else tokenize(self.text)


# An answer the fake makes up past this many tokens is streamed this many a chunk, as a provider streams a long
# answer: the client parses each chunk whole (Gemini's SDK builds a model object of each), so an echo of a 350 kB
# question a token each took that SDK 15 s. Its echo, unpaced (no ``delay``), is chunked past ``ECHO_LONG``: the echo
# of a long history (each earlier question is in it) took a test's many turns most of their CPU; the fakes of the
# other providers (tests/fakes) make their echo the same way. A sentence still
# comes a token a chunk; a paced answer (``delay``: a test that acts while it streams) and a default reply a test set
# (``--reply-tokens``) past ``LONG`` only; a reply a test queues comes as it says.
LONG, ECHO_LONG, CHUNK = 2000, 100, 64


def made_up(text: str, delay: float = 0.0, long: int = LONG) -> Reply:
    """The fake's own answer of ``text`` (no reply queued): a token a chunk, or ``CHUNK`` a chunk past ``long``."""
    tokens = tokenize(text)
    if len(tokens) <= long:
        return Reply(text, delay=delay)
    return Reply(tokens=["".join(tokens[i : i + CHUNK]) for i in range(0, len(tokens), CHUNK)], delay=delay)


@dataclass
class Fault:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    body: dict | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    stall: float = 30.0
    malformed: bool = False
    malformed_after: int = 2
    empty: bool = False
    no_finish: bool = False
    text: str = FAULT_TEXT
    delay: float = 0.0

    def __post_init__(self) -> None:
        kinds = [
            self.status is not None,
            self.cut_after is not None,
            self.stall_after is not None,
            self.malformed,
            self.empty,
            self.no_finish,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "Fault needs exactly one of status=, cut_after=, stall_after=, malformed=, empty=, no_finish="
            )


@dataclass
class Calls:
    """A reply asking for tool ``calls`` ((name, arguments) or (name, arguments, id)), after optional ``thinking``
    and ``text``: the same item for every provider's fake, each streams it in its own wire format."""

    calls: list[tuple] = field(default_factory=list)
    text: str = ""
    thinking: str = ""


@dataclass
class Raw:
    """A 200 response written exactly as given: ``parts`` are bytes to send (one HTTP chunk each),
    floats (seconds to wait between them) or functions (called there: one that waits for an event holds the
    response until it happens), under ``content_type``. For answers that are not
    what an OpenAI-compatible server sends: an HTML page, a plain JSON body, only ``[DONE]``,
    SSE comments that keep the connection alive without content."""

    parts: list[bytes | float | Callable[[], object]] = field(default_factory=list)
    content_type: str = "text/event-stream; charset=utf-8"


def sse(obj: Any) -> bytes:
    """One SSE event carrying ``obj`` as JSON (written as is: lone surrogates stay escaped)."""
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def delta_chunk(delta: dict, *, finish_reason: str | None = None, usage: Any = None, model: Any = "gpt-fake") -> dict:
    """A ``chat.completion.chunk`` with one choice holding ``delta``."""
    chunk: dict[str, Any] = {
        "id": "chatcmpl-raw", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }  # fmt: skip
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def tool_calls(*calls: tuple, text: str = "", split: int = 3, usage: Any = None, model: str = "gpt-fake") -> Raw:
    """A streamed reply asking for tool ``calls`` ((name, arguments) or (name, arguments, id)),
    as OpenAI streams it: optional text first, then each call's id and name in one chunk and its
    arguments (a dict, sent as JSON, or a raw string) split across ``split`` more chunks."""
    parts: list[bytes | float] = []
    if text:
        parts.append(sse(delta_chunk({"role": "assistant", "content": text}, model=model)))
    for index, call in enumerate(calls):
        name, arguments = call[0], call[1]
        call_id = call[2] if len(call) > 2 else f"call_{index}_{name}"
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        parts.append(sse(delta_chunk({"role": "assistant", "content": None, "tool_calls": [head]}, model=model)))
        size = max(1, -(-len(raw) // split))
        for start in range(0, len(raw), size):
            piece = {"index": index, "function": {"arguments": raw[start : start + size]}}
            parts.append(sse(delta_chunk({"tool_calls": [piece]}, model=model)))
    parts.append(sse(delta_chunk({}, finish_reason="tool_calls", model=model)))
    if usage is not None:
        parts.append(sse({**delta_chunk({}, model=model), "choices": [], "usage": usage}))
    parts.append(b"data: [DONE]\n\n")
    return Raw(parts)


def tool_request_error(body: dict) -> str | None:
    """What OpenAI says (400) of a ``tools`` parameter it cannot take, or None."""
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list) or not tools:
        return "Invalid 'tools': empty array. Expected an array with minimum length 1."
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(name, str)
            or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name)
        ):
            return f"Invalid 'tools[{i}].function.name': string does not match pattern '^[a-zA-Z0-9_-]+$'."
    return None


def protocol_error(messages: list[dict]) -> str | None:
    """What OpenAI says (400) of a message list that breaks the tool-call protocol, or None."""
    for i, message in enumerate(messages):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if message.get("role") == "assistant" and calls:
            answered = {m.get("tool_call_id") for m in messages[i + 1 :] if m.get("role") == "tool"}
            missing = [c.get("id") for c in calls if c.get("id") not in answered]
            if missing:
                return (
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(missing)}"
                )
        if message.get("role") == "tool" and not any(
            m.get("tool_calls") for m in messages[:i] if m.get("role") == "assistant"
        ):
            return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
    return None


_ERROR_KINDS = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-test."),
    403: ("permission_denied", "unsupported_country_region_territory", "You are not allowed to use this model."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    408: ("timeout", None, "Request timed out."),
    409: ("conflict", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for {model}. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def _error_body(status: int, model: str, message: str | None) -> dict:
    etype, code, default_msg = _ERROR_KINDS.get(status, ("server_error", None, f"HTTP {status}."))
    return {
        "error": {
            "message": message if message is not None else default_msg.format(model=model),
            "type": etype,
            "param": None,
            "code": code,
        }
    }


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return str(content)


def echo_reply(messages: list[dict]) -> str:
    """The default reply: proves which user messages the client sent."""
    users = [_text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return "You said: "
    text = "You said: " + users[-1]
    if len(users) > 1:
        text += " (earlier: " + " | ".join(users[:-1]) + ")"
    return text


def _prompt_words(messages: list[dict]) -> int:
    return sum(len(_text_of(m.get("content")).split()) for m in messages if isinstance(m, dict))


_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut "
    "aliquip ex ea commodo consequat duis aute irure dolor in reprehenderit in voluptate velit esse "
    "cillum dolore eu fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt in "
    "culpa qui officia deserunt mollit anim id est laborum"
).split()


def lorem_markdown(n_tokens: int) -> str:
    """Deterministic lorem-ipsum markdown that tokenizes into exactly ``n_tokens`` tokens."""
    if n_tokens <= 0:
        return ""
    pieces: list[str] = []
    w = 0
    section = 0

    def word() -> str:
        nonlocal w
        out = _LOREM[w % len(_LOREM)]
        w += 1
        return out

    n_words = 0  # every token but a trailing whitespace one holds exactly one word
    while n_words < n_tokens:
        section += 1
        pieces.append(f"{chr(10) * 2 if section > 1 else ''}## Section {section}: {word().capitalize()} {word()}\n\n")
        sentence = [word() for _ in range(14)]
        sentence[0] = sentence[0].capitalize()
        sentence[3] = f"**{sentence[3]}**"
        sentence[8] = f"`{sentence[8]}()`"
        pieces.append(" ".join(sentence) + ".\n\n")
        for _ in range(3):
            pieces.append("- " + " ".join(word() for _ in range(6)) + "\n")
        pieces.append(f'\n```python\nprint("{word()} {word()}")\n```\n')
        n_words = len("".join(pieces).split())
    return "".join(tokenize("".join(pieces))[:n_tokens])


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    fake: "FakeOpenAIServer"  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.fake.verbose:
            sys.stderr.write("fakeserver: " + (format % args) + "\n")

    # ---- helpers ------------------------------------------------------------------------

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, payload: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            self.fake._cut()
            raise _ClientGone from exc
        self.fake._count(ended=not payload)

    def _event(self, obj: Any) -> None:
        self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def _end_body(self) -> None:
        self._chunk(b"")  # zero-length chunk: b"0\r\n\r\n"

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.fake._stopping.wait(seconds):
            raise _ClientGone  # server shutting down: abort this response

    def _abort(self) -> None:
        """Close the connection without finishing the response body."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- routes -------------------------------------------------------------------------

    def _route(self) -> str:
        """The path asked for, of an origin-form target (``/v1/models``) or, through a proxy, an
        absolute-form one (``http://api.example.invalid/v1/models``)."""
        return urlsplit(self.path).path.rstrip("/")

    def _embeddings(self, raw: bytes) -> None:
        """``POST /v1/embeddings``: OpenAI's answer, each vector as floats or (``"encoding_format": "base64"``, as
        the openai SDK asks by default) as little-endian float32 in base64."""
        import base64
        import struct

        try:
            body = json.loads(raw or b"{}")
            texts = body["input"] if isinstance(body.get("input"), list) else [body["input"]]
            if not all(isinstance(t, str) for t in texts):
                raise ValueError("input must be text")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._send_json(400, _error_body(400, "", f"Invalid embeddings request: {exc}"))
            return
        made = self.fake.embeddings.answer(texts)
        if isinstance(made, int):
            self._send_json(made, _error_body(made, "", "The server had an error while processing your request."))
            return
        as_text = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_text else v,
            }
            for i, v in enumerate(made)
        ]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    def do_GET(self) -> None:
        path = self._route()
        if path in ("/v1/models", "/models"):
            created = int(time.time())
            data = [
                {"id": m, "object": "model", "created": created, "owned_by": "fakeserver"} for m in self.fake.models
            ]
            if self.fake.tells_window == "vllm":
                data = [{**entry, "max_model_len": self.fake.window} for entry in data]
            elif self.fake.tells_window == "lmstudio":
                data = [{**entry, "max_context_length": self.fake.window} for entry in data]
            self._send_json(200, {"object": "list", "data": data})
        elif path == "/props" and self.fake.tells_window == "llama":
            self._send_json(200, {"default_generation_settings": {"n_ctx": self.fake.window}, "total_slots": 1})
        else:
            self._send_json(404, _error_body(404, "", f"Unknown path {self.path}"))

    def do_POST(self) -> None:
        path = self._route()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path == "/api/show" and self.fake.tells_window == "ollama":
            self._send_json(
                200,
                {
                    "parameters": f"num_ctx {self.fake.window}\nstop <|end|>",
                    "model_info": {"llama.context_length": 131072},
                },
            )
            return
        if path in ("/v1/embeddings", "/embeddings"):
            self._embeddings(raw)
            return
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(404, "", f"Unknown path {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            self._send_json(400, _error_body(400, "", f"Invalid JSON body: {exc}"))
            return
        words = _prompt_words([m for m in body.get("messages") or [] if isinstance(m, dict)])
        window = self.fake.model_windows.get(str(body.get("model")), self.fake.window)
        if window is not None and words > window:
            with self.fake._cond:
                self.fake.requests.append(body)
                self.fake.request_headers.append(dict(self.headers.items()))
                self.fake._cond.notify_all()
            self._over_window(words, window)
            return
        refused = protocol_error([m for m in body.get("messages") or [] if isinstance(m, dict)]) or tool_request_error(
            body
        )
        if not self.fake.vision and any(
            isinstance(part, dict) and part.get("type") == "image_url"
            for m in body.get("messages") or []
            if isinstance(m, dict) and isinstance(m.get("content"), list)
            for part in m["content"]
        ):
            refused = "Invalid content type. image_url is only supported by certain models."
        if body.get("tools") is not None and not self.fake.tool_support:
            refused = f"registry.ollama.ai/library/{body.get('model')} does not support tools"
        # A refused request is recorded but leaves the queued replies for the next one.
        item = self.fake._record_and_pop(body, dict(self.headers.items()), pop=not refused)
        if refused:
            self._send_json(400, _error_body(400, "", refused))
            return
        try:
            if isinstance(item, Calls):
                item = tool_calls(*item.calls, text=item.text, model=str(body.get("model") or "gpt-fake"))
            if isinstance(item, Raw):
                self._serve_raw(item)
                return
            self._serve_chat(body, item)
        except _ClientGone:
            self._abort()

    def _over_window(self, words: int, window: int) -> None:
        """Refuse a request over ``window`` (counted in words) as the server kind would."""
        style = self.fake.window_style
        if style == "openai":
            message = (
                f"This model's maximum context length is {window} tokens. However, your messages resulted in "
                f"{words} tokens. Please reduce the length of the messages."
            )
            body = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            }
            self._send_json(400, body)
        elif style == "llama":
            body = {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                              "type": "exceed_context_size_error", "n_prompt_tokens": words, "n_ctx": window}}  # fmt: skip
            self._send_json(400, body)
        else:  # llama-cpp-python: a 200 whose stream ends before any answer
            self._serve_raw(Raw([b"data: [DONE]\n\n"]))

    def _serve_raw(self, item: Raw) -> None:
        self.send_response(200)
        self.send_header("Content-Type", item.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        for part in item.parts:
            if isinstance(part, (int, float)):
                self._wait(part)
            elif callable(part):
                part()
            else:
                self._chunk(part)
        self._end_body()

    def _serve_chat(self, body: dict, item: Reply | Fault | None) -> None:
        fake = self.fake
        model = str(body.get("model") or fake.models[0])
        messages = body.get("messages") or []
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        if item is None:
            echo = fake.default_reply is None and not fake.delay
            item = made_up(fake._default_text(messages), fake.delay, ECHO_LONG if echo else LONG)

        if isinstance(item, Fault) and item.status is not None:
            err = item.body if item.body is not None else _error_body(item.status, model, item.message)
            self._send_json(item.status, err, item.headers)
            return

        # Normalise to: tokens, delay, finish, usage policy, and a fault mode.
        if isinstance(item, Fault):
            tokens = [] if item.empty else tokenize(item.text)
            delay, finish, usage_policy = item.delay, "stop", None
        else:
            tokens, delay, finish, usage_policy = item.token_list(), item.delay, item.finish_reason, item.usage
        fault = item if isinstance(item, Fault) else None
        if fault is not None and fault.no_finish:
            finish = None

        cid = f"chatcmpl-fake{next(fake._ids):06d}"
        created = int(time.time())

        def usage_obj(n_out: int) -> dict:
            u = {
                "prompt_tokens": _prompt_words(messages),
                "completion_tokens": n_out,
                "total_tokens": 0,
            }
            if isinstance(usage_policy, dict):
                u.update(usage_policy)
            if not (isinstance(usage_policy, dict) and "total_tokens" in usage_policy):
                u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
            return u

        if not stream:
            self._serve_plain(cid, created, model, tokens, finish, usage_policy, usage_obj, fault)
            return

        send_usage = include_usage if usage_policy is None else usage_policy is not False

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            c = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if send_usage:
                c["usage"] = None
            return c

        self._start_stream()
        self._event(chunk({"role": "assistant", "content": ""}))
        for piece in tokenize(item.thinking) if isinstance(item, Reply) else []:
            self._event(chunk({"reasoning_content": piece}))
        sent = 0
        for i, tok in enumerate(tokens):
            if fault is not None:
                if fault.cut_after is not None and i >= fault.cut_after:
                    self._abort()
                    return
                if fault.stall_after is not None and i >= fault.stall_after:
                    self._stall(fault.stall)
                    return
                if fault.malformed and i == fault.malformed_after:
                    self._chunk(b"data: {not json\n\n")
            if i and delay:
                self._wait(delay)
            self._event(chunk({"content": tok}))
            sent += 1
        if fault is not None:
            if fault.cut_after is not None:
                self._abort()
                return
            if fault.stall_after is not None:
                self._stall(fault.stall)
                return
            if fault.malformed and len(tokens) <= fault.malformed_after:
                self._chunk(b"data: {not json\n\n")
        if finish is None:  # no_finish: clean end of body, no finish chunk, no [DONE]
            self._end_body()
            return
        self._event(chunk({}, finish))
        if send_usage:
            self._event(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage_obj(sent),
                }
            )
        self._chunk(b"data: [DONE]\n\n")
        self._end_body()

    def _stall(self, seconds: float) -> None:
        with self.fake._cond:
            self.fake.stalls += 1
            self.fake._cond.notify_all()
        self.fake._stopping.wait(seconds)
        self._abort()

    def _serve_plain(self, cid, created, model, tokens, finish, usage_policy, usage_obj, fault) -> None:
        if fault is not None and (fault.cut_after is not None or fault.stall_after is not None):
            if fault.stall_after is not None:
                self.fake._stopping.wait(fault.stall)
            else:  # headers promising more body than we send
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b'{"id": "' + cid.encode() + b'", "object": "chat.co')
                except OSError:
                    pass
            self._abort()
            return
        if fault is not None and fault.malformed:
            data = b"{not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            return
        obj = {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(tokens), "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
        }
        if usage_policy is not False:
            obj["usage"] = usage_obj(len(tokens))
        self._send_json(200, obj)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, _ClientGone)):
            return
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A scripted OpenAI-compatible server on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        default_reply: str | Callable[[list[dict]], str] | None = None,
        delay: float = 0.0,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.models = list(models)
        self.default_reply = default_reply
        self.delay = delay
        self.verbose = verbose
        self.requests: list[dict] = []
        self.request_headers: list[dict[str, str]] = []
        self.embeddings = Embedder()  # what embedding requests asked for (tests/fakes/embedding.py), their faults
        # A context window (in words of the request's messages): longer requests are refused
        # the way window_style says ("openai": 400 context_length_exceeded, "llama": llama.cpp's
        # 400 exceed_context_size_error, "empty": llama-cpp-python's empty 200 stream).
        self.window: int | None = None
        self.model_windows: dict[str, int] = {}  # a window for one model alone, over ``window``
        self.window_style = "openai"
        # Whether the server tells its window up front: "llama" (GET /props), "vllm"
        # (max_model_len in /v1/models), "lmstudio" (max_context_length there), "ollama"
        # (POST /api/show), or None.
        self.tells_window: str | None = None
        # False: refuse any request with a ``tools`` parameter, as Ollama does for a model without tool support.
        self.tool_support = True
        # False: refuse any request with an image part, as OpenAI does for a model without vision.
        self.vision = True
        # Chunks of streamed responses written so far, and streamed responses written to their end.
        self.chunks_sent = 0
        self.streams_ended = 0
        self.stalls = 0  # streams gone silent (Fault(stall_after=...)), counted as the silence begins
        self.streams_cut = 0  # streams the client left before their end (a chunk could not be written)
        self._items: list[Reply | Fault] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._ids = count(1)
        handler = type("FakeOpenAIHandler", (_Handler,), {"fake": self})
        self._httpd = _HTTPServer((host, port), handler)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "FakeOpenAIServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeserver", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalls and delays
        if self._thread is not None:
            # shutdown() waits for the serving loop to notice, which it does between waits for a
            # connection (poll_interval): a connection wakes it at once, so a stop takes about
            # a millisecond instead of up to a poll interval (once per test, for most tests).
            stopper = threading.Thread(target=self._httpd.shutdown, name="fakeserver-stop", daemon=True)
            stopper.start()
            while stopper.is_alive():
                try:
                    socket.create_connection((self.host, self.port), timeout=0.2).close()
                except OSError:
                    pass
                stopper.join(0.01)
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (used by the command line)."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self._httpd.server_close()

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- script -------------------------------------------------------------------------

    def queue(self, *items: Reply | Fault | Raw | Calls) -> "FakeOpenAIServer":
        for it in items:
            if not isinstance(it, (Reply, Fault, Raw, Calls)):
                raise TypeError(f"queue() takes Reply, Fault, Calls or Raw items, not {type(it).__name__}")
        with self._lock:
            self._items.extend(items)
        return self

    def clear(self) -> None:
        """Drop pending scripted items and the recorded requests."""
        with self._lock:
            self._items.clear()
            self.requests.clear()
            self.request_headers.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    def last_messages(self) -> list[dict]:
        with self._lock:
            return list(self.requests[-1].get("messages") or []) if self.requests else []

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least n chat requests were received; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n, timeout)

    def wait_until_sent(self, chunks: int = 0, ended: int = 0, timeout: float = 10.0) -> bool:
        """Block until ``chunks`` streamed chunks (tokens, tool-call pieces) and ``ended`` whole streamed
        responses have been written to the client's connection; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.chunks_sent >= chunks and self.streams_ended >= ended, timeout)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``condition()`` holds (checked as requests, chunks and stalls are counted); False on timeout."""
        with self._cond:
            return self._cond.wait_for(condition, timeout)

    # ---- internals ----------------------------------------------------------------------

    def _count(self, ended: bool) -> None:
        with self._cond:
            self.chunks_sent += 1
            self.streams_ended += ended
            self._cond.notify_all()

    def _cut(self) -> None:
        with self._cond:
            self.streams_cut += 1
            self._cond.notify_all()

    def _record_and_pop(self, body: dict, headers: dict[str, str], pop: bool = True) -> Reply | Fault | None:
        with self._cond:
            self.requests.append(body)
            self.request_headers.append(headers)
            item = self._items.pop(0) if self._items and pop else None
            self._cond.notify_all()
            return item

    def _default_text(self, messages: list[dict]) -> str:
        if self.default_reply is None:
            return echo_reply(messages)
        if callable(self.default_reply):
            return self.default_reply(messages)
        return self.default_reply


_last_port: list[int] = []  # the port of the last server on_a_reused_port() made in this process


def on_a_reused_port(**options: Any) -> FakeOpenAIServer:
    """A new FakeOpenAIServer on the port of the last one this made, or any free port if that is taken.

    What the tests use: with the same base URL, chatcli's OpenAI client (and the tests' own
    ChatOpenAI) reuses the HTTP client langchain-openai keeps per URL instead of building one,
    whose TLS context alone costs some 40 ms of CPU to load the system's CA certificates: about
    a sixth of the fast test run. Each test still has a server of its own, and as every response
    carries ``Connection: close``, no connection of one test's server reaches the next.
    """
    try:
        server = FakeOpenAIServer(port=_last_port[0] if _last_port else 0, **options)
    except OSError:  # still listening (a server in use), or taken by another program meanwhile
        server = FakeOpenAIServer(**options)
    _last_port[:] = [server.port]
    return server


_held_sockets: list[socket.socket] = []


def closed_port_url(host: str = "127.0.0.1") -> str:
    """base_url to a port where nothing listens (connections are refused).

    The port stays bound (not listening) by this process so nothing else can take it.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    _held_sockets.append(s)
    return f"http://{host}:{s.getsockname()[1]}/v1"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fakeserver", description="Fake OpenAI-compatible server.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 = any free port (default 8765)")
    p.add_argument("--reply-tokens", type=int, default=None, help="default reply = N tokens of lorem markdown")
    p.add_argument("--delay", type=float, default=0.0, help="seconds between streamed tokens")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = p.parse_args(argv)
    default = lorem_markdown(args.reply_tokens) if args.reply_tokens is not None else None
    server = FakeOpenAIServer(args.host, args.port, default_reply=default, delay=args.delay, verbose=args.verbose)
    print(server.base_url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

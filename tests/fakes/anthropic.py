"""A fake Anthropic Messages API server on 127.0.0.1, scripted as tests/fakeserver.py's (stdlib only).

Usage::

    from tests.fakes.anthropic import FakeAnthropicServer, StreamError
    from tests.fakeserver import Reply, Fault, Calls

    with FakeAnthropicServer() as server:       # ANTHROPIC_BASE_URL=server.base_url (no /v1)
        server.queue(Reply("Hi", thinking="..."), Calls([("read_file", {"path": "a"})]), Fault(status=529))
        server.requests                          # the JSON bodies received, in order

The same scripting API as FakeOpenAIServer (``queue``, ``requests``, ``request_headers``,
``wait_for_requests``, ``wait_until_sent``, ``wait_until``, ``stalls``, ``window``, ``models``,
the default "You said: ..." echo), each item sent in Anthropic's wire format:

``POST /v1/messages``
    Checked first as the real API checks it (tests/fakes/anthropic_rules.py): a refused request
    is a 400 ``invalid_request_error`` and leaves the queue alone. ``stream: true`` gets SSE
    events: ``message_start``, ``ping``, per block ``content_block_start`` / ``content_block_delta``
    (``thinking_delta`` then ``signature_delta``; ``text_delta``; ``input_json_delta`` for a
    ``tool_use``) / ``content_block_stop``, ``message_delta`` (``stop_reason`` and the usage, with
    the cache's counts) and ``message_stop``. Without ``stream`` one JSON message.
    A request over ``window`` (words of the system prompt and messages) is refused as the API
    does: ``prompt is too long: N tokens > W maximum``.
``GET /v1/models``
    Anthropic's list (``data`` of ``{"type": "model", "id", "display_name", "created_at"}``,
    ``has_more``, ``first_id``, ``last_id``), paged by ``limit`` (default 20) and ``after_id``.

Items: ``Reply(text, thinking=...)`` (the thinking block is signed; the signature is checked when
it comes back), ``Calls([(name, args, id)], text=, thinking=)``, ``Fault(status=N)`` as
Anthropic's error JSON (``{"type": "error", "error": {"type": "overloaded_error", ...}}``: 400,
401, 403, 404, 413, 429, 500, 529), ``Fault(cut_after=N)``, ``Fault(stall_after=N)``,
``Fault(malformed=True)``, ``Fault(empty=True)``, ``Fault(no_finish=True)``, ``Raw(parts)``, and
``StreamError(after=N, kind=...)``: N text tokens, then an ``error`` event, as the API sends an
overload in the middle of an answer.

The prompt cache is simulated: each ``cache_control`` breakpoint writes the prefix up to it (tools,
system, messages, in that order); a later request reads the longest written prefix that it
starts with, found at a block boundary no more than 20 blocks before one of its own breakpoints,
as the API looks back. ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` count
their words; ``input_tokens`` the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.anthropic_rules import blocks, request_error, signature
from tests.fakeserver import (
    ECHO_LONG,
    LONG,
    Calls,
    FakeOpenAIServer,
    Fault,
    Raw,
    Reply,
    _ClientGone,
    _Handler,
    made_up,
    tokenize,
)

DEFAULT_MODELS = ("claude-fake", "claude-sonnet-4-6", "claude-haiku-4-5")
LOOKBACK = 20  # block boundaries the API looks back from a breakpoint for a cached prefix

_ERRORS = {
    400: ("invalid_request_error", "Bad request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


@dataclass
class StreamError:
    """``after`` text tokens of ``text``, then an ``error`` event of ``kind`` (how the API says an overload mid-answer)."""

    after: int = 3
    kind: str = "overloaded_error"
    message: str = "Overloaded"
    text: str = "one two three four five six seven"


def error_body(status: int, model: str = "", message: str | None = None, kind: str | None = None) -> dict:
    """Anthropic's error JSON for ``status``."""
    default_kind, default_message = _ERRORS.get(status, ("api_error", f"HTTP {status}"))
    return {
        "type": "error",
        "error": {"type": kind or default_kind, "message": message or default_message.format(model=model)},
        "request_id": "req_fake",
    }


def words(value: Any) -> int:
    """Words in the text of a block, a message or a list of them: the fake's token count."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(words(v) for v in value)
    if isinstance(value, dict):
        return sum(words(value.get(k)) for k in ("text", "thinking", "content", "input") if k in value) + (
            len(json.dumps(value["input"]).split()) if isinstance(value.get("input"), dict) else 0
        )
    return 0


def echo(messages: list[dict]) -> str:
    """The default answer: the last question, and the earlier ones (tool results are not questions)."""
    asked = []
    for m in messages:
        texts = [b["text"] for b in blocks(m.get("content")) if b.get("type") == "text"]
        if m.get("role") == "user" and texts:
            asked.append("".join(texts))
    if not asked:
        return "You said: "
    return "You said: " + asked[-1] + (" (earlier: " + " | ".join(asked[:-1]) + ")" if len(asked) > 1 else "")


def _units(body: dict) -> list[tuple[Any, bool]]:
    """The request as the cache sees it: (block without its breakpoint, whether it has one), in prompt order."""
    found: list[tuple[Any, bool]] = [(("tool", t), "cache_control" in t) for t in body.get("tools") or []]
    system = body.get("system")
    system = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    found += [(("system", b), "cache_control" in b) for b in system]
    for i, message in enumerate(body["messages"]):
        for b in blocks(message["content"]):
            found.append(((i, message["role"], b), "cache_control" in b))
    return [(_without_breakpoint(unit), marked) for unit, marked in found]


def _without_breakpoint(unit: Any) -> Any:
    head, block = unit[:-1], unit[-1]
    return (*head, {k: v for k, v in block.items() if k != "cache_control"})


class _Cache:
    """Prefixes written at breakpoints, by a hash of the model and the blocks up to there."""

    def __init__(self) -> None:
        self.written: set[str] = set()

    @staticmethod
    def _key(model: str, units: list[Any]) -> str:
        return hashlib.sha256(json.dumps([model, units], sort_keys=True, default=str).encode()).hexdigest()

    def use(self, body: dict, minimum: int) -> tuple[int, int, int]:
        """(input, cache creation, cache read) words of ``body``, and the prefixes it writes kept."""
        units = _units(body)
        plain = [u for u, _ in units]
        sizes = [words(u[-1]) for u in plain]
        marks = [i + 1 for i, (_, marked) in enumerate(units) if marked]
        read = 0
        for mark in marks:
            for end in range(mark, max(0, mark - LOOKBACK) - 1, -1):
                if end > read and self._key(body["model"], plain[:end]) in self.written:
                    read = end
                    break
        last = marks[-1] if marks else 0
        for mark in marks:
            if sum(sizes[:mark]) >= minimum:
                self.written.add(self._key(body["model"], plain[:mark]))
        read_words = sum(sizes[:read])
        created = sum(sizes[read:last]) if last > read and sum(sizes[:last]) >= minimum else 0
        return sum(sizes) - read_words - created, created, read_words


class _AnthropicHandler(_Handler):
    server_version = "FakeAnthropic/1.0"
    fake: "FakeAnthropicServer"

    def _sse(self, name: str, data: dict) -> None:
        self._chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    def do_GET(self) -> None:
        if self._route() not in ("/v1/models", "/models"):
            self._send_json(404, error_body(404, message=f"Not found: {self.path}"))
            return
        query = parse_qs(urlsplit(self.path).query)
        limit = int((query.get("limit") or ["20"])[0])
        names = list(self.fake.models)
        after = (query.get("after_id") or [None])[0]
        start = names.index(after) + 1 if after in names else 0
        page = names[start : start + limit]
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-09-29T00:00:00Z",
            }
            for m in page
        ]
        self._send_json(200, {"data": data, "has_more": start + limit < len(names),
                              "first_id": page[0] if page else None, "last_id": page[-1] if page else None})  # fmt: skip

    def do_POST(self) -> None:
        if self._route() not in ("/v1/messages", "/messages"):
            self._send_json(404, error_body(404, message=f"Not found: {self.path}"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) if length else b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            self._send_json(400, error_body(400, message=f"Invalid JSON body: {exc}"))
            return
        headers = dict(self.headers.items())
        refused = self._refusal(body, headers)
        item = self.fake._record_and_pop(body, headers, pop=refused is None)
        if refused is not None:
            status, message = refused
            self._send_json(status, error_body(status, message=message))
            return
        try:
            self._answer(body, item)
        except _ClientGone:
            self._abort()

    def _refusal(self, body: dict, headers: dict[str, str]) -> tuple[int, str] | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        if not lowered.get("x-api-key") and not lowered.get("authorization"):
            return 401, "x-api-key header is required"
        if not lowered.get("anthropic-version"):
            return 400, "anthropic-version: header is required"
        said = request_error(body)
        if said:
            return 400, said
        window = self.fake.window
        size = words(body.get("system")) + sum(words(blocks(m.get("content"))) for m in body["messages"])
        if window is not None and size > window:
            return 400, f"prompt is too long: {size} tokens > {window} maximum"
        return None

    def _answer(self, body: dict, item: Any) -> None:
        fake, model = self.fake, str(body.get("model"))
        if isinstance(item, Fault) and item.status is not None:
            sent = item.body if item.body is not None else error_body(item.status, model, item.message)
            self._send_json(item.status, sent, {"request-id": "req_fake", **item.headers})
            return
        if isinstance(item, Raw):
            self._serve_raw(item)
            return
        if item is None:
            echoed = fake.default_reply is echo and not fake.delay
            item = made_up(fake._default_text(body["messages"]), fake.delay, ECHO_LONG if echoed else LONG)
        counts = fake.cache.use(body, fake.cache_minimum)
        if not body.get("stream"):
            self._send_json(200, self._message(body, item, counts))
            return
        self._start_stream()
        self._stream(body, item, counts)

    def _message(self, body: dict, item: Any, counts: tuple[int, int, int]) -> dict:
        """The whole answer as one JSON message (a request without ``stream``)."""
        content: list[dict] = []
        thinking = getattr(item, "thinking", "")
        if thinking:
            content.append({"type": "thinking", "thinking": thinking, "signature": signature(thinking)})
        text = item.text if isinstance(item, (Reply, Calls, Fault)) else ""
        if text:
            content.append({"type": "text", "text": text})
        for index, call in enumerate(item.calls if isinstance(item, Calls) else []):
            content.append({"type": "tool_use", "id": _call_id(call, index), "name": call[0], "input": call[1]})
        stop = "tool_use" if isinstance(item, Calls) else _STOP.get(getattr(item, "finish_reason", "stop") or "stop")
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"], "content": content,
                "stop_reason": stop, "stop_sequence": None, "usage": _usage(counts, words(text) + words(thinking))}  # fmt: skip

    def _stream(self, body: dict, item: Any, counts: tuple[int, int, int]) -> None:
        fake = self.fake
        message = {"id": f"msg_fake{next(fake._ids):06d}", "type": "message", "role": "assistant",
                   "model": body["model"], "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {**_usage(counts, 1)}}  # fmt: skip
        self._sse("message_start", {"type": "message_start", "message": message})
        self._sse("ping", {"type": "ping"})
        index, out = 0, 0
        thinking = getattr(item, "thinking", "") if isinstance(item, (Reply, Calls)) else ""
        if thinking:
            self._block(index, {"type": "thinking", "thinking": "", "signature": ""})
            for piece in tokenize(thinking):
                self._delta(index, {"type": "thinking_delta", "thinking": piece})
            self._delta(index, {"type": "signature_delta", "signature": signature(thinking)})
            self._sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index, out = index + 1, out + len(tokenize(thinking))
        fault = item if isinstance(item, (Fault, StreamError)) else None
        text = item.text if not isinstance(item, Reply) else ""
        tokens = (
            item.token_list() if isinstance(item, Reply) else [] if getattr(item, "empty", False) else tokenize(text)
        )
        if tokens:
            self._block(index, {"type": "text", "text": ""})
            for i, token in enumerate(tokens):
                if self._faulted(fault, i):
                    return
                if i and getattr(item, "delay", 0):
                    self._wait(item.delay)
                self._delta(index, {"type": "text_delta", "text": token})
            if self._faulted(fault, len(tokens), end=True):
                return
            self._sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index, out = index + 1, out + len(tokens)
        for number, call in enumerate(item.calls if isinstance(item, Calls) else []):
            self._call(index, call, number)
            index += 1
        if isinstance(fault, Fault) and fault.no_finish:
            self._end_body()
            return
        reason = "tool_use" if isinstance(item, Calls) else _STOP.get(getattr(item, "finish_reason", "stop") or "stop")
        usage = _usage(counts, out)
        if isinstance(item, Reply) and isinstance(item.usage, dict):
            usage.update(item.usage)
        self._sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                                    "usage": usage})  # fmt: skip
        self._sse("message_stop", {"type": "message_stop"})
        self._end_body()

    def _faulted(self, fault: Any, i: int, end: bool = False) -> bool:
        """Apply ``fault`` before text token ``i`` (``end``: after the last); True if the answer ends here."""
        if isinstance(fault, StreamError) and (i >= fault.after or end):
            error = error_body(529, message=fault.message, kind=fault.kind)
            self._sse("error", {"type": "error", "error": error["error"]})
            self._end_body()
            return True
        if not isinstance(fault, Fault):
            return False
        if fault.cut_after is not None and (i >= fault.cut_after or end):
            self._abort()
            return True
        if fault.stall_after is not None and (i >= fault.stall_after or end):
            self._stall(fault.stall)
            return True
        if fault.malformed and i == fault.malformed_after:
            self._chunk(b"event: content_block_delta\ndata: {not json\n\n")
        return False

    def _block(self, index: int, block: dict) -> None:
        self._sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})

    def _delta(self, index: int, delta: dict) -> None:
        self._sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _call(self, index: int, call: tuple, number: int) -> None:
        """A tool_use block: its id and name first, then its input as JSON in three pieces (the first one empty)."""
        arguments = call[1]
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        self._block(index, {"type": "tool_use", "id": _call_id(call, number), "name": call[0], "input": {}})
        size = max(1, -(-len(raw) // 3))
        for piece in ["", *(raw[i : i + size] for i in range(0, len(raw), size))]:
            self._delta(index, {"type": "input_json_delta", "partial_json": piece})
        self._sse("content_block_stop", {"type": "content_block_stop", "index": index})


def _call_id(call: tuple, number: int) -> str:
    return call[2] if len(call) > 2 else f"toolu_{number:02d}{call[0]}"


def _usage(counts: tuple[int, int, int], out: int) -> dict:
    plain, created, read = counts
    return {"input_tokens": plain, "cache_creation_input_tokens": created, "cache_read_input_tokens": read,
            "output_tokens": out}  # fmt: skip


class FakeAnthropicServer(FakeOpenAIServer):
    """A scripted Anthropic Messages API server on 127.0.0.1; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        options.setdefault("models", DEFAULT_MODELS)
        super().__init__(host, port, default_reply=options.pop("default_reply", echo), **options)
        self._httpd.RequestHandlerClass = type("FakeAnthropicHandler", (_AnthropicHandler,), {"fake": self})
        self.cache = _Cache()
        self.cache_minimum = 0  # words a prefix needs to be written (the API's is 1,024 tokens and more)

    @property
    def base_url(self) -> str:
        """What ANTHROPIC_BASE_URL is set to: the SDK adds /v1/messages."""
        return f"http://{self.host}:{self.port}"

    def queue(self, *items: Any) -> "FakeAnthropicServer":
        for it in items:
            if not isinstance(it, (Reply, Fault, Raw, Calls, StreamError)):
                raise TypeError(f"queue() takes Reply, Fault, Calls, StreamError or Raw items, not {type(it).__name__}")
        with self._lock:
            self._items.extend(items)
        return self

"""A fake Gemini API server on 127.0.0.1, scripted as tests/fakeserver.py's (stdlib only).

Usage::

    from tests.fakes.gemini import FakeGeminiServer, StreamError
    from tests.fakeserver import Reply, Fault, Calls

    with FakeGeminiServer() as server:          # GOOGLE_GEMINI_BASE_URL=server.base_url (no /v1beta)
        server.queue(Reply("Hi", thinking="..."), Calls([("read_file", {"path": "a"})]), Fault(status=503))
        server.requests                          # the JSON bodies received, in order
        server.paths                             # and the path of each (the model is in it)

The same scripting API as FakeOpenAIServer (``queue``, ``requests``, ``request_headers``,
``wait_for_requests``, ``wait_until_sent``, ``wait_until``, ``stalls``, ``window``, ``models``,
the default "You said: ..." echo), each item sent as the Gemini API sends it:

``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``
    Checked first as the API checks it (tests/fakes/gemini_rules.py; the key in ``x-goog-api-key``):
    a refused request is Google's error JSON and leaves the queue alone. Then SSE, each event a
    ``GenerateContentResponse``: ``candidates[0].content.parts`` (``{"text", "thought": true}`` for
    thinking, sent only when ``generationConfig.thinkingConfig.includeThoughts`` asks; text; one
    ``functionCall`` part per call, the first signed), ``finishReason`` on the last, and a
    cumulative ``usageMetadata`` on every event (``promptTokenCount``, ``candidatesTokenCount``,
    ``thoughtsTokenCount``, ``cachedContentTokenCount``, ``totalTokenCount``), as the API sends it.
``POST /v1beta/models/{model}:generateContent``
    The same answer as one JSON response.
``GET /v1beta/models`` and ``GET /v1beta/models/{model}``
    The model list (paged by ``pageSize``/``pageToken``, at most ``max_page`` a page; ``server.models`` as chat models, and an
    embedding model that only embeds) and one model, with its ``inputTokenLimit`` (``window`` when set).

Items: ``Reply(text, thinking=...)``, ``Calls([(name, args)], text=, thinking=)``, ``Fault(status=N)``
as Google's error JSON (``{"error": {"code", "message", "status", "details"}}``: 400 INVALID_ARGUMENT,
401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED with a RetryInfo,
500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED), ``Fault(cut_after=N)``, ``Fault(stall_after=N)``,
``Fault(malformed=True)``, ``Fault(empty=True)``, ``Fault(no_finish=True)``, ``Raw(parts)``, and
``StreamError(after=N)``: N text tokens, then an error object in the stream, as the API sends an
overload in the middle of an answer. A request over ``window`` (words of the system instruction
and the contents) is refused as the API refuses it: "The input token count (N) exceeds the maximum
number of tokens allowed (W)."
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.gemini_rules import NOT_THINKING, camel, is_gemini_3, request_error, signature
from tests.fakeserver import (
    CHUNK,
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

DEFAULT_MODELS = ("gemini-fake", "gemini-2.5-flash", "gemini-2.0-flash", "gemini-3-pro-preview", "gemma-3-27b-it")
EMBEDDING_MODEL = "gemini-embedding-001"  # listed, but it cannot chat
DEFAULT_WINDOW = 1_048_576
KEY = "AIza-test-SECRET-0123456789"

_ERRORS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: (
        "NOT_FOUND",
        "models/{model} is not found for API version v1beta, or is not supported for generateContent. Call "
        "ListModels to see the list of available models and their supported methods.",
    ),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more information on this "
        "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in 7.5s.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}


@dataclass
class StreamError:
    """``after`` text tokens of ``text``, then an error object in the stream (how the API says an overload mid-answer)."""

    after: int = 3
    status: int = 503
    message: str | None = None
    text: str = "one two three four five six seven"


def error_body(status: int, model: str = "", message: str | None = None) -> dict:
    """Google's error JSON for ``status`` (a 429 says when to try again, as the API does)."""
    name, default = _ERRORS.get(status, ("UNKNOWN", f"HTTP {status}"))
    error: dict[str, Any] = {"code": status, "message": message or default.format(model=model), "status": name}
    if status == 429:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
        ]  # fmt: skip
    if status == 400 and message and message.startswith("API key not valid"):
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
        ]  # fmt: skip
    return {"error": error}


def texts(content: Any) -> list[str]:
    """The text parts of a content (thoughts and function parts aside)."""
    parts = content.get("parts") if isinstance(content, dict) else None
    return [
        p["text"]
        for p in parts or []
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    ]


def words(body: dict) -> int:
    """Words of the system instruction and every part of the contents: the fake's token count."""
    found = sum(len(t.split()) for t in texts(body.get("systemInstruction")))
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            found += len(str(part.get("text") or "").split())
            for field in ("functionCall", "functionResponse"):
                if part.get(field):
                    found += len(json.dumps(part[field]).split())
    return found


def echo(contents: list[dict]) -> str:
    """The default answer: the last question, and the earlier ones (function responses are not questions)."""
    asked = ["".join(texts(c)) for c in contents if c.get("role") == "user" and texts(c)]
    if not asked:
        return "You said: "
    return "You said: " + asked[-1] + (" (earlier: " + " | ".join(asked[:-1]) + ")" if len(asked) > 1 else "")


class _GeminiHandler(_Handler):
    server_version = "FakeGemini/1.0"
    fake: "FakeGeminiServer"

    def _route_parts(self) -> tuple[str, str, dict[str, list[str]]]:
        """(model, method, query) of ``/v1beta/models/{model}[:method]``; model "" for the list."""
        split = urlsplit(self.path)
        path = unquote(split.path).rstrip("/")
        if not path.startswith("/v1beta/models"):
            return "?", "", {}
        rest = path.removeprefix("/v1beta/models").lstrip("/")
        model, _, method = rest.partition(":")
        return model, method, parse_qs(split.query)

    def _embed(self, model: str, raw: bytes) -> None:
        """``POST /v1beta/models/{model}:batchEmbedContents``: the Gemini API's answer, a vector for each request's
        text parts."""
        refused = self._key_refusal()
        if refused is not None:
            self._send_json(refused[0], error_body(refused[0], model, refused[1]))
            return
        try:
            requests = json.loads(raw or b"{}")["requests"]
            texts = [" ".join(p["text"] for p in r["content"]["parts"]) for r in requests]
        except (ValueError, KeyError, TypeError) as exc:
            self._send_json(400, error_body(400, message=f"Invalid JSON payload received. {exc}"))
            return
        made = self.fake.embeddings.answer(texts)
        if isinstance(made, int):
            self._send_json(made, error_body(made, model, "The model is overloaded. Please try again later."))
            return
        self._send_json(200, {"embeddings": [{"values": v} for v in made]})

    def _key_refusal(self) -> tuple[int, str] | None:
        key = {k.lower(): v for k, v in self.headers.items()}.get("x-goog-api-key")
        if not key:
            return 403, (
                "Method doesn't allow unregistered callers (callers without established identity). Please use API "
                "Key or other form of API consumer identity to call this API."
            )
        if self.fake.key is not None and key != self.fake.key:
            return 400, "API key not valid. Please pass a valid API key."
        return None

    def do_GET(self) -> None:
        model, method, query = self._route_parts()
        refused = self._key_refusal()
        if model == "?" or method:
            self._send_json(404, error_body(404, message=f"Not found: {self.path}"))
        elif refused:
            self._send_json(refused[0], error_body(refused[0], message=refused[1]))
        elif not model:
            self._list(query)
        elif model in self.fake.models or model == EMBEDDING_MODEL:
            self._send_json(200, self._model(model))
        else:
            self._send_json(404, error_body(404, message=f"models/{model} is not found for API version v1beta"))

    def _model(self, name: str) -> dict:
        chat = name != EMBEDDING_MODEL
        return {
            "name": f"models/{name}", "version": "001", "displayName": name.replace("-", " ").title(),
            "inputTokenLimit": (self.fake.window or DEFAULT_WINDOW) if chat else 2048,
            "outputTokenLimit": 65536 if chat else 1,
            "supportedGenerationMethods": ["generateContent", "countTokens"] if chat else ["embedContent"],
            **({"thinking": name not in NOT_THINKING, "temperature": 1, "topP": 0.95, "topK": 64} if chat else {}),
        }  # fmt: skip

    def _list(self, query: dict[str, list[str]]) -> None:
        names = [*self.fake.models, EMBEDDING_MODEL]
        size = min(int((query.get("pageSize") or ["50"])[0]) or 50, self.fake.max_page)
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        page = names[start : start + size]
        listing: dict[str, Any] = {"models": [self._model(m) for m in page]}
        if start + size < len(names):
            listing["nextPageToken"] = str(start + size)
        self._send_json(200, listing)

    def do_POST(self) -> None:
        model, method, _query = self._route_parts()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if method == "batchEmbedContents":
            self._embed(model, raw)
            return
        if method not in ("streamGenerateContent", "generateContent"):
            self._send_json(404, error_body(404, message=f"Not found: {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            self._send_json(400, error_body(400, message=f"Invalid JSON payload received. {exc}"))
            return
        headers = dict(self.headers.items())
        refused = self._refusal(model, camel(body))
        item = self.fake._record_and_pop(body, headers, pop=refused is None)
        with self.fake._cond:
            self.fake.paths.append(urlsplit(self.path).path)
        if refused is not None:
            self._send_json(refused[0], error_body(refused[0], model, refused[1]))
            return
        try:
            self._answer(model, method == "streamGenerateContent", camel(body), item)
        except _ClientGone:
            self._abort()

    def _refusal(self, model: str, body: dict) -> tuple[int, str] | None:
        refused = self._key_refusal()
        if refused:
            return refused
        if model not in self.fake.models:
            return 404, _ERRORS[404][1].format(model=model)
        said = request_error(model, body, self.fake.signed)
        if said:
            return 400, said
        size, window = words(body), self.fake.window
        if window is not None and size > window:
            return 400, f"The input token count ({size}) exceeds the maximum number of tokens allowed ({window})."
        return None

    def _answer(self, model: str, stream: bool, body: dict, item: Any) -> None:
        fake = self.fake
        if isinstance(item, Fault) and item.status is not None:
            sent = item.body if item.body is not None else error_body(item.status, model, item.message)
            self._send_json(item.status, sent, item.headers)
            return
        if isinstance(item, Raw):
            self._serve_raw(item)
            return
        if item is None:
            said = fake.default_reply
            text = echo(body["contents"]) if said is None else said(body["contents"]) if callable(said) else said
            item = made_up(text, fake.delay, ECHO_LONG if said is None and not fake.delay else LONG)
        events = _Answer(model, body, item, fake).events()
        if not stream:
            self._whole(events, item)
            return
        self._start_stream()
        self._stream(events, item)

    def _whole(self, events: list[Any], item: Any) -> None:
        if isinstance(item, Fault) and (item.cut_after is not None or item.stall_after is not None):
            self._abort()
            return
        parts = [p for e in events if isinstance(e, dict) for p in e["candidates"][0]["content"]["parts"]]
        last = [e for e in events if isinstance(e, dict)][-1]
        self._send_json(
            200, {**last, "candidates": [{**last["candidates"][0], "content": {"role": "model", "parts": parts}}]}
        )

    def _stream(self, events: list[Any], item: Any) -> None:
        delay = getattr(item, "delay", 0.0)
        for index, event in enumerate(events):
            if event == "cut":
                self._abort()
                return
            if event == "stall":
                self._stall(getattr(item, "stall", 30.0))
                return
            if event == "malformed":
                self._chunk(b"data: {not json\n\n")
                continue
            if index and delay:
                self._wait(delay)
            self._chunk(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        self._end_body()


class _Answer:
    """The SSE events of one answer (dicts), with the stream faults as markers ("cut", "stall", "malformed")."""

    def __init__(self, model: str, body: dict, item: Any, fake: "FakeGeminiServer"):
        self.model, self.item, self.fake = model, item, fake
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        self.show_thoughts = bool(thinking.get("includeThoughts"))
        self.prompt = words(body)
        self.thought_tokens = self.out_tokens = 0

    def events(self) -> list[Any]:
        item, found = self.item, []
        thinking = getattr(item, "thinking", "") if isinstance(item, (Reply, Calls)) else ""
        for piece in tokenize(thinking):
            self.thought_tokens += 1
            if self.show_thoughts:
                found.append(self._event([{"text": piece, "thought": True}]))
        fault = item if isinstance(item, (Fault, StreamError)) else None
        tokens = item.token_list() if isinstance(item, Reply) else [] if getattr(item, "empty", False) else None
        tokens = tokenize(item.text) if tokens is None else tokens
        # Gemini streams a long answer many tokens a chunk (its SDK builds a model object of each chunk: 400,000
        # words a token a chunk took it 20 s); a short one, one with a fault to place, and tokens a test gave, as
        # they are.
        tokenized_here = isinstance(item, Reply) and item.tokens is None
        step = CHUNK if tokenized_here and fault is None and len(tokens) > LONG else 1
        pieces = ["".join(tokens[i : i + step]) for i in range(0, len(tokens), step)]
        for i, piece in enumerate(pieces):
            if self._faulted(fault, i, found):
                return found
            self.out_tokens += min(step, len(tokens) - i * step)
            part: dict[str, Any] = {"text": piece}
            if is_gemini_3(self.model) and i == len(pieces) - 1 and not isinstance(item, Calls):
                part["thoughtSignature"] = self._sign(piece)  # Gemini 3 signs the last part of an answer
            found.append(self._event([part]))
        if self._faulted(fault, len(pieces), found, end=True):
            return found
        calls = item.calls if isinstance(item, Calls) else []
        if calls:
            parts = []
            for number, call in enumerate(calls):
                arguments = call[1] if isinstance(call[1], dict) else json.loads(call[1])
                part = {"functionCall": {"name": call[0], "args": arguments}}
                if number == 0:
                    part["thoughtSignature"] = self._sign(json.dumps(part))
                parts.append(part)
                self.out_tokens += len(json.dumps(arguments).split())
            found.append(self._event(parts))
        if isinstance(fault, Fault) and fault.no_finish:
            return found
        reason = "STOP" if calls else _FINISH.get(getattr(item, "finish_reason", "stop") or "stop", "STOP")
        found.append(self._event([], finish=reason))
        return found

    def _sign(self, text: str) -> str:
        made = signature(text)
        with self.fake._cond:
            self.fake.signed.add(made)
        return made

    def _faulted(self, fault: Any, i: int, found: list[Any], end: bool = False) -> bool:
        """Add ``fault``'s marker before text token ``i`` (``end``: after the last); True if the answer ends there."""
        if isinstance(fault, StreamError) and (i >= fault.after or end):
            found.append(error_body(fault.status, self.model, fault.message))
            return True
        if not isinstance(fault, Fault):
            return False
        if fault.cut_after is not None and (i >= fault.cut_after or end):
            found.append("cut")
            return True
        if fault.stall_after is not None and (i >= fault.stall_after or end):
            found.append("stall")
            return True
        if fault.malformed and i == fault.malformed_after:
            found.append("malformed")
        return False

    def _event(self, parts: list[dict], finish: str | None = None) -> dict:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        usage = {
            "promptTokenCount": self.prompt, "candidatesTokenCount": self.out_tokens,
            "totalTokenCount": self.prompt + self.out_tokens + self.thought_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt}],
        }  # fmt: skip
        if self.thought_tokens:
            usage["thoughtsTokenCount"] = self.thought_tokens
        if self.fake.cached_tokens:
            usage["cachedContentTokenCount"] = min(self.fake.cached_tokens, self.prompt)
        if isinstance(self.item, Reply) and isinstance(self.item.usage, dict):
            usage.update(self.item.usage)
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": self.model, "responseId": "fake"}


class FakeGeminiServer(FakeOpenAIServer):
    """A scripted Gemini API server on 127.0.0.1; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        options.setdefault("models", DEFAULT_MODELS)
        super().__init__(host, port, **options)
        self._httpd.RequestHandlerClass = type("FakeGeminiHandler", (_GeminiHandler,), {"fake": self})
        self.key: str | None = KEY  # the one key it takes (None: any)
        self.signed: set[str] = set()  # the thought signatures it gave
        self.paths: list[str] = []
        self.cached_tokens = 0  # prompt tokens each answer says were read from the context cache
        self.max_page = 1000  # the most models one page of the list holds (the API's cap)

    @property
    def base_url(self) -> str:
        """What GOOGLE_GEMINI_BASE_URL is set to: the SDK adds /v1beta/models/..."""
        return f"http://{self.host}:{self.port}"

    def queue(self, *items: Any) -> "FakeGeminiServer":
        for it in items:
            if not isinstance(it, (Reply, Fault, Raw, Calls, StreamError)):
                raise TypeError(f"queue() takes Reply, Fault, Calls, StreamError or Raw items, not {type(it).__name__}")
        with self._lock:
            self._items.extend(items)
        return self

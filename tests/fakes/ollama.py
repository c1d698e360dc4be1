"""A fake Ollama server on 127.0.0.1 speaking Ollama's own API, scripted as tests/fakeserver.py's (stdlib only).

Usage::

    from tests.fakes.ollama import FakeOllamaServer, StreamError
    from tests.fakeserver import Reply, Fault, Calls

    with FakeOllamaServer() as server:          # OLLAMA_HOST=server.base_url
        server.queue(Reply("Hi", thinking="..."), Calls([("read_file", {"path": "a"})]), Fault(status=500))
        server.requests                          # the JSON bodies of /api/chat, in order

The same scripting API as FakeOpenAIServer (``queue``, ``requests``, ``request_headers``,
``wait_for_requests``, ``wait_until_sent``, ``wait_until``, ``stalls``, ``window``, ``models``,
the default "You said: ..." echo), each item sent as Ollama sends it:

``POST /api/chat``
    One JSON object a line (``application/x-ndjson``): ``message.thinking`` pieces (when the
    request says ``"think": true``; without ``think`` a thinking model's thoughts come in the
    content between ``<think>`` tags, as older servers send them), ``message.content`` pieces,
    ``message.tool_calls`` (whole calls, arguments as objects), and a last object with
    ``"done": true``, ``done_reason`` and the counts (``prompt_eval_count``, ``eval_count``). A
    model that is not pulled is a 404 (``model "x" not found, try pulling it first``); ``think``
    or ``tools`` asked of a model without that capability a 400 in Ollama's words.
    Over its window a request is not refused: as Ollama does, the oldest messages after the
    system prompt are dropped until the rest fits (``truncated`` counts the requests cut so).
    The window is ``options.num_ctx`` (4096 unless the request says), never more than the
    model's trained length (``window``, when set), counted in words.
``GET /api/tags``
    The pulled models (``server.models``: names with their tag, ``qwen3:latest``).
``POST /api/show``
    A model's ``parameters`` (``num_ctx`` when ``modelfile_ctx`` is set), ``model_info``
    (``<arch>.context_length``: ``window``, else 40960) and ``capabilities``.

Items: ``Reply(text, thinking=...)``, ``Calls([(name, args)], text=, thinking=)``, ``Fault(status=N)``
as Ollama's error JSON (``{"error": "..."}``), ``Fault(cut_after=N)``, ``Fault(stall_after=N)``,
``Fault(malformed=True)``, ``Fault(empty=True)``, ``Fault(no_finish=True)``, ``Raw(parts)``, and
``StreamError(after=N)``: N text tokens, then an error object in the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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

# name -> (architecture, capabilities)
KNOWN = {
    "qwen3:latest": ("qwen3", ["completion", "tools", "thinking"]),
    "llama3.2:latest": ("llama", ["completion", "tools"]),
    "gemma3:4b": ("gemma3", ["completion", "vision"]),
}
DEFAULT_MODELS = tuple(KNOWN)
DEFAULT_CTX = 4096  # the window Ollama runs a model with when nothing says otherwise
TRAINED = 40960

_ERRORS = {
    400: "invalid request",
    401: "unauthorized",
    403: "forbidden",
    429: "you (fake) have reached your hourly usage limit, please upgrade to continue",
    404: 'model "{model}" not found, try pulling it first',
    500: "llama runner process has terminated: exit status 2",
    503: "server busy, please try again.  maximum pending requests exceeded",
}


@dataclass
class StreamError:
    """``after`` text tokens of ``text``, then ``{"error": message}`` in the stream (a runner that died mid-answer)."""

    after: int = 3
    message: str = "an error was encountered while running the model: unexpected EOF"
    text: str = "one two three four five six seven"


def full_name(model: str) -> str:
    """``qwen3`` as Ollama resolves it: ``qwen3:latest``."""
    return model if ":" in model else f"{model}:latest"


def words(messages: list[dict]) -> int:
    return sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))


def echo(messages: list[dict]) -> str:
    """The default answer: the last question, and the earlier ones the model was sent."""
    asked = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    if not asked:
        return "You said: "
    return "You said: " + asked[-1] + (" (earlier: " + " | ".join(asked[:-1]) + ")" if len(asked) > 1 else "")


class _OllamaHandler(_Handler):
    server_version = "FakeOllama/1.0"
    fake: "FakeOllamaServer"

    def _line(self, obj: dict) -> None:
        self._chunk(json.dumps(obj).encode() + b"\n")

    def do_GET(self) -> None:
        path = self._route()
        if path == "/api/tags":
            self._send_json(200, {"models": [self._tag(m) for m in self.fake.models]})
        elif path in ("", "/"):
            self._send_raw_text("Ollama is running")
        elif path == "/api/version":
            self._send_json(200, {"version": "0.13.0"})
        else:
            self._send_json(404, {"error": "404 page not found"})

    def _send_raw_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _tag(name: str) -> dict:
        family = KNOWN.get(name, (name.split(":")[0], []))[0]
        return {"name": name, "model": name, "modified_at": "2025-10-01T12:00:00.000000000Z", "size": 5_200_000_000,
                "digest": "a" * 64, "details": {"format": "gguf", "family": family, "families": [family],
                                                "parameter_size": "8.2B", "quantization_level": "Q4_K_M"}}  # fmt: skip

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) if length else b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
            return body
        except ValueError as exc:
            self._send_json(400, {"error": f"invalid character in request body: {exc}"})
            return None

    def do_POST(self) -> None:
        path = self._route()
        body = self._body()
        if body is None:
            return
        if path == "/api/show":
            self._show(str(body.get("model") or body.get("name") or ""))
        elif path == "/api/chat":
            self._chat(body)
        elif path == "/api/embed":
            self._embed(body)
        else:
            self._send_json(404, {"error": "404 page not found"})

    def _embed(self, body: dict[str, Any]) -> None:
        """``POST /api/embed``: Ollama's answer, a vector for each text of ``input`` (a text, or a list of them)."""
        texts = body.get("input") if isinstance(body.get("input"), list) else [body.get("input")]
        if not all(isinstance(t, str) for t in texts):
            self._send_json(400, {"error": "invalid input type"})
            return
        made = self.fake.embeddings.answer(texts)
        if isinstance(made, int):
            self._send_json(made, {"error": "llama runner process has terminated"})
            return
        self._send_json(200, {"model": body.get("model"), "embeddings": made, "prompt_eval_count": len(texts)})

    def _show(self, model: str) -> None:
        name = full_name(model)
        with self.fake._cond:
            self.fake.shown.append(model)
        if name not in self.fake.models:
            self._send_json(404, {"error": f"model '{model}' not found"})
            return
        arch, capabilities = KNOWN.get(name, (name.split(":")[0], ["completion"]))
        parameters = 'stop "<|im_end|>"'
        if self.fake.modelfile_ctx:
            parameters = f"num_ctx {self.fake.modelfile_ctx}\n" + parameters
        info = {"general.architecture": arch, f"{arch}.context_length": self.fake.window or TRAINED,
                f"{arch}.embedding_length": 4096, "general.parameter_count": 8_190_735_360}  # fmt: skip
        self._send_json(200, {"modelfile": "FROM ...", "parameters": parameters, "template": "{{ .Prompt }}",
                              "details": self._tag(name)["details"], "model_info": info,
                              "capabilities": capabilities, "modified_at": "2025-10-01T12:00:00Z"})  # fmt: skip

    def _refusal(self, body: dict) -> tuple[int, str] | None:
        model = str(body.get("model") or "")
        if not model:
            return 400, "model is required"
        name = full_name(model)
        if name not in self.fake.models:
            return 404, _ERRORS[404].format(model=model)
        capabilities = KNOWN.get(name, ("", ["completion"]))[1]
        if body.get("think") is True and "thinking" not in capabilities:
            return 400, f'"{model}" does not support thinking'
        if body.get("tools") and "tools" not in capabilities:
            return 400, f"registry.ollama.ai/library/{model} does not support tools"
        return None

    def _chat(self, body: dict) -> None:
        refused = self._refusal(body)
        item = self.fake._record_and_pop(body, dict(self.headers.items()), pop=refused is None)
        if refused is not None:
            self._send_json(refused[0], {"error": refused[1]})
            return
        try:
            self._answer(body, item)
        except _ClientGone:
            self._abort()

    def _fitted(self, body: dict) -> list[dict]:
        """The messages the model sees: the oldest after the system prompt dropped until they fit the window."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        ctx = int((body.get("options") or {}).get("num_ctx") or DEFAULT_CTX)
        window = min(ctx, self.fake.window) if self.fake.window else ctx
        head = 1 if messages and messages[0].get("role") == "system" else 0
        cut = False
        while words(messages) > window and len(messages) > head + 1:
            del messages[head]
            cut = True
        if cut:
            with self.fake._cond:
                self.fake.truncated += 1
        return messages

    def _answer(self, body: dict, item: Any) -> None:
        fake, model = self.fake, str(body.get("model"))
        if isinstance(item, Fault) and item.status is not None:
            message = item.message or _ERRORS.get(item.status, f"HTTP {item.status}").format(model=model)
            self._send_json(item.status, item.body if item.body is not None else {"error": message}, item.headers)
            return
        if isinstance(item, Raw):
            self._serve_raw(item)
            return
        seen = self._fitted(body)
        if item is None:
            said = fake.default_reply
            text = echo(seen) if said is None else said(seen) if callable(said) else said
            item = made_up(text, fake.delay, ECHO_LONG if said is None and not fake.delay else LONG)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self._stream(body, item, words(seen))

    def _piece(self, model: str, **message: Any) -> dict:
        return {"model": model, "created_at": "2025-10-01T12:00:00.000000Z",
                "message": {"role": "assistant", "content": "", **message}, "done": False}  # fmt: skip

    def _stream(self, body: dict, item: Any, prompt: int) -> None:
        model, out = str(body.get("model")), 0
        thinking = getattr(item, "thinking", "") if isinstance(item, (Reply, Calls)) else ""
        pieces = tokenize(thinking)
        if body.get("think") is True:
            for piece in pieces:
                self._line(self._piece(model, thinking=piece))
        elif body.get("think") is None and thinking:
            pieces = ["<think>", *pieces, "</think>\n\n"]  # as servers without `think` send it
            for piece in pieces:
                self._line(self._piece(model, content=piece))
        out += len(pieces) if body.get("think") is not False else 0
        fault = item if isinstance(item, (Fault, StreamError)) else None
        tokens = item.token_list() if isinstance(item, Reply) else [] if getattr(item, "empty", False) else None
        tokens = tokenize(item.text) if tokens is None else tokens
        delay = getattr(item, "delay", 0.0)
        for i, token in enumerate(tokens):
            if self._faulted(fault, i):
                return
            if i and delay:
                self._wait(delay)
            self._line(self._piece(model, content=token))
            out += 1
        if self._faulted(fault, len(tokens), end=True):
            return
        calls = item.calls if isinstance(item, Calls) else []
        if calls:
            made = [{"id": f"call_{n}", "function": {"index": n, "name": c[0], "arguments": c[1] if isinstance(
                c[1], dict) else json.loads(c[1])}} for n, c in enumerate(calls)]  # fmt: skip
            self._line(self._piece(model, tool_calls=made))
        if isinstance(fault, Fault) and fault.no_finish:
            self._end_body()
            return
        reason = {"length": "length"}.get(getattr(item, "finish_reason", "stop") or "stop", "stop")
        last = {**self._piece(model), "done": True, "done_reason": reason, "total_duration": 1_000_000,
                "load_duration": 100_000, "prompt_eval_count": prompt, "prompt_eval_duration": 200_000,
                "eval_count": out, "eval_duration": 700_000}  # fmt: skip
        if isinstance(item, Reply) and isinstance(item.usage, dict):
            last.update(item.usage)
        self._line(last)
        self._end_body()

    def _faulted(self, fault: Any, i: int, end: bool = False) -> bool:
        """Apply ``fault`` before text token ``i`` (``end``: after the last); True if the answer ends here."""
        if isinstance(fault, StreamError) and (i >= fault.after or end):
            self._line({"error": fault.message})
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
            self._chunk(b"{not json\n")
        return False


class FakeOllamaServer(FakeOpenAIServer):
    """A scripted Ollama server on 127.0.0.1; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        options.setdefault("models", DEFAULT_MODELS)
        super().__init__(host, port, **options)
        self._httpd.RequestHandlerClass = type("FakeOllamaHandler", (_OllamaHandler,), {"fake": self})
        self.truncated = 0  # requests cut to fit the window, as Ollama cuts them
        self.modelfile_ctx: int | None = None  # a num_ctx the model's Modelfile sets
        self.shown: list[str] = []  # the models /api/show was asked about

    @property
    def base_url(self) -> str:
        """What OLLAMA_HOST is set to."""
        return f"http://{self.host}:{self.port}"

    def queue(self, *items: Any) -> "FakeOllamaServer":
        for it in items:
            if not isinstance(it, (Reply, Fault, Raw, Calls, StreamError)):
                raise TypeError(f"queue() takes Reply, Fault, Calls, StreamError or Raw items, not {type(it).__name__}")
        with self._lock:
            self._items.extend(items)
        return self

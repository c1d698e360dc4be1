"""An MCP server's request to use the user's model in the middle of a tool call (MCP's ``sampling/createMessage``).

A server of either era may ask the client's model to answer messages of its own (to summarise what it fetched, to
choose among results). Chat asks the user first, as it asks a server's question (an elicitation the call waits on:
the prompt, ``--json`` and ``--resume``, ``chat serve``, an editor), showing who asks, what it asks and how long an
answer it may get; only when the user allows it does the thread's model answer, with the server's messages alone
(never the thread's: ``includeContext`` is not honoured), its call counted and kept within the spending limits as
the turn's are, its tokens never shown as the reply. Where nobody can be asked the request is declined, and the
server hears MCP's "user rejected" error (-1).

Everything here comes from a server chat does not control: texts are bounded (``MAX_TEXT`` in all, ``MAX_SHOWN``
of them shown), the answer is at most ``MAX_TOKENS`` (approximately: four characters a token, read no further),
images are taken only as base64 of an image type and at most ``MAX_IMAGES`` of them. A request chat cannot read is
declined with the reason, said to the user.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from chatcli.tools.asking import SAMPLING

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from chatcli.core.events import Emit

MAX_TOKENS = 4_000  # the longest answer a server may get, whatever it asks (about four characters a token)
MAX_TEXT = 100_000  # characters of a request's messages and system prompt, in all
MAX_SHOWN = 1_500  # characters of them shown in the question
MAX_MESSAGES = 50  # messages of one request
MAX_IMAGES = 4  # images of one request
MAX_IMAGE = 5 * 1024 * 1024  # bytes of one image
# The question's empty form: allowing is the only answer (the schema a client that draws its own forms is sent).
FORM: dict[str, Any] = {"type": "object", "properties": {}}


class Unreadable(ValueError):
    """A request chat cannot answer (not MCP's shape, too large, a kind of content it does not take)."""


@dataclass(frozen=True)
class Part:
    """One piece of a message: text, or an image (its media type and base64 data)."""

    text: str = ""
    image: str | None = None  # the media type of an image
    data: str = ""


@dataclass(frozen=True)
class Sampling:
    """A server's request, read and bounded: its ``messages`` (role, parts), ``system`` prompt, the most tokens the
    answer may have (``max_tokens``, at most ``MAX_TOKENS``), ``temperature``, ``stop`` sequences and the models it
    would prefer (``hints``, shown only: the thread's model answers)."""

    messages: tuple[tuple[str, tuple[Part, ...]], ...]
    system: str = ""
    max_tokens: int = MAX_TOKENS
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    asked_tokens: int = MAX_TOKENS  # what the server asked for, before chat's bound

    @classmethod
    def read(cls, params: Any) -> Sampling:
        """The request's parameters (JSON, MCP's spelling) as a ``Sampling``; ``Unreadable`` if chat cannot answer
        it."""
        if not isinstance(params, dict):
            raise Unreadable("it is not an object")
        raw = params.get("messages")
        if not isinstance(raw, list) or not raw:
            raise Unreadable("it has no messages")
        if len(raw) > MAX_MESSAGES:
            raise Unreadable(f"it has more than {MAX_MESSAGES} messages")
        if params.get("tools"):
            raise Unreadable("it offers the model tools, which chat does not give a server's request")
        system = params.get("systemPrompt")
        system = system if isinstance(system, str) else ""
        messages = tuple(_message(message) for message in raw)
        size = len(system) + sum(len(part.text) for _role, parts in messages for part in parts)
        if size > MAX_TEXT:
            raise Unreadable(f"its text is longer than {MAX_TEXT:,} characters")
        if sum(1 for _role, parts in messages for part in parts if part.image) > MAX_IMAGES:
            raise Unreadable(f"it holds more than {MAX_IMAGES} images")
        asked = params.get("maxTokens")
        if not isinstance(asked, int) or isinstance(asked, bool) or asked < 1:
            raise Unreadable("it names no maxTokens (a whole number, 1 or more)")
        temperature = params.get("temperature")
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
            temperature = None
        stop = params.get("stopSequences")
        stops = tuple([s[:100] for s in stop[:100] if isinstance(s, str) and s][:4]) if isinstance(stop, list) else ()
        preferences = params.get("modelPreferences")
        hinted = preferences.get("hints") if isinstance(preferences, dict) else None
        names = [h.get("name") for h in hinted if isinstance(h, dict)] if isinstance(hinted, list) else []
        hints = tuple(" ".join(n.split())[:60] for n in names[:3] if isinstance(n, str) and n.strip())
        return cls(messages, system, min(asked, MAX_TOKENS), temperature, stops, hints, asked)

    def question(self, server: str | None, model: str) -> dict[str, Any]:
        """The question the user is asked (an ``elicitation/create``'s parameters, a form with nothing to fill)."""
        who = f"MCP server {server}" if server else "The tool's server"
        capped = self.asked_tokens > MAX_TOKENS
        cap = f" (it asked for {self.asked_tokens:,}, chat allows {MAX_TOKENS:,})" if capped else ""
        preferred = f"; it would prefer {', '.join(self.hints)}" if self.hints else ""
        lines = [
            f"{who} asks your model ({model or 'the thread model'}) to answer a request of its own, at most "
            f"{self.max_tokens:,} tokens{cap}, at your cost{preferred}. Its answer goes to the server only.",
            "Answering lets the model answer it; declining tells the server no. The request:",
        ]
        if self.system:
            lines.append(f"[system] {self.system}")
        for role, parts in self.messages:
            shown = " ".join(part.text if part.image is None else f"[image {part.image}]" for part in parts)
            lines.append(f"[{role}] {shown}")
        body = "\n".join(lines[2:])
        if len(body) > MAX_SHOWN:
            body = body[:MAX_SHOWN] + f" [... {len(body) - MAX_SHOWN:,} more characters]"
        return {"message": "\n".join([*lines[:2], body]), "requestedSchema": FORM}

    def prompt(self) -> list[Any]:
        """The request as LangChain messages: its system prompt, then its messages, images as image blocks."""
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        said: list[Any] = [SystemMessage(self.system)] if self.system else []
        for role, parts in self.messages:
            blocks = [
                {"type": "text", "text": part.text}
                if part.image is None
                else {"type": "image", "base64": part.data, "mime_type": part.image}
                for part in parts
            ]
            content: Any = blocks[0]["text"] if len(blocks) == 1 and parts[0].image is None else blocks
            said.append(AIMessage(content) if role == "assistant" else HumanMessage(content))
        return said


def _message(raw: Any) -> tuple[str, tuple[Part, ...]]:
    if not isinstance(raw, dict) or raw.get("role") not in ("user", "assistant"):
        raise Unreadable("a message is not from the user or the assistant")
    content = raw.get("content")
    pieces = content if isinstance(content, list) else [content]
    return str(raw["role"]), tuple(_part(piece) for piece in pieces)


def _part(piece: Any) -> Part:
    kind = piece.get("type") if isinstance(piece, dict) else None
    if kind == "text" and isinstance(piece.get("text"), str):
        return Part(text=piece["text"])
    if kind == "image":
        mime, data = piece.get("mimeType"), piece.get("data")
        if not isinstance(mime, str) or not mime.startswith("image/") or not isinstance(data, str):
            raise Unreadable("an image has no image type or no data")
        try:
            size = len(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise Unreadable("an image's data is not base64") from None
        if size > MAX_IMAGE:
            raise Unreadable(f"an image is larger than {MAX_IMAGE // (1024 * 1024)} MB")
        return Part(image=" ".join(mime.split())[:100], data=data)
    raise Unreadable(f"it holds {kind or 'unknown'} content, which chat does not send to its model")


def is_request(params: Any) -> bool:
    """True if a server's question ``params`` is a sampling request (``{"sampling": ...}``), not an elicitation."""
    return isinstance(params, dict) and SAMPLING in params


class Sampler(Protocol):
    """What answers a server's request (chat's graph: chatcli.backends.own.graph.ChatGraph)."""

    def model_name(self, config: RunnableConfig) -> str: ...

    async def sample(self, request: Sampling, config: RunnableConfig, emit: Emit) -> dict[str, Any]: ...

    async def delegate(self, call_id: str, arguments: dict[str, Any], config: RunnableConfig, emit: Emit) -> Any: ...


@dataclass(frozen=True)
class Model:
    """The thread's model as a server's request reaches it in one run: its ``name`` (shown in the question) and
    ``answer`` (the request and where to tell what happens -> the server's answer); and ``delegate`` (an ``Agent``
    call's id and arguments, where to tell -> its subagent's Outcome: chatcli.backends.own.subagents)."""

    name: str
    answer: Callable[[Sampling, Emit], Awaitable[dict[str, Any]]]
    delegate: Callable[[str, dict[str, Any], Emit], Awaitable[Any]]

    @classmethod
    def of(cls, sampler: Sampler, config: RunnableConfig) -> Model:
        return cls(
            sampler.model_name(config),
            lambda request, emit: sampler.sample(request, config, emit),
            lambda call_id, arguments, emit: sampler.delegate(call_id, arguments, config, emit),
        )


def result(text: str, model: str, cut: bool) -> dict[str, Any]:
    """The answer a server gets (MCP's ``CreateMessageResult``, JSON): ``{"result": ...}``."""
    stop = "maxTokens" if cut else "endTurn"
    content = {"type": "text", "text": text}
    return {"result": {"role": "assistant", "content": content, "model": model or "unknown", "stopReason": stop}}


def refused(why: str) -> dict[str, Any]:
    """The answer a server gets when its request is not answered: ``{"error": why}`` (MCP's error -1)."""
    return {"error": why}


async def answered(chat_model: Any, request: Sampling, config: RunnableConfig) -> tuple[str, Any, bool]:
    """``chat_model``'s answer to ``request``, read as it streams and no further than its ``max_tokens`` (about four
    characters a token): the text, the usage, and whether it was cut there."""
    from chatcli.backends.own.compaction import read_within

    model = chat_model
    if request.temperature is not None and "temperature" in type(chat_model).model_fields:
        model = chat_model.model_copy(update={"temperature": request.temperature})
    if request.stop:
        model = model.bind(stop=list(request.stop))
    room = request.max_tokens * 4
    return await read_within(model, request.prompt(), config, room, "the MCP server's request", "it was not answered")

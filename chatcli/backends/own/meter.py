"""The spending limits at work on a run's model calls, as LangChain tells them (chatcli.backends.own.spending says
what is kept and how): a callback handler in the run's config, so a graph's own chat models are met as chat's are."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler

from chatcli.backends.own.pricing import dollars
from chatcli.backends.own.spending import CHARS_PER_TOKEN, WHAT, Guard, Hold, LimitReached, raise_hint
from chatcli.core.chunks import thinking_of
from chatcli.store.base import EPSILON

# What a request's own most tokens an answer may hold is called, by provider (OpenAI's and Anthropic's; Google's;
# Ollama's, which LangChain is told only in the model's repr).
ASKED = ("max_tokens", "max_completion_tokens", "max_output_tokens", "num_predict")

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import LLMResult


@dataclass
class _Call:
    """A model call under way: what it is priced as, what it sent, what it holds, and what has arrived."""

    model: str
    tokens_in: int
    hold: Hold
    chars: int = 0  # of the answer, its thinking and its tool calls' arguments, as they streamed

    def tokens_out(self) -> int:
        return -(-self.chars // CHARS_PER_TOKEN)


@dataclass(eq=False)
class Meter(AsyncCallbackHandler):
    """``guard``'s limits kept on the model calls of a run of ``thread_id``, as LangChain tells them: held before each
    is sent, watched while it streams, settled when it ends (see the module's docstring). ``model``: the name the user
    gave chat's own model, priced before the name its server answers to, else each call's; ``out_limit``: the most
    tokens its answer may hold, where the model says; ``window``: its context window, where known. Chat's own calls
    (``model`` given) stream, and are watched as they do; a graph's may not."""

    raise_error = True  # a refusal raised here stops the call
    run_inline = False  # (an inline handler that raises leaves the handlers after it unawaited)
    guard: Guard
    thread_id: str
    say: Callable[[str], None] | None = None
    model: str = ""
    out_limit: int | None = None
    window: int | None = None
    calls: dict[UUID, _Call] = field(default_factory=dict, init=False)

    async def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        from langchain_core.messages.utils import count_tokens_approximately

        from chatcli.backends.own.compaction import SUMMARY_TAG

        params, metadata = kwargs.get("invocation_params") or {}, kwargs.get("metadata") or {}
        named = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
        model = self.model or str(named or "a model with no name")
        tools = params.get("tools") or []
        tokens_in = count_tokens_approximately(messages[0] if messages else [], tools=tools or None)
        shown = re.search(rf"\b(?:{'|'.join(ASKED)})=(\d+)\b", str((serialized or {}).get("repr") or ""))
        said = [*map(params.get, ASKED), metadata.get("ls_max_tokens"), int(shown[1]) if shown else None]
        asked = next((n for n in said if isinstance(n, int) and n > 0), None)
        out_limit = asked or self.out_limit or profile_limit(metadata.get("ls_provider"), named)
        if out_limit is None and self.window:
            out_limit = max(self.window - tokens_in, 0)  # the rest of its window
        summary = SUMMARY_TAG in (kwargs.get("tags") or ())
        what = "the summary of the earlier turns" if summary else "the next model call"
        watched = bool(self.model) and not asked
        hold = await self.guard.before(self.thread_id, model, tokens_in, out_limit, self.say, what, watched)
        self.calls[run_id] = _Call(model, tokens_in, hold)

    async def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.get(run_id)
        if call is None or call.hold.room is None:
            return
        message = getattr(chunk, "message", None)
        args = sum(len(str(part.get("args") or "")) for part in getattr(message, "tool_call_chunks", None) or ())
        call.chars += len(token if isinstance(token, str) else "") + len(thinking_of(message)) + args
        running = self.guard.price(call.model, call.tokens_in, call.tokens_out()) or 0.0
        if running > call.hold.room + EPSILON:
            limit = call.hold.tightest
            raise LimitReached(
                f"the answer was stopped at about {dollars(running)}: {WHAT[limit]} had {dollars(call.hold.room)} "
                f"left of its limit ({limit})",
                limit,
                hint="the part shown is kept in the thread, marked as incomplete; " + raise_hint(limit),
            )

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is not None:
            usage = _usage(response)
            usd = self.guard.pricer.cost(usage, call.model) if usage else self._counted(call)
            await self.guard.after(call.hold, usd)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is not None:  # what arrived was paid for; a call that failed before its answer began costs nothing
            await self.guard.after(call.hold, self._counted(call) if call.chars else 0.0)

    async def close(self) -> None:
        """Settle the calls still open at what they sent and what arrived: a run cancelled (Ctrl-C, a client that
        left) tells LangChain's callbacks nothing of the call it stopped."""
        while self.calls:
            _run, call = self.calls.popitem()
            await self.guard.after(call.hold, self._counted(call))

    def _counted(self, call: _Call) -> float | None:
        return self.guard.price(call.model, call.tokens_in, call.tokens_out())


def profile_limit(provider: Any, model: Any) -> int | None:
    """The most tokens an answer of ``model`` may hold as its LangChain provider package's model profiles say."""
    import importlib

    try:
        limit = importlib.import_module(f"langchain_{provider}.data._profiles")._PROFILES[model]["max_output_tokens"]
    except Exception:  # noqa: BLE001 - no package, no profile, no limit in it: unknown
        return None
    return limit if isinstance(limit, int) and limit > 0 else None


def _usage(response: LLMResult) -> Any:
    """The usage the server reported for a call's answer, if any."""
    found = (getattr(getattr(g, "message", None), "usage_metadata", None) for gs in response.generations for g in gs)
    return next((usage for usage in found if usage), None)


# LangChain logs each error a callback raises as a warning: a refusal is said once, by chat, not also there.
logging.getLogger("langchain_core.callbacks.manager").addFilter(
    lambda record: not (isinstance(record.args, tuple) and record.args[:1] == (Meter.__name__,))
)

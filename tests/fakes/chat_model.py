"""The fake chat model at LangChain's level that a ``session`` (tests/session.py) answers with: tests/fakeserver.py's
default answer and its queue's items, without HTTP (called from a thread too: a graph of the user's whose node is a
function, as examples/graphs/agent.py's)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any, AsyncIterator, Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from tests.fakeserver import Calls, Fault, Reply, _prompt_words, echo_reply, made_up


class FakeModel(BaseChatModel):
    """A chat model that answers from its queue, else as the fake server does (see the module's docstring)."""

    model_name: str = "gpt-fake"
    replies: deque[Any] = Field(default_factory=deque)
    requests: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fake"

    def queue(self, *items: Any) -> None:
        self.replies.extend(items)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        return generate_from_stream(self._stream(messages, stop, **kw))

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        loop, chunks = asyncio.new_event_loop(), self._astream(messages, stop, **kwargs)
        try:
            while True:
                try:
                    yield loop.run_until_complete(anext(chunks))
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(chunks.aclose())
            loop.close()

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kw))

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        sent = convert_to_openai_messages(messages)
        tools = {"tools": kwargs["tools"]} if kwargs.get("tools") else {}
        self.requests.append({"model": self.model_name, "messages": sent, **tools})
        item = self.replies.popleft() if self.replies else made_up(echo_reply(sent))
        if isinstance(item, Fault):
            raise _status_error(item)
        if isinstance(item, BaseException):
            raise item
        finish, usage = ("tool_calls", False) if isinstance(item, Calls) else (item.finish_reason, item.usage)
        if isinstance(item, Calls):
            pieces = [AIMessageChunk(content=item.text)] if item.text else []
            for i, (name, args, *ident) in enumerate(item.calls):
                args = args if isinstance(args, str) else json.dumps(args)
                call = {"name": name, "args": args, "id": ident[0] if ident else f"call_{i}_{name}", "index": i}
                pieces.append(AIMessageChunk(content="", tool_call_chunks=[call]))
        else:
            pieces = [AIMessageChunk(content=token) for token in item.token_list()]
        for piece in pieces:
            if isinstance(item, Reply) and item.delay:
                await asyncio.sleep(item.delay)
            yield await _heard(ChatGenerationChunk(message=piece), run_manager)
        metadata = {"model_name": self.model_name, **({"finish_reason": finish} if finish else {})}
        last = AIMessageChunk(content="", response_metadata=metadata)
        if usage is not False:
            counts = {"prompt_tokens": _prompt_words(sent), "completion_tokens": len(pieces)}
            counts |= usage if isinstance(usage, dict) else {}
            last.usage_metadata = {
                "input_tokens": counts["prompt_tokens"],
                "output_tokens": counts["completion_tokens"],
                "total_tokens": counts.get("total_tokens", counts["prompt_tokens"] + counts["completion_tokens"]),
            }
        yield await _heard(ChatGenerationChunk(message=last), run_manager)


def _status_error(fault: Fault) -> Exception:
    """What chat's OpenAI client raises for the fake server's ``Fault(status=N)``: the SDK's error for that status."""
    import httpx
    import openai

    if fault.status is None:
        raise TypeError(f"{fault} is about the wire: a test of it takes the fake server (tests/fakeserver.py)")
    response = httpx.Response(fault.status, request=httpx.Request("POST", "http://127.0.0.1/v1/chat/completions"))
    message = fault.message or f"Error code: {fault.status}"
    return openai.AsyncOpenAI(api_key="x")._make_status_error(message, body=fault.body, response=response)


async def _heard(chunk: ChatGenerationChunk, run_manager: Any) -> ChatGenerationChunk:
    """``chunk``, told to the run's callbacks first (how LangGraph streams an answer's tokens)."""
    if run_manager is not None:
        await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
    return chunk

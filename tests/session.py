"""The ``session`` fixture: chat's service opened in this process over the test's store, with a fake chat model at
LangChain's level, for the tests of what the service decides (a thread's messages, its tree, a compaction, a
binding, a memory) where neither the command line nor a provider's wire is the subject.

An ``async def`` test that takes ``session`` runs with ``session.chat`` (a chatcli.service.chat.Chat) opened, and
closed when the test ends; ``session.settings`` are its settings, ``session.model`` the model that answers.

- The store is chat's default database in the test's home (``chat(env, ...)`` in the same test reads it), a copy of a
  new store made once per test process; a test parametrized to PostgreSQL (``storage``) gets its own database.
- The model (``FakeModel``) answers as tests/fakeserver.py's server does by default: ``"You said: <question>"`` and
  the earlier questions (``echo_reply``), streamed a token a chunk, with usage counted in words. It takes what that
  server's queue takes: ``session.model.queue(Reply("text"), Calls([("tool", {"a": 1})]), Fault(status=429))``, a
  reply, tool calls, a refusal (raised as chat's OpenAI client raises it), or any exception to raise. Each request is
  kept in ``session.model.requests`` in OpenAI's shape (``{"model", "messages": [{"role", "content"}], "tools"}``),
  as ``server.requests`` keeps it. The model gets in by the one function chat builds its chat models with
  (chatcli.backends.own.model.build_chat_model), replaced for the test: every model chat asks for (a subagent's,
  /model's) is this one under that name. The settings' endpoint is a port on 127.0.0.1 where nothing listens: what
  would go past the fake fails there, never reaching a hosted API.
- ``await session.ask(question, thread)`` asks in a thread (opened by ``Chat.thread``) and gives the answer's text;
  ``await session.said(thread)`` gives the texts of the thread's messages.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import shutil
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import agenerate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from tests.fakeserver import Calls, Fault, Reply, _prompt_words, echo_reply, made_up
from tests.stores import Storage

_ONCE: dict[str, str] = {}  # made once per test process: the new store tests copy, the address nothing listens on


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

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("chat calls its models asynchronously")

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


@dataclass
class Session:
    """An opened Chat over the test's store, its settings and the fake model that answers it."""

    chat: Any
    settings: Any
    model: FakeModel

    async def ask(self, question: str, thread: str = "t1", **send: Any) -> str:
        """The answer's text to ``question`` asked in ``thread`` (``send``: Thread.send's options)."""
        return (await (await self.chat.thread(thread)).send(question, **send)).text

    async def said(self, thread: str = "t1") -> list[str]:
        """The texts of ``thread``'s messages, oldest first."""
        return [m.text for m in await (await self.chat.thread(thread)).messages()]


def _store(storage: Storage, home_data: Path, tmp: pytest.TempPathFactory) -> str:
    """The test's database: PostgreSQL's when the test runs there, else chat's default file, a copy of the
    process's new store."""
    if storage.url:
        return storage.url
    if "template" not in _ONCE:
        from chatcli.store.sqlite import prepare_db_path

        _ONCE["template"] = str(prepare_db_path(str(tmp.mktemp("template") / "chat.db")))
    (home_data / "chatcli").mkdir(parents=True, exist_ok=True)
    return str(shutil.copy(_ONCE["template"], home_data / "chatcli" / "chat.db"))


@pytest.fixture
def session(
    isolated_env: Path, storage: Storage, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    """Chat's service over the test's store and a fake model (see tests/session.py); opened for an ``async def``
    test."""
    from chatcli.config import load_settings
    from chatcli.service.chat import Chat
    from tests.fakeserver import closed_port_url

    db = _store(storage, isolated_env / ".local" / "share", tmp_path_factory)
    # A loopback address where nothing listens: a request that got past the fake model would fail, never leave.
    nowhere = _ONCE.setdefault("nowhere", closed_port_url())
    environ = {"OPENAI_BASE_URL": nowhere, "OPENAI_API_KEY": "sk-test-0123456789", "CHATCLI_MODEL": "gpt-fake"}
    for name, value in {**environ, "CHATCLI_DB": db}.items():
        monkeypatch.setenv(name, value)
    model = FakeModel()
    monkeypatch.setattr(
        "chatcli.backends.own.model.build_chat_model",
        lambda settings, spec=None: model.model_copy(update={"model_name": spec or settings.model}),
    )
    settings = load_settings({})
    yield Session(Chat(settings), settings, model)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    """An ``async def`` test that takes ``session`` runs inside ``async with session.chat``, opened first."""
    found, test = pyfuncitem.funcargs.get("session"), pyfuncitem.obj
    if not isinstance(found, Session) or not inspect.iscoroutinefunction(test):
        return (yield)

    async def opened(**arguments: Any) -> None:
        async with found.chat:
            await found.chat.open()
            await test(**arguments)

    pyfuncitem.obj = opened
    try:
        return (yield)
    finally:
        pyfuncitem.obj = test

"""The ``session`` fixture: chat's service opened in this process over the test's store, with a fake chat model at
LangChain's level, for the tests of what the service decides (a thread's messages, its tree, a compaction, a
binding, a memory) where neither the command line nor a provider's wire is the subject.

An ``async def`` test that takes ``session`` runs with ``session.chat`` (a chatcli.service.chat.Chat) opened, and
closed when the test ends; ``session.settings`` are its settings, ``session.model`` the model that answers.

- The store is chat's default database in the test's home (``chat(env, ...)`` in the same test reads it), a copy of a
  new store made once per test process; a test parametrized to PostgreSQL (``storage``) gets its own database.
- The model (``FakeModel``, tests/fakes/chat_model.py, imported when a test asks for it) answers as
  tests/fakeserver.py's server does by default: ``"You said: <question>"`` and the earlier questions
  (``echo_reply``), streamed a token a chunk, with usage counted in words. It takes what that server's queue takes:
  ``session.model.queue(Reply("text"), Calls([("tool", {"a": 1})]), Fault(status=429))``, a reply, tool calls, a
  refusal (raised as chat's OpenAI client raises it), or any exception to raise. Each request is kept in
  ``session.model.requests`` in OpenAI's shape (``{"model", "messages": [{"role", "content"}], "tools"}``), as
  ``server.requests`` keeps it. The model gets in by the one function chat builds its chat models with
  (chatcli.backends.own.model.build_chat_model), replaced for the test: every model chat asks for (a subagent's,
  /model's) is this one under that name. The settings' endpoint is a port on 127.0.0.1 where nothing listens: what
  would go past the fake fails there, never reaching a hosted API.
- The embedding model (``session.embeddings``, tests/fakes/embedding.py's ``Embedder``) answers for every embedding model
  chat builds (chatcli.backends.own.model.build_embeddings, replaced for the test) as the fake server's
  ``/v1/embeddings`` does: its ``asked``, its ``faults`` (a status raised as chat's OpenAI client raises it). It is
  asked only where the settings name one (``replace(session.settings, embedding_model="openai:embed-fake")``).
- ``await session.ask(question, thread)`` asks in a thread (opened by ``Chat.thread``) and gives the answer's text;
  ``await session.said(thread)`` gives the texts of the thread's messages.
"""

from __future__ import annotations

import inspect
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from tests.stores import Storage

if TYPE_CHECKING:
    from tests.fakes.chat_model import FakeModel
    from tests.fakes.embedding import Embedder

_ONCE: dict[str, str] = {}  # made once per test process: the new store tests copy, the address nothing listens on


@dataclass
class Session:
    """An opened Chat over the test's store, its settings and the fake models that answer it."""

    chat: Any
    settings: Any
    model: FakeModel
    embeddings: Embedder

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
    from tests.fakes.chat_model import FakeModel
    from tests.fakes.embedding import Embedder
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
    embeddings = Embedder()
    monkeypatch.setattr("chatcli.backends.own.model.build_embeddings", lambda settings, spec: _Embeddings(embeddings))
    settings = load_settings({})
    yield Session(Chat(settings), settings, model, embeddings)


class _Embeddings:
    """An embedding model at LangChain's level whose vectors are ``embedder``'s (see the module's docstring)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        from tests.fakes.chat_model import Fault, _status_error

        found = self.embedder.answer(texts)
        if isinstance(found, int):
            raise _status_error(Fault(status=found))
        return found

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


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

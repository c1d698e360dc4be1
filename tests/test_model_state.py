"""What chat learns about one model stays that model's: its window, its budget, its refusal of tools.

One engine serves several models at once (``/model``, a role's model, a ``chat serve`` request's
model). A context-window refusal from ``small-model`` on one thread once shrank every thread's
history budget, ``default-model``'s included, and wrote the small budget to windows.json under the
default model's name, so later runs of the default model stayed trimmed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from chatcli.config import load_settings
from chatcli.core.events import Silent
from chatcli.service.chat import Chat
from chatcli.service.opening import ThreadSetup
from tests.fakeserver import Fault

LONG = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 12  # ~170 words
SMALL = "small-model"


def _words(body: dict) -> int:
    return sum(len(str(m.get("content")).split()) for m in body["messages"])


@pytest.fixture
def chat_env(chat_env: dict[str, str]) -> dict[str, str]:
    """Each request here is a question's, sized by what trim leaves (the default memory would compact first)."""
    return {**chat_env, "CHATCLI_MEMORY": "trim"}


def _windows(env: dict[str, str]) -> dict:
    path = Path(env["XDG_DATA_HOME"]) / "chatcli" / "windows.json"
    return json.loads(path.read_text()) if path.exists() else {}


async def _fill(engine, thread: str, model: str | None, turns: int) -> None:
    conversation = await engine.thread(thread, setup=ThreadSetup(model=model))
    for i in range(turns):
        await conversation.send(f"note {i}: {LONG}")


def test_a_window_refusal_of_one_model_leaves_the_others_budget_alone(server, chat_env):
    settings = load_settings({}, environ=chat_env)

    async def main() -> None:
        async with Chat(settings, listener=Silent()) as engine:
            await _fill(engine, "small", SMALL, 4)
            await _fill(engine, "big", None, 4)
            server.model_windows = {SMALL: 900}
            small = await engine.thread("small", setup=ThreadSetup(model=SMALL))
            await small.send("what was the first note about?")
            refused, retried = server.requests[-2:]
            assert refused["model"] == retried["model"] == SMALL
            assert _words(retried) <= 900 < _words(refused), "the small model's history was fitted to its window"
            big = await engine.thread("big")
            result = await big.send("and on the other thread?")
            assert result.text.startswith("You said: and on the other thread?")
            assert server.requests[-1]["model"] == "gpt-fake"
            assert _words(server.requests[-1]) > 4 * 170, "the default model is still sent its whole history"

    asyncio.run(main())
    learned = {key.rpartition(" ")[2]: entry["budget"] for key, entry in _windows(chat_env).items()}
    # (budget 0: the server was asked for its window once and did not say it)
    assert 0 < learned[SMALL] < 900 and not learned.get("gpt-fake"), learned


def test_a_later_run_of_the_default_model_is_not_trimmed_by_another_models_window(server, chat_env):
    settings = load_settings({}, environ=chat_env)

    async def main() -> None:
        async with Chat(settings, listener=Silent()) as engine:
            await _fill(engine, "t", None, 4)
            server.model_windows = {SMALL: 900}
            await (await engine.thread("t", setup=ThreadSetup(model=SMALL))).send("shrink, small model")
        async with Chat(settings, listener=Silent()) as engine:  # a later run: what windows.json says
            sent = len(server.requests)
            # A thread goes on with the model it was last asked with: the default is named, as -m names it.
            await (await engine.thread("t", setup=ThreadSetup(model="gpt-fake"))).send("and now the default model")
            assert len(server.requests) == sent + 1 and _words(server.requests[-1]) > 4 * 170

    asyncio.run(main())


def test_a_model_that_refuses_tools_is_asked_without_them_alone(server, chat_env):
    settings = load_settings({"tools": "files"}, environ=chat_env)
    refusal = Fault(status=400, message="this model does not support tools")

    async def main() -> None:
        from chatcli.service.chat import open_toolbox

        async with open_toolbox(settings) as toolbox, Chat(settings, listener=Silent()) as tooled:
            await tooled.open(tools=toolbox)
            server.queue(refusal)
            await (await tooled.thread("a", setup=ThreadSetup(model=SMALL))).send("hi")
            assert "tools" in server.requests[-2] and "tools" not in server.requests[-1]
            await (await tooled.thread("b")).send("hello")
            assert "tools" in server.requests[-1], "the default model is still offered its tools"
            await (await tooled.thread("a", setup=ThreadSetup(model=SMALL))).send("again")
            assert "tools" not in server.requests[-1], "the small model is not offered them again"

    asyncio.run(main())

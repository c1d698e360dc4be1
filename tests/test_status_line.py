"""The prompt's status line (#66, item 3: the room left under the spending limits, shown on request): with
``status_line = true`` (or /status on) the bottom row of the prompt says the model, the thread and, while limits are
set, the room left under each, as /usage reads it, read again after each answer; off (the default), nothing is drawn
below the prompt; a server's thread (--remote) has no spending part.

Driven in a real pseudo-terminal (tests.helpers.Repl: 100x40, the cursor reported on the bottom row), the answers
priced by config.toml's [prices] ($100 a million tokens in, $1,000 out: 1,000 in and 100 out cost $0.20)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from chatcli.threads.spending import Room, Standing
from chatcli.ui.status import StatusLine
from tests.fakeserver import Reply
from tests.helpers import CHAT, Repl, screen

pytestmark = pytest.mark.skipif(not CHAT.exists(), reason=f"console script not installed at {CHAT}")

PROMPT_READY = "\x1b[?2004h"  # prompt-toolkit turns bracketed paste on as each prompt starts waiting
COUNTS = {"prompt_tokens": 1000, "completion_tokens": 100}
PRICED = 'max_tokens = 100\n[prices."gpt-fake"]\ninput = 100\noutput = 1000\n'
LIMITS = {"CHATCLI_MAX_COST_DAY": "5", "CHATCLI_MAX_COST_THREAD": "1"}


def configured(home, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def bottom(repl: Repl) -> str:
    """The last row of the screen with anything on it."""
    rows = [row for row in screen(repl.raw) if row.strip()]
    return rows[-1] if rows else ""


def wait_bottom(repl: Repl, line: str) -> None:
    repl.wait_until(lambda: bottom(repl) == line, f"the bottom row to be {line!r} (it is {bottom(repl)!r})")


@pytest.mark.e2e
def test_the_status_line_says_the_model_the_thread_and_the_room_left_after_each_answer(
    server, chat_env, isolated_env, start
):
    configured(isolated_env, "status_line = true\n" + PRICED)
    server.queue(Reply("first answer", usage=COUNTS), Reply("second answer", usage={**COUNTS, "completion_tokens": 50}))
    repl = start("--thread", "first", env={**chat_env, **LIMITS})
    wait_bottom(repl, "gpt-fake · thread first · today $5.00 left of $5.00 · thread $1.00 left of $1.00")

    repl.say("a question")
    repl.wait_prompt()
    # The answer cost $0.20: the room under each limit is $0.20 less, read once the answer is in.
    wait_bottom(repl, "gpt-fake · thread first · today $4.80 left of $5.00 · thread $0.8000 left of $1.00")
    assert "first answer" in repl.text

    repl.type("still typing")  # the prompt's line is above it, as typed
    rows = [row for row in screen(repl.raw) if row.strip()]
    assert rows[-2:] == [
        "> still typing",
        "gpt-fake · thread first · today $4.80 left of $5.00 · thread $0.8000 left of $1.00",
    ], rows
    repl.child.send("\r")
    repl.wait_prompt()
    wait_bottom(repl, "gpt-fake · thread first · today $4.65 left of $5.00 · thread $0.6500 left of $1.00")

    repl.say("/status off")
    repl.wait_prompt()
    repl.wait_until(lambda: bottom(repl) == ">", "the prompt alone at the bottom")
    repl.child.sendeof()
    assert repl.exit_code() == 0


@pytest.mark.e2e
def test_off_by_default_nothing_is_drawn_below_the_prompt_and_status_on_shows_it(server, chat_env, isolated_env, start):
    configured(isolated_env, PRICED)
    server.queue(Reply("an answer", usage=COUNTS))
    repl = start("--thread", "plain", env={**chat_env, **LIMITS})
    repl.say("a question")
    repl.wait_prompt()
    repl.wait_for("an answer")
    repl.type("typed")
    assert bottom(repl) == "> typed"
    assert "left of" not in repl.text
    assert "\n" not in repl.raw[repl.raw.rindex(PROMPT_READY) :]  # no row drawn below the prompt, not even empty

    repl.child.send("\x15")  # Ctrl-U: the line cleared
    repl.say("/status on")
    repl.wait_prompt()
    wait_bottom(repl, "gpt-fake · thread plain · today $4.80 left of $5.00 · thread $0.8000 left of $1.00")


@pytest.mark.e2e
def test_with_no_limit_set_it_says_the_model_and_the_thread_alone(server, chat_env, isolated_env, start):
    configured(isolated_env, PRICED)
    repl = start("--thread", "free", env={**chat_env, "CHATCLI_STATUS_LINE": "1"})
    wait_bottom(repl, "gpt-fake · thread free")
    repl.say("/status")
    repl.wait_prompt()
    assert "gpt-fake · thread free" in screen(repl.raw)


def test_a_reached_limit_is_marked_a_question_s_limit_is_its_whole_and_a_server_s_thread_has_no_spending_part():
    def thread(standing: Standing) -> object:
        async def spending() -> Standing:
            return standing

        return SimpleNamespace(settings=None, model_name="m", thread_id="t", spending=spending)

    reached = Standing(
        [Room("max_cost_day", 5.0, 5.0), Room("max_cost_thread", 1.0, 0.25, "t"), Room("max_cost_answer", 0.5)], 0.0
    )
    status = StatusLine(shown=True)
    assert asyncio.run(status.refresh(thread(reached))) == (  # type: ignore[arg-type]
        "m · thread t · today $5.00 limit reached · thread $0.7500 left of $1.00 · each question up to $0.5000"
    )
    assert status.toolbar() is not None and status.toolbar()() == status.text  # type: ignore[misc]
    remote = Standing([Room("max_cost_day", 5.0)], 0.0, kept=False)
    assert asyncio.run(status.refresh(thread(remote))) == "m · thread t"  # type: ignore[arg-type]
    assert StatusLine(shown=False).toolbar() is None  # off: no toolbar, no row

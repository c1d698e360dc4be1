"""Leaving the prompt the way newcomers from Python's REPL, aichat or ollama try first.

``exit`` or ``quit`` typed alone leave (they used to be sent to the model and name the thread);
``//exit`` still sends "/exit"; Ctrl-C pressed again and again on an empty prompt says how to
leave. The prompt loop runs in-process on prompt-toolkit's pipe input, as keys typed at once.
"""

from __future__ import annotations

import asyncio

import pytest

from chatcli.service.chat import Chat
from chatcli.service.opening import Opening

WAIT = 20  # seconds: the engine's import takes a second or two on a busy machine


async def _run(settings, keys_text: str, until: str | None = None) -> tuple[str, str, bool]:
    """Type ``keys_text`` at once into the prompt loop; stdout, stderr, and whether it ended by itself.

    With ``until``, wait for that text on stdout or stderr, then press Ctrl-D.
    """
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from chatcli.ui import prompt
    from chatcli.ui.output import PlainOutput
    from chatcli.ui.prompt_session import make_session
    from tests.helpers import Captured, eventually_async

    out, err = Captured(), Captured()
    with create_pipe_input() as keys:
        session = make_session(settings, input=keys, output=DummyOutput())
        keys.send_text(keys_text)
        repl = asyncio.create_task(
            prompt.run_repl(Chat(settings), Opening("cafe0001"), PlainOutput(out, err), session=session)
        )
        await eventually_async(
            lambda: repl.done() or (until is not None and until in out.getvalue() + err.getvalue()),
            f"the prompt to end or show {until!r}",
            WAIT,
        )
        ended = repl.done()
        if not ended:
            keys.send_text("\x04")
        await asyncio.wait_for(repl, 10)
    return out.getvalue(), err.getvalue(), ended


@pytest.mark.parametrize("word", ["exit", "quit", "  Exit ", "QUIT\t"])
async def test_exit_or_quit_alone_leaves_and_nothing_is_sent(settings, server, word):
    out, err, ended = await _run(settings, word + "\r")
    assert ended, "the prompt kept waiting after " + repr(word)
    assert err.splitlines()[-1] == "bye" and "cafe0001" not in err, err  # nothing stored: no thread to resume
    assert server.requests == [], "the word went to the model"


async def test_a_sentence_with_exit_in_it_is_a_question(settings, server):
    out, err, ended = await _run(settings, "exit the loop how?\r", until="You said: exit the loop how?")
    assert not ended
    assert [m["content"] for m in server.requests[0]["messages"] if m["role"] == "user"] == ["exit the loop how?"]


async def test_double_slash_exit_is_sent_and_the_prompt_stays(settings, server):
    out, err, ended = await _run(settings, "//exit\r", until="You said: /exit")
    assert not ended, "//exit left instead of sending /exit"
    assert [m["content"] for m in server.requests[0]["messages"] if m["role"] == "user"] == ["/exit"]


async def test_three_ctrl_c_on_an_empty_prompt_say_how_to_leave(settings, server):
    out, err, ended = await _run(settings, "\x03\x03\x03//done\r", until="You said: /done")
    assert not ended, "Ctrl-C left the prompt"
    assert err.count("Ctrl-D or /exit leaves") == 1, err


async def test_ctrl_c_that_clears_typed_text_is_not_counted(settings, server):
    out, err, ended = await _run(settings, "\x03\x03draft\x03\x03//done\r", until="You said: /done")
    assert "Ctrl-D or /exit leaves" not in err, err

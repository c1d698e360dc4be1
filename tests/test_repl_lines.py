"""One line at the prompt, in-process: whatever it raises is one line and the prompt goes on (as ptpython)."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout

import pytest

from chatcli.service.chat import Chat
from chatcli.ui.commands import HANDLERS
from chatcli.ui.output import PlainOutput
from chatcli.ui.prompt import Repl, dispatch
from chatcli.ui.registry import Context


async def dispatch_lines(settings, lines: list[str], debug: bool = False) -> tuple[list[bool], str, str]:
    """Run lines as the prompt runs them; what each returned, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    output = PlainOutput(out, err)
    async with Chat(settings, listener=output) as chat:
        conversation = await chat.thread("t1")
        loading = asyncio.get_running_loop().create_future()
        loading.set_result(conversation)
        repl = Repl(loading, Context(conversation, output, settings, chat), output, settings, debug)
        results = []
        with redirect_stdout(out):  # listings go to stdout
            for line in lines:
                results.append(await dispatch(repl, line))
    return results, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("arg", ["99999999999999999999999", "²", "0", "-3", "ten"])
async def test_threads_with_a_bad_number_is_a_usage_line(settings, server, arg):
    results, out, err = await dispatch_lines(settings, [f"/threads {arg}", "hello"])
    assert results == [True, True], "the prompt goes on"
    lines = err.splitlines()
    assert lines[0].startswith("error: /threads takes a number from 1 to 100,000"), err
    assert "You said: hello" in out


async def test_anything_raised_inside_a_command_is_one_line_and_the_prompt_goes_on(settings, server, monkeypatch):
    async def broken(ctx, arg):
        raise RuntimeError(f"boom with {settings.api_key}")  # a key in an error never reaches the screen

    monkeypatch.setitem(HANDLERS, "/tools", broken)  # the prompt runs /tools with this handler
    results, out, err = await dispatch_lines(settings, ["/tools", "still here?"])
    assert results == [True, True]
    first = err.splitlines()[0]
    assert (
        first.startswith("error: unexpected error: RuntimeError: boom with")
        and "(run with --debug for details)" in first
    )
    assert settings.api_key not in err and "Traceback" not in err
    assert "You said: still here?" in out


async def test_with_debug_the_traceback_comes_too(settings, server, monkeypatch):
    async def broken(ctx, arg):
        raise ValueError("kaput")

    monkeypatch.setitem(HANDLERS, "/tools", broken)  # the prompt runs /tools with this handler
    results, out, err = await dispatch_lines(settings, ["/tools"], debug=True)
    assert results == [True]
    assert "Traceback (most recent call last)" in err and "ValueError: kaput" in err
    assert err.rstrip().splitlines()[-1].startswith("error: unexpected error: ValueError: kaput")

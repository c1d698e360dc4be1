"""The failure table: each kind of exception to the one line and exit code that every output shows."""

from __future__ import annotations

import errno
import io

import pytest

from chatcli.app.run import report
from chatcli.backends.own.failures import describe, traceback_text
from chatcli.config import Settings
from chatcli.errors import ConfigError, Interrupted, ModelError, StoreError, UsageError
from chatcli.ui.jsonout import JsonOutput

KEY = "sk-live-0123456789abcdef"
SETTINGS = Settings(api_key=KEY)


@pytest.mark.parametrize(
    ("exc", "line", "status", "kind", "stderr"),
    [
        (KeyboardInterrupt(), "interrupted", 130, "interrupted", "interrupted\n"),
        (Interrupted(15), "terminated", 143, "interrupted", "terminated\n"),
        (Interrupted(1), "hung up (the terminal closed)", 129, "interrupted", "hung up (the terminal closed)\n"),
        (UsageError("no such thing", hint="try this"), "no such thing (try this)", 2, "chat_error", "chat: error: no such thing (try this)\n"),
        (ConfigError("bad setting"), "bad setting", 3, "chat_error", "chat: error: bad setting\n"),
        (ModelError("refused"), "refused", 4, "chat_error", "chat: error: refused\n"),
        (StoreError("locked"), "locked", 5, "chat_error", "chat: error: locked\n"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "the reader of the output left", 141, "broken_pipe", ""),
        (OSError(errno.ENOSPC, "No space left on device"), "cannot write the output: No space left on device", 1, "output",
         "chat: error: cannot write the output: No space left on device\n"),
        (RuntimeError(f"boom\n  with {KEY}"), "unexpected error: RuntimeError: boom with *** (run with --debug for details)", 1, "unexpected",
         "chat: unexpected error: RuntimeError: boom with *** (run with --debug for details)\n"),
    ],
)  # fmt: skip
def test_each_failure_has_one_line_and_one_exit_code_everywhere(exc, line, status, kind, stderr, monkeypatch):
    monkeypatch.setattr("chatcli.app.run.silence_stdout", lambda: None)
    failure = describe(exc, SETTINGS)
    assert (failure.line, failure.exit_status, failure.kind) == (line, status, kind)
    err = io.StringIO()
    assert report(exc, False, SETTINGS, err) == status
    assert err.getvalue() == stderr
    out = io.StringIO()
    JsonOutput(out, io.StringIO()).fail(exc, SETTINGS)
    assert f'"exit_code": {status}' in out.getvalue() and KEY not in out.getvalue()


def test_the_key_never_shows_not_even_in_the_traceback():
    try:
        raise ValueError(f"Incorrect API key provided: {KEY}")
    except ValueError as exc:
        caught = exc
    err = io.StringIO()
    assert report(caught, True, SETTINGS, err) == 1
    assert KEY not in err.getvalue() and "Traceback" in err.getvalue()
    assert KEY not in traceback_text(caught, SETTINGS) and KEY not in describe(caught, SETTINGS).line


def test_a_stderr_that_cannot_be_written_still_gives_the_exit_code():
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    assert report(Interrupted(15), False, None, Closed()) == 143
    assert report(RuntimeError("x"), True, None, Closed()) == 1

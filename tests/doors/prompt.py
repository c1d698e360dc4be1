"""The prompt in this process: ``chat ARGS`` at a terminal, its keys typed through prompt-toolkit's pipe input.

``Typed`` runs ``chatcli.app.cli.main(ARGS, Environment(...))`` on a thread of this process, in a prompt-toolkit
session of its own (``create_app_session``): its input is a pipe the test types into, its stdin and stdout say they
are a terminal (``sys.stdout`` too, for the session's length), so the command line opens the prompt as it does at a
terminal (the same flags, settings, backend and thread), and what it prints is kept (the answer on stdout; the
banner, the thread's id and the error lines on stderr). A question is answered once the prompt reads keys again.

What only a terminal gives stays a pseudo-terminal (tests/matrix.py's ``Prompt``, the ``prompt+process`` cells and
every ``_pty`` test): the signals its keys make (Ctrl-C stops a reply by SIGINT, which is the process's and not a
thread's: ``Prompt.stop`` here asks in one), the screen as it is drawn, keys typed while the terminal is not reading.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.helpers import Captured, visible

WAIT = 60.0
# The terminal's width rich lays the answer out in: the pseudo-terminal's text has no line breaks of its own where a
# long line wraps on its screen, and a line wrapped here would be two lines (rich reads COLUMNS: the process's).
COLUMNS = "1000"


class Typed:
    """One session of the prompt (see the module): ``say`` a line and have what it printed."""

    def __init__(self, env: dict[str, str], args: list[str]):
        from prompt_toolkit.input import create_pipe_input

        from chatcli.app.environment import Environment

        self.out, self.err = Captured(tty=True), Captured(tty=True)
        self._keys = contextlib.ExitStack()
        self.keys = self._keys.enter_context(create_pipe_input())
        patch = self._keys.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("COLUMNS", COLUMNS)
        # What a command prints goes to ``sys.stdout`` as the prompt found it (its Context.out): the terminal's.
        self._keys.enter_context(contextlib.redirect_stdout(self.out))
        self.environment = Environment(stdin=Captured(tty=True), stdout=self.out, stderr=self.err,
                                       environ=dict(env), cwd=Path.cwd())  # fmt: skip
        self.app_session: Any = None
        self.code: int | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(args,), name="chat prompt", daemon=True)
        self.thread.start()

    def _run(self, args: list[str]) -> None:
        from prompt_toolkit.application import create_app_session
        from prompt_toolkit.output import DummyOutput

        from chatcli.app.cli import main

        try:
            with create_app_session(input=self.keys, output=DummyOutput()) as session:
                self.app_session = session
                self.code = main(list(args), self.environment)
        except BaseException as exc:  # noqa: BLE001 - a session that failed fails the test that waits on it
            self.failure = exc

    @property
    def text(self) -> str:
        """What the session printed so far, stderr's lines (banner, notes, errors) after stdout's."""
        return visible(self.out.getvalue()) + "\n" + visible(self.err.getvalue())

    def ready(self, before: Any = None, timeout: float = WAIT, typed: str = "") -> Any:
        """Wait until the prompt reads keys (another prompt than ``before``), with ``typed`` on its line (nothing, or
        what the prompt put back there): that prompt."""
        deadline = time.monotonic() + timeout
        while True:
            app = self.app_session.app if self.app_session is not None else None
            future = getattr(app, "future", None)
            if app is not None and app.is_running and future is not before and app.current_buffer.text == typed:
                return future
            if not self.thread.is_alive() or time.monotonic() > deadline:
                how = "the session ended" if not self.thread.is_alive() else "timed out"
                raise AssertionError(f"{how} waiting for the prompt: {self.failure!r}\n{self}")
            time.sleep(0.005)

    def say(self, line: str, on_the_line: str = "", then: str = "") -> tuple[str, str]:
        """Type ``line`` and Enter at the prompt (whose line holds ``on_the_line``); once the next prompt reads keys
        (its line holding ``then``), what stdout and stderr got."""
        before = self.ready(typed=on_the_line)
        at = len(self.out.getvalue()), len(self.err.getvalue())
        self.keys.send_text(line + "\r")
        self.ready(before, typed=then)
        return visible(self.out.getvalue()[at[0] :]), visible(self.err.getvalue()[at[1] :])

    def leave(self) -> int | None:
        """Ctrl-D at the prompt: the session ends; its exit code."""
        if self.thread.is_alive():
            self.keys.send_text("\x04")
            self.thread.join(WAIT)
        self._keys.close()
        assert not self.thread.is_alive(), f"the prompt did not end at Ctrl-D\n{self}"
        return self.code

    def __str__(self) -> str:
        return f"--- stdout\n{visible(self.out.getvalue())}\n--- stderr\n{visible(self.err.getvalue())}"


class Prompt(matrix.Prompt):
    """The prompt door in this process (see the module): ``ask`` is a session of its own, ``go_on`` types at the same
    prompt, ``stop`` is asked at the prompt in a pseudo-terminal (a signal's)."""

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        super().__init__(env, args)
        self.here: Typed | None = None

    def _open(self, thread: str | None) -> Typed:
        self._leave_here()
        self.here = Typed(self.env, [*self.args, *matrix._on(thread)])
        self.here.ready()
        return self.here

    def _leave_here(self) -> None:
        typed, self.here = self.here, None
        if typed is not None:
            code = typed.leave()
            assert code == 0, f"leaving the prompt: exit {code}\n{typed}"

    def _said(self, typed: Typed, question: str) -> matrix.Answer:
        out, err = typed.say(question)
        shown = out + "\n" + err
        errors = [line.strip() for line in shown.splitlines() if "error" in line.lower()]
        named = matrix._THREAD.findall(typed.text)
        code = 0 if typed.thread.is_alive() else typed.code
        return matrix.Answer(code, shown, errors, named[-1] if named else None, raw=str(typed)[-3000:])

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> matrix.Answer:
        typed = self._open(thread)
        for file in files:  # a file the prompt refuses to queue is said at once: its user asks nothing then
            refused = self._said(typed, f"/attach {file}")
            if refused.errors:
                return refused
        return self._said(typed, question)

    def go_on(self, answer: matrix.Answer, question: str) -> matrix.Answer:
        typed = self.here
        if typed is not None and answer.thread and matrix._THREAD.findall(typed.text)[-1:] == [answer.thread]:
            return self._said(typed, question)
        if self.current is not None:  # the answer was stopped at a pseudo-terminal's prompt: go on there
            return super().go_on(answer, question)
        return self.ask(question, answer.thread)

    def stop(self, question: str, shown: str, thread: str | None = None) -> matrix.Answer:
        self._leave_here()
        return super().stop(question, shown, thread)

    def close(self) -> None:
        try:
            self._leave_here()
        finally:
            super().close()

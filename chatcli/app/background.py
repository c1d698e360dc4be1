"""A background reply's process (``python -m chatcli.app.background``, chatcli.service.jobs): its ``JobSpec`` read
from its stdin, answered as the one-shot ``chat --jsonl`` answers (chatcli.app.run.run), its events on its stdout.

Its stdin is the spec's file, locked by the starter for the job: the job keeps it open (and so locked) until it
exits, which is how ``chat jobs`` knows it runs; what it starts gets /dev/null as stdin instead, so that nothing
outlives it holding the lock.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Mapping

from chatcli.app.environment import Environment
from chatcli.app.run import answering_of, run, thread_setup
from chatcli.service.jobs import JobSpec, ending

if TYPE_CHECKING:
    from chatcli.config import Settings
    from chatcli.service.opening import ThreadSetup


def answer(spec: JobSpec, out: IO[str], err: IO[str], environ: Mapping[str, str], cwd: Path) -> int:
    """Answer ``spec`` as ``chat --jsonl`` answers, in ``cwd`` with ``environ``: its events on ``out``, its one line
    on ``err`` (a call that needs approval waits in the thread: nobody is here to ask); then the terminal that started
    it is told how it ended, as the ``notify`` setting says. Its exit code."""
    import typer

    from chatcli.app.shared import current, guarded
    from chatcli.ui.jsonout import JsonOutput
    from chatcli.ui.notify import tell

    piped = base64.b64decode(spec.setup.get("stdin") or "")
    env = Environment(io.TextIOWrapper(io.BytesIO(piped), encoding="utf-8"), out, err, environ, cwd)
    output = JsonOutput(out, err, lines=True, waits=True, given=spec.answers)
    read: list[Settings] = []

    def ask(settings: Settings) -> None:
        read.append(settings)
        run(spec.question or None, spec.thread, settings, _setup(spec, settings, env), output, env, False)

    token = current.set(env)
    try:
        guarded(False, ask, spec.overrides, output.fail)
        code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    finally:
        current.reset(token)
    if read and read[0].notify != "off" and (found := ending(spec.id, environ)):  # told how it ended, as it says
        tell(found[0].tty, found[0].session, found[1], desktop=read[0].notify == "desktop")
    return code


def _setup(spec: JobSpec, settings: Settings, env: Environment) -> ThreadSetup:
    """How ``spec`` sets its thread up, and what answers it (on an Agent Server, its runs tagged with the job)."""
    from chatcli.service.thread import NO_VALUE

    given: dict[str, Any] = spec.setup
    answerer = answering_of(given.get("graph"), given.get("remote") or None, given.get("assistant"), [], env, spec.id)
    # What waits is asked again, and the spec's answers answer it.
    return thread_setup(given, settings, answerer, NO_VALUE if spec.answers is not None else None)


def main() -> int:
    """The job's process: its spec from stdin (kept open: the lock), then its answer."""
    from chatcli.app import library_output
    from chatcli.app.cli import untraced

    library_output.install()  # the libraries' warnings and log lines pass chat's writer too
    untraced(os.environ)
    spec = JobSpec.of_json(sys.stdin.buffer.read())
    os.dup(0)  # the spec's lock, held until this process ends (a descriptor no process it starts inherits)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    return answer(spec, sys.stdout, sys.stderr, os.environ, Path.cwd())


if __name__ == "__main__":
    sys.exit(main())

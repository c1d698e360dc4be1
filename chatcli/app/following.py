"""``chat attach``: what a background reply said so far, then the rest as it comes (Ctrl-C leaves it running).

Standard library only (and chatcli.service.jobs, which is): the launcher runs a plain ``chat attach [ID]`` itself,
without the command line's start-up, so that what arrived is shown at once; the command line's ``chat attach``
(``--go-on``, a job not found) calls the same ``follow``.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Mapping

from chatcli.app.environment import silence_stdout
from chatcli.local import runtime
from chatcli.service import jobs
from chatcli.text import say

if TYPE_CHECKING:
    from chatcli.service.jobs import Job, Seen


def follow(found: Job, environ: Mapping[str, str], out: IO[str], err: IO[str]) -> None:
    """Write ``found``'s text so far, then the rest as it comes, and how it ended; Ctrl-C leaves it running."""

    runtime.over()  # it may follow for hours
    try:
        for event in jobs.follow(found, environ):
            if event.get("type") == "token":
                say(out, str(event.get("text") or ""))
                out.flush()
    except KeyboardInterrupt:
        say(out, "\n")
        say(err, f"chat: left job {found.id} running (chat attach {found.id} follows it again)\n")
        return
    seen = jobs.seen(found, environ)
    say(out, "\n" if seen.text and not seen.text.endswith("\n") else "")
    _ended(seen, err, environ)


def _ended(seen: "Seen", err: IO[str], environ: Mapping[str, str]) -> None:
    """One line on how a reply that is no longer running stands."""

    job, thread, said = seen.job.id, seen.thread or "?", ""
    if seen.state == "waiting":
        said = f" waits for you: chat inbox answer {thread} answers it"
    elif seen.state == "answered":
        later = max((j for j in jobs.jobs(environ) if j.thread == seen.thread), key=lambda j: j.started).id
        said = f" was answered: thread {thread} went on as job {later} (chat attach {later})"
    elif seen.state == "failed":
        said = f" failed: {((seen.end or {}).get('error') or {}).get('message') or 'see chat show ' + thread}"
    elif seen.state == "interrupted" and seen.job.remote:
        said = f"'s process ended before its answer did; its run is the server's: chat attach {job} joins it there"
    elif seen.state == "interrupted":
        said = f" ended before its answer did: the part that arrived is in thread {thread}; chat attach {job} --go-on "
        said += "answers it again from there"
    if said:
        say(err, f"chat: job {job}{said}\n")  # (said: from its first space, or 's)


def attach(argv: list[str], environ: Mapping[str, str]) -> int | None:
    """``chat attach [ID]`` run by the launcher: its exit code, or None when the command line should run it (other
    arguments, no such job: said there, in its words)."""
    from chatcli.errors import UsageError

    if argv[:1] != ["attach"] or len(argv) > 2 or any(arg.startswith("-") for arg in argv[1:]):
        return None
    try:
        found = jobs.find(environ, argv[1] if len(argv) > 1 else None)
    except UsageError:
        return None
    if found.remote and jobs.seen(found, environ).state == "interrupted":
        return None  # its run goes on at the server: the command line joins it (chatcli.service.remote_jobs)
    try:
        follow(found, environ, sys.stdout, sys.stderr)
    except BrokenPipeError:  # whoever read it left (chat attach ID | head): as the command line ends then
        silence_stdout()
        return 141
    return 0

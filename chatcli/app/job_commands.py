"""``chat --bg``, ``chat jobs``, ``chat attach`` and ``chat stop``: replies that go on without their terminal
(chatcli.service.jobs)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional

import typer

from chatcli.app.following import follow
from chatcli.app.shared import environment, subcommand, switch
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.local import runtime
from chatcli.service import jobs, remote_jobs
from chatcli.text import neutralise, say, say_json

if TYPE_CHECKING:
    from chatcli.service.jobs import Job, Seen

WATCH_POLL = 0.5  # seconds between two looks at the jobs (chat jobs --watch)
# The flags of chat --bg that set its thread up (chatcli.service.jobs.JobSpec's ``setup``), by parameter name.
SETUP = tuple("system role model temperature attach latest at new_thread rebind graph remote assistant".split())


def in_background(given: dict[str, Any], settings: Any) -> None:
    """``chat --bg QUESTION``: the one-shot started as a job; its thread id on stdout (``--json``: ``{"job",
    "thread_id"}``), how to follow it on stderr."""
    import base64

    from chatcli.app.flags import settings_of
    from chatcli.app.run import graph_source, parse_vars, piped

    env = environment()
    if given["resume"] is not None:
        raise UsageError("--bg starts a question; --resume answers what a thread waits on: give them apart")
    graph_source(given, env)  # a flag that does not apply is refused here, not later in the background
    _check_now(given, settings, env.cwd)
    if given["remote"] is not None:
        _check_remote(given)
    text = b"" if env.stdin_isatty else piped(env.stdin)
    if not given["question"] and not text:
        raise UsageError("--bg answers a question: give one", hint='chat --bg "QUESTION" (or pipe text to it)')
    setup = {name: given[name] for name in SETUP if given[name] not in (None, False, [])}
    setup |= {"variables": parse_vars(given["var"]), "stdin": base64.b64encode(text).decode()}
    own = given["remote"] is None and not given["graph"]
    flagged = {name: value for name, value in settings_of(given).items() if value is not None}
    overrides = flagged | jobs.bounds(settings, tools=own)  # (the bounds as the flags left them)
    spec = jobs.JobSpec(given["thread"], given["question"] or "", overrides, setup=setup)
    shown = given["question"] or text.decode("utf-8", "replace")
    job = jobs.start(spec, env.environ, env.cwd, shown, most=settings.max_jobs)
    if given["as_json"] or given["as_jsonl"]:
        say_json(env.stdout, {"job": job.id, "thread_id": job.thread}, indent=None)
    else:
        say(env.stdout, (job.thread or "") + "\n", data=True)
    say(env.stderr, f"chat: answering in the background as job {job.id} (chat attach {job.id} follows it)\n")


def _check_now(given: dict[str, Any], settings: Any, cwd: Any) -> None:
    """What can be found wrong before the job starts is one line now, not a failed job later: --again (the job's
    own), a role that is not there, more files than a question carries, a file to attach that is not there (an
    address is fetched by the job), a model that is no model's name."""

    from chatcli.backends.own.roles import read_role
    from chatcli.content.attachments import check_count
    from chatcli.core.inputs import check_model_name

    if given.get("again"):
        raise UsageError("--bg starts a question; --again answers the last one again: give them apart")
    read_role(settings.roles_dir, given.get("role"))
    if given.get("model"):  # ("": not given, as chat -m "" is)
        check_model_name(given["model"])
    check_count(len(given.get("attach") or ()))
    for item in given.get("attach") or ():
        if item != "-" and "://" not in item and not (Path(cwd) / Path(item).expanduser()).exists():
            raise UsageError(f"--attach {item}: no such file")
    if given.get("at") is not None and given.get("thread") and given.get("remote") is None:
        asyncio.run(_node_there(settings, given["thread"], str(given["at"])))


async def _node_there(settings: Any, ref: str, at: str) -> None:
    """UsageError unless thread ``ref`` has a node ``at`` (--at) to go on from."""
    from chatcli.app.thread_commands import named
    from chatcli.service.branches import found
    from chatcli.threads.opening import open_threads

    async with open_threads(settings, read_only=True, light=True) as threads:
        thread = await named(threads, ref)
        found(await threads.tree(thread), at, hint=f"chat tree {thread} shows the nodes")


def _check_remote(given: dict[str, Any]) -> None:
    """A background reply on an Agent Server is found there later by its thread's whole id, with the key of the
    environment: a start of an id, the latest thread, a --header (it would sit on the job's command line, and a
    later chat attach or stop could not send it) are one line now (what no background reply may ask, whoever starts
    it, is chatcli.service.jobs.askable's)."""
    import uuid

    if given["header"]:
        why = "a header would be on the job's command line, for any user to read"
        hint = "give the server's key in LANGGRAPH_API_KEY (or LANGSMITH_API_KEY)"
        raise UsageError(f"--bg does not take --header: {why}", hint=hint)
    if given["latest"]:
        raise UsageError("--bg --remote takes the thread's id, not --continue", hint="chat threads --remote URL")
    if given["thread"] is not None:
        try:
            uuid.UUID(given["thread"])
        except ValueError:
            raise UsageError(
                f"--bg --remote takes the thread's whole id (a UUID), not {given['thread'][:40]!r}",
                hint="chat threads --remote URL lists them",
            ) from None


@subcommand("jobs")
def jobs_command(
    settings: Settings,
    as_json: bool = switch("--json", "Print a JSON list (for scripts); with --watch, a line each."),
    watch: bool = switch(
        "--watch -w", "Then follow them: a line as each starts, ends or waits for you (Ctrl-C stops)."
    ),
) -> None:
    """List the background replies (chat --bg), the newest first: running, waiting for you, done, failed or
    interrupted (its process ended without an end: the part that arrived is in its thread)."""

    env = environment()
    seen = [jobs.seen(job, env.environ) for job in jobs.jobs(env.environ)]
    if as_json and not watch:
        say_json(env.stdout, [s.as_dict() for s in seen])
        return
    if not seen and not watch:
        say(env.stderr, 'no background replies: chat --bg "QUESTION" starts one\n')
        return
    for s in reversed(seen) if watch else seen:  # followed: the oldest first, as what comes next
        _say(s, as_json, env.stdout)
    if watch:
        with contextlib.suppress(KeyboardInterrupt):  # how it ends
            _watch({s.job.id: s.state for s in seen}, as_json, settings.notify == "desktop")


def _say(s: "Seen", as_json: bool, out: IO[str]) -> None:
    """One job on one line (``as_json``: its JSON object)."""

    if as_json:
        say_json(out, s.as_dict(), indent=None)
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.job.started))
    state = jobs.STATE_SHOWN[s.state]
    say(out, f"{s.job.id}  {state:<15}  {s.thread or '-':<10}  {when}  {neutralise(s.job.question)}\n", data=True)
    out.flush()


def _watch(states: dict[str, str], as_json: bool, desktop: bool) -> None:
    """Follow the jobs until Ctrl-C: a line as one starts, ends or waits (``desktop``: a desktop notification too)."""

    env = environment()
    runtime.over()  # it may watch for hours
    while True:
        time.sleep(WATCH_POLL)
        for job in reversed(jobs.jobs(env.environ)):
            if states.get(job.id, "running") != "running":
                continue  # it has ended: it changes no more (answered from the inbox, it goes on as a new job)
            s = jobs.seen(job, env.environ)
            if states.get(job.id) == s.state:
                continue
            states[job.id] = s.state
            _say(s, as_json, env.stdout)
            if desktop and s.state != "running":
                from chatcli.ui.notify import tell

                tell(None, None, f"chat: background reply {job.id} {jobs.STATE_SHOWN[s.state]}", desktop=True)


@subcommand("attach")
def attach_command(
    settings: Settings,
    job: Optional[str] = typer.Argument(None, help="The job (or its thread); the newest running one if none."),
    go_on: bool = switch(
        "--go-on",
        "A reply that did not end (interrupted, stopped, failed): answer its question again from the thread's last "
        "checkpoint, in the background, and follow that.",
    ),
) -> None:
    """Show what a background reply said so far, then the rest as it comes; Ctrl-C leaves it running."""

    env = environment()
    found = jobs.find(env.environ, job)  # (none: one line, as a usage error)
    if go_on:
        found = _gone_on(found, settings)
    elif remote_jobs.on_the_server(found, jobs.seen(found, env.environ)):
        _join(found)
        return
    follow(found, env.environ, env.stdout, env.stderr)


def _join(job: "Job") -> None:
    """Show the answer of a remote job whose process ended, as the server has it: its run joined while it runs."""

    env = environment()
    say(env.stderr, f"chat: job {job.id}'s process ended; its run is the server's: joining it there\n")
    runtime.over()  # a run on a server may stream for hours

    async def shown() -> str:
        text = ""
        async for piece in remote_jobs.answer(job, env.environ):
            say(env.stdout, piece)
            env.stdout.flush()
            text += piece
        return text

    try:
        text = asyncio.run(shown())
    except KeyboardInterrupt:
        say(env.stdout, "\n")
        say(env.stderr, f"chat: left job {job.id}'s run going on at the server (chat attach {job.id} joins it)\n")
        return
    if not text:
        say(env.stderr, f"chat: job {job.id}'s run said nothing the server still has: chat --remote {job.remote} -t "
                        f"{job.thread} opens its thread\n")  # fmt: skip
        return
    say(env.stdout, "" if text.endswith("\n") else "\n")


def _gone_on(job: "Job", settings: Any) -> "Job":
    """A new job that answers ``job``'s question again from its thread's last checkpoint (``--again``), where it
    ran; UsageError for a job that has nothing to go on with."""

    env = environment()
    seen = jobs.seen(job, env.environ)
    if job.remote and seen.state == "interrupted":
        raise UsageError(f"job {job.id}'s run is the server's and goes on there: nothing to answer again",
                         hint=f"chat attach {job.id} joins it")  # fmt: skip
    if seen.state in ("running", "waiting", "answered", "done") or not seen.thread:
        hint = "chat inbox answers it" if seen.state == "waiting" else f"chat attach {job.id} follows it"
        raise UsageError(f"job {job.id} is {jobs.STATE_SHOWN[seen.state]}: nothing to go on with", hint=hint)
    from chatcli.service.answering import Going, go_on, started

    asked = started(job, env.environ, lambda line: say(env.stderr, f"chat: {line}\n"))  # it goes on as it was asked
    where = Path(job.cwd) if Path(job.cwd).is_dir() else env.cwd
    again = go_on(Going(seen.thread, job.question, None, (), where, asked=asked), settings, env.environ)
    say(env.stderr, f"chat: job {job.id}'s question answered again as job {again.id}\n")
    return again


@subcommand("stop")
def stop_command(settings: Settings, job: str = typer.Argument(..., help="The job to stop (or its thread).")) -> None:
    """Stop a background reply as Ctrl-C would: the part that arrived is kept in its thread."""

    env = environment()
    found = jobs.find(env.environ, job)  # (none: one line, as a usage error)
    where = asyncio.run(remote_jobs.halt(found, env.environ))
    if where == "server":
        said = f"stopped job {found.id}'s run on the server: what it said is kept in its thread {found.thread}"
    elif where is None:
        said = f"job {found.id} is not running ({jobs.seen(found, env.environ).state})"
    else:
        said = f"stopped job {found.id}: what arrived is kept in thread {found.thread or '?'}"
    say(env.stderr, f"chat: {said}\n")

"""Replies that outlive their terminal: a question answered by a process of its own (``chat --bg``), its events kept
as they come so that any terminal can list the reply, follow it, or stop it.

A job is the one-shot ``chat ... --jsonl`` run in a new session (no terminal, no process group of the caller's, so
closing the terminal that started it does not stop it), with the caller's environment and directory: it answers as
any one-shot does (through the warm worker where it is up, with the same approvals: a call that needs one leaves the
thread waiting for it), and its thread keeps the question and the answer, whole or partial, as a one-shot's does.
Under ``$XDG_DATA_HOME/chatcli/jobs/`` (yours alone) each job has ``ID.json`` (what started it: thread, question,
process, time), ``ID.jsonl`` (its events, the one-shot's ``--jsonl``: a ``token`` line per piece of text, then
``done`` or ``error``) and ``ID.err`` (what it said on stderr). Its state is read from them: running while its
process lives and its events have not ended; ``done``, ``waiting`` (for an approval or an answer: ``chat -t THREAD``
goes on), ``stopped`` (``chat stop``: the part that arrived is kept in the thread), ``failed`` (exit code and
line), or ``interrupted`` when its process ended without an end (killed, the machine restarted): its thread keeps
the question, and the part that arrived is in its events (``chat attach`` shows it), which the thread keeps as its
partial answer, marked interrupted, once it is next opened or shown (``keep_killed``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from chatcli.errors import UsageError
from chatcli.paths import private_dir

if TYPE_CHECKING:
    from chatcli.config import Settings
    from chatcli.service.backend import ThreadList
    from chatcli.service.thread import Thread

KEEP = 50  # finished jobs kept; older ones are forgotten as new ones start
QUESTION_SHOWN = 60  # characters of a job's question kept to list it
POLL = 0.05  # seconds between two looks at a running job's events
STATES = ("running", "waiting", "answered", "done", "stopped", "failed", "interrupted")
STOPPED = 130  # the exit code of a reply stopped as Ctrl-C stops it (chat stop)
# The one-shot's flags that choose a thread: with none of them a job starts a new thread, named before it starts.
THREAD_FLAGS = ("-t", "--thread", "-c", "--continue", "--new-thread")
OUTPUT_FLAGS = ("--bg", "--json", "--jsonl")
# Set in a job's environment (its id): its one-shot leaves a call that needs approval waiting in the thread.
JOB_VARIABLE = "CHATCLI_JOB"
ARGS_VARIABLE = "CHATCLI_JOB_ARGS"  # its private file of its arguments (chatcli.__main__ reads it, then removes it)


class NoSuchJob(UsageError):
    """No job has that id (nor a thread of that id one): said as a usage error, in one line."""


@dataclass(frozen=True)
class Job:
    """What started a job: its ``id``, its ``thread`` (None until the answer names it: a ``--remote`` new thread),
    the start of its ``question``, its process (``pid`` and the time it started, so that a reused pid is never taken
    for it), when it began and where."""

    id: str
    thread: str | None
    question: str
    pid: int
    ticks: int  # the process's start time (/proc/PID/stat): the same pid later is another process
    started: float
    cwd: str
    # The terminal it was started from (its device) and that terminal's session (its shell's): told of the job's end
    # while the shell waits at its prompt (None: started without a terminal).
    tty: str | None = None
    session: int | None = None
    # An Agent Server's thread (chat --bg --remote): the server's URL and assistant. Its run is the server's, and goes
    # on there when the job's process ends (chatcli.service.remote_jobs joins it).
    remote: str | None = None
    assistant: str | None = None

    @classmethod
    def read(cls, path: Path) -> Job:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Seen:
    """A job as it stands: its ``state`` (``STATES``), the answer's text so far, its end event (``done`` or
    ``error``, None while running), and the thread (from the job, else its events)."""

    job: Job
    state: str
    text: str
    end: dict[str, Any] | None
    thread: str | None

    def as_dict(self) -> dict[str, Any]:
        """What ``chat jobs --json`` lists."""
        error = (self.end or {}).get("error") if self.end else None
        return {
            "id": self.job.id,
            "thread_id": self.thread,
            "question": self.job.question,
            "state": self.state,
            "started": self.job.started,
            "pid": self.job.pid,
            "cwd": self.job.cwd,
            "chars": len(self.text),
            "error": error,
        }


def directory(environ: Mapping[str, str]) -> Path:
    """Where the jobs are kept (made, yours alone)."""
    from chatcli.paths import data_dir

    where = data_dir(environ) / "jobs"
    private_dir(where)
    return where


def _stat(pid: int) -> tuple[str, int] | None:
    """Process ``pid``'s state letter and when it started (clock ticks since boot); None if there is no such
    process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(job: Job) -> bool:
    """True while the job's own process runs (not another that took its pid; a zombie counts as ended)."""
    found = _stat(job.pid)
    return found is not None and found[0] not in ("Z", "X") and found[1] == job.ticks


def _private(path: Path) -> Any:
    """``path`` opened for writing, new and yours alone."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def _carried(settings: Settings, own: bool) -> list[str]:
    """The flags a background reply needs to have the tools this process has: its built-in tools (chat's own graph;
    a graph of the user's has its own), or none at all. Its model or graph is its thread's."""
    if not settings.use_tools:
        return ["--no-tools"]
    return ["--tools", ",".join(settings.tools)] if settings.tools and own else []


# What bounds what a reply may do (its sandbox, its network, its spending limits...) and what shapes it, as the run
# that starts a background reply has them (its flags included): given to the job in its environment, which config.toml
# and a .env do not override, so that the job may do no more than the run it comes from.
CARRIED = (
    *("sandbox", "network", "max_cost_answer", "max_cost_thread", "max_cost_day", "unpriced"),
    *("memory", "memories", "project_instructions", "temperature", "max_tokens", "thinking_budget", "timeout"),
)
# What a job is never given of the run that starts it: the token of the server (chat serve) it came from.
WITHHELD = ("CHATCLI_SERVE_TOKEN",)


def job_environ(environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """A background reply's variables: the run's, with its database (never on the job's command line: a URL's
    password would be any local user's to read there) and the settings that bound it (``CARRIED``)."""
    from chatcli.config import ENV_VARS

    variable = {name: var for var, name in ENV_VARS.items()}
    given = {k: v for k, v in environ.items() if k not in WITHHELD}
    for name in CARRIED:
        if (value := getattr(settings, name)) is not None:
            given[variable[name]] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    if settings.db:
        given["CHATCLI_DB"] = settings.db
    return given


def ask_in_background(
    thread: Thread, question: str, settings: Settings, environ: Mapping[str, str], *, again: bool = False
) -> Job:
    """``question`` asked on ``thread`` by a background reply, from any door (the prompt's /bg and Ctrl-B, an
    editor's /bg, ``chat serve``'s bg command): with the variables of the run that asks (``environ``), in the
    thread's directory (an editor session's project, else where chat runs), with its database (in the job's
    environment, never on its command line) and its tools. ``again``: the thread's last question answered again from
    its last checkpoint (a reply moved from the prompt; ``question`` only names the job). The door that started it
    says when it ends, not the job (``told_here``)."""
    if thread.backend is not None:
        thread.backend.check_background()  # (an Agent Server opened with --header: the job could not send it)
    environ = job_environ(environ, settings)
    bound = thread.binding()
    remote = bound.url if bound.kind == "remote" else None  # an Agent Server's thread: its server and assistant
    server = bound.server_flags()
    carried = [] if remote else _carried(settings, thread.own_model)  # a server's graph has its own tools
    args = [*server, "-t", thread.thread_id, *(["--again"] if again else []), *carried]
    piped = None if again else question.encode()  # on the job's stdin: never a flag, and off its command line
    where = thread.workdir or settings.workdir
    return start(args, environ, Path(where) if where else Path.cwd(), piped, question, most=settings.max_jobs,
                 told_here=False, remote=remote, assistant=bound.assistant if remote else None)  # fmt: skip


def askable(remote: str, listeners: bool = True) -> None:
    """UsageError for an Agent Server a background reply cannot ask: one whose URL holds a password (it would be on
    the job's command line, for any user to read), and (``listeners``) another local user's listener (a job connects
    to its server as recorded, never as named: chatcli.local.loopback refuses it there; said here, before anything
    starts)."""
    from urllib.parse import urlsplit

    from chatcli.errors import ListenerRefused
    from chatcli.local import loopback
    from chatcli.text import redact_url

    parts = urlsplit(remote)
    if parts.password is not None:
        raise UsageError(
            "a background reply cannot ask a server whose URL holds a password: it would be on the job's command line, "
            "for any user to read",
            hint="give the server's key in LANGGRAPH_API_KEY (or LANGSMITH_API_KEY) and a URL without it",
        )
    if not listeners:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return  # not a port: said as --remote says it, in the job
    for host in _addresses(parts.hostname, port):
        if others := loopback.others_listening(host, port):
            raise UsageError(
                f"{ListenerRefused(host, port, others)}: a background reply asks no other user's server",
                hint=f"chat --remote {redact_url(remote)} asks it at this terminal, where you name it",
            )


def _addresses(host: str | None, port: int) -> set[str]:
    """The addresses a connection to ``host`` may go to (a name, such as localhost, resolved); none for no host."""
    import socket

    if not host:
        return set()
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        found = set()
    return found | {host}


def start(
    args: list[str],
    environ: Mapping[str, str],
    cwd: Path,
    piped: bytes | None,
    question: str,
    *,
    most: int,
    told_here: bool = True,
    remote: str | None = None,
    assistant: str | None = None,
) -> Job:
    """Start the one-shot ``chat ARGS`` (its output flags replaced by ``--jsonl``) as a job: in a session of its own,
    with ``environ`` and ``cwd``, ``piped`` as its stdin; a new thread is named first when ``args`` choose none.
    ``question``: what it is listed by. UsageError, nothing started, when ``most`` jobs run already (``max_jobs``).
    ``told_here``: the terminal this runs in is told of its end (not when the prompt that starts it tells it).
    ``remote``, ``assistant``: the Agent Server the one-shot asks (``--remote``): a new thread's id is then a UUID,
    as the server names threads."""
    from chatcli.core.inputs import new_thread_id

    if remote:
        askable(remote)
    _room(environ, most)

    where = directory(environ)
    job_id = secrets.token_hex(3)
    args = [a for a in args if a not in OUTPUT_FLAGS]
    thread: str | None = None
    if not any(a in THREAD_FLAGS or a.startswith(("--thread=", "--new-thread=")) for a in args):
        thread = str(uuid.uuid4()) if remote else new_thread_id()
        args = ["-t" if remote else "--new-thread", thread, *args]  # (a server's thread is made by its first run)
    for flag in ("-t", "--thread", "--new-thread"):
        if flag in args and args.index(flag) + 1 < len(args):
            thread = args[args.index(flag) + 1]
    thread = next((a.partition("=")[2] for a in args if a.startswith(("--thread=", "--new-thread="))), thread)
    stdin_path, args_path = where / f"{job_id}.in", where / f"{job_id}.args"
    with _private(stdin_path) as handle:
        handle.write(piped or b"")
    with _private(args_path) as handle:  # its command line is any local user's to read: the question is not on it
        handle.write(json.dumps([*args, "--jsonl"]).encode())
    command = [sys.executable, "-m", "chatcli"]
    with (
        open(stdin_path, "rb") as stdin,
        _private(where / f"{job_id}.jsonl") as out,
        _private(where / f"{job_id}.err") as err,
    ):
        process = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env={**environ, JOB_VARIABLE: job_id, ARGS_VARIABLE: str(args_path)},
            start_new_session=True,
        )
    job = Job(
        job_id,
        thread,
        " ".join((question or (piped or b"").decode("utf-8", "replace")[:1000]).split())[:QUESTION_SHOWN],
        process.pid,
        (_stat(process.pid) or ("", 0))[1],
        time.time(),
        str(cwd),
        *(_terminal() if told_here else (None, None)),
        remote=remote,
        assistant=assistant,
    )
    temporary = where / f".{job_id}.json"
    with _private(temporary) as handle:
        handle.write(json.dumps(asdict(job)).encode())
    temporary.replace(where / f"{job_id}.json")
    _forget_old(where)
    return job


# The process whose session the terminal on this process's stdin and stderr is: this one (0), or, in the warm
# worker's child, which runs in the worker's session, the caller's (chatcli.app.worker.child sets it).
caller = 0


def _terminal() -> tuple[str | None, int | None]:
    """The terminal this process was started from (its stderr's, else its stdin's) and its session; (None, None)
    without one."""
    for fd in (2, 0):
        try:
            if os.isatty(fd):
                return os.ttyname(fd), os.getsid(caller)
        except OSError:
            continue
    return None, None


def _forget_old(where: Path) -> None:
    """Keep the newest ``KEEP`` finished jobs' files; a running one is never forgotten."""
    found = sorted(where.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in found[KEEP:]:
        try:
            job = Job.read(path)
        except (OSError, ValueError, TypeError):
            continue
        if not alive(job):
            _remove(where, job)


def _remove(where: Path, job: Job) -> None:
    for suffix in (".json", ".jsonl", ".err", ".in", ".args"):
        (where / f"{job.id}{suffix}").unlink(missing_ok=True)


async def delete_thread(
    threads: ThreadList, thread_id: str, environ: Mapping[str, str], on_wait: Callable[[], None] | None = None
) -> None:
    """Delete ``thread_id`` whole, for ``chat rm`` and every door's delete: its background replies stopped (each
    keeps its part, then goes with the thread), the thread (its messages, checkpoints, index row, labels, inbox
    entry and kept files: chatcli.threads.operations.Threads.delete), then the jobs' records and their files."""
    mine = [job for job in jobs(environ) if thread_id in (job.thread, seen(job, environ).thread)]  # -c: its events
    for job in mine:
        stop(job)
    await threads.delete(thread_id, on_wait=on_wait)  # waits for a stopped job's turn to end
    for job in mine:
        _remove(directory(environ), job)


def running(environ: Mapping[str, str]) -> list[Job]:
    """The jobs still answering (their process alive, their events not ended)."""
    return [job for job in jobs(environ) if alive(job) and seen(job, environ).state == "running"]


# A job's state as a person reads it (chat jobs, the line that says a job ended).
STATE_SHOWN = {
    "running": "running",
    "waiting": "waiting for you",
    "answered": "answered, gone on in a later job",
    "done": "done",
    "stopped": "stopped",
    "failed": "failed",
    "interrupted": "interrupted",
}


def ending(environ: Mapping[str, str]) -> tuple[Job, str] | None:
    """In a job's own process, as it ends: the job and the line that tells of its end (done, waiting for you,
    failed, stopped); None in any other process."""
    job_id = environ.get(JOB_VARIABLE)
    path = directory(environ) / f"{job_id}.json"
    if not job_id or not path.is_file():
        return None
    try:
        job = Job.read(path)
    except (OSError, ValueError, TypeError):
        return None
    state = seen(job, environ).state
    goes_on = f"chat -t {job.thread}" if state == "waiting" and job.thread else f"chat attach {job.id}"
    return job, f"chat: background reply {job.id} {STATE_SHOWN[state]}: {goes_on}"


def _room(environ: Mapping[str, str], most: int) -> None:
    """UsageError when ``most`` background replies run already (the ``max_jobs`` setting): nothing is started."""
    busy = running(environ)
    if len(busy) >= most:
        raise UsageError(
            f"{len(busy)} background repl{'ies are' if len(busy) != 1 else 'y is'} running already, the most at once "
            f"(max_jobs = {most}): nothing was started",
            hint="chat jobs lists them; chat stop ID stops one; max_jobs in config.toml raises the limit",
        )


def events(job: Job, environ: Mapping[str, str], offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The job's whole events from ``offset`` (bytes into its file), and the offset after them (a line still being
    written is left for the next look)."""
    path = directory(environ) / f"{job.id}.jsonl"
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    whole = data[: data.rfind(b"\n") + 1]
    found = []
    for line in whole.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            found.append(event)
    return found, offset + len(whole)


def seen(job: Job, environ: Mapping[str, str]) -> Seen:
    """The job as it stands now."""
    found, _ = events(job, environ)
    text = "".join(str(e.get("text") or "") for e in found if e.get("type") == "token")
    end = next((e for e in reversed(found) if e.get("type") in ("done", "error")), None)
    thread = job.thread or next((e.get("thread_id") for e in reversed(found) if e.get("thread_id")), None)
    if end is None:
        state = "running" if alive(job) else "interrupted"
    elif end.get("type") == "error":
        state = "stopped" if (end.get("error") or {}).get("exit_code") == STOPPED else "failed"
    else:
        state = "waiting" if end.get("interrupts") or end.get("approval_required") else "done"
    if state == "waiting" and any(j.thread == thread and j.started > job.started for j in jobs(environ)):
        state = "answered"  # what it waited on was answered, and the thread went on in a later job
    return Seen(job, state, text, end, thread)


def killed(environ: Mapping[str, str], thread_id: str | None) -> Job | None:
    """The newest background reply of ``thread_id`` (None: of any thread), if its process died mid-answer."""
    kept = [job for job in jobs(environ) if not job.remote and thread_id in (None, job.thread)]
    return kept[0] if kept and seen(kept[0], environ).state == "interrupted" else None


async def keep_killed(thread: Thread, environ: Mapping[str, str]) -> None:
    """The words that had arrived when the process of ``thread``'s last background reply died (kill -9, a crash, a
    restart: its events hold them, written as they came), kept in the thread as the partial answer of its question,
    marked interrupted, as a stopped reply's part is; once (a turn that answered meanwhile is not touched)."""
    from chatcli.core.turn import Progress

    job = killed(environ, thread.thread_id)
    if job is None or thread.store is None:
        return
    progress = Progress()
    for event in events(job, environ)[0]:
        if event.get("type") == "token":
            progress.parts.append(str(event.get("text") or ""))
        elif event.get("type") == "tool_result":
            progress.next_round()  # the text before a tool step is kept with its calls already
    async with thread.lock():
        await thread.turns.source.keep(thread.config, progress, "interrupted")


def jobs(environ: Mapping[str, str]) -> list[Job]:
    """Every job kept, the newest first."""
    found = []
    for path in directory(environ).glob("*.json"):
        try:
            found.append(Job.read(path))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(found, key=lambda job: job.started, reverse=True)


def find(environ: Mapping[str, str], key: str | None) -> Job:
    """The job ``key`` names (its id, the start of one, or its thread's id); the newest running one (else the newest)
    without a key. ``NoSuchJob`` if none."""
    kept = jobs(environ)
    if key is None:
        running = [job for job in kept if alive(job)]
        if running or kept:
            return (running or kept)[0]
        raise NoSuchJob("no background reply yet: chat --bg QUESTION starts one")
    exact = [job for job in kept if key in (job.id, job.thread)]
    begun = exact or [job for job in kept if job.id.startswith(key)]
    if len(begun) == 1 or exact:
        return begun[0]
    if not begun:
        raise NoSuchJob(f"no background reply {key!r}: chat jobs lists them")
    raise NoSuchJob(f"{key!r} is the start of {len(begun)} jobs' ids: give more of it")


def follow(job: Job, environ: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """The job's events from its first, then each as it comes, until its end (or its process ended without one)."""
    offset = 0
    while True:
        found, offset = events(job, environ, offset)
        yield from found
        if any(e.get("type") in ("done", "error") for e in found):
            return
        if not found and not alive(job):
            found, offset = events(job, environ, offset)  # what it wrote as it went
            yield from found
            return
        if not found:
            time.sleep(POLL)


def stop(job: Job) -> bool:
    """Stop the job's reply as Ctrl-C stops a one-shot (what arrived is kept in its thread); False if it had
    ended."""
    if not alive(job):
        return False
    try:
        os.kill(job.pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    return True

"""Replies that outlive their terminal: a question answered by a process of its own (``chat --bg``), its events kept
as they come so that any terminal can list the reply, follow it, or stop it.

A job is described once, by a ``JobSpec`` (its thread, its question, the settings it takes from the run that starts
it, the answers it goes on with, how its thread is set up), written to a private file that is the job's stdin: never
on its command line nor in its environment, which any local user may read (the command line) or which a .env could
shadow. A ``Launcher`` runs it: by default a process of its own in a session of its own (``python -m
chatcli.app.background``: closing the terminal that started it does not stop it), with the caller's environment
and directory; the tests run it in-process. It answers as the one-shot ``chat --jsonl`` does (with the same
approvals: a call that needs one leaves the thread waiting for it), and its thread keeps the question and the
answer, whole or partial, as a one-shot's does.

Under ``$XDG_DATA_HOME/chatcli/jobs/`` (yours alone) each job has ``ID.in`` (its spec, locked by the job for as long
as it runs: the lock, not the process table, says it is alive), ``ID.json`` (what started it: thread, question,
process, time), ``ID.env`` (the environment it was started with, keys and all: a thread it leaves waiting goes on
with it, whoever answers from where: chatcli.service.answering), ``ID.jsonl`` (its events, the one-shot's
``--jsonl``: a ``token`` line per piece of text, then ``done`` or ``error``) and ``ID.err`` (what it said on
stderr). Its state is read from them: running while it holds its lock and its events have not ended; ``done``,
``waiting`` (for an approval or an answer: ``chat -t THREAD`` goes on), ``stopped`` (``chat stop``: the part that
arrived is kept in the thread), ``failed`` (exit code and line), or ``interrupted`` when it ended without an end
(killed, the machine restarted): its thread keeps the question, and the part that arrived is in its events (``chat
attach`` shows it), which the thread keeps as its partial answer, marked interrupted, once it is next opened or shown
(``keep_killed``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Mapping

from chatcli.errors import ListenerRefused, UsageError
from chatcli.paths import data_dir, private_dir, read_bounded

if TYPE_CHECKING:
    from chatcli.config import Settings
    from chatcli.service.backend import ThreadList
    from chatcli.service.inbox import Answers
    from chatcli.service.thread import Thread

KEEP = 50  # finished jobs kept; older ones are forgotten as new ones start
QUESTION_SHOWN = 60  # characters of a job's question kept to list it
POLL = 0.05  # seconds between two looks at a running job's events
STOPPED = 130  # the exit code of a reply stopped as Ctrl-C stops it (chat stop)
# What bounds what a reply may do (its sandbox, its network, its spending limits...) and what shapes it, as the run
# that starts a background reply has them (its flags included): given to the job over its own settings, which
# config.toml and a .env do not override, so that the job may do no more than the run it comes from.
CARRIED = (
    *("db", "sandbox", "network", "max_cost_answer", "max_cost_thread", "max_cost_day", "unpriced"),
    *("memory", "memories", "project_instructions", "temperature", "max_tokens", "thinking_budget", "timeout"),
)
# What a job's process is never given of the run that starts it: the token of the server (chat serve) it came from.
WITHHELD = ("CHATCLI_SERVE_TOKEN",)


class NoSuchJob(UsageError):
    """No job has that id (nor a thread of that id one): said as a usage error, in one line."""


@dataclass(frozen=True)
class JobSpec:
    """What a background reply does, the one description its starter and its process share (as JSON, on its stdin).

    ``thread``: the thread's id, or a start of one (None: a new one, named before the job starts, or ``latest``);
    ``question``: what it asks ("": the thread goes on, ``again`` or with ``answers``); ``overrides``: settings by
    name (chatcli.config.Settings) over the job's own layers; ``answers``: what the thread waits on, answered (chat
    inbox answer); ``setup``: how the thread is set up, chatcli.service.opening.ThreadSetup's fields by name (``role``
    by its name; ``graph``, or ``remote`` and ``assistant``, for what answers; ``stdin``: piped text or an image, in
    base64); ``id``: the job's, given as it starts."""

    thread: str | None
    question: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    answers: Answers | None = None
    setup: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def of_json(cls, data: bytes) -> JobSpec:
        from chatcli.service.inbox import Answers

        given = json.loads(data)
        answers = given.pop("answers", None)
        return cls(**given, answers=Answers(**answers) if answers is not None else None)


# Runs a job: its spec to read on its stdin (a file the job keeps open while it runs: the lock taken on it is how other
# processes know it is alive), its events written to its stdout, what it says to its stderr, with those variables in
# that directory; returns the id of the process that answers (``chat stop`` stops it; 0: none of its own).
Launcher = Callable[[IO[bytes], IO[bytes], IO[bytes], Mapping[str, str], Path], int]


def in_a_process(spec: IO[bytes], out: IO[bytes], err: IO[bytes], environ: Mapping[str, str], cwd: Path) -> int:
    """The job as a process of its own (chatcli.app.background), in a session of its own: no terminal, no process
    group of the caller's, so that closing the terminal that started it does not stop it."""
    command = [sys.executable, "-m", "chatcli.app.background"]
    return subprocess.Popen(
        command, stdin=spec, stdout=out, stderr=err, cwd=cwd, env=dict(environ), start_new_session=True
    ).pid


# The launcher a job starts with: a process of its own (the tests set another).
LAUNCHER: ContextVar[Launcher] = ContextVar("chatcli_job_launcher", default=in_a_process)


@dataclass(frozen=True)
class Job:
    """What started a job: its ``id``, its ``thread`` (None until the answer names it: ``chat --bg -c``), the start
    of its ``question``, its process, when it began and where."""

    id: str
    thread: str | None
    question: str
    pid: int
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
    """A job as it stands: its ``state`` (``STATE_SHOWN``'s keys), the answer's text so far, its end event (``done`` or
    ``error``, None while running), and the thread (from the job, else its events)."""

    job: Job
    state: str
    text: str
    end: dict[str, Any] | None
    thread: str | None

    def as_dict(self) -> dict[str, Any]:
        """What ``chat jobs --json`` lists."""
        return {
            "id": self.job.id,
            "thread_id": self.thread,
            "question": self.job.question,
            "state": self.state,
            "started": self.job.started,
            "pid": self.job.pid,
            "cwd": self.job.cwd,
            "chars": len(self.text),
            "error": (self.end or {}).get("error"),
        }


def directory(environ: Mapping[str, str]) -> Path:
    """Where the jobs are kept (made, yours alone)."""
    return private_dir(data_dir(environ) / "jobs")


def alive(job: Job, environ: Mapping[str, str]) -> bool:
    """True while the job runs: its spec is locked, by the job alone (a lock ends with its holder, however it ends,
    and a pid reused by another process holds none)."""
    try:
        with open(directory(environ) / f"{job.id}.in", "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:  # held by the job (BlockingIOError), or no such job
        return isinstance(exc, BlockingIOError)
    return False


def _private(path: Path) -> Any:
    """``path`` opened for writing, new and yours alone."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def bounds(settings: Settings, tools: bool = True) -> dict[str, Any]:
    """The settings a background reply takes from the run that starts it (``CARRIED``), with its built-in tools
    (``tools``: chat's own graph; another has its own) or none at all. Its model or graph is its thread's."""
    given = {name: getattr(settings, name) for name in CARRIED if getattr(settings, name) is not None}
    if not settings.use_tools:
        given["use_tools"] = False
    elif tools and settings.tools:
        given["tools"] = list(settings.tools)
    return given


def ask_in_background(
    thread: Thread, question: str, settings: Settings, environ: Mapping[str, str], *, again: bool = False
) -> Job:
    """``question`` asked on ``thread`` by a background reply, from any door (the prompt's /bg and Ctrl-B, an
    editor's /bg, ``chat serve``'s bg command): with the variables of the run that asks (``environ``), in the
    thread's directory (an editor session's project, else where chat runs), with the bounds and tools of that run.
    ``again``: the thread's last question answered again from its last checkpoint (a reply moved from the prompt;
    ``question`` only names the job). The door that started it says when it ends, not the job (``told_here``)."""
    thread.backend.check_background()  # (an Agent Server opened with --header: the job could not send it)
    bound = thread.binding()
    server = {"remote": bound.url, "assistant": bound.assistant} if bound.kind == "remote" else {}
    # A server's graph has its own tools.
    tools, setup = thread.can.prompt and not server, {**server, **({"again": True} if again else {})}
    spec = JobSpec(thread.thread_id, "" if again else question, bounds(settings, tools), setup=setup)
    where = thread.workdir or settings.workdir
    return start(spec, environ, Path(where) if where else Path.cwd(), question, most=settings.max_jobs, told_here=False)


def askable(remote: str, listeners: bool = True) -> None:
    """UsageError for an Agent Server a background reply cannot ask: one whose URL holds a password (it would be kept
    in the job's record), and (``listeners``) another local user's listener (a job connects to its server as
    recorded, never as named: chatcli.local.loopback refuses it there; said here, before anything starts)."""
    from urllib.parse import urlsplit

    from chatcli.local import loopback
    from chatcli.text import redact_url

    if urlsplit(remote).password is not None:
        raise UsageError(
            "a background reply cannot ask a server whose URL holds a password: it would be kept in the job's record",
            hint="give the server's key in LANGGRAPH_API_KEY (or LANGSMITH_API_KEY) and a URL without it",
        )
    if not listeners or (found := loopback.address_of(remote)) is None:
        return  # (no address: said as --remote says it, in the job)
    for host in loopback.resolved(*found):
        if others := loopback.others_listening(host, found[1]):
            raise UsageError(
                f"{ListenerRefused(host, found[1], others)}: a background reply asks no other user's server",
                hint=f"chat --remote {redact_url(remote)} asks it at this terminal, where you name it",
            )


def start(
    spec: JobSpec, environ: Mapping[str, str], cwd: Path, shown: str, *, most: int, told_here: bool = True
) -> Job:
    """Start ``spec`` as a job, by ``LAUNCHER``'s launcher, with ``environ`` in ``cwd``; a new
    thread is named first when ``spec`` names none. ``shown``: what it is listed by. UsageError, nothing started,
    when ``most`` jobs run already (``max_jobs``). ``told_here``: the terminal this runs in is told of its end (not
    when the prompt that starts it tells it). On an Agent Server (``remote``), a new thread's id is a UUID, as the
    server names threads (its thread is made by its first run)."""
    from chatcli.core.inputs import new_thread_id

    remote = spec.setup.get("remote")
    if remote:
        askable(remote)
    _room(environ, most)
    where, job_id = directory(environ), secrets.token_hex(3)
    setup = spec.setup
    if spec.thread is None and not setup.get("latest") and not setup.get("new_thread"):
        named = str(uuid.uuid4()) if remote else new_thread_id()
        spec = replace(spec, thread=named) if remote else replace(spec, setup={**setup, "new_thread": named})
    spec = replace(spec, id=job_id)
    with _private(where / f"{job_id}.in") as handle:
        handle.write(spec.to_json())
    with (
        open(where / f"{job_id}.in", "rb") as held,
        _private(where / f"{job_id}.jsonl") as out,
        _private(where / f"{job_id}.err") as err,
    ):
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # alive from now: the job holds it on (``alive``)
        given = {name: value for name, value in environ.items() if name not in WITHHELD}  # whatever launches it
        with _private(where / f"{job_id}.env") as handle:
            handle.write(json.dumps(given).encode())
        pid = LAUNCHER.get()(held, out, err, given, cwd)
    thread, question = spec.thread or spec.setup.get("new_thread"), " ".join(shown[:1000].split())[:QUESTION_SHOWN]
    terminal, assistant = _terminal() if told_here else (None, None), setup.get("assistant") if remote else None
    job = Job(job_id, thread, question, pid, time.time(), str(cwd), *terminal, remote=remote, assistant=assistant)
    temporary = where / f".{job_id}.json"
    with _private(temporary) as handle:
        handle.write(json.dumps(asdict(job)).encode())
    temporary.replace(where / f"{job_id}.json")
    for old in jobs(environ)[KEEP:]:  # the newest KEEP finished jobs are kept; a running one is never forgotten
        if not alive(old, environ):
            _remove(where, old)
    return job


# The process whose session the terminal on this process's stdin and stderr is: this one (0), or, in the warm
# worker's child, which runs in the worker's session, the caller's (chatcli.app.worker.child sets it).
caller = 0


def _terminal() -> tuple[str | None, int | None]:
    """The terminal this process was started from (its stderr's, else its stdin's) and its session; (None, None)
    without one."""
    for fd in (2, 0):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.ttyname(fd), os.getsid(caller)
    return None, None


def started_as(job: Job, environ: Mapping[str, str]) -> tuple[dict[str, str], JobSpec]:
    """The environment and the spec ``job`` was started with, as recorded: OSError or ValueError when a record is
    missing (a job of an older chat), not whole, or not a file of the user's alone (another user's could plant an
    environment)."""
    files = [directory(environ) / f"{job.id}{suffix}" for suffix in (".env", ".in")]
    for path in files:
        if (info := path.lstat()).st_uid != os.getuid() or info.st_mode & 0o077:
            raise ValueError(f"{path.name} is not yours alone")
    given = json.loads(read_bounded(files[0], 4 << 20))
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise ValueError(f"{files[0].name} holds no environment")
    return given, JobSpec.of_json(read_bounded(files[1], 64 << 20))


def _remove(where: Path, job: Job) -> None:
    for suffix in (".json", ".jsonl", ".err", ".in", ".env"):
        (where / f"{job.id}{suffix}").unlink(missing_ok=True)


async def delete_thread(
    threads: ThreadList, thread_id: str, environ: Mapping[str, str], on_wait: Callable[[], None] | None = None
) -> None:
    """Delete ``thread_id`` whole, for ``chat rm`` and every door's delete: its background replies stopped (each
    keeps its part, then goes with the thread), the thread (its messages, checkpoints, index row, labels, inbox
    entry and kept files: chatcli.threads.operations.Threads.delete), then the jobs' records and their files."""
    mine = [job for job in jobs(environ) if thread_id in (job.thread, seen(job, environ).thread)]  # -c: its events
    for job in mine:
        stop(job, environ)
    await threads.delete(thread_id, on_wait=on_wait)  # waits for a stopped job's turn to end
    for job in mine:
        _remove(directory(environ), job)


def running(environ: Mapping[str, str]) -> list[Job]:
    """The jobs still answering (alive, their events not ended)."""
    return [job for job in jobs(environ) if seen(job, environ).state == "running"]


# A job's state as a person reads it (chat jobs, the line that says a job ended).
STATE_SHOWN = {state: state for state in ("running", "done", "stopped", "failed", "interrupted")} | {
    "waiting": "waiting for you",
    "answered": "answered, gone on in a later job",
}


def ending(job_id: str, environ: Mapping[str, str]) -> tuple[Job, str] | None:
    """As job ``job_id`` ends, in its own process: the job and the line that tells of its end (done, waiting for
    you, failed, stopped); None without its record."""
    try:
        job = Job.read(directory(environ) / f"{job_id}.json")
    except (OSError, ValueError, TypeError):
        return None
    return job, "chat: " + ended_line(seen(job, environ))


def ended_line(now: Seen) -> str:
    """The line that tells of a job's end, wherever it is said: how it ended, and the command that goes on."""
    goes_on = f"chat -t {now.thread}" if now.state == "waiting" and now.thread else f"chat attach {now.job.id}"
    return f"background reply {now.job.id} {STATE_SHOWN[now.state]}: {goes_on}"


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
        with contextlib.suppress(ValueError):
            found.append(json.loads(line))
    return [event for event in found if isinstance(event, dict)], offset + len(whole)


def seen(job: Job, environ: Mapping[str, str]) -> Seen:
    """The job as it stands now."""
    live = alive(job, environ)  # (first: what a job that has ended wrote is all in its events by then)
    found, _ = events(job, environ)
    text = "".join(str(e.get("text") or "") for e in found if e.get("type") == "token")
    end = next((e for e in reversed(found) if e.get("type") in ("done", "error")), None)
    thread = job.thread or next((e.get("thread_id") for e in reversed(found) if e.get("thread_id")), None)
    if end is None:
        state = "running" if live else "interrupted"
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

    if (job := killed(environ, thread.thread_id)) is None or thread.store is None:
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
        with contextlib.suppress(OSError, ValueError, TypeError):
            found.append(Job.read(path))
    return sorted(found, key=lambda job: job.started, reverse=True)


def find(environ: Mapping[str, str], key: str | None) -> Job:
    """The job ``key`` names (its id, the start of one, or its thread's id); the newest running one (else the newest)
    without a key. ``NoSuchJob`` if none."""
    kept = jobs(environ)
    if key is None:
        running = [job for job in kept if alive(job, environ)]
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
        live = alive(job, environ)  # (first: what a job that has ended wrote is all in its events by then)
        found, offset = events(job, environ, offset)
        yield from found
        if not live or any(e.get("type") in ("done", "error") for e in found):
            return
        if not found:
            time.sleep(POLL)


def stop(job: Job, environ: Mapping[str, str]) -> bool:
    """Stop the job's reply as Ctrl-C stops a one-shot (what arrived is kept in its thread); False if it had
    ended."""
    if not job.pid or not alive(job, environ):
        return False
    try:
        os.kill(job.pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    return True

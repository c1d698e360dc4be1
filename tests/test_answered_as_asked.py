"""A background reply's question goes on as that reply was asked, whoever answers it from where: its environment, its
key and endpoint, its flags and directory, as its job recorded them (chatcli.service.answering), at every door that
answers (``chat inbox answer``, the prompt that opens its thread, ``chat serve``'s approvals request, which the page
sends). The record is the user's alone and goes with its job."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.doors.prompt import Typed
from tests.doors.serve import AppServed
from tests.fakeserver import Fault, Reply, tool_calls
from tests.helpers import chat, eventually
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_acp import open_editor  # noqa: F401 - a fixture
from tests.test_inbox import inbox, jobs_of
from tests.test_tools_typed import judged  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(240)
here = pytest.mark.usefixtures("jobs_here")
ASKER_KEY = "sk-asker-SECRET-0123456789"
ANSWERER_KEY = "sk-answerer-SECRET-9876543210"
CALL = "call_bg"
APPROVED = {"decisions": {CALL: {"action": "yes"}}}


def asked(server, chat_env: dict[str, str], where: Path, then=Reply("Ran it.")) -> tuple[str, dict[str, str]]:
    """``BGVAR=bgenv42 chat --bg --tools shell -t bg3 ...`` with a key of its own, left waiting for its call's
    approval in ``where`` (``then``: what the model says once it is answered): the thread, and the environment of
    whoever answers (another key, no BGVAR)."""
    asker = {**chat_env, "OPENAI_API_KEY": ASKER_KEY, "BGVAR": "bgenv42"}
    server.queue(tool_calls(("shell", {"command": "echo $BGVAR; pwd"}, CALL)))
    started = chat(asker, "--bg", "--tools", "shell", "-t", "bg3", "run it", cwd=where)
    assert started.code == 0, started
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    server.queue(then)
    return started.out.strip(), {**chat_env, "OPENAI_API_KEY": ANSWERER_KEY}


def gone_on(server, env: dict[str, str], thread: str) -> str:
    """Once the reply that goes on has ended: the key its model was asked with; the thread no longer waits."""
    eventually(lambda: [j for j in jobs_of(env, thread) if j["state"] == "done"], "the answer's job to end", timeout=60)
    shown = chat(env, "show", thread).out
    assert "Ran it." in shown and inbox(env) == [], shown
    return gone_on_key(server)


def gone_on_key(server, n: int = -1) -> str:
    """The key the model was asked with in request ``n`` (the last)."""
    return {k.lower(): v for k, v in server.request_headers[n].items()}["authorization"].removeprefix("Bearer ")


@here
def test_chat_inbox_answer_goes_on_with_the_asker_s_key(server, chat_env, tmp_path):
    thread, answerer = asked(server, chat_env, tmp_path)
    answered = chat(answerer, "inbox", "answer", thread, "y", cwd=tmp_path.parent)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    assert gone_on(server, answerer, thread) == ASKER_KEY


@here
@pytest.mark.usefixtures("judged")
def test_the_prompt_that_opens_the_thread_asks_and_it_goes_on_as_asked(server, chat_env, tmp_path):
    from chatcli.ui.deliberate import GAP
    from tests.test_tools_pty import QUESTION
    from tests.test_tools_typed import PAUSED

    thread, answerer = asked(server, chat_env, tmp_path)
    typed = Typed(answerer, ["-t", thread])
    try:
        eventually(lambda: "echo $BGVAR" in typed.text and QUESTION.split(" [")[0] in typed.text, "the question")
        PAUSED[0] += GAP + 0.25  # a person reads the question, then presses one key on its own
        typed.keys.send_text("y")
        eventually(lambda: "goes on in the background as it was asked" in typed.text, "the answer taken", timeout=60)
        assert gone_on(server, answerer, thread) == ASKER_KEY
        eventually(lambda: "done: chat attach" in typed.text, "the prompt to say it ended", timeout=30)
    finally:
        assert typed.leave() == 0, typed


@here
@pytest.mark.parametrize("stream", [False, True], ids=["request", "page"])
def test_serve_s_approvals_request_goes_on_as_asked_and_answers_with_its_events(server, chat_env, tmp_path, stream):
    """The request's answer is the reply that goes on (the page's live answer: its event stream), asked with the
    asker's key, not the server's."""
    thread, answerer = asked(server, chat_env, tmp_path)
    served = AppServed(answerer)
    try:
        path = f"/v1/threads/{thread}/approvals"
        if stream:
            events = list(served.events(path, APPROVED))
            assert [e["type"] for e in events if e["type"] in ("tool_result", "done")] == ["tool_result", "done"]
            final = events[-1]
        else:
            status, final = served.request("POST", path, APPROVED)
            assert status == 200 and "type" not in final, final
    finally:
        served.stop()
    assert final["reply"] == "Ran it." and final["thread_id"] == thread, final
    assert gone_on(server, answerer, thread) == ASKER_KEY


def approved_at_serve(env: dict[str, str], thread: str, stream: bool) -> tuple[int | None, Any]:
    """APPROVED sent to serve's approvals route for ``thread`` (the page's way: an event stream, whose last event must
    be an error here), its status (None for a stream) and its final object."""
    served = AppServed(env)
    try:
        path = f"/v1/threads/{thread}/approvals"
        if not stream:
            return served.request("POST", path, APPROVED)
        final = list(served.events(path, APPROVED))[-1]
        assert final["type"] == "error", final
        return None, final
    finally:
        served.stop()


@here
@pytest.mark.parametrize("stream", [False, True], ids=["request", "page"])
def test_serve_s_approvals_request_fails_as_the_reply_that_went_on_failed(server, chat_env, tmp_path, stream):
    """The model refusing the reply that goes on: the request's answer is its error object, with the status chat
    serve gives that failure anywhere (chatcli.api.errors.STATUS), not 200."""
    from chatcli.api.errors import STATUS

    thread, answerer = asked(server, chat_env, tmp_path, Fault(status=400))
    status, final = approved_at_serve(answerer, thread, stream)
    assert stream or status == STATUS[final["error"]["exit_code"]] == 502, (status, final)
    assert final["thread_id"] == thread and "Bad request" in final["error"]["message"], final


@pytest.mark.parametrize("stream", [False, True], ids=["request", "page"])
def test_serve_s_approvals_request_says_the_reply_that_went_on_ended_without_an_answer(
    server, chat_env, tmp_path, stream
):
    """The reply that goes on dies before its end (killed, the machine restarted): the request's answer says so, and
    where what it said is, rather than an empty object or a stream that stops."""
    from chatcli.service.jobs import LAUNCHER
    from tests.jobs_here import in_this_process

    token = LAUNCHER.set(in_this_process)
    try:
        thread, answerer = asked(server, chat_env, tmp_path)
    finally:
        LAUNCHER.reset(token)
    token = LAUNCHER.set(lambda *_: 0)  # its process gone at once: no event, no end
    try:
        status, final = approved_at_serve(answerer, thread, stream)
    finally:
        LAUNCHER.reset(token)
    assert stream or status == 500, (status, final)
    said = final["error"]["message"]
    assert "ended without an answer" in said and "chat jobs" in said and "chat attach" in said, final


@here
def test_chat_attach_go_on_answers_again_as_the_reply_was_asked(server, chat_env, tmp_path):
    """A background reply that failed, gone on with ``chat attach ID --go-on`` from another shell: its question is
    answered again with the asker's key, flags and directory, not the attacher's."""
    asker = {**chat_env, "OPENAI_API_KEY": ASKER_KEY}
    server.queue(Fault(status=400))
    assert chat(asker, "--bg", "--tools", "shell", "-t", "bg4", "run it", cwd=tmp_path).code == 0
    eventually(lambda: [j for j in jobs_of(chat_env, "bg4") if j["state"] == "failed"], "the reply to fail", timeout=60)
    (failed,) = jobs_of(chat_env, "bg4")
    server.queue(Reply("Ran it."))
    answerer = {**chat_env, "OPENAI_API_KEY": ANSWERER_KEY}
    gone_on = chat(answerer, "attach", failed["id"], "--go-on", cwd=tmp_path.parent)
    assert gone_on.code == 0 and gone_on.out == "Ran it.\n", gone_on
    assert gone_on_key(server) == ASKER_KEY and server.requests[-1].get("tools"), server.requests[-1]


@here
@pytest.mark.usefixtures("in_memory")
def test_a_one_shot_resume_goes_on_as_the_reply_was_asked(server, chat_env, tmp_path):
    """A tool's question a background reply left waiting, answered by ``chat -t ID --resume VALUE``: the reply goes
    on with the asker's key, and this command shows its answer and ends as it ends."""
    from tests.test_mcp import write_servers
    from tests.test_mcp_asking import asking

    write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
    asker = {**chat_env, "OPENAI_API_KEY": ASKER_KEY}
    server.queue(tool_calls(("book", {"city": "Paris"})))
    assert chat(asker, "--bg", "--yes", "-t", "bg5", "book a table in Paris").code == 0
    eventually(lambda: inbox(chat_env), "the question in the inbox", timeout=60)
    server.queue(Reply("As you wish."))
    answerer = {**chat_env, "OPENAI_API_KEY": ANSWERER_KEY}
    run = chat(answerer, "-t", "bg5", "--resume", "decline")
    assert run.code == 0 and run.out == "As you wish.\n", run
    assert gone_on_key(server) == ASKER_KEY and inbox(chat_env) == []


@here
def test_an_editor_s_prompt_answers_the_question_and_it_goes_on_as_asked(server, chat_env, tmp_path, request):
    """``chat acp`` (an editor) opening the thread: its next prompt asks the question (a permission request), the
    reply that asked goes on with the asker's key, shown in the session as its own answer (its call, its text), then
    the prompt is answered with the editor's."""
    thread, answerer = asked(server, chat_env, tmp_path)
    editor = request.getfixturevalue("open_editor")("--tools", "shell", env=answerer)
    editor.call("load_session", cwd=str(tmp_path), session_id=thread, mcp_servers=[])
    server.queue(Reply("And the next."))
    assert editor.prompt(thread, "and then?").stop_reason == "end_turn"
    (asked_here,) = editor.client.asked
    (ran,) = editor.of(thread, "tool_call_update")
    assert ran.status == "completed" and str(tmp_path) in ran.content[0].content.text, ran
    said = editor.text(thread)
    assert "Ran it." in said and said.endswith("And the next."), said
    assert gone_on_key(server, -2) == ASKER_KEY and gone_on_key(server) == ANSWERER_KEY


@here
def test_the_record_is_the_user_s_alone_and_goes_with_its_job(server, chat_env, tmp_path):
    """The environment is kept 0600 beside the job; one readable by others (or missing: an older chat's job) is not
    taken: one line says so, and the thread goes on in the answerer's environment, as before."""
    thread, answerer = asked(server, chat_env, tmp_path)
    (record,) = (Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "jobs").glob("*.env")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and json.loads(record.read_text())["BGVAR"] == "bgenv42"
    os.chmod(record, 0o644)  # as if another could have written it
    answered = chat(answerer, "inbox", "answer", thread, "y")
    assert answered.code == 0 and f"{record.name} is not yours alone" in answered.err, answered
    assert "it goes on with this run's environment and settings" in answered.err and "Traceback" not in answered.err
    assert gone_on(server, answerer, thread) == ANSWERER_KEY
    assert chat(answerer, "rm", "--yes", thread).code == 0
    assert not list(record.parent.glob("*.env")), "the record outlived its job"


@pytest.mark.e2e
def test_the_shell_call_of_an_answered_reply_sees_the_asker_s_environment(server, chat_env, tmp_path):
    """Issue #98's walk with processes of their own: asked with BGVAR set, answered from an environment without it,
    the command prints the asker's value, in the asker's directory."""
    asked_in = tmp_path / "asked"
    asked_in.mkdir()
    thread, answerer = asked(server, chat_env, asked_in)
    assert chat(answerer, "inbox", "answer", thread, "y", cwd=tmp_path).code == 0
    gone_on(server, answerer, thread)
    ran = json.loads(chat(answerer, "export", thread, "--format", "json").out)
    said = json.dumps(ran)
    assert "bgenv42" in said and str(asked_in) in said, said

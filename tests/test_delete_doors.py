"""A thread deleted while it answers, at each door that deletes a thread while its others answer (``chat serve``'s
DELETE, an editor's session/delete): the service stops what runs on it in that process first (``Chat.delete``: the
turn keeps its part, then goes with it), and the thread is gone for good, nothing of it left to list or show. (``chat
rm`` while another process answers waits for it: tests/test_serve_lifecycle.py.)"""

from __future__ import annotations

import json
import threading
from typing import Any

import acp

from tests.fakeserver import Reply
from tests.helpers import chat
from tests.matrix import Door, doors

SLOW = [f" word{i}" for i in range(400)]  # 20 s at its pace: stopped long before its end


def _serve(door: Door, backend: Any, thread: str) -> None:
    served = door.served  # type: ignore[attr-defined]
    answered: list[Any] = []
    sent = backend.model.chunks_sent
    asking = threading.Thread(target=lambda: answered.append(served.ask(thread, "talk slowly")))
    asking.start()
    assert backend.model.wait_until_sent(chunks=sent + 3, timeout=30), "the answer is under way"
    assert served.request("DELETE", f"/v1/threads/{thread}")[0] == 204
    asking.join(30)
    assert answered and "word399" not in json.dumps(answered[0][1]), answered  # it was stopped, not run to its end
    assert served.request("GET", f"/v1/threads/{thread}")[0] == 404
    assert thread not in [row["thread_id"] for row in served.request("GET", "/v1/threads")[1]]


def _acp(door: Door, backend: Any, thread: str) -> None:
    editor = door.editor  # type: ignore[attr-defined]
    mark = len(editor.updates)
    running = editor.start("prompt", session_id=thread, prompt=[acp.text_block("talk slowly")])
    editor.wait_for(lambda: "word3" in editor.text(thread, since=mark))
    assert editor.request("session/delete", {"sessionId": thread}) == {}
    assert running.result(30).stop_reason == "cancelled"
    assert thread not in {s.session_id for s in editor.call("list_sessions").sessions}


@doors("serve", "acp")
def test_a_thread_deleted_while_it_answers_is_stopped_first_and_gone_for_good(door, backend):
    backend.model.queue(Reply("Started."), Reply(tokens=SLOW, delay=0.05))
    first = door.ask("start a thread")
    assert first.code == 0 and first.thread, first
    {"serve": _serve, "acp": _acp}[door.name](door, backend, first.thread)
    assert len(backend.model.requests) == 2
    assert chat(door.env, "show", first.thread).code == 2  # nothing of it came back
    assert first.thread not in [row["thread_id"] for row in json.loads(chat(door.env, "threads", "--json").out)]


def test_an_approved_call_s_answer_asked_by_a_unique_start_of_the_id_is_stopped_by_the_delete(server, chat_env):
    """The work a request starts runs under the thread's whole id, however the request named it (a unique start of a
    generated id): a delete of the thread stops it first, rather than wait for the answer's end."""
    from tests.doors.serve import AppServed
    from tests.fakeserver import tool_calls

    env = {**chat_env, "CHATCLI_TOOLS": "shell"}
    thread = "c0ffee42"  # as chat names a thread: a unique start of it names it too
    served = AppServed(env)
    try:
        server.queue(tool_calls(("shell", {"command": "echo ran"}, "call_a")))
        status, asked = served.ask(thread, "run echo")
        assert status == 200 and asked["approval_required"][0]["id"] == "call_a", asked
        server.queue(Reply(tokens=SLOW, delay=0.05))
        answered: list[Any] = []
        sent = server.chunks_sent
        decided = {"decisions": {"call_a": {"action": "yes"}}}
        approving = threading.Thread(
            target=lambda: answered.append(served.request("POST", f"/v1/threads/{thread[:5]}/approvals", decided))
        )
        approving.start()
        assert server.wait_until_sent(chunks=sent + 3, timeout=30), "the answer after the call is under way"
        assert served.request("DELETE", f"/v1/threads/{thread}")[0] == 204
        approving.join(30)
        assert answered and "word399" not in json.dumps(answered[0][1]), answered  # stopped, not run to its end
        assert served.request("GET", f"/v1/threads/{thread}")[0] == 404
    finally:
        served.stop()

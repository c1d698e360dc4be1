"""The basic contract at every door, on every backend, with every provider (tests/matrix.py: the lists and the doors).

Each test runs on each cell of doors x backends x providers where it applies: a question is answered and its thread
goes on (started the door's way, or under an id the user chose); a failure of the model's endpoint is one line with
the right exit code (``chat serve``: the error object and its status), and the door goes on; an answer stopped by
its user (Ctrl-C at the prompt or to a one-shot, a client of ``chat serve`` that leaves) keeps the part shown, which
the next question's request carries. A cell where a door falls short is named in tests/matrix.py's ``SHORT``
table, with the reason.
"""

from __future__ import annotations

import uuid

from tests.fakeserver import Fault
from tests.matrix import Backend, Door, matrix, sent

STORY = "alpha beta gamma delta epsilon"


@matrix("answer")
def test_a_question_is_answered_and_its_thread_goes_on(door: Door, backend: Backend):
    first = door.ask("the first question")
    assert first.code == 0 and "You said: the first question" in first.out and first.thread, first
    again = door.ask("and the second", first.thread)
    assert again.code == 0 and "You said: and the second (earlier: the first question)" in again.out, again
    assert again.thread == first.thread, again


@matrix("chosen id", every_provider=False)  # the thread's id is the door's and the backend's business
def test_a_thread_starts_under_the_id_given(door: Door, backend: Backend):
    chosen = str(uuid.uuid4())  # a LangGraph server names its threads with UUIDs; every backend takes one
    first = door.ask("the first question", chosen)
    assert first.code == 0 and "You said: the first question" in first.out and first.thread == chosen, first


@matrix("failure")
def test_a_failure_of_the_model_endpoint_is_one_line_and_the_door_goes_on(door: Door, backend: Backend):
    backend.model.queue(Fault(status=401))
    failed = door.ask("will this work?")
    line = door.failed(failed, 4)
    assert backend.refused in line and "SECRET" not in line, line
    again = door.go_on(failed, "and now?")  # (Anthropic's fake joins it to the failed question: one user turn)
    assert again.code == 0 and "You said: " in again.out and "and now?" in again.out, again


@matrix("stop")
def test_a_stopped_answer_keeps_the_part_shown_and_the_thread_goes_on(door: Door, backend: Backend):
    backend.model.queue(Fault(stall_after=3, text=STORY))
    stopped = door.stop("tell me a story", shown="gamma")
    door.stopped(stopped)
    assert stopped.thread, stopped
    again = door.go_on(stopped, "go on")
    assert again.code == 0, again
    kept = [text for role, text in sent(backend.row, backend.model.requests[-1]) if role == "assistant"]
    assert kept and kept[-1].startswith("alpha beta gamma") and "epsilon" not in kept[-1], kept

"""``chat inbox``: every question chat waits on for you, across threads (chatcli.service.inbox), and answering one
without a terminal, the thread going on in the background (chatcli.service.jobs)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

import typer

from chatcli.app.shared import DB, DEBUG, app, environment, guarded
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.text import json_text, local_time, neutralise, say

if TYPE_CHECKING:
    from chatcli.service.inbox import Answers
    from chatcli.store.base import Waiting

# What a word of ``chat inbox answer`` means for a call to approve.
APPROVING = {"yes": "yes", "y": "yes", "always": "always", "a": "always", "no": "no", "n": "no"}
# ... and for a tool's question (its form).
FORMING = {"yes": "accept", "y": "accept", "accept": "accept", "no": "decline", "n": "decline", "decline": "decline"}
FORMING["cancel"] = "cancel"


class InboxAction(str, Enum):
    """What ``chat inbox`` does."""

    list = "list"
    answer = "answer"


@app.command("inbox")
def inbox_command(
    action: InboxAction = typer.Argument(InboxAction.list, metavar="[list|answer]"),
    thread: Optional[str] = typer.Argument(None, metavar="[THREAD]", show_default=False),
    answer: Optional[str] = typer.Argument(None, metavar="[ANSWER]", show_default=False),
    reason: Optional[str] = typer.Option(None, "--reason", help="answer no: the word the model gets."),
    fields: Optional[list[str]] = typer.Option(
        None, "--field", metavar="NAME=VALUE", help="answer a form: one of its fields (again for more)."
    ),
    as_json: bool = typer.Option(False, "--json", help="list: one JSON list (for scripts)."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """What chat waits on for you, in every thread: a tool call to approve, a tool's server's question, a graph's
    interrupt, wherever it was asked (the prompt, a one-shot, chat --bg, chat serve, chat acp).

    answer THREAD ANSWER answers what THREAD waits on and the thread goes on in the background (chat attach
    follows it): a call with yes, always (for the rest of that reply) or no (--reason for the model); a form with
    yes and its --field NAME=VALUE, no or cancel; a graph's interrupt with the text or JSON it resumes with. ANSWER
    - reads {"decisions": {CALL_ID: {...}}, "answers": {ID: ...}} from stdin, as chat serve's approvals take.
    """

    def run(settings: Settings) -> None:
        import asyncio

        from chatcli.threads.opening import open_threads

        async def waiting() -> list[Waiting]:
            async with open_threads(settings, read_only=True, light=True) as threads:
                return await threads.waiting()

        found = asyncio.run(waiting())
        if action is InboxAction.list:
            _list(found, as_json)
            return
        if not thread:
            raise UsageError("chat inbox answer THREAD ANSWER: name the thread (chat inbox lists them)")
        row = next((w for w in found if w.thread_id == thread), None)
        if row is None:
            raise UsageError(f"thread {thread} waits on nothing", hint="chat inbox lists what waits")
        env = environment()
        if answer is None and env.stdin_isatty and env.stdout.isatty():
            given = asyncio.run(_asked_here(row, settings))
            if given is None:
                say(env.stderr, f"chat: left thread {row.thread_id} waiting\n")
                return
        else:
            given = _answers(row, answer, reason, fields or [])
        _go_on(row, given, settings, db)

    guarded(debug, run, {"db": db})


def _list(found: list[Waiting], as_json: bool) -> None:
    env = environment()
    if as_json:
        say(env.stdout, json_text([w.as_dict() for w in found], ensure_ascii=False, indent=1) + "\n", data=True)
        return
    if not found:
        say(env.stderr, "nothing waits for you\n")
        return
    for w in found:
        say(env.stdout, f"{w.thread_id}  {local_time(w.since)}  {neutralise(w.title)}\n", data=True)
        for asked in w.asked:
            say(env.stdout, f"    {asked.kind:<9} {neutralise(asked.text)}\n", data=True)
    say(env.stderr, "chat inbox answer THREAD ANSWER answers one (chat inbox --help says how)\n")


def _answers(row: Waiting, answer: str | None, reason: str | None, fields: list[str]) -> Answers:
    """The answers ``answer`` (and ``reason``, ``fields``) give to everything ``row``'s thread waits on."""
    from chatcli.core.interrupts import typed_answer
    from chatcli.service.inbox import MAX_ANSWERS, Answers

    if answer == "-":
        text = environment().stdin.read(MAX_ANSWERS + 1)
        if len(text) > MAX_ANSWERS:
            raise UsageError(f"the answers on stdin hold more than {MAX_ANSWERS // 1024} KB")
        return Answers.of_json(text)
    if answer is None:
        raise UsageError(f"chat inbox answer {row.thread_id} ANSWER: give the answer", hint="chat inbox --help")
    decisions: dict[str, dict[str, Any]] = {}
    answers: dict[str, Any] = {}
    for asked in row.asked:
        if asked.kind == "approval":
            decisions[asked.id] = _decision(answer, reason)
        elif asked.kind == "question":
            answers[asked.id] = _form(answer, fields)
        else:
            answers[asked.id] = typed_answer(answer)
    return Answers(decisions, answers)


async def _asked_here(row: Waiting, settings: Settings) -> Answers | None:
    """What ``row``'s thread waits on, asked in this terminal as the prompt asks it (the same keys: yes, no, always,
    edit, a reason; a form's fields); None when the user leaves (Ctrl-C, or a call left for later)."""
    from chatcli.app.run import make_env_output
    from chatcli.service.chat import Chat
    from chatcli.service.inbox import Answers

    env = environment()
    output = make_env_output(env, settings, ask=True)
    decisions: dict[str, dict[str, Any]] = {}
    answers: dict[str, Any] = {}
    chat = Chat(settings)
    try:
        async with chat:
            thread = await chat.thread(await chat.find(row.thread_id, exists=True), listener=output)
            for pending in await thread.waiting():
                if pending.elicitation is not None:
                    elicited = await output.elicit(pending.elicitation)
                    if elicited is None:
                        return None
                    answers[pending.id or ""] = elicited.record()
                elif not pending.is_approval:
                    reply = await output.answer(pending.question())
                    if reply is None:
                        return None
                    answers[pending.id or ""] = reply.value
                for call, review in zip(pending.calls, pending.reviews):
                    reviewed = (review,) if not thread.own_model else ()  # chat's own calls are asked without one
                    decision = await output.approve(call, *reviewed)
                    if decision.action == "later":
                        return None
                    decisions[call.id] = {
                        "action": "yes" if decision.action == "yes" else "no",
                        "always": decision.always,
                    }
                    decisions[call.id].update(
                        {k: v for k, v in (("args", decision.args), ("reason", decision.reason)) if v}
                    )
    except KeyboardInterrupt:
        return None
    return Answers(decisions, answers)


def _decision(answer: str, reason: str | None) -> dict[str, Any]:
    said = APPROVING.get(answer.lower())
    if said is None:
        raise UsageError(f"{answer!r} is no answer to a tool call: yes, always or no")
    if said == "no":
        return {"action": "no", **({"reason": reason} if reason else {})}
    return {"action": "yes", "always": said == "always"}


def _form(answer: str, fields: list[str]) -> dict[str, Any]:
    said = FORMING.get(answer.lower())
    if said is None:
        raise UsageError(f"{answer!r} is no answer to a tool's question: yes (with --field NAME=VALUE), no or cancel")
    if said != "accept":
        return {"action": said}
    content = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--field {item!r}: give NAME=VALUE")
        content[name] = value
    return {"action": "accept", "content": content}


def _go_on(row: Waiting, answers: Answers, settings: Settings, db: str | None) -> None:
    """The thread goes on with ``answers`` in the background, as a job (its answers on the job's stdin, which only
    the user may read, never on its command line, which any local user may)."""
    from chatcli.service import jobs

    env = environment()
    jobs.room(env.environ, settings.max_jobs)
    args = ["-t", row.thread_id, "--answers", *(["--db", db] if db else [])]
    job = jobs.start(args, env.environ, env.cwd, answers.to_json().encode(), f"(answered) {row.title}")
    say(env.stderr, f"chat: thread {row.thread_id} goes on in the background as job {job.id} (chat attach {job.id})\n")

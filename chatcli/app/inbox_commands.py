"""``chat inbox``: every question chat waits on for you, across threads (chatcli.service.inbox), and answering one
without a terminal, the thread going on in the background (chatcli.service.jobs)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer

from chatcli.app.shared import LIST_JSON, environment, opt, subcommand, verb
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.text import local_time, neutralise, say, say_json

if TYPE_CHECKING:
    from chatcli.core.elicitation import Elicitation
    from chatcli.core.interrupts import Pending
    from chatcli.service.answering import Going
    from chatcli.service.inbox import Answers
    from chatcli.store.base import Waiting

# What a word of ``chat inbox answer`` means for a call to approve.
APPROVING = {"yes": "yes", "y": "yes", "always": "always", "a": "always", "no": "no", "n": "no"}
# ... and for a tool's question (its form).
FORMING = {"yes": "accept", "y": "accept", "accept": "accept", "no": "decline", "n": "decline", "decline": "decline"}
FORMING["cancel"] = "cancel"


@subcommand("inbox", db=True)
def inbox_command(
    settings: Settings,
    action: str = verb("[list|answer]"),
    thread: Optional[str] = typer.Argument(None, metavar="[THREAD]", show_default=False),
    answer: Optional[str] = typer.Argument(None, metavar="[ANSWER]", show_default=False),
    reason: Optional[str] = opt("--reason", "answer no: the word the model gets."),
    fields: Optional[list[str]] = opt("--field NAME=VALUE", "answer a form: one of its fields (again for more)."),
    as_json: bool = LIST_JSON,
) -> None:
    """What chat waits on for you, in every thread: a tool call to approve, a tool's server's question, a graph's
    interrupt, wherever it was asked (the prompt, a one-shot, chat --bg, chat serve, chat acp), in chat's threads
    and an Agent Server's (--remote: listed with its server, answered through it).

    answer THREAD ANSWER answers what THREAD waits on and the thread goes on in the background (chat attach
    follows it): a call with yes, always (for the rest of that reply) or no (--reason for the model); a form with
    yes and its --field NAME=VALUE, no or cancel; a graph's interrupt with the text or JSON it resumes with. ANSWER
    - reads {"decisions": {CALL_ID: {...}}, "answers": {ID: ...}} from stdin, as chat serve's approvals take.
    """
    import asyncio

    from chatcli.threads.opening import open_threads

    if action == "list":

        async def waiting() -> list[Waiting]:
            async with open_threads(settings, read_only=True, light=True) as threads:
                return await threads.waiting()

        _list(asyncio.run(waiting()), as_json)
        return
    if not thread:
        raise UsageError("chat inbox answer THREAD ANSWER: name the thread (chat inbox lists them)")
    env = environment()
    here = answer is None and env.stdin_isatty and env.stdout.isatty()  # asked here, as at the prompt
    if answer is None and not here:
        raise UsageError(f"chat inbox answer {thread} ANSWER: give the answer", hint="chat inbox --help")
    going = asyncio.run(_prepared(thread, settings, None if here else _said(answer or "", reason, fields or [])))
    if going is None:
        say(env.stderr, f"chat: left thread {thread} waiting\n")
        return
    from chatcli.service.answering import go_on

    job = go_on(going, settings, env.environ).id  # the thread goes on in the background
    say(env.stderr, f"chat: thread {going.thread_id} goes on in the background as job {job} (chat attach {job})\n")


def _list(found: list[Waiting], as_json: bool) -> None:
    env = environment()
    if as_json:
        say_json(env.stdout, [w.as_dict() for w in found])
        return
    if not found:
        say(env.stderr, "nothing waits for you\n")
        return
    for w in found:
        where = f"  (on {neutralise(w.server)})" if w.server else ""
        say(env.stdout, f"{w.thread_id}  {local_time(w.since)}  {neutralise(w.title)}{where}\n", data=True)
        for asked in w.asked:
            say(env.stdout, f"    {asked.kind:<9} {neutralise(asked.text)}\n", data=True)
    say(env.stderr, "chat inbox answer THREAD ANSWER answers one (chat inbox --help says how)\n")


def _said(answer: str, reason: str | None, fields: list[str]) -> Callable[[list[Pending]], Answers]:
    """The command line's answer, read and checked before anything opens: what gives the answers to everything a
    thread waits on (its ``pending``)."""
    from chatcli.service.inbox import MAX_ANSWERS, Answers

    if answer == "-":
        text = environment().stdin.read(MAX_ANSWERS + 1)
        if len(text) > MAX_ANSWERS:
            raise UsageError(f"the answers on stdin hold more than {MAX_ANSWERS // 1024} KB")
        given = Answers.of_json(text)
        return lambda pending: given
    word = answer.strip().lower()
    if word not in APPROVING and word not in FORMING and (reason or fields):
        raise UsageError("--reason and --field go with yes, always or no (a call), or yes, no or cancel (a form)")
    if reason and APPROVING.get(word) != "no":
        raise UsageError("--reason goes with no: the word the model gets about a call it may not run")
    if fields and FORMING.get(word) != "accept":
        raise UsageError("--field goes with yes: the fields of the form it accepts")
    content = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--field {item!r}: give NAME=VALUE")
        content[name] = value
    return functools.partial(_answers, answer, reason, content)


async def _prepared(ref: str, settings: Settings, said: Callable[[list[Pending]], Answers] | None) -> Going | None:
    """The thread ``ref`` names, what it waits on answered by ``said`` (None: asked here, as the prompt asks; None
    back when the user leaves), checked by the service before anything is started (chatcli.service.answering)."""
    from chatcli.app.run import make_env_output
    from chatcli.service.answering import ask, prepare
    from chatcli.service.chat import Chat

    env = environment()
    output = make_env_output(env, settings, ask=said is None)

    async def answering(pending: list[Pending], own: bool) -> Answers | None:
        return await ask(output, pending, own) if said is None else said(pending)

    async with Chat(settings, environ=env.environ) as chat:
        return await prepare(chat, ref, env.environ, env.cwd, output, answering)


def _answers(word: str, reason: str | None, fields: dict[str, str], pending: list[Pending]) -> Answers:
    """The answers ``word`` (with its ``reason``, or a form's ``fields``) gives to everything the thread waits on."""
    from chatcli.core.interrupts import typed_answer
    from chatcli.service.inbox import Answers

    if fields and not any(item.elicitation is not None for item in pending):
        raise UsageError("--field answers a form, and the thread waits on none")
    if reason and not any(item.calls for item in pending):
        raise UsageError("--reason goes with no to a call, and the thread waits on no call")
    decisions: dict[str, dict[str, Any]] = {}
    answers: dict[str, Any] = {}
    for item in pending:
        for call in item.calls:
            decisions[call.id] = _decision(word, reason)
        if item.elicitation is not None:
            answers[item.id or ""] = _form(word, fields, item.elicitation)
        elif not item.is_approval:
            answers[item.id or ""] = typed_answer(word)
    return Answers(decisions, answers)


def _decision(word: str, reason: str | None) -> dict[str, Any]:
    meant = APPROVING.get(word.lower())
    if meant is None:
        raise UsageError(f"{word!r} is no answer to a tool call: yes, always or no")
    if meant == "no":
        return {"action": "no", **({"reason": reason} if reason else {})}
    return {"action": "yes", "always": meant == "always"}


def _form(word: str, fields: dict[str, str], question: Elicitation) -> dict[str, Any]:
    """The answer to a tool's form: its fields' values typed as the form has them (a number, true or false, a list
    of choices as JSON); text where it asks for text."""
    from chatcli.core.interrupts import typed_answer

    meant = FORMING.get(word.lower())
    if meant is None:
        raise UsageError(f"{word!r} is no answer to a form: yes (with --field NAME=VALUE), no or cancel")
    if meant != "accept":
        return {"action": meant}
    kinds = {f.name: f.kind for f in question.fields}
    content = {k: v if kinds.get(k) in ("string", "choice") else typed_answer(v) for k, v in fields.items()}
    return {"action": "accept", "content": content}

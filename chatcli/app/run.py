"""What `chat` does once its flags are parsed: one answer or the prompt, and how failures are reported."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import ExitStack
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, Awaitable, Mapping, TypeVar, cast

from chatcli.app.environment import Environment, silence_stdout
from chatcli.app.flags import refused
from chatcli.config import Settings
from chatcli.errors import ChatError, Interrupted, UsageError
from chatcli.text import say

T = TypeVar("T")

if TYPE_CHECKING:
    from chatcli.core.events import TurnResult
    from chatcli.service.answerer import Answerer
    from chatcli.service.chat import Chat
    from chatcli.service.opening import Opening, ThreadSetup
    from chatcli.service.thread import Thread
    from chatcli.ui.output import Output


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """Turn ``name=value`` flags into a dict, or fail with the offending flag."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--var expects NAME=VALUE, got {pair!r}")
        result[name.strip()] = value
    return result


def answering_of(
    graph: str | None,
    remote: str | None,
    assistant: str | None,
    header: list[str],
    env: Environment,
    job: str | None = None,
) -> Answerer:
    """What answers the threads the command line names: chat's own graph, ``--graph``'s (checked: its file or id
    exists), or ``--remote``'s assistant (its runs tagged with the background reply ``job``, when one asks); every
    door that opens threads reads it here."""
    from chatcli.service.answerer import OWN, Answerer

    if graph is not None and (remote is not None or assistant or header):
        raise UsageError("give --graph or --remote, not both")
    if remote is None and (assistant or header):
        raise UsageError("--assistant and --header go with --remote URL")
    if remote is not None:
        from chatcli.backends.remote.client import remote_spec

        return Answerer(remote=remote_spec(remote, assistant, header, env.environ, job))
    if graph is None:
        return OWN
    from chatcli.backends.graphs.load import GraphFile

    app = GraphFile(graph, env.cwd)
    app.check()
    return Answerer(graph=app)


def graph_source(given: Mapping[str, Any], env: Environment) -> tuple[Answerer, Any]:
    """``--graph``, ``--remote`` and ``--resume`` read from the flags ``given`` (by their parameter names, see
    chatcli.app.flags): what answers (chat's own graph, unless a thread's is another) and the value to resume with
    (None: none); a flag that does not apply to what answers (the table says which) is refused, naming it."""
    if given["resume"] is not None and given["question"] is not None:
        raise UsageError("--resume answers the thread's interrupt: give no question with it")
    from chatcli.service.abilities import CAN

    can = CAN["remote" if given["remote"] is not None else "graph" if given["graph"] else "chat"]
    can.refuse(flag.name for flag in refused(can.flag) if given[flag.param] not in (None, False, [], ()))
    answerer = answering_of(given["graph"], given["remote"], given["assistant"], given["header"], env)
    resume = given["resume"]
    if resume is None:
        return answerer, None
    from chatcli.core.interrupts import typed_answer  # (its imports only for --resume: chat --bg starts sooner)

    return answerer, typed_answer(resume)


# The flags that set a thread up as they are (chatcli.service.opening.ThreadSetup's own fields), by parameter name.
PLAIN = ("system", "variables", "model", "temperature", "latest", "at", "new_thread", "again", "rebind")


def thread_setup(given: Mapping[str, Any], settings: Settings, answerer: Answerer, resume: Any) -> ThreadSetup:
    """How the flags ``given`` (by parameter name; ``variables`` parsed) set the thread up: the command line's, and a
    background reply's (its spec keeps those it was given)."""
    from chatcli.backends.own.roles import read_role
    from chatcli.service.opening import ThreadSetup

    return ThreadSetup(
        **{name: given[name] for name in PLAIN if name in given},
        role=read_role(settings.roles_dir, given.get("role")),
        attach=tuple(given.get("attach") or ()),
        answerer=answerer,
        resume=resume,
    )


# The most chat reads from stdin: more is refused before it fills the memory (`yes | chat`).
MAX_STDIN = 16 * 1024 * 1024


def piped(stdin: Any) -> bytes:
    """The bytes piped in, at most ``MAX_STDIN`` of them: more is refused before it fills the memory."""
    source = getattr(stdin, "buffer", None)
    data: bytes = source.read(MAX_STDIN + 1) if source is not None else stdin.read(MAX_STDIN + 1).encode()
    if len(data) > MAX_STDIN:
        mb = MAX_STDIN // (1024 * 1024)
        raise UsageError(f"stdin holds more than {mb} MB", hint=f"chat reads at most {mb} MB from stdin")
    return data


def read_stdin(stdin: Any) -> Any:
    """Read piped input (at most ``MAX_STDIN`` bytes): UTF-8 text (a str), or an image (an Attachment); else fail
    clearly."""
    data = piped(stdin)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        from chatcli.content.attachments import IMAGES, from_bytes, image_type

        if (mime := image_type(data)) is not None:  # `cat shot.png | chat "what is this?"`
            return from_bytes("stdin." + mime.partition("/")[2].replace("jpeg", "jpg"), data)
        raise UsageError(f"stdin is neither valid UTF-8 (byte {exc.start}) nor a {IMAGES} image") from None


def read_export(stdin: Any, file: str, what: str, hint: str, limit: int | None = None) -> Any:
    """The JSON of the export ``file`` (- for ``stdin``; a file of at most ``limit`` bytes, when given); a UsageError
    saying why it is not ``what`` (``hint``: what writes one)."""
    import json

    name = "stdin" if file == "-" else file
    try:
        if file == "-":
            raw = piped(stdin)
        else:
            with open(file, "rb") as handle:
                raw = handle.read(-1 if limit is None else limit + 1)
        if limit is not None and len(raw) > limit:
            raise UsageError(f"{name} is larger than {limit // (1024 * 1024)} MB: not {what}")
        return json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not {what} (not UTF-8 text)", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name} is not {what} (not JSON: {exc.msg} at line {exc.lineno})", hint=hint) from None
    except RecursionError:
        raise UsageError(f"cannot read {file}: it is nested too deeply to be {what}") from None


def compose_question(question: str | None, piped: str | None, attached: bool = False) -> str:
    """The question to send: the argument, the piped text, or the argument then the piped text.

    With ``attached`` files it may be empty (the files are the question).
    """
    parts = [part for part in (question, piped) if part and part.strip()]
    if not parts and not attached:
        raise UsageError("nothing to send: the question is empty")
    return "\n\n".join(parts)


async def stoppable(work: Awaitable[T]) -> T:
    """Run the coroutine ``work`` to its result, unless Ctrl-C, SIGTERM or SIGHUP cancels it: then ``Interrupted``
    says which."""
    from chatcli.ui.signals import on_stop_signals

    task = asyncio.ensure_future(work)
    received: list[int] = []  # the first signal: a later one changes nothing (what arrived is being kept)

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    with on_stop_signals(stop, ending=lambda: bool(received)):  # the command ends with 128 + that signal
        try:
            return await task
        except asyncio.CancelledError:
            if not received:
                raise
    raise Interrupted(received[0])


async def answer_once(
    chat: Chat, opening: Opening, text: str, setup: ThreadSetup, output: Output, typed: str = ""
) -> None:
    """Print one streamed answer through ``output``; the thread id goes to stderr (in JSON, in the object).

    ``setup`` holds the thread's role, system prompt and variables, and the files to attach.
    """
    from chatcli.ui.jsonout import JsonOutput

    async with chat:
        conversation = await chat.thread(opening, setup=setup, listener=output)
        if isinstance(output, JsonOutput):  # the thread and model are named in the object
            output.model = conversation.model_name  # a role's, kept with the thread
            output.thread_id = opening.thread_id if opening.info is not None else None
        elif opening.info is not None:
            output.note(f"thread: {opening.thread_id}")
        else:  # a new thread is named once it exists: when its question is stored
            output.thread_note = "thread: {id}"
        if setup.again:
            result = await conversation.retry()
        elif setup.resume is not None:
            from chatcli.service.answering import resumed

            result = await resumed(conversation, setup.resume, chat.environ)  # (a background reply's: as it asked)
        else:
            result = await asked(chat, conversation, text, list(setup.attachments), typed)
        if result.interrupts and not isinstance(output, JsonOutput):
            again = chat.answerer.again(conversation.thread_id)
            raise ChatError(
                "the graph waits for an answer to its question (said above)",
                hint=f"{again} asks it again; {again} --resume ANSWER answers it",
            )


async def asked(chat: Chat, conversation: Thread, text: str, files: list[Any], typed: str) -> TurnResult:
    """``text`` (with ``files``) asked on ``conversation``; a question ``typed`` as ``/NAME ARGS`` that names a skill or
    a command file runs it as the prompt does (its arguments the rest, the piped text with them), and ``//text`` asks
    ``/text``, as the prompt does."""
    if typed.lstrip().startswith("/"):
        from chatcli.service.commands import run_offered
        from chatcli.ui.registry import is_command, literal

        if is_command(typed) and (named := chat.commands().invoked(text, conversation.toolbox)):
            if files:
                raise UsageError(
                    f"{named[0].name} sends no file: nothing was sent", hint="ask without it to send files"
                )
            return cast("TurnResult", await run_offered(chat, conversation, *named))
        text = literal(text)
    return await conversation.send(text, files, mentions=typed)


def run(
    question: str | None,
    thread: str | None,
    settings: Settings,
    setup: ThreadSetup,
    json_output: Any,
    env: Environment,
    debug: bool,
) -> None:
    """Choose between one answer and the interactive prompt, and run it, reading and writing in ``env``.

    ``json_output`` (a chatcli.ui.jsonout.JsonOutput, for --json / --jsonl; or None) renders the one answer.
    """
    from chatcli.core.inputs import check_thread_id
    from chatcli.service.chat import Chat

    if json_output is not None:
        json_output.model = setup.answerer.label or settings.model
    if thread:
        check_thread_id(thread)
    if setup.resume is not None and not (thread or setup.latest):
        raise UsageError("--resume answers what a thread waits on", hint="name the thread: chat -t ID --resume VALUE")
    from chatcli.content.attachments import Attachment
    from chatcli.content.webpage import read_attachments

    piped = None if env.stdin_isatty else read_stdin(env.stdin)
    # Every file is read (every URL fetched) and checked before anything is sent (a 60 MB one is refused here).
    files = read_attachments(setup.attach)
    if isinstance(piped, Attachment):
        files.append(piped)
        piped = None
    setup = replace(setup, attachments=tuple(files))
    resuming = setup.resume is not None or setup.again  # no question: the thread goes on from what it has
    if json_output is not None and question is None and piped is None and not files and not resuming:
        raise UsageError("--json and --jsonl answer one question", hint="give a QUESTION or pipe one on stdin")
    # A question, piped text, files without a terminal or --resume give one answer (at every door alike); with stdin
    # piped, calls are asked about on the controlling terminal when there is one.
    one_shot = question is not None or piped is not None or (files and not env.stdin_isatty) or resuming
    asking_on = None if env.stdin_isatty or json_output is not None else env.open_terminal()
    ask = json_output is None and ((env.stdin_isatty and env.stdout.isatty()) or asking_on is not None)
    text = compose_question(question, piped, bool(files)) if one_shot and not resuming else ""
    # One service and one event loop for the run: it finds the thread (an existing one goes on with what answers it:
    # its graph, or its model, unless the flags name others) before anything loads.
    chat = Chat(settings, setup.answerer, environ=env.environ)

    async def serve() -> None:
        opening = await chat.find(thread, new=setup.new_thread, latest=setup.latest, setup=setup)
        note = make_env_output(env).note
        if opening.said and json_output is None:
            note(opening.said)
        with ExitStack() as stack:
            # With the warm worker wanted (CHATCLI_WORKER too), one-shots share MCP servers kept by the MCP host.
            settings = chat.set_up(stack, note, quiet=json_output is not None, worker=one_shot or None)
            if json_output is not None:
                json_output.model = chat.answerer.label or settings.model
            if one_shot:
                if asking_on is not None:
                    stack.callback(asking_on.close)
                output = json_output or make_env_output(env, settings, ask=ask, terminal=asking_on)
                # Ctrl-C, SIGTERM and SIGHUP stop it alike: the partial answer is kept and marked, and ``Interrupted``
                # says which signal it was (exit 130, 143 or 129).
                await stoppable(answer_once(chat, opening, text, setup, output, typed=question or ""))
                return
            from chatcli.ui.prompt import run_repl

            output = make_env_output(env, settings, ask=True, at_prompt=True)
            await run_repl(chat, opening, output, setup=setup, debug=debug, named=bool(thread or setup.new_thread))

    asyncio.run(serve())


def make_env_output(env: Environment, settings: Settings | None = None, **options: Any) -> Output:
    """The output for ``env``: rendered in a terminal, plain text in a pipe or a dumb terminal; ``options`` as
    chatcli.ui.output.make_output takes them (``ask``: tool calls that need approval are asked about in the terminal,
    ``terminal`` that one, the controlling terminal when stdin is piped)."""
    from chatcli.ui.output import make_output

    show = settings.show_thinking if settings is not None else False
    return make_output(env.stdout, env.stderr, dumb=env.dumb_terminal, show_thinking=show, **options)


# How an error's line begins, by its kind (chatcli.backends.own.failures.Failure): "chat: error: " for the others.
_PREFIX = {"interrupted": "", "unexpected": "chat: "}


def report(exc: BaseException, debug: bool, settings: Settings | None, err: IO[str]) -> int:
    """Print one line for an error on ``err`` (and the traceback with --debug); return the exit code.

    A stderr that cannot be written (a closed terminal) changes nothing but the line.
    """
    from chatcli.backends.own.failures import describe, traceback_text

    failure = describe(exc, settings)
    with contextlib.suppress(OSError):
        if debug:
            # Server errors can echo the key back (401 "Incorrect API key provided: sk-..."): redact.
            say(err, traceback_text(exc, settings))
        # (no line: an outcome said by its exit code alone, as chat search finding nothing)
        if failure.line and failure.kind == "broken_pipe":
            silence_stdout()  # the reader left (`chat q | head -1`): nothing to say
        elif failure.line:
            say(err, f"{_PREFIX.get(failure.kind, 'chat: error: ')}{failure.line}\n")
    return failure.exit_status

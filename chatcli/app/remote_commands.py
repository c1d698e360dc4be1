"""``chat --remote URL``: one answer, the prompt, or ``chat threads --remote URL`` on a LangGraph Agent Server.

The server keeps the threads and runs the graph; chat streams its runs, asks its interrupts and lists
its threads. Nothing of chat's own database, model or tools is used, so the flags that set those up
are refused with --remote rather than ignored.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from chatcli.app.environment import Environment
from chatcli.config import Settings
from chatcli.errors import UsageError

# chat's own engine's settings (the command line's flags, by name): none of them applies to a server's graph.
LOCAL_FLAGS = {
    "model": "--model",
    "temperature": "--temperature",
    "db": "--db",
    "memory": "--memory",
    "local": "--local",
    "local_model": "--local-model",
    "tools": "--tools",
    "use_tools": "--no-tools",
    "sandbox": "--sandbox",
    "network": "--network",
    "system": "--system",
    "role": "--role",
    "var": "--var",
    "attach": "--attach",
    "new_thread": "--new-thread",
    "graph": "--graph",
}


def remote_run(
    question: str | None,
    thread: str | None,
    latest: bool,
    where: tuple[str | None, str | None, list[str], str | None],
    settings: Settings,
    json_output: Any,
    env: Environment,
    debug: bool,
    flags: dict[str, Any],
) -> None:
    """``chat --remote URL [--assistant ID] [--header H] [--resume VALUE]`` with the rest of the command line:
    checked, then run. ``flags``: what the command line gave for chat's own engine and threads (refused here)."""
    from chatcli.chat.remote.client import remote_spec

    url, assistant, headers, resume = where
    if url is None:
        raise UsageError("--assistant and --header go with --remote URL")
    for name, flag in LOCAL_FLAGS.items():
        if flags.get(name) not in (None, [], ()):
            raise UsageError(
                f"{flag} does not apply with --remote: the server's graph has its own model, prompt and tools"
            )
    if resume is not None and (question is not None or not (thread or latest)):
        raise UsageError(
            "--resume answers the interrupt a thread waits on", hint="give the thread (-t ID), no question"
        )
    spec = remote_spec(url, assistant, headers, env.environ)
    run_remote(question, thread, latest, spec, settings, json_output, env, debug, resume)


def resume_command(spec: Any) -> str:
    """How to come back to a thread "{id}" of ``spec``'s server and assistant."""
    return f"chat --remote {spec.url}" + (f" --assistant {spec.assistant}" if spec.assistant else "") + " -t {id}"


async def _open(spec: Any, thread: str | None, latest: bool, listener: Any, approve_all: bool) -> Any:
    """Connect and open the conversation on ``thread`` (a start of its id will do), the latest one, or a new one."""
    from chatcli.chat.backend import RemoteBackend
    from chatcli.chat.remote.client import Remote
    from chatcli.chat.remote.threads import new_thread_id
    from chatcli.chat.thread import Thread

    remote = await Remote.open(spec)
    try:
        found = None
        if thread:
            found = (await remote.thread(thread)).thread_id
        elif latest:
            rows = await remote.threads(1)
            if not rows:
                raise UsageError(f"no thread of {remote.graph_id} on {spec.url} to continue yet")
            found = rows[0].thread_id
        backend = RemoteBackend(remote)
        return found is not None, Thread(
            app=backend.app,
            thread_id=found or new_thread_id(),
            backend=backend,
            listener=listener,
            approve_all=approve_all,
        )
    except BaseException:
        await remote.aclose()
        raise


async def _remember(settings: Settings, thread_id: str, spec: Any) -> None:
    """Note in chat's own database that ``thread_id`` lives on ``spec``'s server (chatcli.chat.binding), so that
    ``chat -t ID`` there says where it is instead of starting a thread of chat's own under that id."""
    from chatcli.chat.binding import Binding
    from chatcli.chat.inputs import check_thread_id
    from chatcli.errors import ChatError
    from chatcli.store.light import open_light_store

    binding = Binding(kind="remote", url=spec.url, assistant=spec.assistant)
    try:
        check_thread_id(thread_id)  # an id the server named: a string of its choosing
        async with open_light_store(settings.db or "") as store:
            if await store.index.get(thread_id) is None:  # a thread of chat's own keeps its binding, whatever
                await store.index.bind(thread_id, binding.to_json())  # a server names its threads
    except (ChatError, OSError):
        pass  # the thread is the server's: a local database that cannot take the note changes nothing of it


async def _answer(
    spec: Any, where: tuple[str | None, bool], text: str, output: Any, settings: Settings, resume: Any
) -> None:
    from chatcli.chat.outcome import render_reply
    from chatcli.errors import ChatError
    from chatcli.ui.jsonout import JsonOutput

    existed, conversation = await _open(spec, *where, output, settings.approve_all)
    try:
        if isinstance(output, JsonOutput):
            output.model = conversation.model_name
            output.thread_id = conversation.thread_id if existed else None
        elif existed:
            output.note(f"thread: {conversation.thread_id}")
        else:
            output.thread_note = "thread: {id}"
        turn = conversation.resume(resume) if resume is not None else conversation.send(text)
        try:
            result = await render_reply(conversation, turn, settings)
        finally:
            await _remember(settings, conversation.thread_id, spec)
        if result.interrupts and not isinstance(output, JsonOutput):
            again = resume_command(spec).format(id=conversation.thread_id)
            raise ChatError(
                "the graph waits for an answer to its question (said above)",
                hint=f"{again} asks it again; {again} --resume ANSWER answers it",
            )
    finally:
        await conversation.backend.aclose()


def run_remote(
    question: str | None,
    thread: str | None,
    latest: bool,
    spec: Any,
    settings: Settings,
    json_output: Any = None,
    env: Environment | None = None,
    debug: bool = False,
    resume: str | None = None,
) -> None:
    """One answer from the server's graph (a question, piped text, or --resume), or the prompt on its threads."""
    from chatcli.app.run import answering, compose_question, make_env_output, read_stdin, stoppable

    env = env or Environment()
    piped = None if env.stdin_isatty or resume is not None else read_stdin(env.stdin)
    if piped is not None and not isinstance(piped, str):
        raise UsageError("images cannot be sent to a LangGraph server", hint="pipe text")
    how = answering(question, piped, False, resume is not None, json_output, env)
    if how.one_shot:
        from chatcli.chat.interrupts import typed_answer

        output = json_output if json_output is not None else make_env_output(env, settings, ask=how.ask)
        text = compose_question(question, piped) if resume is None else ""
        answer = typed_answer(resume) if resume is not None else None
        asyncio.run(stoppable(_answer(spec, (thread, latest), text, output, settings, answer)))
        return
    _prompt(spec, thread, latest, settings, make_env_output(env, settings, ask=True, at_prompt=True), debug)


def _prompt(spec: Any, thread: str | None, latest: bool, settings: Settings, output: Any, debug: bool) -> None:
    from chatcli.ui.prompt import run_repl
    from chatcli.ui.prompt_session import Elsewhere

    resume = resume_command(spec)

    async def opened(stack: AsyncExitStack, listener: Any) -> Any:
        existed, conversation = await _open(spec, thread, latest, listener, settings.approve_all)
        stack.push_async_callback(conversation.backend.aclose)
        if existed:
            listener.output.note(
                f"thread {conversation.thread_id} · resume with: {resume.format(id=conversation.thread_id)}"
            )
        else:
            listener.output.thread_note = "thread {id} · resume with: " + resume
        return conversation

    where = spec.url + (f" · {spec.assistant}" if spec.assistant else "")
    banner = [f"chatcli · LangGraph server {where} · {'resuming a thread' if thread or latest else 'new thread'}"]
    elsewhere = Elsewhere(opened, banner, resume)
    asyncio.run(run_repl(settings, "", output, debug=debug, resumed=bool(thread or latest), elsewhere=elsewhere))


def list_threads(spec: Any, limit: int | None, as_json: bool, env: Environment) -> None:
    """``chat threads --remote URL``: the server's threads of the assistant's graph, as ``chat threads`` lists
    chat's."""
    from chatcli.text import json_text, say
    from chatcli.ui.listing import print_threads

    async def read() -> list[Any]:
        from chatcli.chat.remote.client import Remote

        remote = await Remote.open(spec, find=False)  # without --assistant: the threads of all its graphs
        try:
            return await remote.threads(limit)
        finally:
            await remote.aclose()

    rows = asyncio.run(read())
    if as_json:
        say(env.stdout, json_text([r.as_dict() for r in rows], ensure_ascii=False, indent=1) + "\n", data=True)
    elif not rows:
        say(env.stdout if env.stdout.isatty() else env.stderr, f"no threads on {spec.url} yet\n")
    else:
        print_threads(rows, env.stdout)

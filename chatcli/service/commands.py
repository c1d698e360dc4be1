"""The commands of one ``Chat``: each defined once (its name, help, arguments, what it needs of a thread, whether an
editor may run it, its handler), and the doors' views of them.

The prompt's slash commands (chatcli.ui.commands: /help, Tab completion, what only a terminal does), an editor's
available commands (chatcli.editor.agent) and ``chat serve``'s (chatcli.api.server) are views of one ``Commands``,
filtered by what the thread can do (``Ability``, as its backend's ``Abilities`` say), never by a list of names; each
runs a command's one handler (chatcli.service.command_runs) and renders what it gives. The MCP servers' prompts are
commands of the registry too (``/mcp__SERVER__PROMPT``), and so are the skills and Claude Code's command files
(``/NAME``, chatcli.tools.skills and chatcli.tools.command_files), as the thread's toolbox knows them. Nothing here
imports a UI library.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from chatcli.core.inputs import check_utf8
from chatcli.errors import UsageError
from chatcli.service import command_runs as runs
from chatcli.service.abilities import Abilities, Ability

if TYPE_CHECKING:
    from chatcli.core.events import TurnResult
    from chatcli.service.command_runs import Run, Said, Service
    from chatcli.service.thread import Thread
    from chatcli.tools.context import HasServers
    from chatcli.tools.skills import Skill

__all__ = ["Ability", "Command", "Commands", "run_offered"]


# What most commands need: a thread chat keeps (an Agent Server's thread runs the few that need nothing more).
KEPT = frozenset({Ability.KEPT})
# What an editor's compaction, summary, model choice and fork need: chat's own prompt (not a graph's).
OWN = frozenset({Ability.PROMPT})


@dataclass(frozen=True)
class Command:
    """One command: its name (with the slash), one-line help, argument synopsis (empty: it takes none), and what it
    needs of the thread (``needs``: refused without it, at every door). ``needs_thread``: False runs at once, before
    the thread is open (/help, /exit); ``complete``: what completes its first argument ("threads", "models", "roles",
    "files", or fixed words). ``run``: its handler at every door (None: the prompt's own, what only a terminal does).

    A command with a handler is offered to clients too (an editor's available commands, ``chat serve``'s
    ``/v1/commands``): described by ``about`` (its help when empty), its input by ``hint`` (None: it takes none);
    ``own``: only where the thread has chat's own prompt (a graph's thread refuses it at the prompt in its own words:
    /system, /compact...); ``answers``: it runs a turn, whose answer is what it gives."""

    name: str
    help: str
    args: str = ""
    needs: frozenset[Ability] = KEPT
    needs_thread: bool = True
    complete: str | tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    run: Run | None = None
    about: str = ""
    hint: str | None = None
    own: bool = False
    answers: bool = False

    @property
    def description(self) -> str:
        """What a client is told it does."""
        return self.about or self.help

    def wants(self, *, editor: bool = False) -> frozenset[Ability]:
        """What it needs of the thread: at the prompt, or (``editor``) where a client runs it."""
        return self.needs | (OWN if editor and self.own else frozenset())


# Every command chat has, once. Those an editor is offered come in the order the editor lists them.
DEFINED: tuple[Command, ...] = (
    Command(
        "/compact",
        "fold every turn but the last into a summary sent in their place; FOCUS says what it must keep",
        "[FOCUS]",
        about="fold the earlier turns into a summary (what is sent shrinks; nothing is lost)",
        hint="focus",
        own=True,
        run=runs.compact,
    ),
    Command(
        "/summary",
        "show what is sent in place of the earlier turns; edit: correct it in $VISUAL or $EDITOR",
        "[edit]",
        complete=("edit",),
        about="show the summary sent in place of the earlier turns",
        own=True,
        run=runs.summary,
    ),
    Command(
        "/pin",
        "always send turn N (the last by default) whole, through any compaction",
        "[N]",
        hint="turn number",
        own=True,
        run=runs.pin,
    ),
    Command(
        "/unpin",
        "let turn N (the last by default) be folded into the summary again",
        "[N]",
        hint="turn number",
        own=True,
        run=functools.partial(runs.pin, on=False),
    ),
    Command(
        "/model",
        "show or switch the model: NAME or provider:NAME (Tab offers them)",
        "[NAME]",
        complete="models",
        about="answer with another model from the next message on",
        hint="model name",
        own=True,
        run=runs.model,
    ),
    Command(
        "/role",
        "set this thread up with a role (its prompt, model, temperature); alone: show the role",
        "[NAME]",
        complete="roles",
        hint="role name",
        own=True,
        run=runs.role,
    ),
    Command(
        "/system",
        "show, or set from now on, this thread's system prompt",
        "[TEXT]",
        hint="system prompt",
        own=True,
        run=runs.system,
    ),
    Command(
        "/retry",
        "answer the last message again, replacing the answer",
        needs=frozenset(),
        about="answer the last question again",
        answers=True,
        run=runs.retry,
    ),
    Command(
        "/bg",
        "ask QUESTION on this thread in the background: the prompt is free at once, and says here when it ends"
        " (Ctrl-B moves a reply that is streaming there)",
        "QUESTION",
        needs=frozenset(),  # an Agent Server's thread too: its background reply is the server's own run
        about="ask a question in the background: free at once; chat jobs lists it, chat attach follows it",
        hint="question",
        run=runs.background,
    ),
    Command(
        "/undo",
        "take back the last exchange (your message, its tool calls and its answer), or a /compact made since",
        needs=frozenset(),
        about="take back the last exchange",
        run=runs.undo,
    ),
    Command(
        "/tree",
        "draw this thread's tree: every question asked and answer had, the branch it is on marked; all: unfold it",
        "[all]",
        needs=frozenset(),
        complete=("all",),
        about="show every question and answer this thread had, as a tree",
        run=runs.tree,
    ),
    Command(
        "/goto",
        "move the thread to node NODE of /tree (its number or label): the next question goes on from there",
        "NODE",
        needs=frozenset(),
        about="move the thread to another node of its tree (nothing is lost)",
        hint="node number or label",
        run=runs.goto,
    ),
    Command(
        "/label",
        "name the node the thread is on (/goto NAME comes back to it)",
        "NAME",
        needs=frozenset(),
        about="name the node the thread is on",
        hint="label",
        run=runs.label,
    ),
    Command("/copy", "copy the last answer, or its N-th code block, to the clipboard", "[N]", needs=frozenset()),
    Command(
        "/think",
        "show the last answer's thinking in full; on/off: show thinking in full as it comes",
        "[on|off]",
        complete=("on", "off"),
        about="show the last answer's thinking in full",
        run=runs.think,
    ),
    Command("/usage", "tokens used by this thread's answers, and what they cost", needs=frozenset(), run=runs.usage),
    Command(
        "/status",
        "print the status line (the model, the thread, the room left under spending limits); on/off: keep it at the "
        "bottom of the prompt",
        "[on|off]",
        needs=frozenset(),
        complete=("on", "off"),
    ),
    Command(
        "/attach",
        "send FILE (an image or a text file) or the web page at URL with your next message; alone: list the queue; "
        "--clear: empty it",
        "[FILE|URL|--clear]",
        complete="files",
    ),
    Command("/new", "start a new thread (under NAME, even one like an existing id)", "[NAME]", aliases=("/clear",)),
    Command("/threads", "list the N most recent threads (default 20)", "[N]", needs=frozenset()),
    Command(
        "/switch",
        "continue another thread (its id, or the start of a generated one; a new name starts a thread)",
        "ID",
        needs=frozenset(),
        complete="threads",
    ),
    Command(
        "/fork",
        "continue in a new thread that starts as a copy of this one (to node NODE of /tree; under the id NEW_ID)",
        "[--at NODE] [--as NEW_ID]",
        about="continue in a new session that starts as a copy of this one",
        hint="--at NODE --as NEW_ID",
        own=True,
        run=runs.fork,
    ),
    Command("/title", "show or set this thread's title", "[TEXT]", run=runs.title, hint="title"),
    Command(
        "/history",
        "show this thread's messages (through $PAGER or `less -FRX` when longer than the screen)",
        needs=frozenset(),
        about="show this thread's messages",
        run=runs.history,
    ),
    Command("/export", "write this thread to a new FILE, or print it", "[md|json] [FILE]", complete=("md", "json")),
    Command(
        "/remember",
        "remember TEXT in every thread from now on (chat memory lists what is kept)",
        "TEXT",
        hint="text",
        run=runs.remember,
    ),
    Command(
        "/memory",
        "what chat remembers for you (sent with every question); forget ID forgets one; edit: all in $EDITOR",
        "[forget ID|edit]",
        complete=("forget", "edit"),
        about="what chat remembers for you (sent with every question); forget ID forgets one",
        hint="forget ID",
        run=runs.memory,
    ),
    Command(
        "/plugin",
        "Claude Code's plugins: list; marketplace add SOURCE (list, update, remove NAME); install NAME@MARKET (shown "
        "first, kept with --yes); update, enable, disable or uninstall NAME@MARKET",
        "[VERB] [ARGS]",
        needs=frozenset(),
        complete=("marketplace", "install", "update", "uninstall", "enable", "disable", "list"),
        about="add marketplaces, install and list Claude Code's plugins",
        hint="list, or install NAME@MARKETPLACE",
        run=runs.plugin,
    ),
    Command("/help", "list the commands", needs=frozenset(), needs_thread=False),
    Command("/tools", "the MCP servers and built-in tools of this session, their state and tools"),
    Command(
        "/skills",
        "the skills in effect here (/NAME runs one), where each came from, and those not offered: why",
        own=True,
        run=runs.skills,
    ),
    Command(
        "/edit",
        "write your next message in $VISUAL or $EDITOR (as Ctrl-X Ctrl-E does); N: edit question N of /tree and "
        "answer it on a new branch",
        "[TEXT|N]",
        needs=frozenset(),
        needs_thread=False,
    ),
    # /bye: Ollama's
    Command("/exit", "leave (same as Ctrl-D)", needs=frozenset(), needs_thread=False, aliases=("/quit", "/bye")),
)


class Commands:
    """The command registry of one ``Chat`` (its own copy of ``DEFINED``: ``add`` changes this chat's alone)."""

    def __init__(self, defined: Iterable[Command] = DEFINED) -> None:
        self.by_name: dict[str, Command] = {}  # every name and alias -> its command
        for command in defined:
            self.add(command)

    def add(self, command: Command) -> None:
        """Add (or replace) ``command``, under its name and aliases."""
        for key in (command.name, *command.aliases):
            self.by_name[key] = command

    def __iter__(self) -> Iterator[Command]:
        """Every command once, in the order defined."""
        return iter({id(c): c for c in self.by_name.values()}.values())

    def listed(self) -> list[Command]:
        """Every command once, by name (/help and Tab list them so)."""
        return sorted(self, key=lambda c: c.name)

    def get(self, name: str, toolbox: HasServers | None = None) -> Command | None:
        """The command of this exact name or alias ("/retry"; an MCP prompt's, ``/mcp__SERVER__PROMPT``; a skill of
        ``toolbox``'s), or None."""
        from chatcli.tools.listing import PREFIX

        if name.startswith(PREFIX):
            return _prompt(name)
        return self.by_name.get(name) or next((c for c in self.skills(toolbox) if c.name == name), None)

    def prompts(self, toolbox: HasServers | None) -> list[Command]:
        """The MCP servers' prompts ``toolbox`` knows (none before their servers are listed), as commands."""
        from chatcli.tools.context import prompts

        return [
            _prompt(p.command, p.description or f"the prompt {p.name} of MCP server {p.server}", p.synopsis)
            for p in prompts(toolbox)
        ]

    def skills(self, toolbox: HasServers | None) -> list[Command]:
        """The skills and command files of ``toolbox``'s session as commands (``/NAME [ARGS]``); a name of chat's own
        commands stays theirs."""
        found = runs.skills_of(toolbox).skills
        return [_skill(skill) for skill in found if f"/{skill.name}" not in self.by_name]

    def find(self, line: str, toolbox: HasServers | None = None) -> tuple[Command, str]:
        """The command a line names (any case but an MCP prompt's; a skill of ``toolbox``'s) and the text after it,
        or a UsageError: a project's skill that waits for ``chat trust`` says so, another name has a suggestion."""
        name, *rest = check_utf8(line, "the command").strip().split(None, 1)
        found = self.get(name, toolbox) or self.by_name.get(name.lower())
        if found is None:
            import difflib

            untrusted(name, toolbox)
            close = difflib.get_close_matches(name.lower(), list(self.by_name), n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]}? " if close else "") + "/help lists commands; //text sends /text"
            raise UsageError(f"unknown command {name[:40]}", hint=hint)
        arg = rest[0].strip() if rest else ""
        if arg and not found.args:
            raise UsageError(f"{found.name} takes no argument")
        return found, arg

    def invoked(self, line: str, toolbox: HasServers | None) -> tuple[Command, str] | None:
        """The skill or command file a one-shot's question names (``/NAME ARGS``, run as at the prompt) and the text
        after it; None when it names neither (the question is asked as it is); a UsageError when it names a
        project's that waits for ``chat trust``."""
        name, *rest = line.strip().split(None, 1)
        found = next((command for command in self.skills(toolbox) if command.name == name), None)
        if found is None:
            untrusted(name, toolbox)
        return None if found is None else (found, rest[0].strip() if rest else "")

    def offered(self, can: Abilities, toolbox: HasServers | None = None) -> list[Command]:
        """The commands a client (an editor, serve's) is offered on a thread that can do ``can``, in the order
        defined, then the prompts of its ``toolbox``'s MCP servers and its skills."""
        every = [*self, *self.prompts(toolbox), *self.skills(toolbox)]
        return [c for c in every if c.run is not None and c.wants(editor=True) <= can.abilities]

    def refusal(self, command: Command, can: Abilities, *, editor: bool = False) -> UsageError | None:
        """Why ``command`` does not run on a thread that can do ``can`` (None: it runs), at the prompt or in an
        editor."""
        missing = command.wants(editor=editor) - can.abilities
        if Ability.PROMPT in missing:
            return UsageError(f"{command.name} is chat's own", hint=can.hint)
        if missing:
            return UsageError(f"{command.name} is not available on {can.where}'s thread", hint="/help lists commands")
        return None


def _prompt(name: str, about: str = "an MCP prompt", synopsis: str = "[ARGS]") -> Command:
    """The command of an MCP server's prompt ``name`` (``/mcp__SERVER__PROMPT``, its arguments ``synopsis``: any, for
    a prompt not listed yet): what it gives is asked, at any door (tools off: an unknown command)."""
    run = functools.partial(runs.mcp_prompt, name)
    return Command(name, about, synopsis, frozenset(), run=run, hint=synopsis or None, answers=True)


def _skill(skill: Skill) -> Command:
    """The command of ``skill`` (or of a command file): its instructions and the arguments given are asked, at any
    door."""
    run, hint = functools.partial(runs.skill, skill.name), getattr(skill, "hint", "")
    about, synopsis = skill.description, hint or "[ARGS]"
    return Command(f"/{skill.name}", about, synopsis, frozenset(), run=run, hint=hint or "arguments", answers=True)


def untrusted(name: str, toolbox: HasServers | None) -> None:
    """A UsageError when ``name`` (``/NAME``) is a project's skill or command file that waits for ``chat trust``."""
    waiting = next((s for s in runs.skills_of(toolbox).untrusted if f"/{s.name}" == name), None)
    if waiting is not None:
        hint = "run chat trust in the project: it shows the files, then asks"
        raise UsageError(f"{name[:60]} is this project's {waiting.kind}, not offered until you trust it", hint=hint)


async def run_offered(chat: Service, thread: Thread, command: Command, arg: str) -> TurnResult | Said:
    """Run ``command`` (with the text after it, ``arg``) where a client runs it (an editor, serve's): refused in one
    line where the thread cannot do what it needs there, or where it is the prompt's only."""
    if (refused := chat.commands().refusal(command, thread.can, editor=True)) is not None:
        raise refused
    if command.run is None:
        raise UsageError(f"{command.name} is run at chat's prompt only", hint="chat -t ID opens the thread there")
    return await command.run(chat, thread, arg)

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
import re
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


def table(text: str) -> tuple[Command, ...]:
    """The commands ``text`` defines, in its order: each a line ``/NAME ARGS | WORDS | HINT``, then its help, then
    after `` = `` what a client is told (its help when none). WORDS: ``own``; ``any``: it needs nothing of the thread;
    ``first``: it runs before the thread is open (so needs nothing); ``answers``; ``run:NAME``, its handler in
    chatcli.service.command_runs; ``complete:KIND``; ``words:A,B``, the fixed words it completes; ``alias:/A,/B``.
    No HINT: a client is told it takes no input."""
    return tuple(_row(block) for block in re.split(r"\n(?=/)", text.strip()))


def _row(block: str) -> Command:
    """The command of one block of ``table``'s text."""
    lines = block.splitlines()  # the head's lines start the line, the help's are indented
    usage, flags, hint = (" ".join(line for line in lines if line[0] != " ") + " |  | ").split(" | ")[:3]
    name, _, args = usage.partition(" ")
    help, _, about = " ".join(line.strip() for line in lines if line[0] == " ").partition(" = ")
    said = dict(word.partition(":")[::2] for word in flags.split())
    if unknown := said.keys() - {"own", "any", "first", "answers", "run", "complete", "words", "alias"}:
        raise ValueError(f"{name}: no such word in the command table: {', '.join(sorted(unknown))}")  # a typo in it
    needs = frozenset() if said.keys() & {"any", "first"} else KEPT
    complete = said.get("complete") or tuple(filter(None, said.get("words", "").split(",")))
    run = getattr(runs, said["run"]) if "run" in said else None
    aliases = tuple(filter(None, said.get("alias", "").split(",")))
    own, answers, needs_thread = "own" in said, "answers" in said, "first" not in said
    return Command(name, help, args, needs, needs_thread, complete, aliases, run, about, hint or None, own, answers)


# Every command chat has, once. Those an editor is offered come in the order the editor lists them. /bg needs nothing:
# an Agent Server's background reply is the server's own run. /bye is Ollama's.
DEFINED = table(
    """
/compact [FOCUS] | own run:compact | focus
    fold every turn but the last into a summary sent in their place; FOCUS says what it must keep
    = fold the earlier turns into a summary (what is sent shrinks; nothing is lost)
/summary [edit] | own run:summary words:edit
    show what is sent in place of the earlier turns; edit: correct it in $VISUAL or $EDITOR
    = show the summary sent in place of the earlier turns
/pin [N] | own run:pin | turn number
    always send turn N (the last by default) whole, through any compaction
/unpin [N] | own run:unpin | turn number
    let turn N (the last by default) be folded into the summary again
/model [NAME] | own run:model complete:models | model name
    show or switch the model: NAME or provider:NAME (Tab offers them)
    = answer with another model from the next message on
/role [NAME] | own run:role complete:roles | role name
    set this thread up with a role (its prompt, model, temperature); alone: show the role
/system [TEXT] | own run:system | system prompt
    show, or set from now on, this thread's system prompt
/retry | any answers run:retry
    answer the last message again, replacing the answer
    = answer the last question again
/bg QUESTION | any run:background | question
    ask QUESTION on this thread in the background: the prompt is free at once, and says here when it ends
    (Ctrl-B moves a reply that is streaming there)
    = ask a question in the background: free at once; chat jobs lists it, chat attach follows it
/undo | any run:undo
    take back the last exchange (your message, its tool calls and its answer), or a /compact made since
    = take back the last exchange
/tree [all] | any run:tree words:all
    draw this thread's tree: every question asked and answer had, the branch it is on marked; all: unfold it
    = show every question and answer this thread had, as a tree
/goto NODE | any run:goto | node number or label
    move the thread to node NODE of /tree (its number or label): the next question goes on from there
    = move the thread to another node of its tree (nothing is lost)
/label NAME | any run:label | label
    name the node the thread is on (/goto NAME comes back to it)
    = name the node the thread is on
/copy [N] | any
    copy the last answer, or its N-th code block, to the clipboard
/think [on|off] | run:think words:on,off
    show the last answer's thinking in full; on/off: show thinking in full as it comes
    = show the last answer's thinking in full
/usage | any run:usage
    tokens used by this thread's answers, and what they cost
/status [on|off] | any words:on,off
    print the status line (the model, the thread, the room left under spending limits); on/off: keep it at the
    bottom of the prompt
/attach [FILE|URL|--clear] | complete:files
    send FILE (an image or a text file) or the web page at URL with your next message; alone: list the queue;
    --clear: empty it
/new [NAME] | alias:/clear
    start a new thread (under NAME, even one like an existing id)
/threads [N] | any
    list the N most recent threads (default 20)
/switch ID | any complete:threads
    continue another thread (its id, or the start of a generated one; a new name starts a thread)
/fork [--at NODE] [--as NEW_ID] | own run:fork | --at NODE --as NEW_ID
    continue in a new thread that starts as a copy of this one (to node NODE of /tree; under the id NEW_ID)
    = continue in a new session that starts as a copy of this one
/title [TEXT] | run:title | title
    show or set this thread's title
/history | any run:history
    show this thread's messages (through $PAGER or `less -FRX` when longer than the screen)
    = show this thread's messages
/export [md|json] [FILE] | words:md,json
    write this thread to a new FILE, or print it
/remember TEXT | run:remember | text
    remember TEXT in every thread from now on (chat memory lists what is kept)
/memory [forget ID|edit] | run:memory words:forget,edit | forget ID
    what chat remembers for you (sent with every question); forget ID forgets one; edit: all in $EDITOR
    = what chat remembers for you (sent with every question); forget ID forgets one
/plugin [VERB] [ARGS] | any run:plugin words:marketplace,install,update,uninstall,enable,disable,list
| list, or install NAME@MARKETPLACE
    Claude Code's plugins: list; marketplace add SOURCE (list, update, remove NAME); install NAME@MARKET (shown
    first, kept with --yes); update, enable, disable or uninstall NAME@MARKET
    = add marketplaces, install and list Claude Code's plugins
/help | first
    list the commands
/tools
    the MCP servers and built-in tools of this session, their state and tools
/skills | own run:skills
    the skills in effect here (/NAME runs one), where each came from, and those not offered: why
/edit [TEXT|N] | first
    write your next message in $VISUAL or $EDITOR (as Ctrl-X Ctrl-E does); N: edit question N of /tree and
    answer it on a new branch
/exit | first alias:/quit,/bye
    leave (same as Ctrl-D)
"""
)


class Commands:
    """The command registry of one ``Chat`` (its own copy of ``DEFINED``: ``add`` changes this chat's alone)."""

    def __init__(self, defined: Iterable[Command] = DEFINED) -> None:
        self.by_name: dict[str, Command] = {}  # every name and alias -> its command
        for command in defined:
            self.add(command)

    def add(self, command: Command) -> None:
        """Add (or replace) ``command``, under its name and aliases."""
        self.by_name |= dict.fromkeys((command.name, *command.aliases), command)

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
        return [_skill(skill) for skill in runs.skills_of(toolbox).skills if f"/{skill.name}" not in self.by_name]

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
        name, *rest = line.split(None, 1)
        if (found := next((command for command in self.skills(toolbox) if command.name == name), None)) is None:
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

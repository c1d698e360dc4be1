"""What chat's commands do: one handler a command, run on a ``Thread`` alike at every door, giving data (the turn it
ran, or what it ``Said``) that the prompt (chatcli.ui.commands), an editor (chatcli.editor) and ``chat serve``
(chatcli.api) only render. The commands are defined in chatcli.service.commands; what only a terminal does (/copy,
/edit, /status...) is the prompt's own."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Container, Mapping, Protocol, cast

from chatcli.backends.own.mentions import SERVER_WAIT as SERVER_WAIT  # (an MCP prompt waits as a mention does)
from chatcli.config import Settings
from chatcli.core.events import Notice
from chatcli.errors import UsageError
from chatcli.service.outcome import cost_part
from chatcli.text import counted, local_time, make_title, neutralise

if TYPE_CHECKING:
    from chatcli.core.events import Compacted, TurnResult
    from chatcli.service.jobs import Job
    from chatcli.service.recall import SummaryView
    from chatcli.service.thread import Thread
    from chatcli.threads.operations import Threads
    from chatcli.threads.tree import Node
    from chatcli.tools.skills import Found


class Service(Protocol):
    """What a command asks of the chat it runs in (chatcli.service.chat.Chat)."""

    settings: Settings
    environ: Mapping[str, str]

    def threads(self) -> Any: ...

    def commands(self) -> Any: ...


class Data(str):
    """A line a command gives as its data (a model's name, a summary, a tree): on stdout at the prompt, where the other
    lines it says are notes."""


@dataclass(frozen=True)
class Said:
    """What a command that runs no turn did: its lines, in order (``Data`` among them), and what a door may act on
    besides: the model it chose, the thread it forked, the background reply it started, what it did as one object
    (``data``: a script's, serve's)."""

    lines: tuple[str, ...]
    model: str | None = None
    forked: str | None = None
    job: Job | None = None
    data: dict[str, Any] | None = None

    @property
    def line(self) -> str:
        """Everything it said, as one text (an editor's message, serve's ``said``)."""
        return "\n".join(self.lines)


Run = Callable[[Service, "Thread", str], Awaitable["TurnResult | Said"]]


async def retry(chat: Service, thread: Thread, arg: str) -> TurnResult:
    if (question := await thread.recall.last_question()) is None:
        raise UsageError("nothing to retry: this thread has no message yet")
    thread.listener.hear(Notice(f"retrying: {make_title(question)}"))
    before = (await thread.tree()).current
    result = await thread.retry()
    if before is not None:
        kept = f"the answer it had is kept as node {before}: /goto {before} brings it back, /tree shows both"
        thread.listener.hear(Notice(kept))
    return result


async def background(chat: Service, thread: Thread, arg: str) -> Said:
    """/bg QUESTION: the question asked on this thread by a background reply (chat --bg), started where this door
    runs, with its environment; the door is free at once."""
    from chatcli.service import jobs

    if not arg:
        raise UsageError("/bg QUESTION: give the question to answer in the background")
    job = jobs.ask_in_background(thread, arg, chat.settings, chat.environ)
    started = f"answering in the background as job {job.id} (chat attach {job.id} follows it, chat jobs lists it)"
    return Said((f"{started}; this thread is busy until it ends",), job=job)


async def undo(chat: Service, thread: Thread, arg: str) -> Said:
    before = (await thread.tree()).current
    if (undone := await thread.undo()) is None:
        return Said(("nothing to undo",))
    if undone.compaction is not None:
        what = "the summary edit" if undone.compaction == "edit" else "the compaction"
        return Said((f"undone: {what} (the summary before it is sent again)",))
    answer = " (and its answer)" if undone.messages > 1 else ""
    kept = f"; kept as node {before}: /goto {before} brings it back" if before is not None else ""
    return Said((f"undone: {make_title(undone.question)}{answer}{kept}",))


async def model(chat: Service, thread: Thread, arg: str) -> Said:
    if not arg:
        return Said((Data(thread.model_name or chat.settings.model),))
    await thread.choose_model(arg)  # checked there: a graph's own model, a name that is none, a missing key
    return Said((f"model {arg} from the next message, kept with this thread",), model=arg)


async def compact(chat: Service, thread: Thread, arg: str) -> Said:
    """Every turn but the last folded into the summary sent in their place (``arg``: the focus), at every door: its
    lines, and what it did as ``chat compact --json`` and serve's ``compact`` give it: ``{"thread_id", "turns",
    "tokens_before", "tokens_after", "focus", "usage", "cost_usd", "summary", "summary_cut"}``."""
    from chatcli.service.json_events import usage_object

    thread.listener.hear(Notice("compacting the earlier turns..." + (f" (focus: {arg})" if arg else "")))
    memory = thread.own("memory")
    done = await memory.compact(arg or None)
    kept = "the thread keeps every message · /summary shows what is sent · /undo takes it back"
    data = dict(thread_id=thread.thread_id, turns=done.turns, tokens_before=done.before, tokens_after=done.after)
    data |= dict(focus=done.focus, usage=usage_object(done.spent), cost_usd=done.spent.known_cost)
    data |= dict(summary=(await memory.summary()).text, summary_cut=done.cut)
    return Said((compacted_line(done), kept), data=data)


def compacted_line(done: Compacted) -> str:
    """ "compacted 12 earlier turns: ~5,210 -> ~1,130 tokens sent · 3,400 in · 420 out · $0.0011", at every door: the
    estimated tokens a request sends before and after, then the summary request's usage (no budget share: the
    request was the summariser's, not a turn's)."""
    from chatcli.core.chunks import cache_counts

    usage = done.spent.usage or {}
    parts = [f"compacted {counted(done.turns, 'earlier turn')}: ~{done.before:,} -> ~{done.after:,} tokens sent"]
    if usage.get("input_tokens") is not None:
        cached = f" ({read:,} cached)" if (read := cache_counts(usage)[0]) else ""
        parts.append(f"{usage['input_tokens']:,} in{cached} · {usage.get('output_tokens') or 0:,} out")
    if price := cost_part(done.spent):
        parts.append(price)
    if done.cut:
        from chatcli.backends.own.compaction import CUT_NOTE

        parts.append(CUT_NOTE)
    return " · ".join(parts)


async def summary(chat: Service, thread: Thread, arg: str) -> Said:
    """/summary: what is sent in place of the earlier turns (/summary edit is the prompt's: an editor in a terminal)."""
    if arg:
        raise UsageError("/summary edit is run at chat's prompt only" if arg == "edit" else SUMMARY_ARGS)
    view = await thread.own("memory").summary()
    pinned = f"turn{'s' if len(view.pinned) > 1 else ''} {', '.join(map(str, view.pinned))}"
    pins = [f"pinned, always sent whole: {pinned}"] if view.pinned else []
    if not view.text:
        whole = f"all {counted(view.turns, 'turn')} are sent as they are" if view.turns else "no turn yet"
        return Said((f"no summary: {whole} (within the budget) · /compact makes one", *pins))
    folded = "turn 1" if view.covers == 1 else f"turns 1-{view.covers}"
    first = ["turn 1 (the first question) is sent whole beside it"] if view.first_whole else []
    return Said((f"sent in place of {folded} of {view.turns}{_made(view)}", Data(view.text), *first, *pins))


def _made(view: SummaryView) -> str:
    """How and when the summary was made, after its line: " · made by /compact at 2026-11-24 10:02 UTC, focus: the
    API" ("" when not known)."""
    made = view.made or {}
    ways = {"compact": "by /compact", "auto": "automatically", "edit": "by hand (/summary edit)"}
    how = ways.get(made.get("kind", ""))
    at = f"at {str(made['at'])[:16].replace('T', ' ')} UTC" if made.get("at") else ""
    said = " ".join(filter(None, (how, at)))
    focus = f", focus: {made['focus']}" if made.get("focus") else ""
    return f" · made {said}{focus}" if said else ""


async def fork(chat: Service, thread: Thread, arg: str) -> Said:
    """/fork [--at NODE] [--as NEW_ID]: a new thread (NEW_ID, else a new id) holding the branch of this one that ends
    at node NODE of its tree (the node it is on by default); the door goes on there as it goes."""
    import shlex

    try:
        words = shlex.split(arg)
    except ValueError:  # a quote left open: refused below
        words = [arg]
    given = dict(zip(words[::2], words[1::2]))
    if len(words) % 2 or not given.keys() <= {"--at", "--as"}:
        raise UsageError("/fork takes --at NODE and --as NEW_ID, or nothing")
    if (current := (await thread.tree()).current) is None:
        raise UsageError("nothing to fork: this thread is empty")
    at = given.get("--at", str(current))
    new_id = await cast("Threads", chat.threads()).fork(thread.thread_id, at, given.get("--as"))  # (a kept thread's)
    return Said((f"forked {thread.thread_id} at node {at} into thread {new_id} (chat -t {new_id})",), forked=new_id)


async def tree(chat: Service, thread: Thread, arg: str) -> Said:
    from chatcli.threads.tree import draw

    if arg not in ("", "all"):
        raise UsageError("/tree takes all, or nothing")
    drawn = await thread.tree()
    width = shutil.get_terminal_size((100, 24)).columns
    lines: list[str] = [Data(line) for line in draw(drawn, width=width, unfold=arg == "all")]
    if len(drawn.nodes) > 1:
        lines.append("/goto N moves the thread to node N (nothing is lost); /label NAME names the node it is on")
    return Said(tuple(lines))


async def goto(chat: Service, thread: Thread, arg: str) -> Said:
    if not arg:
        raise UsageError("/goto takes a node's number or label", hint="/tree shows them")
    before = (await thread.tree()).current
    node = await thread.goto(arg)
    where = "already on" if node.number == before else "on"
    left = f"; node {before} is where you were (/goto {before})" if before not in (None, node.number) else ""
    return Said((f"{where} node {node.number}: {_described(node)}{left}",))


async def label(chat: Service, thread: Thread, arg: str) -> Said:
    if not arg:
        raise UsageError("/label takes a name", hint="/tree shows the labels given")
    node = await thread.label(arg)
    return Said((f"node {node.number} is {arg} (/goto {arg} goes back to it): {_described(node)}",))


def _described(node: Node) -> str:
    """A node in a few words: its question's start and its answer's."""
    answer = make_title(node.answer) if node.answer else "(no answer)"
    return f"{make_title(node.question)} -> {answer}"


async def mcp_prompt(name: str, chat: Service, thread: Thread, arg: str) -> TurnResult:
    """``/mcp__SERVER__PROMPT ARGS``: the MCP prompt filled with its arguments (in order, or ``name=value``), what it
    gives sent as the question (a resource its text mentions is not read)."""
    from chatcli.tools.context import prompt_question

    toolbox = thread.toolbox
    if toolbox is None:
        raise UsageError(f"unknown command {name[:60]}: tools are off for this session")
    await toolbox.settle(SERVER_WAIT)
    return await thread.send(await prompt_question(toolbox, f"{name} {arg}"), title=f"{name} {arg}".strip())


def skills_of(toolbox: Any) -> Found:
    """The skills of a session's ``toolbox`` (none without one: tools are off)."""
    from chatcli.tools.skills import Found

    host = getattr(toolbox, "host", None)
    return host.skills if host is not None else Found()


async def skill(name: str, chat: Service, thread: Thread, arg: str) -> TurnResult:
    """``/NAME ARGS``: the skill's instructions (as the model's activation gives them) and the arguments, asked; a
    command file's question (chatcli.tools.command_files), asked with its model where that can answer."""
    from chatcli.tools.command_files import CommandFile, question

    host, model = getattr(thread.toolbox, "host", None), None
    try:
        if host is None:
            raise ValueError(f"no skill is called {name!r}: tools are off")
        if isinstance(command := host.skills.get(name), CommandFile):
            text, unread = await asyncio.to_thread(question, command, arg, Path(host.workdir or os.getcwd()))
            for line in unread:
                thread.listener.hear(Notice(line, warn=True))
            model = turn_model(thread, command.model)
        else:
            text = await host.activate(name)  # (one an MCP server serves: fetched from it and checked)
            text = f"{text}\n\n{arg}" if arg else text
    except ValueError as exc:
        raise UsageError(str(exc), hint="/skills lists them") from None
    return await thread.send(text, title=f"/{name} {arg}".strip(), model=model)


def turn_model(thread: Thread, name: str) -> str | None:
    """The model a command file names for its turn (Claude Code's ``sonnet``, ``opus``, ``haiku`` as
    chatcli.tools.agents.ALIASES reads them) when it can answer this thread; else (said) None: the thread's, as for
    ``inherit``."""
    from chatcli.service.thread import check_model
    from chatcli.tools.agents import ALIASES

    if not name or name == "inherit":
        return None
    try:
        check_model(thread.settings, thread.can, ALIASES.get(name, name))
    except UsageError as exc:
        thread.listener.hear(Notice(f"the command's model {name} cannot answer here: {exc.message}", warn=True))
        return None
    return ALIASES.get(name, name)


async def skills(chat: Service, thread: Thread, arg: str) -> Said:
    """/skills: the skills in effect for this thread's tools, as ``chat skills`` lists them."""
    return Said(tuple(skill_lines(skills_of(thread.toolbox), chat.commands().by_name)))


async def plugin(chat: Service, thread: Thread, arg: str) -> Said:
    """/plugin: ``chat plugin``'s verbs; install and update show what the plugin runs, and keep it with --yes. What a
    plugin brings is in effect from the next session."""
    from chatcli.tools.plugins import act

    words, shown = arg.split(), []
    yes = not {"--yes", "-y"}.isdisjoint(words)

    def accept(lines: list[str]) -> bool:
        shown.extend(lines)
        return yes

    said = await asyncio.to_thread(act, [w for w in words if w not in ("--yes", "-y")], accept, chat.environ)
    return Said(tuple(neutralise(line) for line in [*shown, *said]))


def skill_lines(found: Found, taken: Container[str]) -> list[str]:
    """Each skill and command file offered (its name, description and file; a name of chat's own ``taken`` commands
    is said), then those a nearer one shadows, a project's not trusted, each problem and note: control characters made
    visible."""
    lines: list[str] = []
    for s in found.skills:
        how = "" if s.model_may_activate else f" (yours to run as /{s.name} only)"
        clash = f" (/{s.name} is chat's own command: it stays chat's)" if f"/{s.name}" in taken else ""
        lines.append(Data(neutralise(f"{s.name}  {s.description}  {s.where}{how}{clash}")))
    lines += [neutralise(f"shadowed by a nearer skill of its name: {s.path}") for s in found.shadowed]
    lines += [neutralise(f"untrusted, not offered until chat trust runs there: {s.path}") for s in found.untrusted]
    lines += [neutralise(problem) for problem in (*found.problems, *found.notes)]
    none = "no skills: a folder NAME with a SKILL.md in .agents/skills or .claude/skills adds one, and a NAME.md in "
    return lines or [none + ".claude/commands the command /NAME"]


async def usage(chat: Service, thread: Thread, arg: str) -> Said:
    """/usage: the tokens this thread's answers used and what they cost; the room left under the spending limits."""
    from chatcli.backends.own.pricing import dollars
    from chatcli.service.limits import limit_lines

    totals = await thread.recall.usage_totals()
    used, answers = totals.used, totals.answers
    cost = f" · {dollars(used.cost_usd)}" if used.cost_usd is not None else ""
    cached = f" ({used.cache[0]:,} cached)" if used.cache[0] else ""
    tokens = f"{used.input_tokens:,} tokens in{cached} · {used.output_tokens:,} out{cost}"
    lines: list[str] = [Data(f"{counted(totals.turns, 'turn')} · {tokens}")]
    if totals.uncounted:
        lines.append(f"{totals.uncounted} of {answers} answers came without token counts")
    unpriced = (
        (used.unpriced - used.local, "have no known price", "add one"),
        (used.local, "are from a local model, not priced", "price it"),
    )
    for count, what, prices in unpriced:  # said, never guessed: the sum above leaves them out
        if count > 0:
            lines.append(f"{count} of {answers} answers {what} (not in the dollars; config.toml [prices] can {prices})")
    standing = await thread.spending()
    lines += [Data(line) if standing.kept else line for line in limit_lines(standing)]
    return Said(tuple(lines))


async def system(chat: Service, thread: Thread, arg: str) -> Said:
    prompt = thread.own("system")
    if arg:
        await prompt.replace_system(arg)
        return Said(("system prompt set for this thread",))
    current = await prompt.system_prompt()
    return Said((Data(current),) if current else (Data(thread.settings.system), "(the default system prompt)"))


async def role(chat: Service, thread: Thread, arg: str) -> Said:
    from chatcli.backends.own.roles import load_role, role_names

    roles = Path(thread.settings.roles_dir or "")
    if not arg:
        current = await thread.prompt.role() if thread.prompt is not None else None  # (a graph's thread has none)
        known = ", ".join(role_names(roles)) or "none yet"
        return Said((Data(current or "(no role)"), f"roles: {known} · /role NAME sets one"))
    chosen = load_role(roles, arg)
    await thread.own("roles").set_role(chosen)  # the same as chat --role: kept with the thread
    model = f"model {chosen.model}" if chosen.model else f"model {thread.model_name} (the default)"
    temperature = f" · temperature {chosen.temperature}" if chosen.temperature is not None else ""
    return Said((f"role {chosen.name} from the next message · {model}{temperature}",), model=chosen.model)


async def pin(chat: Service, thread: Thread, arg: str, on: bool = True) -> Said:
    """/pin N, /unpin N: turn N (the last by default) always sent whole, or folded into the summary again."""
    name = "/pin" if on else "/unpin"
    if arg and not arg.isdigit():
        raise UsageError(f"{name} takes a turn number (1 is the first question), or nothing for the last turn")
    number = await thread.own("memory").pin(int(arg) if arg else None, on=on)
    done = "pinned: its question, what it attached and its answer are always sent whole" if on else "unpinned"
    return Said((f"turn {number} {done}",))


unpin = functools.partial(pin, on=False)


async def title(chat: Service, thread: Thread, arg: str) -> Said:
    if not arg:
        info = await thread.threads().info(thread.thread_id)
        named = info.title if info and info.title else "(no title yet: the first message names the thread)"
        return Said((Data(named),))
    if not await thread.messages():
        raise UsageError("nothing to title yet: this thread is empty")
    await cast("Threads", thread.threads()).rename(thread.thread_id, arg)  # a thread chat keeps (the command's needs)
    return Said(("title set",))


async def history(chat: Service, thread: Thread, arg: str) -> Said:
    """/history: the thread's messages as Markdown, known credentials masked (the prompt pages its own rendering)."""
    from chatcli.threads.operations import transcript_markdown

    if not await thread.messages():
        return Said(("this thread is empty",))
    return Said((Data(transcript_markdown(await chat.threads().shown(thread.thread_id)).rstrip("\n")),))


async def think(chat: Service, thread: Thread, arg: str) -> Said:
    """/think: the last answer's thinking in full (/think on and off are the prompt's: how it shows thinking)."""
    if arg:
        raise UsageError(f"/think {arg} is run at chat's prompt only" if arg in ("on", "off") else THINK_ARGS)
    if (thinking := await thread.recall.last_thinking()) is None:
        return Said(("no thinking in this thread yet (only reasoning models think aloud)",))
    return Said((Data(thinking),))


THINK_ARGS, SUMMARY_ARGS = "/think takes on, off, or nothing", "/summary takes edit, or nothing"


async def remember(chat: Service, thread: Thread, arg: str) -> Said:
    from chatcli.store.memories import MemoryRefused

    try:
        memory = await thread.memories().add(arg, "prompt")
    except MemoryRefused as exc:
        raise UsageError(str(exc), hint="/remember I prefer metric units") from None
    return Said((f"remembered ({memory.id}): {neutralise(memory.text)} · /memory lists what is kept",))


async def memory(chat: Service, thread: Thread, arg: str) -> Said:
    """/memory: what chat remembers for you; /memory forget ID forgets one (/memory edit is the prompt's)."""
    word, _, rest = arg.partition(" ")
    book = thread.memories()
    if word == "forget":
        if not rest.strip():
            raise UsageError("/memory forget ID: name the memory (/memory lists them)")
        if not await book.forget(rest.strip()):
            raise UsageError(f"no memory {rest.strip()!r}", hint="/memory lists them, with their ids")
        return Said((f"forgot {rest.strip()}",))
    if word:
        raise UsageError("/memory edit is run at chat's prompt only" if word == "edit" else MEMORY_ARGS)
    if not (memories := await book.all()):
        return Said(("nothing remembered yet: /remember TEXT keeps something for every thread",))
    lines: list[str] = [Data(f"{m.id}  {local_time(m.created_at)}  {neutralise(m.text)}") for m in memories]
    off = ["memories are off for this run (--no-memory, or memories = false): none is sent"]
    return Said(tuple(lines + ([] if thread.settings.memories else off)))


MEMORY_ARGS = "/memory takes forget ID, edit, or nothing"

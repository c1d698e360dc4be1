"""chat's own tools, off unless the user turns them on (``--tools shell,files``).

``shell`` runs one command in the current directory and returns its output and exit code;
``files`` reads a file or lists a directory. Nothing here runs unless the call was approved
(chatcli.backends.own.graph asks first); a stopped call takes the shell command's whole process
group down with it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
from asyncio.subprocess import DEVNULL
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from chatcli.provider_table import withheld_prefixes
from chatcli.tools import sandbox

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import ArgsSchema, StructuredTool

    from chatcli.tools.agents import Found as Subagents
    from chatcli.tools.skills import Found

# Built-in groups and the tools each one turns on.
GROUPS = {"shell": ("shell",), "files": ("read_file", "list_directory"), "memory": ("remember",)}
GROUPS |= {"skills": ("activate_skill",), "agents": ("Agent",)}
# Each built-in tool as Claude Code names the tool of the same purpose: what hooks and skills written for Claude Code
# match and read (chatcli.tools.hooks, ``allowed-tools`` in chatcli.tools.skills), with its input in that tool's shape
# (``peer_input``). ``remember`` has no peer: it keeps its name.
PEERS = {"shell": "Bash", "read_file": "Read", "list_directory": "Glob", "activate_skill": "Skill"}
# The group offered beside the others while memories are on (chatcli.core.memories): only on a turn whose question
# asks to remember something (``asks_to_remember``).
MEMORY = "memory"
# The group on wherever skills are found (chatcli.tools.skills): its tool only reads a skill's own files.
SKILLS = "skills"
# The group on wherever subagents are found (chatcli.tools.agents): its tool, Claude Code's ``Agent``, delegates a task.
AGENTS = "agents"
SERVER = "builtin"
# The argument the toolbox gives the built-in shell: the id of the call it runs for (chatcli.tools.toolbox).
CALL_ID = "call_id"
# The most output a command or a file read keeps (the model gets less: see tool_result_chars).
MAX_OUTPUT = 1024 * 1024
# Seconds to wait, once the shell has exited, for output still in the pipe.
LEFTOVER_GRACE = 0.5


def check_groups(names: tuple[str, ...]) -> tuple[str, ...]:
    """The built-in groups named, or a ConfigError for an unknown one."""
    from chatcli.errors import ConfigError

    for name in names:
        if name not in GROUPS:
            raise ConfigError(f"unknown built-in tool {name!r}", hint=f"built-in tools: {', '.join(GROUPS)}")
    return names


def _cut(data: bytes, total: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if total > len(data):
        text += f"\n[... {total - len(data):,} more bytes not read]"
    return text


async def _stop_group(process: asyncio.subprocess.Process) -> None:
    """End the command's process group: TERM, then KILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 2.0)
            return


class _Output:
    """What a command printed: the first MAX_OUTPUT bytes, and how many there were."""

    def __init__(self) -> None:
        self.kept = bytearray()
        self.total = 0

    async def collect(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            self.total += len(chunk)
            self.kept += chunk[: MAX_OUTPUT - len(self.kept)]  # nothing once full


async def _open_pipe() -> tuple[int, asyncio.StreamReader, asyncio.BaseTransport]:
    """A pipe whose write end the command gets and whose read end chat owns (and closes, whatever holds the other)."""
    read_fd, write_fd = os.pipe()
    reader, pipe, loop = asyncio.StreamReader(), os.fdopen(read_fd, "rb", 0), asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return write_fd, reader, transport


async def _finish(process: asyncio.subprocess.Process, reading: asyncio.Task[None]) -> str:
    """After the shell exited: the rest of its output, and a note if something it left behind held the pipe."""
    for stop in (False, True):
        done, _ = await asyncio.wait({reading}, timeout=LEFTOVER_GRACE)
        if done:
            return "[what the command left running in the background was stopped]" if stop else ""
        with suppress(ProcessLookupError, PermissionError):  # its background jobs share its process group
            os.killpg(process.pid, signal.SIGKILL)  # (a sandbox's end with the shell anyway)
    return "[a process the command started in a session of its own is still running: its later output is not read]"


# What a command the model wrote never gets (its output goes back to the model, and it may run
# chat itself): chat's own settings, every model provider's variables, anything whose name holds a
# credential's word (codex's default shell policy drops KEY, SECRET and TOKEN; AUTH, PASSWORD and
# CREDENTIAL too here: NPM_CONFIG__AUTH, DOCKER_AUTH_CONFIG), and any value carrying a URL's password
# (DATABASE_URL=postgres://u:PASS@h/db). Matched on the upper-cased name; the user's ``shell_env`` passes names.
WITHHELD_PREFIXES = ("CHATCLI_", "_CHAT_", *withheld_prefixes())
CREDENTIAL_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "_PAT", "PGPASS", "NETRC")
# Names that only spell such a word inside another one: git's author, the keyboard's layout.
NOT_CREDENTIAL = re.compile(r"AUTHOR|KEYBOARD|KEYMAP")
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@:]*:[^/\s@]+@|[?&]password=", re.I)


def withheld(name: str, value: str = "", passed: tuple[str, ...] = ()) -> bool:
    """True for a variable a command must not see (see CREDENTIAL_WORDS), unless the user ``passed`` its name."""
    if name in passed:
        return False
    upper = name.upper()
    if upper.startswith(WITHHELD_PREFIXES) or URL_PASSWORD.search(value):
        return True
    plain = NOT_CREDENTIAL.sub("", upper)
    return any(word in plain for word in CREDENTIAL_WORDS)


def command_environment(passed: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment a shell command runs with: the user's, without chat's own settings and credentials."""
    return {k: v for k, v in os.environ.items() if not withheld(k, v, passed)}


async def run_shell(command: str, policy: sandbox.Policy | None = None, workdir: Path | None = None) -> str:
    """Run ``command`` with /bin/sh in ``workdir`` (the current directory if None), under ``policy`` (the
    sandbox's defaults if none); its output (stdout and stderr) and exit code.

    The result comes when the shell exits, even if something it started keeps the output open.
    """
    argv = sandbox.command_argv(command, policy if policy is not None else sandbox.Policy(), workdir)
    write_fd, reader, transport = await _open_pipe()
    output = _Output()
    try:
        try:
            env = command_environment(policy.passed if policy is not None else ())
            # start_new_session: its own process group, which a stop ends whole
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=workdir, stdin=DEVNULL, stdout=write_fd, stderr=write_fd, env=env, start_new_session=True
            )
        finally:
            os.close(write_fd)
        reading = asyncio.ensure_future(output.collect(reader))
        try:
            code = await process.wait()
            note = await _finish(process, reading)
        except BaseException:
            await asyncio.shield(_stop_group(process))
            sandbox.new_repositories(argv, workdir or Path.cwd())  # what it made before it was stopped
            raise
        finally:
            reading.cancel()
    finally:
        transport.close()
    off = await asyncio.to_thread(sandbox.new_repositories, argv, workdir or Path.cwd())
    return ran("\n".join(filter(None, (off, _cut(bytes(output.kept), output.total)))), note, code)


def ran(output: str, note: str, code: int | None, signal_name: str | None = None) -> str:
    """A command's result as the model reads it: what it printed, a note, and its exit code (or signal)."""
    text = "\n".join(part for part in (output.rstrip("\n"), note) if part)
    end = f"[exit code {code}]" if code is not None else f"[stopped by {signal_name or 'a signal'}]"
    return f"{text}\n{end}" if text else end


def resolve(path: str, workdir: Path | None = None) -> Path:
    """A path argument as an absolute path (relative ones from ``workdir``, the current directory if None)."""
    return ((workdir or Path.cwd()) / os.path.expanduser(path)).resolve()


def inside_workdir(arguments: Any, workdir: Path | None = None) -> bool:
    """True if a files call's path lies in ``workdir`` (the current directory if None) once resolved (links
    followed); False if unknown."""
    path = arguments.get("path", ".") if isinstance(arguments, dict) else None
    if not isinstance(path, str):
        return False
    here = (workdir or Path.cwd()).resolve()
    target = resolve(path, here)
    return target == here or here in target.parents


def peer_input(name: str, arguments: Any, workdir: Path | None = None) -> Any:
    """A built-in tool's ``arguments`` as Claude Code's tool of the same purpose takes them, chat's own kept beside
    (a hook written for either reads its fields): the shell's ``command`` and ``description``, a file's absolute
    ``file_path``, a listing's ``path`` and ``pattern``, a skill's ``skill`` and ``args``. Another tool's as given."""
    if name not in PEERS or not isinstance(arguments, dict):
        return arguments
    # Claude Code's fields last: a field of that name the model added (which the tool ignores) never shows a hook
    # another path or skill than the one the call acts on.
    if name == "shell":
        return {**arguments, "command": arguments.get("command", ""), "description": ""}
    if name == "activate_skill":
        return {**arguments, "skill": arguments.get("name", ""), "args": arguments.get("file", "")}
    path = arguments.get("path", ".")
    try:
        where = str(resolve(path, workdir)) if isinstance(path, str) else path
    except (OSError, ValueError):  # a path no file can have (a NUL in it): the tool says so, the hook sees it raw
        where = path
    return {**arguments, "file_path": where} if name == "read_file" else {**arguments, "pattern": "*", "path": where}


def own_input(name: str, sent: Any, updated: dict[str, Any]) -> dict[str, Any]:
    """A hook's ``updatedInput`` for a call of the built-in tool ``name`` whose input went to it as ``sent``
    (``peer_input``'s), as the tool takes it: a field of Claude Code's shape the hook changed wins over chat's own."""
    pairs = {"read_file": [("file_path", "path")], "list_directory": [("path", "path")]}
    pairs["activate_skill"] = [("skill", "name"), ("args", "file")]
    if name == "shell":  # (its description is Claude Code's note on the command, not an argument)
        return {key: value for key, value in updated.items() if key != "description"}
    if name not in pairs:
        return updated
    kept = {key: value for key, value in updated.items() if key in ("path", "name", "file")}
    for theirs, own in pairs[name]:
        if theirs in updated and (own not in kept or updated[theirs] != (sent or {}).get(theirs)):
            kept[own] = updated[theirs]
    return kept


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device"}
_KINDS |= {stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file ("a FIFO (named pipe)"), or None."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


class NotRegularFile(ValueError):
    """A path that names a directory, a FIFO, a device or a socket: ``kind`` says which."""

    def __init__(self, path: Path, kind: str):
        super().__init__(f"{path} is {kind}, not a regular file: not read")
        self.kind = kind


def open_regular(path: Path, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of the regular file at ``path`` and its size; NotRegularFile for anything else.

    Checked before opening (a FIFO would block the open, /dev/zero never ends) and again on
    the open file, non-blocking, in case the path was swapped in between.
    """
    if (kind := not_regular(os.stat(path).st_mode)) is None:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if (kind := not_regular(info.st_mode)) is None:
                os.set_blocking(fd, True)
                data = handle.read(limit)
                return data, max(info.st_size, len(data))
    raise NotRegularFile(path, kind)


def _read_text(target: Path) -> str:
    """The text of the file at ``target`` (at most 1 MB of it); anything but a regular file is refused."""
    try:
        data, size = open_regular(target, MAX_OUTPUT)
    except NotRegularFile as exc:
        from langchain_core.tools import ToolException

        raise ToolException(f"error: {exc}") from None
    return _cut(data, size)


def _listing(target: Path) -> str:
    """The entries of the directory at ``target``: a trailing / marks directories."""
    names = sorted(target.iterdir(), key=lambda p: p.name)
    lines = [p.name + ("/" if p.is_dir() else "") for p in names[:2000]]
    if len(names) > 2000:
        lines.append(f"[... {len(names) - 2000} more entries]")
    return "\n".join(lines) or "(empty directory)"


class Host:
    """Where the built-in tools act: this machine, in ``workdir`` (the current directory if None). A door whose
    user has a place of their own for files and commands (an editor: chatcli.editor.host) gives its own."""

    def __init__(self, workdir: Path | None = None):
        self.workdir = workdir
        self.found: Found | None = None  # the skills seen from here, found when first asked for (``skills``)
        self.served: Callable[[], Iterable[Any]] = tuple  # the MCP servers whose skills join them (a toolbox's)
        self._joined: tuple[list[Any], Found] | None = None  # (what they were joined from, the skills)
        self.found_agents: Subagents | None = None  # the subagents seen from here, found when first asked for

    @property
    def agents(self) -> Subagents:
        """The subagents in effect where the tools act (chatcli.tools.agents), found once."""
        from chatcli.tools import agents

        if self.found_agents is None:
            self.found_agents = agents.discover(Path(self.workdir or os.getcwd()))
        return self.found_agents

    @property
    def skills(self) -> Found:
        """The skills and command files in effect where the tools act (chatcli.tools.command_files): the folders'
        found once, then the skills the MCP servers serve, as they are listed now."""
        from chatcli.tools import command_files, skills

        if self.found is None:
            self.found = command_files.discover(Path(self.workdir or os.getcwd()))
        servers = [server for server in self.served() if server.offers]
        key = [self.found, *(server.listing for server in servers)]
        if self._joined is None or list(map(id, self._joined[0])) != list(map(id, key)):
            self._joined = (key, skills.served(self.found, servers))
        return self._joined[1]

    async def activate(self, name: str, file: str = "") -> str:
        """What activating the skill ``name`` gives (or its ``file``): a folder's read here, an MCP server's fetched
        from it and checked (chatcli.tools.skills.fetch); a ValueError (one line) if it cannot be."""
        from chatcli.tools import skills

        skill = self.skills.get(name)
        if isinstance(skill, skills.Served):
            return await skills.fetch(skill, next((s for s in self.served() if s.name == skill.server), None), file)
        if file and skill is not None:
            return await asyncio.to_thread(skills.read, skill, file)
        return await asyncio.to_thread(skills.activate, self.skills, name)

    async def read_file(self, target: Path) -> str:
        return await asyncio.to_thread(_read_text, target)

    async def run_shell(self, command: str, policy: sandbox.Policy, call_id: str = "") -> str:
        """``command``'s output and exit code (``call_id``: the call it runs for)."""
        return await run_shell(command, policy, self.workdir)


def make_tools(groups: tuple[str, ...], policy: sandbox.Policy, host: Host) -> list[Any]:
    """The LangChain tools of the built-in ``groups``; they act through ``host``, the shell's commands under
    ``policy``."""
    from typing import Annotated

    from langchain_core.tools import InjectedToolArg, ToolException

    async def shell(command: str, call_id: str = "") -> str:
        return await host.run_shell(command, policy, call_id)

    # The call's id is the toolbox's to give (never the model's, which is not shown it): the host shows the command's
    # terminal in that call's card. Invoked plainly (a graph that embeds chat's tools), it is "".
    shell.__annotations__ = {"command": str, CALL_ID: Annotated[str, InjectedToolArg], "return": str}

    async def read_file(path: str) -> str:
        """Read a text file on the user's machine. A relative path is from the current directory."""
        return await host.read_file(resolve(path, host.workdir))

    async def list_directory(path: str = ".") -> str:
        """List the entries of a directory on the user's machine (default: the current directory)."""
        return await asyncio.to_thread(_listing, resolve(path, host.workdir))

    async def remember(text: str) -> str:
        """Keep the user's words (run in chat's graph, whose store LangGraph's runtime gives), or say why not."""
        from langgraph.config import get_store

        from chatcli.store.memories import MemoryBook, MemoryRefused

        kept = None
        with suppress(RuntimeError):  # (not run in a graph: none)
            kept = get_store()
        if kept is None:
            raise ToolException("memories cannot be kept here (no store)")
        try:
            memory = await MemoryBook(kept).add(text, "tool")
        except MemoryRefused as exc:
            raise ToolException(str(exc)) from None
        return f"remembered ({memory.id}): {memory.text}"

    async def activate_skill(name: str, file: str = "") -> str:
        """A skill's instructions whole, or (``file``) one of its files, as the model asks."""
        skill = host.skills.get(name)
        try:
            if skill is None or not skill.model_may_activate:
                raise ValueError(f"no skill {name!r} to activate (the system prompt lists them)")
            return await host.activate(name, file)
        except ValueError as exc:
            raise ToolException(f"error: {exc}") from None

    where = sandbox.describe(policy, host.workdir) if "shell" in groups else ""
    described = {  # what the model is told of each tool (read_file and list_directory: their docstrings)
        "remember": (
            "Keep something the user asked you to remember, in their own words, for all their future "
            "conversations (one short paragraph). Call it only when the user asks you to remember something; "
            "the user approves each call."
        ),
        "shell": (
            "Run a shell command (/bin/sh) in the user's current directory and return its output "
            "(stdout and stderr together) and exit code. The user approves each command. "
            f"{where[:1].upper()}{where[1:]}."
        ),
        "activate_skill": (
            "Load a skill's instructions by its name (the system prompt lists the skills), with its directory "
            "and files; with file, read one of those files (its path relative to the skill's directory)."
        ),
    }

    async def agent(description: str, prompt: str, subagent_type: str) -> str:
        raise ToolException("error: a subagent runs in chat's own graph only")  # (which runs it: chatcli.backends.own)

    if AGENTS in groups:
        from chatcli.tools.agents import described as delegating

        described["Agent"] = delegating(host.agents)
    made: dict[str, Any] = {"Agent": agent}
    made |= {tool.__name__: tool for tool in (remember, shell, read_file, list_directory, activate_skill)}
    # A refusal is a result the model reads: a text that cannot be kept, not a regular file, no such skill.
    refusing = ("remember", "read_file", "activate_skill", "Agent")
    if SKILLS in groups and not any(skill.model_may_activate for skill in host.skills.skills):
        groups = tuple(group for group in groups if group != SKILLS)  # the user's /NAME only: no tool
    if AGENTS in groups and not host.agents.agents:
        groups = tuple(group for group in groups if group != AGENTS)
    names = [name for group in groups for name in GROUPS[group]]
    return [_tool(name, made[name], described.get(name), name in refusing) for name in names]


def with_found(groups: tuple[str, ...], host: Host) -> tuple[str, ...]:
    """``groups``, and the skills' and the subagents' where ``host`` finds any (its own folders, or the user's)."""
    found = ((SKILLS, host.skills.skills), (AGENTS, host.agents.agents))
    return (*groups, *(group for group, any_found in found if any_found and group not in groups))


def catalog_for(tools: list[dict[str, Any]], toolbox: Any) -> str:
    """The skills' catalog for a request that offers ``tools`` (those of ``toolbox``): "" unless the skills tool
    is among them."""
    from chatcli.tools.skills import TOOL, catalog

    if toolbox is None or not any(tool["function"]["name"] == TOOL for tool in tools):
        return ""
    return catalog(toolbox.host.skills)


def narrowed(tools: list[dict[str, Any]], toolbox: Any, turn: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """``tools`` while the skills activated in ``turn`` (its question on) are active: those each of their
    ``allowed-tools`` names, and the skills tool; never more. While an MCP server's skill is active, the shell is
    offered only where each command is asked (MCP's skills extension: a server's skill runs nothing unapproved)."""
    from chatcli.tools import skills

    names = skills.active(str(m.text) for m in turn if m.type == "human" or getattr(m, "name", None) == skills.TOOL)
    if not names:  # (no skill active: the skills are not looked at)
        return tools
    active = [s for s in toolbox.host.skills.skills if s.name in names]
    if any(isinstance(s, skills.Served) for s in active):
        unasked = {e.name for e in toolbox.entries() if e.group == "shell" and toolbox.preapproved(e)}
        tools = [tool for tool in tools if tool["function"]["name"] not in unasked]
    lists = [s.allowed_tools for s in active if s.allowed_tools]
    if not lists:
        return tools
    entries = {entry.name: entry for entry in toolbox.entries()}

    def kept(name: str) -> bool:
        entry = entries.get(name)
        return name == skills.TOOL or all(entry is not None and permits(each, entry) for each in lists)

    return [tool for tool in tools if kept(tool["function"]["name"])]


def permits(names: tuple[str, ...] | None, entry: Any) -> bool:
    """Whether a list of tools as Claude Code writes one (a skill's ``allowed-tools``, a subagent's ``tools``; None:
    any tool) names the session's tool ``entry`` (a chatcli.tools.toolbox.ToolEntry): chat's own by their names or
    Claude Code's (``PEERS``), an MCP server's as ``mcp__SERVER__TOOL`` (chatcli.tools.skills.allows)."""
    from chatcli.tools.skills import allows

    peer = PEERS.get(entry.name, "") if entry.server == SERVER else ""
    return names is None or allows(names, entry.name, entry.server, entry.tool.name, peer)


# Each built-in tool's arguments, as a model class: the same for every host and policy, so inferred from the function
# once per process (inferring it is most of the cost of making the tool, and a one-shot makes its tools anew).
_ARGUMENTS: dict[str, "ArgsSchema | None"] = {}


def _tool(name: str, coroutine: Any, description: str | None, refusing: bool) -> "StructuredTool":
    """The StructuredTool ``name`` running ``coroutine`` (described by its docstring without ``description``; a
    refusal its result when ``refusing``), its arguments' schema inferred the first time only."""
    from langchain_core.tools import StructuredTool

    options: dict[str, Any] = dict(description=description, args_schema=_ARGUMENTS.get(name))
    tool = StructuredTool.from_function(coroutine=coroutine, name=name, handle_tool_error=refusing, **options)
    _ARGUMENTS.setdefault(name, tool.args_schema)
    return tool

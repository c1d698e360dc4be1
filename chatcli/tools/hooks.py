"""Hooks in Claude Code's contract (code.claude.com/docs/en/hooks): the user's own checks at a turn's moments.

Read where Claude Code and codex users keep them, in their schema: ``{"hooks": {"PreToolUse": [{"matcher": "Bash",
"hooks": [{"type": "command", "command": "...", "timeout": 60}]}]}}``, from chat's config (a ``hooks`` table in
config.toml, or ``hooks.json`` beside it), ``~/.claude/settings.json``, and the project's ``.claude/settings.json``
and ``.claude/settings.local.json``. A project's files are someone else's (a cloned repository's): their hooks run
only once ``chat trust`` ran there, kept per file and content beside the trusted .env files (chatcli.trust), and a
file changed since is untrusted again. Each hook keeps its file and whether it is the user's own: a project's
``allow`` never approves a call (only the user's own hooks can), its ``deny`` and ``ask`` hold.

The hooks an event matches run at once (asyncio), an identical command or URL once, each within its timeout (its
process group killed past it), the event's JSON on stdin (or POSTed). Their results make one ``Verdict``: exit 0 is
fine (stdout is context for SessionStart and UserPromptSubmit, or JSON read as the contract says), exit 2 blocks
with stderr as the reason where the event can be blocked, anything else (another code, not found, timed out, bad
JSON) is one line naming the hook and its file, and the turn goes on. A hook's text is neutralised (chatcli.text)
before it can reach a terminal.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import weakref
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from tempfile import TemporaryFile
from typing import Any, Awaitable, Callable, Mapping, Sequence

from chatcli.errors import ConfigError
from chatcli.paths import config_dir, config_path, read_bounded, read_config_file, real, trust_store
from chatcli.text import neutralise
from chatcli.tools.plugins import SCRIPTS, enabled, home_dir, hook_runs, read_tables
from chatcli.trust import keep_files, trusted_files

TOOL_EVENTS = ("PreToolUse", "PermissionRequest", "PostToolUse", "PostToolUseFailure")
EVENTS: tuple[str, ...] = ("SessionStart", "SessionEnd", "UserPromptSubmit", *TOOL_EVENTS, "Stop", "Notification")
EVENTS += ("PreCompact", "PostCompact", "SubagentStart", "SubagentStop")
# What a matcher is read against, by event; an event not named here runs all of its hooks (a matcher is ignored).
MATCHED = dict.fromkeys(TOOL_EVENTS, "tool_name") | {"SessionStart": "source", "SessionEnd": "reason"}
MATCHED |= {"Notification": "notification_type", "PreCompact": "trigger", "PostCompact": "trigger"}
MATCHED |= {"SubagentStart": "agent_type", "SubagentStop": "agent_type"}
# Where exit 2 (or ``decision: block``) stops what the event is about; elsewhere its stderr is only said to the user.
BLOCKS = frozenset({*TOOL_EVENTS, "UserPromptSubmit", "Stop", "SubagentStop", "PreCompact"})
DECIDES = frozenset({"PreToolUse", "PermissionRequest"})  # where a hook may also ask or allow
CONTEXT_FROM_STDOUT = frozenset({"SessionStart", "UserPromptSubmit"})
WORDS = {"deny": "deny", "block": "deny", "ask": "ask", "allow": "allow", "approve": "allow"}
RANK = {"deny": 3, "ask": 2, "allow": 1}  # several hooks' words: deny > ask > allow
SAID = ("context", "messages", "problems")  # a verdict's lines: every hook's kept
# What Claude Code's hooks reference documents of each event's input beyond the common fields (session_id,
# transcript_path, cwd, permission_mode, hook_event_name), with the value sent where chat has none to give.
FIELDS: dict[str, dict[str, Any]] = {
    "PreToolUse": {"tool_name": "", "tool_input": {}, "tool_use_id": ""},
    "PermissionRequest": {"tool_name": "", "tool_input": {}, "tool_use_id": "", "permission_suggestions": []},
    "PostToolUse": {"tool_name": "", "tool_input": {}, "tool_response": "", "tool_use_id": ""},
    "PostToolUseFailure": {"tool_name": "", "tool_input": {}, "tool_use_id": "", "error": "", "is_interrupt": False},
    "UserPromptSubmit": {"prompt": ""},
    "Stop": {"stop_hook_active": False, "last_assistant_message": ""},
    "SessionStart": {"source": "startup", "model": ""},
    "SessionEnd": {"reason": "other"},
    "Notification": {"message": "", "title": "", "notification_type": ""},
    "PreCompact": {"trigger": "auto", "custom_instructions": ""},
    "PostCompact": {"trigger": "auto", "compact_summary": ""},
    "SubagentStart": {"agent_id": "", "agent_type": ""},
    "SubagentStop": {"stop_hook_active": False, "agent_id": "", "agent_type": "", "agent_transcript_path": ""}
    | {"last_assistant_message": ""},
}
TRANSCRIPT = "transcript.jsonl"  # a thread's, in Claude Code's shape, in the folder of its kept files
NAMES = re.compile(r"[\w ,|-]*")  # a matcher of names only ("Bash", "Edit|Write", "Edit, Write"): exact, not a regex
DEFAULT_TIMEOUT = 60.0
MAX_FILE = 1024 * 1024  # a settings file read, a hook's output read
MAX_TEXT = 10_000  # characters of one hook's context or reason (Claude Code's bound on additionalContext)
MAX_PRINTED = 16 * 1024 * 1024  # a hook's stdout and stderr together, kept: past it the hook is stopped
FLOOD_CHECK = 0.25  # seconds between two looks at how much a running hook printed
MAX_RUNNING = 16  # hooks running at once in a process: a thousand calls' hooks take turns, never a thousand processes
_RUNNING: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()  # one bound per loop


class Unsupported(str):
    """A line about what chat does not run (an event, a kind of hook): said by chat hooks and chat config, never as
    each session starts."""


@dataclass(frozen=True)
class Hook:
    """One hook as configured: its event and matcher, what it runs (a shell command, or the URL it POSTs to)."""

    event: str
    matcher: str  # "" (or "*"): every occasion of the event
    command: str  # the shell command, or an http hook's URL
    source: Path  # the file it was read from
    own: bool  # the user's own (home's or chat's config): its ``allow`` approves; a project's never does
    http: bool = False
    timeout: float = DEFAULT_TIMEOUT
    headers: tuple[tuple[str, str], ...] = ()
    pinned: tuple[tuple[str, str], ...] = ()  # a project's: the files it runs, as trusted (path, SHA-256)
    fail_closed: bool = False  # ``"onError": "deny"``: a failure (timeout, crash, bad output) refuses, not passes
    env: tuple[tuple[str, str], ...] = ()  # set for it beside the session's (a plugin's CLAUDE_PLUGIN_ROOT)

    def matches(self, value: str | None) -> bool:
        """True when the hook runs for an occasion whose matched value (a tool's name, a source...) is ``value``; a
        built-in tool's by Claude Code's name (``Bash``) or chat's own (``shell``)."""
        if self.matcher in ("", "*") or self.event not in MATCHED:
            return True
        from chatcli.tools.builtin import PEERS

        if NAMES.fullmatch(self.matcher):  # chat's own names too, exactly
            values = {value or "", *(own for own, peer in PEERS.items() if peer == value and self.event in TOOL_EVENTS)}
            return not {name.strip() for name in re.split(r"[|,]", self.matcher)}.isdisjoint(values)
        # A regular expression reads Claude Code's name only: one written to leave Bash out (^(?!Bash)) never takes the
        # shell by its other name. From the start: never inside a tool's own name.
        return re.match(self.matcher, value or "") is not None

    @property
    def label(self) -> str:
        """The hook in a line: what it runs (shortened) and its file."""
        what = self.command if len(self.command) <= 60 else self.command[:59] + "…"
        return _line(f"{'http hook' if self.http else 'hook'} {what!r} ({self.source})")


@dataclass(frozen=True)
class Verdict:
    """What an event's hooks said, together. ``decision`` "deny" blocks what the event is about (a tool call, the
    prompt, compaction; for Stop: the answer goes on, ``reason`` tells the model why; after a tool ran: ``reason``
    goes to the model), "ask" asks the user even when calls are approved in advance, "allow" approves (only the
    user's own hooks); ``stop`` (``continue: false``) ends the turn, saying why. Every text is neutralised."""

    event: str
    decision: str | None = None
    reason: str = ""
    stop: str | None = None
    context: tuple[str, ...] = ()  # for the model (additionalContext; SessionStart's and UserPromptSubmit's stdout)
    messages: tuple[str, ...] = ()  # for the user (systemMessage; exit 2's stderr where nothing can be blocked)
    problems: tuple[str, ...] = ()  # one line each: a hook that failed, named with its file
    updated_input: Mapping[str, Any] | None = None  # the tool's input as a hook rewrote it: shown with the question

    @property
    def blocked(self) -> bool:
        return self.decision == "deny"


@dataclass(frozen=True)
class Hooks:
    """The hooks in effect at ``cwd``, the user's first; a project's files not trusted (as they are now); one line for
    each hook or file that could not be read."""

    cwd: Path
    hooks: tuple[Hook, ...] = ()
    untrusted: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()
    started: set[str] = field(default_factory=set, compare=False)  # the sessions (threads) SessionStart ran for
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, compare=False)  # the run's, for commands
    permission_mode: str = "default"  # Claude Code's word for how calls are approved: "bypassPermissions" with --yes

    def matching(self, event: str, value: str | None = None) -> tuple[Hook, ...]:
        """The hooks ``event`` runs when its matched value is ``value``, each command or URL once (the first kept)."""
        chosen: dict[tuple[bool, str], Hook] = {}
        for hook in self.hooks:
            if hook.event == event and hook.matches(value):
                chosen.setdefault((hook.http, hook.command), hook)
        return tuple(chosen.values())

    async def fire(
        self,
        event: str,
        fields: Mapping[str, Any],
        *,
        session_id: str = "",
        say: Callable[[str, bool], object] = lambda line, warn: None,
        history: Sequence[Any] | Callable[[], Awaitable[Sequence[Any]]] | None = None,
    ) -> Verdict:
        """What the hooks ``event`` matches say of it (none: an empty Verdict, nothing run), run all at once with the
        event's JSON (``fields`` add to the common ones), each failure (a warning) and message said with ``say``;
        ``history``, the session's messages so far, is its transcript first (``transcript_path``: else the last one
        written, as when it cannot be read)."""
        if not (chosen := self.matching(event, fields.get(MATCHED.get(event, "")))):
            return Verdict(event)
        if history is not None:
            with suppress(Exception):  # (a backend that cannot give it now)
                await self.record(session_id, history if isinstance(history, Sequence) else await history())
        path = transcript(session_id) if session_id else None
        common = {"session_id": session_id, "cwd": str(self.cwd), "permission_mode": self.permission_mode}
        common["transcript_path"] = str(path) if path is not None and path.exists() else ""
        # default=str: a tool's result json cannot write goes as its text, never failing the call.
        data = json.dumps({**common, **FIELDS.get(event, {}), **fields, "hook_event_name": event}, default=str).encode()
        from chatcli.local.loopback import Allowed

        # An http hook's address is the user's word (a project's file only once trusted): as any address they name.
        with Allowed(hook.command for hook in chosen if hook.http):
            runs = [_post(hook, data) if hook.http else _command(hook, data, self.cwd, self.environ) for hook in chosen]
            said = _combined(event, await asyncio.gather(*map(_in_turn, runs)))
        for warn, lines in ((True, said.problems), (False, said.messages)):
            for line in lines:
                say(line, warn)
        return said

    async def record(self, session_id: str, messages: Sequence[Any]) -> None:
        """Write the session's transcript (``transcript_path``) from ``messages``, where any hook may read it."""
        if session_id and self.hooks:
            with suppress(OSError):  # (a hook that reads it finds the last one written, or none)
                await asyncio.to_thread(write_transcript, transcript(session_id), messages, session_id, self.cwd)


NO_HOOKS = Hooks(Path("."))  # where none are loaded: every event fires nothing


async def _in_turn(run: Awaitable[Verdict]) -> Verdict:
    """``run`` (a hook's), once fewer than MAX_RUNNING hooks run: its timeout counts from then."""
    async with _RUNNING.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_RUNNING)):
        return await run


def transcript(thread: str) -> Path:
    """Where ``thread``'s transcript is written for its hooks: beside its kept files, removed with the thread."""
    from chatcli.tools.kept_files import folder

    return folder(thread) / TRANSCRIPT


def write_transcript(path: Path, messages: Sequence[Any], session_id: str, cwd: Path) -> None:
    """``messages`` (LangChain's) at ``path`` as Claude Code writes a session's transcript: a JSON object a line,
    ``type`` "user" or "assistant" and ``message`` with its ``role`` and ``content`` (text, ``tool_use`` blocks named
    and shaped as Claude Code's tools, ``tool_result`` blocks); private to the user, replaced whole."""
    from chatcli.paths import write_private
    from chatcli.tools.builtin import PEERS, peer_input

    lines, parent = [], None
    for number, message in enumerate(messages):
        if message.type not in ("human", "ai", "tool"):
            continue
        content: Any = message.content
        if message.type == "ai":
            content = [{"type": "text", "text": message.text}] if message.text else []
            for call in message.tool_calls:
                named = PEERS.get(call["name"], call["name"])
                shaped = peer_input(call["name"], call["args"], cwd)
                content.append({"type": "tool_use", "id": call["id"], "name": named, "input": shaped})
        elif message.type == "tool":
            content = [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.text}]
        uuid = str(message.id or f"{session_id}-{number}")
        role = "assistant" if message.type == "ai" else "user"
        line = {"type": role, "parentUuid": parent, "uuid": uuid, "sessionId": session_id, "cwd": str(cwd)}
        lines.append(json.dumps({**line, "message": {"role": role, "content": content}}, default=str) + "\n")
        parent = uuid
    write_private(path, "".join(lines))


def _combined(event: str, verdicts: list[Verdict]) -> Verdict:
    """Several hooks' verdicts as one: the strongest word (deny > ask > allow), every line and context kept."""
    decision = max((v.decision for v in verdicts if v.decision), key=RANK.__getitem__, default=None)
    updated = [v.updated_input for v in verdicts if v.updated_input is not None and v.decision != "deny"]
    reason = "\n".join(v.reason for v in verdicts if v.decision == decision and v.reason)
    stop = next((v.stop for v in verdicts if v.stop is not None), None)
    context, messages, problems = (tuple(line for v in verdicts for line in getattr(v, k)) for k in SAID)
    rewritten = updated[0] if updated and decision != "deny" else None
    return Verdict(event, decision, reason, stop, context, messages, problems, rewritten)


async def _command(hook: Hook, data: bytes, cwd: Path, environ: Mapping[str, str]) -> Verdict:
    """Run a command hook with the shell in a process group of its own, killed whole if it outlives its timeout.
    Its input and output are files, not pipes: what it leaves running (a child of its own session even) never keeps
    the turn waiting past its end."""
    # A file it was trusted with that is no longer as it was (a git pull while chat runs: checked again as it starts).
    if (changed := next((n for n, digest in hook.pinned if _digest(Path(n)) != digest), None)) is not None:
        return _problem(hook, f"not run: {changed} changed since chat trust")
    with TemporaryFile() as stdin, TemporaryFile() as out, TemporaryFile() as err:
        stdin.write(data)
        stdin.seek(0)
        try:
            env = {**environ, "CLAUDE_PROJECT_DIR": str(cwd), **dict(hook.env)}  # what Claude Code's hooks read
            process = await asyncio.create_subprocess_shell(
                hook.command, stdin=stdin, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
            )
        except OSError as exc:
            return _problem(hook, exc.strerror or str(exc))
        try:
            code = await _ended(process, hook.timeout, out, err)
        except TimeoutError:
            return _problem(hook, f"timed out after {hook.timeout:g} s")
        except OverflowError:
            return _problem(hook, f"printed more than {MAX_PRINTED // 1024 // 1024} MiB: stopped")
        finally:
            if process.returncode is None:  # timed out, or the turn was interrupted: nothing it started lives on
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        printed, said = (os.pread(f.fileno(), MAX_FILE, 0).decode(errors="replace") for f in (out, err))
        return _outcome(hook, code, printed, said)


async def _ended(process: asyncio.subprocess.Process, timeout: float, *outputs: Any) -> int:
    """``process``'s exit code once it ends within ``timeout`` (TimeoutError past it), OverflowError as soon as its
    ``outputs`` (files) hold more than MAX_PRINTED together: a flood never fills the disk or memory."""
    deadline, waiting = asyncio.get_running_loop().time() + timeout, asyncio.ensure_future(process.wait())
    try:
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if (await asyncio.wait({waiting}, timeout=min(FLOOD_CHECK, max(left, 0))))[0]:
                return waiting.result()
            if sum(os.fstat(f.fileno()).st_size for f in outputs) > MAX_PRINTED:
                raise OverflowError
            if left <= 0:
                raise TimeoutError
    finally:
        waiting.cancel()


async def _post(hook: Hook, data: bytes) -> Verdict:
    """POST the event's JSON to an http hook; a 2xx answer's body is read as a command's stdout."""
    import httpx

    headers = {"Content-Type": "application/json", **dict(hook.headers)}
    try:
        async with httpx.AsyncClient(timeout=None) as client:
            answer = await asyncio.wait_for(client.post(hook.command, content=data, headers=headers), hook.timeout)
    except TimeoutError:
        return _problem(hook, f"timed out after {hook.timeout:g} s")
    except (httpx.HTTPError, OSError) as exc:
        return _problem(hook, f"cannot reach it: {exc}")
    return _outcome(hook, 0, answer.text, "") if answer.is_success else _problem(hook, f"answered {answer.status_code}")


def _outcome(hook: Hook, code: int, out: str, err: str) -> Verdict:
    """One hook's verdict from its exit code and output, as the contract reads them."""
    event = hook.event
    if code == 2:
        reason = _text(err) or f"blocked by {hook.label}"
        return Verdict(event, "deny", reason) if event in BLOCKS else Verdict(event, messages=(reason,))
    if code == 127:
        return _problem(hook, "not found")
    if code != 0:
        return _problem(hook, f"exited with {code}" + (f": {err.strip()}" if err.strip() else ""))
    text = out.strip()
    if not text.startswith("{"):
        return Verdict(event, context=(_text(text),) if text and event in CONTEXT_FROM_STDOUT else ())
    try:
        said = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _problem(hook, f"printed bad JSON ({exc})")
    return _from_json(hook, said) if isinstance(said, dict) else _problem(hook, "printed JSON that is not an object")


def _from_json(hook: Hook, said: dict[str, Any]) -> Verdict:
    """The contract's JSON output: continue/stopReason, systemMessage, decision/reason, hookSpecificOutput."""
    event, specific = hook.event, _mapping(said.get("hookSpecificOutput"))
    behavior = _mapping(specific.get("decision"))  # PermissionRequest's {"behavior": "allow", "message": ...}
    word = WORDS.get(str(specific.get("permissionDecision") or behavior.get("behavior") or said.get("decision")))
    if word is not None and (event not in DECIDES and word != "deny" or event not in BLOCKS):
        word = None  # a word the event has no use for
    if word == "allow" and not hook.own:
        word = None  # a project's hook may stop a call or have the user asked, never approve one
    reason = specific.get("permissionDecisionReason") or behavior.get("message") or said.get("reason") or ""
    if word == "deny" and not reason:
        reason = f"blocked by {hook.label}"
    stop = _text(str(said.get("stopReason") or "")) or f"stopped by {hook.label}"
    context, message = specific.get("additionalContext"), said.get("systemMessage")
    updated = specific.get("updatedInput", behavior.get("updatedInput"))
    if isinstance(updated, dict) and not hook.own and event in DECIDES and word != "deny":
        word, reason = "ask", reason or f"{hook.label} rewrote the call"  # a project's rewrite is shown and asked
    why, ended = _text(str(reason)) if word else "", stop if said.get("continue") is False else None
    told, shown = ((_text(str(text)),) if text else () for text in (context, message))
    return Verdict(event, word, why, ended, told, shown, updated_input=updated if isinstance(updated, dict) else None)


def _problem(hook: Hook, what: str) -> Verdict:
    """A hook that failed: one line, and the turn goes on as if it said nothing (as Claude Code's do); with
    ``"onError": "deny"`` where the event can be blocked, what it is about is refused instead (fail closed)."""
    line = _line(f"{hook.label}: {what}")
    if hook.fail_closed and hook.event in BLOCKS:
        return Verdict(hook.event, "deny", f"{line} (its onError is deny)", problems=(line,))
    return Verdict(hook.event, problems=(line,))


def _text(text: str) -> str:
    """A hook's text as chat passes it on: trimmed, bounded, every control character made visible."""
    text = text.strip()
    return neutralise(text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…")


def _line(text: str) -> str:
    return " ".join(neutralise(text).split())[:300]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def load(cwd: Path, environ: Mapping[str, str] = os.environ, config: Mapping[str, Any] | None = None) -> Hooks:
    """The hooks in effect at ``cwd``: chat's config (``config``: config.toml as read, else read here), its
    hooks.json, ``~/.claude/settings.json``, then the project's settings files trusted where they stand as they are
    now, each of their hooks only while the project's scripts it runs are as they were trusted."""
    problems: list[str] = []
    if config is None:
        try:
            config = read_config_file(config_path(environ))
        except ConfigError as exc:
            config, problems = {}, [_line(str(exc))]
    found = _parsed(config.get("hooks", {}), config_path(environ), True, problems)
    own = [config_dir(environ) / "hooks.json", home_dir(environ) / ".claude" / "settings.json"]
    kept = trusted_files(trust_store(environ))
    untrusted: list[Path] = []
    for path in own + _project_files(cwd, environ):
        try:
            data = _read(path)
            table = _mapping(json.loads(data)) if data is not None else {}
        except (OSError, ValueError, RecursionError) as exc:  # a file nested past Python's stack too
            problems.append(_line(f"{path}: {getattr(exc, 'strerror', None) or exc}"))
            continue
        table = table if "hooks" in table or path.name != "hooks.json" else {"hooks": table}
        if not table.get("hooks"):
            continue
        if path in own:
            found += _parsed(table["hooks"], path, True, problems)
        elif (elsewhere := _elsewhere(path)) is not None:
            untrusted.append(path)
            problems.append(_line(f"{path}: a link to {elsewhere}: a project's settings are trusted where they stand"))
        elif kept.get(str(path)) != hashlib.sha256(data or b"").hexdigest():
            untrusted.append(path)  # someone else's file, or changed since chat trust: not run
        else:
            for hook in _parsed(table["hooks"], path, False, problems):
                runs = {n: d for n, (d, script) in _scripts(hook, cwd).items() if script or n in kept}  # (not its log)
                if changed := [name for name, digest in runs.items() if kept.get(name) != digest]:
                    problems.append(_line(f"{hook.label}: not run: {changed[0]} changed since chat trust"))
                else:
                    found.append(replace(hook, pinned=tuple(runs.items())))
    plugins = enabled(environ)
    for plugin in plugins.plugins:
        for where, table in read_tables(plugin, "hooks", "hooks/hooks.json", problems):
            hooks = _parsed(table.get("hooks", table), where, True, problems)
            found += [replace(hook, env=tuple(plugin.environ().items())) for hook in hooks]
    problems += plugins.problems
    return Hooks(cwd, tuple(found), tuple(untrusted), tuple(problems), environ=environ)


def trust_project(cwd: Path, environ: Mapping[str, str] = os.environ, *, revoke: bool = False) -> Hooks:
    """Trust the project's settings files at ``cwd`` as they are now, where they stand (a link is not trusted), with
    the project's scripts their hooks run; or no longer. The hooks in effect then."""
    digests: dict[str, str | None] = {}
    for path in _project_files(cwd, environ):
        with suppress(OSError, ValueError, RecursionError):  # unreadable: it stays unread
            data = _read(path) if _elsewhere(path) is None else None
            if data is not None or revoke:
                digests[str(path)] = None if revoke or data is None else hashlib.sha256(data).hexdigest()
    for _, scripts in project_hooks(cwd, environ):
        digests.update({name: None if revoke else digest for name, (digest, _) in scripts.items()})
    if digests:
        keep_files(trust_store(environ), digests)
    return load(cwd, environ)


def project_hooks(cwd: Path, environ: Mapping[str, str] = os.environ) -> list[tuple[Hook, dict[str, tuple[str, bool]]]]:
    """Each hook of the project's settings files at ``cwd`` (trusted or not), with the project's files it runs
    (``_scripts``): what ``chat trust`` shows before it asks, and trusts."""
    found: list[tuple[Hook, dict[str, tuple[str, bool]]]] = []
    for path in _project_files(cwd, environ):
        with suppress(OSError, ValueError, RecursionError):
            data = _read(path) if _elsewhere(path) is None else None
            table = _mapping(json.loads(data)).get("hooks") if data is not None else None
            hooks = _parsed(table, path, False, []) if isinstance(table, Mapping) else []
            found += [(hook, _scripts(hook, cwd)) for hook in hooks]
    return found


def _project_files(cwd: Path, environ: Mapping[str, str]) -> list[Path]:
    """The project's settings files where they stand (``cwd``'s links resolved, not theirs); none that is the user's
    own (chat run from home)."""
    home = real(home_dir(environ) / ".claude" / "settings.json")
    found = [cwd.resolve() / ".claude" / name for name in ("settings.json", "settings.local.json")]
    return [path for path in found if real(path) != home]


def _elsewhere(path: Path) -> Path | str | None:
    """Where a link leads ``path`` (a file, or its ``.claude`` folder; "a link loop"), or None: the file stands where
    it is named."""
    found = real(path)
    return None if found == path else found or "a link loop"


REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "2>", "2>>"})  # a word after one is written, not run
HOOKS_DIR = (".claude", "hooks")  # where Claude Code's projects keep their hooks' scripts: pinned whole
MAX_PINNED = 200  # files of one hook pinned


def _scripts(hook: Hook, cwd: Path) -> dict[str, tuple[str, bool]]:
    """The project's files ``hook`` runs, by path where they stand, each with the SHA-256 of its content and whether
    it looks like a script: part of what trusting the hook trusts. They are each regular file of the project a word of
    its command names (relative, absolute or from ``$CLAUDE_PROJECT_DIR``; after ``=`` too, ``--require=./x.js``; a
    ``-m`` module's file; never one written to, after ``>``), the scripts of a folder it names, and every script
    under ``.claude/hooks/`` (a file sourced or imported from there included). A script is a file with a script's
    suffix, executable, or under ``.claude/``."""
    if hook.http:
        return {}
    import shlex

    root = cwd.resolve()
    command = re.sub(r"\$\{?CLAUDE_PROJECT_DIR(?::?-[^}]*)?\}?", lambda _: str(root), hook.command)
    try:
        words = list(shlex.shlex(command, posix=True, punctuation_chars=True))
    except ValueError:  # an unclosed quote: the shell refuses it too
        words = command.split()
    named: list[Path] = []
    for before, word in zip(["", *words], words):
        if before in REDIRECTS:
            continue
        for each in {word, word.partition("=")[2]} - {""}:
            named.append(Path(os.path.normpath(root / each)))
            if before == "-m":
                named.append(Path(os.path.normpath(root / (each.replace(".", "/") + ".py"))))
    found: dict[str, tuple[str, bool]] = {}
    for path in [*named, hooks_dir := root.joinpath(*HOOKS_DIR)]:  # what it names first: never crowded out
        if not path.is_relative_to(root) or path == root:
            continue
        folder = os.path.isdir(path) and not os.path.islink(path)
        for file in sorted(path.rglob("*") if path == hooks_dir else path.glob("*")) if folder else [path]:
            script = file.name.lower().endswith(SCRIPTS) or file.is_relative_to(root / ".claude")
            if str(file) in found or not os.path.isfile(file) or folder and not (script or os.access(file, os.X_OK)):
                continue
            if len(found) >= MAX_PINNED:  # more than can be checked at each start: not run, rather than unchecked
                return {**found, f"{path} (more than {MAX_PINNED} scripts)": ("", True)}
            if (digest := _digest(file)) is not None:
                found[str(file)] = (digest, script or os.access(file, os.X_OK))
    return found


def _digest(path: Path) -> str | None:
    """The SHA-256 of the file at ``path`` (at most MAX_FILE bytes of a regular file), None if it cannot be read."""
    with suppress(OSError, ValueError):
        return hashlib.sha256(read_bounded(path, MAX_FILE, follow=True)).hexdigest()
    return None


def _read(path: Path) -> bytes | None:
    """The settings file at ``path`` (None: there is none), at most MAX_FILE bytes of a regular file."""
    with suppress(FileNotFoundError, NotADirectoryError):
        return read_bounded(path, MAX_FILE, follow=True)
    return None


def _parsed(table: Any, source: Path, own: bool, problems: list[str]) -> list[Hook]:
    """The hooks of one file's ``hooks`` table; what chat cannot run is a line in ``problems``, never an error."""
    if not isinstance(table, Mapping):
        problems.append(_line(f"{source}: hooks is not a table of events"))
        return []
    found: list[Hook] = []
    for event, groups in table.items():
        if event not in EVENTS:
            problems.append(Unsupported(_line(f"{source}: {event}: not an event chat runs hooks for")))
            continue
        for group in groups if isinstance(groups, list) else []:
            matcher = str(_mapping(group).get("matcher") or "")
            try:
                re.compile("" if matcher == "*" else matcher)
            except re.error as exc:
                problems.append(_line(f"{source}: {event}: matcher {matcher!r} is not a regular expression: {exc}"))
                continue
            for handler in _mapping(group).get("hooks") or []:
                hook = _hook(event, matcher, _mapping(handler), source, own)
                found += [hook] if isinstance(hook, Hook) else []
                problems += [hook] if isinstance(hook, str) else []
    return found


def _hook(event: str, matcher: str, handler: dict[str, Any], source: Path, own: bool) -> Hook | str:
    """One handler as a Hook, or the line saying why chat does not run it."""
    kind, timeout = handler.get("type", "command"), handler.get("timeout")
    timeout = float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) else 0
    what = hook_runs(handler)
    if kind not in ("command", "http"):
        return Unsupported(_line(f"{source}: {event}: a {kind!r} hook is not run by chat (command and http hooks are)"))
    if not isinstance(what, str) or not what.strip():
        return _line(f"{source}: {event}: a {kind} hook without its {'url' if kind == 'http' else 'command'}")
    if kind == "http" and not re.match(r"https?://", what):
        return _line(f"{source}: {event}: an http hook's url is not http(s): {what}")
    headers = tuple((str(k), str(v)) for k, v in _mapping(handler.get("headers")).items())
    seconds, closed = timeout if timeout > 0 else DEFAULT_TIMEOUT, handler.get("onError") == "deny"
    return Hook(event, matcher, what, source, own, kind == "http", seconds, headers, fail_closed=closed)

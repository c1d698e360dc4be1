"""Claude Code's slash commands: Markdown files in the project's ``.claude/commands/``, the user's
``~/.claude/commands/`` and each enabled plugin's ``commands/`` folders, run as ``/NAME ARGS`` at every door.

A file's name is its command's (``review.md`` is ``/review``), a subfolder its namespace (``frontend/test.md`` is
``/frontend:test``), and a plugin's name the namespace of its commands (``/PLUGIN:NAME``). Its front matter is
optional: ``description`` (else the body's first line), ``argument-hint``, ``allowed-tools`` (narrowing the tools
while the command's turn runs, as a skill's do) and ``model`` (that turn's, where it can answer). Its body is the
question, ``$ARGUMENTS`` and ``$1``..``$9`` replaced by the arguments and each file it names as ``@path`` read in after
it (in the project, or the plugin's folder; bounded as a skill's files are).

Commands are found beside the skills, as Claude Code now finds them (``discover``: a skill of the same name wins, a
nearer command wins over the user's), read as someone else's files (bounded, links kept inside their folder), and a
project's wait for ``chat trust`` as its skills do (``trust_project``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator, Mapping

from chatcli.paths import read_bounded, real, trust_store
from chatcli.tools import skills
from chatcli.tools.plugins import enabled
from chatcli.tools.skills import Found, Skill
from chatcli.trust import trusted_files

MAX_FILES = 500  # command files read from one folder, its subfolders' included
MAX_NAMED = 10  # files one command names (@path) that are read in
NAME = re.compile(r"[A-Za-z0-9][\w.-]*(?::[A-Za-z0-9][\w.-]*)*")
ARGUMENT = re.compile(r"\$(ARGUMENTS|[1-9])")
NAMED_FILE = re.compile(r"(?<!\S)@([^\s`'\"<>]*[^\s`'\"<>.,;:!?)])")  # (a sentence's full stop is not the path's)


@dataclass(frozen=True)
class CommandFile(Skill):
    """One command as found: a skill the user runs (never the model), whose body takes arguments; ``hint`` its
    ``argument-hint``, ``model`` the model it asks for, ``plugin`` its plugin's folder (``${CLAUDE_PLUGIN_ROOT}``)."""

    hint: str = ""
    model: str = ""
    plugin: Path | None = None
    kind = "command"


Source = tuple[Path, bool, str, "Path | None"]  # a folder, whether it is the project's, its namespace, its plugin


def folders(cwd: Path, environ: Mapping[str, str] = os.environ, problems: list[str] | None = None) -> list[Source]:
    """Where commands are found, nearest first: the project's and the user's folders, then each enabled plugin's."""
    mine = [(root, project, "", None) for root, project in skills.folders(cwd, environ, problems, kind="commands")]
    ours = [(f.resolve(), False, f"{p.name}:", p.root) for p in enabled(environ).plugins for f in p.folders("commands")]
    return [*mine, *ours]


def discover(cwd: Path, environ: Mapping[str, str] = os.environ) -> Found:
    """The skills seen from ``cwd`` (chatcli.tools.skills.discover), then the commands: one of a name taken already
    is shadowed, a project's not trusted as it is now is untrusted (named by its path); never raises."""
    found = skills.discover(cwd, environ)
    problems, kept = list(found.problems), trusted_files(trust_store(environ))
    offered = {skill.name: skill for skill in found.skills}
    shadowed, untrusted = list(found.shadowed), list(found.untrusted)
    for path, name, project, plugin in _files(cwd, environ, problems):
        try:
            data = read_bounded(path)
            if project and kept.get(str(path)) != hashlib.sha256(data).hexdigest():
                untrusted.append(CommandFile(name, "", path, project, model_may_activate=False))
                continue
            command = _command(name, data.decode("utf-8"), path, project, plugin)
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: {skills.why(exc)}; skipped")
            continue
        if name in offered:
            shadowed.append(command)
        else:
            offered[name] = command
    return Found(tuple(offered.values()), tuple(shadowed), tuple(untrusted), skills.one_line(problems), found.notes)


def _files(cwd: Path, environ: Mapping[str, str], problems: list[str]) -> Iterator[tuple[Path, str, bool, Path | None]]:
    """Each command file (links resolved), its command's name, whether it is the project's, and its plugin's folder;
    a file a link leads out of its folder, or whose name no command can have, is a line in ``problems``."""
    for root, project, namespace, plugin in folders(cwd, environ, problems):
        walked = list(islice((name for name in skills._walk(root) if name.endswith(".md")), MAX_FILES + 1))
        if len(walked) > MAX_FILES:
            problems.append(f"{root}: more than {MAX_FILES} command files; the first {MAX_FILES} were read")
        for path in (root / relative for relative in walked[:MAX_FILES]):
            name = namespace + ":".join(path.relative_to(root).with_suffix("").parts)
            if len(name) > 128 or not NAME.fullmatch(name) or name.startswith("mcp__"):
                problems.append(f"{path}: {name[:80]!r} is no command's name (letters, digits, _ . -); skipped")
            elif (found := real(path, folder_real=True)) is None or not found.is_relative_to(root):
                problems.append(f"{path}: a link out of its commands folder; skipped")
            else:
                yield found, name, project, plugin


def _command(name: str, text: str, path: Path, project: bool, plugin: Path | None) -> CommandFile:
    """The command ``name`` a file's ``text`` defines; a ValueError saying why it cannot be offered."""
    fields, body = skills.parse(text, optional=True)
    if not isinstance(fields, dict):
        raise ValueError("its front matter is not a mapping of fields")
    about, hint, model = (fields.get(key) for key in ("description", "argument-hint", "model"))
    first = next((line.strip("# ") for line in body.splitlines() if line.strip()), "")
    described = " ".join((about if isinstance(about, str) and about.strip() else first).split())
    # ``argument-hint: [message]`` is a list to YAML: it was meant as written.
    hint = " ".join(f"[{item}]" for item in hint) if isinstance(hint, list) else str(hint or "")
    tools = skills.tool_names(fields.get("allowed-tools"))
    model = model.strip() if isinstance(model, str) else ""
    return CommandFile(name, described or f"/{name}", path, project, tools, False, body, hint, model, plugin)


def question(command: CommandFile, arg: str, workdir: Path) -> tuple[str, list[str]]:
    """What ``/NAME ARG`` asks: the command's body with its arguments put in (``$ARGUMENTS`` whole, ``$1``..``$9`` one
    word each, as a shell splits them; a body that takes none has them after it), then each file it names as
    ``@path`` (in ``workdir``, or its plugin's folder) read in, all in the tags a skill's instructions come in (so its
    allowed-tools narrow the tools, and compaction keeps it whole); and a line for each file named but not read."""
    body = command.body.replace("${CLAUDE_PLUGIN_ROOT}", str(command.plugin)) if command.plugin else command.body
    try:
        words = shlex.split(arg)
    except ValueError:  # unbalanced quotes: split at blanks
        words = arg.split()
    text = ARGUMENT.sub(lambda m: arg if m[1] == "ARGUMENTS" else (words[int(m[1]) - 1 : int(m[1])] or [""])[0], body)
    roots = [workdir.resolve(), *([command.plugin.resolve()] if command.plugin else [])]
    files, unread = list[str](), list[str]()
    for named in dict.fromkeys(NAMED_FILE.findall(body)):
        target = real(workdir / named)
        if target is None or not os.path.lexists(target):
            continue  # not a file's name: a handle, an address
        try:
            if not any(target.is_relative_to(root) for root in roots):
                raise ValueError("not in the project; not read")
            if len(files) == MAX_NAMED:
                raise ValueError(f"past the {MAX_NAMED} files a command may name; not read")
            files.append(f'\n\n<file path="{named}">\n{read_bounded(target).decode("utf-8").rstrip()}\n</file>')
        except (OSError, ValueError) as exc:
            unread.append(f"/{command.name}: @{named}: {skills.why(exc)}")
    given = f"\n\n{arg}" if arg and "$ARGUMENTS" not in body else ""  # (never lost: piped text, say)
    return f'<skill_content name="{command.name}">\n{text}{"".join(files)}\n</skill_content>{given}', unread


def trust_project(cwd: Path, environ: Mapping[str, str] = os.environ, *, revoke: bool = False) -> Found:
    """Trust the project's skills (chatcli.tools.skills.trust_project) and command files at ``cwd`` as they are now,
    or no longer; what is found then."""
    skills.trust_project(cwd, environ, revoke=revoke)
    files = [path for path, _, project, _ in _files(cwd, environ, []) if project]
    skills.trust_files(environ, files, revoke, [root for root, project, _, _ in folders(cwd, environ) if project])
    return discover(cwd, environ)

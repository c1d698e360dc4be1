"""Subagents as Claude Code keeps them: Markdown files whose front matter names one (``name``, ``description``,
``tools``, ``model``) and whose body is its system prompt, offered to the model through one tool named and shaped as
Claude Code's ``Agent`` (chatcli.backends.own.subagents runs them).

chat reads the project's ``.claude/agents/`` (from the working directory), the user's ``~/.claude/agents/`` and each
enabled plugin's ``agents/`` folders (named ``PLUGIN:NAME``); a name found twice is the project's, as in Claude Code.
``tools`` is a comma list of Claude Code's tool names (``Read, Bash``, ``mcp__SERVER__TOOL``: chat's own tools answer to
their Claude Code names, chatcli.tools.builtin.PEERS); without it a subagent has every tool of the session but the
``Agent`` tool itself; ``disallowedTools`` (written as ``tools`` is) names tools it never has; ``maxTurns`` bounds its
model calls. ``model`` is a model's name, ``inherit`` (the thread's), or Claude Code's ``sonnet``, ``opus`` and
``haiku`` (``ALIASES``).

What is read is bounded, never followed out of where it belongs (a project's file out of the project, a plugin's out of
the plugin), and each file that cannot be offered is one line naming it and why. A project's subagents are someone
else's files: listed as untrusted, not offered, until ``chat trust`` keeps their paths and SHA-256 (chatcli.trust); a
file changed since is untrusted again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from chatcli.paths import read_bounded, real, trust_store
from chatcli.tools import skills
from chatcli.tools.plugins import enabled, home_dir
from chatcli.trust import trusted_files

TOOL = "Agent"
MAX_FILES = 500  # subagent files read from one folder
# Claude Code's model aliases, as the newest of each name chat knows.
ALIASES = {name: f"anthropic:claude-{name}-5-5" for name in ("opus", "sonnet", "haiku")}


@dataclass(frozen=True)
class Subagent:
    """One subagent as found: its name, what it is for, its file, where it came from ("project", "user" or a plugin's
    id), the tools it names (None: every tool of the session), its model as written, its system prompt."""

    name: str
    description: str
    path: Path
    source: str
    tools: tuple[str, ...] | None = None
    model: str = ""
    denied: tuple[str, ...] = ()  # its ``disallowedTools``: never offered, even where ``tools`` names them
    turns: int | None = None  # its ``maxTurns``: the model calls it makes at most, the last offered no tools
    body: str = field(default="", repr=False)


@dataclass(frozen=True)
class Found:
    """The subagents offered, a project's not trusted (as they are now), and one line for each file skipped."""

    agents: tuple[Subagent, ...] = ()
    untrusted: tuple[Subagent, ...] = ()
    problems: tuple[str, ...] = ()

    def get(self, name: str) -> Subagent | None:
        return next((agent for agent in self.agents if agent.name == name), None)


def folders(cwd: Path, environ: Mapping[str, str] = os.environ) -> list[tuple[Path, str, Path | None]]:
    """The project's and the user's subagents folders, the project's first: each one's path, where it comes from, and
    the folder its files must stay in (None: the user's own, whose links go where the user put them)."""
    home = home_dir(environ)
    mine, theirs = real(home / ".claude" / "agents"), real(cwd / ".claude" / "agents")  # (None: a link loop)
    found = [] if theirs in (mine, None) else [(theirs, "project", cwd.resolve())]
    return [*found, *([(mine, "user", None)] if mine is not None else [])]


def discover(cwd: Path, environ: Mapping[str, str] = os.environ) -> Found:
    """Every subagent seen from ``cwd`` and the user's home; never raises."""
    kept = trusted_files(trust_store(environ))
    offered: dict[str, Subagent] = {}
    untrusted, problems = list[Subagent](), list[str]()
    plugins = [(f, p.id, p.root) for p in enabled(environ).plugins for f in p.folders("agents")]
    for folder, source, bound in [*folders(cwd, environ), *plugins]:
        prefix = "" if source in ("project", "user") else source.split("@")[0] + ":"
        for path in _files(folder, problems):
            try:
                found = real(path, folder_real=True)
                if found is None or bound is not None and not found.is_relative_to(bound):
                    where = "the project" if source == "project" else source
                    raise ValueError(f"a link out of {where} ({found or 'a link loop'})")
                data = read_bounded(found)
                if source == "project" and kept.get(str(found)) != hashlib.sha256(data).hexdigest():
                    untrusted.append(Subagent(path.stem, "", path, source))
                    continue
                agent = _read(data.decode("utf-8"), path, source, prefix)
            except (OSError, ValueError, RuntimeError) as exc:
                problems.append(f"{path}: {skills.why(exc)}; skipped")
                continue
            if agent.name in offered:
                problems.append(f"{path}: {offered[agent.name].path} is the subagent {agent.name}; not offered")
            else:
                offered[agent.name] = agent
    return Found(tuple(offered.values()), tuple(untrusted), skills.one_line(problems))


def _files(folder: Path, problems: list[str]) -> list[Path]:
    """The ``*.md`` files in ``folder``, in order, at most MAX_FILES (more is a line in ``problems``)."""
    return [folder / name for name in skills.listed(folder, problems, MAX_FILES, "files", ".md")]


def _read(text: str, path: Path, source: str, prefix: str) -> Subagent:
    """The subagent a file's ``text`` defines; a ValueError saying why it cannot be offered."""
    fields, body = skills.parse(text)
    if not isinstance(fields, dict):
        raise ValueError("its front matter is not a mapping of fields")
    name = fields.get("name") or path.stem
    if not isinstance(name, str) or len(name) > 64 or not skills.NAME.fullmatch(name):
        raise ValueError(f"its name {str(name)[:80]!r} is not 1-64 lowercase letters, digits and single hyphens")
    description = fields.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("no description (what the subagent does and when to use it)")
    model, shown, denied = fields.get("model"), " ".join(description.split()), _names(fields.get("disallowedTools"))
    model, turns = model if isinstance(model, str) else "", fields.get("maxTurns")
    turns = turns if isinstance(turns, int) and not isinstance(turns, bool) and turns > 0 else None
    return Subagent(prefix + name, shown, path, source, _names(fields.get("tools")), model, denied or (), turns, body)


def _names(value: object) -> tuple[str, ...] | None:
    """The tools a field names, as a comma list or a YAML list; None where it names none."""
    return skills.tool_names(value) if isinstance(value, (str, list)) else None


def described(found: Found) -> str:
    """What the model is told of the ``Agent`` tool: how to delegate, and each subagent by name and description."""
    listed = "\n".join(f"- {agent.name}: {agent.description}" for agent in found.agents)
    return (
        "Launch a subagent to carry out a task on its own: it works in a conversation of its own, with its own "
        "instructions and tools, and its final answer comes back as this tool's result. It sees only your prompt: "
        "give it everything it needs. description: the task in 3-5 words; prompt: the task; subagent_type: which "
        f"subagent.\nThe subagents:\n{listed}"
    )


def trust_project(cwd: Path, environ: Mapping[str, str] = os.environ, *, revoke: bool = False) -> Found:
    """Trust the project's subagent files (its ``.claude/agents/`` at ``cwd``) as they are now, or no longer; what
    is found then."""
    project = [(folder, bound) for folder, kind, bound in folders(cwd, environ) if kind == "project"]
    found = [(real(path), bound or folder) for folder, bound in project for path in _files(folder, [])]
    files = [path for path, bound in found if path is not None and path.is_relative_to(bound)]
    skills.trust_files(environ, files, revoke, [folder for folder, _ in project])
    return discover(cwd, environ)

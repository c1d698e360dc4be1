"""Agent Skills (agentskills.io) where peers keep them: found, read leniently, trusted, offered and read on demand.

A skill is a directory holding ``SKILL.md`` (YAML front matter with ``name`` and ``description``, then the
instructions) and the files those name (``scripts/``, ``references/``, ``assets/``). chat looks where Claude Code,
codex and the others look, nearest first: the project's ``.agents/skills/`` and ``.claude/skills/`` (from the
working directory), the user's ``~/.agents/skills/`` and ``~/.claude/skills/``, then chat's own config directory's
``skills/``. A name found twice is the nearer skill's; the other is kept as shadowed, to be said.

Front matter is read as the spec's client guide asks: leniently (a value with an unquoted colon is taken whole, a
skill without a name is named by its directory; a name that differs from its directory, or a description past the
spec's 1024 characters, as Claude Code takes them, is loaded with a note ``chat skills`` says), but a skill without a
valid name or a description is one line (which file, why) and skipped, never an error. What is
read is bounded and stays in the skill folders: a file past MAX_BYTES, a directory or SKILL.md that a link leads
out of them, anything but a regular file (a FIFO never blocks) is refused with its line.

A project's skills are someone else's files (a cloned repository's): until ``chat trust`` runs in that directory
they are listed as untrusted and not offered. ``trust_project`` keeps each of their files' path and content hash
beside the trusted .env files (chatcli.trust): a SKILL.md changed since is untrusted again, and any other file of
the skill changed (or added) since is refused when read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from contextlib import suppress
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from chatcli.paths import config_dir, read_bounded, real, trust_store
from chatcli.tools.plugins import enabled, home_dir
from chatcli.trust import keep_files, trusted_files

MAX_BYTES = 256 * 1024  # a SKILL.md or one file of a skill (the spec asks for a SKILL.md under 500 lines)
MAX_DIRS = 500  # entries looked at in one skills folder
MAX_FILES = 200  # files of one skill listed, and trusted
TOOL = "activate_skill"  # the tool the catalog tells the model to call
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$\n?", re.DOTALL | re.MULTILINE)
TOP_LEVEL_VALUE = re.compile(r"^([\w-]+):[ \t]+(\S[^\n]*?)[ \t]*$", re.MULTILINE)
BRACKETED = re.compile(r"\[[^]]*\](?:\s+\[[^]]*\])+")  # ``[topic] [tone]``: words, to YAML a list and more
TOOL_NAME = re.compile(r"[^\s,()]+(?:\([^)]*\))?")  # Read, Bash(git add:*): a space inside parentheses is kept
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
ACTIVATED = re.compile(r'\A<skill_content name="([^"\s<>]+)"[ >]')  # what ``activate`` (or ``fetch``) gives begins so
EXTENSION = "io.modelcontextprotocol/skills"  # MCP's skills extension (SEP-2640): ``served``, ``fetch``
SERVED_URI = re.compile(r"[a-z][a-z0-9+.-]*://((?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*[a-z0-9-]+)/SKILL\.md")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_SERVED_FILES = 512  # the extension's bound on a skill's files


@dataclass(frozen=True)
class Skill:
    """One skill as found: what the catalog says of it, where it is, and its instructions."""

    name: str
    description: str
    path: Path  # its SKILL.md, in its directory with links resolved
    project: bool  # from the project's folders: someone else's files until ``chat trust``
    allowed_tools: tuple[str, ...] = ()  # what it may narrow the model's tools to (``allowed-tools``)
    model_may_activate: bool = True  # False: ``disable-model-invocation``, for the user's /NAME only
    body: str = field(default="", repr=False)  # the instructions, front matter stripped
    kind = "skill"  # what it is, for a line (a command file is one too: chatcli.tools.command_files)

    @property
    def directory(self) -> Path:
        """The skill's directory: its files' paths are relative to it."""
        return self.path.parent

    @property
    def where(self) -> str:
        """Where it comes from, for a line."""
        return str(self.path)


@dataclass(frozen=True)
class Served(Skill):
    """A skill an MCP server serves (its skills extension), named ``SERVER:NAME``: its files are read from the server
    when it is activated, and checked against the digests its listing gave (``fetch``)."""

    server: str = ""  # the server's name in mcp.json
    uri: str = ""  # its SKILL.md's
    manifest: tuple[tuple[str, str, int], ...] = ()  # each of its files: URI, digest ("sha256:HEX"), size
    frontmatter: Any = field(default=None, repr=False, compare=False)  # as listed: its SKILL.md's must be the same

    @property
    def directory(self) -> Path:
        raise ValueError(f"the skill {self.name} is MCP server {self.server}'s: its files are read from it")

    @property
    def where(self) -> str:
        return f"{self.uri} of MCP server {self.server}"


@dataclass(frozen=True)
class Found:
    """What discovery found: the skills offered (nearest first), those a nearer one of the same name shadows, a
    project's not trusted (as they are now), one line for each skill skipped (said as a session starts), and one
    for each loaded all the same (``notes``: said by ``chat skills`` only)."""

    skills: tuple[Skill, ...] = ()
    shadowed: tuple[Skill, ...] = ()
    untrusted: tuple[Skill, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def get(self, name: str) -> Skill | None:
        """The offered skill called ``name``, if any."""
        return next((skill for skill in self.skills if skill.name == name), None)


def folders(
    cwd: Path, environ: Mapping[str, str] = os.environ, problems: list[str] | None = None, kind: str = "skills"
) -> list[tuple[Path, bool]]:
    """The skills folders (``kind`` "commands": Claude Code's commands folders), nearest first, each once (links
    resolved), with whether it is the project's. A project's folder a link leads out of the project is never read (a
    line in ``problems``): trust in another directory's skills is that directory's, never this one's."""
    home = home_dir(environ)
    places = (".agents/skills", ".claude/skills") if kind == "skills" else (".claude/commands",)
    theirs = [cwd / place for place in places]
    mine = [home / place for place in places] + ([config_dir(environ) / "skills"] if kind == "skills" else [])
    own = {real(path) for path in mine}
    found: dict[Path, bool] = {}
    for path in theirs + mine:
        folder = real(path)
        project = path in theirs and folder not in own  # run from home, the folders are the user's
        if project and folder is not None and os.path.isdir(folder) and not folder.is_relative_to(cwd.resolve()):
            if problems is not None:
                problems.append(f"{path}: a link out of the project (to {folder}); skipped")
            continue
        if folder is not None and folder not in found:
            found[folder] = project
    return list(found.items())


def discover(cwd: Path, environ: Mapping[str, str] = os.environ) -> Found:
    """Every skill in the folders peers use, seen from ``cwd`` and the user's home; never raises."""
    problems, notes = list[str](), list[str]()
    roots = folders(cwd, environ, problems)
    kept = trusted_files(trust_store(environ)) if any(project for _, project in roots) else {}
    offered: dict[str, Skill] = {}
    shadowed, untrusted = list[Skill](), list[Skill]()
    seen: set[tuple[Path, bool]] = set()
    for root, project in roots:
        for directory, skill_md in _candidates(root, [r for r, _ in roots], problems):
            # One directory linked from two folders of a scope (as `npx skills` installs) is one skill.
            again = (skill_md, project) in seen
            seen.add((skill_md, project))
            if again or (loaded := _load(directory, skill_md, project, problems, kept, notes)) is None:
                continue
            skill, digest = loaded
            if project and kept.get(str(skill_md)) != digest:
                untrusted.append(skill)
            elif skill.name in offered:
                shadowed.append(skill)
            else:
                offered[skill.name] = skill
    for plugin in enabled(environ).plugins:  # accepted when installed: offered as PLUGIN:NAME
        for folder in plugin.folders("skills"):
            for directory, skill_md in _candidates(folder, [folder], problems):
                if (loaded := _load(directory, skill_md, False, problems, {}, notes)) is not None:
                    named = replace(loaded[0], name=f"{plugin.name}:{loaded[0].name}")
                    offered.setdefault(named.name, named)
    return Found(tuple(offered.values()), tuple(shadowed), tuple(untrusted), one_line(problems), one_line(notes))


def one_line(lines: Iterable[str]) -> tuple[str, ...]:
    """Each line with its line breaks made visible (a folder's or a file's name is one line too)."""
    return tuple(line.translate({10: "\\n", 13: "\\r"}) for line in lines)


def _candidates(root: Path, roots: list[Path], problems: list[str]) -> Iterator[tuple[Path, Path]]:
    """Each skill directory right under ``root`` and its SKILL.md, links resolved: a directory a link leads out of
    the skills folders, or a SKILL.md out of its directory, is a line in ``problems``."""
    for name in listed(root, problems, MAX_DIRS, "entries"):
        directory = real(root / name, folder_real=True)
        if directory is None or not os.path.isdir(directory) or not os.path.lexists(directory / "SKILL.md"):
            continue  # a file (a README), or a folder that is not a skill
        if not any(directory != r and directory.is_relative_to(r) for r in roots):
            problems.append(f"{root / name}: a link out of the skills folders (to {directory}); skipped")
            continue
        skill_md = real(directory / "SKILL.md", folder_real=True)
        if skill_md is None or not skill_md.is_relative_to(directory):
            problems.append(f"{directory / 'SKILL.md'}: a link out of its skill's directory; skipped")
            continue
        yield directory, skill_md


def listed(folder: Path, problems: list[str], most: int, what: str, suffix: str = "") -> list[str]:
    """The names in ``folder`` that end with ``suffix``, hidden ones left out, in order: at most ``most`` (more is a
    line in ``problems`` naming them ``what``, as a folder that cannot be read is; none where there is no folder)."""
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(suffix) and not name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        problems.append(f"{folder}: {why(exc)}")
        return []
    if len(names) > most:
        problems.append(f"{folder}: more than {most} {what}; the first {most} were read")
    return names[:most]


def _load(
    directory: Path, skill_md: Path, project: bool, problems: list[str], kept: Mapping[str, str], notes: list[str]
) -> tuple[Skill, str] | None:
    """The skill in ``directory`` and the SHA-256 of its SKILL.md, or None with a line in ``problems`` (one loaded all
    the same: a line in ``notes``); a project's not trusted (``kept``) as it is is named by its directory, its text
    never parsed."""
    path = directory / "SKILL.md"
    try:
        data = read_bounded(skill_md)
        digest = hashlib.sha256(data).hexdigest()
        if project and kept.get(str(skill_md)) != digest:
            return Skill(directory.name, "", path, project), digest
        fields, body = parse(data.decode("utf-8"))
        skill = _skill(fields, body, path, project)
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: {why(exc)}; skipped")
        return None
    if skill.name != directory.name:
        notes.append(f"{path}: its name {skill.name!r} is not its directory's; loaded")
    if len(skill.description) > 1024:  # as Claude Code loads it (Anthropic's claude-api skill has 1,068)
        notes.append(f"{path}: its description has {len(skill.description):,} characters (the spec says 1,024); loaded")
    return skill, digest


def parse(text: str, optional: bool = False) -> tuple[Any, str]:
    """SKILL.md's front matter (as YAML gives it) and its body, leniently as the spec's client guide asks: a value
    with an unquoted colon (``description: Use when: ...``) or bracketed words (``argument-hint: [topic] [tone]``),
    which YAML refuses and the peers take, is taken whole.
    A ValueError if there is no front matter (unless ``optional``: then the text is all body), or it is not YAML even
    so."""
    import yaml

    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if (match := FRONT_MATTER.match(text)) is None and optional:
        return {}, text.strip()
    if match is None:
        raise ValueError("no front matter (a --- line, the fields, a --- line) at its top")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # What a value YAML cannot make raises too: a date out of range, an integer past Python's digits, deep nesting.
    unreadable = (yaml.YAMLError, RecursionError, ValueError, TypeError)
    body = text[match.end() :].strip()
    with suppress(*unreadable):
        return yaml.load(match.group(1), Loader=loader), body
    try:
        return yaml.load(TOP_LEVEL_VALUE.sub(_quoted, match.group(1)), Loader=loader), body
    except unreadable as exc:
        raise ValueError(f"its front matter is not YAML ({' '.join(str(exc).split())[:200]})") from None


def _quoted(match: re.Match[str]) -> str:
    """A top-level ``key: value`` line, its value quoted when what YAML refuses is an unquoted colon in it, or
    bracketed words that are no list."""
    key, value = match.groups()
    if not BRACKETED.fullmatch(value) and (value[0] in "'\"|>[{&*!#" or not (": " in value or value.endswith(":"))):
        return match.group()
    return f"{key}: {json.dumps(value, ensure_ascii=False)}"  # a JSON string is a YAML double-quoted one


def _skill(fields: Any, body: str, path: Path, project: bool) -> Skill:
    """The skill ``fields`` (its front matter) describe; a ValueError saying why it cannot be offered."""
    if not isinstance(fields, dict):
        raise ValueError("its front matter is not a mapping of fields")
    name = fields.get("name") or path.parent.name  # Claude Code names a skill without one by its directory
    if not isinstance(name, str) or len(name) > 64 or not NAME.fullmatch(name):
        shown = repr(name[:80]) if isinstance(name, str) else "that is not text"
        raise ValueError(f"its name {shown} is not 1-64 lowercase letters, digits and single hyphens")
    description = fields.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("no description (what the skill does and when to use it)")
    manual = fields.get("disable-model-invocation") is True
    tools = tool_names(fields.get("allowed-tools"))
    return Skill(name, " ".join(description.split()), path, project, tools, not manual, body)


def tool_names(value: Any) -> tuple[str, ...]:
    """The tools a front matter's field names (``allowed-tools``, a subagent's ``tools``): a text of names, or a
    list of them; none for anything else."""
    listed = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(tool for item in listed if isinstance(item, str) for tool in TOOL_NAME.findall(item))


def served(found: Found, servers: Iterable[Any]) -> Found:
    """``found`` and then the skills each MCP server of ``servers`` serves (its listing's ``skills``: the entries of
    the extension's ``skills/list``), each ``SERVER:NAME`` (``SERVER:PATH`` for a name it lists twice), so that none
    shadows another's. An entry not as the extension says is one line, and skipped."""
    skills, problems = list(found.skills), list(found.problems)
    for server in servers:
        entries = list(islice(server.listing.data.get("skills") or () if server.offers else (), MAX_DIRS + 1))
        if len(entries) > MAX_DIRS:
            problems.append(f"MCP server {server.name}: more than {MAX_DIRS} skills; the first {MAX_DIRS} were read")
        for entry in entries[:MAX_DIRS]:
            try:
                skill = _served(server.name, entry)
                if any(isinstance(s, Served) and (s.server, s.uri) == (skill.server, skill.uri) for s in skills):
                    raise ValueError(f"{skill.uri} is listed twice")
                if any(s.name == skill.name for s in skills):
                    path = SERVED_URI.fullmatch(skill.uri).group(1)  # type: ignore[union-attr]
                    skill = replace(skill, name=f"{server.name}:{path}")
                skills.append(skill)
            except ValueError as exc:
                problems.append(f"MCP server {server.name}: {exc}; skipped".translate({10: "\\n", 13: "\\r"}))
    return replace(found, skills=tuple(skills), problems=tuple(problems))


def _served(server: str, entry: Any) -> Served:
    """The skill a ``skills/list`` entry of ``server``'s describes; a ValueError saying why it cannot be offered."""
    uri = entry.get("uri") if isinstance(entry, dict) else None
    path = SERVED_URI.fullmatch(uri) if isinstance(uri, str) and len(uri) <= 2048 else None
    if path is None:
        raise ValueError(f"{str(uri)[:200]!r} is not the URI of a skill's SKILL.md")
    uri = path.group()
    files, root = entry.get("resources"), uri.removesuffix("SKILL.md")
    items = files if isinstance(files, list) else []
    listed = [(str(f.get("uri")), str(f.get("digest")), f.get("size")) for f in items if isinstance(f, dict)]
    good = [(u, d, n) for u, d, n in listed if u.startswith(root) and DIGEST.fullmatch(d) and type(n) is int]
    if not 0 < len(good) == len(items) <= MAX_SERVED_FILES or uri not in [u for u, _, _ in good]:
        raise ValueError(f"{uri}: its files are not listed with their sha256 digests (at most {MAX_SERVED_FILES})")
    skill = _skill(entry.get("frontmatter"), "", Path(path.group(1), "SKILL.md"), False)
    if skill.name != Path(path.group(1)).name:
        raise ValueError(f"{uri}: its name {skill.name!r} is not its path's last part")
    # Its allowed-tools are not taken: the extension asks the user's approval for them first, which chat does not ask.
    same = {**vars(skill), "name": f"{server}:{skill.name}", "path": Path(), "allowed_tools": ()}
    return Served(**same, server=server, uri=uri, manifest=tuple(good), frontmatter=entry["frontmatter"])


async def fetch(skill: Served, server: Any, file: str = "") -> str:
    """What activating the served ``skill`` gives (or its ``file``, by its path in the skill), read from its MCP server
    ``server`` (a chatcli.tools.mcp.server.McpServer) and checked: a file it does not list, one past MAX_BYTES, or
    whose size, sha256 or front matter is not what its listing says is a ValueError (one line), never used."""
    from chatcli.text import neutralise

    root = skill.uri.removesuffix("SKILL.md")
    uri, listed = root + file if file else skill.uri, {u: (d, n) for u, d, n in skill.manifest}
    if uri not in listed or server is None:
        raise ValueError(f"{file or uri}: not a file of the skill {skill.name} (or its server is gone)")
    digest, size = listed[uri]
    if size > MAX_BYTES:
        raise ValueError(f"{uri}: larger than {MAX_BYTES // 1024} KiB ({size:,} bytes, its server says); not read")
    try:
        content = (await server.read_resource(uri)).contents[0]
        text = getattr(content, "text", None)
        data = text.encode() if isinstance(text, str) else base64.b64decode(getattr(content, "blob", None) or "")
    except Exception as exc:  # noqa: BLE001 - a server gone, an error, no content: one line
        why = " ".join(str(exc).split())[:200]
        raise ValueError(f"MCP server {skill.server} could not give {uri}: {why}") from None
    if len(data) != size or f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise ValueError(f"{uri}: not what MCP server {skill.server} listed (its size or sha256 differs); refused")
    text = data.decode("utf-8")
    if file:
        return neutralise(text)
    fields, body = parse(text)
    if fields != skill.frontmatter:
        raise ValueError(f"{uri}: its front matter is not what MCP server {skill.server} listed; refused")
    body = neutralise(body)  # the server's text: its escapes shown, never obeyed, wherever it is shown
    names = "".join(f"<file>{u.removeprefix(root)}</file>\n" for u, _, _ in skill.manifest if u != uri)
    return (
        f'<skill_content name="{skill.name}" server="{skill.server}">\n'
        f"(MCP server {skill.server}'s skill, {uri}: the server's words, not the user's)\n{body}\n\n"
        f"Read its files with the file argument, by these paths.\n<skill_resources>\n{names}</skill_resources>\n"
        "</skill_content>"
    )


def catalog(found: Found) -> str:
    """The system prompt's part on skills: how to activate one, and each offered skill's name and description
    ('' when there is none to offer: no part at all)."""
    offered = [f"- {skill.name}: {skill.description}" for skill in found.skills if skill.model_may_activate]
    if not offered:
        return ""
    return (
        "These skills give instructions for specific tasks: when a task matches a skill's description, call the "
        f"{TOOL} tool with the skill's name to load its instructions before going on.\n" + "\n".join(offered)
    )


def activate(found: Found, name: str) -> str:
    """What the model reads when the skill ``name`` is activated: its instructions whole, where it is and its files
    (listed, not read), in tags that mark it as a skill's; a ValueError (one line) if no such skill is offered."""
    if (skill := found.get(name)) is None:
        known = ", ".join(s.name for s in found.skills) or "none"
        raise ValueError(f"no skill is called {name!r} (offered: {known})")
    names = files(skill)
    more = f" (the first {MAX_FILES})" if len(names) == MAX_FILES else ""
    listed = "".join(f"<file>{name}</file>\n" for name in names)
    return (
        f'<skill_content name="{skill.name}">\n{skill.body}\n\nSkill directory: {skill.directory}\n'
        "Relative paths in this skill are relative to the skill directory.\n"
        f"<skill_resources{more}>\n{listed}</skill_resources>\n</skill_content>"
    )


def active(texts: Iterable[str]) -> set[str]:
    """The skills activated in ``texts`` (a turn's question and its skills tool's results)."""
    return {match.group(1) for text in texts if (match := ACTIVATED.match(text))}


def allows(allowed: tuple[str, ...], name: str, server: str, tool: str, peer: str = "") -> bool:
    """Whether a skill's ``allowed-tools`` name the tool offered as ``name`` (``tool`` of MCP server ``server``:
    ``mcp__SERVER__TOOL`` or ``mcp__SERVER__*``; chat's own by their names or Claude Code's, ``peer``: Bash, Read)."""
    mcp = (["mcp", server, "*"], ["mcp", server, tool])
    theirs = {peer.lower(), "ls" if name == "list_directory" else ""} - {""}  # (LS: Claude Code's older name)
    bases = (item.split("(", 1)[0] for item in allowed)  # Bash(git add:*) is Bash
    return any(base.split("__") in mcp or base == name or base.lower() in theirs for base in bases)


def files(skill: Skill) -> tuple[str, ...]:
    """The skill's files but its SKILL.md (at most MAX_FILES), by path relative to its directory."""
    return tuple(islice((name for name in _walk(skill.directory) if name != "SKILL.md"), MAX_FILES))


def _walk(directory: Path) -> Iterator[str]:
    """Each file under ``directory`` by relative path, in order; hidden folders and links to folders not entered."""
    for top, subdirs, names in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(names):
            yield os.path.relpath(os.path.join(top, name), directory)


def read(skill: Skill, relative: str, environ: Mapping[str, str] = os.environ) -> str:
    """The text of the file ``relative`` to the skill's directory, read on demand; a ValueError (one line) for
    anything that resolves outside the directory, is not a regular text file under MAX_BYTES, or (a project's
    skill) changed since ``chat trust``."""
    target = real(skill.directory / relative)
    if target is None or target == skill.directory or not target.is_relative_to(skill.directory):
        raise ValueError(f"{relative}: not a file of the skill {skill.name}")
    try:
        data = read_bounded(target)
        if skill.project and trusted_files(trust_store(environ)).get(str(target)) != hashlib.sha256(data).hexdigest():
            raise ValueError("changed or added since chat trust was run in the project")
        return data.decode("utf-8")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{relative}: {why(exc)}") from None


def trust_project(cwd: Path, environ: Mapping[str, str] = os.environ, *, revoke: bool = False) -> Found:
    """Trust every file of the project's skills (the folders at ``cwd``) as it is now, or no longer; what is found
    then."""
    roots = folders(cwd, environ)
    project = [root for root, own in roots if own]
    skills = [directory for root in project for directory, _ in _candidates(root, [r for r, _ in roots], [])]
    found = [(real(d / name), d) for d in skills for name in islice(_walk(d), MAX_FILES + 1)]  # SKILL.md and more
    files = [path for path, directory in found if path is not None and path.is_relative_to(directory)]
    trust_files(environ, files, revoke, project)
    return discover(cwd, environ)


def trust_files(environ: Mapping[str, str], files: Iterable[Path], revoke: bool, under: Iterable[Path]) -> None:
    """Trust a project's ``files`` as they are now, or no longer (``revoke``: with whatever was trusted ``under`` its
    folders before, gone since); a file that cannot be read stays unreadable."""
    store, digests = trust_store(environ), dict[str, str | None]()
    for path in files:
        with suppress(OSError, ValueError):
            digests[str(path)] = None if revoke else hashlib.sha256(read_bounded(path)).hexdigest()
    if revoke:
        prefixes = tuple(f"{folder}{os.sep}" for folder in under)
        digests.update({path: None for path in trusted_files(store) if path.startswith(prefixes)})
    if digests:
        keep_files(store, digests)


def why(exc: Exception) -> str:
    """Why a file could not be read, in a few words."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or exc})"
    return str(exc)

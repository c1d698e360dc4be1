"""Claude Code's plugins (code.claude.com/docs/en/plugins-reference): marketplaces, installs, and what an enabled
plugin brings (skills, commands, agents, hooks, MCP servers), namespaced by the plugin as Claude Code names them.

Two kinds of install are read. Claude Code's (``~/.claude/plugins/installed_plugins.json``, on while ``enabledPlugins``
in ``~/.claude/settings.json`` says so) are the user's own, as that file is: used as they stand. chat's own (``chat
plugin install NAME@MARKET``) are copied under chat's data directory (0700) once what they will run was shown and
accepted; each file's digest is kept then, and a plugin whose files changed since is not used until ``chat plugin
update`` shows it again and it is accepted. A marketplace is a directory or git repository holding
``.claude-plugin/marketplace.json``; a plugin is a folder of ``skills/``, ``commands/``, ``agents/``,
``hooks/hooks.json`` and ``.mcp.json`` (or what its ``.claude-plugin/plugin.json`` names instead), every path inside
it. Nothing read here is trusted to be well formed: a problem is one line naming the plugin and why, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from chatcli.errors import UsageError
from chatcli.paths import data_dir, private_dir, read_bounded, real, write_private

MAX_FILES = 2000  # files of one plugin kept (and checked at each start)
MAX_JSON = 1024 * 1024  # a plugin's or marketplace's JSON file
KINDS = ("skills", "commands", "agents")
UNKEPT = frozenset({".git", "__pycache__"})
ID = re.compile(r"([A-Za-z0-9][\w.-]*)@([A-Za-z0-9][\w.-]*)")
GITHUB = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")  # OWNER/REPO
GIT = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}  # nothing asked, no LFS fetched
NOT_NAMED = re.compile(r"[^A-Za-z0-9_-]")  # what Claude Code replaces with - in a plugin's data folder's name
# What ends a script's name, in any case: listed before an install, as chatcli.tools.hooks pins a project's scripts.
SCRIPTS = (".sh", ".bash", ".zsh", ".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".php")
_READ: ContextVar[dict[str, Enabled] | None] = ContextVar("plugins_read", default=None)


@dataclass(frozen=True)
class Plugin:
    """One installed plugin: ``root`` its installed version's folder, links resolved (``${CLAUDE_PLUGIN_ROOT}``),
    ``data`` its folder kept across updates (``${CLAUDE_PLUGIN_DATA}``), ``own`` installed by chat (else by Claude
    Code)."""

    name: str
    market: str
    root: Path
    data: Path
    own: bool = True
    version: str = ""
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        return f"{self.name}@{self.market}"

    def folders(self, kind: str) -> list[Path]:
        """The plugin's existing folders of ``kind`` (skills, commands, agents): the default one, and those its
        plugin.json names beside it, each inside the plugin."""
        named = self.manifest.get(kind)
        paths = [kind, *([named] if isinstance(named, str) else named if isinstance(named, list) else [])]
        found = [self.inside(p) for p in paths if isinstance(p, str)]
        return list(dict.fromkeys(p for p in found if p is not None and p.is_dir()))

    def inside(self, relative: str) -> Path | None:
        """``relative`` in the plugin (``${CLAUDE_PLUGIN_ROOT}`` expanded), or None where it leads out of it."""
        root = str(self.root)
        path = os.path.normpath(os.path.join(root, self.expand(relative)))
        if path != root and not path.startswith(root + os.sep):
            return None
        # (``root`` is real: only a link inside the plugin can lead out of it, and only one is resolved)
        step, linked = root, False
        for part in path[len(root) + 1 :].split(os.sep) if path != root else ():
            step = os.path.join(step, part)
            linked = linked or os.path.islink(step)
        found = real(Path(path)) if linked else Path(path)
        return found if found is not None and found.is_relative_to(self.root) else None

    def expand(self, text: str) -> str:
        """``text`` with ``${CLAUDE_PLUGIN_ROOT}`` and ``${CLAUDE_PLUGIN_DATA}`` in it replaced."""
        for key, value in self.environ().items():
            text = text.replace("${%s}" % key, value)
        return text

    def environ(self) -> dict[str, str]:
        """What a hook or server of the plugin finds in its environment."""
        return {"CLAUDE_PLUGIN_ROOT": str(self.root), "CLAUDE_PLUGIN_DATA": str(self.data)}

    def tables(self, key: str, default: str) -> Iterator[tuple[Path, Any]]:
        """Each of the plugin's ``hooks`` or ``mcpServers`` tables, with where it was read: plugin.json's (inline, a
        path or a list of paths) and the default file (``default``), parsed; a ValueError for one that cannot be."""
        named = self.manifest.get(key)
        if isinstance(named, dict):
            yield self.root / ".claude-plugin" / "plugin.json", named
        files = [default, *([named] if isinstance(named, str) else named if isinstance(named, list) else [])]
        for each in dict.fromkeys(f for f in files if isinstance(f, str)):
            path = self.inside(each)
            if path is None:
                raise ValueError(f"{self.id}: {each} leads out of the plugin")
            if path.is_file():
                yield path, read_json(path)


@dataclass(frozen=True)
class Enabled:
    """The plugins in effect, and one line for each installed one that is not (changed since accepted, unreadable)."""

    plugins: tuple[Plugin, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Market:
    """A marketplace: its name, where it came from (``source`` as given) and the folder it is read from."""

    name: str
    source: str
    path: Path
    added: bool = True  # False: only named by a settings file's extraKnownMarketplaces

    def entries(self) -> list[dict[str, Any]]:
        """Its plugins as marketplace.json lists them."""
        listed = read_json(self.path / ".claude-plugin" / "marketplace.json").get("plugins")
        return [e for e in listed if isinstance(e, dict) and isinstance(e.get("name"), str)] if listed else []


def home_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where chat keeps its plugins: their copies, their data, the marketplaces it cloned, and state.json."""
    return data_dir(environ) / "plugins"


def enabled(environ: Mapping[str, str] = os.environ) -> Enabled:
    """The plugins in effect: chat's installs as accepted, then Claude Code's that ``~/.claude/settings.json``
    enables (one of the same id is chat's)."""
    key, read = str(state_dir(environ)) + "\0" + str(home_dir(environ)), _READ.get()
    if read is not None and key in read:
        return read[key]
    state, problems = _state(environ), []
    found: dict[str, Plugin] = {}
    for name, entry in state["plugins"].items():
        plugin = _own(name, entry, environ)
        if plugin is None or not entry.get("enabled", True):
            continue
        if (changed := _changed(plugin.root, entry.get("files") or {})) is not None:
            problems.append(f"plugin {name}: {changed} changed since installed; chat plugin update {name} shows it")
        else:
            found[name] = plugin
    for plugin in claude_installs(environ):
        if plugin.id not in found and plugin.id not in state["plugins"] and plugin.id not in state["off"]:
            found[plugin.id] = plugin
    result = Enabled(tuple(found.values()), tuple(problems))
    if read is not None:
        read[key] = result
    return result


@contextmanager
def session() -> Iterator[None]:
    """Within it, the plugins in effect are read once, as a session starts (and again after chat's own change)."""
    token = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(token)


def claude_installs(environ: Mapping[str, str], every: bool = False) -> list[Plugin]:
    """Claude Code's user installs, those its settings enable (``every``: all)."""
    home = home_dir(environ) / ".claude"
    on = read_json(home / "settings.json").get("enabledPlugins") or {}
    listed = read_json(home / "plugins" / "installed_plugins.json").get("plugins") or {}
    found = []
    for key, entries in listed.items() if isinstance(listed, dict) else ():
        match = ID.fullmatch(str(key))
        install = next((e for e in entries if isinstance(e, dict) and e.get("installPath")), None) if entries else None
        if match and install and (every or isinstance(on, dict) and on.get(key) is True):
            root, version = Path(os.path.realpath(install["installPath"])), str(install.get("version") or "")
            data = home / "plugins" / "data" / NOT_NAMED.sub("-", key)
            found.append(Plugin(match[1], match[2], root, data, False, version, _manifest(root)))
    return found


def _own(key: str, entry: Any, environ: Mapping[str, str]) -> Plugin | None:
    match = ID.fullmatch(key)
    if not match or not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    root, version = Path(os.path.realpath(entry["path"])), str(entry.get("version") or "")
    return Plugin(match[1], match[2], root, state_dir(environ) / "data" / key, True, version, _manifest(root))


def _manifest(root: Path) -> dict[str, Any]:
    return read_json(root / ".claude-plugin" / "plugin.json")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` ({} where there is none); a ValueError for one that is not an object."""
    try:
        data = read_bounded(path, MAX_JSON, follow=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{path}: not a JSON object")
    return parsed


def _state(environ: Mapping[str, str]) -> dict[str, Any]:
    """chat's plugin state: {"markets": {NAME: {source, path}}, "plugins": {ID: {path, version, enabled, files}},
    "off": [Claude Code's installs turned off in chat]}."""
    try:
        state = read_json(state_dir(environ) / "state.json")
    except ValueError:
        state = {}
    return {"markets": state.get("markets") or {}, "plugins": state.get("plugins") or {}, "off": state.get("off") or []}


def _save(state: dict[str, Any], environ: Mapping[str, str]) -> None:
    if (read := _READ.get()) is not None:
        read.clear()
    write_private(state_dir(environ) / "state.json", json.dumps(state, indent=1, sort_keys=True))


def _files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every file of the plugin at ``root``, by its path in it, with its ``lstat`` (a link as a file; ``.git`` and the
    bytecode Python writes as its scripts run left out)."""
    folders = [""]
    while folders:
        folder = folders.pop()
        with os.scandir(os.path.join(root, folder)) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = os.path.join(folder, entry.name)
                if not entry.is_dir(follow_symlinks=False):
                    yield name, entry.stat(follow_symlinks=False)
                elif entry.name not in UNKEPT:
                    folders.append(name)


def _digest(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    return hashlib.sha256(read_bounded(path, 64 * 1024 * 1024)).hexdigest()


def pins(root: Path) -> dict[str, list[Any]]:
    """Each file of the plugin at ``root``, by relative path: [size, mtime_ns, SHA-256] (a link: its target)."""
    found: dict[str, list[Any]] = {}
    for name, facts in _files(root):
        if len(found) >= MAX_FILES:
            raise UsageError(f"{root}: more than {MAX_FILES} files; chat does not install it")
        found[name] = [facts.st_size, facts.st_mtime_ns, _digest(root / name)]
    return found


def _changed(root: Path, kept: Mapping[str, Any]) -> str | None:
    """The first file of the plugin at ``root`` that is not as ``kept`` (added, gone or changed), or None. A file's
    size and time as kept spare reading it."""
    try:
        seen = 0
        for name, facts in _files(root):
            was, seen = kept.get(name), seen + 1
            if not isinstance(was, list) or len(was) != 3:
                return name
            if [facts.st_size, facts.st_mtime_ns] != was[:2] and _digest(root / name) != was[2]:
                return name
        return None if seen == len(kept) else "a file"
    except (OSError, ValueError):
        return str(root)


# Marketplaces


def markets(environ: Mapping[str, str] = os.environ) -> list[Market]:
    """The marketplaces chat added, then those a settings file names that it has not (extraKnownMarketplaces)."""
    listed = _state(environ)["markets"].items()
    added = [Market(n, str(e.get("source")), Path(str(e.get("path")))) for n, e in listed if isinstance(e, dict)]
    known = read_json(home_dir(environ) / ".claude" / "settings.json").get("extraKnownMarketplaces") or {}
    names = {m.name for m in added}
    for name, entry in known.items() if isinstance(known, dict) else ():
        source = _source(entry.get("source") if isinstance(entry, dict) else None)
        if name not in names and source:
            added.append(Market(name, source, Path(source), added=False))
    return added


def _source(spec: Any) -> str | None:
    """A settings file's or marketplace entry's source object as chat's SOURCE (a path, a git URL), or None."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict):
        return None
    kind = spec.get("source")
    if kind == "github" and isinstance(spec.get("repo"), str):
        return f"https://github.com/{spec['repo']}.git"
    where = spec.get("url" if kind in ("git", "url") else "path" if kind == "directory" else "")
    return where if isinstance(where, str) else None


def _remote(source: str, github: bool = True) -> str | None:
    """The git URL ``source`` names (a URL, ``git@``, or GitHub's ``OWNER/REPO``), or None for a directory."""
    if re.match(r"(https?|git|ssh|file)://|git@", source):
        return source
    if github and GITHUB.fullmatch(source) and not os.path.exists(source):
        return f"https://github.com/{source}.git"
    return None


def _git(what: str, *command: str) -> None:
    """Run ``git COMMAND``; a UsageError saying it cannot ``what`` (git's last line) when it fails."""
    try:
        done = subprocess.run(["git", *command], capture_output=True, text=True, timeout=600, env=GIT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot {what}: {exc}") from None
    if done.returncode:
        raise UsageError(f"cannot {what}: {(done.stderr.strip().splitlines() or ['git failed'])[-1]}")


def _clone(url: str, into: Path, ref: str | None = None) -> None:
    """Clone ``url`` (its ``ref``) into ``into``, in one line when git cannot."""
    _git(f"clone {url}", "clone", "--quiet", "--depth", "1", *(["--branch", ref] if ref else []), "--", url, str(into))


def add_market(source: str, environ: Mapping[str, str] = os.environ) -> Market:
    """Add the marketplace at ``source`` (a directory, read where it is; a git URL or ``OWNER/REPO``, cloned)."""
    state = _state(environ)
    url = _remote(source)
    if url is None:
        path = Path(source).expanduser().resolve()
    else:
        path = Path(_temporary(private_dir(state_dir(environ) / "markets")))
        _clone(url, path)
    try:
        name = read_json(path / ".claude-plugin" / "marketplace.json").get("name")
    except ValueError as exc:
        name = exc
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        _discard(path, url)
        raise UsageError(f"{source}: no marketplace (.claude-plugin/marketplace.json with a name) there")
    if (held := state["markets"].get(name)) and held.get("source") != source:
        _discard(path, url)
        hint = f"chat plugin marketplace remove {name} first"
        raise UsageError(f"{source}: its name {name} is the marketplace added from {held.get('source')}", hint=hint)
    if url is not None:
        final = path.with_name(name)
        shutil.rmtree(final, ignore_errors=True)
        path = path.rename(final)
    state["markets"][name] = {"source": source, "path": str(path)}
    _save(state, environ)
    return Market(name, source, path)


def _temporary(parent: Path) -> str:
    import tempfile

    folder = tempfile.mkdtemp(dir=parent, prefix=".new-")
    os.rmdir(folder)
    return folder


def _discard(path: Path, cloned: Any) -> None:
    if cloned:
        shutil.rmtree(path, ignore_errors=True)


def market(name: str, environ: Mapping[str, str] = os.environ) -> Market:
    """The marketplace ``name``; one a settings file names is added first."""
    found = next((m for m in markets(environ) if m.name == name), None)
    if found is None:
        raise UsageError(f"no marketplace {name}", hint="chat plugin marketplace add SOURCE adds one")
    return found if found.added else add_market(found.source, environ)


def update_market(name: str, environ: Mapping[str, str] = os.environ) -> Market:
    """Bring a cloned marketplace up to date (a directory is read as it is)."""
    found = market(name, environ)
    if _remote(found.source) is not None:
        _git(f"update {name}", "-C", str(found.path), "pull", "--quiet", "--ff-only")
    return found


def remove_market(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Forget the marketplace ``name`` and uninstall its plugins (as Claude Code does); the ids uninstalled."""
    found = market(name, environ)
    gone = [key for key in _state(environ)["plugins"] if key.endswith(f"@{name}")]
    for key in gone:
        uninstall(key, environ)
    state = _state(environ)
    state["markets"].pop(name, None)
    _save(state, environ)
    if found.path.is_relative_to(state_dir(environ)):
        shutil.rmtree(found.path, ignore_errors=True)
    return gone


# Installs


def fetch(key: str, environ: Mapping[str, str] = os.environ) -> Plugin:
    """A new copy of the plugin ``key`` (NAME@MARKET) from its marketplace, under chat's plugins folder, not yet
    installed: what ``inventory`` shows before ``install`` keeps it."""
    match = ID.fullmatch(key)
    if not match:
        raise UsageError(f"{key}: name a plugin as NAME@MARKETPLACE", hint="chat plugin marketplace list")
    found = market(match[2], environ)
    entry = next((e for e in found.entries() if e["name"] == match[1]), None)
    if entry is None:
        names = ", ".join(e["name"] for e in found.entries()[:20]) or "none"
        raise UsageError(f"marketplace {found.name} has no plugin {match[1]} (it has: {names})")
    cache = private_dir(state_dir(environ) / "cache" / found.name / match[1])
    copy = Path(_temporary(cache)).resolve()  # (real, as an install's root is: what is shown is what runs)
    source, cloned = entry.get("source"), None
    if isinstance(source, str) and not _remote(source, github=False):
        metadata = read_json(found.path / ".claude-plugin" / "marketplace.json").get("metadata")
        base = found.path / str(metadata.get("pluginRoot") or ".") if isinstance(metadata, dict) else found.path
        origin = (base / source).resolve()
        if not origin.is_relative_to(found.path.resolve()) or not origin.is_dir():
            raise UsageError(f"{key}: its source {source} is not a folder inside the marketplace")
    elif (url := _source(source)) is not None and _remote(url):
        origin = cloned = Path(_temporary(cache))
        _clone(url, origin, source.get("ref") if isinstance(source, dict) else None)
    else:
        kind = source.get("source") if isinstance(source, dict) else source
        raise UsageError(f"{key}: a source of kind {str(kind)[:40]!r} is not one chat installs from")
    # What is never pinned (UNKEPT) is never copied either: a shipped __pycache__ would run unshown, unchecked.
    shutil.copytree(origin, copy, symlinks=True, ignore=shutil.ignore_patterns(*UNKEPT))
    _discard(origin, cloned)
    version = str(_manifest(copy).get("version") or entry.get("version") or "0")
    data = state_dir(environ) / "data" / key  # (NAME@MARKET: no two plugins share one)
    return Plugin(match[1], found.name, copy, data, True, version, _manifest(copy))


def inventory(plugin: Plugin) -> list[str]:
    """What installing ``plugin`` lets run, one line each: its hooks' commands, its MCP servers, its scripts and
    programs, then what it offers the model and the prompt (skills, commands, agents)."""
    lines: list[str] = []
    for _, table in read_tables(plugin, "hooks", "hooks/hooks.json", lines):
        events = table.get("hooks", table)
        for event, groups in events.items() if isinstance(events, dict) else ():
            for group in groups if isinstance(groups, list) else ():
                handlers = group.get("hooks") if isinstance(group, dict) else None
                for handler in handlers if isinstance(handlers, list) else ():
                    what = hook_runs(handler) if isinstance(handler, dict) else None
                    lines.append(f"hook {event} {group.get('matcher') or '*'}: {what}")
    for spec in servers_of(plugin, lines):
        lines.append(f"MCP server {spec.name}: {spec.where}")
    root = plugin.root
    for name, facts in _files(root):
        ran = stat.S_ISREG(facts.st_mode) and facts.st_mode & 0o111
        lines += [f"script {name}"] if ran or name.startswith("bin/") or name.lower().endswith(SCRIPTS) else []
    for kind, pattern in zip(KINDS, ("*/SKILL.md", "**/*.md", "**/*.md")):
        found = [p.stem if kind != "skills" else p.parent.name for f in plugin.folders(kind) for p in f.glob(pattern)]
        lines += [f"{kind}: {', '.join(sorted(found))}"] if found else []
    return [line.replace(str(root), "${CLAUDE_PLUGIN_ROOT}") for line in lines]


def hook_runs(handler: Mapping[str, Any]) -> Any:
    """What a hook's handler runs: an http hook's ``url`` (each event is posted there), else its ``command``."""
    return handler.get("url" if handler.get("type") == "http" else "command")


def read_tables(plugin: Plugin, key: str, default: str, problems: list[str]) -> list[tuple[Path, Any]]:
    """``Plugin.tables`` that are objects; one that cannot be read is a line in ``problems``."""
    try:
        return [(w, t) for w, t in plugin.tables(key, default) if isinstance(t, dict)]
    except ValueError as exc:
        problems.append(f"plugin {plugin.id}: {exc}")
        return []


def servers_of(plugin: Plugin, problems: list[str]) -> list[Any]:
    """The MCP servers ``plugin`` brings, named as Claude Code names their tools' server (``plugin_NAME_SERVER``),
    ``${CLAUDE_PLUGIN_ROOT}`` expanded and its variables set; one that cannot be read is a line in ``problems``."""
    from dataclasses import replace

    from chatcli.errors import ConfigError
    from chatcli.tools.mcp.config import parse_servers

    found = []
    for where, table in read_tables(plugin, "mcpServers", ".mcp.json", problems):
        table = table if "mcpServers" in table else {"mcpServers": table}
        try:
            specs = parse_servers(_expanded(plugin, table), str(where))
        except ConfigError as exc:
            problems.append(f"plugin {plugin.id}: {exc}")
            continue
        for spec in specs:
            if spec.oauth.get("identityTokenFile"):  # a file of the user's, sent where the server says: not for plugins
                problems.append(f"plugin {plugin.id}: {spec.name}: only your mcp.json may name an identityTokenFile")
                continue
            name, env = NOT_NAMED.sub("_", f"plugin_{plugin.name}_{spec.name}"), {**plugin.environ(), **spec.env}
            cwd = spec.cwd or (str(plugin.root) if spec.command else None)
            found.append(replace(spec, name=name, env=env, cwd=cwd))
    return found


def _expanded(plugin: Plugin, value: Any) -> Any:
    if isinstance(value, str):
        return plugin.expand(value)
    if isinstance(value, list):
        return [_expanded(plugin, v) for v in value]
    if isinstance(value, dict):
        return {k: _expanded(plugin, v) for k, v in value.items()}
    return value


def install(plugin: Plugin, environ: Mapping[str, str] = os.environ) -> Plugin:
    """Keep the copy ``fetch`` made, as accepted now (its files' digests), in place of any earlier version."""
    state = _state(environ)
    final = plugin.root.with_name(re.sub(r"[^\w.-]|^\.+", "-", plugin.version)[:64] or "0")
    kept = pins(plugin.root)
    for old in plugin.root.parent.iterdir():
        if old != plugin.root:
            shutil.rmtree(old, ignore_errors=True)
    plugin.root.rename(final)
    private_dir(plugin.data)
    entry = {"path": str(final), "version": plugin.version, "enabled": True, "files": kept}
    state["plugins"][plugin.id] = entry
    _save(state, environ)
    return Plugin(plugin.name, plugin.market, final, plugin.data, True, plugin.version, plugin.manifest)


def uninstall(key: str, environ: Mapping[str, str] = os.environ) -> None:
    """Remove chat's install of ``key``: its files, its data, its entry."""
    state = _state(environ)
    plugin = _own(key, state["plugins"].get(key), environ)
    if plugin is None:
        if any(p.id == key for p in claude_installs(environ, every=True)):
            hint = f"claude plugin uninstall {key}; here chat plugin disable {key} turns it off"
            raise UsageError(f"{key} was installed by Claude Code", hint=hint)
        raise UsageError(f"{key} is not installed", hint="chat plugin list")
    shutil.rmtree(plugin.root.parent, ignore_errors=True)
    shutil.rmtree(plugin.data, ignore_errors=True)
    with suppress(OSError):  # the marketplace's folder, when it was the last
        plugin.root.parent.parent.rmdir()
    del state["plugins"][key]
    _save(state, environ)


def switch(key: str, on: bool, environ: Mapping[str, str] = os.environ) -> None:
    """Turn the installed plugin ``key`` on or off here (Claude Code's installs too: their files are left alone)."""
    state = _state(environ)
    if key in state["plugins"]:
        state["plugins"][key]["enabled"] = on
    elif any(p.id == key for p in claude_installs(environ, every=True)):
        state["off"] = sorted(set(state["off"]) - {key} | (set() if on else {key}))
    else:
        raise UsageError(f"{key} is not installed", hint="chat plugin list")
    _save(state, environ)


def installed(environ: Mapping[str, str] = os.environ) -> list[dict[str, Any]]:
    """Every install, chat's and Claude Code's: its id, version, who installed it, its state and its folder."""
    state, on = _state(environ), {p.id for p in enabled(environ).plugins}
    found = []
    for key, entry in state["plugins"].items():
        if (plugin := _own(key, entry, environ)) is not None:
            says = "enabled" if key in on else "disabled" if not entry.get("enabled", True) else "changed"
            found.append((plugin, "chat", says))
    theirs = [p for p in claude_installs(environ, every=True) if p.id not in state["plugins"]]
    found += [(p, "Claude Code", "enabled" if p.id in on else "disabled") for p in theirs]
    return [{"id": p.id, "version": p.version, "by": by, "state": says, "path": str(p.root)} for p, by, says in found]


USAGE = "plugin marketplace add|list|update|remove [SOURCE|NAME], plugin install|update|uninstall|enable|disable "
USAGE += "NAME@MARKETPLACE, plugin list"


def act(words: list[str], accept: Callable[[list[str]], bool], environ: Mapping[str, str] = os.environ) -> list[str]:
    """What ``chat plugin WORDS`` (and ``/plugin WORDS``) does, and the lines it says. Installing or updating keeps
    the plugin only when ``accept``, shown the lines that say what it will run, says so."""
    verb, *rest = words or ["list"]
    if verb == "marketplace":
        sub, *names = rest or ["list"]
        if sub == "add" and len(names) == 1:
            found = add_market(names[0], environ)
            offered = ", ".join(e["name"] for e in found.entries()) or "none"
            return [f"added marketplace {found.name} (plugins: {offered}); chat plugin install NAME@{found.name}"]
        if sub == "list" and not names:
            named = "  (named by your settings; added when used)"
            lines = [f"{m.name}  {m.source}" + ("" if m.added else named) for m in markets(environ)]
            return lines or ["no marketplaces; chat plugin marketplace add SOURCE (a folder, a git URL, OWNER/REPO)"]
        if sub == "update":
            return [f"updated {update_market(n, environ).name}" for n in names or [m.name for m in markets(environ)]]
        if sub in ("remove", "rm") and len(names) == 1:
            gone = remove_market(names[0], environ)
            return [f"removed marketplace {names[0]}" + (f" and uninstalled {', '.join(gone)}" if gone else "")]
    elif verb in ("install", "update") and len(rest) == 1:
        if verb == "update":
            update_market(rest[0].rpartition("@")[2], environ)
        plugin = fetch(rest[0], environ)
        lines = [f"{plugin.id} {plugin.version} will run, with your rights:", *inventory(plugin)]
        if not accept(lines):
            shutil.rmtree(plugin.root, ignore_errors=True)
            return [f"not installed: chat plugin {verb} {plugin.id} --yes accepts what is listed above"]
        kept = install(plugin, environ)
        return [f"installed {kept.id} {kept.version} in {kept.root}"]
    elif verb in ("uninstall", "remove", "rm") and len(rest) == 1:
        uninstall(rest[0], environ)
        return [f"uninstalled {rest[0]}"]
    elif verb in ("enable", "disable") and len(rest) == 1:
        switch(rest[0], verb == "enable", environ)
        return [f"{verb}d {rest[0]}"]
    elif verb == "list" and not rest:
        listed = installed(environ)
        lines = [f"{p['id']}  {p['version'] or '-'}  {p['state']}  (installed by {p['by']})" for p in listed]
        return lines + list(enabled(environ).problems) or ["no plugins installed; chat plugin install NAME@MARKETPLACE"]
    raise UsageError(f"chat {' '.join(['plugin', *words])[:80]}: not a plugin command", hint=f"chat {USAGE}")

"""Where the ``shell`` tool's commands run: a bubblewrap sandbox on Linux, and the words that say so.

``workspace`` (the default): the whole filesystem read-only but the working directory and a
private /tmp; every git repository under it (a ``.git``, nested or not, a bare one: git runs what their
config and hooks name) and chat's own config, data and cache directories stay read-only even inside
the working directory, and a repository the command makes is switched off after it unless it holds
nothing git would run (``new_repositories``). ``read-only``: no writes but the private /tmp. Both hide the
user's runtime directories (``$XDG_RUNTIME_DIR``, ``/run/user/UID``, chat's own under ``$TMPDIR``),
where chat's warm worker, its MCP host and the session's agents listen, and PostgreSQL's socket
directories (``/run/postgresql``, ``$PGHOST``'s, the host ``CHATCLI_DB`` names), behind empty ones, and
put /dev/null in the place of any ``chat serve --socket`` elsewhere; get their own
network namespace (no network unless ``network`` is on), PID, IPC and UTS namespaces
(whatever the command leaves running ends with it), a session of their own (no terminal to
push keys into), die with chat, and run with no capabilities, even for root, and
no-new-privs. ``off``: the
command runs as the user, as any shell would. Where bubblewrap cannot run, the approval
block says "not sandboxed" and why: never a silent fallback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

from chatcli.paths import cache_dir, config_dir, config_path, data_dir, listening_dir, private_dir

SHELL = "/bin/sh"
INSTALL = "apt-get install bubblewrap, dnf install bubblewrap or pacman -S bubblewrap"


@dataclass(frozen=True)
class Policy:
    """A sandbox mode, whether the network is open, and chat's own files kept read-only even in the working directory.

    ``protected`` are directories (chat's config, data and cache, the roles); ``files`` are files (the
    config file, the database with its WAL and lock, the input history, mcp.json) whose
    directory is protected too, unless that directory is the working directory itself: then
    the files alone are.
    """

    mode: str = "workspace"
    network: bool = False
    protected: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    # Directories the command sees empty: where the user's session and chat's worker listen.
    hidden: tuple[str, ...] = ()
    # Variables the command gets though they look like a credential's (the user's ``shell_env``).
    passed: tuple[str, ...] = ()


def policy_for(settings: Any, environ: Mapping[str, str] = os.environ) -> Policy:
    """The policy of ``settings``, with chat's config, data and cache directories and its database protected."""
    places = [str(config_dir(environ)), str(data_dir(environ)), str(cache_dir(environ))]
    places += [settings.roles_dir] if settings.roles_dir else []
    files = [str(config_path(environ)), *(p for p in (settings.history_file, settings.mcp_config) if p)]
    if settings.db and "://" not in settings.db:
        files += [settings.db + suffix for suffix in ("", "-wal", "-shm", ".lock")]
    passed = tuple(getattr(settings, "shell_env", ()) or ())
    hidden = runtime_places(environ, settings.db) + secret_places(environ)
    return Policy(settings.sandbox, settings.network, _real(places), _real(files), hidden, passed)


def secret_places(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Where chat keeps credentials of its own (the MCP servers' OAuth tokens): seen empty by a sandboxed command,
    which may read the rest of chat's data directory. Made (0700) if missing, so that there is a place to hide."""
    place = data_dir(environ) / "mcp-auth"
    try:
        private_dir(place)
    except OSError:
        return ()
    return _real([str(place)])


def served_sockets(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The unix sockets a running ``chat serve --socket`` listens on, wherever they are (see chatcli.paths)."""
    found = []
    try:
        notes = list(listening_dir(environ).iterdir())
    except OSError:
        return []
    for note in notes:
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(note.name), 0)  # a server that is gone left its note: not masked, not a concern
            path = note.read_text(encoding="utf-8").strip()
            if os.path.isabs(path) and os.path.exists(path):
                found.append(path)
    return found


def runtime_places(environ: Mapping[str, str], db: str | None = None) -> tuple[str, ...]:
    """The directories where this user's sockets live outside /tmp (the sandbox's /tmp is its own already).

    ``$XDG_RUNTIME_DIR`` and ``/run/user/UID`` (the warm worker's socket, the MCP host's, ``chat serve --socket``
    put there, ssh-agent, D-Bus ...), the worker's fallback ``$TMPDIR/chatcli-UID``, and PostgreSQL's (the usual
    ones, ``$PGHOST``'s and the host of a ``postgresql://`` ``db``), where peer authentication lets this user in.
    """
    uid = os.getuid()
    candidates = [environ.get("XDG_RUNTIME_DIR") or "", f"/run/user/{uid}", "/run/postgresql", "/var/run/postgresql"]
    fallback = os.path.join(environ.get("TMPDIR") or "/tmp", f"chatcli-{uid}")  # the worker's, without the first
    candidates += [fallback, *environ.get("PGHOST", "").split(",")]
    if db and "://" in db:
        from chatcli.store.postgres.driver import hosts

        candidates += hosts(db)
    places = _real([c for c in candidates if os.path.isabs(c)])
    return tuple(p for p in places if os.path.isdir(p) and p != "/" and not (p + "/").startswith("/tmp/"))


def _real(paths: Sequence[str]) -> tuple[str, ...]:
    """Each path absolute with links resolved, as bubblewrap mounts it; once each."""
    return tuple(dict.fromkeys(os.path.realpath(os.path.expanduser(p)) for p in paths))


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str) -> str | None:
    """Why ``bwrap`` cannot start a sandbox here (its first line of complaint), or None if it can."""
    argv = bwrap_argv(bwrap, Policy("read-only"), "/", (), ":")  # a read-only sandbox of /, with a command's options
    try:  # (a kernel may refuse one of them)
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return (done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit code {done.returncode}"])[0]


def unavailable() -> str | None:
    """Why commands cannot be sandboxed on this machine, or None when they can."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux and bubblewrap; this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed ({INSTALL})"
    problem = _probe(bwrap)
    return None if problem is None else f"bubblewrap cannot start a sandbox here ({problem})"


def repositories(workdir: Path, known: Collection[str] = ()) -> list[str]:
    """Each directory under ``workdir`` that git may take for a repository's own, for it holds HEAD (a ``.git``,
    nested or not, a bare repository, a submodule's; HEAD a file or a link), links not followed, but those in
    ``known`` and theirs; and each directory it cannot read (git may go through it all the same)."""
    found: list[str] = []
    for top, dirs, files in os.walk(workdir, onerror=lambda error: found.append(str(error.filename))):
        found += [top] if "HEAD" in files + dirs and top not in known else []
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in known]
    return found


# What git clone and git init write (and hooks' samples): nothing git runs. Any other key, a hook or a commondir may.
SAFE_GIT = re.compile(
    r"core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks|worktree)"
    r"|extensions\.objectformat|(remote|submodule)\.(.+\.)?(url|fetch|active)|branch\..+\.(remote|merge)"
    r"|hooks/[^/]+\.sample"
)
SWITCHED_OFF = "[switched off: {} (git repositories the command made, whose config or hooks git would run outside the "
SWITCHED_OFF += "sandbox; their HEAD is renamed HEAD.sandboxed: look at them before renaming it back)]"


def new_repositories(argv: Sequence[str], workdir: Path) -> str:
    """After a command run in the workspace sandbox (``argv``), each git repository it made under ``workdir`` whose
    config or hooks hold more than ``SAFE_GIT`` is switched off (HEAD renamed HEAD.sandboxed): a line saying which
    (the first of the command's result), or ""."""
    if "--bind" not in argv[:-1]:  # (the last is the command)
        return ""
    off, known = [], {argv[i + 2] for i, a in enumerate(argv[:-3]) if a == "--ro-bind"}
    places = repositories(workdir, known)
    for place in places:
        if not os.path.lexists(os.path.join(place, "HEAD")):  # a directory it made unreadable: opened, looked into
            with contextlib.suppress(OSError):
                os.chmod(place, os.lstat(place).st_mode & 0o7777 | 0o700)
                places += [each for each in repositories(Path(place), known) if each not in places]
            continue
        config, hooks = os.path.join(place, "config"), os.path.join(place, "hooks")
        # A link's target is out of the check's sight (and the next command may write it); a commondir is another's.
        risky = os.path.lexists(os.path.join(place, "commondir"))
        risky = risky or any(os.path.islink(os.path.join(place, name)) for name in ("HEAD", "config", "hooks"))
        with contextlib.suppress(OSError, subprocess.SubprocessError):  # else not known to be harmless: off
            asked = ["git", "config", "--file", config, "--list", "--name-only"] if os.path.exists(config) else ["true"]
            done = subprocess.run(asked, capture_output=True, text=True, cwd="/", timeout=10, check=True)
            keys = done.stdout.split() + ([f"hooks/{h}" for h in os.listdir(hooks)] if os.path.lexists(hooks) else [])
            if not risky and all(map(SAFE_GIT.fullmatch, keys)):
                continue  # left on: it holds only what git clone and git init write
        off.append(os.path.relpath(place, workdir))
        try:
            os.chmod(place, os.lstat(place).st_mode & 0o7777 | 0o700)
            os.replace(os.path.join(place, "HEAD"), os.path.join(place, "HEAD.sandboxed"))
        except OSError:
            off[-1] += " (still on: look at it)"
    return SWITCHED_OFF.format(", ".join(off)) if off else ""


def read_only_inside(workdir: Path, policy: Policy) -> list[str]:
    """The paths to re-mount read-only over a writable ``workdir``: its git repositories, and chat's own files
    within it."""
    places = [*map(Path, repositories(workdir)), *map(Path, policy.protected)]
    # A file's directory, if it lies in the working directory; the file alone if it is the working directory.
    places += [f if f.parent == workdir else f.parent for f in map(Path, policy.files) if workdir in f.parents]
    inside = []
    for place in places:
        if place == workdir or place in workdir.parents:
            inside.append(str(workdir))  # the workspace itself lies in chat's own directories
            continue
        if workdir in place.parents and str(place) in policy.protected and not os.path.lexists(place):
            with contextlib.suppress(OSError):  # chat's own, not there yet: made now, or the command could fill it
                private_dir(place)
        if workdir in place.parents and os.path.lexists(place):
            inside.append(str(place))
    return list(dict.fromkeys(inside))


def bwrap_argv(
    bwrap: str, policy: Policy, workdir: str, read_only: Sequence[str], command: str, masked: Sequence[str] = ()
) -> list[str]:
    """The bubblewrap command line that runs ``command`` with /bin/sh in ``workdir`` under ``policy``'s mode, network
    and hidden places."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # Seen empty: no socket of the user's session (chat's worker included) or of PostgreSQL is reachable.
    argv += [arg for place in policy.hidden for arg in ("--tmpfs", place)]
    # After the private /tmp and the hidden places, so that a working directory under them is still there.
    argv += ["--bind" if policy.mode == "workspace" else "--ro-bind", workdir, workdir]
    argv += [arg for path in read_only if policy.mode == "workspace" for arg in ("--ro-bind", path, path)]
    # Hidden again if inside the working directory (chat's OAuth tokens when it runs in HOME): the binds showed them.
    argv += [arg for place in policy.hidden if place.startswith(workdir + "/") for arg in ("--tmpfs", place)]
    # A chat serve socket outside them: /dev/null in its place (a connection is refused).
    argv += [arg for path in masked for arg in ("--ro-bind-try", "/dev/null", path)]
    if not policy.network:
        argv.append("--unshare-net")
    # bwrap sets no-new-privs itself; its own PID namespace takes leftovers down with the shell. As root it
    # would keep every capability (remount / read-write, write to the host) unless they are dropped.
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL"]
    argv += ["--new-session", "--die-with-parent", "--chdir", workdir, "--", SHELL, "-c", command]
    return argv


def command_argv(command: str, policy: Policy, workdir: Path | None = None) -> list[str]:
    """How to run ``command`` under ``policy``: inside bubblewrap, or plain /bin/sh when off or not possible."""
    bwrap = shutil.which("bwrap")
    if policy.mode == "off" or bwrap is None or unavailable() is not None:
        return [SHELL, "-c", command]  # the approval block said so
    workdir = Path.cwd() if workdir is None else workdir
    masked = [p for p in served_sockets() if not any((p + "/").startswith(h + "/") for h in (*policy.hidden, "/tmp"))]
    return bwrap_argv(bwrap, policy, str(workdir), read_only_inside(workdir, policy), command, masked)


def describe(policy: Policy, workdir: Path | None = None) -> str:
    """One line saying where a command will run: "sandbox: workspace, no network (writes only in /path ...)"."""
    if policy.mode == "off":
        return 'not sandboxed (sandbox = "off"): the command runs with all your rights'
    if (problem := unavailable()) is not None:
        return f"not sandboxed: {problem}"
    net = "network open" if policy.network else "no network"
    if policy.mode == "read-only":
        return f"sandbox: read-only, {net} (no writes but a private /tmp)"
    return f"sandbox: workspace, {net} (writes only in {workdir or Path.cwd()} and a private /tmp)"

"""``chat trust``: let the working directory's .env set every setting, and its skills, commands and hooks
(.agents/skills, .claude/skills, .claude/commands, .claude/settings*.json) be used, as they are now (or no longer):
each shown first, then asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import typer

from chatcli import trust
from chatcli.app.run import report
from chatcli.app.shared import DEBUG, app, environment, switch
from chatcli.config import ENV_VARS
from chatcli.errors import UsageError
from chatcli.paths import shown_path, trust_store
from chatcli.text import say


@app.command("trust")
def trust_command(
    revoke: bool = switch("--revoke", "Stop trusting this directory's .env, skills and hooks."),
    yes: bool = switch("--yes -y", "Trust the skills and hooks too, without asking."),
    debug: bool = DEBUG,
) -> None:
    """Trust the .env, the skills and the hooks in this directory as they are now.

    Untrusted, a .env may set only an endpoint on this machine with its own key
    (OPENAI_BASE_URL, OPENAI_API_KEY), CHATCLI_MODEL and plain numbers and modes, as literal
    text (no ${VARIABLES}); anything that could start a program, move your conversations or
    send your key elsewhere (CHATCLI_DB, CHATCLI_TOOLS, CHATCLI_MCP_CONFIG, CHATCLI_SYSTEM, a
    remote endpoint ...) is ignored with a note. Untrusted, the project's skills (.agents/skills,
    .claude/skills) and commands (.claude/commands) are not offered and its hooks
    (.claude/settings.json, settings.local.json) do not run.

    chat trust first lists what the .env would set, each skill and each hook's command with the
    project's scripts it runs, then asks for each kind. Without a terminal to ask on, it trusts
    the .env but no skill or hook unless --yes is given. Trust is kept per file where it stands
    and its content (path and SHA-256, in chat's data directory): once a file (a hook's script
    included) changes, it is untrusted again until you run this again.
    """
    env = environment()
    try:  # no settings are loaded: the file to trust may be the one that does not load
        lines = _revoked(env) if revoke else _trusted(env, yes)
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        raise typer.Exit(report(exc, debug, None, env.stderr)) from None
    say(env.stderr, "".join(line + "\n" for line in lines))


def _trusted(env: Any, yes: bool) -> list[str]:
    """Show what trust would let in, ask for each kind (``yes``: trusted without asking), trust what was agreed;
    what is said of it."""
    from chatcli.tools import agents, command_files, hooks

    path, store = env.cwd / ".env", trust_store(env.environ)
    dotenv = trust.read_env_file(path, store, env.environ)
    found = command_files.discover(env.cwd, env.environ)
    theirs = [s for s in (*found.skills, *found.untrusted) if s.project]
    hooked = hooks.project_hooks(env.cwd, env.environ)
    offered = agents.discover(env.cwd, env.environ)
    delegates = [a for a in (*offered.agents, *offered.untrusted) if a.source == "project"]
    if dotenv is None and not theirs and not hooked and not delegates:
        raise UsageError(f"no .env here ({path}), nor skills, subagents or hooks to trust")
    shown: list[str] = []
    if dotenv is not None:
        keys = [k for k in dotenv.variables if k in ENV_VARS]
        shown.append(f"{path}: sets {', '.join(keys)}" if keys else f"{path}: sets nothing chat reads")
    shown += [f"{s.kind} {s.name}: {shown_path(s.path, env.environ)}" for s in theirs]
    for hook, files in hooked:
        scripts = [shown_path(Path(name), env.environ) for name, (_, script) in files.items() if script]
        runs = f"; runs {', '.join(scripts)}" if scripts else ""
        shown.append(f"hook {hook.event}{f' [{hook.matcher}]' if hook.matcher else ''}: {hook.command}{runs}")
    shown += [f"subagent {a.name}: {shown_path(a.path, env.environ)}" for a in delegates]
    say(env.stderr, "".join(line + "\n" for line in shown))
    asking = env.stdin_isatty and not yes
    agreed: Callable[[Any, str], bool] = lambda there, question: bool(there) and (yes or asking and ask(env, question))
    kinds = {
        "env": dotenv is not None and (not asking or ask(env, "Trust this .env?")),
        "skills": agreed(theirs, f"Offer the project's {len(theirs)} skill(s) and command(s)?"),
        "hooks": agreed(hooked, f"Let the project's {len(hooked)} hook(s) run?"),
        "subagents": agreed(delegates, f"Offer the project's {len(delegates)} subagent(s)?"),
    }
    lines = [_dotenv(path, store)] if kinds["env"] else []
    if kinds["skills"]:
        command_files.trust_project(env.cwd, env.environ)
        lines.append(f"this project's skills {', '.join(sorted({s.name for s in theirs}))}: trusted as they are now")
    if kinds["hooks"]:
        sources = sorted({str(h.source) for h, _ in hooked})
        hooks.trust_project(env.cwd, env.environ)
        lines.append(f"the hooks of {', '.join(sources)}: trusted as they are now, with the scripts they run")
    if kinds["subagents"]:
        agents.trust_project(env.cwd, env.environ)
        lines.append(f"this project's subagents {', '.join(a.name for a in delegates)}: trusted as they are now")
    found_kinds = {"skills": theirs, "hooks": hooked, "subagents": delegates}
    left = [kind for kind, there in found_kinds.items() if there and not kinds[kind]]
    if left:
        why = "" if asking else " (no terminal to ask on: chat trust --yes trusts them)"
        lines.append(f"left untrusted: the project's {' and '.join(left)}{why}")
    return lines


def ask(env: Any, question: str) -> bool:
    """The user's yes to ``question``, typed at the terminal (anything but y or yes is no)."""
    say(env.stderr, f"{question} [y/N] ")
    return env.stdin.readline().strip().lower() in ("y", "yes")


def _revoked(env: Any) -> list[str]:
    """Stop trusting the directory's .env, skills, subagents and hooks; what is said of it."""
    from chatcli.tools import agents, command_files, hooks

    path, store = env.cwd / ".env", trust_store(env.environ)
    lines = [f"{path}: {'no longer trusted' if trust.revoke(path, store) else 'was not trusted'}"]
    found = command_files.trust_project(env.cwd, env.environ, revoke=True)
    hooked = hooks.trust_project(env.cwd, env.environ, revoke=True)
    if delegated := [a.name for a in agents.trust_project(env.cwd, env.environ, revoke=True).untrusted]:
        lines.append(f"this project's subagents {', '.join(delegated)}: no longer trusted")
    if theirs := sorted({s.name for s in (*found.skills, *found.untrusted) if s.project}):
        lines.append(f"this project's skills {', '.join(theirs)}: no longer trusted")
    if sources := sorted({str(p) for p in hooked.untrusted}):
        lines.append(f"the hooks of {', '.join(sources)}: no longer trusted")
    return lines


def _dotenv(path: Path, store: Path) -> str:
    """The .env at ``path`` trusted: what is said of it."""
    keys = [k for k in trust.trust(path, store).variables if k in ENV_VARS]
    sets = f"; it sets {', '.join(keys)}" if keys else ""
    return f"trusted {path} as it is now{sets} (chat trust --revoke undoes it)"

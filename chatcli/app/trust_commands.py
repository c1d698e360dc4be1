"""``chat trust``: let the working directory's .env set every setting, and its skills and hooks (.agents/skills,
.claude/skills, .claude/settings*.json) be used, as they are now (or no longer)."""

from __future__ import annotations

from pathlib import Path

import typer

from chatcli.app.run import report
from chatcli.app.shared import DEBUG, app, environment
from chatcli.config import ENV_VARS
from chatcli.errors import UsageError
from chatcli.paths import trust_store
from chatcli.text import say


@app.command("trust")
def trust_command(
    revoke: bool = typer.Option(False, "--revoke", help="Stop trusting this directory's .env, skills and hooks."),
    debug: bool = DEBUG,
) -> None:
    """Trust the .env, the skills and the hooks in this directory as they are now.

    Untrusted, a .env may set only an endpoint on this machine with its own key
    (OPENAI_BASE_URL, OPENAI_API_KEY), CHATCLI_MODEL and plain numbers and modes, as literal
    text (no ${VARIABLES}); anything that could start a program, move your conversations or
    send your key elsewhere (CHATCLI_DB, CHATCLI_TOOLS, CHATCLI_MCP_CONFIG, CHATCLI_SYSTEM, a
    remote endpoint ...) is ignored with a note. Untrusted, the project's skills (.agents/skills,
    .claude/skills) are not offered and its hooks (.claude/settings.json, settings.local.json)
    do not run. Trust is kept per file and content (path and SHA-256, in chat's data
    directory): once a file changes, it is untrusted again until you run this again.
    """
    from chatcli.tools import hooks, skills

    env = environment()
    path = env.cwd / ".env"
    store = trust_store(env.environ)
    try:  # no settings are loaded: the file to trust may be the one that does not load
        lines = [_dotenv(path, store, revoke)] if path.exists() or revoke else []
        found = skills.trust_project(env.cwd, env.environ, revoke=revoke)
        hooked = hooks.trust_project(env.cwd, env.environ, revoke=revoke)
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        raise typer.Exit(report(exc, debug, None, env.stderr)) from None
    if theirs := sorted({s.name for s in (*found.skills, *found.untrusted) if s.project}):
        how = "no longer trusted" if revoke else "trusted as they are now (chat skills lists them)"
        lines.append(f"this project's skills {', '.join(theirs)}: {how}")
    if sources := sorted({str(h.source) for h in hooked.hooks if not h.own} | {str(p) for p in hooked.untrusted}):
        lines.append(
            f"the hooks of {', '.join(sources)}: {'no longer trusted' if revoke else 'trusted as they are now'}"
        )
    lines += [] if revoke else [f"  {h.event} runs: {h.label}" for h in hooked.hooks if not h.own]
    if not lines:
        raise typer.Exit(
            report(UsageError(f"no .env here ({path}), nor skills or hooks to trust"), debug, None, env.stderr)
        )
    say(env.stderr, "".join(line + "\n" for line in lines))


def _dotenv(path: Path, store: Path, revoke: bool) -> str:
    """The .env at ``path`` trusted (or no longer): what is said of it."""
    from chatcli import trust

    if revoke:
        return f"{path}: {'no longer trusted' if trust.revoke(path, store) else 'was not trusted'}"
    keys = [k for k in trust.trust(path, store).variables if k in ENV_VARS]
    sets = f"; it sets {', '.join(keys)}" if keys else ""
    return f"trusted {path} as it is now{sets} (chat trust --revoke undoes it)"

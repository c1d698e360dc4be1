"""``chat trust``: let the working directory's .env set every setting, as it is now (or no longer)."""

from __future__ import annotations

import typer

from chatcli.app.run import report
from chatcli.app.shared import DEBUG, app, environment
from chatcli.config import ENV_VARS
from chatcli.paths import trust_store
from chatcli.text import say


@app.command("trust")
def trust_command(
    revoke: bool = typer.Option(False, "--revoke", help="Stop trusting this directory's .env."),
    debug: bool = DEBUG,
) -> None:
    """Trust the .env in this directory as it is now, so that it may set every setting.

    Untrusted, a .env may set only an endpoint on this machine with its own key
    (OPENAI_BASE_URL, OPENAI_API_KEY), CHATCLI_MODEL and plain numbers and modes, as literal
    text (no ${VARIABLES}); anything that could start a program, move your conversations or
    send your key elsewhere (CHATCLI_DB, CHATCLI_TOOLS, CHATCLI_MCP_CONFIG, CHATCLI_SYSTEM, a
    remote endpoint ...) is ignored with a note. Trust is kept per file and
    content (path and SHA-256, in chat's data directory): once the file changes, it is
    untrusted again until you run this again.
    """
    from chatcli import trust

    env = environment()
    path = env.cwd / ".env"

    store = trust_store(env.environ)
    try:  # no settings are loaded: the file to trust may be the one that does not load
        if revoke:
            gone = trust.revoke(path, store)
            say(env.stderr, f"{path}: {'no longer trusted' if gone else 'was not trusted'}\n")
            return
        trusted = trust.trust(path, store)
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        raise typer.Exit(report(exc, debug, None, env.stderr)) from None
    keys = [k for k in trusted.variables if k in ENV_VARS]
    sets = f"; it sets {', '.join(keys)}" if keys else ""
    say(env.stderr, f"trusted {path} as it is now{sets} (chat trust --revoke undoes it)\n")

"""What every ``chat`` subcommand shares: the Typer app, common options, and the one place errors meet the user."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from chatcli.app.run import report
from chatcli.config import Settings, load_settings
from chatcli.errors import ChatError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

DB = typer.Option(None, "--db", metavar="PATH|URL", help="Conversation database: a SQLite file, or a postgresql:// URL [env: CHATCLI_DB].")
DEBUG = typer.Option(False, "--debug", help="Show tracebacks for errors.")



def guarded(debug: bool, action: Any, flags: dict[str, Any] | None = None, on_error: Any = None) -> None:
    """Load settings, run ``action(settings)``, and turn any failure into one line and an exit code.

    ``on_error(exc)``, if given, also reports the failure (--json puts an error object on stdout).
    """
    settings: Settings | None = None
    try:
        settings = load_settings(flags or {})
        action(settings)
    except (ChatError, KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the one place errors meet the user
        if on_error is not None:
            on_error(exc)
        raise typer.Exit(report(exc, debug, settings)) from None


def with_threads(action: Any) -> Any:
    """Run an async ``action(threads)`` against the database in settings; returns a settings -> None."""

    def run_it(settings: Settings) -> None:
        from chatcli.chat.session import open_threads

        async def main() -> None:
            async with open_threads(settings) as threads:
                await action(threads)

        asyncio.run(main())

    return run_it

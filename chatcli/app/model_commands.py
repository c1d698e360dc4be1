"""``chat models``: the models the endpoint lists (``GET /v1/models``), one id a line."""

from __future__ import annotations

import typer

from chatcli.app.shared import DEBUG, app, environment, guarded
from chatcli.config import Settings
from chatcli.text import json_text, say


@app.command("models")
def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of the ids (for scripts)."),
    local: bool = typer.Option(
        False, "--local", help="List the local model's (started for this) [env: CHATCLI_LOCAL=1]."
    ),
    debug: bool = DEBUG,
) -> None:
    """List the models the server offers (its /v1/models); the one in use is marked * in a terminal."""

    def action(settings: Settings) -> None:
        import asyncio
        from contextlib import ExitStack

        from chatcli.app.run import make_env_output, use_local_model
        from chatcli.chat.model import endpoint_name, list_models

        env = environment()
        with ExitStack() as stack:
            settings = use_local_model(stack, settings, env, quiet=True)
            ids = asyncio.run(list_models(settings))
        out = env.stdout
        if as_json:
            say(out, json_text(ids, ensure_ascii=False) + "\n", data=True)
        elif not ids:
            make_env_output(env).note(
                f"{endpoint_name(settings)} lists no models (set one with --model or CHATCLI_MODEL)"
            )
        elif out.isatty():
            say(out, "".join(f"{'*' if i == settings.model else ' '} {i}\n" for i in ids))
        else:
            say(out, "".join(i + "\n" for i in ids), data=True)

    guarded(debug, action, {"local": True if local else None})

"""``chat models``: the models of every provider that is set up, one name a line, as ``-m`` takes them."""

from __future__ import annotations

from chatcli.app.shared import environment, subcommand, switch
from chatcli.config import Settings
from chatcli.text import say, say_json


@subcommand("models", flags=("local",))
def models_command(
    settings: Settings,
    as_json: bool = switch("--json", "Print a JSON list of the names (for scripts)."),
    local: bool = switch("--local", "List the local model's (started for this) [env: CHATCLI_LOCAL=1]."),
) -> None:
    """List the models of each provider that is set up (the endpoint's /v1/models, Anthropic's, Gemini's,
    the models Ollama has pulled), as --model takes them; the one in use is marked * in a terminal."""
    import asyncio
    from contextlib import ExitStack

    from chatcli.app.run import make_env_output
    from chatcli.backends.own.model import endpoint_name, set_up, shown_name
    from chatcli.service.chat import Chat

    env = environment()
    output = make_env_output(env)
    with ExitStack() as stack:
        chat = Chat(settings, environ=env.environ)
        settings = chat.set_up(stack, output.note, quiet=True, checked=False)
        listing = asyncio.run(chat.models())
    if listing.failures and not listing.names:
        for label, error in listing.failures[1:]:
            output.note(f"{label}: {error}" + (f" ({error.hint})" if error.hint else ""))
        raise listing.failures[0][1]
    for label, error in listing.failures:
        output.note(f"{label} listed nothing: {error}" + (f" ({error.hint})" if error.hint else ""))
    names, out = listing.names, env.stdout
    if as_json:
        say_json(out, names, indent=None)
    elif not names:
        where = endpoint_name(settings) if len(set_up(settings)) == 1 else "the providers set up"
        output.note(f"{where} lists no models (set one with --model or CHATCLI_MODEL)")
    elif out.isatty():
        current = shown_name(settings.model)
        say(out, "".join(f"{'*' if name == current else ' '} {name}\n" for name in names))
    else:
        say(out, "".join(name + "\n" for name in names), data=True)

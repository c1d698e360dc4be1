"""chatcli: a terminal chat client for large language models.

The layers, each importing only from those below it:

    app/     the ``chat`` command: flags, one answer or the prompt, errors to exit codes
    ui/      what the user sees: the prompt, slash commands, outputs (rich, plain, JSON), Markdown
    chat/    conversations: the graph, the model, turns, threads, session wiring
    local/   the local model: when to use it, its server process
    store/   where threads live: one interface, SQLite and PostgreSQL behind it

and at the bottom ``config`` (settings), ``provider_table`` (what each provider is, which the settings
read), ``errors`` (what a user sees, with exit codes) and ``text`` (pure string helpers). Here: what a setting's
yes or no is (``flag``), which the launcher reads before anything else is imported.
"""

__version__ = "0.1.0"


def flag(value: object) -> bool | None:
    """A yes/no word (1/0, true/false, yes/no, on/off, any case) or a boolean as one; None if it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return True if text in ("1", "true", "yes", "on") else False if text in ("0", "false", "no", "off") else None

"""chatcli: a terminal chat client for large language models.

The layers, each importing only from those below it:

    app/     the ``chat`` command: flags, one answer or the prompt, errors to exit codes
    ui/      what the user sees: the prompt, slash commands, outputs (rich, plain, JSON), Markdown
    chat/    conversations: the graph, the model, turns, threads, session wiring
    local/   the local model: when to use it, its server process
    store/   where threads live: one interface, SQLite and PostgreSQL behind it

and at the bottom ``config`` (settings), ``provider_table`` (what each provider is, which the settings
read), ``errors`` (what a user sees, with exit codes) and ``text`` (pure string helpers).
"""

__version__ = "0.1.0"

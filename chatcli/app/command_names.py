"""The command line's subcommands and valued options, in a module of their own: the launcher reads
them before anything but the standard library is imported, and the Typer app routes by them."""

# Subcommands; anything else on the command line is a question (the hidden `ask`).
COMMANDS = ("threads", "show", "export", "import", "rm", "search", "title", "fork", "tools", "roles", "models", "trust", "serve", "stats", "ask", "worker")  # fmt: skip
# Options that take a value, so that their value is not mistaken for a command name.
VALUED = {"-t", "--thread", "-m", "--model", "-s", "--system", "--var", "--db", "--format", "--limit", "--at", "--as", "--memory", "--local-model", "--tools", "-a", "--attach", "-r", "--role", "--temperature", "--new-thread", "--host", "--port", "--socket", "--token", "--token-file", "--allow-host", "--since"}  # fmt: skip

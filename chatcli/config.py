"""Settings: defaults < config file < .env < environment < flags, resolved in one function.

The .env of the working directory is someone else's input until trusted: see chatcli.trust.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from chatcli.errors import ConfigError, UsageError
from chatcli.paths import config_dir, config_path, data_dir, read_config_file, trust_store

DEFAULT_MODEL = "gpt-5-mini"
DEFAULT_SYSTEM = "You are a helpful assistant."


@dataclass(frozen=True)
class Settings:
    """Everything chatcli needs to know to run, after all layers are applied."""

    model: str = DEFAULT_MODEL
    api_key: str | None = None
    base_url: str | None = None
    db: str | None = None
    system: str = DEFAULT_SYSTEM
    # The history budget's cap (estimated tokens); None: the model's own context window
    # (chatcli.backends.own.context_windows) less the reply's room, compacted near its end.
    context_tokens: int | None = None
    timeout: float = 60.0
    max_retries: int = 2
    temperature: float | None = None
    history_file: str | None = None
    # History past the budget (context_tokens): "compact" folds the older turns into a summary at the start of a
    # turn whose request would pass compact_at of it; "trim" leaves them out; "summary" folds what would not fit
    # at every step (chatcli.backends.own.compaction).
    memory: str = "compact"
    compact_at: float = 0.9
    # Most tokens in one reply; None leaves it to the server (the local model gets a share of its window).
    max_tokens: int | None = None
    # Tokens a model that thinks may spend thinking before it answers (Anthropic's extended thinking,
    # over the answer's max_tokens); None or 0: the provider's default (Anthropic's: no thinking).
    thinking_budget: int | None = None
    # The local model (chatcli.local.policy): True or False to force it on or off; None uses it only
    # when no key and no endpoint are set and it is installed.
    local: bool | None = None
    # A GGUF file for the local model instead of the bundled one (implies local).
    local_model: str | None = None
    # The local server's context window (tokens): history and reply must fit in it.
    local_n_ctx: int = 2048
    # Tools (chatcli.tools): the built-in groups turned on ("shell", "files"); False turns every
    # tool off, MCP servers included (--no-tools).
    tools: tuple[str, ...] = ()
    use_tools: bool = True
    # Tools that run without asking: "server:tool", "server:*", or a built-in ("files"); and
    # approve_all (--yes) for every call of a run.
    approve: tuple[str, ...] = ()
    approve_all: bool = False
    # Model calls with tools per question, seconds a call may take, characters of a result sent back.
    tool_rounds: int = 10
    tool_timeout: float = 120.0
    tool_result_chars: int = 20_000
    # Hooks in Claude Code's contract (chatcli.tools.hooks): config.toml's ``[hooks]`` table, as settings.json writes
    # it; and the most times a Stop hook may have one question's answer go on (``decision: block``).
    hooks: Mapping[str, Any] | None = None
    max_continuations: int = 3
    # What each request of chat's own graph carries beside its thread (chatcli.backends.own.standing): the memories
    # the user asked chat to keep (chat memory, /remember; --no-memory for one run), and the project's AGENTS.md.
    memories: bool = True
    project_instructions: bool = True
    # The model that ranks the memories by what a question is about when they do not all fit in their share
    # (``provider:model``, as ``model`` is named: ``openai:text-embedding-3-small``, ``ollama:nomic-embed-text``);
    # unset, the newest go first. Never from an untrusted .env: it chooses where the memories are sent.
    embedding_model: str | None = None
    # The MCP servers file (default: mcp.json beside config.toml in $XDG_CONFIG_HOME/chatcli).
    mcp_config: str | None = None
    # Where chat's OAuth client ID metadata document is published (an https URL with a path): chat mcp login signs
    # in with it as the client ID where a server's authorization server takes such documents, and registers
    # itself elsewhere. config.toml only, never a .env: it names who chat says it is.
    mcp_client_metadata_url: str | None = None
    # A reasoning model's thinking in a terminal: in full as it comes, instead of a few live
    # rows folded to "thought for N s" when the answer starts.
    show_thinking: bool = False
    # A line at the bottom of the prompt (chatcli.ui.status): the model, the thread and, while spending limits are
    # set, the room left under each; /status on|off for one session. Harmless display: a .env may set it.
    status_line: bool = False
    # Where roles live (default: $XDG_CONFIG_HOME/chatcli/roles).
    roles_dir: str | None = None
    # Where the shell tool runs (chatcli.tools.sandbox): "workspace", "read-only" or "off"; and
    # whether its sandbox may reach the network.
    sandbox: str = "workspace"
    network: bool = False
    # Variables a shell command gets though their names look like a credential's (KEY, TOKEN, AUTH...) or their
    # values carry a URL password; config.toml only (chatcli.tools.builtin.withheld).
    shell_env: tuple[str, ...] = ()
    # The prompt's keys: "emacs" (the default, as in bash) or "vi" (the mode shown in the prompt).
    editing_mode: str = "emacs"
    # The warm worker for one-shots (chatcli.app.launch): whether this run is a one-shot that uses it (on unless
    # CHATCLI_WORKER=0 or ``worker = false``: chatcli.local.worker_settings), and the seconds it waits idle before
    # it exits. Read by the launcher from config.toml and CHATCLI_WORKER(_IDLE), never from a .env.
    worker: bool = False
    worker_idle: float = 600.0
    # $ per million tokens over genai-prices': (model, input, output, cached input); config.toml only, never a .env.
    prices: tuple[tuple[str, float, float, float], ...] = ()
    # Spending limits in dollars, kept before each model call (chatcli.backends.own.spending): one question's calls
    # (tool rounds, compaction and summaries included), one thread's, and all threads' in the local day; None: no
    # limit. config.toml, the environment and --max-cost, never an untrusted .env (which could raise them).
    max_cost_answer: float | None = None
    max_cost_thread: float | None = None
    max_cost_day: float | None = None
    # Background replies (chat --bg) running at once, at most: one more is refused in one line. Never from a .env.
    max_jobs: int = 4
    # Files kept from tools' results (every thread's together), at most: the oldest go first, said in one line.
    max_kept_files: int = 500
    # When a background reply ends or starts waiting: "terminal" says so on one line in the terminal that started it
    # (while its shell waits at its prompt), "desktop" sends a desktop notification too, "off" neither.
    notify: str = "terminal"
    # A reply streaming at the prompt when its terminal closes (SIGHUP): "stop" keeps the part that arrived, as Ctrl-C
    # does; "background" keeps it and asks the question again as a background reply (chat --bg). Never from a .env.
    terminal_closed: str = "stop"
    # A call to a model with no known price while a limit is set: "allow" (said once) or "refuse".
    unpriced: str = "allow"
    # The other providers' variables (chatcli.providers: ANTHROPIC_API_KEY, OLLAMA_HOST...) as the layers set them.
    provider_env: tuple[tuple[str, str], ...] = ()
    # Not a setting (no layer sets it): the providers whose endpoint an untrusted .env chose. Their SDKs get none
    # of the credentials they would read from the environment by themselves (chatcli.backends.own.model).
    untrusted_endpoints: tuple[str, ...] = field(default=(), metadata={"internal": True})
    # Not a setting: the model an untrusted .env chose, never called unpriced while a spending limit is set.
    untrusted_model: str | None = field(default=None, metadata={"internal": True})
    # Not a setting: the directory the settings were read in (its .env's), where the project's AGENTS.md is looked for.
    workdir: str | None = field(default=None, metadata={"internal": True})

    def env(self, name: str) -> str | None:
        """A provider's variable, as the layers set it (None: unset)."""
        return dict(self.provider_env).get(name) or None

    def secrets(self) -> list[str]:
        """Every key these settings hold, to keep out of what is shown."""
        from chatcli.provider_table import key_variables

        keys = key_variables()
        return [v for k, v in ((None, self.api_key), *self.provider_env) if v and (k is None or k in keys)]

    def __repr__(self) -> str:  # never show a key, even in a traceback
        shown = {**{f.name: getattr(self, f.name) for f in fields(self)}, "api_key": self.api_key and "***"}
        from chatcli.provider_table import key_variables

        shown["provider_env"] = tuple((k, "***" if k in key_variables() else v) for k, v in self.provider_env)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


# Environment variables (and .env keys) and the setting each one fills: the OpenAI-compatible endpoint's own two, and
# for these settings CHATCLI_ and the setting's name in capitals (CHATCLI_MAX_JOBS sets max_jobs).
FROM_ENVIRONMENT = (
    "model db system context_tokens timeout max_retries temperature history_file memory compact_at "
    "max_tokens thinking_budget local local_model local_n_ctx tools mcp_config memories "
    "project_instructions embedding_model show_thinking status_line roles_dir sandbox network "
    "editing_mode max_cost_answer max_cost_thread max_cost_day max_jobs max_kept_files notify "
    "terminal_closed unpriced"
).split()
ENV_VARS: dict[str, str] = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    **{f"CHATCLI_{name.upper()}": name for name in FROM_ENVIRONMENT},
}

# The settings that name a mode, and their modes.
MODES = {
    "memory": ("compact", "trim", "summary"),
    "sandbox": ("workspace", "read-only", "off"),
    "notify": ("terminal", "desktop", "off"),
    "terminal_closed": ("stop", "background"),
    "unpriced": ("allow", "refuse"),
    "editing_mode": ("emacs", "vi"),
}

_FIELD_TYPES = {f.name: f.type for f in fields(Settings) if not f.metadata.get("internal")}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert a raw value to the setting's type, or fail with a message naming the source."""
    kind = _FIELD_TYPES[name]
    if value is None:
        return None
    if name == "prices":
        return _prices(value, source)
    if name == "hooks":  # read whole by chatcli.tools.hooks, which says what in it cannot run
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: hooks must be a table of events ([hooks] with PreToolUse = [...])")
        return value
    if name == "provider_env":  # each layer's variables over the lower layers'
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in value):
            raise ConfigError(f"{source}: provider_env must be pairs of names and values")
        return tuple(value)
    if "tuple" in kind:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{source}: {name} must be a list of names, got {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if "bool" in kind:  # a TOML boolean, or 1/0, true/false, yes/no, on/off as text
        from chatcli import flag

        if (found := flag(value)) is None:
            raise ConfigError(f"{source}: {name} must be true or false (1 or 0), got {value!r}")
        return found
    if "int" in kind or "float" in kind:
        return _coerce_number(name, value, source, whole="int" in kind)
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {name} must be a string, got {value!r}")
    if name in ("model", "embedding_model"):
        from chatcli.provider_table import is_model_name
        from chatcli.text import LONE_SURROGATE

        if not is_model_name(value) and not LONE_SURROGATE.search(value):  # (undecodable: said as the model is built)
            shown = repr(value[:40])
            raise ConfigError(f"{source}: {name} must be a model name (printable, no spaces, 200 at most), got {shown}")
    return value


def _coerce_number(name: str, value: Any, source: str, whole: bool) -> int | float:
    """A non-negative number setting (a ``whole`` one an int: 1.5 is refused, not cut to 1); never a boolean."""
    try:
        if isinstance(value, bool) or (whole and isinstance(value, float) and not value.is_integer()):
            raise ValueError  # int(1.5) would silently drop the fraction
        number = int(value) if whole else float(value)
        if not 0 <= number < float("inf"):  # NaN too
            raise ValueError
        return number
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} must be a non-negative number, got {value!r}") from None


def _prices(table: Any, source: str) -> tuple[tuple[str, float, float, float], ...]:
    """``[prices."model"] input = 2.5, output = 10, cached_input = 1.25`` (dollars per million tokens) as tuples."""
    names, found = ("input", "output", "cached_input"), []
    for model, p in table.items() if isinstance(table, dict) else [("", None)]:
        if (
            not isinstance(p, dict)
            or not model
            or not {"input", "output"} <= set(p) <= set(names)
            or not all(type(v) in (int, float) and 0 <= v < float("inf") for v in p.values())
        ):
            raise ConfigError(f'{source}: [prices."{model}"]: input, output, cached_input, dollars per million tokens')
        cached = p["cached_input"] if "cached_input" in p else p["input"]
        found.append((str(model), float(p["input"]), float(p["output"]), float(cached)))
    return tuple(found)


def resolve_settings(*layers: tuple[str, Mapping[str, Any]]) -> Settings:
    """Apply named layers of setting values, lowest precedence first; None and "" mean unset."""
    settings = Settings()
    for source, values in layers:
        for name, value in values.items():
            settings = _applied(settings, source, name, value)
    _check(settings)
    return settings


def _applied(settings: Settings, source: str, name: str, value: Any) -> Settings:
    """``settings`` with one layer's value of ``name`` over the lower layers' (None and "": left as it was)."""
    if name not in _FIELD_TYPES:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(_FIELD_TYPES), n=1, cutoff=0.6)
        known = ", ".join(sorted(_FIELD_TYPES))
        hint = (f"did you mean {close[0]}? " if close else "") + f"known: {known}"
        raise ConfigError(f"{source}: unknown setting {name!r}", hint=hint)
    if value is None or value == "":
        return settings
    if name == "provider_env":
        value = tuple({**dict(settings.provider_env), **dict(value)}.items())
    try:
        return replace(settings, **{name: _coerce(name, value, source)})
    except ConfigError as exc:  # a flag's value is a usage error (exit 2), a file's a config error
        raise (UsageError(str(exc), hint=exc.hint) if source == "command line" else exc) from None


def _check(settings: Settings) -> None:
    """Refuse settings that are each of the right type but out of range: too small, not a URL, an unknown mode."""
    for name, least in (("context_tokens", 100), ("max_tokens", 1), ("tool_rounds", 1), ("local_n_ctx", 512)):
        if (value := getattr(settings, name)) is not None and value < least:
            raise ConfigError(f"{name} must be at least {least}, got {value}")
    from chatcli.trust import check_url

    if settings.base_url:
        check_url(settings.base_url, "OPENAI_BASE_URL (base_url)")
    from chatcli.provider_table import url_variables

    for var, value in settings.provider_env:
        if var in url_variables():
            check_url(value if "://" in value else f"http://{value}", var)  # OLLAMA_HOST may be host:port
    if not 0.3 <= settings.compact_at <= 1.0:
        raise ConfigError(
            f"compact_at must be between 0.3 and 1.0 (a share of the history budget), got {settings.compact_at}",
            hint='memory = "trim" (CHATCLI_MEMORY=trim) turns compaction off',
        )
    for name, modes in MODES.items():
        if (mode := getattr(settings, name)) not in modes:
            raise ConfigError(f"{name} must be {', '.join(modes[:-1])} or {modes[-1]}, got {mode!r}")
    if settings.mcp_client_metadata_url is not None:
        _check_document_url(settings.mcp_client_metadata_url)
    for name in ("max_jobs", "max_kept_files"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name} must be a whole number, 1 or more, got {getattr(settings, name)}")


def _check_document_url(url: str) -> None:
    """A client ID metadata document's URL is the client's ID: https, a host, a path, nothing else (OAuth's rules)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        fits = parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")
        fits = fits and not (parts.username or parts.password or parts.fragment) and url.isprintable()
    except ValueError:
        fits = False
    if not fits:
        what = "an https URL with a path (where chat's client metadata is published)"
        raise ConfigError(f"mcp_client_metadata_url must be {what}, got {url!r}")


def provider_vars() -> list[str]:
    """The other providers' key and base-URL variables (the OpenAI-compatible endpoint's are in ENV_VARS)."""
    from chatcli.provider_table import PROVIDERS

    return [
        var for row in PROVIDERS for var in (row.key_var, *row.key_aliases, row.url_var) if var and var not in ENV_VARS
    ]


def env_layer(environ: Mapping[str, str | None]) -> dict[str, Any]:
    """Pick chatcli's variables, and the providers', out of an environment (or a parsed .env file)."""
    layer: dict[str, Any] = {name: environ[var] for var, name in ENV_VARS.items() if environ.get(var)}
    found = tuple((var, str(environ[var])) for var in provider_vars() if environ.get(var))
    return {**layer, "provider_env": found} if found else layer


def load_settings(
    flags: Mapping[str, Any], environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """Build the settings from every layer; flags left as None do not override anything."""
    return configure(flags, environ, cwd)[0]


def configure(
    flags: Mapping[str, Any], environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[Settings, list[str]]:
    """The settings from every layer, and the lines to show about the working directory's .env (see ``layered``)."""
    return layered(flags, environ, cwd)[:2]


def layered(
    flags: Mapping[str, Any], environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[Settings, list[str], list[tuple[str, dict[str, Any]]], Any]:
    """The settings, the lines about the .env, the layers they came from (lowest first) and the .env (or None).

    An untrusted .env sets only what ``chatcli.trust.safe_keys()`` allows, literally (no variables);
    an endpoint it sets must be on this machine and gets only the key it sets too, never the
    user's own.
    """
    from chatcli.trust import read_env_file, users_key_stays_home

    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path = config_path(environ)
    dotenv = read_env_file(cwd / ".env", trust_store(environ), environ)
    known = [*ENV_VARS, *provider_vars()]
    from_file = env_layer(dotenv.usable(known)) if dotenv else {}
    layers = [
        (str(path), read_config_file(path)),
        (str(cwd / ".env"), from_file),
        ("environment", env_layer(environ)),
        ("command line", {k: v for k, v in flags.items() if v is not None}),
    ]
    settings = resolve_settings(*layers)
    notes: list[str] = []
    if dotenv is not None:
        notes += [dotenv.notice(known) or ""] if dotenv.notice(known) else []
        if not dotenv.trusted:  # the user's keys never go to an endpoint it set (CVE-2025-61260's class)
            without = resolve_settings(layers[0], *layers[2:])
            settings, moved = users_key_stays_home(settings, without, dotenv)
            notes += moved
            settings = replace(settings, untrusted_model=settings.model if settings.model != without.model else None)
    return replace(_with_default_paths(settings, environ), workdir=str(cwd)), notes, layers, dotenv


def _with_default_paths(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The settings with every path the layers left unset filled in (nothing is created)."""
    data, config = data_dir(environ), config_dir(environ)
    paths = {"db": data / "chat.db", "history_file": data / "history", "mcp_config": config / "mcp.json"}
    paths["roles_dir"] = config / "roles"
    unset: dict[str, Any] = {name: str(path) for name, path in paths.items() if getattr(settings, name) is None}
    return replace(settings, **unset)

"""``chat config``: every setting chat would use here, its value, and where it came from."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import typer

from chatcli.app.shared import DEBUG, app, environment, switch
from chatcli.config import ENV_VARS, Settings, layered
from chatcli.text import redact_url, say, say_json

_VARIABLE = {name: var for var, name in ENV_VARS.items()}


def _tail(value: Any) -> str:
    """A key by its last four characters only."""
    text = str(value)
    return "…" + text[-4:] if len(text) > 8 else "…"


def _secret_variable(name: str) -> bool:
    """A variable that holds a credential: a provider's key, or named like one (its SDK's token, say)."""
    from chatcli.provider_table import key_variables

    return name in key_variables() or any(word in name.upper() for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))


def shown(name: str, value: Any) -> Any:
    """A value as it may be shown: a key by its last four characters only, a URL without its password."""

    if name == "api_key" and value:
        return _tail(value)
    if name == "provider_env":
        return [[var, _tail(v) if _secret_variable(var) else redact_url(str(v))] for var, v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return list(value) if isinstance(value, tuple) else value


def origins(environ: Any, cwd: Any) -> list[dict[str, Any]]:
    """One record a setting: name, value (keys cut), source; then one for each key an untrusted .env may not set."""
    from chatcli.local.worker_settings import worker_config

    settings, _notes, layers, dotenv = layered({}, environ, cwd)
    records = []
    for field in fields(Settings):
        if field.metadata.get("internal"):
            continue
        name, value, source, given = field.name, getattr(settings, field.name), "default", None
        for where, layer in layers:
            if layer.get(name) not in (None, ""):
                source, given = where, layer[name]
        withheld = name == "api_key" and source != "default" and value != given
        if source == "environment":
            # the variable(s) it came from: CHATCLI_MODEL; a provider's, each by its name
            named = ", ".join(var for var, _ in given or ()) if name == "provider_env" else _VARIABLE.get(name, name)
            source = f"environment ({named})"
        elif dotenv is not None and source == str(dotenv.path):
            source = f"{dotenv.path} ({'trusted' if dotenv.trusted else 'untrusted'})"
        if withheld:
            source += "; withheld: an untrusted .env set the endpoint"
        if name in ("worker", "worker_idle"):  # read by the launcher: the environment, else config.toml
            value, variable = worker_config(environ)[name == "worker_idle"], f"CHATCLI_{name.upper()}"
            source = f"environment ({variable})" if environ.get(variable) else source
        if name == "context_tokens" and value is None:
            source = f"default: {_window_said(settings)}"
        records.append({"name": name, "value": shown(name, value), "source": source})
    for key in dotenv.ignored(ENV_VARS) if dotenv is not None else []:
        records.append({"name": ENV_VARS[key], "value": None, "source": f"{dotenv.path}: {key} ignored (untrusted)"})
    from chatcli.backends.own.pricing import Pricer, how_priced

    pricer = Pricer(settings.prices, settings.base_url, bool(settings.local), settings)
    records.append({"name": "pricing", "value": settings.model, "source": how_priced(pricer, settings.model)})
    from chatcli.paths import config_path

    path = config_path(environ)
    there = "read" if path.is_file() else "none yet: create it to set any of these (docs/configuration.md)"
    records.append({"name": "config_file", "value": str(path), "source": there})
    from chatcli.backends.own.standing import instruction_files

    files = [str(p) for p in instruction_files(cwd)] if settings.project_instructions else []
    said = "sent with every request" if files else "none in this directory or its repository's root"
    said = said if settings.project_instructions else "off (project_instructions = false)"
    records.append({"name": "instruction_files", "value": files, "source": said})
    from chatcli.tools import hooks, skills

    found = hooks.load(cwd, environ, {"hooks": settings.hooks or {}})
    sources = sorted({str(hook.source) for hook in found.hooks})
    untrusted = f"; not run until chat trust: {', '.join(map(str, found.untrusted))}" if found.untrusted else ""
    records.append({"name": "hook_files", "value": sources, "source": f"chat hooks lists them{untrusted}"})
    folders = [str(path) for path, _ in skills.folders(cwd, environ) if path.is_dir()]
    records.append({"name": "skill_folders", "value": folders, "source": "chat skills lists their skills"})
    left = [line for line in found.problems if isinstance(line, hooks.Unsupported)] + _not_used(cwd, environ)
    records.append({"name": "not_used", "value": left, "source": "in Claude Code's folders and files: chat leaves it"})
    return records


# What chat reads of a Claude Code settings file; the rest (permissions, env, statusLine, model...) is Claude Code's.
SETTINGS_READ = frozenset({"hooks", "enabledPlugins", "extraKnownMarketplaces"})
# What a plugin may bring that chat does not run (its manifest's key, its default folder).
PLUGIN_UNUSED = (("outputStyles", "output-styles"), ("lspServers", ".lsp.json"), ("workflows", "workflows"))


def _not_used(cwd: Any, environ: Any) -> list[str]:
    """What the user's and the project's Claude Code files hold that chat does not use, one line each."""
    from pathlib import Path

    from chatcli.tools import plugins

    found = []
    home, here = plugins.home_dir(environ) / ".claude", Path(cwd) / ".claude"
    for path in (home / "settings.json", here / "settings.json", here / "settings.local.json"):
        try:
            found += [f"{path}: {key}" for key in plugins.read_json(path) if key not in SETTINGS_READ]
        except ValueError as exc:
            found.append(str(exc))
    found += [f"{f}: output styles" for f in (home / "output-styles", here / "output-styles") if f.is_dir()]
    for plugin in plugins.enabled(environ).plugins:
        for key, folder in (*PLUGIN_UNUSED, ("", "bin")):
            if key in plugin.manifest or (plugin.root / folder).exists():
                found.append(f"plugin {plugin.id}: its {key or folder + '/ (programs for the shell)'}")
    return found


def _window_said(settings: Settings) -> str:
    """What the history budget is with no setting: the model's window, as chat knows it."""
    from chatcli.backends.own.context_windows import DEFAULT_WINDOW, fit
    from chatcli.backends.own.model import shown_name
    from chatcli.backends.own.model_state import table_window

    model = shown_name(settings.model)
    window = table_window(settings, settings.model)
    history = f"~{fit(window or DEFAULT_WINDOW, settings.max_tokens):,} of history: the prompt's context of N"
    if window is None:
        return f"the model's window ({model}'s is not known: its server's word, else {DEFAULT_WINDOW:,}; {history})"
    return f"the model's window ({model}: {window:,} tokens, {history})"


@app.command("config")
def config_command(
    as_json: bool = switch("--json", "Print a JSON list of {name, value, source} (for scripts)."),
    debug: bool = DEBUG,
) -> None:
    """Show each setting chat would use in this directory, its value and where it came from: the default,
    config.toml, this directory's .env (trusted or not; what it may not set is listed as ignored), the
    environment. API keys are shown by their last four characters."""
    from chatcli.app.run import report

    env = environment()
    try:
        records = origins(env.environ, env.cwd)
    except Exception as exc:  # noqa: BLE001 - one line, as everywhere
        raise typer.Exit(report(exc, debug, None, env.stderr)) from None
    if as_json:
        say_json(env.stdout, records)
        return
    width = max(len(r["name"]) for r in records)
    for record in records:
        value = "(not set)" if record["value"] in (None, "", [], ()) else record["value"]
        value = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
        say(env.stdout, f"{record['name'].ljust(width)}  {value}  [{record['source']}]\n")

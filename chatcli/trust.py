"""The working directory's .env: what any .env may set, and the files the user trusts (``chat trust``).

A .env comes with whatever directory chat runs in, a cloned repository included, so it is
read as someone else's input: it may set an endpoint on this machine and its own key, the
model and plain numbers and modes, nothing that starts a program, moves the user's data, or
sends the user's key or conversations somewhere new. Its text is taken literally: an
untrusted file never composes a value from the environment (``${OPENAI_API_KEY}`` would hand
the user's key to whatever endpoint it names), and a value that tries is ignored, said in one
line. ``chat trust`` lets one file, as it is now, set everything and use variables (like
``direnv allow``): its path and a hash of its content are kept in the user's data directory,
and any change to it makes it untrusted again. A project's skill files are kept there the same way
(chatcli.tools.skills).
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from chatcli.errors import ConfigError, UsageError

# What any .env may set: nothing here runs a program, moves data or points the user's key
# elsewhere (an endpoint from an untrusted .env, OPENAI_BASE_URL or a provider's, must be on this
# machine, and gets only that .env's own key: see chatcli.config.configure). Every provider's key
# and base-URL variables (chatcli.provider_table, OPENAI_API_KEY and OPENAI_BASE_URL among them) are
# added to these.
_CHATCLI_SAFE = frozenset(
    "CHATCLI_MODEL CHATCLI_CONTEXT_TOKENS CHATCLI_TIMEOUT CHATCLI_MAX_RETRIES CHATCLI_TEMPERATURE CHATCLI_MAX_TOKENS "
    "CHATCLI_MEMORY CHATCLI_COMPACT_AT CHATCLI_SHOW_THINKING CHATCLI_STATUS_LINE CHATCLI_EDITING_MODE".split()
)


def endpoint_vars() -> dict[str, str | None]:
    """Every provider's base-URL variable, and the key variable that goes with it."""
    from chatcli.provider_table import variables

    return {url: key for key, url in variables().values() if url}


def safe_keys() -> frozenset[str]:
    """What an untrusted .env may set."""
    from chatcli.provider_table import variables

    return _CHATCLI_SAFE | {var for pair in variables().values() for var in pair if var}


@dataclass(frozen=True)
class DotEnv:
    """A .env file as read once: its variables, and whether the user trusts this very content."""

    path: Path
    variables: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    trusted: bool = False
    # Trusted once, but its content has changed since: untrusted again.
    changed: bool = False

    def usable(self, known: Any) -> dict[str, str]:
        """The variables among ``known`` names that chat takes from this file."""
        return {k: v for k, v in self.variables.items() if k in known and v and not self._refusal(k, v)}

    def ignored(self, known: Any) -> list[str]:
        """The chatcli variables this file sets but may not, untrusted."""
        return sorted(k for k, v in self.variables.items() if k in known and v and self._refusal(k, v))

    def _refusal(self, key: str, value: str) -> str | None:
        """Why an untrusted file may not set ``key`` to ``value`` (None: it may)."""
        if self.trusted:
            return None
        if key not in safe_keys():
            return "setting"
        if REFERENCE.search(value):
            return "reference"
        if key in endpoint_vars() and not on_this_machine(value if "://" in value else f"http://{value}"):
            return "endpoint"
        return None

    def notice(self, known: Any) -> str | None:
        """One line on what was ignored and why, or None when nothing was."""
        ignored = self.ignored(known)
        if self.changed:
            what = f": {', '.join(ignored)} ignored" if ignored else ""
            return f"{self.path} changed since you trusted it{what} (chat trust trusts it as it is now)"
        if not ignored:
            return None
        why = {
            "setting": "a .env may set these only once you trust it",
            "reference": "an untrusted .env may not use variables (${...}, $NAME)",
            "endpoint": "an untrusted .env may point chat only at this machine",
        }
        reasons = dict.fromkeys(self._refusal(k, self.variables[k]) for k in ignored)
        return f"{self.path}: {', '.join(ignored)} ignored: {'; '.join(why[r] for r in reasons if r)} (chat trust)"


# A variable reference as python-dotenv would expand it (${NAME}, ${NAME:-default}), or as a shell would ($NAME).
REFERENCE = re.compile(r"\$(\{|[A-Za-z_])")


def on_this_machine(url: str) -> bool:
    """True when ``url``'s host is this machine: localhost or a loopback address (no name is looked up)."""
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    return loopback(host)


def loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def users_key_stays_home(settings: Any, before: Any, dotenv: "DotEnv") -> tuple[Any, list[str]]:
    """``settings`` (chatcli.config.Settings) without the user's own keys for every endpoint an untrusted
    ``dotenv`` moved away from where it was without the file (``before``): only the file's own key goes there."""
    from dataclasses import replace
    from urllib.parse import urlsplit

    from chatcli.provider_table import PROVIDERS

    notes: list[str] = []
    env, moved = dict(settings.provider_env), []
    pairs: list[tuple[str, Any, Any, str | None, Any]] = [
        ("OPENAI_BASE_URL", settings.base_url, before.base_url, "OPENAI_API_KEY", settings.api_key)
    ]
    pairs += [(url, env.get(url), before.env(url), key, env.get(key or "")) for url, key in endpoint_vars().items()]
    for url_var, now, was, key_var, key in pairs:
        if now != was:  # its SDK gets none of the credentials it would read by itself (chatcli.backends.own.model)
            moved += [row.name for row in PROVIDERS if row.url_var == url_var]
        own = dotenv.usable([key_var]).get(key_var) if key_var else None
        if now == was or not key or key == own:
            continue
        if key_var == "OPENAI_API_KEY":
            settings = replace(settings, api_key=own)
        else:
            env = {k: v for k, v in {**env, key_var: own}.items() if v}
        host = urlsplit(now if "://" in now else f"http://{now}").netloc.rpartition("@")[2]
        notes.append(
            f"{dotenv.path} sets {url_var}: your API key is not sent to {host} "
            f"(give that .env its own {key_var}, or trust it: chat trust)"
        )
    return replace(settings, provider_env=tuple(env.items()), untrusted_endpoints=tuple(dict.fromkeys(moved))), notes


def read_env_file(path: Path, store: Path, environ: Mapping[str, str] | None = None) -> DotEnv | None:
    """The .env at ``path`` (None if there is none), checked against the trusted files in ``store``.

    Only a trusted file's ``${NAME}`` and ``${NAME:-default}`` take values, from ``environ``.
    """
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    from dotenv import dotenv_values

    digest = hashlib.sha256(data).hexdigest()
    kept = trusted_files(store).get(str(path.absolute()))
    trusted = kept == digest
    # Parsed from the bytes that were hashed: the file cannot change between the two. Only a file the
    # user trusts may take values from the environment; any other is read as the literal text it is.
    parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    variables = {k: v for k, v in parsed.items() if v is not None}
    if trusted:
        variables = _expanded(variables, os.environ if environ is None else environ)
    return DotEnv(path, variables, digest, trusted=trusted, changed=kept is not None and not trusted)


def _expanded(variables: dict[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """python-dotenv's expansion, from ``environ`` (not necessarily this process's): earlier lines win."""
    from dotenv.variables import parse_variables

    done: dict[str, str] = {}
    for name, value in variables.items():
        scope = {**environ, **done}
        done[name] = "".join(atom.resolve(scope) or "" for atom in parse_variables(value))
    return done


def trust(path: Path, store: Path) -> DotEnv:
    """Trust the .env at ``path`` as it is now; a ConfigError if there is none."""
    dotenv = read_env_file(path, store)
    if dotenv is None:
        raise UsageError(f"no .env here ({path})", hint="chat trust trusts the .env of the directory it runs in")
    keep_files(store, {str(path.absolute()): dotenv.digest})
    return DotEnv(dotenv.path, dotenv.variables, dotenv.digest, trusted=True)


def revoke(path: Path, store: Path) -> bool:
    """Stop trusting the .env at ``path``; False if it was not trusted."""
    if str(path.absolute()) not in trusted_files(store):
        return False
    keep_files(store, {str(path.absolute()): None})
    return True


def keep_files(store: Path, digests: Mapping[str, str | None]) -> None:
    """Trust each file, by path, as it is when its content has the SHA-256 given (None: no longer); others stay."""
    files = {**trusted_files(store), **digests}
    _save(store, {k: v for k, v in files.items() if v is not None})


def trusted_files(store: Path) -> dict[str, str]:
    """Path -> SHA-256 of each trusted file (a .env, a project's skill files); an unreadable store trusts nothing."""
    try:  # (a store that holds no table of files: AttributeError)
        files = json.loads(store.read_text(encoding="utf-8")).get("files", {})
        return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def _save(store: Path, files: dict[str, str]) -> None:
    """Write the store whole (0600 in a 0700 directory), replacing the old one at once."""
    from chatcli.paths import write_private

    write_private(store, json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True))


def check_url(url: str, what: str) -> None:
    """Refuse an endpoint that is not an http(s) URL with a host and a valid port."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError as exc:
        raise ConfigError(f"{what} is not a valid URL: {exc}", hint="e.g. http://localhost:11434/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} is not an http(s) URL with a host", hint="e.g. http://localhost:11434/v1")

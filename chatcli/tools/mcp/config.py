"""The MCP servers a user configured: ``mcp.json``, in the shape other MCP clients read.

    {"mcpServers": {
        "notes": {"command": "python", "args": ["notes.py"], "env": {"TOKEN": "..."}},
        "search": {"url": "http://localhost:8000/mcp", "headers": {"Authorization": "Bearer ..."}}
    }}

A ``command`` is a server chat starts and talks to over stdio; a ``url`` one it reaches over
streamable HTTP, or over the older HTTP+SSE transport when its ``"type"`` is ``"sse"`` (as an
mcp.json copied from Claude Code or Cursor says it). The whole file is checked before any server
starts; a problem is one line naming the server and the field.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from chatcli.errors import ConfigError


@dataclass(frozen=True)
class ServerSpec:
    """One configured MCP server."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sse: bool = False  # the url speaks the HTTP+SSE transport of the 2024-11-05 revision, not streamable HTTP
    # A client registered by hand with the server's authorization server (mcp.json's "oauth": OAUTH_KEYS, spelt as
    # Claude Code and the MCP conformance suite spell them): signed in as that client, never registered dynamically.
    oauth: Mapping[str, str] = field(default_factory=dict, repr=False)  # its secrets are never shown
    # The directories chat works in, declared to the server as its roots (MCP's roots/list): the session's own, set
    # as the tools open (never from mcp.json); none: the server's directory, else chat's.
    roots: tuple[str, ...] = ()
    # Made in this process and connected in memory instead (returns mcp's Server or MCPServer): the tests' servers.
    in_memory: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:  # whatever made it: parse_servers says where the name came from first
        if reserved(self.name):
            raise ConfigError(f"MCP server {self.name}: that is the name of chat's own tools; give it another name")

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "sse" if self.sse else "http"

    @property
    def where(self) -> str:
        """What it runs or reaches, for listings (never a header value)."""
        return " ".join([self.command, *self.args]) if self.command else self.url or ""


# What chat calls its own tools (chatcli.tools.builtin.SERVER): no MCP server may take it, whatever its case, its
# separators or its width ("Built-in", "built_in", "ｂｕｉｌｔｉｎ"), from any source (mcp.json, an editor's
# session/new, an MCP host's caller).
RESERVED = "builtin"


def reserved(name: str) -> bool:
    """True if ``name`` is a server name chat keeps for its own tools."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c not in "-_.") == RESERVED


def _strings(value: Any, where: str, kind: type) -> Any:
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{where} must be an object of strings")
    return dict(value)


def parse_servers(data: Any, source: str) -> list[ServerSpec]:
    """The servers of a parsed mcp.json, or a ConfigError naming the first problem."""
    if not isinstance(data, dict):
        raise ConfigError(f'{source}: expected an object with "mcpServers"')
    if not isinstance(servers := data.get("mcpServers", data.get("servers", {})), dict):
        raise ConfigError(f"{source}: mcpServers must be an object of servers")
    specs = []
    for name, entry in servers.items():
        where = f"{source}: mcpServers.{name}"
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise ConfigError(f"{where}: a server name may hold letters, digits, - _ and . only")
        if reserved(name):
            raise ConfigError(f"{where}: {name!r} is the name of chat's own tools; give this server another name")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be an object")
        if entry.get("disabled") is True:
            continue
        command, url = entry.get("command"), entry.get("url")
        sse = _sse(entry.get("type"), bool(command), where)
        if bool(command) == bool(url):
            raise ConfigError(f'{where}: give either "command" (stdio) or "url" (streamable HTTP)')
        if command is not None and not isinstance(command, str):
            raise ConfigError(f"{where}.command must be a string")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ConfigError(f"{where}.url must be an http(s) URL")
        cwd = entry.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not cwd):
            raise ConfigError(f"{where}.cwd must be a directory (a string)")
        lists = (("args", list), ("env", dict), ("headers", dict))
        args, env, headers = (_strings(entry.get(key, kind()), f"{where}.{key}", kind) for key, kind in lists)
        oauth = _oauth(entry.get("oauth"), f"{where}.oauth", bool(url))
        specs.append(ServerSpec(name, command, args, env, cwd, url, headers, sse, oauth))
    return specs


# What mcp.json's "oauth" object of a server may hold: a client registered by hand (clientId, and clientSecret for a
# confidential one: Claude Code's spelling); a machine's client-credentials key (privateKeyPem, signed with
# signingAlgorithm, RS256 unless said); an identity provider's ID token to exchange for access (cross-app access:
# idpClientId, idpIdToken, idpIssuer, idpTokenEndpoint). The MCP conformance suite's context keys, camel-cased. A
# workload's platform identity token presented as the grant (SEP-1933), read afresh from identityTokenFile.
IDP_KEYS = ("idpClientId", "idpIdToken", "idpIssuer", "idpTokenEndpoint")
OAUTH_KEYS = ("clientId", "clientSecret", "privateKeyPem", "signingAlgorithm", *IDP_KEYS, "identityTokenFile")
# Those that are secrets: never shown, and a file holding one must be its owner's alone.
OAUTH_SECRETS = ("clientSecret", "privateKeyPem", "idpIdToken")
SIGNING = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _oauth(value: Any, where: str, remote: bool) -> dict[str, str]:
    """A server's pre-registered OAuth client, checked: an object of strings with a ``clientId``, for a remote
    server; a key, or an identity provider's token, whole."""
    if value is None:
        return {}
    found = _strings(value, where, dict)
    if unknown := [key for key in found if key not in OAUTH_KEYS]:
        raise ConfigError(f"{where}: {unknown[0][:40]!r} is not one chat reads (it reads {', '.join(OAUTH_KEYS)})")
    if not found.get("clientId") and not found.get("identityTokenFile"):
        raise ConfigError(f"{where}: give the clientId the authorization server registered for chat")
    if not Path(found.get("identityTokenFile", "/")).expanduser().is_absolute():
        raise ConfigError(f"{where}.identityTokenFile must be an absolute path (~ for your home)")
    if not remote:
        raise ConfigError(f"{where}: a server chat starts (a command) does not sign in")
    if "signingAlgorithm" in found and not found.get("privateKeyPem"):
        raise ConfigError(f"{where}: signingAlgorithm signs with privateKeyPem: give it")
    if found.get("signingAlgorithm", "RS256") not in SIGNING:
        raise ConfigError(f"{where}.signingAlgorithm must be one of {', '.join(SIGNING)}")
    if found.get("privateKeyPem") and "PRIVATE KEY-----" not in found["privateKeyPem"]:
        raise ConfigError(f"{where}.privateKeyPem must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
    missing = [key for key in (*IDP_KEYS, "clientSecret") if not found.get(key)]
    if missing and any(found.get(key) for key in IDP_KEYS):
        raise ConfigError(f"{where}: cross-app access needs {', '.join(missing)} too")
    for key in ("idpIssuer", "idpTokenEndpoint"):
        if found.get(key) and not found[key].startswith(("http://", "https://")):
            raise ConfigError(f"{where}.{key} must be an http(s) URL")
    return dict(found)


# The "type" an entry may name (other clients' spellings), and whether it is the HTTP+SSE transport.
TYPES = {"stdio": False, "http": False, "streamable-http": False, "streamableHttp": False, "sse": True}


def _sse(kind: Any, command: bool, where: str) -> bool:
    """True for an entry whose ``type`` is the HTTP+SSE transport; a ConfigError for a type chat does not know, or
    one that says the other of command and url."""
    if kind is None:
        return False
    if not isinstance(kind, str) or kind not in TYPES:
        raise ConfigError(f"{where}.type must be one of {', '.join(TYPES)} (got {str(kind)[:40]!r})")
    if (kind == "stdio") != command:
        raise ConfigError(f'{where}: type "{kind}" needs ' + ('"command"' if kind == "stdio" else '"url"'))
    return TYPES[kind]


def read_servers(path: Path) -> list[ServerSpec]:
    """The servers configured in ``path``; none if the file does not exist. A file that holds a secret must be its
    owner's alone: else a ConfigError saying how to make it so."""
    try:
        with path.open(encoding="utf-8") as handle:
            text, mode = handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
    servers = parse_servers(data, str(path))
    secrets = [f"mcpServers.{s.name}.oauth.{key}" for s in servers for key in OAUTH_SECRETS if s.oauth.get(key)]
    if secrets and (mode.st_uid != os.getuid() or mode.st_mode & 0o077):
        what, hint = ", ".join(secrets[:4]) + (", ..." if len(secrets) > 4 else ""), f"chmod 600 {path}, owned by you"
        raise ConfigError(f"{path} holds a secret ({what}) that others can read", hint=hint)
    return servers

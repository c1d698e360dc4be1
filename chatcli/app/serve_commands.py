"""``chat serve``: the same threads and engine over HTTP (see chatcli.api.server and docs/serve.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional

from chatcli.api.guard import addresses
from chatcli.app.shared import ASSISTANT, HEADER, REMOTE, environment, opt, subcommand, switch
from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.paths import listening_dir, write_private
from chatcli.service.answerer import Answerer
from chatcli.text import say
from chatcli.trust import loopback

TOKEN_VARIABLE = "CHATCLI_SERVE_TOKEN"


# --graph, --remote, --assistant, --header, --db and --debug mean what they mean for chat.
@subcommand("serve", db=True, flags=("yes",))
def serve_command(
    settings: Settings,
    host: str = opt("--host", "Address to listen on (other machines: give --token-file).", "127.0.0.1"),
    port: int = opt("--port", "TCP port.", 8765),
    unix: Optional[str] = opt("--socket PATH", "Listen on a unix socket instead (created 0600)."),
    token_file: Optional[str] = opt(
        "--token-file PATH",
        f"Every request needs `Authorization: Bearer TOKEN`, TOKEN read from PATH (or set {TOKEN_VARIABLE}).",
    ),
    token: Optional[str] = opt("--token TOKEN", "As --token-file, but other users of this machine see it (ps)."),
    no_token: bool = switch(
        "--no-token",
        "On loopback, answer without a token: every process of yours may then call it (other users never).",
    ),
    show_token: bool = switch(
        "--show-token", "Print the token chat serve makes for you (made now if missing) and exit."
    ),
    link: bool = switch(
        "--link", "Print a new sign-in link to the page of the chat serve at --host and --port, and exit."
    ),
    allow_host: List[str] = opt(
        "--allow-host NAME",
        "Answer requests for this name too (a load balancer's, a proxy's; NAME:PORT for one port only).",
        [],
    ),
    trust_proxy: List[str] = opt(
        "--trust-proxy ADDR",
        "Read X-Forwarded-For/-Proto from a reverse proxy at this address (who may call is still the socket's).",
        [],
    ),
    yes: bool = switch(
        "--yes -y", "Run every tool call without asking (otherwise: the approve list, then the client)."
    ),
    graph: Optional[str] = opt("--graph -g FILE:NAME", "Serve your LangGraph graph's threads (docs/graphs.md)."),
    remote: Optional[str] = REMOTE,
    assistant: Optional[str] = ASSISTANT,
    header: List[str] = HEADER,
) -> None:
    """Serve the threads over HTTP: list, export, delete, compact, and ask (one JSON object, or server-sent
    events with Accept: text/event-stream). The API is described at /openapi.json. With --graph FILE:NAME
    or --remote URL, a LangGraph app's threads, its interrupts answered as approvals.

    Its page, at the address it prints, shows the threads, a live answer and what waits for you: the
    link signs a browser in, once and within five minutes (--link prints another). Every other
    request needs your token (made at the first start, kept in chat's private runtime directory;
    --show-token prints it), and on loopback only your own processes are answered. Requests for
    another Host, or from another site's web page, are refused."""
    from chatcli.api.access import own_token

    env = environment()
    if show_token:
        say(env.stdout, own_token(env.environ)[0] + "\n")
        return
    secret = serve_token(token, token_file, env.environ)
    if link:
        say(env.stdout, sign_in_link(host, port, secret or own_token(env.environ)[0]) + "\n")
        return
    if no_token and secret is not None:
        hint = f"leave out --no-token, or the token ({TOKEN_VARIABLE} too)"
        raise UsageError("--no-token was given with a token", hint=hint)
    if token is not None:
        shown = "--token shows the token to every user of this machine (ps);"
        say(env.stderr, f"chat serve: warning: {shown} --token-file PATH or {TOKEN_VARIABLE} keep it private\n")
    if unix is None and not loopback(host) and not secret:
        hint = f"give --token-file (or {TOKEN_VARIABLE}), or listen on 127.0.0.1"
        raise UsageError(f"chat serve on {host} would answer anyone who reaches it", hint=hint)
    kept: Path | None = None
    if unix is None and secret is None and not no_token:
        secret, kept = own_token(env.environ)
    if not 0 < port < 65536:
        raise UsageError(f"--port must be from 1 to 65535, got {port}")
    for name in allow_host:
        if not name or any(c.isspace() or c in "/@?#" for c in name):
            raise UsageError(f"--allow-host {name!r} is not a host name (NAME or NAME:PORT)")
    from chatcli.app.run import answering_of, make_env_output
    from chatcli.service.chat import Chat

    chat = Chat(settings, answering_of(graph, remote, assistant, header, env), environ=env.environ)
    with contextlib.ExitStack() as stack:
        # An MCP server runs no call for worker_idle seconds (CHATCLI_WORKER_IDLE too): it is stopped.
        settings = chat.set_up(stack, make_env_output(env).note, worker=False)
        if settings.use_tools and settings.mcp_config:  # read now: a bad mcp.json is one line, before the server
            from chatcli.tools.mcp.config import read_servers

            read_servers(Path(settings.mcp_config))
        if no_token and unix is None:
            reach = f"may read your threads and run your tools through {_bracketed_url(host, port)}"
            say(env.stderr, f"chat serve: warning: --no-token: every process of yours on this machine {reach}\n")
        serve(settings, Listening(host, port, unix, secret, kept), allow_host, proxies(trust_proxy), chat.answerer)


def proxies(given: list[str]) -> tuple[str, ...]:
    """The addresses of --trust-proxy, each an IP address or network (a name could be made to point anywhere)."""
    import ipaddress

    for address in given:
        try:
            ipaddress.ip_network(address.strip("[]"), strict=False)
        except ValueError:
            example = "10.0.0.5, 10.0.0.0/24"
            raise UsageError(f"--trust-proxy {address!r} is not an IP address or network ({example})") from None
    return tuple(address.strip("[]") for address in given)


def serve_token(given: str | None, path: str | None, environ: Mapping[str, str]) -> str | None:
    """The token: --token, else read from --token-file, else $CHATCLI_SERVE_TOKEN; None for none."""
    if given is not None and path is not None:
        raise UsageError("give --token or --token-file, not both")
    if given is not None:
        if not given.strip():
            raise UsageError("--token is empty")
        return given
    if path is None:
        return environ.get(TOKEN_VARIABLE) or None
    try:
        with open(path, encoding="utf-8") as file:
            mode = os.fstat(file.fileno()).st_mode
            secret = file.read(4096).strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UsageError(f"cannot read --token-file {path}: {reason}") from None
    if not secret or any(c.isspace() for c in secret):
        raise UsageError(f"--token-file {path} holds no token (one line of text, no spaces)")
    if mode & 0o044:
        warning = f"--token-file {path} can be read by other users (chmod 600 {path})"
        say(environment().stderr, f"chat serve: warning: {warning}\n")
    return secret


@dataclass(frozen=True)
class Listening:
    """Where the server listens and who may call: a TCP address or a unix socket's path, the token (and
    its file, when chat made it)."""

    host: str
    port: int
    unix: str | None = None
    token: str | None = None
    kept: Path | None = None


def sign_in_link(host: str, port: int, token: str) -> str:
    """The page's address as a sign-in link: good once, for a few minutes (chatcli.api.access)."""
    from chatcli.api.access import sign_in_code

    return f"{_bracketed_url(host, port)}/signin?code={sign_in_code(token, port)}"


def _bracketed_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def serve(
    settings: Settings, where: Listening, allow_host: list[str], trusted: tuple[str, ...], answerer: Answerer
) -> None:
    import uvicorn

    from chatcli.api.apps import ViewPort
    from chatcli.api.server import create_app
    from chatcli.app.library_output import SERVE_LOG_CONFIG

    path, host, port, token = where.unix, where.host, where.port, where.token
    listening = _unix_socket(path) if path else _tcp_socket(host, port)  # bound before "listening" is said
    proxy = None if path else _tcp_socket(host, 0)  # MCP Apps' views, on another origin (chatcli.api.apps)
    views = ViewPort(proxy.getsockname()[1], port) if proxy is not None else None
    sockets = [each for each in (listening, proxy) if each is not None]
    allowed = addresses(host, port, unix=path is not None, allowed=allow_host, token=token is not None)
    owner = os.getuid() if path is None else None  # on TCP: of this machine's processes, only this user's
    config = uvicorn.Config(
        create_app(settings, allowed, token, owner, trusted, answerer, environment().environ, views),
        # Who calls is the socket's word: uvicorn would take X-Forwarded-For from 127.0.0.1 (or from
        # $FORWARDED_ALLOW_IPS) as the client; --trust-proxy applies it behind the guard instead.
        proxy_headers=False,
        forwarded_allow_ips="",
        log_config=SERVE_LOG_CONFIG,
        log_level="warning",
        lifespan="on",
        loop="asyncio",  # uvloop connects where the loopback guard's audit hook cannot see (chatcli.local.loopback)
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    # The socket noted in chat's data directory, so that the shell tool's sandbox masks it (chatcli.tools.sandbox).
    noted = str(listening_dir(environment().environ) / str(os.getpid())) if path else None
    with contextlib.suppress(OSError):
        if path and noted:
            write_private(Path(noted), os.path.realpath(path))
    said = path or (sign_in_link(host, port, token) if token else _bracketed_url(host, port))
    say(environment().stderr, f"chat serve: listening on {said} (Ctrl-C stops)\n")
    if token is not None and not path:
        kept = f"; it is kept in {where.kept}" if where.kept is not None else ""
        link = "the link signs a browser in, once and within five minutes (chat serve --link prints another)"
        say(environment().stderr, f"chat serve: {link}; a script sends the token (Authorization: Bearer TOKEN){kept}\n")

    def leave(signum: int, _frame: Any) -> None:  # uvicorn raises the signal again once it has stopped
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):  # so that the socket and its note go, as after Ctrl-C
        signal.signal(signum, leave)
    try:
        uvicorn.Server(config).run(sockets)
    finally:
        for each in sockets:
            each.close()
        for left in filter(None, (path, noted)):  # the socket, and its note
            with contextlib.suppress(OSError):
                os.unlink(left)


# Seconds a stopping server (SIGTERM, Ctrl-C) gives the answers running: then they are stopped, their partials kept.
SHUTDOWN_GRACE = 3


def _tcp_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or one line saying why not (the port is taken, say)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=128, reuse_port=False)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {why}", hint="choose another --port") from None


def _unix_socket(path: str) -> socket.socket:
    """A unix socket at ``path``, created 0600 (only this user may connect); a stale one is replaced."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise UsageError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens there: left by a server that died
        else:
            raise UsageError(f"another server listens on {path}")
        finally:
            probe.close()
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listening.bind(path)
    except OSError as exc:
        raise UsageError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    listening.listen(128)
    return listening

"""``chat serve``: the same threads and engine over HTTP (see chatcli.api.server and the README's "chat serve")."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import stat
from typing import Optional

import typer

from chatcli.app.shared import DB, DEBUG, app, guarded
from chatcli.config import Settings
from chatcli.errors import UsageError


def loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but loopback needs --token."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    unix: Optional[str] = typer.Option(
        None, "--socket", metavar="PATH", help="Listen on a unix socket instead (created 0600)."
    ),
    token: Optional[str] = typer.Option(
        None,
        "--token",
        envvar="CHATCLI_SERVE_TOKEN",
        help="Every request needs `Authorization: Bearer TOKEN` (also CHATCLI_SERVE_TOKEN).",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Run every tool call without asking (otherwise: the approve list, then the client)."
    ),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Serve the threads over HTTP: list, export, delete, and ask (one JSON object, or server-sent
    events with Accept: text/event-stream). The API is described at /openapi.json."""

    def action(settings: Settings) -> None:
        if unix is None and not loopback(host) and not token:
            raise UsageError(
                f"chat serve on {host} would answer anyone who reaches it",
                hint="give --token (or CHATCLI_SERVE_TOKEN), or listen on 127.0.0.1",
            )
        if not 0 < port < 65536:
            raise UsageError(f"--port must be from 1 to 65535, got {port}")
        from chatcli.app.run import preflight

        preflight(settings)
        serve(settings, host, port, unix, token)

    guarded(debug, action, {"db": db, "approve_all": yes or None})


def serve(settings: Settings, host: str, port: int, path: str | None, token: str | None) -> None:
    import uvicorn

    from chatcli.api.server import create_app

    listening = _unix_socket(path) if path else None
    where = {"fd": listening.fileno()} if listening is not None else {"host": host, "port": port}
    config = uvicorn.Config(create_app(settings, token), log_level="warning", lifespan="on", **where)
    typer.echo(f"chat serve: listening on {path or f'http://{host}:{port}'} (Ctrl-C stops)", err=True)
    try:
        uvicorn.Server(config).run()
    finally:
        if listening is not None:
            listening.close()
            with contextlib.suppress(OSError):
                os.unlink(path or "")


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

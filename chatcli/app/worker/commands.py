"""``chat worker status|stop``: the warm worker that answers one-shots (see chatcli.app.worker.server)."""

from __future__ import annotations

import contextlib
import time
from enum import Enum
from typing import Any

import typer

from chatcli.app.shared import app, environment
from chatcli.text import counted, json_text, say


class Action(str, Enum):
    """What ``chat worker`` does."""

    status = "status"
    stop = "stop"


@app.command("worker")
def worker_command(
    action: Action = typer.Argument(
        ..., metavar="status|stop", help="status: is it running, and how long it stays idle; stop: stop it now."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the status as one JSON object."),
) -> None:
    """The warm worker: with worker = true in config.toml (or CHATCLI_WORKER=1), one-shot questions are
    answered by a process that has chat loaded already, started on first use and gone after worker_idle
    seconds without a question (default 600). A new version of chat replaces it by itself."""
    from chatcli.app.worker.client import SOCKET, build_id, connect
    from chatcli.local.worker_settings import worker_config

    env = environment()
    wanted, idle = worker_config(env.environ)
    directory, state = control(action.value, env.environ)
    from chatcli.tools.mcp.link import host_control

    hosts = host_control(action.value, env.environ)  # the MCP servers kept for one-shots, stopped with it
    if action is Action.stop:
        deadline = time.monotonic() + 5  # until its socket is gone (it finishes the answers it is running first)
        while state and directory and time.monotonic() < deadline and (sock := connect(f"{directory}/{SOCKET}")):
            sock.close()
            time.sleep(0.02)
        say(env.stderr, f"stopped the worker (pid {state['pid']})\n" if state else "no worker was running\n")
        for host in hosts:
            kept = counted(len(host["servers"]), "MCP server")
            say(env.stderr, f"stopped the MCP host (pid {host['pid']}) and the {kept} it kept for one-shots\n")
        return
    record = {
        "enabled": wanted,
        "idle": idle,
        "directory": directory,
        "running": state is not None,
        "pid": state and state["pid"],
        "version": state and state["version"],
        "current": bool(state and state["build"] == build_id()),
        "idle_left": state and state["idle_left"],
        "answering": state and state["running"],
        "served": state and state["served"],
        "warm_providers": state and state.get("warm"),
        "mcp_servers": [server for host in hosts for server in host["servers"]],
    }
    if as_json:
        say(env.stdout, json_text(record) + "\n", data=True)
        return
    enabled = "yes" if wanted else "no (worker = true in config.toml, or CHATCLI_WORKER=1)"
    lines = [f"enabled: {enabled}; idle time {idle:g} s"]
    if state is None:
        where = f"it would listen in {directory}" if directory else "no private directory for it"
        lines.append(f"not running ({where})")
    else:
        left = "answering now" if state["running"] else f"exits in {state['idle_left']:.0f} s unless asked"
        stale = "" if record["current"] else " (another build of chat: the next one-shot replaces it)"
        lines.append(f"running: pid {state['pid']}, chatcli {state['version']}{stale}; {left}")
        lines.append(f"providers ready: {', '.join(state.get('warm') or []) or 'none'}")
    for host in hosts:
        kept = ", ".join(f"{s['name']} ({s['state']})" for s in host["servers"]) or "none now"
        lines.append(f"MCP servers kept for one-shots (pid {host['pid']}): {kept}")
    say(env.stdout, "\n".join(lines) + "\n", data=True)


def control(command: str, environ: Any) -> tuple[str | None, dict[str, Any] | None]:
    """Send ``status`` or ``stop`` to the user's worker: its directory and its answer (None: none runs).

    A socket file that no process listens on is removed on the way.
    """
    import os

    from chatcli.app.worker.client import SOCKET, START_LOCK, connect, runtime_dir
    from chatcli.local.daemon import receive, send, start_lock

    directory = runtime_dir(environ)
    if directory is None:
        return None, None
    path = os.path.join(directory, SOCKET)
    sock = connect(path)
    if sock is None:
        # not while a caller starts one
        with start_lock(os.path.join(directory, START_LOCK)) as lock, contextlib.suppress(OSError):
            if lock is not None and os.path.lexists(path) and connect(path) is None:
                os.unlink(path)
        return directory, None
    with contextlib.closing(sock), contextlib.suppress(OSError, ValueError):
        send(sock, {"control": command})
        return directory, receive(sock)[0]
    return directory, None

"""The warm worker's settings, read as cheaply as the launcher needs: the environment, else config.toml.

Standard library only. Never a .env: a directory's .env must not decide where chat sends its
streams and variables (see chatcli.trust); config.toml's keys are also known to chatcli.config.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Any, Mapping

from chatcli import flag

DEFAULT_IDLE = 600.0


def config_file(environ: Mapping[str, str]) -> str | None:
    """config.toml's path as chatcli.paths.config_path finds it on Linux (None when unknown without platformdirs)."""
    if environ.get("CHATCLI_CONFIG"):
        return os.path.expanduser(environ["CHATCLI_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or (os.path.join(environ["HOME"], ".config") if environ.get("HOME") else "")
    return os.path.join(base, "chatcli", "config.toml") if base and sys.platform.startswith("linux") else None


def worker_config(environ: Mapping[str, str]) -> tuple[bool, float]:
    """Whether the worker is wanted (by default it is: ``CHATCLI_WORKER=0`` or ``worker = false`` turns it off),
    and its idle time in seconds: the environment, else config.toml."""
    mode, idle = worker_mode(environ)
    return mode != "off", idle


def worker_mode(environ: Mapping[str, str]) -> tuple[str, float]:
    """``on`` (asked for: CHATCLI_WORKER=1 or ``worker = true``: a one-shot waits for it to start), ``off``, or
    ``default`` (neither said: a one-shot uses it when it runs, else starts it for the next ones and goes on
    the normal way); and its idle time in seconds."""
    wanted = flag(environ.get("CHATCLI_WORKER"))
    idle = _seconds(environ.get("CHATCLI_WORKER_IDLE"))
    if wanted is False or (wanted is not None and idle is not None):
        return _mode(wanted), idle if idle is not None else DEFAULT_IDLE
    table = _read_config(config_file(environ))
    if wanted is None:
        wanted = flag(table.get("worker"))
    if idle is None:
        idle = _seconds(table.get("worker_idle"))
    return _mode(wanted), idle if idle is not None else DEFAULT_IDLE


def _mode(wanted: bool | None) -> str:
    return "default" if wanted is None else "on" if wanted else "off"


def _seconds(value: object) -> float | None:
    try:
        number = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and 0 <= number < float("inf") else None


def _read_config(path: str | None) -> dict[str, Any]:
    """config.toml's table; empty when absent, unreadable or invalid (the normal path reports those)."""
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if b"worker" not in data:
            return {}  # the common case costs no TOML parser
        import tomllib

        table = tomllib.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return {key.replace("-", "_"): value for key, value in table.items()}

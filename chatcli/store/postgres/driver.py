"""psycopg for the PostgreSQL store: imported only for a PostgreSQL URL, connected with a timeout, and its
errors said in one line that never shows the password."""

from __future__ import annotations

import re
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from chatcli.errors import StoreError
from chatcli.text import redact_url

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection


def hosts(url: str) -> list[str]:
    """The hosts a PostgreSQL URL names, as libpq reads them (a socket's directory among them); none when psycopg
    is not installed or the URL is not one."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        return str(conninfo_to_dict(url).get("host") or "").split(",")
    except Exception:  # noqa: BLE001 - no psycopg, or no DSN: then chat cannot reach PostgreSQL that way either
        return []


def _secrets(url: str) -> list[str]:
    """The password(s) in ``url``, to strip from any message that might echo them."""
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    except ValueError:
        return []
    # A password holding "@" is split there by libpq, which then names the rest as the host.
    found += [piece for secret in found for piece in secret.split("@")]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def reason(exc: BaseException, url: str) -> str:
    """The useful line of a driver error, without libpq's prefixes or the password."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^(connection failed|connection is bad):\s*", "", text)
    text = re.sub(r"^connection to server (at|on) .*? failed:\s*", "", text)
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text)
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def import_psycopg() -> ModuleType:
    """psycopg alone (what reading threads needs), or a one-line error naming the extra."""
    try:
        import psycopg
    except ImportError:
        raise StoreError("PostgreSQL support is not installed", hint=_install_hint()) from None
    return psycopg


def import_driver() -> tuple[ModuleType, type[AsyncPostgresSaver]]:
    """psycopg and LangGraph's PostgreSQL saver, or a one-line error naming the extra."""
    try:
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError:
        raise StoreError("PostgreSQL support is not installed", hint=_install_hint()) from None
    return psycopg, AsyncPostgresSaver


def check_driver() -> None:
    """Fail early (before the prompt opens) when the PostgreSQL extra is missing."""
    from importlib.util import find_spec

    if find_spec("psycopg") is None or find_spec("langgraph.checkpoint.postgres") is None:
        raise StoreError("PostgreSQL support is not installed", hint=_install_hint())


async def connect(url: str, **options: Any) -> AsyncConnection[Any]:
    """An autocommit connection to ``url``, or a one-line StoreError (never the password)."""
    psycopg = import_psycopg()
    from psycopg import AsyncConnection
    from psycopg.conninfo import conninfo_to_dict

    shown = redact_url(url)
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StoreError(
            f"invalid PostgreSQL URL {shown}: {reason(exc, url)}", hint="check --db or CHATCLI_DB"
        ) from None
    defaults = {"connect_timeout": 10, "application_name": "chatcli"}
    extra: dict[str, Any] = {k: v for k, v in defaults.items() if k not in given}  # libpq's keywords
    try:
        return await AsyncConnection.connect(url, autocommit=True, **extra, **options)
    except psycopg.Error as exc:
        why = reason(exc, url)
        if re.search(r'database ".*" does not exist', why):
            hint = "create it with createdb, or choose another --db"
        elif "password" in why or "authentication" in why or "role" in why:
            hint = "check the user and password in --db, CHATCLI_DB or ~/.pgpass"
        else:
            hint = "check --db or CHATCLI_DB, and that the server is running"
        raise StoreError(f"cannot connect to {shown}: {why}", hint=hint) from None


def _install_hint() -> str:
    from chatcli.paths import install_line

    return install_line("postgres")

"""Nothing reaches another user's listener on this machine unless the user named its address: checked at the connection.

Loopback is shared: every local user may listen on 127.0.0.1, and a port chat expects its own server on (Ollama's
11434, llama.cpp's 8080) may be another user's process waiting for what is sent there. Whatever chose the address (a
provider's default reached through a model name, an untrusted .env, a thread imported or read from a shared
database with its model, an editor's session, an embedding model, a window probe, a model list, an authorization
server an MCP server pointed to), the connection is the one place all of them pass. So the guard stands there,
before anything is sent, whichever library connects: an audit hook on ``socket.connect`` (``sys.addaudithook``) sees
every connection of a Python socket (every synchronous client, every asyncio loop); uvloop connects inside libuv,
where no audit event is raised, so its loop's ``create_connection`` (the one way every asynchronous client of it
connects: asyncio streams, httpx through anyio, aiohttp) checks first. ``chat serve`` runs on asyncio's loop all the
same. A native client (libpq, gRPC, a C extension's own sockets) is seen by neither: docs/SECURITY.md names them.

A connection to an address of this machine (loopback, the unspecified address, an address of one of its interfaces)
on a port where another user's socket listens (the kernel's word: chatcli.local.sockets; not this user's, not root's,
which is the machine's own) is refused with ``ListenerRefused`` (chatcli.errors), a ConnectionRefusedError, so every
client treats it as the refused connection it is, and chat says it in one line. The user's own word lifts it for one
address while what they named it for is open (``Allowed``: a Chat's settings, ``--remote URL``, a server of their
mcp.json), never beyond. Where the system does not say who listens (not Linux), nothing is refused. The guard is the
process's (chatcli.local.runtime: ``reset`` turns it off again, for tests).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from chatcli.errors import ListenerRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_named: tuple[Allowed, ...] = ()  # what every owner open now named
_guarding = False  # the audit hook is added (for the process's life)


def guard() -> None:
    """Check every TCP connection of this process from now on (a fork keeps it), and uvloop's whenever it is
    imported (now, or later: by a graph, a library, anyio's ``use_uvloop``)."""
    global _guarding
    from chatcli.local.lazy_imports import when_loaded

    if not _guarding:
        sys.addaudithook(_hook)
    _guarding = True
    when_loaded("uvloop", _cover)


def reset() -> None:
    """Forget every address named (chatcli.local.runtime). A guard once on stays on, as in every chat process: code
    run between two opened Chats (a test's) is checked too."""
    global _named
    _named = ()


def _cover(uvloop: Any) -> None:
    loop = getattr(uvloop, "Loop", None)
    if loop is not None and not hasattr(loop.create_connection, "checked"):
        loop.create_connection = _checked_first(loop.create_connection)


def _checked_first(create_connection: Any) -> Any:
    """uvloop's ``create_connection``, refusing first where ``check`` refuses (a socket given is Python's: hooked)."""

    async def checked(loop: Any, protocol: Any, host: Any = None, port: Any = None, **options: Any) -> Any:
        if _guarding and host is not None and port is not None and options.get("sock") is None:
            for info in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):  # the kernel asked off the loop
                await loop.run_in_executor(None, check, str(info[4][0]), int(info[4][1]))
        return await create_connection(loop, protocol, host, port, **options)

    checked.checked = True  # type: ignore[attr-defined]
    return checked


class Allowed(AbstractContextManager["Allowed"]):
    """The addresses ``urls`` (URLs, or ``host:port``), the user's own choice: allowed from now until ``close()`` (or
    the end of a ``with`` block), held by what they were named for (a Chat, a --remote server, an MCP server)."""

    def __init__(self, urls: Iterable[str | None]) -> None:
        global _named
        self.addresses = frozenset(filter(None, (address_of(url) for url in urls if url)))
        _named = (*_named, self)

    def close(self, *exc: object) -> None:
        global _named
        _named = tuple(each for each in _named if each is not self)

    __exit__ = close


def check(host: str, port: int) -> None:
    """Raise ListenerRefused if a connection to ``host:port`` would reach another user's listener on this machine
    and the user did not name that address."""
    if (uids := others_listening(host, port)) and not _is_named(host, port):
        raise ListenerRefused(host.strip("[]"), port, uids)


def others_listening(host: str, port: int) -> set[int]:
    """The uids, other than this user's and root's, listening where a connection to ``host:port`` goes on this
    machine; empty when the address is not this machine's, nobody else listens, or the system does not say."""
    from chatcli.local.sockets import listener_uids, plain

    try:
        address = plain(ipaddress.ip_address(host.strip("[]").partition("%")[0]))
    except ValueError:
        return set()
    if not _this_machine(address):
        return set()
    wanted = ("127.0.0.1" if address.version == 4 else "::1") if address.is_unspecified else str(address)
    return (listener_uids(wanted, port) or set()) - {os.getuid(), 0}


def _hook(event: str, args: tuple[object, ...]) -> None:
    match (event, args) if _guarding else ():
        case ("socket.connect", (socket.socket(type=socket.SOCK_STREAM) as sock, (str() as host, int() as port, *_))):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                for each in resolved(host, port):
                    check(each, port)


def resolved(host: str, port: int) -> list[str]:
    """The addresses a connection to ``host`` goes to: itself when it is one, else what the name resolves to."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]").partition("%")[0])
        return [host]
    try:
        return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
    except (OSError, UnicodeError):
        return []  # the connection fails by itself


def address_of(url: str) -> tuple[str, int] | None:
    """``url``'s host (lower-cased, no brackets) and port (the scheme's default if none); None if it has no host."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    return (host, port) if host else None


def _is_named(host: str, port: int) -> bool:
    """True if the user named ``host:port`` (the address connected to) in any of the ways they name addresses."""
    ip = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    for named_host in (h for allowed in _named for h, named_port in allowed.addresses if named_port == port):
        if named_host == "localhost" and (ip.is_loopback or ip.is_unspecified):
            return True
        try:
            if ipaddress.ip_address(named_host) == ip:
                return True
        except ValueError:
            if str(ip) in resolved(named_host, port):
                return True
    return False


def _this_machine(address: Address) -> bool:
    """True for an address that reaches this machine: loopback, unspecified, or one of its interfaces'."""
    return address.is_loopback or address.is_unspecified or address in _interface_addresses()


@cache
def _interface_addresses() -> frozenset[Address]:
    """This machine's own addresses, as Linux lists them (IPv4's local routes, IPv6's interfaces); none elsewhere."""
    found: set[Address] = set()
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/net/fib_trie", encoding="ascii", errors="replace") as handle:
            last = ""
            for line in handle:
                words = line.split()
                if words[:1] == ["|--"] and len(words) == 2:
                    last = words[1]
                elif "/32 host LOCAL" in line and last:
                    found.add(ipaddress.ip_address(last))
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/net/if_inet6", encoding="ascii", errors="replace") as handle:
            for line in handle:
                hexed = line.split()[0] if line.split() else ""
                if len(hexed) == 32:
                    found.add(ipaddress.IPv6Address(int(hexed, 16)))
    return frozenset(found)

"""Who owns a TCP socket on this machine, by the kernel's word: loopback is not private on a shared machine.

Any local user reaches 127.0.0.1, and any local user may listen there. Linux lists every TCP socket with its two
ends, its state and its owner's uid in /proc/net/tcp and /proc/net/tcp6: ``chat serve`` asks who is at the other
end of a connection (``peer_uid``), and chat asks who listens on a port before it sends a thread to an endpoint an
untrusted .env named (``listener_uids``). Elsewhere (not Linux) the tables are missing and both say None.
"""

from __future__ import annotations

import ipaddress
import struct

# The kernel's tables of TCP sockets; each line names a socket's two ends, its state and its owner's uid.
PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TIME_WAIT = "06"  # a socket closed on this side: the kernel no longer knows its owner (it shows uid 0)
LISTEN = "0A"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _rows(tables: tuple[str, ...]) -> list[list[str]] | None:
    """The fields of every socket the tables list; None when no table could be read."""
    rows: list[list[str]] | None = None
    for table in tables:
        try:
            with open(table, encoding="ascii", errors="replace") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        rows = (rows or []) + [fields for line in lines if len(fields := line.split()) >= 8 and fields[7].isdigit()]
    return rows


def peer_uid(client: tuple[str, int], server_port: int, tables: tuple[str, ...] = PROC_TABLES) -> int | None:
    """The uid owning the other end of a loopback TCP connection from ``client`` to ``server_port``.

    None when the system does not say (no /proc/net/tcp: not Linux); -1 when it could have and did
    not (no such socket: the caller is gone, or hides in a way the kernel does not list).
    """
    host, port = client
    rows = _rows(tables)
    if rows is None:
        return None
    for fields in rows:
        if fields[3] == TIME_WAIT:
            continue
        local, remote = _end(fields[1]), _end(fields[2])
        if local is None or remote is None or local[1] != port or remote[1] != server_port:
            continue
        if _same_address(local[0], host):
            return int(fields[7])
    return -1


def listener_uids(host: str, port: int, tables: tuple[str, ...] = PROC_TABLES) -> set[int] | None:
    """The uids of the sockets listening where a connection to ``host:port`` would go: on that address, or on
    every address (0.0.0.0, ::). Empty when nothing listens there; None when the system does not say."""
    rows = _rows(tables)
    if rows is None:
        return None
    try:
        wanted = _plain(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return set()
    found = set()
    for fields in rows:
        local = _end(fields[1])
        if fields[3] != LISTEN or local is None or local[1] != port:
            continue
        address = _plain(local[0])
        if address == wanted or (address.is_unspecified and (address.version == 6 or wanted.version == 4)):
            found.add(int(fields[7]))
    return found


def _end(field: str) -> tuple[Address, int] | None:
    """One end as /proc/net/tcp writes it: the address as native-order 32-bit words in hex, then the port."""
    address, _, port = field.partition(":")
    try:
        words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
        packed = b"".join(struct.pack("=I", word) for word in words)
        return ipaddress.ip_address(packed), int(port, 16)
    except (ValueError, struct.error):
        return None


def _same_address(listed: Address, host: str) -> bool:
    try:
        given = ipaddress.ip_address(host)
    except ValueError:
        return False
    return _plain(listed) == _plain(given)


def _plain(address: Address) -> Address:
    """IPv4 written as IPv6 (::ffff:127.0.0.1, as a dual-stack socket sees it) as plain IPv4."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address

"""Who owns a TCP socket on this machine, by the kernel's word: loopback is not private on a shared machine.

Any local user reaches 127.0.0.1, and any local user may listen there. Linux tells every TCP socket with its two
ends, its state and its owner's uid: ``chat serve`` asks who is at the other end of a connection (``peer_uid``),
and chat asks who listens on a port before it connects there (``listener_uids``: every connection to this
machine, chatcli.local.loopback). The kernel is asked over netlink (``sock_diag``, what ``ss`` uses: some 40
microseconds, and only the listeners on that port are sent), else in /proc/net/tcp and /proc/net/tcp6 (the same
table as text: some 10 milliseconds, as the kernel writes every socket). Elsewhere (not Linux) neither is there
and both say None.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import NamedTuple

# The kernel's tables of TCP sockets as text; each line names a socket's two ends, its state and its owner's uid.
PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TIME_WAIT = 6  # a socket closed on this side: the kernel no longer knows its owner (it shows uid 0)
LISTEN = 10
# A connection not yet accepted, held for its listener (netlink says uid 0 of it, /proc the listener's): never a
# connection's own end, whoever made it.
SYN_RECV, NEW_SYN_RECV = 3, 12
NO_OWNER = (TIME_WAIT, SYN_RECV, NEW_SYN_RECV)
ALL_STATES = 0xFFF
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# netlink's sock_diag (linux/sock_diag.h, linux/inet_diag.h)
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_NO_COOKIE = struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # inet_diag_sockid's interface and cookie


class Socket(NamedTuple):
    """One TCP socket as the kernel lists it."""

    state: int
    local: tuple[Address, int]
    remote: tuple[Address, int]
    uid: int


def _sockets(tables: tuple[str, ...] | None, states: int, port: int = 0) -> list[Socket] | None:
    """The TCP sockets in ``states`` (a bit per state), where ``port`` (when given) is the local port of the
    listeners: asked over netlink, else read from the text tables (``tables``: those alone); None when the system
    does not say."""
    found = _asked(states, port) if tables is None else None
    return found if found is not None else _read(tables or PROC_TABLES)


def _asked(states: int, port: int) -> list[Socket] | None:
    """The sockets netlink names, of both families; None when it cannot say for either (not Linux, not allowed, no
    tcp_diag, a reply cut short): then the text tables are read, never half an answer taken for the whole."""
    found: list[Socket] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            found += _dump(family, states, port)
        except OSError:
            return None
    return found


def _dump(family: int, states: int, port: int) -> list[Socket]:
    request = struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, states)
    request += struct.pack(">HH", port, 0) + bytes(32) + _NO_COOKIE
    flags = _NLM_F_REQUEST | _NLM_F_DUMP
    found: list[Socket] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, _NETLINK_SOCK_DIAG) as asking:
        asking.settimeout(2)
        asking.sendall(_HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, flags, 1, 0) + request)
        while True:
            data, at = asking.recv(1 << 16), 0
            if not data:
                raise OSError("netlink said nothing")
            while at + _HEADER.size <= len(data):
                length, kind = _HEADER.unpack_from(data, at)[:2]
                if kind == _NLMSG_DONE:  # its payload: 0, or the dump's failure as -errno (no tcp_diag, say)
                    done = data[at + _HEADER.size : at + _HEADER.size + 4]
                    if len(done) == 4 and struct.unpack("=i", done)[0] < 0:
                        raise OSError("netlink could not list the sockets")
                    return found
                if kind == _NLMSG_ERROR or length < _HEADER.size:
                    raise OSError("netlink refused the request")
                found.append(_message(data[at + _HEADER.size : at + length]))
                at += (length + 3) & ~3


def _message(body: bytes) -> Socket:
    """One inet_diag_msg: family, state, the two ends (ports big-endian, addresses as sent), then the uid."""
    family, state = body[0], body[1]
    local_port, remote_port = struct.unpack_from(">HH", body, 4)
    width = 4 if family == socket.AF_INET else 16
    local, remote = ipaddress.ip_address(body[8 : 8 + width]), ipaddress.ip_address(body[24 : 24 + width])
    (uid,) = struct.unpack_from("=I", body, 64)
    return Socket(state, (local, local_port), (remote, remote_port), uid)


def _read(tables: tuple[str, ...]) -> list[Socket] | None:
    """Every socket the text tables list; None when no table could be read."""
    found: list[Socket] | None = None
    for table in tables:
        try:
            with open(table, encoding="ascii", errors="replace") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        found = found or []
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or not fields[7].isdigit():
                continue
            local, remote = _end(fields[1]), _end(fields[2])
            try:
                state = int(fields[3], 16)
            except ValueError:
                continue
            if local is not None and remote is not None:
                found.append(Socket(state, local, remote, int(fields[7])))
    return found


def peer_uid(
    client: tuple[str, int], server: tuple[str, int] | int, tables: tuple[str, ...] | None = None
) -> int | None:
    """The uid owning the other end of a loopback TCP connection from ``client`` to ``server`` (its address and
    port as the server's end has them; a port alone: any address of this machine).

    None when the system does not say (not Linux); -1 when it could have and did not: no such socket (the caller is
    gone, or hides in a way the kernel does not list), or sockets of more than one owner claiming the same two ends.
    """
    host, port = client
    server_host, server_port = server if isinstance(server, tuple) else (None, server)
    sockets = _sockets(tables, ALL_STATES & ~(1 << LISTEN) & ~sum(1 << state for state in NO_OWNER))
    if sockets is None:
        return None
    ends = [s for s in sockets if s.state not in NO_OWNER and (s.local[1], s.remote[1]) == (port, server_port)]
    ends = [s for s in ends if _same_address(s.local[0], host)]
    owners = {s.uid for s in ends if server_host is None or _same_address(s.remote[0], server_host)}
    return owners.pop() if len(owners) == 1 else -1


def listener_uids(host: str, port: int, tables: tuple[str, ...] | None = None) -> set[int] | None:
    """The uids of the sockets listening where a connection to ``host:port`` would go: on that address, or on
    every address (0.0.0.0, ::). Empty when nothing listens there; None when the system does not say."""
    sockets = _sockets(tables, 1 << LISTEN, port)
    if sockets is None:
        return None
    try:
        wanted = plain(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return set()
    there = [(s.uid, plain(s.local[0])) for s in sockets if s.state == LISTEN and s.local[1] == port]
    return {uid for uid, at in there if at == wanted or at.is_unspecified and (at.version == 6 or wanted.version == 4)}


def _end(field: str) -> tuple[Address, int] | None:
    """One end as /proc/net/tcp writes it: the address as native-order 32-bit words in hex, then the port."""
    address, _, port = field.partition(":")
    try:
        words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
        return ipaddress.ip_address(b"".join(struct.pack("=I", word) for word in words)), int(port, 16)
    except (ValueError, struct.error):
        return None


def _same_address(listed: Address, host: str) -> bool:
    try:
        given = ipaddress.ip_address(host)
    except ValueError:
        return False
    return plain(listed) == plain(given)


def plain(address: Address) -> Address:
    """IPv4 written as IPv6 (::ffff:127.0.0.1, as a dual-stack socket sees it) as plain IPv4."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address

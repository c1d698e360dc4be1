"""Row 23: what chat does before a request's first byte: who listens on a loopback port, and the TLS set-up.

Run::

    .venv/bin/python benchmarks/connect_bench.py            # a few seconds

Before each connection to this machine chat asks who listens on that port (chatcli.local.loopback: another user's
listener is refused), and ``chat serve`` asks who owns the other end of each connection (chatcli.local.sockets).
This times ``listener_uids`` on a port where this process listens, asked over netlink's sock_diag (the default)
and read from /proc/net/tcp and tcp6 (the fallback where netlink cannot be asked), alternating, 300 rounds, and
``peer_uid`` the same way on a connection of this process's; medians, and the ratio of the medians. It also counts
the lookups one one-shot makes (``chat QUESTION`` in this process against the fake server, tests/fakeserver.py):
the time the one-shot saves is that count times the difference. And it times making the HTTP client of the
OpenAI SDK (httpx2) as a library makes it, loading the certificate authorities, against handing it the context
chat keeps per process (chatcli.providers.tls), alternating, 100 rounds. Results go to
``benchmarks/results-connect.md``.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import report  # noqa: E402
from chatcli.local import loopback, sockets  # noqa: E402

ROUNDS = 300


def _timed(ask: object) -> float:
    start = time.perf_counter()
    ask()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def _paired(netlink: object, text: object) -> tuple[float, float]:
    fast, slow = [], []
    for _ in range(ROUNDS):
        fast.append(_timed(netlink))
        slow.append(_timed(text))
    return statistics.median(fast), statistics.median(slow)


def _lookups_per_one_shot() -> int:
    """How many times one one-shot asks who listens (it connects to the fake server on 127.0.0.1)."""
    from tests.fakeserver import Reply, on_a_reused_port
    from tests.helpers import chat

    asked = 0
    real = loopback.others_listening

    def counted(host: str, port: int) -> set[int]:
        nonlocal asked
        asked += 1
        return real(host, port)

    home = Path(tempfile.mkdtemp(prefix="loopback-bench-"))
    with on_a_reused_port() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_", "XDG_"))}
        env.update(HOME=str(home), OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-bench", CHATCLI_WORKER="0")
        env.update(CHATCLI_MODEL="gpt-fake", CHATCLI_DB=str(home / "chat.db"))
        server.queue(Reply("warm"))
        chat(env, "warm up")
        loopback.others_listening = counted  # type: ignore[assignment]
        try:
            server.queue(Reply("one two three"))
            run = chat(env, "count them")
        finally:
            loopback.others_listening = real  # type: ignore[assignment]
        if run.code != 0:
            raise SystemExit(f"the one-shot failed: {run}")
    return asked


def _clients() -> tuple[float, float]:
    """A client's making, with its own TLS set-up and with the shared one (medians, ms)."""
    import openai

    from chatcli.providers import tls

    tls.system()  # made once per process, as chat makes it
    own, shared = [], []
    for _ in range(100):
        own.append(_timed(lambda: openai.DefaultAsyncHttpxClient()))
        shared.append(_timed(lambda: openai.DefaultAsyncHttpxClient(verify=tls.system())))
    return statistics.median(own), statistics.median(shared)


def main() -> int:
    if sockets._asked(1 << sockets.LISTEN, 0) is None:
        raise SystemExit("netlink's sock_diag cannot be asked on this machine: nothing to compare")
    text = sockets.PROC_TABLES  # the tables named: read as text, never asked
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        listen = _paired(
            lambda: sockets.listener_uids("127.0.0.1", port), lambda: sockets.listener_uids("127.0.0.1", port, text)
        )
        with socket.create_connection(("127.0.0.1", port)) as client:
            end = client.getsockname()[:2]
            peer = _paired(lambda: sockets.peer_uid(end, port), lambda: sockets.peer_uid(end, port, text))
    count = _lookups_per_one_shot()
    own, shared = _clients()
    saved = count * (listen[1] - listen[0])
    rows = [
        ("23. who listens: netlink (median)", f"{listen[0]:.3f} ms", "—", "—"),
        ("23. who listens: /proc/net/tcp (median)", f"{listen[1]:.3f} ms", "—", "—"),
        (
            "23. who listens: netlink / text",
            f"{listen[0] / listen[1]:.3f}x",
            "<= 0.1x",
            "yes" if listen[0] <= listen[1] / 10 else "NO",
        ),
        (
            "23. a connection's peer: netlink / text",
            f"{peer[0]:.3f} / {peer[1]:.3f} ms = {peer[0] / peer[1]:.3f}x (every connection listed)",
            "—",
            "—",
        ),
        ("23. lookups in one one-shot; time it saves", f"{count}; {saved:.1f} ms", "—", "—"),
        ("23. an HTTP client: its own TLS set-up (median)", f"{own:.2f} ms", "—", "—"),
        ("23. an HTTP client: the process's TLS set-up (median)", f"{shared:.2f} ms", "—", "—"),
        ("23. shared / own", f"{shared / own:.3f}x", "<= 0.1x", "yes" if shared <= own / 10 else "NO"),
    ]
    report(rows, ROUNDS, str(ROOT / "benchmarks" / "results-connect.md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

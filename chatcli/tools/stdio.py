"""The stdio transport to an MCP server: its process, JSON-RPC lines in and out, in linear time and bounded size.

It stands in for ``mcp.client.stdio.stdio_client``, which joins and re-splits everything
unread on each read (a 50 MB result took minutes, then timed out) and logs a traceback to the
terminal for any stdout line that is not JSON-RPC (a "server started" banner). Here a line is
cut out once; a line over ``MAX_LINE`` bytes is dropped as it streams, and the call it
answered gets an error instead; a line that is not JSON-RPC goes to ``on_stray``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import IO, Any, AsyncIterator, Callable

MAX_LINE = 10 * 1024 * 1024  # bytes of one JSON-RPC message: a tool result larger than this is dropped
_READ = 1024 * 1024
_KEEP = 2048  # bytes kept of each end of a dropped line: its id is there
_CLOSE_WAIT = 2.0  # seconds a server has to exit once its stdin is closed
# The request id of a response, when it is the first key (Python SDK: after "jsonrpc") or the last (TypeScript SDK).
_ID = r'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")'
_ID_FIRST = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?' + _ID.encode())
_ID_LAST = re.compile(rb",\s*" + _ID.encode() + rb"\s*\}\s*$")


@dataclass
class Dropped:
    """A line longer than the limit: its size and both ends (the rest is gone)."""

    size: int
    head: bytes
    tail: bytes

    def request_id(self) -> int | str | None:
        """The id of the request this line answered, if one end shows it."""
        found = _ID_FIRST.search(self.head) or _ID_LAST.search(self.tail)
        return json.loads(found.group(1)) if found else None


class Lines:
    """Bytes in, whole lines out; each byte is looked at once, and no line grows past ``limit``."""

    def __init__(self, limit: int = MAX_LINE):
        self.limit = limit
        self._buffer = bytearray()
        self._dropped: Dropped | None = None

    def feed(self, data: bytes) -> list[bytes | Dropped]:
        *ended, rest = data.split(b"\n")
        out: list[bytes | Dropped] = []
        for piece in ended:
            self._take(piece)
            out.append(self._dropped or bytes(self._buffer))
            self._buffer.clear()
            self._dropped = None
        self._take(rest)
        return out

    def _take(self, piece: bytes) -> None:
        dropped = self._dropped
        if dropped is not None:
            dropped.size += len(piece)
            dropped.tail = (dropped.tail + piece)[-_KEEP:]
            return
        self._buffer += piece
        if len(self._buffer) > self.limit:
            self._dropped = Dropped(len(self._buffer), bytes(self._buffer[:_KEEP]), bytes(self._buffer[-_KEEP:]))
            self._buffer = bytearray()


def size_text(size: int) -> str:
    """ "52.4 MB" (or KB)."""
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


@contextlib.asynccontextmanager
async def stdio_streams(
    command: str,
    args: list[str],
    env: dict[str, str] | None,
    cwd: str | None,
    errlog: IO[str],
    on_stray: Callable[[bytes], None],
    on_dropped: Callable[[int], None],
    on_exit: Callable[[], None] = lambda: None,
) -> AsyncIterator[tuple[Any, Any]]:
    """Start the server and yield the (read, write) streams ``mcp.ClientSession`` takes; stop it at the end.

    ``on_exit`` hears that the server's stdout ended (its process exited, or is about to).
    """
    import anyio
    from mcp.client.stdio import get_default_environment
    from mcp.os.posix.utilities import terminate_posix_process_tree

    env = {**get_default_environment(), **(env or {})}
    process = await anyio.open_process([command, *args], env=env, stderr=errlog, cwd=cwd, start_new_session=True)
    read_send, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_receive = anyio.create_memory_object_stream[Any](0)
    stdout, stdin = process.stdout, process.stdin
    assert stdout is not None and stdin is not None  # open_process pipes both
    pending: list[Any] = []  # ids of requests sent and not answered yet, oldest first

    async def read_stdout() -> None:
        lines = Lines()
        async with read_send:
            while True:
                try:
                    data = await stdout.receive(_READ)
                except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                    on_exit()
                    return
                for line in lines.feed(data):
                    message = _message(line, pending, on_stray, on_dropped)
                    if message is None:
                        continue
                    try:
                        await read_send.send(message)
                    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                        return  # the client is gone (it gave up, as on a listing refused): what comes is nobody's

    async def write_stdin() -> None:
        from mcp.types import JSONRPCRequest

        async with write_receive:
            async for session_message in write_receive:
                if isinstance(session_message.message, JSONRPCRequest):
                    pending.append(session_message.message.id)
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                try:
                    await stdin.send(data.encode() + b"\n")
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return

    async with anyio.create_task_group() as tasks, process:
        tasks.start_soon(read_stdout)
        tasks.start_soon(write_stdin)
        try:
            yield read_stream, write_stream
        finally:
            with contextlib.suppress(Exception):
                await stdin.aclose()  # the MCP way to ask a stdio server to stop
            try:
                with anyio.fail_after(_CLOSE_WAIT):
                    await process.wait()
            except TimeoutError:
                await terminate_posix_process_tree(process, _CLOSE_WAIT)
            except ProcessLookupError:
                pass
            for stream in (read_stream, write_stream, read_send, write_receive):
                await stream.aclose()


def _message(
    line: bytes | Dropped, pending: list[Any], on_stray: Callable[[bytes], None], on_dropped: Callable[[int], None]
) -> Any:
    """The session message for one line from the server; None for a line to skip."""
    from mcp.shared.message import SessionMessage
    from mcp.types import ErrorData, JSONRPCError, JSONRPCResponse, jsonrpc_message_adapter

    if isinstance(line, Dropped):
        on_dropped(line.size)
        found = line.request_id()
        # A dropped line names its request at one end; if not, the only call waiting is the one.
        request = found if found in pending else (pending[0] if found is None and len(pending) == 1 else None)
        if request is None:
            return None
        pending.remove(request)
        text = f"the result was larger than {MAX_LINE // (1024 * 1024)} MB ({size_text(line.size)}) and was dropped"
        return SessionMessage(JSONRPCError(jsonrpc="2.0", id=request, error=ErrorData(code=-32000, message=text)))
    if not line.strip():
        return None
    try:
        message = jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError:
        on_stray(line)
        return None
    if isinstance(message, (JSONRPCResponse, JSONRPCError)) and message.id in pending:
        pending.remove(message.id)
    return SessionMessage(message)

"""``chat serve`` in this process: its app asked through an ASGI client rather than over a socket.

``AppServed`` has the calls of tests/test_serve.py's ``Served`` (``request``, ``ask``, ``events``, ``stop``). It runs
``chatcli.app.cli.main(["serve", *ARGS], Environment(...))`` in this process: the command reads its flags, settings,
token and backend as ``chat serve`` does, and where it would bind a socket and run uvicorn, the app it would serve
(``chatcli.api.server.create_app``, behind its guard, with the token the command chose) is kept instead. Its
lifespan runs on an event loop of its own thread, and each request goes to it through ``httpx.ASGITransport``; a
client that leaves mid-answer is the ASGI ``http.disconnect`` uvicorn gives the app when a client closes.

One thing the socket gives that this does not: who is on the other end (the guard's check that a caller on this
machine is the user's own process, read from the socket) is not asked here; tests/test_serve_guard.py and
tests/test_serve_access.py test it over a real socket.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests import matrix
from tests.helpers import Captured, piped_stdin

PORT = 8765  # chat serve's default: the Host its requests name


class AppServed:
    """``chat serve ARGS`` in this process (see the module)."""

    def __init__(self, env: dict[str, str], *args: str):
        from chatcli.app import serve_commands
        from chatcli.app.cli import main
        from chatcli.app.environment import Environment

        self.err = Captured()
        kept: dict[str, Any] = {}

        def serve(
            settings: Any, where: Any, allow_host: list[str], trusted: tuple[str, ...] = (), answerer: Any = None
        ):
            kept.update(settings=settings, where=where, allow_host=allow_host, trusted=trusted, answerer=answerer)
            kept["context"] = contextvars.copy_context()  # chat's environment, as the app's code reads it
            kept["environ"] = dict(env)  # its variables, as chat serve hands them to the app

        environment = Environment(stdin=piped_stdin(b""), stdout=Captured(), stderr=self.err, environ=dict(env),
                                  cwd=Path.cwd())  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(serve_commands, "serve", serve)
            code = main(["serve", "--port", str(PORT), *args], environment)
        assert code == 0 and kept, f"chat serve {' '.join(args)} exited {code}\n{self.err.getvalue()}"
        self.token: str | None = kept["where"].token
        self.context: contextvars.Context = kept["context"]
        self.app = self._app(kept)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chat serve", daemon=True)
        self.thread.start()
        self.up, self.down = threading.Event(), asyncio.Event()
        self.lifespan = asyncio.run_coroutine_threadsafe(self._within(self._lifespan()), self.loop)
        while not self.up.wait(0.02):
            if self.lifespan.done():
                self.lifespan.result()
                raise AssertionError(f"chat serve's app ended as it started\n{self.err.getvalue()}")
        self.leaving: list[Any] = []  # the requests of clients that left, still being answered

    @staticmethod
    def _app(kept: dict[str, Any]) -> Any:
        """The app ``chat serve`` would have served on 127.0.0.1 (no caller's uid is read: no socket)."""
        from chatcli.api.guard import addresses
        from chatcli.api.server import create_app

        where = kept["where"]
        allowed = addresses(where.host, where.port, unix=False, allowed=kept["allow_host"], token=bool(where.token))
        return create_app(
            kept["settings"], allowed, where.token, None, kept["trusted"], kept["answerer"], kept["environ"]
        )

    async def _within(self, work: Any) -> Any:
        """``work`` in chat's environment (a task of its own, in a copy of the command's context)."""
        return await asyncio.get_running_loop().create_task(work, context=self.context.copy())

    async def _lifespan(self) -> None:
        async with self.app.router.lifespan_context(self.app):
            self.up.set()
            await self.down.wait()

    def _run(self, work: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(self._within(work), self.loop).result(timeout)

    def sent(self, headers: dict[str, str] | None) -> dict[str, str]:
        """The headers of a request: JSON, the made token, then the test's own."""
        mine = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {"Content-Type": "application/json", **mine, **(headers or {})}

    async def _request(self, method: str, path: str, body: Any, headers: dict[str, str] | None) -> tuple[int, bytes]:
        import httpx

        transport = httpx.ASGITransport(self.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{PORT}") as client:
            data = json.dumps(body).encode() if body is not None else None
            response = await client.request(method, path, content=data, headers=self.sent(headers))
            return response.status_code, response.content

    def raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The status and the body's bytes as sent."""
        return self._run(self._request(method, path, body, headers))  # type: ignore[no-any-return]

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        status, content = self.raw(method, path, body, headers)
        return status, json.loads(content) if content else None

    def ask(self, thread: str, content: str, **extra: Any) -> tuple[int, Any]:
        return self.request("POST", f"/v1/threads/{thread}/messages", {"content": content, **extra})

    def events(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """The server-sent events of a request, each its ``data:`` object."""
        status, events, _ = self._run(self._events(path, body, until=None))
        assert status == 200, events
        yield from events

    def leave(
        self, path: str, body: Any, shown: str | Callable[[], bool], stream: bool = True
    ) -> tuple[int | None, list[dict[str, Any]]]:
        """Ask for the events of a request (its plain JSON if not ``stream``), and leave (the client closes) once its
        tokens hold ``shown`` (or ``shown()`` holds), or it ends: the status and the events that came. The app goes on
        answering the left request (stopped at ``stop``)."""
        status, events, answering = self._run(self._events(path, body, until=shown, stream=stream))
        self.leaving.append(answering)
        return status, events

    async def _events(
        self, path: str, body: Any, until: str | Callable[[], bool] | None, stream: bool = True
    ) -> tuple[int | None, list[Any], Any]:
        """A request over ASGI read as it streams (httpx's ASGI client gives a response once it is whole)."""
        gone, came = asyncio.Event(), asyncio.Event()
        status: int | None = None
        events: list[dict[str, Any]] = []
        buffer, text, asked = b"", "", False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, buffer, text
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not gone.is_set():
                buffer += message.get("body", b"")
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.startswith(b"data: "):
                        events.append(json.loads(line[6:]))
                        text += events[-1].get("text") or "" if events[-1].get("type") == "token" else ""
                if isinstance(until, str) and until in text:
                    gone.set()  # the client leaves: what comes after is not read
                if gone.is_set() or not message.get("more_body"):
                    came.set()

        async def watch(until: Callable[[], bool]) -> None:
            while not until():
                await asyncio.sleep(0.01)  # polled: a condition outside the app (the model's stream, say)
            gone.set()
            came.set()

        watching = asyncio.ensure_future(watch(until)) if callable(until) else None
        headers = {**self.sent({"Accept": "text/event-stream"} if stream else {}), "Host": f"127.0.0.1:{PORT}"}
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path.partition("?")[0],
            "raw_path": path.partition("?")[0].encode(),
            "query_string": path.partition("?")[2].encode(),
            "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", PORT), "state": {},
        }  # fmt: skip
        answering = asyncio.ensure_future(self.app(scope, receive, send))
        ended = asyncio.ensure_future(came.wait())
        await asyncio.wait([answering, ended], return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        if watching is not None:
            watching.cancel()
        if answering.done():
            answering.result()
            gone.set()
        return status, events, answering

    def stop(self) -> str:
        """Stop the app (its lifespan's end: the answers running stop, kept); what it wrote on its console."""
        if not self.down.is_set():

            async def down() -> None:
                self.down.set()
                await asyncio.wrap_future(self.lifespan)
                for left in self.leaving:
                    await asyncio.wait_for(left, 30)
                # What the app left running on the loop (the store's batching task), ended as a process's exit ends it.
                others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(down(), self.loop).result(60)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(10)
                self.loop.close()
        return self.err.getvalue()


class Serve(matrix.Serve):
    """The matrix's ``serve`` door (tests/matrix.py), its app asked in this process."""

    @property
    def served(self) -> Any:
        if self._served is None:
            self._served = AppServed(self.env, *self.args)
        return self._served

    def stop(self, question: str, shown: str, thread: str | None = None) -> matrix.Answer:
        """Ask for the answer's events and leave once ``shown`` has come."""
        import uuid

        thread = thread or str(uuid.uuid4())
        status, events = self.served.leave(f"/v1/threads/{thread}/messages", {"content": question}, shown)
        text = "".join(e.get("text") or "" for e in events if e.get("type") == "token")
        return matrix.Answer(None, text, [], thread, status, events)
